"""The users and URLs the web benchmarks use, over the data ``bench/referral_lists.py`` seeds.

Personas: the plan's care coordinator (plan 1), a CBO admin (CBO 01), a CBO's staff member (CBO
02) and a hub admin whose hub bills for CBOs 03–07 (the hub is made here, idempotently).
"""

from __future__ import annotations

from bench.referral_lists import CIN_PREFIX, PREFIX, organizations, user
from cbo_portal.choices import OnboardingStatus, OrgKind, Role

CIN = f"{CIN_PREFIX}{1234:07d}A"
# The mix the load test draws from, and the DB-time table: lists with filters, the worklist,
# member search, the API lists.
URLS = [
    "/referrals/",
    "/referrals/?status=received",
    "/referrals/?status=overdue",
    f"/referrals/?q={CIN}",
    "/referrals/?q=Reyes17",
    "/worklist/",
    "/worklist/?period=all",
    "/members/?q=Reyes170",
    f"/members/?q={CIN}",
    "/members/?q=Ana4",
    "/authorizations/",
    "/authorizations/?status=requested",
    "/api/v1/referrals/",
    "/api/v1/referrals/?status=received",
    "/api/v1/referrals/?priority=urgent",
    "/api/v1/referrals/?overdue=true",
    f"/api/v1/referrals/?search={CIN}",
    "/api/v1/referrals/?page=50",
    "/api/v1/authorizations/",
    "/api/v1/service-deliveries/",
]


def personas() -> dict:
    """label → user, made if missing (the bench data must be seeded already)."""
    from cbo_portal.models import Organization

    plans, cbos = organizations()
    hub, _ = Organization.objects.get_or_create(
        legal_name=f"{PREFIX} Hub",
        kind=OrgKind.HUB,
        defaults={"onboarding_status": OnboardingStatus.APPROVED},
    )
    Organization.objects.filter(pk__in=[c.pk for c in cbos[2:7]]).exclude(hub=hub).update(hub=hub)
    return {
        "plan": user("coordinator@bench-lists.example", plans[0], Role.PLAN_CARE_COORDINATOR),
        "cbo admin": user("admin@bench-lists.example", cbos[0], Role.CBO_ADMIN),
        "cbo staff": user("staff02@bench-lists.example", cbos[1], Role.CBO_STAFF),
        "hub": user("hub@bench-lists.example", hub, Role.CBO_ADMIN),
    }
