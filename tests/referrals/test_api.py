"""The referrals API as plans and CBOs use it: refer, respond, authorize, log, close; errors in
the common format; list endpoints with a constant number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from referrals.models import Referral
from tests.referrals.factories import authorization, contracted, referral, service

pytestmark = pytest.mark.django_db

NEW = {
    "member": {
        "cin": "91230001A",
        "first_name": "Rosa",
        "last_name": "Alvarez",
        "dob": "1961-04-02",
        "county": "Los Angeles",
    },
    "service": "T2041-U6",
    "reason": "Food insecurity after discharge",
    "diagnosis_codes": ["Z59.41"],
    "priority": "urgent",
    "notes": "Call after 3pm",
    "contact_preference": "phone",
}


def test_care_coordinator_creates_a_referral(world, api):
    contracted(world)
    client = api.as_user(world.care_coordinator)
    response = client.post(
        "/api/v1/referrals/", {**NEW, "cbo": world.cbo.pk, "plan": world.plan.pk}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "received" and body["priority"] == "urgent"
    assert body["diagnosis_codes"] == ["Z59.41"] and body["respond_by"]
    assert body["member"]["cin"] == "91230001A" and body["service"] == "T2041-U6"
    assert body["history"][0]["to_status"] == "received"


def test_cbo_accepts_declines_and_closes(world, api):
    first, second = referral(world, accept=False), referral(world, accept=False)
    client = api.as_user(world.cbo_admin)
    assert client.post(f"/api/v1/referrals/{first.pk}/accept/").json()["status"] == "accepted"
    declined = client.post(
        f"/api/v1/referrals/{second.pk}/decline/", {"reason": "At capacity"}, format="json"
    )
    assert declined.json()["status"] == "declined" and declined.json()["decline_reason"] == "At capacity"
    closed = client.post(f"/api/v1/referrals/{first.pk}/close/", {"reason": "unable_to_reach"}, format="json")
    assert closed.status_code == 200
    assert closed.json()["closure_reason"] == "unable_to_reach"
    assert [h["to_status"] for h in closed.json()["history"]] == ["received", "accepted", "closed"]


def test_plan_authorizes_and_cbo_logs_a_service(cw, api):
    r = referral(cw)
    plan = api.as_user(cw.care_coordinator)
    today = timezone.localdate()
    auth = plan.post(
        f"/api/v1/referrals/{r.pk}/authorize/",
        {
            "number": "PA-100",
            "units": "10",
            "start_date": str(today - timedelta(days=10)),
            "end_date": str(today + timedelta(days=80)),
        },
        format="json",
    )
    assert auth.status_code == 201, auth.json()
    assert auth.json()["units_remaining"] == "10.00"
    staff = api.as_user(cw.cbo_staff)
    logged = staff.post(
        "/api/v1/service-deliveries/",
        {
            "referral": r.pk,
            "service_date": str(today),
            "minutes": 45,
            "place_of_service": "12",
            "note": "Visit",
        },
        format="json",
    )
    assert logged.status_code == 201, logged.json()
    assert logged.json()["units"] == "3.00" and logged.json()["authorization_number"] == "PA-100"
    after = api.as_user(cw.care_coordinator).get(f"/api/v1/authorizations/{auth.json()['id']}/").json()
    assert after["units_used"] == "3.00" and after["units_remaining"] == "7.00"


def test_errors_use_the_common_format(cw, api):
    r = referral(cw)
    client = api.as_user(cw.cbo_staff)
    response = client.post(
        "/api/v1/service-deliveries/",
        {
            "referral": r.pk,
            "service_date": str(timezone.localdate()),
            "units": 2,
            "place_of_service": "12",
        },
        format="json",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error" and "authorization" in error["fields"]
    assert "needs the plan's authorization" in error["message"]
    again = client.post(f"/api/v1/referrals/{r.pk}/accept/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "illegal_transition"
    outsider = api.as_user(cw.other_cbo_admin).post(f"/api/v1/referrals/{r.pk}/accept/")
    assert outsider.status_code == 404 and outsider.json()["error"]["code"] == "not_found"
    bad_close = api.as_user(cw.cbo_staff).post(
        f"/api/v1/referrals/{r.pk}/close/", {"reason": "nope"}, format="json"
    )
    assert bad_close.status_code == 400 and "reason" in bad_close.json()["error"]["fields"]


def test_bulk_series_logs_each_day(cw, api):
    r = referral(cw, label="S5170-U6")
    authorization(cw, r, units=20)
    today = timezone.localdate()
    days = [str(today - timedelta(days=n)) for n in (1, 2, 3)]
    response = api.as_user(cw.cbo_staff).post(
        "/api/v1/service-deliveries/series/",
        {
            "referral": r.pk,
            "dates": days,
            "units": 1,
            "place_of_service": "12",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert len(response.json()) == 3


def test_return_file_lists_status_and_closure(world, api):
    r = referral(world)
    api.as_user(world.cbo_admin).post(f"/api/v1/referrals/{r.pk}/close/", {"reason": "moved"}, format="json")
    today = timezone.localdate()
    rows = (
        api.as_user(world.care_coordinator)
        .get("/api/v1/referrals/return-file/", {"year": today.year, "month": today.month})
        .json()
    )
    assert [(row["referral"], row["status"], row["closure_reason"]) for row in rows] == [
        (r.number, "closed", "moved")
    ]


@pytest.mark.parametrize("url", ["/api/v1/referrals/return-file/", "/api/v1/referrals/outreach-tracker/"])
def test_a_plan_id_no_database_holds_is_a_400_naming_the_field(world, api, url):
    today = timezone.localdate()
    client = api.as_user(world.care_coordinator)
    for wrong in ("51136168054765510656", "0", "-4"):
        response = client.get(url, {"year": today.year, "month": today.month, "plan": wrong})
        assert response.status_code == 400 and "plan" in response.json()["error"]["fields"], response.content
    assert (
        client.get(url, {"year": today.year, "month": today.month, "plan": world.plan.pk}).status_code == 200
    )


def _count(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/referrals/",
        "/api/v1/authorizations/",
        "/api/v1/service-deliveries/",
        "/api/v1/members/",
        "/api/v1/outreach-attempts/",
    ],
)
def test_list_endpoints_use_a_constant_number_of_queries(cw, api, url):
    def make_one():
        r = referral(cw, label="G9008-U1")
        authorization(cw, r, units=5, number=f"A-{r.pk}")
        from referrals.services import deliveries
        from referrals.services import referrals as ref_svc

        deliveries.log_service(
            acting_user=cw.cbo_staff,
            referral=r,
            service_date=timezone.localdate(),
            place_of_service="12",
            units=1,
        )
        ref_svc.record_outreach(
            r,
            acting_user=cw.cbo_staff,
            attempted_on=timezone.localdate(),
            method="phone",
            successful=True,
            minutes=5,
        )

    client = api.as_user(cw.care_coordinator)
    make_one()
    one = _count(client, url)
    for _ in range(19):
        make_one()
    assert Referral.objects.count() == 20
    assert _count(client, url) == one


def test_service_label_must_exist(world, api):
    assert service("T2041-U6").label == "T2041-U6"
    response = api.as_user(world.care_coordinator).post(
        "/api/v1/referrals/", {**NEW, "service": "ZZZZZ", "cbo": world.cbo.pk}, format="json"
    )
    assert response.status_code == 400 and "service" in response.json()["error"]["fields"]


def test_list_filters_overdue_referrals_and_billable_services(cw, api):
    late, fresh = referral(cw, accept=False), referral(cw, accept=False)
    Referral.objects.filter(pk=late.pk).update(respond_by=timezone.now() - timedelta(hours=1))
    client = api.as_user(cw.cbo_admin)
    overdue = client.get("/api/v1/referrals/", {"overdue": "true"}).json()["results"]
    assert [r["id"] for r in overdue] == [late.pk]
    assert fresh.pk in [
        r["id"] for r in client.get("/api/v1/referrals/", {"overdue": "false"}).json()["results"]
    ]

    served = referral(cw)
    authorization(cw, served)
    today = timezone.localdate()
    for days in (1, 2):
        response = client.post(
            "/api/v1/service-deliveries/",
            {
                "referral": served.pk,
                "service_date": str(today - timedelta(days=days)),
                "units": "1",
                "place_of_service": "12",
            },
            format="json",
        )
        assert response.status_code == 201, response.json()
    from referrals.models import ServiceDelivery

    billed = ServiceDelivery.objects.filter(referral=served).order_by("service_date").first()
    ServiceDelivery.objects.filter(pk=billed.pk).update(billed_at=timezone.now())
    billable = client.get("/api/v1/service-deliveries/", {"billable": "true"}).json()["results"]
    assert billed.pk not in [d["id"] for d in billable] and len(billable) == 1
