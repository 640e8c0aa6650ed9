/*-------------------------------------------------------------------------
 *
 * pushdown.c
 *		Deciding what a scan asks of the API: which quals become path ids or
 *		query parameters, which ORDER BY is the API's, what LIMIT allows.
 *
 * A pushed qual is "exact" when the API applies exactly PostgreSQL's test
 * (id, name, status and parent-id equality): it is then not rechecked.  A
 * LIKE is sent as the API's substring search and always rechecked.
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
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/pg_locale.h"
#include "utils/ruleutils.h"

typedef enum QualKind
{
	QUAL_EQ,					/* col = expr */
	QUAL_ANY,					/* col = ANY(expr) */
	QUAL_LIKE					/* col LIKE / ILIKE expr */
} QualKind;

typedef struct QualInfo
{
	RestrictInfo *rinfo;
	const CfColumn *column;
	QualKind	kind;
	Expr	   *value;
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

/* Recognise "col = v", "v = col", "col = ANY(v)", "col [I]LIKE v". */
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

		if (is_plain_text_eq(op->opno, op->inputcollid))
		{
			if ((qi->column = column_of(baserel, left)) != NULL &&
				is_outside_value(root, baserel, right))
				qi->value = (Expr *) right;
			else if ((qi->column = column_of(baserel, right)) != NULL &&
					 is_outside_value(root, baserel, left))
				qi->value = (Expr *) left;
			else
				return false;
			qi->kind = QUAL_EQ;
			return true;
		}
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

		if (saop->useOr && is_plain_text_eq(saop->opno, saop->inputcollid) &&
			(qi->column = column_of(baserel, linitial(saop->args))) != NULL &&
			is_outside_value(root, baserel, lsecond(saop->args)))
		{
			qi->kind = QUAL_ANY;
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
 * Send a value as query parameter `param`; false when the parameter is
 * already taken (a second "name = ..." stays local).
 */
static bool
add_filter(CfScanPlan *plan, const char *param, bool fuzzy, Expr *value,
		   List **fdw_exprs)
{
	CfFilter   *filter;
	ListCell   *lc;

	foreach(lc, plan->filters)
		if (strcmp(((CfFilter *) lfirst(lc))->param, param) == 0)
			return false;
	filter = palloc0(sizeof(CfFilter));
	filter->param = (char *) param;
	filter->expr = add_expr(fdw_exprs, value);
	filter->fuzzy = fuzzy;
	plan->filters = lappend(plan->filters, filter);
	return true;
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
	plan->id_expr = plan->parent_expr = -1;
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
	 * single parent id as well; id = ANY(...) becomes one GET per id.
	 */
	if ((qi = find_qual(quals, nquals, "id", QUAL_EQ)) != NULL &&
		(res->parent == NULL || (plan->parent_expr >= 0 && !plan->parent_is_array)))
	{
		qi->used = true;
		plan->id_rinfo = qi->rinfo;
		plan->id_expr = add_expr(fdw_exprs, qi->value);
		by_id = true;
	}
	else if (res->parent == NULL &&
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
		qi = &quals[i];
		if (qi->used)
			continue;
		if (qi->kind == QUAL_EQ && qi->column->eq_param)
			qi->used = add_filter(plan, qi->column->eq_param, false, qi->value, fdw_exprs);
		else if (qi->kind == QUAL_LIKE &&
				 add_filter(plan, qi->column->fuzzy_param, true, qi->value, fdw_exprs))
		{
			/* inexact: the API's substring search is rechecked locally */
			*local_quals = lappend(*local_quals, qi->rinfo);
			qi->rinfo = NULL;
		}
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
 * PostgreSQL's "C" collation with the default text operator family.
 */
static bool
sort_matches_api(PathKey *pk)
{
	EquivalenceClass *ec = pk->pk_eclass;

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
		if (col->nullable || !sort_matches_api(pk) ||
			(info->opts.resource->parent && (cf_deferred_mode() || cf_deferred_queued())))
			return NIL;
		return root->query_pathkeys;
	}
	return NIL;
}

/* Columns a nested loop may feed one value at a time: parent id and id. */
bool
cf_parameterizable_column(RelOptInfo *baserel, Var *var)
{
	CfRelInfo  *info = (CfRelInfo *) baserel->fdw_private;
	const CfColumn *col = column_of(baserel, (Node *) var);

	if (col == NULL)
		return false;
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
			  List *pathkeys, List **fdw_exprs)
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
	if (parse->sortClause &&
		(pathkeys == NIL || !pathkeys_contained_in(root->sort_pathkeys, pathkeys)))
		return;
	/* a fan-out over parents or several parents: the hint would not fit */
	if (plan->resource->parent && (plan->parent_expr < 0 || plan->parent_is_array))
		return;
	if (!is_limit_value(parse->limitCount) ||
		(parse->limitOffset && !is_limit_value(parse->limitOffset)))
		return;

	plan->limit_expr = add_expr(fdw_exprs, (Expr *) parse->limitCount);
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
	CfScanPrivateFilters,		/* List of filter triples, see below */
	CfScanPrivateOrderValue,	/* String ?order= value, or NULL */
	CfScanPrivateDirection,		/* String ?direction= value, or NULL */
	CfScanPrivateLimitExpr,		/* Integer: index of LIMIT count, -1 */
	CfScanPrivateOffsetExpr,	/* Integer: index of OFFSET, -1 */
	CfScanPrivateAllExact,		/* Boolean: every qual pushed exactly */
	CfScanPrivateExprLabels,	/* List of String, one per fdw_expr */
	CfScanPrivateUsedAttnos,	/* List of Integer */
	CfScanPrivateCountOnly,		/* Boolean: count(*) pushed down */
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
	CfFilterPrivateFuzzy		/* Boolean: a LIKE core */
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
		filters = lappend(filters, list_make3(makeString(pstrdup(f->param)),
											  makeInteger(f->expr),
											  makeBoolean(f->fuzzy)));
	}
	fields[CfScanPrivateResource] = (Node *) makeString(pstrdup(plan->resource->name));
	fields[CfScanPrivateIdExpr] = (Node *) makeInteger(plan->id_expr);
	fields[CfScanPrivateIdIsArray] = (Node *) makeBoolean(plan->id_is_array);
	fields[CfScanPrivateParentExpr] = (Node *) makeInteger(plan->parent_expr);
	fields[CfScanPrivateParentIsArray] = (Node *) makeBoolean(plan->parent_is_array);
	fields[CfScanPrivateFilters] = (Node *) filters;
	fields[CfScanPrivateOrderValue] = string_or_null(plan->order_value);
	fields[CfScanPrivateDirection] = string_or_null(plan->direction);
	fields[CfScanPrivateLimitExpr] = (Node *) makeInteger(plan->limit_expr);
	fields[CfScanPrivateOffsetExpr] = (Node *) makeInteger(plan->offset_expr);
	fields[CfScanPrivateAllExact] = (Node *) makeBoolean(plan->all_exact);
	fields[CfScanPrivateExprLabels] = (Node *) plan->expr_labels;
	fields[CfScanPrivateUsedAttnos] = (Node *) plan->used_attnos;
	fields[CfScanPrivateCountOnly] = (Node *) makeBoolean(plan->count_only);
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
	foreach(lc, (List *) list_nth(list, CfScanPrivateFilters))
	{
		List	   *item = lfirst(lc);
		CfFilter   *f = palloc0(sizeof(CfFilter));

		f->param = strVal(list_nth(item, CfFilterPrivateParam));
		f->expr = intVal(list_nth(item, CfFilterPrivateExpr));
		f->fuzzy = boolVal(list_nth(item, CfFilterPrivateFuzzy));
		plan->filters = lappend(plan->filters, f);
	}
	plan->order_value = string_or_null_value(list, CfScanPrivateOrderValue);
	plan->direction = string_or_null_value(list, CfScanPrivateDirection);
	plan->limit_expr = intVal(list_nth(list, CfScanPrivateLimitExpr));
	plan->offset_expr = intVal(list_nth(list, CfScanPrivateOffsetExpr));
	plan->all_exact = boolVal(list_nth(list, CfScanPrivateAllExact));
	plan->expr_labels = list_nth(list, CfScanPrivateExprLabels);
	plan->used_attnos = list_nth(list, CfScanPrivateUsedAttnos);
	plan->count_only = boolVal(list_nth(list, CfScanPrivateCountOnly));
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
		((Const *) expr)->consttype == TEXTOID)
	{
		char	   *value = TextDatumGetCString(((Const *) expr)->constvalue);

		return escape ? cf_escape(value) : value;
	}
	return psprintf("{%s}", describe_expr(plan, fdw_exprs, index, dpcontext));
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
	char	   *parent;
	ListCell   *lc;
	bool		first = true;

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
	if (res->list_query)
	{
		/* "a=b&": shown as sent, without its trailing & */
		appendStringInfo(&buf, "?%.*s", (int) strlen(res->list_query) - 1, res->list_query);
		first = false;
	}

	foreach(lc, plan->filters)
	{
		CfFilter   *f = lfirst(lc);
		Node	   *expr = list_nth(fdw_exprs, f->expr);
		char	   *value;

		if (f->fuzzy && IsA(expr, Const))
			value = cf_escape(cf_like_core(TextDatumGetCString(((Const *) expr)->constvalue)));
		else
			value = describe_value(plan, fdw_exprs, f->expr, dpcontext, true);
		appendStringInfo(&buf, "%c%s=%s", first ? '?' : '&', f->param, value);
		first = false;
	}
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
