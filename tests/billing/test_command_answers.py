"""The command-line flow (issue #16, item 7): ``manage.py export_claims`` writes batches and leaves
them ready (nothing is uploaded); the plan's answer to such a batch, read by ``manage.py
import_remittance`` or ``manage.py import_ack``, proves it was sent: the batch is marked sent first,
its history naming the file, and then the answer is applied. No payment lands in the unmatched
queue.

The plan's 835 and 999 are made from the exported 837P file itself (its control numbers, group
and transaction set numbers, line control numbers), as a plan's system would answer it.
"""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from billing.choices import BatchStatus, ClaimStatus
from billing.models import Batch, Claim, Payment, RemittanceClaim
from billing.x12.validate import validate_x12
from tests.billing.factories import delivery, last_month, setup_billing
from tests.e2e.test_billing_whole_journey import File837, payment, plan_835, plan_999, read_837

pytestmark = pytest.mark.django_db


@pytest.fixture
def exported(world, tmp_path):
    """Three clean claims built and exported with the commands: (world, the batch, the 837P file
    as the plan reads it, the folder)."""
    setup_billing(world)
    for day in (3, 4, 5):
        delivery(world, label="H0043-U6", day=last_month(day))
    call_command("build_claims", stdout=io.StringIO())
    out = io.StringIO()
    call_command("export_claims", "--out", str(tmp_path / "out"), "--plan", str(world.plan.pk), stdout=out)
    (path,) = [Path(p) for p in out.getvalue().split()]
    text = path.read_text()
    ok, errors = validate_x12(text)
    assert ok and errors == [], errors
    batch = Batch.objects.get()
    # What the command leaves: a written file, not marked sent, its claims waiting in the batch.
    assert batch.status == BatchStatus.READY and batch.file_name == path.name
    assert set(batch.claims.values_list("status", flat=True)) == {ClaimStatus.IN_BATCH}
    return world, batch, read_837(text), tmp_path


def _sent_by(batch: Batch, answer: str) -> bool:
    """The batch's history has it marked sent because of ``answer`` (e.g. "835 pchp.835")."""
    return batch.history.filter(
        to_status=BatchStatus.SUBMITTED, reason__contains=f"{answer} answers this batch"
    ).exists()


def _pay_all(sent: File837):
    """Full pay for all claims but the first, which is paid $80 a line (CO-45)."""
    claims = sorted(sent.claims.values(), key=lambda c: c.control_number)
    return [payment(claims[0], "1", lambda ln: Decimal("80.00"), carc="45")] + [
        payment(c, "1", lambda ln: ln.charge) for c in claims[1:]
    ]


def test_an_835_answering_an_exported_batch_marks_it_sent_then_posts_every_payment(exported, capsys):
    world, batch, sent, folder = exported
    path = folder / "pchp.835"
    path.write_bytes(plan_835(world, _pay_all(sent)))

    call_command("import_remittance", str(path), "--json")

    summary = json.loads(capsys.readouterr().out)
    assert (summary["claims_matched"], summary["claims_unmatched"]) == (3, 0)
    assert summary["paid_total"] == "270.00" and summary["adjustment_total"] == "15.00"
    batch.refresh_from_db()
    assert batch.status == BatchStatus.SUBMITTED and batch.submitted_at is not None
    assert _sent_by(batch, "835 pchp.835")
    assert not RemittanceClaim.objects.filter(claim__isnull=True).exists()  # nothing in the unmatched queue
    statuses = dict(Claim.objects.values_list("control_number", "status"))
    short = min(statuses)
    assert statuses.pop(short) == ClaimStatus.PARTIALLY_PAID
    assert set(statuses.values()) == {ClaimStatus.PAID}
    assert Claim.objects.get(control_number=short).paid_amount == Decimal("80.00")
    assert Payment.objects.count() == 3  # one per service line, each matched by its line control number
    assert not Payment.objects.filter(claim_line__isnull=True).exists()

    # The same file again: already imported, nothing posted twice.
    call_command("import_remittance", str(path), "--json")
    assert json.loads(capsys.readouterr().out)["already_imported"] is True
    assert Payment.objects.count() == 3


def test_a_999_answering_an_exported_batch_marks_it_sent_then_an_835_posts(exported, capsys):
    world, batch, sent, folder = exported
    ack = folder / "pchp.999"
    ack.write_bytes(plan_999(sent))

    call_command("import_ack", str(ack))

    assert "pchp.999: 999: 1 transaction set accepted, 0 rejected" in capsys.readouterr().out
    batch.refresh_from_db()
    assert batch.status == BatchStatus.ACKNOWLEDGED and _sent_by(batch, "999 pchp.999")
    assert set(batch.claims.values_list("status", flat=True)) == {ClaimStatus.ACCEPTED}

    remit = folder / "pchp.835"
    remit.write_bytes(plan_835(world, _pay_all(sent)))
    call_command("import_remittance", str(remit))
    out = capsys.readouterr().out
    assert "3 claims matched, 0 unmatched, $270.00 paid" in out
    assert not RemittanceClaim.objects.filter(claim__isnull=True).exists()
    # The batch was already sent: the 835 does not mark it again.
    assert batch.history.filter(to_status=BatchStatus.SUBMITTED).count() == 1


def test_an_answer_naming_no_claim_of_the_exported_batch_leaves_it_unsent(exported, capsys):
    world, batch, sent, folder = exported
    stranger = next(iter(sent.claims.values()))
    stranger.control_number = "NOT-OURS-1"
    path = folder / "other.835"
    path.write_bytes(plan_835(world, [payment(stranger, "1", lambda ln: ln.charge)]))
    call_command("import_remittance", str(path), "--json")
    assert json.loads(capsys.readouterr().out)["claims_unmatched"] == 1
    batch.refresh_from_db()
    assert batch.status == BatchStatus.READY  # an 835 about someone else's claim proves nothing
