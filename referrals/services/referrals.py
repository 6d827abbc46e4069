"""A referral's closed loop.

    (CBO self/community referral) pending_review ──plan approves──▶ accepted
    (plan referral)               received ──▶ accepted ──▶ in_progress ──▶ completed
                                      │            │              │
                                      ▼            └──────────────┴──▶ closed (loop-closure reason)
                                  declined (reason)

Every move is checked against TRANSITIONS under a row lock, written to the status history and
audited. Response deadlines: routine referrals must be answered within
``REFERRAL_RESPONSE_BUSINESS_DAYS`` business days (default 3), urgent ones within
``REFERRAL_URGENT_RESPONSE_HOURS`` hours (default 72); both are settings.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from cbo_portal import access
from cbo_portal.choices import AuditAction
from cbo_portal.models import Organization
from cbo_portal.services import audit
from cbo_portal.statemachine import check_transition
from contracts.models import ServiceCatalogEntry
from contracts.selectors import CountyRef, RateBook
from referrals.choices import LoopClosureReason, OutreachMethod, Priority, ReferralSource, ReferralStatus
from referrals.models import Member, OutreachAttempt, Referral, ReferralStatusChange
from referrals.services import members as member_svc
from referrals.services.common import (
    PLAN_REFERRERS,
    PROVIDER_BILLERS,
    PROVIDER_WORKERS,
    actor_or_none,
    can_act_for_provider,
    require_plan_role,
    require_provider_role,
)

S = ReferralStatus
TRANSITIONS: dict[str, tuple[str, ...]] = {
    S.PENDING_REVIEW: (S.ACCEPTED, S.CLOSED),
    S.RECEIVED: (S.ACCEPTED, S.DECLINED, S.CLOSED),
    S.ACCEPTED: (S.IN_PROGRESS, S.CLOSED),
    S.IN_PROGRESS: (S.COMPLETED, S.CLOSED),
    S.DECLINED: (),
    S.COMPLETED: (),
    S.CLOSED: (),
}
REFERRAL_FIELDS = [
    "reason",
    "diagnosis_codes",
    "priority",
    "population",
    "expected_release_date",
    "facility_name",
    "post_release_provider",
    "notes",
    "contact_preference",
    "contact_notes",
    "plan_reference",
]


def response_deadline(received_at: datetime, priority: str) -> datetime:
    """When the CBO must accept or decline: N business days (Mon–Fri) for routine referrals,
    N hours for urgent ones. State holidays are not counted out (a plan may shorten N)."""
    if priority == Priority.URGENT:
        return received_at + timedelta(hours=getattr(settings, "REFERRAL_URGENT_RESPONSE_HOURS", 72))
    days = getattr(settings, "REFERRAL_RESPONSE_BUSINESS_DAYS", 3)
    local = timezone.localtime(received_at)
    while days > 0:
        local += timedelta(days=1)
        if local.weekday() < 5:
            days -= 1
    return local


def check_provider(cbo: Organization) -> None:
    """Only CBOs and hubs that passed onboarding receive referrals."""
    if not Organization.objects.approved_providers().filter(pk=cbo.pk).exists():
        raise ValidationError({"cbo": f"{cbo} has not finished onboarding, so it cannot receive referrals."})


def offer_problem(book: RateBook, service: ServiceCatalogEntry, *, county: CountyRef, on: date) -> str:
    """Why the plan of ``book`` may not refer a member of ``county`` to its CBO for ``service`` on
    ``on`` ('' when it may). The rule: a plan refers a member only for a service the CBO (or its
    hub) is contracted for with that plan on the day, in the member's county
    (``contracts.selectors.coverage``), whoever makes the referral and however it arrives."""
    found = book.coverage(service, on=on, county=county)
    return "" if found.covered else f"{book.cbo} cannot take referrals for {service.display}: {found.message}"


def check_offered(
    cbo: Organization, plan: Organization, service: ServiceCatalogEntry, *, county: CountyRef, on: date
) -> None:
    """Refuse a referral ``offer_problem`` does not allow, naming the service and why."""
    if problem := offer_problem(RateBook.load(cbo, plan, services=[service]), service, county=county, on=on):
        raise ValidationError({"service": problem})


def referral_offer_problem(referral: Referral) -> str:
    """``offer_problem`` for an existing referral today: what its CBO reads before accepting, when
    the contract no longer (or never) covered the service for this member."""
    book = RateBook.load(referral.cbo, referral.plan, services=[referral.service])
    return offer_problem(book, referral.service, county=referral.member.county, on=timezone.localdate())


def _history(referral: Referral, from_status: str, to_status: str, *, acting_user, reason: str = "") -> None:
    ReferralStatusChange.objects.create(
        referral=referral,
        from_status=from_status,
        to_status=to_status,
        actor=actor_or_none(acting_user),
        reason=reason[:300],
    )


@transaction.atomic
def create_referral(
    *,
    acting_user,
    plan: Organization,
    cbo: Organization,
    service: ServiceCatalogEntry,
    member: Member | None = None,
    member_details: dict[str, Any] | None = None,
    **fields: Any,
) -> Referral:
    """A plan care coordinator refers one of the plan's members to an approved CBO for one service.
    The member is given as a record or as details with a CIN (see ``members.resolve_member``: the
    referral asserts the member's enrollment with the plan from today, refused when another plan
    has them), for a service the CBO is contracted for (``check_offered``). The CBO must respond by
    the deadline (see ``response_deadline``). A refused referral writes nothing."""
    require_plan_role(acting_user, plan, PLAN_REFERRERS, action="refer members")
    return _create(
        acting_user=acting_user,
        plan=plan,
        cbo=cbo,
        member=member,
        member_details=member_details,
        service=service,
        source=ReferralSource.PLAN,
        status=S.RECEIVED,
        **fields,
    )


@transaction.atomic
def record_community_referral(
    *,
    acting_user,
    plan: Organization,
    cbo: Organization,
    service: ServiceCatalogEntry,
    member_details: dict[str, Any],
    source: str = ReferralSource.SELF,
    **fields: Any,
) -> Referral:
    """A CBO records a self-referral or community referral; it waits for the member's plan to
    review it (pending review → accepted, or closed as not eligible). What the CBO typed about the
    member stays on the referral: an existing member's record is never changed by it, and opens to
    the CBO only when the plan accepts."""
    require_provider_role(acting_user, cbo, PROVIDER_WORKERS, action="record community referrals")
    if source not in (ReferralSource.SELF, ReferralSource.COMMUNITY):
        raise ValidationError({"source": "A CBO records self-referrals or community referrals."})
    if plan.kind != "plan":
        raise ValidationError({"plan": "Choose the member's health plan."})
    return _create(
        acting_user=acting_user,
        plan=plan,
        cbo=cbo,
        member=None,
        member_details=member_details,
        service=service,
        source=source,
        status=S.PENDING_REVIEW,
        **fields,
    )


def _create(*, acting_user, plan, cbo, member, member_details, service, source, status, **fields) -> Referral:
    unknown = set(fields) - set(REFERRAL_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown referral fields: {', '.join(sorted(unknown))}")
    if (member is None) == (member_details is None):
        raise ValueError("Give the member as a record or as details, not both.")
    check_provider(cbo)
    now = timezone.now()
    referral = Referral(
        plan=plan,
        cbo=cbo,
        service=service,
        source=source,
        status=status,
        status_changed_at=now,
        created_at=now,
        created_by=actor_or_none(acting_user),
        **fields,
    )
    referral.plan_reference = (referral.plan_reference or "").strip()
    referral.full_clean(exclude=["member"], validate_constraints=False)
    if (
        referral.plan_reference
        and Referral.objects.filter(plan=plan, plan_reference=referral.plan_reference).exists()
    ):
        raise ValidationError({"plan_reference": f"{plan} already has a referral {referral.plan_reference}."})
    by_plan = source not in (ReferralSource.SELF, ReferralSource.COMMUNITY)
    if member_details is not None:
        details = dict(member_details)
        cin, checked = member_svc.check_details(details.pop("cin", ""), details)
        if not by_plan:
            referral.submitted_member = member_svc.as_submitted(checked)
        member = member_svc.resolve_member(
            acting_user=acting_user, referrer=plan if by_plan else cbo, cin=cin, details=details
        )
    elif by_plan:
        member_svc.ensure_enrolled(member, acting_user=acting_user, plan=plan, on=timezone.localdate())
    check_offered(cbo, plan, service, county=member.county, on=timezone.localdate())
    referral.member = member
    if status == S.RECEIVED:
        referral.respond_by = response_deadline(now, referral.priority)
    referral.save()
    _history(referral, "", status, acting_user=acting_user, reason=ReferralSource(source).label)
    audit.record(
        actor=acting_user,
        action=AuditAction.CREATE,
        obj=referral,
        organization=plan,
        summary=f"Referral {referral.number} of {member.cin} to {cbo} for {service.display}",
    )
    return referral


def _transition(referral: Referral, target: str, *, acting_user, reason: str = "") -> tuple[Referral, str]:
    """Lock the referral, check the move, set the new status and write the history row."""
    locked = Referral.objects.select_for_update().select_related("plan", "cbo", "member").get(pk=referral.pk)
    check_transition(TRANSITIONS, "referral", locked.status, target)
    previous = locked.status
    locked.status = target
    locked.status_changed_at = timezone.now()
    _history(locked, previous, target, acting_user=acting_user, reason=reason)
    return locked, previous


def _audit_move(referral: Referral, previous: str, *, acting_user, summary: str) -> None:
    audit.record(
        actor=acting_user,
        action=AuditAction.TRANSITION,
        obj=referral,
        organization=referral.cbo,
        summary=f"Referral {referral.number}: {summary}",
        changes={"status": [previous, referral.status]},
    )


@transaction.atomic
def accept(referral: Referral, *, acting_user) -> Referral:
    """The CBO accepts a received referral (its admins or staff, or its hub's)."""
    require_provider_role(acting_user, referral.cbo, PROVIDER_WORKERS, action="accept referrals")
    referral, previous = _transition(referral, S.ACCEPTED, acting_user=acting_user)
    referral.responded_at = referral.status_changed_at
    referral.save(update_fields=["status", "status_changed_at", "responded_at"])
    _audit_move(referral, previous, acting_user=acting_user, summary="accepted")
    return referral


@transaction.atomic
def decline(referral: Referral, *, acting_user, reason: str) -> Referral:
    """The CBO declines a received referral and says why (e.g. at capacity, outside service area)."""
    require_provider_role(acting_user, referral.cbo, PROVIDER_WORKERS, action="decline referrals")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Tell the plan why you are declining this referral."})
    referral, previous = _transition(referral, S.DECLINED, acting_user=acting_user, reason=reason)
    referral.responded_at = referral.closed_at = referral.status_changed_at
    referral.decline_reason = reason[:300]
    referral.save(
        update_fields=["status", "status_changed_at", "responded_at", "closed_at", "decline_reason"]
    )
    _audit_move(referral, previous, acting_user=acting_user, summary=f"declined ({reason[:120]})")
    return referral


@transaction.atomic
def approve_community_referral(referral: Referral, *, acting_user) -> Referral:
    """The member's plan approves a CBO's self/community referral; it becomes an accepted referral
    and the member's enrollment is recorded from today if none covers today."""
    require_plan_role(acting_user, referral.plan_id, PLAN_REFERRERS, action="review community referrals")
    if referral.status != S.PENDING_REVIEW:
        check_transition(TRANSITIONS, "referral", referral.status, S.PENDING_REVIEW)
    referral, previous = _transition(
        referral, S.ACCEPTED, acting_user=acting_user, reason="Approved by the plan"
    )
    referral.responded_at = referral.status_changed_at
    referral.save(update_fields=["status", "status_changed_at", "responded_at"])
    member_svc.ensure_enrolled(
        referral.member, acting_user=acting_user, plan=referral.plan, on=timezone.localdate()
    )
    _propose_submitted_details(referral, acting_user=acting_user)
    _audit_move(
        referral, previous, acting_user=acting_user, summary="community referral approved by the plan"
    )
    return referral


def _propose_submitted_details(referral: Referral, *, acting_user) -> None:
    """Details the CBO typed that differ from the member's record become a correction it proposed,
    for the plan to accept or reject on the member's page (they never change the record alone)."""
    details = {k: v for k, v in (referral.submitted_member or {}).items() if k in member_svc.MEMBER_FIELDS}
    try:
        member_svc.propose_correction(
            referral.member,
            acting_user=referral.created_by,
            organization=referral.cbo,
            note=f"Typed on community referral {referral.number}",
            **details,
        )
    except (ValidationError, PermissionDenied):  # nothing differs, or its author has left the CBO
        return


@transaction.atomic
def start(referral: Referral, *, acting_user, reason: str = "") -> Referral:
    """Services have begun (also happens by itself when the first service is logged)."""
    require_provider_role(acting_user, referral.cbo, PROVIDER_WORKERS, action="start services")
    referral, previous = _transition(referral, S.IN_PROGRESS, acting_user=acting_user, reason=reason)
    referral.save(update_fields=["status", "status_changed_at"])
    _audit_move(referral, previous, acting_user=acting_user, summary="services in progress")
    return referral


@transaction.atomic
def complete(referral: Referral, *, acting_user, note: str = "") -> Referral:
    """The CBO finished the services: the loop closes with "services received"."""
    require_provider_role(acting_user, referral.cbo, PROVIDER_WORKERS, action="complete referrals")
    referral, previous = _transition(referral, S.COMPLETED, acting_user=acting_user, reason=note)
    referral.closure_reason = LoopClosureReason.SERVICES_RECEIVED
    referral.closure_note = (note or "")[:300]
    referral.closed_at = referral.status_changed_at
    referral.save(
        update_fields=["status", "status_changed_at", "closure_reason", "closure_note", "closed_at"]
    )
    _audit_move(referral, previous, acting_user=acting_user, summary="completed (services received)")
    return referral


@transaction.atomic
def close(referral: Referral, *, acting_user, reason: str, note: str = "") -> Referral:
    """Close the loop with a reason from the fixed list (services received, member declined,
    unable to reach, not eligible, moved, deceased, other — "other" needs a note). The CBO's
    workers or the plan's care coordinators may close."""
    if not (
        can_act_for_provider(acting_user, referral.cbo, PROVIDER_WORKERS)
        or access.has_role(acting_user, referral.plan_id, PLAN_REFERRERS)
    ):
        require_plan_role(acting_user, referral.plan_id, PLAN_REFERRERS, action="close referrals")
    if reason not in LoopClosureReason.values:
        raise ValidationError({"reason": "Choose why the referral loop is closing."})
    note = (note or "").strip()
    if reason == LoopClosureReason.OTHER and not note:
        raise ValidationError({"note": "Say what the other reason is."})
    label = LoopClosureReason(reason).label
    referral, previous = _transition(
        referral, S.CLOSED, acting_user=acting_user, reason=f"{label}{': ' + note if note else ''}"
    )
    referral.closure_reason, referral.closure_note = reason, note[:300]
    referral.closed_at = referral.status_changed_at
    referral.save(
        update_fields=["status", "status_changed_at", "closure_reason", "closure_note", "closed_at"]
    )
    _audit_move(referral, previous, acting_user=acting_user, summary=f"closed ({label})")
    return referral


@transaction.atomic
def hand_off(referral: Referral, *, acting_user) -> Referral:
    """A justice-involved member is released: close this (pre-release) referral as services received
    and refer the member to the post-release ECM provider the plan named. Returns the new referral."""
    require_plan_role(acting_user, referral.plan_id, PLAN_REFERRERS, action="hand members off")
    referral = Referral.objects.select_related("post_release_provider", "member", "service").get(
        pk=referral.pk
    )
    if referral.post_release_provider is None:
        raise ValidationError({"post_release_provider": "Name the post-release ECM provider first."})
    fields = {f: getattr(referral, f) for f in REFERRAL_FIELDS if f not in ("plan_reference",)}
    fields["post_release_provider"] = None
    fields["notes"] = f"Hand-off from {referral.number} ({referral.cbo}). {referral.notes}".strip()
    new = _create(
        acting_user=acting_user,
        plan=referral.plan,
        cbo=referral.post_release_provider,
        member=referral.member,
        member_details=None,
        service=referral.service,
        source=ReferralSource.HANDOFF,
        status=S.RECEIVED,
        **fields,
    )
    Referral.objects.filter(pk=new.pk).update(handed_off_from=referral)
    if referral.status in (S.ACCEPTED, S.IN_PROGRESS, S.RECEIVED, S.PENDING_REVIEW):
        old, previous = _transition(
            referral, S.CLOSED, acting_user=acting_user, reason=f"Handed off to {new.cbo} ({new.number})"
        )
        old.closure_reason, old.closed_at = LoopClosureReason.OTHER, old.status_changed_at
        old.closure_note = f"Handed off to post-release provider {new.cbo}"[:300]
        old.save(update_fields=["status", "status_changed_at", "closure_reason", "closure_note", "closed_at"])
        _audit_move(old, previous, acting_user=acting_user, summary=f"handed off to {new.cbo}")
    new.refresh_from_db()
    return new


@transaction.atomic
def record_outreach(
    referral: Referral,
    *,
    acting_user,
    attempted_on: date,
    method: str,
    successful: bool,
    minutes: int = 0,
    note: str = "",
) -> OutreachAttempt:
    """Log an attempt to reach the member (for the plan's outreach tracker file)."""
    require_provider_role(acting_user, referral.cbo, PROVIDER_WORKERS, action="log outreach")
    if method not in OutreachMethod.values:
        raise ValidationError({"method": "Choose how you tried to reach the member."})
    attempt = OutreachAttempt(
        referral=referral,
        attempted_on=attempted_on,
        method=method,
        successful=bool(successful),
        minutes=minutes or 0,
        note=(note or "")[:300],
        staff=acting_user,
    )
    attempt.full_clean()
    attempt.save()
    audit.record(
        actor=acting_user,
        action=AuditAction.CREATE,
        obj=attempt,
        organization=referral.cbo,
        summary=f"Outreach ({attempt.get_method_display().lower()}, "
        f"{'reached' if successful else 'not reached'}) on referral {referral.number}",
    )
    return attempt


def mark_service_started(referral: Referral, *, acting_user, service_date: date) -> None:
    """Called (inside the logging transaction, with the referral locked) when a service is logged:
    an accepted referral moves to in progress; the first service date is kept for reporting."""
    fields = []
    if referral.first_service_date is None or service_date < referral.first_service_date:
        referral.first_service_date = service_date
        fields.append("first_service_date")
    if referral.status == S.ACCEPTED:
        previous = referral.status
        check_transition(TRANSITIONS, "referral", previous, S.IN_PROGRESS)
        referral.status, referral.status_changed_at = S.IN_PROGRESS, timezone.now()
        _history(referral, previous, S.IN_PROGRESS, acting_user=acting_user, reason="First service logged")
        fields += ["status", "status_changed_at"]
    if fields:
        referral.save(update_fields=fields)


def can_edit_diagnoses(user, referral: Referral) -> bool:
    """The referring plan's care coordinators and admins, and the CBO's (or its hub's) admins, staff
    and billing coordinators: the CBO screens for social needs, and its claims carry these codes."""
    return can_act_for_provider(
        user, referral.cbo, (*PROVIDER_WORKERS, *PROVIDER_BILLERS)
    ) or access.has_role(user, referral.plan_id, PLAN_REFERRERS)


@transaction.atomic
def set_diagnoses(referral: Referral, *, acting_user, codes: list[str]) -> Referral:
    """Replace the referral's ICD-10-CM diagnosis codes (e.g. the social-need Z code a claim is held
    for). Each code must be well formed; a declined referral is not changed."""
    if not can_edit_diagnoses(acting_user, referral):
        require_plan_role(acting_user, referral.plan_id, PLAN_REFERRERS, action="change diagnosis codes")
    locked = Referral.objects.select_for_update().select_related("plan", "cbo").get(pk=referral.pk)
    if locked.status == S.DECLINED:
        raise ValidationError(f"Referral {locked.number} was declined; its diagnosis codes cannot change.")
    previous = list(locked.diagnosis_codes or [])
    locked.diagnosis_codes = list(codes)
    locked.full_clean(validate_constraints=False)
    if not locked.diagnosis_codes:
        raise ValidationError({"diagnosis_codes": "Enter at least one ICD-10-CM code, e.g. Z59.01."})
    locked.save(update_fields=["diagnosis_codes"])
    audit.record(
        actor=acting_user,
        action=AuditAction.UPDATE,
        obj=locked,
        organization=locked.cbo,
        summary=f"Referral {locked.number}: diagnosis codes {', '.join(locked.diagnosis_codes)}",
        changes={"diagnosis_codes": [previous, locked.diagnosis_codes]},
    )
    return locked
