from django.apps import AppConfig


def _is_provider(request) -> bool:
    org = getattr(request, "org", None)
    return org is not None and org.kind in ("cbo", "hub") and org.onboarding_status == "approved"


def _logs_services(request) -> bool:
    """Only the roles the "Log a service" page lets in (CBO or hub admins and staff of an
    approved provider): a billing coordinator is not offered a page that would answer 404."""
    from cbo_portal import access
    from referrals.services.common import PROVIDER_WORKERS

    org = getattr(request, "org", None)
    return _is_provider(request) and access.has_role(request.user, org, PROVIDER_WORKERS)


def _is_plan(request) -> bool:
    org = getattr(request, "org", None)
    return org is not None and org.kind == "plan"


def _sees_referrals(request) -> bool:
    from cbo_portal.access import is_platform_admin

    return _is_provider(request) or _is_plan(request) or is_platform_admin(request.user)


class ReferralsConfig(AppConfig):
    name = "referrals"
    label = "referrals"
    verbose_name = "Referrals and services"

    def ready(self) -> None:
        from cbo_portal.context_processors import register_nav

        for label, url_name, visible in (
            ("Referrals", "referrals:list", _sees_referrals),
            ("Worklist", "referrals:worklist", _sees_referrals),
            ("Authorizations", "referrals:authorizations", _sees_referrals),
            ("Members", "referrals:members", _sees_referrals),
            ("Network report", "referrals:report", _is_plan),
        ):
            register_nav(label, url_name, visible, group="Referrals")
        # Staff log services between home visits: one tap from anywhere.
        register_nav("Log a service", "referrals:log_service", _logs_services)

        from cbo_portal.dashboard import register_tiles
        from referrals.dashboard import referral_tiles

        register_tiles(referral_tiles)
        from referrals import usage

        usage.register()
