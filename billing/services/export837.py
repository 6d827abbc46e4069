"""From the database to the X12 837P writer (``billing.x12.claim837``), streamed.

Rules:
* Claims are read in chunks of ids, in the order billing provider → member → claim, so the
  writer opens few 2000A/2000B loops; each chunk is three queries (claims, members, lines).
* The envelope's ISA13 / GS06 / ST02 come from the submitter's counters (``control_numbers``):
  unique and increasing per submitter, never reused. At most 5,000 claims per transaction set.
  A batched claim carries the ST02 its batch reserved for it (``transaction_set_control``); the
  file writes each set's claims together (``FILE_ORDER``) and a rewrite keeps the numbers.
* ISA06/GS02/NM1*41 use the contract's ``submitter_id``; ISA08/GS03/NM1*40 its ``receiver_id``;
  NM1*PR its ``payer_id`` (or the plan's).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO

from django.db import connection
from django.utils import timezone

from billing.models import Claim, ClaimLine
from billing.services import control_numbers
from billing.x12 import claim837 as x
from billing.x12.common import Envelope
from cbo_portal.fastpath import among, on_postgresql
from cbo_portal.models import Organization
from contracts.models import Contract
from referrals.models import ServiceDelivery

CHUNK = 5000


@dataclass
class ExportResult:
    """One written interchange: control numbers, counts, SHA-256 and claim ids in file order."""

    interchange_control: int
    group_control: int
    claim_count: int
    sha256: str
    claim_ids: list[int]
    result: x.Write837Result


def _digits(value: str) -> str:
    return "".join(ch for ch in value or "" if ch.isdigit())


def _address(street: str, city: str, state: str, zip_code: str, street2: str = "") -> x.Address:
    return x.Address(
        street or "", city or "", (state or "CA").upper(), (zip_code or "").replace("-", ""), street2 or ""
    )


class _Builder:
    """Turns rows into the writer's dataclasses, caching providers and payers by id."""

    def __init__(self, plan: Organization, contract: Contract) -> None:
        self.payer = x.Payer(plan.legal_name, contract.payer_id or plan.payer_id)
        self.providers: dict[int, x.BillingProvider] = {}

    def provider(self, org_id: int) -> x.BillingProvider:
        if org_id not in self.providers:
            o = Organization.objects.get(pk=org_id)
            self.providers[org_id] = x.BillingProvider(
                name=o.legal_name,
                npi=o.npi,
                tin=o.tin,
                taxonomy=o.taxonomy_code,
                address=_address(
                    o.service_street, o.service_city, o.service_state, o.service_zip, o.service_street2
                ),
            )
        return self.providers[org_id]

    def claims(
        self, claim_ids: Sequence[int], progress: Callable[[int], None] | None = None
    ) -> Iterator[x.Claim]:
        """The claims as the writer takes them, read ``CHUNK`` at a time; ``progress`` is told
        how many were made, every 500."""
        written = 0
        subscriber_cache: dict[tuple, x.Subscriber] = {}
        chunks = [claim_ids[start : start + CHUNK] for start in range(0, len(claim_ids), CHUNK)]
        for ids, (rows, raw) in zip(chunks, _fetched(chunks), strict=True):
            # Lines built before lines carried their place of service take it from the delivery.
            legacy = {ln[10] for ln in raw if not ln[8]}
            pos = (
                dict(ServiceDelivery.objects.filter(pk__in=legacy).values_list("pk", "place_of_service"))
                if legacy
                else {}
            )
            lines: dict[int, list[x.ServiceLine]] = {}
            ServiceLine = x.ServiceLine
            for ln in raw:
                found = lines.get(ln[0])
                if found is None:
                    found = lines[ln[0]] = []
                found.append(
                    ServiceLine(
                        procedure_code=ln[1],
                        modifiers=tuple(ln[2]),
                        charge=ln[3],
                        units=ln[4].normalize(),
                        service_date=ln[5],
                        service_date_end=ln[6],
                        diagnosis_pointers=tuple(ln[7] or (1,)),
                        place_of_service=ln[8] or pos.get(ln[10], ""),
                        line_control_number=ln[9],
                    )
                )
            del raw
            for pk in ids:
                r = rows[pk]
                # Consecutive claims of a member share one Subscriber (the writer opens a new
                # 2000B loop only when it changes); the key is the member's data itself.
                key = r[9:18]
                sub = subscriber_cache.get(key)
                if sub is None:
                    if len(subscriber_cache) > 10000:
                        subscriber_cache.clear()
                    sub = subscriber_cache[key] = x.Subscriber(
                        member_id=r[9],
                        last_name=r[10],
                        first_name=r[11],
                        birth_date=r[12],
                        gender=r[13] if r[13] in ("F", "M") else "U",
                        address=_address(r[14], r[15], r[16], r[17]),
                    )
                yield x.Claim(
                    control_number=r[1],
                    billing_provider=self.provider(r[2]),
                    subscriber=sub,
                    payer=self.payer,
                    place_of_service=r[4],
                    diagnosis_codes=tuple(r[5]),
                    lines=tuple(lines[pk]),
                    frequency=r[6],
                    payer_claim_number=r[7] or None,
                    prior_authorization=r[8] or None,
                )
                written += 1
                if progress is not None and written % 500 == 0:
                    progress(written)


CLAIM_COLUMNS = (
    "pk",
    "control_number",
    "billing_provider_id",
    "member_id",
    "place_of_service",
    "diagnosis_codes",
    "frequency",
    "payer_claim_number",
    "authorization__number",
    "member__cin",
    "member__last_name",
    "member__first_name",
    "member__dob",
    "member__sex",
    "member__street",
    "member__city",
    "member__state",
    "member__zip",
)
LINE_COLUMNS = (
    "claim_id",
    "procedure_code",
    "modifiers",
    "charge",
    "units",
    "service_date",
    "end_date",
    "diagnosis_pointers",
    "place_of_service",
    "line_control_number",
    "delivery_id",
)


def _fetch_orm(ids: Sequence[int]) -> tuple[dict[int, tuple], list[tuple]]:
    """A chunk's claims (by id, with member and authorization) and lines (in line order)."""
    rows = {r[0]: r for r in Claim.objects.filter(among("pk", ids)).values_list(*CLAIM_COLUMNS)}
    raw = list(
        ClaimLine.objects.filter(among("claim_id", ids))
        .order_by("claim_id", "line_number")
        .values_list(*LINE_COLUMNS)
    )
    return rows, raw


def _sql(queryset) -> str:
    """The ORM's SQL for ``queryset`` with the id array left as the one placeholder."""
    sql, _params = queryset.query.sql_with_params()
    return sql


@functools.cache
def _fast_queries() -> tuple[str, str]:
    """The same two queries as ``_fetch_orm``, written by the ORM once, run on the raw psycopg
    cursor: the JSON columns are read as text and decoded once per distinct value (a few
    modifier and diagnosis lists repeat 100,000 times), and no per-row converters run."""
    claims = Claim.objects.filter(among("pk", [0])).values_list(*CLAIM_COLUMNS)
    lines = ClaimLine.objects.filter(among("claim_id", [0])).order_by("claim_id", "line_number")
    return _sql(claims), _sql(lines.values_list(*LINE_COLUMNS))


def _fetch_fast(ids: Sequence[int]) -> tuple[dict[int, tuple], list[tuple]]:
    claims_sql, lines_sql = _fast_queries()
    parsed: dict[str, list] = {}

    def js(text: str | None) -> list:
        if text is None:
            return []
        found = parsed.get(text)
        if found is None:
            found = parsed[text] = json.loads(text)
        return found

    array = "{" + ",".join(map(str, ids)) + "}"
    with connection.cursor() as cursor:
        raw = cursor.cursor  # psycopg's cursor: Django's JSON loader returns jsonb as text
        raw.execute(claims_sql, [array])
        rows = {r[0]: (*r[:5], js(r[5]), *r[6:]) for r in raw.fetchall()}
        raw.execute(lines_sql, [array])
        lines = [(ln[0], ln[1], js(ln[2]), *ln[3:7], js(ln[7]), *ln[8:]) for ln in raw.fetchall()]
    return rows, lines


def _fetched(chunks: list[Sequence[int]]) -> Iterator[tuple[dict[int, tuple], list[tuple]]]:
    """Each chunk's rows, in turn (``_fetch_fast`` on PostgreSQL, the ORM elsewhere)."""
    fetch = _fetch_fast if on_postgresql() else _fetch_orm
    yield from map(fetch, chunks)


# Claims are given their transaction sets in this order (few 2000A/2000B loops per set) and
# written set by set in it.
CLAIM_ORDER = ("billing_provider_id", "member_id", "pk")
FILE_ORDER = ("transaction_set_control", *CLAIM_ORDER)


@dataclass(frozen=True)
class EnvelopeOptions:
    """How the plan's connection wants the interchange addressed (``PlanChannel``)."""

    usage: str = "P"
    ack_requested: bool = False
    sender_qualifier: str = "ZZ"
    receiver_qualifier: str = "ZZ"


def _group(
    submitter: Organization,
    plan: Organization,
    contract: Contract,
    *,
    gs: int,
    batch_label: str,
    claims: Iterable[x.Claim] = (),
    set_numbers: Sequence[int] | None = None,
) -> x.FunctionalGroup837:
    phone = _digits(submitter.phone)[-10:]
    return x.FunctionalGroup837(
        submitter=x.Submitter(
            submitter.legal_name,
            contract.submitter_id,
            submitter.contact_name or submitter.legal_name,
            phone=phone if len(phone) == 10 else "",
            email=submitter.contact_email or "",
        ),
        receiver=x.Receiver(plan.legal_name, contract.receiver_id),
        group_control_number=gs,
        batch_id=batch_label,
        claims=claims,
        set_numbers=set_numbers,
    )


def write_sets(
    out: IO[str],
    claim_ids: Sequence[int],
    set_numbers: Sequence[int],
    *,
    submitter: Organization,
    plan: Organization,
    contract: Contract,
    batch_label: str,
    created: dt.datetime,
    progress: Callable[[int], None] | None = None,
) -> x.Write837Result:
    """Write the ST … SE transaction sets of ``claim_ids`` (in that order, each claim in the set
    ``set_numbers`` gives it) to ``out``, no envelope: a whole file, or one part of a file that
    ``join_837`` puts together (parts of whole sets, written with the same ``created``)."""
    result = x.Write837Result()
    claims = _Builder(plan, contract).claims(claim_ids, progress=progress)
    group = _group(
        submitter, plan, contract, gs=0, batch_label=batch_label, claims=claims, set_numbers=set_numbers
    )
    for chunk in x.iter_sets(
        group,
        created.replace(tzinfo=None),
        result=result,
        track_claims=False,
        max_claims_per_set=x.MAX_CLAIMS_PER_SET,
    ):
        out.write(chunk)
    return result


def join_837(
    out: IO[str],
    body: Callable[[IO[str]], int],
    *,
    submitter: Organization,
    plan: Organization,
    contract: Contract,
    batch_label: str,
    created: dt.datetime,
    options: EnvelopeOptions = EnvelopeOptions(),
) -> tuple[int, int, str]:
    """One 837P interchange to ``out``: ISA/GS with fresh ISA13 and GS06 for ``submitter``, then
    ``body(out)``, which writes the transaction sets (``write_sets``, whole or in parts) and
    returns how many, then GE/IEA. Returns (ISA13, GS06, SHA-256 of the text)."""
    isa, gs, _st = control_numbers.envelope_numbers(str(submitter.pk), sets=0)
    envelope = Envelope(
        sender_id=contract.submitter_id,
        receiver_id=contract.receiver_id,
        interchange_control_number=isa,
        created=created.replace(tzinfo=None),
        usage=options.usage,
        ack_requested=options.ack_requested,
        sender_qualifier=options.sender_qualifier,
        receiver_qualifier=options.receiver_qualifier,
    )
    group = _group(submitter, plan, contract, gs=gs, batch_label=batch_label)
    sink = _Digesting(out)
    sink.write(x.envelope_head(envelope, group))
    set_count = body(sink)  # type: ignore[arg-type]
    sink.write(x.envelope_tail(envelope, group, set_count))
    return isa, gs, sink.digest.hexdigest()


def write_837(
    out: IO[str],
    claim_ids: Sequence[int],
    *,
    submitter: Organization,
    plan: Organization,
    contract: Contract,
    batch_label: str,
    progress: Callable[[int], None] | None = None,
    created: dt.datetime | None = None,
    usage: str = "P",
    ack_requested: bool = False,
    sender_qualifier: str = "ZZ",
    receiver_qualifier: str = "ZZ",
    set_numbers: Sequence[int] | None = None,
) -> ExportResult:
    """Write ``claim_ids`` (in that order) as one 837P interchange to ``out``, with fresh ISA13
    and GS06 for ``submitter``, and each claim in the transaction set ``set_numbers`` gives it
    (its batch's, increasing) or, without them, in fresh sets of 5,000. Returns the numbers,
    counts and the SHA-256 of the text. ``progress`` is called with the claims written so far,
    every 500."""
    per_set = x.MAX_CLAIMS_PER_SET  # read at call time: the batch stamped its claims with it
    if set_numbers is None:
        first = control_numbers.set_numbers(str(submitter.pk), max(1, -(-len(claim_ids) // per_set)))
        set_numbers = [first + n // per_set for n in range(len(claim_ids))]
    created = (created or timezone.localtime()).replace(tzinfo=None)
    written = x.Write837Result()

    def body(sink: IO[str]) -> int:
        written.add(
            write_sets(
                sink,
                claim_ids,
                set_numbers,
                submitter=submitter,
                plan=plan,
                contract=contract,
                batch_label=batch_label,
                created=created,
                progress=progress,
            )
        )
        return len(written.sets)

    isa, gs, sha = join_837(
        out,
        body,
        submitter=submitter,
        plan=plan,
        contract=contract,
        batch_label=batch_label,
        created=created,
        options=EnvelopeOptions(usage, ack_requested, sender_qualifier, receiver_qualifier),
    )
    result = x.Write837Result(interchange_control_number=isa, group_count=1, segment_count=4)  # ISA GS GE IEA
    result.add(written)
    return ExportResult(isa, gs, result.claim_count, sha, list(claim_ids), result)


class _Digesting:
    """Writes text through to ``out`` and keeps its SHA-256."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.digest = hashlib.sha256()

    def write(self, text: str) -> None:
        self.out.write(text)
        self.digest.update(text.encode())
