"""Contract pages, in the ``contracts`` URL namespace (``contracts:list`` …).

cbo_portal/urls.py includes each app's ``urlpatterns`` list (not the module), which drops a
module-level ``app_name``; so the namespace is applied here, by including the pages under it.
This works whether the root includes the list or the module.
"""

from django.urls import include, path

from contracts import views

pages = [
    path("contracts/", views.contract_list, name="list"),
    path("contracts/new/", views.contract_create, name="create"),
    path("contracts/catalog/", views.catalog, name="catalog"),
    path("contracts/<int:pk>/", views.contract_detail, name="detail"),
    path("contracts/<int:pk>/edit/", views.contract_edit, name="edit"),
    path("contracts/<int:pk>/rates/<int:line_pk>/amend/", views.amend_rate, name="amend"),
    path("contracts/<int:pk>/document/", views.signed_document, name="document"),
    path("contracts/<int:pk>/utilization/", views.utilization_page, name="utilization"),
]

urlpatterns = [path("", include((pages, "contracts"), namespace="contracts"))]
