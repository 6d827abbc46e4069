"""Two-factor sign-in rules: the one place that says whether a session has passed the code step,
whether a user must enrol an authenticator app, and who may create personal API tokens.

Pages (``portal_view``, ``security.TwoFactorMiddleware``), the API's authenticators and the
token-creation paths all ask these functions; none of them decides on its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

VERIFY_MESSAGE = (
    "Finish signing in first: enter the 6-digit code from your authenticator app at /login/verify/. "
    "Until then your session cannot use the API."
)
ENROL_MESSAGE = (
    "Your role needs two-factor sign-in and the time to set it up has run out. "
    "Set up an authenticator app at /account/two-factor/ to keep using the portal and the API."
)
TOKEN_MESSAGE = (
    "API tokens can only be created while signed in to the portal with your password and, "
    "when you have an authenticator app, its code. A token cannot create another token."
)


def has_device(user) -> bool:
    """Whether the user has a confirmed authenticator, cached on the user for the request
    (the page gate, ``portal_view`` and the banner all ask)."""
    from django_otp import user_has_device

    if not getattr(user, "is_authenticated", False):
        return False
    cached = getattr(user, "_cbo_has_device", None)
    if cached is None:
        cached = user_has_device(user, confirmed=True)
        setattr(user, "_cbo_has_device", cached)  # noqa: B010
    return cached


def needs_second_factor(request: HttpRequest) -> bool:
    """True for a half-signed-in session: the user has a confirmed device but this session signed
    in with the password only and has not been through /login/verify/ yet."""
    user = request.user
    if not getattr(user, "is_authenticated", False):
        return False
    # Right after login() the request's user is the plain user, not OTPMiddleware's wrapper:
    # a password-only sign-in is not verified.
    is_verified = getattr(user, "is_verified", lambda: False)
    return has_device(user) and not is_verified()


@dataclass(frozen=True)
class Enrolment:
    """Where a user stands with the two-factor requirement of their role.

    ``required``: enforcement is on and the user holds a role in ``TWO_FACTOR_REQUIRED_ROLES``
    (or is a Django superuser) and has no confirmed device. ``deadline``: the end of the grace
    period; after it the user can do nothing but set up a device."""

    required: bool
    deadline: datetime | None = None

    @property
    def overdue(self) -> bool:
        return self.required and self.deadline is not None and timezone.now() >= self.deadline

    @property
    def in_grace(self) -> bool:
        return self.required and not self.overdue

    @property
    def days_left(self) -> int:
        """Whole days left to enrol, rounded up (a few hours left is still "1 day")."""
        if not self.in_grace or self.deadline is None:
            return 0
        return max(1, math.ceil((self.deadline - timezone.now()) / timedelta(days=1)))


NOT_REQUIRED = Enrolment(required=False)


def enrolment(user) -> Enrolment:
    """Whether ``user`` still has to set up two-factor sign-in, and by when.

    Applies when ``TWO_FACTOR_ENFORCED`` is on to anyone holding an active membership with a role
    in ``TWO_FACTOR_REQUIRED_ROLES`` (billing coordinators, CBO/hub/plan admins, platform admins)
    and to Django superusers. The grace period of ``TWO_FACTOR_GRACE_DAYS`` runs from the earliest
    such membership's creation, i.e. when the user was first given a role that needs it (a
    superuser without one counts from ``date_joined``). Memberships are read from the database,
    not the request's cache, so a token narrowed to one organization cannot dodge the rule."""
    if not getattr(settings, "TWO_FACTOR_ENFORCED", False) or not getattr(user, "is_authenticated", False):
        return NOT_REQUIRED
    from cbo_portal.models import Membership

    roles = list(getattr(settings, "TWO_FACTOR_REQUIRED_ROLES", ()))
    since = (
        Membership.objects.active()
        .filter(user=user, role__in=roles)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    if since is None and getattr(user, "is_superuser", False):
        since = user.date_joined
    if since is None or has_device(user):
        return NOT_REQUIRED
    grace = timedelta(days=getattr(settings, "TWO_FACTOR_GRACE_DAYS", 7))
    return Enrolment(required=True, deadline=since + grace)


def token_creation_refusal(request: HttpRequest, *, token_authenticated: bool = False) -> str | None:
    """Why this request may not create a personal API token, or None when it may.

    A token is a long-lived credential that skips the code step, so it is created only from a
    portal session that is fully signed in (through /login/verify/ when the user has a device),
    never from a half-signed-in session nor with another token."""
    if token_authenticated or not getattr(request.user, "is_authenticated", False):
        return TOKEN_MESSAGE
    if needs_second_factor(request) or enrolment(request.user).overdue:
        return TOKEN_MESSAGE
    return None


def banner(request: HttpRequest) -> dict:
    """Template context: ``two_factor_grace`` (the Enrolment) while a user is in the grace period."""
    state = getattr(request, "two_factor_enrolment", None)
    return {"two_factor_grace": state if state is not None and state.in_grace else None}
