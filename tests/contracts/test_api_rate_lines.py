"""/api/v1/rate-lines/: a draft's rate schedule; bad input is a 400 that saves nothing."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contracts.models import RateLine
from tests.contracts.factories import active_contract, draft_contract

LIST = reverse("rate-line-list")


@pytest.fixture
def draft(world):
    return draft_contract(world.plan, world.cbo, world.contract_manager)


def test_add_a_line_by_code_and_modifiers_in_any_order(world, api, draft):
    response = api.as_user(world.contract_manager).post(
        LIST,
        {"contract": draft.pk, "code": "g9008", "modifiers": ["GQ", "U1"], "rate": "450.00"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["service"]["label"] == "G9008-U1"
    assert body["versions"][0]["authorization"] == "presumptive"
    assert body["versions"][0]["unit"] == "month"


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        (
            {"code": "H0043", "modifiers": ["U6"], "rate": "0"},
            "rate",
            "The rate must be more than $0 (got 0.0000).",
        ),
        (
            {"code": "H0043", "modifiers": ["U6"], "rate": "-12"},
            "rate",
            "The rate must be more than $0 (got -12.0000).",
        ),
        (
            {"code": "H0043", "modifiers": ["U7"], "rate": "12"},
            "code",
            "No service in the catalog for H0043 with U7.",
        ),
    ],
)
def test_bad_rate_lines_are_refused_with_a_reason(world, api, draft, payload, field, message):
    response = api.as_user(world.contract_manager).post(
        LIST, {"contract": draft.pk, **payload}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"][field] == [message]
    assert not RateLine.objects.exists()


def test_another_plans_contract_is_not_found(world, api, draft):
    response = api.as_user(world.other_plan_manager).post(
        LIST, {"contract": draft.pk, "code": "H0043", "modifiers": ["U6"], "rate": "95"}, format="json"
    )
    assert response.status_code == 400
    assert "does not exist" in response.json()["error"]["fields"]["contract"][0]


def test_edit_and_remove_on_a_draft_only(world, api, draft):
    client = api.as_user(world.contract_manager)
    line = client.post(
        LIST, {"contract": draft.pk, "code": "H0043", "modifiers": ["U6"], "rate": "95"}, format="json"
    ).json()
    detail = reverse("rate-line-detail", args=[line["id"]])
    assert client.patch(detail, {"rate": "97.50"}, format="json").json()["versions"][0]["rate"] == "97.5000"
    assert client.delete(detail).status_code == 204
    active = active_contract(world.plan, world.other_cbo, world.contract_manager)
    locked = reverse("rate-line-detail", args=[active.rate_lines.get().pk])
    response = client.patch(locked, {"rate": "1"}, format="json")
    assert (
        response.status_code == 400 and "change its rates by amendment" in response.json()["error"]["message"]
    )


def test_rate_line_list_query_count_is_flat(world, api):
    client = api.as_user(world.cbo_admin)
    active_contract(world.plan, world.cbo, world.contract_manager, rates={"H0043-U6": "95"})
    client.get(LIST)
    with CaptureQueriesContext(connection) as one:
        assert client.get(LIST).json()["count"] == 1
    labels = [
        "S5170-U6",
        "T2040-U6",
        "T2041-U6",
        "G9008-U1",
        "G9012-U2",
        "H0044-U2",
        "H0014-U6",
        "S5165-U5",
        "S5165-U6",
        "T1016-U8",
        "T2033-U6",
        "S9125-U6",
        "H0045-U6",
        "S5130-U6",
        "T1019-U6",
        "H2016-U6",
        "T2050-U6",
        "T2051-U6",
        "H0043-U3",
    ]
    active_contract(
        world.plan,
        world.cbo,
        world.contract_manager,
        number="B",
        rates=dict.fromkeys(labels, "10"),
        start=__import__("datetime").date(2027, 1, 1),
        end=None,
    )
    with CaptureQueriesContext(connection) as twenty:
        assert client.get(LIST).json()["count"] == 20
    assert len(one) == len(twenty)
