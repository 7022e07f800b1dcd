#!/usr/bin/env bash
# What runs, and whether each service is ready. Exits non-zero when anything is not.
set -uo pipefail
. "$(dirname "$0")/../env.sh"

if ! ctl pid >/dev/null 2>&1; then
  echo "the stack is not running (make up)"
  exit 3
fi
ctl status
status=$?
echo
for svc in $SERVICES; do
  upper=$(echo "$svc" | tr '[:lower:]' '[:upper:]')
  port_var="${upper}_PORT"
  url="http://127.0.0.1:${!port_var}/readyz"
  if ! body=$(curl -sS --max-time 5 "$url" 2>&1); then
    state="NOT READY"
  elif [[ $body == *'"status": "ready"'* ]]; then
    state=ready
  elif [[ $body == *'"status": "degraded"'* ]]; then
    state=DEGRADED  # serving requests, but Kafka does not answer
  else
    state="NOT READY"
  fi
  [ "$state" = ready ] || status=1
  printf '%-15s %-10s %s  %s\n' "$svc" "$state" "$url" "$body"
done
exit $status
