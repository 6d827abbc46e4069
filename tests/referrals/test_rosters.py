"""A plan's eligibility roster: new members and periods recorded, changed periods changed,
members who dropped off ended on the roster's date (never deleted), the same file or the same
rows again change nothing, and a file with any bad row changes nothing and says which line,
which column and why."""

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from referrals import selectors
from referrals.choices import CoverageSource, EligibilityStatus, ImportStatus
from referrals.models import Enrollment, Member, RosterImport
from referrals.services import rosters
from tests.referrals.factories import MemberFactory, enroll

pytestmark = pytest.mark.django_db

DECEMBER = date(2026, 12, 1)
HEADER = "Medi-Cal ID,First Name,Last Name,Date of Birth,Eligibility Start,Term Date,Aid Code\n"


@pytest.fixture
def upload(world, django_capture_on_commit_callbacks):
    """Upload a roster of world.plan's; its task runs when the upload commits (eagerly here)."""

    def run(body: str, *, name="roster.csv", by=None, header=HEADER, day=DECEMBER):
        with django_capture_on_commit_callbacks(execute=True):
            roster, created = rosters.start_roster(
                acting_user=by or world.care_coordinator,
                plan=world.plan,
                upload=SimpleUploadedFile(name, (header + body).encode(), "text/csv"),
                roster_date=day,
            )
        roster.refresh_from_db()
        return roster, created

    return run


def _coverage():
    return sorted(
        Enrollment.objects.values_list(
            "member__cin", "plan_id", "start_date", "end_date", "aid_code", "source"
        )
    )


def test_a_roster_adds_changes_and_ends_coverage(world, upload):
    staying = MemberFactory(cin="91000001A")
    enroll(staying, world.plan, start=date(2025, 1, 1))
    leaving = MemberFactory(cin="91000002A")
    enroll(leaving, world.plan, start=date(2025, 1, 1))
    roster, created = upload(
        "91000001A,Ana,Reyes,1980-02-03,01/01/2025,,1H\n"  # the same period, now with an aid code
        "91000003A,Luis,Ortega,19750910,2026-11-01,2027-04-30,3A\n",  # a new member
    )
    assert created and roster.status == ImportStatus.DONE, roster.message
    assert (roster.added, roster.changed, roster.ended, roster.unchanged, roster.members_created) == (
        1,
        1,
        1,
        0,
        1,
    )
    new = Member.objects.get(cin="91000003A")
    assert (new.first_name, new.last_name, new.dob) == ("Luis", "Ortega", date(1975, 9, 10))
    assert _coverage() == [
        ("91000001A", world.plan.pk, date(2025, 1, 1), None, "1H", CoverageSource.ROSTER),
        ("91000002A", world.plan.pk, date(2025, 1, 1), date(2026, 11, 30), "", CoverageSource.ROSTER),
        ("91000003A", world.plan.pk, date(2026, 11, 1), date(2027, 4, 30), "3A", CoverageSource.ROSTER),
    ]
    assert selectors.eligibility(leaving, on=DECEMBER).status == EligibilityStatus.INACTIVE
    assert selectors.eligibility(leaving, on=date(2026, 11, 30)).status == EligibilityStatus.ACTIVE

    # The same file again is the same roster; the same rows in another file change nothing.
    before = _coverage()
    again, created = upload(
        "91000001A,Ana,Reyes,1980-02-03,01/01/2025,,1H\n91000003A,Luis,Ortega,19750910,2026-11-01,2027-04-30,3A\n",
    )
    assert not created and again.pk == roster.pk
    reordered, created = upload(
        "91000003A,Luis,Ortega,1975-09-10,2026-11-01,2027-04-30,3a\n91000001A,Ana,Reyes,1980-02-03,2025-01-01,,1H\n",
        name="roster-copy.csv",
    )
    assert created and reordered.status == ImportStatus.DONE
    assert (reordered.added, reordered.changed, reordered.ended, reordered.unchanged) == (0, 0, 0, 2)
    assert _coverage() == before


def test_a_roster_with_a_bad_row_changes_nothing_and_names_each_problem(world, upload):
    other = MemberFactory(cin="91000009A")
    enroll(other, world.other_plan, start=date(2026, 1, 1))
    kept = MemberFactory(cin="91000001A")
    enroll(kept, world.plan, start=date(2025, 1, 1))
    before = (_coverage(), Member.objects.count())
    roster, _ = upload(
        "91000004A,Ana,Reyes,1980-02-03,2026-12-01,,\n"  # fine
        "1234,Ana,Reyes,1980-02-03,2026-12-01,,\n"  # line 3: bad CIN
        "91000005A,,Reyes,02/30/1980,2026-12-01,2026-11-01,\n"  # line 4: no first name, no such day, end before start
        "91000004A,Ana,Reyes,1980-02-03,2026-12-01,,\n"  # line 5: listed twice
        "91000009A,Mo,Diaz,1990-01-01,2026-06-01,,\n",  # line 6: another plan covers the member
    )
    assert roster.status == ImportStatus.INVALID and roster.error_rows == 4
    problems = [(e.line, e.column) for e in roster.row_errors.all()]
    assert (3, "cin") in problems and (4, "first_name") in problems and (4, "dob") in problems
    assert (5, "cin") in problems and (6, "coverage_start") in problems
    messages = " ".join(e.message for e in roster.row_errors.all())
    # The plan does not have that member: it learns that another plan covers them, not which or when.
    assert "on line 2 too" in messages and "covered by another plan on these dates" in messages
    assert "Central Valley" not in messages
    assert (_coverage(), Member.objects.count()) == before


def test_a_roster_missing_a_column_is_refused_whole(world, upload):
    roster, _ = upload("91000004A,Ana,Reyes,1980-02-03\n", header="CIN,First Name,Last Name,DOB\n")
    assert roster.status == ImportStatus.INVALID
    error = roster.row_errors.get()
    assert error.line == 1 and "coverage_start" in error.message and "first covered day" in error.message
    assert not Enrollment.objects.exists()


def test_only_the_plans_coverage_editors_upload_rosters(world, upload):
    for outsider in (world.cbo_admin, world.other_plan_coordinator):
        with pytest.raises(PermissionDenied):
            upload("91000004A,Ana,Reyes,1980-02-03,2026-12-01,,\n", by=outsider)
    assert not RosterImport.objects.exists() and not Enrollment.objects.exists()


# ---------------------------------------------------------------- API and page
def test_a_plan_uploads_a_roster_through_the_api_and_reads_its_result(
    world, api, django_capture_on_commit_callbacks
):
    client = api.as_user(world.care_coordinator)
    body = (
        HEADER + "91000004A,Ana,Reyes,1980-02-03,2026-12-01,,1H\n91000005A,Bo,Lee,1981-02-03,2026-12-01,,\n"
    ).encode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/rosters/",
            {"file": SimpleUploadedFile("dec.csv", body, "text/csv"), "roster_date": "2026-12-01"},
            format="multipart",
        )
    assert response.status_code == 201, response.content
    roster = client.get(f"/api/v1/rosters/{response.json()['id']}/").json()
    assert (roster["status"], roster["added"], roster["members_created"], roster["row_errors"]) == (
        "done",
        2,
        2,
        [],
    )
    again = client.post(
        "/api/v1/rosters/",
        {"file": SimpleUploadedFile("dec.csv", body, "text/csv"), "roster_date": "2026-12-01"},
        format="multipart",
    )
    assert again.status_code == 200 and again.json()["id"] == roster["id"]
    # A CBO cannot upload one, and does not see the plan's rosters.
    cbo = api.as_user(world.cbo_admin)
    refused = cbo.post(
        "/api/v1/rosters/",
        {"file": SimpleUploadedFile("x.csv", body, "text/csv"), "roster_date": "2026-12-01"},
        format="multipart",
    )
    assert refused.status_code == 400 and RosterImport.objects.count() == 1
    assert cbo.get("/api/v1/rosters/").json()["results"] == []


def test_a_plan_uploads_a_roster_on_the_page_and_sees_the_bad_rows(
    world, client, django_capture_on_commit_callbacks
):
    client.force_login(world.care_coordinator)
    page = client.get("/members/rosters/").content.decode()
    assert "Upload a roster" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/members/rosters/",
            {
                "file": SimpleUploadedFile(
                    "bad.csv", (HEADER + "91000004A,Ana,,1980-02-03,2026-12-01,,\n").encode()
                ),
                "roster_date": "2026-12-01",
            },
        )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Rows to fix" in page and "Enter the member" in page and "last_name" in page
    assert not Enrollment.objects.exists()

    client.force_login(world.cbo_admin)
    assert "Upload a roster" not in client.get("/members/rosters/").content.decode()
    assert client.get(response["Location"]).status_code == 404


def test_a_roster_cannot_open_another_plans_member_by_back_dating_a_period(world, upload):
    """The member is world.other_plan's (ended last year); world.plan never had them."""
    theirs = MemberFactory(cin="91000009A")
    enroll(theirs, world.other_plan, start=date(2024, 1, 1), end=date(2025, 12, 31))
    roster, _ = upload("91000009A,X,Y,1999-01-01,2001-01-01,2001-01-01,\n")
    assert roster.status == ImportStatus.INVALID
    assert "is not yet your member" in roster.row_errors.get().message
    assert not Enrollment.objects.filter(plan=world.plan).exists()
    # From the roster's date on, a member who moved to the plan is recorded.
    roster, _ = upload("91000009A,X,Y,1999-01-01,2026-12-01,,\n", name="moved.csv")
    assert roster.status == ImportStatus.DONE and roster.added == 1


def test_a_row_spanning_two_of_the_plans_periods_and_an_implausible_date_are_refused(world, upload):
    two = MemberFactory(cin="91000001A")
    enroll(two, world.plan, start=date(2020, 1, 1), end=date(2020, 12, 31))
    enroll(two, world.plan, start=date(2022, 1, 1), end=date(2022, 12, 31))
    roster, _ = upload(
        "91000001A,Ana,Reyes,1980-02-03,2020-06-01,2022-06-01,\n91000002A,Bo,Lee,1980-02-03,0001-01-01,,\n"
    )
    assert roster.status == ImportStatus.INVALID
    messages = [e.message for e in roster.row_errors.all()]
    assert "overlaps 2 of your periods" in messages[0] and "use a year from 1966 to 2099" in messages[1]
    with pytest.raises(ValidationError, match="roster date 0001-01-01 is not a coverage date"):
        upload("91000002A,Bo,Lee,1980-02-03,2026-12-01,,\n", day=date(1, 1, 1))


def test_coverage_that_moved_between_the_check_and_the_apply_stops_the_roster(world, upload, monkeypatch):
    """Another plan records the member's coverage after the roster was checked: applying it
    checks again under the member's lock and applies nothing."""
    member = MemberFactory(cin="91000001A")
    enroll(member, world.plan, start=date(2025, 1, 1), end=date(2025, 12, 31))
    checked = rosters._check

    def check_then_another_plan_saves(roster):
        ok = checked(roster)
        enroll(member, world.other_plan, start=date(2026, 1, 1))
        return ok

    monkeypatch.setattr(rosters, "_check", check_then_another_plan_saves)
    roster, _ = upload("91000001A,Ana,Reyes,1980-02-03,2025-01-01,,\n")
    assert (
        roster.status == ImportStatus.FAILED
        and "Coverage changed while the roster was being checked" in roster.message
    )
    assert member.enrollments.get(plan=world.plan).end_date == date(2025, 12, 31)


def test_each_period_a_roster_records_changes_or_ends_is_audited(world, upload):
    from cbo_portal.models import AuditEvent

    leaving = MemberFactory(cin="91000002A")
    enroll(leaving, world.plan, start=date(2025, 1, 1))
    upload("91000003A,Luis,Ortega,1975-09-10,2026-11-01,,\n")
    summaries = sorted(
        AuditEvent.objects.filter(object_type="referrals.Enrollment").values_list("summary", flat=True)
    )
    assert summaries == [
        "Coverage of 91000003A from Nov 1, 2026, open-ended from roster roster.csv",
        "Ended coverage of 91000002A on Nov 30, 2026: not on roster roster.csv",
    ]
