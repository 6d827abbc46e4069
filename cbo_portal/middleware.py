"""Request-wide context: the organization the user is acting for, and the audit context."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from cbo_portal import access
from cbo_portal.services.audit import RequestContext, current_request

SESSION_KEY = "active_org_id"


def client_ip(request: HttpRequest | None) -> str | None:
    """The caller's address, for the audit log and sign-in lockouts.

    X-Forwarded-For is whatever the client sent plus what each proxy appended, so only the hops
    our own proxies appended can be believed. With ``TRUSTED_PROXY_COUNT = 0`` (no proxy, the
    default) that is none: the address is ``REMOTE_ADDR``. Behind N trusted proxies it is the
    N-th hop from the right, the address the outermost trusted proxy saw; hops to its left are the
    client's own claims and are ignored. A header with fewer hops than that, or a hop that is not
    an IP address, did not come through our proxies as configured: ``REMOTE_ADDR`` then too.
    """
    meta = getattr(request, "META", None) or {}  # axes may ask about a request-less sign-in
    remote = meta.get("REMOTE_ADDR") or None
    count = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    if count <= 0:
        return remote
    hops = [hop.strip() for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    hops = [hop for hop in hops if hop]
    if len(hops) < count:
        return remote
    try:
        return str(ipaddress.ip_address(hops[-count]))
    except ValueError:
        return remote


def active_membership(request: HttpRequest):
    """The membership the user acts through: the one chosen in the session, else the first."""
    mships = access.memberships(request.user)
    if not mships:
        return None
    chosen = request.session.get(SESSION_KEY) if hasattr(request, "session") else None
    for membership in mships:
        if membership.organization_id == chosen:
            return membership
    return mships[0]


class ActiveOrganizationMiddleware:
    """Sets ``request.membership`` / ``request.org`` and the audit context for the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        membership = active_membership(request)
        request.membership = membership  # type: ignore[attr-defined]
        request.org = membership.organization if membership else None  # type: ignore[attr-defined]
        token = current_request.set(
            RequestContext(
                ip_address=client_ip(request),
                organization_id=membership.organization_id if membership else None,
            )
        )
        try:
            return self.get_response(request)
        finally:
            current_request.reset(token)
