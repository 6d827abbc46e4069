"""Trigram indexes for searching members by part of a last name or CIN (PostgreSQL only).

Django's ``icontains`` becomes ``UPPER(col::text) LIKE UPPER('%…%')``, which no b-tree index can
answer: at 500,000 members every search read the whole table. A GIN trigram index on the same
expression answers it for three letters or more. pg_trgm is a trusted extension, so the database
owner may create it. Other databases (SQLite for ``make run``) skip this.
"""

from django.db import migrations

INDEXES = {
    "member_last_name_trgm": "last_name",
    "member_cin_trgm": "cin",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON referrals_member USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("referrals", "0002_authorization_list_indexes")]

    operations = [migrations.RunPython(create, drop)]
