"""The onboarding state machine, checklist and documents, through the service layer."""

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from cbo_portal.choices import AuditAction, OnboardingStatus, Role
from cbo_portal.models import AuditEvent, County, Document, OnboardingTransition
from cbo_portal.services import onboarding
from cbo_portal.services.organizations import Registration, register_provider, update_profile
from cbo_portal.statemachine import IllegalTransition

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def pdf(name="w9.pdf", content=PDF):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


@pytest.fixture
def applicant(db):
    org, user = register_provider(
        Registration(
            legal_name="Harbor Housing Navigators", email="Ana@Harbor.org", password="a-long-passphrase-1"
        )
    )
    return org, user


def complete(org, user):
    update_profile(
        org,
        acting_user=user,
        changes={
            "tin": "95-3334444",
            "npi": "1234567893",
            "taxonomy_code": "251s00000x",
            "service_street": "1 Pine Ave",
            "service_city": "Long Beach",
            "service_zip": "90802",
            "phone": "562-555-0100",
            "contact_name": "Ana Flores",
            "contact_email": "ana@harbor.org",
            "services_offered": ["housing_navigation"],
        },
        counties=County.objects.filter(name="Los Angeles"),
    )
    for kind in ("w9", "insurance", "license"):
        onboarding.upload_document(org, acting_user=user, kind=kind, upload=pdf(f"{kind}.pdf"))
    org.refresh_from_db()


def test_registration_creates_draft_cbo_and_admin(applicant):
    org, user = applicant
    assert org.onboarding_status == OnboardingStatus.DRAFT
    assert user.email == "ana@harbor.org"
    assert user.memberships.get().role == Role.CBO_ADMIN
    assert AuditEvent.objects.filter(organization=org, action=AuditAction.CREATE).exists()


def test_registration_refuses_existing_email_and_weak_password(applicant):
    with pytest.raises(ValidationError, match="already exists"):
        register_provider(
            Registration(legal_name="X", email="ana@harbor.org", password="a-long-passphrase-1")
        )
    with pytest.raises(ValidationError):
        register_provider(Registration(legal_name="Y", email="y@y.org", password="short"))
    from cbo_portal.models import Organization

    assert not Organization.objects.filter(legal_name__in=["X", "Y"]).exists()


def test_checklist_lists_what_is_missing_then_clears(applicant):
    org, user = applicant
    items = {i.key: i for i in onboarding.checklist(org)}
    assert not any(i.done for i in items.values())
    assert "NPI" in items["profile"].hint and "TIN/EIN" in items["profile"].hint
    complete(org, user)
    assert all(i.done for i in onboarding.checklist(org))
    org.refresh_from_db()
    assert org.tin == "953334444" and org.taxonomy_code == "251S00000X"


def test_incomplete_application_cannot_be_submitted(applicant):
    org, user = applicant
    with pytest.raises(ValidationError, match="Still missing: Organization profile; W-9"):
        onboarding.submit(org, acting_user=user)
    org.refresh_from_db()
    assert org.onboarding_status == OnboardingStatus.DRAFT
    assert not OnboardingTransition.objects.exists()


def test_full_review_cycle_records_history_and_emails(applicant, world, django_capture_on_commit_callbacks):
    org, user = applicant
    complete(org, user)
    mail.outbox.clear()
    with pytest.raises(ValidationError, match="Tell the organization"):
        onboarding.decide(org, acting_user=world.contract_manager, decision="changes_requested", comment="")
    with django_capture_on_commit_callbacks(execute=True):
        onboarding.submit(org, acting_user=user)
    assert any("New onboarding application" in m.subject for m in mail.outbox)
    # Nothing can be edited while in review.
    with pytest.raises(ValidationError, match="locked"):
        update_profile(org, acting_user=user, changes={"phone": "562-555-0199"})
    with django_capture_on_commit_callbacks(execute=True):
        onboarding.decide(
            org, acting_user=world.contract_manager, decision="changes_requested", comment="W-9 is unsigned"
        )
    org.refresh_from_db()
    assert org.onboarding_status == OnboardingStatus.CHANGES_REQUESTED
    assert any("W-9 is unsigned" in m.body and "ana@harbor.org" in m.to for m in mail.outbox)
    onboarding.upload_document(org, acting_user=user, kind="w9", upload=pdf("w9-signed.pdf"))
    onboarding.submit(org, acting_user=user)
    onboarding.decide(org, acting_user=world.contract_manager, decision="approved")
    org.refresh_from_db()
    assert org.onboarding_status == OnboardingStatus.APPROVED and org.approved_at
    steps = list(
        OnboardingTransition.objects.filter(organization=org).values_list("from_status", "to_status")
    )
    assert steps == [
        ("draft", "submitted"),
        ("submitted", "in_review"),
        ("in_review", "changes_requested"),
        ("changes_requested", "submitted"),
        ("submitted", "in_review"),
        ("in_review", "approved"),
    ]
    assert OnboardingTransition.objects.filter(
        comment="W-9 is unsigned", actor=world.contract_manager
    ).exists()
    # The superseded W-9 stays on record; only the new one counts.
    assert Document.objects.filter(organization=org, kind="w9").count() == 2
    assert (
        Document.objects.filter(organization=org, kind="w9", superseded=False).get().original_name
        == "w9-signed.pdf"
    )


def test_illegal_transitions_change_nothing(applicant, world):
    org, user = applicant
    complete(org, user)
    onboarding.submit(org, acting_user=user)
    onboarding.decide(org, acting_user=world.contract_manager, decision="rejected", comment="Not a nonprofit")
    with pytest.raises(IllegalTransition, match="rejected cannot move to submitted"):
        onboarding.submit(org, acting_user=user)
    with pytest.raises(IllegalTransition):
        onboarding.decide(org, acting_user=world.contract_manager, decision="approved")
    org.refresh_from_db()
    assert org.onboarding_status == OnboardingStatus.REJECTED


def test_only_reviewers_decide(applicant, world):
    org, user = applicant
    complete(org, user)
    onboarding.submit(org, acting_user=user)
    for outsider in (user, world.cbo_admin, world.care_coordinator, world.cbo_billing):
        with pytest.raises(PermissionDenied):
            onboarding.decide(org, acting_user=outsider, decision="approved")
    org.refresh_from_db()
    assert org.onboarding_status == OnboardingStatus.SUBMITTED
    # Platform admins may review too.
    onboarding.decide(org, acting_user=world.platform_admin, decision="approved")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("w9.exe", b"MZ....", "not a PDF, PNG or JPEG"),
        ("w9.pdf", b"<html>not a pdf</html>", "not a PDF, PNG or JPEG"),
        ("w9.png", PDF, "not a PDF, PNG or JPEG"),
        ("empty.pdf", b"", "empty"),
    ],
)
def test_bad_uploads_are_refused(applicant, name, content, message):
    org, user = applicant
    with pytest.raises(ValidationError, match=message):
        onboarding.upload_document(org, acting_user=user, kind="w9", upload=SimpleUploadedFile(name, content))
    assert not Document.objects.exists()


def test_oversized_upload_is_refused(applicant, settings):
    settings.DOCUMENT_MAX_BYTES = 1024
    org, user = applicant
    with pytest.raises(ValidationError, match="the limit is"):
        onboarding.upload_document(org, acting_user=user, kind="w9", upload=pdf(content=PDF + b"0" * 2048))
    assert not Document.objects.exists()


def test_png_and_jpeg_are_accepted(applicant):
    org, user = applicant
    doc = onboarding.upload_document(
        org, acting_user=user, kind="insurance", upload=SimpleUploadedFile("coi.png", PNG)
    )
    assert doc.content_type == "image/png" and len(doc.sha256) == 64
    jpeg = SimpleUploadedFile("license.JPG", b"\xff\xd8\xff\xe0" + b"\x00" * 20)
    assert (
        onboarding.upload_document(org, acting_user=user, kind="license", upload=jpeg).content_type
        == "image/jpeg"
    )


def test_staff_cannot_upload_or_submit(world):
    with pytest.raises(PermissionDenied):
        onboarding.upload_document(world.cbo, acting_user=world.cbo_staff, kind="w9", upload=pdf())
    with pytest.raises(PermissionDenied):
        onboarding.submit(world.cbo, acting_user=world.cbo_staff)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"npi": "1234567890"}, "npi", "check digit"),
        ({"tin": "12-34567"}, "tin", "9 digits"),
        ({"taxonomy_code": "251S"}, "taxonomy_code", "ending in X"),
    ],
)
def test_bad_identifiers_are_refused_and_nothing_changes(applicant, changes, field, message):
    org, user = applicant
    with pytest.raises(ValidationError) as info:
        update_profile(org, acting_user=user, changes={**changes, "phone": "562-555-0100"})
    assert message in " ".join(info.value.message_dict[field])
    org.refresh_from_db()
    assert org.phone == "" and getattr(org, field) == ""
