"""With Redis configured, a page reads its session from Redis, not the database, and a Redis that
lost its data (restarted, flushed) signs no one out: the session is written through to the
database and read back from there."""

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.skipif(
    not settings.REDIS_URL, reason="sessions are cached in Redis only when REDIS_URL is set"
)


def _session_queries(client, url: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        status = client.get(url).status_code
    return status, [q["sql"] for q in ctx.captured_queries if "django_session" in q["sql"]]


def test_a_page_reads_its_session_from_redis_and_survives_losing_it(world, client):
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cached_db"
    client.force_login(world.cbo_staff)
    client.get("/referrals/")  # the first read fills the cache

    status, queries = _session_queries(client, "/referrals/")
    assert status == 200 and queries == []

    cache.clear()
    status, queries = _session_queries(client, "/referrals/")
    assert status == 200, "losing Redis must not sign the user out"
    assert len(queries) == 1 and queries[0].startswith("SELECT")


def test_signing_out_ends_the_session_in_redis_and_the_database(world, client):
    client.force_login(world.cbo_staff)
    assert client.get("/referrals/").status_code == 200
    key = client.session.session_key
    client.post("/logout/")
    from django.contrib.sessions.models import Session

    assert not Session.objects.filter(session_key=key).exists()
    client.cookies["sessionid"] = key  # replaying the old cookie
    assert client.get("/referrals/").status_code == 302
