"""The address the audit log records: REMOTE_ADDR unless trusted proxies say otherwise."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from cbo_portal.choices import Role
from cbo_portal.middleware import client_ip
from cbo_portal.models import AuditEvent


def _request(forwarded: str | None = None, remote: str = "10.0.0.5"):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


def test_without_trusted_proxies_a_forged_header_is_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(_request("203.0.113.9")) == "10.0.0.5"
    assert client_ip(_request()) == "10.0.0.5"


@pytest.mark.parametrize(
    ("count", "forwarded", "expected"),
    [
        (1, "198.51.100.7", "198.51.100.7"),  # the proxy saw the client
        (1, "203.0.113.9, 198.51.100.7", "198.51.100.7"),  # the client's own claim on the left is ignored
        (2, "203.0.113.9, 198.51.100.7, 10.0.0.2", "198.51.100.7"),  # outer proxy saw .7, inner saw the outer
        (1, " 2001:db8::1 ", "2001:db8::1"),
        (2, "198.51.100.7", "10.0.0.5"),  # fewer hops than proxies: not through our proxies
        (1, "", "10.0.0.5"),
        (1, "unknown", "10.0.0.5"),  # not an address: never stored as one
        (1, "198.51.100.7, not-an-ip", "10.0.0.5"),
    ],
)
def test_behind_trusted_proxies_the_hop_that_many_from_the_right(settings, count, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = count
    assert client_ip(_request(forwarded)) == expected


def test_no_request_no_address(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(None) is None


@pytest.mark.django_db
@pytest.mark.parametrize(("count", "expected"), [(0, "10.0.0.5"), (1, "198.51.100.7")])
def test_the_audit_row_records_that_address(world, client, settings, count, expected):
    settings.TRUSTED_PROXY_COUNT = count
    client.force_login(world.cbo_admin)
    client.post(
        "/team/",
        {"email": "new@eastside.org", "role": Role.CBO_STAFF},
        REMOTE_ADDR="10.0.0.5",
        HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.7",
    )
    event = AuditEvent.objects.get(summary__startswith="Invited new@eastside.org")
    assert event.ip_address == expected
