/*-------------------------------------------------------------------------
 *
 * estimate.c
 *		How many rows a scan returns and what its requests cost, without
 *		sending any request at plan time.
 *
 * The rows of a whole resource come from what is known, best first:
 *	 1. pg_class.reltuples, when ANALYZE has run (the API's total_count);
 *	 2. the last total_count this backend saw for the same server, account
 *		and resource (scan.c reports it when page 1 of an unfiltered listing
 *		answers it, and when a fan-out over every group completes);
 *	 3. the catalog's rows_estimate.
 *
 * A scan's cost is its requests: a listing's page 1 is fetched alone, the
 * pages after it max_concurrency at a time (a cursor's one at a time), so a
 * scan costs rounds of requests (fdw_request_cost each) rather than
 * requests.  A nested loop's
 * parameterized scan runs one unit per outer row and has no concurrency.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "cfiam.h"

#include <math.h>

#include "nodes/pg_list.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "utils/array.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

/* ---- totals this backend has seen ---- */

typedef struct CfTotalKey
{
	Oid			serverid;
	char		account_id[CF_ID_LEN + 1];
	char		resource[NAMEDATALEN];
} CfTotalKey;

typedef struct CfTotalEntry
{
	CfTotalKey	key;
	double		rows;
} CfTotalEntry;

static HTAB *totals = NULL;

static void
make_key(CfTotalKey *key, Oid serverid, const char *account_id,
		 const CfResource *res)
{
	memset(key, 0, sizeof(*key));
	key->serverid = serverid;
	/* no account: what the credential sees (the accounts themselves) */
	strlcpy(key->account_id, account_id ? account_id : "", sizeof(key->account_id));
	strlcpy(key->resource, res->name, sizeof(key->resource));
}

/* Remember the number of rows a resource had when it was last counted. */
void
cf_remember_total(Oid serverid, const char *account_id, const CfResource *res,
				  double rows)
{
	CfTotalKey	key;
	CfTotalEntry *entry;

	if (rows < 0)
		return;
	if (totals == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(CfTotalKey);
		ctl.entrysize = sizeof(CfTotalEntry);
		ctl.hcxt = TopMemoryContext;
		totals = hash_create("cfiam resource totals", 16, &ctl,
							 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	make_key(&key, serverid, account_id, res);
	entry = hash_search(totals, &key, HASH_ENTER, NULL);
	entry->rows = rows;
}

/* The rows last counted for a resource, or -1 when never counted here. */
double
cf_known_total(Oid serverid, const char *account_id, const CfResource *res)
{
	CfTotalKey	key;
	CfTotalEntry *entry;

	if (totals == NULL)
		return -1;
	make_key(&key, serverid, account_id, res);
	entry = hash_search(totals, &key, HASH_FIND, NULL);
	return entry ? entry->rows : -1;
}

/*
 * Rows of the whole resource: reltuples when ANALYZE ran (the planner
 * copies it into baserel->tuples; -1 when never analyzed), else the last
 * total this backend saw, else the catalog's guess.
 */
double
cf_resource_rows(const CfRelInfo *info, const CfResource *res, double reltuples)
{
	double		rows;

	if (res == info->opts.resource && reltuples >= 0)
		return reltuples;
	rows = cf_known_total(info->serverid, info->opts.account_id, res);
	return rows >= 0 ? rows : res->rows_estimate;
}

/* ---- rows and requests of one scan ---- */

/*
 * How many values an id or parent-id qual stands for: one, the length of a
 * constant array, or a guess for an array known only at run time.
 */
static double
value_count(List *fdw_exprs, int index, bool is_array)
{
	Node	   *expr;

	if (!is_array)
		return 1;
	expr = list_nth(fdw_exprs, index);
	if (IsA(expr, Const))
	{
		Const	   *c = (Const *) expr;
		ArrayType  *arr;

		if (c->constisnull)
			return 0;
		arr = DatumGetArrayTypeP(c->constvalue);
		return ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
	}
	return CF_ARRAY_GUESS;
}

/* The clauses that neither name the rows by id nor choose the parents. */
static List *
filter_clauses(const CfScanPlan *plan, List *clauses)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, clauses)
		if (lfirst(lc) != plan->id_rinfo && lfirst(lc) != plan->parent_rinfo &&
			lfirst(lc) != plan->account_rinfo)
			result = lappend(result, lfirst(lc));
	return result;
}

/*
 * Rows and requests of a scan of baserel in one account that sends `plan`,
 * built from `clauses` (with their values in fdw_exprs).  `parameterized`:
 * one run per outer row (the figures are per run, without concurrency).
 */
static void
estimate_one_account(PlannerInfo *root, RelOptInfo *baserel, const CfScanPlan *plan,
				 List *clauses, List *fdw_exprs, List *local_quals,
				 bool parameterized, CfEstimate *est)
{
	CfRelInfo  *info = (CfRelInfo *) baserel->fdw_private;
	const CfResource *res = plan->resource;
	double		total = cf_resource_rows(info, res, info->reltuples);
	double		conc = parameterized ? 1 : Max(info->max_concurrency, 1);
	double		per_page = res->paging != CF_PAGING_NONE ? res->per_page_max : 0;
	List	   *pushed = NIL;
	List	   *filters = filter_clauses(plan, clauses);
	Selectivity pushed_sel;
	Selectivity local_sel;
	double		listed;			/* rows the API answers */
	double		units;			/* listings (or GETs) */
	double		pages;			/* pages of each listing */
	ListCell   *lc;

	foreach(lc, filters)
		if (!list_member_ptr(local_quals, lfirst(lc)))
			pushed = lappend(pushed, lfirst(lc));
	pushed_sel = clauselist_selectivity(root, pushed, baserel->relid, JOIN_INNER, NULL);
	local_sel = clauselist_selectivity(root, local_quals, baserel->relid, JOIN_INNER, NULL);

	memset(est, 0, sizeof(*est));
	if (plan->id_expr >= 0)
	{
		/* GETs by id: one row each at most */
		units = value_count(fdw_exprs, plan->id_expr, plan->id_is_array);
		est->rows = units * local_sel;
		est->requests = units;
		est->rounds = ceil(units / conc);
		est->rows = clamp_row_est(est->rows);
		return;
	}

	if (res->parent && plan->parent_expr >= 0)
	{
		/* the listings of the given parents: the members of a few groups */
		double		parents = cf_resource_rows(info, res->parent, -1);

		units = value_count(fdw_exprs, plan->parent_expr, plan->parent_is_array);
		listed = total / Max(parents, 1) * units * pushed_sel;
	}
	else if (res->parent)
	{
		/* the fan-out: list every parent, then each one's listing */
		const CfResource *pres = res->parent;
		double		parents = cf_resource_rows(info, pres, -1);
		double		parent_pages = Max(1, ceil(parents / pres->per_page_max));

		units = parents;
		listed = total * pushed_sel;
		est->requests = parent_pages;
		est->rounds = 1 + ceil((parent_pages - 1) / conc);
	}
	else
	{
		units = 1;
		listed = total * pushed_sel;
	}

	/*
	 * each listing: page 1, then the rest of its pages; a cursor's pages
	 * come one after the other
	 */
	pages = per_page > 0 ? Max(1, ceil(listed / Max(units, 1) / per_page)) : 1;
	est->requests += units * pages;
	if (res->paging == CF_PAGING_CURSOR)
		est->rounds += units * pages;
	else if (units > 1)
		est->rounds += ceil(units / conc) + ceil(units * (pages - 1) / conc);
	else
		est->rounds += units * (1 + ceil((pages - 1) / conc));
	est->rows = clamp_row_est(listed * local_sel);
}

/*
 * Startup and total cost of a scan: fdw_startup_cost, the setting up, then
 * the rounds of requests and every row converted and handed over.
 *
 * The requests are run cost, not startup cost, although the first row
 * waits for the first answer: the planner takes a join's startup cost to
 * be paid once however often the join is rescanned (a hash join's hash
 * table), and a scan that is rescanned sends its requests again.
 *
 * A parameterized scan's cost is that of one run, which a nested loop pays
 * per outer row; its setting up is paid once per query, not per run, and
 * is left out.
 */
void
cf_scan_costs(const CfRelInfo *info, const CfEstimate *est, bool parameterized,
			  Cost *startup, Cost *total)
{
	double		rounds = Max(est->rounds, 1);

	*startup = parameterized ? 0 : info->opts.startup_cost;
	*total = *startup + rounds * info->opts.request_cost +
		est->rows * (info->opts.tuple_cost + cpu_tuple_cost);
}

/*
 * The same over the accounts the scan reads: one on a server with
 * account_id, else those account_id = v / = ANY names or every account
 * the credential sees (as many as the last listing of them told, else
 * the catalog's guess), after the listing of the accounts.  Accounts are
 * read one after the other.
 */
void
cf_estimate_scan(PlannerInfo *root, RelOptInfo *baserel, const CfScanPlan *plan,
				 List *clauses, List *fdw_exprs, List *local_quals,
				 bool parameterized, CfEstimate *est)
{
	CfRelInfo  *info = (CfRelInfo *) baserel->fdw_private;
	const CfResource *accounts = cf_resource_by_name("accounts");
	double		n;
	double		listing = 0;

	estimate_one_account(root, baserel, plan, clauses, fdw_exprs, local_quals,
						 parameterized, est);
	if (info->opts.account_id != NULL || plan->resource->no_account)
		return;
	if (plan->account_expr >= 0)
		n = value_count(fdw_exprs, plan->account_expr, plan->account_is_array);
	else
	{
		n = cf_resource_rows(info, accounts, -1);
		listing = Max(1, ceil(n / accounts->per_page_max));
	}
	est->rows = clamp_row_est(est->rows * Max(n, 1));
	est->requests = est->requests * n + listing;
	est->rounds = est->rounds * n + listing;
}
