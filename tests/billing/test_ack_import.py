"""Importing a 999: accepted sets accept their claims, rejected sets reject them with the errors."""

from __future__ import annotations

import pytest

from billing.choices import BatchStatus, ClaimStatus
from billing.models import Acknowledgement, ClaimStatusChange
from billing.services.acks import AckImportError, import_ack, rejection_errors
from billing.x12.ack999 import ElementError, SegmentError
from tests.billing.remit_factories import ack_999, sent_batch

pytestmark = pytest.mark.django_db


def _statuses(batch, st02):
    return sorted(batch.claims.filter(transaction_set_control=st02).values_list("status", flat=True))


def test_accepted_set_accepts_its_claims_and_acknowledges_the_batch(world):
    batch = sent_batch(world, sets={"0001": 2, "0002": 1})
    ack = import_ack(
        ack_999(batch, sets=["0001", "0002"]), file_name="pchp.999", acting_user=world.cbo_billing
    )

    assert _statuses(batch, "0001") == ["accepted", "accepted"]
    assert _statuses(batch, "0002") == ["accepted"]
    batch.refresh_from_db()
    assert batch.status == BatchStatus.ACKNOWLEDGED and batch.acknowledged_at is not None
    assert (ack.batch, ack.accepted_sets, ack.rejected_sets) == (batch, 2, 0)
    assert {r["control_number"] for r in ack.results} == {"0001", "0002"}
    assert ack.already_imported is False


def test_rejected_set_rejects_its_claims_with_the_errors(world):
    batch = sent_batch(world, sets={"0001": 1, "0002": 2})
    bad_claim = batch.claims.filter(transaction_set_control="0002").first()
    errors = [
        SegmentError(
            "NM1",
            12,
            "8",
            "2010BA",
            claim_control_number=bad_claim.control_number,
            elements=(ElementError("9", "67", "6", "9ABC"),),
        ),
    ]
    ack = import_ack(ack_999(batch, sets=["0001", "0002"], rejected={"0002": errors}), file_name="pchp.999")

    assert _statuses(batch, "0001") == ["accepted"]
    assert _statuses(batch, "0002") == ["rejected", "rejected"]
    assert (ack.accepted_sets, ack.rejected_sets) == (1, 1)
    rejected = next(r for r in ack.results if r["control_number"] == "0002")
    assert rejected["accepted"] is False
    assert any("NM1" in e and "Invalid character" in e for e in rejected["errors"])
    # The claim named by CTX*CLM01 carries the error in words; its neighbour only the set verdict.
    bad_claim.refresh_from_db()
    assert any("NM1 segment #12" in e and "9ABC" in e for e in rejection_errors(bad_claim))
    other = batch.claims.filter(transaction_set_control="0002").exclude(pk=bad_claim.pk).get()
    change = ClaimStatusChange.objects.get(claim=other, to_status=ClaimStatus.REJECTED)
    assert "rejected" in change.reason and "9ABC" not in change.reason


def test_same_file_twice_changes_nothing(world):
    batch = sent_batch(world, sets={"0001": 2})
    data = ack_999(batch, sets=["0001"])
    first = import_ack(data, file_name="a.999")
    history = ClaimStatusChange.objects.count()
    second = import_ack(data, file_name="a-again.999")
    assert second.pk == first.pk and second.already_imported is True
    assert Acknowledgement.objects.count() == 1
    assert ClaimStatusChange.objects.count() == history


def test_claims_already_paid_stay_paid(world):
    batch = sent_batch(world, sets={"0001": 1})
    batch.claims.update(status=ClaimStatus.PAID)
    import_ack(ack_999(batch, sets=["0001"]), file_name="late.999")
    assert _statuses(batch, "0001") == ["paid"]


def test_unknown_group_is_refused_and_changes_nothing(world):
    batch = sent_batch(world, sets={"0001": 1}, group_control=777)
    data = ack_999(batch, sets=["0001"])
    batch.group_control = 778
    batch.save()
    with pytest.raises(AckImportError, match="777"):
        import_ack(data, file_name="x.999")
    assert not Acknowledgement.objects.exists()
    assert _statuses(batch, "0001") == ["submitted"]


@pytest.mark.parametrize("data", [b"", b"hello world" * 20, b"ISA*00*" + b"x" * 200])
def test_garbage_is_refused(world, data):
    with pytest.raises(AckImportError):
        import_ack(data, file_name="junk.999")
    assert not Acknowledgement.objects.exists()


def test_an_835_is_not_a_999(world):
    from tests.billing.remit_factories import clp, remittance_835

    with pytest.raises(AckImportError, match="not a 999|FA"):
        import_ack(remittance_835(world, [clp("X1", "1", charge="1", paid="1")]), file_name="wrong.999")


def test_a_user_cannot_acknowledge_another_providers_batch(world):
    batch = sent_batch(world, sets={"0001": 1})
    with pytest.raises(AckImportError, match="no batch we sent"):
        import_ack(ack_999(batch, sets=["0001"]), file_name="x.999", acting_user=world.other_cbo_admin)
    assert _statuses(batch, "0001") == ["submitted"]
