"""Reads shared by views, the API, billing and reports.

Enrollment: ``enrolled(member, plan, on=day)`` for one check, ``enrollment_index(member_ids)``
to answer many (member, plan, day) questions from one query.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Aggregate, Count, DurationField, ExpressionWrapper, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Greatest, TruncDate
from django.utils import timezone

from cbo_portal import access, identifiers
from cbo_portal.choices import OrgKind
from cbo_portal.fastpath import among, on_postgresql
from cbo_portal.models import Organization
from referrals.choices import (
    USABLE_AUTHORIZATION,
    AuthorizationStatus,
    DeliveryStatus,
    EligibilityStatus,
    ReferralStatus,
)
from referrals.models import Authorization, Enrollment, Member, OutreachAttempt, Referral, ServiceDelivery
from referrals.models.referrals import ReferralQuerySet

# Worklist thresholds: an authorization is "running out" when it ends within this many days or has
# less than this share of its units left.
EXPIRING_WITHIN_DAYS = 14
LOW_UNITS_SHARE = Decimal("0.20")


# ---------------------------------------------------------------- enrollment
def enrolled(member: Member | int, plan: Organization | int, *, on: date) -> bool:
    """Is the member enrolled with the plan on ``on``?"""
    member_id = member if isinstance(member, int) else member.pk
    plan_id = plan if isinstance(plan, int) else plan.pk
    return Enrollment.objects.filter(member_id=member_id, plan_id=plan_id).on(on).exists()


@dataclass(frozen=True)
class Eligibility:
    """What we know of a member's coverage on a day: ``status`` active (a period covers the day),
    inactive (periods are known, none covers it) or unknown (none known); ``plan`` and
    ``through`` (the last covered day known, None when open-ended) of the period that answers;
    when it was last recorded and where it came from."""

    status: str
    plan: Organization | None = None
    through: date | None = None
    checked_at: datetime | None = None
    source: str = ""

    def as_dict(self) -> dict:
        return {
            "status": self.status,
            "plan": str(self.plan) if self.plan else None,
            "plan_id": self.plan.pk if self.plan else None,
            "through": self.through.isoformat() if self.through else None,
            "checked_at": self.checked_at.isoformat() if self.checked_at else None,
            "source": self.source or None,
        }


def coverage(member: Member) -> list[Enrollment]:
    """The member's coverage periods, newest first, for the timeline."""
    return list(member.enrollments.select_related("plan", "recorded_by").order_by("-start_date", "-pk"))


def eligibility(
    member: Member, *, on: date | None = None, periods: list[Enrollment] | None = None
) -> Eligibility:
    """The member's eligibility on ``on`` (today) from their coverage periods (``coverage``)."""
    on = on or timezone.localdate()
    periods = coverage(member) if periods is None else periods
    if not periods:
        return Eligibility(EligibilityStatus.UNKNOWN)
    covering = next((e for e in periods if e.covers(on)), None)
    answer = covering or max(periods, key=lambda e: (e.end_date or date.max, e.start_date))
    return Eligibility(
        EligibilityStatus.ACTIVE if covering else EligibilityStatus.INACTIVE,
        plan=answer.plan,
        through=answer.end_date,
        checked_at=answer.updated_at,
        source=answer.source,
    )


@dataclass
class EnrollmentIndex:
    """Enrollment periods for many members, loaded once; answers without further queries."""

    periods: dict[tuple[int, int], list[tuple[date, date | None]]] = field(default_factory=dict)

    def enrolled(self, member_id: int, plan_id: int, on: date) -> bool:
        return any(
            start <= on and (end is None or on <= end)
            for start, end in self.periods.get((member_id, plan_id), ())
        )


def enrollment_index(member_ids: Iterable[int], plan_ids: Iterable[int] | None = None) -> EnrollmentIndex:
    """The bulk-friendly variant of ``enrolled``: one query for all the members (and plans) given."""
    qs = Enrollment.objects.filter(member_id__in=set(member_ids))
    if plan_ids is not None:
        qs = qs.filter(plan_id__in=set(plan_ids))
    index = EnrollmentIndex()
    for member_id, plan_id, start, end in qs.values_list("member_id", "plan_id", "start_date", "end_date"):
        index.periods.setdefault((member_id, plan_id), []).append((start, end))
    return index


# ---------------------------------------------------------------- authorizations and deliveries
def usable_authorization(referral: Referral, service_id: int, on: date) -> Authorization | None:
    """The approved authorization of the referral for ``service`` covering ``on`` with units left
    (the earliest-ending first, so older authorizations are used up before newer ones)."""
    return (
        Authorization.objects.filter(
            referral=referral,
            service_id=service_id,
            status__in=USABLE_AUTHORIZATION,
            start_date__lte=on,
            end_date__gte=on,
        )
        .order_by("end_date", "pk")
        .first()
    )


def last_delivery(staff, cbo: Organization | None = None) -> ServiceDelivery | None:
    """The staff member's most recent entry: the "repeat last" shortcut starts from it."""
    qs = ServiceDelivery.objects.logged().filter(staff=staff)
    if cbo is not None:
        qs = qs.filter(cbo=cbo)
    return qs.select_related("referral", "service", "member").order_by("-created_at", "-pk").first()


def week_bounds(today: date | None = None) -> tuple[date, date]:
    today = today or timezone.localdate()
    start = today - timedelta(days=today.weekday())
    return start, start + timedelta(days=6)


# ---------------------------------------------------------------- worklists
@dataclass
class CboWorklist:
    awaiting: QuerySet
    running_out: QuerySet
    my_week: QuerySet
    overdue_count: int


def cbo_worklist(user, org: Organization, *, today: date | None = None) -> CboWorklist:
    """What a CBO's staff must do next: referrals awaiting a response (overdue first),
    authorizations ending within 14 days or with under 20% of units left, and the user's
    services logged this week."""
    today = today or timezone.localdate()
    # The organization and, for a hub, its member CBOs: one indexed column, not a join to them.
    providers = [org.pk, *access.hub_member_ids(user, [org.pk])]
    referrals = Referral.objects.visible_to(user).filter(cbo_id__in=providers)
    awaiting = referrals.awaiting_response().for_list().order_by("respond_by", "pk")
    auths = Authorization.objects.visible_to(user).filter(cbo_id__in=providers)
    running_out = (
        auths.filter(status__in=USABLE_AUTHORIZATION, end_date__gte=today)
        .filter(
            Q(end_date__lte=today + timedelta(days=EXPIRING_WITHIN_DAYS))
            | Q(units_used__gt=F("units_approved") * (1 - LOW_UNITS_SHARE))
        )
        .for_list()
        .order_by("end_date", "pk")
    )
    start, end = week_bounds(today)
    my_week = (
        ServiceDelivery.objects.visible_to(user)
        .filter(staff=user, service_date__range=(start, end))
        .for_list()
        .order_by("-service_date", "-pk")
    )
    overdue = referrals.overdue().count()
    return CboWorklist(awaiting=awaiting, running_out=running_out, my_week=my_week, overdue_count=overdue)


def search_referrals(referrals: QuerySet, text: str, *, partial_cin: bool = False) -> QuerySet:
    """Referrals whose member has the CIN (or, with ``partial_cin``, a CIN containing the text) or
    a last name containing it, whose plan reference is the text, or whose CBO's name contains it.

    The matching members, CBOs and plan references are looked up first (one query each) and the
    referrals then filtered by ``member_id``/``cbo_id``/``id``, each answered by an index: joining the
    referral table whole to members and organizations and testing every row took seconds at a
    million referrals. At most ``SEARCH_MEMBERS`` members are matched (a search that broad is
    narrowed by the user, not paged through)."""
    text = text.strip()
    whole_cin = identifiers.cin_problem(text) is None
    if whole_cin:  # a whole CIN: no name contains one, use the CIN index
        match = Q(cin=text.upper())
    else:
        match = (Q(cin__icontains=text) if partial_cin else Q(cin=text.upper())) | Q(
            last_name__icontains=text
        )
    members = list(Member.objects.filter(match).order_by().values_list("pk", flat=True)[:SEARCH_MEMBERS])
    cbos = list(
        Organization.objects.filter(legal_name__icontains=text).order_by().values_list("pk", flat=True)
    )
    # A plan reference is unique per plan: the (plan, reference) index answers it plan by plan.
    plans = Organization.objects.filter(kind=OrgKind.PLAN).values_list("pk", flat=True)
    by_reference = list(
        Referral.objects.filter(plan_id__in=plans, plan_reference=text)
        .exclude(plan_reference="")
        .order_by()
        .values_list("pk", flat=True)[:SEARCH_MEMBERS]
    )
    # Only what matched goes in the filter (an empty alternative would still steer the planner),
    # each as one array parameter, not a 5,000-item IN list.
    found = Q(pk__in=[])
    if members:
        by_member = among("member_id", members)
        if not whole_cin:
            # A referral hiding its member's record (see Referral.member_hidden) is not found by
            # the record's name: searching must not tell a CBO what the record says.
            by_member &= ~Q(status=ReferralStatus.PENDING_REVIEW, submitted_member__isnull=False)
        found |= by_member
    if by_reference:
        found |= among("pk", by_reference)
    if cbos:
        found |= among("cbo_id", cbos)
    return referrals.filter(found)


SEARCH_MEMBERS = 5000


def search_members(members: QuerySet, text: str) -> QuerySet:
    """Members with the CIN, or whose last or first name contains the text (any case).

    A whole CIN is looked up by the unique CIN index alone (no name contains one); a name part by
    the trigram indexes on ``UPPER(last_name)`` and ``UPPER(first_name)`` (migrations 0003 and
    0008), which answer ``icontains`` for three letters or more."""
    text = text.strip()
    if identifiers.cin_problem(text) is None:
        return members.filter(cin=text.upper())
    return members.filter(Q(cin=text.upper()) | Q(last_name__icontains=text) | Q(first_name__icontains=text))


@dataclass
class Funnel:
    received: int
    accepted: int
    served: int
    closed: int

    def steps(self) -> list[tuple[str, int, int]]:
        """(label, count, percent of received) for each step."""
        top = self.received or 1
        return [
            (label, n, round(n * 100 / top))
            for label, n in (
                ("Received", self.received),
                ("Accepted", self.accepted),
                ("Served", self.served),
                ("Closed", self.closed),
            )
        ]


ACCEPTED_OR_LATER = (
    ReferralStatus.ACCEPTED,
    ReferralStatus.IN_PROGRESS,
    ReferralStatus.COMPLETED,
    ReferralStatus.CLOSED,
)


# The plan's funnel and per-CBO figures cover the referrals made in a period (the worklist's
# choice, the report's quarter): what a contract manager reviews, and an indexed range rather than
# every referral the plan ever made.
FUNNEL_PERIODS: dict[str, tuple[str, int | None]] = {
    "30": ("Last 30 days", 30),
    "90": ("Last 90 days", 90),
    "365": ("Last 12 months", 365),
    "all": ("All time", None),
}
DEFAULT_FUNNEL_PERIOD = "90"


def referred_within(
    referrals: QuerySet, period: str | None, *, now: datetime | None = None
) -> tuple[QuerySet, str]:
    """The referrals created in ``period`` (a ``FUNNEL_PERIODS`` key; anything else means the
    default) and the period used."""
    if period not in FUNNEL_PERIODS:
        period = DEFAULT_FUNNEL_PERIOD
    days = FUNNEL_PERIODS[period][1]
    if days is None:
        return referrals, period
    return referrals.filter(created_at__gte=(now or timezone.now()) - timedelta(days=days)), period


def referred_in_quarter(referrals: QuerySet, year: int, quarter: int) -> QuerySet:
    """The referrals created in the quarter (local time)."""
    first, last = quarter_bounds(year, quarter)
    start = month_bounds(first.year, first.month)[0]
    end = month_bounds(last.year, last.month)[1]
    return referrals.filter(created_at__gte=start, created_at__lt=end)


@dataclass
class CboPerformance:
    cbo: Organization
    referrals: int
    served: int
    median_days_to_first_service: float | None
    overdue: int
    accepted: int = 0
    closed: int = 0


class _Median(Aggregate):
    """PostgreSQL's ``percentile_cont(0.5)``: the median, interpolated between the middle two."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"


def network_figures(referrals: QuerySet) -> tuple[Funnel, list[CboPerformance]]:
    """The funnel (received → accepted → served → closed) and, per CBO, referrals, members
    served, median days from referral (local date) to first service and overdue responses. One
    grouped query on PostgreSQL (medians in SQL); elsewhere a second, streamed query for the
    medians."""
    now = timezone.now()
    days = ExpressionWrapper(F("first_service_date") - TruncDate("created_at"), output_field=DurationField())
    figures: dict[str, Aggregate] = {
        "n": Count("pk"),
        "accepted": Count("pk", filter=Q(status__in=ACCEPTED_OR_LATER)),
        "served": Count("pk", filter=Q(first_service_date__isnull=False)),
        "closed": Count(
            "pk",
            filter=Q(status__in=(ReferralStatus.COMPLETED, ReferralStatus.CLOSED, ReferralStatus.DECLINED)),
        ),
        "overdue": Count("pk", filter=Q(status=ReferralStatus.RECEIVED, respond_by__lt=now)),
    }
    in_sql = on_postgresql()
    if in_sql:
        figures["median"] = _Median(
            Greatest(days, Value(timedelta(0))),
            output_field=DurationField(),
            filter=Q(first_service_date__isnull=False),
        )  # GREATEST(NULL, 0) is 0
    rows = list(referrals.values("cbo_id").annotate(**figures).order_by())
    medians = {r["cbo_id"]: r["median"] for r in rows} if in_sql else _streamed_medians(referrals)
    orgs = Organization.objects.in_bulk([r["cbo_id"] for r in rows])
    performance = sorted(
        (
            CboPerformance(
                cbo=orgs[r["cbo_id"]],
                referrals=r["n"],
                served=r["served"],
                overdue=r["overdue"],
                accepted=r["accepted"],
                closed=r["closed"],
                median_days_to_first_service=(
                    medians[r["cbo_id"]].total_seconds() / 86400
                    if medians.get(r["cbo_id"]) is not None
                    else None
                ),
            )
            for r in rows
        ),
        key=lambda p: str(p.cbo),
    )
    funnel = Funnel(
        received=sum(p.referrals for p in performance),
        accepted=sum(p.accepted for p in performance),
        served=sum(p.served for p in performance),
        closed=sum(p.closed for p in performance),
    )
    return funnel, performance


def snapshot_figures(snapshot) -> tuple[Funnel, list[CboPerformance]]:
    """The funnel and per-CBO rows a ``NetworkSnapshot`` stored (one query for the CBOs)."""
    orgs = Organization.objects.in_bulk([f["cbo_id"] for f in snapshot.figures])
    performance = sorted(
        (
            CboPerformance(
                cbo=orgs[f["cbo_id"]],
                referrals=f["referrals"],
                served=f["served"],
                overdue=f["overdue"],
                accepted=f["accepted"],
                closed=f["closed"],
                median_days_to_first_service=f["median_days"],
            )
            for f in snapshot.figures
            if f["cbo_id"] in orgs
        ),
        key=lambda p: str(p.cbo),
    )
    funnel = Funnel(
        received=sum(p.referrals for p in performance),
        accepted=sum(p.accepted for p in performance),
        served=sum(p.served for p in performance),
        closed=sum(p.closed for p in performance),
    )
    return funnel, performance


def _streamed_medians(referrals: QuerySet) -> dict[int, timedelta]:
    days: dict[int, list[int]] = defaultdict(list)
    tz = timezone.get_current_timezone()
    for cbo_id, created, first in (
        referrals.filter(first_service_date__isnull=False)
        .values_list("cbo_id", "created_at", "first_service_date")
        .order_by()
        .iterator(chunk_size=5000)
    ):
        days[cbo_id].append(max(0, (first - timezone.localtime(created, tz).date()).days))
    return {cbo_id: timedelta(days=statistics.median(values)) for cbo_id, values in days.items()}


# ---------------------------------------------------------------- quarterly report
def quarter_bounds(year: int, quarter: int) -> tuple[date, date]:
    start = date(year, 3 * (quarter - 1) + 1, 1)
    end = date(year + (quarter == 4), (3 * quarter) % 12 + 1, 1) - timedelta(days=1)
    return start, end


def current_quarter(today: date | None = None) -> tuple[int, int]:
    today = today or timezone.localdate()
    return today.year, (today.month - 1) // 3 + 1


@dataclass
class ReportRow:
    county: str
    service: str
    members_served: int
    services_delivered: int
    units: Decimal
    cbos: int


def quarterly_report(deliveries: QuerySet, year: int, quarter: int) -> list[ReportRow]:
    """By member county and service: members served, services delivered, units, CBOs in network
    (CBOs that delivered). Voided entries do not count. One grouped query."""
    start, end = quarter_bounds(year, quarter)
    rows = (
        deliveries.filter(status=DeliveryStatus.LOGGED, service_date__range=(start, end))
        .values("member__county__name", "service__code", "service__modifier_key", "service__name")
        .annotate(
            members=Count("member_id", distinct=True),
            services=Count("pk"),
            units=Sum("units"),
            cbos=Count("cbo_id", distinct=True),
        )
        .order_by("member__county__name", "service__code", "service__modifier_key")
    )
    out = []
    for r in rows:
        label = "-".join([r["service__code"], *filter(None, r["service__modifier_key"].split(","))])
        out.append(
            ReportRow(
                county=r["member__county__name"] or "Unknown county",
                service=f"{label} {r['service__name']}",
                members_served=r["members"],
                services_delivered=r["services"],
                units=r["units"] or Decimal(0),
                cbos=r["cbos"],
            )
        )
    return out


# ---------------------------------------------------------------- return files
def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    start = datetime.combine(date(year, month, 1), time.min, tz)
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return start, datetime.combine(nxt, time.min, tz)


def return_file_referrals(referrals: ReferralQuerySet, year: int, month: int) -> ReferralQuerySet:
    """Referrals whose status changed in the month, or still open at its end (the plan tracks
    every referral until its loop closes)."""
    start, end = month_bounds(year, month)
    changed = Q(status_changed_at__gte=start, status_changed_at__lt=end)
    still_open = Q(created_at__lt=end) & ~Q(
        status__in=(ReferralStatus.DECLINED, ReferralStatus.COMPLETED, ReferralStatus.CLOSED)
    )
    return referrals.filter(changed | still_open).for_list().order_by("plan_id", "pk")


def outreach_attempts(referrals: QuerySet, year: int, month: int) -> QuerySet:
    start, end = month_bounds(year, month)
    return (
        OutreachAttempt.objects.filter(referral__in=referrals)
        .filter(attempted_on__gte=start.date(), attempted_on__lt=end.date())
        .select_related("referral", "referral__member", "referral__cbo", "referral__plan", "staff")
        .order_by("referral_id", "attempted_on", "pk")
    )


def authorization_statuses_to_expire(today: date) -> QuerySet:
    return Authorization.objects.filter(
        status__in=(*USABLE_AUTHORIZATION, AuthorizationStatus.EXHAUSTED), end_date__lt=today
    )


RETURN_FILE_COLUMNS = [
    "referral",
    "plan_reference",
    "plan",
    "cbo_npi",
    "member_cin",
    "service",
    "status",
    "status_date",
    "closure_reason",
    "closure_note",
    "first_service_date",
]
OUTREACH_COLUMNS = [
    "referral",
    "plan_reference",
    "member_cin",
    "cbo_npi",
    "attempted_on",
    "method",
    "successful",
    "minutes",
]


def return_file_rows(referrals: ReferralQuerySet, year: int, month: int) -> Iterable[dict]:
    """The monthly return file to a plan: each referral's status, the date of its last status
    change and the loop-closure reason (streamed)."""
    for r in return_file_referrals(referrals, year, month).iterator(chunk_size=2000):
        yield {
            "referral": r.number,
            "plan_reference": r.plan_reference,
            "plan": r.plan.payer_id or str(r.plan),
            "cbo_npi": r.cbo.npi,
            "member_cin": r.member.cin,
            "service": r.service.label,
            "status": r.status,
            "status_date": timezone.localtime(r.status_changed_at).date(),
            "closure_reason": r.closure_reason,
            "closure_note": r.closure_note or r.decline_reason,
            "first_service_date": r.first_service_date,
        }


def outreach_rows(referrals: QuerySet, year: int, month: int) -> Iterable[dict]:
    """The outreach tracker file: every attempt to reach a referred member in the month."""
    for a in outreach_attempts(referrals, year, month).iterator(chunk_size=2000):
        yield {
            "referral": a.referral.number,
            "plan_reference": a.referral.plan_reference,
            "member_cin": a.referral.member.cin,
            "cbo_npi": a.referral.cbo.npi,
            "attempted_on": a.attempted_on,
            "method": a.method,
            "successful": a.successful,
            "minutes": a.minutes,
        }


def quarter_totals(deliveries: QuerySet, year: int, quarter: int) -> dict[str, int]:
    """Distinct members served, services delivered and CBOs delivering in the quarter (one query)."""
    start, end = quarter_bounds(year, quarter)
    return deliveries.filter(status=DeliveryStatus.LOGGED, service_date__range=(start, end)).aggregate(
        members=Count("member_id", distinct=True), services=Count("pk"), cbos=Count("cbo_id", distinct=True)
    )
