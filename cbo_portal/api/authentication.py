"""API authentication: personal API tokens (``Authorization: Bearer cbo_…``, acting within the
token's organization) and portal sessions that have passed the code step.

Both refuse a user whose role needs two-factor sign-in once the grace period to enrol is over
(403); a half-signed-in session is not authenticated at all (401). The rules are in
``cbo_portal.two_factor``."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from cbo_portal import access, two_factor
from cbo_portal.models import ApiToken
from cbo_portal.models.people import hash_secret
from cbo_portal.services.audit import RequestContext, current_request


class SecondFactorRequired(exceptions.AuthenticationFailed):
    default_detail = two_factor.VERIFY_MESSAGE
    default_code = "second_factor_required"


class TwoFactorEnrolmentRequired(exceptions.PermissionDenied):
    default_detail = two_factor.ENROL_MESSAGE
    default_code = "two_factor_enrolment_required"


def refuse_unenrolled(user) -> None:
    """403 for a user whose role needs two-factor sign-in and whose grace period is over."""
    if two_factor.enrolment(user).overdue:
        raise TwoFactorEnrolmentRequired()


class VerifiedSessionAuthentication(authentication.SessionAuthentication):
    """Session authentication that does not count a half-signed-in session (password only, with
    an authenticator app the user has not yet answered) as signed in."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        if two_factor.needs_second_factor(request._request):
            raise SecondFactorRequired()
        refuse_unenrolled(result[0])
        return result


class PersonalTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode(errors="replace")
        if not header.startswith(self.keyword + " "):
            return None
        raw = header[len(self.keyword) + 1 :].strip()
        token = (
            ApiToken.objects.select_related("user", "organization")
            .filter(key_hash=hash_secret(raw), revoked_at__isnull=True, user__is_active=True)
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API token.")
        if access.role_in(token.user, token.organization) is None:
            raise exceptions.AuthenticationFailed(
                "The token's user is no longer a member of its organization."
            )
        refuse_unenrolled(token.user)
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
        # A token acts for exactly one organization: narrow the user's memberships to it.
        access.memberships(token.user)[:] = [
            m for m in access.memberships(token.user) if m.organization_id == token.organization_id
        ]
        context = current_request.get()
        current_request.set(
            RequestContext(ip_address=context.ip_address, organization_id=token.organization_id)
        )
        request._request.org = token.organization
        return token.user, token

    def authenticate_header(self, request) -> str:
        return self.keyword


class PersonalTokenScheme(OpenApiAuthenticationExtension):
    target_class = PersonalTokenAuthentication
    name = "personalToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Personal API token from Account → API tokens",
        }


class VerifiedSessionScheme(SessionScheme):
    """The portal session cookie, as drf-spectacular describes Django sessions."""

    target_class = VerifiedSessionAuthentication
    priority = 0
