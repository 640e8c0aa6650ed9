// access-sdk.mjs - effective access (who can do what, where) computed with Cloudflare's official
// TypeScript SDK (`cloudflare` on npm, pinned in package.json), the rows of cfiam's view
// cf.effective_access (cfiam_create_effective_access, docs/reporting.md) built in JS from the
// same lists, against the same API (normally the mock, test/mock_cloudflare.py). The SDK side of
// test/bench/access.sh.
//
//   node access-sdk.mjs --base-url URL --account-id ID --token T [--inflight N]
//                       [--paging auto|total] [--warm no]
//
// What it lists (each list once): every account member (their own policies and legacy roles
// come with them), every user group (with its policies), each group's members, the permission
// groups, the resource groups. Lists use the largest per_page each endpoint allows (50 for
// account members and permission groups, 500 for user groups and group members); the resource
// groups are one unpaged list.
//
// --inflight N: at most N requests in flight at once (default 1: one after another). Every
// request waits for a slot of a small promise pool (a FIFO semaphore); the lists are all started
// at once and each group's members list as soon as the groups' listing has come, so with N > 1
// requests of different lists overlap.
// --paging auto: each list followed page by page as the SDK's `for await` does
//   (page.hasNextPage() / page.getNextPage(): it stops at the first empty page, one request more
//   per list than the minimum);
// --paging total: page 1 of each list first, then its other pages, all at once through the pool,
//   from result_info.total_count (falls back to auto when an answer has no total_count): the
//   minimum of requests.
//
// The rows, as the view makes them (a row per member, per way of access, per policy's permission
// group and resource group):
//   direct  every member's own policies;
//   group   every group's policies, for each of its members that is an account member (an inner
//           join on the member id);
//   each policy's permission groups x its resource groups (a policy without either still gives
//   one row, with NULLs there), the names and the scope taken from the permission groups' and
//   resource groups' lists by id, else from the policy itself;
//   role    every member's legacy roles (access allow, the role's permissions).
//
// Prints one JSON line: {"inflight", "paging", "rows", "by_via": {via: rows}, "digest",
// "requests", "ms", "list_ms", "maxrss_kb"}. digest is the sha256 of the rows' lines sorted by
// their UTF-8 bytes and joined by "\n", a line being the view's columns in order joined by
// U+001F, NULL as \N, jsonb in a canonical form (keys sorted, no spaces): access.py computes the
// same from cfiam's rows. ms is the wall time from creating the client to the last row (node's
// start-up, the warm-up and the digest excluded); list_ms the part of it spent listing; requests
// is counted by a wrapper around fetch (access.py compares it with the mock's log).
import {
  checkVariant, digestLines, lister, newClient, parseArgs, pool, requestCount, warmUp,
} from './benchlib.mjs';

const args = parseArgs(process.argv.slice(2), { inflight: '1', paging: 'auto' },
  ['base-url', 'account-id', 'token']);
checkVariant(args);
const account_id = args['account-id'];
const inflight = Number(args.inflight);
const slot = pool(inflight);
const listAll = lister(slot, args.paging);

// jsonb in a canonical form: keys sorted, no spaces (access.py re-encodes cfiam's jsonb the same).
function canon(v) {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canon(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
const text = (v) => (v === undefined || v === null ? null
  : typeof v === 'string' ? v : canon(v));   // ->> of a non-string: its JSON text
const arr = (v) => (v === undefined || v === null ? [] : v);   // coalesce(x, '[]')

async function run(client) {
  const [members, groupsWithMembers, permissionGroups, resourceGroups] = await Promise.all([
    listAll((p) => client.accounts.members.list({ account_id, ...p }), {}, 50),
    (async () => {
      const groups = await listAll((p) => client.iam.userGroups.list({ account_id, ...p }), {}, 500);
      return Promise.all(groups.map(async (g) => [g, await listAll(
        (p) => client.iam.userGroups.members.list(g.id, { account_id, ...p }), {}, 500)]));
    })(),
    listAll((p) => client.iam.permissionGroups.list({ account_id, ...p }), {}, 50),
    (async () => (await slot(() => client.iam.resourceGroups.list({ account_id })))
      .getPaginatedItems())(),
  ]);
  const listed = performance.now();

  const byId = new Map();   // the account members by id (a member id is unique)
  for (const m of members) {
    if (!byId.has(m.id)) byId.set(m.id, []);
    byId.get(m.id).push(m);
  }
  const pgById = new Map();
  for (const x of permissionGroups) {
    if (!pgById.has(x.id)) pgById.set(x.id, []);
    pgById.get(x.id).push(x);
  }
  const rgById = new Map();
  for (const x of resourceGroups) {
    if (!rgById.has(x.id)) rgById.set(x.id, []);
    rgById.get(x.id).push(x);
  }
  const email = (m) => m.user?.email ?? m.email ?? null;

  // grants: [member, via, group or null, policy]
  const grants = [];
  for (const m of members) {
    for (const p of arr(m.policies)) grants.push([m, 'direct', null, p]);
  }
  for (const [g, gm] of groupsWithMembers) {
    for (const x of gm) {
      for (const m of byId.get(x.id) ?? []) {
        for (const p of arr(g.policies)) grants.push([m, 'group', g, p]);
      }
    }
  }
  const rows = [];
  for (const [m, via, g, p] of grants) {
    const pgs = arr(p.permission_groups);
    const rgs = arr(p.resource_groups);
    for (const pg of pgs.length ? pgs : [null]) {
      for (const rg of rgs.length ? rgs : [null]) {
        const pgts = (pg && pgById.get(text(pg.id))) || [null];
        const rgts = (rg && rgById.get(text(rg.id))) || [null];
        for (const pgt of pgts) {
          for (const rgt of rgts) {
            rows.push([m.id, email(m), via, g ? g.id : null, g ? g.name : null, null, null,
              text(p.id), text(p.access), pg ? text(pg.id) : null,
              pgt?.name ?? (pg ? text(pg.name) : null), rg ? text(rg.id) : null,
              rgt?.name ?? (rg ? text(rg.name) : null),
              rgt?.scope ?? rg?.scope ?? null, null]);
          }
        }
      }
    }
  }
  for (const m of members) {
    for (const r of arr(m.roles)) {
      rows.push([m.id, email(m), 'role', null, null, text(r.id), text(r.name), null, 'allow',
        null, null, null, null, null, r.permissions ?? null]);
    }
  }
  return { rows, listed };
}

await warmUp(args);

const t0 = performance.now();
const client = newClient(args);
const { rows, listed } = await run(client);
const ms = performance.now() - t0;

const byVia = {};
const lines = rows.map((r) => {
  byVia[r[2]] = (byVia[r[2]] ?? 0) + 1;
  return Buffer.from(r.map((v) => (v === null ? '\\N' : typeof v === 'string' ? v : canon(v)))
    .join('\u001f'), 'utf8');
});
console.log(JSON.stringify({
  inflight, paging: args.paging, rows: rows.length, by_via: byVia, digest: digestLines(lines),
  requests: requestCount(), ms: Math.round(ms * 10) / 10, list_ms: Math.round((listed - t0) * 10) / 10,
  maxrss_kb: process.resourceUsage().maxRSS,
}));
