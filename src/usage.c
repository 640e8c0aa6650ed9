/*-------------------------------------------------------------------------
 *
 * usage.c
 *		The usage statistics (cfiam_stats): requests, errors, retries, cache
 *		hits and bytes per server and role, and what is known of the
 *		credential's rate-limit window (limits.c).
 *
 * Counted per server and the role that sent (as pg_stat_statements counts
 * per role); a role sees its own rows, and every row with the privileges
 * of pg_read_all_stats.  They live in shared memory when cfiam is preloaded
 * (every backend's), else in each backend.
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
#include "catalog/pg_authid.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#define USAGE_SLOTS 256			/* server and user pairs kept when shared */


typedef struct UsageKey
{
	Oid			serverid;
	Oid			userid;			/* the role that sent */
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
	uint64		window_key;		/* the credential last used, or 0 */
} UsageEntry;

typedef struct UsageShared
{
	LWLock	   *lock;
	UsageEntry	entries[USAGE_SLOTS];
} UsageShared;

static UsageShared *shared_usage = NULL;
static HTAB *local_usage = NULL;

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
}

/*
 * The entry of a server and user, created if need be; with shared memory,
 * the caller holds the lock exclusively.  NULL only if every shared slot is
 * taken: the figures of further pairs are then not kept (they are
 * statistics only; the limits are limits.c's and never skipped).
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

/* Add to the counters of a server and the current role. */
void
cf_usage_count(Oid serverid, const CfUsageDelta *d)
{
	UsageEntry *e;

	usage_lock();
	e = get_entry(serverid, GetUserId());
	if (e)
	{
		e->requests += d->requests;
		e->errors += d->errors;
		e->retries += d->retries;
		e->cache_hits += d->cache_hits;
		e->bytes_received += d->bytes_received;
		if (d->window_key != 0)
			e->window_key = d->window_key;
	}
	usage_unlock();
}

/* ---------------------------------------------------------------------
 * SQL: cfiam_stats(), cfiam_stats_reset()
 * ---------------------------------------------------------------------
 */

static void
add_stats_row(Tuplestorestate *ts, TupleDesc desc, const UsageEntry *e)
{
	Datum		values[10];
	bool		nulls[10] = {0};
	int			remaining = -1;
	TimestampTz reset = 0;
	ForeignServer *server = GetForeignServerExtended(e->key.serverid, FSV_MISSING_OK);
	char	   *user;

	if (server == NULL)
		return;					/* dropped since */
	user = GetUserNameFromId(e->key.userid, true);
	if (user == NULL)
		return;
	if (e->window_key != 0)
		(void) cf_window_known(e->window_key, &remaining, &reset);
	values[0] = DirectFunctionCall1(namein, CStringGetDatum(server->servername));
	values[1] = DirectFunctionCall1(namein, CStringGetDatum(user));
	values[2] = Int64GetDatum(e->requests);
	values[3] = Int64GetDatum(e->errors);
	values[4] = Int64GetDatum(e->retries);
	values[5] = Int64GetDatum(e->cache_hits);
	values[6] = Int64GetDatum(e->bytes_received);
	values[7] = Int32GetDatum(remaining);
	nulls[7] = remaining < 0;
	values[8] = TimestampTzGetDatum(reset);
	nulls[8] = reset == 0;
	/* whose limits: every backend's (preloaded), or this backend's */
	values[9] = CStringGetTextDatum(cf_limits_shared() ? "shared" : "backend");
	tuplestore_putvalues(ts, desc, values, nulls);
}

PG_FUNCTION_INFO_V1(cfiam_stats);

/*
 * May the current role see the row of a role?  Its own, a role it has the
 * privileges of, or any with pg_read_all_stats (as pg_stat_statements).
 */
static bool
row_visible(Oid userid)
{
	return has_privs_of_role(GetUserId(), userid) ||
		has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
}

/* One row per server and role: the counters since start or reset. */
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
		if (row_visible(copy[i].key.userid))
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
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = usage_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = usage_shmem_startup;
}
