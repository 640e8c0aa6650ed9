-- limits_shared: with shared_preload_libraries = 'cfiam' the pace of an API
-- host and the rate-limit window of a credential are the whole cluster's,
-- not each backend's (run only in a preloaded cluster: see
-- test/run-tests.sh).  Several backends (dblink connections to this
-- database) run their statements at the same moment:
--   - the pace: eight scans of one host, at max_requests_per_second 20,
--     start no more than 20 + 16 (the burst) requests in any second;
--   - the window: each request takes its place in the credential's window
--     before it is sent, so eight scans together never spend what
--     cfiam.ratelimit_reserve keeps, whether the window was known before
--     or not (its first request then goes alone);
--   - a 429 of the spent window (code 10100) blocks the credential for
--     every backend, role and server that uses it;
--   - cfiam.ratelimit_reserve is a superuser's setting.
-- Each is asserted on what the sessions see and on the requests the mock
-- received.  Timings are compared in SQL, so the output is deterministic.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
SELECT current_setting('shared_preload_libraries') ~ 'cfiam' AS preloaded;
SET client_min_messages = warning;
SELECT NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'dblink') AS ls_own_dblink \gset
CREATE EXTENSION IF NOT EXISTS dblink;
-- one server paced at 20 requests a second, one with the default pace;
-- both with the fixture's token, through a mapping for PUBLIC
CREATE SERVER ls_paced FOREIGN DATA WRAPPER cfiam
  OPTIONS (account_id '0123456789abcdef0123456789abcdef', api_url :'api_url',
           count_pushdown 'false', max_concurrency '4',
           max_requests_per_second '20');
\set server ls_paced
\i :abs_srcdir/test/use_transport.sql
CREATE USER MAPPING FOR PUBLIC SERVER ls_paced OPTIONS (api_token 'cfiam-test-token');
CREATE SCHEMA lsp;
IMPORT FOREIGN SCHEMA cfiam FROM SERVER ls_paced INTO lsp;
CREATE SERVER ls_window FOREIGN DATA WRAPPER cfiam
  OPTIONS (account_id '0123456789abcdef0123456789abcdef', api_url :'api_url',
           count_pushdown 'false', max_concurrency '4');
\set server ls_window
\i :abs_srcdir/test/use_transport.sql
CREATE USER MAPPING FOR PUBLIC SERVER ls_window OPTIONS (api_token 'cfiam-test-token');
CREATE SCHEMA lsw;
IMPORT FOREIGN SCHEMA cfiam FROM SERVER ls_window INTO lsw;
-- two roles that share the PUBLIC mappings, so one credential
DROP ROLE IF EXISTS lsh_alice;
DROP ROLE IF EXISTS lsh_bob;
CREATE ROLE lsh_alice LOGIN;
CREATE ROLE lsh_bob LOGIN;
GRANT USAGE ON FOREIGN SERVER ls_paced, ls_window TO lsh_alice, lsh_bob;
GRANT USAGE ON SCHEMA lsp, lsw TO lsh_alice, lsh_bob;
GRANT SELECT ON ALL TABLES IN SCHEMA lsp, lsw TO lsh_alice, lsh_bob;
RESET client_min_messages;

-- What a backend answers: the query's one value as text, or its error's
-- SQLSTATE and message, so that a refused statement is an answer too.
CREATE FUNCTION ls_try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  answer text;
BEGIN
  EXECUTE q INTO answer;
  RETURN answer;
EXCEPTION WHEN OTHERS THEN
  RETURN 'ERROR ' || SQLSTATE || ': ' || SQLERRM;
END $$;
-- The answers of backends ls1..lsN to the query each was sent
-- (dblink_send_query), each read to its end so the connection is ready
-- again.
CREATE FUNCTION ls_collect(n int) RETURNS TABLE (backend int, answer text)
LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..n LOOP
    backend := i;
    SELECT t.a INTO answer FROM dblink_get_result('ls' || i) AS t(a text);
    PERFORM FROM dblink_get_result('ls' || i) AS t(a text);
    RETURN NEXT;
  END LOOP;
END $$;
GRANT EXECUTE ON FUNCTION ls_try(text) TO lsh_alice, lsh_bob;

-- eight more backends of this database: ls1, ls3, ... as lsh_alice, ls2,
-- ls4, ... as lsh_bob
SELECT format('dbname=%s host=%s port=%s', current_database(),
              split_part(current_setting('unix_socket_directories'), ',', 1),
              current_setting('port')) AS connstr \gset
SELECT count(dblink_connect('ls' || i, :'connstr')) AS backends
  FROM generate_series(1, 8) i;
SELECT count(dblink_exec('ls' || i,
         format('SET ROLE %s', CASE WHEN i % 2 = 1 THEN 'lsh_alice' ELSE 'lsh_bob' END)))
       AS roles_set
  FROM generate_series(1, 8) i;
SELECT i AS backend, r.pid <> pg_backend_pid() AS another_backend, r.who
  FROM generate_series(1, 8) i,
       LATERAL dblink('ls' || i, 'SELECT pg_backend_pid(), current_user')
         AS r(pid int, who name)
  ORDER BY i;
SELECT count(DISTINCT r.pid) AS distinct_backends
  FROM generate_series(1, 8) i,
       LATERAL dblink('ls' || i, 'SELECT pg_backend_pid()') AS r(pid int);

--
-- The limits are the cluster's: cfiam_stats says so
--
\! python3 $MOCKCTL reset
SELECT cfiam_limits_reset() >= 0 AS forgotten;
SELECT cfiam_stats_reset();
SELECT count(*) FROM cf.roles;
SELECT DISTINCT limits FROM cfiam_stats;

--
-- 1. One pace per API host for the whole cluster.  500 members are 10
-- pages; eight backends count them at the same moment, 80 requests, four
-- at a time in each backend.  A pace of each backend's own would let all
-- 80 start within a second; the cluster's lets 16 start at once, then one
-- every 50 ms: no second holds more than 20 + 16, and the 80th starts at
-- least (80 - 16) x 50 = 3,200 ms after the first.
--
\! python3 $MOCKCTL reset --account-members 500 --user-groups 0
SELECT sum(dblink_send_query('ls' || i,
         $$SELECT ls_try('SELECT count(email) FROM lsp.account_members')$$)) AS sent
  FROM generate_series(1, 8) i;
SELECT * FROM ls_collect(8);
\set starts `python3 $MOCKCTL starts`
SELECT split_part(:'starts', ' ', 1)::int AS requests,
       split_part(:'starts', ' ', 2)::int <= 20 + 16 AS at_most_36_in_any_second,
       split_part(:'starts', ' ', 3)::int >= 3200 - 100 AS paced_over_3_1_s;

--
-- 2. The rate-limit window is reserved, not just checked.  Quota 1,000 per
-- 300 s and a reserve of 100 (the default, in every backend): with 150
-- left, 50 requests may be sent.  1,000 members are 20 pages; eight
-- backends, of two roles, count them at the same moment (160 requests
-- wanted): each request takes its place in the window before it is sent,
-- so the eight together send at most 50, and the scans that cannot finish
-- are refused (53400), never answered 429.  At most two of them can
-- finish (40 requests).
--
\! python3 $MOCKCTL reset --account-members 1000 --user-groups 0
\! python3 $MOCKCTL latency 20
SELECT DISTINCT r.reserve
  FROM generate_series(1, 8) i,
       LATERAL dblink('ls' || i, 'SHOW cfiam.ratelimit_reserve') AS r(reserve text);
-- a. the window known: one small question hears 150 left
\! python3 $MOCKCTL ratelimit --quota 1000 --window 300 --spent 849
SELECT count(*) FROM lsw.roles;
SELECT ratelimit_remaining FROM cfiam_stats
  WHERE server = 'ls_window' AND user_name = current_user;
\! python3 $MOCKCTL clear-log
SELECT sum(dblink_send_query('ls' || i,
         $$SELECT ls_try('SELECT count(email) FROM lsw.account_members')$$)) AS sent
  FROM generate_series(1, 8) i;
CREATE TEMP TABLE answers AS SELECT * FROM ls_collect(8);
SELECT count(*) FILTER (WHERE answer = '1000') <= 2 AS at_most_two_finished,
       count(*) FILTER (WHERE answer LIKE 'ERROR 53400: Cloudflare API rate limit nearly spent:%') >= 1
         AS some_refused_53400,
       count(*) FILTER (WHERE answer <> '1000' AND
                              answer NOT LIKE 'ERROR 53400: Cloudflare API rate limit nearly spent:%') = 0
         AS nothing_else
  FROM answers;
\set sent `python3 $MOCKCTL count`
SELECT split_part(:'sent', ' ', 2)::int <= 50 AS at_most_50_sent,
       split_part(:'sent', ' ', 2)::int > 0 AS some_sent;
DROP TABLE answers;
-- b. nothing known of the window: its first request goes alone, the
-- others wait for its answer; 150 left before it, so again at most 50
SELECT cfiam_limits_reset() AS windows_forgotten;
\! python3 $MOCKCTL ratelimit --quota 1000 --window 300 --spent 850
\! python3 $MOCKCTL clear-log
SELECT sum(dblink_send_query('ls' || i,
         $$SELECT ls_try('SELECT count(email) FROM lsw.account_members')$$)) AS sent
  FROM generate_series(1, 8) i;
CREATE TEMP TABLE answers AS SELECT * FROM ls_collect(8);
SELECT count(*) FILTER (WHERE answer = '1000') <= 2 AS at_most_two_finished,
       count(*) FILTER (WHERE answer LIKE 'ERROR 53400: Cloudflare API rate limit nearly spent:%') >= 1
         AS some_refused_53400,
       count(*) FILTER (WHERE answer <> '1000' AND
                              answer NOT LIKE 'ERROR 53400: Cloudflare API rate limit nearly spent:%') = 0
         AS nothing_else
  FROM answers;
\set sent `python3 $MOCKCTL count`
SELECT split_part(:'sent', ' ', 2)::int <= 50 AS at_most_50_sent,
       split_part(:'sent', ' ', 2)::int > 0 AS some_sent;
DROP TABLE answers;
\! python3 $MOCKCTL latency 0

--
-- 3. A 429 of the spent window (code 10100) is remembered for the whole
-- cluster.  The quota is spent by other clients; backend ls1 (lsh_alice)
-- asks and is answered 429 with a Retry-After of 300 s, longer than cfiam
-- waits: refused at once (53400).  Then nothing more is sent with that
-- credential: not by another role through the same PUBLIC mapping, not
-- through another server, not through another mapping of this session.
--
-- (the 429's Retry-After is what is left of the window, 300 s: each
-- window starts just before the request)
SELECT cfiam_limits_reset() AS windows_forgotten;
\! python3 $MOCKCTL clear-log
SELECT cfiam_stats_reset();
\! python3 $MOCKCTL ratelimit --quota 1000 --window 300 --spent 1000
SELECT * FROM dblink('ls1', $$SELECT current_user, ls_try('SELECT count(*) FROM lsw.roles')$$)
  AS t(who name, answer text);
\! python3 $MOCKCTL log
-- lsh_bob, the same server and PUBLIC mapping, another backend
SELECT * FROM dblink('ls2', $$SELECT current_user, ls_try('SELECT count(*) FROM lsw.roles')$$)
  AS t(who name, answer text);
-- lsh_bob through another server with the same token
SELECT * FROM dblink('ls4', $$SELECT current_user, ls_try('SELECT count(*) FROM lsp.roles')$$)
  AS t(who name, answer text);
-- this session, through the fixture's server and its own mapping
SELECT ls_try('SELECT count(*) FROM cf.roles') AS answer;
\! python3 $MOCKCTL count
-- one request sent in all, lsh_alice's
SELECT server, user_name, requests, errors FROM cfiam_stats
  WHERE requests > 0 ORDER BY server, user_name;
-- forgotten on request: the next question is sent, and answered 429 again
SELECT cfiam_limits_reset() AS windows_forgotten;
\! python3 $MOCKCTL ratelimit --quota 1000 --window 300 --spent 1000
SELECT * FROM dblink('ls2', $$SELECT current_user, ls_try('SELECT count(*) FROM lsw.roles')$$)
  AS t(who name, answer text);
\! python3 $MOCKCTL count

--
-- 4. cfiam.ratelimit_reserve protects the account for every client: a
-- superuser's setting, not a user's to lower
--
SET ROLE lsh_alice;
SET cfiam.ratelimit_reserve = 0;
\echo :SQLSTATE
ALTER ROLE lsh_alice SET cfiam.ratelimit_reserve = 0;
\echo :SQLSTATE
SHOW cfiam.ratelimit_reserve;
RESET ROLE;
SET cfiam.ratelimit_reserve = 100;
ALTER ROLE lsh_alice SET cfiam.ratelimit_reserve = 50;
-- lsh_alice's sessions start with it, and still may not lower it
SELECT dblink_connect('ls_alice', :'connstr' || ' user=lsh_alice') AS connected;
SELECT * FROM dblink('ls_alice', 'SELECT current_user, current_setting(''cfiam.ratelimit_reserve'')')
  AS t(who name, reserve text);
SELECT * FROM dblink('ls_alice',
  $$SELECT ls_try('SELECT set_config(''cfiam.ratelimit_reserve'', ''0'', false)')$$)
  AS t(answer text);
SELECT dblink_disconnect('ls_alice');
RESET cfiam.ratelimit_reserve;

--
-- Nothing left blocked or known for the suites that follow
--
SELECT count(dblink_disconnect('ls' || i)) AS disconnected FROM generate_series(1, 8) i;
SELECT cfiam_limits_reset() >= 0 AS forgotten;
\! python3 $MOCKCTL ratelimit --off
\! python3 $MOCKCTL reset
SET client_min_messages = warning;
DROP FUNCTION ls_collect(int);
DROP FUNCTION ls_try(text);
DROP SCHEMA lsp CASCADE;
DROP SCHEMA lsw CASCADE;
DROP SERVER ls_paced CASCADE;
DROP SERVER ls_window CASCADE;
DROP OWNED BY lsh_alice, lsh_bob;
DROP ROLE lsh_alice;
DROP ROLE lsh_bob;
\if :ls_own_dblink
DROP EXTENSION dblink;
\endif
RESET client_min_messages;
