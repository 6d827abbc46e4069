"""Medi-Cal members and their plan enrollments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from types import SimpleNamespace

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Now

from cbo_portal.words import field_names
from referrals import rules
from referrals.choices import CorrectionStatus, CoverageSource, Sex
from referrals.rules import MEMBER_LENGTHS


class MemberQuerySet(models.QuerySet):
    def visible_to(self, user) -> MemberQuerySet:
        """A plan sees its enrollees and members it referred; a CBO (or its hub) only members
        referred to it; platform admins everyone. A self/community referral still waiting for the
        plan's review grants no one access: naming a CIN must not open its record.

        The referral test names only the columns that can match (``referrals.scope``): a CBO's is
        ``cbo_id IN (…)`` alone, a plan's ``plan_id IN (…)``, and only a plan's looks at
        enrollments; the three-way ``plan OR cbo OR cbo.hub`` join made every candidate member
        cost a join per referral."""
        from cbo_portal.access import is_platform_admin, memberships
        from cbo_portal.choices import OrgKind
        from referrals.choices import ReferralStatus
        from referrals.models.referrals import Referral
        from referrals.scope import scope_q

        if not getattr(user, "is_authenticated", False):
            return self.none()
        if is_platform_admin(user):
            return self.all()
        scope = scope_q(user)
        plans = sorted({m.organization_id for m in memberships(user) if m.organization.kind == OrgKind.PLAN})
        if scope is None or scope == Q(pk__in=[]):
            return self.none()
        referred = (
            Referral.objects.filter(member=OuterRef("pk"))
            .filter(scope)
            .exclude(status=ReferralStatus.PENDING_REVIEW)
        )
        visible = Exists(referred)
        if plans:
            visible |= Exists(Enrollment.objects.filter(member=OuterRef("pk"), plan_id__in=plans))
        return self.filter(visible)


class Member(models.Model):
    """A Medi-Cal member, one record per CIN (8 digits + a letter). Personal data: every view of
    it is audited by the page or endpoint that shows it."""

    cin = models.CharField("CIN", max_length=9, unique=True)
    first_name = models.CharField(max_length=MEMBER_LENGTHS["first_name"])
    last_name = models.CharField(max_length=MEMBER_LENGTHS["last_name"])
    dob = models.DateField("date of birth")
    sex = models.CharField(max_length=1, choices=Sex.choices, default=Sex.UNKNOWN)
    phone = models.CharField(max_length=MEMBER_LENGTHS["phone"], blank=True)
    street = models.CharField(max_length=MEMBER_LENGTHS["street"], blank=True)
    city = models.CharField(max_length=MEMBER_LENGTHS["city"], blank=True)
    state = models.CharField(max_length=MEMBER_LENGTHS["state"], default="CA", blank=True)
    zip = models.CharField("ZIP code", max_length=MEMBER_LENGTHS["zip"], blank=True)
    county = models.ForeignKey(
        "cbo_portal.County", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    preferred_language = models.CharField(max_length=MEMBER_LENGTHS["preferred_language"], blank=True)
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
        from django.utils import timezone

        self.cin = (self.cin or "").strip().upper()
        errors = rules.member_problems(
            cin=self.cin,
            first_name=self.first_name or "",
            last_name=self.last_name or "",
            dob=self.dob,
            today=timezone.localdate(),
            lengths=False,
        )
        if errors:
            raise ValidationError(errors)


@dataclass(frozen=True)
class SubmittedMember:
    """A member as someone other than their plan described them (see Referral.submitted_member):
    shown in place of the record, which it never changes."""

    cin: str
    first_name: str = ""
    last_name: str = ""
    dob: date | str | None = None
    sex: str = ""
    phone: str = ""
    street: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""
    county_name: str = ""
    preferred_language: str = ""
    pk: None = None
    id: None = None

    @classmethod
    def from_details(cls, cin: str, details: dict) -> SubmittedMember:
        names = set(cls.__dataclass_fields__) - {"cin", "pk", "id", "county_name"}
        known = {k: v for k, v in details.items() if k in names}
        if isinstance(known.get("dob"), str):
            known["dob"] = date.fromisoformat(known["dob"])
        return cls(cin=cin, county_name=details.get("county", ""), **known)

    @property
    def county(self) -> SimpleNamespace | None:
        return SimpleNamespace(name=self.county_name) if self.county_name else None

    def get_sex_display(self) -> str:
        return dict(Sex.choices).get(self.sex, "")

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class EnrollmentQuerySet(models.QuerySet):
    def visible_to(self, user) -> EnrollmentQuerySet:
        return self.filter(member__in=Member.objects.visible_to(user))

    def on(self, day) -> EnrollmentQuerySet:
        return self.filter(start_date__lte=day).filter(Q(end_date__isnull=True) | Q(end_date__gte=day))


class Enrollment(models.Model):
    """A member's coverage with a plan from a date (to a date, or open-ended), owned by the plan:
    only its people record, change or end it (``referrals.services.members``); whoever may see the
    member sees it. A member has one plan on any day, so no two periods overlap; the end is not
    before the start. ``source`` says where it came from (a referral only assumes it)."""

    # The unique (member, plan, start) and the (plan, member) index lead with each key: no
    # single-column indexes of their own (a bulk referral import writes an enrollment a row).
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="enrollments", db_index=False)
    plan = models.ForeignKey(
        "cbo_portal.Organization", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    # Medi-Cal aid code (two characters, e.g. "1H") and the program, where the plan knows them.
    aid_code = models.CharField(max_length=4, blank=True, default="", db_default="")
    program = models.CharField(max_length=60, blank=True, default="", db_default="")
    source = models.CharField(
        max_length=10,
        choices=CoverageSource.choices,
        default=CoverageSource.PLAN,
        db_default=CoverageSource.PLAN,
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True, db_default=Now())

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

    def covers(self, day) -> bool:
        return self.start_date <= day and (self.end_date is None or day <= self.end_date)


class MemberCorrectionQuerySet(models.QuerySet):
    def visible_to(self, user) -> MemberCorrectionQuerySet:
        """Whoever may see the member sees the corrections proposed for them."""
        return self.filter(member__in=Member.objects.visible_to(user))


class MemberCorrection(models.Model):
    """A change to a member's record proposed by an organization that serves the member but does
    not own the record (the plan the member is enrolled with does). The plan accepts it (the change
    is applied and audited) or rejects it with a reason; either way it stays as history."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="corrections")
    organization = models.ForeignKey("cbo_portal.Organization", on_delete=models.PROTECT, related_name="+")
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    changes = models.JSONField(help_text="{field: proposed value}")
    note = models.CharField(max_length=300, blank=True)
    status = models.CharField(
        max_length=10, choices=CorrectionStatus.choices, default=CorrectionStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MemberCorrectionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["member", "status"])]

    def __str__(self) -> str:
        return f"Correction {self.pk} of {self.member_id} ({self.status})"

    @property
    def proposed(self) -> list[tuple[str, str]]:
        """The proposed changes in plain words: (the field's name as the member page labels it, value)."""
        return [(str(Member._meta.get_field(k).verbose_name), v) for k, v in sorted(self.changes.items())]

    @property
    def fields_named(self) -> str:
        """ "street, city and ZIP code": the fields the correction changes, for a sentence."""
        return field_names(Member, sorted(self.changes))
