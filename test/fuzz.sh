#!/usr/bin/env bash
# fuzz.sh - build and install cfiam, start a throwaway cluster + the mock API
# (test/pgcluster.sh), run the fuzzer (test/fuzz.py), stop everything.
#
# Usage (as root, from any directory):
#   bash test/fuzz.sh                       quick mode: seed 1, 5,000 cases (one to two minutes)
#   bash test/fuzz.sh --seed 7 --cases 20000 [--only decoder|builder] [--verbose]
# Arguments go to test/fuzz.py. Environment as test/lib.sh says (PG_CONFIG,
# PG_BINDIR, CFIAM_PGDATA and the ports), all optional.
# Not part of `make installcheck`. Exit status: fuzz.py's (non-zero on any
# crash, hang, internal error or bad request).
set -euo pipefail

# shellcheck source=test/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

trap cluster_stop EXIT

echo "== build and install (PG_CONFIG=$PG_CONFIG)"
build_install

echo "== start the throwaway cluster and the mock API"
cluster_start
PG_ABS_SRCDIR="$ROOT" "$PSQL" -X -q -v ON_ERROR_STOP=1 -d postgres \
    -c 'CREATE EXTENSION cfiam' -f "$ROOT/test/fixture.sql" >/dev/null

echo "== fuzz"
if [ "$#" -eq 0 ]; then set -- --seed 1 --cases 5000; fi
set +e
python3 "$ROOT/test/fuzz.py" --psql "$PSQL" --pglog "$CFIAM_PGDATA/postgres.log" "$@"
status=$?
set -e
exit "$status"
