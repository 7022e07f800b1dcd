#!/usr/bin/env bash
# Delete the local stack's data: PostgreSQL cluster, Kafka's storage (either mode), Redis, logs.
# Run by `make clean` after `make down`; the next `make up` starts from empty databases and topics,
# in the Kafka mode KAFKA_NODES then asks for.
set -euo pipefail
. "$(dirname "$0")/../env.sh"

ctl pid >/dev/null 2>&1 && die "the stack is still running: make down first"
say "deleting $PG_HOME, var/kafka/data, var/kafka/cluster, var/redis, var/log, var/static"
rm -rf "$PG_HOME" "$VAR/kafka/data" "$VAR/kafka/server.properties" "$VAR/kafka/admin-client.properties" "$VAR/kafka/cluster" "$VAR/kafka/supervisord.conf" \
  "$VAR/redis" "$VAR/log" "$VAR/static" "$VAR/run"
