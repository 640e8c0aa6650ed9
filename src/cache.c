/*-------------------------------------------------------------------------
 *
 * cache.c
 *		The result cache: GET answers reused for cache_ttl seconds.
 *
 * An answer is kept under its key: the database, the user mapping, the
 * credential it was fetched with and the full URL, so an answer fetched
 * with one user mapping or key is never served to another, nor to another
 * database (one made from a template has the same mapping OIDs).  ALTER
 * SERVER and ALTER USER MAPPING empty the cache in every backend.  With
 * shared_preload_libraries = 'cfiam' the cache lives in shared memory and
 * serves every backend; otherwise each backend has its own.  Either way it
 * is bounded by cfiam.cache_size.
 *
 * Both are the same store: a ring of entries, written one after another and
 * evicted oldest first when the ring is full, plus a hash index from key to
 * the entry's place in the ring.  Entries are whole granules, so that a
 * padding entry always fits where the ring wraps.
 *
 * A write through cfiam (any method but GET) drops the cached answers of
 * the account it wrote to before its statement returns: in shared memory
 * directly; without it, in this backend directly and in the others through
 * PostgreSQL's invalidation messages, which each backend reads before its
 * next statement opens a table.  An answer whose request was sent before
 * such a write is not stored when it arrives after it (the store counts
 * its writes; a GET notes the count before it is sent).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "cfiam.h"

#include "catalog/pg_foreign_table.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/sinval.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#define CACHE_GRANULE 128		/* every entry is a multiple of this */
#define CACHE_MIN_INDEX 64

/* the bound of the cache, in kB (cfiam.cache_size) */
static int	cache_size_kb = 8 * 1024;

typedef struct CacheKey
{
	Oid			dbid;
	Oid			umid;
	uint64		credential;		/* hash of API URL and key (http.c) */
	uint64		url_hash;
} CacheKey;

typedef struct CacheIndexEntry
{
	CacheKey	key;
	uint64		pos;			/* where the entry starts in the ring */
} CacheIndexEntry;

/* An entry in the ring: this header, then the URL, then the body. */
typedef struct CacheItem
{
	uint32		total;			/* bytes, header included; granules */
	bool		live;			/* false: padding, or dropped */
	CacheKey	key;
	TimestampTz expires;
	char		account[CF_ID_LEN + 1];
	uint32		url_len;
	uint32		body_len;
} CacheItem;

StaticAssertDecl(sizeof(CacheItem) <= CACHE_GRANULE,
				 "a cache entry header fits one granule");

/* The state of a store, in shared memory or in this backend's. */
typedef struct CacheHeader
{
	uint64		size;			/* bytes of the ring */
	uint64		head;			/* next write, counted from the start */
	uint64		tail;			/* oldest entry */
	int64		entries;		/* live entries */
	uint64		writes;			/* writes and drops so far: see cf_cache_epoch */
} CacheHeader;

typedef struct CacheStore
{
	CacheHeader *hdr;
	char	   *ring;
	HTAB	   *index;
	LWLock	   *lock;			/* NULL for a backend's own store */
} CacheStore;

static CacheStore shared_store;	/* hdr NULL unless preloaded */
static CacheStore local_store;	/* made on first use without preloading */
static bool cache_callback_registered = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size
ring_bytes(void)
{
	Size		size = (Size) cache_size_kb * 1024;

	return size - size % CACHE_GRANULE;
}

static long
index_entries(void)
{
	return Max(CACHE_MIN_INDEX, (long) (ring_bytes() / 1024));
}

/* ---------------------------------------------------------------------
 * The store: ring and index
 * ---------------------------------------------------------------------
 */

static inline CacheItem *
item_at(CacheStore *store, uint64 pos)
{
	return (CacheItem *) (store->ring + pos % store->hdr->size);
}

/* Drop the oldest entry of the ring (its index entry too, if it is its). */
static void
evict_oldest(CacheStore *store)
{
	CacheHeader *hdr = store->hdr;
	CacheItem  *item = item_at(store, hdr->tail);

	if (item->live)
	{
		CacheIndexEntry *ie = hash_search(store->index, &item->key, HASH_FIND, NULL);

		if (ie && ie->pos == hdr->tail)
			hash_search(store->index, &item->key, HASH_REMOVE, NULL);
		item->live = false;
		hdr->entries--;
	}
	hdr->tail += item->total;
}

/* Make room for need bytes at the head, contiguous, evicting the oldest. */
static void
make_room(CacheStore *store, uint64 need)
{
	CacheHeader *hdr = store->hdr;
	uint64		to_end = hdr->size - hdr->head % hdr->size;

	if (to_end < need)
	{
		/* the entry would straddle the end: pad to it, start over */
		while (hdr->head + to_end - hdr->tail > hdr->size)
			evict_oldest(store);
		if (hdr->head == hdr->tail)
			hdr->head = hdr->tail = 0;
		else
		{
			CacheItem  *pad = item_at(store, hdr->head);

			memset(pad, 0, sizeof(CacheItem));
			pad->total = (uint32) to_end;
			hdr->head += to_end;
		}
	}
	while (hdr->head + need - hdr->tail > hdr->size)
		evict_oldest(store);
}

static void
make_key(CacheKey *key, Oid umid, uint64 credential, const char *url)
{
	memset(key, 0, sizeof(*key));
	key->dbid = MyDatabaseId;
	key->umid = umid;
	key->credential = credential;
	key->url_hash = hash_bytes_extended((const unsigned char *) url, strlen(url), 0);
}

/* The live, unexpired entry for a key and URL, or NULL. */
static CacheItem *
find_item(CacheStore *store, const CacheKey *key, const char *url)
{
	CacheIndexEntry *ie = hash_search(store->index, key, HASH_FIND, NULL);
	CacheItem  *item;
	size_t		url_len = strlen(url);

	if (ie == NULL)
		return NULL;
	item = item_at(store, ie->pos);
	if (!item->live || item->url_len != url_len ||
		memcmp((char *) item + sizeof(CacheItem), url, url_len) != 0 ||
		item->expires <= GetCurrentTimestamp())
		return NULL;
	return item;
}

static void
store_put(CacheStore *store, const CacheKey *key, const char *url,
		  const char *account, const char *body, size_t body_len, int ttl_s)
{
	size_t		url_len = strlen(url);
	uint64		need = TYPEALIGN(CACHE_GRANULE, sizeof(CacheItem) + url_len + body_len);
	CacheIndexEntry *ie;
	CacheItem  *item;
	bool		found;

	/* an answer larger than half the cache would empty it for itself */
	if (need > store->hdr->size / 2)
		return;

	make_room(store, need);
	/* an index that is full gives up its oldest entries too */
	while ((ie = hash_search(store->index, key, HASH_ENTER_NULL, &found)) == NULL &&
		   store->hdr->tail < store->hdr->head)
		evict_oldest(store);
	if (ie == NULL)
		return;
	if (found)
	{
		/* the older answer for the same key goes */
		CacheItem  *old = item_at(store, ie->pos);

		if (old->live)
		{
			old->live = false;
			store->hdr->entries--;
		}
	}

	item = item_at(store, store->hdr->head);
	memset(item, 0, sizeof(CacheItem));
	item->total = (uint32) need;
	item->live = true;
	item->key = *key;
	item->expires = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), (int64) ttl_s * 1000);
	strlcpy(item->account, account, sizeof(item->account));
	item->url_len = (uint32) url_len;
	item->body_len = (uint32) body_len;
	memcpy((char *) item + sizeof(CacheItem), url, url_len);
	memcpy((char *) item + sizeof(CacheItem) + url_len, body, body_len);

	ie->pos = store->hdr->head;
	store->hdr->head += need;
	store->hdr->entries++;
}

/* Drop the entries of one account (NULL: all); returns how many. */
static int64
store_drop(CacheStore *store, const char *account)
{
	CacheHeader *hdr = store->hdr;
	int64		dropped = 0;

	for (uint64 pos = hdr->tail; pos < hdr->head;)
	{
		CacheItem  *item = item_at(store, pos);

		if (item->live && (account == NULL || strcmp(item->account, account) == 0))
		{
			CacheIndexEntry *ie = hash_search(store->index, &item->key, HASH_FIND, NULL);

			if (ie && ie->pos == pos)
				hash_search(store->index, &item->key, HASH_REMOVE, NULL);
			item->live = false;
			hdr->entries--;
			dropped++;
		}
		pos += item->total;
	}
	if (account == NULL)
		hdr->head = hdr->tail = 0;
	/* an answer in flight since before this is not stored (cf_cache_put) */
	hdr->writes++;
	return dropped;
}

/* ---------------------------------------------------------------------
 * Which store, and its lock
 * ---------------------------------------------------------------------
 */

/*
 * Another backend wrote to an account (see cf_cache_invalidate_account):
 * without shared memory each backend drops its own cache.  A reset of the
 * invalidation queue (relid InvalidOid) may have lost such a message.
 */
static void
cache_relcache_callback(Datum arg, Oid relid)
{
	if (local_store.hdr && (relid == ForeignTableRelationId || relid == InvalidOid))
		(void) store_drop(&local_store, NULL);
}

static void
store_lock(CacheStore *store, LWLockMode mode)
{
	if (store->lock)
		LWLockAcquire(store->lock, mode);
}

static void
store_unlock(CacheStore *store)
{
	if (store->lock)
		LWLockRelease(store->lock);
}

/*
 * A server or user mapping changed (a key rotated or revoked, a URL
 * changed): nothing fetched under the old options is served again.  Every
 * backend gets the message: each empties its own store, or the shared one.
 */
static void
cache_options_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	CacheStore *store = shared_store.hdr ? &shared_store : &local_store;

	if (store->hdr == NULL)
		return;
	store_lock(store, LW_EXCLUSIVE);
	(void) store_drop(store, NULL);
	store_unlock(store);
}

static void
register_callback(void)
{
	if (cache_callback_registered)
		return;
	CacheRegisterRelcacheCallback(cache_relcache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(FOREIGNSERVEROID, cache_options_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(USERMAPPINGOID, cache_options_callback, (Datum) 0);
	cache_callback_registered = true;
}

/* The store to use, made on first use in a backend without preloading. */
static CacheStore *
get_store(bool create)
{
	if (shared_store.hdr)
	{
		register_callback();
		return &shared_store;
	}
	if (local_store.hdr == NULL && create)
	{
		MemoryContext cxt = TopMemoryContext;
		HASHCTL		ctl;

		register_callback();
		local_store.hdr = MemoryContextAllocZero(cxt, sizeof(CacheHeader));
		local_store.ring = MemoryContextAllocHuge(cxt, ring_bytes());
		local_store.hdr->size = ring_bytes();
		ctl.keysize = sizeof(CacheKey);
		ctl.entrysize = sizeof(CacheIndexEntry);
		local_store.index = hash_create("cfiam cache", index_entries(), &ctl,
										HASH_ELEM | HASH_BLOBS);
		local_store.lock = NULL;
	}
	return local_store.hdr ? &local_store : NULL;
}

/* "0123...": the account id of an API path, or "" */
static void
account_of(const char *path, char *account)
{
	const char *p = strstr(path, "/accounts/");

	account[0] = '\0';
	if (p && strspn(p + 10, "0123456789abcdef") >= CF_ID_LEN)
		strlcpy(account, p + 10, CF_ID_LEN + 1);
}

/* ---------------------------------------------------------------------
 * Interface
 * ---------------------------------------------------------------------
 */

/*
 * The cached answer for a user mapping and URL: true and *body, *body_len
 * (palloc'd) if there is one that has not expired.
 */
bool
cf_cache_get(Oid umid, uint64 credential, const char *url, char **body, size_t *body_len)
{
	CacheStore *store = get_store(false);
	CacheKey	key;
	CacheItem  *item;
	bool		hit = false;

	if (store == NULL || store->hdr->size == 0)
		return false;
	make_key(&key, umid, credential, url);
	store_lock(store, LW_SHARED);
	PG_TRY();
	{
		item = find_item(store, &key, url);
		if (item)
		{
			*body_len = item->body_len;
			*body = palloc(item->body_len + 1);
			memcpy(*body, (char *) item + sizeof(CacheItem) + item->url_len, item->body_len);
			(*body)[item->body_len] = '\0';
			hit = true;
		}
	}
	PG_FINALLY();
	{
		store_unlock(store);
	}
	PG_END_TRY();
	return hit;
}

/*
 * The count of writes and drops so far, noted before a GET is sent: its
 * answer is stored only if the count is the same when it arrives.
 */
uint64
cf_cache_epoch(void)
{
	CacheStore *store = get_store(false);
	uint64		writes;

	if (store == NULL)
		return 0;
	store_lock(store, LW_SHARED);
	writes = store->hdr->writes;
	store_unlock(store);
	return writes;
}

/*
 * Keep a successful answer for ttl_s seconds, unless something was written
 * or dropped since its request was sent (epoch: cf_cache_epoch then).
 */
void
cf_cache_put(Oid umid, uint64 credential, const char *url, const char *path,
			 const char *body, size_t body_len, int ttl_s, uint64 epoch)
{
	CacheStore *store;
	CacheKey	key;
	char		account[CF_ID_LEN + 1];

	if (ttl_s <= 0 || cache_size_kb <= 0)
		return;
	store = get_store(true);
	if (store == NULL || store->hdr->size == 0)
		return;
	make_key(&key, umid, credential, url);
	account_of(path, account);
	store_lock(store, LW_EXCLUSIVE);
	if (store->hdr->writes == epoch)
		store_put(store, &key, url, account, body, body_len, ttl_s);
	store_unlock(store);
}

/*
 * A write to the account of path was sent (or may have been): no backend
 * may answer from what was cached before it.
 */
void
cf_cache_invalidate_account(const char *path)
{
	char		account[CF_ID_LEN + 1];

	account_of(path, account);
	if (shared_store.hdr)
	{
		store_lock(&shared_store, LW_EXCLUSIVE);
		(void) store_drop(&shared_store, account[0] ? account : NULL);
		store_unlock(&shared_store);
		return;
	}
	if (local_store.hdr)
		(void) store_drop(&local_store, account[0] ? account : NULL);

	/*
	 * The other backends: a relcache message for pg_foreign_table, sent now
	 * rather than at commit (the write is done at Cloudflare whatever this
	 * transaction does).  Rebuilding that catalog's relcache entry is cheap.
	 */
	{
		SharedInvalidationMessage msg;

		msg.rc.id = SHAREDINVALRELCACHE_ID;
		msg.rc.dbId = MyDatabaseId;
		msg.rc.relId = ForeignTableRelationId;
		SendSharedInvalidMessages(&msg, 1);
	}
}

/* cfiam_cache_clear(): drop every entry, return how many there were. */
PG_FUNCTION_INFO_V1(cfiam_cache_clear);

Datum
cfiam_cache_clear(PG_FUNCTION_ARGS)
{
	CacheStore *store = get_store(false);
	int64		dropped = 0;

	if (store)
	{
		store_lock(store, LW_EXCLUSIVE);
		dropped = store_drop(store, NULL);
		store_unlock(store);
	}
	PG_RETURN_INT64(dropped);
}

/* ---------------------------------------------------------------------
 * Set-up: the GUC, and shared memory when preloaded
 * ---------------------------------------------------------------------
 */

static void
cache_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(CacheHeader)) + ring_bytes() +
						   hash_estimate_size(index_entries(), sizeof(CacheIndexEntry)));
	RequestNamedLWLockTranche("cfiam cache", 1);
}

static void
cache_shmem_startup(void)
{
	bool		found;
	HASHCTL		ctl;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared_store.hdr = ShmemInitStruct("cfiam cache", MAXALIGN(sizeof(CacheHeader)) + ring_bytes(),
									   &found);
	shared_store.ring = (char *) shared_store.hdr + MAXALIGN(sizeof(CacheHeader));
	if (!found)
	{
		memset(shared_store.hdr, 0, sizeof(CacheHeader));
		shared_store.hdr->size = ring_bytes();
	}
	ctl.keysize = sizeof(CacheKey);
	ctl.entrysize = sizeof(CacheIndexEntry);
	/* fixed: a full index evicts (store_put), never takes spare memory */
	shared_store.index = ShmemInitHash("cfiam cache index", index_entries(), index_entries(),
									   &ctl, HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
	shared_store.lock = &(GetNamedLWLockTranche("cfiam cache"))->lock;
	LWLockRelease(AddinShmemInitLock);
}

/* Called from _PG_init. */
void
cf_cache_init(void)
{
	DefineCustomIntVariable("cfiam.cache_size",
							"Memory for cached Cloudflare API answers (cache_ttl).",
							"Shared by every backend when cfiam is in shared_preload_libraries, "
							"else each backend's own. 0 turns the cache off.",
							&cache_size_kb,
							8 * 1024, 0, 1024 * 1024,
							/* PGC_POSTMASTER only when loaded at start */
							process_shared_preload_libraries_in_progress ?
							PGC_POSTMASTER : PGC_SIGHUP,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = cache_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = cache_shmem_startup;
}

/* Whether the cache is shared by every backend (for EXPLAIN and tests). */
bool
cf_cache_is_shared(void)
{
	return shared_store.hdr != NULL;
}
