"""Security middleware: the two-factor gate for pages, the idle-session timeout, and the response
headers (Content-Security-Policy, Permissions-Policy, Cache-Control).

The rules themselves live in ``cbo_portal.two_factor``; these classes only apply them to every
request, so a page that forgets ``portal_view`` (or the Django admin) is still covered.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

from cbo_portal import two_factor

# Pages a signed-in user may always reach: signing in and out, and (for the enrolment rule)
# the enrolment page itself. Everything under /api/ is judged by the API's authenticators,
# which answer in JSON instead of redirecting.
SIGN_IN_URL_NAMES = frozenset(
    {
        "login",
        "verify_second_factor",
        "logout",
        "password_reset",
        "password_reset_done",
        "password_reset_confirm",
        "password_reset_complete",
        "healthz",
    }
)
ENROLMENT_URL_NAME = "two_factor"
LAST_SEEN_KEY = "_last_seen"
# The last-seen stamp is rewritten at most this often, so every request is not a session write.
LAST_SEEN_RESOLUTION = 60


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def _is_static(request: HttpRequest) -> bool:
    return bool(settings.STATIC_URL) and request.path_info.startswith(settings.STATIC_URL)


class TwoFactorMiddleware:
    """For pages (not the API): a half-signed-in session goes to /login/verify/; a user whose role
    needs two-factor and whose grace period is over goes to the enrolment page, whatever page was
    asked for. Sets ``request.two_factor_enrolment`` for the grace-period banner."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs) -> HttpResponse | None:
        request.two_factor_enrolment = two_factor.NOT_REQUIRED  # type: ignore[attr-defined]
        if not request.user.is_authenticated or _is_api(request) or _is_static(request):
            return None
        name = request.resolver_match.url_name if request.resolver_match else None
        if name in SIGN_IN_URL_NAMES:
            return None
        if two_factor.needs_second_factor(request):
            return redirect(f"{reverse('verify_second_factor')}?next={quote(request.get_full_path())}")
        state = two_factor.enrolment(request.user)
        request.two_factor_enrolment = state  # type: ignore[attr-defined]
        if state.overdue and name != ENROLMENT_URL_NAME:
            messages.warning(
                request,
                "Your role needs two-factor sign-in, and the time to set it up has run out. "
                "Set up an authenticator app on this page to keep using the portal.",
            )
            return redirect(ENROLMENT_URL_NAME)
        return None


class IdleTimeoutMiddleware:
    """Signs out a session that has not been used for ``SESSION_IDLE_TIMEOUT`` seconds and sends
    the user to sign-in with a message (an API call just finds itself signed out). The stamp is
    refreshed at most once a minute, so the timeout is exact to within a minute."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        timeout = getattr(settings, "SESSION_IDLE_TIMEOUT", 0)
        # Only sessions that carry a sign-in: no user lookup for anonymous visitors.
        if timeout and SESSION_KEY in request.session:
            now = int(time.time())
            last_seen = request.session.get(LAST_SEEN_KEY)
            if last_seen is not None and now - int(last_seen) > timeout:
                logout(request)
                if _is_api(request):
                    return self.get_response(request)
                minutes = max(1, round(timeout / 60))
                messages.info(
                    request,
                    f"You were signed out because the portal was not used for {minutes} minutes. "
                    "Sign in again to go on.",
                )
                return redirect(f"{reverse(settings.LOGIN_URL)}?next={quote(request.get_full_path())}")
            if last_seen is None or now - int(last_seen) >= LAST_SEEN_RESOLUTION:
                request.session[LAST_SEEN_KEY] = now
        return self.get_response(request)


@receiver(user_logged_in)
def stamp_sign_in(sender, request, user, **kwargs) -> None:
    """A fresh sign-in counts as activity, so the first request after it need not write the session."""
    if request is not None and hasattr(request, "session"):
        request.session[LAST_SEEN_KEY] = int(time.time())


def csp(policy: str) -> Callable:
    """View decorator: answer with ``policy`` instead of ``CONTENT_SECURITY_POLICY``."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            response = view(request, *args, **kwargs)
            response["Content-Security-Policy"] = policy
            return response

        return wrapper

    return decorator


class SecurityHeadersMiddleware:
    """Content-Security-Policy and Permissions-Policy on every response; ``Cache-Control:
    no-store`` on every response to a signed-in user (pages, API answers and file downloads may
    all carry PHI). Static files are served by WhiteNoise before this runs, and skipped here too
    for ``runserver``'s static view."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if settings.CONTENT_SECURITY_POLICY and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = settings.CONTENT_SECURITY_POLICY
        if settings.PERMISSIONS_POLICY:
            response.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        user = getattr(request, "user", None)
        if getattr(user, "is_authenticated", False) and not _is_static(request):
            add_never_cache_headers(response)
        return response
