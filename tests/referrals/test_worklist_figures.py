"""The plan's referral funnel and per-CBO figures: counts, the median days to first service,
and the period they cover (the worklist's choice, the report's quarter)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from referrals import selectors
from referrals.models import Referral
from referrals.services import referrals as ref_svc
from tests.referrals.factories import referral

pytestmark = pytest.mark.django_db


def _made(r: Referral, *, days_ago: int, first_service_after: int | None = None) -> None:
    """Back-date a referral and, if given, record its first service that many days later."""
    created = timezone.now() - timedelta(days=days_ago)
    first = None
    if first_service_after is not None:
        first = timezone.localtime(created).date() + timedelta(days=first_service_after)
    Referral.objects.filter(pk=r.pk).update(created_at=created, first_service_date=first)


def test_funnel_and_median_cover_the_chosen_period(cw, client):
    recent = [referral(cw) for _ in range(3)]
    for r, days in zip(recent, (2, 4, 9), strict=True):
        _made(r, days_ago=20, first_service_after=days)
    declined = referral(cw, accept=False)
    ref_svc.decline(declined, acting_user=cw.cbo_admin, reason="No capacity")
    _made(declined, days_ago=5)
    old = referral(cw)
    _made(old, days_ago=200, first_service_after=30)

    client.force_login(cw.care_coordinator)
    page = client.get(reverse("referrals:worklist"))
    assert page.context["period"] == "90"
    funnel, (row,) = page.context["funnel"], page.context["performance"]
    assert (funnel.received, funnel.accepted, funnel.served, funnel.closed) == (4, 3, 3, 1)
    assert (row.cbo, row.referrals, row.served, row.median_days_to_first_service) == (cw.cbo, 4, 3, 4)
    assert "Last 90 days" in page.content.decode()

    everything = client.get(reverse("referrals:worklist"), {"period": "all"})
    funnel, (row,) = everything.context["funnel"], everything.context["performance"]
    assert (funnel.received, funnel.served) == (5, 4)
    assert row.median_days_to_first_service == 6.5  # 2, 4, 9, 30

    # An unknown period falls back to the default rather than failing.
    assert client.get(reverse("referrals:worklist"), {"period": "forever"}).context["period"] == "90"


def test_report_funnel_counts_the_quarters_referrals(cw, client):
    this_quarter = referral(cw)
    _made(this_quarter, days_ago=0, first_service_after=0)
    long_ago = referral(cw)
    _made(long_ago, days_ago=400)
    year, quarter = selectors.current_quarter()
    client.force_login(cw.care_coordinator)
    page = client.get(reverse("referrals:report"), {"year": year, "quarter": quarter})
    assert page.context["funnel"].received == 1
    assert f"Referred in Q{quarter} {year}" in page.content.decode()


def test_other_plans_referrals_stay_out_of_the_figures(cw, client):
    referral(cw)
    client.force_login(cw.other_plan_coordinator)
    page = client.get(reverse("referrals:worklist"), {"period": "all"})
    assert page.context["funnel"].received == 0 and page.context["performance"] == []
