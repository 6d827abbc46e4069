"""Export → 999 → 277CA rejects one claim → fix and resubmit → export again → 835 pays, in a real
browser (issue #16: "a full round trip in the browser").

The hub's billing coordinator builds three claims and batches them; the downloaded 837P passes
pyx12. The coordinator forgets to press "Mark as sent": the plan's 999 accepting the file marks the
batch sent (its history names the 999). The plan's 277CA then accepts two claims (with the plan's
claim numbers) and rejects Cruz's: its principal diagnosis Z59.0 is no longer a valid ICD-10-CM
code (it was split into Z59.00/.01/.02), which our format check cannot know. The coordinator reads
the rejection in words on the claim, changes the code on the referral, re-scrubs, and the claim
goes out again as a new claim in a second batch (its 837P passes pyx12 too). The plan's 835 pays
all three; each claim shows paid.

Only what comes before billing is made with factories: organizations and users, the contract,
accepted referrals and the logged services. Screenshots: /tmp/shots/ack-trip-*.png.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from billing.models import Claim
from billing.x12.ack277 import ClaimVerdict, render_277ca
from billing.x12.common import Envelope
from billing.x12.validate import validate_x12
from tests.billing.factories import DX, delivery, last_month, new_member, setup_billing
from tests.contracts.factories import ensure_reference_data
from tests.e2e.pages import screenshot, sign_in, upload_x12
from tests.e2e.test_billing_whole_journey import File837, payment, plan_835, plan_999, read_837
from tests.referrals.factories import referral

DESKTOP = {"width": 1280, "height": 900}


def shot(page: Page, name: str) -> None:
    screenshot(page, f"ack-trip-{name}")


def plan_277ca(world, sent: File837, *, rejected: dict[str, tuple[str, str, str]]) -> bytes:
    """The plan's 277CA about every claim of ``sent``: accepted into adjudication (A2:20, with the
    plan's claim number) unless ``rejected`` maps the member's CIN to (category, status, entity)."""
    verdicts = []
    for member_id, claim in sent.claims.items():
        if member_id in rejected:
            verdicts.append(ClaimVerdict(claim.control_number, str(claim.charge), *rejected[member_id]))
        else:
            verdicts.append(
                ClaimVerdict(
                    claim.control_number, str(claim.charge), payer_claim_number=f"PCHP{claim.control_number}"
                )
            )
    env = Envelope(
        sender_id="PLANCH",
        receiver_id="GSCHUB",
        interchange_control_number=81,
        created=timezone.now().replace(tzinfo=None),
        usage="T",
    )
    return render_277ca(
        env,
        batch_reference=f"B{sent.group_control}",
        provider_npi=world.cbo.npi,
        provider_name=world.cbo.legal_name.upper(),
        verdicts=verdicts,
    ).encode()


def export_batch(page: Page, base: str) -> str:
    """Batch the ready claims from the batches page and download the 837P; pyx12 must pass it."""
    page.goto(base + "/billing/batches/")
    page.get_by_test_id("create-batch").first.click()
    expect(page.get_by_test_id("batch-status")).to_have_text("Ready")
    with page.expect_download() as download_info:
        page.get_by_test_id("download").click()
    text = Path(download_info.value.path()).read_text()
    assert text.startswith("ISA*")
    ok, errors = validate_x12(text)
    assert ok and errors == [], errors
    return text


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_export_999_277ca_rejects_one_fix_resubmit_835_pays(page: Page, live_server, world, tmp_path):
    ensure_reference_data()
    setup_billing(world)
    base = live_server.url
    ana = new_member(world, first_name="Ana", last_name="Morales")
    ben = new_member(world, first_name="Ben", last_name="Okafor")
    cruz = new_member(world, first_name="Cruz", last_name="Delgado")
    delivery(world, member=ana, label="H0043-U6", day=last_month(5))
    delivery(world, member=ben, label="H0043-U6", day=last_month(6))
    cruz_ref = referral(world, member=cruz, label="S5170-U6", diagnosis_codes=["Z59.0"])
    delivery(world, ref=cruz_ref, label="S5170-U6", day=last_month(7), units=2)
    assert DX  # the others' referrals carry valid social-need codes

    # 1. Build and export.
    page.set_viewport_size(DESKTOP)
    sign_in(page, base, world.hub_billing.email)
    page.goto(base + "/billing/claims/")
    page.get_by_test_id("build-claims").click()
    expect(page.get_by_test_id("build-summary")).to_contain_text("Built 3 claims: 3 ready, 0 held")
    first_text = export_batch(page, base)
    first = read_837(first_text)
    batch_url = page.url
    shot(page, "01-batch-ready")

    # 2. The 999 accepts the file (nobody pressed "Mark as sent").
    upload_x12(page, base, tmp_path, "pchp-ack.999", plan_999(first))
    expect(page.get_by_role("status")).to_contain_text("1 transaction set accepted, 0 rejected")
    shot(page, "02-999")
    page.goto(batch_url)
    expect(page.get_by_test_id("batch-status")).to_have_text("Acknowledged")
    expect(page.locator(".timeline")).to_contain_text("Marked sent: 999 pchp-ack.999 answers this batch")
    shot(page, "03-batch-after-999")

    # 3. The 277CA rejects Cruz's claim; the two others are accepted with the plan's numbers.
    ca = plan_277ca(world, first, rejected={cruz.cin: ("A7", "254", "")})
    upload_x12(page, base, tmp_path, "pchp-claims.277", ca)
    expect(page.get_by_role("status")).to_contain_text("277CA imported: 2 claims accepted, 1 rejected.")
    shot(page, "04-277ca")
    cruz_number = first.claims[cruz.cin].control_number
    row = page.get_by_test_id(f"ack-claim-{cruz_number}")
    expect(row).to_contain_text("Rejected")
    expect(row).to_contain_text("Cruz Delgado")
    expect(row).to_contain_text("The principal diagnosis code is missing or invalid")

    # 4. The claims page puts the rejection in front of the coordinator.
    page.goto(base + "/billing/claims/")
    expect(page.get_by_test_id("rejected-alert")).to_contain_text("1 claim was rejected by the plan")
    cruz_row = page.get_by_test_id("claims-table").get_by_role("row").filter(has_text="Cruz Delgado")
    expect(cruz_row.locator(".badge")).to_have_text("Rejected")
    expect(cruz_row).to_contain_text("The principal diagnosis code is missing or invalid")
    shot(page, "05-claims-rejected")

    # 5. On the claim: the reason in words, what to do, and the link to where it is fixed.
    cruz_row.get_by_role("link", name=cruz_number).click()
    claim_url = page.url
    expect(page.get_by_test_id("claim-status")).to_have_text("Rejected")
    rejection = page.get_by_test_id("rejection")
    expect(rejection).to_contain_text("Pacific Coast Health Plan rejected this claim")
    expect(rejection).to_contain_text(
        "Rejected for invalid information: The principal diagnosis code is missing or invalid."
    )
    expect(rejection).to_contain_text("retired or header codes such as Z59.0 are refused")
    shot(page, "06-claim-rejected")
    rejection.get_by_test_id("fix-link").click()
    expect(page.get_by_test_id("diagnoses")).to_contain_text("Z59.0")
    page.get_by_label("Diagnosis codes (ICD-10)").fill("Z59.01")
    page.get_by_role("button", name="Save diagnosis codes").click()
    expect(page.get_by_role("status").filter(has_text="Diagnosis codes saved.")).to_be_visible()
    shot(page, "07-referral-fixed")
    page.goto(claim_url)
    page.get_by_test_id("rescrub").filter(has_text="Re-scrub and resubmit").click()
    expect(page.get_by_test_id("claim-status")).to_have_text("Ready")
    expect(
        page.get_by_role("status").filter(has_text="It goes in the next batch to Pacific Coast Health Plan")
    ).to_be_visible()
    expect(page.get_by_test_id("rejection")).to_have_count(0)
    shot(page, "08-claim-ready-again")

    # 6. Export again: only Cruz's claim, as a new claim (frequency 1) with the corrected code.
    second_text = export_batch(page, base)
    second = read_837(second_text)
    assert list(second.claims) == [cruz.cin]
    assert second.claims[cruz.cin].control_number == cruz_number and second.claims[cruz.cin].frequency == "1"
    assert "HI*ABK:Z5901" in second_text and "Z590~" not in second_text and "Z590*" not in second_text
    assert second.group_control != first.group_control
    page.get_by_test_id("mark-sent").click()
    expect(page.get_by_test_id("batch-status")).to_have_text("Submitted")
    shot(page, "09-second-batch-sent")
    page.goto(batch_url)  # the first batch tells where the claim went and what the plan said
    expect(page.get_by_test_id("batch-resent")).to_contain_text(
        "1 claim of this file was rejected by the plan"
    )
    expect(page.get_by_test_id("batch-answers")).to_contain_text("999 pchp-ack.999")
    expect(page.get_by_test_id("batch-answers")).to_contain_text("277CA pchp-claims.277")
    shot(page, "09b-first-batch-after-resubmit")

    # 7. The plan's 835 pays all three claims in full.
    paid = [
        payment(c, "1", lambda ln: ln.charge)
        for c in (first.claims[ana.cin], first.claims[ben.cin], second.claims[cruz.cin])
    ]
    remit = plan_835(world, paid)
    ok, errors = validate_x12(remit.decode())
    assert ok and errors == [], errors
    upload_x12(page, base, tmp_path, "pchp-remit.835", remit)
    expect(page.get_by_role("status")).to_contain_text(
        "3 claims matched, 0 unmatched, $215.00 paid, 0 denied"
    )
    shot(page, "10-remittance")
    page.goto(base + "/billing/claims/?status=paid")
    rows = page.get_by_test_id("claims-table").locator("tbody tr")
    expect(rows).to_have_count(3)
    for name in ("Ana Morales", "Ben Okafor", "Cruz Delgado"):
        expect(rows.filter(has_text=name).locator(".badge")).to_have_text("Paid")
    shot(page, "11-claims-paid")
    page.goto(claim_url)
    expect(page.get_by_test_id("claim-status")).to_have_text("Paid")
    expect(page.locator(".money-row")).to_contain_text("$25.00")
    shot(page, "12-claim-paid")
    cruz_claim = Claim.objects.get(control_number=cruz_number)
    assert (
        cruz_claim.paid_amount == Decimal("25.00") and cruz_claim.batch.group_control == second.group_control
    )
