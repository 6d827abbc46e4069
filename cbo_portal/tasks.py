"""Celery tasks of the portal: thin wrappers that take plain values and call Django."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail


@shared_task(bind=True, acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_email(self, to: list[str], subject: str, body: str) -> int:
    """Send one plain-text email; connection errors are retried with backoff."""
    return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, to)
