"""Makers for the generic isolation test (tests/test_isolation.py): per API router basename, a
callable that creates one object and returns it with the set of users who may see it. Everyone
else in ``world`` must get a 404 (detail) and not find it in lists."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from contracts.models import ServiceCatalogEntry
from contracts.services.rates import RateChange, amend
from tests.contracts.factories import active_contract, ensure_reference_data, service

PERSONAS = (
    "cbo_admin",
    "cbo_staff",
    "cbo_billing",
    "hub_billing",
    "plan_admin",
    "contract_manager",
    "care_coordinator",
    "other_cbo_admin",
    "other_cbo_staff",
    "other_plan_manager",
    "other_plan_coordinator",
    "platform_admin",
)


def contract_insiders(world) -> set:
    """Who sees a contract between world.plan and world.cbo: the plan's people, the CBO's, the hub
    that bills for the CBO, and platform admins."""
    names = (
        "plan_admin",
        "contract_manager",
        "care_coordinator",
        "cbo_admin",
        "cbo_staff",
        "cbo_billing",
        "hub_billing",
        "platform_admin",
    )
    return {getattr(world, n) for n in names}


def _contract(world):
    ensure_reference_data()
    return active_contract(world.plan, world.cbo, world.contract_manager, rates={"H0043-U6": "95.00"})


def make_catalog_entry(world):
    ensure_reference_data()
    return ServiceCatalogEntry.lookup("H0043", ["U6"]), {getattr(world, n) for n in PERSONAS}


def make_contract(world):
    return _contract(world), contract_insiders(world)


def make_rate_line(world):
    return _contract(world).rate_lines.get(), contract_insiders(world)


def make_amendment(world):
    contract = _contract(world)
    amendment = amend(
        contract,
        acting_user=world.contract_manager,
        effective_from=date(2026, 7, 1),
        reason="Rate increase",
        changes=[RateChange(service("H0043-U6"), {"rate": Decimal("110.00")})],
    )
    return amendment, contract_insiders(world)


MAKERS = {
    "catalog-entry": make_catalog_entry,
    "contract": make_contract,
    "rate-line": make_rate_line,
    "contract-amendment": make_amendment,
}
