#!/usr/bin/env bash
# validate-mock.sh - check the mock Cloudflare API (test/mock_cloudflare.py) against the
# OpenAPI spec with Stoplight Prism: the endpoints of account-owned API tokens, accounts and
# audit logs (v1 and v2), asked through two Prism proxies in front of a mock of its own:
#
#   validating proxy   (prism proxy SPEC MOCK --errors): a request the spec forbids is refused
#                      by Prism (422, or 401 for credentials the spec does not declare); the
#                      mock's answer to any other request is checked against the spec and a
#                      violation comes back as a 500 with the list in sl-violations
#   forwarding proxy   (the same with --validate-request false): requests the spec forbids
#                      reach the mock, and its error answer is checked against the 4XX schema
#
# Every case says what it expects: "ok" (a 2xx the spec accepts), "mock" (Prism lets the
# request through, the mock refuses it with an error the spec accepts), "spec" (Prism
# refuses the request; the mock, asked through the forwarding proxy, refuses it too with an
# error the spec accepts), "spec-only" (Prism refuses it but the mock accepts it: a place
# where the spec contradicts the real API, as NOTES.md says). A case that does not go as
# it says is a failure. Not part of CI.
#
# Usage:  bash test/validate-mock.sh
# Environment (all optional):
#   PRISM            a prism binary (default: installs @stoplight/prism-cli into a
#                    temporary directory with npm; skips, status 0, when npm cannot)
#   CFIAM_SPEC       the spec (default /work/shared/cloudflare-api/iam-openapi.json)
#   VALIDATE_PORTS   three free ports: mock, validating proxy, forwarding proxy
#                    (default "18857 18858 18859")
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SPEC="${CFIAM_SPEC:-/work/shared/cloudflare-api/iam-openapi.json}"
read -r MOCK_PORT PRISM_PORT FWD_PORT <<< "${VALIDATE_PORTS:-18857 18858 18859}"
WORK="$(mktemp -d -t cfiam-validate.XXXXXX)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

if [ ! -r "$SPEC" ]; then
    echo "validate-mock: no spec at $SPEC (set CFIAM_SPEC)" >&2
    exit 1
fi
if [ -z "${PRISM:-}" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "validate-mock: skipped: npm is not installed (or set PRISM)"
        exit 0
    fi
    echo "validate-mock: installing @stoplight/prism-cli into $WORK/prism ..."
    if ! npm install --silent --no-audit --no-fund --prefix "$WORK/prism" \
            @stoplight/prism-cli > "$WORK/npm.log" 2>&1; then
        echo "validate-mock: skipped: npm could not install @stoplight/prism-cli:" \
             "$(tail -1 "$WORK/npm.log")"
        exit 0
    fi
    PRISM="$WORK/prism/node_modules/.bin/prism"
fi

python3 "$HERE/mock_cloudflare.py" --port "$MOCK_PORT" > "$WORK/mock.log" 2>&1 &
PIDS+=($!)
"$PRISM" proxy "$SPEC" "http://127.0.0.1:$MOCK_PORT/client/v4" --errors \
    -p "$PRISM_PORT" > "$WORK/prism.log" 2>&1 &
PIDS+=($!)
"$PRISM" proxy "$SPEC" "http://127.0.0.1:$MOCK_PORT/client/v4" --errors \
    --validate-request false -p "$FWD_PORT" > "$WORK/prism-fwd.log" 2>&1 &
PIDS+=($!)
for log in prism.log prism-fwd.log; do
    for _ in $(seq 1 300); do
        grep -q "Prism is listening" "$WORK/$log" 2>/dev/null && break
        sleep 0.1
    done
    if ! grep -q "Prism is listening" "$WORK/$log"; then
        echo "validate-mock: prism did not start:" >&2
        tail -5 "$WORK/$log" >&2
        exit 1
    fi
done
CFIAM_MOCK_PORT="$MOCK_PORT" python3 "$HERE/mockctl.py" wait

MOCK_PORT="$MOCK_PORT" PRISM_PORT="$PRISM_PORT" FWD_PORT="$FWD_PORT" python3 - <<'EOF'
import http.client, json, os, sys
from urllib.parse import quote

MOCK, PRISM, FWD = (int(os.environ[k]) for k in ("MOCK_PORT", "PRISM_PORT", "FWD_PORT"))
A = "0123456789abcdef0123456789abcdef"
OTHER = "f" * 32
TOKEN = {"Authorization": "Bearer cfiam-test-token"}
KEY = {"X-Auth-Email": "admin@example.com", "X-Auth-Key": "cfiam-test-key"}


def call(port, method, path, headers=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    h = dict(headers or {})
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=h)
    r = conn.getresponse()
    raw = r.read()
    conn.close()
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    # Prism's own answers (a refused request) have no "Server: cloudflare" of the mock's
    return r.status, doc, r.getheader("sl-violations"), r.getheader("Server") == "cloudflare"


def api(port, method, path, headers=None, body=None):
    prefix = "/client/v4" if port == MOCK else ""
    return call(port, method, prefix + path, headers, body)


failures = 0
count = 0


def report(ok, label, detail=""):
    global failures, count
    count += 1
    if not ok:
        failures += 1
    print(f"{'ok  ' if ok else 'FAIL'} {label}{(': ' + detail) if detail else ''}")


def case(expect, method, path, headers=TOKEN, body=None, status=None, note=""):
    """expect: ok | mock | spec | spec-only (see the script's header)."""
    label = f"[{expect}] {method} {path}" + (f" ({note})" if note else "")
    st, doc, viol, mock = api(PRISM, method, path, headers, body)
    if expect in ("ok", "mock"):
        if viol or st == 500:
            return report(False, label, f"Prism {st}: {viol or doc}")
        if not mock:
            return report(False, label, f"Prism refused the request: {st} {doc}")
        if expect == "ok" and not 200 <= st < 300:
            return report(False, label, f"HTTP {st}: {doc}")
        if expect == "mock" and not 400 <= st < 500:
            return report(False, label, f"expected the mock's 4xx, got {st}: {doc}")
        if status is not None and st != status:
            return report(False, label, f"expected {status}, got {st}: {doc}")
        return report(True, label, str(st))
    # expect spec / spec-only: Prism must refuse it
    if mock:
        return report(False, label, f"Prism let it through: {st} {viol or doc}")
    why = "; ".join(v["message"] for v in (doc or {}).get("validation", [])) \
        or (doc or {}).get("title") or json.dumps(doc)
    if expect == "spec":
        st2, doc2, viol2, mock2 = api(FWD, method, path, headers, body)
        how = "through the forwarding proxy"
        if not mock2:
            # Prism refuses it even without request validation (credentials the spec does
            # not declare): the mock's answer is checked by status only
            st2, doc2, viol2, _ = api(MOCK, method, path, headers, body)
            how = "asked directly"
        if viol2 or st2 == 500:
            return report(False, label, f"mock's answer violates the spec: {viol2 or doc2}")
        if not 400 <= st2 < 500:
            return report(False, label, f"Prism refuses ({why}) but the mock answers {st2}")
        return report(True, label, f"Prism {st}: {why}; mock {st2} {how}")
    st3, doc3, _, _ = api(MOCK, method, path, headers, body)
    if not 200 <= st3 < 300:
        return report(False, label, f"expected the mock to accept it, got {st3}: {doc3}")
    return report(True, label, f"Prism {st}: {why}; mock {st3} (spec contradiction)")


call(MOCK, "POST", "/__mock/reset", body={"accounts": 3})
st, doc, _, _ = api(MOCK, "GET", "/accounts?per_page=50", KEY)
second = doc["result"][1]["id"]

# ----- accounts (the spec declares the email + Global API key pair only)
case("ok", "GET", "/accounts", KEY)
case("ok", "GET", "/accounts?name=prod-01&direction=desc&page=1&per_page=5", KEY)
case("ok", "GET", "/accounts?page=2&per_page=5", KEY)
case("ok", "GET", f"/accounts/{A}", KEY)
case("ok", "GET", f"/accounts/{second}", KEY)
case("mock", "GET", f"/accounts/{OTHER}", KEY, status=403)
case("spec", "GET", "/accounts?per_page=4", KEY)
case("spec", "GET", "/accounts?per_page=51", KEY)
case("spec", "GET", "/accounts?page=0", KEY)
case("spec", "GET", "/accounts?direction=up", KEY)
case("spec", "GET", "/accounts/0123", KEY)
case("spec-only", "GET", "/accounts", TOKEN, note="token: the spec declares email + key only")
case("spec-only", "GET", f"/accounts/{A}", TOKEN, note="token")

# ----- account-owned API tokens (the spec declares API tokens only)
T = f"/accounts/{A}/tokens"
case("ok", "GET", T)
case("ok", "GET", T + "?include_expired=true&direction=desc")
case("ok", "GET", T + "?include_expired=false&direction=asc&page=2&per_page=5")
case("ok", "GET", f"/accounts/{second}/tokens")
st, doc, _, _ = api(MOCK, "GET", T + "?include_expired=true", TOKEN)
tokens = doc["result"]
for t in tokens:
    case("ok", "GET", f"{T}/{t['id']}", note=f"{t['name']}, {t['status']}")
case("ok", "GET", T + "/permission_groups")
case("ok", "GET", T + "/permission_groups?name=" + quote("DNS Read"))
case("ok", "GET", T + "/permission_groups?scope=" + quote("com.cloudflare.api.account.zone"))
st, doc, _, _ = api(MOCK, "GET", T + "/permission_groups", TOKEN)
pg = doc["result"][0]["id"]
pg2 = doc["result"][7]["id"]
policy = {"effect": "allow", "permission_groups": [{"id": pg}],
          "resources": {f"com.cloudflare.api.account.{A}": "*"}}
nested = {"effect": "deny", "permission_groups": [{"id": pg2, "meta": {"key": "k", "value": "v"}}],
          "resources": {f"com.cloudflare.api.account.{A}": {"com.cloudflare.api.account.zone.*": "*"}}}
st, doc, _, _ = api(PRISM, "POST", T, TOKEN, {"name": "validate", "policies": [policy]})
case("ok", "POST", T, body={"name": "validate 2", "policies": [policy, nested],
                             "condition": {"request_ip": {"in": ["192.0.2.0/24"], "not_in": ["192.0.2.1/32"]}},
                             "expires_on": "2030-01-01T00:00:00Z", "not_before": "2026-01-01T00:00:00Z"})
new = doc["result"]
report(st == 200 and 40 <= len(new.get("value", "")) <= 80, "POST answers the secret value, 40 to 80 characters")
st, doc, _, _ = api(MOCK, "GET", f"{T}/{new['id']}", TOKEN)
report("value" not in doc["result"], "GET does not answer the secret value")
whole = dict(doc["result"], name="validate renamed", status="disabled")
case("ok", "PUT", f"{T}/{new['id']}", body=whole, note="the whole token read back")
case("ok", "PUT", f"{T}/{new['id']}", body={"name": "validate", "policies": [dict(policy, id=new["policies"][0]["id"])]})
case("mock", "PUT", f"{T}/{'0' * 32}", body={"name": "x", "policies": [dict(policy, id="x")]}, status=404)
case("mock", "POST", T, body={"name": "x", "policies": [{"effect": "allow", "permission_groups": [{"id": "nope"}], "resources": {"a": "*"}}]}, status=400)
case("mock", "GET", f"{T}/{'0' * 32}", status=404)
case("ok", "DELETE", f"{T}/{new['id']}")
case("mock", "DELETE", f"{T}/{new['id']}", status=404)
case("spec", "GET", T + "?per_page=4")
case("spec", "GET", T + "?per_page=51")
case("spec", "GET", T + "?include_expired=maybe")
case("spec", "GET", T + "?direction=sideways")
case("spec", "GET", T, KEY, note="email + key: the spec declares API tokens only")
case("spec", "POST", T, KEY, body={"name": "x", "policies": [policy]}, note="email + key")
case("spec", "POST", T, body={"name": "x"})
case("spec", "POST", T, body={"policies": [policy]})
case("spec", "POST", T, body={"name": "x" * 121, "policies": [policy]})
case("spec", "POST", T, body={"name": "x", "policies": [dict(policy, effect="maybe")]})
case("spec", "POST", T, body={"name": "x", "policies": [{"effect": "allow", "resources": {}}]})
case("spec", "POST", T, body={"name": "x", "policies": [dict(policy, resources={"a": 1})]})
case("spec", "POST", T, body={"name": "x", "policies": [policy], "expires_on": "tomorrow"})
case("spec", "POST", T, body={"name": "x", "policies": [policy], "condition": {"request_ip": {"in": "10.0.0.0/8"}}})
case("spec", "POST", T, body=b"{not json")
case("spec", "PUT", f"{T}/{tokens[0]['id']}", body={"policies": []})

# ----- audit logs, version 2
L = f"/accounts/{A}/logs/audit"
R = "since=2026-01-01&before=2030-01-01"
case("ok", "GET", f"{L}?{R}")
case("ok", "GET", f"{L}?{R}", KEY)
case("ok", "GET", f"{L}?{R}&direction=asc&limit=1000")
case("ok", "GET", f"/accounts/{second}/logs/audit?{R}")
st, doc, _, _ = api(PRISM, "GET", f"{L}?{R}&limit=7", TOKEN)
pages = 1
while doc["result_info"].get("cursor"):
    st, doc, viol, _ = api(PRISM, "GET", f"{L}?{R}&limit=7&cursor={quote(doc['result_info']['cursor'])}", TOKEN)
    if st != 200 or viol:
        break
    pages += 1
report(st == 200 and not viol, f"[ok] GET {L}?{R}&limit=7 followed by its cursors ({pages} pages)")
filters = {
    "account_name": "main-00", "action_result": "success", "action_type": "create",
    "actor_context": "api_token", "actor_email": "admin@example.com", "actor_id": A,
    "actor_ip_address": "203.0.113.10", "actor_token_id": tokens[0]["id"],
    "actor_token_name": "cfiam test token", "actor_type": "account", "audit_log_id": "x",
    "id": "x", "raw_cf_ray_id": "x", "raw_method": "POST", "raw_status_code": "200",
    "raw_uri": "/accounts", "resource_id": "x", "resource_product": "iam",
    "resource_type": "user_group_member", "resource_scope": "accounts", "zone_id": "x",
    "zone_name": "example.com"}
for name, value in filters.items():
    case("ok", "GET", f"{L}?{R}&{name}={quote(value)}&{name}={quote(value)}")
    case("ok", "GET", f"{L}?{R}&{name}.not={quote(value)}")
case("ok", "GET", f"{L}?{R}&product_category=account_and_billing&product_category=DNS_and_Zones")
case("ok", "GET", f"{L}?{R}&action_type=create&action_type=delete&actor_context.not=dash&resource_product=members")
case("ok", "GET", L + "/product_categories")
case("ok", "GET", L + "/product_categories", KEY)
case("mock", "GET", f"{L}?{R}&cursor=not-one-of-ours", status=400)
case("mock", "GET", f"{L}?{R}&product_category=nonsense", status=400)
case("mock", "GET", f"/accounts/{OTHER}/logs/audit?{R}", status=403)
case("spec", "GET", L)
case("spec", "GET", f"{L}?since=2026-01-01")
case("spec", "GET", f"{L}?before=2026-01-01")
case("spec", "GET", f"{L}?since=2026-13-01&before=2027-01-01")
case("spec", "GET", f"{L}?{R}&limit=0")
case("spec", "GET", f"{L}?{R}&limit=1001")
case("spec", "GET", f"{L}?{R}&direction=sideways")
case("spec", "GET", f"{L}?{R}&action_type=rename")
case("spec", "GET", f"{L}?{R}&action_result.not=maybe")
case("spec", "GET", f"{L}?{R}&actor_email=nobody")
case("spec", "GET", f"{L}?{R}&raw_status_code=ok")
case("spec", "GET", f"{L}?{R}&resource_scope=planet")
case("spec-only", "GET", f"{L}?since=2026-01-01T00:00:00Z&before=2030-01-01T00:00:00Z",
     note="RFC 3339 timestamps: the description allows them, the format (date) does not")

# ----- audit logs, version 1
V = f"/accounts/{A}/audit_logs"
case("ok", "GET", V)
case("ok", "GET", V, KEY)
case("ok", "GET", V + "?page=2&per_page=5&direction=asc")
case("ok", "GET", V + "?action.type=add&actor.email=admin%40example.com&hide_user_logs=true&export=false")
case("ok", "GET", V + "?actor.ip=198.51.100.0%2F24&zone.name=example.com")
case("ok", "GET", V + "?since=2026-01-01&before=2030-01-01T00:00:00Z")
case("ok", "GET", V + "?page=1000")
case("mock", "GET", V + "?actor.ip=not-an-address", status=400)
case("mock", "GET", f"/accounts/{OTHER}/audit_logs", status=403)
case("spec", "GET", V + "?per_page=0")
case("spec", "GET", V + "?per_page=1001")
case("spec", "GET", V + "?page=0")
case("spec", "GET", V + "?direction=sideways")
case("spec", "GET", V + "?actor.email=nobody")
case("spec", "GET", V + "?hide_user_logs=perhaps")
case("spec", "GET", V + "?since=yesterday")

# ----- writes of the IAM endpoints are in the audit log (their answers checked too)
U = f"/accounts/{A}/iam/user_groups"
st, doc, _, _ = api(MOCK, "GET", f"/accounts/{A}/members?per_page=5", KEY)
member = doc["result"][0]["id"]
st, doc, _, _ = api(PRISM, "POST", U, KEY, {"name": "validate group", "policies": []})
report(st == 200, f"[ok] POST {U}", str(st))
gid = doc["result"]["id"]
case("ok", "POST", f"{U}/{gid}/members", KEY, [{"id": member}])
case("ok", "DELETE", f"{U}/{gid}/members/{member}", KEY)
st, doc, viol, _ = api(PRISM, "GET", f"{L}?{R}&resource_type=user_group_member&resource_id={member}&limit=2", TOKEN)
kinds = [e["action"]["type"] for e in doc["result"]] if st == 200 else []
report(st == 200 and not viol and kinds == ["delete", "create"],
       "the membership change is in the audit log", str(kinds))

print(f"{count - failures} of {count} cases as expected, {failures} failed")
sys.exit(1 if failures else 0)
EOF
