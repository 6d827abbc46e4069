"""A trigram index for searching members by part of a first name (PostgreSQL only).

The member search (``selectors.search_members``) matches the last *or first* name; 0003 gave
only the last name and CIN trigram indexes, so each search with a name part read all 500,000
members for the first-name half of the OR. Same expression as 0003 (``UPPER(col::text)``, what
``icontains`` compiles to); other databases skip it.
"""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS member_first_name_trgm ON referrals_member "
        "USING gin ((UPPER(first_name::text)) gin_trgm_ops)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS member_first_name_trgm")


class Migration(migrations.Migration):
    dependencies = [("referrals", "0007_member_corrections_submitted_details")]

    operations = [migrations.RunPython(create, drop)]
