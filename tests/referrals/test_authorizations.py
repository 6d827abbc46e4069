from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cbo_portal.statemachine import IllegalTransition
from referrals.services import authorizations as svc
from tests.referrals.factories import authorization, referral

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate


def request(world, ref, units=10, **kw):
    return svc.request_authorization(
        ref,
        acting_user=world.cbo_staff,
        units=units,
        start_date=TODAY(),
        end_date=TODAY() + timedelta(days=30),
        **kw,
    )


def test_cbo_requests_and_plan_partially_approves(cw):
    ref = referral(cw)
    req = request(cw, ref, units=20, note="Weekly visits")
    assert req.status == "requested" and req.units_approved is None
    with pytest.raises(PermissionDenied):
        svc.decide(req, acting_user=cw.cbo_admin, decision="approved", number="X")
    with pytest.raises(ValidationError, match="authorization number"):
        svc.decide(req, acting_user=cw.care_coordinator, decision="approved")
    auth = svc.decide(
        req, acting_user=cw.care_coordinator, decision="approved", number="PA-1", units_approved=12
    )
    assert auth.status == "partially_approved" and auth.units_approved == 12


def test_denial_needs_a_reason_and_decisions_are_final(cw):
    req = request(cw, referral(cw))
    with pytest.raises(ValidationError):
        svc.decide(req, acting_user=cw.care_coordinator, decision="denied")
    req = svc.decide(
        req, acting_user=cw.care_coordinator, decision="denied", note="Not medically appropriate"
    )
    with pytest.raises(IllegalTransition):
        svc.decide(req, acting_user=cw.care_coordinator, decision="approved", number="Z")


def test_extension_and_unique_numbers(cw):
    ref = referral(cw)
    first = authorization(cw, ref, number="A-1")
    ext = request(cw, ref, extends=first)
    assert ext.extends == first
    with pytest.raises(ValidationError, match="already used"):
        svc.decide(ext, acting_user=cw.care_coordinator, decision="approved", number="A-1")


def test_expire_ended(cw):
    ref = referral(cw)
    auth = authorization(cw, ref, start=TODAY() - timedelta(days=30), end=TODAY() - timedelta(days=1))
    assert svc.expire_ended() == 1
    auth.refresh_from_db()
    assert auth.status == "expired"


def test_a_second_request_waits_for_the_first_decision(cw):
    ref = referral(cw)
    first = request(cw, ref, units=8)
    with pytest.raises(ValidationError, match="still waiting"):
        request(cw, ref, units=8)
    svc.decide(first, acting_user=cw.care_coordinator, decision="denied", note="Not needed")
    assert request(cw, ref, units=4).status == "requested"
