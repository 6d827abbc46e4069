"""The whole billing journey in a real browser, one set of data from start to end (issue #5).

A CBO's staff member logs services for three members on a phone; the hub's billing coordinator
builds the claims, sees one held because its referral has no diagnosis code, adds the code on the
referral page and re-scrubs it; batches the ready claims and downloads the 837P, which pyx12
passes. The plan's 999 and 835 are made from that downloaded file (its control numbers, claims
and line control numbers): the 999 accepts, the 835 pays one claim in full, pays one short
(CO-45) and denies one (CO-197). The coordinator uploads both, sees paid, partially paid and
denied claims, reads the denial in words and corrects it: a replacement claim (frequency 7,
carrying the plan's claim number) is ready for the next batch.

Only what comes before the journey is made with factories: organizations and users, the active
contract, accepted referrals and the authorization. Screenshots go to /tmp/shots/journey-*.png.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from billing.models import Claim
from billing.x12 import ack999
from billing.x12.common import Envelope
from billing.x12.remit835 import Adjustment, ClaimPayment, Remittance, ServicePayment
from billing.x12.remit835_writer import balanced_total, render_835
from billing.x12.validate import validate_x12
from tests.billing.factories import DX, last_month, new_member, setup_billing
from tests.billing.remit_factories import PAYER
from tests.contracts.factories import ensure_reference_data
from tests.e2e.pages import screenshot, sign_in, upload_x12
from tests.referrals.factories import authorization, referral

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def shot(page: Page, name: str) -> None:
    screenshot(page, f"journey-{name}")


def log_service(page: Page, referral_pk: int, day: dt.date, units: int) -> None:
    page.get_by_label("Member and service").select_option(str(referral_pk))
    page.get_by_label("Date of service").fill(day.isoformat())
    page.get_by_label("Units").fill(str(units))
    page.get_by_role("button", name="Log service").click()
    expect(page.get_by_role("status").filter(has_text=f"Logged {units} ×")).to_be_visible()


# --------------------------------------------------------------------------- reading the 837


@dataclass
class Line837:
    procedure_code: str
    modifiers: tuple[str, ...]
    charge: Decimal
    service_date: dt.date
    line_control_number: str = ""


@dataclass
class Claim837:
    control_number: str
    charge: Decimal
    frequency: str
    member_id: str
    last_name: str
    first_name: str
    lines: list[Line837] = field(default_factory=list)


@dataclass
class File837:
    group_control: int
    set_controls: list[str]
    claims: dict[str, Claim837]  # by the member's CIN


def read_837(text: str) -> File837:
    """The few things a plan's system takes from an 837P to answer it: GS06, each ST02, and per
    claim CLM01/CLM02/frequency, the subscriber (NM1*IL) and each line's SV1, DTP*472 and REF*6R."""
    element, terminator = text[3], text[105]
    segments = [s.strip().split(element) for s in text.split(terminator) if s.strip()]
    group, sets, claims = 0, [], {}
    subscriber: tuple[str, str, str] = ("", "", "")
    claim: Claim837 | None = None
    for seg in segments:
        tag = seg[0]
        if tag == "GS":
            group = int(seg[6])
        elif tag == "ST":
            sets.append(seg[2])
        elif tag == "NM1" and seg[1] == "IL":
            subscriber = (seg[9], seg[3], seg[4])
        elif tag == "CLM":
            claim = Claim837(seg[1], Decimal(seg[2]), seg[5].split(":")[2], *subscriber)
            claims[claim.member_id] = claim
        elif tag == "SV1" and claim is not None:
            code, *mods = seg[1].split(":")[1:]
            claim.lines.append(Line837(code, tuple(mods), Decimal(seg[2]), dt.date.min))
        elif tag == "DTP" and seg[1] == "472" and claim is not None:
            claim.lines[-1].service_date = dt.datetime.strptime(seg[3][:8], "%Y%m%d").date()
        elif tag == "REF" and seg[1] == "6R" and claim is not None:
            claim.lines[-1].line_control_number = seg[2]
    return File837(group, sets, claims)


# --------------------------------------------------------------------------- the plan's answers


def plan_999(sent: File837) -> bytes:
    """The clearinghouse accepts every transaction set of the group."""
    env = Envelope(
        sender_id="PLANCH",
        receiver_id="GSCHUB",
        interchange_control_number=71,
        created=timezone.now().replace(tzinfo=None),
        usage="T",
    )
    request = ack999.AckRequest(
        group_control_number=sent.group_control, set_control_numbers=sent.set_controls
    )
    return ack999.render_999(env, [request], group_control_number=72).encode()


def plan_835(world, claims: list[ClaimPayment]) -> bytes:
    """The plan's payment (today) to the CBO (payee NPI) for ``claims``."""
    paid_on = timezone.localdate()
    header = Remittance(
        handling_code="I",
        total_paid=balanced_total(claims),
        payment_method="CHK",
        payment_date=paid_on,
        trace_number="EFT-JOURNEY-1",
        payer_name=world.plan.legal_name,
        payer_id=world.plan.payer_id,
        payee_name=world.cbo.legal_name,
        payee_npi=world.cbo.npi,
        claims=tuple(claims),
    )
    env = Envelope(
        sender_id=world.plan.payer_id,
        receiver_id="GSCHUB",
        interchange_control_number=73,
        created=timezone.now().replace(tzinfo=None),
        usage="T",
    )
    return render_835(env, header, PAYER, newline=True).encode()


def payment(claim: Claim837, status: str, pay_line, carc: str | None = None) -> ClaimPayment:
    """A CLP for ``claim`` paying each line ``pay_line(line)``; the rest is adjusted CO-<carc>."""
    services = []
    for ln in claim.lines:
        paid = pay_line(ln)
        adjustments = (Adjustment("CO", carc, ln.charge - paid),) if paid != ln.charge else ()
        services.append(
            ServicePayment(
                procedure_code=ln.procedure_code,
                modifiers=ln.modifiers,
                charge=ln.charge,
                paid=paid,
                service_date=ln.service_date,
                line_control_number=ln.line_control_number,
                adjustments=adjustments,
            )
        )
    return ClaimPayment(
        patient_control_number=claim.control_number,
        status=status,
        charge=claim.charge,
        paid=sum((s.paid for s in services), Decimal(0)),
        payer_claim_number=f"PCHP{claim.control_number}",
        patient_responsibility=None,
        facility_code="12",
        frequency="1",
        patient_last_name=claim.last_name,
        patient_first_name=claim.first_name,
        patient_member_id=claim.member_id,
        services=tuple(services),
    )


# --------------------------------------------------------------------------- the journey


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_whole_billing_journey_from_logging_to_resubmitted_denial(
    page: Page, browser, live_server, world, tmp_path
):
    ensure_reference_data()
    setup_billing(world)  # active contract, billing-ready CBO and hub, a download channel to the plan
    base = live_server.url
    # Accepted referrals: Ana's T2041 is authorized for 8 units (she uses them all, so the
    # authorization ends up exhausted); Ben's H0043 and Cruz's meals need none. Cruz's referral
    # came without a diagnosis code.
    ana = new_member(world, first_name="Ana", last_name="Morales")
    ben = new_member(world, first_name="Ben", last_name="Okafor")
    cruz = new_member(world, first_name="Cruz", last_name="Delgado")
    ana_ref = referral(world, member=ana, label="T2041-U6", diagnosis_codes=DX)
    authorization(world, ana_ref, units=8, number="PA-2026-0042")
    ben_ref = referral(world, member=ben, label="H0043-U6", diagnosis_codes=DX)
    cruz_ref = referral(world, member=cruz, label="S5170-U6", diagnosis_codes=[])

    # 1. Staff logs five services on a phone through "Log a service".
    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    sign_in(phone, base, world.cbo_staff.email)
    phone.goto(base + "/services/log/")
    shot(phone, "01-phone-log")
    log_service(phone, ana_ref.pk, last_month(5), 4)
    log_service(phone, ana_ref.pk, last_month(6), 4)
    log_service(phone, ben_ref.pk, last_month(5), 1)
    log_service(phone, ben_ref.pk, last_month(6), 1)
    log_service(phone, cruz_ref.pk, last_month(7), 2)
    expect(phone.get_by_role("status").filter(has_text="Cruz Delgado")).to_be_visible()
    shot(phone, "02-phone-logged")
    phone.goto(base + f"/referrals/{ana_ref.pk}/")
    expect(phone.get_by_test_id("units-left")).to_contain_text("0 units left")  # exhausted, still billable
    phone.context.close()

    # 2. The hub's billing coordinator builds the claims: two ready, Cruz's held.
    page.set_viewport_size(DESKTOP)
    sign_in(page, base, world.hub_billing.email)
    page.goto(base + "/billing/claims/")
    expect(page.get_by_test_id("build-claims")).to_contain_text("5 services")
    page.get_by_test_id("build-claims").click()
    expect(page.get_by_test_id("build-summary")).to_contain_text("Built 3 claims: 2 ready, 1 held")
    page.get_by_role("link", name="Back to claims").click()
    table = page.get_by_test_id("claims-table")
    expect(table.get_by_role("row").filter(has_text="Cruz Delgado")).to_contain_text("Held")
    expect(table.get_by_role("row").filter(has_text="Cruz Delgado")).to_contain_text("no diagnosis code")
    shot(page, "03-claims-built")

    # 3. The held claim says what is wrong and how to fix it; the fix is made on the referral.
    table.get_by_role("row").filter(has_text="Cruz Delgado").get_by_role("link").first.click()
    held_url = page.url
    problems = page.get_by_test_id("problems")
    expect(problems).to_contain_text("The claim has no diagnosis code.")
    expect(problems).to_contain_text("Add the member's social-need diagnosis (e.g. Z59.01) on the referral")
    shot(page, "04-claim-held")
    page.get_by_test_id("claim-referral").click()
    expect(page.get_by_test_id("diagnoses")).to_have_text("—")
    page.get_by_text("Add diagnosis codes").click()
    page.get_by_label("Diagnosis codes (ICD-10)").fill("Z59.41")
    shot(page, "05-referral-add-diagnosis")
    page.get_by_role("button", name="Save diagnosis codes").click()
    expect(page.get_by_role("status").filter(has_text="Diagnosis codes saved.")).to_be_visible()
    expect(page.get_by_test_id("diagnoses")).to_contain_text("Z59.41")
    page.goto(held_url)
    page.get_by_test_id("rescrub").click()
    expect(page.get_by_test_id("claim-status")).to_have_text("Ready")
    expect(page.get_by_role("status").filter(has_text="is clean and ready to send")).to_be_visible()
    expect(page.get_by_test_id("problems")).to_have_count(0)
    shot(page, "06-claim-ready")

    # 4. A batch of the three claims; the 837P is downloaded from the page and passes pyx12.
    page.goto(base + "/billing/batches/")
    shot(page, "07-batches")
    page.get_by_test_id("create-batch").first.click()
    expect(page.get_by_test_id("batch-status")).to_have_text("Ready")
    with page.expect_download() as download_info:
        page.get_by_test_id("download").click()
    download = download_info.value
    text = Path(download.path()).read_text()
    assert download.suggested_filename and text.startswith("ISA*")
    ok, errors = validate_x12(text)
    assert ok and errors == [], errors
    shot(page, "08-batch-ready")
    page.get_by_test_id("mark-sent").click()
    expect(page.get_by_test_id("batch-status")).to_have_text("Submitted")

    sent = read_837(text)
    assert sorted(sent.claims) == sorted([ana.cin, ben.cin, cruz.cin])
    assert sent.claims[ana.cin].charge == Decimal("200.00") and len(sent.claims[ana.cin].lines) == 2
    assert sent.claims[ben.cin].charge == Decimal("190.00")
    assert sent.claims[cruz.cin].charge == Decimal("25.00")
    assert {c.frequency for c in sent.claims.values()} == {"1"}

    # 5. The plan's 999 accepts the file; its 835 pays Cruz in full, Ben short and denies Ana.
    upload_x12(page, base, tmp_path, "pchp-ack.999", plan_999(sent))
    expect(page.get_by_role("status")).to_contain_text(
        f"{len(sent.set_controls)} transaction set{'' if len(sent.set_controls) == 1 else 's'} accepted, 0 rejected"
    )
    shot(page, "09-ack")
    remit = plan_835(
        world,
        [
            payment(sent.claims[cruz.cin], "1", lambda ln: ln.charge),
            payment(sent.claims[ben.cin], "1", lambda ln: Decimal("80.00"), carc="45"),
            payment(sent.claims[ana.cin], "4", lambda ln: Decimal("0"), carc="197"),
        ],
    )
    ok, errors = validate_x12(remit.decode())
    assert ok and errors == [], errors
    upload_x12(page, base, tmp_path, "pchp-remit.835", remit)
    expect(page.get_by_role("status")).to_contain_text(
        "3 claims matched, 0 unmatched, $185.00 paid, 1 denied"
    )
    shot(page, "10-remittance")

    # 6. Paid, partially paid and denied claims on the claims list.
    page.goto(base + "/billing/claims/")
    for label, name in (
        ("Paid", "Cruz Delgado"),
        ("Partially paid", "Ben Okafor"),
        ("Denied", "Ana Morales"),
    ):
        page.get_by_label("Status").select_option(label=label)
        page.get_by_role("button", name="Filter").click()
        rows = page.get_by_test_id("claims-table").locator("tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text(name)
        expect(rows.first.locator(".badge")).to_have_text(label)
        shot(page, f"11-claims-{label.lower().replace(' ', '-')}")

    # The denial in words, with what to do; the short payment beside it.
    denied_number = sent.claims[ana.cin].control_number
    page.goto(base + "/billing/denials/")
    card = page.get_by_test_id(f"denial-{denied_number}")
    expect(card).to_contain_text("CO-197")
    expect(card).to_contain_text("Authorization, pre-certification or notification was missing.")
    expect(card).to_contain_text("What to do:")
    expect(card).to_contain_text(f"PCHP{denied_number}")
    short = page.get_by_test_id(f"denial-{sent.claims[ben.cin].control_number}")
    expect(short).to_contain_text("CO-45")
    expect(short).to_contain_text("above the fee schedule or contracted rate")
    shot(page, "12-denials")

    # Correct and resubmit: the replacement (frequency 7) carries the plan's claim number.
    card.get_by_role("link", name="Correct and resubmit").click()
    expect(page.get_by_test_id("replacement-preview")).to_contain_text("What will be sent")
    shot(page, "12b-correct-confirm")
    page.get_by_test_id("confirm-correct").click()
    expect(page.get_by_role("status")).to_contain_text(f"Claim {denied_number} corrected")
    expect(page.get_by_text("Claim · replacement")).to_be_visible()
    expect(page.get_by_test_id("claim-status")).to_have_text("Ready")
    expect(page.locator(".facts")).to_contain_text(f"PCHP{denied_number}")
    expect(page.locator(".facts").get_by_role("link", name=denied_number)).to_be_visible()
    shot(page, "13-replacement")
    replacement = Claim.objects.get(replaces__control_number=denied_number)
    assert replacement.frequency == "7" and replacement.payer_claim_number == f"PCHP{denied_number}"
    assert replacement.status == "ready" and replacement.billed_amount == Decimal("200.00")

    # The replacement waits on the claims page, ready for the next batch.
    page.goto(base + "/billing/claims/?status=ready")
    row = page.get_by_test_id("claims-table").get_by_role("row").filter(has_text=replacement.control_number)
    expect(row).to_contain_text("Replacement")
    expect(row).to_contain_text("Ana Morales")
    shot(page, "14-claims-ready-replacement")
    page.set_viewport_size(PHONE)
    page.goto(base + "/billing/denials/?status=partially_paid")
    shot(page, "15-phone-denials")
