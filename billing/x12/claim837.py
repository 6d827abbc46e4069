"""X12 837P professional claim writer (005010X222A1).

Input is plain frozen dataclasses; output is the X12 text, streamed chunk by chunk so a run of
100,000 claims is written in bounded memory. The rules this writer enforces:

* Delimiters: segment ``~``, element ``*``, component ``:``, repetition ``^``.
* Envelope: ISA (fixed widths), one GS per ``FunctionalGroup837`` (GS01 ``HC``, GS08 ``005010X222A1``),
  ST*837*<control>*005010X222A1 ... SE. SE01 counts the segments from ST to SE inclusive, GE01 the
  transaction sets of the group, IEA01 the functional groups.
* At most ``max_claims_per_set`` claims (default 5,000) per ST/SE transaction set. More claims open
  further sets in the same GS with ST02 = previous + 1. Claims are split strictly by their order:
  claim *i* (0-based) of a group goes into set ``first_set_control_number + i // max_claims_per_set``
  (``assign_transaction_sets`` computes the same thing without writing) — unless the group gives
  each claim's ST02 (``set_numbers``, increasing): then a new set opens where the number changes.
* Each set starts with BHT*0019*00*<batch id>*CCYYMMDD*HHMM*CH, 1000A submitter (NM1*41 + PER) and
  1000B receiver (NM1*40).
* 2000A billing provider HL (PRV*BI*PXC*<taxonomy>), 2010AA NM1*85*2 with XX NPI, N3/N4 (street
  address, never a PO box; 9-digit ZIP), REF*EI TIN. A new 2000A opens whenever the billing provider
  changes between consecutive claims, so a hub can bill for several CBOs in one file.
* 2000B subscriber HL per run of consecutive claims with the same billing provider, subscriber and
  payer, at most ``max_claims_per_subscriber`` (100) claims each; SBR*P*18*******MC (subscriber is
  the patient, Medicaid), 2010BA NM1*IL*1 with MI <CIN>, N3/N4, DMG*D8*<dob>*<gender>,
  2010BB NM1*PR*2*<payer>*****PI*<payer id>. Sort claims by provider and member to get few loops.
* 2300 CLM*<CLM01>*<Σ SV102>***<POS>:B:<frequency>*Y*A*Y*Y, then REF*G1 prior authorization when
  given, REF*F8 payer claim number (required for frequency 7 and 8, refused for 1), then HI with
  ABK (principal) and ABF (others), at most 12 codes, dots removed.
* 2400 per line: LX*n, SV1*HC:<code>[:mod]x4*<charge>*UN*<units>*[POS]**<pointers>, DTP*472*D8 or
  RD8, REF*6R line control number. SV105 is sent only when the line's place of service differs from
  the claim's (the guide says not to send it otherwise). 1-50 lines per claim; 1-4 pointers per
  line, each pointing at an existing HI code.
* CLM01 must be unique within the file.
* Money is Decimal, written without trailing zeros (125, 125.5, 125.25).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, NamedTuple, TypeVar

from billing.x12 import ids
from billing.x12.common import (
    Envelope,
    X12InputError,
    basic_text,
    check_id,
    fmt_date,
    fmt_decimal,
    fmt_time,
    gs_segment,
)

VERSION = "005010X222A1"
MAX_LINES_PER_CLAIM = 50
MAX_CLAIMS_PER_SUBSCRIBER = 100
MAX_CLAIMS_PER_SET = 5000
MAX_DIAGNOSES = 12
MAX_POINTERS = 4
MAX_MODIFIERS = 4
FREQUENCIES = frozenset({"1", "7", "8"})
GENDERS = frozenset({"F", "M", "U"})

_PO_BOX_RE = re.compile(r"\b(?:P\.?\s*O\.?\s*BOX|POST\s+OFFICE\s+BOX|POB)\b", re.IGNORECASE)
_POS_RE = re.compile(r"^\d{2}$")
_STATE_RE = re.compile(r"^[A-Z]{2}$")
_ZIP_RE = re.compile(r"^\d{5}(?:\d{4})?$")
_ZIP9_RE = re.compile(r"^\d{9}$")
_PHONE_RE = re.compile(r"^\d{10}$")


# --------------------------------------------------------------------------- input dataclasses


@dataclass(frozen=True)
class Address:
    """A US street address (N3/N4). ``postal_code`` is 5 or 9 digits (a dash is removed)."""

    line1: str
    city: str
    state: str
    postal_code: str
    line2: str = ""


@dataclass(frozen=True)
class Submitter:
    """1000A: who sends the file (the CBO or hub), with a contact for the receiver's questions.
    ``phone`` is 10 digits; at least a phone or an e-mail is required."""

    name: str
    id: str
    contact_name: str
    phone: str = ""
    email: str = ""


@dataclass(frozen=True)
class Receiver:
    """1000B: who receives the file (the plan or its clearinghouse)."""

    name: str
    id: str


@dataclass(frozen=True)
class BillingProvider:
    """2000A/2010AA: the billing organization: name, NPI (check digit verified), TIN, taxonomy
    and a street address (a PO box is refused; the ZIP must have 9 digits)."""

    name: str
    npi: str
    tin: str
    taxonomy: str
    address: Address


@dataclass(frozen=True)
class Subscriber:
    """2010BA: the Medi-Cal member, who is also the patient. ``member_id`` is the CIN.
    ``gender`` is F, M or U."""

    member_id: str
    last_name: str
    first_name: str
    birth_date: dt.date
    gender: str
    address: Address
    middle_name: str = ""


@dataclass(frozen=True)
class Payer:
    """2010BB: the plan that pays, with its payer id (PI)."""

    name: str
    payer_id: str


@dataclass(frozen=True)
class ServiceLine:
    """2400: one service line.

    ``procedure_code`` is HCPCS/CPT; ``modifiers`` up to four; ``charge`` and ``units`` are Decimal;
    ``diagnosis_pointers`` are 1-based positions in the claim's ``diagnosis_codes`` (1-4 of them);
    ``service_date`` alone gives DTP*472*D8, with ``service_date_end`` (later) DTP*472*RD8;
    ``place_of_service`` only when it differs from the claim's; ``line_control_number`` → REF*6R
    (the 835 echoes it so payments match back to lines).
    """

    procedure_code: str
    charge: Decimal
    units: Decimal
    service_date: dt.date
    modifiers: tuple[str, ...] = ()
    diagnosis_pointers: tuple[int, ...] = (1,)
    service_date_end: dt.date | None = None
    place_of_service: str | None = None
    line_control_number: str | None = None
    unit_basis: str = "UN"


@dataclass(frozen=True)
class Claim:
    """2300: one claim.

    ``control_number`` is CLM01 (echoed as CLP01 in the 835; 1-38 characters, unique in the file).
    ``frequency`` is 1 (original), 7 (replacement) or 8 (void); 7 and 8 need ``payer_claim_number``
    (REF*F8). ``prior_authorization`` → REF*G1. ``diagnosis_codes`` are ICD-10-CM, 1-12, the first is
    the principal one. The charge total (CLM02) is always Σ of the lines' charges.
    """

    control_number: str
    billing_provider: BillingProvider
    subscriber: Subscriber
    payer: Payer
    place_of_service: str
    diagnosis_codes: tuple[str, ...]
    lines: tuple[ServiceLine, ...]
    frequency: str = "1"
    payer_claim_number: str | None = None
    prior_authorization: str | None = None

    @property
    def total_charge(self) -> Decimal:
        """CLM02: the sum of the lines' charges."""
        return sum((line.charge for line in self.lines), Decimal(0))


@dataclass(frozen=True)
class FunctionalGroup837:
    """One GS/GE functional group: the claims for one receiver, written in the given order.

    ``claims`` may be any iterable (a generator over a database cursor, for instance): it is read
    once. ``batch_id`` goes into BHT03 of each transaction set. ``application_sender_code`` /
    ``application_receiver_code`` (GS02/GS03) default to the envelope's ISA06/ISA08.
    ``set_numbers``, when given, is each claim's ST02 in claim order (numbers assigned when the
    claims were batched); otherwise sets are numbered from ``first_set_control_number``.
    """

    submitter: Submitter
    receiver: Receiver
    group_control_number: int
    batch_id: str
    claims: Iterable[Claim]
    application_sender_code: str | None = None
    application_receiver_code: str | None = None
    first_set_control_number: int = 1
    set_numbers: Iterable[int] | None = None


# --------------------------------------------------------------------------- results


class SetAssignment(NamedTuple):
    """Where a claim went: GS06 of its group and ST02 of its transaction set (a 999's AK1/AK2)."""

    group_control_number: int
    set_control_number: str


@dataclass
class TransactionSetSummary:
    """One ST/SE written: its control number, how many claims and segments (SE01) it holds."""

    group_control_number: int
    set_control_number: str
    claim_count: int = 0
    segment_count: int = 0


@dataclass
class Write837Result:
    """What a write produced: counts, one summary per transaction set and, unless turned off, the
    transaction set of every claim (CLM01 → SetAssignment) to match 999 acknowledgements."""

    interchange_control_number: int = 0
    claim_count: int = 0
    line_count: int = 0
    segment_count: int = 0
    group_count: int = 0
    sets: list[TransactionSetSummary] = field(default_factory=list)
    claim_sets: dict[str, SetAssignment] = field(default_factory=dict)
    total_charge: Decimal = Decimal(0)

    def add(self, part: Write837Result) -> None:
        """Count in a part written apart (``iter_sets``): its sets follow this one's."""
        self.sets += part.sets
        self.claim_sets.update(part.claim_sets)
        self.claim_count += part.claim_count
        self.line_count += part.line_count
        self.segment_count += part.segment_count
        self.total_charge += part.total_charge


def set_control_number(number: int) -> str:
    """ST02 as written: at least 4 digits, zero padded (0001), at most 9."""
    if not 0 < number <= 999_999_999:
        raise X12InputError(f"ST02 transaction set control number {number} must be 1-999999999")
    return f"{number:04d}"


def assign_transaction_sets(
    claim_control_numbers: Iterable[str],
    *,
    group_control_number: int,
    first_set_control_number: int = 1,
    max_claims_per_set: int = MAX_CLAIMS_PER_SET,
) -> Iterator[tuple[str, SetAssignment]]:
    """Yield (CLM01, SetAssignment) for claims in the order they will be written, without writing:
    claim *i* goes into set ``first_set_control_number + i // max_claims_per_set`` — exactly the
    split ``write_837`` makes."""
    for index, control in enumerate(claim_control_numbers):
        st02 = set_control_number(first_set_control_number + index // max_claims_per_set)
        yield control, SetAssignment(group_control_number, st02)


# --------------------------------------------------------------------------- validation helpers

# Checked results cached by the values they depend on, so repeated services, amounts, places of
# service, diagnosis lists and payers are checked and formatted once per process, not once per
# claim (nothing about a member is cached: it would outlive the export in a worker's memory).
# Only results that passed their checks are stored, and a key holds every value a check or the
# output depends on, so a cache hit writes exactly what a fresh check would; error messages
# (which name the claim and line) always come from the uncached path. Each cache is emptied
# when full.
_CACHE_LIMIT = 8192
_PAYER_CACHE: dict[tuple[object, ...], str] = {}
_CLAIM_CACHE: dict[tuple[object, ...], tuple[str, str, int]] = {}
_LINE_CACHE: dict[tuple[object, ...], str] = {}
_LX = tuple(f"LX*{number}" for number in range(MAX_LINES_PER_CLAIM + 1))
_GENDER_CODES = {"F": "F", "M": "M", "U": "U", "f": "F", "m": "M", "u": "U"}
_ZERO = Decimal(0)


_V = TypeVar("_V")


def _remember(cache: dict[tuple[object, ...], _V], key: tuple[object, ...], value: _V) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value


def _address_segments(
    address: Address, what: str, *, require_zip9: bool, street_only: bool
) -> tuple[str, str]:
    """N3 and N4 of a checked address (``what`` names it in errors)."""
    line1 = basic_text(address.line1, 55)
    if not line1:
        raise X12InputError(f"{what} address line 1 is missing")
    if street_only and (_PO_BOX_RE.search(address.line1) or _PO_BOX_RE.search(address.line2 or "")):
        raise X12InputError(f"{what} address must be a street address, not a PO box ({address.line1!r})")
    city = basic_text(address.city, 30)
    if len(city) < 2:
        raise X12InputError(f"{what} city is missing")
    state = (address.state or "").strip().upper()
    if not _STATE_RE.match(state):
        raise X12InputError(f"{what} state {address.state!r} must be a two-letter code")
    postal = (address.postal_code or "").replace("-", "").strip()
    if not _ZIP_RE.match(postal):
        raise X12InputError(f"{what} ZIP code {address.postal_code!r} must be 5 or 9 digits")
    if require_zip9 and not _ZIP9_RE.match(postal):
        raise X12InputError(f"{what} ZIP code {address.postal_code!r} must have 9 digits (ZIP+4)")
    line2 = basic_text(address.line2, 55)
    n3 = f"N3*{line1}*{line2}" if line2 else f"N3*{line1}"
    return n3, f"N4*{city}*{state}*{postal}"


def _name(value: str, what: str, max_length: int) -> str:
    text = basic_text(value, max_length)
    if not text:
        raise X12InputError(f"{what} is missing")
    return text


def _provider_segments(provider: BillingProvider) -> list[str]:
    """2010AA body (after the HL and PRV): NM1*85, N3, N4, REF*EI."""
    problem = ids.npi_problem(provider.npi)
    if problem:
        raise X12InputError(f"billing provider {provider.name!r}: {problem}")
    problem = ids.tin_problem(provider.tin)
    if problem:
        raise X12InputError(f"billing provider {provider.name!r}: {problem}")
    problem = ids.taxonomy_problem(provider.taxonomy)
    if problem:
        raise X12InputError(f"billing provider {provider.name!r}: {problem}")
    name = _name(provider.name, "billing provider name", 60)
    return [
        f"PRV*BI*PXC*{provider.taxonomy.strip().upper()}",
        f"NM1*85*2*{name}*****XX*{provider.npi.strip()}",
        *_address_segments(provider.address, "billing provider", require_zip9=True, street_only=True),
        f"REF*EI*{ids.normalize_tin(provider.tin)}",
    ]


def _subscriber_segments(subscriber: Subscriber, payer: Payer) -> list[str]:
    """2000B body (after the HL): SBR, 2010BA NM1*IL/N3/N4/DMG, 2010BB NM1*PR."""
    member_id = subscriber.member_id
    if not (type(member_id) is str and member_id.isalnum() and len(member_id) <= 80):
        member_id = check_id(member_id, "member id (CIN)", max_length=80)  # not the plain case
    member_id = member_id.upper()
    last = basic_text(subscriber.last_name, 60)
    if not last:
        raise X12InputError(f"member {member_id} last name is missing")
    first = basic_text(subscriber.first_name, 35)
    middle = basic_text(subscriber.middle_name, 25)
    given_gender = subscriber.gender
    gender = _GENDER_CODES.get(given_gender) if type(given_gender) is str else None
    if gender is None:
        gender = (given_gender or "").upper()
        if gender not in GENDERS:
            raise X12InputError(f"member {member_id} gender {subscriber.gender!r} must be F, M or U")
    payer_nm1 = _payer_segment(payer)
    nm1 = (
        f"NM1*IL*1*{last}*{first}*{middle}***MI*{member_id}"
        if middle
        else (f"NM1*IL*1*{last}*{first}****MI*{member_id}")
    )
    n3, n4 = _address_segments(
        subscriber.address, f"member {member_id}", require_zip9=False, street_only=False
    )
    return ["SBR*P*18*******MC", nm1, n3, n4, f"DMG*D8*{fmt_date(subscriber.birth_date)}*{gender}", payer_nm1]


def _payer_segment(payer: Payer) -> str:
    """2010BB NM1*PR of a checked payer (cached by name and payer id)."""
    key: tuple[object, ...] | None = (payer.name, payer.payer_id)
    try:
        segment = _PAYER_CACHE.get(key)  # type: ignore[arg-type]  # not None yet
    except TypeError:  # an unhashable field: check it without the cache
        segment = key = None
    if segment is None:
        payer_name = _name(payer.name, "payer name", 60)
        payer_id = check_id(payer.payer_id, f"payer {payer_name!r} id", min_length=2, max_length=80)
        segment = f"NM1*PR*2*{payer_name}*****PI*{payer_id}"
        if key is not None:
            _remember(_PAYER_CACHE, key, segment)
    return segment


def _claim_segments(claim: Claim, seen: set[str], out: list[str]) -> Decimal:
    """Append 2300 and its 2400 lines to ``out``, checked against the rules in the module
    docstring; return the claim's total charge (CLM02)."""
    control = claim.control_number
    if not (type(control) is str and control.isalnum() and len(control) <= 38):
        control = check_id(control, "claim control number (CLM01)", max_length=38)  # not the plain case
    if control in seen:
        raise X12InputError(f"claim {control}: CLM01 appears twice in this file")
    lines = claim.lines
    if not lines:
        raise X12InputError(f"claim {control} has no service lines")
    if len(lines) > MAX_LINES_PER_CLAIM:
        raise X12InputError(
            f"claim {control} has {len(lines)} service lines; an 837P claim holds at most "
            f"{MAX_LINES_PER_CLAIM} — split it into several claims"
        )
    pos = claim.place_of_service
    frequency = claim.frequency
    dx = claim.diagnosis_codes
    key: tuple[object, ...] | None = (pos, frequency, dx)
    try:
        head = _CLAIM_CACHE.get(key)  # type: ignore[arg-type]  # not None yet
    except TypeError:  # unhashable (a list of codes): check without the cache
        head = key = None
    if head is None:
        head = _claim_head(control, pos, frequency, dx)
        if key is not None:
            _remember(_CLAIM_CACHE, key, head)
    clm_tail, hi, dx_count = head
    total = _ZERO
    body: list[str] = []
    for number, line in enumerate(lines, start=1):
        total += line.charge
        body += _line_segments(control, number, line, pos, dx_count)

    prior_auth = claim.prior_authorization
    if prior_auth and not (type(prior_auth) is str and prior_auth.isalnum() and len(prior_auth) <= 50):
        prior_auth = check_id(prior_auth, f"claim {control} prior authorization", max_length=50)
    payer_claim = claim.payer_claim_number
    if frequency in ("7", "8"):
        if not payer_claim:
            raise X12InputError(
                f"claim {control}: a replacement (7) or void (8) needs the payer's claim number (REF*F8)"
            )
        payer_claim = check_id(payer_claim, f"claim {control} payer claim number", max_length=50)
    elif payer_claim:
        raise X12InputError(
            f"claim {control}: an original claim (frequency 1) must not carry a payer claim number; "
            "use frequency 7 to replace or 8 to void"
        )
    out.append(f"CLM*{control}*{fmt_decimal(total)}{clm_tail}")
    if prior_auth:
        out.append(f"REF*G1*{prior_auth}")
    if payer_claim:
        out.append(f"REF*F8*{payer_claim}")
    out.append(hi)
    out += body
    seen.add(control)
    return total


def _claim_head(control: str, pos: str, frequency: str, dx: Sequence[str]) -> tuple[str, str, int]:
    """Check a claim's place of service, frequency and diagnosis codes; return the end of its CLM
    (``***<POS>:B:<frequency>*Y*A*Y*Y``), its HI segment and its number of codes."""
    if not _POS_RE.match(pos or ""):
        raise X12InputError(f"claim {control}: place of service {pos!r} must be two digits")
    if frequency not in FREQUENCIES:
        raise X12InputError(f"claim {control}: frequency {frequency!r} must be 1, 7 or 8")
    if not 1 <= len(dx) <= MAX_DIAGNOSES:
        raise X12InputError(f"claim {control} has {len(dx)} diagnosis codes; it needs 1 to {MAX_DIAGNOSES}")
    try:
        hi = _hi_segment(tuple(dx))
    except X12InputError as exc:
        raise X12InputError(f"claim {control}: {exc}") from None
    return f"***{pos}:B:{frequency}*Y*A*Y*Y", hi, len(dx)


@functools.lru_cache(maxsize=4096)
def _procedure_composite(code: str, modifiers: tuple[str, ...]) -> str:
    """SV101 ``HC:code:mod...`` after checking the code and modifiers (cached: codes repeat)."""
    code = (code or "").strip().upper()
    problem = ids.hcpcs_problem(code)
    if problem:
        raise X12InputError(problem)
    if len(modifiers) > MAX_MODIFIERS:
        raise X12InputError(f"at most {MAX_MODIFIERS} modifiers")
    composite = "HC:" + code
    for modifier in modifiers:
        problem = ids.modifier_problem(modifier)
        if problem:
            raise X12InputError(problem)
        composite += ":" + modifier.upper()
    return composite


@functools.lru_cache(maxsize=4096)
def _hi_segment(codes: tuple[str, ...]) -> str:
    """HI with ABK (principal) and ABF (others), dots removed, after checking each code (cached)."""
    parts = []
    for index, code in enumerate(codes):
        problem = ids.icd10_problem(code)
        if problem:
            raise X12InputError(problem)
        parts.append(("ABK:" if index == 0 else "ABF:") + ids.icd10_for_x12(code))
    return "HI*" + "*".join(parts)


@functools.lru_cache(maxsize=4096)
def _dtp(start: dt.date, end: dt.date | None) -> str:
    """DTP*472 with D8 (one day) or RD8 (a period)."""
    if end is None or end == start:
        return f"DTP*472*D8*{fmt_date(start)}"
    if end < start:
        raise X12InputError("the service period ends before it starts")
    return f"DTP*472*RD8*{fmt_date(start)}-{fmt_date(end)}"


def _line_segments(control: str, number: int, line: ServiceLine, claim_pos: str, dx_count: int) -> list[str]:
    """2400 for one line: LX, SV1, DTP*472 and REF*6R when the line has a control number."""
    charge, units = line.charge, line.units
    pointers = line.diagnosis_pointers
    start, end = line.service_date, line.service_date_end
    sv1: str | None = None
    key: tuple[object, ...] | None = None
    if type(charge) is Decimal and type(units) is Decimal:
        # SV1 up to its pointers, cached by everything it and the line's checks depend on. (The
        # pointers' text is not cached: equal pointers may print differently, 1 and True.)
        key = (
            line.procedure_code,
            line.modifiers,
            charge,
            units,
            line.place_of_service,
            line.unit_basis,
            pointers,
            claim_pos,
            dx_count,
        )
        try:
            sv1 = _LINE_CACHE.get(key)
        except TypeError:  # unhashable (a list of pointers, a signaling NaN): check without the cache
            key = None
    if sv1 is None:
        sv1, dtp = _line_parts(control, number, line, claim_pos, dx_count)
        if key is not None:
            _remember(_LINE_CACHE, key, sv1)
    else:
        try:  # the first check that can still fail: the line's code and amounts passed already
            dtp = _dtp(start, end)
        except X12InputError as exc:
            raise X12InputError(f"claim {control} line {number}: {exc}") from None
    pointer_text = str(pointers[0]) if len(pointers) == 1 else ":".join(map(str, pointers))
    lx = _LX[number] if 0 < number <= MAX_LINES_PER_CLAIM else f"LX*{number}"
    lcn = line.line_control_number
    if lcn:
        if not (type(lcn) is str and lcn.isalnum() and len(lcn) <= 50):
            lcn = check_id(lcn, f"claim {control} line {number} line control number", max_length=50)
        return [lx, f"{sv1}{pointer_text}", dtp, f"REF*6R*{lcn}"]
    return [lx, f"{sv1}{pointer_text}", dtp]


def _line_parts(
    control: str, number: int, line: ServiceLine, claim_pos: str, dx_count: int
) -> tuple[str, str]:
    """Check a line (all but its control number); return its SV1 up to the pointers and its DTP."""
    where = f"claim {control} line {number}"
    try:
        composite = _procedure_composite(line.procedure_code, line.modifiers)
        dtp = _dtp(line.service_date, line.service_date_end)
    except X12InputError as exc:
        raise X12InputError(f"{where}: {exc}") from None
    charge, units = line.charge, line.units
    if type(charge) is not Decimal or type(units) is not Decimal:
        raise X12InputError(f"{where}: charge and units must be Decimal")
    if charge < 0:
        raise X12InputError(f"{where}: charge {charge} is negative")
    if units <= 0:
        raise X12InputError(f"{where}: units {units} must be more than zero")
    pointers = line.diagnosis_pointers
    if not 1 <= len(pointers) <= MAX_POINTERS:
        raise X12InputError(f"{where}: 1 to {MAX_POINTERS} diagnosis pointers are needed")
    for pointer in pointers:
        if not 1 <= pointer <= dx_count:
            raise X12InputError(
                f"{where}: diagnosis pointer {pointer} points past the claim's {dx_count} diagnosis code(s)"
            )
    if len(pointers) > 1 and len(set(pointers)) != len(pointers):
        raise X12InputError(f"{where}: a diagnosis pointer is repeated")
    line_pos = line.place_of_service
    if line_pos is not None and line_pos != claim_pos:
        if not _POS_RE.match(line_pos):
            raise X12InputError(f"{where}: place of service {line_pos!r} must be two digits")
        sv105 = line_pos
    else:
        sv105 = ""
    if line.unit_basis != "UN" and line.unit_basis != "MJ":
        raise X12InputError(f"{where}: unit basis must be UN (units) or MJ (minutes)")
    return f"SV1*{composite}*{fmt_decimal(charge)}*{line.unit_basis}*{fmt_decimal(units)}*{sv105}**", dtp


# --------------------------------------------------------------------------- the writer


def iter_837(
    envelope: Envelope,
    groups: Sequence[FunctionalGroup837],
    *,
    max_claims_per_set: int = MAX_CLAIMS_PER_SET,
    max_claims_per_subscriber: int = MAX_CLAIMS_PER_SUBSCRIBER,
    newline: bool = False,
    result: Write837Result | None = None,
    track_claims: bool = True,
) -> Iterator[str]:
    """Yield the 837P text in chunks of whole segments (each ends with ``~``, plus a line break when
    ``newline``). Pass a ``Write837Result`` to have it filled in as the chunks are produced.
    Raises ``X12InputError`` (before yielding the offending claim) when data breaks a rule.
    """
    _check_limits(max_claims_per_set, max_claims_per_subscriber)
    if not groups:
        raise X12InputError("an interchange needs at least one functional group")
    res = result if result is not None else Write837Result()
    res.interchange_control_number = envelope.interchange_control_number
    term = "~\n" if newline else "~"
    yield envelope.isa() + term
    res.segment_count += 1
    seen: set[str] = set()
    gs_numbers: set[int] = set()
    for group in groups:
        if group.group_control_number in gs_numbers:
            raise X12InputError(f"GS06 {group.group_control_number} is used by two functional groups")
        gs_numbers.add(group.group_control_number)
        yield _gs(envelope, group) + term
        res.segment_count += 1
        res.group_count += 1
        before = len(res.sets)
        yield from iter_sets(
            group,
            envelope.created,
            result=res,
            max_claims_per_set=max_claims_per_set,
            max_claims_per_subscriber=max_claims_per_subscriber,
            newline=newline,
            track_claims=track_claims,
            seen=seen,
        )
        if len(res.sets) == before:
            raise X12InputError(f"functional group {group.group_control_number} has no claims")
        yield f"GE*{len(res.sets) - before}*{group.group_control_number}" + term
        res.segment_count += 1
    yield envelope.iea(len(groups)) + term
    res.segment_count += 1


def envelope_head(envelope: Envelope, group: FunctionalGroup837) -> str:
    """ISA and GS of a one-group interchange whose transaction sets are written apart
    (``iter_sets``, in parts that are then put together between this and ``envelope_tail``)."""
    return f"{envelope.isa()}~{_gs(envelope, group)}~"


def envelope_tail(envelope: Envelope, group: FunctionalGroup837, set_count: int) -> str:
    """GE (with the number of transaction sets written) and IEA closing ``envelope_head``."""
    if set_count < 1:
        raise X12InputError(f"functional group {group.group_control_number} has no claims")
    return f"GE*{set_count}*{group.group_control_number}~{envelope.iea(1)}~"


def _gs(envelope: Envelope, group: FunctionalGroup837) -> str:
    return gs_segment(
        "HC",
        group.application_sender_code or envelope.sender_id,
        group.application_receiver_code or envelope.receiver_id,
        envelope.created,
        group.group_control_number,
        VERSION,
    )


def _check_limits(max_claims_per_set: int, max_claims_per_subscriber: int) -> None:
    if not 1 <= max_claims_per_set <= MAX_CLAIMS_PER_SET:
        raise X12InputError(f"max_claims_per_set must be 1-{MAX_CLAIMS_PER_SET}")
    if not 1 <= max_claims_per_subscriber <= MAX_CLAIMS_PER_SUBSCRIBER:
        raise X12InputError(f"max_claims_per_subscriber must be 1-{MAX_CLAIMS_PER_SUBSCRIBER}")


def iter_sets(
    group: FunctionalGroup837,
    created: dt.datetime,
    *,
    result: Write837Result,
    max_claims_per_set: int = MAX_CLAIMS_PER_SET,
    max_claims_per_subscriber: int = MAX_CLAIMS_PER_SUBSCRIBER,
    newline: bool = False,
    track_claims: bool = True,
    seen: set[str] | None = None,
) -> Iterator[str]:
    """Yield the ST … SE transaction sets of ``group``'s claims (no GS/GE), adding them to
    ``result``. Sets are independent of each other: a group's claims may be written in parts
    (each part whole sets, ``set_numbers`` given) and the parts' text put together in order.
    ``seen``: the CLM01s written so far in the interchange (each must be unique)."""
    _check_limits(max_claims_per_set, max_claims_per_subscriber)
    res = result
    term = "~\n" if newline else "~"

    def emit(segments: list[str]) -> str:
        return term.join(segments) + term

    seen = set() if seen is None else seen
    gs06 = group.group_control_number
    provider_cache: dict[BillingProvider, list[str]] = {}
    header_tail = _set_header_tail(group, created)
    current: TransactionSetSummary | None = None
    hl = 0
    provider: BillingProvider | None = None
    provider_hl = 0
    sub_key: tuple[BillingProvider, Subscriber, Payer] | None = None
    sub_claims = 0
    opened = 0
    given = iter(group.set_numbers) if group.set_numbers is not None else None
    number = 0  # the open set's ST02
    for claim in group.claims:
        out: list[str] = []
        if given is None:
            opens = current is None or current.claim_count >= max_claims_per_set
            wanted = group.first_set_control_number + opened if opens else number
        else:
            next_number = next(given, None)
            if next_number is None:
                raise X12InputError(f"functional group {gs06} has more claims than set numbers")
            wanted = next_number
            opens = current is None or wanted != number
        if opens:
            if current is not None:
                if wanted < number:
                    raise X12InputError(f"ST02 {wanted} comes after ST02 {number}: set numbers must increase")
                yield emit([f"SE*{current.segment_count + 1}*{current.set_control_number}"])
                current.segment_count += 1
                res.segment_count += 1
            number = wanted
            st02 = set_control_number(number)
            opened += 1
            current = TransactionSetSummary(gs06, st02)
            res.sets.append(current)
            out.append(f"ST*837*{st02}*{VERSION}")
            out.extend(header_tail)
            hl = 0
            provider = None
            sub_key = None
        elif current is not None and current.claim_count >= max_claims_per_set:
            raise X12InputError(
                f"transaction set {current.set_control_number} would hold more than "
                f"{max_claims_per_set} claims"
            )
        assert current is not None  # opened above
        if claim.billing_provider is not provider and claim.billing_provider != provider:
            provider = claim.billing_provider
            body = provider_cache.get(provider)
            if body is None:
                body = provider_cache[provider] = _provider_segments(provider)
            hl += 1
            provider_hl = hl
            out.append(f"HL*{hl}**20*1")
            out.extend(body)
            sub_key = None
        key = (provider, claim.subscriber, claim.payer)
        if (
            sub_key is None
            or sub_claims >= max_claims_per_subscriber
            or not (
                (key[1] is sub_key[1] or key[1] == sub_key[1])
                and (key[2] is sub_key[2] or key[2] == sub_key[2])
            )
        ):
            sub_key = key
            sub_claims = 0
            hl += 1
            out.append(f"HL*{hl}*{provider_hl}*22*0")
            out.extend(_subscriber_segments(claim.subscriber, claim.payer))
        claim_total = _claim_segments(claim, seen, out)
        sub_claims += 1
        current.claim_count += 1
        current.segment_count += len(out)
        res.segment_count += len(out)
        res.claim_count += 1
        res.line_count += len(claim.lines)
        res.total_charge += claim_total
        if track_claims:
            res.claim_sets[claim.control_number.strip()] = SetAssignment(gs06, current.set_control_number)
        yield emit(out)
    if current is not None:
        yield emit([f"SE*{current.segment_count + 1}*{current.set_control_number}"])
        current.segment_count += 1
        res.segment_count += 1


def _set_header_tail(group: FunctionalGroup837, created: dt.datetime) -> list[str]:
    """BHT, 1000A (NM1*41 + PER) and 1000B (NM1*40): the same at the top of every set of a group."""
    submitter, receiver = group.submitter, group.receiver
    batch_id = check_id(group.batch_id, "BHT03 batch id", max_length=50)
    sub_name = _name(submitter.name, "submitter name", 60)
    sub_id = check_id(submitter.id, "submitter id", min_length=2, max_length=80)
    contact = _name(submitter.contact_name, "submitter contact name", 60)
    per = f"PER*IC*{contact}"
    phone = (submitter.phone or "").replace("-", "").replace(" ", "").replace("(", "").replace(")", "")
    if phone:
        if not _PHONE_RE.match(phone):
            raise X12InputError(f"submitter phone {submitter.phone!r} must be 10 digits")
        per += f"*TE*{phone}"
    if submitter.email:
        per += f"*EM*{check_id(submitter.email, 'submitter e-mail', max_length=256)}"
    if per == f"PER*IC*{contact}":
        raise X12InputError("the submitter contact needs a phone number or an e-mail address")
    rec_name = _name(receiver.name, "receiver name", 60)
    rec_id = check_id(receiver.id, "receiver id", min_length=2, max_length=80)
    return [
        f"BHT*0019*00*{batch_id}*{fmt_date(created)}*{fmt_time(created)}*CH",
        f"NM1*41*2*{sub_name}*****46*{sub_id}",
        per,
        f"NM1*40*2*{rec_name}*****46*{rec_id}",
    ]


def write_837(
    out: IO[str],
    envelope: Envelope,
    groups: Sequence[FunctionalGroup837],
    **options: object,
) -> Write837Result:
    """Write the 837P to a text file object and return the counts and claim → set map.
    Options are those of ``iter_837`` (``max_claims_per_set``, ``newline``, ``track_claims``, ...)."""
    result = Write837Result()
    for chunk in iter_837(envelope, groups, result=result, **options):  # type: ignore[arg-type]
        out.write(chunk)
    return result


def render_837(
    envelope: Envelope, groups: Sequence[FunctionalGroup837], **options: object
) -> tuple[str, Write837Result]:
    """The whole 837P as one string, with its ``Write837Result`` (small files and tests)."""
    result = Write837Result()
    text = "".join(iter_837(envelope, groups, result=result, **options))  # type: ignore[arg-type]
    return text, result
