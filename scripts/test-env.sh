# Environment for the test run: PostgreSQL and Redis on loopback unless the caller set them.
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/cbo_billing}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/15}"
export DJANGO_ALLOW_ASYNC_UNSAFE=true
