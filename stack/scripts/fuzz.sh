#!/usr/bin/env bash
# Hostile input: Schemathesis against each running service's OpenAPI schema (`make fuzz`, which
# runs `make up` first; docs/hostile-input.md). Two passes per service: its public API with a
# user's token (a new customer's on orders, the local admin's elsewhere), then its internal API
# with the reconciliation service's key. Fails when any response is a server error (5xx) or is
# not what the schema documents (status code, content type, headers, body), or when an operation
# that needs credentials answers without them.
#   FUZZ_EXAMPLES=N      test cases per operation in each phase (default 50)
#   FUZZ_TIMEOUT=S       seconds one pass may take; a pass still running then fails (default 120)
#   FUZZ_SERVICES="..."  the services to run against (default: all four)
# Extra arguments go to every schemathesis run, e.g. `stack/scripts/fuzz.sh --seed 42`.
# Each pass's output and reports (JUnit, NDJSON) are kept in var/fuzz/; replay a failure from there
# with `cd var/fuzz && ../../.venv/bin/schemathesis replay <test case id>`.
set -uo pipefail
. "$(dirname "$0")/../env.sh"
cd "$OMS_ROOT"

FUZZ_EXAMPLES=${FUZZ_EXAMPLES:-50}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-120}
FUZZ_SERVICES=${FUZZ_SERVICES:-$SERVICES}
OUT="$VAR/fuzz"
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance
CHECKS+=,response_headers_conformance,response_schema_conformance,ignored_auth

url_of() {
  local port_var
  port_var="$(echo "$1" | tr '[:lower:]' '[:upper:]')_PORT"
  echo "http://127.0.0.1:${!port_var}"
}

# The local admin's token in a staff service, made as an operator would (tests/stack/client.py).
staff_token() {
  local url_var
  url_var="$(echo "$1" | tr '[:lower:]' '[:upper:]')_DATABASE_URL"
  DJANGO_SETTINGS_MODULE="config.settings.$1" DATABASE_URL="${!url_var}" \
    "$VENV/bin/python" manage.py drf_create_token "$OMS_ADMIN_USER" | awk '{print $3}'
}

# A new customer's token on orders, registered through the API.
customer_token() {
  curl -fsS -X POST "$(url_of orders)/api/v1/auth/register" -H 'Content-Type: application/json' \
    -d "{\"username\": \"fuzz-$(date +%s)-$RANDOM\", \"password\": \"correct horse battery\"}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}

# The Authorization value of the reconciliation service, from INTERNAL_API_KEYS as the services read it.
service_authorization() {
  local pair
  for pair in $(echo "${INTERNAL_API_KEYS:-reconciliation=local-stack-reconciliation-key}" | tr ',' ' '); do
    [ "${pair%%=*}" = reconciliation ] && { echo "Service reconciliation:${pair#*=}"; return; }
  done
  die "INTERNAL_API_KEYS has no key for reconciliation"
}

failed=()
summary=()
# fuzz_pass SERVICE PASS AUTHORIZATION SCHEMATHESIS-ARGS...: one bounded schemathesis run.
fuzz_pass() {
  local svc=$1 pass=$2 authorization=$3 started=$SECONDS status
  shift 3
  local name="$svc-$pass"
  say "fuzz: $name (at most ${FUZZ_EXAMPLES} examples per operation and phase, ${FUZZ_TIMEOUT}s)"
  rm -rf "${OUT:?}/$name"
  # From var/fuzz: schemathesis keeps its cache and the failures `st replay` reads in ./.schemathesis/.
  (cd "$OUT" && timeout --kill-after=10 "$FUZZ_TIMEOUT" "$VENV/bin/schemathesis" --no-color run \
    "$(url_of "$svc")/api/schema/" \
    --header "Authorization: $authorization" \
    --checks "$CHECKS" \
    --max-examples "$FUZZ_EXAMPLES" \
    --continue-on-failure \
    --generation-database "$OUT/examples" \
    --report junit,ndjson --report-dir "$OUT/$name" \
    "$@") 2>&1 | tee "$OUT/$name.log"
  status=${PIPESTATUS[0]}
  local cases
  cases=$(grep -A1 '^Test cases:' "$OUT/$name.log" | tail -n 1 | sed 's/^ *//')
  case $status in
    0) summary+=("$(printf '%-24s passed  %4ss  %s' "$name" $((SECONDS - started)) "$cases")") ;;
    124 | 137)
      summary+=("$(printf '%-24s TIMEOUT %4ss  did not finish within %ss' "$name" $((SECONDS - started)) "$FUZZ_TIMEOUT")")
      failed+=("$name")
      ;;
    *)
      summary+=("$(printf '%-24s FAILED  %4ss  %s' "$name" $((SECONDS - started)) "$cases")")
      failed+=("$name")
      ;;
  esac
}

mkdir -p "$OUT"
internal=$(service_authorization)
for svc in $FUZZ_SERVICES; do
  case $svc in
    orders) token=$(customer_token) || die "could not register a customer on orders" ;;
    *) token=$(staff_token "$svc") || die "could not make the $OMS_ADMIN_USER token on $svc" ;;
  esac
  fuzz_pass "$svc" api "Token $token" --exclude-path-regex '^/internal/' "$@"
  fuzz_pass "$svc" internal "$internal" --include-path-regex '^/internal/' "$@"
done

echo
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]} (output and reports in var/fuzz/)" >&2
  exit 1
fi
say "no server error and no response outside the schema"
