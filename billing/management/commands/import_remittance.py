"""``manage.py import_remittance FILE… [--json]``: import 835 files (the same service as the page)."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.services.remittances import import_remittance
from cbo_portal.words import count


class Command(BaseCommand):
    help = "Import 835 remittance files: post payments and adjustments against our claims."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", help="835 files")
        parser.add_argument("--json", action="store_true", help="Print one JSON summary per file")

    def handle(self, *args: object, **options: object) -> None:
        failed = 0
        summaries = []
        for name in options["files"]:  # type: ignore[union-attr]
            path = Path(str(name))
            try:
                result = import_remittance(path.read_bytes(), file_name=path.name)
            except (OSError, ValidationError) as exc:
                failed += 1
                message = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
                if options["json"]:
                    summaries.append({"file": str(path), "error": message})
                else:
                    self.stderr.write(self.style.ERROR(f"{path}: {message}"))
                continue
            summary = {"file": str(path), **result.as_dict()}
            summaries.append(summary)
            if not options["json"]:
                state = "already imported, nothing changed" if result.already_imported else "imported"
                self.stdout.write(
                    f"{path}: {state}: {count(result.claims_matched, 'claim')} matched, {result.claims_unmatched} unmatched, "
                    f"${result.paid_total} paid, ${result.adjustment_total} adjusted, {result.denied_count} denied"
                )
        if options["json"]:
            self.stdout.write(json.dumps(summaries[0] if len(summaries) == 1 else summaries, indent=2))
        if failed:
            raise CommandError(f"{failed} of {len(options['files'])} files were not imported")  # type: ignore[arg-type]
