"""The referral CSV file: its columns and their aliases, its rows streamed as text, and what makes
a whole file unusable (``FileProblem``)."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterator
from typing import IO

from django.core.files.base import File

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


class FileProblem(Exception):
    """The whole file is unusable (empty, not UTF-8, missing columns)."""

    def __init__(self, message: str, *, line: int = 0, column: str = "") -> None:
        super().__init__(message)
        self.line, self.column = line, column


def normalize_header(name: str, aliases: dict[str, str] = ALIASES) -> str:
    key = re.sub(r"[^a-z0-9]+", "_", (name or "").strip().lower()).strip("_")
    return aliases.get(key, key)


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


def read_rows(
    raw: IO[bytes],
    *,
    required: tuple[str, ...] = REQUIRED,
    labels: dict[str, str] = LABELS,
    aliases: dict[str, str] = ALIASES,
) -> Iterator[tuple[int, dict[str, str]]]:
    """Stream (line number, row by normalized column) from a UTF-8 CSV, checking that the header
    names the ``required`` columns (by their names or ``aliases``; a referral file by default)."""
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
        names = [normalize_header(h, aliases) for h in header]
        missing = [c for c in required if c not in names]
        if missing:
            raise FileProblem(
                "Missing column"
                + ("s " if len(missing) > 1 else " ")
                + ", ".join(f"“{c}” ({labels[c]})" for c in missing)
                + ". The first line must name the columns: "
                + ", ".join(required)
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


def sha256_of(upload: File) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()
