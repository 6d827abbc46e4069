"""Benchmark: build + scrub + export ``--size`` claims from PostgreSQL to 837P files, on real
Celery workers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cbo_bench REDIS_URL=redis://127.0.0.1:6379/14 \
        .venv/bin/python bench/export_claims.py --size 100000

Targets on a 2-core machine (PostgreSQL on the same cores): workers=2 at least 5,500 claims/s end
to end and at least 1.1 × workers=1; peak memory under 500 MB summed over the processes.

Migrates the database, makes its own plan, CBO and contract, ``size / 2`` members each with two
months of services (1.5 deliveries per claim on average, ~1.5 × size deliveries, bulk-inserted,
not timed). Then, for each ``--workers`` count, it starts that many Celery worker processes
(``celery worker --pool=solo``, as a deployment would, on a queue of its own on REDIS_URL) and
times the nightly build as the beat starts it (``billing.tasks.build_run``): the shard tasks
(grouping, pricing, scrubbing, numbering, COPY, marking the deliveries billed, ready claims
straight into the batch), the chord's callback, and the 837P file written by a
``process_batch`` task, until every batch is written. Prints ``workers=<n>: <n> claims/s``, the
shards each worker took and how long they took, the peak resident memory of the bench and its
workers together, and the time of a plain ``COPY`` of the same claim lines (joined to claims and
members) with the ratio. Between runs the claims are removed and the services made billable
again. Removes what it made afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cbo_portal.settings")
os.environ.setdefault("MEDIA_ROOT", tempfile.mkdtemp(prefix="bench-media-"))

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench._database import prepare_database  # noqa: E402
from cbo_portal.celery import app  # noqa: E402
from cbo_portal.choices import OnboardingStatus, OrgKind  # noqa: E402
from cbo_portal.models import County, Organization  # noqa: E402

# Bench members look like real ones (CIN 97nnnnnnA: 9-prefixed, so the scrubber has nothing to
# say about them and clean claims are measured); cleanup finds them by their enrollment in the
# benchmark plan, which only this script uses.
CIN_PREFIX = "97"


def fixtures():
    from django.contrib.auth import get_user_model

    from contracts.models import Contract
    from tests.referrals.factories import contract

    plan, _ = Organization.objects.update_or_create(
        legal_name="Benchmark Health Plan",
        kind=OrgKind.PLAN,
        defaults={"onboarding_status": OnboardingStatus.APPROVED, "payer_id": "BENCH1"},
    )
    cbo, _ = Organization.objects.update_or_create(
        legal_name="Benchmark Claims Collective",
        kind=OrgKind.CBO,
        defaults={
            "onboarding_status": OnboardingStatus.APPROVED,
            "npi": "1245319599",
            "tin": "951234567",
            "taxonomy_code": "251S00000X",
            "service_street": "100 Main St",
            "service_city": "Los Angeles",
            "service_zip": "90012-1234",
            "contact_name": "Bench Biller",
            "phone": "2135550100",
        },
    )
    user, _ = get_user_model().objects.get_or_create(
        username="bench@claims.example", defaults={"email": "bench@claims.example"}
    )
    if not Contract.objects.filter(plan=plan, cbo=cbo).exists():
        terms = {
            "H0043-U6": {"unit": "day", "rate": "95.00", "authorization": "none"},
            "S5170-U6": {"unit": "meal", "rate": "12.50", "authorization": "none", "units_per_day": 2},
        }
        c = contract(plan, cbo, user=user, terms=terms, counties=["Los Angeles"], number="BENCH-CLAIMS-1")
        Contract.objects.filter(pk=c.pk).update(
            payer_id="BENCH1", receiver_id="BENCHRCV", submitter_id="BENCHSUB"
        )
    return plan, cbo, user


def reset_billing(cbo: Organization) -> None:
    """Remove the CBO's claims and batches and make its services billable again."""
    with connection.cursor() as cur:
        cur.execute(
            "DELETE FROM billing_claimstatuschange WHERE claim_id IN (SELECT id FROM billing_claim WHERE billing_provider_id = %s)",
            [cbo.pk],
        )
        cur.execute(
            "DELETE FROM billing_claimline WHERE claim_id IN (SELECT id FROM billing_claim WHERE billing_provider_id = %s)",
            [cbo.pk],
        )
        cur.execute("DELETE FROM billing_claim WHERE billing_provider_id = %s", [cbo.pk])
        cur.execute(
            "DELETE FROM billing_batchstatuschange WHERE batch_id IN (SELECT id FROM billing_batch WHERE submitter_id = %s)",
            [cbo.pk],
        )
        cur.execute("DELETE FROM billing_batch WHERE submitter_id = %s", [cbo.pk])
        # billing_claim.referral_id has no index (nothing reads claims by referral and referrals
        # are never deleted in the app), so each referral deleted below checks billing_claim by
        # a scan: vacuum the emptied billing tables first so that scan reads no dead rows
        # (autovacuum may be off or behind).
        for table in ("billing_claimstatuschange", "billing_claimline", "billing_claim"):
            cur.execute(f"VACUUM {table}")
        cur.execute("UPDATE referrals_servicedelivery SET billed_at = NULL WHERE cbo_id = %s", [cbo.pk])
        cur.execute("VACUUM ANALYZE referrals_servicedelivery")


def cleanup(plan: Organization, cbo: Organization) -> None:
    reset_billing(cbo)
    with connection.cursor() as cur:
        cur.execute("DELETE FROM referrals_servicedelivery WHERE cbo_id = %s", [cbo.pk])
        # referrals_referral's self-reference (handed_off_from) has no index, so each deleted
        # referral would scan the whole table for rows pointing at it (minutes for 50,000):
        # index such columns for the duration of the delete.
        cur.execute(
            "SELECT a.attname FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid "
            "AND a.attnum = c.conkey[1] WHERE c.contype = 'f' AND c.conrelid = 'referrals_referral'::regclass "
            "AND c.confrelid = 'referrals_referral'::regclass"
        )
        temp = [(f"bench_tmp_referral_{n}", column) for n, (column,) in enumerate(cur.fetchall())]
        for name, column in temp:
            cur.execute(f'CREATE INDEX IF NOT EXISTS {name} ON referrals_referral ("{column}")')
        cur.execute("DELETE FROM referrals_referral WHERE cbo_id = %s", [cbo.pk])
        for name, _column in temp:
            cur.execute(f"DROP INDEX IF EXISTS {name}")
        cur.execute(
            "CREATE TEMP TABLE bench_members AS SELECT DISTINCT member_id FROM referrals_enrollment WHERE plan_id = %s",
            [plan.pk],
        )
        cur.execute(
            "DELETE FROM referrals_enrollment WHERE member_id IN (SELECT member_id FROM bench_members)"
        )
        cur.execute("DELETE FROM referrals_member WHERE id IN (SELECT member_id FROM bench_members)")
        cur.execute("DROP TABLE bench_members")


def make_data(size: int, plan: Organization, cbo: Organization, user) -> int:
    """``size / 2`` members, two months each; per member-month one or two deliveries."""
    from contracts.models import ServiceCatalogEntry
    from referrals.models import Enrollment, Member, Referral, ServiceDelivery

    county = County.objects.get(name="Los Angeles")
    members_n = size // 2
    made = Member.objects.bulk_create(
        [
            Member(
                cin=f"{CIN_PREFIX}{i:06d}A",
                first_name=f"Ana{i % 97}",
                last_name=f"Reyes{i % 991}",
                dob=date(1960 + i % 40, 1 + i % 12, 1 + i % 28),
                sex="FM"[i % 2],
                street=f"{i} Main St",
                city="Los Angeles",
                zip="90012",
                county=county,
            )
            for i in range(members_n)
        ],
        batch_size=5000,
    )
    ids = [m.pk for m in made]
    Enrollment.objects.bulk_create(
        [Enrollment(member_id=m, plan=plan, start_date=date(2020, 1, 1)) for m in ids], batch_size=5000
    )
    service = ServiceCatalogEntry.lookup("H0043", ["U6"])
    meals = ServiceCatalogEntry.lookup("S5170", ["U6"])
    now = timezone.now()
    Referral.objects.bulk_create(
        [
            Referral(
                plan=plan,
                cbo=cbo,
                member_id=m,
                service=service,
                diagnosis_codes=["Z59.01", "Z59.41"],
                status="accepted",
                created_at=now,
            )
            for m in ids
        ],
        batch_size=5000,
    )
    refs = dict(Referral.objects.filter(cbo=cbo).values_list("member_id", "pk"))
    first = timezone.localdate().replace(day=1)
    months = [
        (first - timedelta(days=1)).replace(day=1),
        ((first - timedelta(days=1)).replace(day=1) - timedelta(days=1)).replace(day=1),
    ]
    rows = []
    for n, m in enumerate(ids):
        for k, month in enumerate(months):
            rows.append(
                ServiceDelivery(
                    member_id=m,
                    cbo=cbo,
                    plan=plan,
                    referral_id=refs[m],
                    service=service,
                    service_date=month + timedelta(days=2),
                    units=Decimal(1),
                    place_of_service="12",
                    staff=user,
                    created_by=user,
                )
            )
            if (n + k) % 2 == 0:
                rows.append(
                    ServiceDelivery(
                        member_id=m,
                        cbo=cbo,
                        plan=plan,
                        referral_id=refs[m],
                        service=meals,
                        service_date=month + timedelta(days=9),
                        units=Decimal(2),
                        place_of_service="12",
                        staff=user,
                        created_by=user,
                    )
                )
        if len(rows) >= 20000:
            ServiceDelivery.objects.bulk_create(rows, batch_size=5000)
            rows = []
    ServiceDelivery.objects.bulk_create(rows, batch_size=5000)
    return ServiceDelivery.objects.filter(cbo=cbo).count()


class PeakMemory:
    """The largest resident memory of this process plus its child processes (the Celery
    workers), sampled every 50 ms on a thread until ``stop``."""

    def __init__(self) -> None:
        self.peak = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.wait(0.05):
            self.peak = max(self.peak, sum(_rss(pid) for pid in [os.getpid(), *_children(os.getpid())]))

    def stop(self) -> float:
        self.done.set()
        self.thread.join()
        return self.peak / 1024


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _rss(pid: int) -> int:
    """VmRSS in kB (0 for a process that just ended)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def plain_copy(cbo: Organization) -> float:
    """Time a plain COPY of the claim lines with their claims and members (what the 837 carries)."""
    sql = (
        "COPY (SELECT c.control_number, c.place_of_service, c.diagnosis_codes, c.frequency, m.cin, m.last_name, "
        "m.first_name, m.dob, m.sex, m.street, m.city, m.zip, l.procedure_code, l.modifiers, l.charge, l.units, "
        "l.service_date, l.end_date, l.diagnosis_pointers, l.line_control_number FROM billing_claimline l "
        "JOIN billing_claim c ON c.id = l.claim_id JOIN referrals_member m ON m.id = c.member_id "
        f"WHERE c.billing_provider_id = {int(cbo.pk)} ORDER BY c.member_id, c.id, l.line_number) TO STDOUT"
    )
    start = time.perf_counter()
    with connection.cursor() as cur, cur.cursor.copy(sql) as copy, open(os.devnull, "wb") as sink:
        for block in copy:
            sink.write(block)
    return time.perf_counter() - start


def start_workers(count: int, queue: str) -> list[subprocess.Popen]:
    """``count`` Celery worker processes on ``queue``, started as a deployment starts them; returns
    once each answers a ping."""
    env = {**os.environ, "CELERY_TASK_ALWAYS_EAGER": "false", "CELERY_QUEUE": queue}
    names = [f"bench{n}-{queue}@%h" for n in range(count)]
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "cbo_portal",
                "worker",
                "--pool=solo",
                "-n",
                name,
                "-Q",
                queue,
                "--loglevel=WARNING",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
            ],
            env=env,
            cwd=Path(__file__).resolve().parent.parent,
        )
        for name in names
    ]
    deadline = time.monotonic() + 120
    want = {name.split("@")[0] for name in names}
    while time.monotonic() < deadline:
        answered = {name.split("@")[0] for reply in app.control.ping(timeout=0.5) for name in reply}
        if want <= answered:
            return workers
    stop_workers(workers)
    sys.exit("the workers did not start")


def stop_workers(workers: list[subprocess.Popen]) -> None:
    for proc in workers:
        proc.terminate()
    for proc in workers:
        proc.wait(30)


def timed_run(workers_n: int, cbo: Organization, shards: int) -> dict:
    """One nightly build on ``workers_n`` fresh workers, until every batch is written."""
    from billing.choices import BatchStatus
    from billing.models import Batch
    from billing.tasks import build_run

    queue = f"bench-{uuid.uuid4().hex[:8]}"
    app.conf.task_default_queue = queue
    workers = start_workers(workers_n, queue)
    try:
        memory = PeakMemory()
        start = time.perf_counter()
        summary = build_run(shards=shards).result.get(timeout=3600)
        built = time.perf_counter()
        batches = Batch.objects.filter(submitter=cbo)
        while batches.filter(status=BatchStatus.BUILDING).exists() or not batches.exists():
            time.sleep(0.05)
        end = time.perf_counter()
        peak = memory.stop()
    finally:
        stop_workers(workers)
    files = list(batches)
    failed = [b.error for b in files if b.status != BatchStatus.READY]
    if failed:
        sys.exit(f"a batch failed: {failed[0]}")
    return {
        "summary": summary,
        "build_s": built - start,
        "write_s": end - built,
        "elapsed": end - start,
        "peak_mb": peak,
        "files": files,
    }


def setup(size: int) -> None:
    """Migrate, make the fixtures, remove an earlier run's data and make ``size`` claims' worth of
    services (not timed)."""
    prepare_database()
    plan, cbo, user = fixtures()
    cleanup(plan, cbo)
    t0 = time.perf_counter()
    deliveries = make_data(size, plan, cbo, user)
    # Fresh planner statistics and a visibility map for the rows just loaded (what autovacuum
    # gives a live database long before its nightly billing run).
    with connection.cursor() as cur:
        for table in (
            "referrals_servicedelivery",
            "referrals_member",
            "referrals_referral",
            "referrals_enrollment",
        ):
            cur.execute(f"VACUUM ANALYZE {table}")
    print(f"setup: {deliveries} deliveries for {size // 2} members in {time.perf_counter() - t0:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="claims to build and export")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="worker processes, one run each"
    )
    parser.add_argument(
        "--shards", type=int, default=settings.BILLING_BUILD_SHARDS, help="shards of the build"
    )
    parser.add_argument("--keep", action="store_true", help="keep the data afterwards")
    parser.add_argument("--setup-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database.")
    if not settings.REDIS_URL:
        sys.exit("Set REDIS_URL to the Redis the workers share (a database number of the bench's own).")
    app.conf.task_always_eager = False
    if args.setup_only:
        setup(args.size)
        return
    # The data is made by a process of its own, so that this one (whose memory counts in the
    # peak) never holds the 150,000 model instances bulk_create needs.
    subprocess.run([sys.executable, __file__, "--size", str(args.size), "--setup-only"], check=True)
    plan, cbo, _user = fixtures()
    connection.close()  # the workers are the ones working
    lines = 0
    for n, workers_n in enumerate(args.workers):
        if n:
            reset_billing(cbo)
            connection.close()
        run = timed_run(workers_n, cbo, args.shards)
        summary, claims = run["summary"], run["summary"]["claims"]
        by_worker = Counter(s["worker"].split("@")[0] for s in summary["shards"])
        seconds = sorted(s["seconds"] for s in summary["shards"])
        size_mb = sum(b.file.size for b in run["files"]) / 1e6
        lines = sum(s["lines"] for s in summary["shards"])
        print(
            f"workers={workers_n}: {claims / run['elapsed']:,.0f} claims/s end to end ({run['elapsed']:.1f} s: "
            f"{claims} claims, {lines} lines; {summary['ready']} ready, {summary['held']} held; shards built in "
            f"{run['build_s']:.1f} s, {len(run['files'])} 837P file(s) of {size_mb:.1f} MB written in "
            f"{run['write_s']:.1f} s)"
        )
        print(
            f"  shards per worker: {dict(sorted(by_worker.items()))}; seconds per shard: "
            f"{', '.join(f'{t:.1f}' for t in seconds)}"
        )
        print(
            f"  peak memory {run['peak_mb']:.0f} MB (resident, the bench and its workers summed, every 50 ms)"
        )
    copy_s = plain_copy(cbo)
    print(f"plain COPY of the same {lines} lines: {copy_s:.2f} s")
    if not args.keep:
        reset_billing(cbo)
        cleanup(plan, cbo)


if __name__ == "__main__":
    main()
