"""Control numbers: claim control numbers (CLM01) per billing provider and the X12 envelope's
ISA13 / GS06 / ST02 per submitter.

Rule: every number comes from a ``ControlNumberCounter`` row taken under a row lock and advanced
in the same statement, so numbers only increase and are never handed out twice — not across
runs, not to two workers at once. A number reserved by a run that then crashed is skipped, never
reused (gaps are harmless; repeats would make a plan reject the file as a duplicate).
"""

from __future__ import annotations

from django.db import transaction

from billing.models import ControlNumberCounter

# X12 allows 9 digits for ISA13/GS06/ST02.
MAX_X12_CONTROL = 999_999_999


def reserve(key: str, count: int = 1) -> int:
    """Reserve ``count`` consecutive numbers under ``key``; return the first. Commits with the
    caller's transaction (or at once outside one)."""
    if count < 1:
        raise ValueError("reserve at least one number")
    with transaction.atomic():
        ControlNumberCounter.objects.get_or_create(key=key)
        counter = ControlNumberCounter.objects.select_for_update().get(key=key)
        first = counter.value + 1
        counter.value += count
        counter.save(update_fields=["value"])
    return first


def claim_numbers(billing_provider_id: int, count: int) -> list[str]:
    """``count`` new claim control numbers for a billing provider: ``<provider id>-<serial>``.
    Unique per provider (the model's constraint) and, because the provider id is part of the
    number, unique across the platform too, so an 835's CLP01 finds exactly one claim."""
    first = reserve(f"clm:{billing_provider_id}", count)
    return [f"{billing_provider_id}-{n:07d}" for n in range(first, first + count)]


def line_control_number(claim_control_number: str, line_number: int) -> str:
    """REF*6R of a line: the claim's control number and the line number (unique because the claim
    control number is)."""
    return f"{claim_control_number}-{line_number:02d}"


def set_numbers(submitter_key: str, sets: int) -> int:
    """The first of ``sets`` new ST02 numbers from the submitter's counter."""
    st = reserve(f"st:{submitter_key}", sets)
    if st + sets - 1 > MAX_X12_CONTROL:
        raise OverflowError(f"X12 transaction set numbers for {submitter_key} are exhausted")
    return st


def envelope_numbers(submitter_key: str, *, sets: int) -> tuple[int, int, int]:
    """(ISA13, GS06, first ST02) for one interchange of one functional group with ``sets``
    transaction sets (``sets=0``: the caller reserved its ST02s already; 0 is returned for them),
    taken from the submitter's counters (``submitter_key`` is the submitter's id)."""
    isa = reserve(f"isa:{submitter_key}")
    gs = reserve(f"gs:{submitter_key}")
    if max(isa, gs) > MAX_X12_CONTROL:
        raise OverflowError(f"X12 control numbers for {submitter_key} are exhausted")
    return isa, gs, set_numbers(submitter_key, sets) if sets else 0
