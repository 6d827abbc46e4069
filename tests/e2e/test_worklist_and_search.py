"""The CBO worklist's tiles and first rows, and a broad member search paging on, in a real browser
(desktop and phone). Screenshots go to /tmp/shots/worklist-*.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from referrals import views
from tests.contracts.factories import ensure_reference_data
from tests.e2e.pages import screenshot, sign_in
from tests.referrals.factories import MemberFactory, covered_world, referral


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_worklist_counts_everything_and_shows_the_first_rows(page: Page, live_server, world, monkeypatch):
    ensure_reference_data()
    covered_world(world)
    monkeypatch.setattr(views, "WORKLIST_ROWS", 3)
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    for i in range(5):
        referral(world, member=MemberFactory(last_name=f"Quintana{i}"), accept=False)
    base = live_server.url
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, base, world.cbo_staff.email)
    page.goto(base + "/worklist/")
    tile = page.locator("a.tile").filter(has_text="Awaiting your response")
    expect(tile.locator(".stat")).to_have_text("5")
    expect(
        page.locator("section").filter(has_text="Referrals awaiting your response").locator("tbody tr")
    ).to_have_count(3)
    screenshot(page, "worklist-desktop")
    page.get_by_role("link", name="See all 5").click()
    expect(page.locator("tbody tr")).to_have_count(2)  # the referral list, page 1 of received
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(base + "/worklist/")
    expect(page.get_by_role("link", name="See all 5")).to_be_visible()
    screenshot(page, "worklist-phone")

    # A member search pages on past what it counted.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(base + "/members/?q=quintana")
    expect(page.locator("nav.pagination")).to_contain_text("more than 4")
    page.get_by_role("link", name="Next →").click()
    page.get_by_role("link", name="Next →").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("nav.pagination")).to_contain_text("5 in all")
    screenshot(page, "worklist-member-search")
