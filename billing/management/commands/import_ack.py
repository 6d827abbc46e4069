"""``manage.py import_ack FILE…``: import 999 acknowledgements (the same service as the page)."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.services.acks import import_ack


class Command(BaseCommand):
    help = (
        "Import 999 acknowledgement files: mark our transaction sets and their claims accepted or rejected."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", help="999 files")

    def handle(self, *args: object, **options: object) -> None:
        failed = 0
        for name in options["files"]:  # type: ignore[union-attr]
            path = Path(str(name))
            try:
                ack = import_ack(path.read_bytes(), file_name=path.name)
            except (OSError, ValidationError) as exc:
                failed += 1
                message = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                self.stderr.write(self.style.ERROR(f"{path}: {message}"))
                continue
            if ack.already_imported:
                self.stdout.write(f"{path}: already imported, nothing changed")
            else:
                self.stdout.write(
                    f"{path}: {ack.accepted_sets} transaction sets accepted, {ack.rejected_sets} rejected"
                )
                for item in ack.results:
                    if not item["accepted"]:
                        for line in item["errors"]:
                            self.stdout.write(f"  {line}")
        if failed:
            raise CommandError(f"{failed} of {len(options['files'])} files were not imported")  # type: ignore[arg-type]
