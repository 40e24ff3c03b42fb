#!/usr/bin/env bash
# Starts the local services the integration tests use, when they are down:
# PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379. Tests that need a
# service and cannot reach it fail (they do not skip) when CI=true.
set -u
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if ! up 5432; then
  if command -v pg_ctlcluster >/dev/null && ls /etc/postgresql >/dev/null 2>&1; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  else
    echo "PostgreSQL is not installed here: Postgres tests will fail under CI=true" >&2
  fi
fi
if ! up 6379; then
  if command -v redis-server >/dev/null; then
    echo "starting Redis"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  else
    echo "Redis is not installed here: Redis tests will fail under CI=true" >&2
  fi
fi
for i in $(seq 1 30); do
  if up 5432 && up 6379; then exit 0; fi
  sleep 0.5
done
echo "warning: PostgreSQL or Redis still not answering" >&2
exit 0
