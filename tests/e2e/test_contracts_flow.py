"""A plan contract manager creates a contract with three rate lines, activates it and amends one
rate; the CBO's admin then sees it, read-only. Screenshots go to /tmp/shots/."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.contracts.factories import ensure_reference_data
from tests.e2e.pages import screenshot, sign_in


def shot(page: Page, name: str) -> None:
    screenshot(page, f"contracts-{name}")


def add_rate_line(page: Page, service: str, rate: str) -> None:
    page.get_by_label("Service", exact=True).select_option(label=service)
    page.get_by_label("Rate ($ per unit)").fill(rate)
    page.get_by_role("button", name="Add rate line").click()
    expect(page.get_by_role("status").filter(has_text="Added")).to_be_visible()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_contract_manager_builds_activates_and_amends_a_contract(page: Page, live_server, world):
    ensure_reference_data()
    today = timezone.localdate()
    start, end = today - timedelta(days=60), today + timedelta(days=300)
    page.set_viewport_size({"width": 1280, "height": 900})

    sign_in(page, live_server.url, world.contract_manager.email)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Contracts", exact=True).click()
    expect(page.get_by_role("heading", name="Contracts")).to_be_visible()
    page.get_by_role("link", name="New contract").click()

    page.get_by_label("CBO or hub").select_option(label=str(world.cbo))
    page.get_by_label("Contract number").fill("PCHP-2026-EAST")
    page.get_by_label("Title").fill("Community Supports 2026")
    page.get_by_label("Effective date").fill(start.isoformat())
    page.get_by_label("End date").fill(end.isoformat())
    page.get_by_label("Counties").select_option(label="Los Angeles")
    page.get_by_label("Receiver id").fill("PCHPCLEAR")
    shot(page, "1-new")
    page.get_by_role("button", name="Create draft").click()
    expect(page.get_by_test_id("contract-status")).to_have_text("Draft")

    # Bad input first: a zero rate is refused with a reason, and nothing is added.
    page.get_by_label("Service", exact=True).select_option(label="Housing Transition Navigation · H0043-U6")
    page.get_by_label("Rate ($ per unit)").fill("0")
    page.get_by_role("button", name="Add rate line").click()
    expect(page.get_by_text("The rate must be more than $0")).to_be_visible()
    expect(page.get_by_text("No services yet.")).to_be_visible()

    add_rate_line(page, "Housing Transition Navigation · H0043-U6", "95.00")
    add_rate_line(page, "Medically Tailored Meals · S5170-U6", "12.50")
    add_rate_line(page, "ECM, clinical staff · G9008-U1", "450.00")
    schedule = page.get_by_test_id("rate-schedule")
    expect(schedule.locator("tbody tr")).to_have_count(3)
    shot(page, "2-draft")

    page.get_by_role("button", name="Activate contract").click()
    expect(page.get_by_test_id("contract-status")).to_have_text("Active")

    page.get_by_role("link", name="Amend Housing Transition Navigation (H0043-U6)").click()
    expect(page.get_by_role("heading", name="Amend Housing Transition Navigation H0043-U6")).to_be_visible()
    page.get_by_label("Effective from").fill(today.isoformat())
    page.get_by_label("Rate ($ per unit)").fill("110.00")
    page.get_by_label("Reason for the amendment").fill("Annual rate increase")
    shot(page, "3-amend")
    page.get_by_role("button", name="Record amendment").click()
    expect(page.get_by_test_id("rate-H0043-U6")).to_have_text("$110.00")
    expect(page.get_by_text("Annual rate increase")).to_be_visible()
    expect(
        page.get_by_text(re.compile(r"Terms over time: \$95\.00 from .* → \$110\.00 from"))
    ).to_be_visible()
    shot(page, "4-active")

    page.get_by_role("link", name="Utilization").click()
    expect(page.get_by_role("heading", name="Dollars by month")).to_be_visible()
    shot(page, "5-utilization")

    # The CBO's admin sees the contract, read-only.
    page.context.clear_cookies()
    sign_in(page, live_server.url, world.cbo_admin.email)
    page.goto(live_server.url + "/contracts/")
    shot(page, "6-cbo-list")
    page.get_by_role("link", name="PCHP-2026-EAST").click()
    expect(page.get_by_text("You can see this contract but not change it.")).to_be_visible()
    expect(page.get_by_test_id("rate-H0043-U6")).to_have_text("$110.00")
    expect(page.get_by_test_id("rate-S5170-U6")).to_have_text("$12.50")
    expect(page.get_by_role("button", name="Activate contract")).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("^Amend"))).to_have_count(0)
    expect(page.get_by_role("button", name="Terminate contract")).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("^Edit"))).to_have_count(0)
    shot(page, "7-cbo-detail")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.get_by_test_id("rate-H0043-U6")).to_be_visible()
    shot(page, "8-phone-detail")
    page.goto(live_server.url + "/contracts/")
    shot(page, "9-phone-list")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
