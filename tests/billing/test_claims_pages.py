"""Claims and batches pages, and the build_claims / export_claims commands."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command

from billing.choices import BatchStatus, ClaimStatus
from billing.models import Batch, Claim, ClaimBuild
from billing.services.batches import create_batch, submit_batch, write_batch_file
from billing.services.claims import build_claims
from cbo_portal.models import Organization
from tests.billing.factories import delivery, setup_billing

pytestmark = pytest.mark.django_db


@pytest.fixture
def bw(world):
    setup_billing(world)
    return world


def test_coordinator_builds_claims_sees_problems_and_rescrubs(bw, client, django_capture_on_commit_callbacks):
    delivery(bw)
    Organization.objects.filter(pk=bw.cbo.pk).update(service_zip="90012")
    client.force_login(bw.cbo_billing)
    page = client.get("/billing/claims/")
    assert page.status_code == 200 and b"Build claims (1 service)" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post("/billing/claims/build/")
    build = ClaimBuild.objects.get()
    assert started["Location"] == f"/billing/claims/builds/{build.pk}/"
    response = client.get(started["Location"])
    assert b"Built 1 claim: 0 ready, 1 held" in response.content
    claim = Claim.objects.get()
    detail = client.get(f"/billing/claims/{claim.pk}/")
    assert b"needs all nine digits" in detail.content and b"Re-scrub" in detail.content
    Organization.objects.filter(pk=bw.cbo.pk).update(service_zip="90012-1234")
    response = client.post(f"/billing/claims/{claim.pk}/", follow=True)
    assert b"is clean and ready to send" in response.content
    csv = client.get("/billing/claims/?status=ready&format=csv")
    assert b"".join(csv.streaming_content).decode().splitlines()[1].startswith(claim.control_number)


def test_batch_pages_progress_download_and_mark_sent(bw, client, django_capture_on_commit_callbacks):
    delivery(bw)
    build_claims(acting_user=bw.cbo_billing)
    client.force_login(bw.hub_billing)
    assert b"Create batch" in client.get("/billing/batches/").content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/billing/batches/create/", {"submitter": bw.hub.pk, "plan": bw.plan.pk})
    batch = Batch.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/billing/batches/{batch.pk}/"
    assert client.get(f"/billing/batches/{batch.pk}/progress.json").json()["percent"] == 100
    page = client.get(f"/billing/batches/{batch.pk}/")
    assert b"Mark as sent" in page.content and batch.file_name.encode() in page.content
    # One claim is "1 claim", in the message and in the batch's history.
    assert (
        b"created with 1 claim; writing its file." in page.content
        and b"File written (1 claim)" in page.content
    )
    download = client.get(f"/billing/batches/{batch.pk}/download/")
    assert b"".join(download.streaming_content).startswith(b"ISA*")
    client.post(f"/billing/batches/{batch.pk}/", {"action": "sent"})
    batch.refresh_from_db()
    assert batch.status == BatchStatus.SUBMITTED
    # The plan now sees the claim, read-only.
    client.force_login(bw.plan_admin)
    listing = client.get("/billing/claims/")
    assert (
        Claim.objects.get().control_number.encode() in listing.content
        and b"Build claims" not in listing.content
    )
    assert b"Re-scrub" not in client.get(f"/billing/claims/{Claim.objects.get().pk}/").content
    assert client.get(f"/billing/batches/{batch.pk}/download/").status_code == 404
    client.force_login(bw.other_cbo_admin)
    assert client.get(f"/billing/claims/{Claim.objects.get().pk}/").status_code == 404


def test_invoice_plans_get_a_csv_and_a_printable_invoice(bw, world, client):
    from contracts.models import Contract

    Contract.objects.filter(cbo=world.cbo).update(claim_format="invoice")
    d = delivery(bw)
    build_claims(acting_user=bw.cbo_billing)
    batch = write_batch_file(
        create_batch(
            submitter=bw.hub, plan=bw.plan, acting_user=bw.hub_billing, claim_format="invoice", dispatch=False
        )
    )
    assert batch.file_name.endswith(".csv")
    rows = batch.file.open("rb").read().decode().splitlines()
    assert (
        rows[0].startswith("invoice_number,invoice_date") and d.member.cin in rows[1] and "95.00" in rows[1]
    )
    client.force_login(bw.hub_billing)
    page = client.get(f"/billing/batches/{batch.pk}/invoice/")
    assert page.status_code == 200 and b"Invoice" in page.content and d.member.cin.encode() in page.content
    submit_batch(batch, acting_user=bw.hub_billing)
    assert Claim.objects.get().status == ClaimStatus.SUBMITTED


def test_commands_build_and_export(bw, tmp_path):
    delivery(bw)
    out = io.StringIO()
    call_command("build_claims", stdout=out)
    assert "Built 1 claim (" in out.getvalue()
    out = io.StringIO()
    call_command("export_claims", "--out", str(tmp_path), "--plan", str(bw.plan.pk), stdout=out)
    written = out.getvalue().split()
    assert len(written) == 1 and Path(written[0]).read_text().startswith("ISA*")


def test_a_provider_not_yet_approved_is_not_told_to_log_services(db, client):
    """It cannot log any until the plan approves it: the empty list says what opens then."""
    from cbo_portal.choices import OnboardingStatus, Role
    from tests.factories import OrganizationFactory, member

    draft = OrganizationFactory(
        legal_name="Harbor Housing Navigators", onboarding_status=OnboardingStatus.DRAFT
    )
    client.force_login(member(draft, Role.CBO_ADMIN, "admin@harbor.example"))
    text = client.get("/billing/claims/").content.decode()
    assert "Once the plan approves your application, the services your staff log become claims here." in text
    assert "Log services" not in text
