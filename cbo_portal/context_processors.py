"""The web shell: navigation by role and the organization switcher."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from cbo_portal import access
from cbo_portal.choices import ADMIN_ROLES, OrgKind

# Later apps add their pages here through ``register_nav`` (called from their AppConfig.ready),
# so this lower app never imports them. Each entry: (label, url name, predicate(request), group).
_EXTRA_NAV: list[tuple[str, str, object, str | None]] = []


def register_nav(label: str, url_name: str, visible, group: str | None = None) -> None:
    """Add a navigation link shown when ``visible(request)`` is true. Links of one ``group`` share
    one entry in the main bar (leading to the group's first visible link) and show as the
    section bar under it while the user is on one of their pages."""
    if (label, url_name) not in [(entry[0], entry[1]) for entry in _EXTRA_NAV]:
        _EXTRA_NAV.append((label, url_name, visible, group))


def _link(request: HttpRequest, label: str, name: str) -> dict | None:
    try:
        url = reverse(name)
    except NoReverseMatch:
        return None
    active = request.path == url if name == "home" else request.path.startswith(url)
    return {"label": label, "url": url, "active": active}


def _nav(request: HttpRequest) -> tuple[list[dict], list[dict]]:
    """The main bar (single links and groups) and the section bar of the group being viewed."""
    user, org = request.user, getattr(request, "org", None)
    entries: list[tuple[str, str, str | None]] = [("Home", "home", None)]
    if org is not None and org.kind in (OrgKind.CBO, OrgKind.HUB):
        entries.append(("Onboarding", "onboarding", None))
    entries += [(label, name, group) for label, name, visible, group in _EXTRA_NAV if visible(request)]  # type: ignore[operator]
    if access.can_review(user):
        entries.append(("Reviews", "review_queue", None))
    # The audit log sits in the team's section: one entry in the main bar keeps it one row at 1280.
    team_group = "Team" if org is not None else None
    if org is not None:
        entries.append(("Team", "team", team_group))
    if access.is_platform_admin(user) or (org is not None and access.has_role(user, org, ADMIN_ROLES)):
        entries.append(("Audit log", "audit_log", team_group))

    main: list[dict] = []
    groups: dict[str, list[dict]] = {}
    for label, name, group in entries:
        link = _link(request, label, name)
        if link is None:
            continue
        if group is None:
            main.append(link)
        elif group in groups:
            groups[group].append(link)
        else:
            groups[group] = [link]
            main.append({"label": group, "url": link["url"], "group": group})
    section: list[dict] = []
    for item in main:
        if "group" not in item:
            continue
        links = groups[item["group"]]
        item["active"] = any(link["active"] for link in links)
        if item["active"]:
            section = links
    # Within a section the most specific link is the current one (/referrals/report/ is under
    # /referrals/ too).
    current = max(
        (link for link in section if link["active"]), key=lambda link: len(link["url"]), default=None
    )
    for link in section:
        link["active"] = link is current
    return main, section


def shell(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    membership = getattr(request, "membership", None)
    nav, section_nav = _nav(request)
    return {
        "nav": nav,
        "section_nav": section_nav,
        "active_membership": membership,
        "user_memberships": access.memberships(user),
    }
