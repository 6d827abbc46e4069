"""The plan's authorizations of a referral's service: number, units, date span, units used."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from referrals.choices import USABLE_AUTHORIZATION, AuthorizationKind, AuthorizationStatus
from referrals.scope import scope_q


class AuthorizationQuerySet(models.QuerySet):
    def visible_to(self, user) -> AuthorizationQuerySet:
        q = scope_q(user)
        return self if q is None else self.filter(q)

    def for_list(self) -> AuthorizationQuerySet:
        return self.select_related("member", "plan", "cbo", "service", "referral")

    def usable(self) -> AuthorizationQuerySet:
        return self.filter(status__in=USABLE_AUTHORIZATION)


class Authorization(models.Model):
    """A plan's authorization for a referral's service: ``units_approved`` units between
    ``start_date`` and ``end_date``. ``units_used`` is kept by the delivery services under a row
    lock on this authorization, so two people logging at once can never overdraw it.

    Rules: the span ends on or after it starts; approved units are more than zero and never fewer
    than the units already used; a number is required once approved.
    """

    referral = models.ForeignKey(
        "referrals.Referral", on_delete=models.PROTECT, related_name="authorizations"
    )
    plan = models.ForeignKey("cbo_portal.Organization", on_delete=models.PROTECT, related_name="+")
    cbo = models.ForeignKey("cbo_portal.Organization", on_delete=models.PROTECT, related_name="+")
    member = models.ForeignKey("referrals.Member", on_delete=models.PROTECT, related_name="authorizations")
    service = models.ForeignKey("contracts.ServiceCatalogEntry", on_delete=models.PROTECT, related_name="+")
    number = models.CharField("authorization number", max_length=40, blank=True)
    kind = models.CharField(max_length=12, choices=AuthorizationKind.choices, default=AuthorizationKind.PRIOR)
    status = models.CharField(
        max_length=20, choices=AuthorizationStatus.choices, default=AuthorizationStatus.REQUESTED
    )
    units_requested = models.DecimalField(max_digits=10, decimal_places=2)
    units_approved = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    units_used = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"))
    start_date = models.DateField()
    end_date = models.DateField()
    extends = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="extensions",
        help_text="The authorization this one extends",
    )
    request_note = models.CharField(max_length=300, blank=True)
    decision_note = models.CharField(max_length=300, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = AuthorizationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "number"],
                condition=~Q(number=""),
                name="authorization_number_unique_per_plan",
            ),
            models.CheckConstraint(
                condition=Q(units_used__gte=0), name="authorization_units_used_nonnegative"
            ),
        ]
        indexes = [
            models.Index(fields=["cbo", "status", "end_date"], name="auth_cbo_status_end"),
            models.Index(fields=["plan", "status"], name="auth_plan_status"),
            models.Index(fields=["referral", "service", "status"], name="auth_referral_service"),
            # the authorization lists: newest first within the plan's or the CBO's scope
            models.Index(fields=["plan", "-created_at"], name="auth_plan_created"),
            models.Index(fields=["cbo", "-created_at"], name="auth_cbo_created"),
            # a hub's lists (several CBOs): read newest first, filtered to its CBOs; the per-CBO
            # index would have to sort every row of them
            models.Index(fields=["-created_at", "-id"], name="auth_created"),
        ]

    def __str__(self) -> str:
        return f"Authorization {self.number or '(requested)'}"

    @property
    def units_remaining(self) -> Decimal:
        if self.units_approved is None:
            return Decimal("0")
        return max(self.units_approved - self.units_used, Decimal("0"))

    @property
    def percent_used(self) -> int:
        if not self.units_approved:
            return 0
        return min(100, int(self.units_used * 100 / self.units_approved))

    @property
    def is_usable(self) -> bool:
        return self.status in USABLE_AUTHORIZATION

    def covers(self, day) -> bool:
        return self.start_date <= day <= self.end_date

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.start_date and self.end_date and self.end_date < self.start_date:
            errors["end_date"] = "The authorization cannot end before it starts."
        if self.units_requested is not None and self.units_requested <= 0:
            errors["units_requested"] = "Ask for more than zero units."
        if self.units_approved is not None:
            if self.units_approved <= 0:
                errors["units_approved"] = "Approve more than zero units, or deny the request."
            elif self.units_approved < (self.units_used or 0):
                errors["units_approved"] = (
                    f"{self.units_used} units are already used; approve at least that many."
                )
        if self.status in USABLE_AUTHORIZATION and not (self.number or "").strip():
            errors["number"] = "An approved authorization needs its authorization number."
        if errors:
            raise ValidationError(errors)


class AuthorizationStatusChange(models.Model):
    """One move of an authorization (requested → approved/denied/partially approved → expired or
    exhausted): who, when and why."""

    authorization = models.ForeignKey(Authorization, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField(max_length=20, choices=AuthorizationStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=AuthorizationStatus.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.authorization_id}: {self.from_status or '—'} → {self.to_status}"
