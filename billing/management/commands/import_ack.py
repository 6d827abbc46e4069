"""``manage.py import_ack FILE…``: import 999, 277CA and TA1 acknowledgements (the same service as
the page); each file is told apart by what it is, not by its name."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.services.acks import import_ack
from cbo_portal.words import count


class Command(BaseCommand):
    help = (
        "Import 999, 277CA and TA1 acknowledgement files: mark our transaction sets, claims and "
        "interchanges accepted or rejected."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", help="999, 277CA or TA1 files")

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
            what = {"999": "transaction set", "277CA": "claim", "TA1": "interchange"}[ack.kind]
            if ack.already_imported:
                self.stdout.write(f"{path}: {ack.kind}, already imported, nothing changed")
                continue
            self.stdout.write(
                f"{path}: {ack.kind}: {count(ack.accepted_sets, what)} accepted, {ack.rejected_sets} rejected"
            )
            for item in ack.results:
                if not item.get("accepted", item.get("outcome") == "accepted"):
                    for line in item["errors"]:
                        self.stdout.write(f"  {line}")
            for warning in ack.warnings:
                self.stdout.write(self.style.WARNING(f"  contradiction: {warning}"))
        if failed:
            raise CommandError(f"{failed} of {len(options['files'])} files were not imported")  # type: ignore[arg-type]
