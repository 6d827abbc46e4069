"""Bulk referral files: every bad row reported with its line, column and reason; nothing
half-imported; the same file (or the same rows) never creates anything twice."""

import datetime as dt
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from referrals.models import (
    Enrollment,
    ImportRowError,
    Member,
    Referral,
    ReferralImport,
    ReferralStatusChange,
)
from referrals.services import imports
from referrals.services.imports import checking as import_checking
from tests.referrals.factories import DEFAULT_TERMS, MemberFactory, contract, contracted

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _contract(world):
    """world.cbo is contracted with world.plan for meals in every county."""
    contracted(world, labels=("S5170-U6",))


HEADER = "CIN,First Name,Last Name,DOB,Sex,Street,City,ZIP,Phone,County,Service,Diagnosis,Priority,Plan Reference\n"


def row(n, **over):
    values = {
        "cin": f"9{n:07d}A",
        "first": f"Ana{n}",
        "last": "Lopez",
        "dob": "1980-02-03",
        "sex": "F",
        "street": f"{n} Main St",
        "city": "Los Angeles",
        "zip": "90012",
        "phone": "213-555-0100",
        "county": "Los Angeles",
        "service": "S5170-U6",
        "dx": "Z59.41",
        "priority": "routine",
        "ref": f"PR-{n}",
    } | over
    return ",".join(values.values()) + "\n"


def upload(world, content: bytes, name="members.csv", **kw):
    kw.setdefault("cbo", world.cbo)
    return imports.start_import(
        acting_user=world.care_coordinator,
        plan=world.plan,
        upload=SimpleUploadedFile(name, content, "text/csv"),
        **kw,
    )


def run(world, content, django_capture_on_commit_callbacks, **kw):
    with django_capture_on_commit_callbacks(execute=True):
        batch, created = upload(world, content, **kw)
    batch.refresh_from_db()
    return batch, created


def errors(batch):
    return [(e.line, e.column, e.message) for e in ImportRowError.objects.filter(batch=batch)]


def test_good_file_is_imported_once(world, django_capture_on_commit_callbacks):
    existing = MemberFactory(cin="90000001A", first_name="Old", phone="")
    content = (
        HEADER + "".join(row(n) for n in range(1, 6)) + row(6, priority="Urgent", dx="Z59.01;Z59.41")
    ).encode()
    batch, created = run(world, content, django_capture_on_commit_callbacks)
    assert created and batch.status == "done", batch.message
    assert (batch.created_count, batch.total_rows, batch.percent) == (6, 6, 100)
    assert Referral.objects.filter(import_batch=batch, status="received").count() == 6
    assert ReferralStatusChange.objects.filter(referral__import_batch=batch).count() == 6
    existing.refresh_from_db()
    assert existing.first_name == "Ana1" and existing.phone == "213-555-0100"  # upserted by CIN
    assert Member.objects.count() == 6 and Enrollment.objects.filter(plan=world.plan).count() == 6
    urgent = Referral.objects.get(plan_reference="PR-6")
    assert urgent.priority == "urgent" and urgent.diagnosis_codes == ["Z59.01", "Z59.41"]
    # The same file again: the earlier import comes back and nothing new is created.
    again, created = run(world, content, django_capture_on_commit_callbacks)
    assert not created and again.pk == batch.pk and Referral.objects.count() == 6
    # A new file repeating rows: only the new row is created.
    batch2, _ = run(world, (HEADER + row(1) + row(7)).encode(), django_capture_on_commit_callbacks)
    assert (batch2.created_count, batch2.skipped_count) == (1, 1) and Referral.objects.count() == 7


def test_a_row_for_a_service_or_county_outside_the_cbos_contract_is_refused_with_the_reason(
    world, django_capture_on_commit_callbacks
):
    """Issue #14 item 3: a plan refers only for what the CBO is contracted for, in the member's county."""
    contract(
        world.plan,
        world.other_cbo,
        user=world.contract_manager,
        terms={"S5170-U6": DEFAULT_TERMS["S5170-U6"]},
        counties=("Los Angeles",),
        number="LA-MEALS",
    )
    content = (HEADER + row(1) + row(2, service="H0014-U6") + row(3, county="Alameda")).encode()
    batch, _ = run(world, content, django_capture_on_commit_callbacks, cbo=world.other_cbo)
    assert batch.status == "invalid" and Referral.objects.count() == 0
    assert errors(batch) == [
        (
            3,
            "service",
            "Northside Housing Partners cannot take referrals for Sobering Centers (H0014-U6): "
            "Contract LA-MEALS does not cover Sobering Centers (H0014-U6).",
        ),
        (
            4,
            "service",
            "Northside Housing Partners cannot take referrals for Medically Tailored Meals (S5170-U6): "
            "Contract LA-MEALS covers Los Angeles, not Alameda.",
        ),
    ]


def test_every_bad_row_is_reported_and_nothing_is_imported(world, django_capture_on_commit_callbacks):
    content = (
        HEADER
        + row(1)
        + row(2, cin="12345")
        + row(3, service="Z9999-U6")
        + row(4, dob="02/30/1980")
        + row(5, ref="PR-1")
        + row(6, county="Gotham")
        + row(7, dx="59.x")
    ).encode()
    batch, _ = run(world, content, django_capture_on_commit_callbacks)
    assert batch.status == "invalid" and batch.error_rows == 6 and batch.total_rows == 7
    found = errors(batch)
    assert [(line, col) for line, col, _ in found] == [
        (3, "cin"),
        (4, "service"),
        (5, "dob"),
        (6, "plan_reference"),
        (7, "county"),
        (8, "diagnosis"),
    ]
    messages = dict(((line, col), msg) for line, col, msg in found)
    assert "8 digits followed by a letter" in messages[(3, "cin")]
    assert "Z9999" in messages[(4, "service")]
    assert "not a date" in messages[(5, "dob")]
    assert "also on line 2" in messages[(6, "plan_reference")]
    assert not Referral.objects.exists() and not Member.objects.exists()
    # The plan may then explicitly import the valid rows only.
    with django_capture_on_commit_callbacks(execute=True):
        imports.import_valid_rows(batch, acting_user=world.care_coordinator)
    batch.refresh_from_db()
    assert batch.status == "done" and batch.created_count == 1 and "6 bad rows left out" in batch.message
    assert list(Referral.objects.values_list("plan_reference", flat=True)) == ["PR-1"]


def test_a_value_too_long_for_its_field_is_refused_never_cut(world, django_capture_on_commit_callbacks):
    """The importer and the member form say the same: a 201-character street, a future birth date."""
    from referrals import rules

    long_street = ("1 " + "Avenida de los Árboles " * 9).strip()
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    content = (
        HEADER + row(1, street=long_street) + row(2, zip="90012-12345") + row(3, dob=tomorrow)
    ).encode()
    batch, _ = run(world, content, django_capture_on_commit_callbacks)
    found = {(line, col): msg for line, col, msg in errors(batch)}
    assert batch.status == "invalid" and set(found) == {(2, "street"), (3, "zip"), (4, "dob")}
    assert found[(2, "street")] == f"The street is {len(long_street)} characters; at most 200 fit."
    assert found[(3, "zip")] == "The ZIP code is 11 characters; at most 10 fit."
    member = Member(cin="90000003A", first_name="Ana", last_name="Lopez", dob=dt.date.fromisoformat(tomorrow))
    with pytest.raises(ValidationError) as refused:
        member.full_clean()
    assert (
        refused.value.message_dict["dob"]
        == [found[(4, "dob")]]
        == [
            rules.member_problems(
                cin="90000003A", first_name="A", last_name="L", dob=member.dob, today=timezone.localdate()
            )["dob"]
        ]
    )
    assert not Member.objects.exists()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "The file is empty."),
        (HEADER.encode(), "header line but no rows"),
        (
            b"CIN,First Name,Last Name,Service,Plan Reference\n90000001A,A,B,S5170-U6,P1\n",
            "Missing column “dob”",
        ),
        ((HEADER + row(1, last="Muñoz")).encode("latin-1"), "not UTF-8"),
        ((HEADER + row(1)).encode("utf-16"), "UTF-16"),
        (b"PK\x03\x04rest-of-a-workbook", "Excel workbook"),
    ],
    ids=["empty", "header-only", "missing-column", "latin-1", "utf-16", "xlsx"],
)
def test_unusable_files_are_reported_clearly(world, django_capture_on_commit_callbacks, content, expected):
    batch, _ = run(world, content, django_capture_on_commit_callbacks)
    assert batch.status == "invalid" and expected in batch.message
    assert errors(batch) and expected in errors(batch)[0][2]
    assert not Referral.objects.exists() and not Member.objects.exists()


def test_utf8_with_bom_and_us_dates_and_aliases_work(world, django_capture_on_commit_callbacks):
    content = (
        "\ufeffMember CIN,First,Last,Date of Birth,HCPCS,Plan Referral ID\n"
        "90000009A,José,Núñez,02/03/1980,S5170 U6,X-1\n"
    ).encode()
    batch, _ = run(world, content, django_capture_on_commit_callbacks)
    assert batch.status == "done", errors(batch)
    assert Member.objects.get().last_name == "Núñez"


def test_50_mb_file_is_streamed_and_its_one_bad_row_found(
    world, django_capture_on_commit_callbacks, tmp_path
):
    path = tmp_path / "big.csv"
    line = row(1)
    n = 50 * 1024 * 1024 // len(line) + 1
    with path.open("w") as f:
        f.write(HEADER)
        f.writelines(row(i) for i in range(1, n))
        f.write(row(n, cin="BAD"))
    assert path.stat().st_size >= 50 * 1024 * 1024
    with path.open("rb") as fh, django_capture_on_commit_callbacks(execute=True):
        batch, _ = imports.start_import(
            acting_user=world.care_coordinator,
            plan=world.plan,
            cbo=world.cbo,
            upload=File(fh, name="big.csv"),
        )
    batch.refresh_from_db()
    assert batch.status == "invalid" and batch.total_rows == n and batch.error_rows == 1
    assert errors(batch) == [(n + 1, "cin", errors(batch)[0][2])]
    assert not Referral.objects.exists()


def test_only_plan_referrers_upload(world):
    from django.core.exceptions import PermissionDenied

    for user in (world.cbo_admin, world.other_plan_coordinator):
        with pytest.raises(PermissionDenied):
            imports.start_import(
                acting_user=user,
                plan=world.plan,
                cbo=world.cbo,
                upload=SimpleUploadedFile("a.csv", HEADER.encode()),
            )
    assert not ReferralImport.objects.exists()


def test_read_rows_streams(world):
    rows = list(imports.read_rows(io.BytesIO((HEADER + row(1) + "\n" + row(2)).encode())))
    assert [line for line, _ in rows] == [2, 4]


def test_duplicate_references_are_found_across_batches(
    world, django_capture_on_commit_callbacks, monkeypatch
):
    # Rows are checked a batch at a time; a repeated plan reference is caught within a batch and
    # across batches, and always points at the first line that used it.
    monkeypatch.setattr(import_checking, "BATCH", 2)
    content = (
        HEADER
        + row(1)
        + row(2)
        + row(3, ref="PR-1")
        + row(4)
        + row(5, ref="PR-4")
        + row(6, ref="PR-4", cin="1")
    ).encode()
    batch, _ = run(world, content, django_capture_on_commit_callbacks)
    assert batch.status == "invalid" and (batch.error_rows, batch.total_rows) == (3, 6)
    assert [(line, col, msg.split(":")[0]) for line, col, msg in errors(batch)] == [
        (4, "plan_reference", "Duplicate row"),
        (6, "plan_reference", "Duplicate row"),
        (7, "cin", "“1”"),
        (7, "plan_reference", "Duplicate row"),
    ]
    assert [msg for _, col, msg in errors(batch) if col == "plan_reference"] == [
        "Duplicate row: plan reference PR-1 is also on line 2.",
        "Duplicate row: plan reference PR-4 is also on line 5.",
        "Duplicate row: plan reference PR-4 is also on line 5.",
    ]
    assert not Referral.objects.exists()
