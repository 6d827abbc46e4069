"""Building blocks every app's API uses: scoped querysets and service-error mapping."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import viewsets
from rest_framework.serializers import Serializer


class ScopedViewSetMixin:
    """Every queryset starts from ``visible_to(request.user)``: an object outside the user's
    scope is simply not found (404), never forbidden with its details."""

    queryset: QuerySet

    def get_queryset(self) -> QuerySet:  # type: ignore[override]
        return self.queryset.visible_to(self.request.user)  # type: ignore[attr-defined]

    def object_and_body(self, serializer_class: type[Serializer]) -> tuple[Any, dict]:
        """For an action on one object: the object in scope (404 otherwise), then the validated
        request body. Scope first, so an outsider learns nothing from validation errors."""
        obj = self.get_object()  # type: ignore[attr-defined]
        body = serializer_class(data=self.request.data)  # type: ignore[attr-defined]
        body.is_valid(raise_exception=True)
        return obj, body.validated_data


class ScopedReadOnlyViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass
