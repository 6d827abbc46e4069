"""Invoices for plans that take them instead of 837P (``contract.claim_format == "invoice"``).

DHCS requires plans to accept invoices from CBOs that cannot send 837P; the plan converts them to
encounters, so an invoice carries the same core facts as a claim: member
name, date of birth and CIN; provider name, NPI, TIN and address; dates of service; code and
modifiers; units; charge; authorization number; invoice number (the claim control number) and
invoice date. One CSV row per service line; a printable page per plan and month.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import IO

from django.utils import timezone

from billing.models import Claim, ClaimLine
from cbo_portal import csvsafe
from contracts.money import ZERO

HEADER = [
    "invoice_number",
    "invoice_date",
    "plan",
    "provider_name",
    "provider_npi",
    "provider_tin",
    "provider_address",
    "member_last_name",
    "member_first_name",
    "member_dob",
    "member_cin",
    "authorization_number",
    "line",
    "service_date",
    "service_end_date",
    "procedure_code",
    "modifiers",
    "units",
    "rate",
    "charge",
    "diagnosis_codes",
    "place_of_service",
]


def sha256_of(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _lines(claim_ids: Sequence[int]):
    return (
        ClaimLine.objects.filter(claim_id__in=claim_ids)
        .select_related("claim__billing_provider", "claim__member", "claim__plan", "claim__authorization")
        .order_by("claim__billing_provider_id", "claim__member_id", "claim_id", "line_number")
    )


def write_csv(out: IO[str], claim_ids: Sequence[int], *, invoice_date: date | None = None) -> int:
    """Write the invoice CSV of ``claim_ids``; returns the number of claims. Formula-leading text
    (a member named ``=cmd``) is neutralised; amounts stay numbers (``cbo_portal.csvsafe``)."""
    invoice_date = invoice_date or timezone.localdate()
    writer = csvsafe.writer(out)
    writer.writerow(HEADER)
    for start in range(0, len(claim_ids), 2000):
        for ln in _lines(claim_ids[start : start + 2000]).iterator(chunk_size=2000):
            c, p, m = ln.claim, ln.claim.billing_provider, ln.claim.member
            writer.writerow(
                [
                    c.control_number,
                    invoice_date.isoformat(),
                    c.plan.legal_name,
                    p.legal_name,
                    p.npi,
                    p.tin,
                    f"{p.service_street}, {p.service_city}, {p.service_state} {p.service_zip}",
                    m.last_name,
                    m.first_name,
                    m.dob.isoformat(),
                    m.cin,
                    c.authorization.number if c.authorization else "",
                    ln.line_number,
                    ln.service_date.isoformat(),
                    ln.end_date.isoformat() if ln.end_date else "",
                    ln.procedure_code,
                    " ".join(ln.modifiers),
                    ln.units,
                    ln.rate,
                    ln.charge,
                    " ".join(c.diagnosis_codes),
                    c.place_of_service,
                ]
            )
    return len(claim_ids)


@dataclass
class InvoicePage:
    """One printable invoice: the claims of one plan and month of service, with totals."""

    month: date
    plan: object
    provider: object
    claims: list[Claim] = field(default_factory=list)
    total: Decimal = ZERO
    invoice_date: date | None = None


def invoice_pages(claims) -> list[InvoicePage]:
    """Group ``claims`` (a queryset) into one page per billing provider, plan and month."""
    pages: dict[tuple, InvoicePage] = {}
    qs = claims.select_related("plan", "billing_provider", "member", "authorization").prefetch_related(
        "lines"
    )
    for c in qs.order_by("billing_provider_id", "plan_id", "service_month", "member__last_name", "pk"):
        key = (c.billing_provider_id, c.plan_id, c.service_month)
        page = pages.get(key)
        if page is None:
            page = pages[key] = InvoicePage(
                c.service_month, c.plan, c.billing_provider, invoice_date=timezone.localdate()
            )
        page.claims.append(c)
        page.total += c.billed_amount
    return list(pages.values())
