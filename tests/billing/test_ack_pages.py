"""Acknowledgements on the pages (issue #16): a 277CA or TA1 uploaded like a 999, a rejected claim
that says why and where to fix it, and that goes out again once fixed."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from billing.choices import ClaimStatus
from billing.models import Acknowledgement, Claim
from billing.services.batches import create_batch, submit_batch, write_batch_file
from billing.services.claims import build_claims, rescrub_claim
from referrals.models import Referral
from tests.billing.factories import delivery, setup_billing
from tests.billing.remit_factories import ack_277ca, ack_ta1, sent_batch
from tests.billing.x12_fixtures import with_bom

pytestmark = pytest.mark.django_db


def _upload(client, name: str, data: bytes):
    return client.post(
        "/billing/remittances/upload/", {"file": SimpleUploadedFile(name, data), "kind": "auto"}, follow=True
    )


def test_a_277ca_uploaded_on_the_page_is_read_and_lists_each_claim_with_its_verdict(world, client):
    batch = sent_batch(world, sets={"0001": 3})
    claims = list(batch.claims.order_by("pk"))
    rejected = claims[1]
    data = ack_277ca(claims, rejected={rejected.control_number: ("A7", "562", "85")})
    client.force_login(world.cbo_billing)

    text = _upload(
        client, "pchp.277", with_bom(data.decode())
    ).content.decode()  # as some clearinghouses send it

    assert "277CA imported: 2 claims accepted, 1 rejected." in text
    assert "Nothing was imported" not in text
    assert f'href="/billing/claims/{rejected.pk}/"' in text
    assert "The entity&#x27;s NPI is missing or invalid (the billing provider)." in text
    assert text.index(rejected.control_number) < text.index(claims[0].control_number)  # rejected first
    assert f"PCN{claims[0].control_number}" in text  # the plan's claim number of an accepted one
    rejected.refresh_from_db()
    assert rejected.status == ClaimStatus.REJECTED
    # The same file again changes nothing and says so.
    again = _upload(client, "pchp.277", with_bom(data.decode())).content.decode()
    assert "was already imported" in again and Acknowledgement.objects.count() == 1
    # On the day it was imported here, written as dates are everywhere else ("Dec 3, 2026").
    imported = timezone.localdate(Acknowledgement.objects.get().imported_at)
    assert f"was already imported on {imported:%b} {imported.day}, {imported.year}; nothing changed" in again


def test_a_ta1_rejecting_the_file_is_read_on_the_page_and_the_batch_lists_its_answers(world, client):
    batch = sent_batch(world, sets={"0001": 2})
    client.force_login(world.cbo_billing)
    text = _upload(client, "pchp.ta1", ack_ta1(batch, status="R", note="022")).content.decode()
    assert "TA1 imported: the plan could not read the file; its claims are rejected." in text
    assert "TA1 interchange acknowledgement" in text and "control structure is invalid" in text
    assert set(batch.claims.values_list("status", flat=True)) == {ClaimStatus.REJECTED}
    page = client.get(f"/billing/batches/{batch.pk}/").content.decode()
    assert "Answers from the plan" in page and "TA1 pchp.ta1" in page


@pytest.fixture
def rejected_world(world):
    """A claim whose referral carries Z59.0 (retired: a format check passes it), built, batched,
    sent, and rejected by the plan's 277CA (A7:254), beside a claim the 277CA accepted."""
    setup_billing(world)
    bad = delivery(world, label="S5170-U6", units=2, dx=["Z59.0"])
    delivery(world)
    build_claims(acting_user=world.hub_billing)
    batch = write_batch_file(
        create_batch(submitter=world.hub, plan=world.plan, acting_user=world.hub_billing, dispatch=False)
    )
    submit_batch(batch, acting_user=world.hub_billing)
    claims = list(Claim.objects.filter(batch=batch).order_by("pk"))
    claim = Claim.objects.get(lines__delivery=bad)
    from billing.services.acks import import_ack

    import_ack(
        ack_277ca(claims, rejected={claim.control_number: ("A7", "254", "")}),
        file_name="pchp.277",
        acting_user=world.hub_billing,
    )
    world.batch, world.claim, world.bad = batch, claim, bad
    return world


def test_a_rejected_claim_says_why_and_links_to_where_it_is_fixed(rejected_world, client):
    w = rejected_world
    client.force_login(w.hub_billing)
    page = client.get(f"/billing/claims/{w.claim.pk}/").content.decode()
    assert "Pacific Coast Health Plan rejected this claim" in page
    assert "277CA pchp.277: rejected by the payer" in page
    assert "The principal diagnosis code is missing or invalid." in page
    assert f"/referrals/{w.bad.referral_id}/?open=diagnoses#diagnoses" in page
    assert "Re-scrub and resubmit" in page
    # The claims page lists it by default, with the reason, and says how many wait.
    listing = client.get("/billing/claims/").content.decode()
    assert w.claim.control_number in listing and "1 claim was rejected by the plan" in listing
    assert "The principal diagnosis code is missing or invalid." in listing


def test_a_fixed_rejected_claim_goes_out_again_in_the_next_batch(rejected_world, client):
    w = rejected_world
    Referral.objects.filter(pk=w.bad.referral_id).update(diagnosis_codes=["Z59.01"])
    client.force_login(w.hub_billing)
    response = client.post(f"/billing/claims/{w.claim.pk}/", follow=True).content.decode()
    assert "is clean and ready to send. It goes in the next batch to Pacific Coast Health Plan." in response
    w.claim.refresh_from_db()
    assert w.claim.status == ClaimStatus.READY and w.claim.batch_id is None
    assert "rejected this claim" not in response

    second = create_batch(submitter=w.hub, plan=w.plan, acting_user=w.hub_billing, dispatch=False)
    assert list(second.claims.values_list("pk", flat=True)) == [w.claim.pk]
    text = write_batch_file(second).file.open("rb").read().decode()
    assert f"CLM*{w.claim.control_number}*25*" in text and "HI*ABK:Z5901~" in text
    first_page = client.get(f"/billing/batches/{w.batch.pk}/").content.decode()
    assert "1 claim of this file was rejected by the plan, fixed and put in a later batch" in first_page


def test_a_rejected_claim_still_wrong_stays_out_of_batches(rejected_world):
    w = rejected_world
    Referral.objects.filter(pk=w.bad.referral_id).update(diagnosis_codes=["not-a-code"])
    claim = rescrub_claim(w.claim, acting_user=w.hub_billing)
    assert claim.status == ClaimStatus.HELD
    with pytest.raises(Exception, match="no ready claims"):
        create_batch(submitter=w.hub, plan=w.plan, acting_user=w.hub_billing, dispatch=False)
