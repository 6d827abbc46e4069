"""Email notifications, sent after the surrounding transaction commits."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction


def email_after_commit(recipients: Iterable[str], subject: str, body: str) -> None:
    """Queue an email once the current transaction commits (never for a rolled-back change)."""
    to = sorted({r for r in recipients if r})
    if not to:
        return
    from cbo_portal.tasks import send_email

    transaction.on_commit(lambda: send_email.delay(to, subject, body))
