"""Members' consents: recorded by the organizations serving the member, seen only by them; a
contract's rate line can require one, and logging that service is refused without it, accepted
with it and stopped after it is revoked (the open referral then says so)."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from cbo_portal.models import AuditEvent
from contracts.models import RateLineVersion
from referrals.models import Consent, ServiceDelivery
from referrals.services import consents as consent_svc
from referrals.services import deliveries
from tests.referrals.factories import authorization, contracted, referral, service

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def served(world):
    """An accepted, authorized referral whose rate line requires ECM enrollment consent."""
    contracted(world)
    r = referral(world)
    authorization(world, r, units=20)
    RateLineVersion.objects.filter(rate_line__service=service("T2041-U6")).update(
        consent_required="ecm_enrollment"
    )
    return r


def _log(world, r, day):
    return deliveries.log_service(
        acting_user=world.cbo_staff, referral=r, service_date=day, units=1, place_of_service="12"
    )


def _consent(world, r, status, day, **kw):
    return consent_svc.record_consent(
        r.member,
        acting_user=kw.pop("by", world.cbo_staff),
        organization=kw.pop("org", world.cbo),
        kind="ecm_enrollment",
        status=status,
        on=day,
        method="verbal",
        **kw,
    )


def test_a_service_that_needs_consent_is_refused_without_accepted_with_and_stopped_after_revocation(
    world, served
):
    with pytest.raises(
        ValidationError, match="needs the member's ECM enrollment consent, and none is on file"
    ):
        _log(world, served, TODAY - timedelta(days=5))
    _consent(world, served, "given", TODAY - timedelta(days=10))
    assert _log(world, served, TODAY - timedelta(days=5)).pk

    _consent(world, served, "revoked", TODAY - timedelta(days=2), note="Member asked to leave ECM")
    with pytest.raises(ValidationError, match="revoked it on"):
        _log(world, served, TODAY - timedelta(days=1))
    # A day before the revocation is still covered by the consent given then.
    assert _log(world, served, TODAY - timedelta(days=3)).pk
    assert ServiceDelivery.objects.filter(referral=served).count() == 2
    assert AuditEvent.objects.filter(object_type="referrals.Consent").count() == 2


def test_the_open_referral_says_the_consent_was_revoked(world, served, client):
    _consent(world, served, "revoked", TODAY)
    client.force_login(world.cbo_staff)
    page = client.get(f"/referrals/{served.pk}/").content.decode()
    assert 'data-testid="consent-flag"' in page and "revoked ECM enrollment consent" in page


def test_only_organizations_serving_the_member_record_or_see_consents(world, served, api):
    _consent(world, served, "given", TODAY)
    for outsider, org in (
        (world.other_cbo_staff, world.other_cbo),
        (world.other_plan_coordinator, world.other_plan),
    ):
        with pytest.raises(PermissionDenied):
            _consent(world, served, "revoked", TODAY, by=outsider, org=org)
        client = api.as_user(outsider)
        assert client.get(f"/api/v1/members/{served.member.pk}/consents/").status_code == 404
        body = {"kind": "ecm_enrollment", "status": "revoked", "on": str(TODAY), "method": "verbal"}
        assert client.post(f"/api/v1/members/{served.member.pk}/consents/", body).status_code == 404
    # A user of the CBO naming another CBO as the recorder does not get through either.
    with pytest.raises(PermissionDenied):
        _consent(world, served, "revoked", TODAY, org=world.other_cbo)
    assert list(Consent.objects.values_list("status", flat=True)) == ["given"]

    mine = api.as_user(world.care_coordinator)
    listed = mine.get(f"/api/v1/members/{served.member.pk}/consents/").json()
    assert [(c["kind"], c["status"], c["organization"]) for c in listed] == [
        ("ecm_enrollment", "given", "Eastside Community Kitchen")
    ]


def test_consent_through_the_api_with_its_signed_form(world, served, api):
    client = api.as_user(world.cbo_staff)
    url = f"/api/v1/members/{served.member.pk}/consents/"
    body = {"kind": "data_sharing", "status": "given", "on": str(TODAY), "method": "written"}
    made = client.post(url, {**body, "document": SimpleUploadedFile("roi.pdf", PDF)}, format="multipart")
    assert made.status_code == 201, made.content
    assert made.json()["has_document"] is True and made.json()["document_name"] == "roi.pdf"
    bad = client.post(
        url, {**body, "document": SimpleUploadedFile("roi.pdf", b"MZ not a pdf")}, format="multipart"
    )
    assert bad.status_code == 400 and "not a PDF, PNG or JPEG" in bad.content.decode()
    assert Consent.objects.count() == 1

    consent = Consent.objects.get()
    page = api.as_user(world.care_coordinator).get(f"/members/{served.member.pk}/consents/{consent.pk}/form/")
    assert page.status_code == 200 and b"".join(page.streaming_content).startswith(b"%PDF")
    outsider = api.as_user(world.other_cbo_staff).get(
        f"/members/{served.member.pk}/consents/{consent.pk}/form/"
    )
    assert outsider.status_code == 404


def test_a_cbo_records_a_consent_on_the_member_page(world, served, client):
    client.force_login(world.cbo_staff)
    page = client.get(f"/members/{served.member.pk}/").content.decode()
    assert "Record a consent" in page
    response = client.post(
        f"/members/{served.member.pk}/",
        {
            "action": "consent",
            "consent-kind": "ecm_enrollment",
            "consent-status": "given",
            "consent-on": str(TODAY),
            "consent-method": "e_signature",
        },
    )
    assert response.status_code == 302
    page = client.get(f"/members/{served.member.pk}/").content.decode()
    assert "Consent recorded." in page and "E-signature" in page
    assert _log(world, served, TODAY).pk
