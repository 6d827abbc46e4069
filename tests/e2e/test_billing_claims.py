"""A hub's billing coordinator builds claims, fixes a held one and sends a batch, watching its
progress bar; desktop and phone screenshots go to /tmp/shots/billing-*.png."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from cbo_portal.models import Organization
from referrals.models import Member
from tests.billing.factories import delivery, last_month, new_member, setup_billing
from tests.contracts.factories import ensure_reference_data
from tests.e2e.pages import SHOTS, sign_in


def shots(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=str(SHOTS / f"billing-{name}.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SHOTS / f"billing-{name}-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_coordinator_builds_fixes_and_sends_claims(page: Page, live_server, world):
    ensure_reference_data()
    setup_billing(world)
    for n in range(4):
        member = new_member(world)
        first = delivery(world, member=member, day=last_month(2 + n))
        delivery(world, member=member, ref=first.referral, label="S5170-U6", day=last_month(3 + n), units=2)
    unhoused = new_member(world, street="")
    delivery(world, member=unhoused, day=last_month(9))
    page.set_viewport_size({"width": 1280, "height": 900})

    sign_in(page, live_server.url, world.hub_billing.email)
    page.goto(live_server.url + "/billing/claims/")
    page.get_by_test_id("build-claims").click()
    expect(page.get_by_test_id("build-summary")).to_contain_text("Built 5 claims")
    shots(page, "claim-build")
    shots(page, "claims")

    page.get_by_role("link", name="Held: need a fix").click()
    page.get_by_test_id("claims-table").get_by_role("link").first.click()
    expect(page.get_by_test_id("problems")).to_contain_text("no complete address")
    shots(page, "claim-held")

    Member.objects.filter(pk=unhoused.pk).update(street="Union Rescue Mission, 545 S San Pedro St")
    page.get_by_test_id("rescrub").click()
    expect(page.get_by_test_id("claim-status")).to_have_text("Ready")
    shots(page, "claim-ready")

    page.goto(live_server.url + "/billing/batches/")
    shots(page, "batches")
    page.get_by_test_id("create-batch").first.click()
    expect(page.get_by_test_id("batch-status")).to_have_text("Ready")
    expect(page.get_by_test_id("download")).to_be_visible()
    shots(page, "batch")
    page.get_by_test_id("mark-sent").click()
    expect(page.get_by_test_id("batch-status")).to_have_text("Submitted")
    shots(page, "batch-sent")
    assert Organization.objects.filter(pk=world.hub.pk).exists()
