"""999 intake: the plan's clearinghouse says which of our transaction sets it accepted.

Rules (domain.md §3 step 7):

* A file is imported once (SHA-256). The same file again returns the stored acknowledgement with
  ``already_imported = True`` and changes nothing.
* Each AK1 names one of our functional groups by GS06 → ``Batch.group_control``; among batches with
  that number only sent ones (submitted or acknowledged) qualify, and when several submitters
  reuse the number, the one whose claims carry every acknowledged ST02 wins. A 999 for a group we
  never sent is refused whole, with the number it names.
* Each AK2/IK5 names one transaction set by ST02 → ``Claim.transaction_set_control`` within that
  batch. Accepted sets (IK5 A or E) move their submitted claims to accepted; rejected sets move
  them to rejected with the 999's errors in words (errors that name a claim through CTX*CLM01 go
  to that claim). Claims that already moved on (an 835 came first) are left as they are.
* The batch becomes acknowledged. One audit row per file.
* A malformed file raises ``AckImportError`` (a ``ValidationError``) and changes nothing.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import PurePath

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from billing.choices import BatchStatus, ClaimStatus
from billing.models import Acknowledgement, Batch, Claim, ClaimStatusChange
from billing.scope import billing_scope_q
from billing.services.remittances import decode_x12, uploader_scope
from billing.services.states import transition_batch, transition_claims_bulk
from billing.x12 import ack999
from billing.x12.common import X12Error
from cbo_portal.choices import AuditAction
from cbo_portal.services import audit

SENT_BATCH_STATUSES = (BatchStatus.SUBMITTED, BatchStatus.ACKNOWLEDGED)


class AckImportError(ValidationError):
    """A 999 that cannot be imported. Nothing was changed."""


def import_ack(data: bytes, *, file_name: str, acting_user=None) -> Acknowledgement:  # noqa: ANN001
    """Import one 999 file (rules above) and return its ``Acknowledgement`` (with an
    ``already_imported`` attribute)."""
    scope = uploader_scope(acting_user)
    digest = hashlib.sha256(data).hexdigest()
    existing = Acknowledgement.objects.filter(sha256=digest).first()
    if existing is not None:
        existing.already_imported = True  # type: ignore[attr-defined]
        return existing
    name = PurePath(file_name or "ack.999").name[:200]
    try:
        groups = ack999.parse_999(decode_x12(data, "999"))
    except X12Error as exc:
        raise AckImportError(f"{name} was not imported: {exc}") from exc
    actor = acting_user if getattr(acting_user, "is_authenticated", False) else None
    try:
        with transaction.atomic():
            ack = _apply(groups, data, name, actor, scope)
    except IntegrityError:
        found = Acknowledgement.objects.filter(sha256=digest).first()
        if found is None:
            raise
        found.already_imported = True  # type: ignore[attr-defined]
        return found
    ack.already_imported = False  # type: ignore[attr-defined]
    return ack


def _find_batch(group: ack999.Ack999, name: str, user) -> Batch:  # noqa: ANN001
    number = group.group_control_number
    if not number.isdigit():
        raise AckImportError(
            f"{name} was not imported: AK102 group control number {number!r} is not a number."
        )
    batches = Batch.objects.select_for_update(of=("self",)).filter(
        group_control=int(number), status__in=SENT_BATCH_STATUSES
    )
    if user is not None:  # a person imports only for batches they send
        batches = batches.filter(billing_scope_q(user, provider="submitter", submitter=None, plan=None))
    candidates = list(batches)
    if len(candidates) > 1:
        wanted = {s.control_number for s in group.sets}
        sets_by_batch: dict[int, set[str]] = defaultdict(set)
        for batch_id, st02 in Claim.objects.filter(batch__in=candidates).values_list(
            "batch_id", "transaction_set_control"
        ):
            sets_by_batch[batch_id].add(st02)
        candidates = [b for b in candidates if wanted <= sets_by_batch[b.pk]]
    if not candidates:
        raise AckImportError(
            f"{name} was not imported: it acknowledges functional group {number}, but no batch we sent "
            f"has that group control number (GS06)."
        )
    if len(candidates) > 1:
        raise AckImportError(
            f"{name} was not imported: {len(candidates)} sent batches have group control number {number} "
            f"and the same transaction sets; import it from the batch's page instead."
        )
    return candidates[0]


def _apply(groups: list[ack999.Ack999], data: bytes, name: str, actor, scope: Q | None) -> Acknowledgement:  # noqa: ANN001
    results: list[dict] = []
    accepted_sets = rejected_sets = 0
    first_batch: Batch | None = None
    now = timezone.now()
    for group in groups:
        batch = _find_batch(group, name, actor if scope is not None else None)
        first_batch = first_batch or batch
        claims_by_set: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
        for claim_id, st02, control, status in Claim.objects.filter(batch=batch).values_list(
            "id", "transaction_set_control", "control_number", "status"
        ):
            claims_by_set[st02].append((claim_id, control, status))
        for item in group.sets:
            claims = claims_by_set.get(item.control_number, [])
            messages = item.messages()
            waiting = [c for c in claims if c[2] == ClaimStatus.SUBMITTED]
            if item.accepted:
                accepted_sets += 1
                transition_claims_bulk(
                    [c[0] for c in waiting], ClaimStatus.SUBMITTED, ClaimStatus.ACCEPTED, acting_user=actor,
                    reason=f"999 {name}: transaction set {item.control_number} accepted",
                )  # fmt: skip
            else:
                rejected_sets += 1
                _reject(waiting, item, name, actor)
            results.append({
                "batch": batch.pk, "group_control": group.group_control_number, "control_number": item.control_number,
                "status": item.status, "accepted": item.accepted, "errors": messages[1:] if item.accepted else messages,
                "claims": len(claims), "claims_moved": len(waiting),
                "unknown_set": not claims,
            })  # fmt: skip
        if batch.status == BatchStatus.SUBMITTED:
            transition_batch(batch, BatchStatus.ACKNOWLEDGED, acting_user=actor, reason=f"999 {name}",
                             acknowledged_at=now)  # fmt: skip
    ack = Acknowledgement(
        batch=first_batch, file_name=name, sha256=hashlib.sha256(data).hexdigest(), accepted_sets=accepted_sets,
        rejected_sets=rejected_sets, results=results, imported_by=actor,
    )  # fmt: skip
    ack.file.save(name, ContentFile(data), save=False)
    ack.save()
    audit.record(
        actor=actor, action=AuditAction.CREATE, obj=ack, organization=first_batch.submitter if first_batch else None,
        summary=f"Imported 999 {name}: {accepted_sets} transaction sets accepted, {rejected_sets} rejected",
        changes={"file": name, "accepted": accepted_sets, "rejected": rejected_sets},
    )  # fmt: skip
    return ack


def _reject(claims: list[tuple[int, str, str]], item: ack999.SetAck, name: str, actor) -> None:  # noqa: ANN001
    """Move the set's submitted claims to rejected; each claim's history carries the set's verdict
    and the errors that concern it (errors naming another claim are left out of its reason)."""
    if not claims:
        return
    head = item.messages()[0]
    general = [e.describe() for e in item.segment_errors if not e.claim_control_number]
    specific: dict[str, list[str]] = defaultdict(list)
    for error in item.segment_errors:
        if error.claim_control_number:
            specific[error.claim_control_number].append(error.describe())
    ids = [c[0] for c in claims]
    base = f"999 {name}: {head}"
    transition_claims_bulk(ids, ClaimStatus.SUBMITTED, ClaimStatus.REJECTED, acting_user=actor, reason=base)
    # transition_claims_bulk writes one reason for all; put each claim's own errors in its history row.
    rows = ClaimStatusChange.objects.filter(claim_id__in=ids, to_status=ClaimStatus.REJECTED, reason=base)
    for change in rows.select_related("claim").only("pk", "claim__control_number"):
        detail = " | ".join(general + specific.get(change.claim.control_number, []))
        if detail:
            ClaimStatusChange.objects.filter(pk=change.pk).update(reason=f"{base} — {detail}"[:5000])


def rejection_errors(claim: Claim) -> list[str]:
    """The 999 errors behind a rejected claim, in words (from the latest rejection)."""
    change = claim.history.filter(to_status=ClaimStatus.REJECTED).order_by("-created_at", "-pk").first()
    if change is None:
        return []
    head, _, detail = change.reason.partition(" — ")
    return [head, *(part.strip() for part in detail.split(" | ") if part.strip())]
