-- cache_shared: with shared_preload_libraries = 'cfiam' the cache is in
-- shared memory and serves every backend (run only in a preloaded cluster:
-- see test/run-tests.sh).
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
SELECT current_setting('shared_preload_libraries') ~ 'cfiam' AS preloaded;
SET client_min_messages = warning;
CREATE SERVER shared_cache FOREIGN DATA WRAPPER cfiam
  OPTIONS (account_id '0123456789abcdef0123456789abcdef', api_url :'api_url',
           count_pushdown 'false', cache_ttl '60');
\set server shared_cache
\i :abs_srcdir/test/use_transport.sql
CREATE USER MAPPING FOR PUBLIC SERVER shared_cache OPTIONS (api_token 'cfiam-test-token');
CREATE SCHEMA cs;
IMPORT FOREIGN SCHEMA cfiam FROM SERVER shared_cache INTO cs;
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
\! python3 $MOCKCTL reset --user-groups 3 --account-members 120
SELECT cfiam_cache_clear() >= 0 AS cleared;
SELECT cfiam_stats_reset();
SELECT dblink_connect('second',
         format('dbname=%s host=%s port=%s', current_database(),
                split_part(current_setting('unix_socket_directories'), ',', 1),
                current_setting('port'))) AS connected;

-- this backend fills the cache: 1 role page, 3 member pages
SELECT count(*) FROM cs.roles;
SELECT count(*) FROM cs.account_members;
\! python3 $MOCKCTL count
-- the second backend is answered from it: nothing sent
SELECT * FROM dblink('second', 'SELECT count(*) FROM cs.roles') AS t(roles bigint);
SELECT * FROM dblink('second',
  'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM cs.account_members')
  AS t(plan text);
\! python3 $MOCKCTL count
-- the statistics are every backend's: 4 requests, 4 hits
SELECT server, user_name, requests, errors, cache_hits, bytes_received > 0 AS bytes
  FROM cfiam_stats WHERE server = 'shared_cache';
-- a write in the second backend empties it for this one too
SELECT * FROM dblink('second',
  $$INSERT INTO cs.user_groups (name) VALUES ('Written by the second backend') RETURNING name$$)
  AS t(name text);
\! python3 $MOCKCTL clear-log
SELECT count(*) FROM cs.roles;
\! python3 $MOCKCTL count
-- cfiam_cache_clear() in one backend clears it for all
SELECT * FROM dblink('second', 'SELECT cfiam_cache_clear() > 0') AS t(dropped_some boolean);
SELECT count(*) FROM cs.roles;
\! python3 $MOCKCTL count
SELECT dblink_disconnect('second');

SET client_min_messages = warning;
DROP SCHEMA cs CASCADE;
DROP SERVER shared_cache CASCADE;
RESET client_min_messages;
