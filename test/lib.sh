# shellcheck shell=bash
# lib.sh - the environment the test scripts share: where PostgreSQL 15 is,
# where the throwaway cluster lives and which ports it, the mock API, the
# test proxy and the TLS front use. Sourced, not run:
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Afterwards the working directory is the top of the source tree, and these
# are set, each from the environment when given there, else as said:
#   ROOT              the top of the source tree
#   PG_CONFIG         PostgreSQL 15's pg_config, which builds cfiam: Debian's
#                     /usr/lib/postgresql/15/bin/pg_config when present (Debian's
#                     /usr/bin/pg_config answers for the newest installed major
#                     version, which need not be 15), else pg_config on PATH
#   PG_BINDIR         the programs of that PostgreSQL (initdb, pg_ctl, postgres,
#                     psql): `$PG_CONFIG --bindir` when PG_CONFIG was given,
#                     else Debian's /usr/lib/postgresql/15/bin when it holds
#                     pg_ctl, else `pg_config --bindir`; empty if none answers
#   PSQL              psql of PG_BINDIR, else psql on PATH
#   CFIAM_PGDATA      the cluster's base directory: data/, the unix socket,
#                     the logs (default /tmp/cfiam-pg)
#   CFIAM_PGPORT      the cluster's port, which names its socket (54329)
#   CFIAM_MOCK_PORT   the mock API's port on 127.0.0.1 (18787)
#   CFIAM_PROXY_PORT  the test egress proxy's port on 127.0.0.1 (18790)
#   CFIAM_FRONT_PORT  the TLS front's port on 127.0.0.1 (18788)
#   PG_OS_USER        the OS user that owns and runs the cluster: postgres
#                     when run as root, else the caller
# All but ROOT, PSQL and PG_OS_USER are exported, for the programs the
# scripts start (make, test/pgcluster.sh, test/mockctl.py, the suites).
#
# And these functions:
#   build_install     make and make install; the build's output on stderr
#   cluster_start [TRANSPORT]
#                     start the cluster, the mock and, for a TLS transport,
#                     the front (test/pgcluster.sh start; TRANSPORT defaults
#                     to $CFIAM_TRANSPORT, else http1), then export what
#                     `test/pgcluster.sh env` prints (PGHOST, PGPORT, PGUSER,
#                     CFIAM_API_URL, CFIAM_CA_FILE, ...) and unset the libpq
#                     variables that would take a client elsewhere
#   cluster_stop      stop all of them, whatever is running; quiet
#   as_pg CMD...      run CMD as PG_OS_USER, from CFIAM_PGDATA
#   count_passed FILE, count_failed FILE
#                     the tests pg_regress's output in FILE reports passed,
#                     failed

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || return

CFIAM_PG15_BINDIR=/usr/lib/postgresql/15/bin
if [ -n "${PG_CONFIG:-}" ] && [ -z "${PG_BINDIR:-}" ]; then
    PG_BINDIR="$("$PG_CONFIG" --bindir 2>/dev/null)" || PG_BINDIR=""
fi
if [ -z "${PG_CONFIG:-}" ] && [ -x "$CFIAM_PG15_BINDIR/pg_config" ]; then
    PG_CONFIG="$CFIAM_PG15_BINDIR/pg_config"
fi
PG_CONFIG="${PG_CONFIG:-pg_config}"
if [ -z "${PG_BINDIR:-}" ]; then
    if [ -x "$CFIAM_PG15_BINDIR/pg_ctl" ]; then
        PG_BINDIR="$CFIAM_PG15_BINDIR"
    else
        PG_BINDIR="$(pg_config --bindir 2>/dev/null)" || PG_BINDIR=""
    fi
fi
export PG_CONFIG PG_BINDIR
PSQL="$PG_BINDIR/psql"
[ -x "$PSQL" ] || PSQL="$(command -v psql || echo psql)"

export CFIAM_PGDATA="${CFIAM_PGDATA:-/tmp/cfiam-pg}"
export CFIAM_PGPORT="${CFIAM_PGPORT:-54329}"
export CFIAM_MOCK_PORT="${CFIAM_MOCK_PORT:-18787}"
export CFIAM_PROXY_PORT="${CFIAM_PROXY_PORT:-18790}"
export CFIAM_FRONT_PORT="${CFIAM_FRONT_PORT:-18788}"

if [ "$(id -u)" -eq 0 ]; then PG_OS_USER=postgres; else PG_OS_USER="$(id -un)"; fi

build_install() {
    make -s -j"$(nproc 2>/dev/null || echo 2)" >&2 && make -s install >/dev/null
}

# shellcheck disable=SC2120  # the transport is optional
cluster_start() {
    local transport="${1:-${CFIAM_TRANSPORT:-http1}}" env
    CFIAM_TRANSPORT="$transport" bash "$ROOT/test/pgcluster.sh" start >/dev/null || return
    env="$(CFIAM_TRANSPORT="$transport" bash "$ROOT/test/pgcluster.sh" env)" || return
    eval "$env"
    unset PGDATABASE PGSERVICE PGOPTIONS PGPASSWORD PGSSLMODE
}

cluster_stop() {
    bash "$ROOT/test/pgcluster.sh" stop >/dev/null 2>&1 || true
}

# Root's working directory (e.g. /root) may be closed to postgres: the
# command runs from the cluster's base directory.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd "$CFIAM_PGDATA" && runuser -u "$PG_OS_USER" -- "$@")
    else
        (cd "$CFIAM_PGDATA" && "$@")
    fi
}

# pg_regress's result lines. PostgreSQL 15 prints
#   test validator                    ... ok           12 ms
#        validator                    ... FAILED       30 ms   (parallel group)
#   test errors ... FAILED (test process exited with exit code 2)   25 ms
# and 16 and later print TAP: `ok 1 - validator  12 ms` / `not ok 2 - errors ...`.
# A `failed (ignored)` test counts as failed.
count_passed() { grep -Ec '\.\.\. +ok( |$)|^ok [0-9]+ ' "$1" || true; }
count_failed() { grep -Eic '\.\.\. +failed( |$)|^not ok [0-9]+ ' "$1" || true; }
