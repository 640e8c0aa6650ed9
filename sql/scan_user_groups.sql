-- user_groups: which WHERE / ORDER BY / LIMIT forms become which API call.
-- Each claim: the plan (EXPLAIN VERBOSE), the rows, and the mock's log.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
\! python3 $MOCKCTL reset --user-groups 12

-- full scan: one page of up to 500
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, name FROM cf.user_groups;
SELECT name, created_on, modified_on FROM cf.user_groups;
\! python3 $MOCKCTL log

-- timestamps with 0, 4 and 9 fractional digits all convert
SELECT count(*), min(created_on), max(modified_on) FROM cf.user_groups;
\! python3 $MOCKCTL log

-- id = v is a GET by id, nothing else
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM cf.user_groups WHERE id = '6169e6172518cd94c1faff2412301d81';
SELECT name, jsonb_array_length(policies) FROM cf.user_groups WHERE id = '6169e6172518cd94c1faff2412301d81';
\! python3 $MOCKCTL log
-- an unknown id is no rows (the API's 404), not an error
SELECT name FROM cf.user_groups WHERE id = '00000000000000000000000000000000';
\! python3 $MOCKCTL log
-- a value that is not an id never reaches a URL: no rows, no request
SELECT name FROM cf.user_groups WHERE id = '../../zones';
SELECT name FROM cf.user_groups WHERE id = '6169E6172518CD94C1FAFF2412301D81';
SELECT name FROM cf.user_groups WHERE id = NULL;
\! python3 $MOCKCTL log
-- id = ANY: one GET per distinct valid id
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM cf.user_groups
  WHERE id = ANY (ARRAY['6169e6172518cd94c1faff2412301d81', 'nonsense', '6169e6172518cd94c1faff2412301d81', 'a2352de525fd0365ff1049ae7185024a']);
SELECT name FROM cf.user_groups
  WHERE id = ANY (ARRAY['6169e6172518cd94c1faff2412301d81', 'nonsense', '6169e6172518cd94c1faff2412301d81', 'a2352de525fd0365ff1049ae7185024a'])
  ORDER BY name;
\! python3 $MOCKCTL log
SELECT name FROM cf.user_groups WHERE id IN ('6169e6172518cd94c1faff2412301d81', NULL);
\! python3 $MOCKCTL log
-- other quals on a GET by id are checked locally
SELECT name FROM cf.user_groups WHERE id = '6169e6172518cd94c1faff2412301d81' AND name = 'nope';
\! python3 $MOCKCTL log

-- name = v is the API's exact name filter, URL-escaped (quotes, commas, non-ASCII)
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM cf.user_groups WHERE name = 'Group 0002 Ops, "core"';
SELECT name FROM cf.user_groups WHERE name = 'Group 0002 Ops, "core"';
SELECT name FROM cf.user_groups WHERE name = 'Group 0003 Équipe Zürich';
SELECT name FROM cf.user_groups WHERE 'Group 0001 O''Brien''s team' = name;
SELECT name FROM cf.user_groups WHERE name = 'Group 0002 Ops';
\! python3 $MOCKCTL log

-- LIKE / ILIKE '%v%' is the API's substring search, rechecked locally
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM cf.user_groups WHERE name LIKE '%Zürich%';
SELECT name FROM cf.user_groups WHERE name LIKE '%Zürich%';
SELECT name FROM cf.user_groups WHERE name ILIKE '%o''brien%';
-- the API search is case-insensitive; LIKE is not: the local recheck decides
SELECT name FROM cf.user_groups WHERE name LIKE '%o''brien%';
SELECT name FROM cf.user_groups WHERE name LIKE 'Group 001%' ORDER BY name;
\! python3 $MOCKCTL log
-- a pattern with wildcards inside has no literal core: not sent, filtered locally
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM cf.user_groups WHERE name LIKE '%Group_000%';
SELECT name FROM cf.user_groups WHERE name LIKE '%Group_0001%';
\! python3 $MOCKCTL log

-- ORDER BY name is the API's direction: no Sort node
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM cf.user_groups ORDER BY name;
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM cf.user_groups ORDER BY name DESC;
SELECT name FROM cf.user_groups ORDER BY name DESC;
\! python3 $MOCKCTL log
-- an order the API does not give (two keys, an expression, another column) is sorted locally
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM cf.user_groups ORDER BY name COLLATE "C" DESC, id;
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM cf.user_groups ORDER BY lower(name);
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM cf.user_groups ORDER BY created_on;
-- order_pushdown 'false' turns it off
ALTER FOREIGN TABLE cf.user_groups OPTIONS (ADD order_pushdown 'false');
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM cf.user_groups ORDER BY name DESC;
SELECT name FROM cf.user_groups ORDER BY name DESC LIMIT 2;
\! python3 $MOCKCTL log
ALTER FOREIGN TABLE cf.user_groups OPTIONS (DROP order_pushdown);

-- LIMIT: ask for no bigger a page than needed, when every qual is pushed exactly
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM cf.user_groups ORDER BY name DESC LIMIT 3;
SELECT name FROM cf.user_groups ORDER BY name DESC LIMIT 3;
\! python3 $MOCKCTL log
SELECT name FROM cf.user_groups ORDER BY name LIMIT 2 OFFSET 3;
\! python3 $MOCKCTL log
SELECT name FROM cf.user_groups WHERE name = 'Group 0004' LIMIT 1;
\! python3 $MOCKCTL log
-- ... but not when rows are filtered locally (the hint would cut the answer)
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM cf.user_groups WHERE name LIKE '%Group%' LIMIT 3;
SELECT name FROM cf.user_groups WHERE name LIKE '%Group%' AND created_on > '2024-03-01 12:05:00+00' LIMIT 3;
\! python3 $MOCKCTL log
-- ... nor when PostgreSQL sorts first
SELECT name FROM cf.user_groups ORDER BY created_on DESC LIMIT 2;
\! python3 $MOCKCTL log
-- reading stops as soon as LIMIT is met: a LIMIT in a subquery reads one page
SELECT count(*) FROM (SELECT * FROM cf.user_groups LIMIT 5) s;
\! python3 $MOCKCTL log

-- planning and a plain EXPLAIN send no request
EXPLAIN SELECT * FROM cf.user_groups WHERE id = '6169e6172518cd94c1faff2412301d81';
EXPLAIN SELECT * FROM cf.user_groups;
\! python3 $MOCKCTL count
-- EXPLAIN ANALYZE counts the calls
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM cf.user_groups;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM cf.user_groups WHERE id IN ('6169e6172518cd94c1faff2412301d81', 'a2352de525fd0365ff1049ae7185024a', '00000000000000000000000000000000');
\! python3 $MOCKCTL log
