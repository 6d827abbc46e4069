from django.apps import AppConfig


def _billing_role(request) -> bool:
    from cbo_portal import access
    from cbo_portal.choices import Role

    org = getattr(request, "org", None)
    if access.is_platform_admin(request.user):
        return True
    return org is not None and access.has_role(
        request.user, org, [Role.CBO_ADMIN, Role.CBO_BILLING, Role.PLAN_ADMIN, Role.PLAN_CONTRACT_MANAGER]
    )


class BillingConfig(AppConfig):
    name = "billing"
    label = "billing"

    def ready(self) -> None:
        from cbo_portal.context_processors import register_nav

        # Links whose pages do not exist are skipped by the shell (NoReverseMatch).
        for label, url_name in (
            ("Claims", "billing:claims"),
            ("Batches", "billing:batches"),
            ("Remittances", "billing:remittances"),
            ("Denials", "billing:denials"),
            ("Billing reports", "billing:reports"),
        ):
            register_nav(label, url_name, _billing_role, group="Billing")

        from billing import usage

        usage.register()
