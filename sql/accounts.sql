--
-- accounts: the accounts the credential can see (GET /accounts), read-only.
--
-- Its paths name no account: the server's account_id (still required, for
-- the other tables) and a table's account_id option are not in them.  Every
-- pushdown claim is pinned three ways: EXPLAIN (VERBOSE) shows the planned
-- call, the query shows the rows, and the mock's request log shows exactly
-- which calls were made (mockctl log prints the log, then clears it).
--
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
-- three accounts: the server's (main-00, enterprise, managed by an
-- organisation), prod-01 (standard) and staging-02 (enterprise, managed)
\! python3 $MOCKCTL reset --accounts 3

--
-- Full scan: one call to GET /accounts with its maximum per_page (50).
--
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM cf.accounts;
SELECT id, name, type, created_on, settings, managed_by FROM cf.accounts;
\! python3 $MOCKCTL log
-- the ids of the other two, for the queries below
SELECT id AS prod_id FROM cf.accounts WHERE name = 'prod-01' \gset
SELECT id AS staging_id FROM cf.accounts WHERE name = 'staging-02' \gset
\! python3 $MOCKCTL clear-log

--
-- id = v: GET /accounts/{v}, no listing.
--
EXPLAIN (VERBOSE, COSTS OFF)
SELECT name FROM cf.accounts WHERE id = '0123456789abcdef0123456789abcdef';
SELECT id, name, type FROM cf.accounts WHERE id = '0123456789abcdef0123456789abcdef';
SELECT name, type, managed_by FROM cf.accounts WHERE id = :'prod_id';
\! python3 $MOCKCTL log
-- a value that is not a 32-hex id never reaches a URL path: no rows, no call
SELECT id FROM cf.accounts WHERE id = '../accounts';
SELECT id FROM cf.accounts WHERE id = '0123456789ABCDEF0123456789ABCDEF';
\! python3 $MOCKCTL log
-- an account the credential cannot see: Cloudflare answers 403 (9109), an
-- error, not an empty result
SELECT id FROM cf.accounts WHERE id = 'ffffffffffffffffffffffffffffffff';
\! python3 $MOCKCTL log

--
-- id = ANY(array), id IN (...): one GET per distinct valid id.
--
EXPLAIN (VERBOSE, COSTS OFF)
SELECT name FROM cf.accounts WHERE id IN ('0123456789abcdef0123456789abcdef', 'x');
SELECT name FROM cf.accounts
 WHERE id = ANY (ARRAY[:'staging_id', '0123456789abcdef0123456789abcdef', :'staging_id', NULL, 'x'])
 ORDER BY name;
\! python3 $MOCKCTL log

--
-- name = v: ?name=v.  The API's description does not say that the match is
-- exact, so PostgreSQL checks it again (the Filter line): no count(*) or
-- LIMIT is taken from the API's answer.
--
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, type FROM cf.accounts WHERE name = 'prod-01';
SELECT name, type FROM cf.accounts WHERE name = 'prod-01';
\! python3 $MOCKCTL log
-- escaped in the URL; no such account is no rows
SELECT id FROM cf.accounts WHERE name = 'prod 01 & co';
\! python3 $MOCKCTL log
-- the API takes one name: name IN (...) stays with PostgreSQL
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM cf.accounts WHERE name IN ('prod-01', 'dev-03');
-- other conditions are PostgreSQL's
EXPLAIN (VERBOSE, COSTS OFF)
SELECT name FROM cf.accounts WHERE type = 'enterprise' AND name LIKE '%0%';
SELECT name FROM cf.accounts WHERE type = 'enterprise' AND name LIKE '%0%' ORDER BY name;
\! python3 $MOCKCTL log

--
-- ORDER BY name: the API's ?direction= does not say what it sorts by, so
-- nothing is sent and PostgreSQL sorts.
--
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM cf.accounts ORDER BY name DESC;
SELECT name FROM cf.accounts ORDER BY name DESC;
\! python3 $MOCKCTL log

--
-- LIMIT k: no bigger a page than needed, but at least the API's minimum (5).
--
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM cf.accounts LIMIT 2;
SELECT name FROM cf.accounts LIMIT 2;
\! python3 $MOCKCTL log

--
-- count(*) (count_pushdown on): one call of the smallest page, answered from
-- result_info.total_count; with a name qual (rechecked) the rows are read.
--
ALTER FOREIGN TABLE cf.accounts OPTIONS (ADD count_pushdown 'true');
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM cf.accounts;
SELECT count(*) FROM cf.accounts;
\! python3 $MOCKCTL log
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM cf.accounts WHERE name = 'staging-02';
SELECT count(*) FROM cf.accounts WHERE name = 'staging-02';
\! python3 $MOCKCTL log
ALTER FOREIGN TABLE cf.accounts OPTIONS (DROP count_pushdown);

--
-- Paging: 55 accounts are two pages of 50 (total_count tells that page 2 is
-- the last).
--
\! python3 $MOCKCTL reset --accounts 55
SELECT count(*), count(DISTINCT id), min(name), max(name) FROM cf.accounts;
\! python3 $MOCKCTL log
\! python3 $MOCKCTL reset --accounts 3

--
-- The account_id options are not in the paths: a table option naming another
-- account changes nothing.
--
ALTER FOREIGN TABLE cf.accounts OPTIONS (ADD account_id 'fedcba9876543210fedcba9876543210');
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM cf.accounts;
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM cf.accounts WHERE id = :'prod_id';
SELECT name FROM cf.accounts WHERE id = :'prod_id';
\! python3 $MOCKCTL log
ALTER FOREIGN TABLE cf.accounts OPTIONS (DROP account_id);

--
-- An account-owned API token: Cloudflare refuses it on GET /accounts (400,
-- code 1001); the error says what credential lists accounts.  A GET by id
-- takes such a token.
--
\! python3 $MOCKCTL fault status --status 400 --code 1001 --message 'List accounts endpoint does not support account owned tokens.' --match '/accounts?'
SELECT name FROM cf.accounts;
\! python3 $MOCKCTL log
\! python3 $MOCKCTL fault status --status 400 --code 1001 --message 'List accounts endpoint does not support account owned tokens.' --match '/accounts?'
SELECT name FROM cf.accounts WHERE id = '0123456789abcdef0123456789abcdef';
\! python3 $MOCKCTL clear-faults
\! python3 $MOCKCTL log
-- a 1001 elsewhere gets no such hint
\! python3 $MOCKCTL fault status --status 400 --code 1001 --message 'Invalid value for parameter' --match '/roles?'
SELECT name FROM cf.roles;
\! python3 $MOCKCTL log

--
-- Read-only: writes are refused before any call.
--
INSERT INTO cf.accounts (name) VALUES ('new');
UPDATE cf.accounts SET name = 'renamed';
DELETE FROM cf.accounts;
\! python3 $MOCKCTL log

--
-- A hand-written table: any subset of the columns, in any order.
--
CREATE FOREIGN TABLE cf.account_names (name text, id text)
  SERVER cloudflare OPTIONS (resource 'accounts');
SELECT name, id = '0123456789abcdef0123456789abcdef' AS is_server_account
  FROM cf.account_names ORDER BY name;
\! python3 $MOCKCTL log
DROP FOREIGN TABLE cf.account_names;
