"""A plan's care coordinator uploads a monthly eligibility roster on the page, sees its bad rows
by line, fixes the file and sees what it changed; the member's coverage follows. Real browser;
screenshots go to /tmp/shots/roster-*.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from referrals.models import Member
from tests.e2e.pages import screenshot, sign_in

HEADER = "CIN,First Name,Last Name,DOB,Eligibility Start,Term Date,Aid Code\n"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_plan_uploads_a_roster_fixes_it_and_sees_the_result(page: Page, live_server, world, tmp_path):
    base = live_server.url
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, base, world.care_coordinator.email)
    page.goto(base + "/members/")
    page.get_by_role("link", name="Eligibility rosters").click()

    bad = tmp_path / "december.csv"
    bad.write_text(
        HEADER + "91000004A,Ana,Reyes,1980-02-03,2026-12-01,,1H\n91000005A,Bo,,1981-13-03,2026-12-01,,\n"
    )
    page.get_by_label("Eligibility roster (CSV)").set_input_files(str(bad))
    page.get_by_label("Roster as of").fill("2026-12-01")
    page.get_by_role("button", name="Upload and apply").click()
    expect(page.locator("#import-status")).to_have_text("Has errors — nothing imported")
    rows = page.locator("section").filter(has_text="Rows to fix").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("3")
    screenshot(page, "roster-errors")
    assert not Member.objects.filter(cin="91000004A").exists()

    good = tmp_path / "december-fixed.csv"
    good.write_text(
        HEADER + "91000004A,Ana,Reyes,1980-02-03,2026-12-01,,1H\n91000005A,Bo,Lee,1981-12-03,2026-12-01,,\n"
    )
    page.get_by_role("link", name="← Eligibility rosters").click()
    page.get_by_label("Eligibility roster (CSV)").set_input_files(str(good))
    page.get_by_label("Roster as of").fill("2026-12-01")
    page.get_by_role("button", name="Upload and apply").click()
    expect(page.locator("#import-status")).to_have_text("Imported")
    expect(page.get_by_test_id("roster-result")).to_contain_text("2 (2 new members)")
    screenshot(page, "roster-done")

    member = Member.objects.get(cin="91000004A")
    page.goto(f"{base}/members/{member.pk}/")
    expect(page.get_by_test_id("coverage")).to_contain_text("Plan roster")
