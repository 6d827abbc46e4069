"""Benchmark: write an 835 with ``--size`` claim payments (1-2 lines each: full pay, CO-45, PR-1,
CO-197 denials) to a temporary file, then stream-parse it with balancing on.

    .venv/bin/python bench/x12_parse_835.py --size 100000

Pure Python, no database. Target: far above the 5,000 claims/s end-to-end target (aim ≥ 30,000
claims/s), in bounded memory: the parse keeps one claim at a time (compare --size 10000 and 100000).
Prints ``<n> claims/s`` for writing and for parsing, and the peak memory.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from billing.x12.remit835 import ClaimPayment, ProviderAdjustment, RemittanceEnd, iter_835
from billing.x12.remit835_writer import write_835
from tests.billing.x12_fixtures import PAYER_DETAILS, bulk_claim_payments, envelope_835, remittance


def expected_total(size: int) -> Decimal:
    """BPR02 for bulk_claim_payments(size) without building them all in memory."""
    return sum((c.paid for c in bulk_claim_payments(size)), Decimal(0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument(
        "--tracemalloc", action="store_true", help="report the Python heap peak of the parse (slower)"
    )
    args = parser.parse_args()
    plbs = (
        ProviderAdjustment("L6", "", Decimal("-12.34")),
        ProviderAdjustment("WO", "PCN0001", Decimal("50")),
    )
    total = expected_total(args.size) + Decimal("12.34") - Decimal("50")
    header = remittance((), plbs, total=total)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.835")
        start = time.perf_counter()
        with open(path, "w", buffering=1 << 20) as out:
            write_835(out, envelope_835(), header, PAYER_DETAILS, claims=bulk_claim_payments(args.size))
        write_s = time.perf_counter() - start
        size = os.path.getsize(path)
        rss_after_write = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if args.tracemalloc:
            tracemalloc.start()
        start = time.perf_counter()
        claims = lines = 0
        paid = Decimal(0)
        with open(path) as fh:
            for event in iter_835(fh):
                if isinstance(event, ClaimPayment):
                    claims += 1
                    lines += len(event.services)
                    paid += event.paid
                elif isinstance(event, RemittanceEnd):
                    assert event.remittance.total_paid == total
        parse_s = time.perf_counter() - start
        heap = tracemalloc.get_traced_memory()[1] if args.tracemalloc else None
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"835 of {args.size} claims, {lines} lines, {size / 1e6:.1f} MB; paid {paid}")
    print(
        f"write: {args.size / write_s:,.0f} claims/s ({write_s:.2f} s), peak RSS so far {rss_after_write:.0f} MB"
    )
    print(f"{claims / parse_s:,.0f} claims/s parsed with balancing ({parse_s:.2f} s)")
    print(
        f"peak RSS {rss_mb:.0f} MB"
        + (f", parse Python heap peak {heap / 1e6:.1f} MB" if heap is not None else "")
    )


if __name__ == "__main__":
    main()
