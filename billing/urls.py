"""Billing pages: claims and batches (views/claims.py), remittances, denials and reports
(views/remittances.py), the plan sandbox in demo mode (views/sandbox.py). Each module exports
``urlpatterns``."""

from importlib import import_module

app_name = "billing"

urlpatterns: list = []
for _module in ("billing.views.claims", "billing.views.remittances", "billing.views.sandbox"):
    try:
        urlpatterns += import_module(_module).urlpatterns
    except ModuleNotFoundError as exc:  # a part not written yet
        if exc.name != _module:
            raise
