#!/usr/bin/env python3
"""mock_cloudflare.py - a mock of the Cloudflare v4 IAM API for cfiam's tests and demos.

It serves 35 operations of Cloudflare's v4 OpenAPI description (published in the
cloudflare/api-schemas repository; the subset in iam-openapi.json), under /client/v4, with
the real API's envelopes, paging, filters, authentication and error answers:

    /accounts/{a}/iam/user_groups[/{g}]            GET list, POST; GET, PUT, DELETE
    /accounts/{a}/iam/user_groups/{g}/members[/{m}] GET list, POST, PUT; GET, DELETE
    /accounts/{a}/members[/{m}]                    GET list, POST; GET, PUT, DELETE
    /accounts/{a}/roles[/{r}]                      GET list; GET
    /accounts/{a}/iam/permission_groups[/{p}]      GET list; GET
    /accounts/{a}/iam/resource_groups[/{r}]        GET list, POST; GET, PUT, DELETE
    /accounts                                      GET list of accounts
    /accounts/{a}                                  GET the account
    /accounts/{a}/tokens[/{t}]                     GET list, POST; GET, PUT, DELETE
                                                   (account-owned API tokens)
    /accounts/{a}/tokens/permission_groups         GET
    /accounts/{a}/logs/audit                       GET (audit logs, version 2)
    /accounts/{a}/logs/audit/product_categories    GET
    /accounts/{a}/audit_logs                       GET (audit logs, version 1)

One handler serves the list, and one the get, of every IAM resource, from its entry in
RESOURCES. It starts seeded with a deterministic data set (see DEFAULTS, Store.reset and
"Seeds" below), and it has control endpoints under /__mock/ for tests (reset the data, read
the request log or an account's audit log, inject faults and latency); see test/mockctl.py.
GET /__mock/answers[?clear=1] gives the bodies of the last 100 answers a "raw", "patch" or
"envelope" fault made (base64, with the request's method, path and query), so that a fuzzer
knows the exact bytes its client was given.

    python3 test/mock_cloudflare.py [--host 127.0.0.1] [--port 18787] [--drop-hook CMD]

--drop-hook: a shell command run, and waited for, whenever a fault drops the connection
("reset", "reset_after") before the mock closes its end. Behind a proxy (the TLS front of
test/pgcluster.sh) a dropped connection of the mock would reach the client as the proxy's
502; the front's hook resets the front's connections to its clients (ss -K), so the client
sees the drop itself, as it does without the front.

Python 3 standard library only. Binds loopback only. Quiet: nothing is written per request.

Behaviour worth knowing (the real API's behaviour, or the spec's, is the reason):

* Envelope: {"success", "errors": [{"code", "message"}], "messages", "result", "result_info"}.
  result_info ({page, per_page, count, total_count}; no total_pages, as in iam_result_info)
  only on paged lists. Resource groups are not paged: page/per_page are ignored there and no
  result_info is sent.
* Paging bounds come from the spec: user groups and group members per_page default 100,
  1..500; account members, roles, permission groups per_page default 20, 5..50. page >= 1.
  A value out of range or not a plain decimal integer is a 400 (code 1001). A page past the
  end is a 200 with "result": [] (count 0, total_count unchanged).
* The group-members list of a group with no members answers "result": null (the real API
  may do this); a group that has members but no row on the page/filter answers [].
* Filters: an empty value (e.g. "name=") counts as not given. Unknown query parameters are
  ignored, as the real API does.
* Sorting: user groups are always sorted by name and group members by email, because the
  spec gives `direction` a default of "asc" there. Account members are in creation order
  unless `order` is given; `direction=desc` without `order` reverses creation order. Roles,
  permission groups and resource groups are in creation order. String sorts compare by
  Unicode code point (Python's str ordering, like a byte-wise UTF-8 comparison); ties keep
  creation order in both directions (a stable sort). For account members ordered by a
  nullable field (user.first_name, user.last_name) nulls sort LAST for asc and FIRST for
  desc, i.e. null is treated as larger than any string, the way PostgreSQL orders NULLs.
* Order of checks: route (404 7003) -> method (405 10405) -> authentication (400 9106 /
  403 10000) -> account (403 9109) -> JSON syntax of the body (400 1002) -> query
  parameters (400 1001) -> the object named in the path (404 1003) -> body contents (400
  1004/1005) -> conflicts (409 1006). The real API answers "no route" before it looks at
  credentials.
* A path segment where an id belongs must be 32 lowercase hex, otherwise there is no route
  (404 7003), like an id the real router does not recognise.
* Bodies are validated against the spec's schemas: create member takes role id STRINGS,
  update member takes role OBJECTS ({"id"}); add/replace group members take a bare JSON array
  of {"id": account member id}. Unknown referenced ids are a 400 (1005).
* Credentials: the mock's API token (Authorization: Bearer) or its email + Global API key
  pair (X-Auth-Email + X-Auth-Key) work everywhere, except on the account-owned token
  endpoints (/accounts/{a}/tokens...), whose only security in the spec is api_token: there
  the email + key pair, even the right one, is refused as a wrong credential is (403
  10000), and no credential at all is 400 9106 as everywhere. The spec declares only
  email + key for several endpoints the real API serves to tokens as well (the IAM ones,
  GET /accounts, GET /accounts/{a}): the mock accepts its token there. (The real API
  refuses an account-owned token on GET /accounts, 400 1001 "List accounts endpoint does
  not support account owned tokens."; it accepts a user's token. The mock's token acts as a
  user's token there; a test can inject that answer with a "status" fault.)

Accounts. GET /accounts lists the mock's accounts (reset parameter `accounts`, default 1):
the first is account_id, named "main-00"; account k > 0 has id md5_id(seed, "account", k)
and is named prod-01, staging-02, dev-03, sandbox-04, prod-05, ... Paged (page >= 1,
per_page 5..50, default 20, result_info as above); `name` an exact match; `direction`
(no default; the spec does not say by what) sorts by name, else creation order. Fields:
id, name, type (main-00 enterprise; then standard for odd k, enterprise for even k),
created_on, settings {abuse_contact_email (main-00 and every third), enforce_twofactor},
managed_by {parent_org_id, parent_org_name "Example Org"} (main-00 and even k; absent
otherwise). Every account-scoped endpoint answers for each account, each with its own data
of the same counts; any other 32-hex account id is 403 9109. POST /accounts, PUT and DELETE
/accounts/{a} are not served (405).

Account-owned API tokens (/accounts/{a}/tokens):
* Token fields (iam_token_base): id, name, status, issued_on, modified_on, last_used_on,
  expires_on, not_before, policies [{id, effect, permission_groups [{id, name, meta?}],
  resources}], condition {request_ip {in, not_in}}. A field without a value is left out
  (none is nullable in the spec): a never-used token has no last_used_on, a token that
  never expires no expires_on. status is "expired" once expires_on has passed (whatever was
  stored), else the stored active|disabled.
* GET list: page >= 1, per_page 5..50 (default 20), result_info; sorted by issued_on (ties
  in creation order), ascending, descending with direction=desc (the spec does not say by
  what field); include_expired (true|false, default false): expired tokens are left out
  unless true. The spec says "recently-expired": the mock counts every expired token as
  recently expired.
* POST (iam_create_payload: name <= 120 characters and policies required; condition,
  expires_on, not_before optional) answers the token (status active) plus `value`, the
  secret (40 characters), in that answer only: it is not kept, and it does not
  authenticate to the mock. The request log holds requests, never answers.
* PUT takes a whole token (name and policies required); read-only fields sent back (id,
  issued_on, modified_on, last_used_on) are ignored; status active|disabled is set,
  "expired" (a token read back) leaves it as it is; condition, expires_on and not_before
  replace the old ones (left out: removed). DELETE answers {"id"}.
* Policies: effect allow|deny; permission_groups [{id (required; one of the token
  permission groups, else 400 1005), meta {key, value}}] (name is read-only: the mock fills
  it in); resources an object mapping resource keys to "*" or to an object of keys mapped to
  "*". A policy's id is read-only: on PUT a given id naming one of the token's policies is
  kept, anything else gets a new one. CIDRs in condition must parse; not_before must come
  before expires_on; times are RFC 3339 (answered as YYYY-MM-DDTHH:MM:SSZ).
* GET .../tokens/permission_groups: the fixed catalog of TOKEN_PERMISSION_GROUPS (id, name,
  category, scopes), not paged (one list, no result_info); `name` an exact match, `scope`
  one of a group's scopes.

Audit logs, version 2 (GET /accounts/{a}/logs/audit):
* since and before are required (400 when missing): a date (2026-12-01, midnight UTC) or an
  RFC 3339 timestamp, as the parameters' description allows (the spec's format "date" alone
  would refuse the timestamps). Events with since <= action.time < before.
* direction desc|asc (default desc), by action.time (ties by the order they were logged).
* Cursor paging: limit 1..1000 (default 100); result_info {count: the number of events in
  this answer, as a STRING, cursor}. cursor is opaque, given only when more events follow,
  and holds the position after the page's last event (new events do not shift it); send it
  back with the same parameters. A cursor the mock did not issue since the reset (or one of
  another account) is a 400.
* Filters (NOTES: each an array, name=a&name=b, any of them; and NAME.not, none of them;
  different parameters all hold): account_name, action_result, action_type, actor_context,
  actor_email, actor_id, actor_ip_address, actor_token_id, actor_token_name, actor_type,
  audit_log_id, id, raw_cf_ray_id, raw_method, raw_status_code, raw_uri, resource_id,
  resource_product, resource_type, resource_scope (the type of resource.scope), zone_id,
  zone_name: exact matches; enum values, emails and integers are checked (400). id and
  audit_log_id (deprecated) name the same field: their values are unioned. product_category
  (case-insensitive; unknown: 400) expands to its resource products (PRODUCT_CATEGORIES, as
  GET .../logs/audit/product_categories lists them), unioned with resource_product.
* Envelope (aaa_audit-logs-v2-response-collection): success, errors, result, result_info;
  no messages. Its errors are {"message"} without a code (see error_body); the same for
  product_categories ({success, errors, result}).
* Event fields: id (32 hex), account {id, name}, action {description, result
  "success"|"failure", time, type create|update|delete}, actor {context, email, id,
  ip_address, token_id, token_name, type} (what applies), raw {cf_ray_id, method,
  status_code, uri (the path after /client/v4), user_agent}, resource {id, product, type,
  scope {type accounts|user|zones, id}, request}, zone {id, name} (zone events only). Views
  are not logged (GA audit logs leave GET out), nor refused requests.

Audit logs, version 1 (GET /accounts/{a}/audit_logs): the same events in v1's shape
(aaa_audit-logs): id (the event id as a UUID), action {result boolean, type: add, change,
delete for create, update, delete}, actor {email, id, ip, type: user (v2 user and account),
admin (cloudflare_admin), Cloudflare (system)}, interface ("UI" for dashboard actors, else
"API"), metadata {product, zone_name?}, owner {id: the account}, resource {id, type}, when.
page >= 1, per_page 1..1000 (default 100), NO result_info (the SDK reads pages until one is
empty); id (the UUID or the 32-hex form), action.type, actor.ip (an IP or a CIDR range),
actor.email (case-insensitive), since/before (optional; date or date-time), zone.name,
direction desc|asc (default desc), hide_user_logs (true: leaves out user-scope events),
export (true|false; accepted, the answer is JSON all the same). Envelope success, errors,
messages, result. Errors keep {code, message} and messages but no result: the endpoint's
4XX schema does not allow "result": null.

The audit log records the mock's own writes: every successful POST, PUT or DELETE through
the API appends, per object changed, one event to the account's log: action.time now,
result "success", raw {cf_ray_id (new per request), method, status_code 200, uri,
user_agent (the request's)}, resource.scope {type "accounts", id: the account}, and the
actor of the credential: the mock's token -> {context api_token, id: the account, type
account, token_id and token_name of the account's token 0, "cfiam test token", which
stands for it; ip_address: the client's}; email + key -> {context api_key, email, id: the
admin's user id md5_id(seed, "user", "admin"), type user}; the other admin of a "meanwhile"
fault -> {context dash, email other.admin@example.com, type user}. Vocabulary (type,
resource.product/resource.type, resource.id):
    POST   .../iam/user_groups               create  iam/user_group           the new group
    PUT    .../iam/user_groups/{g}           update  iam/user_group           g
    DELETE .../iam/user_groups/{g}           delete  iam/user_group           g
    POST   .../user_groups/{g}/members       create  iam/user_group_member    each member
                                                     added (request {"id"}), body order
    PUT    .../user_groups/{g}/members       create, then delete, iam/user_group_member:
                                                     each member added, then each removed
                                                     (nothing when the set is unchanged)
    DELETE .../user_groups/{g}/members/{m}   delete  iam/user_group_member    m
    POST   .../members                       create  members/account_member   the new member
    PUT    .../members/{m}                   update  members/account_member   m
    DELETE .../members/{m}                   delete  members/account_member   m (its group
                                                     memberships go without events)
    POST, PUT, DELETE .../iam/resource_groups[/{r}]  iam/resource_group
    POST, PUT, DELETE .../tokens[/{t}]               api_tokens/api_token
resource.request is the request's JSON body (POST and PUT; never a token's secret, which no
request carries). GET /__mock/audit (mockctl audit) reads a log without an API request.

Seeds (Store.reset; deterministic from the seed, except times that count back from the
reset: token times and audit events). Per account:
* tokens (default 6), by index i % 6 (name "LABEL ii"; token 0 is "cfiam test token"):
    0 cfiam test token     active; never expires; last used 1 hour before the reset
    1 CI deploy 01         active; expires in 180 days; condition request_ip in
                           192.0.2.0/24, 2001:db8::/32, not_in 192.0.2.128/25; two policies
                           (the second on all the account's zones)
    2 Old integration 02   expired 200 days ago (stored disabled); last used 250 days ago
    3 Disabled backup 03   disabled; expires in 300 days; last used 120 days ago (> 90);
                           an allow and a deny policy
    4 Expired script 04    expired 10 days ago; last used 20 days ago
    5 Never used 05        active; never used (no last_used_on); expires in 30 days;
                           not_before 29 days ago
  ids md5_id(seed, "token", i) in the first account; issued_on 500, 400, 300, 250, 200 and
  30 days before the reset (plus i // 6 minutes).
* audit_events (default 40), evenly over the 60 days before the reset (oldest first), by
  index i % 10: 0 create iam/user_group_member by the token; 1 create members/account_member
  by email + key; 2 update dns/dns_record on zone example.com or example.org (scope zones,
  zone {id, name}) by a dashboard user or by the system; 3 update iam/user_group by token 1
  (CI deploy 01); 4 delete iam/user_group_member by a dashboard user; 5 create
  api_tokens/api_token by email + key; 6 update members/account_member by oauth (token name
  Wrangler) or a Cloudflare admin; 7 update user/user (scope user) by that user in the
  dashboard; 8 delete members/account_member (of a member no longer there) by the token;
  9 a failed create iam/user_group (result failure, status_code 500, no resource id).
  ids md5_id(seed, "audit_log", i) in the first account; events logged later get new ids.
* accounts (default 1): see Accounts. The first account's data is exactly what the mock
  has always seeded.

Error codes (stable; the ones from the real API are marked *). Audit logs v2 answers them
without the code (its errors are {"message"} only):
    1001  400  invalid query parameter (page, per_page, status, order, direction, limit,
               include_expired, since, before, cursor, filters of the audit logs)
    1002  400  request body is not valid JSON / missing where required
    1003  404  object not found (user group, member, role, permission group, resource group,
               member of a user group, token)
    1004  400  request body fails validation (missing required field, wrong type, bad enum)
    1005  400  request body references an unknown id (role, account member, permission
               group, resource group, token permission group)
    1006  409  conflict: the account member is already in the user group (add members), or an
               account member with that email already exists (create member)
    7003* 404  No route for the URI
    9106* 400  Missing X-Auth-Key, X-Auth-Email or Authorization headers
    9109* 403  Unauthorized to access requested resource (not one of the mock's accounts)
   10000* 403  Authentication error (wrong token, email or key; email + key on the token
               endpoints)
   10405  405  Method not allowed (a route exists but not for this method)
   10000+S S   injected "status" fault with HTTP status S (e.g. 10429, 10503)
   10500  500  an unexpected exception in the mock itself (also printed to stderr)
    1000  200  injected "success_false" fault
"""

import argparse
import base64
import bisect
import collections
import datetime
import hashlib
import http.server
import ipaddress
import json
import math
import os
import re
import secrets
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
from operator import attrgetter, itemgetter
from urllib.parse import parse_qsl

API_PREFIX = "/client/v4"
CONTROL_PREFIX = "/__mock/"
DEFAULT_PORT = 18787
MAX_BODY = 16 * 1024 * 1024

# Reset parameters and their defaults; any of them may be given to POST /__mock/reset.
DEFAULTS = {
    "seed": 1,
    "account_id": "0123456789abcdef0123456789abcdef",
    "user_groups": 5,
    "members_per_group": 3,
    "empty_groups": 0,
    "account_members": 12,
    "roles": 3,
    "permission_groups": 4,
    "resource_groups": 2,
    "token": "cfiam-test-token",
    "email": "admin@example.com",
    "key": "cfiam-test-key",
    "tokens": 6,
    "audit_events": 40,
    "accounts": 1,
}
# Upper bounds for the counts, only to keep a typo from eating the machine's memory.
COUNT_LIMITS = {
    "user_groups": 200000,
    "members_per_group": 100000,
    "empty_groups": 200000,
    "account_members": 2000000,
    "roles": 10000,
    "permission_groups": 10000,
    "resource_groups": 10000,
    "tokens": 100000,
    "audit_events": 200000,
    "accounts": 1000,
}

HEX32 = re.compile(r"[0-9a-f]{32}\Z")
DECIMAL = re.compile(r"[0-9]+\Z")
SEED_EPOCH = datetime.datetime(2024, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
UTC = datetime.timezone.utc
RFC3339 = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
                     r"(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})\Z")
FULL_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})\Z")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\Z")


# --------------------------------------------------------------------------- errors

class ApiError(Exception):
    """An error answer: HTTP status plus one {code, message} in the envelope."""

    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def bad_param(name, why):
    return ApiError(400, 1001, f"Invalid value for parameter '{name}': {why}")


def bad_json(why):
    return ApiError(400, 1002, f"Invalid request body: {why}")


def bad_body(why):
    return ApiError(400, 1004, f"Invalid request body: {why}")


def unknown_ref(what, ident):
    return ApiError(400, 1005, f"Invalid request body: unknown {what} id {json.dumps(ident)}")


def not_found(what):
    return ApiError(404, 1003, f"{what} not found")


def conflict(why):
    return ApiError(409, 1006, why)


NO_ROUTE = (404, 7003, "No route for the URI")


# --------------------------------------------------------------------------- helpers

def md5_id(seed, kind, i):
    """Every id is 32 lowercase hex: md5("{seed}/{kind}/{i}")."""
    return hashlib.md5(f"{seed}/{kind}/{i}".encode()).hexdigest()


def fmt_seed_ts(dt, style):
    """RFC 3339 with a varying number of fractional digits, as the real API sends them."""
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if style == 0:
        return base + "Z"
    if style == 1:
        return base + ".0000Z"
    return base + ".123456789Z"


def now_ts():
    """Wall-clock timestamp for writes, with 6 fractional digits (yet another width)."""
    dt = datetime.datetime.now(datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{dt.microsecond:06d}Z"


def dumps(obj):
    # Compact UTF-8 JSON (non-ASCII characters are not \u-escaped), like the real API. A
    # lone surrogate (a "patch" or "envelope" fault's value "\ud800") has no UTF-8 form:
    # it goes out as the escape \ud800, as a JavaScript server's JSON.stringify writes it.
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8", "backslashreplace")


def envelope(result, result_info=None):
    env = {"success": True, "errors": [], "messages": [], "result": result}
    if result_info is not None:
        env["result_info"] = result_info
    return env


def error_envelope(code, message):
    # iam_api-response-common-failure: result is present and null.
    return {"success": False, "errors": [{"code": code, "message": message}],
            "messages": [], "result": None}


def query_value(query, name):
    """The first value of a query parameter; None when absent or empty (empty = not given)."""
    value = query.get(name)
    if value is None or value == "":
        return None
    return value


def int_param(query, name, default, lo, hi):
    value = query.get(name)
    if value is None:
        return default
    bounds = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
    # The spec types page/per_page as "number", but only whole numbers make sense; we accept
    # plain decimal digits only ("2", not "2.0", "+2" or " 2").
    if not DECIMAL.match(value):
        raise bad_param(name, f"must be an integer {bounds}")
    n = int(value)
    if n < lo or (hi is not None and n > hi):
        raise bad_param(name, f"must be an integer {bounds}")
    return n


def enum_param(query, name, allowed, default=None):
    value = query_value(query, name)
    if value is None:
        return default
    if value not in allowed:
        raise bad_param(name, "must be one of " + ", ".join(allowed))
    return value


def paging_params(query, default, lo, hi):
    """(page, per_page) from the query, with the endpoint's per_page default and bounds."""
    return int_param(query, "page", 1, 1, None), int_param(query, "per_page", default, lo, hi)


def paginate(rows, page, per_page):
    """One page of rows plus its result_info (total_count = rows matching the filters)."""
    start = (page - 1) * per_page
    chunk = rows[start:start + per_page]
    return chunk, {"page": page, "per_page": per_page, "count": len(chunk),
                   "total_count": len(rows)}


def require_object(body):
    if not isinstance(body, dict):
        raise bad_body("expected a JSON object")
    return body


def require_string(obj, field, where="", required=True, nonempty=True, maxlen=None):
    label = f"{where}{field}"
    if field not in obj or obj[field] is None:
        if required:
            raise bad_body(f"'{label}' is required")
        return None
    value = obj[field]
    if not isinstance(value, str):
        raise bad_body(f"'{label}' must be a string")
    if nonempty and value == "":
        raise bad_body(f"'{label}' must not be empty")
    if maxlen is not None and len(value) > maxlen:
        raise bad_body(f"'{label}' must be at most {maxlen} characters")
    return value


def require_list(obj, field, where="", required=True):
    label = f"{where}{field}"
    if field not in obj or obj[field] is None:
        if required:
            raise bad_body(f"'{label}' is required")
        return None
    value = obj[field]
    if not isinstance(value, list):
        raise bad_body(f"'{label}' must be an array")
    return value


def parse_rfc3339(text):
    """An RFC 3339 date-time (any number of fractional digits, Z or an offset) as an aware
    UTC datetime (the fraction cut to microseconds), or None when it is not one."""
    m = RFC3339.match(text)
    if m is None:
        return None
    y, mo, d, h, mi, s, frac, tz = m.groups()
    try:
        if tz in ("Z", "z"):
            offset = datetime.timedelta(0)
        else:
            hh, mm = int(tz[1:3]), int(tz[4:6])
            if hh > 23 or mm > 59:
                return None
            offset = datetime.timedelta(hours=hh, minutes=mm) * (1 if tz[0] == "+" else -1)
        us = int((frac[1:] + "000000")[:6]) if frac else 0
        dt = datetime.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), us,
                               tzinfo=datetime.timezone(offset))
    except ValueError:
        return None
    return dt.astimezone(UTC)


def parse_full_date(text):
    """An RFC 3339 full-date (2026-12-01) as midnight UTC, or None."""
    m = FULL_DATE.match(text)
    if m is None:
        return None
    try:
        return datetime.datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)), tzinfo=UTC)
    except ValueError:
        return None


def time_param(query, name, required=False):
    """A query parameter that is a full-date (midnight UTC) or an RFC 3339 date-time."""
    value = query_value(query, name)
    if value is None:
        if required:
            raise bad_param(name, "is required (a date such as 2026-12-01, or an RFC 3339 "
                                  "timestamp)")
        return None
    dt = parse_full_date(value) or parse_rfc3339(value)
    if dt is None:
        raise bad_param(name, "must be a date such as 2026-12-01, or an RFC 3339 timestamp")
    return dt


def bool_param(query, name, default):
    value = query_value(query, name)
    if value is None:
        return default
    if value not in ("true", "false"):
        raise bad_param(name, "must be true or false")
    return value == "true"


def fmt_time(dt):
    """A datetime as the mock writes the time of a write (6 fractional digits)."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{dt.microsecond:06d}Z"


def utcnow():
    return datetime.datetime.now(UTC)


class Query(dict):
    """A request's query: the first value of each parameter (the dict; a repeated parameter's
    first value wins, an empty value is kept and counts as not given), plus `pairs`, every
    (name, value) in order, for the parameters that are arrays (name=a&name=b)."""

    def __init__(self, text):
        super().__init__()
        self.pairs = parse_qsl(text, keep_blank_values=True)
        for k, v in self.pairs:
            self.setdefault(k, v)

    def all(self, name):
        """Every non-empty value of a repeated parameter, in order."""
        return [v for k, v in self.pairs if k == name and v != ""]


def error_body(style, code, message):
    """An error answer in the style of the endpoint that gives it. "v4": the IAM endpoints'
    iam_api-response-common-failure. "v2" (audit logs v2, aaa_api-response-common-failure-2):
    errors carry a message and no code; no messages, no result. "v1" (audit logs v1): the 4XX
    schema requires messages, and its anyOf allows no null result, so result is left out."""
    if style == "v2":
        return {"success": False, "errors": [{"message": message}]}
    if style == "v1":
        return {"success": False, "errors": [{"code": code, "message": message}],
                "messages": []}
    return error_envelope(code, message)


# --------------------------------------------------------------------------- data

class Member:
    """An account member (membership). Compact, because seeds may hold 100,000s of them."""

    __slots__ = ("id", "email", "status", "user_id", "first_name", "last_name", "tfa",
                 "role_ids", "policies")

    def __init__(self, id, email, status, user_id, first_name, last_name, tfa, role_ids,
                 policies):
        self.id = id
        self.email = email
        self.status = status
        self.user_id = user_id
        self.first_name = first_name
        self.last_name = last_name
        self.tfa = tfa
        self.role_ids = role_ids      # tuple of role ids
        self.policies = policies      # list of Policy tuples


# A policy as stored: (id, access, tuple of permission group ids, tuple of resource group ids).
# It is rendered with the full referenced objects at answer time; references to a resource
# group that has since been deleted are left out.


# Names of the accounts after the first ("main-00"): account k is NAME-kk.
ACCOUNT_NAMES = ("prod", "staging", "dev", "sandbox")

# The permission groups of account-owned API tokens (GET .../tokens/permission_groups): a
# fixed catalog, (name, category, scopes); ids md5_id(seed, "token_permission_group", i).
ACCOUNT_SCOPE = "com.cloudflare.api.account"
ZONE_SCOPE = "com.cloudflare.api.account.zone"
TOKEN_PERMISSION_GROUPS = (
    ("Account Settings Read", "account_and_billing", (ACCOUNT_SCOPE,)),
    ("Account Settings Write", "account_and_billing", (ACCOUNT_SCOPE,)),
    ("Account API Tokens Read", "account_and_billing", (ACCOUNT_SCOPE,)),
    ("Account API Tokens Write", "account_and_billing", (ACCOUNT_SCOPE,)),
    ("Billing Read", "account_and_billing", (ACCOUNT_SCOPE,)),
    ("Access: Audit Logs Read", "analytics_and_logs", (ACCOUNT_SCOPE,)),
    ("DNS Read", "dns_and_zones", (ZONE_SCOPE,)),
    ("DNS Write", "dns_and_zones", (ZONE_SCOPE,)),
    ("Zone Read", "dns_and_zones", (ACCOUNT_SCOPE, ZONE_SCOPE)),
    ("Workers Scripts Write", "developer_platform", (ACCOUNT_SCOPE,)),
    ("Workers R2 Storage Bucket Item Read", "developer_platform",
     ("com.cloudflare.edge.r2.bucket",)),
    ("Memberships Read", "other", ("com.cloudflare.api.user",)),
)

# The audit log's product categories (GET .../logs/audit/product_categories) and the
# resource products each one expands to (the product_category filter).
PRODUCT_CATEGORIES = [
    {"value": "account_and_billing", "label": "Account and Billing",
     "products": [{"value": "iam", "label": "Identity and Access Management"},
                  {"value": "members", "label": "Members"},
                  {"value": "api_tokens", "label": "API Tokens"},
                  {"value": "billing", "label": "Billing"},
                  {"value": "user", "label": "User"}]},
    {"value": "dns_and_zones", "label": "DNS and Zones",
     "products": [{"value": "dns", "label": "DNS"},
                  {"value": "zones", "label": "Zones"}]},
    {"value": "app_security", "label": "Application Security",
     "products": [{"value": "waf", "label": "WAF"},
                  {"value": "firewall", "label": "Firewall"}]},
    {"value": "developer_platform", "label": "Developer Platform",
     "products": [{"value": "workers", "label": "Workers"},
                  {"value": "r2", "label": "R2"}]},
]
CATEGORY_PRODUCTS = {c["value"]: [p["value"] for p in c["products"]] for c in PRODUCT_CATEGORIES}


# Seeded API tokens, by index % 6: (name, stored status, issued days ago, last used days ago
# (None: never used), expires in days (None: never; < 0: already expired), not_before in
# days, the permission groups of its first policy (allow, on the account), a second policy
# (effect, permission groups, on all the account's zones?) or None, condition or None).
TOKEN_TEMPLATES = (
    ("Automation", "active", 500, 1 / 24, None, None,
     ("Account Settings Write", "Account API Tokens Write", "Access: Audit Logs Read"),
     None, None),
    ("CI deploy", "active", 400, 3, 180, None, ("Account Settings Read",),
     ("allow", ("DNS Write", "Zone Read"), True),
     {"request_ip": {"in": ["192.0.2.0/24", "2001:db8::/32"], "not_in": ["192.0.2.128/25"]}}),
    ("Old integration", "disabled", 300, 250, -200, None, ("Workers Scripts Write",), None,
     None),
    ("Disabled backup", "disabled", 250, 120, 300, None, ("Account Settings Read",),
     ("deny", ("Billing Read",), False), None),
    ("Expired script", "active", 200, 20, -10, None, ("Account API Tokens Read",), None, None),
    ("Never used", "active", 30, None, 30, -29, ("Account Settings Read",), None, None),
)

# The User-Agent of the seeded audit events, by actor.
USER_AGENTS = {
    "token": "cfiam/0.3",
    "key": "curl/8.5.0",
    "dash": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36",
    "ci": "Terraform/1.9.8 terraform-provider-cloudflare/4.48.0",
    "oauth": "wrangler/3.99.0",
    "system": "cloudflare-internal",
    "cf_admin": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 "
                "(KHTML, like Gecko) Version/18.1 Safari/605.1.15",
}

# The actor of a "meanwhile" fault's request: another admin, in the dashboard.
OTHER_ADMIN = {"context": "dash", "email": "other.admin@example.com",
               "ip_address": "198.51.100.200", "type": "user"}
OTHER_ADMIN_AGENT = USER_AGENTS["dash"]

# Audit log v2 filters: (query parameter, path of the event's field, check of each value:
# a tuple of allowed values, "email", "integer" or None). Each may repeat (name=a&name=b: any
# of them) and has a NAME.not twin (none of them); different parameters must all hold.
V2_FILTERS = (
    ("account_name", ("account", "name"), None),
    ("action_result", ("action", "result"), ("success", "failure")),
    ("action_type", ("action", "type"), ("create", "delete", "view", "update")),
    ("actor_context", ("actor", "context"),
     ("api_key", "api_token", "dash", "oauth", "origin_ca_key")),
    ("actor_email", ("actor", "email"), "email"),
    ("actor_id", ("actor", "id"), None),
    ("actor_ip_address", ("actor", "ip_address"), None),
    ("actor_token_id", ("actor", "token_id"), None),
    ("actor_token_name", ("actor", "token_name"), None),
    ("actor_type", ("actor", "type"), ("account", "cloudflare_admin", "system", "user")),
    ("audit_log_id", ("id",), None),
    ("id", ("id",), None),
    ("raw_cf_ray_id", ("raw", "cf_ray_id"), None),
    ("raw_method", ("raw", "method"), None),
    ("raw_status_code", ("raw", "status_code"), "integer"),
    ("raw_uri", ("raw", "uri"), None),
    ("resource_id", ("resource", "id"), None),
    ("resource_product", ("resource", "product"), None),
    ("resource_type", ("resource", "type"), None),
    ("resource_scope", ("resource", "scope", "type"), ("accounts", "user", "zones", "memberships")),
    ("zone_id", ("zone", "id"), None),
    ("zone_name", ("zone", "name"), None),
)

# Version 1's words for version 2's action types and actor types.
V1_ACTIONS = {"create": "add", "update": "change", "delete": "delete", "view": "view"}
V1_ACTORS = {"user": "user", "account": "user", "cloudflare_admin": "admin",
             "system": "Cloudflare"}


def field_at(event, path):
    """The value at `path` in an event, or None where a part is missing."""
    value = event
    for name in path:
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return value


def describe(action, rtype):
    """action.description: e.g. "Create user group member"."""
    noun = {"api_token": "API token", "dns_record": "DNS record"}.get(
        rtype, rtype.replace("_", " "))
    return f"{action.capitalize()} {noun}"


def v1_event(ev):
    """An audit event in version 1's shape (aaa_audit-logs)."""
    h = ev["id"]
    actor = ev["actor"]
    v1_actor = {}
    if "email" in actor:
        v1_actor["email"] = actor["email"]
    if "id" in actor:
        v1_actor["id"] = actor["id"]
    if "ip_address" in actor:
        v1_actor["ip"] = actor["ip_address"]
    v1_actor["type"] = V1_ACTORS[actor["type"]]
    metadata = {"product": ev["resource"]["product"]}
    if "zone" in ev:
        metadata["zone_name"] = ev["zone"]["name"]
    resource = {"type": ev["resource"]["type"]}
    if "id" in ev["resource"]:
        resource = {"id": ev["resource"]["id"], **resource}
    return {
        "id": f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}",
        "action": {"result": ev["action"]["result"] == "success",
                   "type": V1_ACTIONS[ev["action"]["type"]]},
        "actor": v1_actor,
        "interface": "UI" if actor.get("context") == "dash" else "API",
        "metadata": metadata,
        "owner": {"id": ev["account"]["id"]},
        "resource": resource,
        "when": ev["action"]["time"],
    }


class Store:
    """All mock state: the credentials, the accounts (Account objects, in creation order) and
    what they share. Every method is called with Server.lock held."""

    def __init__(self):
        self.reset({})

    def reset(self, params):
        p = dict(DEFAULTS)
        p.update(params)
        self.params = p
        seed = p["seed"]
        self.seed = seed
        self.account_id = p["account_id"]      # the first account
        self.token = p["token"]
        self.auth_email = p["email"]
        self.auth_key = p["key"]
        self.admin_user_id = md5_id(seed, "user", "admin")
        self.created = {}          # per-kind counters for ids of objects created via the API
        # Seeded times that are relative (tokens, audit events) count back from the reset.
        self.anchor = utcnow().replace(microsecond=0)
        self.sequence = 0          # audit events: order of events of the same time
        self.rays = 0              # Ray ids of the API writes
        self.cursors = collections.OrderedDict()   # audit log cursors issued
        self.cursor_count = 0
        self.token_permission_groups = [
            {"id": md5_id(seed, "token_permission_group", i), "name": name,
             "category": category, "scopes": list(scopes)}
            for i, (name, category, scopes) in enumerate(TOKEN_PERMISSION_GROUPS)]
        self.token_pg_by_id = {g["id"]: g for g in self.token_permission_groups}
        self.token_pg_by_name = {g["name"]: g for g in self.token_permission_groups}
        self.accounts = {}
        for k in range(p["accounts"]):
            aid = self.account_id if k == 0 else md5_id(seed, "account", k)
            self.accounts[aid] = Account(self, k, aid)

    def next_sequence(self):
        self.sequence += 1
        return self.sequence

    def next_ray(self):
        """A Cloudflare Ray id (16 hex digits) for an API write."""
        self.rays += 1
        return md5_id(self.seed, "ray", f"created/{self.rays}")[:16]

    def issue_cursor(self, account_id, key):
        """An opaque cursor for the audit log position `key` of an account. Only cursors
        issued since the last reset are accepted (the last 100,000 of them)."""
        self.cursor_count += 1
        raw = hashlib.sha256(f"{self.seed}/cursor/{self.cursor_count}".encode()).digest()
        cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        self.cursors[cursor] = (account_id, key)
        if len(self.cursors) > 100000:
            self.cursors.popitem(last=False)
        return cursor

    # ----------------------------------------------------------------- accounts

    def list_accounts(self, res, ids, query, body):
        """GET /accounts: every account of the mock. `name` is an exact match; `direction`
        (no default in the spec, which does not say by what field) sorts by name; without
        it the accounts come in creation order, the first being account_id."""
        page, per_page = paging_params(query, 20, 5, 50)
        direction = enum_param(query, "direction", ("asc", "desc"))
        name = query_value(query, "name")
        rows = list(self.accounts.values())
        if name is not None:
            rows = [a for a in rows if a.name == name]
        if direction is not None:
            rows.sort(key=attrgetter("name"), reverse=(direction == "desc"))
        chunk, info = paginate(rows, page, per_page)
        return envelope([a.render_account() for a in chunk], info)

class Account:
    """One account: its data and the handlers of the account-scoped endpoints. Every method
    is called with Server.lock held. The first account (index 0) is seeded exactly as the
    mock's only account always was; account k > 0 gets the same counts, its own ids (kind
    "account/k/<kind>" in md5_id), and the same users (user ids and emails: the same people
    are members of every account, each with a membership id of that account). Role and
    permission group ids are the same in every account, as the real API's are."""

    def __init__(self, store, index, account_id):
        p = store.params
        seed = store.seed
        self.store = store
        self.index = index
        self.seed = seed
        self.account_id = account_id
        self.created = store.created   # shared by all accounts: ids never collide
        self.cache = {}            # sorted/filtered list views; cleared on every write
        self.ctx = None            # the API write being carried out (see audit)
        prefix = "" if index == 0 else f"account/{index}/"

        def kid(kind, i):
            return md5_id(seed, prefix + kind, i)

        if index == 0:
            self.name, self.type = "main-00", "enterprise"
            self.created_on = fmt_seed_ts(SEED_EPOCH - datetime.timedelta(days=365), 1)
            self.settings = {"abuse_contact_email": "abuse@example.com",
                             "enforce_twofactor": False}
            self.managed_by = {"parent_org_id": md5_id(seed, "organization", 0),
                               "parent_org_name": "Example Org"}
        else:
            self.name = f"{ACCOUNT_NAMES[(index - 1) % len(ACCOUNT_NAMES)]}-{index:02d}"
            self.type = "enterprise" if index % 2 == 0 else "standard"
            self.created_on = fmt_seed_ts(SEED_EPOCH + datetime.timedelta(days=index), index % 3)
            self.settings = {"enforce_twofactor": index % 2 == 0}
            if index % 3 == 0:
                self.settings = {"abuse_contact_email": f"abuse-{index:02d}@example.com",
                                 **self.settings}
            self.managed_by = None
            if index % 2 == 0:
                self.managed_by = {"parent_org_id": md5_id(seed, "organization", 0),
                                   "parent_org_name": "Example Org"}

        n_roles = p["roles"]
        n_pg = p["permission_groups"]
        n_rg = p["resource_groups"]
        n_am = p["account_members"]
        n_ug = p["user_groups"]
        mpg = p["members_per_group"]
        n_empty = min(p["empty_groups"], n_ug)
        acct_key = f"com.cloudflare.api.account.{self.account_id}"

        # Roles (immutable objects, shared by every member that has them).
        self.roles = {}
        role_ids = []
        for r in range(n_roles):
            rid = md5_id(seed, "role", r)
            role_ids.append(rid)
            self.roles[rid] = {
                "id": rid,
                "name": f"Role {r:02d}",
                "description": f'Role {r:02d}: can read, write "things"',
                "permissions": {
                    "analytics": {"read": True, "write": r % 2 == 0},
                    "billing": {"read": True, "write": False},
                    "dns": {"read": True, "write": True},
                },
            }

        self.permission_groups = {}
        pg_ids = []
        for i in range(n_pg):
            pid = md5_id(seed, "permission_group", i)
            pg_ids.append(pid)
            self.permission_groups[pid] = {
                "id": pid,
                "name": f"Permission Group {i:03d}",
                "meta": {"label": f"pg_label_{i}", "scopes": "com.cloudflare.api.account"},
            }

        self.resource_groups = {}
        rg_ids = []
        for q in range(n_rg):
            qid = kid("resource_group", q)
            rg_ids.append(qid)
            self.resource_groups[qid] = {
                "id": qid,
                "name": acct_key if q == 0 else f"Resource Group {q}",
                "scope": {"key": acct_key,
                          "objects": [{"key": f"com.cloudflare.api.account.zone.{qid}"}]},
                "meta": {"editable": "false"},
            }

        # Account members. Policy ids: user group i gets md5(seed/policy/2i), account member
        # i gets md5(seed/policy/2i+1), so the two never collide whatever the counts.
        self.members = {}
        self.emails = {}           # lower-cased email -> member id (emails are unique)
        role_tuples = [(rid,) for rid in role_ids]
        for i in range(n_am):
            mid = kid("account_member", i)
            m10 = i % 10
            if m10 == 1:
                email = f"o'neil.{i:05d}@example.com"
            elif m10 == 3:
                email = f"jürgen.{i:05d}@example.com"
            else:
                email = f"user{i:05d}@example.com"
            if i % 6 == 5:
                first = last = None
            else:
                first = "Seán" if m10 == 1 else "Jürgen" if m10 == 3 else f"First{i:05d}"
                last = "O'Neil, Jr." if m10 == 1 else f"Last{i:05d}"
            policies = []
            if i % 4 == 0 and n_pg and n_rg:
                policies = [(kid("policy", 2 * i + 1), "allow",
                             (pg_ids[i % n_pg],), (rg_ids[i % n_rg],))]
            self.members[mid] = Member(
                mid, email, "pending" if i % 7 == 6 else "accepted",
                md5_id(seed, "user", i), first, last, i % 2 == 0,
                role_tuples[i % n_roles] if n_roles else (), policies)
            self.emails[email.lower()] = mid
        member_ids = list(self.members)

        # User groups and their members (group id -> {member id: created_at}, in insertion
        # order), plus the reverse index member id -> set of group ids.
        self.groups = {}
        self.group_members = {}
        self.member_groups = {}
        per_group = min(mpg, n_am)
        for i in range(n_ug):
            gid = kid("user_group", i)
            m10 = i % 10
            if m10 == 1:
                name = f"Group {i:04d} O'Brien's team"
            elif m10 == 2:
                name = f'Group {i:04d} Ops, "core"'
            elif m10 == 3:
                name = f"Group {i:04d} Équipe Zürich"
            else:
                name = f"Group {i:04d}"
            created = SEED_EPOCH + datetime.timedelta(minutes=i)
            policies = []
            if n_pg and n_rg:
                policies = [(kid("policy", 2 * i), "allow",
                             (pg_ids[i % n_pg],), (rg_ids[i % n_rg],))]
            self.groups[gid] = {
                "id": gid,
                "name": name,
                "created_on": fmt_seed_ts(created, i % 3),
                "modified_on": fmt_seed_ts(created + datetime.timedelta(days=1), i % 3),
                "policies": policies,
            }
            gm = {}
            if i < n_ug - n_empty:
                for j in range(per_group):
                    mid = member_ids[(i * mpg + j) % n_am]
                    gm[mid] = fmt_seed_ts(created + datetime.timedelta(seconds=j + 1),
                                          (i + j) % 3)
                    self.member_groups.setdefault(mid, set()).add(gid)
            self.group_members[gid] = gm

        self.seed_tokens(p["tokens"], kid)
        self.events = []           # (key, event, own), ascending by key = (time, sequence)
        self.seed_events(p["audit_events"], kid)

    def new_id(self, kind):
        """Id for an object created through the API: deterministic after a reset, and never
        equal to a seeded id or to an id handed out earlier (also after deletes)."""
        n = self.created.get(kind, 0)
        self.created[kind] = n + 1
        return md5_id(self.seed, kind, f"created/{n}")

    def changed(self):
        self.cache.clear()

    def cached(self, key, build):
        rows = self.cache.get(key)
        if rows is None:
            if len(self.cache) > 256:
                self.cache.clear()
            rows = build()
            self.cache[key] = rows
        return rows

    # ----------------------------------------------------------------- seeding: tokens

    def seed_tokens(self, n, kid):
        """Account-owned API tokens, from TOKEN_TEMPLATES by index % 6 (times count back from
        the reset). Token 0, "cfiam test token", stands for the mock's own API token in this
        account: the audit log names it as the actor of the writes made with that token."""
        anchor = self.store.anchor
        day = datetime.timedelta(days=1)
        by_name = self.store.token_pg_by_name
        acct_res = f"com.cloudflare.api.account.{self.account_id}"
        self.tokens = {}
        for i in range(n):
            (label, status, issued, used, expires, not_before, pgs, extra,
             condition) = TOKEN_TEMPLATES[i % len(TOKEN_TEMPLATES)]
            tid = kid("token", i)
            issued_at = anchor - issued * day + datetime.timedelta(minutes=i // 6)
            style = i % 3
            policies = [{"id": kid("token_policy", f"{i}/0"), "effect": "allow",
                         "permission_groups": [{"id": by_name[x]["id"], "name": x} for x in pgs],
                         "resources": {acct_res: "*"}}]
            if extra is not None:
                effect, epgs, zones = extra
                policies.append({
                    "id": kid("token_policy", f"{i}/1"), "effect": effect,
                    "permission_groups": [{"id": by_name[x]["id"], "name": x} for x in epgs],
                    "resources": ({acct_res: {"com.cloudflare.api.account.zone.*": "*"}}
                                  if zones else {acct_res: "*"})})
            expires_at = None if expires is None else anchor + expires * day
            self.tokens[tid] = {
                "id": tid,
                "name": "cfiam test token" if i == 0 else f"{label} {i:02d}",
                "status": status,
                "issued_on": fmt_seed_ts(issued_at, style),
                "issued_at": issued_at,
                "modified_on": fmt_seed_ts(issued_at + day, style),
                "last_used_on": None if used is None else fmt_seed_ts(anchor - used * day, style),
                "expires_on": None if expires_at is None else fmt_seed_ts(expires_at, style),
                "expires_at": expires_at,
                "not_before": (None if not_before is None
                               else fmt_seed_ts(anchor + not_before * day, style)),
                "policies": policies,
                "condition": condition,
            }
        first = next(iter(self.tokens.values()), None)
        # (id, name) of the token that stands for the mock's token, as seeded
        self.own_token = None if first is None else (first["id"], first["name"])

    # ----------------------------------------------------------------- seeding: audit log

    def seed_events(self, n, kid):
        """n audit log events, spread evenly over the 60 days before the reset, from
        AUDIT_TEMPLATES by index % 10 (see the module docstring)."""
        anchor = self.store.anchor
        span = 60 * 86400
        members = list(self.members.values())
        groups = list(self.groups)
        tokens = list(self.tokens.values())
        zones = (("example.com", kid("zone", 0)), ("example.org", kid("zone", 1)))
        base = f"/accounts/{self.account_id}"
        for i in range(n):
            t = anchor - datetime.timedelta(seconds=span - (i + 1) * span // (n + 1))
            kind = i % 10
            turn = (i // 10) % 2
            m = members[(i * 7) % len(members)] if members else None
            mid = m.id if m else kid("removed_member", i)
            gid = groups[i % len(groups)] if groups else kid("removed_group", i)
            dash_user = m if m else None
            who = members[(i * 3 + 1) % len(members)] if members else None
            actors = {
                "token": self.token_actor("203.0.113.10"),
                "key": self.key_actor("203.0.113.11"),
                "dash": ({"context": "dash", "email": who.email, "id": who.user_id,
                          "ip_address": f"198.51.100.{(i % 250) + 1}", "type": "user"}
                         if who else {"context": "dash", "email": "someone@example.com",
                                      "id": md5_id(self.seed, "user", "someone"),
                                      "ip_address": "198.51.100.1", "type": "user"}),
                "ci": (self.token_actor("203.0.113.20", tokens[1]) if len(tokens) > 1
                       else self.token_actor("203.0.113.20")),
                "oauth": {"context": "oauth", "email": self.store.auth_email,
                          "id": self.store.admin_user_id, "ip_address": "203.0.113.12",
                          "token_id": md5_id(self.seed, "oauth_token", 0),
                          "token_name": "Wrangler", "type": "user"},
                "system": {"id": md5_id(self.seed, "system_actor", 0), "type": "system"},
                "cf_admin": {"context": "dash", "email": "support@cloudflare.com",
                             "id": md5_id(self.seed, "cloudflare_admin", 0),
                             "ip_address": "192.0.2.1", "type": "cloudflare_admin"},
            }
            zone = None
            scope = {"type": "accounts", "id": self.account_id}
            request = None
            result, status = "success", 200
            if kind == 0:
                action, product, rtype, rid = "create", "iam", "user_group_member", mid
                method, uri, actor = "POST", f"{base}/iam/user_groups/{gid}/members", "token"
                request = {"id": mid}
            elif kind == 1:
                action, product, rtype, rid = "create", "members", "account_member", mid
                method, uri, actor = "POST", f"{base}/members", "key"
                request = {"email": m.email if m else "someone@example.com"}
            elif kind == 2:
                zname, zid = zones[turn]
                zone = {"id": zid, "name": zname}
                scope = {"type": "zones", "id": zid}
                action, product, rtype, rid = "update", "dns", "dns_record", kid("dns_record", i)
                method, uri = "PUT", f"/zones/{zid}/dns_records/{rid}"
                actor = "system" if turn else "dash"
            elif kind == 3:
                action, product, rtype, rid = "update", "iam", "user_group", gid
                method, uri, actor = "PUT", f"{base}/iam/user_groups/{gid}", "ci"
                request = {"name": self.groups[gid]["name"] if gid in self.groups
                           else "Removed group"}
            elif kind == 4:
                action, product, rtype, rid = "delete", "iam", "user_group_member", mid
                method, uri, actor = "DELETE", f"{base}/iam/user_groups/{gid}/members/{mid}", "dash"
            elif kind == 5:
                tok = tokens[i % len(tokens)] if tokens else None
                action, product, rtype = "create", "api_tokens", "api_token"
                rid = tok["id"] if tok else kid("removed_token", i)
                method, uri, actor = "POST", f"{base}/tokens", "key"
                request = {"name": tok["name"] if tok else "Removed token"}
            elif kind == 6:
                action, product, rtype, rid = "update", "members", "account_member", mid
                method, uri = "PUT", f"{base}/members/{mid}"
                actor = "cf_admin" if turn else "oauth"
            elif kind == 7:
                uid = dash_user.user_id if dash_user else md5_id(self.seed, "user", "someone")
                action, product, rtype, rid = "update", "user", "user", uid
                method, uri, actor = "PATCH", "/user", "dash"
                scope = {"type": "user", "id": uid}
            elif kind == 8:
                action, product, rtype = "delete", "members", "account_member"
                rid = kid("removed_member", i)
                method, uri, actor = "DELETE", f"{base}/members/{rid}", "token"
            else:
                action, product, rtype, rid = "create", "iam", "user_group", None
                method, uri, actor = "POST", f"{base}/iam/user_groups", "key"
                result, status = "failure", 500
                request = {"name": f"Group created at {i}"}
            act = actors[actor]
            if actor == "dash" and kind == 7 and dash_user is not None:
                act = dict(act, email=dash_user.email, id=dash_user.user_id)
            ts = fmt_seed_ts(t, i % 3)
            ev = {
                "id": kid("audit_log", i),
                "account": {"id": self.account_id, "name": self.name},
                "action": {"description": describe(action, rtype), "result": result,
                           "time": ts, "type": action},
                "actor": act,
                "raw": {"cf_ray_id": kid("ray", i)[:16], "method": method,
                        "status_code": status, "uri": uri,
                        "user_agent": USER_AGENTS[actor]},
                "resource": {"product": product, "type": rtype, "scope": scope},
            }
            if rid is not None:
                ev["resource"] = {"id": rid, **ev["resource"]}
            if request is not None:
                ev["resource"]["request"] = request
            if zone is not None:
                ev["zone"] = zone
            self.add_event(parse_rfc3339(ts), ev, False)

    # ----------------------------------------------------------------- audit log

    def token_actor(self, ip, token=None):
        """The actor of a request made with an account-owned token (default: the token that
        stands for the mock's own token)."""
        actor = {"context": "api_token", "id": self.account_id, "ip_address": ip}
        if token is not None:
            actor["token_id"], actor["token_name"] = token["id"], token["name"]
        elif self.own_token is not None:
            tid, name = self.own_token
            current = self.tokens.get(tid)
            actor["token_id"] = tid
            actor["token_name"] = current["name"] if current else name
        actor["type"] = "account"
        return actor

    def key_actor(self, ip):
        """The actor of a request made with the Global API key (the admin user)."""
        return {"context": "api_key", "email": self.store.auth_email,
                "id": self.store.admin_user_id, "ip_address": ip, "type": "user"}

    def add_event(self, when, event, own):
        key = (when, self.store.next_sequence())
        item = (key, event, own)
        if not self.events or self.events[-1][0] <= key:
            self.events.append(item)
        else:
            bisect.insort(self.events, item, key=itemgetter(0))

    def audit(self, action, product, rtype, rid, request=None):
        """Record an API write of this account in its audit log (version 2), as the real API
        does: one event per object changed, its actor the credential of the request."""
        ctx = self.ctx
        if ctx is None:
            return
        now = utcnow()
        raw = {"cf_ray_id": ctx["ray"], "method": ctx["method"], "status_code": 200,
               "uri": ctx["uri"]}
        if ctx["user_agent"] is not None:
            raw["user_agent"] = ctx["user_agent"]
        resource = {"id": rid, "product": product, "type": rtype,
                    "scope": {"type": "accounts", "id": self.account_id}}
        if request is not None:
            resource["request"] = request
        self.add_event(now, {
            "id": self.new_id("audit_log"),
            "account": {"id": self.account_id, "name": self.name},
            "action": {"description": describe(action, rtype), "result": "success",
                       "time": fmt_time(now), "type": action},
            "actor": ctx["actor"],
            "raw": raw,
            "resource": resource,
        }, True)

    def list_audit_v2(self, res, ids, query, body):
        """GET /accounts/{a}/logs/audit (version 2): cursor paging, array filters."""
        since = time_param(query, "since", required=True)
        before = time_param(query, "before", required=True)
        direction = enum_param(query, "direction", ("desc", "asc"), "desc")
        limit = int_param(query, "limit", 100, 1, 1000)
        checks = []
        for name, path, kind in V2_FILTERS:
            for suffix, keep in (("", True), (".not", False)):
                values = query.all(name + suffix)
                if not values:
                    continue
                for v in values:
                    if isinstance(kind, tuple) and v not in kind:
                        raise bad_param(name + suffix, "must be one of " + ", ".join(kind))
                    if kind == "email" and not EMAIL.match(v):
                        raise bad_param(name + suffix, "must be an email address")
                    if kind == "integer" and not re.fullmatch(r"-?[0-9]+", v):
                        raise bad_param(name + suffix, "must be an integer")
                if kind == "integer":
                    values = [int(v) for v in values]
                checks.append((path, set(values), keep))
        categories = query.all("product_category")
        if categories:
            products = set()
            for c in categories:
                expanded = CATEGORY_PRODUCTS.get(c.lower())
                if expanded is None:
                    raise bad_param("product_category",
                                    f"unknown product category {json.dumps(c)}; one of "
                                    + ", ".join(CATEGORY_PRODUCTS))
                products.update(expanded)
            # unioned with resource_product: one inclusion check on resource.product
            for k, (path, values, keep) in enumerate(checks):
                if keep and path == ("resource", "product"):
                    checks[k] = (path, values | products, keep)
                    break
            else:
                checks.append((("resource", "product"), products, True))
        # id and its deprecated alias audit_log_id name the same field: their values are
        # unioned rather than both required.
        merged = {}
        rest = []
        for path, values, keep in checks:
            if path == ("id",):
                merged[keep] = merged.get(keep, set()) | values
            else:
                rest.append((path, values, keep))
        checks = rest + [(("id",), values, keep) for keep, values in merged.items()]
        cursor = query_value(query, "cursor")
        position = None
        if cursor is not None:
            issued = self.store.cursors.get(cursor)
            if issued is None or issued[0] != self.account_id:
                raise bad_param("cursor", "is not a cursor of this audit log (it comes from "
                                          "the result_info.cursor of a previous answer)")
            position = issued[1]
        desc = direction == "desc"
        events = reversed(self.events) if desc else iter(self.events)
        page = []
        more = False
        for key, ev, _ in events:
            when = key[0]
            if when < since or when >= before:
                continue
            if position is not None and (key >= position if desc else key <= position):
                continue
            if not all((field_at(ev, path) in values) == keep for path, values, keep in checks):
                continue
            if len(page) == limit:
                more = True
                break
            page.append((key, ev))
        info = {"count": str(len(page))}
        if more:
            info["cursor"] = self.store.issue_cursor(self.account_id, page[-1][0])
        return {"success": True, "errors": [], "result": [ev for _, ev in page],
                "result_info": info}

    def list_product_categories(self, res, ids, query, body):
        return {"success": True, "errors": [], "result": PRODUCT_CATEGORIES}

    def list_audit_v1(self, res, ids, query, body):
        """GET /accounts/{a}/audit_logs (version 1): the same events, in v1's shape and
        vocabulary; page-number paging without result_info."""
        ident = query_value(query, "id")
        bool_param(query, "export", False)    # accepted; the answer is JSON all the same
        action_type = query_value(query, "action.type")
        network = None
        actor_ip = query_value(query, "actor.ip")
        if actor_ip is not None:
            try:
                network = ipaddress.ip_network(actor_ip, strict=False)
            except ValueError:
                raise bad_param("actor.ip", "must be an IP address or a CIDR range")
        actor_email = query_value(query, "actor.email")
        if actor_email is not None and not EMAIL.match(actor_email):
            raise bad_param("actor.email", "must be an email address")
        since = time_param(query, "since")
        before = time_param(query, "before")
        zone_name = query_value(query, "zone.name")
        direction = enum_param(query, "direction", ("desc", "asc"), "desc")
        page, per_page = paging_params(query, 100, 1, 1000)
        hide_user = bool_param(query, "hide_user_logs", False)
        rows = []
        for key, ev, _ in (reversed(self.events) if direction == "desc" else self.events):
            if since is not None and key[0] < since:
                continue
            if before is not None and key[0] >= before:
                continue
            if ident is not None and ident.replace("-", "") != ev["id"]:
                continue
            if action_type is not None and V1_ACTIONS[ev["action"]["type"]] != action_type:
                continue
            actor = ev["actor"]
            if actor_email is not None and \
                    (actor.get("email") or "").lower() != actor_email.lower():
                continue
            if network is not None:
                try:
                    if ipaddress.ip_address(actor.get("ip_address", "")) not in network:
                        continue
                except ValueError:
                    continue
            if zone_name is not None and ev.get("zone", {}).get("name") != zone_name:
                continue
            if hide_user and ev["resource"]["scope"]["type"] == "user":
                continue
            rows.append(ev)
        start = (page - 1) * per_page
        return {"success": True, "errors": [], "messages": [],
                "result": [v1_event(ev) for ev in rows[start:start + per_page]]}

    # ----------------------------------------------------------------- the account

    def render_account(self):
        out = {"id": self.account_id, "name": self.name, "type": self.type,
               "created_on": self.created_on, "settings": self.settings}
        if self.managed_by is not None:
            out["managed_by"] = self.managed_by
        return out

    def get_account(self, res, ids, query, body):
        return envelope(self.render_account())

    # ----------------------------------------------------------------- API tokens

    def token_status(self, t, now):
        if t["expires_at"] is not None and t["expires_at"] <= now:
            return "expired"
        return t["status"]

    def render_token(self, t, now=None):
        out = {"id": t["id"], "name": t["name"],
               "status": self.token_status(t, now or utcnow()),
               "issued_on": t["issued_on"], "modified_on": t["modified_on"]}
        for field in ("last_used_on", "expires_on", "not_before"):
            if t[field] is not None:
                out[field] = t[field]
        out["policies"] = t["policies"]
        if t["condition"] is not None:
            out["condition"] = t["condition"]
        return out

    def list_tokens(self, res, ids, query, body):
        """GET /accounts/{a}/tokens: by issued_on (ties in creation order), ascending unless
        direction=desc; expired tokens only with include_expired=true."""
        page, per_page = paging_params(query, 20, 5, 50)
        direction = enum_param(query, "direction", ("asc", "desc"))
        include_expired = bool_param(query, "include_expired", False)
        now = utcnow()
        rows = sorted(self.tokens.values(), key=itemgetter("issued_at"),
                      reverse=(direction == "desc"))
        if not include_expired:
            rows = [t for t in rows if self.token_status(t, now) != "expired"]
        chunk, info = paginate(rows, page, per_page)
        return envelope([self.render_token(t, now) for t in chunk], info)

    def list_token_permission_groups(self, res, ids, query, body):
        """GET /accounts/{a}/tokens/permission_groups: the whole catalog (not paged);
        `name` an exact match, `scope` one of the group's scopes."""
        name = query_value(query, "name")
        scope = query_value(query, "scope")
        return envelope([g for g in self.store.token_permission_groups
                          if (name is None or g["name"] == name)
                          and (scope is None or scope in g["scopes"])])

    def parse_token_policy(self, pol, where, current):
        """A token policy of a request body (iam_policy_with_permission_groups_and_resources).
        `id` and the permission groups' `name` are read-only: a given id is kept when it
        names one of the token's current policies, else the policy gets a new id."""
        if not isinstance(pol, dict):
            raise bad_body(f"'{where}' must be an object")
        pid = pol.get("id")
        if pid is not None and not isinstance(pid, str):
            raise bad_body(f"'{where}.id' must be a string")
        effect = require_string(pol, "effect", where + ".")
        if effect not in ("allow", "deny"):
            raise bad_body(f"'{where}.effect' must be one of allow, deny")
        groups = []
        for k, item in enumerate(require_list(pol, "permission_groups", where + ".")):
            label = f"{where}.permission_groups[{k}]"
            if not isinstance(item, dict):
                raise bad_body(f"'{label}' must be an object")
            gid = require_string(item, "id", label + ".")
            group = self.store.token_pg_by_id.get(gid)
            if group is None:
                raise unknown_ref("permission group", gid)
            out = {"id": gid, "name": group["name"]}
            meta = item.get("meta")
            if meta is not None:
                if not isinstance(meta, dict):
                    raise bad_body(f"'{label}.meta' must be an object")
                for f in ("key", "value"):
                    require_string(meta, f, label + ".meta.", required=False, nonempty=False)
                out["meta"] = {f: meta[f] for f in ("key", "value") if meta.get(f) is not None}
            groups.append(out)
        if "resources" not in pol or pol["resources"] is None:
            raise bad_body(f"'{where}.resources' is required")
        resources = pol["resources"]
        ok = isinstance(resources, dict) and all(
            isinstance(v, str) or (isinstance(v, dict) and
                                   all(isinstance(x, str) for x in v.values()))
            for v in resources.values())
        if not ok:
            raise bad_body(f"'{where}.resources' must map each resource to \"*\", or to an "
                           "object of resources mapped to \"*\"")
        if pid is None or pid not in current:
            pid = self.new_id("token_policy")
        return {"id": pid, "effect": effect, "permission_groups": groups,
                "resources": resources}

    def parse_token_body(self, body, token=None):
        """The body of POST (token None) or PUT (the token) .../tokens: iam_create_payload or
        iam_token_body; name and policies are required. The read-only fields of a whole
        token sent back (id, issued_on, modified_on, last_used_on) are ignored."""
        body = require_object(body)
        name = require_string(body, "name", maxlen=120)
        current = {p["id"] for p in token["policies"]} if token else set()
        policies = [self.parse_token_policy(p, f"policies[{k}]", current)
                    for k, p in enumerate(require_list(body, "policies"))]
        condition = None
        if body.get("condition") is not None:
            cond = body["condition"]
            if not isinstance(cond, dict):
                raise bad_body("'condition' must be an object")
            condition = {}
            rip = cond.get("request_ip")
            if rip is not None:
                if not isinstance(rip, dict):
                    raise bad_body("'condition.request_ip' must be an object")
                condition["request_ip"] = {}
                for key in ("in", "not_in"):
                    cidrs = require_list(rip, key, "condition.request_ip.", required=False)
                    if cidrs is None:
                        continue
                    for k, c in enumerate(cidrs):
                        try:
                            ipaddress.ip_network(c, strict=False)
                        except (TypeError, ValueError):
                            raise bad_body(f"'condition.request_ip.{key}[{k}]' must be an "
                                           "IPv4 or IPv6 CIDR")
                    condition["request_ip"][key] = list(cidrs)
        times = {}
        for field in ("expires_on", "not_before"):
            value = require_string(body, field, required=False)
            at = None
            if value is not None:
                at = parse_rfc3339(value)
                if at is None:
                    raise bad_body(f"'{field}' must be an RFC 3339 date-time")
                # (%Y writes year 1 as "1": RFC 3339 has four digits)
                value = f"{at.year:04d}" + at.strftime("-%m-%dT%H:%M:%SZ")
            times[field] = (value, at)
        if times["expires_on"][1] is not None and times["not_before"][1] is not None \
                and times["not_before"][1] >= times["expires_on"][1]:
            raise bad_body("'not_before' must be before 'expires_on'")
        status = None
        if token is not None:
            status = require_string(body, "status", required=False)
            if status is not None and status not in ("active", "disabled", "expired"):
                raise bad_body("'status' must be one of active, disabled, expired")
            if status == "expired":
                # a token read back and sent whole: expiry is not set, it follows expires_on
                status = None
        return {"name": name, "policies": policies, "condition": condition,
                "expires_on": times["expires_on"][0], "expires_at": times["expires_on"][1],
                "not_before": times["not_before"][0], "status": status}

    def create_token(self, res, ids, query, body):
        parsed = self.parse_token_body(body)
        now = utcnow()
        ts = fmt_time(now)
        tid = self.new_id("token")
        token = {"id": tid, "name": parsed["name"], "status": "active", "issued_on": ts,
                 "issued_at": now, "modified_on": ts, "last_used_on": None,
                 "expires_on": parsed["expires_on"], "expires_at": parsed["expires_at"],
                 "not_before": parsed["not_before"], "policies": parsed["policies"],
                 "condition": parsed["condition"]}
        self.tokens[tid] = token
        self.audit("create", "api_tokens", "api_token", tid, request=body)
        out = self.render_token(token, now)
        # The secret: in this answer only, never kept (it does not authenticate to the mock).
        out["value"] = secrets.token_urlsafe(30)
        return envelope(out)

    def update_token(self, res, ids, query, body):
        token = self.lookup(res, ids)
        parsed = self.parse_token_body(body, token)
        token = dict(token)
        for field in ("name", "policies", "condition", "expires_on", "expires_at",
                      "not_before"):
            token[field] = parsed[field]
        if parsed["status"] is not None:
            token["status"] = parsed["status"]
        token["modified_on"] = fmt_time(utcnow())
        self.tokens[token["id"]] = token
        self.audit("update", "api_tokens", "api_token", token["id"], request=body)
        return envelope(self.render_token(token))

    def delete_token(self, res, ids, query, body):
        tid = self.lookup(res, ids)["id"]
        del self.tokens[tid]
        self.audit("delete", "api_tokens", "api_token", tid)
        return envelope({"id": tid})

    # ----------------------------------------------------------------- rendering

    def render_policy(self, pol):
        pid, access, pgs, rgs = pol
        return {
            "id": pid,
            "access": access,
            "permission_groups": [self.permission_groups[x] for x in pgs
                                  if x in self.permission_groups],
            "resource_groups": [self.resource_groups[x] for x in rgs
                                if x in self.resource_groups],
        }

    def render_group(self, g):
        return {
            "id": g["id"],
            "created_on": g["created_on"],
            "modified_on": g["modified_on"],
            "name": g["name"],
            "policies": [self.render_policy(p) for p in g["policies"]],
        }

    def render_member(self, m):
        return {
            "id": m.id,
            "email": m.email,
            "status": m.status,
            "user": {
                "id": m.user_id,
                "email": m.email,
                "first_name": m.first_name,
                "last_name": m.last_name,
                "two_factor_authentication_enabled": m.tfa,
            },
            "roles": [self.roles[r] for r in m.role_ids],
            "policies": [self.render_policy(p) for p in m.policies],
        }

    @staticmethod
    def render_group_member(m):
        # iam_user_group_member
        return {"id": m.id, "email": m.email, "status": m.status}

    # ----------------------------------------------------------------- validation

    def parse_policy(self, pol, where, require_id):
        """A policy in a request body -> (id or None, access, pg ids, rg ids).

        User-group bodies (iam_user_group_policy_write_body / update body) and member bodies
        (iam_create_member_policy) both carry permission_groups and resource_groups as
        arrays of {"id"}; ids must exist."""
        if not isinstance(pol, dict):
            raise bad_body(f"'{where}' must be an object")
        pid = None
        if require_id:
            pid = require_string(pol, "id", where + ".")
        elif pol.get("id") is not None:
            pid = require_string(pol, "id", where + ".", nonempty=False)
        access = require_string(pol, "access", where + ".")
        if access not in ("allow", "deny"):
            raise bad_body(f"'{where}.access' must be one of allow, deny")
        refs = []
        for field, table, what in (("permission_groups", self.permission_groups,
                                    "permission group"),
                                   ("resource_groups", self.resource_groups, "resource group")):
            items = require_list(pol, field, where + ".")
            ids = []
            for k, item in enumerate(items):
                if not isinstance(item, dict):
                    raise bad_body(f"'{where}.{field}[{k}]' must be an object")
                ident = require_string(item, "id", f"{where}.{field}[{k}].")
                if ident not in table:
                    raise unknown_ref(what, ident)
                ids.append(ident)
            refs.append(tuple(ids))
        return (pid, access, refs[0], refs[1])

    def build_policies(self, parsed, existing):
        """Give parsed policies ids: a given id naming one of the object's current policies
        is kept; anything else gets a fresh id (policy ids are server-assigned)."""
        current = {p[0] for p in existing}
        out = []
        for pid, access, pgs, rgs in parsed:
            if pid is None or pid not in current:
                pid = self.new_id("policy")
            out.append((pid, access, pgs, rgs))
        return out

    def parse_member_refs(self, body):
        """Body of add/replace user group members: a bare array of {"id": member id}."""
        if not isinstance(body, list):
            raise bad_body("expected a JSON array of {\"id\": ...} objects")
        ids = []
        seen = set()
        for k, item in enumerate(body):
            if not isinstance(item, dict):
                raise bad_body(f"'[{k}]' must be an object")
            mid = require_string(item, "id", f"[{k}].")
            if mid not in self.members:
                raise unknown_ref("account member", mid)
            if mid not in seen:        # a repeated id in one body counts once
                seen.add(mid)
                ids.append(mid)
        return ids

    # ----------------------------------------------------------------- reads

    def lookup(self, res, ids):
        """The object of resource `res` that a path names (ids: the path's ids, the account's
        first and the object's own last), or the resource's 404. A nested object's parent is
        looked up first: in a user group that does not exist, any member is the group's 404."""
        parent_id = None
        if res.parent is not None:
            parent_id = self.lookup(RESOURCES[res.parent], ids[:-1])["id"]
        row = res.find(self, parent_id, ids[-1])
        if row is None:
            raise not_found(res.what)
        return row

    def list_items(self, res, ids, query, body):
        """GET of a collection, for every resource: its paging, then its other query
        parameters, then the parent named in the path; one page of the rows that pass the
        filters, in the resource's order, with result_info when the list is paged."""
        if res.paging is not None:
            page, per_page = paging_params(query, *res.paging)
        values = {name: enum_param(query, name, allowed, default)
                  for name, allowed, default in res.params}
        for name, _, _ in res.filters:
            if name not in values:
                values[name] = query_value(query, name)
        parent_id = None
        if res.parent is not None:
            parent_id = self.lookup(RESOURCES[res.parent], ids)["id"]

        def build():
            rows = res.rows(self, parent_id)
            for name, get, match in res.filters:
                value = values[name]
                if value is None:
                    continue
                if match == "substring":
                    needle = value.lower()
                    rows = [r for r in rows if needle in get(r).lower()]
                else:
                    rows = [r for r in rows if get(r) == value]
            if res.sort is not None:
                res.sort(rows, values)
            return rows

        rows = self.cached((res.name, parent_id) + tuple(values.values()), build)
        if res.paging is None:
            return envelope([res.render(self, r) for r in rows])
        chunk, info = paginate(rows, page, per_page)
        if res.null_if_empty(self, parent_id):
            # The real API answers null, not [], for a group without members.
            return envelope(None, info)
        return envelope([res.render(self, r) for r in chunk], info)

    def get_item(self, res, ids, query, body):
        """GET of one object by id, for every resource."""
        return envelope(res.render_one(self, self.lookup(res, ids), ids))

    # ----------------------------------------------------------------- user groups

    def create_user_group(self, res, ids, query, body):
        body = require_object(body)
        name = require_string(body, "name")
        pols = require_list(body, "policies", required=False) or []
        parsed = [self.parse_policy(p, f"policies[{k}]", False) for k, p in enumerate(pols)]
        ts = now_ts()
        gid = self.new_id("user_group")
        g = {"id": gid, "name": name, "created_on": ts, "modified_on": ts,
             "policies": self.build_policies(parsed, [])}
        self.groups[gid] = g
        self.group_members[gid] = {}
        self.changed()
        self.audit("create", "iam", "user_group", gid, request=body)
        return envelope(self.render_group(g))

    def update_user_group(self, res, ids, query, body):
        g = self.lookup(res, ids)
        body = require_object(body)
        name = require_string(body, "name", required=False)
        pols = require_list(body, "policies", required=False)
        parsed = None
        if pols is not None:
            # iam_update_user_group_body: each policy carries its id (required).
            parsed = [self.parse_policy(p, f"policies[{k}]", True) for k, p in enumerate(pols)]
        g = dict(g)
        if name is not None:
            g["name"] = name
        if parsed is not None:
            g["policies"] = self.build_policies(parsed, g["policies"])
        g["modified_on"] = now_ts()
        self.groups[g["id"]] = g
        self.changed()
        self.audit("update", "iam", "user_group", g["id"], request=body)
        return envelope(self.render_group(g))

    def delete_user_group(self, res, ids, query, body):
        gid = self.lookup(res, ids)["id"]
        del self.groups[gid]
        for mid in self.group_members.pop(gid, {}):
            self.member_groups.get(mid, set()).discard(gid)
        self.changed()
        self.audit("delete", "iam", "user_group", gid)
        return envelope({"id": gid})

    # ----------------------------------------------------------------- user group members

    def add_group_members(self, res, ids, query, body):
        gid = self.lookup(RESOURCES[res.parent], ids)["id"]
        mids = self.parse_member_refs(body)
        gm = self.group_members[gid]
        for mid in mids:
            if mid in gm:
                raise conflict(f"Member {mid} is already in user group {gid}")
        ts = now_ts()
        for mid in mids:
            gm[mid] = ts
            self.member_groups.setdefault(mid, set()).add(gid)
        self.changed()
        for mid in mids:
            self.audit("create", "iam", "user_group_member", mid, request={"id": mid})
        # The spec answers an array of the members added (in body order).
        return envelope([self.render_group_member(self.members[mid]) for mid in mids])

    def replace_group_members(self, res, ids, query, body):
        gid = self.lookup(RESOURCES[res.parent], ids)["id"]
        mids = self.parse_member_refs(body)
        old = self.group_members[gid]
        ts = now_ts()
        new = {}
        for mid in mids:
            new[mid] = old.get(mid, ts)        # members that stay keep their created_at
        for mid in old:
            if mid not in new:
                self.member_groups.get(mid, set()).discard(gid)
        for mid in new:
            self.member_groups.setdefault(mid, set()).add(gid)
        self.group_members[gid] = new
        self.changed()
        # what changed: the members added, then the members removed
        for mid in new:
            if mid not in old:
                self.audit("create", "iam", "user_group_member", mid, request={"id": mid})
        for mid in old:
            if mid not in new:
                self.audit("delete", "iam", "user_group_member", mid)
        return envelope([self.render_group_member(self.members[mid]) for mid in mids])

    def delete_group_member(self, res, ids, query, body):
        m = self.lookup(res, ids)
        gid = ids[1]
        del self.group_members[gid][m.id]
        self.member_groups.get(m.id, set()).discard(gid)
        self.changed()
        self.audit("delete", "iam", "user_group_member", m.id)
        return envelope(self.render_group_member(m))

    # ----------------------------------------------------------------- account members

    def create_member(self, res, ids, query, body):
        # anyOf iam_create-member-with-roles {email, roles: [role id strings], status?} and
        # iam_create-member-with-policies {email, policies, status?}.
        body = require_object(body)
        email = require_string(body, "email", maxlen=90)
        if "@" not in email:
            raise bad_body("'email' must be an email address")
        status = require_string(body, "status", required=False)
        if status is not None and status not in ("accepted", "pending"):
            raise bad_body("'status' must be one of accepted, pending")
        roles = require_list(body, "roles", required=False)
        pols = require_list(body, "policies", required=False)
        if roles is None and pols is None:
            raise bad_body("one of 'roles' or 'policies' is required")
        role_ids = []
        for k, r in enumerate(roles or []):
            if not isinstance(r, str):
                raise bad_body(f"'roles[{k}]' must be a role id string")
            if r not in self.roles:
                raise unknown_ref("role", r)
            role_ids.append(r)
        parsed = [self.parse_policy(p, f"policies[{k}]", False)
                  for k, p in enumerate(pols or [])]
        if email.lower() in self.emails:
            raise conflict(f"A member with email {email} already exists in the account")
        mid = self.new_id("account_member")
        # A new invitation: the spec says status defaults to "pending"; the invited user has
        # no profile (names null) and no 2FA yet.
        m = Member(mid, email, status or "pending", self.new_id("user"), None, None, False,
                   tuple(role_ids), self.build_policies(parsed, []))
        self.members[mid] = m
        self.emails[email.lower()] = mid
        self.changed()
        self.audit("create", "members", "account_member", mid, request=body)
        return envelope(self.render_member(m))

    def update_member(self, res, ids, query, body):
        # anyOf iam_update-member-with-roles {roles: [role OBJECTS]} and
        # iam_update-member-with-policies {policies}. id, status and user are read-only and
        # ignored; what is given replaces what the member had.
        m = self.lookup(res, ids)
        body = require_object(body)
        roles = require_list(body, "roles", required=False)
        pols = require_list(body, "policies", required=False)
        role_ids = None
        if roles is not None:
            role_ids = []
            for k, r in enumerate(roles):
                if not isinstance(r, dict):
                    raise bad_body(f"'roles[{k}]' must be an object with an 'id'")
                rid = require_string(r, "id", f"roles[{k}].")
                if rid not in self.roles:
                    raise unknown_ref("role", rid)
                role_ids.append(rid)
        parsed = None
        if pols is not None:
            parsed = [self.parse_policy(p, f"policies[{k}]", False) for k, p in enumerate(pols)]
        if role_ids is not None:
            m.role_ids = tuple(role_ids)
        if parsed is not None:
            m.policies = self.build_policies(parsed, m.policies)
        self.changed()
        self.audit("update", "members", "account_member", m.id, request=body)
        return envelope(self.render_member(m))

    def delete_member(self, res, ids, query, body):
        m = self.lookup(res, ids)
        mid = m.id
        del self.members[mid]
        self.emails.pop(m.email.lower(), None)
        # Removing someone from the account also removes them from its user groups.
        for gid in self.member_groups.pop(mid, set()):
            self.group_members.get(gid, {}).pop(mid, None)
        self.changed()
        self.audit("delete", "members", "account_member", mid)
        return envelope({"id": mid})

    # ----------------------------------------------------------------- resource groups

    @staticmethod
    def parse_scope(scope):
        # iam_create-scope: {key, objects: [{key}]}; "The number of Scope objects should not
        # be zero."
        if not isinstance(scope, dict):
            raise bad_body("'scope' must be an object")
        key = require_string(scope, "key", "scope.")
        objs = require_list(scope, "objects", "scope.")
        if not objs:
            raise bad_body("'scope.objects' must not be empty")
        out = []
        for k, o in enumerate(objs):
            if not isinstance(o, dict):
                raise bad_body(f"'scope.objects[{k}]' must be an object")
            out.append({"key": require_string(o, "key", f"scope.objects[{k}].")})
        return {"key": key, "objects": out}

    def create_resource_group(self, res, ids, query, body):
        body = require_object(body)
        name = require_string(body, "name")
        if "scope" not in body or body["scope"] is None:
            raise bad_body("'scope' is required")
        scope = self.parse_scope(body["scope"])
        rid = self.new_id("resource_group")
        rg = {"id": rid, "name": name, "scope": scope, "meta": {"editable": "true"}}
        self.resource_groups[rid] = rg
        self.changed()
        self.audit("create", "iam", "resource_group", rid, request=body)
        return envelope(rg)

    def update_resource_group(self, res, ids, query, body):
        rg = self.lookup(res, ids)
        body = require_object(body)
        name = require_string(body, "name", required=False)
        scope = None
        if body.get("scope") is not None:
            scope = self.parse_scope(body["scope"])
        rg = dict(rg)              # replace, never mutate: answers may share the old object
        if name is not None:
            rg["name"] = name
        if scope is not None:
            rg["scope"] = scope
        self.resource_groups[rg["id"]] = rg
        self.changed()
        self.audit("update", "iam", "resource_group", rg["id"], request=body)
        return envelope(rg)

    def delete_resource_group(self, res, ids, query, body):
        rid = self.lookup(res, ids)["id"]
        del self.resource_groups[rid]
        self.changed()
        self.audit("delete", "iam", "resource_group", rid)
        return envelope({"id": rid})


# --------------------------------------------------------------------------- resources

class Resource:
    """A resource as the API's two GET operations answer it: Store.list_items and
    Store.get_item serve every resource from its entry in RESOURCES. The store keeps its
    objects in creation order in the dict Store.<table> (id -> object), and the Store method
    <render> makes one an answer (None: the object as kept). A list is paged by (per_page
    default, min, max), or not at all (page and per_page ignored, no result_info); `params`
    are its enum parameters, checked in this order, as (name, allowed values, default);
    `filters`, (parameter, field getter, "exact" or "substring"), apply when the parameter is
    given (an enum parameter may filter too); `sort(rows, parameter values)` sorts in place
    (None: creation order). A 404 reads "<what> not found"."""

    parent = None             # a nested resource: the key in RESOURCES of its path's object

    def __init__(self, name, what, table, render=None, paging=None, params=(), filters=(),
                 sort=None):
        self.name, self.what, self.table, self.renderer = name, what, table, render
        self.paging, self.params, self.filters, self.sort = paging, params, filters, sort

    def rows(self, store, parent_id):
        """Every object, in creation order (a new list)."""
        return list(getattr(store, self.table).values())

    def find(self, store, parent_id, ident):
        return getattr(store, self.table).get(ident)

    def render(self, store, row):
        """An object of a list answer."""
        return row if self.renderer is None else getattr(store, self.renderer)(row)

    def render_one(self, store, row, ids):
        """The object of a get answer."""
        return self.render(store, row)

    def null_if_empty(self, store, parent_id):
        """True when the list's result is null rather than []."""
        return False


class GroupMembers(Resource):
    """The members of a user group: account members, kept per group as {member id: when it
    was added}. A get answers more of a member than a list does, and the list of a group
    without members answers null."""

    parent = "user_groups"

    def rows(self, store, gid):
        return [store.members[mid] for mid in store.group_members[gid]]

    def find(self, store, gid, mid):
        return store.members[mid] if mid in store.group_members[gid] else None

    def render_one(self, store, m, ids):
        # iam_user_group_member_detailed
        return {"id": m.id, "email": m.email, "status": m.status,
                "created_at": store.group_members[ids[-2]][m.id],
                "user": {"id": m.user_id, "email": m.email, "first_name": m.first_name,
                         "last_name": m.last_name}}

    def null_if_empty(self, store, gid):
        return not store.group_members[gid]


def by(get):
    """Sort by one field in the order of the `direction` parameter (stable either way)."""
    def sort(rows, values):
        rows.sort(key=get, reverse=(values["direction"] == "desc"))
    return sort


def order_members(rows, values):
    """Account members: in creation order unless `order` is given; `direction=desc` without
    `order` reverses creation order."""
    order, desc = values["order"], values["direction"] == "desc"
    if order is None:
        if desc:
            rows.reverse()
    elif order == "status":
        rows.sort(key=lambda m: m.status, reverse=desc)
    elif order == "user.email":
        rows.sort(key=lambda m: m.email, reverse=desc)
    else:
        attr = "first_name" if order == "user.first_name" else "last_name"
        # (is-null, value): nulls after every string; reversed for desc, so nulls come last
        # for asc and first for desc. The sort is stable either way.
        rows.sort(key=lambda m: (getattr(m, attr) is None, getattr(m, attr) or ""),
                  reverse=desc)


# The spec gives `direction` a default of "asc" where it sorts (user groups by name, group
# members by email, account members).
DIRECTION = ("direction", ("asc", "desc"), "asc")
ORDER_FIELDS = ("user.first_name", "user.last_name", "user.email", "status")
ITEM_ID, ITEM_NAME = itemgetter("id"), itemgetter("name")

RESOURCES = {r.name: r for r in (
    Resource("user_groups", "User group", "groups", render="render_group",
             paging=(100, 1, 500), params=(DIRECTION,),
             filters=(("id", ITEM_ID, "exact"), ("name", ITEM_NAME, "exact"),
                      ("fuzzyName", ITEM_NAME, "substring")),
             sort=by(ITEM_NAME)),
    GroupMembers("user_group_members", "Member of user group", None,
                 render="render_group_member", paging=(100, 1, 500), params=(DIRECTION,),
                 filters=(("fuzzyEmail", attrgetter("email"), "substring"),),
                 sort=by(attrgetter("email"))),
    Resource("account_members", "Member", "members", render="render_member",
             paging=(20, 5, 50),
             params=(("status", ("accepted", "pending", "rejected"), None),
                     ("order", ORDER_FIELDS, None), DIRECTION),
             filters=(("status", attrgetter("status"), "exact"),),
             sort=order_members),
    Resource("roles", "Role", "roles", paging=(20, 5, 50)),
    Resource("permission_groups", "Permission group", "permission_groups",
             paging=(20, 5, 50),
             filters=(("id", ITEM_ID, "exact"), ("name", ITEM_NAME, "exact"),
                      ("label", lambda p: p["meta"].get("label"), "exact"))),
    Resource("resource_groups", "Resource group", "resource_groups",
             filters=(("id", ITEM_ID, "exact"), ("name", ITEM_NAME, "exact"))),
    # Served by their own handlers; here for lookup (the 404 of a token).
    Resource("tokens", "Token", "tokens", render="render_token"),
)}

# Routes: path segments after /client/v4 ("{id}" = 32 lowercase hex) -> the resource in
# RESOURCES (or None) and {method: handler}, and optionally the route's options: "auth",
# the credentials it takes ("any": an API token or the email + Global API key pair;
# "token": an API token only), and "errors", the style of its error answers (see
# error_body). A path under /accounts/{id} is served by that Account's handler, any other
# by the Store's; every handler is called with the resource, the path's ids, the query and
# the body. Handlers that take a JSON body are listed in BODY_HANDLERS.
ID = None
TOKEN_ONLY = {"auth": "token"}
ROUTES = [
    (("accounts", ID, "iam", "user_groups"), "user_groups",
     {"GET": "list_items", "POST": "create_user_group"}),
    (("accounts", ID, "iam", "user_groups", ID), "user_groups",
     {"GET": "get_item", "PUT": "update_user_group", "DELETE": "delete_user_group"}),
    (("accounts", ID, "iam", "user_groups", ID, "members"), "user_group_members",
     {"GET": "list_items", "POST": "add_group_members", "PUT": "replace_group_members"}),
    (("accounts", ID, "iam", "user_groups", ID, "members", ID), "user_group_members",
     {"GET": "get_item", "DELETE": "delete_group_member"}),
    (("accounts", ID, "members"), "account_members",
     {"GET": "list_items", "POST": "create_member"}),
    (("accounts", ID, "members", ID), "account_members",
     {"GET": "get_item", "PUT": "update_member", "DELETE": "delete_member"}),
    (("accounts", ID, "roles"), "roles", {"GET": "list_items"}),
    (("accounts", ID, "roles", ID), "roles", {"GET": "get_item"}),
    (("accounts", ID, "iam", "permission_groups"), "permission_groups", {"GET": "list_items"}),
    (("accounts", ID, "iam", "permission_groups", ID), "permission_groups", {"GET": "get_item"}),
    (("accounts", ID, "iam", "resource_groups"), "resource_groups",
     {"GET": "list_items", "POST": "create_resource_group"}),
    (("accounts", ID, "iam", "resource_groups", ID), "resource_groups",
     {"GET": "get_item", "PUT": "update_resource_group", "DELETE": "delete_resource_group"}),
    (("accounts",), None, {"GET": "list_accounts"}),
    (("accounts", ID), None, {"GET": "get_account"}),
    (("accounts", ID, "tokens"), "tokens",
     {"GET": "list_tokens", "POST": "create_token"}, TOKEN_ONLY),
    (("accounts", ID, "tokens", "permission_groups"), None,
     {"GET": "list_token_permission_groups"}, TOKEN_ONLY),
    (("accounts", ID, "tokens", ID), "tokens",
     {"GET": "get_item", "PUT": "update_token", "DELETE": "delete_token"}, TOKEN_ONLY),
    (("accounts", ID, "logs", "audit"), None, {"GET": "list_audit_v2"}, {"errors": "v2"}),
    (("accounts", ID, "logs", "audit", "product_categories"), None,
     {"GET": "list_product_categories"}, {"errors": "v2"}),
    (("accounts", ID, "audit_logs"), None, {"GET": "list_audit_v1"}, {"errors": "v1"}),
]
BODY_HANDLERS = {"create_user_group", "update_user_group", "add_group_members",
                 "replace_group_members", "create_member", "update_member",
                 "create_resource_group", "update_resource_group", "create_token",
                 "update_token"}


def match_route(path):
    """(resource, methods, ids, options) for an API path, or None when no route matches."""
    if not path.startswith(API_PREFIX + "/"):
        return None
    segs = path[len(API_PREFIX) + 1:].split("/")
    for pattern, resource, methods, *opts in ROUTES:
        if len(pattern) != len(segs):
            continue
        ids = []
        for want, got in zip(pattern, segs):
            if want is ID:
                if not HEX32.match(got):
                    break
                ids.append(got)
            elif want != got:
                break
        else:
            options = {"auth": "any", "errors": "v4", **(opts[0] if opts else {})}
            return (RESOURCES[resource] if resource else None), methods, ids, options
    return None


# --------------------------------------------------------------------------- faults

FAULT_KINDS = ("status", "delay", "malformed", "truncated", "html", "reset", "success_false",
               "missing_result", "patch", "envelope", "reset_after", "redirect", "raw",
               "repeat_page", "meanwhile")

STATUS_MESSAGES = {
    408: "Request Timeout",
    409: "Conflict",
    429: "Please wait and consider throttling your request speed",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

HTML_PAGE = (b"<!DOCTYPE html>\n<html lang=\"en-US\"><head><title>Just a moment...</title>"
             b"</head>\n<body><h1>Checking your browser before accessing the API</h1>"
             b"<p>Cloudflare Ray ID: 0000000000000000</p></body></html>\n")


def parse_fault(spec):
    """Validate a POST /__mock/faults body into a fault dict (raises ValueError)."""
    if not isinstance(spec, dict):
        raise ValueError("expected a JSON object")
    known = {"kind", "count", "match", "method", "status", "retry_after", "delay_ms", "code",
             "message", "field", "value", "value_base64", "then"}
    extra = sorted(set(spec) - known)
    if extra:
        raise ValueError("unknown field(s): " + ", ".join(extra))
    kind = spec.get("kind")
    if kind not in FAULT_KINDS:
        raise ValueError("kind must be one of " + ", ".join(FAULT_KINDS))

    def int_field(name, default, lo, hi):
        v = spec.get(name, default)
        if isinstance(v, bool) or not isinstance(v, int) or v < lo or v > hi:
            raise ValueError(f"{name} must be an integer between {lo} and {hi}")
        return v

    fault = {"kind": kind, "count": int_field("count", 1, 1, 1000000)}
    match = spec.get("match")
    if match is not None and not isinstance(match, str):
        raise ValueError("match must be a string")
    fault["match"] = match or None
    method = spec.get("method")
    if method is not None and method not in ("GET", "POST", "PUT", "DELETE"):
        raise ValueError("method must be one of GET, POST, PUT, DELETE")
    fault["method"] = method
    if kind == "status":
        fault["status"] = int_field("status", 500, 100, 599)
        if spec.get("retry_after") is not None:
            fault["retry_after"] = int_field("retry_after", 0, 0, 86400)
    if kind == "delay":
        fault["delay_ms"] = int_field("delay_ms", 1000, 0, 3600000)
    if kind == "raw":
        # An answer of `status` whose body is the text `value` as it is (fuzzing), in
        # UTF-8; a lone surrogate in it ("\ud800" in the fault's JSON) goes out as its
        # three raw bytes (ED A0 80), as a broken server's would. Or any bytes at all,
        # invalid UTF-8 included: `value_base64`, the body base64-encoded.
        fault["status"] = int_field("status", 200, 100, 599)
        if not isinstance(spec.get("value", ""), str):
            raise ValueError("value must be a string")
        fault["body"] = spec.get("value", "")
        if spec.get("value_base64") is not None:
            if "value" in spec:
                raise ValueError("give value or value_base64, not both")
            try:
                base64.b64decode(spec["value_base64"], validate=True)
            except (TypeError, ValueError):
                raise ValueError("value_base64 must be base64 text")
            del fault["body"]
            fault["value_base64"] = spec["value_base64"]
    if kind in ("patch", "envelope"):
        # A lying API: the request is carried out, then `field` (a dotted path) of
        # every result object (patch) or of the envelope itself (envelope, e.g.
        # "result" or "result_info.total_count") is replaced by the JSON text `value`.
        if not isinstance(spec.get("field"), str) or not spec["field"]:
            raise ValueError("field must be a non-empty string")
        try:
            fault["value"] = json.loads(spec.get("value", "null"))
        except (TypeError, ValueError):
            raise ValueError("value must be JSON text")
        except RecursionError:
            raise ValueError("value is nested too deep for the mock (use a raw fault)")
        fault["field"] = spec["field"]
    if kind == "meanwhile":
        # Someone else acts: the request is carried out, then `then` ("METHOD /path" and
        # optionally a JSON body after a space, e.g. 'DELETE /accounts/A/iam/user_groups/G/
        # members/M'), as another admin with valid credentials, then the answer is sent.
        # The other admin's request is not in the log.
        then = spec.get("then")
        if not isinstance(then, str):
            raise ValueError("then must be a string: METHOD /path [JSON body]")
        parts = then.split(" ", 2)
        if len(parts) < 2 or parts[0] not in ("GET", "POST", "PUT", "DELETE") \
                or not parts[1].startswith("/"):
            raise ValueError("then must be METHOD /path [JSON body]")
        then_body = parts[2] if len(parts) == 3 else ""
        if then_body:
            try:
                json.loads(then_body)
            except ValueError:
                raise ValueError("the body of then must be JSON text")
        fault["then"] = [parts[0], parts[1], then_body]
    if kind in ("status", "success_false"):
        if spec.get("code") is not None:
            fault["code"] = int_field("code", 0, 0, 10 ** 9)
        if spec.get("message") is not None:
            if not isinstance(spec["message"], str):
                raise ValueError("message must be a string")
            fault["message"] = spec["message"]
    return fault


# --------------------------------------------------------------------------- server

def patch_envelope(payload, field, value):
    """Set `field` (dotted path from the top of the envelope) to `value`."""
    doc = json.loads(payload)
    *parents, last = field.split(".")
    item = doc
    for name in parents:
        item = item.setdefault(name, {})
    item[last] = value
    return dumps(doc)


def previous_page(query):
    """The query of the page before this one, or None on page 1 (repeat_page)."""
    params = parse_qsl(query, keep_blank_values=True)
    pages = [v for k, v in params if k == "page"]
    if not pages or not pages[0].isdigit() or int(pages[0]) <= 1:
        return None
    return "&".join(f"{k}={int(v) - 1 if k == 'page' else v}" for k, v in params)


def patch_result(payload, field, value):
    """Set `field` (dotted path) to `value` in each object of an answer's result."""
    doc = json.loads(payload)
    result = doc.get("result")
    items = result if isinstance(result, list) else [result]
    *parents, last = field.split(".")
    for item in items:
        for name in parents:
            if not isinstance(item, dict):
                break
            item = item.setdefault(name, {})
        if isinstance(item, dict):
            item[last] = value
    return dumps(doc)


class MockServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's listen backlog is 5: a client (or a TLS front) opening a dozen
    # connections at once overflows it, and the SYNs the kernel drops are sent again only
    # after a second, a stall that is the mock's, not the client's.
    request_queue_size = 128

    def __init__(self, addr, family):
        self.address_family = family
        self.lock = threading.Lock()
        self.store = Store()
        self.log = []
        self.faults = []
        self.faulted = collections.deque(maxlen=100)    # answers a fault made (answers)
        self.latency_ms = 0
        self.ratelimit = None           # see take_ratelimit; None: no limit, no headers
        self.drop_hook = None
        self.reset_sockets = set()      # connections to end with an RST alone
        super().__init__(addr, Handler)

    def shutdown_request(self, request):
        # socketserver ends a connection with shutdown(SHUT_WR), a FIN, then close(). A
        # connection a "reset" fault drops ends with the RST of close() under SO_LINGER 0
        # alone: what the client sees is a reset connection, whichever way it reaches us.
        with self.lock:
            rst = request in self.reset_sockets
            self.reset_sockets.discard(request)
        if rst:
            self.close_request(request)
        else:
            super().shutdown_request(request)

    def handle_error(self, request, client_address):
        # Clients dropping the connection (timeouts, retries) are normal here; anything
        # else is a bug in the mock and worth a traceback.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, socket.timeout)):
            return
        super().handle_error(request, client_address)

    def take_ratelimit(self):
        """Cloudflare's rate limit, for one API request: (blocked, headers). Every answer
        says what is left of the window (Ratelimit, Ratelimit-Policy); past the quota every
        call is refused until the window resets. Called with the lock held."""
        rl = self.ratelimit
        if rl is None:
            return False, {}
        now = time.monotonic()
        if now - rl["start"] >= rl["window"]:
            rl["start"], rl["spent"] = now, 0
        reset_s = max(1, math.ceil(rl["window"] - (now - rl["start"])))
        blocked = rl["spent"] >= rl["quota"]
        if not blocked:
            rl["spent"] += 1
        remaining = max(0, rl["quota"] - rl["spent"])
        headers = {"Ratelimit": f'"default";r={remaining};t={reset_s}',
                   "Ratelimit-Policy": f'"default";q={rl["quota"]};w={rl["window"]}'}
        if rl.get("header"):
            name, _, value = rl["header"].partition(":")
            headers.pop(name.strip(), None)
            headers[name.strip()] = value.strip()
        if blocked:
            headers["Retry-After"] = str(reset_s)
        return blocked, headers

    def take_fault(self, method, path):
        """The first fault whose `match` is in the path (and query), and whose `method`, if
        any, is the request's, with one use consumed."""
        for k, f in enumerate(self.faults):
            if f["method"] is not None and f["method"] != method:
                continue
            if f["match"] is None or f["match"] in path:
                f["count"] -= 1
                if f["count"] <= 0:
                    del self.faults[k]
                return f
        return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cloudflare"       # the real API's Server header
    timeout = 300               # idle keep-alive connections are closed after this

    def setup(self):
        super().setup()
        # Headers and body leave in separate writes: without TCP_NODELAY,
        # Nagle's algorithm and the client's delayed ACK add ~40 ms to every
        # keep-alive answer, which real API servers do not.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):
        pass                    # quiet: no per-request logging

    def version_string(self):
        return self.server_version

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_GET

    # ----------------------------------------------------------------- plumbing

    def read_body(self):
        """The request body (bytes, possibly empty), read by Content-Length (or chunked)."""
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            chunks = []
            total = 0
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise ValueError("request body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        n = int(length)
        if n < 0 or n > MAX_BODY:
            raise ValueError("bad Content-Length")
        return self.rfile.read(n) if n else b""

    def send(self, status, payload, content_type="application/json", headers=None):
        if isinstance(payload, (dict, list)):
            payload = dumps(payload)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        else:
            self.close_connection = True
        self.wfile.flush()

    def dispatch(self):
        raw_path, _, query = self.path.partition("?")
        query, _, _ = query.partition("#")
        try:
            body = self.read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self.send(400, error_envelope(1002, "Invalid request body"))
            return
        try:
            if raw_path.startswith(CONTROL_PREFIX) or raw_path == CONTROL_PREFIX.rstrip("/"):
                self.control(raw_path, query, body)
            else:
                self.api(raw_path, query, body)
        except (ConnectionError, socket.timeout):
            self.close_connection = True

    # ----------------------------------------------------------------- API requests

    def auth_kind(self):
        if self.headers.get("Authorization", "").startswith("Bearer "):
            return "token"
        if self.headers.get("X-Auth-Key") is not None or \
                self.headers.get("X-Auth-Email") is not None:
            return "key"
        return "none"

    def check_auth(self, store, mode="any"):
        """The request's credential ("token" or "key"), or the API's error answer. mode
        "token": the route takes API tokens only (the spec declares api_token alone for the
        account-owned token endpoints), so the email + Global API key pair, even a right
        one, is refused as a wrong credential is (403 10000)."""
        auth = self.headers.get("Authorization")
        if auth is not None and auth.startswith("Bearer "):
            if auth[len("Bearer "):].strip() != store.token:
                raise ApiError(403, 10000, "Authentication error")
            return "token"
        email = self.headers.get("X-Auth-Email")
        key = self.headers.get("X-Auth-Key")
        if email is None or key is None:
            raise ApiError(400, 9106, "Missing X-Auth-Key, X-Auth-Email or Authorization "
                                      "headers")
        if mode == "token":
            raise ApiError(403, 10000, "Authentication error")
        if email.strip() != store.auth_email or key.strip() != store.auth_key:
            raise ApiError(403, 10000, "Authentication error")
        return "key"

    def api(self, path, query, body):
        srv = self.server
        text = body.decode("utf-8", "replace") if body else None
        with srv.lock:
            # The log never holds credentials: only which kind of credential was sent.
            # "t": when the request arrived (monotonic seconds), for the pace of starts.
            srv.log.append({"method": self.command, "path": path, "query": query,
                            "body": text, "auth": self.auth_kind(), "t": time.monotonic()})
            # `match` may name a page ("page=3"): it is looked for in the path and query.
            fault = srv.take_fault(self.command, path + ("?" + query if query else ""))
            delay = srv.latency_ms
            blocked, rl_headers = srv.take_ratelimit()
        if blocked:
            # Cloudflare's answer past the quota: every call of the user, for the window
            if delay:
                time.sleep(delay / 1000.0)
            rl = srv.ratelimit
            self.send(429, error_envelope(
                10100, f"More than {rl['quota']} requests per {rl['window']} seconds reached. "
                       "Please wait and consider throttling your request speed"),
                headers=rl_headers)
            return
        patch = None
        if fault is not None and fault["kind"] == "delay":
            delay += fault["delay_ms"]
            fault = None
        elif fault is not None and fault["kind"] in ("patch", "envelope", "reset_after",
                                                      "repeat_page", "meanwhile"):
            # these carry the request out first
            patch, fault = fault, None
        if fault is not None:
            if delay:
                time.sleep(delay / 1000.0)
            self.send_fault(fault)
            return
        with srv.lock:
            status, payload, headers = self.answer(srv.store, path, query, body)
            if patch is not None and patch["kind"] == "repeat_page" and status == 200:
                # a page that repeats the rows of the page before it
                before = previous_page(query)
                if before is not None:
                    _, earlier, _ = self.answer(srv.store, path, before, body)
                    payload = patch_envelope(payload, "result", json.loads(earlier)["result"])
            if patch is not None and patch["kind"] == "meanwhile":
                # another admin's change, between this request and the client's next
                other_method, other_path, other_body = patch["then"]
                other_path, _, other_query = other_path.partition("?")
                if not other_path.startswith(API_PREFIX + "/"):
                    other_path = API_PREFIX + other_path
                other_status, other_answer, _ = self.answer(
                    srv.store, other_path, other_query, other_body.encode("utf-8"),
                    method=other_method, trusted=True)
                if other_status >= 300:
                    sys.stderr.write(f"mock_cloudflare: meanwhile {other_method} {other_path}: "
                                     f"HTTP {other_status} {other_answer!r}\n")
        if patch is not None and patch["kind"] == "reset_after":
            # carried out, then the connection drops: the client cannot know the outcome
            self.send_fault({"kind": "reset"})
            return
        if patch is not None and patch["kind"] == "patch" and status == 200:
            payload = patch_result(payload, patch["field"], patch["value"])
            self.note_faulted("patch", status, payload)
        if patch is not None and patch["kind"] == "envelope" and status == 200:
            payload = patch_envelope(payload, patch["field"], patch["value"])
            self.note_faulted("envelope", status, payload)
        if delay:
            # The request has been carried out already; only the answer is late (as when a
            # client times out on a slow API that still did the work).
            time.sleep(delay / 1000.0)
        self.send(status, payload, headers={**rl_headers, **(headers or {})})

    def note_faulted(self, kind, status, payload):
        """Keep an answer a fault made, for GET /__mock/answers."""
        path, _, query = self.path.partition("?")
        with self.server.lock:
            self.server.faulted.append({
                "method": self.command, "path": path, "query": query.partition("#")[0],
                "kind": kind, "status": status,
                "body_base64": base64.b64encode(payload).decode("ascii")})

    def answer(self, store, path, query, body, method=None, trusted=False):
        """(status, body bytes, headers) for one API request. Called with the lock held.
        method: another than the request's own; trusted: sent by another admin (a
        "meanwhile" fault), whose credentials are valid."""
        style = "v4"
        target = None
        try:
            route = match_route(path)
            if route is None:
                raise ApiError(*NO_ROUTE)
            res, methods, ids, options = route
            style = options["errors"]
            method = method or self.command
            name = methods.get(method)
            if name is None:
                allow = ", ".join(methods)
                raise ApiError(405, 10405, "Method not allowed", {"Allow": allow})
            auth = "other" if trusted else self.check_auth(store, options["auth"])
            target = store
            if ids:
                target = store.accounts.get(ids[0])
                if target is None:
                    raise ApiError(403, 9109, "Unauthorized to access requested resource")
            # the first value of a repeated parameter wins, except where one is an array
            params = Query(query)
            parsed = None
            if name in BODY_HANDLERS:
                if not body.strip():
                    raise bad_json("a JSON body is required")
                try:
                    parsed = json.loads(body.decode("utf-8"))
                except (UnicodeDecodeError, ValueError):
                    raise bad_json("not valid JSON")
            if target is not store and method != "GET":
                target.ctx = self.write_context(store, target, auth, method, path)
            result = getattr(target, name)(res, ids, params, parsed)
            return 200, dumps(result), None
        except ApiError as e:
            return e.status, dumps(error_body(style, e.code, e.message)), e.headers
        except Exception:
            # A bug in the mock: say so on stderr, and answer (a dropped connection would
            # look like an injected "reset" fault to the client under test).
            traceback.print_exc()
            return 500, dumps(error_body(style, 10500, "Internal error in the mock")), None
        finally:
            if target is not None and target is not store:
                target.ctx = None

    def write_context(self, store, account, auth, method, path):
        """Who makes an API write, for the account's audit log: the actor of the request's
        credential (the mock's token: the account's token that stands for it; the Global API
        key: the admin user; a "meanwhile" fault: another admin in the dashboard)."""
        ip = self.client_address[0] if self.client_address else "127.0.0.1"
        agent = self.headers.get("User-Agent")
        if auth == "token":
            actor = account.token_actor(ip)
        elif auth == "key":
            actor = account.key_actor(ip)
        else:
            actor = dict(OTHER_ADMIN, id=md5_id(store.seed, "user", "other-admin"))
            agent = OTHER_ADMIN_AGENT
        return {"actor": actor, "method": method, "user_agent": agent,
                "uri": path[len(API_PREFIX):], "ray": store.next_ray()}

    def send_fault(self, fault):
        kind = fault["kind"]
        if kind == "status":
            st = fault["status"]
            code = fault.get("code", 10000 + st)
            msg = fault.get("message") or STATUS_MESSAGES.get(st)
            if msg is None:
                try:
                    msg = http.HTTPStatus(st).phrase
                except ValueError:
                    msg = f"HTTP status {st}"
            headers = {}
            if "retry_after" in fault:
                headers["Retry-After"] = str(fault["retry_after"])
            self.send(st, error_envelope(code, msg), headers=headers)
        elif kind == "malformed":
            self.send(200, b'{"success":true,"errors":[],"messages":[],"result":[}')
        elif kind == "html":
            self.send(200, HTML_PAGE, content_type="text/html; charset=UTF-8")
        elif kind == "success_false":
            self.send(200, error_envelope(fault.get("code", 1000),
                                          fault.get("message", "An unknown error has occurred")))
        elif kind == "missing_result":
            self.send(200, {"success": True, "errors": [], "messages": []})
        elif kind == "truncated":
            full = dumps(envelope([], {"page": 1, "per_page": 20, "count": 0,
                                       "total_count": 0}))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(full)))
            self.end_headers()
            self.wfile.write(full[:len(full) // 2])
            self.wfile.flush()
            self.close_connection = True
        elif kind == "redirect":
            # A redirect to another host: a client must not follow it with the credentials.
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.2:9/client/v4" + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif kind == "raw":
            if "value_base64" in fault:
                data = base64.b64decode(fault["value_base64"])
            else:
                data = fault["body"].encode("utf-8", "surrogatepass")
            self.note_faulted("raw", fault["status"], data)
            self.send_response(fault["status"])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif kind == "reset":
            # No answer at all: drop the connection (with an RST where the OS allows it).
            if self.server.drop_hook:
                self.run_drop_hook()
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                with self.server.lock:
                    self.server.reset_sockets.add(self.connection)
            except OSError:
                pass
            self.close_connection = True

    def run_drop_hook(self):
        """Run --drop-hook (the client's connection through a proxy dies with it); a
        failure is said on stderr (mock.log) and the drop goes on as without it."""
        try:
            r = subprocess.run(self.server.drop_hook, shell=True, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=10)
            if r.returncode != 0:
                sys.stderr.write(f"mock_cloudflare: --drop-hook exited {r.returncode}: "
                                 f"{r.stderr.decode('utf-8', 'replace').strip()}\n")
        except (OSError, subprocess.SubprocessError) as e:
            sys.stderr.write(f"mock_cloudflare: --drop-hook failed: {e}\n")

    # ----------------------------------------------------------------- control requests

    def control(self, path, query, body):
        srv = self.server
        what = path[len(CONTROL_PREFIX):]
        method = self.command
        routes = {
            "reset": ("POST",),
            "log": ("GET", "DELETE"),
            "faults": ("GET", "POST", "DELETE"),
            "latency": ("POST",),
            "ratelimit": ("POST",),
            "health": ("GET",),
            "audit": ("GET",),
            "answers": ("GET",),
        }
        if what not in routes:
            self.send(404, {"ok": False, "error": f"no control endpoint {path}"})
            return
        if method not in routes[what]:
            self.send(405, {"ok": False, "error": f"{method} not allowed on {path}"},
                      headers={"Allow": ", ".join(routes[what])})
            return
        spec = None
        if method == "POST":
            try:
                spec = json.loads(body.decode("utf-8")) if body.strip() else {}
            except (UnicodeDecodeError, ValueError):
                self.send(400, {"ok": False, "error": "body is not valid JSON"})
                return
        try:
            if what == "health":
                self.send(200, {"ok": True})
            elif what == "audit":
                self.send(200, {"events": read_audit(srv, query)})
            elif what == "answers":
                with srv.lock:
                    answers = list(srv.faulted)
                    if dict(parse_qsl(query)).get("clear") in ("1", "true", "yes"):
                        srv.faulted.clear()
                self.send(200, {"answers": answers})
            elif what == "reset":
                params = parse_reset(spec)
                with srv.lock:
                    srv.store.reset(params)
                    srv.log = []
                    srv.faults = []
                    srv.faulted.clear()
                    srv.latency_ms = 0
                    srv.ratelimit = None
                self.send(200, {"ok": True})
            elif what == "log":
                clear = method == "DELETE" or \
                    dict(parse_qsl(query)).get("clear") in ("1", "true", "yes")
                with srv.lock:
                    entries = list(srv.log)
                    if clear:
                        srv.log = []
                if method == "DELETE":
                    self.send(200, {"ok": True})
                else:
                    self.send(200, {"requests": entries})
            elif what == "faults":
                with srv.lock:
                    if method == "POST":
                        srv.faults.append(parse_fault(spec))
                    elif method == "DELETE":
                        srv.faults = []
                    faults = [dict(f) for f in srv.faults]
                self.send(200, {"ok": True, "faults": faults})
            elif what == "ratelimit":
                rl = parse_ratelimit(spec)
                with srv.lock:
                    srv.ratelimit = rl
                self.send(200, {"ok": True})
            elif what == "latency":
                if not isinstance(spec, dict):
                    raise ValueError("expected a JSON object")
                ms = spec.get("ms")
                if isinstance(ms, bool) or not isinstance(ms, int) or not 0 <= ms <= 3600000:
                    raise ValueError("ms must be an integer between 0 and 3600000")
                with srv.lock:
                    srv.latency_ms = ms
                self.send(200, {"ok": True})
        except ValueError as e:
            self.send(400, {"ok": False, "error": str(e)})


def read_audit(srv, query):
    """GET /__mock/audit[?account=ID][&last=N][&own=1]: an account's audit log events (the
    first account's by default), oldest first: the last N (default all), only those of the
    API writes made since the reset with own=1. Raises ValueError."""
    q = dict(parse_qsl(query))
    last = q.get("last")
    if last is not None and not DECIMAL.match(last):
        raise ValueError("last must be a whole number")
    own = q.get("own") in ("1", "true", "yes")
    with srv.lock:
        account = srv.store.accounts.get(q.get("account") or srv.store.account_id)
        if account is None:
            raise ValueError(f"no account {q.get('account')}")
        events = [ev for _, ev, mine in account.events if mine or not own]
    if last is not None:
        events = events[len(events) - int(last):] if int(last) else []
    return events


def parse_ratelimit(spec):
    """Validate a POST /__mock/ratelimit body: {"off": true}, or {"quota": Q, "window": S,
    "spent": N, "header": "Name: raw value"} (spent and header optional; header replaces
    one of the rate-limit headers with a raw line, to test a client's parsing)."""
    if not isinstance(spec, dict):
        raise ValueError("expected a JSON object")
    if spec.get("off") is True:
        return None
    extra = sorted(set(spec) - {"quota", "window", "spent", "header"})
    if extra:
        raise ValueError("unknown ratelimit parameter(s): " + ", ".join(extra))
    rl = {}
    for k, lo, hi, default in (("quota", 1, 10**7, None), ("window", 1, 86400, None),
                               ("spent", 0, 10**7, 0)):
        v = spec.get(k, default)
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ValueError(f"{k} must be an integer between {lo} and {hi}")
        rl[k] = v
    header = spec.get("header")
    if header is not None and (not isinstance(header, str) or ":" not in header
                               or "\n" in header or "\r" in header):
        raise ValueError("header must be one 'Name: value' line")
    rl["header"] = header
    rl["start"] = time.monotonic()
    return rl


def parse_reset(spec):
    """Validate a POST /__mock/reset body (raises ValueError)."""
    if not isinstance(spec, dict):
        raise ValueError("expected a JSON object")
    extra = sorted(set(spec) - set(DEFAULTS))
    if extra:
        raise ValueError("unknown reset parameter(s): " + ", ".join(extra))
    params = {}
    for k, v in spec.items():
        if k in ("token", "email", "key"):
            if not isinstance(v, str) or not v:
                raise ValueError(f"{k} must be a non-empty string")
        elif k == "account_id":
            if not isinstance(v, str) or not HEX32.match(v):
                raise ValueError("account_id must be 32 lowercase hex digits")
        elif k == "seed":
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValueError("seed must be an integer")
        else:
            lo = 1 if k == "accounts" else 0
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= COUNT_LIMITS[k]:
                raise ValueError(f"{k} must be an integer between {lo} and {COUNT_LIMITS[k]}")
        params[k] = v
    return params


# --------------------------------------------------------------------------- main

def loopback_family(host):
    """The address family for a loopback host; SystemExit for anything else."""
    if host == "localhost":
        return socket.AF_INET, "127.0.0.1"
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        sys.exit(f"mock_cloudflare: --host must be a loopback address, not {host!r}")
    if not addr.is_loopback:
        sys.exit(f"mock_cloudflare: refusing to bind {host}: the mock binds loopback only")
    return (socket.AF_INET6 if addr.version == 6 else socket.AF_INET), host


def main(argv=None):
    ap = argparse.ArgumentParser(description="Mock of the Cloudflare v4 IAM API.")
    ap.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    ap.add_argument("--port", type=int,
                    default=int(os.environ.get("CFIAM_MOCK_PORT") or DEFAULT_PORT),
                    help="port (default $CFIAM_MOCK_PORT, else %d)" % DEFAULT_PORT)
    ap.add_argument("--drop-hook", metavar="CMD",
                    help="shell command run when a fault drops a connection (see above)")
    args = ap.parse_args(argv)
    family, host = loopback_family(args.host)
    try:
        server = MockServer((host, args.port), family)
    except OSError as e:
        sys.exit(f"mock_cloudflare: cannot listen on {host}:{args.port}: {e}")
    server.drop_hook = args.drop_hook
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
