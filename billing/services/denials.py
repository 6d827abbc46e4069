"""The denials work queue: denied and short-paid claims, why, what to do, and the two ways out.

Rules:

* The queue holds the claims a user may see (``Claim.visible_to``) that the plan denied or paid
  short (status denied or partially paid). The reason shown is the plan's latest word on the claim:
  the CAS adjustments of its latest 835 claim payment that is not a reversal, explained in words
  (``billing.x12.carc``); patient responsibility (PR) is listed but is not what we fix.
* Only the billing provider's side (its, or its hub's, admins and billing coordinators, and
  platform admins) may correct or void; plans read the queue.
* Correct-and-resubmit makes a replacement claim (frequency 7) carrying the plan's claim number;
  void sends a frequency-8 claim. Both are done by the claims service
  (``billing.services.claims.correct_claim`` / ``void_claim``), called here so that the page and
  the API share the permission rule.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch, QuerySet

from billing.choices import ClaimStatus
from billing.models import Adjustment, Claim, RemittanceClaim
from billing.scope import PROVIDER_BILLING_ROLES
from billing.x12 import carc as codes
from cbo_portal import access

QUEUE_STATUSES = (ClaimStatus.DENIED, ClaimStatus.PARTIALLY_PAID)


@dataclass(frozen=True)
class Reason:
    """One adjustment of a denial or short payment, explained."""

    group: str
    carc: str
    amount: object
    description: str
    advice: str
    rarcs: tuple[tuple[str, str], ...]
    is_patient_share: bool
    lines: int = 1

    @property
    def label(self) -> str:
        return f"{self.group}-{self.carc}"


def queue(user) -> QuerySet[Claim]:
    """Denied and short-paid claims the user may see, oldest decision first, with what the
    reasons need prefetched (constant number of queries)."""
    latest = RemittanceClaim.objects.exclude(status_code="22").select_related("remittance").order_by("-pk")
    return (
        Claim.objects.visible_to(user)
        .filter(status__in=QUEUE_STATUSES)
        .select_related("billing_provider", "plan", "member")
        .prefetch_related(
            Prefetch(
                "remits",
                queryset=latest.prefetch_related(
                    Prefetch("adjustments", queryset=Adjustment.objects.order_by("pk"))
                ),
                to_attr="decisions",
            ),
        )
        .order_by("adjudicated_at", "pk")
    )


def reasons(claim: Claim) -> list[Reason]:
    """The latest decision's adjustments in words (needs ``queue``'s prefetch, else queries). The
    same reason on several lines is one entry with the lines' total."""
    decisions = getattr(claim, "decisions", None)
    if decisions is None:
        decisions = list(claim.remits.exclude(status_code="22").order_by("-pk")[:1])
    if not decisions:
        return []
    out: dict[tuple, Reason] = {}
    for adj in decisions[0].adjustments.all():
        key = (adj.group, adj.carc, tuple(adj.rarcs or []))
        if key in out:
            seen = out[key]
            out[key] = replace(seen, amount=seen.amount + adj.amount, lines=seen.lines + 1)
            continue
        info = codes.carc(adj.carc)
        rarcs = tuple((code, codes.rarc(code).description) for code in adj.rarcs or [])
        out[key] = Reason(
            adj.group, adj.carc, adj.amount, info.description, info.advice, rarcs, adj.group == "PR"
        )
    return list(out.values())


def payer_claim_number(claim: Claim) -> str:
    decisions = getattr(claim, "decisions", None) or []
    return claim.payer_claim_number or (decisions[0].payer_claim_number if decisions else "")


def can_fix(user, claim: Claim) -> bool:
    """The provider side's billers (or its hub's, or the submitter's) and platform admins."""
    if access.is_platform_admin(user):
        return True
    orgs = access.org_ids_with_roles(user, PROVIDER_BILLING_ROLES)
    provider = claim.billing_provider
    return bool({claim.billing_provider_id, claim.submitter_id, provider.hub_id} & orgs)


def _claims_service():
    try:
        from billing.services import claims as claim_services
    except ImportError as exc:  # the claims part is built alongside this one
        raise ValidationError("Correcting and voiding claims is not available yet.") from exc
    return claim_services


def correct(claim: Claim, *, acting_user, reason: str = "") -> Claim:
    """Correct and resubmit: a frequency-7 replacement with the plan's claim number. Returns the
    replacement claim."""
    if not can_fix(acting_user, claim):
        raise PermissionDenied("Only the provider's billing staff can correct a claim.")
    if not payer_claim_number(claim):
        raise ValidationError(
            "The plan's claim number is missing, so a replacement cannot name the claim it replaces."
        )
    return _claims_service().correct_claim(claim, acting_user=acting_user, reason=reason)


def void(claim: Claim, *, acting_user, reason: str = "", rebill: bool = True) -> Claim:
    """Void: a frequency-8 claim telling the plan to cancel its claim; ``rebill`` says whether the
    same service goes back to billing. Returns the void claim."""
    if not can_fix(acting_user, claim):
        raise PermissionDenied("Only the provider's billing staff can void a claim.")
    return _claims_service().void_claim(claim, acting_user=acting_user, reason=reason, rebill=rebill)


# CO-45: the charge is above what the contract pays; the plan wrote the difference off. A
# replacement with the same charge gets the same answer, and the difference is not owed.
CONTRACTUAL_WRITE_OFF = ("CO", "45")


def resubmit_cannot_help(claim_reasons: list[Reason]) -> bool:
    """Every reason we could act on is a contractual write-off (CO-45): correcting and
    resubmitting cannot change the payment."""
    ours = [r for r in claim_reasons if not r.is_patient_share]
    return bool(ours) and all((r.group, r.carc) == CONTRACTUAL_WRITE_OFF for r in ours)
