"""What an 835 import reports, for a new file and for payments already posted."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Count, F, Q, Sum

from billing.models import ProviderAdjustment, Remittance, RemittanceClaim
from billing.services.remittances.rules import DENIED, REVERSAL, ZERO
from contracts.money import money


class RemittanceImportError(ValidationError):
    """An 835 that cannot be imported (malformed, unbalanced, not an 835). Nothing was changed."""


@dataclass
class ImportResult:
    """What one 835 file did. ``remittance`` is the (first) payment posted; a file with several
    transaction sets has one row each in ``remittances``."""

    remittance: Remittance | None
    claims_matched: int = 0
    claims_unmatched: int = 0
    paid_total: Decimal = ZERO
    adjustment_total: Decimal = ZERO
    provider_adjustment_total: Decimal = ZERO
    denied_count: int = 0
    already_imported: bool = False
    remittances: list[Remittance] = field(default_factory=list)
    already_posted: list[Remittance] = field(default_factory=list)  # sets of this file posted before
    overpaid: list[str] = field(default_factory=list)  # control numbers now paid more than billed

    def as_dict(self) -> dict[str, object]:
        """A JSON-friendly summary (money as strings)."""
        return {
            "remittance_ids": [r.pk for r in self.remittances],
            "file_name": self.remittance.file_name if self.remittance else "",
            "trace_numbers": [r.trace_number for r in self.remittances],
            "claims_matched": self.claims_matched,
            "claims_unmatched": self.claims_unmatched,
            "paid_total": str(self.paid_total),
            "adjustment_total": str(self.adjustment_total),
            "provider_adjustment_total": str(self.provider_adjustment_total),
            "denied_count": self.denied_count,
            "already_imported": self.already_imported,
            "already_posted": [r.trace_number for r in self.already_posted],
            "overpaid": self.overpaid,
        }


# --------------------------------------------------------------------------- rules in one place


def summarize_file(remittance: Remittance) -> ImportResult:
    """The ``ImportResult`` of a file already imported (every set that came with it)."""
    return summarize(
        list(Remittance.objects.filter(file=remittance.file.name).order_by("pk")) or [remittance]
    )


def summarize(rows: list[Remittance]) -> ImportResult:
    """The ``ImportResult`` of payments already posted, from the stored rows: importing the same
    payments again reports this and changes nothing."""
    claims = RemittanceClaim.objects.filter(remittance__in=rows)
    totals = claims.aggregate(
        matched=Count("pk", filter=Q(claim__isnull=False)),
        unmatched=Count("pk", filter=Q(claim__isnull=True)),
        paid_sum=Sum("paid"),
        charge_sum=Sum("charge"),
        denied=Count("pk", filter=~Q(status_code=REVERSAL) & (Q(status_code=DENIED) | Q(paid__lte=0))),
    )
    plb = (
        ProviderAdjustment.objects.filter(remittance__in=rows).aggregate(total=Sum("amount"))["total"] or ZERO
    )
    paid = totals["paid_sum"] or ZERO
    return ImportResult(
        remittance=rows[0],
        remittances=rows,
        claims_matched=totals["matched"],
        claims_unmatched=totals["unmatched"],
        paid_total=money(paid),
        adjustment_total=money((totals["charge_sum"] or ZERO) - paid),
        provider_adjustment_total=money(plb),
        denied_count=totals["denied"],
        already_imported=True,
        overpaid=sorted(
            set(
                claims.filter(claim__paid_amount__gt=F("claim__billed_amount")).values_list(
                    "claim__control_number", flat=True
                )
            )
        ),
    )
