#!/usr/bin/env bash
# Run N event workers per service (1 to 6) on the running stack, and return once every service is
# ready again: `stack/scripts/event-workers.sh 2`. The same as `EVENT_WORKERS=N make up`, without
# the rest of make up; put EVENT_WORKERS in .env to keep it across make up. Changing it restarts
# the services' processes (supervisor replaces the app group); PostgreSQL, Redis and Kafka stay up.
set -euo pipefail
. "$(dirname "$0")/../env.sh"

[ $# = 1 ] || die "usage: $0 N (event workers per service, 1 to 6)"
EVENT_WORKERS=$1
render_event_workers
ctl pid >/dev/null 2>&1 || die "the stack is not running (make up)"
ctl update >/dev/null
ctl start app: >/dev/null || true
for svc in $SERVICES; do
  upper=$(echo "$svc" | tr '[:lower:]' '[:upper:]')
  port_var="${upper}_PORT"
  deadline=$((SECONDS + 120))
  until curl -fsS "http://127.0.0.1:${!port_var}/readyz" 2>/dev/null | grep -q '"status": "ready"'; do
    ((SECONDS < deadline)) || die "the $svc service is not ready after 120 s (logs: var/log/)"
    sleep 0.5
  done
done
say "$EVENT_WORKERS event worker(s) per service: $(ctl status | grep -c '^app:consume-') in all"
