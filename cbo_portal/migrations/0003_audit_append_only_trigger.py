"""On PostgreSQL, refuse UPDATE and DELETE on the audit log at the database itself, so that no
code path (raw SQL, a bulk queryset, a shell) can edit or remove an entry.

TRUNCATE was left possible here; 0004_audit_refuse_truncate refuses it as well.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION cbo_portal_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER cbo_portal_auditevent_append_only
    BEFORE UPDATE OR DELETE ON cbo_portal_auditevent
    FOR EACH ROW EXECUTE FUNCTION cbo_portal_audit_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS cbo_portal_auditevent_append_only ON cbo_portal_auditevent;
DROP FUNCTION IF EXISTS cbo_portal_audit_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("cbo_portal", "0002_load_california_counties")]
    operations = [migrations.RunPython(forwards, backwards)]
