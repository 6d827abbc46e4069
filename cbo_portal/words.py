"""Small helpers for sentences a staffer reads."""

from __future__ import annotations


def count(n: int, singular: str, plural: str | None = None) -> str:
    """``count(1, "claim")`` → "1 claim", ``count(2, "batch", "batches")`` → "2 batches"."""
    return f"{n:,} {singular if n == 1 else (plural or singular + 's')}"


def and_list(items: list[str]) -> str:
    """``and_list(["street", "city", "ZIP code"])`` → "street, city and ZIP code"."""
    return " and ".join([", ".join(items[:-1]), items[-1]]) if len(items) > 1 else "".join(items)


def field_names(model: type, fields: list[str]) -> str:
    """The model fields' names as its forms label them, for a sentence: "street and ZIP code"."""
    return and_list([str(model._meta.get_field(f).verbose_name) for f in fields])
