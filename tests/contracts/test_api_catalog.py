"""/api/v1/catalog/: the service catalog, readable by every signed-in user."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contracts.models import ServiceCatalogEntry

URL = reverse("catalog-entry-list")


@pytest.mark.parametrize("who", ["cbo_staff", "hub_billing", "care_coordinator", "other_plan_manager"])
def test_any_signed_in_user_reads_the_catalog(world, api, who):
    response = api.as_user(getattr(world, who)).get(URL, {"code": "G9008"})
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert {k: row[k] for k in ("code", "modifiers", "name", "category", "unit")} == {
        "code": "G9008",
        "modifiers": ["U1"],
        "name": "ECM, clinical staff",
        "category": "ecm",
        "unit": "month",
    }
    assert row["optional_modifiers"] == ["GQ"]


def test_catalog_lists_every_entry(world, api):
    response = api.as_user(world.cbo_staff).get(URL, {"page_size": 500})
    assert response.json()["count"] == ServiceCatalogEntry.objects.count() >= 45


def test_catalog_filters(world, api):
    client = api.as_user(world.cbo_staff)
    tr = client.get(URL, {"service": "transitional_rent"}).json()["results"]
    assert sorted((r["code"], r["modifiers"][0]) for r in tr) == [
        ("H0040", "U1"),
        ("H0040", "U2"),
        ("H0043", "U2"),
        ("H0044", "U6"),
    ]
    before_2025 = client.get(URL, {"service": "transitional_rent", "in_effect_on": "2024-12-31"}).json()
    assert before_2025["count"] == 0


def test_only_platform_admins_edit_or_retire(world, api):
    entry = ServiceCatalogEntry.lookup("T2033", ["U6"])
    url = reverse("catalog-entry-detail", args=[entry.pk])
    assert api.as_user(world.contract_manager).patch(url, {"name": "X"}, format="json").status_code == 403
    response = api.as_user(world.platform_admin).patch(url, {"default_units_per_year": 60}, format="json")
    assert response.status_code == 200 and response.json()["default_units_per_year"] == 60
    retire = reverse("catalog-entry-retire", args=[entry.pk])
    assert (
        api.as_user(world.cbo_admin).post(retire, {"last_day": "2026-06-30"}, format="json").status_code
        == 403
    )
    response = api.as_user(world.platform_admin).post(retire, {"last_day": "2026-06-30"}, format="json")
    assert response.json()["effective_to"] == "2026-06-30"
    assert api.as_user(world.platform_admin).delete(url).status_code == 405


def test_catalog_list_query_count_is_flat(world, api):
    client = api.as_user(world.cbo_staff)
    client.get(URL)  # warm the session
    with CaptureQueriesContext(connection) as one:
        assert len(client.get(URL, {"code": "T2033"}).json()["results"]) == 1
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(URL, {"page_size": 20}).json()["results"]) == 20
    assert len(one) == len(many)
