#!/usr/bin/env bash
# Starts the Redis and PostgreSQL servers the distributed-mode tests use, when they are not
# already running, installing Debian's packages first when they are missing. Embedded mode
# needs neither. Safe to run again: it only acts on what is missing.
set -euo pipefail

REDIS_PORT=6379
PG_PORT=5432
apt_updated=0
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  if [ "$apt_updated" = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
  for _ in $(seq 1 100); do port_open "$1" && return 0; sleep 0.1; done
  echo "services: $2 did not open port $1" >&2; return 1
}

if port_open "$REDIS_PORT"; then
  echo "services: redis already running on 127.0.0.1:$REDIS_PORT"
else
  command -v redis-server >/dev/null || apt_install redis-server
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_port "$REDIS_PORT" redis
  echo "services: started redis on 127.0.0.1:$REDIS_PORT"
fi

if port_open "$PG_PORT"; then
  echo "services: postgresql already running on 127.0.0.1:$PG_PORT"
else
  fresh=0
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then apt_install postgresql; fresh=1; fi
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  if [ "$fresh" = 1 ]; then
    # A cluster we just installed: trust local connections, as the tests expect (CI only).
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    as_root sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/; s/^(local\s+all\s+all\s+)\S+/\1trust/' "$hba"
  fi
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
  wait_port "$PG_PORT" postgresql
  echo "services: started postgresql $version on 127.0.0.1:$PG_PORT"
fi
if command -v psql >/dev/null; then
  if ! psql -h 127.0.0.1 -U postgres -tAc "select 1 from pg_database where datname='test'" 2>/dev/null | grep -q 1; then
    psql -h 127.0.0.1 -U postgres -c 'create database test' >/dev/null 2>&1 || true
  fi
fi
