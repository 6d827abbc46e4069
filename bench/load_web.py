"""Benchmark: many users on the web pages and API at ``--size`` referrals (issue #15).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cbo_bench_lists .venv/bin/python bench/load_web.py --users 50 --seconds 120

Targets on a 2-core machine with PostgreSQL on it: 50 users p95 < 200 ms, 0 errors, ≥ 45
requests/s. Builds the data with ``bench/referral_lists.py --size N`` when the database does not
hold it yet (a persistent database: built once, reused), collects static files, starts gunicorn
(3 sync workers, DEBUG off) on a free port, and drives locust headless (``pip install -e
.[bench]``): each simulated user signs in once through the login form as the plan's care
coordinator, a CBO admin, a CBO's staff member or a hub admin (in turn), then asks for one page a
second from the mix in ``bench/personas.py`` (referral lists with filters, the worklist, member
search, /api/v1/referrals/, authorizations, service deliveries). Stats are reset once every user
has signed in. Prints p50/p95/p99 per URL and a last line ``overall: p50 <n> ms, p95 <n> ms,
p99 <n> ms, <n> req/s, <n> errors``.
"""

from __future__ import annotations

import argparse
import csv
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cbo_bench_lists")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cbo_portal.settings")
PASSWORD = "bench-load-Password-1"
# Time allowed for every user to sign in, and a warm-up (bench/locustfile.py), before the
# ``--seconds`` of browsing that are measured.
SIGN_IN_SECONDS = 45


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--size", type=int, default=1_000_000, help="referrals in the database")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers")
    args = parser.parse_args()
    python = sys.executable
    bin_dir = Path(python).parent
    # Seed (or reuse) the data; time no URL.
    subprocess.run(
        [python, str(ROOT / "bench/referral_lists.py"), "--size", str(args.size), "--only=__none__"],
        check=True,
        cwd=ROOT,
    )

    import django

    django.setup()
    from bench.personas import URLS, personas

    users = personas()
    for who in users.values():
        who.set_password(PASSWORD)
        who.save(update_fields=["password"])
    from django.db import connection

    connection.close()

    port = free_port()
    env = {
        **os.environ,
        "DJANGO_DEBUG": "false",
        "SECRET_KEY": "bench-" + os.urandom(16).hex(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "TWO_FACTOR_ENFORCED": "false",
        "LOG_LEVEL": "WARNING",
        "AXES_FAILURE_LIMIT": "1000",
        "MEDIA_ROOT": os.environ.get("MEDIA_ROOT", tempfile.mkdtemp(prefix="bench-media-")),
    }
    subprocess.run(
        [python, "manage.py", "collectstatic", "--no-input", "-v", "0"], check=True, cwd=ROOT, env=env
    )
    server = subprocess.Popen(
        [
            str(bin_dir / "gunicorn"),
            "cbo_portal.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        out = Path(tempfile.mkdtemp(prefix="bench-locust-")) / "run"
        locust_env = {
            **env,
            "BENCH_USERS": ",".join(u.username for u in users.values()),
            "BENCH_PASSWORD": PASSWORD,
            "BENCH_URLS": "|".join(URLS),
            "BENCH_USER_COUNT": str(args.users),
        }
        subprocess.run(
            [
                str(bin_dir / "locust"),
                "-f",
                str(ROOT / "bench/locustfile.py"),
                "--headless",
                "--only-summary",
                "-u",
                str(args.users),
                "-r",
                str(min(args.users, 10)),
                "-t",
                f"{args.seconds + SIGN_IN_SECONDS}s",
                "--host",
                f"http://127.0.0.1:{port}",
                "--csv",
                str(out),
                "--loglevel",
                "WARNING",
            ],
            check=False,
            cwd=ROOT,
            env=locust_env,
            stdout=subprocess.DEVNULL,
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    report(Path(f"{out}_stats.csv"), args)


def report(path: Path, args: argparse.Namespace) -> None:
    rows = list(csv.DictReader(path.open()))
    print(f"{args.users} users, {args.seconds} s, {args.workers} gunicorn workers")
    print(f"{'url':46} {'requests':>8} {'errors':>6} {'p50':>6} {'p95':>6} {'p99':>6}")
    total = None
    for r in rows:
        if r["Name"] == "Aggregated":
            total = r
            continue
        print(
            f"{r['Name']:46} {r['Request Count']:>8} {r['Failure Count']:>6} {r['50%']:>6} {r['95%']:>6} {r['99%']:>6}"
        )
    assert total is not None
    print(
        f"overall: p50 {total['50%']} ms, p95 {total['95%']} ms, p99 {total['99%']} ms, "
        f"{float(total['Requests/s']):.1f} req/s, {total['Failure Count']} errors"
    )


if __name__ == "__main__":
    main()
