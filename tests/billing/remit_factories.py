"""Submitted claims to post 835s and 999s against, and the 835/999 files that speak about them.

Claims are built straight with the ORM (the claim-building service is someone else's and is not
what these tests are about): one plan–CBO contract, a referral, a service delivery per line.
``bulk_submitted_claims`` does the same with ``bulk_create`` for the benchmark.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from decimal import Decimal

from django.utils import timezone

from billing.choices import BatchStatus, ClaimStatus
from billing.models import Batch, Claim, ClaimLine
from billing.x12 import ack999
from billing.x12.claim837 import Address
from billing.x12.common import Envelope
from billing.x12.remit835 import Adjustment, ClaimPayment, ProviderAdjustment, Remittance, ServicePayment
from billing.x12.remit835_writer import PayerDetails, balanced_total, render_835
from contracts.models import Contract, ServiceCatalogEntry
from referrals.models import Member, Referral, ServiceDelivery

SERVICE_DATE = dt.date(2025, 2, 3)
PAID_ON = dt.date(2025, 4, 10)
CREATED = dt.datetime(2025, 4, 10, 9, 30)
PAYER = PayerDetails(
    address=Address("1055 W 7th St", "Los Angeles", "CA", "90017"),
    contact_name="EDI Support",
    contact_phone="2135550100",
    ein="951111111",
)


def _contract(plan, cbo, user) -> Contract:
    found = Contract.objects.filter(plan=plan, cbo=cbo).first()
    if found:
        return found
    from tests.referrals.factories import contract

    return contract(plan, cbo, user=user)


def _catalog(code: str = "T2041", mods: Sequence[str] = ("U6",)) -> ServiceCatalogEntry:
    return ServiceCatalogEntry.objects.lookup(code, list(mods))


def _member(n: int) -> Member:
    cin = f"98{n % 1_000_000:06d}A"
    member, _ = Member.objects.get_or_create(
        cin=cin, defaults={"first_name": "Ana", "last_name": f"Garcia{n}", "dob": dt.date(1970, 5, 17)}
    )
    return member


_counter = {"n": 0}


def submitted_claim(
    world,
    *,
    charges: Sequence[str] = ("125.00",),
    provider=None,
    plan=None,
    control: str | None = None,
    status: str = ClaimStatus.SUBMITTED,
    batch: Batch | None = None,
    set_control: str = "0001",
    submitted_days_ago: int = 10,
) -> Claim:
    """A claim sent to ``plan`` (world.plan) by ``provider`` (world.cbo), one line per charge; line
    control numbers are ``<control>-<n>``."""
    provider = provider or world.cbo
    plan = plan or world.plan
    _counter["n"] += 1
    n = _counter["n"] + Claim.objects.count()
    control = control or f"CLM{n:06d}"
    user = world.cbo_staff
    member = _member(n)
    service = _catalog()
    referral = Referral.objects.create(
        plan=plan, cbo=provider, member=member, service=service, status="accepted"
    )
    billed = sum((Decimal(c) for c in charges), Decimal(0))
    claim = Claim.objects.create(
        billing_provider=provider,
        submitter=provider,
        plan=plan,
        contract=_contract(plan, provider, world.contract_manager),
        member=member,
        referral=referral,
        service_month=SERVICE_DATE.replace(day=1),
        first_service_date=SERVICE_DATE,
        last_service_date=SERVICE_DATE,
        control_number=control,
        status=status,
        place_of_service="12",
        diagnosis_codes=["Z59.01"],
        billed_amount=billed,
        batch=batch,
        transaction_set_control=set_control,
        submitted_at=timezone.now() - dt.timedelta(days=submitted_days_ago),
    )
    for i, charge in enumerate(charges, start=1):
        delivery = ServiceDelivery.objects.create(
            member=member,
            cbo=provider,
            plan=plan,
            referral=referral,
            service=service,
            service_date=SERVICE_DATE + dt.timedelta(days=i - 1),
            units=Decimal(1),
            place_of_service="12",
            staff=user,
            created_by=user,
        )
        ClaimLine.objects.create(
            claim=claim,
            line_number=i,
            delivery=delivery,
            line_control_number=f"{control}-{provider.pk}-{i}",
            service=service,
            procedure_code="T2041",
            modifiers=["U6"],
            service_date=delivery.service_date,
            units=Decimal(1),
            rate=Decimal(charge),
            charge=Decimal(charge),
        )
    return claim


def sent_batch(
    world, *, group_control: int = 501, sets: dict[str, int] | None = None, provider=None
) -> Batch:
    """A submitted batch with ``sets`` = {ST02: number of claims}."""
    provider = provider or world.cbo
    batch = Batch.objects.create(
        submitter=provider,
        plan=world.plan,
        status=BatchStatus.SUBMITTED,
        interchange_control=group_control,
        group_control=group_control,
        submitted_at=timezone.now(),
        file_name=f"batch{group_control}.837",
    )
    for st02, count in (sets or {"0001": 2}).items():
        for _ in range(count):
            submitted_claim(world, provider=provider, batch=batch, set_control=st02)
    return batch


# --------------------------------------------------------------------------- 835 files


def line_pay(
    claim: Claim, n: int, paid: str, *adjustments: Adjustment, rarc: Sequence[str] = ()
) -> ServicePayment:
    line = claim.lines.get(line_number=n)
    return ServicePayment(
        procedure_code=line.procedure_code,
        modifiers=tuple(line.modifiers),
        charge=line.charge,
        paid=Decimal(paid),
        service_date=line.service_date,
        line_control_number=line.line_control_number,
        adjustments=adjustments,
        remark_codes=tuple(rarc),
    )


def clp(
    claim: Claim | str,
    status: str,
    services: Sequence[ServicePayment] = (),
    *,
    charge: str | None = None,
    paid: str | None = None,
    adjustments: Sequence[Adjustment] = (),
    pr: str | None = None,
    payer_claim: str | None = None,
) -> ClaimPayment:
    control = claim if isinstance(claim, str) else claim.control_number
    total_charge = Decimal(charge) if charge is not None else sum((s.charge for s in services), Decimal(0))
    total_paid = Decimal(paid) if paid is not None else sum((s.paid for s in services), Decimal(0))
    return ClaimPayment(
        patient_control_number=control,
        status=status,
        charge=total_charge,
        paid=total_paid,
        payer_claim_number=payer_claim or f"PCHP{control}",
        patient_responsibility=None if pr is None else Decimal(pr),
        facility_code="12",
        frequency="1",
        patient_last_name="Garcia",
        patient_first_name="Ana",
        patient_member_id="98000001A",
        adjustments=tuple(adjustments),
        services=tuple(services),
    )


def adj(group: str, carc: str, amount: str) -> Adjustment:
    return Adjustment(group, carc, Decimal(amount))


def remittance_835(
    world,
    claims: Sequence[ClaimPayment] | Iterator[ClaimPayment],
    plbs: Sequence[ProviderAdjustment] = (),
    *,
    total: Decimal | None = None,
    trace: str = "EFT000123",
    control: int = 7,
    npi: str | None = None,
    check_balance: bool = True,
    payer_id: str | None = None,
) -> bytes:
    """An 835 from world.plan to world.cbo (payee NPI = the CBO's)."""
    claims = list(claims)
    header = Remittance(
        handling_code="I",
        total_paid=balanced_total(claims, plbs) if total is None else total,
        payment_method="CHK",
        payment_date=PAID_ON,
        trace_number=trace,
        payer_name=world.plan.legal_name,
        payer_id=payer_id or world.plan.payer_id,
        payee_name=world.cbo.legal_name,
        payee_npi=npi or world.cbo.npi,
        claims=tuple(claims),
        provider_adjustments=tuple(plbs),
    )
    env = Envelope(
        sender_id=world.plan.payer_id or "PLAN",
        receiver_id="CBOSUB",
        interchange_control_number=control,
        created=CREATED,
        usage="T",
    )
    return render_835(env, header, PAYER, check_balance=check_balance, newline=True).encode()


def plb(reason: str, amount: str, reference: str = "", provider: str = "") -> ProviderAdjustment:
    return ProviderAdjustment(reason, reference, Decimal(amount), provider, dt.date(2025, 12, 31))


# --------------------------------------------------------------------------- 999 files


def ack_999(
    batch: Batch,
    *,
    sets: Sequence[str],
    rejected: dict[str, Sequence[ack999.SegmentError]] | None = None,
    control: int = 9,
) -> bytes:
    env = Envelope(
        sender_id="PLANCH",
        receiver_id="CBOSUB",
        interchange_control_number=control,
        created=CREATED,
        usage="T",
    )
    request = ack999.AckRequest(
        group_control_number=batch.group_control, set_control_numbers=list(sets), rejected=rejected or {}
    )
    return ack999.render_999(env, [request], group_control_number=control).encode()


# --------------------------------------------------------------------------- bulk (benchmark)


def bulk_submitted_claims(
    plan,
    provider,
    user,
    count: int,
    *,
    lines_per_claim: int = 1,
    prefix: str = "B",
    charge: Decimal = Decimal("125.50"),
    progress=None,
) -> None:
    """``count`` submitted claims (``<prefix><n:07d>``, lines ``<prefix><n>-<i>``) of ``provider``
    to ``plan``, all with ``bulk_create``. Members come from a pool of 1,000 (one referral each);
    ``user`` is the staff member on the deliveries: use a fresh one per run, as a delivery is unique
    per member, service, date and staff member."""
    service = _catalog()
    contract = _contract(plan, provider, user)
    pool = [_member(900_000 + k) for k in range(1000)]
    referrals = Referral.objects.bulk_create(
        [Referral(plan=plan, cbo=provider, member=m, service=service, status="accepted") for m in pool]
    )
    step = 5000
    today = timezone.now()
    base_day = dt.date(2024, 1, 1)
    for start in range(0, count, step):
        ns = range(start, min(count, start + step))
        claims = Claim.objects.bulk_create(
            [
                Claim(
                    billing_provider=provider,
                    submitter=provider,
                    plan=plan,
                    contract=contract,
                    member=pool[n % 1000],
                    referral=referrals[n % 1000],
                    service_month=SERVICE_DATE.replace(day=1),
                    first_service_date=SERVICE_DATE,
                    last_service_date=SERVICE_DATE,
                    control_number=f"{prefix}{n:07d}",
                    status=ClaimStatus.SUBMITTED,
                    place_of_service="12",
                    diagnosis_codes=["Z59.01"],
                    billed_amount=charge * lines_per_claim,
                    submitted_at=today,
                )
                for n in ns
            ],
            batch_size=step,
        )
        deliveries = ServiceDelivery.objects.bulk_create(
            [
                ServiceDelivery(
                    member=pool[n % 1000],
                    cbo=provider,
                    plan=plan,
                    referral=referrals[n % 1000],
                    service=service,
                    service_date=base_day + dt.timedelta(days=(n // 1000) * lines_per_claim + i),
                    units=Decimal(1),
                    place_of_service="12",
                    staff=user,
                    created_by=user,
                )
                for n in ns
                for i in range(lines_per_claim)
            ],
            batch_size=step,
        )
        it = iter(deliveries)
        ClaimLine.objects.bulk_create(
            [
                ClaimLine(
                    claim=c,
                    line_number=i + 1,
                    delivery=next(it),
                    line_control_number=f"{c.control_number}-{i + 1}",
                    service=service,
                    procedure_code="T2041",
                    modifiers=["U6"],
                    service_date=SERVICE_DATE,
                    units=Decimal(1),
                    rate=charge,
                    charge=charge,
                )
                for c in claims
                for i in range(lines_per_claim)
            ],
            batch_size=step,
        )
        if progress:
            progress(min(count, start + step))


def bulk_claim_payments(
    count: int, *, lines_per_claim: int = 1, prefix: str = "B", charge: Decimal = Decimal("125.50")
) -> Iterator[ClaimPayment]:
    """Payments for ``bulk_submitted_claims``: full pay, CO-45 short pay, PR, CO-197 denial in turn."""
    for n in range(count):
        kind = n % 4
        control = f"{prefix}{n:07d}"
        services = []
        for i in range(lines_per_claim):
            if kind == 0:
                paid, adjs = charge, ()
            elif kind == 1:
                paid, adjs = charge - Decimal("24.50"), (Adjustment("CO", "45", Decimal("24.50")),)
            elif kind == 2:
                paid, adjs = charge - Decimal("25"), (Adjustment("PR", "1", Decimal("25")),)
            else:
                paid, adjs = Decimal(0), (Adjustment("CO", "197", charge),)
            services.append(
                ServicePayment(
                    procedure_code="T2041",
                    modifiers=("U6",),
                    charge=charge,
                    paid=paid,
                    service_date=SERVICE_DATE,
                    line_control_number=f"{control}-{i + 1}",
                    adjustments=adjs,
                    remark_codes=("N54",) if kind == 3 else (),
                )
            )
        yield ClaimPayment(
            patient_control_number=control,
            status="4" if kind == 3 else "1",
            charge=charge * lines_per_claim,
            paid=sum((s.paid for s in services), Decimal(0)),
            payer_claim_number=f"P{control}",
            patient_responsibility=Decimal(25 * lines_per_claim) if kind == 2 else None,
            facility_code="12",
            frequency="1",
            patient_last_name="Bench",
            patient_first_name="Ana",
            services=tuple(services),
        )


# --------------------------------------------------------------------------- 277CA and TA1 files


def ack_277ca(
    claims: Sequence[Claim],
    *,
    rejected: dict[str, tuple[str, str, str]] | None = None,
    control: int = 11,
    batch_reference: str = "B1",
) -> bytes:
    """A 277CA from the plan's clearinghouse about ``claims`` (all of one billing provider):
    accepted (A2:20, with a payer claim number REF*1K) unless ``rejected`` maps the control number
    to its (category, status, entity) verdict."""
    from billing.x12.ack277 import ClaimVerdict, render_277ca

    rejected = rejected or {}
    verdicts = []
    for claim in claims:
        verdict = rejected.get(claim.control_number)
        if verdict is None:
            verdicts.append(
                ClaimVerdict(
                    claim.control_number,
                    str(claim.billed_amount),
                    payer_claim_number=f"PCN{claim.control_number}",
                )
            )
        else:
            verdicts.append(ClaimVerdict(claim.control_number, str(claim.billed_amount), *verdict))
    env = Envelope(
        sender_id="PLANCH",
        receiver_id="CBOSUB",
        interchange_control_number=control,
        created=CREATED,
        usage="T",
    )
    provider = claims[0].billing_provider
    return render_277ca(
        env,
        batch_reference=batch_reference,
        provider_npi=provider.npi,
        provider_name=provider.legal_name.upper(),
        verdicts=verdicts,
    ).encode()


def ack_ta1(batch: Batch, *, status: str = "A", note: str = "000", control: int = 12) -> bytes:
    """A TA1 answering the batch's interchange (ISA13)."""
    from billing.x12.ack277 import render_ta1

    env = Envelope(
        sender_id="PLANCH",
        receiver_id="CBOSUB",
        interchange_control_number=control,
        created=CREATED,
        usage="T",
    )
    return render_ta1(
        env, interchange_control_number=batch.interchange_control, status=status, note_code=note
    ).encode()
