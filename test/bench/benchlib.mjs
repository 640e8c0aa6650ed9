// benchlib.mjs - what the SDK sides of the benchmarks (access-sdk.mjs, accounts-sdk.mjs)
// share: their arguments, the warm-up, the client with its count of requests,
// the promise pool that bounds the requests in flight, every item of a paged list, and the
// digest of the rows. Imported, not run.
import { createHash } from 'node:crypto';
import Cloudflare from 'cloudflare';

// `--name value` pairs over `defaults`; every name of `required` must be given.
export function parseArgs(argv, defaults, required) {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i];
    if (!k.startsWith('--') || i + 1 >= argv.length) throw new Error(`bad argument: ${k}`);
    out[k.slice(2)] = argv[i + 1];
  }
  for (const need of required) {
    if (!out[need]) throw new Error(`missing --${need}`);
  }
  return out;
}

// --inflight and --paging, the variants of the benchmarks against cfiam's pace.
export function checkVariant(args) {
  if (!/^[1-9][0-9]*$/.test(args.inflight)) throw new Error('--inflight must be >= 1');
  if (!['auto', 'total'].includes(args.paging)) throw new Error('--paging must be auto or total');
}

// Node loads its fetch implementation (undici) lazily, on the first request: ~40 ms that a
// long-running program pays once. One untimed request to the mock's health endpoint (not an
// API call, not in the mock's request log) takes it out of the measurement; `--warm no` skips it.
export async function warmUp(args) {
  if (args.warm === 'no') return;
  try {
    await (await fetch(new URL('/__mock/health', args['base-url']))).arrayBuffer();
  } catch {
    // not the mock: no warm-up
  }
}

// The requests the clients made, counted by a wrapper around fetch (the benchmarks compare it
// with the mock's log).
let requests = 0;
export const requestCount = () => requests;

export function newClient(args) {
  return new Cloudflare({
    apiToken: args.token,
    baseURL: args['base-url'],
    fetch: (url, init) => {
      requests += 1;
      return fetch(url, init);
    },
  });
}

// A FIFO semaphore: at most `n` holders; run(fn) waits for a slot, then runs fn.
export function pool(n) {
  let active = 0;
  const waiting = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else active -= 1;
  };
  return async (fn) => {
    if (active < n) active += 1;
    else await new Promise((resolve) => waiting.push(resolve));   // the slot is handed over
    try {
      return await fn();
    } finally {
      release();
    }
  };
}

// listAll(first, params, perPage): every item of a paged list, each request through `slot`.
// first(params) requests one page (a PagePromise, awaited to a page object); params.page is
// 1-based. paging 'total': page 1, then the other pages all at once from
// result_info.total_count (auto when an answer has none); 'auto': the SDK's own paging.
export function lister(slot, paging) {
  return async function listAll(first, params, perPage) {
    const items = [];
    let page = await slot(() => first({ ...params, per_page: perPage, page: 1 }));
    items.push(...page.getPaginatedItems());
    const total = page.result_info?.total_count;
    if (paging === 'total' && Number.isInteger(total)) {
      const pages = Math.ceil(total / perPage);
      const rest = [];
      for (let k = 2; k <= pages; k++) {
        rest.push(slot(() => first({ ...params, per_page: perPage, page: k })));
      }
      for (const p of await Promise.all(rest)) items.push(...p.getPaginatedItems());
      return items;
    }
    // the SDK's own auto-pagination, request by request (what `for await` does)
    while (page.hasNextPage()) {
      const current = page;
      page = await slot(() => current.getNextPage());
      items.push(...page.getPaginatedItems());
    }
    return items;
  };
}

// The sha256 of the lines (Buffers) sorted by their bytes and joined by "\n", as the Python side
// computes it of cfiam's rows.
export function digestLines(lines) {
  lines.sort(Buffer.compare);
  const hash = createHash('sha256');
  lines.forEach((l, i) => {
    if (i) hash.update('\n');
    hash.update(l);
  });
  return hash.digest('hex');
}
