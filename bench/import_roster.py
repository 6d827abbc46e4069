"""Benchmark: apply a plan's eligibility roster (CSV) of ``--size`` members, twice.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cbo_bench .venv/bin/python bench/import_roster.py --size 100000

Target: at least 5,000 members/s on a 2-core machine, with memory that does not grow with the
file (compare the peak of --size 10000 and --size 100000). The first roster is all new members;
the second, a month later, changes one member in ten (a new end date and aid code), drops one in
twenty and adds one in twenty, so it times the change and drop-off paths too. Prints
``<n> members/s`` and the peak memory for each, then removes what it made.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cbo_portal.settings")

import django

django.setup()

from django.core.files.base import File  # noqa: E402
from django.db import connection  # noqa: E402

from bench._database import prepare_database  # noqa: E402
from cbo_portal.celery import app  # noqa: E402
from cbo_portal.choices import OnboardingStatus, OrgKind, Role  # noqa: E402
from cbo_portal.models import Membership, Organization  # noqa: E402

HEADER = "CIN,First Name,Last Name,DOB,Coverage Start,Coverage End,Aid Code\n"
CIN_PREFIX = "7"


def fixtures():
    from django.contrib.auth import get_user_model

    plan, _ = Organization.objects.get_or_create(
        legal_name="Benchmark Roster Plan",
        kind=OrgKind.PLAN,
        defaults={"onboarding_status": OnboardingStatus.APPROVED, "payer_id": "BROSTER"},
    )
    user, _ = get_user_model().objects.get_or_create(
        username="roster@plan.example", defaults={"email": "roster@plan.example"}
    )
    Membership.objects.get_or_create(user=user, organization=plan, defaults={"role": Role.PLAN_ADMIN})
    return plan, user


def cin(i: int) -> str:
    return f"{CIN_PREFIX}{i:07d}R"


def make_file(path: Path, size: int, month: int) -> None:
    """Month 0: members 0..size-1 covered from Jan 1. Month 1: every 20th dropped, every 10th
    changed, ``size // 20`` new members."""
    with path.open("w", newline="") as f:
        f.write(HEADER)
        for i in range(size + (size // 20 if month else 0)):
            if month and i < size and i % 20 == 0:
                continue
            end, aid = ("2027-06-30", "3A") if month and i % 10 == 5 else ("", "1H")
            start = "2026-12-01" if i >= size else "2026-01-01"
            f.write(
                f"{cin(i)},Member{i},Roster{i % 997},19{50 + i % 50}-0{1 + i % 9}-1{i % 9},{start},{end},{aid}\n"
            )


def run(plan, user, path: Path, roster_date: date):
    from referrals.services import rosters

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    with path.open("rb") as fh:
        roster, _ = rosters.start_roster(
            acting_user=user, plan=plan, upload=File(fh, name=path.name), roster_date=roster_date
        )
    roster.refresh_from_db()
    elapsed = time.perf_counter() - t0
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return roster, elapsed, rss_before, rss_after


def cleanup(plan) -> None:
    from referrals.models import Enrollment, Member, RosterImport

    Enrollment.objects.filter(plan=plan).delete()
    Member.objects.filter(cin__startswith=CIN_PREFIX, cin__endswith="R").delete()
    for roster in RosterImport.objects.filter(plan=plan):
        roster.file.storage.delete(roster.file.name)
        roster.delete()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=100_000, help="members on the roster")
    args = parser.parse_args()
    prepare_database()
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    plan, user = fixtures()
    cleanup(plan)
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for month, day in ((0, date(2026, 11, 1)), (1, date(2026, 12, 1))):
                path = Path(tmp) / f"roster-{month}.csv"
                make_file(path, args.size, month)
                roster, elapsed, before, after = run(plan, user, path, day)
                rows = roster.total_rows
                print(
                    f"roster {month + 1}: {roster.status} · {rows} rows, {roster.added} recorded, "
                    f"{roster.changed} changed, {roster.ended} ended, {roster.unchanged} unchanged"
                    + (f" · {roster.message}" if roster.message else "")
                )
                print(f"  {rows / elapsed:.0f} members/s ({rows} in {elapsed:.1f} s)")
                print(f"  peak RSS: {after / 1024:.0f} MB (grew {max(after - before, 0) / 1024:.0f} MB)")
    finally:
        cleanup(plan)
        print("cleaned up")


if __name__ == "__main__":
    main()
