--
-- scan_account_members: what a query on cf.account_members asks the API for.
--
-- Every pushdown claim is pinned three ways: EXPLAIN (VERBOSE) shows the
-- planned call, the query shows the rows, and the mock's request log shows
-- exactly which calls were made (mockctl log prints the log, then clears it).
--
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
-- 12 members (the seed's default): emails with quotes and non-ASCII letters
-- (o'neil.*, jürgen.*), names null for every 6th member, member 6 pending.
\! python3 $MOCKCTL reset --account-members 12 --roles 3

--
-- Full scan: one list call with the endpoint's maximum per_page (50); 12 rows
-- fit on page 1 and total_count says there is nothing more: no page 2.
--
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, email FROM cf.account_members;
SELECT id, email, status, first_name, last_name FROM cf.account_members;
\! python3 $MOCKCTL log
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM cf.account_members;
\! python3 $MOCKCTL log

--
-- id = v: a GET by id, no list call.
--
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, email FROM cf.account_members WHERE id = '6bdb09137b6435a251806007ed22f1a9';
SELECT id, email, first_name, last_name
  FROM cf.account_members WHERE id = '6bdb09137b6435a251806007ed22f1a9';
\! python3 $MOCKCTL log
-- the constant on the left works the same
SELECT email FROM cf.account_members WHERE '181976eb9ba5a68cf95476bfbeb6cf41' = id;
\! python3 $MOCKCTL log
-- an unknown but well-formed id: the API answers 404, which is no rows (not
-- an error), after exactly one call
SELECT id, email FROM cf.account_members WHERE id = 'ffffffffffffffffffffffffffffffff';
\! python3 $MOCKCTL log
-- a value that is not a 32-hex id never reaches a URL path: no rows, no call
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT id FROM cf.account_members WHERE id = '../../zones';
SELECT id FROM cf.account_members WHERE id = '../../zones';
SELECT id FROM cf.account_members WHERE id = '6BDB09137B6435A251806007ED22F1A9';  -- upper case
SELECT id FROM cf.account_members WHERE id = '6bdb09137b6435a251806007ed22f1a';   -- 31 digits
SELECT id FROM cf.account_members WHERE id = '';
\! python3 $MOCKCTL log
-- id = v with another qual: GET by id, the other qual checked locally
EXPLAIN (VERBOSE, COSTS OFF)
SELECT email FROM cf.account_members
 WHERE id = 'd7259787dbad87599f890682d559148c' AND status = 'accepted';
SELECT email FROM cf.account_members
 WHERE id = 'd7259787dbad87599f890682d559148c' AND status = 'accepted';
SELECT email FROM cf.account_members
 WHERE id = 'd7259787dbad87599f890682d559148c' AND status = 'pending';
\! python3 $MOCKCTL log

--
-- id = ANY(array) / id IN (...): one GET per distinct valid id; duplicates
-- are fetched once, NULLs and malformed elements are skipped without a call,
-- an unknown id is a 404 that contributes no row.
--
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, email FROM cf.account_members
 WHERE id = ANY (ARRAY['6bdb09137b6435a251806007ed22f1a9', '../../zones',
                       '6bdb09137b6435a251806007ed22f1a9', NULL,
                       'ffffffffffffffffffffffffffffffff',
                       '5aa38b0f1986549cba9b4c1e9f276f3b']);
SELECT id, email FROM cf.account_members
 WHERE id = ANY (ARRAY['6bdb09137b6435a251806007ed22f1a9', '../../zones',
                       '6bdb09137b6435a251806007ed22f1a9', NULL,
                       'ffffffffffffffffffffffffffffffff',
                       '5aa38b0f1986549cba9b4c1e9f276f3b'])
 ORDER BY email;
\! python3 $MOCKCTL log
SELECT id, email FROM cf.account_members
 WHERE id IN ('181976eb9ba5a68cf95476bfbeb6cf41', '271f662a2ea3a892074c080ff9d0ff11')
 ORDER BY email;
\! python3 $MOCKCTL log
-- nothing valid in the list: no call at all
SELECT id FROM cf.account_members WHERE id = ANY (ARRAY['x', NULL, '../members']);
SELECT id FROM cf.account_members WHERE id = ANY ('{}'::text[]);
\! python3 $MOCKCTL log

--
-- status = v: ?status=v.  A status outside the API's enum (accepted, pending,
-- rejected) is no rows and no call, not an API error.
--
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, email FROM cf.account_members WHERE status = 'pending';
SELECT id, email, status FROM cf.account_members WHERE status = 'pending';
\! python3 $MOCKCTL log
SELECT count(*) FROM cf.account_members WHERE status = 'accepted';
SELECT count(*) FROM cf.account_members WHERE status = 'rejected';
\! python3 $MOCKCTL log
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT id FROM cf.account_members WHERE status = 'bogus';
SELECT id FROM cf.account_members WHERE status = 'bogus';
SELECT id FROM cf.account_members WHERE status = 'Pending';
\! python3 $MOCKCTL log

--
-- ORDER BY email | status: the API's order (order=user.email | status, plus
-- direction) is PostgreSQL's for these non-null "C"-collation columns, so the
-- scan delivers it and there is no Sort node.
--
EXPLAIN (VERBOSE, COSTS OFF) SELECT email FROM cf.account_members ORDER BY email;
SELECT email FROM cf.account_members ORDER BY email;
\! python3 $MOCKCTL log
EXPLAIN (VERBOSE, COSTS OFF) SELECT email FROM cf.account_members ORDER BY email DESC;
SELECT email FROM cf.account_members ORDER BY email DESC;
\! python3 $MOCKCTL log
EXPLAIN (VERBOSE, COSTS OFF) SELECT status, email FROM cf.account_members ORDER BY status;
-- ties keep the API's order (the mock's sort is stable)
SELECT status, email FROM cf.account_members ORDER BY status;
\! python3 $MOCKCTL log
EXPLAIN (VERBOSE, COSTS OFF) SELECT status, email FROM cf.account_members ORDER BY status DESC;
SELECT status, email FROM cf.account_members ORDER BY status DESC;
\! python3 $MOCKCTL log
-- with a pushed filter: both go to the API
EXPLAIN (VERBOSE, COSTS OFF)
SELECT email FROM cf.account_members WHERE status = 'accepted' ORDER BY email DESC;
SELECT email FROM cf.account_members WHERE status = 'accepted' ORDER BY email DESC;
\! python3 $MOCKCTL log

--
-- ORDER BY first_name | last_name: the order is sent, but these columns may be
-- null and the API's null placement is not documented, so the order is not
-- claimed: a Sort node stays (PostgreSQL: NULLS LAST for ASC, FIRST for DESC).
--
EXPLAIN (VERBOSE, COSTS OFF)
SELECT first_name, email FROM cf.account_members ORDER BY first_name;
SELECT first_name, email FROM cf.account_members ORDER BY first_name;
\! python3 $MOCKCTL log
EXPLAIN (VERBOSE, COSTS OFF)
SELECT last_name, email FROM cf.account_members ORDER BY last_name DESC;
SELECT last_name, email FROM cf.account_members ORDER BY last_name DESC;
\! python3 $MOCKCTL log

-- an order under another collation or operator family than the API's is not
-- claimed either (the parameters still go, PostgreSQL sorts); POSIX is "C"
EXPLAIN (VERBOSE, COSTS OFF)
SELECT email FROM cf.account_members ORDER BY email COLLATE "und-x-icu";
EXPLAIN (VERBOSE, COSTS OFF)
SELECT email FROM cf.account_members ORDER BY email USING ~<~;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT email FROM cf.account_members ORDER BY email COLLATE "POSIX" DESC;

-- ORDER BY a column the API cannot sort by, or by two keys: nothing is sent
EXPLAIN (VERBOSE, COSTS OFF)
SELECT email FROM cf.account_members ORDER BY two_factor_authentication_enabled, email;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT email FROM cf.account_members ORDER BY status, email;

--
-- Table option order_pushdown 'false': no order parameter, PostgreSQL sorts.
--
ALTER FOREIGN TABLE cf.account_members OPTIONS (ADD order_pushdown 'false');
EXPLAIN (VERBOSE, COSTS OFF) SELECT email FROM cf.account_members ORDER BY email;
SELECT email FROM cf.account_members ORDER BY email DESC LIMIT 4;
\! python3 $MOCKCTL log
ALTER FOREIGN TABLE cf.account_members OPTIONS (DROP order_pushdown);
EXPLAIN (VERBOSE, COSTS OFF) SELECT email FROM cf.account_members ORDER BY email;

--
-- LIMIT k: when every qual is pushed exactly, ask for no bigger a page than
-- needed (but at least the API's minimum of 5); the scan stops after k rows.
--
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, email FROM cf.account_members LIMIT 7;
SELECT email FROM cf.account_members LIMIT 7;
\! python3 $MOCKCTL log
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, email FROM cf.account_members LIMIT 2;
SELECT email FROM cf.account_members LIMIT 2;
\! python3 $MOCKCTL log
-- OFFSET counts: LIMIT 4 OFFSET 3 needs 7 rows
EXPLAIN (VERBOSE, COSTS OFF) SELECT email FROM cf.account_members LIMIT 4 OFFSET 3;
SELECT email FROM cf.account_members LIMIT 4 OFFSET 3;
\! python3 $MOCKCTL log
-- a NULL LIMIT (or LIMIT ALL) is no limit, a NULL OFFSET is no offset: the
-- planned call in EXPLAIN and the call sent agree
EXPLAIN (VERBOSE, COSTS OFF) SELECT email FROM cf.account_members LIMIT NULL OFFSET 3;
SELECT count(*) FROM (SELECT email FROM cf.account_members LIMIT NULL OFFSET 3) s;
\! python3 $MOCKCTL log
EXPLAIN (VERBOSE, COSTS OFF) SELECT email FROM cf.account_members LIMIT ALL OFFSET 3;
SELECT count(*) FROM (SELECT email FROM cf.account_members LIMIT ALL OFFSET 3) s;
\! python3 $MOCKCTL log
EXPLAIN (VERBOSE, COSTS OFF) SELECT email FROM cf.account_members LIMIT 3 OFFSET NULL;
SELECT count(*) FROM (SELECT email FROM cf.account_members LIMIT 3 OFFSET NULL) s;
\! python3 $MOCKCTL log
-- LIMIT with a pushed filter and a delivered order
EXPLAIN (VERBOSE, COSTS OFF)
SELECT email FROM cf.account_members WHERE status = 'accepted' ORDER BY email LIMIT 3;
SELECT email FROM cf.account_members WHERE status = 'accepted' ORDER BY email LIMIT 3;
\! python3 $MOCKCTL log
-- LIMIT 0 reads nothing
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM cf.account_members LIMIT 0;
\! python3 $MOCKCTL log
-- a qual that is not pushed (first_name LIKE): the API cannot know how many
-- rows it takes to find k matches, so no per_page hint
EXPLAIN (VERBOSE, COSTS OFF)
SELECT email FROM cf.account_members WHERE first_name LIKE 'First%' LIMIT 3;
SELECT email FROM cf.account_members WHERE first_name LIKE 'First%' LIMIT 3;
\! python3 $MOCKCTL log
-- an order PostgreSQL still sorts (first_name): no hint either
EXPLAIN (VERBOSE, COSTS OFF)
SELECT email FROM cf.account_members ORDER BY first_name LIMIT 3;
SELECT first_name, email FROM cf.account_members ORDER BY first_name LIMIT 3;
\! python3 $MOCKCTL log
-- nor when the LIMIT applies to groups, not to the scan's rows
SELECT status, count(*) FROM cf.account_members GROUP BY status ORDER BY status LIMIT 1;
\! python3 $MOCKCTL log

--
-- Column types: role_ids text[] (the ids of "roles"), roles and policies jsonb,
-- two_factor_authentication_enabled boolean.
--
SELECT email, role_ids, roles->0->>'name' AS role_name, jsonb_typeof(roles) AS roles_type,
       jsonb_array_length(policies) AS policies
  FROM cf.account_members WHERE id = '181976eb9ba5a68cf95476bfbeb6cf41';
SELECT pg_typeof(role_ids) AS role_ids, pg_typeof(roles) AS roles,
       pg_typeof(policies) AS policies,
       pg_typeof(two_factor_authentication_enabled) AS tfa
  FROM cf.account_members WHERE id = '181976eb9ba5a68cf95476bfbeb6cf41';
\! python3 $MOCKCTL log
-- role_ids matches roles, for every member
SELECT count(*) AS members,
       count(*) FILTER (WHERE role_ids = ARRAY(SELECT r->>'id' FROM jsonb_array_elements(roles) r)) AS consistent
  FROM cf.account_members;
-- a join through role_ids
SELECT r.name AS role, count(*) AS members
  FROM cf.account_members m JOIN cf.roles r ON r.id = ANY (m.role_ids)
 GROUP BY r.name ORDER BY r.name;
\! python3 $MOCKCTL log
-- quals on these columns are checked locally on a full listing
EXPLAIN (VERBOSE, COSTS OFF)
SELECT email FROM cf.account_members WHERE two_factor_authentication_enabled;
SELECT email, two_factor_authentication_enabled
  FROM cf.account_members WHERE two_factor_authentication_enabled ORDER BY email;
SELECT email FROM cf.account_members
 WHERE '9c3120ba16f375cb960c11ecbb0d846b' = ANY (role_ids) ORDER BY email;
\! python3 $MOCKCTL log

--
-- Text as the API sends it: non-ASCII letters, quotes and commas survive;
-- a null name is SQL NULL.
--
SELECT email, first_name, last_name, length(first_name) AS len
  FROM cf.account_members
 WHERE email LIKE 'o''neil%' OR email LIKE 'jürgen%'
 ORDER BY email;
SELECT email FROM cf.account_members WHERE email = 'o''neil.00011@example.com';
SELECT email, first_name IS NULL AS first_null, last_name IS NULL AS last_null
  FROM cf.account_members WHERE first_name IS NULL ORDER BY email;
SELECT count(*) FILTER (WHERE first_name IS NULL) AS null_first_names,
       count(*) FILTER (WHERE user_id IS NULL) AS null_user_ids
  FROM cf.account_members;
\! python3 $MOCKCTL log

--
-- A full scan crosses pages: 100 members are exactly two pages of 50, so two
-- calls (total_count says page 3 is not needed).
--
\! python3 $MOCKCTL reset --account-members 100
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT id FROM cf.account_members;
\! python3 $MOCKCTL log
SELECT count(*), count(DISTINCT id) FROM cf.account_members;
\! python3 $MOCKCTL log
-- LIMIT 60 spans two pages of 50
SELECT count(*) FROM (SELECT id FROM cf.account_members LIMIT 60) s;
\! python3 $MOCKCTL log
