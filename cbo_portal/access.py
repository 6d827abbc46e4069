"""Who may do what: the one place that answers membership and role questions.

Every ``visible_to(user)`` queryset and every role check on a write asks these functions.
Results are cached on the user object for the length of a request.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied

from cbo_portal.choices import ADMIN_ROLES, REVIEWER_ROLES, Role

if TYPE_CHECKING:
    from cbo_portal.models import Membership, Organization

_CACHE_ATTR = "_cbo_memberships"
_HUB_MEMBERS_ATTR = "_cbo_hub_members"


def memberships(user) -> list[Membership]:
    """The user's active memberships, with their organizations, cached for the request."""
    if not getattr(user, "is_authenticated", False):
        return []
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        from cbo_portal.models import Membership

        cached = list(
            Membership.objects.active().filter(user=user).select_related("organization").order_by("pk")
        )
        setattr(user, _CACHE_ATTR, cached)
    return cached


def hub_member_ids(user, hubs: Iterable[int]) -> list[int]:
    """The CBOs that bill through ``hubs``, cached on the user for the request (the scope of
    every list on a page asks)."""
    key = tuple(sorted(hubs))
    cached = getattr(user, _HUB_MEMBERS_ATTR, None)
    if cached is None or cached[0] != key:
        from cbo_portal.models import Organization

        cached = (key, list(Organization.objects.filter(hub_id__in=key).values_list("pk", flat=True)))
        setattr(user, _HUB_MEMBERS_ATTR, cached)
    return cached[1]


def forget(user) -> None:
    """Drop the cached memberships and hub members (after a membership changes)."""
    for attr in (_CACHE_ATTR, _HUB_MEMBERS_ATTR):
        if hasattr(user, attr):
            delattr(user, attr)


def member_org_ids(user) -> set[int]:
    return {m.organization_id for m in memberships(user)}


def org_ids_with_roles(user, roles: Iterable[str]) -> set[int]:
    wanted = set(roles)
    return {m.organization_id for m in memberships(user) if m.role in wanted}


def admin_org_ids(user) -> set[int]:
    return org_ids_with_roles(user, ADMIN_ROLES)


def reviewer_org_ids(user) -> set[int]:
    return org_ids_with_roles(user, REVIEWER_ROLES)


def is_platform_admin(user) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return bool(user.is_superuser) or any(m.role == Role.PLATFORM_ADMIN for m in memberships(user))


def role_in(user, organization: Organization | int) -> str | None:
    """The user's role in an organization, or None."""
    org_id = organization if isinstance(organization, int) else organization.pk
    for membership in memberships(user):
        if membership.organization_id == org_id:
            return membership.role
    return None


def has_role(user, organization: Organization | int, roles: Iterable[str]) -> bool:
    return role_in(user, organization) in set(roles)


def require_role(user, organization: Organization | int, roles: Iterable[str], *, action: str) -> None:
    """Raise PermissionDenied unless the user holds one of ``roles`` in ``organization``
    (platform admins may do anything)."""
    if is_platform_admin(user) or has_role(user, organization, roles):
        return
    allowed = ", ".join(sorted(Role(r).label for r in roles))
    raise PermissionDenied(f"Only {allowed} may {action}.")


def can_review(user) -> bool:
    """Plan admins, plan contract managers and platform admins review CBO onboarding."""
    return is_platform_admin(user) or bool(reviewer_org_ids(user))
