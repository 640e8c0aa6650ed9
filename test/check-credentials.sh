#!/usr/bin/env bash
# check-credentials.sh - after the regression suites: no credential of the
# mock (token, key) may appear in any message cfiam produced (errors, details,
# hints, contexts, notices, EXPLAIN output), in the server log, in the mock's
# log or in the TLS front's log (when the run went through it).  The suites'
# own SQL text, which names them in CREATE USER MAPPING, is not a message and
# is skipped, as are the server log's STATEMENT: lines (PostgreSQL's echo of
# the statement the user typed).
#
# Usage: test/check-credentials.sh RESULTS_DIR CLUSTER_BASE_DIR
set -euo pipefail
results="$1"
base="$2"
secrets='cfiam-test-token|cfiam-test-key'
leaks=0

check() {
    local what="$1"
    shift
    local found
    found="$("$@" || true)"
    if [ -n "$found" ]; then
        echo "credential check: a credential appears in $what:" >&2
        printf '%s\n' "$found" | head -n 5 >&2
        leaks=1
    fi
}

check "a message of a regression suite" \
    sh -c "cat '$results'/*.out | grep -E '^(ERROR|DETAIL|HINT|CONTEXT|NOTICE|WARNING|INFO|LOG|DEBUG[0-9]?):|Cloudflare API' | grep -E '$secrets'"
check "the server log" \
    sh -c "grep -v 'STATEMENT:' '$base/postgres.log' | grep -E '$secrets'"
check "the mock's log" \
    sh -c "grep -E '$secrets' '$base/mock.log'"
if [ -f "$base/front.log" ]; then
    check "the TLS front's log" \
        sh -c "grep -E '$secrets' '$base/front.log'"
fi

if [ "$leaks" -ne 0 ]; then
    exit 1
fi
echo "credential check: no credential in messages, server log, mock log or front log"
