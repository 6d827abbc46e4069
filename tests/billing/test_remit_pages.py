"""The remittance, upload, work queue, denials and report pages, as a billing coordinator sees them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from billing.choices import ClaimStatus
from billing.models import Remittance, RemittanceClaim
from billing.services.remittances import import_remittance
from tests.billing.remit_factories import (
    ack_999,
    adj,
    clp,
    line_pay,
    plb,
    remittance_835,
    sent_batch,
    submitted_claim,
)

pytestmark = pytest.mark.django_db


def _login(client, user):
    client.force_login(user)
    return client


def test_upload_bad_835_shows_the_error_and_changes_nothing(world, client):
    claim = submitted_claim(world, charges=("100.00",))
    data = remittance_835(
        world, [clp(claim, "1", [line_pay(claim, 1, "100")])], total=Decimal("140"), check_balance=False
    )
    response = _login(client, world.cbo_billing).post(
        "/billing/remittances/upload/", {"file": SimpleUploadedFile("bad.835", data), "kind": "auto"}
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "Nothing was imported" in text and "140" in text and "100" in text
    assert not Remittance.objects.exists()


def test_upload_835_then_see_it(world, client):
    claim = submitted_claim(world, charges=("100.00",))
    data = remittance_835(
        world,
        [
            clp(claim, "1", [line_pay(claim, 1, "90", adj("CO", "45", "10"))]),
            clp("ZZZ999", "1", charge="50", paid="50"),
        ],
        [plb("L6", "-2.50", "INT1", world.cbo.npi)],
    )
    c = _login(client, world.cbo_billing)
    response = c.post(
        "/billing/remittances/upload/",
        {"file": SimpleUploadedFile("ok.835", data), "kind": "auto"},
        follow=True,
    )
    text = response.content.decode()
    assert "835 imported: 1 claim matched, 1 unmatched" in text
    assert "CO-45" in text and "Interest owed" in text and claim.control_number in text
    listing = c.get("/billing/remittances/").content.decode()
    assert "$142.50" in listing
    assert c.get("/billing/remittances/?format=csv").content.decode().count("\n") == 2


def test_upload_999_through_the_page(world, client):
    batch = sent_batch(world, sets={"0001": 1})
    response = _login(client, world.cbo_billing).post(
        "/billing/remittances/upload/",
        {"file": SimpleUploadedFile("ack.999", ack_999(batch, sets=["0001"])), "kind": "auto"},
        follow=True,
    )
    assert "1 transaction set accepted" in response.content.decode()
    assert batch.claims.get().status == ClaimStatus.ACCEPTED


def test_work_queue_resolve_with_a_note(world, client):
    import_remittance(remittance_835(world, [clp("NOPE1", "1", charge="50", paid="50")]), file_name="u.835")
    c = _login(client, world.cbo_billing)
    page = c.get("/billing/remittances/unmatched/").content.decode()
    assert "NOPE1" in page and "No claim has control number NOPE1" in page
    item = RemittanceClaim.objects.get()
    response = c.post(
        f"/billing/remittances/unmatched/{item.pk}/resolve/", {"note": "Not ours; told the plan"}, follow=True
    )
    assert "marked as resolved" in response.content.decode()
    item.refresh_from_db()
    assert item.resolved_at and item.resolution_note == "Not ours; told the plan"
    assert "Nothing waiting" in c.get("/billing/remittances/unmatched/").content.decode()


def test_plan_cannot_resolve_but_reads(world, client):
    import_remittance(remittance_835(world, [clp("NOPE2", "1", charge="50", paid="50")]), file_name="u.835")
    item = RemittanceClaim.objects.get()
    c = _login(client, world.contract_manager)
    assert "NOPE2" in c.get("/billing/remittances/unmatched/").content.decode()
    c.post(f"/billing/remittances/unmatched/{item.pk}/resolve/", {"note": "x"})
    item.refresh_from_db()
    assert item.resolved_at is None


def test_denials_page_shows_reason_and_advice(world, client):
    claim = submitted_claim(world, charges=("100.00",))
    import_remittance(
        remittance_835(world, [clp(claim, "4", [line_pay(claim, 1, "0", adj("CO", "197", "100"))])]),
        file_name="d.835",
    )
    text = _login(client, world.cbo_billing).get("/billing/denials/").content.decode()
    assert (
        claim.control_number in text
        and "CO-197" in text
        and "What to do" in text
        and "Correct and resubmit" in text
    )
    plan_view = _login(client, world.contract_manager).get("/billing/denials/").content.decode()
    assert claim.control_number in plan_view and "Correct and resubmit" not in plan_view


def test_outsiders_get_404(world, client):
    claim = submitted_claim(world, charges=("100.00",))
    result = import_remittance(
        remittance_835(world, [clp(claim, "1", [line_pay(claim, 1, "100")])]), file_name="x.835"
    )
    c = _login(client, world.other_cbo_admin)
    assert c.get(f"/billing/remittances/{result.remittance.pk}/").status_code == 404
    assert claim.control_number not in c.get("/billing/denials/").content.decode()


def test_reports_page_and_csvs(world, client):
    claim = submitted_claim(world, charges=("100.00",))
    import_remittance(
        remittance_835(world, [clp(claim, "1", [line_pay(claim, 1, "80", adj("CO", "45", "20"))])]),
        file_name="r.835",
    )
    c = _login(client, world.cbo_billing)
    page = c.get("/billing/reports/")
    text = page.content.decode()
    assert "A/R aging by plan" in text and "Denial rate by reason" in text
    billed, paid = page.context["chart"]["datasets"]
    months = page.context["months"]
    assert (billed["label"], sum(billed["data"])) == ("Billed", 100.0)
    assert (paid["label"], paid["data"]) == ("Paid", [float(m.paid) for m in months])
    for export in ("aging", "billed-vs-paid", "denial-rate"):
        response = c.get(f"/billing/reports/?export={export}")
        assert response["Content-Type"].startswith("text/csv") and response.content.count(b"\n") >= 2


def test_correct_and_resubmit_asks_first_and_shows_what_will_be_sent(world, client):
    claim = submitted_claim(world, charges=("100.00",))
    import_remittance(
        remittance_835(world, [clp(claim, "4", [line_pay(claim, 1, "0", adj("CO", "197", "100"))])]),
        file_name="d.835",
    )
    c = _login(client, world.cbo_billing)
    confirm = c.get(f"/billing/denials/{claim.pk}/correct/")
    text = confirm.content.decode()
    assert confirm.status_code == 200 and "What will be sent" in text and "Send the replacement" in text
    assert "Open the service entry" in text and "$100.00" in text
    claim.refresh_from_db()
    assert claim.status == "denied"  # looking changed nothing
    response = c.post(f"/billing/denials/{claim.pk}/correct/", {"reason": "added the authorization"})
    claim.refresh_from_db()
    assert claim.status == "corrected" and response.status_code == 302


def test_contractual_write_off_is_not_offered_a_resubmission(world, client):
    claim = submitted_claim(world, charges=("100.00",))
    import_remittance(
        remittance_835(world, [clp(claim, "2", [line_pay(claim, 1, "80", adj("CO", "45", "20"))])]),
        file_name="w.835",
    )
    c = _login(client, world.cbo_billing)
    listing = c.get("/billing/denials/").content.decode()
    assert "Nothing to resubmit" in listing and "Correct and resubmit" not in listing
    text = c.get(f"/billing/denials/{claim.pk}/correct/").content.decode()
    assert "Resubmitting cannot help here" in text and "Send the replacement" not in text
    c.post(f"/billing/denials/{claim.pk}/correct/")
    claim.refresh_from_db()
    assert claim.status == "partially_paid"


@pytest.mark.parametrize("rebill", ["yes", "no"])
def test_void_asks_whether_to_bill_the_service_again_and_does_so(world, client, rebill):
    from referrals.models import ServiceDelivery

    claim = submitted_claim(world, charges=("100.00",))
    import_remittance(
        remittance_835(world, [clp(claim, "4", [line_pay(claim, 1, "0", adj("CO", "197", "100"))])]),
        file_name="v.835",
    )
    from django.utils import timezone

    ServiceDelivery.objects.filter(pk__in=claim.lines.values("delivery_id")).update(billed_at=timezone.now())
    c = _login(client, world.cbo_billing)
    text = c.get(f"/billing/denials/{claim.pk}/void/").content.decode()
    assert "Should the same service be billed again?" in text
    c.post(f"/billing/denials/{claim.pk}/void/", {})  # no answer: nothing happens
    claim.refresh_from_db()
    assert claim.status == "denied"
    c.post(f"/billing/denials/{claim.pk}/void/", {"rebill": rebill})
    claim.refresh_from_db()
    assert claim.status == "voided"
    deliveries = ServiceDelivery.objects.filter(pk__in=claim.lines.values("delivery_id"))
    assert all((d.billed_at is None) == (rebill == "yes") for d in deliveries)
