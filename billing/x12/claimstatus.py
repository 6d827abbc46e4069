"""277CA claim status category and status codes, and TA1 interchange note codes, explained.

Like the CARC/RARC tables (``billing.x12.carc``) they are data, summaries in our own words in
``billing/data/claim_status_categories.csv`` (with each category's outcome: accepted, rejected or
pending), ``claim_status_codes.csv`` and ``ta1_notes.csv``. Unknown codes get a fallback that says
so. The entity identifier codes (STC01-3: whose information is in error) are fixed by the guide
and kept here.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass

from billing.x12.carc import DATA_DIR

ENTITIES = {
    "03": "the dependent",
    "40": "the receiver",
    "41": "the submitter",
    "77": "the service location",
    "82": "the rendering provider",
    "85": "the billing provider",
    "87": "the pay-to provider",
    "DK": "the ordering provider",
    "DN": "the referring provider",
    "IL": "the subscriber (member)",
    "PR": "the payer",
    "QC": "the patient",
}


@dataclass(frozen=True)
class StatusInfo:
    """A code with its description in plain words, what to do, and (categories) its outcome."""

    code: str
    description: str
    advice: str
    outcome: str = ""
    known: bool = True


def _read(name: str) -> dict[str, StatusInfo]:
    with (DATA_DIR / name).open(newline="", encoding="utf-8") as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        return {
            row["code"].strip().upper(): StatusInfo(
                row["code"].strip().upper(),
                row["description"].strip(),
                row["advice"].strip(),
                (row.get("outcome") or "").strip(),
            )
            for row in rows
        }


@functools.cache
def categories() -> dict[str, StatusInfo]:
    return _read("claim_status_categories.csv")


@functools.cache
def statuses() -> dict[str, StatusInfo]:
    return _read("claim_status_codes.csv")


@functools.cache
def ta1_notes() -> dict[str, StatusInfo]:
    return _read("ta1_notes.csv")


def category(code: str) -> StatusInfo:
    """A claim status category (STC01-1). An unknown one counts as pending: we neither accept nor
    reject a claim on a code we cannot read."""
    key = (code or "").strip().upper()
    return categories().get(key) or StatusInfo(
        key,
        f"Status category {key or '(none)'} (not in our table)",
        "Look the code up in the X12 Claim Status Category list or ask the plan.",
        "pending",
        known=False,
    )


def status(code: str) -> StatusInfo:
    """A claim status code (STC01-2)."""
    key = (code or "").strip().upper()
    return statuses().get(key) or StatusInfo(
        key,
        f"Status code {key or '(none)'} (not in our table)",
        "Look the code up in the X12 Claim Status Code list or ask the plan.",
        known=False,
    )


def ta1_note(code: str) -> StatusInfo:
    """A TA1 interchange note code (TA105)."""
    key = (code or "").strip()
    return ta1_notes().get(key) or StatusInfo(
        key,
        f"Interchange note {key or '(none)'} (not in our table)",
        "Ask the plan what it means.",
        known=False,
    )


def describe(category_code: str, status_code: str, entity: str = "") -> tuple[str, str]:
    """(reason, fix) in words for one STC composite, e.g. ("Rejected for invalid information: The
    entity's NPI is missing or invalid (the billing provider).", "Check the billing provider's NPI …")."""
    cat, st = category(category_code), status(status_code)
    who = f" ({ENTITIES[entity]})" if entity in ENTITIES else (f" (entity {entity})" if entity else "")
    reason = f"{cat.code}:{st.code} {cat.description.rstrip('.')}: {st.description.rstrip('.')}{who}."
    return reason, st.advice if cat.outcome == "rejected" else cat.advice
