#!/usr/bin/env python3
"""mockctl.py - control the mock Cloudflare API (test/mock_cloudflare.py) from shell scripts
and from pg_regress tests (through psql's \\!).

The mock is reached at 127.0.0.1:$CFIAM_MOCK_PORT (default 18787). Output is deterministic
and minimal: commands print nothing unless stated. On any failure a message goes to stderr
and the exit status is non-zero.

    reset [--seed N] [--account-id X] [--user-groups N] [--members-per-group N]
          [--empty-groups N] [--account-members N] [--roles N] [--permission-groups N]
          [--resource-groups N] [--token T] [--email E] [--key K] [--tokens N]
          [--audit-events N] [--accounts N]
                    rebuild the seeded data (unspecified parameters take their defaults);
                    also clears the request log, faults, latency and rate limit. --tokens:
                    account-owned API tokens per account; --audit-events: seeded audit log
                    events per account; --accounts: how many accounts (the first is
                    --account-id)
    log [--keep] [--body]
                    print one line per logged API request, "METHOD PATH[?QUERY][ BODY]"
                    with the /client/v4 prefix removed; then clear the log unless --keep
    count [--keep]  print "requests: N"; then clear the log unless --keep
    starts [--keep] [--window-ms W]
                    print "N M S": N logged API requests, M the most of them that arrived
                    within any W ms (default 1000; first and last included), S the ms
                    from the first to the last; then clear the log unless --keep.  For
                    pg_regress: \set starts `python3 $MOCKCTL starts`, then compare in SQL
    clear-log       clear the request log
    fault KIND [--count N] [--status S] [--retry-after S] [--delay-ms MS] [--match SUBSTR]
               [--method GET|POST|PUT|DELETE]
               [--code C] [--message M] [--field PATH --value JSON]
               [--value-base64 B64] [--then 'METHOD /path [JSON body]']
                    inject a fault into the next N matching API requests; KIND is one of
                    status, delay, malformed, truncated, html, reset, success_false,
                    missing_result, patch (answer normally with PATH of each result
                    object set to JSON), envelope (the same for a path of the envelope,
                    e.g. result_info.total_count), reset_after (carry the request out,
                    then drop the connection), redirect (302 to another host), raw
                    (answer --status with the body text --value as it is, or with the
                    bytes --value-base64 gives, e.g. invalid UTF-8), repeat_page
                    (page N answers the rows of page N-1), meanwhile (carry the
                    request out, then apply --then as another admin would, then answer:
                    someone else's change between two of the client's requests)
    clear-faults    remove all pending faults
    latency MS      delay every API answer by MS milliseconds (0 disables)
    ratelimit --quota Q --window S [--spent N] [--header 'Name: value'] | --off
                    Cloudflare's rate limit: Q requests per S-second window (N of them
                    already spent), said on every answer in Ratelimit and
                    Ratelimit-Policy; past it, 429 code 10100 with Retry-After until the
                    window resets. --header sends that raw line instead; --off: no limit
    wait [--timeout SECONDS]
                    wait until the mock answers /__mock/health (default 10 s)
    audit [--last N] [--all] [--account ID] [--time] [--json]
                    print an account's audit log (the first account's by default), oldest
                    first, one event a line: "TYPE PRODUCT/RESOURCE_TYPE RESOURCE_ID
                    METHOD URI by CONTEXT[:TOKEN NAME or EMAIL]", with " (failure)" after a
                    failed action and the time first with --time. Only the events of the
                    API writes made since the reset, unless --all (the seeded history
                    too); the last N of them with --last. --json: the events as the API
                    answers them, one JSON object a line. Reading it is not an API
                    request: the request log is left as it is
"""

import argparse
import http.client
import json
import os
import sys
import time
from urllib.parse import urlencode

API_PREFIX = "/client/v4"
FAULT_KINDS = ("status", "delay", "malformed", "truncated", "html", "reset", "success_false",
               "missing_result", "patch", "envelope", "reset_after", "redirect", "raw",
               "repeat_page", "meanwhile")


class MockError(Exception):
    pass


def port():
    value = os.environ.get("CFIAM_MOCK_PORT") or "18787"
    try:
        return int(value)
    except ValueError:
        raise MockError(f"CFIAM_MOCK_PORT is not a port number: {value!r}")


def call(method, path, body=None, timeout=120):
    """One request to the mock's control interface; the decoded JSON answer."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    headers = {"Content-Type": "application/json"} if data is not None else {}
    conn = http.client.HTTPConnection("127.0.0.1", port(), timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
    except (OSError, http.client.HTTPException) as e:
        raise MockError(f"cannot reach the mock at 127.0.0.1:{port()}: {e}")
    finally:
        conn.close()
    try:
        answer = json.loads(raw.decode("utf-8"))
    except ValueError:
        raise MockError(f"{method} {path}: HTTP {resp.status}, answer is not JSON")
    if resp.status != 200:
        detail = answer.get("error") if isinstance(answer, dict) else None
        raise MockError(f"{method} {path}: HTTP {resp.status}: {detail or raw[:200]!r}")
    return answer


def out(text):
    # Always UTF-8, whatever the locale (pg_regress may run under LANG=C).
    sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.buffer.flush()


def take_log(keep):
    # GET ?clear=1 reads and clears in one step, so requests arriving in between are kept.
    answer = call("GET", "/__mock/log" if keep else "/__mock/log?clear=1")
    return answer["requests"]


def one_line(text):
    return text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


def cmd_reset(a):
    body = {}
    for name in ("seed", "account_id", "user_groups", "members_per_group", "empty_groups",
                 "account_members", "roles", "permission_groups", "resource_groups",
                 "token", "email", "key", "tokens", "audit_events", "accounts"):
        value = getattr(a, name)
        if value is not None:
            body[name] = value
    call("POST", "/__mock/reset", body)


def cmd_log(a):
    lines = []
    for r in take_log(a.keep):
        path = r["path"]
        if path.startswith(API_PREFIX + "/"):
            path = path[len(API_PREFIX):]
        line = f"{r['method']} {path}"
        if r["query"]:
            line += "?" + r["query"]
        if a.body and r["body"] is not None:
            line += " " + one_line(r["body"])
        lines.append(line + "\n")
    out("".join(lines))


def cmd_count(a):
    out(f"requests: {len(take_log(a.keep))}\n")


def cmd_starts(a):
    times = sorted(r["t"] for r in take_log(a.keep))
    most = 0
    first = 0
    for last, t in enumerate(times):
        while t - times[first] > a.window_ms / 1000.0:
            first += 1
        most = max(most, last - first + 1)
    span = round((times[-1] - times[0]) * 1000) if times else 0
    out(f"{len(times)} {most} {span}\n")


def cmd_clear_log(a):
    call("DELETE", "/__mock/log")


def cmd_fault(a):
    body = {"kind": a.kind, "count": a.count}
    for name in ("status", "retry_after", "delay_ms", "match", "method", "code", "message",
                 "field", "value", "value_base64", "then"):
        value = getattr(a, name)
        if value is not None:
            body[name] = value
    call("POST", "/__mock/faults", body)


def cmd_clear_faults(a):
    call("DELETE", "/__mock/faults")


def cmd_latency(a):
    call("POST", "/__mock/latency", {"ms": a.ms})


def cmd_ratelimit(a):
    if a.off:
        call("POST", "/__mock/ratelimit", {"off": True})
        return
    if a.quota is None or a.window is None:
        raise MockError("ratelimit needs --quota and --window, or --off")
    spec = {"quota": a.quota, "window": a.window, "spent": a.spent}
    if a.header is not None:
        spec["header"] = a.header
    call("POST", "/__mock/ratelimit", spec)


def cmd_wait(a):
    deadline = time.monotonic() + a.timeout
    last = None
    while True:
        try:
            if call("GET", "/__mock/health", timeout=2).get("ok") is True:
                return
        except MockError as e:
            last = e
        if time.monotonic() >= deadline:
            raise MockError(f"the mock did not answer within {a.timeout:g} s ({last})")
        time.sleep(0.1)


def audit_line(ev, with_time):
    """One audit event, compactly (no time unless asked: the rest is deterministic)."""
    res = ev.get("resource", {})
    raw = ev.get("raw", {})
    actor = ev.get("actor", {})
    action = ev.get("action", {})
    who = actor.get("context") or actor.get("type", "?")
    name = actor.get("token_name") or actor.get("email")
    line = (f"{action.get('type')} {res.get('product')}/{res.get('type')} "
            f"{res.get('id', '-')} {raw.get('method')} {raw.get('uri')} by {who}"
            + (f":{name}" if name else ""))
    if action.get("result") != "success":
        line += f" ({action.get('result')})"
    if with_time:
        line = f"{action.get('time')} {line}"
    return line


def cmd_audit(a):
    query = {}
    if a.account:
        query["account"] = a.account
    if a.last is not None:
        query["last"] = a.last
    if not a.all:
        query["own"] = 1
    events = call("GET", "/__mock/audit" + ("?" + urlencode(query) if query else ""))["events"]
    if a.json:
        out("".join(json.dumps(ev, ensure_ascii=False, separators=(",", ":")) + "\n"
                    for ev in events))
    else:
        out("".join(audit_line(ev, a.time) + "\n" for ev in events))


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def nonneg_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def parser():
    ap = argparse.ArgumentParser(prog="mockctl.py",
                                 description="Control the mock Cloudflare API.")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("reset", help="rebuild the seeded data")
    p.add_argument("--seed", type=int)
    p.add_argument("--account-id", dest="account_id")
    for opt in ("user-groups", "members-per-group", "empty-groups", "account-members",
                "roles", "permission-groups", "resource-groups", "tokens", "audit-events"):
        p.add_argument("--" + opt, dest=opt.replace("-", "_"), type=nonneg_int)
    p.add_argument("--accounts", type=positive_int)
    p.add_argument("--token")
    p.add_argument("--email")
    p.add_argument("--key")
    p.set_defaults(func=cmd_reset)

    p = sub.add_parser("log", help="print (and clear) the request log")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--body", action="store_true")
    p.set_defaults(func=cmd_log)

    p = sub.add_parser("count", help="print (and clear) the number of logged requests")
    p.add_argument("--keep", action="store_true")
    p.set_defaults(func=cmd_count)

    p = sub.add_parser("starts", help="print (and clear) how closely requests arrived")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--window-ms", dest="window_ms", type=nonneg_int, default=1000)
    p.set_defaults(func=cmd_starts)

    p = sub.add_parser("clear-log", help="clear the request log")
    p.set_defaults(func=cmd_clear_log)

    p = sub.add_parser("fault", help="inject a fault")
    p.add_argument("kind", choices=FAULT_KINDS)
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--status", type=int)
    p.add_argument("--retry-after", dest="retry_after", type=nonneg_int)
    p.add_argument("--delay-ms", dest="delay_ms", type=nonneg_int)
    p.add_argument("--match")
    p.add_argument("--method", choices=("GET", "POST", "PUT", "DELETE"))
    p.add_argument("--code", type=nonneg_int)
    p.add_argument("--message")
    p.add_argument("--field", help="patch: dotted path of the field to replace")
    p.add_argument("--value", help="patch: the JSON text to put there")
    p.add_argument("--value-base64", dest="value_base64",
                   help="raw: the answer's body as base64 (any bytes)")
    p.add_argument("--then", help="meanwhile: 'METHOD /path [JSON body]', applied by someone "
                                  "else after the matched request is carried out")
    p.set_defaults(func=cmd_fault)

    p = sub.add_parser("clear-faults", help="remove pending faults")
    p.set_defaults(func=cmd_clear_faults)

    p = sub.add_parser("latency", help="delay every API answer")
    p.add_argument("ms", type=nonneg_int)
    p.set_defaults(func=cmd_latency)

    p = sub.add_parser("ratelimit", help="Cloudflare's rate limit and its headers")
    p.add_argument("--quota", type=int)
    p.add_argument("--window", type=int)
    p.add_argument("--spent", type=int, default=0)
    p.add_argument("--header")
    p.add_argument("--off", action="store_true")
    p.set_defaults(func=cmd_ratelimit)

    p = sub.add_parser("wait", help="wait for the mock to come up")
    p.add_argument("--timeout", type=float, default=10.0)
    p.set_defaults(func=cmd_wait)

    p = sub.add_parser("audit", help="print an account's audit log")
    p.add_argument("--last", type=nonneg_int, help="only the last N events")
    p.add_argument("--all", action="store_true",
                   help="the seeded history too, not only the API writes since the reset")
    p.add_argument("--account", help="the account's id (default: the first account)")
    p.add_argument("--time", action="store_true", help="each event's time first")
    p.add_argument("--json", action="store_true", help="the events as JSON, one a line")
    p.set_defaults(func=cmd_audit)
    return ap


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except MockError as e:
        sys.stderr.write(f"mockctl: {e}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
