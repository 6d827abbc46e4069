"""The generic isolation test: every API route, as every persona.

It walks the URL resolver for every DRF viewset under /api/v1/ (later apps' routes join
automatically) and, for each, asks that app's ``tests/<app>/isolation*.py`` for a maker that
creates one object and names who may see it. Then every other persona must get 404 on the
object's detail and actions, must not find it in the list, and no write of theirs may change it;
insiders without write rights must not change it either. A route without a maker fails.
"""

from __future__ import annotations

from dataclasses import fields
from importlib import import_module
from pathlib import Path

import pytest
from django.forms.models import model_to_dict
from django.urls import URLPattern, URLResolver, get_resolver

APPS = ("cbo_portal", "contracts", "referrals", "billing")


def _makers() -> dict:
    """Every ``tests/<app>/isolation*.py`` module's MAKERS, merged."""
    makers: dict = {}
    for app in APPS:
        for path in sorted((Path(__file__).parent / app).glob("isolation*.py")):
            makers.update(import_module(f"tests.{app}.{path.stem}").MAKERS)
    return makers


def _viewset_routes() -> dict[str, dict]:
    """basename → {"list": pattern name, "detail": name, "detail_actions": [(name, methods)]}."""
    routes: dict[str, dict] = {}

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern) and hasattr(p.callback, "cls") and prefix.startswith("api/v1/"):
                basename = p.callback.initkwargs.get("basename")
                actions = getattr(p.callback, "actions", None)
                if not basename or not actions or p.name is None or p.name.endswith("-format"):
                    continue
                entry = routes.setdefault(
                    basename, {"list": None, "detail": None, "detail_actions": [], "list_actions": []}
                )
                suffix = p.name[len(basename) + 1 :]
                detail = "<pk>" in str(p.pattern) or "(?P<pk>" in str(p.pattern)
                if suffix == "list":
                    entry["list"] = p.name
                elif suffix == "detail":
                    entry["detail"] = p.name
                elif detail:
                    entry["detail_actions"].append((p.name, sorted(actions)))
                else:
                    entry["list_actions"].append((p.name, sorted(actions)))

    walk(get_resolver().url_patterns)
    return routes


ROUTES = _viewset_routes()


def test_every_api_route_has_an_isolation_maker():
    missing = sorted(set(ROUTES) - set(_makers()))
    assert not missing, f"API routes without an isolation maker in tests/<app>/isolation.py: {missing}"


def _people(world):
    return {
        f.name: getattr(world, f.name)
        for f in fields(world)
        if hasattr(getattr(world, f.name), "is_authenticated")
    }


def _ids(client, url):
    response = client.get(url, {"page_size": 500})
    assert response.status_code == 200, (url, response.status_code)
    body = response.json()
    rows = body["results"] if isinstance(body, dict) and "results" in body else body
    return {str(row.get("id")) for row in rows}


def _snapshot(obj):
    obj.refresh_from_db()
    return model_to_dict(obj)


@pytest.mark.parametrize("basename", sorted(ROUTES))
def test_no_route_leaks_to_outsiders_or_wrong_roles(basename, world, api):
    from django.urls import reverse

    maker = _makers().get(basename)
    if maker is None:
        pytest.fail(f"no isolation maker for {basename}")
    made = maker(world)
    # (obj, insiders[, writers[, body]]): without writers only outsiders' writes are checked; the
    # body (default empty) is what every write sends, so a maker of a shared record (a member
    # found by CIN) can make each write a real attempt to change it.
    obj, insiders, writers, body = (*made, None, None)[:4]
    body = body or {}
    people = _people(world)
    insiders = set(people.values()) if insiders == "everyone" else insiders
    route = ROUTES[basename]
    before = _snapshot(obj)
    detail_url = reverse(route["detail"], args=[obj.pk]) if route["detail"] else None
    list_url = reverse(route["list"]) if route["list"] else None

    for name, user in people.items():
        client = api.as_user(user)
        inside = user in insiders
        if list_url:
            assert (str(obj.pk) in _ids(client, list_url)) == inside, f"{name} list visibility of {basename}"
        if detail_url:
            status = client.get(detail_url).status_code
            assert (status == 200) if inside else (status == 404), f"{name} GET {basename} detail → {status}"
        if inside and (writers is None or user in writers):
            continue
        # Every write (and every detail action) by an outsider is a 404; by a wrong role, refused.
        refused = {404, 405} if not inside else {400, 403, 404, 405, 409}
        if detail_url:
            for method in ("patch", "put", "delete"):
                status = getattr(client, method)(detail_url, body, format="json").status_code
                assert status in refused, f"{name} {method.upper()} {basename} → {status}"
        for action_name, methods in route["detail_actions"]:
            url = reverse(action_name, args=[obj.pk])
            for method in methods:
                status = getattr(client, method)(url, body, format="json").status_code
                if method == "get":
                    assert (status == 200) if inside else (status == 404), (
                        f"{name} GET {action_name} → {status}"
                    )
                else:
                    assert status in refused, f"{name} {method.upper()} {action_name} → {status}"
        assert _snapshot(obj) == before, f"{name} changed {basename} #{obj.pk}"
