/*-------------------------------------------------------------------------
 *
 * cfiam.h
 *		Private declarations of cfiam, the Cloudflare IAM foreign data wrapper.
 *
 * The pieces, one file each (like postgres_fdw):
 *	 cfiam_fdw.c	FdwRoutine: planning callbacks, IMPORT FOREIGN SCHEMA
 *	 scan.c			scan callbacks: paging, batches, EXPLAIN of a scan
 *	 catalog.c		the static description of every Cloudflare resource
 *	 option.c		option validation and lookup
 *	 pushdown.c		which quals, orderings and limits become API parameters
 *	 http.c			libcurl: handles per user mapping, one connection cache, retries
 *	 convert.c		response envelope decoding and JSON -> Datum conversion
 *	 estimate.c		rows and costs of a scan; totals this backend has seen
 *	 analyze.c		ANALYZE: total_count and a sample of rows
 *	 join.c			join pushdown: user groups with their members
 *	 modify.c		INSERT, UPDATE, DELETE
 *	 functions.c	cfiam_replace_user_group_members()
 *	 cache.c		the result cache (cache_ttl), shared or per backend
 *	 limits.c		request budget, pace per API host, rate-limit window per
 *					credential: shared by every backend when preloaded
 *	 usage.c		usage statistics (cfiam_stats)
 *	 deferred.c		cfiam.write_mode = deferred: calls queued, sent at COMMIT
 *
 *-------------------------------------------------------------------------
 */
#ifndef CFIAM_H
#define CFIAM_H

#include "foreign/fdwapi.h"
#include "lib/stringinfo.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "commands/explain.h"
#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"
#include "utils/relcache.h"
#include "datatype/timestamp.h"
#include "utils/date.h"

#include <cjson/cJSON.h>

#define CFIAM_VERSION "0.3"

/*
 * The SQLSTATEs of what the API does, in one place (the README's "Errors"
 * lists them for users).  Errors in what the user asked for (options,
 * values, statements cfiam cannot run) use PostgreSQL's own codes at the
 * call site.
 */
#define CF_ERRCODE_API_REJECTED		ERRCODE_INVALID_PARAMETER_VALUE /* HTTP 400, 422 */
#define CF_ERRCODE_API_FORBIDDEN	ERRCODE_INSUFFICIENT_PRIVILEGE /* 401, 403 */
#define CF_ERRCODE_API_NOT_FOUND	ERRCODE_UNDEFINED_OBJECT /* 404, outside a GET by id */
#define CF_ERRCODE_API_CONFLICT		ERRCODE_UNIQUE_VIOLATION /* 409: already there */
#define CF_ERRCODE_API_RATE_LIMITED ERRCODE_CONFIGURATION_LIMIT_EXCEEDED /* 429 past our wait */
#define CF_ERRCODE_API_FAILED		ERRCODE_FDW_ERROR /* 5xx, other statuses, transfers */
#define CF_ERRCODE_API_UNREACHABLE	ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION
/* an answer that is not the API's envelope, or not the shape it documents */
#define CF_ERRCODE_API_PROTOCOL		ERRCODE_PROTOCOL_VIOLATION
/* a field whose JSON type the column cannot take */
#define CF_ERRCODE_API_BAD_VALUE	ERRCODE_FDW_INVALID_DATA_TYPE
/* a POST sent whose answer never came: it may or may not have been applied */
#define CF_ERRCODE_OUTCOME_UNKNOWN	ERRCODE_TRANSACTION_RESOLUTION_UNKNOWN
/* the listing moved under a paged read: run the query again */
#define CF_ERRCODE_LISTING_CHANGED	ERRCODE_T_R_SERIALIZATION_FAILURE

/* "a, b, c" for messages: append one item, comma-separated */
static inline void
cf_append_list_item(StringInfo buf, const char *item)
{
	appendStringInfo(buf, "%s%s", buf->len > 0 ? ", " : "", item);
}

/* Cloudflare ids (account, group, member, role, ...) are 32 lowercase hex. */
#define CF_ID_LEN 32

/* ---------------------------------------------------------------------
 * catalog.c
 * ---------------------------------------------------------------------
 */

/* What JSON a column is read from, and so which JSON types it accepts. */
typedef enum CfJsonKind
{
	CF_JSON_STRING,				/* a JSON string */
	CF_JSON_BOOL,				/* a JSON true/false */
	CF_JSON_NUMBER,				/* a JSON number, as its JSON text */
	CF_JSON_ANY,				/* any JSON value, kept as JSON text (jsonb) */
	CF_JSON_ID_LIST,			/* array of objects -> array of their "id" */
	CF_JSON_PARENT,				/* not in the object: the parent id of the call */
	CF_JSON_ACCOUNT				/* not in the object: the account of the call */
} CfJsonKind;

/* Which values the API can take for an equality filter on a column. */
typedef enum CfValueCheck
{
	CF_CHECK_NONE,
	CF_CHECK_ID,				/* 32 lowercase hex */
	CF_CHECK_MEMBER_STATUS,		/* accepted | pending | rejected */
	CF_CHECK_ENUM,				/* one of CfColumn.allowed */
	CF_CHECK_EMAIL,				/* an email address */
	CF_CHECK_NOT_EMPTY			/* any string but "" (an empty parameter
								 * would be no filter at all) */
} CfValueCheck;

/* What a write may do with a column (CfColumn.writes). */
#define CF_W_INSERT		0x01		/* may be given in an INSERT */
#define CF_W_REQUIRED	0x02		/* must be given in an INSERT */
#define CF_W_UPDATE		0x04		/* may be changed by an UPDATE */
#define CF_W_KEY		0x08		/* names the row in UPDATE and DELETE paths */
#define CF_W_ONE_OF		0x10		/* an INSERT needs at least one of these */

/*
 * How a writable column's value goes into a request body (CfColumn.
 * write_shape), each checked before the call that carries it.
 */
typedef enum CfWriteShape
{
	CF_WRITE_NONE,				/* not in a body (read-only, or in the path) */
	CF_WRITE_TEXT,				/* a non-empty string */
	CF_WRITE_EMAIL,				/* an email address */
	CF_WRITE_NEW_STATUS,		/* accepted | pending (a new member's) */
	CF_WRITE_POLICIES,			/* policy objects, ids per CfPolicyIds */
	CF_WRITE_ROLE_IDS,			/* text[] of role ids */
	CF_WRITE_ROLE_REFS,			/* jsonb: role ids or {"id": ...} objects */
	CF_WRITE_TOKEN_STATUS,		/* active | disabled (an API token's) */
	CF_WRITE_TIMESTAMP,			/* timestamptz, sent as RFC 3339 in UTC */
	CF_WRITE_JSON_ARRAY,		/* jsonb array, sent as it is */
	CF_WRITE_JSON_OBJECT		/* jsonb object, sent as it is */
} CfWriteShape;

/* What a body's policies carry of their own ids (CfResource). */
typedef enum CfPolicyIds
{
	CF_POLICY_IDS_DROP,			/* never sent */
	CF_POLICY_IDS_KEEP,			/* sent when given */
	CF_POLICY_IDS_REQUIRE		/* each policy must name its id */
} CfPolicyIds;

/* Which statements a resource takes (CfResource.operations). */
#define CF_OP_INSERT	0x01
#define CF_OP_UPDATE	0x02
#define CF_OP_DELETE	0x04

typedef struct CfColumn
{
	const char *name;			/* SQL column name */
	const char *sql_type;		/* canonical type, as IMPORT declares it */
	const char *json_path;		/* dotted path in the API object */
	const char *json_fallback;	/* second path tried when the first is absent */
	CfJsonKind	json_kind;
	CfValueCheck check;			/* values an equality qual may take */
	const char *eq_param;		/* query parameter for "col = v" (exact) */
	bool		eq_rechecked;	/* eq_param is not promised exact (the API's
								 * description does not say): rechecked */
	bool		eq_any;			/* eq_param may repeat, any of its values:
								 * "col = ANY(array)" too, once per value */
	const char *ne_param;		/* query parameter for "col <> v", repeated
								 * for "col <> ALL(array)": none of them
								 * (rechecked: rows without the field pass) */
	const char *allowed;		/* CF_CHECK_ENUM: "a|b|c" */
	const char *fuzzy_param;	/* query parameter for "col LIKE '%v%'" */
	const char *order_value;	/* value of ?order= that sorts by it, or "" when
								 * ?direction= alone does; NULL: not sortable */
	bool		nullable;		/* may be null: API null placement unknown */
	int			writes;			/* CF_W_* flags */
	CfWriteShape write_shape;	/* how a write sends it */
	const char *body_field;		/* its field in a request body */
} CfColumn;

/*
 * How a listing comes in pages (CfResource.paging).  The page size is
 * between per_page_min and per_page_max either way.
 */
typedef enum CfPaging
{
	CF_PAGING_NONE,				/* one answer holds the whole list */
	CF_PAGING_PAGES,			/* page=N&per_page=S; result_info.total_count
								 * tells how many pages, which are then
								 * fetched a window at a time */
	CF_PAGING_CURSOR			/* limit=S, then cursor=C with C the previous
								 * answer's result_info.cursor: one page after
								 * the other, the number of pages unknown */
} CfPaging;

/*
 * A listing that is asked for a time range (the audit log): the quals on
 * one timestamptz column become two dates, the first day and the day after
 * the last, in UTC, so that the API's range covers the query's; the quals
 * are rechecked.  Without a lower bound it is asked for the retention
 * period, without an upper bound up to tomorrow.
 */
typedef struct CfTimeRange
{
	const char *column;			/* the timestamptz column */
	const char *since_param;	/* the first day, included */
	const char *before_param;	/* the day after the last */
	int			retention_months;	/* how far back the API keeps rows */
} CfTimeRange;

typedef struct CfResource
{
	const char *name;			/* value of the "resource" table option */
	const char *item_name;		/* one item, in words: "user group" */
	const char *list_path;		/* printf: account id [, parent id] */
	const char *item_path;		/* printf: account id, [parent id,] item id */
	const struct CfResource *parent;	/* resource listed to find parents */
	const char *parent_column;	/* column holding the parent id */
	CfPaging	paging;
	int			per_page_min;
	int			per_page_max;
	double		rows_estimate;	/* planner's guess for a full listing */
	const CfColumn *columns;
	int			ncolumns;
	int			operations;		/* CF_OP_* flags; 0: read-only */
	CfPolicyIds policy_ids_insert;	/* policies of a POST */
	CfPolicyIds policy_ids_update;	/* policies of a PUT */
	const char *one_of_reason;	/* why an INSERT needs a CF_W_ONE_OF column */
	const char *list_query;		/* query parameters every listing sends
								 * ("a=b&"), or NULL */
	bool		update_whole;	/* a PUT takes the whole object: an UPDATE
								 * sends every writable column */
	const CfTimeRange *time_range;	/* a listing needs a time range, or
									 * NULL */
	bool		no_account;		/* its paths name no account (list_path has
								 * no %s, item_path only the item's): it
								 * is what the credential can see, not one
								 * account's (GET /accounts) */
} CfResource;

extern const CfResource *cf_resource_by_name(const char *name);
extern const CfColumn *cf_column_by_name(const CfResource *res, const char *name);
extern const CfColumn *cf_key_column(const CfResource *res);
extern int	cf_resource_count(void);
extern const CfResource *cf_resource_by_index(int i);
extern const char *cf_resource_names(void);
extern const CfColumn **cf_map_columns(Relation rel, const CfResource *res, int *natts);
extern char *cf_resource_path(const CfResource *res, const char *account_id,
							  const char *parent_id, const char *item_id);
extern bool cf_is_id(const char *s);
extern bool cf_is_member_status(const char *s);
extern bool cf_is_one_of(const char *allowed, const char *s);
extern bool cf_is_email(const char *s);

/* ---------------------------------------------------------------------
 * option.c
 * ---------------------------------------------------------------------
 */

/* Everything a scan needs from the server, user mapping and table options. */
typedef struct CfTableOptions
{
	const CfResource *resource;
	char	   *account_id;		/* NULL: every account the credential sees */
	bool		skip_forbidden_accounts;	/* a 403 from one account of
											 * several: NOTICE, not error */
	bool		order_pushdown;
	bool		count_pushdown;	/* count(*) from result_info.total_count */
	int			cache_ttl;		/* seconds a GET's answer is reused; 0: off */
	double		startup_cost;	/* fdw_startup_cost: once per scan */
	double		request_cost;	/* fdw_request_cost: one API round trip */
	double		tuple_cost;		/* fdw_tuple_cost: one row received */
} CfTableOptions;

/* Defaults of the cost options (planner units: a page read is 1). */
#define CF_DEFAULT_STARTUP_COST 100.0
#define CF_DEFAULT_REQUEST_COST 50.0
#define CF_DEFAULT_TUPLE_COST 0.01

/* Bounds and default of the max_concurrency server option. */
#define CF_MAX_CONCURRENCY 16
#define CF_DEFAULT_CONCURRENCY 12

/*
 * Bounds and default of the max_requests_per_second server option: request
 * starts per second to the server's API host; 0 is not paced.  Preloaded,
 * every backend shares one pace per host (limits.c), so that the default
 * plus the burst (CF_START_BURST) stays inside Cloudflare's 200 per second
 * per client IP; sql/pace.sql and the backends benchmark measure it.
 */
#define CF_MAX_REQUESTS_PER_SECOND 10000
#define CF_DEFAULT_REQUESTS_PER_SECOND 160

typedef struct CfServerOptions
{
	char	   *api_url;
	long		timeout_ms;
	long		connect_timeout_ms;
	int			max_retries;
	char	   *ca_file;		/* CA bundle for TLS, or NULL: the system's */
	char	   *proxy;			/* egress proxy URL, or NULL: libcurl's
								 * proxy environment variables apply */
	int			max_concurrency;	/* GETs in flight at once, 1..16 */
	int			max_requests_per_second;	/* request starts; 0: not paced */
} CfServerOptions;

extern void cf_get_server_options(ForeignServer *server, CfServerOptions *opts);
extern void cf_get_table_options(Oid foreigntableid, CfTableOptions *opts);
extern bool cf_is_loopback_url(const char *url);

/* ---------------------------------------------------------------------
 * pushdown.c
 * ---------------------------------------------------------------------
 */

/*
 * What one scan asks the API for, decided at plan time.  It is stored in
 * ForeignScan.fdw_private as a List (see cf_plan_to_list) so that cached and
 * generic plans keep it; values come from fdw_exprs, evaluated at run time.
 */
typedef struct CfFilter
{
	char	   *param;			/* query parameter name */
	int			expr;			/* index into fdw_exprs */
	bool		fuzzy;			/* LIKE pattern: send only a '%v%' core */
	bool		is_array;		/* the value is an array: the parameter is
								 * repeated, once per element */
	bool		negated;		/* param is a column's ne_param */
} CfFilter;

typedef struct CfJoinPlan CfJoinPlan;

typedef struct CfScanPlan
{
	const CfResource *resource;
	int			id_expr;		/* -1, or fdw_exprs index of the id value(s) */
	bool		id_is_array;	/* id = ANY(array) */
	int			parent_expr;	/* -1 (all parents), or index of parent id(s) */
	bool		parent_is_array;
	int			account_expr;	/* -1 (the server's account, or every one
								 * the credential sees), or index of the
								 * account id(s) of account_id = v / ANY */
	bool		account_is_array;
	List	   *filters;		/* CfFilter * */
	const char *order_value;	/* ?order= value, NULL for none */
	const char *direction;		/* ?direction= value, NULL for none */
	List	   *since_exprs;	/* Integer fdw_exprs indexes: lower bounds of
								 * the resource's time range */
	List	   *before_exprs;	/* Integer indexes: its upper bounds */
	int			limit_expr;		/* -1, or index of LIMIT count (a hint) */
	bool		limit_per_account;	/* over several accounts, ORDER BY sent to
									 * each: no account gives more rows than
									 * LIMIT (+ OFFSET), PostgreSQL sorts */
	int			offset_expr;	/* -1, or index of OFFSET */
	bool		all_exact;		/* every qual was pushed exactly */
	List	   *expr_labels;	/* String per fdw_expr: how EXPLAIN names an
								 * outer column ("g.id"), or "" */
	List	   *used_attnos;	/* Integer attnos the query reads: only these
								 * columns are converted */
	bool		count_only;		/* count(*) pushed down: one smallest page,
								 * answered from result_info.total_count */
	bool		count_by_account;	/* ... GROUP BY account_id: a row per
									 * account, its account_id and count */
	CfJoinPlan *join;			/* a pushed join of the groups with their
								 * members (this plan lists the members) */

	/* planner only, not serialized: the quals that became id / parent */
	RestrictInfo *id_rinfo;
	RestrictInfo *parent_rinfo;
	RestrictInfo *account_rinfo;
} CfScanPlan;

/*
 * user_groups g [LEFT] JOIN user_group_members m ON m.user_group_id = g.id
 * as one scan: the groups' listing (with g's filters), then each group's
 * members (with m's filters).  The scan's tuple is fdw_scan_tlist: every
 * entry a Var of one side, named here by side and attno.
 */
struct CfJoinPlan
{
	JoinType	jointype;		/* JOIN_INNER or JOIN_LEFT */
	CfScanPlan *groups;			/* the listing of the groups */
	int			group_rti;		/* executor only: range table index of each
								 * side, found from fs_relids */
	int			member_rti;
	List	   *tlist_sides;	/* Integer per fdw_scan_tlist entry: 0 g, 1 m */
	List	   *tlist_attnos;	/* Integer per entry: that side's attno */
	char	   *relations;		/* "(cf.user_groups g) INNER JOIN (...)" */
	int			recheck_expr;	/* -1, or fdw_exprs index of the quals a
								 * LEFT join checks on each member */
};

/* Per-relation planner state, kept in RelOptInfo.fdw_private. */
typedef struct CfRelInfo
{
	CfTableOptions opts;
	const CfColumn **attr_columns;	/* by attno - 1; NULL for dropped */
	int			natts;
	Oid			serverid;
	Oid			userid;			/* whose user mapping the scan uses */
	double		reltuples;		/* pg_class.reltuples, -1: never analyzed */
	int			max_concurrency;	/* the server's */
} CfRelInfo;

extern CfScanPlan *cf_plan_quals(PlannerInfo *root, RelOptInfo *baserel,
								 List *clauses, List **fdw_exprs,
								 List **local_quals);
extern List *cf_useful_pathkeys(PlannerInfo *root, RelOptInfo *baserel,
								const char **order_value, const char **direction);
extern bool cf_parameterizable_column(RelOptInfo *baserel, Var *var);
extern void cf_plan_limit(PlannerInfo *root, RelOptInfo *baserel,
						  CfScanPlan *plan, List *pathkeys, bool sorted_per_account,
						  List **fdw_exprs);
extern List *cf_plan_to_list(CfScanPlan *plan);
extern CfScanPlan *cf_plan_from_list(List *list);
extern char *cf_plan_describe(CfScanPlan *plan, const char *account_id,
							  List *fdw_exprs, List *dpcontext, int per_page);
extern const CfScanPlan *cf_plan_accounts(const CfScanPlan *plan);
extern char *cf_plan_describe_accounts(CfScanPlan *plan, List *fdw_exprs,
									   List *dpcontext);
extern int	cf_plan_per_page(const CfScanPlan *plan, int64 limit_hint);
extern int64 cf_limit_hint(bool count_isnull, int64 count, bool offset_isnull,
						   int64 offset);
extern char *cf_like_core(const char *pattern);
extern const CfColumn *cf_filter_column(const CfResource *res, const CfFilter *filter);
extern char *cf_datum_text(Datum value, Oid type);
extern void cf_array_elements(Datum value, Datum **elems, bool **nulls, int *n,
							  Oid *elemtype);

/* What the bounds of one side of a time range ask (cf_add_bound). */
typedef enum CfBound
{
	CF_BOUND_DAY,				/* this day */
	CF_BOUND_NONE,				/* nothing: no bound, or none the API takes */
	CF_BOUND_EMPTY				/* no row can be within it */
} CfBound;

extern void cf_add_bound(CfBound *kind, DateADT *day, Datum value, bool isnull,
						 Oid type, bool lower);
extern void cf_range_defaults(const CfTimeRange *range, TimestampTz now,
							  DateADT *since, DateADT *before);
extern char *cf_format_day(DateADT day);
extern void cf_plan_label_exprs(PlannerInfo *root, RelOptInfo *baserel,
								CfScanPlan *plan, List *fdw_exprs);

/* ---------------------------------------------------------------------
 * join.c
 * ---------------------------------------------------------------------
 */

extern void cfGetForeignJoinPaths(PlannerInfo *root, RelOptInfo *joinrel,
								  RelOptInfo *outerrel, RelOptInfo *innerrel,
								  JoinType jointype, JoinPathExtraData *extra);
extern ForeignScan *cf_join_plan(PlannerInfo *root, RelOptInfo *joinrel,
								 List *tlist, Plan *outer_plan);

/* ---------------------------------------------------------------------
 * estimate.c
 * ---------------------------------------------------------------------
 */

/* rows guessed for an id = ANY(param) or parent = ANY(param) list */
#define CF_ARRAY_GUESS 10

/* What a scan is expected to return and send. */
typedef struct CfEstimate
{
	double		rows;			/* rows returned (after local quals) */
	double		requests;		/* API calls */
	double		rounds;			/* calls one after another, concurrency
								 * taken into account */
} CfEstimate;

extern void cf_remember_total(Oid serverid, const char *account_id,
							  const CfResource *res, double rows);
extern double cf_known_total(Oid serverid, const char *account_id,
							 const CfResource *res);
extern double cf_resource_rows(const CfRelInfo *info, const CfResource *res,
							   double reltuples);
extern void cf_estimate_scan(PlannerInfo *root, RelOptInfo *baserel,
							 const CfScanPlan *plan, List *clauses,
							 List *fdw_exprs, List *local_quals,
							 bool parameterized, CfEstimate *est);
extern void cf_scan_costs(const CfRelInfo *info, const CfEstimate *est,
						  bool parameterized, Cost *startup, Cost *total);

/* ---------------------------------------------------------------------
 * analyze.c
 * ---------------------------------------------------------------------
 */

extern bool cfAnalyzeForeignTable(Relation relation,
								  AcquireSampleRowsFunc *func,
								  BlockNumber *totalpages);

/* ---------------------------------------------------------------------
 * http.c
 * ---------------------------------------------------------------------
 */

typedef struct CfConnection CfConnection;

typedef struct CfHttpResponse
{
	long		status;			/* HTTP status */
	char	   *body;			/* palloc'd, NUL-terminated */
	size_t		body_len;
	int			connects;		/* new connections the request opened */
	int			retries;		/* attempts repeated (see http.c) */
	const char *protocol;		/* "HTTP/2", "HTTP/1.1"; NULL if unknown */
	bool		cached;			/* answered from the result cache, not sent */
} CfHttpResponse;

extern CfConnection *cf_get_connection(ForeignServer *server, UserMapping *user);
extern void cf_http_request(CfConnection *conn, const char *method,
							const char *path_and_query, const char *body,
							CfHttpResponse *response);
extern void cf_http_get(CfConnection *conn, const char *path_and_query,
						int cache_ttl, CfHttpResponse *response);
extern int	cf_http_get_many(CfConnection *conn, char *const *paths, int n,
							 CfHttpResponse *responses, int cache_ttl);
extern int	cf_http_delete_many(CfConnection *conn, char *const *paths, int n,
								CfHttpResponse *responses);
extern int	cf_http_max_concurrency(CfConnection *conn);
extern void cf_http_reserve(CfConnection *conn, int64 n, const char *what);
extern void cf_http_prepay(CfConnection *conn, int n);
extern void cf_http_prepay_end(CfConnection *conn);
extern char *cf_escape(const char *value);
extern void cf_http_init(void);

/* ---------------------------------------------------------------------
 * cache.c
 * ---------------------------------------------------------------------
 */

extern void cf_cache_init(void);
extern bool cf_cache_get(Oid umid, uint64 credential, const char *url,
						 char **body, size_t *body_len);
extern uint64 cf_cache_epoch(void);
extern void cf_cache_put(Oid umid, uint64 credential, const char *url, const char *path,
						 const char *body, size_t body_len, int ttl_s, uint64 epoch);
extern void cf_cache_invalidate_account(const char *path);
extern bool cf_cache_is_shared(void);

/* ---------------------------------------------------------------------
 * deferred.c
 * ---------------------------------------------------------------------
 */

extern void cf_deferred_init(void);
extern bool cf_deferred_mode(void);
extern bool cf_deferred_queued(void);
extern void cf_defer_call(Oid serverid, Oid userid, const CfResource *res,
						  const char *account, const char *method, const char *path,
						  const char *body);
extern void cf_defer_member(Oid serverid, Oid userid, const CfResource *res,
							const char *account, const char *group, const char *member,
							bool add);
extern int	cf_deferred_count(const CfResource *res, const char *account);
extern int	cf_deferred_membership(const char *account, const char *group,
								   const char *member);
extern List *cf_deferred_additions(const char *account, const char *group);
extern bool cf_deferred_provisional(const char *group);
extern bool cf_deferred_new_group(const char *account, const char *group);
extern List *cf_deferred_new_groups(const char *account);

/* ---------------------------------------------------------------------
 * limits.c
 * ---------------------------------------------------------------------
 */

/* at most this many request starts at once after an idle while */
#define CF_START_BURST 16

extern void cf_limits_init(void);
extern bool cf_limits_shared(void);
extern void cf_limits_sleep(long wait_ms);
extern void cf_budget_check(int64 more, const char *what);
extern void cf_budget_spend(int n);
extern bool cf_pace_try(const char *host, long interval_us, long *wait_ms);
extern void cf_pace_wait(const char *host, long interval_us);
extern void cf_window_check(uint64 key, int64 n);
extern bool cf_window_try_take(uint64 key, int n, long *wait_ms);
extern void cf_window_take(uint64 key, int n);
extern void cf_window_release(uint64 key, int n);
extern void cf_window_answered(uint64 key, TimestampTz sent_at, bool answered,
							   bool heard, int remaining, int reset_s, long block_s);
extern bool cf_window_known(uint64 key, int *remaining, TimestampTz *reset_at);

/* ---------------------------------------------------------------------
 * usage.c
 * ---------------------------------------------------------------------
 */

/* what to add to a server and role's counters */
typedef struct CfUsageDelta
{
	int			requests;
	int			errors;
	int			retries;
	int			cache_hits;
	int64		bytes_received;
	uint64		window_key;		/* the credential's window, or 0 */
} CfUsageDelta;

extern void cf_usage_init(void);
extern void cf_usage_count(Oid serverid, const CfUsageDelta *d);

/* ---------------------------------------------------------------------
 * convert.c
 * ---------------------------------------------------------------------
 */

/* cJSON trees cfiam holds are palloc'd: see the comment atop convert.c */
extern cJSON *cf_json_parse(const char *text, size_t len, const char **why);
extern char *cf_json_print(const cJSON *item);
extern cJSON *cf_json_object(void);
extern cJSON *cf_json_array(void);
extern cJSON *cf_json_string(const char *value);
extern cJSON *cf_json_copy(const cJSON *item);
extern cJSON *cf_json_append(cJSON *array, cJSON *item);
extern cJSON *cf_json_add(cJSON *object, const char *key, cJSON *item);
extern cJSON *cf_json_add_string(cJSON *object, const char *key, const char *value);
extern cJSON *cf_decode_envelope(const CfHttpResponse *response,
								 const char *method, const char *path_and_query,
								 bool *not_found);
extern void cf_object_to_values(const CfResource *res, cJSON *object,
								const char *parent_id, const char *account_id,
								TupleDesc tupdesc,
								const CfColumn **attr_columns,
								AttInMetadata *attinmeta,
								Datum *values, bool *nulls,
								const char *table_name);
extern const char *cf_json_get_string(cJSON *object, const char *path);
extern bool cf_envelope_success(const CfHttpResponse *response);
extern cJSON *cf_envelope_result(cJSON *doc, const char *method, const char *path_and_query);
extern cJSON *cf_list_result(cJSON *doc, const char *path_and_query);

/* ---------------------------------------------------------------------
 * scan.c
 * ---------------------------------------------------------------------
 */

extern void cfBeginForeignScan(ForeignScanState *node, int eflags);
extern TupleTableSlot *cfIterateForeignScan(ForeignScanState *node);
extern void cfReScanForeignScan(ForeignScanState *node);
extern void cfEndForeignScan(ForeignScanState *node);
extern void cfExplainForeignScan(ForeignScanState *node, ExplainState *es);

/* ---------------------------------------------------------------------
 * modify.c
 * ---------------------------------------------------------------------
 */

extern int	cfIsForeignRelUpdatable(Relation rel);
extern void cfAddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
									  RangeTblEntry *target_rte,
									  Relation target_relation);
extern List *cfPlanForeignModify(PlannerInfo *root, ModifyTable *plan,
								 Index resultRelation, int subplan_index);
extern void cfBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
								 List *fdw_private, int subplan_index, int eflags);
extern TupleTableSlot *cfExecForeignInsert(EState *estate, ResultRelInfo *rinfo,
										   TupleTableSlot *slot,
										   TupleTableSlot *planSlot);
extern TupleTableSlot **cfExecForeignBatchInsert(EState *estate, ResultRelInfo *rinfo,
												 TupleTableSlot **slots,
												 TupleTableSlot **planSlots,
												 int *numSlots);
extern int	cfGetForeignModifyBatchSize(ResultRelInfo *rinfo);
extern TupleTableSlot *cfExecForeignUpdate(EState *estate, ResultRelInfo *rinfo,
										   TupleTableSlot *slot,
										   TupleTableSlot *planSlot);
extern TupleTableSlot *cfExecForeignDelete(EState *estate, ResultRelInfo *rinfo,
										   TupleTableSlot *slot,
										   TupleTableSlot *planSlot);
extern void cfEndForeignModify(EState *estate, ResultRelInfo *rinfo);
extern void cfBeginForeignInsert(ModifyTableState *mtstate, ResultRelInfo *rinfo);
extern void cfEndForeignInsert(EState *estate, ResultRelInfo *rinfo);
extern void cfExplainForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
								   List *fdw_private, int subplan_index,
								   ExplainState *es);

/* cfiam_fdw.c: the handler, which also tells a cfiam server from others */
extern Datum cfiam_handler(PG_FUNCTION_ARGS);

#endif							/* CFIAM_H */
