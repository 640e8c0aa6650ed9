--
-- multi_account: a server without account_id covers every account the
-- credential sees (GET /accounts), each table with its account_id column.
--
-- Every claim is pinned three ways: EXPLAIN (VERBOSE) shows the accounts and
-- the planned call per account, the query shows the rows, and the mock's
-- request log shows exactly which calls were made (mockctl log prints the
-- log, then clears it).
--
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
-- three accounts: main-00 (the fixture server's), prod-01 and staging-02,
-- each with its own groups, members, roles, tokens and audit log
\! python3 $MOCKCTL reset --accounts 3 --user-groups 2 --members-per-group 2 --account-members 2 --roles 2

-- a server without account_id: every account the credential sees
CREATE SERVER cf_all FOREIGN DATA WRAPPER cfiam
  OPTIONS (api_url :'api_url', max_concurrency '1', count_pushdown 'false', max_retries '0');
\if :cfiam_tls
ALTER SERVER cf_all OPTIONS (ADD ca_file :'ca_file');
\endif
CREATE USER MAPPING FOR CURRENT_USER SERVER cf_all
  OPTIONS (api_token 'cfiam-test-token');
CREATE SCHEMA cfa;
IMPORT FOREIGN SCHEMA cfiam FROM SERVER cf_all INTO cfa;
-- account_id is the first column of every account-scoped table (not of
-- accounts itself)
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
 WHERE c.relnamespace = 'cfa'::regnamespace AND a.attnum = 1
 ORDER BY c.relname;
SELECT id AS main_id FROM cfa.accounts WHERE name = 'main-00' \gset
SELECT id AS prod_id FROM cfa.accounts WHERE name = 'prod-01' \gset
SELECT id AS staging_id FROM cfa.accounts WHERE name = 'staging-02' \gset
\! python3 $MOCKCTL clear-log

--
-- Every account: GET /accounts once, then each account's listing.
--
EXPLAIN (VERBOSE, COSTS OFF) SELECT account_id, name FROM cfa.user_groups;
SELECT a.name AS account, g.name
  FROM cfa.user_groups g JOIN cfa.accounts a ON a.id = g.account_id
 ORDER BY 1, 2;
\! python3 $MOCKCTL log
SELECT account_id = :'main_id' AS main, count(*) FROM cfa.user_groups GROUP BY 1 ORDER BY 1;
\! python3 $MOCKCTL log

--
-- account_id = v: that account only, no GET /accounts.
--
EXPLAIN (VERBOSE, COSTS OFF)
SELECT name FROM cfa.user_groups WHERE account_id = '0123456789abcdef0123456789abcdef';
SELECT account_id, name FROM cfa.user_groups
 WHERE account_id = '0123456789abcdef0123456789abcdef' ORDER BY name;
\! python3 $MOCKCTL log
-- = ANY(array): those accounts, each once; a value that is no id names none
EXPLAIN (VERBOSE, COSTS OFF)
SELECT email FROM cfa.account_members WHERE account_id IN ('0123456789abcdef0123456789abcdef', 'x');
SELECT account_id = :'prod_id' AS prod, email FROM cfa.account_members
 WHERE account_id = ANY (ARRAY[:'prod_id', :'staging_id', :'prod_id', 'x', NULL])
 ORDER BY 1, 2;
\! python3 $MOCKCTL log
-- no valid account: no rows, no call
SELECT name FROM cfa.user_groups WHERE account_id = 'not-an-account';
\! python3 $MOCKCTL log
-- a parameter: evaluated per execution
PREPARE groups_of(text) AS SELECT name FROM cfa.user_groups WHERE account_id = $1 ORDER BY name;
EXECUTE groups_of(:'staging_id');
\! python3 $MOCKCTL log
DEALLOCATE groups_of;

--
-- The other pushdowns, inside each account: name, id, status, the fan-out
-- over the groups, LIMIT, count(*).
--
EXPLAIN (VERBOSE, COSTS OFF)
SELECT account_id, email FROM cfa.account_members WHERE status = 'accepted';
SELECT count(*) FROM cfa.account_members WHERE status = 'accepted';
\! python3 $MOCKCTL log
SELECT name AS group_name FROM cfa.user_groups
 WHERE account_id = :'prod_id' ORDER BY name LIMIT 1 \gset
SELECT account_id = :'prod_id' AS prod, name FROM cfa.user_groups WHERE name = :'group_name';
\! python3 $MOCKCTL clear-log
SELECT id AS group_id FROM cfa.user_groups
 WHERE account_id = :'prod_id' AND name = :'group_name' \gset
\! python3 $MOCKCTL clear-log
SELECT account_id = :'prod_id' AS prod, name FROM cfa.user_groups
 WHERE account_id = :'prod_id' AND id = :'group_id';
\! python3 $MOCKCTL log
-- members of every group of every account: groups listed per account
EXPLAIN (VERBOSE, COSTS OFF) SELECT account_id, user_group_id, id FROM cfa.user_group_members;
SELECT account_id, count(*) FROM cfa.user_group_members GROUP BY 1 ORDER BY 1;
\! python3 $MOCKCTL log
-- ORDER BY is sent inside each account; over several accounts PostgreSQL
-- sorts (each account's rows come sorted, not the whole)
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM cfa.user_groups ORDER BY name;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT name FROM cfa.user_groups WHERE account_id = '0123456789abcdef0123456789abcdef' ORDER BY name;
-- LIMIT: the executor stops once it has its rows (here in the first account)
SELECT count(*) FROM (SELECT name FROM cfa.roles LIMIT 1) s;
\! python3 $MOCKCTL log
-- count(*): one smallest page per account, the totals added up
ALTER SERVER cf_all OPTIONS (SET count_pushdown 'true');
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM cfa.roles;
SELECT count(*) FROM cfa.roles;
\! python3 $MOCKCTL log
SELECT count(*) FROM cfa.roles WHERE account_id = :'prod_id';
\! python3 $MOCKCTL log
-- GROUP BY account_id: a row per account, each from its smallest page
EXPLAIN (VERBOSE, COSTS OFF)
SELECT account_id, count(*) FROM cfa.roles GROUP BY account_id;
SELECT CASE account_id WHEN :'main_id' THEN 'main' WHEN :'prod_id' THEN 'prod'
       WHEN :'staging_id' THEN 'staging' END AS account, n
  FROM (SELECT account_id, count(*) AS n FROM cfa.roles GROUP BY account_id) c
 ORDER BY 1;
\! python3 $MOCKCTL log
-- the same over the accounts named, and none when no value is an account id
SELECT count(*) AS n, account_id = :'prod_id' AS prod FROM cfa.roles
 WHERE account_id = ANY (ARRAY[:'prod_id', 'not-an-id']) GROUP BY account_id;
SELECT account_id, count(*) FROM cfa.roles WHERE account_id = 'not-an-id' GROUP BY account_id;
\! python3 $MOCKCTL log
ALTER SERVER cf_all OPTIONS (SET count_pushdown 'false');

--
-- A join with accounts: the accounts chosen by name, then their rows (a
-- nested loop, one account per outer row, when the planner finds it cheaper).
--
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.name, r.name AS role
  FROM cfa.accounts a JOIN cfa.roles r ON r.account_id = a.id
 WHERE a.name LIKE 'prod-%';
SELECT a.name, r.name AS role
  FROM cfa.accounts a JOIN cfa.roles r ON r.account_id = a.id
 WHERE a.name LIKE 'prod-%' ORDER BY 1, 2;
\! python3 $MOCKCTL log

--
-- The groups with their members (the pushed join), account by account:
-- each account's groups' listing, then each group's members there.
--
EXPLAIN (VERBOSE, COSTS OFF)
SELECT g.account_id, g.name, m.email
  FROM cfa.user_groups g
  JOIN cfa.user_group_members m ON m.account_id = g.account_id AND m.user_group_id = g.id;
SELECT g.account_id = :'main_id' AS main, g.account_id = m.account_id AS same_account,
       count(*) AS memberships, count(DISTINCT g.id) AS groups
  FROM cfa.user_groups g
  JOIN cfa.user_group_members m ON m.account_id = g.account_id AND m.user_group_id = g.id
 GROUP BY 1, 2 ORDER BY 1, 2;
\! python3 $MOCKCTL log | sed -E 's/[0-9a-f]{32}/ID/g' | sort | uniq -c
-- an account named on the groups' side: that account only
EXPLAIN (VERBOSE, COSTS OFF)
SELECT g.name, m.email FROM cfa.user_groups g
  LEFT JOIN cfa.user_group_members m ON m.user_group_id = g.id AND m.account_id = g.account_id
 WHERE g.account_id = :'prod_id';
SELECT count(*) AS memberships FROM cfa.user_groups g
  LEFT JOIN cfa.user_group_members m ON m.user_group_id = g.id AND m.account_id = g.account_id
 WHERE g.account_id = :'prod_id';
\! python3 $MOCKCTL log | sed -E 's/[0-9a-f]{32}/ID/g'

--
-- ANALYZE: each account sampled as one (GET /accounts first), the table's
-- size theirs added up; the sample's rows carry their account.
--
\! python3 $MOCKCTL clear-log
ANALYZE cfa.roles;
ANALYZE cfa.user_group_members;
SELECT relname, reltuples FROM pg_class
 WHERE oid IN ('cfa.roles'::regclass, 'cfa.user_group_members'::regclass) ORDER BY 1;
SELECT tablename, n_distinct FROM pg_stats
 WHERE schemaname = 'cfa' AND attname = 'account_id' AND tablename IN ('roles', 'user_group_members')
 ORDER BY 1;
\! python3 $MOCKCTL log | sed -E 's/[0-9a-f]{32}/ID/g' | sort | uniq -c

-- The planner's choice, by the requests each plan costs: a scan per account
-- (the nested loop) spends one request per account after GET /accounts,
-- the hash join one GET /accounts more (each side lists the accounts).
-- Filtered or not, the nested loop is chosen here, and it sends fewer.
EXPLAIN (COSTS OFF)
SELECT a.name, r.name AS role
  FROM cfa.accounts a JOIN cfa.roles r ON r.account_id = a.id;
\! python3 $MOCKCTL clear-log
SELECT count(*) FROM cfa.accounts a JOIN cfa.roles r ON r.account_id = a.id;
\! python3 $MOCKCTL log | sed -E 's/[0-9a-f]{32}/ID/g'
SET enable_nestloop = off;
EXPLAIN (COSTS OFF)
SELECT a.name, r.name AS role
  FROM cfa.accounts a JOIN cfa.roles r ON r.account_id = a.id;
SELECT count(*) FROM cfa.accounts a JOIN cfa.roles r ON r.account_id = a.id;
\! python3 $MOCKCTL log | sed -E 's/[0-9a-f]{32}/ID/g'
RESET enable_nestloop;

--
-- EXPLAIN ANALYZE counts the accounts read: every one, the ones named, or
-- as many as a LIMIT needed.
--
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM cfa.roles;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT * FROM cfa.roles WHERE account_id = :'prod_id';
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM cfa.roles LIMIT 1;
\! python3 $MOCKCTL clear-log

--
-- cache_ttl: GET /accounts is answered from the cache like any GET.
--
ALTER SERVER cf_all OPTIONS (ADD cache_ttl '60');
SELECT count(*) FROM cfa.roles;
SELECT count(*) FROM cfa.roles;
\! python3 $MOCKCTL log
ALTER SERVER cf_all OPTIONS (DROP cache_ttl);

--
-- A 403 from one account (the credential lacks access there): an error
-- naming the account; with skip_forbidden_accounts a NOTICE, and the others
-- are read.
--
\setenv STAGING_ID :staging_id
\! python3 $MOCKCTL fault status --status 403 --code 9109 --message 'Unauthorized to access requested resource' --match $STAGING_ID
SELECT count(*) FROM cfa.roles;
\! python3 $MOCKCTL clear-faults
\! python3 $MOCKCTL log
ALTER FOREIGN TABLE cfa.roles OPTIONS (ADD skip_forbidden_accounts 'true');
\! python3 $MOCKCTL fault status --status 403 --code 9109 --message 'Unauthorized to access requested resource' --match $STAGING_ID
SELECT a.name, count(*) FROM cfa.roles r JOIN cfa.accounts a ON a.id = r.account_id
 GROUP BY 1 ORDER BY 1;
\! python3 $MOCKCTL clear-faults
\! python3 $MOCKCTL log
ALTER FOREIGN TABLE cfa.roles OPTIONS (DROP skip_forbidden_accounts);

--
-- Accounts read concurrently (max_concurrency above 1): after GET /accounts,
-- page 1 of every account's listing goes out at once, within the pace and
-- the budget (the log is sorted: their order is the network's).  A 403 among
-- them is an error naming its account, or skipped with the option.
--
ALTER SERVER cf_all OPTIONS (SET max_concurrency '4');
SELECT account_id = :'main_id' AS main, count(*) FROM cfa.roles GROUP BY 1 ORDER BY 1;
\! python3 $MOCKCTL log | sort
-- the batch is budgeted before it is sent
SET cfiam.max_requests = 3;
SELECT count(*) FROM cfa.roles;
RESET cfiam.max_requests;
\! python3 $MOCKCTL log | sort
\! python3 $MOCKCTL fault status --status 403 --code 9109 --message 'Unauthorized to access requested resource' --match $STAGING_ID
SELECT count(*) FROM cfa.roles;
\! python3 $MOCKCTL clear-faults
\! python3 $MOCKCTL clear-log
ALTER FOREIGN TABLE cfa.roles OPTIONS (ADD skip_forbidden_accounts 'true');
\! python3 $MOCKCTL fault status --status 403 --code 9109 --message 'Unauthorized to access requested resource' --match $STAGING_ID
SELECT a.name, count(*) FROM cfa.roles r JOIN cfa.accounts a ON a.id = r.account_id
 GROUP BY 1 ORDER BY 1;
\! python3 $MOCKCTL clear-faults
-- each call once (a listing the 403 stopped in flight is asked again)
\! python3 $MOCKCTL log | sort -u
-- the pushed count per account: one batch, the forbidden account left out;
-- a count the 403 stopped in flight (prod's, answered late) is asked again
-- and the counts answered before it are kept
ALTER SERVER cf_all OPTIONS (SET count_pushdown 'true');
\setenv PROD_ID :prod_id
\! python3 $MOCKCTL fault delay --delay-ms 300 --match $PROD_ID
\! python3 $MOCKCTL fault status --status 403 --code 9109 --message 'Unauthorized to access requested resource' --match $STAGING_ID
SELECT account_id = :'main_id' AS main, n
  FROM (SELECT account_id, count(*) AS n FROM cfa.roles GROUP BY account_id) c ORDER BY 1;
\! python3 $MOCKCTL clear-faults
\! python3 $MOCKCTL log | sort -u
ALTER FOREIGN TABLE cfa.roles OPTIONS (DROP skip_forbidden_accounts);
-- without the option, the 403 is an error naming the account
\! python3 $MOCKCTL fault status --status 403 --code 9109 --message 'Unauthorized to access requested resource' --match $STAGING_ID
SELECT account_id, count(*) FROM cfa.roles GROUP BY account_id;
\! python3 $MOCKCTL clear-faults
\! python3 $MOCKCTL clear-log
ALTER SERVER cf_all OPTIONS (SET count_pushdown 'false');
ALTER SERVER cf_all OPTIONS (SET max_concurrency '1');

--
-- A server with account_id: that account only (account_id is the server's;
-- another value matches nothing, without a call).
--
SELECT count(*), count(*) FILTER (WHERE account_id = '0123456789abcdef0123456789abcdef')
  FROM cf.user_groups;
\! python3 $MOCKCTL log
SELECT name FROM cf.user_groups WHERE account_id = :'prod_id';
\! python3 $MOCKCTL log
-- a hand-written table without account_id reads as before, here over every account
CREATE FOREIGN TABLE cfa.group_names (id text, name text) SERVER cf_all OPTIONS (resource 'user_groups');
SELECT count(*) FROM cfa.group_names;
\! python3 $MOCKCTL log

--
-- Writes go to the row's account.
--
-- INSERT: account_id required on a server over every account
INSERT INTO cfa.user_groups (name) VALUES ('no-account');
INSERT INTO cfa.group_names (name) VALUES ('no-account');
INSERT INTO cfa.user_groups (account_id, name) VALUES ('x', 'bad-account');
INSERT INTO cfa.user_groups (account_id, name) VALUES (:'prod_id', 'ops-prod')
  RETURNING account_id = :'prod_id' AS prod, name;
\! python3 $MOCKCTL log
-- on a server with account_id, another account is refused
INSERT INTO cf.user_groups (account_id, name) VALUES (:'prod_id', 'elsewhere');
-- members too: each row to its account's group
INSERT INTO cfa.user_group_members (account_id, user_group_id, id)
SELECT g.account_id, g.id, m.id
  FROM cfa.user_groups g JOIN cfa.account_members m ON m.account_id = g.account_id
 WHERE g.name = 'ops-prod' AND g.account_id = :'prod_id' AND m.account_id = :'prod_id'
 ORDER BY m.email LIMIT 1;
\! python3 $MOCKCTL log
-- UPDATE and DELETE: each row's own account
UPDATE cfa.user_groups SET name = 'ops-prod-2' WHERE name = 'ops-prod';
\! python3 $MOCKCTL log
-- moving a row to another account is refused, before any call
UPDATE cfa.user_groups SET account_id = :'staging_id' WHERE name = 'ops-prod-2';
UPDATE cfa.group_names SET name = 'x';
\! python3 $MOCKCTL log
DELETE FROM cfa.user_groups WHERE name = 'ops-prod-2' RETURNING account_id = :'prod_id' AS prod;
\! python3 $MOCKCTL log
EXPLAIN (VERBOSE, COSTS OFF) DELETE FROM cfa.user_groups WHERE account_id = :'prod_id';
-- a group's whole member set: the group's account is the fourth argument
SELECT id AS prod_group FROM cfa.user_groups WHERE account_id = :'prod_id' ORDER BY name LIMIT 1 \gset
SELECT id AS prod_member FROM cfa.account_members WHERE account_id = :'prod_id' ORDER BY email LIMIT 1 \gset
\! python3 $MOCKCTL clear-log
SELECT * FROM cfiam_replace_user_group_members('cf_all', :'prod_group', ARRAY[:'prod_member']);
SELECT id = :'prod_member' AS the_member, status
  FROM cfiam_replace_user_group_members('cf_all', :'prod_group', ARRAY[:'prod_member'], :'prod_id');
SELECT count(*) AS members FROM cfa.user_group_members
 WHERE account_id = :'prod_id' AND user_group_id = :'prod_group';
-- a server with account_id takes its own account only; a bad id is refused
SELECT * FROM cfiam_replace_user_group_members('cloudflare', :'prod_group', ARRAY[:'prod_member'], :'prod_id');
SELECT * FROM cfiam_replace_user_group_members('cf_all', :'prod_group', ARRAY[:'prod_member'], 'x');
\! python3 $MOCKCTL log | sed -E 's/[0-9a-f]{32}/ID/g'

--
-- An account's further pages go out with the next accounts' (whose page 1
-- told how many): with every answer 300 ms late, pages 2 and 3 of the three
-- accounts (six requests) arrive together after the three pages 1, not two
-- by two an answer apart; each page is asked once.
--
\! python3 $MOCKCTL reset --accounts 3 --account-members 120
ALTER SERVER cf_all OPTIONS (SET max_concurrency '8');
SELECT count(*) FROM cfa.accounts;
\! python3 $MOCKCTL latency 300
\! python3 $MOCKCTL clear-log
SELECT count(email) AS members, count(DISTINCT account_id) AS accounts FROM cfa.account_members;
\! python3 $MOCKCTL latency 0
\! python3 $MOCKCTL starts --keep --window-ms 100 | awk '{print "requests:", $1, "most within 100 ms:", $2}'
\! python3 $MOCKCTL log | sed -E 's/[0-9a-f]{32}/ID/g' | sort | uniq -c
-- ORDER BY with LIMIT over several accounts: the order is sent to each
-- account, whose first LIMIT (+ OFFSET) rows are all of it that can be
-- among the first of all: page 1 of each, the accounts together, and
-- PostgreSQL sorts them; the same rows as sorting every member
EXPLAIN (VERBOSE, COSTS OFF)
SELECT email FROM cfa.account_members ORDER BY email DESC LIMIT 2 OFFSET 1;
\! python3 $MOCKCTL clear-log
SELECT email FROM cfa.account_members ORDER BY email DESC LIMIT 2 OFFSET 1;
\! python3 $MOCKCTL log | sed -E 's/[0-9a-f]{32}/ID/g'
-- a second sort key the API cannot take: every page is read and sorted
SELECT account_id = :'main_id' AS main, email FROM cfa.account_members
 ORDER BY email DESC, 1 LIMIT 4;
\! python3 $MOCKCTL count
-- a member only one account has comes first from that account
INSERT INTO cfa.account_members (account_id, email, role_ids)
SELECT :'prod_id', 'zz.top@example.com', ARRAY[min(id)] FROM cfa.roles WHERE account_id = :'prod_id'
RETURNING account_id = :'prod_id' AS prod, email;
SELECT account_id = :'prod_id' AS prod, email FROM cfa.account_members ORDER BY email DESC LIMIT 1;
SELECT array(SELECT email FROM cfa.account_members ORDER BY email DESC LIMIT 5) =
       array(SELECT email FROM (SELECT email FROM cfa.account_members OFFSET 0) s
              ORDER BY email DESC LIMIT 5) AS same_rows;
ALTER SERVER cf_all OPTIONS (SET max_concurrency '1');

SET client_min_messages = warning;
DROP SERVER cf_all CASCADE;
DROP SCHEMA cfa;
RESET client_min_messages;
