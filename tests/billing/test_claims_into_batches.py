"""The nightly build puts ready claims straight into batches: each claim in exactly one batch and
one transaction set, held claims left out, and a file that always holds exactly its claims."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from billing.choices import BatchStatus, ClaimStatus
from billing.models import Batch, Claim, ClaimStatusChange
from billing.services import batches as batch_svc
from billing.services import export837
from billing.services.batches import write_batch_file
from billing.services.claims import build_claims
from billing.services.claims import bulk as claim_svc
from tests.billing.factories import delivery, setup_billing
from tests.billing.test_claims_export import _batch_text_of, _segments, assert_clean, sets_in_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def bw(world):
    setup_billing(world)
    return world


def test_ready_claims_go_into_one_batch_in_sets_and_held_ones_stay_out(bw, monkeypatch):
    monkeypatch.setattr("billing.x12.claim837.MAX_CLAIMS_PER_SET", 2)
    for _ in range(5):
        delivery(bw)
    bad = delivery(bw, dx=[])  # no diagnosis: held

    built = build_claims(acting_user=bw.cbo_billing, into_batches=True)

    assert (built.claims, built.ready, built.held) == (6, 5, 1)
    [batch] = Batch.objects.filter(pk__in=built.batch_ids)
    assert (batch.submitter, batch.plan, batch.status) == (bw.hub, bw.plan, BatchStatus.BUILDING)
    claims = Claim.objects.filter(batch=batch)
    assert claims.count() == batch.claim_count == batch.progress_total == 5
    assert batch.total_billed == sum(c.billed_amount for c in claims)
    assert set(claims.values_list("status", flat=True)) == {ClaimStatus.IN_BATCH}
    assert Claim.objects.get(lines__delivery=bad).status == ClaimStatus.HELD
    assert Claim.objects.get(lines__delivery=bad).batch is None
    stamped = dict(claims.values_list("control_number", "transaction_set_control"))
    first = int(min(stamped.values()))
    assert sorted(stamped.values()) == [f"{n:04d}" for n in (first, first, first + 1, first + 1, first + 2)]
    some = claims.first()
    assert list(
        ClaimStatusChange.objects.filter(claim=some).values_list("from_status", "to_status", "reason")
    ) == [
        (
            ClaimStatus.DRAFT,
            ClaimStatus.IN_BATCH,
            f"Built from logged services: clean; put in batch {batch.pk}",
        ),
    ]

    batch = write_batch_file(batch)
    text = _batch_text_of(batch)
    assert_clean(text)
    assert sets_in_file(text) == stamped
    assert len(_segments(text, "ST")) == 3
    # The counts are settled with the file.
    assert (batch.claim_count, batch.progress_total, batch.first_set_control) == (5, 5, first)
    assert batch.total_billed == sum(c.billed_amount for c in claims)


def test_a_batch_written_while_the_build_still_runs_takes_no_more_claims(bw, monkeypatch):
    """The resume task may write an open batch mid-build (a crash looks the same from outside):
    the file holds what the batch had, and the build's later chunks open a new batch."""
    for _ in range(3):
        delivery(bw)
    commit = claim_svc._commit
    written = []

    def commit_then_write(chunk, cache, **kwargs):
        result = commit(chunk, cache, **kwargs)
        if not written:
            written.append(write_batch_file(kwargs["filler"].batch_ids[0]))
        return result

    monkeypatch.setattr(claim_svc, "_commit", commit_then_write)
    built = build_claims(acting_user=bw.cbo_billing, into_batches=True, chunk_size=1)

    assert len(built.batch_ids) == 2
    first, second = Batch.objects.filter(pk__in=built.batch_ids).order_by("pk")
    assert (first.status, first.claim_count, second.status) == (BatchStatus.READY, 1, BatchStatus.BUILDING)
    assert Claim.objects.filter(batch=second).count() == second.claim_count == 2  # settled by the build
    in_first = set(Claim.objects.filter(batch=first).values_list("control_number", flat=True))
    assert set(sets_in_file(_batch_text_of(first))) == in_first
    assert Claim.objects.filter(batch__isnull=True).count() == 0
    second_text = _batch_text_of(write_batch_file(second))
    assert_clean(second_text)
    assert set(sets_in_file(second_text)).isdisjoint(in_first)


def test_a_claim_that_joins_while_the_file_is_written_makes_the_file_be_written_again(bw, monkeypatch):
    for _ in range(2):
        delivery(bw)
    built = build_claims(acting_user=bw.cbo_billing, into_batches=True)
    batch = Batch.objects.get(pk=built.batch_ids[0])
    write = batch_svc._write
    calls = []

    def write_while_a_claim_joins(batch_, placed, path):
        calls.append(len(placed))
        if len(calls) == 1:  # a build's chunk commits into the batch mid-write
            delivery(bw)
            build_claims(acting_user=bw.cbo_billing, into_batches=True)
            Claim.objects.filter(status=ClaimStatus.IN_BATCH).exclude(batch=batch_).update(batch=batch_)
        return write(batch_, placed, path)

    monkeypatch.setattr(batch_svc, "_write", write_while_a_claim_joins)
    batch = write_batch_file(batch)

    assert calls == [2, 3]
    assert batch.status == BatchStatus.READY
    assert len(sets_in_file(_batch_text_of(batch))) == 3


def test_the_nightly_run_builds_straight_into_batches_and_writes_them(bw):
    from billing.tasks import nightly_billing

    for _ in range(3):
        delivery(bw)
    bad = delivery(bw, dx=[])

    result = nightly_billing()

    assert result["claims"] == 4
    [batch] = Batch.objects.all()
    assert batch.status == BatchStatus.READY and batch.claim_count == 3
    assert_clean(_batch_text_of(batch))
    assert Claim.objects.get(lines__delivery=bad).status == ClaimStatus.HELD
    assert result["batches"] == []  # nothing was left ready to batch separately


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgresql
def test_two_shards_committing_at_once_fill_one_batch_without_waiting_for_each_other(world, monkeypatch):
    """The shards of one run commit at once on their own workers (here: two threads, each with
    its own connection). Shard 1 stops inside its transaction — batch share-locked, its claims
    numbered and inserted — until shard 0 has committed its second chunk: shard 0 must need no
    lock shard 1 holds. All share one batch, each claim with its own control number and set."""
    setup_billing(world)
    for _ in range(6):
        delivery(world)  # a member each: chunks of two
    commit, mark_billed = claim_svc._commit, claim_svc._mark_billed
    events: list[str] = []
    run = uuid.uuid4()
    shard_of = threading.local()

    def wait_for(event: str, times: int = 1) -> None:
        for _ in range(100):  # at most 10 s
            if events.count(event) >= times:
                return
            time.sleep(0.1)

    def spy_commit(chunk, *args, **kwargs):
        if shard_of.index == 1:  # start after shard 0 made the batch (that one wait is expected)
            wait_for("committed 0")
        elif "committed 0" in events:  # shard 0's second chunk: start once shard 1 is stopped
            wait_for("paused 1")
        result = commit(chunk, *args, **kwargs)
        events.append(f"committed {shard_of.index}")
        return result

    def spy_mark_billed(delivery_ids, **kwargs):
        if shard_of.index == 1 and "paused 1" not in events:
            events.append("paused 1")
            wait_for("committed 0", times=2)
            events.append("resumed 1")
        return mark_billed(delivery_ids, **kwargs)

    def shard(index: int):
        def build():
            shard_of.index = index
            try:
                return build_claims(
                    acting_user=world.cbo_billing,
                    into_batches=True,
                    chunk_size=2,
                    shard=claim_svc.Shard(run, index, 2),
                )
            finally:
                connection.close()

        return build

    monkeypatch.setattr(claim_svc, "_commit", spy_commit)
    monkeypatch.setattr(claim_svc, "_mark_billed", spy_mark_billed)
    with ThreadPoolExecutor(2) as pool:
        built = [f.result() for f in [pool.submit(shard(0)), pool.submit(shard(1))]]
    batch_svc.settle_batches(batch_svc.run_batch_ids(run))

    second_of_shard_0 = [n for n, event in enumerate(events) if event == "committed 0"][1]
    assert events.index("paused 1") < second_of_shard_0 < events.index("resumed 1")
    [batch] = Batch.objects.filter(build_run=run)
    assert {pk for result in built for pk in result.batch_ids} == {batch.pk}
    assert (
        Claim.objects.filter(batch=batch, status=ClaimStatus.IN_BATCH).count()
        == sum(r.ready for r in built)
        == 6
    )
    assert Batch.objects.get(pk=batch.pk).claim_count == 6
    numbers = list(Claim.objects.values_list("control_number", flat=True))
    assert len(set(numbers)) == 6
    text = _batch_text_of(write_batch_file(batch))
    assert_clean(text)
    assert sorted(sets_in_file(text)) == sorted(numbers)


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgresql
def test_a_file_of_several_chunks_is_read_chunk_by_chunk_in_file_order(world, monkeypatch):
    setup_billing(world)
    for _ in range(5):
        delivery(world)
    built = build_claims(acting_user=world.cbo_billing, into_batches=True)
    monkeypatch.setattr(export837, "CHUNK", 2)
    fetch, reads = export837._fetch_fast, []

    def spy(ids):
        reads.append(len(ids))
        return fetch(ids)

    monkeypatch.setattr(export837, "_fetch_fast", spy)
    batch = write_batch_file(built.batch_ids[0])

    assert reads == [2, 2, 1]
    text = _batch_text_of(batch)
    assert_clean(text)
    in_db = (
        Claim.objects.filter(batch=batch)
        .order_by(*export837.FILE_ORDER)
        .values_list("control_number", flat=True)
    )
    assert [clm[1] for clm in _segments(text, "CLM")] == list(in_db)
