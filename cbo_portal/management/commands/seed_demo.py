"""``manage.py seed_demo``: load the demo organizations, users and each app's demo data.

Refuses to create accounts with a known password unless DEBUG is on (or ``--password`` is
given), so it cannot plant a guessable login in production. Idempotent.
"""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cbo_portal.demo import DEMO_PASSWORD, USERS, seed_portal

LATER_APPS = ("contracts", "referrals", "billing")


class Command(BaseCommand):
    help = "Load demo organizations, users (one per role) and demo data for each app. Safe to run twice."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--password", help="Password for the demo users (required when DEBUG is off)")

    def handle(self, *args, password: str | None = None, **options) -> None:
        if password is None:
            if not settings.DEBUG:
                raise CommandError(
                    "Refusing to create demo users with a known password while DEBUG is off; pass --password."
                )
            password = DEMO_PASSWORD
        world = seed_portal(password=password)
        for app in LATER_APPS:
            try:
                module = import_module(f"{app}.demo")
            except ModuleNotFoundError as exc:
                if exc.name == f"{app}.demo":
                    continue
                raise
            module.seed(world)
        self.stdout.write(self.style.SUCCESS("Demo data ready. Sign in at http://127.0.0.1:8000 with:"))
        width = max(len(email) for _o, _r, email, _f, _l in USERS)
        for _org, role, email, _first, _last in USERS:
            self.stdout.write(f"  {email:<{width}}  {role.label}")
        self.stdout.write(f"  password for all: {password}")
