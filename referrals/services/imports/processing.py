"""The import task's body: check the file, then import it; whatever stops it ends the import
FAILED with a reason, never half written."""

from __future__ import annotations

import logging
import tempfile

from django.db import DatabaseError, IntegrityError
from django.utils import timezone

from referrals.choices import ImportStatus
from referrals.models import (
    ReferralImport,
)
from referrals.services.imports.checking import validate_file
from referrals.services.imports.status import save_fields
from referrals.services.imports.writing import import_file

logger = logging.getLogger(__name__)


def process(batch: ReferralImport) -> ReferralImport:
    """Check, then import. Safe to run again: a finished import returns at once; an interrupted
    one starts over (its transaction was rolled back)."""
    if batch.finished:
        return batch
    try:
        with tempfile.TemporaryFile() as spool:
            if validate_file(batch, spool):
                import_file(batch, spool)
    except (IntegrityError, OSError, ValueError) as exc:
        save_fields(
            batch,
            status=ImportStatus.FAILED,
            finished_at=timezone.now(),
            message=f"The import stopped and nothing was imported: {exc}"[:300],
        )
    except Exception as exc:
        # Whatever else stops it (a database error, a bug), the import must end FAILED with a
        # reason, never stay "importing" for ever: the import's own transaction was rolled back,
        # so nothing of the file was written. The traceback goes to the log for us.
        logger.exception("Referral import %s stopped", batch.pk)
        save_fields(
            batch,
            status=ImportStatus.FAILED,
            finished_at=timezone.now(),
            message=f"The import stopped and nothing was imported: {_failure_reason(exc)}"[:300],
        )
    batch.refresh_from_db()
    return batch


def _failure_reason(exc: Exception) -> str:
    """The first line of what went wrong, in words a plan's staff can pass on to support."""
    detail = (str(exc).strip().splitlines() or [""])[0]
    if isinstance(exc, DatabaseError):
        return f"the database refused the data ({detail or type(exc).__name__}). Contact support with this message."
    return f"an unexpected error ({type(exc).__name__}{': ' + detail if detail else ''}). Contact support with this message."
