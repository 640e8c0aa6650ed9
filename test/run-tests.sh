#!/usr/bin/env bash
# run-tests.sh - build, install and regression-test cfiam.
#
# Usage (as root, from any directory):   bash test/run-tests.sh
#
# Steps: make && make install (PGXS), start a throwaway PostgreSQL 15 cluster
# plus the mock Cloudflare API (test/pgcluster.sh), run `make installcheck`
# (pg_regress) against that cluster, and always stop both on exit.
# On failure it prints regression.diffs. Its last line is the summary
# `N passed, M failed`, and its exit status is pg_regress's.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Build against PostgreSQL 15 itself: Debian's /usr/bin/pg_config answers for
# the newest installed major version, which need not be 15.
if [ -z "${PG_CONFIG:-}" ] && [ -x /usr/lib/postgresql/15/bin/pg_config ]; then
    export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
fi

OUT="$(mktemp -t cfiam-installcheck.XXXXXX)"
PASSED=0
FAILED=0
SUMMARY_DONE=0

# The tests the Makefile lists (REGRESS), for the summary when pg_regress
# never got to run them (build or cluster failure).
regress_count() {
    local n
    n="$(make -s --no-print-directory -f Makefile \
        -f <(printf 'cfiam-print-regress:\n\t@echo $(REGRESS)\n') \
        cfiam-print-regress 2>/dev/null | wc -w)" || n=0
    if [ "${n:-0}" -eq 0 ]; then
        n="$(find sql -maxdepth 1 -name '*.sql' 2>/dev/null | wc -l)"
    fi
    echo "$n"
}

# Count pg_regress's per-test result lines. PG15 prints
#   test validator                    ... ok           12 ms
#        validator                    ... FAILED       30 ms   (parallel group)
#   test errors ... FAILED (test process exited with exit code 2)   25 ms
# and PG16+ prints TAP: `ok 1 - validator  12 ms` / `not ok 2 - errors ...`.
# A `failed (ignored)` test counts as failed.
count_results() {
    PASSED="$(grep -Ec '\.\.\. +ok( |$)|^ok [0-9]+ ' "$OUT" || true)"
    FAILED="$(grep -Eic '\.\.\. +failed( |$)|^not ok [0-9]+ ' "$OUT" || true)"
}

print_summary() {
    [ "$SUMMARY_DONE" -eq 1 ] && return
    SUMMARY_DONE=1
    echo "$PASSED passed, $FAILED failed"
}

cleanup() {
    local rc=$?
    set +e
    bash "$ROOT/test/pgcluster.sh" stop >/dev/null 2>&1
    # A failure before pg_regress ran (build, install, cluster start): every
    # test counts as failed, so the summary never reads as a clean run.
    if [ "$SUMMARY_DONE" -eq 0 ]; then
        echo "run-tests: failed before the regression tests ran (exit $rc)" >&2
        PASSED=0
        FAILED="$(regress_count)"
        print_summary
    fi
    rm -f "$OUT"
    exit "$rc"
}
trap cleanup EXIT

echo "== build and install (PG_CONFIG=${PG_CONFIG:-pg_config})"
make -j"$(nproc 2>/dev/null || echo 2)"
make install

echo "== start the throwaway cluster and the mock API"
bash "$ROOT/test/pgcluster.sh" start
# PGHOST, PGPORT, PGUSER and CFIAM_MOCK_PORT of that cluster and mock.
eval "$(bash "$ROOT/test/pgcluster.sh" env)"
unset PGDATABASE PGSERVICE PGOPTIONS PGPASSWORD PGSSLMODE || true

echo "== make installcheck"
rm -f regression.diffs regression.out
set +e
make installcheck 2>&1 | tee "$OUT"
status=${PIPESTATUS[0]}
set -e

# make exits 2 whatever pg_regress returned; its message names the
# recipe's status, which is pg_regress's: `[...: installcheck] Error 1`.
if [ "$status" -ne 0 ]; then
    pg_status="$(sed -nE 's/.*installcheck\] Error ([0-9]+).*/\1/p' "$OUT" | tail -n 1)"
    status="${pg_status:-$status}"
fi

count_results

# No credential in any message or log (the suites ran at log_min_messages
# debug1, so retries and other debug lines are checked too).
if ! bash "$ROOT/test/check-credentials.sh" "$ROOT/results" "${CFIAM_PGDATA:-/tmp/cfiam-pg}"; then
    FAILED=$((FAILED + 1))
    [ "$status" -ne 0 ] || status=1
fi

if [ "$status" -ne 0 ]; then
    if [ -s regression.diffs ]; then
        echo "== regression.diffs (first 20000 bytes)"
        head -c 20000 regression.diffs
        echo
    else
        echo "== no regression.diffs; server and mock logs:"
        base="${CFIAM_PGDATA:-/tmp/cfiam-pg}"
        tail -n 40 "$base/postgres.log" 2>/dev/null || true
        tail -n 40 "$base/mock.log" 2>/dev/null || true
    fi
    # pg_regress failed but no test line says so (it could not start).
    if [ "$FAILED" -eq 0 ]; then
        FAILED="$(regress_count)"
        [ "$FAILED" -gt 0 ] || FAILED=1
        PASSED=0
    fi
fi
print_summary
exit "$status"
