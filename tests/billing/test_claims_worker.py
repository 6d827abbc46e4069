"""A real Celery worker on Redis is killed (SIGKILL) while writing a batch file; after a restart
the batch resumes and every claim ends in exactly one submitted batch, sent once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from billing.choices import BatchStatus, ClaimStatus
from billing.models import Batch, Claim
from billing.services import batches as batch_svc
from billing.services.claims import build_claims
from billing.services.export837 import GATE_ENV
from billing.x12.checks import check_837
from billing.x12.validate import validate_x12
from cbo_portal.celery import app
from tests.billing.factories import delivery, new_member, setup_billing
from tests.billing.test_claims_batches import sftp_channel

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL")


def _worker(queue: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "cbo_portal", "worker", "--pool=solo", "-Q", queue,
         "--loglevel=WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _wait(predicate, timeout: float = 60) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
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

    db = connection.settings_dict
    env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "cbo_portal.settings", "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
    }  # fmt: skip
    gate = tmp_path / "gate"
    gate.mkdir()
    queue = f"test-claims-{uuid.uuid4().hex[:8]}"
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    first = _worker(queue, {**env, GATE_ENV: str(gate)})
    second = None
    try:
        from billing.tasks import process_batch

        process_batch.apply_async(args=[batch.pk], queue=queue)
        _wait(lambda: (gate / "waiting").exists())  # one claim written, the worker is mid-file
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        batch.refresh_from_db()
        assert batch.status == BatchStatus.BUILDING and not batch.file and not batch.sha256
        assert not list((tmp_path / "remote" / "in").iterdir())

        # Restart; the beat's resume task re-dispatches what a crash left half-way.
        second = _worker(queue, env)
        assert batch_svc.unfinished_batch_ids() == [batch.pk]
        result = process_batch.apply_async(args=[batch.pk], queue=queue)
        assert result.get(timeout=90) == BatchStatus.SUBMITTED
    finally:
        app.conf.task_always_eager = eager
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(10)

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
