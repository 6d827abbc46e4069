"""Batches: SFTP delivery against a real OpenSSH server (idempotent, resumable), pick-up of 999
files from the plan's outbound folder, and two coordinators at once never sharing a claim."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from django.db import connection

from billing.choices import BatchStatus, ClaimStatus, DeliveryMethod
from billing.models import Acknowledgement, Batch, Claim, ClaimLine, PlanChannel, UnreadFile
from billing.services import batches as batch_svc
from billing.services.claims import build_claims
from billing.tasks import pick_up_plan_files, process_batch
from billing.x12.ack277 import ClaimVerdict, render_277ca, render_ta1
from billing.x12.ack999 import AckRequest, render_999
from billing.x12.common import Envelope
from tests.billing.factories import delivery, last_month, new_member, setup_billing


def sftp_channel(plan, server, root: Path) -> PlanChannel:
    for name in ("in", "out", "archive"):
        (root / name).mkdir(parents=True, exist_ok=True)
    channel, _ = PlanChannel.objects.update_or_create(
        plan=plan,
        defaults=dict(
            method=DeliveryMethod.SFTP,
            host=server.host,
            port=server.port,
            username=server.username,
            private_key_path=str(server.client_key_path),
            host_key=server.host_key_fingerprint,
            inbound_dir=str(root / "in"),
            outbound_dir=str(root / "out"),
            archive_dir=str(root / "archive"),
        ),
    )
    return channel


@pytest.mark.django_db
def test_sftp_upload_submits_once_even_when_rerun(
    world, sshd_server, tmp_path, django_capture_on_commit_callbacks
):
    setup_billing(world)
    sftp_channel(world.plan, sshd_server, tmp_path)
    for _ in range(3):
        delivery(world)
    build_claims(acting_user=world.cbo_billing)
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_svc.create_batch(submitter=world.hub, plan=world.plan, acting_user=world.hub_billing)
    batch.refresh_from_db()  # the task ran on commit (eager)
    assert batch.status == BatchStatus.SUBMITTED, batch.error
    sent = tmp_path / "in" / batch.file_name
    assert sent.read_bytes() == batch.file.open("rb").read() and batch.remote_path == str(sent)
    assert set(Claim.objects.values_list("status", flat=True)) == {ClaimStatus.SUBMITTED}
    mtime = sent.stat().st_mtime_ns
    # A crash after the upload but before "submitted" was recorded: the rerun does not resend.
    Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.SUBMITTING)
    Claim.objects.update(status=ClaimStatus.IN_BATCH)
    assert process_batch.delay(batch.pk).get() == BatchStatus.SUBMITTED
    assert sent.stat().st_mtime_ns == mtime and [p.name for p in (tmp_path / "in").iterdir()] == [
        batch.file_name
    ]
    assert set(Claim.objects.values_list("status", flat=True)) == {ClaimStatus.SUBMITTED}


@pytest.mark.django_db
def test_unknown_host_key_fails_the_batch_with_the_reason(
    world, sshd_server, tmp_path, django_capture_on_commit_callbacks
):
    setup_billing(world)
    channel = sftp_channel(world.plan, sshd_server, tmp_path)
    PlanChannel.objects.filter(pk=channel.pk).update(host_key="SHA256:" + "A" * 43)
    delivery(world)
    build_claims(acting_user=world.cbo_billing)
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_svc.create_batch(submitter=world.hub, plan=world.plan, acting_user=world.hub_billing)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.FAILED and "does not match" in batch.error
    assert not list((tmp_path / "in").iterdir())
    PlanChannel.objects.filter(pk=channel.pk).update(host_key=sshd_server.host_key_fingerprint)
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_svc.retry_batch(batch, acting_user=world.hub_billing)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.SUBMITTED


@pytest.mark.django_db
def test_999_and_835_files_are_picked_up_imported_and_archived(
    world, sshd_server, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    setup_billing(world)
    sftp_channel(world.plan, sshd_server, tmp_path)
    delivery(world)
    build_claims(acting_user=world.cbo_billing)
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_svc.create_batch(submitter=world.hub, plan=world.plan, acting_user=world.hub_billing)
    batch.refresh_from_db()
    claim = Claim.objects.get()
    ack = render_999(
        Envelope(
            sender_id="RCV",
            receiver_id="SUB",
            interchange_control_number=77,
            created=dt.datetime(2026, 1, 5, 8, 0),
        ),
        [
            AckRequest(
                group_control_number=batch.group_control, set_control_numbers=[claim.transaction_set_control]
            )
        ],
    )
    (tmp_path / "out" / "ack-1.999").write_text(ack)
    (tmp_path / "out" / "notes.txt").write_text("not X12")
    seen = []
    monkeypatch.setattr(
        "billing.services.remittances.import_remittance",
        lambda data, *, file_name, acting_user=None: seen.append(file_name),
    )
    (tmp_path / "out" / "era-1.835").write_text(ack.replace("ST*999*", "ST*835*"))
    ca = render_277ca(
        Envelope(
            sender_id="RCV",
            receiver_id="SUB",
            interchange_control_number=78,
            created=dt.datetime(2026, 1, 6, 8, 0),
        ),
        batch_reference=f"B{batch.pk}",
        provider_npi=claim.billing_provider.npi,
        provider_name="EASTSIDE",
        verdicts=[ClaimVerdict(claim.control_number, str(claim.billed_amount), payer_claim_number="PC-77")],
    )
    (tmp_path / "out" / "ack-2.277").write_text(ca)
    ta1 = render_ta1(
        Envelope(
            sender_id="RCV",
            receiver_id="SUB",
            interchange_control_number=79,
            created=dt.datetime(2026, 1, 5, 7, 0),
        ),
        interchange_control_number=batch.interchange_control,
        status="A",
    )
    (tmp_path / "out" / "ack-0.ta1").write_text(ta1)
    result = pick_up_plan_files.delay().get()
    assert result[world.plan.pk]["imported"] == ["ack-0.ta1", "ack-1.999", "ack-2.277", "era-1.835"]
    assert seen == ["era-1.835"]
    # What it cannot read is recorded with the reason, for the coordinator, and left in place.
    assert result[world.plan.pk]["skipped"] == [] and result[world.plan.pk]["failed"][0].startswith(
        "notes.txt"
    )
    (unread,) = UnreadFile.objects.all()
    assert (unread.plan, unread.file_name) == (
        world.plan,
        "notes.txt",
    ) and "not an 835, 999, 277CA" in unread.reason
    assert unread in UnreadFile.objects.visible_to(world.hub_billing)
    assert (tmp_path / "out" / "notes.txt").exists()
    assert sorted(p.name for p in (tmp_path / "archive").iterdir()) == [
        "ack-0.ta1",
        "ack-1.999",
        "ack-2.277",
        "era-1.835",
    ]
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.ACCEPTED and claim.payer_claim_number == "PC-77"
    assert sorted(Acknowledgement.objects.values_list("kind", flat=True)) == ["277CA", "999", "TA1"]
    # The next run finds nothing new, and records the unread file once.
    assert pick_up_plan_files.delay().get()[world.plan.pk]["imported"] == []
    assert UnreadFile.objects.count() == 1


def _in_threads(*targets) -> list:
    results, errors = [None] * len(targets), []

    def run(i, fn):
        try:
            results[i] = fn()
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    barrier = threading.Barrier(len(targets))
    threads = [
        threading.Thread(target=lambda i=i, fn=fn: (barrier.wait(), run(i, fn)))
        for i, fn in enumerate(targets)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results + errors


@pytest.mark.django_db(transaction=True)
def test_two_coordinators_creating_batches_at_once_never_share_a_claim(world):
    setup_billing(world)
    for _ in range(40):
        delivery(world)
    build_claims(acting_user=world.cbo_billing)
    assert Claim.objects.filter(status=ClaimStatus.READY).count() == 40

    def make(user):
        return lambda: batch_svc.create_batches(acting_user=user, dispatch=False)

    _in_threads(make(world.hub_billing), make(world.hub_billing))
    batches = list(Batch.objects.all())
    assert 1 <= len(batches) <= 2
    in_batches = list(Claim.objects.values_list("batch_id", flat=True))
    assert None not in in_batches and len(in_batches) == 40
    assert sum(b.claim_count for b in batches) == 40
    for b in batches:
        assert Claim.objects.filter(batch=b).count() == b.claim_count
        batch_svc.write_batch_file(b)
        batch_svc.submit_batch(b)
    assert set(Claim.objects.values_list("status", flat=True)) == {ClaimStatus.SUBMITTED}


@pytest.mark.django_db(transaction=True)
def test_two_coordinators_building_claims_at_once_bill_each_service_once(world):
    setup_billing(world)
    members = [new_member(world) for _ in range(30)]
    ds = [delivery(world, member=m, day=last_month(d)) for m in members for d in (2, 3)]
    _in_threads(
        lambda: build_claims(acting_user=world.cbo_billing, chunk_size=4),
        lambda: build_claims(acting_user=world.hub_billing, chunk_size=4),
    )
    lines = list(ClaimLine.objects.values_list("delivery_id", flat=True))
    assert sorted(lines) == sorted(d.pk for d in ds)
    assert Claim.objects.count() <= 60
