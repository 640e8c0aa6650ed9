#!/usr/bin/env bash
# run-tests.sh - build, install and regression-test cfiam, over each transport.
#
# Usage (as root, from any directory):   bash test/run-tests.sh
#
# Steps: the Debian packages it needs, installed when some are missing
# (test/deps.sh); make && make install (PGXS); then one pass per transport: a
# fresh throwaway PostgreSQL 15 cluster plus the mock Cloudflare API, and for the
# TLS transports a TLS front before the mock (test/pgcluster.sh), `make
# installcheck` (pg_regress) of the pass's suites against them, the
# credential check, and the cluster stopped again. The passes:
#   http1      every suite (REGRESS), plain HTTP/1.1 to the mock; then the
#              documentation's runnable SQL examples (test/docs-examples.py),
#              one test per page of README.md and docs/
#   h2         every suite, and transport, TLS + HTTP/2 through the front
#   tls-http1  concurrency, resilience and transport, TLS + HTTP/1.1 through
#              the front
# Each pass keeps its results/, regression.diffs and regression.out, and
# copies of the server's, the mock's and the front's logs, in
# results-<transport>/. A failing pass's regression.diffs is printed,
# labelled with its transport.
#
# Environment (all optional; PG_CONFIG, PG_BINDIR, the cluster's directory
# and the ports as test/lib.sh says):
#   CFIAM_TRANSPORTS  the passes, in order (default "http1 h2 tls-http1")
#   CFIAM_SUITES      the suites of every pass, instead of the lists above
#                     (e.g. CFIAM_TRANSPORTS=h2 CFIAM_SUITES="errors concurrency");
#                     the documentation's examples are then left out
#
# Its last line is the summary `N passed, M failed` over all passes together,
# and its exit status is non-zero if any pass failed (pg_regress's status of
# the first failing pass, else 1).
set -euo pipefail

# The build's and the suites' Debian packages, before lib.sh looks for
# PostgreSQL 15. Without them nothing runs: the summary says so.
if ! bash "$(dirname "${BASH_SOURCE[0]}")/deps.sh"; then
    echo "run-tests: the Debian packages the tests need are missing (test/deps.sh)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

# shellcheck source=test/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TRANSPORTS="${CFIAM_TRANSPORTS:-http1 h2 tls-http1}"
# The suites of the tls-http1 pass: those whose subject is the connections
# themselves (concurrency, keep-alive, drops, retries).
TLS_HTTP1_SUITES="concurrency resilience"
# Suites that need the TLS front (sql/transport.sql): not in REGRESS, run in
# the h2 and tls-http1 passes only.
TLS_ONLY_SUITES="transport"
# Suites of what only a preloaded cfiam does (the cache in shared memory):
# not in REGRESS, run in the pass whose cluster preloads it.
PRELOAD_ONLY_SUITES="cache_shared limits_shared"
# The pass whose cluster has shared_preload_libraries = 'cfiam'; the others
# run cfiam loaded on first use, each backend with its own cache.
PRELOAD_TRANSPORT="http1"
# The pass that also runs the documentation's examples, against its cluster
# and mock once its suites are done.
DOCS_TRANSPORT="http1"

OUT="$(mktemp -t cfiam-installcheck.XXXXXX)"
FAST_BIN="$(mktemp -d -t cfiam-bin.XXXXXX)"
PASSED=0
FAILED=0
STATUS=0
SUMMARY_DONE=0
PENDING=0      # tests of passes that have not run yet (for an early exit)

# The tests the Makefile lists (REGRESS).
regress_list() {
    make -s --no-print-directory -f Makefile \
        -f <(printf 'cfiam-print-regress:\n\t@echo $(REGRESS)\n') \
        cfiam-print-regress 2>/dev/null || true
}

suites_of() {
    if [ -n "${CFIAM_SUITES:-}" ]; then
        echo "$CFIAM_SUITES"
    elif [ "$1" = tls-http1 ]; then
        echo "$TLS_HTTP1_SUITES $TLS_ONLY_SUITES"
    elif [ "$1" = h2 ]; then
        echo "$ALL_SUITES $TLS_ONLY_SUITES"
    else
        echo "$ALL_SUITES $PRELOAD_ONLY_SUITES"
    fi
}

words() { set -f; set -- $1; set +f; echo "$#"; }

# The documentation pages whose examples pass $1 runs (none unless it is
# DOCS_TRANSPORT and every suite runs).
docs_of() {
    if [ "$1" = "$DOCS_TRANSPORT" ] && [ -z "${CFIAM_SUITES:-}" ]; then
        python3 "$ROOT/test/docs-examples.py" --list
    fi
}

print_summary() {
    [ "$SUMMARY_DONE" -eq 1 ] && return
    SUMMARY_DONE=1
    echo "$PASSED passed, $FAILED failed"
}

cleanup() {
    local rc=$?
    set +e
    cluster_stop
    # Stopped before the end (build or install failed, interrupted): every
    # test not counted yet counts as failed, so the summary never reads as a
    # clean run.
    if [ "$SUMMARY_DONE" -eq 0 ]; then
        echo "run-tests: stopped before every pass had run (exit $rc)" >&2
        FAILED=$((FAILED + PENDING))
        [ "$FAILED" -gt 0 ] || FAILED=1
        print_summary
        [ "$rc" -ne 0 ] || rc=1
    fi
    rm -f "$OUT"
    rm -rf "$FAST_BIN"
    exit "$rc"
}
trap cleanup EXIT

for t in $TRANSPORTS; do
    case "$t" in
        http1 | h2 | tls-http1) ;;
        *) echo "run-tests: unknown transport '$t' in CFIAM_TRANSPORTS (http1, h2, tls-http1)" >&2; exit 2 ;;
    esac
done

ALL_SUITES="$(regress_list)"
if [ -z "$ALL_SUITES" ]; then
    ALL_SUITES="$(find sql -maxdepth 1 -name '*.sql' -printf '%f\n' 2>/dev/null | sed 's/\.sql$//' | sort | tr '\n' ' ')"
fi
for t in $TRANSPORTS; do
    PENDING=$((PENDING + $(words "$(suites_of "$t")") + $(words "$(docs_of "$t")")))
done

# The suites start test/mockctl.py (`\! python3 $MOCKCTL ...`) some 400
# times a pass. Where python3 is a version manager's shim (pyenv's costs
# ~0.7 s a start), that is minutes: run the interpreter the shim resolves
# to, through a wrapper earlier on PATH. The suites' text is unchanged.
if PY="$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)" && [ -x "$PY" ]; then
    printf '#!/bin/sh\nexec %q "$@"\n' "$PY" >"$FAST_BIN/python3"
    chmod 0755 "$FAST_BIN/python3"
    export PATH="$FAST_BIN:$PATH"
fi

# The release's metadata agrees with itself (META.json, cfiam.control,
# the Makefile's DATA, CHANGELOG.md) before anything is built.
echo "== META.json"
python3 "$ROOT/test/check-meta.py"

echo "== build and install (PG_CONFIG=$PG_CONFIG)"
make -j"$(nproc 2>/dev/null || echo 2)"
make install

BASE="$CFIAM_PGDATA"

# One pass: fresh cluster, mock and front for transport $1, its suites, the
# credential check; results kept in results-$1/. Adds to PASSED, FAILED and
# (first failure) STATUS.
run_pass() {
    local t="$1" suites n status passed failed pg_status keep start secs preload docs ndocs
    local docs_passed=0 docs_failed=0
    suites="$(suites_of "$t")"
    n="$(words "$suites")"
    docs="$(docs_of "$t")"
    ndocs="$(words "$docs")"
    keep="$ROOT/results-$t"
    rm -rf "$keep" "$ROOT/results" regression.diffs regression.out
    start=$SECONDS

    echo
    if [ "$t" = "$PRELOAD_TRANSPORT" ]; then preload=1; else preload=0; fi
    echo "== transport $t: start the throwaway cluster$([ "$preload" = 1 ] && echo ' (cfiam preloaded)'), the mock API$([ "$t" = http1 ] || echo ' and the TLS front')"
    # Exports PGHOST, PGPORT, PGUSER, CFIAM_MOCK_PORT, CFIAM_TRANSPORT,
    # CFIAM_API_URL and CFIAM_CA_FILE of that cluster, mock and front.
    if ! CFIAM_PRELOAD="$preload" cluster_start "$t"; then
        echo "== transport $t: the cluster did not start; its $((n + ndocs)) tests count as failed"
        FAILED=$((FAILED + n + ndocs))
        PENDING=$((PENDING - n - ndocs))
        [ "$STATUS" -ne 0 ] || STATUS=1
        return 0
    fi
    echo "== transport $t: make installcheck ($n suites, API at $CFIAM_API_URL)"

    set +e
    # shellcheck disable=SC2086
    make installcheck REGRESS="$suites" 2>&1 | tee "$OUT"
    status=${PIPESTATUS[0]}
    set -e
    # make exits 2 whatever pg_regress returned; its message names the
    # recipe's status, which is pg_regress's: `[...: installcheck] Error 1`.
    if [ "$status" -ne 0 ]; then
        pg_status="$(sed -nE 's/.*installcheck\] Error ([0-9]+).*/\1/p' "$OUT" | tail -n 1)"
        status="${pg_status:-$status}"
    fi
    passed="$(count_passed "$OUT")"
    failed="$(count_failed "$OUT")"

    # The documentation's examples, one test per page; a page that did not
    # report ok counts as failed. Their output goes to results/ (docs-*.out).
    if [ "$ndocs" -gt 0 ]; then
        echo "== transport $t: the documentation's examples ($ndocs pages)"
        # shellcheck disable=SC2086
        PSQL="$PSQL" python3 "$ROOT/test/docs-examples.py" --out "$ROOT/results" $docs 2>&1 | tee "$OUT" || true
        docs_passed="$(count_passed "$OUT")"
        docs_failed=$((ndocs - docs_passed))
    fi

    # No credential in any message or log (the suites ran at log_min_messages
    # debug1, so retries and other debug lines are checked too).
    if ! bash "$ROOT/test/check-credentials.sh" "$ROOT/results" "$BASE"; then
        failed=$((failed + 1))
        [ "$status" -ne 0 ] || status=1
    fi

    cluster_stop

    if [ "$status" -ne 0 ]; then
        if [ -s regression.diffs ]; then
            echo "== transport $t: regression.diffs (first 20000 bytes)"
            head -c 20000 regression.diffs
            echo
        else
            echo "== transport $t: no regression.diffs; server, mock and front logs:"
            tail -n 40 "$BASE/postgres.log" 2>/dev/null || true
            tail -n 40 "$BASE/mock.log" 2>/dev/null || true
            tail -n 40 "$BASE/front.log" 2>/dev/null || true
        fi
        # pg_regress failed but no test line says so (it could not start).
        if [ "$failed" -eq 0 ]; then
            failed="$n"
            passed=0
        fi
        [ "$STATUS" -ne 0 ] || STATUS="$status"
    fi

    # The documentation's examples, counted apart from the suites above.
    passed=$((passed + docs_passed))
    failed=$((failed + docs_failed))
    [ "$docs_failed" -eq 0 ] || [ "$STATUS" -ne 0 ] || STATUS=1

    # Keep the pass's results and logs.
    mkdir -p "$keep"
    [ -d "$ROOT/results" ] && cp -a "$ROOT/results/." "$keep/"
    for f in regression.diffs regression.out; do
        [ -f "$f" ] && cp "$f" "$keep/"
    done
    for f in postgres.log mock.log front.log; do
        [ -f "$BASE/$f" ] && cp "$BASE/$f" "$keep/" 2>/dev/null || true
    done

    secs=$((SECONDS - start))
    echo "== transport $t: $passed passed, $failed failed ($((secs / 60))m$((secs % 60))s; results in results-$t/)"
    PASSED=$((PASSED + passed))
    FAILED=$((FAILED + failed))
    PENDING=$((PENDING - n - ndocs))
}

for t in $TRANSPORTS; do
    run_pass "$t"
done

echo
print_summary
exit "$STATUS"
