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

-- The shared index has a fixed size, one entry per kB of cfiam.cache_size
-- (1MB here: 1,024): small answers (permission groups by id, 512 bytes an
-- entry) fill it before the ring; then the oldest make way, and the index
-- never takes more of PostgreSQL's spare shared memory (where the lock
-- tables grow too).  Two rounds of 1,500 answers: the shared memory taken
-- after the first stays as it is through the second (it grew by 8 kB
-- with the index unbounded).
\! python3 $MOCKCTL reset --user-groups 1 --permission-groups 1500
ALTER SERVER shared_cache OPTIONS (ADD max_requests_per_second '0', ADD max_concurrency '16');
SET cfiam.max_requests = 0;
SELECT array_agg(id) AS ids FROM cs.permission_groups \gset
SELECT cfiam_cache_clear() >= 0 AS cleared;
SELECT count(*) AS found FROM cs.permission_groups WHERE id = ANY (:'ids'::text[]);
SELECT sum(allocated_size) AS anonymous_before FROM pg_shmem_allocations
  WHERE name = '<anonymous>' \gset
\! python3 $MOCKCTL reset --seed 2 --user-groups 1 --permission-groups 1500
SELECT array_agg(id) AS ids FROM cs.permission_groups \gset
\! python3 $MOCKCTL clear-log
SELECT count(*) AS found FROM cs.permission_groups WHERE id = ANY (:'ids'::text[]);
\! python3 $MOCKCTL count
SELECT sum(allocated_size) - :anonymous_before AS shared_memory_taken
  FROM pg_shmem_allocations WHERE name = '<anonymous>';
-- the newest answers are there, the oldest made way
\! python3 $MOCKCTL clear-log
SELECT count(*) AS found FROM cs.permission_groups WHERE id = (:'ids'::text[])[1500];
\! python3 $MOCKCTL count
SELECT cfiam_cache_clear() > 0 AS cleared;
RESET cfiam.max_requests;

SET client_min_messages = warning;
DROP SCHEMA cs CASCADE;
DROP SERVER shared_cache CASCADE;
RESET client_min_messages;
