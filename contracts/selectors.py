"""Reads other apps rely on: is a service covered, and what does it pay.

``coverage(cbo, plan, service, on=...)`` and ``price(cbo, plan, service, units, on=...)`` answer
for one service line in four queries. Billing, pricing many lines for one provider and plan,
loads a ``RateBook`` once (``rate_book(cbo, plan)``) and asks it per line with no further queries.

Rules, in the order they are checked:
1. the service is a catalog entry in use on the date (else ``unknown_service`` / ``service_retired``);
2. a non-draft contract between the plan and the provider, or the hub that contracts for it, is in
   force on the date: started, not past its end date, terminated on a later date (else
   ``no_contract``, ``not_yet_effective``, ``expired`` or ``terminated``);
3. the contract has a rate line for the service with a version in force on the date (else
   ``service_not_covered``);
4. when a county is given, the contract covers it (else ``county_not_covered``).
A contract the provider holds itself is preferred to its hub's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Self

from django.db.models import Prefetch

from cbo_portal.models import County, Organization
from contracts.choices import CoverageReason, Unit
from contracts.models import (
    IN_FORCE_STATUSES,
    Contract,
    RateLine,
    RateLineVersion,
    ServiceCatalogEntry,
    UnknownService,
)
from contracts.models.contracts import human_date
from contracts.money import money

ServiceRef = ServiceCatalogEntry | tuple[str, Iterable[str]] | str
CountyRef = County | str | None


@dataclass(frozen=True)
class Coverage:
    """The answer to "is this service covered for this provider, plan and date?"."""

    covered: bool
    reason: str
    message: str
    service: ServiceCatalogEntry | None = None
    contract: Contract | None = None
    rate_line: RateLine | None = None
    version: RateLineVersion | None = None

    def __bool__(self) -> bool:
        return self.covered

    @property
    def authorization_required(self) -> bool | None:
        return self.version.authorization_required if self.version else None


@dataclass(frozen=True)
class Price:
    """The answer to "what does it pay?": rate and unit of the version in force, the units,
    and the amount rounded to cents. When not covered, rate and amount are None and
    ``reason``/``message`` say why."""

    coverage: Coverage
    units: Decimal | None
    rate: Decimal | None = None
    unit: str | None = None
    amount: Decimal | None = None
    reason_override: str | None = None
    message_override: str | None = None

    @property
    def covered(self) -> bool:
        return self.amount is not None

    def __bool__(self) -> bool:
        return self.covered

    @property
    def reason(self) -> str:
        return self.reason_override or self.coverage.reason

    @property
    def message(self) -> str:
        return self.message_override or self.coverage.message

    @property
    def version(self) -> RateLineVersion | None:
        return self.coverage.version

    @property
    def contract(self) -> Contract | None:
        return self.coverage.contract


def resolve_service(service: ServiceRef) -> ServiceCatalogEntry:
    """A catalog entry from an entry, a (code, modifiers) pair or ``"CODE-MOD-MOD"``.
    Raises UnknownService naming the pair."""
    if isinstance(service, ServiceCatalogEntry):
        return service
    if isinstance(service, str):
        code, *mods = service.replace(":", "-").replace(" ", "-").split("-")
        return ServiceCatalogEntry.objects.lookup(code, mods)
    code, modifiers = service
    return ServiceCatalogEntry.objects.lookup(code, modifiers)


def _county_matches(contract: Contract, county: CountyRef) -> bool:
    counties = list(contract.counties.all())
    if county is None or not counties:
        return True
    if isinstance(county, County):
        return any(c.pk == county.pk for c in counties)
    wanted = county.strip().lower().removesuffix(" county")
    return any(wanted in (c.name.lower(), c.fips) for c in counties)


def _county_name(county: CountyRef) -> str:
    return county.name if isinstance(county, County) else str(county)


class RateBook:
    """Every contract in force at some time between a plan and a provider (and the provider's hub),
    with counties, rate lines and versions loaded, answering coverage and price without queries."""

    def __init__(self, cbo: Organization, plan: Organization, contracts: Sequence[Contract]) -> None:
        self.cbo, self.plan = cbo, plan
        # The provider's own contracts first, then its hub's; the earliest first within each.
        self.contracts = sorted(contracts, key=lambda c: (c.cbo_id != cbo.pk, c.start_date, c.pk))
        self._lines: dict[tuple[int, int], RateLine] = {
            (c.pk, line.service_id): line for c in self.contracts for line in c.rate_lines.all()
        }

    @classmethod
    def load(
        cls, cbo: Organization, plan: Organization, *, services: Iterable[ServiceCatalogEntry] | None = None
    ) -> Self:
        provider_ids = [cbo.pk, *([cbo.hub_id] if getattr(cbo, "hub_id", None) else [])]
        lines = RateLine.objects.select_related("service").prefetch_related("versions")
        if services is not None:
            lines = lines.filter(service__in=[s.pk for s in services])
        contracts = (
            Contract.objects.filter(plan=plan, cbo_id__in=provider_ids, status__in=IN_FORCE_STATUSES)
            .select_related("plan", "cbo")
            .prefetch_related("counties", Prefetch("rate_lines", queryset=lines))
        )
        return cls(cbo, plan, list(contracts))

    def coverage(self, service: ServiceCatalogEntry, *, on: date, county: CountyRef = None) -> Coverage:
        """Whether ``service`` is covered on ``on`` (and in ``county``), and by what."""
        if not service.in_effect(on):
            if on < service.effective_from:
                detail = f"it is in use from {human_date(service.effective_from)}"
            else:
                detail = f"it was retired after {human_date(service.effective_to)}"
            return Coverage(
                False,
                CoverageReason.SERVICE_RETIRED,
                f"{service.display} is not in the catalog on {human_date(on)}: {detail}.",
                service=service,
            )
        in_force = [c for c in self.contracts if c.covers_day(on)]
        if not in_force:
            return self._no_contract(service, on)
        failure: Coverage | None = None
        for contract in in_force:
            line = self._lines.get((contract.pk, service.pk))
            version = line.version_on(on) if line else None
            if version is None:
                if failure is None:
                    when = (
                        f" until {human_date(line.first_day)}" if line is not None and line.first_day else ""
                    )
                    failure = Coverage(
                        False,
                        CoverageReason.SERVICE_NOT_COVERED,
                        f"Contract {contract.number} does not cover {service.display}{when}.",
                        service=service,
                        contract=contract,
                        rate_line=line,
                    )
                continue
            if not _county_matches(contract, county):
                if failure is None or failure.reason == CoverageReason.SERVICE_NOT_COVERED:
                    names = ", ".join(c.name for c in contract.counties.all())
                    failure = Coverage(
                        False,
                        CoverageReason.COUNTY_NOT_COVERED,
                        f"Contract {contract.number} covers {names}, not {_county_name(county)}.",
                        service=service,
                        contract=contract,
                        rate_line=line,
                        version=version,
                    )
                continue
            return Coverage(
                True,
                CoverageReason.COVERED,
                f"Covered by contract {contract.number} at ${version.rate} per "
                f"{version.get_unit_display().lower()} (terms from {human_date(version.effective_from)}).",
                service=service,
                contract=contract,
                rate_line=line,
                version=version,
            )
        assert failure is not None
        return failure

    def _no_contract(self, service: ServiceCatalogEntry, on: date) -> Coverage:
        parties = f"{self.plan} and {self.cbo}"
        past = [c for c in self.contracts if c.start_date <= on]
        if past:
            latest = max(past, key=lambda c: c.last_covered_day or on)
            if latest.termination_date and latest.termination_date <= on:
                return Coverage(
                    False,
                    CoverageReason.TERMINATED,
                    f"Contract {latest.number} between {parties} was terminated effective "
                    f"{human_date(latest.termination_date)}.",
                    service=service,
                    contract=latest,
                )
            return Coverage(
                False,
                CoverageReason.EXPIRED,
                f"Contract {latest.number} between {parties} ended on {human_date(latest.last_covered_day)}.",
                service=service,
                contract=latest,
            )
        if self.contracts:
            first = min(self.contracts, key=lambda c: c.start_date)
            return Coverage(
                False,
                CoverageReason.NOT_YET_EFFECTIVE,
                f"Contract {first.number} between {parties} takes effect on {human_date(first.start_date)}.",
                service=service,
                contract=first,
            )
        return Coverage(
            False,
            CoverageReason.NO_CONTRACT,
            f"There is no active contract between {parties}.",
            service=service,
        )

    def price(
        self, service: ServiceCatalogEntry, units: Decimal | int | str, *, on: date, county: CountyRef = None
    ) -> Price:
        """The amount ``units`` of ``service`` pay on ``on``: rate × units, rounded to cents."""
        found = self.coverage(service, on=on, county=county)
        try:
            quantity = Decimal(str(units))
        except (InvalidOperation, ValueError):
            quantity = None
        if quantity is None or not quantity.is_finite() or quantity <= 0:
            return Price(
                found,
                None,
                reason_override=CoverageReason.INVALID_UNITS,
                message_override=f"Units must be a number more than zero (got {units!r}).",
            )
        if not found.covered:
            return Price(found, quantity)
        version = found.version
        assert version is not None
        if version.unit == Unit.DOLLAR:
            quantity = money(quantity)
        return Price(
            found, quantity, rate=version.rate, unit=version.unit, amount=money(version.rate * quantity)
        )


class MemoBook(RateBook):
    """A ``RateBook`` that remembers its answers for one run (a claim build, a scrub): claims repeat
    the same few services and dates thousands of times, and an answer depends only on the service,
    the units, the day and the county."""

    def __init__(self, cbo: Organization, plan: Organization, contracts: Sequence[Contract]) -> None:
        super().__init__(cbo, plan, contracts)
        self._coverage: dict[tuple, Coverage] = {}
        self._price: dict[tuple, Price] = {}

    def coverage(self, service: ServiceCatalogEntry, *, on: date, county: CountyRef = None) -> Coverage:
        key = (service.pk, on, getattr(county, "pk", county))
        found = self._coverage.get(key)
        if found is None:
            found = self._coverage[key] = super().coverage(service, on=on, county=county)
        return found

    def price(
        self, service: ServiceCatalogEntry, units: Decimal | int | str, *, on: date, county: CountyRef = None
    ) -> Price:
        key = (service.pk, units, on, getattr(county, "pk", county))
        found = self._price.get(key)
        if found is None:
            found = self._price[key] = super().price(service, units, on=on, county=county)
        return found


def rate_book(cbo: Organization, plan: Organization) -> RateBook:
    """Everything needed to price any service for ``cbo`` and ``plan`` (four queries, once)."""
    return RateBook.load(cbo, plan)


def offered_services(
    cbo: Organization, plan: Organization, *, on: date, county: CountyRef = None
) -> list[Coverage]:
    """Every catalog service in use on ``on``, each answered as ``coverage`` answers it: what a
    plan may refer a member of ``county`` to ``cbo`` for (covered), and why not (the others)."""
    book = RateBook.load(cbo, plan)
    return [
        book.coverage(service, on=on, county=county) for service in ServiceCatalogEntry.objects.in_effect(on)
    ]


def _unknown(service: ServiceRef, error: UnknownService) -> Coverage:
    return Coverage(False, CoverageReason.UNKNOWN_SERVICE, error.messages[0])


def coverage(
    cbo: Organization, plan: Organization, service: ServiceRef, *, on: date, county: CountyRef = None
) -> Coverage:
    """Is ``service`` covered for ``cbo`` and ``plan`` on ``on`` (and in ``county``)? See the module
    docstring for the rules and reason codes."""
    try:
        entry = resolve_service(service)
    except UnknownService as error:
        return _unknown(service, error)
    return RateBook.load(cbo, plan, services=[entry]).coverage(entry, on=on, county=county)


def price(
    cbo: Organization,
    plan: Organization,
    service: ServiceRef,
    units: Decimal | int | str,
    *,
    on: date,
    county: CountyRef = None,
) -> Price:
    """What ``units`` of ``service`` pay for ``cbo`` under ``plan`` on ``on``."""
    try:
        entry = resolve_service(service)
    except UnknownService as error:
        return Price(_unknown(service, error), None)
    return RateBook.load(cbo, plan, services=[entry]).price(entry, units, on=on, county=county)
