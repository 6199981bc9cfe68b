#!/usr/bin/env bash
# Starts a two-replica ClickHouse cluster on loopback for the cluster suites (tests/olap-cluster.test.ts):
# Debian's ZooKeeper (3.8) on 127.0.0.1:2281 and two more clickhouse-server (18.16) processes, one shard of two
# replicas, beside the single test server on 8123/9000 (which this script does not touch). Run as root (CI does):
#
#   bash tests/helpers/olap-cluster-setup.sh
#   export CLICKHOUSE_CLUSTER_URLS=http://127.0.0.1:8124,http://127.0.0.1:8125 CLICKHOUSE_CLUSTER=moose_cluster
#
# Replica 1: HTTP 8124, native 9001, interserver 9011, macros {shard}=01 {replica}=r1.
# Replica 2: HTTP 8125, native 9002, interserver 9012, macros {shard}=01 {replica}=r2.
# `remote_servers` names three clusters over the same two replicas: moose_cluster, and cluster_a / cluster_b
# (the names moose-lib's typescript-cluster template declares). State lives under $MOOSE_CLUSTER_DIR
# (default /var/tmp/moose-olap-cluster). Idempotent: what already answers is left alone. When nothing answers
# (a new session or CI run on a machine whose /var/tmp kept an earlier cluster's files), the old state is
# removed first: replica metadata that outlived its ZooKeeper nodes stops a replica from starting ("Can't get
# data for node /clickhouse/tables/…: No node"), and the suites create everything they use.
#
#   bash tests/helpers/olap-cluster-setup.sh stop 2   # stops replica 2 (tests kill and restart it)
#   bash tests/helpers/olap-cluster-setup.sh start 2  # starts it again
set -euo pipefail

DIR="${MOOSE_CLUSTER_DIR:-/var/tmp/moose-olap-cluster}"
ZK_PORT=2281
ZK_JAR=/usr/share/java/zookeeper.jar

http_port() { echo $((8123 + $1)); }
tcp_port() { echo $((9000 + $1)); }
interserver_port() { echo $((9010 + $1)); }

ping_replica() { curl -fsS --max-time 2 "http://127.0.0.1:$(http_port "$1")/ping" >/dev/null 2>&1; }
zk_ok() { [ "$( (exec 3<>/dev/tcp/127.0.0.1/$ZK_PORT && printf ruok >&3 && timeout 2 cat <&3) 2>/dev/null || true)" = "imok" ]; }

start_zookeeper() {
  if zk_ok; then echo "zookeeper already running on 127.0.0.1:$ZK_PORT"; return; fi
  if [ ! -f "$ZK_JAR" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zookeeper >/dev/null
  fi
  install -d "$DIR/zookeeper/conf" "$DIR/zookeeper/data" "$DIR/zookeeper/log"
  cat >"$DIR/zookeeper/conf/zoo.cfg" <<EOF
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$DIR/zookeeper/data
clientPort=$ZK_PORT
clientPortAddress=127.0.0.1
maxClientCnxns=200
admin.enableServer=false
4lw.commands.whitelist=ruok,stat
EOF
  cp /etc/zookeeper/conf/log4j.properties "$DIR/zookeeper/conf/" 2>/dev/null || true
  nohup java -Xmx256m -Dzookeeper.log.dir="$DIR/zookeeper/log" -Dzookeeper.root.logger=INFO,ROLLINGFILE \
    -cp "$DIR/zookeeper/conf:$ZK_JAR" org.apache.zookeeper.server.quorum.QuorumPeerMain "$DIR/zookeeper/conf/zoo.cfg" \
    >"$DIR/zookeeper/log/stdout.log" 2>&1 &
  echo $! >"$DIR/zookeeper/pid"
  for _ in $(seq 1 60); do
    if zk_ok; then echo "zookeeper listening on 127.0.0.1:$ZK_PORT"; return; fi
    sleep 1
  done
  echo "zookeeper did not answer on 127.0.0.1:$ZK_PORT within 60s; see $DIR/zookeeper/log" >&2
  tail -n 20 "$DIR/zookeeper/log/stdout.log" >&2 || true
  exit 1
}

replica_xml() {
  local cluster
  for cluster in moose_cluster cluster_a cluster_b; do
    cat <<EOF
    <$cluster>
      <shard>
        <internal_replication>true</internal_replication>
        <replica><host>127.0.0.1</host><port>$(tcp_port 1)</port></replica>
        <replica><host>127.0.0.1</host><port>$(tcp_port 2)</port></replica>
      </shard>
    </$cluster>
EOF
  done
}

write_config() {
  local n=$1 d="$DIR/replica$1"
  install -d -o clickhouse -g clickhouse "$d" "$d/data" "$d/tmp" "$d/user_files" "$d/format_schemas" "$d/log"
  cat >"$d/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <logger>
    <level>information</level>
    <log>$d/log/clickhouse-server.log</log>
    <errorlog>$d/log/clickhouse-server.err.log</errorlog>
    <size>100M</size>
    <count>2</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$(http_port "$n")</http_port>
  <tcp_port>$(tcp_port "$n")</tcp_port>
  <interserver_http_port>$(interserver_port "$n")</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <max_connections>1024</max_connections>
  <keep_alive_timeout>3</keep_alive_timeout>
  <max_concurrent_queries>100</max_concurrent_queries>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <mark_cache_size>268435456</mark_cache_size>
  <path>$d/data/</path>
  <tmp_path>$d/tmp/</tmp_path>
  <user_files_path>$d/user_files/</user_files_path>
  <format_schema_path>$d/format_schemas/</format_schema_path>
  <users_config>/etc/clickhouse-server/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mlock_executable>false</mlock_executable>
  <remote_servers>
$(replica_xml)
  </remote_servers>
  <zookeeper>
    <node><host>127.0.0.1</host><port>$ZK_PORT</port></node>
    <session_timeout_ms>30000</session_timeout_ms>
  </zookeeper>
  <macros>
    <shard>01</shard>
    <replica>r$n</replica>
  </macros>
  <distributed_ddl>
    <path>/clickhouse/task_queue/ddl</path>
  </distributed_ddl>
</yandex>
EOF
  chown clickhouse:clickhouse "$d/config.xml"
}

start_replica() {
  local n=$1 d="$DIR/replica$1"
  if ping_replica "$n"; then echo "replica $n already running on 127.0.0.1:$(http_port "$n")"; return; fi
  if ! command -v clickhouse-server >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server >/dev/null
  fi
  write_config "$n"
  su -s /bin/sh clickhouse -c "clickhouse-server --config-file=$d/config.xml --daemon --pid-file=$d/clickhouse-server.pid"
  for _ in $(seq 1 60); do
    if ping_replica "$n"; then echo "replica $n listening on 127.0.0.1:$(http_port "$n")"; return; fi
    sleep 1
  done
  echo "replica $n did not answer on 127.0.0.1:$(http_port "$n") within 60s; see $d/log" >&2
  tail -n 20 "$d/log/clickhouse-server.err.log" >&2 || true
  exit 1
}

stop_replica() {
  local n=$1 d="$DIR/replica$1" pid
  [ -f "$d/clickhouse-server.pid" ] || return 0
  pid=$(cat "$d/clickhouse-server.pid")
  # A pid file left by an earlier boot may name an unrelated process now.
  case "$(cat "/proc/$pid/comm" 2>/dev/null)" in clickhouse*) ;; *) return 0 ;; esac
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { echo "replica $n stopped"; return; }
    sleep 0.5
  done
  kill -9 "$pid" 2>/dev/null || true
}

case "${1:-up}" in
  up)
    if ! zk_ok && ! ping_replica 1 && ! ping_replica 2; then
      rm -rf "$DIR/replica1" "$DIR/replica2" "$DIR/zookeeper"
    fi
    install -d "$DIR"
    start_zookeeper
    start_replica 1
    start_replica 2
    # Both replicas see the cluster and ZooKeeper before the tests start.
    for n in 1 2; do
      curl -fsS --data-binary "SELECT count() FROM system.zookeeper WHERE path = '/'" "http://127.0.0.1:$(http_port "$n")/" >/dev/null
    done
    echo "cluster moose_cluster (also cluster_a, cluster_b): http://127.0.0.1:$(http_port 1), http://127.0.0.1:$(http_port 2)"
    ;;
  stop) stop_replica "$2" ;;
  start) start_replica "$2" ;;
  *) echo "usage: $0 [up | stop N | start N]" >&2; exit 2 ;;
esac
