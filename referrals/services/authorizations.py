"""Authorizations: the plan authorizes (or a CBO requests and the plan decides), units are used
by logged services under a row lock, and authorizations expire or run out.

    requested ──▶ approved | partially_approved | denied
    approved / partially_approved ──▶ expired | exhausted
    exhausted ──▶ approved | partially_approved (a void gave units back) | expired

ECM is presumptively authorized for contracted providers and needs no authorization; sobering
centers (retroactive) are logged first and authorized after the fact — approving a retroactive
authorization attaches the referral's matching unauthorized entries. Which applies comes from
the contract's rate line version in force on the service date.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from cbo_portal.choices import AuditAction
from cbo_portal.services import audit
from cbo_portal.statemachine import check_transition
from referrals.choices import (
    USABLE_AUTHORIZATION,
    AuthorizationKind,
    AuthorizationStatus,
    DeliveryStatus,
    ReferralStatus,
)
from referrals.models import Authorization, AuthorizationStatusChange, Referral, ServiceDelivery
from referrals.services.common import (
    PLAN_AUTHORIZERS,
    PROVIDER_WORKERS,
    actor_or_none,
    require_plan_role,
    require_provider_role,
)

A = AuthorizationStatus
TRANSITIONS: dict[str, tuple[str, ...]] = {
    A.REQUESTED: (A.APPROVED, A.PARTIALLY_APPROVED, A.DENIED),
    A.APPROVED: (A.EXPIRED, A.EXHAUSTED),
    A.PARTIALLY_APPROVED: (A.EXPIRED, A.EXHAUSTED),
    A.EXHAUSTED: (A.APPROVED, A.PARTIALLY_APPROVED, A.EXPIRED),
    A.DENIED: (),
    A.EXPIRED: (),
}
AUTHORIZABLE_REFERRAL = (
    ReferralStatus.RECEIVED,
    ReferralStatus.ACCEPTED,
    ReferralStatus.IN_PROGRESS,
    ReferralStatus.PENDING_REVIEW,
)


def _history(auth: Authorization, previous: str, target: str, *, acting_user, reason: str = "") -> None:
    AuthorizationStatusChange.objects.create(
        authorization=auth,
        from_status=previous,
        to_status=target,
        actor=actor_or_none(acting_user),
        reason=reason[:300],
    )


def _move(auth: Authorization, target: str, *, acting_user, reason: str = "") -> str:
    """Check and apply a move on an already locked authorization; returns the previous status."""
    check_transition(TRANSITIONS, "authorization", auth.status, target)
    previous = auth.status
    auth.status = target
    _history(auth, previous, target, acting_user=acting_user, reason=reason)
    return previous


def _check_referral(referral: Referral) -> None:
    if referral.status not in AUTHORIZABLE_REFERRAL:
        raise ValidationError(
            f"Referral {referral.number} is {referral.get_status_display().lower()}; it can no longer be authorized."
        )


def _save_new(auth: Authorization) -> Authorization:
    auth.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            auth.save()
    except IntegrityError as exc:
        raise ValidationError({"number": f"Authorization number {auth.number} is already used."}) from exc
    return auth


@transaction.atomic
def authorize(
    referral: Referral,
    *,
    acting_user,
    number: str,
    units: Decimal | int | str,
    start_date: date,
    end_date: date,
    note: str = "",
    kind: str = AuthorizationKind.PRIOR,
) -> Authorization:
    """The plan authorizes the referral's service directly: ``units`` units from ``start_date`` to
    ``end_date`` under ``number``."""
    require_plan_role(acting_user, referral.plan_id, PLAN_AUTHORIZERS, action="authorize services")
    referral = Referral.objects.select_for_update().get(pk=referral.pk)
    _check_referral(referral)
    units = Decimal(str(units))
    auth = Authorization(
        referral=referral,
        plan_id=referral.plan_id,
        cbo_id=referral.cbo_id,
        member_id=referral.member_id,
        service_id=referral.service_id,
        number=(number or "").strip(),
        kind=kind,
        status=A.APPROVED,
        units_requested=units,
        units_approved=units,
        start_date=start_date,
        end_date=end_date,
        decision_note=note[:300],
        requested_by=actor_or_none(acting_user),
        decided_by=actor_or_none(acting_user),
        decided_at=timezone.now(),
    )
    _save_new(auth)
    _history(auth, "", A.APPROVED, acting_user=acting_user, reason="Authorized by the plan")
    if kind == AuthorizationKind.RETROACTIVE:
        _attach_unauthorized(auth)
    audit.record(
        actor=acting_user,
        action=AuditAction.CREATE,
        obj=auth,
        organization=referral.plan,
        summary=f"Authorized {units} units ({auth.number}) on referral {referral.number}",
    )
    return auth


@transaction.atomic
def request_authorization(
    referral: Referral,
    *,
    acting_user,
    units: Decimal | int | str,
    start_date: date,
    end_date: date,
    note: str = "",
    extends: Authorization | None = None,
    kind: str = AuthorizationKind.PRIOR,
) -> Authorization:
    """The CBO asks the plan to authorize (or, with ``extends``, to extend) the referral's service.
    A retroactive request (sobering centers) may cover past dates already served. While one
    request for the referral's service waits for the plan, another is refused."""
    require_provider_role(acting_user, referral.cbo, PROVIDER_WORKERS, action="request authorizations")
    referral = Referral.objects.select_for_update().get(pk=referral.pk)
    _check_referral(referral)
    if extends is not None and extends.referral_id != referral.pk:
        raise ValidationError({"extends": "An extension must be for the same referral."})
    # One open request per referral and service: a second would only wait in the plan's queue
    # beside the first (the referral's row lock above makes two at once impossible too).
    waiting = Authorization.objects.filter(
        referral=referral, service_id=referral.service_id, status=A.REQUESTED
    ).first()
    if waiting is not None:
        raise ValidationError(
            f"Your request for {waiting.units_requested:g} units ({waiting.start_date:%b %-d} to "
            f"{waiting.end_date:%b %-d, %Y}) is still waiting for {referral.plan}'s decision; wait for it, "
            "or ask the plan to decide it, before requesting again."
        )
    auth = Authorization(
        referral=referral,
        plan_id=referral.plan_id,
        cbo_id=referral.cbo_id,
        member_id=referral.member_id,
        service_id=referral.service_id,
        kind=kind,
        status=A.REQUESTED,
        units_requested=Decimal(str(units)),
        start_date=start_date,
        end_date=end_date,
        request_note=(note or "")[:300],
        extends=extends,
        requested_by=actor_or_none(acting_user),
    )
    _save_new(auth)
    _history(auth, "", A.REQUESTED, acting_user=acting_user, reason=note or ("Extension" if extends else ""))
    audit.record(
        actor=acting_user,
        action=AuditAction.CREATE,
        obj=auth,
        organization=referral.cbo,
        summary=f"Requested {'an extension of ' if extends else ''}{auth.units_requested} units on referral "
        f"{referral.number}",
    )
    return auth


@transaction.atomic
def decide(
    auth: Authorization,
    *,
    acting_user,
    decision: str,
    number: str = "",
    units_approved: Decimal | int | str | None = None,
    note: str = "",
) -> Authorization:
    """The plan decides a requested authorization: approve (all units, or fewer = partially
    approved) with an authorization number, or deny with a reason."""
    require_plan_role(acting_user, auth.plan_id, PLAN_AUTHORIZERS, action="decide authorizations")
    auth = Authorization.objects.select_for_update().select_related("referral").get(pk=auth.pk)
    if decision not in (A.APPROVED, A.PARTIALLY_APPROVED, A.DENIED):
        raise ValidationError({"decision": "Approve, partially approve or deny the request."})
    if auth.status != A.REQUESTED:
        check_transition(TRANSITIONS, "authorization", auth.status, decision)
    if decision == A.DENIED:
        if not (note or "").strip():
            raise ValidationError({"note": "Say why the request is denied."})
        previous = _move(auth, A.DENIED, acting_user=acting_user, reason=note)
    else:
        units = Decimal(str(units_approved)) if units_approved not in (None, "") else auth.units_requested
        if units > auth.units_requested:
            raise ValidationError({"units_approved": f"Only {auth.units_requested} units were requested."})
        target = A.APPROVED if units == auth.units_requested else A.PARTIALLY_APPROVED
        if decision == A.PARTIALLY_APPROVED and target == A.APPROVED:
            raise ValidationError({"units_approved": "A partial approval gives fewer units than requested."})
        auth.units_approved, auth.number = units, (number or "").strip()
        previous = _move(auth, target, acting_user=acting_user, reason=note)
    auth.decided_by, auth.decided_at, auth.decision_note = acting_user, timezone.now(), (note or "")[:300]
    auth.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            auth.save()
    except IntegrityError as exc:
        raise ValidationError({"number": f"Authorization number {auth.number} is already used."}) from exc
    if auth.kind == AuthorizationKind.RETROACTIVE and auth.status in USABLE_AUTHORIZATION:
        _attach_unauthorized(auth)
    audit.record(
        actor=acting_user,
        action=AuditAction.TRANSITION,
        obj=auth,
        organization=auth.plan,
        summary=f"Authorization request on referral {auth.referral.number}: {auth.get_status_display().lower()}",
        changes={"status": [previous, auth.status], "units_approved": [None, str(auth.units_approved)]},
    )
    return auth


def _attach_unauthorized(auth: Authorization) -> None:
    """Retroactive authorization: link the referral's logged entries in the span that have none,
    as far as the units go (oldest first)."""
    entries = (
        ServiceDelivery.objects.select_for_update()
        .filter(
            referral_id=auth.referral_id,
            service_id=auth.service_id,
            authorization__isnull=True,
            status=DeliveryStatus.LOGGED,
            service_date__range=(auth.start_date, auth.end_date),
        )
        .order_by("service_date", "pk")
    )
    for entry in entries:
        if auth.units_used + entry.units > auth.units_approved:
            break
        ServiceDelivery.objects.filter(pk=entry.pk).update(authorization=auth)
        use_units(auth, entry.units, acting_user=None)


def use_units(auth: Authorization, delta: Decimal, *, acting_user) -> Authorization:
    """Add (or, negative, give back) units on a LOCKED authorization, moving it to exhausted when
    none are left and back when a void frees some. Callers hold ``select_for_update`` on it."""
    auth.units_used = auth.units_used + delta
    if auth.units_used < 0:
        raise ValidationError("An authorization cannot have fewer than zero units used.")
    Authorization.objects.filter(pk=auth.pk).update(units_used=F("units_used") + delta)
    if auth.status in USABLE_AUTHORIZATION and auth.units_used >= (auth.units_approved or 0):
        _move(auth, A.EXHAUSTED, acting_user=acting_user, reason="All units used")
        Authorization.objects.filter(pk=auth.pk).update(status=auth.status)
    elif auth.status == A.EXHAUSTED and auth.units_used < (auth.units_approved or 0):
        target = A.APPROVED if auth.units_approved == auth.units_requested else A.PARTIALLY_APPROVED
        _move(auth, target, acting_user=acting_user, reason="Units given back by a voided entry")
        Authorization.objects.filter(pk=auth.pk).update(status=auth.status)
    return auth


@transaction.atomic
def expire_ended(*, today: date | None = None) -> int:
    """Mark authorizations whose last day has passed as expired (a daily task). Returns how many."""
    today = today or timezone.localdate()
    count = 0
    ids = Authorization.objects.filter(
        status__in=(*USABLE_AUTHORIZATION, A.EXHAUSTED), end_date__lt=today
    ).values_list("pk", flat=True)
    for pk in list(ids):
        auth = Authorization.objects.select_for_update().get(pk=pk)
        previous = _move(auth, A.EXPIRED, acting_user=None, reason="Last day passed")
        auth.save(update_fields=["status"])
        audit.record(
            actor=None,
            action=AuditAction.TRANSITION,
            obj=auth,
            organization=auth.plan,
            summary=f"Authorization {auth.number} expired",
            changes={"status": [previous, A.EXPIRED]},
        )
        count += 1
    return count
