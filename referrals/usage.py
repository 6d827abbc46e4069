"""Logged usage for the contracts app's utilization view.

contracts cannot import referrals (it sits below), so referrals registers ``logged_usage`` with
``contracts.utilization.register_usage_provider`` from ReferralsConfig.ready(). Voided entries
do not count; a date-range entry counts on its first day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import date

from django.db.models import Q, Sum

from contracts.money import money
from referrals.choices import DeliveryStatus


def logged_usage(contracts: Sequence, *, start: date | None = None, end: date | None = None) -> Iterator:
    """UsageRow per contract, service, member and day (stage "logged"), priced at the rate line
    version in force on the day. Deliveries of a hub's member CBOs count under the hub's contract.

    Two queries whatever the number of contracts: the contracts' rate lines (with versions) and
    one aggregate over their deliveries, which are then matched to a contract in Python.
    """
    from contracts.models import RateLine
    from contracts.utilization import UsageRow
    from referrals.models import ServiceDelivery

    lines = {
        (line.contract_id, line.service_id): line
        for line in RateLine.objects.filter(contract__in=[c.pk for c in contracts]).prefetch_related(
            "versions"
        )
    }
    if not lines:
        return
    by_party: dict[tuple[int, int], list] = defaultdict(list)
    for contract in contracts:
        by_party[(contract.cbo_id, contract.plan_id)].append(contract)
    providers = {cbo for cbo, _ in by_party}
    qs = ServiceDelivery.objects.filter(
        Q(cbo_id__in=providers) | Q(cbo__hub_id__in=providers),
        plan_id__in={plan for _, plan in by_party},
        status=DeliveryStatus.LOGGED,
        service_id__in={service for _, service in lines},
        service_date__gte=max(filter(None, [start, min(c.start_date for c in contracts)])),
    )
    if end:
        qs = qs.filter(service_date__lte=end)
    rows = (
        qs.values("cbo_id", "cbo__hub_id", "plan_id", "service_id", "member_id", "service_date")
        .annotate(units=Sum("units"))
        .order_by("service_date", "service_id", "member_id")
    )
    for row in rows.iterator(chunk_size=2000):
        day = row["service_date"]
        for party in (row["cbo_id"], row["cbo__hub_id"]):
            for contract in by_party.get((party, row["plan_id"]), ()):
                line = lines.get((contract.pk, row["service_id"]))
                last = contract.last_covered_day
                if line is None or day < contract.start_date or (last and day > last):
                    continue
                version = line.version_on(day)
                rate = version.rate if version else 0
                yield UsageRow(
                    contract_id=contract.pk,
                    service_id=row["service_id"],
                    member_key=str(row["member_id"]),
                    day=day,
                    stage="logged",
                    units=row["units"],
                    amount=money(row["units"] * rate),
                )


def register() -> None:
    """Hook into contracts' usage registry (skipped if that module is absent)."""
    try:
        from contracts.utilization import register_usage_provider
    except ImportError:
        return
    register_usage_provider("referrals", logged_usage)
