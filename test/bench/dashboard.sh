#!/usr/bin/env bash
# dashboard.sh - cfiam's dashboard benchmark: a three-panel reporting dashboard refreshed 20
# times in five minutes from a pool of connections, against the mock API, with the result
# cache (cache_ttl) shared in memory: API requests without the cache and with it, the
# latency of a cache hit against a call, and the memory the cache used.
#
# Usage (as root on Debian 12, from any directory):
#   bash test/bench/dashboard.sh           full run, in real time: about 25 minutes
#   bash test/bench/dashboard.sh --quick   a smoke test: small account, time compressed
#                                          15x, about 2 minutes
# Options (test/bench/dashboard.py --help): --members N, --groups N, --members-per-group N
#   (default 10,000 / 200 / 50), --connections N (the dashboard's pool, default 4), --ttls
#   LIST (cache_ttl values compared with none, default 60,150,300), --interval SECONDS (from
#   one refresh to the next, default 15: the 20 refreshes take 20 x SECONDS, five minutes),
#   --scale K (divide the refresh interval, the 20 refreshes' span and every cache_ttl by K;
#   default 1), --latency MS (per answer, default 50), --reps N (hit / call timings, default
#   7), --cache-size SIZE (cfiam.cache_size, default 64MB), --also-cache-size SIZE (run the
#   largest cache_ttl again at that size; default 8MB, the setting's default; '' for none),
#   --transport h2|http1|tls-http1 (default h2: TLS + HTTP/2 through a TLS front before the
#   mock).
#
# Steps: build and install cfiam (PGXS), start a throwaway cluster with
# shared_preload_libraries = 'cfiam' (test/pgcluster.sh with CFIAM_PRELOAD=1, through
# test/transport.sh), the mock and the transport; dashboard.py sets cfiam.cache_size (ALTER
# SYSTEM and a restart of the cluster), measures and prints a markdown report on stdout
# (progress on stderr). Everything started is stopped on exit.
#
# Environment (all optional, as for test/run-tests.sh): PG_CONFIG, PG_BINDIR, CFIAM_PGDATA,
# CFIAM_PGPORT, CFIAM_MOCK_PORT, CFIAM_FRONT_PORT, CFIAM_PROXY_PORT.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BENCH="$ROOT/test/bench"
cd "$ROOT"

# The exact command, for the report.
CMDLINE=""
for v in PG_CONFIG PG_BINDIR CFIAM_PGDATA CFIAM_PGPORT CFIAM_MOCK_PORT CFIAM_FRONT_PORT \
         CFIAM_PROXY_PORT; do
    if [ -n "${!v:-}" ]; then CMDLINE="$CMDLINE$v=${!v} "; fi
done
# each argument quoted as the shell needs it, so that an empty one shows as ''
ARGS=""
for a in "$@"; do ARGS="$ARGS $(printf '%q' "$a")"; done
export BENCH_CMDLINE="${CMDLINE}bash test/bench/dashboard.sh$ARGS"

TRANSPORT=h2
prev=""
for a in "$@"; do
    case "$a" in
        -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
        --transport=*) TRANSPORT="${a#--transport=}" ;;
    esac
    if [ "$prev" = --transport ]; then TRANSPORT="$a"; fi
    prev="$a"
done
BENCH_CHECK_ARGS=1 python3 "$BENCH/dashboard.py" "$@"
# Your own TLS front is not supported here: the cluster script starts the transport.
unset CFIAM_API_URL CFIAM_CA_FILE

if [ -z "${PG_CONFIG:-}" ] && [ -x /usr/lib/postgresql/15/bin/pg_config ]; then
    export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
fi
PG_CONFIG="${PG_CONFIG:-pg_config}"
export DASH_BINDIR="${PG_BINDIR:-$("$PG_CONFIG" --bindir)}"

log() { printf 'dashboard: %s\n' "$*" >&2; }

cleanup() {
    local rc=$?
    set +e
    CFIAM_TRANSPORT="$TRANSPORT" bash "$ROOT/test/pgcluster.sh" stop >/dev/null 2>&1
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "build and install cfiam (PG_CONFIG=$PG_CONFIG)"
make -s -j"$(nproc 2>/dev/null || echo 2)" PG_CONFIG="$PG_CONFIG" >&2
make -s install PG_CONFIG="$PG_CONFIG" >/dev/null

log "start the throwaway cluster (cfiam preloaded), the mock API and the transport ($TRANSPORT)"
export CFIAM_PRELOAD=1
# shellcheck source=test/transport.sh
. "$ROOT/test/transport.sh"
transport_start "$TRANSPORT"
unset PGDATABASE PGSERVICE PGOPTIONS PGPASSWORD PGSSLMODE || true
log "cfiam talks to $CFIAM_API_URL${CFIAM_CA_FILE:+ (ca_file $CFIAM_CA_FILE)}"

python3 "$BENCH/dashboard.py" "$@"
