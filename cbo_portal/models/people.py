"""People: memberships with a role, staff invitations and personal API tokens."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from cbo_portal.choices import Role


class MembershipQuerySet(models.QuerySet):
    def active(self) -> MembershipQuerySet:
        return self.filter(is_active=True)

    def visible_to(self, user) -> MembershipQuerySet:
        """Members of the organizations the user belongs to (a team page); all for platform admins."""
        from cbo_portal.access import is_platform_admin, member_org_ids

        if not getattr(user, "is_authenticated", False):
            return self.none()
        if is_platform_admin(user):
            return self.all()
        return self.filter(organization_id__in=member_org_ids(user))


class Membership(models.Model):
    """A user's place in an organization. A user may belong to several organizations;
    the role decides what they may do there. The role must be one the organization's kind allows."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(
        "cbo_portal.Organization", on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=32, choices=Role.choices)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="one_membership_per_org")
        ]
        ordering = ["organization__legal_name", "user__email"]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} at {self.organization}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from cbo_portal.choices import ROLES_BY_KIND

        if self.organization_id and self.role not in ROLES_BY_KIND[self.organization.kind]:
            raise ValidationError(
                {
                    "role": f"A {self.organization.get_kind_display().lower()} cannot have the role "
                    f"{Role(self.role).label}."
                }
            )


def hash_secret(raw: str) -> str:
    """Invitation links and API tokens are stored only as SHA-256 digests."""
    return hashlib.sha256(raw.encode()).hexdigest()


class InvitationQuerySet(models.QuerySet):
    def visible_to(self, user) -> InvitationQuerySet:
        from cbo_portal.access import is_platform_admin, member_org_ids

        if not getattr(user, "is_authenticated", False):
            return self.none()
        if is_platform_admin(user):
            return self.all()
        return self.filter(organization_id__in=member_org_ids(user))


class Invitation(models.Model):
    """An emailed, single-use, expiring invitation to join an organization with a role.
    Only the digest of the link's token is stored."""

    organization = models.ForeignKey(
        "cbo_portal.Organization", on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField()
    role = models.CharField(max_length=32, choices=Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation for {self.email} to {self.organization}"

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"


class ApiTokenQuerySet(models.QuerySet):
    def visible_to(self, user) -> ApiTokenQuerySet:
        if not getattr(user, "is_authenticated", False):
            return self.none()
        return self.filter(user=user)


class ApiToken(models.Model):
    """A personal API token for systems. Shown once at creation; only its digest is kept.
    The token acts as its user within one organization."""

    PREFIX = "cbo_"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    organization = models.ForeignKey("cbo_portal.Organization", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=80)
    key_prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @classmethod
    def generate_key(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)
