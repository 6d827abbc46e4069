"""Two-factor sign-in, password reset, switching organizations, and document downloads."""

import re

from django.core import mail
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from cbo_portal.choices import Role
from cbo_portal.models import AuditEvent, Membership
from tests.factories import PASSWORD


def _code(device: TOTPDevice, drift: int = 0) -> str:
    """The authenticator's code; ``drift=1`` is the next 30-second step (a code is used once)."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=drift):06d}"


def test_two_factor_setup_then_sign_in_asks_for_the_code(world, client, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp delays retries after a wrong code
    client.force_login(world.cbo_billing)
    assert client.get("/account/two-factor/").status_code == 200
    device = TOTPDevice.objects.get(user=world.cbo_billing, confirmed=False)
    wrong = client.post("/account/two-factor/", {"action": "confirm", "code": "000000"})
    assert "did not match" in wrong.content.decode()
    assert (
        client.post("/account/two-factor/", {"action": "confirm", "code": _code(device)}).status_code == 302
    )
    device.refresh_from_db()
    assert device.confirmed

    client.logout()
    response = client.post("/login/", {"username": "billing@eastside.org", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"].startswith("/login/verify/")
    # Signed in with the password only: pages send you to the second step.
    assert client.get("/team/")["Location"].startswith("/login/verify/")
    assert "did not match" in client.post("/login/verify/", {"code": "123456"}).content.decode()
    assert client.post("/login/verify/?next=/team/", {"code": _code(device, drift=1)})["Location"] == "/team/"
    assert client.get("/team/").status_code == 200


def test_password_reset_by_email_link(world, client):
    client.post("/password/reset/", {"email": "staff@eastside.org"})
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^\s]+/password/reset/[^\s]+/", mail.outbox[0].body).group(0)
    path = "/" + link.split("/", 3)[3]
    form_url = client.get(path)["Location"]  # Django swaps the token for a session marker
    response = client.post(
        form_url, {"new_password1": "new-passphrase-2026", "new_password2": "new-passphrase-2026"}
    )
    assert response.status_code == 302
    signed_in = client.post("/login/", {"username": "staff@eastside.org", "password": "new-passphrase-2026"})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/"
    # Unknown addresses get the same answer and no email.
    client.logout()
    client.post("/password/reset/", {"email": "nobody@nowhere.org"})
    assert len(mail.outbox) == 1


def test_switching_organization_changes_what_the_pages_act_for(world, client):
    # The CBO admin also works at another CBO.
    Membership.objects.create(user=world.cbo_admin, organization=world.other_cbo, role=Role.CBO_STAFF)
    client.force_login(world.cbo_admin)
    assert "Eastside Community Kitchen" in client.get("/team/").content.decode()
    client.post("/switch/", {"organization": world.other_cbo.pk})
    assert "Northside Housing Partners" in client.get("/team/").content.decode()
    # An organization the user does not belong to cannot be chosen.
    assert client.post("/switch/", {"organization": world.plan.pk}).status_code == 404


def test_documents_download_for_owner_and_reviewer_only_and_is_audited(world, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from cbo_portal.models import Document

    doc = Document.objects.create(
        organization=world.cbo,
        kind="w9",
        file=SimpleUploadedFile("w9.pdf", b"%PDF-1.4 x"),
        original_name="w9.pdf",
        content_type="application/pdf",
        size=10,
        sha256="0" * 64,
        uploaded_by=world.cbo_admin,
    )
    for user, status in [
        (world.cbo_admin, 200),
        (world.contract_manager, 200),
        (world.other_cbo_admin, 404),
        (world.care_coordinator, 404),
    ]:
        client.force_login(user)
        response = client.get(f"/documents/{doc.pk}/download/")
        assert response.status_code == status, user
        if status == 200:
            assert b"".join(response.streaming_content) == b"%PDF-1.4 x"
    assert AuditEvent.objects.filter(action="download", object_id=str(doc.pk)).count() == 2
