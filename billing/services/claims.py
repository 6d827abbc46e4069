"""Claims: built from billable service deliveries, scrubbed, corrected and voided.

Rules:
* A claim groups one billing provider's deliveries for one plan, member, authorization and month
  of service (by the first day of each delivery), at most 50 lines; a bigger group is split.
* Each line charges units × the contract rate in force on its date of service (the contracts
  ``RateBook``), rounded by ``contracts.money.money``. Diagnosis codes come from the referrals,
  principal first. Modifiers come from the service catalog (plus GQ for telehealth when the
  service allows it).
* The billing provider is the CBO that delivered the service; the submitter is its hub when it
  has one (the hub bills for its member CBOs), otherwise the CBO itself.
* Every claim gets a control number (CLM01) unique per billing provider, every line a line
  control number (REF*6R); see ``control_numbers``.
* A delivery is on at most one live claim line (the database's partial unique constraint). The
  builder locks the deliveries it takes (``skip_locked``), so two coordinators building at once
  each bill different services, and marks them billed in the same transaction.
* New claims are scrubbed at once: draft → held (errors) or ready. The nightly run puts clean
  ones straight into batches (``batches.BatchFiller``): draft → in_batch in the same insert, one
  history row saying both.
"""

from __future__ import annotations

import logging
import operator
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from billing.choices import ClaimFrequency, ClaimStatus
from billing.models import Claim, ClaimLine
from billing.scope import PROVIDER_BILLING_ROLES, billing_scope_q
from billing.services import control_numbers, scrubber
from billing.services.batches import BatchFiller, settle_batches
from billing.services.states import record_claim_history, transition_claim
from cbo_portal import access
from cbo_portal.choices import AuditAction
from cbo_portal.fastpath import among, copy_rows
from cbo_portal.models import County, Organization
from cbo_portal.services import audit
from cbo_portal.words import count
from contracts.models import ServiceCatalogEntry
from contracts.money import ZERO, money
from contracts.selectors import RateBook
from referrals.choices import DeliveryStatus
from referrals.models import Referral, ServiceDelivery
from referrals.services.deliveries import mark_billed, mark_billed_many, mark_unbilled

log = logging.getLogger(__name__)

MAX_LINES = 50
TELEHEALTH_POS = ("02", "10")
RESCRUBBABLE = (ClaimStatus.DRAFT, ClaimStatus.HELD, ClaimStatus.READY, ClaimStatus.REJECTED)
CORRECTABLE = (ClaimStatus.PAID, ClaimStatus.PARTIALLY_PAID, ClaimStatus.DENIED)
# Claims a plan never received: voiding them is a withdrawal, no frequency-8 claim is sent.
UNSENT = (ClaimStatus.DRAFT, ClaimStatus.HELD, ClaimStatus.READY, ClaimStatus.REJECTED)

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


@dataclass
class BuildResult:
    """What a build made: claims and lines, how many ready or held, and why any deliveries
    were left unbilled."""

    claims: int = 0
    lines: int = 0
    ready: int = 0
    held: int = 0
    billed_amount: Decimal = ZERO
    skipped: list[str] = field(default_factory=list)
    claim_ids: list[int] = field(default_factory=list)
    batch_ids: list[int] = field(default_factory=list)

    def merge(self, other: BuildResult) -> None:
        self.claims += other.claims
        self.lines += other.lines
        self.ready += other.ready
        self.held += other.held
        self.billed_amount += other.billed_amount
        self.skipped += other.skipped
        self.claim_ids += other.claim_ids


class _Cache:
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
            self.rate_books[key] = MemoBook(RateBook.load(self.org(cbo_id), self.org(plan_id)))
        return self.rate_books[key]


class MemoBook:
    """A RateBook that remembers its answers for the run: claims repeat the same few services
    and dates thousands of times, and the answer depends only on (service, date, county)."""

    def __init__(self, book: RateBook) -> None:
        self.book = book
        self.contracts = book.contracts
        self._coverage: dict = {}
        self._price: dict = {}

    def coverage(self, service: ServiceCatalogEntry, *, on: date, county: County | None = None):
        key = (service.id, on, county and county.id)
        found = self._coverage.get(key)
        if found is None:
            found = self._coverage[key] = self.book.coverage(service, on=on, county=county)
        return found

    def price(self, service: ServiceCatalogEntry, units, *, on: date, county: County | None = None):
        key = (service.id, units, on, county and county.id)
        found = self._price.get(key)
        if found is None:
            found = self._price[key] = self.book.price(service, units, on=on, county=county)
        return found


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


# What the builder writes; the other columns take the model defaults (see copy_rows).
CLAIM_FIELDS = (
    "billing_provider_id",
    "submitter_id",
    "plan_id",
    "contract_id",
    "member_id",
    "referral_id",
    "authorization_id",
    "service_month",
    "first_service_date",
    "last_service_date",
    "control_number",
    "frequency",
    "replaces_id",
    "payer_claim_number",
    "status",
    "place_of_service",
    "diagnosis_codes",
    "billed_amount",
    "problems",
    "created_by_id",
    "batch_id",
    "transaction_set_control",
)
LINE_FIELDS = (
    "claim_id",
    "line_number",
    "delivery_id",
    "live",
    "line_control_number",
    "service_id",
    "procedure_code",
    "modifiers",
    "service_date",
    "end_date",
    "units",
    "rate",
    "charge",
    "diagnosis_pointers",
    "place_of_service",
)


def _insert(
    model: type[Claim] | type[ClaimLine], fields: Sequence[str], objs: Sequence, *, keys: bool = True
) -> None:
    """Insert drafts or unsaved model instances (``copy_rows``) and give them their keys.
    ``keys=False`` skips reserving keys for drafts nobody reads again (the bulk builder's lines:
    150,000 ``nextval`` calls cost more than a second); model instances always get theirs."""
    if not objs:
        return
    values = operator.attrgetter(*fields)
    if not keys and getattr(objs[0], "_state", None) is None:
        copy_rows(model, fields, list(map(values, objs)))
        return
    ids = copy_rows(model, fields, list(map(values, objs)), return_ids=True)
    now = None
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        state = getattr(obj, "_state", None)
        if state is not None:  # a model instance (one-claim paths): it is saved now
            state.adding = False
            now = now or timezone.now()
            for name in ("created_at", "updated_at"):
                if hasattr(obj, name) and getattr(obj, name) is None:
                    setattr(obj, name, now)


def submitter_for(provider: Organization) -> Organization:
    """Who sends a provider's claims: its hub when it has one, otherwise itself."""
    return provider.hub if provider.hub_id else provider


def billable_deliveries(
    acting_user=None,
    *,
    cbo: Organization | None = None,
    plan: Organization | None = None,
    delivery_ids: Iterable[int] | None = None,
) -> QuerySet:
    """Billable deliveries the user may bill (own CBO or, for a hub, its member CBOs)."""
    qs = ServiceDelivery.objects.billable()
    if acting_user is not None:
        q = billing_scope_q(acting_user, provider="cbo", submitter=None, plan=None)
        if q is not None:
            qs = qs.filter(q)
    if cbo is not None:
        qs = qs.filter(cbo=cbo)
    if plan is not None:
        qs = qs.filter(plan=plan)
    if delivery_ids is not None:
        qs = qs.filter(pk__in=list(delivery_ids))
    return qs


def _line_modifiers(service: ServiceCatalogEntry, place_of_service: str) -> list[str]:
    mods = list(service.modifiers)
    if place_of_service in TELEHEALTH_POS and "GQ" in (service.optional_modifiers or []) and "GQ" not in mods:
        mods.append("GQ")
    return mods[:4]


def _diagnoses(
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


def _make_lines(
    rows: Sequence[Row],
    cache: _Cache,
    county: County | None,
    pointers: dict[int, list[int]],
    make: type = ClaimLine,
) -> list:
    """Priced, unsaved lines for ``rows`` (one provider's for one plan, numbered from 1):
    ``ClaimLine`` instances, or ``LineDraft``s for the bulk builder."""
    lines = []
    book = cache.book(rows[0].cbo_id, rows[0].plan_id) if rows else None
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


def _contract_for(rows: Sequence[Row], cache: _Cache, county: County | None):
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


def _chunks(rows: list[Row], size: int) -> Iterator[list[Row]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _new_claim(
    rows: list[Row], cache: _Cache, members: dict, dx_by_referral: dict, acting_user
) -> tuple[ClaimDraft, list[LineDraft]] | None:
    first = rows[0]
    provider = cache.org(first.cbo_id)
    member_county = members.get(first.member_id)
    county = cache.counties.get(member_county) if member_county else None
    contract = _contract_for(rows, cache, county)
    if contract is None:
        return None
    codes, pointers = _diagnoses(rows, dx_by_referral)
    lines = _make_lines(rows, cache, county, pointers, make=LineDraft)
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


def _scrub(pairs: list[tuple], cache: _Cache, *, today: date | None = None) -> None:
    """Scrub new claims (drafts or unsaved ``Claim``s with their lines): each becomes held (with
    its problems) or ready."""
    lookups = scrubber.load_lookups(pairs, rate_books=cache.rate_books, services=cache.services, today=today)
    lookups.orgs.update(cache.orgs)
    for claim, lines in pairs:
        problems = scrubber.scrub_one(claim, lines, lookups)
        claim.problems = [p.as_dict() for p in problems]
        claim.status = ClaimStatus.HELD if scrubber.has_errors(problems) else ClaimStatus.READY


def _by_provider(pairs: Iterable[tuple]) -> dict[int, list]:
    by_provider: dict[int, list] = defaultdict(list)
    for claim, _lines in pairs:
        by_provider[claim.billing_provider_id].append(claim)
    return by_provider


def _reserve_numbers(pairs: Iterable[tuple]) -> dict[int, list[str]]:
    """Claim control numbers for ``pairs``, per billing provider (see ``_save``)."""
    return {pk: control_numbers.claim_numbers(pk, len(claims)) for pk, claims in _by_provider(pairs).items()}


def _save(
    pairs: list[tuple], *, acting_user, reason: str, numbers: dict[int, list[str]] | None = None
) -> BuildResult:
    """Number scrubbed claims, insert them — held, ready or in a batch, as the scrubber and the
    filler decided — and their lines, and record each claim's history rows; in bulk, in the
    caller's transaction. ``numbers``: control numbers reserved beforehand (a chunk takes them
    before its transaction, so that two shards' chunks never wait for each other on the counter); any
    left over are skipped, as the counters' rule allows."""
    for provider_id, claims in _by_provider(pairs).items():
        reserved = (numbers or {}).get(provider_id, [])
        if len(reserved) < len(claims):
            reserved = control_numbers.claim_numbers(provider_id, len(claims))
        for claim, number in zip(claims, reserved, strict=False):
            claim.control_number = number
    _insert(Claim, CLAIM_FIELDS, [c for c, _ in pairs])
    all_lines = []
    for claim, lines in pairs:
        for ln in lines:
            ln.claim_id = claim.pk
            ln.line_control_number = control_numbers.line_control_number(claim.control_number, ln.line_number)
            all_lines.append(ln)
    _insert(ClaimLine, LINE_FIELDS, all_lines, keys=False)
    held = [c.pk for c, _ in pairs if c.status == ClaimStatus.HELD]
    ready = [c.pk for c, _ in pairs if c.status == ClaimStatus.READY]
    batched: dict[int, list[int]] = defaultdict(list)
    for claim, _lines in pairs:
        if claim.status == ClaimStatus.IN_BATCH:
            batched[claim.batch_id].append(claim.pk)
    if held:
        record_claim_history(
            held,
            ClaimStatus.DRAFT,
            ClaimStatus.HELD,
            acting_user=acting_user,
            reason=f"{reason}: the scrubber found problems",
        )
    if ready:
        record_claim_history(
            ready, ClaimStatus.DRAFT, ClaimStatus.READY, acting_user=acting_user, reason=f"{reason}: clean"
        )
    for batch_id, ids in batched.items():  # one history row for the one insert that did both
        record_claim_history(
            ids,
            ClaimStatus.DRAFT,
            ClaimStatus.IN_BATCH,
            acting_user=acting_user,
            reason=f"{reason}: clean; put in batch {batch_id}",
        )
    return BuildResult(
        claims=len(pairs),
        lines=len(all_lines),
        held=len(held),
        ready=len(ready) + sum(map(len, batched.values())),
        billed_amount=sum((c.billed_amount for c, _ in pairs), ZERO),
        claim_ids=[c.pk for c, _ in pairs],
    )


@dataclass
class _Chunk:
    """One chunk of deliveries (whole groups) turned into scrubbed claim drafts, not yet saved."""

    rows: list[Row]
    pairs: list[tuple[ClaimDraft, list[LineDraft]]]
    skipped: list[str]


def _prepare(rows: list[Row], cache: _Cache, *, acting_user, today: date | None) -> _Chunk:
    """Group, price and scrub a chunk of deliveries (database reads only)."""
    cache.load_orgs({r.cbo_id for r in rows} | {r.plan_id for r in rows})
    dx_by_referral = dict(
        Referral.objects.filter(among("pk", {r.referral_id for r in rows})).values_list(
            "pk", "diagnosis_codes"
        )
    )
    from referrals.models import Member

    members = dict(
        Member.objects.filter(among("pk", {r.member_id for r in rows})).values_list("pk", "county_id")
    )
    groups: dict[tuple, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.group_key, []).append(row)
    pairs = []
    skipped: list[str] = []
    for group in groups.values():
        group.sort(key=lambda r: (r.service_date, r.pk))
        for chunk in _chunks(group, MAX_LINES):
            made = _new_claim(chunk, cache, members, dx_by_referral, acting_user)
            if made is None:
                skipped.append(
                    f"{count(len(chunk), 'service')} of {cache.org(chunk[0].cbo_id)} for {cache.org(chunk[0].plan_id)}: "
                    "there is no contract between them."
                )
                continue
            pairs.append(made)
    if pairs:
        _scrub(pairs, cache, today=today)
    return _Chunk(rows, pairs, skipped)


def _commit(
    chunk: _Chunk,
    cache: _Cache,
    *,
    acting_user,
    today: date | None,
    filler: BatchFiller | None = None,
    on_chunk: ChunkHook | None = None,
) -> BuildResult:
    """Save a prepared chunk: reserve its control numbers (and ST02s), then in one transaction
    lock its deliveries (``skip_locked``), put the ready claims in batches (with a ``filler``),
    insert the claims, stamp the deliveries billed, audit. Deliveries another build took or that
    were changed meanwhile drop out, and the chunk is prepared again from the rest."""
    numbers = _reserve_numbers(chunk.pairs)
    sets = filler.reserve(claim for claim, _lines in chunk.pairs) if filler is not None else {}
    with transaction.atomic():
        seen = {r.pk: r for r in chunk.rows}
        current = [
            Row(*values)
            for values in ServiceDelivery.objects.select_for_update(skip_locked=True)
            .filter(among("pk", seen), billed_at__isnull=True, status=DeliveryStatus.LOGGED)
            .values_list(*DELIVERY_FIELDS)
        ]
        if len(current) != len(seen) or any(seen[r.pk] != r for r in current):
            chunk = _prepare(
                sorted(current, key=operator.attrgetter(*BUILD_ORDER)),
                cache,
                acting_user=acting_user,
                today=today,
            )
        if not chunk.pairs:
            result = BuildResult(skipped=chunk.skipped)
            if on_chunk is not None:
                on_chunk(result, len(seen))
            return result
        if filler is not None:
            filler.place((claim for claim, _lines in chunk.pairs), sets)
        result = _save(
            chunk.pairs, acting_user=acting_user, reason="Built from logged services", numbers=numbers
        )
        result.skipped = chunk.skipped
        billed_ids = [ln.delivery_id for _claim, lines in chunk.pairs for ln in lines]
        _mark_billed(billed_ids, acting_user=acting_user)
        audit.record(
            actor=acting_user,
            action=AuditAction.CREATE,
            object_type="billing.Claim",
            organization=cache.org(chunk.pairs[0][0].submitter_id),
            summary=f"Built {count(result.claims, 'claim')} ({result.ready} ready, {result.held} held) from {count(len(billed_ids), 'service')}",
            changes={"claims": result.claims, "held": result.held, "ready": result.ready},
        )
        if on_chunk is not None:
            on_chunk(result, len(seen))
        return result


def _mark_billed(delivery_ids: list[int], *, acting_user) -> None:
    """Stamp the deliveries billed: interactive builds through referrals' ``mark_billed``, which
    re-checks and audits each row; big runs, whose rows this transaction already locked and
    checked billable, through its set-based ``mark_billed_many``."""
    if len(delivery_ids) <= 500:
        mark_billed(delivery_ids, acting_user=acting_user)
    else:
        mark_billed_many(delivery_ids)


def require_builder(acting_user) -> None:
    """Claims are built by a CBO's or hub's billing coordinators and admins (and platform admins;
    ``None`` is the nightly run)."""
    if acting_user is not None and not (
        access.is_platform_admin(acting_user)
        or access.org_ids_with_roles(acting_user, PROVIDER_BILLING_ROLES)
    ):
        raise PermissionDenied("Only a billing coordinator or an admin of a CBO or hub may build claims.")


# Told, inside each chunk's transaction, what the chunk made and how many services it went through.
ChunkHook = Callable[[BuildResult, int], None]


def build_claims(
    *,
    acting_user,
    cbo: Organization | None = None,
    plan: Organization | None = None,
    delivery_ids: Iterable[int] | None = None,
    chunk_size: int = 4000,
    today: date | None = None,
    keep_ids: bool = True,
    into_batches: bool = False,
    shard: Shard | None = None,
    on_chunk: ChunkHook | None = None,
) -> BuildResult:
    """Turn every billable delivery the user may bill (optionally one CBO's, one plan's, or the
    given ids) into scrubbed claims; see the module docstring for the rules. ``acting_user=None``
    is the nightly task. Streams the deliveries in grouping order and commits every
    ``chunk_size`` deliveries (whole members), so memory stays bounded and a crash loses at most
    the chunk being committed (its deliveries stay billable).

    ``shard``: only the members of that shard (``Shard``); the nightly run builds its shards as
    Celery tasks side by side (``billing.tasks.build_shard``). The duplicate and cap checks only
    ever compare one member's lines, so no shard needs another's. Running a shard again bills
    only what is still billable, so a shard a killed worker left half-done is simply redone.

    ``into_batches``: ready claims go straight into batches (``batches.BatchFiller``), the open
    batches of ``shard.run`` when sharded (the shards of one run fill the same ones; the run's
    callback settles them), else of a run of its own, settled here. Their ids are in
    ``batch_ids``, each still to be written.

    ``on_chunk``: called in each chunk's transaction with what it made and how many services it
    went through (a build's progress, ``billing.services.builds``)."""
    require_builder(acting_user)
    qs = billable_deliveries(acting_user, cbo=cbo, plan=plan, delivery_ids=delivery_ids)
    if shard is not None:
        qs = shard.of(qs)
    filler = BatchFiller(acting_user, shard.run if shard else None) if into_batches else None
    cache = _Cache()
    total = BuildResult()

    def commit(rows: list[Row]) -> None:
        chunk = _prepare(rows, cache, acting_user=acting_user, today=today)
        total.merge(
            _commit(chunk, cache, acting_user=acting_user, today=today, filler=filler, on_chunk=on_chunk)
        )
        if not keep_ids:
            total.claim_ids = []

    pending: list[Row] = []
    last_member = None
    for values in qs.order_by(*BUILD_ORDER).values_list(*DELIVERY_FIELDS).iterator(chunk_size=5000):
        row = Row(*values)
        member = (row.cbo_id, row.plan_id, row.member_id)
        if len(pending) >= chunk_size and member != last_member:
            commit(pending)
            pending = []
        pending.append(row)
        last_member = member
    if pending:
        commit(pending)
    if filler is not None:
        total.batch_ids = filler.batch_ids
        if shard is None:
            settle_batches(total.batch_ids)
    return total


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` of one build ``run``: the members whose id is ``index``
    modulo ``count``. A member's deliveries are always in one shard."""

    run: uuid.UUID
    index: int
    count: int

    def of(self, deliveries: QuerySet) -> QuerySet:
        return deliveries.alias(shard=F("member_id") % self.count).filter(shard=self.index)


# --------------------------------------------------------------------------- one claim at a time


def _rows_for(claim: Claim) -> list[Row]:
    """The claim's deliveries as they are now (current source data), in line order."""
    delivery_ids = list(claim.lines.order_by("line_number").values_list("delivery_id", flat=True))
    found = {
        v[0]: Row(*v)
        for v in ServiceDelivery.objects.filter(pk__in=delivery_ids).values_list(*DELIVERY_FIELDS)
    }
    return [found[d] for d in delivery_ids if d in found]


def _refreshed(claim: Claim, cache: _Cache) -> tuple[list[Row], list[ClaimLine], dict]:
    rows = _rows_for(claim)
    from referrals.models import Member

    member = Member.objects.get(pk=claim.member_id)
    county = cache.counties.get(member.county_id) if member.county_id else None
    dx = dict(
        Referral.objects.filter(pk__in={r.referral_id for r in rows}).values_list("pk", "diagnosis_codes")
    )
    codes, pointers = _diagnoses(rows, dx)
    lines = _make_lines(rows, cache, county, pointers)
    fields = {"diagnosis_codes": codes}
    if rows:
        contract = _contract_for(rows, cache, county)
        fields.update(
            authorization_id=rows[0].authorization_id,
            place_of_service=rows[0].place_of_service,
            first_service_date=min(r.service_date for r in rows),
            last_service_date=max(r.end_date or r.service_date for r in rows),
            billed_amount=money(sum((ln.charge for ln in lines), ZERO)),
            **({"contract": contract} if contract is not None else {}),
        )
    return rows, lines, fields


@transaction.atomic
def rescrub_claim(claim: Claim, *, acting_user, today: date | None = None) -> Claim:
    """Re-read the claim's source data (deliveries, referral diagnoses, authorization, contract
    rates), re-price its lines and scrub it again: errors → held, otherwise → ready. Only claims
    the plan has not received (draft, held, ready, rejected) can be re-scrubbed. A rejected claim
    leaves the batch the plan refused it in, so the next batch sends it again (its history keeps
    which batch that was)."""
    require_biller(acting_user, claim)
    claim = Claim.objects.select_for_update().get(pk=claim.pk)
    if claim.status not in RESCRUBBABLE:
        raise ValidationError(
            f"Claim {claim.control_number} is {claim.get_status_display().lower()}; only claims not yet sent "
            "(or rejected) can be re-scrubbed. Correct or void it instead."
        )
    cache = _Cache()
    _rows, lines, fields = _refreshed(claim, cache)
    for name, value in fields.items():
        setattr(claim, name, value)
    existing = {ln.delivery_id: ln for ln in claim.lines.all()}
    for ln in lines:
        old = existing[ln.delivery_id]
        ln.pk, ln.claim_id, ln.line_control_number, ln.live = (
            old.pk,
            claim.pk,
            old.line_control_number,
            old.live,
        )
    lookups = scrubber.load_lookups(
        [(claim, lines)],
        rate_books=cache.rate_books,
        services=cache.services,
        today=today,
        exclude_claim_ids=[claim.pk],
    )
    problems = scrubber.scrub_one(claim, lines, lookups)
    claim.problems = [p.as_dict() for p in problems]
    if claim.status == ClaimStatus.REJECTED:
        claim.batch, claim.transaction_set_control = None, ""
    ClaimLine.objects.bulk_update(
        lines,
        [
            "line_number",
            "procedure_code",
            "modifiers",
            "service_date",
            "end_date",
            "units",
            "rate",
            "charge",
            "diagnosis_pointers",
            "place_of_service",
        ],
    )
    claim.save()
    target = ClaimStatus.HELD if scrubber.has_errors(problems) else ClaimStatus.READY
    errors = sum(1 for p in problems if p.severity == scrubber.ERROR)
    reason = f"Re-scrubbed: {count(errors, 'problem')} to fix" if errors else "Re-scrubbed: clean"
    return transition_claim(claim, target, acting_user=acting_user, reason=reason)


def rescrub_held(*, acting_user=None, claims: QuerySet | None = None) -> int:
    """Re-scrub every held claim (the nightly run, after source data was fixed). Returns how
    many became ready."""
    qs = claims if claims is not None else Claim.objects.filter(status=ClaimStatus.HELD)
    cleared = 0
    for claim in qs.filter(status=ClaimStatus.HELD).iterator():
        if rescrub_claim(claim, acting_user=acting_user).status == ClaimStatus.READY:
            cleared += 1
    return cleared


def require_biller(acting_user, claim: Claim) -> None:
    """Billing writes are for the provider's, its hub's or the submitter's billing coordinators
    and admins (``None`` = a system task)."""
    if acting_user is None or access.is_platform_admin(acting_user):
        return
    billers = access.org_ids_with_roles(acting_user, PROVIDER_BILLING_ROLES)
    provider = claim.billing_provider
    if not billers.intersection({provider.pk, provider.hub_id, claim.submitter_id} - {None}):
        raise PermissionDenied("Only the provider's billing coordinator or admin may change its claims.")


def _successor(original: Claim, frequency: str, payer_number: str, *, acting_user) -> Claim:
    """An unsaved draft that follows ``original`` with the plan (a replacement, frequency 7, or a
    void, frequency 8): the same provider, member, services and amounts, pointing at the plan's
    claim number. Its control number is given by the caller."""
    return Claim(
        billing_provider_id=original.billing_provider_id,
        submitter_id=original.submitter_id,
        plan_id=original.plan_id,
        contract_id=original.contract_id,
        member_id=original.member_id,
        referral_id=original.referral_id,
        authorization_id=original.authorization_id,
        service_month=original.service_month,
        first_service_date=original.first_service_date,
        last_service_date=original.last_service_date,
        control_number="",
        frequency=frequency,
        replaces=original,
        payer_claim_number=payer_number,
        place_of_service=original.place_of_service,
        diagnosis_codes=original.diagnosis_codes,
        billed_amount=original.billed_amount,
        created_by=acting_user,
        status=ClaimStatus.DRAFT,
    )


def _payer_claim_number(claim: Claim, what: str) -> str:
    number = (claim.payer_claim_number or "").strip()
    if not number:
        raise ValidationError(
            f"Claim {claim.control_number} has no plan claim number yet (it comes with the 835), so it cannot be "
            f"{what}. Wait for the remittance, or ask the plan for its claim number."
        )
    return number


@dataclass
class CorrectionPreview:
    """What a correct-and-resubmit would send now: the replacement's lines re-priced from the
    current source data, its diagnoses and total, and what the scrubber would hold it for."""

    lines: list[ClaimLine]
    diagnosis_codes: list[str]
    billed_amount: Decimal
    problems: list[dict]


def preview_correction(claim: Claim) -> CorrectionPreview:
    """The replacement ``correct_claim`` would make, built and scrubbed but not saved (reads only).
    The original's own lines do not count as duplicates: the correction takes them off."""
    cache = _Cache()
    _rows, lines, fields = _refreshed(claim, cache)
    trial = Claim(
        billing_provider_id=claim.billing_provider_id,
        submitter_id=claim.submitter_id,
        plan_id=claim.plan_id,
        contract_id=claim.contract_id,
        member_id=claim.member_id,
        referral_id=claim.referral_id,
        authorization_id=claim.authorization_id,
        service_month=claim.service_month,
        first_service_date=claim.first_service_date,
        last_service_date=claim.last_service_date,
        frequency=ClaimFrequency.REPLACEMENT,
        place_of_service=claim.place_of_service,
        diagnosis_codes=claim.diagnosis_codes,
        billed_amount=claim.billed_amount,
    )
    for name, value in fields.items():
        setattr(trial, name, value)
    lookups = scrubber.load_lookups(
        [(trial, lines)], rate_books=cache.rate_books, services=cache.services, exclude_claim_ids=[claim.pk]
    )
    problems = [p.as_dict() for p in scrubber.scrub_one(trial, lines, lookups)]
    for ln in lines:
        ln.service = cache.services.get(ln.service_id)
    return CorrectionPreview(lines, list(trial.diagnosis_codes or []), trial.billed_amount, problems)


@transaction.atomic
def correct_claim(claim: Claim, *, acting_user, reason: str = "") -> Claim:
    """Replace an adjudicated claim (paid, partially paid or denied) with a frequency-7 claim that
    carries the plan's claim number (REF*F8). Its lines bill the same deliveries, re-priced and
    re-scrubbed from the current source data; the original becomes ``corrected`` (its lines stop
    being live) and the replacement ``ready`` or ``held``. Returns the replacement."""
    require_biller(acting_user, claim)
    original = Claim.objects.select_for_update().select_related("billing_provider").get(pk=claim.pk)
    if original.status not in CORRECTABLE:
        raise ValidationError(
            f"Claim {original.control_number} is {original.get_status_display().lower()}; only paid, partially paid "
            "or denied claims are corrected. Re-scrub a held or rejected claim instead."
        )
    payer_number = _payer_claim_number(original, "corrected")
    transition_claim(
        original,
        ClaimStatus.CORRECTED,
        acting_user=acting_user,
        reason=reason or "Replaced by a corrected claim",
    )
    cache = _Cache()
    rows, lines, fields = _refreshed(original, cache)
    replacement = _successor(original, ClaimFrequency.REPLACEMENT, payer_number, acting_user=acting_user)
    for name, value in fields.items():
        setattr(replacement, name, value)
    cache.load_orgs([original.billing_provider_id, original.submitter_id, original.plan_id])
    _scrub([(replacement, lines)], cache)
    _save([(replacement, lines)], acting_user=acting_user, reason=f"Replaces claim {original.control_number}")
    audit.record(
        actor=acting_user,
        action=AuditAction.CREATE,
        obj=replacement,
        organization=original.billing_provider,
        summary=f"Claim {original.control_number} corrected by {replacement.control_number}",
        changes={"replaces": original.control_number, "reason": reason},
    )
    claim.status = ClaimStatus.CORRECTED
    return replacement


@transaction.atomic
def void_claim(claim: Claim, *, acting_user, reason: str = "", rebill: bool = True) -> Claim:
    """Void a claim and, when ``rebill`` (the same service is to be billed again on a new claim),
    free its deliveries for billing again; otherwise they stay marked billed, so no build bills
    them again (logged by mistake, or not owed).

    A claim the plan adjudicated (paid, partially paid, denied) is voided by sending a
    frequency-8 claim with the plan's claim number (REF*F8) and copies of its lines (not live);
    the void claim is ``ready`` to go in the next batch and is returned. A claim the plan never
    received (held, ready, rejected) is simply withdrawn and returned. Either way the original
    becomes ``voided`` and its deliveries are unbilled."""
    require_biller(acting_user, claim)
    original = Claim.objects.select_for_update().select_related("billing_provider").get(pk=claim.pk)
    sent = original.status in CORRECTABLE
    if not sent and original.status not in UNSENT:
        raise ValidationError(
            f"Claim {original.control_number} is {original.get_status_display().lower()}; wait for the plan's "
            "decision before voiding it."
        )
    payer_number = _payer_claim_number(original, "voided") if sent else ""
    delivery_ids = list(original.lines.values_list("delivery_id", flat=True))
    lines = list(original.lines.order_by("line_number"))
    default = (
        "Voided; the service goes back to billing"
        if rebill
        else "Voided; the service is not to be billed again"
    )
    transition_claim(original, ClaimStatus.VOIDED, acting_user=acting_user, reason=reason or default)
    if rebill:
        mark_unbilled(delivery_ids, acting_user=acting_user)
    claim.status = ClaimStatus.VOIDED
    if not sent:
        return original
    void = _successor(original, ClaimFrequency.VOID, payer_number, acting_user=acting_user)
    void.control_number = control_numbers.claim_numbers(original.billing_provider_id, 1)[0]
    void.save()
    ClaimLine.objects.bulk_create(
        [
            ClaimLine(
                claim=void,
                line_number=ln.line_number,
                delivery_id=ln.delivery_id,
                live=False,
                line_control_number=control_numbers.line_control_number(void.control_number, ln.line_number),
                service_id=ln.service_id,
                procedure_code=ln.procedure_code,
                modifiers=ln.modifiers,
                service_date=ln.service_date,
                end_date=ln.end_date,
                units=ln.units,
                rate=ln.rate,
                charge=ln.charge,
                diagnosis_pointers=ln.diagnosis_pointers,
                place_of_service=ln.place_of_service,
            )
            for ln in lines
        ]
    )
    transition_claim(
        void,
        ClaimStatus.READY,
        acting_user=acting_user,
        reason=f"Asks the plan to cancel claim {original.control_number}",
    )
    audit.record(
        actor=acting_user,
        action=AuditAction.CREATE,
        obj=void,
        organization=original.billing_provider,
        summary=f"Claim {original.control_number} voided by {void.control_number}",
        changes={"voids": original.control_number, "reason": reason, "rebill": rebill},
    )
    void.refresh_from_db()
    return void
