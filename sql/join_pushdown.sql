-- Join pushdown: user groups with their members as one foreign scan.  The
-- groups are listed once (with g's filters), then each group's members
-- (with m's filters); EXPLAIN VERBOSE shows both calls.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
-- Thousands of requests one after another to the mock, which has no rate
-- limit: not paced (at the default 160 a second this suite took twice as long)
ALTER SERVER cloudflare OPTIONS (ADD max_requests_per_second '0');
\! python3 $MOCKCTL reset --user-groups 6 --members-per-group 3 --empty-groups 2 --account-members 12

-- INNER: every group's members
EXPLAIN (VERBOSE, COSTS OFF)
SELECT g.name, m.email FROM cf.user_groups g JOIN cf.user_group_members m ON m.user_group_id = g.id;
SELECT g.name, m.email FROM cf.user_groups g JOIN cf.user_group_members m ON m.user_group_id = g.id
ORDER BY g.name, m.email;
\! python3 $MOCKCTL log

-- LEFT: a group without members once, with NULLs
EXPLAIN (VERBOSE, COSTS OFF)
SELECT g.name, m.email FROM cf.user_groups g LEFT JOIN cf.user_group_members m ON m.user_group_id = g.id;
SELECT g.name, m.email FROM cf.user_groups g LEFT JOIN cf.user_group_members m ON m.user_group_id = g.id
ORDER BY g.name, m.email;
\! python3 $MOCKCTL log

-- quals on both sides: name LIKE -> fuzzyName, email LIKE -> fuzzyEmail,
-- both rechecked on the joined row
EXPLAIN (VERBOSE, COSTS OFF)
SELECT g.name, m.email FROM cf.user_groups g JOIN cf.user_group_members m ON m.user_group_id = g.id
WHERE g.name LIKE '%Group 000%' AND m.email LIKE '%neil%';
SELECT g.name, m.email FROM cf.user_groups g JOIN cf.user_group_members m ON m.user_group_id = g.id
WHERE g.name LIKE '%Group 000%' AND m.email LIKE '%neil%' ORDER BY 1, 2;
\! python3 $MOCKCTL log
-- name = v is exact: sent, not rechecked
EXPLAIN (VERBOSE, COSTS OFF)
SELECT g.name, m.email FROM cf.user_groups g LEFT JOIN cf.user_group_members m ON m.user_group_id = g.id
WHERE g.name = 'Group 0000';
SELECT g.name, m.email FROM cf.user_groups g LEFT JOIN cf.user_group_members m ON m.user_group_id = g.id
WHERE g.name = 'Group 0000' ORDER BY 2;
\! python3 $MOCKCTL log
-- LEFT with quals on both sides: a LIKE on the members in ON is sent as
-- fuzzyEmail and checked by the scan on each member ("Member Filter"); a
-- group none of whose members matches keeps its NULL row
EXPLAIN (VERBOSE, COSTS OFF)
SELECT g.name, m.email FROM cf.user_groups g
LEFT JOIN cf.user_group_members m ON m.user_group_id = g.id AND m.email LIKE '%neil%'
WHERE g.name LIKE '%Group 000%';
SELECT g.name, m.email FROM cf.user_groups g
LEFT JOIN cf.user_group_members m ON m.user_group_id = g.id AND m.email LIKE '%neil%'
WHERE g.name LIKE '%Group 000%'
ORDER BY 1, 2;
\! python3 $MOCKCTL log
-- the API's search ignores case and LIKE does not: the members the API
-- finds for '%NEIL%' fail the Member Filter, and each group has its NULL row
SELECT g.name, m.email FROM cf.user_groups g
LEFT JOIN cf.user_group_members m ON m.user_group_id = g.id AND m.email LIKE '%NEIL%'
ORDER BY 1, 2;
SELECT g.name, m.email FROM cf.user_groups g
JOIN cf.user_group_members m ON m.user_group_id = g.id AND m.email LIKE '%NEIL%';
\! python3 $MOCKCTL count

-- only the columns the query reads are in the scan's tuple
EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*) FROM cf.user_groups g JOIN cf.user_group_members m ON m.user_group_id = g.id;
SELECT count(*) FROM cf.user_groups g JOIN cf.user_group_members m ON m.user_group_id = g.id;
\! python3 $MOCKCTL count

-- rescans: the pushed join inside a nested loop and a subplan
CREATE TEMP TABLE wanted (name text);
INSERT INTO wanted VALUES ('Group 0000'), ('Group 0004');
SELECT w.name, (SELECT count(*) FROM cf.user_groups g JOIN cf.user_group_members m
                 ON m.user_group_id = g.id WHERE g.name = w.name) AS members
FROM wanted w ORDER BY 1;
\! python3 $MOCKCTL log
-- a prepared statement keeps the pushed join and its parameters
PREPARE members_of(text) AS
SELECT m.email FROM cf.user_groups g JOIN cf.user_group_members m ON m.user_group_id = g.id
WHERE g.name = $1 ORDER BY 1;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE members_of('Group 0001 O''Brien''s team');
EXECUTE members_of('Group 0001 O''Brien''s team');
EXECUTE members_of('Group 0003 Équipe Zürich');
RESET plan_cache_mode;
\! python3 $MOCKCTL log

-- the same join with max_concurrency: the members listings go 4 at a time,
-- and the requests stay the minimum (1 + one listing per group); over
-- HTTP/1.1 on 4 connections, over HTTP/2 on one (join_pushdown_1.out)
ALTER SERVER cloudflare OPTIONS (SET max_concurrency '4');
\! python3 $MOCKCTL reset --user-groups 40 --members-per-group 3 --account-members 60
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT g.name, m.email FROM cf.user_groups g JOIN cf.user_group_members m ON m.user_group_id = g.id;
\! python3 $MOCKCTL count
ALTER SERVER cloudflare OPTIONS (SET max_concurrency '1');

-- Three tables at 10,000 members: the pushed join of the groups with their
-- members, then a hash of the account members (no join filter comparing
-- every pair).  Requests: 1 groups page + 200 members listings + 200 pages
-- of account members, the minimum.
\! python3 $MOCKCTL reset --user-groups 200 --members-per-group 50 --account-members 10000
-- (the sizes are learnt from a first read, as a session would: the pushed
-- join counts the groups and, having listed every group, the members)
SELECT count(*) FROM cf.account_members;
SELECT count(*) FROM cf.user_groups g JOIN cf.user_group_members m ON m.user_group_id = g.id;
\! python3 $MOCKCTL count
EXPLAIN (COSTS OFF)
SELECT g.name, a.email, a.status FROM cf.user_groups g
JOIN cf.user_group_members m ON m.user_group_id = g.id
JOIN cf.account_members a ON a.id = m.id;
SELECT count(*), count(DISTINCT g.id), count(DISTINCT a.id) FROM cf.user_groups g
JOIN cf.user_group_members m ON m.user_group_id = g.id
JOIN cf.account_members a ON a.id = m.id;
\! python3 $MOCKCTL count
