"""Personas shared by every test: two CBOs, a hub, two plans, a user per role, a platform admin.

``cbo`` is the CBO under test; ``other_cbo`` and ``other_plan`` (with their users) are the
outsiders every isolation test tries to leak data to.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from cbo_portal.choices import OrgKind, Role
from tests.factories import PASSWORD, OrganizationFactory, PlanFactory, member

BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


def pytest_collection_modifyitems(config, items):
    """Tests marked ``postgresql`` are skipped on any other database (``make test``'s SQLite pass
    checks the portable path with every other test)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL")
    for item in items:
        if "postgresql" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium, never a downloaded browser."""
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium", "args": BROWSER_ARGS}


@pytest.fixture(autouse=True)
def _eager_celery(settings):
    """Tasks run in-process in tests unless a test starts a real worker."""
    from cbo_portal.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed, tests only
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True, scope="session")
def _flush_past_the_audit_truncate_guard():
    """Transactional tests end with Django's flush, one TRUNCATE of every table, which the audit
    log's trigger refuses (cbo_portal migration 0004). The test database's owner (the test runner)
    switches the log's triggers off for that one transaction; production's app role, which owns
    nothing, cannot."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    original = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        sql = original(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        if sql and "cbo_portal_auditevent" in tables:
            table = self.quote_name("cbo_portal_auditevent")
            sql = [
                f"ALTER TABLE {table} DISABLE TRIGGER USER",
                *sql,
                f"ALTER TABLE {table} ENABLE TRIGGER USER",
            ]
        return sql

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DatabaseOperations, "sql_flush", sql_flush)
        yield


@dataclass
class World:
    cbo: object
    other_cbo: object
    hub: object
    plan: object
    other_plan: object
    platform: object
    cbo_admin: object
    cbo_staff: object
    cbo_billing: object
    hub_billing: object
    plan_admin: object
    contract_manager: object
    care_coordinator: object
    other_cbo_admin: object
    other_cbo_staff: object
    other_plan_manager: object
    other_plan_coordinator: object
    platform_admin: object


@pytest.fixture
def world(db) -> World:
    hub = OrganizationFactory(kind=OrgKind.HUB, legal_name="Golden State Care Hub")
    cbo = OrganizationFactory(legal_name="Eastside Community Kitchen", hub=hub)
    other_cbo = OrganizationFactory(legal_name="Northside Housing Partners")
    plan = PlanFactory(legal_name="Pacific Coast Health Plan")
    other_plan = PlanFactory(legal_name="Central Valley Health Alliance")
    platform = OrganizationFactory(
        kind=OrgKind.PLATFORM, legal_name="Platform", npi="", tin="", taxonomy_code=""
    )
    return World(
        cbo=cbo,
        other_cbo=other_cbo,
        hub=hub,
        plan=plan,
        other_plan=other_plan,
        platform=platform,
        cbo_admin=member(cbo, Role.CBO_ADMIN, "admin@eastside.org"),
        cbo_staff=member(cbo, Role.CBO_STAFF, "staff@eastside.org"),
        cbo_billing=member(cbo, Role.CBO_BILLING, "billing@eastside.org"),
        hub_billing=member(hub, Role.CBO_BILLING, "billing@hub.org"),
        plan_admin=member(plan, Role.PLAN_ADMIN, "admin@pchp.org"),
        contract_manager=member(plan, Role.PLAN_CONTRACT_MANAGER, "contracts@pchp.org"),
        care_coordinator=member(plan, Role.PLAN_CARE_COORDINATOR, "care@pchp.org"),
        other_cbo_admin=member(other_cbo, Role.CBO_ADMIN, "admin@northside.org"),
        other_cbo_staff=member(other_cbo, Role.CBO_STAFF, "staff@northside.org"),
        other_plan_manager=member(other_plan, Role.PLAN_CONTRACT_MANAGER, "contracts@cvha.org"),
        other_plan_coordinator=member(other_plan, Role.PLAN_CARE_COORDINATOR, "care@cvha.org"),
        platform_admin=member(platform, Role.PLATFORM_ADMIN, "root@platform.org"),
    )


@pytest.fixture
def api():
    """An API client; ``api.as_user(user)`` signs in through the session."""
    client = APIClient()

    def as_user(user):
        client.force_authenticate(user=None)
        client.logout()
        client.force_login(user)
        return client

    client.as_user = as_user
    return client


@pytest.fixture
def password() -> str:
    return PASSWORD
