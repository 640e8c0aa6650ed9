-- budget: what a statement may spend of the account's API.
--   cfiam.max_requests: a statement that needs more is refused before the
--   excess is sent (as soon as total_count or the fan-out tells);
--   cfiam.ratelimit_reserve: Cloudflare's Ratelimit header tells what is
--   left of the window, and cfiam leaves the last requests to others;
--   cfiam_stats counts it all.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
\! python3 $MOCKCTL reset --user-groups 10 --members-per-group 3 --account-members 1000
SELECT cfiam_stats_reset();

-- the settings
SHOW cfiam.max_requests;
SHOW cfiam.ratelimit_reserve;
SET cfiam.max_requests = -1;

-- 1,000 members are 20 pages: with a budget of 5, page 1 tells and the
-- other 19 are never sent
SET cfiam.max_requests = 5;
SELECT count(email) FROM cf.account_members;
\echo :SQLSTATE
\! python3 $MOCKCTL count
-- the members of every group: the groups' listing tells 10 listings follow
SELECT count(*) FROM cf.user_group_members;
\! python3 $MOCKCTL count
-- GETs by id: the ids are known at once, refused before the first is sent
SELECT array_agg(id) AS ids FROM (SELECT id FROM cf.account_members LIMIT 5) s \gset
\! python3 $MOCKCTL clear-log
SELECT count(*) FROM cf.account_members WHERE id = ANY(:'ids'::text[] || ARRAY['0123456789abcdef0123456789abcdef']);
\! python3 $MOCKCTL count
-- within the budget, and a LIMIT that needs one page: answered
SELECT count(*) FROM cf.account_members WHERE id = ANY(:'ids');
SELECT email FROM cf.account_members ORDER BY email LIMIT 3;
\! python3 $MOCKCTL count
-- the budget is per statement: each of these is within it
SELECT count(*) FROM cf.user_groups;
SELECT count(*) FROM cf.user_groups;
-- 0 is no limit
SET cfiam.max_requests = 0;
SELECT count(email) FROM cf.account_members;
RESET cfiam.max_requests;
\! python3 $MOCKCTL clear-log

-- Cloudflare's rate limit.  The mock, like Cloudflare, has a quota per
-- window and says on every answer what is left:
--   Ratelimit: "default";r=<remaining>;t=<seconds until the window resets>
-- A malformed header is ignored: nothing is known, nothing refused.
\! python3 $MOCKCTL ratelimit --quota 100 --window 300 --header 'Ratelimit: "default";r=banana;t=-4'
SET cfiam.ratelimit_reserve = 99;
SELECT count(*) FROM cf.roles;
SELECT count(*) FROM cf.roles;
SELECT ratelimit_remaining, ratelimit_reset FROM cfiam_stats WHERE server = 'cloudflare';
-- Quota 100, 30 spent, a reserve of 50: a small question fits (69 left
-- after it), but once page 1 of a 20-page listing tells 19 more would leave
-- fewer than 50, the statement stops and says when the window resets.
\! python3 $MOCKCTL ratelimit --quota 100 --window 300 --spent 30
SET cfiam.ratelimit_reserve = 50;
\! python3 $MOCKCTL clear-log
SELECT count(*) FROM cf.roles;
SELECT ratelimit_remaining FROM cfiam_stats WHERE server = 'cloudflare';
-- (terse: the hint names the time the window resets)
\set VERBOSITY terse
SELECT count(email) FROM cf.account_members;
\echo :SQLSTATE
\set VERBOSITY default
\! python3 $MOCKCTL count
-- with a reserve of 10 it fits
SET cfiam.ratelimit_reserve = 10;
SELECT count(email) FROM cf.account_members;
SELECT ratelimit_remaining FROM cfiam_stats WHERE server = 'cloudflare';
-- A server that has heard nothing yet, and the quota spent by other
-- clients: Cloudflare answers 429 (code 10100, Retry-After the rest of the
-- window) and blocks every call; cfiam does not wait 5 minutes.
\! python3 $MOCKCTL ratelimit --quota 100 --window 300 --spent 100
CREATE SERVER other FOREIGN DATA WRAPPER cfiam
  OPTIONS (account_id '0123456789abcdef0123456789abcdef', api_url :'api_url');
\set server other
\i :abs_srcdir/test/use_transport.sql
CREATE USER MAPPING FOR CURRENT_USER SERVER other OPTIONS (api_token 'cfiam-test-token');
CREATE FOREIGN TABLE other_roles (id text, name text) SERVER other OPTIONS (resource 'roles');
\set VERBOSITY terse
SELECT count(*) FROM other_roles;
\echo :SQLSTATE
-- the block is remembered: nothing more is sent with this credential until
-- it ends, through this server or any other that uses the same key
SELECT count(*) FROM other_roles;
\echo :SQLSTATE
SELECT count(*) FROM cf.roles;
\echo :SQLSTATE
\set VERBOSITY default
\! python3 $MOCKCTL log
\! python3 $MOCKCTL ratelimit --off

-- cfiam_stats: every request, error, retry, hit and byte, per server and
-- user, and the rate limit last heard of
SELECT server, user_name, requests, errors, retries, cache_hits,
       bytes_received > 1000 AS bytes, ratelimit_remaining,
       ratelimit_reset BETWEEN now() AND now() + interval '300 s' AS resets_in_window
  FROM cfiam_stats WHERE server IN ('cloudflare', 'other') ORDER BY server;
SELECT cfiam_stats_reset();
SELECT requests, errors, retries, cache_hits, bytes_received
  FROM cfiam_stats WHERE server = 'cloudflare';
-- the window and the block are forgotten only on request (the account's
-- limits changed): one credential known
SELECT cfiam_limits_reset();
SELECT count(*) FROM cf.roles;
RESET cfiam.ratelimit_reserve;
-- not for everyone: the view names servers and users
SET client_min_messages = warning;
DROP ROLE IF EXISTS budget_reader;
RESET client_min_messages;
CREATE ROLE budget_reader;
SET ROLE budget_reader;
SELECT * FROM cfiam_stats;
SELECT cfiam_stats_reset();
SELECT cfiam_cache_clear();
RESET ROLE;
DROP ROLE budget_reader;
DROP SERVER other CASCADE;
