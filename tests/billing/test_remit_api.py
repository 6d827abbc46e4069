"""The acknowledgement, remittance, denial and report endpoints: uploads, scoping, query counts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.choices import ClaimStatus
from billing.models import Remittance
from billing.services import denials
from billing.services.remittances import import_remittance
from tests.billing.remit_factories import (
    ack_999,
    adj,
    clp,
    line_pay,
    remittance_835,
    sent_batch,
    submitted_claim,
)

pytestmark = pytest.mark.django_db


def _remit(world, n_claims, trace, deny=False):
    claims = [submitted_claim(world, charges=("100.00",)) for _ in range(n_claims)]
    pays = [
        clp(c, "4", [line_pay(c, 1, "0", adj("CO", "197", "100"), rarc=["N54"])])
        if deny
        else clp(c, "1", [line_pay(c, 1, "90", adj("CO", "45", "10"))])
        for c in claims
    ]
    return import_remittance(remittance_835(world, pays, trace=trace), file_name=f"{trace}.835"), claims


def test_upload_835_through_the_api(world, api):
    claim = submitted_claim(world, charges=("100.00",))
    data = remittance_835(world, [clp(claim, "1", [line_pay(claim, 1, "100")])])
    client = api.as_user(world.cbo_billing)
    response = client.post(
        "/api/v1/remittances/", {"file": SimpleUploadedFile("a.835", data)}, format="multipart"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (
        body["claims_matched"] == 1 and body["paid_total"] == "100.00" and body["already_imported"] is False
    )
    again = client.post(
        "/api/v1/remittances/", {"file": SimpleUploadedFile("a.835", data)}, format="multipart"
    )
    assert again.status_code == 200 and again.json()["already_imported"] is True
    detail = client.get(f"/api/v1/remittances/{body['remittance_ids'][0]}/").json()
    assert detail["claims"][0]["payments"][0]["amount"] == "100.00"


def test_bad_835_upload_is_a_400_naming_the_numbers(world, api):
    claim = submitted_claim(world, charges=("100.00",))
    data = remittance_835(
        world, [clp(claim, "1", [line_pay(claim, 1, "100")])], total=Decimal("99"), check_balance=False
    )
    response = api.as_user(world.cbo_billing).post(
        "/api/v1/remittances/", {"file": SimpleUploadedFile("b.835", data)}, format="multipart"
    )
    assert response.status_code == 400
    assert "99" in response.json()["error"]["message"] and "100" in response.json()["error"]["message"]
    assert not Remittance.objects.exists()


def test_plans_read_remittances_but_cannot_upload(world, api):
    result, _ = _remit(world, 1, "EFT1")
    client = api.as_user(world.contract_manager)
    assert client.get(f"/api/v1/remittances/{result.remittance.pk}/").status_code == 200
    response = client.post(
        "/api/v1/remittances/", {"file": SimpleUploadedFile("c.835", b"ISA")}, format="multipart"
    )
    assert response.status_code == 403


def test_upload_999_through_the_api(world, api):
    batch = sent_batch(world, sets={"0001": 2})
    client = api.as_user(world.cbo_billing)
    response = client.post(
        "/api/v1/acknowledgements/",
        {"file": SimpleUploadedFile("a.999", ack_999(batch, sets=["0001"]))},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert response.json()["accepted_sets"] == 1
    assert set(batch.claims.values_list("status", flat=True)) == {ClaimStatus.ACCEPTED}


def test_denials_list_explains_the_reason(world, api):
    _remit(world, 1, "EFT9", deny=True)
    rows = api.as_user(world.cbo_billing).get("/api/v1/denials/").json()["results"]
    (row,) = rows
    (reason,) = row["reasons"]
    assert reason["carc"] == "197" and reason["description"] and reason["advice"]
    assert reason["remarks"][0].startswith("N54")


@pytest.mark.parametrize("url", ["/api/v1/remittances/", "/api/v1/denials/"])
def test_lists_filter_by_plan_and_refuse_an_id_that_names_no_plan(world, api, url):
    _remit(world, 1, "EFT7", deny=True)
    client = api.as_user(world.cbo_billing)
    assert len(client.get(url, {"plan": world.plan.pk}).json()["results"]) == 1
    assert client.get(url, {"plan": world.other_plan.pk}).json()["results"] == []
    for wrong in (world.cbo.pk, "99999999999999999999"):  # a CBO, and more than any database holds
        response = client.get(url, {"plan": wrong})
        assert response.status_code == 400 and "plan" in response.json()["error"]["fields"], response.content


def test_plan_cannot_correct_a_denial(world, api):
    _, (claim,) = _remit(world, 1, "EFT8", deny=True)
    response = api.as_user(world.contract_manager).post(
        f"/api/v1/denials/{claim.pk}/correct/", {}, format="json"
    )
    assert response.status_code == 403
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.DENIED


def test_reports(world, api):
    _remit(world, 2, "EFT3")
    _remit(world, 1, "EFT4", deny=True)
    client = api.as_user(world.cbo_billing)
    aging = client.get("/api/v1/reports/aging/").json()
    assert aging[-1]["plan_name"] == "All plans"
    assert Decimal(aging[0]["days_0_30"]) == Decimal("120.00")  # 2 × 10 short + 100 denied
    rate = client.get("/api/v1/reports/denial-rate/").json()
    assert rate["decided"] == 3 and rate["denied"] == 1
    assert {r["carc"] for r in rate["reasons"]} == {"45", "197"}
    months = client.get("/api/v1/reports/billed-vs-paid/").json()
    assert len(months) == 12
    assert api.as_user(world.other_cbo_admin).get("/api/v1/reports/aging/").json() == []


def _count(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response.json()["count"]


@pytest.mark.parametrize("url", ["/api/v1/remittances/", "/api/v1/acknowledgements/", "/api/v1/denials/"])
def test_list_query_count_does_not_grow_with_rows(world, api, url):
    client = api.as_user(world.cbo_billing)

    def add(n):
        for i in range(n):
            tag = f"{url.split('/')[3][:4]}{add.k}"
            add.k += 1
            if "acknowledgements" in url:
                batch = sent_batch(world, sets={"0001": 1}, group_control=1000 + add.k)
                from billing.services.acks import import_ack

                import_ack(ack_999(batch, sets=["0001"], control=add.k), file_name=f"{tag}.999")
            else:
                _remit(world, 1, tag, deny="denials" in url)

    add.k = 0
    add(1)
    one, n1 = _count(client, url)
    add(19)
    twenty, n20 = _count(client, url)
    assert (n1, n20) == (1, 20)
    assert one == twenty


def test_the_same_reason_on_several_lines_is_one_reason_with_their_total(world):
    claim = submitted_claim(world, charges=("100.00", "100.00", "50.00"))
    co197 = adj("CO", "197", "100")
    data = remittance_835(
        world,
        [
            clp(
                claim,
                "4",
                [
                    line_pay(claim, 1, "0", co197),
                    line_pay(claim, 2, "0", co197),
                    line_pay(claim, 3, "0", adj("CO", "16", "50")),
                ],
            )
        ],
    )
    import_remittance(data, file_name="deny.835", acting_user=world.cbo_billing)

    claim.refresh_from_db()
    reasons = {r.label: (r.amount, r.lines) for r in denials.reasons(claim)}
    assert reasons == {"CO-197": (Decimal("200.00"), 2), "CO-16": (Decimal("50.00"), 1)}
