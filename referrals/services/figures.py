"""Keeping the worklist's network figures (``NetworkSnapshot``) fresh."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from cbo_portal.choices import OrgKind
from cbo_portal.models import Organization
from referrals import selectors
from referrals.models import NetworkSnapshot, Referral


@transaction.atomic
def refresh_network_figures(*, plan_id: int | None, period: str) -> NetworkSnapshot:
    """Recompute one plan's (``None``: every plan's) figures for the referrals made in ``period``
    and store them, replacing the previous snapshot. One grouped query over the period's
    referrals (an indexed range by plan and date)."""
    referrals = Referral.objects.all() if plan_id is None else Referral.objects.filter(plan_id=plan_id)
    recent, period = selectors.referred_within(referrals, period)
    _funnel, performance = selectors.network_figures(recent)
    figures = [
        {
            "cbo_id": p.cbo.pk,
            "referrals": p.referrals,
            "accepted": p.accepted,
            "served": p.served,
            "closed": p.closed,
            "overdue": p.overdue,
            "median_days": p.median_days_to_first_service,
        }
        for p in performance
    ]
    snapshot, _ = NetworkSnapshot.objects.update_or_create(
        key=NetworkSnapshot.key_for(plan_id, period),
        defaults={"plan_id": plan_id, "period": period, "computed_at": timezone.now(), "figures": figures},
    )
    return snapshot


def refresh_all_network_figures() -> int:
    """Every plan's snapshots (and the platform-wide ones), each period; returns how many. Each
    snapshot commits on its own, so a long refresh never holds one big transaction."""
    plans: list[int | None] = [
        *Organization.objects.filter(kind=OrgKind.PLAN).order_by("pk").values_list("pk", flat=True),
        None,
    ]
    n = 0
    for plan_id in plans:
        for period in selectors.FUNNEL_PERIODS:
            refresh_network_figures(plan_id=plan_id, period=period)
            n += 1
    return n
