/*-------------------------------------------------------------------------
 *
 * scan.c
 *		Running a foreign scan: the paging machinery behind the executor's
 *		scan callbacks, and what EXPLAIN shows of it.
 *
 * A scan is a sequence of "units", each one API call or one paged listing:
 * a GET per id, one listing, one listing per parent id, or (for group
 * members with no group given) a listing of groups followed by a listing of
 * each group's members.  A pager (CfPager) reads one listing: page 1 alone,
 * then the pages total_count announces, a batch at a time; or, paged by
 * cursor, each page with the cursor the page before it gave.  One decoded
 * page is held at a time, in a memory context reset when the next page
 * arrives.
 * The request counters feed EXPLAIN ANALYZE.
 *
 * Planning (cfiam_fdw.c) hands over a CfScanPlan in fdw_private; this file
 * reads it back and knows nothing of paths or costs.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "cfiam.h"

#include "access/sysattr.h"
#include "catalog/pg_type.h"
#include "commands/explain.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"

/*
 * A batch of GETs holds this many times max_concurrency requests: within a
 * batch a finished request is at once followed by the next, so the
 * connection stays busy, and only the batch's raw bodies are held.
 */
#define CF_BATCH_PER_SLOT 4

/*
 * A paged listing (or a single GET) being read.  Page 1 is fetched alone;
 * when it tells how many rows there are, the following pages are fetched
 * a batch at a time (a "window" of raw bodies, max_concurrency of them in
 * flight at once) and decoded one at a time, in page order.  A listing
 * paged by cursor learns where its next page starts only from the answer
 * before it: its pages come one at a time.
 */
typedef struct CfPager
{
	char	   *path;			/* path without query, in the query context */
	const char *query;			/* "?a=b&" prefix, or "?" (filters) */
	CfPaging	paging;
	int			per_page;
	int64		row_limit;		/* rows the executor may want, or -1 */
	bool		active;
	bool		done;			/* no further page to fetch */
	int			next_page;
	int64		seen;			/* rows received so far */
	int			last_page;		/* from page 1's total_count; 0: unknown */
	cJSON	   *cursor;			/* next row of the current page */
	bool		single;			/* cursor is a GET's result object */
	bool		read_all;		/* read every page before the first row */
	int64		total;			/* total_count first given, or -1 */
	char	  **prev_ids;		/* ids of the previous page, sorted */
	int			nprev;
	char	   *next_cursor;	/* cursor paging: where the next page starts
								 * (NULL on page 1), in listing_cxt */
	HTAB	   *cursors_seen;	/* cursor paging: every cursor answered so
								 * far, in listing_cxt */
	MemoryContext ids_cxt;		/* holds prev_ids */
	MemoryContext listing_cxt;	/* holds path and cursors: reset by
								 * pager_start */
	MemoryContext cxt;			/* holds the current page */
	MemoryContext window_cxt;	/* holds the window's raw bodies */
	CfHttpResponse *window;		/* pages window_first .. + window_n - 1 */
	char	  **window_paths;
	int			window_first;
	int			window_n;
	CfHttpResponse *first;		/* page 1 fetched ahead (fan-out), or NULL */
	char	   *first_path;
	const CfResource *count_as;	/* an unfiltered listing of this resource:
								 * page 1's total_count is its size */
} CfPager;

typedef struct CfScanState
{
	CfScanPlan *plan;
	const CfResource *res;
	char	   *account_id;		/* the account being read: the server's, or
								 * one of accounts[] */
	char	   *server_account; /* the server's (or table's) account_id, or
								 * NULL: every account the credential sees */
	bool		multi;			/* reads each of accounts[] in turn */
	bool		skip_forbidden; /* skip_forbidden_accounts */
	char	  **accounts;		/* the accounts this run reads */
	int			naccounts;
	int			account_pos;
	bool		account_skipped;	/* the current one answered 403: skipped */
	char	  **all_accounts;	/* GET /accounts, read once per scan */
	int			nall_accounts;
	bool		all_accounts_read;
	bool		listing_accounts;	/* GET /accounts: its errors are errors */
	CfPager		accounts_pg;	/* the listing of the accounts */
	MemoryContext acct_ahead_cxt;	/* page 1 of the next accounts' listings */
	CfHttpResponse *acct_ahead; /* accounts acct_ahead_first .. + n - 1 */
	char	  **acct_ahead_paths;
	bool	   *acct_ahead_forbidden;	/* answered 403, to be skipped */
	int			acct_ahead_first;
	int			acct_ahead_n;

	/*
	 * Pages 2 and on of those accounts' listings, fetched in the batch of
	 * an account before them (see pager_fill_window): per account of the
	 * range, its pages from 2, or none (acct_pages_n 0; -1: not to fetch
	 * ahead).
	 */
	CfHttpResponse **acct_pages;
	char	 ***acct_pages_paths;
	int		   *acct_pages_n;
	MemoryContext query_cxt;
	char	   *table_name;
	Oid			serverid;
	CfConnection *conn;
	List	   *fdw_exprs;		/* the plan's, for their types */
	List	   *expr_states;	/* of fdw_exprs */
	const CfColumn **attr_columns;
	AttInMetadata *attinmeta;

	/* per run (reset on rescan) */
	MemoryContext run_cxt;		/* values, ids and query of this run */
	bool		started;
	bool		no_rows;		/* a value the API cannot match: no call */
	char	  **ids;			/* ids to GET, or parent ids to list */
	int			nids;
	int			id_pos;
	bool		listed;			/* the single listing was started */
	char		parent_id[CF_ID_LEN + 1];
	CfPager		parents;		/* fan-out: the listing of parents */
	CfPager		rows;			/* the current unit */
	char	   *query;			/* filters, order, direction */
	int			per_page;
	CfHttpResponse *read_ahead; /* page 1 sent by cfiam_read_ahead(), or NULL */
	char	   *read_ahead_path;

	/*
	 * Units fetched ahead, a batch at a time: the GETs of the next
	 * ids, or page 1 of the next parents' listings.  Consumed in order.
	 */
	MemoryContext ahead_cxt;
	int			ahead_n;
	int			ahead_pos;
	char		(*ahead_ids)[CF_ID_LEN + 1];
	char	  **ahead_paths;
	CfHttpResponse *ahead;		/* NULL: not fetched ahead (one at a time) */

	int64		limit_hint;		/* rows a LIMIT may want, or -1 */
	bool		counted;		/* count(*) pushdown: the accounts were counted */
	int64	   *counts;			/* per account of accounts[]: -1 skipped */
	int			ncounts;
	int			count_pos;		/* the next row to return */
	bool		fanout_counting;	/* an unfiltered fan-out: add up the
									 * groups' totals (fanout_rows) */
	int64		fanout_rows;
	int			max_concurrency;
	int			batch_size;		/* GETs fetched ahead at most (1: none) */

	/*
	 * A pushed join (plan->join): the groups' columns and the members' are
	 * converted with their own tables' descriptions, then placed in the
	 * scan tuple (fdw_scan_tlist) by side and attno.
	 */
	CfJoinPlan *join;
	char	   *parent_query;	/* the groups' filters */
	const CfColumn **g_columns;
	AttInMetadata *g_attinmeta;
	TupleDesc	g_tupdesc;
	char	   *g_table_name;
	Datum	   *g_values;		/* the current group's, in unit_cxt */
	bool	   *g_nulls;
	TupleDesc	m_tupdesc;
	Datum	   *m_values;
	bool	   *m_nulls;
	int		   *tlist_sides;
	int		   *tlist_attnos;
	MemoryContext unit_cxt;		/* the current group's values */
	cJSON	  **ahead_objects;	/* the groups fetched ahead */
	cJSON	   *unit_object;	/* the current group */
	bool		unit_open;		/* a group's members are being read */
	int64		unit_rows;		/* rows this group gave so far */

	/* for EXPLAIN ANALYZE, over all runs */
	int64		requests;
	int64		pages;
	int64		connections;	/* new connections opened */
	const char *protocol;		/* of the latest answer ("HTTP/2"), or NULL */
	int64		retries;		/* requests sent again (see http.c) */
	int64		cache_hits;		/* answers the result cache gave */
	int64		accounts_read;	/* accounts whose calls were made (every
								 * account, or the ones named) */

	int			cache_ttl;		/* cache_ttl of the table; 0 for a modify */
	bool		fanout_checked; /* the fan-out's requests were budgeted */

	/*
	 * Deferred writes (deferred.c): a listing of group members shows them as
	 * COMMIT will leave them, pending removals gone and pending additions
	 * after each group's listed members; other scans say they do not.
	 */
	bool		overlay;		/* this run shows pending membership changes */
	bool		overlay_open;	/* a group's listing is being read */
	bool		overlay_adds_ready; /* overlay_adds computed for that group */
	List	   *overlay_listed; /* members the listing gave (in run_cxt) */
	List	   *overlay_adds;	/* pending additions still to show */
	List	   *new_group_values;	/* parent values that are not ids */
	List	   *new_groups;		/* groups created at COMMIT still to show */
	bool		listings_done;	/* Cloudflare's listings were all read */
	bool		deferred_noticed;	/* the NOTICE was given once */
} CfScanState;

/* A pager's memory contexts, children of the query's (see CfPager). */
static void
pager_init(CfPager *pg, MemoryContext parent)
{
	pg->listing_cxt = AllocSetContextCreate(parent, "cfiam listing", ALLOCSET_SMALL_SIZES);
	pg->cxt = AllocSetContextCreate(parent, "cfiam page", ALLOCSET_DEFAULT_SIZES);
	pg->ids_cxt = AllocSetContextCreate(parent, "cfiam page ids", ALLOCSET_SMALL_SIZES);
	pg->window_cxt = AllocSetContextCreate(parent, "cfiam page window", ALLOCSET_DEFAULT_SIZES);
}

/* ---------------------------------------------------------------------
 * Execution
 * ---------------------------------------------------------------------
 */

static void start_overlay(CfScanState *st);

/* The columns of one side that the query reads; the others stay NULL. */
static const CfColumn **
side_columns(Relation rel, const CfResource *res, List *used)
{
	int			natts;
	const CfColumn **cols = cf_map_columns(rel, res, &natts);

	for (int attno = 1; attno <= natts; attno++)
		if (!list_member_int(used, attno))
			cols[attno - 1] = NULL;
	return cols;
}

static List *
int_list(List *integers)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, integers)
		result = lappend_int(result, intVal(lfirst(lc)));
	return result;
}

/*
 * The range table indexes of a pushed join's two tables.  The plan's own
 * are those of the query level that planned it: a subquery's are offset
 * once its range table is merged into the statement's, as fs_relids is.
 */
static void
find_join_sides(EState *estate, ForeignScan *fsplan, CfJoinPlan *join)
{
	int			rti = -1;

	while ((rti = bms_next_member(fsplan->fs_relids, rti)) >= 0)
	{
		CfTableOptions opts;

		cf_get_table_options(exec_rt_fetch(rti, estate)->relid, &opts);
		if (opts.resource->parent)
			join->member_rti = rti;
		else
			join->group_rti = rti;
	}
}

/* Set up a pushed join: both tables' descriptions and the tuple mapping. */
static void
begin_join(ForeignScanState *node, CfScanState *st)
{
	EState	   *estate = node->ss.ps.state;
	CfJoinPlan *join = st->join;
	Relation	grel = ExecGetRangeTableRelation(estate, join->group_rti);
	Relation	mrel = ExecGetRangeTableRelation(estate, join->member_rti);
	int			n = list_length(join->tlist_sides);

	st->g_tupdesc = RelationGetDescr(grel);
	st->g_table_name = pstrdup(RelationGetRelationName(grel));
	st->g_columns = side_columns(grel, join->groups->resource,
								 int_list(join->groups->used_attnos));
	st->g_attinmeta = TupleDescGetAttInMetadata(st->g_tupdesc);
	st->g_values = palloc0(sizeof(Datum) * Max(st->g_tupdesc->natts, 1));
	st->g_nulls = palloc0(sizeof(bool) * Max(st->g_tupdesc->natts, 1));
	st->m_tupdesc = RelationGetDescr(mrel);
	st->attr_columns = side_columns(mrel, st->res, int_list(st->plan->used_attnos));
	st->attinmeta = TupleDescGetAttInMetadata(st->m_tupdesc);
	st->m_values = palloc0(sizeof(Datum) * Max(st->m_tupdesc->natts, 1));
	st->m_nulls = palloc0(sizeof(bool) * Max(st->m_tupdesc->natts, 1));
	st->tlist_sides = palloc(sizeof(int) * Max(n, 1));
	st->tlist_attnos = palloc(sizeof(int) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		st->tlist_sides[i] = intVal(list_nth(join->tlist_sides, i));
		st->tlist_attnos[i] = intVal(list_nth(join->tlist_attnos, i));
	}
	st->unit_cxt = AllocSetContextCreate(estate->es_query_cxt, "cfiam join group",
										 ALLOCSET_SMALL_SIZES);
}

/*
 * Read ahead: cfiam_read_ahead() sends, in one batch, the first request of
 * every scan of the calling query that has not started and whose first
 * request is known before it runs (one account, no parameters, a listing:
 * no GETs by id, no count).  A query reading several tables one after
 * another (effective_access) then waits for one answer instead of one per
 * table.  Only a query that calls it reads ahead: a table its plan never
 * reads (a join's inner side after an empty outer) would cost a request.
 * An entry goes with its query's memory, whatever ends the query.
 */
typedef struct ReadAheadScan
{
	ForeignScanState *node;
	EState	   *estate;
	MemoryContextCallback gone;
} ReadAheadScan;

static List *read_ahead_scans = NIL;	/* in TopMemoryContext */

static void start_scan(ForeignScanState *node);
static char *page_path(const char *path, const char *query, CfPaging paging,
					   int per_page, int page, const char *cursor);
static char *pager_page_path(CfPager *pg, int page);
static void count_answer(CfScanState *st, const CfHttpResponse *response, bool is_page);

static void
read_ahead_forget(void *arg)
{
	read_ahead_scans = list_delete_ptr(read_ahead_scans, arg);
}

static void
read_ahead_register(ForeignScanState *node, ForeignScan *fsplan)
{
	CfScanState *st = (CfScanState *) node->fdw_state;
	EState	   *estate = node->ss.ps.state;
	ReadAheadScan *entry;
	MemoryContext oldcxt;

	if (st->conn == NULL || st->multi || fsplan->fdw_exprs != NIL ||
		st->rows.read_all || st->plan->count_only || st->plan->id_expr >= 0 ||
		(st->res->parent != NULL && st->plan->parent_expr >= 0))
		return;
	entry = MemoryContextAllocZero(estate->es_query_cxt, sizeof(ReadAheadScan));
	entry->node = node;
	entry->estate = estate;
	entry->gone.func = read_ahead_forget;
	entry->gone.arg = entry;
	MemoryContextRegisterResetCallback(estate->es_query_cxt, &entry->gone);
	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	read_ahead_scans = lappend(read_ahead_scans, entry);
	MemoryContextSwitchTo(oldcxt);
}

/* The first request of a scan that start_scan has just started. */
static char *
first_request_path(CfScanState *st)
{
	const CfResource *res = st->res;

	if (res->parent != NULL)
		return page_path(cf_resource_path(res->parent, st->account_id, NULL, NULL),
						 st->parent_query, res->parent->paging,
						 res->parent->per_page_max, 1, NULL);
	return page_path(cf_resource_path(res, st->account_id, NULL, NULL),
					 st->query, res->paging, st->per_page, 1, NULL);
}

/* A listing starts: its page 1 is the one read ahead, if that was it. */
static void
take_read_ahead(CfScanState *st, CfPager *pg)
{
	char	   *path;

	if (st->read_ahead == NULL)
		return;
	path = pager_page_path(pg, 1);
	if (strcmp(path, st->read_ahead_path) == 0)
	{
		pg->first = st->read_ahead;
		pg->first_path = st->read_ahead_path;
	}
	st->read_ahead = NULL;
	pfree(path);
}

PG_FUNCTION_INFO_V1(cfiam_read_ahead);

/*
 * cfiam_read_ahead(): send now the first requests of the calling query's
 * scans (see above), a batch per connection, at most max_concurrency at a
 * time, within the pace and the budget like any batch.  Each answer waits
 * in its scan, counted in its EXPLAIN ANALYZE, and an error answer becomes
 * that scan's error when it reads it.  Returns the requests answered.
 */
Datum
cfiam_read_ahead(PG_FUNCTION_ARGS)
{
	EState	   *estate;
	ReadAheadScan **todo;
	int			ntodo = 0;
	int			answered = 0;
	ListCell   *lc;

	if (read_ahead_scans == NIL)
		PG_RETURN_INT32(0);

	/*
	 * The calling query's scans: the executor sets a function call up in
	 * its query's memory (an initplan's too), which is its EState's.
	 */
	estate = NULL;
	foreach(lc, read_ahead_scans)
	{
		ReadAheadScan *entry = lfirst(lc);

		if (entry->estate->es_query_cxt == fcinfo->flinfo->fn_mcxt)
			estate = entry->estate;
	}
	if (estate == NULL)
		PG_RETURN_INT32(0);
	todo = palloc(sizeof(ReadAheadScan *) * list_length(read_ahead_scans));
	foreach(lc, read_ahead_scans)
	{
		ReadAheadScan *entry = lfirst(lc);
		CfScanState *st = (CfScanState *) entry->node->fdw_state;

		if (entry->estate != estate || st->started)
			continue;
		start_scan(entry->node);
		if (!st->no_rows)
			todo[ntodo++] = entry;
	}

	/* one batch per connection and cache_ttl */
	for (int i = 0; i < ntodo; i++)
	{
		CfScanState *first;
		CfScanState **members;
		char	  **paths;
		CfHttpResponse *responses;
		int			n = 0;
		MemoryContext oldcxt;

		if (todo[i] == NULL)
			continue;
		first = (CfScanState *) todo[i]->node->fdw_state;
		oldcxt = MemoryContextSwitchTo(estate->es_query_cxt);
		members = palloc(sizeof(CfScanState *) * ntodo);
		paths = palloc(sizeof(char *) * ntodo);
		for (int j = i; j < ntodo; j++)
		{
			CfScanState *st;

			if (todo[j] == NULL)
				continue;
			st = (CfScanState *) todo[j]->node->fdw_state;
			if (st->conn != first->conn || st->cache_ttl != first->cache_ttl)
				continue;
			members[n] = st;
			paths[n++] = first_request_path(st);
			todo[j] = NULL;
		}
		responses = palloc0(sizeof(CfHttpResponse) * n);
		(void) cf_http_get_many(first->conn, paths, n, responses, first->cache_ttl);
		MemoryContextSwitchTo(oldcxt);
		for (int j = 0; j < n; j++)
		{
			if (responses[j].status == 0)
				continue;		/* stopped by another's error: sent again later */
			count_answer(members[j], &responses[j], true);
			members[j]->read_ahead = &responses[j];
			members[j]->read_ahead_path = paths[j];
			answered++;
		}
	}
	PG_RETURN_INT32(answered);
}

/*
 * BeginForeignScan: the scan state, its memory contexts and connection; the
 * first request waits for the first IterateForeignScan.
 */
void
cfBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	Relation	rel = node->ss.ss_currentRelation;
	CfScanState *st = palloc0(sizeof(CfScanState));
	CfTableOptions opts;
	Oid			relid;
	int			rtindex;
	int			natts;

	node->fdw_state = st;
	st->plan = cf_plan_from_list(fsplan->fdw_private);
	st->res = st->plan->resource;

	/*
	 * a pushed-down count(*) scans no relation of its own (scanrelid 0), nor
	 * does a pushed join, whose options are the members table's
	 */
	st->join = st->plan->join;
	if (st->join)
		find_join_sides(estate, fsplan, st->join);
	rtindex = fsplan->scan.scanrelid > 0 ? (int) fsplan->scan.scanrelid :
		st->join ? st->join->member_rti : bms_next_member(fsplan->fs_relids, -1);
	relid = exec_rt_fetch(rtindex, estate)->relid;
	cf_get_table_options(relid, &opts);
	st->account_id = st->server_account = opts.account_id;
	st->multi = (opts.account_id == NULL && !st->res->no_account);
	st->skip_forbidden = opts.skip_forbidden_accounts;
	st->query_cxt = estate->es_query_cxt;
	st->serverid = GetForeignTable(relid)->serverid;
	st->table_name = get_rel_name(relid);
	if (rel != NULL)
	{
		st->attr_columns = cf_map_columns(rel, st->res, &natts);
		/* convert only what the query reads */
		for (int attno = 1; attno <= natts; attno++)
		{
			ListCell   *lc;
			bool		used = false;

			foreach(lc, st->plan->used_attnos)
				used |= (intVal(lfirst(lc)) == attno);
			if (!used)
				st->attr_columns[attno - 1] = NULL;
		}
		st->attinmeta = TupleDescGetAttInMetadata(RelationGetDescr(rel));
	}
	if (st->join)
		begin_join(node, st);
	st->fdw_exprs = fsplan->fdw_exprs;
	st->expr_states = ExecInitExprList(fsplan->fdw_exprs, (PlanState *) node);

	pager_init(&st->rows, estate->es_query_cxt);
	pager_init(&st->parents, estate->es_query_cxt);
	pager_init(&st->accounts_pg, estate->es_query_cxt);
	st->acct_ahead_cxt = AllocSetContextCreate(estate->es_query_cxt, "cfiam accounts ahead",
											   ALLOCSET_DEFAULT_SIZES);
	st->run_cxt = AllocSetContextCreate(estate->es_query_cxt, "cfiam scan run",
										ALLOCSET_SMALL_SIZES);
	/* the rows an UPDATE or DELETE changes: see pager_fetch */
	st->rows.read_all = ExecRelationIsTargetRelation(estate, fsplan->scan.scanrelid);
	/* a change is decided on what Cloudflare holds now, never a cached answer */
	st->cache_ttl = st->rows.read_all ? 0 : opts.cache_ttl;
	st->ahead_cxt = AllocSetContextCreate(estate->es_query_cxt, "cfiam units ahead",
										  ALLOCSET_DEFAULT_SIZES);

	/* A plain EXPLAIN sends nothing and needs no connection. */
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	{
		ForeignTable *table = GetForeignTable(relid);
		ForeignServer *server = GetForeignServer(table->serverid);
		RangeTblEntry *rte = exec_rt_fetch(rtindex, estate);
		Oid			userid = OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
		UserMapping *user = GetUserMapping(userid, server->serverid);

		st->conn = cf_get_connection(server, user);
		st->max_concurrency = cf_http_max_concurrency(st->conn);
		st->batch_size = st->max_concurrency > 1 ?
			st->max_concurrency * CF_BATCH_PER_SLOT : 1;
	}
	read_ahead_register(node, fsplan);
}

/* Evaluate one of fdw_exprs; NULL result sets *isnull. */
static Datum
eval_expr(ForeignScanState *node, int index, bool *isnull)
{
	CfScanState *st = (CfScanState *) node->fdw_state;
	ExprState  *state = list_nth(st->expr_states, index);

	return ExecEvalExpr(state, node->ss.ps.ps_ExprContext, isnull);
}

/* Is the value one the API can take for this column? */
static bool
value_acceptable(const CfColumn *col, const char *value)
{
	switch (col->check)
	{
		case CF_CHECK_ID:
			return cf_is_id(value);
		case CF_CHECK_MEMBER_STATUS:
			return cf_is_member_status(value);
		case CF_CHECK_ENUM:
			return cf_is_one_of(col->allowed, value);
		case CF_CHECK_EMAIL:
			return cf_is_email(value);
		case CF_CHECK_NOT_EMPTY:
			return *value != '\0';
		case CF_CHECK_NONE:
			break;
	}
	return true;
}

/*
 * The id value(s) of a qual as a deduplicated list of valid ids: a value
 * that is not a 32-hex id can match nothing and never reaches a URL.
 */
static void
eval_ids(ForeignScanState *node, int index, bool is_array, char ***ids, int *nids,
		 List **not_ids)
{
	bool		isnull;
	Datum		value = eval_expr(node, index, &isnull);
	Datum	   *elems;
	bool	   *elem_nulls;
	int			nelems;
	int			n = 0;

	*ids = NULL;
	*nids = 0;
	if (isnull)
		return;
	if (!is_array)
	{
		char	   *id = TextDatumGetCString(value);

		if (cf_is_id(id))
		{
			*ids = palloc(sizeof(char *));
			(*ids)[0] = id;
			*nids = 1;
		}
		else if (not_ids)
			*not_ids = lappend(*not_ids, id);
		return;
	}

	{
		ArrayType  *arr = DatumGetArrayTypeP(value);
		int16		typlen;
		bool		typbyval;
		char		typalign;

		get_typlenbyvalalign(ARR_ELEMTYPE(arr), &typlen, &typbyval, &typalign);
		deconstruct_array(arr, ARR_ELEMTYPE(arr), typlen, typbyval, typalign,
						  &elems, &elem_nulls, &nelems);
	}
	*ids = palloc(sizeof(char *) * Max(nelems, 1));
	for (int i = 0; i < nelems; i++)
	{
		char	   *id;
		bool		dup = false;

		if (elem_nulls[i])
			continue;
		id = TextDatumGetCString(elems[i]);
		if (!cf_is_id(id))
		{
			if (not_ids)
				*not_ids = lappend(*not_ids, id);
			continue;
		}
		for (int j = 0; j < n && !dup; j++)
			dup = strcmp((*ids)[j], id) == 0;
		if (!dup)
			(*ids)[n++] = id;
	}
	*nids = n;
}

/* Forget everything of the previous run (a rescan starts afresh). */
static void
reset_run(CfScanState *st)
{
	st->started = true;
	st->no_rows = false;
	st->ids = NULL;
	st->nids = 0;
	st->id_pos = 0;
	st->listed = false;
	st->counted = false;
	st->fanout_counting = false;
	st->account_skipped = false;
	st->unit_open = false;
	st->unit_object = NULL;
	MemoryContextReset(st->acct_ahead_cxt);
	st->acct_ahead_n = 0;
	st->acct_pages = NULL;
	MemoryContextReset(st->ahead_cxt);
	st->ahead_n = st->ahead_pos = 0;
	st->rows.active = st->parents.active = false;
	MemoryContextReset(st->rows.cxt);
	MemoryContextReset(st->rows.window_cxt);
	st->rows.window_n = 0;
	MemoryContextReset(st->parents.cxt);
	MemoryContextReset(st->parents.window_cxt);
	st->parents.window_n = 0;
	MemoryContextReset(st->run_cxt);
	st->read_ahead = NULL;		/* a rescan asks again */
}

/*
 * The ids this run reads: GETs by id, or the parents whose listings it
 * reads.  An empty list (no valid id among the values) means no rows.
 */
static void
evaluate_ids(ForeignScanState *node, CfScanState *st)
{
	CfScanPlan *plan = st->plan;

	if (plan->id_expr >= 0)
	{
		eval_ids(node, plan->id_expr, plan->id_is_array, &st->ids, &st->nids, NULL);
		if (st->nids == 0)
			st->no_rows = true;
	}
	if (plan->parent_expr >= 0)
	{
		char	  **parents;
		int			nparents;

		/* the values that are not ids may name groups created at COMMIT */
		st->new_group_values = NIL;
		eval_ids(node, plan->parent_expr, plan->parent_is_array, &parents, &nparents,
				 &st->new_group_values);
		if (nparents == 0)
			st->no_rows = true;
		else if (plan->id_expr >= 0)
			strlcpy(st->parent_id, parents[0], sizeof(st->parent_id));
		else
		{
			st->ids = parents;
			st->nids = nparents;
		}
	}
}

/* Add the value of one bound of the time range to its side's day. */
static void
add_bound_value(ForeignScanState *node, CfScanState *st, int index, bool lower,
				CfBound *kind, DateADT *day)
{
	bool		isnull;
	Datum		value = eval_expr(node, index, &isnull);

	cf_add_bound(kind, day, value, isnull, exprType(list_nth(st->fdw_exprs, index)), lower);
}

/*
 * The time range of this run as the API's two dates, "since=D&before=D&"
 * (see CfTimeRange), a default for a side without a bound.  False when no
 * row can be within it (a NULL bound, an empty range): nothing is sent.
 */
static bool
append_time_range(ForeignScanState *node, CfScanState *st, CfScanPlan *plan,
				  StringInfo query)
{
	const CfTimeRange *range = plan->resource->time_range;
	CfBound		since_kind = CF_BOUND_NONE;
	CfBound		before_kind = CF_BOUND_NONE;
	DateADT		since = 0;
	DateADT		before = 0;
	DateADT		default_since;
	DateADT		default_before;
	ListCell   *lc;

	foreach(lc, plan->since_exprs)
		add_bound_value(node, st, intVal(lfirst(lc)), true, &since_kind, &since);
	foreach(lc, plan->before_exprs)
		add_bound_value(node, st, intVal(lfirst(lc)), false, &before_kind, &before);
	cf_range_defaults(range, GetCurrentTimestamp(), &default_since, &default_before);
	if (since_kind == CF_BOUND_NONE)
		since = default_since;
	if (before_kind == CF_BOUND_NONE)
		before = default_before;
	if (since_kind == CF_BOUND_EMPTY || before_kind == CF_BOUND_EMPTY || since >= before)
		return false;
	appendStringInfo(query, "%s=%s&%s=%s&", range->since_param, cf_format_day(since),
					 range->before_param, cf_format_day(before));
	return true;
}

/*
 * One filter's value as a query parameter, an array's once per element.  A
 * NULL matches nothing (= NULL, <> NULL, = ANY(NULL), LIKE NULL), nor does
 * <> ALL of an array holding a NULL.  Nor does a value the column can never
 * hold: an equality with it means no rows, an element of = ANY is left out,
 * and so is a value of <> (it excludes nothing).  False: no rows.
 */
static bool
append_filter(ForeignScanState *node, CfScanState *st, const CfResource *res,
			  CfFilter *f, StringInfo query)
{
	const CfColumn *col = cf_filter_column(res, f);
	Oid			type = exprType(list_nth(st->fdw_exprs, f->expr));
	bool		isnull;
	Datum		value = eval_expr(node, f->expr, &isnull);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			sent = 0;

	if (isnull)
		return false;
	if (f->fuzzy)
	{
		char	   *core = cf_like_core(TextDatumGetCString(value));

		/* nothing literal to search for: local only */
		if (core)
			appendStringInfo(query, "%s=%s&", f->param, cf_escape(core));
		return true;
	}
	if (!f->is_array)
	{
		char	   *str = cf_datum_text(value, type);

		if (col && !value_acceptable(col, str))
			return f->negated;
		appendStringInfo(query, "%s=%s&", f->param, cf_escape(str));
		return true;
	}
	cf_array_elements(value, &elems, &nulls, &n, &type);
	for (int i = 0; i < n; i++)
	{
		char	   *str;

		if (nulls[i])
		{
			if (f->negated)
				return false;
			continue;
		}
		str = cf_datum_text(elems[i], type);
		if (col && !value_acceptable(col, str))
			continue;
		appendStringInfo(query, "%s=%s&", f->param, cf_escape(str));
		sent++;
	}
	return f->negated || sent > 0;
}

/*
 * The listing's query string, "since=d&before=d&name=v&order=x&direction=y&"
 * (values escaped by libcurl).  A value that matches nothing means no rows
 * (st->no_rows): the listing is not read.
 */
static char *
build_plan_query(ForeignScanState *node, CfScanState *st, CfScanPlan *plan)
{
	const CfResource *res = plan->resource;
	StringInfoData query;
	ListCell   *lc;

	initStringInfo(&query);
	if (res->time_range && !append_time_range(node, st, plan, &query))
		st->no_rows = true;
	if (res->list_query)
		appendStringInfoString(&query, res->list_query);
	foreach(lc, plan->filters)
		if (!append_filter(node, st, res, lfirst(lc), &query))
			st->no_rows = true;
	if (plan->order_value && *plan->order_value)
		appendStringInfo(&query, "order=%s&", plan->order_value);
	if (plan->direction)
		appendStringInfo(&query, "direction=%s&", plan->direction);
	return query.data;
}

static char *
build_query(ForeignScanState *node, CfScanState *st)
{
	return build_plan_query(node, st, st->plan);
}

/* The rows a LIMIT (+ OFFSET) of this run may want, or -1. */
static int64
evaluate_limit(ForeignScanState *node, CfScanPlan *plan)
{
	bool		isnull;
	bool		offset_isnull = true;
	Datum		count;
	Datum		offset = (Datum) 0;

	if (plan->limit_expr < 0)
		return -1;
	count = eval_expr(node, plan->limit_expr, &isnull);
	if (plan->offset_expr >= 0)
		offset = eval_expr(node, plan->offset_expr, &offset_isnull);
	return cf_limit_hint(isnull, DatumGetInt64(count),
						 offset_isnull, DatumGetInt64(offset));
}

/*
 * A 403 from one of the accounts of a server over every account, with
 * skip_forbidden_accounts: a NOTICE (once per account), and the account
 * is read no further.  Otherwise the answer is decoded into its error as
 * usual (whose context names the account: see cfIterateForeignScan).
 */
static bool
account_forbidden(CfScanState *st, const CfHttpResponse *response)
{
	if (!st->multi || !st->skip_forbidden || response->status != 403 ||
		st->listing_accounts)
		return false;
	if (!st->account_skipped)
		ereport(NOTICE,
				(errmsg("skipping Cloudflare account %s: the credential has no access to it",
						st->account_id),
				 errdetail("The API answered HTTP 403; foreign table \"%s\" skips such accounts (skip_forbidden_accounts).",
						   st->table_name)));
	st->account_skipped = true;
	return true;
}

static void pager_start(CfPager *pg, const char *path, const char *query,
						CfPaging paging, int per_page, int64 row_limit);
static cJSON *pager_next(CfScanState *st, CfPager *pg);

/*
 * Every account the credential sees (GET /accounts, every page), read
 * once per scan: a rescan reads the same accounts.  With cache_ttl the
 * answers come from the cache like any other.
 */
static void
list_all_accounts(CfScanState *st)
{
	const CfResource *accounts = cf_resource_by_name("accounts");
	CfPager    *pg = &st->accounts_pg;
	int			cap = 16;
	cJSON	   *item;

	if (st->all_accounts_read)
		return;
	st->all_accounts = MemoryContextAlloc(st->query_cxt, sizeof(char *) * cap);
	st->nall_accounts = 0;
	pager_start(pg, cf_resource_path(accounts, NULL, NULL, NULL), "",
				accounts->paging, accounts->per_page_max, -1);
	pg->count_as = accounts;
	st->listing_accounts = true;
	while ((item = pager_next(st, pg)) != NULL)
	{
		const char *id = cf_json_get_string(item, "id");

		if (id == NULL || !cf_is_id(id))
			ereport(ERROR,
					(errcode(CF_ERRCODE_API_PROTOCOL),
					 errmsg("Cloudflare API returned an account without a valid id"),
					 errdetail("Request: GET %s.", pg->path)));
		if (st->nall_accounts == cap)
		{
			cap *= 2;
			st->all_accounts = repalloc(st->all_accounts, sizeof(char *) * cap);
		}
		st->all_accounts[st->nall_accounts++] = MemoryContextStrdup(st->query_cxt, id);
	}
	st->all_accounts_read = true;
	st->listing_accounts = false;
}

/*
 * The accounts this run reads: those account_id = v / = ANY(array) names
 * (a value that is no account id names none), or the server's, or every
 * account the credential sees.  A server with account_id reads its own
 * account only, whatever the values.  None: no rows, no call.
 */
static void
evaluate_accounts(ForeignScanState *node, CfScanState *st)
{
	const CfScanPlan *plan = cf_plan_accounts(st->plan);

	st->account_pos = 0;
	if (plan->account_expr >= 0)
	{
		char	  **ids;
		int			n;
		int			k = 0;

		eval_ids(node, plan->account_expr, plan->account_is_array, &ids, &n, NULL);
		for (int i = 0; i < n; i++)
			if (st->server_account == NULL || strcmp(ids[i], st->server_account) == 0)
				ids[k++] = ids[i];
		st->accounts = ids;
		st->naccounts = k;
	}
	else if (st->multi)
	{
		list_all_accounts(st);
		st->accounts = st->all_accounts;
		st->naccounts = st->nall_accounts;
	}
	else
	{
		st->accounts = palloc(sizeof(char *));
		st->accounts[0] = st->server_account;
		st->naccounts = 1;
	}
	if (st->naccounts == 0)
		st->no_rows = true;
	else
	{
		st->account_id = st->accounts[0];
		if (!st->plan->count_only)
			st->accounts_read++;	/* a count reads them all at once */
	}
}

/* Evaluate the plan's values for this run and build the query string. */
static void
start_scan(ForeignScanState *node)
{
	CfScanState *st = (CfScanState *) node->fdw_state;
	MemoryContext oldcxt;

	reset_run(st);

	/*
	 * Values live as long as the run; a nested loop starts a run per outer
	 * row, so they must not pile up in the query context.
	 */
	oldcxt = MemoryContextSwitchTo(st->run_cxt);
	evaluate_accounts(node, st);
	evaluate_ids(node, st);
	st->query = build_query(node, st);
	st->parent_query = st->join ? build_plan_query(node, st, st->join->groups) : "";
	st->limit_hint = evaluate_limit(node, st->plan);
	st->per_page = cf_plan_per_page(st->plan, st->limit_hint);
	MemoryContextSwitchTo(oldcxt);
	start_overlay(st);

	/* GETs by id, or a listing per parent: all known now, refused now */
	if (st->nids * st->naccounts > 1 && st->limit_hint < 0 && st->conn)
		cf_http_reserve(st->conn, (int64) st->nids * st->naccounts,
						st->naccounts > 1 ?
						psprintf("%d %s in each of %d accounts", st->nids,
								 st->plan->id_expr >= 0 ? "GETs by id" : "listings, one per parent",
								 st->naccounts) :
						psprintf("%d %s", st->nids,
								 st->plan->id_expr >= 0 ? "GETs by id" : "listings, one per parent"));
}

/* Start reading a listing (first page fetched lazily). */
static void
pager_start(CfPager *pg, const char *path, const char *query, CfPaging paging,
			int per_page, int64 row_limit)
{
	MemoryContextReset(pg->cxt);
	MemoryContextReset(pg->window_cxt);
	MemoryContextReset(pg->listing_cxt);
	pg->path = MemoryContextStrdup(pg->listing_cxt, path);
	pg->query = query;
	pg->paging = paging;
	pg->per_page = per_page;
	pg->row_limit = row_limit;
	pg->active = true;
	pg->done = false;
	pg->next_page = 1;
	pg->seen = 0;
	pg->last_page = 0;
	pg->cursor = NULL;
	pg->single = false;
	pg->window = NULL;
	pg->window_paths = NULL;
	pg->window_first = 0;
	pg->window_n = 0;
	pg->first = NULL;
	pg->first_path = NULL;
	pg->total = -1;
	pg->count_as = NULL;
	MemoryContextReset(pg->ids_cxt);
	pg->prev_ids = NULL;
	pg->nprev = 0;
	pg->next_cursor = NULL;
	pg->cursors_seen = NULL;
}

/*
 * The path and query of one page of a listing (or of the unpaged list): a
 * page number, or for cursor paging the cursor the page before gave (NULL
 * on page 1).
 */
static char *
page_path(const char *path, const char *query, CfPaging paging, int per_page,
		  int page, const char *cursor)
{
	switch (paging)
	{
		case CF_PAGING_PAGES:
			return psprintf("%s?%spage=%d&per_page=%d", path, query, page, per_page);
		case CF_PAGING_CURSOR:
			return psprintf("%s?%slimit=%d%s%s", path, query, per_page,
							cursor ? "&cursor=" : "", cursor ? cf_escape(cursor) : "");
		case CF_PAGING_NONE:
			break;
	}
	if (*query)
		return psprintf("%s?%.*s", path, (int) strlen(query) - 1, query);
	return pstrdup(path);
}

static char *
pager_page_path(CfPager *pg, int page)
{
	return page_path(pg->path, pg->query, pg->paging, pg->per_page, page,
					 pg->next_cursor);
}

/* JSON number member of result_info, or -1 */
static int64
result_info_number(cJSON *doc, const char *name)
{
	cJSON	   *info = cJSON_GetObjectItemCaseSensitive(doc, "result_info");
	cJSON	   *item = cJSON_IsObject(info) ? cJSON_GetObjectItemCaseSensitive(info, name) : NULL;

	/* a count beyond any real listing is a lie, and would overflow int64 */
	return cJSON_IsNumber(item) && item->valuedouble >= 0 && item->valuedouble < 1e15 ?
		(int64) item->valuedouble : -1;
}

/* Count one answer for EXPLAIN ANALYZE. */
static void
count_answer(CfScanState *st, const CfHttpResponse *response, bool is_page)
{
	if (response->cached)
		st->cache_hits++;
	else
		st->requests++;
	if (is_page)
		st->pages++;
	st->connections += response->connects;
	st->retries += response->retries;
	if (response->protocol)
		st->protocol = response->protocol;
}

/*
 * Send a batch of GETs and account for them.  When one answers an error
 * status, the others have been stopped; its answer is decoded here into
 * the error the user sees, as a sequential scan would have raised it.
 */
static void
run_batch(CfScanState *st, char **paths, int n, CfHttpResponse *responses,
		  bool is_list)
{
	int			failed = cf_http_get_many(st->conn, paths, n, responses, st->cache_ttl);

	for (int i = 0; i < n; i++)
	{
		if (responses[i].status == 0)
			continue;			/* stopped: not answered */
		count_answer(st, &responses[i], is_list);
	}
	if (failed >= 0 && !account_forbidden(st, &responses[failed]))
		(void) cf_decode_envelope(&responses[failed], "GET", paths[failed], NULL);
}

/*
 * Fetch the pages after page 1 that are known to exist, a batch of them,
 * into the pager's window.
 */
/*
 * The pages after page 1 of a later account's listing (its page 1 fetched
 * ahead, see account_page_one): how many, from page 1's total_count as
 * pager_advance reads it; 0 when page 1 was all, -1 when it cannot tell
 * (not answered, not a page of JSON): that account then goes as before.
 */
static int
account_more_pages(CfScanState *st, int i)
{
	CfHttpResponse *r = &st->acct_ahead[i];
	MemoryContext cxt;
	MemoryContext oldcxt;
	cJSON	   *doc;
	cJSON	   *result;
	int64		total = -1;
	int64		page_size = 0;
	int64		count = 0;

	if (st->acct_ahead_forbidden[i] || r->status != 200 || r->body == NULL)
		return -1;
	/* read again when its turn comes: the tree goes now */
	cxt = AllocSetContextCreate(CurrentMemoryContext, "cfiam page 1 peek",
								ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(cxt);
	doc = cf_json_parse(r->body, r->body_len, NULL);
	result = doc ? cJSON_GetObjectItemCaseSensitive(doc, "result") : NULL;
	if (cJSON_IsArray(result))
	{
		total = result_info_number(doc, "total_count");
		page_size = result_info_number(doc, "per_page");
		count = cJSON_GetArraySize(result);
	}
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(cxt);
	if (page_size <= 0)
		page_size = st->per_page;
	if (total < 0)
		return -1;
	if (count < page_size || total <= count)
		return 0;
	return (int) Min((total + page_size - 1) / page_size - 1, INT_MAX);
}

/*
 * Over several accounts, a batch of an account's pages is sent with the
 * pages of the accounts after it (those whose page 1 was fetched ahead)
 * while it has room: each account's turn then finds its pages there, and
 * the connection is not idle between one account's last answer and the
 * next account's requests.  A whole account or nothing; an error in
 * another account's page leaves that account to its turn (its error then
 * names it).  False: not over several accounts, or nothing to add.
 */
static bool
fill_window_with_next_accounts(CfScanState *st, CfPager *pg, int n)
{
	int			end = st->acct_ahead_first + st->acct_ahead_n;
	int			total = n;
	int			nacc = 0;
	int		   *acc;
	int		   *acc_pages;
	char	  **paths;
	CfHttpResponse *responses;
	int			failed;
	int			k;
	MemoryContext oldcxt;

	if (!st->multi || st->acct_pages == NULL || st->account_pos < st->acct_ahead_first ||
		st->account_pos >= end || pg->next_page != 2)
		return false;
	oldcxt = MemoryContextSwitchTo(st->acct_ahead_cxt);
	acc = palloc(sizeof(int) * st->acct_ahead_n);
	acc_pages = palloc(sizeof(int) * st->acct_ahead_n);
	for (int pos = st->account_pos + 1; pos < end; pos++)
	{
		int			i = pos - st->acct_ahead_first;
		int			more;

		if (st->acct_pages_n[i] != 0)
			continue;			/* fetched already, or not to be */
		more = account_more_pages(st, i);
		if (more <= 0)
		{
			st->acct_pages_n[i] = -1;
			continue;
		}
		if (total + more > st->batch_size)
			break;
		acc[nacc] = i;
		acc_pages[nacc++] = more;
		total += more;
	}
	if (nacc == 0)
	{
		MemoryContextSwitchTo(oldcxt);
		return false;
	}

	paths = palloc(sizeof(char *) * total);
	responses = palloc0(sizeof(CfHttpResponse) * total);
	for (k = 0; k < n; k++)
		paths[k] = pager_page_path(pg, pg->next_page + k);
	for (int a = 0; a < nacc; a++)
		for (int p = 0; p < acc_pages[a]; p++)
			paths[k++] = page_path(cf_resource_path(st->res,
													st->accounts[st->acct_ahead_first + acc[a]],
													NULL, NULL),
								   st->query, st->res->paging, pg->per_page, p + 2, NULL);

	failed = cf_http_get_many(st->conn, paths, total, responses, st->cache_ttl);
	for (int j = 0; j < total; j++)
		if (responses[j].status != 0)
			count_answer(st, &responses[j], true);
	if (failed >= 0 && failed < n)
	{
		/* this account's own error, as a batch of its pages reports it */
		if (!account_forbidden(st, &responses[failed]))
			(void) cf_decode_envelope(&responses[failed], "GET", paths[failed], NULL);
	}

	/* the other accounts' pages wait for their turns; one stopped or failed goes then */
	k = n;
	for (int a = 0; a < nacc; a++)
	{
		bool		complete = (failed < 0);

		for (int p = 0; p < acc_pages[a]; p++)
			complete &= (responses[k + p].status >= 200 && responses[k + p].status < 300);
		if (complete)
		{
			st->acct_pages[acc[a]] = &responses[k];
			st->acct_pages_paths[acc[a]] = &paths[k];
			st->acct_pages_n[acc[a]] = acc_pages[a];
		}
		else
			st->acct_pages_n[acc[a]] = -1;
		k += acc_pages[a];
	}
	MemoryContextSwitchTo(oldcxt);

	/* this account's own pages: all answered, or a batch of them again */
	for (int j = 0; j < n; j++)
		if (responses[j].status == 0)
			return false;
	pg->window = responses;
	pg->window_paths = paths;
	pg->window_first = pg->next_page;
	pg->window_n = n;
	return true;
}

static void
pager_fill_window(CfScanState *st, CfPager *pg)
{
	MemoryContext oldcxt;
	int			n = Min(st->batch_size, pg->last_page - pg->next_page + 1);

	MemoryContextReset(pg->window_cxt);
	pg->window_n = 0;
	if (pg == &st->rows && fill_window_with_next_accounts(st, pg, n))
		return;
	oldcxt = MemoryContextSwitchTo(pg->window_cxt);
	pg->window_paths = palloc(sizeof(char *) * n);
	pg->window = palloc0(sizeof(CfHttpResponse) * n);
	for (int i = 0; i < n; i++)
		pg->window_paths[i] = pager_page_path(pg, pg->next_page + i);
	run_batch(st, pg->window_paths, n, pg->window, true);
	pg->window_first = pg->next_page;
	pg->window_n = n;
	MemoryContextSwitchTo(oldcxt);
}

static int
compare_ids(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * Drop the rows of a page that the previous page already gave: a listing
 * that shifted between two calls (or an API that repeats itself) must not
 * hand the same row over twice.  A page made only of the previous page's
 * rows is an error: rows were lost somewhere, and nothing tells which.
 * Then remember this page's ids for the next page.
 */
static void
drop_repeated_rows(CfPager *pg, cJSON *rows, const char *path_and_query)
{
	cJSON	   *item;
	cJSON	   *next;
	int			total = 0;
	int			dropped = 0;
	int			n = 0;
	char	  **ids;

	for (item = rows->child; item; item = next)
	{
		const char *id = cf_json_get_string(item, "id");

		next = item->next;
		total++;
		if (id && pg->nprev > 0 &&
			bsearch(&id, pg->prev_ids, pg->nprev, sizeof(char *), compare_ids))
		{
			cJSON_DetachItemViaPointer(rows, item);
			dropped++;
		}
	}
	if (dropped > 0 && dropped == total)
		ereport(ERROR,
				(errcode(CF_ERRCODE_LISTING_CHANGED),
				 errmsg("Cloudflare API answered page %d with the rows of the page before it",
						pg->next_page),
				 errdetail("Request: GET %s.", path_and_query),
				 errhint("The listing may have changed while it was read; run the query again.")));

	MemoryContextReset(pg->ids_cxt);
	ids = MemoryContextAlloc(pg->ids_cxt, sizeof(char *) * Max(total, 1));
	cJSON_ArrayForEach(item, rows)
	{
		const char *id = cf_json_get_string(item, "id");

		if (id)
			ids[n++] = MemoryContextStrdup(pg->ids_cxt, id);
	}
	qsort(ids, n, sizeof(char *), compare_ids);
	pg->prev_ids = ids;
	pg->nprev = n;
}

/*
 * The answer for the pager's next page: page 1 fetched ahead by a fan-out,
 * a page of the current batch (fetching the next batch when the pages
 * known to exist go past it), or a GET of that page alone.
 */
static CfHttpResponse *
page_response(CfScanState *st, CfPager *pg, CfHttpResponse *local,
			  char **path_and_query)
{
	if (pg->paging == CF_PAGING_PAGES && pg->next_page > 1 &&
		pg->next_page <= pg->last_page &&
		st->max_concurrency > 1 &&
		!(pg->window_n > 0 && pg->next_page < pg->window_first + pg->window_n))
		pager_fill_window(st, pg);

	if (pg->next_page == 1 && pg->first)
	{
		CfHttpResponse *response = pg->first;

		*path_and_query = pg->first_path;
		pg->first = NULL;
		return response;
	}
	if (pg->window_n > 0 && pg->next_page >= pg->window_first &&
		pg->next_page < pg->window_first + pg->window_n)
	{
		*path_and_query = pg->window_paths[pg->next_page - pg->window_first];
		return &pg->window[pg->next_page - pg->window_first];
	}
	*path_and_query = pager_page_path(pg, pg->next_page);
	cf_http_get(st->conn, *path_and_query, st->cache_ttl, local);
	count_answer(st, local, true);
	return local;
}

/*
 * After a page of `count` rows: learn from page 1's total_count how many
 * pages there are, and decide whether paging is done.  Paging stops on an
 * empty or short page, or once total_count rows have been read.
 *
 * total_count is trusted only while it is consistent: a page holding more
 * rows than it claims exist is ignored (paging then goes on to a short
 * page), and a count that changes between pages means the listing changed
 * under the scan: rows may have moved between pages unseen.
 */
static void
pager_advance(CfPager *pg, cJSON *doc, int64 count, const char *path_and_query)
{
	int64		total = result_info_number(doc, "total_count");
	int64		page_size = result_info_number(doc, "per_page");

	if (page_size <= 0)
		page_size = pg->per_page;
	if (total >= 0 && pg->seen > total)
		total = -1;
	if (total >= 0 && pg->total >= 0 && total != pg->total)
		ereport(ERROR,
				(errcode(CF_ERRCODE_LISTING_CHANGED),
				 errmsg("Cloudflare listing changed while it was read"),
				 errdetail("total_count was " INT64_FORMAT " and is " INT64_FORMAT " on page %d of GET %s.",
						   pg->total, total, pg->next_page, path_and_query),
				 errhint("Run the query again.")));
	if (total >= 0 && pg->total < 0 && pg->next_page == 1)
		pg->total = total;
	if (pg->next_page == 1 && pg->paging == CF_PAGING_PAGES && total >= 0 && page_size > 0)
	{
		int64		rows = total;

		if (pg->row_limit >= 0 && pg->row_limit < rows)
			rows = pg->row_limit;
		pg->last_page = (int) Min((rows + page_size - 1) / page_size, INT_MAX);
	}
	pg->next_page++;
	if (pg->paging != CF_PAGING_PAGES || count == 0 || count < page_size ||
		(total >= 0 && pg->seen >= total))
		pg->done = true;
}

/* An entry of CfPager.cursors_seen: a cursor, by its hash. */
typedef struct CfCursorSeen
{
	uint64		hash;
	char	   *cursor;
} CfCursorSeen;

/* Was this cursor answered before in the listing?  Remember it if not. */
static bool
cursor_seen_before(CfPager *pg, const char *cursor)
{
	uint64		hash = hash_bytes_extended((const unsigned char *) cursor,
										   (int) strlen(cursor), 0);
	CfCursorSeen *entry;
	bool		found;

	if (pg->cursors_seen == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(uint64);
		ctl.entrysize = sizeof(CfCursorSeen);
		ctl.hcxt = pg->listing_cxt;
		pg->cursors_seen = hash_create("cfiam cursors seen", 64, &ctl,
									   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	entry = hash_search(pg->cursors_seen, &hash, HASH_ENTER, &found);
	if (!found)
	{
		entry->cursor = MemoryContextStrdup(pg->listing_cxt, cursor);
		return false;
	}
	/* two cursors of one 64-bit hash: too rare to be worth a list */
	return strcmp(entry->cursor, cursor) == 0;
}

/*
 * After a page of a listing paged by cursor: its result_info.cursor is
 * where the next page starts.  Nothing tells how many pages there are
 * (result_info.count is the rows of this answer, as a string), so paging
 * stops only on an empty page or an answer without a cursor (or with an
 * empty one).  A cursor given before in the listing would have the scan
 * read the same pages over and over: that answer is an error.
 */
static void
cursor_advance(CfPager *pg, cJSON *doc, int64 count, const char *path_and_query)
{
	cJSON	   *info = cJSON_GetObjectItemCaseSensitive(doc, "result_info");
	cJSON	   *cursor = cJSON_IsObject(info) ?
		cJSON_GetObjectItemCaseSensitive(info, "cursor") : NULL;
	int			page = pg->next_page++;

	if (count == 0 || cursor == NULL || cJSON_IsNull(cursor) ||
		(cJSON_IsString(cursor) && cursor->valuestring[0] == '\0'))
	{
		pg->done = true;
		return;
	}
	if (!cJSON_IsString(cursor))
		ereport(ERROR,
				(errcode(CF_ERRCODE_API_PROTOCOL),
				 errmsg("Cloudflare API answer has a \"result_info.cursor\" that is not a string"),
				 errdetail("Request: GET %s.", path_and_query)));
	if (cursor_seen_before(pg, cursor->valuestring))
		ereport(ERROR,
				(errcode(CF_ERRCODE_API_PROTOCOL),
				 errmsg("Cloudflare API answered page %d of a listing with a cursor it had already given",
						page),
				 errdetail("Following it would read the same pages again and again. Request: GET %s; result_info.cursor \"%.100s\".",
						   path_and_query, cf_escape(cursor->valuestring))));
	pg->next_cursor = MemoryContextStrdup(pg->listing_cxt, cursor->valuestring);
}

/*
 * Page 1 of a listing has been read: what it tells of a resource's size is
 * remembered for the planner (estimate.c).  A listing's size is its
 * total_count, or the rows of page 1 when that was the only page.
 */
static void
note_page_one(CfScanState *st, CfPager *pg)
{
	int64		rows = pg->total >= 0 ? pg->total : (pg->done ? pg->seen : -1);

	if (pg->count_as && rows >= 0)
		cf_remember_total(st->serverid, pg->count_as->no_account ? NULL : st->account_id,
						  pg->count_as, (double) rows);
	if (pg == &st->rows && st->fanout_counting)
	{
		if (rows >= 0)
			st->fanout_rows += rows;
		else
			st->fanout_counting = false;
	}
}

/*
 * Fetch the next page of a listing into the current memory context and
 * return its rows (an array, or NULL for none).  Paging stops on an empty or
 * null result, on a short page, or once total_count rows have been read, so
 * a listing of N rows costs ceil(N / per_page) calls and not one more.
 *
 * Once page 1 has given total_count, the pages known to exist are fetched
 * a window at a time (see pager_fill_window) but still decoded here one at
 * a time, in page order: only the window's raw bodies and one decoded page
 * are held.  A LIMIT caps the pages known to be wanted; past them (the
 * executor wanted more after all) pages are fetched one by one as before.
 */
static cJSON *
fetch_page(CfScanState *st, CfPager *pg)
{
	char	   *path_and_query;
	CfHttpResponse local;
	CfHttpResponse *response;
	cJSON	   *doc;
	cJSON	   *result;
	int64		count;

	if (st->account_skipped)
	{
		pg->done = true;
		return NULL;
	}
	response = page_response(st, pg, &local, &path_and_query);
	if (st->account_skipped || account_forbidden(st, response))
	{
		pg->done = true;
		return NULL;
	}
	doc = cf_decode_envelope(response, "GET", path_and_query, NULL);
	result = cf_list_result(doc, path_and_query);
	count = result ? cJSON_GetArraySize(result) : 0;

	/* the raw body is parsed: a window's copy is no longer needed */
	if (response != &local && response->body)
	{
		pfree(response->body);
		response->body = NULL;
	}

	if (result && pg->paging != CF_PAGING_NONE)
		drop_repeated_rows(pg, result, path_and_query);
	pg->seen += count;
	if (pg->paging == CF_PAGING_CURSOR)
		cursor_advance(pg, doc, count, path_and_query);
	else
		pager_advance(pg, doc, count, path_and_query);
	/* an account's rows past LIMIT cannot be among the first of all */
	if (st->plan->limit_per_account && pg == &st->rows && pg->row_limit >= 0 &&
		pg->seen >= pg->row_limit)
		pg->done = true;
	if (pg->next_page == 2)
	{
		note_page_one(st, pg);
		/* the pages to come are refused now, not after some are spent */
		if (pg->last_page > 1 && !pg->done)
			cf_http_reserve(st->conn, pg->last_page - 1,
							psprintf("GET %.200s lists " INT64_FORMAT " rows: %d more pages",
									 path_and_query, pg->total, pg->last_page - 1));
	}
	return result;
}

/*
 * Read the next page of a listing, replacing the previous one.
 *
 * A listing that feeds an UPDATE or DELETE is read whole first: the rows it
 * changes as it goes would shift the later pages under it (deleting the rows
 * of page 1 pulls page 2's rows forward, and they would be skipped).
 */
static void
pager_fetch(CfScanState *st, CfPager *pg)
{
	MemoryContext oldcxt;
	cJSON	   *rows;

	MemoryContextReset(pg->cxt);
	oldcxt = MemoryContextSwitchTo(pg->cxt);

	rows = fetch_page(st, pg);
	while (pg->read_all && !pg->done)
	{
		cJSON	   *more = fetch_page(st, pg);
		cJSON	   *item;

		CHECK_FOR_INTERRUPTS();
		while (more && (item = more->child) != NULL)
		{
			cJSON_DetachItemViaPointer(more, item);
			if (rows == NULL)
				rows = cf_json_array();
			cJSON_AddItemToArray(rows, item);
		}
	}
	pg->cursor = rows ? rows->child : NULL;

	MemoryContextSwitchTo(oldcxt);
}

/* The next row object of a listing or GET, or NULL when it is exhausted. */
static cJSON *
pager_next(CfScanState *st, CfPager *pg)
{
	for (;;)
	{
		if (pg->cursor)
		{
			cJSON	   *item = pg->cursor;

			pg->cursor = pg->single ? NULL : item->next;
			return item;
		}
		if (pg->done)
		{
			pg->active = false;
			return NULL;
		}
		CHECK_FOR_INTERRUPTS();
		pager_fetch(st, pg);
	}
}

/*
 * Put one object fetched by id into the row pager; false on 404 (no such
 * row).  The answer is the one fetched ahead, or NULL: GET it now.
 */
static bool
fetch_by_id(CfScanState *st, const char *id, CfHttpResponse *ahead)
{
	CfPager    *pg = &st->rows;
	char	   *path = cf_resource_path(st->res, st->account_id, st->parent_id, id);
	CfHttpResponse local;
	CfHttpResponse *response = ahead;
	cJSON	   *doc;
	cJSON	   *result;
	bool		not_found;
	MemoryContext oldcxt;

	pager_start(pg, path, "", CF_PAGING_NONE, 0, -1);
	if (st->account_skipped)
	{
		pg->done = true;
		return false;
	}
	oldcxt = MemoryContextSwitchTo(pg->cxt);
	if (response == NULL)
	{
		cf_http_get(st->conn, pg->path, st->cache_ttl, &local);
		count_answer(st, &local, false);
		response = &local;
	}
	if (account_forbidden(st, response))
	{
		pg->done = true;
		MemoryContextSwitchTo(oldcxt);
		return false;
	}
	doc = cf_decode_envelope(response, "GET", pg->path, &not_found);
	if (ahead && ahead->body)
	{
		pfree(ahead->body);
		ahead->body = NULL;
	}
	pg->done = true;
	if (!not_found)
	{
		result = cf_envelope_result(doc, "GET", pg->path);
		if (!cJSON_IsObject(result))
			ereport(ERROR,
					(errcode(CF_ERRCODE_API_PROTOCOL),
					 errmsg("Cloudflare API answer has a \"result\" that is not an object"),
					 errdetail("Request: GET %s.", pg->path)));
		pg->cursor = result;
		pg->single = true;
	}
	MemoryContextSwitchTo(oldcxt);
	return !not_found;
}

/*
 * Take up to a batch of next ids (GET by id) or parent ids (their listings)
 * into the "ahead" window; with more than one, fetch them all at once (the
 * GETs, or page 1 of each listing, max_concurrency in flight).  Under a
 * LIMIT only max_concurrency are taken: the rows wanted may come from the
 * first few.  Returns how many ids.
 */
static int
fill_ahead(CfScanState *st)
{
	const CfResource *res = st->res;
	bool		by_id = st->plan->id_expr >= 0;
	MemoryContext oldcxt;
	int			n = 0;
	int			want = st->limit_hint >= 0 ? st->max_concurrency : st->batch_size;

	MemoryContextReset(st->ahead_cxt);
	st->ahead_n = st->ahead_pos = 0;
	st->ahead = NULL;
	oldcxt = MemoryContextSwitchTo(st->ahead_cxt);
	st->ahead_ids = palloc(sizeof(*st->ahead_ids) * want);
	st->ahead_objects = st->join ? palloc0(sizeof(cJSON *) * want) : NULL;
	while (n < want)
	{
		const char *id;

		if (by_id || st->plan->parent_expr >= 0)
		{
			if (st->id_pos >= st->nids)
				break;
			id = st->ids[st->id_pos++];
		}
		else
		{
			/* every parent: ids from the listing of parents */
			cJSON	   *parent;

			MemoryContextSwitchTo(oldcxt);
			parent = pager_next(st, &st->parents);
			MemoryContextSwitchTo(st->ahead_cxt);
			if (parent == NULL)
				break;
			/* one listing per parent: known once the parents' count is */
			if (!st->fanout_checked && st->parents.total >= 0)
			{
				cf_http_reserve(st->conn, st->parents.total,
								psprintf("a listing of %s for each of " INT64_FORMAT " %s",
										 res->name, st->parents.total, res->parent->name));
				st->fanout_checked = true;
			}
			id = cf_json_get_string(parent, "id");
			if (id == NULL || !cf_is_id(id))
				ereport(ERROR,
						(errcode(CF_ERRCODE_API_PROTOCOL),
						 errmsg("Cloudflare API returned a %s without a valid id",
								res->parent->name)));
			/* a join's group outlives its page: keep a copy, with the batch */
			if (st->join)
				st->ahead_objects[n] = cf_json_copy(parent);
		}
		strlcpy(st->ahead_ids[n++], id, CF_ID_LEN + 1);
	}
	st->ahead_n = n;

	if (n > 1)
	{
		st->ahead_paths = palloc(sizeof(char *) * n);
		st->ahead = palloc0(sizeof(CfHttpResponse) * n);
		for (int i = 0; i < n; i++)
		{
			/* an item of this table, or the listing of a parent's items */
			st->ahead_paths[i] = by_id ?
				cf_resource_path(res, st->account_id, st->parent_id, st->ahead_ids[i]) :
				page_path(cf_resource_path(res, st->account_id, st->ahead_ids[i], NULL),
						  st->query, res->paging, st->per_page, 1, NULL);
		}
		run_batch(st, st->ahead_paths, n, st->ahead, !by_id);
	}
	MemoryContextSwitchTo(oldcxt);
	return n;
}

/*
 * A listing over several accounts: page 1 of the next accounts' listings,
 * a batch of them, is fetched at once (max_concurrency in flight, within
 * the pace and the budget), as a fan-out does for the groups; each
 * account's other pages follow when its turn comes.  Not under a LIMIT
 * (its rows may all come from the first account), nor for an UPDATE or
 * DELETE (read whole, one account after the other).  A 403 that
 * skip_forbidden_accounts skips is kept for its account's turn; another
 * error ends the scan, naming its account.
 */
static void
account_page_one(CfScanState *st)
{
	const CfResource *res = st->res;
	int			pos = st->account_pos;
	int			i;

	if (!st->multi || st->naccounts < 2 ||
		(st->limit_hint >= 0 && !st->plan->limit_per_account) || st->batch_size < 2 ||
		st->rows.read_all || st->conn == NULL)
		return;
	if (pos < st->acct_ahead_first || pos >= st->acct_ahead_first + st->acct_ahead_n)
	{
		int			n = Min(st->batch_size, st->naccounts - pos);
		int			failed;
		MemoryContext oldcxt;

		if (n < 2)
			return;
		MemoryContextReset(st->acct_ahead_cxt);
		oldcxt = MemoryContextSwitchTo(st->acct_ahead_cxt);
		st->acct_ahead = palloc0(sizeof(CfHttpResponse) * n);
		st->acct_ahead_paths = palloc(sizeof(char *) * n);
		st->acct_ahead_forbidden = palloc0(sizeof(bool) * n);
		st->acct_pages = palloc0(sizeof(CfHttpResponse *) * n);
		st->acct_pages_paths = palloc0(sizeof(char **) * n);
		st->acct_pages_n = palloc0(sizeof(int) * n);
		for (i = 0; i < n; i++)
			st->acct_ahead_paths[i] =
				page_path(cf_resource_path(res, st->accounts[pos + i], NULL, NULL),
						  st->query, res->paging, st->per_page, 1, NULL);
		st->acct_ahead_first = pos;
		st->acct_ahead_n = n;
		failed = cf_http_get_many(st->conn, st->acct_ahead_paths, n, st->acct_ahead,
								  st->cache_ttl);
		for (i = 0; i < n; i++)
			if (st->acct_ahead[i].status != 0)
				count_answer(st, &st->acct_ahead[i], true);
		if (failed >= 0)
		{
			if (st->skip_forbidden && st->acct_ahead[failed].status == 403)
				st->acct_ahead_forbidden[failed] = true;
			else
			{
				/* the error's context names the account that answered it */
				st->account_id = st->accounts[pos + failed];
				(void) cf_decode_envelope(&st->acct_ahead[failed], "GET",
										  st->acct_ahead_paths[failed], NULL);
				st->account_id = st->accounts[pos];
			}
		}
		MemoryContextSwitchTo(oldcxt);
	}
	i = pos - st->acct_ahead_first;
	if (st->acct_ahead_forbidden[i])
		(void) account_forbidden(st, &st->acct_ahead[i]);
	else if (st->acct_ahead[i].status != 0)
	{
		/* answered: the listing's page 1 (a stopped one is sent again) */
		st->rows.first = &st->acct_ahead[i];
		st->rows.first_path = st->acct_ahead_paths[i];
		/* and its further pages, when an account before it fetched them */
		if (st->acct_pages_n[i] > 0)
		{
			st->rows.window = st->acct_pages[i];
			st->rows.window_paths = st->acct_pages_paths[i];
			st->rows.window_first = 2;
			st->rows.window_n = st->acct_pages_n[i];
		}
	}
}

/* Move to the next unit of the scan; false when there is none. */
static bool
next_unit(CfScanState *st)
{
	const CfResource *res = st->res;
	CfScanPlan *plan = st->plan;

	if (st->account_skipped)
		return false;
	if (plan->id_expr >= 0)
	{
		for (;;)
		{
			int			i;

			if (st->ahead_pos >= st->ahead_n && fill_ahead(st) == 0)
				return false;
			i = st->ahead_pos++;
			if (fetch_by_id(st, st->ahead_ids[i], st->ahead ? &st->ahead[i] : NULL))
				return true;
		}
	}

	if (res->parent == NULL)
	{
		if (st->listed)
			return false;
		st->listed = true;
		pager_start(&st->rows, cf_resource_path(res, st->account_id, NULL, NULL),
					st->query, res->paging, st->per_page, st->limit_hint);
		/* an unfiltered listing's size is the table's */
		if (plan->filters == NIL && plan->since_exprs == NIL && plan->before_exprs == NIL)
			st->rows.count_as = res;
		take_read_ahead(st, &st->rows);
		account_page_one(st);
		return true;
	}

	/* one listing per parent id: given ones, or every group's */
	if (plan->parent_expr < 0 && !st->listed)
	{
		bool		all_groups = (st->join == NULL || st->join->groups->filters == NIL);

		st->listed = true;
		pager_start(&st->parents, cf_resource_path(res->parent, st->account_id, NULL, NULL),
					st->parent_query, res->parent->paging, res->parent->per_page_max, -1);
		take_read_ahead(st, &st->parents);
		if (all_groups)
			st->parents.count_as = res->parent;
		st->fanout_counting = (plan->filters == NIL && all_groups);
		st->fanout_rows = 0;
	}
	if (st->ahead_pos >= st->ahead_n && fill_ahead(st) == 0)
	{
		/* every group's members were listed: that is the table's size */
		if (st->fanout_counting)
			cf_remember_total(st->serverid, st->account_id, res, (double) st->fanout_rows);
		st->fanout_counting = false;
		return false;
	}
	strlcpy(st->parent_id, st->ahead_ids[st->ahead_pos], sizeof(st->parent_id));
	st->unit_object = st->ahead_objects ? st->ahead_objects[st->ahead_pos] : NULL;
	pager_start(&st->rows, cf_resource_path(res, st->account_id, st->parent_id, NULL),
				st->query, res->paging, st->per_page, st->limit_hint);
	if (st->ahead)
	{
		st->rows.first = &st->ahead[st->ahead_pos];
		st->rows.first_path = st->ahead_paths[st->ahead_pos];
	}
	st->ahead_pos++;
	return true;
}

/*
 * The current account was read: move to the next one the run reads, its
 * units from the start (the values and query string are the same in
 * every account).  False when it was the last.
 */
static bool
next_account(CfScanState *st)
{
	if (st->account_pos + 1 >= st->naccounts)
		return false;
	st->account_id = st->accounts[++st->account_pos];
	st->accounts_read++;
	st->account_skipped = false;
	st->id_pos = 0;
	st->listed = false;
	st->fanout_checked = false;
	st->unit_open = false;
	st->unit_object = NULL;
	MemoryContextReset(st->ahead_cxt);
	st->ahead_n = st->ahead_pos = 0;
	st->ahead = NULL;
	st->rows.active = st->parents.active = false;
	st->rows.first = st->parents.first = NULL;
	start_overlay(st);
	return true;
}

/*
 * count(*) pushed down: one listing request of the smallest page size the
 * endpoint takes per account, answered from result_info.total_count; the
 * accounts' requests go as one batch (max_concurrency at a time, budgeted
 * before the first).  An account that answers 403 with
 * skip_forbidden_accounts is left out (a NOTICE); the batch's requests
 * that error stopped are sent again.
 */
static void
count_accounts(CfScanState *st)
{
	const CfResource *res = st->res;
	int			n = st->no_rows ? 0 : st->naccounts;
	char	  **paths = palloc(sizeof(char *) * Max(n, 1));
	CfHttpResponse *responses = palloc0(sizeof(CfHttpResponse) * Max(n, 1));
	int		   *todo = palloc(sizeof(int) * Max(n, 1));
	int		   *again = palloc(sizeof(int) * Max(n, 1));
	int			ntodo = 0;

	st->counts = palloc(sizeof(int64) * Max(n, 1));
	st->ncounts = n;
	st->accounts_read += n;
	for (int i = 0; i < n; i++)
	{
		paths[i] = page_path(cf_resource_path(res, st->accounts[i],
											  res->parent ? st->ids[0] : NULL, NULL),
							 st->query, CF_PAGING_PAGES, res->per_page_min, 1, NULL);
		st->counts[i] = -1;
		todo[ntodo++] = i;
	}

	while (ntodo > 0)
	{
		char	  **batch_paths = palloc(sizeof(char *) * ntodo);
		CfHttpResponse *batch = palloc0(sizeof(CfHttpResponse) * ntodo);
		int			failed = -1;
		int			left = 0;

		for (int j = 0; j < ntodo; j++)
			batch_paths[j] = paths[todo[j]];
		if (ntodo == 1)
			cf_http_get(st->conn, batch_paths[0], st->cache_ttl, &batch[0]);
		else
			failed = cf_http_get_many(st->conn, batch_paths, ntodo, batch, st->cache_ttl);
		if (ntodo == 1 && (batch[0].status < 200 || batch[0].status >= 300))
			failed = 0;
		for (int j = 0; j < ntodo; j++)
		{
			int			i = todo[j];

			if (batch[j].status == 0)
			{
				again[left++] = i;	/* stopped by another's error */
				continue;
			}
			count_answer(st, &batch[j], true);
			responses[i] = batch[j];
		}
		if (failed >= 0)
		{
			int			i = todo[failed];

			/* the error and its context name the account that answered it */
			st->account_id = st->accounts[i];
			st->account_skipped = false;
			if (!account_forbidden(st, &responses[i]))
				(void) cf_decode_envelope(&responses[i], "GET", paths[i], NULL);
			responses[i].status = 0;	/* skipped: no count */
		}
		/* those answered in this batch are read below; the stopped go again */
		for (int j = 0; j < ntodo; j++)
			if (batch[j].status != 0 && (failed < 0 || j != failed))
				st->counts[todo[j]] = -2;	/* answered, to decode */
		memcpy(todo, again, sizeof(int) * left);
		ntodo = left;
	}

	for (int i = 0; i < n; i++)
	{
		cJSON	   *doc;
		int64		count;

		if (st->counts[i] != -2)
			continue;			/* skipped */
		st->account_id = st->accounts[i];
		doc = cf_decode_envelope(&responses[i], "GET", paths[i], NULL);
		(void) cf_list_result(doc, paths[i]);
		count = result_info_number(doc, "total_count");
		if (count < 0)
			ereport(ERROR,
					(errcode(CF_ERRCODE_API_PROTOCOL),
					 errmsg("Cloudflare API answer has no \"result_info.total_count\" to count \"%s\"",
							st->table_name),
					 errdetail("Request: GET %s.", paths[i]),
					 errhint("Set OPTIONS (count_pushdown 'false') on the foreign table or server to count the rows one by one.")));
		if (st->plan->filters == NIL && res->parent == NULL)
			cf_remember_total(st->serverid, st->accounts[i], res, (double) count);
		st->counts[i] = count;
	}
	if (n > 0)
		st->account_id = st->accounts[0];
}

/*
 * The pushed count's row: every column is count(*); grouped by account, a
 * row per account counted, its text column the account's id.
 */
static TupleTableSlot *
iterate_count(CfScanState *st, TupleTableSlot *slot)
{
	TupleDesc	tupdesc = slot->tts_tupleDescriptor;
	int64		total = 0;
	int			pos;

	if (!st->counted)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(st->run_cxt);

		count_accounts(st);
		MemoryContextSwitchTo(oldcxt);
		st->counted = true;
		st->count_pos = 0;
	}
	if (!st->plan->count_by_account)
	{
		if (st->count_pos++ > 0)
			return slot;
		for (int i = 0; i < st->ncounts; i++)
			if (st->counts[i] >= 0)
				total += st->counts[i];
		for (int i = 0; i < tupdesc->natts; i++)
		{
			slot->tts_values[i] = Int64GetDatum(total);
			slot->tts_isnull[i] = false;
		}
		return ExecStoreVirtualTuple(slot);
	}

	while (st->count_pos < st->ncounts && st->counts[st->count_pos] < 0)
		st->count_pos++;
	if (st->count_pos >= st->ncounts)
		return slot;
	pos = st->count_pos++;
	for (int i = 0; i < tupdesc->natts; i++)
	{
		if (TupleDescAttr(tupdesc, i)->atttypid == INT8OID)
			slot->tts_values[i] = Int64GetDatum(st->counts[pos]);
		else if (st->accounts[pos] != NULL)
			slot->tts_values[i] = PointerGetDatum(cstring_to_text(st->accounts[pos]));
		else
		{
			slot->tts_values[i] = (Datum) 0;
			slot->tts_isnull[i] = true;
			continue;
		}
		slot->tts_isnull[i] = false;
	}
	return ExecStoreVirtualTuple(slot);
}

/*
 * The next row of a pushed join: each member of the current group with
 * the group's columns; for a LEFT join, a group without members once with
 * NULL members.  The group's columns are converted once per group.
 */
static TupleTableSlot *
iterate_join(ForeignScanState *node, CfScanState *st, TupleTableSlot *slot)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	MemoryContext oldcxt;

	for (;;)
	{
		cJSON	   *object = NULL;

		for (;;)
		{
			if (st->unit_open && st->rows.active &&
				(object = pager_next(st, &st->rows)) != NULL)
				break;
			if (st->unit_open && st->unit_rows == 0 && st->join->jointype == JOIN_LEFT)
			{
				st->unit_open = false;
				break;			/* object NULL: the NULL-extended row */
			}
			st->unit_open = false;
			if (!next_unit(st))
			{
				/* that account's groups are done: the next account's */
				if (!st->no_rows && next_account(st))
					continue;
				return slot;
			}
			st->unit_open = true;
			st->unit_rows = 0;
			MemoryContextReset(st->unit_cxt);
			oldcxt = MemoryContextSwitchTo(st->unit_cxt);
			cf_object_to_values(st->join->groups->resource, st->unit_object, NULL,
								st->account_id, st->g_tupdesc, st->g_columns, st->g_attinmeta,
								st->g_values, st->g_nulls, st->g_table_name);
			MemoryContextSwitchTo(oldcxt);
		}

		oldcxt = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
		if (object)
			cf_object_to_values(st->res, object, st->parent_id, st->account_id,
								st->m_tupdesc,
								st->attr_columns, st->attinmeta,
								st->m_values, st->m_nulls, st->table_name);
		else
			for (int i = 0; i < st->m_tupdesc->natts; i++)
				st->m_nulls[i] = true;
		MemoryContextSwitchTo(oldcxt);

		for (int i = 0; i < slot->tts_tupleDescriptor->natts; i++)
		{
			int			a = st->tlist_attnos[i] - 1;

			slot->tts_values[i] = st->tlist_sides[i] == 0 ? st->g_values[a] : st->m_values[a];
			slot->tts_isnull[i] = st->tlist_sides[i] == 0 ? st->g_nulls[a] : st->m_nulls[a];
		}
		ExecStoreVirtualTuple(slot);

		/* a LEFT join's quals on m: a member that fails them is no member */
		if (object && st->join->recheck_expr >= 0)
		{
			ExprState  *recheck = list_nth(st->expr_states, st->join->recheck_expr);
			bool		isnull;
			Datum		ok;

			econtext->ecxt_scantuple = slot;
			ok = ExecEvalExprSwitchContext(recheck, econtext, &isnull);
			if (isnull || !DatumGetBool(ok))
			{
				ExecClearTuple(slot);
				ResetExprContext(econtext);
				continue;
			}
		}
		if (object)
			st->unit_rows++;
		return slot;
	}
}

/*
 * Changes this transaction queued (cfiam.write_mode = deferred) and this
 * scan's table: a listing of group members shows them, other scans say
 * once that they do not.
 */
static void
start_overlay(CfScanState *st)
{
	int			queued;

	st->overlay = st->overlay_open = st->overlay_adds_ready = false;
	st->overlay_listed = st->overlay_adds = st->new_groups = NIL;
	st->listings_done = false;
	if (st->rows.read_all || st->account_id == NULL)
		return;					/* an UPDATE or DELETE finds Cloudflare's rows;
								 * nothing is queued above the accounts */
	queued = cf_deferred_count(st->res, st->account_id);
	if (queued == 0)
		return;
	if (st->res->parent && st->plan->id_expr < 0 && !st->join)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(st->run_cxt);
		ListCell   *lc;

		st->overlay = true;
		/* groups created at COMMIT: those named, or all; after Cloudflare's */
		if (st->plan->parent_expr < 0)
			st->new_groups = cf_deferred_new_groups(st->account_id);
		foreach(lc, st->new_group_values)
		{
			char	   *group = lfirst(lc);
			ListCell   *l2;
			bool		seen = false;

			foreach(l2, st->new_groups)
				seen |= strcmp((char *) lfirst(l2), group) == 0;
			if (!seen && cf_deferred_new_group(st->account_id, group))
				st->new_groups = lappend(st->new_groups, group);
		}
		MemoryContextSwitchTo(oldcxt);
		return;
	}
	if (!st->deferred_noticed)
		ereport(NOTICE,
				(errmsg("%d change(s) to foreign table \"%s\" are queued for COMMIT and not shown",
						queued, st->table_name),
				 errdetail("cfiam.write_mode = deferred sends them at COMMIT; cfiam_pending_changes() lists them.")));
	st->deferred_noticed = true;
}

/*
 * The overlay's say on a listed member: false to skip it (COMMIT removes
 * it).  Listed members are remembered, not to be shown again as additions.
 */
static bool
overlay_keeps(CfScanState *st, cJSON *object)
{
	const char *id = cf_json_get_string(object, "id");
	MemoryContext oldcxt;

	if (id == NULL)
		return true;
	if (cf_deferred_membership(st->account_id, st->parent_id, id) < 0)
		return false;
	oldcxt = MemoryContextSwitchTo(st->run_cxt);
	st->overlay_listed = lappend(st->overlay_listed, pstrdup(id));
	MemoryContextSwitchTo(oldcxt);
	return true;
}

/* The next pending addition of the group just listed, as an object; NULL at the end. */
static cJSON *
overlay_next_addition(CfScanState *st)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(st->run_cxt);
	cJSON	   *object = NULL;

	if (!st->overlay_adds_ready)
	{
		ListCell   *lc;

		st->overlay_adds = NIL;
		foreach(lc, cf_deferred_additions(st->account_id, st->parent_id))
		{
			char	   *id = strVal(lfirst(lc));
			ListCell   *l2;
			bool		listed = false;

			foreach(l2, st->overlay_listed)
				listed |= strcmp((char *) lfirst(l2), id) == 0;
			if (!listed)
				st->overlay_adds = lappend(st->overlay_adds, id);
		}
		st->overlay_adds_ready = true;
	}
	if (st->overlay_adds != NIL)
	{
		object = cf_json_object();
		cf_json_add_string(object, "id", (char *) linitial(st->overlay_adds));
		st->overlay_adds = list_delete_first(st->overlay_adds);
	}
	MemoryContextSwitchTo(oldcxt);
	return object;
}

/*
 * The next group to list: Cloudflare's, then (showing pending changes) the
 * groups this transaction creates, which have only pending additions.
 */
static bool
next_listing(CfScanState *st)
{
	if (!st->listings_done && !st->no_rows && next_unit(st))
		return true;
	st->listings_done = true;
	st->rows.active = false;
	if (st->new_groups == NIL)
		return false;
	strlcpy(st->parent_id, (char *) linitial(st->new_groups), sizeof(st->parent_id));
	st->new_groups = list_delete_first(st->new_groups);
	return true;
}

/*
 * The next row, fetching the next page or batch when the rows at hand are
 * used up, and the next account when one is read.
 */
static TupleTableSlot *
iterate_scan(ForeignScanState *node)
{
	CfScanState *st = (CfScanState *) node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	MemoryContext oldcxt;
	cJSON	   *object = NULL;

	ExecClearTuple(slot);
	if (!st->started)
		start_scan(node);
	if (st->plan->count_only)
		return iterate_count(st, slot);
	if (st->no_rows && st->new_groups == NIL && !st->overlay_open)
		return slot;
	if (st->join)
		return iterate_join(node, st, slot);

	for (;;)
	{
		if (st->rows.active && (object = pager_next(st, &st->rows)) != NULL)
		{
			if (st->overlay && !overlay_keeps(st, object))
				continue;
			break;
		}
		/* a group's listing ended: its pending additions follow it */
		if (st->overlay_open && (object = overlay_next_addition(st)) != NULL)
			break;
		if (!next_listing(st))
		{
			/* that account is done: the next one, if any */
			if (!st->no_rows && next_account(st))
				continue;
			return slot;
		}
		if (st->overlay)
		{
			st->overlay_open = true;
			st->overlay_adds_ready = false;
			st->overlay_listed = NIL;
		}
	}

	/* the executor resets this context before asking for the next row */
	oldcxt = MemoryContextSwitchTo(node->ss.ps.ps_ExprContext->ecxt_per_tuple_memory);
	cf_object_to_values(st->res, object, st->parent_id, st->account_id,
						slot->tts_tupleDescriptor,
						st->attr_columns, st->attinmeta,
						slot->tts_values, slot->tts_isnull, st->table_name);
	MemoryContextSwitchTo(oldcxt);
	return ExecStoreVirtualTuple(slot);
}

/* Errors of a scan over several accounts say which account answered. */
static void
account_error_callback(void *arg)
{
	CfScanState *st = (CfScanState *) arg;

	if (st->account_id && !st->listing_accounts)
		errcontext("Cloudflare account %s of foreign table \"%s\"",
				   st->account_id, st->table_name);
}

/*
 * IterateForeignScan: the next row.  On a server over every account, an
 * error names the account it came from.
 */
TupleTableSlot *
cfIterateForeignScan(ForeignScanState *node)
{
	CfScanState *st = (CfScanState *) node->fdw_state;
	ErrorContextCallback errcallback;
	TupleTableSlot *slot;

	if (!st->multi)
		return iterate_scan(node);
	errcallback.callback = account_error_callback;
	errcallback.arg = st;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;
	slot = iterate_scan(node);
	error_context_stack = errcallback.previous;
	return slot;
}

void
cfReScanForeignScan(ForeignScanState *node)
{
	CfScanState *st = (CfScanState *) node->fdw_state;

	/*
	 * Read ahead and not read yet (a nested loop rescans its inner side
	 * before the first row too): the scan is where it started, and having
	 * no parameters it would ask the same again.
	 */
	if (st->read_ahead != NULL)
		return;
	/* parameters may have changed: evaluate again on the next fetch */
	st->started = false;
}

void
cfEndForeignScan(ForeignScanState *node)
{
	/* page contexts belong to the query context; the handle is cached */
}

/* ---------------------------------------------------------------------
 * EXPLAIN
 * ---------------------------------------------------------------------
 */


/*
 * "API Connections: 1 (HTTP/2)": the protocol the server negotiated is shown
 * with the connections that negotiated it; other formats get it as a key
 * of its own so that the count stays a number.
 */
static void
explain_connections(int64 connections, const char *protocol, ExplainState *es)
{
	if (es->format != EXPLAIN_FORMAT_TEXT)
	{
		ExplainPropertyInteger("API Connections", NULL, connections, es);
		if (protocol)
			ExplainPropertyText("API Protocol", protocol, es);
	}
	else if (connections > 0 && protocol)
		ExplainPropertyText("API Connections",
							psprintf(INT64_FORMAT " (%s)", connections, protocol), es);
	else
		ExplainPropertyInteger("API Connections", NULL, connections, es);
}

/*
 * ExplainForeignScan: the planned call (VERBOSE), and under ANALYZE the
 * requests, pages, retries and connections.
 */
void
cfExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	CfScanState *st = (CfScanState *) node->fdw_state;
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;

	if (st->join)
		ExplainPropertyText("Relations", st->join->relations, es);
	if (st->join && st->join->recheck_expr >= 0 && es->verbose)
		ExplainPropertyText("Member Filter",
							deparse_expression(list_nth(fsplan->fdw_exprs,
														st->join->recheck_expr),
											   set_deparse_context_plan(es->deparse_cxt,
																		node->ss.ps.plan,
																		NIL),
											   true, false),
							es);
	if (es->verbose)
	{
		int64		limit_hint = -1;
		CfScanPlan *plan = st->plan;

		/* a constant LIMIT is known now; a parameter shows the maximum */
		if (plan->limit_expr >= 0)
		{
			Node	   *count = list_nth(fsplan->fdw_exprs, plan->limit_expr);
			Node	   *offset = plan->offset_expr >= 0 ?
				list_nth(fsplan->fdw_exprs, plan->offset_expr) : NULL;

			if (IsA(count, Const) && (offset == NULL || IsA(offset, Const)))
				limit_hint = cf_limit_hint(((Const *) count)->constisnull,
										   DatumGetInt64(((Const *) count)->constvalue),
										   offset == NULL || ((Const *) offset)->constisnull,
										   offset ? DatumGetInt64(((Const *) offset)->constvalue) : 0);
		}
		if (st->multi)
			ExplainPropertyText("Cloudflare Accounts",
								cf_plan_describe_accounts(plan, fsplan->fdw_exprs,
														  set_deparse_context_plan(es->deparse_cxt,
																				   node->ss.ps.plan, NIL)),
								es);
		ExplainPropertyText("Cloudflare API",
							cf_plan_describe(plan, st->multi ? "{account_id}" : st->server_account,
											 fsplan->fdw_exprs,
											 set_deparse_context_plan(es->deparse_cxt,
																	  node->ss.ps.plan, NIL),
											 plan->count_only ? plan->resource->per_page_min :
											 cf_plan_per_page(plan, limit_hint)),
							es);
		if (plan->limit_per_account)
			ExplainPropertyText("Cloudflare Limit",
								limit_hint >= 0 ?
								psprintf("the first " INT64_FORMAT " rows of each account, in the order sent",
										 limit_hint) :
								"LIMIT's rows of each account, in the order sent", es);
		if (plan->count_only)
			ExplainPropertyText("Pushed Aggregate",
								plan->count_by_account ?
								"count(*) per account_id from result_info.total_count" :
								"count(*) from result_info.total_count", es);
	}
	if (es->analyze)
	{
		ExplainPropertyInteger("API Requests", NULL, st->requests, es);
		/* with cache_ttl on, misses show as 0 hits */
		if (st->cache_ttl > 0 || st->cache_hits > 0)
			ExplainPropertyInteger("API Cache Hits", NULL, st->cache_hits, es);
		ExplainPropertyInteger("API Pages", NULL, st->pages, es);
		/* over every account: how many were read (a LIMIT may stop early) */
		if (st->multi)
			ExplainPropertyInteger("API Accounts", NULL, st->accounts_read, es);
		explain_connections(st->connections, st->protocol, es);
		/* shown only when there were some, like the rest of EXPLAIN's extras */
		if (st->retries > 0)
			ExplainPropertyInteger("API Retries", NULL, st->retries, es);
	}
}

