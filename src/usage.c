/*-------------------------------------------------------------------------
 *
 * usage.c
 *		What cfiam spends of the account's API: the request budget of a
 *		statement, Cloudflare's rate-limit headers, and the usage
 *		statistics (cfiam_stats).
 *
 * Cloudflare allows a user a quota of requests per window (1,200 per 5
 * minutes) across every client, and going over it blocks every call of the
 * user for the rest of the window.  Each answer says what is left:
 *   Ratelimit: "default";r=<remaining>;t=<seconds until the window resets>
 * cfiam keeps the last value per server and user mapping, counts down the
 * requests it sends after it, and stops a statement rather than spend the
 * last cfiam.ratelimit_reserve of them.  cfiam.max_requests bounds what one
 * statement may send at all, refused before the excess is sent.
 *
 * The statistics and the remaining quota live in shared memory when cfiam
 * is preloaded (every backend's, and what one learns the others respect),
 * else in each backend.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "cfiam.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#define USAGE_SLOTS 256			/* server and user pairs kept when shared */

static int	max_requests = 1000;	/* cfiam.max_requests; 0: no limit */
static int	ratelimit_reserve = 100;	/* cfiam.ratelimit_reserve */

typedef struct UsageKey
{
	Oid			serverid;
	Oid			userid;			/* InvalidOid: the PUBLIC mapping */
} UsageKey;

typedef struct UsageEntry
{
	UsageKey	key;
	bool		used;			/* a shared slot in use */
	int64		requests;
	int64		errors;
	int64		retries;
	int64		cache_hits;
	int64		bytes_received;
	int			ratelimit_remaining;	/* -1: not known */
	TimestampTz ratelimit_reset;	/* 0: not known */
} UsageEntry;

typedef struct UsageShared
{
	LWLock	   *lock;
	UsageEntry	entries[USAGE_SLOTS];
} UsageShared;

static UsageShared *shared_usage = NULL;
static HTAB *local_usage = NULL;

/* the requests of the current statement (see budget_reset_if_new) */
static TimestampTz budget_statement = 0;
static int64 budget_spent = 0;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* ---------------------------------------------------------------------
 * The entries
 * ---------------------------------------------------------------------
 */

static void
entry_init(UsageEntry *e, const UsageKey *key)
{
	memset(e, 0, sizeof(*e));
	e->key = *key;
	e->used = true;
	e->ratelimit_remaining = -1;
}

/*
 * The entry of a server and user, created if need be; with shared memory,
 * the caller holds the lock exclusively.  NULL only if every shared slot is
 * taken (the figures are then not kept; nothing else depends on them).
 */
static UsageEntry *
get_entry(Oid serverid, Oid userid)
{
	UsageKey	key = {serverid, userid};

	if (shared_usage)
	{
		UsageEntry *free_slot = NULL;

		for (int i = 0; i < USAGE_SLOTS; i++)
		{
			UsageEntry *e = &shared_usage->entries[i];

			if (e->used && e->key.serverid == serverid && e->key.userid == userid)
				return e;
			if (!e->used && free_slot == NULL)
				free_slot = e;
		}
		if (free_slot)
			entry_init(free_slot, &key);
		return free_slot;
	}
	else
	{
		UsageEntry *e;
		bool		found;

		if (local_usage == NULL)
		{
			HASHCTL		ctl;

			ctl.keysize = sizeof(UsageKey);
			ctl.entrysize = sizeof(UsageEntry);
			local_usage = hash_create("cfiam usage", 16, &ctl, HASH_ELEM | HASH_BLOBS);
		}
		e = hash_search(local_usage, &key, HASH_ENTER, &found);
		if (!found)
			entry_init(e, &key);
		return e;
	}
}

static void
usage_lock(void)
{
	if (shared_usage)
		LWLockAcquire(shared_usage->lock, LW_EXCLUSIVE);
}

static void
usage_unlock(void)
{
	if (shared_usage)
		LWLockRelease(shared_usage->lock);
}

/* Add to a server and user's counters. */
void
cf_usage_count(Oid serverid, Oid userid, const CfUsageDelta *d)
{
	UsageEntry *e;

	usage_lock();
	e = get_entry(serverid, userid);
	if (e)
	{
		e->requests += d->requests;
		e->errors += d->errors;
		e->retries += d->retries;
		e->cache_hits += d->cache_hits;
		e->bytes_received += d->bytes_received;
		/* what was sent comes off the quota last heard of */
		if (e->ratelimit_remaining > 0)
			e->ratelimit_remaining = Max(0, e->ratelimit_remaining - d->requests);
	}
	usage_unlock();
}

/* Cloudflare said: remaining requests, the window resetting in reset_s. */
void
cf_usage_ratelimit(Oid serverid, Oid userid, int remaining, int reset_s)
{
	UsageEntry *e;

	usage_lock();
	e = get_entry(serverid, userid);
	if (e)
	{
		e->ratelimit_remaining = remaining;
		e->ratelimit_reset = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
														 (int64) reset_s * 1000);
	}
	usage_unlock();
}

/* ---------------------------------------------------------------------
 * The budget of a statement and the account's reserve
 * ---------------------------------------------------------------------
 */

/* A new top-level statement starts a new budget. */
static void
budget_reset_if_new(void)
{
	TimestampTz started = GetCurrentStatementStartTimestamp();

	if (started != budget_statement)
	{
		budget_statement = started;
		budget_spent = 0;
	}
}

/*
 * The statement is about to need `more` requests (known from total_count or
 * from a fan-out, or 1 for the next request): refuse it if that goes over
 * cfiam.max_requests, before any of them is sent.
 */
void
cf_budget_check(int64 more, const char *what)
{
	budget_reset_if_new();
	if (max_requests > 0 && budget_spent + more > max_requests)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("statement needs " INT64_FORMAT " Cloudflare API requests, more than cfiam.max_requests (%d)",
						budget_spent + more, max_requests),
				 errdetail("%s; " INT64_FORMAT " request(s) already sent by this statement.",
						   what, budget_spent),
				 errhint("Narrow the query with a filter the API takes or a LIMIT, or raise cfiam.max_requests (0: no limit).")));
}

/* n requests of the statement are being sent. */
void
cf_budget_spend(int n)
{
	budget_reset_if_new();
	budget_spent += n;
}

/*
 * Before sending n requests for a server and user: stop rather than spend
 * the account's last cfiam.ratelimit_reserve requests of the window, as far
 * as Cloudflare's last Ratelimit header and what was sent since tell.
 */
void
cf_ratelimit_check(Oid serverid, Oid userid, int n)
{
	int			remaining = -1;
	TimestampTz reset = 0;
	UsageEntry *e;

	usage_lock();
	e = get_entry(serverid, userid);
	if (e)
	{
		remaining = e->ratelimit_remaining;
		reset = e->ratelimit_reset;
	}
	usage_unlock();

	if (remaining < 0 || reset <= GetCurrentTimestamp())
		return;					/* not known, or that window is over */
	if (remaining - n < ratelimit_reserve)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("Cloudflare API rate limit nearly spent: %d request(s) left in this window, cfiam.ratelimit_reserve is %d",
						remaining, ratelimit_reserve),
				 errdetail("The statement needs %d more; the rest of the window is kept for other clients of the account.",
						   n),
				 errhint("Try again after %s, when the window resets, or lower cfiam.ratelimit_reserve.",
						 timestamptz_to_str(reset))));
}

/* ---------------------------------------------------------------------
 * SQL: cfiam_stats(), cfiam_stats_reset()
 * ---------------------------------------------------------------------
 */

static void
add_stats_row(Tuplestorestate *ts, TupleDesc desc, const UsageEntry *e)
{
	Datum		values[9];
	bool		nulls[9] = {0};
	ForeignServer *server = GetForeignServerExtended(e->key.serverid, FSV_MISSING_OK);
	char	   *user;

	if (server == NULL)
		return;					/* dropped since */
	user = OidIsValid(e->key.userid) ? GetUserNameFromId(e->key.userid, true) : "public";
	if (user == NULL)
		return;
	values[0] = DirectFunctionCall1(namein, CStringGetDatum(server->servername));
	values[1] = DirectFunctionCall1(namein, CStringGetDatum(user));
	values[2] = Int64GetDatum(e->requests);
	values[3] = Int64GetDatum(e->errors);
	values[4] = Int64GetDatum(e->retries);
	values[5] = Int64GetDatum(e->cache_hits);
	values[6] = Int64GetDatum(e->bytes_received);
	values[7] = Int32GetDatum(e->ratelimit_remaining);
	nulls[7] = e->ratelimit_remaining < 0;
	values[8] = TimestampTzGetDatum(e->ratelimit_reset);
	nulls[8] = e->ratelimit_reset == 0;
	tuplestore_putvalues(ts, desc, values, nulls);
}

PG_FUNCTION_INFO_V1(cfiam_stats);

/* One row per server and user: the counters since start or reset. */
Datum
cfiam_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	UsageEntry *copy;
	int			n = 0;

	InitMaterializedSRF(fcinfo, 0);

	/* copy under the lock, name the rows (catalog reads) after it */
	if (shared_usage)
	{
		copy = palloc(sizeof(UsageEntry) * USAGE_SLOTS);
		LWLockAcquire(shared_usage->lock, LW_SHARED);
		for (int i = 0; i < USAGE_SLOTS; i++)
			if (shared_usage->entries[i].used)
				copy[n++] = shared_usage->entries[i];
		LWLockRelease(shared_usage->lock);
	}
	else
	{
		HASH_SEQ_STATUS seq;
		UsageEntry *e;

		copy = palloc(sizeof(UsageEntry) * Max(1, local_usage ? hash_get_num_entries(local_usage) : 1));
		if (local_usage)
		{
			hash_seq_init(&seq, local_usage);
			while ((e = hash_seq_search(&seq)) != NULL)
				copy[n++] = *e;
		}
	}
	for (int i = 0; i < n; i++)
		add_stats_row(rsinfo->setResult, rsinfo->setDesc, &copy[i]);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(cfiam_stats_reset);

/* Zero every counter (what Cloudflare said of the quota stays). */
Datum
cfiam_stats_reset(PG_FUNCTION_ARGS)
{
	usage_lock();
	if (shared_usage)
	{
		for (int i = 0; i < USAGE_SLOTS; i++)
		{
			UsageEntry *e = &shared_usage->entries[i];

			e->requests = e->errors = e->retries = e->cache_hits = e->bytes_received = 0;
		}
	}
	else if (local_usage)
	{
		HASH_SEQ_STATUS seq;
		UsageEntry *e;

		hash_seq_init(&seq, local_usage);
		while ((e = hash_seq_search(&seq)) != NULL)
			e->requests = e->errors = e->retries = e->cache_hits = e->bytes_received = 0;
	}
	usage_unlock();
	PG_RETURN_VOID();
}

/* ---------------------------------------------------------------------
 * Set-up
 * ---------------------------------------------------------------------
 */

static void
usage_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(UsageShared)));
	RequestNamedLWLockTranche("cfiam usage", 1);
}

static void
usage_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared_usage = ShmemInitStruct("cfiam usage", sizeof(UsageShared), &found);
	if (!found)
		memset(shared_usage, 0, sizeof(UsageShared));
	shared_usage->lock = &(GetNamedLWLockTranche("cfiam usage"))->lock;
	LWLockRelease(AddinShmemInitLock);
}

/* Called from _PG_init. */
void
cf_usage_init(void)
{
	DefineCustomIntVariable("cfiam.max_requests",
							"Most Cloudflare API requests one statement may send.",
							"A statement that needs more is refused before the excess is sent. 0: no limit.",
							&max_requests,
							1000, 0, INT_MAX,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("cfiam.ratelimit_reserve",
							"Requests of the account's rate-limit window cfiam leaves to other clients.",
							"A statement stops rather than spend them, as Cloudflare's Ratelimit header tells.",
							&ratelimit_reserve,
							100, 0, 1000000,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = usage_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = usage_shmem_startup;
}
