"""837P files built from database claims pass pyx12 with zero errors and our own checks, for
every shape of claim we send; envelope control numbers never repeat."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from billing.choices import BatchStatus, ClaimFrequency, ClaimStatus
from billing.models import Batch, Claim, ClaimLine
from billing.services.batches import create_batch, create_batches, submit_batch, write_batch_file
from billing.services.claims import build_claims, correct_claim, void_claim
from billing.services.states import transition_claim
from billing.x12.checks import check_837
from billing.x12.validate import validate_x12
from referrals.models import Referral
from tests.billing.factories import authorized_delivery, delivery, last_month, new_member, setup_billing
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def bw(world):
    setup_billing(world)
    return world


def _batch_text(world, plan=None) -> tuple[Batch, str]:
    batch = create_batch(
        submitter=world.hub, plan=plan or world.plan, acting_user=world.hub_billing, dispatch=False
    )
    batch = write_batch_file(batch)
    assert batch.status == BatchStatus.READY and batch.file_name.endswith(".837")
    with batch.file.open("rb") as fh:
        text = fh.read().decode()
    import hashlib

    assert hashlib.sha256(text.encode()).hexdigest() == batch.sha256
    return batch, text


def assert_clean(text: str) -> None:
    assert check_837(text) == []
    result = validate_x12(text)
    assert result.ok, result.errors


def sets_in_file(text: str) -> dict[str, str]:
    """CLM01 → the ST02 of the transaction set it is written in."""
    found, st02 = {}, None
    for segment in text.split("~"):
        fields = segment.strip().split("*")
        if fields[0] == "ST":
            st02 = fields[2]
        elif fields[0] == "CLM":
            found[fields[1]] = st02
    return found


def _segments(text: str, tag: str) -> list[list[str]]:
    return [s.split("*") for s in text.split("~") if s.startswith(tag + "*")]


def test_single_line_claim(bw):
    d = authorized_delivery(bw, units=4)
    build_claims(acting_user=bw.cbo_billing)
    batch, text = _batch_text(bw)
    assert_clean(text)
    claim = Claim.objects.get(lines__delivery=d)
    clm = _segments(text, "CLM")
    assert [c[1] for c in clm] == [claim.control_number] and clm[0][2] == "100" and clm[0][5] == "12:B:1"
    assert _segments(text, "REF")[-1] == ["REF", "6R", f"{claim.control_number}-01"]
    assert ["REF", "G1", d.authorization.number] in _segments(text, "REF")
    assert _segments(text, "SV1")[0][1] == "HC:T2041:U6"
    claim.refresh_from_db()
    assert claim.transaction_set_control == _segments(text, "ST")[0][2]
    assert _segments(text, "ISA")[0][13] == f"{batch.interchange_control:09d}"


def test_the_plan_connection_sets_test_usage_ta1_request_and_id_qualifiers(bw):
    """Issue #16 item 8: ISA15 was always P, ISA14 never asked for a TA1, ISA05/07 were fixed."""
    from billing.models import PlanChannel

    PlanChannel.objects.update_or_create(
        plan=bw.plan,
        defaults={
            "usage_indicator": "T",
            "ta1_requested": True,
            "sender_qualifier": "30",
            "receiver_qualifier": "ZZ",
        },
    )
    authorized_delivery(bw, units=1)
    build_claims(acting_user=bw.cbo_billing)
    _batch, text = _batch_text(bw)
    isa = _segments(text, "ISA")[0]
    assert (isa[5], isa[7], isa[14], isa[15]) == ("30", "ZZ", "1", "T")
    assert_clean(text)


def test_fifty_lines_several_diagnoses_and_date_ranges(bw):
    member = new_member(bw)
    first = delivery(bw, member=member, day=last_month(1), end=last_month(3), units=3)  # a date range
    Referral.objects.filter(pk=first.referral_id).update(
        diagnosis_codes=["Z59.01", "Z59.41", "Z59.6", "Z59.811", "Z59.5"]
    )
    for day in range(4, 28):
        delivery(bw, member=member, ref=first.referral, day=last_month(day))
    for day in range(1, 26):
        delivery(bw, member=member, ref=first.referral, label="S5170-U6", day=last_month(day), units=2)
    build_claims(acting_user=bw.cbo_billing)
    claim = Claim.objects.get(lines__delivery=first)
    assert claim.lines.count() == 50 and claim.status == ClaimStatus.READY, claim.problems
    _batch, text = _batch_text(bw)
    assert_clean(text)
    assert len(_segments(text, "LX")) == 50
    hi = _segments(text, "HI")[0]
    assert hi[1:] == ["ABK:Z5901", "ABF:Z5941", "ABF:Z596", "ABF:Z59811", "ABF:Z595"]
    assert f"DTP*472*RD8*{last_month(1):%Y%m%d}-{last_month(3):%Y%m%d}" in text
    assert _segments(text, "SV1")[0][7] == "1:2:3:4"  # at most four pointers per line
    assert Decimal(_segments(text, "CLM")[0][2]) == claim.billed_amount


def _adjudicate(world, claim: Claim, status: str = ClaimStatus.PAID) -> Claim:
    batch = create_batch(submitter=world.hub, plan=claim.plan, acting_user=world.hub_billing, dispatch=False)
    write_batch_file(batch)
    submit_batch(batch, acting_user=world.hub_billing)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.SUBMITTED
    transition_claim(claim, status, reason="835")
    Claim.objects.filter(pk=claim.pk).update(payer_claim_number="PCN-7781")
    claim.refresh_from_db()
    return claim


def test_replacement_and_void_claims(bw):
    a, b = delivery(bw, units=2), delivery(bw)
    build_claims(acting_user=bw.cbo_billing)
    ca, cb = Claim.objects.get(lines__delivery=a), Claim.objects.get(lines__delivery=b)
    _adjudicate(bw, ca, ClaimStatus.DENIED)
    cb.refresh_from_db()
    transition_claim(cb, ClaimStatus.PAID, reason="835")
    Claim.objects.filter(pk=cb.pk).update(payer_claim_number="PCN-9900")
    cb.refresh_from_db()

    replacement = correct_claim(ca, acting_user=bw.cbo_billing, reason="Units corrected")
    void = void_claim(cb, acting_user=bw.hub_billing, reason="Billed in error")
    ca.refresh_from_db(), cb.refresh_from_db()
    assert ca.status == ClaimStatus.CORRECTED and cb.status == ClaimStatus.VOIDED
    assert replacement.frequency == ClaimFrequency.REPLACEMENT and replacement.status == ClaimStatus.READY
    assert replacement.payer_claim_number == "PCN-7781" and replacement.replaces == ca
    assert void.frequency == ClaimFrequency.VOID and void.status == ClaimStatus.READY and void.replaces == cb
    assert ClaimLine.objects.get(delivery=a, live=True).claim == replacement
    assert not ClaimLine.objects.filter(delivery=b, live=True).exists()
    b.refresh_from_db()
    assert b.billed_at is None  # free to bill again

    _batch, text = _batch_text(bw)
    assert_clean(text)
    clm = {c[1]: c for c in _segments(text, "CLM")}
    assert clm[replacement.control_number][5].endswith(":7") and clm[void.control_number][5].endswith(":8")
    assert ["REF", "F8", "PCN-7781"] in _segments(text, "REF") and ["REF", "F8", "PCN-9900"] in _segments(
        text, "REF"
    )


def test_two_plans_in_one_run_and_control_numbers_never_repeat(bw, world):
    setup_billing(world, plan=world.other_plan, number="OTHER-1")
    delivery(bw)
    delivery(bw, plan=world.other_plan, member=new_member(world, world.other_plan))
    build_claims(acting_user=bw.hub_billing)
    batches = create_batches(acting_user=bw.hub_billing, dispatch=False)
    assert sorted(b.plan_id for b in batches) == sorted([world.plan.pk, world.other_plan.pk])
    texts = []
    for b in batches:
        b = write_batch_file(b)
        texts.append(b.file.open("rb").read().decode())
    for text in texts:
        assert_clean(text)
    # A later run with more claims: ISA13, GS06 and ST02 only go up for the submitter.
    delivery(bw, day=last_month(1) + timedelta(days=5))
    build_claims(acting_user=bw.hub_billing)
    _b, third = _batch_text(bw)
    texts.append(third)
    isa = [int(_segments(t, "ISA")[0][13]) for t in texts]
    gs = [int(_segments(t, "GS")[0][6]) for t in texts]
    st = [int(s[2]) for t in texts for s in _segments(t, "ST")]
    assert isa == sorted(set(isa)) and gs == sorted(set(gs)) and st == sorted(set(st)), (isa, gs, st)


def test_submitting_a_downloaded_batch_marks_claims_submitted(bw):
    delivery(bw)
    build_claims(acting_user=bw.cbo_billing)
    batch = create_batch(submitter=bw.hub, plan=bw.plan, acting_user=bw.hub_billing, dispatch=False)
    assert Claim.objects.get().status == ClaimStatus.IN_BATCH
    write_batch_file(batch)
    batch = submit_batch(batch, acting_user=bw.hub_billing)
    assert batch.status == BatchStatus.SUBMITTED and batch.submitted_at
    assert Claim.objects.get().status == ClaimStatus.SUBMITTED
    assert list(batch.history.values_list("to_status", flat=True)) == ["ready", "submitting", "submitted"]
    # Running it again changes nothing.
    assert submit_batch(batch, acting_user=bw.hub_billing).status == BatchStatus.SUBMITTED
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        submit_batch(batch, acting_user=UserFactory())


@pytest.mark.postgresql
def test_fast_read_path_reads_what_the_orm_reads(bw):
    """The 837 export reads claims and lines on the raw cursor (JSON decoded once per distinct
    value); it must hand the writer exactly what the ORM query would."""
    from billing.services import export837

    authorized_delivery(bw, units=4)
    member = new_member(bw)
    delivery(bw, member=member, day=last_month(3))
    delivery(bw, member=member, day=last_month(5), end=last_month(6), units=Decimal("2.5"), pos="02")
    build_claims(acting_user=bw.cbo_billing)
    ids = list(Claim.objects.order_by("pk").values_list("pk", flat=True))
    assert ids
    assert export837._fetch_fast(ids) == export837._fetch_orm(ids)


def test_each_claim_is_stamped_with_its_transaction_set_when_batched(bw, monkeypatch):
    """ST02s are reserved with the batch and stamped in file order (here 2 claims per set); the
    file written later carries the same sets, and a rewrite after a lost file keeps them."""
    monkeypatch.setattr("billing.x12.claim837.MAX_CLAIMS_PER_SET", 2)
    for _ in range(5):
        delivery(bw)
    build_claims(acting_user=bw.cbo_billing)
    batch = create_batch(submitter=bw.hub, plan=bw.plan, acting_user=bw.hub_billing, dispatch=False)
    stamped = dict(batch.claims.values_list("control_number", "transaction_set_control"))
    first = batch.first_set_control
    assert sorted(stamped.values()) == [f"{n:04d}" for n in (first, first, first + 1, first + 1, first + 2)]

    text = _batch_text_of(write_batch_file(batch))
    assert_clean(text)
    assert sets_in_file(text) == stamped

    # The file is lost before it is stored (a crashed worker): the rewrite keeps each claim's set.
    Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.BUILDING, file="", file_name="")
    rewritten = write_batch_file(batch.pk)
    assert rewritten.interchange_control != batch.interchange_control
    assert dict(batch.claims.values_list("control_number", "transaction_set_control")) == stamped


def test_a_batch_made_before_sets_were_reserved_gets_them_with_its_file(bw):
    delivery(bw)
    build_claims(acting_user=bw.cbo_billing)
    batch = create_batch(submitter=bw.hub, plan=bw.plan, acting_user=bw.hub_billing, dispatch=False)
    Batch.objects.filter(pk=batch.pk).update(first_set_control=None)
    Claim.objects.filter(batch=batch).update(transaction_set_control="")
    text = _batch_text_of(write_batch_file(batch.pk))
    assert Claim.objects.get(batch=batch).transaction_set_control == _segments(text, "ST")[0][2]


def _batch_text_of(batch: Batch) -> str:
    with batch.file.open("rb") as fh:
        return fh.read().decode()
