"""Acknowledgement intake: 999, 277CA and TA1 files that answer one of our batches.

Rules:

* ``import_ack`` tells the three apart (``billing.x12.common.answer_kind``): a 999 (GS01 FA), a
  277CA (GS01 HN, 005010X214) or a TA1 (an interchange acknowledgement). An 835 or anything else
  is refused with what it is.
* A file answers to whom it addresses: it is applied only to a batch the uploader submits (any
  batch for system pickups and platform admins). Its identity is the batch it answers plus its
  bytes: the same file again *for that batch* returns the stored acknowledgement with
  ``already_imported = True`` and changes nothing; another organization's copy never stands in.
* An answer proves sending: a batch whose file was written but not marked sent is marked sent
  first (``batches.mark_sent_by_answer``), its history naming the file.
* 999: each AK1 names one of our functional groups by GS06 → ``Batch.group_control``; AK101 must
  be HC and every AK2 an 837 set (ST02) that batch holds; anything else is refused whole with the
  numbers. Trailer counts are checked by the parser; where AK9 contradicts the IK5s the
  contradiction is recorded (``Acknowledgement.warnings``) and each set follows its IK5. Accepted
  sets move their submitted claims to accepted; rejected sets move them to rejected with the 999's
  errors in words (errors naming a claim through CTX*CLM01 go to that claim). The batch becomes
  acknowledged.
* 277CA: each claim (HL PT) is matched by TRN*2 = our CLM01 (the billing provider's NPI tells
  providers sharing a number apart), else by REF*1K = the payer's claim number. The same file
  again is "already imported" even once its claims have moved on (paid, denied). Accepted claims
  record the payer's claim number and move submitted → accepted; rejected claims move submitted
  or accepted → rejected with every status in words and its fix, and enter the same correct-and-
  resubmit flow as a 999 rejection (``rejection_errors`` reads both). A 277CA naming no claim we
  sent is refused.
* TA1: TA101 names our interchange (``Batch.interchange_control``); a rejected interchange rejects
  the batch's waiting claims with the note code in words.
* One audit row per file. A malformed file raises ``AckImportError`` and changes nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from billing.choices import AckKind, BatchStatus, ClaimStatus
from billing.models import Acknowledgement, Batch, Claim, ClaimStatusChange
from billing.scope import billing_scope_q
from billing.services.batches import UNSENT_WRITTEN_STATUSES, mark_sent_by_answer
from billing.services.remittances import decode_x12, uploader_scope
from billing.services.states import transition_batch, transition_claims_bulk
from billing.x12 import ack277, ack999
from billing.x12.common import X12Error, answer_kind
from cbo_portal.choices import AuditAction
from cbo_portal.services import audit
from cbo_portal.words import count

SENT_BATCH_STATUSES = (BatchStatus.SUBMITTED, BatchStatus.ACKNOWLEDGED)
# Batches an answer may name: sent ones, and written ones nobody marked sent yet.
ANSWERABLE_BATCH_STATUSES = (*SENT_BATCH_STATUSES, *UNSENT_WRITTEN_STATUSES)
# Claims a 277CA speaks about: sent and not yet decided (in_batch: the batch was not marked sent).
ACKNOWLEDGEABLE_CLAIM_STATUSES = (ClaimStatus.IN_BATCH, ClaimStatus.SUBMITTED, ClaimStatus.ACCEPTED)


class AckImportError(ValidationError):
    """An acknowledgement that cannot be imported. Nothing was changed."""


class _AlreadyImported(Exception):
    def __init__(self, ack: Acknowledgement) -> None:
        self.ack = ack


def import_ack(data: bytes, *, file_name: str, acting_user=None) -> Acknowledgement:
    """Import one 999, 277CA or TA1 file (rules above) and return its ``Acknowledgement`` (with an
    ``already_imported`` attribute)."""
    scope = uploader_scope(acting_user)
    digest = hashlib.sha256(data).hexdigest()
    name = PurePath(file_name or "ack.999").name[:200]
    try:
        text = decode_x12(data, "acknowledgement")
        kind = answer_kind(text)
        if kind == "835":
            raise AckImportError(
                f"{name} was not imported: it is an 835 payment advice, not a 999, 277CA or TA1 "
                "acknowledgement (not FA, HN or TA1); import it as a remittance."
            )
        if kind == "277CA":
            parsed: object = ack277.parse_277ca(text)
        elif kind == "TA1":
            parsed = ack277.parse_ta1(text)
        else:
            kind = "999"
            parsed = ack999.parse_999(text)  # anything else: the 999 parser names what is wrong
    except X12Error as exc:
        raise AckImportError(f"{name} was not imported: {exc}") from exc
    actor = acting_user if getattr(acting_user, "is_authenticated", False) else None
    user = actor if scope is not None else None
    appliers: dict[str, Callable[..., Acknowledgement]] = {
        "999": _apply_999,
        "277CA": _apply_277ca,
        "TA1": _apply_ta1,
    }
    apply = appliers[kind]
    try:
        with transaction.atomic():
            ack = apply(parsed, data, digest, name, actor, user)
    except _AlreadyImported as found:
        found.ack.already_imported = True
        return found.ack
    except IntegrityError:
        # A concurrent import of the same file for the same batch won the race: report it.
        found_ack = Acknowledgement.objects.filter(sha256=digest).order_by("pk").first()
        if found_ack is None:
            raise
        found_ack.already_imported = True
        return found_ack
    ack.already_imported = False
    return ack


# --------------------------------------------------------------------------- shared steps


def _batches_for(user) -> QuerySet[Batch]:
    batches = Batch.objects.select_for_update(of=("self",)).filter(status__in=ANSWERABLE_BATCH_STATUSES)
    if user is not None:  # a person imports only for batches they send
        batches = batches.filter(billing_scope_q(user, provider="submitter", submitter=None, plan=None))
    return batches


def _once(batch: Batch, digest: str) -> None:
    """The same file was already imported for this batch: stop, changing nothing."""
    found = Acknowledgement.objects.filter(batch=batch, sha256=digest).first()
    if found is not None:
        raise _AlreadyImported(found)


def _prove_sent(batch: Batch, kind: str, name: str, actor) -> Batch:
    if batch.status in UNSENT_WRITTEN_STATUSES:
        return mark_sent_by_answer(batch, answer=f"{kind} {name}", acting_user=actor)
    return batch


def _save(
    kind: str,
    batch: Batch | None,
    data: bytes,
    digest: str,
    name: str,
    actor,
    *,
    accepted: int,
    rejected: int,
    results: list[dict],
    warnings: list[str],
    summary: str,
) -> Acknowledgement:
    ack = Acknowledgement(
        batch=batch,
        kind=kind,
        file_name=name,
        sha256=digest,
        accepted_sets=accepted,
        rejected_sets=rejected,
        results=results,
        warnings=warnings,
        imported_by=actor,
    )
    ack.file.save(name, ContentFile(data), save=False)
    ack.save()
    audit.record(
        actor=actor,
        action=AuditAction.CREATE,
        obj=ack,
        organization=batch.submitter if batch else None,
        summary=summary,
        changes={"file": name, "accepted": accepted, "rejected": rejected, "kind": kind},
    )
    return ack


def _reject_with_reasons(
    claims: list[tuple[int, str, str]], head: str, reasons: dict[str, list[str]], general: list[str], actor
) -> int:
    """Move claims (id, control number, status) to rejected: each history row is ``head — detail |
    detail`` with the reasons that concern that claim (``rejection_errors`` reads it back)."""
    by_status: dict[str, list[int]] = defaultdict(list)
    for claim_id, _control, status in claims:
        by_status[status].append(claim_id)
    for status, ids in by_status.items():
        transition_claims_bulk(ids, status, ClaimStatus.REJECTED, acting_user=actor, reason=head)
    ids = [c[0] for c in claims]
    rows = ClaimStatusChange.objects.filter(claim_id__in=ids, to_status=ClaimStatus.REJECTED, reason=head)
    for change in rows.select_related("claim").only("pk", "claim__control_number"):
        detail = " | ".join(general + reasons.get(change.claim.control_number, []))
        if detail:
            ClaimStatusChange.objects.filter(pk=change.pk).update(reason=f"{head} — {detail}"[:5000])
    return len(ids)


# --------------------------------------------------------------------------- 999


def _find_batch(group: ack999.Ack999, name: str, user) -> Batch:
    number = group.group_control_number
    if not (number.isascii() and number.isdigit()):  # "²".isdigit() is true; int("²") fails
        raise AckImportError(
            f"{name} was not imported: AK102 group control number {number!r} is not a number."
        )
    if group.functional_id != "HC":
        raise AckImportError(
            f"{name} was not imported: AK1 acknowledges a {group.functional_id!r} functional group "
            f"{number}, but we send only 837 claims (HC); it answers something else."
        )
    for item in group.sets:
        if item.transaction_set_id != "837":
            raise AckImportError(
                f"{name} was not imported: AK2 of group {number} names a {item.transaction_set_id!r} "
                f"transaction set {item.control_number}, but we sent 837 sets."
            )
    candidates = list(_batches_for(user).filter(group_control=int(number)))
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


def _apply_999(
    groups: list[ack999.Ack999], data: bytes, digest: str, name: str, actor, user
) -> Acknowledgement:
    results: list[dict] = []
    warnings: list[str] = []
    accepted_sets = rejected_sets = 0
    first_batch: Batch | None = None
    now = timezone.now()
    found = [(group, _find_batch(group, name, user)) for group in groups]
    for _group, batch in found:
        _once(batch, digest)
    for group, batch in found:
        claims_by_set: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
        for claim_id, st02, control, status in Claim.objects.filter(batch=batch).values_list(
            "id", "transaction_set_control", "control_number", "status"
        ):
            claims_by_set[st02].append((claim_id, control, status))
        unknown = [s.control_number for s in group.sets if s.control_number not in claims_by_set]
        if unknown:
            raise AckImportError(
                f"{name} was not imported: AK2 names {'transaction sets' if len(unknown) > 1 else 'transaction set'} "
                f"{', '.join(unknown)} of group {group.group_control_number}, but batch {batch.pk} was sent with "
                f"{'set' if len(claims_by_set) == 1 else 'sets'} "
                f"{', '.join(sorted(claims_by_set)) or 'none'}."
            )
        batch = _prove_sent(batch, "999", name, actor)
        first_batch = first_batch or batch
        warnings += group.contradictions()
        for item in group.sets:
            claims = [
                (pk, control, ClaimStatus.SUBMITTED if status == ClaimStatus.IN_BATCH else status)
                for pk, control, status in claims_by_set[item.control_number]
            ]  # in_batch ones were just sent by _prove_sent
            messages = item.messages()
            waiting = [c for c in claims if c[2] == ClaimStatus.SUBMITTED]
            if item.accepted:
                accepted_sets += 1
                transition_claims_bulk(
                    [c[0] for c in waiting],
                    ClaimStatus.SUBMITTED,
                    ClaimStatus.ACCEPTED,
                    acting_user=actor,
                    reason=f"999 {name}: transaction set {item.control_number} accepted",
                )
            else:
                rejected_sets += 1
                _reject_999(waiting, item, name, actor)
            results.append(
                {
                    "batch": batch.pk,
                    "group_control": group.group_control_number,
                    "control_number": item.control_number,
                    "status": item.status,
                    "accepted": item.accepted,
                    "errors": messages[1:] if item.accepted else messages,
                    "claims": len(claims),
                    "claims_moved": len(waiting),
                }
            )
        if batch.status == BatchStatus.SUBMITTED:
            transition_batch(
                batch, BatchStatus.ACKNOWLEDGED, acting_user=actor, reason=f"999 {name}", acknowledged_at=now
            )
    return _save(
        AckKind.FA999,
        first_batch,
        data,
        digest,
        name,
        actor,
        accepted=accepted_sets,
        rejected=rejected_sets,
        results=results,
        warnings=warnings,
        summary=f"Imported 999 {name}: {count(accepted_sets, 'transaction set')} accepted, {rejected_sets} rejected",
    )


def _reject_999(claims: list[tuple[int, str, str]], item: ack999.SetAck, name: str, actor) -> None:
    """The set's submitted claims → rejected; each claim's history carries the set's verdict and
    the errors that concern it (errors naming another claim are left out of its reason)."""
    if not claims:
        return
    general = [e.describe() for e in item.segment_errors if not e.claim_control_number]
    specific: dict[str, list[str]] = defaultdict(list)
    for error in item.segment_errors:
        if error.claim_control_number:
            specific[error.claim_control_number].append(error.describe())
    _reject_with_reasons(claims, f"999 {name}: {item.messages()[0]}", specific, general, actor)


# --------------------------------------------------------------------------- 277CA


def _apply_277ca(
    sets: list[ack277.Ack277], data: bytes, digest: str, name: str, actor, user
) -> Acknowledgement:
    verdicts = [c for s in sets for c in s.claims]
    numbers = {v.control_number for v in verdicts}
    payer_numbers = {v.payer_claim_number for v in verdicts if v.payer_claim_number}
    claims = Claim.objects.filter(
        Q(control_number__in=numbers) | Q(payer_claim_number__in=payer_numbers),
        status__in=ACKNOWLEDGEABLE_CLAIM_STATUSES,
        batch__status__in=ANSWERABLE_BATCH_STATUSES,
    )
    if user is not None:
        claims = claims.filter(
            billing_scope_q(user, provider="billing_provider", submitter="submitter", plan=None)
        )
    rows = list(
        claims.values_list(
            "id", "control_number", "payer_claim_number", "status", "batch_id", "billing_provider__npi"
        )
    )
    by_control: dict[str, list[tuple]] = defaultdict(list)
    by_payer_number: dict[str, list[tuple]] = defaultdict(list)
    for row in rows:
        by_control[row[1]].append(row)
        if row[2]:
            by_payer_number[row[2]].append(row)
    matched: list[tuple[ack277.ClaimAck, tuple | None]] = []
    for verdict in verdicts:
        found = by_control.get(verdict.control_number, [])
        if len(found) > 1 and verdict.provider_npi:
            found = [r for r in found if r[5] == verdict.provider_npi]
        if not found and verdict.payer_claim_number:
            found = by_payer_number.get(verdict.payer_claim_number, [])
        matched.append((verdict, found[0] if len(found) == 1 else None))
    hits = [row for _v, row in matched if row is not None]
    if not hits:
        # The same file again after its claims moved on (paid, denied, corrected): no claim waits
        # for it any more, but it is the file this uploader's batch already holds.
        held = Acknowledgement.objects.filter(sha256=digest, kind=AckKind.CA277, batch__isnull=False)
        if user is not None:
            held = held.filter(
                batch__in=Batch.objects.filter(
                    billing_scope_q(user, provider="submitter", submitter=None, plan=None)
                )
            )
        if (already := held.order_by("pk").first()) is not None:
            raise _AlreadyImported(already)
        raise AckImportError(
            f"{name} was not imported: its {count(len(verdicts), 'claim')} ({', '.join(sorted(numbers)[:5])}"
            f"{'…' if len(numbers) > 5 else ''}) match no claim we sent that is waiting for an answer."
        )
    batches = {b.pk: b for b in _batches_for(None).filter(pk__in={r[4] for r in hits})}
    first = batches[hits[0][4]]
    _once(first, digest)
    statuses = {}
    for batch in batches.values():
        was = batch.status
        _prove_sent(batch, "277CA", name, actor)
        if was in UNSENT_WRITTEN_STATUSES:
            statuses.update(dict(Claim.objects.filter(batch=batch).values_list("id", "status")))
    first.refresh_from_db()
    results: list[dict] = []
    to_accept: list[int] = []
    to_reject: list[tuple[int, str, str]] = []
    reasons: dict[str, list[str]] = {}
    payer_numbers_to_set: list[tuple[int, str]] = []
    for verdict, row in matched:
        messages = verdict.messages()
        entry = {
            "control_number": verdict.control_number,
            "outcome": verdict.outcome,
            "errors": messages,
            "payer_claim_number": verdict.payer_claim_number,
            "claim": None,
            "moved": False,
        }
        results.append(entry)
        if row is None:
            entry["errors"] = [
                f"claim {verdict.control_number}: no claim we sent waits for this answer",
                *messages,
            ]
            continue
        claim_id, control, _pcn, status, _batch, _npi = row
        status = statuses.get(claim_id, status)
        entry["claim"] = claim_id
        if verdict.outcome == "accepted":
            if verdict.payer_claim_number:
                payer_numbers_to_set.append((claim_id, verdict.payer_claim_number))
            if status == ClaimStatus.SUBMITTED:
                to_accept.append(claim_id)
                entry["moved"] = True
        elif verdict.outcome == "rejected" and status in (ClaimStatus.SUBMITTED, ClaimStatus.ACCEPTED):
            to_reject.append((claim_id, control, status))
            reasons[control] = messages
            entry["moved"] = True
    transition_claims_bulk(
        to_accept,
        ClaimStatus.SUBMITTED,
        ClaimStatus.ACCEPTED,
        acting_user=actor,
        reason=f"277CA {name}: accepted by the payer",
    )
    for claim_id, number in payer_numbers_to_set:
        Claim.objects.filter(pk=claim_id).update(payer_claim_number=number[:50], updated_at=timezone.now())
    if to_reject:
        _reject_with_reasons(to_reject, f"277CA {name}: rejected by the payer", reasons, [], actor)
    accepted = sum(1 for v, r in matched if r is not None and v.outcome == "accepted")
    rejected = sum(1 for v, r in matched if r is not None and v.outcome == "rejected")
    return _save(
        AckKind.CA277,
        first,
        data,
        digest,
        name,
        actor,
        accepted=accepted,
        rejected=rejected,
        results=results,
        warnings=[],
        summary=f"Imported 277CA {name}: {count(accepted, 'claim')} accepted, {rejected} rejected",
    )


# --------------------------------------------------------------------------- TA1


def _apply_ta1(items: list[ack277.Ta1], data: bytes, digest: str, name: str, actor, user) -> Acknowledgement:
    results: list[dict] = []
    first: Batch | None = None
    accepted = rejected = 0
    found = []
    for item in items:
        batches = list(_batches_for(user).filter(interchange_control=int(item.interchange_control_number)))
        if len(batches) != 1:
            raise AckImportError(
                f"{name} was not imported: its TA1 answers interchange {item.interchange_control_number}, but "
                + (
                    "no batch we sent has that interchange control number (ISA13)."
                    if not batches
                    else f"{len(batches)} sent batches have it; import it from the batch's page instead."
                )
            )
        found.append((item, batches[0]))
    for _item, batch in found:
        _once(batch, digest)
    for item, batch in found:
        batch = _prove_sent(batch, "TA1", name, actor)
        first = first or batch
        message = item.message()
        moved = 0
        if item.accepted:
            accepted += 1
        else:
            rejected += 1
            waiting = list(
                Claim.objects.filter(batch=batch, status=ClaimStatus.SUBMITTED).values_list(
                    "id", "control_number", "status"
                )
            )
            moved = _reject_with_reasons(waiting, f"TA1 {name}: {message}", {}, [], actor) if waiting else 0
        results.append(
            {
                "batch": batch.pk,
                "interchange_control": item.interchange_control_number,
                "status": item.status,
                "accepted": item.accepted,
                "note_code": item.note_code,
                "errors": [message],
                "claims_moved": moved,
            }
        )
    return _save(
        AckKind.TA1,
        first,
        data,
        digest,
        name,
        actor,
        accepted=accepted,
        rejected=rejected,
        results=results,
        warnings=[],
        summary=f"Imported TA1 {name}: {count(accepted, 'interchange')} accepted, {rejected} rejected",
    )


def rejection_errors(claim: Claim) -> list[str]:
    """The 999/277CA/TA1 errors behind a rejected claim, in words (from the latest rejection)."""
    change = claim.history.filter(to_status=ClaimStatus.REJECTED).order_by("-created_at", "-pk").first()
    if change is None:
        return []
    return _split_reason(change.reason)


def _split_reason(reason: str) -> list[str]:
    head, _, detail = reason.partition(" — ")
    return [head, *(part.strip() for part in detail.split(" | ") if part.strip())]


# --------------------------------------------------------------------------- the rejection, for people

# Where the field a 277CA status code (STC01-2) names is fixed, as a scrubber problem code
# (``billing.fixlinks`` turns it into a link for the reader). Codes about an entity's id or
# address depend on whose it is: the provider's (entity 85/87/41) or the member's.
_STATUS_FIX_CODES = {
    "254": "diagnosis_invalid",
    "255": "diagnosis_invalid",
    "29": "member_cin",
    "33": "member_cin",
    "164": "member_cin",
    "158": "member_dob",
    "97": "not_enrolled",
    "109": "not_enrolled",
    "128": "provider_tin",
    "562": "provider_npi",
    "187": "service_dates",
    "454": "not_covered",
    "116": "payer_id",
    "24": "x12_ids",
}
_PROVIDER_WORDS = ("(the billing provider)", "(the pay-to provider)", "(the submitter)")
_STC_RE = re.compile(r"^(?:line (\d+): )?[A-Z]{1,2}\d{0,2}:([A-Z0-9]{1,5}) ")


@dataclass(frozen=True)
class RejectionReason:
    """One thing the plan refused: in words, what to do, and (277CA) the scrubber problem code of
    the place where it is fixed and the claim line it names."""

    message: str
    fix: str = ""
    code: str = ""
    line: int | None = None
    short: str = ""  # the status alone ("The principal diagnosis code is missing or invalid."), for lists


@dataclass(frozen=True)
class Rejection:
    """Why a rejected claim was refused: which answer said so (999, 277CA or TA1, by file name),
    when, and each reason."""

    source: str
    at: object
    reasons: tuple[RejectionReason, ...]


def _reason(text: str) -> RejectionReason:
    message, _, fix = text.partition(" Fix: ")
    match = _STC_RE.match(message)
    if match is None:  # 999 and TA1 errors: about the file's syntax, fixed by rebuilding it
        return RejectionReason(message.strip(), fix.strip())
    line, status = match.group(1), match.group(2)
    provider = any(words in message for words in _PROVIDER_WORDS)
    code = _STATUS_FIX_CODES.get(status, "")
    if status == "145":
        code = "provider_address" if provider else "member_address"
    elif status == "153":
        code = "provider_npi" if provider else "member_cin"
    elif code.startswith("member_") and provider:
        code = ""
    short = message[match.end() :].partition(": ")[2] or message[match.end() :]
    return RejectionReason(message.strip(), fix.strip(), code, int(line) if line else None, short.strip())


def rejection(claim: Claim) -> Rejection | None:
    """The plan's latest rejection of ``claim`` while it stands rejected (None otherwise): the
    history row written by the 999, 277CA or TA1 intake, read back into its reasons."""
    if claim.status != ClaimStatus.REJECTED:
        return None
    change = claim.history.filter(to_status=ClaimStatus.REJECTED).order_by("-created_at", "-pk").first()
    if change is None:
        return None
    head, *details = _split_reason(change.reason)
    return Rejection(head, change.created_at, tuple(_reason(d) for d in details))


def rejection_hints(claim_ids: list[int]) -> dict[int, str]:
    """For a page of rejected claims: each one's first reason in words (one query)."""
    hints: dict[int, str] = {}
    rows = (
        ClaimStatusChange.objects.filter(claim_id__in=claim_ids, to_status=ClaimStatus.REJECTED)
        .order_by("claim_id", "-created_at", "-pk")
        .values_list("claim_id", "reason")
    )
    for claim_id, reason in rows:
        if claim_id not in hints:
            head, *details = _split_reason(reason)
            first = _reason(details[0]) if details else None
            hints[claim_id] = (first.short or first.message) if first else head
    return hints
