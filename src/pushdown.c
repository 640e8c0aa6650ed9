/*-------------------------------------------------------------------------
 *
 * pushdown.c
 *		Deciding what a scan asks of the API: which quals become path ids or
 *		query parameters, which ORDER BY is the API's, what LIMIT allows.
 *
 * A pushed qual is "exact" when the API applies exactly PostgreSQL's test
 * (id, name, status and parent-id equality, = ANY of the audit log's
 * filters): it is then not rechecked.  A LIKE is sent as the API's
 * substring search, a <> as the audit log's NAME.not (which keeps the rows
 * without the field), a time range as whole days and an equality the API
 * does not promise to be exact (an account's name) as it is: each is
 * rechecked.
 *
 * Values are not looked at here: they may be Params of a generic plan or
 * outer Vars of a nested loop.  They go to fdw_exprs and are evaluated when
 * the scan starts; the plan itself is a copyable List (cf_plan_to_list).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "cfiam.h"

#include "catalog/pg_collation.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_opfamily.h"
#include "catalog/pg_operator.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/parsetree.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/pg_locale.h"
#include "utils/ruleutils.h"

typedef enum QualKind
{
	QUAL_EQ,					/* col = expr */
	QUAL_ANY,					/* col = ANY(expr) */
	QUAL_NE,					/* col <> expr */
	QUAL_NOT_IN,				/* col <> ALL(expr), NOT IN */
	QUAL_LIKE,					/* col LIKE / ILIKE expr */
	QUAL_RANGE					/* time range column <, <=, =, >=, > expr */
} QualKind;

typedef struct QualInfo
{
	RestrictInfo *rinfo;
	const CfColumn *column;
	QualKind	kind;
	Expr	   *value;
	int			strategy;		/* QUAL_RANGE: BT*StrategyNumber, with the
								 * column on the left */
	bool		used;
} QualInfo;

static Var *
strip_to_var(Node *node)
{
	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	return (node && IsA(node, Var)) ? (Var *) node : NULL;
}

/* The catalog column behind a Var of the scanned relation, if any. */
static const CfColumn *
column_of(RelOptInfo *baserel, Node *node)
{
	CfRelInfo  *info = (CfRelInfo *) baserel->fdw_private;
	Var		   *var = strip_to_var(node);

	if (var == NULL || var->varno != baserel->relid || var->varlevelsup != 0 ||
		var->varattno <= 0 || var->varattno > info->natts)
		return NULL;
	return info->attr_columns[var->varattno - 1];
}

/* Can this expression be evaluated before the scan, for the API to use? */
static bool
is_outside_value(PlannerInfo *root, RelOptInfo *baserel, Node *expr)
{
	return !bms_is_member(baserel->relid, pull_varnos(root, expr)) &&
		!contain_volatile_functions(expr) &&
		!contain_subplans(expr) &&
		!contain_agg_clause(expr) &&
		!contain_window_function(expr);
}

/* Text equality that means byte equality (no nondeterministic collation). */
static bool
is_plain_text_eq(Oid opno, Oid inputcollid)
{
	return opno == TextEqualOperator &&
		(!OidIsValid(inputcollid) || get_collation_isdeterministic(inputcollid));
}

/*
 * Equality the API can test: text byte for byte, or integers (the audit
 * log's status codes).  With negated, the operator is the inequality.
 */
static bool
is_api_eq(Oid opno, Oid inputcollid, bool negated)
{
	Oid			eq = negated ? get_negator(opno) : opno;

	return is_plain_text_eq(eq, inputcollid) || eq == Int4EqualOperator;
}

/*
 * "col OP v" or "v OP col" with col a column of the relation and v a value
 * known before the scan: the column, the value and whether it was on the
 * right.
 */
static bool
column_and_value(PlannerInfo *root, RelOptInfo *baserel, OpExpr *op,
				 QualInfo *qi, bool *commuted)
{
	Node	   *left = linitial(op->args);
	Node	   *right = lsecond(op->args);

	*commuted = false;
	if ((qi->column = column_of(baserel, left)) != NULL &&
		is_outside_value(root, baserel, right))
		qi->value = (Expr *) right;
	else if ((qi->column = column_of(baserel, right)) != NULL &&
			 is_outside_value(root, baserel, left))
	{
		qi->value = (Expr *) left;
		*commuted = true;
	}
	else
		return false;
	return true;
}

/*
 * A comparison of the resource's time range column with a timestamptz, a
 * date or a timestamp (compared in the session's time zone, as PostgreSQL
 * does): its btree strategy with the column on the left, or 0.
 */
static int
range_strategy(RelOptInfo *baserel, OpExpr *op, const QualInfo *qi, bool commuted)
{
	const CfTimeRange *range = ((CfRelInfo *) baserel->fdw_private)->opts.resource->time_range;
	Oid			family = get_opclass_family(TIMESTAMPTZ_BTREE_OPS_OID);
	Oid			coltype = exprType(commuted ? lsecond(op->args) : linitial(op->args));
	Oid			valtype = exprType((Node *) qi->value);
	int			strategy;

	if (range == NULL || strcmp(qi->column->name, range->column) != 0 ||
		coltype != TIMESTAMPTZOID ||
		(valtype != TIMESTAMPTZOID && valtype != DATEOID && valtype != TIMESTAMPOID))
		return 0;
	strategy = get_op_opfamily_strategy(op->opno, family);
	if (strategy == 0 || !commuted)
		return strategy;
	/* "v < col" is "col > v" */
	switch (strategy)
	{
		case BTLessStrategyNumber:
			return BTGreaterStrategyNumber;
		case BTLessEqualStrategyNumber:
			return BTGreaterEqualStrategyNumber;
		case BTGreaterEqualStrategyNumber:
			return BTLessEqualStrategyNumber;
		case BTGreaterStrategyNumber:
			return BTLessStrategyNumber;
	}
	return strategy;
}

/*
 * Recognise "col = v", "v = col", "col = ANY(v)", "col <> v", "col <>
 * ALL(v)" (NOT IN), "col [I]LIKE v", and comparisons of a time range column.
 */
static bool
classify_clause(PlannerInfo *root, RelOptInfo *baserel, RestrictInfo *rinfo,
				QualInfo *qi)
{
	Expr	   *clause = rinfo->clause;

	memset(qi, 0, sizeof(*qi));
	qi->rinfo = rinfo;

	if (IsA(clause, OpExpr) && list_length(((OpExpr *) clause)->args) == 2)
	{
		OpExpr	   *op = (OpExpr *) clause;
		Node	   *left = linitial(op->args);
		Node	   *right = lsecond(op->args);
		bool		commuted;

		if (is_api_eq(op->opno, op->inputcollid, false) ||
			is_api_eq(op->opno, op->inputcollid, true))
		{
			if (!column_and_value(root, baserel, op, qi, &commuted))
				return false;
			qi->kind = is_api_eq(op->opno, op->inputcollid, false) ? QUAL_EQ : QUAL_NE;
			return true;
		}
		if (column_and_value(root, baserel, op, qi, &commuted) &&
			(qi->strategy = range_strategy(baserel, op, qi, commuted)) != 0)
		{
			qi->kind = QUAL_RANGE;
			return true;
		}
		qi->column = NULL;
		qi->value = NULL;
		if ((op->opno == OID_TEXT_LIKE_OP || op->opno == OID_TEXT_ICLIKE_OP) &&
			(qi->column = column_of(baserel, left)) != NULL &&
			qi->column->fuzzy_param != NULL &&
			is_outside_value(root, baserel, right))
		{
			/* A constant pattern without a literal core cannot help. */
			if (IsA(right, Const) &&
				(((Const *) right)->constisnull ||
				 cf_like_core(TextDatumGetCString(((Const *) right)->constvalue)) == NULL))
				return false;
			qi->kind = QUAL_LIKE;
			qi->value = (Expr *) right;
			return true;
		}
		return false;
	}

	if (IsA(clause, ScalarArrayOpExpr))
	{
		ScalarArrayOpExpr *saop = (ScalarArrayOpExpr *) clause;

		/* = ANY(...) and IN (...); <> ALL(...) and NOT IN (...) */
		if (is_api_eq(saop->opno, saop->inputcollid, !saop->useOr) &&
			(qi->column = column_of(baserel, linitial(saop->args))) != NULL &&
			is_outside_value(root, baserel, lsecond(saop->args)))
		{
			qi->kind = saop->useOr ? QUAL_ANY : QUAL_NOT_IN;
			qi->value = (Expr *) lsecond(saop->args);
			return true;
		}
	}
	return false;
}

static int
add_expr(List **fdw_exprs, Expr *expr)
{
	*fdw_exprs = lappend(*fdw_exprs, expr);
	return list_length(*fdw_exprs) - 1;
}

static QualInfo *
find_qual(QualInfo *quals, int n, const char *column, QualKind kind)
{
	for (int i = 0; i < n; i++)
		if (!quals[i].used && quals[i].kind == kind &&
			strcmp(quals[i].column->name, column) == 0)
			return &quals[i];
	return NULL;
}

/*
 * Send a value as query parameter `param` (is_array: once per element);
 * false when the parameter is already taken: a second "name = ..." stays
 * local, since the API would take rows matching either.  A negated
 * parameter may repeat: it excludes every value it is given, as the quals
 * together do.
 */
static bool
add_filter(CfScanPlan *plan, const char *param, Expr *value, List **fdw_exprs,
		   bool fuzzy, bool is_array, bool negated)
{
	CfFilter   *filter;
	ListCell   *lc;

	foreach(lc, plan->filters)
		if (!negated && strcmp(((CfFilter *) lfirst(lc))->param, param) == 0)
			return false;
	filter = palloc0(sizeof(CfFilter));
	filter->param = (char *) param;
	filter->expr = add_expr(fdw_exprs, value);
	filter->fuzzy = fuzzy;
	filter->is_array = is_array;
	filter->negated = negated;
	plan->filters = lappend(plan->filters, filter);
	return true;
}

/* The column whose filter this is. */
const CfColumn *
cf_filter_column(const CfResource *res, const CfFilter *filter)
{
	for (int i = 0; i < res->ncolumns; i++)
	{
		const CfColumn *col = &res->columns[i];
		const char *param = filter->fuzzy ? col->fuzzy_param :
			filter->negated ? col->ne_param : col->eq_param;

		if (param && strcmp(param, filter->param) == 0)
			return col;
	}
	return NULL;
}

/*
 * A comparison with the time range column: its value is a lower bound, an
 * upper bound, or (equality) both.  The API's range is made of whole days:
 * the qual is rechecked.
 */
static void
add_range_bound(CfScanPlan *plan, QualInfo *qi, List **fdw_exprs)
{
	int			expr = add_expr(fdw_exprs, qi->value);

	if (qi->strategy != BTLessStrategyNumber && qi->strategy != BTLessEqualStrategyNumber)
		plan->since_exprs = lappend(plan->since_exprs, makeInteger(expr));
	if (qi->strategy != BTGreaterStrategyNumber && qi->strategy != BTGreaterEqualStrategyNumber)
		plan->before_exprs = lappend(plan->before_exprs, makeInteger(expr));
}

/*
 * Push one qual of a listing as a query parameter, if its column has one.
 * Returns false when it is not pushed; *recheck when it is pushed but
 * PostgreSQL must still check it.
 */
static bool
push_filter(CfScanPlan *plan, QualInfo *qi, List **fdw_exprs, bool *recheck)
{
	const CfColumn *col = qi->column;

	*recheck = false;
	switch (qi->kind)
	{
		case QUAL_EQ:
			*recheck = col->eq_rechecked;
			return col->eq_param &&
				add_filter(plan, col->eq_param, qi->value, fdw_exprs, false, false, false);
		case QUAL_ANY:
			return col->eq_param && col->eq_any &&
				add_filter(plan, col->eq_param, qi->value, fdw_exprs, false, true, false);
		case QUAL_NE:
		case QUAL_NOT_IN:
			/* NAME.not keeps the rows without the field: SQL's <> does not */
			*recheck = true;
			return col->ne_param &&
				add_filter(plan, col->ne_param, qi->value, fdw_exprs, false,
						   qi->kind == QUAL_NOT_IN, true);
		case QUAL_LIKE:
			/* inexact: the API's substring search */
			*recheck = true;
			return add_filter(plan, col->fuzzy_param, qi->value, fdw_exprs, true, false, false);
		case QUAL_RANGE:
			*recheck = true;
			add_range_bound(plan, qi, fdw_exprs);
			return true;
	}
	return false;
}

/*
 * Split the scan's clauses into what the API does and what stays local,
 * and build the request plan.
 */
CfScanPlan *
cf_plan_quals(PlannerInfo *root, RelOptInfo *baserel, List *clauses,
			  List **fdw_exprs, List **local_quals)
{
	CfRelInfo  *info = (CfRelInfo *) baserel->fdw_private;
	const CfResource *res = info->opts.resource;
	CfScanPlan *plan = palloc0(sizeof(CfScanPlan));
	QualInfo   *quals = palloc0(sizeof(QualInfo) * (list_length(clauses) + 1));
	int			nquals = 0;
	QualInfo   *qi;
	ListCell   *lc;
	bool		by_id = false;

	plan->resource = res;
	plan->id_expr = plan->parent_expr = plan->account_expr = -1;
	plan->limit_expr = plan->offset_expr = -1;
	*local_quals = NIL;

	foreach(lc, clauses)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);

		if (classify_clause(root, baserel, rinfo, &quals[nquals]))
			nquals++;
		else
			*local_quals = lappend(*local_quals, rinfo);
	}

	/*
	 * account_id = v or = ANY(array) selects the accounts read (the column
	 * is no field of the API's objects: each account's answers are its).
	 */
	if ((qi = find_qual(quals, nquals, "account_id", QUAL_EQ)) != NULL ||
		(qi = find_qual(quals, nquals, "account_id", QUAL_ANY)) != NULL)
	{
		qi->used = true;
		plan->account_rinfo = qi->rinfo;
		plan->account_expr = add_expr(fdw_exprs, qi->value);
		plan->account_is_array = (qi->kind == QUAL_ANY);
	}

	/* The parent id (user_group_id) selects whose members are listed. */
	if (res->parent_column)
	{
		if ((qi = find_qual(quals, nquals, res->parent_column, QUAL_EQ)) != NULL ||
			(qi = find_qual(quals, nquals, res->parent_column, QUAL_ANY)) != NULL)
		{
			qi->used = true;
			plan->parent_rinfo = qi->rinfo;
			plan->parent_expr = add_expr(fdw_exprs, qi->value);
			plan->parent_is_array = (qi->kind == QUAL_ANY);
		}
	}

	/*
	 * id = v is a GET by id.  For a resource below a parent that needs the
	 * single parent id as well; id = ANY(...) becomes one GET per id.  A
	 * resource without GET by id (the audit log) has id as a filter.
	 */
	if (res->item_path != NULL &&
		(qi = find_qual(quals, nquals, "id", QUAL_EQ)) != NULL &&
		(res->parent == NULL || (plan->parent_expr >= 0 && !plan->parent_is_array)))
	{
		qi->used = true;
		plan->id_rinfo = qi->rinfo;
		plan->id_expr = add_expr(fdw_exprs, qi->value);
		by_id = true;
	}
	else if (res->item_path != NULL && res->parent == NULL &&
			 (qi = find_qual(quals, nquals, "id", QUAL_ANY)) != NULL)
	{
		qi->used = true;
		plan->id_rinfo = qi->rinfo;
		plan->id_expr = add_expr(fdw_exprs, qi->value);
		plan->id_is_array = true;
		by_id = true;
	}

	/* Query parameters only matter for a listing. */
	for (int i = 0; i < nquals && !by_id; i++)
	{
		bool		recheck;

		qi = &quals[i];
		if (qi->used || !push_filter(plan, qi, fdw_exprs, &recheck))
			continue;
		if (recheck)
		{
			*local_quals = lappend(*local_quals, qi->rinfo);
			qi->rinfo = NULL;
		}
		else
			qi->used = true;
	}

	/* Whatever was not used exactly is checked by PostgreSQL. */
	for (int i = 0; i < nquals; i++)
		if (!quals[i].used && quals[i].rinfo != NULL)
			*local_quals = lappend(*local_quals, quals[i].rinfo);

	plan->all_exact = (*local_quals == NIL);
	return plan;
}

/*
 * Is the API's order PostgreSQL's order for this sort?  The API compares
 * strings by code point (assumption, documented in the README), which is
 * PostgreSQL's "C" collation with the default text operator family; it
 * sorts times (the audit log's) in time order, as the datetime family does.
 */
static bool
sort_matches_api(PathKey *pk, const CfColumn *col)
{
	EquivalenceClass *ec = pk->pk_eclass;

	if (strcmp(col->sql_type, "timestamptz") == 0)
		return pk->pk_opfamily == get_opclass_family(TIMESTAMPTZ_BTREE_OPS_OID);
	if (pk->pk_opfamily != TEXT_BTREE_FAM_OID)
		return false;
	if (!OidIsValid(ec->ec_collation))
		return false;
	return lc_collate_is_c(ec->ec_collation);
}

/*
 * Pathkeys the scan can deliver for the query's ORDER BY, with the order
 * and direction parameters that produce them.  When the API can sort but
 * its order cannot be trusted for a nullable column, the parameters are
 * still returned (PostgreSQL then sorts an already sorted input) with NIL.
 */
List *
cf_useful_pathkeys(PlannerInfo *root, RelOptInfo *baserel,
				   const char **order_value, const char **direction)
{
	CfRelInfo  *info = (CfRelInfo *) baserel->fdw_private;
	PathKey    *pk;
	ListCell   *lc;

	*order_value = NULL;
	*direction = NULL;

	if (!info->opts.order_pushdown || list_length(root->query_pathkeys) != 1)
		return NIL;
	pk = linitial_node(PathKey, root->query_pathkeys);
	if (pk->pk_eclass->ec_has_volatile)
		return NIL;

	foreach(lc, pk->pk_eclass->ec_members)
	{
		EquivalenceMember *em = lfirst(lc);
		const CfColumn *col;

		if (!bms_equal(em->em_relids, baserel->relids))
			continue;
		col = column_of(baserel, (Node *) em->em_expr);
		if (col == NULL || col->order_value == NULL)
			continue;
		if (pk->pk_strategy != BTLessStrategyNumber &&
			pk->pk_strategy != BTGreaterStrategyNumber)
			return NIL;

		*order_value = col->order_value;
		*direction = pk->pk_strategy == BTLessStrategyNumber ? "asc" : "desc";
		/*
		 * With deferred writes a listing of members shows pending additions,
		 * which Cloudflare has not sorted (their email is not known yet).
		 */
		if (col->nullable || !sort_matches_api(pk, col) ||
			(info->opts.resource->parent && (cf_deferred_mode() || cf_deferred_queued())))
			return NIL;
		return root->query_pathkeys;
	}
	return NIL;
}

/*
 * Columns a nested loop may feed one value at a time: parent id and id, and
 * the account on a server without account_id.
 */
bool
cf_parameterizable_column(RelOptInfo *baserel, Var *var)
{
	CfRelInfo  *info = (CfRelInfo *) baserel->fdw_private;
	const CfColumn *col = column_of(baserel, (Node *) var);

	if (col == NULL)
		return false;
	/* a server over every account reads one account per outer row */
	if (col->json_kind == CF_JSON_ACCOUNT)
		return info->opts.account_id == NULL;
	if (info->opts.resource->parent_column)
		return strcmp(col->name, info->opts.resource->parent_column) == 0;
	return strcmp(col->name, "id") == 0;
}

/* Does the tree hold a Param set by the executor (subplan, nested loop)? */
static bool
contains_exec_param(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Param) && ((Param *) node)->paramkind == PARAM_EXEC)
		return true;
	return expression_tree_walker(node, contains_exec_param, context);
}

/*
 * A LIMIT or OFFSET the scan can evaluate when it starts: a constant or a
 * statement parameter, possibly cast (a generic plan's int8($1)).
 */
static bool
is_limit_value(Node *expr)
{
	return !contain_var_clause(expr) && !contain_volatile_functions(expr) &&
		!contain_subplans(expr) && !contains_exec_param(expr, NULL);
}

/*
 * The number of rows a LIMIT needs, or -1 for no limit: a NULL count
 * (LIMIT ALL / LIMIT NULL) has none, a NULL offset counts as 0, and the sum
 * saturates instead of overflowing.
 */
int64
cf_limit_hint(bool count_isnull, int64 count, bool offset_isnull, int64 offset)
{
	if (count_isnull)
		return -1;
	count = Max(count, 0);
	offset = offset_isnull ? 0 : Max(offset, 0);
	return count > PG_INT64_MAX - offset ? PG_INT64_MAX : count + offset;
}

/*
 * LIMIT is a page-size hint, taken only when this scan alone feeds the
 * Limit node: one relation, no grouping, aggregation, DISTINCT, window or
 * set-returning function, every qual pushed exactly, and ORDER BY either
 * absent or delivered by the scan.  Correctness never depends on it: the
 * executor stops asking for rows, and paging simply goes on if it does not.
 */
void
cf_plan_limit(PlannerInfo *root, RelOptInfo *baserel, CfScanPlan *plan,
			  List *pathkeys, bool sorted_per_account, List **fdw_exprs)
{
	Query	   *parse = root->parse;

	if (parse->limitCount == NULL || !plan->all_exact || plan->id_expr >= 0)
		return;
	if (parse->commandType != CMD_SELECT || parse->hasAggs || parse->groupClause ||
		parse->groupingSets || parse->havingQual || parse->hasWindowFuncs ||
		parse->distinctClause || parse->setOperations || parse->hasTargetSRFs ||
		parse->limitOption != LIMIT_OPTION_COUNT || parse->rowMarks)
		return;
	if (list_length(parse->jointree->fromlist) != 1 ||
		!IsA(linitial(parse->jointree->fromlist), RangeTblRef) ||
		((RangeTblRef *) linitial(parse->jointree->fromlist))->rtindex != (int) baserel->relid)
		return;
	/*
	 * ORDER BY delivered by the scan, or over several accounts sent to each
	 * of them (each account's first rows are then the only ones of it that
	 * can be among the first of all; PostgreSQL sorts them)
	 */
	if (parse->sortClause && !sorted_per_account &&
		(pathkeys == NIL || !pathkeys_contained_in(root->sort_pathkeys, pathkeys)))
		return;
	/* a fan-out over parents or several parents: the hint would not fit */
	if (plan->resource->parent && (plan->parent_expr < 0 || plan->parent_is_array))
		return;
	if (!is_limit_value(parse->limitCount) ||
		(parse->limitOffset && !is_limit_value(parse->limitOffset)))
		return;

	plan->limit_expr = add_expr(fdw_exprs, (Expr *) parse->limitCount);
	plan->limit_per_account = sorted_per_account && parse->sortClause != NIL;
	if (parse->limitOffset)
		plan->offset_expr = add_expr(fdw_exprs, (Expr *) parse->limitOffset);
}

/* The per_page to ask for: the API's maximum, or no more than LIMIT needs. */
int
cf_plan_per_page(const CfScanPlan *plan, int64 limit_hint)
{
	const CfResource *res = plan->resource;

	if (res->paging == CF_PAGING_NONE)
		return 0;
	if (limit_hint >= 0 && limit_hint < res->per_page_max)
		return (int) Max(limit_hint, (int64) res->per_page_min);
	return res->per_page_max;
}

/*
 * The literal core of a LIKE pattern that the API's substring search can
 * take: '%admins%' -> "admins".  NULL when the pattern has wildcards or
 * escapes inside, or nothing literal at all.
 */
char *
cf_like_core(const char *pattern)
{
	const char *start = pattern;
	const char *end = pattern + strlen(pattern);

	while (*start == '%')
		start++;
	while (end > start && end[-1] == '%')
		end--;
	if (end == start)
		return NULL;
	for (const char *p = start; p < end; p++)
		if (*p == '%' || *p == '_' || *p == '\\')
			return NULL;
	return pnstrdup(start, end - start);
}

/* ---- values ---- */

/* A value as text for a query parameter: its type's output function. */
char *
cf_datum_text(Datum value, Oid type)
{
	Oid			func;
	bool		varlena;

	if (type == TEXTOID)
		return TextDatumGetCString(value);
	getTypeOutputInfo(type, &func, &varlena);
	return OidOutputFunctionCall(func, value);
}

/* The elements of an array value, their nulls and their type. */
void
cf_array_elements(Datum value, Datum **elems, bool **nulls, int *n, Oid *elemtype)
{
	ArrayType  *arr = DatumGetArrayTypeP(value);
	int16		typlen;
	bool		typbyval;
	char		typalign;

	*elemtype = ARR_ELEMTYPE(arr);
	get_typlenbyvalalign(*elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(arr, *elemtype, typlen, typbyval, typalign, elems, nulls, n);
}

/* ---- the time range of a listing (CfTimeRange) ---- */

/* The days the API's dates can say, YYYY-MM-DD: years 1 to 9999. */
static DateADT
first_api_day(void)
{
	return date2j(1, 1, 1) - POSTGRES_EPOCH_JDATE;
}

static DateADT
last_api_day(void)
{
	return date2j(9999, 12, 31) - POSTGRES_EPOCH_JDATE;
}

/* The UTC calendar day of a finite time. */
static DateADT
utc_day(TimestampTz t)
{
	/* both count from 2000-01-01 00:00 UTC, in days and in microseconds */
	int64		days = t / USECS_PER_DAY;

	if (t % USECS_PER_DAY < 0)
		days--;					/* round down before 2000 too */
	return (DateADT) days;
}

/*
 * What one bound of a time range asks of the API: for a lower bound, the
 * UTC date of its value; for an upper bound, the UTC date after it (the
 * API's "before" excludes its day, and its days are whole).  A date or a
 * timestamp is taken in the session's time zone, as PostgreSQL compares it
 * with a timestamptz.  An infinite bound, or one outside the years the
 * API's dates can say, is no bound on the side it opens and leaves no row
 * on the side it closes.
 */
static CfBound
bound_day(Datum value, Oid type, bool lower, DateADT *day)
{
	TimestampTz t;

	if (type == DATEOID)
		t = DatumGetTimestampTz(DirectFunctionCall1(date_timestamptz, value));
	else if (type == TIMESTAMPOID)
		t = DatumGetTimestampTz(DirectFunctionCall1(timestamp_timestamptz, value));
	else
		t = DatumGetTimestampTz(value);

	if (TIMESTAMP_IS_NOBEGIN(t))
		return lower ? CF_BOUND_NONE : CF_BOUND_EMPTY;
	if (TIMESTAMP_IS_NOEND(t))
		return lower ? CF_BOUND_EMPTY : CF_BOUND_NONE;
	*day = utc_day(t) + (lower ? 0 : 1);
	if (*day < first_api_day())
		return lower ? CF_BOUND_NONE : CF_BOUND_EMPTY;
	if (*day > last_api_day())
		return lower ? CF_BOUND_EMPTY : CF_BOUND_NONE;
	return CF_BOUND_DAY;
}

/*
 * Add one bound's value to what a side of the range asks: the latest of the
 * lower bounds, the earliest of the upper ones.  *kind starts as
 * CF_BOUND_NONE; a NULL value leaves no row (time >= NULL is never true).
 */
void
cf_add_bound(CfBound *kind, DateADT *day, Datum value, bool isnull, Oid type,
			 bool lower)
{
	DateADT		d = 0;
	CfBound		k;

	if (*kind == CF_BOUND_EMPTY)
		return;
	k = isnull ? CF_BOUND_EMPTY : bound_day(value, type, lower, &d);
	if (k == CF_BOUND_EMPTY)
		*kind = CF_BOUND_EMPTY;
	else if (k == CF_BOUND_DAY &&
			 (*kind == CF_BOUND_NONE || (lower ? d > *day : d < *day)))
	{
		*kind = CF_BOUND_DAY;
		*day = d;
	}
}

/*
 * The range asked for a side without a bound, as of `now`: since the first
 * day of the retention period, before tomorrow (UTC days).
 */
void
cf_range_defaults(const CfTimeRange *range, TimestampTz now, DateADT *since,
				  DateADT *before)
{
	DateADT		today = utc_day(now);
	int			year;
	int			month;
	int			mday;
	int			months;

	j2date(today + POSTGRES_EPOCH_JDATE, &year, &month, &mday);
	months = year * 12 + (month - 1) - range->retention_months;
	year = months / 12;
	month = months % 12 + 1;
	/* 18 months before an August 31st is the end of February */
	mday = Min(mday, day_tab[isleap(year)][month - 1]);
	*since = date2j(year, month, mday) - POSTGRES_EPOCH_JDATE;
	*before = today + 1;
}

/* A day as the API takes it: YYYY-MM-DD. */
char *
cf_format_day(DateADT day)
{
	int			year;
	int			month;
	int			mday;

	j2date(day + POSTGRES_EPOCH_JDATE, &year, &month, &mday);
	return psprintf("%04d-%02d-%02d", year, month, mday);
}

/* ---- serialisation into fdw_private ---- */

/*
 * A scan plan travels in ForeignScan.fdw_private as a flat List, one
 * element per field, read back by these names (as postgres_fdw's
 * FdwScanPrivateIndex does).  A missing string is a NULL element; copyObject
 * and the plan cache keep NULLs.
 */
enum CfScanPrivateIndex
{
	CfScanPrivateResource,		/* String: catalog name of the table */
	CfScanPrivateIdExpr,		/* Integer: fdw_exprs index of id value(s), -1 */
	CfScanPrivateIdIsArray,		/* Boolean: id = ANY(array) */
	CfScanPrivateParentExpr,	/* Integer: index of parent id(s), -1 */
	CfScanPrivateParentIsArray, /* Boolean */
	CfScanPrivateAccountExpr,	/* Integer: index of account id(s), -1 */
	CfScanPrivateAccountIsArray,	/* Boolean */
	CfScanPrivateFilters,		/* List of filter triples, see below */
	CfScanPrivateOrderValue,	/* String ?order= value, or NULL */
	CfScanPrivateDirection,		/* String ?direction= value, or NULL */
	CfScanPrivateSinceExprs,	/* List of Integer: time range lower bounds */
	CfScanPrivateBeforeExprs,	/* List of Integer: its upper bounds */
	CfScanPrivateLimitExpr,		/* Integer: index of LIMIT count, -1 */
	CfScanPrivateLimitPerAccount,	/* Boolean: LIMIT caps each account */
	CfScanPrivateOffsetExpr,	/* Integer: index of OFFSET, -1 */
	CfScanPrivateAllExact,		/* Boolean: every qual pushed exactly */
	CfScanPrivateExprLabels,	/* List of String, one per fdw_expr */
	CfScanPrivateUsedAttnos,	/* List of Integer */
	CfScanPrivateCountOnly,		/* Boolean: count(*) pushed down */
	CfScanPrivateCountByAccount,	/* Boolean: ... GROUP BY account_id */
	CfScanPrivateJoin,			/* NULL, or a pushed join: see below */
	CfScanPrivateCount			/* (number of fields) */
};

/* A pushed join (CfScanPrivateJoin) is a List of these. */
enum CfJoinPrivateIndex
{
	CfJoinPrivateJoinType,		/* Integer: JOIN_INNER or JOIN_LEFT */
	CfJoinPrivateGroups,		/* List: the groups' scan plan, as above */
	CfJoinPrivateSides,			/* List of Integer */
	CfJoinPrivateAttnos,		/* List of Integer */
	CfJoinPrivateRelations,		/* String */
	CfJoinPrivateRecheckExpr,	/* Integer: fdw_exprs index, -1 */
	CfJoinPrivateCount
};

/* Each filter of CfScanPrivateFilters is a List of these. */
enum CfFilterPrivateIndex
{
	CfFilterPrivateParam,		/* String: query parameter name */
	CfFilterPrivateExpr,		/* Integer: fdw_exprs index of its value */
	CfFilterPrivateFuzzy,		/* Boolean: a LIKE core */
	CfFilterPrivateIsArray,		/* Boolean: one parameter per element */
	CfFilterPrivateNegated		/* Boolean: a NAME.not parameter */
};

static Node *
string_or_null(const char *value)
{
	return value ? (Node *) makeString(pstrdup(value)) : NULL;
}

/* A CfScanPlan as the List fdw_private holds, by CfScanPrivateIndex. */
List *
cf_plan_to_list(CfScanPlan *plan)
{
	Node	   *fields[CfScanPrivateCount];
	List	   *filters = NIL;
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, plan->filters)
	{
		CfFilter   *f = lfirst(lc);

		/* in CfFilterPrivateIndex order */
		filters = lappend(filters, list_make5(makeString(pstrdup(f->param)),
											  makeInteger(f->expr),
											  makeBoolean(f->fuzzy),
											  makeBoolean(f->is_array),
											  makeBoolean(f->negated)));
	}
	fields[CfScanPrivateResource] = (Node *) makeString(pstrdup(plan->resource->name));
	fields[CfScanPrivateIdExpr] = (Node *) makeInteger(plan->id_expr);
	fields[CfScanPrivateIdIsArray] = (Node *) makeBoolean(plan->id_is_array);
	fields[CfScanPrivateParentExpr] = (Node *) makeInteger(plan->parent_expr);
	fields[CfScanPrivateParentIsArray] = (Node *) makeBoolean(plan->parent_is_array);
	fields[CfScanPrivateAccountExpr] = (Node *) makeInteger(plan->account_expr);
	fields[CfScanPrivateAccountIsArray] = (Node *) makeBoolean(plan->account_is_array);
	fields[CfScanPrivateFilters] = (Node *) filters;
	fields[CfScanPrivateOrderValue] = string_or_null(plan->order_value);
	fields[CfScanPrivateDirection] = string_or_null(plan->direction);
	fields[CfScanPrivateSinceExprs] = (Node *) plan->since_exprs;
	fields[CfScanPrivateBeforeExprs] = (Node *) plan->before_exprs;
	fields[CfScanPrivateLimitExpr] = (Node *) makeInteger(plan->limit_expr);
	fields[CfScanPrivateLimitPerAccount] = (Node *) makeBoolean(plan->limit_per_account);
	fields[CfScanPrivateOffsetExpr] = (Node *) makeInteger(plan->offset_expr);
	fields[CfScanPrivateAllExact] = (Node *) makeBoolean(plan->all_exact);
	fields[CfScanPrivateExprLabels] = (Node *) plan->expr_labels;
	fields[CfScanPrivateUsedAttnos] = (Node *) plan->used_attnos;
	fields[CfScanPrivateCountOnly] = (Node *) makeBoolean(plan->count_only);
	fields[CfScanPrivateCountByAccount] = (Node *) makeBoolean(plan->count_by_account);
	fields[CfScanPrivateJoin] = NULL;
	if (plan->join)
	{
		CfJoinPlan *j = plan->join;
		Node	   *jf[CfJoinPrivateCount];
		List	   *jl = NIL;

		jf[CfJoinPrivateJoinType] = (Node *) makeInteger((int) j->jointype);
		jf[CfJoinPrivateGroups] = (Node *) cf_plan_to_list(j->groups);
		jf[CfJoinPrivateSides] = (Node *) j->tlist_sides;
		jf[CfJoinPrivateAttnos] = (Node *) j->tlist_attnos;
		jf[CfJoinPrivateRelations] = (Node *) makeString(pstrdup(j->relations));
		jf[CfJoinPrivateRecheckExpr] = (Node *) makeInteger(j->recheck_expr);
		for (int i = 0; i < CfJoinPrivateCount; i++)
			jl = lappend(jl, jf[i]);
		fields[CfScanPrivateJoin] = (Node *) jl;
	}
	for (int i = 0; i < CfScanPrivateCount; i++)
		result = lappend(result, fields[i]);
	return result;
}

static const char *
string_or_null_value(List *list, int index)
{
	Node	   *node = list_nth(list, index);

	return node ? strVal(node) : NULL;
}

/* The CfScanPlan back from fdw_private (see cf_plan_to_list). */
CfScanPlan *
cf_plan_from_list(List *list)
{
	CfScanPlan *plan = palloc0(sizeof(CfScanPlan));
	ListCell   *lc;

	if (list_length(list) != CfScanPrivateCount)
		elog(ERROR, "cfiam: malformed scan plan");
	plan->resource = cf_resource_by_name(strVal(list_nth(list, CfScanPrivateResource)));
	if (plan->resource == NULL)
		elog(ERROR, "cfiam: unknown resource in plan");
	plan->id_expr = intVal(list_nth(list, CfScanPrivateIdExpr));
	plan->id_is_array = boolVal(list_nth(list, CfScanPrivateIdIsArray));
	plan->parent_expr = intVal(list_nth(list, CfScanPrivateParentExpr));
	plan->parent_is_array = boolVal(list_nth(list, CfScanPrivateParentIsArray));
	plan->account_expr = intVal(list_nth(list, CfScanPrivateAccountExpr));
	plan->account_is_array = boolVal(list_nth(list, CfScanPrivateAccountIsArray));
	foreach(lc, (List *) list_nth(list, CfScanPrivateFilters))
	{
		List	   *item = lfirst(lc);
		CfFilter   *f = palloc0(sizeof(CfFilter));

		f->param = strVal(list_nth(item, CfFilterPrivateParam));
		f->expr = intVal(list_nth(item, CfFilterPrivateExpr));
		f->fuzzy = boolVal(list_nth(item, CfFilterPrivateFuzzy));
		f->is_array = boolVal(list_nth(item, CfFilterPrivateIsArray));
		f->negated = boolVal(list_nth(item, CfFilterPrivateNegated));
		plan->filters = lappend(plan->filters, f);
	}
	plan->order_value = string_or_null_value(list, CfScanPrivateOrderValue);
	plan->direction = string_or_null_value(list, CfScanPrivateDirection);
	plan->since_exprs = list_nth(list, CfScanPrivateSinceExprs);
	plan->before_exprs = list_nth(list, CfScanPrivateBeforeExprs);
	plan->limit_expr = intVal(list_nth(list, CfScanPrivateLimitExpr));
	plan->limit_per_account = boolVal(list_nth(list, CfScanPrivateLimitPerAccount));
	plan->offset_expr = intVal(list_nth(list, CfScanPrivateOffsetExpr));
	plan->all_exact = boolVal(list_nth(list, CfScanPrivateAllExact));
	plan->expr_labels = list_nth(list, CfScanPrivateExprLabels);
	plan->used_attnos = list_nth(list, CfScanPrivateUsedAttnos);
	plan->count_only = boolVal(list_nth(list, CfScanPrivateCountOnly));
	plan->count_by_account = boolVal(list_nth(list, CfScanPrivateCountByAccount));
	if (list_nth(list, CfScanPrivateJoin) != NULL)
	{
		List	   *jl = list_nth(list, CfScanPrivateJoin);
		CfJoinPlan *j = palloc0(sizeof(CfJoinPlan));

		if (list_length(jl) != CfJoinPrivateCount)
			elog(ERROR, "cfiam: malformed join plan");
		j->jointype = (JoinType) intVal(list_nth(jl, CfJoinPrivateJoinType));
		j->groups = cf_plan_from_list(list_nth(jl, CfJoinPrivateGroups));
		j->tlist_sides = list_nth(jl, CfJoinPrivateSides);
		j->tlist_attnos = list_nth(jl, CfJoinPrivateAttnos);
		j->relations = strVal(list_nth(jl, CfJoinPrivateRelations));
		j->recheck_expr = intVal(list_nth(jl, CfJoinPrivateRecheckExpr));
		plan->join = j;
	}
	return plan;
}

/* ---- EXPLAIN ---- */

/*
 * Name the outer columns a nested loop feeds to this scan ("g.id") while
 * the planner still sees them as Vars; by EXPLAIN time they are Params.
 */
void
cf_plan_label_exprs(PlannerInfo *root, RelOptInfo *baserel, CfScanPlan *plan,
					List *fdw_exprs)
{
	ListCell   *lc;

	plan->expr_labels = NIL;
	foreach(lc, fdw_exprs)
	{
		Var		   *var = strip_to_var(lfirst(lc));
		char	   *label = "";

		if (var && var->varno != baserel->relid && var->varlevelsup == 0 &&
			var->varno < root->simple_rel_array_size)
		{
			RangeTblEntry *rte = planner_rt_fetch(var->varno, root);
			char	   *attname = get_rte_attribute_name(rte, var->varattno);

			label = psprintf("%s.%s", quote_identifier(rte->eref->aliasname),
							 quote_identifier(attname));
		}
		plan->expr_labels = lappend(plan->expr_labels, makeString(label));
	}
}

/* A value as EXPLAIN shows it: a constant as sent, anything else as SQL. */
static char *
describe_expr(CfScanPlan *plan, List *fdw_exprs, int index, List *dpcontext)
{
	char	   *label = strVal(list_nth(plan->expr_labels, index));

	if (*label)
		return label;
	return deparse_expression(list_nth(fdw_exprs, index), dpcontext, false, false);
}

/*
 * A pushed value for EXPLAIN: the constant itself (escaped for a URL when
 * asked), or what it will be evaluated from, as {$1} or {g.id}.
 */
static char *
describe_value(CfScanPlan *plan, List *fdw_exprs, int index, List *dpcontext,
			   bool escape)
{
	Node	   *expr = list_nth(fdw_exprs, index);

	if (IsA(expr, Const) && !((Const *) expr)->constisnull &&
		!type_is_array(((Const *) expr)->consttype))
	{
		char	   *value = cf_datum_text(((Const *) expr)->constvalue,
										  ((Const *) expr)->consttype);

		return escape ? cf_escape(value) : value;
	}
	return psprintf("{%s}", describe_expr(plan, fdw_exprs, index, dpcontext));
}

/*
 * One bound of the time range for EXPLAIN: the day itself when its values
 * are constants, else what the day is computed from; the default when it
 * has none.
 */
static char *
describe_bound(CfScanPlan *plan, List *exprs, bool lower, List *fdw_exprs,
			   List *dpcontext)
{
	const CfTimeRange *range = plan->resource->time_range;
	CfBound		kind = CF_BOUND_NONE;
	DateADT		day = 0;
	bool		constant = true;
	StringInfoData values;
	ListCell   *lc;

	initStringInfo(&values);
	foreach(lc, exprs)
	{
		int			index = intVal(lfirst(lc));
		Node	   *expr = list_nth(fdw_exprs, index);

		if (IsA(expr, Const))
			cf_add_bound(&kind, &day, ((Const *) expr)->constvalue,
						 ((Const *) expr)->constisnull, ((Const *) expr)->consttype, lower);
		else
			constant = false;
		cf_append_list_item(&values, describe_expr(plan, fdw_exprs, index, dpcontext));
	}
	if (constant && kind == CF_BOUND_DAY)
		return cf_format_day(day);
	if (constant && kind == CF_BOUND_NONE)
		return lower ? psprintf("{UTC date %d months ago}", range->retention_months) :
			"{UTC date tomorrow}";
	if (list_length(exprs) == 1)
		return psprintf("{UTC date %s %s}", lower ? "of" : "after", values.data);
	return psprintf("{UTC date %s %s(%s)}", lower ? "of" : "after",
					lower ? "greatest" : "least", values.data);
}

/* A filter for EXPLAIN: an array's constant elements each as sent. */
static void
describe_filter(StringInfo buf, CfScanPlan *plan, CfFilter *f, List *fdw_exprs,
				List *dpcontext)
{
	Node	   *expr = list_nth(fdw_exprs, f->expr);
	char		sep = buf->len > 0 ? '&' : '?';
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	Oid			elemtype;
	int			shown = 0;

	if (f->fuzzy && IsA(expr, Const))
	{
		appendStringInfo(buf, "%c%s=%s", sep, f->param,
						 cf_escape(cf_like_core(TextDatumGetCString(((Const *) expr)->constvalue))));
		return;
	}
	if (!f->is_array)
	{
		appendStringInfo(buf, "%c%s=%s", sep, f->param,
						 describe_value(plan, fdw_exprs, f->expr, dpcontext, true));
		return;
	}
	if (IsA(expr, Const) && !((Const *) expr)->constisnull)
	{
		cf_array_elements(((Const *) expr)->constvalue, &elems, &nulls, &n, &elemtype);
		for (int i = 0; i < n; i++)
			if (!nulls[i])
				appendStringInfo(buf, "%c%s=%s", shown++ > 0 ? '&' : sep, f->param,
								 cf_escape(cf_datum_text(elems[i], elemtype)));
	}
	if (shown == 0)
		appendStringInfo(buf, "%c%s={each of %s}", sep, f->param,
						 describe_expr(plan, fdw_exprs, f->expr, dpcontext));
}

/*
 * The accounts a scan on a server without account_id reads: "every account
 * (GET /accounts?page=N&per_page=50)", or the values of account_id = v /
 * = ANY(array).
 */
char *
cf_plan_describe_accounts(CfScanPlan *plan, List *fdw_exprs, List *dpcontext)
{
	const CfResource *accounts = cf_resource_by_name("accounts");
	const CfScanPlan *aplan = cf_plan_accounts(plan);

	if (aplan->account_expr < 0)
		return psprintf("every account (GET %s?page=N&per_page=%d)",
						cf_resource_path(accounts, NULL, NULL, NULL),
						accounts->per_page_max);
	/* the labels are the scan's own plan's: one list of fdw_exprs */
	if (aplan->account_is_array)
		return psprintf("each of %s",
						describe_expr(plan, fdw_exprs, aplan->account_expr, dpcontext));
	return describe_value(plan, fdw_exprs, aplan->account_expr, dpcontext, false);
}

/*
 * The plan whose account_id values choose the accounts read: the scan's,
 * or for a pushed join with them on the groups' side only, the groups'
 * (join.c refuses a join with values on both sides).
 */
const CfScanPlan *
cf_plan_accounts(const CfScanPlan *plan)
{
	if (plan->account_expr < 0 && plan->join && plan->join->groups->account_expr >= 0)
		return plan->join->groups;
	return plan;
}

/*
 * The planned call(s) in the form "GET <path>?<query>", exactly as sent
 * except that values known only at run time are shown as {expression}.
 */
char *
cf_plan_describe(CfScanPlan *plan, const char *account_id, List *fdw_exprs,
				 List *dpcontext, int per_page)
{
	const CfResource *res = plan->resource;
	StringInfoData buf;
	StringInfoData query;
	char	   *parent;
	ListCell   *lc;
	bool		first;

	initStringInfo(&buf);

	if (res->parent)
	{
		if (plan->parent_expr < 0 && plan->join)
		{
			/* a pushed join: the groups' listing with g's filters */
			appendStringInfo(&buf, "%s, then for each %s ",
							 cf_plan_describe(plan->join->groups, account_id, fdw_exprs,
											  dpcontext, res->parent->per_page_max),
							 res->parent->item_name);
			parent = "{id}";
		}
		else if (plan->parent_expr < 0)
		{
			appendStringInfo(&buf, "GET %s?page=N&per_page=%d, then for each %s ",
							 cf_resource_path(res->parent, account_id, NULL, NULL),
							 res->parent->per_page_max, res->parent->item_name);
			parent = "{id}";
		}
		else if (plan->parent_is_array)
		{
			parent = psprintf("{each of %s}",
							  describe_expr(plan, fdw_exprs, plan->parent_expr, dpcontext));
		}
		else
			parent = describe_value(plan, fdw_exprs, plan->parent_expr, dpcontext, false);
	}
	else
		parent = NULL;

	appendStringInfoString(&buf, "GET ");
	if (plan->id_expr >= 0)
	{
		char	   *id = plan->id_is_array ?
			psprintf("{each of %s}",
					 describe_expr(plan, fdw_exprs, plan->id_expr, dpcontext)) :
			describe_value(plan, fdw_exprs, plan->id_expr, dpcontext, false);

		appendStringInfoString(&buf, cf_resource_path(res, account_id, parent, id));
		return buf.data;
	}

	appendStringInfoString(&buf, cf_resource_path(res, account_id, parent, NULL));

	/* the query string apart, to know its first parameter */
	initStringInfo(&query);
	if (res->time_range)
		appendStringInfo(&query, "?%s=%s&%s=%s",
						 res->time_range->since_param,
						 describe_bound(plan, plan->since_exprs, true, fdw_exprs, dpcontext),
						 res->time_range->before_param,
						 describe_bound(plan, plan->before_exprs, false, fdw_exprs, dpcontext));
	if (res->list_query)
	{
		/* "a=b&": shown as sent, without its trailing & */
		appendStringInfo(&query, "%c%.*s", query.len > 0 ? '&' : '?',
						 (int) strlen(res->list_query) - 1, res->list_query);
	}
	foreach(lc, plan->filters)
		describe_filter(&query, plan, lfirst(lc), fdw_exprs, dpcontext);
	appendStringInfoString(&buf, query.data);
	first = (query.len == 0);
	if (plan->order_value && *plan->order_value)
	{
		appendStringInfo(&buf, "%corder=%s", first ? '?' : '&', plan->order_value);
		first = false;
	}
	if (plan->direction)
	{
		appendStringInfo(&buf, "%cdirection=%s", first ? '?' : '&', plan->direction);
		first = false;
	}
	switch (res->paging)
	{
		case CF_PAGING_PAGES:
			appendStringInfo(&buf, "%cpage=%s&per_page=%d", first ? '?' : '&',
							 plan->count_only ? "1" : "N", per_page);
			break;
		case CF_PAGING_CURSOR:
			/* page 1 has no cursor: each page after it, its predecessor's */
			appendStringInfo(&buf, "%climit=%d (next pages: &cursor={result_info.cursor})",
							 first ? '?' : '&', per_page);
			break;
		case CF_PAGING_NONE:
			break;
	}
	return buf.data;
}
