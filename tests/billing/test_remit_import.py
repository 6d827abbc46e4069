"""Importing an 835: what a billing coordinator sees change on claims, lines, payments and queues."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.choices import ClaimStatus
from billing.models import (
    Adjustment,
    ClaimStatusChange,
    Payment,
    ProviderAdjustment,
    Remittance,
    RemittanceClaim,
)
from billing.services.remittances import RemittanceImportError, import_remittance, resolve_unmatched
from cbo_portal.models import AuditEvent
from tests.billing.remit_factories import adj, clp, line_pay, plb, remittance_835, submitted_claim

pytestmark = pytest.mark.django_db

D = Decimal


def _import(world, claims, plbs=(), **kw):
    data = remittance_835(world, claims, plbs, **kw)
    return import_remittance(data, file_name="pchp-0410.835", acting_user=world.cbo_billing), data


def test_full_payment_marks_claim_paid_and_posts_line_payments(world):
    claim = submitted_claim(world, charges=("100.00", "50.00"))
    result, _ = _import(world, [clp(claim, "1", [line_pay(claim, 1, "100"), line_pay(claim, 2, "50")])])

    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PAID
    assert claim.paid_amount == D("150.00")
    assert claim.payer_claim_number == f"PCHP{claim.control_number}"
    assert claim.adjudicated_at is not None
    assert [line.paid_amount for line in claim.lines.order_by("line_number")] == [D("100.00"), D("50.00")]
    assert sorted(p.amount for p in Payment.objects.filter(claim=claim)) == [D("50.00"), D("100.00")]
    assert all(p.claim_line_id for p in Payment.objects.filter(claim=claim))
    assert result.claims_matched == 1 and result.claims_unmatched == 0
    assert result.paid_total == D("150") and result.denied_count == 0
    remittance = result.remittance
    assert remittance.plan == world.plan and remittance.payee == world.cbo
    assert remittance.total_paid == D("150.00") and remittance.matched_count == 1
    assert ClaimStatusChange.objects.filter(claim=claim, from_status="submitted", to_status="paid").exists()
    assert (
        AuditEvent.objects.filter(object_type="billing.Remittance", object_id=str(remittance.pk)).count() == 1
    )


def test_partial_payment_with_co45_is_partially_paid_with_the_adjustment(world):
    claim = submitted_claim(world, charges=("125.00",))
    _import(world, [clp(claim, "1", [line_pay(claim, 1, "100.50", adj("CO", "45", "24.50"))])])

    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PARTIALLY_PAID
    assert claim.paid_amount == D("100.50")
    (row,) = Adjustment.objects.filter(claim=claim)
    assert (row.group, row.carc, row.amount) == ("CO", "45", D("24.50"))
    assert row.claim_line == claim.lines.get()
    assert claim.balance == D("24.50")


def test_denial_co197_is_denied_with_reason_and_remark(world):
    claim = submitted_claim(world, charges=("125.00",))
    result, _ = _import(
        world, [clp(claim, "4", [line_pay(claim, 1, "0", adj("CO", "197", "125"), rarc=["N54"])])]
    )

    claim.refresh_from_db()
    assert claim.status == ClaimStatus.DENIED
    assert claim.paid_amount == D("0.00")
    (row,) = Adjustment.objects.filter(claim=claim)
    assert (row.group, row.carc, row.amount, row.rarcs) == ("CO", "197", D("125.00"), ["N54"])
    assert not Payment.objects.filter(claim=claim).exists()
    assert result.denied_count == 1


def test_patient_responsibility_amounts_are_recorded(world):
    claim = submitted_claim(world, charges=("125.00",))
    _import(world, [clp(claim, "1", [line_pay(claim, 1, "100", adj("PR", "2", "25"))], pr="25")])

    claim.refresh_from_db()
    assert claim.patient_responsibility == D("25.00")
    assert claim.paid_amount == D("100.00")
    assert claim.status == ClaimStatus.PARTIALLY_PAID
    assert Adjustment.objects.get(claim=claim).group == "PR"
    assert RemittanceClaim.objects.get(claim=claim).patient_responsibility == D("25.00")


def test_plb_interest_and_recoupment_are_recorded_and_balance(world):
    claim = submitted_claim(world, charges=("200.00",))
    result, _ = _import(
        world,
        [clp(claim, "1", [line_pay(claim, 1, "200")])],
        [plb("L6", "-3.25", "INT0042", world.cbo.npi), plb("WO", "50", "PCHPCLM999", world.cbo.npi)],
    )

    remittance = result.remittance
    assert remittance.total_paid == D("153.25")  # 200 + 3.25 interest − 50 recouped
    rows = {p.reason_code: p for p in ProviderAdjustment.objects.filter(remittance=remittance)}
    assert rows["L6"].amount == D("-3.25") and rows["L6"].reference == "INT0042"
    assert rows["WO"].amount == D("50.00") and rows["WO"].reference == "PCHPCLM999"
    assert result.provider_adjustment_total == D("46.75")


def test_reversal_and_readjudication_in_one_file(world):
    claim = submitted_claim(world, charges=("125.00",))
    _import(world, [clp(claim, "1", [line_pay(claim, 1, "125")])], trace="EFT1")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PAID

    reversal = clp(claim, "22", charge="-125", paid="-125", payer_claim=f"PCHP{claim.control_number}")
    # The payer takes the payment back, then pays it again with a CO-45 reduction.
    again = clp(claim, "1", [line_pay(claim, 1, "110", adj("CO", "45", "15"))], payer_claim="PCHP-NEW")
    result, _ = _import(world, [reversal, again], trace="EFT2")

    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PARTIALLY_PAID
    assert claim.paid_amount == D("110.00")
    assert claim.payer_claim_number == "PCHP-NEW"
    amounts = sorted(p.amount for p in Payment.objects.filter(claim=claim))
    assert amounts == [D("-125.00"), D("110.00"), D("125.00")]
    assert claim.lines.get().paid_amount == D("110.00")
    assert result.claims_matched == 2 and result.denied_count == 0
    assert list(claim.history.values_list("to_status", flat=True))[-1] == "partially_paid"


def test_reversal_alone_leaves_nothing_paid_so_the_claim_is_denied(world):
    claim = submitted_claim(world, charges=("125.00",))
    _import(world, [clp(claim, "1", [line_pay(claim, 1, "125")])], trace="EFT1")
    _import(
        world,
        [clp(claim, "22", charge="-125", paid="-125", adjustments=[adj("CO", "129", "0")])],
        trace="EFT2",
    )
    claim.refresh_from_db()
    assert claim.paid_amount == D("0.00")
    assert claim.status == ClaimStatus.DENIED


def test_unmatched_claim_goes_to_the_work_queue_and_can_be_resolved(world):
    claim = submitted_claim(world, charges=("80.00",))
    result, _ = _import(
        world, [clp(claim, "1", [line_pay(claim, 1, "80")]), clp("NOPE0001", "1", charge="60", paid="60")]
    )
    assert result.claims_matched == 1 and result.claims_unmatched == 1
    item = RemittanceClaim.objects.get(patient_control_number="NOPE0001")
    assert item.claim is None and item.resolved_at is None and item.paid == D("60.00")
    assert result.remittance.unmatched_count == 1

    with pytest.raises(Exception, match="Say what you did"):
        resolve_unmatched(item, acting_user=world.cbo_billing, note="  ")
    done = resolve_unmatched(
        item, acting_user=world.cbo_billing, note="Plan paid another provider's claim; refund asked"
    )
    assert done.resolved_at is not None and done.resolved_by == world.cbo_billing
    assert "refund" in done.resolution_note


def test_ambiguous_control_number_is_decided_by_the_payee_npi(world):
    mine = submitted_claim(world, charges=("90.00",), control="SAME0001")
    theirs = submitted_claim(world, charges=("90.00",), control="SAME0001", provider=world.other_cbo)
    _import(world, [clp("SAME0001", "1", charge="90", paid="90")])
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.status == ClaimStatus.PAID and theirs.status == ClaimStatus.SUBMITTED


def test_claim_that_was_voided_is_not_posted_but_queued(world):
    claim = submitted_claim(world, charges=("90.00",), status=ClaimStatus.VOIDED)
    result, _ = _import(world, [clp(claim, "1", charge="90", paid="90")])
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.VOIDED and claim.paid_amount == 0
    assert result.claims_unmatched == 1


def test_same_file_twice_changes_nothing(world):
    claim = submitted_claim(world, charges=("125.00",))
    data = remittance_835(world, [clp(claim, "1", [line_pay(claim, 1, "100.50", adj("CO", "45", "24.50"))])])
    first = import_remittance(data, file_name="a.835", acting_user=world.cbo_billing)
    counts = (
        Payment.objects.count(),
        Adjustment.objects.count(),
        RemittanceClaim.objects.count(),
        ClaimStatusChange.objects.count(),
        Remittance.objects.count(),
    )
    second = import_remittance(data, file_name="again.835", acting_user=world.cbo_billing)

    assert second.already_imported and not first.already_imported
    assert second.remittance.pk == first.remittance.pk
    assert (second.claims_matched, second.paid_total, second.adjustment_total, second.denied_count) == (
        1,
        D("100.50"),
        D("24.50"),
        0,
    )
    assert counts == (
        Payment.objects.count(),
        Adjustment.objects.count(),
        RemittanceClaim.objects.count(),
        ClaimStatusChange.objects.count(),
        Remittance.objects.count(),
    )
    claim.refresh_from_db()
    assert claim.paid_amount == D("100.50")


def test_unbalanced_file_is_refused_with_the_numbers_and_changes_nothing(world):
    claim = submitted_claim(world, charges=("125.00",))
    data = remittance_835(
        world, [clp(claim, "1", [line_pay(claim, 1, "125")])], total=D("130"), check_balance=False
    )
    with pytest.raises(RemittanceImportError) as err:
        import_remittance(data, file_name="bad.835", acting_user=world.cbo_billing)
    text = " ".join(err.value.messages)
    assert "130" in text and "125" in text and "bad.835" in text
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.SUBMITTED and claim.paid_amount == 0
    assert (
        not Remittance.objects.exists()
        and not Payment.objects.exists()
        and not RemittanceClaim.objects.exists()
    )


def test_claim_that_does_not_balance_is_refused_naming_it(world):
    claim = submitted_claim(world, charges=("125.00",))
    bad = clp(
        claim, "1", [line_pay(claim, 1, "100", adj("CO", "45", "25"))], adjustments=[adj("CO", "45", "5")]
    )
    data = remittance_835(world, [bad], check_balance=False)
    with pytest.raises(RemittanceImportError, match=claim.control_number) as err:
        import_remittance(data, file_name="bad.835")
    assert "30" in str(err.value) and "25" in str(err.value)
    assert not Remittance.objects.exists()


@pytest.mark.parametrize(
    "data, words",
    [
        (b"", "empty"),
        (b"%PDF-1.4 not an edi file at all" * 10, "ISA"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 3, "NUL byte at offset"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(1, 256)) * 3, "ISA"),
    ],
)
def test_garbage_is_refused_with_a_clear_error(world, data, words):
    with pytest.raises(RemittanceImportError, match=words):
        import_remittance(data, file_name="junk.bin", acting_user=world.cbo_billing)
    assert not Remittance.objects.exists()


def test_truncated_file_is_refused_and_nothing_is_written(world):
    claim = submitted_claim(world, charges=("125.00",))
    data = remittance_835(world, [clp(claim, "1", [line_pay(claim, 1, "125")])])
    with pytest.raises(RemittanceImportError, match="unterminated|truncated"):
        import_remittance(data[: len(data) - 40], file_name="cut.835")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.SUBMITTED
    assert not RemittanceClaim.objects.exists()


def test_many_claims_in_several_chunks(world, monkeypatch):
    from billing.services.remittances import posting

    monkeypatch.setattr(posting, "CHUNK", 3)
    claims = [submitted_claim(world, charges=("50.00",)) for _ in range(7)]
    payments = [clp(c, "1", [line_pay(c, 1, "50")]) for c in claims]
    payments.append(clp(claims[0], "22", charge="-50", paid="-50"))  # reversal in a later chunk
    payments.append(clp(claims[0], "4", [line_pay(claims[0], 1, "0", adj("CO", "29", "50"))]))
    result, _ = _import(world, payments)
    assert result.claims_matched == 9
    statuses = [
        c.status for c in type(claims[0]).objects.filter(pk__in=[c.pk for c in claims]).order_by("pk")
    ]
    assert statuses == ["denied"] + ["paid"] * 6


def test_a_user_posts_only_to_claims_they_bill_for(world):
    """Another organization's ERA is refused whole (it is not stored as theirs, unmatched)."""
    claim = submitted_claim(world, charges=("125.00",))
    data = remittance_835(world, [clp(claim, "1", [line_pay(claim, 1, "125")])])
    with pytest.raises(RemittanceImportError, match="not imported"):
        import_remittance(data, file_name="x.835", acting_user=world.other_cbo_admin)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.SUBMITTED and not Remittance.objects.exists()


def test_plans_and_service_staff_cannot_import(world):
    from django.core.exceptions import PermissionDenied

    claim = submitted_claim(world, charges=("125.00",))
    data = remittance_835(world, [clp(claim, "1", [line_pay(claim, 1, "125")])])
    for user in (world.contract_manager, world.cbo_staff):
        with pytest.raises(PermissionDenied):
            import_remittance(data, file_name="x.835", acting_user=user)
    assert not Remittance.objects.exists()


def test_a_claim_that_moves_while_the_file_posts_is_moved_from_where_it_is(world, monkeypatch):
    """A 999 accepting the claim between our read and our write: the 835 still posts, from
    accepted, and history says so (no row claiming a move that did not happen)."""
    from billing.models import Claim
    from billing.services import states

    claim = submitted_claim(world, charges=("100.00",))
    move = states._move_adjudicated

    def meanwhile(rows, *args):
        if rows and rows[0].read_status == ClaimStatus.SUBMITTED:
            Claim.objects.filter(pk=claim.pk).update(status=ClaimStatus.ACCEPTED)
        return move(rows, *args)

    monkeypatch.setattr(states, "_move_adjudicated", meanwhile)
    _import(world, [clp(claim, "1", [line_pay(claim, 1, "100")])])
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PAID and claim.paid_amount == D("100.00")
    assert list(claim.history.values_list("from_status", "to_status")) == [("accepted", "paid")]


def test_contract_utilization_shows_what_was_billed_and_paid(world):
    from contracts.utilization import utilization

    claim = submitted_claim(world, charges=("100.00", "50.00"))
    denied = submitted_claim(world, charges=("80.00",))
    _import(
        world,
        [
            clp(claim, "1", [line_pay(claim, 1, "100"), line_pay(claim, 2, "40", adj("CO", "45", "10"))]),
            clp(denied, "4", [line_pay(denied, 1, "0", adj("CO", "197", "80"))]),
        ],
    )

    totals = utilization(claim.contract).totals
    assert totals.units["logged"] == D("3")
    assert totals.amount["billed"] == D("230.00") and totals.units["billed"] == D("3")
    assert totals.amount["paid"] == D("140.00") and totals.units["paid"] == D("2")
