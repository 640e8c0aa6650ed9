--
-- scan_catalog_tables: roles, permission_groups and resource_groups, and
-- hand-written foreign tables that declare a subset of a resource's columns.
--
-- Every pushdown claim is pinned three ways: EXPLAIN (VERBOSE) shows the
-- planned call, the query shows the rows, and the mock's request log shows
-- exactly which calls were made (mockctl log prints the log, then clears it).
--
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
\! python3 $MOCKCTL reset --roles 3 --permission-groups 4 --resource-groups 2

--
-- roles: listed 50 a page (the API's maximum); id = v is a GET by id.  The
-- API has no name filter for roles: name = v is checked locally.
--
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, name FROM cf.roles;
SELECT id, name, description FROM cf.roles;
\! python3 $MOCKCTL log
SELECT name, permissions->'analytics' AS analytics, jsonb_typeof(permissions) AS type
  FROM cf.roles ORDER BY name;
\! python3 $MOCKCTL log
EXPLAIN (VERBOSE, COSTS OFF)
SELECT name FROM cf.roles WHERE id = '99a78fbcdc1f83100f46e6dd12920ee6';
SELECT id, name, description FROM cf.roles WHERE id = '99a78fbcdc1f83100f46e6dd12920ee6';
\! python3 $MOCKCTL log
-- unknown id: one call, 404, no rows; malformed id: no call
SELECT id FROM cf.roles WHERE id = '00000000000000000000000000000000';
SELECT id FROM cf.roles WHERE id = 'Role 00';
\! python3 $MOCKCTL log
-- id = ANY: one GET per distinct valid id
SELECT name FROM cf.roles
 WHERE id IN ('13855ce437550996aadfbdeed6439952', '9c3120ba16f375cb960c11ecbb0d846b',
              '13855ce437550996aadfbdeed6439952', 'nope')
 ORDER BY name;
\! python3 $MOCKCTL log
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM cf.roles WHERE name = 'Role 01';
SELECT id FROM cf.roles WHERE name = 'Role 01';
\! python3 $MOCKCTL log
-- LIMIT: per_page no bigger than needed, at least the API's minimum of 5
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM cf.roles LIMIT 1;
SELECT name FROM cf.roles LIMIT 1;
\! python3 $MOCKCTL log

--
-- permission_groups: listed 50 a page; name = v -> ?name=v (URL-escaped with
-- curl's escaping); id = v -> GET by id.
--
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, name FROM cf.permission_groups;
SELECT id, name, meta FROM cf.permission_groups;
\! python3 $MOCKCTL log
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, name FROM cf.permission_groups WHERE name = 'Permission Group 002';
SELECT id, name, meta->>'label' AS label
  FROM cf.permission_groups WHERE name = 'Permission Group 002';
\! python3 $MOCKCTL log
-- characters that mean something in a query string are escaped
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM cf.permission_groups WHERE name = 'a&b=c d/é?%';
SELECT id FROM cf.permission_groups WHERE name = 'a&b=c d/é?%';
\! python3 $MOCKCTL log
-- the API's match is exact: a different case matches nothing
SELECT id FROM cf.permission_groups WHERE name = 'permission group 002';
\! python3 $MOCKCTL log
EXPLAIN (VERBOSE, COSTS OFF)
SELECT name FROM cf.permission_groups WHERE id = '2d64d090c75860696e3f7d4543e78f08';
SELECT name FROM cf.permission_groups WHERE id = '2d64d090c75860696e3f7d4543e78f08';
\! python3 $MOCKCTL log
-- name LIKE has no API filter here: local
EXPLAIN (VERBOSE, COSTS OFF)
SELECT name FROM cf.permission_groups WHERE name LIKE '%00%';
SELECT name FROM cf.permission_groups WHERE name LIKE '%003' ;
\! python3 $MOCKCTL log

--
-- resource_groups: NOT paged, so no page or per_page in the request, even
-- with a LIMIT; name = v -> ?name=v; id = v -> GET by id.
--
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, name FROM cf.resource_groups;
SELECT id, name, scope->'objects'->0->>'key' AS first_object, meta
  FROM cf.resource_groups;
\! python3 $MOCKCTL log
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM cf.resource_groups WHERE name = 'Resource Group 1';
SELECT id, name FROM cf.resource_groups WHERE name = 'Resource Group 1';
\! python3 $MOCKCTL log
EXPLAIN (VERBOSE, COSTS OFF)
SELECT name FROM cf.resource_groups WHERE id = '10d4b9202675655e9ea7c38d0ca915de';
SELECT name FROM cf.resource_groups WHERE id = '10d4b9202675655e9ea7c38d0ca915de';
SELECT name FROM cf.resource_groups WHERE id = 'ffffffffffffffffffffffffffffffff';
\! python3 $MOCKCTL log
EXPLAIN (VERBOSE, COSTS OFF) SELECT name FROM cf.resource_groups LIMIT 1;
SELECT name FROM cf.resource_groups ORDER BY name LIMIT 1;
\! python3 $MOCKCTL log

--
-- Larger lists: N rows cost ceil(N / 50) calls, not one more; resource
-- groups are one call however many there are.
--
\! python3 $MOCKCTL reset --roles 101 --permission-groups 100 --resource-groups 120
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT id FROM cf.roles;
\! python3 $MOCKCTL log
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT id FROM cf.permission_groups;
\! python3 $MOCKCTL log
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT id FROM cf.resource_groups;
\! python3 $MOCKCTL log
SELECT (SELECT count(DISTINCT id) FROM cf.roles) AS roles,
       (SELECT count(DISTINCT id) FROM cf.permission_groups) AS permission_groups,
       (SELECT count(DISTINCT id) FROM cf.resource_groups) AS resource_groups;
\! python3 $MOCKCTL count
\! python3 $MOCKCTL reset --roles 3 --permission-groups 4 --resource-groups 2

--
-- A hand-written foreign table may declare any subset of a resource's
-- columns, in any order: columns are matched by name.
--
CREATE FOREIGN TABLE public.my_roles (
  description text,
  name text,
  id text
) SERVER cloudflare OPTIONS (resource 'roles');
SELECT * FROM public.my_roles ORDER BY name;
\! python3 $MOCKCTL log
EXPLAIN (VERBOSE, COSTS OFF)
SELECT * FROM public.my_roles WHERE id = '9c3120ba16f375cb960c11ecbb0d846b';
SELECT * FROM public.my_roles WHERE id = '9c3120ba16f375cb960c11ecbb0d846b';
\! python3 $MOCKCTL log
-- a dropped column is skipped; a column added later is matched by name too
ALTER FOREIGN TABLE public.my_roles DROP COLUMN description;
ALTER FOREIGN TABLE public.my_roles ADD COLUMN permissions jsonb;
SELECT name, id, permissions->'dns' AS dns FROM public.my_roles ORDER BY name;
\! python3 $MOCKCTL log
-- a table with only the id column, and one with a column of another type
-- (values go through the column type's input function)
CREATE FOREIGN TABLE public.my_group_ids (id text)
  SERVER cloudflare OPTIONS (resource 'permission_groups');
SELECT * FROM public.my_group_ids ORDER BY id;
CREATE FOREIGN TABLE public.my_resource_groups (meta text, name varchar(80))
  SERVER cloudflare OPTIONS (resource 'resource_groups');
SELECT name, meta, pg_typeof(meta) FROM public.my_resource_groups ORDER BY name;
\! python3 $MOCKCTL log
-- a value the declared type rejects is an error that names the column
ALTER FOREIGN TABLE public.my_resource_groups ALTER COLUMN name TYPE varchar(20);
SELECT name FROM public.my_resource_groups;
\! python3 $MOCKCTL log

-- a column that is not a field of the resource: a clear error, no call
CREATE FOREIGN TABLE public.bad_roles (id text, colour text)
  SERVER cloudflare OPTIONS (resource 'roles');
SELECT * FROM public.bad_roles;
SELECT id FROM public.bad_roles;
EXPLAIN SELECT id FROM public.bad_roles;
-- names are matched exactly (a quoted upper-case name is another name)
CREATE FOREIGN TABLE public.bad_roles2 ("ID" text)
  SERVER cloudflare OPTIONS (resource 'roles');
SELECT * FROM public.bad_roles2;
\! python3 $MOCKCTL log
-- fixing the column makes it work
ALTER FOREIGN TABLE public.bad_roles RENAME COLUMN colour TO name;
SELECT id, name FROM public.bad_roles ORDER BY name;
\! python3 $MOCKCTL log

DROP FOREIGN TABLE public.my_roles, public.my_group_ids, public.my_resource_groups,
  public.bad_roles, public.bad_roles2;
