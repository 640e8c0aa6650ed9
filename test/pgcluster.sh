#!/usr/bin/env bash
# pgcluster.sh - a throwaway PostgreSQL 15 cluster plus the mock Cloudflare API,
# for the regression tests (test/run-tests.sh) and the demo (test/demo.sh),
# and, for the TLS transports, a TLS front (nghttpx) before the mock.
#
# Usage:
#   test/pgcluster.sh start    fresh cluster (initdb) + mock API + the test
#                              egress proxy, all running; for a TLS transport
#                              also a fresh throwaway CA, a server
#                              certificate and the TLS front
#   test/pgcluster.sh stop     stop them all; tolerant of any not running
#   test/pgcluster.sh status   report the cluster, the mock and the front;
#                              exit 0 only if the cluster, the mock and (TLS
#                              transports) the front are up
#   test/pgcluster.sh env      print the export lines a client needs, e.g.
#                                eval "$(test/pgcluster.sh env)"
#   test/pgcluster.sh front-restart
#                              kill the TLS front hard (SIGKILL: connections
#                              and streams in flight die without a goodbye),
#                              start it again on the same port and wait until
#                              it accepts; for a regression suite in the middle
#                              of a scan: \! bash $PGCLUSTER front-restart
#   test/pgcluster.sh front-stop   stop the TLS front (SIGKILL as well)
#   test/pgcluster.sh front-start  start the TLS front (again), same port
#                              The front-* commands print nothing unless they
#                              fail, and do nothing over http1 (no front).
#
# Environment (all optional; the defaults are test/lib.sh's):
#   CFIAM_PGDATA     base dir (default /tmp/cfiam-pg): holds data/ (the
#                    cluster), the unix socket, postgres.log, mock.log,
#                    mock.pid, tls/ (CA and certificate), front.log, front.pid
#   CFIAM_PGPORT     PostgreSQL port (default 54329); only a unix socket is
#                    opened, the port just names it (.s.PGSQL.<port>)
#   CFIAM_MOCK_PORT  port of the mock API on 127.0.0.1 (default 18787)
#   CFIAM_PROXY_PORT port of the test egress proxy (test/proxy.py) on
#                    127.0.0.1 (default 18790); logs to proxy.log
#   CFIAM_FRONT_PORT port of the TLS front on 127.0.0.1 (default 18788)
#   CFIAM_PRELOAD    1: shared_preload_libraries = 'cfiam' (the result cache
#                    and statistics in shared memory; cfiam must be installed
#                    before `start`); default 0, cfiam loaded on first use
#   CFIAM_TRANSPORT  how cfiam reaches the mock (default http1):
#                      http1      plain HTTP/1.1 to the mock itself; no front
#                      h2         TLS to the front, which offers h2 and
#                                 http/1.1 by ALPN (libcurl picks h2)
#                      tls-http1  TLS to the front, which offers http/1.1 only
#                    The front speaks HTTP/1.1 to the mock either way. `env`
#                    prints the matching CFIAM_API_URL and CFIAM_CA_FILE.
#                    For a TLS transport the mock gets a --drop-hook that
#                    resets the front's client connections (ss -K, iproute2),
#                    so that a connection the mock drops on a fault reaches
#                    cfiam as a dropped connection, not as the front's 502.
#   PG_BINDIR        PostgreSQL server binaries (default: `$PG_CONFIG
#                    --bindir` when PG_CONFIG is given, else Debian's
#                    /usr/lib/postgresql/15/bin, else `pg_config --bindir`)
#
# It is run as root (developers' machines and CI), but PostgreSQL refuses to
# run as root, so initdb/pg_ctl run as the `postgres` OS user; run by any
# other user, they simply run as that user. The mock and the front run as the
# caller; the CA file is world-readable, since the backend reads it.
set -euo pipefail

# ROOT, PG_BINDIR, the base dir, the ports and as_pg (run as the cluster's OS
# user): from this script's own path, so any cwd works.
# shellcheck source=test/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BASE="$CFIAM_PGDATA"
PGDATA_DIR="$BASE/data"
PORT="$CFIAM_PGPORT"
MOCK_PORT="$CFIAM_MOCK_PORT"
PG_LOG="$BASE/postgres.log"
MOCK_LOG="$BASE/mock.log"
MOCK_PID="$BASE/mock.pid"
MOCK_PY="$ROOT/test/mock_cloudflare.py"
MOCKCTL_PY="$ROOT/test/mockctl.py"
PROXY_PORT="$CFIAM_PROXY_PORT"
PROXY_PY="$ROOT/test/proxy.py"
PROXY_LOG="$BASE/proxy.log"
PROXY_PID="$BASE/proxy.pid"
FRONT_PORT="$CFIAM_FRONT_PORT"
TRANSPORT="${CFIAM_TRANSPORT:-http1}"
PRELOAD="${CFIAM_PRELOAD:-0}"
TLS_DIR="$BASE/tls"
FRONT_LOG="$BASE/front.log"
FRONT_PID="$BASE/front.pid"
# Nothing but errors from log() when set (the front-* commands, which run
# inside regression suites, where any output would be part of the result).
QUIET=0

log() { [ "$QUIET" -eq 1 ] || printf 'pgcluster: %s\n' "$*" >&2; }
die() { printf 'pgcluster: error: %s\n' "$*" >&2; exit 1; }

case "$TRANSPORT" in
    http1 | h2 | tls-http1) ;;
    *) die "CFIAM_TRANSPORT must be http1, h2 or tls-http1, not '$TRANSPORT'" ;;
esac
for p in "$MOCK_PORT" "$FRONT_PORT"; do
    [[ "$p" =~ ^[0-9]+$ ]] && [ "$p" -ge 1 ] && [ "$p" -le 65535 ] ||
        die "not a port number: '$p' (CFIAM_MOCK_PORT, CFIAM_FRONT_PORT)"
done
[ "$MOCK_PORT" != "$FRONT_PORT" ] ||
    die "CFIAM_MOCK_PORT and CFIAM_FRONT_PORT are both $MOCK_PORT"

# True for the transports that go through the TLS front.
uses_front() { [ "$TRANSPORT" != http1 ]; }

# Behind the front, a connection the mock drops (faults "reset",
# "reset_after") would reach the client as the front's 502 Bad Gateway. So
# the mock runs this first: it resets the front's connections to its clients
# (the kernel's sock_destroy, as root), and the client sees its connection
# die with no answer, as it does talking to the mock directly. The front
# itself keeps listening.
DROP_HOOK="ss -K -t state established '( sport = :$FRONT_PORT )'"

# The server binaries test/lib.sh found (PG_BINDIR) must be there.
need_bindir() {
    [ -n "$PG_BINDIR" ] && [ -x "$PG_BINDIR/pg_ctl" ] && [ -x "$PG_BINDIR/initdb" ] ||
        die "PostgreSQL 15 server binaries not found (apt-get install postgresql-15, or set PG_BINDIR)"
}

# The export lines clients need (psql, pg_regress, test/mockctl.py, and
# test/fixture.sql, which takes the API URL and the CA file from them; a
# front-* command run from a suite finds the front through them).
print_env() {
    local url ca
    if uses_front; then
        url="https://127.0.0.1:$FRONT_PORT/client/v4"
        ca="$TLS_DIR/ca.pem"
    else
        url="http://127.0.0.1:$MOCK_PORT/client/v4"
        ca=""
    fi
    printf 'export PGHOST=%q PGPORT=%q PGUSER=postgres CFIAM_MOCK_PORT=%q\n' \
        "$BASE" "$PORT" "$MOCK_PORT"
    printf 'export CFIAM_PROXY_PORT=%q\n' "$PROXY_PORT"
    printf 'export CFIAM_PGDATA=%q CFIAM_TRANSPORT=%q CFIAM_FRONT_PORT=%q\n' \
        "$BASE" "$TRANSPORT" "$FRONT_PORT"
    printf 'export CFIAM_API_URL=%q CFIAM_CA_FILE=%q\n' "$url" "$ca"
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
        as_pg "$PG_BINDIR/pg_ctl" status -D "$PGDATA_DIR" >/dev/null 2>&1
}

stop_pg() {
    if pg_running; then
        log "stopping PostgreSQL ($PGDATA_DIR)"
        if ! as_pg "$PG_BINDIR/pg_ctl" stop -D "$PGDATA_DIR" -m fast -w -t 30 >/dev/null; then
            log "fast shutdown failed; trying immediate"
            as_pg "$PG_BINDIR/pg_ctl" stop -D "$PGDATA_DIR" -m immediate -w -t 30 >/dev/null || true
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
    as_pg "$PG_BINDIR/initdb" -D "$PGDATA_DIR" --no-locale -E UTF8 -A trust -U postgres \
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
# a small result cache, so that sql/cache.sql can fill it
cfiam.cache_size = '1MB'
EOF
    if [ "$PRELOAD" = 1 ]; then
        echo "shared_preload_libraries = 'cfiam'" >>"$PGDATA_DIR/postgresql.conf"
    fi

    log "starting PostgreSQL on socket $BASE/.s.PGSQL.$PORT (log $PG_LOG)"
    if ! as_pg "$PG_BINDIR/pg_ctl" start -D "$PGDATA_DIR" -l "$PG_LOG" -w -t 60 >/dev/null; then
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

    local hook=()
    if uses_front; then hook=(--drop-hook "$DROP_HOOK"); fi
    log "starting mock API on 127.0.0.1:$MOCK_PORT (log $MOCK_LOG)"
    PYTHONUNBUFFERED=1 nohup python3 "$MOCK_PY" --port "$MOCK_PORT" "${hook[@]}" \
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

# True if process $1 exists and is not a zombie (a process killed after its
# starter exited is reaped by init, which may take a moment).
alive() {
    local state
    kill -0 "$1" 2>/dev/null || return 1
    state="$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null || true)"
    [ "$state" != Z ]
}

# The pid in the front's pid file, if that process is alive and really is
# our nghttpx (the pid file may be stale, its pid reused).
front_pid() {
    local pid
    [ -f "$FRONT_PID" ] || return 1
    pid="$(cat "$FRONT_PID" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    alive "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'nghttpx' || return 1
    printf '%s\n' "$pid"
}

# A throwaway CA and a certificate it signed for 127.0.0.1 and localhost, in
# $TLS_DIR: ca.pem (world-readable: the backend, user postgres, reads it
# through the server option ca_file), cert.pem and key.pem (the caller's
# only). The CA's key is deleted once it has signed. Made anew by `start`.
make_tls() {
    command -v openssl >/dev/null 2>&1 ||
        die "openssl not found (apt-get install openssl)"
    rm -rf "$TLS_DIR"
    mkdir -p "$TLS_DIR"
    chmod 0755 "$TLS_DIR"
    if ! (
        set -e
        umask 077
        cd "$TLS_DIR"
        printf '%s\n' \
            'subjectAltName = IP:127.0.0.1, DNS:localhost' \
            'basicConstraints = critical, CA:FALSE' \
            'keyUsage = critical, digitalSignature' \
            'extendedKeyUsage = serverAuth' \
            'subjectKeyIdentifier = hash' \
            'authorityKeyIdentifier = keyid' >server.ext
        openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
            -nodes -keyout ca.key -out ca.pem -days 7 \
            -subj '/CN=cfiam throwaway test CA' \
            -addext 'basicConstraints = critical, CA:TRUE' \
            -addext 'keyUsage = critical, keyCertSign, cRLSign'
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
            -nodes -keyout key.pem -out server.csr -subj '/CN=127.0.0.1'
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key \
            -CAcreateserial -CAserial ca.srl -days 7 -extfile server.ext \
            -out cert.pem
        openssl verify -CAfile ca.pem cert.pem
        rm -f ca.key ca.srl server.csr server.ext
        chmod 0644 ca.pem
    ) >"$BASE/tls.log" 2>&1; then
        cat "$BASE/tls.log" >&2 || true
        die "could not make the test CA and server certificate in $TLS_DIR"
    fi
}

# Stop the front with signal $1 (TERM for `stop`, KILL for front-stop and
# front-restart: its connections die at once, streams in flight with them).
stop_front() {
    local sig="$1" pid i
    if pid="$(front_pid)"; then
        log "stopping TLS front (pid $pid, SIG$sig)"
        kill -"$sig" "$pid" 2>/dev/null || true
        for i in $(seq 1 100); do
            alive "$pid" || break
            sleep 0.05
        done
        if alive "$pid"; then
            log "front did not exit on $sig; killing"
            kill -KILL "$pid" 2>/dev/null || true
            for i in $(seq 1 100); do
                alive "$pid" || break
                sleep 0.05
            done
            alive "$pid" && die "TLS front (pid $pid) does not exit"
        fi
    else
        log "TLS front not running"
    fi
    rm -f "$FRONT_PID"
}

# Start the front for $TRANSPORT (nothing for http1) and wait until it
# accepts connections. TLS to the client, HTTP/1.1 to the mock; ALPN offers
# h2 and http/1.1 (h2) or http/1.1 alone (tls-http1). nghttp2 1.52 calls the
# ALPN list --npn-list. Idle client connections are kept for 5 minutes, as
# long as the mock keeps its own, so connection counts compare.
start_front() {
    local alpn i pid
    uses_front || return 0
    command -v nghttpx >/dev/null 2>&1 ||
        die "nghttpx not found (apt-get install nghttp2-proxy)"
    stop_front KILL
    if port_in_use "$FRONT_PORT"; then
        die "port $FRONT_PORT is already in use by another process; set CFIAM_FRONT_PORT"
    fi
    if [ ! -s "$TLS_DIR/ca.pem" ] || [ ! -s "$TLS_DIR/cert.pem" ] || [ ! -s "$TLS_DIR/key.pem" ]; then
        make_tls
    fi
    if [ "$TRANSPORT" = tls-http1 ]; then alpn=http/1.1; else alpn=h2,http/1.1; fi

    log "starting TLS front ($TRANSPORT) on 127.0.0.1:$FRONT_PORT before the mock (log $FRONT_LOG)"
    # --single-process: one pid to kill, no worker left behind. Only
    # warnings and errors are logged (no access log: nothing of a request,
    # credentials included, is written).
    # Started from a suite (front-restart), it would inherit whatever the
    # suite's psql has open: only stdin, stdout and stderr go along, lest it
    # hold a pipe open that its reader waits on.
    (
        for fd in /proc/"$BASHPID"/fd/*; do
            fd="${fd##*/}"
            if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
        done
        exec nohup nghttpx --conf=/dev/null \
            --frontend="127.0.0.1,$FRONT_PORT" --backend="127.0.0.1,$MOCK_PORT" \
            --workers=1 --single-process --no-ocsp --npn-list="$alpn" \
            --errorlog-file="$FRONT_LOG" --log-level=WARN \
            --no-via --no-server-rewrite --no-location-rewrite \
            --no-add-x-forwarded-proto \
            --frontend-keep-alive-timeout=5m --frontend-http2-read-timeout=5m \
            "$TLS_DIR/key.pem" "$TLS_DIR/cert.pem"
    ) </dev/null >>"$FRONT_LOG" 2>&1 &
    pid=$!
    echo "$pid" >"$FRONT_PID"
    for i in $(seq 1 200); do
        alive "$pid" || break
        port_in_use "$FRONT_PORT" && return 0
        sleep 0.05
    done
    tail -n 20 "$FRONT_LOG" >&2 || true
    if alive "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
        die "TLS front does not accept connections on 127.0.0.1:$FRONT_PORT (see $FRONT_LOG)"
    fi
    rm -f "$FRONT_PID"
    die "TLS front exited (see $FRONT_LOG)"
}

# One request through the front with the test CA: proves the certificate,
# the ALPN and the path to the mock before any suite relies on them; and
# that the mock's drop hook does reset a client's connection.
check_front() {
    uses_front || return 0
    if ! python3 - "$FRONT_PORT" "$TLS_DIR/ca.pem" "$TRANSPORT" "$DROP_HOOK" <<'PY' >&2; then
import http.client, json, socket, ssl, subprocess, sys
port, ca, transport, hook = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
ctx.set_alpn_protocols(["h2", "http/1.1"])
with ctx.wrap_socket(__import__("socket").create_connection(("127.0.0.1", port), 10),
                     server_hostname="127.0.0.1") as s:
    got = s.selected_alpn_protocol()
want = "http/1.1" if transport == "tls-http1" else "h2"
if got != want:
    sys.exit(f"the front negotiated ALPN {got!r}, not {want!r}")
ctx.set_alpn_protocols(["http/1.1"])
conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=ctx)
conn.request("GET", "/__mock/health")
answer = conn.getresponse()
if answer.status != 200 or json.loads(answer.read()).get("ok") is not True:
    sys.exit(f"the mock's health check through the front answered HTTP {answer.status}")
conn.close()
with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), 10),
                     server_hostname="127.0.0.1") as s:
    r = subprocess.run(hook, shell=True, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"the drop hook ({hook}) failed: {r.stderr.strip()}")
    s.settimeout(5)
    try:
        dropped = s.recv(1) == b""
    except (ConnectionError, ssl.SSLError):
        dropped = True
    except socket.timeout:
        dropped = False
if not dropped:
    sys.exit(f"the drop hook ({hook}) did not reset a connection to the front: "
             "ss -K needs root and a kernel with CONFIG_INET_DIAG_DESTROY")
PY
        tail -n 20 "$FRONT_LOG" >&2 || true
        die "the TLS front on 127.0.0.1:$FRONT_PORT does not work (see $FRONT_LOG)"
    fi
}

cmd_start() {
    # Fail on a missing mock or tool, or a taken port, before starting
    # anything.
    [ -f "$MOCK_PY" ] || die "mock API not found: $MOCK_PY"
    [ -f "$MOCKCTL_PY" ] || die "mock control script not found: $MOCKCTL_PY"
    stop_front TERM
    stop_mock
    if port_in_use "$MOCK_PORT"; then
        die "port $MOCK_PORT is already in use by another process; set CFIAM_MOCK_PORT"
    fi
    if uses_front; then
        command -v nghttpx >/dev/null 2>&1 ||
            die "nghttpx not found (apt-get install nghttp2-proxy), needed for CFIAM_TRANSPORT=$TRANSPORT"
        command -v openssl >/dev/null 2>&1 ||
            die "openssl not found (apt-get install openssl), needed for CFIAM_TRANSPORT=$TRANSPORT"
        command -v ss >/dev/null 2>&1 ||
            die "ss not found (apt-get install iproute2), needed for CFIAM_TRANSPORT=$TRANSPORT"
        if port_in_use "$FRONT_PORT"; then
            die "port $FRONT_PORT is already in use by another process; set CFIAM_FRONT_PORT"
        fi
    fi
    rm -f "$FRONT_LOG" "$BASE/tls.log"
    start_pg
    start_mock
    start_proxy
    if uses_front; then
        make_tls
        start_front
        check_front
    fi
    log "ready ($TRANSPORT). To use this cluster:"
    print_env
}

cmd_stop() {
    # Each part is stopped even if another is not running.
    stop_proxy
    stop_front TERM
    stop_mock
    if [ -d "$BASE" ]; then stop_pg; else log "PostgreSQL not running"; fi
}

# front-restart, front-stop, front-start: quiet unless they fail. The
# restart is hard on purpose: SIGKILL, so the client sees its connections
# die in the middle of whatever they carry.
cmd_front_restart() {
    QUIET=1
    uses_front || return 0
    stop_front KILL
    start_front
}

cmd_front_stop() {
    QUIET=1
    stop_front KILL
}

cmd_front_start() {
    QUIET=1
    uses_front || return 0
    mock_pid >/dev/null || die "the mock API is not running (test/pgcluster.sh start)"
    start_front
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
    if pid="$(front_pid)"; then
        echo "TLS front:  running (pid $pid, https://127.0.0.1:$FRONT_PORT; transport $TRANSPORT)"
    elif uses_front; then
        echo "TLS front:  not running (transport $TRANSPORT needs it)"
        rc=1
    else
        echo "TLS front:  not running (transport http1 does without)"
    fi
    return "$rc"
}

case "${1:-}" in
    start) need_bindir; cmd_start ;;
    stop) need_bindir; cmd_stop ;;
    status) need_bindir; cmd_status ;;
    env) print_env ;;
    front-restart) cmd_front_restart ;;
    front-stop) cmd_front_stop ;;
    front-start) cmd_front_start ;;
    *)
        echo "usage: $0 {start|stop|status|env|front-restart|front-stop|front-start}" >&2
        exit 2
        ;;
esac
