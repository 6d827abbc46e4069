"""The shell's navigation: one entry per area in the main bar, the area's pages in a section bar
under it, and only what the person's role may open."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def _labels(items: list[dict]) -> list[str]:
    return [item["label"] for item in items]


def test_billing_pages_share_one_main_entry_and_a_section_bar(world, client):
    client.force_login(world.cbo_billing)
    home = client.get("/")
    assert "Billing" in _labels(home.context["nav"]) and "Denials" not in _labels(home.context["nav"])
    assert home.context["section_nav"] == []

    denials = client.get("/billing/denials/")
    main = {item["label"]: item for item in denials.context["nav"]}
    assert main["Billing"]["active"] and main["Billing"]["url"] == "/billing/claims/"
    section = denials.context["section_nav"]
    assert _labels(section) == ["Claims", "Batches", "Remittances", "Denials", "Billing reports"]
    assert [item["label"] for item in section if item["active"]] == ["Denials"]
    html = denials.content.decode()
    assert '<nav class="subnav" aria-label="Section">' in html
    assert '<a href="/billing/denials/" aria-current="page">Denials</a>' in html


def test_the_most_specific_section_link_is_current(world, client):
    client.force_login(world.care_coordinator)
    report = client.get("/referrals/report/")
    assert [item["label"] for item in report.context["section_nav"] if item["active"]] == ["Network report"]


def test_staff_log_a_service_from_anywhere_and_see_no_billing(world, client):
    client.force_login(world.cbo_staff)
    main = _labels(client.get("/").context["nav"])
    assert "Log a service" in main and "Referrals" in main
    assert "Billing" not in main


@pytest.mark.parametrize("persona", ["cbo_billing", "hub_billing"])
def test_billing_coordinators_are_not_offered_log_a_service(world, client, persona):
    """The log form is for the provider's admins and staff; a billing coordinator's nav does not
    lead to a page that answers 404."""
    client.force_login(getattr(world, persona))
    assert "Log a service" not in _labels(client.get("/").context["nav"])
    assert client.get("/services/log/").status_code == 404
