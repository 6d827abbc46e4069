"""Posting the claim payments of one transaction set, chunk by chunk (``CHUNK`` at a time).

Per chunk on PostgreSQL: one claim query and one line query (array parameters), ``COPY`` for the
new rows, one UPDATE … FROM unnest(arrays) for the lines' totals, one statement that writes each
claim's totals, ``adjudicated_at`` and new status and inserts its history row
(``states.adjudicate_claims``), and the foreign-key checks of what the chunk wrote. Elsewhere the
plain ORM does the same."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from billing.models import (
    Adjustment,
    Claim,
    ClaimLine,
    ClaimStatusChange,
    Payment,
    Remittance,
    RemittanceClaim,
)
from billing.services.remittances.results import ImportResult
from billing.services.remittances.rules import (
    DENIED,
    MATCHABLE_STATUSES,
    REVERSAL,
    ZERO,
    adjudicated_status,
    is_denial,
    patient_responsibility_of,
)
from billing.services.states import Adjudication, adjudicate_claims
from billing.x12 import remit835 as x835
from cbo_portal.fastpath import (
    among,
    copy_lines,
    copy_rows,
    copy_text,
    deferred_fk_checks,
    on_postgresql,
    reserve_ids,
    update_from_arrays,
)
from contracts.money import money

CHUNK = 5000


@dataclass
class _ClaimState:
    """In-memory view of one matched claim while a chunk is posted."""

    id: int
    status: str
    billed: Decimal
    paid: Decimal
    patient_responsibility: Decimal
    payer_claim_number: str
    control_number: str = ""
    denied: bool = False
    touched: bool = False


@dataclass
class ImportContext:
    """What the whole import knows: the remittance row being filled, organizations by id."""

    file_name: str
    acting_user: Any  # the person importing, or None for a system pickup
    row: Remittance | None = None
    orgs: dict[int, tuple[str, int | None]] = field(default_factory=dict)  # id → (npi, hub id)
    result: ImportResult = field(default_factory=lambda: ImportResult(remittance=None))
    now: datetime = field(default_factory=timezone.now)
    scope: Q | None = None
    org_ids: frozenset[int] = frozenset()  # the uploader's billing organizations (when scoped)
    set_claims: int = 0  # CLPs of the current transaction set so far
    set_matched: int = 0  # ... and how many of them matched a claim
    skipping: bool = False  # the current set is a payment already posted


class Pipeline:
    """Posts the claim payments of one transaction set in chunks of ``CHUNK``, one after the other.

    A chunk goes through four steps: *read* its claims and lines (``_read_chunk``: two queries),
    *build* its rows in plain Python (``_build_chunk``: match the lines, add up, no database),
    *adjudicate* its claims (``states.adjudicate_claims``: totals, status, history in one statement) and
    *write* the rest (``_write_chunk``: the remittance claim, payment and adjustment rows by
    COPY, the lines' totals in one UPDATE, a check of their foreign keys). Each statement is
    set-based, so a chunk of 5,000 claims costs a handful of round trips; everything runs in the
    import's one transaction, on its one connection."""

    def __init__(self, ctx: ImportContext) -> None:
        self.ctx = ctx
        self.chunk: list[x835.ClaimPayment] = []
        self.check_sql = deferred_fk_checks(WRITTEN_MODELS)

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.drain()

    def add(self, cp: x835.ClaimPayment) -> None:
        self.chunk.append(cp)
        if len(self.chunk) >= CHUNK:
            self.drain()

    def drain(self) -> None:
        """Post everything added so far (before a new transaction set, the set's totals, the
        commit)."""
        if not self.chunk:
            return
        chunk, self.chunk = self.chunk, []
        read = _read_chunk(chunk, self.ctx)
        built = _build_chunk(chunk, read, self.ctx)
        adjudicate_claims(
            built.claims, acting_user=_actor(self.ctx.acting_user), reason=built.reason, now=self.ctx.now
        )
        _write_chunk(built, self.check_sql)


@dataclass
class _ChunkRead:
    """What the database says about one chunk: the claims each CLP01 may mean, their lines and
    (on PostgreSQL) the ids the chunk's ``RemittanceClaim`` rows will have."""

    candidates: dict[str, list[Candidate]]  # CLP01 → claims with that control number
    lines: list[tuple]  # (id, claim id, REF*6R, procedure code, paid so far), by claim and line number
    rc_ids: list[int] | None


@dataclass
class _ChunkWrites:
    """One chunk ready to write. Rows go in as tuples in the ``*_FIELDS`` orders, or on PostgreSQL
    already as ``COPY`` text (``copy_text``)."""

    reason: str
    claims: list[Adjudication]
    inserts: list[tuple[type, list[str], list[tuple] | str]]
    line_increments: list[tuple[int, Decimal]]


class Candidate(NamedTuple):
    """A claim a CLP01 may mean (the columns ``_read_chunk`` reads)."""

    id: int
    control_number: str
    status: str
    plan_id: int
    billing_provider_id: int
    submitter_id: int | None
    billed_amount: Decimal
    paid_amount: Decimal
    patient_responsibility: Decimal
    payer_claim_number: str


def _pick_claim(candidates: list[Candidate], ctx: ImportContext) -> Candidate | None:
    """The one claim a CLP01 means (see the package rules), or None."""
    row = ctx.row
    assert row is not None
    live = [c for c in candidates if c.status in MATCHABLE_STATUSES]
    if row.plan_id is not None:
        live = [c for c in live if c.plan_id == row.plan_id]
    if len(live) == 1:
        return live[0]
    if len(live) > 1 and row.payee_npi:
        npi = row.payee_npi

        def npi_of(org_id: int | None) -> str:
            return ctx.orgs.get(org_id or 0, ("", None))[0]

        exact = [c for c in live if npi_of(c.billing_provider_id) == npi]
        if len(exact) == 1:
            return exact[0]
        related = [
            c
            for c in live
            if npi_of(c.submitter_id) == npi
            or npi_of(ctx.orgs.get(c.billing_provider_id, ("", None))[1]) == npi
        ]
        if len(related) == 1:
            return related[0]
    return None


def _read_chunk(chunk: list[x835.ClaimPayment], ctx: ImportContext) -> _ChunkRead:
    """One claim query and one line query (array parameters) for the whole chunk. Only reads:
    choosing among the candidates is ``_build_chunk``'s."""
    numbers = list({cp.patient_control_number for cp in chunk})
    candidates: dict[str, list[Candidate]] = defaultdict(list)
    claims = Claim.objects.filter(among("control_number", numbers))
    if ctx.scope is not None:
        claims = claims.filter(ctx.scope)
    for values in claims.values_list(*Candidate._fields):
        cand = Candidate._make(values)
        candidates[cand.control_number].append(cand)
    lines: list[tuple] = []
    if candidates:
        claim_ids = [c.id for group in candidates.values() for c in group]
        lines = list(
            ClaimLine.objects.filter(among("claim_id", claim_ids))
            .order_by("claim_id", "line_number")
            .values_list("id", "claim_id", "line_control_number", "procedure_code", "paid_amount")
        )
    return _ChunkRead(
        candidates, lines, reserve_ids(RemittanceClaim, len(chunk)) if on_postgresql() else None
    )


class _Cents(dict):
    """``money()`` of each amount, computed once per distinct amount (a file repeats a few)."""

    def __missing__(self, value: Decimal) -> Decimal:
        self[value] = rounded = money(value)
        return rounded


def _build_chunk(chunk: list[x835.ClaimPayment], read: _ChunkRead, ctx: ImportContext) -> _ChunkWrites:
    """Pick the claim each CLP01 means, match every SVC to a line, add up what each claim and line
    is paid, and make the rows. No database here, except off PostgreSQL, where the
    ``RemittanceClaim`` rows go in now to learn their ids."""
    row = ctx.row
    assert row is not None
    result = ctx.result
    now = ctx.now
    cents = _Cents()
    chosen: dict[str, int | None] = {}
    states: dict[int, _ClaimState] = {}
    for number, candidates in read.candidates.items():
        cand = _pick_claim(candidates, ctx)
        if cand is not None:
            chosen[number] = cand.id
            states[cand.id] = _ClaimState(
                id=cand.id,
                status=cand.status,
                billed=cand.billed_amount,
                paid=cand.paid_amount,
                patient_responsibility=cand.patient_responsibility,
                payer_claim_number=cand.payer_claim_number,
                control_number=number,
            )
    lines_by_control: dict[str, tuple[int, int]] = {}  # REF*6R → (line id, claim id)
    lines_by_claim: dict[int, list[tuple[int, str]]] = defaultdict(list)  # claim → [(line id, code)] in order
    line_before: dict[int, Decimal] = {}  # line id → paid so far
    for line_id, claim_id, control, code, paid_before in read.lines:
        if claim_id in states:
            lines_by_control[control] = (line_id, claim_id)
            lines_by_claim[claim_id].append((line_id, code))
            line_before[line_id] = paid_before
    owed = [patient_responsibility_of(cp) for cp in chunk]
    remittance_claims = [
        (
            row.pk,
            chosen.get(cp.patient_control_number),
            cp.patient_control_number[:38],
            cp.status[:2],
            cents[cp.charge],
            cents[cp.paid],
            cents[pr],
            cp.payer_claim_number[:50],
            None,
            None,
            "",
        )
        for cp, pr in zip(chunk, owed, strict=True)
    ]
    rc_ids = read.rc_ids
    copy = rc_ids is not None  # PostgreSQL: COPY text, made here
    inserts: list[tuple[type, list[str], list[tuple] | str]] = []
    if rc_ids is None:
        rc_ids = copy_rows(RemittanceClaim, REMIT_CLAIM_FIELDS, remittance_claims, return_ids=True)
    else:
        rows = [(pk, *r) for pk, r in zip(rc_ids, remittance_claims, strict=True)]
        inserts.append((RemittanceClaim, ["id", *REMIT_CLAIM_FIELDS], copy_text(rows)))

    payments: list[tuple] = []
    adjustments: list[tuple] = []
    line_paid: dict[int, Decimal] = defaultdict(lambda: ZERO)
    paid_total = adjustment_total = ZERO
    denied = matched = 0
    for cp, rc_id, pr in zip(chunk, rc_ids, owed, strict=True):
        paid = cp.paid
        paid_total += paid
        adjustment_total += cp.charge - paid
        if is_denial(cp.status, paid):
            denied += 1
        claim_id = chosen.get(cp.patient_control_number)
        if claim_id is None:
            continue
        matched += 1
        state = states[claim_id]
        state.touched = True
        state.paid += paid
        if pr:
            state.patient_responsibility += pr
        if cp.status != REVERSAL:
            state.denied = cp.status == DENIED
            if cp.payer_claim_number:
                state.payer_claim_number = cp.payer_claim_number
        for a in cp.adjustments:
            adjustments.append(_adjustment_row(a, claim_id, None, rc_id, cp.remark_codes, cents, now))
        used: set[int] = set()
        lines_paid = ZERO
        for svc in cp.services:
            line_id = _match_line(svc, claim_id, lines_by_control, lines_by_claim, used)
            svc_paid = svc.paid
            lines_paid += svc_paid
            if svc_paid:
                payments.append((claim_id, line_id, rc_id, cents[svc_paid], now))
            if line_id is not None:
                line_paid[line_id] += svc_paid
            for a in svc.adjustments:
                adjustments.append(_adjustment_row(a, claim_id, line_id, rc_id, svc.remark_codes, cents, now))
        if cp.is_reversal and not cp.services:
            # A claim-level reversal takes back what each line was paid, line by line.
            to_take = -paid
            for line_id, _code in lines_by_claim.get(claim_id, ()):
                amount = min(line_before[line_id] + line_paid[line_id], to_take)
                if amount > 0:
                    payments.append((claim_id, line_id, rc_id, money(-amount), now))
                    line_paid[line_id] -= amount
                    lines_paid -= amount
                    to_take -= amount
        residue = paid - lines_paid
        if residue:
            payments.append((claim_id, None, rc_id, money(residue), now))
    result.paid_total += paid_total
    result.adjustment_total += adjustment_total
    result.denied_count += denied
    result.claims_matched += matched
    result.claims_unmatched += len(chunk) - matched
    ctx.set_claims += len(chunk)
    ctx.set_matched += matched
    result.overpaid.extend(s.control_number for s in states.values() if s.touched and s.paid > s.billed)
    # Lines the file paid nothing on keep their total: adding 0.00 would only rewrite the row.
    increments = [(i, d) for i, d in line_paid.items() if d]
    return _ChunkWrites(
        reason=f"835 {row.trace_number} from {row.payer_name} ({ctx.file_name})"[:300],
        claims=[
            Adjudication(
                s.id,
                cents[s.paid],
                cents[s.patient_responsibility],
                s.payer_claim_number[:50],
                s.status,
                adjudicated_status(paid=s.paid, billed=s.billed, denied=s.denied),
            )
            for s in states.values()
            if s.touched
        ],
        inserts=[
            *inserts,
            (Payment, PAYMENT_FIELDS, copy_text(payments) if copy else payments),
            (Adjustment, ADJUSTMENT_FIELDS, copy_text(adjustments) if copy else adjustments),
        ],
        line_increments=increments,
    )


def _adjustment_row(
    a: x835.Adjustment,
    claim_id: int,
    line_id: int | None,
    rc_id: int,
    remarks: tuple[str, ...],
    cents: _Cents,
    now: datetime,
) -> tuple:
    """One CAS triplet as an ``Adjustment`` row (``ADJUSTMENT_FIELDS``), claim- or line-level."""
    quantity = None if a.quantity is None else cents[a.quantity]
    return (claim_id, line_id, rc_id, a.group, a.reason[:5], remarks, cents[a.amount], quantity, now)


def _write_chunk(writes: _ChunkWrites, check_sql: list[str]) -> None:
    """Insert a chunk's rows, add to its lines' totals, and check the foreign keys of what this
    chunk (and its claims' history rows) wrote now rather than all at commit, while the next chunk
    is being built (``deferred_fk_checks``)."""
    for model, fields, rows in writes.inserts:
        if isinstance(rows, str):
            copy_lines(model, fields, rows)
        else:
            copy_rows(model, fields, rows)
    update_from_arrays(ClaimLine, ["paid_amount"], writes.line_increments, increment=True)
    if check_sql:
        with connection.cursor() as cursor:
            for sql in check_sql:
                cursor.execute(sql)


def _actor(user):
    return user if getattr(user, "is_authenticated", False) else None


def _match_line(
    svc: x835.ServicePayment,
    claim_id: int,
    by_control: dict[str, tuple[int, int]],
    by_claim: dict[int, list[tuple[int, str]]],
    used: set[int],
) -> int | None:
    """REF*6R names our line; without it, the first line of the claim with the same code."""
    if svc.line_control_number:
        hit = by_control.get(svc.line_control_number)
        if hit is not None and hit[1] == claim_id:
            used.add(hit[0])
            return hit[0]
    for line_id, code in by_claim.get(claim_id, ()):
        if code == svc.procedure_code and line_id not in used:
            used.add(line_id)
            return line_id
    return None


# The columns each table is written with.
REMIT_CLAIM_FIELDS = [
    "remittance_id",
    "claim_id",
    "patient_control_number",
    "status_code",
    "charge",
    "paid",
    "patient_responsibility",
    "payer_claim_number",
    "resolved_at",
    "resolved_by_id",
    "resolution_note",
]
PAYMENT_FIELDS = ["claim_id", "claim_line_id", "remittance_claim_id", "amount", "created_at"]
ADJUSTMENT_FIELDS = [
    "claim_id",
    "claim_line_id",
    "remittance_claim_id",
    "group",
    "carc",
    "rarcs",
    "amount",
    "quantity",
    "created_at",
]
# The tables an import inserts into; their foreign keys are checked chunk by chunk (``_write_chunk``).
WRITTEN_MODELS = (RemittanceClaim, Payment, Adjustment, ClaimStatusChange)
