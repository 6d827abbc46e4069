"""Billing's Celery tasks: thin, by id, idempotent, late-acked (a killed worker's task is
redelivered and resumes). Each calls a service; see billing/services/batches.py for why a
rerun at any point neither puts a claim in two batches nor sends a file twice."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from celery import chord, group, shared_task
from celery.result import AsyncResult
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from billing.models import PlanChannel

log = logging.getLogger(__name__)


def _user(user_id: int | None):
    return get_user_model().objects.get(pk=user_id) if user_id else None


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_claim_build(build_id: int) -> str:
    """A "Build claims" asked for on the claims page (``billing.services.builds``)."""
    from billing.services.builds import run_build

    return run_build(build_id).status


@shared_task(bind=True, acks_late=True, max_retries=5)
def process_batch(self, batch_id: int) -> str:
    """Write the batch's file and, for SFTP plans, upload it; resumes from any step. A big 837P
    file is written in parts by ``write_batch_part`` tasks side by side and put together by
    ``join_batch_parts``, which runs this task again to send it."""
    from billing.services import batches
    from billing.sftp import SftpConflictError, SftpError, SftpHostKeyError

    parts = batches.file_parts(batch_id, settings.BILLING_837_PART_CLAIMS)
    if parts:
        created, attempt = timezone.localtime().isoformat(), uuid.uuid4().hex[:12]
        flow = chord(
            group(write_batch_part.si(batch_id, n, sets, created, attempt) for n, sets in enumerate(parts)),
            join_batch_parts.s(batch_id, created),
        )
        outcome = flow.apply_async()
        return outcome.get(disable_sync_subtasks=False) if outcome.ready() else "writing"
    try:
        return batches.process_batch(batch_id).status
    except (SftpHostKeyError, SftpConflictError) as exc:  # needs a person, not a retry
        return batches.fail_batch(batch_id, str(exc)).status
    except SftpError as exc:
        if self.request.retries >= self.max_retries:
            return batches.fail_batch(batch_id, str(exc)).status
        raise self.retry(exc=exc, countdown=min(600, 30 * 2**self.request.retries)) from exc


@shared_task(acks_late=True, reject_on_worker_lost=True)
def write_batch_part(batch_id: int, index: int, sets: list[str], created: str, attempt: str) -> dict:
    """Write part ``index`` (the transaction sets ``sets``) of a batch's 837P file to storage."""
    from billing.services import batches

    return batches.write_part(batch_id, index, sets, created=datetime.fromisoformat(created), attempt=attempt)


@shared_task(acks_late=True)
def join_batch_parts(parts: list[dict], batch_id: int, created: str) -> str:
    """Put a batch's parts together into its file, then send it (``process_batch``)."""
    from billing.services import batches

    batches.join_parts(batch_id, parts, created=datetime.fromisoformat(created))
    outcome = process_batch.delay(batch_id)
    return outcome.get(disable_sync_subtasks=False) if outcome.ready() else "written"


@shared_task(acks_late=True)
def create_batches(user_id: int | None = None) -> list[int]:
    """One batch per submitter, plan and format with ready claims; each is then processed."""
    from billing.services.batches import create_batches as create

    return [b.pk for b in create(acting_user=_user(user_id))]


@shared_task(acks_late=True)
def nightly_billing() -> dict:
    """Nightly: re-scrub held claims (fixed source data clears them), then build claims from new
    services straight into batches as a group of shard tasks (``build_run``), whose callback
    writes (and sends) the batches and batches every other ready claim. When the build has
    already run here (eager mode: ``make run``, tests), its summary is returned too."""
    from billing.services.claims import rescrub_held

    summary = {"cleared": rescrub_held()}
    outcome = build_run()
    summary["run"] = outcome.run
    if outcome.result.ready():
        summary |= outcome.result.get(disable_sync_subtasks=False)
    return summary


@dataclass
class StartedRun:
    """A build started by ``build_run``: its id and the chord's result (the callback's summary)."""

    run: str
    result: AsyncResult


def build_run(*, user_id: int | None = None, shards: int | None = None) -> StartedRun:
    """Start one build of every billable delivery straight into batches: ``shards`` (default
    ``BILLING_BUILD_SHARDS``) ``build_shard`` tasks that any workers share, then ``settle_run``
    once all of them are done (a Celery chord)."""
    run = str(uuid.uuid4())
    count = shards or settings.BILLING_BUILD_SHARDS
    flow = chord(
        group(build_shard.si(run, index, count, user_id) for index in range(count)),
        settle_run.s(run, user_id),
    )
    return StartedRun(run, flow.apply_async())


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def build_shard(self, run: str, index: int, count: int, user_id: int | None = None) -> dict:
    """Build shard ``index`` of ``count`` of build ``run`` into the run's batches, on this
    worker's own connection, committing chunk by chunk. Idempotent: run again (a worker killed
    mid-shard, a redelivered message), it bills only what is still billable."""
    from billing.services.claims import Shard, build_claims

    started = time.monotonic()
    result = build_claims(
        acting_user=_user(user_id),
        keep_ids=False,
        into_batches=True,
        shard=Shard(uuid.UUID(run), index, count),
        chunk_size=settings.BILLING_BUILD_CHUNK,
    )
    return {
        "shard": index,
        "worker": self.request.hostname or "",
        "claims": result.claims,
        "lines": result.lines,
        "ready": result.ready,
        "held": result.held,
        "skipped": result.skipped,
        "seconds": round(time.monotonic() - started, 3),
    }


@shared_task(acks_late=True)
def settle_run(shards: list[dict], run: str, user_id: int | None = None) -> dict:
    """After every shard of build ``run``: settle the run's batches, queue the writing (and
    sending) of every batch still building (the run's and any a crash left half-way), and batch
    every other ready claim. Safe to run again."""
    from billing.services import batches

    batches.settle_batches(batches.run_batch_ids(uuid.UUID(run)))
    for batch_id in batches.unfinished_batch_ids():
        process_batch.delay(batch_id)
    created = [b.pk for b in batches.create_batches(acting_user=_user(user_id))]
    return {
        "claims": sum(s["claims"] for s in shards),
        "ready": sum(s["ready"] for s in shards),
        "held": sum(s["held"] for s in shards),
        "batches": created,
        "shards": [{k: s[k] for k in ("shard", "worker", "claims", "lines", "seconds")} for s in shards],
    }


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
        except Exception as exc:
            log.warning("pick-up from %s failed: %s", channel.plan, exc)
            out[channel.plan_id] = {"error": str(exc)}
            continue
        out[channel.plan_id] = {"imported": found.imported, "failed": found.failed, "skipped": found.skipped}
    return out
