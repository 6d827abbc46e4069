"""From service deliveries to priced, unsaved claims: grouping, the contract, rates, diagnoses and
modifiers. Reads only."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from billing.choices import ClaimFrequency, ClaimStatus
from billing.models import ClaimLine
from cbo_portal.models import County, Organization
from contracts.models import ServiceCatalogEntry
from contracts.money import ZERO, money
from contracts.selectors import MemoBook

MAX_LINES = 50
TELEHEALTH_POS = ("02", "10")

# Deliveries are read in this order (the unbilled index's), so groups and members come whole.
BUILD_ORDER = ("cbo_id", "plan_id", "member_id", "authorization_id", "service_date", "pk")
DELIVERY_FIELDS = (
    "pk",
    "cbo_id",
    "plan_id",
    "member_id",
    "authorization_id",
    "referral_id",
    "service_id",
    "service_date",
    "end_date",
    "units",
    "place_of_service",
)


class Row(NamedTuple):
    """A service delivery as the builder reads it (a database tuple, no model instance)."""

    pk: int
    cbo_id: int
    plan_id: int
    member_id: int
    authorization_id: int | None
    referral_id: int
    service_id: int
    service_date: date
    end_date: date | None
    units: Decimal
    place_of_service: str

    @property
    def group_key(self) -> tuple:
        return (
            self.cbo_id,
            self.plan_id,
            self.member_id,
            self.authorization_id,
            self.service_date.year,
            self.service_date.month,
        )


class BuildCache:
    """Per-run caches: organizations, catalog, counties, rate books, referral diagnoses."""

    def __init__(self) -> None:
        self.orgs: dict[int, Organization] = {}
        self.services: dict[int, ServiceCatalogEntry] = ServiceCatalogEntry.objects.in_bulk()
        self.counties: dict[int, County] = County.objects.in_bulk()
        self.rate_books: dict[tuple[int, int], MemoBook] = {}
        self._modifiers: dict[tuple[int, str], list[str]] = {}

    def org(self, pk: int) -> Organization:
        if pk not in self.orgs:
            self.orgs[pk] = Organization.objects.select_related("hub").get(pk=pk)
        return self.orgs[pk]

    def load_orgs(self, ids: Iterable[int]) -> None:
        missing = set(ids) - set(self.orgs)
        if missing:
            self.orgs.update(Organization.objects.select_related("hub").in_bulk(missing))

    def modifiers(self, service: ServiceCatalogEntry, place_of_service: str) -> list[str]:
        """A line's modifiers (``_line_modifiers``), one list per service and place of service
        for the run: lines only read it."""
        key = (service.pk, place_of_service)
        found = self._modifiers.get(key)
        if found is None:
            found = self._modifiers[key] = _line_modifiers(service, place_of_service)
        return found

    def book(self, cbo_id: int, plan_id: int) -> MemoBook:
        key = (cbo_id, plan_id)
        if key not in self.rate_books:
            self.rate_books[key] = MemoBook.load(self.org(cbo_id), self.org(plan_id))
        return self.rate_books[key]


@dataclass(slots=True)
class ClaimDraft:
    """A new claim as the bulk builder holds it until COPY writes it: the ``Claim`` model's
    attribute names, no model instance (building 100,000 model instances costs more than
    inserting the rows). The scrubber's checks read the same attributes from either."""

    billing_provider_id: int
    submitter_id: int
    plan_id: int
    contract_id: int
    member_id: int
    referral_id: int | None
    authorization_id: int | None
    service_month: date
    first_service_date: date
    last_service_date: date
    place_of_service: str
    diagnosis_codes: list[str]
    billed_amount: Decimal
    created_by_id: int | None
    control_number: str = ""
    frequency: str = ClaimFrequency.ORIGINAL
    replaces_id: int | None = None
    payer_claim_number: str = ""
    status: str = ClaimStatus.DRAFT
    problems: list = field(default_factory=list)
    batch_id: int | None = None
    transaction_set_control: str = ""
    pk: int | None = None


@dataclass(slots=True)
class LineDraft:
    """A new claim line before COPY (the ``ClaimLine`` model's attribute names)."""

    line_number: int
    delivery_id: int
    service_id: int
    procedure_code: str
    modifiers: list[str]
    service_date: date
    end_date: date | None
    units: Decimal
    rate: Decimal
    charge: Decimal
    diagnosis_pointers: list[int]
    place_of_service: str
    line_control_number: str = ""
    claim_id: int | None = None
    live: bool = True
    pk: int | None = None


def submitter_for(provider: Organization) -> Organization:
    """Who sends a provider's claims: its hub when it has one, otherwise itself."""
    return provider.hub if provider.hub is not None else provider


def _line_modifiers(service: ServiceCatalogEntry, place_of_service: str) -> list[str]:
    mods = list(service.modifiers)
    if place_of_service in TELEHEALTH_POS and "GQ" in (service.optional_modifiers or []) and "GQ" not in mods:
        mods.append("GQ")
    return mods[:4]


def claim_diagnoses(
    rows: Sequence[Row], dx_by_referral: dict[int, list[str]]
) -> tuple[list[str], dict[int, list[int]]]:
    """The claim's codes (each referral's in order, no repeats, principal first) and each line's
    pointers (1-based, at most 4): the pointers to its referral's codes."""
    codes: list[str] = []
    by_referral: dict[int, list[int]] = {}
    for referral_id in dict.fromkeys(row.referral_id for row in rows):
        mine = []
        for code in dx_by_referral.get(referral_id, []):
            code = (code or "").strip().upper()
            if not code:
                continue
            if code not in codes:
                codes.append(code)
            mine.append(codes.index(code) + 1)
        by_referral[referral_id] = [p for p in dict.fromkeys(mine) if p <= 12][:4]
    return codes, {row.pk: by_referral[row.referral_id] for row in rows}


def priced_lines(
    rows: Sequence[Row],
    cache: BuildCache,
    county: County | None,
    pointers: dict[int, list[int]],
    make: type = ClaimLine,
) -> list:
    """Priced, unsaved lines for ``rows`` (one provider's for one plan, numbered from 1):
    ``ClaimLine`` instances, or ``LineDraft``s for the bulk builder."""
    if not rows:
        return []
    lines = []
    book = cache.book(rows[0].cbo_id, rows[0].plan_id)
    for number, row in enumerate(rows, start=1):
        service = cache.services[row.service_id]
        price = book.price(service, row.units, on=row.service_date, county=county)
        lines.append(
            make(
                line_number=number,
                delivery_id=row.pk,
                service_id=row.service_id,
                procedure_code=service.code,
                modifiers=cache.modifiers(service, row.place_of_service),
                service_date=row.service_date,
                end_date=row.end_date if row.end_date and row.end_date != row.service_date else None,
                units=row.units,
                rate=price.rate or Decimal(0),
                charge=price.amount or ZERO,
                diagnosis_pointers=pointers.get(row.pk) or [1],
                place_of_service=row.place_of_service,
            )
        )
    return lines


def contract_for(rows: Sequence[Row], cache: BuildCache, county: County | None):
    """The contract the claim bills under: the one covering its first service; failing that the
    provider's (or hub's) contract with the plan, so the claim can be held with the reason."""
    book = cache.book(rows[0].cbo_id, rows[0].plan_id)
    for row in rows:
        cov = book.coverage(cache.services[row.service_id], on=row.service_date, county=county)
        if cov.contract is not None and cov.covered:
            return cov.contract
    for row in rows:
        cov = book.coverage(cache.services[row.service_id], on=row.service_date, county=county)
        if cov.contract is not None:
            return cov.contract
    return book.contracts[0] if book.contracts else None


def split_lines(rows: list[Row], size: int) -> Iterator[list[Row]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def draft_claim(
    rows: list[Row], cache: BuildCache, members: dict, dx_by_referral: dict, acting_user
) -> tuple[ClaimDraft, list[LineDraft]] | None:
    first = rows[0]
    provider = cache.org(first.cbo_id)
    member_county = members.get(first.member_id)
    county = cache.counties.get(member_county) if member_county else None
    contract = contract_for(rows, cache, county)
    if contract is None:
        return None
    codes, pointers = claim_diagnoses(rows, dx_by_referral)
    lines = priced_lines(rows, cache, county, pointers, make=LineDraft)
    claim = ClaimDraft(
        billing_provider_id=provider.pk,
        submitter_id=submitter_for(provider).pk,
        plan_id=first.plan_id,
        contract_id=contract.pk,
        member_id=first.member_id,
        referral_id=first.referral_id,
        authorization_id=first.authorization_id,
        service_month=first.service_date.replace(day=1),
        first_service_date=min(r.service_date for r in rows),
        last_service_date=max(r.end_date or r.service_date for r in rows),
        place_of_service=first.place_of_service,
        diagnosis_codes=codes,
        billed_amount=money(sum((ln.charge for ln in lines), ZERO)),
        created_by_id=getattr(acting_user, "pk", None),
    )
    return claim, lines
