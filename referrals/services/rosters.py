"""A plan's eligibility roster (CSV): who the plan covers, as of the roster's date.

Columns (the first line names them; common other names are understood): ``cin``, ``first_name``,
``last_name``, ``dob``, ``coverage_start``, and optionally ``coverage_end`` (the last covered
day; blank: open-ended) and ``aid_code``.

Policy:

* The file is checked whole first. A bad row (its CIN, names, dates, a CIN twice, a period that
  overlaps another plan's coverage of the member) means nothing is applied; every bad row is
  reported with its line, column and reason.
* A clean file is applied in one transaction, ``BATCH`` rows at a time: a member not yet known
  is created from the row; the row's period replaces the plan's period for the member that
  overlaps it (the same start, end and aid code: unchanged), or is recorded when none does.
* A member the plan covers on the roster's date who is not on the roster is ended the day before
  that date: coverage is ended, never deleted.
* The same file (by SHA-256) is applied once per plan; the same rows in another file change
  nothing. Progress is written where the page polls it; a crash rolls the whole file back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.db import transaction
from django.db.models import Model, Q
from django.utils import timezone

from cbo_portal import access
from cbo_portal.choices import AuditAction
from cbo_portal.fastpath import among, copy_rows
from cbo_portal.models import Organization
from cbo_portal.services import audit
from referrals import rules
from referrals.choices import CoverageSource, ImportStatus, ReferralStatus
from referrals.models import Enrollment, Member, Referral, RosterImport, RosterRowError
from referrals.services.imports.reading import (
    ALIASES,
    MAX_BYTES,
    FileProblem,
    count_lines,
    read_rows,
    sha256_of,
)
from referrals.services.imports.rows import parse_date
from referrals.services.imports.status import progress_writer, save_fields
from referrals.services.members import COVERAGE_EDITORS

logger = logging.getLogger(__name__)

REQUIRED = ("cin", "first_name", "last_name", "dob", "coverage_start")
LABELS = {
    "cin": "CIN",
    "first_name": "first name",
    "last_name": "last name",
    "dob": "date of birth",
    "coverage_start": "first covered day",
}
ROSTER_ALIASES = {
    **{k: v for k, v in ALIASES.items() if v in ("cin", "first_name", "last_name", "dob")},
    **dict.fromkeys(
        (
            "eligibility_start",
            "effective_date",
            "start_date",
            "enrollment_start",
            "coverage_begin",
            "begin_date",
        ),
        "coverage_start",
    ),
    **dict.fromkeys(
        (
            "eligibility_end",
            "term_date",
            "termination_date",
            "end_date",
            "enrollment_end",
            "coverage_through",
        ),
        "coverage_end",
    ),
    "aid": "aid_code",
    "medi_cal_aid_code": "aid_code",
}
BATCH = 5000
STORED_ERRORS = 1000  # every bad row is counted; the first thousand are listed


class RosterRow(NamedTuple):
    line: int
    cin: str
    first_name: str
    last_name: str
    dob: date
    start: date
    end: date | None
    aid_code: str


def _span(start: date, end: date | None) -> str:
    return f"from {start:%b %-d, %Y}" + (f" to {end:%b %-d, %Y}" if end else ", open-ended")


def _overlaps(a_start: date, a_end: date | None, b_start: date, b_end: date | None) -> bool:
    return a_start <= (b_end or date.max) and b_start <= (a_end or date.max)


def check_row(line: int, row: dict[str, str], today: date) -> tuple[RosterRow | None, list[tuple[str, str]]]:
    """The clean row, or its (column, problem) list."""
    errors: list[tuple[str, str]] = []
    cin = (row.get("cin") or "").strip().upper()
    first, last = (row.get("first_name") or "").strip(), (row.get("last_name") or "").strip()
    dates: dict[str, date | None] = {}
    for column, label, needed in (
        ("dob", "date of birth", True),
        ("coverage_start", "first covered day", True),
        ("coverage_end", "last covered day", False),
    ):
        text = (row.get(column) or "").strip()
        dates[column] = None
        if not text:
            if needed:
                errors.append((column, f"The {label} is missing."))
            continue
        try:
            dates[column] = parse_date(text)
        except ValueError:
            errors.append((column, f"“{text}” is not a date; use YYYY-MM-DD or MM/DD/YYYY."))
    for field, problem in rules.member_problems(
        cin=cin, first_name=first, last_name=last, dob=dates["dob"], today=today
    ).items():
        errors.append((field, f"“{cin}”: {problem}" if field == "cin" and cin else problem))
    start, end = dates["coverage_start"], dates["coverage_end"]
    for column, label in (("coverage_start", "first covered day"), ("coverage_end", "last covered day")):
        day = dates[column]
        if day is not None and (implausible := rules.coverage_date_problem(day, label)):
            errors.append((column, implausible))
    if start and end and end < start:
        errors.append(("coverage_end", "The last covered day is before the first."))
    aid_code = (row.get("aid_code") or "").strip().upper()
    if len(aid_code) > 4:
        errors.append(("aid_code", f"“{aid_code}” is not an aid code (two to four letters and digits)."))
    if errors or dates["dob"] is None or start is None:
        return None, errors
    return RosterRow(line, cin, first, last, dates["dob"], start, end, aid_code), []


# ---------------------------------------------------------------- upload
@transaction.atomic
def start_roster(
    *, acting_user, plan: Organization, upload: File, roster_date: date
) -> tuple[RosterImport, bool]:
    """Store a plan's roster and queue it. The same file again returns the earlier one
    (``created`` False) and changes nothing. Only the plan's coverage editors upload rosters."""
    access.require_role(acting_user, plan, COVERAGE_EDITORS, action="upload eligibility rosters")
    if problem := rules.coverage_date_problem(roster_date, "roster date"):
        raise ValidationError({"roster_date": problem})
    size = upload.size or 0
    if size > MAX_BYTES:
        raise ValidationError(
            {"file": f"The file is {size / 1048576:.0f} MB; the most we take is {MAX_BYTES // 1048576} MB."}
        )
    sha = sha256_of(upload)
    if existing := RosterImport.objects.filter(plan=plan, sha256=sha).first():
        return existing, False
    name = (getattr(upload, "name", "") or "roster.csv").rsplit("/", 1)[-1][:255]
    roster = RosterImport(
        plan=plan, roster_date=roster_date, original_name=name, size=size, sha256=sha, uploaded_by=acting_user
    )
    roster.file.save(name, upload, save=False)
    roster.save()
    audit.record(
        actor=acting_user,
        action=AuditAction.CREATE,
        obj=roster,
        organization=plan,
        summary=f"Uploaded eligibility roster {name} as of {roster_date:%b %-d, %Y} ({size} bytes)",
    )
    from referrals.tasks import process_roster_import

    transaction.on_commit(lambda: process_roster_import.delay(roster.pk))
    return roster, True


# ---------------------------------------------------------------- processing
def process(roster: RosterImport) -> RosterImport:
    """Check the roster, then apply it. Safe to run again: a finished roster returns at once; an
    interrupted one starts over (its transaction was rolled back)."""
    if roster.finished:
        return roster
    try:
        if _check(roster):
            _apply(roster)
    except CoverageMoved as moved:
        save_fields(roster, status=ImportStatus.FAILED, finished_at=timezone.now(), message=str(moved)[:300])
    except Exception:
        logger.exception("Roster %s stopped", roster.pk)
        save_fields(
            roster,
            status=ImportStatus.FAILED,
            finished_at=timezone.now(),
            message=f"The roster stopped on an unexpected error and nothing was applied. Contact support with roster number {roster.pk}.",
        )
    roster.refresh_from_db()
    return roster


class CoverageMoved(Exception):
    """A member's coverage changed between checking the roster and applying it."""


def _rows(roster: RosterImport) -> Iterator[tuple[int, dict[str, str]]]:
    with roster.file.open("rb") as raw:
        yield from read_rows(raw, required=REQUIRED, labels=LABELS, aliases=ROSTER_ALIASES)


def _batches(
    roster: RosterImport, today: date
) -> Iterator[tuple[list[RosterRow], list[tuple[int, str, str]]]]:
    """The file's rows, checked, ``BATCH`` at a time: (clean rows, (line, column, problem)s)."""
    clean: list[RosterRow] = []
    bad: list[tuple[int, str, str]] = []
    for line, row in _rows(roster):
        checked, problems = check_row(line, row, today)
        if checked:
            clean.append(checked)
        bad.extend((line, column, message) for column, message in problems)
        if len(clean) + len(bad) >= BATCH:
            yield clean, bad
            clean, bad = [], []
    if clean or bad:
        yield clean, bad


def _check(roster: RosterImport) -> bool:
    """The first pass: every row checked; True when the roster may be applied."""
    with roster.file.open("rb") as raw:
        total = max(count_lines(raw) - 1, 0)
    save_fields(roster, status=ImportStatus.VALIDATING, total_rows=total, processed_rows=0)
    today = timezone.localdate()
    seen: dict[str, int] = {}
    problems: list[tuple[int, str, str]] = []
    done = 0
    try:
        with progress_writer(roster) as progress:
            for clean, bad in _batches(roster, today):
                problems.extend(bad)
                for row in clean:
                    if row.cin in seen:
                        problems.append(
                            (
                                row.line,
                                "cin",
                                f"{row.cin} is on line {seen[row.cin]} too; a member is listed once.",
                            )
                        )
                    else:
                        seen[row.cin] = row.line
                problems.extend(_clashes(roster, clean))
                done += len(clean) + len({line for line, _, _ in bad})
                progress(processed_rows=min(done, total))
    except FileProblem as problem:
        problems = [(problem.line or 1, problem.column, str(problem))]
    if not problems:
        return True
    lines = {line for line, _, _ in problems}
    RosterRowError.objects.bulk_create(
        [
            RosterRowError(roster=roster, line=line, column=column, message=message[:300])
            for line, column, message in sorted(problems)[:STORED_ERRORS]
        ]
    )
    save_fields(
        roster,
        status=ImportStatus.INVALID,
        error_rows=len(lines),
        finished_at=timezone.now(),
        message=f"{len(lines)} {'row needs' if len(lines) == 1 else 'rows need'} fixing; nothing was applied.",
    )
    return False


def _clashes(roster: RosterImport, rows: list[RosterRow]) -> list[tuple[int, str, str]]:
    """Rows the roster may not apply, with why:

    * a period overlapping another plan's coverage of the member (one plan on any day); a plan
      that does not have the member is not told which plan or when;
    * a member the plan does not have yet (``members.plan_reaches``) with a period that ended
      before the roster's date: a roster starts a new member's coverage, it cannot open a member
      another plan had by back-dating a period;
    * a period overlapping more than one of the plan's own periods of the member (a row stands
      for one period)."""
    if not rows:
        return []
    ids = dict(Member.objects.filter(among("cin", [r.cin for r in rows])).values_list("cin", "pk"))
    if not ids:
        return []
    plan_id = roster.plan_id
    periods: dict[int, list[tuple[int, str, date, date | None]]] = {}
    for member_id, other_id, plan_name, start, end in Enrollment.objects.filter(
        among("member_id", list(ids.values()))
    ).values_list("member_id", "plan_id", "plan__legal_name", "start_date", "end_date"):
        periods.setdefault(member_id, []).append((other_id, plan_name, start, end))
    reached = {m for m, rows_ in periods.items() if any(p[0] == plan_id for p in rows_)}
    reached |= set(
        Referral.objects.filter(among("member_id", list(ids.values())), plan_id=plan_id)
        .exclude(status=ReferralStatus.PENDING_REVIEW)
        .values_list("member_id", flat=True)
    )
    problems = []
    for row in rows:
        member_id = ids.get(row.cin)
        if member_id is None:
            continue
        mine = member_id in reached
        overlapping = [p for p in periods.get(member_id, ()) if _overlaps(row.start, row.end, p[2], p[3])]
        others = [p for p in overlapping if p[0] != plan_id]
        own = [p for p in overlapping if p[0] == plan_id]
        if not mine and (row.end or date.max) < roster.roster_date:
            problem = (
                f"{row.cin} is not yet your member: a roster records their coverage from its date, "
                f"{roster.roster_date:%b %-d, %Y}, on, not before."
            )
        elif others and mine:
            _, name, start, end = others[0]
            problem = f"{row.cin} is covered by {name} {_span(start, end)}; a member has one plan on any day."
        elif others:
            problem = (
                f"{row.cin} is covered by another plan on these dates; a member has one plan on any day."
            )
        elif len(own) > 1:
            spans = " and ".join(_span(p[2], p[3]) for p in own)
            problem = (
                f"The period overlaps {len(own)} of your periods for {row.cin} ({spans}); a roster row "
                "stands for one period. Change or end them on the member's page first."
            )
        else:
            continue
        problems.append((row.line, "coverage_start", problem))
    return problems


def _apply(roster: RosterImport) -> None:
    """The second pass, in one transaction: members created, periods recorded or changed, the
    members missing from the roster ended."""
    save_fields(roster, status=ImportStatus.IMPORTING, processed_rows=roster.total_rows)
    totals = dict.fromkeys(("added", "changed", "unchanged", "members_created"), 0)
    on_roster: list[int] = []
    with transaction.atomic(), progress_writer(roster) as progress:
        done = 0
        for clean, _ in _batches(roster, timezone.localdate()):
            for key, n in _apply_batch(roster, clean, on_roster).items():
                totals[key] += n
            done += len(clean)
            progress(processed_rows=roster.total_rows + done)
        ended = _end_missing(roster, on_roster)
        save_fields(
            roster, status=ImportStatus.DONE, finished_at=timezone.now(), ended=ended, message="", **totals
        )
        audit.record(
            actor=roster.uploaded_by,
            action=AuditAction.UPDATE,
            obj=roster,
            organization=roster.plan,
            summary=f"Applied eligibility roster {roster.original_name}: {totals['added']} periods recorded, "
            f"{totals['changed']} changed, {ended} ended, {totals['unchanged']} unchanged, "
            f"{totals['members_created']} members new",
        )


def _apply_batch(roster: RosterImport, rows: list[RosterRow], on_roster: list[int]) -> dict[str, int]:
    """One batch: the members locked and the rows checked again against coverage as it is now
    (another plan may have saved since the check), then written, each period audited."""
    ids = dict(
        Member.objects.select_for_update()
        .filter(among("cin", [r.cin for r in rows]))
        .values_list("cin", "pk")
    )
    if moved := _clashes(roster, rows):
        line, _, problem = moved[0]
        raise CoverageMoved(
            f"Coverage changed while the roster was being checked (line {line}: {problem}) "
            "Nothing was applied; upload the roster again."
        )
    new = [r for r in rows if r.cin not in ids]
    if new:
        created = copy_rows(
            Member,
            ("cin", "first_name", "last_name", "dob"),
            [(r.cin, r.first_name, r.last_name, r.dob) for r in new],
            return_ids=True,
        )
        ids.update(zip((r.cin for r in new), created, strict=True))
    periods: dict[int, list[Enrollment]] = {}
    for period in Enrollment.objects.filter(
        among("member_id", list(ids.values())), plan_id=roster.plan_id
    ).order_by("start_date"):
        periods.setdefault(period.member_id, []).append(period)
    now = timezone.now()
    inserts, updates, unchanged = [], [], 0
    added: list[str] = []
    changed: list[tuple[Model, str, dict[str, Any]]] = []
    for row in rows:
        member_id = ids[row.cin]
        on_roster.append(member_id)
        match = next(
            (
                p
                for p in periods.get(member_id, ())
                if _overlaps(row.start, row.end, p.start_date, p.end_date)
            ),
            None,
        )
        if match is None:
            added.append(
                f"Coverage of {row.cin} {_span(row.start, row.end)} from roster {roster.original_name}"
            )
            inserts.append(
                (
                    member_id,
                    roster.plan_id,
                    row.start,
                    row.end,
                    row.aid_code,
                    CoverageSource.ROSTER,
                    roster.uploaded_by_id,
                )
            )
        elif (match.start_date, match.end_date, match.aid_code) == (row.start, row.end, row.aid_code):
            unchanged += 1
        else:
            changes = {
                name: [audit.jsonable(before), audit.jsonable(after)]
                for name, before, after in (
                    ("start_date", match.start_date, row.start),
                    ("end_date", match.end_date, row.end),
                    ("aid_code", match.aid_code, row.aid_code),
                )
                if before != after
            }
            changed.append(
                (
                    match,
                    f"Changed coverage of {row.cin}: now {_span(row.start, row.end)} (roster {roster.original_name})",
                    changes,
                )
            )
            match.start_date, match.end_date, match.aid_code = row.start, row.end, row.aid_code
            match.source, match.updated_at, match.recorded_by_id = (
                CoverageSource.ROSTER,
                now,
                roster.uploaded_by_id,
            )
            updates.append(match)
    new_ids = copy_rows(
        Enrollment,
        ("member_id", "plan_id", "start_date", "end_date", "aid_code", "source", "recorded_by_id"),
        inserts,
        return_ids=True,
    )
    Enrollment.objects.bulk_update(
        updates,
        ["start_date", "end_date", "aid_code", "source", "updated_at", "recorded_by"],
        batch_size=1000,
    )
    recorded: list[tuple[Model, str, dict[str, Any]]] = [
        (Enrollment(pk=pk), summary, {}) for pk, summary in zip(new_ids, added, strict=True)
    ]
    for action, entries in ((AuditAction.CREATE, recorded), (AuditAction.UPDATE, changed)):
        audit.record_many(
            actor=roster.uploaded_by, action=action, organization_id=roster.plan_id, entries=entries
        )
    return {
        "added": len(inserts),
        "changed": len(updates),
        "unchanged": unchanged,
        "members_created": len(new),
    }


def _end_missing(roster: RosterImport, on_roster: list[int]) -> int:
    """The plan's periods covering the roster's date whose member is not on the roster end the day
    before it (the last covered day)."""
    covering = (
        Enrollment.objects.filter(plan_id=roster.plan_id, start_date__lt=roster.roster_date)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=roster.roster_date))
        .exclude(among("member_id", on_roster))
    )
    ending = list(covering.values_list("pk", "member__cin", "end_date"))
    covering.update(
        end_date=roster.last_day_of_the_missing,
        source=CoverageSource.ROSTER,
        updated_at=timezone.now(),
        recorded_by=roster.uploaded_by_id,
    )
    last = roster.last_day_of_the_missing
    audit.record_many(
        actor=roster.uploaded_by,
        action=AuditAction.UPDATE,
        organization_id=roster.plan_id,
        entries=[
            (
                Enrollment(pk=pk),
                f"Ended coverage of {cin} on {last:%b %-d, %Y}: not on roster {roster.original_name}",
                {"end_date": [audit.jsonable(end), audit.jsonable(last)]},
            )
            for pk, cin, end in ending
        ],
    )
    return len(ending)
