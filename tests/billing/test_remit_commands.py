"""``manage.py import_remittance`` and ``import_ack``: the same services, a JSON summary, clear errors."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from billing.choices import ClaimStatus
from tests.billing.remit_factories import (
    ack_999,
    adj,
    clp,
    line_pay,
    remittance_835,
    sent_batch,
    submitted_claim,
)

pytestmark = pytest.mark.django_db


def test_import_remittance_json_summary(world, tmp_path, capsys):
    paid = submitted_claim(world, charges=("100.00",))
    denied = submitted_claim(world, charges=("80.00",))
    path = tmp_path / "pchp.835"
    path.write_bytes(
        remittance_835(
            world,
            [
                clp(paid, "1", [line_pay(paid, 1, "90", adj("CO", "45", "10"))]),
                clp(denied, "4", [line_pay(denied, 1, "0", adj("CO", "197", "80"))]),
                clp("UNKNOWN1", "1", charge="20", paid="20"),
            ],
        )
    )
    call_command("import_remittance", str(path), "--json")
    summary = json.loads(capsys.readouterr().out)
    assert summary["claims_matched"] == 2 and summary["claims_unmatched"] == 1
    assert summary["paid_total"] == "110.00" and summary["adjustment_total"] == "90.00"
    assert summary["denied_count"] == 1 and summary["already_imported"] is False
    call_command("import_remittance", str(path), "--json")
    assert json.loads(capsys.readouterr().out)["already_imported"] is True


def test_import_remittance_bad_file_fails_with_the_reason(world, tmp_path, capsys):
    path = tmp_path / "junk.835"
    path.write_text("not x12")
    with pytest.raises(CommandError):
        call_command("import_remittance", str(path))
    assert "junk.835" in capsys.readouterr().err


def test_import_ack(world, tmp_path, capsys):
    batch = sent_batch(world, sets={"0001": 1})
    path = tmp_path / "a.999"
    path.write_bytes(ack_999(batch, sets=["0001"]))
    call_command("import_ack", str(path))
    assert "1 transaction set accepted" in capsys.readouterr().out
    assert batch.claims.get().status == ClaimStatus.ACCEPTED
