#!/usr/bin/env python3
"""backends.py - the measuring half of test/bench/backends.sh (backends.sh builds, installs and
starts a cluster, the mock API and the transport, then calls this). It can be run by hand with
the environment backends.sh sets: PGHOST, PGPORT, CFIAM_MOCK_PORT, CFIAM_PGDATA, CFIAM_API_URL,
CFIAM_CA_FILE, CFIAM_EXPECT_PROTOCOL, BACKENDS_BINDIR.

What it measures, against the mock Cloudflare API (test/mock_cloudflare.py): --backends
dashboard backends (default 8) of one role, one user mapping, each running the same full scan

    SELECT count(email) FROM cf.account_members

at the same moment, over an account of --members account members (default 10,000: 200 pages
of 50), every answer --latency ms late (default 50), with cache_ttl 0 (every page is a request
to the API) and cfiam.max_requests 0 (no limit per statement). count(email), not count(*), and
the server option count_pushdown 'false' as well: every page is read. Two configurations, each
run after a restart of the cluster:

  - not preloaded: shared_preload_libraries = '' (each backend loads cfiam itself; ALTER
    SYSTEM RESET, the cluster's own postgresql.conf has no such line);
  - preloaded: shared_preload_libraries = 'cfiam' (ALTER SYSTEM SET).

Per run and configuration: the wall time until every backend has its answer, from the first
request the mock received (the mock's log, "t": monotonic seconds, the clock this process
reads too) and from the moment the backends were released; the requests the mock received;
the most of them that arrived within any one second (a sliding window over the log's "t", as
`mockctl starts` computes it, which is run too and must agree); and the requests of each whole
second after the first. Median over --reps runs (default 3); the configurations alternate,
run by run.

Warm-up: each backend connects, loads cfiam and opens its connection to the API (one GET by
id) before the measured scan, then all sit idle for --settle seconds (default 2) so that no
request of the warm-up counts against the pace; the mock's log is cleared, and the backends are
released together (a barrier of threads, one per psql session). The first request of each
backend (page 1) is in the log, and the report says how far apart they arrived.

Progress goes to stderr, the markdown report to stdout.
"""

import argparse
import os
import re
import sys
import threading
import time

from benchlib import (ACCOUNT, BASE_URL as API_URL, CA_FILE, EXPECT_PROTOCOL, TOKEN, BenchError,
                      Session, git_rev, lib_digest, loadavg, logger, median, mockctl, pg_restart,
                      print_end, run_main, source_defaults, sql_literal, take_log)

SCAN = "SELECT count(email) FROM cf.account_members"
CLOUDFLARE_LIMIT = 200          # requests per second per client IP (Cloudflare's documentation)
WINDOW_S = 1.0                  # the sliding window of "most in any second"

BINDIR = os.environ.get("BACKENDS_BINDIR") or ""
PSQL = os.path.join(BINDIR, "psql") if BINDIR else "psql"
PG_CTL = os.path.join(BINDIR, "pg_ctl") if BINDIR else "pg_ctl"
BASE = os.environ.get("CFIAM_PGDATA") or "/tmp/cfiam-pg"
# The installed library (backends.sh: `pg_config --pkglibdir`/cfiam.so). Another `make install`
# during the run would change what the restarted cluster loads: its digest is checked after
# every run.
LIBFILE = os.environ.get("BACKENDS_LIBFILE") or ""

CONFIGS = [
    # (name, shared_preload_libraries)
    ("not preloaded", ""),
    ("preloaded", "cfiam"),
]


log = logger("backends")


def fmt(n):
    return f"{n:,}"


def most_in_window(times, window_s):
    """The most requests that arrived within any window_s seconds, first and last included
    (mockctl starts' definition)."""
    most = 0
    first = 0
    for last, t in enumerate(times):
        while t - times[first] > window_s:
            first += 1
        most = max(most, last - first + 1)
    return most


# --------------------------------------------------------------------------- sessions

def session(name="admin", options=""):
    """A backend of its own, PGOPTIONS `options` (none by default)."""
    return Session(PSQL, name, options)


def setup(admin, pace):
    ca = f", ca_file {sql_literal(CA_FILE)}" if CA_FILE else ""
    rps = f", max_requests_per_second '{pace}'" if pace is not None else ""
    for stmt in [
        "SET client_min_messages = warning",
        "CREATE EXTENSION IF NOT EXISTS cfiam",
        "DROP SCHEMA IF EXISTS cf CASCADE",
        "DROP SERVER IF EXISTS cloudflare CASCADE",
        f"CREATE SERVER cloudflare FOREIGN DATA WRAPPER cfiam OPTIONS (account_id "
        f"{sql_literal(ACCOUNT)}, api_url {sql_literal(API_URL)}{ca}, cache_ttl '0', "
        f"count_pushdown 'false'{rps})",
        f"CREATE USER MAPPING FOR CURRENT_USER SERVER cloudflare OPTIONS (api_token "
        f"{sql_literal(TOKEN)})",
        "CREATE SCHEMA cf",
        "IMPORT FOREIGN SCHEMA cfiam FROM SERVER cloudflare INTO cf",
        "RESET client_min_messages",
    ]:
        admin.run(stmt)


def server_options(admin):
    rows, _ = admin.run("SELECT option_name, option_value FROM pg_options_to_table("
                        "(SELECT srvoptions FROM pg_foreign_server WHERE srvname = 'cloudflare'))")
    return dict(r.split("|", 1) for r in rows)


def restart_cluster(preload):
    """shared_preload_libraries is read at server start: ALTER SYSTEM, then a restart."""
    s = session()
    # backends.sh starts the cluster without the setting (CFIAM_PRELOAD=0): RESET is ''.
    # (SET ... = '' would be a list of one empty name, which the server fails to load.)
    if preload:
        s.run(f"ALTER SYSTEM SET shared_preload_libraries = {sql_literal(preload)}")
    else:
        s.run("ALTER SYSTEM RESET shared_preload_libraries")
    s.close()
    pg_restart(PG_CTL, BASE)
    s = session()
    got = s.one("SHOW shared_preload_libraries")
    s.close()
    if got != preload:
        raise BenchError(f"shared_preload_libraries is '{got}' after the restart, not "
                         f"'{preload}'")


# --------------------------------------------------------------------------- one run

def one_run(config, preload, n_backends, member_id, settle, expect_rows):
    """Restart with shared_preload_libraries = preload, open and warm n_backends sessions,
    release the full scan in all of them at once. Returns what was measured."""
    restart_cluster(preload)
    sessions = [session(f"backend{k + 1}", "-c cfiam.max_requests=0")
                for k in range(n_backends)]
    problems = []
    try:
        if len({s.pid for s in sessions}) != n_backends:
            raise BenchError("the sessions do not have distinct backends")
        # Warm-up: cfiam loaded (not preloaded: this loads it), the connection to the API
        # open (TLS, HTTP/2), before the measured scan.
        for s in sessions:
            s.run(f"SELECT count(*) FROM cf.account_members WHERE id = {sql_literal(member_id)}")
            got = s.one("SHOW cfiam.max_requests")
            if got != "0":
                raise BenchError(f"{s.name}: cfiam.max_requests is {got}, not 0")
        time.sleep(settle)
        mockctl("clear-log")

        barrier = threading.Barrier(n_backends)
        results = [None] * n_backends

        def worker(k):
            s = sessions[k]
            try:
                barrier.wait(timeout=60)
                sent = time.monotonic()
                with s.lock:
                    rows, ms = s.collect(s.send(SCAN), SCAN)
                done = time.monotonic()
                results[k] = {"sent": sent, "done": done, "rows": rows, "ms": ms}
            except Exception as e:      # reported below
                results[k] = {"error": str(e)}

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(n_backends)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for k, r in enumerate(results):
            if "error" in r:
                raise BenchError(f"backend {k + 1}: {r['error']}")
            if r["rows"] != [str(expect_rows)]:
                problems.append(f"{config}: backend {k + 1} counted {r['rows']}, not "
                                f"{expect_rows}")

        entries = take_log(True)
        starts = mockctl("starts", "--window-ms", int(WINDOW_S * 1000)).split()
    finally:
        for s in sessions:
            s.close()

    times = sorted(e["t"] for e in entries)
    if not times:
        raise BenchError(f"{config}: the mock logged no request")
    n = len(times)
    most = most_in_window(times, WINDOW_S)
    span_ms = (times[-1] - times[0]) * 1000
    if [int(x) for x in starts[:2]] != [n, most]:
        problems.append(f"{config}: mockctl starts said {' '.join(starts)}, the log "
                        f"{n} {most} {span_ms:.0f}")
    bad = [e for e in entries if not e["path"].endswith("/members")]
    if bad:
        problems.append(f"{config}: {len(bad)} requests other than the listing, e.g. "
                        f"{bad[0]['method']} {bad[0]['path']}")
    page1 = sorted(e["t"] for e in entries if re.search(r"(^|&)page=1(&|$)", e["query"] or ""))
    if len(page1) != n_backends:
        problems.append(f"{config}: {len(page1)} requests of page 1, not {n_backends}")
    t0 = times[0]
    released = min(r["sent"] for r in results)
    end = max(r["done"] for r in results)
    per_second = [0] * (int((times[-1] - t0) / WINDOW_S) + 1)
    for t in times:
        per_second[int((t - t0) / WINDOW_S)] += 1
    return {
        "config": config, "preload": preload, "requests": n, "most": most, "span_ms": span_ms,
        "wall_ms": (end - t0) * 1000, "released_ms": (end - released) * 1000,
        "first_after_release_ms": (t0 - released) * 1000,
        "release_spread_ms": (max(r["sent"] for r in results) - released) * 1000,
        "page1_spread_ms": (page1[-1] - page1[0]) * 1000 if page1 else float("nan"),
        "backend_ms": sorted((r["done"] - t0) * 1000 for r in results),
        "psql_ms": [r["ms"] for r in results], "per_second": per_second,
        "starts": " ".join(starts), "problems": problems, "load": loadavg(),
    }


# --------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(prog="backends.sh")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke test: 2,000 members (40 pages per backend), 1 run each")
    ap.add_argument("--backends", type=int, default=8,
                    help="backends scanning at once (default 8)")
    ap.add_argument("--members", type=int, help="account members (default 10000)")
    ap.add_argument("--latency", type=int, default=50, metavar="MS",
                    help="ms per answer (default 50)")
    ap.add_argument("--reps", type=int, help="runs of each configuration (default 3)")
    ap.add_argument("--max-requests-per-second", type=int, dest="pace", metavar="N",
                    help="the server option max_requests_per_second (default: left unset, "
                         "cfiam's default)")
    ap.add_argument("--settle", type=float, default=2.0, metavar="SECONDS",
                    help="idle time between the warm-up and the release (default 2)")
    ap.add_argument("--transport", choices=("h2", "http1", "tls-http1"), default="h2",
                    help="how cfiam reaches the mock (backends.sh starts it): h2, TLS + HTTP/2 "
                         "through a TLS front, as api.cloudflare.com (default); http1; tls-http1")
    a = ap.parse_args()
    members = a.members if a.members is not None else (2000 if a.quick else 10000)
    reps = a.reps if a.reps is not None else (1 if a.quick else 3)
    if reps < 1 or a.backends < 1 or members < 1 or a.latency < 0 or a.settle < 0:
        ap.error("--reps, --backends and --members must be >= 1, --latency and --settle >= 0")
    if a.pace is not None and a.pace < 0:
        ap.error("--max-requests-per-second must be >= 0 (0: not paced)")
    if os.environ.get("BENCH_CHECK_ARGS"):
        return 0            # backends.sh checks the arguments before it builds anything

    started = time.monotonic()
    load_at_start = loadavg()
    digest = lib_digest(LIBFILE)
    print("# cfiam: dashboard backends scanning at once")
    print()
    cmd = os.environ.get("BENCH_CMDLINE") or ("python3 test/bench/backends.py "
                                               + " ".join(sys.argv[1:]))
    print(f"- command: `{cmd}`")
    print(f"- machine: {os.cpu_count()} CPUs; load average (1/5/15 min) at the start: "
          f"{load_at_start}")

    log(f"mock: {members} account members, latency {a.latency} ms")
    mockctl("reset", "--account-members", members)
    admin = session()
    setup(admin, a.pace)
    member_id = admin.one("SELECT id FROM cf.account_members ORDER BY email LIMIT 1")
    opts = server_options(admin)
    pg_version = admin.one("SHOW server_version")
    admin.close()
    mockctl("latency", a.latency)

    # Which protocol the transport negotiated, from a fresh session's first request.
    probe = session()
    plan, _ = probe.run("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "
                        f"SELECT email FROM cf.account_members WHERE id = {sql_literal(member_id)}")
    probe.close()
    conn_line = next((l.strip() for l in plan if "API Connections" in l), "?")
    problems = []
    if EXPECT_PROTOCOL and EXPECT_PROTOCOL not in conn_line:
        problems.append(f"the transport is not {EXPECT_PROTOCOL}: {conn_line}")

    dflt = source_defaults()[1]
    if "max_requests_per_second" in opts:
        pace_text = f"{opts['max_requests_per_second']} (server option)"
        pace_value = int(opts["max_requests_per_second"])
    else:
        pace_text = f"{dflt if dflt is not None else '?'} (the default: server option unset)"
        pace_value = dflt
    pages = -(-members // 50)
    lib = f" (`{LIBFILE}` sha256 {digest}...)" if digest else ""
    print(f"- software: PostgreSQL {pg_version}, cfiam {git_rev()}{lib}, cfiam's server `api_url` "
          f"{API_URL} ({'TLS, ' + conn_line if API_URL.startswith('https') else conn_line})")
    print(f"- account (the mock): {fmt(members)} account members, {fmt(pages)} pages of 50; "
          f"every answer {a.latency} ms late")
    shown = [f"{k} {v!r}" for k, v in sorted(opts.items())
             if k not in ("account_id", "api_url", "ca_file")]
    print(f"- server options: {', '.join(shown)}; every session `cfiam.max_requests = 0` "
          f"(PGOPTIONS)")
    print(f"- max_requests_per_second in force: {pace_text}; Cloudflare's documented limit: "
          f"{CLOUDFLARE_LIMIT} requests per second per client IP")
    print(f"- the scan: `{SCAN}` in {a.backends} backends at once (one role, one user "
          f"mapping), released together after a warm-up (cfiam loaded, one GET by id: the "
          f"connection to the API open) and {a.settle:g} s idle; {reps} run(s) of each "
          f"configuration, alternating, the cluster restarted before each run")
    print()

    runs = {name: [] for name, _ in CONFIGS}
    order = list(CONFIGS)
    for rep in range(reps):
        for name, preload in order:
            log(f"run {rep + 1}/{reps}, {name}: restart, {a.backends} backends")
            r = one_run(name, preload, a.backends, member_id, a.settle, members)
            if lib_digest(LIBFILE) != digest:
                r["problems"].append(f"{name}, run {rep + 1}: {LIBFILE} changed during the "
                                     f"run (sha256 {digest or '?'} at the start, "
                                     f"{lib_digest(LIBFILE) or '?'} now): another install")
            runs[name].append(r)
            log(f"  {r['requests']} requests, {r['wall_ms']:,.0f} ms from the first request, "
                f"most in 1 s {r['most']}, per second {r['per_second']}")
        order.reverse()

    # ---- report
    expected = a.backends * pages
    print(f"## {a.backends} backends, each a full scan of {fmt(members)} members "
          f"({fmt(pages)} requests each, {fmt(expected)} in all)")
    print()
    print("| configuration | shared_preload_libraries | wall ms, median (from the first "
          "request) | every run, ms | from the release, median ms | requests (mock log) | "
          "most in any 1 s (every run) | mean rate, req/s | max_requests_per_second | "
          "Cloudflare's limit | over it? |")
    print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---|")
    for name, preload in CONFIGS:
        rs = runs[name]
        walls = [r["wall_ms"] for r in rs]
        mosts = [r["most"] for r in rs]
        reqs = sorted({r["requests"] for r in rs})
        rate = median([r["requests"] / (r["span_ms"] / 1000) for r in rs if r["span_ms"] > 0])
        over = max(mosts) > CLOUDFLARE_LIMIT
        print(f"| {name} | '{preload}' | {median(walls):,.0f} | "
              f"{', '.join(f'{w:,.0f}' for w in walls)} | "
              f"{median([r['released_ms'] for r in rs]):,.0f} | "
              f"{', '.join(fmt(x) for x in reqs)} | "
              f"**{max(mosts):,}** ({', '.join(fmt(m) for m in mosts)}) | {rate:,.0f} | "
              f"{pace_value if pace_value is not None else '?'} | {CLOUDFLARE_LIMIT} | "
              f"{'**yes**' if over else 'no'} |")
    print()
    print(f"Wall time: from the first request the mock received to the last backend's answer "
          f"(psql read its last line); \"from the release\": from the moment the {a.backends} "
          f"statements were sent. Requests and the most in any 1 s: the mock's log (its "
          f"\"t\", sliding window of {WINDOW_S:g} s, first and last included, as `mockctl "
          f"starts` counts; each run's `starts` is below). Mean rate: requests / (last arrival "
          f"- first arrival). Minimum: {fmt(expected)} requests ({a.backends} x {pages}).")
    print()
    for name, _ in CONFIGS:
        for k, r in enumerate(runs[name]):
            print(f"- {name}, run {k + 1}: {fmt(r['requests'])} requests over "
                  f"{r['span_ms']:,.0f} ms (first to last arrival); requests in each second "
                  f"from the first: {', '.join(fmt(x) for x in r['per_second'])}; backends "
                  f"done at {', '.join(f'{x:,.0f}' for x in r['backend_ms'])} ms after the "
                  f"first request; released within {r['release_spread_ms']:.1f} ms, first "
                  f"request {r['first_after_release_ms']:.0f} ms after the release, the "
                  f"{a.backends} requests of page 1 within {r['page1_spread_ms']:.0f} ms; "
                  f"`mockctl starts`: {r['starts']}; load average after: {r['load']}")
    print()
    problems += [p for rs in runs.values() for r in rs for p in r["problems"]]
    for rs in runs.values():
        for r in rs:
            if r["requests"] < expected:
                problems.append(f"{r['config']}: {r['requests']} requests, fewer than "
                                f"{expected}")
    return print_end(load_at_start, started, problems)


if __name__ == "__main__":
    run_main(main, log)
