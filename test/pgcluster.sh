#!/usr/bin/env bash
# pgcluster.sh - a throwaway PostgreSQL 15 cluster plus the mock Cloudflare API,
# for the regression tests (test/run-tests.sh) and the demo (test/demo.sh).
#
# Usage:
#   test/pgcluster.sh start    fresh cluster (initdb) + mock API, both running
#   test/pgcluster.sh stop     stop both; tolerant of either not running
#   test/pgcluster.sh status   report both; exit 0 only if both are up
#   test/pgcluster.sh env      print the export lines a client needs, e.g.
#                                eval "$(test/pgcluster.sh env)"
#
# Environment (all optional):
#   CFIAM_PGDATA     base dir (default /tmp/cfiam-pg): holds data/ (the
#                    cluster), the unix socket, postgres.log, mock.log, mock.pid
#   CFIAM_PGPORT     PostgreSQL port (default 54329); only a unix socket is
#                    opened, the port just names it (.s.PGSQL.<port>)
#   CFIAM_MOCK_PORT  port of the mock API on 127.0.0.1 (default 18787)
#   CFIAM_PROXY_PORT port of the test egress proxy (test/proxy.py) on
#                    127.0.0.1 (default 18790); logs to proxy.log
#   PG_BINDIR        PostgreSQL server binaries (default: Debian's
#                    /usr/lib/postgresql/15/bin, else `pg_config --bindir`)
#
# It is run as root (developers' machines and CI), but PostgreSQL refuses to
# run as root, so initdb/pg_ctl run as the `postgres` OS user; run by any
# other user, they simply run as that user. The mock runs as the caller.
set -euo pipefail

# The repo root, from this script's own path, so any cwd works.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

BASE="${CFIAM_PGDATA:-/tmp/cfiam-pg}"
PGDATA_DIR="$BASE/data"
PORT="${CFIAM_PGPORT:-54329}"
MOCK_PORT="${CFIAM_MOCK_PORT:-18787}"
PG_LOG="$BASE/postgres.log"
MOCK_LOG="$BASE/mock.log"
MOCK_PID="$BASE/mock.pid"
MOCK_PY="$ROOT/test/mock_cloudflare.py"
MOCKCTL_PY="$ROOT/test/mockctl.py"
PROXY_PORT="${CFIAM_PROXY_PORT:-18790}"
PROXY_PY="$ROOT/test/proxy.py"
PROXY_LOG="$BASE/proxy.log"
PROXY_PID="$BASE/proxy.pid"

# Which user owns and runs the cluster.
if [ "$(id -u)" -eq 0 ]; then
    PG_OS_USER=postgres
else
    PG_OS_USER="$(id -un)"
fi

log() { printf 'pgcluster: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Locate the server binaries (sets BINDIR). Debian's /usr/bin/pg_config is a
# wrapper that answers for the newest installed major version, and
# /usr/local/bin may hold anything, so prefer the PostgreSQL 15 directory.
BINDIR=""
find_bindir() {
    if [ -n "${PG_BINDIR:-}" ]; then
        BINDIR="$PG_BINDIR"
    elif [ -x /usr/lib/postgresql/15/bin/pg_ctl ]; then
        BINDIR=/usr/lib/postgresql/15/bin
    elif command -v pg_config >/dev/null 2>&1; then
        BINDIR="$(pg_config --bindir)"
    fi
    [ -n "$BINDIR" ] && [ -x "$BINDIR/pg_ctl" ] && [ -x "$BINDIR/initdb" ] ||
        die "PostgreSQL 15 server binaries not found (apt-get install postgresql-15, or set PG_BINDIR)"
}

# Run a command as the cluster's OS user, from a directory that user can
# enter (root's cwd, e.g. /root, may be closed to postgres).
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd "$BASE" && runuser -u "$PG_OS_USER" -- "$@")
    else
        (cd "$BASE" && "$@")
    fi
}

# The export lines clients need (psql, pg_regress, test/mockctl.py).
print_env() {
    printf 'export PGHOST=%q PGPORT=%q PGUSER=postgres CFIAM_MOCK_PORT=%q\n' \
        "$BASE" "$PORT" "$MOCK_PORT"
    printf 'export CFIAM_PROXY_PORT=%q\n' "$PROXY_PORT"
}

# True if something accepts TCP connections on 127.0.0.1:$1.
port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# The pid in the mock's pid file, if that process is alive and really is the
# mock (a stale pid file may name a pid reused by something else).
mock_pid() {
    local pid
    [ -f "$MOCK_PID" ] || return 1
    pid="$(cat "$MOCK_PID" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'mock_cloudflare\.py' || return 1
    printf '%s\n' "$pid"
}

pg_running() {
    [ -f "$PGDATA_DIR/postmaster.pid" ] && [ -d "$BASE" ] &&
        as_pg "$BINDIR/pg_ctl" status -D "$PGDATA_DIR" >/dev/null 2>&1
}

stop_pg() {
    if pg_running; then
        log "stopping PostgreSQL ($PGDATA_DIR)"
        if ! as_pg "$BINDIR/pg_ctl" stop -D "$PGDATA_DIR" -m fast -w -t 30 >/dev/null; then
            log "fast shutdown failed; trying immediate"
            as_pg "$BINDIR/pg_ctl" stop -D "$PGDATA_DIR" -m immediate -w -t 30 >/dev/null || true
        fi
    else
        log "PostgreSQL not running"
    fi
}

stop_mock() {
    local pid i
    if pid="$(mock_pid)"; then
        log "stopping mock API (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "mock did not exit on TERM; killing"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    else
        log "mock API not running"
    fi
    rm -f "$MOCK_PID"
}

start_pg() {
    # A fresh cluster each time: stop a leftover one, then remove it.
    stop_pg
    rm -rf "$PGDATA_DIR" "$PG_LOG" "$BASE/initdb.log"

    # The base dir holds the data dir, the socket and the logs: postgres must
    # own it. Its parents must let postgres through, too.
    mkdir -p "$BASE"
    if [ "$(id -u)" -eq 0 ]; then
        chown "$PG_OS_USER": "$BASE"
    fi
    chmod 0755 "$BASE"
    as_pg test -w "$BASE" ||
        die "$BASE is not writable by user $PG_OS_USER (a parent directory closed to it?); set CFIAM_PGDATA elsewhere"
    # Unix socket paths are limited to ~107 bytes.
    [ "${#BASE}" -le 80 ] || die "CFIAM_PGDATA path too long for a unix socket: $BASE"

    log "initdb $PGDATA_DIR"
    # --no-locale: C collation and ctype. This matters: cfiam claims ORDER BY
    # pushdown only for the C collation (the API sorts by byte value), so the
    # tests' expected output assumes a C-collation database.
    as_pg "$BINDIR/initdb" -D "$PGDATA_DIR" --no-locale -E UTF8 -A trust -U postgres \
        --no-sync --no-instructions >"$BASE/initdb.log" 2>&1 ||
        { cat "$BASE/initdb.log" >&2; die "initdb failed"; }

    # Unix socket only, in the base dir; no TCP listener. Throwaway cluster,
    # so durability is off for speed.
    cat >>"$PGDATA_DIR/postgresql.conf" <<EOF

# --- added by test/pgcluster.sh (throwaway test cluster) ---
listen_addresses = ''
port = $PORT
unix_socket_directories = '$BASE'
fsync = off
synchronous_commit = off
full_page_writes = off
timezone = 'UTC'
log_timezone = 'UTC'
# cfiam's DEBUG1 lines (each retry) reach the log, where the credential
# check of test/run-tests.sh looks for leaked secrets
log_min_messages = debug1
EOF

    log "starting PostgreSQL on socket $BASE/.s.PGSQL.$PORT (log $PG_LOG)"
    if ! as_pg "$BINDIR/pg_ctl" start -D "$PGDATA_DIR" -l "$PG_LOG" -w -t 60 >/dev/null; then
        tail -n 30 "$PG_LOG" >&2 || true
        die "PostgreSQL failed to start (see $PG_LOG)"
    fi
}

start_mock() {
    [ -f "$MOCK_PY" ] || die "mock API not found: $MOCK_PY"
    [ -f "$MOCKCTL_PY" ] || die "mock control script not found: $MOCKCTL_PY"
    command -v python3 >/dev/null 2>&1 || die "python3 not found"

    stop_mock
    if port_in_use "$MOCK_PORT"; then
        die "port $MOCK_PORT is already in use by another process; set CFIAM_MOCK_PORT"
    fi

    log "starting mock API on 127.0.0.1:$MOCK_PORT (log $MOCK_LOG)"
    PYTHONUNBUFFERED=1 nohup python3 "$MOCK_PY" --port "$MOCK_PORT" \
        </dev/null >"$MOCK_LOG" 2>&1 &
    echo $! >"$MOCK_PID"

    # mockctl.py finds the mock through CFIAM_MOCK_PORT. Its chatter goes to
    # stderr: `start` prints only the export lines on stdout.
    if ! CFIAM_MOCK_PORT="$MOCK_PORT" timeout 60 python3 "$MOCKCTL_PY" wait >&2; then
        tail -n 30 "$MOCK_LOG" >&2 || true
        die "mock API did not come up (see $MOCK_LOG)"
    fi
    mock_pid >/dev/null || { tail -n 30 "$MOCK_LOG" >&2 || true; die "mock API exited (see $MOCK_LOG)"; }
}

# The test egress proxy (sql/proxy.sql): started and stopped with the mock.
proxy_pid() {
    local pid
    [ -f "$PROXY_PID" ] || return 1
    pid="$(cat "$PROXY_PID" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'proxy\.py' || return 1
    printf '%s\n' "$pid"
}

stop_proxy() {
    local pid i
    if pid="$(proxy_pid)"; then
        log "stopping test proxy (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$PROXY_PID"
}

start_proxy() {
    [ -f "$PROXY_PY" ] || die "test proxy not found: $PROXY_PY"
    stop_proxy
    port_in_use "$PROXY_PORT" &&
        die "port $PROXY_PORT is already in use by another process; set CFIAM_PROXY_PORT"
    log "starting test proxy on 127.0.0.1:$PROXY_PORT (log $PROXY_LOG)"
    rm -f "$PROXY_LOG"
    nohup python3 "$PROXY_PY" serve --port "$PROXY_PORT" --log "$PROXY_LOG" \
        </dev/null >"$BASE/proxy.out" 2>&1 &
    echo $! >"$PROXY_PID"
    CFIAM_PROXY_PORT="$PROXY_PORT" timeout 30 python3 "$PROXY_PY" wait >&2 ||
        { cat "$BASE/proxy.out" >&2 || true; die "test proxy did not come up"; }
}

cmd_start() {
    # Fail on a missing mock or a taken mock port before starting anything.
    [ -f "$MOCK_PY" ] || die "mock API not found: $MOCK_PY"
    [ -f "$MOCKCTL_PY" ] || die "mock control script not found: $MOCKCTL_PY"
    stop_mock
    if port_in_use "$MOCK_PORT"; then
        die "port $MOCK_PORT is already in use by another process; set CFIAM_MOCK_PORT"
    fi
    start_pg
    start_mock
    start_proxy
    log "ready. To use this cluster:"
    print_env
}

cmd_stop() {
    # Each part is stopped even if the other is not running.
    stop_proxy
    stop_mock
    if [ -d "$BASE" ]; then stop_pg; else log "PostgreSQL not running"; fi
}

cmd_status() {
    local rc=0 pid
    if pg_running; then
        echo "postgresql: running (data $PGDATA_DIR, socket $BASE/.s.PGSQL.$PORT)"
    else
        echo "postgresql: not running"
        rc=1
    fi
    if pid="$(mock_pid)"; then
        echo "mock API:   running (pid $pid, http://127.0.0.1:$MOCK_PORT)"
    else
        echo "mock API:   not running"
        rc=1
    fi
    return "$rc"
}

case "${1:-}" in
    start) find_bindir; cmd_start ;;
    stop) find_bindir; cmd_stop ;;
    status) find_bindir; cmd_status ;;
    env) print_env ;;
    *)
        echo "usage: $0 {start|stop|status|env}" >&2
        exit 2
        ;;
esac
