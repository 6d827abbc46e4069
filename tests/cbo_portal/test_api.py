"""The portal API: error format, onboarding over the API, pagination, query counts, schema."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cbo_portal.choices import OnboardingStatus, Role
from tests.factories import OrganizationFactory, member


def test_anonymous_requests_get_401_in_the_common_error_format(client):
    response = client.get("/api/v1/organizations/")
    assert response.status_code in (401, 403)
    assert set(response.json()["error"]) == {"code", "message", "fields"}


def test_validation_errors_name_the_field(world, api):
    from cbo_portal.models import Organization

    Organization.objects.filter(pk=world.cbo.pk).update(onboarding_status=OnboardingStatus.DRAFT)
    client = api.as_user(world.cbo_admin)
    response = client.patch(f"/api/v1/organizations/{world.cbo.pk}/", {"npi": "1234567890"}, format="json")
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "validation_error"
    assert "check digit" in body["fields"]["npi"][0]
    world.cbo.refresh_from_db()
    assert world.cbo.npi != "1234567890"


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/api/v1/audit-events/", "until"),
        ("/api/v1/audit-events/", "since"),
        ("/api/v1/referrals/", "created_before"),
    ],
)
def test_a_time_with_an_offset_no_clock_shows_is_a_400_naming_the_parameter(world, api, url, parameter):
    # Python parses +17:07, PostgreSQL refuses it: the request used to end in a 500.
    client = api.as_user(world.cbo_admin)
    for moment in ("4682-01-12T00:38:53.85+17:07", "2026-01-01T00:00:00-15:30"):
        response = client.get(url, {parameter: moment})
        assert response.status_code == 400, moment
        assert "offset is out of range" in response.json()["error"]["fields"][parameter][0]
    assert client.get(url, {parameter: "2026-01-01T00:00:00+14:00"}).status_code == 200


def test_illegal_transition_is_409_with_allowed_moves(world, api):
    response = api.as_user(world.contract_manager).post(
        f"/api/v1/organizations/{world.cbo.pk}/decide/", {"decision": "approved"}, format="json"
    )
    assert response.status_code == 409
    assert "approved cannot move to approved" in response.json()["error"]["message"]


def test_onboarding_over_the_api(db, api, world):
    client = api.as_user(world.cbo_admin)
    from cbo_portal.models import Organization

    org = OrganizationFactory(onboarding_status=OnboardingStatus.DRAFT, services_offered=[])
    admin = member(org, Role.CBO_ADMIN)
    client = api.as_user(admin)
    assert client.post(f"/api/v1/organizations/{org.pk}/submit/").status_code == 400
    patched = client.patch(
        f"/api/v1/organizations/{org.pk}/",
        {"services_offered": ["ecm", "respite"], "counties": ["Alameda", "Yolo"]},
        format="json",
    )
    assert patched.status_code == 200 and patched.json()["counties"] == ["Alameda", "Yolo"]
    for kind in ("w9", "insurance", "license"):
        from django.core.files.uploadedfile import SimpleUploadedFile

        upload = SimpleUploadedFile(f"{kind}.pdf", b"%PDF-1.7\n...", content_type="application/pdf")
        assert client.post("/api/v1/documents/", {"kind": kind, "file": upload}).status_code == 201
    checklist = client.get(f"/api/v1/organizations/{org.pk}/checklist/").json()
    assert all(item["done"] for item in checklist)
    assert client.post(f"/api/v1/organizations/{org.pk}/submit/").json()["onboarding_status"] == "submitted"
    reviewer = api.as_user(world.contract_manager)
    response = reviewer.post(
        f"/api/v1/organizations/{org.pk}/decide/", {"decision": "approved"}, format="json"
    )
    assert response.status_code == 200 and response.json()["onboarding_status"] == "approved"
    assert Organization.objects.get(pk=org.pk).onboarding_status == OnboardingStatus.APPROVED


def test_list_pagination_and_filters(world, api):
    client = api.as_user(world.platform_admin)
    body = client.get("/api/v1/organizations/", {"kind": "plan", "page_size": 1}).json()
    assert body["count"] == 2 and len(body["results"]) == 1 and body["next"]
    assert client.get("/api/v1/organizations/", {"search": "Eastside"}).json()["count"] == 1


@pytest.mark.parametrize("url", ["/api/v1/organizations/", "/api/v1/memberships/", "/api/v1/audit-events/"])
def test_list_query_count_does_not_grow_with_rows(world, api, url):
    from cbo_portal.choices import AuditAction, OrgKind
    from cbo_portal.services import audit

    client = api.as_user(world.platform_admin)

    def count_queries():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    few = count_queries()
    for _ in range(20):
        org = OrganizationFactory(kind=OrgKind.CBO)
        member(org, Role.CBO_STAFF)
        audit.record(actor=world.cbo_admin, action=AuditAction.UPDATE, obj=org, summary="x")
    assert count_queries() == few


def test_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "/api/v1/organizations/" in out.read_text()


def test_health_reports_database_and_broker(db, client):
    body = client.get("/healthz").json()
    assert body["database"] == "ok" and body["broker"] == "ok" and body["status"] == "ok"


def test_health_reports_a_dead_broker_as_503(db, client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["broker"].startswith("error")
