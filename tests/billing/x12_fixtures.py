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
    return Envelope(sender_id="CASAESP", receiver_id="LACARE01", interchange_control_number=control,
                    created=CREATED, usage=usage)  # fmt: skip


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
        procedure_code=code, modifiers=mods, charge=rate * units, units=units,
        service_date=dt.date(2025, 2, day), diagnosis_pointers=pointers, line_control_number=f"L{n}",
    )  # fmt: skip
    defaults.update(kw)
    return ServiceLine(**defaults)  # type: ignore[arg-type]


def claim(n: int, *, lines: int | tuple[ServiceLine, ...] = 1, provider: BillingProvider = PROVIDER, payer: Payer = LA_CARE,
          member: int | None = None, **kw: object) -> Claim:  # fmt: skip
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
    return FunctionalGroup837(submitter=SUBMITTER, receiver=receiver, group_control_number=gs, batch_id=batch,
                              claims=claims)  # type: ignore[arg-type]  # fmt: skip


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
    return Envelope(sender_id="LACARE01", receiver_id="CASAESP", interchange_control_number=control,
                    created=CREATED, usage="T")  # fmt: skip


def service_payment(charge: str, paid: str, *adjustments: Adjustment, code: str = "G9008", mods: tuple[str, ...] = ("U1",),
                    line_control: str = "L1", allowed: str | None = None, rarc: tuple[str, ...] = (),
                    units: str = "1") -> ServicePayment:  # fmt: skip
    return ServicePayment(
        procedure_code=code, modifiers=mods, charge=Decimal(charge), paid=Decimal(paid), units=Decimal(units),
        service_date=dt.date(2025, 2, 3), line_control_number=line_control, adjustments=adjustments,
        allowed=None if allowed is None else Decimal(allowed), remark_codes=rarc,
    )  # fmt: skip


def claim_payment(control: str, status: str, services: tuple[ServicePayment, ...] = (), *,
                  adjustments: tuple[Adjustment, ...] = (), charge: str | None = None, paid: str | None = None,
                  patient_responsibility: str | None = None, payer_claim: str = "PCN") -> ClaimPayment:  # fmt: skip
    total_charge = Decimal(charge) if charge is not None else sum((s.charge for s in services), Decimal(0))
    total_paid = Decimal(paid) if paid is not None else sum((s.paid for s in services), Decimal(0))
    return ClaimPayment(
        patient_control_number=control, status=status, charge=total_charge, paid=total_paid,
        payer_claim_number=f"{payer_claim}{control}", patient_responsibility=None if patient_responsibility is None else Decimal(patient_responsibility),
        facility_code="12", frequency="1", patient_last_name="Garcia", patient_first_name="Ana", patient_member_id="91234567A",
        adjustments=adjustments, services=services,
    )  # fmt: skip


def remittance(claims: tuple[ClaimPayment, ...], plbs: tuple[ProviderAdjustment, ...] = (), *,
               total: Decimal | None = None, method: str = "CHK") -> Remittance:  # fmt: skip
    return Remittance(
        handling_code="I", total_paid=balanced_total(claims, plbs) if total is None else total, payment_method=method,
        payment_date=PAID_ON, trace_number="CHK0042001", payer_name="L.A. Care Health Plan", payer_id="LACARE01",
        payee_name="Casa Esperanza Community Services", payee_npi="1234567893", payee_tin="951234567",
        production_date=dt.date(2025, 4, 8), claims=claims, provider_adjustments=plbs,
    )  # fmt: skip


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
