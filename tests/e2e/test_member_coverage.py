"""A plan's care coordinator ends a member's coverage and records a new period on the member page,
and the CBO serving the member sees the eligibility change, in a real browser (desktop and
phone). Screenshots go to /tmp/shots/coverage-*.png."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.contracts.factories import ensure_reference_data
from tests.e2e.pages import screenshot, sign_in
from tests.referrals.factories import contracted, referral


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_plan_ends_and_records_coverage_and_the_cbo_sees_it(page: Page, live_server, world):
    ensure_reference_data()
    contracted(world)
    member = referral(world).member
    base = live_server.url
    today = timezone.localdate()
    page.set_viewport_size({"width": 1280, "height": 900})

    sign_in(page, base, world.care_coordinator.email)
    page.goto(f"{base}/members/{member.pk}/")
    coverage = page.get_by_test_id("coverage")
    expect(page.get_by_test_id("eligibility")).to_have_text("Active")
    coverage.get_by_text("Change or end the period from").click()
    screenshot(page, "coverage-change-open")
    coverage.get_by_label("Last covered day").fill((today - timedelta(days=1)).isoformat())
    coverage.get_by_role("button", name="End coverage").click()
    expect(page.get_by_text("Coverage ended.")).to_be_visible()
    expect(page.get_by_test_id("eligibility")).to_have_text("Inactive")

    # A period that overlaps the ended one is refused, saying why; nothing is recorded.
    coverage.get_by_text("Record coverage").first.click()
    form = coverage.locator("details").filter(has_text="Record coverage")
    form.get_by_label("Covered from").fill((today - timedelta(days=5)).isoformat())
    form.get_by_role("button", name="Record coverage").click()
    expect(page.get_by_test_id("coverage").locator(".errorlist")).to_contain_text(
        "change or end that period instead"
    )

    form = page.get_by_test_id("coverage").locator("details").filter(has_text="Record coverage")
    form.get_by_label("Covered from").fill(today.isoformat())
    form.get_by_label("Aid code").fill("1H")
    form.get_by_role("button", name="Record coverage").click()
    expect(page.get_by_text("Coverage recorded.")).to_be_visible()
    expect(page.get_by_test_id("eligibility")).to_have_text("Active")
    expect(page.get_by_test_id("coverage").locator("tbody tr")).to_have_count(2)
    screenshot(page, "coverage-plan")

    page.context.clear_cookies()
    sign_in(page, base, world.cbo_staff.email)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/members/{member.pk}/")
    expect(page.get_by_test_id("eligibility")).to_have_text("Active")
    expect(page.get_by_test_id("coverage")).to_contain_text("1H")
    expect(page.get_by_role("button", name="Record coverage")).to_have_count(0)
    expect(page.get_by_text("Change or end the period")).to_have_count(0)
    screenshot(page, "coverage-cbo-phone")
