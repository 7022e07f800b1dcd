# Sourced by every stack script: where the local stack lives and which ports it uses.
# Each value can be overridden in the environment or in .env (see .env.example).

OMS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -f "$OMS_ROOT/.env" ]; then
  set -a
  # shellcheck disable=SC1091
  . "$OMS_ROOT/.env"
  set +a
fi

: "${ORDERS_PORT:=8001}" "${INVENTORY_PORT:=8002}" "${PAYMENTS_PORT:=8003}" "${RECONCILIATION_PORT:=8004}"
: "${POSTGRES_PORT:=5433}" "${REDIS_PORT:=6380}" "${KAFKA_PORT:=9092}" "${KAFKA_CONTROLLER_PORT:=9093}"
# The card gateway simulator (card_gateway/, docs/card-gateway.md): the local stack's stand-in for
# Stripe, which payments calls at PAYMENTS_GATEWAY_URL with the secret key CARD_GATEWAY_API_KEY.
: "${CARD_GATEWAY_PORT:=8010}" "${CARD_GATEWAY_API_KEY:=sk_test_oms_local}"
: "${PAYMENTS_GATEWAY_URL:=http://127.0.0.1:$CARD_GATEWAY_PORT}" "${PAYMENTS_GATEWAY_API_KEY:=$CARD_GATEWAY_API_KEY}"
# A gateway call unanswered after this many seconds has an unknown outcome (sent again later with
# its key): 2 s on the local stack, whose gateway answers in milliseconds unless told to be late.
: "${PAYMENTS_GATEWAY_TIMEOUT_SECONDS:=2}"
# Orders' web processes: 4, each with few threads, on 2 cores (gunicorn's guide: 2 to 4 workers
# per core). Two processes of 32 threads each spent an overload's answers waiting for their
# process's GIL: placement p99 268 to 432 ms at 334 orders/s, against 147 to 247 ms with four
# (docs/benchmarks.md, "Overload").
: "${ORDERS_WEB_WORKERS:=4}" "${INVENTORY_WEB_WORKERS:=1}" "${PAYMENTS_WEB_WORKERS:=1}" "${RECONCILIATION_WEB_WORKERS:=1}"
# Threads per orders web process: over what its admission door lets place orders at once and
# wait for a slot (ORDERS_ADMISSION_MAX_IN_FLIGHT 4, ORDERS_ADMISSION_MAX_QUEUED 24), so that
# requests beyond those reach the door and are refused at once instead of queueing for a thread.
: "${ORDERS_WEB_THREADS:=32}"
# Register and token are rate-limited per client address (10/hour and 20/minute by default,
# config/settings/orders.py); on the local stack every client is 127.0.0.1, and the stack tests
# and make fuzz register hundreds of customers, so the local stack allows more.
: "${ORDERS_THROTTLE_REGISTER:=10000/hour}" "${ORDERS_THROTTLE_TOKEN:=10000/minute}"
: "${OMS_ADMIN_USER:=admin}" "${OMS_ADMIN_PASSWORD:=admin}"

# Kafka: one node (KAFKA_NODES=1, the default) or a cluster of three (KAFKA_NODES=3), each node a
# broker and a KRaft controller. The mode is fixed when make up formats Kafka's storage: later,
# without KAFKA_NODES, the storage in var/kafka decides, and up.sh refuses a KAFKA_NODES that
# contradicts it (switching modes takes a make clean).
if [ -z "${KAFKA_NODES:-}" ]; then
  if [ -d "$OMS_ROOT/var/kafka/cluster" ]; then KAFKA_NODES=3; else KAFKA_NODES=1; fi
fi
# Node n (1, 2, 3) listens on KAFKA_PORT + 2(n-1) for clients and on KAFKA_CONTROLLER_PORT + 2(n-1)
# for the controllers: 9092/9093, 9094/9095, 9096/9097 by default.
KAFKA_NODE_PORTS="" KAFKA_NODE_CONTROLLER_PORTS=""
if [[ $KAFKA_NODES =~ ^[1-9]$ ]]; then
  for ((n = 0; n < KAFKA_NODES; n++)); do
    KAFKA_NODE_PORTS+="${KAFKA_NODE_PORTS:+ }$((KAFKA_PORT + 2 * n))"
    KAFKA_NODE_CONTROLLER_PORTS+="${KAFKA_NODE_CONTROLLER_PORTS:+ }$((KAFKA_CONTROLLER_PORT + 2 * n))"
  done
fi
# A cluster fences a node that stopped within 3 s instead of Kafka's 9 s: writes pause that long.
if [ "$KAFKA_NODES" = 1 ]; then
  : "${KAFKA_REPLICATION_FACTOR:=1}" "${KAFKA_MIN_INSYNC_REPLICAS:=1}" "${KAFKA_HEAP_OPTS:=-Xms256m -Xmx512m}"
  : "${KAFKA_BROKER_HEARTBEAT_INTERVAL_MS:=2000}" "${KAFKA_BROKER_SESSION_TIMEOUT_MS:=9000}"
else
  : "${KAFKA_REPLICATION_FACTOR:=3}" "${KAFKA_MIN_INSYNC_REPLICAS:=2}" "${KAFKA_HEAP_OPTS:=-Xms128m -Xmx384m}"
  : "${KAFKA_BROKER_HEARTBEAT_INTERVAL_MS:=500}" "${KAFKA_BROKER_SESSION_TIMEOUT_MS:=3000}"
fi
: "${KAFKA_BOOTSTRAP_SERVERS:=127.0.0.1:${KAFKA_NODE_PORTS// /,127.0.0.1:}}"
# Kafka's principals (docs/hostile-input.md, "Kafka"): the services authenticate as themselves
# with the local passwords their settings default to (config/settings/base.py, kafka_principal);
# these are the operators' (the tools, the tests and make up's bootstrap) and the controllers'.
: "${KAFKA_ADMIN_USERNAME:=admin}" "${KAFKA_ADMIN_PASSWORD:=local-kafka-admin}"
: "${KAFKA_CONTROLLER_PASSWORD:=local-kafka-controller}"
# Each service of the stack is its own principal: none may inherit one user name for all of them.
unset KAFKA_USERNAME KAFKA_PASSWORD
: "${REDIS_URL:=redis://127.0.0.1:$REDIS_PORT/0}"

SERVICES="orders inventory payments reconciliation"
VAR="$OMS_ROOT/var"
VENV="$OMS_ROOT/.venv"
SUPERVISOR_CONF="$OMS_ROOT/stack/supervisord.conf"

# Each service's database on the local PostgreSQL: one database and one role per service.
for svc in $SERVICES; do
  var="$(echo "$svc" | tr '[:lower:]' '[:upper:]')_DATABASE_URL"
  : "${!var:=postgres://oms_$svc:oms_$svc@127.0.0.1:$POSTGRES_PORT/oms_$svc}"
  export "${var?}"
done

# Debian's PostgreSQL server binaries (the newest installed major version).
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
# PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres` user and lives
# in its home, which that user can reach wherever this checkout is.
if [ "$(id -u)" = 0 ]; then
  PG_OS_USER=postgres
  PG_HOME="/var/lib/postgresql/oms-$(printf %s "$OMS_ROOT" | md5sum | cut -c1-8)"
else
  PG_OS_USER=$(id -un)
  PG_HOME="$VAR/postgres"
fi

export OMS_ROOT VAR VENV SERVICES PG_BIN PG_OS_USER PG_HOME
export ORDERS_PORT INVENTORY_PORT PAYMENTS_PORT RECONCILIATION_PORT
export CARD_GATEWAY_PORT CARD_GATEWAY_API_KEY PAYMENTS_GATEWAY_URL PAYMENTS_GATEWAY_API_KEY PAYMENTS_GATEWAY_TIMEOUT_SECONDS
export POSTGRES_PORT REDIS_PORT KAFKA_PORT KAFKA_CONTROLLER_PORT KAFKA_HEAP_OPTS
export KAFKA_NODES KAFKA_NODE_PORTS KAFKA_NODE_CONTROLLER_PORTS KAFKA_REPLICATION_FACTOR KAFKA_MIN_INSYNC_REPLICAS
export KAFKA_BROKER_HEARTBEAT_INTERVAL_MS KAFKA_BROKER_SESSION_TIMEOUT_MS
# Event workers per service: consumers of one group sharing out its topics' partitions (6 each).
: "${EVENT_WORKERS:=1}"
export EVENT_WORKERS

# The event workers' programs for supervisor, EVENT_WORKERS per service (their numprocs), from
# stack/supervisord.event-workers.conf into var/supervisor/event-workers.conf.
render_event_workers() {
  [[ $EVENT_WORKERS =~ ^[1-6]$ ]] ||
    die "EVENT_WORKERS=$EVENT_WORKERS: from 1 to 6 event workers per service (each topic has 6 partitions)"
  mkdir -p "$VAR/supervisor"
  python3 -c 'import os, string, sys; sys.stdout.write(string.Template(sys.stdin.read()).substitute(os.environ))' \
    <"$OMS_ROOT/stack/supervisord.event-workers.conf" >"$VAR/supervisor/event-workers.conf.new"
  mv "$VAR/supervisor/event-workers.conf.new" "$VAR/supervisor/event-workers.conf"
}

# The event workers, relays and Celery run this much nicer than the web processes: on a shared
# machine, a customer's request goes first and the asynchronous work takes the CPU left over
# (docs/benchmarks.md). 0 gives them equal standing.
: "${WORKER_NICE:=10}"
export WORKER_NICE
export ORDERS_THROTTLE_REGISTER ORDERS_THROTTLE_TOKEN
export ORDERS_WEB_THREADS ORDERS_WEB_WORKERS INVENTORY_WEB_WORKERS PAYMENTS_WEB_WORKERS RECONCILIATION_WEB_WORKERS
export OMS_ADMIN_USER OMS_ADMIN_PASSWORD KAFKA_BOOTSTRAP_SERVERS REDIS_URL
export KAFKA_ADMIN_USERNAME KAFKA_ADMIN_PASSWORD KAFKA_CONTROLLER_PASSWORD

ctl() { "$VENV/bin/supervisorctl" -c "$SUPERVISOR_CONF" "$@"; }
say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
