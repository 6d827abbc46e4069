"""Bad input through the pages: each gets a clear message on the page and changes nothing.

The profile and upload checks run in the browser (they exercise the real form as rendered);
the rest need no JavaScript and use Django's test client, which is much faster.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from cbo_portal.choices import OnboardingStatus, Role
from cbo_portal.models import AuditEvent, Document, Invitation, Membership, OnboardingTransition
from cbo_portal.services import people
from tests.e2e.onboarding_steps import ensure_counties, pdf_bytes, sign_in, write
from tests.factories import PASSWORD, OrganizationFactory, member

User = get_user_model()


def _draft_cbo():
    org = OrganizationFactory(
        legal_name="Valley Respite Care", onboarding_status=OnboardingStatus.DRAFT, npi=""
    )
    return org, member(org, Role.CBO_ADMIN, "admin@valleyrespite.org")


# --- in the browser ---------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_bad_identifiers_and_bad_uploads_are_refused_on_the_page(browser, live_server, settings, tmp_path):
    ensure_counties()
    settings.DOCUMENT_MAX_BYTES = 2048
    org, admin = _draft_cbo()
    before = {f: getattr(org, f) for f in ("tin", "npi", "taxonomy_code", "updated_at")}
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, live_server.url, admin.email)
    audit_rows = AuditEvent.objects.count()  # after the sign-in, which is audited itself

    # Wrong NPI check digit and a malformed TIN, in one save.
    page.get_by_label("NPI", exact=True).fill("1234567890")
    page.get_by_label("TIN/EIN").fill("12-34567")
    page.get_by_label("City", exact=True).fill("Fresno")
    page.get_by_role("button", name="Save profile").click()
    npi_error = page.locator("#id_profile-npi_error")
    expect(npi_error).to_contain_text("NPI 1234567890 fails its check digit")
    expect(page.locator("#id_profile-tin_error")).to_contain_text(
        "A TIN/EIN is 9 digits, written like 12-3456789."
    )
    expect(page.get_by_label("NPI", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("alert").filter(has_text="The profile was not saved")).to_be_visible()
    # What was typed stays in the form, so the user can correct it.
    expect(page.get_by_label("NPI", exact=True)).to_have_value("1234567890")

    # A file that is not what its name says, and one that is too large.
    page.get_by_label("Document type").select_option(label="W-9")
    page.get_by_label("File", exact=True).set_input_files(write(tmp_path, "w9.pdf", b"MZ\x90\x00 not a pdf"))
    page.get_by_role("button", name="Upload").click()
    expect(
        page.get_by_role("alert").filter(has_text="w9.pdf is not a PDF, PNG or JPEG file.")
    ).to_be_visible()

    page.get_by_label("Document type").select_option(label="W-9")
    page.get_by_label("File", exact=True).set_input_files(write(tmp_path, "notes.txt", b"plain text"))
    page.get_by_role("button", name="Upload").click()
    expect(
        page.get_by_role("alert").filter(has_text="notes.txt is not a PDF, PNG or JPEG file.")
    ).to_be_visible()

    page.get_by_label("Document type").select_option(label="Certificate of insurance")
    big = write(tmp_path, "coi.pdf", pdf_bytes() + b"0" * 4096)
    page.get_by_label("File", exact=True).set_input_files(big)
    page.get_by_role("button", name="Upload").click()
    too_big = re.compile(r"coi\.pdf is 4\.\d KB; the limit is 2\.0 KB\. Upload a smaller file\.")
    expect(page.get_by_role("alert").filter(has_text=too_big)).to_be_visible()
    expect(page.get_by_test_id("check-doc_insurance")).to_have_attribute("data-done", "false")
    context.close()

    org.refresh_from_db()
    assert {f: getattr(org, f) for f in before} == before
    assert org.service_city != "Fresno"  # the whole save was refused, not just the bad fields
    assert not Document.objects.filter(organization=org).exists()
    assert AuditEvent.objects.count() == audit_rows


# --- through the test client ------------------------------------------------------------------


@pytest.fixture
def invitation_link(world):
    """A fresh invitation to Eastside for a new staff member; returns (invitation, path)."""
    invitation, link = people.invite(
        world.cbo, acting_user=world.cbo_admin, email="newhire@eastside.org", role=Role.CBO_STAFF
    )
    return invitation, link[link.index("/invitations/") :]


def _accept(client, path, password="A-good-long-passphrase-1"):
    return client.post(path, {"first_name": "New", "last_name": "Hire", "password": password})


@pytest.mark.django_db
def test_expired_invitation_link_is_refused(client, invitation_link):
    invitation, path = invitation_link
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timezone.timedelta(minutes=1)
    )

    for response in (client.get(path), _accept(client, path)):
        assert response.status_code == 410
        assert "This invitation has expired. Ask your administrator to send a new one." in response.text
        assert "Accept invitation" not in response.text

    assert not User.objects.filter(email="newhire@eastside.org").exists()
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


@pytest.mark.django_db
def test_used_invitation_link_cannot_be_used_again(client, invitation_link, world):
    invitation, path = invitation_link
    assert _accept(client, path).status_code == 302
    client.logout()
    members = Membership.objects.count()

    for response in (client.get(path), _accept(client, path, password="Another-passphrase-22")):
        assert response.status_code == 410
        assert "This invitation has already been used." in response.text

    assert Membership.objects.count() == members
    user = User.objects.get(email="newhire@eastside.org")
    assert user.check_password("A-good-long-passphrase-1")  # the second try changed nothing


@pytest.mark.django_db
def test_weak_password_on_invitation_keeps_the_link_usable(client, invitation_link):
    invitation, path = invitation_link
    response = _accept(client, path, password="short")
    assert response.status_code == 200
    assert "This password is too short" in response.text
    assert not User.objects.filter(email="newhire@eastside.org").exists()
    invitation.refresh_from_db()
    assert invitation.accepted_at is None


@pytest.mark.django_db
def test_deciding_on_an_already_approved_application_is_refused(client, world):
    """A reviewer with a stale tab tries to decide on an application that is already approved."""
    org = world.cbo  # approved
    history = OnboardingTransition.objects.count()
    client.force_login(world.contract_manager)
    url = reverse("review_detail", args=[org.pk])

    response = client.post(url, {"decision": "changes_requested", "comment": "Please re-upload the W-9."})

    assert response.status_code == 200
    assert (
        "An application that is approved cannot move to changes requested; "
        "allowed next: none (this is a final status)." in response.text
    )
    assert 'role="alert"' in response.text
    org.refresh_from_db()
    assert org.onboarding_status == OnboardingStatus.APPROVED
    assert OnboardingTransition.objects.count() == history


@pytest.mark.django_db
def test_submitting_twice_is_refused(client):
    """The CBO's admin submits from one tab, then presses submit again in a stale one."""
    org, admin = _draft_cbo()
    org.npi = "1234567893"
    org.services_offered = ["ecm"]
    org.save()
    ensure_counties()
    org.counties.set(org.counties.model.objects.filter(name="Fresno"))
    from django.core.files.uploadedfile import SimpleUploadedFile

    from cbo_portal.services import onboarding

    for kind in ("w9", "insurance", "license"):
        onboarding.upload_document(
            org, acting_user=admin, kind=kind, upload=SimpleUploadedFile(f"{kind}.pdf", pdf_bytes())
        )
    client.force_login(admin)
    assert client.post(reverse("onboarding"), {"action": "submit"}).status_code == 302

    response = client.post(reverse("onboarding"), {"action": "submit"})

    assert response.status_code == 200
    assert (
        "An application that is submitted cannot move to submitted; allowed next: in review." in response.text
    )
    assert OnboardingTransition.objects.filter(organization=org).count() == 1


@pytest.mark.django_db
def test_submitting_an_incomplete_checklist_is_refused(client):
    org, admin = _draft_cbo()
    client.force_login(admin)

    response = client.post(reverse("onboarding"), {"action": "submit"})

    assert response.status_code == 200
    assert "Finish the checklist before submitting. Still missing:" in response.text
    org.refresh_from_db()
    assert org.onboarding_status == OnboardingStatus.DRAFT


@pytest.mark.django_db
def test_requesting_changes_needs_a_comment(client, world):
    org = OrganizationFactory(legal_name="Bayview Housing", onboarding_status=OnboardingStatus.SUBMITTED)
    client.force_login(world.contract_manager)

    response = client.post(reverse("review_detail", args=[org.pk]), {"decision": "changes_requested"})

    assert response.status_code == 200
    assert "Tell the organization what to change or why it is rejected." in response.text
    org.refresh_from_db()
    assert org.onboarding_status == OnboardingStatus.SUBMITTED
    assert not OnboardingTransition.objects.filter(organization=org).exists()


@pytest.mark.django_db
def test_sixth_wrong_password_shows_the_locked_out_page(client, world, settings):
    """AXES_FAILURE_LIMIT=5. django-axes locks as soon as the count of failures reaches the limit,
    so attempts 1-4 get the ordinary message and the 5th and every later one the locked-out page."""
    assert settings.AXES_FAILURE_LIMIT == 5
    login = reverse("login")
    email = world.cbo_admin.email

    def wrong():
        return client.post(login, {"username": email, "password": "wrong-password"})

    for _attempt in range(4):
        response = wrong()
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.text
    assert wrong().status_code == 429  # the 5th reaches the limit

    response = wrong()  # the 6th
    assert response.status_code == 429
    assert "Too many sign-in attempts" in response.text
    assert "paused for 15 minutes" in response.text
    assert "reset your password" in response.text

    # Even the right password is refused while locked out.
    response = client.post(login, {"username": email, "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
