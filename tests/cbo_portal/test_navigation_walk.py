"""The navigation walker: for every persona, every link on every page reachable from its home
opens (no 4xx or 5xx), and no page's visible text carries raw X12 element names (REF*G1, CLM05-3,
GS01) a staffer should never have to read. The world and the walk are in tests/walker.py."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.walker import PERSONAS, build_busy_world, walk

pytestmark = pytest.mark.django_db


@pytest.fixture
def busy_world(world):
    return build_busy_world(world)


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_link_opens_and_reads_without_x12(busy_world, persona):
    client = Client(raise_request_exception=False)
    client.force_login(getattr(busy_world, persona))
    seen, raw = walk(client)
    broken = {url: status for url, status in seen.items() if status >= 400}
    assert len(seen) > 3, seen
    assert broken == {}, f"{persona}: links that do not open: {broken}"
    assert raw == {}, f"{persona}: raw X12 element names on pages: {raw}"
