"""Benchmark: referral list pages and API endpoints with ``--size`` referrals in the database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cbo_bench_lists .venv/bin/python bench/referral_lists.py --size 1000000

Target: every list request under ~300 ms p95 at 1,000,000 referrals on a 2-core machine, with the
same number of queries whatever the page holds. Migrates the database, then seeds (with COPY)
``--size`` referrals over 2 plans and 50 CBOs with a realistic status mix, ``size / 2`` members,
an authorization for about a third of the referrals and a logged service for about a third; it
prints the seeding speed as ``<n> rows/s``. A second run with the same ``--size`` reuses the data
(``--fresh`` seeds again; ``--drop`` removes it and stops). Then it times, with Django's test client
signed in as a plan care coordinator, a CBO admin and a CBO staff member, the referral list,
worklist and authorizations pages and the API list endpoints, printing p50/p95 ms and the
number of SQL queries per request, and the peak memory.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cbo_portal.settings")
os.environ.setdefault("MEDIA_ROOT", tempfile.mkdtemp(prefix="bench-media-"))

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench._database import prepare_database  # noqa: E402
from cbo_portal.choices import OnboardingStatus, OrgKind, Role  # noqa: E402
from cbo_portal.models import Membership, Organization  # noqa: E402

PREFIX = "Bench Lists"
CIN_PREFIX = "6"  # members made here: CIN 6nnnnnnnA
PLANS, CBOS = 2, 50
CHUNK = 50_000
# (status, share in thousandths): most referrals are done with, a tenth still wait for an answer.
STATUS_MIX = [
    ("received", 100),
    ("pending_review", 20),
    ("accepted", 150),
    ("in_progress", 200),
    ("declined", 80),
    ("completed", 300),
    ("closed", 150),
]


def status_of(i: int) -> str:
    k = (i * 7919) % 1000  # spread, not striped
    for status, share in STATUS_MIX:
        if k < share:
            return status
        k -= share
    return "closed"


def organizations() -> tuple[list[Organization], list[Organization]]:
    def org(name: str, kind: str) -> Organization:
        found, _ = Organization.objects.get_or_create(
            legal_name=name, kind=kind, defaults={"onboarding_status": OnboardingStatus.APPROVED}
        )
        return found

    plans = [org(f"{PREFIX} Plan {n}", OrgKind.PLAN) for n in range(1, PLANS + 1)]
    cbos = [org(f"{PREFIX} CBO {n:02d}", OrgKind.CBO) for n in range(1, CBOS + 1)]
    return plans, cbos


def user(name: str, org: Organization, role: str):
    from django.contrib.auth import get_user_model

    found, _ = get_user_model().objects.get_or_create(username=name, defaults={"email": name})
    Membership.objects.get_or_create(user=found, organization=org, defaults={"role": role})
    return found


def drop(plans: list[Organization]) -> None:
    ids = [p.pk for p in plans]
    with connection.cursor() as cur:
        for table in ("referrals_servicedelivery", "referrals_authorization"):
            cur.execute(f"DELETE FROM {table} WHERE plan_id = ANY(%s)", [ids])
        cur.execute("DELETE FROM referrals_referral WHERE plan_id = ANY(%s)", [ids])
        cur.execute("DELETE FROM referrals_member WHERE cin LIKE %s", [CIN_PREFIX + "%"])


def seed(size: int, plans: list[Organization], cbos: list[Organization], staff: dict[int, int]) -> int:
    """COPY the members, referrals, authorizations and deliveries; returns the rows written."""
    from cbo_portal.fastpath import copy_rows, reserve_ids
    from contracts.models import ServiceCatalogEntry
    from referrals.models import Authorization, Member, Referral, ServiceDelivery

    services = list(ServiceCatalogEntry.objects.order_by("pk").values_list("pk", flat=True)[:6])
    now = timezone.now()
    today = timezone.localdate()
    creator = next(iter(staff.values()))
    written = 0
    members_n = (size + 1) // 2
    for start in range(0, members_n, CHUNK):
        rows = [
            (
                f"{CIN_PREFIX}{i:07d}A",
                f"Ana{i % 97}",
                f"Reyes{i % 991}",
                today.replace(year=1950 + i % 50),
                "FM"[i % 2],
                f"{i} Main St",
                "Los Angeles",
                "90012",
            )
            for i in range(start, min(start + CHUNK, members_n))
        ]
        written += len(rows)
        copy_rows(Member, ("cin", "first_name", "last_name", "dob", "sex", "street", "city", "zip"), rows)
    with connection.cursor() as cur:
        cur.execute("SELECT cin, id FROM referrals_member WHERE cin LIKE %s", [CIN_PREFIX + "%"])
        member_ids = {int(cin[1:8]): pk for cin, pk in cur.fetchall()}
    ref_fields = (
        "plan_id",
        "cbo_id",
        "member_id",
        "service_id",
        "source",
        "plan_reference",
        "priority",
        "status",
        "status_changed_at",
        "respond_by",
        "responded_at",
        "created_at",
        "created_by_id",
    )
    auth_fields = (
        "referral_id",
        "plan_id",
        "cbo_id",
        "member_id",
        "service_id",
        "number",
        "kind",
        "status",
        "units_requested",
        "units_approved",
        "units_used",
        "start_date",
        "end_date",
        "created_at",
        "requested_by_id",
    )
    delivery_fields = (
        "member_id",
        "cbo_id",
        "plan_id",
        "referral_id",
        "authorization_id",
        "service_id",
        "service_date",
        "units",
        "place_of_service",
        "staff_id",
        "created_by_id",
    )
    for start in range(0, size, CHUNK):
        stop = min(start + CHUNK, size)
        ids = reserve_ids(Referral, stop - start)
        refs, auths, deliveries = [], [], []
        auth_ids = iter(reserve_ids(Authorization, sum(1 for i in range(start, stop) if i % 3 != 2)))
        for pk, i in zip(ids, range(start, stop), strict=True):
            plan, cbo, status = plans[i % PLANS].pk, cbos[(i // PLANS) % CBOS].pk, status_of(i)
            # received ones are recent (a few days, some past their deadline); the rest spread over 2 years
            age = (
                timedelta(minutes=(i * 37) % (6 * 24 * 60))
                if status == "received"
                else timedelta(minutes=(i * 37) % (730 * 24 * 60))
            )
            created = now - age - timedelta(seconds=size - i)
            urgent = i % 10 == 0
            respond_by = created + timedelta(days=1 if urgent else 3)
            member, service = member_ids[i // 2], services[i % len(services)]
            refs.append(
                (
                    plan,
                    cbo,
                    member,
                    service,
                    "plan",
                    f"BL-{i}",
                    "urgent" if urgent else "routine",
                    status,
                    created,
                    respond_by,
                    None if status == "received" else created + timedelta(hours=5),
                    created,
                    creator,
                )
            )
            if i % 3 != 2 and status not in ("received", "pending_review", "declined"):
                auth_status = "requested" if i % 11 == 0 else "approved"
                auth = next(auth_ids)
                begins = created.date()
                auths.append(
                    (
                        auth,
                        pk,
                        plan,
                        cbo,
                        member,
                        service,
                        "" if auth_status == "requested" else f"A{i}",
                        "prior",
                        auth_status,
                        Decimal("10"),
                        None if auth_status == "requested" else Decimal("10"),
                        Decimal(i % 10),
                        begins,
                        begins + timedelta(days=90 + i % 120),
                        created,
                        creator,
                    )
                )
                if i % 3 == 0 and auth_status == "approved":
                    day = min(begins + timedelta(days=i % 30), today)
                    deliveries.append(
                        (
                            member,
                            cbo,
                            plan,
                            pk,
                            auth,
                            service,
                            day,
                            Decimal("1"),
                            "12",
                            staff[cbo],
                            staff[cbo],
                        )
                    )
        copy_rows(Referral, ("id", *ref_fields), [(pk, *r) for pk, r in zip(ids, refs, strict=True)])
        copy_rows(Authorization, ("id", *auth_fields), auths)
        copy_rows(ServiceDelivery, delivery_fields, deliveries)
        written += len(refs) + len(auths) + len(deliveries)
        print(f"  seeded {stop} of {size} referrals", end="\r", flush=True)
    print()
    with connection.cursor() as cur:
        cur.execute(
            "ANALYZE referrals_member, referrals_referral, referrals_authorization, referrals_servicedelivery"
        )
    return written


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def time_requests(client: Client, url: str, repeat: int) -> tuple[float, float, int, int]:
    """(p50 ms, p95 ms, SQL queries, status code) over ``repeat`` requests after one warm-up."""
    client.get(url)
    times, queries, code = [], 0, 0
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            t0 = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - t0) * 1000)
        queries, code = len(captured), response.status_code
    return statistics.median(times), percentile(times, 95), queries, code


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=1_000_000, help="referrals in the database")
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per URL")
    parser.add_argument("--fresh", action="store_true", help="seed again even when the data is there")
    parser.add_argument("--drop", action="store_true", help="remove the seeded data and stop")
    parser.add_argument("--only", default="", help="time only URLs containing this text")
    args = parser.parse_args()

    prepare_database()
    plans, cbos = organizations()
    coordinator = user("coordinator@bench-lists.example", plans[0], Role.PLAN_CARE_COORDINATOR)
    admin = user("admin@bench-lists.example", cbos[0], Role.CBO_ADMIN)
    staff = {
        cbo.pk: user(f"staff{n:02d}@bench-lists.example", cbo, Role.CBO_STAFF).pk
        for n, cbo in enumerate(cbos, 1)
    }
    from referrals.models import Referral

    if args.drop:
        drop(plans)
        print("dropped")
        return
    have = Referral.objects.filter(plan__in=plans).count()
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}; {have} bench referrals there")
    if have != args.size or args.fresh:
        drop(plans)
        t0 = time.perf_counter()
        with transaction.atomic():
            rows = seed(args.size, plans, cbos, staff)
        elapsed = time.perf_counter() - t0
        print(
            f"seeding: {rows / elapsed:,.0f} rows/s".replace(",", "") + f" ({rows} rows in {elapsed:.1f} s)"
        )
        # what autovacuum would have done by the time the data had grown this big (visibility map
        # for index-only counts, statistics for the planner)
        with connection.cursor() as cur:
            cur.execute(
                "VACUUM ANALYZE referrals_member, referrals_referral, referrals_authorization, "
                "referrals_servicedelivery"
            )
    from django.contrib.auth import get_user_model

    staff_user = get_user_model().objects.get(pk=staff[cbos[1].pk])
    cin = f"{CIN_PREFIX}{1234:07d}A"
    personas = [("plan care coordinator", coordinator), ("CBO admin", admin), ("CBO staff", staff_user)]
    urls = [
        "/referrals/",
        "/referrals/?status=received",
        "/referrals/?status=overdue",
        f"/referrals/?q={cin}",
        "/referrals/?q=Reyes17",
        "/worklist/",
        "/worklist/?period=all",
        "/authorizations/",
        "/api/v1/referrals/",
        "/api/v1/referrals/?status=received",
        "/api/v1/referrals/?priority=urgent",
        "/api/v1/referrals/?overdue=true",
        f"/api/v1/referrals/?search={cin}",
        "/api/v1/referrals/?page=50",
        "/api/v1/authorizations/",
        "/api/v1/service-deliveries/",
    ]
    print(f"{'persona':22} {'url':44} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
    worst = 0.0
    for label, who in personas:
        client = Client()
        client.force_login(who)
        for url in urls:
            if args.only and args.only not in url:
                continue
            p50, p95, queries, code = time_requests(client, url, args.repeat)
            worst = max(worst, p95)
            flag = "" if code == 200 else f"  (HTTP {code})"
            print(f"{label:22} {url:44} {p50:8.1f} {p95:8.1f} {queries:8d}{flag}")
    print(f"slowest p95: {worst:.0f} ms (target 300 ms)")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
