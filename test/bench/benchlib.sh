# shellcheck shell=bash
# benchlib.sh - what the benchmarks' entry points (access.sh, accounts.sh, backends.sh,
# dashboard.sh, run.sh) share: the command line for the report, --help, the arguments checked
# before anything is built, PostgreSQL's pg_config, node and the pinned SDK, the build and
# install, the cluster + mock + transport and their stop on exit. Sourced, not run:
#
#   . "$(dirname "${BASH_SOURCE[0]}")/benchlib.sh"
#
# Afterwards the working directory is the top of the source tree and ROOT and BENCH (test/bench)
# are set. Each step is a function the entry point calls in its order; they log through log(),
# which prefixes BENCH_NAME (bench_init sets it).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BENCH="$ROOT/test/bench"
cd "$ROOT"

log() { printf '%s: %s\n' "$BENCH_NAME" "$*" >&2; }

# bench_cmdline SCRIPT ARG...: BENCH_CMDLINE, the exact command for the report: the environment
# that was given, then the command, each argument quoted as the shell needs it (so that an empty
# one shows as '').
bench_cmdline() {
    local script="$1" v a cmdline="" args=""
    shift
    for v in PG_CONFIG PG_BINDIR CFIAM_PGDATA CFIAM_PGPORT CFIAM_MOCK_PORT CFIAM_FRONT_PORT \
             CFIAM_PROXY_PORT; do
        if [ -n "${!v:-}" ]; then cmdline="$cmdline$v=${!v} "; fi
    done
    for a in "$@"; do args="$args $(printf '%q' "$a")"; done
    export BENCH_CMDLINE="${cmdline}bash test/bench/$script$args"
}

# bench_args SCRIPT ARG...: --help prints the header comment of test/bench/SCRIPT (its lines
# from the second to the last before the code) and exits; else TRANSPORT is --transport's value
# (h2 by default), which the cluster script needs to start the front.
bench_args() {
    local script="$1" a prev=""
    shift
    TRANSPORT=h2
    for a in "$@"; do
        case "$a" in
            -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "$BENCH/$script"; exit 0 ;;
            --transport=*) TRANSPORT="${a#--transport=}" ;;
        esac
        if [ "$prev" = --transport ]; then TRANSPORT="$a"; fi
        prev="$a"
    done
}

# bench_check_args PY ARG...: PY checks the arguments and exits, before anything is built.
bench_check_args() {
    local py="$1"
    shift
    BENCH_CHECK_ARGS=1 python3 "$BENCH/$py" "$@"
}

# bench_init NAME ARG...: for test/bench/NAME.sh, whose measuring half is NAME.py: the log's
# prefix, the command line, --help and --transport, and the arguments checked.
bench_init() {
    local name="$1"
    shift
    BENCH_NAME="$name"
    bench_cmdline "$name.sh" "$@"
    bench_args "$name.sh" "$@"
    bench_check_args "$name.py" "$@"
}

# bench_pg_config: PG_CONFIG, PostgreSQL 15's when Debian has it, and PG_BIN, its programs.
bench_pg_config() {
    if [ -z "${PG_CONFIG:-}" ] && [ -x /usr/lib/postgresql/15/bin/pg_config ]; then
        export PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
    fi
    PG_CONFIG="${PG_CONFIG:-pg_config}"
    PG_BIN="${PG_BINDIR:-$("$PG_CONFIG" --bindir)}"
}

# bench_traps: everything the cluster script started is stopped on exit, whatever the exit.
bench_traps() {
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}

bench_cleanup() {
    local rc=$?
    set +e
    CFIAM_TRANSPORT="$TRANSPORT" bash "$ROOT/test/pgcluster.sh" stop >/dev/null 2>&1
    exit "$rc"
}

# bench_sdk: node and npm (apt-get as root on Debian if they are missing), node >= 18, and
# `npm ci` of the pinned SDK (test/bench/package-lock.json) unless that version is installed.
bench_sdk() {
    local node_major want_sdk have_sdk
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
}

# bench_build: build and install cfiam with PGXS.
bench_build() {
    log "build and install cfiam (PG_CONFIG=$PG_CONFIG)"
    make -s -j"$(nproc 2>/dev/null || echo 2)" PG_CONFIG="$PG_CONFIG" >&2
    make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
}

# bench_start [PRELOAD]: the throwaway cluster, the mock and the transport for TRANSPORT
# (test/pgcluster.sh through test/transport.sh), cfiam in shared_preload_libraries if PRELOAD is
# 1 (exported as CFIAM_PRELOAD when given); afterwards the PG* environment reaches that cluster.
# transport.sh is sourced only now: its test/lib.sh exports PG_CONFIG and the ports, which the
# report's command line must not show as given.
bench_start() {
    local preloaded=""
    if [ $# -gt 0 ]; then
        export CFIAM_PRELOAD="$1"
        if [ "$1" = 1 ]; then preloaded=" (cfiam preloaded)"; fi
    fi
    log "start the throwaway cluster$preloaded, the mock API and the transport ($TRANSPORT)"
    # shellcheck source=test/transport.sh
    . "$ROOT/test/transport.sh"
    transport_start "$TRANSPORT"
    unset PGDATABASE PGSERVICE PGOPTIONS PGPASSWORD PGSSLMODE || true
    log "cfiam talks to $CFIAM_API_URL${CFIAM_CA_FILE:+ (ca_file $CFIAM_CA_FILE)}"
}
