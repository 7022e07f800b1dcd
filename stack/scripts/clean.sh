#!/usr/bin/env bash
# Delete the local stack's data: PostgreSQL cluster, Kafka log, Redis, logs. Run by `make clean`
# after `make down`; the next `make up` starts from empty databases and topics.
set -euo pipefail
. "$(dirname "$0")/../env.sh"

ctl pid >/dev/null 2>&1 && die "the stack is still running: make down first"
say "deleting $PG_HOME, var/kafka/data, var/redis, var/log, var/static"
rm -rf "$PG_HOME" "$VAR/kafka/data" "$VAR/kafka/server.properties" "$VAR/redis" "$VAR/log" "$VAR/static" "$VAR/run"
