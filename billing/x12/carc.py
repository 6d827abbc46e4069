"""Claim adjustment reason codes (CARC), remark codes (RARC) and group codes, explained.

The tables live in ``billing/data/carc.csv`` and ``billing/data/rarc.csv``: a *summary* in our own
words (not the official X12 wording) for the codes CBOs meet most, each with advice on what to do.
They are data: extend them without touching code. Lines starting with ``#`` are comments.
Unknown codes get a sane fallback that says the code is not in our table and where to look it up.
The four group codes (CO, OA, PI, PR) are fixed by X12 and kept here.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[1] / "data"


@dataclass(frozen=True)
class CodeInfo:
    """A code with its short description and what a biller should do; ``known`` is False for the
    fallback given to codes our table does not list."""

    code: str
    description: str
    advice: str
    known: bool = True


GROUP_CODES: dict[str, CodeInfo] = {
    "CO": CodeInfo(
        "CO",
        "Contractual obligation",
        "The provider absorbs this amount under its contract: do not bill the member.",
    ),
    "OA": CodeInfo(
        "OA",
        "Other adjustment",
        "Neither the provider's contract nor the member: read the reason code to see why.",
    ),
    "PI": CodeInfo(
        "PI",
        "Payer-initiated reduction",
        "The payer reduced the payment for its own reason: do not bill the member; appeal if you disagree.",
    ),
    "PR": CodeInfo(
        "PR",
        "Patient responsibility",
        "The member may owe this amount (deductible, coinsurance, co-payment): Medi-Cal members rarely do, so check first.",
    ),
}


def _read(name: str) -> dict[str, CodeInfo]:
    path = DATA_DIR / name
    with path.open(newline="", encoding="utf-8") as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        return {
            row["code"].strip().upper(): CodeInfo(
                row["code"].strip().upper(), row["description"].strip(), row["advice"].strip()
            )
            for row in rows
        }


@functools.cache
def carc_table() -> dict[str, CodeInfo]:
    """CARC code → CodeInfo, read once from ``billing/data/carc.csv``."""
    return _read("carc.csv")


@functools.cache
def rarc_table() -> dict[str, CodeInfo]:
    """RARC code → CodeInfo, read once from ``billing/data/rarc.csv``."""
    return _read("rarc.csv")


def carc(code: str) -> CodeInfo:
    """Explain a CARC; unknown codes get a fallback (``known=False``)."""
    key = (code or "").strip().upper()
    found = carc_table().get(key)
    if found is not None:
        return found
    return CodeInfo(
        key,
        f"Adjustment reason {key or '(none)'} (not in our summary table)",
        "Look the code up in the X12 Claim Adjustment Reason Code list (x12.org/codes) or ask the plan.",
        known=False,
    )


def rarc(code: str) -> CodeInfo:
    """Explain a RARC; unknown codes get a fallback (``known=False``)."""
    key = (code or "").strip().upper()
    found = rarc_table().get(key)
    if found is not None:
        return found
    return CodeInfo(
        key,
        f"Remark {key or '(none)'} (not in our summary table)",
        "Look the code up in the X12 Remittance Advice Remark Code list (x12.org/codes) or ask the plan.",
        known=False,
    )


def group(code: str) -> CodeInfo:
    """Explain a CAS group code (CO, OA, PI, PR); anything else gets a fallback."""
    key = (code or "").strip().upper()
    return GROUP_CODES.get(key) or CodeInfo(
        key,
        f"Unknown adjustment group {key!r}",
        "Valid groups are CO, OA, PI and PR: ask the plan.",
        known=False,
    )


def describe_adjustment(group_code: str, reason_code: str) -> str:
    """One readable line for a CAS adjustment, e.g. ``CO-45 Contractual obligation: The charge is
    above ...``."""
    g, r = group(group_code), carc(reason_code)
    return f"{g.code}-{r.code} {g.description}: {r.description}"
