"""The audit log at the database: TRUNCATE is refused like UPDATE and DELETE, and the app role
shipped in docker/postgres/ can neither change the log nor switch its guards off."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from django.db import DatabaseError, connection, transaction

from cbo_portal.choices import AuditAction
from cbo_portal.models import AuditEvent
from cbo_portal.services import audit

pytestmark = pytest.mark.postgresql  # the guards are PostgreSQL's

ROLES_SQL = Path(__file__).resolve().parents[2] / "docker" / "postgres" / "roles.psql"


def _settle(cursor) -> None:
    """Run the foreign-key checks the fixtures' inserts left pending: PostgreSQL refuses TRUNCATE
    and ALTER TABLE on a table with pending trigger events (the test never commits)."""
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _refused(cursor, sql: str, match: str) -> None:
    with pytest.raises(DatabaseError, match=match), transaction.atomic():
        cursor.execute(sql)


def test_truncate_of_the_audit_log_is_refused(world):
    audit.record(actor=world.cbo_admin, action=AuditAction.UPDATE, obj=world.cbo, summary="Edited")
    with connection.cursor() as cursor:
        _settle(cursor)
        _refused(cursor, "TRUNCATE cbo_portal_auditevent", r"append-only \(TRUNCATE refused\)")
        _refused(cursor, "TRUNCATE cbo_portal_auditevent CASCADE", "append-only")
    assert AuditEvent.objects.filter(summary="Edited").exists()


def _psql_script(owner: str, app: str) -> str:
    """roles.psql with its psql variables filled in, as psql would (names only: no passwords)."""
    text = ROLES_SQL.read_text()
    db = connection.settings_dict["NAME"]
    for name, value in (("owner", owner), ("app", app), ("db", db)):
        text = text.replace(f':"{name}"', f'"{value}"').replace(f":'{name}'", f"'{value}'")
    assert not re.search(r":['\"]\w", text), "a psql variable this test does not fill in"
    return text


@pytest.mark.django_db
def test_the_shipped_app_role_cannot_change_the_log_or_switch_its_guards_off(world):
    """Runs docker/postgres/roles.psql in the test database with two throwaway roles (created and
    granted inside the test's transaction, so they vanish with its rollback)."""
    audit.record(actor=world.cbo_admin, action=AuditAction.UPDATE, obj=world.cbo, summary="Edited")
    suffix = uuid.uuid4().hex[:10]
    owner, app = f"test_owner_{suffix}", f"test_app_{suffix}"
    with connection.cursor() as cursor:
        _settle(cursor)
        cursor.execute(f'CREATE ROLE "{owner}" NOLOGIN')
        cursor.execute(f'CREATE ROLE "{app}" NOLOGIN NOINHERIT')
        cursor.execute(_psql_script(owner, app))
        cursor.execute(f'SET ROLE "{app}"')
        try:
            # Rows: it reads and appends to the log, and reads and writes the app's tables.
            cursor.execute("SELECT count(*) FROM cbo_portal_auditevent")
            cursor.execute(
                "INSERT INTO cbo_portal_auditevent (created_at, action, object_type, object_id, summary, "
                "changes) VALUES (now(), 'view', 'x', '', 'by the app role', '{}')"
            )
            cursor.execute(
                "UPDATE cbo_portal_organization SET legal_name = legal_name WHERE id = %s", [world.cbo.pk]
            )
            cursor.execute("DELETE FROM django_session WHERE session_key = 'none'")
            # The log: no change, no removal, and no way to switch the guards off.
            _refused(cursor, "UPDATE cbo_portal_auditevent SET summary = 'x'", "permission denied")
            _refused(cursor, "DELETE FROM cbo_portal_auditevent", "permission denied")
            _refused(cursor, "TRUNCATE cbo_portal_auditevent", "permission denied")
            for guard in (
                "cbo_portal_auditevent_no_truncate",
                "cbo_portal_auditevent_append_only",
                "USER",
                "ALL",
            ):
                _refused(
                    cursor, f"ALTER TABLE cbo_portal_auditevent DISABLE TRIGGER {guard}", "must be owner"
                )
            _refused(
                cursor,
                "DROP TRIGGER cbo_portal_auditevent_no_truncate ON cbo_portal_auditevent",
                "must be owner",
            )
            _refused(cursor, "DROP FUNCTION cbo_portal_audit_append_only() CASCADE", "must be owner")
            _refused(cursor, "ALTER TABLE cbo_portal_organization DISABLE TRIGGER ALL", "must be owner")
            _refused(cursor, "CREATE TABLE sneaky (id int)", "permission denied")
            _refused(cursor, "SET session_replication_role = replica", "permission denied")
            # The owner (migrations) may truncate other tables but not the log: the trigger refuses.
            cursor.execute(f'RESET ROLE; SET ROLE "{owner}"')
            _refused(cursor, "TRUNCATE cbo_portal_auditevent", "append-only")
        finally:
            cursor.execute("RESET ROLE")
    assert AuditEvent.objects.filter(summary="Edited").exists()
    assert AuditEvent.objects.filter(summary="by the app role").exists()
