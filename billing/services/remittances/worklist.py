"""The unmatched work queue: 835 claims we could not match, why, and closing them with a note."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from billing.choices import ClaimStatus
from billing.models import Claim, RemittanceClaim
from billing.services.remittances.rules import MATCHABLE_STATUSES
from cbo_portal.choices import AuditAction
from cbo_portal.services import audit


def resolve_unmatched(item: RemittanceClaim, *, acting_user, note: str) -> RemittanceClaim:
    """Take an unmatched 835 claim off the work queue with a note saying what was done (called
    the plan, posted by hand, not ours, ...). A note is required; a matched or already resolved row
    is refused."""
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": ["Say what you did about this payment before closing it."]})
    with transaction.atomic():
        locked = RemittanceClaim.objects.select_for_update().select_related("remittance").get(pk=item.pk)
        if locked.claim_id is not None:
            raise ValidationError("This payment was matched to a claim; there is nothing to resolve.")
        if locked.resolved_at is not None:
            raise ValidationError("This payment was already resolved.")
        locked.resolved_at = timezone.now()
        locked.resolved_by = acting_user
        locked.resolution_note = note[:2000]
        locked.save(update_fields=["resolved_at", "resolved_by", "resolution_note"])
        audit.record(
            actor=acting_user,
            action=AuditAction.UPDATE,
            obj=locked,
            organization=locked.remittance.payee,
            summary=f"Resolved unmatched 835 claim {locked.patient_control_number}",
            changes={"note": locked.resolution_note},
        )
    return locked


def unmatched_reasons(items: Iterable[RemittanceClaim]) -> dict[int, str]:
    """Why each unmatched row did not match, in words (one query for the whole page)."""
    items = list(items)
    numbers = {i.patient_control_number for i in items}
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for number, status, provider in Claim.objects.filter(control_number__in=numbers).values_list(
        "control_number", "status", "billing_provider__legal_name"
    ):
        found[number].append((status, provider))
    out: dict[int, str] = {}
    for item in items:
        claims = found.get(item.patient_control_number, [])
        live = [c for c in claims if c[0] in MATCHABLE_STATUSES]
        if not claims:
            out[item.pk] = f"No claim has control number {item.patient_control_number}."
        elif not live:
            states = ", ".join(sorted({ClaimStatus(c[0]).label.lower() for c in claims}))
            out[item.pk] = (
                f"Claim {item.patient_control_number} exists but is {states}, so the payment was not posted."
            )
        elif len(live) > 1:
            out[item.pk] = (
                f"{len(live)} providers have a sent claim {item.patient_control_number}; the payee did not tell them apart."
            )
        else:
            out[item.pk] = (
                f"Claim {item.patient_control_number} belongs to another plan or payee than this payment."
            )
    return out
