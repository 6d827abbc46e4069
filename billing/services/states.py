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

Every claim status move is written here: ``transition_claim`` (one claim, locked),
``transition_claims_bulk`` (many, one UPDATE), ``record_claim_history`` (the history of claims
inserted already in their status by the builder) and ``adjudicate_claims`` (an 835's decisions).

Moving a claim to corrected or voided takes its lines off the "live" set in the same
transaction, so its service deliveries may be billed on the replacement claim.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from django.db import connection, transaction
from django.utils import timezone

from billing.choices import DEAD_CLAIM_STATUSES, BatchStatus, ClaimStatus
from billing.models import Batch, BatchStatusChange, Claim, ClaimLine, ClaimStatusChange
from cbo_portal.choices import AuditAction
from cbo_portal.fastpath import among, array_literal, copy_rows, on_postgresql, update_from_arrays
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
) -> Claim:
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
            actor=acting_user,
            action=AuditAction.TRANSITION,
            obj=locked,
            organization=locked.billing_provider,
            summary=f"Claim {locked.control_number}: {C(previous).label.lower()} → {C(to).label.lower()}",
            changes={"status": [previous, to], "reason": reason},
        )
    claim.status = locked.status
    return locked


def transition_claims_bulk(
    claim_ids: Iterable[int], frm: str, to: str, *, acting_user=None, reason: str = "", **fields: object
) -> int:
    """Move many claims that are all in ``frm`` to ``to`` in one statement (batch export and
    999 intake touch thousands at once), setting any other ``fields`` in the same UPDATE (a batch
    takes its claims and numbers their transaction set as they move). Must run inside a
    transaction that holds the rows. Returns how many moved; history rows are written in bulk."""
    check_transition(CLAIM_TRANSITIONS, "claim", frm, to)
    ids = list(claim_ids)
    now = timezone.now()
    if to == C.SUBMITTED:
        fields["submitted_at"] = now
    moved = Claim.objects.filter(among("pk", ids), status=frm).update(status=to, updated_at=now, **fields)
    record_claim_history(ids, frm, to, acting_user=acting_user, reason=reason)
    return moved


def record_claim_history(
    claim_ids: Iterable[int], frm: str, to: str, *, acting_user=None, reason: str = ""
) -> None:
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


# --------------------------------------------------------------------------- 835 decisions


class Adjudication(NamedTuple):
    """What an 835 decided for one claim: its new totals, and the move from the status it was
    read in."""

    id: int
    paid: Decimal
    patient_responsibility: Decimal
    payer_claim_number: str
    read_status: str
    to_status: str


# Every from → to pair is checked against ``CLAIM_TRANSITIONS`` before anything is written; a
# claim moves only if it is still in the status it was read in; one ``ClaimStatusChange`` per
# move. Unlike ``transition_claims_bulk``, the move shares one UPDATE with the claim's new totals
# and ``adjudicated_at``, and on PostgreSQL the history rows are inserted by that same statement,
# so an 835 of 100,000 claims writes each claim once and sends no history rows from Python.
_ADJUDICATE_SQL = """
WITH v AS (
    SELECT * FROM unnest(%s::bigint[], %s::numeric[], %s::numeric[], %s::text[], %s::text[], %s::text[])
        AS v(id, paid, patient_responsibility, payer_claim_number, from_status, to_status)
), moved AS (
    UPDATE {claim} AS c
    SET status = v.to_status, paid_amount = v.paid, patient_responsibility = v.patient_responsibility,
        payer_claim_number = v.payer_claim_number, adjudicated_at = %s, updated_at = %s
    FROM v WHERE c.id = v.id AND c.status = v.from_status
    RETURNING c.id, v.from_status, v.to_status
)
INSERT INTO {history} (claim_id, from_status, to_status, actor_id, reason, created_at)
SELECT id, from_status, to_status, %s, %s, %s FROM moved
RETURNING claim_id
"""


def adjudicate_claims(rows: list[Adjudication], *, acting_user, reason: str, now: datetime) -> None:
    """Write each adjudicated claim's totals, ``adjudicated_at`` and new status, with a history
    row per move. A claim whose status changed since it was read (a 999 landing meanwhile) is
    locked, re-read and moved from its current status when that move is allowed; otherwise only
    its totals are written. ``acting_user`` is None for the pickup and the nightly tasks."""
    if not rows:
        return
    for pair in {(r.read_status, r.to_status) for r in rows}:
        check_transition(CLAIM_TRANSITIONS, "claim", *pair)
    moved = _move_adjudicated(rows, acting_user, reason, now)
    if len(moved) == len(rows):
        return
    missed = [r for r in rows if r.id not in moved]
    current = dict(
        Claim.objects.select_for_update().filter(pk__in=[r.id for r in missed]).values_list("pk", "status")
    )
    retry, totals_only = [], []
    for r in missed:
        status = current.get(r.id, "")
        if r.to_status in CLAIM_TRANSITIONS.get(status, ()):
            retry.append(r._replace(read_status=status))
        else:
            totals_only.append((*r[:4], now, now))
    _move_adjudicated(retry, acting_user, reason, now)
    update_from_arrays(
        Claim,
        ["paid_amount", "patient_responsibility", "payer_claim_number", "adjudicated_at", "updated_at"],
        totals_only,
    )


def _move_adjudicated(rows: list[Adjudication], actor, reason: str, now: datetime) -> set[int]:
    """One statement on PostgreSQL (``_ADJUDICATE_SQL``); the ORM elsewhere. Returns the ids moved."""
    if not rows:
        return set()
    if on_postgresql():
        sql = _ADJUDICATE_SQL.format(
            claim=connection.ops.quote_name(Claim._meta.db_table),
            history=connection.ops.quote_name(ClaimStatusChange._meta.db_table),
        )
        columns = [array_literal(c) for c in zip(*rows, strict=True)]
        with connection.cursor() as cursor:
            cursor.execute(sql, [*columns, now, now, getattr(actor, "pk", None), reason, now])
            return {pk for (pk,) in cursor.fetchall()}
    groups: dict[tuple[str, str], list[Adjudication]] = defaultdict(list)
    for r in rows:
        groups[(r.read_status, r.to_status)].append(r)
    moved: set[int] = set()
    for (frm, to), group in groups.items():
        keep = set(
            Claim.objects.filter(pk__in=[r.id for r in group], status=frm).values_list("pk", flat=True)
        )
        update_from_arrays(
            Claim,
            [
                "paid_amount",
                "patient_responsibility",
                "payer_claim_number",
                "status",
                "adjudicated_at",
                "updated_at",
            ],
            [(*r[:4], to, now, now) for r in group if r.id in keep],
        )
        ClaimStatusChange.objects.bulk_create(
            [
                ClaimStatusChange(claim_id=pk, from_status=frm, to_status=to, actor=actor, reason=reason)
                for pk in keep
            ],
            batch_size=500,
        )
        moved |= keep
    return moved


@transaction.atomic
def transition_batch(batch: Batch, to: str, *, acting_user=None, reason: str = "", **fields) -> Batch:
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
        actor=acting_user,
        action=AuditAction.TRANSITION,
        obj=locked,
        organization=locked.submitter,
        summary=f"Batch {locked.pk} to {locked.plan}: {B(previous).label.lower()} → {B(to).label.lower()}",
        changes={"status": [previous, to], "reason": reason},
    )
    return locked
