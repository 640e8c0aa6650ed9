#!/usr/bin/env python3
"""dashboard.py - the measuring half of test/bench/dashboard.sh (dashboard.sh builds, installs
and starts a cluster with shared_preload_libraries = 'cfiam', the mock API and the transport,
then calls this). It can be run by hand with the environment dashboard.sh sets: PGHOST,
PGPORT, CFIAM_MOCK_PORT, CFIAM_PGDATA, CFIAM_API_URL, CFIAM_CA_FILE, DASH_BINDIR.

What it measures, against the mock Cloudflare API (test/mock_cloudflare.py), for a reporting
dashboard of three panels over the IAM tables, refreshed 20 times by a pool of connections of
one role (one user mapping), one refresh every --interval seconds (default 15: the 20 refreshes
take five minutes), with the result cache shared in memory:

 1. the latency of a cache hit against a call: each panel's query, and a GET by id, timed in
    one session with the answer cached and not (cfiam_cache_clear() before the call), with
    the mock answering each request after --latency ms, median of --reps runs;
 2. the API requests of the 20 refreshes, counted from the mock's log (mockctl), with
    cache_ttl 0 (no cache) and each value of --ttls, refresh by refresh, and the ratio;
    cfiam_stats' requests and cache hits alongside;
 3. the memory the cache used: the shared memory of 'cfiam cache' and 'cfiam cache index'
    (pg_shmem_allocations), the entries held at the end of each run (cfiam_cache_clear()),
    and the bytes of the answers written into it (cfiam_stats.bytes_received);
 4. unless --also-cache-size '' : the largest cache_ttl again, after a restart with
    cfiam.cache_size at that size (default 8MB, the setting's default).

The 20 refreshes take 20 x --interval seconds (refresh i starts at i x interval). Time can be
compressed with --scale K: the refresh interval, the span of the refreshes and every cache_ttl
are divided by K together, so each refresh meets the same cached answers.
Progress goes to stderr, the markdown report to stdout.
"""

import argparse
import concurrent.futures
import hashlib
import os
import re
import sys
import time

from benchlib import (ACCOUNT, BASE_URL as API_URL, CA_FILE, TOKEN, BenchError, Session, git_rev,
                      loadavg, logger, median, mockctl, pg_restart, print_end, run_main,
                      sql_literal)

VIEWER = "grafana"              # the dashboard's role: every viewer connection logs in as it

BINDIR = os.environ.get("DASH_BINDIR") or ""
PSQL = os.path.join(BINDIR, "psql") if BINDIR else "psql"
PG_CTL = os.path.join(BINDIR, "pg_ctl") if BINDIR else "pg_ctl"
BASE = os.environ.get("CFIAM_PGDATA") or "/tmp/cfiam-pg"

# The dashboard. Each panel is one statement, as a dashboard tool sends it.
PANELS = [
    ("members by status",
     "SELECT status, count(*) AS members FROM cf.account_members"
     " GROUP BY status ORDER BY status"),
    ("groups with member counts",
     "SELECT g.name, count(m.id) AS members"
     " FROM cf.user_groups g LEFT JOIN cf.user_group_members m ON m.user_group_id = g.id"
     " GROUP BY g.id, g.name ORDER BY g.name"),
    ("pending invitations",
     "SELECT email, first_name, last_name FROM cf.account_members"
     " WHERE status = 'pending' ORDER BY email"),
]
REFRESHES = 20
INTERVAL_S = 15                 # default --interval: refresh i starts at i x 15 s, so the
                                # 20 refreshes are spread evenly over five minutes
ENTRY_HEADER = 80               # bytes before the URL of an entry in the cache (src/cache.c)
ENTRY_GRANULE = 128             # entries are whole multiples of this


log = logger("dashboard")


def mock_take():
    """The requests logged since the last call: (count from `mockctl count`, the logged
    lines). The lines are read first (--keep), then `count` reads and clears the log."""
    lines = mockctl("log", "--keep").splitlines()
    m = re.match(r"requests: (\d+)", mockctl("count"))
    if not m:
        raise BenchError("mockctl count printed no count")
    return int(m.group(1)), lines


def fmt(n):
    return f"{n:,}"


# --------------------------------------------------------------------------- sessions

def session(user="postgres", name="admin"):
    """A connection of the dashboard's pool, as `user` (PGOPTIONS as the environment has it)."""
    return Session(PSQL, name, user=user)


def setup(admin):
    ca = f", ca_file {sql_literal(CA_FILE)}" if CA_FILE else ""
    for stmt in [
        "SET client_min_messages = warning",
        "CREATE EXTENSION IF NOT EXISTS cfiam",
        "DROP SCHEMA IF EXISTS cf CASCADE",
        "DROP SERVER IF EXISTS cloudflare CASCADE",
        f"CREATE SERVER cloudflare FOREIGN DATA WRAPPER cfiam OPTIONS (account_id "
        f"{sql_literal(ACCOUNT)}, api_url {sql_literal(API_URL)}{ca}, cache_ttl '0')",
        f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{VIEWER}') THEN "
        f"CREATE ROLE {VIEWER} LOGIN; END IF; END$$",
        f"GRANT USAGE ON FOREIGN SERVER cloudflare TO {VIEWER}",
        f"CREATE USER MAPPING FOR {VIEWER} SERVER cloudflare OPTIONS (api_token "
        f"{sql_literal(TOKEN)})",
        f"CREATE USER MAPPING FOR CURRENT_USER SERVER cloudflare OPTIONS (api_token "
        f"{sql_literal(TOKEN)})",
        "CREATE SCHEMA cf",
        "IMPORT FOREIGN SCHEMA cfiam FROM SERVER cloudflare INTO cf",
        f"GRANT USAGE ON SCHEMA cf TO {VIEWER}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA cf TO {VIEWER}",
        "RESET client_min_messages",
    ]:
        admin.run(stmt)


def set_ttl(admin, ttl):
    admin.run(f"ALTER SERVER cloudflare OPTIONS (SET cache_ttl '{ttl}')")


def restart_cluster(cache_size):
    """cfiam.cache_size is read at server start: ALTER SYSTEM, then a restart."""
    s = session()
    s.run(f"ALTER SYSTEM SET cfiam.cache_size = {sql_literal(cache_size)}")
    s.close()
    pg_restart(PG_CTL, BASE)


def cache_settings(admin):
    size = admin.one("SHOW cfiam.cache_size")
    preload = admin.one("SHOW shared_preload_libraries")
    rows, _ = admin.run("SELECT name, size, allocated_size FROM pg_shmem_allocations"
                        " WHERE name IN ('cfiam cache', 'cfiam cache index', '<anonymous>')"
                        " ORDER BY name")
    shm = {r.split("|")[0]: (int(r.split("|")[1]), int(r.split("|")[2])) for r in rows}
    return size, preload, shm


def viewer_stats(admin):
    rows, _ = admin.run("SELECT requests, cache_hits, bytes_received FROM cfiam_stats"
                        f" WHERE server = 'cloudflare' AND user_name = '{VIEWER}'")
    if not rows:
        return 0, 0, 0
    return tuple(int(x) for x in rows[0].split("|"))


# --------------------------------------------------------------------------- phases

def latency_phase(admin, reps, member_id):
    """Each query timed with the answer not cached (cfiam_cache_clear() first: a call) and
    cached (the same statement again), in one session of the dashboard's role, cache_ttl
    300; median of reps."""
    queries = [(name, sql) for name, sql in PANELS] + [
        ("one member by id",
         f"SELECT email, status FROM cf.account_members WHERE id = {sql_literal(member_id)}")]
    set_ttl(admin, 300)
    viewer = session(VIEWER, "latency")
    # the session's first request opens its connection to the API: not part of a figure
    viewer.run(queries[-1][1])
    admin.run("SELECT cfiam_cache_clear()")
    mockctl("clear-log")
    res = {name: {"call": [], "hit": [], "call_req": [], "hit_req": []} for name, _ in queries}
    answers = {}
    for rep in range(reps):
        for name, sql in queries:
            admin.run("SELECT cfiam_cache_clear()")
            mockctl("clear-log")
            out_call, ms_call = viewer.run(sql)
            n_call, _ = mock_take()
            out_hit, ms_hit = viewer.run(sql)
            n_hit, _ = mock_take()
            if out_call != out_hit:
                raise BenchError(f"{name}: the cached answer differs from the call's")
            answers.setdefault(name, out_call)
            if answers[name] != out_call:
                raise BenchError(f"{name}: the answer changed between runs")
            r = res[name]
            r["call"].append(ms_call)
            r["hit"].append(ms_hit)
            r["call_req"].append(n_call)
            r["hit_req"].append(n_hit)
        log(f"latency: rep {rep + 1}/{reps} done")
    viewer.close()
    admin.run("SELECT cfiam_cache_clear()")
    return queries, res


def dashboard_run(admin, ttl, scale, interval_s, connections, reference):
    """20 refreshes of the three panels, one every interval_s / scale seconds, with the
    server's cache_ttl at ttl / scale. Refresh i runs the panels at once, panel p on pool
    connection (3i + p) mod connections. Returns a dict of what was measured."""
    eff_ttl = ttl // scale
    interval = interval_s / scale
    set_ttl(admin, eff_ttl)
    admin.run("SELECT cfiam_cache_clear()")
    admin.run("SELECT cfiam_stats_reset()")
    pool = [session(VIEWER, f"viewer{c}") for c in range(connections)]
    pids = [s.pid for s in pool]
    if len(set(pids)) != connections:
        raise BenchError("the pool's connections do not have distinct backends")
    mockctl("clear-log")
    load_start = loadavg()
    refreshes = []
    problems = []
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=len(PANELS))
    t0 = time.monotonic()
    for i in range(REFRESHES):
        target = t0 + i * interval
        now = time.monotonic()
        if now < target:
            time.sleep(target - now)
        started = time.monotonic()
        conns = [pool[(len(PANELS) * i + p) % connections] for p in range(len(PANELS))]
        futures = [executor.submit(conns[p].run, PANELS[p][1]) for p in range(len(PANELS))]
        outs = [f.result() for f in futures]
        wall_ms = (time.monotonic() - started) * 1000
        n, lines = mock_take()
        if n != len(lines):
            problems.append(f"refresh {i + 1}: mockctl count said {n}, the log had "
                            f"{len(lines)} lines")
        for p, (rows, _ms) in enumerate(outs):
            digest = hashlib.sha256("\n".join(rows).encode()).hexdigest()
            key = PANELS[p][0]
            if key not in reference:
                reference[key] = (digest, len(rows))
            elif reference[key][0] != digest:
                problems.append(f"refresh {i + 1}, panel '{key}': answer differs from the "
                                "first refresh of the first run")
        refreshes.append({
            "at": started - t0, "late": max(0.0, started - target), "requests": n,
            "url_bytes": sum(len(API_URL) + len(l.split(" ", 1)[1]) for l in lines),
            "wall_ms": wall_ms, "panel_ms": [o[1] for o in outs],
            "conns": [pool.index(c) for c in conns],
        })
        log(f"cache_ttl {ttl}{f' (run at {eff_ttl})' if scale > 1 and ttl else ''}: "
            f"refresh {i + 1}/{REFRESHES} at "
            f"{started - t0:6.1f} s: {n} requests, {wall_ms:.0f} ms")
    elapsed = time.monotonic() - t0
    executor.shutdown()
    requests, hits, nbytes = viewer_stats(admin)
    entries = int(admin.one("SELECT cfiam_cache_clear()"))
    load_end = loadavg()
    for s in pool:
        s.close()
    total = sum(r["requests"] for r in refreshes)
    if requests != total:
        problems.append(f"cache_ttl {ttl}: cfiam_stats counted {requests} requests, the mock "
                        f"{total}")
    return {"ttl": ttl, "eff_ttl": eff_ttl, "refreshes": refreshes, "requests": total,
            "stats_requests": requests, "hits": hits, "bytes": nbytes, "entries": entries,
            "elapsed": elapsed, "load_start": load_start, "load_end": load_end,
            "pids": pids, "problems": problems}


# --------------------------------------------------------------------------- report

def ring_bytes(run):
    """(low, high) bytes written into the cache's ring by a run: every answer it fetched
    (each request's answer was stored), with its entry header and URL, each entry rounded
    up to whole granules (at most granule - 1 bytes more)."""
    if run["eff_ttl"] == 0:
        return 0, 0
    low = run["bytes"] + sum(r["url_bytes"] for r in run["refreshes"]) \
        + ENTRY_HEADER * run["requests"]
    return low, low + (ENTRY_GRANULE - 1) * run["requests"]


def mb(n):
    return f"{n / (1024 * 1024):.2f} MB"


def pattern(run):
    """The refreshes that sent requests: '1 (430), 6 (430), ...'."""
    sent = [(k + 1, r["requests"]) for k, r in enumerate(run["refreshes"]) if r["requests"]]
    return ", ".join(f"{k} ({fmt(n)})" for k, n in sent) or "none"


def report_run_table(runs, base):
    print("| cache_ttl | cfiam.cache_size | requests (mock log) | fewer than without the cache |"
          " refreshes that sent requests: refresh (requests) | cache hits (cfiam_stats) |"
          " 10x fewer? |")
    print("|---:|---|---:|---:|---|---:|---|")
    for run in runs:
        ratio = base / run["requests"] if run["requests"] else float("inf")
        ttl = f"{run['ttl']}" + (f" (run at {run['eff_ttl']})" if run["eff_ttl"] != run["ttl"]
                                 else "")
        verdict = "—" if run["ttl"] == 0 else ("**yes**" if ratio >= 10 else "**no**")
        print(f"| {ttl} | {run['cache_size']} | {fmt(run['requests'])} | "
              f"{'—' if run['ttl'] == 0 else f'{ratio:.1f}x'} | {pattern(run)} | "
              f"{fmt(run['hits'])} | {verdict} |")


def main():
    ap = argparse.ArgumentParser(prog="dashboard.sh")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke test: 1,000 members, 20 groups x 20, --scale 15, 3 reps, "
                         "no --also-cache-size run")
    ap.add_argument("--members", type=int, help="account members (default 10000)")
    ap.add_argument("--groups", type=int, help="user groups (default 200)")
    ap.add_argument("--members-per-group", type=int, dest="per_group",
                    help="members of each group (default 50)")
    ap.add_argument("--connections", type=int, default=4,
                    help="connections of the dashboard's pool (default 4)")
    ap.add_argument("--ttls", default="60,150,300",
                    help="cache_ttl values compared with no cache (default 60,150,300)")
    ap.add_argument("--interval", type=float, default=INTERVAL_S, metavar="SECONDS",
                    help="seconds from one refresh to the next; the 20 refreshes take 20 x "
                         f"this (default {INTERVAL_S:g}: five minutes)")
    ap.add_argument("--scale", type=int,
                    help="divide the refresh interval, the span and every cache_ttl by this "
                         "(default 1: real time; each cache_ttl must be a multiple)")
    ap.add_argument("--latency", type=int, default=50, help="ms per answer (default 50)")
    ap.add_argument("--reps", type=int, help="runs of each hit/call timing (default 7)")
    ap.add_argument("--cache-size", default="64MB", dest="cache_size",
                    help="cfiam.cache_size of the runs (default 64MB)")
    ap.add_argument("--also-cache-size", dest="also_cache_size",
                    help="run the largest cache_ttl again at this cfiam.cache_size (default "
                         "8MB, the setting's default; '' for none)")
    ap.add_argument("--transport", choices=("h2", "http1", "tls-http1"), default="h2",
                    help="how cfiam reaches the mock (dashboard.sh starts it): h2, TLS + HTTP/2 "
                         "through a TLS front, as api.cloudflare.com (default); http1; tls-http1")
    a = ap.parse_args()
    quick = a.quick
    members = a.members if a.members is not None else (1000 if quick else 10000)
    groups = a.groups if a.groups is not None else (20 if quick else 200)
    per_group = a.per_group if a.per_group is not None else (20 if quick else 50)
    scale = a.scale if a.scale is not None else (15 if quick else 1)
    reps = a.reps if a.reps is not None else (3 if quick else 7)
    also = a.also_cache_size if a.also_cache_size is not None else ("" if quick else "8MB")
    try:
        ttls = [int(x) for x in a.ttls.split(",") if x.strip()]
    except ValueError:
        ap.error("--ttls takes comma-separated numbers")
    if not ttls or any(t <= 0 or t > 86400 for t in ttls):
        ap.error("--ttls: values 1..86400")
    if scale < 1 or any(t % scale for t in ttls):
        ap.error(f"--scale must divide every cache_ttl ({a.ttls})")
    if not 0 < a.interval <= 3600:
        ap.error("--interval: seconds, more than 0 and at most 3600")
    if reps < 1 or a.latency < 0 or a.connections < 1 or min(members, groups, per_group) < 1:
        ap.error("--reps, --connections and the sizes must be >= 1, --latency >= 0")
    for size in (a.cache_size, also):
        if size and not re.fullmatch(r"[0-9]+\s*(kB|MB|GB)", size):
            ap.error(f"not a memory size: {size!r} (e.g. 64MB)")
    if os.environ.get("BENCH_CHECK_ARGS"):
        return 0            # dashboard.sh checks the arguments before it builds anything

    interval = a.interval
    span = REFRESHES * interval
    started = time.monotonic()
    load_at_start = loadavg()
    print("# cfiam dashboard benchmark")
    print()
    cmd = os.environ.get("BENCH_CMDLINE") or ("python3 test/bench/dashboard.py "
                                               + " ".join(sys.argv[1:]))
    print(f"- command: `{cmd}`")
    print(f"- machine: {os.cpu_count()} CPUs; load average (1/5/15 min) at the start: "
          f"{load_at_start}")

    log(f"cfiam.cache_size = {a.cache_size}: restart")
    restart_cluster(a.cache_size)
    admin = session()
    size, preload, shm = cache_settings(admin)
    if "cfiam" not in preload:
        raise BenchError(f"cfiam is not preloaded (shared_preload_libraries = '{preload}')")
    pg_version = admin.one("SHOW server_version")
    log(f"mock: {members} members, {groups} groups x {per_group}; latency {a.latency} ms")
    mockctl("reset", "--account-members", members, "--user-groups", groups,
            "--members-per-group", per_group)
    setup(admin)
    mockctl("latency", a.latency)

    # Which protocol the transport negotiated, from a fresh session's first scan.
    probe = session()
    plan, _ = probe.run("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "
                        "SELECT id FROM cf.account_members WHERE status = 'pending' "
                        "ORDER BY email LIMIT 1")
    probe.close()
    member_id = admin.one("SELECT id FROM cf.account_members WHERE status = 'pending' "
                           "ORDER BY email LIMIT 1")
    conn_line = next((l.strip() for l in plan if "API Connections" in l), "?")
    mockctl("clear-log")

    print(f"- software: PostgreSQL {pg_version}, cfiam {git_rev()}, cfiam's server "
          f"`api_url` {API_URL} ({'TLS, ' + conn_line if API_URL.startswith('https') else conn_line})")
    print(f"- cluster: `shared_preload_libraries = '{preload}'`, `cfiam.cache_size = {size}` "
          f"(ALTER SYSTEM, then a restart); shared memory (pg_shmem_allocations, size / "
          f"allocated): 'cfiam cache' {fmt(shm.get('cfiam cache', (0, 0))[0])} / "
          f"{fmt(shm.get('cfiam cache', (0, 0))[1])} bytes, 'cfiam cache index' "
          f"{fmt(shm.get('cfiam cache index', (0, 0))[0])} / "
          f"{fmt(shm.get('cfiam cache index', (0, 0))[1])} bytes")
    print(f"- account (the mock): {fmt(members)} account members (every 7th pending), "
          f"{fmt(groups)} user groups of {fmt(per_group)} members; every answer "
          f"{a.latency} ms late")
    print(f"- dashboard: {len(PANELS)} panels, {REFRESHES} refreshes evenly spread over "
          f"{span:g} s (refresh interval {interval:g} s: one every {interval:g} s, the first "
          f"at 0 s)"
          + (f", time compressed {scale}x (one every {interval / scale:g} s over "
             f"{span / scale:g} s; cache_ttl divided by {scale} as well)" if scale > 1
             else ", in real time")
          + f"; a pool of {a.connections} connections as role `{VIEWER}` (one user mapping, "
          f"so one set of cache entries); refresh i sends its {len(PANELS)} panels at once, "
          f"panel p on connection (3i + p) mod {a.connections}, so a panel runs on another "
          f"backend than at the refresh before")
    print()
    for k, (name, sql) in enumerate(PANELS):
        print(f"  {k + 1}. {name}: `{sql}`")
    print()

    # 1. latency
    log(f"latency: hit against call, {reps} runs each")
    load_lat = loadavg()
    queries, lat = latency_phase(admin, reps, member_id)

    # 2. the dashboard runs
    reference = {}
    runs = []
    for ttl in [0] + ttls:
        log(f"dashboard with cache_ttl {ttl}" + (f" (scaled: {ttl // scale} s)" if scale > 1
                                                 else ""))
        run = dashboard_run(admin, ttl, scale, interval, a.connections, reference)
        run["cache_size"] = size
        runs.append(run)
    extra = None
    if also:
        admin.close()
        log(f"cfiam.cache_size = {also}: restart")
        restart_cluster(also)
        admin = session()
        size2, _, shm2 = cache_settings(admin)
        mockctl("latency", a.latency)
        extra = dashboard_run(admin, max(ttls), scale, interval, a.connections, reference)
        extra["cache_size"] = size2
        extra["shm"] = shm2
    admin.close()

    # ---- report
    problems = [p for r in runs + ([extra] if extra else []) for p in r["problems"]]
    base = runs[0]["requests"]
    per_refresh = runs[0]["requests"] / REFRESHES
    print(f"## Requests: {REFRESHES} refreshes, one every {interval:g} s ({span:g} s"
          + (", five minutes" if span == 300 else "") + ")")
    print()
    print(f"Counted from the mock's log after each refresh (`mockctl count`). Without the cache "
          f"every refresh sends {per_refresh:g} requests "
          f"({', '.join(str(x) for x in panel_requests(lat, queries))} for the three panels).")
    print()
    report_run_table(runs + ([extra] if extra else []), base)
    print()
    for run in runs + ([extra] if extra else []):
        late = max(r["late"] for r in run["refreshes"])
        print(f"- cache_ttl {run['ttl']}, cfiam.cache_size {run['cache_size']}: "
              f"{run['elapsed']:.1f} s from the first refresh to the end of the last, latest "
              f"start {late * 1000:.0f} ms after its time; refresh wall time (the three "
              f"panels at once) median {refresh_median(run, True)} when it sent requests, "
              f"{refresh_median(run, False)} when the cache answered all; cfiam_stats: "
              f"{fmt(run['stats_requests'])} requests, {fmt(run['hits'])} cache hits; "
              f"backends {', '.join(map(str, run['pids']))}; load average "
              f"{run['load_start']} at the start, {run['load_end']} at the end")
    print()
    print("## Latency of a cache hit against a call")
    print()
    print(f"One session of role `{VIEWER}`, `cache_ttl 300`; each run: `cfiam_cache_clear()`, "
          f"the statement (a call: the cache is empty), the same statement again (a hit); "
          f"median of {reps}, psql's `\\timing`, the mock {a.latency} ms late on every answer. "
          f"Load average at the start: {load_lat}.")
    print()
    print("| query | requests (call / hit) | call ms | cache hit ms | call / hit |")
    print("|---|---:|---:|---:|---:|")
    for name, _sql in queries:
        r = lat[name]
        c, h = median(r["call"]), median(r["hit"])
        print(f"| {name} | {fmt(int(median(r['call_req'])))} / {fmt(int(max(r['hit_req'])))} | "
              f"{c:,.1f} | {h:,.2f} | {c / h:,.0f}x |")
    print()
    print("## Memory")
    print()
    print("Shared memory (pg_shmem_allocations, allocated bytes): 'cfiam cache' is the ring "
          "of answers, 'cfiam cache index' the header of its hash index, whose slots (one per "
          "kB of cfiam.cache_size) PostgreSQL allocates without a name, among '<anonymous>'.")
    print()
    print("| cfiam.cache_size | 'cfiam cache' | 'cfiam cache index' | '<anonymous>' (all of "
          "PostgreSQL's) |")
    print("|---|---:|---:|---:|")
    sizes = [(size, shm)] + ([(extra["cache_size"], extra["shm"])] if extra else [])
    for sz, s in sizes:
        print(f"| {sz} | {fmt(s.get('cfiam cache', (0, 0))[1])} | "
              f"{fmt(s.get('cfiam cache index', (0, 0))[1])} | "
              f"{fmt(s.get('<anonymous>', (0, 0))[1])} |")
    if extra:
        slots = [max(64, kb(sz)) for sz, _ in sizes]
        anon = [s.get("<anonymous>", (0, 0))[1] for _, s in sizes]
        if slots[0] != slots[1]:
            per = (anon[0] - anon[1]) / (slots[0] - slots[1])
            print()
            print(f"'<anonymous>' differs by {fmt(anon[0] - anon[1])} bytes between "
                  f"{sizes[0][0]} and {sizes[1][0]} ({fmt(slots[0])} and {fmt(slots[1])} index "
                  f"slots): {per:.1f} bytes a slot, so the index of {sizes[0][0]} takes about "
                  f"{mb(per * slots[0])} besides the ring.")
    print()
    print("| cache_ttl | cfiam.cache_size | entries at the end (`cfiam_cache_clear()`) |"
          " answers stored (bytes_received) | written into the ring with entry headers and"
          " URLs |")
    print("|---:|---|---:|---:|---:|")
    for run in runs[1:] + ([extra] if extra else []):
        low, high = ring_bytes(run)
        print(f"| {run['ttl']} | {run['cache_size']} | {fmt(run['entries'])} | "
              f"{fmt(run['bytes'])} bytes ({mb(run['bytes'])}) | {mb(low)} to {mb(high)} |")
    print()
    print(f"An entry is an {ENTRY_HEADER}-byte header, the URL and the answer, rounded up to "
          f"{ENTRY_GRANULE} bytes; the ring is written in order and its space is taken back "
          "only when it wraps (oldest first), so the last column is how much of the ring a "
          "run wrote: when it is larger than cfiam.cache_size, entries were evicted before "
          "they expired.")
    print()
    return print_end(load_at_start, started, problems)


def panel_requests(lat, queries):
    return [fmt(int(median(lat[name]["call_req"]))) for name, _ in queries[:len(PANELS)]]


def kb(size):
    """A memory setting ('64MB') in kB."""
    m = re.fullmatch(r"([0-9]+)\s*(kB|MB|GB)", size)
    return int(m.group(1)) * {"kB": 1, "MB": 1024, "GB": 1024 * 1024}[m.group(2)]


def refresh_median(run, sent):
    xs = [r["wall_ms"] for r in run["refreshes"] if (r["requests"] > 0) == sent]
    return f"{median(xs):,.0f} ms ({len(xs)})" if xs else "— (0)"


if __name__ == "__main__":
    run_main(main, log)
