"""An import's status and progress, written where the polling page can see them."""

from __future__ import annotations

from contextlib import contextmanager

from django.db import connections

from cbo_portal.fastpath import (
    on_postgresql,
)
from referrals.models import (
    ReferralImport,
    RosterImport,
)


@contextmanager
def progress_writer(batch: ReferralImport | RosterImport):
    """Write progress where the polling page can see it. On PostgreSQL through a second
    connection (autocommit), since the import runs in one long transaction; elsewhere (SQLite,
    which allows one writer) progress is written only between the phases."""
    if not on_postgresql():
        yield lambda **fields: None
        return
    side = connections.create_connection("default")
    try:

        def write(**fields: int) -> None:
            sets = ", ".join(f"{name} = %s" for name in fields)
            with side.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {batch._meta.db_table} SET {sets} WHERE id = %s",  # noqa: S608
                    [*fields.values(), batch.pk],
                )

        yield write
    finally:
        side.close()


def save_fields(batch: ReferralImport | RosterImport, **fields: object) -> None:
    for key, value in fields.items():
        setattr(batch, key, value)
    type(batch).objects.filter(pk=batch.pk).update(**fields)
