"""On PostgreSQL, refuse TRUNCATE on the audit log too, and leave every role but the table's owner
only SELECT and INSERT on it.

0003's row triggers stop UPDATE and DELETE, but TRUNCATE fires no row trigger, so a single
statement could still empty the log. A statement-level BEFORE TRUNCATE trigger (the same function:
it raises) refuses it for everyone, owner included. Only the owner may switch a trigger off
(``ALTER TABLE … DISABLE TRIGGER``); in production the web and worker processes connect as a role
that owns nothing (docker/postgres/), so they can neither truncate nor switch the guard off. The
test runner, which owns its test database, switches it off for the length of its own flush
(tests/conftest.py).

The privileges: a role given UPDATE, DELETE, TRUNCATE or TRIGGER on the audit log (the app role
gets them on every new table through docker/postgres/roles.psql's default privileges) loses them
here. Undoing this migration drops the trigger but does not hand those privileges back: giving a
role the right to change the audit log is a decision for a person, not a migration.
"""

from django.db import migrations

CREATE = """
CREATE TRIGGER cbo_portal_auditevent_no_truncate
    BEFORE TRUNCATE ON cbo_portal_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION cbo_portal_audit_append_only();
"""
DROP = "DROP TRIGGER IF EXISTS cbo_portal_auditevent_no_truncate ON cbo_portal_auditevent;"

# Every grantee but the owner (PUBLIC included) keeps at most SELECT and INSERT.
REVOKE = """
DO $$
DECLARE grantee_name text;
BEGIN
    FOR grantee_name IN
        SELECT DISTINCT CASE WHEN acl.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END
        FROM pg_class c
        CROSS JOIN LATERAL aclexplode(c.relacl) acl
        LEFT JOIN pg_roles r ON r.oid = acl.grantee
        WHERE c.oid = 'cbo_portal_auditevent'::regclass
          AND acl.grantee <> c.relowner
          AND acl.privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE', 'TRIGGER')
    LOOP
        EXECUTE 'REVOKE UPDATE, DELETE, TRUNCATE, TRIGGER ON cbo_portal_auditevent FROM ' || grantee_name;
    END LOOP;
END
$$;
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)
        schema_editor.execute(REVOKE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("cbo_portal", "0003_audit_append_only_trigger")]
    operations = [migrations.RunPython(forwards, backwards)]
