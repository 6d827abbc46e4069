"""Factories for the referrals tests: members, contracts to log against, referrals in any status."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from cbo_portal.models import County
from contracts import selectors as contract_selectors
from contracts.choices import ContractStatus
from contracts.models import Contract, RateLine, RateLineVersion, ServiceCatalogEntry
from referrals.models import Enrollment, Member
from referrals.services import authorizations as auth_svc
from referrals.services import referrals as ref_svc
from tests.contracts.factories import ensure_reference_data

LONG_AGO = date(2024, 1, 1)


def cin(n: int) -> str:
    return f"9{n:07d}A"


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    cin = factory.Sequence(lambda n: cin(n + 1000))
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    dob = date(1970, 5, 17)
    sex = "F"
    phone = "213-555-0199"
    street = "200 N Spring St"
    city = "Los Angeles"
    zip = "90012"
    county = factory.LazyFunction(lambda: County.objects.get(name="Los Angeles"))
    preferred_language = "Spanish"


def enroll(member: Member, plan, start: date = LONG_AGO, end: date | None = None) -> Enrollment:
    return Enrollment.objects.create(member=member, plan=plan, start_date=start, end_date=end)


def service(label: str) -> ServiceCatalogEntry:
    code, *mods = label.split("-")
    return ServiceCatalogEntry.objects.lookup(code, mods)


DEFAULT_TERMS = {
    "T2041-U6": {"unit": "15min", "rate": "25.00", "authorization": "prior"},
    "S5170-U6": {"unit": "meal", "rate": "12.50", "authorization": "prior", "units_per_day": 2},
    "G9008-U1": {"unit": "month", "rate": "450.00", "authorization": "presumptive", "units_per_month": 1},
    "H0014-U6": {"unit": "service", "rate": "300.00", "authorization": "retroactive"},
}


def contract(
    plan,
    cbo,
    *,
    user,
    terms: dict | None = None,
    start: date = LONG_AGO,
    end: date | None = None,
    counties=("Los Angeles",),
    number: str | None = None,
) -> Contract:
    """An active contract with one rate line (and version) per service label in ``terms``."""
    c = Contract.objects.create(
        plan=plan,
        cbo=cbo,
        number=number or f"C-{plan.pk}-{cbo.pk}-{Contract.objects.count() + 1}",
        start_date=start,
        end_date=end,
        status=ContractStatus.ACTIVE,
        created_by=user,
        activated_at=timezone.now(),
    )
    c.counties.set(County.objects.filter(name__in=counties))
    for label, t in (terms or DEFAULT_TERMS).items():
        line = RateLine.objects.create(contract=c, service=service(label), created_by=user)
        RateLineVersion.objects.create(
            rate_line=line, effective_from=start, created_by=user, **{**t, "rate": Decimal(str(t["rate"]))}
        )
    return c


@contextmanager
def covered_for_the_referral(world, label: str):
    """A plan refers a member only for a service the CBO is contracted for on the day. Tests about
    what happens later (logging, billing, a contract that no longer covers the service) need the
    referral whatever today's contracts say, so when none covers ``label`` a contract covering it
    in every county stands for the moment of referral and is gone after it: the world is as the
    test built it, and the referral went through the real service."""
    if contract_selectors.coverage(world.cbo, world.plan, service(label), on=timezone.localdate()):
        yield
        return
    terms = DEFAULT_TERMS.get(label, {"unit": "service", "rate": "10.00", "authorization": "none"})
    stand_in = contract(world.plan, world.cbo, user=world.contract_manager, terms={label: terms}, counties=())
    try:
        yield
    finally:
        stand_in.delete()


def referral(world, *, member: Member | None = None, label: str = "T2041-U6", accept: bool = True, **fields):
    """A referral from world.plan to world.cbo (accepted unless told otherwise)."""
    member = member or MemberFactory()
    with covered_for_the_referral(world, label):
        r = ref_svc.create_referral(
            acting_user=world.care_coordinator,
            plan=world.plan,
            cbo=world.cbo,
            member=member,
            service=service(label),
            **fields,
        )
    if not Enrollment.objects.filter(member=member, plan=world.plan, start_date__lte=LONG_AGO).exists():
        Enrollment.objects.filter(member=member, plan=world.plan).update(start_date=LONG_AGO)
    if accept:
        r = ref_svc.accept(r, acting_user=world.cbo_admin)
    return r


def authorization(
    world,
    ref,
    *,
    units: int = 10,
    number: str | None = None,
    start: date | None = None,
    end: date | None = None,
):
    today = timezone.localdate()
    return auth_svc.authorize(
        ref,
        acting_user=world.care_coordinator,
        number=number or f"AUTH-{ref.pk}-{units}",
        units=units,
        start_date=start or today - timedelta(days=60),
        end_date=end or today + timedelta(days=60),
    )


def contracted(world, *, plan=None, cbo=None, labels=("T2041-U6", "S5170-U6")) -> Contract:
    """An active contract in every county for ``labels`` between ``plan`` and ``cbo`` (world's by
    default): what a plan needs before it refers a member there."""
    ensure_reference_data()
    return contract(
        plan or world.plan,
        cbo or world.cbo,
        user=world.contract_manager,
        terms={label: DEFAULT_TERMS[label] for label in labels},
        counties=(),
    )


def covered_world(world):
    """world with an active contract between world.plan and world.cbo (reloading the reference
    data a transactional test before may have flushed)."""
    ensure_reference_data()
    contract(world.plan, world.cbo, user=world.contract_manager)
    return world
