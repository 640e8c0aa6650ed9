-- ANALYZE: pg_class.reltuples becomes the API's total_count and a sample of
-- rows fills pg_stats, in as few requests as the API allows.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
\! python3 $MOCKCTL reset --user-groups 30 --members-per-group 4 --account-members 120 --roles 3 --permission-groups 7 --resource-groups 5
-- the planner's row estimate (EXPLAIN's rows=) of a query
CREATE FUNCTION public.plan_rows(query text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
  plan json;
BEGIN
  EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan;
  RETURN (plan->0->'Plan'->>'Plan Rows')::float8;
END $$;

-- never analyzed: reltuples is -1 and the planner has its default
SELECT relname, reltuples FROM pg_class
 WHERE relnamespace = 'cf'::regnamespace ORDER BY relname;
SELECT public.plan_rows('SELECT * FROM cf.account_members') AS account_members;

-- a paged listing: one request, page 1 at the largest page size gives
-- total_count and the sample
ANALYZE cf.account_members;
\! python3 $MOCKCTL log
SELECT reltuples FROM pg_class WHERE oid = 'cf.account_members'::regclass;
SELECT count(*) AS columns_with_stats FROM pg_stats
 WHERE schemaname = 'cf' AND tablename = 'account_members';
SELECT attname, null_frac, n_distinct FROM pg_stats
 WHERE schemaname = 'cf' AND tablename = 'account_members' AND attname IN ('id', 'status')
 ORDER BY attname;

-- user groups: one request; resource groups are not paged: one request
ANALYZE cf.user_groups, cf.resource_groups;
\! python3 $MOCKCTL log
-- group members: the groups' listing, then page 1 of each group's members
-- (1 + 30 requests; a full scan makes as many or more)
ANALYZE cf.user_group_members;
\! python3 $MOCKCTL count
SELECT relname, reltuples FROM pg_class
 WHERE relnamespace = 'cf'::regnamespace ORDER BY relname;

-- a new session knows nothing but pg_class and pg_stats: the estimates
-- are the API's counts, and pg_stats gives the selectivity of local quals
\c
SELECT public.plan_rows('SELECT * FROM cf.account_members') AS account_members,
       public.plan_rows('SELECT * FROM cf.user_groups') AS user_groups,
       public.plan_rows('SELECT * FROM cf.user_group_members') AS user_group_members,
       public.plan_rows('SELECT * FROM cf.resource_groups') AS resource_groups;
EXPLAIN SELECT * FROM cf.account_members;
SELECT public.plan_rows('SELECT * FROM cf.account_members WHERE status = ''pending''') AS pending_estimate,
       (SELECT count(*) FROM cf.account_members WHERE status = 'pending') AS pending;
\! python3 $MOCKCTL count
-- planning sent nothing; the count was one request.  A full scan of the
-- group members costs what their ANALYZE cost: 1 + 30 requests
SELECT count(*) FROM cf.user_group_members;
\! python3 $MOCKCTL count
DROP FUNCTION public.plan_rows(text);
