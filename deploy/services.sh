#!/usr/bin/env bash
# Make sure the services the project needs are installed and running on this machine, idempotently:
#   deploy/services.sh postgres   PostgreSQL with a `followup` role (password followup, CREATEDB) on 127.0.0.1
#   deploy/services.sh redis      redis-server on 127.0.0.1:6379
#   deploy/services.sh all
# Nothing happens when a service already answers. Installs with apt-get when a package is missing.
set -euo pipefail

say() { printf '[services] %s\n' "$*"; }
die() { printf '[services] error: %s\n' "$*" >&2; exit 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  say "installing $* (apt-get)"
  if [ ! -f /var/lib/apt/periodic/followup-updated ] || [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit 2>/dev/null)" ]; then
    as_root apt-get update -q >/dev/null
    as_root mkdir -p /var/lib/apt/periodic && as_root touch /var/lib/apt/periodic/followup-updated
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
}

pg_ready() { pg_isready -h 127.0.0.1 -p "${PGPORT:-5432}" -q 2>/dev/null; }

ensure_postgres() {
  command -v pg_ctlcluster >/dev/null 2>&1 || apt_install postgresql postgresql-client
  if ! pg_ready; then
    local ver
    ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    [ -n "$ver" ] || die "PostgreSQL is installed but has no cluster under /etc/postgresql"
    say "starting PostgreSQL $ver"
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
    for _ in $(seq 1 50); do pg_ready && break; sleep 0.2; done
    pg_ready || die "PostgreSQL did not start on 127.0.0.1:${PGPORT:-5432} (see /var/log/postgresql/)"
  fi
  # A password role works whatever pg_hba says for 127.0.0.1 (trust on CI machines, scram on a fresh Debian).
  if ! as_root runuser -u postgres -- psql -tAc "SELECT 1 FROM pg_roles WHERE rolname='followup'" 2>/dev/null | grep -q 1; then
    say "creating PostgreSQL role followup"
    as_root runuser -u postgres -- psql -q -c "CREATE ROLE followup LOGIN CREATEDB PASSWORD 'followup'"
  fi
  say "PostgreSQL ready on 127.0.0.1:${PGPORT:-5432}"
}

ensure_redis() {
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  if ! redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
    say "starting redis-server"
    as_root mkdir -p /var/lib/redis /var/log/redis
    as_root redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/followup.log
    for _ in $(seq 1 50); do redis-cli -h 127.0.0.1 ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
    redis-cli -h 127.0.0.1 ping 2>/dev/null | grep -q PONG || die "redis-server did not start"
  fi
  say "Redis ready on 127.0.0.1:6379"
}

case "${1:-all}" in
  postgres) ensure_postgres ;;
  redis) ensure_redis ;;
  all) ensure_postgres; ensure_redis ;;
  *) die "usage: $0 [postgres|redis|all]" ;;
esac
