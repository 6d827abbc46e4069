"""Every scrubber hold on a claim page leads somewhere the reader can fix it, or says who to ask:
the member's plan corrects the record, a CBO requests the correction and sees where it stands;
diagnoses on the referral's editor; authorizations on the referral; contract terms on the contract."""

from __future__ import annotations

import re
from html import unescape

import pytest

from billing.choices import ClaimStatus
from billing.models import Claim
from billing.services.claims import build_claims
from referrals.models import Member, MemberCorrection
from tests.billing.factories import delivery, new_member, setup_billing

pytestmark = pytest.mark.django_db


@pytest.fixture
def bw(world):
    setup_billing(world)
    return world


def _links(html: str) -> dict[str, str]:
    return {
        unescape(label.strip()): unescape(url)
        for url, label in re.findall(
            r'<a class="btn btn-small" href="([^"]+)" data-testid="fix-link">([^<]+?) →</a>', html
        )
    }


def _held_claim(bw, **delivery_kwargs) -> Claim:
    delivery(bw, **delivery_kwargs)
    build_claims(acting_user=bw.cbo_billing)
    claim = Claim.objects.get()
    assert claim.status == ClaimStatus.HELD
    return claim


def test_member_hold_links_the_cbo_to_request_a_correction_and_shows_its_status(bw, client):
    member = new_member(bw, first_name="Darnell", last_name="Brooks", street="")
    claim = _held_claim(bw, member=member)
    client.force_login(bw.cbo_billing)
    html = client.get(f"/billing/claims/{claim.pk}/").content.decode()
    links = _links(html)
    url = links[f"Request the correction from {bw.plan}"]
    assert url.startswith(f"/members/{member.pk}/")
    assert client.get(url).status_code == 200

    client.post(
        f"/members/{member.pk}/",
        {
            "action": "propose",
            "propose-street": "545 S San Pedro St",
            "propose-city": "Los Angeles",
            "propose-zip": "90013",
        },
    )
    correction = MemberCorrection.objects.get()
    html = client.get(f"/billing/claims/{claim.pk}/").content.decode()
    assert 'data-testid="correction-status"' in html and "Waiting for the plan" in html

    client.force_login(
        bw.care_coordinator
    )  # the plan sees held claims only once sent; it decides on the member page
    assert "545 S San Pedro St" in client.get(f"/members/{member.pk}/").content.decode()
    client.post(
        f"/members/{member.pk}/", {"action": "decide", "correction": correction.pk, "decision": "accept"}
    )
    assert Member.objects.get(pk=member.pk).street == "545 S San Pedro St"

    client.force_login(bw.cbo_billing)
    client.post(f"/billing/claims/{claim.pk}/")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.READY


def test_diagnosis_hold_links_to_the_referral_editor_opened(bw, client):
    claim = _held_claim(bw, dx=[])
    client.force_login(bw.cbo_billing)
    url = _links(client.get(f"/billing/claims/{claim.pk}/").content.decode())[
        "Edit the referral's diagnosis codes"
    ]
    assert url == f"/referrals/{claim.referral_id}/?open=diagnoses#diagnoses"
    assert '<details class="action-box" id="diagnoses" open>' in client.get(url).content.decode()


def test_authorization_hold_links_staff_to_the_request_and_tells_billing_who_asks(bw, client):
    claim = _held_claim(bw, label="T2041-U6", units=4)
    client.force_login(bw.cbo_billing)
    html = client.get(f"/billing/claims/{claim.pk}/").content.decode()
    assert "Open the referral&#x27;s authorizations" in html and "staff request authorizations" in html
    client.force_login(bw.cbo_staff)
    assert client.get(f"/billing/claims/{claim.pk}/").status_code in (200, 404)


def test_contract_hold_links_to_the_contract_for_those_who_see_it(bw, client):
    from contracts.models import Contract

    Contract.objects.update(payer_id="")
    bw.plan.__class__.objects.filter(pk=bw.plan.pk).update(payer_id="")
    claim = _held_claim(bw)
    client.force_login(bw.cbo_billing)
    links = _links(client.get(f"/billing/claims/{claim.pk}/").content.decode())
    url = links[f"Open contract {claim.contract.number}"]
    assert client.get(url).status_code == 200
