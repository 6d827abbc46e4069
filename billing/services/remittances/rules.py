"""The 835's decisions, in one place: what is a denial, a claim's status after a payment, what the
member owes, how the bytes are read."""

from __future__ import annotations

from decimal import Decimal

from billing.choices import ClaimStatus
from billing.services.filecheck import nul_byte_problem
from billing.x12 import remit835 as x835
from billing.x12.common import X12ParseError

ZERO = Decimal("0.00")
# Claims an 835 may speak about: the plan has them, and they have not been replaced or withdrawn.
MATCHABLE_STATUSES = frozenset(
    {
        ClaimStatus.SUBMITTED,
        ClaimStatus.ACCEPTED,
        ClaimStatus.PAID,
        ClaimStatus.PARTIALLY_PAID,
        ClaimStatus.DENIED,
    }
)
REVERSAL = "22"
DENIED = "4"


def is_denial(status_code: str, paid: Decimal) -> bool:
    """A CLP is a denial when the plan says so (CLP02 4) or pays nothing on a processed claim.
    Reversals (CLP02 22) are never denials themselves."""
    if status_code == REVERSAL:
        return False
    return status_code == DENIED or paid <= 0


def adjudicated_status(*, paid: Decimal, billed: Decimal, denied: bool) -> str:
    """A claim's status after an 835: denied when the plan's last word was a denial or nothing is
    left paid (a reversal not followed by a new payment); partially paid when the net paid amount is
    below the billed amount (CO-45 reductions, partial line denials); paid otherwise."""
    if denied or paid <= 0:
        return ClaimStatus.DENIED
    if paid < billed:
        return ClaimStatus.PARTIALLY_PAID
    return ClaimStatus.PAID


def decode_x12(data: bytes, what: str) -> str:
    """X12 is ASCII; accept UTF-8 (with or without a byte-order mark, which some payers' systems
    write) and fall back to Latin-1 so the parser gives the real error."""
    if not data or not data.strip():
        raise X12ParseError(f"the {what} file is empty")
    if problem := nul_byte_problem(data, what):
        raise X12ParseError(problem)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def patient_responsibility_of(cp: x835.ClaimPayment) -> Decimal:
    """What the member owes by this CLP: CLP05 when the payer sent it; otherwise the sum of the
    claim's PR (patient responsibility) adjustments, claim and line level. A reversal (CLP02 22)
    carries them negative, so it takes back what the original put on the member even when it
    leaves CLP05 out."""
    if cp.patient_responsibility is not None:
        return cp.patient_responsibility
    total = ZERO
    for _service, adjustment in cp.all_adjustments():
        if adjustment.group == "PR":
            total += adjustment.amount
    return total


# --------------------------------------------------------------------------- import
