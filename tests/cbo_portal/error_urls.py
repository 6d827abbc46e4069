"""The project's URLs plus two that fail, for the error-page tests."""

from django.core.exceptions import PermissionDenied
from django.urls import path

from cbo_portal.urls import urlpatterns as project_urls


def boom(request):
    raise RuntimeError("a bug")


def refused(request):
    raise PermissionDenied("Only CBO admins may change the team.")


urlpatterns = [path("boom/", boom), path("refused/", refused), *project_urls]
