"""Closed-loop referrals from plans to CBOs, their status history and outreach attempts."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from referrals import rules
from referrals.choices import (
    AWAITING_RESPONSE,
    LOOP_CLOSED,
    ContactPreference,
    LoopClosureReason,
    OutreachMethod,
    PopulationOfFocus,
    Priority,
    ReferralSource,
    ReferralStatus,
)
from referrals.scope import scope_q

# A justice-involved member's services may start this many days before the expected release.
PRE_RELEASE_DAYS = 90


class ReferralQuerySet(models.QuerySet):
    def visible_to(self, user) -> ReferralQuerySet:
        """The referring plan, the CBO referred to (and its hub), platform admins."""
        q = scope_q(user)
        return self if q is None else self.filter(q)

    def for_list(self) -> ReferralQuerySet:
        return self.select_related("member", "plan", "cbo", "service")

    def awaiting_response(self) -> ReferralQuerySet:
        return self.filter(status__in=AWAITING_RESPONSE)

    def overdue(self, now=None) -> ReferralQuerySet:
        return self.filter(status__in=AWAITING_RESPONSE, respond_by__lt=now or timezone.now())


class Referral(models.Model):
    """A plan's referral of one member to one CBO for one service, tracked until the loop closes.

    Rules: diagnosis codes are ICD-10-CM; a justice-involved referral names the facility and the
    expected release date; the plan reference, when given, is unique per plan (it is the natural
    key that makes bulk files idempotent). Status moves only through services.referrals.
    """

    # plan and cbo lead the composite indexes below, so they need no index of their own; fewer
    # indexes keep bulk imports fast.
    plan = models.ForeignKey(
        "cbo_portal.Organization", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    cbo = models.ForeignKey(
        "cbo_portal.Organization",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name="CBO",
        db_index=False,
    )
    member = models.ForeignKey("referrals.Member", on_delete=models.PROTECT, related_name="referrals")
    service = models.ForeignKey(
        "contracts.ServiceCatalogEntry", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    source = models.CharField(max_length=10, choices=ReferralSource.choices, default=ReferralSource.PLAN)
    plan_reference = models.CharField(
        max_length=rules.PLAN_REFERENCE_LENGTH, blank=True, help_text="The plan's own referral id"
    )
    reason = models.TextField(blank=True)
    diagnosis_codes = models.JSONField(default=list, blank=True, help_text="ICD-10-CM codes, e.g. Z59.01")
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.ROUTINE)
    population = models.CharField(
        "population of focus", max_length=20, choices=PopulationOfFocus.choices, blank=True
    )
    expected_release_date = models.DateField(null=True, blank=True)
    facility_name = models.CharField("correctional facility", max_length=160, blank=True)
    post_release_provider = models.ForeignKey(
        "cbo_portal.Organization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The ECM provider who takes over after release",
        db_index=False,
    )
    handed_off_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="handoffs"
    )
    notes = models.TextField(blank=True)
    contact_preference = models.CharField(max_length=10, choices=ContactPreference.choices, blank=True)
    contact_notes = models.CharField("best times / contact notes", max_length=200, blank=True)
    # What a CBO typed about the member on a self/community referral. The member's record belongs
    # to their plan, so the CBO's details are kept here for the plan to review, never written to it.
    submitted_member = models.JSONField(null=True, blank=True)

    status = models.CharField(max_length=20, choices=ReferralStatus.choices, default=ReferralStatus.RECEIVED)
    status_changed_at = models.DateTimeField(default=timezone.now)
    respond_by = models.DateTimeField(null=True, blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    decline_reason = models.CharField(max_length=300, blank=True)
    closure_reason = models.CharField(max_length=20, choices=LoopClosureReason.choices, blank=True)
    closure_note = models.CharField(max_length=300, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    first_service_date = models.DateField(null=True, blank=True)

    import_batch = models.ForeignKey(
        "referrals.ReferralImport", null=True, blank=True, on_delete=models.SET_NULL, related_name="referrals"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = ReferralQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "plan_reference"],
                condition=~Q(plan_reference=""),
                name="referral_plan_reference_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["cbo", "status", "-created_at"], name="referral_cbo_status"),
            models.Index(fields=["plan", "status", "-created_at"], name="referral_plan_status"),
            models.Index(fields=["cbo", "-created_at"], name="referral_cbo_created"),
            models.Index(fields=["plan", "-created_at"], name="referral_plan_created"),
            # a hub's lists (several CBOs): read newest first, filtered to its CBOs; the per-CBO
            # index would have to sort every row of them
            models.Index(fields=["-created_at", "-id"], name="referral_created"),
            models.Index(fields=["status", "respond_by"], name="referral_status_due"),
            models.Index(fields=["plan", "status_changed_at"], name="referral_plan_changed"),
            # Overdue lists and counts (awaiting a response, past respond_by) per plan and per CBO:
            # only the referrals still awaiting an answer, newest first, the deadline in the key so
            # the "past it" test is answered from the index.
            models.Index(
                fields=["plan", "-created_at", "respond_by"],
                condition=Q(status__in=AWAITING_RESPONSE),
                name="referral_plan_awaiting",
            ),
            models.Index(
                fields=["cbo", "-created_at", "respond_by"],
                condition=Q(status__in=AWAITING_RESPONSE),
                name="referral_cbo_awaiting",
            ),
            # Urgent referrals (a tenth of them), the lists' and the API's priority filter.
            models.Index(
                fields=["plan", "-created_at"],
                condition=Q(priority=Priority.URGENT),
                name="referral_plan_urgent",
            ),
            models.Index(
                fields=["cbo", "-created_at"],
                condition=Q(priority=Priority.URGENT),
                name="referral_cbo_urgent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number}: {self.member_id} → {self.cbo_id}"

    @property
    def member_hidden(self) -> bool:
        """While a CBO's self/community referral waits for the plan's review, it grants no access
        to the member's record: the referral shows only what the CBO typed."""
        return self.status == ReferralStatus.PENDING_REVIEW and self.submitted_member is not None

    @property
    def shown_member(self):
        """The member as this referral may show them (see ``member_hidden``)."""
        if self.member_hidden:
            from referrals.models.members import SubmittedMember

            return SubmittedMember.from_details(self.member.cin, self.submitted_member or {})
        return self.member

    @property
    def number(self) -> str:
        return f"R-{self.pk:06d}" if self.pk else "R-new"

    @property
    def is_overdue(self) -> bool:
        return (
            self.status in AWAITING_RESPONSE
            and self.respond_by is not None
            and self.respond_by < timezone.now()
        )

    @property
    def loop_closed(self) -> bool:
        return self.status in LOOP_CLOSED

    @property
    def earliest_service_date(self):
        """Justice-involved members may be served up to 90 days before their expected release."""
        if self.population == PopulationOfFocus.JUSTICE_INVOLVED and self.expected_release_date:
            return self.expected_release_date - timedelta(days=PRE_RELEASE_DAYS)
        return None

    def clean(self) -> None:
        errors: dict[str, str] = {}
        codes = [c.strip().upper() for c in (self.diagnosis_codes or []) if c and c.strip()]
        if problem := rules.diagnosis_problem(codes):
            errors["diagnosis_codes"] = problem
        self.diagnosis_codes = codes
        if self.population == PopulationOfFocus.JUSTICE_INVOLVED:
            if not self.expected_release_date:
                errors["expected_release_date"] = (
                    "A justice-involved referral needs the expected release date."
                )
            if not (self.facility_name or "").strip():
                errors["facility_name"] = "Name the facility the member is being released from."
        if self.plan_id and self.cbo_id and self.plan_id == self.cbo_id:
            errors["cbo"] = "A plan cannot refer to itself."
        if errors:
            raise ValidationError(errors)


class ReferralStatusChange(models.Model):
    """One step in a referral's closed loop: from which status to which, who, when and why."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField(max_length=20, choices=ReferralStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=ReferralStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.referral_id}: {self.from_status or '—'} → {self.to_status}"


class OutreachAttemptQuerySet(models.QuerySet):
    def visible_to(self, user) -> OutreachAttemptQuerySet:
        q = scope_q(user, plan="referral__plan", cbo="referral__cbo")
        return self if q is None else self.filter(q)


class OutreachAttempt(models.Model):
    """An attempt to reach the member: when, how, whether it worked, minutes spent. Reported to
    the plan in the outreach tracker file."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="outreach_attempts")
    attempted_on = models.DateField()
    method = models.CharField(max_length=10, choices=OutreachMethod.choices)
    successful = models.BooleanField(default=False)
    minutes = models.PositiveIntegerField(default=0)
    note = models.CharField(max_length=300, blank=True)
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OutreachAttemptQuerySet.as_manager()

    class Meta:
        ordering = ["-attempted_on", "-pk"]
        indexes = [models.Index(fields=["referral", "attempted_on"])]

    def __str__(self) -> str:
        return f"{self.get_method_display()} on {self.attempted_on}"

    def clean(self) -> None:
        if self.attempted_on and self.attempted_on > timezone.localdate():
            raise ValidationError({"attempted_on": "An outreach attempt cannot be in the future."})
        if self.minutes is not None and self.minutes > 24 * 60:
            raise ValidationError({"minutes": "An attempt cannot take more than a day."})
