"""A member's coverage belongs to the plan: only its people record, change or end a period, a
member has one plan on any day, and everyone serving the member sees the coverage and today's
eligibility (member page, ``/api/v1/members/{id}/``). Every change is audited; a refused one
writes nothing."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cbo_portal.models import AuditEvent
from referrals import selectors
from referrals.choices import CoverageSource, EligibilityStatus
from referrals.models import Enrollment
from referrals.services import members as member_svc
from tests.referrals.factories import LONG_AGO, MemberFactory, contracted, enroll, referral

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


@pytest.fixture
def served(world):
    """A member of world.plan (open-ended since LONG_AGO), referred to world.cbo and accepted."""
    contracted(world)
    return referral(world).member


def _periods(member):
    return list(
        Enrollment.objects.filter(member=member)
        .order_by("start_date")
        .values_list("plan_id", "start_date", "end_date")
    )


def test_the_plan_ends_and_records_coverage_and_eligibility_follows(world, served):
    current = served.enrollments.get()
    assert selectors.eligibility(served).status == EligibilityStatus.ACTIVE

    last_day = TODAY - timedelta(days=10)
    member_svc.end_enrollment(current, acting_user=world.care_coordinator, end_date=last_day)
    answer = selectors.eligibility(served)
    assert (answer.status, answer.plan, answer.through) == (EligibilityStatus.INACTIVE, world.plan, last_day)
    assert selectors.eligibility(served, on=last_day).status == EligibilityStatus.ACTIVE
    ended = AuditEvent.objects.filter(object_type="referrals.Enrollment", action="update").get()
    assert AuditEvent.objects.get(object_type="referrals.Enrollment", action="create").summary.startswith(
        "Coverage of"
    )  # the referral assumed it
    assert ended.summary.startswith("Ended coverage") and ended.changes["end_date"] == [None, str(last_day)]

    again = member_svc.record_enrollment(
        served,
        acting_user=world.plan_admin,
        plan=world.plan,
        start_date=TODAY,
        aid_code=" 1h ",
        program="ECM",
    )
    assert (again.aid_code, again.source, again.recorded_by) == ("1H", CoverageSource.PLAN, world.plan_admin)
    answer = selectors.eligibility(served)
    assert (answer.status, answer.through, answer.source) == (EligibilityStatus.ACTIVE, None, "plan")


def test_no_period_overlaps_another_of_the_same_or_another_plan(world, served):
    enroll(
        served, world.other_plan, start=date(2020, 1, 1), end=date(2021, 12, 31)
    )  # the other plan had them
    before = _periods(served)
    with pytest.raises(ValidationError, match="change or end that period instead"):
        member_svc.record_enrollment(served, acting_user=world.plan_admin, plan=world.plan, start_date=TODAY)
    with pytest.raises(
        ValidationError, match="covered by Pacific Coast Health Plan from Jan 1, 2024, open-ended"
    ):
        member_svc.record_enrollment(
            served, acting_user=world.other_plan_coordinator, plan=world.other_plan, start_date=TODAY
        )
    with pytest.raises(ValidationError, match="cannot end before it starts"):
        member_svc.end_enrollment(
            served.enrollments.get(plan=world.plan),
            acting_user=world.plan_admin,
            end_date=LONG_AGO - timedelta(days=1),
        )
    with pytest.raises(ValidationError, match="use a year from 1966 to 2099"):
        member_svc.change_enrollment(
            served.enrollments.get(plan=world.plan), acting_user=world.plan_admin, end_date=date(9999, 12, 31)
        )
    assert _periods(served) == before
    # Once the plan ends its coverage, the other plan may cover the member from the next day.
    member_svc.end_enrollment(
        served.enrollments.get(plan=world.plan), acting_user=world.plan_admin, end_date=TODAY
    )
    member_svc.record_enrollment(
        served,
        acting_user=world.other_plan_coordinator,
        plan=world.other_plan,
        start_date=TODAY + timedelta(days=1),
    )
    assert [p[0] for p in _periods(served)] == [world.other_plan.pk, world.plan.pk, world.other_plan.pk]


def test_a_plan_never_covers_by_hand_a_member_it_does_not_have(world, served, api):
    """Not even through a person who also works for a CBO serving the member: the member is
    visible to the person, but the plan does not have them."""
    from tests.factories import MembershipFactory

    MembershipFactory(user=world.cbo_staff, organization=world.other_plan, role="plan_care_coordinator")
    before = _periods(served)
    with pytest.raises(ValidationError, match="No member with this id that you may see"):
        member_svc.record_enrollment(
            served,
            acting_user=world.cbo_staff,
            plan=world.other_plan,
            start_date=date(2010, 1, 1),
            end_date=date(2010, 12, 31),
        )
    client = api.as_user(world.cbo_staff)
    body = {
        "member": served.pk,
        "plan": world.other_plan.pk,
        "start_date": "2010-01-01",
        "end_date": "2010-12-31",
    }
    response = client.post("/api/v1/enrollments/", body, format="json")
    assert response.status_code == 400 and "No member with this id" in response.content.decode()
    assert _periods(served) == before
    assert api.as_user(world.other_plan_manager).get(f"/api/v1/members/{served.pk}/").status_code == 404


def test_only_the_plans_people_change_its_coverage(world, served):
    period = served.enrollments.get()
    audited = AuditEvent.objects.filter(object_type="referrals.Enrollment").count()
    for outsider in (world.cbo_admin, world.cbo_staff, world.hub_billing, world.other_plan_coordinator):
        with pytest.raises(PermissionDenied):
            member_svc.end_enrollment(period, acting_user=outsider, end_date=TODAY)
        with pytest.raises(PermissionDenied):
            member_svc.record_enrollment(
                served, acting_user=outsider, plan=world.plan, start_date=date(2020, 1, 1)
            )
    assert _periods(served) == [(world.plan.pk, LONG_AGO, None)]
    assert AuditEvent.objects.filter(object_type="referrals.Enrollment").count() == audited


# ---------------------------------------------------------------- API
def test_the_member_api_shows_eligibility_to_those_serving_the_member_only(world, served, api):
    body = api.as_user(world.cbo_staff).get(f"/api/v1/members/{served.pk}/").json()
    assert body["eligibility"]["status"] == "active"
    assert (
        body["eligibility"]["plan"] == "Pacific Coast Health Plan" and body["eligibility"]["through"] is None
    )
    assert [(e["plan_id"], e["start_date"], e["source"]) for e in body["enrollments"]] == [
        (world.plan.pk, "2024-01-01", "referral")
    ]

    for outsider in (world.other_cbo_admin, world.other_plan_coordinator):
        client = api.as_user(outsider)
        assert client.get(f"/api/v1/members/{served.pk}/").status_code == 404
        assert client.get(f"/api/v1/enrollments/?member={served.pk}").json()["results"] == []

    unknown = MemberFactory()
    assert selectors.eligibility(unknown).status == EligibilityStatus.UNKNOWN


def test_the_plan_records_changes_and_ends_coverage_through_the_api(world, served, api):
    period = served.enrollments.get()
    client = api.as_user(world.care_coordinator)
    response = client.post(f"/api/v1/enrollments/{period.pk}/end/", {"end_date": "2026-01-31"}, format="json")
    assert response.status_code == 200 and response.json()["end_date"] == "2026-01-31"

    response = client.post(
        "/api/v1/enrollments/",
        {"member": served.pk, "start_date": "2026-03-01", "end_date": "2026-03-15", "aid_code": "3a"},
        format="json",
    )
    assert response.status_code == 201, response.content
    new = response.json()
    assert (new["aid_code"], new["source"], new["plan_id"]) == ("3A", "plan", world.plan.pk)

    response = client.patch(f"/api/v1/enrollments/{new['id']}/", {"end_date": "2026-03-31"}, format="json")
    assert response.status_code == 200 and response.json()["end_date"] == "2026-03-31"

    overlap = client.post(
        "/api/v1/enrollments/", {"member": served.pk, "start_date": "2026-03-20"}, format="json"
    )
    assert overlap.status_code == 400 and "change or end that period" in overlap.content.decode()


def test_nobody_else_writes_coverage_through_the_api(world, served, api):
    period = served.enrollments.get()
    stranger = MemberFactory()
    enroll(stranger, world.other_plan)
    before = (_periods(served), _periods(stranger))

    cbo = api.as_user(world.cbo_admin)
    assert (
        cbo.post(
            f"/api/v1/enrollments/{period.pk}/end/", {"end_date": "2026-01-31"}, format="json"
        ).status_code
        == 403
    )
    assert (
        cbo.patch(
            f"/api/v1/enrollments/{period.pk}/", {"start_date": "2020-01-01"}, format="json"
        ).status_code
        == 403
    )
    refused = cbo.post(
        "/api/v1/enrollments/", {"member": served.pk, "start_date": "2020-01-01"}, format="json"
    )
    assert refused.status_code == 400 and "Only a plan records coverage" in refused.content.decode()

    other = api.as_user(world.other_plan_coordinator)
    # The other plan cannot see world.plan's member: its period is not found, by id or by member.
    assert (
        other.post(
            f"/api/v1/enrollments/{period.pk}/end/", {"end_date": "2026-01-31"}, format="json"
        ).status_code
        == 404
    )
    assert (
        other.post(
            "/api/v1/enrollments/", {"member": served.pk, "start_date": "2020-01-01"}, format="json"
        ).status_code
        == 400
    )
    # Naming world.plan as the plan does not help the other plan's people.
    mine = api.as_user(world.care_coordinator)
    named = mine.post(
        "/api/v1/enrollments/",
        {"member": stranger.pk, "plan": world.plan.pk, "start_date": "2020-01-01"},
        format="json",
    )
    assert named.status_code == 400  # world.plan cannot see the other plan's member
    assert (_periods(served), _periods(stranger)) == before


# ---------------------------------------------------------------- page
def test_the_plan_records_and_ends_coverage_on_the_member_page(world, served, client):
    client.force_login(world.care_coordinator)
    period = served.enrollments.get()
    page = client.get(f"/members/{served.pk}/").content.decode()
    assert "Record coverage" in page and "Change or end the period" in page

    response = client.post(
        f"/members/{served.pk}/",
        {"action": "coverage_end", "enrollment": period.pk, "end_date": "2026-02-28"},
    )
    assert response.status_code == 302
    page = client.get(f"/members/{served.pk}/").content.decode()
    assert "Coverage ended." in page and "Feb 28, 2026" in page

    response = client.post(
        f"/members/{served.pk}/",
        {"action": "coverage", "coverage-start_date": "2026-02-15", "coverage-aid_code": "1H"},
    )
    page = response.content.decode()
    assert response.status_code == 200 and "change or end that period instead" in page
    assert served.enrollments.count() == 1


def test_a_cbo_sees_the_coverage_but_cannot_change_it_on_the_page(world, served, client):
    client.force_login(world.cbo_admin)
    period = served.enrollments.get()
    page = client.get(f"/members/{served.pk}/").content.decode()
    assert 'data-testid="eligibility">Active' in page and "Pacific Coast Health Plan" in page
    assert "Record coverage" not in page and "Change or end" not in page
    response = client.post(
        f"/members/{served.pk}/",
        {"action": "coverage_end", "enrollment": period.pk, "end_date": "2026-02-28"},
    )
    assert response.status_code in (403, 404) or "Only" in response.content.decode()
    assert (
        client.post(
            f"/members/{served.pk}/", {"action": "coverage", "coverage-start_date": "2020-01-01"}
        ).status_code
        == 404
    )
    assert _periods(served) == [(world.plan.pk, LONG_AGO, None)]
