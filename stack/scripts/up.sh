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

init_kafka() {
  mkdir -p "$VAR/kafka"
  KAFKA_DATA_DIR="$VAR/kafka/data" python3 -c \
    'import os, string, sys; sys.stdout.write(string.Template(sys.stdin.read()).substitute(os.environ))' \
    <"$OMS_ROOT/stack/kafka/server.properties" >"$VAR/kafka/server.properties"
  [ -f "$VAR/kafka/data/meta.properties" ] && return
  say "formatting Kafka's KRaft storage"
  local cp="$VAR/kafka/libs/*" cluster_id
  cluster_id=$(java -cp "$cp" kafka.tools.StorageTool random-uuid)
  java -cp "$cp" -Dlog4j2.configurationFile="$OMS_ROOT/stack/kafka/log4j2.properties" \
    kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$VAR/kafka/server.properties" \
    >"$VAR/log/kafka-format.log"
}

start_supervisor() {
  if ctl pid >/dev/null 2>&1; then
    ctl update >/dev/null  # apply any change to stack/supervisord.conf
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
      DJANGO_SETTINGS_MODULE="config.settings.$svc" DATABASE_URL="${!url_var}" \
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
    wait_for "the $svc service (http://127.0.0.1:${!port_var}/readyz)" "$READY_TIMEOUT" \
      curl -fsS "http://127.0.0.1:${!port_var}/readyz"
  done
}

mkdir -p "$VAR/log" "$VAR/run" "$VAR/redis"
for svc in $SERVICES; do mkdir -p "$VAR/metrics/$svc"; done
init_postgres
init_kafka
start_supervisor
wait_for PostgreSQL 60 "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$POSTGRES_PORT"
wait_for Redis 30 redis-cli -p "$REDIS_PORT" ping
create_databases
bootstrap_services
ctl start app: >/dev/null || true
wait_for_services
say "the stack is up: orders :$ORDERS_PORT, inventory :$INVENTORY_PORT, payments :$PAYMENTS_PORT, reconciliation :$RECONCILIATION_PORT (make status)"
