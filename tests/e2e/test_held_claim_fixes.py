"""Issue #14 in a real browser: a held claim's fix link takes the reader where the hold is cleared.
The member's record belongs to the plan, so the CBO's billing coordinator requests the correction,
watches its status on the claim, the plan accepts it on the member page, and the re-scrub clears the
hold; a missing diagnosis is fixed on the referral the link opens. Screenshots go to
/tmp/shots/held-*.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from billing.models import Claim
from billing.services.claims import build_claims
from tests.billing.factories import delivery, new_member, setup_billing
from tests.e2e.pages import screenshot, sign_in


@pytest.fixture
def held(world):
    """Two held claims: one for a member with no street address, one with no diagnosis codes."""
    setup_billing(world)
    homeless = new_member(world, first_name="Darnell", last_name="Brooks", street="")
    delivery(world, member=homeless)
    delivery(world, member=new_member(world, first_name="Ana", last_name="Reyes"), dx=[])
    build_claims(acting_user=world.cbo_billing)
    return {c.member.last_name: c for c in Claim.objects.select_related("member")}


def rescrub(page: Page) -> None:
    page.get_by_test_id("rescrub").click()
    expect(page.get_by_test_id("claim-status")).to_have_text("Ready")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_member_hold_is_cleared_by_a_correction_the_plan_accepts(page: Page, live_server, world, held):
    base, claim = live_server.url, held["Brooks"]
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, base, world.cbo_billing.email)
    page.goto(f"{base}/billing/claims/{claim.pk}/")
    expect(page.get_by_test_id("claim-status")).to_have_text("Held")
    expect(page.get_by_test_id("problems")).to_contain_text("no complete address")
    screenshot(page, "held-member")

    page.get_by_test_id("fix-link").filter(has_text=f"Request the correction from {world.plan}").click()
    expect(page.get_by_role("heading", name="Darnell Brooks")).to_be_visible()
    page.get_by_label("Street").fill("545 S San Pedro St")
    page.get_by_label("City").fill("Los Angeles")
    page.get_by_label("ZIP code").fill("90013")
    page.get_by_label("What changed, and how you know").fill("Stays at the Union Rescue Mission")
    page.get_by_role("button", name="Send to the plan").click()
    expect(page.get_by_test_id("corrections")).to_contain_text("street “545 S San Pedro St”")
    expect(page.get_by_test_id("corrections")).to_contain_text("Waiting for the plan")
    screenshot(page, "held-member-proposed")

    page.goto(f"{base}/billing/claims/{claim.pk}/")
    expect(page.get_by_test_id("correction-status")).to_contain_text(
        "to change the street and ZIP code: Waiting for the plan"
    )
    page.get_by_test_id("rescrub").click()  # nothing changed yet: still held
    expect(page.get_by_test_id("claim-status")).to_have_text("Held")

    page.context.clear_cookies()
    sign_in(page, base, world.care_coordinator.email)
    page.goto(f"{base}/members/{claim.member_id}/")
    corrections = page.get_by_test_id("corrections")
    expect(corrections).to_contain_text("545 S San Pedro St")
    corrections.get_by_role("button", name="Accept").click()
    expect(corrections).to_contain_text("Accepted")
    expect(page.get_by_test_id("record-changes")).to_contain_text(
        f"{world.plan} accepted {world.cbo}'s correction of member {claim.member.cin}"
    )
    expect(page.get_by_test_id("record-changes")).to_contain_text(
        f"Updated member {claim.member.cin}'s street and ZIP code"
    )

    page.context.clear_cookies()
    sign_in(page, base, world.cbo_billing.email)
    page.goto(f"{base}/billing/claims/{claim.pk}/")
    expect(page.get_by_test_id("correction-status")).to_contain_text("Re-scrub to clear the hold.")
    rescrub(page)
    expect(page.get_by_test_id("problems")).to_have_count(0)
    screenshot(page, "held-member-cleared")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_diagnosis_hold_is_fixed_on_the_referral_the_link_opens(page: Page, live_server, world, held):
    base, claim = live_server.url, held["Reyes"]
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, base, world.cbo_billing.email)
    page.goto(f"{base}/billing/claims/?status=held")
    row = page.get_by_test_id("claims-table").locator("tr", has_text="Ana Reyes")
    expect(row).to_contain_text("no diagnosis")
    assert (
        row.locator(".badge-held").bounding_box()["height"] < 30
    )  # a pill, not stretched to the hint's height
    screenshot(page, "held-list-phone")
    row.get_by_role("link", name=claim.control_number).click()
    page.get_by_test_id("fix-link").filter(has_text="Edit the referral's diagnosis codes").click()
    codes = page.get_by_label("Diagnosis codes (ICD-10)")
    expect(codes).to_be_visible()  # the editor opens on arrival
    codes.fill("Z59.01, Z59.41")
    page.get_by_role("button", name="Save diagnosis codes").click()
    expect(page.get_by_test_id("diagnoses")).to_contain_text("Z59.01")
    screenshot(page, "held-dx-saved")

    page.goto(f"{base}/billing/claims/{claim.pk}/")
    rescrub(page)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
