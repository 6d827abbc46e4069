from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from referrals.models import Authorization, ServiceDelivery
from referrals.services import deliveries as svc
from referrals.units import minutes_to_units
from tests.referrals.factories import authorization, enroll, referral

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate


def log(world, ref, **kw):
    kw.setdefault("service_date", TODAY())
    kw.setdefault("place_of_service", "12")
    if "minutes" not in kw:
        kw.setdefault("units", 1)
    return svc.log_service(acting_user=kw.pop("user", world.cbo_staff), referral=ref, **kw)


@pytest.mark.parametrize(("minutes", "units"), [(8, 1), (22, 1), (23, 2), (37, 2), (38, 3), (60, 4)])
def test_minutes_convert_to_15_minute_units_by_the_8_minute_rule(minutes, units):
    assert minutes_to_units(minutes, "15min") == units


def test_under_8_minutes_is_not_a_unit_and_hours_round_to_quarters():
    with pytest.raises(ValueError, match="8 minutes"):
        minutes_to_units(7, "15min")
    assert minutes_to_units(50, "hour") == Decimal("0.75")


def test_logging_uses_the_authorization_and_starts_the_referral(cw):
    ref = referral(cw)
    auth = authorization(cw, ref, units=10)
    d = log(cw, ref, minutes=30, note="Landlord call")
    assert d.units == 2 and d.authorization == auth and d.cbo == cw.cbo and d.plan == cw.plan
    auth.refresh_from_db()
    ref.refresh_from_db()
    assert auth.units_used == 2 and auth.units_remaining == 8
    assert ref.status == "in_progress" and ref.first_service_date == TODAY()


def test_prior_authorization_required(cw):
    ref = referral(cw)
    with pytest.raises(ValidationError, match="needs the plan's authorization"):
        log(cw, ref)


def test_cannot_overdraw_and_exhaustion_is_recorded_and_undone_by_a_void(cw):
    ref = referral(cw)
    auth = authorization(cw, ref, units=3)
    first = log(cw, ref, units=2)
    with pytest.raises(ValidationError, match="Only 1 unit left"):
        log(cw, ref, units=2, service_date=TODAY() - timedelta(days=1))
    log(cw, ref, units=1, service_date=TODAY() - timedelta(days=1))
    auth.refresh_from_db()
    assert auth.status == "exhausted"
    svc.void_delivery(first, acting_user=cw.cbo_staff, reason="Wrong member")
    auth.refresh_from_db()
    assert auth.status == "approved" and auth.units_used == 1
    assert [h.to_status for h in auth.history.all()] == ["approved", "exhausted", "approved"]


def test_outside_authorization_dates(cw):
    ref = referral(cw)
    authorization(cw, ref, start=TODAY() - timedelta(days=5), end=TODAY() + timedelta(days=5))
    with pytest.raises(ValidationError, match="no approved authorization"):
        log(cw, ref, service_date=TODAY() - timedelta(days=10))


def test_not_covered_by_a_contract(world):
    ref = referral(world)  # no contract at all
    with pytest.raises(ValidationError, match="no active contract"):
        log(world, ref)


def test_member_must_be_enrolled_on_the_date(cw):
    ref = referral(cw, label="G9008-U1")
    ref.member.enrollments.all().delete()
    enroll(ref.member, cw.plan, start=TODAY() - timedelta(days=3))
    with pytest.raises(ValidationError, match="not enrolled"):
        log(cw, ref, service_date=TODAY() - timedelta(days=10))


def test_duplicate_same_member_service_date_staff(cw):
    ref = referral(cw)
    authorization(cw, ref)
    log(cw, ref)
    with pytest.raises(ValidationError, match="already logged"):
        log(cw, ref)
    log(cw, ref, user=cw.cbo_admin)  # another staff member on the same day is fine


def test_contract_caps_per_day_and_per_month(cw):
    meals = referral(cw, label="S5170-U6")
    authorization(cw, meals, units=100)
    with pytest.raises(ValidationError, match="2 meal per member per day"):
        log(cw, meals, units=3)
    ecm = referral(cw, label="G9008-U1")
    log(cw, ecm)  # presumptive: no authorization needed
    with pytest.raises(ValidationError, match="per month"):
        log(cw, ecm, user=cw.cbo_admin)


def test_presumptive_ecm_needs_no_authorization(cw):
    d = log(cw, referral(cw, label="G9008-U1"))
    assert d.authorization is None


def test_retroactive_sobering_center_is_authorized_after_the_fact(cw):
    from referrals.services import authorizations as auth_svc

    ref = referral(cw, label="H0014-U6")
    d = log(cw, ref, service_date=TODAY() - timedelta(days=2))
    assert d.authorization is None
    req = auth_svc.request_authorization(
        ref,
        acting_user=cw.cbo_staff,
        units=1,
        kind="retroactive",
        start_date=TODAY() - timedelta(days=2),
        end_date=TODAY(),
    )
    auth = auth_svc.decide(req, acting_user=cw.care_coordinator, decision="approved", number="SOB-1")
    d.refresh_from_db()
    assert d.authorization == auth and auth.units_used == 1 and auth.status == "exhausted"


def test_date_range_and_future_dates(cw):
    ref = referral(cw, label="S5170-U6")
    authorization(cw, ref, units=50)
    d = log(cw, ref, service_date=TODAY() - timedelta(days=4), end_date=TODAY() - timedelta(days=1), units=8)
    assert d.days == 4
    with pytest.raises(ValidationError, match="hasn't happened"):
        log(cw, ref, service_date=TODAY() + timedelta(days=1))


def test_log_series_is_all_or_nothing(cw):
    ref = referral(cw, label="S5170-U6")
    authorization(cw, ref, units=4)
    days = [TODAY() - timedelta(days=i) for i in range(1, 4)]
    with pytest.raises(ValidationError, match="is used up"):
        svc.log_series(acting_user=cw.cbo_staff, referral=ref, dates=days, units=2, place_of_service="12")
    assert not ServiceDelivery.objects.exists()
    made = svc.log_series(
        acting_user=cw.cbo_staff, referral=ref, dates=days[:2], units=2, place_of_service="12"
    )
    assert len(made) == 2 and Authorization.objects.get().units_used == 4


def test_edit_until_billed_then_only_correction(cw):
    ref = referral(cw)
    auth = authorization(cw, ref, units=10)
    d = log(cw, ref, units=2)
    d = svc.edit_delivery(d, acting_user=cw.cbo_staff, changes={"units": 3, "note": "longer visit"})
    auth.refresh_from_db()
    assert d.units == 3 and auth.units_used == 3
    svc.mark_billed([d.pk], acting_user=cw.cbo_billing)
    assert not ServiceDelivery.objects.billable().exists()
    with pytest.raises(ValidationError, match="correction"):
        svc.edit_delivery(d, acting_user=cw.cbo_staff, changes={"units": 1})
    with pytest.raises(ValidationError, match="billed"):
        svc.void_delivery(d, acting_user=cw.cbo_staff, reason="oops")
    old, new = svc.correct_delivery(d, acting_user=cw.cbo_staff, reason="Was 1 unit", units=1)
    assert old.status == "voided" and old.billed_at and new.replaces == old and new.units == 1
    auth.refresh_from_db()
    assert auth.units_used == 1
    assert list(ServiceDelivery.objects.billable()) == [new]


def test_mark_billed_is_all_or_nothing_and_role_checked(cw):
    ref = referral(cw)
    authorization(cw, ref)
    a, b = log(cw, ref), log(cw, ref, service_date=TODAY() - timedelta(days=1))
    svc.void_delivery(b, acting_user=cw.cbo_staff, reason="dup")
    with pytest.raises(ValidationError, match="voided"):
        svc.mark_billed([a.pk, b.pk], acting_user=cw.cbo_billing)
    with pytest.raises(PermissionDenied):
        svc.mark_billed([a.pk], acting_user=cw.other_cbo_admin)
    svc.mark_billed([a.pk], acting_user=None)
    a.refresh_from_db()
    assert a.billed_at
    svc.mark_unbilled([a.pk], acting_user=cw.hub_billing)
    a.refresh_from_db()
    assert a.billed_at is None


def test_mark_billed_many_stamps_all_or_nothing(cw):
    ref = referral(cw)
    authorization(cw, ref)
    a, b, c = (log(cw, ref, service_date=TODAY() - timedelta(days=n)) for n in range(3))
    svc.void_delivery(c, acting_user=cw.cbo_staff, reason="dup")
    with pytest.raises(ValidationError, match="billed or voided meanwhile"):
        svc.mark_billed_many([a.pk, b.pk, c.pk])
    assert not ServiceDelivery.objects.filter(billed_at__isnull=False).exists()
    svc.mark_billed_many([a.pk, b.pk])
    assert set(ServiceDelivery.objects.filter(billed_at__isnull=False).values_list("pk", flat=True)) == {
        a.pk,
        b.pk,
    }
    with pytest.raises(ValidationError):  # billed already: a second build of them stamps nothing
        svc.mark_billed_many([a.pk])


def test_other_cbo_cannot_log_on_the_referral(cw):
    ref = referral(cw)
    authorization(cw, ref)
    with pytest.raises(PermissionDenied):
        log(cw, ref, user=cw.other_cbo_staff)


def test_received_referral_cannot_be_logged(cw):
    ref = referral(cw, accept=False)
    with pytest.raises(ValidationError, match="once it is accepted"):
        log(cw, ref)


def test_justice_involved_services_start_at_most_90_days_before_release(cw):
    ref = referral(
        cw,
        label="G9008-U1",
        population="justice_involved",
        facility_name="CIW",
        expected_release_date=TODAY() + timedelta(days=100),
    )
    with pytest.raises(ValidationError, match="90 days before release"):
        log(cw, ref)


def test_logged_usage_feeds_contract_utilization(cw):
    from contracts.models import Contract
    from contracts.utilization import usage_rows

    ref = referral(cw)
    authorization(cw, ref)
    log(cw, ref, units=2)
    voided = log(cw, ref, units=1, service_date=TODAY() - timedelta(days=1))
    svc.void_delivery(voided, acting_user=cw.cbo_staff, reason="dup")
    rows = [r for r in usage_rows(list(Contract.objects.all())) if r.stage == "logged"]
    assert [(r.units, r.amount, r.day) for r in rows] == [(Decimal("2.00"), Decimal("50.00"), TODAY())]
