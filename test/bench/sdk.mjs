// sdk.mjs - the answers of cfiam's benchmark queries, computed with Cloudflare's official
// TypeScript SDK (`cloudflare` on npm, version pinned in package.json) and its
// auto-pagination, against the same API (normally the mock, test/mock_cloudflare.py).
//
//   node sdk.mjs --base-url http://127.0.0.1:18787/client/v4 --account-id ID --token T \
//                --shape SHAPE [--arg VALUE] [--warm no]
//
// Shapes (each is the SDK way a user would write the query that run.sh sends to cfiam):
//   full     every account member           (cfiam: SELECT ... FROM cf.account_members)
//   id       one account member by id       (cfiam: WHERE id = VALUE)
//   name     user groups named VALUE        (cfiam: cf.user_groups WHERE name = VALUE)
//   order    first 10 account members by email   (cfiam: ORDER BY email LIMIT 10)
//   join     every group, then each group's members, one group after another
//   join4    the same, 4 groups at a time
//   join3    the three-way join (cfiam: user_groups g JOIN user_group_members m ON
//            m.user_group_id = g.id JOIN account_members a ON a.id = m.id): every group, each
//            group's members one group after another, then every account member, joined in
//            JS by member id (a Map of the account members)
//   join3_4  the same with 4 groups in flight, and the account members listed alongside
//            from the start (up to 5 requests in flight)
//
// Lists use the largest per_page each endpoint allows (50 for account members, 500 for user
// groups and group members), to be fair to the SDK; for `order` it asks for per_page=10.
// Retries are left at the SDK's default (none happen against a healthy mock).
//
// Prints one JSON line: {"shape", "rows", "checksum", "requests", "ms", "maxrss_kb"}. checksum is the sum
// of the lengths of the email (or group name; for join3 the account member's email) of every
// row, the same number run.sh computes
// in SQL, so the two answers can be compared; requests is counted by a wrapper around fetch;
// ms is the wall time from creating the client to the last row (node's start-up excluded);
// maxrss_kb is the node process's peak resident set (getrusage).
import Cloudflare from 'cloudflare';

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i];
    if (!k.startsWith('--') || i + 1 >= argv.length) throw new Error(`bad argument: ${k}`);
    out[k.slice(2)] = argv[i + 1];
  }
  for (const need of ['base-url', 'account-id', 'token', 'shape']) {
    if (!out[need]) throw new Error(`missing --${need}`);
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
const account_id = args['account-id'];
let requests = 0;
const countingFetch = (url, init) => {
  requests += 1;
  return fetch(url, init);
};

const len = (s) => (typeof s === 'string' ? s.length : 0);

async function groupMembers(client, groupId, acc) {
  for await (const m of client.iam.userGroups.members.list(groupId, { account_id, per_page: 500 })) {
    acc.rows += 1;
    acc.checksum += len(m.email);
  }
}

// Every account member, by id.
async function accountMembersById(client) {
  const byId = new Map();
  for await (const a of client.accounts.members.list({ account_id, per_page: 50 })) {
    byId.set(a.id, a);
  }
  return byId;
}

// The members of one group, as [group, member] pairs appended to pairs.
async function groupMemberPairs(client, group, pairs) {
  for await (const m of client.iam.userGroups.members.list(group.id, { account_id, per_page: 500 })) {
    pairs.push([group, m]);
  }
}

// The inner join of the [group, member] pairs with the account members on the member id.
function joinAccountMembers(pairs, byId, acc) {
  for (const [, m] of pairs) {
    const a = byId.get(m.id);
    if (a) {
      acc.rows += 1;
      acc.checksum += len(a.user?.email ?? a.email);
    }
  }
}

async function run(client, shape, arg) {
  const acc = { rows: 0, checksum: 0 };
  switch (shape) {
    case 'full':
      for await (const m of client.accounts.members.list({ account_id, per_page: 50 })) {
        acc.rows += 1;
        acc.checksum += len(m.user?.email ?? m.email);
      }
      break;
    case 'id': {
      let m = null;
      try {
        m = await client.accounts.members.get(arg, { account_id });
      } catch (e) {
        if (!(e instanceof Cloudflare.NotFoundError)) throw e;
      }
      if (m) {
        acc.rows = 1;
        acc.checksum = len(m.user?.email ?? m.email);
      }
      break;
    }
    case 'name':
      for await (const g of client.iam.userGroups.list({ account_id, name: arg, per_page: 500 })) {
        acc.rows += 1;
        acc.checksum += len(g.name);
      }
      break;
    case 'order':
      for await (const m of client.accounts.members.list({
        account_id, order: 'user.email', direction: 'asc', per_page: 10,
      })) {
        acc.rows += 1;
        acc.checksum += len(m.user?.email ?? m.email);
        if (acc.rows === 10) break;
      }
      break;
    case 'join': {
      for await (const g of client.iam.userGroups.list({ account_id, per_page: 500 })) {
        await groupMembers(client, g.id, acc);
      }
      break;
    }
    case 'join4': {
      const ids = [];
      for await (const g of client.iam.userGroups.list({ account_id, per_page: 500 })) ids.push(g.id);
      let next = 0;
      const worker = async () => {
        while (next < ids.length) {
          const id = ids[next++];
          await groupMembers(client, id, acc);
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      break;
    }
    case 'join3': {
      const pairs = [];
      for await (const g of client.iam.userGroups.list({ account_id, per_page: 500 })) {
        await groupMemberPairs(client, g, pairs);
      }
      joinAccountMembers(pairs, await accountMembersById(client), acc);
      break;
    }
    case 'join3_4': {
      const members = accountMembersById(client);   // listed alongside the groups
      const groups = [];
      for await (const g of client.iam.userGroups.list({ account_id, per_page: 500 })) groups.push(g);
      const pairs = [];
      let next = 0;
      const worker = async () => {
        while (next < groups.length) {
          const g = groups[next++];
          await groupMemberPairs(client, g, pairs);
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      joinAccountMembers(pairs, await members, acc);
      break;
    }
    default:
      throw new Error(`unknown shape: ${shape}`);
  }
  return acc;
}

// Node loads its fetch implementation (undici) lazily, on the first request: ~40 ms that a
// long-running program pays once. One untimed request to the mock's health endpoint (not an
// API call, not in the mock's request log) takes it out of the measurement.
if (args.warm !== 'no') {
  try {
    await (await fetch(new URL('/__mock/health', args['base-url']))).arrayBuffer();
  } catch {
    // not the mock: no warm-up
  }
}

const t0 = performance.now();
const client = new Cloudflare({
  apiToken: args.token,
  baseURL: args['base-url'],
  fetch: countingFetch,
});
const acc = await run(client, args.shape, args.arg);
const ms = performance.now() - t0;
console.log(JSON.stringify({
  shape: args.shape, rows: acc.rows, checksum: acc.checksum, requests,
  ms: Math.round(ms * 10) / 10, maxrss_kb: process.resourceUsage().maxRSS,
}));
