"""New claims scrubbed and saved: numbered, inserted with their lines (``copy_rows``), and their
history rows recorded, in bulk, in the caller's transaction."""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.utils import timezone

from billing.choices import ClaimStatus
from billing.models import Claim, ClaimLine
from billing.services import control_numbers, scrubber
from billing.services.claims.drafting import BuildCache
from billing.services.states import record_claim_history
from cbo_portal.fastpath import copy_rows
from contracts.money import ZERO


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


def scrub_new(pairs: list[tuple], cache: BuildCache, *, today: date | None = None) -> None:
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


def reserve_numbers(pairs: Iterable[tuple]) -> dict[int, list[str]]:
    """Claim control numbers for ``pairs``, per billing provider (see ``save_claims``)."""
    return {pk: control_numbers.claim_numbers(pk, len(claims)) for pk, claims in _by_provider(pairs).items()}


def save_claims(
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
