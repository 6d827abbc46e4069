"""835s as payers really send them (issue #16): each payment posted once, to the payee it names,
whatever envelope, delimiters or line breaks it comes in."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from billing.choices import BatchStatus, ClaimStatus
from billing.models import Payment, Remittance, RemittanceClaim
from billing.services.remittances import RemittanceImportError, import_remittance
from billing.x12.remit835 import parse_835
from tests.billing.remit_factories import adj, clp, line_pay, remittance_835, submitted_claim
from tests.billing.x12_fixtures import ERA_CORPUS, as_4010, redelimit, reenvelope, with_bom, wrap

D = Decimal


@pytest.mark.parametrize("construct", sorted(ERA_CORPUS))
def test_every_fixture_of_the_corpus_parses_and_balances(construct):
    remittances = parse_835(ERA_CORPUS[construct])
    assert remittances and all(r.claims for r in remittances)


# --------------------------------------------------------------------------- 1. a payment is the payment


@pytest.mark.django_db
def test_the_same_payment_in_a_new_envelope_is_already_posted_and_changes_nothing(world):
    claim = submitted_claim(world, charges=("475.00",))
    data = remittance_835(world, [clp(claim, "1", [line_pay(claim, 1, "475")])], trace="EFT475")
    first = import_remittance(data, file_name="era.835", acting_user=world.cbo_billing)
    assert first.already_imported is False

    again = reenvelope(data.decode(), 999, gs06=4242)  # new ISA13, GS06 and line breaks
    assert again.encode() != data
    second = import_remittance(again.encode(), file_name="era-resent.835", acting_user=world.cbo_billing)

    claim.refresh_from_db()
    assert second.already_imported is True
    assert claim.paid_amount == D("475.00") and not claim.overpaid
    assert Remittance.objects.count() == 1 and Payment.objects.filter(claim=claim).count() == 1
    assert Remittance.objects.get().sha256 == first.remittance.sha256  # the raw file keeps its SHA-256


@pytest.mark.django_db
def test_a_claim_paid_more_than_billed_is_flagged_on_the_claim_and_in_the_summary(world):
    claim = submitted_claim(world, charges=("475.00",))
    import_remittance(
        remittance_835(world, [clp(claim, "1", [line_pay(claim, 1, "475")])], trace="EFT1"), file_name="a.835"
    )
    result = import_remittance(
        remittance_835(world, [clp(claim, "1", [line_pay(claim, 1, "475")])], trace="EFT2"), file_name="b.835"
    )
    claim.refresh_from_db()
    assert claim.paid_amount == D("950.00") and claim.overpaid
    assert result.overpaid == [claim.control_number] and result.as_dict()["overpaid"] == [
        claim.control_number
    ]


# --------------------------------------------------------------------------- 2. files answer to whom they address


@pytest.mark.django_db
def test_an_era_for_another_payee_is_refused_and_then_posts_for_its_payee(world):
    claim = submitted_claim(world, charges=("125.00",))
    data = remittance_835(world, [clp(claim, "1", [line_pay(claim, 1, "125")])])
    with pytest.raises(RemittanceImportError, match="neither that payee, its hub, nor the submitter"):
        import_remittance(data, file_name="x.835", acting_user=world.other_cbo_admin)
    assert not Remittance.objects.exists() and not RemittanceClaim.objects.exists()

    result = import_remittance(data, file_name="x.835", acting_user=world.cbo_billing)
    claim.refresh_from_db()
    assert result.already_imported is False and result.claims_matched == 1
    assert claim.status == ClaimStatus.PAID


@pytest.mark.django_db
def test_the_payees_hub_and_the_payee_named_by_tin_may_import(world):
    world.cbo.tin = "95-1234567"
    world.cbo.save()
    claim = submitted_claim(world, charges=("125.00",))
    data = remittance_835(world, [clp(claim, "1", [line_pay(claim, 1, "125")])], npi="1999999992")
    text = data.decode().replace("N1*PE*", "N1*PE*").replace("*XX*1999999992", "*FI*951234567")
    result = import_remittance(text.encode(), file_name="hub.835", acting_user=world.hub_billing)
    assert result.remittance.payee == world.cbo and result.claims_matched == 1


# --------------------------------------------------------------------------- 3. read ERAs the way payers write them


def _payments(world):
    claim = submitted_claim(world, charges=("100.00",))
    return claim, remittance_835(world, [clp(claim, "1", [line_pay(claim, 1, "100")])]).decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(lambda t: with_bom(t), id="utf-8 byte-order mark"),
        pytest.param(
            lambda t: redelimit(
                t, element="\x1d", component="\x1f", segment="\x1e", repetition="\x1c"
            ).encode(),
            id="control-character delimiters",
        ),
        pytest.param(lambda t: wrap(t, 80).encode(), id="wrapped at 80 columns inside segments"),
        pytest.param(lambda t: redelimit(t, segment="\n").encode(), id="newline terminator"),
        pytest.param(lambda t: redelimit(t, segment="~", line_end="\r\n").encode(), id="~ then CRLF"),
        pytest.param(
            lambda t: with_bom(
                wrap(redelimit(t, element="\x1d", component="\x1f", segment="\x1e", repetition="\x1c"))
            ),
            id="all at once",
        ),
    ],
)
def test_eras_with_payers_envelopes_post(world, variant):
    claim, text = _payments(world)
    result = import_remittance(variant(text), file_name="payer.835", acting_user=world.cbo_billing)
    claim.refresh_from_db()
    assert (
        result.claims_matched == 1 and claim.status == ClaimStatus.PAID and claim.paid_amount == D("100.00")
    )


@pytest.mark.django_db
def test_a_4010_era_is_refused_naming_the_version(world):
    _claim, text = _payments(world)
    with pytest.raises(RemittanceImportError, match="this is 004010.*we read 005010X221A1"):
        import_remittance(as_4010(text).encode(), file_name="old.835", acting_user=world.cbo_billing)
    assert not Remittance.objects.exists()


# --------------------------------------------------------------------------- 6. patient responsibility reversed


@pytest.mark.django_db
def test_a_reversal_with_cas_pr_and_no_clp05_takes_the_patient_share_back(world):
    claim = submitted_claim(world, charges=("125.00",))
    import_remittance(
        remittance_835(
            world, [clp(claim, "1", [line_pay(claim, 1, "100", adj("PR", "2", "25"))], pr="25")], trace="EFT1"
        ),
        file_name="a.835",
    )
    claim.refresh_from_db()
    assert claim.patient_responsibility == D("25.00")

    line = dataclasses.replace(line_pay(claim, 1, "-100", adj("PR", "2", "-25")), charge=D("-125"))
    reversal = clp(claim, "22", [line])
    assert reversal.patient_responsibility is None  # no CLP05
    import_remittance(remittance_835(world, [reversal], trace="EFT2"), file_name="b.835")
    claim.refresh_from_db()
    assert claim.patient_responsibility == D("0.00") and claim.paid_amount == D("0.00")


# --------------------------------------------------------------------------- 7. an answer proves sending


@pytest.mark.django_db
def test_an_835_for_a_batch_written_but_not_marked_sent_marks_it_sent_then_posts(world):
    from django.core.files.base import ContentFile

    from billing.models import Batch

    batch = Batch.objects.create(
        submitter=world.cbo,
        plan=world.plan,
        status=BatchStatus.READY,
        group_control=61,
        interchange_control=61,
        file_name="b.837",
    )
    batch.file.save("b.837", ContentFile(b"ISA..."), save=True)
    claim = submitted_claim(world, charges=("125.00",), status=ClaimStatus.IN_BATCH, batch=batch)
    result = import_remittance(
        remittance_835(world, [clp(claim, "1", [line_pay(claim, 1, "125")])]),
        file_name="pays.835",
        acting_user=world.cbo_billing,
    )
    batch.refresh_from_db()
    claim.refresh_from_db()
    assert batch.status == BatchStatus.SUBMITTED and batch.submitted_at is not None
    assert batch.history.filter(to_status=BatchStatus.SUBMITTED, reason__contains="835 pays.835").exists()
    assert result.claims_matched == 1 and claim.status == ClaimStatus.PAID
    assert list(claim.history.values_list("to_status", flat=True)) == ["submitted", "paid"]
