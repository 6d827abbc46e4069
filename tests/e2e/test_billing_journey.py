"""A billing coordinator's 999/835 journey in a real browser: a bad file is refused, the plan's 999
accepts the batch, its 835 pays one claim short and denies another, an unknown payment lands in
the work queue and is resolved, the denial is corrected and resubmitted, and the reports show it.

The claims are made sent (in a submitted batch) with the ORM; building, scrubbing and exporting
them through the pages is covered by the claims team's browser tests. Screenshots (desktop and a
390 px phone) go to /tmp/shots/remit-*.png.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.billing.remit_factories import ack_999, adj, clp, line_pay, plb, remittance_835, sent_batch
from tests.contracts.factories import ensure_reference_data
from tests.e2e.pages import screenshot, sign_in, upload_x12


def shot(page: Page, name: str) -> None:
    screenshot(page, f"remit-{name}")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_acknowledge_post_and_work_denials(page: Page, live_server, world, tmp_path):
    ensure_reference_data()
    base = live_server.url
    batch = sent_batch(world, sets={"0001": 2}, group_control=4242)
    short, denied = list(batch.claims.order_by("pk"))
    sign_in(page, base, world.cbo_billing.email)

    # A file that is not an 835 is refused with the reason; nothing changes.
    upload_x12(page, base, tmp_path, "notes.txt", b"hello, this is not an X12 file" * 8)
    expect(page.get_by_test_id("upload-error")).to_contain_text("ISA")
    shot(page, "upload-error")

    # The plan's 999 accepts the set.
    upload_x12(page, base, tmp_path, "pchp-0410.999", ack_999(batch, sets=["0001"]))
    expect(page.get_by_role("status")).to_contain_text("1 transaction set accepted")
    shot(page, "ack")

    # Its 835: one claim paid short (CO-45), one denied (CO-197), one unknown, interest added.
    data = remittance_835(
        world,
        [
            clp(short, "1", [line_pay(short, 1, "100.50", adj("CO", "45", "24.50"))]),
            clp(denied, "4", [line_pay(denied, 1, "0", adj("CO", "197", "125"), rarc=["N54"])]),
            clp("OTHER0001", "1", charge="60", paid="60"),
        ],
        [plb("L6", "-4.10", "INT0410", world.cbo.npi)],
    )
    upload_x12(page, base, tmp_path, "pchp-0410.835", data)
    expect(page.get_by_role("status")).to_contain_text("2 claims matched, 1 unmatched")
    expect(page.get_by_test_id("remit-claims")).to_contain_text("Partially paid")
    expect(page.get_by_test_id("remit-claims")).to_contain_text("Denied")
    shot(page, "detail")

    page.goto(base + "/billing/remittances/")
    expect(page.get_by_test_id("remittances")).to_contain_text("$164.60")
    shot(page, "list")

    # The unknown payment waits in the work queue until someone closes it with a note.
    page.get_by_role("link", name="Unmatched payments").click()
    expect(page.get_by_test_id("unmatched")).to_contain_text("No claim has control number OTHER0001")
    shot(page, "unmatched")
    page.get_by_label("What did you do about OTHER0001?").fill(
        "Paid to us by mistake; refund requested from the plan"
    )
    page.get_by_role("button", name="Resolve").click()
    expect(page.get_by_role("status")).to_contain_text("marked as resolved")

    # The denial, in words, with what to do; correct and resubmit it.
    page.goto(base + "/billing/denials/")
    card = page.get_by_test_id(f"denial-{denied.control_number}")
    expect(card).to_contain_text("CO-197")
    expect(card).to_contain_text("What to do")
    shot(page, "denials")
    card.get_by_role("link", name="Correct and resubmit").click()
    expect(page.get_by_test_id("replacement-preview")).to_be_visible()
    page.get_by_test_id("confirm-correct").click()
    expect(page.get_by_role("status")).to_contain_text(f"Claim {denied.control_number} corrected")
    denied.refresh_from_db()
    assert denied.status == "corrected"
    replacement = denied.replaced_by.get()
    assert replacement.frequency == "7" and replacement.payer_claim_number == f"PCHP{denied.control_number}"

    page.goto(base + "/billing/reports/")
    expect(page.get_by_test_id("billed-paid-chart")).to_be_visible()
    expect(page.get_by_test_id("aging")).to_contain_text("All plans")
    shot(page, "reports")

    # The same pages on a phone.
    page.set_viewport_size({"width": 390, "height": 844})
    for name, url in (
        ("list", "/billing/remittances/"),
        ("unmatched", "/billing/remittances/unmatched/?show=resolved"),
        ("reports", "/billing/reports/"),
        ("upload", "/billing/remittances/upload/"),
        ("denials", "/billing/denials/"),
    ):
        page.goto(base + url)
        shot(page, f"phone-{name}")
    page.goto(base + "/billing/remittances/")
    page.get_by_test_id("remittances").get_by_role("link").first.click()
    shot(page, "phone-detail")
