"""Registering organizations and keeping their profiles."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from cbo_portal import access
from cbo_portal.choices import AuditAction, OnboardingStatus, OrgKind, Role
from cbo_portal.models import County, Membership, Organization
from cbo_portal.services import audit

User = get_user_model()

PROFILE_FIELDS = [
    "legal_name",
    "dba",
    "tin",
    "npi",
    "taxonomy_code",
    "medi_cal_provider_number",
    "payer_id",
    "service_street",
    "service_street2",
    "service_city",
    "service_state",
    "service_zip",
    "mailing_same_as_service",
    "mailing_street",
    "mailing_city",
    "mailing_state",
    "mailing_zip",
    "phone",
    "contact_name",
    "contact_email",
    "services_offered",
    "hub",
]
# A provider may only change its profile while its application is open; afterwards the
# reviewed facts (TIN, NPI, ...) change only through a platform admin.
EDITABLE_STATUSES = {OnboardingStatus.DRAFT, OnboardingStatus.CHANGES_REQUESTED}


@dataclass(frozen=True)
class Registration:
    legal_name: str
    email: str
    password: str
    first_name: str = ""
    last_name: str = ""
    kind: str = OrgKind.CBO


@transaction.atomic
def register_provider(data: Registration) -> tuple[Organization, Any]:
    """Self-registration: create a CBO (or hub) in draft and its first admin user.

    The email must not belong to an existing account; the password must pass the validators.
    """
    if data.kind not in (OrgKind.CBO, OrgKind.HUB):
        raise ValidationError({"kind": "Only CBOs and hubs can register themselves."})
    email = User.objects.normalize_email(data.email).lower()
    if (
        User.objects.filter(username__iexact=email).exists()
        or User.objects.filter(email__iexact=email).exists()
    ):
        raise ValidationError({"email": "An account with this email already exists. Sign in instead."})
    user = User(username=email, email=email, first_name=data.first_name, last_name=data.last_name)
    validate_password(data.password, user)
    user.set_password(data.password)
    user.save()
    org = Organization(kind=data.kind, legal_name=data.legal_name.strip(), contact_email=email)
    org.full_clean()
    org.save()
    membership = Membership(user=user, organization=org, role=Role.CBO_ADMIN)
    membership.full_clean()
    membership.save()
    audit.record(actor=user, action=AuditAction.CREATE, obj=org, summary=f"Registered {org.legal_name}")
    return org, user


@transaction.atomic
def create_organization(*, acting_user, kind: str, legal_name: str, **fields: Any) -> Organization:
    """Create a plan, hub or CBO directly (platform admins, seed data). Plans start approved."""
    if acting_user is not None and not access.is_platform_admin(acting_user):
        raise access.PermissionDenied("Only platform admins may create organizations.")
    counties = fields.pop("counties", None)
    org = Organization(kind=kind, legal_name=legal_name, **fields)
    if kind in (OrgKind.PLAN, OrgKind.PLATFORM):
        org.onboarding_status = OnboardingStatus.APPROVED
    org.full_clean()
    org.save()
    if counties is not None:
        org.counties.set(counties)
    audit.record(actor=acting_user, action=AuditAction.CREATE, obj=org, summary=f"Created {org.legal_name}")
    return org


@transaction.atomic
def update_profile(
    org: Organization, *, acting_user, changes: dict[str, Any], counties: Iterable[County] | None = None
) -> Organization:
    """Change an organization's profile. Org admins may edit while the application is open;
    platform admins at any time. Every change is validated whole and audited field by field."""
    access.require_role(acting_user, org, [Role.CBO_ADMIN, Role.PLAN_ADMIN], action="edit the profile")
    org = Organization.objects.select_for_update().get(pk=org.pk)
    if (
        org.is_provider
        and org.onboarding_status not in EDITABLE_STATUSES
        and not access.is_platform_admin(acting_user)
    ):
        raise ValidationError(
            f"The profile is locked while the application is {org.get_onboarding_status_display().lower()}."
        )
    before = {field: getattr(org, field) for field in PROFILE_FIELDS}
    before_counties = sorted(org.counties.values_list("name", flat=True))
    unknown = set(changes) - set(PROFILE_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown profile fields: {', '.join(sorted(unknown))}")
    for field, value in changes.items():
        setattr(org, field, value)
    org.full_clean()
    org.save()
    diff = audit.diff(org, before, PROFILE_FIELDS)
    if counties is not None:
        org.counties.set(counties)
        after_counties = sorted(c.name for c in counties)
        if after_counties != before_counties:
            diff["counties"] = [before_counties, after_counties]
    if diff:
        audit.record(
            actor=acting_user, action=AuditAction.UPDATE, obj=org, summary="Updated profile", changes=diff
        )
    return org
