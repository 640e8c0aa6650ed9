// accounts-sdk.mjs - the two reports of test/bench/accounts.sh computed with Cloudflare's
// official TypeScript SDK (`cloudflare` on npm, pinned in package.json), looping over every
// account the credential sees, against the same API (normally the mock,
// test/mock_cloudflare.py). The SDK side of accounts.sh.
//
//   node accounts-sdk.mjs --base-url URL --token T --report counts|scan [--inflight N]
//                         [--paging auto|total] [--warm no]
//
// Both reports list the accounts first (`client.accounts.list()`, 50 a page, the largest the
// API allows), then each account's members (`client.accounts.members.list({account_id})`):
//   counts  how many members each account has: page 1 of each account's members at the
//           smallest per_page (5), the number read from result_info.total_count (what cfiam's
//           count(*) pushdown asks for: one request per account);
//   scan    every member of every account, 50 a page (the largest per_page).
//
// --inflight N: at most N requests in flight at once (default 1: one after another, the
// accounts in turn). Every request waits for a slot of a small promise pool (a FIFO semaphore);
// with N > 1 every account is started at once, so requests of different accounts overlap.
// --paging auto: each list followed page by page as the SDK's `for await` does
//   (page.hasNextPage() / page.getNextPage(): it stops at the first empty page, one request more
//   per list than the minimum);
// --paging total: page 1 of each list first, then its other pages, all at once through the pool,
//   from result_info.total_count (falls back to auto when an answer has no total_count): the
//   minimum of requests.
//
// Prints one JSON line: {"report", "inflight", "paging", "accounts", "counts": {account id:
// members}, "rows", "digest", "requests", "ms", "maxrss_kb"}. rows is the members listed (scan)
// or the sum of the counts (counts); digest (scan only) is the sha256 of the lines
// "account_id U+001F id U+001F email U+001F status", sorted by their UTF-8 bytes and joined by
// "\n": accounts.py computes the same from cfiam's rows. ms is the wall time from creating the
// client to the last account's answer (node's start-up, the warm-up and the digest excluded);
// requests is counted by a wrapper around fetch (accounts.py compares it with the mock's log).
import {
  checkVariant, digestLines, lister, newClient, parseArgs, pool, requestCount, warmUp,
} from './benchlib.mjs';

const args = parseArgs(process.argv.slice(2), { inflight: '1', paging: 'auto' },
  ['base-url', 'token', 'report']);
checkVariant(args);
if (!['counts', 'scan'].includes(args.report)) throw new Error('--report must be counts or scan');
const inflight = Number(args.inflight);
const slot = pool(inflight);
const listAll = lister(slot, args.paging);

// Each account in turn (one in flight), or all started at once through the pool.
async function eachAccount(accounts, fn) {
  if (inflight === 1) {
    const out = [];
    for (const a of accounts) out.push(await fn(a));
    return out;
  }
  return Promise.all(accounts.map(fn));
}

async function run(client) {
  const accounts = await listAll((p) => client.accounts.list(p), {}, 50);
  if (args.report === 'counts') {
    const totals = await eachAccount(accounts, async (a) => {
      const page = await slot(() => client.accounts.members.list(
        { account_id: a.id, per_page: 5, page: 1 }));
      const total = page.result_info?.total_count;
      if (!Number.isInteger(total)) throw new Error(`no total_count for account ${a.id}`);
      return [a.id, total];
    });
    return { accounts, counts: Object.fromEntries(totals), members: null };
  }
  const lists = await eachAccount(accounts, async (a) => [a.id, await listAll(
    (p) => client.accounts.members.list({ account_id: a.id, ...p }), {}, 50)]);
  const counts = {};
  for (const [id, ms] of lists) counts[id] = ms.length;
  return { accounts, counts, members: lists };
}

await warmUp(args);

const t0 = performance.now();
const client = newClient(args);
const { accounts, counts, members } = await run(client);
const ms = performance.now() - t0;

let rows = 0;
let digest = null;
if (members) {
  const lines = [];
  for (const [id, ms2] of members) {
    for (const m of ms2) {
      lines.push(Buffer.from([id, m.id, m.user?.email ?? m.email ?? '\\N', m.status ?? '\\N']
        .join('\u001f'), 'utf8'));
    }
  }
  rows = lines.length;
  digest = digestLines(lines);
} else {
  rows = Object.values(counts).reduce((s, n) => s + n, 0);
}
console.log(JSON.stringify({
  report: args.report, inflight, paging: args.paging, accounts: accounts.length, counts, rows,
  digest, requests: requestCount(), ms: Math.round(ms * 10) / 10,
  maxrss_kb: process.resourceUsage().maxRSS,
}));
