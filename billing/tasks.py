"""Billing's Celery tasks: thin, by id, idempotent, late-acked (a killed worker's task is
redelivered and resumes). Each calls a service; see billing/services/batches.py for why a
rerun at any point neither puts a claim in two batches nor sends a file twice."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model

from billing.models import PlanChannel

log = logging.getLogger(__name__)


def _user(user_id: int | None):  # noqa: ANN202
    return get_user_model().objects.get(pk=user_id) if user_id else None


@shared_task(acks_late=True)
def build_claims(user_id: int | None = None) -> dict:
    """Build claims from every billable delivery (the user's, or everyone's for the nightly run)."""
    from billing.services.claims import build_claims as build

    result = build(acting_user=_user(user_id), keep_ids=False)
    return {"claims": result.claims, "ready": result.ready, "held": result.held, "skipped": result.skipped}


@shared_task(bind=True, acks_late=True, max_retries=5)
def process_batch(self, batch_id: int) -> str:  # noqa: ANN001
    """Write the batch's file and, for SFTP plans, upload it; resumes from any step."""
    from billing.services import batches
    from billing.sftp import SftpConflictError, SftpError, SftpHostKeyError

    try:
        return batches.process_batch(batch_id).status
    except (SftpHostKeyError, SftpConflictError) as exc:  # needs a person, not a retry
        return batches.fail_batch(batch_id, str(exc)).status
    except SftpError as exc:
        if self.request.retries >= self.max_retries:
            return batches.fail_batch(batch_id, str(exc)).status
        raise self.retry(exc=exc, countdown=min(600, 30 * 2**self.request.retries)) from exc


@shared_task(acks_late=True)
def create_batches(user_id: int | None = None) -> list[int]:
    """One batch per submitter, plan and format with ready claims; each is then processed."""
    from billing.services.batches import create_batches as create

    return [b.pk for b in create(acting_user=_user(user_id))]


@shared_task(acks_late=True)
def nightly_billing() -> dict:
    """Nightly: re-scrub held claims (fixed source data clears them), build claims from new
    services straight into batches, batch every other ready claim, and write (and send) every
    batch still building: the new ones and any a crash left half-way."""
    from billing.services import batches
    from billing.services.claims import build_claims as build
    from billing.services.claims import rescrub_held

    cleared = rescrub_held()
    built = build(acting_user=None, keep_ids=False, into_batches=True, processes=settings.BILLING_PROCESSES)
    for batch_id in batches.unfinished_batch_ids():
        process_batch.delay(batch_id)
    created = [b.pk for b in batches.create_batches(acting_user=None)]
    return {"cleared": cleared, "claims": built.claims, "batches": created}


@shared_task(acks_late=True)
def resume_batches() -> list[int]:
    """Re-dispatch batches left building or submitting (a worker died mid-way)."""
    from billing.services.batches import unfinished_batch_ids

    ids = unfinished_batch_ids()
    for batch_id in ids:
        process_batch.delay(batch_id)
    return ids


@shared_task(acks_late=True)
def pick_up_plan_files() -> dict:
    """Fetch 835, 999, 277CA and TA1 files from every SFTP plan's outbound folder, import and
    archive them; files that cannot be read are recorded (``UnreadFile``) and left in place."""
    from billing.choices import DeliveryMethod
    from billing.services.channels import pick_up

    out: dict = {}
    for channel in PlanChannel.objects.filter(method=DeliveryMethod.SFTP).select_related("plan"):
        try:
            found = pick_up(channel)
        except Exception as exc:  # noqa: BLE001 - one plan's outage must not stop the others
            log.warning("pick-up from %s failed: %s", channel.plan, exc)
            out[channel.plan_id] = {"error": str(exc)}
            continue
        out[channel.plan_id] = {"imported": found.imported, "failed": found.failed, "skipped": found.skipped}
    return out
