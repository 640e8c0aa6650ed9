/*-------------------------------------------------------------------------
 *
 * functions.c
 *		SQL-callable functions of cfiam beyond the FDW itself.
 *
 * cfiam_replace_user_group_members(server, group, ids [, account]) sets a
 * group's whole member set in one PUT, the call the API offers for it;
 * INSERT and DELETE on user_group_members change one membership at a time.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "cfiam.h"

#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"

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
	char	   *path;
	ListCell   *lc;
	CfConnection *conn;
	const CfResource *res;
	const CfColumn **cols;
	AttInMetadata *attinmeta;
	Datum	   *values;
	bool	   *nulls;

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

	/*
	 * The group's account: the server's, or on a server over every account
	 * the fourth argument (a server's own account may be named too; another
	 * one is refused, as an INSERT into another account is).
	 */
	if (PG_NARGS() > 3 && !PG_ARGISNULL(3))
	{
		char	   *given = text_to_cstring(PG_GETARG_TEXT_PP(3));

		if (!cf_is_id(given))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid account_id: \"%s\"", given),
					 errdetail("A Cloudflare id is 32 lowercase hexadecimal characters.")));
		if (account_id != NULL && strcmp(account_id, given) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("server \"%s\" is for account %s, not %s",
							server->servername, account_id, given),
					 errhint("Use a server without the account_id option to change groups of other accounts.")));
		account_id = given;
	}
	else if (account_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("server \"%s\" covers every account the credential sees: the group's account_id is needed",
						server->servername),
				 errhint("Pass it as the fourth argument: cfiam_replace_user_group_members(server, user_group_id, member_ids, account_id).")));
	if (!cf_is_id(account_id))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("server \"%s\" lacks a valid \"account_id\" option", server->servername)));

	InitMaterializedSRF(fcinfo, 0);
	conn = cf_get_connection(server, GetUserMapping(GetUserId(), server->serverid));
	path = cf_resource_path(cf_resource_by_name("user_group_members"), account_id, group_id, NULL);
	cf_http_request(conn, "PUT", path, cf_json_print(body), &response);
	result = cf_envelope_result(cf_decode_envelope(&response, "PUT", path, NULL), "PUT", path);
	/* the answer lists the group's members now; null for an empty group */
	if (!cJSON_IsNull(result) && !cJSON_IsArray(result))
		ereport(ERROR,
				(errcode(CF_ERRCODE_API_PROTOCOL),
				 errmsg("Cloudflare API answer has a \"result\" that is not a list"),
				 errdetail("Request: PUT %s.", path)));

	/* each member read as user_group_members reads it, with its checks */
	res = cf_resource_by_name("user_group_members");
	cols = palloc0(sizeof(CfColumn *) * rsinfo->setDesc->natts);
	for (int i = 0; i < rsinfo->setDesc->natts; i++)
		cols[i] = cf_column_by_name(res, NameStr(TupleDescAttr(rsinfo->setDesc, i)->attname));
	attinmeta = TupleDescGetAttInMetadata(rsinfo->setDesc);
	values = palloc(sizeof(Datum) * rsinfo->setDesc->natts);
	nulls = palloc(sizeof(bool) * rsinfo->setDesc->natts);
	cJSON_ArrayForEach(item, result)
	{
		cf_object_to_values(res, item, group_id, account_id, rsinfo->setDesc, cols,
							attinmeta, values, nulls, res->name);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_NULL();
}
