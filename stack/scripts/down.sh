#!/usr/bin/env bash
# Stop everything `make up` started: the services first, then Kafka, Redis and PostgreSQL.
# Data stays in place for the next `make up`; `make clean` removes it.
set -euo pipefail
. "$(dirname "$0")/../env.sh"

if ! ctl pid >/dev/null 2>&1; then
  say "the stack is not running"
  exit 0
fi
say "stopping the services"
ctl stop app: >/dev/null || true
say "stopping Kafka, Redis and PostgreSQL"
# Kafka's nodes first, all at once: one by one, the last nodes of a cluster would wait for a
# controller quorum that has already gone.
for node in $(ctl status | awk '$1 ~ /^infra:kafka/ { print $1 }'); do
  ctl stop "$node" >/dev/null &
done
wait
ctl stop infra: >/dev/null || true
pid=$(cat "$VAR/run/supervisord.pid")
ctl shutdown >/dev/null
deadline=$((SECONDS + 60))
while kill -0 "$pid" 2>/dev/null; do
  ((SECONDS < deadline)) || { echo "error: supervisord ($pid) did not exit" >&2; exit 1; }
  sleep 0.2
done
# Metric samples of processes that no longer run (counters start again from zero).
rm -rf "$VAR/metrics"
say "the stack is down"
