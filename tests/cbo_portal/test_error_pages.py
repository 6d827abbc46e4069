"""With DEBUG off, a wrong address, a refusal and a crash each answer with our own page, in plain
words, with the site's navigation where there is a request to draw it from; never Django's
debug page listing every URL."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.cbo_portal.error_urls")]


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    return client


def test_not_found_is_ours_with_the_navigation(world, production):
    production.force_login(world.cbo_billing)
    response = production.get("/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert "We can’t find that page" in html and 'aria-label="Main"' in html
    assert "Billing" in [item["label"] for item in response.context["nav"]]
    assert "URLconf" not in html and "Using the URLconf" not in html


def test_refusal_says_why_in_words(world, production):
    production.force_login(world.cbo_staff)
    response = production.get("/refused/")
    html = response.content.decode()
    assert response.status_code == 403
    assert "Your role can’t do that here" in html and "Only CBO admins may change the team." in html


def test_crash_is_a_plain_apology(world, production):
    production.force_login(world.cbo_staff)
    response = production.get("/boom/")
    html = response.content.decode()
    assert response.status_code == 500
    assert "this page broke on our side" in html and "Traceback" not in html and "a bug" not in html


def test_signed_out_not_found_still_renders(production):
    response = production.get("/no-such-page/")
    assert response.status_code == 404 and "We can’t find that page" in response.content.decode()
