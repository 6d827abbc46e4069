#!/bin/sh
# Run by the postgres image on a new, empty data volume (/docker-entrypoint-initdb.d), as the
# cluster superuser ($POSTGRES_USER). Creates the owner role (migrations) and the app role (web,
# worker, beat) and gives each its privileges (roles.psql, beside this file).
#
# An existing volume never runs it by itself; run it once by hand, then restart the stack:
#   docker compose -f docker/compose.yml --env-file docker/.env exec postgres \
#       sh /docker-entrypoint-initdb.d/10-roles.sh
set -eu

: "${POSTGRES_OWNER_PASSWORD:?set POSTGRES_OWNER_PASSWORD in docker/.env}"
: "${POSTGRES_APP_PASSWORD:?set POSTGRES_APP_PASSWORD in docker/.env}"
OWNER_ROLE="${POSTGRES_OWNER_ROLE:-cbo_owner}"
APP_ROLE="${POSTGRES_APP_ROLE:-cbo_app}"
HERE="$(dirname "$0")"
[ -f "$HERE/roles.psql" ] || HERE=/docker-entrypoint-initdb.d  # when sourced, $0 is the entrypoint

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v owner="$OWNER_ROLE" -v app="$APP_ROLE" -v db="$POSTGRES_DB" \
    -v owner_password="$POSTGRES_OWNER_PASSWORD" -v app_password="$POSTGRES_APP_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I', :'owner') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner')
\gexec
SELECT format('CREATE ROLE %I', :'app') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app')
\gexec
ALTER ROLE :"owner" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'owner_password';
ALTER ROLE :"app" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT
    PASSWORD :'app_password';
-- The app's queries are short index lookups: JIT compiling costs more than it saves. Set on the
-- role because PgBouncer (docker/compose.yml) does not pass the settings' `-c jit=off` on.
ALTER ROLE :"app" SET jit = off;
SQL

psql -v ON_ERROR_STOP=1 --no-psqlrc --single-transaction --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v owner="$OWNER_ROLE" -v app="$APP_ROLE" -v db="$POSTGRES_DB" -f "$HERE/roles.psql"
