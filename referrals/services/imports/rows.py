"""One row of a referral file checked: the member and referral rules (``referrals.rules``), the
service, the CBO and what it offers, each problem with its column."""

from __future__ import annotations

import re
from datetime import date
from typing import NamedTuple

from django.utils import timezone

from cbo_portal.models import County, Organization
from contracts.models import ServiceCatalogEntry, UnknownService
from contracts.selectors import RateBook
from referrals import rules
from referrals.choices import Priority
from referrals.models import (
    ReferralImport,
)
from referrals.services.referrals import offer_problem

_MDY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$", re.ASCII)  # 0-9 only, not "٠٣/٠١/١٩٨٠"
_SPLIT_DX = re.compile(r"[;,|\s]+")
SEX = {"m": "M", "male": "M", "f": "F", "female": "F", "u": "U", "unknown": "U", "x": "U", "": "U"}
PRIORITY = {
    "": Priority.ROUTINE,
    "routine": Priority.ROUTINE,
    "r": Priority.ROUTINE,
    "urgent": Priority.URGENT,
    "u": Priority.URGENT,
    "expedited": Priority.URGENT,
}


def parse_date(text: str) -> date:
    text = text.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    if m := _MDY.match(text):
        return date(int(m[3]), int(m[1]), int(m[2]))
    if len(text) == 8 and text.isascii() and text.isdigit():
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    raise ValueError(text)


# The file's column for a member field whose name differs.
COLUMN_OF = {"preferred_language": "language"}


class CleanRow(NamedTuple):
    """One checked row, as it waits in the spool between the passes (a tuple: cheap to pickle)."""

    line: int
    cin: str
    first_name: str
    last_name: str
    dob: date
    sex: str
    street: str
    city: str
    state: str
    zip: str
    phone: str
    county_id: int | None
    language: str
    service_id: int
    diagnosis: list[str]
    priority: str
    plan_reference: str
    cbo_id: int
    reason: str
    enrollment_start: date | None


class RowChecker:
    """Checks rows one at a time with everything looked up once (catalog, counties, providers).
    Duplicate plan references across rows are found afterwards, a batch at a time, by
    ``DuplicateFinder``."""

    def __init__(self, batch: ReferralImport) -> None:
        self.batch = batch
        self.today = timezone.localdate()
        self.counties = {c.name.lower(): c.pk for c in County.objects.all()}
        self.counties.update({c.fips: c.pk for c in County.objects.all()})
        self.services: dict[str, int | str] = {}
        self.providers = dict(
            Organization.objects.approved_providers().exclude(npi="").values_list("npi", "pk")
        )
        self.county_records = {c.pk: c for c in County.objects.all()}
        self.entries: dict[int, ServiceCatalogEntry] = {}
        self.books: dict[int, RateBook] = {}

    def _offer_problem(self, cbo_id: int, service_id: int, county_id: int | None) -> str:
        """``referrals.offer_problem`` for the row, with each CBO's contracts loaded once."""
        if cbo_id not in self.books:
            self.books[cbo_id] = RateBook.load(Organization.objects.get(pk=cbo_id), self.batch.plan)
        if service_id not in self.entries:
            self.entries[service_id] = ServiceCatalogEntry.objects.get(pk=service_id)
        return offer_problem(
            self.books[cbo_id],
            self.entries[service_id],
            county=self.county_records.get(county_id) if county_id is not None else None,
            on=self.today,
        )

    def _service(self, text: str) -> int | str:
        key = text.strip().upper()
        if key not in self.services:
            code, *mods = re.split(r"[\s\-:,+]+", key) if key else [""]
            try:
                self.services[key] = ServiceCatalogEntry.objects.lookup(code, mods).pk
            except UnknownService as exc:
                self.services[key] = exc.messages[0]
        return self.services[key]

    def check(self, line: int, row: dict[str, str]) -> tuple[CleanRow | None, list[tuple[str, str]]]:
        """The clean row, or the (column, message) problems that keep it out."""
        errors: list[tuple[str, str]] = []
        get = row.get
        cin = (get("cin") or "").strip().upper()
        first, last = (get("first_name") or "").strip(), (get("last_name") or "").strip()
        text = {
            "street": (get("street") or "").strip(),
            "city": (get("city") or "").strip(),
            "state": ((get("state") or "").strip() or "CA").upper(),
            "zip": (get("zip") or "").strip(),
            "phone": (get("phone") or "").strip(),
            "preferred_language": (get("language") or "").strip(),
        }
        dob = None
        raw_dob = (get("dob") or "").strip()
        try:
            dob = parse_date(raw_dob)
        except ValueError:
            errors.append(
                (
                    "dob",
                    f"“{raw_dob}” is not a date; use YYYY-MM-DD or MM/DD/YYYY."
                    if raw_dob
                    else "The date of birth is missing.",
                )
            )
        for field, member_problem in rules.member_problems(
            cin=cin, first_name=first, last_name=last, dob=dob, today=self.today, text=text
        ).items():
            if field == "cin" and cin:
                member_problem = f"“{cin}”: {member_problem}"
            errors.append((COLUMN_OF.get(field, field), member_problem))
        service_text = (get("service") or "").strip()
        if get("modifiers"):
            service_text = f"{service_text}-{get('modifiers')}"
        service = self._service(service_text) if service_text else "The service is missing."
        if isinstance(service, str):
            errors.append(("service", service))
        sex = SEX.get((get("sex") or "").strip().lower())
        if sex is None:
            errors.append(("sex", f"“{get('sex')}” is not a sex code; use M, F or U."))
        priority = PRIORITY.get((get("priority") or "").strip().lower())
        if priority is None:
            errors.append(("priority", f"“{get('priority')}” is not a priority; use routine or urgent."))
        county_text = (get("county") or "").strip().lower().removesuffix(" county")
        county_id = self.counties.get(county_text) if county_text else None
        if county_text and county_id is None:
            errors.append(("county", f"“{get('county')}” is not a California county."))
        diagnosis = [c.upper() for c in _SPLIT_DX.split((get("diagnosis") or "").strip()) if c]
        if problem := rules.diagnosis_problem(diagnosis):
            errors.append(("diagnosis", problem))
        ref = (get("plan_reference") or "").strip()
        if not ref:
            errors.append(
                (
                    "plan_reference",
                    "The plan reference is missing (it keeps re-uploads from creating the referral twice).",
                )
            )
        elif problem := rules.plan_reference_problem(ref):
            errors.append(("plan_reference", problem))
        npi = (get("cbo_npi") or "").strip()
        cbo_id = self.batch.cbo_id
        if npi:
            cbo_id = self.providers.get(npi)
            if cbo_id is None:
                errors.append(("cbo_npi", f"No approved CBO has NPI {npi}."))
        elif cbo_id is None:
            errors.append(("cbo_npi", "Name the CBO (its NPI) or choose one when uploading."))
        start = None
        if raw := (get("enrollment_start") or "").strip():
            try:
                start = parse_date(raw)
            except ValueError:
                errors.append(("enrollment_start", f"“{raw}” is not a date; use YYYY-MM-DD or MM/DD/YYYY."))
        county_known = not (county_text and county_id is None)
        if (
            isinstance(service, int)
            and cbo_id is not None
            and county_known
            and (problem := self._offer_problem(cbo_id, service, county_id))
        ):
            errors.append(("service", problem))
        if errors:
            return None, errors
        # Each of these, when missing, added an error above.
        assert dob is not None and sex is not None and priority is not None
        assert cbo_id is not None and isinstance(service, int)
        return CleanRow(
            line=line,
            cin=cin,
            first_name=first,
            last_name=last,
            dob=dob,
            sex=sex,
            street=text["street"],
            city=text["city"],
            state=text["state"],
            zip=text["zip"],
            phone=text["phone"],
            county_id=county_id,
            language=text["preferred_language"],
            service_id=service,
            diagnosis=diagnosis,
            priority=priority,
            plan_reference=ref,
            cbo_id=cbo_id,
            reason=(get("reason") or "").strip(),
            enrollment_start=start,
        ), []
