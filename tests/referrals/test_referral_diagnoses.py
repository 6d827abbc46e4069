"""A referral's diagnosis codes can be added or corrected on its page (a claim built from a referral
without one is held until it has one), by the CBO's side or the referring plan; each change is
audited, a bad code changes nothing."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from cbo_portal.choices import AuditAction
from cbo_portal.models import AuditEvent
from referrals.services import referrals as ref_svc
from tests.referrals.factories import referral

pytestmark = pytest.mark.django_db


def test_the_hubs_billing_coordinator_adds_a_code_on_the_referral_page(world, client):
    r = referral(world, diagnosis_codes=[])
    client.force_login(world.hub_billing)
    url = reverse("referrals:detail", args=[r.pk])
    assert "Add diagnosis codes" in client.get(url).content.decode()
    response = client.post(
        url, {"action": "diagnoses", "diagnoses-diagnosis_codes": "z59.41; Z59.01"}, follow=True
    )
    assert "Diagnosis codes saved." in response.content.decode()
    r.refresh_from_db()
    assert r.diagnosis_codes == ["Z59.41", "Z59.01"]
    event = AuditEvent.objects.filter(action=AuditAction.UPDATE, summary__contains=r.number).get()
    assert event.changes == {"diagnosis_codes": [[], ["Z59.41", "Z59.01"]]}


def test_a_bad_or_empty_code_is_refused_and_changes_nothing(world, client):
    r = referral(world, diagnosis_codes=["Z59.01"])
    client.force_login(world.cbo_staff)
    url = reverse("referrals:detail", args=[r.pk])
    bad = client.post(url, {"action": "diagnoses", "diagnoses-diagnosis_codes": "Z59.01, HOMELESS"})
    assert bad.status_code == 200 and "ICD-10" in bad.content.decode()
    empty = client.post(url, {"action": "diagnoses", "diagnoses-diagnosis_codes": " , "})
    assert empty.status_code == 200 and "Enter at least one ICD-10-CM code" in empty.content.decode()
    r.refresh_from_db()
    assert r.diagnosis_codes == ["Z59.01"]


def test_the_referring_plan_may_change_them_others_may_not(world):
    r = referral(world, diagnosis_codes=["Z59.01"])
    assert ref_svc.set_diagnoses(r, acting_user=world.care_coordinator, codes=["Z59.02"]).diagnosis_codes == [
        "Z59.02"
    ]
    for outsider in (world.other_cbo_admin, world.other_plan_coordinator, world.contract_manager):
        with pytest.raises(PermissionDenied):
            ref_svc.set_diagnoses(r, acting_user=outsider, codes=["Z59.41"])
    r.refresh_from_db()
    assert r.diagnosis_codes == ["Z59.02"]


def test_a_declined_referral_keeps_its_codes(world):
    r = referral(world, accept=False, diagnosis_codes=["Z59.01"])
    ref_svc.decline(r, acting_user=world.cbo_admin, reason="At capacity")
    with pytest.raises(ValidationError, match="declined"):
        ref_svc.set_diagnoses(r, acting_user=world.care_coordinator, codes=["Z59.41"])
