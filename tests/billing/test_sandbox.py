"""The plan sandbox (demo mode only): a batch answered with the 999, 277CA and 835 the demo plan
would send, through the same intake as an uploaded file.

What a user would notice: the answers are real X12 that pyx12 and our own parsers accept and the
835 balances; after pressing, claims are paid, one is paid short (CO-45 and the member's PR-3
co-payment) and the last is denied with its reason in words; pressing again posts nothing twice;
and outside demo mode there is no button and the page is a 404."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied

from billing import sandbox
from billing.choices import BatchStatus, ClaimStatus
from billing.models import Acknowledgement, Adjustment, Batch, Claim, ClaimStatusChange, Payment, Remittance
from billing.services import acks as ack_services
from billing.services import denials
from billing.services import remittances as remit_services
from billing.services.batches import create_batch, submit_batch
from billing.services.claims import build_claims
from billing.x12 import ack277, ack999, remit835
from billing.x12.claim837 import Address
from billing.x12.read837 import Sent837, SentClaim, SentLine, read_837
from billing.x12.validate import validate_x12
from cbo_portal.models import AuditEvent
from tests.billing.factories import delivery, last_month, new_member, setup_billing

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings):
    settings.DEBUG = True  # demo mode, as in `make run`


@pytest.fixture
def batch(world, django_capture_on_commit_callbacks) -> Batch:
    """Four claims of the hub (for world.cbo), the first with two lines, in a written batch that
    nobody has marked sent yet (the plan takes files by download)."""
    setup_billing(world)
    member = new_member(world)
    delivery(world, member=member, day=last_month(3))
    delivery(world, member=member, day=last_month(4))
    for _ in range(3):
        delivery(world)
    build_claims(acting_user=world.cbo_billing)
    with django_capture_on_commit_callbacks(execute=True):
        made = create_batch(submitter=world.hub, plan=world.plan, acting_user=world.hub_billing)
    made.refresh_from_db()
    assert made.status == BatchStatus.READY and made.claim_count == 4
    return made


def _sent(batch: Batch) -> Sent837:
    with batch.file.open("rb") as fh:
        return read_837(fh.read().decode())


def _files(batch: Batch) -> dict[str, sandbox.AnswerFile]:
    sent = _sent(batch)
    return {
        f.kind: f for f in sandbox.answer_files(sent, sandbox.plan_side(batch.plan, payer_id=sent.payer_id))
    }


def test_answers_are_real_x12_that_pyx12_and_our_parsers_accept(world, batch, demo):
    sent = _sent(batch)
    claims = {c.control_number: c for c in Claim.objects.filter(batch=batch).prefetch_related("lines")}
    assert {c.control_number for c in sent.claims} == set(claims)
    files = _files(batch)
    assert set(files) == {"999", "277CA", "835"}
    for f in files.values():
        assert validate_x12(f.data.decode()).errors == [], f.kind

    [group] = ack999.parse_999(files["999"].data.decode())  # trailer counts are checked as it reads
    assert group.group_control_number == str(batch.group_control) and group.status == "A"
    assert group.accepted_control_numbers == sorted({c.transaction_set_control for c in claims.values()})

    [ca] = ack277.parse_277ca(files["277CA"].data.decode())
    assert {c.control_number for c in ca.claims} == set(claims)
    assert all(c.outcome == "accepted" and c.payer_claim_number for c in ca.claims)
    assert {c.provider_npi for c in ca.claims} == {world.cbo.npi}

    [remit] = remit835.parse_835(files["835"].data.decode())  # raises on any imbalance
    assert remit.payee_npi == world.cbo.npi and remit.payer_id == world.plan.payer_id
    assert remit.total_paid == sum((c.paid for c in remit.claims), Decimal(0))  # BPR02 = Σ CLP04 (no PLB)
    for cp in remit.claims:
        assert cp.charge - cp.paid == cp.adjustment_total  # CLP03 − CLP04 = Σ CAS
        for svc in cp.services:
            assert svc.charge - svc.paid == svc.adjustment_total
        ours = claims[cp.patient_control_number]
        assert cp.charge == ours.billed_amount
        assert {s.line_control_number for s in cp.services} == {
            ln.line_control_number for ln in ours.lines.all()
        }
    # The 277CA's plan claim numbers are the 835's.
    assert {c.control_number: c.payer_claim_number for c in ca.claims} == {
        c.patient_control_number: c.payer_claim_number for c in remit.claims
    }
    # The same file always gets the same answers (that is what makes pressing twice safe).
    assert {k: f.data for k, f in _files(batch).items()} == {k: f.data for k, f in files.items()}


def test_several_payees_get_one_835_each_and_one_277ca_with_each_provider():
    def claim(n: int, npi: str) -> SentClaim:
        return SentClaim(
            f"C{n}",
            Decimal("100"),
            "12",
            "1",
            "0001",
            npi,
            f"PROVIDER {npi[-2:]}",
            f"9123400{n}A",
            f"LAST{n}",
            "ANA",
            lines=[
                SentLine("H0043", ("U6",), Decimal("100"), Decimal(1), dt.date(2026, 11, 3), None, f"C{n}-1")
            ],
        )

    sent = Sent837(
        "ZZ",
        "SUBHUB",
        "ZZ",
        "RCVPLAN",
        42,
        "P",
        "SUBHUB",
        "RCVPLAN",
        dt.datetime(2026, 12, 1, 9, 30),
        42,
        "B42",
        "PACIFIC COAST HEALTH PLAN",
        "PCHP1",
        ["0001"],
        [claim(1, "1245319599"), claim(2, "1245319599"), claim(3, "1346725785")],
    )
    plan = sandbox.PlanSide(
        "Pacific Coast Health Plan",
        "PCHP1",
        Address("1055 W 7th St", "Los Angeles", "CA", "90017"),
        "EDI support",
        "2135550100",
        "953456789",
    )
    files = sandbox.answer_files(sent, plan)
    assert [f.kind for f in files] == ["999", "277CA", "835", "835"]
    for f in files:
        assert validate_x12(f.data.decode()).errors == [], f.file_name
    [ca] = ack277.parse_277ca(files[1].data.decode())
    assert [(c.control_number, c.provider_npi) for c in ca.claims] == [
        ("C1", "1245319599"),
        ("C2", "1245319599"),
        ("C3", "1346725785"),
    ]
    first, second = (remit835.parse_835(f.data.decode())[0] for f in files[2:])
    assert [c.patient_control_number for c in first.claims] == ["C1", "C2"]
    assert first.payee_npi == "1245319599"
    assert [c.patient_control_number for c in second.claims] == ["C3"] and second.total_paid == 0
    assert second.claims[0].is_denied and second.handling_code == "H" and second.payment_method == "NON"
    assert first.trace_number != second.trace_number


def test_pressing_posts_paid_short_paid_and_denied_through_the_intake(world, batch, demo):
    order = [c.control_number for c in _sent(batch).claims]
    run = sandbox.answer_batch(batch, acting_user=world.hub_billing)
    assert [d.file.kind for d in run.deliveries] == ["999", "277CA", "835"] and run.changed
    batch.refresh_from_db()
    # The 999 proved the batch sent (it was written, never marked sent), then acknowledged it.
    assert batch.status == BatchStatus.ACKNOWLEDGED
    assert batch.history.filter(to_status=BatchStatus.SUBMITTED, reason__contains="999 plan-sandbox").exists()
    assert Acknowledgement.objects.filter(batch=batch).count() == 2
    claims = {c.control_number: c for c in Claim.objects.filter(batch=batch)}
    statuses = [claims[n].status for n in order]
    assert statuses == [ClaimStatus.PAID, ClaimStatus.PAID, ClaimStatus.PARTIALLY_PAID, ClaimStatus.DENIED]
    assert all(c.payer_claim_number.startswith("SBX") for c in claims.values())
    # Every claim went submitted → accepted (999, 277CA) → its decision (835).
    for claim in claims.values():
        moves = list(
            ClaimStatusChange.objects.filter(claim=claim).order_by("pk").values_list("to_status", flat=True)
        )
        assert moves[-3:] == [ClaimStatus.SUBMITTED, ClaimStatus.ACCEPTED, claim.status]
    paid_in_full = claims[order[0]]
    assert paid_in_full.paid_amount == paid_in_full.billed_amount

    short = claims[order[2]]
    allowed = (short.billed_amount * Decimal("0.90")).quantize(Decimal("0.01"))
    assert short.patient_responsibility == Decimal("5.00")
    assert short.paid_amount == allowed - Decimal("5.00")
    groups = {(a.group, a.carc): a.amount for a in Adjustment.objects.filter(claim=short)}
    assert groups == {("CO", "45"): short.billed_amount - allowed, ("PR", "3"): Decimal("5.00")}

    denied = claims[order[3]]
    assert denied.paid_amount == 0
    [reason] = denials.reasons(denied)
    assert reason.label == "CO-16" and "missing information" in reason.description
    assert ("MA130", "The claim is incomplete or invalid and could not be processed; no appeal rights.") in (
        reason.rarcs
    )
    assert {c.pk for c in denials.queue(world.hub_billing)} == {short.pk, denied.pk}
    remittance = Remittance.objects.get()
    assert remittance.total_paid == sum((c.paid_amount for c in claims.values()), Decimal(0))
    assert remittance.payee == world.cbo and remittance.plan == world.plan and remittance.unmatched_count == 0
    answered = AuditEvent.objects.filter(summary__startswith=f"Answered batch {batch.pk} in the plan sandbox")
    assert answered.count() == 1
    # The intake's own audit rows count in words: one set is "1 transaction set", not "1 transaction sets".
    summaries = list(
        AuditEvent.objects.filter(summary__startswith="Imported").values_list("summary", flat=True)
    )
    assert any(s.endswith(": 1 transaction set accepted, 0 rejected") for s in summaries), summaries
    assert any(": 4 claims accepted, 0 rejected" in s for s in summaries), summaries


def test_pressing_again_posts_nothing_twice(world, batch, demo):
    sandbox.answer_batch(batch, acting_user=world.hub_billing)
    tables = (Payment, Adjustment, Remittance, Acknowledgement, ClaimStatusChange, AuditEvent)

    def counts() -> dict[str, int]:
        return {t.__name__: t.objects.count() for t in tables}

    before = counts()
    claims_before = list(Claim.objects.filter(batch=batch).values_list("pk", "status", "paid_amount"))
    again = sandbox.answer_batch(batch, acting_user=world.hub_billing)
    assert not again.changed and all(d.already for d in again.deliveries)
    assert counts() == before
    assert list(Claim.objects.filter(batch=batch).values_list("pk", "status", "paid_amount")) == claims_before
    # It is the intake that says so: the same 277CA again once its claims are paid, and the same
    # payment again in a file of another name.
    ca = next(d.file for d in again.deliveries if d.file.kind == "277CA")
    assert ack_services.import_ack(
        ca.data, file_name="again.277", acting_user=world.hub_billing
    ).already_imported
    remit = next(d.file for d in again.deliveries if d.file.kind == "835")
    result = remit_services.import_remittance(
        remit.data, file_name="again.835", acting_user=world.hub_billing
    )
    assert result.already_imported and counts() == before


def _offer(user, batch: Batch) -> str:
    """What the batch page's ``{% plan_sandbox_offer %}`` shows ``user``."""
    from django.template import Context, Template
    from django.test import RequestFactory

    request = RequestFactory().get(f"/billing/batches/{batch.pk}/")
    request.user = user
    template = Template("{% load sandbox %}{% plan_sandbox_offer batch %}")
    return template.render(Context({"request": request, "batch": batch, "csrf_token": "x"}))


def test_the_offer_is_for_the_submitters_billing_staff_in_demo_mode(world, batch, settings):
    settings.DEBUG = True
    offer = _offer(world.hub_billing, batch)
    assert "Plan sandbox: answer this batch as the plan would" in offer and "demo mode only" in offer
    assert f'action="/billing/batches/{batch.pk}/sandbox/"' in offer
    assert (
        _offer(world.cbo_staff, batch).strip() == "" and _offer(world.contract_manager, batch).strip() == ""
    )
    settings.DEBUG = False
    assert _offer(world.hub_billing, batch).strip() == ""


def test_the_sandbox_page_shows_the_decisions_and_the_answers(world, batch, demo, client):
    client.force_login(world.hub_billing)
    page = client.get(f"/billing/batches/{batch.pk}/").content.decode()
    assert "Plan sandbox: answer this batch as the plan would" in page
    assert f'action="/billing/batches/{batch.pk}/sandbox/"' in page
    preview = client.get(f"/billing/batches/{batch.pk}/sandbox/").content.decode()
    assert "Paid short" in preview and "Denied" in preview and "CO-45" in preview and "None yet" in preview
    response = client.post(f"/billing/batches/{batch.pk}/sandbox/", follow=True)
    text = response.content.decode()
    assert response.redirect_chain[-1][0] == f"/billing/batches/{batch.pk}/sandbox/"
    assert "answered batch" in text and "999 acknowledgement" in text and "835 payment of $" in text
    for ack in Acknowledgement.objects.filter(batch=batch):
        assert f"/billing/acknowledgements/{ack.pk}/" in text
    assert f"/billing/remittances/{Remittance.objects.get().pk}/" in text
    again = client.post(f"/billing/batches/{batch.pk}/sandbox/", follow=True).content.decode()
    assert "nothing was posted twice" in again


def test_only_the_submitters_billing_staff_are_offered_it(world, batch, demo, client):
    submit_batch(batch, acting_user=world.hub_billing)
    client.force_login(world.contract_manager)  # the plan sees a sent batch, but imports nothing
    assert "Plan sandbox" not in client.get(f"/billing/batches/{batch.pk}/").content.decode()
    response = client.post(f"/billing/batches/{batch.pk}/sandbox/", follow=True)
    assert "Only the submitter&#x27;s billing staff" in response.content.decode()
    assert not Acknowledgement.objects.exists()
    with pytest.raises(PermissionDenied):
        sandbox.answer_batch(batch, acting_user=world.contract_manager)


def test_outside_demo_mode_there_is_no_sandbox(world, batch, settings, client):
    settings.DEBUG = False
    client.force_login(world.hub_billing)
    page = client.get(f"/billing/batches/{batch.pk}/")
    assert page.status_code == 200 and "Plan sandbox" not in page.content.decode()
    assert client.get(f"/billing/batches/{batch.pk}/sandbox/").status_code == 404
    assert client.post(f"/billing/batches/{batch.pk}/sandbox/").status_code == 404
    with pytest.raises(sandbox.SandboxOff):
        sandbox.answer_batch(batch, acting_user=world.hub_billing)
    with pytest.raises(sandbox.SandboxOff):
        sandbox.preview(batch, acting_user=world.hub_billing)
    assert not Acknowledgement.objects.exists() and not Remittance.objects.exists()
    batch.refresh_from_db()
    assert batch.status == BatchStatus.READY


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        (1, ["paid"]),
        (2, ["paid", "denied"]),
        (3, ["paid", "short-paid", "denied"]),
        (5, ["paid", "paid", "paid", "short-paid", "denied"]),
    ],
)
def test_which_claims_are_paid_short_or_denied(total, expected):
    assert [sandbox.outcome(i, total) for i in range(total)] == expected


def test_read_837_takes_what_an_answer_names_from_the_file():
    """Two providers, a date range (RD8), a replacement (REF*F8) and several sets, read back from
    an 837P our writer wrote."""
    from billing.x12.claim837 import render_837
    from tests.billing import x12_fixtures as fx

    ranged = fx.line(
        7, service_date=dt.date(2025, 2, 3), service_date_end=dt.date(2025, 2, 9), line_control_number="R-1"
    )
    replacement = fx.claim(2, lines=(ranged,), frequency="7", payer_claim_number="PCN-OLD-2")
    claims = [fx.claim(1, lines=2), replacement, fx.claim(3, provider=fx.OTHER_PROVIDER)]
    text, _result = render_837(fx.envelope(77), [fx.group(claims, gs=55)], max_claims_per_set=2)
    sent = read_837(text)
    assert (sent.sender_id, sent.receiver_id, sent.interchange_control_number) == ("CASAESP", "LACARE01", 77)
    assert sent.group_control_number == 55 and sent.batch_reference == "B20250314"
    assert sent.created == fx.CREATED and sent.payer_id == "LACARE01"
    assert [c.control_number for c in sent.claims] == ["C0000001", "C0000002", "C0000003"]
    assert (
        len(sent.set_control_numbers) == 2
        and sent.claims[-1].set_control_number == sent.set_control_numbers[1]
    )
    first, second, third = sent.claims
    assert [ln.line_control_number for ln in first.lines] == ["L100", "L101"]
    assert first.charge == sum((ln.charge for ln in first.lines), Decimal(0))
    assert (second.frequency, second.original_claim_number) == ("7", "PCN-OLD-2")
    assert (second.first_date, second.last_date) == (dt.date(2025, 2, 3), dt.date(2025, 2, 9))
    assert (first.provider_npi, third.provider_npi) == (fx.PROVIDER.npi, fx.OTHER_PROVIDER.npi)
    assert first.member_id == fx.cin(1) and first.last_name == fx.subscriber(1).last_name.upper()
