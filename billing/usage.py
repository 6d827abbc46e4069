"""Billed and paid usage for the contracts app's utilization view.

contracts sits below billing, so billing registers ``billed_and_paid_usage`` with
``contracts.utilization.register_usage_provider`` from BillingConfig.ready(). A line counts as
billed once its claim has gone to the plan and is still live (not rejected, corrected or
voided); it counts as paid for what the plan's remittances paid on it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date

from django.db.models import Sum


def billed_and_paid_usage(
    contracts: Sequence, *, start: date | None = None, end: date | None = None
) -> Iterator:
    """UsageRow per contract, service, member and day at the stages "billed" and "paid", in one
    query whatever the number of contracts."""
    from billing.choices import ClaimStatus
    from billing.models import ClaimLine
    from billing.models.claims import SENT_STATUSES
    from contracts.utilization import UsageRow

    qs = ClaimLine.objects.filter(
        live=True,
        claim__contract__in=[c.pk for c in contracts],
        claim__status__in=[s for s in SENT_STATUSES if s != ClaimStatus.REJECTED],
    )
    if start:
        qs = qs.filter(service_date__gte=start)
    if end:
        qs = qs.filter(service_date__lte=end)
    rows = (
        qs.values("claim__contract_id", "service_id", "claim__member_id", "service_date")
        .annotate(units=Sum("units"), charge=Sum("charge"), paid=Sum("paid_amount"))
        .order_by("service_date", "service_id", "claim__member_id")
    )
    for row in rows.iterator(chunk_size=2000):
        key = {
            "contract_id": row["claim__contract_id"],
            "service_id": row["service_id"],
            "member_key": str(row["claim__member_id"]),
            "day": row["service_date"],
        }
        yield UsageRow(**key, stage="billed", units=row["units"], amount=row["charge"])
        if row["paid"]:
            yield UsageRow(**key, stage="paid", units=row["units"], amount=row["paid"])


def register() -> None:
    from contracts.utilization import register_usage_provider

    register_usage_provider("billing", billed_and_paid_usage)
