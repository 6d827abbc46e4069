"""Snapshots of the figures a plan's worklist shows."""

from __future__ import annotations

from django.db import models


class NetworkSnapshot(models.Model):
    """A plan's referral funnel and per-CBO figures (``selectors.network_figures``) for one
    worklist period, as they stood at ``computed_at``.

    Rule: the worklist reads these, never the plan's referrals: one grouped aggregate with a
    median over up to 500,000 referrals cost 400–750 ms a request. The Celery beat task
    ``refresh_network_figures`` recomputes every snapshot every ``NETWORK_FIGURES_EVERY`` seconds
    and the page says how old its figures are; a snapshot nobody has asked for yet is computed by
    the first request that needs it. ``key`` is ``plan-<id>-<period>``, or ``all-<period>`` for
    the platform's own view over every plan.
    """

    key = models.CharField(max_length=40, unique=True)
    plan = models.ForeignKey(
        "cbo_portal.Organization", null=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    period = models.CharField(max_length=8)
    computed_at = models.DateTimeField()
    # [{"cbo_id", "referrals", "accepted", "served", "closed", "overdue", "median_days"}, …]
    figures = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"{self.key} at {self.computed_at:%Y-%m-%d %H:%M}"

    @staticmethod
    def key_for(plan_id: int | None, period: str) -> str:
        return f"{'all' if plan_id is None else f'plan-{plan_id}'}-{period}"
