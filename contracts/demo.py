"""Demo contracts for ``make run``: two plans, a CBO and a hub, a realistic spread of services and
rates, one amendment and one draft. Idempotent: contracts are found by plan and number first."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import transaction

from cbo_portal.choices import Role
from contracts.models import Contract, ServiceCatalogEntry
from contracts.services import contracts as contract_services
from contracts.services import rates as rate_services

YEAR = date.today().year
CONTRACTS = [
    # (plan key, provider key, number, title, counties, {service: rate}, activate, amendment)
    (
        "plan",
        "cbo",
        f"PCHP-{YEAR}-014",
        "Community Supports and ECM",
        ["Los Angeles"],
        {
            "S5170-U6": "12.50",
            "S9977-U4": "35.00",
            "S9452-U5": "65.00",
            "H0043-U6": "450.00",
            "H0044-U2": "1.00",
            "T2040-U6": "28.00",
            "G9008-U1": "475.00",
            "G9012-U2": "350.00",
            "G9012-U8": "35.00",
        },
        True,
        ("H0043-U6", "495.00", f"{YEAR}-07-01", "Housing navigation rate increase"),
    ),
    (
        "plan",
        "hub",
        f"PCHP-{YEAR}-021",
        "ECM through Golden State Care Hub",
        ["Los Angeles", "Orange"],
        {"G9008-U1": "460.00", "G9012-U2": "340.00", "T1016-U8": "22.00"},
        True,
        None,
    ),
    (
        "plan2",
        "hub",
        f"CVHA-{YEAR}-003",
        "Central Valley Community Supports",
        ["Fresno", "Kern"],
        {
            "H0014-U6": "310.00",
            "T2033-U6": "225.00",
            "S9125-U6": "32.00",
            "H0040-U1": "1650.00",
            "T2038-U5": "2500.00",
            "S5165-U5": "1800.00",
        },
        True,
        None,
    ),
    (
        "plan2",
        "cbo",
        f"CVHA-{YEAR}-009",
        "Medically tailored meals pilot",
        ["Fresno"],
        {"S5170-U6": "13.25", "S9977-U5": "30.00"},
        False,
        None,
    ),
]


def _entry(label: str) -> ServiceCatalogEntry:
    code, *mods = label.split("-")
    return ServiceCatalogEntry.lookup(code, mods)


@transaction.atomic
def seed(world) -> None:
    for plan_key, cbo_key, number, title, counties, rates, activate, amendment in CONTRACTS:
        plan, cbo = world.orgs[plan_key], world.orgs[cbo_key]
        if Contract.objects.filter(plan=plan, number=number).exists():
            continue
        manager = world.users["plan2_contract_manager" if plan_key == "plan2" else Role.PLAN_CONTRACT_MANAGER]
        contract = contract_services.create_contract(
            acting_user=manager,
            plan=plan,
            cbo=cbo,
            number=number,
            title=title,
            start_date=date(YEAR, 1, 1),
            end_date=date(YEAR, 12, 31),
            counties=counties,
            receiver_id=f"{plan.payer_id}CLR",
            submitter_id=f"{cbo.npi}",
            plan_contact_name=plan.contact_name,
            plan_contact_email=plan.contact_email,
            cbo_contact_name=cbo.contact_name,
            cbo_contact_email=cbo.contact_email,
            not_to_exceed=Decimal("750000.00") if plan_key == "plan" else None,
        )
        for label, rate in rates.items():
            rate_services.add_rate_line(contract, acting_user=manager, service=_entry(label), rate=rate)
        if activate:
            contract_services.activate(contract, acting_user=manager)
        if amendment:
            label, rate, effective, reason = amendment
            rate_services.amend(
                contract,
                acting_user=manager,
                effective_from=date.fromisoformat(effective),
                reason=reason,
                changes=[rate_services.RateChange(_entry(label), {"rate": rate})],
            )
