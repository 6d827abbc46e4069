"""Batches: the ready claims one submitter sends one plan, written to one file and delivered.

building → ready → submitting → submitted → acknowledged (the 999 intake moves the last step).

Rules:
* ``create_batch`` takes the submitter's ready claims for the plan under row locks
  (``skip_locked``) and moves them ready → in_batch in the same transaction: a claim is in at
  most one batch even when two coordinators create batches at once. An 837P batch reserves its
  ST02 numbers then, and the same UPDATE stamps each claim with its transaction set (claims in
  file order, 5,000 per set).
* ``write_batch_file`` (building → ready) streams the file to a temporary file, then in one
  transaction stores it (Django storage, with its SHA-256) and moves the batch to ready (re-stamping
  any claim whose set moved, e.g. a claim voided out of the batch meanwhile). A worker killed
  while writing leaves the batch ``building`` with no file; a rerun writes it again with fresh
  ISA13/GS06 (never reusing the old ones) and the batch's ST02s.
* ``submit_batch`` (ready → submitting → submitted) records ``submitting`` — with the batch's
  idempotency key, which names the remote file — before anything leaves. SFTP upload is
  idempotent by name and SHA-256, so a rerun after a crash finishes the job without sending a
  second copy. For download channels, the coordinator downloads the file and marks it sent.
* Tasks call ``process_batch`` by id; it resumes from whatever step the batch reached.
"""

from __future__ import annotations

import csv
import logging
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from billing.choices import BatchFormat, BatchStatus, ClaimStatus, DeliveryMethod
from billing.models import Batch, Claim, PlanChannel
from billing.scope import PROVIDER_BILLING_ROLES
from billing.services import control_numbers, export837, invoices
from billing.services.bulk import in_ids
from billing.services.states import record_claim_history, transition_batch, transition_claims_bulk
from cbo_portal import access
from cbo_portal.choices import AuditAction
from cbo_portal.models import Organization
from cbo_portal.services import audit
from contracts.choices import ClaimFormat
from contracts.models import Contract
from contracts.money import ZERO

log = logging.getLogger(__name__)


def _require_submitter_role(acting_user, submitter: Organization) -> None:  # noqa: ANN001
    if acting_user is None:
        return
    access.require_role(acting_user, submitter, PROVIDER_BILLING_ROLES, action=f"send {submitter}'s claims")


def ready_groups(acting_user=None) -> list[dict]:  # noqa: ANN001
    """(submitter, plan, format) groups with ready claims not yet in a batch, with counts and
    totals: what "create batch" would send. Scoped to the user's submitters."""
    qs = Claim.objects.filter(status=ClaimStatus.READY, batch__isnull=True)
    if acting_user is not None and not access.is_platform_admin(acting_user):
        qs = qs.filter(submitter_id__in=access.org_ids_with_roles(acting_user, PROVIDER_BILLING_ROLES))
    return list(
        qs.values(
            "submitter_id", "submitter__legal_name", "plan_id", "plan__legal_name", "contract__claim_format"
        )
        .annotate(count=Count("pk"), total=Sum("billed_amount"))
        .order_by("submitter__legal_name", "plan__legal_name")
    )


@transaction.atomic
def create_batch(
    *, submitter: Organization, plan: Organization, acting_user, claim_format: str = ClaimFormat.X12_837P,  # noqa: ANN001
    dispatch: bool = True,
) -> Batch:  # fmt: skip
    """A batch of every ready claim ``submitter`` has for ``plan`` in ``claim_format`` that no
    other batch holds; the file is written by the ``process_batch`` task after commit."""
    _require_submitter_role(acting_user, submitter)
    taken = list(
        Claim.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(
            status=ClaimStatus.READY,
            batch__isnull=True,
            submitter=submitter,
            plan=plan,
            contract__claim_format=claim_format,
        )  # fmt: skip
        .order_by(*export837.FILE_ORDER)
        .values_list("pk", "billed_amount")
    )
    if not taken:
        raise ValidationError(f"{submitter} has no ready claims for {plan} to put in a batch.")
    ids = [pk for pk, _amount in taken]
    per_set = export837.x.MAX_CLAIMS_PER_SET
    x12 = claim_format != ClaimFormat.INVOICE
    first_set = control_numbers.set_numbers(str(submitter.pk), -(-len(ids) // per_set)) if x12 else None
    batch = Batch.objects.create(
        submitter=submitter, plan=plan, created_by=acting_user, claim_count=len(ids),
        format=BatchFormat.X12_837P if x12 else BatchFormat.INVOICE, first_set_control=first_set,
        total_billed=sum((amount for _pk, amount in taken), ZERO), progress_total=len(ids),
    )  # fmt: skip
    del taken
    now = timezone.now()
    for n, start in enumerate(range(0, len(ids), per_set)):
        chunk = ids[start : start + per_set]
        # ready → in_batch, into the batch and into its transaction set in one UPDATE (the rows
        # are locked above), then the history rows (transition_claims_bulk would update every
        # claim a second time).
        Claim.objects.filter(in_ids(chunk), status=ClaimStatus.READY).update(
            batch=batch, status=ClaimStatus.IN_BATCH, updated_at=now,
            transaction_set_control=export837.x.set_control_number(first_set + n) if x12 else "",
        )  # fmt: skip
        record_claim_history(chunk, ClaimStatus.READY, ClaimStatus.IN_BATCH, acting_user=acting_user,
                             reason=f"Put in batch {batch.pk}")  # fmt: skip
    audit.record(
        actor=acting_user, action=AuditAction.CREATE, obj=batch, organization=submitter,
        summary=f"Batch {batch.pk} for {plan}: {len(ids)} claims, ${batch.total_billed}",
        changes={"claims": len(ids), "plan": plan.pk},
    )  # fmt: skip
    if dispatch:
        from billing.tasks import process_batch

        transaction.on_commit(lambda: process_batch.delay(batch.pk))
    return batch


def create_batches(*, acting_user=None, dispatch: bool = True, submitter: Organization | None = None,  # noqa: ANN001
                   plan: Organization | None = None) -> list[Batch]:  # fmt: skip
    """One batch per (submitter, plan, format) that has ready claims (the nightly run and the
    "create batches" button)."""
    batches = []
    for group in ready_groups(acting_user):
        if (submitter and group["submitter_id"] != submitter.pk) or (plan and group["plan_id"] != plan.pk):
            continue
        try:
            batches.append(create_batch(
                submitter=Organization.objects.get(pk=group["submitter_id"]), plan=Organization.objects.get(pk=group["plan_id"]),
                acting_user=acting_user, claim_format=group["contract__claim_format"], dispatch=dispatch,
            ))  # fmt: skip
        except ValidationError:  # another coordinator took them meanwhile
            continue
    return batches


def _contract_of(batch: Batch) -> Contract:
    claim = Claim.objects.filter(batch=batch).select_related("contract").order_by("pk").first()
    if claim is None:
        raise ValidationError(f"Batch {batch.pk} holds no claims.")
    return claim.contract


def _progress(batch_id: int, every: float = 0.5):  # noqa: ANN202
    """Record how far the file got, at most every ``every`` seconds (each report is a commit;
    a progress bar needs no more than two a second)."""
    last = [time.monotonic()]

    def report(done: int) -> None:
        now = time.monotonic()
        if now - last[0] >= every:
            last[0] = now
            Batch.objects.filter(pk=batch_id).update(progress_done=done)

    return report


def write_batch_file(batch: Batch | int, *, acting_user=None) -> Batch:  # noqa: ANN001
    """Write the batch's file and move it building → ready (see the module docstring). Returns
    the batch as it is now; a batch past ``building`` is returned untouched."""
    batch = Batch.objects.select_related("submitter", "plan").get(pk=getattr(batch, "pk", batch))
    if batch.status != BatchStatus.BUILDING:
        return batch
    claims = Claim.objects.filter(batch=batch, status=ClaimStatus.IN_BATCH)
    placed = list(claims.order_by(*export837.FILE_ORDER).values_list("pk", "transaction_set_control"))
    claim_ids = [pk for pk, _st02 in placed]
    contract = _contract_of(batch)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "batch"
        with open(path, "w", encoding="utf-8", newline="") as out:
            if batch.format == BatchFormat.INVOICE:
                written = invoices.write_csv(out, claim_ids)
                isa = gs = None
                moved = {}
                suffix = "csv"
            else:
                written = export837.write_837(
                    out, claim_ids, submitter=batch.submitter, plan=batch.plan, contract=contract,
                    batch_label=f"B{batch.pk}", progress=_progress(batch.pk), first_set=batch.first_set_control,
                )  # fmt: skip
                isa, gs = written.interchange_control, written.group_control
                moved: dict[str, list[int]] = {}
                for i, (pk, st02) in enumerate(placed):
                    if st02 != (in_file := written.set_of(i)):
                        moved.setdefault(in_file, []).append(pk)
                suffix = "837"
        sha = invoices.sha256_of(path)
        with transaction.atomic():
            locked = Batch.objects.select_for_update().get(pk=batch.pk)
            if locked.status != BatchStatus.BUILDING:  # another run finished first
                return locked
            name = f"{batch.submitter_id}-{batch.plan_id}-{batch.pk}-{(isa or 0):09d}.{suffix}"
            with open(path, "rb") as fh:
                locked.file.save(name, File(fh), save=False)
            for st02, ids in moved.items():
                Claim.objects.filter(in_ids(ids)).update(transaction_set_control=st02)
            return transition_batch(
                locked, BatchStatus.READY, acting_user=acting_user, reason=f"File written ({len(claim_ids)} claims)",
                file=locked.file, file_name=name, sha256=sha, interchange_control=isa, group_control=gs,
                progress_done=len(claim_ids), progress_total=len(claim_ids), error="",
            )  # fmt: skip


def submit_batch(batch: Batch | int, *, acting_user=None) -> Batch:  # noqa: ANN001
    """Send a ready batch (ready → submitting → submitted). For SFTP channels the file is
    uploaded; for download channels this records that the coordinator sent it by hand. Resumes a
    batch left ``submitting`` by a crash (the upload is idempotent)."""
    pk = getattr(batch, "pk", batch)
    with transaction.atomic():
        locked = Batch.objects.select_for_update().select_related("submitter", "plan").get(pk=pk)
        _require_submitter_role(acting_user, locked.submitter)
        if locked.status in (BatchStatus.SUBMITTED, BatchStatus.ACKNOWLEDGED):
            return locked
        if locked.status == BatchStatus.READY:
            locked = transition_batch(locked, BatchStatus.SUBMITTING, acting_user=acting_user,
                                      reason=f"Sending {locked.file_name} (key {locked.idempotency_key})")  # fmt: skip
        elif locked.status != BatchStatus.SUBMITTING:
            raise ValidationError(
                f"Batch {pk} is {locked.get_status_display().lower()}; it cannot be sent yet."
            )
    channel = PlanChannel.objects.filter(plan_id=locked.plan_id).first()
    remote = ""
    if channel is not None and channel.method == DeliveryMethod.SFTP:
        from billing.services import channels

        with locked.file.open("rb") as fh:
            remote = channels.upload(channel, fh.read(), locked.file_name)
    with transaction.atomic():
        locked = Batch.objects.select_for_update().get(pk=pk)
        if locked.status != BatchStatus.SUBMITTING:
            return locked
        ids = list(
            Claim.objects.filter(batch=locked, status=ClaimStatus.IN_BATCH).values_list("pk", flat=True)
        )
        for start in range(0, len(ids), 10000):
            transition_claims_bulk(ids[start : start + 10000], ClaimStatus.IN_BATCH, ClaimStatus.SUBMITTED,
                                   acting_user=acting_user, reason=f"Sent in batch {pk}")  # fmt: skip
        how = f"uploaded to {remote}" if remote else "downloaded and sent by hand"
        return transition_batch(locked, BatchStatus.SUBMITTED, acting_user=acting_user, reason=f"File {how}",
                                remote_path=remote, submitted_at=timezone.now())  # fmt: skip


def process_batch(batch_id: int) -> Batch:
    """The task's body: write the file if not yet written, then send it when the plan takes
    files by SFTP. Safe to run again at any point."""
    batch = write_batch_file(batch_id)
    channel = PlanChannel.objects.filter(plan_id=batch.plan_id).first()
    if (
        batch.status in (BatchStatus.READY, BatchStatus.SUBMITTING)
        and channel
        and channel.method == DeliveryMethod.SFTP
    ):
        batch = submit_batch(batch)
    return batch


def fail_batch(batch_id: int, error: str) -> Batch:
    """Record why a batch could not be finished (the coordinator sees it and retries)."""
    batch = Batch.objects.get(pk=batch_id)
    if batch.status in (BatchStatus.BUILDING, BatchStatus.READY, BatchStatus.SUBMITTING):
        return transition_batch(batch, BatchStatus.FAILED, reason=error[:500], error=error[:2000])
    return batch


@transaction.atomic
def retry_batch(batch: Batch, *, acting_user) -> Batch:  # noqa: ANN001
    """A failed batch resumes where it stopped: building without a file, ready with one."""
    _require_submitter_role(acting_user, batch.submitter)
    to = BatchStatus.READY if batch.file_name else BatchStatus.BUILDING
    batch = transition_batch(batch, to, acting_user=acting_user, reason="Retry", error="")
    from billing.tasks import process_batch as task

    transaction.on_commit(lambda: task.delay(batch.pk))
    return batch


def unfinished_batch_ids() -> list[int]:
    """Batches a crash may have left half-way (the beat task re-dispatches them)."""
    return list(
        Batch.objects.filter(status__in=[BatchStatus.BUILDING, BatchStatus.SUBMITTING]).values_list(
            "pk", flat=True
        )
    )


def check_can_download(acting_user, batch: Batch) -> None:  # noqa: ANN001
    if not access.is_platform_admin(acting_user) and not access.has_role(
        acting_user, batch.submitter, PROVIDER_BILLING_ROLES
    ):
        raise PermissionDenied("Only the submitter's billing coordinator may download claim files.")


def csv_rows(claims: Iterable[Claim]) -> Iterable[list]:
    """Rows of the claims CSV export (list pages)."""
    yield ["control_number", "status", "plan", "billing_provider", "member_cin", "service_month", "first_service_date",
           "last_service_date", "billed_amount", "paid_amount", "problems"]  # fmt: skip
    for c in claims:
        yield [c.control_number, c.status, c.plan.legal_name, c.billing_provider.legal_name, c.member.cin,
               c.service_month.isoformat(), c.first_service_date.isoformat(), c.last_service_date.isoformat(),
               c.billed_amount, c.paid_amount, "; ".join(p["message"] for p in c.problems)]  # fmt: skip


__all__ = ["csv"]
