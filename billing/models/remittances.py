"""835 remittances and the append-only payment and adjustment rows they post."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from billing.choices import AdjustmentGroup
from billing.scope import billing_scope_q


class RemittanceQuerySet(models.QuerySet):
    def visible_to(self, user) -> RemittanceQuerySet:
        """The payee's (and its hub's) admins and billing coordinators, the paying plan's billing
        roles, platform admins."""
        q = billing_scope_q(user, provider="payee", submitter=None, plan="plan")
        return self if q is None else self.filter(q)


class Remittance(models.Model):
    """One imported 835 transaction set: one payment (BPR/TRN), posted once and only when it
    balances (BPR02 = Σ CLP04 − Σ PLB).

    A payment's identity is the payment, not the file: ``payment_key`` is made from the payer
    (TRN03, else its payer id), the trace number (TRN02), the payment date and the amount
    (``billing.services.remittances.payment_key``), and is unique. The same payment sent again in a
    new envelope or with new line breaks is "already posted". ``sha256`` is the raw file's, kept to
    say which bytes the payment came in (every set of a file has the same one).
    """

    plan = models.ForeignKey("cbo_portal.Organization", null=True, on_delete=models.PROTECT, related_name="+")
    payee = models.ForeignKey(
        "cbo_portal.Organization", null=True, on_delete=models.PROTECT, related_name="+"
    )
    file = models.FileField(upload_to="remittances/%Y/%m/")
    file_name = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64, help_text="SHA-256 of the file this payment came in")
    payment_key = models.CharField(
        max_length=64,
        null=True,
        blank=True,
        editable=False,
        help_text="What makes the payment itself: payer, trace number, date and amount (hashed)",
    )
    originator_id = models.CharField(
        max_length=50, blank=True, help_text="TRN03: the payer's originating company id"
    )
    payer_name = models.CharField(max_length=120)
    payer_id = models.CharField(max_length=50, blank=True)
    payee_npi = models.CharField(max_length=10, blank=True)
    trace_number = models.CharField(max_length=50, help_text="TRN02: check or EFT trace number")
    payment_method = models.CharField(max_length=3, blank=True)
    payment_date = models.DateField(null=True, blank=True)
    total_paid = models.DecimalField(max_digits=14, decimal_places=2)
    claim_count = models.PositiveIntegerField(default=0)
    matched_count = models.PositiveIntegerField(default=0)
    unmatched_count = models.PositiveIntegerField(default=0)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    imported_at = models.DateTimeField(auto_now_add=True)

    objects = RemittanceQuerySet.as_manager()

    class Meta:
        ordering = ["-imported_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["payment_key"], name="remittance_payment_once")]
        indexes = [models.Index(fields=["sha256"], name="remittance_sha256")]

    def __str__(self) -> str:
        return f"835 {self.trace_number} from {self.payer_name}"


class RemittanceClaimQuerySet(models.QuerySet):
    def visible_to(self, user) -> RemittanceClaimQuerySet:
        return self.filter(remittance__in=Remittance.objects.visible_to(user))


class RemittanceClaim(models.Model):
    """One CLP of an 835, matched to our claim by CLP01 (or left unmatched for the work queue)."""

    remittance = models.ForeignKey(Remittance, on_delete=models.CASCADE, related_name="claims")
    # Indexed once, by ``remit_claim_claim`` (Meta); the foreign key's own index was a duplicate.
    claim = models.ForeignKey(
        "billing.Claim",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="remits",
        db_index=False,
    )
    patient_control_number = models.CharField(max_length=38)
    status_code = models.CharField(max_length=2, help_text="CLP02: 1/2/3 processed, 4 denied, 22 reversal")
    charge = models.DecimalField(max_digits=12, decimal_places=2)
    paid = models.DecimalField(max_digits=12, decimal_places=2)
    patient_responsibility = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    payer_claim_number = models.CharField(max_length=50, blank=True)
    resolved_at = models.DateTimeField(
        null=True, blank=True, help_text="When an unmatched row was dealt with"
    )
    # No index: users are never deleted (PROTECT) and nothing looks rows up by who resolved them.
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    resolution_note = models.TextField(blank=True)

    objects = RemittanceClaimQuerySet.as_manager()

    class Meta:
        ordering = ["remittance", "pk"]
        indexes = [
            models.Index(fields=["claim"], name="remit_claim_claim"),
            models.Index(fields=["patient_control_number"], name="remit_claim_pcn"),
        ]

    def __str__(self) -> str:
        return f"CLP {self.patient_control_number} ({self.status_code})"

    @property
    def is_reversal(self) -> bool:
        return self.status_code == "22"


class Payment(models.Model):
    """Money the plan paid (or took back, negative) on a claim or line. Append-only."""

    claim = models.ForeignKey("billing.Claim", on_delete=models.PROTECT, related_name="payments")
    claim_line = models.ForeignKey(
        "billing.ClaimLine", null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    remittance_claim = models.ForeignKey(RemittanceClaim, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"Payment {self.amount} on claim {self.claim_id}"


class Adjustment(models.Model):
    """A CAS adjustment: group (CO/OA/PI/PR), CARC, optional RARCs, amount. Append-only."""

    claim = models.ForeignKey("billing.Claim", on_delete=models.PROTECT, related_name="adjustments")
    claim_line = models.ForeignKey(
        "billing.ClaimLine", null=True, blank=True, on_delete=models.PROTECT, related_name="adjustments"
    )
    remittance_claim = models.ForeignKey(
        RemittanceClaim, on_delete=models.PROTECT, related_name="adjustments"
    )
    group = models.CharField(max_length=2, choices=AdjustmentGroup.choices)
    carc = models.CharField(max_length=5)
    rarcs = models.JSONField(default=list, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    quantity = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["carc"], name="adjustment_carc")]

    def __str__(self) -> str:
        return f"{self.group}-{self.carc} {self.amount}"


class ProviderAdjustment(models.Model):
    """A PLB provider-level adjustment (interest L6, recoupment WO, forwarding balance FB, ...).
    Positive amounts reduce the payment, negative ones add to it, as in the 835."""

    remittance = models.ForeignKey(Remittance, on_delete=models.CASCADE, related_name="provider_adjustments")
    provider_identifier = models.CharField(max_length=50)
    fiscal_period_end = models.DateField(null=True, blank=True)
    reason_code = models.CharField(max_length=2)
    reference = models.CharField(max_length=50, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["remittance", "pk"]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="plb_amount_not_zero")]

    def __str__(self) -> str:
        return f"PLB {self.reason_code} {self.amount}"
