"""Writing the audit log. Every service that changes a domain object calls ``record``."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import Any

from django.db import models

from cbo_portal.choices import AuditAction
from cbo_portal.fastpath import copy_rows
from cbo_portal.models import AuditEvent, Organization


@dataclass(frozen=True)
class RequestContext:
    ip_address: str | None = None
    organization_id: int | None = None


# Set by the middleware (and by API authentication) for the length of a request, so services
# need not pass the caller's address around.
current_request: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "current_request",
    default=RequestContext(),  # noqa: B039 - frozen dataclass, immutable
)


def record(
    *,
    actor,
    action: str | AuditAction,
    obj: models.Model | None = None,
    summary: str,
    organization: Organization | None = None,
    changes: dict[str, Any] | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
) -> AuditEvent:
    """Append one audit entry. The organization defaults to the object's own (or the object
    itself when it is an organization), then to the organization the request acts for."""
    context = current_request.get()
    if organization is None and obj is not None:
        if isinstance(obj, Organization):
            organization = obj
        elif getattr(obj, "organization_id", None):
            organization = obj.organization  # type: ignore[attr-defined]
    org_id = organization.pk if organization is not None else context.organization_id
    return AuditEvent.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        organization_id=org_id,
        action=action,
        object_type=object_type or (obj._meta.label if obj is not None else ""),
        object_id=object_id or (str(obj.pk) if obj is not None else ""),
        summary=summary[:300],
        changes=changes or {},
        ip_address=context.ip_address,
    )


def record_many(
    *,
    actor,
    action: str | AuditAction,
    organization_id: int | None,
    entries: list[tuple[models.Model, str, dict[str, Any]]],
) -> None:
    """One audit entry per (object, summary, changes), written in one ``COPY``: for bulk paths
    that change many records at once (each record still gets its own row)."""
    context = current_request.get()
    actor_id = actor.pk if getattr(actor, "is_authenticated", False) else None
    copy_rows(
        AuditEvent,
        (
            "actor_id",
            "organization_id",
            "action",
            "object_type",
            "object_id",
            "summary",
            "changes",
            "ip_address",
        ),
        [
            (
                actor_id,
                organization_id or context.organization_id,
                str(action),
                obj._meta.label,
                str(obj.pk),
                summary[:300],
                changes or {},
                context.ip_address,
            )
            for obj, summary, changes in entries
        ],
    )


def diff(instance: models.Model, before: dict[str, Any], fields: list[str]) -> dict[str, list[Any]]:
    """Field changes as {field: [old, new]} for the audit entry."""
    changes = {}
    for field in fields:
        new = getattr(instance, field)
        if before.get(field) != new:
            changes[field] = [jsonable(before.get(field)), jsonable(new)]
    return changes


def jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool, list, dict)):
        return value
    return str(value)
