#!/usr/bin/env bash
# Fault injection under load against the running stack (`make chaos` runs `make up` first):
# bench/chaos.py.
#   make chaos            the full schedule; updates docs/reliability.md
#   make chaos SHORT=1    a quick one, docs left alone
# Extra arguments go to bench/chaos.py, e.g. `stack/scripts/chaos.sh --seed 7 --rate 40`.
set -euo pipefail
. "$(dirname "$0")/../env.sh"
cd "$OMS_ROOT"
exec "$VENV/bin/python" -m bench.chaos "$@"
