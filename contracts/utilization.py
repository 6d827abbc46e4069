"""How much of a contract has been used: units and dollars logged, billed and paid per service and
month, against each cap, with contracts at 80% or more of a cap flagged.

This app does not know about logged services or claims (referrals and billing sit above it), so
the figures come from *usage providers* that those apps register from their AppConfig.ready():

    from contracts.utilization import UsageRow, register_usage_provider
    register_usage_provider("billing", billed_and_paid_usage)

A provider is called with the contracts in question and a date range, and yields UsageRow
records (aggregated as finely as a cap needs: per member and day). With no provider registered
every figure is zero.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from contracts.models import Contract, RateLine, RateLineVersion, ServiceCatalogEntry
from contracts.money import ZERO, money

STAGES = ("logged", "billed", "paid")
NEAR_CAP = Decimal("0.80")


@dataclass(frozen=True)
class UsageRow:
    """Units and dollars of one service for one member on one day at one stage
    ("logged", "billed" or "paid")."""

    contract_id: int
    service_id: int
    member_key: str
    day: date
    stage: str
    units: Decimal
    amount: Decimal


UsageProvider = Callable[..., Iterable[UsageRow]]
_PROVIDERS: dict[str, UsageProvider] = {}


def register_usage_provider(name: str, provider: UsageProvider) -> None:
    """Add (or replace) a source of usage. ``provider(contracts, start=date|None, end=date|None)``."""
    _PROVIDERS[name] = provider


def unregister_usage_provider(name: str) -> None:
    _PROVIDERS.pop(name, None)


def usage_rows(
    contracts: Sequence[Contract], *, start: date | None = None, end: date | None = None
) -> list[UsageRow]:
    """Every registered provider's rows for these contracts (none registered: no rows)."""
    if not contracts:
        return []
    rows: list[UsageRow] = []
    for provider in list(_PROVIDERS.values()):
        rows.extend(provider(contracts, start=start, end=end))
    return rows


@dataclass
class Figures:
    units: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(STAGES, Decimal(0)))
    amount: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(STAGES, ZERO))

    def add(self, row: UsageRow) -> None:
        self.units[row.stage] += row.units
        self.amount[row.stage] = money(self.amount[row.stage] + row.amount)


@dataclass(frozen=True)
class MonthRow:
    service: ServiceCatalogEntry
    month: date
    figures: Figures


@dataclass(frozen=True)
class CapUse:
    """The most any one member has used of a cap (in the cap's period), and how close that is."""

    service: ServiceCatalogEntry
    cap: str
    label: str
    limit: Decimal
    used: Decimal

    @property
    def ratio(self) -> Decimal:
        return (self.used / self.limit) if self.limit else Decimal(0)

    @property
    def percent(self) -> int:
        return int((self.ratio * 100).to_integral_value())

    @property
    def near(self) -> bool:
        return self.ratio >= NEAR_CAP

    @property
    def reached(self) -> bool:
        """At or over the cap: no longer "nearing" it."""
        return bool(self.limit) and self.used >= self.limit


@dataclass
class Utilization:
    contract: Contract
    rows: list[MonthRow]
    caps: list[CapUse]
    totals: Figures
    by_month: list[tuple[date, Figures]]

    @property
    def flagged(self) -> list[CapUse]:
        return [c for c in self.caps if c.near]

    @property
    def near_cap(self) -> bool:
        return bool(self.flagged)

    @property
    def cap_reached(self) -> bool:
        return any(c.reached for c in self.flagged)


CAP_PERIODS: dict[str, tuple[str, Callable[[date], object]]] = {
    "units_per_day": ("units per member per day", lambda d: d),
    "units_per_week": ("units per member per week", lambda d: d.isocalendar()[:2]),
    "units_per_month": ("units per member per month", lambda d: (d.year, d.month)),
    "units_per_year": ("units per member per year", lambda d: d.year),
}


def _version_on(line: RateLine, day: date) -> RateLineVersion | None:
    return line.version_on(day) or min(line.versions.all(), key=lambda v: v.effective_from, default=None)


def _caps_for(contract: Contract, lines: dict[int, RateLine], rows: list[UsageRow]) -> list[CapUse]:
    """Peak per-member use of each cap (the caps in force today), plus the contract ceiling."""
    from django.utils import timezone

    today = timezone.localdate()
    counted = [r for r in rows if r.stage == "logged"] or rows
    result: list[CapUse] = []
    for service_id, line in lines.items():
        version = _version_on(line, today)
        if version is None:
            continue
        mine = [r for r in counted if r.service_id == service_id]
        for cap, (label, period) in CAP_PERIODS.items():
            limit = getattr(version, cap)
            if limit is None:
                continue
            sums: dict[tuple[str, object], Decimal] = defaultdict(Decimal)
            for r in mine:
                sums[(r.member_key, period(r.day))] += r.units
            result.append(
                CapUse(line.service, cap, label, Decimal(limit), max(sums.values(), default=Decimal(0)))
            )
        if version.lifetime_dollar_cap is not None:
            per_member: dict[str, Decimal] = defaultdict(Decimal)
            for r in mine:
                per_member[r.member_key] += r.amount
            result.append(
                CapUse(
                    line.service,
                    "lifetime_dollar_cap",
                    "dollars per member (lifetime)",
                    version.lifetime_dollar_cap,
                    money(max(per_member.values(), default=ZERO)),
                )
            )
    return result


def _ceiling(contract: Contract, totals: Figures) -> CapUse | None:
    if contract.not_to_exceed is None:
        return None
    used = max(totals.amount["billed"], totals.amount["logged"])
    return CapUse(None, "not_to_exceed", "contract ceiling (dollars)", contract.not_to_exceed, used)  # type: ignore[arg-type]


def utilization(contract: Contract, *, start: date | None = None, end: date | None = None) -> Utilization:
    """Units and dollars logged, billed and paid per service and month for ``contract``, the peak
    use of each cap, and whether any cap is at 80% or more."""
    return utilizations([contract], start=start, end=end)[contract.pk]


def utilizations(
    contracts: Sequence[Contract], *, start: date | None = None, end: date | None = None
) -> dict[int, Utilization]:
    """``utilization`` for many contracts at once, in a number of queries that does not grow with
    the number of contracts (one for the rate lines, one for their versions, and each provider's)."""
    lines_by_contract: dict[int, dict[int, RateLine]] = defaultdict(dict)
    rate_lines = RateLine.objects.filter(contract__in=[c.pk for c in contracts])
    for line in rate_lines.select_related("service").prefetch_related("versions"):
        lines_by_contract[line.contract_id][line.service_id] = line
    rows_by_contract: dict[int, list[UsageRow]] = defaultdict(list)
    for row in usage_rows(contracts, start=start, end=end):
        rows_by_contract[row.contract_id].append(row)
    return {c.pk: _summarize(c, lines_by_contract[c.pk], rows_by_contract[c.pk]) for c in contracts}


def _summarize(contract: Contract, lines: dict[int, RateLine], rows: list[UsageRow]) -> Utilization:
    table: dict[tuple[int, date], Figures] = defaultdict(Figures)
    months: dict[date, Figures] = defaultdict(Figures)
    totals = Figures()
    for r in rows:
        month = r.day.replace(day=1)
        table[(r.service_id, month)].add(r)
        months[month].add(r)
        totals.add(r)
    services = {sid: line.service for sid, line in lines.items()}
    month_rows = [
        MonthRow(services[sid], month, figures)
        for (sid, month), figures in sorted(table.items(), key=lambda kv: (kv[0][1], services[kv[0][0]].code))
        if sid in services
    ]
    caps = _caps_for(contract, lines, rows)
    if (ceiling := _ceiling(contract, totals)) is not None:
        caps.append(ceiling)
    return Utilization(contract, month_rows, caps, totals, sorted(months.items()))


def cap_flags(contracts: Sequence[Contract]) -> dict[int, str]:
    """For each of these contracts with a cap at 80% or more: ``"reached"`` when a cap is at or
    over 100% (it is no longer "near"), else ``"near"``. With no usage providers, none (and no
    queries)."""
    if not _PROVIDERS or not contracts:
        return {}
    return {
        pk: "reached" if result.cap_reached else "near"
        for pk, result in utilizations(contracts).items()
        if result.near_cap
    }


def near_cap_ids(contracts: Sequence[Contract]) -> set[int]:
    """Which of these contracts have a cap at 80% or more (reached ones included)."""
    return set(cap_flags(contracts))


def figures_dict(figures: Figures) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for stage in STAGES:
        out[f"{stage}_units"] = figures.units[stage]
        out[f"{stage}_amount"] = figures.amount[stage]
    return out


def as_data(result: Utilization) -> dict:
    """The utilization as plain data (API and CSV)."""
    return {
        "contract": result.contract.pk,
        "near_cap": result.near_cap,
        "totals": figures_dict(result.totals),
        "rows": [
            {
                "service": r.service.label,
                "service_name": r.service.name,
                "month": r.month,
                **figures_dict(r.figures),
            }
            for r in result.rows
        ],
        "caps": [
            {
                "service": c.service.label if c.service else None,
                "cap": c.cap,
                "label": c.label,
                "limit": c.limit,
                "used": c.used,
                "percent": c.percent,
                "near": c.near,
            }
            for c in result.caps
        ],
    }
