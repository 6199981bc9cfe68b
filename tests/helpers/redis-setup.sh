#!/usr/bin/env bash
# Installs Debian's redis-server (7.0 on bookworm) and starts it on loopback only, port 6379 (where the Moose
# templates' [redis_config] points), for MooseCache's Redis store. Run as root (CI runs as root):
#
#   bash tests/helpers/redis-setup.sh && export REDIS_URL=redis://127.0.0.1:6379
#
# Idempotent: does nothing when a Redis already answers on 127.0.0.1:6379. No persistence (tests only).
set -euo pipefail

ping_redis() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

if command -v redis-cli >/dev/null 2>&1 && ping_redis; then
  echo "redis-server already running on 127.0.0.1:6379"
  exit 0
fi

if ! command -v redis-server >/dev/null 2>&1; then
  apt-get update -qq
  # The postinst may fail to start the service in a container; the server is started below.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi

redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save "" --appendonly no \
  --dir /tmp --pidfile /tmp/redis-moose-tests.pid --logfile /tmp/redis-moose-tests.log

for _ in $(seq 1 30); do
  if ping_redis; then
    echo "redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') listening on 127.0.0.1:6379"
    exit 0
  fi
  sleep 1
done
echo "redis-server did not answer on 127.0.0.1:6379 within 30s; see /tmp/redis-moose-tests.log" >&2
tail -n 20 /tmp/redis-moose-tests.log >&2 || true
exit 1
