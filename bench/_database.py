"""What every database benchmark does first: make sure the database in DATABASE_URL exists and
is migrated."""

from __future__ import annotations


def prepare_database() -> None:
    """Create the PostgreSQL database ``DATABASE_URL`` names when it does not exist yet (through
    the ``postgres`` maintenance database), so a fresh database name just works; then migrate."""
    import psycopg
    from django.core.management import call_command
    from django.db import connections

    settings = connections["default"].settings_dict
    if "postgresql" in settings["ENGINE"]:
        params = {
            "host": settings.get("HOST"),
            "port": settings.get("PORT"),
            "user": settings.get("USER"),
            "password": settings.get("PASSWORD"),
        }
        params = {k: v for k, v in params.items() if v}
        try:
            psycopg.connect(dbname=settings["NAME"], **params).close()
        except psycopg.OperationalError as exc:
            if "does not exist" not in str(exc):
                raise
            with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
                admin.execute(f'CREATE DATABASE "{settings["NAME"]}"')
            print(f"created database {settings['NAME']}")
    call_command("migrate", verbosity=0)
