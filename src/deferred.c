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
 * statement order, then the membership changes, coalesced per group (the
 * latest change of a member winning): the additions as POSTs of up to 100
 * members, then every removal as a DELETE of its own, in flight together
 * within max_concurrency and the pace.  Membership is never written as a
 * set computed from a read: a member that someone else adds or removes
 * meanwhile stays as they left it (only cfiam_replace_user_group_members,
 * where the caller states the whole set, sends a PUT).  Changes of a group
 * or an account member that the same COMMIT deletes are dropped: the
 * DELETE takes the memberships with it, and they could only fail after it.
 *
 * The whole plan is checked against cfiam.max_requests and reserved in the
 * credential's rate-limit window before its first call: refused, nothing
 * is sent.
 *
 * A user group created in the transaction has no id before COMMIT: its
 * members are queued under a provisional id, "pending-<n>", which
 * cfiam_pending_group_id() gives.  It can never be a Cloudflare id (32 hex
 * digits) and never reaches a URL: COMMIT creates the group first and sends
 * its members under the id Cloudflare answered.
 *
 * An API has no atomic multi-call commit: a call that fails at COMMIT
 * aborts the transaction, but the calls before it stay applied, and the
 * error lists them.  When the transaction aborts after every call was
 * applied (a serialization failure at COMMIT, another FDW's commit), a
 * WARNING lists them: they stand at Cloudflare.
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
	const char *group;			/* membership calls: the group's id */
	bool		batched;		/* a removal: sent with the others at once */
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
		const char *name = cf_json_get_string(cf_json_parse(body, strlen(body), NULL), "name");

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

/* The id a DELETE path ends with: the row it deletes. */
static const char *
deleted_id(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/*
 * The ids of the rows the queue DELETEs with a plain call: the user groups
 * (a resource with members) in *groups, the account members in *members.
 */
static void
queued_deletions(List **groups, List **members)
{
	const CfResource *account_members = cf_resource_by_name("account_members");
	ListCell   *lc;

	*groups = *members = NIL;
	foreach(lc, pending)
	{
		CfChange   *c = lfirst(lc);

		if (c->kind != CF_CHANGE_CALL || strcmp(c->method, "DELETE") != 0)
			continue;
		if (has_members(c->res))
			*groups = lappend(*groups, (char *) deleted_id(c->path));
		else if (c->res == account_members)
			*members = lappend(*members, (char *) deleted_id(c->path));
	}
}

static CfCall *
member_call(CfChange *first, const char *method, char *path)
{
	CfCall	   *call = palloc0(sizeof(CfCall));

	call->serverid = first->serverid;
	call->userid = first->userid;
	call->method = method;
	call->path = path;
	call->new_group = provisional_number(first->group);
	call->res = first->res;
	call->account = first->account;
	call->group = first->group;
	return call;
}

/*
 * One group's membership changes as calls, appended to *posts (additions,
 * POSTs of up to 100) and *deletes (removals, a DELETE each): the net
 * effect of its queued changes, the latest change of a member winning,
 * less the members the queue deletes from the account.
 */
static void
group_calls(CfChange *first, List *deleted_members, List **posts, List **deletes)
{
	List	   *adds = NIL;
	List	   *removes = NIL;
	ListCell   *m;
	char	   *path = cf_resource_path(first->res, first->account, first->group, NULL);

	foreach(m, pending)
	{
		CfChange   *c = lfirst(m);

		if (c->kind == CF_CHANGE_CALL || c->serverid != first->serverid ||
			c->userid != first->userid || strcmp(c->account, first->account) != 0 ||
			strcmp(c->group, first->group) != 0)
			continue;
		adds = string_remove(adds, c->member);
		removes = string_remove(removes, c->member);
		if (string_in(deleted_members, c->member))
			continue;
		if (c->kind == CF_CHANGE_MEMBER_ADD)
			adds = lappend(adds, c->member);
		else
			removes = lappend(removes, c->member);
	}

	/* a group created at this COMMIT has no members to remove */
	if (provisional_number(first->group) > 0)
		removes = NIL;

	for (int i = 0; i < list_length(adds); i += CF_MEMBERS_PER_POST)
	{
		CfCall	   *call = member_call(first, "POST", path);

		call->body = members_body(list_copy_head(list_copy_tail(adds, i),
												 CF_MEMBERS_PER_POST));
		*posts = lappend(*posts, call);
	}
	foreach(m, removes)
	{
		CfCall	   *call = member_call(first, "DELETE",
									   cf_resource_path(first->res, first->account,
														first->group, (char *) lfirst(m)));

		call->batched = true;
		*deletes = lappend(*deletes, call);
	}
}

/*
 * The calls of the queue, coalesced: the plain calls in queue order, then
 * the additions of each group (groups in the order they first appear),
 * then every removal.  Membership changes of a group or an account member
 * the queue deletes are left out.
 */
static List *
plan_calls(void)
{
	List	   *calls = NIL;
	List	   *posts = NIL;
	List	   *deletes = NIL;
	List	   *groups = NIL;	/* of CfChange *: the first change of each group */
	List	   *deleted_groups;
	List	   *deleted_members;
	ListCell   *lc;

	queued_deletions(&deleted_groups, &deleted_members);
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
		else if (!string_in(deleted_groups, c->group))
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
		group_calls(lfirst(lc), deleted_members, &posts, &deletes);
	return list_concat(list_concat(calls, posts), deletes);
}

/* ---------------------------------------------------------------------
 * COMMIT
 * ---------------------------------------------------------------------
 */

/* "METHOD path" of the calls applied so far by the COMMIT under way */
static List *applying_done = NIL;

/* "METHOD path" of the calls sent whose outcome is not known */
static List *applying_unknown = NIL;

/*
 * The calls a finished pre-commit step applied (TopMemoryContext), until
 * the transaction ends: if it aborts after all, they are reported.
 */
static char *applied_at_commit = NULL;
static int	napplied_at_commit = 0;

static char *
call_list(List *calls)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, calls)
		cf_append_list_item(&buf, (char *) lfirst(lc));
	return buf.data;
}

/* The error of a failed COMMIT says which calls were applied before it. */
static void
commit_error_callback(void *arg)
{
	if (applying_done == NIL && applying_unknown == NIL)
	{
		errcontext("COMMIT of cfiam's deferred changes: no call had been applied at Cloudflare; the transaction is rolled back");
		return;
	}
	if (applying_unknown != NIL)
		errcontext("COMMIT of cfiam's deferred changes: %d call(s) had been applied at Cloudflare and stay applied (an API has no atomic commit): %s; %d more were sent and may or may not have been applied: %s",
				   list_length(applying_done),
				   applying_done ? call_list(applying_done) : "none",
				   list_length(applying_unknown), call_list(applying_unknown));
	else
		errcontext("COMMIT of cfiam's deferred changes: %d call(s) had been applied at Cloudflare and stay applied (an API has no atomic commit): %s",
				   list_length(applying_done), call_list(applying_done));
}

static CfConnection *
connection_for(const CfCall *call)
{
	ForeignServer *server = GetForeignServer(call->serverid);

	return cf_get_connection(server, GetUserMapping(call->userid, server->serverid));
}

/* Are two calls sent through the same user mapping? */
static bool
same_mapping(const CfCall *a, const CfCall *b)
{
	return a->serverid == b->serverid && a->userid == b->userid;
}

/*
 * Before the first call: the whole plan within cfiam.max_requests, and its
 * calls reserved in each credential's rate-limit window (each connection's
 * share at once), or refused with nothing sent.  Returns the connections
 * that hold a reservation, to give back what is not sent.
 */
static List *
reserve_plan(List *calls)
{
	List	   *conns = NIL;
	List	   *firsts = NIL;	/* of CfCall *: the first call of each mapping */
	ListCell   *lc;

	cf_budget_check(list_length(calls),
					psprintf("COMMIT of %d deferred call(s), checked before the first is sent",
							 list_length(calls)));
	foreach(lc, calls)
	{
		CfCall	   *call = lfirst(lc);
		int			n = 0;
		ListCell   *m;
		CfConnection *conn;

		foreach(m, firsts)
			if (same_mapping(lfirst(m), call))
				break;
		if (m != NULL)
			continue;
		firsts = lappend(firsts, call);
		foreach(m, calls)
			n += same_mapping(lfirst(m), call) ? 1 : 0;
		conn = connection_for(call);
		cf_http_prepay(conn, n);
		conns = lappend(conns, conn);
	}
	return conns;
}

/* Send one call on its own (POST, PUT, DELETE of a row). */
static void
apply_call(CfCall *call, char **created)
{
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
	cf_http_request(conn, call->method, call->path, call->body, &response);
	/* a PUT or DELETE of a row gone since: nothing left to do, as immediately */
	result = cf_decode_envelope(&response, call->method, call->path,
								strcmp(call->method, "POST") == 0 ? NULL : &not_found);
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

/*
 * Send the removals of one connection together, at most max_concurrency
 * in flight.  A member already gone (404) is what was asked.
 */
static void
apply_removals(CfConnection *conn, List *calls)
{
	int			n = list_length(calls);
	char	  **paths = palloc(sizeof(char *) * n);
	CfHttpResponse *responses = palloc0(sizeof(CfHttpResponse) * n);
	int			failed;
	int			i = 0;
	List	   *unknown_before;
	ListCell   *lc;

	foreach(lc, calls)
		paths[i++] = ((CfCall *) lfirst(lc))->path;

	/* refused before any is sent: then none is in doubt */
	cf_http_reserve(conn, n, psprintf("COMMIT: %d removal(s) from user groups", n));
	/* until their answers are in, each may or may not have been applied */
	unknown_before = applying_unknown;
	for (i = 0; i < n; i++)
		applying_unknown = lappend(applying_unknown, psprintf("DELETE %s", paths[i]));
	failed = cf_http_delete_many(conn, paths, n, responses);
	applying_unknown = unknown_before;
	for (i = 0; i < n; i++)
	{
		char	   *what = psprintf("DELETE %s", paths[i]);

		if (i == failed)
			continue;
		if (cf_envelope_success(&responses[i]))
			applying_done = lappend(applying_done, what);
		/* no answer, or a 2xx that is not a success: either may be applied */
		else if (responses[i].status == 0 ||
				 (responses[i].status >= 200 && responses[i].status < 300))
			applying_unknown = lappend(applying_unknown, what);
	}
	if (failed >= 0)
	{
		bool		not_found = false;

		(void) cf_decode_envelope(&responses[failed], "DELETE", paths[failed], &not_found);
	}
	/* a 2xx is a removal only when it is the API's envelope with success */
	for (i = 0; i < n; i++)
	{
		bool		not_found = false;

		if (responses[i].status >= 200 && responses[i].status < 300)
			(void) cf_decode_envelope(&responses[i], "DELETE", paths[i], &not_found);
	}
}

/* Send the queue's calls; any failure is an ERROR (the COMMIT aborts). */
static void
apply_pending(void)
{
	List	   *calls = plan_calls();
	List	   *removals = NIL;
	List	   *volatile conns = NIL;
	/* created[n]: the id Cloudflare gave the group queued as "pending-<n>" */
	char	  **created = palloc0(sizeof(char *) * (new_groups_queued + 1));
	ListCell   *lc;
	ErrorContextCallback errcallback;

	applying_done = applying_unknown = NIL;
	errcallback.callback = commit_error_callback;
	errcallback.arg = NULL;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	PG_TRY();
	{
		conns = reserve_plan(calls);
		foreach(lc, calls)
		{
			CfCall	   *call = lfirst(lc);

			if (call->batched)
				removals = lappend(removals, call);
			else
				apply_call(call, created);
		}
		/* the removals, each mapping's together */
		while (removals != NIL)
		{
			CfCall	   *first = linitial(removals);
			List	   *mine = NIL;

			foreach(lc, removals)
				if (same_mapping(lfirst(lc), first))
				{
					mine = lappend(mine, lfirst(lc));
					removals = foreach_delete_current(removals, lc);
				}
			apply_removals(connection_for(first), mine);
		}
	}
	PG_FINALLY();
	{
		foreach(lc, conns)
			cf_http_prepay_end(lfirst(lc));
	}
	PG_END_TRY();

	error_context_stack = errcallback.previous;
	if (applying_done != NIL)
	{
		applied_at_commit = MemoryContextStrdup(TopMemoryContext, call_list(applying_done));
		napplied_at_commit = list_length(applying_done);
	}
	applying_done = applying_unknown = NIL;
}

/* The transaction ended: what its pre-commit step applied is settled. */
static void
forget_applied(bool aborted)
{
	if (applied_at_commit == NULL)
		return;
	if (aborted)
		ereport(WARNING,
				(errcode(ERRCODE_TRANSACTION_RESOLUTION_UNKNOWN),
				 errmsg("the transaction was rolled back after cfiam had applied %d deferred call(s) at Cloudflare",
						napplied_at_commit),
				 errdetail("They stay applied (an API has no atomic commit): %s.", applied_at_commit),
				 errhint("Check the rows with a SELECT before running the transaction again: a creation repeated would create twice.")));
	pfree(applied_at_commit);
	applied_at_commit = NULL;
	napplied_at_commit = 0;
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
			applying_done = applying_unknown = NIL;
			new_groups_queued = 0;
			forget_applied(event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT);
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

/* The calls COMMIT would send now, coalesced, in order. */
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

		values[0] = Int32GetDatum(++seq);
		values[1] = DirectFunctionCall1(namein,
										CStringGetDatum(server ? server->servername : "?"));
		values[2] = CStringGetTextDatum(call->method);
		values[3] = CStringGetTextDatum(call->path);
		if (call->body)
			values[4] = DirectFunctionCall1(jsonb_in, CStringGetDatum(call->body));
		else
			nulls[4] = true;
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
