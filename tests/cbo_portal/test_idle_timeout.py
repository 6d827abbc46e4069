"""A session left unused longer than SESSION_IDLE_TIMEOUT is signed out."""

import time

import pytest

from cbo_portal.security import LAST_SEEN_KEY


@pytest.fixture(autouse=True)
def _timeout(settings):
    settings.SESSION_IDLE_TIMEOUT = 30 * 60


def _last_seen(client, seconds_ago: int) -> None:
    session = client.session
    session[LAST_SEEN_KEY] = int(time.time()) - seconds_ago
    session.save()


def test_an_idle_session_is_signed_out_with_a_message(world, client):
    client.force_login(world.cbo_staff)
    _last_seen(client, 31 * 60)
    response = client.get("/team/")
    assert response.status_code == 302 and response["Location"] == "/login/?next=/team/"
    login_page = client.get(response["Location"])
    assert "not used for 30 minutes" in login_page.content.decode()
    # Signed out for good, not just redirected once.
    assert client.get("/team/")["Location"].startswith("/login/")


def test_an_active_session_stays_signed_in_and_its_clock_restarts(world, client):
    client.force_login(world.cbo_staff)
    _last_seen(client, 29 * 60)
    assert client.get("/team/").status_code == 200
    assert int(time.time()) - client.session[LAST_SEEN_KEY] < 5
    assert client.get("/team/").status_code == 200


def test_an_idle_session_is_signed_out_of_the_api_too(world, api):
    client = api.as_user(world.cbo_staff)
    _last_seen(client, 2 * 3600)
    assert client.get("/api/v1/me/").status_code in (401, 403)
    assert client.get("/team/")["Location"].startswith("/login/")


def test_zero_turns_the_timeout_off(world, client, settings):
    settings.SESSION_IDLE_TIMEOUT = 0
    client.force_login(world.cbo_staff)
    _last_seen(client, 24 * 3600)
    assert client.get("/team/").status_code == 200
