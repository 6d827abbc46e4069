"""The closed referral loop in a real browser: a plan care coordinator refers a member, the CBO's
admin accepts, the plan authorizes 10 units, the CBO's staff logs 3 services on a phone, the plan
sees the status and 7 units left, and the loop is closed with a reason. Screenshots go to
/tmp/shots/referrals-*.png."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from referrals.models import Referral
from tests.contracts.factories import ensure_reference_data
from tests.e2e.pages import screenshot, sign_in
from tests.referrals.factories import MemberFactory, covered_world, enroll, service

PHONE = {"width": 390, "height": 844}


def shot(page: Page, name: str) -> None:
    screenshot(page, f"referrals-{name}")


def log_one(page: Page, referral_pk: int, day: date, *, repeat: bool) -> None:
    if repeat:
        page.get_by_test_id("repeat-last").click()
    else:
        page.get_by_label("Member and service").select_option(str(referral_pk))
        page.get_by_label("Units").fill("1")
    page.get_by_label("Date of service").fill(day.isoformat())
    page.get_by_role("button", name="Log service").click()
    expect(page.get_by_role("status").filter(has_text="Logged 1 ×")).to_be_visible()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_referral_loop_from_referral_to_closure(page: Page, browser, live_server, world):
    ensure_reference_data()
    covered_world(world)
    # The plan's enrollee (enrolled since 2024), not yet known to the CBO.
    rosa = MemberFactory(cin="91234567A", first_name="Rosa", last_name="Alvarez", county=None)
    enroll(rosa, world.plan)
    today = timezone.localdate()
    base = live_server.url

    # 1. The plan's care coordinator refers Rosa to the CBO for community health work.
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, base, world.care_coordinator.email)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Referrals", exact=True).click()
    page.get_by_role("link", name="New referral").click()
    page.get_by_label("CIN").fill("91234567A")
    page.get_by_label("First name").fill("Rosa")
    page.get_by_label("Last name").fill("Alvarez")
    page.get_by_label("Date of birth").fill("1961-04-02")
    page.get_by_label("County").select_option("Los Angeles")
    page.get_by_label("Refer to").select_option(label=str(world.cbo))
    page.get_by_label("Service").select_option(str(service("T2041-U6").pk))
    page.get_by_label("Urgent").check()
    page.get_by_label("Reason for referral").fill(
        "Recently discharged; needs help with food and appointments"
    )
    page.get_by_label("Diagnosis codes (ICD-10)").fill("Z59.41, Z59.01")
    page.get_by_label("Contact preference").select_option(label="Phone call")
    shot(page, "1-new-referral")
    page.get_by_role("button", name="Send referral").click()
    expect(page.get_by_test_id("referral-status")).to_have_text("Received")
    referral = Referral.objects.get()
    shot(page, "2-sent")

    # 2. The CBO's admin accepts it from the worklist.
    cbo = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(cbo, base, world.cbo_admin.email)
    cbo.goto(base + "/worklist/")
    shot(cbo, "3-cbo-worklist")
    cbo.get_by_role("link", name=referral.number).click()
    shot(cbo, "4-cbo-respond")
    cbo.get_by_role("button", name="Accept referral").click()
    expect(cbo.get_by_test_id("referral-status")).to_have_text("Accepted")

    # 3. The plan authorizes 10 units.
    page.reload()
    page.get_by_text("Authorize units").click()
    page.get_by_label("Authorization number").fill("PA-2026-0042")
    page.get_by_label("Units", exact=True).fill("10")
    page.get_by_label("Start date").fill((today - timedelta(days=7)).isoformat())
    page.get_by_role("button", name="Authorize", exact=True).click()
    expect(page.get_by_test_id("units-left")).to_contain_text("10 units left")

    # 4. The CBO's staff logs three services on a phone, twice with "repeat last".
    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    sign_in(phone, base, world.cbo_staff.email)
    phone.goto(base + "/services/log/")
    expect(phone.get_by_label("Date of service")).to_have_value(today.isoformat())
    shot(phone, "5-phone-log")
    log_one(phone, referral.pk, today - timedelta(days=2), repeat=False)
    log_one(phone, referral.pk, today - timedelta(days=1), repeat=True)
    log_one(phone, referral.pk, today, repeat=True)
    shot(phone, "6-phone-logged")
    phone.goto(base + f"/referrals/{referral.pk}/")
    shot(phone, "7-phone-referral")

    # 5. The plan sees the referral in progress with 7 units left.
    page.reload()
    expect(page.get_by_test_id("referral-status")).to_have_text("In progress")
    expect(page.get_by_test_id("units-left")).to_contain_text("7 units left")
    shot(page, "8-plan-sees-units")

    # 6. The loop closes with a reason.
    page.get_by_label("Loop-closure reason").select_option(label="Services received")
    page.get_by_label("Closure note").fill("Linked to CalFresh and a PCP")
    page.get_by_role("button", name="Close referral").click()
    expect(page.get_by_test_id("referral-status")).to_have_text("Closed")
    expect(page.get_by_test_id("closure")).to_contain_text("Services received")
    shot(page, "9-closed")
    referral.refresh_from_db()
    assert referral.status == "closed" and referral.closure_reason == "services_received"
    assert referral.authorizations.get().units_used == 3

    # Desktop and phone shots of the lists for review.
    for name, url in (
        ("list", "/referrals/"),
        ("report", "/referrals/report/"),
        ("worklist-plan", "/worklist/"),
    ):
        page.goto(base + url)
        shot(page, f"desk-{name}")
    for name, url in (("worklist", "/worklist/"), ("list", "/referrals/")):
        phone.goto(base + url)
        shot(phone, f"phone-{name}")
