"""The contract pages as people use them: lists, the draft form, the rate schedule, activation,
amendment, termination, read-only views for CBOs and hubs, and 404s for everyone else."""

from __future__ import annotations

from datetime import date

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contracts.choices import ContractStatus
from contracts.models import Contract
from tests.contracts.factories import active_contract, draft_contract, service


def test_nav_shows_contracts(world, client):
    client.force_login(world.cbo_staff)
    assert 'href="/contracts/"' in client.get(reverse("contracts:catalog")).content.decode()


def test_manager_creates_a_draft_through_the_form(world, client):
    client.force_login(world.contract_manager)
    assert "New contract" in client.get(reverse("contracts:list")).content.decode()
    from cbo_portal.models import County

    response = client.post(
        reverse("contracts:create"),
        {
            "cbo": world.cbo.pk,
            "number": "PCHP-7",
            "start_date": "2026-01-01",
            "end_date": "2026-12-31",
            "counties": [County.objects.get(name="Los Angeles").pk],
            "claim_format": "837p",
            "timely_filing_days": 180,
            "payment_terms_days": 30,
            "payer_id": "PCHP1",
        },
    )
    contract = Contract.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "contracts:detail", args=[contract.pk]
    )
    response = client.post(
        reverse("contracts:detail", args=[contract.pk]),
        {
            "action": "add_line",
            "line-service": service("H0043-U6").pk,
            "line-rate": "95.00",
        },
    )
    assert response.status_code == 302
    client.post(reverse("contracts:detail", args=[contract.pk]), {"action": "activate"})
    contract.refresh_from_db()
    assert contract.status == ContractStatus.ACTIVE


def test_form_errors_are_shown_and_nothing_saved(world, client):
    client.force_login(world.contract_manager)
    response = client.post(
        reverse("contracts:create"),
        {
            "cbo": world.cbo.pk,
            "number": "PCHP-8",
            "start_date": "2026-06-01",
            "end_date": "2026-05-01",
            "claim_format": "837p",
            "timely_filing_days": 180,
            "payment_terms_days": 30,
        },
    )
    assert response.status_code == 200
    assert (
        "The end date (May 1, 2026) is before the effective date (Jun 1, 2026)." in response.content.decode()
    )
    assert not Contract.objects.exists()
    contract = draft_contract(world.plan, world.cbo, world.contract_manager)
    response = client.post(
        reverse("contracts:detail", args=[contract.pk]),
        {
            "action": "add_line",
            "line-service": service("H0043-U6").pk,
            "line-rate": "-3",
        },
    )
    assert "The rate must be more than $0 (got -3)." in response.content.decode()
    assert not contract.rate_lines.exists()


def test_amend_page_changes_the_rate_from_a_date(world, client):
    contract = active_contract(world.plan, world.cbo, world.contract_manager, rates={"H0043-U6": "95"})
    line = contract.rate_lines.get()
    client.force_login(world.contract_manager)
    page = client.get(reverse("contracts:amend", args=[contract.pk, line.pk]))
    assert 'value="95.0000"' in page.content.decode()
    response = client.post(
        reverse("contracts:amend", args=[contract.pk, line.pk]),
        {
            "effective_from": "2026-07-01",
            "rate": "110",
            "unit": "month",
            "authorization": "prior",
            "reason": "Annual increase",
        },
    )
    assert response.status_code == 302
    html = client.get(reverse("contracts:detail", args=[contract.pk])).content.decode()
    assert "Amendment 1" in html and "Annual increase" in html
    # The confirmation names the service by name, code second, and dates read as everywhere else.
    assert f"Amended {line.service.name} (H0043-U6) from Jul 1, 2026." in html


def test_terminate_from_the_page(world, client):
    contract = active_contract(world.plan, world.cbo, world.contract_manager)
    client.force_login(world.contract_manager)
    client.post(
        reverse("contracts:detail", args=[contract.pk]),
        {"action": "terminate", "term-termination_date": "2026-09-01", "term-reason": "Program ended"},
    )
    contract.refresh_from_db()
    assert (contract.status, contract.termination_date) == (ContractStatus.TERMINATED, date(2026, 9, 1))


def test_cbo_and_hub_see_their_contract_read_only(world, client):
    contract = active_contract(world.plan, world.cbo, world.contract_manager, rates={"H0043-U6": "95"})
    for user in (world.cbo_admin, world.hub_billing):
        client.force_login(user)
        assert contract.number in client.get(reverse("contracts:list")).content.decode()
        html = client.get(reverse("contracts:detail", args=[contract.pk])).content.decode()
        assert "You can see this contract but not change it." in html
        assert 'value="terminate"' not in html and "Amend" not in html and "New contract" not in html
        response = client.post(
            reverse("contracts:detail", args=[contract.pk]),
            {"action": "terminate", "term-termination_date": "2026-09-01", "term-reason": "x"},
        )
        assert response.status_code == 404
        assert client.get(reverse("contracts:edit", args=[contract.pk])).status_code == 404
        assert client.get(reverse("contracts:create")).status_code == 404
    contract.refresh_from_db()
    assert contract.status == ContractStatus.ACTIVE


def test_outsiders_get_404_and_an_empty_list(world, client):
    contract = active_contract(world.plan, world.cbo, world.contract_manager)
    for user in (world.other_plan_manager, world.other_cbo_admin):
        client.force_login(user)
        assert client.get(reverse("contracts:detail", args=[contract.pk])).status_code == 404
        assert contract.number not in client.get(reverse("contracts:list")).content.decode()


def test_signed_document_upload_and_download(world, client):
    contract = draft_contract(world.plan, world.cbo, world.contract_manager, rates={"H0043-U6": "95"})
    client.force_login(world.contract_manager)
    client.post(
        reverse("contracts:detail", args=[contract.pk]),
        {"action": "upload", "doc-file": SimpleUploadedFile("signed.pdf", b"%PDF-1.4 hello")},
    )
    client.post(reverse("contracts:detail", args=[contract.pk]), {"action": "activate"})
    client.force_login(world.cbo_admin)
    download = client.get(reverse("contracts:document", args=[contract.pk]))
    assert b"".join(download.streaming_content).startswith(b"%PDF-")
    client.force_login(world.other_cbo_admin)
    assert client.get(reverse("contracts:document", args=[contract.pk])).status_code == 404


def test_list_filters_and_flat_query_count(world, client):
    client.force_login(world.contract_manager)
    active_contract(world.plan, world.cbo, world.contract_manager, number="A-1")
    client.get(reverse("contracts:list"))
    with CaptureQueriesContext(connection) as one:
        assert "A-1" in client.get(reverse("contracts:list")).content.decode()
    for n in range(19):
        draft_contract(world.plan, world.other_cbo, world.contract_manager, number=f"D-{n:02d}")
    with CaptureQueriesContext(connection) as twenty:
        html = client.get(reverse("contracts:list")).content.decode()
    assert "D-18" in html
    assert len(one) == len(twenty)
    filtered = client.get(reverse("contracts:list"), {"status": "active"}).content.decode()
    assert "A-1" in filtered and "D-01" not in filtered
    searched = client.get(reverse("contracts:list"), {"q": "d-05"}).content.decode()
    assert "D-05" in searched and "A-1" not in searched


def test_catalog_page(world, client):
    client.force_login(world.cbo_staff)
    html = client.get(reverse("contracts:catalog"), {"q": "S9977"}).content.decode()
    assert "S9977-U4" in html and "Medically Supportive Food" in html and "H0043-U6" not in html


def test_home_shows_active_contracts_tile(world, client):
    from contracts.choices import ContractStatus
    from tests.contracts.factories import ContractFactory

    ContractFactory(plan=world.plan, cbo=world.cbo, status=ContractStatus.ACTIVE)
    client.force_login(world.cbo_admin)
    page = client.get("/").content.decode()
    assert "Active contract" in page and "/contracts/" in page
    client.force_login(world.other_cbo_admin)
    assert "Active contract" not in client.get("/").content.decode()
