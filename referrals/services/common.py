"""Role checks shared by the referrals services."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from cbo_portal import access
from cbo_portal.choices import Role
from cbo_portal.models import Organization

PLAN_REFERRERS = (Role.PLAN_ADMIN, Role.PLAN_CARE_COORDINATOR)
PLAN_AUTHORIZERS = (Role.PLAN_ADMIN, Role.PLAN_CARE_COORDINATOR)
PROVIDER_WORKERS = (Role.CBO_ADMIN, Role.CBO_STAFF)
PROVIDER_BILLERS = (Role.CBO_ADMIN, Role.CBO_BILLING)


def require_plan_role(user, plan: Organization | int, roles, *, action: str) -> None:
    access.require_role(user, plan, roles, action=action)


def can_act_for_provider(user, cbo: Organization, roles) -> bool:
    """A role in the CBO itself or in the hub that works for it (platform admins always)."""
    if access.is_platform_admin(user) or access.has_role(user, cbo, roles):
        return True
    return bool(cbo.hub_id and access.has_role(user, cbo.hub_id, roles))


def require_provider_role(user, cbo: Organization, roles, *, action: str) -> None:
    if not can_act_for_provider(user, cbo, roles):
        allowed = ", ".join(sorted(Role(r).label for r in roles))
        raise PermissionDenied(f"Only {allowed} of {cbo} may {action}.")


def actor_or_none(user):
    return user if getattr(user, "is_authenticated", False) else None
