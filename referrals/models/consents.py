"""Members' consents: each given, refused or revoked, when, how and by whom (newest counts)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from contracts.choices import ConsentKind
from referrals.choices import ConsentMethod, ConsentStatus
from referrals.models.members import Member


def consent_path(instance: Consent, filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"consents/{instance.member_id}/{uuid.uuid4().hex}.{ext}"


class ConsentQuerySet(models.QuerySet):
    def visible_to(self, user) -> ConsentQuerySet:
        """Whoever may see the member sees their consents."""
        return self.filter(member__in=Member.objects.visible_to(user))


class Consent(models.Model):
    """One statement of a member's consent of a ``kind`` as of a day: given, refused or revoked.
    The member's consent of a kind on a day is the latest statement made on or before it
    (``referrals.selectors.consent_on``); a revocation stops services that need it from then on."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="consents")
    kind = models.CharField(max_length=20, choices=ConsentKind.choices)
    status = models.CharField(max_length=10, choices=ConsentStatus.choices)
    on = models.DateField("as of")
    method = models.CharField(max_length=12, choices=ConsentMethod.choices)
    note = models.CharField(max_length=300, blank=True)
    document = models.FileField(upload_to=consent_path, blank=True)
    document_name = models.CharField(max_length=255, blank=True)
    content_type = models.CharField(max_length=50, blank=True)
    organization = models.ForeignKey("cbo_portal.Organization", on_delete=models.PROTECT, related_name="+")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ConsentQuerySet.as_manager()

    class Meta:
        ordering = ["member", "kind", "-on", "-created_at"]
        indexes = [models.Index(fields=["member", "kind", "on"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.get_status_display().lower()} on {self.on}"
