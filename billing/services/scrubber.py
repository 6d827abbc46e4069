"""The claim scrubber: everything a plan would deny a claim for, found before it leaves.

Each check is a small function ``check(claim, lines, lookups) -> Iterable[Problem]`` that reads
only the claim, its lines and the pre-fetched ``Lookups`` (no queries), so thousands of claims
are scrubbed in memory. A ``Problem`` says in plain language what is wrong and how to fix it.
Errors hold the claim (``held``); warnings alone let it through (``ready``). Fixing the source
data (organization profile, member record, authorization, contract) and re-scrubbing clears it.

Checks, in order: billing provider NPI (check digit), TIN, taxonomy, street address with ZIP+4;
the plan's claim-submission settings; member CIN, name, date of birth, address; enrollment with
the plan on each date of service; authorization present (when the contract requires it),
granted (approved, or since used up or ended), matching member/plan/service, covering the dates,
with the units; service covered by the contract on the date with a rate; modifiers; diagnosis
present and well formed; place of service valid; units within the contract's caps; duplicate of a
service already billed; timely filing (past the contract's limit: error; within 14 days of it:
warning); a charge above zero.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from operator import itemgetter
from typing import Literal, NamedTuple

from django.utils import timezone

from billing.choices import ProblemSeverity
from billing.models import Claim, ClaimLine
from billing.x12.common import basic_text, clean_text
from cbo_portal import identifiers
from cbo_portal.fastpath import among
from cbo_portal.models import County, Organization
from contracts.models import Contract, ServiceCatalogEntry
from contracts.models.contracts import human_date
from contracts.selectors import MemoBook, RateBook
from referrals.choices import USABLE_AUTHORIZATION, AuthorizationStatus, PlaceOfService
from referrals.models import Authorization, Enrollment, Member
from referrals.selectors import EnrollmentIndex

ERROR, WARNING = ProblemSeverity.ERROR.value, ProblemSeverity.WARNING.value
TIMELY_FILING_WARNING_DAYS = 14
# An authorization the plan granted stays good for the services it covered once its units are
# used up (exhausted: the very services being billed used them) or its last day has passed
# (expired): dates and units are checked line by line below. Only requested or denied ones hold.
BILLABLE_AUTHORIZATION = (*USABLE_AUTHORIZATION, AuthorizationStatus.EXHAUSTED, AuthorizationStatus.EXPIRED)
_PO_BOX = re.compile(r"\b(?:P\.?\s*O\.?\s*BOX|POST\s+OFFICE\s+BOX|POB)\b", re.IGNORECASE)
_ZIP9 = re.compile(r"^\d{5}-?\d{4}$")
_ZIP = re.compile(r"^\d{5}(?:-?\d{4})?$")
_VALID_POS = frozenset(PlaceOfService.values)


@dataclass(frozen=True)
class Problem:
    """One finding: a stable ``code``, ``severity`` (error holds the claim, warning does not),
    what is wrong (``message``) and what to do about it (``fix``); ``line`` is the line number
    when the problem is on one service line."""

    code: str
    severity: str
    message: str
    fix: str
    line: int | None = None

    def as_dict(self) -> dict:
        # What dataclasses.asdict gives, without its deep copy (called for every claim built).
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "fix": self.fix,
            "line": self.line,
        }


def has_errors(problems: Iterable[Problem | dict]) -> bool:
    return any((p.severity if isinstance(p, Problem) else p.get("severity")) == ERROR for p in problems)


# --------------------------------------------------------------------------- lookups
class MemberRow(NamedTuple):
    """The member fields the checks read (a database tuple: no model instance per member)."""

    pk: int
    cin: str
    first_name: str
    last_name: str
    dob: date | None
    street: str
    city: str
    zip: str
    county_id: int | None


@dataclass
class BilledIndex:
    """Running totals of the live claim lines counted (the claims scrubbed and those already
    billed), in delivery order, per (member, service, day), (member, service,
    month) and authorization: a line breaks a cap when the total up to and including it is over.
    A delivery is billed on one live line, so each total is kept under the line's delivery id;
    ``repeats`` holds the deliveries of a (member, service, day) that an earlier delivery has."""

    repeats: set[int] = field(default_factory=set)
    per_day: dict[int, Decimal] = field(default_factory=dict)
    per_month: dict[int, Decimal] = field(default_factory=dict)
    per_auth: dict[int, Decimal] = field(default_factory=dict)


# (delivery id, member, service, first day, units, authorization) of one counted claim line.
BilledLine = tuple[int, int, int, date, Decimal, int | None]


def billed_index(billed: Iterable[BilledLine]) -> BilledIndex:
    """Index ``billed`` in one pass in delivery order: the order of delivery ids decides which of
    two duplicates is the later one and which lines come first towards a cap."""
    index = BilledIndex()
    first_of_day: dict[tuple, int] = {}
    day_sums: dict[tuple, Decimal] = {}
    month_sums: dict[tuple, Decimal] = {}
    auth_sums: dict[int, Decimal] = {}
    zero = Decimal(0)
    for delivery_id, member_id, service_id, day, units, auth_id in sorted(billed, key=itemgetter(0)):
        key = (member_id, service_id, day)
        if first_of_day.setdefault(key, delivery_id) != delivery_id:
            index.repeats.add(delivery_id)
        index.per_day[delivery_id] = day_sums[key] = day_sums.get(key, zero) + units
        month = (member_id, service_id, day.year, day.month)
        index.per_month[delivery_id] = month_sums[month] = month_sums.get(month, zero) + units
        if auth_id:
            index.per_auth[delivery_id] = auth_sums[auth_id] = auth_sums.get(auth_id, zero) + units
    return index


class ServiceTerms(NamedTuple):
    """What the provider's contracts with the plan say about a service on a day, as the
    authorization and cap checks read it (``RateBook.coverage``; the caps of the version in force)."""

    covered: bool
    authorization_required: bool = False
    units_per_day: int | None = None
    units_per_month: int | None = None


ModifierFault = Literal["invalid", "mismatch"]


@dataclass
class Lookups:
    """Everything the checks read, loaded once for many claims (a handful of queries), with the
    duplicate and cap totals (``billed``) worked out once for all of them."""

    today: date
    orgs: dict[int, Organization]
    members: dict[int, MemberRow]
    counties: dict[int, County]
    enrollment: EnrollmentIndex
    authorizations: dict[int, Authorization]
    contracts: dict[int, Contract]
    services: dict[int, ServiceCatalogEntry]
    rate_books: dict[tuple[int, int], RateBook]
    billed: BilledIndex = field(default_factory=BilledIndex)
    _memo: dict[tuple, list[Problem]] = field(default_factory=dict)
    _modifier_faults: dict[tuple, ModifierFault | None] = field(default_factory=dict)
    _terms: dict[tuple, ServiceTerms] = field(default_factory=dict)

    def rate_book(self, cbo_id: int, plan_id: int) -> RateBook:
        key = (cbo_id, plan_id)
        if key not in self.rate_books:
            self.rate_books[key] = MemoBook.load(self.orgs[cbo_id], self.orgs[plan_id])
        return self.rate_books[key]

    def terms(self, claim: Claim, line: ClaimLine) -> ServiceTerms:
        """The contract terms for the line's service on its first day, remembered per provider,
        plan, service and day for the scrub run (claims repeat a few services and dates)."""
        key = (claim.billing_provider_id, claim.plan_id, line.service_id, line.service_date)
        found = self._terms.get(key)
        if found is None:
            book = self.rate_book(claim.billing_provider_id, claim.plan_id)
            cov = book.coverage(self.services[line.service_id], on=line.service_date)
            version = cov.version
            if cov.covered and version is not None:
                found = ServiceTerms(
                    True, bool(cov.authorization_required), version.units_per_day, version.units_per_month
                )
            else:
                found = ServiceTerms(False)
            self._terms[key] = found
        return found

    def modifier_fault(self, service_id: int, modifiers: Sequence[str]) -> ModifierFault | None:
        """``"invalid"`` (more than four, or one not two letters or digits), ``"mismatch"`` (not
        the ones that identify the service) or None; remembered per service and modifiers, which
        thousands of lines share."""
        key = (service_id, tuple(modifiers))
        if key not in self._modifier_faults:
            fault: ModifierFault | None
            if len(modifiers) > 4 or any(identifiers.modifier_problem(m) for m in modifiers):
                fault = "invalid"
            elif not self.services[service_id].matches(set(modifiers)):
                fault = "mismatch"
            else:
                fault = None
            self._modifier_faults[key] = fault
        return self._modifier_faults[key]


def _enrollment(member_ids: set[int], plan_ids: set[int]) -> EnrollmentIndex:
    """``referrals.selectors.enrollment_index``, with the members as one array parameter
    (``among``) and no ordering (the model's default joins members to sort them by name): for a
    chunk's thousand members the selector's query costs three times as much."""
    index = EnrollmentIndex()
    for member_id, plan_id, start, end in (
        Enrollment.objects.filter(among("member_id", member_ids), plan_id__in=plan_ids)
        .order_by()
        .values_list("member_id", "plan_id", "start_date", "end_date")
    ):
        index.periods.setdefault((member_id, plan_id), []).append((start, end))
    return index


def load_lookups(
    pairs: Sequence[tuple[Claim, list[ClaimLine]]],
    *,
    today: date | None = None,
    rate_books: dict | None = None,
    services: dict[int, ServiceCatalogEntry] | None = None,
    exclude_claim_ids: Iterable[int] = (),
) -> Lookups:
    """Load what the checks need for ``claims`` (saved or not) and their lines. Lines already in
    the database for the same members count towards duplicates and caps, except those of
    ``exclude_claim_ids`` (the claims being re-scrubbed, whose current lines are passed in)."""
    claims = [claim for claim, _lines in pairs]
    all_lines = [ln for _claim, lines in pairs for ln in lines]
    org_ids = (
        {c.billing_provider_id for c in claims}
        | {c.submitter_id for c in claims}
        | {c.plan_id for c in claims}
    )
    member_ids = {c.member_id for c in claims}
    plan_ids = {c.plan_id for c in claims}
    auth_ids = {c.authorization_id for c in claims if c.authorization_id}
    # The queries below say ``order_by()``: nothing here depends on the order of rows, and the
    # models' default orderings cost sorts (enrollments even join members to sort by name).
    orgs = Organization.objects.order_by().in_bulk(org_ids)
    hub_ids = {o.hub_id for o in orgs.values() if o.hub_id} - set(orgs)
    if hub_ids:
        orgs.update(Organization.objects.order_by().in_bulk(hub_ids))
    members = {
        row[0]: MemberRow(*row)
        for row in Member.objects.filter(among("pk", member_ids)).order_by().values_list(*MemberRow._fields)
    }
    # Two index lookups (the members' live claims, then their lines) rather than one join, whose
    # plan goes wrong while a big build is still filling the tables.
    excluded = set(exclude_claim_ids)
    members_claims = (
        Claim.objects.filter(among("member_id", member_ids))
        .order_by()
        .values_list("pk", "member_id", "authorization_id")
    )
    other_claims = {
        pk: (member_id, auth_id) for pk, member_id, auth_id in members_claims if pk not in excluded
    }
    counted = {ln.delivery_id for ln in all_lines}
    billed: list[BilledLine] = []
    if other_claims:
        for claim_id, delivery_id, service_id, day, units in (
            ClaimLine.objects.filter(among("claim_id", other_claims), live=True)
            .order_by()
            .values_list("claim_id", "delivery_id", "service_id", "service_date", "units")
        ):
            if delivery_id not in counted:
                counted.add(delivery_id)
                member_id, auth_id = other_claims[claim_id]
                billed.append((delivery_id, member_id, service_id, day, units, auth_id))
    billed += [
        (ln.delivery_id, claim.member_id, ln.service_id, ln.service_date, ln.units, claim.authorization_id)
        for claim, lines in pairs
        for ln in lines
    ]
    # As one array parameter (``among``), like the members: a chunk may name thousands.
    authorizations = Authorization.objects.filter(among("pk", auth_ids)).order_by() if auth_ids else ()
    return Lookups(
        today=today or timezone.localdate(),
        orgs=orgs,
        members=members,
        counties=County.objects.order_by().in_bulk({m.county_id for m in members.values() if m.county_id}),
        enrollment=_enrollment(member_ids, plan_ids),
        authorizations={a.pk: a for a in authorizations},
        contracts=Contract.objects.order_by().in_bulk({c.contract_id for c in claims}),
        services=services if services is not None else ServiceCatalogEntry.objects.in_bulk(),
        rate_books=rate_books if rate_books is not None else {},
        billed=billed_index(billed),
    )


# --------------------------------------------------------------------------- checks
Check = Callable[[Claim, list[ClaimLine], Lookups], Iterable[Problem]]


def _same_for(key: Callable[[Claim, list[ClaimLine]], tuple]) -> Callable[[Check], Check]:
    """For a check whose findings depend only on what ``key(claim, lines)`` names (organizations
    and a contract, a member, the diagnosis codes, the first date of service): run it once per key
    in a scrub run and reuse its problems (100,000 claims share a few providers and dates, and a
    member's claims their member record)."""

    def wrap(check: Check) -> Check:
        name = check.__name__

        @functools.wraps(check)
        def once(claim: Claim, lines: list[ClaimLine], lk: Lookups) -> Iterable[Problem]:
            memo_key = (name, key(claim, lines))
            found = lk._memo.get(memo_key)
            if found is None:
                found = lk._memo[memo_key] = list(check(claim, lines, lk))
            return found

        return once

    return wrap


@_same_for(lambda claim, _lines: (claim.billing_provider_id,))
def check_billing_provider(claim: Claim, lines: list[ClaimLine], lk: Lookups) -> Iterator[Problem]:
    """NPI with a valid check digit, nine-digit TIN, taxonomy code, street address with ZIP+4."""
    org = lk.orgs[claim.billing_provider_id]
    fix = f"Correct it on {org}'s organization profile, then re-scrub."
    if problem := identifiers.npi_problem(org.npi or ""):
        yield Problem("provider_npi", ERROR, f"Billing provider NPI {org.npi or '(missing)'}: {problem}", fix)
    if problem := identifiers.tin_problem(org.tin or ""):
        yield Problem("provider_tin", ERROR, f"Billing provider TIN {org.tin or '(missing)'}: {problem}", fix)
    if problem := identifiers.taxonomy_problem(org.taxonomy_code or ""):
        yield Problem("provider_taxonomy", ERROR, f"Billing provider taxonomy: {problem}", fix)
    if not (org.service_street or "").strip() or not (org.service_city or "").strip():
        yield Problem("provider_address", ERROR, "The billing provider has no street address and city.", fix)
    elif _PO_BOX.search(org.service_street) or _PO_BOX.search(org.service_street2 or ""):
        yield Problem(
            "provider_address",
            ERROR,
            "The billing provider address is a PO box; claims need the street address where "
            "services are run.",
            fix,
        )
    if not _ZIP9.match((org.service_zip or "").strip()):
        yield Problem(
            "provider_zip",
            ERROR,
            f"The billing provider ZIP code {org.service_zip or '(missing)'} needs all nine digits "
            "(ZIP+4); plans reject 837P claims without them.",
            f"Add the four-digit extension (e.g. 90012-1234) on {org}'s profile, then re-scrub.",
        )


@_same_for(lambda claim, _lines: (claim.contract_id, claim.plan_id, claim.submitter_id))
def check_plan_settings(claim: Claim, lines: list[ClaimLine], lk: Lookups) -> Iterator[Problem]:
    """The contract names the plan's payer id, and who sends and receives the file."""
    contract = lk.contracts.get(claim.contract_id)
    plan = lk.orgs[claim.plan_id]
    if contract is None:
        return
    fix = f"Ask {plan} for its claim-submission settings and enter them on contract {contract.number}."
    if not (contract.payer_id or plan.payer_id):
        yield Problem("payer_id", ERROR, f"No payer id is set for {plan}.", fix)
    if contract.claim_format == "837p" and not (contract.receiver_id and contract.submitter_id):
        yield Problem(
            "x12_ids",
            ERROR,
            f"Contract {contract.number} does not give the receiver and submitter ids the plan's "
            "clearinghouse expects.",
            fix,
        )
    submitter = lk.orgs[claim.submitter_id]
    if not (submitter.contact_name and (submitter.phone or submitter.contact_email)):
        yield Problem(
            "submitter_contact",
            ERROR,
            f"{submitter} has no billing contact name with a phone number or e-mail.",
            f"Add a contact person and phone on {submitter}'s profile.",
        )


@_same_for(lambda claim, _lines: (claim.member_id,))
def check_member(claim: Claim, lines: list[ClaimLine], lk: Lookups) -> Iterator[Problem]:
    """CIN (8 digits + a letter; an unusual one is a warning), first and last name, date of birth,
    street address."""
    m = lk.members[claim.member_id]
    fix = f"Correct the member record of {m.first_name} {m.last_name}, then re-scrub."
    if problem := identifiers.cin_problem(m.cin):
        yield Problem("member_cin", ERROR, f"Member CIN {m.cin!r}: {problem}", fix)
    elif warning := identifiers.cin_warning(m.cin):
        yield Problem(
            "member_cin_unusual", WARNING, warning, "Compare it with the plan's referral or eligibility file."
        )
    if not (m.first_name or "").strip() or not (m.last_name or "").strip():
        yield Problem("member_name", ERROR, f"Member {m.cin} is missing a first or last name.", fix)
    if m.dob is None or m.dob > lk.today or m.dob < date(lk.today.year - 120, 1, 1):
        yield Problem(
            "member_dob",
            ERROR,
            f"Member {m.cin}'s date of birth ({m.dob or 'missing'}) is not plausible.",
            fix,
        )
    if not (m.street or "").strip() or not (m.city or "").strip() or not _ZIP.match((m.zip or "").strip()):
        yield Problem(
            "member_address",
            ERROR,
            f"Member {m.cin} has no complete address (street, city and ZIP code); the 837P needs one.",
            fix + " If the member is unhoused, use the shelter or the CBO's address as the plan allows.",
        )


def check_enrollment(claim: Claim, lines: list[ClaimLine], lk: Lookups) -> Iterator[Problem]:
    """The member is enrolled with the plan on every date of service (first and last day)."""
    enrolled = lk.enrollment.enrolled
    for ln in lines:
        days = (ln.service_date, ln.end_date) if ln.end_date else (ln.service_date,)
        for day in days:
            if not enrolled(claim.member_id, claim.plan_id, day):
                plan = lk.orgs[claim.plan_id]
                yield Problem(
                    "not_enrolled",
                    ERROR,
                    f"The member is not enrolled with {plan} on {human_date(day)}.",
                    "Check eligibility; if the plan's enrollment file is out of date, update the "
                    "member's enrollment, then re-scrub. Otherwise void the service entry.",
                    ln.line_number,
                )
                break


def check_authorization(claim: Claim, lines: list[ClaimLine], lk: Lookups) -> Iterator[Problem]:
    """When the contract's terms require one: an authorization on the claim, approved, for this
    member, plan and service, covering each date, with enough units (all live lines on it)."""
    auth = lk.authorizations.get(claim.authorization_id) if claim.authorization_id else None
    if auth is None:
        needed = [ln for ln in lines if lk.terms(claim, ln).authorization_required]
        if needed:
            yield Problem(
                "auth_missing",
                ERROR,
                f"The contract requires the plan's authorization for line(s) "
                f"{', '.join(str(ln.line_number) for ln in needed)}, and none is attached.",
                "Request the authorization from the plan, attach it to the service entries, then re-scrub.",
            )
        return
    label = f"Authorization {auth.number or '(no number)'}"
    if auth.status not in BILLABLE_AUTHORIZATION:
        yield Problem(
            "auth_not_approved",
            ERROR,
            f"{label} is {auth.get_status_display().lower()}, not approved.",
            "Ask the plan to approve or extend it, then re-scrub.",
        )
    if not (auth.number or "").strip():
        yield Problem(
            "auth_number",
            ERROR,
            f"{label} has no number to send to the plan.",
            "Enter the plan's authorization number.",
        )
    if auth.member_id != claim.member_id or auth.plan_id != claim.plan_id:
        yield Problem(
            "auth_mismatch",
            ERROR,
            f"{label} is for another member or plan.",
            "Attach the member's own authorization from this plan.",
        )
    provider = lk.orgs[claim.billing_provider_id]
    if auth.cbo_id not in (provider.pk, provider.hub_id):
        yield Problem(
            "auth_mismatch",
            ERROR,
            f"{label} was issued to another provider.",
            "Attach an authorization issued to this provider.",
        )
    for ln in lines:
        if ln.service_id != auth.service_id:
            yield Problem(
                "auth_service",
                ERROR,
                f"{label} is for {lk.services[auth.service_id].display}, not {lk.services[ln.service_id].display}.",
                "Attach the authorization for this service.",
                ln.line_number,
            )
        last = ln.end_date or ln.service_date
        if not (auth.start_date <= ln.service_date and last <= auth.end_date):
            yield Problem(
                "auth_dates",
                ERROR,
                f"{label} runs {human_date(auth.start_date)} – {human_date(auth.end_date)}; the service "
                f"on {human_date(ln.service_date)} is outside it.",
                "Ask the plan to extend the authorization (or attach the one covering this date), then re-scrub.",
                ln.line_number,
            )
        total = lk.billed.per_auth.get(ln.delivery_id)
        if auth.units_approved is not None and total is not None and total > auth.units_approved:
            yield Problem(
                "auth_units",
                ERROR,
                f"{label} approves {auth.units_approved} units; with this line {total} would be billed.",
                "Ask the plan for more units, or correct the units logged, then re-scrub.",
                ln.line_number,
            )


def check_coverage(claim: Claim, lines: list[ClaimLine], lk: Lookups) -> Iterator[Problem]:
    """The contract covers each service on its date (in the member's county) with a rate."""
    book = lk.rate_book(claim.billing_provider_id, claim.plan_id)
    member = lk.members[claim.member_id]
    county = lk.counties.get(member.county_id) if member.county_id else None
    for ln in lines:
        price = book.price(lk.services[ln.service_id], ln.units, on=ln.service_date, county=county)
        if not price.covered:
            yield Problem(
                "not_covered",
                ERROR,
                price.message,
                "Ask the plan to add the service to the contract (or amend its dates), or void the "
                "service entry if it was logged by mistake; then re-scrub.",
                ln.line_number,
            )


def check_modifiers(claim: Claim, lines: list[ClaimLine], lk: Lookups) -> Iterator[Problem]:
    """At most four modifiers, each two characters, and the ones that identify the service."""
    for ln in lines:
        fault = lk.modifier_fault(ln.service_id, ln.modifiers)
        if fault == "invalid":
            yield Problem(
                "modifiers",
                ERROR,
                f"Line {ln.line_number} has invalid modifiers {ln.modifiers}.",
                "Re-scrub to take the modifiers from the service catalog.",
                ln.line_number,
            )
        elif fault == "mismatch":
            service = lk.services[ln.service_id]
            yield Problem(
                "modifiers",
                ERROR,
                f"Line {ln.line_number}'s code {ln.procedure_code} with {'/'.join(ln.modifiers) or 'no modifier'} "
                f"is not {service.name} ({service.label}).",
                "Re-scrub to take the modifiers from the service catalog.",
                ln.line_number,
            )


@_same_for(lambda claim, _lines: tuple(claim.diagnosis_codes or ()))
def check_diagnoses(claim: Claim, lines: list[ClaimLine], lk: Lookups) -> Iterator[Problem]:
    """1 to 12 diagnosis codes, each ICD-10-CM."""
    codes = claim.diagnosis_codes or []
    fix = "Add the member's social-need diagnosis (e.g. Z59.01) on the referral, then re-scrub."
    if not codes:
        yield Problem("diagnosis_missing", ERROR, "The claim has no diagnosis code.", fix)
    for code in codes:
        if problem := identifiers.icd10_problem(code):
            yield Problem(
                "diagnosis_invalid", ERROR, problem, "Correct the code on the referral, then re-scrub."
            )
    if len(codes) > 12:
        yield Problem(
            "diagnosis_count",
            ERROR,
            f"The claim has {len(codes)} diagnosis codes; at most 12 fit.",
            "Keep the 12 that matter on the referral.",
        )


def check_place_of_service(claim: Claim, lines: list[ClaimLine], lk: Lookups) -> Iterator[Problem]:
    """A place-of-service code CBOs use (04, 12, 13, 14, 16, 27, 99, 02, 10)."""
    if claim.place_of_service not in _VALID_POS:
        yield Problem(
            "place_of_service",
            ERROR,
            f"Place of service {claim.place_of_service!r} is not one plans accept for these services.",
            "Correct the place of service on the service entry, then re-scrub.",
        )


def check_units_caps(claim: Claim, lines: list[ClaimLine], lk: Lookups) -> Iterator[Problem]:
    """Units within the contract's per-day and per-month caps for the member (counting every live
    claim line, earlier deliveries first)."""
    billed = lk.billed
    for ln in lines:
        terms = lk.terms(claim, ln)
        if terms.units_per_day:
            days = (ln.end_date - ln.service_date).days + 1 if ln.end_date else 1
            total = billed.per_day.get(ln.delivery_id, ln.units)
            if ln.units > terms.units_per_day * days or (days == 1 and total > terms.units_per_day):
                label = lk.services[ln.service_id].display
                yield Problem(
                    "units_per_day",
                    ERROR,
                    f"{label}: {total} units on {human_date(ln.service_date)}; the contract allows "
                    f"{terms.units_per_day} a day.",
                    "Correct the units on the service entry (or void the extra entry), then re-scrub.",
                    ln.line_number,
                )
        if terms.units_per_month:
            total = billed.per_month.get(ln.delivery_id, ln.units)
            if total > terms.units_per_month:
                label, d = lk.services[ln.service_id].display, ln.service_date
                yield Problem(
                    "units_per_month",
                    ERROR,
                    f"{label}: {total} units in {d:%B %Y}; the contract allows {terms.units_per_month} "
                    "a month.",
                    "Void the extra service entry or correct its units, then re-scrub.",
                    ln.line_number,
                )


def check_duplicates(claim: Claim, lines: list[ClaimLine], lk: Lookups) -> Iterator[Problem]:
    """The same service for the same member on the same day is not already on another live claim
    line (the earlier entry is billed; the later is the duplicate)."""
    repeats = lk.billed.repeats
    for ln in lines:
        if ln.delivery_id in repeats:
            yield Problem(
                "duplicate",
                ERROR,
                f"{lk.services[ln.service_id].display} on {human_date(ln.service_date)} for this member is "
                "already billed on another claim.",
                "If it was logged twice, void this service entry; if it is a separate service, "
                "correct the date or units.",
                ln.line_number,
            )


@_same_for(lambda claim, lines: (claim.contract_id, min((ln.service_date for ln in lines), default=None)))
def check_timely_filing(claim: Claim, lines: list[ClaimLine], lk: Lookups) -> Iterator[Problem]:
    """Filed within the contract's timely-filing days of each date of service; within 14 days of
    the limit is a warning."""
    contract = lk.contracts.get(claim.contract_id)
    if contract is None or not lines:
        return
    first = min(ln.service_date for ln in lines)
    deadline = first + timedelta(days=contract.timely_filing_days)
    if lk.today > deadline:
        yield Problem(
            "timely_filing",
            ERROR,
            f"The service on {human_date(first)} was due to {contract.plan} by {human_date(deadline)} "
            f"({contract.timely_filing_days} days); the plan will deny it as late.",
            "Ask the plan whether it accepts a late claim with a reason (e.g. retroactive "
            "eligibility); otherwise void it.",
        )
    elif (deadline - lk.today).days <= TIMELY_FILING_WARNING_DAYS:
        yield Problem(
            "timely_filing_soon",
            WARNING,
            f"Send this claim by {human_date(deadline)}: that is the plan's timely-filing limit.",
            "Put it in a batch today.",
        )


def check_charge(claim: Claim, lines: list[ClaimLine], lk: Lookups) -> Iterator[Problem]:
    """Every line carries a charge above zero (a zero charge means the rate is missing)."""
    for ln in lines:
        if ln.charge <= 0:
            yield Problem(
                "no_charge",
                ERROR,
                f"Line {ln.line_number} has no charge: no rate was found for it.",
                "Make sure the contract has a rate for the service on this date, then re-scrub.",
                ln.line_number,
            )


# The member fields the 837P carries as free text, with the names a coordinator knows them by.
_MEMBER_TEXT = (
    ("last_name", "last name", 60),
    ("first_name", "first name", 35),
    ("street", "street", 55),
    ("city", "city", 30),
)


def check_x12_text(claim: Claim, lines: list[ClaimLine], lk: Lookups) -> Iterator[Problem]:
    """A member's name or address outside the X12 basic character set (accents, ñ, #, @ …) goes
    out transliterated (``billing.x12.common.basic_text``: Peña → PENA): a warning naming the
    field and what will be sent, so the coordinator can check it matches the plan's records."""
    m = lk.members[claim.member_id]
    for attr, label, width in _MEMBER_TEXT:
        value = getattr(m, attr, "") or ""
        if value and basic_text(value, width) != clean_text(value, width).upper():
            yield Problem(
                "x12_text_transliterated",
                WARNING,
                f"Member {m.cin}'s {label} {value!r} will be sent as {basic_text(value, width)!r}: the 837P "
                "carries only the X12 basic character set.",
                "Nothing to do if the plan knows the member by that spelling; otherwise correct the member record.",
            )


CHECKS: tuple[Check, ...] = (
    check_billing_provider,
    check_x12_text,
    check_plan_settings,
    check_member,
    check_enrollment,
    check_authorization,
    check_coverage,
    check_modifiers,
    check_diagnoses,
    check_place_of_service,
    check_units_caps,
    check_duplicates,
    check_timely_filing,
    check_charge,
)


def scrub_one(claim: Claim, lines: list[ClaimLine], lookups: Lookups) -> list[Problem]:
    """Every problem of one claim (no queries: everything comes from ``lookups``)."""
    problems: list[Problem] = []
    for check in CHECKS:
        problems.extend(check(claim, lines, lookups))
    if len(problems) < 2:
        return problems
    # Provider and plan problems repeat on every line's claim; keep each message once.
    seen: set[tuple] = set()
    unique = []
    for p in problems:
        key = (p.code, p.message, p.line)
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique
