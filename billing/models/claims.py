"""Claims and their lines: what a CBO bills a plan for the services its staff logged."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from billing.choices import ClaimFrequency, ClaimStatus
from billing.scope import billing_scope_q

# Plans see a claim once it has been sent to them.
SENT_STATUSES = [
    s
    for s in ClaimStatus.values
    if s not in (ClaimStatus.DRAFT, ClaimStatus.HELD, ClaimStatus.READY, ClaimStatus.IN_BATCH)
]


class ClaimQuerySet(models.QuerySet):
    def visible_to(self, user) -> ClaimQuerySet:
        """The billing provider's (and its hub's) admins and billing coordinators see its claims;
        the submitter sees what it submits; the plan sees claims once they are sent to it."""
        provider_side = billing_scope_q(user, provider="billing_provider", submitter="submitter", plan=None)
        if provider_side is None:
            return self
        plan_side = billing_scope_q(user, provider="billing_provider", submitter=None, plan="plan")
        return self.filter(provider_side | (plan_side & Q(status__in=SENT_STATUSES)))

    def for_list(self) -> ClaimQuerySet:
        return self.select_related("billing_provider", "plan", "member", "batch")


class Claim(models.Model):
    """One claim: one billing provider, plan, member, authorization and month of service, at
    most 50 lines. ``control_number`` is CLM01, unique per billing provider, and comes back in
    the 835 as CLP01. A replacement (frequency 7) or void (8) names the claim it ``replaces``
    and carries the plan's claim number.

    Money: ``billed_amount`` is the sum of the lines' charges; ``paid_amount`` and
    ``patient_responsibility`` are the running totals of the append-only payment rows, kept in
    step by the reconciliation service in the same transaction that adds the rows.
    """

    # No single-column indexes on billing_provider and submitter: the composite indexes below
    # lead with them (every index is written for each of the thousands of claims a build
    # inserts and a batch updates).
    billing_provider = models.ForeignKey(
        "cbo_portal.Organization", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    submitter = models.ForeignKey(
        "cbo_portal.Organization",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        help_text="Who sends the claim: the provider itself or the hub billing for it",
    )
    plan = models.ForeignKey("cbo_portal.Organization", on_delete=models.PROTECT, related_name="+")
    contract = models.ForeignKey("contracts.Contract", on_delete=models.PROTECT, related_name="claims")
    member = models.ForeignKey("referrals.Member", on_delete=models.PROTECT, related_name="claims")
    # No index: no query looks claims up by referral (related_name "+"), and referrals are
    # closed, never deleted, so the PROTECT check that would use it never runs.
    referral = models.ForeignKey(
        "referrals.Referral",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    # Most claims have no authorization (ECM is presumptively authorized): a partial index
    # (Meta.indexes, ``claim_authorization``) serves ``authorization_id = x`` and costs nothing
    # on the claims without one.
    authorization = models.ForeignKey(
        "referrals.Authorization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="claims",
        db_index=False,
    )
    service_month = models.DateField(help_text="First day of the month of service")
    first_service_date = models.DateField()
    last_service_date = models.DateField()
    control_number = models.CharField(max_length=20)
    frequency = models.CharField(
        max_length=1, choices=ClaimFrequency.choices, default=ClaimFrequency.ORIGINAL
    )
    # Partial index ``claim_replaces`` (only frequency 7/8 claims have one).
    replaces = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by", db_index=False
    )
    payer_claim_number = models.CharField(
        max_length=50, blank=True, help_text="The plan's claim number (CLP07)"
    )
    status = models.CharField(max_length=16, choices=ClaimStatus.choices, default=ClaimStatus.DRAFT)
    place_of_service = models.CharField(max_length=2)
    diagnosis_codes = models.JSONField(default=list, help_text="ICD-10-CM codes, principal first")
    billed_amount = models.DecimalField(max_digits=12, decimal_places=2)
    paid_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    patient_responsibility = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    problems = models.JSONField(default=list, blank=True, help_text="The scrubber's findings")
    # Partial index ``claim_batch``: a claim is inserted without a batch, so the build writes no
    # entry for it; the batch UPDATE adds one.
    batch = models.ForeignKey(
        "billing.Batch",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="claims",
        db_index=False,
    )
    transaction_set_control = models.CharField(
        max_length=9, blank=True, help_text="ST02 of the set it was sent in"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    adjudicated_at = models.DateTimeField(null=True, blank=True)
    # No index: nothing looks claims up by their creator, and users are deactivated, never
    # deleted (PROTECT), so the delete check that would use it never runs.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ClaimQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["billing_provider", "control_number"], name="claim_control_number_unique"
            ),
            models.CheckConstraint(condition=Q(billed_amount__gte=0), name="claim_billed_not_negative"),
        ]
        indexes = [
            models.Index(fields=["status", "plan"], name="claim_status_plan"),
            models.Index(fields=["submitter", "plan", "status"], name="claim_submitter_plan_status"),
            models.Index(fields=["billing_provider", "service_month"], name="claim_provider_month"),
            models.Index(fields=["control_number"], name="claim_control_number"),
            models.Index(fields=["batch"], name="claim_batch", condition=Q(batch__isnull=False)),
            models.Index(fields=["replaces"], name="claim_replaces", condition=Q(replaces__isnull=False)),
            models.Index(
                fields=["authorization"], name="claim_authorization", condition=Q(authorization__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"Claim {self.control_number}"

    @property
    def balance(self):
        """What is still open: billed − paid − patient responsibility − adjustments is derived by
        the reports; this is the simple billed − paid figure shown on lists."""
        return self.billed_amount - self.paid_amount

    @property
    def overpaid(self) -> bool:
        """Paid more than billed (net of reversals): a payment posted twice, or a payer error to
        report and refund. Shown on the claim and in the remittance summary."""
        return self.paid_amount > self.billed_amount


class ClaimLine(models.Model):
    """One service line (2400 loop) billing one logged service delivery.

    A delivery is on at most one *live* line: the database enforces it with a partial unique
    constraint, so two coordinators building claims at once cannot bill a service twice. Lines
    of corrected or voided claims are no longer live.
    """

    # Indexed by the (claim, line_number) unique constraint, which leads with it.
    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="lines", db_index=False)
    line_number = models.PositiveSmallIntegerField()
    delivery = models.ForeignKey(
        "referrals.ServiceDelivery", on_delete=models.PROTECT, related_name="claim_lines"
    )
    live = models.BooleanField(default=True)
    # Unique by a constraint (Meta), not ``unique=True``, which would add a second
    # (varchar_pattern_ops) index for LIKE queries that nothing runs.
    line_control_number = models.CharField(max_length=30, help_text="REF*6R, echoed in the 835")
    # No index: catalog entries are retired, never deleted (PROTECT), and no query filters lines
    # by service.
    service = models.ForeignKey(
        "contracts.ServiceCatalogEntry", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    procedure_code = models.CharField(max_length=5)
    modifiers = models.JSONField(default=list)
    service_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    units = models.DecimalField(max_digits=10, decimal_places=2)
    rate = models.DecimalField(
        max_digits=12, decimal_places=4, help_text="The contract rate in force on the date"
    )
    charge = models.DecimalField(max_digits=12, decimal_places=2)
    diagnosis_pointers = models.JSONField(default=list)
    place_of_service = models.CharField(
        max_length=2,
        default="",
        blank=True,
        help_text="The delivery's place of service (SV105), copied when the line is built so the 837 "
        "export reads it without joining the delivery; empty on lines built before it existed",
    )
    paid_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)

    class Meta:
        ordering = ["claim", "line_number"]
        constraints = [
            models.UniqueConstraint(fields=["claim", "line_number"], name="claim_line_number_unique"),
            models.UniqueConstraint(fields=["line_control_number"], name="claim_line_control_number_unique"),
            models.UniqueConstraint(
                fields=["delivery"], condition=Q(live=True), name="delivery_on_one_live_claim"
            ),
            models.CheckConstraint(condition=Q(charge__gte=0), name="claim_line_charge_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.claim.control_number} line {self.line_number}"


class ClaimStatusChange(models.Model):
    """History: every status a claim passed through, who or what moved it, and why."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField(max_length=16, choices=ClaimStatus.choices)
    to_status = models.CharField(max_length=16, choices=ClaimStatus.choices)
    # No index: users are never deleted (PROTECT) and history is read by claim. Every bulk move
    # writes one row per claim, so each index here is written 100,000 times a batch.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"Claim {self.claim_id}: {self.from_status} → {self.to_status}"
