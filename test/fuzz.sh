#!/usr/bin/env bash
# fuzz.sh - build and install cfiam, start a throwaway cluster + the mock API
# (test/pgcluster.sh), run the fuzzer (test/fuzz.py), stop everything.
#
# Usage (as root, from any directory):
#   bash test/fuzz.sh                       quick mode: seed 1, 5,000 cases (two to three minutes)
#   bash test/fuzz.sh --seed 7 --cases 20000 [--seconds 300] [--only decoder|builder]
#                     [--save DIR] [--verbose]
#   bash test/fuzz.sh --installed ...       the same with the cfiam already installed (CI: the
#                                           host stage's build), not built again
# Arguments (but --installed) go to test/fuzz.py; any seed replays exactly:
# `--seed N --cases K` runs the K cases a run with that seed ran first, whatever
# their time (the summary's last line gives the command). Environment as
# test/lib.sh says (PG_CONFIG, PG_BINDIR, CFIAM_PGDATA and the ports), all
# optional.
# Not part of `make installcheck` (.ci/run runs it after the regression
# suites). Exit status: fuzz.py's: 0 clean, 1 a finding in cfiam (crash, hang,
# internal error, bad request, an answer accepted silently, a wrong row), 2 a
# failure of the fuzzer itself, 3 a table or statement it does not cover.
set -euo pipefail

# shellcheck source=test/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build=1
args=()
for a in "$@"; do
    if [ "$a" = --installed ]; then build=0; else args+=("$a"); fi
done
if [ "${#args[@]}" -eq 0 ]; then args=(--seed 1 --cases 5000); fi

trap cluster_stop EXIT

if [ "$build" = 1 ] || [ ! -f "$("$PG_CONFIG" --pkglibdir)/cfiam.so" ]; then
    echo "== build and install (PG_CONFIG=$PG_CONFIG)"
    build_install
fi

echo "== start the throwaway cluster and the mock API"
cluster_start
PG_ABS_SRCDIR="$ROOT" "$PSQL" -X -q -v ON_ERROR_STOP=1 -d postgres \
    -c 'CREATE EXTENSION cfiam' -f "$ROOT/test/fixture.sql" >/dev/null

echo "== fuzz"
set +e
python3 "$ROOT/test/fuzz.py" --psql "$PSQL" --pglog "$CFIAM_PGDATA/postgres.log" "${args[@]}"
status=$?
set -e
exit "$status"
