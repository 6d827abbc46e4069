"""Batches: the ready claims one submitter sends one plan, written to one file and delivered.

building → ready → submitting → submitted → acknowledged (the 999 intake moves the last step).

Rules:
* ``create_batch`` takes the submitter's ready claims for the plan under row locks
  (``skip_locked``) and moves them ready → in_batch in the same transaction: a claim is in at
  most one batch even when two coordinators create batches at once. An 837P batch reserves its
  ST02 numbers then, and the same UPDATE stamps each claim with its transaction set (claims in
  ``export837.CLAIM_ORDER``, 5,000 per set).
* The nightly build puts new ready claims straight into batches (``BatchFiller``): each chunk
  the builder commits share-locks its open (``building``) batch and inserts its claims in_batch,
  in transaction sets of their own (ST02s reserved just before). A batch whose file was written
  meanwhile takes no more claims: the next chunk opens a new batch. Its counts are settled when
  the build ends (``settle``) and again, with its first ST02, when its file is written.
* ``write_batch_file`` (building → ready) streams the file to a temporary file, set by set in
  each claim's stamped ST02, then in one transaction — if the batch still holds exactly the
  claims written, otherwise it writes again — stores it (Django storage, with its SHA-256) and
  moves the batch to ready. A worker killed while writing leaves the batch ``building`` with no
  file; a rerun writes it again with fresh ISA13/GS06 (never reusing the old ones) and the same
  ST02s.
* ``submit_batch`` (ready → submitting → submitted) records ``submitting`` — with the batch's
  idempotency key, which names the remote file — before anything leaves. SFTP upload is
  idempotent by name and SHA-256, so a rerun after a crash finishes the job without sending a
  second copy. For download channels, the coordinator downloads the file and marks it sent.
* An answer proves sending: a 999, 277CA or 835 that answers a batch whose file was written but
  not yet marked sent (``export_claims`` leaves batches ready: the coordinator sends the files)
  marks it sent first (``mark_sent_by_answer``; its history names the file that told us), then
  is posted.
* Tasks call ``process_batch`` by id; it resumes from whatever step the batch reached.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import tempfile
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, models, transaction
from django.db.models import Count, F, Sum
from django.utils import timezone

from billing.choices import BatchFormat, BatchStatus, ClaimStatus, DeliveryMethod
from billing.models import Batch, Claim, PlanChannel
from billing.scope import PROVIDER_BILLING_ROLES
from billing.services import control_numbers, export837, invoices
from billing.services.states import transition_batch, transition_claims_bulk
from cbo_portal import access
from cbo_portal.choices import AuditAction
from cbo_portal.fastpath import among, on_postgresql
from cbo_portal.models import Organization
from cbo_portal.services import audit
from cbo_portal.words import count
from contracts.choices import ClaimFormat
from contracts.models import Contract
from contracts.money import ZERO

log = logging.getLogger(__name__)


def _require_submitter_role(acting_user, submitter: Organization) -> None:
    if acting_user is None:
        return
    access.require_role(acting_user, submitter, PROVIDER_BILLING_ROLES, action=f"send {submitter}'s claims")


def ready_groups(acting_user=None) -> list[dict]:
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


def _set_numbers(submitter_id: int, claims: int) -> list[int]:
    """Fresh ST02s from the submitter's counter for ``claims`` claims, 5,000 to a set."""
    count = -(-claims // export837.x.MAX_CLAIMS_PER_SET)
    first = control_numbers.set_numbers(str(submitter_id), count)
    return list(range(first, first + count))


def _in_sets(submitter_id: int, ids: list[int], *, x12: bool) -> list[tuple[list[int], str]]:
    """``ids`` (in ``export837.CLAIM_ORDER``) cut into transaction sets, each with its ST02;
    invoices have no sets (one chunk, no ST02)."""
    if not x12:
        return [(ids, "")]
    per_set = export837.x.MAX_CLAIMS_PER_SET
    return [
        (ids[n * per_set : (n + 1) * per_set], export837.x.set_control_number(number))
        for n, number in enumerate(_set_numbers(submitter_id, len(ids)))
    ]


@transaction.atomic
def create_batch(
    *,
    submitter: Organization,
    plan: Organization,
    acting_user,
    claim_format: str = ClaimFormat.X12_837P,
    dispatch: bool = True,
) -> Batch:
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
        )
        .order_by(*export837.CLAIM_ORDER)
        .values_list("pk", "billed_amount")
    )
    if not taken:
        raise ValidationError(f"{submitter} has no ready claims for {plan} to put in a batch.")
    ids = [pk for pk, _amount in taken]
    x12 = claim_format != ClaimFormat.INVOICE
    sets = _in_sets(submitter.pk, ids, x12=x12)
    batch = Batch.objects.create(
        submitter=submitter,
        plan=plan,
        created_by=acting_user,
        claim_count=len(ids),
        format=BatchFormat.X12_837P if x12 else BatchFormat.INVOICE,
        first_set_control=int(sets[0][1]) if x12 else None,
        total_billed=sum((amount for _pk, amount in taken), ZERO),
        progress_total=len(ids),
    )
    del taken
    for chunk, st02 in sets:
        # ready → in_batch, into the batch and into its transaction set in one UPDATE (the rows
        # are locked above).
        transition_claims_bulk(
            chunk,
            ClaimStatus.READY,
            ClaimStatus.IN_BATCH,
            acting_user=acting_user,
            reason=f"Put in batch {batch.pk}",
            batch=batch,
            transaction_set_control=st02,
        )
    audit.record(
        actor=acting_user,
        action=AuditAction.CREATE,
        obj=batch,
        organization=submitter,
        summary=f"Batch {batch.pk} for {plan}: {count(len(ids), 'claim')}, ${batch.total_billed}",
        changes={"claims": len(ids), "plan": plan.pk},
    )
    if dispatch:
        from billing.tasks import process_batch

        transaction.on_commit(lambda: process_batch.delay(batch.pk))
    return batch


def create_batches(
    *,
    acting_user=None,
    dispatch: bool = True,
    submitter: Organization | None = None,
    plan: Organization | None = None,
) -> list[Batch]:
    """One batch per (submitter, plan, format) that has ready claims (the nightly run and the
    "create batches" button)."""
    batches = []
    for group in ready_groups(acting_user):
        if (submitter and group["submitter_id"] != submitter.pk) or (plan and group["plan_id"] != plan.pk):
            continue
        try:
            batches.append(
                create_batch(
                    submitter=Organization.objects.get(pk=group["submitter_id"]),
                    plan=Organization.objects.get(pk=group["plan_id"]),
                    acting_user=acting_user,
                    claim_format=group["contract__claim_format"],
                    dispatch=dispatch,
                )
            )
        except ValidationError:  # another coordinator took them meanwhile
            continue
    return batches


class BatchFiller:
    """Puts the claims a build makes ready straight into batches (the nightly run), so they are
    written once instead of inserted ready and then updated into a batch. The shards of one
    build (``run``) commit their chunks at once on their own workers, each with a filler, and fill
    the same batches (``Batch.build_run``); so nothing here holds, until its chunk commits, a lock
    another shard's chunk needs: ``reserve`` takes the chunk's ST02s before its transaction (a
    chunk's claims fill sets of their own), ``place`` only share-locks the open batch, and the
    batch's counts are settled when the build ends (``settle_batches``) and when its file is
    written."""

    def __init__(self, acting_user, run: uuid.UUID | None = None) -> None:
        self.acting_user = acting_user
        self.run = run or uuid.uuid4()
        self.open: dict[tuple[int, int, str], int] = {}
        self.formats: dict[int, str] = {}
        self.batch_ids: list[int] = []

    def reserve(self, claims: Iterable) -> dict[tuple[int, int, str], list[int]]:
        """ST02s for a chunk's ready claims, per submitter, plan and format (one per 5,000),
        taken before the chunk's transaction so that the counter is not locked while it runs."""
        return {key: self._sets(key, len(group)) for key, group in self._groups(claims).items()}

    def place(self, claims: Iterable, sets: dict[tuple[int, int, str], list[int]]) -> None:
        """In the chunk's transaction: make each ready claim in_batch, in the open batch of its
        submitter, plan and format and in one of the ``sets`` reserved for it."""
        per_set = export837.x.MAX_CLAIMS_PER_SET
        for key, group in self._groups(claims).items():
            batch_id = self._open_batch(key)
            numbers = sets.get(key, [])
            if len(numbers) * per_set < len(group):  # the chunk was prepared again meanwhile
                numbers = self._sets(key, len(group))
            for n, claim in enumerate(group):
                claim.status, claim.batch_id = ClaimStatus.IN_BATCH, batch_id
                claim.transaction_set_control = (
                    export837.x.set_control_number(numbers[n // per_set]) if numbers else ""
                )

    def _groups(self, claims: Iterable) -> dict[tuple[int, int, str], list]:
        ready = [c for c in claims if c.status == ClaimStatus.READY]
        missing = {c.contract_id for c in ready} - set(self.formats)
        if missing:
            self.formats.update(Contract.objects.filter(pk__in=missing).values_list("pk", "claim_format"))
        groups: dict[tuple[int, int, str], list] = {}
        for claim in ready:
            groups.setdefault(
                (claim.submitter_id, claim.plan_id, self.formats[claim.contract_id]), []
            ).append(claim)
        return groups

    @staticmethod
    def _sets(key: tuple[int, int, str], claims: int) -> list[int]:
        return [] if key[2] == ClaimFormat.INVOICE else _set_numbers(key[0], claims)

    def _open_batch(self, key: tuple[int, int, str]) -> int:
        """This build's open batch for ``key``, share-locked; a new one when there is none yet or
        its file was written meanwhile (it takes no more claims). Two chunks (of this shard or
        another of the run) may need a new one at once: the one that locks the submitter first
        makes it, the other then finds it."""
        found = self.open.get(key)
        if found is not None and _takes_claims(found):
            return found
        list(Organization.objects.select_for_update(no_key=True).filter(pk=key[0]).values_list("pk"))
        submitter_id, plan_id, claim_format = key
        batch_format = BatchFormat.INVOICE if claim_format == ClaimFormat.INVOICE else BatchFormat.X12_837P
        runs = Batch.objects.filter(
            build_run=self.run,
            submitter_id=submitter_id,
            plan_id=plan_id,
            format=batch_format,
            status=BatchStatus.BUILDING,
        )
        found = runs.order_by("-pk").values_list("pk", flat=True).first()
        if found is not None and _takes_claims(found):
            self.open[key] = found
            if found not in self.batch_ids:
                self.batch_ids.append(found)
            return found
        batch = Batch.objects.create(
            submitter_id=submitter_id,
            plan_id=plan_id,
            created_by=self.acting_user,
            format=batch_format,
            build_run=self.run,
        )
        audit.record(
            actor=self.acting_user,
            action=AuditAction.CREATE,
            obj=batch,
            organization=batch.submitter,
            summary=f"Batch {batch.pk} for {batch.plan}: filled with the claims the build makes ready",
            changes={"plan": plan_id},
        )
        self.batch_ids.append(batch.pk)
        self.open[key] = batch.pk
        return batch.pk


def settle_batches(batch_ids: Iterable[int]) -> None:
    """After a build: each batch it filled shows what it holds (its file will say again)."""
    for batch_id in batch_ids:
        counts = _counts(batch_id)
        Batch.objects.filter(pk=batch_id, status=BatchStatus.BUILDING).update(
            **counts, progress_total=counts["claim_count"]
        )


def run_batch_ids(run: uuid.UUID) -> list[int]:
    """The batches build ``run`` filled that are still building (not yet written)."""
    return list(
        Batch.objects.filter(build_run=run, status=BatchStatus.BUILDING)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _counts(batch_id: int) -> dict:
    """The batch's claim count and total billed, from the claims it holds now."""
    found = Claim.objects.filter(batch_id=batch_id, status=ClaimStatus.IN_BATCH).aggregate(
        claim_count=Count("pk"), total_billed=Sum("billed_amount")
    )
    return {"claim_count": found["claim_count"], "total_billed": found["total_billed"] or ZERO}


def _takes_claims(batch_id: int) -> bool:
    """Whether the batch is still building, share-locked until the caller's transaction ends so
    that its file cannot be stored meanwhile (``write_batch_file`` locks it for update). Django
    has no FOR SHARE, hence the SQL."""
    if not on_postgresql():
        return Batch.objects.filter(pk=batch_id, status=BatchStatus.BUILDING).exists()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM billing_batch WHERE id = %s AND status = %s FOR SHARE",
            [batch_id, BatchStatus.BUILDING],
        )
        return cursor.fetchone() is not None


def _contract_of(batch: Batch) -> Contract:
    claim = Claim.objects.filter(batch=batch).select_related("contract").order_by("pk").first()
    if claim is None:
        raise ValidationError(f"Batch {batch.pk} holds no claims.")
    return claim.contract


def _progress(batch_id: int, every: float = 0.5):
    """Record how far the file got, at most every ``every`` seconds (each report is a commit;
    a progress bar needs no more than two a second). Each report adds the claims written since
    the last one."""
    last = {"at": time.monotonic(), "done": 0}

    def report(done: int) -> None:
        now = time.monotonic()
        if now - last["at"] >= every:
            Batch.objects.filter(pk=batch_id).update(progress_done=F("progress_done") + (done - last["done"]))
            last.update(at=now, done=done)

    return report


def write_batch_file(batch_or_id: Batch | int, *, acting_user=None, attempts: int = 3) -> Batch:
    """Write the batch's file in this process and move it building → ready (see the module
    docstring). Returns the batch as it is now; a batch past ``building`` is returned untouched."""
    pk = batch_or_id.pk if isinstance(batch_or_id, Batch) else batch_or_id
    batch = Batch.objects.select_related("submitter", "plan").get(pk=pk)
    for _attempt in range(attempts):
        if batch.status != BatchStatus.BUILDING:
            return batch
        placed = _placed(batch)
        if batch.format != BatchFormat.INVOICE and any(not st02 for _pk, st02 in placed):
            _stamp_sets(batch, placed)  # a batch made before claims carried their sets
            placed = _placed(batch)
        Batch.objects.filter(pk=batch.pk).update(progress_done=0, progress_total=len(placed))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "batch"
            isa, gs, suffix = _write(batch, placed, path)
            stored = _store(batch, placed, path, isa=isa, gs=gs, suffix=suffix, acting_user=acting_user)
            if stored is not None:
                return stored
        # Claims joined (a build still filling it) or left the batch while the file was written.
        batch = Batch.objects.select_related("submitter", "plan").get(pk=batch.pk)
    raise ValidationError(
        f"The claims of batch {batch.pk} kept changing while its file was written; try again."
    )


def _store(
    batch: Batch,
    placed: list[tuple[int, str]],
    path: Path,
    *,
    isa: int | None,
    gs: int | None,
    suffix: str,
    acting_user,
) -> Batch | None:
    """In one transaction, if the batch is still building and holds exactly the ``placed``
    claims written to ``path``: store the file (Django storage, with its SHA-256) and move the
    batch to ready. None when its claims changed meanwhile (the file must be written again)."""
    sha = invoices.sha256_of(path)
    with transaction.atomic():
        locked = Batch.objects.select_for_update().get(pk=batch.pk)
        if locked.status != BatchStatus.BUILDING or _placed(locked) != placed:
            return locked if locked.status != BatchStatus.BUILDING else None
        name = f"{batch.submitter_id}-{batch.plan_id}-{batch.pk}-{(isa or 0):09d}.{suffix}"
        with open(path, "rb") as fh:
            locked.file.save(name, File(fh), save=False)
        return transition_batch(
            locked,
            BatchStatus.READY,
            acting_user=acting_user,
            reason=f"File written ({count(len(placed), 'claim')})",
            file=locked.file,
            file_name=name,
            sha256=sha,
            interchange_control=isa,
            group_control=gs,
            first_set_control=int(placed[0][1] or 0) or None,
            **_counts(locked.pk),
            progress_done=len(placed),
            progress_total=len(placed),
            error="",
        )


def _placed(batch: Batch) -> list[tuple[int, str]]:
    """The batch's claims in file order with their ST02s."""
    claims = Claim.objects.filter(batch=batch, status=ClaimStatus.IN_BATCH)
    return list(claims.order_by(*export837.FILE_ORDER).values_list("pk", "transaction_set_control"))


@transaction.atomic
def _stamp_sets(batch: Batch, placed: list[tuple[int, str]]) -> None:
    for chunk, st02 in _in_sets(batch.submitter_id, [pk for pk, _st02 in placed], x12=True):
        Claim.objects.filter(among("pk", chunk)).update(transaction_set_control=st02)


def _envelope_options(batch: Batch) -> export837.EnvelopeOptions:
    channel = PlanChannel.objects.filter(plan_id=batch.plan_id).first()
    if channel is None:
        return export837.EnvelopeOptions()
    return export837.EnvelopeOptions(
        channel.usage_indicator, channel.ta1_requested, channel.sender_qualifier, channel.receiver_qualifier
    )


def _write(batch: Batch, placed: list[tuple[int, str]], path: Path) -> tuple[int | None, int | None, str]:
    """Write the file of ``placed`` claims to ``path``; (ISA13, GS06, file suffix)."""
    claim_ids = [pk for pk, _st02 in placed]
    contract = _contract_of(batch)
    with open(path, "w", encoding="utf-8", newline="") as out:
        if batch.format == BatchFormat.INVOICE:
            invoices.write_csv(out, claim_ids)
            return None, None, "csv"
        options = _envelope_options(batch)
        written = export837.write_837(
            out,
            claim_ids,
            submitter=batch.submitter,
            plan=batch.plan,
            contract=contract,
            batch_label=f"B{batch.pk}",
            progress=_progress(batch.pk),
            set_numbers=[int(st02) for _pk, st02 in placed],
            usage=options.usage,
            ack_requested=options.ack_requested,
            sender_qualifier=options.sender_qualifier,
            receiver_qualifier=options.receiver_qualifier,
        )
        return written.interchange_control, written.group_control, "837"


# --------------------------------------------------------------------------- a big file in parts
#
# A big 837P file is written by several tasks, whole transaction sets each (``file_parts``,
# ``write_part``), then put together by one (``join_parts``), which stores it exactly as
# ``write_batch_file`` does: only if the batch still holds exactly the claims the parts wrote,
# otherwise it writes the file again itself. Parts are files in Django storage (shared by every
# worker machine), named by the attempt, and removed once joined.


def file_parts(batch_id: int, claims_per_part: int) -> list[list[str]]:
    """The ST02s of the batch's claims in file order, cut into parts of whole transaction sets
    of about ``claims_per_part`` claims (at least one set each). None needed (``[]``) unless the
    batch is an 837P still building whose claims all carry their sets and fill several parts."""
    batch = Batch.objects.get(pk=batch_id)
    if batch.status != BatchStatus.BUILDING or batch.format == BatchFormat.INVOICE:
        return []
    sizes = (
        Claim.objects.filter(batch=batch, status=ClaimStatus.IN_BATCH)
        .values_list("transaction_set_control")
        .annotate(n=Count("pk"))
        .order_by("transaction_set_control")
    )
    parts: list[list[str]] = []
    size = 0
    for st02, n in sizes:
        if not st02:
            return []  # a batch made before claims carried their sets: one writer stamps them
        if not parts or size + n > claims_per_part:
            parts.append([])
            size = 0
        parts[-1].append(st02)
        size += n
    return parts if len(parts) > 1 else []


def _part_claims(batch: Batch, sets: list[str]) -> list[tuple[int, str]]:
    claims = Claim.objects.filter(batch=batch, status=ClaimStatus.IN_BATCH, transaction_set_control__in=sets)
    return list(claims.order_by(*export837.FILE_ORDER).values_list("pk", "transaction_set_control"))


def _digest(placed: Iterable[tuple[int, str]]) -> str:
    return hashlib.sha256(",".join(f"{pk}:{st02}" for pk, st02 in placed).encode()).hexdigest()


def write_part(
    batch_id: int, index: int, sets: list[str], *, created: datetime.datetime, attempt: str
) -> dict:
    """Write the transaction sets ``sets`` of the batch (its claims in them now) to a part file
    in storage. Returns what ``join_parts`` needs: the part's name, index, sets and claims
    written, and a digest of which claims in which sets."""
    batch = Batch.objects.select_related("submitter", "plan").get(pk=batch_id)
    placed = _part_claims(batch, sets)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "part"
        with open(path, "w", encoding="utf-8", newline="") as out:
            written = export837.write_sets(
                out,
                [pk for pk, _st02 in placed],
                [int(st02) for _pk, st02 in placed],
                submitter=batch.submitter,
                plan=batch.plan,
                contract=_contract_of(batch),
                batch_label=f"B{batch.pk}",
                created=created,
                progress=_progress(batch.pk),
            )
        with open(path, "rb") as fh:
            name = default_storage.save(f"batch-parts/{batch.pk}/{attempt}-{index:04d}.837", File(fh))
    return {
        "index": index,
        "name": name,
        "sets": list(dict.fromkeys(st02 for _pk, st02 in placed)),
        "set_count": len(written.sets),
        "claims": len(placed),
        "digest": _digest(placed),
    }


def join_parts(batch_id: int, parts: list[dict], *, created: datetime.datetime, acting_user=None) -> Batch:
    """Put the parts ``write_part`` wrote together into the batch's file and store it (building →
    ready), if the batch is still building and holds exactly the claims the parts wrote; if its
    claims changed meanwhile, write the file again in this process (``write_batch_file``). The
    part files are removed either way."""
    parts = sorted(parts, key=lambda p: p["index"])
    try:
        batch = Batch.objects.select_related("submitter", "plan").get(pk=batch_id)
        if batch.status != BatchStatus.BUILDING:
            return batch
        placed = _placed(batch)
        by_set: dict[str, list[tuple[int, str]]] = {}
        for pk, st02 in placed:
            by_set.setdefault(st02, []).append((pk, st02))
        wrote = [_digest(claim for st02 in p["sets"] for claim in by_set.get(st02, [])) for p in parts]
        covered = [st02 for p in parts for st02 in p["sets"]]
        if wrote != [p["digest"] for p in parts] or covered != list(by_set):
            return write_batch_file(batch, acting_user=acting_user)  # claims joined or left meanwhile

        def body(sink: IO[str]) -> int:
            for part in parts:
                with default_storage.open(part["name"], "rb") as fh:
                    while block := fh.read(1 << 20):
                        sink.write(block.decode())
            return sum(p["set_count"] for p in parts)

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "batch"
            with open(path, "w", encoding="utf-8", newline="") as out:
                isa, gs, _sha = export837.join_837(
                    out,
                    body,
                    submitter=batch.submitter,
                    plan=batch.plan,
                    contract=_contract_of(batch),
                    batch_label=f"B{batch.pk}",
                    created=created,
                    options=_envelope_options(batch),
                )
            stored = _store(batch, placed, path, isa=isa, gs=gs, suffix="837", acting_user=acting_user)
        return stored if stored is not None else write_batch_file(batch, acting_user=acting_user)
    finally:
        for part in parts:
            default_storage.delete(part["name"])


def submit_batch(batch: Batch | int, *, acting_user=None) -> Batch:
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
            locked = transition_batch(
                locked,
                BatchStatus.SUBMITTING,
                acting_user=acting_user,
                reason=f"Sending {locked.file_name} to the plan",
            )
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
        how = f"uploaded to {remote}" if remote else "downloaded and sent by hand"
        return _record_sent(locked, acting_user=acting_user, reason=f"File {how}", remote=remote)


def _record_sent(locked: Batch, *, acting_user, reason: str, remote: str = "") -> Batch:
    """submitting → submitted for a locked batch, its in_batch claims → submitted."""
    ids = list(Claim.objects.filter(batch=locked, status=ClaimStatus.IN_BATCH).values_list("pk", flat=True))
    for start in range(0, len(ids), 10000):
        transition_claims_bulk(
            ids[start : start + 10000],
            ClaimStatus.IN_BATCH,
            ClaimStatus.SUBMITTED,
            acting_user=acting_user,
            reason=f"Sent in batch {locked.pk}",
        )
    return transition_batch(
        locked,
        BatchStatus.SUBMITTED,
        acting_user=acting_user,
        reason=reason,
        remote_path=remote or locked.remote_path,
        submitted_at=timezone.now(),
    )


# Batches whose file exists but which nobody has marked sent: an answer from the plan may name them.
UNSENT_WRITTEN_STATUSES = (BatchStatus.READY, BatchStatus.SUBMITTING)


def answerable_unsent_batches(scope_user=None) -> models.QuerySet:
    """Batches with a written file not yet marked sent (those an answer could prove sent), limited
    to the ones ``scope_user`` submits when given."""
    from billing.scope import billing_scope_q

    batches = Batch.objects.filter(status__in=UNSENT_WRITTEN_STATUSES).exclude(file="")
    if scope_user is not None:
        q = billing_scope_q(scope_user, provider="submitter", submitter=None, plan=None)
        if q is not None:
            batches = batches.filter(q)
    return batches


@transaction.atomic
def mark_sent_by_answer(batch: Batch, *, answer: str, acting_user=None) -> Batch:
    """The plan answered ``batch`` (``answer`` names the 999/277CA/835 file), so it was sent:
    ready → submitting → submitted (claims in_batch → submitted), with history saying which file
    told us. A batch already sent is returned as it is."""
    locked = Batch.objects.select_for_update().get(pk=batch.pk)
    if locked.status not in UNSENT_WRITTEN_STATUSES or not locked.file:
        return locked
    reason = f"Marked sent: {answer} answers this batch, so the plan has its file"
    if locked.status == BatchStatus.READY:
        locked = transition_batch(locked, BatchStatus.SUBMITTING, acting_user=acting_user, reason=reason)
    return _record_sent(locked, acting_user=acting_user, reason=reason)


def mark_answered_batches(claim_numbers, *, answer: str, acting_user=None, scope=None) -> list[Batch]:
    """Mark sent every written-but-unsent batch holding an in_batch claim with one of
    ``claim_numbers`` (a set, or a callable giving it: it is only called when such batches exist,
    since reading the numbers may cost a pass over a large file)."""
    user = acting_user if scope is not None else None
    batches = answerable_unsent_batches(user)
    if not batches.exists():
        return []
    numbers = claim_numbers() if callable(claim_numbers) else claim_numbers
    if not numbers:
        return []
    ids = set(
        Claim.objects.filter(batch__in=batches, status=ClaimStatus.IN_BATCH, control_number__in=list(numbers))
        .values_list("batch_id", flat=True)
        .distinct()
    )
    return [
        mark_sent_by_answer(b, answer=answer, acting_user=acting_user)
        for b in Batch.objects.filter(pk__in=ids)
    ]


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
def retry_batch(batch: Batch, *, acting_user) -> Batch:
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


def check_can_download(acting_user, batch: Batch) -> None:
    if not access.is_platform_admin(acting_user) and not access.has_role(
        acting_user, batch.submitter, PROVIDER_BILLING_ROLES
    ):
        raise PermissionDenied("Only the submitter's billing coordinator may download claim files.")


def csv_rows(claims: Iterable[Claim]) -> Iterable[list]:
    """Rows of the claims CSV export (list pages)."""
    yield [
        "control_number",
        "status",
        "plan",
        "billing_provider",
        "member_cin",
        "service_month",
        "first_service_date",
        "last_service_date",
        "billed_amount",
        "paid_amount",
        "problems",
    ]
    for c in claims:
        yield [
            c.control_number,
            c.status,
            c.plan.legal_name,
            c.billing_provider.legal_name,
            c.member.cin,
            c.service_month.isoformat(),
            c.first_service_date.isoformat(),
            c.last_service_date.isoformat(),
            c.billed_amount,
            c.paid_amount,
            "; ".join(p["message"] for p in c.problems),
        ]
