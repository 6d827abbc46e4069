"""``manage.py export_claims --out DIR [--plan ID]``: batch every ready claim (one batch per
submitter, plan and format), write each batch's file through the same services the tasks use,
and copy the files to DIR, printing their paths. Nothing is uploaded: the batches stay ready."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from billing.services.batches import create_batches, write_batch_file
from cbo_portal.models import Organization


class Command(BaseCommand):
    help = "Write 837P / invoice files for every ready claim into --out (one file per batch)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--out", required=True, help="Folder to write the files to")
        parser.add_argument("--plan", type=int, help="Only this plan (organization id)")

    def handle(self, *args, out: str, plan: int | None = None, **options) -> None:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            plan_org = Organization.objects.get(pk=plan) if plan else None
        except Organization.DoesNotExist as exc:
            raise CommandError(f"No organization with id {plan}.") from exc
        batches = create_batches(acting_user=None, dispatch=False, plan=plan_org)
        if not batches:
            self.stderr.write("No ready claims to export.")
        for batch in batches:
            batch = write_batch_file(batch)
            target = folder / batch.file_name
            with batch.file.open("rb") as src:
                target.write_bytes(src.read())
            self.stdout.write(str(target))
