-- effective_access: who can do what, where.  cfiam_create_effective_access
-- makes a view over the imported tables: a row per member, per way they
-- get access (direct, group, role), per policy's permission group and
-- resource group; each table is read once.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
\! python3 $MOCKCTL reset --user-groups 3 --members-per-group 2 --account-members 8 --roles 2 --permission-groups 3 --resource-groups 2
SELECT cfiam_create_effective_access('cf');
\d cf.effective_access
-- a deny: the second group's policy becomes one that denies a permission
-- group on a resource group (an UPDATE through cfiam)
SELECT id AS pg1 FROM cf.permission_groups ORDER BY name LIMIT 1 \gset
SELECT id AS rg1 FROM cf.resource_groups ORDER BY id LIMIT 1 \gset
SELECT id AS g2, name AS g2_name FROM cf.user_groups ORDER BY name OFFSET 1 LIMIT 1 \gset
UPDATE cf.user_groups SET policies = jsonb_build_array(jsonb_build_object(
    'id', policies -> 0 ->> 'id', 'access', 'deny',
    'permission_groups', jsonb_build_array(jsonb_build_object('id', :'pg1')),
    'resource_groups', jsonb_build_array(jsonb_build_object('id', :'rg1'))))
  WHERE id = :'g2'
  RETURNING policies -> 0 ->> 'access' AS access;
\! python3 $MOCKCTL clear-log
-- every way each member gets access
SELECT via, access, count(*) AS grants, count(DISTINCT member_id) AS members
  FROM cf.effective_access GROUP BY via, access ORDER BY via, access;
-- the minimum of calls: the members' page, the groups, each group's
-- members (the pushed join), the permission groups, the resource groups
\! python3 $MOCKCTL log | sed -E 's/[0-9a-f]{32}/ID/g' | sort | uniq -c
-- a member of the second group is denied through it, by name
SELECT DISTINCT e.via, e.user_group_name = :'g2_name' AS through_g2, e.access,
       e.permission_group_id = :'pg1' AS pg1, e.resource_group_id = :'rg1' AS rg1,
       e.permission_group_name IS NOT NULL AS pg_named,
       e.resource_group_name IS NOT NULL AS rg_named, e.scope ? 'key' AS scoped
  FROM cf.effective_access e
  WHERE e.user_group_id = :'g2';
-- legacy roles: one row per role, its permissions as Cloudflare lists them
SELECT role_name, role_permissions ? 'dns' AS lists_dns, access
  FROM cf.effective_access WHERE via = 'role' ORDER BY role_name LIMIT 2;
-- reading deny: a member is allowed a permission group on a scope when some
-- row allows it there and no row denies it there
SELECT count(*) AS members_denied_pg1
  FROM (SELECT member_id FROM cf.effective_access
         WHERE access = 'deny' AND permission_group_id = :'pg1'
         GROUP BY member_id) d;
-- made again: replaced in place; a schema without the tables is an error
SELECT cfiam_create_effective_access('cf');
CREATE SCHEMA empty_schema;
SELECT cfiam_create_effective_access('empty_schema');
DROP SCHEMA empty_schema;
-- read ahead: the view's first requests (members page 1, the groups, the
-- permission and resource groups) go out as one batch, answered before any
-- other is sent; with 120 members (three pages) the first four requests
-- are those four, and nothing is asked twice
\! python3 $MOCKCTL reset --user-groups 3 --members-per-group 2 --account-members 120 --permission-groups 3 --resource-groups 2
SELECT count(*) FROM cf.resource_groups;
\! python3 $MOCKCTL clear-log
SELECT count(DISTINCT member_id) AS members FROM cf.effective_access;
\! python3 $MOCKCTL log --keep | head -n 4 | sed -E 's/[0-9a-f]{32}/ID/g' | sort
\! python3 $MOCKCTL log | sed -E 's/[0-9a-f]{32}/ID/g' | sort | uniq -c
-- EXPLAIN ANALYZE counts each answer read ahead in its own scan
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
SELECT count(*) FROM cf.effective_access;
-- called by itself, or a second time in a query, it has nothing to send
SELECT cfiam_read_ahead() AS nothing;
\! python3 $MOCKCTL clear-log
SELECT (SELECT cfiam_read_ahead()) AS read_ahead,
       (SELECT string_agg(name, ',' ORDER BY name) FROM cf.permission_groups) AS pgs,
       (SELECT count(*) FROM (SELECT * FROM cf.resource_groups) r) AS rgs,
       (SELECT cfiam_read_ahead()) AS again;
\! python3 $MOCKCTL log | sed -E 's/[0-9a-f]{32}/ID/g'
-- a nested loop rescans its inner side before its first row: a scan read
-- ahead and not read yet keeps its answer (each table asked once)
EXPLAIN (COSTS OFF)
SELECT p.name FROM cf.permission_groups p,
       (SELECT count(*) FROM (SELECT * FROM cf.resource_groups) r) c
 WHERE (SELECT cfiam_read_ahead()) >= 0;
SELECT count(*) FROM cf.permission_groups p,
       (SELECT count(*) FROM (SELECT * FROM cf.resource_groups) r) c
 WHERE (SELECT cfiam_read_ahead()) >= 0;
\! python3 $MOCKCTL log | sed -E 's/[0-9a-f]{32}/ID/g' | sort
-- only the calling query's scans: an open cursor's scan is not read ahead
BEGIN;
DECLARE pgs CURSOR FOR SELECT name FROM cf.permission_groups ORDER BY name;
\! python3 $MOCKCTL clear-log
SELECT cfiam_read_ahead() AS read_ahead;
\! python3 $MOCKCTL log
FETCH 1 FROM pgs;
\! python3 $MOCKCTL log | sed -E 's/[0-9a-f]{32}/ID/g'
COMMIT;
-- an error answer read ahead is its scan's error, raised when it reads it
\! python3 $MOCKCTL fault status --status 403 --match permission_groups --count 1
SELECT (SELECT cfiam_read_ahead()) AS read_ahead,
       (SELECT count(*) FROM (SELECT * FROM cf.permission_groups) p) AS pgs;
\! python3 $MOCKCTL clear-faults
