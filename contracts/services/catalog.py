"""Keeping the service catalog: platform admins add, edit and retire entries; nothing is deleted."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from cbo_portal import access
from cbo_portal.choices import AuditAction
from cbo_portal.services import audit
from contracts.models import ServiceCatalogEntry
from contracts.models.contracts import human_date

EDITABLE_FIELDS = [
    "code",
    "modifiers",
    "optional_modifiers",
    "name",
    "service",
    "category",
    "description",
    "default_unit",
    "default_authorization",
    "default_units_per_authorization",
    "default_units_per_day",
    "default_units_per_week",
    "default_units_per_month",
    "default_units_per_year",
    "default_lifetime_dollar_cap",
    "effective_from",
    "effective_to",
]


def _require_platform_admin(user, action: str) -> None:
    if not access.is_platform_admin(user):
        raise PermissionDenied(f"Only platform admins may {action}.")


def _check_unique(entry: ServiceCatalogEntry) -> None:
    clash = ServiceCatalogEntry.objects.filter(code=entry.code, modifier_key=entry.modifier_key).exclude(
        pk=entry.pk
    )
    if clash.exists():
        raise ValidationError({"modifiers": f"{entry.label} is already in the catalog."})


@transaction.atomic
def create_entry(*, acting_user, **fields: Any) -> ServiceCatalogEntry:
    """Add a service to the catalog (platform admins). The (code, modifiers) pair must be new."""
    _require_platform_admin(acting_user, "change the service catalog")
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown catalog fields: {', '.join(sorted(unknown))}")
    entry = ServiceCatalogEntry(**fields)
    entry.full_clean(validate_constraints=False)
    _check_unique(entry)
    entry.save()
    audit.record(
        actor=acting_user, action=AuditAction.CREATE, obj=entry, summary=f"Added {entry} to the catalog"
    )
    return entry


@transaction.atomic
def update_entry(entry: ServiceCatalogEntry, *, acting_user, changes: dict[str, Any]) -> ServiceCatalogEntry:
    """Edit a catalog entry (platform admins). Contracts keep their own copies of rates and caps,
    so editing defaults never changes a contract."""
    _require_platform_admin(acting_user, "change the service catalog")
    entry = ServiceCatalogEntry.objects.select_for_update().get(pk=entry.pk)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown catalog fields: {', '.join(sorted(unknown))}")
    before = {f: getattr(entry, f) for f in EDITABLE_FIELDS}
    for field, value in changes.items():
        setattr(entry, field, value)
    entry.full_clean(validate_constraints=False)
    _check_unique(entry)
    entry.save()
    if diff := audit.diff(entry, before, EDITABLE_FIELDS):
        audit.record(
            actor=acting_user,
            action=AuditAction.UPDATE,
            obj=entry,
            summary=f"Edited {entry.label}",
            changes=diff,
        )
    return entry


@transaction.atomic
def retire_entry(entry: ServiceCatalogEntry, *, acting_user, last_day: date) -> ServiceCatalogEntry:
    """Retire a catalog entry: it stays (history refers to it) but covers nothing after ``last_day``."""
    _require_platform_admin(acting_user, "retire catalog services")
    entry = ServiceCatalogEntry.objects.select_for_update().get(pk=entry.pk)
    if last_day < entry.effective_from:
        raise ValidationError(
            {
                "effective_to": f"{entry.label} is in use from {human_date(entry.effective_from)}; "
                "it cannot be retired before that."
            }
        )
    before = entry.effective_to
    entry.effective_to = last_day
    entry.save(update_fields=["effective_to", "updated_at"])
    audit.record(
        actor=acting_user,
        action=AuditAction.UPDATE,
        obj=entry,
        summary=f"Retired {entry.label} after {human_date(last_day)}",
        changes={"effective_to": [str(before) if before else None, str(last_day)]},
    )
    return entry
