"""Database time per request: for each persona and list URL, run the request once through Django's
test client, capture its SQL, then EXPLAIN ANALYZE each SELECT and add up planning + execution
time. Less sensitive to a busy machine than wall-clock timings.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cbo_bench_web15 .venv/bin/python bench/db_time.py

Uses the data ``bench/referral_lists.py --size N`` seeded (run that first) and adds a hub over
the first five bench CBOs for a hub persona. Budget: ≤ 20 ms of database time per request.
Prints, per persona and URL, the queries, total DB ms and the slowest query's ms; ``--show``
prints the slowest query's plan.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cbo_portal.settings")
os.environ.setdefault("MEDIA_ROOT", tempfile.mkdtemp(prefix="bench-media-"))

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.personas import URLS, personas  # noqa: E402


def db_time(sql: str) -> tuple[float, dict]:
    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql)
        plan = cur.fetchone()[0]
    plan = plan[0] if isinstance(plan, list) else json.loads(plan)[0]
    return plan["Planning Time"] + plan["Execution Time"], plan


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default="", help="URLs containing this text")
    parser.add_argument("--show", action="store_true", help="print the slowest query's plan")
    parser.add_argument("--runs", type=int, default=3, help="EXPLAIN ANALYZE runs per query (best counts)")
    args = parser.parse_args()
    print(f"{'persona':10} {'url':46} {'queries':>7} {'db ms':>8} {'slowest':>8}")
    worst = 0.0
    for label, who in personas().items():
        client = Client()
        client.force_login(who)
        for url in URLS:
            if args.only and args.only not in url:
                continue
            client.get(url)  # warm caches (sessions, memberships)
            with CaptureQueriesContext(connection) as captured:
                code = client.get(url).status_code
            total, slowest, slow_plan = 0.0, 0.0, None
            selects = [
                q["sql"] for q in captured.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")
            ]
            for sql in selects:
                ms, plan = min((db_time(sql) for _ in range(args.runs)), key=lambda t: t[0])
                total += ms
                if ms > slowest:
                    slowest, slow_plan = ms, (sql, plan)
            worst = max(worst, total)
            flag = "" if code == 200 else f"  (HTTP {code})"
            print(f"{label:10} {url:46} {len(captured):7d} {total:8.1f} {slowest:8.1f}{flag}")
            if args.show and slow_plan:
                print("   ", slow_plan[0][:600])
                print(json.dumps(slow_plan[1]["Plan"], indent=1)[:3000])
    print(f"worst request: {worst:.1f} ms of database time (budget 20 ms; SELECTs only, best of {args.runs})")


if __name__ == "__main__":
    main()
