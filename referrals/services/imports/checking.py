"""The first pass over a referral file: every row checked, duplicate plan references found, every
problem stored with its line and column, the clean rows spooled for the second pass."""

from __future__ import annotations

import pickle
from typing import IO

from django.db import connection
from django.utils import timezone

from cbo_portal.fastpath import (
    array_literal,
    on_postgresql,
)
from cbo_portal.words import count
from referrals.choices import ImportStatus
from referrals.models import (
    ImportRowError,
    ReferralImport,
)
from referrals.services import members as member_svc
from referrals.services.imports.reading import FileProblem, count_lines, read_rows
from referrals.services.imports.rows import CleanRow, RowChecker
from referrals.services.imports.status import save_fields

BATCH = 2000  # rows checked, spooled and written together


def _fail_file(batch: ReferralImport, problem: FileProblem) -> None:
    ImportRowError.objects.create(
        batch=batch, line=problem.line, column=problem.column, message=str(problem)[:300]
    )
    save_fields(
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
            first_line = dict(cursor.fetchall())
        return {line: first_line[ref] for line, ref in again}

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
    save_fields(batch, status=ImportStatus.VALIDATING, processed_rows=0, error_rows=0, message="")
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
        save_fields(batch, total_rows=max(count_lines(raw) - 1, 0))
        try:
            for line, row in read_rows(raw):
                rows += 1
                clean, errors = checker.check(line, row)
                ref = (row.get("plan_reference") or "").strip()
                checked.append((line, ref if len(ref) <= 40 else "", clean, errors))
                if rows % BATCH == 0:
                    flush()
                    save_fields(batch, processed_rows=rows, error_rows=bad_rows)
        except FileProblem as problem:
            flush()
            duplicates.close()
            _fail_file(batch, problem)
            return False
    flush()
    duplicates.close()
    spool.seek(0)
    save_fields(batch, total_rows=rows, processed_rows=rows, error_rows=bad_rows)
    if bad_rows and not batch.valid_rows_only:
        save_fields(
            batch,
            status=ImportStatus.INVALID,
            finished_at=timezone.now(),
            message=f"{bad_rows} of {count(rows, 'row')} {'has' if bad_rows == 1 else 'have'} problems; nothing was imported.",
        )
        return False
    return True
