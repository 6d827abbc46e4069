"""Data: California's 58 counties with their FIPS codes (from cbo_portal/data/ca_counties.csv)."""

import csv
from pathlib import Path

from django.db import migrations

CSV = Path(__file__).resolve().parent.parent / "data" / "ca_counties.csv"


def load(apps, schema_editor):
    County = apps.get_model("cbo_portal", "County")
    with CSV.open(newline="") as handle:
        for row in csv.DictReader(handle):
            County.objects.update_or_create(fips=row["fips"], defaults={"name": row["name"]})


def unload(apps, schema_editor):
    apps.get_model("cbo_portal", "County").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("cbo_portal", "0001_organizations_people_onboarding_audit")]
    operations = [migrations.RunPython(load, unload)]
