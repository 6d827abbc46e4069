"""The scrubber: each check holds a claim with a plain-language message and a fix, and the
claim clears once the source data is fixed and the claim re-scrubbed."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.choices import ClaimStatus
from billing.models import Claim, ClaimLine
from billing.services.claims import build_claims, rescrub_claim
from cbo_portal.models import Organization
from contracts.models import Contract, RateLine, RateLineVersion
from referrals.models import Authorization, Enrollment, Member, Referral, ServiceDelivery
from referrals.services.authorizations import expire_ended
from referrals.services.deliveries import log_service
from tests.billing.factories import authorized_delivery, delivery, last_month, setup_billing
from tests.factories import UserFactory, valid_npi
from tests.referrals.factories import authorization, referral, service

pytestmark = pytest.mark.django_db


def org(w, **f):
    Organization.objects.filter(pk=w.cbo.pk).update(**f)


def member_of(d, **f):
    Member.objects.filter(pk=d.member_id).update(**f)


def deliv(d, **f):
    ServiceDelivery.objects.filter(pk=d.pk).update(**f)


def _t2040(w, d):
    c = Contract.objects.get(cbo=w.cbo)
    line = RateLine.objects.create(contract=c, service=service("T2040-U6"), created_by=w.contract_manager)
    RateLineVersion.objects.create(
        rate_line=line,
        effective_from=date(2024, 1, 1),
        unit="day",
        rate=Decimal("80"),
        authorization="none",
        created_by=w.contract_manager,
    )


def _attach_auth(w, d):
    auth = authorization(w, d.referral, units=50, start=last_month(1), end=timezone.localdate())
    deliv(d, authorization=auth)


def _second_staff(w, d):
    """A second entry of the same service, day and member by someone else."""
    return delivery(w, ref=d.referral, day=d.service_date, staff=w.cbo_admin)


# (name, make the bad delivery, break, fix, code, words in the message)
CASES = [
    (
        "npi",
        lambda w: delivery(w),
        lambda w, d: org(w, npi="1234567890"),
        lambda w, d: org(w, npi=valid_npi(7)),
        "provider_npi",
        "check digit",
    ),
    (
        "tin",
        lambda w: delivery(w),
        lambda w, d: org(w, tin="12345"),
        lambda w, d: org(w, tin="951112222"),
        "provider_tin",
        "TIN",
    ),
    (
        "taxonomy",
        lambda w: delivery(w),
        lambda w, d: org(w, taxonomy_code="12"),
        lambda w, d: org(w, taxonomy_code="251S00000X"),
        "provider_taxonomy",
        "taxonomy",
    ),
    (
        "zip4",
        lambda w: delivery(w),
        lambda w, d: org(w, service_zip="90012"),
        lambda w, d: org(w, service_zip="90012-4321"),
        "provider_zip",
        "ZIP+4",
    ),
    (
        "po box",
        lambda w: delivery(w),
        lambda w, d: org(w, service_street="PO Box 12"),
        lambda w, d: org(w, service_street="12 Main St"),
        "provider_address",
        "PO box",
    ),
    (
        "cin",
        lambda w: delivery(w),
        lambda w, d: member_of(d, cin="12AB"),
        lambda w, d: member_of(d, cin="97654321A"),
        "member_cin",
        "8 digits followed by a letter",
    ),
    (
        "name",
        lambda w: delivery(w),
        lambda w, d: member_of(d, last_name=""),
        lambda w, d: member_of(d, last_name="Reyes"),
        "member_name",
        "first or last name",
    ),
    (
        "dob",
        lambda w: delivery(w),
        lambda w, d: member_of(d, dob=timezone.localdate() + timedelta(days=3)),
        lambda w, d: member_of(d, dob=date(1970, 1, 2)),
        "member_dob",
        "date of birth",
    ),
    (
        "address",
        lambda w: delivery(w),
        lambda w, d: member_of(d, street=""),
        lambda w, d: member_of(d, street="1 A St"),
        "member_address",
        "address",
    ),
    (
        "enrollment",
        lambda w: delivery(w),
        lambda w, d: Enrollment.objects.filter(member_id=d.member_id).update(end_date=last_month(1)),
        lambda w, d: Enrollment.objects.filter(member_id=d.member_id).update(end_date=None),
        "not_enrolled",
        "not enrolled",
    ),
    (
        "auth missing",
        lambda w: delivery(
            w, label="T2041-U6", ref=referral(w, label="T2041-U6", diagnosis_codes=["Z59.01"])
        ),
        lambda w, d: None,
        _attach_auth,
        "auth_missing",
        "requires the plan's authorization",
    ),
    (
        "auth dates",
        lambda w: authorized_delivery(w),
        lambda w, d: Authorization.objects.filter(pk=d.authorization_id).update(end_date=last_month(1)),
        lambda w, d: Authorization.objects.filter(pk=d.authorization_id).update(
            end_date=timezone.localdate()
        ),
        "auth_dates",
        "outside it",
    ),
    (
        "auth units",
        lambda w: authorized_delivery(w, units_approved=3, units=4),
        lambda w, d: None,
        lambda w, d: Authorization.objects.filter(pk=d.authorization_id).update(units_approved=10),
        "auth_units",
        "approves 3",
    ),
    (
        "auth status",
        lambda w: authorized_delivery(w),
        lambda w, d: Authorization.objects.filter(pk=d.authorization_id).update(status="denied"),
        lambda w, d: Authorization.objects.filter(pk=d.authorization_id).update(status="approved"),
        "auth_not_approved",
        "denied",
    ),
    (
        "not covered",
        lambda w: delivery(w, label="T2040-U6"),
        lambda w, d: None,
        _t2040,
        "not_covered",
        "does not cover",
    ),
    (
        "no diagnosis",
        lambda w: delivery(w, dx=[]),
        lambda w, d: None,
        lambda w, d: Referral.objects.filter(pk=d.referral_id).update(diagnosis_codes=["Z59.02"]),
        "diagnosis_missing",
        "no diagnosis",
    ),
    (
        "bad diagnosis",
        lambda w: delivery(w),
        lambda w, d: Referral.objects.filter(pk=d.referral_id).update(diagnosis_codes=["Z59.01", "HOMELESS"]),
        lambda w, d: Referral.objects.filter(pk=d.referral_id).update(diagnosis_codes=["Z59.01"]),
        "diagnosis_invalid",
        "ICD-10-CM",
    ),
    (
        "place of service",
        lambda w: delivery(w, pos="55"),
        lambda w, d: None,
        lambda w, d: deliv(d, place_of_service="12"),
        "place_of_service",
        "Place of service",
    ),
    (
        "units per day",
        lambda w: delivery(w, label="S5170-U6", units=3),
        lambda w, d: None,
        lambda w, d: deliv(d, units=Decimal(2)),
        "units_per_day",
        "allows 2 a day",
    ),
    (
        "timely filing",
        lambda w: delivery(w),
        lambda w, d: Contract.objects.filter(cbo=w.cbo).update(timely_filing_days=2),
        lambda w, d: Contract.objects.filter(cbo=w.cbo).update(timely_filing_days=180),
        "timely_filing",
        "deny it as late",
    ),
    (
        "plan settings",
        lambda w: delivery(w),
        lambda w, d: Contract.objects.filter(cbo=w.cbo).update(receiver_id=""),
        lambda w, d: Contract.objects.filter(cbo=w.cbo).update(receiver_id="RCV1"),
        "x12_ids",
        "receiver and submitter",
    ),
]


@pytest.fixture
def bw(world):
    setup_billing(world)
    return world


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_each_check_holds_the_claim_and_clears_after_the_fix(bw, case):
    _name, make, breaker, fixer, code, words = case
    d = make(bw)
    breaker(bw, d)
    build_claims(acting_user=bw.cbo_billing)
    claim = Claim.objects.get(lines__delivery=d)
    assert claim.status == ClaimStatus.HELD, claim.problems
    found = [p for p in claim.problems if p["code"] == code]
    assert found, claim.problems
    assert (
        words.lower() in found[0]["message"].lower() and found[0]["fix"] and found[0]["severity"] == "error"
    )
    fixer(bw, d)
    claim = rescrub_claim(claim, acting_user=bw.cbo_billing)
    assert claim.status == ClaimStatus.READY, claim.problems
    assert not [p for p in claim.problems if p["severity"] == "error"]


def test_a_second_entry_of_the_same_service_is_held_as_a_duplicate(bw):
    first = delivery(bw)
    second = delivery(bw, ref=first.referral, day=first.service_date, staff=UserFactory())
    build_claims(acting_user=bw.cbo_billing)
    claim = Claim.objects.get(lines__delivery=second)
    assert claim.status == ClaimStatus.HELD
    dup = [p for p in claim.problems if p["code"] == "duplicate"]
    assert dup and "already billed" in dup[0]["message"] and dup[0]["line"] == 2
    deliv(second, service_date=first.service_date + timedelta(days=1))
    assert rescrub_claim(claim, acting_user=bw.cbo_billing).status == ClaimStatus.READY


def test_timely_filing_close_to_the_limit_is_a_warning_only(bw):
    d = delivery(bw, day=timezone.localdate() - timedelta(days=20))
    Contract.objects.filter(cbo=bw.cbo).update(timely_filing_days=30)
    build_claims(acting_user=bw.cbo_billing)
    claim = Claim.objects.get(lines__delivery=d)
    assert claim.status == ClaimStatus.READY
    assert [p["code"] for p in claim.problems] == ["timely_filing_soon"]
    assert claim.problems[0]["severity"] == "warning"


def test_an_authorization_used_up_or_ended_still_covers_the_services_it_authorized(bw):
    """Logging the last authorized unit makes the authorization exhausted, and the nightly task
    expires it after its last day: neither is a reason to hold the claims for those services."""
    used_up, ended = (referral(bw, label="T2041-U6", diagnosis_codes=["Z59.01"]) for _ in range(2))
    authorization(bw, used_up, units=4)
    authorization(bw, ended, units=10, start=last_month(1), end=last_month(28))
    for ref in (used_up, ended):
        log_service(
            acting_user=bw.cbo_staff, referral=ref, service_date=last_month(5), units=4, place_of_service="12"
        )
    assert expire_ended() == 1
    assert set(Authorization.objects.values_list("status", flat=True)) == {"exhausted", "expired"}
    build_claims(acting_user=bw.cbo_billing)
    assert [(c.status, c.problems) for c in Claim.objects.all()] == [("ready", []), ("ready", [])]


def test_modifiers_that_do_not_identify_the_service_are_caught_and_rescrub_restores_them(bw):
    from billing.services import scrubber

    d = delivery(bw)
    build_claims(acting_user=bw.cbo_billing)
    claim = Claim.objects.get(lines__delivery=d)
    ClaimLine.objects.filter(claim=claim).update(modifiers=["U1"])
    lines = list(claim.lines.all())
    found = scrubber.scrub_one(
        claim, lines, scrubber.load_lookups([(claim, lines)], exclude_claim_ids=[claim.pk])
    )
    assert [p.code for p in found] == ["modifiers"] and "(H0043-U6)" in found[0].message
    claim = rescrub_claim(claim, acting_user=bw.cbo_billing)
    assert claim.status == ClaimStatus.READY and claim.lines.get().modifiers == ["U6"]


def test_a_rate_added_later_reprices_the_line_on_rescrub(bw):
    d = delivery(bw, label="T2040-U6")
    build_claims(acting_user=bw.cbo_billing)
    claim = Claim.objects.get(lines__delivery=d)
    assert claim.billed_amount == 0 and {"not_covered", "no_charge"} <= {p["code"] for p in claim.problems}
    _t2040(bw, d)
    claim = rescrub_claim(claim, acting_user=bw.cbo_billing)
    assert claim.status == ClaimStatus.READY and claim.billed_amount == Decimal("80.00")


def test_a_name_outside_the_x12_basic_character_set_is_a_warning_naming_the_field(bw):
    """Issue #16 item 8: Peña José goes out as PENA JOSE, and the coordinator is told which field."""
    d = delivery(bw)
    member_of(d, last_name="Peña", first_name="José")
    build_claims(acting_user=bw.cbo_billing)
    claim = Claim.objects.get(lines__delivery=d)
    assert claim.status == ClaimStatus.READY
    warnings = [p for p in claim.problems if p["code"] == "x12_text_transliterated"]
    assert [p["severity"] for p in warnings] == ["warning", "warning"]
    assert any("last name 'Peña' will be sent as 'PENA'" in p["message"] for p in warnings)
    assert any("first name 'José' will be sent as 'JOSE'" in p["message"] for p in warnings)
