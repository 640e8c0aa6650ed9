--
-- prepared: pushdown keeps working for prepared statements, generic plans,
-- PL/pgSQL and subplan parameters.  The values are known only at run time:
-- EXPLAIN shows them as {$n}, the mock's log shows what was really sent.
--
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
\! python3 $MOCKCTL reset --account-members 12

--
-- id = $1, executed 10 times with different ids.  The first 5 executions use
-- custom plans; from the 6th on the plan cache uses the generic plan, where
-- the id is a Param evaluated when the scan starts.  Each execution must be
-- exactly one GET by id, and nothing else.
--
PREPARE q(text) AS SELECT id, email, status FROM cf.account_members WHERE id = $1;
EXECUTE q('181976eb9ba5a68cf95476bfbeb6cf41');
\! python3 $MOCKCTL log
EXECUTE q('6bdb09137b6435a251806007ed22f1a9');
\! python3 $MOCKCTL log
EXECUTE q('271f662a2ea3a892074c080ff9d0ff11');
\! python3 $MOCKCTL log
EXECUTE q('5aa38b0f1986549cba9b4c1e9f276f3b');
\! python3 $MOCKCTL log
EXECUTE q('f017c1fa3da9eb0c63fb47a1af18c0e6');
\! python3 $MOCKCTL log
EXECUTE q('28f34700953a946880106d856a190121');
\! python3 $MOCKCTL log
EXECUTE q('d7259787dbad87599f890682d559148c');
\! python3 $MOCKCTL log
EXECUTE q('80c726cb81f45f5a4aa086bcdfa126d9');
\! python3 $MOCKCTL log
EXECUTE q('5a14769468312ebcb6128981f2d1b4a7');
\! python3 $MOCKCTL log
EXECUTE q('4632c9de62d798baa296f10cdac3e746');
\! python3 $MOCKCTL log
-- the generic plan is in use now: the call names the parameter
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE q('73c0d9a94203460e9d23139aa3339082');
SELECT name, generic_plans > 0 AS used_generic, custom_plans FROM pg_prepared_statements;
-- an unknown id (404: no rows, one call), a malformed one and NULL (no call)
EXECUTE q('ffffffffffffffffffffffffffffffff');
EXECUTE q('../../zones');
EXECUTE q(NULL);
\! python3 $MOCKCTL log
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE q('a81bac5f30dd25cf21215e9525589f5c');
\! python3 $MOCKCTL log

-- force_custom_plan: the value is a constant, shown as sent
SET plan_cache_mode = force_custom_plan;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE q('73c0d9a94203460e9d23139aa3339082');
EXECUTE q('73c0d9a94203460e9d23139aa3339082');
\! python3 $MOCKCTL log

-- force_generic_plan, on a freshly prepared statement: generic from the start
SET plan_cache_mode = force_generic_plan;
DEALLOCATE q;
PREPARE q(text) AS SELECT id, email, status FROM cf.account_members WHERE id = $1;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE q('73c0d9a94203460e9d23139aa3339082');
EXECUTE q('73c0d9a94203460e9d23139aa3339082');
\! python3 $MOCKCTL log
EXECUTE q('a81bac5f30dd25cf21215e9525589f5c');
\! python3 $MOCKCTL log
EXECUTE q('181976eb9ba5a68cf95476bfbeb6cf41');
\! python3 $MOCKCTL log
EXECUTE q('ffffffffffffffffffffffffffffffff');
\! python3 $MOCKCTL log
EXECUTE q('not-an-id');
\! python3 $MOCKCTL log
EXECUTE q('6bdb09137b6435a251806007ed22f1a9');
\! python3 $MOCKCTL log
SELECT name, generic_plans, custom_plans FROM pg_prepared_statements;
DEALLOCATE q;

--
-- id = ANY($1) with a text[] parameter: one GET per distinct valid id.
--
PREPARE qa(text[]) AS
  SELECT id, email FROM cf.account_members WHERE id = ANY ($1) ORDER BY email;
EXPLAIN (VERBOSE, COSTS OFF)
EXECUTE qa(ARRAY['181976eb9ba5a68cf95476bfbeb6cf41']);
EXECUTE qa(ARRAY['181976eb9ba5a68cf95476bfbeb6cf41', '6bdb09137b6435a251806007ed22f1a9',
                 '181976eb9ba5a68cf95476bfbeb6cf41', NULL, '../x']);
\! python3 $MOCKCTL log
EXECUTE qa(ARRAY['d7259787dbad87599f890682d559148c', 'ffffffffffffffffffffffffffffffff']);
\! python3 $MOCKCTL log
EXECUTE qa('{}');
EXECUTE qa(NULL);
\! python3 $MOCKCTL log
DEALLOCATE qa;

--
-- status = $1: ?status={$1}; a value outside the API's enum is no rows and no
-- call, decided at run time.
--
PREPARE qs(text) AS
  SELECT email FROM cf.account_members WHERE status = $1 ORDER BY email;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE qs('pending');
EXECUTE qs('pending');
\! python3 $MOCKCTL log
EXECUTE qs('rejected');
\! python3 $MOCKCTL log
EXECUTE qs('bogus');
EXECUTE qs(NULL);
\! python3 $MOCKCTL log
EXECUTE qs('accepted');
\! python3 $MOCKCTL log
DEALLOCATE qs;

--
-- LIMIT $1: the page size follows the parameter's value at run time (EXPLAIN
-- of a generic plan shows the maximum, 50).
--
PREPARE ql(bigint) AS SELECT email FROM cf.account_members LIMIT $1;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE ql(7);
EXECUTE ql(7);
\! python3 $MOCKCTL log
EXECUTE ql(2);
\! python3 $MOCKCTL log
EXECUTE ql(100);
\! python3 $MOCKCTL log
-- LIMIT NULL is no limit
SELECT count(*) FROM (SELECT 1 FROM cf.account_members LIMIT NULL) s;
\! python3 $MOCKCTL log
DEALLOCATE ql;
-- int parameters (the usual type of a LIMIT variable): in a generic plan the
-- LIMIT is the expression int8($1), evaluated at run time like a bare Param,
-- so LIMIT 7 OFFSET 1 still asks for 8 rows a page
PREPARE ql4(int, int) AS SELECT email FROM cf.account_members LIMIT $1 OFFSET $2;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE ql4(7, 1);
EXECUTE ql4(7, 1);
\! python3 $MOCKCTL log
DEALLOCATE ql4;
-- the same parameters under custom plans: constants
SET plan_cache_mode = force_custom_plan;
PREPARE ql4(int, int) AS SELECT email FROM cf.account_members LIMIT $1 OFFSET $2;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE ql4(7, 1);
EXECUTE ql4(7, 1);
\! python3 $MOCKCTL log
DEALLOCATE ql4;
RESET plan_cache_mode;

--
-- PL/pgSQL: a loop runs the same query with a variable; after 5 runs PL/pgSQL
-- uses the generic plan.  One GET per id, nothing else.
--
CREATE FUNCTION public.member_emails(ids text[]) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
  member_id text;
  member_email text;
BEGIN
  FOREACH member_id IN ARRAY ids LOOP
    SELECT email INTO member_email FROM cf.account_members WHERE id = member_id;
    RETURN NEXT coalesce(member_email, '(none)');
  END LOOP;
END
$$;
SELECT * FROM public.member_emails(ARRAY[
  '181976eb9ba5a68cf95476bfbeb6cf41', '6bdb09137b6435a251806007ed22f1a9',
  '271f662a2ea3a892074c080ff9d0ff11', '5aa38b0f1986549cba9b4c1e9f276f3b',
  'f017c1fa3da9eb0c63fb47a1af18c0e6', '28f34700953a946880106d856a190121',
  'd7259787dbad87599f890682d559148c', 'ffffffffffffffffffffffffffffffff',
  'bad id', '80c726cb81f45f5a4aa086bcdfa126d9', '5a14769468312ebcb6128981f2d1b4a7',
  '4632c9de62d798baa296f10cdac3e746']);
\! python3 $MOCKCTL log
-- the same with every plan generic
SET plan_cache_mode = force_generic_plan;
SELECT * FROM public.member_emails(ARRAY[
  '73c0d9a94203460e9d23139aa3339082', 'a81bac5f30dd25cf21215e9525589f5c']);
\! python3 $MOCKCTL log
RESET plan_cache_mode;

-- RETURN QUERY with variables for a filter and a limit
CREATE FUNCTION public.members_by_status(st text, n bigint) RETURNS SETOF text
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY SELECT email FROM cf.account_members WHERE status = st LIMIT n;
END
$$;
SELECT * FROM public.members_by_status('pending', 10);
\! python3 $MOCKCTL log
SELECT count(*) FROM public.members_by_status('accepted', 6);
\! python3 $MOCKCTL log
SELECT * FROM public.members_by_status('nonsense', 10);
\! python3 $MOCKCTL log
-- and with the function's plan generic
SET plan_cache_mode = force_generic_plan;
SELECT count(*) FROM public.members_by_status('accepted', 8);
\! python3 $MOCKCTL log
SELECT * FROM public.members_by_status('pending', 1);
\! python3 $MOCKCTL log
RESET plan_cache_mode;

--
-- A correlated subquery: the outer value is a subplan parameter, one GET per
-- outer row (none for a value that is not an id).
--
EXPLAIN (VERBOSE, COSTS OFF)
SELECT x.id, (SELECT email FROM cf.account_members m WHERE m.id = x.id)
  FROM (VALUES ('181976eb9ba5a68cf95476bfbeb6cf41'), ('zz'),
               ('6bdb09137b6435a251806007ed22f1a9')) x(id);
SELECT x.id, (SELECT email FROM cf.account_members m WHERE m.id = x.id)
  FROM (VALUES ('181976eb9ba5a68cf95476bfbeb6cf41'), ('zz'),
               ('6bdb09137b6435a251806007ed22f1a9')) x(id);
\! python3 $MOCKCTL log

DROP FUNCTION public.member_emails(text[]);
DROP FUNCTION public.members_by_status(text, bigint);
