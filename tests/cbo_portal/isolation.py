"""Isolation makers for the portal's API routes (see tests/test_isolation.py).

Each maker creates (or picks) one object of the route inside the world under test and returns
it with the set of personas who may see it and the subset who may change it.
"""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from cbo_portal.choices import AuditAction, OnboardingStatus, Role
from cbo_portal.models import Document, Membership, Organization
from cbo_portal.services import audit, people


def _cbo_members(w):
    return {w.cbo_admin, w.cbo_staff, w.cbo_billing}


def organization(w):
    # A draft application is visible only to its own people, its hub and the platform.
    Organization.objects.filter(pk=w.cbo.pk).update(onboarding_status=OnboardingStatus.DRAFT)
    return w.cbo, _cbo_members(w) | {w.hub_billing, w.platform_admin}, {w.cbo_admin, w.platform_admin}


def membership(w):
    obj = Membership.objects.get(user=w.cbo_staff, organization=w.cbo)
    return obj, _cbo_members(w) | {w.platform_admin}, {w.cbo_admin, w.platform_admin}


def invitation(w):
    obj, _link = people.invite(w.cbo, acting_user=w.cbo_admin, email="hire@eastside.org", role=Role.CBO_STAFF)
    return obj, _cbo_members(w) | {w.platform_admin}, {w.cbo_admin, w.platform_admin}


def document(w):
    Organization.objects.filter(pk=w.cbo.pk).update(onboarding_status=OnboardingStatus.DRAFT)
    obj = Document.objects.create(
        organization=w.cbo,
        kind="w9",
        file=SimpleUploadedFile("w9.pdf", b"%PDF-1.4 test"),
        original_name="w9.pdf",
        content_type="application/pdf",
        size=13,
        sha256="0" * 64,
        uploaded_by=w.cbo_admin,
    )
    return obj, _cbo_members(w) | {w.hub_billing, w.platform_admin}, set()


def auditevent(w):
    obj = audit.record(actor=w.cbo_admin, action=AuditAction.UPDATE, obj=w.cbo, summary="Edited profile")
    return obj, {w.cbo_admin, w.platform_admin}, set()


def apitoken(w):
    obj, _raw = people.create_api_token(acting_user=w.cbo_billing, organization=w.cbo, name="sync")
    return obj, {w.cbo_billing}, {w.cbo_billing}


def county(w):
    from cbo_portal.models import County

    return County.objects.get(name="Los Angeles"), "everyone", set()


MAKERS = {
    "organization": organization,
    "membership": membership,
    "invitation": invitation,
    "document": document,
    "auditevent": auditevent,
    "apitoken": apitoken,
    "county": county,
}
