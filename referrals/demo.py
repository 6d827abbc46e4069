"""Demo referrals for ``make run``: plan enrollees referred to the demo CBO in every step of the
closed loop — received (one overdue), accepted, in progress with an authorization and logged
meals, declined, closed — plus a community referral for the plan to review and an authorization
request to decide. Everything goes through the services.

Idempotent: members are found by CIN and referrals by their plan reference, so running it twice
changes nothing. Its members and CINs differ from billing's demo (which logs ECM itself).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from cbo_portal.choices import Role
from cbo_portal.models import Membership
from contracts.models import ServiceCatalogEntry
from referrals.choices import ReferralStatus
from referrals.models import (
    Authorization,
    AuthorizationStatusChange,
    Enrollment,
    OutreachAttempt,
    Referral,
    ReferralStatusChange,
)
from referrals.services import authorizations as auth_svc
from referrals.services import deliveries as delivery_svc
from referrals.services import members as member_svc
from referrals.services import referrals as ref_svc

# (plan reference, CIN, first, last, dob, service, priority, reason, diagnosis, outcome)
REFERRALS = [
    (
        "PCHP-DEMO-101",
        "91235101A",
        "Luz",
        "Ramirez",
        "1957-03-14",
        "S5170-U6",
        "urgent",
        "Congestive heart failure; discharged home, cannot shop or cook",
        ["Z59.41", "I50.9"],
        "received_overdue",
    ),
    (
        "PCHP-DEMO-102",
        "91235102B",
        "Samuel",
        "Greene",
        "1949-11-02",
        "T2040-U6",
        "routine",
        "Newly housed; needs help keeping the tenancy",
        ["Z59.01"],
        "received",
    ),
    (
        "PCHP-DEMO-103",
        "91235103C",
        "Ana",
        "Morales",
        "1966-07-21",
        "S5170-U6",
        "routine",
        "Diabetes with food insecurity",
        ["Z59.41", "E11.9"],
        "accepted",
    ),
    (
        "PCHP-DEMO-104",
        "91235104D",
        "Terrence",
        "Hall",
        "1972-01-30",
        "S5170-U6",
        "urgent",
        "Post-surgery, medically tailored meals for 4 weeks",
        ["Z59.48"],
        "in_progress",
    ),
    (
        "PCHP-DEMO-105",
        "91235105E",
        "Grace",
        "Lee",
        "1980-09-09",
        "T2040-U6",
        "routine",
        "Eviction notice received",
        ["Z59.811"],
        "declined",
    ),
    (
        "PCHP-DEMO-106",
        "91235106F",
        "Oscar",
        "Nguyen",
        "1955-05-05",
        "S5170-U6",
        "routine",
        "Food insecurity after hospital stay",
        ["Z59.41"],
        "closed",
    ),
]


def _user(org, role: str):
    """The org's first member with ``role`` (world.users is keyed by role across all orgs)."""
    membership = (
        Membership.objects.filter(organization=org, role=role).select_related("user").order_by("pk").first()
    )
    return membership.user


def _entry(label: str) -> ServiceCatalogEntry:
    code, *mods = label.split("-")
    return ServiceCatalogEntry.lookup(code, mods)


def _member(cin: str, first: str, last: str, dob: str, *, coordinator, plan):
    details = dict(
        first_name=first,
        last_name=last,
        dob=date.fromisoformat(dob),
        phone="323-555-01" + cin[6:8],
        street=f"{100 + int(cin[5:8])} E Cesar Chavez Ave",
        city="Los Angeles",
        zip="90033",
        county="Los Angeles",
        preferred_language="Spanish" if first in ("Luz", "Ana") else "English",
    )
    # The plan records its enrollee, enrolled since January 1 of last year.
    return member_svc.resolve_member(
        acting_user=coordinator,
        referrer=plan,
        cin=cin,
        details=details,
        on=date(timezone.localdate().year - 1, 1, 1),
    )


def _past_days(count: int) -> list[date]:
    """The last ``count`` weekdays before today, not before January 1 (the contracts start then)."""
    today, days = timezone.localdate(), []
    day = today - timedelta(days=1)
    while len(days) < count and day >= date(today.year, 1, 1):
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return sorted(days)


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def _as_it_happened(referral: Referral, *, received: datetime, first_service: date | None) -> None:
    """The services run each step at once, today, while the services logged are from past days.
    Put every step where it happened, so nothing comes before the referral was received: received,
    accepted (and the member reached by phone) the next day, authorized the day after, in progress
    from the first service. A later step (closing the loop) keeps its time."""
    accepted = received + timedelta(days=1, minutes=45)
    authorized = received + timedelta(days=2, hours=4)
    when = {ReferralStatus.RECEIVED: received, ReferralStatus.ACCEPTED: accepted}
    if first_service is not None:
        when[ReferralStatus.IN_PROGRESS] = _at(first_service, 17)
    for change in ReferralStatusChange.objects.filter(referral=referral, to_status__in=list(when)):
        ReferralStatusChange.objects.filter(pk=change.pk).update(created_at=when[change.to_status])
    r = Referral.objects.get(pk=referral.pk)
    changes: dict[str, object] = {"created_at": received, "responded_at": accepted}
    if r.respond_by is not None:
        changes["respond_by"] = received + (r.respond_by - r.created_at)
    if r.status in when:
        changes["status_changed_at"] = when[r.status]
    Referral.objects.filter(pk=r.pk).update(**changes)
    OutreachAttempt.objects.filter(referral=r).update(
        attempted_on=timezone.localdate(accepted), created_at=accepted + timedelta(minutes=20)
    )
    decided = Authorization.objects.filter(referral=r, decided_at__isnull=False)
    AuthorizationStatusChange.objects.filter(authorization__in=decided).update(created_at=authorized)
    decided.update(created_at=authorized, decided_at=authorized)


@transaction.atomic
def seed(world) -> None:
    plan, cbo = world.orgs["plan"], world.orgs["cbo"]
    coordinator = _user(plan, Role.PLAN_CARE_COORDINATOR)
    admin, staff = _user(cbo, Role.CBO_ADMIN), _user(cbo, Role.CBO_STAFF)
    today = timezone.localdate()
    for ref, cin, first, last, dob, label, priority, reason, dx, outcome in REFERRALS:
        if Referral.objects.filter(plan=plan, plan_reference=ref).exists():
            continue
        member = _member(cin, first, last, dob, coordinator=coordinator, plan=plan)
        r = ref_svc.create_referral(
            acting_user=coordinator,
            plan=plan,
            cbo=cbo,
            member=member,
            service=_entry(label),
            plan_reference=ref,
            reason=reason,
            diagnosis_codes=dx,
            priority=priority,
            contact_preference="phone",
            contact_notes="Weekday afternoons",
        )
        if outcome == "received_overdue":  # a referral from last week nobody answered yet
            Referral.objects.filter(pk=r.pk).update(
                created_at=r.created_at - timedelta(days=6),
                status_changed_at=r.created_at - timedelta(days=6),
                respond_by=timezone.now() - timedelta(days=1),
            )
            ReferralStatusChange.objects.filter(referral=r).update(
                created_at=r.created_at - timedelta(days=6)
            )
            continue
        if outcome == "received":
            continue
        if outcome == "declined":
            ref_svc.decline(r, acting_user=admin, reason="Outside our service area for housing navigation")
            continue
        r = ref_svc.accept(r, acting_user=admin)
        ref_svc.record_outreach(
            r,
            acting_user=staff,
            attempted_on=today,
            method="phone",
            successful=True,
            minutes=12,
            note="Confirmed delivery days",
        )
        if outcome == "accepted":
            auth_svc.request_authorization(
                r,
                acting_user=staff,
                units=40,
                start_date=today,
                end_date=today + timedelta(days=60),
                note="Two meals a day, 4 weeks",
            )
            # Received two days ago, accepted yesterday; the authorization request is today's.
            _as_it_happened(r, received=_at(today - timedelta(days=2), 9, 30), first_service=None)
            continue
        days = _past_days(3)
        start = days[0] if days else today
        auth_svc.authorize(
            r,
            acting_user=coordinator,
            number=f"PA-{ref[-3:]}-{today.year}",
            units=20,
            start_date=start,
            end_date=today + timedelta(days=45),
            note="Medically tailored meals",
        )
        if days:
            delivery_svc.log_series(
                acting_user=staff,
                referral=r,
                dates=days,
                units=1,
                place_of_service="12",
                note="Delivered to the door",
            )
        # Received a week before the first meal was delivered.
        _as_it_happened(
            r, received=_at(start - timedelta(days=8), 9, 30), first_service=days[0] if days else None
        )
        if outcome == "closed":
            ref_svc.close(r, acting_user=admin, reason="services_received", note="Meal program completed")
    # The member whose referral was declined left the plan at the end of last month: the member
    # page shows their coverage as inactive (the others' as active).
    left = Enrollment.objects.filter(member__cin="91235105E", plan=plan, end_date__isnull=True).first()
    if left is not None:
        member_svc.end_enrollment(
            left, acting_user=coordinator, end_date=today.replace(day=1) - timedelta(days=1)
        )
    # A self-referral the plan has to review.
    if not Referral.objects.filter(plan=plan, cbo=cbo, source="self").exists():
        walk_in = _member("91235107G", "Dolores", "Vega", "1963-12-12", coordinator=coordinator, plan=plan)
        # The pantry typed a newer phone number: the plan sees it on the referral, and approving
        # it turns the difference into a correction the plan accepts or rejects.
        typed = {
            "cin": walk_in.cin,
            "first_name": "Dolores",
            "last_name": "Vega",
            "dob": walk_in.dob,
            "phone": "323-555-0142",
        }
        ref_svc.record_community_referral(
            acting_user=staff,
            plan=plan,
            cbo=cbo,
            member_details=typed,
            service=_entry("S5170-U6"),
            reason="Walked in at the pantry",
            diagnosis_codes=["Z59.41"],
        )
