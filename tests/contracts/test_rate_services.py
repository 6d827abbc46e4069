"""Rate lines on drafts and amendments of active contracts: bad input gets a clear message and
saves nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from contracts.choices import AuthorizationMode, Unit
from contracts.models import ContractAmendment, RateLine, RateLineVersion, UnknownService
from contracts.services import catalog as catalog_services
from contracts.services import rates as svc
from tests.contracts.factories import active_contract, draft_contract, service


@pytest.fixture
def draft(world):
    return draft_contract(world.plan, world.cbo, world.contract_manager, number="PCHP-9")


def test_rate_line_takes_catalog_defaults(world, draft):
    line = svc.add_rate_line(
        draft, acting_user=world.contract_manager, service=service("H0044-U2"), rate="1.00"
    )
    version = line.versions.get()
    assert (version.unit, version.authorization, version.lifetime_dollar_cap) == (
        Unit.DOLLAR,
        AuthorizationMode.PRIOR,
        Decimal("5000.00"),
    )
    assert version.effective_from == draft.start_date
    ecm = svc.add_rate_line(
        draft, acting_user=world.contract_manager, service=service("G9008-U1"), rate="450", unit=Unit.SERVICE
    ).versions.get()
    assert (ecm.unit, ecm.authorization, ecm.authorization_required) == (
        Unit.SERVICE,
        AuthorizationMode.PRESUMPTIVE,
        False,
    )


@pytest.mark.parametrize(
    ("rate", "message"),
    [
        ("0", "The rate must be more than $0 (got 0)."),
        ("-5.00", "The rate must be more than $0 (got -5.00)."),
        ("abc", "“abc” is not an amount of dollars."),
    ],
)
def test_zero_or_negative_rate_is_refused(world, draft, rate, message):
    with pytest.raises(ValidationError) as caught:
        svc.add_rate_line(draft, acting_user=world.contract_manager, service=service("H0043-U6"), rate=rate)
    assert caught.value.message_dict["rate"] == [message]
    assert not RateLine.objects.exists() and not RateLineVersion.objects.exists()


def test_zero_cap_is_refused(world, draft):
    with pytest.raises(ValidationError, match="A cap must be more than zero"):
        svc.add_rate_line(
            draft,
            acting_user=world.contract_manager,
            service=service("H0043-U6"),
            rate="5",
            units_per_month=0,
        )
    assert not RateLine.objects.exists()


def test_unknown_service_pair_is_refused_by_name():
    with pytest.raises(UnknownService, match="No service in the catalog for H0043 with U7"):
        service("H0043-U7")


def test_same_service_twice_is_refused(world, draft):
    svc.add_rate_line(draft, acting_user=world.contract_manager, service=service("H0043-U6"), rate="95")
    with pytest.raises(
        ValidationError, match=r"Housing Transition Navigation \(H0043-U6\) is already on this contract"
    ):
        svc.add_rate_line(draft, acting_user=world.contract_manager, service=service("H0043-U6"), rate="96")
    assert RateLine.objects.count() == 1


def test_retired_service_cannot_be_added(world, draft):
    catalog_services.retire_entry(
        service("T2033-U6"), acting_user=world.platform_admin, last_day=date(2025, 12, 31)
    )
    with pytest.raises(ValidationError, match="was retired after Dec 31, 2025"):
        svc.add_rate_line(draft, acting_user=world.contract_manager, service=service("T2033-U6"), rate="200")


def test_draft_lines_edit_and_remove_in_place(world, draft):
    line = svc.add_rate_line(
        draft, acting_user=world.contract_manager, service=service("H0043-U6"), rate="95"
    )
    svc.update_rate_line(line, acting_user=world.contract_manager, rate="97.50", units_per_month=2)
    version = line.versions.get()
    assert (version.rate, version.units_per_month) == (Decimal("97.50"), 2)
    svc.remove_rate_line(line, acting_user=world.contract_manager)
    assert not draft.rate_lines.exists()


def test_active_lines_change_only_by_amendment(world):
    contract = active_contract(world.plan, world.cbo, world.contract_manager)
    line = contract.rate_lines.get()
    with pytest.raises(ValidationError, match="change its rates by amendment"):
        svc.update_rate_line(line, acting_user=world.contract_manager, rate="1")
    with pytest.raises(ValidationError, match="its services stay on record"):
        svc.remove_rate_line(line, acting_user=world.contract_manager)
    with pytest.raises(ValidationError, match="add services by amendment"):
        svc.add_rate_line(contract, acting_user=world.contract_manager, service=service("S5170-U6"), rate="1")


def test_other_plans_cannot_touch_rates(world, draft):
    with pytest.raises(PermissionDenied):
        svc.add_rate_line(draft, acting_user=world.other_plan_manager, service=service("H0043-U6"), rate="95")
    with pytest.raises(PermissionDenied):
        svc.add_rate_line(draft, acting_user=world.cbo_admin, service=service("H0043-U6"), rate="95")


def test_amendment_appends_versions_and_is_numbered(world):
    contract = active_contract(world.plan, world.cbo, world.contract_manager, rates={"H0043-U6": "95"})
    first = svc.amend(
        contract,
        acting_user=world.contract_manager,
        effective_from=date(2026, 4, 1),
        reason="COLA",
        changes=[svc.RateChange(service("H0043-U6"), {"rate": "100"})],
    )
    second = svc.amend(
        contract,
        acting_user=world.contract_manager,
        effective_from=date(2026, 10, 1),
        reason="Cap",
        changes=[svc.RateChange(service("H0043-U6"), {"units_per_month": 1})],
    )
    assert (first.number, second.number) == (1, 2)
    versions = list(contract.rate_lines.get().versions.order_by("effective_from"))
    assert [(v.effective_from, v.rate, v.units_per_month, v.amendment_id) for v in versions] == [
        (date(2026, 1, 1), Decimal("95.0000"), None, None),
        (date(2026, 4, 1), Decimal("100.0000"), None, first.pk),
        (date(2026, 10, 1), Decimal("100.0000"), 1, second.pk),
    ]


@pytest.mark.parametrize(
    ("effective_from", "terms", "message"),
    [
        (date(2026, 1, 1), {"rate": "100"}, "takes effect after the contract's effective date"),
        (date(2027, 1, 1), {"rate": "100"}, "last covered day is Dec 31, 2026"),
        (date(2026, 4, 1), {"rate": "-1"}, r"The rate must be more than \$0 \(got -1\)"),
        (date(2026, 4, 1), {"rate": "95"}, "The amendment changes nothing"),
    ],
)
def test_bad_amendments_save_nothing(world, effective_from, terms, message):
    contract = active_contract(world.plan, world.cbo, world.contract_manager, rates={"H0043-U6": "95"})
    with pytest.raises(ValidationError, match=message):
        svc.amend(
            contract,
            acting_user=world.contract_manager,
            effective_from=effective_from,
            reason="x",
            changes=[svc.RateChange(service("H0043-U6"), terms)],
        )
    assert not ContractAmendment.objects.exists()
    assert RateLineVersion.objects.count() == 1


def test_two_amendments_on_the_same_day_for_a_service_are_refused(world):
    contract = active_contract(world.plan, world.cbo, world.contract_manager, rates={"H0043-U6": "95"})
    change = [svc.RateChange(service("H0043-U6"), {"rate": "100"})]
    svc.amend(
        contract,
        acting_user=world.contract_manager,
        effective_from=date(2026, 4, 1),
        reason="a",
        changes=change,
    )
    with pytest.raises(ValidationError, match="already has terms starting Apr 1, 2026"):
        svc.amend(
            contract,
            acting_user=world.contract_manager,
            effective_from=date(2026, 4, 1),
            reason="b",
            changes=[svc.RateChange(service("H0043-U6"), {"rate": "105"})],
        )


def test_only_active_contracts_are_amended(world, draft):
    with pytest.raises(ValidationError, match="Only an active contract can be amended"):
        svc.amend(
            draft,
            acting_user=world.contract_manager,
            effective_from=date(2026, 4, 1),
            reason="x",
            changes=[svc.RateChange(service("H0043-U6"), {"rate": "100"})],
        )
