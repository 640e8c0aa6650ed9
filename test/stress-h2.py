#!/usr/bin/env python3
"""stress-h2.py - the measuring half of test/stress-h2.sh (which builds, installs and starts
the cluster, the mock and the TLS front, then calls this). It can be run by hand with the
environment stress-h2.sh sets: PGHOST, PGPORT, PGUSER, CFIAM_MOCK_PORT, CFIAM_API_URL,
CFIAM_CA_FILE, CFIAM_EXPECT_PROTOCOL, STRESS_PSQL.

For each max_concurrency setting (the server option), in one psql session:
 1. a probe, `EXPLAIN (ANALYZE, FORMAT JSON)` of one id lookup: the session's first request
    opens the connection and names the protocol the server negotiated ("API Protocol"),
    which must be the expected one (HTTP/2 over the TLS + HTTP/2 front);
 2. --scans consecutive full scans, `SELECT count(email) FROM stress.account_members`;
 3. --repeat fan-outs over every group's members, `SELECT count(*) FROM
    stress.user_group_members` (the group listing, then one listing per group);
 4. --repeat lookups of --ids account members by `id = ANY(...)` (one GET each).
Each statement's requests are counted by the mock (`mockctl count`, which also clears the
log) and its time by psql's \\timing. A statement fails if it errors or its count differs
from the data seeded; a request count other than the minimum the API's paging allows is
reported as well. Exit status 1 if anything failed or any count was off.
"""

import argparse
import http.client
import json
import math
import os
import re
import shlex
import ssl
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MOCKCTL = os.path.join(HERE, "mockctl.py")
PSQL = os.environ.get("STRESS_PSQL") or "psql"
MOCK_PORT = os.environ.get("CFIAM_MOCK_PORT") or "18787"
API_URL = os.environ.get("CFIAM_API_URL") or f"http://127.0.0.1:{MOCK_PORT}/client/v4"
CA_FILE = os.environ.get("CFIAM_CA_FILE") or ""
EXPECT_PROTOCOL = os.environ.get("CFIAM_EXPECT_PROTOCOL") or (
    "HTTP/2" if API_URL.startswith("https:") else "HTTP/1.1")

ACCOUNT = "0123456789abcdef0123456789abcdef"
TOKEN = "cfiam-test-token"
# per_page maxima of the API: account members 50, user groups and group members 500
AM_MAX, UG_MAX, GM_MAX = 50, 500, 500


class StressError(Exception):
    pass


def log(msg, end="\n"):
    sys.stderr.write(f"stress: {msg}{end}" if msg else end)
    sys.stderr.flush()


def mockctl(*args):
    r = subprocess.run([sys.executable, MOCKCTL, *map(str, args)], capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise StressError(f"mockctl {' '.join(map(str, args))}: {r.stderr.strip()}")
    return r.stdout


def psql(script, check=True):
    r = subprocess.run([PSQL, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"], input=script,
                       capture_output=True, text=True)
    if check and r.returncode != 0:
        raise StressError(f"psql failed: {r.stderr.strip()}")
    return r


def sql_literal(s):
    return "'" + s.replace("'", "''") + "'"


def ceil_div(a, b):
    return -(-a // b)


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def member_ids(total, want):
    """`want` account member ids spread evenly over the seeded list, read from the mock
    itself (plain HTTP, no cfiam involved)."""
    pages = ceil_div(total, AM_MAX)
    ids = []
    conn = http.client.HTTPConnection("127.0.0.1", int(MOCK_PORT), timeout=60)
    for page in range(1, pages + 1):
        conn.request("GET", f"/client/v4/accounts/{ACCOUNT}/members?page={page}&per_page={AM_MAX}",
                     headers={"Authorization": f"Bearer {TOKEN}"})
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise StressError(f"reading member ids from the mock: HTTP {resp.status}")
        ids += [m["id"] for m in json.loads(body)["result"]]
    conn.close()
    if len(ids) != total:
        raise StressError(f"the mock listed {len(ids)} account members, not {total}")
    step = max(1, len(ids) // want)
    chosen = ids[::step][:want]
    if len(chosen) != want:
        raise StressError(f"only {len(chosen)} ids to look up, not {want}")
    return chosen


def parse_settings(text, scans):
    """"1:20,4,8,16" -> [(1, 20), (4, scans), (8, scans), (16, scans)]."""
    out = []
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?::(\d+))?", part)
        if not m:
            raise ValueError(f"bad setting {part!r} (MC or MC:SCANS)")
        mc = int(m.group(1))
        n = int(m.group(2)) if m.group(2) is not None else scans
        if not 1 <= mc <= 16 or n < 0:
            raise ValueError(f"bad setting {part!r}: max_concurrency 1..16, scans >= 0")
        out.append((mc, n))
    return out


# One statement of the session, with its markers: its time (\timing), whether it failed
# (psql's ERROR variable), the error message, and the requests the mock saw since the last
# count (`mockctl count` run by psql's backquotes, which also clears the mock's log).
STATEMENT = """\\echo @@begin {tag}
\\timing on
{sql};
\\timing off
\\echo @@error :ERROR
\\if :ERROR
\\echo @@message :LAST_ERROR_MESSAGE
\\endif
\\set requests `{count}`
\\echo @@requests :requests
\\echo @@end
"""


def session(mc, n_scans, repeat, ids, expect):
    """One psql session at max_concurrency mc. Returns {kind: [run, ...]} and the probe."""
    count_cmd = " ".join(shlex.quote(x) for x in (sys.executable, MOCKCTL, "count"))
    id_list = ",".join(sql_literal(i) for i in ids)
    queries = {
        "scan": "SELECT count(email) FROM stress.account_members",
        "fanout": "SELECT count(*) FROM stress.user_group_members",
        "any": f"SELECT count(email) FROM stress.account_members WHERE id = ANY(ARRAY[{id_list}])",
    }
    plan = [("scan", i + 1) for i in range(n_scans)]
    plan += [("fanout", i + 1) for i in range(repeat)]
    plan += [("any", i + 1) for i in range(repeat)]

    script = ["SET client_min_messages = warning;\n",
              "\\echo @@probe\n",
              "EXPLAIN (ANALYZE, FORMAT JSON, COSTS OFF, TIMING OFF, SUMMARY OFF) "
              f"SELECT * FROM stress.account_members WHERE id = {sql_literal(ids[0])};\n",
              "\\echo @@probe-end\n",
              f"\\set requests `{count_cmd}`\n",
              "\\echo @@probe-requests :requests\n",
              "\\unset ON_ERROR_STOP\n"]
    for kind, i in plan:
        script.append(STATEMENT.format(tag=f"{kind} {i}", sql=queries[kind], count=count_cmd))

    mockctl("clear-log")
    proc = subprocess.Popen([PSQL, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdin.write("".join(script))
    proc.stdin.close()

    results = {"scan": [], "fanout": [], "any": []}
    probe_lines, probe_requests, in_probe = [], None, False
    cur = None
    for line in proc.stdout:
        line = line.rstrip("\n")
        if line == "@@probe":
            in_probe = True
        elif line == "@@probe-end":
            in_probe = False
        elif line.startswith("@@probe-requests "):
            probe_requests = int(re.search(r"(\d+)\s*$", line).group(1))
        elif in_probe:
            probe_lines.append(line)
        elif line.startswith("@@begin "):
            kind, i = line.split()[1:3]
            cur = {"kind": kind, "i": int(i), "ms": None, "value": None, "error": False,
                   "message": "", "requests": None}
        elif cur is None:
            continue
        elif line.startswith("Time: "):
            cur["ms"] = float(line.split()[1])
        elif line.startswith("@@error "):
            cur["error"] = line.split()[1] == "true"
        elif line.startswith("@@message "):
            cur["message"] = line[len("@@message "):]
        elif line.startswith("@@requests "):
            cur["requests"] = int(re.search(r"(\d+)\s*$", line).group(1))
        elif line == "@@end":
            results[cur["kind"]].append(cur)
            r = cur
            ok = not r["error"] and r["value"] == expect[r["kind"]]["rows"]
            n_done = sum(len(v) for v in results.values())
            log(f"  max_concurrency {mc}: {r['kind']} {r['i']}: "
                + (f"{r['ms'] / 1000:.2f} s, " if r["ms"] is not None else "")
                + f"{r['requests']} requests, "
                + ("ok" if ok else f"FAILED ({r['message'] or 'count ' + str(r['value'])})")
                + f"  [{n_done}/{len(plan)}]")
            cur = None
        elif re.fullmatch(r"-?\d+", line):
            cur["value"] = int(line)
    stderr = proc.stderr.read()
    rc = proc.wait()
    if probe_requests is None:
        raise StressError(f"max_concurrency {mc}: the probe failed: {stderr.strip()}")
    if sum(len(v) for v in results.values()) != len(plan):
        raise StressError(f"max_concurrency {mc}: psql stopped early (exit {rc}): "
                          f"{stderr.strip()[-2000:]}")
    try:
        node = json.loads("\n".join(probe_lines))[0]["Plan"]
        while node.get("Node Type") != "Foreign Scan":
            node = node["Plans"][0]
    except (ValueError, KeyError, IndexError) as e:
        raise StressError(f"max_concurrency {mc}: unreadable EXPLAIN output ({e}): "
                          + "\n".join(probe_lines)[:2000])
    probe = {"protocol": node.get("API Protocol"), "connections": node.get("API Connections"),
             "requests": node.get("API Requests"), "mock_requests": probe_requests}
    return results, probe, stderr


def summarize(runs, want_rows, want_requests):
    ok_ms = [r["ms"] for r in runs if r["ms"] is not None
             and not r["error"] and r["value"] == want_rows]
    failures = [r for r in runs if r["error"] or r["value"] != want_rows]
    reqs = [r["requests"] for r in runs]
    off = [r for r in runs if r["requests"] != want_requests]
    return {
        "runs": len(runs),
        "failures": failures,
        "req_min": min(reqs) if reqs else None,
        "req_max": max(reqs) if reqs else None,
        "off": off,
        "median_s": statistics.median(ok_ms) / 1000 if ok_ms else None,
        "max_s": max(ok_ms) / 1000 if ok_ms else None,
    }


def fmt_s(x):
    return "-" if x is None else f"{x:.2f}"


def main():
    ap = argparse.ArgumentParser(
        prog="stress-h2.sh",
        description="Consecutive full scans, fan-outs and id lookups through cfiam over "
                    "TLS + HTTP/2 (see the header of test/stress-h2.sh).")
    ap.add_argument("--scans", type=int, default=50,
                    help="consecutive full scans per setting (default 50)")
    ap.add_argument("--settings", default="1,4,8,16",
                    help="max_concurrency values, comma-separated; MC:SCANS gives one setting "
                         "its own number of scans, e.g. 1:20,4,8,16 (default 1,4,8,16)")
    ap.add_argument("--repeat", type=int, default=10,
                    help="fan-outs and id = ANY(...) lookups per setting (default 10)")
    ap.add_argument("--latency", type=int, default=50,
                    help="ms the mock adds to every answer (default 50)")
    ap.add_argument("--members", type=int, default=10000,
                    help="account members seeded (default 10000)")
    ap.add_argument("--groups", type=int, default=200, help="user groups (default 200)")
    ap.add_argument("--per-group", type=int, default=50, dest="per_group",
                    help="members per group (default 50)")
    ap.add_argument("--ids", type=int, default=200,
                    help="ids in the id = ANY(...) lookup (default 200)")
    a = ap.parse_args()
    try:
        settings = parse_settings(a.settings, a.scans)
    except ValueError as e:
        ap.error(str(e))
    if a.scans < 0 or a.repeat < 0 or a.latency < 0 or a.members < 1 or a.groups < 1 \
            or a.per_group < 1 or not 1 <= a.ids <= a.members:
        ap.error("--scans, --repeat, --latency >= 0; --members, --groups, --per-group >= 1; "
                 "1 <= --ids <= --members")
    if os.environ.get("STRESS_CHECK_ARGS"):
        return 0            # stress-h2.sh checks the arguments before it builds anything

    expect = {
        "scan": {"rows": a.members, "requests": max(1, ceil_div(a.members, AM_MAX))},
        "fanout": {"rows": a.groups * a.per_group,
                   "requests": max(1, ceil_div(a.groups, UG_MAX))
                   + a.groups * max(1, ceil_div(a.per_group, GM_MAX))},
        "any": {"rows": a.ids, "requests": a.ids},
    }
    started = time.monotonic()
    load_start = loadavg()

    log(f"seed the mock: {a.members} account members, {a.groups} groups x {a.per_group} members")
    mockctl("reset", "--account-members", a.members, "--user-groups", a.groups,
            "--members-per-group", a.per_group)
    ids = member_ids(a.members, a.ids)

    setup = ["SET client_min_messages = warning;",
             "CREATE EXTENSION IF NOT EXISTS cfiam;",
             "DROP SERVER IF EXISTS stress CASCADE;",
             "CREATE SERVER stress FOREIGN DATA WRAPPER cfiam OPTIONS ("
             f"account_id {sql_literal(ACCOUNT)}, api_url {sql_literal(API_URL)}"
             + (f", ca_file {sql_literal(CA_FILE)}" if CA_FILE else "") + ");",
             f"CREATE USER MAPPING FOR CURRENT_USER SERVER stress OPTIONS (api_token {sql_literal(TOKEN)});",
             "DROP SCHEMA IF EXISTS stress CASCADE;",
             "CREATE SCHEMA stress;",
             "IMPORT FOREIGN SCHEMA cfiam FROM SERVER stress INTO stress;"]
    psql("\n".join(setup) + "\n")
    mockctl("latency", a.latency)

    rows = []           # (mc, probe, {kind: summary})
    problems = []
    have_mc = False
    for mc, n_scans in settings:
        psql(f"ALTER SERVER stress OPTIONS ({'SET' if have_mc else 'ADD'} max_concurrency '{mc}');\n")
        have_mc = True
        log(f"max_concurrency {mc}: {n_scans} scans, {a.repeat} fan-outs, {a.repeat} id lookups")
        results, probe, stderr = session(mc, n_scans, a.repeat, ids, expect)
        summary = {k: summarize(v, expect[k]["rows"], expect[k]["requests"])
                   for k, v in results.items()}
        rows.append((mc, probe, summary))
        if probe["protocol"] != EXPECT_PROTOCOL:
            problems.append(f"max_concurrency {mc}: the server negotiated "
                            f"{probe['protocol'] or 'no protocol shown'}, not {EXPECT_PROTOCOL}")
        if probe["requests"] != 1 or probe["mock_requests"] != 1:
            problems.append(f"max_concurrency {mc}: the probe (one id) took {probe['requests']} "
                            f"requests (mock: {probe['mock_requests']}), not 1")
        for kind, s in summary.items():
            for r in s["failures"][:5]:
                why = r["message"] or f"count {r['value']}, expected {expect[kind]['rows']}"
                problems.append(f"max_concurrency {mc}: {kind} {r['i']} failed: {why}")
            if len(s["failures"]) > 5:
                problems.append(f"max_concurrency {mc}: {kind}: "
                                f"{len(s['failures']) - 5} more failures")
            for r in s["off"][:5]:
                problems.append(f"max_concurrency {mc}: {kind} {r['i']} made {r['requests']} "
                                f"requests, not {expect[kind]['requests']}")
            if len(s["off"]) > 5:
                problems.append(f"max_concurrency {mc}: {kind}: {len(s['off']) - 5} more "
                                "runs with a request count off")
        if any(s["failures"] for s in summary.values()) and stderr.strip():
            log(f"max_concurrency {mc}: psql's errors:\n{stderr.strip()[-4000:]}")
    mockctl("latency", 0)

    # ------------------------------------------------------------------ report
    elapsed = time.monotonic() - started
    print("# cfiam stress over " + ("TLS + HTTP/2" if EXPECT_PROTOCOL == "HTTP/2" and
                                      API_URL.startswith("https:") else API_URL.split(":")[0]))
    print()
    print(f"- command: `{os.environ.get('STRESS_CMDLINE', 'python3 test/stress-h2.py ' + ' '.join(sys.argv[1:]))}`")
    print(f"- API: {API_URL}" + (f" (ca_file {CA_FILE})" if CA_FILE else "")
          + f"; expected protocol {EXPECT_PROTOCOL}")
    print(f"- data: {a.members:,} account members, {a.groups} groups x {a.per_group} members; "
          f"{a.latency} ms added by the mock to every answer")
    print(f"- load average (1/5/15 min): {load_start} at the start, {loadavg()} at the end; "
          f"{os.cpu_count()} CPUs; total {elapsed / 60:.1f} min")
    print()
    print("Protocol negotiated (EXPLAIN (ANALYZE, FORMAT JSON) of the first statement of each "
          "session, one id lookup):")
    print()
    for mc, probe, _ in rows:
        mark = "ok" if probe["protocol"] == EXPECT_PROTOCOL else "WRONG"
        print(f"- max_concurrency {mc}: API Protocol {probe['protocol']}, API Connections "
              f"{probe['connections']}, API Requests {probe['requests']} ({mark})")
    print()
    print(f"Full scans, `SELECT count(email) FROM stress.account_members` ({a.members:,} rows, "
          f"{expect['scan']['requests']} requests each), consecutive in one session:")
    print()
    print("| max_concurrency | scans | failures | requests per scan (min/max) | "
          "median s per scan | max s |")
    print("|---:|---:|---:|---:|---:|---:|")
    for mc, _, s in rows:
        t = s["scan"]
        req = "-" if t["req_min"] is None else f"{t['req_min']}/{t['req_max']}"
        print(f"| {mc} | {t['runs']} | {len(t['failures'])} | {req} | {fmt_s(t['median_s'])} | "
              f"{fmt_s(t['max_s'])} |")
    print()
    print(f"Fan-out `SELECT count(*) FROM stress.user_group_members` ({expect['fanout']['rows']:,} "
          f"rows; {expect['fanout']['requests']} requests: {max(1, ceil_div(a.groups, UG_MAX))} "
          f"group listing page(s) + {a.groups} member listings) and `id = ANY(...)` of "
          f"{a.ids} ids ({expect['any']['requests']} GETs), after the scans in the same session:")
    print()
    print("| query | max_concurrency | runs | failures | requests per run (min/max) | "
          "expected | median s | max s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for kind, label in (("fanout", "fan-out"), ("any", "id = ANY")):
        for mc, _, s in rows:
            t = s[kind]
            req = "-" if t["req_min"] is None else f"{t['req_min']}/{t['req_max']}"
            print(f"| {label} | {mc} | {t['runs']} | {len(t['failures'])} | {req} | "
                  f"{expect[kind]['requests']} | {fmt_s(t['median_s'])} | {fmt_s(t['max_s'])} |")
    print()
    if problems:
        print("## Problems")
        print()
        for p in problems:
            print(f"- {p}")
    else:
        print("No failures; every request count equals the minimum; the protocol was "
              f"{EXPECT_PROTOCOL} in every session.")
    sys.stdout.flush()
    return 1 if problems else 0


if __name__ == "__main__":
    try:
        rc = main()
    except StressError as e:
        log(f"error: {e}")
        rc = 1
    sys.exit(rc)
