#!/usr/bin/env bash
# run.sh - cfiam's benchmark: API requests, wall time against Cloudflare's official
# TypeScript SDK, decode throughput and backend memory, all against the mock API.
#
# Usage (as root on Debian 12, from any directory):
#   bash test/bench/run.sh            full run: 1,000 and 10,000 account members,
#                                     200 groups x 50 members, 50 ms per answer,
#                                     memory at 1,000 / 10,000 / 100,000 rows, the
#                                     three-way join at 10,000 with no added latency
#   bash test/bench/run.sh --quick    small sizes, for a smoke test (~1 minute)
#   bash test/bench/run.sh --only-join3
#                                     the three-way join at 10,000 with no added latency
#                                     alone, cfiam only (no SDK, no node): paced and not
#                                     paced, at max_concurrency unset and 1 (~1 minute)
# Options: --reps N (timed repetitions, median reported; default 3), --latency MS
#   (default 50), --max-concurrency N (sets cfiam's server option of that name; an error
#   if the installed build does not have it; by default the option is left unset),
#   --sweep LIST (other max_concurrency values the largest full scan is also timed with,
#   default 4,8,16; '' for none), --transport h2|http1|tls-http1 (default h2: cfiam talks
#   TLS + HTTP/2 to a TLS front (nghttpx) before the mock, as to api.cloudflare.com, with
#   the server option ca_file; the SDK keeps its default, HTTP/1.1 keep-alive, over TLS to
#   the same front; http1: both plain HTTP/1.1 to the mock; tls-http1: the front offers
#   HTTP/1.1 only), --max-requests-per-second N (sets cfiam's server option of that name,
#   0 for no pace; by default the option is left unset).
#
# Steps: build and install cfiam (PGXS, like test/run-tests.sh), unless --only-join3 install node + npm with
# apt-get if they are missing, `npm ci` the pinned SDK (test/bench/package-lock.json) if
# it is not installed yet, start a throwaway cluster + the mock + for a TLS transport the
# front with a CA made at start-up (test/pgcluster.sh through test/transport.sh), then
# test/bench/bench.py measures and prints the report. Everything started is stopped on exit.
#
# Environment (all optional, as for test/run-tests.sh): PG_CONFIG, PG_BINDIR,
# CFIAM_PGDATA, CFIAM_PGPORT, CFIAM_MOCK_PORT, CFIAM_FRONT_PORT, CFIAM_PROXY_PORT;
# CFIAM_API_URL and CFIAM_CA_FILE to use a TLS front you run yourself before the mock
# (test/transport.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BENCH="$ROOT/test/bench"
cd "$ROOT"

# The exact command, for the report.
CMDLINE=""
for v in PG_CONFIG PG_BINDIR CFIAM_PGDATA CFIAM_PGPORT CFIAM_MOCK_PORT CFIAM_FRONT_PORT \
         CFIAM_PROXY_PORT CFIAM_API_URL CFIAM_CA_FILE; do
    if [ -n "${!v:-}" ]; then CMDLINE="$CMDLINE$v=${!v} "; fi
done
export BENCH_CMDLINE="${CMDLINE}bash test/bench/run.sh${*:+ $*}"

# Validate the arguments before building anything (bench.py parses them again); the
# transport is needed here, to start the front.
TRANSPORT=h2
WITH_SDK=1
prev=""
for a in "$@"; do
    case "$a" in
        -h|--help) sed -n '2,35p' "$0"; exit 0 ;;
        --transport=*) TRANSPORT="${a#--transport=}" ;;
        --only-join3) WITH_SDK=0 ;;
    esac
    if [ "$prev" = --transport ]; then TRANSPORT="$a"; fi
    prev="$a"
done
BENCH_CHECK_ARGS=1 python3 "$BENCH/bench.py" "$@"
export BENCH_TRANSPORT="$TRANSPORT"

if [ -z "${PG_CONFIG:-}" ] && [ -x /usr/lib/postgresql/15/bin/pg_config ]; then
    export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
fi
PG_CONFIG="${PG_CONFIG:-pg_config}"
export BENCH_PSQL="${PG_BINDIR:-$("$PG_CONFIG" --bindir)}/psql"

log() { printf 'bench: %s\n' "$*" >&2; }

cleanup() {
    local rc=$?
    set +e
    CFIAM_TRANSPORT="$TRANSPORT" bash "$ROOT/test/pgcluster.sh" stop >/dev/null 2>&1
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- node and the SDK (not for --only-join3) ------------------------------------------
if [ "$WITH_SDK" = 1 ]; then
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "node/npm missing: apt-get install nodejs npm"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >&2
    else
        log "error: node and npm are needed (node >= 18); install them or run as root on Debian"
        exit 1
    fi
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 18 ]; then
    log "error: node $(node --version) is too old; the SDK needs node >= 18"
    exit 1
fi
want_sdk="$(node -p 'require(process.argv[1]).packages["node_modules/cloudflare"].version' \
    "$BENCH/package-lock.json")"
have_sdk="$(node -p 'try { require(process.argv[1]).version } catch (e) { "" }' \
    "$BENCH/node_modules/cloudflare/package.json" 2>/dev/null || true)"
if [ "$have_sdk" != "$want_sdk" ]; then
    log "npm ci (cloudflare@$want_sdk)"
    (cd "$BENCH" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
fi

# --- build, install, cluster + mock ---------------------------------------------------
log "build and install cfiam (PG_CONFIG=$PG_CONFIG)"
make -s -j"$(nproc 2>/dev/null || echo 2)" PG_CONFIG="$PG_CONFIG" >&2
make -s install PG_CONFIG="$PG_CONFIG" >/dev/null

log "start the throwaway cluster, the mock API and the transport ($TRANSPORT)"
# shellcheck source=test/transport.sh
. "$ROOT/test/transport.sh"
transport_start "$TRANSPORT"
unset PGDATABASE PGSERVICE PGOPTIONS PGPASSWORD PGSSLMODE || true
log "cfiam talks to $CFIAM_API_URL${CFIAM_CA_FILE:+ (ca_file $CFIAM_CA_FILE)}"

python3 "$BENCH/bench.py" "$@"
