"""Tenant scope shared by every referrals queryset's ``visible_to``.

A plan sees what it referred, authorized or pays for (``plan``); a CBO what was referred to it or
it delivered (``cbo``); a hub what belongs to its member CBOs (``cbo__hub``); platform admins all.
"""

from __future__ import annotations

from django.db.models import Q

from cbo_portal.access import is_platform_admin, member_org_ids


def scope_q(user, *, plan: str = "plan", cbo: str = "cbo") -> Q | None:
    """The filter for ``user``: None means everything (platform admins), ``Q(pk__in=[])`` nothing."""
    if not getattr(user, "is_authenticated", False):
        return Q(pk__in=[])
    if is_platform_admin(user):
        return None
    own = sorted(member_org_ids(user))
    if not own:
        return Q(pk__in=[])
    return Q(**{f"{plan}_id__in": own}) | Q(**{f"{cbo}_id__in": own}) | Q(**{f"{cbo}__hub_id__in": own})
