"""Celery tasks of the contracts app: thin, idempotent, calling services."""

from __future__ import annotations

from celery import shared_task

from contracts.services.contracts import expire_ended


@shared_task(acks_late=True)
def expire_contracts() -> int:
    """Mark active contracts whose end date has passed as expired (daily; safe to rerun)."""
    return len(expire_ended())
