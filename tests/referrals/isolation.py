"""Isolation makers for the referrals API routes (see tests/test_isolation.py)."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from referrals.services import deliveries
from referrals.services import imports as import_svc
from tests.referrals.factories import authorization as make_auth
from tests.referrals.factories import covered_world, referral


def _plan(w):
    return {w.plan_admin, w.contract_manager, w.care_coordinator}


def _cbo(w):
    return {w.cbo_admin, w.cbo_staff, w.cbo_billing, w.hub_billing}


def _both(w):
    return _plan(w) | _cbo(w) | {w.platform_admin}


# Writes carry a real body: an outsider's PATCH or proposal with real changes must change nothing.
MEMBER_CHANGE = {"first_name": "Mallory", "phone": "415-555-6666", "street": "1 Attacker Way", "note": "x"}


def member(w):
    r = referral(w)
    # The plan's editors PATCH the record; the CBO side may propose corrections (which change
    # nothing; their PATCH is refused, as tests/referrals/test_member_ownership.py shows).
    return r.member, _both(w), _plan(w) | _cbo(w), MEMBER_CHANGE


def enrollment(w):
    r = referral(w)
    # Whoever serves the member sees the coverage; only the plan's people (and platform admins)
    # change or end it. The body serves PATCH and the end action alike.
    period = r.member.enrollments.get()
    return (
        period,
        _both(w),
        {w.plan_admin, w.care_coordinator, w.contract_manager, w.platform_admin},
        {"end_date": "2026-01-31"},
    )


def member_correction(w):
    from referrals.services import members as member_svc

    r = referral(w)
    c = member_svc.propose_correction(
        r.member, acting_user=w.cbo_staff, organization=w.cbo, phone="323-555-0199"
    )
    # Only the member's plan decides it (its editors: admin, care coordinator, contract manager).
    return c, _both(w), {w.plan_admin, w.care_coordinator, w.contract_manager}, {"note": "no"}


def referral_maker(w):
    r = referral(w, accept=False)
    # CBO workers may accept with an empty body; the plan's referrers may approve or close.
    return r, _both(w), {w.cbo_admin, w.cbo_staff, w.platform_admin}


def authorization(w):
    covered_world(w)
    r = referral(w)
    return make_auth(w, r), _both(w), {w.platform_admin}


def servicedelivery(w):
    covered_world(w)
    r = referral(w)
    make_auth(w, r)
    d = deliveries.log_service(
        acting_user=w.cbo_staff, referral=r, service_date=timezone.localdate(), units=2, place_of_service="12"
    )
    return d, _both(w), {w.cbo_admin, w.cbo_staff, w.platform_admin}


def outreach_attempt(w):
    from referrals.services import referrals as ref_svc

    r = referral(w, accept=False)
    a = ref_svc.record_outreach(
        r,
        acting_user=w.cbo_staff,
        attempted_on=timezone.localdate(),
        method="phone",
        successful=True,
        minutes=10,
    )
    return a, _both(w), set()


def referralimport(w):
    batch, _ = import_svc.start_import(
        acting_user=w.care_coordinator,
        plan=w.plan,
        cbo=w.cbo,
        upload=SimpleUploadedFile("r.csv", b"CIN\n9", "text/csv"),
    )
    return batch, _plan(w) | {w.platform_admin}, {w.plan_admin, w.care_coordinator, w.platform_admin}


def roster(w):
    from referrals.services import rosters

    made, _ = rosters.start_roster(
        acting_user=w.care_coordinator,
        plan=w.plan,
        upload=SimpleUploadedFile("roster.csv", b"CIN\n9", "text/csv"),
        roster_date=timezone.localdate(),
    )
    # Only the uploading plan's people (and platform admins) see a roster; it has no write routes.
    return made, _plan(w) | {w.platform_admin}, set()


MAKERS = {
    "member": member,
    "enrollment": enrollment,
    "member-correction": member_correction,
    "referral": referral_maker,
    "authorization": authorization,
    "service-delivery": servicedelivery,
    "outreach-attempt": outreach_attempt,
    "referral-import": referralimport,
    "roster": roster,
}
