"""Acknowledgements as clearinghouses really send them (issue #16): 277CA and TA1 read and told
apart from 999s, 999s checked against what we sent, each answer applied only for its addressee."""

from __future__ import annotations

import io

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command

from billing.choices import BatchStatus, ClaimStatus
from billing.models import Acknowledgement, Batch
from billing.services.acks import AckImportError, import_ack, rejection_errors
from billing.x12.ack277 import ClaimVerdict, render_277ca
from billing.x12.ack999 import parse_999
from billing.x12.common import Envelope, answer_kind
from tests.billing.remit_factories import CREATED, ack_277ca, ack_999, ack_ta1, sent_batch, submitted_claim
from tests.billing.x12_fixtures import wrap

pytestmark = pytest.mark.django_db


def _statuses(batch):
    return dict(batch.claims.values_list("control_number", "status"))


# --------------------------------------------------------------------------- 4. 277CA and TA1


def test_a_277ca_rejecting_two_of_five_claims_moves_exactly_those_two(world):
    batch = sent_batch(world, sets={"0001": 5})
    import_ack(ack_999(batch, sets=["0001"]), file_name="pchp.999", acting_user=world.cbo_billing)
    claims = list(batch.claims.order_by("pk"))
    bad = {claims[1].control_number: ("A7", "562", "85"), claims[3].control_number: ("A6", "164", "IL")}
    data = ack_277ca(claims, rejected=bad)
    assert answer_kind(data.decode()) == "277CA"

    ack = import_ack(data, file_name="pchp.277", acting_user=world.cbo_billing)

    statuses = _statuses(batch)
    assert sorted(n for n, s in statuses.items() if s == ClaimStatus.REJECTED) == sorted(bad)
    assert [s for n, s in statuses.items() if n not in bad] == [ClaimStatus.ACCEPTED] * 3
    assert (ack.kind, ack.accepted_sets, ack.rejected_sets) == ("277CA", 3, 2)
    npi_claim = batch.claims.get(control_number=claims[1].control_number)
    errors = rejection_errors(npi_claim)
    assert errors[0].startswith("277CA pchp.277: rejected by the payer")
    assert any("NPI is missing or invalid (the billing provider)" in e and "Fix:" in e for e in errors)
    accepted = batch.claims.get(control_number=claims[0].control_number)
    assert accepted.payer_claim_number == f"PCN{accepted.control_number}"  # REF*1K recorded
    # A claim rejected by the 277CA enters the same correct-and-resubmit flow as a 999 rejection.
    from billing.services.states import CLAIM_TRANSITIONS

    assert ClaimStatus.READY in CLAIM_TRANSITIONS[npi_claim.status]


def test_a_277ca_matches_by_the_payers_claim_number_when_trn02_is_not_ours(world):
    batch = sent_batch(world, sets={"0001": 1})
    claim = batch.claims.get()
    batch.claims.update(payer_claim_number="PAYER-9")
    env = Envelope(sender_id="PLANCH", receiver_id="CBOSUB", interchange_control_number=3, created=CREATED)
    text = render_277ca(
        env,
        batch_reference="B1",
        provider_npi=world.cbo.npi,
        provider_name="EASTSIDE",
        verdicts=[ClaimVerdict("NOT-OURS-1", "125", "A7", "454", payer_claim_number="PAYER-9")],
    )
    import_ack(text.encode(), file_name="x.277", acting_user=world.cbo_billing)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.REJECTED


def test_a_ta1_rejecting_our_interchange_rejects_its_claims_with_the_note_in_words(world):
    batch = sent_batch(world, sets={"0001": 2})
    ack = import_ack(ack_ta1(batch, status="R", note="022"), file_name="x.ta1", acting_user=world.cbo_billing)
    assert ack.kind == "TA1" and ack.rejected_sets == 1
    assert set(_statuses(batch).values()) == {ClaimStatus.REJECTED}
    claim = batch.claims.first()
    assert any("control structure is invalid" in e for e in rejection_errors(claim))

    other = sent_batch(world, sets={"0001": 1}, group_control=502)
    accepted = import_ack(ack_ta1(other, status="A"), file_name="ok.ta1")
    assert accepted.accepted_sets == 1 and set(_statuses(other).values()) == {ClaimStatus.SUBMITTED}


def test_import_ack_command_reads_999_277ca_and_ta1_and_tells_them_apart(world, tmp_path):
    batch = sent_batch(world, sets={"0001": 2})
    claims = list(batch.claims.order_by("pk"))
    files = {
        "a.ta1": ack_ta1(batch),
        "b.999": ack_999(batch, sets=["0001"]),
        "c.277": ack_277ca(claims, rejected={claims[0].control_number: ("A8", "400", "")}),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    out = io.StringIO()
    call_command("import_ack", *(str(tmp_path / n) for n in files), stdout=out)
    text = out.getvalue()
    assert "a.ta1: TA1: 1 interchange accepted" in text
    assert "b.999: 999: 1 transaction set accepted" in text
    assert "c.277: 277CA: 1 claim accepted, 1 rejected" in text and "out of balance" in text


# --------------------------------------------------------------------------- 5. 999 checked against what we sent


def test_a_999_for_another_group_type_or_set_is_refused_with_the_numbers(world):
    batch = sent_batch(world, sets={"0001": 1})
    good = ack_999(batch, sets=["0001"]).decode()
    for text, words in [
        (good.replace("AK1*HC*", "AK1*BE*"), "'BE' functional group 501"),
        (good.replace("AK2*837*", "AK2*834*"), "'834' transaction set 0001"),
    ]:
        with pytest.raises(AckImportError, match=words):
            import_ack(text.encode(), file_name="x.999", acting_user=world.cbo_billing)
    with pytest.raises(AckImportError, match="names transaction set 0009 of group 501.*sent with set 0001"):
        import_ack(ack_999(batch, sets=["0009"]), file_name="x.999", acting_user=world.cbo_billing)
    assert not Acknowledgement.objects.exists() and set(_statuses(batch).values()) == {ClaimStatus.SUBMITTED}


def test_999_trailer_counts_are_checked(world):
    batch = sent_batch(world, sets={"0001": 1})
    good = ack_999(batch, sets=["0001"]).decode()
    for text, words in [
        (good.replace("GE*1*", "GE*2*"), "GE01 says '2' transaction sets but the group has 1"),
        (good.replace("IEA*1*", "IEA*3*"), "IEA01 says '3' functional groups but the interchange has 1"),
    ]:
        with pytest.raises(AckImportError, match=words):
            import_ack(text.encode(), file_name="x.999")


def test_ik5_rejected_under_ak9_accepted_is_reported_as_a_contradiction(world):
    batch = sent_batch(world, sets={"0001": 1, "0002": 1})
    text = ack_999(batch, sets=["0001", "0002"], rejected={"0002": []}).decode().replace("AK9*P*", "AK9*A*")
    assert parse_999(text)[0].contradictions()
    ack = import_ack(text.encode(), file_name="x.999")
    assert any("AK9 says A (accepted) but IK5 rejects transaction set(s) 0002" in w for w in ack.warnings)
    assert batch.claims.get(transaction_set_control="0002").status == ClaimStatus.REJECTED


# --------------------------------------------------------------------------- 2. answers for their addressee only


def test_a_999_imported_by_one_cbo_never_answers_another_cbos_upload(world):
    batch = sent_batch(world, sets={"0001": 1})
    data = ack_999(batch, sets=["0001"])
    mine = import_ack(data, file_name="a.999", acting_user=world.cbo_billing)
    with pytest.raises(AckImportError, match="no batch we sent"):
        import_ack(data, file_name="a.999", acting_user=world.other_cbo_admin)
    # The other CBO's own batch with the same group number gets its own acknowledgement.
    theirs = sent_batch(world, sets={"0001": 1}, provider=world.other_cbo)
    ack = import_ack(data, file_name="a.999", acting_user=world.other_cbo_admin)
    assert ack.pk != mine.pk and ack.batch == theirs and ack.already_imported is False
    assert set(_statuses(theirs).values()) == {ClaimStatus.ACCEPTED}


# --------------------------------------------------------------------------- 7. an answer proves sending


def test_a_999_or_277ca_for_a_batch_written_but_not_marked_sent_marks_it_sent_first(world):
    batch = Batch.objects.create(
        submitter=world.cbo,
        plan=world.plan,
        status=BatchStatus.READY,
        group_control=71,
        interchange_control=71,
        file_name="b.837",
    )
    batch.file.save("b.837", ContentFile(b"ISA"), save=True)
    claims = [submitted_claim(world, status=ClaimStatus.IN_BATCH, batch=batch) for _ in range(2)]
    import_ack(
        wrap(ack_999(batch, sets=["0001"]).decode()).encode(),
        file_name="late.999",
        acting_user=world.cbo_billing,
    )
    batch.refresh_from_db()
    assert batch.status == BatchStatus.ACKNOWLEDGED
    assert batch.history.filter(to_status=BatchStatus.SUBMITTED, reason__contains="999 late.999").exists()
    assert set(_statuses(batch).values()) == {ClaimStatus.ACCEPTED}

    second = Batch.objects.create(
        submitter=world.cbo,
        plan=world.plan,
        status=BatchStatus.READY,
        group_control=72,
        interchange_control=72,
        file_name="c.837",
    )
    second.file.save("c.837", ContentFile(b"ISA"), save=True)
    claim = submitted_claim(world, status=ClaimStatus.IN_BATCH, batch=second)
    import_ack(ack_277ca([claim]), file_name="ca.277", acting_user=world.cbo_billing)
    second.refresh_from_db()
    claim.refresh_from_db()
    assert second.status == BatchStatus.SUBMITTED and claim.status == ClaimStatus.ACCEPTED
    assert second.history.filter(reason__contains="277CA ca.277").exists()
    assert claims  # the first batch's claims were made in_batch, as export_claims leaves them
