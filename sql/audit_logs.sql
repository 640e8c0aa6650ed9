--
-- audit_logs: the account's audit log (version 2), GET /accounts/{a}/logs/audit.
--
-- Every pushdown claim is pinned three ways: EXPLAIN (VERBOSE) shows the
-- planned call, the query shows the rows, and the mock's request log shows
-- exactly which calls were made.  The API is asked for whole UTC days (since,
-- before), which move with the clock: the log shows those dates as what they
-- stand for, {tomorrow} etc., through sed (the dates are computed here in SQL
-- and passed in DATES).
--
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
-- 40 events (the seed's default), 35 hours apart, the newest 35 hours ago:
-- ids, types, actors and products are fixed by the seed, times count back
-- from the reset.
\! python3 $MOCKCTL reset
SELECT format('s/=%s&/={18 months ago}\&/g; s/=%s&/={tomorrow}\&/g',
              to_char((now() AT TIME ZONE 'UTC') - interval '18 months', 'YYYY-MM-DD'),
              to_char((now() AT TIME ZONE 'UTC')::date + 1, 'YYYY-MM-DD')) AS dates \gset
\setenv DATES :dates

-- one row per event: fields as columns, the nested parts as jsonb
SELECT attname, format_type(atttypid, atttypmod)
  FROM pg_attribute WHERE attrelid = 'cf.audit_logs'::regclass AND attnum > 0
 ORDER BY attnum;

--
-- No time condition: the retention period, 18 months back to tomorrow (the
-- API requires both dates), in pages of the most the API gives (1000).
-- Without ORDER BY the rows come in the API's order, newest first.
--
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, action_type FROM cf.audit_logs;
SELECT id, action_type, action_result, resource_product, resource_type,
       actor_context, coalesce(actor_email, actor_token_name) AS actor
  FROM cf.audit_logs;
\! python3 $MOCKCTL log | sed "$DATES"

-- every column of four events (but the time, which moves: its fraction of a
-- second): a change by a Cloudflare admin, a DNS change in a zone by the
-- system, a failed creation (status 500, no resource id), a DNS change in
-- the dashboard whose time has 9 fractional digits (rounded to microseconds)
\x on
SELECT id, date_part('microseconds', time)::int % 1000000 AS time_fraction,
       action_type, action_result, action_description, actor_id, actor_email, actor_type,
       actor_context, actor_ip_address, actor_token_id, actor_token_name, resource_id,
       resource_type, resource_product, resource_scope, resource_request, resource_response,
       zone_id, zone_name, account_name, raw_method, raw_uri, raw_status_code, raw_cf_ray_id,
       raw_user_agent
  FROM cf.audit_logs
 WHERE id IN ('a93a3efa71ceb6ec22d83dfaa2f89aad', 'ce3f6cd1e3a5420147c13986eaa9b84c',
              'a3b27199ab1a46c7572eff5880f1d78d', '3149a30d0cfd7263773574eb23757384');
\x off
\! python3 $MOCKCTL log | sed "$DATES"

--
-- The time range: since is the UTC date of the lower bound, before the UTC
-- date after the upper bound's, so that the API's days cover the query's
-- range; the quals are rechecked (Filter).  Constants are shown as the dates
-- sent.
--
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM cf.audit_logs
 WHERE time BETWEEN '2026-11-03 10:00:00+00' AND '2026-11-20 23:00:00-05';
-- > and < alike; a bound in another time zone, a date or a timestamp is
-- taken as PostgreSQL compares it (the session's time zone)
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM cf.audit_logs
 WHERE time > '2026-11-30 23:30:00-01' AND time < '2026-12-01'::date;
-- several lower bounds: the latest; several upper bounds: the earliest
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM cf.audit_logs
 WHERE time >= '2026-10-01 00:00:00+00' AND time > '2026-10-05 12:00:00+00'
   AND time <= '2026-11-30 00:00:00+00' AND time < '2026-11-10 00:00:00+00';
-- time = v: that day alone
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM cf.audit_logs WHERE time = '2026-11-03 10:00:00+00';
-- a stable expression is evaluated when the scan starts: EXPLAIN shows what
-- the date is computed from
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM cf.audit_logs
 WHERE time BETWEEN now() - interval '20 days' AND now() - interval '10 days';
-- 20 to 10 days ago holds events 7 to 13 (from the newest): the API answers
-- the whole days around them, PostgreSQL keeps those within the range
SELECT format('s/since=%s&/since={UTC date of now() - 20 days}\&/; s/before=%s&/before={UTC date after now() - 10 days}\&/',
              to_char((now() - interval '20 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
              to_char(((now() - interval '10 days') AT TIME ZONE 'UTC')::date + 1, 'YYYY-MM-DD'))
       AS range_dates \gset
\setenv RANGE_DATES :range_dates
SELECT id, action_type, resource_type
  FROM cf.audit_logs
 WHERE time BETWEEN now() - interval '20 days' AND now() - interval '10 days';
\! python3 $MOCKCTL log | sed "$RANGE_DATES"
-- only a lower bound: up to tomorrow; only an upper bound: from the start of
-- the retention period
SELECT count(*) FROM cf.audit_logs WHERE time >= now() - interval '10 days';
SELECT count(*) FROM cf.audit_logs WHERE time < now() - interval '50 days';
SELECT format('s/since=%s&/since={UTC date of now() - 10 days}\&/; s/before=%s&/before={UTC date after now() - 50 days}\&/; %s',
              to_char((now() - interval '10 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
              to_char(((now() - interval '50 days') AT TIME ZONE 'UTC')::date + 1, 'YYYY-MM-DD'),
              :'dates') AS range_dates \gset
\setenv RANGE_DATES :range_dates
\! python3 $MOCKCTL log | sed "$RANGE_DATES"
-- a range nothing can be in sends nothing: a NULL bound, an empty range,
-- the future, before the retention period, infinities that close it
SELECT count(*) FROM cf.audit_logs WHERE time > NULL::timestamptz;
SELECT count(*) FROM cf.audit_logs
 WHERE time > now() - interval '1 day' AND time < now() - interval '3 days';
SELECT count(*) FROM cf.audit_logs WHERE time > now() + interval '2 days';
SELECT count(*) FROM cf.audit_logs WHERE time < now() - interval '2 years';
SELECT count(*) FROM cf.audit_logs WHERE time < '-infinity';
SELECT count(*) FROM cf.audit_logs WHERE time >= 'infinity';
\! python3 $MOCKCTL log | sed "$DATES"
-- an infinity that opens the range is no bound at all
SELECT count(*) FROM cf.audit_logs WHERE time > '-infinity' AND time < 'infinity';
\! python3 $MOCKCTL log | sed "$DATES"

--
-- = and = ANY(array) (IN) on a filter column: the parameter once per value,
-- any of them, exactly (no Filter).  Filters of different columns all hold.
--
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM cf.audit_logs WHERE action_type = 'delete';
SELECT id, action_type, resource_type FROM cf.audit_logs WHERE action_type = 'delete';
\! python3 $MOCKCTL log | sed "$DATES"
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM cf.audit_logs
 WHERE action_type IN ('create', 'delete') AND actor_context = ANY ('{api_token,oauth}')
   AND resource_product = 'members';
SELECT id, action_type, actor_context, resource_type FROM cf.audit_logs
 WHERE action_type IN ('create', 'delete') AND actor_context = ANY ('{api_token,oauth}')
   AND resource_product = 'members';
\! python3 $MOCKCTL log | sed "$DATES"
-- an email, an integer, an id, an account name
SELECT id, actor_email, raw_status_code FROM cf.audit_logs
 WHERE actor_email = 'support@cloudflare.com' AND raw_status_code = 200;
SELECT id, resource_type, raw_status_code FROM cf.audit_logs
 WHERE raw_status_code IN (500, 503) AND account_name = 'main-00';
SELECT id, resource_id FROM cf.audit_logs
 WHERE id = ANY (ARRAY['f7b4dab1279ac9f4971512bfa335b77e', 'ce3f6cd1e3a5420147c13986eaa9b84c']);
\! python3 $MOCKCTL log | sed "$DATES"
-- = and = ANY on one column: only one is sent (the API would take rows
-- matching either), the other is checked by PostgreSQL
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM cf.audit_logs
 WHERE action_type = 'create' AND action_type = ANY ('{create,update}');
-- values the API cannot take match nothing: no call.  A word outside the
-- enum, an address that is not one, an empty string, NULL, an empty array
SELECT count(*) FROM cf.audit_logs WHERE action_type = 'CREATE';
SELECT count(*) FROM cf.audit_logs WHERE actor_email = 'support';
SELECT count(*) FROM cf.audit_logs WHERE resource_id = '';
SELECT count(*) FROM cf.audit_logs WHERE zone_name = NULL;
SELECT count(*) FROM cf.audit_logs WHERE action_type = ANY ('{}');
SELECT count(*) FROM cf.audit_logs WHERE action_type = ANY ('{CREATE,NULL}');
\! python3 $MOCKCTL log | sed "$DATES"
-- ... and are left out of an array that has others
SELECT count(*) FROM cf.audit_logs WHERE action_type IN ('CREATE', NULL, 'delete');
\! python3 $MOCKCTL log | sed "$DATES"

--
-- <> and NOT IN: the NAME.not twin, once per value.  The API keeps the
-- events without the field, which SQL's <> does not: rechecked (Filter).
--
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM cf.audit_logs WHERE action_type <> 'update' AND actor_context NOT IN ('dash', 'api_key');
SELECT id, action_type, actor_context, resource_type FROM cf.audit_logs
 WHERE action_type <> 'update' AND actor_context NOT IN ('dash', 'api_key');
\! python3 $MOCKCTL log | sed "$DATES"
-- the system's events have no actor context: the API gives them, the
-- recheck drops them
SELECT count(*) AS system_events FROM cf.audit_logs WHERE actor_type = 'system';
SELECT count(*) FROM cf.audit_logs WHERE actor_type = 'system' AND actor_context <> 'dash';
\! python3 $MOCKCTL log | sed "$DATES"
-- several <> on one column all go; a value the API cannot take excludes
-- nothing and is not sent; NOT IN with a NULL is never true: no call
SELECT count(*) FROM cf.audit_logs WHERE action_type <> 'update' AND action_type <> 'delete';
SELECT count(*) FROM cf.audit_logs WHERE action_type <> 'UPDATE';
SELECT count(*) FROM cf.audit_logs WHERE action_type NOT IN ('update', NULL);
\! python3 $MOCKCTL log | sed "$DATES"

--
-- ORDER BY time: the API's direction, no Sort.
--
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM cf.audit_logs WHERE resource_product = 'iam' ORDER BY time DESC;
SELECT id, action_type, resource_type FROM cf.audit_logs
 WHERE resource_product = 'iam' ORDER BY time DESC;
\! python3 $MOCKCTL log | sed "$DATES"
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM cf.audit_logs WHERE resource_product = 'iam' ORDER BY time;
SELECT id, action_type, resource_type FROM cf.audit_logs
 WHERE resource_product = 'iam' ORDER BY time;
\! python3 $MOCKCTL log | sed "$DATES"

--
-- LIMIT: the page size (limit), when every qual is the API's exactly.
--
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM cf.audit_logs ORDER BY time DESC LIMIT 3;
SELECT id, action_type, resource_type FROM cf.audit_logs ORDER BY time DESC LIMIT 3;
SELECT id FROM cf.audit_logs WHERE action_type = 'create' ORDER BY time LIMIT 2 OFFSET 3;
\! python3 $MOCKCTL log | sed "$DATES"
-- with a qual rechecked locally (here the time range) the API's rows may not
-- all count: a LIMIT does not shrink the page
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM cf.audit_logs WHERE time > now() - interval '30 days' ORDER BY time DESC LIMIT 3;

--
-- A prepared statement's generic plan: the values are its parameters,
-- evaluated when the scan starts.
--
SET plan_cache_mode = force_generic_plan;
PREPARE q(text[], timestamptz) AS
  SELECT id, action_type FROM cf.audit_logs WHERE action_type = ANY ($1) AND time >= $2;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE q('{delete}', now() - interval '10 days');
EXECUTE q('{delete}', now() - interval '10 days');
EXECUTE q('{update}', now() - interval '10 days');
SELECT format('s/since=%s&/since={UTC date of now() - 10 days}\&/; %s',
              to_char((now() - interval '10 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
              :'dates') AS range_dates \gset
\setenv RANGE_DATES :range_dates
\! python3 $MOCKCTL log | sed "$RANGE_DATES"
DEALLOCATE q;
RESET plan_cache_mode;

--
-- Paging by cursor: each answer's result_info.cursor is sent as cursor= for
-- the next page, until an answer has none.  2500 events: three pages of at
-- most 1000, one after the other.
--
\! python3 $MOCKCTL reset --audit-events 2500
SELECT count(*), count(DISTINCT id) FROM cf.audit_logs;
\! python3 $MOCKCTL log | sed "$DATES"
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT id FROM cf.audit_logs WHERE action_type <> 'view';
\! python3 $MOCKCTL log | sed "$DATES"
-- a LIMIT beyond one page: 1000, then the next page as far as needed
SELECT count(*) FROM (SELECT id FROM cf.audit_logs ORDER BY time LIMIT 1500) s;
\! python3 $MOCKCTL log | sed "$DATES"
-- cfiam.max_requests protects the account as for any scan (errors here ask
-- for a constant range, whose dates in the messages stay the same)
SET cfiam.max_requests = 2;
SELECT count(*) FROM cf.audit_logs WHERE time BETWEEN '2001-01-01 00:00+00' AND '2098-12-31 00:00+00';
RESET cfiam.max_requests;
\! python3 $MOCKCTL log

-- count(*) is never pushed down: the API tells no total (result_info.count
-- is the events of one answer, as a string)
ALTER FOREIGN TABLE cf.audit_logs OPTIONS (ADD count_pushdown 'true');
EXPLAIN (COSTS OFF) SELECT count(*) FROM cf.audit_logs;
ALTER FOREIGN TABLE cf.audit_logs OPTIONS (DROP count_pushdown);

--
-- An API that answers a cursor it gave before would be read without end:
-- the listing stops with an error.  After a reset the mock's first cursor is
-- the same again: page 2 is made to answer page 1's cursor.
--
\! python3 $MOCKCTL reset --audit-events 2500
SELECT id FROM cf.audit_logs LIMIT 1001 \g /dev/null
\set cursor1 `python3 $MOCKCTL log | sed -n 's/.*&cursor=//p'`
\set fault_value '"' :cursor1 '"'
\setenv FAULT_VALUE :fault_value
\! python3 $MOCKCTL reset --audit-events 2500
\! python3 $MOCKCTL fault envelope --field result_info.cursor --value "$FAULT_VALUE" --match cursor=
SELECT count(*) FROM cf.audit_logs WHERE time BETWEEN '2001-01-01 00:00+00' AND '2098-12-31 00:00+00';
\echo :LAST_ERROR_SQLSTATE
\! python3 $MOCKCTL log
-- a cursor that is not a string is no cursor either; an empty one ends paging
\! python3 $MOCKCTL fault envelope --field result_info.cursor --value 42
SELECT count(*) FROM cf.audit_logs WHERE time BETWEEN '2001-01-01 00:00+00' AND '2098-12-31 00:00+00';
\echo :LAST_ERROR_SQLSTATE
\! python3 $MOCKCTL fault envelope --field result_info.cursor --value '""'
SELECT count(*) FROM cf.audit_logs;
\! python3 $MOCKCTL log | sed "$DATES"

--
-- Wrong field types: a JSON string where the integer is, a number where the
-- time is.  The column is named.
--
\! python3 $MOCKCTL reset
\! python3 $MOCKCTL fault patch --field raw.status_code --value '"200"'
SELECT id, raw_status_code FROM cf.audit_logs;
\echo :LAST_ERROR_SQLSTATE
\! python3 $MOCKCTL fault patch --field raw.status_code --value '2.5'
SELECT id, raw_status_code FROM cf.audit_logs;
\! python3 $MOCKCTL fault patch --field action.time --value '1733400000'
SELECT id, time FROM cf.audit_logs;
-- a column the query does not read is not converted
\! python3 $MOCKCTL fault patch --field raw.status_code --value '"200"'
SELECT count(*) FROM cf.audit_logs;
\! python3 $MOCKCTL log | sed "$DATES"

--
-- The audit log's errors carry a message and no code.
--
CREATE FOREIGN TABLE cf.other_audit_logs (id text, time timestamptz)
  SERVER cloudflare
  OPTIONS (resource 'audit_logs', account_id 'ffffffffffffffffffffffffffffffff');
SELECT id FROM cf.other_audit_logs
 WHERE time BETWEEN '2001-01-01 00:00+00' AND '2098-12-31 00:00+00';
\echo :LAST_ERROR_SQLSTATE
DROP FOREIGN TABLE cf.other_audit_logs;
\! python3 $MOCKCTL fault raw --status 400 --value '{"success": false, "errors": [{"message": "Invalid value for parameter since"}]}'
SELECT id FROM cf.audit_logs WHERE time BETWEEN '2001-01-01 00:00+00' AND '2098-12-31 00:00+00';
\echo :LAST_ERROR_SQLSTATE
\! python3 $MOCKCTL log

--
-- Read-only; ANALYZE cannot size it (no total) and skips it.
--
INSERT INTO cf.audit_logs (id) VALUES ('x');
UPDATE cf.audit_logs SET action_type = 'view';
DELETE FROM cf.audit_logs;
ANALYZE cf.audit_logs;
\! python3 $MOCKCTL log | sed "$DATES"

--
-- A change made through cfiam is in the audit log: a member added to a group
-- is found by the query of the documentation.
--
SELECT id AS new_member FROM cf.account_members
 WHERE id NOT IN (SELECT id FROM cf.user_group_members
                   WHERE user_group_id = '0362cbd6079cb9a6ce7ecd88fde2537e')
 ORDER BY email LIMIT 1 \gset
\! python3 $MOCKCTL clear-log
INSERT INTO cf.user_group_members (user_group_id, id)
VALUES ('0362cbd6079cb9a6ce7ecd88fde2537e', :'new_member');
SELECT format('s/since=%s&/since={UTC date of now() - 1 hour}\&/; %s',
              to_char((now() - interval '1 hour') AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
              :'dates') AS range_dates \gset
\setenv RANGE_DATES :range_dates
EXPLAIN (VERBOSE, COSTS OFF)
SELECT time, actor_email, action_type, resource_type, resource_id
  FROM cf.audit_logs
 WHERE time > now() - interval '1 hour' AND resource_type = 'user_group_member'
 ORDER BY time DESC;
SELECT time > now() - interval '1 minute' AS just_now, actor_email, actor_token_name,
       action_type, resource_type, resource_id = :'new_member' AS the_new_member,
       raw_method, raw_uri, resource_request
  FROM cf.audit_logs
 WHERE time > now() - interval '1 hour' AND resource_type = 'user_group_member'
 ORDER BY time DESC;
\! python3 $MOCKCTL log | sed "$RANGE_DATES"
