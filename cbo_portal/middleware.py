"""Request-wide context: the organization the user is acting for, and the audit context."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from cbo_portal import access
from cbo_portal.services.audit import RequestContext, current_request

SESSION_KEY = "active_org_id"


def client_ip(request: HttpRequest) -> str | None:
    """The caller's address. Behind the proxy in docker/, the first X-Forwarded-For hop."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    return forwarded.split(",")[0].strip() or request.META.get("REMOTE_ADDR") or None


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
