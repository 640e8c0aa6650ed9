--
-- transport: what Cloudflare's real transport (TLS, HTTP/2 through ALPN)
-- brings, against the mock behind a TLS front (test/pgcluster.sh starts
-- nghttpx before the mock).  Run in the TLS passes only (h2 and
-- tls-http1): over plain HTTP there is no front to restart.
--
-- The expected output differs by transport in the connections and in
-- libcurl's words for a lost answer: over HTTP/2 every request in flight
-- shares one connection (transport.out); over TLS + HTTP/1.1 each request
-- in flight has its own (transport_1.out).
--
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
\setenv PGCLUSTER :abs_srcdir/test/pgcluster.sh
\setenv PGDATABASE :DBNAME
SET client_min_messages = warning;
DROP SERVER IF EXISTS tls CASCADE;
CREATE SERVER tls FOREIGN DATA WRAPPER cfiam
  OPTIONS (account_id '0123456789abcdef0123456789abcdef', api_url :'api_url',
           max_concurrency '16', count_pushdown 'false', max_retries '3');
\set server tls
\i :abs_srcdir/test/use_transport.sql
CREATE USER MAPPING FOR CURRENT_USER SERVER tls
  OPTIONS (api_token 'cfiam-test-token');
DROP SCHEMA IF EXISTS cft CASCADE;
CREATE SCHEMA cft;
IMPORT FOREIGN SCHEMA cfiam FROM SERVER tls INTO cft;
RESET client_min_messages;

-- the URL is https: the mock is reached through the TLS front
SELECT srvoptions @> ARRAY['api_url=' || :'api_url'] AND :'api_url' LIKE 'https://%' AS https
  FROM pg_foreign_server WHERE srvname = 'tls';

--
-- 16 requests in flight: a full scan of 10,000 members is 200 requests,
-- each answer complete, and the protocol the front negotiated is named.
--
\! python3 $MOCKCTL reset --account-members 10000 --user-groups 0
\! python3 $MOCKCTL latency 20
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
  SELECT count(email) FROM cft.account_members;
\! python3 $MOCKCTL count
-- the next statement reuses the connection(s).  Over HTTP/2 none is
-- opened.  Over HTTP/1.1 the 16 idle connections are reused but for at
-- most one, which the front may close between statements and which is
-- opened again (the TLS + HTTP/1.1 pass: transport_1.out).
CREATE FUNCTION pg_temp.scan_connections(query text, OUT opened int, OUT protocol text)
LANGUAGE plpgsql AS $$
DECLARE
  plan json;
BEGIN
  EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || query
    INTO plan;
  plan := plan -> 0 -> 'Plan' -> 'Plans' -> 0;
  opened := plan ->> 'API Connections';
  protocol := plan ->> 'API Protocol';
END
$$;
SELECT opened, protocol FROM pg_temp.scan_connections(
  'SELECT count(DISTINCT id) FROM cft.account_members') \gset
SELECT :'protocol' AS protocol,
       :opened <= CASE :'protocol' WHEN 'HTTP/2' THEN 0 ELSE 1 END AS connections_reused;
\! python3 $MOCKCTL count

--
-- The front restarted in the middle of a scan: the connection and the
-- streams on it die.  The GETs that had no answer are sent again on a new
-- connection; no row is lost or repeated.
--
\! (sleep 0.4; bash "$PGCLUSTER" front-restart >/dev/null 2>&1) &
SELECT count(*), count(DISTINCT id), count(DISTINCT email) FROM cft.account_members;
\! sleep 1
-- every page was asked for, none more than a few times
\! python3 $MOCKCTL log | sed -E 's/.*[?&]page=([0-9]+)&.*/\1/' | sort -un | awk 'NR == $1 { n++ } END { print n " distinct pages, in sequence" }'
SELECT 1 AS still_working;

--
-- A POST is never sent twice, over HTTP/2 too.  Here it reaches the mock,
-- which creates the group, but the front goes away before the answer: the
-- outcome is unknown to cfiam, which says so rather than send it again.
--
\! python3 $MOCKCTL latency 0
\! python3 $MOCKCTL reset --user-groups 0 --account-members 0
\! python3 $MOCKCTL fault delay --delay-ms 1500 --method POST
\! (sleep 0.5; bash "$PGCLUSTER" front-restart >/dev/null 2>&1) &
INSERT INTO cft.user_groups (name) VALUES ('Sent once over HTTP/2');
\echo :SQLSTATE
\! sleep 1.5
\! python3 $MOCKCTL log
SELECT name FROM cft.user_groups;

--
-- pg_stat_activity shows a backend that waits for the API: wait event
-- "Extension" while a transfer is in flight.
--
\! python3 $MOCKCTL fault delay --delay-ms 2500 --match 'roles'
\! (psql -X -q -c "SELECT count(*) AS slow_roles FROM cft.roles" >/dev/null 2>&1 &) ; sleep 1
SELECT wait_event_type, wait_event, state
  FROM pg_stat_activity
 WHERE query = 'SELECT count(*) AS slow_roles FROM cft.roles';
\! sleep 2

-- (quietly: the list of tables grows with the catalog)
SET client_min_messages = warning;
DROP SCHEMA cft CASCADE;
RESET client_min_messages;
DROP SERVER tls CASCADE;
