"""Utilization: zero until something is logged; then logged, billed and paid figures per service
and month, caps at 80% or more flagged, table, chart and CSV. A stand-in provider supplies the
figures here; the real ones (referrals, billing) are tested with their apps."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from contracts import utilization as usage
from tests.contracts.factories import active_contract, service


@pytest.fixture
def contract(world):
    return active_contract(
        world.plan,
        world.cbo,
        world.contract_manager,
        rates={"H0044-U2": "1.00", "S5170-U6": "12.50"},
        not_to_exceed=Decimal("100000.00"),
        number="PCHP-U",
    )


@pytest.fixture
def billing(contract):
    """A stand-in for billing's provider: member A's deposits reach $4,200 of the $5,000 cap."""
    deposits, meals = service("H0044-U2").pk, service("S5170-U6").pk

    def provider(contracts, *, start=None, end=None):
        assert [c.pk for c in contracts] == [contract.pk]
        row = usage.UsageRow
        return [
            row(contract.pk, deposits, "A", date(2026, 2, 3), "logged", Decimal("4200"), Decimal("4200.00")),
            row(contract.pk, deposits, "A", date(2026, 2, 3), "billed", Decimal("4200"), Decimal("4200.00")),
            row(contract.pk, deposits, "A", date(2026, 2, 3), "paid", Decimal("4000"), Decimal("4000.00")),
            row(contract.pk, meals, "B", date(2026, 3, 9), "logged", Decimal("2"), Decimal("25.00")),
            row(contract.pk, meals, "C", date(2026, 3, 10), "logged", Decimal("1"), Decimal("12.50")),
        ]

    usage.register_usage_provider("test-billing", provider)
    yield provider
    usage.unregister_usage_provider("test-billing")


def test_with_nothing_logged_everything_is_zero(contract):
    result = usage.utilization(contract)
    assert result.rows == [] and result.totals.amount == {"logged": 0, "billed": 0, "paid": 0}
    assert not result.near_cap
    assert usage.near_cap_ids([contract]) == set()


def test_figures_by_service_and_month_and_caps(contract, billing):
    result = usage.utilization(contract)
    table = {(r.service.label, r.month): (r.figures.units, r.figures.amount) for r in result.rows}
    assert table[("H0044-U2", date(2026, 2, 1))] == (
        {"logged": Decimal("4200"), "billed": Decimal("4200"), "paid": Decimal("4000")},
        {"logged": Decimal("4200.00"), "billed": Decimal("4200.00"), "paid": Decimal("4000.00")},
    )
    assert table[("S5170-U6", date(2026, 3, 1))][1]["logged"] == Decimal("37.50")
    caps = {(c.service.label if c.service else None, c.cap): c for c in result.caps}
    lifetime = caps[("H0044-U2", "lifetime_dollar_cap")]
    assert (lifetime.used, lifetime.percent, lifetime.near) == (Decimal("4200.00"), 84, True)
    daily = caps[("S5170-U6", "units_per_day")]  # two meals a day for member B: 100% of the default cap
    assert (daily.used, daily.near) == (Decimal("2"), True)
    assert caps[(None, "not_to_exceed")].near is False
    assert result.near_cap
    assert usage.near_cap_ids([contract]) == {contract.pk}
    assert usage.cap_flags([contract]) == {contract.pk: "reached"}  # the daily meal cap is used up


def test_utilization_page_table_chart_flag_and_csv(world, client, contract, billing):
    client.force_login(world.cbo_admin)
    page = client.get(reverse("contracts:utilization", args=[contract.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    # Two meals a day is the whole daily cap (100%): reached, not "nearing".
    assert "A cap is reached." in html and "Nearing a cap." not in html and "cap reached" in html
    assert "84% of dollars per member (lifetime)" in html
    chart = page.context["chart"]
    assert 'data-chart="utilization-chart-data"' in html
    assert [d["label"] for d in chart["datasets"]] == ["Logged", "Billed", "Paid"]
    assert sum(chart["datasets"][0]["data"]) == float(page.context["result"].totals.amount["logged"]) > 0
    csv = client.get(reverse("contracts:utilization", args=[contract.pk]), {"format": "csv"})
    lines = csv.content.decode().splitlines()
    assert csv["Content-Type"] == "text/csv"
    assert (
        lines[0]
        == "month,service,service_name,logged_units,logged_amount,billed_units,billed_amount,paid_units,paid_amount"
    )
    assert "2026-02,H0044-U2,Housing Deposits,4200,4200.00,4200,4200.00,4000,4000.00" in lines
    # The list says the same: a cap at 100% is reached, not "near".
    listing = client.get(reverse("contracts:list")).content.decode()
    assert "Cap reached" in listing and "Near a cap" not in listing


def test_utilization_page_with_nothing_logged_says_so(world, client, contract):
    client.force_login(world.contract_manager)
    html = client.get(reverse("contracts:utilization", args=[contract.pk])).content.decode()
    assert "Nothing has been recorded yet" in html
    assert "No services logged against this contract yet." in html


def test_outsiders_get_404(world, client, contract):
    client.force_login(world.other_cbo_admin)
    assert client.get(reverse("contracts:utilization", args=[contract.pk])).status_code == 404
