--
-- pace: a user mapping's requests start at most max_requests_per_second a
-- second (server option, default 160; 0 is not paced), after a burst of at
-- most 16, one request at a time as well as in batches.  So no window of
-- one second holds more than max_requests_per_second + 16 starts.
--
-- Asserted from the mock's log, which notes when each request arrived:
-- `mockctl.py starts` prints the requests, the most of them within any
-- second (first and last included) and the milliseconds from the first to
-- the last.  The bounds below leave the pace's own margin (one interval, 50
-- ms at 20 a second) and more to the time a request takes to reach the
-- mock, so the output is the same over every transport; and a request
-- before each measured scan opens its connection (a changed server gets new
-- ones), so that no handshake delays the first request measured.
--
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
SET client_min_messages = warning;
DROP SERVER IF EXISTS paced CASCADE;
CREATE SERVER paced FOREIGN DATA WRAPPER cfiam
  OPTIONS (account_id '0123456789abcdef0123456789abcdef', api_url :'api_url',
           count_pushdown 'false', max_retries '0');
\set server paced
\i :abs_srcdir/test/use_transport.sql
CREATE USER MAPPING FOR CURRENT_USER SERVER paced
  OPTIONS (api_token 'cfiam-test-token');
DROP SCHEMA IF EXISTS cfp CASCADE;
CREATE SCHEMA cfp;
IMPORT FOREIGN SCHEMA cfiam FROM SERVER paced INTO cfp;
RESET client_min_messages;

--
-- The option: a whole number from 0 to 10000, on the server only
--
ALTER SERVER paced OPTIONS (ADD max_requests_per_second '-1');
ALTER SERVER paced OPTIONS (ADD max_requests_per_second '10001');
ALTER SERVER paced OPTIONS (ADD max_requests_per_second 'fast');
ALTER SERVER paced OPTIONS (ADD max_requests_per_second '2.5');
ALTER SERVER paced OPTIONS (ADD max_requests_per_second '');
ALTER SERVER paced OPTIONS (ADD max_requests_per_second '10000');
ALTER SERVER paced OPTIONS (SET max_requests_per_second '0');
ALTER SERVER paced OPTIONS (DROP max_requests_per_second);
CREATE FOREIGN TABLE public.bad (id text) SERVER paced
  OPTIONS (resource 'roles', max_requests_per_second '20');
ALTER USER MAPPING FOR CURRENT_USER SERVER paced
  OPTIONS (ADD max_requests_per_second '20');
-- not a privilege: a role that owns a server sets it like max_concurrency
CREATE ROLE cfiam_pace_owner;
GRANT USAGE ON FOREIGN DATA WRAPPER cfiam TO cfiam_pace_owner;
SET ROLE cfiam_pace_owner;
CREATE SERVER pace_own FOREIGN DATA WRAPPER cfiam
  OPTIONS (account_id '0123456789abcdef0123456789abcdef', max_requests_per_second '50');
ALTER SERVER pace_own OPTIONS (SET max_requests_per_second '0');
DROP SERVER pace_own;
RESET ROLE;
REVOKE USAGE ON FOREIGN DATA WRAPPER cfiam FROM cfiam_pace_owner;
DROP ROLE cfiam_pace_owner;

--
-- The default, 160 a second, one request at a time: page 1, then pages
-- 2..60 of 3,000 members.  16 start at once, then one every 6.25 ms: the
-- 60th at least (60 - 16) / 160 s = 275 ms after the first.
--
\! python3 $MOCKCTL reset --account-members 3000 --user-groups 0
ALTER SERVER paced OPTIONS (ADD max_concurrency '1');
SELECT count(*) FROM cfp.resource_groups;
\! python3 $MOCKCTL clear-log
SELECT count(*) FROM cfp.account_members;
\set starts `python3 $MOCKCTL starts`
SELECT split_part(:'starts', ' ', 1)::int AS requests,
       split_part(:'starts', ' ', 2)::int <= 160 + 16 AS at_most_176_in_any_second,
       split_part(:'starts', ' ', 3)::int >= 275 - 75 AS paced_over_0_2_s;

--
-- 20 a second, one request at a time: 16 at once, then one every 50 ms,
-- the 60th at least (60 - 16) x 50 = 2,200 ms after the first.
--
ALTER SERVER paced OPTIONS (ADD max_requests_per_second '20');
SELECT count(*) FROM cfp.resource_groups;
\! python3 $MOCKCTL clear-log
SELECT count(*) FROM cfp.account_members;
\set starts `python3 $MOCKCTL starts`
SELECT split_part(:'starts', ' ', 1)::int AS requests,
       split_part(:'starts', ' ', 2)::int <= 20 + 16 AS at_most_36_in_any_second,
       split_part(:'starts', ' ', 3)::int >= 2200 - 100 AS paced_over_2_1_s;

--
-- The same in batches, four in flight
--
ALTER SERVER paced OPTIONS (SET max_concurrency '4');
SELECT count(*) FROM cfp.resource_groups;
\! python3 $MOCKCTL clear-log
SELECT count(*) FROM cfp.account_members;
\set starts `python3 $MOCKCTL starts`
SELECT split_part(:'starts', ' ', 1)::int AS requests,
       split_part(:'starts', ' ', 2)::int <= 20 + 16 AS at_most_36_in_any_second,
       split_part(:'starts', ' ', 3)::int >= 2200 - 100 AS paced_over_2_1_s;

--
-- 0: not paced.  The 60 requests start faster than a pace of 20 allows
-- (more than 36 within a second: here all of them, at zero latency), one
-- at a time and in batches.
--
ALTER SERVER paced OPTIONS (SET max_requests_per_second '0', SET max_concurrency '1');
SELECT count(*) FROM cfp.account_members;
\set starts `python3 $MOCKCTL starts`
SELECT split_part(:'starts', ' ', 1)::int AS requests,
       split_part(:'starts', ' ', 2)::int > 20 + 16 AS more_than_36_in_a_second,
       split_part(:'starts', ' ', 3)::int < 2200 - 100 AS faster_than_2_1_s;
ALTER SERVER paced OPTIONS (SET max_concurrency '4');
SELECT count(*) FROM cfp.account_members;
\set starts `python3 $MOCKCTL starts`
SELECT split_part(:'starts', ' ', 1)::int AS requests,
       split_part(:'starts', ' ', 2)::int > 20 + 16 AS more_than_36_in_a_second,
       split_part(:'starts', ' ', 3)::int < 2200 - 100 AS faster_than_2_1_s;

--
-- Writes are paced too: 20 POSTs at 5 a second take at least
-- (20 - 16) x 200 = 800 ms.
--
\! python3 $MOCKCTL reset --account-members 3 --user-groups 0
ALTER SERVER paced OPTIONS (SET max_requests_per_second '5');
INSERT INTO cfp.user_groups (name) SELECT 'paced ' || i FROM generate_series(1, 20) i;
\set starts `python3 $MOCKCTL starts`
SELECT split_part(:'starts', ' ', 1)::int AS requests,
       split_part(:'starts', ' ', 2)::int <= 5 + 16 AS at_most_21_in_any_second,
       split_part(:'starts', ' ', 3)::int >= 800 - 100 AS paced_over_0_7_s;

SET client_min_messages = warning;
DROP SERVER paced CASCADE;
RESET client_min_messages;
