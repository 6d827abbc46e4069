"""The claim and batch state machines: one map of allowed moves each, one ``transition``.

Claim:
    draft → held | ready
    held ⇄ ready (re-scrubbing), held/ready → voided (withdrawn before sending)
    ready → in_batch → submitted (or back to ready if the batch is abandoned before sending)
    submitted → accepted | rejected (999, 277CA, TA1) | paid | partially_paid | denied (835 may precede the 999)
    accepted → paid | partially_paid | denied | rejected (the payer's 277CA after the 999 accepted the set)
    rejected → ready (fixed and resent) | voided
    paid | partially_paid | denied → each other (reversal and re-adjudication) | corrected | voided
Batch:
    building → ready → submitting → submitted → acknowledged; building/ready/submitting → failed;
    failed → building | ready | submitting (retry resumes where it stopped)

Moving a claim to corrected or voided takes its lines off the "live" set in the same
transaction, so its service deliveries may be billed on the replacement claim.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from billing.choices import DEAD_CLAIM_STATUSES, BatchStatus, ClaimStatus
from billing.models import Batch, BatchStatusChange, Claim, ClaimLine, ClaimStatusChange
from cbo_portal.choices import AuditAction
from cbo_portal.fastpath import among, copy_rows
from cbo_portal.services import audit
from cbo_portal.statemachine import check_transition

C = ClaimStatus
_DECIDED = (C.PAID, C.PARTIALLY_PAID, C.DENIED)
CLAIM_TRANSITIONS: dict[str, tuple[str, ...]] = {
    C.DRAFT: (C.HELD, C.READY, C.IN_BATCH),  # in_batch: scrubbed clean straight into a batch (nightly)
    C.HELD: (C.READY, C.HELD, C.VOIDED),
    C.READY: (C.HELD, C.READY, C.IN_BATCH, C.VOIDED),
    C.IN_BATCH: (C.SUBMITTED, C.READY),
    C.SUBMITTED: (C.ACCEPTED, C.REJECTED, *_DECIDED),
    C.ACCEPTED: (*_DECIDED, C.REJECTED),  # rejected: a 277CA after the 999 accepted the set
    C.REJECTED: (C.READY, C.HELD, C.VOIDED),
    C.PAID: (*_DECIDED, C.CORRECTED, C.VOIDED),
    C.PARTIALLY_PAID: (*_DECIDED, C.CORRECTED, C.VOIDED),
    C.DENIED: (*_DECIDED, C.CORRECTED, C.VOIDED),
    C.CORRECTED: (),
    C.VOIDED: (),
}

B = BatchStatus
BATCH_TRANSITIONS: dict[str, tuple[str, ...]] = {
    B.BUILDING: (B.READY, B.FAILED),
    B.READY: (B.SUBMITTING, B.FAILED),
    B.SUBMITTING: (B.SUBMITTED, B.FAILED),
    B.SUBMITTED: (B.ACKNOWLEDGED,),
    B.ACKNOWLEDGED: (),
    B.FAILED: (B.BUILDING, B.READY, B.SUBMITTING),
}


@transaction.atomic
def transition_claim(
    claim: Claim, to: str, *, acting_user=None, reason: str = "", audit_it: bool = True
) -> Claim:  # noqa: ANN001
    """Move one claim to ``to`` under a row lock, record history (and audit), or raise
    IllegalTransition. ``acting_user`` is None for system steps (999/835 intake, tasks)."""
    locked = Claim.objects.select_for_update().get(pk=claim.pk)
    check_transition(CLAIM_TRANSITIONS, "claim", locked.status, to)
    previous = locked.status
    locked.status = to
    now = timezone.now()
    fields = ["status", "updated_at"]
    if to == C.SUBMITTED:
        locked.submitted_at, fields = now, [*fields, "submitted_at"]
    if to in _DECIDED:
        locked.adjudicated_at, fields = now, [*fields, "adjudicated_at"]
    locked.save(update_fields=fields)
    if to in DEAD_CLAIM_STATUSES:
        ClaimLine.objects.filter(claim=locked, live=True).update(live=False)
    ClaimStatusChange.objects.create(
        claim=locked, from_status=previous, to_status=to, actor=acting_user, reason=reason
    )
    if audit_it:
        audit.record(
            actor=acting_user, action=AuditAction.TRANSITION, obj=locked, organization=locked.billing_provider,
            summary=f"Claim {locked.control_number}: {C(previous).label.lower()} → {C(to).label.lower()}",
            changes={"status": [previous, to], "reason": reason},
        )  # fmt: skip
    claim.status = locked.status
    return locked


def transition_claims_bulk(
    claim_ids: Iterable[int], frm: str, to: str, *, acting_user=None, reason: str = ""
) -> int:  # noqa: ANN001
    """Move many claims that are all in ``frm`` to ``to`` in one statement (batch export and
    999 intake touch thousands at once). Must run inside a transaction that holds the rows.
    Returns how many moved; history rows are written in bulk."""
    check_transition(CLAIM_TRANSITIONS, "claim", frm, to)
    ids = list(claim_ids)
    extra = {"submitted_at": timezone.now()} if to == C.SUBMITTED else {}
    moved = Claim.objects.filter(among("pk", ids), status=frm).update(
        status=to, updated_at=timezone.now(), **extra
    )
    record_claim_history(ids, frm, to, acting_user=acting_user, reason=reason)
    return moved


def record_claim_history(
    claim_ids: Iterable[int], frm: str, to: str, *, acting_user=None, reason: str = ""
) -> None:  # noqa: ANN001
    """One history row per claim for a bulk move ``frm`` → ``to`` (checked against the map),
    written by COPY on PostgreSQL. For callers that already put the claims in ``to`` in the same
    statement that wrote them (the builder inserts scrubbed claims as held or ready; a batch
    takes its claims in the same UPDATE that sets ``batch``)."""
    check_transition(CLAIM_TRANSITIONS, "claim", frm, to)
    actor_id = getattr(acting_user, "pk", None)
    copy_rows(
        ClaimStatusChange,
        ("claim_id", "from_status", "to_status", "actor_id", "reason"),
        [(pk, frm, to, actor_id, reason) for pk in claim_ids],
    )


@transaction.atomic
def transition_batch(batch: Batch, to: str, *, acting_user=None, reason: str = "", **fields) -> Batch:  # noqa: ANN001, ANN003
    """Move a batch to ``to`` under a row lock (setting any extra ``fields`` in the same write)
    and record history, or raise IllegalTransition."""
    locked = Batch.objects.select_for_update().get(pk=batch.pk)
    check_transition(BATCH_TRANSITIONS, "batch", locked.status, to)
    previous = locked.status
    locked.status = to
    for name, value in fields.items():
        setattr(locked, name, value)
    locked.save()
    BatchStatusChange.objects.create(
        batch=locked, from_status=previous, to_status=to, actor=acting_user, reason=reason
    )
    audit.record(
        actor=acting_user, action=AuditAction.TRANSITION, obj=locked, organization=locked.submitter,
        summary=f"Batch {locked.pk} to {locked.plan}: {B(previous).label.lower()} → {B(to).label.lower()}",
        changes={"status": [previous, to], "reason": reason},
    )  # fmt: skip
    return locked
