"""The field rules of a member and a referral, in one place and framework-free: ``Member.clean()``
and ``Referral.clean()`` (the pages, the API) and the bulk referral import check a value with the
same function and say the same words. A value too long for its column is refused, never cut.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from cbo_portal import identifiers

# The longest value each member field holds (the model's columns are declared with these).
MEMBER_LENGTHS = {
    "first_name": 80,
    "last_name": 80,
    "phone": 20,
    "street": 200,
    "city": 80,
    "state": 2,
    "zip": 10,
    "preferred_language": 40,
}
PLAN_REFERENCE_LENGTH = 40
OLDEST_BIRTH_YEAR = 1900
# Coverage dates a plan can mean: Medi-Cal began in 1966; nothing is planned past 2099.
COVERAGE_YEARS = (1966, 2099)

_MEMBER_WORDS = {
    "first_name": "first name",
    "last_name": "last name",
    "phone": "phone number",
    "street": "street",
    "city": "city",
    "state": "state",
    "zip": "ZIP code",
    "preferred_language": "preferred language",
}


def too_long(field: str, value: str, limit: int) -> str | None:
    """Why ``value`` cannot be stored in a column of ``limit`` characters (None when it can)."""
    if len(value) <= limit:
        return None
    return f"The {_MEMBER_WORDS.get(field, field.replace('_', ' '))} is {len(value)} characters; at most {limit} fit."


def member_problems(
    *,
    cin: str,
    first_name: str,
    last_name: str,
    dob: date | None,
    today: date,
    lengths: bool = True,
    text: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The problems of a member's details, by field: the CIN's form, both names present, a birth
    date that is not in the future nor before 1900, and (unless ``lengths`` is off: the model's
    own field checks say it there) the names and every other text field (``text``: phone,
    street, city, state, zip, preferred_language) within its length."""
    problems: dict[str, str] = {}
    if problem := identifiers.cin_problem(cin):
        problems["cin"] = problem
    for field, value in (("first_name", first_name), ("last_name", last_name)):
        if not value.strip():
            problems[field] = f"Enter the member's {_MEMBER_WORDS[field]}."
    if dob is not None:
        if dob > today:
            problems["dob"] = "The date of birth cannot be in the future."
        elif dob.year < OLDEST_BIRTH_YEAR:
            problems["dob"] = f"A date of birth before {OLDEST_BIRTH_YEAR} is not possible."
    for field, value in {"first_name": first_name, "last_name": last_name, **(text or {})}.items():
        if lengths and field not in problems and (problem := too_long(field, value, MEMBER_LENGTHS[field])):
            problems[field] = problem
    return problems


def diagnosis_problem(codes: list[str]) -> str | None:
    """Why a referral's diagnosis codes cannot be billed (the first bad code), or None."""
    return next((p for c in codes if (p := identifiers.icd10_problem(c))), None)


def plan_reference_problem(reference: str) -> str | None:
    if len(reference) > PLAN_REFERENCE_LENGTH:
        return f"The plan reference is longer than {PLAN_REFERENCE_LENGTH} characters."
    return None


def coverage_date_problem(day: date, what: str = "date") -> str | None:
    """Why ``day`` cannot be a coverage date (a period's start or end, a roster's date)."""
    first, last = COVERAGE_YEARS
    if not first <= day.year <= last:
        return f"The {what} {day.isoformat()} is not a coverage date; use a year from {first} to {last}."
    return None
