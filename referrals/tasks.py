"""Celery tasks of the referrals app: thin, idempotent, take ids and re-fetch."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True)
def process_referral_import(import_id: int) -> str:
    """Check and import one uploaded referral file; returns early when it is already finished."""
    from referrals.models import ReferralImport
    from referrals.services import imports

    batch = ReferralImport.objects.filter(pk=import_id).first()
    if batch is None or batch.finished:
        return "skipped"
    return imports.process(batch).status


@shared_task(acks_late=True)
def process_roster_import(roster_id: int) -> str:
    """Check and apply one plan's eligibility roster; returns early when it is already finished."""
    from referrals.models import RosterImport
    from referrals.services import rosters

    roster = RosterImport.objects.filter(pk=roster_id).first()
    if roster is None or roster.finished:
        return "skipped"
    return rosters.process(roster).status


@shared_task(acks_late=True)
def expire_authorizations() -> int:
    """Daily: authorizations past their last day become expired."""
    from referrals.services.authorizations import expire_ended

    return expire_ended()


@shared_task(acks_late=True)
def refresh_network_figures() -> int:
    """Every few minutes (beat): recompute the worklist's network figures; safe to run twice."""
    from referrals.services.figures import refresh_all_network_figures

    return refresh_all_network_figures()
