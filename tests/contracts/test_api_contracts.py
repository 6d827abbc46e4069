"""/api/v1/contracts/: create, edit, activate, amend, terminate, utilization; scoped to the caller."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contracts.choices import ContractStatus
from contracts.models import Contract
from tests.contracts.factories import active_contract, draft_contract
from tests.factories import OrganizationFactory

LIST = reverse("contract-list")


def url(contract, action=None):
    return reverse(f"contract-{action}" if action else "contract-detail", args=[contract.pk])


def new_contract(world, **overrides):
    return {
        "cbo": world.cbo.pk,
        "number": "PCHP-2026-01",
        "start_date": "2026-01-01",
        "end_date": "2026-12-31",
        "counties": ["Los Angeles"],
        "receiver_id": "PCHPCLEAR",
        **overrides,
    }


def test_contract_manager_creates_a_draft_for_their_plan(world, api):
    client = api.as_user(world.contract_manager)
    response = client.post(LIST, new_contract(world), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["plan"], body["status"], body["payer_id"], body["timely_filing_days"]) == (
        world.plan.pk,
        "draft",
        world.plan.payer_id,
        180,
    )


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"end_date": "2025-12-31"},
            "end_date",
            "The end date (Dec 31, 2025) is before the effective date (Jan 1, 2026).",
        ),
        ({"counties": ["Gotham"]}, "counties", "Object with name=Gotham does not exist."),
    ],
)
def test_bad_contract_input_is_a_400_with_the_reason(world, api, overrides, field, message):
    response = api.as_user(world.contract_manager).post(LIST, new_contract(world, **overrides), format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"][field] == [message]
    assert not Contract.objects.exists()


def test_unapproved_provider_is_refused(world, api):
    pending = OrganizationFactory(legal_name="Harbor Housing", onboarding_status="submitted")
    response = api.as_user(world.contract_manager).post(
        LIST, new_contract(world, cbo=pending.pk), format="json"
    )
    assert response.status_code == 400
    assert "not an approved provider" in response.json()["error"]["message"]


@pytest.mark.parametrize("who", ["cbo_admin", "care_coordinator"])
def test_others_cannot_create(world, api, who):
    response = api.as_user(getattr(world, who)).post(
        LIST, new_contract(world, plan=world.plan.pk), format="json"
    )
    assert response.status_code in (400, 403)
    assert not Contract.objects.exists()


def test_activate_amend_terminate_through_the_api(world, api):
    contract = draft_contract(world.plan, world.cbo, world.contract_manager, rates={"H0043-U6": "95"})
    client = api.as_user(world.contract_manager)
    response = client.post(url(contract, "activate"), {}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "active"
    assert [h["to_status"] for h in response.json()["status_history"]] == ["draft", "active"]
    assert client.post(url(contract, "activate"), {}, format="json").status_code == 409

    amendment = client.post(
        url(contract, "amend"),
        {
            "effective_from": "2026-07-01",
            "reason": "Rate increase",
            "changes": [
                {"code": "H0043", "modifiers": ["U6"], "rate": "110.00"},
                {"code": "S5170", "modifiers": ["U6"], "rate": "12.50"},
            ],
        },
        format="json",
    )
    assert amendment.status_code == 201, amendment.json()
    assert amendment.json()["number"] == 1
    detail = client.get(url(contract)).json()
    rates = {line["service"]["label"]: [v["rate"] for v in line["versions"]] for line in detail["rate_lines"]}
    assert rates == {"H0043-U6": ["95.0000", "110.0000"], "S5170-U6": ["12.5000"]}

    bad = client.post(
        url(contract, "amend"),
        {
            "effective_from": "2026-08-01",
            "reason": "x",
            "changes": [{"code": "H0043", "modifiers": ["U9"], "rate": "1"}],
        },
        format="json",
    )
    assert bad.status_code == 400
    assert "No service in the catalog for H0043 with U9." in bad.json()["error"]["message"]

    response = client.post(
        url(contract, "terminate"), {"termination_date": "2026-10-01", "reason": "Closed"}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "terminated"


def test_active_contract_dates_are_locked(world, api):
    contract = active_contract(world.plan, world.cbo, world.contract_manager)
    response = api.as_user(world.contract_manager).patch(
        url(contract), {"end_date": "2027-12-31"}, format="json"
    )
    assert response.status_code == 400
    assert "cannot be changed" in response.json()["error"]["message"]
    ok = api.as_user(world.contract_manager).patch(url(contract), {"submitter_id": "EAST01"}, format="json")
    assert ok.status_code == 200 and ok.json()["submitter_id"] == "EAST01"


def test_the_cbo_reads_its_contract_but_cannot_change_it(world, api):
    contract = active_contract(world.plan, world.cbo, world.contract_manager)
    client = api.as_user(world.cbo_admin)
    assert client.get(url(contract)).json()["number"] == contract.number
    assert client.patch(url(contract), {"title": "Mine now"}, format="json").status_code == 403
    assert (
        client.post(
            url(contract, "terminate"), {"termination_date": "2026-06-01", "reason": "x"}, format="json"
        ).status_code
        == 403
    )
    contract.refresh_from_db()
    assert contract.status == ContractStatus.ACTIVE and contract.title == ""


def test_other_plans_manager_gets_404(world, api):
    contract = active_contract(world.plan, world.cbo, world.contract_manager)
    client = api.as_user(world.other_plan_manager)
    assert client.get(url(contract)).status_code == 404
    assert (
        client.post(
            url(contract, "terminate"), {"termination_date": "2026-06-01", "reason": "x"}, format="json"
        ).status_code
        == 404
    )
    assert client.get(LIST).json()["count"] == 0


def test_filters(world, api):
    active_contract(world.plan, world.cbo, world.contract_manager, rates={"H0043-U6": "95"}, number="A")
    draft_contract(
        world.plan,
        world.other_cbo,
        world.contract_manager,
        rates={"S5170-U6": "12"},
        number="B",
        counties=("Orange",),
    )
    client = api.as_user(world.contract_manager)

    def numbers(**params):
        return sorted(r["number"] for r in client.get(LIST, params).json()["results"])

    assert numbers() == ["A", "B"]
    assert numbers(status="active") == ["A"]
    assert numbers(county="Orange") == ["B"]
    assert numbers(service="S5170") == ["B"]
    assert numbers(cbo=world.cbo.pk) == ["A"]
    assert numbers(in_force_on="2027-01-01") == []
    assert numbers(search="B") == ["B"]


def test_utilization_endpoint_is_zero_without_billing(world, api):
    contract = active_contract(world.plan, world.cbo, world.contract_manager, rates={"H0044-U2": "1.00"})
    body = api.as_user(world.cbo_admin).get(url(contract, "utilization")).json()
    assert body["totals"]["billed_amount"] == "0.00" and body["rows"] == [] and body["near_cap"] is False
    assert body["caps"][0]["cap"] == "lifetime_dollar_cap" and body["caps"][0]["limit"] == "5000.00"


def test_list_query_count_is_the_same_for_1_and_20_contracts(world, api):
    client = api.as_user(world.contract_manager)
    active_contract(world.plan, world.cbo, world.contract_manager, rates={"H0043-U6": "95", "S5170-U6": "12"})
    client.get(LIST)
    with CaptureQueriesContext(connection) as one:
        assert client.get(LIST).json()["count"] == 1
    for n in range(19):
        draft_contract(
            world.plan,
            world.other_cbo,
            world.contract_manager,
            number=f"N-{n}",
            rates={"H0043-U6": "95", "T2040-U6": "30"},
        )
    with CaptureQueriesContext(connection) as twenty:
        assert client.get(LIST).json()["count"] == 20
    assert len(one) == len(twenty)
