"""The same onboarding journey on a phone-sized screen (390x844): the navigation lives behind
the menu button, tables become cards, and every step must still be reachable and readable."""

from __future__ import annotations

import pytest

from cbo_portal.choices import OnboardingStatus
from cbo_portal.models import Membership, Organization
from tests.e2e.onboarding_steps import Journey, ensure_counties

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}


def test_onboarding_journey_on_a_phone(browser, live_server, world, tmp_path):
    ensure_counties()
    context = browser.new_context(**PHONE)
    page = context.new_page()
    journey = Journey(
        page,
        live_server.url,
        tmp_path,
        reviewer_email=world.contract_manager.email,
        org_name="Harbor Meals",
        admin_email="lead@harbormeals.org",
    )

    journey.run(staff_email="kim@harbormeals.org")

    # (Journey.fits checked along the way that no page scrolls sideways.)
    assert Organization.objects.get(legal_name="Harbor Meals").onboarding_status == OnboardingStatus.APPROVED
    assert Membership.objects.filter(user__email="kim@harbormeals.org", is_active=True).exists()
    context.close()
