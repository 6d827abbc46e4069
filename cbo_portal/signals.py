"""Audit sign-ins (and failed ones are throttled by django-axes)."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from cbo_portal.choices import AuditAction


@receiver(user_logged_in)
def audit_login(sender, request, user, **kwargs) -> None:
    from cbo_portal.services import audit

    audit.record(
        actor=user,
        action=AuditAction.LOGIN,
        object_type="auth.User",
        object_id=str(user.pk),
        summary=f"{user.email or user.username} signed in",
    )
