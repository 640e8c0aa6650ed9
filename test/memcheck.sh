#!/usr/bin/env bash
# memcheck.sh - cfiam under valgrind memcheck, a memory-growth loop, and an
# AddressSanitizer build.
#
# Usage (as root or the cluster's user, from any directory):
#   bash test/memcheck.sh            (a) and (b)
#   bash test/memcheck.sh --valgrind-only | --rss-only
#   bash test/memcheck.sh --asan     (c) only
#
# (a) valgrind: builds and installs cfiam, starts the throwaway cluster and
#     the mock (test/pgcluster.sh), then restarts the postmaster under
#     `valgrind --tool=memcheck --trace-children=yes` (pg_ctl -p <wrapper>),
#     so every backend of the regression suite (`make installcheck`) runs
#     under memcheck. One log per process in $CFIAM_PGDATA/valgrind/.
#     Suppressions: test/valgrind.supp (PostgreSQL's own noise only). Errors
#     are counted in total and listed when a stack has a frame of cfiam.so,
#     libcurl or libcjson; any such error fails the script. Under valgrind
#     the suite's timing tests (timeout_ms, statement_timeout) may fail;
#     what counts here is the error count, and the pass/fail line is shown.
# (b) RSS loop: with the postmaster restarted normally, ONE psql session (one
#     backend) runs 1,000 queries cycling through: full scan, GET by id, a
#     join (parameterized nested loop), a fault every tenth query (an error
#     from the API), and an INSERT ... RETURNING + DELETE. VmRSS and RssAnon
#     of the backend (/proc/<pid>/status) and the sum of
#     pg_backend_memory_contexts are read after 100 and after 1,000 queries;
#     growth of RssAnon (malloc'd memory: libcurl, cJSON, what no memory
#     context holds; VmRSS also grows as shared memory is touched) or of the
#     contexts over $CFIAM_MAX_GROWTH_KB (default 1024) fails the script.
#     A group tree copied with malloc on every pushed join grew RssAnon
#     3,264 kB over 900 queries; fixed, 36 kB.
# (c) --asan: cfiam.so built with -fsanitize=address in a scratch copy of the
#     tree ($CFIAM_PGDATA/asan/build) and installed, the postmaster restarted
#     with gcc's libasan preloaded (detect_leaks=0: memory contexts look like
#     leaks; abort_on_error=1; one log per process in $CFIAM_PGDATA/asan/),
#     then `make installcheck`; any asan.* log fails the script. The normal
#     build is installed again at the end. PostgreSQL is not instrumented, so
#     ASan sees cfiam's stack and globals and malloc'd memory (libcurl, cJSON),
#     not overruns inside palloc'd chunks. Preloading libasan alone hangs
#     Debian's postgres before main(): libgpg-error's constructor calls
#     bindtextdomain(), whose first malloc() initialises ASan while glibc holds
#     the gettext lock, and ASan's init (dlerror -> dcgettext) takes that lock
#     again; the lock is left broken and the next bindtextdomain() waits
#     forever. A small preloaded shim initialises ASan before the real
#     bindtextdomain() runs.
#
# Environment: as test/lib.sh says (PG_CONFIG, PG_BINDIR, CFIAM_PGDATA and
# the ports), all optional; plus CFIAM_VALGRIND_TIMEOUT (seconds pg_ctl waits
# for the postmaster under valgrind, default 600).
set -euo pipefail

# shellcheck source=test/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DO_VALGRIND=1
DO_RSS=1
DO_ASAN=0
case "${1:-}" in
    --valgrind-only) DO_RSS=0 ;;
    --rss-only) DO_VALGRIND=0 ;;
    --asan) DO_VALGRIND=0; DO_RSS=0; DO_ASAN=1 ;;
    "") ;;
    *) echo "usage: $0 [--valgrind-only|--rss-only|--asan]" >&2; exit 2 ;;
esac

BASE="$CFIAM_PGDATA"
PGDATA_DIR="$BASE/data"
PG_LOG="$BASE/postgres.log"
VG_DIR="$BASE/valgrind"
ASAN_DIR="$BASE/asan"
MAX_GROWTH_KB="${CFIAM_MAX_GROWTH_KB:-1024}"

log() { printf 'memcheck: %s\n' "$*" >&2; }

FAIL=0
ASAN_INSTALLED=0
cleanup() {
    local rc=$?
    set +e
    cluster_stop
    # a postmaster under valgrind that pgcluster.sh could not stop in time
    if [ -f "$PGDATA_DIR/postmaster.pid" ]; then
        as_pg "$PG_BINDIR/pg_ctl" stop -D "$PGDATA_DIR" -m immediate -w -t 120 >/dev/null 2>&1
    fi
    # never leave the ASan build installed
    if [ "$ASAN_INSTALLED" -eq 1 ]; then
        make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
    fi
    exit "$rc"
}
trap cleanup EXIT

echo "== build and install (PG_CONFIG=$PG_CONFIG)"
build_install

echo "== start the throwaway cluster and the mock API"
cluster_start
python3 "$ROOT/test/mockctl.py" latency 0

restart_pg() {  # restart_pg [wrapper]
    as_pg "$PG_BINDIR/pg_ctl" stop -D "$PGDATA_DIR" -m fast -w -t 300 >/dev/null
    if [ -n "${1:-}" ]; then
        as_pg "$PG_BINDIR/pg_ctl" start -D "$PGDATA_DIR" -l "$PG_LOG" -p "$1" \
            -w -t "${CFIAM_VALGRIND_TIMEOUT:-600}" >/dev/null
    else
        as_pg "$PG_BINDIR/pg_ctl" start -D "$PGDATA_DIR" -l "$PG_LOG" -w -t 60 >/dev/null
    fi
}

# ----------------------------------------------------------------- (a) valgrind
if [ "$DO_VALGRIND" -eq 1 ]; then
    command -v valgrind >/dev/null || { log "valgrind not found"; exit 1; }
    rm -rf "$VG_DIR"
    mkdir -p "$VG_DIR"
    cp "$ROOT/test/valgrind.supp" "$VG_DIR/valgrind.supp"
    WRAPPER="$VG_DIR/postgres-under-valgrind"
    # No --error-exitcode: a backend exiting with a code other than 0 or 1 is
    # a crash to the postmaster, which would restart every session of the
    # suite. The per-process logs are the verdict instead.
    cat >"$WRAPPER" <<EOF
#!/bin/sh
exec valgrind --tool=memcheck --trace-children=yes --leak-check=no \\
    --num-callers=40 --error-limit=no --read-var-info=no \\
    --suppressions="$VG_DIR/valgrind.supp" --gen-suppressions=all \\
    --log-file="$VG_DIR/vg.%p.log" \\
    "$PG_BINDIR/postgres" -c autovacuum=off -c jit=off "\$@"
EOF
    chmod 0755 "$WRAPPER"
    if [ "$(id -u)" -eq 0 ]; then chown -R "$PG_OS_USER": "$VG_DIR"; fi

    echo "== restart the postmaster under valgrind ($VG_DIR)"
    restart_pg "$WRAPPER"

    echo "== make installcheck under valgrind (slow)"
    OUT="$VG_DIR/installcheck.out"
    set +e
    PGOPTIONS="-c statement_timeout=0" make installcheck PG_CONFIG="$PG_CONFIG" >"$OUT" 2>&1
    set -e
    passed="$(count_passed "$OUT")"
    failed="$(count_failed "$OUT")"
    echo "suite under valgrind: $passed passed, $failed failed (timing tests may fail under valgrind; diffs in regression.diffs)"

    echo "== stop the postmaster (valgrind writes its summaries at exit)"
    restart_pg   # stop, then start normally for part (b)

    python3 - "$VG_DIR" <<'PY' || FAIL=1
import glob, os, re, sys
vg_dir = sys.argv[1]
total = 0
ours = []
procs = 0
for path in sorted(glob.glob(os.path.join(vg_dir, "vg.*.log"))):
    text = open(path, encoding="utf-8", errors="replace").read()
    procs += 1
    m = re.findall(r"ERROR SUMMARY: (\d+) errors", text)
    if m:
        total += int(m[-1])
    # one error = a block of "==pid== " lines starting with a non-indented
    # message and ending at a blank "==pid== " line
    blocks = re.split(r"\n==\d+== \n", text)
    for b in blocks:
        if not re.search(r"==\d+== +(at|by) 0x", b):
            continue
        if re.search(r"ERROR SUMMARY|HEAP SUMMARY|LEAK SUMMARY", b):
            continue
        if re.search(r"cfiam\.so|libcurl|libcjson|\((src/)?(cfiam_fdw|catalog|option|pushdown|http|convert|modify)\.c:", b):
            ours.append((path, b.strip()))
print(f"valgrind: {procs} process logs, {total} errors in all (after test/valgrind.supp), "
      f"{len(ours)} with a cfiam.so / libcurl / libcjson frame")
for path, b in ours[:20]:
    print(f"--- {os.path.basename(path)}")
    print(b[:6000])
sys.exit(1 if ours else 0)
PY
fi

# ----------------------------------------------------------------- (b) RSS loop
if [ "$DO_RSS" -eq 1 ]; then
    echo "== 1,000 queries in one backend"
    python3 "$ROOT/test/mockctl.py" reset
    SQL="$BASE/memloop.sql"
    OUT="$BASE/memloop.out"
    {
        echo '\set ON_ERROR_STOP 0'
        echo '\set VERBOSITY terse'
        echo 'CREATE EXTENSION IF NOT EXISTS cfiam;'
        echo "\\i '$ROOT/test/fixture.sql'"
        echo "SET statement_timeout = '60s';"
        echo "SELECT pg_backend_pid() AS pid \\gset"
        echo '\setenv CFIAM_BACKEND_PID :pid'
        echo "SELECT id AS member_id FROM cf.account_members ORDER BY email LIMIT 1 \\gset"
        echo "SELECT id AS group_id FROM cf.user_groups ORDER BY name LIMIT 1 \\gset"
        echo '\o /dev/null'
        for i in $(seq 1 1000); do
            case $((i % 10)) in
                0)  # a failing query: the API answers 500 (the fault), then a bad body
                    if [ $((i % 20)) -eq 0 ]; then
                        echo "\\! python3 '$ROOT/test/mockctl.py' fault status --status 500"
                    else
                        echo "\\! python3 '$ROOT/test/mockctl.py' fault raw --status 200 --value '{\"success\":true,\"result\":[{\"id\":1}]}'"
                    fi
                    echo "SELECT * FROM cf.user_groups;" ;;
                1|5) echo "SELECT count(*) FROM cf.account_members;" ;;
                2|6) echo "SELECT * FROM cf.account_members WHERE id = :'member_id';" ;;
                3|7) echo "SELECT g.name, m.email FROM cf.user_groups g JOIN cf.user_group_members m ON m.user_group_id = g.id;" ;;
                4) echo "INSERT INTO cf.user_groups (name, policies) VALUES ('memloop $i', '[]') RETURNING id AS new_id \\gset"
                   echo "DELETE FROM cf.user_groups WHERE id = :'new_id';" ;;
                8) echo "SELECT r.name, p.name FROM cf.roles r, cf.permission_groups p, cf.resource_groups x WHERE x.name IS NOT NULL;" ;;
                9) echo "SELECT * FROM cf.user_group_members WHERE user_group_id = :'group_id' AND email LIKE '%example%';" ;;
            esac
            if [ "$i" -eq 100 ] || [ "$i" -eq 1000 ]; then
                echo '\o'
                echo "\\echo MARK $i"
                echo "\\! grep -E '^(Vm(RSS|HWM)|RssAnon)' /proc/\$CFIAM_BACKEND_PID/status"
                echo "SELECT 'CTX ' || sum(total_bytes) FROM pg_backend_memory_contexts \\g (tuples_only=on format=unaligned)"
                echo '\o /dev/null'
            fi
        done
        echo '\o'
        echo "SELECT 'ALIVE';"
    } >"$SQL"
    PG_ABS_SRCDIR="$ROOT" "$PSQL" -X -q -d postgres -f "$SQL" >"$OUT" 2>"$OUT.err" || true
    python3 - "$OUT" "$OUT.err" "$MAX_GROWTH_KB" <<'PY' || FAIL=1
import re, sys
out = open(sys.argv[1], encoding="utf-8", errors="replace").read()
err = open(sys.argv[2], encoding="utf-8", errors="replace").read()
limit = int(sys.argv[3])
marks = {}
for m in re.finditer(r"MARK (\d+)\n(.*?)CTX (\d+)", out, re.S):
    rss = re.search(r"VmRSS:\s+(\d+) kB", m.group(2))
    hwm = re.search(r"VmHWM:\s+(\d+) kB", m.group(2))
    anon = re.search(r"RssAnon:\s+(\d+) kB", m.group(2))
    marks[int(m.group(1))] = (int(rss.group(1)), int(hwm.group(1)), int(m.group(3)),
                              int(anon.group(1)))
errors = re.findall(r"ERROR:  (.*)", err)
ok = "ALIVE" in out and 100 in marks and 1000 in marks
print(f"errors seen in the loop: {len(errors)} (100 expected: one per fault)")
for e in sorted(set(errors))[:5]:
    print(f"   {e}")
if not ok:
    print("memory loop did not complete", out[-2000:], err[-2000:])
    sys.exit(1)
r1, h1, c1, a1 = marks[100]
r2, h2, c2, a2 = marks[1000]
print(f"backend VmRSS after 100 queries: {r1} kB, after 1000: {r2} kB (growth {r2 - r1} kB; "
      f"VmHWM {h1} -> {h2} kB)")
print(f"backend RssAnon after 100 queries: {a1} kB, after 1000: {a2} kB (growth {a2 - a1} kB)")
print(f"backend memory contexts after 100 queries: {c1} bytes, after 1000: {c2} bytes "
      f"(growth {c2 - c1} bytes)")
if a2 - a1 > limit or (c2 - c1) > limit * 1024:
    print(f"FAIL: growth over {limit} kB")
    sys.exit(1)
PY
fi

# ----------------------------------------------------------------- (c) ASan
if [ "$DO_ASAN" -eq 1 ]; then
    LIBASAN="$(gcc -print-file-name=libasan.so)"
    [ -e "$LIBASAN" ] || { log "gcc's libasan not found"; exit 1; }
    rm -rf "$ASAN_DIR"
    mkdir -p "$ASAN_DIR/build"
    cp -r "$ROOT/Makefile" "$ROOT/cfiam.control" "$ROOT"/cfiam--*.sql "$ROOT/src" "$ASAN_DIR/build/"
    echo "== build and install cfiam.so with -fsanitize=address"
    make -s -C "$ASAN_DIR/build" -j2 PG_CONFIG="$PG_CONFIG" \
        PG_CFLAGS="-fsanitize=address -fno-omit-frame-pointer" PG_LDFLAGS="-fsanitize=address" >/dev/null
    ASAN_INSTALLED=1
    make -s -C "$ASAN_DIR/build" install PG_CONFIG="$PG_CONFIG" >/dev/null
    # the shim: initialise ASan before glibc's bindtextdomain() takes its lock
    cat >"$ASAN_DIR/asan-early-init.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
extern void __asan_init(void);
char *bindtextdomain(const char *domain, const char *dir)
{
    static char *(*real) (const char *, const char *);

    __asan_init();
    if (!real)
        real = (char *(*) (const char *, const char *)) dlsym(RTLD_NEXT, "bindtextdomain");
    return real(domain, dir);
}
EOF
    gcc -shared -fPIC -O1 -o "$ASAN_DIR/asan-early-init.so" "$ASAN_DIR/asan-early-init.c" -ldl
    WRAPPER="$ASAN_DIR/postgres-under-asan"
    cat >"$WRAPPER" <<EOF
#!/bin/sh
LD_PRELOAD="$LIBASAN $ASAN_DIR/asan-early-init.so" \\
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:disable_coredump=1:log_path=$ASAN_DIR/asan \\
exec "$PG_BINDIR/postgres" -c autovacuum=off -c jit=off "\$@"
EOF
    chmod 0755 "$WRAPPER"
    if [ "$(id -u)" -eq 0 ]; then chown -R "$PG_OS_USER": "$ASAN_DIR"; fi

    echo "== restart the postmaster with libasan preloaded ($ASAN_DIR)"
    restart_pg "$WRAPPER"

    echo "== make installcheck with the ASan build"
    OUT="$ASAN_DIR/installcheck.out"
    set +e
    make installcheck PG_CONFIG="$PG_CONFIG" >"$OUT" 2>&1
    set -e
    passed="$(count_passed "$OUT")"
    failed="$(count_failed "$OUT")"
    echo "suite with ASan: $passed passed, $failed failed"
    as_pg "$PG_BINDIR/pg_ctl" stop -D "$PGDATA_DIR" -m fast -w -t 300 >/dev/null
    make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
    ASAN_INSTALLED=0

    reports=("$ASAN_DIR"/asan.*)
    if [ -e "${reports[0]}" ]; then
        echo "ASan: ${#reports[@]} report(s)"
        for r in "${reports[@]}"; do echo "--- $r"; head -60 "$r"; done
        FAIL=1
    else
        echo "ASan: 0 reports"
    fi
    [ "$failed" = 0 ] || FAIL=1
fi

if [ "$FAIL" -ne 0 ]; then
    echo "memcheck: FAILED"
    exit 1
fi
echo "memcheck: OK"
