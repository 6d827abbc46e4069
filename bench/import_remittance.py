"""Benchmark: post an 835 of ``--size`` claim payments against as many submitted claims.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cbo_bench .venv/bin/python bench/import_remittance.py --size 100000

Target: at least 5,000 claims/s end to end (read the file, parse and balance it, match every CLP to
our claim and every SVC to our line, write the payment/adjustment rows, update the claims' and
lines' totals and statuses, in one transaction), with memory that does not grow with the claims
posted (compare --size 10000 and --size 100000: the file itself is held in memory as bytes).

Migrates the database, makes a fresh plan, CBO and staff user, ``--size`` submitted claims with
``--lines`` lines each (``bulk_create``) and an 835 written by ``billing.x12.remit835_writer``
(full pay, CO-45 short pay, PR deductible and CO-197 denials in turn), then times
``billing.services.remittances.import_remittance``. Prints ``<n> claims/s`` and the peak memory,
then removes what it made unless ``--keep``.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cbo_portal.settings")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402

from bench._database import prepare_database  # noqa: E402
from cbo_portal.choices import OnboardingStatus, OrgKind, Role  # noqa: E402
from cbo_portal.models import Membership, Organization  # noqa: E402


def _npi() -> str:
    from cbo_portal.identifiers import luhn_check_digit

    base = f"1{random.randrange(10**8):08d}"
    return base + str(luhn_check_digit("80840" + base))


def fixtures(tag: str):
    from django.contrib.auth import get_user_model

    from tests.contracts.factories import ensure_reference_data

    ensure_reference_data()
    plan = Organization.objects.create(
        legal_name=f"Bench Plan {tag}",
        kind=OrgKind.PLAN,
        payer_id=f"B{tag[:8]}",
        onboarding_status=OnboardingStatus.APPROVED,
    )
    cbo = Organization.objects.create(
        legal_name=f"Bench CBO {tag}",
        kind=OrgKind.CBO,
        npi=_npi(),
        onboarding_status=OnboardingStatus.APPROVED,
    )
    user = get_user_model().objects.create(
        username=f"bench-{tag}@example.org", email=f"bench-{tag}@example.org"
    )
    Membership.objects.create(user=user, organization=cbo, role=Role.CBO_BILLING)
    return plan, cbo, user


def cleanup(cbo, plan) -> None:
    from billing.models import (
        Adjustment,
        Claim,
        ClaimLine,
        ClaimStatusChange,
        Payment,
        ProviderAdjustment,
        Remittance,
        RemittanceClaim,
    )
    from referrals.models import Referral, ServiceDelivery

    with transaction.atomic():
        remits = Remittance.objects.filter(payee=cbo)
        Payment.objects.filter(remittance_claim__remittance__in=remits).delete()
        Adjustment.objects.filter(remittance_claim__remittance__in=remits).delete()
        RemittanceClaim.objects.filter(remittance__in=remits).delete()
        ProviderAdjustment.objects.filter(remittance__in=remits).delete()
        remits.delete()
        claims = Claim.objects.filter(billing_provider=cbo)
        ClaimStatusChange.objects.filter(claim__in=claims).delete()
        ClaimLine.objects.filter(claim__in=claims).delete()
        claims.delete()
    if connection.vendor == "postgresql":
        # billing_claim.referral_id has no index (nothing reads claims by referral; referrals are
        # never deleted in the app), so each referral deleted below checks billing_claim by a
        # scan: vacuum the emptied tables first so it reads no dead rows (autovacuum may be off).
        with connection.cursor() as cursor:
            for table in ("billing_claimstatuschange", "billing_claimline", "billing_claim"):
                cursor.execute(f"VACUUM {table}")
    with transaction.atomic():
        ServiceDelivery.objects.filter(cbo=cbo).delete()
        Referral.objects.filter(cbo=cbo).delete()
        from contracts.models import Contract, RateLine, RateLineVersion

        contracts = Contract.objects.filter(cbo=cbo)
        RateLineVersion.objects.filter(rate_line__contract__in=contracts).delete()
        RateLine.objects.filter(contract__in=contracts).delete()
        contracts.delete()


def backend_cpu() -> float | None:
    """CPU seconds used so far by this connection's PostgreSQL backend, when the server runs on
    this machine (``/proc``); None otherwise. Wall time on a shared machine depends on its load,
    client + server CPU does not."""
    connection.ensure_connection()
    if connection.vendor != "postgresql":
        return None
    try:
        pid = connection.connection.info.backend_pid
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, AttributeError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=1, help="service lines per claim")
    parser.add_argument(
        "--keep", action="store_true", help="leave the claims and the remittance in the database"
    )
    args = parser.parse_args()

    from billing.services.remittances import import_remittance
    from billing.x12.common import Envelope
    from billing.x12.remit835 import Remittance
    from billing.x12.remit835_writer import write_835
    from tests.billing.remit_factories import PAID_ON, PAYER, bulk_claim_payments, bulk_submitted_claims

    prepare_database()
    tag = uuid.uuid4().hex[:10]
    plan, cbo, user = fixtures(tag)
    size = args.size
    print(f"making {size:,} submitted claims with {args.lines} line(s) each …", flush=True)
    t0 = time.perf_counter()
    bulk_submitted_claims(plan, cbo, user, size, lines_per_claim=args.lines, prefix="B")
    print(f"  {time.perf_counter() - t0:.1f} s", flush=True)
    if connection.vendor == "postgresql":
        # Fresh bulk-loaded tables have no planner statistics yet; a live database has them.
        with connection.cursor() as cursor:
            for table in (
                "billing_claim",
                "billing_claimline",
                "billing_claimstatuschange",
                "billing_remittanceclaim",
            ):
                cursor.execute(f"ANALYZE {table}")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.835"
        payments = list(bulk_claim_payments(size, lines_per_claim=args.lines, prefix="B"))
        header = Remittance(
            handling_code="I",
            total_paid=sum((p.paid for p in payments), 0),
            payment_method="CHK",
            payment_date=PAID_ON,
            trace_number=f"BENCH{tag}",
            payer_name=plan.legal_name,
            payer_id=plan.payer_id,
            payee_name=cbo.legal_name,
            payee_npi=cbo.npi,
        )
        env = Envelope(
            sender_id="BENCHPLAN",
            receiver_id="BENCHCBO",
            interchange_control_number=1,
            created=__import__("datetime").datetime(2025, 4, 10, 9, 0),
            usage="T",
        )
        with path.open("w") as out:
            write_835(out, env, header, PAYER, claims=iter(payments))
        del payments
        print(f"835 file: {path.stat().st_size / 1e6:.1f} MB", flush=True)

        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        server_start = backend_cpu()
        start = time.perf_counter()
        cpu_start = time.process_time()
        data = path.read_bytes()
        result = import_remittance(data, file_name=path.name)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
        server_end = backend_cpu()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert result.claims_matched == size, result.as_dict()
    print(result.as_dict())
    print(
        f"ingest + reconcile: {elapsed:.2f} s wall, {cpu:.2f} s CPU in this process (the rest is PostgreSQL)"
    )
    if server_start is not None and server_end is not None:
        server = server_end - server_start
        print(
            f"PostgreSQL backend CPU: {server:.2f} s; client + server CPU per 1,000 claims: "
            f"{(cpu + server) / size * 1000:.3f} s (what an idle machine would need, before overlap)"
        )
    print(f"load average while running: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"{size / elapsed:,.0f} claims/s")
    print(f"peak memory (max RSS): {rss_after / 1024:.0f} MB (before the import: {rss_before / 1024:.0f} MB)")
    if not args.keep:
        cleanup(cbo, plan)


if __name__ == "__main__":
    main()
