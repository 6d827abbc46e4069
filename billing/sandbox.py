"""The plan sandbox (demo mode only): a batch answered as the demo plan would answer it.

``make run`` has no plan on the other end, so the second half of the loop — the clearinghouse's
999, the payer's 277CA, its 835 — could not be seen. In demo mode the sandbox plays the plan:

* ``enabled()`` is the one rule: the sandbox exists only while ``settings.DEBUG`` is on. Every
  entry point here (``preview``, ``answer_batch``) refuses with ``SandboxOff`` otherwise, the page
  answers 404, and the batch page shows no button.
* It reads the batch's own 837P file (``billing.x12.read837``), as the plan would, and writes real
  X12 answers with the writers in ``billing.x12``: a 999 (005010X231A1) accepting every transaction
  set of the file's group, a 277CA (005010X214) accepting every claim into adjudication with the
  plan's claim number, and an 835 (005010X221A1) per payee (the claims' billing provider), balanced
  (per line, per claim, BPR02 = Σ CLP04), with correct envelopes and control counts. Files are
  marked test (ISA15 ``T``).
* The outcome is the same every time for the same file (``outcome``): in file order, the last
  claim is denied (CO-16 with remark MA130: information missing, fix and resend), the one before it
  is paid short (the plan's fee schedule allows 90% of each line, CO-45, and the member owes a
  $5.00 co-payment, PR-3), the others are paid in full. One claim: paid; two: paid and denied.
* The answers go through the intake a real file goes through (``billing.services.acks`` and
  ``billing.services.remittances``), as the person who pressed the button: nothing in the intake
  path knows the sandbox.
* Pressing again posts nothing twice. The answers to a file are a function of that file (their
  dates come from the 837's GS04/GS05, their control numbers, trace numbers and plan claim numbers
  from its ISA13), so the same bytes come again and the intake says so: the 999 and 277CA intake
  find the file the batch already holds, the 835 intake finds the payment (payer + trace + date +
  amount) posted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError

from billing.choices import BatchFormat, BatchStatus
from billing.models import Acknowledgement, Batch
from billing.scope import PROVIDER_BILLING_ROLES
from billing.services import acks as ack_services
from billing.services import remittances as remit_services
from billing.x12 import ack999
from billing.x12 import carc as codes
from billing.x12.ack277 import ClaimVerdict, render_277ca
from billing.x12.claim837 import Address
from billing.x12.common import Envelope, X12Error, fmt_decimal
from billing.x12.read837 import Sent837, SentClaim, read_837
from billing.x12.remit835 import Adjustment, ClaimPayment, Remittance, ServicePayment
from billing.x12.remit835_writer import PayerDetails, balanced_total, render_835
from cbo_portal import access
from cbo_portal.choices import AuditAction
from cbo_portal.models import Organization
from cbo_portal.services import audit
from cbo_portal.words import count
from contracts.money import ZERO, money

# Batches a plan could be answering: written (not yet marked sent: the 999 proves it was) or sent.
ANSWERABLE_STATUSES = (
    BatchStatus.READY,
    BatchStatus.SUBMITTING,
    BatchStatus.SUBMITTED,
    BatchStatus.ACKNOWLEDGED,
)

PAID, SHORT_PAID, DENIED = "paid", "short-paid", "denied"
ALLOWED_SHARE = Decimal("0.90")  # of each line's charge, on the short-paid claim (CO-45 the rest)
COPAY = Decimal("5.00")  # PR-3 on the short-paid claim's first line
DENIAL_CARC, DENIAL_RARC = "16", "MA130"
# Minutes after the 837 was written at which each answer is dated.
AT_999, AT_277, AT_835 = 5, 20, 45


class SandboxOff(PermissionDenied):
    """The plan sandbox was asked for while demo mode (DEBUG) is off."""


def enabled() -> bool:
    """The plan sandbox exists only in demo mode (``settings.DEBUG``): the one place this is decided."""
    return bool(settings.DEBUG)


def _require_enabled() -> None:
    if not enabled():
        raise SandboxOff("The plan sandbox exists only in demo mode.")


def may_answer(user, batch: Batch) -> bool:
    """Whether ``user`` may have the sandbox answer ``batch``: the submitter's billing staff (the
    people who import the plan's answers), or a platform admin."""
    return access.is_platform_admin(user) or access.has_role(user, batch.submitter, PROVIDER_BILLING_ROLES)


def offered(user, batch: Batch) -> bool:
    """Whether the batch page offers the sandbox: demo mode, an 837P file written or sent, and a
    user who may import its answers."""
    return (
        enabled()
        and batch.format == BatchFormat.X12_837P
        and batch.status in ANSWERABLE_STATUSES
        and bool(batch.file)
        and may_answer(user, batch)
    )


# --------------------------------------------------------------------------- the plan's side


@dataclass(frozen=True)
class PlanSide:
    """What the plan's answers say about the plan: its name and payer id (N1*PR, REF*2U), address
    (N3/N4), technical contact (PER*BL) and EIN (TRN03 is 1 + EIN)."""

    name: str
    payer_id: str
    address: Address
    contact_name: str
    contact_phone: str
    ein: str


def plan_side(plan: Organization, *, payer_id: str = "") -> PlanSide:
    digits = "".join(c for c in plan.phone or "" if c.isdigit()) or "8005550100"
    tin = "".join(c for c in plan.tin or "" if c.isdigit())
    return PlanSide(
        name=plan.legal_name,
        payer_id=payer_id or plan.payer_id,
        address=Address(
            plan.service_street or "1 Plan Way",
            plan.service_city or "Sacramento",
            (plan.service_state or "CA").upper(),
            (plan.service_zip or "95814").replace("-", ""),
        ),
        contact_name="EDI support",
        contact_phone=digits[-10:],
        ein=tin if len(tin) == 9 else "951111111",
    )


def outcome(index: int, total: int) -> str:
    """What the plan decides on the ``index``-th of ``total`` claims of a file (rule above)."""
    if total >= 2 and index == total - 1:
        return DENIED
    if total >= 3 and index == total - 2:
        return SHORT_PAID
    return PAID


# --------------------------------------------------------------------------- the files


@dataclass(frozen=True)
class AnswerFile:
    """One file the plan sends back: its kind (999, 277CA or 835), name and bytes."""

    kind: str
    file_name: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _control(sent: Sent837, k: int) -> int:
    """The answers' ISA13/GS06: from the 837's ISA13, so the same file gets the same numbers."""
    return (sent.interchange_control_number % 100_000_000) * 10 + k


def payer_claim_number(sent: Sent837, index: int) -> str:
    """The plan's claim number for the ``index``-th claim of the file (277CA REF*1K, 835 CLP07)."""
    return f"SBX{sent.sender_id[-4:]}-{sent.interchange_control_number}-{index + 1}"


def _envelope(sent: Sent837, k: int, minutes: int) -> Envelope:
    """From the plan's side back to us: the 837's receiver becomes the sender."""
    return Envelope(
        sender_id=sent.receiver_id,
        receiver_id=sent.sender_id,
        interchange_control_number=_control(sent, k),
        created=sent.created + dt.timedelta(minutes=minutes),
        sender_qualifier=sent.receiver_qualifier or "ZZ",
        receiver_qualifier=sent.sender_qualifier or "ZZ",
        usage="T",
    )


def _service(line, decision: str, first: bool) -> ServicePayment:
    charge = line.charge
    if decision == DENIED:
        adjustments: tuple[Adjustment, ...] = (Adjustment("CO", DENIAL_CARC, charge),)
        return ServicePayment(
            procedure_code=line.procedure_code,
            modifiers=line.modifiers,
            charge=charge,
            paid=ZERO,
            units=line.units,
            service_date=line.service_date,
            service_date_end=line.service_date_end,
            line_control_number=line.line_control_number or None,
            adjustments=adjustments,
            remark_codes=(DENIAL_RARC,),
        )
    allowed, adjustments = charge, ()
    if decision == SHORT_PAID:
        allowed = money(charge * ALLOWED_SHARE)
        copay = min(COPAY, allowed) if first else ZERO
        adjustments = tuple(
            a for a in (Adjustment("CO", "45", charge - allowed), Adjustment("PR", "3", copay)) if a.amount
        )
    paid = charge - sum((a.amount for a in adjustments), ZERO)
    return ServicePayment(
        procedure_code=line.procedure_code,
        modifiers=line.modifiers,
        charge=charge,
        paid=paid,
        units=line.units,
        service_date=line.service_date,
        service_date_end=line.service_date_end,
        line_control_number=line.line_control_number or None,
        adjustments=adjustments,
        allowed=allowed,
    )


def claim_payment(claim: SentClaim, decision: str, number: str) -> ClaimPayment:
    """The 835's CLP loop for one claim as ``decision`` has it (paid, short-paid or denied)."""
    services = tuple(_service(line, decision, i == 0) for i, line in enumerate(claim.lines))
    charge = sum((s.charge for s in services), ZERO)
    paid = sum((s.paid for s in services), ZERO)
    member_share = sum((a.amount for s in services for a in s.adjustments if a.group == "PR"), ZERO)
    return ClaimPayment(
        patient_control_number=claim.control_number,
        status="4" if decision == DENIED else "1",
        charge=charge,
        paid=paid,
        payer_claim_number=number,
        patient_responsibility=member_share if member_share else None,
        facility_code=claim.place_of_service,
        frequency=claim.frequency,
        patient_last_name=claim.last_name,
        patient_first_name=claim.first_name,
        patient_member_id=claim.member_id,
        services=services,
    )


def answer_files(sent: Sent837, plan: PlanSide) -> list[AnswerFile]:
    """The plan's answers to ``sent``: its 999, its 277CA and one 835 per payee (rules above)."""
    name = f"plan-sandbox-{sent.sender_id}-{sent.interchange_control_number:09d}"
    request = ack999.AckRequest(
        group_control_number=sent.group_control_number, set_control_numbers=sent.set_control_numbers
    )
    files = [
        AnswerFile(
            "999",
            f"{name}.999",
            ack999.render_999(
                _envelope(sent, 1, AT_999), [request], group_control_number=_control(sent, 1)
            ).encode(),
        )
    ]
    numbers = [payer_claim_number(sent, i) for i in range(len(sent.claims))]
    verdicts = [
        ClaimVerdict(
            c.control_number,
            fmt_decimal(c.charge),
            payer_claim_number=numbers[i],
            provider_npi=c.provider_npi,
            provider_name=c.provider_name,
            patient_last_name=c.last_name,
            patient_first_name=c.first_name,
            member_id=c.member_id,
            service_date=c.first_date,
            service_date_end=c.last_date,
        )
        for i, c in enumerate(sent.claims)
    ]
    first = sent.claims[0]
    files.append(
        AnswerFile(
            "277CA",
            f"{name}.277",
            render_277ca(
                _envelope(sent, 2, AT_277),
                batch_reference=sent.batch_reference or str(sent.group_control_number),
                provider_npi=first.provider_npi,
                provider_name=first.provider_name,
                verdicts=verdicts,
                group_control_number=_control(sent, 2),
            ).encode(),
        )
    )
    payees: dict[str, list[tuple[int, SentClaim]]] = {}
    for i, c in enumerate(sent.claims):
        payees.setdefault(c.provider_npi, []).append((i, c))
    details = PayerDetails(
        address=plan.address, contact_name=plan.contact_name, contact_phone=plan.contact_phone, ein=plan.ein
    )
    total = len(sent.claims)
    for k, (npi, claims) in enumerate(payees.items(), start=3):
        env = _envelope(sent, k, AT_835)
        payments = tuple(claim_payment(c, outcome(i, total), numbers[i]) for i, c in claims)
        amount = balanced_total(payments)
        remittance = Remittance(
            handling_code="I" if amount else "H",
            total_paid=amount,
            payment_method="CHK" if amount else "NON",
            payment_date=env.created.date(),
            production_date=env.created.date(),
            trace_number=f"SBX{sent.sender_id[-4:]}-{sent.interchange_control_number}-{k - 2}",
            payer_name=plan.name,
            payer_id=sent.payer_id or plan.payer_id,
            payee_name=claims[0][1].provider_name,
            payee_npi=npi,
            claims=payments,
        )
        text = render_835(env, remittance, details, group_control_number=_control(sent, k), newline=True)
        files.append(AnswerFile("835", f"{name}-{npi}.835", text.encode()))
    return files


# --------------------------------------------------------------------------- the page's view of it


@dataclass(frozen=True)
class Decision:
    """What the plan will decide on one claim of the batch, in words."""

    control_number: str
    member: str
    charge: Decimal
    outcome: str
    paid: Decimal
    reasons: tuple[str, ...] = ()


def _sent(batch: Batch) -> Sent837:
    try:
        with batch.file.open("rb") as fh:
            text = fh.read().decode("utf-8-sig")
        return read_837(text)
    except (OSError, UnicodeDecodeError, X12Error) as exc:
        raise ValidationError(f"The sandbox could not read batch {batch.pk}'s file: {exc}") from exc


def _check(batch: Batch, acting_user) -> None:
    _require_enabled()
    if not may_answer(acting_user, batch):
        raise PermissionDenied("Only the submitter's billing staff can have the sandbox answer this batch.")
    if batch.format != BatchFormat.X12_837P:
        raise ValidationError("The plan sandbox answers 837P batches; an invoice batch gets no X12 answers.")
    if batch.status not in ANSWERABLE_STATUSES or not batch.file:
        raise ValidationError(
            f"Batch {batch.pk} is {batch.get_status_display().lower()}: the sandbox answers a batch once its "
            "file is written."
        )


def _words(group: str, carc: str, amount: Decimal) -> str:
    return f"{group}-{carc} ${amount:,.2f}: {codes.carc(carc).description}"


def preview(batch: Batch, *, acting_user) -> list[Decision]:
    """What the sandbox's 835 will decide on each claim of ``batch``, in words (the 999 and the
    277CA accept everything)."""
    _check(batch, acting_user)
    sent = _sent(batch)
    out = []
    for i, claim in enumerate(sent.claims):
        decision = outcome(i, len(sent.claims))
        cp = claim_payment(claim, decision, payer_claim_number(sent, i))
        totals: dict[tuple[str, str], Decimal] = {}
        for _service, a in cp.all_adjustments():
            totals[(a.group, a.reason)] = totals.get((a.group, a.reason), ZERO) + a.amount
        reasons = [_words(g, r, amount) for (g, r), amount in totals.items()]
        if decision == DENIED:
            reasons.append(f"Remark {DENIAL_RARC}: {codes.rarc(DENIAL_RARC).description}")
        out.append(
            Decision(
                claim.control_number,
                f"{claim.first_name} {claim.last_name}".title(),
                cp.charge,
                decision,
                cp.paid,
                tuple(reasons),
            )
        )
    return out


# --------------------------------------------------------------------------- pressing the button


@dataclass
class Delivery:
    """One answer handed to the intake: the file, what the intake made of it (an
    ``Acknowledgement`` or a remittance ``ImportResult``), and whether it had it already."""

    file: AnswerFile
    record: object
    already: bool
    summary: str


@dataclass
class SandboxRun:
    """What pressing the button did."""

    batch: Batch
    deliveries: list[Delivery] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(not d.already for d in self.deliveries)


def _ack_summary(ack: Acknowledgement) -> str:
    unit = {"999": "transaction set", "277CA": "claim"}.get(ack.kind, "item")
    return f"{ack.kind}: {count(ack.accepted_sets, unit)} accepted, {ack.rejected_sets} rejected."


def answer_batch(batch: Batch, *, acting_user) -> SandboxRun:
    """Answer ``batch`` as the plan would (module docstring): write its 999, 277CA and 835s and
    import each through the intake as ``acting_user``. Safe to press again."""
    batch = Batch.objects.select_related("plan", "submitter").get(pk=batch.pk)
    _check(batch, acting_user)
    sent = _sent(batch)
    files = answer_files(sent, plan_side(batch.plan, payer_id=sent.payer_id))
    run = SandboxRun(batch)
    for f in files:
        if f.kind in ("999", "277CA"):
            ack = ack_services.import_ack(f.data, file_name=f.file_name, acting_user=acting_user)
            already = ack.already_imported  # type: ignore[attr-defined]
            run.deliveries.append(Delivery(f, ack, already, _ack_summary(ack)))
        else:
            result = remit_services.import_remittance(f.data, file_name=f.file_name, acting_user=acting_user)
            summary = (
                f"835: ${result.paid_total:,.2f} paid; {count(result.claims_matched, 'claim')} matched, "
                f"{result.denied_count} denied."
            )
            run.deliveries.append(Delivery(f, result, result.already_imported, summary))
    if run.changed:
        audit.record(
            actor=acting_user,
            action=AuditAction.CREATE,
            obj=batch,
            organization=batch.submitter,
            summary=f"Answered batch {batch.pk} in the plan sandbox (demo mode): "
            + " ".join(d.summary for d in run.deliveries if not d.already),
            changes={"files": [d.file.file_name for d in run.deliveries if not d.already]},
        )
    return run
