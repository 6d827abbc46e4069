"""Benchmark: import a bulk referral file of ``--size`` rows into the database in DATABASE_URL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cbo_bench .venv/bin/python bench/import_referrals.py --size 100000

Target: at least 5,000 rows/s on a 2-core machine, with memory that does not grow with the file
(run --size 10000 and --size 100000 and compare the peak). Migrates the database, makes its own
plan, CBO, contract and file, prints ``<n> rows/s`` and the peak memory, then removes the
referrals, members and import it made (organizations and users stay: the audit log refers to them).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cbo_portal.settings")

import django

django.setup()

from django.core.files.base import File  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench._database import prepare_database  # noqa: E402
from cbo_portal.celery import app  # noqa: E402
from cbo_portal.choices import OnboardingStatus, OrgKind, Role  # noqa: E402
from cbo_portal.models import Membership, Organization  # noqa: E402

HEADER = "CIN,First Name,Last Name,DOB,Sex,Street,City,ZIP,Phone,County,Service,Diagnosis,Priority,Plan Reference\n"
COUNTIES = ["Los Angeles", "Orange", "San Diego", "Riverside", "Fresno", "Kern"]
SERVICES = ["S5170-U6", "T2041-U6", "G9008-U1", "H0043-U6"]


def fixtures():
    from django.contrib.auth import get_user_model

    plan, _ = Organization.objects.get_or_create(
        legal_name="Benchmark Health Plan",
        kind=OrgKind.PLAN,
        defaults={"onboarding_status": OnboardingStatus.APPROVED, "payer_id": "BENCH1"},
    )
    cbo, _ = Organization.objects.get_or_create(
        legal_name="Benchmark Community Services",
        kind=OrgKind.CBO,
        defaults={"onboarding_status": OnboardingStatus.APPROVED, "npi": "1245319599"},
    )
    user, _ = get_user_model().objects.get_or_create(
        username="bench@plan.example", defaults={"email": "bench@plan.example"}
    )
    Membership.objects.get_or_create(
        user=user, organization=plan, defaults={"role": Role.PLAN_CARE_COORDINATOR}
    )
    from contracts.models import Contract

    if not Contract.objects.filter(plan=plan, cbo=cbo).exists():
        from tests.referrals.factories import contract

        contract(
            plan,
            cbo,
            user=user,
            terms={s: {"unit": "service", "rate": "10.00", "authorization": "prior"} for s in SERVICES},
            counties=COUNTIES,
            number="BENCH-1",
        )
    return plan, cbo, user


def make_file(path: Path, size: int, run: str) -> None:
    rnd = random.Random(7)
    letters = "ACDEFGHMNTUVWXYZ"
    with path.open("w", newline="") as f:
        f.write(HEADER)
        for i in range(size):
            cin = f"8{i:07d}{letters[(i // 10_000_000) % len(letters)]}"
            f.write(
                f"{cin},Member{i},Lastname{i % 997},19{50 + i % 50}-0{1 + i % 9}-1{i % 9},{'MFU'[i % 3]},"
                f"{i} Main St,Los Angeles,900{i % 90:02d},213-555-{i % 10000:04d},{rnd.choice(COUNTIES)},"
                f"{SERVICES[i % len(SERVICES)]},Z59.0{i % 3},{'urgent' if i % 10 == 0 else 'routine'},{run}-{i}\n"
            )


def cleanup(batch, started) -> None:
    from referrals.models import Member, Referral, ReferralImport, ReferralStatusChange

    ReferralStatusChange.objects.filter(referral__import_batch=batch).delete()
    Referral.objects.filter(import_batch=batch).delete()
    Member.objects.filter(created_at__gte=started, referrals__isnull=True).delete()
    ReferralImport.objects.filter(pk=batch.pk).delete()
    batch.file.storage.delete(batch.file.name)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=100_000, help="rows in the file")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations (slower)")
    parser.add_argument("--keep", action="store_true", help="keep the imported rows")
    args = parser.parse_args()

    prepare_database()
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    plan, cbo, user = fixtures()
    from referrals.services import imports

    run = f"B{int(time.time())}"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "referrals.csv"
        make_file(path, args.size, run)
        mb = path.stat().st_size / 1048576
        print(
            f"file: {args.size} rows, {mb:.1f} MB; database: {connection.vendor} {connection.settings_dict['NAME']}"
        )
        started = timezone.now()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if args.tracemalloc:
            tracemalloc.start()
        t0 = time.perf_counter()
        with path.open("rb") as fh:
            batch, _ = imports.start_import(
                acting_user=user, plan=plan, cbo=cbo, upload=File(fh, name=path.name)
            )
        batch.refresh_from_db()
        elapsed = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] if args.tracemalloc else None
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"status: {batch.status} · {batch.message}")
    if batch.status != "done":
        print("import did not finish; first errors:", list(batch.row_errors.all()[:5]))
    print(f"{args.size / elapsed:,.0f} rows/s".replace(",", "") + f" ({args.size} rows in {elapsed:.1f} s)")
    print(
        f"peak RSS: {rss_after / 1024:.0f} MB (grew {max(rss_after - rss_before, 0) / 1024:.0f} MB during the import)"
    )
    if peak is not None:
        print(f"peak traced Python memory: {peak / 1048576:.1f} MB")
    if not args.keep:
        cleanup(batch, started)
        print("cleaned up")


if __name__ == "__main__":
    main()
