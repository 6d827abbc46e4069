"""X12 835 health care claim payment/advice (005010X221A1): dataclasses and a streaming parser.

Rules the parser applies:

* Delimiters are read from the ISA; anything that does not start with a well-formed ISA, or segments
  in an order the 835 does not allow (a CLP before the BPR, an SVC before any CLP, ...), raise
  ``X12ParseError`` naming the segment number (1-based in the file, ISA = 1) and what is wrong.
* One ``Remittance`` per ST/SE. Header: BPR01 handling code, BPR02 total paid, BPR03 credit/debit,
  BPR04 method (ACH, CHK, NON, ...), BPR16 payment date, TRN02 trace number (check or EFT number),
  N1*PR payer (REF*2U payer id, else N104), N1*PE payee (N104 NPI when N103 = XX).
* ``ClaimPayment`` per CLP: CLP01 our patient control number (= CLM01), CLP02 status (1/2/3
  processed, 4 denied, 22 reversal, ...), CLP03 charge, CLP04 paid, CLP05 patient responsibility,
  CLP07 payer claim number, claim-level CAS, NM1*QC patient, services.
* ``ServicePayment`` per SVC: SVC01 qualifier:code:modifiers, SVC02 charge, SVC03 paid, SVC05 units
  (1 when absent, as the guide says), DTM*472 (or 150/151) dates, CAS, REF*6R line control number,
  AMT*B6 allowed amount, LQ*HE remark codes (RARC).
* ``Adjustment`` is one CAS triplet (group, CARC, amount, quantity); a CAS segment carries up to six.
  ``ProviderAdjustment`` is one PLB reason/reference/amount pair; a PLB segment carries up to six.
  A positive PLB amount reduces the payment (WO recoupment), a negative one increases it (L6 interest).
* Balancing (``check_balance=True``, the default), checked as each piece completes:
  per line SVC02 − SVC03 = Σ line CAS; per claim CLP03 − CLP04 = Σ claim CAS + Σ line CAS;
  per remittance BPR02 = Σ CLP04 − Σ PLB amounts. A mismatch raises ``RemittanceBalanceError``
  listing the numbers that disagree.
* Reversals (CLP02 = 22, negative amounts) are ordinary data; a reversal followed by a new CLP for
  the same CLP01 is a re-adjudication, which the caller applies in file order.
* SE01 must count the segments of its set, GE01 the sets, IEA01 the groups.
* Streaming: ``iter_835`` yields a ``RemittanceStart``, each ``ClaimPayment`` as soon as it is
  complete and a ``RemittanceEnd`` (with the PLB adjustments), so a 100,000-claim file is read in
  bounded memory. The BPR02 balance can only be checked at the end of a set: a caller that stores
  claims as they come must do it in a transaction it can roll back. ``parse_835`` collects
  everything into ``Remittance`` objects for small files.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import IO

from billing.x12.common import (
    Segment,
    SegmentReader,
    X12ParseError,
    parse_date,
    parse_decimal,
    x12_version_name,
)

VERSION = "005010X221A1"
ZERO = Decimal(0)
CLAIM_STATUSES = frozenset({"1", "2", "3", "4", "19", "20", "21", "22", "23", "25"})
ADJUSTMENT_GROUPS = frozenset({"CO", "OA", "PI", "PR"})
MAX_CAS_TRIPLETS = 6
MAX_PLB_PAIRS = 6


class RemittanceBalanceError(X12ParseError):
    """An 835 whose amounts do not add up. ``kind`` is ``payment`` (BPR02), ``claim`` or ``line``;
    ``expected`` and ``actual`` are the two sides that disagree."""

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        expected: Decimal,
        actual: Decimal,
        segment_number: int | None = None,
        segment_id: str | None = None,
    ) -> None:
        self.kind = kind
        self.expected = expected
        self.actual = actual
        super().__init__(message, segment_number=segment_number, segment_id=segment_id)


@dataclass(frozen=True)
class Adjustment:
    """One CAS triplet: group code (CO contractual, OA other, PI payer initiated, PR patient
    responsibility), CARC reason code, amount (positive reduces the payment) and optional quantity."""

    group: str
    reason: str
    amount: Decimal
    quantity: Decimal | None = None


@dataclass(frozen=True)
class ProviderAdjustment:
    """One PLB adjustment pair: reason code (WO, L6, FB, ...), reference (PLB03-2, e.g. the claim
    recouped), amount (positive reduces the payment, negative increases it), and the PLB01 provider
    id / PLB02 fiscal period date of the segment it came from."""

    reason: str
    reference: str
    amount: Decimal
    provider_id: str = ""
    fiscal_period_date: dt.date | None = None


@dataclass(frozen=True)
class ServicePayment:
    """One SVC loop (2110): what the payer did with one of our service lines."""

    procedure_code: str
    charge: Decimal
    paid: Decimal
    modifiers: tuple[str, ...] = ()
    units: Decimal = Decimal(1)
    qualifier: str = "HC"
    service_date: dt.date | None = None
    service_date_end: dt.date | None = None
    line_control_number: str | None = None
    adjustments: tuple[Adjustment, ...] = ()
    allowed: Decimal | None = None
    remark_codes: tuple[str, ...] = ()

    @property
    def adjustment_total(self) -> Decimal:
        """Σ of the line's CAS amounts."""
        return sum((a.amount for a in self.adjustments), ZERO)


@dataclass(frozen=True)
class ClaimPayment:
    """One CLP loop (2100): the payer's decision on one of our claims."""

    patient_control_number: str
    status: str
    charge: Decimal
    paid: Decimal
    payer_claim_number: str
    patient_responsibility: Decimal | None = None
    filing_indicator: str = "MC"
    facility_code: str = ""
    frequency: str = ""
    patient_last_name: str = ""
    patient_first_name: str = ""
    patient_member_id: str = ""
    adjustments: tuple[Adjustment, ...] = ()
    services: tuple[ServicePayment, ...] = ()
    remark_codes: tuple[str, ...] = ()  # MOA remark codes, when present

    @property
    def is_reversal(self) -> bool:
        """CLP02 22: this CLP takes back an earlier payment (amounts are negative)."""
        return self.status == "22"

    @property
    def is_denied(self) -> bool:
        """CLP02 4: the claim was denied."""
        return self.status == "4"

    @property
    def adjustment_total(self) -> Decimal:
        """Σ of claim-level and line-level CAS amounts (= CLP03 − CLP04 in a balanced file)."""
        return sum((a.amount for a in self.adjustments), ZERO) + sum(
            (s.adjustment_total for s in self.services), ZERO
        )

    def all_adjustments(self) -> Iterator[tuple[ServicePayment | None, Adjustment]]:
        """Every adjustment with the line it belongs to (None for claim level)."""
        for adjustment in self.adjustments:
            yield None, adjustment
        for service in self.services:
            for adjustment in service.adjustments:
                yield service, adjustment


@dataclass(frozen=True)
class Remittance:
    """One 835 transaction set: a payment (or notice) from one payer to one payee."""

    handling_code: str
    total_paid: Decimal
    payment_method: str
    payment_date: dt.date
    trace_number: str
    payer_name: str
    payee_name: str
    payer_id: str = ""
    payee_npi: str = ""
    payee_tin: str = ""
    credit_debit: str = "C"
    originator_id: str = ""
    production_date: dt.date | None = None
    set_control_number: str = ""
    interchange_control_number: str = ""
    claims: tuple[ClaimPayment, ...] = ()
    provider_adjustments: tuple[ProviderAdjustment, ...] = ()

    @property
    def provider_adjustment_total(self) -> Decimal:
        """Σ PLB amounts (positive = money withheld)."""
        return sum((p.amount for p in self.provider_adjustments), ZERO)

    @property
    def payment_key(self) -> str:
        """This payment's identity (``payment_key``)."""
        return payment_key(
            payer_id=self.payer_id,
            originator_id=self.originator_id,
            payer_name=self.payer_name,
            trace_number=self.trace_number,
            payment_date=self.payment_date,
            total_paid=self.total_paid,
        )


def payment_key(
    *,
    payer_id: str,
    originator_id: str,
    payer_name: str,
    trace_number: str,
    payment_date: dt.date | None,
    total_paid: Decimal,
) -> str:
    """What makes a payment the same payment whatever envelope it comes in: the payer (its payer
    id, else TRN03 the originating company, else its name), TRN02 the check or EFT trace number,
    BPR16 the date and BPR02 the amount, hashed to 64 hex characters. ISA/GS control numbers,
    delimiters and line breaks play no part."""
    payer = (payer_id or originator_id or payer_name).strip().upper()
    amount = f"{Decimal(total_paid).quantize(Decimal('0.01'))}"
    day = payment_date.isoformat() if payment_date else ""
    text = "\x1f".join((payer, trace_number.strip().upper(), day, amount))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class RemittanceStart:
    """Streaming event: a set's header has been read (``remittance.claims`` is empty)."""

    remittance: Remittance


@dataclass(frozen=True)
class RemittanceEnd:
    """Streaming event: a set is complete. ``remittance`` has the header and PLB adjustments but
    no claims (they were yielded one by one); ``claim_count`` and ``claims_paid`` summarize them."""

    remittance: Remittance
    claim_count: int
    claims_paid: Decimal


Event835 = RemittanceStart | ClaimPayment | RemittanceEnd


# --------------------------------------------------------------------------- parser


_WIDTH = 21  # CAS has 19 elements, the widest we read; shorter segments are padded with ""
_PAD = [""] * _WIDTH


class _Parser:
    def __init__(self, source: str | IO[str], check_balance: bool) -> None:
        self.reader = SegmentReader(source)
        self.check_balance = check_balance
        self.n = 0
        self.tag = ""
        self.width = 0

    # -- helpers
    def error(self, message: str) -> X12ParseError:
        return X12ParseError(message, segment_number=self.n, segment_id=self.tag)

    def dec(self, seg: Segment, index: int, what: str, *, required: bool = True) -> Decimal | None:
        text = seg[index]
        if not text:
            if required:
                raise self.error(f"{what} ({seg[0]}{index:02d}) is missing")
            return None
        try:
            value = Decimal(text)
        except ArithmeticError:
            value = None
        if value is None or not value.is_finite():
            return parse_decimal(
                text, segment_number=self.n, segment_id=self.tag, what=f"{what} ({seg[0]}{index:02d})"
            )
        return value

    def date(self, text: str, what: str) -> dt.date:
        return parse_date(text, segment_number=self.n, segment_id=self.tag, what=what)

    def cas(self, seg: Segment) -> list[Adjustment]:
        group = seg[1]
        if group not in ADJUSTMENT_GROUPS:
            raise self.error(f"CAS01 adjustment group {group!r} is not CO, OA, PI or PR")
        out: list[Adjustment] = []
        for k in range(MAX_CAS_TRIPLETS):
            base = 2 + 3 * k
            reason = seg[base]
            amount_text = seg[base + 1]
            if not reason and not amount_text:
                continue
            if not reason or not amount_text:
                raise self.error(
                    f"CAS{base:02d}/CAS{base + 1:02d}: an adjustment needs both a reason code and an amount"
                )
            amount = self.dec(seg, base + 1, "adjustment amount")
            quantity = self.dec(seg, base + 2, "adjustment quantity", required=False)
            assert amount is not None
            out.append(Adjustment(group, reason, amount, quantity))
        if not out:
            raise self.error("CAS segment without any adjustment")
        if self.width > 20:
            raise self.error("a CAS segment carries at most six adjustments")
        return out

    # -- the state machine
    def events(self) -> Iterator[Event835]:
        state = "start"  # start, interchange, group, header, payer, payee, detail, claim, service, trailer
        header: dict[str, object] = {}
        claim: dict[str, object] | None = None
        claim_cas: list[Adjustment] = []
        services: list[ServicePayment] = []
        service: dict[str, object] | None = None
        service_cas: list[Adjustment] = []
        service_rarc: list[str] = []
        plbs: list[ProviderAdjustment] = []
        isa13 = ""
        gs06 = ""
        group_count = set_count = 0
        st_start = 0
        st02 = ""
        claim_count = 0
        claims_paid = ZERO
        component = ":"
        repetition = ""
        claim_at = service_at = 0
        services_adjusted = ZERO

        def finish_service() -> None:
            nonlocal service, service_cas, service_rarc, services_adjusted
            if service is None:
                return
            sp = ServicePayment(adjustments=tuple(service_cas), remark_codes=tuple(service_rarc), **service)  # type: ignore[arg-type]
            line_adjusted = ZERO
            for adjustment in service_cas:
                line_adjusted += adjustment.amount
            services_adjusted += line_adjusted
            if self.check_balance and sp.charge - sp.paid != line_adjusted:
                line = sp.line_control_number or sp.procedure_code
                raise RemittanceBalanceError(
                    f"service line {line} of claim {claim['patient_control_number'] if claim else '?'} does not "
                    f"balance: SVC02 charge {sp.charge} − SVC03 paid {sp.paid} = {sp.charge - sp.paid}, but its "
                    f"CAS adjustments total {sp.adjustment_total}",
                    kind="line",
                    expected=sp.charge - sp.paid,
                    actual=sp.adjustment_total,
                    segment_number=service_at,
                    segment_id="SVC",
                )
            services.append(sp)
            service = None
            service_cas = []
            service_rarc = []

        def finish_claim() -> ClaimPayment | None:
            nonlocal claim, claim_cas, services, claim_count, claims_paid, services_adjusted
            finish_service()
            if claim is None:
                return None
            if not claim.get("_has_patient"):
                raise X12ParseError(
                    f"claim {claim['patient_control_number']} has no NM1*QC patient name segment",
                    segment_number=claim_at,
                    segment_id="CLP",
                )
            claim.pop("_has_patient")
            cp = ClaimPayment(adjustments=tuple(claim_cas), services=tuple(services), **claim)  # type: ignore[arg-type]
            if self.check_balance:
                expected = cp.charge - cp.paid
                claim_level = ZERO
                for adjustment in claim_cas:
                    claim_level += adjustment.amount
                actual = claim_level + services_adjusted
                if expected != actual:
                    raise RemittanceBalanceError(
                        f"claim {cp.patient_control_number} does not balance: CLP03 charge {cp.charge} − CLP04 "
                        f"paid {cp.paid} = {expected}, but its CAS adjustments total {actual} (claim level "
                        f"{claim_level} + line level {actual - claim_level})",
                        kind="claim",
                        expected=expected,
                        actual=actual,
                        segment_number=claim_at,
                        segment_id="CLP",
                    )
            claim = None
            claim_cas = []
            services = []
            services_adjusted = ZERO
            claim_count += 1
            claims_paid += cp.paid
            return cp

        pad = _PAD
        for seg in self.reader:
            self.n = self.reader.count
            tag = self.tag = seg[0]
            width = self.width = len(seg)
            if width < _WIDTH:
                seg.extend(pad[width:])  # elements past the end read as "" (X12 drops trailing empties)
            # The claim loop's segments come first: they are nearly all of a file. No branch below
            # matches their (tag, state) pairs, so the order does not change what any segment means.
            if tag == "CLP":
                if state == "payee":
                    yield RemittanceStart(self._remittance(header))  # LX is optional in practice
                elif state not in ("detail", "claim", "service"):
                    raise self.error("CLP outside the claim detail (before the payee or after PLB)")
                cp = finish_claim()
                if cp is not None:
                    yield cp
                claim_at = self.n
                status = seg[2]
                if not seg[1]:
                    raise self.error("CLP01 patient control number is missing")
                if status not in CLAIM_STATUSES:
                    raise self.error(f"CLP02 claim status {status!r} is not a known status code")
                claim = {
                    "patient_control_number": seg[1],
                    "status": status,
                    "charge": self.dec(seg, 3, "claim charge"),
                    "paid": self.dec(seg, 4, "claim paid amount"),
                    "patient_responsibility": self.dec(seg, 5, "patient responsibility", required=False),
                    "filing_indicator": seg[6],
                    "payer_claim_number": seg[7],
                    "facility_code": seg[8],
                    "frequency": seg[9],
                    "_has_patient": False,
                }
                state = "claim"
            elif tag == "CAS" and state in ("claim", "service"):
                if state == "claim":
                    claim_cas.extend(self.cas(seg))
                else:
                    service_cas.extend(self.cas(seg))
            elif tag == "NM1" and state == "claim":
                assert claim is not None
                if seg[1] == "QC":
                    claim.update(
                        patient_last_name=seg[3],
                        patient_first_name=seg[4],
                        patient_member_id=seg[9],
                        _has_patient=True,
                    )
            elif tag == "MOA" and state == "claim":
                assert claim is not None
                claim["remark_codes"] = tuple(c for c in seg[3:8] if c)
            elif tag in ("MIA", "REF", "DTM", "PER", "AMT", "QTY") and state == "claim":
                pass
            elif tag == "SVC":
                if state not in ("claim", "service"):
                    raise self.error("SVC outside a claim (no CLP before it)")
                finish_service()
                service_at = self.n
                composite = seg[1].split(component)
                if len(composite) < 2 or not composite[1]:
                    raise self.error(f"SVC01 {seg[1]!r} must be qualifier{component}procedure code")
                units = self.dec(seg, 5, "units paid", required=False)
                service = {
                    "qualifier": composite[0],
                    "procedure_code": composite[1],
                    "modifiers": tuple(m for m in composite[2:6] if m),
                    "charge": self.dec(seg, 2, "line charge"),
                    "paid": self.dec(seg, 3, "line paid amount"),
                    "units": Decimal(1) if units is None else units,
                }
                state = "service"
            elif state == "service" and tag == "DTM":
                assert service is not None
                qualifier = seg[1]
                if qualifier in ("472", "150"):
                    service["service_date"] = self.date(seg[2], f"DTM*{qualifier} service date")
                elif qualifier == "151":
                    service["service_date_end"] = self.date(seg[2], "DTM*151 service end date")
            elif state == "service" and tag == "REF":
                assert service is not None
                if seg[1] == "6R":
                    service["line_control_number"] = seg[2]
            elif state == "service" and tag == "AMT":
                assert service is not None
                if seg[1] == "B6":
                    service["allowed"] = self.dec(seg, 2, "allowed amount")
            elif state == "service" and tag == "LQ":
                if seg[1] == "HE" and seg[2]:
                    service_rarc.append(seg[2])
            elif state == "service" and tag == "QTY":
                pass
            elif tag == "ISA":
                if state not in ("start",):
                    raise self.error("a second ISA before the IEA of the first interchange")
                delimiters = self.reader.delimiters
                assert delimiters is not None
                component, repetition = delimiters.component, delimiters.repetition
                if seg[12] != "00501":
                    raise self.error(
                        f"this is {x12_version_name(seg[12])} (ISA12 {seg[12]!r}); we read {VERSION} "
                        "(ask the payer for its 5010 835)"
                    )
                isa13 = seg[13]
                group_count = 0
                state = "interchange"
            elif tag == "GS":
                if state != "interchange":
                    raise self.error("GS outside an interchange")
                if seg[1] != "HP":
                    raise self.error(f"GS01 {seg[1]!r} is not HP: this is not an 835 payment advice")
                if not seg[8].startswith("005010X221"):
                    raise self.error(f"this is {seg[8] or 'an unnamed version'} (GS08); we read {VERSION}")
                gs06 = seg[6]
                group_count += 1
                set_count = 0
                state = "group"
            elif tag == "ST":
                if state != "group":
                    raise self.error("ST outside a functional group (or before the previous SE)")
                if seg[1] != "835":
                    raise self.error(f"ST01 {seg[1]!r} is not 835")
                st02 = seg[2]
                st_start = self.n
                set_count += 1
                header = {"set_control_number": st02, "interchange_control_number": isa13}
                plbs = []
                claim_count = 0
                claims_paid = ZERO
                state = "header"
            elif tag == "BPR":
                if state != "header" or "handling_code" in header:
                    raise self.error("BPR must come right after ST, once")
                total = self.dec(seg, 2, "total paid")
                if seg[3] not in ("C", "D"):
                    raise self.error(f"BPR03 credit/debit flag {seg[3]!r} is not C or D")
                header.update(
                    handling_code=seg[1],
                    total_paid=total,
                    credit_debit=seg[3],
                    payment_method=seg[4],
                    payment_date=self.date(seg[16], "BPR16 payment date"),
                )
                if not header["handling_code"]:
                    raise self.error("BPR01 handling code is missing")
            elif tag == "TRN":
                if state != "header":
                    raise self.error("TRN outside the 835 header")
                if not seg[2]:
                    raise self.error("TRN02 trace number is missing")
                header.update(trace_number=seg[2], originator_id=seg[3])
            elif tag == "DTM" and state == "header":
                if seg[1] == "405":
                    header["production_date"] = self.date(seg[2], "DTM*405 production date")
            elif tag in ("CUR", "REF") and state == "header":
                pass
            elif tag == "N1" and state in ("header", "payer", "payee"):
                if "handling_code" not in header or "trace_number" not in header:
                    raise self.error("N1 before the BPR and TRN segments")
                qualifier = seg[1]
                if qualifier == "PR":
                    header["payer_name"] = seg[2]
                    if seg[4]:
                        header.setdefault("payer_id", seg[4])
                    state = "payer"
                elif qualifier == "PE":
                    if state != "payer":
                        raise self.error("the payee (N1*PE) must follow the payer (N1*PR)")
                    header["payee_name"] = seg[2]
                    if seg[3] == "XX":
                        header["payee_npi"] = seg[4]
                    elif seg[3] == "FI":
                        header["payee_tin"] = seg[4]
                    state = "payee"
                else:
                    raise self.error(f"N1 qualifier {qualifier!r} is neither PR (payer) nor PE (payee)")
            elif state in ("payer", "payee") and tag in ("N2", "N3", "N4", "PER", "RDM", "REF"):
                if tag == "REF" and state == "payer" and seg[1] == "2U":
                    header["payer_id"] = seg[2]
                elif tag == "REF" and state == "payee" and seg[1] == "TJ":
                    header["payee_tin"] = seg[2]
            elif tag == "LX":
                if state not in ("payee", "detail", "claim", "service"):
                    raise self.error("LX before the payer and payee (N1*PR, N1*PE)")
                cp = finish_claim()
                if cp is not None:
                    yield cp
                if state == "payee":
                    yield RemittanceStart(self._remittance(header))
                state = "detail"
            elif tag in ("TS3", "TS2") and state == "detail":
                pass
            elif tag == "PLB":
                if state not in ("payee", "detail", "claim", "service", "trailer"):
                    raise self.error("PLB outside an 835 transaction set")
                if state == "payee":
                    yield RemittanceStart(self._remittance(header))
                cp = finish_claim()
                if cp is not None:
                    yield cp
                plbs.extend(self._plb(seg, component))
                state = "trailer"
            elif tag == "SE":
                if state not in ("payee", "detail", "claim", "service", "trailer"):
                    raise self.error("SE before the 835 header is complete (BPR, TRN, N1*PR, N1*PE)")
                if state == "payee":
                    yield RemittanceStart(self._remittance(header))
                cp = finish_claim()
                if cp is not None:
                    yield cp
                count = self.n - st_start + 1
                if seg[1] != str(count):
                    raise self.error(f"SE01 says {seg[1]!r} segments but the transaction set has {count}")
                if seg[2] != st02:
                    raise self.error(f"SE02 {seg[2]!r} does not match ST02 {st02!r}")
                remittance = dataclasses.replace(self._remittance(header), provider_adjustments=tuple(plbs))
                if self.check_balance:
                    plb_total = remittance.provider_adjustment_total
                    expected = claims_paid - plb_total
                    if remittance.total_paid != expected:
                        raise RemittanceBalanceError(
                            f"the payment does not balance: BPR02 total paid is {remittance.total_paid}, but "
                            f"Σ CLP04 claim payments {claims_paid} − Σ PLB provider adjustments {plb_total} = "
                            f"{expected} (difference {remittance.total_paid - expected})",
                            kind="payment",
                            expected=expected,
                            actual=remittance.total_paid,
                            segment_number=self.n,
                            segment_id="SE",
                        )
                yield RemittanceEnd(remittance, claim_count, claims_paid)
                state = "group"
            elif tag == "GE":
                if state != "group":
                    raise self.error("GE before the SE of the last transaction set")
                if seg[1] != str(set_count):
                    raise self.error(f"GE01 says {seg[1]!r} transaction sets but the group has {set_count}")
                if seg[2] != gs06:
                    raise self.error(f"GE02 {seg[2]!r} does not match GS06 {gs06!r}")
                state = "interchange"
            elif tag == "IEA":
                if state != "interchange":
                    raise self.error("IEA before the GE of the last functional group")
                if seg[1] != str(group_count):
                    raise self.error(
                        f"IEA01 says {seg[1]!r} functional groups but the interchange has {group_count}"
                    )
                if seg[2] != isa13:
                    raise self.error(f"IEA02 {seg[2]!r} does not match ISA13 {isa13!r}")
                state = "start"
            else:
                raise self.error(f"unexpected segment {tag!r} here ({state})")
        _ = repetition
        if state != "start":
            raise X12ParseError(
                "the file ends before its IEA segment (it is truncated)", segment_number=self.reader.count
            )

    def _remittance(self, header: dict[str, object]) -> Remittance:
        for key, what in (
            ("payer_name", "N1*PR payer"),
            ("payee_name", "N1*PE payee"),
            ("handling_code", "BPR"),
            ("trace_number", "TRN"),
        ):
            if key not in header:
                raise self.error(f"the 835 header has no {what} segment")
        return Remittance(**header)  # type: ignore[arg-type]

    def _plb(self, seg: Segment, component: str) -> list[ProviderAdjustment]:
        provider_id = seg[1]
        if not provider_id:
            raise self.error("PLB01 provider identifier is missing")
        fiscal = self.date(seg[2], "PLB02 fiscal period date")
        out: list[ProviderAdjustment] = []
        for k in range(MAX_PLB_PAIRS):
            base = 3 + 2 * k
            composite = seg[base]
            if not composite:
                continue
            reason, _, reference = composite.partition(component)
            amount = self.dec(seg, base + 1, f"provider adjustment amount for {reason}")
            assert amount is not None
            out.append(ProviderAdjustment(reason, reference, amount, provider_id, fiscal))
        if not out:
            raise self.error("PLB segment without any adjustment")
        if self.width > 15:
            raise self.error("a PLB segment carries at most six adjustments")
        return out


def iter_835(source: str | IO[str], *, check_balance: bool = True) -> Iterator[Event835]:
    """Stream an 835: ``RemittanceStart``, then each ``ClaimPayment``, then ``RemittanceEnd`` for every
    transaction set, in file order. Raises ``X12ParseError`` (or its subclass
    ``RemittanceBalanceError``) at the first problem, naming the segment."""
    return _Parser(source, check_balance).events()


def iter_claim_payments(source: str | IO[str], *, check_balance: bool = True) -> Iterator[ClaimPayment]:
    """Only the claim payments of an 835, in file order (balance still checked)."""
    for event in iter_835(source, check_balance=check_balance):
        if isinstance(event, ClaimPayment):
            yield event


def parse_835(source: str | IO[str], *, check_balance: bool = True) -> list[Remittance]:
    """Parse a whole 835 into one ``Remittance`` per transaction set (claims included)."""
    out: list[Remittance] = []
    claims: list[ClaimPayment] = []
    for event in iter_835(source, check_balance=check_balance):
        if isinstance(event, RemittanceStart):
            claims = []
        elif isinstance(event, ClaimPayment):
            claims.append(event)
        else:
            out.append(dataclasses.replace(event.remittance, claims=tuple(claims)))
    return out
