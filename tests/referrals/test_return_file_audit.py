"""The plan's monthly return files (status and outreach) name every member in them in one VIEW
audit row per download; their cells are written by the one CSV writer (formula cells neutralised)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from cbo_portal.choices import AuditAction
from cbo_portal.models import AuditEvent
from referrals.models import Referral
from referrals.services import referrals as ref_svc
from tests.referrals.factories import authorization, referral

pytestmark = pytest.mark.django_db


def _views(user):
    return AuditEvent.objects.filter(action=AuditAction.VIEW, actor=user)


def test_each_return_file_download_writes_one_row_naming_its_members(cw, client):
    first, second = referral(cw), referral(cw)
    for r in (first, second):
        ref_svc.record_outreach(
            r,
            acting_user=cw.cbo_staff,
            attempted_on=timezone.localdate(),
            method="phone",
            successful=False,
            minutes=5,
        )
    client.force_login(cw.care_coordinator)
    month = timezone.localdate().strftime("%Y-%m")
    for kind in ("status", "outreach"):
        before = _views(cw.care_coordinator).count()
        response = client.get(reverse("referrals:return_files"), {"month": month, "file": kind})
        body = b"".join(response.streaming_content).decode()
        assert first.number in body and second.number in body
        rows = _views(cw.care_coordinator).order_by("-pk")
        assert rows.count() == before + 1
        event = rows.first()
        assert event.changes["member_ids"] == sorted([first.member_id, second.member_id])
        assert f"{kind} return file" in event.summary


def test_formula_text_in_a_return_file_is_neutralised(cw, client):
    r = referral(cw)
    Referral.objects.filter(pk=r.pk).update(plan_reference='=HYPERLINK("http://x")')
    client.force_login(cw.care_coordinator)
    month = timezone.localdate().strftime("%Y-%m")
    response = client.get(reverse("referrals:return_files"), {"month": month, "file": "status"})
    body = b"".join(response.streaming_content).decode()
    assert '"\'=HYPERLINK(""http://x"")"' in body and ',"=HYPERLINK' not in body


def test_the_api_return_files_and_member_bearing_lists_are_audited_once_per_request(cw, api):
    from referrals.services import deliveries

    first, second = referral(cw), referral(cw)
    auth, _other = authorization(cw, first, units=10), authorization(cw, second, units=10)
    for r in (first, second):
        ref_svc.record_outreach(
            r,
            acting_user=cw.cbo_staff,
            attempted_on=timezone.localdate(),
            method="phone",
            successful=False,
            minutes=5,
        )
        deliveries.log_service(
            acting_user=cw.cbo_staff,
            referral=r,
            service_date=timezone.localdate(),
            place_of_service="12",
            units=1,
        )
    both = sorted([first.member_id, second.member_id])
    today = timezone.localdate()
    plan = api.as_user(cw.care_coordinator)
    for url, params, members in (
        ("/api/v1/referrals/return-file/", {"year": today.year, "month": today.month}, both),
        ("/api/v1/referrals/outreach-tracker/", {"year": today.year, "month": today.month}, both),
        ("/api/v1/authorizations/", {}, both),
        (f"/api/v1/authorizations/{auth.pk}/", {}, [first.member_id]),
        ("/api/v1/service-deliveries/", {}, both),
    ):
        before = _views(cw.care_coordinator).count()
        assert plan.get(url, params).status_code == 200, url
        assert _views(cw.care_coordinator).count() == before + 1, url
        assert _views(cw.care_coordinator).order_by("-pk").first().changes["member_ids"] == members, url
