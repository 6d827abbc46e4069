"""Benchmark: build + scrub + export ``--size`` claims from PostgreSQL to one 837P file.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cbo_bench .venv/bin/python bench/export_claims.py --size 100000

Target: at least 5,000 claims/s end to end on a 2-core machine, peak memory under 500 MB.
Migrates the database, makes its own plan, CBO and contract, ``size / 2`` members each with two
months of services (1.5 deliveries per claim on average, ~1.5 × size deliveries, bulk-inserted,
not timed), then times: build (grouping, pricing with the RateBook, numbering, bulk insert,
marking deliveries billed, ready claims straight into a batch as the nightly run does, the
members split among ``BILLING_PROCESSES`` processes) + scrub (in memory, inside the build) +
837P export (streamed to storage, its transaction sets written by as many processes). Prints
``<n> claims/s``, the peak RSS (``PeakMemory``), and the time of a
plain ``COPY`` of the same claim lines (joined to claims and members) with the ratio. Bench
members have real-looking CINs, so the claims are clean (each warning would be stored on its
claim). Removes what it made afterwards.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cbo_portal.settings")
os.environ.setdefault("MEDIA_ROOT", tempfile.mkdtemp(prefix="bench-media-"))

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench._database import prepare_database  # noqa: E402
from billing.services import forks  # noqa: E402
from cbo_portal.choices import OnboardingStatus, OrgKind  # noqa: E402
from cbo_portal.models import County, Organization  # noqa: E402

# Bench members look like real ones (CIN 97nnnnnnA: 9-prefixed, so the scrubber has nothing to
# say about them and clean claims are measured); cleanup finds them by their enrollment in the
# benchmark plan, which only this script uses.
CIN_PREFIX = "97"


def fixtures():  # noqa: ANN201
    from django.contrib.auth import get_user_model

    from contracts.models import Contract
    from tests.referrals.factories import contract

    plan, _ = Organization.objects.update_or_create(
        legal_name="Benchmark Health Plan", kind=OrgKind.PLAN,
        defaults={"onboarding_status": OnboardingStatus.APPROVED, "payer_id": "BENCH1"},
    )  # fmt: skip
    cbo, _ = Organization.objects.update_or_create(
        legal_name="Benchmark Claims Collective", kind=OrgKind.CBO,
        defaults={"onboarding_status": OnboardingStatus.APPROVED, "npi": "1245319599", "tin": "951234567",
                  "taxonomy_code": "251S00000X", "service_street": "100 Main St", "service_city": "Los Angeles",
                  "service_zip": "90012-1234", "contact_name": "Bench Biller", "phone": "2135550100"},
    )  # fmt: skip
    user, _ = get_user_model().objects.get_or_create(username="bench@claims.example",
                                                     defaults={"email": "bench@claims.example"})  # fmt: skip
    if not Contract.objects.filter(plan=plan, cbo=cbo).exists():
        terms = {"H0043-U6": {"unit": "day", "rate": "95.00", "authorization": "none"},
                 "S5170-U6": {"unit": "meal", "rate": "12.50", "authorization": "none", "units_per_day": 2}}  # fmt: skip
        c = contract(plan, cbo, user=user, terms=terms, counties=["Los Angeles"], number="BENCH-CLAIMS-1")
        Contract.objects.filter(pk=c.pk).update(
            payer_id="BENCH1", receiver_id="BENCHRCV", submitter_id="BENCHSUB"
        )
    return plan, cbo, user


def cleanup(plan: Organization, cbo: Organization) -> None:
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
    # fmt: skip


def make_data(size: int, plan: Organization, cbo: Organization, user) -> int:  # noqa: ANN001
    """``size / 2`` members, two months each; per member-month one or two deliveries."""
    from contracts.models import ServiceCatalogEntry
    from referrals.models import Enrollment, Member, Referral, ServiceDelivery

    county = County.objects.get(name="Los Angeles")
    members_n = size // 2
    made = Member.objects.bulk_create(
        [Member(cin=f"{CIN_PREFIX}{i:06d}A", first_name=f"Ana{i % 97}", last_name=f"Reyes{i % 991}", dob=date(1960 + i % 40, 1 + i % 12, 1 + i % 28),
                sex="FM"[i % 2], street=f"{i} Main St", city="Los Angeles", zip="90012", county=county)
         for i in range(members_n)], batch_size=5000,
    )  # fmt: skip
    ids = [m.pk for m in made]
    Enrollment.objects.bulk_create(
        [Enrollment(member_id=m, plan=plan, start_date=date(2020, 1, 1)) for m in ids], batch_size=5000
    )
    service = ServiceCatalogEntry.lookup("H0043", ["U6"])
    meals = ServiceCatalogEntry.lookup("S5170", ["U6"])
    now = timezone.now()
    Referral.objects.bulk_create(
        [Referral(plan=plan, cbo=cbo, member_id=m, service=service, diagnosis_codes=["Z59.01", "Z59.41"],
                  status="accepted", created_at=now) for m in ids], batch_size=5000,
    )  # fmt: skip
    refs = dict(Referral.objects.filter(cbo=cbo).values_list("member_id", "pk"))
    first = timezone.localdate().replace(day=1)
    months = [
        (first - timedelta(days=1)).replace(day=1),
        ((first - timedelta(days=1)).replace(day=1) - timedelta(days=1)).replace(day=1),
    ]
    rows = []
    for n, m in enumerate(ids):
        for k, month in enumerate(months):
            rows.append(ServiceDelivery(member_id=m, cbo=cbo, plan=plan, referral_id=refs[m], service=service,
                                        service_date=month + timedelta(days=2), units=Decimal(1), place_of_service="12",
                                        staff=user, created_by=user))  # fmt: skip
            if (n + k) % 2 == 0:
                rows.append(ServiceDelivery(member_id=m, cbo=cbo, plan=plan, referral_id=refs[m], service=meals,
                                            service_date=month + timedelta(days=9), units=Decimal(2), place_of_service="12",
                                            staff=user, created_by=user))  # fmt: skip
        if len(rows) >= 20000:
            ServiceDelivery.objects.bulk_create(rows, batch_size=5000)
            rows = []
    ServiceDelivery.objects.bulk_create(rows, batch_size=5000)
    return ServiceDelivery.objects.filter(cbo=cbo).count()


class PeakMemory:
    """The largest resident memory of this process plus its child processes (the forked parts
    of the build and the 837 writer), sampled every 50 ms on a thread until ``stop``. Pages a
    child still shares with its parent count twice, so this overstates."""

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000, help="claims to build and export")
    parser.add_argument("--keep", action="store_true", help="keep the data afterwards")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the timed part")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database.")
    prepare_database()
    plan, cbo, user = fixtures()
    cleanup(plan, cbo)
    t0 = time.perf_counter()
    # Made in a forked process, so that this one's heap (which the timed run's processes are
    # forked from) holds none of the 150,000 model instances bulk_create needed.
    deliveries = forks.Forked(functools.partial(make_data, args.size, plan, cbo, user)).join()
    # Fresh planner statistics and a visibility map for the rows just loaded (what autovacuum
    # gives a live database long before its nightly billing run); not timed.
    with connection.cursor() as cur:
        for table in (
            "referrals_servicedelivery",
            "referrals_member",
            "referrals_referral",
            "referrals_enrollment",
        ):
            cur.execute(f"VACUUM ANALYZE {table}")
    print(f"setup: {deliveries} deliveries for {args.size // 2} members in {time.perf_counter() - t0:.1f} s")

    from billing.services.batches import write_batch_file
    from billing.services.claims import build_claims

    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    memory = PeakMemory()
    start = time.perf_counter()
    built = build_claims(
        acting_user=None, cbo=cbo, keep_ids=False, into_batches=True, processes=settings.BILLING_PROCESSES
    )  # as the nightly run
    t_build = time.perf_counter()
    files = [write_batch_file(b) for b in built.batch_ids]
    end = time.perf_counter()
    peak = memory.stop()
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_SORT", "cumulative")).print_stats(
            int(os.environ.get("BENCH_TOP", "25"))
        )
    elapsed = end - start
    size_mb = sum(b.file.size for b in files) / 1e6
    print(f"built {built.claims} claims ({built.lines} lines; {built.ready} ready, {built.held} held) "
          f"into {len(files)} batch(es) in {t_build - start:.1f} s; 837P written in {end - t_build:.1f} s "
          f"({size_mb:.1f} MB)")  # fmt: skip
    print(f"{built.claims / elapsed:,.0f} claims/s end to end ({elapsed:.1f} s)")
    print(f"peak memory {peak:.0f} MB (resident, this process and its forked ones together, every 50 ms)")
    copy_s = plain_copy(cbo)
    print(
        f"plain COPY of the same {built.lines} lines: {copy_s:.2f} s; build+scrub+export / COPY = {elapsed / copy_s:.1f}×"
    )
    if not args.keep:
        cleanup(plan, cbo)


if __name__ == "__main__":
    main()
