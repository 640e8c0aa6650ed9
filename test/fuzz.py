#!/usr/bin/env python3
"""fuzz.py - a seeded fuzzer for cfiam's JSON decoder and request builders, through
the real backend.

The decoder and the builders call PostgreSQL backend functions (palloc, ereport,
type input functions), so they are fuzzed in place: one long-lived psql session
runs a statement per case against a cluster with cfiam installed and the mock API
(test/mock_cloudflare.py) running; test/fuzz.sh arranges both.

Every table and write path is covered, and checked to be: the foreign tables
IMPORT FOREIGN SCHEMA creates and the statements each takes
(pg_relation_is_updatable) are read at the start, and a table, a column or a write
the fuzzer has no cases for fails the run ("not covered"), so that a new table
cannot go unfuzzed.

Decoder side: each case takes a real answer captured from the mock (a listing, a
GET by id, the answer to an INSERT, UPDATE or DELETE, to
cfiam_replace_user_group_members, to a deferred write's COMMIT, an audit log page)
and mutates it (byte flips, truncation, deep nesting, huge numbers, NaN-like
tokens, a wrong JSON type for a field of the envelope or of a row, NUL escapes,
very long strings, duplicate keys, odd timestamps, lone surrogates as the escape
\\ud800 or as the raw bytes ED A0 80, invalid UTF-8, hostile cursors, ...), has the
mock answer the next matching request with exactly those bytes (the `raw` fault,
base64-encoded; some cases use the `patch` and `envelope` faults instead, which
carry the request out and then lie in one field), and runs the statement on the
matching table with its rows printed as JSON. The mock then says which bytes it
answered (GET /__mock/answers), and a reference decoder in this script works out
what cfiam must do with them:
  * an answer cfiam must refuse (not 2xx, "success" not true, not JSON, a lone
    surrogate, no "result", a row that is not an object, a value of the wrong JSON
    type, a string with NUL or invalid UTF-8, a timestamp that is not RFC 3339, a
    number that does not fit its column) must end in an ERROR;
  * every row that comes from the answer must hold exactly what the answer says
    (text, timestamps to the microsecond, jsonb numbers and all, arrays of ids);
  * requests made after the answer (the members listings of a fan-out over the
    groups it lists, the next page of a cursor, the PUT of an UPDATE that read the
    row) must be well formed and carry what it said.
cfiam parses answers with PostgreSQL's JSON parser, as RFC 8259 JSON: the reference
refuses every body that is not (data after the document, invalid UTF-8, a control
character in a string, an invalid escape, NaN, ...) and every \u0000, wherever it is
(neither text nor jsonb holds one); a timestamp must be RFC 3339, not merely something
timestamptz reads. The one leniency, a byte order mark before the document (RFC 8259
lets a parser skip it), is counted as a note.

Request-builder side: random SQL values in WHERE quals (id =, id = ANY, name =,
LIKE/ILIKE, status =, user_group_id =, the audit log's filters with =, = ANY, <>,
NOT IN, its time range, ORDER BY and LIMIT) and in every INSERT, UPDATE and DELETE
cfiam takes (user groups, memberships, account members, API tokens: UPDATE sends
the whole token, its name, status, policies, condition and timestamps fed hostile
values), immediate and deferred (cfiam.write_mode = deferred, sent at COMMIT), and
in cfiam_replace_user_group_members(); the mock's request log then must show
  * every path segment after /accounts/ a known literal or 32 lowercase hex,
  * every query-string value percent-encoded (only unreserved characters and
    %XX), decoding to exactly the value the SQL gave, every parameter one the API
    has,
  * request bodies that are JSON, carrying exactly the values given (timestamps as
    RFC 3339 in UTC, for the instant given),
  * no request at all for values cfiam must refuse.

Every case must end in rows or an ERROR; a lost connection (crash), a case that
outlives its statement_timeout plus a margin (hang), an internal error (SQLSTATE
XX000) or a bad request fails the run. The postgres log is checked for crash
lines at the end. A failure of the fuzzer itself (the mock refusing a control
request, an exception in this script) is reported apart, as a harness error, and
fails the run too.

    python3 test/fuzz.py [--seed N] [--cases N] [--seconds S] [--only decoder|builder]
                         [--pglog FILE] [--verbose]

--seconds stops after the case running at S seconds; the summary says how many
cases ran, and `--seed N --cases THAT` replays exactly those (the cases of a seed
do not depend on time). The session's time zone and DateStyle are chosen by the
seed too.

Connection: PGHOST, PGPORT, PGUSER as for psql; the mock at CFIAM_MOCK_PORT.
The database needs cfiam and test/fixture.sql's objects (server "cloudflare",
schema cf).

Exit status: 0 clean; 1 a finding in cfiam; 2 a harness error (and no finding);
3 something the fuzzer does not cover.
"""

import argparse
import base64
import collections
import http.client
import json
import os
import queue
import random
import re
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse
from decimal import Decimal, InvalidOperation

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ACCOUNT = "0123456789abcdef0123456789abcdef"
TOKEN = "cfiam-test-token"
PREFIX = "/client/v4"
HEX = "0123456789abcdef"
PATH_LITERALS = {"iam", "user_groups", "members", "roles", "permission_groups",
                 "resource_groups", "tokens", "logs", "audit"}
AUDIT_FILTERS = ["id", "action_type", "action_result", "actor_id", "actor_email", "actor_type",
                 "actor_context", "actor_ip_address", "actor_token_id", "actor_token_name",
                 "resource_id", "resource_type", "resource_product", "zone_id", "zone_name",
                 "account_name", "raw_method", "raw_uri", "raw_status_code", "raw_cf_ray_id"]
AUDIT_ENUMS = {"action_type": ["create", "delete", "view", "update"],
               "action_result": ["success", "failure"],
               "actor_type": ["account", "cloudflare_admin", "system", "user"],
               "actor_context": ["api_key", "api_token", "dash", "oauth", "origin_ca_key"]}
QUERY_PARAMS = ({"name", "fuzzyName", "fuzzyEmail", "status", "order", "direction", "page",
                 "per_page", "include_expired", "since", "before", "limit", "cursor"}
                | set(AUDIT_FILTERS) | {f + ".not" for f in AUDIT_FILTERS})
UNRESERVED_OR_PCT = re.compile(r"^(?:[A-Za-z0-9\-._~]|%[0-9A-F]{2})*$")
STATEMENT_TIMEOUT_S = 15
CASE_DEADLINE_S = STATEMENT_TIMEOUT_S + 30
ANY = object()          # an expected value that is not compared
MOCK_RESET = {"accounts": 3}    # the mock's data: three accounts, each with the default set
TIME_ZONES = ["UTC", "America/New_York", "Pacific/Chatham", "Asia/Kolkata", "Pacific/Kiritimati",
              "Etc/GMT+12", "Europe/Dublin"]
DATE_STYLES = ["ISO, MDY", "ISO, DMY", "SQL, DMY", "Postgres, MDY", "German"]


class HarnessError(Exception):
    """The fuzzer's own failure (the mock refused a control request, ...): not cfiam's."""


def mock_port():
    return int(os.environ.get("CFIAM_MOCK_PORT") or "18787")


def mock_call(method, path, body=None, headers=None, raw=False):
    # json.dumps escapes every non-ASCII character (lone surrogates included), so
    # any str a case holds travels to the mock's control endpoints.
    data = None if body is None else json.dumps(body).encode("ascii")
    h = {"Content-Type": "application/json"} if data is not None else {}
    h.update(headers or {})
    conn = http.client.HTTPConnection("127.0.0.1", mock_port(), timeout=120)
    try:
        conn.request(method, path, body=data, headers=h)
        resp = conn.getresponse()
        text = resp.read()
    except (OSError, http.client.HTTPException) as e:
        raise HarnessError(f"mock {method} {path}: {e}")
    finally:
        conn.close()
    if raw:
        return resp.status, text
    if resp.status != 200:
        raise HarnessError(f"mock {method} {path}: HTTP {resp.status}: {text[:300]!r}")
    try:
        return json.loads(text.decode("utf-8"))
    except ValueError as e:
        raise HarnessError(f"mock {method} {path}: answer is not JSON ({e}): {text[:200]!r}")


def fault(kind, **kw):
    spec = {"kind": kind}
    spec.update({k: v for k, v in kw.items() if v is not None})
    mock_call("POST", "/__mock/faults", spec)


MAX_ANSWER = 8 << 20    # base64 in JSON, under the mock's 16 MB limit on a request body


def raw_fault(data, status, match, method):
    """The next matching request is answered with exactly these bytes (at most MAX_ANSWER:
    a longer body is cut there)."""
    fault("raw", status=status, value_base64=base64.b64encode(data[:MAX_ANSWER]).decode("ascii"),
          match=match, method=method)


def take_log():
    return mock_call("GET", "/__mock/log?clear=1")["requests"]


def take_answers():
    return mock_call("GET", "/__mock/answers?clear=1")["answers"]


def api_get(path):
    status, text = mock_call("GET", PREFIX + path, headers={"Authorization": "Bearer " + TOKEN},
                             raw=True)
    if status != 200:
        raise HarnessError(f"mock GET {path}: HTTP {status}: {text[:200]!r}")
    return text.decode("utf-8")


def is_id(s):
    return isinstance(s, str) and len(s) == 32 and all(c in HEX for c in s)


# --------------------------------------------------------------------------- psql session

class Psql:
    """One psql process fed through stdin; each case ends with a marker line. Rows come
    out unaligned, one a line (the cases print each row as one JSON object)."""

    def __init__(self, psql, settings):
        self.psql = psql
        self.settings = settings
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
        self.send("\\set VERBOSITY verbose\n\\pset pager off\n\\pset format unaligned\n"
                  "\\pset tuples_only on\n"
                  f"SET statement_timeout = '{STATEMENT_TIMEOUT_S}s';\n"
                  "SET client_min_messages = warning;\n" + self.settings)
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


def row_json(expr):
    """SQL printing a row as one line: R: and its JSON in hex (psql's own output leaves out
    some characters, U+10FFFF, and depends on client_encoding)."""
    return f"'R:' || encode(convert_to(row_to_json({expr})::text, 'UTF8'), 'hex')"


def rows_of(out):
    """The rows a case printed (row_json), numbers as Decimal."""
    rows = []
    for line in out.splitlines():
        if line.startswith("R:"):
            try:
                rows.append(json.loads(bytes.fromhex(line[2:].strip()).decode("utf-8"),
                                       parse_float=Decimal, object_pairs_hook=dict))
            except ValueError:
                pass
    return rows


# --------------------------------------------------------------------------- the tables

# What each foreign table's columns are made of, as docs/tables.md says: (column, kind,
# JSON path, fallback path). Kinds: text, ts (timestamptz), bool, int, jsonb, ids (text[]
# of ids from [{"id"}] or id strings), parent (the group in the call's path), account (the
# account in the call's path: every table but accounts has it, first).
TABLES = {
    "user_groups": [("account_id", "account", None), ("id", "text", "id"),
                    ("name", "text", "name"), ("created_on", "ts", "created_on"),
                    ("modified_on", "ts", "modified_on"), ("policies", "jsonb", "policies")],
    "user_group_members": [("account_id", "account", None),
                           ("user_group_id", "parent", None), ("id", "text", "id"),
                           ("email", "text", "email"), ("status", "text", "status")],
    "account_members": [("account_id", "account", None), ("id", "text", "id"),
                        ("email", "text", "user.email", "email"),
                        ("status", "text", "status"), ("user_id", "text", "user.id"),
                        ("first_name", "text", "user.first_name"),
                        ("last_name", "text", "user.last_name"),
                        ("two_factor_authentication_enabled", "bool",
                         "user.two_factor_authentication_enabled"),
                        ("role_ids", "ids", "roles"), ("roles", "jsonb", "roles"),
                        ("policies", "jsonb", "policies")],
    "roles": [("account_id", "account", None), ("id", "text", "id"), ("name", "text", "name"),
              ("description", "text", "description"), ("permissions", "jsonb", "permissions")],
    "permission_groups": [("account_id", "account", None), ("id", "text", "id"),
                          ("name", "text", "name"), ("meta", "jsonb", "meta")],
    "resource_groups": [("account_id", "account", None), ("id", "text", "id"),
                        ("name", "text", "name"), ("scope", "jsonb", "scope"),
                        ("meta", "jsonb", "meta")],
    "account_tokens": [("account_id", "account", None), ("id", "text", "id"),
                       ("name", "text", "name"), ("status", "text", "status"),
                       ("issued_on", "ts", "issued_on"), ("modified_on", "ts", "modified_on"),
                       ("last_used_on", "ts", "last_used_on"),
                       ("expires_on", "ts", "expires_on"), ("not_before", "ts", "not_before"),
                       ("policies", "jsonb", "policies"), ("condition", "jsonb", "condition")],
    "audit_logs": [("account_id", "account", None), ("id", "text", "id"),
                   ("time", "ts", "action.time"),
                   ("action_type", "text", "action.type"),
                   ("action_result", "text", "action.result"),
                   ("action_description", "text", "action.description"),
                   ("actor_id", "text", "actor.id"), ("actor_email", "text", "actor.email"),
                   ("actor_type", "text", "actor.type"),
                   ("actor_context", "text", "actor.context"),
                   ("actor_ip_address", "text", "actor.ip_address"),
                   ("actor_token_id", "text", "actor.token_id"),
                   ("actor_token_name", "text", "actor.token_name"),
                   ("resource_id", "text", "resource.id"),
                   ("resource_type", "text", "resource.type"),
                   ("resource_product", "text", "resource.product"),
                   ("resource_scope", "jsonb", "resource.scope"),
                   ("resource_request", "jsonb", "resource.request"),
                   ("resource_response", "jsonb", "resource.response"),
                   ("zone_id", "text", "zone.id"), ("zone_name", "text", "zone.name"),
                   ("account_name", "text", "account.name"),
                   ("raw_method", "text", "raw.method"), ("raw_uri", "text", "raw.uri"),
                   ("raw_status_code", "int", "raw.status_code"),
                   ("raw_cf_ray_id", "text", "raw.cf_ray_id"),
                   ("raw_user_agent", "text", "raw.user_agent")],
    "accounts": [("id", "text", "id"), ("name", "text", "name"), ("type", "text", "type"),
                 ("created_on", "ts", "created_on"), ("settings", "jsonb", "settings"),
                 ("managed_by", "jsonb", "managed_by")],
}
# cfiam_replace_user_group_members() returns the answer's members: strings only
REPLACE_COLUMNS = [("id", "text", "id"), ("email", "text", "email"), ("status", "text", "status")]
# Statements the fuzzer has cases for, by table (pg_relation_is_updatable must not
# allow more): the builder side and the decoder side (the answers of each).
OPERATIONS = {"INSERT": 8, "UPDATE": 4, "DELETE": 16}


# --------------------------------------------------------------------------- time

def days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date (any year, 0 = 1 BC)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z):
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return y + (m <= 2), m, d


def days_in_month(y, m):
    if m == 2:
        return 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    return 30 if m in (4, 6, 9, 11) else 31


def epoch_us(y, mo, d, h, mi, s, frac, offset_s):
    """Microseconds since the epoch; frac is the fraction's digits (rounded like
    PostgreSQL, to the nearest microsecond)."""
    us = 0
    if frac:
        us = int((Decimal("0." + frac) * 1000000).to_integral_value())
    return ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset_s) * 1000000
            + us)


RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
                     r"([Zz]|[+-]\d{2}:\d{2})\Z")
LOOSE_TS = re.compile(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})[Tt ]+(\d{1,2}):(\d{1,2}):(\d{1,2})"
                      r"(?:[.,](\d*))?\s*([Zz]|UTC|GMT|[+-]\d{1,2}(?::?\d{2})?)\s*\Z")
PG_TS = re.compile(r"(\d{4,})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
                   r"([+-])(\d{2})(?::(\d{2}))?(?::(\d{2}))?( BC)?\Z")


def offset_seconds(z):
    if z in ("Z", "z", "UTC", "GMT"):
        return 0
    sign = -1 if z[0] == "-" else 1
    digits = z[1:].replace(":", "")
    h = int(digits[:-2] if len(digits) > 2 else digits)
    m = int(digits[-2:]) if len(digits) > 2 else 0
    return sign * (h * 3600 + m * 60)


def rfc3339_us(s):
    """The instant of an RFC 3339 timestamp (microseconds), or None if s is not one."""
    mt = RFC3339.match(s)
    if not mt:
        return None
    y, mo, d, h, mi, sec = (int(x) for x in mt.groups()[:6])
    if not (1 <= mo <= 12 and 1 <= d <= days_in_month(y, mo) and h <= 23 and mi <= 59
            and sec <= 60):
        return None
    off = mt.group(8)
    if off not in ("Z", "z") and (int(off[1:3]) > 23 or int(off[4:6]) > 59):
        return None
    return epoch_us(y, mo, d, h, mi, sec, mt.group(7), offset_seconds(off))


def loose_us(s):
    """A timestamp written loosely but naming one instant ("2024-1-1 1:1:1+00"), or None."""
    mt = LOOSE_TS.match(s)
    if not mt:
        return None
    y, mo, d, h, mi, sec = (int(x) for x in mt.groups()[:6])
    if not (1 <= mo <= 12 and 1 <= d <= days_in_month(y, mo) and h <= 24 and mi <= 59
            and sec <= 60):
        return None
    return epoch_us(y, mo, d, h, mi, sec, mt.group(7), offset_seconds(mt.group(8)))


def pg_ts_us(s):
    """A timestamptz as row_to_json writes it, in microseconds; None for infinities."""
    mt = PG_TS.match(s) if isinstance(s, str) else None
    if not mt:
        return None
    y, mo, d, h, mi, sec = (int(x) for x in mt.groups()[:6])
    if mt.group(12):
        y = 1 - y
    off = int(mt.group(9)) * 3600 + int(mt.group(10) or 0) * 60 + int(mt.group(11) or 0)
    if mt.group(8) == "-":
        off = -off
    return epoch_us(y, mo, d, h, mi, sec, mt.group(7), off)


def us_text(us):
    """Microseconds as an RFC 3339 UTC timestamp, for messages."""
    days, rest = divmod(us, 86400 * 1000000)
    y, m, d = civil_from_days(days)
    secs, frac = divmod(rest, 1000000)
    return (f"{y:04d}-{m:02d}-{d:02d}T{secs // 3600:02d}:{secs // 60 % 60:02d}:{secs % 60:02d}"
            + (f".{frac:06d}" if frac else "") + "Z")


# --------------------------------------------------------------------------- reference decoder

class JObj(list):
    """A JSON object as its (key, value) pairs, duplicates kept: cJSON finds the first of
    a duplicated key, jsonb keeps the last. (A list: is_array() tells arrays from it.)"""

    def get(self, key, default=None):
        for k, v in self:
            if k == key:
                return v
        return default


def is_array(v):
    return isinstance(v, list) and not isinstance(v, JObj)


def plain(v):
    """A parsed value as jsonb holds it: objects as dicts (the last of a duplicated key)."""
    if isinstance(v, JObj):
        return {k: plain(x) for k, x in v}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


def json_equal(a, b):
    """jsonb equality: numbers by value, objects regardless of key order."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b if isinstance(a, bool) and isinstance(b, bool) else False
    if isinstance(a, (int, Decimal)) and isinstance(b, (int, Decimal)):
        return Decimal(a) == Decimal(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _reject_constant(name):
    raise ValueError("not JSON: " + name)


def bad_string(s):
    """Why PostgreSQL cannot hold the string s as the answer gives it, or None."""
    if "\x00" in s:
        return "a string with NUL (\\u0000)"
    if any(0xD800 <= ord(c) <= 0xDFFF for c in s):
        return "a string that is not UTF-8 (a lone surrogate or invalid bytes)"
    return None


def walk_strings(v):
    if isinstance(v, str):
        yield v
    elif isinstance(v, JObj):
        for k, x in v:
            yield k
            yield from walk_strings(x)
    elif isinstance(v, list):
        for x in v:
            yield from walk_strings(x)


class CJsonError(ValueError):
    pass


CJSON_NESTING_LIMIT = 1000
STRTOD = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
ESCAPES = {ord("b"): b"\b", ord("f"): b"\f", ord("n"): b"\n", ord("r"): b"\r",
           ord("t"): b"\t", ord('"'): b'"', ord("\\"): b"\\", ord("/"): b"/"}


def cjson_parse(data):
    """The document cJSON 1.7.15's cJSON_ParseWithLength reads from data, which is what
    cfiam reads: a byte order mark skipped, every byte up to 0x20 taken for white space,
    numbers as strtod reads the longest run of [0-9+-.eE], strings unchecked for
    UTF-8 and control characters, a \\u0000 or an invalid \\uXXXX a NUL, anything after
    the document ignored, at most 1000 levels. Objects are JObj, numbers Decimal (the
    answer's own value; cJSON holds a double), strings the bytes decoded with
    surrogateescape (a NUL kept). Raises CJsonError where cJSON fails."""
    n = len(data)
    if n == 0:
        raise CJsonError("an empty body")

    def ws(p):
        while p < n and data[p] <= 32:
            p += 1
        return p

    def hex4(b):
        h = 0
        for c in b:
            if not chr(c) in "0123456789abcdefABCDEF":
                return 0
            h = h * 16 + int(chr(c), 16)
        return h

    def string(p):
        q = p + 1
        while q < n and data[q] != 0x22:
            if data[q] == 0x5C:
                if q + 1 >= n:
                    raise CJsonError("a string cut short")
                q += 1
            q += 1
        if q >= n:
            raise CJsonError("a string without its closing quote")
        out = bytearray()
        i = p + 1
        while i < q:
            if data[i] != 0x5C:
                out.append(data[i])
                i += 1
                continue
            e = data[i + 1]
            if e in ESCAPES:
                out += ESCAPES[e]
                i += 2
            elif e == ord("u"):
                if q - i < 6:
                    raise CJsonError("a \\u escape cut short")
                c1 = hex4(data[i + 2:i + 6])
                if 0xDC00 <= c1 <= 0xDFFF:
                    raise CJsonError("a lone low surrogate escape")
                if 0xD800 <= c1 <= 0xDBFF:
                    if q - (i + 6) < 6 or data[i + 6:i + 8] != b"\\u":
                        raise CJsonError("a high surrogate escape without its pair")
                    c2 = hex4(data[i + 8:i + 12])
                    if not 0xDC00 <= c2 <= 0xDFFF:
                        raise CJsonError("a high surrogate escape without its pair")
                    cp = 0x10000 + (((c1 & 0x3FF) << 10) | (c2 & 0x3FF))
                    i += 12
                else:
                    cp = c1
                    i += 6
                out += chr(cp).encode("utf-8")
            else:
                raise CJsonError("an invalid escape")
        return out.decode("utf-8", "surrogateescape"), q + 1

    def number(p):
        q = p
        while q < n and data[q] in b"0123456789+-eE.":
            q += 1
        m = STRTOD.match(data, p, q)
        if not m:
            raise CJsonError("not a number")
        return Decimal(m.group(0).decode()), m.end()

    def container(p, depth, close):
        if depth >= CJSON_NESTING_LIMIT:
            raise CJsonError("nested deeper than 1000")
        p = ws(p + 1)
        if p >= n:
            raise CJsonError("a container cut short")
        items = JObj() if close == 0x7D else []
        if data[p] == close:
            return items, p + 1
        while True:
            p = ws(p)
            if close == 0x7D:
                if p >= n or data[p] != 0x22:
                    raise CJsonError("an object key that is not a string")
                key, p = string(p)
                p = ws(p)
                if p >= n or data[p] != 0x3A:
                    raise CJsonError("no colon after an object key")
                p = ws(p + 1)
                v, p = value(p, depth + 1)
                items.append((key, v))
            else:
                v, p = value(p, depth + 1)
                items.append(v)
            p = ws(p)
            if p < n and data[p] == 0x2C:
                p += 1
                continue
            if p < n and data[p] == close:
                return items, p + 1
            raise CJsonError("a container not closed")

    def value(p, depth):
        if data.startswith(b"null", p):
            return None, p + 4
        if data.startswith(b"false", p):
            return False, p + 5
        if data.startswith(b"true", p):
            return True, p + 4
        if p >= n:
            raise CJsonError("a value missing")
        c = data[p]
        if c == 0x22:
            return string(p)
        if c == 0x2D or 0x30 <= c <= 0x39:
            return number(p)
        if c in (0x5B, 0x7B):
            return container(p, depth, c + 2)
        raise CJsonError("not a value")

    p = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    doc, _ = value(ws(p), 0)
    return doc


class Answer:
    """An answer's bytes as cfiam reads them. doc: the parsed document (cjson_parse: for
    RFC 8259 JSON the tree cfiam builds, numbers exact, the first of a duplicated key);
    refuse: why cfiam must refuse the whole body (not RFC 8259 JSON, not UTF-8, \\u0000,
    nested deeper than 1000), or None; notes: the leniency it takes (a byte order
    mark)."""

    def __init__(self, status, data):
        self.status = status
        self.data = data
        self.doc = None
        self.parsed = False
        self.refuse = None
        self.notes = []
        try:
            self.doc = cjson_parse(data)
            self.parsed = True
        except CJsonError as e:
            self.refuse = f"a body cJSON cannot parse ({e})"
            return
        # cfiam's parser is PostgreSQL's, which takes only RFC 8259 JSON (and skips a BOM)
        text = data
        if text.startswith(b"\xef\xbb\xbf"):
            text = text[3:]
            self.notes.append("a byte order mark before the document, skipped")
        try:
            json.loads(text.decode("utf-8"), parse_constant=_reject_constant)
        except UnicodeDecodeError:
            self.refuse = "a body that is not UTF-8"
            return
        except (ValueError, RecursionError) as e:
            why = re.sub(r":? line \d+ column \d+ \(char \d+\)", "", str(e))
            self.refuse = f"a body that is not RFC 8259 JSON ({why})"
            return
        if any("\x00" in x for x in walk_strings(self.doc)):
            self.refuse = "a body with \\u0000 in a string"


def get_path(obj, path):
    """cfiam's json_get_path: through nested objects, the first of a duplicated key."""
    for part in path.split("."):
        if not isinstance(obj, JObj):
            return None
        obj = obj.get(part)
    return obj


class Reject(Exception):
    def __init__(self, why, loose=None):
        super().__init__(why)
        self.why = why
        self.loose = loose      # a timestamp's instant when written loosely
        self.col = None


def ref_value(kind, item, lenient=False):
    """The value a column must get from a JSON item (None: SQL NULL); Reject when cfiam
    must refuse it. lenient: a timestamp written loosely gets the instant it names."""
    if item is None:
        return None
    if kind in ("text", "ts"):
        if not isinstance(item, str):
            raise Reject(f"a JSON {json_kind(item)} for a {kind} column")
        why = bad_string(item)
        if why:
            raise Reject(why)
        if kind == "text":
            return item
        us = rfc3339_us(item)
        if us is None:
            loose = loose_us(item)
            if lenient and loose is not None:
                return loose
            raise Reject(f"a timestamp that is not RFC 3339: {item[:60]!r}", loose)
        return us
    if kind == "bool":
        if not isinstance(item, bool):
            raise Reject(f"a JSON {json_kind(item)} for a boolean column")
        return item
    if kind == "int":
        if isinstance(item, bool) or not isinstance(item, (int, Decimal)):
            raise Reject(f"a JSON {json_kind(item)} for an integer column")
        try:
            f = float(item)
        except (OverflowError, InvalidOperation):
            raise Reject("a number that does not fit an integer")
        if f != f or f in (float("inf"), float("-inf")) or f != int(f) or \
                not -2 ** 31 <= f < 2 ** 31:
            raise Reject(f"a number that does not fit an integer: {item}")
        return int(f)
    if kind == "jsonb":
        for s in walk_strings(item):
            why = bad_string(s)
            if why:
                raise Reject(why + " in a jsonb value")
        return plain(item)
    if kind == "ids":
        if not is_array(item):
            raise Reject(f"a JSON {json_kind(item)} for an array of ids")
        out = []
        for x in item:
            rid = x if isinstance(x, str) else (x.get("id") if isinstance(x, JObj) else None)
            if not isinstance(rid, str):
                raise Reject("an element without an \"id\" string")
            why = bad_string(rid)
            if why:
                raise Reject(why)
            out.append(rid)
        return out
    raise AssertionError(kind)


def json_kind(v):
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, Decimal)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, JObj):
        return "object"
    if isinstance(v, list):
        return "array"
    return "null" if v is None else type(v).__name__


def ref_row(columns, item, lenient=False):
    """{column: value} for a result object; Reject when cfiam must refuse it (lenient:
    see ref_value)."""
    if not isinstance(item, JObj):
        raise Reject(f"a result that is {json_kind(item)}, not an object")
    row = {}
    for col in columns:
        name, kind, path = col[0], col[1], col[2]
        if kind in ("parent", "account"):
            continue
        v = get_path(item, path)
        if v is None and len(col) > 3:
            v = get_path(item, col[3])
        try:
            row[name] = ref_value(kind, v, lenient)
        except Reject as r:
            r.why = f"column {name}: {r.why}"
            r.col = name
            raise
    return row


def same_value(kind, got, want):
    """Does the row's value (row_to_json's) equal the reference value?"""
    if want is None or got is None:
        return want is None and got is None
    if kind == "ts":
        us = pg_ts_us(got)
        return us is not None and abs(us - want) <= 1
    if kind == "int":
        return isinstance(got, int) and not isinstance(got, bool) and got == want
    if kind == "jsonb":
        return json_equal(got, want)
    return got == want


def jtext(v):
    """JSON text of a value holding Decimal numbers (written as they are)."""
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, dict):
        return "{" + ", ".join(json.dumps(k) + ": " + jtext(x) for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(jtext(x) for x in v) + "]"
    return json.dumps(v)


def show(kind, v):
    if kind == "ts" and isinstance(v, int):
        return us_text(v)
    text = jtext(v) if not isinstance(v, str) else repr(v)
    return text if len(text) <= 160 else text[:160] + "..."


# --------------------------------------------------------------------------- mutations

TIMESTAMPS = ["2024-01-01T00:00:00Z", "2024-01-01T00:00:00.123456789Z",
              "2024-01-01T00:00:00.1234567890123456789Z", "2024-13-45T25:61:61Z",
              "0000-00-00T00:00:00Z", "infinity", "-infinity", "epoch", "now", "today",
              "294277-01-01T00:00:00Z", "4714-11-24T00:00:00Z BC", "2024-01-01T00:00:00+99:99",
              "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00,5Z", "", " ", "T", "Z",
              "2024-02-30T00:00:00Z", "9999999999", "2024-01-01T00:00:00.-1Z",
              "2024-01-01T00:00:00+14:00", "2024-01-01T00:00:00.000000000000000000000001Z",
              "2024-01-01 00:00:00 America/New_York", "allballs", "2024-1-1T1:1:1Z",
              "2024-01-01T00:00:00", "2024-01-01", "2024-06-30T23:59:60Z",
              "1999-12-31T23:59:59.9999995Z",
              "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z", "2024-01-01t00:00:00z",
              "2024-01-01T00:00:00-00:30", "2024-01-01 00:00:00+00", "tomorrow", "yesterday",
              "J2451187", "2024-01-01T00:00:00Z\u0000", "2024-01-01T00:00:00\u00a0Z"]

NUMBERS = ["1e400", "-1e400", "1e-400", "-0", "0.5", "9223372036854775808",
           "-9223372036854775809", "123456789012345678901234567890123456789",
           "1" + "0" * 400, "1.7976931348623157e308", "4294967296", "2147483648", "-1",
           "0e0", "1E+2", "-0.0000001", "12345678901234567", "0.1000000000000000055511151231",
           "2147483647", "-2147483648", "200.0", "1e2", "200.00000000000001"]

TOKENS = ["NaN", "Infinity", "-Infinity", "nan", "inf", "undefined", "True", "None", "nul",
          "tru", "01", "+1", ".5", "1.", "0x10", "'single'", "\"\\x41\"", "\"\\u12\"",
          "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\uD83D\\uDE00\"",
          "\"\\udc00\\ud800\"", "\"\\ud800\\ud800\"", "\"\ud800\"", "\"\udfff\"",
          "\"\\u0000\"", "\"a\\u0000b\"", "\"\\u0000\\u0000\"", "\"\\/\"", "[,]", "{,}",
          "[1,]", "{\"a\":}", "{\"a\" 1}", "\"\t\"", "\"\n\"", "\"a\x00b\""]


def nesting(text):
    """How deep JSON text nests (brackets outside strings)."""
    depth = deepest = 0
    in_string = escaped = False
    for c in text:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth -= 1
    return deepest


def rand_scalar_json(rnd, depth=0, valid=False):
    """Random JSON text; with valid, only text Python's json module accepts, nested
    less than the mock's Python can hold (so that the decoder gets past the envelope and
    the column conversion is reached; deeper values go in raw faults)."""
    if valid:
        for _ in range(20):
            v = rand_scalar_json(rnd, depth)
            if nesting(v) > 200:
                continue
            try:
                json.loads(v, parse_constant=_reject_constant)
                return v
            except (ValueError, RecursionError):
                pass
        return "null"
    k = rnd.randrange(19)
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
    if k == 17:         # a string with a lone surrogate: escaped, or raw (its bytes ED A0 80)
        return '"' + rand_text(rnd) + rnd.choice(["\\ud800", "\\udfff", "\\udbff\\u0041",
                                                  "\ud800", "\udc80", "\\udc00\\ud800"]) + '"'
    return json.dumps(rnd.choice(["accepted", "pending", "rejected", "", "NULL", "{}", "{a,b}",
                                  "a\"b", "a\\b", "{\"x\"}", "x,y", " ", "active", "disabled",
                                  "expired", "allow", "deny", "create", "update", "delete"]))


# dotted field paths of an envelope and of a row (the latter under "result")
ENVELOPE_FIELDS = ["success", "errors", "messages", "result", "result_info",
                   "result_info.total_count", "result_info.per_page", "result_info.page",
                   "result_info.count", "result_info.cursor"]
ROW_FIELDS = ["id", "name", "email", "status", "created_on", "modified_on", "policies",
              "description", "permissions", "meta", "scope", "user", "user.email",
              "user.id", "user.first_name", "user.last_name",
              "user.two_factor_authentication_enabled", "roles", "roles.0", "roles.0.id",
              "policies.0", "policies.0.id", "policies.0.access", "policies.0.permission_groups",
              "policies.0.resource_groups.0"]
TABLE_FIELDS = {
    "account_tokens": ["issued_on", "last_used_on", "expires_on", "not_before", "condition",
                       "condition.request_ip", "condition.request_ip.in", "policies.0.effect",
                       "policies.0.resources", "policies.0.permission_groups.0.id",
                       "policies.0.permission_groups.0.meta", "value", "status", "name"],
    "audit_logs": ["action", "action.time", "action.type", "action.result",
                   "action.description", "actor", "actor.email", "actor.id", "actor.type",
                   "actor.context", "actor.ip_address", "actor.token_id", "actor.token_name",
                   "raw", "raw.status_code", "raw.method", "raw.uri", "raw.cf_ray_id",
                   "raw.user_agent", "resource", "resource.id", "resource.request",
                   "resource.response", "resource.scope", "resource.product", "zone",
                   "zone.name", "zone.id", "account", "account.name"],
}
CURSORS = ["", "abc", "a&b=c", "a#b", "a b", "a+b/c=", "%41", "é日本", "😀", "\u0000",
           "a\u0000b", "x" * 70000, "../../x", "\ud800", "\r\n", "?", "\\", "\"",
           "cursor=1&limit=1000", "=", "%", "%zz", "null"]


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
              "\u0085", "\u2028", "~", "!", "()", ".not", "&cursor=", "pending-1", "\uffff",
              "\U0010ffff"]
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


def mutate_envelope(rnd, base, fields):
    """A mutated answer: (kind label, body text). The text may hold lone surrogates:
    they go out as their raw bytes (ED A0 80)."""
    try:
        doc = json.loads(base)
    except (ValueError, RecursionError):
        doc = None          # an earlier mutation broke it: text-level mutations only
    if not isinstance(doc, dict):
        doc = None
    k = rnd.randrange(15)
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
        v = json.dumps(rnd.choice(CURSORS)) if f == "result_info.cursor" and \
            rnd.random() < 0.6 else rand_scalar_json(rnd)
        return "envelope:" + f, set_path(doc, f, v) or base
    if k in (3, 4, 5, 6):                           # wrong type in a row field
        f = rnd.choice(fields)
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
                          "\\b\\f", "\u2028", "\\\\", "\\\"", "\\u00", "\ud800", "\udfff",
                          "\\udc00\\ud800"])
        return "escape", base.replace('":"', '":"' + esc, rnd.randrange(1, 4))
    if k == 10:                                     # very long string
        n = rnd.choice([100000, 1 << 20, 5 << 20])
        return "long", base.replace('":"', '":"' + "y" * n, 1)
    if k == 11:                                     # whole-body oddities
        return "body", rnd.choice(["", " ", "null", "[]", "{}", "\"x\"", "1", "true",
                                   "\ufeff" + base, base + "garbage", base + "\x00" + base,
                                   base + base, base + "\n", "\x00" + base,
                                   "{\"success\":true}", "{\"success\":true,\"result\":null}",
                                   "{\"success\":true,\"result\":{}}",
                                   "{\"success\":true,\"result\":[null]}",
                                   "{\"success\":true,\"result\":[[]]}",
                                   "{\"success\":true,\"result\":[1,2,3]}",
                                   "{\"success\":true,\"result\":\"x\"}",
                                   "{\"success\":\"true\",\"result\":[]}",
                                   "{\"success\":1,\"result\":[]}",
                                   "{\"success\":false,\"errors\":[{\"code\":1e300,\"message\":\"m\"}]}",
                                   "{\"success\":false,\"errors\":[{\"code\":-5,\"message\":\"%s%n\"}]}",
                                   "{\"success\":false,\"errors\":[{\"code\":1,\"message\":null}]}",
                                   "{\"success\":false,\"errors\":[{\"message\":\"\\ud800\"}]}",
                                   "{\"success\":false,\"errors\":[{\"message\":\"a\\u0000b\"}]}",
                                   "{\"success\":false,\"errors\":{}}",
                                   "{\"success\":false,\"errors\":[null]}",
                                   base.replace("true", "false", 1)])
    if k == 12:                                     # numbers and NaN-like tokens anywhere
        return "number", re.sub(r"(?<=:)(\d+|true|false|null)", lambda _m: rnd.choice(
            NUMBERS + TOKENS), base, count=rnd.randrange(1, 5))
    if k == 13:                                     # a timestamp field, everywhere
        ts = rnd.choice(TIMESTAMPS)
        return "timestamps", re.sub(r'"(\d{4}-\d{2}-\d{2}T[0-9:.]+Z)"', lambda _m: json.dumps(
            ts) if rnd.random() < 0.5 else _m.group(0), base)
    # k == 14: several mutations stacked
    text = base
    for _ in range(rnd.randrange(2, 4)):
        _, text = mutate_envelope(rnd, text, fields)
    return "stacked", text


INVALID_UTF8 = [b"\xff", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
                b"\x80", b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98", b"\xfe\xfe", b"\x00",
                b"\xed\xb0\x80", b"\xed\xa0\xbd\xed\xb8\x80"]


# --------------------------------------------------------------------------- decoder targets

class Target:
    """A statement whose answer a decoder case mutates.
    mode: list (a listing, every row converted), one (a result object: GET by id, the
    answer to a POST or PUT), member (the answer to adding a member: the row's own member
    in it), envelope (only the envelope is read: DELETE, a deferred COMMIT), parent (a
    listing of groups whose ids make the next paths), replace (the answer of
    cfiam_replace_user_group_members), tokenput (a token read for an UPDATE: what the PUT
    then sends), newgroup (a deferred COMMIT's creation of a group: its id makes the next
    path), accounts (GET /accounts read by a server without account_id: its ids make the
    next paths)."""

    def __init__(self, table, op, sql, match, method, capture, mode, member=None, put=None,
                 ensure=None):
        self.table, self.op, self.sql, self.match, self.method = table, op, sql, match, method
        self.capture, self.mode, self.member, self.put = capture, mode, member, put
        self.ensure = ensure    # called before the case: the data the statement needs
        self.base = None

    def columns(self):
        return REPLACE_COLUMNS if self.mode == "replace" else TABLES[self.table]


def rows_sql(query):
    return f"SELECT {row_json('t')} FROM ({query}) t;"


def dml_sql(dml):
    return f"WITH w AS ({dml} RETURNING *) SELECT {row_json('w')} FROM w;"


def deferred_sql(*statements):
    return ("BEGIN;\nSET LOCAL cfiam.write_mode = deferred;\n" + "\n".join(statements) +
            "\nCOMMIT;")


def decoder_targets(ids):
    g, m, m2, r = ids["group"], ids["member"], ids["member2"], ids["role"]
    t, tdel, gdel = ids["token"], ids["token2"], ids["group2"]
    pg, rg = ids["pgs"][0], ids["rgs"][0]
    a2, g2, t2 = ids["account2"], ids["group_a2"], ids["token_a2"]
    a = f"/accounts/{ACCOUNT}"
    a_2 = f"/accounts/{a2}"
    L = sql_lit

    def member_in_group():
        """m is a member of g (a case may have removed it): added back if not."""
        status, _ = mock_call("GET", f"{PREFIX}{a}/iam/user_groups/{g}/members/{m}",
                              headers={"Authorization": "Bearer " + TOKEN}, raw=True)
        if status == 404:
            mock_call("POST", f"{PREFIX}{a}/iam/user_groups/{g}/members", [{"id": m}],
                      headers={"Authorization": "Bearer " + TOKEN}, raw=True)
    return [
        Target("user_groups", "SELECT", rows_sql("SELECT * FROM cf.user_groups"),
               f"{a}/iam/user_groups", "GET", f"{a}/iam/user_groups?per_page=5", "list"),
        Target("user_groups", "SELECT", rows_sql(f"SELECT * FROM cf.user_groups WHERE id = {L(g)}"),
               f"{a}/iam/user_groups/{g}", "GET", f"{a}/iam/user_groups/{g}", "one"),
        Target("user_groups", "INSERT",
               dml_sql("INSERT INTO cf.user_groups (name) VALUES ('fuzz answer')"),
               f"{a}/iam/user_groups", "POST", f"{a}/iam/user_groups/{g}", "one"),
        Target("user_groups", "UPDATE",
               dml_sql(f"UPDATE cf.user_groups SET name = 'fuzz renamed' WHERE id = {L(g)}"),
               f"{a}/iam/user_groups/{g}", "PUT", f"{a}/iam/user_groups/{g}", "one"),
        Target("user_groups", "DELETE",
               dml_sql(f"DELETE FROM cf.user_groups WHERE id = {L(gdel)}"),
               f"{a}/iam/user_groups/{gdel}", "DELETE", f"{a}/iam/user_groups/{gdel}", "envelope"),
        Target("user_group_members", "SELECT",
               rows_sql(f"SELECT * FROM cf.user_group_members WHERE user_group_id = {L(g)}"),
               f"{a}/iam/user_groups/{g}/members", "GET",
               f"{a}/iam/user_groups/{g}/members?per_page=5", "list"),
        Target("user_group_members", "SELECT", rows_sql("SELECT * FROM cf.user_group_members"),
               f"{a}/iam/user_groups", "GET", f"{a}/iam/user_groups?per_page=5", "parent"),
        Target("user_group_members", "SELECT",
               rows_sql(f"SELECT * FROM cf.user_group_members WHERE user_group_id = {L(g)} "
                        f"AND id = {L(m)}"),
               f"{a}/iam/user_groups/{g}/members/{m}", "GET",
               f"{a}/iam/user_groups/{g}/members/{m}", "one", ensure=member_in_group),
        Target("user_group_members", "INSERT",
               dml_sql(f"INSERT INTO cf.user_group_members (user_group_id, id) "
                       f"VALUES ({L(g)}, {L(m2)})"),
               f"{a}/iam/user_groups/{g}/members", "POST",
               f"{a}/iam/user_groups/{g}/members?per_page=5", "member", member=m2),
        Target("user_group_members", "DELETE",
               dml_sql(f"DELETE FROM cf.user_group_members WHERE user_group_id = {L(g)} "
                       f"AND id = {L(m)}"),
               f"{a}/iam/user_groups/{g}/members/{m}", "DELETE",
               f"{a}/iam/user_groups/{g}/members/{m}", "envelope", ensure=member_in_group),
        Target("user_group_members", "SELECT",
               f"SELECT {row_json('f')} FROM cfiam_replace_user_group_members("
               f"'cloudflare', {L(g)}, ARRAY[{L(m)}]) f;",
               f"{a}/iam/user_groups/{g}/members", "PUT",
               f"{a}/iam/user_groups/{g}/members?per_page=5", "replace"),
        Target("account_members", "SELECT", rows_sql("SELECT * FROM cf.account_members"),
               f"{a}/members", "GET", f"{a}/members?per_page=5", "list"),
        Target("account_members", "SELECT",
               rows_sql(f"SELECT * FROM cf.account_members WHERE id = {L(m)}"),
               f"{a}/members/{m}", "GET", f"{a}/members/{m}", "one"),
        Target("account_members", "INSERT",
               dml_sql(f"INSERT INTO cf.account_members (email, role_ids) VALUES "
                       f"('fuzz.answer@example.com', ARRAY[{L(r)}])"),
               f"{a}/members", "POST", f"{a}/members/{m}", "one"),
        Target("account_members", "UPDATE",
               dml_sql(f"UPDATE cf.account_members SET roles = {L(json.dumps([r]))} "
                       f"WHERE id = {L(m)}"),
               f"{a}/members/{m}", "PUT", f"{a}/members/{m}", "one"),
        Target("account_members", "DELETE",
               dml_sql(f"DELETE FROM cf.account_members WHERE id = {L(m2)}"),
               f"{a}/members/{m2}", "DELETE", f"{a}/members/{m2}", "envelope"),
        Target("roles", "SELECT", rows_sql("SELECT * FROM cf.roles"), f"{a}/roles", "GET",
               f"{a}/roles?per_page=5", "list"),
        Target("roles", "SELECT", rows_sql(f"SELECT * FROM cf.roles WHERE id = {L(r)}"),
               f"{a}/roles/{r}", "GET", f"{a}/roles/{r}", "one"),
        Target("permission_groups", "SELECT", rows_sql("SELECT * FROM cf.permission_groups"),
               f"{a}/iam/permission_groups", "GET", f"{a}/iam/permission_groups?per_page=5",
               "list"),
        # page 1 sent ahead by cfiam_read_ahead(), with another table's, and read from there
        Target("permission_groups", "SELECT",
               rows_sql("SELECT p.* FROM cf.permission_groups p, "
                        "(SELECT count(*) FROM (SELECT * FROM cf.resource_groups) r) c "
                        "WHERE (SELECT cfiam_read_ahead()) >= 0"),
               f"{a}/iam/permission_groups", "GET", f"{a}/iam/permission_groups?per_page=5",
               "list"),
        Target("permission_groups", "SELECT",
               rows_sql(f"SELECT * FROM cf.permission_groups WHERE id = {L(pg)}"),
               f"{a}/iam/permission_groups/{pg}", "GET", f"{a}/iam/permission_groups/{pg}", "one"),
        Target("resource_groups", "SELECT", rows_sql("SELECT * FROM cf.resource_groups"),
               f"{a}/iam/resource_groups", "GET", f"{a}/iam/resource_groups", "list"),
        Target("resource_groups", "SELECT",
               rows_sql(f"SELECT * FROM cf.resource_groups WHERE id = {L(rg)}"),
               f"{a}/iam/resource_groups/{rg}", "GET", f"{a}/iam/resource_groups/{rg}", "one"),
        Target("account_tokens", "SELECT", rows_sql("SELECT * FROM cf.account_tokens"),
               f"{a}/tokens", "GET", f"{a}/tokens?include_expired=true&per_page=5", "list"),
        Target("account_tokens", "SELECT",
               rows_sql(f"SELECT * FROM cf.account_tokens WHERE id = {L(t)}"),
               f"{a}/tokens/{t}", "GET", f"{a}/tokens/{t}", "one"),
        Target("account_tokens", "UPDATE",
               dml_sql(f"UPDATE cf.account_tokens SET status = 'disabled' WHERE id = {L(t)}"),
               f"{a}/tokens/{t}", "PUT", f"{a}/tokens/{t}", "one"),
        Target("account_tokens", "UPDATE",
               dml_sql(f"UPDATE cf.account_tokens SET status = 'active' WHERE id = {L(t)}"),
               f"{a}/tokens/{t}", "GET", f"{a}/tokens/{t}", "tokenput",
               put={"status": "active"}),
        Target("account_tokens", "DELETE",
               dml_sql(f"DELETE FROM cf.account_tokens WHERE id = {L(tdel)}"),
               f"{a}/tokens/{tdel}", "DELETE", f"{a}/tokens/{tdel}", "envelope"),
        Target("audit_logs", "SELECT", rows_sql("SELECT * FROM cf.audit_logs"),
               f"{a}/logs/audit", "GET",
               f"{a}/logs/audit?since=2000-01-01&before=2100-01-01&limit=5", "list"),
        Target("audit_logs", "SELECT",
               rows_sql("SELECT * FROM cf.audit_logs WHERE action_type IN ('create', 'update') "
                        "AND time > now() - interval '30 days' ORDER BY time"),
               f"{a}/logs/audit", "GET",
               f"{a}/logs/audit?since=2000-01-01&before=2100-01-01&limit=3&direction=asc",
               "list"),
        # deferred writes: the answers COMMIT reads
        Target("user_groups", "UPDATE", deferred_sql(
            f"UPDATE cf.user_groups SET name = 'fuzz deferred' WHERE id = {L(g)};"),
            f"{a}/iam/user_groups/{g}", "PUT", f"{a}/iam/user_groups/{g}", "envelope"),
        Target("user_groups", "INSERT", deferred_sql(
            "INSERT INTO cf.user_groups (name) VALUES ('fuzz new group');",
            f"INSERT INTO cf.user_group_members (user_group_id, id) VALUES "
            f"(cfiam_pending_group_id('fuzz new group'), {L(m2)});"),
            f"{a}/iam/user_groups", "POST", f"{a}/iam/user_groups/{g}", "newgroup"),
        Target("user_group_members", "INSERT", deferred_sql(
            f"INSERT INTO cf.user_group_members (user_group_id, id) VALUES ({L(g)}, {L(m2)});"),
            f"{a}/iam/user_groups/{g}/members", "POST",
            f"{a}/iam/user_groups/{g}/members?per_page=5", "envelope"),
        Target("user_group_members", "DELETE", deferred_sql(
            f"DELETE FROM cf.user_group_members WHERE user_group_id = {L(g)} AND id = {L(m)};"),
            f"{a}/iam/user_groups/{g}/members/{m}", "DELETE",
            f"{a}/iam/user_groups/{g}/members?per_page=5", "envelope",
            ensure=member_in_group),
        Target("account_tokens", "UPDATE", deferred_sql(
            f"UPDATE cf.account_tokens SET name = 'fuzz deferred' WHERE id = {L(t)};"),
            f"{a}/tokens/{t}", "PUT", f"{a}/tokens/{t}", "envelope"),
        Target("account_members", "UPDATE", deferred_sql(
            f"UPDATE cf.account_members SET role_ids = ARRAY[{L(r)}] WHERE id = {L(m)};"),
            f"{a}/members/{m}", "PUT", f"{a}/members/{m}", "envelope"),
        # the accounts, and a server without account_id (schema cf_all): every account
        Target("accounts", "SELECT", rows_sql("SELECT * FROM cf.accounts"), "/accounts?", "GET",
               "/accounts?per_page=5", "list"),
        Target("accounts", "SELECT", rows_sql(f"SELECT * FROM cf.accounts WHERE id = {L(a2)}"),
               f"/accounts/{a2}", "GET", f"/accounts/{a2}", "one"),
        Target("roles", "SELECT", rows_sql("SELECT * FROM cf_all.roles"), "/accounts?", "GET",
               "/accounts?per_page=5", "accounts"),
        Target("user_group_members", "SELECT", rows_sql("SELECT * FROM cf_all.user_group_members"),
               "/accounts?", "GET", "/accounts?per_page=5", "accounts"),
        Target("account_tokens", "SELECT",
               rows_sql("SELECT * FROM cf_all.account_tokens WHERE id <> ''"), "/accounts?",
               "GET", "/accounts?per_page=5", "accounts"),
        Target("account_members", "SELECT", rows_sql("SELECT * FROM cf_all.account_members"),
               f"{a_2}/members", "GET", f"{a_2}/members?per_page=5", "list"),
        Target("user_groups", "SELECT",
               rows_sql(f"SELECT * FROM cf_all.user_groups WHERE account_id = {L(a2)}"),
               f"{a_2}/iam/user_groups", "GET", f"{a_2}/iam/user_groups?per_page=5", "list"),
        Target("user_groups", "INSERT",
               dml_sql(f"INSERT INTO cf_all.user_groups (account_id, name) VALUES ({L(a2)}, "
                       f"'fuzz answer')"),
               f"{a_2}/iam/user_groups", "POST", f"{a_2}/iam/user_groups/{g2}", "one"),
        Target("user_groups", "UPDATE",
               dml_sql(f"UPDATE cf_all.user_groups SET name = 'fuzz renamed' "
                       f"WHERE account_id = {L(a2)} AND id = {L(g2)}"),
               f"{a_2}/iam/user_groups/{g2}", "PUT", f"{a_2}/iam/user_groups/{g2}", "one"),
        Target("account_tokens", "DELETE",
               dml_sql(f"DELETE FROM cf_all.account_tokens WHERE account_id = {L(a2)} "
                       f"AND id = {L(t2)}"),
               f"{a_2}/tokens/{t2}", "DELETE", f"{a_2}/tokens/{t2}", "envelope"),
    ]


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


# JSON numbers as text: what jsonb keeps exactly, and what a double cannot
JSON_NUMBERS = ["1", "0", "-0", "1.5", "0.1", "12345678901234567890", "1e400", "-1e400",
                "1e-400", "0.1000000000000000055511151231257827", "9007199254740993",
                "2147483648", "1.0", "1E+2", "123456789.123456789123"]


def rand_json_text(rnd, depth=0):
    """Random JSON text for a jsonb value: strings, numbers of every size, nesting."""
    k = rnd.randrange(9 if depth < 3 else 5)
    if k == 0:
        return rnd.choice(JSON_NUMBERS)
    if k == 1:
        return json.dumps(rand_text(rnd), ensure_ascii=rnd.random() < 0.5)
    if k == 2:
        return rnd.choice(["true", "false", "null"])
    if k == 3:
        return json.dumps(rnd.choice(["*", "", "192.0.2.0/24", "2001:db8::/32", "allow", "deny",
                                      "\\u0000", "é", "\"\\\""]))
    if k == 4:
        return rnd.choice(["[]", "{}"])
    if k in (5, 6):
        return "[" + ",".join(rand_json_text(rnd, depth + 1)
                              for _ in range(rnd.randrange(0, 4))) + "]"
    return "{" + ",".join(json.dumps(rnd.choice(["id", "effect", "resources", "meta", "in",
                                                 "not_in", "request_ip", "x", "", "key",
                                                 "value", rand_text(rnd)])) + ":" +
                          rand_json_text(rnd, depth + 1)
                          for _ in range(rnd.randrange(0, 4))) + "}"


def rand_token_policies(rnd, ids, token):
    """Policies JSON text for a token: mostly its own (read back), changed a little."""
    r = rnd.random()
    own = token.get("policies") if token else None
    if r < 0.25 and own is not None:
        return json.dumps(own)
    if r < 0.5:
        pol = {"effect": rnd.choice(["allow", "deny", "Allow", ""]),
               "permission_groups": [{"id": rnd.choice(ids["tpgs"])} for _ in
                                     range(rnd.randrange(1, 3))],
               "resources": {f"com.cloudflare.api.account.{ACCOUNT}": "*"}}
        if rnd.random() < 0.3 and own:
            pol["id"] = own[0].get("id")
        text = json.dumps([pol])
        if rnd.random() < 0.4:      # a meta value with a number no double holds
            text = text.replace('"resources"', '"meta":{"key":"k","value":' +
                                rnd.choice(JSON_NUMBERS) + '},"resources"', 1)
        return text
    if r < 0.85:
        return "[" + ",".join(rand_json_text(rnd, 1) for _ in range(rnd.randrange(0, 3))) + "]"
    return rand_json_text(rnd)


def rand_condition(rnd):
    r = rnd.random()
    if r < 0.15:
        return None
    if r < 0.5:
        cond = {"request_ip": {}}
        for key in ("in", "not_in"):
            if rnd.random() < 0.7:
                cond["request_ip"][key] = [rnd.choice(["192.0.2.0/24", "2001:db8::/32",
                                                       "10.0.0.1", "not an ip", "", "::/0",
                                                       "192.0.2.128/25"])
                                           for _ in range(rnd.randrange(0, 3))]
        return json.dumps(cond)
    return rand_json_text(rnd)


def json_value(text):
    """A JSON text as jsonb holds it (Decimal numbers, the last of a duplicated key)."""
    return plain(json.loads(text, object_pairs_hook=JObj, parse_float=Decimal))


TS_YEARS = [1, 2, 1969, 1970, 2024, 2031, 2038, 9999, 10000, 99999, 294276, -43, 0, -4712]


def rand_ts_literal(rnd):
    """A timestamptz for SQL: (literal, instant in microseconds | 'inf' | '-inf' | None)."""
    r = rnd.random()
    if r < 0.08:
        return "NULL", None
    if r < 0.14:
        return "'infinity'", "inf"
    if r < 0.19:
        return "'-infinity'", "-inf"
    if r < 0.22:
        return "'epoch'", 0
    y = rnd.choice(TS_YEARS) if rnd.random() < 0.6 else rnd.randrange(1900, 2100)
    mo = rnd.randrange(1, 13)
    d = rnd.randrange(1, days_in_month(y, mo) + 1)
    h, mi, s = rnd.randrange(24), rnd.randrange(60), rnd.randrange(60)
    frac = "".join(rnd.choice("0123456789") for _ in range(rnd.choice([0, 0, 1, 3, 6])))
    off_h, off_m = rnd.choice([(0, 0), (-4, 0), (5, 30), (14, 0), (-12, 0), (-9, -30), (13, 45)])
    offset = off_h * 3600 + off_m * 60
    sign = "-" if offset < 0 else "+"
    a = abs(offset)
    bc = y <= 0
    text = (f"{(1 - y) if bc else y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}"
            + (f".{frac}" if frac else "") + f"{sign}{a // 3600:02d}:{a // 60 % 60:02d}"
            + (" BC" if bc else ""))
    return sql_lit(text), epoch_us(y, mo, d, h, mi, s, frac, offset)


def rfc3339_seconds(us):
    """How cfiam must send an instant: RFC 3339 in UTC, seconds (None: no RFC 3339 form)."""
    days, rest = divmod(us // 1000000, 86400)
    y, m, d = civil_from_days(days)
    if not 1 <= y <= 9999:
        return None
    return f"{y:04d}-{m:02d}-{d:02d}T{rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d}Z"


class Checker:
    """Checks the requests a case made: well formed, and what the case expects."""

    def __init__(self):
        self.bad = []

    def fail(self, case, why, requests):
        self.bad.append((case, why, [(r["method"], r["path"], r["query"],
                                      (r["body"] or "")[:300]) for r in requests]))

    def check_requests(self, case, requests):
        ok = True
        for r in requests:
            path = r["path"]
            if path == PREFIX + "/accounts" and r["method"] == "GET":
                segs = []
            elif not path.startswith(PREFIX + "/accounts/"):
                self.fail(case, f"path outside /accounts/: {path!r}", requests)
                ok = False
                continue
            else:
                segs = path[len(PREFIX + "/accounts/"):].split("/")
            if segs and (not is_id(segs[0]) or
                         any(not (s in PATH_LITERALS or is_id(s)) for s in segs[1:])):
                self.fail(case, f"path segment neither a known literal nor 32 hex: {path!r}",
                          requests)
                ok = False
            if r["query"]:
                for part in r["query"].split("&"):
                    k, sep, v = part.partition("=")
                    if not sep or k not in QUERY_PARAMS or not UNRESERVED_OR_PCT.match(v):
                        self.fail(case, f"query part not percent-encoded or unknown: {part[:200]!r}",
                                  requests)
                        ok = False
            if r["body"] is not None:
                try:
                    json.loads(r["body"], parse_constant=_reject_constant)
                except ValueError as e:
                    self.fail(case, f"a request body that is not JSON ({e})", requests)
                    ok = False
                if "\ufffd" in r["body"]:
                    self.fail(case, "a request body that is not UTF-8 (or holds U+FFFD)",
                              requests)
                    ok = False
        return ok

    @staticmethod
    def query_values(r):
        out = {}
        for part in (r["query"] or "").split("&"):
            if part:
                k, _, v = part.partition("=")
                try:
                    out.setdefault(k, []).append(urllib.parse.unquote(v, errors="strict"))
                except UnicodeDecodeError:
                    out.setdefault(k, []).append(None)
        return out


class Case:
    def __init__(self, label, sql, exp, covers, before=None):
        self.label, self.sql, self.exp, self.covers, self.before = label, sql, exp, covers, before


def copy_sql(table, columns, rows):
    """COPY ... FROM STDIN with its rows (text format), in the script psql reads."""
    def field(v):
        if v is None:
            return "\\N"
        return v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace(
            "\r", "\\r")
    return (f"COPY {table} ({', '.join(columns)}) FROM STDIN;\n" +
            "".join("\t".join(field(v) for v in row) + "\n" for row in rows) + "\\.\n"
            # (should COPY fail before its data is read, psql takes the data for SQL: \r
            # drops what it gathered)
            "\\r")


def none_sent(reqs, out):
    return f"REFUSE: {len(reqs)} request(s) sent for a value cfiam must refuse" if reqs else None


def no_writes(reqs, out):
    w = [r for r in reqs if r["method"] != "GET"]
    return f"REFUSE: {w[0]['method']} sent for a value cfiam must refuse" if w else None


# (table, statement) each builder covers
BUILDER_COVERS = {
    "name=": [("user_groups", "SELECT")],
    "like": [("user_groups", "SELECT"), ("user_group_members", "SELECT")],
    "id=": [(t, "SELECT") for t in ("user_groups", "account_members", "roles",
                                    "permission_groups", "resource_groups", "account_tokens")],
    "any": [("account_members", "SELECT"), ("account_tokens", "SELECT")],
    "status": [("account_members", "SELECT")],
    "parent": [("user_group_members", "SELECT")],
    "pgname": [("permission_groups", "SELECT"), ("resource_groups", "SELECT")],
    "ins-group": [("user_groups", "INSERT")],
    "ins-member": [("account_members", "INSERT")],
    "upd-group": [("user_groups", "UPDATE")],
    "upd-member": [("account_members", "UPDATE")],
    "delete": [(t, "DELETE") for t in ("user_groups", "account_members", "account_tokens",
                                       "user_group_members")],
    "ins-membership": [("user_group_members", "INSERT")],
    "replace": [("user_group_members", "SELECT")],
    "upd-token": [("account_tokens", "UPDATE")],
    "audit": [("audit_logs", "SELECT")],
    "refused": [],
    "accounts": [("accounts", "SELECT")],
    "all-read": [(t, "SELECT") for t in ("user_groups", "user_group_members", "account_members",
                                         "roles", "permission_groups", "resource_groups",
                                         "account_tokens", "audit_logs")],
    "all-write": [("user_groups", "INSERT"), ("user_groups", "DELETE"),
                  ("user_group_members", "INSERT"), ("account_tokens", "UPDATE"),
                  ("account_members", "UPDATE")],
    "own-account": [("user_groups", "INSERT")],
}
DEFERRABLE = {"ins-group", "ins-member", "upd-group", "upd-member", "delete", "ins-membership",
              "upd-token"}


def build_case(rnd, ids):
    """A random builder case (a Case)."""
    a = f"{PREFIX}/accounts/{ACCOUNT}"
    g, m = ids["group"], ids["member"]
    k = rnd.randrange(26)
    s = rand_text(rnd)
    deferred = rnd.random() < 0.2

    def case(label, sql, exp, before=None):
        covers = BUILDER_COVERS[label]
        if deferred and label in DEFERRABLE:
            label = "deferred-" + label         # sent at COMMIT
        return Case(label, sql, exp, covers, before)

    if k == 0:      # user_groups.name = s
        def exp(reqs, out):
            if len(reqs) != 1:
                return f"expected 1 listing, saw {len(reqs)}"
            q = Checker.query_values(reqs[0])
            if reqs[0]["path"] != f"{a}/iam/user_groups":
                return "wrong path"
            return None if q.get("name") == [s] else f"name sent as {q.get('name')!r}, given {s!r}"
        return case("name=", f"SELECT count(*) FROM cf.user_groups WHERE name = {sql_lit(s)};", exp)
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
            q = Checker.query_values(reqs[0])
            want = None if core is None else [core]
            return None if q.get(param) == want else \
                f"{param} sent as {q.get(param)!r}, pattern {p!r} (core {core!r})"
        return case("like", f"SELECT count(*) FROM {table} WHERE {where};", exp)
    if k == 3:      # id = s on any table with a GET by id
        v = rnd.choice([s, ids["group"], ids["member"], ids["role"], ids["token"]])
        table, path = rnd.choice([("user_groups", "iam/user_groups"), ("account_members", "members"),
                                  ("roles", "roles"), ("permission_groups", "iam/permission_groups"),
                                  ("resource_groups", "iam/resource_groups"),
                                  ("account_tokens", "tokens")])

        def exp(reqs, out):
            if not is_id(v):
                return none_sent(reqs, out)
            if len(reqs) != 1 or reqs[0]["path"] != f"{a}/{path}/{v}":
                return f"expected one GET {path}/{v}"
            return None
        return case("id=", f"SELECT * FROM cf.{table} WHERE id = {sql_lit(v)};", exp)
    if k == 4:      # id = ANY
        vals = [rnd.choice([rand_text(rnd), ids["group"], ids["member"], ids["token"], "".join(
            rnd.choice(HEX) for _ in range(32))]) for _ in range(rnd.randrange(0, 6))]
        table, path = rnd.choice([("account_members", "members"), ("account_tokens", "tokens")])
        want = []
        for v in vals:
            if is_id(v) and v not in want:
                want.append(v)

        def exp(reqs, out):
            got = [r["path"] for r in reqs]
            exp_paths = [f"{a}/{path}/{v}" for v in want]
            return None if sorted(got) == sorted(exp_paths) else \
                f"expected GETs {exp_paths}, saw {got}"
        return case("any", f"SELECT * FROM cf.{table} WHERE id = ANY({sql_text_array(vals)});", exp)
    if k == 5:      # status = s
        v = rnd.choice([s, "accepted", "pending", "rejected", "Accepted", "accepted "])

        def exp(reqs, out):
            if v not in ("accepted", "pending", "rejected"):
                return none_sent(reqs, out)
            q = Checker.query_values(reqs[0]) if len(reqs) == 1 else {}
            return None if q.get("status") == [v] else f"status sent as {q.get('status')!r}"
        return case("status", f"SELECT count(*) FROM cf.account_members WHERE status = {sql_lit(v)};",
                    exp)
    if k == 6:      # user_group_id = s
        v = rnd.choice([s, g, "pending-1"])

        def exp(reqs, out):
            if not is_id(v):
                return none_sent(reqs, out)
            return None if [r["path"] for r in reqs] == [f"{a}/iam/user_groups/{v}/members"] \
                else "expected one members listing"
        return case("parent", f"SELECT * FROM cf.user_group_members WHERE user_group_id = "
                              f"{sql_lit(v)};", exp)
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
            q = Checker.query_values(reqs[0])
            return None if q.get("name") == [s] else f"name sent as {q.get('name')!r}, given {s!r}"
        return case("pgname", sql, exp)
    if k == 8:      # INSERT user_groups (name, policies)
        name = rnd.choice([s, "", "fuzz " + s])
        pol = rand_policies(rnd, ids) if rnd.random() < 0.7 else None
        want_pol = expected_policies(pol, 0) if pol is not None else None
        refuse = name == "" or (pol is not None and want_pol is None)
        ret = "" if deferred else " RETURNING id"
        sql = (f"INSERT INTO cf.user_groups (name, policies) VALUES ({sql_lit(name)}, "
               f"{sql_lit(json.dumps(pol)) + '::jsonb' if pol is not None else 'NULL'}){ret};")
        if rnd.random() < 0.25:
            sql = copy_sql("cf.user_groups", ["name", "policies"],
                           [[name, None if pol is None else json.dumps(pol)]])

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
        return case("ins-group", sql, exp)
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
        ret = "" if deferred else " RETURNING id"
        sql = f"INSERT INTO cf.account_members ({cols}) VALUES ({values}){ret};"

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
        return case("ins-member", sql, exp)
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
                return "REFUSE: PUT sent for a value cfiam must refuse" if puts else None
            if not puts and target != g:
                return None         # a random id: no such group, nothing to update
            if len(puts) != 1 or puts[0]["path"] != f"{a}/iam/user_groups/{target}":
                return "expected one PUT"
            body = json.loads(puts[0]["body"])
            want = {"policies": want_pol} if use_pol else {"name": name}
            return None if body == want else f"body {body!r}, expected {want!r}"
        return case("upd-group", sql, exp)
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
            if not puts and target != m:
                return None         # a random id: no such member, nothing to update
            if len(puts) != 1:
                return "expected one PUT"
            body = json.loads(puts[0]["body"])
            return None if body == {"roles": refs} else f"body {body!r}, expected roles {refs!r}"
        return case("upd-member", sql, exp)
    if k == 12:     # DELETE with a random id, on every table that takes DELETE
        table, path = rnd.choice([("user_groups", "iam/user_groups"), ("account_members", "members"),
                                  ("account_tokens", "tokens"), ("user_group_members", None)])
        ret = "" if deferred or rnd.random() < 0.6 else " RETURNING *"
        if path is None:
            gid = rnd.choice([g, g, s, "pending-1", ids["group2"]])
            mid = rnd.choice([m, ids["member2"], s, "".join(rnd.choice(HEX) for _ in range(32))])
            sql = (f"DELETE FROM cf.user_group_members WHERE user_group_id = {sql_lit(gid)} "
                   f"AND id = {sql_lit(mid)}{ret};")

            def exp(reqs, out):
                if not is_id(gid) or not is_id(mid):
                    return none_sent(reqs, out)
                want = f"{a}/iam/user_groups/{gid}/members/{mid}"
                bad = [r for r in reqs if r["path"] != want]
                return f"unexpected request {bad[0]['method']} {bad[0]['path']}" if bad else None
            return case("delete", sql, exp)
        target = rnd.choice([s, "".join(rnd.choice(HEX) for _ in range(32)), ids["token2"]
                             if table == "account_tokens" else s])

        def exp(reqs, out):
            if not is_id(target):
                return none_sent(reqs, out)
            bad = [r for r in reqs if r["path"] != f"{a}/{path}/{target}"]
            return f"unexpected request {bad[0]['method']} {bad[0]['path']}" if bad else None
        return case("delete", f"DELETE FROM cf.{table} WHERE id = {sql_lit(target)}{ret};", exp)
    if k == 13:     # INSERT a membership
        gid = rnd.choice([g, s])
        mids = [rnd.choice([m, s, rand_text(rnd), ids["member2"]]) for _ in range(rnd.randrange(1, 4))]
        values = ", ".join(f"({sql_lit(gid)}, {sql_lit(x)})" for x in mids)
        refuse = not is_id(gid) or not all(is_id(x) for x in mids) or len(set(mids)) != len(mids)
        ret = " RETURNING *" if rnd.random() < 0.3 and not deferred else ""
        copy = not ret and rnd.random() < 0.3
        sql = copy_sql("cf.user_group_members", ["user_group_id", "id"],
                       [[gid, x] for x in mids]) if copy else \
            f"INSERT INTO cf.user_group_members (user_group_id, id) VALUES {values}{ret};"

        def exp(reqs, out):
            if refuse:
                # with RETURNING, and with COPY (PostgreSQL 15 does not batch it), rows go
                # one at a time: rows before a bad one may be sent
                if (ret or copy) and not deferred:
                    ok = 0
                    for x in mids:
                        if not is_id(gid) or not is_id(x) or x in mids[:ok]:
                            break
                        ok += 1
                    return None if len(reqs) <= ok else f"REFUSE: {len(reqs)} POSTs, at most {ok} expected"
                return none_sent(reqs, out)
            for r in reqs:
                if r["path"] != f"{a}/iam/user_groups/{gid}/members":
                    return f"unexpected path {r['path']}"
                if any(not is_id(x.get("id", "")) for x in json.loads(r["body"])):
                    return "a non-id member id in a body"
            return None
        return case("ins-membership", sql, exp)
    if k == 14:     # cfiam_replace_user_group_members
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
        return case("replace", sql, exp)
    if k in (15, 16, 17):
        return token_update_case(rnd, ids, s, case)
    if k in (18, 19, 20):
        return audit_case(rnd, ids, s, case)
    if k in (22, 23, 24, 25):
        return account_case(rnd, ids, s, k, case)
    # k == 21: writes cfiam refuses before sending anything
    sql = rnd.choice([
        f"INSERT INTO cf.account_tokens (name) VALUES ({sql_lit(s)});",
        f"UPDATE cf.user_group_members SET email = {sql_lit(s)} WHERE user_group_id = {sql_lit(g)};",
        f"INSERT INTO cf.roles (name) VALUES ({sql_lit(s)});",
        f"UPDATE cf.permission_groups SET name = {sql_lit(s)};",
        f"DELETE FROM cf.resource_groups WHERE name = {sql_lit(s)};",
        f"DELETE FROM cf.audit_logs WHERE id = {sql_lit(s)};",
        f"UPDATE cf.audit_logs SET action_type = {sql_lit(s)};",
        f"UPDATE cf.account_tokens SET last_used_on = now() WHERE id = {sql_lit(ids['token'])};",
        f"UPDATE cf.account_tokens SET id = {sql_lit(s)} WHERE id = {sql_lit(ids['token'])};",
        f"UPDATE cf.user_groups SET created_on = now() WHERE id = {sql_lit(g)};",
        f"INSERT INTO cf.user_groups (id, name) VALUES ({sql_lit(s)}, 'x');",
        "INSERT INTO cf.user_groups (name) VALUES ('x') ON CONFLICT DO NOTHING;",
    ])

    def exp(reqs, out):
        if not errors_of(out):
            return "REFUSE: a write cfiam does not take ended without an ERROR"
        return no_writes(reqs, out)
    return Case("refused", sql, exp, [])


def token_update_case(rnd, ids, s, case):
    """UPDATE account_tokens: the PUT takes the whole token, the row's own values for the
    columns the UPDATE does not set."""
    a = f"{PREFIX}/accounts/{ACCOUNT}"
    target = rnd.choice(ids["tokens"] * 3 + [s, "".join(rnd.choice(HEX) for _ in range(32))])
    sets = {}
    for col in rnd.sample(["name", "status", "expires_on", "not_before", "policies", "condition"],
                          rnd.choice([1, 1, 2, 3])):
        if col == "name":
            sets[col] = rnd.choice([s, s, "", "fuzz " + s, None])
        elif col == "status":
            sets[col] = rnd.choice(["active", "disabled", "active", "disabled", "expired",
                                    "Active", "", s, None])
        elif col in ("expires_on", "not_before"):
            sets[col] = rand_ts_literal(rnd)
        elif col == "policies":
            sets[col] = None if rnd.random() < 0.05 else "POLICIES"
        else:
            sets[col] = rand_condition(rnd)
    policies_seed = rnd.random()
    ret = "" if rnd.random() < 0.6 else " RETURNING *"
    state = {}

    def before():
        state["token"] = None
        if is_id(target) and target in ids["tokens"]:
            status, text = mock_call("GET", f"{PREFIX}/accounts/{ACCOUNT}/tokens/{target}",
                                     headers={"Authorization": "Bearer " + TOKEN}, raw=True)
            if status == 200:           # 404: an earlier case deleted it
                state["token"] = json.loads(text)["result"]
        if sets.get("policies") == "POLICIES":
            # drawn now, from the token as it is (its own policies, changed a little)
            sets["policies"] = rand_token_policies(random.Random(policies_seed), ids,
                                                   state["token"])
        parts = []
        for col, v in sets.items():
            if col in ("expires_on", "not_before"):
                parts.append(f"{col} = {v[0]}")
            elif col in ("policies", "condition"):
                parts.append(f"{col} = " + ("NULL" if v is None else sql_lit(v) + "::jsonb"))
            else:
                parts.append(f"{col} = " + ("NULL" if v is None else sql_lit(v)))
        return f"UPDATE cf.account_tokens SET {', '.join(parts)} WHERE id = {sql_lit(target)}{ret};"

    def expected():
        """(body, None) or (None, why cfiam must refuse); body values as jsonb holds them."""
        tok = state["token"]
        body = {}
        for col in ("name", "status", "policies", "condition", "expires_on", "not_before"):
            if col in sets:
                v = sets[col]
                if v is None:
                    if col in ("name", "status", "policies"):
                        return None, f"{col} set to null"
                    continue
                if col in ("expires_on", "not_before"):
                    lit, us = v
                    if us is None:
                        continue
                    if us == "inf":
                        return "inf", None       # refused, or left out (no expiry)
                    if us == "-inf":
                        return None, f"{col} -infinity"
                    if not -210866760000 * 1000000 <= us < 9224318016000 * 1000000:
                        return None, f"{col} out of PostgreSQL's range"
                    text = rfc3339_seconds(us)
                    if text is None:
                        return None, f"{col} {lit} has no RFC 3339 form (years 1 to 9999)"
                    body[col] = text
                elif col in ("policies", "condition"):
                    try:
                        body[col] = json_value(v)
                    except ValueError:
                        return None, f"{col} is not JSON"
                else:
                    body[col] = v
            else:
                own = tok.get(col)
                if own is None:
                    continue
                if col in ("expires_on", "not_before"):
                    us = rfc3339_us(own)
                    # (a value an earlier case stored that is not RFC 3339: not compared)
                    body[col] = rfc3339_seconds(us) if us is not None else ANY
                elif col in ("policies", "condition"):
                    body[col] = json_value(json.dumps(own))
                else:
                    body[col] = own
        if body.get("name") == "":
            return None, "empty name"
        if body.get("status") not in ("active", "disabled"):
            return None, f"status {body.get('status')!r}"
        if not isinstance(body.get("policies"), list):
            return None, "policies not an array"
        if "condition" in body and not isinstance(body["condition"], dict):
            return None, "condition not an object"
        return body, None

    def exp(reqs, out):
        if not is_id(target):
            return none_sent(reqs, out)
        puts = [r for r in reqs if r["method"] != "GET"]
        if state["token"] is None:
            return None if not puts else f"a {puts[0]['method']} for a token that does not exist"
        want, refuse = expected()
        if refuse:
            return f"REFUSE: a PUT sent for a value cfiam must refuse ({refuse})" if puts else None
        if not puts:
            return "expected one PUT" if not errors_of(out) else None
        if len(puts) != 1 or puts[0]["method"] != "PUT" or \
                puts[0]["path"] != f"{a}/tokens/{target}":
            return f"expected one PUT tokens/{target}, saw {[(r['method'], r['path']) for r in puts]}"
        if want == "inf":
            got = json.loads(puts[0]["body"])
            col = next(c for c in ("expires_on", "not_before") if sets.get(c, (0, 0))[1] == "inf")
            return f"{col} 'infinity' sent as {got[col]!r}" if col in got else None
        return compare_put(puts[0]["body"], want)

    c = case("upd-token", "", exp)
    c.before = before
    return c


def account_case(rnd, ids, s, k, case):
    """The accounts table, and the tables of a server without account_id (schema cf_all):
    the accounts a query or a write names."""
    a = f"{PREFIX}/accounts"
    accounts = ids["accounts"]
    a2 = ids["account2"]

    def pick():
        return rnd.choice([a2, a2, accounts[0], accounts[-1], s, "", "".join(
            rnd.choice(HEX) for _ in range(32)), ACCOUNT.upper(), " " + a2, a2 + "/x"])

    def accounts_of(reqs):
        return [re.match(re.escape(a) + r"/([^/]*)", r["path"]).group(1) for r in reqs
                if r["path"].startswith(a + "/")]

    if k == 22:         # the accounts table
        how = rnd.choice(["id", "any", "name", "count"])
        if how == "id":
            v = pick()

            def exp(reqs, out):
                if not is_id(v):
                    return none_sent(reqs, out)
                return None if [r["path"] for r in reqs] == [f"{a}/{v}"] else \
                    f"expected one GET /accounts/{v}"
            return case("accounts", f"SELECT * FROM cf.accounts WHERE id = {sql_lit(v)};", exp)
        if how == "any":
            vals = [pick() for _ in range(rnd.randrange(0, 5))]
            want = sorted({f"{a}/{v}" for v in vals if is_id(v)})

            def exp(reqs, out):
                got = sorted(r["path"] for r in reqs)
                return None if got == want else f"expected GETs {want}, saw {got}"
            return case("accounts", f"SELECT * FROM cf.accounts WHERE id = ANY("
                                    f"{sql_text_array(vals)});", exp)
        if how == "name":
            def exp(reqs, out):
                if len(reqs) != 1 or reqs[0]["path"] != a:
                    return "expected one GET /accounts"
                q = Checker.query_values(reqs[0])
                return None if q.get("name") == [s] or (s == "" and q.get("name") is None) \
                    else f"name sent as {q.get('name')!r}, given {s!r}"
            return case("accounts", f"SELECT * FROM cf.accounts WHERE name = {sql_lit(s)};", exp)

        def exp(reqs, out):
            return None if [r["path"] for r in reqs] == [a] else "expected one GET /accounts"
        return case("accounts", "SELECT count(*) FROM cf.accounts;", exp)
    if k == 23:         # a server without account_id: which accounts a query reads
        table = rnd.choice(["user_groups", "user_group_members", "account_members", "roles",
                            "permission_groups", "resource_groups", "account_tokens",
                            "audit_logs"])
        vals = [pick() for _ in range(rnd.randrange(1, 4))]
        how = rnd.choice(["=", "any", "in", "none", "join"])
        if how == "=":
            vals = vals[:1]
            cond = f" WHERE account_id = {sql_lit(vals[0])}"
        elif how == "any":
            cond = f" WHERE account_id = ANY({sql_text_array(vals)})"
        elif how == "in":
            cond = f" WHERE account_id IN ({', '.join(sql_lit(v) for v in vals)})"
        elif how == "join":
            cond = f" t JOIN cf.accounts x ON x.id = t.account_id WHERE x.name = {sql_lit(s)}"
        else:
            cond = ""
        if table == "user_group_members" and rnd.random() < 0.5:
            cond += (" AND " if " WHERE " in cond else " WHERE ") + \
                f"user_group_id = {sql_lit(rnd.choice([ids['group_a2'], ids['group'], s]))}"
        # counted in all, or per account (GROUP BY account_id: a count per account pushed)
        if how != "join" and rnd.random() < 0.5:
            sql = f"SELECT account_id, count(*) FROM cf_all.{table}{cond} GROUP BY account_id;"
        else:
            sql = f"SELECT count(*) FROM cf_all.{table}{cond};"
        valid = {v for v in vals if is_id(v)}

        def exp(reqs, out):
            listed = [r for r in reqs if r["path"] == a]
            used = accounts_of(reqs)
            if how in ("=", "any", "in"):
                if listed:
                    return "GET /accounts for a query that names its accounts"
                if not valid:
                    return none_sent(reqs, out)
                bad = [x for x in used if x not in valid]
                return f"a call for account {bad[0]}, which the query did not name" if bad else None
            bad = [x for x in used if x not in accounts]
            return f"a call for account {bad[0]}, which GET /accounts did not list" if bad else None
        return case("all-read", sql, exp)
    if k == 24:         # writes through a server without account_id
        v = pick()
        how = rnd.choice(["ins-group", "ins-member", "set-account", "delete", "upd-token",
                          "upd-member"])
        if how == "ins-group":
            name = rnd.choice(["fuzz all " + s, s])
            sql = (f"INSERT INTO cf_all.user_groups (account_id, name) VALUES ({sql_lit(v)}, "
                   f"{sql_lit(name)});")

            def exp(reqs, out):
                if not is_id(v) or name == "":
                    return none_sent(reqs, out)
                if [r["path"] for r in reqs] != [f"{a}/{v}/iam/user_groups"]:
                    return f"expected one POST /accounts/{v}/iam/user_groups"
                body = json.loads(reqs[0]["body"])
                return None if body == {"name": name} else f"body {body!r}"
            return case("all-write", sql, exp)
        if how == "ins-member":
            gid = rnd.choice([ids["group_a2"], s])
            mid = rnd.choice([ids["member_a2"], s])
            sql = (f"INSERT INTO cf_all.user_group_members (account_id, user_group_id, id) "
                   f"VALUES ({sql_lit(v)}, {sql_lit(gid)}, {sql_lit(mid)});")

            def exp(reqs, out):
                if not (is_id(v) and is_id(gid) and is_id(mid)):
                    return none_sent(reqs, out)
                want = f"{a}/{v}/iam/user_groups/{gid}/members"
                bad = [r for r in reqs if r["path"] != want]
                return f"unexpected request {bad[0]['method']} {bad[0]['path']}" if bad else None
            return case("all-write", sql, exp)
        if how == "set-account":
            sql = (f"UPDATE cf_all.user_groups SET account_id = {sql_lit(v)} "
                   f"WHERE account_id = {sql_lit(a2)} AND id = {sql_lit(ids['group_a2'])};")

            def exp(reqs, out):
                if not errors_of(out):
                    return "REFUSE: SET account_id ended without an ERROR"
                return no_writes(reqs, out)
            return case("all-write", sql, exp)
        w = rnd.choice([ids["group_a2"], ids["token_a2"], ids["member_a2"], s,
                        "".join(rnd.choice(HEX) for _ in range(32))])
        table, path, set_sql = {
            "delete": ("user_groups", "iam/user_groups", None),
            "upd-token": ("account_tokens", "tokens", "status = 'disabled'"),
            "upd-member": ("account_members", "members", f"role_ids = ARRAY[{sql_lit(ids['role'])}]"),
        }[how]
        sql = (f"DELETE FROM cf_all.{table}" if set_sql is None else
               f"UPDATE cf_all.{table} SET {set_sql}") + \
            f" WHERE account_id = {sql_lit(v)} AND id = {sql_lit(w)};"

        def exp(reqs, out):
            if not is_id(v) or not is_id(w):
                return none_sent(reqs, out)
            bad = [r for r in reqs if r["path"] != f"{a}/{v}/{path}/{w}"]
            return f"unexpected request {bad[0]['method']} {bad[0]['path']}" if bad else None
        return case("all-write", sql, exp)
    # k == 25: a server with account_id writes to its own account only
    v = rnd.choice([ACCOUNT, ACCOUNT, a2, s, ACCOUNT.upper()])
    sql = f"INSERT INTO cf.user_groups (account_id, name) VALUES ({sql_lit(v)}, 'fuzz own');"

    def exp(reqs, out):
        if v != ACCOUNT:
            return none_sent(reqs, out)
        return None if [r["path"] for r in reqs] == [f"{a}/{ACCOUNT}/iam/user_groups"] else \
            "expected one POST iam/user_groups"
    return case("own-account", sql, exp)


AUDIT_VALUES = {
    "actor_email": ["admin@example.com", "support@cloudflare.com", "a@b", "@b", "a@", "a b@c",
                    "a@b@c", "other.admin@example.com", "A@EXAMPLE.COM"],
    "raw_status_code": ["200", "500", "0", "-1", "2147483647", "-2147483648"],
    "raw_method": ["GET", "POST", "PUT", "DELETE", "get"],
    "resource_product": ["iam", "members", "api_tokens", "dns"],
    "account_name": ["main-00", "prod-01"],
}


def audit_case(rnd, ids, s, case):
    """SELECT from the audit log: filters (=, = ANY, IN, <>, NOT IN), a time range, ORDER
    BY time, LIMIT; every value sent must be one the query gave, that the API takes."""
    a = f"{PREFIX}/accounts/{ACCOUNT}"
    conds = []
    given = collections.defaultdict(set)        # (column, eq|ne) -> values
    for _ in range(rnd.randrange(0, 4)):
        col = rnd.choice(AUDIT_FILTERS)
        pool = AUDIT_ENUMS.get(col, []) + AUDIT_VALUES.get(col, []) + \
            [rand_text(rnd), "", s, ids["token"], "".join(rnd.choice(HEX) for _ in range(32))]
        if col == "raw_status_code":
            pool = AUDIT_VALUES[col]
        vals = [rnd.choice(pool) for _ in range(rnd.randrange(1, 4))]
        op = rnd.choice(["=", "= ANY", "IN", "<>", "NOT IN", "<> ALL"])
        lit = (lambda v: v) if col == "raw_status_code" else sql_lit
        if op in ("=", "<>"):
            vals = vals[:1]
            conds.append(f"{col} {op} {lit(vals[0])}")
        elif op in ("IN", "NOT IN"):
            conds.append(f"{col} {op} ({', '.join(lit(v) for v in vals)})")
        else:
            arr = ("ARRAY[" + ",".join(vals) + "]::int[]") if col == "raw_status_code" \
                else sql_text_array(vals)
            conds.append(f"{col} {op}({arr})")
        for v in vals:
            given[(col, "eq" if op in ("=", "= ANY", "IN") else "ne")].add(v)
    lower = upper = None
    for _ in range(rnd.randrange(0, 3)):
        lit, us = rand_ts_literal(rnd)
        if rnd.random() < 0.3:
            lit, us = rnd.choice([("now() - interval '10 days'", None), ("now()", None),
                                  ("now() - interval '400 days'", None),
                                  ("'2026-01-01'::date", None), ("NULL::timestamptz", None)])
        op = rnd.choice([">=", ">", "<", "<=", "="])
        conds.append(f"time {op} {lit}")
        if isinstance(us, int):
            if op in (">=", ">", "="):
                lower = us if lower is None else max(lower, us)
            if op in ("<", "<=", "="):
                upper = us if upper is None else min(upper, us)
    where = (" WHERE " + " AND ".join(conds)) if conds else ""
    order = rnd.choice(["", "", " ORDER BY time", " ORDER BY time DESC", " ORDER BY id"])
    limit = rnd.choice(["", "", " LIMIT 1", " LIMIT 3", " LIMIT 1000", " LIMIT 1001",
                        " LIMIT 0", " LIMIT NULL", " LIMIT 1000000", " OFFSET 2 LIMIT 2"])
    sql = f"SELECT count(*) FROM (SELECT * FROM cf.audit_logs{where}{order}{limit}) s;"

    def acceptable(col, v):
        if v == "" or v is None:
            return False
        if col in AUDIT_ENUMS:
            return v in AUDIT_ENUMS[col]
        if col == "actor_email":
            at = v.find("@")
            return at > 0 and at < len(v) - 1 and "@" not in v[at + 1:] and \
                not any(c in " \t\n\r\f\v" for c in v)
        return True

    def exp(reqs, out):
        today = int(time.time()) // 86400
        for r in reqs:
            if r["path"] != f"{a}/logs/audit":
                return f"unexpected path {r['path']}"
            q = Checker.query_values(r)
            for key in ("since", "before"):
                v = q.get(key)
                if not v or len(v) != 1 or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", v[0] or "") or \
                        rfc3339_us(v[0] + "T00:00:00Z") is None:
                    return f"{key} sent as {v!r}: one date, YYYY-MM-DD, expected"
            since = rfc3339_us(q["since"][0] + "T00:00:00Z") // 86400000000
            before_ = rfc3339_us(q["before"][0] + "T00:00:00Z") // 86400000000
            if since >= before_:
                return f"since {q['since'][0]} is not before before {q['before'][0]}"
            if lower is not None and today - 500 <= lower // 86400000000 <= today and \
                    since > lower // 86400000000:
                return f"since {q['since'][0]} is after the query's lower bound {us_text(lower)}"
            if upper is not None and today - 500 <= upper // 86400000000 <= today and \
                    before_ <= upper // 86400000000:
                return f"before {q['before'][0]} does not cover the query's upper bound {us_text(upper)}"
            for key, vals in q.items():
                if key in ("since", "before", "cursor"):
                    continue
                if key == "limit":
                    if len(vals) != 1 or not re.fullmatch(r"[1-9][0-9]*", vals[0] or "") or \
                            int(vals[0]) > 1000:
                        return f"limit sent as {vals!r}"
                    continue
                if key == "direction":
                    if vals not in (["asc"], ["desc"]):
                        return f"direction sent as {vals!r}"
                    continue
                col, _, neg = key.partition(".not")
                kind = "ne" if key.endswith(".not") else "eq"
                for v in vals:
                    if v is None or v not in given[(col, kind)] or not acceptable(col, v):
                        return (f"{key}={v!r} sent; the query gave {sorted(given[(col, kind)])!r}"
                                f" for it")
            if "cursor" in q and r is reqs[0]:
                return "a cursor on the first page"
        return None
    return case("audit", sql, exp)


# --------------------------------------------------------------------------- decoder oracle

class Expect:
    """What cfiam must do with an answer, for one target."""

    def __init__(self):
        self.must = []          # (why, loose instant | None, row key, column): must be an ERROR
        self.items = []         # (row key, row dict | Reject)
        self.unknown = None     # why there is no reference
        self.no_rows = False    # a 404 that means "no such row"
        self.parent_ids = None
        self.new_id = None
        self.cursor = None
        self.objects = []       # the result objects read (a tokenput's: the token)


def expectation(tgt, ans):
    e = Expect()
    st = ans.status
    if st == 204 or st < 200:
        e.unknown = f"HTTP {st}"
        return e
    allow404 = tgt.method in ("GET", "PUT", "DELETE") and \
        tgt.mode in ("one", "envelope", "tokenput")
    if st == 404 and allow404:
        e.no_rows = True
        return e
    if not 200 <= st < 300:
        e.must.append((f"an answer of HTTP {st}", None, None, None))
        return e
    if ans.refuse:
        e.must.append((ans.refuse, None, None, None))
        return e
    if not ans.parsed:
        e.unknown = "not JSON to the reference decoder"
        return e
    doc = ans.doc
    if not isinstance(doc, JObj) or doc.get("success") is not True:
        e.must.append(("an answer whose \"success\" is not true", None, None, None))
        return e
    if tgt.mode == "envelope":
        return e
    if not any(k == "result" for k, _ in doc) and tgt.mode != "member":
        e.must.append(("an answer without \"result\"", None, None, None))
        return e
    res = doc.get("result")
    if tgt.mode in ("one", "tokenput", "newgroup"):
        if not isinstance(res, JObj):
            e.must.append((f"a result that is {json_kind(res)}, not an object", None, None, None))
            return e
        if tgt.mode == "newgroup":
            if not is_id(res.get("id")):
                e.must.append(("a new group whose id is not 32 hex", None, None, None))
            else:
                e.new_id = res.get("id")
            return e
        items = [res]
    elif tgt.mode == "member":
        found = None
        for it in res if is_array(res) else []:
            if isinstance(it, JObj) and it.get("id") == tgt.member:
                found = it
        items = [found if found is not None else JObj([("id", tgt.member)])]
    else:
        if res is None:
            items = []
        elif not is_array(res):
            e.must.append((f"a listing whose result is {json_kind(res)}", None, None, None))
            return e
        else:
            items = res
    if tgt.mode in ("parent", "accounts"):
        what = "a group" if tgt.mode == "parent" else "an account"
        e.parent_ids = []
        for it in items:
            if not isinstance(it, JObj) or not is_id(it.get("id")):
                e.must.append((f"{what} without a valid id in the listing a fan-out follows",
                               None, None, None))
            else:
                e.parent_ids.append(it.get("id"))
        return e
    e.objects = items
    for it in items:
        key = it.get("id") if isinstance(it, JObj) else None
        try:
            row = ref_row(tgt.columns(), it, lenient=True)
        except Reject as rj:
            e.must.append((rj.why, None, key, rj.col))
            e.items.append((key, rj))
            continue
        e.items.append((key, row))
        try:
            ref_row(tgt.columns(), it)
        except Reject as rj:        # a timestamp written loosely: the row has its instant
            e.must.append((rj.why, rj.loose, key, rj.col))
    if tgt.table == "audit_logs" and tgt.mode == "list" and items:
        info = doc.get("result_info")
        cur = info.get("cursor") if isinstance(info, JObj) else None
        if cur is not None and not isinstance(cur, str):
            e.must.append(("a result_info.cursor that is not a string", None, None, None))
        elif isinstance(cur, str) and cur != "":
            e.cursor = cur
    return e


PUT_FIELDS = ("name", "status", "policies", "condition", "expires_on", "not_before")


def token_put_body(row, put):
    """What the PUT of an UPDATE of a token must carry, from the row it read, or (None,
    why) when it must refuse."""
    body = {}
    for col in PUT_FIELDS:
        v = put.get(col, row.get(col))
        if v is None:
            if col in ("name", "status", "policies"):
                return None, f"{col} null"
            continue
        if col in ("expires_on", "not_before"):
            v = rfc3339_seconds(v)
            if v is None:
                return None, f"{col} without an RFC 3339 form"
        body[col] = v
    if body["name"] == "":
        return None, "empty name"
    if body["status"] not in ("active", "disabled"):
        return None, f"status {body['status']!r}"
    if not isinstance(body["policies"], list):
        return None, "policies not an array"
    if "condition" in body and not isinstance(body["condition"], dict):
        return None, "condition not an object"
    return body, None


def compare_put(got_text, want):
    """Why a PUT body is not the one wanted, or None."""
    try:
        got = json.loads(got_text, parse_float=Decimal)
    except ValueError:
        return "the PUT's body is not JSON"
    if not isinstance(got, dict):
        return "the PUT's body is not an object"
    for col in set(want) | set(got):
        if col not in want:
            return f"{col} sent ({show('jsonb', got[col])}), which the row does not have"
        if col not in got:
            return f"{col} left out of the PUT (the row has {show('jsonb', want[col])})"
        if want[col] is ANY:
            continue
        if col in ("expires_on", "not_before"):
            if not isinstance(got[col], str) or rfc3339_us(got[col]) is None or \
                    rfc3339_us(got[col]) != rfc3339_us(want[col]):
                return f"{col} sent as {got[col]!r}, expected {want[col]!r}"
        elif not json_equal(got[col], want[col]):
            return f"{col} sent as {show('jsonb', got[col])}, expected {show('jsonb', want[col])}"
    return None


# --------------------------------------------------------------------------- driver

# The extension's functions: those a case calls, and those that call no API.
FUNCTIONS_FUZZED = {"cfiam_replace_user_group_members", "cfiam_pending_group_id",
                    "cfiam_read_ahead"}
FUNCTIONS_WITHOUT_API = {"cfiam_handler", "cfiam_validator", "cfiam_cache_clear", "cfiam_stats",
                         "cfiam_stats_reset", "cfiam_pending_changes", "cfiam_limits_reset",
                         "cfiam_create_effective_access", "cfiam_json_elements"}


def strip_returning(sql):
    return re.sub(r" RETURNING [^;]*;\s*$", ";", sql)


def signature(kind, why):
    """What a finding is, to count alike ones together: its column and values left out
    (where it was found is kept apart)."""
    why = re.sub(r"^column \w+: ", "", why)
    why = re.sub(r"(sent as|the row has|the answer says|read as|saw|expected) .*", r"\1 ...", why)
    why = re.sub(r"'[^']*'|\"[^\"]*\"|\([^)]*\)|[0-9a-f]{32}|\d+", "_", why)
    return f"{kind}: {why[:120]}"


class Fuzzer:
    def __init__(self, args):
        self.args = args
        self.rnd = random.Random(args.seed)
        settings = random.Random(f"session-{args.seed}")
        self.tz = settings.choice(TIME_ZONES)
        self.datestyle = settings.choice(DATE_STYLES)
        self.psql = Psql(args.psql, f"SET TimeZone = '{self.tz}';\n"
                                    f"SET DateStyle = '{self.datestyle}';\n")
        self.stats = collections.Counter()
        self.sqlstates = collections.Counter()
        self.kinds = collections.Counter()
        self.targets_run = collections.Counter()
        self.not_reached = collections.Counter()
        self.checker = Checker()
        self.findings = []          # (signature, case number, label, detail, sql, answer)
        self.found = collections.Counter()
        self.places = collections.defaultdict(set)
        self.notes = collections.Counter()
        self.note_examples = []
        self.harness = []
        self.uncovered = []
        self.case_no = 0

    # ------------------------------------------------------------- set-up and coverage

    def setup(self):
        mock_call("POST", "/__mock/reset", MOCK_RESET)
        out, st = self.psql.run("""
SELECT 'R:' || encode(convert_to(json_object_agg(option_name, option_value)::text, 'UTF8'),
                      'hex')
  FROM pg_options_to_table((SELECT srvoptions FROM pg_foreign_server
                             WHERE srvname = 'cloudflare'));
DROP SERVER IF EXISTS fuzz_all CASCADE;
DROP SCHEMA IF EXISTS cf_all CASCADE;""")
        opts = rows_of(out)
        if st != "ok" or not opts or "api_url" not in opts[0]:
            raise SystemExit(f"fuzz: no server cloudflare with an api_url: {out[:500]}")
        ca = f", ca_file {sql_lit(opts[0]['ca_file'])}" if opts[0].get("ca_file") else ""
        out, st = self.psql.run(f"""
CREATE SERVER fuzz_all FOREIGN DATA WRAPPER cfiam
  OPTIONS (api_url {sql_lit(opts[0]['api_url'])}, max_concurrency '1', count_pushdown 'false',
           max_retries '0'{ca});
CREATE USER MAPPING FOR CURRENT_USER SERVER fuzz_all OPTIONS (api_token '{TOKEN}');
CREATE SCHEMA cf_all;
IMPORT FOREIGN SCHEMA cfiam FROM SERVER fuzz_all INTO cf_all;
ALTER FOREIGN TABLE cf_all.roles OPTIONS (ADD skip_forbidden_accounts 'true');""")
        if st != "ok" or errors_of(out):
            raise SystemExit(f"fuzz: cannot create the server without account_id: {out[:500]}")
        a = f"/accounts/{ACCOUNT}"
        groups = json.loads(api_get(f"{a}/iam/user_groups?per_page=5"))["result"]
        members = json.loads(api_get(f"{a}/members?per_page=5"))["result"]
        roles = json.loads(api_get(f"{a}/roles?per_page=5"))["result"]
        pgs = json.loads(api_get(f"{a}/iam/permission_groups?per_page=5"))["result"]
        rgs = json.loads(api_get(f"{a}/iam/resource_groups"))["result"]
        gm = json.loads(api_get(f"{a}/iam/user_groups/{groups[0]['id']}/members"))["result"]
        tokens = json.loads(api_get(f"{a}/tokens?include_expired=true&per_page=50"))["result"]
        tpgs = json.loads(api_get(f"{a}/tokens/permission_groups"))["result"]
        pol = [p for p in members[0].get("policies") or [] if p.get("id")]
        active = [t["id"] for t in tokens if t["status"] == "active" and t.get("expires_on")]
        expired = [t["id"] for t in tokens if t["status"] == "expired"]
        accounts = [x["id"] for x in json.loads(api_get("/accounts?per_page=50"))["result"]]
        a2 = f"/accounts/{accounts[1]}"
        groups_a2 = json.loads(api_get(f"{a2}/iam/user_groups?per_page=5"))["result"]
        members_a2 = json.loads(api_get(f"{a2}/members?per_page=5"))["result"]
        tokens_a2 = json.loads(api_get(f"{a2}/tokens?include_expired=true&per_page=50"))["result"]
        self.ids = {"group": groups[0]["id"], "group2": groups[1]["id"], "member": gm[0]["id"],
                    "accounts": accounts, "account2": accounts[1],
                    "group_a2": groups_a2[0]["id"], "member_a2": members_a2[0]["id"],
                    "token_a2": tokens_a2[-1]["id"],
                    "member2": members[-1]["id"], "role": roles[0]["id"],
                    "pgs": [p["id"] for p in pgs], "rgs": [r["id"] for r in rgs],
                    "policy": pol[0]["id"] if pol else "0" * 32,
                    "tokens": [t["id"] for t in tokens], "token": active[0],
                    "token2": expired[-1], "tpgs": [p["id"] for p in tpgs]}
        self.targets = decoder_targets(self.ids)
        for t in self.targets:
            t.base = api_get(t.capture)
        self.coverage()
        mock_call("POST", "/__mock/reset", MOCK_RESET)
        take_log()
        take_answers()

    def coverage(self):
        out, st = self.psql.run(
            "SELECT 'R:' || encode(convert_to(json_build_object('table', c.relname, "
            "'ops', pg_relation_is_updatable(c.oid, false), "
            "'columns', (SELECT json_agg(attname ORDER BY attnum) FROM pg_attribute "
            "WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped))::text, 'UTF8'), 'hex') "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'cf' AND c.relkind = 'f' ORDER BY c.relname;\n"
            "SELECT 'R:' || encode(convert_to(json_build_object('function', p.proname)::text, "
            "'UTF8'), 'hex') FROM pg_depend d "
            "JOIN pg_proc p ON p.oid = d.objid WHERE d.classid = 'pg_proc'::regclass "
            "AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'cfiam') "
            "ORDER BY 1;")
        found = rows_of(out)
        if st != "ok" or errors_of(out) or not any("table" in r for r in found):
            raise SystemExit(f"fuzz: cannot list the foreign tables of schema cf: {out[:500]}")
        decoded = collections.defaultdict(set)
        for t in self.targets:
            decoded[t.table].add(t.op)
        built = collections.defaultdict(set)
        for covers in BUILDER_COVERS.values():
            for table, op in covers:
                built[table].add(op)
        self.tables = []
        for r in found:
            if "function" in r:
                if r["function"] not in FUNCTIONS_FUZZED | FUNCTIONS_WITHOUT_API:
                    self.uncovered.append(f"function {r['function']}() of the extension")
                continue
            table, ops, cols = r["table"], r["ops"], r["columns"]
            self.tables.append(table)
            if table not in TABLES:
                self.uncovered.append(f"table {table}: no columns known, no cases")
                continue
            known = [c[0] for c in TABLES[table]]
            if sorted(known) != sorted(cols):
                self.uncovered.append(f"table {table}: columns {sorted(set(cols) - set(known))} "
                                      f"unknown, {sorted(set(known) - set(cols))} gone")
            for op in ["SELECT"] + [o for o, bit in OPERATIONS.items() if ops & bit]:
                if op not in decoded[table]:
                    self.uncovered.append(f"{op} on {table}: no decoder case (its answers)")
                if op not in built[table]:
                    self.uncovered.append(f"{op} on {table}: no builder case")

    # ------------------------------------------------------------- bookkeeping

    def find(self, kind, where, why, label, sql, answer=None, requests=None):
        sig = signature(kind, why)
        self.found[sig] += 1
        col = re.match(r"column (\w+):", why)
        self.places[sig].add(where + (f" ({col.group(1)})" if col else ""))
        if self.found[sig] <= 3:
            self.findings.append((sig, self.case_no, label, why, sql, answer, requests))

    def note(self, what, label=None, sql=None, ans=None):
        self.notes[what] += 1
        if self.notes[what] == 1:
            self.note_examples.append((what, self.case_no, label, sql, ans))

    def outcome(self, label, sql, out, status):
        """Book one case's result; False when the session must be restarted."""
        self.stats["cases"] += 1
        self.kinds[label] += 1
        errs = errors_of(out)
        if status == "hang":
            self.find("HANG", label, "the statement outlived its statement_timeout", label, sql)
            return False
        if status == "lost" or "server closed the connection" in out or \
                "connection to server was lost" in out:
            self.find("CRASH", label, "the connection was lost", label, sql + "\n-- " +
                      out[-600:].replace("\n", "\n-- "))
            return False
        if errs:
            self.stats["errors"] += 1
            for code, msg in errs:
                self.sqlstates[code] += 1
                if code.startswith("XX") or code == "57P01":
                    self.find("INTERNAL ERROR", label, f"{code}: {msg}", label, sql)
        else:
            self.stats["rows"] += 1
        return True

    def after_case(self, ok, label, sql):
        if ok and self.psql.alive():
            return
        if ok:      # the case itself looked fine, but the session is gone
            self.find("CRASH", label, "the session did not answer after the case", label, sql)
        time.sleep(1.0)         # a crashed backend: let the postmaster reinitialise
        self.psql.restart()
        mock_call("DELETE", "/__mock/faults")

    # ------------------------------------------------------------- decoder cases

    def decoder_case(self):
        rnd = self.rnd
        tgt = rnd.choice(self.targets)
        fields = ROW_FIELDS + TABLE_FIELDS.get(tgt.table, [])
        r = rnd.random()
        if tgt.op == "DELETE" and 0.10 <= r < 0.22:
            r = 0.5             # raw: a deletion carried out would leave nothing to delete
        latin1 = False
        if tgt.ensure:
            tgt.ensure()
        if r < 0.10:        # bytes that are not UTF-8
            label, text = mutate_envelope(rnd, tgt.base, fields)
            data = text.encode("utf-8", "surrogatepass")
            pos = [i for i in range(len(data)) if data[i:i + 1] == b'"'] or [0]
            for _ in range(rnd.randrange(1, 4)):
                i = rnd.choice(pos) + 1
                data = data[:i] + rnd.choice(INVALID_UTF8) + data[i:]
            raw_fault(data, rnd.choice([200, 200, 200, 404, 500, 400]), tgt.match, tgt.method)
            label = "bytes:" + label
            latin1 = rnd.random() < 0.3
        elif r < 0.22:      # the mock carries the request out, then lies in one field
            if rnd.random() < 0.6:
                field = rnd.choice(fields[:19] + TABLE_FIELDS.get(tgt.table, []))
                value = rand_scalar_json(rnd, valid=True)
                fault("patch", field=field, value=value, match=tgt.match, method=tgt.method)
                label = "patch:" + field
            else:
                field = rnd.choice(["result_info.total_count", "result_info.per_page",
                                    "result_info.count", "result_info.page", "result_info",
                                    "result", "success", "errors", "result_info.cursor"])
                value = rnd.choice(NUMBERS[:1] + ["null", "-1", "0", "1", "2", "50", "500",
                                                  "1e300", "-1e300", "\"5\"", "[]", "{}", "true",
                                                  "0.5", "123456789012345678901234567890"] +
                                   [json.dumps(c) for c in CURSORS[:12]])
                fault("envelope", field=field, value=value, match=tgt.match, method=tgt.method)
                label = "envelope:" + field
        else:               # the raw fault: this exact body
            label, text = mutate_envelope(rnd, tgt.base, fields)
            status = 200 if rnd.random() < 0.85 else rnd.choice([201, 204, 400, 403, 404, 409,
                                                                 429, 500, 502])
            raw_fault(text.encode("utf-8", "surrogatepass"), status, tgt.match, tgt.method)
            label = "raw:" + label
        sql = tgt.sql
        limit_kb = None
        if rnd.random() < 0.08:     # a smaller cfiam.max_response_size than the answer, maybe
            limit_kb = rnd.choice([8, 64, 1024])
            sql = f"SET cfiam.max_response_size = {limit_kb};\n{sql}\nRESET cfiam.max_response_size;"
        if latin1:
            sql = "SET client_encoding = 'LATIN1';\n" + sql + "\nRESET client_encoding;"
        take_log()
        out, st = self.psql.run(sql)
        reqs = take_log()
        answers = take_answers()
        pending = mock_call("GET", "/__mock/faults")["faults"]
        mock_call("DELETE", "/__mock/faults")
        short = label.split(":")[0] + ":" + label.split(":")[1] if ":" in label else label
        where = f"{tgt.table} {tgt.op} {tgt.mode}"
        ok = self.outcome(short, sql, out, st)
        self.targets_run[where] += 1
        if pending or not answers:
            self.stats["fault not reached"] += 1
            self.not_reached[where] += 1
        elif ok and st == "ok":
            self.check_decoder(tgt, where, label, sql, out, reqs, answers[0], limit_kb)
        if self.args.verbose:
            print(f"[dec] {where} {label}: {st} {errors_of(out)[:1]}", file=sys.stderr)
        self.after_case(ok, label, sql)

    def check_decoder(self, tgt, where, label, sql, out, reqs, answer, limit_kb=None):
        bad_before = len(self.checker.bad)
        self.checker.check_requests(f"{where} {label}: {sql[:300]!r}", reqs)
        for case, why, rq in self.checker.bad[bad_before:]:
            self.find("BAD REQUEST", where, why, label, sql, None, rq)
        del self.checker.bad[bad_before:]
        data = base64.b64decode(answer["body_base64"])
        ans = Answer(answer["status"], data)
        e = expectation(tgt, ans)
        if limit_kb is not None and len(data) > limit_kb * 1024:
            e = Expect()        # larger than cfiam.max_response_size: refused, whatever it is
            e.must.append(("an answer larger than cfiam.max_response_size", None, None, None))
        errored = bool(errors_of(out))
        rows = rows_of(out)
        idx = next((i for i, r in enumerate(reqs) if r["method"] == answer["method"] and
                    r["path"] == answer["path"] and r["query"] == answer["query"]), 0)
        after = reqs[idx + 1:]
        if e.unknown:
            self.stats["answers with no reference"] += 1
            if not errored:
                self.note(f"answer accepted that the reference decoder cannot read "
                          f"({e.unknown})", label, sql, ans)
            return
        self.stats["answers checked"] += 1
        if not errored:
            for n in ans.notes:
                self.note(f"accepted: {n}", label, sql, ans)
        if e.no_rows and rows:
            self.find("WRONG ROW", where, "rows from an answer of HTTP 404", label, sql, ans)
        if not errored:
            for why, loose, key, col in e.must:
                self.find("ACCEPTED SILENTLY", where, why, label, sql, ans)
            if rows is not None and tgt.mode != "tokenput":
                # (an UPDATE's rows are the PUT's answer, not the GET's a tokenput case changes)
                self.check_rows(tgt, where, label, sql, ans, e, rows, answer["path"])
        self.check_follow_up(tgt, where, label, sql, ans, e, errored, after)

    def check_rows(self, tgt, where, label, sql, ans, e, rows, path):
        cols = tgt.columns()
        mt = re.match(re.escape(PREFIX) + r"/accounts/([^/]*)(?:/iam/user_groups/([^/]*)/members)?",
                      path)
        from_path = {"account": mt.group(1) if mt else None, "parent": mt.group(2) if mt else None}
        for row in rows:
            cands = [ref for key, ref in e.items if key is not None and key == row.get("id")]
            refs = [dict(ref, **{c[0]: from_path[c[1]] for c in cols if c[1] in from_path})
                    for ref in cands if isinstance(ref, dict)]
            if not refs:
                continue
            diffs = []
            for ref in refs:
                diffs = [(c[0], c[1]) for c in cols
                         if not same_value(c[1], row.get(c[0]), ref.get(c[0]))]
                if not diffs:
                    break
            if diffs:
                name, kind = diffs[0]
                self.find("WRONG ROW", where,
                          f"column {name}: the row has {show(kind, row.get(name))}, the answer "
                          f"says {show(kind, refs[-1].get(name))}", label, sql, ans)

    def check_follow_up(self, tgt, where, label, sql, ans, e, errored, after):
        a = f"{PREFIX}/accounts/{ACCOUNT}"
        if e.parent_ids is not None and tgt.mode == "parent":
            for r in after:
                mt = re.fullmatch(re.escape(a) + r"/iam/user_groups/([^/]*)/members", r["path"])
                if mt and mt.group(1) not in e.parent_ids:
                    self.find("BAD REQUEST", where, "a members listing of a group the answer "
                              "did not list", label, sql, ans, after)
        if e.parent_ids is not None and tgt.mode == "accounts":
            for r in after:
                mt = re.match(re.escape(PREFIX) + r"/accounts/([^/]*)/", r["path"])
                if mt and mt.group(1) not in e.parent_ids:
                    self.find("BAD REQUEST", where, "a call for an account GET /accounts did "
                              "not list", label, sql, ans, after)
        if tgt.mode == "newgroup":
            posts = [r for r in after if r["method"] == "POST" and r["path"].endswith("/members")]
            if e.must and posts:
                self.find("BAD REQUEST", where, "members sent after an answer without a valid "
                          "group id", label, sql, ans, after)
            for r in posts:
                if r["path"] != f"{a}/iam/user_groups/{e.new_id}/members":
                    self.find("BAD REQUEST", where, "members sent under another id than the "
                              "new group's", label, sql, ans, after)
            if e.new_id and not errored and not posts:
                self.find("ACCEPTED SILENTLY", where, "the new group's members were not sent",
                          label, sql, ans)
        if e.cursor is not None:
            nxt = [r for r in after if r["path"] == f"{a}/logs/audit"]
            if nxt:
                sent = [v for k, _, v in (p.partition("=") for p in nxt[0]["query"].split("&"))
                        if k == "cursor"]
                want = e.cursor.encode("utf-8", "surrogateescape")
                if len(sent) != 1 or urllib.parse.unquote_to_bytes(sent[0]) != want:
                    self.find("BAD REQUEST", where, f"the next page asked with cursor "
                              f"{sent[:1]!r}, the answer gave {show('text', e.cursor)}",
                              label, sql, ans, after)
            elif not errored:
                self.find("ACCEPTED SILENTLY", where, "the listing stopped before the page "
                          "its cursor names", label, sql, ans)
        if tgt.mode == "tokenput":
            puts = [r for r in after if r["method"] == "PUT"]
            if not e.objects or not isinstance(e.objects[0], JObj):
                return
            # the columns the PUT carries, read from the answer (the others' findings are
            # the scan's)
            try:
                row = ref_row([c for c in TABLES["account_tokens"] if c[0] in PUT_FIELDS],
                              e.objects[0], lenient=True)
            except Reject as rj:
                if puts:
                    self.find("BAD REQUEST", where, "a PUT built from a value of the token "
                              f"cfiam must refuse ({rj.why})", label, sql, ans, puts)
                return
            want, refuse = token_put_body(row, tgt.put)
            if refuse:
                if puts:
                    self.find("BAD REQUEST", where, f"a PUT sent for a token it must refuse to "
                              f"write back ({refuse})", label, sql, ans, puts)
            elif puts:
                why = compare_put(puts[0]["body"], want)
                if why:
                    self.find("BAD REQUEST", where, f"the PUT of a token read back: {why}",
                              label, sql, ans, puts)
            elif not errored:
                self.find("ACCEPTED SILENTLY", where, "no PUT for the UPDATE of a token",
                          label, sql, ans)

    # ------------------------------------------------------------- builder cases

    def builder_case(self):
        c = build_case(self.rnd, self.ids)
        label = c.label
        sql = c.before() if c.before else c.sql
        if label.startswith("deferred-"):
            sql = deferred_sql(strip_returning(sql))
        take_log()
        out, st = self.psql.run(sql)
        reqs = take_log()
        ok = self.outcome("b-" + label, sql, out, st)
        if ok:
            bad_before = len(self.checker.bad)
            self.checker.check_requests(label, reqs)
            if len(self.checker.bad) == bad_before:
                why = c.exp(reqs, out)
                if why and errors_of(out) and not why.startswith("REFUSE: "):
                    # an ERROR (the API refused, a 414 for a huge URL, a row created by an
                    # earlier case that does not convert) ends the statement before the
                    # requests it would make: only refusals and encoding are checkable
                    self.stats["builder expectation skipped after an ERROR"] += 1
                elif why:
                    self.checker.fail(label, why, reqs)
            for case, why, rq in self.checker.bad[bad_before:]:
                self.find("BAD REQUEST", "b-" + label, why, label, sql, None, rq)
            del self.checker.bad[bad_before:]
        if self.args.verbose:
            print(f"[bld] {label}: {st} {errors_of(out)[:1]} {len(reqs)} req", file=sys.stderr)
        self.after_case(ok, label, sql)

    # ------------------------------------------------------------- the run

    def run(self):
        t0 = time.monotonic()
        self.setup()
        for i in range(self.args.cases):
            if self.args.seconds and time.monotonic() - t0 >= self.args.seconds:
                break
            self.case_no = i + 1
            try:
                if self.args.only == "decoder" or (self.args.only != "builder" and i % 2 == 0):
                    self.decoder_case()
                else:
                    self.builder_case()
            except Exception:
                self.harness.append((i + 1, traceback.format_exc()))
                try:
                    mock_call("DELETE", "/__mock/faults")
                    self.psql.restart()
                except Exception:
                    self.harness.append((i + 1, traceback.format_exc()))
                    break
            if i % 200 == 199:
                # keep the mock's data small: writes create groups and members
                try:
                    mock_call("POST", "/__mock/reset", MOCK_RESET)
                except HarnessError:
                    self.harness.append((i + 1, traceback.format_exc()))
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


def excerpt(data, n=300):
    text = data.decode("utf-8", "backslashreplace")
    return repr(text[:n]) + ("..." if len(text) > n else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cases", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=0,
                    help="stop after this many seconds (0: run every case)")
    ap.add_argument("--only", choices=("decoder", "builder"))
    ap.add_argument("--psql", default=os.environ.get("PSQL", "psql"))
    ap.add_argument("--pglog", help="postgres.log to scan for crash lines")
    ap.add_argument("--save", metavar="DIR",
                    help="write each finding's statement and answer there")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    sys.setrecursionlimit(20000)        # documents nested 1000 deep, as cJSON takes them

    offset = os.path.getsize(args.pglog) if args.pglog and os.path.exists(args.pglog) else 0
    fz = Fuzzer(args)
    elapsed = fz.run()
    log_crashes = pglog_crashes(args.pglog, offset)

    s = fz.stats
    print(f"fuzz: seed {args.seed}, {s['cases']} cases in {elapsed:.0f} s (time zone "
          f"{fz.tz}, DateStyle {fz.datestyle}): {s['rows']} ended in rows, {s['errors']} in an "
          f"ERROR; answers checked against the reference decoder: {s['answers checked']} "
          f"(no reference: {s['answers with no reference']}, fault not reached: "
          f"{s['fault not reached']})")
    print(f"tables: {', '.join(fz.tables)}")
    print("errors by SQLSTATE: " + ", ".join(f"{k} {v}" for k, v in sorted(fz.sqlstates.items())))
    print("cases by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(fz.kinds.items())))
    print("decoder cases by statement (table, statement, what is read of the answer; "
          "[faults no request reached]): " +
          ", ".join(f"{k} {v}" + (f" [{fz.not_reached[k]}]" if fz.not_reached[k] else "")
                    for k, v in sorted(fz.targets_run.items())))
    by_kind = collections.Counter()
    for sig, n in fz.found.items():
        by_kind[sig.split(":")[0]] += n
    print(f"crashes={by_kind['CRASH']} hangs={by_kind['HANG']} "
          f"internal errors={by_kind['INTERNAL ERROR']} bad requests={by_kind['BAD REQUEST']} "
          f"accepted silently={by_kind['ACCEPTED SILENTLY']} wrong rows={by_kind['WRONG ROW']} "
          f"postgres.log crash lines={'n/a' if log_crashes is None else len(log_crashes)} "
          f"harness errors={len(fz.harness)} not covered={len(fz.uncovered)}")
    print(f"builder cases not fully checkable after an ERROR: "
          f"{s['builder expectation skipped after an ERROR']}")
    for note, n in sorted(fz.notes.items()):
        print(f"NOTE ({n}x): {note}")
    for sig, n in sorted(fz.found.items()):
        places = sorted(fz.places[sig])
        print(f"FINDING ({n}x): {sig}\n    in: " + "; ".join(places[:12]) +
              (f"; and {len(places) - 12} more" if len(places) > 12 else ""))
    shown = collections.Counter()
    for sig, case_no, label, why, sql, ans, reqs in fz.findings:
        shown[sig] += 1
        if shown[sig] > 1:
            continue
        print(f"\n{sig.split(':')[0]} in case {case_no} [{label}]: {why}\n  SQL: {sql[:800]}")
        if ans is not None:
            print(f"  answer: HTTP {ans.status}, {len(ans.data)} bytes: {excerpt(ans.data)}")
        for r in (reqs or [])[:5]:
            if not isinstance(r, tuple):
                r = (r["method"], r["path"], r["query"], (r["body"] or "")[:300])
            print(f"  request: {r}")
    if args.save and fz.findings:
        os.makedirs(args.save, exist_ok=True)
        for k, (sig, case_no, label, why, sql, ans, reqs) in enumerate(fz.findings):
            base = os.path.join(args.save, f"finding-{k:03d}")
            with open(base + ".txt", "w") as f:
                f.write(f"{sig}\ncase {case_no} [{label}]\n{why}\n\n{sql}\n")
                if ans is not None:
                    f.write(f"\nanswer: HTTP {ans.status}, {base}.body\n")
                for r in reqs or []:
                    f.write(f"request: {r}\n")
            if ans is not None:
                with open(base + ".body", "wb") as f:
                    f.write(ans.data)
    if args.save and fz.note_examples:
        os.makedirs(args.save, exist_ok=True)
        for k, (what, case_no, label, sql, ans) in enumerate(fz.note_examples):
            base = os.path.join(args.save, f"note-{k:03d}")
            with open(base + ".txt", "w") as f:
                f.write(f"{what}\ncase {case_no} [{label}]\n\n{sql}\n")
            if ans is not None:
                with open(base + ".body", "wb") as f:
                    f.write(ans.data)
    for line in (log_crashes or [])[:10]:
        print(f"postgres.log: {line}")
    for case_no, tb in fz.harness[:5]:
        print(f"HARNESS ERROR in case {case_no}:\n{tb}")
    for what in fz.uncovered:
        print(f"NOT COVERED: {what}")
    print(f"replay: bash test/fuzz.sh --seed {args.seed} --cases {fz.case_no}")
    if fz.found or log_crashes:
        return 1
    if fz.harness:
        return 2
    return 3 if fz.uncovered else 0


if __name__ == "__main__":
    sys.exit(main())
