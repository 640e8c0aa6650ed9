#!/usr/bin/env python3
"""fuzz.py - a seeded fuzzer for cfiam's JSON decoder and request builders, through
the real backend.

The decoder and the builders call PostgreSQL backend functions (palloc, ereport,
type input functions), so they are fuzzed in place: one long-lived psql session
runs a statement per case against a cluster with cfiam installed and the mock API
(test/mock_cloudflare.py) running; test/fuzz.sh arranges both.

Decoder side: each case takes a real envelope captured from the mock and mutates
it (byte flips, truncation, deep nesting, huge numbers, NaN-like tokens, a wrong
JSON type for a field of the envelope or of a row, NUL escapes, very long
strings, duplicate keys, odd timestamps, lone surrogates, ...), has the mock
answer the next matching request with exactly that body (the `raw` fault; some
cases use the `patch` and `envelope` faults instead), and runs a SELECT (or a
write whose answer is mutated) on the matching table. Bodies that are not valid
UTF-8 cannot travel through the mock's `raw` fault (its value is text), so those
come from a tiny byte-exact HTTP server inside this script, reached through a
second foreign server ("fuzzbytes").

Request-builder side: random SQL values in WHERE quals (id =, id = ANY, name =,
LIKE/ILIKE, status =, user_group_id =) and in INSERT/UPDATE/DELETE values and
cfiam_replace_user_group_members(); the mock's request log then must show
  * every path segment after /accounts/ a known literal or 32 lowercase hex,
  * every query-string value percent-encoded (only unreserved characters and
    %XX), decoding to exactly the value the SQL gave,
  * request bodies carrying exactly the values given,
  * no request at all for values cfiam must refuse.

Every case must end in rows or an ERROR; a lost connection (crash), a case that
outlives its statement_timeout plus a margin (hang), an internal error (SQLSTATE
XX000) or a bad request fails the run. The postgres log is checked for crash
lines at the end.

    python3 test/fuzz.py [--seed N] [--cases N] [--only decoder|builder]
                         [--pglog FILE] [--verbose]

Connection: PGHOST, PGPORT, PGUSER as for psql; the mock at CFIAM_MOCK_PORT.
The database needs cfiam and test/fixture.sql's objects (server "cloudflare",
schema cf); this script creates the rest.
"""

import argparse
import collections
import http.client
import http.server
import json
import os
import queue
import random
import re
import subprocess
import sys
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ACCOUNT = "0123456789abcdef0123456789abcdef"
TOKEN = "cfiam-test-token"
PREFIX = "/client/v4"
HEX = "0123456789abcdef"
PATH_LITERALS = {"iam", "user_groups", "members", "roles", "permission_groups",
                 "resource_groups"}
QUERY_PARAMS = {"name", "fuzzyName", "fuzzyEmail", "status", "order", "direction", "page",
                "per_page"}
UNRESERVED_OR_PCT = re.compile(r"^(?:[A-Za-z0-9\-._~]|%[0-9A-F]{2})*$")
STATEMENT_TIMEOUT_S = 15
CASE_DEADLINE_S = STATEMENT_TIMEOUT_S + 30


def mock_port():
    return int(os.environ.get("CFIAM_MOCK_PORT") or "18787")


def mock_call(method, path, body=None, headers=None, raw=False):
    data = None if body is None else json.dumps(body).encode("utf-8")
    h = {"Content-Type": "application/json"} if data is not None else {}
    h.update(headers or {})
    conn = http.client.HTTPConnection("127.0.0.1", mock_port(), timeout=60)
    try:
        conn.request(method, path, body=data, headers=h)
        resp = conn.getresponse()
        text = resp.read()
    finally:
        conn.close()
    if raw:
        return resp.status, text
    if resp.status != 200:
        raise RuntimeError(f"mock {method} {path}: HTTP {resp.status}: {text[:300]!r}")
    return json.loads(text.decode("utf-8"))


def fault(kind, **kw):
    spec = {"kind": kind}
    spec.update({k: v for k, v in kw.items() if v is not None})
    mock_call("POST", "/__mock/faults", spec)


def take_log():
    return mock_call("GET", "/__mock/log?clear=1")["requests"]


def api_get(path):
    status, text = mock_call("GET", PREFIX + path, headers={"Authorization": "Bearer " + TOKEN},
                             raw=True)
    return text.decode("utf-8")


def is_id(s):
    return isinstance(s, str) and len(s) == 32 and all(c in HEX for c in s)


# --------------------------------------------------------------------------- psql session

class Psql:
    """One psql process fed through stdin; each case ends with a marker line."""

    def __init__(self, psql):
        self.psql = psql
        self.n = 0
        self.start()

    def start(self):
        env = dict(os.environ)
        env.pop("PGOPTIONS", None)
        self.proc = subprocess.Popen(
            [self.psql, "-X", "-q", "-v", "ON_ERROR_STOP=0", "-d",
             os.environ.get("PGDATABASE", "postgres")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        self.lines = queue.Queue()
        threading.Thread(target=self._reader, args=(self.proc.stdout, self.lines),
                         daemon=True).start()
        self.send("\\set VERBOSITY verbose\n\\pset pager off\n"
                  f"SET statement_timeout = '{STATEMENT_TIMEOUT_S}s';\n"
                  "SET client_min_messages = warning;\n")
        self.run("SELECT 1;")

    @staticmethod
    def _reader(stream, q):
        for line in iter(stream.readline, b""):
            q.put(line.decode("utf-8", "replace"))
        q.put(None)

    def send(self, text):
        self.proc.stdin.write(text.encode("utf-8"))
        self.proc.stdin.flush()

    def run(self, sql, deadline=CASE_DEADLINE_S):
        """Run sql; returns (output text, status) with status ok|lost|hang."""
        self.n += 1
        marker = f"@@CASE-END-{self.n}@@"
        try:
            self.send(sql.rstrip() + "\n\\echo " + marker + "\n")
        except (BrokenPipeError, OSError):
            return "", "lost"
        out = []
        end = time.monotonic() + deadline
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, end - time.monotonic()))
            except queue.Empty:
                return "".join(out), "hang"
            if line is None:
                return "".join(out), "lost"
            if line.strip() == marker:
                return "".join(out), "ok"
            out.append(line)

    def alive(self):
        out, status = self.run("SELECT 'alive-' || 42 AS probe;", deadline=60)
        return status == "ok" and "alive-42" in out

    def restart(self):
        try:
            self.proc.kill()
        except OSError:
            pass
        self.proc.wait()
        self.start()

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()


def sql_lit(s):
    return "'" + s.replace("'", "''") + "'"


def sql_text_array(values):
    return "ARRAY[" + ",".join(sql_lit(v) for v in values) + "]::text[]" if values \
        else "'{}'::text[]"


ERROR_RE = re.compile(r"ERROR:  ([0-9A-Z]{5}): (.*)")


def errors_of(out):
    return ERROR_RE.findall(out)


# --------------------------------------------------------------------------- byte server

class ByteServer:
    """Answers API requests with queued raw bytes (anything, e.g. invalid UTF-8); once
    the queue is empty, with an empty page. For the "fuzzbytes" foreign server."""

    EMPTY = json.dumps({"success": True, "errors": [], "messages": [], "result": [],
                        "result_info": {"page": 1, "per_page": 50, "count": 0,
                                        "total_count": 0}}).encode()

    def __init__(self):
        self.answers = collections.deque()
        self.log = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                outer.log.append((self.command, self.path))
                status, body = outer.answers.popleft() if outer.answers else (200, outer.EMPTY)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_PUT = do_DELETE = do_GET

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


# --------------------------------------------------------------------------- decoder side

# Table -> (query run, path substring the fault matches, how to capture a real answer)
def decoder_targets(ids):
    g, m, r = ids["group"], ids["member"], ids["role"]
    a = f"/accounts/{ACCOUNT}"
    return [
        ("SELECT * FROM cf.user_groups", f"{a}/iam/user_groups", f"{a}/iam/user_groups?per_page=5"),
        ("SELECT * FROM cf.user_groups WHERE id = " + sql_lit(g), f"{a}/iam/user_groups/{g}",
         f"{a}/iam/user_groups/{g}"),
        ("SELECT * FROM cf.user_group_members WHERE user_group_id = " + sql_lit(g),
         f"{a}/iam/user_groups/{g}/members", f"{a}/iam/user_groups/{g}/members?per_page=5"),
        ("SELECT * FROM cf.user_group_members", f"{a}/iam/user_groups",
         f"{a}/iam/user_groups?per_page=5"),
        ("SELECT * FROM cf.user_group_members WHERE user_group_id = " + sql_lit(g) +
         " AND id = " + sql_lit(m), f"{a}/iam/user_groups/{g}/members/{m}",
         f"{a}/iam/user_groups/{g}/members/{m}"),
        ("SELECT * FROM cf.account_members", f"{a}/members", f"{a}/members?per_page=5"),
        ("SELECT * FROM cf.account_members WHERE id = " + sql_lit(m), f"{a}/members/{m}",
         f"{a}/members/{m}"),
        ("SELECT * FROM cf.roles", f"{a}/roles", f"{a}/roles?per_page=5"),
        ("SELECT * FROM cf.roles WHERE id = " + sql_lit(r), f"{a}/roles/{r}", f"{a}/roles/{r}"),
        ("SELECT * FROM cf.permission_groups", f"{a}/iam/permission_groups",
         f"{a}/iam/permission_groups?per_page=5"),
        ("SELECT * FROM cf.resource_groups", f"{a}/iam/resource_groups",
         f"{a}/iam/resource_groups"),
        # answers to writes go through the same conversion
        ("INSERT INTO cf.user_groups (name) VALUES ('fuzz answer') RETURNING *",
         f"{a}/iam/user_groups", f"{a}/iam/user_groups/{g}"),
        ("UPDATE cf.account_members SET roles = " + sql_lit(json.dumps([ids["role"]])) +
         " WHERE id = " + sql_lit(m) + " RETURNING *", f"{a}/members/{m}", f"{a}/members/{m}"),
        ("SELECT * FROM cfiam_replace_user_group_members('cloudflare', " + sql_lit(g) +
         ", ARRAY[" + sql_lit(m) + "])", f"{a}/iam/user_groups/{g}/members",
         f"{a}/iam/user_groups/{g}/members?per_page=5"),
    ]


TIMESTAMPS = ["2024-01-01T00:00:00Z", "2024-01-01T00:00:00.123456789Z",
              "2024-01-01T00:00:00.1234567890123456789Z", "2024-13-45T25:61:61Z",
              "0000-00-00T00:00:00Z", "infinity", "-infinity", "epoch", "now", "today",
              "294277-01-01T00:00:00Z", "4714-11-24T00:00:00Z BC", "2024-01-01T00:00:00+99:99",
              "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00,5Z", "", " ", "T", "Z",
              "2024-02-30T00:00:00Z", "9999999999", "2024-01-01T00:00:00.-1Z",
              "2024-01-01T00:00:00+14:00", "2024-01-01T00:00:00.000000000000000000000001Z",
              "2024-01-01 00:00:00 America/New_York", "allballs", "2024-1-1T1:1:1Z"]

NUMBERS = ["1e400", "-1e400", "1e-400", "-0", "0.5", "9223372036854775808",
           "-9223372036854775809", "123456789012345678901234567890123456789",
           "1" + "0" * 400, "1.7976931348623157e308", "4294967296", "2147483648", "-1",
           "0e0", "1E+2", "-0.0000001"]

TOKENS = ["NaN", "Infinity", "-Infinity", "nan", "inf", "undefined", "True", "None", "nul",
          "tru", "01", "+1", ".5", "1.", "0x10", "'single'", "\"\\x41\"", "\"\\u12\"",
          "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\uD83D\\uDE00\"",
          "\"\\u0000\"", "\"a\\u0000b\"", "\"\\u0000\\u0000\"", "\"\\/\"", "[,]", "{,}",
          "[1,]", "{\"a\":}", "{\"a\" 1}", "\"\t\"", "\"\n\""]


def rand_scalar_json(rnd, depth=0, valid=False):
    """Random JSON text; with valid, only text Python's json module accepts (so that
    the decoder gets past the envelope and the column conversion is reached)."""
    if valid:
        for _ in range(20):
            v = rand_scalar_json(rnd, depth)
            try:
                json.loads(v)
                return v
            except (ValueError, RecursionError):
                pass
        return "null"
    k = rnd.randrange(18)
    if k == 0:
        return "null"
    if k == 1:
        return rnd.choice(["true", "false"])
    if k == 2:
        return rnd.choice(NUMBERS)
    if k == 3:
        return rnd.choice(TOKENS)
    if k == 4:
        return json.dumps(rnd.choice(TIMESTAMPS))
    if k == 5:
        return json.dumps("x" * rnd.choice([0, 1, 255, 256, 4096, 65536, 1 << 20]))
    if k == 6:
        return json.dumps("".join(rnd.choice(HEX) for _ in range(32)))
    if k == 7:
        return json.dumps(rand_text(rnd))
    if k == 8:
        n = rnd.choice([1, 2, 100, 999, 1000, 1001, 5000, 10000])
        return "[" * n + "]" * n if rnd.random() < 0.7 else "[" * n
    if k == 9:
        n = rnd.choice([10, 998, 1000, 2000])
        return '{"a":' * n + "1" + "}" * n
    if k == 10:
        return "[]"
    if k == 11:
        return "{}"
    if k == 12 and depth < 3:
        return "[" + ",".join(rand_scalar_json(rnd, depth + 1)
                              for _ in range(rnd.randrange(4))) + "]"
    if k == 13 and depth < 3:
        return "{" + ",".join(json.dumps(rnd.choice(["id", "name", "email", "x", ""])) + ":" +
                              rand_scalar_json(rnd, depth + 1)
                              for _ in range(rnd.randrange(4))) + "}"
    if k == 14:
        return json.dumps({"id": rand_text(rnd)})
    if k == 15:
        return "[" + ",".join(['{"id":' + rand_scalar_json(rnd, 3) + "}"] * rnd.randrange(1, 4)) + "]"
    if k == 16:
        return '"%s%n%x%p\\\\"'
    return json.dumps(rnd.choice(["accepted", "pending", "rejected", "", "NULL", "{}", "{a,b}",
                                  "a\"b", "a\\b", "{\"x\"}", "x,y", " "]))


# dotted field paths of an envelope and of a row (the latter under "result")
ENVELOPE_FIELDS = ["success", "errors", "messages", "result", "result_info",
                   "result_info.total_count", "result_info.per_page", "result_info.page",
                   "result_info.count"]
ROW_FIELDS = ["id", "name", "email", "status", "created_on", "modified_on", "policies",
              "description", "permissions", "meta", "scope", "user", "user.email",
              "user.id", "user.first_name", "user.last_name",
              "user.two_factor_authentication_enabled", "roles", "roles.0", "roles.0.id",
              "policies.0", "policies.0.id", "policies.0.access", "policies.0.permission_groups",
              "policies.0.resource_groups.0"]


def set_path(doc, path, raw_value):
    """Set a dotted path (numbers index lists) to the JSON text raw_value, working on
    JSON text with a placeholder so that values Python cannot hold (1e400, NaN, deep
    nesting, invalid tokens) go out as they are."""
    placeholder = "__FUZZ_PLACEHOLDER_7f3a__"
    item = doc
    parts = path.split(".")
    for p in parts[:-1]:
        if isinstance(item, list) and p.isdigit() and int(p) < len(item):
            item = item[int(p)]
        elif isinstance(item, dict):
            item = item.setdefault(p, {})
        else:
            return None
    last = parts[-1]
    if isinstance(item, list) and last.isdigit() and int(last) < len(item):
        item[int(last)] = placeholder
    elif isinstance(item, dict):
        item[last] = placeholder
    else:
        return None
    return json.dumps(doc, separators=(",", ":")).replace(json.dumps(placeholder), raw_value, 1)


def rand_text(rnd):
    pieces = ["%", "_", "\\", "'", "''", "\"", "&", "=", "?", "#", "/", "+", " ", "\n", "\r",
              "\t", ";", ",", ":", "@", "..", "../", "%2F", "%00", "%25", "é", "ß", "日本",
              "😀", "\u202e", "\u00a0", "\ufeff", "a", "Group", "0001", "example.com", "*",
              "[", "]", "{", "}", "<", ">", "|", "^", "`", "$1", "{$1}", "\x01", "\x1f", "\x7f",
              "\u0085", "\u2028", "~", "!", "()"]
    n = rnd.choice([0, 1, 2, 3, 5, 8, 20])
    s = "".join(rnd.choice(pieces) if rnd.random() < 0.6 else
                rnd.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._")
                for _ in range(n))
    r = rnd.random()
    if r < 0.05:
        s = s + "x" * rnd.choice([1000, 8000, 70000])
    elif r < 0.10:
        s = "".join(rnd.choice(HEX) for _ in range(32))
    elif r < 0.13:
        s = "".join(rnd.choice(HEX) for _ in range(32)).upper()
    elif r < 0.16:
        s = "".join(rnd.choice(HEX) for _ in range(rnd.choice([31, 33])))
    return s


def mutate_envelope(rnd, base):
    """A mutated answer: (kind label, body text)."""
    try:
        doc = json.loads(base)
    except (ValueError, RecursionError):
        doc = None          # an earlier mutation broke it: text-level mutations only
    if not isinstance(doc, dict):
        doc = None
    k = rnd.randrange(14)
    if doc is None and k in (2, 3, 4, 5, 6):
        k = 0
    if k == 0:                                      # character flips
        b = list(base) or ["{"]
        for _ in range(rnd.randrange(1, 8)):
            i = rnd.randrange(len(b))
            b[i] = rnd.choice(['"', "{", "}", "[", "]", ",", ":", "\\", "0", "-", "e", "\x00",
                               " ", "n", "t", chr(rnd.randrange(32, 127))])
        return "flip", "".join(b)
    if k == 1:                                      # truncation
        return "truncate", base[:rnd.randrange(len(base) + 1)]
    if k == 2:                                      # wrong type in the envelope
        f = rnd.choice(ENVELOPE_FIELDS)
        return "envelope:" + f, set_path(doc, f, rand_scalar_json(rnd)) or base
    if k in (3, 4, 5, 6):                           # wrong type in a row field
        f = rnd.choice(ROW_FIELDS)
        rows = doc.get("result")
        if isinstance(rows, list) and rows:
            path = f"result.{rnd.randrange(len(rows))}.{f}"
        else:
            path = "result." + f
        v = rand_scalar_json(rnd, valid=rnd.random() < 0.8) if k != 6 else \
            json.dumps(rnd.choice(TIMESTAMPS))
        return "row:" + f, set_path(doc, path, v) or base
    if k == 7:                                      # deep nesting as the whole body
        n = rnd.choice([1000, 10000, 100000])
        return "deep", "[" * n if rnd.random() < 0.5 else '{"result":' + "[" * n + "]" * n + "}"
    if k == 8:                                      # duplicate keys
        dup = rnd.choice(['"result":null,', '"success":false,', '"result":{},',
                          '"result":[1],', '"success":true,', '"result_info":[],'])
        text = base.replace("{", "{" + dup, 1) if rnd.random() < 0.5 else \
            base[:-1] + "," + dup.rstrip(",") + "}"
        if rnd.random() < 0.5:
            text = text.replace('"id":', '"id":"dup","id":', 1)
        return "dupkey", text
    if k == 9:                                      # NUL, odd escapes, control chars in strings
        esc = rnd.choice(["\\u0000", "\x00", "\\ud800", "\\udfff", "\\uD83D\\uDE00", "\x01",
                          "\\b\\f", "\u2028", "\\\\", "\\\"", "\\u00"])
        return "escape", base.replace('":"', '":"' + esc, rnd.randrange(1, 4))
    if k == 10:                                     # very long string
        n = rnd.choice([100000, 1 << 20, 5 << 20])
        return "long", base.replace('":"', '":"' + "y" * n, 1)
    if k == 11:                                     # whole-body oddities
        return "body", rnd.choice(["", " ", "null", "[]", "{}", "\"x\"", "1", "true",
                                   "\ufeff" + base, base + "garbage", base + "\x00" + base,
                                   "{\"success\":true}", "{\"success\":true,\"result\":null}",
                                   "{\"success\":true,\"result\":{}}",
                                   "{\"success\":true,\"result\":[null]}",
                                   "{\"success\":true,\"result\":[[]]}",
                                   "{\"success\":true,\"result\":[1,2,3]}",
                                   "{\"success\":\"true\",\"result\":[]}",
                                   "{\"success\":false,\"errors\":[{\"code\":1e300,\"message\":\"m\"}]}",
                                   "{\"success\":false,\"errors\":[{\"code\":-5,\"message\":\"%s%n\"}]}",
                                   "{\"success\":false,\"errors\":[{\"code\":1,\"message\":null}]}",
                                   "{\"success\":false,\"errors\":{}}",
                                   "{\"success\":false,\"errors\":[null]}",
                                   base.replace("true", "false", 1)])
    if k == 12:                                     # numbers and NaN-like tokens anywhere
        return "number", re.sub(r"(?<=:)(\d+|true|false|null)", lambda _m: rnd.choice(
            NUMBERS + TOKENS), base, count=rnd.randrange(1, 5))
    # k == 13: several mutations stacked
    text = base
    for _ in range(rnd.randrange(2, 4)):
        _, text = mutate_envelope(rnd, text)
    return "stacked", text


INVALID_UTF8 = [b"\xff", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
                b"\x80", b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98", b"\xfe\xfe", b"\x00"]


# --------------------------------------------------------------------------- builder side

def like_core(p):
    """pushdown.c's cf_like_core: the literal core of '%v%', or None."""
    start, end = 0, len(p)
    while start < end and p[start] == "%":
        start += 1
    while end > start and p[end - 1] == "%":
        end -= 1
    if end == start:
        return None
    core = p[start:end]
    if any(c in "%_\\" for c in core):
        return None
    return core


def looks_like_email(s):
    b = s.encode("utf-8")
    if len(b) > 90 or "@" not in s:
        return False
    at = s.index("@")
    if at == 0 or "@" in s[at + 1:]:
        return False
    for c in s:
        if ord(c) <= 32 or c in "\"<>,;\\\x7f":
            return False
    dot = s.rfind(".")
    return dot > at + 1 and dot != len(s) - 1


def rand_email(rnd):
    r = rnd.random()
    if r < 0.4:
        return f"fz{rnd.randrange(10**9)}@example.com"
    if r < 0.6:
        return f"{rand_text(rnd)}@ex{rnd.randrange(100)}.com"
    if r < 0.7:
        return "a" * rnd.choice([80, 85, 86, 87, 90]) + "@e.co"
    return rand_text(rnd)


def rand_ref(rnd, valid_ids):
    r = rnd.random()
    if r < 0.35:
        return rnd.choice(valid_ids)
    if r < 0.55:
        return {"id": rnd.choice(valid_ids)}
    if r < 0.65:
        return {"id": rnd.choice(valid_ids), "name": "extra", "meta": {"x": 1}}
    return rnd.choice([rand_text(rnd), {"id": rand_text(rnd)}, {"id": 5}, None, 1, [], {},
                       {"ID": rnd.choice(valid_ids)}, rnd.choice(valid_ids).upper()])


def rand_policies(rnd, ids):
    if rnd.random() < 0.1:
        return rnd.choice([{}, "x", 1, None, {"access": "allow"}, [None], [1]])
    out = []
    for _ in range(rnd.randrange(0, 3)):
        p = {}
        if rnd.random() < 0.9:
            p["access"] = rnd.choice(["allow", "deny"]) if rnd.random() < 0.85 else \
                rnd.choice(["Allow", "", None, 1, "allow ", rand_text(rnd)])
        if rnd.random() < 0.5:
            p["id"] = rnd.choice([ids["policy"], rand_text(rnd), ""]) if rnd.random() < 0.8 \
                else rnd.choice([1, None, []])
        for key, pool in (("permission_groups", ids["pgs"]), ("resource_groups", ids["rgs"])):
            if rnd.random() < 0.93:
                p[key] = [rand_ref(rnd, pool) for _ in range(rnd.randrange(0, 3))] \
                    if rnd.random() < 0.9 else rnd.choice([{}, "x", None, 1])
        out.append(p)
    return out


def expected_policies(policies, id_rule):
    """modify.c's policies_body: the body it sends, or None when it must refuse."""
    if not isinstance(policies, list):
        return None
    out = []
    for pol in policies:
        if not isinstance(pol, dict):
            return None
        pid = pol.get("id") if isinstance(pol.get("id"), str) else None
        if id_rule == 2 and not pid:
            return None
        p = {}
        if id_rule > 0 and pid is not None:
            p["id"] = pid
        if pol.get("access") not in ("allow", "deny"):
            return None
        p["access"] = pol["access"]
        for key in ("permission_groups", "resource_groups"):
            refs = expected_refs(pol.get(key))
            if refs is None:
                return None
            p[key] = refs
        out.append(p)
    return out


def expected_refs(refs):
    if not isinstance(refs, list):
        return None
    out = []
    for r in refs:
        rid = r if isinstance(r, str) else (r.get("id") if isinstance(r, dict) else None)
        if not isinstance(rid, str) or not is_id(rid):
            return None
        out.append({"id": rid})
    return out


class Checker:
    """Checks the requests a builder case made against what it should have made."""

    def __init__(self):
        self.bad = []

    def fail(self, case, why, requests):
        self.bad.append((case, why, [(r["method"], r["path"], r["query"],
                                      (r["body"] or "")[:300]) for r in requests]))

    def check_paths(self, case, requests):
        ok = True
        for r in requests:
            path = r["path"]
            if not path.startswith(PREFIX + "/accounts/"):
                self.fail(case, f"path outside /accounts/: {path!r}", requests)
                ok = False
                continue
            segs = path[len(PREFIX + "/accounts/"):].split("/")
            if segs[0] != ACCOUNT or any(not (s in PATH_LITERALS or is_id(s)) for s in segs[1:]):
                self.fail(case, f"path segment neither a known literal nor 32 hex: {path!r}",
                          requests)
                ok = False
            if r["query"]:
                for part in r["query"].split("&"):
                    k, sep, v = part.partition("=")
                    if not sep or k not in QUERY_PARAMS or not UNRESERVED_OR_PCT.match(v):
                        self.fail(case, f"query part not percent-encoded or unknown: {part!r}",
                                  requests)
                        ok = False
        return ok

    def query_values(self, r):
        out = {}
        for part in (r["query"] or "").split("&"):
            if part:
                k, _, v = part.partition("=")
                try:
                    out.setdefault(k, []).append(urllib.parse.unquote(v, errors="strict"))
                except UnicodeDecodeError:
                    out.setdefault(k, []).append(None)
        return out


def build_case(rnd, ids):
    """A random builder case: (label, sql, expectation function(requests, output) -> why|None)."""
    a = f"{PREFIX}/accounts/{ACCOUNT}"
    g, m = ids["group"], ids["member"]
    k = rnd.randrange(15)
    s = rand_text(rnd)

    def none_sent(reqs, out):
        return f"REFUSE: {len(reqs)} request(s) sent for a value cfiam must refuse" if reqs else None

    if k == 0:      # user_groups.name = s
        def exp(reqs, out):
            if len(reqs) != 1:
                return f"expected 1 listing, saw {len(reqs)}"
            q = Checker().query_values(reqs[0])
            if reqs[0]["path"] != f"{a}/iam/user_groups":
                return "wrong path"
            return None if q.get("name") == [s] else f"name sent as {q.get('name')!r}, given {s!r}"
        return "name=", f"SELECT count(*) FROM cf.user_groups WHERE name = {sql_lit(s)};", exp
    if k in (1, 2):  # LIKE / ILIKE
        p = rnd.choice(["%" + s + "%", s, "%" + s, s + "%", "%%" + s + "%%", s + "_", "\\%" + s])
        table, col, param = rnd.choice([("cf.user_groups", "name", "fuzzyName"),
                                        ("cf.user_group_members", "email", "fuzzyEmail")])
        op = "LIKE" if k == 1 else "ILIKE"
        where = f"{col} {op} {sql_lit(p)}"
        if table == "cf.user_group_members":
            where = f"user_group_id = {sql_lit(g)} AND " + where
        core = like_core(p)

        def exp(reqs, out):
            if len(reqs) != 1:
                return f"expected 1 listing, saw {len(reqs)}"
            q = Checker().query_values(reqs[0])
            want = None if core is None else [core]
            return None if q.get(param) == want else \
                f"{param} sent as {q.get(param)!r}, pattern {p!r} (core {core!r})"
        return "like", f"SELECT count(*) FROM {table} WHERE {where};", exp
    if k == 3:      # id = s on any table
        v = rnd.choice([s, ids["group"], ids["member"], ids["role"]])
        table, path = rnd.choice([("user_groups", "iam/user_groups"), ("account_members", "members"),
                                  ("roles", "roles"), ("permission_groups", "iam/permission_groups"),
                                  ("resource_groups", "iam/resource_groups")])

        def exp(reqs, out):
            if not is_id(v):
                return none_sent(reqs, out)
            if len(reqs) != 1 or reqs[0]["path"] != f"{a}/{path}/{v}":
                return f"expected one GET {path}/{v}"
            return None
        return "id=", f"SELECT * FROM cf.{table} WHERE id = {sql_lit(v)};", exp
    if k == 4:      # id = ANY
        vals = [rnd.choice([rand_text(rnd), ids["group"], ids["member"], "".join(
            rnd.choice(HEX) for _ in range(32))]) for _ in range(rnd.randrange(0, 6))]
        want = []
        for v in vals:
            if is_id(v) and v not in want:
                want.append(v)

        def exp(reqs, out):
            got = [r["path"] for r in reqs]
            exp_paths = [f"{a}/members/{v}" for v in want]
            return None if sorted(got) == sorted(exp_paths) else \
                f"expected GETs {exp_paths}, saw {got}"
        return "any", f"SELECT * FROM cf.account_members WHERE id = ANY({sql_text_array(vals)});", exp
    if k == 5:      # status = s
        v = rnd.choice([s, "accepted", "pending", "rejected", "Accepted", "accepted "])

        def exp(reqs, out):
            if v not in ("accepted", "pending", "rejected"):
                return none_sent(reqs, out)
            q = Checker().query_values(reqs[0]) if len(reqs) == 1 else {}
            return None if q.get("status") == [v] else f"status sent as {q.get('status')!r}"
        return "status", f"SELECT count(*) FROM cf.account_members WHERE status = {sql_lit(v)};", exp
    if k == 6:      # user_group_id = s
        v = rnd.choice([s, g])

        def exp(reqs, out):
            if not is_id(v):
                return none_sent(reqs, out)
            return None if [r["path"] for r in reqs] == [f"{a}/iam/user_groups/{v}/members"] \
                else "expected one members listing"
        return "parent", f"SELECT * FROM cf.user_group_members WHERE user_group_id = {sql_lit(v)};", exp
    if k == 7:      # permission/resource group name =, also through a prepared statement
        table, path = rnd.choice([("permission_groups", "iam/permission_groups"),
                                  ("resource_groups", "iam/resource_groups")])
        prep = rnd.random() < 0.5
        sql = (f"PREPARE fz(text) AS SELECT * FROM cf.{table} WHERE name = $1;\n"
               f"EXECUTE fz({sql_lit(s)});\nDEALLOCATE fz;") if prep else \
            f"SELECT * FROM cf.{table} WHERE name = {sql_lit(s)};"

        def exp(reqs, out):
            if len(reqs) != 1 or reqs[0]["path"] != f"{a}/{path}":
                return f"expected one listing of {path}"
            q = Checker().query_values(reqs[0])
            return None if q.get("name") == [s] else f"name sent as {q.get('name')!r}, given {s!r}"
        return "pgname", sql, exp
    if k == 8:      # INSERT user_groups (name, policies)
        name = rnd.choice([s, "", "fuzz " + s])
        pol = rand_policies(rnd, ids) if rnd.random() < 0.7 else None
        want_pol = expected_policies(pol, 0) if pol is not None else None
        refuse = name == "" or (pol is not None and want_pol is None)
        sql = (f"INSERT INTO cf.user_groups (name, policies) VALUES ({sql_lit(name)}, "
               f"{sql_lit(json.dumps(pol)) + '::jsonb' if pol is not None else 'NULL'}) RETURNING id;")

        def exp(reqs, out):
            if refuse:
                return none_sent(reqs, out)
            if len(reqs) != 1 or reqs[0]["method"] != "POST" or \
                    reqs[0]["path"] != f"{a}/iam/user_groups":
                return "expected one POST iam/user_groups"
            body = json.loads(reqs[0]["body"])
            want = {"name": name}
            if pol is not None:
                want["policies"] = want_pol
            return None if body == want else f"body {body!r}, expected {want!r}"
        return "ins-group", sql, exp
    if k == 9:      # INSERT account_members
        email = rand_email(rnd)
        status = rnd.choice([None, None, "accepted", "pending", "rejected", s])
        how = rnd.choice(["role_ids", "roles", "policies"])
        if how == "role_ids":
            vals = [rnd.choice([ids["role"], rand_text(rnd)]) for _ in range(rnd.randrange(1, 3))]
            val_sql = sql_text_array(vals)
            want_roles = vals if all(is_id(v) for v in vals) else None
            ok_roles = want_roles is not None
        elif how == "roles":
            vals = [rand_ref(rnd, [ids["role"]]) for _ in range(rnd.randrange(0, 3))]
            val_sql = sql_lit(json.dumps(vals)) + "::jsonb"
            refs = expected_refs(vals)
            want_roles = [r["id"] for r in refs] if refs is not None else None
            ok_roles = refs is not None
        else:
            vals = rand_policies(rnd, ids)
            val_sql = sql_lit(json.dumps(vals)) + "::jsonb"
            want_pol = expected_policies(vals, 1)
            ok_roles = want_pol is not None
        refuse = not looks_like_email(email) or (status not in (None, "accepted", "pending")) \
            or not ok_roles
        cols = "email, " + how + (", status" if status is not None else "")
        values = sql_lit(email) + ", " + val_sql + (", " + sql_lit(status) if status else "")
        sql = f"INSERT INTO cf.account_members ({cols}) VALUES ({values}) RETURNING id;"

        def exp(reqs, out):
            if refuse:
                return none_sent(reqs, out)
            if len(reqs) != 1 or reqs[0]["method"] != "POST" or reqs[0]["path"] != f"{a}/members":
                return "expected one POST members"
            body = json.loads(reqs[0]["body"])
            want = {"email": email}
            if how == "policies":
                want["policies"] = want_pol
            else:
                want["roles"] = want_roles
            if status is not None:
                want["status"] = status
            return None if body == want else f"body {body!r}, expected {want!r}"
        return "ins-member", sql, exp
    if k == 10:     # UPDATE user_groups SET name / policies
        name = rnd.choice([s, ""])
        pol = rand_policies(rnd, ids)
        use_pol = rnd.random() < 0.5
        want_pol = expected_policies(pol, 2)
        target = rnd.choice([g, s])
        refuse_put = (name == "" and not use_pol) or (use_pol and want_pol is None)
        set_sql = f"policies = {sql_lit(json.dumps(pol))}::jsonb" if use_pol else \
            f"name = {sql_lit(name)}"
        sql = f"UPDATE cf.user_groups SET {set_sql} WHERE id = {sql_lit(target)};"

        def exp(reqs, out):
            if not is_id(target):
                return none_sent(reqs, out)
            puts = [r for r in reqs if r["method"] == "PUT"]
            if refuse_put:
                return f"REFUSE: PUT sent for a value cfiam must refuse" if puts else None
            if not puts and target != g:
                return None         # a random id: no such group, nothing to update
            if len(puts) != 1 or puts[0]["path"] != f"{a}/iam/user_groups/{target}":
                return "expected one PUT"
            body = json.loads(puts[0]["body"])
            want = {"policies": want_pol} if use_pol else {"name": name}
            return None if body == want else f"body {body!r}, expected {want!r}"
        return "upd-group", sql, exp
    if k == 11:     # UPDATE account_members SET roles / role_ids
        target = rnd.choice([m, m, s])
        if rnd.random() < 0.5:
            vals = [rand_ref(rnd, [ids["role"]]) for _ in range(rnd.randrange(0, 3))]
            set_sql = f"roles = {sql_lit(json.dumps(vals))}::jsonb"
            refs = expected_refs(vals)
        else:
            vals = [rnd.choice([ids["role"], rand_text(rnd)]) for _ in range(rnd.randrange(0, 3))]
            set_sql = f"role_ids = {sql_text_array(vals)}"
            refs = [{"id": v} for v in vals] if all(is_id(v) for v in vals) else None
        sql = f"UPDATE cf.account_members SET {set_sql} WHERE id = {sql_lit(target)};"

        def exp(reqs, out):
            if not is_id(target):
                return none_sent(reqs, out)
            puts = [r for r in reqs if r["method"] == "PUT"]
            if refs is None:
                return "REFUSE: PUT sent for a value cfiam must refuse" if puts else None
            if len(puts) != 1:
                return "expected one PUT"
            body = json.loads(puts[0]["body"])
            return None if body == {"roles": refs} else f"body {body!r}, expected roles {refs!r}"
        return "upd-member", sql, exp
    if k == 12:     # DELETE with a random id
        target = rnd.choice([s, "".join(rnd.choice(HEX) for _ in range(32))])
        table, path = rnd.choice([("user_groups", "iam/user_groups"), ("account_members", "members")])

        def exp(reqs, out):
            if not is_id(target):
                return none_sent(reqs, out)
            bad = [r for r in reqs if r["path"] != f"{a}/{path}/{target}"]
            return f"unexpected request {bad[0]['method']} {bad[0]['path']}" if bad else None
        return "delete", f"DELETE FROM cf.{table} WHERE id = {sql_lit(target)};", exp
    if k == 13:     # INSERT a membership
        gid = rnd.choice([g, s])
        mids = [rnd.choice([m, s, rand_text(rnd), ids["member2"]]) for _ in range(rnd.randrange(1, 4))]
        values = ", ".join(f"({sql_lit(gid)}, {sql_lit(x)})" for x in mids)
        refuse = not is_id(gid) or not all(is_id(x) for x in mids) or len(set(mids)) != len(mids)
        ret = " RETURNING *" if rnd.random() < 0.3 else ""
        sql = f"INSERT INTO cf.user_group_members (user_group_id, id) VALUES {values}{ret};"

        def exp(reqs, out):
            if refuse:
                # with RETURNING rows go one at a time: rows before a bad one may be sent
                if ret:
                    ok = 0
                    for x in mids:
                        if not is_id(gid) or not is_id(x) or x in mids[:ok]:
                            break
                        ok += 1
                    if len(reqs) > ok and len(set(mids)) != len(mids) and \
                            all(is_id(x) for x in mids) and is_id(gid):
                        return ("NOTE: a member given twice in one INSERT ... RETURNING is sent "
                                "twice (README: refused with 23505 before anything is sent)")
                    return None if len(reqs) <= ok else f"REFUSE: {len(reqs)} POSTs, at most {ok} expected"
                return none_sent(reqs, out)
            for r in reqs:
                if r["path"] != f"{a}/iam/user_groups/{gid}/members":
                    return f"unexpected path {r['path']}"
                if any(not is_id(x.get("id", "")) for x in json.loads(r["body"])):
                    return "a non-id member id in a body"
            return None
        return "ins-membership", sql, exp
    # k == 14: cfiam_replace_user_group_members
    gid = rnd.choice([g, s])
    mids = [rnd.choice([m, ids["member2"], s, rand_text(rnd)]) for _ in range(rnd.randrange(0, 4))]
    refuse = not is_id(gid) or not all(is_id(x) for x in mids)
    sql = (f"SELECT * FROM cfiam_replace_user_group_members('cloudflare', {sql_lit(gid)}, "
           f"{sql_text_array(mids)});")

    def exp(reqs, out):
        if refuse:
            return none_sent(reqs, out)
        if len(reqs) != 1 or reqs[0]["method"] != "PUT" or \
                reqs[0]["path"] != f"{a}/iam/user_groups/{gid}/members":
            return "expected one PUT members"
        want = []
        for x in mids:
            if {"id": x} not in want:
                want.append({"id": x})
        body = json.loads(reqs[0]["body"])
        return None if body == want else f"body {body!r}, expected {want!r}"
    return "replace", sql, exp


# --------------------------------------------------------------------------- driver

class Fuzzer:
    def __init__(self, args):
        self.args = args
        self.rnd = random.Random(args.seed)
        self.psql = Psql(args.psql)
        self.stats = collections.Counter()
        self.sqlstates = collections.Counter()
        self.kinds = collections.Counter()
        self.crashes = []
        self.hangs = []
        self.internal = []
        self.checker = Checker()
        self.notes = collections.Counter()
        self.byte_server = ByteServer()

    def setup(self):
        mock_call("POST", "/__mock/reset", {})
        port = self.byte_server.port
        out, st = self.psql.run(f"""
DROP SERVER IF EXISTS fuzzbytes CASCADE;
CREATE SERVER fuzzbytes FOREIGN DATA WRAPPER cfiam
  OPTIONS (account_id '{ACCOUNT}', api_url 'http://127.0.0.1:{port}/client/v4', timeout_ms '10000');
CREATE USER MAPPING FOR CURRENT_USER SERVER fuzzbytes OPTIONS (api_token '{TOKEN}');
DROP SCHEMA IF EXISTS fzb CASCADE;
CREATE SCHEMA fzb;
IMPORT FOREIGN SCHEMA cfiam FROM SERVER fuzzbytes INTO fzb;
""")
        if st != "ok" or errors_of(out):
            raise SystemExit(f"fuzz: setup failed: {out}")
        a = f"/accounts/{ACCOUNT}"
        groups = json.loads(api_get(f"{a}/iam/user_groups?per_page=5"))["result"]
        members = json.loads(api_get(f"{a}/members?per_page=5"))["result"]
        roles = json.loads(api_get(f"{a}/roles?per_page=5"))["result"]
        pgs = json.loads(api_get(f"{a}/iam/permission_groups?per_page=5"))["result"]
        rgs = json.loads(api_get(f"{a}/iam/resource_groups"))["result"]
        gm = json.loads(api_get(f"{a}/iam/user_groups/{groups[0]['id']}/members"))["result"]
        pol = [p for p in members[0].get("policies") or [] if p.get("id")]
        self.ids = {"group": groups[0]["id"], "member": gm[0]["id"],
                    "member2": members[-1]["id"], "role": roles[0]["id"],
                    "pgs": [p["id"] for p in pgs], "rgs": [r["id"] for r in rgs],
                    "policy": pol[0]["id"] if pol else "0" * 32}
        self.targets = []
        for sql, match, capture in decoder_targets(self.ids):
            self.targets.append((sql, match, api_get(capture)))
        take_log()

    def outcome(self, label, sql, out, status):
        """Book one case's result; False when the session must be restarted."""
        self.stats["cases"] += 1
        self.kinds[label] += 1
        errs = errors_of(out)
        if status == "hang":
            self.hangs.append((label, sql[:2000]))
            return False
        if status == "lost" or "server closed the connection" in out or \
                "connection to server was lost" in out:
            self.crashes.append((label, sql[:2000], out[-2000:]))
            return False
        if errs:
            self.stats["errors"] += 1
            for code, msg in errs:
                self.sqlstates[code] += 1
                if code.startswith("XX") or code == "57P01":
                    self.internal.append((label, code, msg, sql[:500]))
        else:
            self.stats["rows"] += 1
        return True

    def after_case(self, ok, label, sql):
        if ok and self.psql.alive():
            return
        if ok:      # the case itself looked fine, but the session is gone
            self.crashes.append((label, sql[:2000], "session did not answer SELECT 1"))
        time.sleep(1.0)         # a crashed backend: let the postmaster reinitialise
        self.psql.restart()
        mock_call("DELETE", "/__mock/faults")

    def decoder_case(self):
        rnd = self.rnd
        sql, match, base = rnd.choice(self.targets)
        method = "GET"
        if sql.startswith("INSERT"):
            method = "POST"
        elif sql.startswith("UPDATE") or "replace_user_group_members" in sql:
            method = "PUT"
        r = rnd.random()
        if r < 0.08:        # byte-exact answers (invalid UTF-8) from the byte server
            label, text = mutate_envelope(rnd, base)
            data = text.encode("utf-8", "surrogatepass")
            pos = [i for i in range(len(data)) if data[i:i + 1] == b'"'] or [0]
            for _ in range(rnd.randrange(1, 4)):
                i = rnd.choice(pos) + 1
                data = data[:i] + rnd.choice(INVALID_UTF8) + data[i:]
            self.byte_server.answers.clear()
            self.byte_server.answers.append((rnd.choice([200, 200, 200, 404, 500, 400]), data))
            label = "bytes:" + label
            sql = sql.replace("cf.", "fzb.").replace("'cloudflare'", "'fuzzbytes'")
            if rnd.random() < 0.3:
                sql = "SET client_encoding = 'LATIN1';\n" + sql + ";\nRESET client_encoding"
        elif r < 0.20:      # the mock carries the request out, then lies in one field
            if rnd.random() < 0.6:
                field = rnd.choice(ROW_FIELDS[:19])
                value = rand_scalar_json(rnd, valid=True)
                fault("patch", field=field, value=value, match=match, method=method)
                label = "patch:" + field
            else:
                field = rnd.choice(["result_info.total_count", "result_info.per_page",
                                    "result_info.count", "result_info.page", "result_info",
                                    "result", "success", "errors"])
                value = rnd.choice(NUMBERS[:1] + ["null", "-1", "0", "1", "2", "50", "500",
                                                  "1e300", "-1e300", "\"5\"", "[]", "{}", "true",
                                                  "0.5", "123456789012345678901234567890"])
                fault("envelope", field=field, value=value, match=match, method=method)
                label = "envelope:" + field
        else:               # the raw fault: this exact body
            label, text = mutate_envelope(rnd, base)
            status = 200 if rnd.random() < 0.85 else rnd.choice([201, 204, 400, 403, 404, 409,
                                                                 429, 500, 502])
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate made it into the text
                text = text.encode("utf-8", "replace").decode("utf-8")
            fault("raw", status=status, value=text, match=match, method=method)
            label = "raw:" + label
        out, st = self.psql.run(sql + ";")
        pending = mock_call("GET", "/__mock/faults")["faults"]
        mock_call("DELETE", "/__mock/faults")
        if pending and not label.startswith("bytes"):
            self.stats["fault not reached"] += 1
        ok = self.outcome(label.split(":")[0] + ":" + label.split(":")[1] if ":" in label else label,
                          sql, out, st)
        if self.args.verbose:
            print(f"[dec] {label}: {st} {errors_of(out)[:1]}", file=sys.stderr)
        self.after_case(ok, label, sql)

    def builder_case(self):
        label, sql, expect = build_case(self.rnd, self.ids)
        take_log()
        out, st = self.psql.run(sql)
        reqs = take_log()
        ok = self.outcome("b-" + label, sql, out, st)
        if ok:
            bad_before = len(self.checker.bad)
            self.checker.check_paths(label, reqs)
            if len(self.checker.bad) == bad_before:
                why = expect(reqs, out)
                if why and why.startswith("NOTE: "):
                    self.notes[why[6:]] += 1
                elif why and errors_of(out) and not why.startswith("REFUSE: "):
                    # an ERROR (the API refused, a 414 for a huge URL, a row created by an
                    # earlier case that does not convert) ends the statement before the
                    # requests it would make: only refusals and encoding are checkable
                    self.stats["builder expectation skipped after an ERROR"] += 1
                elif why:
                    self.checker.fail(f"{label}: {sql[:400]!r}", why, reqs)
        if self.args.verbose:
            print(f"[bld] {label}: {st} {errors_of(out)[:1]} {len(reqs)} req", file=sys.stderr)
        self.after_case(ok, label, sql)

    def run(self):
        t0 = time.monotonic()
        self.setup()
        for i in range(self.args.cases):
            if self.args.only == "decoder" or (self.args.only != "builder" and i % 2 == 0):
                self.decoder_case()
            else:
                self.builder_case()
            if i % 200 == 199:
                # keep the mock's data small: writes create groups and members
                mock_call("POST", "/__mock/reset", {})
                print(f"fuzz: {i + 1} cases, {time.monotonic() - t0:.0f} s", file=sys.stderr)
        self.psql.close()
        return time.monotonic() - t0


def pglog_crashes(path, offset):
    if not path or not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        f.seek(offset)
        text = f.read().decode("utf-8", "replace")
    return [line for line in text.splitlines()
            if re.search(r"terminated by signal|server process .* (was terminated|exited with exit code [^01])|"
                         r"PANIC|TRAP:|all server processes terminated", line)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--only", choices=("decoder", "builder"))
    ap.add_argument("--psql", default=os.environ.get("PSQL", "psql"))
    ap.add_argument("--pglog", help="postgres.log to scan for crash lines")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    offset = os.path.getsize(args.pglog) if args.pglog and os.path.exists(args.pglog) else 0
    fz = Fuzzer(args)
    elapsed = fz.run()
    log_crashes = pglog_crashes(args.pglog, offset)

    s = fz.stats
    print(f"fuzz: seed {args.seed}, {s['cases']} cases in {elapsed:.0f} s: "
          f"{s['rows']} ended in rows, {s['errors']} in an ERROR "
          f"(decoder cases whose fault no request reached: {s['fault not reached']})")
    print("errors by SQLSTATE: " + ", ".join(f"{k} {v}" for k, v in sorted(fz.sqlstates.items())))
    print("cases by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(fz.kinds.items())))
    print(f"crashes={len(fz.crashes)} hangs={len(fz.hangs)} bad requests={len(fz.checker.bad)} "
          f"internal errors={len(fz.internal)} "
          f"postgres.log crash lines={'n/a' if log_crashes is None else len(log_crashes)}")
    print(f"builder cases not fully checkable after an ERROR: "
          f"{s['builder expectation skipped after an ERROR']}")
    for note, n in fz.notes.items():
        print(f"NOTE ({n}x): {note}")
    for label, sql, out in fz.crashes[:5]:
        print(f"CRASH [{label}]\n  SQL: {sql[:600]}\n  output: {out[-600:]}")
    for label, sql in fz.hangs[:5]:
        print(f"HANG [{label}]\n  SQL: {sql[:600]}")
    for case, why, reqs in fz.checker.bad[:10]:
        print(f"BAD REQUEST [{case}]: {why}")
        for r in reqs[:5]:
            print(f"    {r}")
    for label, code, msg, sql in fz.internal[:10]:
        print(f"INTERNAL ERROR [{label}] {code}: {msg}\n  SQL: {sql[:300]}")
    for line in (log_crashes or [])[:10]:
        print(f"postgres.log: {line}")
    failed = fz.crashes or fz.hangs or fz.checker.bad or fz.internal or log_crashes
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
