"""Billing test data: a world whose CBO can bill (contract with claim-submission settings, ZIP+4,
a plan channel) and service deliveries logged straight into the table (so a test can craft the
bad data the scrubber must catch)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone

from billing.choices import DeliveryMethod
from billing.models import Claim, PlanChannel
from cbo_portal.models import Organization
from contracts.models import Contract
from referrals.models import Member, ServiceDelivery
from tests.contracts.factories import ensure_reference_data
from tests.referrals.factories import MemberFactory, authorization, contract, enroll, referral, service

# Prior authorization for T2041; S5170 and H0043 need none (so 50-line claims are easy to make).
TERMS = {
    "T2041-U6": {"unit": "15min", "rate": "25.00", "authorization": "prior"},
    "S5170-U6": {"unit": "meal", "rate": "12.50", "authorization": "none", "units_per_day": 2},
    "H0043-U6": {"unit": "day", "rate": "95.00", "authorization": "none"},
    "G9008-U1": {"unit": "month", "rate": "450.00", "authorization": "presumptive", "units_per_month": 1},
}
DX = ["Z59.01", "Z59.41"]


def last_month(day: int = 1) -> date:
    """A day of last month (claims need past dates within timely filing)."""
    first = timezone.localdate().replace(day=1)
    start = (first - timedelta(days=1)).replace(day=1)
    return start + timedelta(days=day - 1)


def billing_ready(org: Organization) -> Organization:
    Organization.objects.filter(pk=org.pk).update(
        service_zip="90012-1234", contact_name="Alex Rivera", phone="2135550100"
    )
    org.refresh_from_db()
    return org


def setup_billing(
    world,
    *,
    plan=None,
    terms: dict | None = None,
    number: str | None = None,
    claim_format: str = "837p",
    timely_filing_days: int = 180,
) -> Contract:
    """An active contract between the plan and world.cbo with the plan's 837P settings, a
    download channel, and billing-ready organizations (hub included)."""
    ensure_reference_data()
    plan = plan or world.plan
    for org in (world.cbo, world.hub, world.other_cbo):
        billing_ready(org)
    c = contract(plan, world.cbo, user=world.contract_manager, terms=terms or TERMS, number=number)
    Contract.objects.filter(pk=c.pk).update(
        payer_id=plan.payer_id,
        receiver_id=f"RCV{plan.pk}",
        submitter_id=f"SUB{world.hub.pk}",
        claim_format=claim_format,
        timely_filing_days=timely_filing_days,
    )
    PlanChannel.objects.get_or_create(plan=plan, defaults={"method": DeliveryMethod.DOWNLOAD})
    c.refresh_from_db()
    return c


def new_member(world, plan=None, **fields) -> Member:
    m = MemberFactory(**fields)
    enroll(m, plan or world.plan)
    return m


def delivery(
    world,
    *,
    member: Member | None = None,
    label: str = "H0043-U6",
    day: date | None = None,
    end: date | None = None,
    units: Decimal | str | int = 1,
    ref=None,
    auth=None,
    pos: str = "12",
    staff=None,
    plan=None,
    dx: list[str] | None = None,
) -> ServiceDelivery:
    """A logged delivery of ``label`` by world.cbo (a referral is made when none is given)."""
    plan = plan or world.plan
    if ref is None:
        member = member or new_member(world, plan)
        if plan == world.plan:
            ref = referral(world, member=member, label=label, diagnosis_codes=DX if dx is None else dx)
        else:
            from referrals.models import Referral

            ref = Referral.objects.create(
                plan=plan,
                cbo=world.cbo,
                member=member,
                service=service(label),
                diagnosis_codes=DX if dx is None else dx,
                status="accepted",
            )
    member = member or ref.member
    return ServiceDelivery.objects.create(
        member=member,
        cbo=world.cbo,
        plan=plan,
        referral=ref,
        authorization=auth,
        service=service(label),
        service_date=day or last_month(3),
        end_date=end,
        units=Decimal(str(units)),
        place_of_service=pos,
        staff=staff or world.cbo_staff,
        created_by=world.cbo_staff,
    )


def authorized_delivery(world, *, units_approved: int = 100, **kwargs) -> ServiceDelivery:
    """A T2041-U6 delivery under an approved authorization."""
    member = kwargs.pop("member", None) or new_member(world)
    ref = referral(world, member=member, label="T2041-U6", diagnosis_codes=DX)
    auth = authorization(
        world,
        ref,
        units=units_approved,
        start=last_month(1) - timedelta(days=40),
        end=timezone.localdate() + timedelta(days=60),
    )
    return delivery(world, label="T2041-U6", ref=ref, auth=auth, units=kwargs.pop("units", 4), **kwargs)


def claims_of(delivery_: ServiceDelivery) -> list[Claim]:
    return list(Claim.objects.filter(lines__delivery=delivery_).distinct())
