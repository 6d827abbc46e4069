"""Billing's reads shared by the pages, the CSV exports and the API: the reports and a batch's progress.

Every report starts from ``Claim.visible_to(user)`` so a plan sees only its claims and a CBO only
its own. Definitions (one place):

* **A/R aging by plan**: claims sent and still awaiting money or action (submitted, accepted,
  rejected, partially paid, denied); *unpaid balance* = billed − paid − patient responsibility;
  age = days since the claim was submitted, in buckets 0–30, 31–60, 61–90, 90+.
* **Billed vs paid by month**: billed = Σ billed amounts of claims by the month they were
  submitted; paid = Σ payment rows (net of reversals) by the 835's payment date.
* **Denial rate by reason**: among claims the plan decided (at least one 835 claim payment that is
  not a reversal), the share whose latest decision was a denial (CLP02 4 or nothing paid), even
  if the claim was corrected since; per CARC, how many decided claims were denied or cut with it
  (group CO/OA/PI, i.e. not the member's share) and the amount.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    Func,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from billing.choices import BatchStatus, ClaimStatus
from billing.models import Adjustment, Batch, Claim, Payment, RemittanceClaim
from billing.x12 import carc as codes
from contracts.money import money

ZERO = Decimal("0.00")
AR_STATUSES = (
    ClaimStatus.SUBMITTED,
    ClaimStatus.ACCEPTED,
    ClaimStatus.REJECTED,
    ClaimStatus.PARTIALLY_PAID,
    ClaimStatus.DENIED,
)
BUCKETS = (
    ("0_30", "0–30 days", 0, 30),
    ("31_60", "31–60 days", 31, 60),
    ("61_90", "61–90 days", 61, 90),
    ("90_plus", "90+ days", 91, None),
)
MONEY: DecimalField = DecimalField(max_digits=14, decimal_places=2)


@dataclass
class AgingRow:
    plan_id: int | None
    plan: str
    buckets: dict[str, Decimal] = field(default_factory=dict)
    claims: int = 0

    @property
    def total(self) -> Decimal:
        return money(sum(self.buckets.values(), ZERO))


def aging(user, *, today: dt.date | None = None) -> list[AgingRow]:
    """A/R aging by plan (definition above), plans by name, and a total row last (plan_id None)."""
    now = (
        timezone.now() if today is None else timezone.make_aware(dt.datetime.combine(today, dt.time(23, 59)))
    )
    balance = ExpressionWrapper(
        F("billed_amount") - F("paid_amount") - F("patient_responsibility"), output_field=MONEY
    )
    claims = Claim.objects.visible_to(user).filter(status__in=AR_STATUSES, submitted_at__isnull=False)
    aggregates: dict[str, Func] = {"claims": Count("pk")}
    for key, _label, low, high in BUCKETS:
        newest = now - dt.timedelta(days=low)
        window = Q(submitted_at__lte=newest)
        if high is not None:
            window &= Q(submitted_at__gt=now - dt.timedelta(days=high + 1))
        aggregates[key] = Coalesce(Sum(balance, filter=window), Value(ZERO), output_field=MONEY)
    rows = []
    total = AgingRow(plan_id=None, plan="All plans", buckets={k: ZERO for k, *_ in BUCKETS})
    for item in (
        claims.values("plan_id", "plan__legal_name").annotate(**aggregates).order_by("plan__legal_name")
    ):
        row = AgingRow(
            plan_id=item["plan_id"],
            plan=item["plan__legal_name"],
            claims=item["claims"],
            buckets={k: money(item[k]) for k, *_ in BUCKETS},
        )
        rows.append(row)
        total.claims += row.claims
        for k in row.buckets:
            total.buckets[k] += row.buckets[k]
    if rows:
        rows.append(total)
    return rows


@dataclass
class MonthRow:
    month: dt.date
    billed: Decimal
    paid: Decimal

    @property
    def paid_share(self) -> int:
        return int(self.paid * 100 / self.billed) if self.billed else 0


def billed_vs_paid(user, *, months: int = 12, today: dt.date | None = None) -> list[MonthRow]:
    """The last ``months`` months (oldest first), billed and paid as defined above."""
    today = today or timezone.localdate()
    first = today.replace(day=1)
    for _ in range(months - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    claims = Claim.objects.visible_to(user)
    billed = {
        r["m"].date() if isinstance(r["m"], dt.datetime) else r["m"]: r["total"]
        for r in claims.filter(submitted_at__date__gte=first, submitted_at__isnull=False)
        .annotate(m=TruncMonth("submitted_at", tzinfo=timezone.get_current_timezone()))
        .values("m")
        .annotate(total=Sum("billed_amount"))
    }
    paid = {
        r["m"]: r["total"]
        for r in Payment.objects.filter(
            claim__in=claims, remittance_claim__remittance__payment_date__gte=first
        )
        .annotate(m=TruncMonth("remittance_claim__remittance__payment_date"))
        .values("m")
        .annotate(total=Sum("amount"))
    }
    out = []
    month = first
    while month <= today:
        out.append(MonthRow(month, money(billed.get(month) or ZERO), money(paid.get(month) or ZERO)))
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return out


@dataclass
class DenialReasonRow:
    carc: str
    description: str
    advice: str
    claims: int
    amount: Decimal
    share: Decimal  # of decided claims, in percent


@dataclass
class DenialRate:
    decided: int
    denied: int
    reasons: list[DenialReasonRow]

    @property
    def rate(self) -> Decimal:
        return (
            (Decimal(self.denied * 100) / self.decided).quantize(Decimal("0.1"))
            if self.decided
            else Decimal("0.0")
        )


def denial_rate(user) -> DenialRate:
    """Denial rate and its reasons (definition above)."""
    claims = Claim.objects.visible_to(user)
    latest = RemittanceClaim.objects.filter(claim=OuterRef("pk")).exclude(status_code="22").order_by("-pk")
    decided_claims = claims.annotate(
        last_code=Subquery(latest.values("status_code")[:1]), last_paid=Subquery(latest.values("paid")[:1])
    ).filter(last_code__isnull=False)
    decided = decided_claims.count()
    # Denied by the plan's latest decision, even if the claim has since been corrected or voided.
    denied = decided_claims.filter(Q(last_code="4") | Q(last_paid__lte=0)).count()
    rows = []
    for item in (
        Adjustment.objects.filter(claim__in=claims, group__in=["CO", "OA", "PI"])
        .exclude(remittance_claim__status_code="22")
        .values("carc")
        .annotate(claims=Count("claim_id", distinct=True), amount=Sum("amount"))
        .order_by("-claims", "carc")
    ):
        info = codes.carc(item["carc"])
        share = (
            (Decimal(item["claims"] * 100) / decided).quantize(Decimal("0.1")) if decided else Decimal("0.0")
        )
        rows.append(
            DenialReasonRow(
                item["carc"],
                info.description,
                info.advice,
                item["claims"],
                money(item["amount"] or ZERO),
                share,
            )
        )
    return DenialRate(decided=decided, denied=denied, reasons=rows)


def progress_percent(batch: Batch) -> int:
    """How far a building batch's file is written (100 once it is past building)."""
    if batch.status != BatchStatus.BUILDING:
        return 100
    return int(100 * batch.progress_done / batch.progress_total) if batch.progress_total else 0
