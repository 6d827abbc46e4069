"""Another plan's contract manager and other CBOs see nothing of a contract; the people on it do.
(The lead's generic tests/test_isolation.py walks the same makers over every route.)"""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.contracts.factories import draft_contract
from tests.contracts.isolation import MAKERS, PERSONAS

ROUTES = {
    "catalog-entry": "catalog-entry",
    "contract": "contract",
    "rate-line": "rate-line",
    "contract-amendment": "contract-amendment",
}


@pytest.mark.parametrize("basename", sorted(MAKERS))
def test_only_insiders_see_the_object(world, api, basename):
    obj, insiders = MAKERS[basename](world)
    detail = reverse(f"{ROUTES[basename]}-detail", args=[obj.pk])
    listing = reverse(f"{ROUTES[basename]}-list")
    for name in PERSONAS:
        user = getattr(world, name)
        client = api.as_user(user)
        response = client.get(detail)
        ids = [row["id"] for row in client.get(listing, {"page_size": 500}).json()["results"]]
        if user in insiders:
            assert response.status_code == 200, name
            assert obj.pk in ids, name
        else:
            assert response.status_code == 404, name
            assert obj.pk not in ids, name


def test_outsiders_are_named(world):
    _obj, insiders = MAKERS["contract"](world)
    for outsider in (
        world.other_plan_manager,
        world.other_plan_coordinator,
        world.other_cbo_admin,
        world.other_cbo_staff,
    ):
        assert outsider not in insiders


def test_a_draft_is_the_plans_alone(world, api):
    draft = draft_contract(world.plan, world.cbo, world.contract_manager, rates={"H0043-U6": "95"})
    url = reverse("contract-detail", args=[draft.pk])
    assert api.as_user(world.contract_manager).get(url).status_code == 200
    assert api.as_user(world.cbo_admin).get(url).status_code == 404
    assert api.as_user(world.hub_billing).get(url).status_code == 404


def test_anonymous_sees_nothing(world, api):
    obj, _ = MAKERS["contract"](world)
    assert api.get(reverse("contract-detail", args=[obj.pk])).status_code in (401, 403)
    assert api.get(reverse("catalog-entry-list")).status_code in (401, 403)
