"""The claim builder: streams the billable deliveries in grouping order, prepares and commits them
chunk by chunk (whole members), optionally one shard of the members (``Shard``) and straight into
batches. The rules: the package docstring."""

from __future__ import annotations

import operator
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, QuerySet

from billing.scope import PROVIDER_BILLING_ROLES, billing_scope_q
from billing.services.batches import BatchFiller, settle_batches
from billing.services.claims.drafting import (
    BUILD_ORDER,
    DELIVERY_FIELDS,
    MAX_LINES,
    BuildCache,
    ClaimDraft,
    LineDraft,
    Row,
    draft_claim,
    split_lines,
)
from billing.services.claims.saving import BuildResult, reserve_numbers, save_claims, scrub_new
from cbo_portal import access
from cbo_portal.choices import AuditAction
from cbo_portal.fastpath import among
from cbo_portal.models import Organization
from cbo_portal.services import audit
from cbo_portal.words import count
from referrals.choices import DeliveryStatus
from referrals.models import Member, Referral, ServiceDelivery
from referrals.services.deliveries import mark_billed, mark_billed_many


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


@dataclass
class _Chunk:
    """One chunk of deliveries (whole groups) turned into scrubbed claim drafts, not yet saved."""

    rows: list[Row]
    pairs: list[tuple[ClaimDraft, list[LineDraft]]]
    skipped: list[str]


def _prepare(rows: list[Row], cache: BuildCache, *, acting_user, today: date | None) -> _Chunk:
    """Group, price and scrub a chunk of deliveries (database reads only)."""
    cache.load_orgs({r.cbo_id for r in rows} | {r.plan_id for r in rows})
    dx_by_referral = dict(
        Referral.objects.filter(among("pk", {r.referral_id for r in rows})).values_list(
            "pk", "diagnosis_codes"
        )
    )

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
        for chunk in split_lines(group, MAX_LINES):
            made = draft_claim(chunk, cache, members, dx_by_referral, acting_user)
            if made is None:
                skipped.append(
                    f"{count(len(chunk), 'service')} of {cache.org(chunk[0].cbo_id)} for {cache.org(chunk[0].plan_id)}: "
                    "there is no contract between them."
                )
                continue
            pairs.append(made)
    if pairs:
        scrub_new(pairs, cache, today=today)
    return _Chunk(rows, pairs, skipped)


def _commit(
    chunk: _Chunk,
    cache: BuildCache,
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
    numbers = reserve_numbers(chunk.pairs)
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
        result = save_claims(
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
    given ids) into scrubbed claims; see the package docstring for the rules. ``acting_user=None``
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
    cache = BuildCache()
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
