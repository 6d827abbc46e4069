"""Issue #14 item 3: a plan refers a member only for a service the CBO is contracted for, in the
member's county, on the day. The form offers only those services and says why the others are not
offered; the service, the page, the API and the bulk file (see test_imports) refuse the rest with
the reason and write nothing; the CBO is warned before accepting a referral its contract does not
cover (any more)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from contracts.models import Contract
from referrals.models import Member, Referral
from referrals.services import referrals as ref_svc
from tests.referrals.factories import DEFAULT_TERMS, MemberFactory, contract, referral, service

pytestmark = pytest.mark.django_db

MEALS, SOBERING = "S5170-U6", "H0014-U6"


@pytest.fixture
def la_meals(world):
    """world.cbo is contracted with world.plan for medically tailored meals, in Los Angeles only."""
    return contract(
        world.plan,
        world.cbo,
        user=world.contract_manager,
        terms={MEALS: DEFAULT_TERMS[MEALS]},
        counties=("Los Angeles",),
        number="LA-MEALS",
    )


def _refer(world, label, county="Los Angeles"):
    return ref_svc.create_referral(
        acting_user=world.care_coordinator,
        plan=world.plan,
        cbo=world.cbo,
        service=service(label),
        member_details={
            "cin": "91230001A",
            "first_name": "Rosa",
            "last_name": "Alvarez",
            "dob": "1961-04-02",
            "county": county,
        },
    )


def _counts():
    return Referral.objects.count(), Member.objects.count()


def test_uncontracted_service_and_uncovered_county_are_refused_with_the_reason(world, la_meals):
    with pytest.raises(ValidationError) as refused:
        _refer(world, SOBERING)
    assert refused.value.message_dict["service"] == [
        "Eastside Community Kitchen cannot take referrals for Sobering Centers (H0014-U6): "
        "Contract LA-MEALS does not cover Sobering Centers (H0014-U6)."
    ]
    with pytest.raises(ValidationError, match="Contract LA-MEALS covers Los Angeles, not Alameda"):
        _refer(world, MEALS, county="Alameda")
    assert _counts() == (0, 0)  # a refused referral writes nothing, not even the member
    assert _refer(world, MEALS).service == service(MEALS)


def test_a_cbo_without_any_contract_with_the_plan_is_refused(world):
    with pytest.raises(
        ValidationError,
        match="There is no active contract between Pacific Coast Health Plan and Eastside Community Kitchen",
    ):
        _refer(world, MEALS)


def test_the_form_offers_only_contracted_services_and_says_why_not_the_others(world, la_meals, client):
    client.force_login(world.care_coordinator)
    url = reverse("referrals:offered_services")
    answer = client.get(url, {"cbo": world.cbo.pk, "county": "Los Angeles"}).json()
    assert [s["id"] for s in answer["offered"]] == [service(MEALS).pk]
    assert answer["offered"][0]["label"] == "Medically Tailored Meals · S5170-U6"
    reasons = {s["label"]: s["reason"] for s in answer["not_offered"]}
    assert (
        reasons["Sobering Centers (H0014-U6)"]
        == "Contract LA-MEALS does not cover Sobering Centers (H0014-U6)."
    )
    alameda = client.get(url, {"cbo": world.cbo.pk, "county": "Alameda"}).json()
    assert alameda["offered"] == []
    reasons = {s["label"]: s["reason"] for s in alameda["not_offered"]}
    assert (
        reasons["Medically Tailored Meals (S5170-U6)"] == "Contract LA-MEALS covers Los Angeles, not Alameda."
    )
    # Another CBO, with no contract: nothing offered, and the reason is the missing contract.
    other = client.get(url, {"cbo": world.other_cbo.pk}).json()
    assert other["offered"] == [] and "no active contract" in other["not_offered"][0]["reason"]
    assert client.get(url, {"cbo": "x"}).status_code == 400


def test_a_cbo_asks_which_services_its_plan_contracted_it_for(world, la_meals, client):
    client.force_login(world.cbo_staff)
    answer = client.get(reverse("referrals:offered_services"), {"plan": world.plan.pk}).json()
    assert [s["id"] for s in answer["offered"]] == [service(MEALS).pk]


@pytest.mark.parametrize("persona", ["cbo_billing", "contract_manager"])
def test_people_who_make_no_referrals_get_no_answer(world, la_meals, client, persona):
    client.force_login(getattr(world, persona))
    assert client.get(reverse("referrals:offered_services"), {"cbo": world.cbo.pk}).status_code == 404


def test_the_page_refuses_an_uncontracted_service_under_the_field(world, la_meals, client):
    client.force_login(world.care_coordinator)
    response = client.post(
        reverse("referrals:create"),
        {
            "cin": "91230001A",
            "first_name": "Rosa",
            "last_name": "Alvarez",
            "dob": "1961-04-02",
            "sex": "F",
            "county": "Alameda",
            "cbo": world.cbo.pk,
            "service": service(MEALS).pk,
            "priority": "routine",
        },
    )
    page = response.content.decode()
    assert response.status_code == 200 and "Contract LA-MEALS covers Los Angeles, not Alameda." in page
    assert 'id="id_service_error"' in page and _counts() == (0, 0)


def test_the_api_refuses_an_uncontracted_service_with_the_reason(world, la_meals, api):
    body = {
        "member": {
            "cin": "91230001A",
            "first_name": "Rosa",
            "last_name": "Alvarez",
            "dob": "1961-04-02",
            "county": "Los Angeles",
        },
        "service": SOBERING,
        "cbo": world.cbo.pk,
        "plan": world.plan.pk,
    }
    response = api.as_user(world.care_coordinator).post("/api/v1/referrals/", body, format="json")
    assert response.status_code == 400
    assert "does not cover Sobering Centers (H0014-U6)" in str(response.json()["error"]["fields"]["service"])
    assert _counts() == (0, 0)


def test_the_cbo_is_warned_before_accepting_a_referral_its_contract_no_longer_covers(world, la_meals, client):
    r = referral(world, member=MemberFactory(), label=MEALS, accept=False)
    client.force_login(world.cbo_staff)
    assert (
        'data-testid="offer-warning"'
        not in client.get(reverse("referrals:detail", args=[r.pk])).content.decode()
    )
    Contract.objects.filter(pk=la_meals.pk).update(termination_date=timezone.localdate())
    page = client.get(reverse("referrals:detail", args=[r.pk])).content.decode()
    assert 'data-testid="offer-warning"' in page
    assert (
        "Eastside Community Kitchen cannot take referrals for Medically Tailored Meals (S5170-U6): " in page
    )
    assert "was terminated effective" in page
