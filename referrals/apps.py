from django.apps import AppConfig


def _is_provider(request) -> bool:  # noqa: ANN001
    org = getattr(request, "org", None)
    return org is not None and org.kind in ("cbo", "hub") and org.onboarding_status == "approved"


def _is_plan(request) -> bool:  # noqa: ANN001
    org = getattr(request, "org", None)
    return org is not None and org.kind == "plan"


def _sees_referrals(request) -> bool:  # noqa: ANN001
    from cbo_portal.access import is_platform_admin

    return _is_provider(request) or _is_plan(request) or is_platform_admin(request.user)


class ReferralsConfig(AppConfig):
    name = "referrals"
    label = "referrals"
    verbose_name = "Referrals and services"

    def ready(self) -> None:
        from cbo_portal.context_processors import register_nav

        register_nav("Worklist", "referrals:worklist", _sees_referrals)
        register_nav("Referrals", "referrals:list", _sees_referrals)
        register_nav("Log a service", "referrals:log_service", _is_provider)
        register_nav("Authorizations", "referrals:authorizations", _sees_referrals)
        register_nav("Members", "referrals:members", _sees_referrals)
        register_nav("Network report", "referrals:report", _is_plan)

        from cbo_portal.dashboard import register_tiles
        from referrals.dashboard import referral_tiles

        register_tiles(referral_tiles)
        from referrals import usage

        usage.register()
