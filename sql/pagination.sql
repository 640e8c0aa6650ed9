-- Paging: page 1, 2, ... until every row is read, and not one call more.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql

-- 1,234 account members at 50 a page: ceil(1234 / 50) = 25 calls; every row
-- once, none lost or duplicated across 25 pages
\! python3 $MOCKCTL reset --account-members 1234 --user-groups 0
SELECT count(*), count(DISTINCT id), min(email), max(email) FROM cf.account_members;
\! python3 $MOCKCTL count
-- the calls, as EXPLAIN ANALYZE counts them and as the API saw them (the
-- connection of the first scan is reused: the protocol it negotiated is
-- shown in sql/transport.sql)
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM cf.account_members;
\! python3 $MOCKCTL log
-- the rows come in the API's order across page boundaries
SELECT email FROM cf.account_members ORDER BY email OFFSET 48 LIMIT 4;
\! python3 $MOCKCTL log

-- exactly 100 rows: total_count ends paging after page 2, no empty page 3
\! python3 $MOCKCTL reset --account-members 100 --user-groups 0
SELECT count(*) FROM cf.account_members;
\! python3 $MOCKCTL log
-- no rows at all: one call
\! python3 $MOCKCTL reset --account-members 0 --user-groups 0 --roles 0
SELECT count(*) FROM cf.account_members;
SELECT count(*) FROM cf.user_groups;
\! python3 $MOCKCTL log

-- 1,300 user groups at 500 a page: 3 calls
\! python3 $MOCKCTL reset --user-groups 1300 --members-per-group 0 --account-members 0
SELECT count(*), count(DISTINCT id), count(DISTINCT name) FROM cf.user_groups;
\! python3 $MOCKCTL log
-- a filter that matches a subset pages over the subset only
SELECT count(*) FROM cf.user_groups WHERE name LIKE '%Zürich%';
\! python3 $MOCKCTL log

-- one group with 1,201 members at 500 a page: 3 calls for that group
\! python3 $MOCKCTL reset --user-groups 1 --members-per-group 1201 --account-members 1201
SELECT count(*), count(DISTINCT id) FROM cf.user_group_members WHERE user_group_id = '0362cbd6079cb9a6ce7ecd88fde2537e';
\! python3 $MOCKCTL log

-- a LIMIT that spans pages keeps the page size and stops after the page it needs
\! python3 $MOCKCTL reset --account-members 500 --user-groups 0
SELECT count(*) FROM (SELECT id FROM cf.account_members LIMIT 120) s;
\! python3 $MOCKCTL log
-- roles and permission groups page at 50 too; resource groups are not paged
\! python3 $MOCKCTL reset --roles 120 --permission-groups 51 --resource-groups 70 --user-groups 0 --account-members 0
SELECT (SELECT count(*) FROM cf.roles) AS roles,
       (SELECT count(*) FROM cf.permission_groups) AS permission_groups,
       (SELECT count(*) FROM cf.resource_groups) AS resource_groups;
\! python3 $MOCKCTL log
