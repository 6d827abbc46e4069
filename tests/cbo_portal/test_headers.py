"""Response headers: a Content-Security-Policy without inline script, a Permissions-Policy that
turns off devices we never use, and no caching of anything shown to a signed-in user."""

import re
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from cbo_portal.services import people

ROOT = Path(django_settings.BASE_DIR)


def _directives(header: str) -> dict[str, str]:
    return {part.split()[0]: part.strip() for part in header.split(";") if part.strip()}


def test_pages_carry_a_strict_content_security_policy_and_permissions_policy(world, client):
    for user in [None, world.cbo_staff]:
        if user:
            client.force_login(user)
        response = client.get("/login/" if user is None else "/team/")
        policy = _directives(response["Content-Security-Policy"])
        assert policy["script-src"] == "script-src 'self'"
        assert policy["object-src"] == "object-src 'none'" and "frame-ancestors" in policy
        assert "unsafe-inline" not in policy["style-src"]
        permissions = response["Permissions-Policy"]
        for feature in ["camera=()", "microphone=()", "geolocation=()"]:
            assert feature in permissions


def test_signed_in_answers_are_never_cached(world, client):
    client.force_login(world.cbo_staff)
    for url in ["/", "/team/", "/account/", "/api/v1/me/", "/api/v1/members/"]:
        assert "no-store" in client.get(url)["Cache-Control"], url


def test_token_answers_are_never_cached(world):
    _token, key = people.create_api_token(acting_user=world.cbo_billing, organization=world.cbo, name="Sync")
    response = APIClient(HTTP_AUTHORIZATION=f"Bearer {key}").get("/api/v1/members/")
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]


def test_static_files_stay_cacheable(world, client, settings):
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True
    client.force_login(world.cbo_staff)
    response = client.get("/static/cbo_portal/app.js")
    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


def test_api_docs_page_has_its_own_policy_and_no_inline_script(world, client):
    client.force_login(world.cbo_staff)
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script on the docs page"
    assert "cdn.jsdelivr.net" not in html  # Swagger UI comes from our own static files
    policy = _directives(page["Content-Security-Policy"])
    assert policy["script-src"] == "script-src 'self'"
    assert "'unsafe-inline'" in policy["style-src"]  # Swagger UI styles itself inline
    assert client.get("/api/v1/docs/?script=").status_code == 200


TEMPLATES = sorted(
    p
    for app in ("cbo_portal", "contracts", "referrals", "billing")
    for p in (ROOT / app).rglob("templates/**/*.html")
)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_have_no_inline_script(path):
    text = path.read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), "inline <script>: move it to a static file"
    assert not re.search(r"\son[a-z]+\s*=", text), "on…= handler: use a data- attribute and static JS"
    assert "javascript:" not in text
