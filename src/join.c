/*-------------------------------------------------------------------------
 *
 * join.c
 *		Join pushdown: user groups with their members as one foreign scan.
 *
 *	 user_groups g [INNER | LEFT] JOIN user_group_members m
 *		 ON m.user_group_id = g.id
 *
 * is what the fan-out of a members scan does anyway: list the groups, then
 * each group's members.  As one scan it reads the groups once (with g's
 * filters: name, fuzzyName), and fetches the members listings (with m's
 * filters: fuzzyEmail) max_concurrency at a time, where a nested loop
 * would list them one after another.  A LEFT join gives a group whose
 * listing is empty one row with NULL members.
 *
 * Both tables must use the same server, account and user mapping.  Quals
 * the API applies inexactly (LIKE) are checked locally on the joined row;
 * in a LEFT join, m's are checked by the scan itself on each member (the
 * "member recheck"), since a group none of whose members passes must still
 * have its NULL row.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "cfiam.h"

#include <math.h>

#include "catalog/pg_operator.h"
#include "nodes/makefuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "optimizer/tlist.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/ruleutils.h"

/* What GetForeignPlan needs of an accepted join (joinrel->fdw_private). */
typedef struct CfJoinRelInfo
{
	RelOptInfo *grel;			/* user_groups */
	RelOptInfo *mrel;			/* user_group_members */
	JoinType	jointype;
	List	   *other_clauses;	/* join clauses checked locally (INNER) */
} CfJoinRelInfo;

static Var *
plain_var(Node *node)
{
	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	return (node && IsA(node, Var)) ? (Var *) node : NULL;
}

/* Is the Var this relation's column of that name? */
static bool
is_column(RelOptInfo *rel, Var *var, const char *name)
{
	CfRelInfo  *info = (CfRelInfo *) rel->fdw_private;

	return var && var->varno == rel->relid && var->varlevelsup == 0 &&
		var->varattno > 0 && var->varattno <= info->natts &&
		info->attr_columns[var->varattno - 1] != NULL &&
		strcmp(info->attr_columns[var->varattno - 1]->name, name) == 0;
}

/* m.<mcol> = g.<gcol>, either way round, a deterministic text equality */
static bool
is_columns_clause(RestrictInfo *rinfo, RelOptInfo *grel, const char *gcol,
				  RelOptInfo *mrel, const char *mcol)
{
	OpExpr	   *op = (OpExpr *) rinfo->clause;
	Var		   *l;
	Var		   *r;

	if (!IsA(op, OpExpr) || op->opno != TextEqualOperator || list_length(op->args) != 2)
		return false;
	if (OidIsValid(op->inputcollid) && !get_collation_isdeterministic(op->inputcollid))
		return false;
	l = plain_var(linitial(op->args));
	r = plain_var(lsecond(op->args));
	return (is_column(mrel, l, mcol) && is_column(grel, r, gcol)) ||
		(is_column(mrel, r, mcol) && is_column(grel, l, gcol));
}

/* m.user_group_id = g.id: the join's condition */
static bool
is_parent_clause(RestrictInfo *rinfo, RelOptInfo *grel, RelOptInfo *mrel)
{
	return is_columns_clause(rinfo, grel, "id", mrel, "user_group_id");
}

/*
 * m.account_id = g.account_id: what the pushed join gives by itself, as
 * each group's members are listed in the group's account.
 */
static bool
is_account_clause(RestrictInfo *rinfo, RelOptInfo *grel, RelOptInfo *mrel)
{
	return is_columns_clause(rinfo, grel, "account_id", mrel, "account_id");
}

/* Only plain columns of the two tables (no whole rows, no placeholders). */
static bool
only_plain_columns(Node *node)
{
	List	   *vars = pull_var_clause(node, PVC_INCLUDE_PLACEHOLDERS |
									   PVC_INCLUDE_AGGREGATES |
									   PVC_INCLUDE_WINDOWFUNCS);
	ListCell   *lc;

	foreach(lc, vars)
	{
		Var		   *var = lfirst(lc);

		if (!IsA(var, Var) || var->varattno <= 0)
			return false;
	}
	return true;
}

static bool
has_pseudoconstant(List *rinfos)
{
	ListCell   *lc;

	foreach(lc, rinfos)
		if (lfirst_node(RestrictInfo, lc)->pseudoconstant)
			return true;
	return false;
}

static Oid
user_mapping_oid(CfRelInfo *info)
{
	return GetUserMapping(info->userid, info->serverid)->umid;
}

/*
 * Plan both sides' calls into one fdw_exprs list: the groups' plan first,
 * then the members'.  Returns the members' plan, its join filled in but
 * for the target list; *local gets the quals PostgreSQL checks on the
 * joined row, *recheck those the scan checks on each member (LEFT join).
 */
static CfScanPlan *
plan_sides(PlannerInfo *root, CfJoinRelInfo *jinfo, List **fdw_exprs, List **local,
		   List **recheck)
{
	List	   *glocal = NIL;
	List	   *mlocal = NIL;
	CfScanPlan *gplan;
	CfScanPlan *mplan;

	gplan = cf_plan_quals(root, jinfo->grel, jinfo->grel->baserestrictinfo,
						  fdw_exprs, &glocal);
	mplan = cf_plan_quals(root, jinfo->mrel, jinfo->mrel->baserestrictinfo,
						  fdw_exprs, &mlocal);
	mplan->join = palloc0(sizeof(CfJoinPlan));
	mplan->join->jointype = jinfo->jointype;
	mplan->join->groups = gplan;
	mplan->join->recheck_expr = -1;
	if (jinfo->jointype == JOIN_LEFT)
	{
		*recheck = mlocal;
		mlocal = NIL;
	}
	else
		*recheck = NIL;
	*local = list_concat(list_concat(glocal, mlocal), list_copy(jinfo->other_clauses));
	return mplan;
}

/*
 * GetForeignJoinPaths: a path for user_groups [LEFT] JOIN
 * user_group_members ON m.user_group_id = g.id on one server and user
 * mapping, fetched as one scan (see scan.c).
 */
void
cfGetForeignJoinPaths(PlannerInfo *root, RelOptInfo *joinrel,
					  RelOptInfo *outerrel, RelOptInfo *innerrel,
					  JoinType jointype, JoinPathExtraData *extra)
{
	CfJoinRelInfo *jinfo;
	RelOptInfo *grel = outerrel;
	RelOptInfo *mrel = innerrel;
	CfRelInfo  *ginfo;
	CfRelInfo  *minfo;
	List	   *exprs = NIL;
	List	   *local = NIL;
	List	   *recheck = NIL;
	List	   *other = NIL;
	bool		found = false;
	CfScanPlan *mplan;
	ListCell   *lc;
	CfEstimate	est;
	Cost		startup;
	Cost		total;
	double		groups;
	double		per_group;
	double		pages;
	double		conc;

	if (joinrel->fdw_private != NULL)
		return;					/* already accepted */
	if (root->parse->commandType != CMD_SELECT || root->rowMarks != NIL)
		return;
	if (jointype != JOIN_INNER && jointype != JOIN_LEFT)
		return;
	if (outerrel->reloptkind != RELOPT_BASEREL || innerrel->reloptkind != RELOPT_BASEREL ||
		outerrel->fdw_private == NULL || innerrel->fdw_private == NULL)
		return;
	if (jointype == JOIN_INNER &&
		((CfRelInfo *) outerrel->fdw_private)->opts.resource->parent != NULL)
	{
		grel = innerrel;
		mrel = outerrel;
	}
	ginfo = (CfRelInfo *) grel->fdw_private;
	minfo = (CfRelInfo *) mrel->fdw_private;
	if (minfo->opts.resource->parent == NULL ||
		minfo->opts.resource->parent != ginfo->opts.resource)
		return;

	/*
	 * one server, account and user mapping (as postgres_fdw requires); on a
	 * server over every account, each account's groups with their members
	 */
	if (ginfo->serverid != minfo->serverid ||
		(ginfo->opts.account_id == NULL) != (minfo->opts.account_id == NULL) ||
		(ginfo->opts.account_id != NULL &&
		 strcmp(ginfo->opts.account_id, minfo->opts.account_id) != 0) ||
		user_mapping_oid(ginfo) != user_mapping_oid(minfo))
		return;
	if (!bms_is_empty(grel->lateral_relids) || !bms_is_empty(mrel->lateral_relids))
		return;

	foreach(lc, extra->restrictlist)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);

		if (is_parent_clause(rinfo, grel, mrel))
			found = true;
		else if (!is_account_clause(rinfo, grel, mrel))
			other = lappend(other, rinfo);
	}
	if (!found || (jointype == JOIN_LEFT && other != NIL))
		return;
	if (has_pseudoconstant(extra->restrictlist) ||
		has_pseudoconstant(grel->baserestrictinfo) ||
		has_pseudoconstant(mrel->baserestrictinfo))
		return;
	if (!only_plain_columns((Node *) joinrel->reltarget->exprs))
		return;

	jinfo = palloc0(sizeof(CfJoinRelInfo));
	jinfo->grel = grel;
	jinfo->mrel = mrel;
	jinfo->jointype = jointype;
	jinfo->other_clauses = other;
	mplan = plan_sides(root, jinfo, &exprs, &local, &recheck);

	/* a GET by id, or given groups, are better served by other plans */
	if (mplan->join->groups->id_expr >= 0 || mplan->id_expr >= 0 ||
		mplan->parent_expr >= 0)
		return;
	/* the accounts read are named on one side at most (see cf_plan_accounts) */
	if (mplan->account_expr >= 0 && mplan->join->groups->account_expr >= 0)
		return;
	if (!only_plain_columns((Node *) extract_actual_clauses(local, false)) ||
		!only_plain_columns((Node *) extract_actual_clauses(recheck, false)))
		return;

	/*
	 * Requests: the groups' pages, then each group's listing and its pages;
	 * a round is max_concurrency requests after page 1 of the groups.
	 */
	conc = Max(ginfo->max_concurrency, 1);
	groups = Max(grel->rows, 1);
	per_group = mrel->rows / Max(cf_resource_rows(minfo, ginfo->opts.resource, -1), 1);
	pages = Max(1, ceil(per_group / minfo->opts.resource->per_page_max));
	memset(&est, 0, sizeof(est));
	est.requests = ceil(groups / ginfo->opts.resource->per_page_max) + groups * pages;
	est.rounds = 1 + ceil((ceil(groups / ginfo->opts.resource->per_page_max) - 1) / conc) +
		ceil(groups / conc) + ceil(groups * (pages - 1) / conc);
	est.rows = joinrel->rows;
	cf_scan_costs(ginfo, &est, false, &startup, &total);

	joinrel->fdw_private = jinfo;
	add_path(joinrel, (Path *) create_foreign_join_path(root, joinrel, NULL,
														joinrel->rows, startup, total,
														NIL, NULL, NULL, NIL));
}

/* "(cf.user_groups g)": schema, table and alias of one side */
static char *
describe_rel(PlannerInfo *root, RelOptInfo *rel)
{
	RangeTblEntry *rte = planner_rt_fetch(rel->relid, root);
	char	   *relname = get_rel_name(rte->relid);
	char	   *nspname = get_namespace_name(get_rel_namespace(rte->relid));

	if (strcmp(rte->eref->aliasname, relname) != 0)
		return psprintf("(%s.%s %s)", quote_identifier(nspname), quote_identifier(relname),
						quote_identifier(rte->eref->aliasname));
	return psprintf("(%s.%s)", quote_identifier(nspname), quote_identifier(relname));
}

/* Attnos (Integer) of one side's entries in the scan's target list. */
static List *
side_attnos(List *scan_tlist, Index relid)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, scan_tlist)
	{
		Var		   *var = (Var *) lfirst_node(TargetEntry, lc)->expr;

		if (var->varno == relid && !list_member_int(result, var->varattno))
			result = lappend(result, makeInteger(var->varattno));
	}
	return result;
}

/* GetForeignPlan of a pushed join */
ForeignScan *
cf_join_plan(PlannerInfo *root, RelOptInfo *joinrel, List *tlist, Plan *outer_plan)
{
	CfJoinRelInfo *jinfo = (CfJoinRelInfo *) joinrel->fdw_private;
	List	   *exprs = NIL;
	List	   *local = NIL;
	List	   *recheck = NIL;
	List	   *local_exprs;
	List	   *recheck_exprs;
	List	   *scan_tlist;
	CfScanPlan *mplan;
	CfJoinPlan *join;
	ListCell   *lc;

	mplan = plan_sides(root, jinfo, &exprs, &local, &recheck);
	join = mplan->join;
	local_exprs = extract_actual_clauses(local, false);
	recheck_exprs = extract_actual_clauses(recheck, false);

	/* the scan's tuple: every column the query or a local qual reads */
	scan_tlist = add_to_flat_tlist(NIL, pull_var_clause((Node *) joinrel->reltarget->exprs,
														PVC_RECURSE_PLACEHOLDERS));
	scan_tlist = add_to_flat_tlist(scan_tlist, pull_var_clause((Node *) local_exprs,
															   PVC_RECURSE_PLACEHOLDERS));
	scan_tlist = add_to_flat_tlist(scan_tlist, pull_var_clause((Node *) recheck_exprs,
															   PVC_RECURSE_PLACEHOLDERS));
	/* the member recheck is one more of fdw_exprs, on the scan's tuple */
	if (recheck_exprs != NIL)
	{
		join->recheck_expr = list_length(exprs);
		exprs = lappend(exprs, make_ands_explicit(recheck_exprs));
	}
	foreach(lc, scan_tlist)
	{
		Var		   *var = (Var *) lfirst_node(TargetEntry, lc)->expr;

		join->tlist_sides = lappend(join->tlist_sides,
									makeInteger(var->varno == jinfo->grel->relid ? 0 : 1));
		join->tlist_attnos = lappend(join->tlist_attnos, makeInteger(var->varattno));
	}
	join->groups->used_attnos = side_attnos(scan_tlist, jinfo->grel->relid);
	mplan->used_attnos = side_attnos(scan_tlist, jinfo->mrel->relid);
	join->relations = psprintf("%s %s JOIN %s", describe_rel(root, jinfo->grel),
							   jinfo->jointype == JOIN_LEFT ? "LEFT" : "INNER",
							   describe_rel(root, jinfo->mrel));
	cf_plan_label_exprs(root, jinfo->grel, join->groups, exprs);
	cf_plan_label_exprs(root, jinfo->mrel, mplan, exprs);

	return make_foreignscan(tlist, local_exprs, 0, exprs, cf_plan_to_list(mplan),
							scan_tlist, NIL, outer_plan);
}
