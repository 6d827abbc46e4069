"""One claim at a time: re-scrub (claims the plan has not received), correct and resubmit
(frequency 7), void (frequency 8) or withdraw, each by the provider's billing staff."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet

from billing.choices import ClaimFrequency, ClaimStatus
from billing.models import Claim, ClaimLine
from billing.scope import PROVIDER_BILLING_ROLES
from billing.services import control_numbers, scrubber
from billing.services.claims.drafting import (
    DELIVERY_FIELDS,
    BuildCache,
    Row,
    claim_diagnoses,
    contract_for,
    priced_lines,
)
from billing.services.claims.saving import LINE_FIELDS, save_claims, scrub_new
from billing.services.states import transition_claim
from cbo_portal import access
from cbo_portal.choices import AuditAction
from cbo_portal.services import audit
from cbo_portal.words import count
from contracts.money import ZERO, money
from referrals.models import Member, Referral, ServiceDelivery
from referrals.services.deliveries import mark_unbilled

RESCRUBBABLE = (ClaimStatus.DRAFT, ClaimStatus.HELD, ClaimStatus.READY, ClaimStatus.REJECTED)
CORRECTABLE = (ClaimStatus.PAID, ClaimStatus.PARTIALLY_PAID, ClaimStatus.DENIED)
# Claims a plan never received: voiding them is a withdrawal, no frequency-8 claim is sent.
UNSENT = (ClaimStatus.DRAFT, ClaimStatus.HELD, ClaimStatus.READY, ClaimStatus.REJECTED)
# What re-pricing a line changes: every column the builder writes but the line's identity (its
# claim, delivery, control number, service) and whether it is live.
REPRICED_FIELDS = [
    f
    for f in LINE_FIELDS
    if f not in ("claim_id", "delivery_id", "live", "line_control_number", "service_id")
]


def _rows_for(claim: Claim) -> list[Row]:
    """The claim's deliveries as they are now (current source data), in line order."""
    delivery_ids = list(claim.lines.order_by("line_number").values_list("delivery_id", flat=True))
    found = {
        v[0]: Row(*v)
        for v in ServiceDelivery.objects.filter(pk__in=delivery_ids).values_list(*DELIVERY_FIELDS)
    }
    return [found[d] for d in delivery_ids if d in found]


def _refreshed(claim: Claim, cache: BuildCache) -> tuple[list[Row], list[ClaimLine], dict[str, Any]]:
    """The claim re-read from its source data: its deliveries, re-priced lines and the claim
    fields they give (diagnoses, dates, total, contract)."""
    rows = _rows_for(claim)
    member = Member.objects.get(pk=claim.member_id)
    county = cache.counties.get(member.county_id) if member.county_id else None
    dx = dict(
        Referral.objects.filter(pk__in={r.referral_id for r in rows}).values_list("pk", "diagnosis_codes")
    )
    codes, pointers = claim_diagnoses(rows, dx)
    lines = priced_lines(rows, cache, county, pointers)
    fields: dict[str, Any] = {"diagnosis_codes": codes}
    if rows:
        contract = contract_for(rows, cache, county)
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
    cache = BuildCache()
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
    ClaimLine.objects.bulk_update(lines, REPRICED_FIELDS)
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
    cache = BuildCache()
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
        ln.service = cache.services[ln.service_id]
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
    cache = BuildCache()
    rows, lines, fields = _refreshed(original, cache)
    replacement = _successor(original, ClaimFrequency.REPLACEMENT, payer_number, acting_user=acting_user)
    for name, value in fields.items():
        setattr(replacement, name, value)
    cache.load_orgs([original.billing_provider_id, original.submitter_id, original.plan_id])
    scrub_new([(replacement, lines)], cache)
    save_claims(
        [(replacement, lines)], acting_user=acting_user, reason=f"Replaces claim {original.control_number}"
    )
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
