#!/usr/bin/env bash
# run.sh - cfiam's benchmark: API requests, wall time against Cloudflare's official
# TypeScript SDK, decode throughput and backend memory, all against the mock API.
#
# Usage (as root on Debian 12, from any directory):
#   bash test/bench/run.sh            full run: 1,000 and 10,000 account members,
#                                     200 groups x 50 members, 50 ms per answer,
#                                     memory at 1,000 / 10,000 / 100,000 rows
#   bash test/bench/run.sh --quick    small sizes, for a smoke test (~1 minute)
# Options: --reps N (timed repetitions, median reported; default 3), --latency MS
#   (default 50), --max-concurrency N (sets cfiam's server option of that name; an error
#   if the installed build does not have it; by default the option is left unset).
#
# Steps: build and install cfiam (PGXS, like test/run-tests.sh), install node + npm with
# apt-get if they are missing, `npm ci` the pinned SDK (test/bench/package-lock.json) if
# it is not installed yet, start a throwaway cluster + the mock (test/pgcluster.sh), then
# test/bench/bench.py measures and prints the report. Everything started is stopped on exit.
#
# Environment (all optional, as for test/run-tests.sh): PG_CONFIG, PG_BINDIR,
# CFIAM_PGDATA, CFIAM_PGPORT, CFIAM_MOCK_PORT.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BENCH="$ROOT/test/bench"
cd "$ROOT"

# The exact command, for the report.
CMDLINE=""
for v in PG_CONFIG PG_BINDIR CFIAM_PGDATA CFIAM_PGPORT CFIAM_MOCK_PORT; do
    if [ -n "${!v:-}" ]; then CMDLINE="$CMDLINE$v=${!v} "; fi
done
export BENCH_CMDLINE="${CMDLINE}bash test/bench/run.sh${*:+ $*}"

# Validate the arguments before building anything (bench.py parses them again).
for a in "$@"; do
    case "$a" in
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    esac
done
BENCH_CHECK_ARGS=1 python3 "$BENCH/bench.py" "$@"

if [ -z "${PG_CONFIG:-}" ] && [ -x /usr/lib/postgresql/15/bin/pg_config ]; then
    export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
fi
PG_CONFIG="${PG_CONFIG:-pg_config}"
export BENCH_PSQL="${PG_BINDIR:-$("$PG_CONFIG" --bindir)}/psql"

log() { printf 'bench: %s\n' "$*" >&2; }

cleanup() {
    local rc=$?
    set +e
    bash "$ROOT/test/pgcluster.sh" stop >/dev/null 2>&1
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- node and the SDK -----------------------------------------------------------------
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

# --- build, install, cluster + mock ---------------------------------------------------
log "build and install cfiam (PG_CONFIG=$PG_CONFIG)"
make -s -j"$(nproc 2>/dev/null || echo 2)" PG_CONFIG="$PG_CONFIG" >&2
make -s install PG_CONFIG="$PG_CONFIG" >/dev/null

log "start the throwaway cluster and the mock API"
bash "$ROOT/test/pgcluster.sh" start >/dev/null
eval "$(bash "$ROOT/test/pgcluster.sh" env)"
unset PGDATABASE PGSERVICE PGOPTIONS PGPASSWORD PGSSLMODE || true

python3 "$BENCH/bench.py" "$@"
