from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from cbo_portal.choices import OnboardingStatus
from cbo_portal.models import AuditEvent
from cbo_portal.statemachine import IllegalTransition
from referrals.choices import Priority, ReferralStatus
from referrals.models import Enrollment
from referrals.selectors import enrolled
from referrals.services import referrals as svc
from tests.factories import OrganizationFactory
from tests.referrals.factories import MemberFactory, contracted, referral, service

pytestmark = pytest.mark.django_db
LA = ZoneInfo("America/Los_Angeles")


def test_plan_refers_a_member_and_the_cbo_accepts_with_full_history(world):
    contracted(world)
    member = MemberFactory()
    r = svc.create_referral(
        acting_user=world.care_coordinator,
        plan=world.plan,
        cbo=world.cbo,
        member=member,
        service=service("S5170-U6"),
        diagnosis_codes=["z59.01"],
        reason="Unsheltered",
        priority=Priority.URGENT,
    )
    assert r.status == ReferralStatus.RECEIVED and r.diagnosis_codes == ["Z59.01"]
    assert r.respond_by - r.created_at == timedelta(hours=72)
    assert enrolled(member, world.plan, on=r.created_at.date())
    r = svc.accept(r, acting_user=world.cbo_staff)
    r = svc.close(r, acting_user=world.care_coordinator, reason="unable_to_reach")
    assert [(h.from_status, h.to_status) for h in r.history.all()] == [
        ("", "received"),
        ("received", "accepted"),
        ("accepted", "closed"),
    ]
    assert r.closure_reason == "unable_to_reach" and r.closed_at
    assert AuditEvent.objects.filter(object_type="referrals.Referral", object_id=str(r.pk)).count() == 3


def test_routine_deadline_counts_business_days():
    friday = datetime(2026, 3, 6, 10, 0, tzinfo=LA)
    assert svc.response_deadline(friday, Priority.ROUTINE).date().isoformat() == "2026-03-11"  # Wed


def test_only_plan_coordinators_refer_and_only_the_cbo_accepts(world):
    member = MemberFactory()
    with pytest.raises(PermissionDenied):
        svc.create_referral(
            acting_user=world.cbo_admin,
            plan=world.plan,
            cbo=world.cbo,
            member=member,
            service=service("S5170-U6"),
        )
    r = referral(world, accept=False)
    for outsider in (world.other_cbo_admin, world.care_coordinator, world.other_plan_coordinator):
        with pytest.raises(PermissionDenied):
            svc.accept(r, acting_user=outsider)


def test_unapproved_cbo_cannot_receive_referrals(world):
    draft = OrganizationFactory(onboarding_status=OnboardingStatus.DRAFT)
    with pytest.raises(ValidationError, match="finished onboarding"):
        svc.create_referral(
            acting_user=world.care_coordinator,
            plan=world.plan,
            cbo=draft,
            member=MemberFactory(),
            service=service("S5170-U6"),
        )


def test_decline_needs_a_reason_and_is_final(world):
    r = referral(world, accept=False)
    with pytest.raises(ValidationError, match="why"):
        svc.decline(r, acting_user=world.cbo_admin, reason=" ")
    r = svc.decline(r, acting_user=world.cbo_admin, reason="At capacity")
    assert r.status == "declined" and r.decline_reason == "At capacity"
    with pytest.raises(IllegalTransition):
        svc.accept(r, acting_user=world.cbo_admin)


def test_close_reason_from_fixed_list_and_other_needs_a_note(world):
    r = referral(world)
    with pytest.raises(ValidationError):
        svc.close(r, acting_user=world.cbo_staff, reason="bored")
    with pytest.raises(ValidationError, match="other reason"):
        svc.close(r, acting_user=world.cbo_staff, reason="other")
    r = svc.close(r, acting_user=world.cbo_staff, reason="moved")
    assert r.get_closure_reason_display() == "Member moved out of the service area"


def test_bad_diagnosis_code_is_refused(world):
    with pytest.raises(ValidationError, match="ICD-10"):
        referral(world, diagnosis_codes=["59.01"])


def test_overdue_referrals_are_flagged(world):
    r = referral(world, accept=False)
    from referrals.models import Referral

    Referral.objects.filter(pk=r.pk).update(respond_by=r.created_at - timedelta(hours=1))
    r.refresh_from_db()
    assert r.is_overdue and list(Referral.objects.overdue()) == [r]


def test_justice_involved_referral_needs_release_date_and_facility_and_hands_off(world):
    with pytest.raises(ValidationError) as exc:
        referral(world, population="justice_involved")
    assert set(exc.value.error_dict) == {"expected_release_date", "facility_name"}
    from django.utils import timezone

    r = referral(
        world,
        population="justice_involved",
        facility_name="Men's Central Jail",
        expected_release_date=timezone.localdate() + timedelta(days=30),
        post_release_provider=world.other_cbo,
    )
    contracted(world, cbo=world.other_cbo)
    new = svc.hand_off(r, acting_user=world.care_coordinator)
    r.refresh_from_db()
    assert new.cbo == world.other_cbo and new.status == "received" and new.handed_off_from == r
    assert r.status == "closed"


def test_cbo_community_referral_waits_for_plan_review(world):
    contracted(world)
    typed = {"cin": "12345678A", "first_name": "Rosa", "last_name": "Diaz", "dob": date(1970, 1, 2)}
    r = svc.record_community_referral(
        acting_user=world.cbo_staff,
        plan=world.plan,
        cbo=world.cbo,
        member_details=typed,
        service=service("S5170-U6"),
        source="community",
    )
    member = r.member
    assert r.status == "pending_review" and not Enrollment.objects.filter(member=member).exists()
    with pytest.raises(PermissionDenied):
        svc.approve_community_referral(r, acting_user=world.other_plan_coordinator)
    r = svc.approve_community_referral(r, acting_user=world.care_coordinator)
    assert r.status == "accepted" and enrolled(member, world.plan, on=r.status_changed_at.date())


def test_outreach_attempts_are_logged(world):
    from django.utils import timezone

    r = referral(world, accept=False)
    a = svc.record_outreach(
        r,
        acting_user=world.cbo_staff,
        attempted_on=timezone.localdate(),
        method="phone",
        successful=False,
        minutes=5,
    )
    assert a.get_method_display() == "Phone" and r.outreach_attempts.count() == 1
    with pytest.raises(ValidationError):
        svc.record_outreach(
            r,
            acting_user=world.cbo_staff,
            attempted_on=timezone.localdate() + timedelta(days=2),
            method="phone",
            successful=True,
        )
