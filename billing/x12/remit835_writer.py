"""Write 835 (005010X221A1) files from the ``billing.x12.remit835`` dataclasses.

Used to make realistic test and benchmark files (and, one day, to simulate a plan). Rules:

* GS01 ``HP``, GS08 ``005010X221A1``; ``ST*835*<control>`` with ST03 left out (the 5010 835 map
  marks it not used).
* BPR*<handling>*<total>*<C|D>*<method>, BPR05-15 only for ACH (``AchDetails``), BPR16 date.
  TRN*1*<trace>*<originator: 1 + payer EIN>. DTM*405 production date when given.
* 1000A: N1*PR, N3, N4 (required by the guide), REF*2U payer id, PER*BL technical contact (required).
  1000B: N1*PE*<name>*XX*<NPI>, REF*TJ TIN when given.
* One LX*1 header number, then per claim CLP, CAS (≤ 6 triplets per segment, more segments as
  needed, one group code per segment), NM1*QC patient, then per line SVC, DTM*472 (or 150/151),
  CAS, REF*6R, AMT*B6, LQ*HE.
* PLB*<provider id>*<fiscal period date>*<reason:reference>*<amount>... with ≤ 6 pairs per segment.
* Balance is checked before anything is written for the claims and lines, and at the end for BPR02
  (``check_balance=False`` writes deliberately unbalanced files for tests).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import IO

from billing.x12.claim837 import Address
from billing.x12.common import (
    Envelope,
    X12InputError,
    check_id,
    clean_text,
    fmt_date,
    fmt_decimal,
    gs_segment,
)
from billing.x12.remit835 import (
    MAX_CAS_TRIPLETS,
    MAX_PLB_PAIRS,
    VERSION,
    ZERO,
    Adjustment,
    ClaimPayment,
    ProviderAdjustment,
    Remittance,
    ServicePayment,
)


@dataclass(frozen=True)
class AchDetails:
    """BPR05-BPR15 for an ACH payment: sender and receiver bank routing/account numbers and the
    originating company id (BPR10, usually 1 + the payer's EIN)."""

    sender_routing: str
    sender_account: str
    receiver_routing: str
    receiver_account: str
    originator_company_id: str


@dataclass(frozen=True)
class PayerDetails:
    """What the 835 header needs about the payer beyond ``Remittance``: its address (1000A N3/N4),
    technical contact (PER*BL) and EIN (TRN03 = 1 + EIN when ``Remittance.originator_id`` is empty)."""

    address: Address
    contact_name: str
    contact_phone: str
    ein: str = "951111111"


def balanced_total(
    claims: Iterable[ClaimPayment], provider_adjustments: Iterable[ProviderAdjustment] = ()
) -> Decimal:
    """BPR02 that balances: Σ CLP04 − Σ PLB amounts."""
    return sum((c.paid for c in claims), ZERO) - sum((p.amount for p in provider_adjustments), ZERO)


def _cas_segments(adjustments: Iterable[Adjustment]) -> list[str]:
    """CAS segments, one per group code (in first-seen order), at most six triplets each."""
    by_group: dict[str, list[Adjustment]] = {}
    for adjustment in adjustments:
        by_group.setdefault(adjustment.group, []).append(adjustment)
    out: list[str] = []
    for group, items in by_group.items():
        for start in range(0, len(items), MAX_CAS_TRIPLETS):
            parts = [f"CAS*{group}"]
            for a in items[start : start + MAX_CAS_TRIPLETS]:
                parts.append(
                    f"{a.reason}*{fmt_decimal(a.amount)}*{'' if a.quantity is None else fmt_decimal(a.quantity)}"
                )
            out.append("*".join(parts).rstrip("*"))
    return out


def _service_segments(service: ServicePayment, check_balance: bool, claim_id: str) -> list[str]:
    if check_balance and service.charge - service.paid != service.adjustment_total:
        raise X12InputError(f"claim {claim_id} line {service.line_control_number}: SVC02 − SVC03 ≠ Σ CAS")
    composite = ":".join((service.qualifier, service.procedure_code, *service.modifiers))
    units = "" if service.units == 1 else fmt_decimal(service.units)
    svc = f"SVC*{composite}*{fmt_decimal(service.charge)}*{fmt_decimal(service.paid)}**{units}".rstrip("*")
    out = [svc]
    if service.service_date is not None:
        if service.service_date_end is not None and service.service_date_end != service.service_date:
            out.append(f"DTM*150*{fmt_date(service.service_date)}")
            out.append(f"DTM*151*{fmt_date(service.service_date_end)}")
        else:
            out.append(f"DTM*472*{fmt_date(service.service_date)}")
    out.extend(_cas_segments(service.adjustments))
    if service.line_control_number:
        out.append(f"REF*6R*{check_id(service.line_control_number, 'line control number', max_length=50)}")
    if service.allowed is not None:
        out.append(f"AMT*B6*{fmt_decimal(service.allowed)}")
    out.extend(f"LQ*HE*{code}" for code in service.remark_codes)
    return out


def claim_segments(claim: ClaimPayment, *, check_balance: bool = True) -> list[str]:
    """The 2100 loop (and its 2110 lines) for one claim payment."""
    control = check_id(claim.patient_control_number, "CLP01 patient control number", max_length=38)
    if check_balance and claim.charge - claim.paid != claim.adjustment_total:
        raise X12InputError(
            f"claim {control}: CLP03 {claim.charge} − CLP04 {claim.paid} ≠ Σ CAS {claim.adjustment_total}"
        )
    if not claim.payer_claim_number:
        raise X12InputError(f"claim {control}: CLP07 payer claim number is required")
    patient_resp = "" if claim.patient_responsibility is None else fmt_decimal(claim.patient_responsibility)
    clp = (
        f"CLP*{control}*{claim.status}*{fmt_decimal(claim.charge)}*{fmt_decimal(claim.paid)}*{patient_resp}"
        f"*{claim.filing_indicator}*{claim.payer_claim_number}*{claim.facility_code}*{claim.frequency}"
    ).rstrip("*")
    out = [clp, *_cas_segments(claim.adjustments)]
    last = clean_text(claim.patient_last_name, 60) or "UNKNOWN"
    first = clean_text(claim.patient_first_name, 35)
    if claim.patient_member_id:
        out.append(f"NM1*QC*1*{last}*{first}****MI*{claim.patient_member_id}")
    else:
        out.append(f"NM1*QC*1*{last}*{first}".rstrip("*"))
    if claim.remark_codes:
        out.append("MOA***" + "*".join(claim.remark_codes[:5]))
    for service in claim.services:
        out.extend(_service_segments(service, check_balance, control))
    return out


def _plb_segments(
    adjustments: Iterable[ProviderAdjustment], default_provider: str, default_date: dt.date
) -> list[str]:
    by_key: dict[tuple[str, dt.date], list[ProviderAdjustment]] = {}
    for p in adjustments:
        by_key.setdefault(
            (p.provider_id or default_provider, p.fiscal_period_date or default_date), []
        ).append(p)
    out: list[str] = []
    for (provider, fiscal), items in by_key.items():
        for start in range(0, len(items), MAX_PLB_PAIRS):
            pairs = "*".join(
                f"{p.reason}:{p.reference}*{fmt_decimal(p.amount)}"
                if p.reference
                else f"{p.reason}*{fmt_decimal(p.amount)}"
                for p in items[start : start + MAX_PLB_PAIRS]
            )
            out.append(f"PLB*{provider}*{fmt_date(fiscal)}*{pairs}")
    return out


def iter_835_text(
    envelope: Envelope,
    remittance: Remittance,
    payer: PayerDetails,
    *,
    claims: Iterable[ClaimPayment] | None = None,
    group_control_number: int = 1,
    set_control_number: str = "0001",
    ach: AchDetails | None = None,
    check_balance: bool = True,
    newline: bool = False,
) -> Iterator[str]:
    """Yield an 835 interchange (one GS, one ST) in chunks of whole segments.

    ``claims`` overrides ``remittance.claims`` (pass a generator to write 100,000 claims in bounded
    memory). Raises ``X12InputError`` when amounts do not balance (unless ``check_balance=False``).
    """
    term = "~\n" if newline else "~"

    def emit(segments: list[str]) -> str:
        return term.join(segments) + term

    r = remittance
    yield emit(
        [
            envelope.isa(),
            gs_segment(
                "HP",
                envelope.sender_id,
                envelope.receiver_id,
                envelope.created,
                group_control_number,
                VERSION,
            ),
        ]
    )
    if r.payment_method == "ACH":
        if ach is None:
            raise X12InputError("an ACH payment needs AchDetails (BPR05-BPR15)")
        bpr_bank = (
            f"CCP*01*{ach.sender_routing}*DA*{ach.sender_account}*{ach.originator_company_id}**01*"
            f"{ach.receiver_routing}*DA*{ach.receiver_account}"
        )
    else:
        bpr_bank = "*" * 10
    originator = r.originator_id or "1" + payer.ein
    header = [
        f"ST*835*{set_control_number}",
        f"BPR*{r.handling_code}*{fmt_decimal(r.total_paid)}*{r.credit_debit}*{r.payment_method}*{bpr_bank}*{fmt_date(r.payment_date)}",
        f"TRN*1*{check_id(r.trace_number, 'TRN02 trace number', max_length=50)}*{originator}",
    ]
    if r.production_date is not None:
        header.append(f"DTM*405*{fmt_date(r.production_date)}")
    address = payer.address
    header += [
        f"N1*PR*{clean_text(r.payer_name, 60)}",
        f"N3*{clean_text(address.line1, 55)}",
        f"N4*{clean_text(address.city, 30)}*{address.state}*{address.postal_code.replace('-', '')}",
    ]
    if r.payer_id:
        header.append(f"REF*2U*{r.payer_id}")
    header.append(f"PER*BL*{clean_text(payer.contact_name, 60)}*TE*{payer.contact_phone}")
    header.append(
        f"N1*PE*{clean_text(r.payee_name, 60)}*XX*{check_id(r.payee_npi, 'payee NPI', min_length=10, max_length=10)}"
    )
    if r.payee_tin:
        header.append(f"REF*TJ*{r.payee_tin}")
    count = len(header)
    paid = ZERO
    first = True
    for claim in r.claims if claims is None else claims:
        segs = claim_segments(claim, check_balance=check_balance)
        if first:
            segs.insert(0, "LX*1")
            first = False
        paid += claim.paid
        count += len(segs)
        header.extend(segs)
        yield emit(header)
        header = []
    plb = _plb_segments(r.provider_adjustments, r.payee_npi, dt.date(r.payment_date.year, 12, 31))
    if check_balance:
        expected = paid - sum((p.amount for p in r.provider_adjustments), ZERO)
        if expected != r.total_paid:
            raise X12InputError(f"BPR02 {r.total_paid} ≠ Σ CLP04 {paid} − Σ PLB = {expected}")
    tail = [*header, *plb]
    count += len(plb) + 1
    tail += [f"SE*{count}*{set_control_number}", f"GE*1*{group_control_number}", envelope.iea(1)]
    yield emit(tail)


def write_835(
    out: IO[str], envelope: Envelope, remittance: Remittance, payer: PayerDetails, **options: object
) -> None:
    """Write an 835 to a text file object (options as for ``iter_835_text``)."""
    for chunk in iter_835_text(envelope, remittance, payer, **options):  # type: ignore[arg-type]
        out.write(chunk)


def render_835(envelope: Envelope, remittance: Remittance, payer: PayerDetails, **options: object) -> str:
    """An 835 as one string (options as for ``iter_835_text``)."""
    return "".join(iter_835_text(envelope, remittance, payer, **options))  # type: ignore[arg-type]
