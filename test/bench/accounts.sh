#!/usr/bin/env bash
# accounts.sh - cfiam's benchmark over every account a credential sees: a server without
# account_id (GET /accounts, then each account's listings) against the mock API with 30
# accounts of 500 members each, 50 ms per answer, over TLS + HTTP/2 through a TLS front. Counts
# per account (`SELECT account_id, count(*) ... GROUP BY account_id`) and a full scan of every
# member, through cfiam and through Cloudflare's official TypeScript SDK looping over the
# accounts: requests, wall time, and cfiam's wall time against the floor its pace sets.
#
# Usage (as root on Debian 12, from any directory):
#   bash test/bench/accounts.sh           full run: 30 accounts of 500 members, median of 3 runs
#                                         of each measurement
#   bash test/bench/accounts.sh --quick   a smoke test: 5 accounts of 100 members, 1 run
# Options (test/bench/accounts.py --help): --reps N (default 3), --latency MS (per answer,
#   default 50), --accounts N, --members N (per account), --sdk LIST (the SDK's variants,
#   IN_FLIGHT:PAGING, default 1:auto,4:total), --max-concurrency N and
#   --max-requests-per-second N (the server options; default left unset: cfiam's defaults),
#   --transport h2|http1|tls-http1 (default h2).
#
# Steps: install node + npm with apt-get if they are missing, `npm ci` the pinned SDK
# (test/bench/package-lock.json) if it is not installed yet, build and install cfiam (PGXS),
# start a throwaway cluster, the mock and the transport (test/pgcluster.sh through
# test/transport.sh), then accounts.py measures and prints a markdown report on stdout
# (progress on stderr). Everything started is stopped on exit. Exit status 1 if the counts or
# the rows (their digest) of cfiam and the SDK differ, cfiam's server did not negotiate the
# transport's protocol, or the installed cfiam.so changed during the run.
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
export BENCH_CMDLINE="${CMDLINE}bash test/bench/accounts.sh$ARGS"

TRANSPORT=h2
prev=""
for a in "$@"; do
    case "$a" in
        -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
        --transport=*) TRANSPORT="${a#--transport=}" ;;
    esac
    if [ "$prev" = --transport ]; then TRANSPORT="$a"; fi
    prev="$a"
done
BENCH_CHECK_ARGS=1 python3 "$BENCH/accounts.py" "$@"
# Your own TLS front is not supported here: the cluster script starts the transport.
unset CFIAM_API_URL CFIAM_CA_FILE

if [ -z "${PG_CONFIG:-}" ] && [ -x /usr/lib/postgresql/15/bin/pg_config ]; then
    export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
fi
PG_CONFIG="${PG_CONFIG:-pg_config}"
export ACCOUNTS_PSQL="${PG_BINDIR:-$("$PG_CONFIG" --bindir)}/psql"
ACCOUNTS_LIBFILE="$("$PG_CONFIG" --pkglibdir)/cfiam.so"
export ACCOUNTS_LIBFILE

log() { printf 'accounts: %s\n' "$*" >&2; }

cleanup() {
    local rc=$?
    set +e
    CFIAM_TRANSPORT="$TRANSPORT" bash "$ROOT/test/pgcluster.sh" stop >/dev/null 2>&1
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

# --- build, install, cluster + mock + transport ---------------------------------------
log "build and install cfiam (PG_CONFIG=$PG_CONFIG)"
make -s -j"$(nproc 2>/dev/null || echo 2)" PG_CONFIG="$PG_CONFIG" >&2
make -s install PG_CONFIG="$PG_CONFIG" >/dev/null

log "start the throwaway cluster, the mock API and the transport ($TRANSPORT)"
export CFIAM_PRELOAD=0
# shellcheck source=test/transport.sh
. "$ROOT/test/transport.sh"
transport_start "$TRANSPORT"
unset PGDATABASE PGSERVICE PGOPTIONS PGPASSWORD PGSSLMODE || true
log "cfiam talks to $CFIAM_API_URL${CFIAM_CA_FILE:+ (ca_file $CFIAM_CA_FILE)}"

python3 "$BENCH/accounts.py" "$@"
