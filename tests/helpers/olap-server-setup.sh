#!/usr/bin/env bash
# Installs Debian's ClickHouse server (18.16 on bookworm) and starts it listening on
# loopback only, for tests/olap-server.test.ts. Run as root (CI runs as root):
#
#   bash tests/helpers/olap-server-setup.sh && export CLICKHOUSE_URL=http://127.0.0.1:8123
#
# Idempotent: does nothing when a server already answers on 127.0.0.1:8123.
set -euo pipefail

ping_server() { curl -fsS --max-time 2 http://127.0.0.1:8123/ping >/dev/null 2>&1; }

if ping_server; then
  echo "clickhouse-server already running on 127.0.0.1:8123"
  exit 0
fi

if ! command -v clickhouse-server >/dev/null 2>&1; then
  apt-get update -qq
  # The package's postinst tries to start the service through invoke-rc.d, which
  # containers deny; that is harmless, the server is started below.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server >/dev/null
fi

# Debian's /etc/clickhouse-server/config.xml listens on ::1 and 127.0.0.1 only.
install -d -o clickhouse -g clickhouse /var/lib/clickhouse /var/log/clickhouse-server
su -s /bin/sh clickhouse -c \
  "clickhouse-server --config-file=/etc/clickhouse-server/config.xml --daemon --pid-file=/var/lib/clickhouse/clickhouse-server.pid"

for _ in $(seq 1 60); do
  if ping_server; then
    echo "clickhouse-server $(curl -fsS --data-binary 'SELECT version()' http://127.0.0.1:8123/) listening on 127.0.0.1:8123"
    exit 0
  fi
  sleep 1
done
echo "clickhouse-server did not answer on 127.0.0.1:8123 within 60s; see /var/log/clickhouse-server/clickhouse-server.err.log" >&2
tail -n 20 /var/log/clickhouse-server/clickhouse-server.err.log >&2 || true
exit 1
