"""Issue #14 item 3 in a real browser: the referral form offers only the services the chosen CBO is
contracted for in the member's county, and says why the others are not offered; the CBO reads a
warning before accepting a referral its contract no longer covers. Screenshots go to
/tmp/shots/referral-offer-*.png."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from contracts.models import Contract
from referrals.models import Referral
from tests.contracts.factories import ensure_reference_data
from tests.e2e.pages import screenshot, sign_in
from tests.referrals.factories import DEFAULT_TERMS, contract, service

MEALS = "S5170-U6"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_form_offers_what_the_cbo_is_contracted_for_and_the_cbo_is_warned(page: Page, live_server, world):
    ensure_reference_data()
    la_meals = contract(
        world.plan,
        world.cbo,
        user=world.contract_manager,
        terms={MEALS: DEFAULT_TERMS[MEALS]},
        counties=("Los Angeles",),
        number="LA-MEALS",
    )
    base = live_server.url
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, base, world.care_coordinator.email)
    page.goto(base + "/referrals/new/")
    page.get_by_label("CIN").fill("91234567A")
    page.get_by_label("First name").fill("Rosa")
    page.get_by_label("Last name").fill("Alvarez")
    page.get_by_label("Date of birth").fill("1961-04-02")
    page.get_by_label("County").select_option("Alameda")
    page.get_by_label("Refer to").select_option(label=str(world.cbo))
    offer = page.locator("#not-offered")
    expect(offer).to_contain_text(
        "No service can be referred to Eastside Community Kitchen for this member today: "
        "Contract LA-MEALS covers Los Angeles, not Alameda."
    )
    expect(page.get_by_label("Service").locator("option")).to_have_count(1)  # only "---------"
    screenshot(page, "referral-offer-none")

    page.get_by_label("County").select_option("Los Angeles")
    expect(page.get_by_label("Service").locator("option")).to_have_text(
        ["---------", "Medically Tailored Meals · S5170-U6"]
    )
    offer.get_by_text("not offered, and why").click()
    expect(offer).to_contain_text(
        "Sobering Centers (H0014-U6): Contract LA-MEALS does not cover Sobering Centers"
    )
    screenshot(page, "referral-offer-why")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "referral-offer-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_label("Service").select_option(str(service(MEALS).pk))
    page.get_by_role("button", name="Send referral").click()
    expect(page.get_by_text("sent to Eastside Community Kitchen")).to_be_visible()
    referral = Referral.objects.get()
    assert referral.service == service(MEALS) and referral.member.county.name == "Los Angeles"

    # The plan ends the contract today: the CBO is told before it accepts.
    Contract.objects.filter(pk=la_meals.pk).update(termination_date=timezone.localdate())
    page.get_by_role("button", name="Sign out", include_hidden=True).evaluate("b => b.click()")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()  # before the next goto aborts it
    sign_in(page, base, world.cbo_staff.email)
    page.goto(f"{base}/referrals/{referral.pk}/")
    warning = page.get_by_test_id("offer-warning")
    expect(warning).to_contain_text("cannot take referrals for Medically Tailored Meals (S5170-U6)")
    expect(warning).to_contain_text("was terminated effective")
    expect(page.get_by_role("button", name="Accept referral")).to_be_visible()
    screenshot(page, "referral-offer-warning")
