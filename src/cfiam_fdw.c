/*-------------------------------------------------------------------------
 *
 * cfiam_fdw.c
 *		The FdwRoutine of cfiam: the planning callbacks, IMPORT FOREIGN
 *		SCHEMA and the handler.  The scan callbacks are in scan.c, the
 *		modify callbacks in modify.c.
 *
 * Planning turns a query's quals, ORDER BY and LIMIT into a CfScanPlan
 * (pushdown.c decides what the API can do) and costs paths by the API
 * requests they make.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "cfiam.h"

#include <math.h>

#include "access/sysattr.h"
#include "access/table.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_type.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "foreign/fdwapi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "optimizer/tlist.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

PG_FUNCTION_INFO_V1(cfiam_handler);


/* ---------------------------------------------------------------------
 * Planning
 * ---------------------------------------------------------------------
 */

/*
 * The relation's options, its columns, and its size: the rows of the whole
 * resource (see estimate.c) times what the quals keep.  No request is sent.
 */
static void
cfGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	CfRelInfo  *info = palloc0(sizeof(CfRelInfo));
	ForeignTable *table = GetForeignTable(foreigntableid);
	CfServerOptions sopts;
	Relation	rel;
	CfScanPlan *plan;
	List	   *exprs = NIL;
	List	   *local = NIL;
	CfEstimate	est;

	cf_get_table_options(foreigntableid, &info->opts);
	rel = table_open(foreigntableid, NoLock);
	info->attr_columns = cf_map_columns(rel, info->opts.resource, &info->natts);
	table_close(rel, NoLock);
	info->serverid = table->serverid;
	info->userid = OidIsValid(baserel->userid) ? baserel->userid : GetUserId();
	cf_get_server_options(GetForeignServer(table->serverid), &sopts);
	info->max_concurrency = sopts.max_concurrency;
	/* the planner copied pg_class.reltuples: -1 when never analyzed */
	info->reltuples = baserel->tuples;
	baserel->fdw_private = info;

	baserel->tuples = cf_resource_rows(info, info->opts.resource, info->reltuples);
	plan = cf_plan_quals(root, baserel, baserel->baserestrictinfo, &exprs, &local);
	cf_estimate_scan(root, baserel, plan, baserel->baserestrictinfo, exprs, local,
					 false, &est);
	baserel->rows = est.rows;
}

static ForeignPath *
make_path(PlannerInfo *root, RelOptInfo *baserel, const CfEstimate *est,
		  List *pathkeys, Relids required_outer, List *fdw_private)
{
	Cost		startup;
	Cost		total;

	cf_scan_costs((CfRelInfo *) baserel->fdw_private, est,
				  !bms_is_empty(required_outer), &startup, &total);
	return create_foreignscan_path(root, baserel, NULL, est->rows, startup, total,
								   pathkeys, required_outer, NULL, fdw_private);
}

typedef struct EcMatchArg
{
	Var		   *current;		/* set by the callback when it matches */
} EcMatchArg;

/* generate_implied_equalities_for_column callback: our parameterizable Vars */
static bool
ec_member_matches_column(PlannerInfo *root, RelOptInfo *rel,
						 EquivalenceClass *ec, EquivalenceMember *em, void *arg)
{
	Expr	   *expr = em->em_expr;

	while (expr && IsA(expr, RelabelType))
		expr = ((RelabelType *) expr)->arg;
	return expr && IsA(expr, Var) && cf_parameterizable_column(rel, (Var *) expr);
}

/*
 * Parameterized paths: for a nested loop, one GET by id or one listing of
 * a parent's members per outer row, instead of reading everything.  The
 * join clause may sit in an equivalence class or in joininfo.
 */
static void
add_parameterized_paths(PlannerInfo *root, RelOptInfo *baserel)
{
	List	   *clauses = NIL;
	List	   *seen_outer = NIL;
	ListCell   *lc;

	if (baserel->has_eclass_joins)
		clauses = generate_implied_equalities_for_column(root, baserel,
														 ec_member_matches_column,
														 NULL,
														 baserel->lateral_referencers);
	foreach(lc, baserel->joininfo)
	{
		RestrictInfo *rinfo = lfirst(lc);

		if (join_clause_is_movable_to(rinfo, baserel))
			clauses = lappend(clauses, rinfo);
	}

	foreach(lc, clauses)
	{
		RestrictInfo *rinfo = lfirst(lc);
		Relids		required_outer;
		List	   *exprs = NIL;
		List	   *clauses;
		CfEstimate	est;
		List	   *local = NIL;
		CfScanPlan *plan;
		ListCell   *lc2;
		bool		dup = false;

		required_outer = bms_union(rinfo->clause_relids, baserel->lateral_relids);
		required_outer = bms_del_members(required_outer, baserel->relids);
		if (bms_is_empty(required_outer))
			continue;
		foreach(lc2, seen_outer)
			if (bms_equal(lfirst(lc2), required_outer))
				dup = true;
		if (dup)
			continue;

		/* Only worth a path when the clause becomes the call's id or account. */
		clauses = lappend(list_copy(baserel->baserestrictinfo), rinfo);
		plan = cf_plan_quals(root, baserel, clauses, &exprs, &local);
		if (list_member_ptr(local, rinfo))
			continue;
		if (plan->id_expr < 0 && plan->parent_expr < 0 && plan->account_expr < 0)
			continue;

		seen_outer = lappend(seen_outer, required_outer);
		/* rows per outer row: one by id, or one parent's share */
		cf_estimate_scan(root, baserel, plan, clauses, exprs, local, true, &est);
		add_path(baserel, (Path *) make_path(root, baserel, &est, NIL,
											 required_outer, NIL));
	}
}

/*
 * GetForeignPaths: one path for the scan as planned (quals and ORDER BY the
 * API takes, their cost in requests), plus parameterized paths for joins
 * that can send the outer row's id or group id.
 */
static void
cfGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	List	   *exprs = NIL;
	List	   *local = NIL;
	CfScanPlan *plan;
	CfEstimate	est;
	const char *order_value = NULL;
	const char *direction = NULL;
	List	   *pathkeys = NIL;
	List	   *order_private = NIL;

	plan = cf_plan_quals(root, baserel, baserel->baserestrictinfo, &exprs, &local);
	cf_estimate_scan(root, baserel, plan, baserel->baserestrictinfo, exprs, local,
					 false, &est);

	/*
	 * The API sorts a single listing (not GETs, nor a fan-out over groups),
	 * of one account: over several, each account's rows come sorted, not
	 * the whole.
	 */
	if (plan->id_expr < 0 &&
		(((CfRelInfo *) baserel->fdw_private)->opts.account_id != NULL ||
		 plan->resource->no_account ||
		 (plan->account_expr >= 0 && !plan->account_is_array)) &&
		(plan->resource->parent == NULL ||
		 (plan->parent_expr >= 0 && !plan->parent_is_array)))
	{
		pathkeys = cf_useful_pathkeys(root, baserel, &order_value, &direction);
		if (order_value)
			order_private = list_make2(makeString(pstrdup(order_value)),
									   makeString(pstrdup(direction)));
	}
	else if (plan->id_expr < 0 && !plan->resource->no_account &&
			 root->parse->limitCount != NULL &&
			 (plan->resource->parent == NULL ||
			  (plan->parent_expr >= 0 && !plan->parent_is_array)))
	{
		/*
		 * Over several accounts, under a LIMIT: the ORDER BY, when the API
		 * sorts exactly as PostgreSQL does, is sent to each account, whose
		 * first rows are then all that can be among the first of all
		 * (cf_plan_limit); PostgreSQL sorts what they give.
		 */
		if (cf_useful_pathkeys(root, baserel, &order_value, &direction) != NIL &&
			pathkeys_contained_in(root->sort_pathkeys, root->query_pathkeys))
			order_private = list_make3(makeString(pstrdup(order_value)),
									   makeString(pstrdup(direction)),
									   makeBoolean(true));
	}

	if (pathkeys != NIL)
		add_path(baserel, (Path *) make_path(root, baserel, &est, pathkeys,
											 baserel->lateral_relids, order_private));
	/* the order is still sent when PostgreSQL must sort anyway */
	add_path(baserel, (Path *) make_path(root, baserel, &est, NIL,
										 baserel->lateral_relids,
										 pathkeys ? NIL : order_private));

	add_parameterized_paths(root, baserel);
}

/*
 * count(*) pushdown: SELECT count(*) FROM one listing, whose quals are all
 * sent to the API exactly, is answered by one request of the smallest page
 * size from result_info.total_count (every page-numbered list has it;
 * resource groups are not paged, and the audit log, paged by cursor, counts
 * only the rows of each answer).  Not for GETs by id, nor for a fan-out
 * over several groups (one total per group), nor with HAVING, other
 * aggregates, DISTINCT/FILTER/ORDER BY inside count, or quals PostgreSQL
 * must check itself.  GROUP BY account_id alone is a request per account,
 * each account's row its id and count: the accounts are the units the
 * API counts.
 */
static void
cfGetForeignUpperPaths(PlannerInfo *root, UpperRelationKind stage,
					   RelOptInfo *input_rel, RelOptInfo *output_rel,
					   void *extra)
{
	Query	   *parse = root->parse;
	CfRelInfo  *info;
	CfScanPlan *plan;
	List	   *exprs = NIL;
	List	   *local = NIL;
	ListCell   *lc;
	ForeignPath *path;
	Expr	   *group_expr = NULL;

	if (stage != UPPERREL_GROUP_AGG || input_rel->reloptkind != RELOPT_BASEREL ||
		output_rel->fdw_private != NULL)
		return;
	info = (CfRelInfo *) input_rel->fdw_private;
	if (info == NULL || !info->opts.count_pushdown)
		return;
	if (!parse->hasAggs || parse->groupingSets ||
		parse->havingQual || parse->hasWindowFuncs || parse->hasTargetSRFs ||
		parse->rowMarks || !bms_is_empty(input_rel->lateral_relids))
		return;
	if (parse->groupClause != NIL)
	{
		Var		   *var;
		const CfColumn *col;

		if (list_length(parse->groupClause) != 1)
			return;
		group_expr = (Expr *) get_sortgroupclause_expr(linitial(parse->groupClause),
													   parse->targetList);
		var = (Var *) group_expr;
		if (!IsA(var, Var) || var->varno != input_rel->relid || var->varlevelsup != 0 ||
			var->varattno < 1 || var->varattno > info->natts ||
			(var->vartype != TEXTOID && var->vartype != VARCHAROID))
			return;
		col = info->attr_columns[var->varattno - 1];
		if (col == NULL || col->json_kind != CF_JSON_ACCOUNT)
			return;
	}
	if (extra && ((GroupPathExtraData *) extra)->patype != PARTITIONWISE_AGGREGATE_NONE)
		return;

	/*
	 * the output is made of count(*) and the account grouped by, nothing
	 * else (PostgreSQL computes expressions of them above the scan)
	 */
	foreach(lc, pull_var_clause((Node *) output_rel->reltarget->exprs,
								PVC_INCLUDE_AGGREGATES))
	{
		Aggref	   *agg = (Aggref *) lfirst(lc);

		if (group_expr != NULL && equal(agg, group_expr))
			continue;
		if (!IsA(agg, Aggref) || agg->aggfnoid != F_COUNT_ || !agg->aggstar ||
			agg->aggdistinct || agg->aggorder || agg->aggfilter ||
			agg->agglevelsup != 0 || agg->aggkind != AGGKIND_NORMAL ||
			agg->aggsplit != AGGSPLIT_SIMPLE)
			return;
	}
	foreach(lc, input_rel->baserestrictinfo)
		if (lfirst_node(RestrictInfo, lc)->pseudoconstant)
			return;

	plan = cf_plan_quals(root, input_rel, input_rel->baserestrictinfo, &exprs, &local);
	if (local != NIL || !plan->all_exact || plan->id_expr >= 0 ||
		plan->resource->paging != CF_PAGING_PAGES)
		return;
	if (plan->resource->parent && (plan->parent_expr < 0 || plan->parent_is_array))
		return;

	/* GetForeignPlan needs the scanned relation */
	output_rel->fdw_private = input_rel;
	/* a row per account: a guess, as the accounts are not known yet */
	path = create_foreign_upper_path(root, output_rel, output_rel->reltarget,
									 group_expr ? 10 : 1,
									 info->opts.startup_cost + info->opts.request_cost,
									 info->opts.startup_cost + info->opts.request_cost +
									 cpu_tuple_cost,
									 NIL, NULL, NIL);
	add_path(output_rel, (Path *) path);
}

/*
 * The columns the query reads (its targets and the quals PostgreSQL checks):
 * the others are left NULL and cost no conversion.
 */
static List *
used_attnos(RelOptInfo *baserel, List *local_rinfos)
{
	CfRelInfo  *info = (CfRelInfo *) baserel->fdw_private;
	Bitmapset  *attrs = NULL;
	List	   *result = NIL;
	ListCell   *lc;
	bool		whole_row;

	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid, &attrs);
	foreach(lc, local_rinfos)
		pull_varattnos((Node *) lfirst_node(RestrictInfo, lc)->clause,
					   baserel->relid, &attrs);
	whole_row = bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs);

	for (int attno = 1; attno <= info->natts; attno++)
		if (whole_row || bms_is_member(attno - FirstLowInvalidHeapAttributeNumber, attrs))
			result = lappend(result, makeInteger(attno));
	return result;
}

/*
 * GetForeignPlan: the ForeignScan, with the CfScanPlan in fdw_private (by
 * named index, see pushdown.c) and the quals the API does not check left to
 * PostgreSQL.
 */
static ForeignScan *
cfGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
				 ForeignPath *best_path, List *tlist, List *scan_clauses,
				 Plan *outer_plan)
{
	List	   *exprs = NIL;
	List	   *local_rinfos = NIL;
	List	   *clauses = NIL;
	CfScanPlan *plan;
	ListCell   *lc;
	bool		sorted_per_account = false;

	if (IS_JOIN_REL(baserel))
		return cf_join_plan(root, baserel, tlist, outer_plan);	/* join.c */

	if (IS_UPPER_REL(baserel))
	{
		/* count(*) pushed down (cfGetForeignUpperPaths) */
		RelOptInfo *scanrel = (RelOptInfo *) baserel->fdw_private;

		plan = cf_plan_quals(root, scanrel, scanrel->baserestrictinfo, &exprs,
							 &local_rinfos);
		plan->count_only = true;
		plan->count_by_account = (root->parse->groupClause != NIL);
		cf_plan_label_exprs(root, scanrel, plan, exprs);
		return make_foreignscan(tlist, NIL, 0, exprs, cf_plan_to_list(plan),
								add_to_flat_tlist(NIL,
												  pull_var_clause((Node *) baserel->reltarget->exprs,
																  PVC_INCLUDE_AGGREGATES)),
								NIL, outer_plan);
	}

	/* pseudoconstant clauses are the executor's (a gating Result) */
	foreach(lc, scan_clauses)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);

		if (!rinfo->pseudoconstant)
			clauses = lappend(clauses, rinfo);
	}
	plan = cf_plan_quals(root, baserel, clauses, &exprs, &local_rinfos);

	if (best_path->fdw_private != NIL && plan->id_expr < 0)
	{
		plan->order_value = strVal(linitial(best_path->fdw_private));
		plan->direction = strVal(lsecond(best_path->fdw_private));
		sorted_per_account = list_length(best_path->fdw_private) > 2;
	}
	cf_plan_limit(root, baserel, plan, best_path->path.pathkeys, sorted_per_account, &exprs);
	cf_plan_label_exprs(root, baserel, plan, exprs);
	plan->used_attnos = used_attnos(baserel, local_rinfos);

	return make_foreignscan(tlist,
							extract_actual_clauses(local_rinfos, false),
							baserel->relid,
							exprs,
							cf_plan_to_list(plan),
							NIL, NIL, outer_plan);
}

/* ---------------------------------------------------------------------
 * IMPORT FOREIGN SCHEMA
 * ---------------------------------------------------------------------
 */

static List *
cfImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	ForeignServer *server = GetForeignServer(serverOid);
	List	   *commands = NIL;
	ListCell   *lc;

	if (strcmp(stmt->remote_schema, "cfiam") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_SCHEMA_NOT_FOUND),
				 errmsg("cfiam has no remote schema \"%s\"", stmt->remote_schema),
				 errhint("Use IMPORT FOREIGN SCHEMA cfiam FROM SERVER %s INTO ...;",
						 quote_identifier(server->servername))));

	/* a misspelt name in LIMIT TO or EXCEPT would silently import nothing */
	foreach(lc, stmt->table_list)
	{
		RangeVar   *rv = lfirst(lc);

		if (cf_resource_by_name(rv->relname) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
					 errmsg("cfiam has no table \"%s\"", rv->relname),
					 errhint("Tables are: %s.", cf_resource_names())));
	}

	for (int i = 0; i < cf_resource_count(); i++)
	{
		const CfResource *res = cf_resource_by_index(i);
		StringInfoData buf;

		initStringInfo(&buf);
		appendStringInfo(&buf, "CREATE FOREIGN TABLE %s (\n",
						 quote_qualified_identifier(stmt->local_schema, res->name));
		for (int j = 0; j < res->ncolumns; j++)
			appendStringInfo(&buf, "  %s %s%s\n", quote_identifier(res->columns[j].name),
							 res->columns[j].sql_type,
							 j < res->ncolumns - 1 ? "," : "");
		appendStringInfo(&buf, ") SERVER %s OPTIONS (resource %s)",
						 quote_identifier(server->servername),
						 quote_literal_cstr(res->name));
		commands = lappend(commands, buf.data);
	}
	return commands;
}

/* ---------------------------------------------------------------------
 * Handler and module initialisation
 * ---------------------------------------------------------------------
 */

Datum
cfiam_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	routine->GetForeignRelSize = cfGetForeignRelSize;
	routine->GetForeignPaths = cfGetForeignPaths;
	routine->GetForeignPlan = cfGetForeignPlan;
	routine->BeginForeignScan = cfBeginForeignScan;
	routine->IterateForeignScan = cfIterateForeignScan;
	routine->ReScanForeignScan = cfReScanForeignScan;
	routine->EndForeignScan = cfEndForeignScan;
	routine->ExplainForeignScan = cfExplainForeignScan;
	routine->GetForeignUpperPaths = cfGetForeignUpperPaths;
	routine->GetForeignJoinPaths = cfGetForeignJoinPaths;
	routine->ImportForeignSchema = cfImportForeignSchema;
	routine->AnalyzeForeignTable = cfAnalyzeForeignTable;

	/* writes: modify.c */
	routine->IsForeignRelUpdatable = cfIsForeignRelUpdatable;
	routine->AddForeignUpdateTargets = cfAddForeignUpdateTargets;
	routine->PlanForeignModify = cfPlanForeignModify;
	routine->BeginForeignModify = cfBeginForeignModify;
	routine->ExecForeignInsert = cfExecForeignInsert;
	routine->ExecForeignBatchInsert = cfExecForeignBatchInsert;
	routine->GetForeignModifyBatchSize = cfGetForeignModifyBatchSize;
	routine->ExecForeignUpdate = cfExecForeignUpdate;
	routine->ExecForeignDelete = cfExecForeignDelete;
	routine->EndForeignModify = cfEndForeignModify;
	routine->BeginForeignInsert = cfBeginForeignInsert;
	routine->EndForeignInsert = cfEndForeignInsert;
	routine->ExplainForeignModify = cfExplainForeignModify;

	PG_RETURN_POINTER(routine);
}

void
_PG_init(void)
{
	/* the GUCs of cache.c and usage.c before http.c reserves the prefix */
	cf_cache_init();
	cf_usage_init();
	cf_limits_init();
	cf_deferred_init();
	cf_http_init();
}
