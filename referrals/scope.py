"""Tenant scope shared by every referrals queryset's ``visible_to``.

A plan sees what it referred, authorized or pays for (``plan``); a CBO what was referred to it or
it delivered (``cbo``); a hub what belongs to its member CBOs (``cbo__hub``); platform admins all.

The filter names only the columns that can match: a plan is never the provider on a row and a
CBO or hub never the plan (``check_provider`` sees to that), and a hub's member CBOs are looked up
(one small query) rather than joined. So a one-organization user's filter is a single ``plan_id`` or ``cbo_id``
condition, which the (plan|cbo, created_at) indexes answer in order: a page of a million-row table
reads 50 rows, where ``plan_id IN … OR cbo_id IN … OR cbo.hub_id IN …`` read them all.
"""

from __future__ import annotations

from django.db.models import Q

from cbo_portal.access import hub_member_ids, is_platform_admin, memberships
from cbo_portal.choices import OrgKind


def scope_q(user, *, plan: str = "plan", cbo: str = "cbo") -> Q | None:
    """The filter for ``user``: None means everything (platform admins), ``Q(pk__in=[])`` nothing."""
    if not getattr(user, "is_authenticated", False):
        return Q(pk__in=[])
    if is_platform_admin(user):
        return None
    orgs = {m.organization_id: m.organization.kind for m in memberships(user)}
    plans = sorted(pk for pk, kind in orgs.items() if kind == OrgKind.PLAN)
    providers = {pk for pk, kind in orgs.items() if kind != OrgKind.PLAN}
    if hubs := sorted(pk for pk, kind in orgs.items() if kind == OrgKind.HUB):
        providers.update(hub_member_ids(user, hubs))
    if not plans and not providers:
        return Q(pk__in=[])
    if not providers:
        return Q(**{f"{plan}_id__in": plans})
    by_provider = Q(**{f"{cbo}_id__in": sorted(providers)})
    return by_provider | Q(**{f"{plan}_id__in": plans}) if plans else by_provider
