"""Benchmark: build ``--size`` claims (about 1.5 lines each) as dataclasses and write them as an
837P (split into 5,000-claim transaction sets) to a temporary file, or /dev/null with --devnull.

    .venv/bin/python bench/x12_write_837.py --size 100000

Pure Python, no database. Target: far above the 5,000 claims/s end-to-end target (aim ≥ 30,000
claims/s), with memory that does not grow with the file (compare --size 10000 and 100000).
Prints ``<n> claims/s`` and the peak memory (max RSS; Python heap peak with --tracemalloc).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from billing.x12.checks import check_837
from billing.x12.claim837 import write_837
from tests.billing.x12_fixtures import bulk_claims, envelope, group


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--devnull", action="store_true", help="write to /dev/null instead of a temp file")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="also report the Python heap peak (slower)"
    )
    parser.add_argument("--check", action="store_true", help="run billing.x12.checks on the file afterwards")
    args = parser.parse_args()
    if args.tracemalloc:
        tracemalloc.start()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.devnull if args.devnull else os.path.join(tmp, "bench.837")
        start = time.perf_counter()
        with open(path, "w", buffering=1 << 20) as out:
            result = write_837(out, envelope(), [group(bulk_claims(args.size))], track_claims=True)
        elapsed = time.perf_counter() - start
        size = 0 if args.devnull else os.path.getsize(path)
        heap = tracemalloc.get_traced_memory()[1] if args.tracemalloc else None
        if args.check and not args.devnull:
            with open(path) as fh:
                problems = check_837(fh)
            print(f"checks: {len(problems)} problem(s)" + (f", first: {problems[0]}" if problems else ""))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{result.claim_count} claims, {result.line_count} lines, {len(result.sets)} transaction sets, "
        f"{result.segment_count} segments, {size / 1e6:.1f} MB in {elapsed:.2f} s"
    )
    print(f"{result.claim_count / elapsed:,.0f} claims/s")
    print(
        f"peak RSS {rss_mb:.0f} MB" + (f", Python heap peak {heap / 1e6:.1f} MB" if heap is not None else "")
    )


if __name__ == "__main__":
    main()
