"""Organizations: CBOs, health plans, community care hubs and the platform operator."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from cbo_portal import identifiers
from cbo_portal.choices import OnboardingStatus, OrgKind

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class County(models.Model):
    """One of California's 58 counties, loaded as data with its FIPS code."""

    fips = models.CharField(max_length=5, unique=True, help_text="Five-digit FIPS code, e.g. 06037")
    name = models.CharField(max_length=40, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "counties"

    def __str__(self) -> str:
        return self.name


class OrganizationQuerySet(models.QuerySet):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> OrganizationQuerySet:
        """Which organizations a user may see.

        A user sees the organizations they belong to and, through a hub, the hub's member CBOs.
        Plan users and platform admins see every CBO or hub that has submitted an onboarding
        application (the provider directory and review queue) and every plan. Everyone signed in
        sees the plans (they are public payers). Platform admins see everything.
        """
        from cbo_portal.access import is_platform_admin, member_org_ids

        if not getattr(user, "is_authenticated", False):
            return self.none()
        if is_platform_admin(user):
            return self.all()
        own = member_org_ids(user)
        scope = Q(pk__in=own) | Q(hub_id__in=own) | Q(kind=OrgKind.PLAN)
        if self.model.objects.filter(pk__in=own, kind=OrgKind.PLAN).exists():
            scope |= Q(kind__in=[OrgKind.CBO, OrgKind.HUB]) & ~Q(onboarding_status=OnboardingStatus.DRAFT)
        return self.filter(scope).distinct()

    def approved_providers(self) -> OrganizationQuerySet:
        """CBOs and hubs that passed onboarding: the only ones that may be contracted or referred to."""
        return self.filter(kind__in=[OrgKind.CBO, OrgKind.HUB], onboarding_status=OnboardingStatus.APPROVED)


class Organization(models.Model):
    """A party on the platform. CBOs and hubs onboard and bill; plans contract, refer and pay.

    Rules: NPI passes its Luhn check (prefix 80840); TIN is nine digits; a CBO may name the hub
    that bills on its behalf; only plans carry an X12 payer id.
    """

    kind = models.CharField(max_length=10, choices=OrgKind.choices, db_index=True)
    legal_name = models.CharField(max_length=200)
    dba = models.CharField("doing business as", max_length=200, blank=True)
    tin = models.CharField("TIN/EIN", max_length=10, blank=True, help_text="Nine digits, e.g. 12-3456789")
    npi = models.CharField("NPI", max_length=10, blank=True, db_index=True)
    taxonomy_code = models.CharField(max_length=10, blank=True, help_text="e.g. 251S00000X")
    medi_cal_provider_number = models.CharField(max_length=20, blank=True)
    payer_id = models.CharField("X12 payer id", max_length=20, blank=True, help_text="Plans only")

    service_street = models.CharField("service address", max_length=200, blank=True)
    service_street2 = models.CharField("address line 2", max_length=200, blank=True)
    service_city = models.CharField("city", max_length=80, blank=True)
    service_state = models.CharField("state", max_length=2, default="CA")
    service_zip = models.CharField("ZIP code", max_length=10, blank=True)
    mailing_same_as_service = models.BooleanField(default=True)
    mailing_street = models.CharField("mailing address", max_length=200, blank=True)
    mailing_city = models.CharField("mailing city", max_length=80, blank=True)
    mailing_state = models.CharField("mailing state", max_length=2, default="CA")
    mailing_zip = models.CharField("mailing ZIP code", max_length=10, blank=True)

    phone = models.CharField(max_length=20, blank=True)
    contact_name = models.CharField("contact person", max_length=120, blank=True)
    contact_email = models.EmailField("contact email", blank=True)
    counties = models.ManyToManyField(County, blank=True, related_name="organizations")
    services_offered = models.JSONField(
        default=list, blank=True, help_text="Service catalog entries offered, as 'CODE:MOD' strings"
    )
    hub = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="member_cbos",
        limit_choices_to={"kind": OrgKind.HUB},
        help_text="The community care hub that bills on this CBO's behalf, if any",
    )
    onboarding_status = models.CharField(
        max_length=20, choices=OnboardingStatus.choices, default=OnboardingStatus.DRAFT, db_index=True
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrganizationQuerySet.as_manager()

    class Meta:
        ordering = ["legal_name"]
        indexes = [models.Index(fields=["kind", "onboarding_status"])]

    def __str__(self) -> str:
        return self.dba or self.legal_name

    @property
    def display_name(self) -> str:
        return str(self)

    @property
    def is_provider(self) -> bool:
        return self.kind in (OrgKind.CBO, OrgKind.HUB)

    @property
    def is_approved(self) -> bool:
        return self.onboarding_status == OnboardingStatus.APPROVED

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.npi and (problem := identifiers.npi_problem(self.npi)):
            errors["npi"] = problem
        if self.tin:
            if problem := identifiers.tin_problem(self.tin):
                errors["tin"] = problem
            else:
                self.tin = identifiers.normalize_tin(self.tin)
        if self.taxonomy_code:
            self.taxonomy_code = self.taxonomy_code.strip().upper()
            if problem := identifiers.taxonomy_problem(self.taxonomy_code):
                errors["taxonomy_code"] = problem
        if self.payer_id and self.kind != OrgKind.PLAN:
            errors["payer_id"] = "Only health plans carry an X12 payer id."
        if self.hub_id and self.kind != OrgKind.CBO:
            errors["hub"] = "Only a CBO can be billed for by a hub."
        if self.hub_id and self.hub and self.hub.kind != OrgKind.HUB:
            errors["hub"] = "The billing organization must be a community care hub."
        if errors:
            raise ValidationError(errors)

    @property
    def tin_display(self) -> str:
        return f"{self.tin[:2]}-{self.tin[2:]}" if len(self.tin) == 9 else self.tin
