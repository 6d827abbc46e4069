"""Medi-Cal members and their plan enrollments."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, OuterRef, Q

from cbo_portal import identifiers
from referrals.choices import Sex


class MemberQuerySet(models.QuerySet):
    def visible_to(self, user) -> MemberQuerySet:
        """A plan sees its enrollees and members it referred; a CBO (or its hub) only members
        referred to it; platform admins everyone."""
        from cbo_portal.access import is_platform_admin, member_org_ids
        from referrals.models.referrals import Referral

        if not getattr(user, "is_authenticated", False):
            return self.none()
        if is_platform_admin(user):
            return self.all()
        own = sorted(member_org_ids(user))
        if not own:
            return self.none()
        referred = Referral.objects.filter(member=OuterRef("pk")).filter(
            Q(plan_id__in=own) | Q(cbo_id__in=own) | Q(cbo__hub_id__in=own)
        )
        enrolled = Enrollment.objects.filter(member=OuterRef("pk"), plan_id__in=own)
        return self.filter(Exists(referred) | Exists(enrolled))


class Member(models.Model):
    """A Medi-Cal member, one record per CIN (8 digits + a letter). Personal data: every view of
    it is audited by the page or endpoint that shows it."""

    cin = models.CharField("CIN", max_length=9, unique=True)
    first_name = models.CharField(max_length=80)
    last_name = models.CharField(max_length=80)
    dob = models.DateField("date of birth")
    sex = models.CharField(max_length=1, choices=Sex.choices, default=Sex.UNKNOWN)
    phone = models.CharField(max_length=20, blank=True)
    street = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=80, blank=True)
    state = models.CharField(max_length=2, default="CA", blank=True)
    zip = models.CharField("ZIP code", max_length=10, blank=True)
    county = models.ForeignKey(
        "cbo_portal.County", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    preferred_language = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MemberQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name", "cin"]
        indexes = [models.Index(fields=["last_name", "first_name"])]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name} ({self.cin})"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def clean(self) -> None:
        self.cin = (self.cin or "").strip().upper()
        errors: dict[str, str] = {}
        if problem := identifiers.cin_problem(self.cin):
            errors["cin"] = problem
        if not (self.first_name or "").strip():
            errors["first_name"] = "Enter the member's first name."
        if not (self.last_name or "").strip():
            errors["last_name"] = "Enter the member's last name."
        from django.utils import timezone

        if self.dob and self.dob > timezone.localdate():
            errors["dob"] = "The date of birth cannot be in the future."
        if errors:
            raise ValidationError(errors)


class EnrollmentQuerySet(models.QuerySet):
    def visible_to(self, user) -> EnrollmentQuerySet:
        return self.filter(member__in=Member.objects.visible_to(user))

    def on(self, day) -> EnrollmentQuerySet:  # noqa: ANN001
        return self.filter(start_date__lte=day).filter(Q(end_date__isnull=True) | Q(end_date__gte=day))


class Enrollment(models.Model):
    """A member's enrollment with a plan from a date (to a date, or open-ended). Periods with the
    same plan may not start on the same day; the end is not before the start."""

    # The unique (member, plan, start) and the (plan, member) index lead with each key: no
    # single-column indexes of their own (a bulk referral import writes an enrollment a row).
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="enrollments", db_index=False)
    plan = models.ForeignKey(
        "cbo_portal.Organization", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)

    objects = EnrollmentQuerySet.as_manager()

    class Meta:
        ordering = ["member", "-start_date"]
        constraints = [
            models.UniqueConstraint(fields=["member", "plan", "start_date"], name="enrollment_unique_start")
        ]
        indexes = [models.Index(fields=["plan", "member"])]

    def __str__(self) -> str:
        return f"{self.member_id} with {self.plan_id} from {self.start_date}"

    def clean(self) -> None:
        if self.end_date and self.start_date and self.end_date < self.start_date:
            raise ValidationError({"end_date": "An enrollment cannot end before it starts."})

    def covers(self, day) -> bool:  # noqa: ANN001
        return self.start_date <= day and (self.end_date is None or day <= self.end_date)
