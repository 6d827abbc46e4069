"""The referral pages with the Django test client: lists, forms, actions, CSV exports, audited
member views, and 404 for other CBOs and plans."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cbo_portal.choices import AuditAction
from cbo_portal.models import AuditEvent
from referrals.models import Referral, ServiceDelivery
from tests.referrals.factories import MemberFactory, authorization, contracted, referral

pytestmark = pytest.mark.django_db


def login(client, user):
    client.force_login(user)
    return client


def test_every_page_renders_for_its_people(cw, client):
    r = referral(cw)
    auth = authorization(cw, r, units=10)
    login(client, cw.cbo_staff)
    entry = client.post(
        reverse("referrals:log_service"),
        {
            "referral": r.pk,
            "service_date": timezone.localdate().isoformat(),
            "minutes": "30",
            "place_of_service": "12",
        },
    )
    assert entry.status_code == 302
    delivery = ServiceDelivery.objects.get()
    for user, names in (
        (cw.cbo_staff, ["worklist", "list", "log_service", "authorizations", "members", "return_files"]),
        (
            cw.care_coordinator,
            ["worklist", "list", "create", "import_create", "report", "authorizations", "members"],
        ),
    ):
        login(client, user)
        for name in names:
            assert client.get(reverse(f"referrals:{name}")).status_code == 200, (user, name)
        for name, pk in (
            ("detail", r.pk),
            ("authorization", auth.pk),
            ("member", r.member_id),
            ("delivery", delivery.pk),
        ):
            assert client.get(reverse(f"referrals:{name}", args=[pk])).status_code == 200, (user, name)


def test_plan_refers_a_member_from_the_form(world, client):
    contracted(world)
    login(client, world.care_coordinator)
    response = client.post(
        reverse("referrals:create"),
        {
            "cin": "91239999A",
            "first_name": "Mei",
            "last_name": "Tran",
            "dob": "1980-02-03",
            "sex": "F",
            "county": "Los Angeles",
            "cbo": world.cbo.pk,
            "service": "",
            "priority": "routine",
            "diagnosis_codes": "Z59.01, Z59.41",
            "reason": "Housing",
        },
    )
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    from contracts.models import ServiceCatalogEntry

    service = ServiceCatalogEntry.lookup("T2041", ["U6"])
    bad = client.post(
        reverse("referrals:create"),
        {
            "cin": "91239999A",
            "first_name": "Mei",
            "last_name": "Tran",
            "dob": "1980-02-03",
            "sex": "F",
            "cbo": world.cbo.pk,
            "service": service.pk,
            "priority": "routine",
            "diagnosis_codes": "NOTACODE",
        },
    )
    assert bad.status_code == 200 and Referral.objects.count() == 0
    ok = client.post(
        reverse("referrals:create"),
        {
            "cin": "91239999A",
            "first_name": "Mei",
            "last_name": "Tran",
            "dob": "1980-02-03",
            "sex": "F",
            "cbo": world.cbo.pk,
            "service": service.pk,
            "priority": "urgent",
            "diagnosis_codes": "Z59.01, Z59.41",
            "contact_preference": "text",
        },
    )
    referral_ = Referral.objects.get()
    assert ok.status_code == 302 and referral_.diagnosis_codes == ["Z59.01", "Z59.41"]
    assert referral_.priority == "urgent" and referral_.contact_preference == "text"


def test_cbo_accepts_and_closes_on_the_page(world, client):
    r = referral(world, accept=False)
    login(client, world.cbo_admin)
    url = reverse("referrals:detail", args=[r.pk])
    assert client.post(url, {"action": "accept"}).status_code == 302
    r.refresh_from_db()
    assert r.status == "accepted"
    empty = client.post(url, {"action": "close", "close-reason": "other", "close-note": ""})
    assert "Say what the other reason is." in empty.content.decode()
    client.post(url, {"action": "close", "close-reason": "member_declined"})
    r.refresh_from_db()
    assert r.status == "closed" and r.closure_reason == "member_declined"


def test_logging_shows_the_services_message_on_the_form(cw, client):
    r = referral(cw)  # T2041-U6 needs prior authorization; there is none
    login(client, cw.cbo_staff)
    response = client.post(
        reverse("referrals:log_service"),
        {
            "referral": r.pk,
            "service_date": timezone.localdate().isoformat(),
            "units": "2",
            "place_of_service": "12",
        },
    )
    assert response.status_code == 200
    assert "needs the plan&#x27;s authorization" in response.content.decode()


def test_series_and_repeat_last(cw, client):
    r = referral(cw, label="S5170-U6")
    authorization(cw, r, units=20)
    login(client, cw.cbo_staff)
    today = timezone.localdate()
    form = client.get(reverse("referrals:log_service")).context["form"]
    days = [value for value, _label in form.fields["days"].choices]
    response = client.post(
        reverse("referrals:log_service"),
        {
            "referral": r.pk,
            "service_date": today.isoformat(),
            "units": "1",
            "place_of_service": "12",
            "days": days,
        },
    )
    assert response.status_code == 302
    assert ServiceDelivery.objects.count() == len(days)
    repeat = client.get(reverse("referrals:log_service") + "?repeat=1")
    assert repeat.context["form"].initial["referral"] == r.pk


def test_member_views_are_audited(world, client):
    r = referral(world)
    login(client, world.cbo_staff)
    before = AuditEvent.objects.filter(action=AuditAction.VIEW).count()
    assert client.get(reverse("referrals:member", args=[r.member_id])).status_code == 200
    assert client.get(reverse("referrals:detail", args=[r.pk])).status_code == 200
    views = AuditEvent.objects.filter(action=AuditAction.VIEW, actor=world.cbo_staff)
    assert views.count() == before + 2
    assert all(e.changes["member_ids"] == [r.member_id] for e in views)


@pytest.mark.parametrize("outsider", ["other_cbo_admin", "other_cbo_staff", "other_plan_coordinator"])
def test_other_cbos_and_plans_get_404(world, client, outsider):
    r = referral(world)
    auth = authorization(world, r)
    login(client, getattr(world, outsider))
    for name, pk in (("detail", r.pk), ("member", r.member_id), ("authorization", auth.pk)):
        assert client.get(reverse(f"referrals:{name}", args=[pk])).status_code == 404
    assert client.post(reverse("referrals:detail", args=[r.pk]), {"action": "accept"}).status_code == 404
    assert r.number not in client.get(reverse("referrals:list")).content.decode()


def test_cbo_sees_only_members_referred_to_it(world, client):
    mine = referral(world).member
    stranger = MemberFactory()
    login(client, world.cbo_staff)
    page = client.get(reverse("referrals:members")).content.decode()
    assert mine.cin in page and stranger.cin not in page
    assert client.get(reverse("referrals:member", args=[stranger.pk])).status_code == 404


def test_csv_exports(cw, client):
    r = referral(cw, label="G9008-U1")
    login(client, cw.cbo_staff)
    client.post(
        reverse("referrals:detail", args=[r.pk]),
        {
            "action": "outreach",
            "outreach-attempted_on": timezone.localdate().isoformat(),
            "outreach-method": "phone",
            "outreach-successful": "on",
            "outreach-minutes": "12",
        },
    )
    from referrals.services import deliveries

    deliveries.log_service(
        acting_user=cw.cbo_staff,
        referral=r,
        service_date=timezone.localdate(),
        place_of_service="12",
        units=1,
    )
    login(client, cw.care_coordinator)
    month = timezone.localdate().strftime("%Y-%m")
    status = client.get(reverse("referrals:return_files"), {"month": month, "file": "status"})
    body = b"".join(status.streaming_content).decode()
    assert status["Content-Type"] == "text/csv"
    assert body.splitlines()[0].startswith("referral,plan_reference,plan,cbo_npi,member_cin")
    assert r.number in body and "in_progress" in body
    outreach = b"".join(
        client.get(reverse("referrals:return_files"), {"month": month, "file": "outreach"}).streaming_content
    ).decode()
    assert r.number in outreach and ",phone,True,12" in outreach
    today = timezone.localdate()
    report = client.get(
        reverse("referrals:report"),
        {"year": today.year, "quarter": (today.month - 1) // 3 + 1, "format": "csv"},
    )
    text = b"".join(report.streaming_content).decode()
    assert "Los Angeles" in text and "G9008-U1" in text
    page = client.get(reverse("referrals:report"))
    chart = page.context["chart"]
    assert 'data-chart="county-chart-data"' in page.content.decode()
    assert chart["labels"] == ["Los Angeles"] and chart["datasets"][0]["data"][0] >= 1


def test_plan_decides_a_request(cw, client):
    r = referral(cw)
    login(client, cw.cbo_staff)
    client.post(
        reverse("referrals:detail", args=[r.pk]),
        {
            "action": "request_auth",
            "request_auth-units": "8",
            "request_auth-start_date": timezone.localdate(),
            "request_auth-end_date": timezone.localdate() + timedelta(days=30),
            "request_auth-note": "Weekly visits",
        },
    )
    auth = r.authorizations.get()
    assert auth.status == "requested"
    login(client, cw.care_coordinator)
    url = reverse("referrals:authorization", args=[auth.pk])
    missing = client.post(url, {"decision": "approved", "number": ""})
    assert "needs its authorization number" in missing.content.decode()
    client.post(url, {"decision": "partially_approved", "number": "PA-77", "units_approved": "5"})
    auth.refresh_from_db()
    assert auth.status == "partially_approved" and auth.units_approved == 5


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("name", ["list", "worklist", "authorizations", "members"])
def test_lists_use_a_constant_number_of_queries(cw, client, name):
    def make():
        r = referral(cw, accept=False)
        ref = referral(cw)
        authorization(cw, ref, units=5, end=timezone.localdate() + timedelta(days=5))
        return r

    make()
    for user in (cw.cbo_staff, cw.care_coordinator):
        login(client, user)
        # The first plan worklist ever asked for computes its figures snapshot (NetworkSnapshot);
        # every later one reads it: measure those.
        client.get(reverse(f"referrals:{name}"))
        one = _queries(client, reverse(f"referrals:{name}"))
        for _ in range(19):
            make()
        assert _queries(client, reverse(f"referrals:{name}")) == one, user
        Referral.objects.all()  # keep the rows for the next persona
