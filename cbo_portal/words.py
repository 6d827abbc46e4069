"""Small helpers for sentences a staffer reads."""

from __future__ import annotations


def count(n: int, singular: str, plural: str | None = None) -> str:
    """``count(1, "claim")`` → "1 claim", ``count(2, "batch", "batches")`` → "2 batches"."""
    return f"{n:,} {singular if n == 1 else (plural or singular + 's')}"
