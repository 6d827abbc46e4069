"""Load the CalAIM service catalog from contracts/data/catalog.py (data, not code).

Forward: create the entries missing by (code, modifiers). Backward: remove the loaded entries no
rate line uses (in normal operation the catalog is never deleted from, only retired).
"""

from django.db import migrations


def load(apps, schema_editor):
    from contracts.data.catalog import load_catalog

    load_catalog(apps.get_model("contracts", "ServiceCatalogEntry"))


def unload(apps, schema_editor):
    from contracts.data.catalog import unload_catalog

    used = set(apps.get_model("contracts", "RateLine").objects.values_list("service_id", flat=True))
    unload_catalog(apps.get_model("contracts", "ServiceCatalogEntry"), used)


class Migration(migrations.Migration):
    dependencies = [("contracts", "0001_catalog_contracts_rate_schedules")]

    operations = [migrations.RunPython(load, unload)]
