"""The claims and batches API: fields, filters, actions, scoping, constant query counts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.choices import BatchStatus, ClaimStatus
from billing.models import Batch, Claim
from billing.services.claims import build_claims
from cbo_portal.models import Organization
from tests.billing.factories import delivery, last_month, setup_billing

pytestmark = pytest.mark.django_db


@pytest.fixture
def bw(world):
    setup_billing(world)
    return world


def _claims(world, n: int) -> None:
    for _ in range(n):
        delivery(world)
    build_claims(acting_user=world.cbo_billing)


def test_claim_fields_filters_and_rescrub(bw, api):
    _claims(bw, 2)
    Organization.objects.filter(pk=bw.cbo.pk).update(service_zip="90012")
    d = delivery(bw, day=last_month(5))
    build_claims(acting_user=bw.cbo_billing)
    client = api.as_user(bw.cbo_billing)
    body = client.get("/api/v1/claims/").json()
    assert body["count"] == 3
    row = body["results"][0]
    for key in (
        "control_number",
        "status",
        "billed_amount",
        "paid_amount",
        "plan",
        "member_cin",
        "service_dates",
    ):
        assert key in row
    held = client.get("/api/v1/claims/", {"status": "held"}).json()["results"]
    assert [r["member_cin"] for r in held] == [d.member.cin] and held[0]["problems"][0][
        "code"
    ] == "provider_zip"
    assert (
        client.get("/api/v1/claims/", {"month": last_month(1).isoformat(), "plan": bw.plan.pk}).json()[
            "count"
        ]
        == 3
    )
    Organization.objects.filter(pk=bw.cbo.pk).update(service_zip="90012-1234")
    response = client.post(f"/api/v1/claims/{held[0]['id']}/rescrub/")
    assert response.status_code == 200 and response.json()["status"] == ClaimStatus.READY
    assert api.as_user(bw.cbo_staff).get("/api/v1/claims/").json()["count"] == 0
    assert api.as_user(bw.plan_admin).get("/api/v1/claims/").json()["count"] == 0  # not sent yet


def test_create_batch_then_download(bw, api, django_capture_on_commit_callbacks):
    _claims(bw, 3)
    client = api.as_user(bw.hub_billing)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/batches/", {"plan": bw.plan.pk, "submitter": bw.hub.pk}, format="json"
        )
    assert response.status_code == 201, response.json()
    batch_id = response.json()["id"]
    detail = client.get(f"/api/v1/batches/{batch_id}/").json()
    assert (
        detail["status"] == BatchStatus.READY
        and detail["progress_percent"] == 100
        and detail["claim_count"] == 3
    )
    download = client.get(f"/api/v1/batches/{batch_id}/download/")
    assert download.status_code == 200 and b"".join(download.streaming_content).startswith(b"ISA*")
    again = client.post("/api/v1/batches/", {"plan": bw.plan.pk, "submitter": bw.hub.pk}, format="json")
    assert again.status_code == 400 and "no ready claims" in again.json()["error"]["message"]
    denied = api.as_user(bw.cbo_billing).post(
        "/api/v1/batches/", {"plan": bw.plan.pk, "submitter": bw.hub.pk}, format="json"
    )
    assert denied.status_code == 403


@pytest.mark.parametrize(
    "url", ["/api/v1/claims/", "/api/v1/batches/", "/billing/claims/?status=ready", "/billing/batches/"]
)
def test_list_query_count_is_the_same_for_1_and_20_rows(bw, api, client, url):
    from billing.services.batches import create_batch, write_batch_file

    def count() -> int:
        c = api.as_user(bw.hub_billing) if url.startswith("/api") else client
        if not url.startswith("/api"):
            client.force_login(bw.hub_billing)
        c.get(url)  # warm caches (sessions, content types)
        with CaptureQueriesContext(connection) as ctx:
            assert c.get(url).status_code == 200
        return len(ctx.captured_queries)

    def add(n: int) -> None:
        _claims(bw, n)
        if "batches" in url:
            for _ in range(n):
                claim = Claim.objects.filter(status=ClaimStatus.READY).first()
                Claim.objects.exclude(pk=claim.pk).filter(status=ClaimStatus.READY).update(
                    status=ClaimStatus.HELD
                )
                write_batch_file(
                    create_batch(submitter=bw.hub, plan=bw.plan, acting_user=bw.hub_billing, dispatch=False)
                )
                Claim.objects.filter(status=ClaimStatus.HELD).update(status=ClaimStatus.READY)

    add(1)
    one = count()
    add(19)
    assert Claim.objects.count() == 20 and (Batch.objects.count() in (0, 20))
    assert count() == one
