"""Invitations, memberships and personal API tokens.

An invitation link is single-use and expires after ``INVITATION_TTL_HOURS``; only the digest
of its token is stored. Accepting creates the account (or adds the membership to an existing
account with the same email) and spends the invitation in one transaction.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from cbo_portal import access
from cbo_portal.choices import ADMIN_ROLES, ROLES_BY_KIND, AuditAction, Role
from cbo_portal.models import ApiToken, Invitation, Membership, Organization
from cbo_portal.models.people import hash_secret
from cbo_portal.services import audit
from cbo_portal.services.notifications import email_after_commit

User = get_user_model()


class InvitationError(ValidationError):
    """The invitation link cannot be used (unknown, expired, revoked or already used)."""


@transaction.atomic
def invite(org: Organization, *, acting_user, email: str, role: str) -> tuple[Invitation, str]:
    """An org admin invites someone by email. Returns the invitation and the link (sent by email)."""
    access.require_role(acting_user, org, ADMIN_ROLES, action="invite people")
    email = User.objects.normalize_email(email).strip().lower()
    if role not in ROLES_BY_KIND[org.kind]:
        raise ValidationError({"role": f"A {org.get_kind_display().lower()} cannot have the role {role!r}."})
    if Membership.objects.filter(organization=org, user__email__iexact=email, is_active=True).exists():
        raise ValidationError({"email": f"{email} is already a member of {org}."})
    Invitation.objects.filter(
        organization=org, email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        organization=org,
        email=email,
        role=role,
        token_hash=hash_secret(token),
        invited_by=acting_user,
        expires_at=timezone.now() + timedelta(hours=settings.INVITATION_TTL_HOURS),
    )
    link = settings.SITE_URL + reverse("accept_invitation", args=[token])
    audit.record(
        actor=acting_user,
        action=AuditAction.CREATE,
        obj=invitation,
        summary=f"Invited {email} as {Role(role).label}",
    )
    email_after_commit(
        [email],
        f"You are invited to join {org} on CalAIM Billing",
        f"{acting_user.get_full_name() or acting_user.email} invited you to join {org} as {Role(role).label}.\n\n"
        f"Accept within {settings.INVITATION_TTL_HOURS} hours: {link}\n\nThe link works once.",
    )
    return invitation, link


def find_invitation(token: str) -> Invitation:
    """The usable invitation behind a link, or a clear reason why it cannot be used."""
    invitation = (
        Invitation.objects.select_related("organization").filter(token_hash=hash_secret(token)).first()
    )
    if invitation is None:
        raise InvitationError("This invitation link is not valid. Ask your administrator for a new one.")
    if invitation.accepted_at:
        raise InvitationError("This invitation has already been used. Sign in, or ask for a new invitation.")
    if invitation.revoked_at:
        raise InvitationError("This invitation was withdrawn. Ask your administrator for a new one.")
    if invitation.expires_at <= timezone.now():
        raise InvitationError("This invitation has expired. Ask your administrator to send a new one.")
    return invitation


@transaction.atomic
def accept_invitation(token: str, *, password: str, first_name: str = "", last_name: str = "", user=None):
    """Spend the invitation: create the account (or use the signed-in account with the invited
    email) and add the membership. Returns the user."""
    invitation = find_invitation(token)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at:  # lost a race with another accept of the same link
        raise InvitationError("This invitation has already been used.")
    if user is not None and getattr(user, "is_authenticated", False):
        if user.email.lower() != invitation.email:
            raise InvitationError(
                f"This invitation is for {invitation.email}; you are signed in as {user.email}."
            )
    else:
        user = User.objects.filter(email__iexact=invitation.email).first()
        if user is None:
            user = User(
                username=invitation.email, email=invitation.email, first_name=first_name, last_name=last_name
            )
            validate_password(password, user)
            user.set_password(password)
            user.save()
        elif not user.check_password(password):
            raise ValidationError({"password": "You already have an account: enter its password to join."})
    membership, _ = Membership.objects.update_or_create(
        user=user, organization=invitation.organization, defaults={"role": invitation.role, "is_active": True}
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit.record(
        actor=user,
        action=AuditAction.CREATE,
        obj=membership,
        organization=invitation.organization,
        summary=f"{user.email} joined as {Role(invitation.role).label}",
    )
    access.forget(user)
    return user


@transaction.atomic
def revoke_invitation(invitation: Invitation, *, acting_user) -> Invitation:
    access.require_role(acting_user, invitation.organization, ADMIN_ROLES, action="withdraw invitations")
    if invitation.accepted_at:
        raise ValidationError("An accepted invitation cannot be withdrawn; deactivate the member instead.")
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit.record(
        actor=acting_user,
        action=AuditAction.UPDATE,
        obj=invitation,
        summary=f"Withdrew invitation for {invitation.email}",
    )
    return invitation


@transaction.atomic
def change_membership(
    membership: Membership, *, acting_user, role: str | None = None, is_active: bool | None = None
) -> Membership:
    """An org admin changes a member's role or deactivates them. An organization always keeps
    at least one active admin."""
    org = membership.organization
    access.require_role(acting_user, org, ADMIN_ROLES, action="manage the team")
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    before = {"role": membership.role, "is_active": membership.is_active}
    if role is not None:
        membership.role = role
    if is_active is not None:
        membership.is_active = is_active
    membership.full_clean()
    admins_left = (
        Membership.objects.active().filter(organization=org, role__in=ADMIN_ROLES).exclude(pk=membership.pk)
    )
    loses_admin = before["role"] in ADMIN_ROLES and (
        membership.role not in ADMIN_ROLES or not membership.is_active
    )
    if loses_admin and not admins_left.exists():
        raise ValidationError("An organization needs at least one active admin.")
    membership.save()
    audit.record(
        actor=acting_user,
        action=AuditAction.UPDATE,
        obj=membership,
        summary=f"Changed {membership.user.email}'s membership",
        changes=audit.diff(membership, before, ["role", "is_active"]),
    )
    access.forget(membership.user)
    return membership


@transaction.atomic
def create_api_token(*, acting_user, organization: Organization, name: str) -> tuple[ApiToken, str]:
    """Create a personal API token acting for the user in one of their organizations.
    The raw key is returned once and never stored."""
    if access.role_in(acting_user, organization) is None:
        raise ValidationError({"organization": "You are not a member of that organization."})
    if not name.strip():
        raise ValidationError({"name": "Give the token a name, e.g. the system that will use it."})
    raw = ApiToken.generate_key()
    token = ApiToken.objects.create(
        user=acting_user,
        organization=organization,
        name=name.strip()[:80],
        key_prefix=raw[:10],
        key_hash=hash_secret(raw),
    )
    audit.record(
        actor=acting_user,
        action=AuditAction.CREATE,
        obj=token,
        organization=organization,
        summary=f"Created API token {token.name}",
    )
    return token, raw


@transaction.atomic
def revoke_api_token(token: ApiToken, *, acting_user) -> ApiToken:
    if token.user_id != acting_user.pk:
        raise ValidationError("You can only revoke your own tokens.")
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit.record(
        actor=acting_user,
        action=AuditAction.UPDATE,
        obj=token,
        organization=token.organization,
        summary=f"Revoked API token {token.name}",
    )
    return token
