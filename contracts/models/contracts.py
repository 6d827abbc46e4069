"""Plan–CBO contracts, their rate schedules (rate lines and their dated versions), amendments
and status history."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from cbo_portal.choices import OrgKind
from contracts.choices import AuthorizationMode, ClaimFormat, ConsentKind, ContractStatus, Unit

# Statuses under which a contract has (or had) force: drafts never cover anything.
IN_FORCE_STATUSES = (ContractStatus.ACTIVE, ContractStatus.EXPIRED, ContractStatus.TERMINATED)
CAP_FIELDS = (
    "units_per_authorization",
    "units_per_day",
    "units_per_week",
    "units_per_month",
    "units_per_year",
    "lifetime_dollar_cap",
)
TERM_FIELDS = ("unit", "rate", "authorization", *CAP_FIELDS, "consent_required")


def human_date(day: date | None) -> str:
    """``Jan 5, 2026``: how dates read in messages (``no date`` for a date not set)."""
    return f"{day:%b} {day.day}, {day.year}" if day is not None else "no date"


def signed_document_path(instance: Contract, filename: str) -> str:
    suffix = PurePath(filename).suffix.lower()
    return f"contracts/{instance.plan_id}/{uuid.uuid4().hex}{suffix}"


class ContractQuerySet(models.QuerySet):
    def visible_to(self, user) -> ContractQuerySet:
        """Plan members see their plan's contracts; a CBO sees its own contracts once they leave
        draft; a hub sees those it holds and those of its member CBOs; platform admins see all."""
        from cbo_portal.access import is_platform_admin, member_org_ids

        if not getattr(user, "is_authenticated", False):
            return self.none()
        if is_platform_admin(user):
            return self.all()
        own = member_org_ids(user)
        provider_side = (Q(cbo_id__in=own) | Q(cbo__hub_id__in=own)) & ~Q(status=ContractStatus.DRAFT)
        return self.filter(Q(plan_id__in=own) | provider_side)

    def for_list(self) -> ContractQuerySet:
        return self.select_related("plan", "cbo", "cbo__hub").prefetch_related("counties")


class Contract(models.Model):
    """A contract between one health plan and one CBO (or a hub contracting for its member CBOs).

    Rules: the plan is a health plan and the other party a CBO or hub; the end date is not before
    the start; timely filing is at least one day. Drafts can be edited freely; an active
    contract changes only by amendment (rates and caps) or termination. Only approved providers
    can be contracted, and active contracts for the same plan, provider and service may not
    overlap (both checked by the service layer).
    """

    plan = models.ForeignKey(
        "cbo_portal.Organization",
        on_delete=models.PROTECT,
        related_name="plan_contracts",
        limit_choices_to={"kind": OrgKind.PLAN},
    )
    cbo = models.ForeignKey(
        "cbo_portal.Organization",
        on_delete=models.PROTECT,
        related_name="provider_contracts",
        verbose_name="CBO or hub",
        limit_choices_to={"kind__in": [OrgKind.CBO, OrgKind.HUB]},
    )
    number = models.CharField("contract number", max_length=40)
    title = models.CharField(max_length=160, blank=True)
    start_date = models.DateField("effective date")
    end_date = models.DateField(
        null=True, blank=True, help_text="Last day of the contract; empty if open-ended"
    )
    counties = models.ManyToManyField("cbo_portal.County", blank=True, related_name="contracts")
    status = models.CharField(
        max_length=12, choices=ContractStatus.choices, default=ContractStatus.DRAFT, db_index=True
    )
    signed_document = models.FileField(upload_to=signed_document_path, blank=True)
    signed_document_name = models.CharField(max_length=255, blank=True)

    plan_contact_name = models.CharField(max_length=120, blank=True)
    plan_contact_email = models.EmailField(blank=True)
    plan_contact_phone = models.CharField(max_length=20, blank=True)
    cbo_contact_name = models.CharField("provider contact name", max_length=120, blank=True)
    cbo_contact_email = models.EmailField("provider contact email", blank=True)
    cbo_contact_phone = models.CharField("provider contact phone", max_length=20, blank=True)

    # The plan's claim-submission settings (X12 envelope and rules billing follows).
    payer_id = models.CharField("payer id", max_length=20, blank=True, help_text="NM1*PR payer id")
    receiver_id = models.CharField(
        max_length=15, blank=True, help_text="ISA08/GS03 and NM1*40 receiver id of the plan's clearinghouse"
    )
    submitter_id = models.CharField(max_length=15, blank=True, help_text="ISA06/GS02 and NM1*41 submitter id")
    claim_format = models.CharField(max_length=10, choices=ClaimFormat.choices, default=ClaimFormat.X12_837P)
    timely_filing_days = models.PositiveIntegerField(
        default=180, help_text="Days after the date of service a claim may be filed"
    )
    payment_terms_days = models.PositiveIntegerField(
        default=30, help_text="Days the plan has to pay a clean claim"
    )
    not_to_exceed = models.DecimalField(
        "contract ceiling",
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Most the plan will pay under this contract, if capped",
    )

    termination_date = models.DateField(
        null=True, blank=True, help_text="Services on or after this date are not covered"
    )
    termination_reason = models.TextField(blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ContractQuerySet.as_manager()

    class Meta:
        ordering = ["-start_date", "number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="contract_number_unique_per_plan")
        ]
        indexes = [models.Index(fields=["plan", "cbo", "status"])]

    def __str__(self) -> str:
        return f"{self.number} · {self.plan} ↔ {self.cbo}"

    @property
    def last_covered_day(self) -> date | None:
        """The last day a service can be covered: the end date or the day before termination."""
        ends = [
            d
            for d in (self.end_date, self.termination_date and self.termination_date - timedelta(days=1))
            if d
        ]
        return min(ends) if ends else None

    def covers_day(self, on: date) -> bool:
        last = self.last_covered_day
        return self.status in IN_FORCE_STATUSES and self.start_date <= on and (last is None or on <= last)

    def overlaps(self, start: date, last: date | None) -> bool:
        mine = self.last_covered_day
        return (last is None or self.start_date <= last) and (mine is None or start <= mine)

    @property
    def is_editable(self) -> bool:
        return self.status == ContractStatus.DRAFT

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.plan_id and self.plan.kind != OrgKind.PLAN:
            errors["plan"] = "A contract is made by a health plan."
        if self.cbo_id and self.cbo.kind not in (OrgKind.CBO, OrgKind.HUB):
            errors["cbo"] = "A plan contracts with a CBO or a community care hub."
        if self.start_date and self.end_date and self.end_date < self.start_date:
            errors["end_date"] = (
                f"The end date ({human_date(self.end_date)}) is before the effective date "
                f"({human_date(self.start_date)})."
            )
        if self.timely_filing_days is not None and not 1 <= self.timely_filing_days <= 730:
            errors["timely_filing_days"] = "Timely filing is between 1 and 730 days."
        if self.not_to_exceed is not None and self.not_to_exceed <= 0:
            errors["not_to_exceed"] = "A contract ceiling must be more than zero."
        if self.termination_date and self.start_date and self.termination_date < self.start_date:
            errors["termination_date"] = "A contract cannot be terminated before it starts."
        if self.number is not None:
            self.number = self.number.strip()
        if errors:
            raise ValidationError(errors)


class ContractStatusChange(models.Model):
    """One move in a contract's life (draft → active → expired / terminated): who, when, why."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="status_history")
    from_status = models.CharField(max_length=12, choices=ContractStatus.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=ContractStatus.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.contract.number}: {self.from_status} → {self.to_status}"


class ContractAmendmentQuerySet(models.QuerySet):
    def visible_to(self, user) -> ContractAmendmentQuerySet:
        """An amendment is seen by whoever sees its contract."""
        return self.filter(contract__in=Contract.objects.visible_to(user))


class ContractAmendment(models.Model):
    """A dated change to an active contract's rate schedule. It adds rate-line versions from its
    effective date; it never rewrites earlier terms, so past dates keep their price."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="amendments")
    number = models.PositiveIntegerField()
    effective_from = models.DateField()
    reason = models.TextField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ContractAmendmentQuerySet.as_manager()

    class Meta:
        ordering = ["contract", "number"]
        constraints = [models.UniqueConstraint(fields=["contract", "number"], name="amendment_number_unique")]

    def __str__(self) -> str:
        return f"Amendment {self.number} to {self.contract.number} from {self.effective_from}"


class RateLineQuerySet(models.QuerySet):
    def visible_to(self, user) -> RateLineQuerySet:
        """A rate line is seen by whoever sees its contract."""
        return self.filter(contract__in=Contract.objects.visible_to(user))


class RateLine(models.Model):
    """A covered service on a contract. Its terms (unit, rate, authorization, caps) live in
    dated versions; the version in force on a date is the latest that started on or before it.
    A service appears at most once per contract."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="rate_lines")
    service = models.ForeignKey("contracts.ServiceCatalogEntry", on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RateLineQuerySet.as_manager()

    class Meta:
        ordering = ["contract", "service__code", "service__modifier_key"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "service"], name="one_rate_line_per_service")
        ]

    def __str__(self) -> str:
        return f"{self.contract.number}: {self.service.label}"

    def version_on(self, on: date) -> RateLineVersion | None:
        """The version in force on ``on`` (uses prefetched versions when present)."""
        best = None
        for version in self.versions.all():
            if version.effective_from <= on and (
                best is None or version.effective_from > best.effective_from
            ):
                best = version
        return best

    @property
    def first_day(self) -> date | None:
        days = [v.effective_from for v in self.versions.all()]
        return min(days) if days else None

    def current_version(self, today: date | None = None) -> RateLineVersion | None:
        from django.utils import timezone

        today = today or timezone.localdate()
        return self.version_on(today) or min(
            self.versions.all(), key=lambda v: v.effective_from, default=None
        )


class RateLineVersion(models.Model):
    """The terms of a rate line from a date on: unit of service, rate, authorization and caps.

    Rules: the rate is more than zero; caps, when set, are more than zero. Versions are appended
    (by activation or amendment), never changed once the contract is active, so a claim built
    on a version keeps its price.
    """

    rate_line = models.ForeignKey(RateLine, on_delete=models.CASCADE, related_name="versions")
    effective_from = models.DateField()
    unit = models.CharField("unit of service", max_length=10, choices=Unit.choices)
    rate = models.DecimalField(max_digits=12, decimal_places=4, help_text="Dollars per unit")
    authorization = models.CharField(max_length=12, choices=AuthorizationMode.choices)
    units_per_authorization = models.PositiveIntegerField(null=True, blank=True)
    units_per_day = models.PositiveIntegerField("units per member per day", null=True, blank=True)
    units_per_week = models.PositiveIntegerField("units per member per week", null=True, blank=True)
    units_per_month = models.PositiveIntegerField("units per member per month", null=True, blank=True)
    units_per_year = models.PositiveIntegerField("units per member per year", null=True, blank=True)
    lifetime_dollar_cap = models.DecimalField(
        "lifetime dollars per member", max_digits=12, decimal_places=2, null=True, blank=True
    )
    consent_required = models.CharField(
        "consent required",
        max_length=20,
        choices=ConsentKind.choices,
        blank=True,
        default="",
        help_text="A member consent that must be on file (given) before this service is logged",
    )
    amendment = models.ForeignKey(
        ContractAmendment, null=True, blank=True, on_delete=models.PROTECT, related_name="versions"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["rate_line", "effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["rate_line", "effective_from"], name="one_version_per_day"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="rate_positive"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.rate_line}: ${self.rate} per {self.get_unit_display().lower()} from {self.effective_from}"
        )

    @property
    def authorization_required(self) -> bool:
        """Whether billing needs an authorization number (before or after the fact)."""
        return self.authorization in (AuthorizationMode.PRIOR, AuthorizationMode.RETROACTIVE)

    def caps(self) -> dict[str, int | Decimal]:
        return {f: getattr(self, f) for f in CAP_FIELDS if getattr(self, f) is not None}

    def terms(self) -> dict[str, object]:
        return {f: getattr(self, f) for f in TERM_FIELDS}

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.rate is None or self.rate <= 0:
            errors["rate"] = (
                f"The rate must be more than $0 (got {self.rate if self.rate is not None else 'none'})."
            )
        for field in CAP_FIELDS:
            value = getattr(self, field)
            if value is not None and value <= 0:
                errors[field] = "A cap must be more than zero; leave it empty for no cap."
        if errors:
            raise ValidationError(errors)
