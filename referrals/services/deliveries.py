"""Logging services delivered, and the checks every entry passes before it is saved.

Checks, each with a plain-language message (``ValidationError`` keyed by field):
1. the referral is accepted or in progress (or was, on the service date);
2. the contract between the plan and the CBO covers the service on the date(s) (contracts'
   ``coverage`` selector), in the member's county;
3. the member is enrolled with the plan on the date(s);
4. a justice-involved member is served no earlier than 90 days before the expected release;
5. when the contract's rate line requires prior authorization: an approved authorization of the
   referral covers the date(s) and has the units left — checked with the authorization row
   locked (``select_for_update``), so two people logging at once can never overdraw it;
6. no duplicate: the same member, service, day and staff member is logged once;
7. the contract's caps: units per day / week / month / year per member, per authorization, and the
   lifetime dollar cap.
Minutes convert to the contract's unit (15-minute units by the 8-minute rule).

An entry can be edited or voided until it is billed; a billed entry can only be corrected (void +
new entry, both kept). Billing calls ``mark_billed`` / ``mark_unbilled``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from cbo_portal import access
from cbo_portal.choices import AuditAction
from cbo_portal.fastpath import among
from cbo_portal.services import audit
from contracts import selectors as contract_selectors
from contracts.choices import AuthorizationMode
from contracts.models import RateLineVersion, ServiceCatalogEntry
from contracts.models.contracts import human_date
from contracts.money import money
from referrals import units as unit_rules
from referrals.choices import (
    USABLE_AUTHORIZATION,
    AuthorizationStatus,
    DeliveryStatus,
    PlaceOfService,
    ReferralStatus,
)
from referrals.models import Authorization, Referral, ServiceDelivery
from referrals.selectors import enrolled
from referrals.services.authorizations import use_units
from referrals.services.common import (
    PROVIDER_BILLERS,
    PROVIDER_WORKERS,
    can_act_for_provider,
    require_provider_role,
)
from referrals.services.consents import consent_problem
from referrals.services.referrals import mark_service_started

LOGGABLE = (
    ReferralStatus.ACCEPTED,
    ReferralStatus.IN_PROGRESS,
    ReferralStatus.COMPLETED,
    ReferralStatus.CLOSED,
)
EDITABLE_FIELDS = [
    "service_date",
    "end_date",
    "units",
    "minutes",
    "place_of_service",
    "note",
    "authorization",
]


@dataclass
class Entry:
    """What the person typed, before it becomes a ServiceDelivery."""

    service_date: date
    place_of_service: str
    units: Decimal | int | str | None = None  # as typed; ``_units`` checks it
    minutes: int | None = None
    end_date: date | None = None
    note: str = ""
    authorization: Authorization | None = None


def _d(day: date) -> str:
    return human_date(day)


def _units(entry: Entry, version: RateLineVersion) -> Decimal:
    """Units from what was typed: minutes convert to the contract's unit; otherwise units as given."""
    if entry.minutes:
        try:
            return unit_rules.minutes_to_units(int(entry.minutes), version.unit)
        except ValueError as exc:
            if entry.units is None:
                raise ValidationError({"minutes": str(exc)}) from exc
    if entry.units is None:
        raise ValidationError({"units": f"Enter the units ({version.get_unit_display().lower()}) delivered."})
    try:
        units = Decimal(str(entry.units))
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError({"units": "Units must be a number."}) from exc
    if not units.is_finite() or units <= 0:
        raise ValidationError({"units": "Log more than zero units."})
    if units != units.quantize(Decimal("0.01")):
        raise ValidationError({"units": "Units can have at most two decimal places."})
    return units


def _coverage(referral: Referral, service: ServiceCatalogEntry, day: date) -> RateLineVersion:
    found = contract_selectors.coverage(
        referral.cbo, referral.plan, service, on=day, county=referral.member.county
    )
    if not found.covered:
        raise ValidationError({"service_date": f"Not covered on {_d(day)}: {found.message}"})
    assert found.version is not None
    return found.version


def _period_units(base, start: date, end: date, exclude_pk: int | None) -> Decimal:
    qs = base.filter(service_date__range=(start, end))
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    return qs.aggregate(total=Sum("units"))["total"] or Decimal(0)


def _check_caps(delivery: ServiceDelivery, version: RateLineVersion, auth: Authorization | None) -> None:
    """The contract's per-member caps, counted over logged (not voided) entries for the same
    member, plan and service."""
    base = ServiceDelivery.objects.filter(
        member_id=delivery.member_id,
        plan_id=delivery.plan_id,
        service_id=delivery.service_id,
        status=DeliveryStatus.LOGGED,
    )
    day, units, days = delivery.service_date, delivery.units, delivery.days
    unit = version.get_unit_display().lower()
    per_day = units / days
    if version.units_per_day and per_day > version.units_per_day:
        raise ValidationError(
            {"units": f"The contract allows {version.units_per_day} {unit} per member per day."}
        )
    if version.units_per_day and days == 1:
        used = _period_units(base, day, day, delivery.pk)
        if used + units > version.units_per_day:
            raise ValidationError(
                {
                    "units": f"The contract allows {version.units_per_day} {unit} per member per "
                    f"day; {used} already logged on {_d(day)}."
                }
            )
    windows = []
    if version.units_per_week:
        start = day - timedelta(days=day.weekday())
        windows.append(("week", version.units_per_week, start, start + timedelta(days=6)))
    if version.units_per_month:
        start = day.replace(day=1)
        nxt = (start + timedelta(days=32)).replace(day=1)
        windows.append(("month", version.units_per_month, start, nxt - timedelta(days=1)))
    if version.units_per_year:
        windows.append(
            ("year", version.units_per_year, day.replace(month=1, day=1), day.replace(month=12, day=31))
        )
    for label, cap, start, end in windows:
        used = _period_units(base, start, end, delivery.pk)
        if used + units > cap:
            raise ValidationError(
                {
                    "units": f"The contract allows {cap} {unit} per member per {label}; {used} "
                    f"already logged this {label}, so {units} more would go over."
                }
            )
    per_authorization = version.units_per_authorization
    if per_authorization and auth is not None and auth.units_used + units > per_authorization:
        raise ValidationError(
            {"units": f"The contract allows {version.units_per_authorization} {unit} per authorization."}
        )
    if version.lifetime_dollar_cap:
        qs = base.exclude(pk=delivery.pk) if delivery.pk else base
        spent = money((qs.aggregate(t=Sum("units"))["t"] or Decimal(0)) * version.rate)
        this = money(units * version.rate)
        if spent + this > version.lifetime_dollar_cap:
            raise ValidationError(
                {
                    "units": f"The lifetime cap for this service is ${version.lifetime_dollar_cap}; "
                    f"${spent} is already logged for this member."
                }
            )


def _lock_authorization(
    delivery: ServiceDelivery, version: RateLineVersion, referral: Referral, requested: Authorization | None
) -> Authorization | None:
    """The authorization the entry draws on, locked for the rest of the transaction, or None when
    the contract does not need one before the service (presumptive ECM, retroactive, none)."""
    first, last = delivery.service_date, delivery.last_day
    if requested is not None:
        auth = Authorization.objects.select_for_update().get(pk=requested.pk)
        if auth.referral_id != referral.pk or auth.service_id != delivery.service_id:
            raise ValidationError({"authorization": "That authorization is for another referral or service."})
    elif version.authorization == AuthorizationMode.PRIOR:
        candidate = (
            Authorization.objects.filter(
                referral=referral,
                service_id=delivery.service_id,
                status__in=USABLE_AUTHORIZATION,
                start_date__lte=first,
                end_date__gte=last,
            )
            .order_by("end_date", "pk")
            .values_list("pk", flat=True)
            .first()
        )
        if candidate is None:
            used_up = Authorization.objects.filter(
                referral=referral,
                service_id=delivery.service_id,
                status=AuthorizationStatus.EXHAUSTED,
                start_date__lte=first,
                end_date__gte=last,
            ).first()
            if used_up is not None:
                raise ValidationError(
                    {
                        "units": f"Authorization {used_up.number} is used up (all "
                        f"{used_up.units_approved.normalize():f} units). Ask the plan for an "
                        "extension."
                    }
                )
            raise ValidationError(
                {
                    "authorization": (
                        f"{delivery.service.display} needs the plan's authorization, and no approved authorization of "
                        f"referral {referral.number} covers {_d(first)}{'' if first == last else ' to ' + _d(last)}. "
                        "Request one (or an extension) from the referral page."
                    )
                }
            )
        auth = Authorization.objects.select_for_update().get(pk=candidate)
    else:
        return None
    if auth.status not in USABLE_AUTHORIZATION:
        raise ValidationError(
            {
                "authorization": f"Authorization {auth.number or '(requested)'} is "
                f"{auth.get_status_display().lower()}; it cannot be used."
            }
        )
    if not (auth.covers(first) and auth.covers(last)):
        raise ValidationError(
            {
                "service_date": f"Authorization {auth.number} covers {_d(auth.start_date)} to "
                f"{_d(auth.end_date)}; {_d(first)} is outside it."
            }
        )
    return auth


def _validate(
    delivery: ServiceDelivery, entry: Entry, referral: Referral
) -> tuple[RateLineVersion, Authorization | None]:
    """Run every check on an unsaved (or edited) delivery. Returns the rate version and the locked
    authorization the units come from."""
    delivery.service_date, delivery.end_date = entry.service_date, entry.end_date or None
    if delivery.end_date == delivery.service_date:
        delivery.end_date = None
    delivery.place_of_service, delivery.note = entry.place_of_service, (entry.note or "").strip()
    if delivery.place_of_service not in PlaceOfService.values:
        raise ValidationError({"place_of_service": "Choose where the service took place."})
    if not delivery.service_date:
        raise ValidationError({"service_date": "Enter the date of service."})
    delivery.clean()
    first, last = delivery.service_date, delivery.last_day
    if referral.status not in LOGGABLE:
        raise ValidationError(
            f"Referral {referral.number} is {referral.get_status_display().lower()}; services can be logged "
            "once it is accepted."
        )
    if referral.closed_at and first > timezone.localtime(referral.closed_at).date():
        raise ValidationError(
            {
                "service_date": f"Referral {referral.number} was closed on "
                f"{_d(timezone.localtime(referral.closed_at).date())}."
            }
        )
    version = _coverage(referral, delivery.service, first)
    if last != first:
        end_version = _coverage(referral, delivery.service, last)
        if end_version.pk != version.pk:
            raise ValidationError(
                {"end_date": "The contract's terms change within this range; log each part separately."}
            )
    if version.consent_required:
        for day in sorted({first, last}):
            if problem := consent_problem(referral.member_id, version.consent_required, day):
                raise ValidationError({"service_date": problem})
    delivery.minutes = entry.minutes or None
    delivery.units = _units(entry, version)
    for day in {first, last}:
        if not enrolled(referral.member_id, referral.plan_id, on=day):
            raise ValidationError(
                {
                    "service_date": f"{referral.member.full_name} is not enrolled with "
                    f"{referral.plan} on {_d(day)}."
                }
            )
    earliest = referral.earliest_service_date
    if earliest and first < earliest:
        raise ValidationError(
            {
                "service_date": f"Services for a member leaving incarceration may start 90 days "
                f"before release, on {_d(earliest)} at the earliest."
            }
        )
    auth = _lock_authorization(delivery, version, referral, entry.authorization)
    delivery.authorization = auth
    duplicate = ServiceDelivery.objects.filter(
        member_id=delivery.member_id,
        service_id=delivery.service_id,
        staff_id=delivery.staff_id,
        status=DeliveryStatus.LOGGED,
    ).filter(Q(service_date__range=(first, last)) | Q(service_date__lt=first, end_date__gte=first))
    if delivery.pk:
        duplicate = duplicate.exclude(pk=delivery.pk)
    if duplicate.exists():
        raise ValidationError(
            {
                "service_date": f"{delivery.staff.get_full_name() or delivery.staff} already "
                f"logged {delivery.service.display} for {referral.member.full_name} on {_d(first)}. "
                "Edit that entry instead of adding another."
            }
        )
    if auth is not None:
        previous = Decimal(0)
        if delivery.pk:  # an edit: the entry's own units on this authorization come back first
            old = (
                ServiceDelivery.objects.filter(pk=delivery.pk)
                .values_list("authorization_id", "units")
                .first()
            )
            if old and old[0] == auth.pk:
                previous = old[1]
        left = (auth.units_approved or Decimal(0)) - auth.units_used + previous
        if delivery.units > left:
            raise ValidationError(
                {
                    "units": f"Only {left.normalize():f} unit{'s' if left != 1 else ''} left on "
                    f"authorization {auth.number}; this entry needs {delivery.units.normalize():f}. "
                    "Ask the plan for an extension."
                }
            )
    _check_caps(delivery, version, auth)
    return version, auth


def _resolve_staff(acting_user, staff, referral: Referral):
    staff = staff or acting_user
    if staff != acting_user and not can_act_for_provider(staff, referral.cbo, PROVIDER_WORKERS):
        raise ValidationError({"staff": f"{staff} does not work for {referral.cbo}."})
    return staff


@transaction.atomic
def log_service(
    *,
    acting_user,
    referral: Referral,
    service_date: date,
    place_of_service: str,
    units: Decimal | int | str | None = None,
    minutes: int | None = None,
    end_date: date | None = None,
    note: str = "",
    staff=None,
    service: ServiceCatalogEntry | None = None,
    authorization: Authorization | None = None,
    replaces: ServiceDelivery | None = None,
) -> ServiceDelivery:
    """Log one service delivered (a day or a date range) on an accepted referral, after every check
    in the module docstring. The first service moves an accepted referral to in progress."""
    require_provider_role(acting_user, referral.cbo, PROVIDER_WORKERS, action="log services")
    # Lock the referral, then the authorization: one order everywhere, so no deadlocks.
    referral = (
        Referral.objects.select_for_update(of=("self",))
        .select_related("plan", "cbo", "member", "member__county", "service")
        .get(pk=referral.pk)
    )
    staff = _resolve_staff(acting_user, staff, referral)
    delivery = ServiceDelivery(
        member=referral.member,
        cbo=referral.cbo,
        plan=referral.plan,
        referral=referral,
        service=service or referral.service,
        staff=staff,
        created_by=acting_user,
        replaces=replaces,
    )
    entry = Entry(
        service_date=service_date,
        end_date=end_date,
        units=units,
        minutes=minutes,
        place_of_service=place_of_service,
        note=note,
        authorization=authorization,
    )
    _version, auth = _validate(delivery, entry, referral)
    try:
        with transaction.atomic():
            delivery.save()
    except IntegrityError as exc:  # the partial unique index caught a concurrent duplicate
        raise ValidationError(
            {"service_date": "This service is already logged for that member, day and staff member."}
        ) from exc
    if auth is not None:
        use_units(auth, delivery.units, acting_user=acting_user)
    mark_service_started(referral, acting_user=acting_user, service_date=delivery.service_date)
    audit.record(
        actor=acting_user,
        action=AuditAction.CREATE,
        obj=delivery,
        organization=referral.cbo,
        summary=f"Logged {delivery.units.normalize():f} × {delivery.service.name} for {referral.member.full_name} on "
        f"{delivery.service_date}{' (correction)' if replaces else ''}",
    )
    return delivery


@transaction.atomic
def log_series(
    *,
    acting_user,
    referral: Referral,
    dates: Sequence[date],
    place_of_service: str,
    units: Decimal | int | str | None = None,
    minutes: int | None = None,
    note: str = "",
    staff=None,
) -> list[ServiceDelivery]:
    """Bulk entry for daily services (e.g. meals delivered Monday to Friday): one entry per date,
    all or none. Errors name the day they belong to."""
    if not dates:
        raise ValidationError({"dates": "Pick at least one day."})
    created: list[ServiceDelivery] = []
    problems: list[str] = []
    for day in sorted(set(dates)):
        try:
            with transaction.atomic():
                created.append(
                    log_service(
                        acting_user=acting_user,
                        referral=referral,
                        service_date=day,
                        place_of_service=place_of_service,
                        units=units,
                        minutes=minutes,
                        note=note,
                        staff=staff,
                    )
                )
        except ValidationError as exc:
            problems.extend(f"{day:%a} {_d(day)}: {m}" for m in exc.messages)
    if problems:
        raise ValidationError(problems)
    return created


def _lock_delivery(delivery: ServiceDelivery) -> ServiceDelivery:
    return (
        ServiceDelivery.objects.select_for_update()
        .select_related("service", "staff", "cbo", "plan")
        .get(pk=delivery.pk)
    )


def _require_editor(acting_user, delivery: ServiceDelivery, action: str) -> None:
    require_provider_role(acting_user, delivery.cbo, PROVIDER_WORKERS, action=action)


@transaction.atomic
def edit_delivery(delivery: ServiceDelivery, *, acting_user, changes: dict[str, Any]) -> ServiceDelivery:
    """Change an entry that is not billed yet; every check runs again. Units move between
    authorizations under their row locks."""
    _require_editor(acting_user, delivery, "edit services")
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(f"These fields cannot be edited: {', '.join(sorted(unknown))}")
    referral = (
        Referral.objects.select_for_update(of=("self",))
        .select_related("plan", "cbo", "member", "member__county")
        .get(pk=delivery.referral_id)
    )
    delivery = _lock_delivery(delivery)
    if not delivery.is_editable:
        raise ValidationError(
            "This entry is billed or voided; only a correction (void and re-enter) is possible."
        )
    before = {f: getattr(delivery, f) for f in EDITABLE_FIELDS}
    old_auth_id, old_units = delivery.authorization_id, delivery.units
    if old_auth_id:  # lock the old authorization first so the units it gets back are safe
        old_auth = Authorization.objects.select_for_update().get(pk=old_auth_id)
    minutes = changes.get("minutes", delivery.minutes)
    units = changes.get("units", delivery.units if "minutes" not in changes else None)
    entry = Entry(
        service_date=changes.get("service_date", delivery.service_date),
        end_date=changes.get("end_date", delivery.end_date),
        units=units,
        minutes=minutes,
        place_of_service=changes.get("place_of_service", delivery.place_of_service),
        note=changes.get("note", delivery.note),
        authorization=changes.get("authorization", delivery.authorization),
    )
    if "units" in changes and "minutes" not in changes:
        entry.minutes = None
    _version, auth = _validate(delivery, entry, referral)
    if old_auth_id:
        use_units(old_auth, -old_units, acting_user=acting_user)
        if auth is not None and auth.pk == old_auth_id:
            auth = old_auth
    try:
        with transaction.atomic():
            delivery.save()
    except IntegrityError as exc:
        raise ValidationError(
            {"service_date": "This service is already logged for that member, day and staff member."}
        ) from exc
    if auth is not None:
        use_units(auth, delivery.units, acting_user=acting_user)
    mark_service_started(referral, acting_user=acting_user, service_date=delivery.service_date)
    if diff := audit.diff(delivery, before, EDITABLE_FIELDS):
        audit.record(
            actor=acting_user,
            action=AuditAction.UPDATE,
            obj=delivery,
            organization=delivery.cbo,
            summary=f"Edited service entry #{delivery.pk}",
            changes=diff,
        )
    return delivery


def _void(delivery: ServiceDelivery, *, acting_user, reason: str) -> ServiceDelivery:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why this entry is voided."})
    if delivery.authorization_id:
        auth = Authorization.objects.select_for_update().get(pk=delivery.authorization_id)
        use_units(auth, -delivery.units, acting_user=acting_user)
    delivery.status, delivery.voided_at, delivery.voided_by = (
        DeliveryStatus.VOIDED,
        timezone.now(),
        acting_user,
    )
    delivery.void_reason = reason[:300]
    delivery.save(update_fields=["status", "voided_at", "voided_by", "void_reason", "updated_at"])
    audit.record(
        actor=acting_user,
        action=AuditAction.TRANSITION,
        obj=delivery,
        organization=delivery.cbo,
        summary=f"Voided service entry #{delivery.pk}: {reason[:200]}",
        changes={"status": [DeliveryStatus.LOGGED, DeliveryStatus.VOIDED]},
    )
    return delivery


@transaction.atomic
def void_delivery(delivery: ServiceDelivery, *, acting_user, reason: str) -> ServiceDelivery:
    """Void an entry that is not billed yet; its units go back to the authorization. It stays in
    the history."""
    _require_editor(acting_user, delivery, "void services")
    Referral.objects.select_for_update().filter(pk=delivery.referral_id).first()
    delivery = _lock_delivery(delivery)
    if delivery.status == DeliveryStatus.VOIDED:
        raise ValidationError("This entry is already voided.")
    if delivery.billed_at:
        raise ValidationError("This entry is billed; correct it instead (void and re-enter).")
    return _void(delivery, acting_user=acting_user, reason=reason)


@transaction.atomic
def correct_delivery(
    delivery: ServiceDelivery, *, acting_user, reason: str, **new: Any
) -> tuple[ServiceDelivery, ServiceDelivery]:
    """Correct an entry, billed or not: void it and log the corrected entry (``replaces`` points to
    the voided one). Both stay in the history; billing sees the voided, billed one and must void or
    replace its claim line. Returns (voided, new)."""
    _require_editor(acting_user, delivery, "correct services")
    Referral.objects.select_for_update().filter(pk=delivery.referral_id).first()
    delivery = _lock_delivery(delivery)
    if delivery.status == DeliveryStatus.VOIDED:
        raise ValidationError("This entry is already voided.")
    voided = _void(delivery, acting_user=acting_user, reason=f"Corrected: {reason}" if reason else "")
    fields = {
        "service_date": delivery.service_date,
        "end_date": delivery.end_date,
        "units": delivery.units,
        "minutes": None,
        "place_of_service": delivery.place_of_service,
        "note": delivery.note,
        "staff": delivery.staff,
        **new,
    }
    replacement = log_service(
        acting_user=acting_user,
        referral=delivery.referral,
        service=delivery.service,
        replaces=voided,
        **fields,
    )
    return voided, replacement


def _billing_scope(acting_user, deliveries: Iterable[ServiceDelivery]) -> None:
    if acting_user is None:  # billing's own system tasks
        return
    for cbo in {d.cbo for d in deliveries}:
        if not (
            access.is_platform_admin(acting_user) or can_act_for_provider(acting_user, cbo, PROVIDER_BILLERS)
        ):
            require_provider_role(acting_user, cbo, PROVIDER_BILLERS, action="bill services")


@transaction.atomic
def mark_billed(delivery_ids: Iterable[int], *, acting_user) -> list[ServiceDelivery]:
    """Billing put these entries on a claim or invoice: stamp ``billed_at``. Every one must be
    billable (logged, not voided, not billed) or nothing is stamped. ``acting_user=None`` is
    billing's system task."""
    ids = sorted(set(delivery_ids))
    rows = list(
        ServiceDelivery.objects.select_for_update().filter(pk__in=ids).select_related("cbo").order_by("pk")
    )
    _billing_scope(acting_user, rows)
    found = {d.pk for d in rows}
    problems = [f"Entry #{pk} does not exist." for pk in ids if pk not in found]
    problems += [f"Entry #{d.pk} is voided." for d in rows if d.status != DeliveryStatus.LOGGED]
    problems += [f"Entry #{d.pk} is already billed." for d in rows if d.billed_at]
    if problems:
        raise ValidationError(problems)
    now = timezone.now()
    ServiceDelivery.objects.filter(pk__in=ids).update(billed_at=now, updated_at=now)
    for d in rows:
        d.billed_at = now
    audit.record(
        actor=acting_user,
        action=AuditAction.UPDATE,
        object_type="referrals.ServiceDelivery",
        organization=rows[0].cbo if rows else None,
        summary=f"Marked {len(ids)} service entries billed",
        changes={"ids": ids[:1000]},
    )
    return rows


@transaction.atomic
def mark_billed_many(delivery_ids: list[int]) -> None:
    """Billing's big builds stamp ``billed_at`` on many entries in one UPDATE: entries the build's
    transaction has already locked and found billable (``mark_billed`` loads every row, about a
    second per 10,000). All or nothing: if any was billed or voided meanwhile, nothing is stamped."""
    now = timezone.now()
    stamped = ServiceDelivery.objects.filter(
        among("pk", delivery_ids), billed_at__isnull=True, status=DeliveryStatus.LOGGED
    ).update(billed_at=now, updated_at=now)
    if stamped != len(set(delivery_ids)):
        raise ValidationError("Some services were billed or voided meanwhile; nothing was billed. Try again.")


@transaction.atomic
def mark_unbilled(delivery_ids: Iterable[int], *, acting_user) -> list[ServiceDelivery]:
    """Billing took these entries off a claim (claim voided or never sent): clear ``billed_at`` so
    they can be edited and billed again."""
    ids = sorted(set(delivery_ids))
    rows = list(
        ServiceDelivery.objects.select_for_update().filter(pk__in=ids).select_related("cbo").order_by("pk")
    )
    _billing_scope(acting_user, rows)
    ServiceDelivery.objects.filter(pk__in=ids).update(billed_at=None, updated_at=timezone.now())
    for d in rows:
        d.billed_at = None
    audit.record(
        actor=acting_user,
        action=AuditAction.UPDATE,
        object_type="referrals.ServiceDelivery",
        organization=rows[0].cbo if rows else None,
        summary=f"Marked {len(ids)} service entries unbilled",
        changes={"ids": ids[:1000]},
    )
    return rows


def staff_choices(cbo) -> list:
    """People who may be named as the staff member on an entry for ``cbo``."""
    User = get_user_model()
    return list(
        User.objects.filter(
            memberships__organization=cbo, memberships__is_active=True, memberships__role__in=PROVIDER_WORKERS
        ).order_by("first_name", "last_name")
    )
