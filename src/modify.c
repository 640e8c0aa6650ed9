/*-------------------------------------------------------------------------
 *
 * modify.c
 *		INSERT, UPDATE and DELETE on cfiam foreign tables, and the function
 *		cfiam_replace_user_group_members().
 *
 * Each row is one API call (POST, PUT or DELETE), with one exception:
 * INSERTs into user_group_members without RETURNING reach us in batches,
 * and the rows of a batch that go to the same group travel in one POST.
 * (PostgreSQL does not batch when RETURNING must give each row back.)
 *
 * An HTTP API has no transactions: a call that succeeded stays done when a
 * later row fails or the transaction rolls back.  So every value is checked
 * before the call that carries it, and an error raised while a statement is
 * applying says how many of its rows Cloudflare had already applied.
 *
 * UPDATE and DELETE find their rows with an ordinary scan; the row's key
 * (id, and user_group_id for a membership) travels to us as junk columns.
 *
 *-------------------------------------------------------------------------
 */
#include "cfiam.h"

#include "access/sysattr.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/appendinfo.h"
#include "optimizer/inherit.h"
#include "optimizer/pathnode.h"
#include "parser/parsetree.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

/*
 * Most members one POST adds to a group.  The API sets no limit; this keeps
 * one request body (and one failure) to a reasonable size.
 */
#define CF_MEMBERS_PER_CALL 100

/* Junk columns that carry a row's key from the scan to UPDATE/DELETE. */
#define CF_KEY_JUNK "cfiam_id"
#define CF_PARENT_JUNK "cfiam_user_group_id"

/* An account member's email, as the API bounds it (iam_email). */
#define CF_EMAIL_MAX 90

typedef struct CfModifyState
{
	CmdType		operation;
	const CfResource *res;
	char	   *account_id;
	char	   *table_name;
	CfConnection *conn;			/* NULL under a plain EXPLAIN */
	TupleDesc	tupdesc;
	const CfColumn **attr_columns;	/* every column: answers fill all */
	AttInMetadata *attinmeta;
	List	   *updated_attnos; /* UPDATE: the columns SET */
	bool		has_returning;
	AttrNumber	key_junk;		/* in the subplan's output */
	AttrNumber	parent_junk;
	AttrNumber	wholerow_junk;	/* DELETE RETURNING: the old row */
	MemoryContext temp_cxt;		/* reset for every row or batch */
	int64		requests;		/* for EXPLAIN ANALYZE */
	int64		retries;
	int64		applied;		/* rows of this statement done at Cloudflare */
	HTAB	   *added;			/* "group/member" pairs this statement added */
	MemoryContext state_cxt;	/* lives as long as the statement */
} CfModifyState;

/* ---------------------------------------------------------------------
 * Small helpers
 * ---------------------------------------------------------------------
 */

static const char *
operation_name(CmdType operation)
{
	switch (operation)
	{
		case CMD_INSERT:
			return "INSERT";
		case CMD_UPDATE:
			return "UPDATE";
		case CMD_DELETE:
			return "DELETE";
		default:
			return "statement";
	}
}

static int
operation_flag(CmdType operation)
{
	switch (operation)
	{
		case CMD_INSERT:
			return CF_OP_INSERT;
		case CMD_UPDATE:
			return CF_OP_UPDATE;
		case CMD_DELETE:
			return CF_OP_DELETE;
		default:
			return 0;
	}
}

/* The attno of the table column that maps to a catalog column, or 0. */
static AttrNumber
column_attno(const CfColumn **attr_columns, int natts, const char *name)
{
	for (int i = 0; i < natts; i++)
		if (attr_columns[i] && strcmp(attr_columns[i]->name, name) == 0)
			return i + 1;
	return 0;
}

/* "name, policies": the columns of a resource with a CF_W_* flag. */
static char *
columns_with(const CfResource *res, int flag)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < res->ncolumns; i++)
		if (res->columns[i].writes & flag)
			appendStringInfo(&buf, "%s%s", buf.len ? ", " : "", res->columns[i].name);
	return buf.data;
}

/* The three writable resources differ in their bodies. */
static bool
is_user_groups(CfModifyState *st)
{
	return st->res == cf_resource_by_name("user_groups");
}

/* Refuse a statement the resource does not take, naming the table. */
static void
check_operation(Relation rel, const CfResource *res, CmdType operation)
{
	if (res->operations & operation_flag(operation))
		return;
	if (operation == CMD_UPDATE && res->operations != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot update foreign table \"%s\"", RelationGetRelationName(rel)),
				 errdetail("A membership has no field that can change."),
				 errhint("DELETE the membership and INSERT the new one instead.")));
	ereport(ERROR,
			(errcode(ERRCODE_WRONG_OBJECT_TYPE),
			 errmsg("cannot %s foreign table \"%s\"",
					operation == CMD_INSERT ? "insert into" :
					operation == CMD_UPDATE ? "update" : "delete from",
					RelationGetRelationName(rel)),
			 errdetail("Cloudflare %s are read-only through cfiam.", res->name)));
}

static void
invalid_value(CfModifyState *st, const char *column, const char *value,
			  const char *why)
{
	if (value)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for column \"%s\" of foreign table \"%s\": \"%s\"",
						column, st->table_name, value),
				 errdetail_internal("%s", why)));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for column \"%s\" of foreign table \"%s\"",
					column, st->table_name),
			 errdetail_internal("%s", why)));
}

static void
check_id(CfModifyState *st, const char *column, const char *value)
{
	if (!cf_is_id(value))
		invalid_value(st, column, value,
					  "A Cloudflare id is 32 lowercase hexadecimal characters.");
}

/*
 * An address the API will take: a local part, one "@", a domain with a dot
 * inside it, at most 90 bytes, no spaces, quotes or control characters.
 */
static bool
looks_like_email(const char *s)
{
	const char *at = strchr(s, '@');
	const char *dot;

	if (strlen(s) > CF_EMAIL_MAX || at == NULL || at == s || strchr(at + 1, '@'))
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char) *p <= ' ' || *p == '"' || *p == '<' || *p == '>' ||
			*p == ',' || *p == ';' || *p == '\\' || *p == 0x7f)
			return false;
	dot = strrchr(at + 1, '.');
	return dot != NULL && dot > at + 1 && dot[1] != '\0';
}

/* A column's value as UTF-8 text (the API's encoding), or NULL. */
static char *
slot_text(CfModifyState *st, TupleTableSlot *slot, AttrNumber attno)
{
	Oid			typoutput;
	bool		varlena;
	char	   *text;

	if (attno == 0 || slot->tts_isnull[attno - 1])
		return NULL;
	getTypeOutputInfo(TupleDescAttr(st->tupdesc, attno - 1)->atttypid, &typoutput, &varlena);
	text = OidOutputFunctionCall(typoutput, slot->tts_values[attno - 1]);
	return pg_server_to_any(text, strlen(text), PG_UTF8);
}

/* A column's jsonb (or json) value parsed with cJSON, or NULL. */
static cJSON *
slot_json(CfModifyState *st, TupleTableSlot *slot, AttrNumber attno, const char *column)
{
	char	   *text = slot_text(st, slot, attno);
	cJSON	   *json;

	if (text == NULL)
		return NULL;
	json = cf_json_parse(text, strlen(text));
	if (json == NULL)
		invalid_value(st, column, NULL, "The value is not JSON.");
	return json;
}

/* A junk key column of the scan's row, as text. */
static char *
junk_text(CfModifyState *st, TupleTableSlot *planSlot, AttrNumber junk,
		  const char *column)
{
	bool		isnull;
	Datum		value = ExecGetJunkAttribute(planSlot, junk, &isnull);
	AttrNumber	attno = column_attno(st->attr_columns, st->tupdesc->natts, column);
	Oid			typoutput;
	bool		varlena;
	char	   *text;

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("row of foreign table \"%s\" has a null \"%s\"", st->table_name, column)));
	getTypeOutputInfo(TupleDescAttr(st->tupdesc, attno - 1)->atttypid, &typoutput, &varlena);
	text = OidOutputFunctionCall(typoutput, value);
	check_id(st, column, text);
	return text;
}

/* Error context: how much of the statement Cloudflare already applied. */
static void
modify_error_callback(void *arg)
{
	CfModifyState *st = (CfModifyState *) arg;

	if (st->applied > 0)
		errcontext("%s on foreign table \"%s\": " INT64_FORMAT " row(s) of this statement had already been applied at Cloudflare; a ROLLBACK does not undo them",
				   operation_name(st->operation), st->table_name, st->applied);
	else
		errcontext("%s on foreign table \"%s\": no row of this statement had been applied at Cloudflare",
				   operation_name(st->operation), st->table_name);
}

/*
 * Around each row (or batch): a fresh temporary context, and the error
 * context that says how much of the statement was applied.
 */
static MemoryContext
start_row(CfModifyState *st, ErrorContextCallback *errcallback)
{
	MemoryContextReset(st->temp_cxt);
	errcallback->callback = modify_error_callback;
	errcallback->arg = st;
	errcallback->previous = error_context_stack;
	error_context_stack = errcallback;
	return MemoryContextSwitchTo(st->temp_cxt);
}

static void
finish_row(ErrorContextCallback *errcallback, MemoryContext oldcxt)
{
	error_context_stack = errcallback->previous;
	MemoryContextSwitchTo(oldcxt);
}

/*
 * Send one request and decode its envelope.  With not_found non-NULL, a 404
 * sets it instead of raising an error.  Returns the "result" member.
 */
static cJSON *
call_api(CfModifyState *st, const char *method, const char *path, cJSON *body,
		 bool *not_found)
{
	CfHttpResponse response;
	cJSON	   *doc;

	cf_http_request(st->conn, method, path, body ? cf_json_print(body) : NULL, &response);
	st->requests++;
	st->retries += response.retries;
	doc = cf_decode_envelope(&response, method, path, not_found);
	if (not_found && *not_found)
		return NULL;
	return cJSON_GetObjectItemCaseSensitive(doc, "result");
}

/* Fill a slot with an API object, e.g. the answer to a POST or PUT. */
static void
store_object(CfModifyState *st, TupleTableSlot *slot, cJSON *object,
			 const char *parent_id)
{
	ExecClearTuple(slot);
	cf_object_to_values(st->res, object, parent_id, slot->tts_tupleDescriptor,
						st->attr_columns, st->attinmeta,
						slot->tts_values, slot->tts_isnull, st->table_name);
	ExecStoreVirtualTuple(slot);
	/* the values live in temp_cxt, reset before the next row */
	ExecMaterializeSlot(slot);
}

/* ---------------------------------------------------------------------
 * Converting column values to request bodies
 * ---------------------------------------------------------------------
 */

/* A reference such as {"id": "..."} (or a bare id string): its id. */
static const char *
reference_id(cJSON *item)
{
	if (cJSON_IsString(item))
		return item->valuestring;
	return cf_json_get_string(item, "id");
}

/* [{"id": ...}] from a list of references, each id checked. */
static cJSON *
references_body(CfModifyState *st, const char *column, cJSON *list, const char *where)
{
	cJSON	   *out = cf_json_array();
	cJSON	   *item;
	int			k = 0;

	if (!cJSON_IsArray(list))
		invalid_value(st, column, NULL,
					  psprintf("%s must be an array of {\"id\": ...} objects.", where));
	cJSON_ArrayForEach(item, list)
	{
		const char *id = reference_id(item);

		if (id == NULL || !cf_is_id(id))
			invalid_value(st, column, NULL,
						  psprintf("%s[%d] must have an \"id\" of 32 lowercase hexadecimal characters.",
								   where, k));
		cf_json_add_string(cf_json_append(out, cf_json_object()), "id", id);
		k++;
	}
	return out;
}

/*
 * Policies in the shape the API takes:
 *	[{"access": "allow"|"deny", "permission_groups": [{"id"}], "resource_groups": [{"id"}]}]
 * Policies as cfiam reads them (whole permission and resource group
 * objects) are accepted too: only their ids are sent, so a SELECTed value
 * can be written back.  id_rule: 0 drops a policy's id, 1 keeps it when
 * present, 2 requires it (updating a user group names each policy).
 */
static cJSON *
policies_body(CfModifyState *st, const char *column, cJSON *policies, int id_rule)
{
	cJSON	   *out = cf_json_array();
	cJSON	   *policy;
	int			k = 0;

	if (!cJSON_IsArray(policies))
		invalid_value(st, column, NULL, "Policies must be a JSON array of policy objects.");
	cJSON_ArrayForEach(policy, policies)
	{
		cJSON	   *p = cf_json_object();
		const char *id = cf_json_get_string(policy, "id");
		const char *access = cf_json_get_string(policy, "access");

		if (!cJSON_IsObject(policy))
			invalid_value(st, column, NULL, psprintf("policies[%d] must be an object.", k));
		if (id_rule == 2 && (id == NULL || *id == '\0'))
			invalid_value(st, column, NULL,
						  psprintf("policies[%d] has no \"id\": an UPDATE names each policy it keeps by its id.", k));
		if (id_rule > 0 && id != NULL)
			cf_json_add_string(p, "id", id);
		if (access == NULL || (strcmp(access, "allow") != 0 && strcmp(access, "deny") != 0))
			invalid_value(st, column, NULL,
						  psprintf("policies[%d].access must be \"allow\" or \"deny\".", k));
		cf_json_add_string(p, "access", access);
		cf_json_add(p, "permission_groups",
					references_body(st, column,
									cJSON_GetObjectItemCaseSensitive(policy, "permission_groups"),
									psprintf("policies[%d].permission_groups", k)));
		cf_json_add(p, "resource_groups",
					references_body(st, column,
									cJSON_GetObjectItemCaseSensitive(policy, "resource_groups"),
									psprintf("policies[%d].resource_groups", k)));
		cf_json_append(out, p);
		k++;
	}
	return out;
}

/*
 * An account member's roles, from role_ids (text[]) or roles (jsonb ids or
 * {"id": ...} objects), as a list of checked id strings.
 */
static List *
member_role_ids(CfModifyState *st, TupleTableSlot *slot, AttrNumber attno)
{
	const char *column = st->attr_columns[attno - 1]->name;
	Form_pg_attribute att = TupleDescAttr(st->tupdesc, attno - 1);
	List	   *ids = NIL;

	if (slot->tts_isnull[attno - 1])
		return NIL;

	if (strcmp(column, "roles") == 0)
	{
		cJSON	   *refs = references_body(st, column, slot_json(st, slot, attno, column), "roles");
		cJSON	   *item;

		cJSON_ArrayForEach(item, refs)
			ids = lappend(ids, pstrdup(cf_json_get_string(item, "id")));
		return ids;
	}

	/* role_ids: an array of text */
	{
		Oid			elemtype = get_element_type(att->atttypid);
		int16		typlen;
		bool		typbyval;
		char		typalign;
		Oid			typoutput;
		bool		varlena;
		Datum	   *elems;
		bool	   *elem_nulls;
		int			nelems;

		if (!OidIsValid(elemtype))
			invalid_value(st, column, NULL, "role_ids must be declared as an array (text[]) to be written.");
		get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
		getTypeOutputInfo(elemtype, &typoutput, &varlena);
		deconstruct_array(DatumGetArrayTypeP(slot->tts_values[attno - 1]), elemtype,
						  typlen, typbyval, typalign, &elems, &elem_nulls, &nelems);
		for (int i = 0; i < nelems; i++)
		{
			char	   *id;

			if (elem_nulls[i])
				invalid_value(st, column, NULL, "role_ids must not contain nulls.");
			id = OidOutputFunctionCall(typoutput, elems[i]);
			check_id(st, column, id);
			ids = lappend(ids, id);
		}
	}
	return ids;
}

/* Refuse a value in a column the API assigns. */
static void
check_not_given(CfModifyState *st, TupleTableSlot *slot)
{
	for (int i = 0; i < st->tupdesc->natts; i++)
	{
		const CfColumn *col = st->attr_columns[i];

		if (col && !(col->writes & CF_W_INSERT) && !slot->tts_isnull[i])
			ereport(ERROR,
					(errcode(ERRCODE_GENERATED_ALWAYS),
					 errmsg("cannot insert a value into column \"%s\" of foreign table \"%s\"",
							col->name, st->table_name),
					 errdetail("Cloudflare assigns it; RETURNING shows the value it chose."),
					 errhint("Columns an INSERT into %s takes: %s.", st->res->name,
							 columns_with(st->res, CF_W_INSERT))));
	}
}

/* A required INSERT column's text, or an error that names it. */
static char *
required_text(CfModifyState *st, TupleTableSlot *slot, const char *column)
{
	AttrNumber	attno = column_attno(st->attr_columns, st->tupdesc->natts, column);
	char	   *text = slot_text(st, slot, attno);

	if (text == NULL || *text == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("an INSERT into foreign table \"%s\" needs a value for column \"%s\"",
						st->table_name, column),
				 errhint("Columns an INSERT into %s takes: %s (required: %s).", st->res->name,
						 columns_with(st->res, CF_W_INSERT),
						 columns_with(st->res, CF_W_REQUIRED))));
	return text;
}

/* ---------------------------------------------------------------------
 * Planning
 * ---------------------------------------------------------------------
 */

static const CfResource *
relation_resource(Relation rel)
{
	CfTableOptions opts;

	cf_get_table_options(RelationGetRelid(rel), &opts);
	return opts.resource;
}

int
cfIsForeignRelUpdatable(Relation rel)
{
	const CfResource *res = relation_resource(rel);
	int			mask = 0;

	if (res->operations & CF_OP_INSERT)
		mask |= 1 << CMD_INSERT;
	if (res->operations & CF_OP_UPDATE)
		mask |= 1 << CMD_UPDATE;
	if (res->operations & CF_OP_DELETE)
		mask |= 1 << CMD_DELETE;
	return mask;
}

/*
 * UPDATE and DELETE need each row's key: id, and the group of a membership.
 * A DELETE with RETURNING also needs the old row, since the API's answer to
 * a DELETE is only the id.
 */
void
cfAddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
						  RangeTblEntry *target_rte, Relation target_relation)
{
	const CfResource *res = relation_resource(target_relation);
	TupleDesc	tupdesc = RelationGetDescr(target_relation);
	int			natts;
	const CfColumn **cols = cf_map_columns(target_relation, res, &natts);

	check_operation(target_relation, res, root->parse->commandType);

	for (int i = 0; i < res->ncolumns; i++)
	{
		const CfColumn *col = &res->columns[i];
		AttrNumber	attno;
		Form_pg_attribute att;

		if (!(col->writes & CF_W_KEY))
			continue;
		attno = column_attno(cols, natts, col->name);
		if (attno == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
					 errmsg("foreign table \"%s\" has no column \"%s\", which names the row to change",
							RelationGetRelationName(target_relation), col->name)));
		att = TupleDescAttr(tupdesc, attno - 1);
		add_row_identity_var(root,
							 makeVar(rtindex, attno, att->atttypid, att->atttypmod,
									 att->attcollation, 0),
							 rtindex,
							 col->json_kind == CF_JSON_PARENT ? CF_PARENT_JUNK : CF_KEY_JUNK);
	}

	if (root->parse->commandType == CMD_DELETE && root->parse->returningList != NIL)
		add_row_identity_var(root, makeWholeRowVar(target_rte, rtindex, 0, false),
							 rtindex, "wholerow");
}

/*
 * Check at plan time what can be: the statement, the columns an UPDATE sets.
 * fdw_private: the updated attnos (IntList) and whether RETURNING is used.
 */
List *
cfPlanForeignModify(PlannerInfo *root, ModifyTable *plan, Index resultRelation,
					int subplan_index)
{
	CmdType		operation = plan->operation;
	RangeTblEntry *rte = planner_rt_fetch(resultRelation, root);
	Relation	rel = table_open(rte->relid, NoLock);
	const CfResource *res = relation_resource(rel);
	List	   *updated = NIL;
	bool		has_returning;

	check_operation(rel, res, operation);

	if (plan->onConflictAction != ONCONFLICT_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cfiam does not support ON CONFLICT"),
				 errhint("To skip existing rows, INSERT ... SELECT ... WHERE NOT EXISTS (SELECT FROM %s ...).",
						 RelationGetRelationName(rel))));

	if (operation == CMD_UPDATE)
	{
		int			natts;
		const CfColumn **cols = cf_map_columns(rel, res, &natts);
		Bitmapset  *set_cols = get_rel_all_updated_cols(root, find_base_rel(root, resultRelation));
		int			col = -1;
		bool		sets_roles = false;
		bool		sets_role_ids = false;

		while ((col = bms_next_member(set_cols, col)) >= 0)
		{
			AttrNumber	attno = col + FirstLowInvalidHeapAttributeNumber;
			const CfColumn *c;

			if (attno <= InvalidAttrNumber || attno > natts || cols[attno - 1] == NULL)
				continue;
			c = cols[attno - 1];
			if (!(c->writes & CF_W_UPDATE))
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot change column \"%s\" of foreign table \"%s\"",
								c->name, RelationGetRelationName(rel)),
						 (c->writes & (CF_W_KEY | CF_W_INSERT)) == 0 ?
						 errdetail("Cloudflare assigns it.") :
						 (c->writes & CF_W_KEY) ?
						 errdetail("It names the row at Cloudflare.") :
						 errdetail("The Cloudflare API cannot change it once the row exists."),
						 errhint("Columns an UPDATE of %s can set: %s.", res->name,
								 columns_with(res, CF_W_UPDATE))));
			sets_roles |= strcmp(c->name, "roles") == 0;
			sets_role_ids |= strcmp(c->name, "role_ids") == 0;
			updated = lappend_int(updated, attno);
		}
		if (sets_roles && sets_role_ids)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("set either role_ids or roles of foreign table \"%s\", not both",
							RelationGetRelationName(rel)),
					 errdetail("Both describe the member's roles.")));
	}

	has_returning = plan->returningLists != NIL &&
		list_nth(plan->returningLists, subplan_index) != NIL;
	table_close(rel, NoLock);
	return list_make2(updated, makeInteger(has_returning ? 1 : 0));
}

/* ---------------------------------------------------------------------
 * Execution
 * ---------------------------------------------------------------------
 */

static CfModifyState *
create_modify_state(EState *estate, ResultRelInfo *rinfo, CmdType operation,
					bool has_returning, bool connect)
{
	Relation	rel = rinfo->ri_RelationDesc;
	CfModifyState *st = palloc0(sizeof(CfModifyState));
	CfTableOptions opts;
	int			natts;

	cf_get_table_options(RelationGetRelid(rel), &opts);
	st->operation = operation;
	st->res = opts.resource;
	st->account_id = opts.account_id;
	st->table_name = pstrdup(RelationGetRelationName(rel));
	st->tupdesc = RelationGetDescr(rel);
	st->attr_columns = cf_map_columns(rel, st->res, &natts);
	st->attinmeta = TupleDescGetAttInMetadata(st->tupdesc);
	st->has_returning = has_returning;
	st->state_cxt = estate->es_query_cxt;
	st->temp_cxt = AllocSetContextCreate(estate->es_query_cxt, "cfiam modify",
										 ALLOCSET_SMALL_SIZES);
	if (connect)
	{
		ForeignTable *table = GetForeignTable(RelationGetRelid(rel));
		ForeignServer *server = GetForeignServer(table->serverid);
		Oid			userid = GetUserId();

		if (rinfo->ri_RangeTableIndex > 0)
		{
			RangeTblEntry *rte = exec_rt_fetch(rinfo->ri_RangeTableIndex, estate);

			if (OidIsValid(rte->checkAsUser))
				userid = rte->checkAsUser;
		}
		st->conn = cf_get_connection(server, GetUserMapping(userid, server->serverid));
	}
	return st;
}

void
cfBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
					 List *fdw_private, int subplan_index, int eflags)
{
	CfModifyState *st;
	Plan	   *subplan = outerPlanState(mtstate)->plan;

	st = create_modify_state(mtstate->ps.state, rinfo, mtstate->operation,
							 intVal(lsecond(fdw_private)) != 0,
							 (eflags & EXEC_FLAG_EXPLAIN_ONLY) == 0);
	st->updated_attnos = (List *) linitial(fdw_private);

	if (st->operation == CMD_UPDATE || st->operation == CMD_DELETE)
	{
		st->key_junk = ExecFindJunkAttributeInTlist(subplan->targetlist, CF_KEY_JUNK);
		if (!AttributeNumberIsValid(st->key_junk))
			elog(ERROR, "could not find junk column \"%s\"", CF_KEY_JUNK);
		if (st->res->parent)
		{
			st->parent_junk = ExecFindJunkAttributeInTlist(subplan->targetlist, CF_PARENT_JUNK);
			if (!AttributeNumberIsValid(st->parent_junk))
				elog(ERROR, "could not find junk column \"%s\"", CF_PARENT_JUNK);
		}
		st->wholerow_junk = ExecFindJunkAttributeInTlist(subplan->targetlist, "wholerow");
	}
	rinfo->ri_FdwState = st;
}

/* COPY FROM and INSERTs routed to a foreign partition. */
void
cfBeginForeignInsert(ModifyTableState *mtstate, ResultRelInfo *rinfo)
{
	rinfo->ri_FdwState = create_modify_state(mtstate->ps.state, rinfo, CMD_INSERT,
											 rinfo->ri_returningList != NIL, true);
}

void
cfEndForeignInsert(EState *estate, ResultRelInfo *rinfo)
{
	/* memory belongs to the query; the connection is cached */
}

void
cfEndForeignModify(EState *estate, ResultRelInfo *rinfo)
{
	/* memory belongs to the query; the connection is cached */
}

/*
 * Memberships without RETURNING go in batches (one POST per group and
 * batch); everything else one row at a time.
 */
int
cfGetForeignModifyBatchSize(ResultRelInfo *rinfo)
{
	CfModifyState *st = (CfModifyState *) rinfo->ri_FdwState;
	TriggerDesc *trigdesc = rinfo->ri_TrigDesc;

	if (st == NULL || st->res->parent == NULL ||
		rinfo->ri_projectReturning != NULL || rinfo->ri_WithCheckOptions != NIL ||
		(trigdesc && trigdesc->trig_insert_after_row))
		return 1;
	return CF_MEMBERS_PER_CALL;
}

/* user_groups: POST {"name", "policies"} */
static void
insert_user_group(CfModifyState *st, TupleTableSlot *slot)
{
	cJSON	   *body = cf_json_object();
	AttrNumber	pol_attno = column_attno(st->attr_columns, st->tupdesc->natts, "policies");
	cJSON	   *policies = slot_json(st, slot, pol_attno, "policies");
	char		path[256];
	cJSON	   *result;

	cf_json_add_string(body, "name", required_text(st, slot, "name"));
	if (policies)
		cf_json_add(body, "policies", policies_body(st, "policies", policies, 0));

	snprintf(path, sizeof(path), st->res->list_path, st->account_id);
	result = call_api(st, "POST", path, body, NULL);
	st->applied++;
	store_object(st, slot, result, NULL);
}

/* account_members: POST {"email", "roles": [ids], "policies", "status"} */
static void
insert_account_member(CfModifyState *st, TupleTableSlot *slot)
{
	int			natts = st->tupdesc->natts;
	cJSON	   *body = cf_json_object();
	char	   *email = required_text(st, slot, "email");
	char	   *status = slot_text(st, slot, column_attno(st->attr_columns, natts, "status"));
	AttrNumber	role_ids_attno = column_attno(st->attr_columns, natts, "role_ids");
	AttrNumber	roles_attno = column_attno(st->attr_columns, natts, "roles");
	AttrNumber	pol_attno = column_attno(st->attr_columns, natts, "policies");
	bool		has_role_ids = role_ids_attno && !slot->tts_isnull[role_ids_attno - 1];
	bool		has_roles = roles_attno && !slot->tts_isnull[roles_attno - 1];
	cJSON	   *policies = slot_json(st, slot, pol_attno, "policies");
	char		path[256];
	cJSON	   *result;

	if (!looks_like_email(email))
		invalid_value(st, "email", email,
					  "An email address has a local part, one @ and a domain with a dot, at most 90 bytes and no spaces.");
	if (status && strcmp(status, "accepted") != 0 && strcmp(status, "pending") != 0)
		invalid_value(st, "status", status, "A new member's status is accepted or pending.");
	if (has_role_ids && has_roles)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("give either role_ids or roles for a new member of foreign table \"%s\", not both",
						st->table_name)));
	if (!has_role_ids && !has_roles && policies == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("an INSERT into foreign table \"%s\" needs role_ids, roles or policies",
						st->table_name),
				 errdetail("Cloudflare invites a member with roles or with policies.")));

	cf_json_add_string(body, "email", email);
	if (has_role_ids || has_roles)
	{
		/* a new member's roles are id strings (an update's are objects) */
		cJSON	   *roles = cf_json_add(body, "roles", cf_json_array());
		ListCell   *lc;

		foreach(lc, member_role_ids(st, slot, has_roles ? roles_attno : role_ids_attno))
			cf_json_append(roles, cf_json_string(lfirst(lc)));
	}
	if (policies)
		cf_json_add(body, "policies", policies_body(st, "policies", policies, 1));
	if (status)
		cf_json_add_string(body, "status", status);

	snprintf(path, sizeof(path), st->res->list_path, st->account_id);
	result = call_api(st, "POST", path, body, NULL);
	st->applied++;
	store_object(st, slot, result, NULL);
}

/*
 * Has this statement added the member to the group already?  With record,
 * remember that it has.  Rows reach us one at a time (RETURNING) or in
 * batches, so a repeated pair is caught across rows and batches, before it
 * is sent.
 */
static bool
membership_added(CfModifyState *st, const char *group, const char *member, bool record)
{
	char		key[2 * CF_ID_LEN + 2];
	bool		found;

	if (st->added == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(key);
		ctl.entrysize = sizeof(key);
		ctl.hcxt = st->state_cxt;
		st->added = hash_create("cfiam memberships added", 64, &ctl,
								HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
	snprintf(key, sizeof(key), "%s/%s", group, member);
	(void) hash_search(st->added, key, record ? HASH_ENTER : HASH_FIND, &found);
	return found;
}

/*
 * user_group_members: the rows of one batch grouped by group, one POST of
 * [{"id": member}, ...] per group, groups in the order they first appear.
 * Every row is checked before the first call.  With fill, each slot gets
 * the member as the API answered it (for RETURNING).
 */
static void
insert_group_members(CfModifyState *st, TupleTableSlot **slots, int n, bool fill)
{
	char	  **groups = palloc(sizeof(char *) * n);
	char	  **members = palloc(sizeof(char *) * n);
	bool	   *sent = palloc0(sizeof(bool) * n);

	for (int i = 0; i < n; i++)
	{
		bool		duplicate = false;

		slot_getallattrs(slots[i]);
		check_not_given(st, slots[i]);
		groups[i] = required_text(st, slots[i], "user_group_id");
		members[i] = required_text(st, slots[i], "id");
		check_id(st, "user_group_id", groups[i]);
		check_id(st, "id", members[i]);
		for (int j = 0; j < i; j++)
			if (strcmp(groups[i], groups[j]) == 0 && strcmp(members[i], members[j]) == 0)
				duplicate = true;
		if (duplicate || membership_added(st, groups[i], members[i], false))
			ereport(ERROR,
					(errcode(ERRCODE_UNIQUE_VIOLATION),
					 errmsg("member %s is added to user group %s twice in one statement",
							members[i], groups[i])));
	}

	for (int i = 0; i < n; i++)
	{
		cJSON	   *body;
		cJSON	   *result;
		char		path[256];
		int			count = 0;

		if (sent[i])
			continue;
		body = cf_json_array();
		for (int j = i; j < n; j++)
		{
			if (sent[j] || strcmp(groups[j], groups[i]) != 0)
				continue;
			cf_json_add_string(cf_json_append(body, cf_json_object()), "id", members[j]);
			sent[j] = true;
			count++;
		}
		snprintf(path, sizeof(path), st->res->list_path, st->account_id, groups[i]);
		result = call_api(st, "POST", path, body, NULL);
		st->applied += count;
		for (int j = i; j < n; j++)
			if (strcmp(groups[j], groups[i]) == 0)
				(void) membership_added(st, groups[j], members[j], true);

		if (!fill)
			continue;
		/* the answer lists the members added; find each row's own */
		for (int j = i; j < n; j++)
		{
			cJSON	   *listed = cJSON_IsArray(result) ? result : NULL;
			cJSON	   *item;
			cJSON	   *found = NULL;

			if (strcmp(groups[j], groups[i]) != 0)
				continue;
			cJSON_ArrayForEach(item, listed)
			{
				const char *id = cf_json_get_string(item, "id");

				if (id && strcmp(id, members[j]) == 0)
					found = item;
			}
			if (found == NULL)
			{
				/* not listed: keep the row as given, email and status unknown */
				found = cf_json_object();
				cf_json_add_string(found, "id", members[j]);
			}
			store_object(st, slots[j], found, groups[j]);
		}
	}
}

TupleTableSlot *
cfExecForeignInsert(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
					TupleTableSlot *planSlot)
{
	CfModifyState *st = (CfModifyState *) rinfo->ri_FdwState;
	ErrorContextCallback errcallback;
	MemoryContext oldcxt;

	oldcxt = start_row(st, &errcallback);

	if (st->res->parent)
		insert_group_members(st, &slot, 1, true);
	else
	{
		slot_getallattrs(slot);
		check_not_given(st, slot);
		if (is_user_groups(st))
			insert_user_group(st, slot);
		else
			insert_account_member(st, slot);
	}

	finish_row(&errcallback, oldcxt);
	return slot;
}

TupleTableSlot **
cfExecForeignBatchInsert(EState *estate, ResultRelInfo *rinfo, TupleTableSlot **slots,
						 TupleTableSlot **planSlots, int *numSlots)
{
	CfModifyState *st = (CfModifyState *) rinfo->ri_FdwState;
	ErrorContextCallback errcallback;
	MemoryContext oldcxt;

	oldcxt = start_row(st, &errcallback);

	/* only memberships are batched (see cfGetForeignModifyBatchSize) */
	insert_group_members(st, slots, *numSlots, false);

	finish_row(&errcallback, oldcxt);
	return slots;
}

/* The API path of the row a scan found: item path with its key(s). */
static void
row_path(CfModifyState *st, TupleTableSlot *planSlot, char *path, size_t size,
		 char **parent_id)
{
	char	   *id = junk_text(st, planSlot, st->key_junk, "id");

	*parent_id = NULL;
	if (st->res->parent)
	{
		*parent_id = junk_text(st, planSlot, st->parent_junk, st->res->parent_column);
		snprintf(path, size, st->res->item_path, st->account_id, *parent_id, id);
	}
	else
		snprintf(path, size, st->res->item_path, st->account_id, id);
}

/*
 * PUT the columns the UPDATE sets.  A 404 means the row went away since the
 * scan read it: like a row deleted concurrently, it is not updated (no
 * error, not counted).
 */
TupleTableSlot *
cfExecForeignUpdate(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
					TupleTableSlot *planSlot)
{
	CfModifyState *st = (CfModifyState *) rinfo->ri_FdwState;
	ErrorContextCallback errcallback;
	MemoryContext oldcxt;
	cJSON	   *body = NULL;
	cJSON	   *result;
	char		path[256];
	char	   *parent_id;
	bool		not_found;
	ListCell   *lc;

	oldcxt = start_row(st, &errcallback);

	row_path(st, planSlot, path, sizeof(path), &parent_id);
	slot_getallattrs(slot);
	body = cf_json_object();
	foreach(lc, st->updated_attnos)
	{
		AttrNumber	attno = lfirst_int(lc);
		const char *column = st->attr_columns[attno - 1]->name;

		if (slot->tts_isnull[attno - 1])
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("cannot set column \"%s\" of foreign table \"%s\" to null",
							column, st->table_name),
					 strcmp(column, "name") != 0 ?
					 errhint("To remove every entry, set it to an empty array.") : 0));
		if (strcmp(column, "name") == 0)
		{
			char	   *name = slot_text(st, slot, attno);

			if (*name == '\0')
				invalid_value(st, column, name, "A user group needs a non-empty name.");
			cf_json_add_string(body, "name", name);
		}
		else if (strcmp(column, "policies") == 0)
			/* a user group's policies are named by id; a member's need not be */
			cf_json_add(body, "policies",
						policies_body(st, column, slot_json(st, slot, attno, column),
									  is_user_groups(st) ? 2 : 1));
		else
		{
			/* role_ids or roles: an update's roles are [{"id": ...}] */
			cJSON	   *roles = cf_json_add(body, "roles", cf_json_array());
			ListCell   *id;

			foreach(id, member_role_ids(st, slot, attno))
				cf_json_add_string(cf_json_append(roles, cf_json_object()), "id", lfirst(id));
		}
	}

	result = call_api(st, "PUT", path, body, &not_found);
	if (not_found)
		slot = NULL;
	else
	{
		st->applied++;
		store_object(st, slot, result, parent_id);
	}

	finish_row(&errcallback, oldcxt);
	return slot;
}

/* DELETE the row; a 404 (already gone) deletes nothing, like PostgreSQL. */
TupleTableSlot *
cfExecForeignDelete(EState *estate, ResultRelInfo *rinfo, TupleTableSlot *slot,
					TupleTableSlot *planSlot)
{
	CfModifyState *st = (CfModifyState *) rinfo->ri_FdwState;
	ErrorContextCallback errcallback;
	MemoryContext oldcxt;
	char		path[256];
	char	   *parent_id;
	bool		not_found;

	oldcxt = start_row(st, &errcallback);

	row_path(st, planSlot, path, sizeof(path), &parent_id);
	call_api(st, "DELETE", path, NULL, &not_found);
	if (not_found)
		slot = NULL;
	else
	{
		st->applied++;
		if (AttributeNumberIsValid(st->wholerow_junk))
		{
			/* RETURNING gives the row as the scan read it */
			bool		isnull;
			Datum		row = ExecGetJunkAttribute(planSlot, st->wholerow_junk, &isnull);

			if (!isnull)
			{
				HeapTupleHeader td = DatumGetHeapTupleHeader(row);
				HeapTupleData tuple;

				tuple.t_len = HeapTupleHeaderGetDatumLength(td);
				ItemPointerSetInvalid(&tuple.t_self);
				tuple.t_tableOid = InvalidOid;
				tuple.t_data = td;
				ExecForceStoreHeapTuple(&tuple, slot, false);
				ExecMaterializeSlot(slot);
			}
		}
	}

	finish_row(&errcallback, oldcxt);
	return slot;
}

/* ---------------------------------------------------------------------
 * EXPLAIN
 * ---------------------------------------------------------------------
 */

/* "POST /accounts/<a>/iam/user_groups/{user_group_id}/members" */
static char *
describe_call(CfModifyState *st)
{
	const CfResource *res = st->res;
	char		path[256];
	const char *method;

	if (st->operation == CMD_INSERT)
	{
		method = "POST";
		snprintf(path, sizeof(path), res->list_path, st->account_id,
				 res->parent ? "{user_group_id}" : "");
	}
	else
	{
		method = st->operation == CMD_UPDATE ? "PUT" : "DELETE";
		if (res->parent)
			snprintf(path, sizeof(path), res->item_path, st->account_id,
					 "{user_group_id}", "{id}");
		else
			snprintf(path, sizeof(path), res->item_path, st->account_id, "{id}");
	}
	return psprintf("%s %s", method, path);
}

void
cfExplainForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
					   List *fdw_private, int subplan_index, ExplainState *es)
{
	CfModifyState *st = (CfModifyState *) rinfo->ri_FdwState;

	if (st == NULL)
		return;
	if (es->verbose)
	{
		ExplainPropertyText("Cloudflare API", describe_call(st), es);
		if (rinfo->ri_BatchSize > 1)
			ExplainPropertyInteger("Batch Size", NULL, rinfo->ri_BatchSize, es);
	}
	if (es->analyze)
	{
		ExplainPropertyInteger("API Requests", NULL, st->requests, es);
		if (st->retries > 0)
			ExplainPropertyInteger("API Retries", NULL, st->retries, es);
	}
}

/* ---------------------------------------------------------------------
 * cfiam_replace_user_group_members(server_name, user_group_id, member_ids)
 * ---------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(cfiam_replace_user_group_members);

/*
 * Replace the whole member set of a group with one PUT; '{}' empties it.
 * It runs as the caller, through the caller's user mapping for the server.
 * A NULL set is an error, not an empty group: array_agg over no rows gives
 * NULL, and emptying a group by accident would be hard to undo.
 */
Datum
cfiam_replace_user_group_members(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ForeignServer *server;
	ForeignDataWrapper *fdw;
	FmgrInfo	handler;
	AclResult	aclresult;
	const char *account_id = NULL;
	char	   *group_id;
	ArrayType  *ids;
	Datum	   *elems;
	bool	   *elem_nulls;
	int			nelems;
	cJSON	   *body;
	cJSON	   *result;
	cJSON	   *item;
	CfHttpResponse response;
	char		path[256];
	ListCell   *lc;
	CfConnection *conn;

	for (int i = 0; i < 3; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not be null", i == 0 ? "server_name" :
							i == 1 ? "user_group_id" : "member_ids"),
					 i == 2 ? errhint("Pass '{}' to remove every member of the group.") : 0));

	server = GetForeignServerByName(text_to_cstring(PG_GETARG_TEXT_PP(0)), false);
	fdw = GetForeignDataWrapper(server->fdwid);
	if (OidIsValid(fdw->fdwhandler))
		fmgr_info(fdw->fdwhandler, &handler);
	if (!OidIsValid(fdw->fdwhandler) || handler.fn_addr != cfiam_handler)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("server \"%s\" is not a cfiam server", server->servername)));
	aclresult = pg_foreign_server_aclcheck(server->serverid, GetUserId(), ACL_USAGE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FOREIGN_SERVER, server->servername);

	group_id = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (!cf_is_id(group_id))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid user_group_id: \"%s\"", group_id),
				 errdetail("A Cloudflare id is 32 lowercase hexadecimal characters.")));

	/* every id checked, duplicates sent once, before anything is sent */
	ids = PG_GETARG_ARRAYTYPE_P(2);
	deconstruct_array(ids, TEXTOID, -1, false, TYPALIGN_INT, &elems, &elem_nulls, &nelems);
	body = cf_json_array();
	for (int i = 0; i < nelems; i++)
	{
		char	   *id;
		bool		dup = false;

		if (elem_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("member_ids[%d] is null", i + 1)));
		id = TextDatumGetCString(elems[i]);
		if (!cf_is_id(id))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid member id in member_ids[%d]: \"%s\"", i + 1, id),
					 errdetail("A Cloudflare id is 32 lowercase hexadecimal characters.")));
		cJSON_ArrayForEach(item, body)
			dup |= strcmp(cf_json_get_string(item, "id"), id) == 0;
		if (!dup)
			cf_json_add_string(cf_json_append(body, cf_json_object()), "id", id);
	}

	foreach(lc, server->options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (strcmp(def->defname, "account_id") == 0)
			account_id = defGetString(def);
	}
	if (account_id == NULL || !cf_is_id(account_id))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("server \"%s\" lacks a valid \"account_id\" option", server->servername)));

	InitMaterializedSRF(fcinfo, 0);
	conn = cf_get_connection(server, GetUserMapping(GetUserId(), server->serverid));
	snprintf(path, sizeof(path), "/accounts/%s/iam/user_groups/%s/members", account_id, group_id);
	cf_http_request(conn, "PUT", path, cf_json_print(body), &response);
	result = cJSON_GetObjectItemCaseSensitive(cf_decode_envelope(&response, "PUT", path, NULL),
											  "result");
	if (!cJSON_IsArray(result))
		result = NULL;

	/* the answer lists the group's members now; null for an empty group */
	cJSON_ArrayForEach(item, result)
	{
		const char *fields[3] = {"id", "email", "status"};
		Datum		values[3];
		bool		nulls[3];

		for (int i = 0; i < 3; i++)
		{
			const char *s = cf_json_get_string(item, fields[i]);

			nulls[i] = (s == NULL);
			values[i] = s ? CStringGetTextDatum(pg_any_to_server(s, strlen(s), PG_UTF8)) : (Datum) 0;
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_NULL();
}
