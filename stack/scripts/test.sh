#!/usr/bin/env bash
# The whole test suite against the running stack (`make test` runs `make up` first).
#  1. tests/stack: the running processes, over HTTP and PostgreSQL connections, and the import contracts.
#  2. the card gateway simulator, under its own settings (a SQLite test database).
#  3. each service in turn, under its own settings and test database: tests/service, its own
#     tests, and (under the orders settings) the shared events app's tests.
# Any pytest exit other than 0 fails the run, including 5 (no tests collected).
# Extra arguments go to every pytest run, e.g. `stack/scripts/test.sh -x -k readyz`.
set -uo pipefail
. "$(dirname "$0")/../env.sh"
cd "$OMS_ROOT"

failed=()
# run NAME SETTINGS PYTEST-ARGS...: one pytest run; SETTINGS is a settings module, or - for none.
run() {
  local name=$1 settings=$2
  shift 2
  say "tests: $name"
  # The tests' own Kafka clients (test topics, other services' events) run as the operators'
  # principal; the running services, which the stack tests exercise, as their own.
  local KAFKA_USERNAME=$KAFKA_ADMIN_USERNAME KAFKA_PASSWORD=$KAFKA_ADMIN_PASSWORD
  export KAFKA_USERNAME KAFKA_PASSWORD
  if [ "$settings" = - ]; then
    env -u DJANGO_SETTINGS_MODULE "$VENV/bin/pytest" -p no:django "$@" || failed+=("$name")
  else
    DJANGO_SETTINGS_MODULE="$settings" "$VENV/bin/pytest" "$@" || failed+=("$name")
  fi
}

run stack - tests/stack "$@"
run card_gateway card_gateway.settings card_gateway "$@"
for svc in $SERVICES; do
  paths=(tests/service "$svc")
  [ "$svc" = orders ] && paths+=(events)
  run "$svc" "config.settings.$svc" "${paths[@]}" "$@"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}" >&2
  exit 1
fi
say "all test runs passed"
