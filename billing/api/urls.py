"""Billing API: claims and batches (api/claims.py), acknowledgements, remittances and reports
(api/remittances.py). Each module exports ``urlpatterns``."""

from importlib import import_module

urlpatterns: list = []
for _module in ("billing.api.claims", "billing.api.remittances"):
    try:
        urlpatterns += import_module(_module).urlpatterns
    except ModuleNotFoundError as exc:
        if exc.name != _module:
            raise
