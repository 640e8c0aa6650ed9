--
-- aggregate: count(*) of a listing answered from result_info.total_count
-- with one request of the smallest page size the endpoint takes.
--
-- The fixture's server has count_pushdown 'false' (the other suites count
-- rows to scan every page); it is turned on here.
--
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
ALTER SERVER cloudflare OPTIONS (SET count_pushdown 'true');
\! python3 $MOCKCTL reset --account-members 1234 --user-groups 1300 --members-per-group 0 --roles 120 --permission-groups 51 --resource-groups 70

-- one request, 5 rows a page (account members, roles, permission groups
-- take 5..50), 1 for user groups (1..500)
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM cf.account_members;
SELECT count(*) FROM cf.account_members;
\! python3 $MOCKCTL log
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM cf.user_groups;
\! python3 $MOCKCTL log
SELECT (SELECT count(*) FROM cf.roles) AS roles,
       (SELECT count(*) FROM cf.permission_groups) AS permission_groups;
\! python3 $MOCKCTL log
-- the same as counting the rows one by one (1 + 25 requests)
SELECT (SELECT count(*) FROM cf.account_members) = (SELECT count(id) FROM cf.account_members) AS same;
\! python3 $MOCKCTL count
-- quals sent to the API exactly count the filtered list
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM cf.account_members WHERE status = 'pending';
SELECT count(*) FROM cf.account_members WHERE status = 'pending';
SELECT count(*) FROM cf.user_groups WHERE name = 'Security Zürich 0042';
\! python3 $MOCKCTL log
-- a value the API cannot match: 0, no request
SELECT count(*) FROM cf.account_members WHERE status = 'retired';
\! python3 $MOCKCTL log
-- count(*) with a LIMIT or ORDER BY, or twice, still pushes down
SELECT count(*) FROM cf.roles ORDER BY 1 LIMIT 1;
SELECT count(*) AS a, count(*) AS b FROM cf.permission_groups;
\! python3 $MOCKCTL log

-- not pushed down: the rows are read
-- a qual PostgreSQL checks itself (LIKE is rechecked)
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM cf.user_groups WHERE name LIKE '%Zürich%';
-- other aggregates, count(col), DISTINCT, FILTER, GROUP BY, HAVING
EXPLAIN (COSTS OFF) SELECT count(*), max(email) FROM cf.account_members;
EXPLAIN (COSTS OFF) SELECT count(id) FROM cf.account_members;
EXPLAIN (COSTS OFF) SELECT count(DISTINCT status) FROM cf.account_members;
EXPLAIN (COSTS OFF) SELECT count(*) FILTER (WHERE status = 'accepted') FROM cf.account_members;
EXPLAIN (COSTS OFF) SELECT status, count(*) FROM cf.account_members GROUP BY status;
EXPLAIN (COSTS OFF) SELECT count(*) FROM cf.account_members HAVING count(*) > 1;
-- resource groups are not paged and have no total_count
EXPLAIN (COSTS OFF) SELECT count(*) FROM cf.resource_groups;
SELECT count(*) FROM cf.resource_groups;
\! python3 $MOCKCTL log
-- a GET by id, and a fan-out over all groups, are not one listing
EXPLAIN (COSTS OFF) SELECT count(*) FROM cf.roles WHERE id = '13855ce437550996aadfbdeed6439952';
EXPLAIN (COSTS OFF) SELECT count(*) FROM cf.user_group_members;
-- one group's members: one request
\! python3 $MOCKCTL reset --user-groups 2 --members-per-group 700 --account-members 700
EXPLAIN (VERBOSE, COSTS OFF)
  SELECT count(*) FROM cf.user_group_members WHERE user_group_id = '0362cbd6079cb9a6ce7ecd88fde2537e';
SELECT count(*) FROM cf.user_group_members WHERE user_group_id = '0362cbd6079cb9a6ce7ecd88fde2537e';
\! python3 $MOCKCTL log
-- a prepared statement keeps the pushed count with a generic plan
PREPARE c(text) AS SELECT count(*) FROM cf.user_group_members WHERE user_group_id = $1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE c('0362cbd6079cb9a6ce7ecd88fde2537e');
EXECUTE c('0362cbd6079cb9a6ce7ecd88fde2537e');
EXECUTE c('0362cbd6079cb9a6ce7ecd88fde2537e');
RESET plan_cache_mode;
DEALLOCATE c;
\! python3 $MOCKCTL log

-- an answer without "result" is an error, as in any scan
\! python3 $MOCKCTL fault missing_result
SELECT count(*) FROM cf.roles;
\! python3 $MOCKCTL log
-- nor is a "result" that is not a list, however plausible total_count is
\! python3 $MOCKCTL fault envelope --field result --value '{"not": "a list"}'
SELECT count(*) FROM cf.roles;
\! python3 $MOCKCTL log

-- count_pushdown 'false' on the table (or server) reads the rows
ALTER FOREIGN TABLE cf.roles OPTIONS (ADD count_pushdown 'false');
EXPLAIN (COSTS OFF) SELECT count(*) FROM cf.roles;
SELECT count(*) FROM cf.roles;
\! python3 $MOCKCTL log
ALTER FOREIGN TABLE cf.roles OPTIONS (DROP count_pushdown);
ALTER FOREIGN TABLE cf.roles OPTIONS (ADD count_pushdown 'maybe');
ALTER SERVER cloudflare OPTIONS (SET count_pushdown 'false');
EXPLAIN (COSTS OFF) SELECT count(*) FROM cf.roles;
