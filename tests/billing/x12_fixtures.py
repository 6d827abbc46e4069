"""Builders of realistic CalAIM sample data for the X12 tests and benchmarks.

Everything is plain dataclasses from ``billing.x12``: no Django, no database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

from billing.x12.claim837 import (
    Address,
    BillingProvider,
    Claim,
    FunctionalGroup837,
    Payer,
    Receiver,
    ServiceLine,
    Submitter,
    Subscriber,
)
from billing.x12.common import Envelope

CREATED = dt.datetime(2025, 3, 14, 9, 26)

PROVIDER = BillingProvider(
    name="Casa Esperanza Community Services",
    npi="1234567893",
    tin="95-1234567",
    taxonomy="251S00000X",
    address=Address("1200 Wilshire Blvd Ste 300", "Los Angeles", "CA", "900171906"),
)
OTHER_PROVIDER = BillingProvider(
    name="Valley Meals Collective",
    npi="1245319599",
    tin="94-7654321",
    taxonomy="251S00000X",
    address=Address("48 Fresno St", "Fresno", "CA", "93706-1234"),
)
LA_CARE = Payer("L.A. Care Health Plan", "LACARE01")
IEHP = Payer("Inland Empire Health Plan", "IEHP0001")
SUBMITTER = Submitter(
    "Casa Esperanza Community Services", "CASAESP", "Maria Lopez", "2135550142", "billing@casa.example.org"
)
RECEIVER_LA = Receiver("L.A. Care Health Plan", "LACARE01")
RECEIVER_IEHP = Receiver("Inland Empire Health Plan", "IEHP0001")

FIRST_NAMES = ["Ana", "Luis", "Rosa", "James", "Mei", "Tran", "Darnell", "Sofia", "Omar", "Grace"]
LAST_NAMES = ["Garcia", "Nguyen", "Smith", "Hernandez", "Kim", "Johnson", "Lopez", "Patel", "Brown", "Reyes"]
SERVICES = [
    ("G9008", ("U1",), Decimal("350")),
    ("G9012", ("U2", "GQ"), Decimal("125.50")),
    ("H0043", ("U6",), Decimal("87.25")),
    ("T2041", ("U6",), Decimal("18.75")),
    ("S5170", ("U6",), Decimal("12.40")),
    ("T2033", ("U6",), Decimal("165")),
]
DIAGNOSES = ["Z59.01", "Z59.02", "Z59.41", "Z59.6", "Z59.811", "Z59.5"]


def envelope(control: int = 1, usage: str = "T") -> Envelope:
    return Envelope(
        sender_id="CASAESP",
        receiver_id="LACARE01",
        interchange_control_number=control,
        created=CREATED,
        usage=usage,
    )


def cin(n: int) -> str:
    return f"9{n % 10_000_000:07d}A"


def subscriber(n: int) -> Subscriber:
    return Subscriber(
        member_id=cin(n),
        last_name=LAST_NAMES[n % len(LAST_NAMES)],
        first_name=FIRST_NAMES[(n // 10) % len(FIRST_NAMES)],
        birth_date=dt.date(1950 + n % 50, 1 + n % 12, 1 + n % 28),
        gender="FM"[n % 2],
        address=Address(f"{100 + n % 900} Main St", "Los Angeles", "CA", "90012"),
    )


def line(n: int, *, day: int = 3, pointers: tuple[int, ...] = (1,), **kw: object) -> ServiceLine:
    code, mods, rate = SERVICES[n % len(SERVICES)]
    units = Decimal(1 + n % 3)
    defaults: dict[str, object] = dict(
        procedure_code=code,
        modifiers=mods,
        charge=rate * units,
        units=units,
        service_date=dt.date(2025, 2, day),
        diagnosis_pointers=pointers,
        line_control_number=f"L{n}",
    )
    defaults.update(kw)
    return ServiceLine(**defaults)  # type: ignore[arg-type]


def claim(
    n: int,
    *,
    lines: int | tuple[ServiceLine, ...] = 1,
    provider: BillingProvider = PROVIDER,
    payer: Payer = LA_CARE,
    member: int | None = None,
    **kw: object,
) -> Claim:
    defaults: dict[str, object] = dict(
        control_number=f"C{n:07d}",
        billing_provider=provider,
        subscriber=subscriber(n if member is None else member),
        payer=payer,
        place_of_service="12",
        diagnosis_codes=("Z59.01", "Z59.41"),
        lines=lines
        if isinstance(lines, tuple)
        else tuple(line(n * 100 + i, day=1 + i % 28) for i in range(lines)),
        prior_authorization=f"AUTH{n:06d}",
    )
    defaults.update(kw)
    return Claim(**defaults)  # type: ignore[arg-type]


def group(
    claims: object, *, gs: int = 1, receiver: Receiver = RECEIVER_LA, batch: str = "B20250314"
) -> FunctionalGroup837:
    return FunctionalGroup837(
        submitter=SUBMITTER, receiver=receiver, group_control_number=gs, batch_id=batch, claims=claims
    )  # type: ignore[arg-type]


def bulk_claims(count: int, *, claims_per_member: int = 3) -> Iterator[Claim]:
    """``count`` claims of 1-2 lines (1.5 on average), a few per member, sorted by member."""
    for n in range(count):
        yield claim(n, lines=1 + n % 2, member=n // claims_per_member)


# --------------------------------------------------------------------------- 835 builders

from billing.x12.remit835 import Adjustment, ClaimPayment, ProviderAdjustment, Remittance, ServicePayment  # noqa: E402
from billing.x12.remit835_writer import PayerDetails, balanced_total  # noqa: E402

PAYER_DETAILS = PayerDetails(
    address=Address("1055 W 7th St", "Los Angeles", "CA", "90017"),
    contact_name="EDI Support",
    contact_phone="2135550100",
    ein="951111111",
)
PAID_ON = dt.date(2025, 4, 10)


def envelope_835(control: int = 7) -> Envelope:
    return Envelope(
        sender_id="LACARE01",
        receiver_id="CASAESP",
        interchange_control_number=control,
        created=CREATED,
        usage="T",
    )


def service_payment(
    charge: str,
    paid: str,
    *adjustments: Adjustment,
    code: str = "G9008",
    mods: tuple[str, ...] = ("U1",),
    line_control: str = "L1",
    allowed: str | None = None,
    rarc: tuple[str, ...] = (),
    units: str = "1",
) -> ServicePayment:
    return ServicePayment(
        procedure_code=code,
        modifiers=mods,
        charge=Decimal(charge),
        paid=Decimal(paid),
        units=Decimal(units),
        service_date=dt.date(2025, 2, 3),
        line_control_number=line_control,
        adjustments=adjustments,
        allowed=None if allowed is None else Decimal(allowed),
        remark_codes=rarc,
    )


def claim_payment(
    control: str,
    status: str,
    services: tuple[ServicePayment, ...] = (),
    *,
    adjustments: tuple[Adjustment, ...] = (),
    charge: str | None = None,
    paid: str | None = None,
    patient_responsibility: str | None = None,
    payer_claim: str = "PCN",
) -> ClaimPayment:
    total_charge = Decimal(charge) if charge is not None else sum((s.charge for s in services), Decimal(0))
    total_paid = Decimal(paid) if paid is not None else sum((s.paid for s in services), Decimal(0))
    return ClaimPayment(
        patient_control_number=control,
        status=status,
        charge=total_charge,
        paid=total_paid,
        payer_claim_number=f"{payer_claim}{control}",
        patient_responsibility=None if patient_responsibility is None else Decimal(patient_responsibility),
        facility_code="12",
        frequency="1",
        patient_last_name="Garcia",
        patient_first_name="Ana",
        patient_member_id="91234567A",
        adjustments=adjustments,
        services=services,
    )


def remittance(
    claims: tuple[ClaimPayment, ...],
    plbs: tuple[ProviderAdjustment, ...] = (),
    *,
    total: Decimal | None = None,
    method: str = "CHK",
) -> Remittance:
    return Remittance(
        handling_code="I",
        total_paid=balanced_total(claims, plbs) if total is None else total,
        payment_method=method,
        payment_date=PAID_ON,
        trace_number="CHK0042001",
        payer_name="L.A. Care Health Plan",
        payer_id="LACARE01",
        payee_name="Casa Esperanza Community Services",
        payee_npi="1234567893",
        payee_tin="951234567",
        production_date=dt.date(2025, 4, 8),
        claims=claims,
        provider_adjustments=plbs,
    )


def bulk_claim_payments(count: int) -> Iterator[ClaimPayment]:
    """Claims of 1-2 lines: full pay, CO-45 short pay, PR deductible and a CO-197 denial in turn."""
    co45 = Adjustment("CO", "45", Decimal("24.50"))
    for n in range(count):
        kind = n % 4
        lines = []
        for i in range(1 + n % 2):
            lc = f"L{n}-{i}"
            if kind == 0:
                lines.append(service_payment("125.50", "125.50", line_control=lc, allowed="125.50"))
            elif kind == 1:
                lines.append(service_payment("125.50", "101", co45, line_control=lc, allowed="101"))
            elif kind == 2:
                lines.append(
                    service_payment("125.50", "100.50", Adjustment("PR", "1", Decimal("25")), line_control=lc)
                )
            else:
                lines.append(
                    service_payment(
                        "125.50",
                        "0",
                        Adjustment("CO", "197", Decimal("125.50")),
                        line_control=lc,
                        rarc=("N54",),
                    )
                )
        status = "4" if kind == 3 else "1"
        pr = "25" if kind == 2 else None
        yield claim_payment(f"C{n:07d}", status, tuple(lines), patient_responsibility=pr)


# --------------------------------------------------------------------------- ERAs as payers send them
#
# Our own fixture files (never copies of anyone's): each reproduces one construct real payers,
# clearinghouses and pharmacy benefit managers send. ``ERA_CORPUS`` maps construct → fixture; the
# transforms below turn any 835 we write into the envelopes payers use (BOM, control-character
# delimiters, lines wrapped at 80 columns, CR/LF terminators, a new ISA13, the 4010 version).

_ISA = (
    "ISA*00*          *00*          *ZZ*PCHP0001       *ZZ*EASTSIDE01     *250410*0930*^*00501*{isa13}*0*T*:~"
)
_PAYER = (
    "N1*PR*PACIFIC COAST HEALTH PLAN~N3*1055 W 7TH ST~N4*LOS ANGELES*CA*90017~REF*2U*PCHP0001~"
    "PER*BL*EDI SUPPORT*TE*2135550100~N1*PE*EASTSIDE COMMUNITY KITCHEN*XX*1234567893~"
)


def _set(st02: str, body: str) -> str:
    """ST … SE around ``body`` (segments ending in ``~``), SE01 counted."""
    count = body.count("~") + 2
    return f"ST*835*{st02}~{body}SE*{count}*{st02}~"


def _interchange(isa13: str, gs06: str, *sets: str) -> str:
    return (
        _ISA.format(isa13=isa13)
        + f"GS*HP*PCHP0001*EASTSIDE01*20250410*0930*{gs06}*X*005010X221A1~"
        + "".join(sets)
        + f"GE*{len(sets)}*{gs06}~IEA*1*{isa13}~"
    )


# Two payments (two ST) in one ISA; the second claim carries MIA and MOA (inpatient/outpatient
# adjudication remarks some plans send even on professional claims).
ERA_SEVERAL_ST_MIA_MOA = _interchange(
    "000000101",
    "101",
    _set(
        "0001",
        "BPR*I*100*C*CHK************20250410~TRN*1*CHK1001*1951111111~"
        + _PAYER
        + "LX*1~CLP*C0000001*1*125*100**MC*PCHP1*12*1~NM1*QC*1*GARCIA*ANA****MI*98000001A~"
        + "SVC*HC:T2041:U6*125*100**1~DTM*472*20250203~CAS*CO*45*25~REF*6R*C0000001-1~AMT*B6*100~",
    ),
    _set(
        "0002",
        "BPR*I*80*C*CHK************20250410~TRN*1*CHK1002*1951111111~"
        + _PAYER
        + "LX*1~CLP*C0000002*1*80*80**MC*PCHP2*12*1~NM1*QC*1*NGUYEN*TRAN****MI*98000002A~"
        + "MIA*0***0~MOA***MA01*N54~DTM*232*20250203~",
    ),
)

# PLB with a composite reference (WO:<claim recouped>, L6:<interest id>) and a CAS segment with
# six triplets.
ERA_PLB_COMPOSITE_CAS_SIX = _interchange(
    "000000102",
    "102",
    _set(
        "0001",
        "BPR*I*431.75*C*CHK************20250410~TRN*1*CHK1003*1951111111~"
        + _PAYER
        + "LX*1~CLP*C0000003*2*600*480**MC*PCHP3*12*1~NM1*QC*1*SMITH*JAMES****MI*98000003A~"
        + "CAS*CO*45*40**253*10**59*20*1*94*15**131*25**A1*10~"
        + "PLB*1234567893*20251231*WO:PCHP-OLD-77*50*L6:INT0042*-1.75~",
    ),
)

# A reversal (CLP02 22, negative amounts) of an earlier payment and the claim paid again.
ERA_REVERSAL_READJUDICATION = _interchange(
    "000000103",
    "103",
    _set(
        "0001",
        "BPR*I*-15*D*NON************20250410~TRN*1*CHK1004*1951111111~"
        + _PAYER
        + "LX*1~CLP*C0000004*22*-125*-125**MC*PCHP4*12*1~NM1*QC*1*KIM*MEI****MI*98000004A~"
        + "CLP*C0000004*1*125*110**MC*PCHP4B*12*1~CAS*CO*45*15~NM1*QC*1*KIM*MEI****MI*98000004A~",
    ),
)

# Pipe as element separator, caret as component separator (and ISA11 repetition "{" ), "~" ends.
ERA_PIPE_CARET = (
    "ISA|00|          |00|          |ZZ|PCHP0001       |ZZ|EASTSIDE01     |250410|0930|{|00501|000000104|0|T|^~"
    "GS|HP|PCHP0001|EASTSIDE01|20250410|0930|104|X|005010X221A1~"
    "ST|835|0001~BPR|I|90|C|CHK||||||||||||20250410~TRN|1|CHK1005|1951111111~"
    "N1|PR|PACIFIC COAST HEALTH PLAN~N1|PE|EASTSIDE COMMUNITY KITCHEN|XX|1234567893~"
    "LX|1~CLP|C0000005|1|90|90||MC|PCHP5|12|1~NM1|QC|1|REYES|SOFIA||||MI|98000005A~"
    "SVC|HC^T2041^U6|90|90||1~DTM|472|20250203~SE|11|0001~GE|1|104~IEA|1|000000104~"
)

ERA_CORPUS: dict[str, str] = {
    "several ST in one ISA, MIA and MOA": ERA_SEVERAL_ST_MIA_MOA,
    "PLB with composite reference, CAS with six triplets": ERA_PLB_COMPOSITE_CAS_SIX,
    "reversal and re-adjudication": ERA_REVERSAL_READJUDICATION,
    "| and ^ delimiters": ERA_PIPE_CARET,
}


def redelimit(
    text: str,
    *,
    element: str = "*",
    component: str = ":",
    segment: str = "~",
    repetition: str = "^",
    line_end: str = "",
) -> str:
    """An X12 text we wrote (``* : ^ ~``) with other delimiters, e.g. the control characters a
    pharmacy benefit manager uses (0x1D element, 0x1F component, 0x1E segment)."""
    table = str.maketrans({"*": element, ":": component, "^": repetition})
    out = []
    for seg in (s.strip("\r\n") for s in text.split("~")):
        if not seg:
            continue
        if seg.startswith("ISA"):
            parts = seg.split("*")
            parts[11], parts[16] = repetition, component
            out.append(element.join(parts))
        else:
            out.append(seg.translate(table))
    return (segment + line_end).join(out) + segment + line_end


def wrap(text: str, width: int = 80, newline: str = "\r\n") -> str:
    """The text broken every ``width`` characters wherever that falls, inside segments too (as
    some payers' mainframes write ERAs)."""
    flat = text.replace("\r", "").replace("\n", "")
    return newline.join(flat[i : i + width] for i in range(0, len(flat), width)) + newline


def with_bom(text: str) -> bytes:
    """UTF-8 with a byte-order mark in front."""
    return b"\xef\xbb\xbf" + text.encode()


def reenvelope(text: str, isa13: int, *, gs06: int | None = None) -> str:
    """The same content in a new interchange (ISA13/IEA02 and optionally GS06/GE02 renumbered):
    what a clearinghouse does when it sends an ERA again."""
    segs = text.replace("\n", "").split("~")
    old_isa = segs[0].split("*")[13]
    new = f"{isa13:09d}"
    out = []
    for seg in segs:
        parts = seg.split("*")
        if parts[0] == "ISA":
            parts[13] = new
        elif parts[0] == "IEA" and parts[2] == old_isa:
            parts[2] = new
        elif gs06 is not None and parts[0] == "GS":
            parts[6] = str(gs06)
        elif gs06 is not None and parts[0] == "GE":
            parts[2] = str(gs06)
        out.append("*".join(parts))
    return "~\n".join(s for s in out if s) + "~\n"


def as_4010(text: str) -> str:
    """The ERA as a payer still on the old standard sends it: ISA11 U, ISA12 00401, GS08
    004010X091A1."""
    segs = text.split("~")
    isa = segs[0].split("*")
    isa[11], isa[12] = "U", "00401"
    segs[0] = "*".join(isa)
    return "~".join(segs).replace("005010X221A1", "004010X091A1")
