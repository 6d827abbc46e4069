"""The web shell: navigation by role and the organization switcher."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from cbo_portal import access
from cbo_portal.choices import ADMIN_ROLES, OrgKind

# Later apps add their pages here through ``register_nav`` (called from their AppConfig.ready),
# so this lower app never imports them. Each entry: (label, url name, predicate(request)).
_EXTRA_NAV: list[tuple[str, str, object]] = []


def register_nav(label: str, url_name: str, visible) -> None:  # noqa: ANN001
    """Add a navigation link shown when ``visible(request)`` is true."""
    if (label, url_name) not in [(entry[0], entry[1]) for entry in _EXTRA_NAV]:
        _EXTRA_NAV.append((label, url_name, visible))


def _nav(request: HttpRequest) -> list[dict[str, str]]:
    user, org = request.user, getattr(request, "org", None)
    items: list[tuple[str, str]] = [("Home", "home")]
    if org is not None and org.kind in (OrgKind.CBO, OrgKind.HUB):
        items.append(("Onboarding", "onboarding"))
    for label, url_name, visible in _EXTRA_NAV:
        if visible(request):  # type: ignore[operator]
            items.append((label, url_name))
    if access.can_review(user):
        items.append(("Reviews", "review_queue"))
    if org is not None:
        items.append(("Team", "team"))
    if access.is_platform_admin(user) or (org is not None and access.has_role(user, org, ADMIN_ROLES)):
        items.append(("Audit log", "audit_log"))
    nav = []
    for label, name in items:
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        active = request.path == url if name == "home" else request.path.startswith(url)
        nav.append({"label": label, "url": url, "active": active})
    return nav


def shell(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    membership = getattr(request, "membership", None)
    return {
        "nav": _nav(request),
        "active_membership": membership,
        "user_memberships": access.memberships(user),
    }
