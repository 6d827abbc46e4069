"""Checks for the identifiers the platform handles (NPI, TIN, CIN, HCPCS, ICD-10).

Framework-free: nothing here imports Django, so the X12 writer and importers can reuse it.
Each ``*_problem`` function returns ``None`` for a good value, otherwise a sentence a user can act on.
"""

from __future__ import annotations

import re

# re.ASCII: ``\d`` must mean 0-9 only. Unicode-aware ``\d`` (and ``str.isdigit()``) also match
# Arabic-Indic, fullwidth and other digits, which no plan, NPPES or the IRS would recognise.
_NPI_RE = re.compile(r"^[12]\d{9}$", re.ASCII)
_TIN_RE = re.compile(r"^\d{2}-?\d{7}$", re.ASCII)
_CIN_RE = re.compile(r"^\d{8}[A-Z]$", re.ASCII)
_CIN_OBSERVED_RE = re.compile(r"^9\d{7}[ACDEFGHMNTUVWXYZ]$", re.ASCII)
_HCPCS_RE = re.compile(r"^(?:[A-Z]\d{4}|\d{4}[0-9A-Z])$", re.ASCII)
_MODIFIER_RE = re.compile(r"^[A-Z0-9]{2}$", re.ASCII)
_ICD10_RE = re.compile(r"^[A-Z]\d[0-9A-Z](?:\.?[0-9A-Z]{1,4})?$", re.ASCII)
_TAXONOMY_RE = re.compile(r"^\d{3}[0-9A-Z]{6}X$", re.ASCII)


def luhn_check_digit(digits: str) -> int:
    """Return the Luhn check digit for ``digits`` (the digit that makes the whole string valid)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:  # every second digit from the right, starting with the rightmost
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return (10 - total % 10) % 10


def npi_problem(value: str) -> str | None:
    """An NPI is 10 digits starting with 1 or 2; its last digit is the Luhn check digit
    computed over the card-issuer prefix 80840 followed by the first nine digits."""
    value = (value or "").strip()
    if not _NPI_RE.match(value):
        return "An NPI is 10 digits and starts with 1 or 2."
    if luhn_check_digit("80840" + value[:9]) != int(value[9]):
        return f"NPI {value} fails its check digit; please re-check the number on your NPPES record."
    return None


def normalize_tin(value: str) -> str:
    """Strip the dash and spaces from a TIN/EIN (12-3456789 → 123456789)."""
    return re.sub(r"[\s-]", "", value or "", flags=re.ASCII)


def tin_problem(value: str) -> str | None:
    """A TIN/EIN is nine digits, optionally written NN-NNNNNNN."""
    value = (value or "").strip()
    if not _TIN_RE.match(value):
        return "A TIN/EIN is 9 digits, written like 12-3456789."
    if normalize_tin(value) == "000000000":
        return "A TIN/EIN cannot be all zeros."
    return None


def cin_problem(value: str) -> str | None:
    """A Medi-Cal CIN is 8 digits followed by one letter."""
    if not _CIN_RE.match((value or "").strip().upper()):
        return "A Medi-Cal CIN is 8 digits followed by a letter, like 91234567A."
    return None


def cin_warning(value: str) -> str | None:
    """CINs seen in practice start with 9 and never end in B, I, J, K, L, O, P, Q, R or S.
    A mismatch is worth a warning, not a rejection."""
    value = (value or "").strip().upper()
    if cin_problem(value) is None and not _CIN_OBSERVED_RE.match(value):
        return f"CIN {value} does not look like the CINs plans usually send; please double-check it."
    return None


def taxonomy_problem(value: str) -> str | None:
    """A provider taxonomy code is 10 characters ending in X, e.g. 251S00000X."""
    if not _TAXONOMY_RE.match((value or "").strip().upper()):
        return "A taxonomy code is 10 characters ending in X, like 251S00000X."
    return None


def hcpcs_problem(value: str) -> str | None:
    """A HCPCS Level II code is a letter and four digits; a CPT code is five characters."""
    if not _HCPCS_RE.match((value or "").strip().upper()):
        return f"{value!r} is not a HCPCS code (a letter and four digits, like T2041)."
    return None


def modifier_problem(value: str) -> str | None:
    """A procedure modifier is two letters or digits."""
    if not _MODIFIER_RE.match((value or "").strip().upper()):
        return f"{value!r} is not a modifier (two letters or digits, like U6)."
    return None


def icd10_problem(value: str) -> str | None:
    """ICD-10-CM: letter, digit, alphanumeric, then optionally a dot and up to four more."""
    if not _ICD10_RE.match((value or "").strip().upper()):
        return f"{value!r} is not an ICD-10-CM code (like Z59.01)."
    return None


def icd10_for_x12(value: str) -> str:
    """ICD-10 codes travel in X12 without the dot."""
    return value.strip().upper().replace(".", "")
