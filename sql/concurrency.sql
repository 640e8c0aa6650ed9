--
-- concurrency: pages after page 1, GETs of id = ANY(...) and the listings of
-- a fan-out over groups are fetched max_concurrency at a time on a curl multi
-- handle; rows still reach the executor in the order a sequential scan gives.
--
-- The fixture's server "cloudflare" has max_concurrency 1 (one request at a
-- time, as before); this suite adds a server "concurrent" with
-- max_concurrency 4 (the default is 12; 4 keeps the connection counts of
-- HTTP/1.1 small) and compares the two.  Concurrent requests reach the mock
-- in any order, so its log is sorted here.
--
-- The output is the same over every transport of test/run-tests.sh: the
-- connection counts are bounds, as over HTTP/2 the requests in flight share
-- one connection, and over HTTP/1.1 they open up to max_concurrency.
--
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
SET client_min_messages = warning;
DROP SERVER IF EXISTS concurrent CASCADE;
CREATE SERVER concurrent FOREIGN DATA WRAPPER cfiam
  OPTIONS (account_id '0123456789abcdef0123456789abcdef', api_url :'api_url',
           count_pushdown 'false', max_retries '0');
\set server concurrent
\i :abs_srcdir/test/use_transport.sql
CREATE USER MAPPING FOR CURRENT_USER SERVER concurrent
  OPTIONS (api_token 'cfiam-test-token');
DROP SCHEMA IF EXISTS cfc CASCADE;
CREATE SCHEMA cfc;
IMPORT FOREIGN SCHEMA cfiam FROM SERVER concurrent INTO cfc;
RESET client_min_messages;

-- API Requests, API Pages and API Connections of a query, from EXPLAIN ANALYZE
CREATE FUNCTION public.api_calls(query text,
                                 OUT requests int, OUT pages int, OUT connections int)
LANGUAGE plpgsql AS $$
DECLARE
  plan json;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || query
    INTO plan;
  plan := plan -> 0 -> 'Plan';
  WHILE plan ->> 'Node Type' <> 'Foreign Scan' LOOP
    plan := plan -> 'Plans' -> 0;
  END LOOP;
  requests := plan ->> 'API Requests';
  pages := plan ->> 'API Pages';
  connections := plan ->> 'API Connections';
END
$$;

--
-- The option: 1 to 16, default 12
--
ALTER SERVER concurrent OPTIONS (ADD max_concurrency '0');
ALTER SERVER concurrent OPTIONS (ADD max_concurrency '17');
ALTER SERVER concurrent OPTIONS (ADD max_concurrency 'four');
ALTER SERVER concurrent OPTIONS (ADD max_concurrency '16');
ALTER SERVER concurrent OPTIONS (DROP max_concurrency);
CREATE FOREIGN TABLE public.bad (id text) SERVER concurrent
  OPTIONS (resource 'roles', max_concurrency '2');
ALTER SERVER concurrent OPTIONS (ADD max_concurrency '4');

--
-- A paged listing: page 1 alone, then pages 2..25 four at a time
--
\! python3 $MOCKCTL reset --account-members 1234 --user-groups 0
-- (how many of the four new connections are opened at once varies a little
-- with timing: a connection freed early is reused)
SELECT requests, pages, connections BETWEEN 1 AND 4 AS one_to_four
  FROM public.api_calls('SELECT * FROM cfc.account_members');
\! python3 $MOCKCTL log | LC_ALL=C sort
-- the same rows in the same order as one request at a time
SELECT (SELECT array_agg(id) FROM cf.account_members) =
       (SELECT array_agg(id) FROM cfc.account_members) AS same_order,
       (SELECT count(DISTINCT id) FROM cfc.account_members) AS distinct_ids;
\! python3 $MOCKCTL count
-- the API's order across page boundaries, as sent
SELECT email FROM cfc.account_members ORDER BY email OFFSET 48 LIMIT 4;
\! python3 $MOCKCTL log | LC_ALL=C sort
-- a LIMIT caps the pages fetched ahead: 120 rows at 50 a page is 3 pages
SELECT count(*) FROM (SELECT id FROM cfc.account_members LIMIT 120) s;
\! python3 $MOCKCTL log | LC_ALL=C sort
-- a LIMIT below the page size: one small page
SELECT count(*) FROM (SELECT id FROM cfc.account_members LIMIT 7) s;
\! python3 $MOCKCTL log | LC_ALL=C sort
-- exactly 100 rows: pages 1 and 2, no empty page 3
\! python3 $MOCKCTL reset --account-members 100 --user-groups 0
SELECT count(*) FROM cfc.account_members;
\! python3 $MOCKCTL log | LC_ALL=C sort
-- a filtered listing pages over the subset (total_count of the subset)
\! python3 $MOCKCTL reset --user-groups 1300 --members-per-group 0 --account-members 0
SELECT count(*), count(DISTINCT id) FROM cfc.user_groups;
SELECT count(*) FROM cfc.user_groups WHERE name LIKE '%Zürich%';
\! python3 $MOCKCTL log | LC_ALL=C sort

--
-- Connections: kept alive across pages and statements.  With four requests
-- in flight over HTTP/1.1 at most four connections are opened, once (over
-- HTTP/2 one carries them all); the next statement opens none.
--
\! python3 $MOCKCTL reset --account-members 1234 --user-groups 0
SELECT requests, pages, connections <= 4 AS at_most_four
  FROM public.api_calls('SELECT * FROM cfc.account_members');
SELECT * FROM public.api_calls('SELECT * FROM cfc.account_members');
SELECT * FROM public.api_calls('SELECT * FROM cfc.account_members WHERE status = ''pending''');
SELECT * FROM public.api_calls('SELECT * FROM cf.account_members');
\! python3 $MOCKCTL clear-log

--
-- With 200 ms of latency a 5-page listing takes 2 round trips (page 1, then
-- pages 2-5 together), not 5 as one request at a time does.
--
\! python3 $MOCKCTL reset --account-members 250 --user-groups 0
\! python3 $MOCKCTL latency 200
DO $$
DECLARE
  t0 timestamptz;
  concurrent interval;
  sequential interval;
BEGIN
  t0 := clock_timestamp();
  PERFORM count(*) FROM cfc.account_members;
  concurrent := clock_timestamp() - t0;
  t0 := clock_timestamp();
  PERFORM count(*) FROM cf.account_members;
  sequential := clock_timestamp() - t0;
  RAISE NOTICE 'concurrent: 2 round trips (>= 0.4 s, < 0.9 s): %, sequential: 5 round trips (>= 1 s): %',
    concurrent >= interval '0.4 s' AND concurrent < interval '0.9 s',
    sequential >= interval '1 s';
END
$$;
\! python3 $MOCKCTL latency 0
\! python3 $MOCKCTL log | LC_ALL=C sort

--
-- A failure in page 3 stops the other pages of its window; the error is
-- page 3's and the session goes on.  (Which of pages 2, 4 and 5 reached
-- the mock before they were stopped varies: the log is not shown.)
--
\! python3 $MOCKCTL fault status --status 500 --match 'page=3&'
SELECT count(*) FROM cfc.account_members;
\echo :SQLSTATE
\! python3 $MOCKCTL clear-log
SELECT 1;
SELECT count(*) FROM cfc.account_members;
\! python3 $MOCKCTL log | LC_ALL=C sort
-- a transport failure in page 4 likewise: the connection drops, again and
-- again (curl itself resends a few times on reused connections)
\! python3 $MOCKCTL fault reset --count 10 --match 'page=4&'
-- (through the TLS front the dropped connection takes every stream on it,
-- so which page's failure is reported first varies: the code does not)
\set VERBOSITY sqlstate
SELECT count(*) FROM cfc.account_members;
\set VERBOSITY default
\echo :SQLSTATE
\! python3 $MOCKCTL clear-faults
\! python3 $MOCKCTL clear-log
SELECT count(*) FROM cfc.account_members;
\! python3 $MOCKCTL log | LC_ALL=C sort

--
-- statement_timeout while page 2 of a window is slow: the cancel error
-- (57014) within a second, and the handles work for the next statement.
--
\! python3 $MOCKCTL fault delay --delay-ms 5000 --match 'page=2&'
SET statement_timeout = '500ms';
DO $$
BEGIN
  PERFORM count(*) FROM cfc.account_members;
  RAISE NOTICE 'not canceled';
EXCEPTION WHEN query_canceled THEN
  RAISE NOTICE 'canceled after less than 1.5 s: %',
    clock_timestamp() - statement_timestamp() < interval '1.5 s';
END
$$;
\! python3 $MOCKCTL fault delay --delay-ms 5000 --match 'page=2&'
SELECT count(*) FROM cfc.account_members;
\echo :SQLSTATE
RESET statement_timeout;
SELECT 1;
\! python3 $MOCKCTL clear-log
SELECT count(*) FROM cfc.account_members;
\! python3 $MOCKCTL log | LC_ALL=C sort

--
-- id = ANY(...): the GETs four at a time; rows in the order of the ids
-- (duplicates and non-ids dropped, a 404 is no row)
--
\! python3 $MOCKCTL reset --user-groups 12 --members-per-group 600 --account-members 600
SELECT array_agg(id) AS some_ids FROM (SELECT id FROM cf.user_groups LIMIT 6) s \gset
SELECT (:'some_ids'::text[] || '{00000000000000000000000000000000}'::text[])[3:7]
       || (:'some_ids'::text[])[1:2] AS ids \gset
SELECT (SELECT array_agg(id) FROM cfc.user_groups WHERE id = ANY(:'ids')) =
       (SELECT array_agg(id) FROM cf.user_groups WHERE id = ANY(:'ids')) AS same_order;
\! python3 $MOCKCTL clear-log
SELECT count(*) FROM cfc.user_groups WHERE id = ANY(:'ids' || '{nope}'::text[] || :'ids');
\! python3 $MOCKCTL log | LC_ALL=C sort
-- keep-alive: at most one new connection (curl may replace one the mock closed)
SELECT requests, pages, connections <= 1 AS reused FROM public.api_calls(format('SELECT * FROM cfc.user_groups WHERE id = ANY(%L)', :'ids'));

--
-- The fan-out of group members: page 1 of four groups' listings at a time;
-- a group with more pages (600 members: 2 pages) still pages.  Groups come
-- in the order of the groups listing, members in each group's order.
--
SELECT (SELECT array_agg(user_group_id || '/' || id) FROM cfc.user_group_members) =
       (SELECT array_agg(user_group_id || '/' || id) FROM cf.user_group_members) AS same_order;
\! python3 $MOCKCTL clear-log
SELECT count(*), count(DISTINCT user_group_id) FROM cfc.user_group_members;
\! python3 $MOCKCTL log | sed -E 's/user_groups\/[0-9a-f]{32}/user_groups\/{id}/' | LC_ALL=C sort | uniq -c
-- keep-alive: at most one new connection (curl may replace one the mock closed)
SELECT requests, pages, connections <= 1 AS reused FROM public.api_calls('SELECT * FROM cfc.user_group_members');
-- parent = ANY(...) likewise
SELECT (SELECT array_agg(user_group_id || '/' || id) FROM cfc.user_group_members
          WHERE user_group_id = ANY(:'some_ids')) =
       (SELECT array_agg(user_group_id || '/' || id) FROM cf.user_group_members
          WHERE user_group_id = ANY(:'some_ids')) AS same_order;
\! python3 $MOCKCTL clear-log
-- keep-alive: at most one new connection (curl may replace one the mock closed)
SELECT requests, pages, connections <= 1 AS reused FROM public.api_calls(format('SELECT * FROM cfc.user_group_members WHERE user_group_id = ANY(%L)', :'some_ids'));
\! python3 $MOCKCTL log | sed -E 's/user_groups\/[0-9a-f]{32}/user_groups\/{id}/' | LC_ALL=C sort | uniq -c

--
-- max_concurrency 1 is one request at a time, in order (unsorted log)
--
ALTER SERVER concurrent OPTIONS (SET max_concurrency '1');
\! python3 $MOCKCTL reset --account-members 160 --user-groups 0
SELECT count(*) FROM cfc.account_members;
\! python3 $MOCKCTL log
ALTER SERVER concurrent OPTIONS (SET max_concurrency '16');
SELECT requests, pages FROM public.api_calls('SELECT * FROM cfc.account_members');
\! python3 $MOCKCTL log | LC_ALL=C sort

DROP FUNCTION public.api_calls(text);
SET client_min_messages = warning;
DROP SERVER concurrent CASCADE;
RESET client_min_messages;
