"""Helpers every page view uses: sign-in (with the second factor), scope lookups, error display."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect

from cbo_portal.statemachine import IllegalTransition
from cbo_portal.two_factor import needs_second_factor


def portal_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in (and through two-factor when the user has set it up)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if needs_second_factor(request):
            return redirect(f"/login/verify/?next={request.get_full_path()}")
        return view(request, *args, **kwargs)

    return wrapper


def get_visible(queryset: QuerySet, user, **lookup):
    """The object if the user may see it; otherwise 404 (never a 403 that confirms it exists)."""
    try:
        return queryset.visible_to(user).get(**lookup)
    except queryset.model.DoesNotExist as exc:
        raise Http404 from exc


def apply_service_error(form: Form | None, error: Exception) -> list[str]:
    """Put a service's error on the form fields it names; return messages for the page."""
    if isinstance(error, ValidationError) and form is not None and hasattr(error, "error_dict"):
        leftovers: list[str] = []
        for field, errors in error.error_dict.items():
            if field in form.fields:
                for e in errors:
                    form.add_error(field, e)
            else:
                leftovers.extend(m for e in errors for m in e.messages)
        return leftovers
    if isinstance(error, ValidationError):
        return list(error.messages)
    if isinstance(error, (PermissionDenied, IllegalTransition)):
        return [str(error)]
    raise error


SERVICE_ERRORS = (ValidationError, PermissionDenied, IllegalTransition)
