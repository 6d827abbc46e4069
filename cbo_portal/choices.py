"""Enumerations shared across the platform's organizations, people and onboarding."""

from __future__ import annotations

from django.db import models


class OrgKind(models.TextChoices):
    CBO = "cbo", "Community-based organization"
    PLAN = "plan", "Health plan"
    HUB = "hub", "Community care hub"
    PLATFORM = "platform", "Platform operator"


class Role(models.TextChoices):
    CBO_ADMIN = "cbo_admin", "CBO admin"
    CBO_STAFF = "cbo_staff", "CBO staff"
    CBO_BILLING = "cbo_billing", "Billing coordinator"
    PLAN_ADMIN = "plan_admin", "Plan admin"
    PLAN_CONTRACT_MANAGER = "plan_contract_manager", "Plan contract manager"
    PLAN_CARE_COORDINATOR = "plan_care_coordinator", "Plan care coordinator"
    PLATFORM_ADMIN = "platform_admin", "Platform admin"


# Which roles each kind of organization can hand out. Hubs bill for member CBOs, so they
# carry the CBO roles.
ROLES_BY_KIND: dict[str, tuple[str, ...]] = {
    OrgKind.CBO: (Role.CBO_ADMIN, Role.CBO_STAFF, Role.CBO_BILLING),
    OrgKind.HUB: (Role.CBO_ADMIN, Role.CBO_STAFF, Role.CBO_BILLING),
    OrgKind.PLAN: (Role.PLAN_ADMIN, Role.PLAN_CONTRACT_MANAGER, Role.PLAN_CARE_COORDINATOR),
    OrgKind.PLATFORM: (Role.PLATFORM_ADMIN,),
}

ADMIN_ROLES = frozenset({Role.CBO_ADMIN, Role.PLAN_ADMIN, Role.PLATFORM_ADMIN})
# Roles that may review CBO onboarding applications.
REVIEWER_ROLES = frozenset({Role.PLAN_ADMIN, Role.PLAN_CONTRACT_MANAGER, Role.PLATFORM_ADMIN})
# Roles for whom two-factor sign-in is offered (and recommended).
TWO_FACTOR_ROLES = frozenset(ADMIN_ROLES | {Role.CBO_BILLING})


class OnboardingStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    IN_REVIEW = "in_review", "In review"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class DocumentKind(models.TextChoices):
    W9 = "w9", "W-9"
    INSURANCE = "insurance", "Certificate of insurance"
    LICENSE = "license", "Business license or 501(c)(3) letter"
    OTHER = "other", "Other"


REQUIRED_DOCUMENTS = (DocumentKind.W9, DocumentKind.INSURANCE, DocumentKind.LICENSE)


class AuditAction(models.TextChoices):
    CREATE = "create", "Created"
    UPDATE = "update", "Updated"
    DELETE = "delete", "Deleted"
    TRANSITION = "transition", "Status change"
    VIEW = "view", "Viewed personal data"
    LOGIN = "login", "Signed in"
    DOWNLOAD = "download", "Downloaded"


class CalAIMService(models.TextChoices):
    """The CalAIM services a provider can offer (DHCS's list). The contracts app's catalog maps
    each (HCPCS code, modifiers) pair to one of these."""

    ECM = "ecm", "Enhanced Care Management"
    HOUSING_NAVIGATION = "housing_navigation", "Housing Transition Navigation"
    HOUSING_DEPOSITS = "housing_deposits", "Housing Deposits"
    HOUSING_TENANCY = "housing_tenancy", "Housing Tenancy and Sustaining Services"
    POST_HOSPITALIZATION_HOUSING = "post_hospitalization_housing", "Short-Term Post-Hospitalization Housing"
    RECUPERATIVE_CARE = "recuperative_care", "Recuperative Care (Medical Respite)"
    RESPITE = "respite", "Respite Services"
    DAY_HABILITATION = "day_habilitation", "Day Habilitation Programs"
    ASSISTED_LIVING_TRANSITION = (
        "assisted_living_transition",
        "Nursing Facility Transition/Diversion to Assisted Living",
    )
    COMMUNITY_TRANSITION = (
        "community_transition",
        "Community Transition Services/Nursing Facility Transition to a Home",
    )
    PERSONAL_CARE = "personal_care", "Personal Care and Homemaker Services"
    ENVIRONMENTAL_ADAPTATIONS = (
        "environmental_adaptations",
        "Environmental Accessibility Adaptations (Home Modifications)",
    )
    ASTHMA_REMEDIATION = "asthma_remediation", "Asthma Remediation"
    MEDICALLY_TAILORED_MEALS = (
        "medically_tailored_meals",
        "Medically Tailored Meals/Medically Supportive Food",
    )
    SOBERING_CENTERS = "sobering_centers", "Sobering Centers"
    TRANSITIONAL_RENT = "transitional_rent", "Transitional Rent"
    HOUSING_OUTREACH = "housing_outreach", "Housing Outreach"
