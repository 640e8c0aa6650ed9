/*-------------------------------------------------------------------------
 *
 * limits.c
 *		What cfiam may send to the API: the request budget of a statement,
 *		the pace of request starts per API host, and each credential's
 *		rate-limit window.
 *
 * Cloudflare limits a client in two ways (see docs/dashboards.md):
 *	 - 200 requests per second per client IP: every backend of the database
 *	   server is that one client, so the pace (the server option
 *	   max_requests_per_second) is one token bucket per API host;
 *	 - 1,200 requests per 5 minutes per user, across every client and
 *	   account: each answer's Ratelimit header says what is left of the
 *	   window, and going over blocks every call of the user (HTTP 429, code
 *	   10100) until it resets.  cfiam keeps one window per credential (API
 *	   URL and key: roles sharing a mapping, or mappings sharing a key, count
 *	   once), reserves each request in it before it is sent (requests in
 *	   flight are counted), applies an answer only when its request was sent
 *	   after the one last applied, remembers a block until it ends, and
 *	   refuses a request that would spend the last cfiam.ratelimit_reserve.
 *	   While nothing is known of a window (no answer yet, or it has reset),
 *	   its first request goes alone and the others wait for its answer.
 *
 * With shared_preload_libraries = 'cfiam' the pace and the windows live in
 * shared memory and hold for every backend of the cluster; otherwise each
 * backend paces and counts for itself (cfiam_stats says which).  The shared
 * tables are bounded: PACE_SLOTS hosts and WINDOW_SLOTS credentials.  A new
 * one takes the place of the one unused longest that has no request in
 * flight (its window is then learnt again, first request alone); when every
 * slot has requests in flight the request is refused with an error.  No
 * request is ever sent unchecked.
 *
 * cfiam.max_requests bounds what one statement may send at all: a plan
 * (a listing's pages, a fan-out, a COMMIT's calls) is refused before its
 * first request when it needs more.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "cfiam.h"

#include "access/xact.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#define PACE_SLOTS 16
#define WINDOW_SLOTS 128
#define HOST_LEN 128

/* cfiam.max_requests; 0: no limit */
static int	max_requests = 1000;

/* cfiam.ratelimit_reserve: requests of a window left to other clients */
static int	ratelimit_reserve = 100;

typedef struct PaceSlot
{
	bool		used;
	char		host[HOST_LEN];
	TimestampTz next;			/* when the next start is due */
	TimestampTz last_used;
} PaceSlot;

typedef struct WindowSlot
{
	bool		used;
	uint64		key;			/* hash of API URL and credential */
	int			remaining;		/* as last heard, less what was sent since;
								 * -1: not known */
	TimestampTz reset_at;		/* when the window heard of resets */
	TimestampTz heard_sent_at;	/* send time of the answer last applied */
	bool		unreported;		/* answers carry no Ratelimit header */
	int			in_flight;		/* reserved, not answered yet */
	TimestampTz blocked_until;	/* a 429 block: nothing is sent before */
	TimestampTz last_used;
} WindowSlot;

typedef struct LimitsState
{
	LWLock	   *lock;			/* NULL in a backend's own state */
	PaceSlot	pace[PACE_SLOTS];
	WindowSlot	windows[WINDOW_SLOTS];
} LimitsState;

static LimitsState *shared_limits = NULL;
static LimitsState *local_limits = NULL;

/* what this backend holds reserved in each window, released if it errors */
typedef struct HeldWindow
{
	uint64		key;
	int			held;
} HeldWindow;
static HeldWindow held[WINDOW_SLOTS];
static int	nheld = 0;

/* the requests of the current statement (see budget_reset_if_new) */
static TimestampTz budget_statement = 0;
static int64 budget_spent = 0;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* ---------------------------------------------------------------------
 * The state: shared or this backend's
 * ---------------------------------------------------------------------
 */

static LimitsState *
limits_state(void)
{
	if (shared_limits)
		return shared_limits;
	if (local_limits == NULL)
		local_limits = MemoryContextAllocZero(TopMemoryContext, sizeof(LimitsState));
	return local_limits;
}

static LimitsState *
limits_lock(void)
{
	LimitsState *st = limits_state();

	if (st->lock)
		LWLockAcquire(st->lock, LW_EXCLUSIVE);
	return st;
}

static void
limits_unlock(LimitsState *st)
{
	if (st->lock)
		LWLockRelease(st->lock);
}

/* Is the pace and the windows every backend's (cfiam preloaded)? */
bool
cf_limits_shared(void)
{
	return shared_limits != NULL;
}

/* ---------------------------------------------------------------------
 * The request budget of a statement (cfiam.max_requests)
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
 * The statement is about to need `more` requests (known from total_count, a
 * fan-out, a COMMIT's plan, or 1 for the next request): refuse it if that
 * goes over cfiam.max_requests, before any of them is sent.
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

/* ---------------------------------------------------------------------
 * The pace of request starts, per API host
 * ---------------------------------------------------------------------
 */

/* The slot of a host, taken if need be (the caller holds the lock). */
static PaceSlot *
pace_slot(LimitsState *st, const char *host, TimestampTz now)
{
	PaceSlot   *oldest = NULL;

	for (int i = 0; i < PACE_SLOTS; i++)
	{
		PaceSlot   *p = &st->pace[i];

		if (p->used && strcmp(p->host, host) == 0)
			return p;
		if (oldest == NULL || !p->used || (oldest->used && p->last_used < oldest->last_used))
			oldest = p;
	}
	/* a host unused longest gives its place: its bucket was full anyway */
	memset(oldest, 0, sizeof(*oldest));
	oldest->used = true;
	strlcpy(oldest->host, host, sizeof(oldest->host));
	oldest->next = 0;
	oldest->last_used = now;
	return oldest;
}

/*
 * May a request to host start now?  A token bucket: `next` is when the next
 * start is due, and each start moves it on by one interval.  An idle while
 * lets it fall behind now by at most CF_START_BURST - 1 intervals, so that
 * at most CF_START_BURST start at once and no window of T seconds holds
 * more than CF_START_BURST + T x the rate.  True: this start is taken;
 * false: *wait_ms until one is due.  interval_us 0: not paced.
 */
bool
cf_pace_try(const char *host, long interval_us, long *wait_ms)
{
	TimestampTz now = GetCurrentTimestamp();
	LimitsState *st;
	PaceSlot   *p;
	TimestampTz floor;
	bool		ready;

	if (interval_us <= 0)
		return true;
	st = limits_lock();
	p = pace_slot(st, host, now);
	floor = now - (TimestampTz) (CF_START_BURST - 1) * interval_us;
	if (p->next < floor)
		p->next = floor;
	ready = p->next <= now;
	if (ready)
		p->next += interval_us;
	else
		*wait_ms = Max(1, (p->next - now + 999) / 1000);
	p->last_used = now;
	limits_unlock(st);
	return ready;
}

/*
 * Wait on the backend's latch, so that a cancel, a statement_timeout or a
 * termination ends the wait at once.
 */
void
cf_limits_sleep(long wait_ms)
{
	TimestampTz end = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), wait_ms);

	for (;;)
	{
		long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), end);

		CHECK_FOR_INTERRUPTS();
		if (left <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 left, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* Wait until a request to host may start, and take its start. */
void
cf_pace_wait(const char *host, long interval_us)
{
	long		wait_ms = 0;

	while (!cf_pace_try(host, interval_us, &wait_ms))
		cf_limits_sleep(wait_ms);
}

/* ---------------------------------------------------------------------
 * The rate-limit window of a credential
 * ---------------------------------------------------------------------
 */

static void
window_forget(WindowSlot *w)
{
	w->remaining = -1;
	w->reset_at = 0;
	w->heard_sent_at = 0;
	w->unreported = false;
}

/*
 * The window of a credential, taken if need be (the caller holds the lock):
 * a new one takes the place of the one unused longest with nothing in
 * flight; NULL when every slot has requests in flight.
 */
static WindowSlot *
window_slot(LimitsState *st, uint64 key, TimestampTz now)
{
	WindowSlot *victim = NULL;

	for (int i = 0; i < WINDOW_SLOTS; i++)
	{
		WindowSlot *w = &st->windows[i];

		if (w->used && w->key == key)
		{
			w->last_used = now;
			/* a window that has reset is not known any more */
			if (w->reset_at != 0 && w->reset_at <= now)
				window_forget(w);
			return w;
		}
		if (!w->used)
		{
			if (victim == NULL || victim->used)
				victim = w;
		}
		else if (w->in_flight == 0 && w->blocked_until <= now &&
				 (victim == NULL || (victim->used && w->last_used < victim->last_used)))
			victim = w;
	}
	if (victim == NULL)
		return NULL;
	memset(victim, 0, sizeof(*victim));
	victim->used = true;
	victim->key = key;
	victim->last_used = now;
	window_forget(victim);
	return victim;
}

/* Release whatever this backend still holds reserved (an error, an exit). */
static void
release_held(void)
{
	for (int i = 0; i < nheld; i++)
	{
		uint64		key = held[i].key;
		int			n = held[i].held;

		held[i].held = 0;
		if (n > 0)
			cf_window_release(key, n);
	}
	nheld = 0;
}

static void
limits_exit_callback(int code, Datum arg)
{
	if (shared_limits)
		release_held();
}

/* Note what this backend holds reserved in a window (n < 0: gave back). */
static void
held_add(uint64 key, int n)
{
	static bool exit_registered = false;

	/* in the backend: the postmaster's exit callbacks are not inherited */
	if (!exit_registered && shared_limits)
	{
		before_shmem_exit(limits_exit_callback, (Datum) 0);
		exit_registered = true;
	}
	for (int i = 0; i < nheld; i++)
		if (held[i].key == key)
		{
			held[i].held += n;
			return;
		}
	if (nheld < WINDOW_SLOTS)
	{
		held[nheld].key = key;
		held[nheld++].held = n;
	}
}

static void
refuse_full(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("too many Cloudflare credentials with requests in flight at once (%d)",
					WINDOW_SLOTS),
			 errdetail("cfiam counts each credential's rate-limit window and has no room for another one now."),
			 errhint("Try again when other sessions' requests have finished.")));
}

static void
refuse_blocked(TimestampTz until)
{
	ereport(ERROR,
			(errcode(CF_ERRCODE_API_RATE_LIMITED),
			 errmsg("Cloudflare API rate limit reached: every call of this credential is refused until the window resets"),
			 errdetail("Cloudflare answered HTTP 429; cfiam sends nothing with this credential until %s.",
					   timestamptz_to_str(until)),
			 errhint("Try again after %s.", timestamptz_to_str(until))));
}

static void
refuse_reserve(int remaining, int in_flight, int64 n, TimestampTz reset)
{
	ereport(ERROR,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("Cloudflare API rate limit nearly spent: %d request(s) left in this window, cfiam.ratelimit_reserve is %d",
					remaining, ratelimit_reserve),
			 errdetail("The statement needs " INT64_FORMAT " more and %d are in flight; the rest of the window is kept for other clients of the account.",
					   n, in_flight),
			 errhint("Try again after %s, when the window resets.",
					 timestamptz_to_str(reset))));
}

/*
 * Would n more requests with this credential be refused now?  Checked
 * before a plan's first request (nothing reserved: each request reserves
 * its own place when it is sent).
 */
void
cf_window_check(uint64 key, int64 n)
{
	TimestampTz now = GetCurrentTimestamp();
	LimitsState *st = limits_lock();
	WindowSlot *w = window_slot(st, key, now);
	WindowSlot	copy;

	if (w == NULL)
	{
		limits_unlock(st);
		refuse_full();
	}
	copy = *w;
	limits_unlock(st);
	if (copy.blocked_until > now)
		refuse_blocked(copy.blocked_until);
	if (copy.remaining >= 0 && copy.remaining - copy.in_flight - n < ratelimit_reserve)
		refuse_reserve(copy.remaining, copy.in_flight, n, copy.reset_at);
}

/*
 * Reserve n requests with this credential.  True: reserved (release each
 * with cf_window_answered or cf_window_release).  False: nothing is known
 * of the window and its first request is in flight: *wait_ms, then ask
 * again.  An ERROR when refused (a block, the reserve, no slot).
 */
bool
cf_window_try_take(uint64 key, int n, long *wait_ms)
{
	TimestampTz now = GetCurrentTimestamp();
	LimitsState *st = limits_lock();
	WindowSlot *w = window_slot(st, key, now);
	TimestampTz blocked = 0;
	bool		refused = false;
	WindowSlot	copy;

	if (w == NULL)
	{
		limits_unlock(st);
		refuse_full();
	}
	if (w->blocked_until > now)
		blocked = w->blocked_until;
	else if (w->remaining < 0 && !w->unreported && w->in_flight > 0)
	{
		/* the first request of an unknown window goes alone */
		limits_unlock(st);
		*wait_ms = 10;
		return false;
	}
	else if (w->remaining >= 0 && w->remaining - w->in_flight - n < ratelimit_reserve)
		refused = true;
	else
		w->in_flight += n;
	copy = *w;
	limits_unlock(st);

	if (blocked)
		refuse_blocked(blocked);
	if (refused)
		refuse_reserve(copy.remaining, copy.in_flight, n, copy.reset_at);
	held_add(key, n);
	return true;
}

/* Reserve n requests, waiting for the first of an unknown window. */
void
cf_window_take(uint64 key, int n)
{
	long		wait_ms = 0;

	while (!cf_window_try_take(key, n, &wait_ms))
		cf_limits_sleep(wait_ms);
}

/* n reserved requests will not be sent. */
void
cf_window_release(uint64 key, int n)
{
	LimitsState *st;

	if (n <= 0)
		return;
	st = limits_lock();
	for (int i = 0; i < WINDOW_SLOTS; i++)
	{
		WindowSlot *w = &st->windows[i];

		if (w->used && w->key == key)
			w->in_flight = Max(0, w->in_flight - n);
	}
	limits_unlock(st);
	held_add(key, -n);
}

/*
 * The answer of a request sent at sent_at came back (answered: with an HTTP
 * status; false: a transport failure, or abandoned in flight), its place in
 * the window is given back.  What the Ratelimit header says (heard:
 * remaining, reset_s) is applied unless it is more than what is held.
 * block_s > 0: Cloudflare blocks every call of the credential that long
 * (a 429 of the window, code 10100).
 */
void
cf_window_answered(uint64 key, TimestampTz sent_at, bool answered, bool heard,
				   int remaining, int reset_s, long block_s)
{
	TimestampTz now = GetCurrentTimestamp();
	LimitsState *st = limits_lock();

	for (int i = 0; i < WINDOW_SLOTS; i++)
	{
		WindowSlot *w = &st->windows[i];

		if (!w->used || w->key != key)
			continue;
		w->in_flight = Max(0, w->in_flight - 1);

		/*
		 * Within a window what is left only falls, so a figure higher than
		 * the one held is stale (an answer that overtook a later request's
		 * on another connection): it never raises the count.  A request
		 * without a figure (no header, a transport failure, abandoned in
		 * flight) may have reached the API: it is counted as spent.
		 */
		if (heard && (w->remaining < 0 || remaining <= w->remaining))
		{
			w->remaining = remaining;
			w->reset_at = TimestampTzPlusMilliseconds(now, (int64) Max(reset_s, 1) * 1000);
			w->heard_sent_at = Max(w->heard_sent_at, sent_at);
			w->unreported = false;
		}
		else if (!heard && answered && w->remaining < 0)
			w->unreported = true;	/* no header: nothing to count against */
		else if (!heard && w->remaining > 0)
			w->remaining--;
		if (block_s > 0)
			w->blocked_until = Max(w->blocked_until,
								   TimestampTzPlusMilliseconds(now, (int64) block_s * 1000));
	}
	limits_unlock(st);
	held_add(key, -1);
}

/* What is known of a credential's window, for cfiam_stats. */
bool
cf_window_known(uint64 key, int *remaining, TimestampTz *reset_at)
{
	LimitsState *st = limits_lock();
	bool		found = false;

	for (int i = 0; i < WINDOW_SLOTS; i++)
	{
		WindowSlot *w = &st->windows[i];

		if (w->used && w->key == key && w->remaining >= 0 &&
			w->reset_at > GetCurrentTimestamp())
		{
			*remaining = w->remaining;
			*reset_at = w->reset_at;
			found = true;
		}
	}
	limits_unlock(st);
	return found;
}

static void
limits_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PREPARE)
		release_held();
}

PG_FUNCTION_INFO_V1(cfiam_limits_reset);

/*
 * cfiam_limits_reset(): forget what is known of every credential's window
 * and any 429 block (after the account's limits changed at Cloudflare);
 * requests in flight keep their places.  Returns how many windows were
 * known.
 */
Datum
cfiam_limits_reset(PG_FUNCTION_ARGS)
{
	LimitsState *st = limits_lock();
	int64		known = 0;

	for (int i = 0; i < WINDOW_SLOTS; i++)
	{
		WindowSlot *w = &st->windows[i];

		if (!w->used)
			continue;
		known += (w->remaining >= 0 || w->blocked_until != 0) ? 1 : 0;
		window_forget(w);
		w->blocked_until = 0;
	}
	limits_unlock(st);
	PG_RETURN_INT64(known);
}

/* ---------------------------------------------------------------------
 * Set-up
 * ---------------------------------------------------------------------
 */

static void
limits_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(LimitsState)));
	RequestNamedLWLockTranche("cfiam limits", 1);
}

static void
limits_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared_limits = ShmemInitStruct("cfiam limits", sizeof(LimitsState), &found);
	if (!found)
		memset(shared_limits, 0, sizeof(LimitsState));
	shared_limits->lock = &(GetNamedLWLockTranche("cfiam limits"))->lock;
	LWLockRelease(AddinShmemInitLock);
}

/* Called from _PG_init. */
void
cf_limits_init(void)
{
	DefineCustomIntVariable("cfiam.max_requests",
							"Most Cloudflare API requests one statement may send.",
							"A statement that needs more is refused before the excess is sent. 0: no limit.",
							&max_requests,
							1000, 0, INT_MAX,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	/* it protects the account for every client: not a user's to lower */
	DefineCustomIntVariable("cfiam.ratelimit_reserve",
							"Requests of a credential's rate-limit window cfiam leaves to other clients.",
							"A request is refused rather than spend them, as Cloudflare's Ratelimit header tells.",
							&ratelimit_reserve,
							100, 0, 1000000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	RegisterXactCallback(limits_xact_callback, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = limits_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = limits_shmem_startup;
}
