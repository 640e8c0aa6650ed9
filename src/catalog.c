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
 * groups and their members page up to 500 rows, the other lists up to 50.
 * Roles, permission groups and resource groups are read-only here: cfiam
 * manages membership, not the permission model.
 *
 *-------------------------------------------------------------------------
 */
#include "cfiam.h"

#include "lib/stringinfo.h"
#include "utils/rel.h"

/* name, type, json path, fallback, kind, check, eq, fuzzy, order, nullable, writes */

static const CfColumn user_group_columns[] = {
	{"id", "text", "id", NULL, CF_JSON_STRING, CF_CHECK_ID, NULL, NULL, NULL, false, CF_W_KEY},
	{"name", "text COLLATE \"C\"", "name", NULL, CF_JSON_STRING, CF_CHECK_NONE, "name", "fuzzyName", "", false, CF_W_INSERT | CF_W_REQUIRED | CF_W_UPDATE},
	{"created_on", "timestamptz", "created_on", NULL, CF_JSON_STRING, CF_CHECK_NONE, NULL, NULL, NULL, false},
	{"modified_on", "timestamptz", "modified_on", NULL, CF_JSON_STRING, CF_CHECK_NONE, NULL, NULL, NULL, false},
	{"policies", "jsonb", "policies", NULL, CF_JSON_ANY, CF_CHECK_NONE, NULL, NULL, NULL, true, CF_W_INSERT | CF_W_UPDATE},
};

static const CfColumn user_group_member_columns[] = {
	{"user_group_id", "text", NULL, NULL, CF_JSON_PARENT, CF_CHECK_ID, NULL, NULL, NULL, false, CF_W_KEY | CF_W_INSERT | CF_W_REQUIRED},
	{"id", "text", "id", NULL, CF_JSON_STRING, CF_CHECK_ID, NULL, NULL, NULL, false, CF_W_KEY | CF_W_INSERT | CF_W_REQUIRED},
	{"email", "text COLLATE \"C\"", "email", NULL, CF_JSON_STRING, CF_CHECK_NONE, NULL, "fuzzyEmail", "", false},
	{"status", "text", "status", NULL, CF_JSON_STRING, CF_CHECK_NONE, NULL, NULL, NULL, true},
};

/*
 * Account members carry the person in a nested "user" object.  The list is
 * sorted with ?order=user.email etc.; first and last names may be null and
 * the API's null placement is not documented, so their order is sent but
 * never claimed (PostgreSQL still sorts).
 */
static const CfColumn account_member_columns[] = {
	{"id", "text", "id", NULL, CF_JSON_STRING, CF_CHECK_ID, NULL, NULL, NULL, false, CF_W_KEY},
	{"email", "text COLLATE \"C\"", "user.email", "email", CF_JSON_STRING, CF_CHECK_NONE, NULL, NULL, "user.email", false, CF_W_INSERT | CF_W_REQUIRED},
	{"status", "text COLLATE \"C\"", "status", NULL, CF_JSON_STRING, CF_CHECK_MEMBER_STATUS, "status", NULL, "status", false, CF_W_INSERT},
	{"user_id", "text", "user.id", NULL, CF_JSON_STRING, CF_CHECK_NONE, NULL, NULL, NULL, true},
	{"first_name", "text COLLATE \"C\"", "user.first_name", NULL, CF_JSON_STRING, CF_CHECK_NONE, NULL, NULL, "user.first_name", true},
	{"last_name", "text COLLATE \"C\"", "user.last_name", NULL, CF_JSON_STRING, CF_CHECK_NONE, NULL, NULL, "user.last_name", true},
	{"two_factor_authentication_enabled", "boolean", "user.two_factor_authentication_enabled", NULL, CF_JSON_BOOL, CF_CHECK_NONE, NULL, NULL, NULL, true},
	{"role_ids", "text[]", "roles", NULL, CF_JSON_ID_LIST, CF_CHECK_NONE, NULL, NULL, NULL, true, CF_W_INSERT | CF_W_UPDATE},
	{"roles", "jsonb", "roles", NULL, CF_JSON_ANY, CF_CHECK_NONE, NULL, NULL, NULL, true, CF_W_INSERT | CF_W_UPDATE},
	{"policies", "jsonb", "policies", NULL, CF_JSON_ANY, CF_CHECK_NONE, NULL, NULL, NULL, true, CF_W_INSERT | CF_W_UPDATE},
};

static const CfColumn role_columns[] = {
	{"id", "text", "id", NULL, CF_JSON_STRING, CF_CHECK_ID, NULL, NULL, NULL, false},
	{"name", "text", "name", NULL, CF_JSON_STRING, CF_CHECK_NONE, NULL, NULL, NULL, false},
	{"description", "text", "description", NULL, CF_JSON_STRING, CF_CHECK_NONE, NULL, NULL, NULL, true},
	{"permissions", "jsonb", "permissions", NULL, CF_JSON_ANY, CF_CHECK_NONE, NULL, NULL, NULL, true},
};

static const CfColumn permission_group_columns[] = {
	{"id", "text", "id", NULL, CF_JSON_STRING, CF_CHECK_ID, NULL, NULL, NULL, false},
	{"name", "text", "name", NULL, CF_JSON_STRING, CF_CHECK_NONE, "name", NULL, NULL, true},
	{"meta", "jsonb", "meta", NULL, CF_JSON_ANY, CF_CHECK_NONE, NULL, NULL, NULL, true},
};

static const CfColumn resource_group_columns[] = {
	{"id", "text", "id", NULL, CF_JSON_STRING, CF_CHECK_ID, NULL, NULL, NULL, false},
	{"name", "text", "name", NULL, CF_JSON_STRING, CF_CHECK_NONE, "name", NULL, NULL, true},
	{"scope", "jsonb", "scope", NULL, CF_JSON_ANY, CF_CHECK_NONE, NULL, NULL, NULL, true},
	{"meta", "jsonb", "meta", NULL, CF_JSON_ANY, CF_CHECK_NONE, NULL, NULL, NULL, true},
};

#define NCOLS(a) ((int) lengthof(a))

static const CfResource resources[] = {
	{
		"user_groups",
		"/accounts/%s/iam/user_groups",
		"/accounts/%s/iam/user_groups/%s",
		NULL, NULL,
		true, 1, 500, 100,
		user_group_columns, NCOLS(user_group_columns),
		CF_OP_INSERT | CF_OP_UPDATE | CF_OP_DELETE
	},
	{
		"user_group_members",
		"/accounts/%s/iam/user_groups/%s/members",
		"/accounts/%s/iam/user_groups/%s/members/%s",
		&resources[0], "user_group_id",
		true, 1, 500, 1000,
		user_group_member_columns, NCOLS(user_group_member_columns),
		/* a membership has no field to change: UPDATE is refused with a hint */
		CF_OP_INSERT | CF_OP_DELETE
	},
	{
		"account_members",
		"/accounts/%s/members",
		"/accounts/%s/members/%s",
		NULL, NULL,
		true, 5, 50, 100,
		account_member_columns, NCOLS(account_member_columns),
		CF_OP_INSERT | CF_OP_UPDATE | CF_OP_DELETE
	},
	{
		"roles",
		"/accounts/%s/roles",
		"/accounts/%s/roles/%s",
		NULL, NULL,
		true, 5, 50, 20,
		role_columns, NCOLS(role_columns)
	},
	{
		"permission_groups",
		"/accounts/%s/iam/permission_groups",
		"/accounts/%s/iam/permission_groups/%s",
		NULL, NULL,
		true, 5, 50, 200,
		permission_group_columns, NCOLS(permission_group_columns)
	},
	{
		/* Resource groups are not paged: one call answers the whole list. */
		"resource_groups",
		"/accounts/%s/iam/resource_groups",
		"/accounts/%s/iam/resource_groups/%s",
		NULL, NULL,
		false, 0, 0, 50,
		resource_group_columns, NCOLS(resource_group_columns)
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
		appendStringInfo(&buf, "%s%s", i ? ", " : "", resources[i].name);
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
				appendStringInfo(&names, "%s%s", j ? ", " : "", res->columns[j].name);
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
