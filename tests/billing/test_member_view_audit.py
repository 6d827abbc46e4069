"""Every billing page, API answer, file and CSV that shows claims (member name, CIN, date of birth)
writes exactly one VIEW audit row per request, naming the members shown."""

from __future__ import annotations

import pytest

from billing.models import Claim
from billing.services.batches import create_batch, write_batch_file
from billing.services.claims import build_claims
from billing.services.remittances import import_remittance
from cbo_portal.choices import AuditAction
from cbo_portal.models import AuditEvent
from contracts.models import Contract
from tests.billing.factories import delivery, new_member, setup_billing
from tests.billing.remit_factories import adj, clp, line_pay, remittance_835, submitted_claim

pytestmark = pytest.mark.django_db


def one_view(user, fetch) -> tuple:
    """The response of ``fetch()`` and the one VIEW row it wrote for ``user``."""
    before = list(AuditEvent.objects.filter(action=AuditAction.VIEW, actor=user).values_list("pk", flat=True))
    response = fetch()
    assert response.status_code == 200, response
    if hasattr(response, "streaming_content"):
        b"".join(response.streaming_content)
    rows = list(AuditEvent.objects.filter(action=AuditAction.VIEW, actor=user).exclude(pk__in=before))
    assert len(rows) == 1, [r.summary for r in rows]
    assert rows[0].object_type == "referrals.Member"
    return response, rows[0]


def named(event: AuditEvent) -> list[int]:
    return event.changes["member_ids"]


@pytest.fixture
def batched(world):
    """Two members' claims built, put in one 837P batch (hub submits) and its file written."""
    setup_billing(world)
    members = [new_member(world), new_member(world)]
    for m in members:
        delivery(world, member=m)
    build_claims(acting_user=world.cbo_billing)
    batch = write_batch_file(
        create_batch(submitter=world.hub, plan=world.plan, acting_user=world.hub_billing, dispatch=False)
    )
    return world, batch, sorted(m.pk for m in members)


def test_claim_pages_and_the_claims_csv(batched, client):
    world, batch, members = batched
    client.force_login(world.hub_billing)
    _, event = one_view(world.hub_billing, lambda: client.get("/billing/claims/?status=in_batch"))
    assert named(event) == members and "claims list" in event.summary
    response, event = one_view(
        world.hub_billing, lambda: client.get("/billing/claims/?status=in_batch&format=csv")
    )
    assert named(event) == members and "claims CSV" in event.summary
    claim = Claim.objects.filter(member_id=members[0]).get()
    _, event = one_view(world.hub_billing, lambda: client.get(f"/billing/claims/{claim.pk}/"))
    assert named(event) == [members[0]] and event.object_id == str(members[0])


def test_batch_detail_the_837_download_and_the_api(batched, client, api):
    world, batch, members = batched
    client.force_login(world.hub_billing)
    _, event = one_view(world.hub_billing, lambda: client.get(f"/billing/batches/{batch.pk}/"))
    assert named(event) == members
    response, event = one_view(
        world.hub_billing, lambda: client.get(f"/billing/batches/{batch.pk}/download/")
    )
    assert named(event) == members and batch.file_name in event.summary
    c = api.as_user(world.hub_billing)
    _, event = one_view(world.hub_billing, lambda: c.get(f"/api/v1/batches/{batch.pk}/download/"))
    assert named(event) == members and "API" in event.summary
    _, event = one_view(world.hub_billing, lambda: c.get("/api/v1/claims/?status=in_batch"))
    assert named(event) == members
    claim = Claim.objects.filter(member_id=members[1]).get()
    _, event = one_view(world.hub_billing, lambda: c.get(f"/api/v1/claims/{claim.pk}/"))
    assert named(event) == [members[1]]


def test_reading_claims_without_member_data_writes_no_view(batched, client, api):
    world, batch, _members = batched
    client.force_login(world.hub_billing)
    before = AuditEvent.objects.filter(action=AuditAction.VIEW).count()
    assert client.get("/billing/batches/").status_code == 200
    assert client.get(f"/billing/batches/{batch.pk}/progress.json").status_code == 200
    assert api.as_user(world.hub_billing).get(f"/api/v1/batches/{batch.pk}/").status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.VIEW).count() == before


def test_an_outsider_gets_404_and_no_row(batched, client):
    world, batch, _members = batched
    client.force_login(world.other_cbo_admin)
    before = AuditEvent.objects.filter(action=AuditAction.VIEW).count()
    assert client.get(f"/billing/batches/{batch.pk}/download/").status_code == 404
    assert client.get(f"/billing/claims/{Claim.objects.first().pk}/").status_code == 404
    assert AuditEvent.objects.filter(action=AuditAction.VIEW).count() == before


def test_invoice_csv_download_and_printable_invoice(world, client):
    setup_billing(world)
    Contract.objects.filter(cbo=world.cbo).update(claim_format="invoice")
    members = sorted([delivery(world).member_id, delivery(world).member_id])
    build_claims(acting_user=world.cbo_billing)
    batch = write_batch_file(
        create_batch(
            submitter=world.hub,
            plan=world.plan,
            acting_user=world.hub_billing,
            claim_format="invoice",
            dispatch=False,
        )
    )
    client.force_login(world.hub_billing)
    _, event = one_view(world.hub_billing, lambda: client.get(f"/billing/batches/{batch.pk}/download/"))
    assert named(event) == members and batch.file_name.endswith(".csv")
    _, event = one_view(world.hub_billing, lambda: client.get(f"/billing/batches/{batch.pk}/invoice/"))
    assert named(event) == members and "invoice" in event.summary


@pytest.fixture
def remitted(world):
    """A paid claim, a denied one and a payment matching none of ours, in one 835."""
    paid = submitted_claim(world, charges=("100.00",))
    denied = submitted_claim(world, charges=("80.00",))
    result = import_remittance(
        remittance_835(
            world,
            [
                clp(paid, "1", [line_pay(paid, 1, "100")]),
                clp(denied, "4", [line_pay(denied, 1, "0", adj("CO", "197", "80"))]),
                clp("NOT-OURS", "1", charge="50", paid="50"),
            ],
        ),
        file_name="mixed.835",
    )
    return world, result.remittance, paid, denied


def test_remittance_detail_its_csv_and_the_api_name_the_matched_claims_members(remitted, client, api):
    world, remittance, paid, denied = remitted
    members = sorted([paid.member_id, denied.member_id])
    client.force_login(world.cbo_billing)
    _, event = one_view(world.cbo_billing, lambda: client.get(f"/billing/remittances/{remittance.pk}/"))
    assert named(event) == members
    _, event = one_view(
        world.cbo_billing, lambda: client.get(f"/billing/remittances/{remittance.pk}/?format=csv")
    )
    assert named(event) == members
    c = api.as_user(world.cbo_billing)
    _, event = one_view(world.cbo_billing, lambda: c.get(f"/api/v1/remittances/{remittance.pk}/"))
    assert named(event) == members


def test_denials_page_csv_and_api(remitted, client, api):
    world, _remittance, _paid, denied = remitted
    client.force_login(world.cbo_billing)
    _, event = one_view(world.cbo_billing, lambda: client.get("/billing/denials/"))
    assert named(event) == [denied.member_id]
    response, event = one_view(world.cbo_billing, lambda: client.get("/billing/denials/?format=csv"))
    assert named(event) == [denied.member_id] and denied.member.cin in response.content.decode()
    c = api.as_user(world.cbo_billing)
    _, event = one_view(world.cbo_billing, lambda: c.get("/api/v1/denials/"))
    assert named(event) == [denied.member_id]
    _, event = one_view(world.cbo_billing, lambda: c.get(f"/api/v1/denials/{denied.pk}/"))
    assert named(event) == [denied.member_id]


def test_the_plan_reading_the_same_pages_is_audited_as_itself(remitted, client):
    world, remittance, paid, denied = remitted
    client.force_login(world.contract_manager)
    _, event = one_view(world.contract_manager, lambda: client.get("/billing/denials/"))
    assert named(event) == [denied.member_id] and event.organization_id == world.plan.pk


def test_rescrub_through_the_api_answers_with_the_claim_and_audits_it(world, api):
    setup_billing(world)
    member_id = delivery(world).member_id
    build_claims(acting_user=world.cbo_billing)
    claim = Claim.objects.get()
    c = api.as_user(world.cbo_billing)
    _, event = one_view(world.cbo_billing, lambda: c.post(f"/api/v1/claims/{claim.pk}/rescrub/"))
    assert named(event) == [member_id] and "re-scrubbed" in event.summary
