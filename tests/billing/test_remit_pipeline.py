"""An 835 posted in many chunks (the database thread writes one while the next is built) ends
exactly as if posted in one, and a failure in any chunk leaves nothing behind."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from billing.choices import ClaimStatus
from billing.models import Adjustment, ClaimLine, ClaimStatusChange, Payment, Remittance, RemittanceClaim
from billing.services.remittances import RemittanceImportError, import_remittance, posting
from tests.billing.remit_factories import adj, clp, line_pay, remittance_835, submitted_claim

pytestmark = pytest.mark.django_db

D = Decimal


def _assert_nothing_posted(claims) -> None:
    assert not Remittance.objects.exists() and not RemittanceClaim.objects.exists()
    assert not Payment.objects.exists() and not Adjustment.objects.exists()
    assert not ClaimStatusChange.objects.filter(to_status__in=["paid", "partially_paid", "denied"]).exists()
    for claim in claims:
        claim.refresh_from_db()
        assert claim.status == ClaimStatus.SUBMITTED and claim.paid_amount == 0


def test_an_unbalanced_claim_in_a_late_chunk_changes_nothing(world, monkeypatch):
    monkeypatch.setattr(posting, "CHUNK", 2)
    claims = [submitted_claim(world, charges=("50.00",)) for _ in range(7)]
    data = remittance_835(world, [clp(c, "1", [line_pay(c, 1, "50")]) for c in claims])
    paid = f"CLP*{claims[6].control_number}*1*50*50".encode()
    assert paid in data
    with pytest.raises(RemittanceImportError):
        import_remittance(
            data.replace(paid, paid[:-2] + b"45"), file_name="late.835", acting_user=world.cbo_billing
        )
    _assert_nothing_posted(claims)


@pytest.mark.postgresql
def test_a_database_error_while_writing_a_chunk_changes_nothing(world, monkeypatch):
    monkeypatch.setattr(posting, "CHUNK", 2)
    claims = [submitted_claim(world, charges=("50.00",)) for _ in range(7)]
    write, calls = posting._write_chunk, []

    def failing_second_write(writes, check_sql):
        calls.append(1)
        if len(calls) == 2:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 / 0")  # the database refuses
        return write(writes, check_sql)

    monkeypatch.setattr(posting, "_write_chunk", failing_second_write)
    with pytest.raises(Exception, match="division by zero"):
        import_remittance(
            remittance_835(world, [clp(c, "1", [line_pay(c, 1, "50")]) for c in claims]),
            file_name="broken.835",
            acting_user=world.cbo_billing,
        )
    _assert_nothing_posted(claims)


@pytest.mark.parametrize("chunk", [1, 2, 1000])
def test_reversals_and_readjudications_across_chunks_post_as_in_one(world, monkeypatch, chunk):
    monkeypatch.setattr(posting, "CHUNK", chunk)
    c = submitted_claim(world, charges=("60.00", "40.00"))
    import_remittance(
        remittance_835(
            world,
            [
                clp(c, "1", [line_pay(c, 1, "60"), line_pay(c, 2, "30", adj("CO", "45", "10"))]),
                clp(c, "22", charge="-100", paid="-90", adjustments=[adj("CO", "45", "-10")]),
                clp(c, "2", [line_pay(c, 1, "50", adj("CO", "45", "10")), line_pay(c, 2, "40")]),
                clp(c, "22", charge="-100", paid="-90", adjustments=[adj("CO", "45", "-10")]),
                clp(c, "1", [line_pay(c, 1, "60"), line_pay(c, 2, "40")]),
            ],
        ),
        file_name="history.835",
    )
    c.refresh_from_db()
    assert (c.status, c.paid_amount) == (ClaimStatus.PAID, D("100.00"))
    assert list(
        ClaimLine.objects.filter(claim=c).order_by("line_number").values_list("paid_amount", flat=True)
    ) == [
        D("60.00"),
        D("40.00"),
    ]
    assert sum(Payment.objects.filter(claim=c).values_list("amount", flat=True)) == D("100.00")
    assert [h[1] for h in c.history.order_by("pk").values_list("from_status", "to_status")][
        -1
    ] == ClaimStatus.PAID
