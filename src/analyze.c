/*-------------------------------------------------------------------------
 *
 * analyze.c
 *		ANALYZE of a cfiam table: its size from the API's total_count and a
 *		sample of rows for pg_stats, in as few requests as the API allows.
 *
 *	 a paged listing		one request: page 1 at the largest page size gives
 *							total_count and a sample of up to per_page rows
 *	 resource groups		one request (the list is not paged): every row
 *	 user group members		the groups' listing (its pages), then page 1 of
 *							each group's members (max_concurrency at a time)
 *							for that group's total_count and sample rows
 *	 the audit log			not analyzed: paged by cursor, it tells no total
 *
 * None of them makes more requests than a full scan of the table.  Rows are
 * converted by the same code as a scan's (convert.c); the sizes found are
 * also remembered for the planner (estimate.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "cfiam.h"

#include "access/htup_details.h"
#include "common/pg_prng.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/* GETs sent at once per max_concurrency slot (as scan.c's batches) */
#define CF_ANALYZE_BATCH_PER_SLOT 4

typedef struct CfSampler
{
	Relation	rel;
	const CfResource *res;
	const CfColumn **attr_columns;
	AttInMetadata *attinmeta;
	MemoryContext tuple_cxt;	/* where the sample's tuples live */
	HeapTuple  *rows;
	int			targrows;
	int			nrows;			/* rows in the sample */
	double		seen;			/* rows offered to the sample */
	CfConnection *conn;
	int			max_concurrency;
	int			requests;
	const char *account_id;		/* the account sampled (the server's) */
} CfSampler;

/* JSON number member of result_info, or -1 */
static double
total_count(cJSON *doc)
{
	cJSON	   *info = cJSON_GetObjectItemCaseSensitive(doc, "result_info");
	cJSON	   *item = cJSON_IsObject(info) ?
		cJSON_GetObjectItemCaseSensitive(info, "total_count") : NULL;

	return cJSON_IsNumber(item) && item->valuedouble >= 0 && item->valuedouble < 1e15 ?
		item->valuedouble : -1;
}

/*
 * Offer one API object to the sample (reservoir sampling once it is full,
 * so that every row seen has the same chance).
 */
static void
sample_object(CfSampler *s, cJSON *object, const char *parent_id)
{
	TupleDesc	tupdesc = RelationGetDescr(s->rel);
	Datum	   *values = palloc(sizeof(Datum) * tupdesc->natts);
	bool	   *nulls = palloc(sizeof(bool) * tupdesc->natts);
	int			slot;
	MemoryContext oldcxt;

	s->seen += 1;
	if (s->nrows < s->targrows)
		slot = s->nrows++;
	else
	{
		uint64		k = pg_prng_uint64_range(&pg_global_prng_state, 0,
											 (uint64) s->seen - 1);

		if (k >= (uint64) s->targrows)
			return;
		slot = (int) k;
		heap_freetuple(s->rows[slot]);
	}
	cf_object_to_values(s->res, object, parent_id, s->account_id, tupdesc, s->attr_columns,
						s->attinmeta, values, nulls, RelationGetRelationName(s->rel));
	oldcxt = MemoryContextSwitchTo(s->tuple_cxt);
	s->rows[slot] = heap_form_tuple(tupdesc, values, nulls);
	MemoryContextSwitchTo(oldcxt);
}

static cJSON *
get_one(CfSampler *s, const char *path, bool *not_found)
{
	CfHttpResponse response;

	cf_http_request(s->conn, "GET", path, NULL, &response);
	s->requests++;
	return cf_decode_envelope(&response, "GET", path, not_found);
}

/*
 * A table that is one listing: page 1 (or the whole unpaged list) is the
 * sample, and total_count (or its length) the table's size.
 */
static double
sample_listing(CfSampler *s, const char *account_id)
{
	const CfResource *res = s->res;
	char	   *path = cf_resource_path(res, account_id, NULL, NULL);
	cJSON	   *doc;
	cJSON	   *rows;
	cJSON	   *item;
	double		total;
	double		seen_before = s->seen;

	if (res->paging == CF_PAGING_PAGES)
		path = psprintf("%s?page=1&per_page=%d", path, res->per_page_max);
	doc = get_one(s, path, NULL);
	rows = cf_list_result(doc, path);
	cJSON_ArrayForEach(item, rows)
		sample_object(s, item, NULL);
	total = res->paging == CF_PAGING_PAGES ? total_count(doc) : -1;
	return total >= 0 ? total : s->seen - seen_before;
}

/*
 * Every account the credential sees, for a server without account_id:
 * GET /accounts, every page.
 */
static List *
list_accounts(CfSampler *s)
{
	const CfResource *accounts = cf_resource_by_name("accounts");
	List	   *ids = NIL;
	double		listed = 0;

	for (int page = 1;; page++)
	{
		char	   *path = psprintf("%s?page=%d&per_page=%d",
									cf_resource_path(accounts, NULL, NULL, NULL),
									page, accounts->per_page_max);
		cJSON	   *doc = get_one(s, path, NULL);
		cJSON	   *rows = cf_list_result(doc, path);
		cJSON	   *item;
		double		total = total_count(doc);
		int			n = 0;

		cJSON_ArrayForEach(item, rows)
		{
			const char *id = cf_json_get_string(item, "id");

			if (id == NULL || !cf_is_id(id))
				ereport(ERROR,
						(errcode(CF_ERRCODE_API_PROTOCOL),
						 errmsg("Cloudflare API returned an account without a valid id"),
						 errdetail("Request: GET %s.", path)));
			ids = lappend(ids, pstrdup(id));
			n++;
		}
		listed += n;
		/* a short or empty page ends it, or total_count reached */
		if (n < accounts->per_page_max || (total >= 0 && listed >= total))
			break;
		CHECK_FOR_INTERRUPTS();
	}
	return ids;
}

/* The ids of every parent (group), from the pages of its listing. */
static List *
list_parent_ids(CfSampler *s, const char *account_id, double *nparents)
{
	const CfResource *pres = s->res->parent;
	char	   *base = cf_resource_path(pres, account_id, NULL, NULL);
	List	   *ids = NIL;
	int			page = 1;
	int			last_page = 0;

	for (;;)
	{
		char	   *path = psprintf("%s?page=%d&per_page=%d", base, page,
									pres->per_page_max);
		cJSON	   *doc = get_one(s, path, NULL);
		cJSON	   *rows = cf_list_result(doc, path);
		cJSON	   *item;
		int			count = 0;

		cJSON_ArrayForEach(item, rows)
		{
			const char *id = cf_json_get_string(item, "id");

			if (id == NULL || !cf_is_id(id))
				ereport(ERROR,
						(errcode(CF_ERRCODE_API_PROTOCOL),
						 errmsg("Cloudflare API returned a %s without a valid id",
								pres->name)));
			ids = lappend(ids, pstrdup(id));
			count++;
		}
		if (page == 1 && total_count(doc) >= 0)
			last_page = (int) ((total_count(doc) + pres->per_page_max - 1) / pres->per_page_max);
		CHECK_FOR_INTERRUPTS();
		if (count < pres->per_page_max || (last_page > 0 && page >= last_page))
			break;
		page++;
	}
	*nparents = list_length(ids);
	return ids;
}

/*
 * Group members: every group's page 1, a batch at a time, gives that
 * group's total_count and its first rows.  per_page is what the sample
 * needs of each group, within the API's bounds: the requests are the same,
 * the answers no bigger than useful.
 */
static double
sample_fanout(CfSampler *s, const char *account_id, Oid serverid)
{
	const CfResource *res = s->res;
	double		nparents;
	List	   *ids = list_parent_ids(s, account_id, &nparents);
	int			n = list_length(ids);
	int			batch = Max(s->max_concurrency, 1) * CF_ANALYZE_BATCH_PER_SLOT;
	int			per_page;
	double		total = 0;
	MemoryContext batch_cxt;
	MemoryContext oldcxt;

	cf_remember_total(serverid, account_id, res->parent, nparents);
	per_page = n > 0 ? s->targrows / n : res->per_page_max;
	per_page = Max(per_page, res->per_page_min);
	per_page = Min(per_page, res->per_page_max);

	batch_cxt = AllocSetContextCreate(CurrentMemoryContext, "cfiam analyze batch",
									  ALLOCSET_DEFAULT_SIZES);
	for (int first = 0; first < n; first += batch)
	{
		int			k = Min(batch, n - first);
		char	  **paths;
		CfHttpResponse *responses;
		int			failed;

		MemoryContextReset(batch_cxt);
		oldcxt = MemoryContextSwitchTo(batch_cxt);
		paths = palloc(sizeof(char *) * k);
		responses = palloc0(sizeof(CfHttpResponse) * k);
		for (int i = 0; i < k; i++)
			paths[i] = psprintf("%s?page=1&per_page=%d",
								cf_resource_path(res, account_id,
												 list_nth(ids, first + i), NULL),
								per_page);
		failed = cf_http_get_many(s->conn, paths, k, responses, 0);
		for (int i = 0; i < k; i++)
			if (responses[i].status != 0)
				s->requests++;
		if (failed >= 0)
			(void) cf_decode_envelope(&responses[failed], "GET", paths[failed], NULL);

		for (int i = 0; i < k; i++)
		{
			bool		not_found;
			cJSON	   *doc = cf_decode_envelope(&responses[i], "GET", paths[i], &not_found);
			cJSON	   *rows;
			cJSON	   *item;
			double		group_rows = 0;

			if (not_found)
				continue;		/* deleted since it was listed */
			rows = cf_list_result(doc, paths[i]);
			cJSON_ArrayForEach(item, rows)
			{
				sample_object(s, item, list_nth(ids, first + i));
				group_rows++;
			}
			if (total_count(doc) >= 0)
				group_rows = total_count(doc);
			total += group_rows;
		}
		MemoryContextSwitchTo(oldcxt);
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextDelete(batch_cxt);
	return total;
}

/* AcquireSampleRowsFunc of every cfiam table */
static int
cf_acquire_sample_rows(Relation relation, int elevel, HeapTuple *rows,
					   int targrows, double *totalrows, double *totaldeadrows)
{
	CfSampler	s;
	CfTableOptions opts;
	ForeignTable *table = GetForeignTable(RelationGetRelid(relation));
	ForeignServer *server = GetForeignServer(table->serverid);
	UserMapping *user = GetUserMapping(relation->rd_rel->relowner, server->serverid);
	MemoryContext work_cxt;
	MemoryContext oldcxt;
	int			natts;
	double		total;

	memset(&s, 0, sizeof(s));
	cf_get_table_options(RelationGetRelid(relation), &opts);
	s.rel = relation;
	s.res = opts.resource;
	s.account_id = opts.account_id;
	s.rows = rows;
	s.targrows = targrows;
	s.tuple_cxt = CurrentMemoryContext;
	s.attr_columns = cf_map_columns(relation, s.res, &natts);
	s.attinmeta = TupleDescGetAttInMetadata(RelationGetDescr(relation));
	s.conn = cf_get_connection(server, user);
	s.max_concurrency = cf_http_max_concurrency(s.conn);

	/* pages and their JSON are dropped at the end; the tuples stay */
	work_cxt = AllocSetContextCreate(CurrentMemoryContext, "cfiam analyze",
									 ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(work_cxt);
	if (opts.account_id == NULL && !s.res->no_account)
	{
		/* every account: each sampled as one, the sizes added up */
		ListCell   *lc;

		total = 0;
		foreach(lc, list_accounts(&s))
		{
			double		account_total;

			s.account_id = lfirst(lc);
			account_total = s.res->parent ?
				sample_fanout(&s, s.account_id, table->serverid) :
				sample_listing(&s, s.account_id);
			cf_remember_total(table->serverid, s.account_id, s.res, account_total);
			total += account_total;
		}
	}
	else
	{
		if (s.res->parent)
			total = sample_fanout(&s, opts.account_id, table->serverid);
		else
			total = sample_listing(&s, opts.account_id);
		cf_remember_total(table->serverid, opts.account_id, s.res, total);
	}
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(work_cxt);

	*totalrows = total;
	*totaldeadrows = 0;
	ereport(elevel,
			(errmsg("\"%s\": %d API requests, %.0f rows in the table, %d rows in the sample",
					RelationGetRelationName(relation), s.requests, total, s.nrows)));
	return s.nrows;
}

/*
 * AnalyzeForeignTable: every cfiam table can be analyzed but one paged by
 * cursor (the audit log): its answers tell no total, so its size would take
 * reading it all.  PostgreSQL then says it skips the table.  On a server
 * without account_id, each account the credential sees is sampled as one
 * (GET /accounts first), and the table's size is theirs added up.
 */
bool
cfAnalyzeForeignTable(Relation relation, AcquireSampleRowsFunc *func,
					  BlockNumber *totalpages)
{
	CfTableOptions opts;

	cf_get_table_options(RelationGetRelid(relation), &opts);
	if (opts.resource->paging == CF_PAGING_CURSOR)
		return false;
	*func = cf_acquire_sample_rows;
	*totalpages = 1;
	return true;
}
