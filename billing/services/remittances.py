"""835 intake and reconciliation: post a plan's remittance advice against our claims.

Rules:

* A payment is posted once. Its identity is the payment, not the file: payer + TRN02 trace number +
  payment date + amount (``billing.x12.remit835.payment_key``). The same payment again, in any
  envelope (new ISA13), with any line breaks or delimiters, is reported as already posted and
  changes nothing (``ImportResult.already_imported``, or ``already_posted`` for the sets of a file
  that were); the stored raw file keeps its own SHA-256.
* A file answers to whom it addresses: a person may import an 835 only for
  the payee it names (N1*PE NPI, else its TIN), that payee's hub, or the submitter of the claims it
  pays. Anyone else gets a clear refusal before anything is written, so a wrong organization's
  attempt neither stores the file nor blocks the payee's own import. System pickups and platform
  admins import for anyone.
* A claim whose net paid exceeds its billed amount is flagged (``Claim.overpaid``, and
  ``ImportResult.overpaid`` in the summary).
* Patient responsibility is CLP05 when sent, else Σ of the claim's PR adjustments
  (``patient_responsibility_of``), so a reversal that carries CAS PR without CLP05 reverses it.
* A file is imported whole or not at all. The parser (``billing.x12.remit835``) checks the
  structure and the balancing (per line, per claim CLP03 − CLP04 = Σ CAS, per payment BPR02 =
  Σ CLP04 − Σ PLB) while we post claims as they stream by, all in one transaction: any error rolls
  everything back and is raised as a ``ValidationError`` whose text names the segment or the numbers
  that disagree.
* Matching: CLP01 is our ``Claim.control_number`` (unique per billing provider). Among claims with
  that number, only those the plan has been sent and not yet corrected or voided qualify
  (submitted, accepted, paid, partially paid, denied); when the payer is known, only its claims;
  when several billing providers still share the number, the payee NPI (N1*PE) picks the one it
  names (as billing provider, its hub, or the submitter). SVC lines match our lines by REF*6R,
  else by procedure code in line order. Anything we cannot match goes to the unmatched work queue
  (``RemittanceClaim.claim`` is null until someone resolves it).
* Money is append-only: one ``Payment`` row per paid line (and one for any claim-level residue),
  one ``Adjustment`` row per CAS triplet (group, CARC, RARCs, amount). The claim's and the line's
  running totals move by the same amounts in the same transaction.
* Reversals (CLP02 22) carry negative amounts and are posted like any CLP, in file order; a
  reversal followed by a new CLP for the same claim is a re-adjudication. The claim's status
  afterwards follows ``adjudicated_status`` from its net paid amount.
* Speed: claims are posted in chunks of ``CHUNK``. Per chunk on PostgreSQL: one claim query and
  one line query (array parameters), ``COPY`` for the new rows, one UPDATE … FROM unnest(arrays)
  for the lines' totals, one statement that writes each claim's totals, ``adjudicated_at`` and
  new status and inserts its history row, and the foreign-key checks of what the chunk wrote
  (``_Pipeline``). Elsewhere the plain ORM does the same.
"""

from __future__ import annotations

import hashlib
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import PurePath

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from billing.choices import ClaimStatus
from billing.models import (
    Adjustment,
    Claim,
    ClaimLine,
    ClaimStatusChange,
    Payment,
    ProviderAdjustment,
    Remittance,
    RemittanceClaim,
)
from billing.scope import PROVIDER_BILLING_ROLES, billing_scope_q
from billing.services.batches import mark_answered_batches
from billing.services.filecheck import nul_byte_problem
from billing.services.states import Adjudication, adjudicate_claims
from billing.x12 import remit835 as x835
from billing.x12.common import SegmentReader, X12Error, X12ParseError
from cbo_portal import access
from cbo_portal.choices import AuditAction, OrgKind
from cbo_portal.fastpath import (
    advisory_lock,
    among,
    copy_lines,
    copy_rows,
    copy_text,
    deferred_fk_checks,
    on_postgresql,
    reserve_ids,
    update_from_arrays,
)
from cbo_portal.models import Organization
from cbo_portal.services import audit
from cbo_portal.words import count
from contracts.money import money

ZERO = Decimal("0.00")
CHUNK = 5000
# Claims an 835 may speak about: the plan has them, and they have not been replaced or withdrawn.
MATCHABLE_STATUSES = frozenset(
    {
        ClaimStatus.SUBMITTED,
        ClaimStatus.ACCEPTED,
        ClaimStatus.PAID,
        ClaimStatus.PARTIALLY_PAID,
        ClaimStatus.DENIED,
    }
)
REVERSAL = "22"
DENIED = "4"


class RemittanceImportError(ValidationError):
    """An 835 that cannot be imported (malformed, unbalanced, not an 835). Nothing was changed."""


@dataclass
class ImportResult:
    """What one 835 file did. ``remittance`` is the (first) payment posted; a file with several
    transaction sets has one row each in ``remittances``."""

    remittance: Remittance | None
    claims_matched: int = 0
    claims_unmatched: int = 0
    paid_total: Decimal = ZERO
    adjustment_total: Decimal = ZERO
    provider_adjustment_total: Decimal = ZERO
    denied_count: int = 0
    already_imported: bool = False
    remittances: list[Remittance] = field(default_factory=list)
    already_posted: list[Remittance] = field(default_factory=list)  # sets of this file posted before
    overpaid: list[str] = field(default_factory=list)  # control numbers now paid more than billed

    def as_dict(self) -> dict[str, object]:
        """A JSON-friendly summary (money as strings)."""
        return {
            "remittance_ids": [r.pk for r in self.remittances],
            "file_name": self.remittance.file_name if self.remittance else "",
            "trace_numbers": [r.trace_number for r in self.remittances],
            "claims_matched": self.claims_matched,
            "claims_unmatched": self.claims_unmatched,
            "paid_total": str(self.paid_total),
            "adjustment_total": str(self.adjustment_total),
            "provider_adjustment_total": str(self.provider_adjustment_total),
            "denied_count": self.denied_count,
            "already_imported": self.already_imported,
            "already_posted": [r.trace_number for r in self.already_posted],
            "overpaid": self.overpaid,
        }


# --------------------------------------------------------------------------- rules in one place


def is_denial(status_code: str, paid: Decimal) -> bool:
    """A CLP is a denial when the plan says so (CLP02 4) or pays nothing on a processed claim.
    Reversals (CLP02 22) are never denials themselves."""
    if status_code == REVERSAL:
        return False
    return status_code == DENIED or paid <= 0


def adjudicated_status(*, paid: Decimal, billed: Decimal, denied: bool) -> str:
    """A claim's status after an 835: denied when the plan's last word was a denial or nothing is
    left paid (a reversal not followed by a new payment); partially paid when the net paid amount is
    below the billed amount (CO-45 reductions, partial line denials); paid otherwise."""
    if denied or paid <= 0:
        return ClaimStatus.DENIED
    if paid < billed:
        return ClaimStatus.PARTIALLY_PAID
    return ClaimStatus.PAID


def decode_x12(data: bytes, what: str) -> str:
    """X12 is ASCII; accept UTF-8 (with or without a byte-order mark, which some payers' systems
    write) and fall back to Latin-1 so the parser gives the real error."""
    if not data or not data.strip():
        raise X12ParseError(f"the {what} file is empty")
    if problem := nul_byte_problem(data, what):
        raise X12ParseError(problem)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def patient_responsibility_of(cp: x835.ClaimPayment) -> Decimal:
    """What the member owes by this CLP: CLP05 when the payer sent it; otherwise the sum of the
    claim's PR (patient responsibility) adjustments, claim and line level. A reversal (CLP02 22)
    carries them negative, so it takes back what the original put on the member even when it
    leaves CLP05 out."""
    if cp.patient_responsibility is not None:
        return cp.patient_responsibility
    total = ZERO
    for _service, adjustment in cp.all_adjustments():
        if adjustment.group == "PR":
            total += adjustment.amount
    return total


# --------------------------------------------------------------------------- import


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
class _Context:
    """What the whole import knows: the remittance row being filled, organizations by id."""

    file_name: str
    acting_user: object
    row: Remittance | None = None
    orgs: dict[int, tuple[str, int | None]] = field(default_factory=dict)  # id → (npi, hub id)
    result: ImportResult = field(default_factory=lambda: ImportResult(remittance=None))
    now: object = None
    scope: Q | None = None
    org_ids: frozenset[int] = frozenset()  # the uploader's billing organizations (when scoped)
    set_claims: int = 0  # CLPs of the current transaction set so far
    set_matched: int = 0  # ... and how many of them matched a claim
    skipping: bool = False  # the current set is a payment already posted


def uploader_scope(acting_user) -> Q | None:
    """Which claims a file brought by ``acting_user`` may post to: ``None`` (all) for system
    pickups and platform admins; the claims the user bills for (as provider, its hub or submitter)
    for provider billing staff. Anyone else (plans, staff who only log services) may not import."""
    if acting_user is None or not getattr(acting_user, "is_authenticated", False):
        return None
    if access.is_platform_admin(acting_user):
        return None
    if not access.org_ids_with_roles(acting_user, PROVIDER_BILLING_ROLES):
        raise PermissionDenied("Only a provider's billing staff can import 835 and 999 files.")
    return billing_scope_q(acting_user, provider="billing_provider", submitter="submitter", plan=None)


def import_remittance(data: bytes, *, file_name: str, acting_user=None, _retry: bool = True) -> ImportResult:
    """Import one 835 file (see the module docstring for the rules). Returns the summary; raises
    ``RemittanceImportError`` (a ``ValidationError``) for a file that cannot be imported or that is
    not addressed to the uploader, in which case nothing was changed. A user posts only to claims
    they bill for (``uploader_scope``)."""
    scope = uploader_scope(acting_user)
    org_ids = frozenset()
    if scope is not None:
        org_ids = frozenset(access.org_ids_with_roles(acting_user, PROVIDER_BILLING_ROLES))
    digest = hashlib.sha256(data).hexdigest()
    name = PurePath(file_name or "remittance.835").name[:200]
    try:
        text = decode_x12(data, "835")
        with transaction.atomic():
            mark_answered_batches(
                lambda: _claim_numbers(text), answer=f"835 {name}", acting_user=acting_user, scope=scope
            )
            ctx = _Context(
                file_name=name, acting_user=acting_user, now=timezone.now(), scope=scope, org_ids=org_ids
            )
            _post(text, ctx, digest, data)
    except X12Error as exc:
        raise RemittanceImportError(f"{name} was not imported: {exc}") from exc
    except IntegrityError:
        # A concurrent import of the same payment lost the race on its unique payment key: import
        # again, which now finds the payment posted and says so.
        if not _retry:
            raise
        return import_remittance(data, file_name=file_name, acting_user=acting_user, _retry=False)
    return ctx.result


def _post(text: str, ctx: _Context, digest: str, data: bytes) -> None:
    set_index = 0
    with _Pipeline(ctx) as pipeline:
        for event in x835.iter_835(io.StringIO(text)):
            if isinstance(event, x835.ClaimPayment):
                if not ctx.skipping:
                    pipeline.add(event)
            elif isinstance(event, x835.RemittanceStart):
                pipeline.drain()
                header = event.remittance
                payee = _check_addressee(header, ctx, text, set_index)
                set_index += 1
                existing = Remittance.objects.filter(payment_key=header.payment_key).first()
                if existing is not None:
                    ctx.skipping = True
                    ctx.result.already_posted.append(existing)
                    continue
                ctx.row = _start_remittance(header, ctx, digest, data, payee)
            else:
                pipeline.drain()
                if ctx.skipping:
                    ctx.skipping = False
                else:
                    _finish_remittance(event, ctx)
    if ctx.result.remittance is None:
        if ctx.result.already_posted:
            already = summarize(ctx.result.already_posted)
            already.already_posted = ctx.result.already_posted
            ctx.result = already
            return
        raise RemittanceImportError(f"{ctx.file_name} was not imported: it holds no 835 transaction set.")


def _claim_numbers(text: str, set_index: int | None = None) -> set[str]:
    """The CLP01s of the file (or of its ``set_index``-th transaction set), read by a plain pass
    over its segments. Only for the rare paths that need them before posting: a batch that was
    written but not marked sent, an uploader who is not the payee."""
    numbers: set[str] = set()
    index = -1
    for seg in SegmentReader(text):
        if seg[0] == "ST":
            index += 1
        elif seg[0] == "CLP" and len(seg) > 1 and (set_index is None or index == set_index):
            numbers.add(seg[1])
    return numbers


def _check_addressee(
    header: x835.Remittance, ctx: _Context, text: str, set_index: int
) -> Organization | None:
    """The payee the set names; refuses (nothing written yet) an uploader who is neither that
    payee, its hub, nor the submitter of a claim the set pays."""
    payee = _resolve_payee(header)
    if ctx.scope is None:
        return payee
    orgs = ctx.org_ids
    if payee is not None and (payee.pk in orgs or (payee.hub_id is not None and payee.hub_id in orgs)):
        return payee
    numbers = list(_claim_numbers(text, set_index))
    if numbers and Claim.objects.filter(control_number__in=numbers, submitter_id__in=orgs).exists():
        return payee
    named = " or ".join(
        f"{what} {value}" for what, value in (("NPI", header.payee_npi), ("TIN", header.payee_tin)) if value
    )
    raise RemittanceImportError(
        f"{ctx.file_name} was not imported: it pays {header.payee_name or 'another payee'}"
        f"{f' ({named})' if named else ''}, and your organization is neither that payee, its hub, nor "
        f"the submitter of the claims it pays. Nothing was stored; the payee must import it."
    )


def _resolve_plan(header: x835.Remittance) -> Organization | None:
    plans = Organization.objects.filter(kind=OrgKind.PLAN)
    if header.payer_id:
        found = list(plans.filter(payer_id=header.payer_id)[:2])
        if len(found) == 1:
            return found[0]
    found = list(plans.filter(legal_name__iexact=header.payer_name)[:2])
    return found[0] if len(found) == 1 else None


def _resolve_payee(header: x835.Remittance) -> Organization | None:
    """The organization N1*PE names: by NPI (N103 XX), else by TIN (N103 FI or REF*TJ)."""
    providers = Organization.objects.exclude(kind=OrgKind.PLAN)
    if header.payee_npi:
        found = list(providers.filter(npi=header.payee_npi)[:2])
        if len(found) == 1:
            return found[0]
    digits = "".join(c for c in header.payee_tin if c.isdigit())
    if len(digits) == 9:
        found = list(providers.filter(tin__in=[digits, f"{digits[:2]}-{digits[2:]}"])[:2])
        if len(found) == 1:
            return found[0]
    return None


def _lock_plan(plan: Organization | None) -> None:
    """Imports for the same plan run one after the other (a transaction-scoped advisory lock on
    PostgreSQL): two files must not post to the same claims at once. Cheaper than locking every
    claim row, which would write each row one more time."""
    if plan is not None:
        advisory_lock(835, plan.pk)


def _start_remittance(
    header: x835.Remittance, ctx: _Context, digest: str, data: bytes, payee: Organization | None
) -> Remittance:
    plan = _resolve_plan(header)
    _lock_plan(plan)
    row = Remittance(
        plan=plan,
        payee=payee,
        file_name=ctx.file_name,
        sha256=digest,
        payment_key=header.payment_key,
        originator_id=header.originator_id[:50],
        payer_name=header.payer_name[:120],
        payer_id=header.payer_id[:50],
        payee_npi=header.payee_npi[:10],
        trace_number=header.trace_number[:50],
        payment_method=header.payment_method[:3],
        payment_date=header.payment_date,
        total_paid=money(header.total_paid),
        imported_by=ctx.acting_user if getattr(ctx.acting_user, "is_authenticated", False) else None,
    )
    first = ctx.result.remittance
    if first is None:
        row.file.save(ctx.file_name, ContentFile(data), save=False)
    else:
        row.file.name = first.file.name  # the same file backs every set of it
    row.save()
    if first is None:
        ctx.result.remittance = row
    ctx.set_claims = ctx.set_matched = 0
    ctx.result.remittances.append(row)
    for org in Organization.objects.filter(kind__in=[OrgKind.CBO, OrgKind.HUB]).only("id", "npi", "hub_id"):
        ctx.orgs[org.pk] = (org.npi, org.hub_id)
    return row


def _finish_remittance(event: x835.RemittanceEnd, ctx: _Context) -> None:
    row = ctx.row
    assert row is not None
    plbs = [
        ProviderAdjustment(
            remittance=row,
            provider_identifier=p.provider_id[:50],
            fiscal_period_end=p.fiscal_period_date,
            reason_code=p.reason[:2],
            reference=p.reference[:50],
            amount=money(p.amount),
        )
        for p in event.remittance.provider_adjustments
        if p.amount
    ]
    ProviderAdjustment.objects.bulk_create(plbs)
    row.claim_count = ctx.set_claims
    row.matched_count = ctx.set_matched
    row.unmatched_count = ctx.set_claims - ctx.set_matched
    row.save(update_fields=["claim_count", "matched_count", "unmatched_count"])
    ctx.result.provider_adjustment_total += sum((p.amount for p in plbs), ZERO)
    audit.record(
        actor=ctx.acting_user,
        action=AuditAction.CREATE,
        obj=row,
        organization=row.payee,
        summary=f"Imported 835 {row.trace_number} from {row.payer_name}: {count(row.claim_count, 'claim')}, "
        f"{row.matched_count} matched, ${row.total_paid} paid",
        changes={"file": ctx.file_name, "claims": row.claim_count, "unmatched": row.unmatched_count},
    )


# --------------------------------------------------------------------------- posting, chunk by chunk


class _Pipeline:
    """Posts the claim payments of one transaction set in chunks of ``CHUNK``, one after the other.

    A chunk goes through four steps: *read* its claims and lines (``_read_chunk``: two queries),
    *build* its rows in plain Python (``_build_chunk``: match the lines, add up, no database),
    *adjudicate* its claims (``states.adjudicate_claims``: totals, status, history in one statement) and
    *write* the rest (``_write_chunk``: the remittance claim, payment and adjustment rows by
    COPY, the lines' totals in one UPDATE, a check of their foreign keys). Each statement is
    set-based, so a chunk of 5,000 claims costs a handful of round trips; everything runs in the
    import's one transaction, on its one connection."""

    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx
        self.chunk: list[x835.ClaimPayment] = []
        self.check_sql = deferred_fk_checks(WRITTEN_MODELS)

    def __enter__(self) -> _Pipeline:
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

    candidates: dict[str, list[tuple]]  # CLP01 → claims with that control number (_CANDIDATE_FIELDS)
    lines: list[tuple]  # (id, claim id, REF*6R, procedure code, paid so far), by claim and line number
    rc_ids: list[int] | None


@dataclass
class _ChunkWrites:
    """One chunk ready to write. Rows go in as tuples in the ``*_FIELDS`` orders, or on PostgreSQL
    already as ``COPY`` text (``copy_text``), made while the previous chunk was being written."""

    reason: str
    claims: list[Adjudication]
    inserts: list[tuple[type, list[str], list[tuple] | str]]
    line_increments: list[tuple[int, Decimal]]


def _pick_claim(candidates: list[tuple], ctx: _Context) -> tuple | None:
    """The one claim a CLP01 means (see the module rules), or None."""
    row = ctx.row
    assert row is not None
    live = [c for c in candidates if c[2] in MATCHABLE_STATUSES]
    if row.plan_id is not None:
        live = [c for c in live if c[3] == row.plan_id]
    if len(live) == 1:
        return live[0]
    if len(live) > 1 and row.payee_npi:
        npi = row.payee_npi
        exact = [c for c in live if ctx.orgs.get(c[4], ("", None))[0] == npi]
        if len(exact) == 1:
            return exact[0]
        related = [
            c
            for c in live
            if ctx.orgs.get(c[5], ("", None))[0] == npi
            or ctx.orgs.get(ctx.orgs.get(c[4], ("", None))[1] or 0, ("", None))[0] == npi
        ]
        if len(related) == 1:
            return related[0]
    return None


_CANDIDATE_FIELDS = (
    "id",
    "control_number",
    "status",
    "plan_id",
    "billing_provider_id",
    "submitter_id",
    "billed_amount",
    "paid_amount",
    "patient_responsibility",
    "payer_claim_number",
)


def _read_chunk(chunk: list[x835.ClaimPayment], ctx: _Context) -> _ChunkRead:
    """One claim query and one line query (array parameters) for the whole chunk. Only reads:
    choosing among the candidates is ``_build_chunk``'s."""
    numbers = list({cp.patient_control_number for cp in chunk})
    candidates: dict[str, list[tuple]] = defaultdict(list)
    claims = Claim.objects.filter(among("control_number", numbers))
    if ctx.scope is not None:
        claims = claims.filter(ctx.scope)
    for cand in claims.values_list(*_CANDIDATE_FIELDS):
        candidates[cand[1]].append(cand)
    lines: list[tuple] = []
    if candidates:
        claim_ids = [c[0] for group in candidates.values() for c in group]
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


def _build_chunk(chunk: list[x835.ClaimPayment], read: _ChunkRead, ctx: _Context) -> _ChunkWrites:
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
            chosen[number] = cand[0]
            states[cand[0]] = _ClaimState(
                id=cand[0],
                status=cand[2],
                billed=cand[6],
                paid=cand[7],
                patient_responsibility=cand[8],
                payer_claim_number=cand[9],
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
            adjustments.append(
                (
                    claim_id,
                    None,
                    rc_id,
                    a.group,
                    a.reason[:5],
                    cp.remark_codes,
                    cents[a.amount],
                    None if a.quantity is None else cents[a.quantity],
                    now,
                )
            )
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
                adjustments.append(
                    (
                        claim_id,
                        line_id,
                        rc_id,
                        a.group,
                        a.reason[:5],
                        svc.remark_codes,
                        cents[a.amount],
                        None if a.quantity is None else cents[a.quantity],
                        now,
                    )
                )
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


# --------------------------------------------------------------------------- bulk writes

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


# --------------------------------------------------------------------------- summaries and the work queue


def summarize_file(remittance: Remittance) -> ImportResult:
    """The ``ImportResult`` of a file already imported (every set that came with it)."""
    return summarize(
        list(Remittance.objects.filter(file=remittance.file.name).order_by("pk")) or [remittance]
    )


def summarize(rows: list[Remittance]) -> ImportResult:
    """The ``ImportResult`` of payments already posted, from the stored rows: importing the same
    payments again reports this and changes nothing."""
    claims = RemittanceClaim.objects.filter(remittance__in=rows)
    totals = claims.aggregate(
        matched=Count("pk", filter=Q(claim__isnull=False)),
        unmatched=Count("pk", filter=Q(claim__isnull=True)),
        paid_sum=Sum("paid"),
        charge_sum=Sum("charge"),
        denied=Count("pk", filter=~Q(status_code=REVERSAL) & (Q(status_code=DENIED) | Q(paid__lte=0))),
    )
    plb = (
        ProviderAdjustment.objects.filter(remittance__in=rows).aggregate(total=Sum("amount"))["total"] or ZERO
    )
    paid = totals["paid_sum"] or ZERO
    return ImportResult(
        remittance=rows[0],
        remittances=rows,
        claims_matched=totals["matched"],
        claims_unmatched=totals["unmatched"],
        paid_total=money(paid),
        adjustment_total=money((totals["charge_sum"] or ZERO) - paid),
        provider_adjustment_total=money(plb),
        denied_count=totals["denied"],
        already_imported=True,
        overpaid=sorted(
            set(
                claims.filter(claim__paid_amount__gt=F("claim__billed_amount")).values_list(
                    "claim__control_number", flat=True
                )
            )
        ),
    )


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


__all__ = [
    "ImportResult",
    "RemittanceImportError",
    "adjudicated_status",
    "import_remittance",
    "is_denial",
    "patient_responsibility_of",
    "resolve_unmatched",
    "summarize_file",
    "unmatched_reasons",
]
