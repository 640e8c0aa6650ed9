-- cache: the result cache (option cache_ttl), counted from the mock's log.
-- The same output whether cfiam is preloaded (one cache in shared memory)
-- or not (a cache per backend); what only the shared cache does is in
-- sql/cache_shared.sql.  test/pgcluster.sh sets cfiam.cache_size to 1MB.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
SET client_min_messages = warning;
CREATE SERVER cached FOREIGN DATA WRAPPER cfiam
  OPTIONS (account_id '0123456789abcdef0123456789abcdef', api_url :'api_url',
           max_concurrency '4', count_pushdown 'false', cache_ttl '60');
\set server cached
\i :abs_srcdir/test/use_transport.sql
CREATE USER MAPPING FOR CURRENT_USER SERVER cached OPTIONS (api_token 'cfiam-test-token');
CREATE SCHEMA cc;
IMPORT FOREIGN SCHEMA cfiam FROM SERVER cached INTO cc;
RESET client_min_messages;
SELECT cfiam_cache_clear() >= 0 AS cleared;
\! python3 $MOCKCTL reset --user-groups 3 --account-members 120

-- the option: whole seconds, 0 (off) to 86400, on the server or the table
ALTER SERVER cached OPTIONS (SET cache_ttl '-1');
ALTER SERVER cached OPTIONS (SET cache_ttl '86401');
ALTER FOREIGN TABLE cc.roles OPTIONS (ADD cache_ttl 'soon');

-- (a first call opens the connection: EXPLAIN below shows none opened,
-- whatever the transport)
SELECT count(*) FROM cc.resource_groups;
\! python3 $MOCKCTL clear-log
-- a miss, then a hit: the second read sends nothing
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM cc.roles;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM cc.roles;
SELECT name FROM cc.roles ORDER BY name;
\! python3 $MOCKCTL log
-- every page of a listing is an answer of its own: 3 pages, then 0
SELECT count(*) FROM cc.account_members;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM cc.account_members;
\! python3 $MOCKCTL count
-- another URL is another answer: a filter the API takes is a miss
SELECT email FROM cc.account_members WHERE status = 'pending' ORDER BY email LIMIT 2;
\! python3 $MOCKCTL log
-- the server without the option does not cache
SELECT count(*) FROM cf.roles;
SELECT count(*) FROM cf.roles;
\! python3 $MOCKCTL count

-- a table's option overrides its server's: 1 second, then it expires
ALTER FOREIGN TABLE cc.permission_groups OPTIONS (ADD cache_ttl '1');
SELECT count(*) FROM cc.permission_groups;
SELECT count(*) FROM cc.permission_groups;
\! python3 $MOCKCTL count
\! sleep 1.2
SELECT count(*) FROM cc.permission_groups;
\! python3 $MOCKCTL count
-- and 0 turns it off for that table
ALTER FOREIGN TABLE cc.permission_groups OPTIONS (SET cache_ttl '0');
SELECT count(*) FROM cc.permission_groups;
SELECT count(*) FROM cc.permission_groups;
\! python3 $MOCKCTL count

-- A write through cfiam drops the account's cached answers before its
-- statement returns, in this backend and in every other.  A second backend
-- (through dblink) reads the groups; the mock is then changed behind
-- cfiam's back: both backends still see the cached answer; a write through
-- cfiam and both see Cloudflare's state.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
SELECT dblink_connect('second',
         format('dbname=%s host=%s port=%s', current_database(),
                split_part(current_setting('unix_socket_directories'), ',', 1),
                current_setting('port'))) AS connected;
SELECT count(*) AS groups FROM cc.user_groups;
SELECT * FROM dblink('second', 'SELECT count(*) FROM cc.user_groups') AS t(groups bigint);
-- behind cfiam's back: 5 groups now
\! python3 $MOCKCTL reset --user-groups 5 --account-members 120
SELECT count(*) AS cached_groups FROM cc.user_groups;
SELECT * FROM dblink('second', 'SELECT count(*) FROM cc.user_groups') AS t(cached_groups bigint);
-- a write through cfiam (to another table of the account)
INSERT INTO cc.account_members (email, role_ids)
  SELECT 'cache.write@example.com', ARRAY[id] FROM cf.roles ORDER BY name LIMIT 1;
SELECT count(*) AS groups_now FROM cc.user_groups;
SELECT * FROM dblink('second', 'SELECT count(*) FROM cc.user_groups') AS t(groups_now bigint);
SELECT dblink_disconnect('second');

-- UPDATE and DELETE find their rows at Cloudflare, never in the cache
SELECT count(*) FROM cc.user_groups WHERE name LIKE 'Group 0001%';
\! python3 $MOCKCTL clear-log
UPDATE cc.user_groups SET name = name || ' (renamed)' WHERE name LIKE 'Group 0001%';
\! python3 $MOCKCTL log
SELECT name FROM cc.user_groups WHERE name LIKE '%(renamed)';

-- Two roles with user mappings of their own never share an answer
SELECT 'cfiam-test-' || 'key' AS good_key \gset
SET client_min_messages = warning;
DROP ROLE IF EXISTS cache_reader_a;
DROP ROLE IF EXISTS cache_reader_b;
RESET client_min_messages;
CREATE ROLE cache_reader_a;
CREATE ROLE cache_reader_b;
GRANT USAGE ON SCHEMA cc TO cache_reader_a, cache_reader_b;
GRANT SELECT ON cc.roles TO cache_reader_a, cache_reader_b;
CREATE USER MAPPING FOR cache_reader_a SERVER cached OPTIONS (api_token 'cfiam-test-token');
CREATE USER MAPPING FOR cache_reader_b SERVER cached
  OPTIONS (api_email 'admin@example.com', api_key :'good_key');
\! python3 $MOCKCTL clear-log
SET ROLE cache_reader_a;
SELECT count(*) FROM cc.roles;
SELECT count(*) FROM cc.roles;
SET ROLE cache_reader_b;
SELECT count(*) FROM cc.roles;
SELECT count(*) FROM cc.roles;
RESET ROLE;
-- one GET each: neither was served the other's answer
\! python3 $MOCKCTL log

-- cfiam_cache_clear() drops every entry: the next read is a miss
SELECT cfiam_cache_clear() > 0 AS dropped_some;
SELECT count(*) FROM cc.roles;
\! python3 $MOCKCTL count

-- The cache is bounded (cfiam.cache_size, 1MB here): 5,000 members are
-- 100 pages of about 20kB, each kept as it arrives; the oldest make way.
\! python3 $MOCKCTL reset --user-groups 0 --account-members 5000
SELECT cfiam_cache_clear() >= 0 AS cleared;
SELECT count(*) FROM cc.account_members;
\! python3 $MOCKCTL count
SELECT cfiam_cache_clear() BETWEEN 10 AND 99 AS bounded;

SET client_min_messages = warning;
DROP USER MAPPING FOR cache_reader_a SERVER cached;
DROP USER MAPPING FOR cache_reader_b SERVER cached;
DROP OWNED BY cache_reader_a, cache_reader_b;
DROP ROLE cache_reader_a;
DROP ROLE cache_reader_b;
DROP SCHEMA cc CASCADE;
DROP SERVER cached CASCADE;
RESET client_min_messages;
