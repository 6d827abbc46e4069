"""Building claims from logged services: grouping, pricing, numbering, states, one live claim
per delivery."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction

from billing.choices import ClaimStatus
from billing.models import Claim, ClaimLine, ClaimStatusChange
from billing.services.claims import build_claims
from contracts.models import RateLine, RateLineVersion
from tests.billing.factories import authorized_delivery, delivery, last_month, new_member, setup_billing

pytestmark = pytest.mark.django_db


@pytest.fixture
def bw(world):
    setup_billing(world)
    return world


def test_one_claim_per_member_authorization_and_month_with_priced_lines(bw):
    member = new_member(bw)
    a = delivery(bw, member=member, day=last_month(3), units=1)
    b = delivery(bw, member=member, ref=a.referral, label="H0043-U6", day=last_month(4), units=2)
    other_month = delivery(bw, member=member, ref=a.referral, day=last_month(1) - timedelta(days=1), units=1)
    result = build_claims(acting_user=bw.cbo_billing)
    assert result.claims == 2 and result.lines == 3 and result.ready == 2, result
    claim = Claim.objects.get(lines__delivery=a)
    assert claim.status == ClaimStatus.READY
    assert [ln.delivery_id for ln in claim.lines.all()] == [a.pk, b.pk]
    assert claim.billed_amount == Decimal("285.00")  # (1 + 2) days × $95
    assert claim.diagnosis_codes == ["Z59.01", "Z59.41"]
    assert claim.billing_provider == bw.cbo and claim.submitter == bw.hub and claim.plan == bw.plan
    assert claim.service_month == last_month(1)
    line = claim.lines.get(line_number=1)
    assert line.line_control_number == f"{claim.control_number}-01" and line.modifiers == ["U6"]
    assert line.rate == Decimal("95.0000") and line.charge == Decimal("95.00")
    assert Claim.objects.get(lines__delivery=other_month) != claim
    a.refresh_from_db()
    assert a.billed_at is not None
    assert list(ClaimStatusChange.objects.filter(claim=claim).values_list("from_status", "to_status")) == [
        ("draft", "ready")
    ]


def test_rate_in_force_on_each_date_of_service(bw, world):
    line = RateLine.objects.get(contract__cbo=world.cbo, service__code="H0043")
    RateLineVersion.objects.create(
        rate_line=line,
        effective_from=last_month(10),
        unit="day",
        rate=Decimal("100"),
        authorization="none",
        created_by=world.contract_manager,
    )
    member = new_member(bw)
    early = delivery(bw, member=member, day=last_month(5))
    late = delivery(bw, member=member, ref=early.referral, day=last_month(12))
    build_claims(acting_user=bw.cbo_billing)
    assert ClaimLine.objects.get(delivery=early).charge == Decimal("95.00")
    assert ClaimLine.objects.get(delivery=late).charge == Decimal("100.00")


def test_more_than_50_lines_split_into_two_claims(bw):
    member = new_member(bw)
    first = delivery(bw, member=member, day=last_month(1))
    for day in range(2, 27):
        delivery(bw, member=member, ref=first.referral, day=last_month(day))
    for day in range(1, 27):
        delivery(bw, member=member, ref=first.referral, label="S5170-U6", day=last_month(day), units=2)
    result = build_claims(acting_user=bw.cbo_billing)
    assert result.claims == 2 and result.lines == 52
    assert sorted(c.lines.count() for c in Claim.objects.all()) == [2, 50]


def test_authorization_splits_claims_and_hub_submits_for_its_cbo(bw):
    member = new_member(bw)
    a = authorized_delivery(bw, member=member, units=4)
    b = delivery(bw, member=member, day=last_month(3))
    build_claims(acting_user=bw.hub_billing)
    ca, cb = Claim.objects.get(lines__delivery=a), Claim.objects.get(lines__delivery=b)
    assert ca != cb and ca.authorization == a.authorization and cb.authorization is None
    assert ca.billed_amount == Decimal("100.00")
    assert ca.submitter == bw.hub


def test_control_numbers_unique_per_provider_and_never_reused(bw):
    for _ in range(3):
        delivery(bw)
    build_claims(acting_user=bw.cbo_billing)
    first = set(Claim.objects.values_list("control_number", flat=True))
    delivery(bw)
    build_claims(acting_user=bw.cbo_billing)
    numbers = list(Claim.objects.values_list("control_number", flat=True))
    assert len(numbers) == len(set(numbers)) == 4 and first < set(numbers)


def test_billed_deliveries_are_not_billed_again_and_the_database_refuses_a_second_live_line(bw):
    d = delivery(bw)
    build_claims(acting_user=bw.cbo_billing)
    assert build_claims(acting_user=bw.cbo_billing).claims == 0
    line = ClaimLine.objects.get(delivery=d)
    with pytest.raises(IntegrityError), transaction.atomic():
        ClaimLine.objects.create(
            claim=line.claim,
            line_number=2,
            delivery=d,
            line_control_number="X-1",
            service=line.service,
            procedure_code="H0043",
            service_date=line.service_date,
            units=1,
            rate=1,
            charge=1,
        )


def test_staff_and_outsiders_cannot_build_or_see_others_services(bw):
    delivery(bw)
    with pytest.raises(PermissionDenied):
        build_claims(acting_user=bw.cbo_staff)
    assert build_claims(acting_user=bw.other_cbo_admin).claims == 0
    assert build_claims(acting_user=bw.cbo_billing).claims == 1
