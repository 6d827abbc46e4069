"""coverage() and price(): the two questions billing asks, on dates before, during and after a
contract, across an amendment, by county, for retired services, and for hubs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cbo_portal.models import County
from contracts.choices import CoverageReason as R
from contracts.choices import Unit
from contracts.selectors import coverage, price, rate_book
from contracts.services import catalog as catalog_services
from contracts.services import contracts as contract_services
from contracts.services import rates as rate_services
from tests.contracts.factories import active_contract, draft_contract, service

NAV = "H0043-U6"


@pytest.fixture
def contract(world):
    """Jan 1 – Dec 31 2026, Los Angeles County, navigation at $95/month and meals at $12.50/meal."""
    return active_contract(
        world.plan,
        world.cbo,
        world.contract_manager,
        rates={NAV: "95.00", "S5170-U6": "12.50"},
        number="PCHP-1",
    )


@pytest.fixture
def amended(world, contract):
    """Navigation goes to $110 from Jul 1 2026."""
    rate_services.amend(
        contract,
        acting_user=world.contract_manager,
        effective_from=date(2026, 7, 1),
        reason="Rate increase",
        changes=[rate_services.RateChange(service(NAV), {"rate": Decimal("110.00")})],
    )
    return contract


@pytest.mark.parametrize(
    ("on", "covered", "reason"),
    [
        (date(2025, 12, 31), False, R.NOT_YET_EFFECTIVE),
        (date(2026, 1, 1), True, R.COVERED),
        (date(2026, 6, 15), True, R.COVERED),
        (date(2026, 12, 31), True, R.COVERED),
        (date(2027, 1, 1), False, R.EXPIRED),
    ],
)
def test_coverage_before_during_and_after_the_contract(world, contract, on, covered, reason):
    result = coverage(world.cbo, world.plan, service(NAV), on=on)
    assert (result.covered, result.reason) == (covered, reason)
    assert result.contract == contract
    if covered:
        assert result.rate_line.service.label == NAV
        assert result.version.rate == Decimal("95.00")


def test_not_yet_effective_and_expired_messages_give_the_dates(world, contract):
    assert "takes effect on Jan 1, 2026" in coverage(world.cbo, world.plan, NAV, on=date(2025, 5, 1)).message
    assert "ended on Dec 31, 2026" in coverage(world.cbo, world.plan, NAV, on=date(2027, 2, 1)).message


@pytest.mark.parametrize(
    ("on", "rate"),
    [
        (date(2026, 1, 1), "95.00"),
        (date(2026, 6, 30), "95.00"),  # the day before the amendment
        (date(2026, 7, 1), "110.00"),  # the amendment's effective date itself
        (date(2026, 12, 31), "110.00"),
    ],
)
def test_price_across_an_amendment(world, amended, on, rate):
    result = price(world.cbo, world.plan, service(NAV), 2, on=on)
    assert result.covered
    assert result.rate == Decimal(rate)
    assert result.amount == Decimal(rate) * 2
    assert result.unit == Unit.MONTH


def test_an_amendment_keeps_the_price_of_claims_already_built(world, contract):
    before = price(world.cbo, world.plan, NAV, 1, on=date(2026, 3, 1))
    rate_services.amend(
        contract,
        acting_user=world.contract_manager,
        effective_from=date(2026, 7, 1),
        reason="Increase",
        changes=[rate_services.RateChange(service(NAV), {"rate": "110"})],
    )
    after = price(world.cbo, world.plan, NAV, 1, on=date(2026, 3, 1))
    assert after.amount == before.amount == Decimal("95.00")
    assert after.version.pk == before.version.pk
    before.version.refresh_from_db()
    assert before.version.rate == Decimal("95.00")  # the version a claim points at is never rewritten


def test_amendment_of_caps_only_keeps_the_rate(world, contract):
    rate_services.amend(
        contract,
        acting_user=world.contract_manager,
        effective_from=date(2026, 4, 1),
        reason="Daily cap",
        changes=[rate_services.RateChange(service("S5170-U6"), {"units_per_day": 3})],
    )
    march = coverage(world.cbo, world.plan, "S5170-U6", on=date(2026, 3, 31)).version
    april = coverage(world.cbo, world.plan, "S5170-U6", on=date(2026, 4, 1)).version
    assert (march.units_per_day, april.units_per_day) == (2, 3)
    assert march.rate == april.rate == Decimal("12.50")


@pytest.mark.parametrize("county", ["Los Angeles", "los angeles county", "06037"])
def test_covered_county_by_name_or_fips(world, contract, county):
    assert coverage(world.cbo, world.plan, NAV, on=date(2026, 3, 1), county=county).covered


def test_uncovered_county(world, contract):
    fresno = County.objects.get(name="Fresno")
    result = coverage(world.cbo, world.plan, NAV, on=date(2026, 3, 1), county=fresno)
    assert (result.covered, result.reason) == (False, R.COUNTY_NOT_COVERED)
    assert result.message == "Contract PCHP-1 covers Los Angeles, not Fresno."
    assert not price(world.cbo, world.plan, NAV, 1, on=date(2026, 3, 1), county=fresno).covered


def test_retired_catalog_entry_is_not_covered_after_its_last_day(world, contract):
    catalog_services.retire_entry(service(NAV), acting_user=world.platform_admin, last_day=date(2026, 6, 30))
    assert coverage(world.cbo, world.plan, NAV, on=date(2026, 6, 30)).covered
    result = coverage(world.cbo, world.plan, NAV, on=date(2026, 7, 1))
    assert (result.covered, result.reason) == (False, R.SERVICE_RETIRED)
    assert "retired after Jun 30, 2026" in result.message


def test_service_not_on_the_contract(world, contract):
    result = coverage(world.cbo, world.plan, ("H0044", ["U2"]), on=date(2026, 3, 1))
    assert (result.covered, result.reason) == (False, R.SERVICE_NOT_COVERED)
    assert result.message == "Contract PCHP-1 does not cover Housing Deposits (H0044-U2)."


def test_service_added_by_amendment_is_covered_from_its_date(world, contract):
    rate_services.amend(
        contract,
        acting_user=world.contract_manager,
        effective_from=date(2026, 5, 1),
        reason="Add deposits",
        changes=[rate_services.RateChange(service("H0044-U2"), {"rate": "1.00"})],
    )
    early = coverage(world.cbo, world.plan, "H0044-U2", on=date(2026, 4, 30))
    assert (early.reason, "until May 1, 2026" in early.message) == (R.SERVICE_NOT_COVERED, True)
    deposit = price(world.cbo, world.plan, "H0044-U2", "1234.565", on=date(2026, 5, 1))
    assert deposit.amount == Decimal("1234.57")
    assert deposit.version.lifetime_dollar_cap == Decimal("5000.00")


def test_terminated_contract(world, contract):
    contract_services.terminate(
        contract,
        acting_user=world.contract_manager,
        termination_date=date(2026, 9, 1),
        reason="Provider closed",
    )
    assert coverage(world.cbo, world.plan, NAV, on=date(2026, 8, 31)).covered
    result = coverage(world.cbo, world.plan, NAV, on=date(2026, 9, 1))
    assert (result.covered, result.reason) == (False, R.TERMINATED)
    assert "terminated effective Sep 1, 2026" in result.message


def test_no_contract_with_another_plan_or_provider(world, contract):
    for cbo, plan in ((world.cbo, world.other_plan), (world.other_cbo, world.plan)):
        result = coverage(cbo, plan, NAV, on=date(2026, 3, 1))
        assert (result.covered, result.reason) == (False, R.NO_CONTRACT)
        assert result.contract is None


def test_a_draft_covers_nothing(world):
    draft_contract(world.plan, world.cbo, world.contract_manager, rates={NAV: "95"})
    assert coverage(world.cbo, world.plan, NAV, on=date(2026, 3, 1)).reason == R.NO_CONTRACT


def test_a_hubs_contract_covers_its_member_cbo_and_the_cbos_own_is_preferred(world):
    hub_contract = active_contract(
        world.plan, world.hub, world.contract_manager, rates={NAV: "90", "S5170-U6": "11"}, number="HUB-1"
    )
    assert coverage(world.cbo, world.plan, "S5170-U6", on=date(2026, 3, 1)).contract == hub_contract
    own = active_contract(world.plan, world.cbo, world.contract_manager, rates={NAV: "95"}, number="OWN-1")
    assert coverage(world.cbo, world.plan, NAV, on=date(2026, 3, 1)).contract == own
    assert coverage(world.cbo, world.plan, "S5170-U6", on=date(2026, 3, 1)).contract == hub_contract
    assert coverage(world.other_cbo, world.plan, NAV, on=date(2026, 3, 1)).reason == R.NO_CONTRACT


def test_unknown_service_is_a_reason_not_a_crash(world, contract):
    result = coverage(world.cbo, world.plan, ("H0043", ["U9"]), on=date(2026, 3, 1))
    assert (result.covered, result.reason) == (False, R.UNKNOWN_SERVICE)
    assert "H0043 with U9" in result.message
    assert price(world.cbo, world.plan, ("H0043", ["U9"]), 1, on=date(2026, 3, 1)).reason == R.UNKNOWN_SERVICE


@pytest.mark.parametrize("units", [0, -1, "abc", "NaN"])
def test_price_rejects_units_that_are_not_positive(world, contract, units):
    result = price(world.cbo, world.plan, NAV, units, on=date(2026, 3, 1))
    assert (result.covered, result.reason, result.amount) == (False, R.INVALID_UNITS, None)


def test_price_rounds_half_up_to_cents(world):
    active_contract(world.plan, world.cbo, world.contract_manager, rates={"T2040-U6": "10.0050"})
    assert price(world.cbo, world.plan, "T2040-U6", 1, on=date(2026, 3, 1)).amount == Decimal("10.01")
    assert price(world.cbo, world.plan, "T2040-U6", 3, on=date(2026, 3, 1)).amount == Decimal("30.02")


def test_authorization_defaults_follow_the_catalog(world):
    active_contract(
        world.plan, world.cbo, world.contract_manager, rates={"G9008-U1": "450", "H0014-U6": "300", NAV: "95"}
    )
    on = date(2026, 3, 1)
    assert coverage(world.cbo, world.plan, ("G9008", ["GQ", "U1"]), on=on).authorization_required is False
    assert coverage(world.cbo, world.plan, "H0014-U6", on=on).authorization_required is True  # retroactive
    assert coverage(world.cbo, world.plan, NAV, on=on).authorization_required is True


def test_coverage_takes_few_queries_and_a_rate_book_none_per_line(world, contract):
    entry = service(NAV)
    with CaptureQueriesContext(connection) as single:
        coverage(world.cbo, world.plan, entry, on=date(2026, 3, 1))
    assert len(single) <= 4
    book = rate_book(world.cbo, world.plan)
    with CaptureQueriesContext(connection) as per_line:
        for day in range(1, 29):
            assert book.price(entry, 1, on=date(2026, 2, day)).covered
            assert book.coverage(entry, on=date(2026, 2, day), county="Los Angeles")
    assert len(per_line) == 0
