from cbo_portal.models.audit import AuditEvent
from cbo_portal.models.onboarding import Document, OnboardingTransition
from cbo_portal.models.organizations import County, Organization
from cbo_portal.models.people import ApiToken, Invitation, Membership

__all__ = [
    "ApiToken",
    "AuditEvent",
    "County",
    "Document",
    "Invitation",
    "Membership",
    "OnboardingTransition",
    "Organization",
]
