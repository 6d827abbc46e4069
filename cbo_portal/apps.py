from django.apps import AppConfig


class CboPortalConfig(AppConfig):
    name = "cbo_portal"
    label = "cbo_portal"
    verbose_name = "CBO portal"

    def ready(self) -> None:
        from cbo_portal import celery, security, signals  # noqa: F401 - load the Celery app so shared tasks bind to it; connect receivers
