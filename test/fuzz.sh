#!/usr/bin/env bash
# fuzz.sh - build and install cfiam, start a throwaway cluster + the mock API
# (test/pgcluster.sh), run the fuzzer (test/fuzz.py), stop everything.
#
# Usage (as root, from any directory):
#   bash test/fuzz.sh                       quick mode: seed 1, 5,000 cases (one to two minutes)
#   bash test/fuzz.sh --seed 7 --cases 20000 [--only decoder|builder] [--verbose]
# Arguments go to test/fuzz.py. Environment as test/run-tests.sh (PG_CONFIG,
# PG_BINDIR, CFIAM_PGDATA, CFIAM_PGPORT, CFIAM_MOCK_PORT), all optional.
# Not part of `make installcheck`. Exit status: fuzz.py's (non-zero on any
# crash, hang, internal error or bad request).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [ -z "${PG_CONFIG:-}" ] && [ -x /usr/lib/postgresql/15/bin/pg_config ]; then
    export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
fi
PG_CONFIG="${PG_CONFIG:-pg_config}"
if [ -z "${PG_BINDIR:-}" ]; then
    if [ -x /usr/lib/postgresql/15/bin/pg_ctl ]; then
        PG_BINDIR=/usr/lib/postgresql/15/bin
    else
        PG_BINDIR="$("$PG_CONFIG" --bindir)"
    fi
fi
export PG_BINDIR
BASE="${CFIAM_PGDATA:-/tmp/cfiam-pg}"
PSQL="$PG_BINDIR/psql"
[ -x "$PSQL" ] || PSQL="$(command -v psql)"

cleanup() {
    local rc=$?
    bash "$ROOT/test/pgcluster.sh" stop >/dev/null 2>&1 || true
    exit "$rc"
}
trap cleanup EXIT

echo "== build and install (PG_CONFIG=$PG_CONFIG)"
make -s -j2 PG_CONFIG="$PG_CONFIG" >/dev/null
make -s install PG_CONFIG="$PG_CONFIG" >/dev/null

echo "== start the throwaway cluster and the mock API"
bash "$ROOT/test/pgcluster.sh" start >/dev/null
eval "$(bash "$ROOT/test/pgcluster.sh" env)"
unset PGDATABASE PGSERVICE PGOPTIONS PGPASSWORD PGSSLMODE || true
PG_ABS_SRCDIR="$ROOT" "$PSQL" -X -q -v ON_ERROR_STOP=1 -d postgres \
    -c 'CREATE EXTENSION cfiam' -f "$ROOT/test/fixture.sql" >/dev/null

echo "== fuzz"
if [ "$#" -eq 0 ]; then set -- --seed 1 --cases 5000; fi
set +e
python3 "$ROOT/test/fuzz.py" --psql "$PSQL" --pglog "$BASE/postgres.log" "$@"
status=$?
set -e
exit "$status"
