/*-------------------------------------------------------------------------
 *
 * modify.c
 *		INSERT, UPDATE and DELETE on cfiam foreign tables.
 *
 * What each column of a request body is, how it is checked and which
 * statement may carry it comes from the catalog (CfColumn.writes,
 * write_shape, body_field; CfResource.policy_ids_*): this file knows no
 * table or column by name.
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
#include "postgres.h"

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
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "parser/parsetree.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/formatting.h"
#include "utils/timestamp.h"

/*
 * Most members one POST adds to a group.  The API sets no limit; this keeps
 * one request body (and one failure) to a reasonable size.
 */
#define CF_MEMBERS_PER_CALL 100

/* Junk columns that carry a row's key from the scan to UPDATE/DELETE. */
#define CF_KEY_JUNK "cfiam_id"
#define CF_PARENT_JUNK "cfiam_user_group_id"
#define CF_ACCOUNT_JUNK "cfiam_account_id"

/* An account member's email, as the API bounds it (iam_email). */
#define CF_EMAIL_MAX 90

typedef struct CfModifyState
{
	CmdType		operation;
	const CfResource *res;
	char	   *account_id;		/* the current row's account */
	char	   *server_account; /* the server's account_id, or NULL: the
								 * row's account_id says (every account) */
	char	   *table_name;
	CfConnection *conn;			/* NULL under a plain EXPLAIN */
	TupleDesc	tupdesc;
	const CfColumn **attr_columns;	/* every column: answers fill all */
	AttInMetadata *attinmeta;
	List	   *updated_attnos; /* UPDATE: the columns SET */
	bool		has_returning;
	AttrNumber	key_junk;		/* in the subplan's output */
	AttrNumber	parent_junk;
	AttrNumber	account_junk;	/* a server over every account: the row's */
	AttrNumber	wholerow_junk;	/* DELETE RETURNING: the old row */
	MemoryContext temp_cxt;		/* reset for every row or batch */
	int64		requests;		/* for EXPLAIN ANALYZE */
	int64		retries;
	int64		applied;		/* rows of this statement done at Cloudflare */
	HTAB	   *added;			/* "group/member" pairs this statement added */
	MemoryContext state_cxt;	/* lives as long as the statement */
	bool		deferred;		/* cfiam.write_mode = deferred: queue the calls */
	Oid			serverid;		/* whose user mapping COMMIT sends them with */
	Oid			userid;
} CfModifyState;

/* ---------------------------------------------------------------------
 * Small helpers
 * ---------------------------------------------------------------------
 */

/* The statement's name for messages: INSERT, UPDATE or DELETE. */
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

/* The CF_OP_* flag of a statement, to test a resource's operations. */
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
			cf_append_list_item(&buf, res->columns[i].name);
	return buf.data;
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
	/* whole sentences, one per statement (PostgreSQL's message style) */
	if (operation == CMD_INSERT && res->operations != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot insert into foreign table \"%s\"", RelationGetRelationName(rel)),
				 errdetail("cfiam changes and deletes Cloudflare %s but does not create them.",
						   res->name)));
	if (operation == CMD_INSERT)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot insert into foreign table \"%s\"", RelationGetRelationName(rel)),
				 errdetail("Cloudflare %s are read-only through cfiam.", res->name)));
	if (operation == CMD_UPDATE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot update foreign table \"%s\"", RelationGetRelationName(rel)),
				 errdetail("Cloudflare %s are read-only through cfiam.", res->name)));
	ereport(ERROR,
			(errcode(ERRCODE_WRONG_OBJECT_TYPE),
			 errmsg("cannot delete from foreign table \"%s\"", RelationGetRelationName(rel)),
			 errdetail("Cloudflare %s are read-only through cfiam.", res->name)));
}

/*
 * "a user group", "an API token" ("A", "An" to start a sentence).  The
 * items' names that start with a u say "you" (a user group): no an.
 */
static char *
with_article(const char *noun, bool capital)
{
	bool		vowel = strchr("AEIOaeio", noun[0]) != NULL;

	return psprintf("%s %s", vowel ? (capital ? "An" : "an") : (capital ? "A" : "a"), noun);
}

/* Raise the error for a value a column cannot take, naming the column. */
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
	const char *why = NULL;

	if (text == NULL)
		return NULL;
	json = cf_json_parse(text, strlen(text), &why);
	if (json == NULL)
		invalid_value(st, column, NULL, psprintf("The value is not JSON that can be sent: %s", why));
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

/*
 * The account a new row goes to: its account_id, which a server over every
 * account requires; on a server with account_id the row's, if given, must
 * be that one (the server reads no other).
 */
static char *
insert_account(CfModifyState *st, TupleTableSlot *slot)
{
	AttrNumber	attno = column_attno(st->attr_columns, st->tupdesc->natts, "account_id");
	char	   *account = slot_text(st, slot, attno);

	if (account == NULL)
	{
		if (st->server_account == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("an INSERT into foreign table \"%s\" needs a value for column \"account_id\"",
							st->table_name),
					 attno == 0 ?
					 errdetail("Its server has no account_id option: it covers every account the credential sees, and the table has no account_id column to say which.") :
					 errdetail("Its server has no account_id option: it covers every account the credential sees."),
					 errhint("Give the account's id in account_id, or set account_id on the server or the table.")));
		return st->server_account;
	}
	check_id(st, "account_id", account);
	if (st->server_account && strcmp(account, st->server_account) != 0)
		invalid_value(st, "account_id", account,
					  psprintf("The server of foreign table \"%s\" is for account %s only.",
							   st->table_name, st->server_account));
	return account;
}

/* The account of the row a scan found: its own, or the server's. */
static char *
row_account(CfModifyState *st, TupleTableSlot *planSlot)
{
	if (AttributeNumberIsValid(st->account_junk))
		return junk_text(st, planSlot, st->account_junk, "account_id");
	return st->server_account;
}

/* Error context: how much of the statement Cloudflare already applied. */
static void
modify_error_callback(void *arg)
{
	CfModifyState *st = (CfModifyState *) arg;

	if (st->deferred)
		errcontext("%s on foreign table \"%s\": nothing of this transaction has been sent to Cloudflare (cfiam.write_mode = deferred)",
				   operation_name(st->operation), st->table_name);
	else if (st->applied > 0)
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
	cf_object_to_values(st->res, object, parent_id, st->account_id,
						slot->tts_tupleDescriptor,
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
 * can be written back.  What a policy's own id does depends on the resource
 * and the statement (CfResource.policy_ids_insert / _update).
 */
static cJSON *
policies_body(CfModifyState *st, const char *column, cJSON *policies, CfPolicyIds ids)
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
		if (ids == CF_POLICY_IDS_REQUIRE && (id == NULL || *id == '\0'))
			invalid_value(st, column, NULL,
						  psprintf("policies[%d] has no \"id\": an UPDATE names each policy it keeps by its id.", k));
		if (ids != CF_POLICY_IDS_DROP && id != NULL)
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

	if (st->attr_columns[attno - 1]->write_shape == CF_WRITE_ROLE_REFS)
	{
		cJSON	   *refs = references_body(st, column, slot_json(st, slot, attno, column), column);
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

		if (col && !(col->writes & CF_W_INSERT) && col->json_kind != CF_JSON_ACCOUNT &&
			!slot->tts_isnull[i])
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

/*
 * Two columns sent as the same body field (role_ids and roles are both the
 * member's "roles") cannot both be set by one UPDATE.
 */
static void
check_one_per_field(Relation rel, const CfResource *res, List *attnos,
					const CfColumn **cols)
{
	ListCell   *a;
	ListCell   *b;

	foreach(a, attnos)
	{
		const CfColumn *ca = cols[lfirst_int(a) - 1];

		for_each_cell(b, attnos, lnext(attnos, a))
		{
			const CfColumn *cb = cols[lfirst_int(b) - 1];

			if (ca->body_field && cb->body_field &&
				strcmp(ca->body_field, cb->body_field) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("set either %s or %s of foreign table \"%s\", not both",
								ca->name, cb->name, RelationGetRelationName(rel)),
						 errdetail("Both are the %s's \"%s\".", res->item_name, ca->body_field)));
		}
	}
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

/* IsForeignRelUpdatable: the statements the table's resource takes. */
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

	/*
	 * A server over every account: the row's account names it too.  A table
	 * without account_id there cannot say which account a row is in.
	 */
	{
		CfTableOptions opts;
		AttrNumber	attno = column_attno(cols, natts, "account_id");

		cf_get_table_options(RelationGetRelid(target_relation), &opts);
		if (opts.account_id == NULL && attno == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
					 errmsg("foreign table \"%s\" has no column \"account_id\", which names the row's account",
							RelationGetRelationName(target_relation)),
					 errdetail("Its server has no account_id option: it covers every account the credential sees."),
					 errhint("Add the column (ALTER FOREIGN TABLE %s ADD COLUMN account_id text), or set account_id on the server or the table.",
							 RelationGetRelationName(target_relation))));
		if (opts.account_id == NULL)
		{
			Form_pg_attribute att = TupleDescAttr(tupdesc, attno - 1);

			add_row_identity_var(root,
								 makeVar(rtindex, attno, att->atttypid, att->atttypmod,
										 att->attcollation, 0),
								 rtindex, CF_ACCOUNT_JUNK);
		}
	}

	/*
	 * The old row: for DELETE RETURNING; and for an UPDATE of a resource
	 * whose PUT takes the whole object, the executor fills the columns the
	 * UPDATE does not set from it.
	 */
	if ((root->parse->commandType == CMD_DELETE && root->parse->returningList != NIL) ||
		(root->parse->commandType == CMD_UPDATE && res->update_whole))
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

		while ((col = bms_next_member(set_cols, col)) >= 0)
		{
			AttrNumber	attno = col + FirstLowInvalidHeapAttributeNumber;
			const CfColumn *c;

			if (attno <= InvalidAttrNumber || attno > natts || cols[attno - 1] == NULL)
				continue;
			c = cols[attno - 1];
			if (c->json_kind == CF_JSON_ACCOUNT)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot move a row of foreign table \"%s\" to another account",
								RelationGetRelationName(rel)),
						 errdetail("Column \"account_id\" is the account the %s is in; the Cloudflare API cannot move it.",
								   res->item_name),
						 errhint("Leave account_id out of the SET list; to copy the row, INSERT it with the other account_id.")));
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
			updated = lappend_int(updated, attno);
		}
		check_one_per_field(rel, res, updated, cols);
		if (res->update_whole)
		{
			/* every writable column goes into the PUT, set or not */
			for (AttrNumber attno = 1; attno <= natts; attno++)
				if (cols[attno - 1] && (cols[attno - 1]->writes & CF_W_UPDATE) &&
					!list_member_int(updated, attno))
					updated = lappend_int(updated, attno);
		}
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
	st->account_id = st->server_account = opts.account_id;
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
		st->serverid = server->serverid;
		st->userid = userid;
	}
	st->deferred = cf_deferred_mode();
	return st;
}

/*
 * Deferred writes know only the values given: RETURNING a column that
 * Cloudflare fills (an id, a timestamp, a status) is refused, naming the
 * setting.  DELETE returns the row as read, so anything goes.
 */
static void
check_deferred_returning(CfModifyState *st, ResultRelInfo *rinfo, List *returning)
{
	Bitmapset  *attrs = NULL;
	int			k = -1;

	if (!st->deferred || returning == NIL || st->operation == CMD_DELETE)
		return;
	pull_varattnos((Node *) returning, rinfo->ri_RangeTableIndex, &attrs);
	while ((k = bms_next_member(attrs, k)) >= 0)
	{
		AttrNumber	attno = k + FirstLowInvalidHeapAttributeNumber;
		int			natts = st->tupdesc->natts;

		for (AttrNumber a = (attno == 0 ? 1 : attno); a <= (attno == 0 ? natts : attno); a++)
		{
			const CfColumn *col = a > 0 && a <= natts ? st->attr_columns[a - 1] : NULL;
			bool		given;

			if (col == NULL)
				continue;
			given = col->json_kind == CF_JSON_ACCOUNT ||
				(st->operation == CMD_INSERT ? (col->writes & CF_W_INSERT) != 0 :
				(col->writes & CF_W_KEY) != 0 || list_member_int(st->updated_attnos, a));
			if (!given)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot return column \"%s\" of foreign table \"%s\" with cfiam.write_mode = deferred",
								col->name, st->table_name),
						 errdetail("Cloudflare fills it when the change is made, which is at COMMIT."),
						 errhint("RETURNING only the columns the statement gives, or SET cfiam.write_mode = immediate.")));
		}
	}
}

/*
 * BeginForeignModify: the state of an INSERT, UPDATE or DELETE; no request
 * is sent yet.
 */
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
		st->account_junk = ExecFindJunkAttributeInTlist(subplan->targetlist, CF_ACCOUNT_JUNK);
		st->wholerow_junk = ExecFindJunkAttributeInTlist(subplan->targetlist, "wholerow");
	}
	/* the executor sets ri_returningList after this: read the plan's */
	{
		ModifyTable *plan = (ModifyTable *) mtstate->ps.plan;

		check_deferred_returning(st, rinfo, plan->returningLists ?
								 list_nth(plan->returningLists, subplan_index) : NIL);
	}
	rinfo->ri_FdwState = st;
}

/* COPY FROM and INSERTs routed to a foreign partition. */
void
cfBeginForeignInsert(ModifyTableState *mtstate, ResultRelInfo *rinfo)
{
	rinfo->ri_FdwState = create_modify_state(mtstate->ps.state, rinfo, CMD_INSERT,
											 rinfo->ri_returningList != NIL, true);
	check_deferred_returning(rinfo->ri_FdwState, rinfo, rinfo->ri_returningList);
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

/*
 * One column's value as its body field carries it, checked first (see
 * CfWriteShape).  The value is not null.  A new member's roles are id
 * strings; an update's are {"id": ...} objects, as the API takes them.
 */
static cJSON *
body_value(CfModifyState *st, TupleTableSlot *slot, AttrNumber attno)
{
	const CfColumn *col = st->attr_columns[attno - 1];
	bool		inserting = st->operation == CMD_INSERT;

	switch (col->write_shape)
	{
		case CF_WRITE_TEXT:
			{
				char	   *text = slot_text(st, slot, attno);

				if (*text == '\0')
					invalid_value(st, col->name, text,
								  psprintf("%s needs a non-empty %s.",
										   with_article(st->res->item_name, true), col->name));
				return cf_json_string(text);
			}
		case CF_WRITE_EMAIL:
			{
				char	   *email = slot_text(st, slot, attno);

				if (!looks_like_email(email))
					invalid_value(st, col->name, email,
								  "An email address has a local part, one @ and a domain with a dot, at most 90 bytes and no spaces.");
				return cf_json_string(email);
			}
		case CF_WRITE_NEW_STATUS:
			{
				char	   *status = slot_text(st, slot, attno);

				if (strcmp(status, "accepted") != 0 && strcmp(status, "pending") != 0)
					invalid_value(st, col->name, status,
								  "A new member's status is accepted or pending.");
				return cf_json_string(status);
			}
		case CF_WRITE_POLICIES:
			return policies_body(st, col->name, slot_json(st, slot, attno, col->name),
								 inserting ? st->res->policy_ids_insert :
								 st->res->policy_ids_update);
		case CF_WRITE_ROLE_IDS:
		case CF_WRITE_ROLE_REFS:
			{
				cJSON	   *roles = cf_json_array();
				ListCell   *lc;

				foreach(lc, member_role_ids(st, slot, attno))
				{
					if (inserting)
						cf_json_append(roles, cf_json_string(lfirst(lc)));
					else
						cf_json_add_string(cf_json_append(roles, cf_json_object()), "id",
										   lfirst(lc));
				}
				return roles;
			}
		case CF_WRITE_TOKEN_STATUS:
			{
				char	   *status = slot_text(st, slot, attno);

				if (strcmp(status, "active") != 0 && strcmp(status, "disabled") != 0)
					invalid_value(st, col->name, status,
								  "An API token's status can be set to active or disabled; Cloudflare sets expired.");
				return cf_json_string(status);
			}
		case CF_WRITE_TIMESTAMP:
			{
				/* RFC 3339 in UTC, as the API writes them */
				Datum		utc = DirectFunctionCall2(timestamptz_zone,
													  CStringGetTextDatum("UTC"),
													  slot->tts_values[attno - 1]);
				Timestamp	ts = DatumGetTimestamp(utc);
				struct pg_tm tm;
				fsec_t		fsec;
				Datum		formatted;

				/* RFC 3339 has four-digit years and no infinity */
				if (TIMESTAMP_NOT_FINITE(ts) ||
					timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0 ||
					tm.tm_year < 1 || tm.tm_year > 9999)
					invalid_value(st, col->name, slot_text(st, slot, attno),
								  "A time sent to Cloudflare is finite, in the years 1 to 9999 (RFC 3339).");
				formatted = DirectFunctionCall2(timestamp_to_char, utc,
												CStringGetTextDatum("YYYY-MM-DD\"T\"HH24:MI:SS\"Z\""));

				return cf_json_string(TextDatumGetCString(formatted));
			}
		case CF_WRITE_JSON_ARRAY:
		case CF_WRITE_JSON_OBJECT:
			{
				cJSON	   *json = slot_json(st, slot, attno, col->name);
				bool		array = col->write_shape == CF_WRITE_JSON_ARRAY;

				if (array ? !cJSON_IsArray(json) : !cJSON_IsObject(json))
					invalid_value(st, col->name, NULL,
								  psprintf("The %s of %s must be a JSON %s.", col->name,
										   with_article(st->res->item_name, false),
										   array ? "array" : "object"));
				return json;
			}
		case CF_WRITE_NONE:
			break;
	}
	elog(ERROR, "cfiam: column \"%s\" has no write shape", col->name);
	return NULL;				/* keep the compiler quiet */
}

/* "role_ids, roles or policies": the CF_W_ONE_OF columns, in words. */
static char *
one_of_columns(const CfResource *res)
{
	StringInfoData buf;
	int			n = 0;
	int			seen = 0;

	for (int i = 0; i < res->ncolumns; i++)
		n += (res->columns[i].writes & CF_W_ONE_OF) != 0;
	initStringInfo(&buf);
	for (int i = 0; i < res->ncolumns; i++)
	{
		if (!(res->columns[i].writes & CF_W_ONE_OF))
			continue;
		seen++;
		appendStringInfo(&buf, "%s%s", seen == 1 ? "" : seen == n ? " or " : ", ",
						 res->columns[i].name);
	}
	return buf.data;
}

/*
 * POST a new user group or account member: the body has the given insert
 * columns of the catalog, in the catalog's order, each checked; required
 * ones must be there, two columns sent as the same field cannot both be,
 * and where the resource says so, one of its CF_W_ONE_OF columns must be.
 */
static void
insert_object(CfModifyState *st, TupleTableSlot *slot)
{
	const CfResource *res = st->res;
	int			natts = st->tupdesc->natts;
	cJSON	   *body = cf_json_object();
	const CfColumn **field_from = palloc0(sizeof(CfColumn *) * res->ncolumns);
	bool		has_one_of = false;
	cJSON	   *result;

	st->account_id = insert_account(st, slot);
	for (int i = 0; i < res->ncolumns; i++)
	{
		const CfColumn *col = &res->columns[i];
		AttrNumber	attno = column_attno(st->attr_columns, natts, col->name);

		if (!(col->writes & CF_W_INSERT))
			continue;
		if (col->writes & CF_W_REQUIRED)
			(void) required_text(st, slot, col->name);
		if (attno == 0 || slot->tts_isnull[attno - 1])
			continue;
		for (int j = 0; j < i; j++)
			if (field_from[j] && strcmp(field_from[j]->body_field, col->body_field) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("give either %s or %s for a new %s of foreign table \"%s\", not both",
								field_from[j]->name, col->name, res->item_name,
								st->table_name)));
		cf_json_add(body, col->body_field, body_value(st, slot, attno));
		field_from[i] = col;
		has_one_of |= (col->writes & CF_W_ONE_OF) != 0;
	}
	if (res->one_of_reason && !has_one_of)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("an INSERT into foreign table \"%s\" needs %s",
						st->table_name, one_of_columns(res)),
				 errdetail("%s", res->one_of_reason)));

	if (st->deferred)
	{
		/* the row stays as given: Cloudflare fills the rest at COMMIT */
		cf_defer_call(st->serverid, st->userid, res, st->account_id, "POST",
					  cf_resource_path(res, st->account_id, NULL, NULL), cf_json_print(body));
		st->applied++;
		return;
	}
	result = call_api(st, "POST", cf_resource_path(res, st->account_id, NULL, NULL),
					  body, NULL);
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
	char	  **accounts = palloc(sizeof(char *) * n);
	bool	   *sent = palloc0(sizeof(bool) * n);

	for (int i = 0; i < n; i++)
	{
		bool		duplicate = false;

		slot_getallattrs(slots[i]);
		check_not_given(st, slots[i]);
		accounts[i] = insert_account(st, slots[i]);
		groups[i] = required_text(st, slots[i], st->res->parent_column);
		members[i] = required_text(st, slots[i], cf_key_column(st->res)->name);
		/* a group this transaction creates has a provisional id until COMMIT */
		if (cf_deferred_provisional(groups[i]))
		{
			if (!st->deferred || !cf_deferred_new_group(accounts[i], groups[i]))
				invalid_value(st, st->res->parent_column, groups[i],
							  "It is the provisional id of no user group queued for creation in this transaction of this account (cfiam_pending_group_id(), with cfiam.write_mode = deferred).");
		}
		else
			check_id(st, st->res->parent_column, groups[i]);
		check_id(st, cf_key_column(st->res)->name, members[i]);
		for (int j = 0; j < i; j++)
			if (strcmp(groups[i], groups[j]) == 0 && strcmp(members[i], members[j]) == 0)
				duplicate = true;
		if (duplicate || membership_added(st, groups[i], members[i], false))
			ereport(ERROR,
					(errcode(ERRCODE_UNIQUE_VIOLATION),
					 errmsg("member %s is added to user group %s twice in one statement",
							members[i], groups[i])));
	}

	if (st->deferred)
	{
		/* queued: COMMIT coalesces each group's changes (see deferred.c) */
		for (int i = 0; i < n; i++)
		{
			cf_defer_member(st->serverid, st->userid, st->res, accounts[i],
							groups[i], members[i], true);
			(void) membership_added(st, groups[i], members[i], true);
			st->applied++;
		}
		return;
	}

	for (int i = 0; i < n; i++)
	{
		cJSON	   *body;
		cJSON	   *result;
		int			count = 0;

		if (sent[i])
			continue;
		body = cf_json_array();
		for (int j = i; j < n; j++)
		{
			if (sent[j] || strcmp(groups[j], groups[i]) != 0 ||
				strcmp(accounts[j], accounts[i]) != 0)
				continue;
			cf_json_add_string(cf_json_append(body, cf_json_object()), "id", members[j]);
			sent[j] = true;
			count++;
		}
		st->account_id = accounts[i];
		result = call_api(st, "POST", cf_resource_path(st->res, accounts[i], groups[i], NULL),
						  body, NULL);
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

/* ExecForeignInsert: one row, sent at once (batches: cfExecForeignBatchInsert). */
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
		insert_object(st, slot);
	}

	finish_row(&errcallback, oldcxt);
	return slot;
}

/* ExecForeignBatchInsert: the rows PostgreSQL hands over together. */
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
static char *
row_path(CfModifyState *st, TupleTableSlot *planSlot, char **parent_id)
{
	char	   *id = junk_text(st, planSlot, st->key_junk, cf_key_column(st->res)->name);

	st->account_id = row_account(st, planSlot);
	*parent_id = NULL;
	if (st->res->parent)
		*parent_id = junk_text(st, planSlot, st->parent_junk, st->res->parent_column);
	return cf_resource_path(st->res, st->account_id, *parent_id, id);
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
	char	   *path;
	char	   *parent_id;
	bool		not_found;
	ListCell   *lc;

	oldcxt = start_row(st, &errcallback);

	path = row_path(st, planSlot, &parent_id);
	slot_getallattrs(slot);
	body = cf_json_object();
	foreach(lc, st->updated_attnos)
	{
		AttrNumber	attno = lfirst_int(lc);
		const char *column = st->attr_columns[attno - 1]->name;

		if (slot->tts_isnull[attno - 1] && st->res->update_whole &&
			st->attr_columns[attno - 1]->nullable)
			continue;			/* left out of the whole object: none */
		if (slot->tts_isnull[attno - 1])
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("cannot set column \"%s\" of foreign table \"%s\" to null",
							column, st->table_name),
					 st->attr_columns[attno - 1]->write_shape != CF_WRITE_TEXT ?
					 errhint("To remove every entry, set it to an empty array.") : 0));
		cf_json_add(body, st->attr_columns[attno - 1]->body_field,
					body_value(st, slot, attno));
	}

	if (st->deferred)
	{
		/* the row as SET; a row gone by COMMIT is left alone then */
		cf_defer_call(st->serverid, st->userid, st->res, st->account_id, "PUT", path,
					  cf_json_print(body));
		st->applied++;
		finish_row(&errcallback, oldcxt);
		return slot;
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
	char	   *path;
	char	   *parent_id;
	bool		not_found;

	oldcxt = start_row(st, &errcallback);

	path = row_path(st, planSlot, &parent_id);
	if (st->deferred)
	{
		not_found = false;
		if (st->res->parent)
			cf_defer_member(st->serverid, st->userid, st->res, st->account_id, parent_id,
							junk_text(st, planSlot, st->key_junk, cf_key_column(st->res)->name),
							false);
		else
			cf_defer_call(st->serverid, st->userid, st->res, st->account_id, "DELETE", path,
						  NULL);
	}
	else
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
	char	   *parent = res->parent ? psprintf("{%s}", res->parent_column) : NULL;
	char	   *key = psprintf("{%s}", cf_key_column(res)->name);
	const char *account = st->server_account ? st->server_account : "{account_id}";

	if (st->operation == CMD_INSERT)
		return psprintf("POST %s", cf_resource_path(res, account, parent, NULL));
	return psprintf("%s %s", st->operation == CMD_UPDATE ? "PUT" : "DELETE",
					cf_resource_path(res, account, parent, key));
}

/* ExplainForeignModify: the call template, and the calls made under ANALYZE. */
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
		if (st->deferred)
			ExplainPropertyText("Cloudflare API Calls",
								"deferred to COMMIT (cfiam.write_mode = deferred)", es);
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
