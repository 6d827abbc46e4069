"""The onboarding journey in a desktop browser: a CBO registers, completes its checklist with
uploads and submits; the plan's contract manager requests changes; the CBO fixes and resubmits;
the reviewer approves; the CBO's admin invites a staff member, who accepts and signs in."""

from __future__ import annotations

import pytest
from django.core import mail

from cbo_portal.choices import OnboardingStatus, Role
from cbo_portal.models import Document, Invitation, Membership, OnboardingTransition, Organization
from tests.e2e.onboarding_steps import Journey, ensure_counties

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_register_review_approve_and_invite(browser, live_server, world, tmp_path):
    ensure_counties()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    journey = Journey(page, live_server.url, tmp_path, reviewer_email=world.contract_manager.email)

    journey.run(staff_email="sam@sunrisemeals.org")

    org = Organization.objects.get(legal_name=journey.org_name)
    assert org.onboarding_status == OnboardingStatus.APPROVED
    assert org.tin == "941234567" and org.npi == "1234567893"
    assert sorted(org.counties.values_list("name", flat=True)) == ["Alameda", "Contra Costa"]
    steps = list(
        OnboardingTransition.objects.filter(organization=org).values_list("to_status", "actor__email")
    )
    reviewer = world.contract_manager.email
    assert steps == [
        ("submitted", journey.admin_email),
        ("in_review", reviewer),
        ("changes_requested", reviewer),
        ("submitted", journey.admin_email),
        ("in_review", reviewer),
        ("approved", reviewer),
    ]
    # The resubmitted W-9 superseded the first one, which stays for the record.
    w9s = Document.objects.filter(organization=org, kind="w9").order_by("uploaded_at")
    assert [(d.original_name, d.superseded) for d in w9s] == [("w9.pdf", True), ("w9-signed.png", False)]
    # The CBO heard about the requested changes by email, with the reviewer's comment.
    changes_mail = next(m for m in mail.outbox if "changes requested" in m.subject.lower())
    assert journey.admin_email in changes_mail.to and "not signed" in changes_mail.body
    # The invitation was spent and the staff member belongs to the CBO with the invited role.
    assert Invitation.objects.get(email="sam@sunrisemeals.org").accepted_at is not None
    assert Membership.objects.get(user__email="sam@sunrisemeals.org").role == Role.CBO_STAFF
    context.close()
