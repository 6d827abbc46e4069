"""One error format for the whole API:

    {"error": {"code": "validation_error", "message": "…", "fields": {"npi": ["…"]}}}

Domain errors raised by services map to HTTP: ValidationError → 400, IllegalTransition → 409,
PermissionDenied → 403, out of scope → 404.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from cbo_portal.statemachine import IllegalTransition


def _flatten(detail: Any) -> str:
    if isinstance(detail, dict):
        return " ".join(
            f"{k}: {_flatten(v)}" if k != "non_field_errors" else _flatten(v) for k, v in detail.items()
        )
    if isinstance(detail, list):
        return " ".join(_flatten(d) for d in detail)
    return str(detail)


def django_validation_to_drf(error: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(error, "error_dict"):
        return exceptions.ValidationError(
            {k: [m for e in v for m in e.messages] for k, v in error.error_dict.items()}
        )
    return exceptions.ValidationError({"non_field_errors": error.messages})


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        exc = django_validation_to_drf(exc)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    elif isinstance(exc, IllegalTransition):
        return Response(
            {"error": {"code": "illegal_transition", "message": str(exc), "fields": {}}},
            status=status.HTTP_409_CONFLICT,
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    fields = detail if isinstance(detail, dict) and "detail" not in detail else {}
    code = getattr(exc, "default_code", "error")
    if isinstance(exc, exceptions.ValidationError):
        code = "validation_error"
    message = _flatten(detail.get("detail") if isinstance(detail, dict) and "detail" in detail else detail)
    response.data = {"error": {"code": code, "message": message, "fields": fields}}
    return response
