"""Root URLs. Each installed app contributes ``<app>/urls.py`` (pages) and ``<app>/api/urls.py``
(API under /api/v1/) when it has them, so a new app's routes join without editing this file."""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from cbo_portal.api.views import MeView
from cbo_portal.health import healthz
from cbo_portal.security import csp

PROJECT_APPS = ("contracts", "referrals", "billing")


def _app_urls(submodule: str) -> list:
    patterns = []
    for name in PROJECT_APPS:
        try:
            module = import_module(f"{name}.{submodule}")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith(f"{name}."):
                continue  # this app has no such module (yet)
            raise
        patterns.append(path("", include(module)))  # keeps the app_name namespace
    return patterns


DOCS_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

api_patterns = [
    path("", include("cbo_portal.api.urls")),
    path("me/", MeView.as_view(), name="api-me"),
    *_app_urls("api.urls"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file, so the page needs no inline script;
    # Swagger UI does need inline styles.
    path(
        "docs/",
        csp(DOCS_POLICY)(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include(api_patterns)),
    path("admin/", admin.site.urls),
    *_app_urls("urls"),
    path("", include("cbo_portal.views.urls")),
]

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()
