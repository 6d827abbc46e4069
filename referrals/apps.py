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

        for label, url_name, visible in (
            ("Referrals", "referrals:list", _sees_referrals),
            ("Worklist", "referrals:worklist", _sees_referrals),
            ("Authorizations", "referrals:authorizations", _sees_referrals),
            ("Members", "referrals:members", _sees_referrals),
            ("Network report", "referrals:report", _is_plan),
        ):
            register_nav(label, url_name, visible, group="Referrals")
        # Staff log services between home visits: one tap from anywhere.
        register_nav("Log a service", "referrals:log_service", _is_provider)

        from cbo_portal.dashboard import register_tiles
        from referrals.dashboard import referral_tiles

        register_tiles(referral_tiles)
        from referrals import usage

        usage.register()
