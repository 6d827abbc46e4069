"""CBO onboarding: uploaded documents and the history of the application's status."""

from __future__ import annotations

import uuid
from pathlib import PurePath

from django.conf import settings
from django.db import models

from cbo_portal.choices import DocumentKind, OnboardingStatus


def document_path(instance: Document, filename: str) -> str:
    """Store under an unguessable name; the original name is kept on the row."""
    suffix = PurePath(filename).suffix.lower()
    return f"documents/{instance.organization_id}/{uuid.uuid4().hex}{suffix}"


class DocumentQuerySet(models.QuerySet):
    def visible_to(self, user) -> DocumentQuerySet:
        """Documents are seen by the uploading organization, the hub that bills for it, and its
        reviewers (plan admins and contract managers, platform admins) once it has applied."""
        from cbo_portal.access import is_platform_admin, member_org_ids, reviewer_org_ids
        from cbo_portal.choices import OnboardingStatus

        if not getattr(user, "is_authenticated", False):
            return self.none()
        if is_platform_admin(user):
            return self.all()
        own = member_org_ids(user)
        scope = models.Q(organization_id__in=own) | models.Q(organization__hub_id__in=own)
        if reviewer_org_ids(user):
            scope |= ~models.Q(organization__onboarding_status=OnboardingStatus.DRAFT)
        return self.filter(scope)


class Document(models.Model):
    """An onboarding document (W-9, certificate of insurance, license). PDF, PNG or JPEG only,
    size-limited; checked by content, not just by name. A newer upload of the same kind
    supersedes the older one, which stays for the record."""

    organization = models.ForeignKey(
        "cbo_portal.Organization", on_delete=models.CASCADE, related_name="documents"
    )
    kind = models.CharField(max_length=20, choices=DocumentKind.choices)
    file = models.FileField(upload_to=document_path)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=50)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)
    superseded = models.BooleanField(default=False)

    objects = DocumentQuerySet.as_manager()

    class Meta:
        ordering = ["kind", "-uploaded_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.original_name}"


class OnboardingTransition(models.Model):
    """One step in a CBO's onboarding: who moved it from which status to which, when, and why."""

    organization = models.ForeignKey(
        "cbo_portal.Organization", on_delete=models.CASCADE, related_name="onboarding_history"
    )
    from_status = models.CharField(max_length=20, choices=OnboardingStatus.choices)
    to_status = models.CharField(max_length=20, choices=OnboardingStatus.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.organization}: {self.from_status} → {self.to_status}"
