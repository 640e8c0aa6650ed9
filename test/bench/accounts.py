#!/usr/bin/env python3
"""accounts.py - the measuring half of test/bench/accounts.sh (accounts.sh installs the SDK,
builds and installs cfiam, starts a cluster, the mock API and the transport, then calls this). It
can be run by hand with the environment accounts.sh sets: PGHOST, PGPORT, PGUSER,
CFIAM_MOCK_PORT, CFIAM_API_URL, CFIAM_CA_FILE, CFIAM_EXPECT_PROTOCOL, ACCOUNTS_PSQL,
ACCOUNTS_LIBFILE.

What it measures, against the mock Cloudflare API (test/mock_cloudflare.py) seeded with
--accounts accounts (default 30) of --members account members each (default 500;
`mockctl reset --accounts N --account-members M`: every account has the same counts, its own
membership ids), every answer --latency ms late (default 50), through a cfiam server without
account_id (it covers every account the credential sees: GET /accounts, then each account's
listings; docs/queries.md "Every account"), schema cf, tables accounts and account_members
imported:

  - cfiam, with the server's default options, each statement in a fresh psql session (psql's
    \\timing), after a warm-up of one request in the same session:
      `SELECT account_id, count(*) FROM cf.account_members GROUP BY account_id` (the counts per
        account; the minimum is the account list + one smallest page per account, read from
        result_info.total_count, as count(*) pushdown does for one count),
      `SELECT count(*) FROM cf.account_members` (one count over every account, pushed down: the
        same minimum),
      `SELECT * FROM cf.account_members`, every row sent to psql and read by this script
        (counted, and digested: account_id, id, email, status),
      `SELECT count(email) FROM cf.account_members` (the same full scan, no rows sent; count(*)
        would be answered from total_count);
    the requests each sent (the mock's log) against the minimum the API's paging allows, and the
    wall time against the floor cfiam's pace of request starts sets:
      (requests - burst) / max_requests_per_second
    (160 a second after a burst of 16 by default: 301 requests, 1,781 ms);
  - the official SDK (accounts-sdk.mjs, a fresh node process each) looping over the accounts
    (`client.accounts.list()`, then each account's `client.accounts.members.list()`): the
    counts (page 1 of each account at per_page 5, result_info.total_count) and the full scan
    (50 a page), one request at a time with the SDK's own paging (`for await`'s requests) and
    4 requests in flight (a promise pool, each list's other pages from total_count); --sdk sets
    the variants;
  - the answers must agree (exit status 1 otherwise): every count per account is --members,
    from cfiam and from the SDK; the full scans have --accounts x --members rows, the same
    digest from cfiam and the SDK.

Each measurement is preceded, in the same session or process and untimed, by a warm-up: for cfiam
one request (`SELECT count(*) FROM cf.account_members WHERE account_id = '<the first
account>'`: cfiam loaded, the TLS + HTTP/2 connection to the front open; then the mock's log is
cleared), for node a request to the mock's health endpoint (as sdk.mjs does). Median over --reps
runs (default 3), the measurements in turn in each run. The report also shows, from the mock's
log of the last run of each cfiam statement, when each account's requests arrived and the
longest gaps between two requests.

Progress goes to stderr, the markdown report to stdout.
"""

import argparse
import hashlib
import os
import re
import time
from urllib.parse import parse_qs

from benchlib import (CA_FILE, SEP, TOKEN, BenchError, LibWatch, Pace, Psql, add_sdk_options,
                      ceil_div, check_sdk_options, fmt, fmt_ms, loadavg, logger, median, mockctl,
                      paging_text, print_end, print_setup, run_main, sdk_run as run_sdk,
                      server_option_list, sql_literal, take_log)

FIRST_ACCOUNT = "0123456789abcdef0123456789abcdef"   # the mock's first account (main-00)
# per_page limits of the API (the mock follows the OpenAPI description): accounts and account
# members 5..50.
ACCOUNTS_MAX, AM_MAX = 50, 50
GROUP = "SELECT account_id, count(*) FROM cf.account_members GROUP BY account_id"
COUNT = "SELECT count(*) FROM cf.account_members"
SELECT_ALL = "SELECT * FROM cf.account_members"
SCAN_COUNT = "SELECT count(email) FROM cf.account_members"
WARMUP = f"SELECT count(*) FROM cf.account_members WHERE account_id = '{FIRST_ACCOUNT}'"
DIGEST_COLUMNS = ("account_id", "id", "email", "status")

psql = Psql(os.environ.get("ACCOUNTS_PSQL") or "psql")
one = psql.one
# The installed library (accounts.sh: `pg_config --pkglibdir`/cfiam.so), which every new session
# loads: its digest is checked after every measurement, so that another `make install` is
# noticed.
LIBFILE = os.environ.get("ACCOUNTS_LIBFILE") or ""
log = logger("accounts")

ACCOUNTS_PATH = re.compile(r"/accounts$")
MEMBERS_PATH = re.compile(r"/accounts/([0-9a-f]{32})/members$")


# --------------------------------------------------------------------------- rows

def digest_lines(lines):
    """The sha256 of the lines sorted by their UTF-8 bytes, joined by \\n (accounts-sdk.mjs
    computes the same)."""
    keys = sorted(l.encode("utf-8") for l in lines)
    return hashlib.sha256(b"\n".join(keys)).hexdigest()


def timeline(entries, order):
    """From the mock's log: t0 (the first arrival), the account list's arrivals (ms after t0),
    per account index: [(page, per_page, ms)], the other requests, and every arrival (ms,
    label) in order."""
    if not entries:
        return {"lists": [], "accounts": {}, "other": [], "arrivals": [], "span": 0.0}
    t0 = min(e["t"] for e in entries)
    lists, accounts, other, arrivals = [], {}, [], []
    for e in sorted(entries, key=lambda e: e["t"]):
        ms = (e["t"] - t0) * 1000
        q = parse_qs(e.get("query") or "")
        page = int(q.get("page", ["1"])[0])
        per_page = int(q.get("per_page", ["0"])[0])
        m = MEMBERS_PATH.search(e["path"])
        if ACCOUNTS_PATH.search(e["path"]):
            lists.append(ms)
            arrivals.append((ms, f"GET /accounts page {page}"))
        elif m and m.group(1) in order:
            k = order[m.group(1)]
            accounts.setdefault(k, []).append((page, per_page, ms))
            arrivals.append((ms, f"account {k} page {page}"))
        else:
            other.append((ms, e["path"]))
            arrivals.append((ms, e["path"]))
    span = arrivals[-1][0] if arrivals else 0.0
    return {"lists": lists, "accounts": accounts, "other": other, "arrivals": arrivals,
            "span": span}


def most_within(ms_list, window):
    """The most arrivals within any `window` ms (first and last included)."""
    xs = sorted(ms_list)
    best, j = 0, 0
    for i, x in enumerate(xs):
        while xs[j] < x - window:
            j += 1
        best = max(best, i - j + 1)
    return best


def gaps(arrivals, n):
    """The n longest intervals between two consecutive arrivals: (ms, before, after)."""
    out = []
    for (a, la), (b, lb) in zip(arrivals, arrivals[1:]):
        out.append((b - a, la, lb, a))
    out.sort(key=lambda g: -g[0])
    return out[:n]


# --------------------------------------------------------------------------- measurements

def cfiam_run(sql, max_requests):
    return psql.timed(WARMUP, sql, max_requests)


def sdk_run(report, inflight, paging):
    return run_sdk("accounts-sdk.mjs", [],
                   ["--report", report, "--inflight", inflight, "--paging", paging])


def variant_text(inflight, paging):
    flight = ("one request at a time, the accounts in turn" if inflight == 1
              else f"{inflight} requests in flight, every account started at once")
    return f"{flight} ({paging_text(paging)})"


# --------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(prog="accounts.sh",
                                 description="cfiam's benchmark over every account (see the "
                                             "docstring of test/bench/accounts.py)")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke test: 5 accounts of 100 members, 1 run")
    ap.add_argument("--reps", type=int, help="runs of each measurement, median (default 3; 1 "
                                             "with --quick)")
    ap.add_argument("--latency", type=int, default=50, metavar="MS",
                    help="ms per answer (default 50)")
    ap.add_argument("--accounts", type=int, help="accounts (default 30)")
    ap.add_argument("--members", type=int, help="account members of each account (default 500)")
    add_sdk_options(ap, "accounts.sh")
    a = ap.parse_args()
    n_accounts = a.accounts if a.accounts is not None else (5 if a.quick else 30)
    members = a.members if a.members is not None else (100 if a.quick else 500)
    reps = a.reps if a.reps is not None else (1 if a.quick else 3)
    if reps < 1 or n_accounts < 1 or members < 1 or a.latency < 0:
        ap.error("--reps, --accounts and --members must be >= 1; --latency >= 0")
    if n_accounts > 1000:
        ap.error("--accounts is at most 1000 (the mock's limit)")
    variants = check_sdk_options(ap, a)
    if os.environ.get("BENCH_CHECK_ARGS"):
        return 0            # accounts.sh checks the arguments before it builds anything

    started = time.monotonic()
    load_at_start = loadavg()
    problems = []
    watch = LibWatch(LIBFILE, problems)
    digest = watch.first

    # ---- the accounts and cfiam's setup
    log(f"mock: {n_accounts} accounts of {members} account members")
    mockctl("reset", "--accounts", n_accounts, "--account-members", members)
    opts = server_option_list(a)
    psql("SET client_min_messages = warning;\n"
         "CREATE EXTENSION IF NOT EXISTS cfiam;\n"
         "DROP SCHEMA IF EXISTS cf CASCADE;\n"
         "DROP SERVER IF EXISTS cloudflare_all CASCADE;\n"
         f"CREATE SERVER cloudflare_all FOREIGN DATA WRAPPER cfiam OPTIONS ({', '.join(opts)});\n"
         "CREATE USER MAPPING FOR CURRENT_USER SERVER cloudflare_all OPTIONS "
         f"(api_token {sql_literal(TOKEN)});\n"
         "CREATE SCHEMA cf;\n"
         "IMPORT FOREIGN SCHEMA cfiam LIMIT TO (accounts, account_members) "
         "FROM SERVER cloudflare_all INTO cf;\n")
    columns = one("SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute "
                  "WHERE attrelid = 'cf.account_members'::regclass AND attnum > 0 "
                  "AND NOT attisdropped").split(",")
    missing = [c for c in DIGEST_COLUMNS if c not in columns]
    if missing:
        raise BenchError(f"cf.account_members has no column {', '.join(missing)}: {columns}")
    digest_idx = [columns.index(c) for c in DIGEST_COLUMNS]
    server_opts = psql.server_options("cloudflare_all")
    pg_version = one("SHOW server_version")
    ext_version = one("SELECT extversion FROM pg_extension WHERE extname = 'cfiam'")
    max_requests_default = one("LOAD 'cfiam';\nSHOW cfiam.max_requests")

    # The accounts, in the API's order (untimed, before the latency is set).
    account_rows = [l.split(SEP) for l in psql("SELECT id, name FROM cf.accounts").splitlines()]
    order = {aid: k for k, (aid, _) in enumerate(account_rows)}
    names = {k: name for k, (_, name) in enumerate(account_rows)}
    if len(order) != n_accounts:
        raise BenchError(f"cf.accounts has {len(order)} accounts, not {n_accounts}")
    expected_counts = {aid: members for aid in order}

    list_pages = max(1, ceil_div(n_accounts, ACCOUNTS_MAX))
    min_counts = list_pages + n_accounts
    min_scan = list_pages + n_accounts * ceil_div(members, AM_MAX)
    max_requests = 0 if min_scan > 900 else None

    mockctl("latency", a.latency)
    # Which protocol cfiam's server negotiated: EXPLAIN ANALYZE of a one-request query.
    protocol, connections = psql.protocol(WARMUP, problems)

    # The plans: what each statement is planned as, and the scan's requests per node.
    log("EXPLAIN of the statements")
    plans = {}
    for sql in (GROUP, COUNT):
        plans[sql] = psql(f"EXPLAIN (VERBOSE, COSTS OFF) {sql}").rstrip("\n")
    mockctl("clear-log")
    analyzed = {}
    for sql in (GROUP, SELECT_ALL):
        analyzed[sql] = psql(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) {sql}",
                             max_requests).rstrip("\n")
        analyzed[sql + " requests"] = len(take_log(False))

    pc = Pace(server_opts)
    mc_text, pace, pace_text = pc.mc_text, pc.pace, pc.pace_text
    burst_text, floor_ms = pc.burst_text, pc.floor_ms

    # ---- header
    print("# cfiam: every account, cfiam and the official SDK")
    print()
    print_setup("accounts.py", load_at_start, pg_version, ext_version, LIBFILE, digest, protocol,
                connections)
    print(f"- the mock: {fmt(n_accounts)} accounts of {fmt(members)} account members "
          f"({fmt(n_accounts * members)} in all); every answer {a.latency} ms late")
    shown = [f"{k} {v!r}" for k, v in sorted(server_opts.items())
             if k not in ("api_url", "ca_file")]
    shown_text = ", ".join(shown) if shown else (
        "none but api_url" + (", ca_file" if CA_FILE else "") + " (no account_id: every "
        "account)")
    print(f"- cfiam's server options: {shown_text}; max_concurrency {mc_text}; "
          f"max_requests_per_second {pace_text}, after a burst of {burst_text}; "
          + (f"`cfiam.max_requests = 0` (PGOPTIONS: the scan needs more than the default "
             f"{max_requests_default})" if max_requests is not None
             else f"cfiam.max_requests {max_requests_default} (the default)"))
    print(f"- the minimum of requests: the counts {list_pages} (GET /accounts, {ACCOUNTS_MAX} a "
          f"page) + {n_accounts} (one page of each account's members, total_count) = "
          f"**{fmt(min_counts)}**; the full scan {list_pages} + {n_accounts} x "
          f"{ceil_div(members, AM_MAX)} ({AM_MAX} members a page) = **{fmt(min_scan)}**; the "
          f"floor cfiam's pace sets: (requests - {burst_text}) / "
          f"{pace if pace is not None else '?'} s"
          + (f" = {fmt_ms(floor_ms(min_counts))} ms and {fmt_ms(floor_ms(min_scan))} ms at the "
             f"minimum" if floor_ms(min_scan) is not None else ""))
    print(f"- {reps} run(s); in each, in turn: cfiam `{GROUP}`, `{COUNT}`, `{SELECT_ALL}` "
          f"(every row to psql, counted and digested here), `{SCAN_COUNT}`; then the SDK's "
          "counts and full scan, "
          + ("; ".join(variant_text(*v) for v in variants) if variants else "no SDK variant")
          + "; cfiam a fresh psql session each (psql's \\timing) after a warm-up of one "
            f"request (`{WARMUP}`: cfiam loaded, the connection open; the mock's log cleared "
            "after it); the SDK a fresh node process each, timed from creating the client to "
            "the last answer")
    print()

    # ---- the runs
    check_lib = watch.check

    cf_kinds = [
        # (key, statement, minimum)
        ("group", GROUP, min_counts),
        ("count", COUNT, min_counts),
        ("all", SELECT_ALL, min_scan),
        ("scan_count", SCAN_COUNT, min_scan),
    ]
    cf = {k: [] for k, *_ in cf_kinds}
    sdk = {(rep, v): [] for rep in ("counts", "scan") for v in variants}
    total = n_accounts * members
    for rep in range(reps):
        for key, sql, _ in cf_kinds:
            log(f"run {rep + 1}/{reps}: cfiam {sql}")
            lines, ms, entries = cfiam_run(sql, max_requests)
            r = {"ms": ms, "requests": len(entries),
                 "timeline": timeline(entries, order), "digest": None}
            if key == "group":
                got = {}
                for l in lines:
                    aid, n = l.split(SEP)
                    got[aid] = int(n)
                r["rows"] = sum(got.values())
                if got != expected_counts:
                    problems.append(f"cfiam `{sql}`, run {rep + 1}: {len(got)} accounts, not "
                                    f"{members} members in each of the {n_accounts}")
            elif key in ("count", "scan_count"):
                if len(lines) != 1 or not lines[0].isdigit():
                    raise BenchError(f"{sql} answered {lines[:3]}")
                r["rows"] = int(lines[0])
            else:
                keys = []
                for l in lines:
                    cols = l.split(SEP)
                    if len(cols) != len(columns):
                        raise BenchError(f"a row of {len(cols)} columns, not {len(columns)}: "
                                         f"{l[:200]}")
                    keys.append(SEP.join(cols[i] for i in digest_idx))
                r["rows"] = len(keys)
                r["digest"] = digest_lines(keys)
            if r["rows"] != total:
                problems.append(f"cfiam `{sql}`, run {rep + 1}: {r['rows']} members, not "
                                f"{total}")
            cf[key].append(r)
            log(f"  {r['rows']} members, {len(entries)} requests, {ms:,.0f} ms")
            check_lib(f"cfiam `{sql}`, run {rep + 1}")

        for report in ("counts", "scan"):
            for v in variants:
                log(f"run {rep + 1}/{reps}: SDK {report}, {variant_text(*v)}")
                out, entries = sdk_run(report, *v)
                if out["requests"] != len(entries):
                    problems.append(f"SDK {report}, {variant_text(*v)}, run {rep + 1}: the SDK "
                                    f"counted {out['requests']} requests, the mock logged "
                                    f"{len(entries)}")
                if out["counts"] != expected_counts:
                    problems.append(f"SDK {report}, {variant_text(*v)}, run {rep + 1}: not "
                                    f"{members} members in each of the {n_accounts} accounts")
                sdk[(report, v)].append({"rows": out["rows"], "digest": out["digest"],
                                         "ms": out["ms"], "requests": len(entries),
                                         "timeline": timeline(entries, order)})
                log(f"  {out['rows']} members, {len(entries)} requests, {out['ms']:,.0f} ms")
        check_lib(f"the SDK's run {rep + 1}")

    # ---- checks: every scan has the rows of cfiam's first SELECT *
    ref = cf["all"][0]
    for k, r in enumerate(cf["all"]):
        if r["digest"] != ref["digest"]:
            problems.append(f"cfiam `{SELECT_ALL}`, run {k + 1}: not the same rows as run 1")
    for v in variants:
        for k, r in enumerate(sdk[("scan", v)]):
            if r["rows"] != ref["rows"] or r["digest"] != ref["digest"]:
                problems.append(f"SDK scan, {variant_text(*v)}, run {k + 1}: {r['rows']} rows "
                                f"(digest {(r['digest'] or '?')[:12]}), cfiam {ref['rows']} "
                                f"(digest {ref['digest'][:12]})")

    # ---- report
    print(f"## Side by side, median of {reps}")
    print()
    print("| client | what | members | requests (mock log) | minimum | wall ms, median | every "
          "run, ms | floor of the pace, ms | wall / floor | SDK ms / cfiam ms |")
    print("|---|---|---:|---:|---:|---:|---|---:|---:|---:|")

    def reqs_text(rs):
        vals = sorted({r["requests"] for r in rs})
        return ", ".join(fmt(x) for x in vals)

    def row(client, what, rs, minimum, with_floor, ratio):
        ms = median([r["ms"] for r in rs])
        reqs = median([r["requests"] for r in rs])
        fl = floor_ms(reqs) if with_floor else None
        fl_text = fmt_ms(fl) if fl else "—"
        over = f"**{ms / fl:.2f}x**" if fl else "—"
        rows = sorted({r["rows"] for r in rs})
        print(f"| {client} | {what} | {', '.join(fmt(x) for x in rows)} | {reqs_text(rs)} | "
              f"{fmt(minimum)} | {fmt_ms(ms)} | {', '.join(fmt_ms(r['ms']) for r in rs)} | "
              f"{fl_text} | {over} | {ratio(ms)} |")
        return ms

    cf_ms = {}
    for key, sql, minimum in cf_kinds:
        cf_ms[key] = row("cfiam", f"`{sql}`", cf[key], minimum, True, lambda ms: "—")
    for report, against, minimum in (("counts", "group", min_counts), ("scan", "all", min_scan)):
        for v in variants:
            base = cf_ms[against]
            row("SDK", f"{report}: {variant_text(*v)}", sdk[(report, v)], minimum, False,
                lambda ms, base=base: f"**{ms / base:.2f}x**" if base > 0 else "—")
    print()
    print(f"- The SDK's ratio is against cfiam's `{GROUP}` for the counts and `{SELECT_ALL}` "
          "for the full scan. Wall time: cfiam, psql's \\timing of the statement (sent to the "
          "last row received); the SDK, from creating the client to the last answer. Requests: "
          "the mock's log of the statement or process"
          + (" (the SDK's own count agreed)" if variants and not any(
              "the SDK counted" in p for p in problems) else "") + ".")
    print(f"- Every count: {fmt(members)} members in each of the {n_accounts} accounts, from "
          "cfiam and every SDK variant; every full scan the same rows (digest of account_id, "
          f"id, email, status: {ref['digest'][:16]}...)"
          + ("" if not any("rows" in p or "members" in p for p in problems)
             else " **except as listed under Problems**") + ".")
    print()

    # ---- the plans
    for sql in (GROUP, COUNT):
        print(f"`EXPLAIN (VERBOSE, COSTS OFF) {sql}`:")
        print()
        print("```")
        print(plans[sql])
        print("```")
        print()
    for sql in (GROUP, SELECT_ALL):
        print(f"`EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) {sql}` (one untimed run: "
              f"{fmt(analyzed[sql + ' requests'])} requests in the mock's log):")
        print()
        print("```")
        print(analyzed[sql])
        print("```")
        print()

    # ---- when the requests arrived
    print(f"## When the requests arrived (run {reps}, ms after the first request)")
    print()
    cols = [(f"cfiam `{sql}`", cf[key][-1]) for key, sql, _ in cf_kinds] + \
        [(f"SDK {report}, {variant_text(*v)}", sdk[(report, v)][-1])
         for report in ("counts", "scan") for v in variants]
    print("| measurement | requests | GET /accounts at | first account request | last "
          "arrival | most in any 1 s | most in any 50 ms | longest gaps between two arrivals "
          "(ms: before -> after, at) |")
    print("|---|---:|---|---:|---:|---:|---:|---|")
    for label, r in cols:
        tl = r["timeline"]
        acc_ms = [ms for reqs in tl["accounts"].values() for _, _, ms in reqs]
        first_acc = fmt_ms(min(acc_ms)) if acc_ms else "—"
        arr = [ms for ms, _ in tl["arrivals"]]
        g = "; ".join(f"{d:,.0f} ({b} -> {c}, at {fmt_ms(at)})"
                      for d, b, c, at in gaps(tl["arrivals"], 3))
        print(f"| {label} | {fmt(r['requests'])} | "
              f"{', '.join(fmt_ms(x) for x in tl['lists']) or '—'} | {first_acc} | "
              f"{fmt_ms(tl['span'])} | {most_within(arr, 1000)} | {most_within(arr, 50)} | "
              f"{g} |")
    print()
    print("The mock logs a request when it arrives; its answer leaves "
          f"{a.latency} ms later. \"Most in any 50 ms\" is about the requests in flight at once "
          "at that latency.")
    print()

    def per_account(r, title):
        tl = r["timeline"]
        print(f"{title}: per account (in the order of GET /accounts), the requests and when "
              "they arrived, ms after the first request:")
        print()
        print("| account | requests | page 1 at | other pages (first to last) | per_page |")
        print("|---|---:|---:|---|---|")
        for k in sorted(tl["accounts"]):
            reqs = tl["accounts"][k]
            p1 = [ms for p, _, ms in reqs if p == 1]
            rest = [ms for p, _, ms in reqs if p != 1]
            pp = sorted({pp for _, pp, _ in reqs})
            print(f"| {k} {names.get(k, '')} | {len(reqs)} | "
                  f"{', '.join(fmt_ms(x) for x in p1) or '—'} | "
                  + (f"{len(rest)} ({fmt_ms(min(rest))} to {fmt_ms(max(rest))})" if rest
                     else "—")
                  + f" | {', '.join(str(x) for x in pp)} |")
        missing_acc = [k for k in names if k not in tl["accounts"]]
        if missing_acc:
            print(f"| not read: {', '.join(str(k) for k in missing_acc)} | 0 | | | |")
        if tl["other"]:
            print(f"| other | {len(tl['other'])} | | "
                  f"{', '.join(sorted({p for _, p in tl['other']}))} | |")
        print()

    # One account after another: when each account's turn came.
    print(f"cfiam, account by account (run {reps}): page 1 of every account's listing, then "
          "each account's turn: its other pages (or, for `count(*)`, its one request), ms "
          "between the start of one account's turn and the next one's:")
    print()
    print("| statement | page 1 of every account (first to last arrival) | an account's turn "
          "after the one before: median (min to max), ms | turns | pace of the turn's requests "
          "alone, ms |")
    print("|---|---|---|---:|---:|")
    for key, sql, _ in cf_kinds:
        tl = cf[key][-1]["timeline"]
        reqs = tl["accounts"]
        p1 = [ms for k in reqs for p, _, ms in reqs[k] if p == 1]
        if all(any(p != 1 for p, _, _ in reqs[k]) for k in reqs) and reqs:
            starts = [min(ms for p, _, ms in reqs[k] if p != 1) for k in sorted(reqs)]
            per_turn = median([sum(1 for p, _, _ in reqs[k] if p != 1) for k in reqs])
            p1_text = f"{len(p1)} ({fmt_ms(min(p1))} to {fmt_ms(max(p1))})"
        else:
            starts = sorted(p1)
            per_turn = 1
            p1_text = "— (the turn is page 1)"
        d = [b - a for a, b in zip(starts, starts[1:])]
        turn_text = (f"{median(d):,.1f} ({min(d):,.1f} to {max(d):,.1f})" if d else "—")
        pace_text = (f"{per_turn / pace * 1000:,.1f} ({per_turn:g} request{'s' if per_turn != 1 else ''})" if pace
                     else "—")
        print(f"| `{sql}` | {p1_text} | {turn_text} | {len(starts)} | {pace_text} |")
    print()

    per_account(cf["group"][-1], f"cfiam `{GROUP}`, run {reps}")
    per_account(cf["count"][-1], f"cfiam `{COUNT}`, run {reps}")
    per_account(cf["all"][-1], f"cfiam `{SELECT_ALL}`, run {reps}")

    return print_end(load_at_start, started, problems)


if __name__ == "__main__":
    run_main(main, log)
