/*-------------------------------------------------------------------------
 *
 * catalog.c
 *		The resource catalog: one static description per foreign table.
 *
 * The planner (which quals become which query parameters), the decoder
 * (which JSON field feeds which column), IMPORT FOREIGN SCHEMA and the
 * validator all read these entries.  Adding a table is adding an entry.
 *
 * Endpoints, parameters and page-size limits follow Cloudflare's OpenAPI
 * description (iam-openapi.json): filters are camelCase on the wire, user
 * groups and their members page up to 500 rows, the other lists up to 50,
 * the audit log (snake_case filters, cursor paging) up to 1000.  Roles,
 * permission groups, resource groups, the audit log and the accounts are
 * read-only here: cfiam manages membership, not the permission model.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "cfiam.h"

#include "lib/stringinfo.h"
#include "utils/rel.h"

/*
 * The account a row belongs to: not a field of the API's objects but the
 * account whose path answered it (the server's account_id, or each account
 * a server without one covers).  First in every account-scoped table;
 * account_id = v and = ANY(array) choose the accounts read.  A table
 * declared without it reads and writes as before.
 */
#define ACCOUNT_COLUMN \
	{.name = "account_id", .sql_type = "text", .json_kind = CF_JSON_ACCOUNT, \
		.check = CF_CHECK_ID}

static const CfColumn user_group_columns[] = {
	ACCOUNT_COLUMN,
	{.name = "id", .sql_type = "text", .json_path = "id", .json_kind = CF_JSON_STRING,
		.check = CF_CHECK_ID, .writes = CF_W_KEY},
	{.name = "name", .sql_type = "text COLLATE \"C\"", .json_path = "name",
		.json_kind = CF_JSON_STRING, .eq_param = "name", .fuzzy_param = "fuzzyName",
		.order_value = "", .writes = CF_W_INSERT | CF_W_REQUIRED | CF_W_UPDATE,
		.write_shape = CF_WRITE_TEXT, .body_field = "name"},
	{.name = "created_on", .sql_type = "timestamptz", .json_path = "created_on",
		.json_kind = CF_JSON_STRING},
	{.name = "modified_on", .sql_type = "timestamptz", .json_path = "modified_on",
		.json_kind = CF_JSON_STRING},
	{.name = "policies", .sql_type = "jsonb", .json_path = "policies", .json_kind = CF_JSON_ANY,
		.nullable = true, .writes = CF_W_INSERT | CF_W_UPDATE,
		.write_shape = CF_WRITE_POLICIES, .body_field = "policies"},
};

static const CfColumn user_group_member_columns[] = {
	ACCOUNT_COLUMN,
	{.name = "user_group_id", .sql_type = "text", .json_kind = CF_JSON_PARENT,
		.check = CF_CHECK_ID, .writes = CF_W_KEY | CF_W_INSERT | CF_W_REQUIRED},
	{.name = "id", .sql_type = "text", .json_path = "id", .json_kind = CF_JSON_STRING,
		.check = CF_CHECK_ID, .writes = CF_W_KEY | CF_W_INSERT | CF_W_REQUIRED},
	{.name = "email", .sql_type = "text COLLATE \"C\"", .json_path = "email",
		.json_kind = CF_JSON_STRING, .fuzzy_param = "fuzzyEmail", .order_value = ""},
	{.name = "status", .sql_type = "text", .json_path = "status", .json_kind = CF_JSON_STRING,
		.nullable = true},
};

/*
 * Account members carry the person in a nested "user" object.  The list is
 * sorted with ?order=user.email etc.; first and last names may be null and
 * the API's null placement is not documented, so their order is sent but
 * never claimed (PostgreSQL still sorts).
 */
static const CfColumn account_member_columns[] = {
	ACCOUNT_COLUMN,
	{.name = "id", .sql_type = "text", .json_path = "id", .json_kind = CF_JSON_STRING,
		.check = CF_CHECK_ID, .writes = CF_W_KEY},
	{.name = "email", .sql_type = "text COLLATE \"C\"", .json_path = "user.email",
		.json_fallback = "email", .json_kind = CF_JSON_STRING, .order_value = "user.email",
		.writes = CF_W_INSERT | CF_W_REQUIRED,
		.write_shape = CF_WRITE_EMAIL, .body_field = "email"},
	{.name = "status", .sql_type = "text COLLATE \"C\"", .json_path = "status",
		.json_kind = CF_JSON_STRING, .check = CF_CHECK_MEMBER_STATUS, .eq_param = "status",
		.order_value = "status", .writes = CF_W_INSERT,
		.write_shape = CF_WRITE_NEW_STATUS, .body_field = "status"},
	{.name = "user_id", .sql_type = "text", .json_path = "user.id", .json_kind = CF_JSON_STRING,
		.nullable = true},
	{.name = "first_name", .sql_type = "text COLLATE \"C\"", .json_path = "user.first_name",
		.json_kind = CF_JSON_STRING, .order_value = "user.first_name", .nullable = true},
	{.name = "last_name", .sql_type = "text COLLATE \"C\"", .json_path = "user.last_name",
		.json_kind = CF_JSON_STRING, .order_value = "user.last_name", .nullable = true},
	{.name = "two_factor_authentication_enabled", .sql_type = "boolean",
		.json_path = "user.two_factor_authentication_enabled", .json_kind = CF_JSON_BOOL,
		.nullable = true},
	/* both are the member's roles: a write gives one or the other */
	{.name = "role_ids", .sql_type = "text[]", .json_path = "roles", .json_kind = CF_JSON_ID_LIST,
		.nullable = true, .writes = CF_W_INSERT | CF_W_UPDATE | CF_W_ONE_OF,
		.write_shape = CF_WRITE_ROLE_IDS, .body_field = "roles"},
	{.name = "roles", .sql_type = "jsonb", .json_path = "roles", .json_kind = CF_JSON_ANY,
		.nullable = true, .writes = CF_W_INSERT | CF_W_UPDATE | CF_W_ONE_OF,
		.write_shape = CF_WRITE_ROLE_REFS, .body_field = "roles"},
	{.name = "policies", .sql_type = "jsonb", .json_path = "policies", .json_kind = CF_JSON_ANY,
		.nullable = true, .writes = CF_W_INSERT | CF_W_UPDATE | CF_W_ONE_OF,
		.write_shape = CF_WRITE_POLICIES, .body_field = "policies"},
};

static const CfColumn role_columns[] = {
	ACCOUNT_COLUMN,
	{.name = "id", .sql_type = "text", .json_path = "id", .json_kind = CF_JSON_STRING,
		.check = CF_CHECK_ID},
	{.name = "name", .sql_type = "text", .json_path = "name", .json_kind = CF_JSON_STRING},
	{.name = "description", .sql_type = "text", .json_path = "description",
		.json_kind = CF_JSON_STRING, .nullable = true},
	{.name = "permissions", .sql_type = "jsonb", .json_path = "permissions",
		.json_kind = CF_JSON_ANY, .nullable = true},
};

static const CfColumn permission_group_columns[] = {
	ACCOUNT_COLUMN,
	{.name = "id", .sql_type = "text", .json_path = "id", .json_kind = CF_JSON_STRING,
		.check = CF_CHECK_ID},
	{.name = "name", .sql_type = "text", .json_path = "name", .json_kind = CF_JSON_STRING,
		.eq_param = "name", .nullable = true},
	{.name = "meta", .sql_type = "jsonb", .json_path = "meta", .json_kind = CF_JSON_ANY,
		.nullable = true},
};

static const CfColumn resource_group_columns[] = {
	ACCOUNT_COLUMN,
	{.name = "id", .sql_type = "text", .json_path = "id", .json_kind = CF_JSON_STRING,
		.check = CF_CHECK_ID},
	{.name = "name", .sql_type = "text", .json_path = "name", .json_kind = CF_JSON_STRING,
		.eq_param = "name", .nullable = true},
	{.name = "scope", .sql_type = "jsonb", .json_path = "scope", .json_kind = CF_JSON_ANY,
		.nullable = true},
	{.name = "meta", .sql_type = "jsonb", .json_path = "meta", .json_kind = CF_JSON_ANY,
		.nullable = true},
};

/*
 * Account-owned API tokens.  The secret (a token's "value") is in no column:
 * Cloudflare shows it only in the answer to a creation, which cfiam never
 * sends.  A PUT takes the whole token, so an UPDATE sends every writable
 * column (the row's own values for those it does not set); a null
 * expires_on or not_before is left out: no expiry, no start.
 */
static const CfColumn account_token_columns[] = {
	ACCOUNT_COLUMN,
	{.name = "id", .sql_type = "text", .json_path = "id", .json_kind = CF_JSON_STRING,
		.check = CF_CHECK_ID, .writes = CF_W_KEY},
	{.name = "name", .sql_type = "text", .json_path = "name", .json_kind = CF_JSON_STRING,
		.writes = CF_W_UPDATE, .write_shape = CF_WRITE_TEXT, .body_field = "name"},
	{.name = "status", .sql_type = "text", .json_path = "status", .json_kind = CF_JSON_STRING,
		.writes = CF_W_UPDATE, .write_shape = CF_WRITE_TOKEN_STATUS, .body_field = "status"},
	{.name = "issued_on", .sql_type = "timestamptz", .json_path = "issued_on",
		.json_kind = CF_JSON_STRING, .nullable = true},
	{.name = "modified_on", .sql_type = "timestamptz", .json_path = "modified_on",
		.json_kind = CF_JSON_STRING, .nullable = true},
	{.name = "last_used_on", .sql_type = "timestamptz", .json_path = "last_used_on",
		.json_kind = CF_JSON_STRING, .nullable = true},
	{.name = "expires_on", .sql_type = "timestamptz", .json_path = "expires_on",
		.json_kind = CF_JSON_STRING, .nullable = true, .writes = CF_W_UPDATE,
		.write_shape = CF_WRITE_TIMESTAMP, .body_field = "expires_on"},
	{.name = "not_before", .sql_type = "timestamptz", .json_path = "not_before",
		.json_kind = CF_JSON_STRING, .nullable = true, .writes = CF_W_UPDATE,
		.write_shape = CF_WRITE_TIMESTAMP, .body_field = "not_before"},
	{.name = "policies", .sql_type = "jsonb", .json_path = "policies", .json_kind = CF_JSON_ANY,
		.writes = CF_W_UPDATE, .write_shape = CF_WRITE_JSON_ARRAY, .body_field = "policies"},
	{.name = "condition", .sql_type = "jsonb", .json_path = "condition",
		.json_kind = CF_JSON_ANY, .nullable = true, .writes = CF_W_UPDATE,
		.write_shape = CF_WRITE_JSON_OBJECT, .body_field = "condition"},
};

/*
 * The account's audit log, version 2: one row per event, its nested parts
 * as jsonb.  Read-only, and listed only (no GET by id): id is a filter.
 * Each filter may repeat (any of its values) and has a NAME.not twin (none
 * of them); the API's enums, emails and non-empty strings are what a value
 * must be to be sent.  No field is required by the spec: every column but
 * the time may be null.
 */
#define AUDIT_FILTER(col, check_) \
	.eq_param = col, .eq_any = true, .ne_param = col ".not", .check = check_, \
	.nullable = true

static const CfColumn audit_log_columns[] = {
	ACCOUNT_COLUMN,
	{.name = "id", .sql_type = "text", .json_path = "id", .json_kind = CF_JSON_STRING,
	AUDIT_FILTER("id", CF_CHECK_NOT_EMPTY)},
	/* the API's order (?direction=), by time */
	{.name = "time", .sql_type = "timestamptz", .json_path = "action.time",
		.json_kind = CF_JSON_STRING, .order_value = ""},
	{.name = "action_type", .sql_type = "text", .json_path = "action.type",
		.json_kind = CF_JSON_STRING, AUDIT_FILTER("action_type", CF_CHECK_ENUM),
	.allowed = "create|delete|view|update"},
	{.name = "action_result", .sql_type = "text", .json_path = "action.result",
		.json_kind = CF_JSON_STRING, AUDIT_FILTER("action_result", CF_CHECK_ENUM),
	.allowed = "success|failure"},
	{.name = "action_description", .sql_type = "text", .json_path = "action.description",
		.json_kind = CF_JSON_STRING, .nullable = true},
	{.name = "actor_id", .sql_type = "text", .json_path = "actor.id",
		.json_kind = CF_JSON_STRING, AUDIT_FILTER("actor_id", CF_CHECK_NOT_EMPTY)},
	{.name = "actor_email", .sql_type = "text", .json_path = "actor.email",
		.json_kind = CF_JSON_STRING, AUDIT_FILTER("actor_email", CF_CHECK_EMAIL)},
	{.name = "actor_type", .sql_type = "text", .json_path = "actor.type",
		.json_kind = CF_JSON_STRING, AUDIT_FILTER("actor_type", CF_CHECK_ENUM),
	.allowed = "account|cloudflare_admin|system|user"},
	{.name = "actor_context", .sql_type = "text", .json_path = "actor.context",
		.json_kind = CF_JSON_STRING, AUDIT_FILTER("actor_context", CF_CHECK_ENUM),
	.allowed = "api_key|api_token|dash|oauth|origin_ca_key"},
	{.name = "actor_ip_address", .sql_type = "text", .json_path = "actor.ip_address",
		.json_kind = CF_JSON_STRING, AUDIT_FILTER("actor_ip_address", CF_CHECK_NOT_EMPTY)},
	{.name = "actor_token_id", .sql_type = "text", .json_path = "actor.token_id",
		.json_kind = CF_JSON_STRING, AUDIT_FILTER("actor_token_id", CF_CHECK_NOT_EMPTY)},
	{.name = "actor_token_name", .sql_type = "text", .json_path = "actor.token_name",
		.json_kind = CF_JSON_STRING, AUDIT_FILTER("actor_token_name", CF_CHECK_NOT_EMPTY)},
	{.name = "resource_id", .sql_type = "text", .json_path = "resource.id",
		.json_kind = CF_JSON_STRING, AUDIT_FILTER("resource_id", CF_CHECK_NOT_EMPTY)},
	{.name = "resource_type", .sql_type = "text", .json_path = "resource.type",
		.json_kind = CF_JSON_STRING, AUDIT_FILTER("resource_type", CF_CHECK_NOT_EMPTY)},
	{.name = "resource_product", .sql_type = "text", .json_path = "resource.product",
		.json_kind = CF_JSON_STRING, AUDIT_FILTER("resource_product", CF_CHECK_NOT_EMPTY)},
	{.name = "resource_scope", .sql_type = "jsonb", .json_path = "resource.scope",
		.json_kind = CF_JSON_ANY, .nullable = true},
	{.name = "resource_request", .sql_type = "jsonb", .json_path = "resource.request",
		.json_kind = CF_JSON_ANY, .nullable = true},
	{.name = "resource_response", .sql_type = "jsonb", .json_path = "resource.response",
		.json_kind = CF_JSON_ANY, .nullable = true},
	{.name = "zone_id", .sql_type = "text", .json_path = "zone.id",
		.json_kind = CF_JSON_STRING, AUDIT_FILTER("zone_id", CF_CHECK_NOT_EMPTY)},
	{.name = "zone_name", .sql_type = "text", .json_path = "zone.name",
		.json_kind = CF_JSON_STRING, AUDIT_FILTER("zone_name", CF_CHECK_NOT_EMPTY)},
	{.name = "account_name", .sql_type = "text", .json_path = "account.name",
		.json_kind = CF_JSON_STRING, AUDIT_FILTER("account_name", CF_CHECK_NOT_EMPTY)},
	{.name = "raw_method", .sql_type = "text", .json_path = "raw.method",
		.json_kind = CF_JSON_STRING, AUDIT_FILTER("raw_method", CF_CHECK_NOT_EMPTY)},
	{.name = "raw_uri", .sql_type = "text", .json_path = "raw.uri",
		.json_kind = CF_JSON_STRING, AUDIT_FILTER("raw_uri", CF_CHECK_NOT_EMPTY)},
	{.name = "raw_status_code", .sql_type = "integer", .json_path = "raw.status_code",
		.json_kind = CF_JSON_NUMBER, AUDIT_FILTER("raw_status_code", CF_CHECK_NONE)},
	{.name = "raw_cf_ray_id", .sql_type = "text", .json_path = "raw.cf_ray_id",
		.json_kind = CF_JSON_STRING, AUDIT_FILTER("raw_cf_ray_id", CF_CHECK_NOT_EMPTY)},
	{.name = "raw_user_agent", .sql_type = "text", .json_path = "raw.user_agent",
		.json_kind = CF_JSON_STRING, .nullable = true},
};

/*
 * The accounts the credential can see (GET /accounts), read-only.  The API's
 * description does not say whether ?name= is an exact match, so a name
 * qual is sent and rechecked; nor by what ?direction= sorts, so no column
 * claims the API's order.  Only id, name and type are required fields.
 */
static const CfColumn account_columns[] = {
	{.name = "id", .sql_type = "text", .json_path = "id", .json_kind = CF_JSON_STRING,
		.check = CF_CHECK_ID},
	{.name = "name", .sql_type = "text", .json_path = "name", .json_kind = CF_JSON_STRING,
		.eq_param = "name", .eq_rechecked = true},
	{.name = "type", .sql_type = "text", .json_path = "type", .json_kind = CF_JSON_STRING},
	{.name = "created_on", .sql_type = "timestamptz", .json_path = "created_on",
		.json_kind = CF_JSON_STRING, .nullable = true},
	{.name = "settings", .sql_type = "jsonb", .json_path = "settings",
		.json_kind = CF_JSON_ANY, .nullable = true},
	{.name = "managed_by", .sql_type = "jsonb", .json_path = "managed_by",
		.json_kind = CF_JSON_ANY, .nullable = true},
};

/*
 * The audit log is asked for days (UTC) between since and before, both
 * required; it keeps 18 months of events (Cloudflare's announcement of
 * audit logs v2).
 */
static const CfTimeRange audit_log_range = {
	.column = "time",
	.since_param = "since",
	.before_param = "before",
	.retention_months = 18,
};

#define NCOLS(a) ((int) lengthof(a))

static const CfResource resources[] = {
	{
		.name = "user_groups",
		.item_name = "user group",
		.list_path = "/accounts/%s/iam/user_groups",
		.item_path = "/accounts/%s/iam/user_groups/%s",
		.paging = CF_PAGING_PAGES,
		.per_page_min = 1,
		.per_page_max = 500,
		.rows_estimate = 100,
		.columns = user_group_columns,
		.ncolumns = NCOLS(user_group_columns),
		.operations = CF_OP_INSERT | CF_OP_UPDATE | CF_OP_DELETE,
		/* an update names each policy it keeps by its id */
		.policy_ids_insert = CF_POLICY_IDS_DROP,
		.policy_ids_update = CF_POLICY_IDS_REQUIRE,
	},
	{
		.name = "user_group_members",
		.item_name = "user group member",
		.list_path = "/accounts/%s/iam/user_groups/%s/members",
		.item_path = "/accounts/%s/iam/user_groups/%s/members/%s",
		.parent = &resources[0],
		.parent_column = "user_group_id",
		.paging = CF_PAGING_PAGES,
		.per_page_min = 1,
		.per_page_max = 500,
		.rows_estimate = 1000,
		.columns = user_group_member_columns,
		.ncolumns = NCOLS(user_group_member_columns),
		/* a membership has no field to change: UPDATE is refused with a hint */
		.operations = CF_OP_INSERT | CF_OP_DELETE,
	},
	{
		.name = "account_members",
		.item_name = "account member",
		.list_path = "/accounts/%s/members",
		.item_path = "/accounts/%s/members/%s",
		.paging = CF_PAGING_PAGES,
		.per_page_min = 5,
		.per_page_max = 50,
		.rows_estimate = 100,
		.columns = account_member_columns,
		.ncolumns = NCOLS(account_member_columns),
		.operations = CF_OP_INSERT | CF_OP_UPDATE | CF_OP_DELETE,
		.policy_ids_insert = CF_POLICY_IDS_KEEP,
		.policy_ids_update = CF_POLICY_IDS_KEEP,
		.one_of_reason = "Cloudflare invites a member with roles or with policies.",
	},
	{
		.name = "roles",
		.item_name = "role",
		.list_path = "/accounts/%s/roles",
		.item_path = "/accounts/%s/roles/%s",
		.paging = CF_PAGING_PAGES,
		.per_page_min = 5,
		.per_page_max = 50,
		.rows_estimate = 20,
		.columns = role_columns,
		.ncolumns = NCOLS(role_columns),
	},
	{
		.name = "permission_groups",
		.item_name = "permission group",
		.list_path = "/accounts/%s/iam/permission_groups",
		.item_path = "/accounts/%s/iam/permission_groups/%s",
		.paging = CF_PAGING_PAGES,
		.per_page_min = 5,
		.per_page_max = 50,
		.rows_estimate = 200,
		.columns = permission_group_columns,
		.ncolumns = NCOLS(permission_group_columns),
	},
	{
		/* Resource groups are not paged: one call answers the whole list. */
		.name = "resource_groups",
		.item_name = "resource group",
		.list_path = "/accounts/%s/iam/resource_groups",
		.item_path = "/accounts/%s/iam/resource_groups/%s",
		.rows_estimate = 50,
		.columns = resource_group_columns,
		.ncolumns = NCOLS(resource_group_columns),
	},
	{
		/*
		 * Expired tokens are listed too (the API hides them unless asked):
		 * a report of what exists must show them, status 'expired'.
		 */
		.name = "account_tokens",
		.item_name = "API token",
		.list_path = "/accounts/%s/tokens",
		.item_path = "/accounts/%s/tokens/%s",
		.paging = CF_PAGING_PAGES,
		.per_page_min = 5,
		.per_page_max = 50,
		.rows_estimate = 20,
		.columns = account_token_columns,
		.ncolumns = NCOLS(account_token_columns),
		.operations = CF_OP_UPDATE | CF_OP_DELETE,
		.list_query = "include_expired=true&",
		.update_whole = true,
	},
	{
		/*
		 * Paged by cursor, up to 1000 events a page; no total is told (its
		 * result_info.count is a string: the events of that answer).
		 */
		.name = "audit_logs",
		.item_name = "audit log event",
		.list_path = "/accounts/%s/logs/audit",
		.paging = CF_PAGING_CURSOR,
		.per_page_min = 1,
		.per_page_max = 1000,
		.rows_estimate = 1000,
		.columns = audit_log_columns,
		.ncolumns = NCOLS(audit_log_columns),
		.time_range = &audit_log_range,
	},
	{
		/*
		 * Not under the server's account: every account the credential can
		 * see.  Cloudflare refuses an account-owned token here (a user's
		 * token, or the email and key, may list accounts).
		 */
		.name = "accounts",
		.item_name = "account",
		.list_path = "/accounts",
		.item_path = "/accounts/%s",
		.no_account = true,
		.paging = CF_PAGING_PAGES,
		.per_page_min = 5,
		.per_page_max = 50,
		.rows_estimate = 10,
		.columns = account_columns,
		.ncolumns = NCOLS(account_columns),
	},
};

const CfResource *
cf_resource_by_name(const char *name)
{
	for (int i = 0; i < NCOLS(resources); i++)
		if (strcmp(resources[i].name, name) == 0)
			return &resources[i];
	return NULL;
}

const CfColumn *
cf_column_by_name(const CfResource *res, const char *name)
{
	for (int i = 0; i < res->ncolumns; i++)
		if (strcmp(res->columns[i].name, name) == 0)
			return &res->columns[i];
	return NULL;
}

/* The column that names an item in its path (not the parent's id). */
const CfColumn *
cf_key_column(const CfResource *res)
{
	for (int i = 0; i < res->ncolumns; i++)
		if ((res->columns[i].writes & CF_W_KEY) &&
			(res->parent_column == NULL ||
			 strcmp(res->columns[i].name, res->parent_column) != 0))
			return &res->columns[i];
	return cf_column_by_name(res, "id");
}

int
cf_resource_count(void)
{
	return NCOLS(resources);
}

const CfResource *
cf_resource_by_index(int i)
{
	Assert(i >= 0 && i < NCOLS(resources));
	return &resources[i];
}

/* "user_groups, user_group_members, ..." for error hints */
const char *
cf_resource_names(void)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < NCOLS(resources); i++)
		cf_append_list_item(&buf, resources[i].name);
	return buf.data;
}

/*
 * Map each column of the foreign table to the catalog column of the same
 * name.  A hand-written table may declare any subset in any order; a name
 * the resource does not have is an error.
 */
const CfColumn **
cf_map_columns(Relation rel, const CfResource *res, int *natts)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	const CfColumn **cols = palloc0(sizeof(CfColumn *) * Max(tupdesc->natts, 1));

	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (att->attisdropped)
			continue;
		cols[i] = cf_column_by_name(res, NameStr(att->attname));
		if (cols[i] == NULL)
		{
			StringInfoData names;

			initStringInfo(&names);
			for (int j = 0; j < res->ncolumns; j++)
				cf_append_list_item(&names, res->columns[j].name);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
					 errmsg("column \"%s\" of foreign table \"%s\" is not a field of Cloudflare resource \"%s\"",
							NameStr(att->attname), RelationGetRelationName(rel), res->name),
					 errhint("Columns of %s are: %s.", res->name, names.data)));
		}
	}
	*natts = tupdesc->natts;
	return cols;
}

/* Only a 32-lowercase-hex value may ever become a path segment. */
bool
cf_is_id(const char *s)
{
	int			n = 0;

	for (; *s; s++, n++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return n == CF_ID_LEN;
}

/* The values GET /accounts/{a}/members?status= accepts. */
bool
cf_is_member_status(const char *s)
{
	return strcmp(s, "accepted") == 0 || strcmp(s, "pending") == 0 ||
		strcmp(s, "rejected") == 0;
}

/* Is s one of "a|b|c"? */
bool
cf_is_one_of(const char *allowed, const char *s)
{
	size_t		len = strlen(s);
	const char *p = allowed;

	for (;;)
	{
		size_t		n = strcspn(p, "|");

		if (n == len && strncmp(p, s, len) == 0)
			return true;
		if (p[n] == '\0')
			return false;
		p += n + 1;
	}
}

/*
 * An email address as the API's filters take one: something, one @,
 * something, no spaces.
 */
bool
cf_is_email(const char *s)
{
	const char *at = strchr(s, '@');

	if (at == NULL || at == s || at[1] == '\0' || strchr(at + 1, '@'))
		return false;
	for (; *s; s++)
		if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == '\v')
			return false;
	return true;
}

/*
 * The path of a resource's listing (item_id NULL) or of one of its items:
 * the account, then the parent's id for a child resource (user group
 * members), then the item's id.  A resource above the accounts
 * (no_account) ignores account_id: its paths hold no account.  Every path
 * cfiam sends or shows is built here, from the catalog's templates.
 */
char *
cf_resource_path(const CfResource *res, const char *account_id,
				 const char *parent_id, const char *item_id)
{
	StringInfoData buf;

	initStringInfo(&buf);
	/* no catalog entry is both: its parent's path would name an account */
	Assert(!(res->no_account && res->parent));
	if (res->no_account && item_id == NULL)
		appendStringInfoString(&buf, res->list_path);
	else if (res->no_account)
		appendStringInfo(&buf, res->item_path, item_id);
	else if (item_id == NULL && res->parent)
		appendStringInfo(&buf, res->list_path, account_id, parent_id);
	else if (item_id == NULL)
		appendStringInfo(&buf, res->list_path, account_id);
	else if (res->parent)
		appendStringInfo(&buf, res->item_path, account_id, parent_id, item_id);
	else
		appendStringInfo(&buf, res->item_path, account_id, item_id);
	return buf.data;
}
