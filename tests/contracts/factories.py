"""Factories for the contracts app: plain factory_boy ones for rows, and helpers that build
contracts the way users do (through the services)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from importlib import import_module

import factory
from django.apps import apps as django_apps

from contracts.choices import AuthorizationMode, ContractStatus, Unit
from contracts.data.catalog import load_catalog
from contracts.models import Contract, RateLine, RateLineVersion, ServiceCatalogEntry
from contracts.services import contracts as contract_services
from contracts.services import rates as rate_services
from tests.factories import UserFactory

START = date(2026, 1, 1)
END = date(2026, 12, 31)


def ensure_reference_data() -> None:
    """Counties and the service catalog, as their data migrations load them."""
    from cbo_portal.models import County

    if not County.objects.exists():
        import_module("cbo_portal.migrations.0002_load_california_counties").load(django_apps, None)
    if not ServiceCatalogEntry.objects.exists():
        load_catalog(ServiceCatalogEntry)


def service(label: str) -> ServiceCatalogEntry:
    """A catalog entry from ``"H0043-U6"``."""
    code, *mods = label.split("-")
    return ServiceCatalogEntry.lookup(code, mods)


class ServiceCatalogEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceCatalogEntry

    code = factory.Sequence(lambda n: f"Z{n % 10000:04d}")
    modifiers = ["U6"]
    name = factory.Sequence(lambda n: f"Test service {n}")
    service = "housing_navigation"
    category = "community_support"
    default_unit = Unit.DAY
    default_authorization = AuthorizationMode.PRIOR
    effective_from = date(2022, 1, 1)


class ContractFactory(factory.django.DjangoModelFactory):
    """A contract row (no rate lines). Use ``active_contract`` for a usable one."""

    class Meta:
        model = Contract

    plan = None
    cbo = None
    number = factory.Sequence(lambda n: f"K-{n:05d}")
    start_date = START
    end_date = END
    status = ContractStatus.DRAFT
    created_by = factory.SubFactory(UserFactory)

    @factory.post_generation
    def counties(self, create, extracted, **kwargs):
        from cbo_portal.models import County

        if create:
            self.counties.set(County.objects.filter(name__in=extracted or ["Los Angeles"]))


class RateLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RateLine

    contract = factory.SubFactory(ContractFactory)
    service = factory.LazyFunction(lambda: service("H0043-U6"))
    created_by = factory.SelfAttribute("contract.created_by")

    @factory.post_generation
    def rate(self, create, extracted, **kwargs):
        if create:
            RateLineVersion.objects.create(
                rate_line=self,
                effective_from=self.contract.start_date,
                unit=self.service.default_unit,
                rate=Decimal(extracted or "100.00"),
                authorization=self.service.default_authorization,
                created_by=self.created_by,
            )


def draft_contract(
    plan,
    cbo,
    manager,
    *,
    rates: dict[str, str] | None = None,
    start: date = START,
    end: date | None = END,
    counties: tuple[str, ...] = ("Los Angeles",),
    number: str | None = None,
    **fields,
) -> Contract:
    """A draft made through the services, with one rate line per ``{"H0043-U6": "95.00"}`` entry."""
    number = number or f"{plan.payer_id or 'K'}-{Contract.objects.count() + 1:04d}"
    contract = contract_services.create_contract(
        acting_user=manager,
        plan=plan,
        cbo=cbo,
        number=number,
        start_date=start,
        end_date=end,
        counties=list(counties),
        **fields,
    )
    for label, rate in (rates or {}).items():
        rate_services.add_rate_line(contract, acting_user=manager, service=service(label), rate=rate)
    return contract


def active_contract(plan, cbo, manager, **kwargs) -> Contract:
    """An active contract made through the services (see ``draft_contract``)."""
    kwargs.setdefault("rates", {"H0043-U6": "95.00"})
    return contract_services.activate(draft_contract(plan, cbo, manager, **kwargs), acting_user=manager)
