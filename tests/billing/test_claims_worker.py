"""A real Celery worker on Redis is killed (SIGKILL) while writing a batch file; after a restart
the batch resumes and every claim ends in exactly one submitted batch, sent once."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from django.conf import settings

from billing.choices import BatchStatus, ClaimStatus
from billing.models import Batch, Claim
from billing.services import batches as batch_svc
from billing.services.claims import build_claims
from billing.x12.checks import check_837
from billing.x12.validate import validate_x12
from tests.billing.factories import delivery, new_member, setup_billing
from tests.billing.test_claims_batches import sftp_channel
from tests.workers import on_workers, start_worker, wait_for

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL")


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgresql
def test_worker_killed_mid_file_resumes_and_every_claim_is_sent_once(world, sshd_server, tmp_path, settings):
    setup_billing(world)
    sftp_channel(world.plan, sshd_server, tmp_path / "remote")
    for _ in range(12):
        delivery(world, member=new_member(world))
    build_claims(acting_user=world.cbo_billing)
    batch = batch_svc.create_batch(
        submitter=world.hub, plan=world.plan, acting_user=world.hub_billing, dispatch=False
    )
    assert Claim.objects.filter(batch=batch, status=ClaimStatus.IN_BATCH).count() == 12

    gate = tmp_path / "gate"
    gate.mkdir()
    with on_workers() as workers:
        first = start_worker("first", TEST_EXPORT_GATE=str(gate))
        workers.append(first)
        from billing.tasks import process_batch

        process_batch.delay(batch.pk)
        wait_for(lambda: (gate / "waiting").exists())  # one claim written, the worker is mid-file
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        batch.refresh_from_db()
        assert batch.status == BatchStatus.BUILDING and not batch.file and not batch.sha256
        assert not list((tmp_path / "remote" / "in").iterdir())

        # Restart; the beat's resume task re-dispatches what a crash left half-way.
        workers.append(start_worker("second"))
        assert batch_svc.unfinished_batch_ids() == [batch.pk]
        result = process_batch.delay(batch.pk)
        assert result.get(timeout=90) == BatchStatus.SUBMITTED

    batch.refresh_from_db()
    assert batch.status == BatchStatus.SUBMITTED
    assert Batch.objects.count() == 1
    assert (
        Claim.objects.filter(status=ClaimStatus.SUBMITTED, batch=batch).count() == 12 == Claim.objects.count()
    )
    sent = list(Path(tmp_path / "remote" / "in").iterdir())
    assert [p.name for p in sent] == [batch.file_name]
    text = sent[0].read_text()
    assert text == batch.file.open("rb").read().decode()
    assert check_837(text) == [] and validate_x12(text).ok
