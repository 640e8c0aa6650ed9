/*-------------------------------------------------------------------------
 *
 * deferred.c
 *		Deferred writes: with cfiam.write_mode = deferred, INSERT, UPDATE and
 *		DELETE queue their calls, and COMMIT sends them.
 *
 * Every value is checked when the statement runs, as in the immediate mode;
 * only the calls wait.  ROLLBACK drops the queue, ROLLBACK TO SAVEPOINT what
 * was queued after the savepoint; PREPARE TRANSACTION with calls queued is
 * refused (they could not be sent at COMMIT PREPARED).
 *
 * At COMMIT (pre-commit, so that a failure still aborts the transaction)
 * the calls to user_groups and account_members go first, one per row in
 * statement order, then the membership changes of each user group,
 * coalesced: additions alone are POSTs of up to 100 members; removals alone
 * are a DELETE each, or one GET of the current members plus one PUT of the
 * final set when that is fewer calls; additions and removals together are
 * always that GET + PUT, so the group changes at once at Cloudflare.
 *
 * A user group created in the transaction has no id before COMMIT: its
 * members are queued under a provisional id, "pending-<n>", which
 * cfiam_pending_group_id() gives.  It can never be a Cloudflare id (32 hex
 * digits) and never reaches a URL: COMMIT creates the group first and sends
 * its members under the id Cloudflare answered.
 *
 * An API has no atomic multi-call commit: a call that fails at COMMIT
 * aborts the transaction, but the calls before it stay applied, and the
 * error lists them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "cfiam.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#define CF_MEMBERS_PER_POST 100	/* the API takes up to 100 ids a call */
#define CF_PENDING_GROUP_PREFIX "pending-"

typedef enum CfWriteMode
{
	CF_WRITE_IMMEDIATE,
	CF_WRITE_DEFERRED
} CfWriteMode;

static const struct config_enum_entry write_mode_options[] = {
	{"immediate", CF_WRITE_IMMEDIATE, false},
	{"deferred", CF_WRITE_DEFERRED, false},
	{NULL, 0, false}
};

static int	write_mode = CF_WRITE_IMMEDIATE;

typedef enum CfChangeKind
{
	CF_CHANGE_CALL,				/* one call as it is: POST, PUT or DELETE */
	CF_CHANGE_MEMBER_ADD,		/* a member into a group */
	CF_CHANGE_MEMBER_REMOVE		/* a member out of a group */
} CfChangeKind;

/* One queued change, in TopTransactionContext. */
typedef struct CfChange
{
	CfChangeKind kind;
	int			nest_level;		/* the (sub)transaction that queued it */
	Oid			serverid;
	Oid			userid;			/* whose user mapping sends it */
	const CfResource *res;
	char		account[CF_ID_LEN + 1];
	char	   *method;			/* CF_CHANGE_CALL */
	char	   *path;
	char	   *body;			/* JSON text, or NULL */
	char		group[CF_ID_LEN + 1];	/* member changes: an id, or provisional */
	char		member[CF_ID_LEN + 1];
	int			new_group;		/* a group's creation: its n in "pending-<n>" */
	char	   *new_group_name;
} CfChange;

/* A call as COMMIT will send it (after coalescing). */
typedef struct CfCall
{
	Oid			serverid;
	Oid			userid;
	const char *method;
	char	   *path;
	char	   *body;
	int			creates_group;	/* creates "pending-<n>": remember its id */
	int			new_group;		/* adds members to "pending-<n>": its id in path */
	const CfResource *res;
	const char *account;
	/* a replace (GET + PUT): the final set is computed from the GET */
	bool		replace;
	List	   *adds;			/* of char *: member ids */
	List	   *removes;
} CfCall;

static List *pending = NIL;		/* of CfChange *, in queue order */
static int	new_groups_queued = 0;	/* the last n of "pending-<n>" */
static bool callbacks_registered = false;

/* ---------------------------------------------------------------------
 * The queue
 * ---------------------------------------------------------------------
 */

bool
cf_deferred_mode(void)
{
	return write_mode == CF_WRITE_DEFERRED;
}

/* Does the resource have members (a child resource listed under it)? */
static bool
has_members(const CfResource *res)
{
	for (int i = 0; i < cf_resource_count(); i++)
		if (cf_resource_by_index(i)->parent == res)
			return true;
	return false;
}

static CfChange *
new_change(CfChangeKind kind, Oid serverid, Oid userid, const CfResource *res,
		   const char *account)
{
	CfChange   *c = MemoryContextAllocZero(TopTransactionContext, sizeof(CfChange));

	c->kind = kind;
	c->nest_level = GetCurrentTransactionNestLevel();
	c->serverid = serverid;
	c->userid = userid;
	c->res = res;
	strlcpy(c->account, account, sizeof(c->account));
	return c;
}

static void
enqueue(CfChange *c)
{
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

	pending = lappend(pending, c);
	MemoryContextSwitchTo(old);
}

/* Queue one call to send at COMMIT as it is. */
void
cf_defer_call(Oid serverid, Oid userid, const CfResource *res, const char *account,
			  const char *method, const char *path, const char *body)
{
	CfChange   *c = new_change(CF_CHANGE_CALL, serverid, userid, res, account);

	c->method = MemoryContextStrdup(TopTransactionContext, method);
	c->path = MemoryContextStrdup(TopTransactionContext, path);
	c->body = body ? MemoryContextStrdup(TopTransactionContext, body) : NULL;
	if (strcmp(method, "POST") == 0 && has_members(res) && body)
	{
		const char *name = cf_json_get_string(cf_json_parse(body, strlen(body)), "name");

		c->new_group = ++new_groups_queued;
		c->new_group_name = name ? MemoryContextStrdup(TopTransactionContext, name) : NULL;
	}
	enqueue(c);
}

/* The n of a provisional group id "pending-<n>"; 0 if it is not one. */
static int
provisional_number(const char *group)
{
	size_t		len = strlen(CF_PENDING_GROUP_PREFIX);
	const char *digits = group + len;
	int			n = 0;

	if (strncmp(group, CF_PENDING_GROUP_PREFIX, len) != 0 || *digits == '\0' ||
		*digits == '0' || strspn(digits, "0123456789") != strlen(digits) ||
		strlen(digits) > 9)
		return 0;
	for (; *digits; digits++)
		n = n * 10 + (*digits - '0');
	return n;
}

/* The queued creation of the group "pending-<n>" in an account, or NULL. */
static CfChange *
queued_creation(const char *account, int n)
{
	ListCell   *lc;

	if (n <= 0)
		return NULL;
	foreach(lc, pending)
	{
		CfChange   *c = lfirst(lc);

		if (c->new_group == n && strcmp(c->account, account) == 0)
			return c;
	}
	return NULL;
}

/* Has the value the form of a provisional group id ("pending-<n>")? */
bool
cf_deferred_provisional(const char *group)
{
	return provisional_number(group) > 0;
}

/*
 * Is group the provisional id of a user group this transaction queued for
 * creation in the account?  Then members may be queued under it.
 */
bool
cf_deferred_new_group(const char *account, const char *group)
{
	return queued_creation(account, provisional_number(group)) != NULL;
}

/* The provisional ids of the groups queued for creation in an account. */
List *
cf_deferred_new_groups(const char *account)
{
	ListCell   *lc;
	List	   *groups = NIL;

	foreach(lc, pending)
	{
		CfChange   *c = lfirst(lc);

		if (c->new_group > 0 && strcmp(c->account, account) == 0)
			groups = lappend(groups, psprintf(CF_PENDING_GROUP_PREFIX "%d", c->new_group));
	}
	return groups;
}

/* Queue a member's addition to (add) or removal from a user group. */
void
cf_defer_member(Oid serverid, Oid userid, const CfResource *res, const char *account,
				const char *group, const char *member, bool add)
{
	CfChange   *c = new_change(add ? CF_CHANGE_MEMBER_ADD : CF_CHANGE_MEMBER_REMOVE,
							   serverid, userid, res, account);

	strlcpy(c->group, group, sizeof(c->group));
	strlcpy(c->member, member, sizeof(c->member));
	enqueue(c);
}

/* Has this transaction queued any change? */
bool
cf_deferred_queued(void)
{
	return pending != NIL;
}

/* Changes queued for a resource of an account (any resource: res NULL). */
int
cf_deferred_count(const CfResource *res, const char *account)
{
	ListCell   *lc;
	int			n = 0;

	foreach(lc, pending)
	{
		CfChange   *c = lfirst(lc);

		if ((res == NULL || c->res == res) && strcmp(c->account, account) == 0)
			n++;
	}
	return n;
}

/*
 * What COMMIT will make of a membership: +1 added, -1 removed, 0 nothing
 * queued (the latest queued change wins).
 */
int
cf_deferred_membership(const char *account, const char *group, const char *member)
{
	ListCell   *lc;
	int			state = 0;

	foreach(lc, pending)
	{
		CfChange   *c = lfirst(lc);

		if (c->kind == CF_CHANGE_CALL || strcmp(c->account, account) != 0 ||
			strcmp(c->group, group) != 0 || strcmp(c->member, member) != 0)
			continue;
		state = c->kind == CF_CHANGE_MEMBER_ADD ? 1 : -1;
	}
	return state;
}

/* The members COMMIT will add to a group (ids, palloc'd), in queue order. */
List *
cf_deferred_additions(const char *account, const char *group)
{
	ListCell   *lc;
	List	   *ids = NIL;

	foreach(lc, pending)
	{
		CfChange   *c = lfirst(lc);

		if (c->kind == CF_CHANGE_MEMBER_ADD && strcmp(c->account, account) == 0 &&
			strcmp(c->group, group) == 0 &&
			cf_deferred_membership(account, group, c->member) > 0 &&
			!list_member(ids, makeString(c->member)))
			ids = lappend(ids, makeString(pstrdup(c->member)));
	}
	return ids;
}

/* ---------------------------------------------------------------------
 * Coalescing: the calls COMMIT sends
 * ---------------------------------------------------------------------
 */

static bool
string_in(List *list, const char *s)
{
	ListCell   *lc;

	foreach(lc, list)
		if (strcmp((char *) lfirst(lc), s) == 0)
			return true;
	return false;
}

static List *
string_remove(List *list, const char *s)
{
	ListCell   *lc;

	foreach(lc, list)
		if (strcmp((char *) lfirst(lc), s) == 0)
			return foreach_delete_current(list, lc);
	return list;
}

/* [{"id": ...}, ...] of a list of member ids: the API's members body */
static cJSON *
members_json(List *ids)
{
	cJSON	   *body = cf_json_array();
	ListCell   *lc;

	foreach(lc, ids)
		cf_json_add_string(cf_json_append(body, cf_json_object()), "id", (char *) lfirst(lc));
	return body;
}

static char *
members_body(List *ids)
{
	return cf_json_print(members_json(ids));
}

/*
 * One group's membership changes as calls, appended to calls: the net
 * effect of its queued changes (the latest change of a member winning),
 * then POSTs, DELETEs or a GET + PUT as the header comment says.
 */
static List *
group_calls(List *calls, CfChange *first)
{
	List	   *adds = NIL;
	List	   *removes = NIL;
	ListCell   *m;
	char	   *path = cf_resource_path(first->res, first->account, first->group, NULL);

	/* the net effect, the latest change of a member winning */
	foreach(m, pending)
	{
		CfChange   *c = lfirst(m);

		if (c->kind == CF_CHANGE_CALL || c->serverid != first->serverid ||
			c->userid != first->userid || strcmp(c->account, first->account) != 0 ||
			strcmp(c->group, first->group) != 0)
			continue;
		adds = string_remove(adds, c->member);
		removes = string_remove(removes, c->member);
		if (c->kind == CF_CHANGE_MEMBER_ADD)
			adds = lappend(adds, c->member);
		else
			removes = lappend(removes, c->member);
	}

	/* a group created at this COMMIT has no members to remove */
	if (provisional_number(first->group) > 0)
		removes = NIL;

	if (adds != NIL && removes == NIL)
	{
		/* POSTs of up to 100 */
		for (int i = 0; i < list_length(adds); i += CF_MEMBERS_PER_POST)
		{
			CfCall	   *call = palloc0(sizeof(CfCall));

			call->serverid = first->serverid;
			call->userid = first->userid;
			call->method = "POST";
			call->path = path;
			call->new_group = provisional_number(first->group);
			call->res = first->res;
			call->account = first->account;
			call->body = members_body(list_copy_head(list_copy_tail(adds, i),
													 CF_MEMBERS_PER_POST));
			calls = lappend(calls, call);
		}
	}
	else if (adds == NIL && list_length(removes) <= 2)
	{
		/* a DELETE each: no more calls than a GET and a PUT */
		foreach(m, removes)
		{
			CfCall	   *call = palloc0(sizeof(CfCall));

			call->serverid = first->serverid;
			call->userid = first->userid;
			call->method = "DELETE";
			call->path = cf_resource_path(first->res, first->account, first->group,
										  (char *) lfirst(m));
			calls = lappend(calls, call);
		}
	}
	else if (adds != NIL || removes != NIL)
	{
		/* the group's current members, then the final set at once */
		CfCall	   *call = palloc0(sizeof(CfCall));

		call->serverid = first->serverid;
		call->userid = first->userid;
		call->method = "PUT";
		call->path = path;
		call->replace = true;
		call->adds = adds;
		call->removes = removes;
		calls = lappend(calls, call);
	}
	return calls;
}

/*
 * The calls of the queue, coalesced: the plain calls in queue order, then
 * each group's membership changes (groups in the order they first appear).
 */
static List *
plan_calls(void)
{
	List	   *calls = NIL;
	List	   *groups = NIL;	/* of CfChange *: the first change of each group */
	ListCell   *lc;

	foreach(lc, pending)
	{
		CfChange   *c = lfirst(lc);

		if (c->kind == CF_CHANGE_CALL)
		{
			CfCall	   *call = palloc0(sizeof(CfCall));

			call->serverid = c->serverid;
			call->userid = c->userid;
			call->method = c->method;
			call->path = c->path;
			call->body = c->body;
			call->creates_group = c->new_group;
			calls = lappend(calls, call);
		}
		else
		{
			ListCell   *g;
			bool		seen = false;

			foreach(g, groups)
			{
				CfChange   *first = lfirst(g);

				seen |= first->serverid == c->serverid && first->userid == c->userid &&
					strcmp(first->account, c->account) == 0 &&
					strcmp(first->group, c->group) == 0;
			}
			if (!seen)
				groups = lappend(groups, c);
		}
	}

	foreach(lc, groups)
		calls = group_calls(calls, lfirst(lc));
	return calls;
}

/* The members of a group now: every page of its listing (GETs). */
static List *
current_members(CfConnection *conn, const char *path)
{
	List	   *ids = NIL;

	for (int page = 1;; page++)
	{
		char	   *get = psprintf("%s?page=%d&per_page=500", path, page);
		CfHttpResponse response;
		cJSON	   *result;
		cJSON	   *item;
		int			n = 0;

		cf_http_request(conn, "GET", get, NULL, &response);
		result = cf_list_result(cf_decode_envelope(&response, "GET", get, NULL), get);
		if (result == NULL)
			break;				/* null: an empty group */
		cJSON_ArrayForEach(item, result)
		{
			const char *id = cf_json_get_string(item, "id");

			if (id && cf_is_id(id) && !string_in(ids, id))
				ids = lappend(ids, pstrdup(id));
			n++;
		}
		if (n < 500)
			break;
	}
	return ids;
}

/* ---------------------------------------------------------------------
 * COMMIT
 * ---------------------------------------------------------------------
 */

static List *applying_done = NIL;	/* "METHOD path" of the calls applied */

/* The error of a failed COMMIT says which calls were applied before it. */
static void
commit_error_callback(void *arg)
{
	StringInfoData buf;
	ListCell   *lc;

	if (applying_done == NIL)
	{
		errcontext("COMMIT of cfiam's deferred changes: no call had been applied at Cloudflare; the transaction is rolled back");
		return;
	}
	initStringInfo(&buf);
	foreach(lc, applying_done)
		cf_append_list_item(&buf, (char *) lfirst(lc));
	errcontext("COMMIT of cfiam's deferred changes: %d call(s) had been applied at Cloudflare and stay applied (an API has no atomic commit): %s",
			   list_length(applying_done), buf.data);
}

static CfConnection *
connection_for(const CfCall *call)
{
	ForeignServer *server = GetForeignServer(call->serverid);

	return cf_get_connection(server, GetUserMapping(call->userid, server->serverid));
}

/* Send the queue's calls; any failure is an ERROR (the COMMIT aborts). */
static void
apply_pending(void)
{
	List	   *calls;
	/* created[n]: the id Cloudflare gave the group queued as "pending-<n>" */
	char	  **created = palloc0(sizeof(char *) * (new_groups_queued + 1));
	ListCell   *lc;
	ErrorContextCallback errcallback;

	calls = plan_calls();
	applying_done = NIL;
	errcallback.callback = commit_error_callback;
	errcallback.arg = NULL;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	foreach(lc, calls)
	{
		CfCall	   *call = lfirst(lc);
		CfConnection *conn = connection_for(call);
		CfHttpResponse response;
		bool		not_found = false;
		cJSON	   *result;

		if (call->new_group > 0)
		{
			/* plan_calls puts every creation before the members' calls */
			if (created[call->new_group] == NULL)
				elog(ERROR, "cfiam: group %s%d was not created before its members",
					 CF_PENDING_GROUP_PREFIX, call->new_group);
			call->path = cf_resource_path(call->res, call->account,
										  created[call->new_group], NULL);
		}

		if (call->replace)
		{
			List	   *final = NIL;
			ListCell   *m;

			foreach(m, current_members(conn, call->path))
				if (!string_in(call->removes, (char *) lfirst(m)))
					final = lappend(final, lfirst(m));
			foreach(m, call->adds)
				if (!string_in(final, (char *) lfirst(m)))
					final = lappend(final, lfirst(m));
			call->body = members_body(final);
		}
		cf_http_request(conn, call->method, call->path, call->body, &response);
		/* a PUT or DELETE of a row gone since: nothing left to do, as immediately */
		result = cf_decode_envelope(&response, call->method, call->path,
									strcmp(call->method, "POST") == 0 || call->replace ?
									NULL : &not_found);
		applying_done = lappend(applying_done, psprintf("%s %s", call->method, call->path));
		if (call->creates_group > 0)
		{
			const char *id = cf_json_get_string(cf_envelope_result(result, call->method,
																   call->path), "id");

			/* checked before anything is sent under it */
			if (id == NULL || !cf_is_id(id))
				ereport(ERROR,
						(errcode(CF_ERRCODE_API_PROTOCOL),
						 errmsg("Cloudflare API answered the creation of a user group without a valid id"),
						 errdetail("POST %s; the members queued for group %s%d cannot be added.",
								   call->path, CF_PENDING_GROUP_PREFIX, call->creates_group)));
			created[call->creates_group] = pstrdup(id);
		}
	}

	error_context_stack = errcallback.previous;
	applying_done = NIL;
}

static void
deferred_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			/* an error here aborts the transaction; the queue goes with it */
			if (pending != NIL)
				apply_pending();
			pending = NIL;
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (pending != NIL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction with cfiam changes queued"),
						 errdetail("%d change(s) wait for COMMIT (cfiam.write_mode = deferred); they could not be sent at COMMIT PREPARED.",
								   list_length(pending))));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			/* the memory goes with TopTransactionContext */
			pending = NIL;
			applying_done = NIL;
			new_groups_queued = 0;
			break;
		default:
			break;
	}
}

static void
deferred_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						  SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();
	ListCell   *lc;

	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		/* ROLLBACK TO SAVEPOINT: what was queued after it goes */
		foreach(lc, pending)
		{
			CfChange   *c = lfirst(lc);

			if (c->nest_level >= level)
				pending = foreach_delete_current(pending, lc);
		}
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		/* RELEASE: its changes are the parent's now */
		foreach(lc, pending)
		{
			CfChange   *c = lfirst(lc);

			if (c->nest_level >= level)
				c->nest_level = level - 1;
		}
	}
}

/* ---------------------------------------------------------------------
 * cfiam_pending_changes()
 * ---------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(cfiam_pending_changes);

/*
 * The calls COMMIT would send now, coalesced, in order.  A replace shows
 * its GET, then its PUT with the set it will send if the group's members
 * are still those the GET is about to read.
 */
Datum
cfiam_pending_changes(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ListCell   *lc;
	int			seq = 0;

	InitMaterializedSRF(fcinfo, 0);
	foreach(lc, plan_calls())
	{
		CfCall	   *call = lfirst(lc);
		ForeignServer *server = GetForeignServerExtended(call->serverid, FSV_MISSING_OK);
		Datum		values[5];
		bool		nulls[5] = {0};

		values[1] = DirectFunctionCall1(namein,
										CStringGetDatum(server ? server->servername : "?"));
		if (call->replace)
		{
			/* the GET of the current members, then the PUT of the final set */
			values[0] = Int32GetDatum(++seq);
			values[2] = CStringGetTextDatum("GET");
			values[3] = CStringGetTextDatum(call->path);
			nulls[4] = true;
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			nulls[4] = false;
			{
				/* the final set: the members the GET finds, with these applied */
				cJSON	   *plan = cf_json_object();

				cf_json_add(plan, "add", members_json(call->adds));
				cf_json_add(plan, "remove", members_json(call->removes));
				values[4] = DirectFunctionCall1(jsonb_in, CStringGetDatum(cf_json_print(plan)));
			}
		}
		else if (call->body)
			values[4] = DirectFunctionCall1(jsonb_in, CStringGetDatum(call->body));
		else
			nulls[4] = true;
		values[0] = Int32GetDatum(++seq);
		values[2] = CStringGetTextDatum(call->method);
		values[3] = CStringGetTextDatum(call->path);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(cfiam_pending_group_id);

/*
 * cfiam_pending_group_id(name): the provisional id of the user group of
 * that name this transaction queued for creation, to queue its members
 * under (INSERT INTO user_group_members) before COMMIT gives it an id.
 */
Datum
cfiam_pending_group_id(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	CfChange   *found = NULL;
	ListCell   *lc;

	foreach(lc, pending)
	{
		CfChange   *c = lfirst(lc);

		if (c->new_group == 0 || c->new_group_name == NULL ||
			strcmp(c->new_group_name, name) != 0)
			continue;
		if (found)
			ereport(ERROR,
					(errcode(ERRCODE_AMBIGUOUS_PARAMETER),
					 errmsg("more than one user group named \"%s\" is queued for creation in this transaction",
							name)));
		found = c;
	}
	if (found == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no user group named \"%s\" is queued for creation in this transaction",
						name),
				 errhint("With cfiam.write_mode = deferred, INSERT INTO the user_groups table first; a group that exists at Cloudflare has its own id.")));
	PG_RETURN_TEXT_P(cstring_to_text(psprintf(CF_PENDING_GROUP_PREFIX "%d", found->new_group)));
}

/* ---------------------------------------------------------------------
 * Set-up
 * ---------------------------------------------------------------------
 */

/* Called from _PG_init. */
void
cf_deferred_init(void)
{
	DefineCustomEnumVariable("cfiam.write_mode",
							 "When cfiam sends INSERT, UPDATE and DELETE to Cloudflare.",
							 "immediate: as each row is changed; deferred: at COMMIT, coalesced.",
							 &write_mode,
							 CF_WRITE_IMMEDIATE, write_mode_options,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	if (!callbacks_registered)
	{
		RegisterXactCallback(deferred_xact_callback, NULL);
		RegisterSubXactCallback(deferred_subxact_callback, NULL);
		callbacks_registered = true;
	}
}
