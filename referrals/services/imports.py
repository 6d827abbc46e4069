"""Bulk referral files: upload, check every row, then import all of them (or, when the plan
explicitly chooses, only the valid ones).

Policy: a file with any bad row imports nothing; the result lists every bad row with its line
number, column and reason. The plan can fix the file and upload it again, or choose "import the
valid rows". The same file (by SHA-256) is imported once per plan, and each row's plan reference
once, so uploading a file twice creates nothing new. Members are upserted by CIN.

The file is streamed (csv over a text wrapper) in both passes; only the plan references seen so
far are kept in memory, to report duplicate rows; the clean rows wait in a local temporary file
between the passes. Rows are written in batches (COPY on PostgreSQL, ``bulk_create`` elsewhere)
inside one transaction, so a crash never leaves half a file; on PostgreSQL progress is
written through a second connection so the page can show it while the transaction is open.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import pickle
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import IO, NamedTuple

from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.db import DatabaseError, IntegrityError, connection, connections, transaction
from django.utils import timezone

from cbo_portal.choices import AuditAction
from cbo_portal.fastpath import (
    NULL,
    among,
    array_literal,
    copy_escape,
    copy_lines,
    copy_rows,
    copy_value,
    needs_copy_escape,
    on_postgresql,
    reserve_ids,
)
from cbo_portal.models import County, Organization
from cbo_portal.services import audit
from cbo_portal.words import count
from contracts.models import ServiceCatalogEntry, UnknownService
from contracts.selectors import RateBook
from referrals import rules
from referrals.choices import ImportStatus, Priority, ReferralSource, ReferralStatus
from referrals.models import (
    Enrollment,
    ImportRowError,
    Member,
    Referral,
    ReferralImport,
    ReferralStatusChange,
)
from referrals.services import members as member_svc
from referrals.services.common import PLAN_REFERRERS, require_plan_role
from referrals.services.referrals import check_provider, offer_problem, response_deadline

logger = logging.getLogger(__name__)

BATCH = 2000
MAX_BYTES = 200 * 1024 * 1024
REQUIRED = ("cin", "first_name", "last_name", "dob", "service", "plan_reference")
OPTIONAL = (
    "sex",
    "street",
    "city",
    "state",
    "zip",
    "phone",
    "county",
    "diagnosis",
    "priority",
    "cbo_npi",
    "language",
    "reason",
    "enrollment_start",
    "modifiers",
)
LABELS = {
    "cin": "CIN",
    "first_name": "first name",
    "last_name": "last name",
    "dob": "date of birth",
    "service": "service (HCPCS code and modifiers, e.g. S5170-U6)",
    "plan_reference": "plan reference",
}
ALIASES = {
    "member_cin": "cin",
    "client_index_number": "cin",
    "medi_cal_id": "cin",
    "medical_id": "cin",
    "member_id": "cin",
    "first": "first_name",
    "member_first_name": "first_name",
    "firstname": "first_name",
    "last": "last_name",
    "member_last_name": "last_name",
    "lastname": "last_name",
    "date_of_birth": "dob",
    "birth_date": "dob",
    "birthdate": "dob",
    "member_dob": "dob",
    "gender": "sex",
    "address": "street",
    "address_line_1": "street",
    "residential_address": "street",
    "zip_code": "zip",
    "postal_code": "zip",
    "phone_number": "phone",
    "member_phone": "phone",
    "county_name": "county",
    "service_code": "service",
    "hcpcs": "service",
    "hcpcs_code": "service",
    "diagnosis_code": "diagnosis",
    "diagnosis_codes": "diagnosis",
    "icd10": "diagnosis",
    "icd_10": "diagnosis",
    "plan_referral_id": "plan_reference",
    "referral_id": "plan_reference",
    "plan_ref": "plan_reference",
    "reference": "plan_reference",
    "provider_npi": "cbo_npi",
    "npi": "cbo_npi",
    "preferred_language": "language",
    "modifier": "modifiers",
}
_MDY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$", re.ASCII)  # 0-9 only, not "٠٣/٠١/١٩٨٠"
_SPLIT_DX = re.compile(r"[;,|\s]+")
SEX = {"m": "M", "male": "M", "f": "F", "female": "F", "u": "U", "unknown": "U", "x": "U", "": "U"}
PRIORITY = {
    "": Priority.ROUTINE,
    "routine": Priority.ROUTINE,
    "r": Priority.ROUTINE,
    "urgent": Priority.URGENT,
    "u": Priority.URGENT,
    "expedited": Priority.URGENT,
}


class FileProblem(Exception):
    """The whole file is unusable (empty, not UTF-8, missing columns)."""

    def __init__(self, message: str, *, line: int = 0, column: str = "") -> None:
        super().__init__(message)
        self.line, self.column = line, column


def parse_date(text: str) -> date:
    text = text.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    if m := _MDY.match(text):
        return date(int(m[3]), int(m[1]), int(m[2]))
    if len(text) == 8 and text.isascii() and text.isdigit():
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    raise ValueError(text)


def normalize_header(name: str) -> str:
    key = re.sub(r"[^a-z0-9]+", "_", (name or "").strip().lower()).strip("_")
    return ALIASES.get(key, key)


# The file's column for a member field whose name differs.
COLUMN_OF = {"preferred_language": "language"}


class CleanRow(NamedTuple):
    """One checked row, as it waits in the spool between the passes (a tuple: cheap to pickle)."""

    line: int
    cin: str
    first_name: str
    last_name: str
    dob: date
    sex: str
    street: str
    city: str
    state: str
    zip: str
    phone: str
    county_id: int | None
    language: str
    service_id: int
    diagnosis: list[str]
    priority: str
    plan_reference: str
    cbo_id: int
    reason: str
    enrollment_start: date | None


class RowChecker:
    """Checks rows one at a time with everything looked up once (catalog, counties, providers).
    Duplicate plan references across rows are found afterwards, a batch at a time, by
    ``DuplicateFinder``."""

    def __init__(self, batch: ReferralImport) -> None:
        self.batch = batch
        self.today = timezone.localdate()
        self.counties = {c.name.lower(): c.pk for c in County.objects.all()}
        self.counties.update({c.fips: c.pk for c in County.objects.all()})
        self.services: dict[str, int | str] = {}
        self.providers = dict(
            Organization.objects.approved_providers().exclude(npi="").values_list("npi", "pk")
        )
        self.county_records = {c.pk: c for c in County.objects.all()}
        self.entries: dict[int, ServiceCatalogEntry] = {}
        self.books: dict[int, RateBook] = {}

    def _offer_problem(self, cbo_id: int, service_id: int, county_id: int | None) -> str:
        """``referrals.offer_problem`` for the row, with each CBO's contracts loaded once."""
        if cbo_id not in self.books:
            self.books[cbo_id] = RateBook.load(Organization.objects.get(pk=cbo_id), self.batch.plan)
        if service_id not in self.entries:
            self.entries[service_id] = ServiceCatalogEntry.objects.get(pk=service_id)
        return offer_problem(
            self.books[cbo_id],
            self.entries[service_id],
            county=self.county_records.get(county_id),
            on=self.today,
        )

    def _service(self, text: str) -> int | str:
        key = text.strip().upper()
        if key not in self.services:
            code, *mods = re.split(r"[\s\-:,+]+", key) if key else [""]
            try:
                self.services[key] = ServiceCatalogEntry.objects.lookup(code, mods).pk
            except UnknownService as exc:
                self.services[key] = exc.messages[0]
        return self.services[key]

    def check(self, line: int, row: dict[str, str]) -> tuple[CleanRow | None, list[tuple[str, str]]]:
        """The clean row, or the (column, message) problems that keep it out."""
        errors: list[tuple[str, str]] = []
        get = row.get
        cin = (get("cin") or "").strip().upper()
        first, last = (get("first_name") or "").strip(), (get("last_name") or "").strip()
        text = {
            "street": (get("street") or "").strip(),
            "city": (get("city") or "").strip(),
            "state": ((get("state") or "").strip() or "CA").upper(),
            "zip": (get("zip") or "").strip(),
            "phone": (get("phone") or "").strip(),
            "preferred_language": (get("language") or "").strip(),
        }
        dob = None
        raw_dob = (get("dob") or "").strip()
        try:
            dob = parse_date(raw_dob)
        except ValueError:
            errors.append(
                (
                    "dob",
                    f"“{raw_dob}” is not a date; use YYYY-MM-DD or MM/DD/YYYY."
                    if raw_dob
                    else "The date of birth is missing.",
                )
            )
        for field, problem in rules.member_problems(
            cin=cin, first_name=first, last_name=last, dob=dob, today=self.today, **text
        ).items():
            if field == "cin" and cin:
                problem = f"“{cin}”: {problem}"
            errors.append((COLUMN_OF.get(field, field), problem))
        service_text = (get("service") or "").strip()
        if get("modifiers"):
            service_text = f"{service_text}-{get('modifiers')}"
        service = self._service(service_text) if service_text else "The service is missing."
        if isinstance(service, str):
            errors.append(("service", service))
        sex = SEX.get((get("sex") or "").strip().lower())
        if sex is None:
            errors.append(("sex", f"“{get('sex')}” is not a sex code; use M, F or U."))
        priority = PRIORITY.get((get("priority") or "").strip().lower())
        if priority is None:
            errors.append(("priority", f"“{get('priority')}” is not a priority; use routine or urgent."))
        county_text = (get("county") or "").strip().lower().removesuffix(" county")
        county_id = self.counties.get(county_text) if county_text else None
        if county_text and county_id is None:
            errors.append(("county", f"“{get('county')}” is not a California county."))
        diagnosis = [c.upper() for c in _SPLIT_DX.split((get("diagnosis") or "").strip()) if c]
        if problem := rules.diagnosis_problem(diagnosis):
            errors.append(("diagnosis", problem))
        ref = (get("plan_reference") or "").strip()
        if not ref:
            errors.append(
                (
                    "plan_reference",
                    "The plan reference is missing (it keeps re-uploads from creating the referral twice).",
                )
            )
        elif problem := rules.plan_reference_problem(ref):
            errors.append(("plan_reference", problem))
        npi = (get("cbo_npi") or "").strip()
        cbo_id = self.batch.cbo_id
        if npi:
            cbo_id = self.providers.get(npi)
            if cbo_id is None:
                errors.append(("cbo_npi", f"No approved CBO has NPI {npi}."))
        elif cbo_id is None:
            errors.append(("cbo_npi", "Name the CBO (its NPI) or choose one when uploading."))
        start = None
        if raw := (get("enrollment_start") or "").strip():
            try:
                start = parse_date(raw)
            except ValueError:
                errors.append(("enrollment_start", f"“{raw}” is not a date; use YYYY-MM-DD or MM/DD/YYYY."))
        county_known = not (county_text and county_id is None)
        if (
            isinstance(service, int)
            and cbo_id is not None
            and county_known
            and (problem := self._offer_problem(cbo_id, service, county_id))
        ):
            errors.append(("service", problem))
        if errors:
            return None, errors
        return CleanRow(
            line=line,
            cin=cin,
            first_name=first,
            last_name=last,
            dob=dob,
            sex=sex,
            street=text["street"],
            city=text["city"],
            state=text["state"],
            zip=text["zip"],
            phone=text["phone"],
            county_id=county_id,
            language=text["preferred_language"],
            service_id=service,
            diagnosis=diagnosis,
            priority=priority,
            plan_reference=ref,
            cbo_id=cbo_id,
            reason=(get("reason") or "").strip(),
            enrollment_start=start,
        ), []


def _sniff(raw: IO[bytes]) -> None:
    head = raw.read(4)
    raw.seek(0)
    if not head:
        raise FileProblem("The file is empty.")
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise FileProblem("The file is saved as UTF-16. Save it as “CSV UTF-8” and upload it again.")
    if head == b"PK\x03\x04":
        raise FileProblem("This looks like an Excel workbook. Save it as “CSV UTF-8” and upload it again.")


def _find_nul(raw: IO[bytes]) -> tuple[int, int] | None:
    """(byte offset, line) of the file's first NUL byte, or None. No text field may hold one
    (PostgreSQL refuses it), so such a file is refused whole, before any row is checked; the
    scan runs a megabyte at a time at the speed of ``bytes.find``."""
    offset, lines = 0, 1
    try:
        for chunk in iter(lambda: raw.read(1 << 20), b""):
            if (at := chunk.find(b"\x00")) >= 0:
                return offset + at, lines + chunk.count(b"\n", 0, at)
            offset, lines = offset + len(chunk), lines + chunk.count(b"\n")
        return None
    finally:
        raw.seek(0)


def read_rows(raw: IO[bytes]) -> Iterator[tuple[int, dict[str, str]]]:
    """Stream (line number, row by normalized column) from a UTF-8 CSV, checking the header."""
    _sniff(raw)
    if nul := _find_nul(raw):
        offset, line = nul
        raise FileProblem(
            f"The file contains a NUL byte (a zero byte) at offset {offset}, on line {line}. A CSV file "
            "holds text only; this usually means it was saved as UTF-16 or is not a CSV file. Save it "
            "as “CSV UTF-8” and upload it again.",
            line=line,
        )
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict", newline="")
    reader = csv.reader(text)
    try:
        try:
            header = next(reader)
        except StopIteration:
            raise FileProblem("The file is empty.") from None
        names = [normalize_header(h) for h in header]
        missing = [c for c in REQUIRED if c not in names]
        if missing:
            raise FileProblem(
                "Missing column"
                + ("s " if len(missing) > 1 else " ")
                + ", ".join(f"“{c}” ({LABELS[c]})" for c in missing)
                + ". The first line must name the columns: "
                + ", ".join(REQUIRED)
                + ".",
                line=1,
                column=missing[0],
            )
        width = len(names)
        any_rows = False
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            any_rows = True
            if len(values) < width:
                values = values + [""] * (width - len(values))
            yield reader.line_num, dict(zip(names, values, strict=False))
        if not any_rows:
            raise FileProblem("The file has a header line but no rows.", line=2)
    except UnicodeDecodeError as exc:
        raise FileProblem(
            f"The file is not UTF-8 text (unreadable byte 0x{exc.object[exc.start]:02x} near line "
            f"{reader.line_num + 1}). Save it as “CSV UTF-8” and upload it again.",
            line=reader.line_num + 1,
        ) from None
    except csv.Error as exc:
        raise FileProblem(
            f"Line {reader.line_num} cannot be read as CSV ({exc}).", line=reader.line_num
        ) from None
    finally:
        text.detach()


def count_lines(raw: IO[bytes]) -> int:
    total = sum(chunk.count(b"\n") for chunk in iter(lambda: raw.read(1 << 20), b""))
    raw.seek(0)
    return total


# ---------------------------------------------------------------------------- upload
def sha256_of(upload: File) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


@transaction.atomic
def start_import(
    *, acting_user, plan: Organization, upload: File, cbo: Organization | None = None
) -> tuple[ReferralImport, bool]:
    """Store an uploaded referral file and queue it. The same file uploaded again by the same plan
    returns the earlier import (``created`` False) and creates nothing new."""
    require_plan_role(acting_user, plan, PLAN_REFERRERS, action="upload referral files")
    if cbo is not None:
        check_provider(cbo)
    size = upload.size or 0
    if size > MAX_BYTES:
        raise ValidationError(
            {
                "file": f"The file is {size / 1048576:.0f} MB; the most we take is "
                f"{MAX_BYTES // 1048576} MB. Split it into smaller files."
            }
        )
    sha = sha256_of(upload)
    existing = ReferralImport.objects.filter(plan=plan, sha256=sha).first()
    if existing is not None:
        return existing, False
    name = (getattr(upload, "name", "") or "referrals.csv").rsplit("/", 1)[-1][:255]
    batch = ReferralImport(
        plan=plan, cbo=cbo, original_name=name, size=size, sha256=sha, uploaded_by=acting_user
    )
    batch.file.save(name, upload, save=False)
    batch.save()
    audit.record(
        actor=acting_user,
        action=AuditAction.CREATE,
        obj=batch,
        organization=plan,
        summary=f"Uploaded referral file {name} ({size} bytes)",
    )
    from referrals.tasks import process_referral_import

    transaction.on_commit(lambda: process_referral_import.delay(batch.pk))
    return batch, True


@transaction.atomic
def import_valid_rows(batch: ReferralImport, *, acting_user) -> ReferralImport:
    """The plan explicitly chooses to import a checked file's valid rows and leave out the bad ones
    (which stay listed in the report)."""
    require_plan_role(acting_user, batch.plan_id, PLAN_REFERRERS, action="import referral files")
    batch = ReferralImport.objects.select_for_update().get(pk=batch.pk)
    if batch.status != ImportStatus.INVALID:
        raise ValidationError("Only a checked file with bad rows can be imported without them.")
    if batch.error_rows >= batch.total_rows:
        raise ValidationError("Every row of this file is bad; there is nothing to import.")
    batch.valid_rows_only, batch.status, batch.message = True, ImportStatus.PENDING, ""
    batch.save(update_fields=["valid_rows_only", "status", "message"])
    audit.record(
        actor=acting_user,
        action=AuditAction.UPDATE,
        obj=batch,
        organization=batch.plan_id and batch.plan,
        summary=f"Chose to import the valid rows of {batch.original_name}",
    )
    from referrals.tasks import process_referral_import

    transaction.on_commit(lambda: process_referral_import.delay(batch.pk))
    return batch


# ---------------------------------------------------------------------------- processing
@contextmanager
def progress_writer(batch: ReferralImport):
    """Write progress where the polling page can see it. On PostgreSQL through a second
    connection (autocommit), since the import runs in one long transaction; elsewhere (SQLite,
    which allows one writer) progress is written only between the phases."""
    if not on_postgresql():
        yield lambda **fields: None
        return
    side = connections.create_connection("default")
    try:

        def write(**fields: int) -> None:
            sets = ", ".join(f"{name} = %s" for name in fields)
            with side.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {ReferralImport._meta.db_table} SET {sets} WHERE id = %s",  # noqa: S608
                    [*fields.values(), batch.pk],
                )

        yield write
    finally:
        side.close()


def _save(batch: ReferralImport, **fields: object) -> None:
    for key, value in fields.items():
        setattr(batch, key, value)
    ReferralImport.objects.filter(pk=batch.pk).update(**fields)


def _fail_file(batch: ReferralImport, problem: FileProblem) -> None:
    ImportRowError.objects.create(
        batch=batch, line=problem.line, column=problem.column, message=str(problem)[:300]
    )
    _save(
        batch,
        status=ImportStatus.INVALID,
        message=str(problem)[:300],
        error_rows=0,
        finished_at=timezone.now(),
    )


class DuplicateFinder:
    """Finds rows whose plan reference is already on an earlier line, a batch of rows at a time.

    On PostgreSQL the references seen so far live in a temporary table on the server, so the
    worker's memory does not grow with the file; elsewhere in a dict."""

    TABLE = "referral_import_seen_refs"

    def __init__(self) -> None:
        self.on_server = on_postgresql()
        self.seen: dict[str, int] = {}
        if self.on_server:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"CREATE TEMPORARY TABLE IF NOT EXISTS {self.TABLE} "
                    "(ref varchar(40) PRIMARY KEY, line integer NOT NULL)"
                )
                cursor.execute(f"TRUNCATE {self.TABLE}")

    def earlier_lines(self, refs: list[tuple[int, str]]) -> dict[int, int]:
        """``{line: earlier line}`` for the (line, reference) pairs, in line order, whose
        reference was seen on an earlier line (of this batch or an earlier one)."""
        if not refs:
            return {}
        if not self.on_server:
            setdefault = self.seen.setdefault
            return {line: first for line, ref in refs if (first := setdefault(ref, line)) != line}
        with connection.cursor() as cursor:
            # DO NOTHING keeps the first line of a reference, also within the batch (rows go in
            # line order).
            cursor.execute(
                f"INSERT INTO {self.TABLE} (ref, line) SELECT r, n FROM unnest(%s::varchar[], %s::int[]) "  # noqa: S608
                "AS t(r, n) ORDER BY n ON CONFLICT (ref) DO NOTHING RETURNING line",
                [array_literal([ref for _, ref in refs]), array_literal([line for line, _ in refs])],
            )
            first_lines = {line for (line,) in cursor.fetchall()}
            again = [(line, ref) for line, ref in refs if line not in first_lines]
            if not again:
                return {}
            cursor.execute(
                f"SELECT ref, line FROM {self.TABLE} WHERE ref = ANY(%s::varchar[])",  # noqa: S608
                [array_literal(list({ref for _, ref in again}))],
            )
            first = dict(cursor.fetchall())
        return {line: first[ref] for line, ref in again}

    def close(self) -> None:
        if self.on_server:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {self.TABLE}")


# The duplicate-reference error goes where the row checker used to put it: after the columns
# checked before the plan reference.
_AFTER_REFERENCE = ("cbo_npi", "enrollment_start")


def validate_file(batch: ReferralImport, spool: IO[bytes]) -> bool:
    """First pass: check every row and store every problem; the clean rows go to ``spool`` (a
    local temporary file) so the second pass need not parse the CSV again. True when the file
    can be imported. Rows are checked a batch at a time (duplicate references need the whole
    batch), so memory stays bounded whatever the file's size."""
    ImportRowError.objects.filter(batch=batch).delete()
    _save(batch, status=ImportStatus.VALIDATING, processed_rows=0, error_rows=0, message="")
    checker, duplicates = RowChecker(batch), DuplicateFinder()
    checked: list[tuple[int, str, CleanRow | None, list[tuple[str, str]]]] = []
    bad_rows = rows = 0

    def flush() -> None:
        nonlocal bad_rows
        earlier = duplicates.earlier_lines([(line, ref) for line, ref, _, _ in checked if ref])
        others = member_svc.cins_enrolled_elsewhere(
            batch.plan_id,
            {clean.cin for _, _, clean, _ in checked if clean is not None},
            timezone.localdate(),
        )
        clean_rows, problems = [], []
        for line, ref, clean, errors in checked:
            if clean is not None and clean.cin in others:
                errors.append(
                    (
                        "cin",
                        f"Member {clean.cin} is enrolled with another plan today; only that plan "
                        "can refer them or change their record.",
                    )
                )
            if line in earlier:
                at = next((i for i, (c, _) in enumerate(errors) if c in _AFTER_REFERENCE), len(errors))
                errors.insert(
                    at,
                    (
                        "plan_reference",
                        f"Duplicate row: plan reference {ref} is also on line {earlier[line]}.",
                    ),
                )
            if errors:
                bad_rows += 1
                problems += [
                    ImportRowError(batch=batch, line=line, column=c, message=m[:300]) for c, m in errors
                ]
            else:
                clean_rows.append(clean)
        ImportRowError.objects.bulk_create(problems, batch_size=BATCH)
        pickle.dump(clean_rows, spool, protocol=pickle.HIGHEST_PROTOCOL)
        checked.clear()

    with batch.file.open("rb") as raw:
        _save(batch, total_rows=max(count_lines(raw) - 1, 0))
        try:
            for line, row in read_rows(raw):
                rows += 1
                clean, errors = checker.check(line, row)
                ref = (row.get("plan_reference") or "").strip()
                checked.append((line, ref if len(ref) <= 40 else "", clean, errors))
                if rows % BATCH == 0:
                    flush()
                    _save(batch, processed_rows=rows, error_rows=bad_rows)
        except FileProblem as problem:
            flush()
            duplicates.close()
            _fail_file(batch, problem)
            return False
    flush()
    duplicates.close()
    spool.seek(0)
    _save(batch, total_rows=rows, processed_rows=rows, error_rows=bad_rows)
    if bad_rows and not batch.valid_rows_only:
        _save(
            batch,
            status=ImportStatus.INVALID,
            finished_at=timezone.now(),
            message=f"{bad_rows} of {count(rows, 'row')} {'has' if bad_rows == 1 else 'have'} problems; nothing was imported.",
        )
        return False
    return True


def _spooled(spool: IO[bytes]) -> Iterator[list[CleanRow]]:
    while True:
        try:
            yield pickle.load(spool)  # noqa: S301 - our own temporary file, written by validate_file
        except EOFError:
            return


def _json_codes(codes: list[str]) -> str:
    """A list of checked ICD-10 codes (letters, digits and dots only) as JSON, without json.dumps."""
    return '["' + '", "'.join(codes) + '"]' if codes else "[]"


def _values_in(qs, field: str, values: list, *out: str) -> list[tuple]:
    """``qs`` where ``field`` is one of ``values`` (``among``), as ``values_list(*out)``."""
    return list(qs.order_by().filter(among(field, values)).values_list(*out))


MEMBER_COLUMNS = (
    "cin",
    "first_name",
    "last_name",
    "dob",
    "sex",
    "phone",
    "street",
    "city",
    "state",
    "zip",
    "county_id",
    "preferred_language",
    "created_at",
    "updated_at",
)
MEMBER_FIELDS = (
    "first_name",
    "last_name",
    "dob",
    "sex",
    "street",
    "city",
    "state",
    "zip",
    "phone",
    "county_id",
)
REFERRAL_COLUMNS = (
    "plan_id",
    "cbo_id",
    "member_id",
    "service_id",
    "source",
    "plan_reference",
    "reason",
    "diagnosis_codes",
    "priority",
    "population",
    "facility_name",
    "notes",
    "contact_preference",
    "contact_notes",
    "status",
    "status_changed_at",
    "respond_by",
    "decline_reason",
    "closure_reason",
    "closure_note",
    "import_batch_id",
    "created_by_id",
    "created_at",
)


def _imported_references(plan_id: int, refs: list[str]) -> set[str]:
    """The plan references among ``refs`` that the plan already has a referral for.

    On PostgreSQL one probe of the unique (plan, plan reference) index per reference, forced by
    the LATERAL ... LIMIT 1: as a plain ``= ANY`` the planner preferred reading every referral of
    the plan and filtering, which grew with each batch of the file (quadratic in the file's size:
    about 20 ms a batch of 2,000 at 80,000 referrals; under 5 ms this way, measured)."""
    if not on_postgresql() or not refs:
        # exclude(""): matches the partial unique index on (plan, plan_reference)
        scope = Referral.objects.filter(plan_id=plan_id).exclude(plan_reference="")
        return {ref for (ref,) in _values_in(scope, "plan_reference", refs, "plan_reference")}
    table = connection.ops.quote_name(Referral._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT t.ref FROM unnest(%s::text[]) AS t(ref) CROSS JOIN LATERAL (SELECT 1 FROM {table} r "  # noqa: S608
            "WHERE r.plan_id = %s AND r.plan_reference = t.ref AND r.plan_reference <> '' LIMIT 1) AS hit",
            [array_literal(refs), plan_id],
        )
        return {ref for (ref,) in cursor.fetchall()}


def _member_lines(rows: list[CleanRow], ids: list[int], now: datetime) -> Iterator[str]:
    """COPY lines of new members. The free text is searched once per row and escaped only in the
    rare row that needs it, instead of eight escape calls per row (7 ms → 4 ms per 2,000 rows)."""
    n = now.isoformat()
    for r, pk in zip(rows, ids, strict=True):
        text = (r.first_name, r.last_name, r.phone, r.street, r.city, r.state, r.zip, r.language)
        if needs_copy_escape("".join(text)):
            text = tuple(map(copy_escape, text))
        first, last, phone, street, city, state, zip_code, language = text
        yield (
            f"{pk}\t{r.cin}\t{first}\t{last}\t{r.dob.isoformat()}\t{r.sex}\t{phone}\t{street}\t{city}\t{state}\t"
            f"{zip_code}\t{r.county_id or NULL}\t{language}\t{n}\t{n}\n"
        )


def _write_batch(
    batch: ReferralImport, rows: list[CleanRow], *, deadlines: dict[str, datetime], now: datetime
) -> int:
    """Create the referrals (and members, enrollments) of one batch of clean rows; rows whose plan
    reference is already imported are skipped. Returns how many referrals were created."""
    refs = [r.plan_reference for r in rows]
    existing = _imported_references(batch.plan_id, refs)
    rows = [r for r in rows if r.plan_reference not in existing]
    if not rows:
        return 0
    by_cin: dict[str, CleanRow] = {r.cin: r for r in rows}  # the last row wins for a member's details
    found = _values_in(
        Member.objects.all(), "cin", list(by_cin), "pk", "cin", *MEMBER_FIELDS, "preferred_language"
    )
    members = {
        values[1]: Member(
            **dict(zip(("pk", "cin", *MEMBER_FIELDS, "preferred_language"), values, strict=True))
        )
        for values in found
    }
    new: list[CleanRow] = []
    changed: list[Member] = []
    changes: dict[int, dict[str, list]] = {}
    for cin, r in by_cin.items():
        member = members.get(cin)
        if member is None:
            new.append(r)
            continue
        values = {f: getattr(r, f) for f in MEMBER_FIELDS} | {"preferred_language": r.language}
        diff = {k: v for k, v in values.items() if v not in ("", None, "U") and getattr(member, k) != v}
        if diff:
            changes[member.pk] = {
                k: [audit.jsonable(getattr(member, k)), audit.jsonable(v)] for k, v in diff.items()
            }
            for k, v in diff.items():
                setattr(member, k, v)
            changed.append(member)
    ids = {m.cin: m.pk for m in members.values()}
    postgres = on_postgresql()
    if new and postgres:
        # New members get ids from the sequence up front: no second query to learn them.
        new_ids = reserve_ids(Member, len(new))
        ids.update((r.cin, pk) for r, pk in zip(new, new_ids, strict=True))
        copy_lines(Member, ("id", *MEMBER_COLUMNS), _member_lines(new, new_ids, now))
    elif new:
        copy_rows(
            Member,
            MEMBER_COLUMNS,
            [
                (
                    r.cin,
                    r.first_name,
                    r.last_name,
                    r.dob,
                    r.sex,
                    r.phone,
                    r.street,
                    r.city,
                    r.state,
                    r.zip,
                    r.county_id,
                    r.language,
                    now,
                    now,
                )
                for r in new
            ],
        )
        ids.update(_values_in(Member.objects.all(), "cin", [r.cin for r in new], "cin", "pk"))
    if changed:
        # The plan owns these members' records (rows naming another plan's member were refused when
        # the file was checked): one audit row per changed member, under the plan.
        Member.objects.bulk_update(changed, [*MEMBER_FIELDS, "preferred_language"], batch_size=500)
        audit.record_many(
            actor=batch.uploaded_by,
            action=AuditAction.UPDATE,
            organization_id=batch.plan_id,
            entries=[
                (m, f"Updated member {m.cin} from {batch.original_name}", changes[m.pk]) for m in changed
            ],
        )
    today = now.astimezone(timezone.get_current_timezone()).date()
    covered: set[int] = set()
    if members:  # members created just now have no enrollments yet
        enrollments = Enrollment.objects.filter(plan_id=batch.plan_id).on(today)
        covered = {
            mid for (mid,) in _values_in(enrollments, "member", [m.pk for m in members.values()], "member_id")
        }
    starts: dict[int, date] = {}
    for r in rows:
        mid = ids[r.cin]
        if mid not in covered:
            starts.setdefault(mid, r.enrollment_start or today.replace(day=1))
    if postgres:
        plan_id = batch.plan_id
        copy_lines(
            Enrollment,
            ("member_id", "plan_id", "start_date"),
            [f"{mid}\t{plan_id}\t{start.isoformat()}\n" for mid, start in starts.items()],
        )
    else:
        copy_rows(
            Enrollment,
            ("member_id", "plan_id", "start_date"),
            [(mid, batch.plan_id, start) for mid, start in starts.items()],
        )
    if postgres:
        # Most columns are the same on every row: format them once, escape only what varies.
        t, e, n = copy_value, copy_escape, now.isoformat()
        head = f"{batch.plan_id}\t"
        tail = {
            p: f"\t{p}\t\t\t\t\t\t{t(ReferralStatus.RECEIVED)}\t{n}\t{d.isoformat()}"
            f"\t\t\t\t{batch.pk}\t{batch.uploaded_by_id}\t{n}\n"
            for p, d in deadlines.items()
        }
        source = t(ReferralSource.PLAN)
        lines = (
            f"{head}{r.cbo_id}\t{ids[r.cin]}\t{r.service_id}\t{source}\t{e(r.plan_reference)}\t{e(r.reason)}\t"
            f"{_json_codes(r.diagnosis)}{tail[r.priority]}"
            for r in rows
        )
    else:
        lines = [
            (
                batch.plan_id,
                r.cbo_id,
                ids[r.cin],
                r.service_id,
                ReferralSource.PLAN,
                r.plan_reference,
                r.reason,
                r.diagnosis,
                r.priority,
                "",
                "",
                "",
                "",
                "",
                ReferralStatus.RECEIVED,
                now,
                deadlines[r.priority],
                "",
                "",
                "",
                batch.pk,
                batch.uploaded_by_id,
                now,
            )
            for r in rows
        ]
    if postgres:
        copy_lines(Referral, REFERRAL_COLUMNS, lines)
    else:
        copy_rows(Referral, REFERRAL_COLUMNS, lines)
    return len(rows)


def _record_history(batch: ReferralImport, now: datetime) -> None:
    """One "received" history row per imported referral, in a single INSERT … SELECT."""
    history, referral = ReferralStatusChange._meta.db_table, Referral._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {history} (referral_id, from_status, to_status, actor_id, reason, created_at) "  # noqa: S608
            f"SELECT id, '', %s, %s, %s, %s FROM {referral} WHERE import_batch_id = %s",
            [
                ReferralStatus.RECEIVED,
                batch.uploaded_by_id,
                f"Imported from {batch.original_name}"[:300],
                now,
                batch.pk,
            ],
        )


def import_file(batch: ReferralImport, spool: IO[bytes]) -> None:
    """Second pass: create every clean row's referral in one transaction, in batches."""
    now = timezone.now()
    deadlines = {p: response_deadline(now, p) for p in Priority.values}
    created = skipped = done = 0
    _save(batch, status=ImportStatus.IMPORTING)
    with progress_writer(batch) as progress, transaction.atomic():
        if on_postgresql():
            # Check the foreign keys as each batch is written rather than all at commit: the
            # same checks, but a million deferred ones queued for the commit took a third
            # longer (measured at 100,000 rows). A bad key still rolls back the whole file.
            #
            # Each foreign-key check is a cached query planned once per connection. When it is
            # planned while the table looks empty (fresh statistics after a purge, an autovacuum
            # during the import), PostgreSQL picks a sequential scan and keeps it: every check
            # then reads the whole growing table (measured: 20,000 rows took 68 s instead of 5).
            # The import only ever looks rows up by key, so tell the planner to use the indexes.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("SET LOCAL enable_seqscan = off")
        for rows in _spooled(spool):
            n = _write_batch(batch, rows, deadlines=deadlines, now=now) if rows else 0
            created, skipped, done = created + n, skipped + len(rows) - n, done + BATCH
            progress(processed_rows=batch.total_rows + min(done, batch.total_rows))
        _record_history(batch, now)
        left_out = (
            f"; {count(batch.error_rows, 'bad row')} left out"
            if batch.valid_rows_only and batch.error_rows
            else ""
        )
        _save(
            batch,
            status=ImportStatus.DONE,
            created_count=created,
            skipped_count=skipped,
            processed_rows=2 * batch.total_rows,
            finished_at=timezone.now(),
            message=f"{count(created, 'referral')} created, {skipped} already imported{left_out}.",
        )
        audit.record(
            actor=batch.uploaded_by,
            action=AuditAction.CREATE,
            obj=batch,
            organization=batch.plan,
            summary=f"Imported {count(created, 'referral')} from {batch.original_name} ({skipped} already there)",
        )


def process(batch: ReferralImport) -> ReferralImport:
    """Check, then import. Safe to run again: a finished import returns at once; an interrupted
    one starts over (its transaction was rolled back)."""
    if batch.finished:
        return batch
    try:
        with tempfile.TemporaryFile() as spool:
            if validate_file(batch, spool):
                import_file(batch, spool)
    except (IntegrityError, OSError, ValueError) as exc:
        _save(
            batch,
            status=ImportStatus.FAILED,
            finished_at=timezone.now(),
            message=f"The import stopped and nothing was imported: {exc}"[:300],
        )
    except Exception as exc:
        # Whatever else stops it (a database error, a bug), the import must end FAILED with a
        # reason, never stay "importing" for ever: the import's own transaction was rolled back,
        # so nothing of the file was written. The traceback goes to the log for us.
        logger.exception("Referral import %s stopped", batch.pk)
        _save(
            batch,
            status=ImportStatus.FAILED,
            finished_at=timezone.now(),
            message=f"The import stopped and nothing was imported: {_failure_reason(exc)}"[:300],
        )
    batch.refresh_from_db()
    return batch


def _failure_reason(exc: Exception) -> str:
    """The first line of what went wrong, in words a plan's staff can pass on to support."""
    detail = (str(exc).strip().splitlines() or [""])[0]
    if isinstance(exc, DatabaseError):
        return f"the database refused the data ({detail or type(exc).__name__}). Contact support with this message."
    return f"an unexpected error ({type(exc).__name__}{': ' + detail if detail else ''}). Contact support with this message."
