#!/usr/bin/env bash
# The load benchmark against the running stack (`make bench` runs `make up` first): bench/run.py.
#   make bench            stage 1 (10,000 orders/min for 60 s), stage 2 (step up), reference
#                         figures, consistency check; updates docs/benchmarks.md
#   make bench SHORT=1    a quick check: stage 1 for 20 s, short reference runs, docs left alone
# Extra arguments go to bench/run.py, e.g. `stack/scripts/bench.sh --rates 180 200`.
set -euo pipefail
. "$(dirname "$0")/../env.sh"
cd "$OMS_ROOT"
exec "$VENV/bin/python" -m bench.run "$@"
