#!/usr/bin/env bash
# Bring the local stack up, from a bare machine or from a running stack, and return once every
# service answers its readiness check. Safe to run again at any time. Called by `make up`, after
# make has installed the system packages, built the virtualenv and fetched the Kafka jars.
set -euo pipefail
. "$(dirname "$0")/../env.sh"

READY_TIMEOUT=${READY_TIMEOUT:-180}

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_sql() { as_pg "$PG_BIN/psql" -h "$PG_HOME" -p "$POSTGRES_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt "$@"; }

# Poll `$@` until it succeeds or $1 seconds pass.
wait_for() {
  local what=$1 seconds=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      die "$what did not become ready within ${seconds}s (logs: var/log/)"
    fi
    sleep 0.5
  done
}

ready() {
  curl -fsS "$1" | grep -q '"status": "ready"'
}

init_postgres() {
  [ -n "$PG_BIN" ] || die "PostgreSQL server binaries not found (run stack/scripts/system-packages.sh)"
  [ -f "$PG_HOME/data/PG_VERSION" ] && return
  say "creating the PostgreSQL cluster in $PG_HOME"
  mkdir -p "$PG_HOME"
  [ "$(id -u)" = 0 ] && chown postgres: "$PG_HOME"
  # Local socket connections (in $PG_HOME, reachable only by its owner) are trusted; TCP needs a password.
  as_pg "$PG_BIN/initdb" -D "$PG_HOME/data" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >"$VAR/log/initdb.log"
}

# Kafka's nodes: one (KAFKA_NODES=1) in var/kafka, or three (KAFKA_NODES=3) in var/kafka/cluster/node-<n>;
# each with its server.properties and its data directory.
kafka_node_dir() { if [ "$KAFKA_NODES" = 1 ]; then echo "$VAR/kafka"; else echo "$VAR/kafka/cluster/node-$1"; fi; }

check_kafka_settings() {
  [[ $KAFKA_NODES =~ ^(1|3)$ ]] ||
    die "KAFKA_NODES=$KAFKA_NODES: the stack runs one Kafka node (1, the default) or a cluster of three (3)"
  ((1 <= KAFKA_MIN_INSYNC_REPLICAS && KAFKA_MIN_INSYNC_REPLICAS <= KAFKA_REPLICATION_FACTOR &&
    KAFKA_REPLICATION_FACTOR <= KAFKA_NODES)) ||
    die "KAFKA_REPLICATION_FACTOR=$KAFKA_REPLICATION_FACTOR and KAFKA_MIN_INSYNC_REPLICAS=$KAFKA_MIN_INSYNC_REPLICAS" \
      "do not fit KAFKA_NODES=$KAFKA_NODES (1 <= min in-sync replicas <= replication factor <= nodes);" \
      "leave them unset for the mode's defaults"
  local ports
  ports=$(printf '%s\n' $KAFKA_NODE_PORTS $KAFKA_NODE_CONTROLLER_PORTS | sort | uniq -d)
  [ -z "$ports" ] ||
    die "Kafka's ports collide on $ports: node n uses KAFKA_PORT + 2(n-1)" \
      "and KAFKA_CONTROLLER_PORT + 2(n-1) (KAFKA_PORT=$KAFKA_PORT, KAFKA_CONTROLLER_PORT=$KAFKA_CONTROLLER_PORT)"
  # A mode's topics, offsets and quorum live in its own storage: switching modes starts afresh.
  if [ "$KAFKA_NODES" = 1 ] && [ -d "$VAR/kafka/cluster" ]; then
    die "var/kafka/cluster holds a three-node Kafka cluster, but KAFKA_NODES=1 asks for one node." \
      "Run without KAFKA_NODES (or with KAFKA_NODES=3) to keep it, or start afresh in one-node mode:" \
      "make clean (deletes the stack's data: databases, topics, logs), then make up"
  fi
  if [ "$KAFKA_NODES" != 1 ] && [ -d "$VAR/kafka/data" ]; then
    die "var/kafka/data holds a one-node Kafka, but KAFKA_NODES=$KAFKA_NODES asks for a cluster;" \
      "its topics and offsets do not move over. Start afresh in cluster mode:" \
      "make clean (deletes the stack's data: databases, topics, logs), then KAFKA_NODES=$KAFKA_NODES make up"
  fi
}

init_kafka() {
  check_kafka_settings
  mkdir -p "$VAR/kafka"
  ln -sfn "$OMS_ROOT/stack/kafka/supervisord.nodes-$KAFKA_NODES.conf" "$VAR/kafka/supervisord.conf"
  local ports=($KAFKA_NODE_PORTS) controller_ports=($KAFKA_NODE_CONTROLLER_PORTS) n dir formatted=0
  local controller_bootstrap=127.0.0.1:${KAFKA_NODE_CONTROLLER_PORTS// /,127.0.0.1:}
  for ((n = 1; n <= KAFKA_NODES; n++)); do
    dir=$(kafka_node_dir "$n")
    mkdir -p "$dir"
    KAFKA_NODE_ID=$n KAFKA_NODE_PORT=${ports[n - 1]} KAFKA_NODE_CONTROLLER_PORT=${controller_ports[n - 1]} \
      KAFKA_CONTROLLER_BOOTSTRAP_SERVERS=$controller_bootstrap KAFKA_DATA_DIR="$dir/data" python3 -c \
      'import os, string, sys; sys.stdout.write(string.Template(sys.stdin.read()).substitute(os.environ))' \
      <"$OMS_ROOT/stack/kafka/server.properties" >"$dir/server.properties"
    [ -f "$dir/data/meta.properties" ] && formatted=$((formatted + 1))
    if [ -f "$dir/data/meta.properties" ] && [ ! -f "$dir/data/oms-scram-users" ]; then
      die "$dir/data was formatted before Kafka asked its clients to authenticate: it holds no" \
        "SCRAM users, so no service could connect. Start afresh: make clean (deletes the stack's" \
        "data: databases, topics, logs), then make up"
    fi
  done
  # The operators' client settings for Kafka's own tools (stack/kafka-cluster: --command-config).
  cat >"$VAR/kafka/admin-client.properties" <<PROPERTIES
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="$KAFKA_ADMIN_USERNAME" password="$KAFKA_ADMIN_PASSWORD";
PROPERTIES
  ((formatted == KAFKA_NODES)) && return
  ((formatted == 0)) ||
    die "only $formatted of the $KAFKA_NODES Kafka nodes' storage in var/kafka/cluster is formatted" \
      "(an interrupted make up?): make clean, then KAFKA_NODES=$KAFKA_NODES make up"
  format_kafka
}

# Format every node's storage with one cluster id. One node is the quorum's only voter
# (--standalone); a cluster's three nodes all start as voters (--initial-controllers, the same
# on each node: node id, controller endpoint and a directory id per controller). Either way the
# quorum is dynamic (kraft.version 1), found through controller.quorum.bootstrap.servers.
format_kafka() {
  local cp="$VAR/kafka/libs/*" cluster_id controllers="" n
  random_uuid() { java -cp "$cp" kafka.tools.StorageTool random-uuid; }
  storage_tool() {
    java -cp "$cp" -Dlog4j2.configurationFile="$OMS_ROOT/stack/kafka/log4j2.properties" kafka.tools.StorageTool "$@"
  }
  # The SCRAM users, written into the metadata as it is formatted (KIP-900): the operators'
  # principal, and each service's with the local password its settings default to
  # (config/settings/base.py, local_kafka_password).
  local users=(--add-scram "SCRAM-SHA-512=[name=$KAFKA_ADMIN_USERNAME,password=$KAFKA_ADMIN_PASSWORD]") svc
  for svc in $SERVICES; do users+=(--add-scram "SCRAM-SHA-512=[name=$svc,password=local-kafka-$svc]"); done
  cluster_id=$(random_uuid)
  if [ "$KAFKA_NODES" = 1 ]; then
    say "formatting Kafka's KRaft storage"
    storage_tool format --standalone -t "$cluster_id" "${users[@]}" -c "$VAR/kafka/server.properties" \
      >"$VAR/log/kafka-format.log"
    echo "$SERVICES" >"$VAR/kafka/data/oms-scram-users"
    return
  fi
  say "formatting the KRaft storage of Kafka's $KAFKA_NODES nodes"
  local controller_ports=($KAFKA_NODE_CONTROLLER_PORTS)
  for ((n = 1; n <= KAFKA_NODES; n++)); do
    controllers+="${controllers:+,}$n@127.0.0.1:${controller_ports[n - 1]}:$(random_uuid)"
  done
  for ((n = 1; n <= KAFKA_NODES; n++)); do
    storage_tool format -t "$cluster_id" --initial-controllers "$controllers" "${users[@]}" \
      -c "$(kafka_node_dir "$n")/server.properties"
    echo "$SERVICES" >"$(kafka_node_dir "$n")/data/oms-scram-users"
  done >"$VAR/log/kafka-format.log"
}

# The card gateway simulator's ledger (SQLite, its own storage): created or migrated before
# supervisord starts the simulator.
init_card_gateway() {
  mkdir -p "$VAR/card-gateway"
  DJANGO_SETTINGS_MODULE=card_gateway.settings CARD_GATEWAY_DATABASE="$VAR/card-gateway/ledger.sqlite3" \
    "$VENV/bin/python" "$OMS_ROOT/manage.py" migrate --verbosity 0
}

start_supervisor() {
  if ctl pid >/dev/null 2>&1; then
    ctl update >/dev/null  # apply any change to stack/supervisord.conf, or to EVENT_WORKERS
    ctl start infra: >/dev/null || true
  else
    say "starting the process manager (supervisord)"
    "$VENV/bin/supervisord" -c "$SUPERVISOR_CONF"
  fi
}

create_databases() {
  for svc in $SERVICES; do
    pg_sql <<SQL
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', 'oms_$svc', 'oms_$svc')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'oms_$svc') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', 'oms_$svc', 'oms_$svc')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'oms_$svc') \gexec
-- Only the service's own role may connect to its database.
REVOKE CONNECT, TEMPORARY ON DATABASE oms_$svc FROM PUBLIC;
SQL
  done
}

bootstrap_services() {
  say "migrating the databases and creating the topics"
  local pids=() svc
  for svc in $SERVICES; do
    (
      upper=$(echo "$svc" | tr '[:lower:]' '[:upper:]')
      url_var="${upper}_DATABASE_URL"
      # As Kafka's operators' principal: it creates the topics and grants the service its ACLs.
      DJANGO_SETTINGS_MODULE="config.settings.$svc" DATABASE_URL="${!url_var}" \
        KAFKA_USERNAME="$KAFKA_ADMIN_USERNAME" KAFKA_PASSWORD="$KAFKA_ADMIN_PASSWORD" \
        "$VENV/bin/python" "$OMS_ROOT/stack/bootstrap.py" "$svc" >"$VAR/log/bootstrap-$svc.log" 2>&1
    ) &
    pids+=($!)
  done
  local failed=0 pid
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  if ((failed)); then
    tail -n 20 "$VAR"/log/bootstrap-*.log >&2
    die "preparing the services failed (logs above, in var/log/bootstrap-*.log)"
  fi
}

wait_for_services() {
  say "waiting for every service to be ready"
  for svc in $SERVICES; do
    upper=$(echo "$svc" | tr '[:lower:]' '[:upper:]')
    port_var="${upper}_PORT"
    # "ready", not only 200: a degraded service (Kafka not answering) takes requests but is not up
    wait_for "the $svc service (http://127.0.0.1:${!port_var}/readyz)" "$READY_TIMEOUT" \
      ready "http://127.0.0.1:${!port_var}/readyz"
  done
}

mkdir -p "$VAR/log" "$VAR/run" "$VAR/redis"
for svc in $SERVICES; do mkdir -p "$VAR/metrics/$svc"; done
init_card_gateway
init_postgres
init_kafka
render_event_workers
start_supervisor
wait_for PostgreSQL 60 "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$POSTGRES_PORT"
wait_for Redis 30 redis-cli -p "$REDIS_PORT" ping
wait_for "the card gateway simulator" 30 curl -fsS -o /dev/null "http://127.0.0.1:$CARD_GATEWAY_PORT/_faults"
create_databases
bootstrap_services
ctl start app: >/dev/null || true
wait_for_services
say "the stack is up: orders :$ORDERS_PORT, inventory :$INVENTORY_PORT, payments :$PAYMENTS_PORT, reconciliation :$RECONCILIATION_PORT, card gateway :$CARD_GATEWAY_PORT (make status)"
