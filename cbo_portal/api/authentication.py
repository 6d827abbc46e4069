"""Personal API tokens: ``Authorization: Bearer cbo_…``. The token acts within its organization."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from cbo_portal import access
from cbo_portal.models import ApiToken
from cbo_portal.models.people import hash_secret
from cbo_portal.services.audit import RequestContext, current_request


class PersonalTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):  # noqa: ANN001, ANN201
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

    def authenticate_header(self, request) -> str:  # noqa: ANN001
        return self.keyword


class PersonalTokenScheme(OpenApiAuthenticationExtension):
    target_class = PersonalTokenAuthentication
    name = "personalToken"

    def get_security_definition(self, auto_schema):  # noqa: ANN001, ANN201
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Personal API token from Account → API tokens",
        }
