-- concurrent_sessions: what holds when others act at the same time:
-- someone else changing a group while cfiam commits, another backend
-- writing while a GET is in flight, a key rotated, a serialization failure
-- after cfiam's calls, and the statistics a dashboard role may read.
-- Other sessions are dblink connections; "someone else" at Cloudflare is
-- the mock's meanwhile fault (another admin's request applied between two
-- of cfiam's).
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
\! python3 $MOCKCTL reset --user-groups 2 --members-per-group 3 --account-members 20
\set acct 0123456789abcdef0123456789abcdef
\setenv ACCT :acct
SELECT id AS g FROM cf.user_groups ORDER BY name LIMIT 1 \gset
SELECT id AS g2 FROM cf.user_groups ORDER BY name OFFSET 1 LIMIT 1 \gset
\setenv G :g
-- the group's members a, b, c; outsiders d (ours to add) and e (someone else's)
SELECT id AS a FROM cf.user_group_members WHERE user_group_id = :'g' ORDER BY email LIMIT 1 \gset
SELECT id AS b FROM cf.user_group_members WHERE user_group_id = :'g' ORDER BY email OFFSET 1 LIMIT 1 \gset
SELECT id AS c FROM cf.user_group_members WHERE user_group_id = :'g' ORDER BY email OFFSET 2 LIMIT 1 \gset
CREATE TEMP TABLE outsiders AS
  SELECT id, email FROM cf.account_members
  WHERE id NOT IN (SELECT id FROM cf.user_group_members) ORDER BY email;
SELECT id AS d FROM outsiders ORDER BY email LIMIT 1 \gset
SELECT id AS e FROM outsiders ORDER BY email OFFSET 1 LIMIT 1 \gset
\setenv C :c
\setenv E :e

-- 1. A deferred COMMIT never writes a member set computed from a read.
-- Two removals and an addition: a POST and two DELETEs, no GET + PUT.
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
DELETE FROM cf.user_group_members WHERE user_group_id = :'g' AND id IN (:'a', :'b');
INSERT INTO cf.user_group_members (user_group_id, id) VALUES (:'g', :'d');
SELECT seq, method, regexp_replace(path, '[0-9a-f]{32}', 'ID', 'g') AS path
  FROM cfiam_pending_changes();
-- another admin adds e right after cfiam's first call to the group
\! python3 $MOCKCTL fault meanwhile --match "user_groups/$G/members" --then "POST /accounts/$ACCT/iam/user_groups/$G/members [{\"id\": \"$E\"}]"
\! python3 $MOCKCTL clear-log
COMMIT;
\! python3 $MOCKCTL log | sed -E 's/[0-9a-f]{32}/ID/g; s/(POST [^ ]*) .*/\1/' | sort
-- e, added by someone else meanwhile, is still there; a and b are gone, d in
SELECT count(*) AS members, bool_or(id = :'e') AS e_kept, bool_or(id = :'d') AS d_added,
       bool_or(id IN (:'a', :'b')) AS a_or_b_left, bool_or(id = :'c') AS c_kept
  FROM cf.user_group_members WHERE user_group_id = :'g';
-- Another admin removes c while cfiam commits a mix of changes: c is not
-- put back.
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
DELETE FROM cf.user_group_members WHERE user_group_id = :'g' AND id IN (:'d', :'e');
INSERT INTO cf.user_group_members (user_group_id, id) VALUES (:'g', :'a');
\! python3 $MOCKCTL fault meanwhile --match "user_groups/$G/members" --then "DELETE /accounts/$ACCT/iam/user_groups/$G/members/$C"
COMMIT;
SELECT count(*) AS members, bool_or(id = :'c') AS c_back, bool_or(id = :'a') AS a_added
  FROM cf.user_group_members WHERE user_group_id = :'g';

-- 2. The whole COMMIT plan is checked before its first call: four
-- creations with cfiam.max_requests = 3 are refused, nothing sent.
SELECT count(*) AS groups_before FROM cf.user_groups;
SET cfiam.max_requests = 3;
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
INSERT INTO cf.user_groups (name) VALUES ('Plan 1'), ('Plan 2'), ('Plan 3'), ('Plan 4');
\! python3 $MOCKCTL clear-log
\set VERBOSITY default
COMMIT;
\echo :SQLSTATE
\! python3 $MOCKCTL log
RESET cfiam.max_requests;
SELECT count(*) AS groups_after FROM cf.user_groups;

-- 3. Calls go in an order that cannot fail because of another call of the
-- same COMMIT: member removals of a group that the COMMIT deletes are
-- dropped (the DELETE takes the memberships with it).
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
DELETE FROM cf.user_group_members WHERE user_group_id = :'g2';
DELETE FROM cf.user_groups WHERE id = :'g2';
SELECT seq, method, regexp_replace(path, '[0-9a-f]{32}', 'ID', 'g') AS path
  FROM cfiam_pending_changes();
\! python3 $MOCKCTL clear-log
COMMIT;
\! python3 $MOCKCTL log | sed -E 's/[0-9a-f]{32}/ID/g'
SELECT count(*) AS g2_left FROM cf.user_groups WHERE id = :'g2';

-- 4. A transaction that aborts after cfiam applied its calls says which
-- stand at Cloudflare: a serialization failure at COMMIT (write skew with
-- another session, which commits first), in test/serialization_failure.sql
-- (a psql of its own: its messages are sorted, as their order varies).
CREATE TABLE duty (k int PRIMARY KEY, on_call boolean);
INSERT INTO duty VALUES (1, true), (2, true);
SELECT split_part(current_setting('unix_socket_directories'), ',', 1) AS sockdir,
       current_setting('port') AS port \gset
\setenv PGHOST :sockdir
\setenv PGPORT :port
\setenv PGDATABASE :DBNAME
\! python3 $MOCKCTL clear-log
\! "$PG_BINDIR/psql" -X -q -f "$PG_ABS_SRCDIR/test/serialization_failure.sql" 2>&1 | grep -E '^(psql:[^ ]* )?(ERROR|WARNING|DETAIL|HINT):' | sed -E 's/^psql:[^ ]* //' | LC_ALL=C sort
\! python3 $MOCKCTL log | sed -E 's/(POST [^ ]*) .*/\1/'
-- the group stands: a retry of the transaction must not create it again
SELECT count(*) AS created FROM cf.user_groups WHERE name = 'Created before a serialization failure';
DROP TABLE duty;
SELECT dblink_connect('other',
         format('dbname=%s host=%s port=%s', current_database(), :'sockdir', :'port'))
       AS connected;

-- 5. The shared cache never keeps an answer older than a write: another
-- backend's listing is in flight (its answer computed, then held back)
-- while this backend adds a member; afterwards no backend is served the
-- state before the write.
CREATE SERVER cached FOREIGN DATA WRAPPER cfiam
  OPTIONS (account_id '0123456789abcdef0123456789abcdef', api_url :'api_url',
           count_pushdown 'false', cache_ttl '60');
\set server cached
\i :abs_srcdir/test/use_transport.sql
CREATE USER MAPPING FOR PUBLIC SERVER cached OPTIONS (api_token 'cfiam-test-token');
CREATE SCHEMA cc;
IMPORT FOREIGN SCHEMA cfiam LIMIT TO (user_group_members, roles) FROM SERVER cached INTO cc;
SELECT cfiam_cache_clear() >= 0 AS cleared;
SELECT count(*) AS members_before FROM cf.user_group_members WHERE user_group_id = :'g' \gset
SELECT id AS f FROM outsiders WHERE id NOT IN
  (SELECT id FROM cf.user_group_members WHERE user_group_id = :'g') ORDER BY email LIMIT 1 \gset
\! python3 $MOCKCTL fault delay --delay-ms 1500 --match "user_groups/$G/members?page=1"
SELECT dblink_send_query('other',
  format('SELECT count(*) FROM cc.user_group_members WHERE user_group_id = %L', :'g')) AS sent;
SELECT pg_sleep(0.5);
INSERT INTO cc.user_group_members (user_group_id, id) VALUES (:'g', :'f') RETURNING id = :'f' AS added;
-- the listing sent before the write answers what it read then
SELECT count = :members_before AS read_before_the_write
  FROM dblink_get_result('other') AS t(count bigint);
SELECT * FROM dblink_get_result('other') AS t(count bigint);
-- afterwards, in either backend: the state after the write, one more
SELECT count = :members_before + 1 AS other_backend_sees_the_write
  FROM dblink('other',
    format('SELECT count(*) FROM cc.user_group_members WHERE user_group_id = %L', :'g'))
  AS t(count bigint);
SELECT count(*) = :members_before + 1 AS this_backend_sees_the_write
  FROM cc.user_group_members WHERE user_group_id = :'g';

-- 6. The cache never outlives the credential: after ALTER USER MAPPING
-- rotates the key to one Cloudflare refuses, nothing is served from what
-- the old key fetched.
SELECT count(*) AS roles FROM cc.roles;
\! python3 $MOCKCTL clear-log
SELECT count(*) AS roles_cached FROM cc.roles;
\! python3 $MOCKCTL count
ALTER USER MAPPING FOR PUBLIC SERVER cached OPTIONS (SET api_token 'a-revoked-token');
SELECT count(*) FROM cc.roles;
\! python3 $MOCKCTL log
-- and the other backend, which cached with the old key too, asks again
SELECT * FROM dblink('other', 'SELECT count(*) FROM cc.roles') AS t(count bigint);
ALTER USER MAPPING FOR PUBLIC SERVER cached OPTIONS (SET api_token 'cfiam-test-token');
\! python3 $MOCKCTL clear-log
SELECT count(*) AS roles FROM cc.roles;
\! python3 $MOCKCTL count

-- 7. cfiam_stats: the view may be granted to a dashboard's role, which
-- sees its own rows; with pg_read_all_stats, every role's.
CREATE ROLE cfiam_dashboard;
GRANT SELECT ON cfiam_stats TO cfiam_dashboard;
GRANT USAGE ON SCHEMA cc TO cfiam_dashboard;
GRANT USAGE ON FOREIGN SERVER cached TO cfiam_dashboard;
GRANT SELECT ON cc.roles TO cfiam_dashboard;
SELECT CASE WHEN current_setting('shared_preload_libraries') ~ 'cfiam'
            THEN 'shared' ELSE 'backend' END AS limits_expected \gset
SET ROLE cfiam_dashboard;
SELECT count(*) AS own_rows FROM cfiam_stats;
SELECT count(*) AS roles FROM cc.roles;
SELECT user_name, requests + cache_hits > 0 AS counted,
       limits = :'limits_expected' AS limits_as_loaded
  FROM cfiam_stats;
RESET ROLE;
SELECT count(DISTINCT user_name) > 1 AS superuser_sees_all FROM cfiam_stats;
GRANT pg_read_all_stats TO cfiam_dashboard;
SET ROLE cfiam_dashboard;
SELECT count(DISTINCT user_name) > 1 AS reads_all_stats FROM cfiam_stats;
RESET ROLE;

-- clean up
SELECT dblink_disconnect('other');
REVOKE pg_read_all_stats FROM cfiam_dashboard;
SET client_min_messages = warning;
DROP SCHEMA cc CASCADE;
DROP SERVER cached CASCADE;
DROP OWNED BY cfiam_dashboard;
DROP ROLE cfiam_dashboard;
RESET client_min_messages;
