"""The nightly build and a big 837P file's writer split their work among forked processes: the
result is the same as one process would make (each service billed once, one batch, the same
file text), and a part that fails fails the whole job with its reason, leaving no file."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from billing.choices import BatchStatus, ClaimStatus
from billing.models import Batch, Claim, ClaimLine
from billing.services import claims as claim_svc
from billing.services import export837
from billing.services.batches import write_batch_file
from billing.services.claims import build_claims
from billing.x12.common import X12InputError
from tests.billing.factories import delivery, setup_billing
from tests.billing.test_claims_export import _batch_text_of, assert_clean, sets_in_file

pytestmark = pytest.mark.django_db(transaction=True)  # other processes see only committed rows


@pytest.fixture
def built(world, monkeypatch, tmp_path):
    """Nine services of eight members (one logged twice for the same day) built by two
    processes into batches of two-claim transaction sets; each process leaves a file named by
    its pid in ``tmp_path``."""
    setup_billing(world)
    monkeypatch.setattr("billing.x12.claim837.MAX_CLAIMS_PER_SET", 2)
    made = [delivery(world) for _ in range(8)]
    twin = delivery(world, member=made[0].member, ref=made[0].referral, day=made[0].service_date,
                    staff=world.cbo_billing)  # fmt: skip
    build = claim_svc._build

    def spy(*args, **kwargs):
        Path(tmp_path, str(os.getpid())).touch()
        return build(*args, **kwargs)

    monkeypatch.setattr(claim_svc, "_build", spy)
    result = build_claims(acting_user=world.cbo_billing, into_batches=True, processes=2, chunk_size=2)
    return result, made, twin, {int(p.name) for p in tmp_path.iterdir()}


def test_a_build_split_between_two_processes_bills_each_service_once_into_one_batch(built):
    result, made, twin, pids = built

    assert len(pids) == 2 and os.getpid() in pids
    assert (result.claims, result.ready, result.held) == (8, 7, 1)
    for d in [*made, twin]:
        assert ClaimLine.objects.filter(delivery=d, live=True).count() == 1
    held = Claim.objects.get(lines__delivery=twin)  # the member's two lines of one day: one claim
    assert held.status == ClaimStatus.HELD
    assert "duplicate" in {p["code"] for p in held.problems}
    [batch] = Batch.objects.filter(pk__in=result.batch_ids)
    assert batch.claim_count == 7 == Claim.objects.filter(batch=batch, status=ClaimStatus.IN_BATCH).count()

    batch = write_batch_file(batch)  # two processes again: several sets

    text = _batch_text_of(batch)
    assert_clean(text)
    stamped = dict(Claim.objects.filter(batch=batch).values_list("control_number", "transaction_set_control"))
    assert sets_in_file(text) == stamped


def _write(batch: Batch, processes: int, created) -> str:  # noqa: ANN001
    from io import StringIO

    placed = list(
        Claim.objects.filter(batch=batch)
        .order_by(*export837.FILE_ORDER)
        .values_list("pk", "transaction_set_control")
    )
    out = StringIO()
    written = export837.write_837(
        out, [pk for pk, _ in placed], submitter=batch.submitter, plan=batch.plan,
        contract=Claim.objects.filter(batch=batch).first().contract, batch_label="B1", created=created,
        set_numbers=[int(st02) for _, st02 in placed], processes=processes,
    )  # fmt: skip
    assert written.claim_count == len(placed) and written.result.claim_count == len(placed)
    return out.getvalue()


def test_a_file_written_in_two_parts_is_the_file_one_process_writes(built):
    from django.utils import timezone

    batch = Batch.objects.get(pk=built[0].batch_ids[0])
    created = timezone.localtime()

    one, two = _write(batch, 1, created), _write(batch, 2, created)

    assert_clean(two)
    segments_one, segments_two = one.split("~"), two.split("~")
    # ISA13, GS06 and their echoes in GE/IEA are fresh for each file; everything else is equal.
    assert segments_one[2:-3] == segments_two[2:-3]
    assert segments_two[-3].split("*")[1] == str(sum(s.startswith("ST*") for s in segments_two)) == "4"
    assert len(one) == len(two)


def test_a_part_that_fails_fails_the_file_with_its_reason_and_stores_nothing(built, monkeypatch):
    batch = Batch.objects.get(pk=built[0].batch_ids[0])
    parent, provider = os.getpid(), export837._Builder.provider

    def broken(self, org_id):  # the data problem only the second part's process meets
        if os.getpid() != parent:
            raise X12InputError("billing provider NPI 1234567890 fails the check digit")
        return provider(self, org_id)

    monkeypatch.setattr(export837._Builder, "provider", broken)
    with pytest.raises(X12InputError, match="check digit"):
        write_batch_file(batch)

    batch.refresh_from_db()
    assert (batch.status, batch.file_name, batch.sha256) == (BatchStatus.BUILDING, "", "")


def test_a_part_whose_process_is_killed_fails_the_file(built, monkeypatch):
    batch = Batch.objects.get(pk=built[0].batch_ids[0])
    parent, provider = os.getpid(), export837._Builder.provider

    def killed(self, org_id):
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return provider(self, org_id)

    monkeypatch.setattr(export837._Builder, "provider", killed)
    with pytest.raises(RuntimeError, match="killed by signal 9"):
        write_batch_file(batch)

    batch.refresh_from_db()
    assert (batch.status, batch.file_name) == (BatchStatus.BUILDING, "")
    monkeypatch.setattr(export837._Builder, "provider", provider)
    assert write_batch_file(batch).status == BatchStatus.READY  # run again: it is written
