#!/usr/bin/env bash
# Make sure what the tests need is running: PostgreSQL, Redis, Debian's Chromium and an OpenSSH
# server binary. Uses DATABASE_URL / REDIS_URL when set, else 127.0.0.1:5432 and :6379. When
# something is missing and we are root on Debian, install and start it; otherwise say what to do.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/test-env.sh

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }
apt_updated=0
apt_install() {
  if ! can_apt; then echo "Missing $*; install it (Debian: apt-get install $*) and re-run." >&2; exit 1; fi
  if [ $apt_updated = 0 ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

py() { .venv/bin/python - "$@"; }

pg_up() {
  py <<'PY'
import os, sys, psycopg
url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
try:
    psycopg.connect(url, connect_timeout=3).close()
except Exception as exc:
    sys.exit(1)
PY
}

redis_up() {
  py <<'PY'
import os, sys, redis
try:
    redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=3).ping()
except Exception:
    sys.exit(1)
PY
}

if ! pg_up; then
  echo "PostgreSQL is not answering; starting it." >&2
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  version=$(ls /etc/postgresql | sort -n | tail -1)
  if ! pg_lsclusters -h | grep -q "^$version main"; then pg_createcluster "$version" main >/dev/null; fi
  conf=/etc/postgresql/$version/main/pg_hba.conf
  if ! grep -q "cbo-billing tests" "$conf"; then
    sed -i '1i # cbo-billing tests: trust on loopback\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$conf"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  pg_up || { echo "PostgreSQL did not come up at $DATABASE_URL" >&2; exit 1; }
fi

if ! redis_up; then
  echo "Redis is not answering; starting it." >&2
  command -v redis-server >/dev/null || apt_install redis-server
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 20); do redis_up && break; sleep 0.5; done
  redis_up || { echo "Redis did not come up at $REDIS_URL" >&2; exit 1; }
fi

[ -x /usr/bin/chromium ] || apt_install chromium
[ -x /usr/sbin/sshd ] || apt_install openssh-server
echo "Services ready: PostgreSQL, Redis, Chromium, sshd."
