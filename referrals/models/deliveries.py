"""Logged service deliveries: what billing turns into claims."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from referrals.choices import DeliveryStatus, PlaceOfService
from referrals.scope import scope_q


class ServiceDeliveryQuerySet(models.QuerySet):
    def visible_to(self, user) -> ServiceDeliveryQuerySet:
        """The delivering CBO (and its hub), the paying plan, platform admins."""
        q = scope_q(user)
        return self if q is None else self.filter(q)

    def for_list(self) -> ServiceDeliveryQuerySet:
        return self.select_related("member", "service", "staff", "referral", "authorization", "cbo", "plan")

    def logged(self) -> ServiceDeliveryQuerySet:
        return self.filter(status=DeliveryStatus.LOGGED)

    def billable(self) -> ServiceDeliveryQuerySet:
        """Logged, not voided, not yet billed: what billing may put on a claim or invoice."""
        return self.filter(status=DeliveryStatus.LOGGED, billed_at__isnull=True)


class ServiceDelivery(models.Model):
    """One service delivered to a member by a CBO's staff member, on a day or over a date range.

    Rules: units are more than zero; a range ends after it starts; the date is not in the future.
    Cross-object rules (contract coverage, authorization dates and units, enrollment, duplicates,
    contract caps) are checked by services.deliveries before saving. An entry can be edited or
    voided until billed; then only a correction (void + new entry) is possible.
    """

    # No single-column indexes where a composite index below leads with the column (member, cbo,
    # plan, staff) or where nothing reads by it (created_by, voided_by: users are deactivated, never
    # deleted), and partial ones for columns mostly empty (authorization, replaces): billing stamps
    # billed_at on a hundred thousand rows a night, and that UPDATE writes every index entry the
    # new row version has.
    member = models.ForeignKey(
        "referrals.Member", on_delete=models.PROTECT, related_name="deliveries", db_index=False
    )
    cbo = models.ForeignKey(
        "cbo_portal.Organization",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        help_text="The provider who delivered the service",
    )
    plan = models.ForeignKey(
        "cbo_portal.Organization", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    referral = models.ForeignKey("referrals.Referral", on_delete=models.PROTECT, related_name="deliveries")
    authorization = models.ForeignKey(
        "referrals.Authorization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="deliveries",
        db_index=False,
    )
    service = models.ForeignKey("contracts.ServiceCatalogEntry", on_delete=models.PROTECT, related_name="+")
    service_date = models.DateField()
    end_date = models.DateField(null=True, blank=True, help_text="Last day, for a date range")
    units = models.DecimalField(max_digits=10, decimal_places=2)
    minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Minutes spent, when logged in time"
    )
    place_of_service = models.CharField(max_length=2, choices=PlaceOfService.choices)
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    note = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.LOGGED)
    billed_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    void_reason = models.CharField(max_length=300, blank=True)
    replaces = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="corrections",
        help_text="The voided entry this one corrects",
        db_index=False,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ServiceDeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-service_date", "-pk"]
        verbose_name_plural = "service deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["member", "service", "service_date", "staff"],
                condition=Q(status="logged"),
                name="delivery_no_duplicate",
            ),
            models.CheckConstraint(condition=Q(units__gt=0), name="delivery_units_positive"),
        ]
        indexes = [
            # the lists: newest day first, then id (many entries share a day), within a CBO, a plan,
            # or (a hub: several CBOs) over all, filtered
            models.Index(fields=["cbo", "service_date", "id"], name="delivery_cbo_date"),
            models.Index(fields=["plan", "service_date", "id"], name="delivery_plan_date"),
            models.Index(fields=["-service_date", "-id"], name="delivery_date"),
            models.Index(fields=["staff", "service_date"], name="delivery_staff_date"),
            models.Index(fields=["member", "service", "service_date"], name="delivery_member_service"),
            # What billing has yet to bill, in the order the claim builder reads it; rows leave
            # the index when they are billed or voided, so stamping them writes no entry here.
            models.Index(
                fields=["cbo", "plan", "member", "authorization", "service_date", "id"],
                condition=Q(status="logged", billed_at__isnull=True),
                name="delivery_unbilled",
            ),
            # Most entries have no authorization and correct no other entry: index only those that do.
            models.Index(
                fields=["authorization"],
                condition=Q(authorization__isnull=False),
                name="delivery_authorization",
            ),
            models.Index(fields=["replaces"], condition=Q(replaces__isnull=False), name="delivery_replaces"),
        ]

    def __str__(self) -> str:
        return f"{self.service_id} for {self.member_id} on {self.service_date}"

    @property
    def last_day(self):
        return self.end_date or self.service_date

    @property
    def days(self) -> int:
        return (self.last_day - self.service_date).days + 1

    @property
    def is_billed(self) -> bool:
        return self.billed_at is not None

    @property
    def is_editable(self) -> bool:
        return self.status == DeliveryStatus.LOGGED and self.billed_at is None

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.units is not None and self.units <= 0:
            errors["units"] = "Log more than zero units."
        today = timezone.localdate()
        if self.service_date and self.service_date > today:
            errors["service_date"] = "You can't log a service that hasn't happened yet."
        if self.end_date and self.service_date:
            if self.end_date < self.service_date:
                errors["end_date"] = "The last day is before the first day."
            elif self.end_date > today:
                errors["end_date"] = "The last day is in the future."
        if errors:
            raise ValidationError(errors)
