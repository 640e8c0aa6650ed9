#!/usr/bin/env python3
"""access.py - the measuring half of test/bench/access.sh (access.sh installs the SDK, builds and
installs cfiam, starts a cluster, the mock API and the transport, then calls this). It can be run
by hand with the environment access.sh sets: PGHOST, PGPORT, PGUSER, CFIAM_MOCK_PORT,
CFIAM_API_URL, CFIAM_CA_FILE, CFIAM_EXPECT_PROTOCOL, ACCESS_PSQL, ACCESS_LIBFILE.

What it measures, against the mock Cloudflare API (test/mock_cloudflare.py), an account of
--members account members (default 10,000), --groups user groups (default 200) of
--members-per-group members (default 50), the mock's permission groups (4) and resource groups
(2), every answer --latency ms late (default 50):

  - cfiam: the view cf.effective_access (`SELECT cfiam_create_effective_access('cf')`,
    docs/reporting.md) with the server's default options, read two ways, each in a fresh psql
    session (psql's \\timing):
      `SELECT * FROM cf.effective_access`, every row sent to psql and read by this script (what a
        report does: it reads the rows; the script counts them and digests them), and
      `SELECT count(*) FROM cf.effective_access` (the same requests, no rows sent), and
      `SELECT * FROM cf.effective_access` in a session that `SET jit = off`: the plan's
        estimate (hundreds of millions of rows, from jsonb_array_elements' default of 100 rows a
        call) is over PostgreSQL's jit_*_above_cost, and JIT compiling takes a part of the wall
        time; the report prints the estimate and the JIT timing of one EXPLAIN ANALYZE;
    the requests each sent (the mock's log) against the minimum the API's paging allows, and the
    wall time against the floor cfiam's pace of request starts sets:
      (requests - burst) / max_requests_per_second
    (160 a second after a burst of 16 by default: 403 requests, 2,419 ms), the target being
    within 1.2x of it;
  - the official SDK (access-sdk.mjs, a fresh node process each): the same lists, the same rows
    computed in JS, one request at a time with the SDK's own paging (`for await`'s requests) and
    4 requests in flight (a promise pool, each list's other pages from result_info.total_count);
    --sdk sets the variants;
  - the rows must agree: cfiam's SELECT * and count(*) and every SDK variant give the same number
    of rows (exit status 1 otherwise), and the same digest of the rows (sha256 of the rows' lines
    sorted; the jsonb columns in a canonical form).

Each measurement is preceded, in the same session or process and untimed, by a warm-up: for cfiam
one request (cfiam loaded, the TLS + HTTP/2 connection to the front open; then the mock's log is
cleared), for node a request to the mock's health endpoint (as sdk.mjs does). Median over --reps
runs (default 3), the four measurements in turn in each run.

Progress goes to stderr, the markdown report to stdout.
"""

import argparse
import hashlib
import json
import os
import re
import time

from benchlib import (ACCOUNT, CA_FILE, NULL, SEP, TOKEN, BenchError, LibWatch, Pace, Psql,
                      add_sdk_options, ceil_div, check_sdk_options, fmt, fmt_ms, loadavg, logger,
                      median, mockctl, paging_text, print_end, print_setup, run_main,
                      sdk_run as run_sdk, server_option_list, sql_literal, take_log)

# per_page limits of the API (the mock follows the OpenAPI description): account members and
# permission groups 5..50, user groups and group members 1..500; resource groups not paged.
AM_MAX, UG_MAX, GM_MAX, PG_MAX = 50, 500, 500, 50
# The view's columns, in order (cfiam_create_effective_access); the digest is comparable only
# if the installed view has these.
VIEW_COLUMNS = ["member_id", "email", "via", "user_group_id", "user_group_name", "role_id",
                "role_name", "policy_id", "access", "permission_group_id",
                "permission_group_name", "resource_group_id", "resource_group_name", "scope",
                "role_permissions"]
JSONB_COLUMNS = {VIEW_COLUMNS.index("scope"), VIEW_COLUMNS.index("role_permissions")}
SELECT_ALL = "SELECT * FROM cf.effective_access"
COUNT = "SELECT count(*) FROM cf.effective_access"
WARMUP = "SELECT count(*) FROM cf.resource_groups"
TARGET = 1.2                    # wall time at most 1.2x the floor of the pace

psql = Psql(os.environ.get("ACCESS_PSQL") or "psql")
one = psql.one
# The installed library (access.sh: `pg_config --pkglibdir`/cfiam.so), which every new session
# loads: its digest is checked after every run, so that another `make install` is noticed.
LIBFILE = os.environ.get("ACCESS_LIBFILE") or ""
log = logger("access")

LISTS = [
    # (name, path pattern)
    ("account members", re.compile(r"/accounts/[^/]+/members$")),
    ("user groups", re.compile(r"/iam/user_groups$")),
    ("group members", re.compile(r"/iam/user_groups/[^/]+/members$")),
    ("permission groups", re.compile(r"/iam/permission_groups$")),
    ("resource groups", re.compile(r"/iam/resource_groups$")),
]


# --------------------------------------------------------------------------- rows

def canon_json(text):
    return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


def digest_rows(lines):
    """(rows, by_via, digest) of the view's rows as psql printed them; access-sdk.mjs computes
    the same of its rows."""
    keys = []
    by_via = {}
    for line in lines:
        cols = line.split(SEP)
        if len(cols) != len(VIEW_COLUMNS):
            raise BenchError(f"a row of {len(cols)} columns, not {len(VIEW_COLUMNS)}: {line[:200]}")
        for i in JSONB_COLUMNS:
            if cols[i] != NULL:
                cols[i] = canon_json(cols[i])
        by_via[cols[2]] = by_via.get(cols[2], 0) + 1
        keys.append(SEP.join(cols).encode("utf-8"))
    keys.sort()
    return len(keys), by_via, hashlib.sha256(b"\n".join(keys)).hexdigest()


def classify(entries):
    """Per list: (count, first and last arrival in ms after the first request of all)."""
    if not entries:
        return {}, 0.0
    t0 = min(e["t"] for e in entries)
    out = {}
    for e in entries:
        name = next((n for n, rx in LISTS if rx.search(e["path"])), "other: " + e["path"])
        ms = (e["t"] - t0) * 1000
        c, lo, hi = out.get(name, (0, ms, ms))
        out[name] = (c + 1, min(lo, ms), max(hi, ms))
    span = (max(e["t"] for e in entries) - t0) * 1000
    return out, span


# --------------------------------------------------------------------------- measurements

def cfiam_run(sql, max_requests, setting=""):
    return psql.timed(WARMUP, sql, max_requests, setting)


def sdk_run(inflight, paging):
    return run_sdk("access-sdk.mjs", ["--account-id", ACCOUNT],
                   ["--inflight", inflight, "--paging", paging])


def variant_text(inflight, paging):
    flight = "one request at a time" if inflight == 1 else f"{inflight} requests in flight"
    return f"SDK, {flight} ({paging_text(paging)})"


# --------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(prog="access.sh",
                                 description="cfiam's effective-access benchmark (see the "
                                             "docstring of test/bench/access.py)")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke test: 1,000 members, 20 groups of 50, 1 run")
    ap.add_argument("--reps", type=int, help="runs of each measurement, median (default 3; 1 "
                                             "with --quick)")
    ap.add_argument("--latency", type=int, default=50, metavar="MS",
                    help="ms per answer (default 50)")
    ap.add_argument("--members", type=int, help="account members (default 10000)")
    ap.add_argument("--groups", type=int, help="user groups (default 200)")
    ap.add_argument("--members-per-group", type=int, dest="per_group", default=50,
                    help="members of each group (default 50)")
    ap.add_argument("--permission-groups", type=int, dest="pgs", default=4,
                    help="permission groups (default 4, the mock's default)")
    ap.add_argument("--resource-groups", type=int, dest="rgs", default=2,
                    help="resource groups (default 2, the mock's default)")
    add_sdk_options(ap, "access.sh")
    a = ap.parse_args()
    members = a.members if a.members is not None else (1000 if a.quick else 10000)
    groups = a.groups if a.groups is not None else (20 if a.quick else 200)
    reps = a.reps if a.reps is not None else (1 if a.quick else 3)
    if reps < 1 or members < 1 or groups < 0 or a.per_group < 0 or a.latency < 0 \
            or a.pgs < 0 or a.rgs < 0:
        ap.error("--reps and --members must be >= 1; the other sizes and --latency >= 0")
    variants = check_sdk_options(ap, a)
    if os.environ.get("BENCH_CHECK_ARGS"):
        return 0            # access.sh checks the arguments before it builds anything

    started = time.monotonic()
    load_at_start = loadavg()
    problems = []
    watch = LibWatch(LIBFILE, problems)
    digest = watch.first

    # ---- the account and cfiam's setup
    log(f"mock: {members} account members, {groups} groups of {a.per_group}, "
        f"{a.pgs} permission groups, {a.rgs} resource groups")
    mockctl("reset", "--account-members", members, "--user-groups", groups,
            "--members-per-group", a.per_group, "--permission-groups", a.pgs,
            "--resource-groups", a.rgs)
    opts = [f"account_id {sql_literal(ACCOUNT)}"] + server_option_list(a)
    psql("SET client_min_messages = warning;\n"
         "CREATE EXTENSION IF NOT EXISTS cfiam;\n"
         "DROP SCHEMA IF EXISTS cf CASCADE;\n"
         "DROP SERVER IF EXISTS cloudflare CASCADE;\n"
         f"CREATE SERVER cloudflare FOREIGN DATA WRAPPER cfiam OPTIONS ({', '.join(opts)});\n"
         "CREATE USER MAPPING FOR CURRENT_USER SERVER cloudflare OPTIONS "
         f"(api_token {sql_literal(TOKEN)});\n"
         "CREATE SCHEMA cf;\n"
         "IMPORT FOREIGN SCHEMA cfiam FROM SERVER cloudflare INTO cf;\n"
         "SELECT cfiam_create_effective_access('cf') \\g /dev/null\n")
    columns = one("SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute "
                  "WHERE attrelid = 'cf.effective_access'::regclass AND attnum > 0").split(",")
    comparable = columns == VIEW_COLUMNS
    if not comparable:
        problems.append(f"the view's columns are not the ones access-sdk.mjs computes: "
                        f"{', '.join(columns)}")
    server_opts = psql.server_options("cloudflare")
    pg_version = one("SHOW server_version")
    ext_version = one("SELECT extversion FROM pg_extension WHERE extname = 'cfiam'")
    max_requests_default = one("LOAD 'cfiam';\nSHOW cfiam.max_requests")

    minimum = {
        "account members": ceil_div(members, AM_MAX),
        "user groups": max(1, ceil_div(groups, UG_MAX)),
        "group members": groups * max(1, ceil_div(a.per_group, GM_MAX)) if groups else 0,
        "permission groups": max(1, ceil_div(a.pgs, PG_MAX)),
        "resource groups": 1,
    }
    min_total = sum(minimum.values())
    # the per-statement budget (cfiam.max_requests, default 1000) stays as it is unless the
    # report needs more
    max_requests = 0 if min_total > 900 else None

    mockctl("latency", a.latency)
    # Which protocol cfiam's server negotiated: EXPLAIN ANALYZE of a one-request query.
    protocol, connections = psql.protocol(WARMUP, problems)

    # The plan of the report, with the requests of each foreign scan (one untimed run).
    log("EXPLAIN ANALYZE of the view")
    mockctl("clear-log")
    plan = psql(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) {SELECT_ALL}",
                max_requests).rstrip("\n")
    plan_requests = len(take_log(False))
    # What PostgreSQL's JIT does with it (EXPLAIN prints JIT only with COSTS): the plan's
    # estimate against the rows, and the time compiling took, under the cluster's settings.
    log("EXPLAIN (ANALYZE, FORMAT JSON) of the view: the estimate and JIT")
    jit_settings = dict(l.split(SEP, 1) for l in psql(
        "SELECT name, setting FROM pg_settings WHERE name IN ('jit', 'jit_above_cost', "
        "'jit_inline_above_cost', 'jit_optimize_above_cost') ORDER BY name").splitlines())
    try:
        top = json.loads(psql(f"EXPLAIN (ANALYZE, FORMAT JSON) {SELECT_ALL}", max_requests))[0]
    except (ValueError, IndexError) as e:
        raise BenchError(f"unreadable EXPLAIN output ({e})")
    mockctl("clear-log")
    jit = top.get("JIT")
    est = (f"the plan's estimate {fmt(int(top['Plan']['Plan Rows']))} rows at a cost of "
           f"{fmt(round(top['Plan']['Total Cost']))} (the rows: "
           f"{fmt(int(top['Plan']['Actual Rows']))})")
    settings_text = ", ".join(f"{k} {v}" for k, v in sorted(jit_settings.items()))
    if jit:
        opts_on = [k.lower() for k, v in jit.get("Options", {}).items() if v]
        t = jit.get("Timing", {})
        jit_text = (f"{est}; so PostgreSQL compiled {jit.get('Functions')} functions "
                    f"({', '.join(opts_on)}) in {fmt_ms(t.get('Total', 0))} ms (generation "
                    f"{t.get('Generation', 0):,.0f}, inlining {t.get('Inlining', 0):,.0f}, "
                    f"optimization {t.get('Optimization', 0):,.0f}, emission "
                    f"{t.get('Emission', 0):,.0f} ms) of an execution of "
                    f"{fmt_ms(top.get('Execution Time', 0))} ms (EXPLAIN ANALYZE, untimed run; "
                    f"the cluster's settings: {settings_text})")
    else:
        jit_text = f"{est}; no JIT ({settings_text})"

    pc = Pace(server_opts)
    mc_text, pace, pace_text = pc.mc_text, pc.pace, pc.pace_text
    burst, burst_text, floor_ms = pc.burst, pc.burst_text, pc.floor_ms

    # ---- header
    print("# cfiam: effective access, cfiam and the official SDK")
    print()
    print_setup("access.py", load_at_start, pg_version, ext_version, LIBFILE, digest, protocol,
                connections)
    print(f"- account (the mock): {fmt(members)} account members, {fmt(groups)} user groups of "
          f"{fmt(a.per_group)} members, {a.pgs} permission groups, {a.rgs} resource groups; "
          f"every answer {a.latency} ms late")
    shown = [f"{k} {v!r}" for k, v in sorted(server_opts.items())
             if k not in ("account_id", "api_url", "ca_file")]
    shown_text = ", ".join(shown) if shown else (
        "none but account_id, api_url" + (", ca_file" if CA_FILE else "") + " (the defaults)")
    print(f"- cfiam's server options: {shown_text}; max_concurrency {mc_text}; max_requests_per_second {pace_text}, after a burst of {burst_text}; "
          + (f"`cfiam.max_requests = 0` (PGOPTIONS: the report needs more than the default "
             f"{max_requests_default})" if max_requests is not None
             else f"cfiam.max_requests {max_requests_default} (the default)"))
    print(f"- the minimum of requests: {' + '.join(f'{v} ({k})' for k, v in minimum.items())} "
          f"= **{fmt(min_total)}**; the floor cfiam's pace sets: (requests - {burst_text}) / "
          f"{pace if pace is not None else '?'} s"
          + (f" = {fmt_ms(floor_ms(min_total))} ms at the minimum" if floor_ms(min_total) is not None
             else ""))
    print(f"- {reps} run(s); in each, in turn: cfiam `{SELECT_ALL}` (every row to psql, "
          f"counted and digested here), cfiam `{COUNT}`, cfiam `{SELECT_ALL}` again in a "
          f"session that `SET jit = off` (PostgreSQL's JIT, on by default, is left on "
          f"otherwise), then "
          + (", ".join(variant_text(*v) for v in variants) if variants else "no SDK variant")
          + "; cfiam a fresh psql session each (psql's \\timing) after a warm-up of one "
            f"request (`{WARMUP}`: cfiam loaded, the connection open; the mock's log cleared "
            "after it); the SDK a fresh node process each, timed from creating the client to "
            "the last row")
    print()

    # ---- the runs
    check_lib = watch.check

    cf_kinds = [
        # (key, label, statement, session setting)
        ("all", f"`{SELECT_ALL}`", SELECT_ALL, ""),
        ("count", f"`{COUNT}`", COUNT, ""),
        ("nojit", f"`{SELECT_ALL}`, the session `SET jit = off`", SELECT_ALL, "SET jit = off;"),
    ]
    cf = {k: [] for k, *_ in cf_kinds}
    sdk = {v: [] for v in variants}
    for rep in range(reps):
        for key, label, sql, setting in cf_kinds:
            log(f"run {rep + 1}/{reps}: cfiam {sql}{' (' + setting + ')' if setting else ''}")
            lines, ms, entries = cfiam_run(sql, max_requests, setting)
            if sql == COUNT:
                if len(lines) != 1 or not lines[0].isdigit():
                    raise BenchError(f"count(*) answered {lines[:3]}")
                n, by_via, dg = int(lines[0]), None, None
            else:
                n, by_via, dg = digest_rows(lines)
            per_list, span = classify(entries)
            cf[key].append({"rows": n, "by_via": by_via, "digest": dg, "ms": ms,
                            "requests": len(entries), "per_list": per_list, "span": span})
            log(f"  {n} rows, {len(entries)} requests, {ms:,.0f} ms")
            check_lib(f"cfiam {label}, run {rep + 1}")

        for v in variants:
            log(f"run {rep + 1}/{reps}: {variant_text(*v)}")
            out, entries = sdk_run(*v)
            if out["requests"] != len(entries):
                problems.append(f"{variant_text(*v)}, run {rep + 1}: the SDK counted "
                                f"{out['requests']} requests, the mock logged {len(entries)}")
            per_list, span = classify(entries)
            sdk[v].append({"rows": out["rows"], "by_via": out["by_via"], "digest": out["digest"],
                           "ms": out["ms"], "list_ms": out["list_ms"],
                           "requests": len(entries), "per_list": per_list, "span": span,
                           "maxrss_kb": out["maxrss_kb"]})
            log(f"  {out['rows']} rows, {len(entries)} requests, {out['ms']:,.0f} ms")
            check_lib(f"{variant_text(*v)}, run {rep + 1}")


    # ---- checks: every answer has the rows of cfiam's first SELECT *
    ref = cf["all"][0]
    for key, label, sql, _ in cf_kinds:
        for k, r in enumerate(cf[key]):
            if r["rows"] != ref["rows"]:
                problems.append(f"cfiam {label}, run {k + 1}: {r['rows']} rows, not "
                                f"{ref['rows']} (run 1 of SELECT *)")
            elif r["digest"] is not None and r["digest"] != ref["digest"]:
                problems.append(f"cfiam {label}, run {k + 1}: not the same rows as run 1 of "
                                f"SELECT * (digest {r['digest'][:12]}, not {ref['digest'][:12]})")
    for v, rs in sdk.items():
        for k, r in enumerate(rs):
            if r["rows"] != ref["rows"]:
                problems.append(f"{variant_text(*v)}, run {k + 1}: {r['rows']} rows, cfiam "
                                f"{ref['rows']}")
            elif comparable and r["digest"] != ref["digest"]:
                problems.append(f"{variant_text(*v)}, run {k + 1}: the same number of rows, "
                                f"but not the same rows (digest {r['digest'][:12]}, cfiam "
                                f"{ref['digest'][:12]})")

    # ---- report
    print(f"## Side by side, median of {reps}")
    print()
    print("| client | what | rows | requests (mock log) | minimum | wall ms, median | every run, "
          "ms | floor of the pace, ms | wall / floor | SDK ms / cfiam ms |")
    print("|---|---|---:|---:|---:|---:|---|---:|---:|---:|")
    cf_ms = median([r["ms"] for r in cf["all"]])

    def reqs_text(rs):
        vals = sorted({r["requests"] for r in rs})
        return ", ".join(fmt(x) for x in vals)

    def row(client, what, rs, with_floor, ratio):
        ms = median([r["ms"] for r in rs])
        reqs = median([r["requests"] for r in rs])
        fl = floor_ms(reqs) if with_floor else None
        fl_text = fmt_ms(fl) if fl else "—"
        over = f"**{ms / fl:.2f}x**" if fl else "—"
        rows = sorted({r["rows"] for r in rs})
        print(f"| {client} | {what} | {', '.join(fmt(x) for x in rows)} | {reqs_text(rs)} | "
              f"{fmt(min_total)} | {fmt_ms(ms)} | {', '.join(fmt_ms(r['ms']) for r in rs)} | "
              f"{fl_text} | {over} | {ratio(ms)} |")
        return ms, fl

    measured = {}
    for key, label, _, _ in cf_kinds:
        measured[key] = row("cfiam", label, cf[key], True, lambda ms: "—")
    for v, rs in sdk.items():
        row("SDK", variant_text(*v)[len("SDK, "):], rs, False,
            lambda ms: f"{ms / cf_ms:.2f}x" if cf_ms > 0 else "—")
    print()
    print("Rows by way of access (cfiam, run 1): "
          + ", ".join(f"{k} {fmt(v)}" for k, v in sorted(ref["by_via"].items()))
          + f"; rows' digest (sha256 of the sorted rows) {ref['digest'][:16]}..."
          + (" (the same from every SELECT * and every SDK run)" if comparable and not any(
              "digest" in p for p in problems) else "")
          + ("" if comparable else " (not comparable: the view's columns changed)"))
    print()
    all_ms, all_floor = measured["all"]
    if all_floor:
        verdict = "met" if all_ms / all_floor <= TARGET else "**missed**"
        nojit_ms, nojit_floor = measured["nojit"]
        count_ms, count_floor = measured["count"]
        print(f"- Target: cfiam's wall time within {TARGET}x of the floor its pace sets, "
              f"(requests - {burst}) / {pace} s: `SELECT *` {all_ms / all_floor:.2f}x "
              f"({fmt_ms(all_ms)} ms against {fmt_ms(all_floor)} ms): {verdict}; `count(*)` "
              f"{count_ms / count_floor:.2f}x; `SELECT *` with `jit = off` "
              f"{nojit_ms / nojit_floor:.2f}x.")
    elif pace == 0:
        print("- Not paced (max_requests_per_second 0): no floor of the pace.")
    if jit_text:
        print(f"- JIT: {jit_text}")
    lists_text = ", ".join(f"{variant_text(*v)[len('SDK, '):]} "
                           f"{fmt_ms(median([r['list_ms'] for r in rs]))} ms"
                           for v, rs in sdk.items())
    print(f"- Wall time: cfiam, psql's \\timing of the statement (sent to the last row "
          f"received)"
          + (f"; the SDK, from creating the client to the last row computed (the lists alone, "
             f"median: {lists_text})" if sdk else "")
          + ". Requests: the mock's log of the statement or process"
          + (" (the SDK's own count agreed)" if sdk and not any("the SDK counted" in p
                                                                 for p in problems)
             else "") + ".")
    print()

    # per list: requests and when they arrived
    print(f"## When the requests arrived, by list (run {reps}, ms after the first request)")
    print()
    cols = [("cfiam SELECT *", cf["all"][-1]), ("cfiam count(*)", cf["count"][-1]),
            ("cfiam SELECT *, jit off", cf["nojit"][-1])] + \
        [(variant_text(*v), rs[-1]) for v, rs in sdk.items()]
    print("| list | minimum | " + " | ".join(c for c, _ in cols) + " |")
    print("|---|---:|" + "---|" * len(cols))
    names = [n for n, _ in LISTS]
    for r in (r for _, r in cols):
        names += [n for n in r["per_list"] if n not in names]
    for name in names:
        cells = []
        for _, r in cols:
            c = r["per_list"].get(name)
            cells.append(f"{c[0]} ({fmt_ms(c[1])} to {fmt_ms(c[2])})" if c else "0")
        print(f"| {name} | {minimum.get(name, 0)} | " + " | ".join(cells) + " |")
    print(f"| all: first to last arrival | | "
          + " | ".join(f"{fmt(r['requests'])} in {fmt_ms(r['span'])} ms" for _, r in cols)
          + " |")
    print()
    print("Each cell: requests (first to last arrival). The mock logs a request when it arrives; "
          f"its answer leaves {a.latency} ms later.")
    print()
    print(f"## The plan (`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) {SELECT_ALL}`, "
          f"one untimed run: {fmt(plan_requests)} requests)")
    print()
    print("```")
    print(plan)
    print("```")
    print()
    return print_end(load_at_start, started, problems)


if __name__ == "__main__":
    run_main(main, log)
