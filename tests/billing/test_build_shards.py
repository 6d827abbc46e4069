"""The nightly build is a group of shard tasks (members split among them) with a callback that
settles the batches and has them written: in one process (eager, as ``make run`` and the other
tests) or over real Celery worker processes on Redis, any number of them. Each service is billed
once; a worker killed mid-shard loses nothing, its shard is redone, and every claim ends in
exactly one batch, written once."""

from __future__ import annotations

import os
import signal
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings

from billing.choices import BatchStatus, ClaimStatus
from billing.models import Batch, Claim, ClaimLine
from billing.services import export837
from billing.services.batches import write_batch_file
from billing.services.claims import build_claims
from billing.tasks import build_run
from billing.x12.common import X12InputError
from referrals.models import ServiceDelivery
from tests.billing.factories import delivery, new_member, setup_billing
from tests.billing.test_claims_export import _batch_text_of, _segments, assert_clean, sets_in_file
from tests.workers import on_workers, start_worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True)  # workers see only committed rows
needs_redis = pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL")


@pytest.fixture
def services(world, monkeypatch):
    """Twelve services of twelve members, one of them logged twice for the same day (held as a
    duplicate); two-claim transaction sets."""
    setup_billing(world)
    monkeypatch.setattr("billing.x12.claim837.MAX_CLAIMS_PER_SET", 2)
    made = [delivery(world, member=new_member(world)) for _ in range(12)]
    twin = delivery(
        world, member=made[0].member, ref=made[0].referral, day=made[0].service_date, staff=world.cbo_billing
    )
    return [*made, twin], twin


def _assert_billed_once_into_written_batches(logged: list[ServiceDelivery], twin: ServiceDelivery) -> None:
    """Each service on exactly one live line; every ready claim in exactly one batch, whose file
    lists it exactly once, in the set it was stamped with; the duplicate held, in no batch."""
    for d in logged:
        assert ClaimLine.objects.filter(delivery=d, live=True).count() == 1
    assert ServiceDelivery.objects.filter(billed_at__isnull=True).count() == 0
    held = Claim.objects.get(lines__delivery=twin)
    assert held.status == ClaimStatus.HELD and held.batch_id is None
    assert "duplicate" in {p["code"] for p in held.problems}
    ready = Claim.objects.exclude(pk=held.pk)
    assert ready.count() == 11 and not ready.filter(batch__isnull=True).exists()
    assert set(ready.values_list("status", flat=True)) == {ClaimStatus.IN_BATCH}
    in_files: Counter[str] = Counter()
    for batch in Batch.objects.all():
        assert batch.status == BatchStatus.READY
        assert batch.claim_count == Claim.objects.filter(batch=batch).count()
        text = _batch_text_of(batch)
        assert_clean(text)
        written = sets_in_file(text)
        stamped = dict(
            Claim.objects.filter(batch=batch).values_list("control_number", "transaction_set_control")
        )
        assert written == stamped
        in_files.update(clm[1] for clm in _segments(text, "CLM"))
    assert in_files == Counter(ready.values_list("control_number", flat=True))
    assert set(in_files.values()) == {1}


def test_in_one_process_the_shards_run_one_after_the_other_and_bill_each_service_once(services):
    logged, twin = services

    summary = build_run(shards=3).result.get()

    assert (summary["claims"], summary["ready"], summary["held"]) == (12, 11, 1)
    assert sorted(s["shard"] for s in summary["shards"]) == [0, 1, 2]
    assert Batch.objects.count() == 1
    _assert_billed_once_into_written_batches(logged, twin)


def test_a_file_the_writer_cannot_make_fails_with_its_reason_and_stores_nothing(world, services, monkeypatch):
    [batch_id] = build_claims(acting_user=world.cbo_billing, into_batches=True).batch_ids
    batch = Batch.objects.get(pk=batch_id)

    def broken(self, org_id):
        raise X12InputError("billing provider NPI 1234567890 fails the check digit")

    monkeypatch.setattr(export837._Builder, "provider", broken)
    with pytest.raises(X12InputError, match="check digit"):
        write_batch_file(batch)

    batch.refresh_from_db()
    assert (batch.status, batch.file_name, batch.sha256) == (BatchStatus.BUILDING, "", "")


def _ready(*names: str) -> None:
    """Wait until every named worker answers a ping (consuming its queue)."""
    from cbo_portal.celery import app

    def answered() -> bool:
        replies = app.control.ping(timeout=0.5)
        return {name for reply in replies for name in reply} >= {n for n in names}

    wait_for(answered, timeout=60)


def _names(*workers: str) -> list[str]:
    import socket

    return [f"{w}@{socket.gethostname()}" for w in workers]


@needs_redis
@pytest.mark.postgresql
def test_a_build_split_over_two_worker_processes_bills_each_service_once(services):
    logged, twin = services
    with on_workers() as workers:
        workers += [start_worker("one"), start_worker("two")]
        _ready(*_names("one", "two"))

        summary = build_run(shards=6).result.get(timeout=120)
        wait_for(lambda: not Batch.objects.exclude(status=BatchStatus.READY).exists(), timeout=60)

    assert (summary["claims"], summary["ready"], summary["held"]) == (12, 11, 1)
    assert sorted(s["shard"] for s in summary["shards"]) == list(range(6))
    assert {s["worker"] for s in summary["shards"]} == set(_names("one", "two"))  # both took shards
    _assert_billed_once_into_written_batches(logged, twin)


@needs_redis
@pytest.mark.postgresql
def test_a_worker_killed_mid_shard_is_redone_and_every_claim_ends_in_exactly_one_batch(services, tmp_path):
    logged, twin = services
    gate = tmp_path / "gate"
    gate.mkdir()
    # Chunks of two deliveries; a task a dead worker held is handed out again after 3 s.
    env = {"BILLING_BUILD_CHUNK": "2", "CELERY_VISIBILITY_TIMEOUT": "3"}
    with on_workers() as workers:
        doomed = start_worker("doomed", TEST_BUILD_GATE=str(gate), **env)
        workers.append(doomed)
        _ready(*_names("doomed"))

        started = build_run(shards=2)
        wait_for(lambda: (gate / "waiting").exists())  # its first chunk committed, more to come
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(10)
        half = Claim.objects.count()
        assert 0 < half < 12  # the chunk it committed stays; the rest of its shard is not done

        workers += [start_worker("again", **env), start_worker("more", **env)]
        summary = started.result.get(timeout=120)
        wait_for(lambda: not Batch.objects.exclude(status=BatchStatus.READY).exists(), timeout=60)

    assert sorted(s["shard"] for s in summary["shards"]) == [0, 1]
    assert not {s["worker"] for s in summary["shards"]} & set(_names("doomed"))  # redone elsewhere
    assert Claim.objects.count() == 12
    _assert_billed_once_into_written_batches(logged, twin)


def test_a_big_file_written_in_parts_by_tasks_is_the_file_one_writer_makes(world, services, settings):
    from io import StringIO

    from billing.tasks import process_batch

    settings.BILLING_837_PART_CLAIMS = 4  # 11 claims in sets of two: three parts
    [batch_id] = build_claims(acting_user=world.cbo_billing, into_batches=True).batch_ids
    batch = Batch.objects.get(pk=batch_id)
    placed = list(
        Claim.objects.filter(batch=batch)
        .order_by(*export837.FILE_ORDER)
        .values_list("pk", "transaction_set_control")
    )
    one = StringIO()
    export837.write_837(
        one,
        [pk for pk, _ in placed],
        submitter=batch.submitter,
        plan=batch.plan,
        contract=Claim.objects.filter(batch=batch).first().contract,
        batch_label=f"B{batch.pk}",
        set_numbers=[int(st02) for _, st02 in placed],
    )

    assert process_batch.delay(batch.pk).get() == BatchStatus.READY

    batch.refresh_from_db()
    text = _batch_text_of(batch)
    assert_clean(text)
    assert sets_in_file(text) == dict(
        Claim.objects.filter(batch=batch).values_list("control_number", "transaction_set_control")
    )

    def body(x12: str) -> list[str]:  # without the envelope's fresh numbers and the creation time
        return [s for s in x12.split("~") if s.split("*")[0] not in ("ISA", "GS", "GE", "IEA", "BHT")]

    assert body(text) == body(one.getvalue())
    assert text.count("~ST*") == 6 and text.split("~")[-3] == f"GE*6*{batch.group_control}"
    assert not list(Path(settings.MEDIA_ROOT, "batch-parts", str(batch.pk)).iterdir())  # parts removed
