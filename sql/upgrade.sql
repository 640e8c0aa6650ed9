-- upgrade: an installation of cfiam 0.1, with its servers, user mappings
-- and foreign tables, goes to the default version (through every step,
-- 0.1 to 0.2 to 0.3) with ALTER EXTENSION cfiam UPDATE and loses nothing;
-- a fresh CREATE EXTENSION cfiam has exactly the objects 0.1 plus the
-- updates have, and so has 0.2 updated.
--
-- This build's shared library serves the 0.1 SQL objects until the update:
-- that is what a user has between installing the new build and running
-- ALTER EXTENSION.  0.1 is installed from its released script, which the
-- repository keeps unchanged as cfiam--0.1.sql.
--
-- The suite drops the extension installed for the run and ends with a
-- fresh one at the default version; the next suite's fixture makes its
-- server and tables again.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
\! python3 $MOCKCTL reset

-- What the extension consists of, one row per property of each member
-- object: the list compared before and after the update, and with a fresh
-- install.  Only the system catalogs are read (no dependency on cfiam's
-- objects, so DROP EXTENSION leaves these temporary objects alone); owners
-- and privileges are shown relative to the extension's owner.
CREATE FUNCTION pg_temp.acl_text(acl aclitem[], owner oid, kind "char")
RETURNS text LANGUAGE sql STABLE AS $$
  -- aclitem's letters (arwdDxt, X, U), grantees named relative to the owner;
  -- "default:" when the object has never been granted or revoked anything
  SELECT CASE WHEN acl IS NULL THEN 'default: ' ELSE '' END ||
         coalesce(string_agg(who || '=' || privileges, ', ' ORDER BY sort, who), '')
  FROM (SELECT CASE a.grantee WHEN 0 THEN 'PUBLIC' WHEN owner THEN 'owner'
                              ELSE a.grantee::regrole::text END AS who,
               CASE a.grantee WHEN owner THEN 0 WHEN 0 THEN 1 ELSE 2 END AS sort,
               string_agg(CASE a.privilege_type
                            WHEN 'SELECT' THEN 'r' WHEN 'INSERT' THEN 'a' WHEN 'UPDATE' THEN 'w'
                            WHEN 'DELETE' THEN 'd' WHEN 'TRUNCATE' THEN 'D'
                            WHEN 'REFERENCES' THEN 'x' WHEN 'TRIGGER' THEN 't'
                            WHEN 'EXECUTE' THEN 'X' WHEN 'USAGE' THEN 'U'
                            ELSE a.privilege_type END
                          || CASE WHEN a.is_grantable THEN '*' ELSE '' END,
                          '' ORDER BY position(left(a.privilege_type, 3) IN
                                               'INSSELUPDDELTRUREFTRIEXEUSA')) AS privileges
          FROM aclexplode(coalesce(acl, acldefault(kind, owner))) a
         GROUP BY a.grantee) g
$$;
CREATE TEMP VIEW extension_catalog AS
WITH ext AS (
  SELECT oid, extowner FROM pg_extension WHERE extname = 'cfiam'
), member AS (
  SELECT d.classid, d.objid, d.objsubid,
         pg_describe_object(d.classid, d.objid, d.objsubid) AS object
  FROM pg_depend d JOIN ext ON d.refobjid = ext.oid
  WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
)
SELECT 'extension cfiam' AS object, 'schema' AS property,
       e.extnamespace::regnamespace::text AS value
  FROM pg_extension e WHERE e.extname = 'cfiam'
UNION ALL
SELECT 'extension cfiam', 'relocatable, configuration tables',
       e.extrelocatable || ', ' || coalesce(e.extconfig::text, 'none')
  FROM pg_extension e WHERE e.extname = 'cfiam'
UNION ALL
SELECT m.object, 'member', m.classid::regclass::text FROM member m
UNION ALL
SELECT m.object, 'comment', d.description
  FROM member m JOIN pg_description d
    ON d.classoid = m.classid AND d.objoid = m.objid AND d.objsubid = m.objsubid
UNION ALL
SELECT m.object, 'signature',
       format('%I(%s) RETURNS %s', p.proname, pg_get_function_arguments(p.oid),
              pg_get_function_result(p.oid))
  FROM member m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
UNION ALL
SELECT m.object, 'attributes',
       format('kind %s, language %s, volatility %s, strict %s, returns set %s, security definer %s, '
              'leakproof %s, parallel %s, cost %s, rows %s, config %s',
              p.prokind, l.lanname, p.provolatile, p.proisstrict, p.proretset, p.prosecdef,
              p.proleakproof, p.proparallel, p.procost, p.prorows, coalesce(p.proconfig::text, 'none'))
  FROM member m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
  JOIN pg_language l ON l.oid = p.prolang
UNION ALL
SELECT m.object, 'symbol', p.prosrc || ' in ' || coalesce(p.probin, '-')
  FROM member m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
UNION ALL
SELECT m.object, 'privileges', pg_temp.acl_text(p.proacl, ext.extowner, 'f')
  FROM member m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid, ext
UNION ALL
SELECT m.object, 'owner', CASE WHEN p.proowner = ext.extowner THEN 'the extension''s owner'
                               ELSE p.proowner::regrole::text END
  FROM member m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid, ext
UNION ALL
SELECT m.object, 'definition',
       format('kind %s, options %s: %s', c.relkind, coalesce(c.reloptions::text, 'none'),
              regexp_replace(pg_get_viewdef(c.oid, true), '\s+', ' ', 'g'))
  FROM member m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
UNION ALL
SELECT m.object, 'columns',
       (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', '
                          ORDER BY a.attnum)
          FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
  FROM member m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
UNION ALL
SELECT m.object, 'privileges', pg_temp.acl_text(c.relacl, ext.extowner, 'r')
  FROM member m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid, ext
UNION ALL
SELECT m.object, 'owner', CASE WHEN c.relowner = ext.extowner THEN 'the extension''s owner'
                               ELSE c.relowner::regrole::text END
  FROM member m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid, ext
UNION ALL
SELECT m.object, 'handler, validator, options',
       format('%s, %s, %s', w.fdwhandler::regproc, w.fdwvalidator::regproc,
              coalesce(w.fdwoptions::text, 'none'))
  FROM member m JOIN pg_foreign_data_wrapper w
    ON m.classid = 'pg_foreign_data_wrapper'::regclass AND w.oid = m.objid
UNION ALL
SELECT m.object, 'privileges', pg_temp.acl_text(w.fdwacl, ext.extowner, 'F')
  FROM member m JOIN pg_foreign_data_wrapper w
    ON m.classid = 'pg_foreign_data_wrapper'::regclass AND w.oid = m.objid, ext
UNION ALL
SELECT m.object, 'owner', CASE WHEN w.fdwowner = ext.extowner THEN 'the extension''s owner'
                               ELSE w.fdwowner::regrole::text END
  FROM member m JOIN pg_foreign_data_wrapper w
    ON m.classid = 'pg_foreign_data_wrapper'::regclass AND w.oid = m.objid, ext;

-- What users made with the extension: servers, user mappings, foreign
-- tables and their columns, and a view over them, each with its OID (the
-- same OID after the update: nothing was dropped and made again), options,
-- comment and privileges.
CREATE TEMP VIEW user_objects AS
WITH srv AS (
  SELECT s.* FROM pg_foreign_server s
  JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw WHERE w.fdwname = 'cfiam'
), ftab AS (
  SELECT c.oid, c.oid::regclass::text AS name, ft.ftoptions, c.relacl, c.relowner
  FROM pg_foreign_table ft JOIN pg_class c ON c.oid = ft.ftrelid
  WHERE ft.ftserver IN (SELECT oid FROM srv)
)
SELECT 'server' AS kind, s.srvname::text AS name, s.oid,
       s.srvoptions AS options, obj_description(s.oid, 'pg_foreign_server') AS comment,
       pg_temp.acl_text(s.srvacl, s.srvowner, 'S') AS privileges
  FROM srv s
UNION ALL
SELECT 'user mapping',
       CASE um.umuser WHEN 0 THEN 'PUBLIC'
                      WHEN current_user::regrole THEN 'CURRENT_USER'
                      ELSE um.umuser::regrole::text END || ' on ' || s.srvname,
       um.oid, um.umoptions, NULL, NULL
  FROM pg_user_mapping um JOIN srv s ON s.oid = um.umserver
UNION ALL
SELECT 'foreign table', t.name, t.oid, t.ftoptions, obj_description(t.oid, 'pg_class'),
       pg_temp.acl_text(t.relacl, t.relowner, 'r')
  FROM ftab t
UNION ALL
SELECT 'column', t.name || '.' || a.attname, t.oid,
       ARRAY[format_type(a.atttypid, a.atttypmod), coalesce(co.collname::text, '-'),
             coalesce(a.attfdwoptions::text, '-')],
       col_description(t.oid, a.attnum), NULL
  FROM ftab t JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_collation co ON co.oid = a.attcollation
UNION ALL
SELECT 'view', c.oid::regclass::text, c.oid, ARRAY[pg_get_viewdef(c.oid, true)],
       obj_description(c.oid, 'pg_class'), pg_temp.acl_text(c.relacl, c.relowner, 'r')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'v' AND n.nspname = 'upg';
-- ... shown without the URL, the CA file and the token, which depend on
-- the transport or are secret
CREATE TEMP VIEW user_objects_shown AS
SELECT kind, name,
       array_to_string(ARRAY(SELECT CASE WHEN o ~ '^(api_url|api_token)='
                                         THEN split_part(o, '=', 1) || '=...'
                                         ELSE regexp_replace(o, '\s+', ' ', 'g') END
                               FROM unnest(options) o WHERE o !~ '^ca_file='), ', ') AS options,
       comment, privileges
  FROM user_objects WHERE kind <> 'column';

-- 0.1, as a user of it has it
SET client_min_messages = warning;
DROP EXTENSION cfiam CASCADE;
DROP SCHEMA IF EXISTS upg CASCADE;
RESET client_min_messages;
CREATE EXTENSION cfiam VERSION '0.1';
SELECT extversion FROM pg_extension WHERE extname = 'cfiam';
CREATE SERVER cf_upgrade FOREIGN DATA WRAPPER cfiam
  OPTIONS (account_id '0123456789abcdef0123456789abcdef', api_url :'api_url',
           max_concurrency '1', count_pushdown 'false', max_retries '0');
\set server cf_upgrade
\i :abs_srcdir/test/use_transport.sql
COMMENT ON SERVER cf_upgrade IS 'made under cfiam 0.1';
CREATE USER MAPPING FOR CURRENT_USER SERVER cf_upgrade
  OPTIONS (api_token 'cfiam-test-token');
CREATE SCHEMA upg;
IMPORT FOREIGN SCHEMA cfiam FROM SERVER cf_upgrade INTO upg;
-- a hand-written table: some of a resource's columns, in another order
CREATE FOREIGN TABLE upg.members (email text COLLATE "C", status text, id text)
  SERVER cf_upgrade OPTIONS (resource 'account_members', order_pushdown 'false');
COMMENT ON FOREIGN TABLE upg.members IS 'account members, by hand';
GRANT USAGE ON FOREIGN SERVER cf_upgrade TO PUBLIC;
GRANT SELECT ON upg.members TO PUBLIC;
-- and a view over two of them
CREATE VIEW upg.group_sizes AS
  SELECT g.name, count(m.id) AS members
  FROM upg.user_groups g LEFT JOIN upg.user_group_members m ON m.user_group_id = g.id
  GROUP BY g.name;

-- it works: a query and a write, through this build's library
SELECT * FROM upg.group_sizes ORDER BY name;
SELECT status, count(*) FROM upg.members GROUP BY status ORDER BY status;
\! python3 $MOCKCTL log
INSERT INTO upg.user_groups (name) VALUES ('Made under 0.1') RETURNING name;
\! python3 $MOCKCTL log --body
-- what the library adds without a SQL object of its own works already: its
-- settings, and deferred writes (whose cfiam_pending_changes() 0.1 lacks)
SHOW cfiam.max_requests;
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
UPDATE upg.user_groups SET name = 'Made under 0.1, renamed' WHERE name = 'Made under 0.1';
\! python3 $MOCKCTL count
COMMIT;
\! python3 $MOCKCTL log --body | sed -E 's|user_groups/[0-9a-f]{32}|user_groups/<id>|'

-- 0.2's objects are not there, and asking for them is a plain error
SELECT proname FROM pg_proc WHERE proname LIKE 'cfiam%' ORDER BY proname;
SELECT to_regprocedure('cfiam_cache_clear()') AS cache_clear, to_regclass('cfiam_stats') AS stats,
       to_regprocedure('cfiam_stats_reset()') AS stats_reset,
       to_regprocedure('cfiam_pending_changes()') AS pending_changes,
       to_regprocedure('cfiam_pending_group_id(text)') AS pending_group_id;
SELECT cfiam_cache_clear();
SELECT * FROM cfiam_stats;
SELECT cfiam_stats_reset();
SELECT * FROM cfiam_pending_changes();
-- and the session goes on
SELECT name FROM upg.user_groups WHERE name LIKE 'Made under%';
\! python3 $MOCKCTL clear-log

-- the state before the update
CREATE TEMP TABLE catalog_01 AS SELECT * FROM extension_catalog;
CREATE TEMP TABLE user_objects_01 AS SELECT * FROM user_objects;

-- the update: the path PostgreSQL finds from each version, then ALTER
-- EXTENSION cfiam UPDATE, as a user runs it after installing the new build
SELECT source, target, path FROM pg_extension_update_paths('cfiam')
 WHERE path IS NOT NULL ORDER BY source, target;
ALTER EXTENSION cfiam UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'cfiam';
\dx cfiam
-- once more: nothing to do
ALTER EXTENSION cfiam UPDATE;

-- every object is still there, the same object (same OID), with its options
-- and comments: no row only before, none only after
(SELECT 'only before' AS side, * FROM user_objects_01 EXCEPT SELECT 'only before', * FROM user_objects)
UNION ALL
(SELECT 'only after', * FROM user_objects EXCEPT SELECT 'only after', * FROM user_objects_01);
SELECT * FROM user_objects_shown ORDER BY kind, name;
SELECT count(*) AS columns FROM user_objects WHERE kind = 'column';
\det upg.*

-- nothing of 0.1's objects is lost or changed (comments, the wrapper's
-- handler and validator, signatures, privileges) ...
SELECT * FROM catalog_01 EXCEPT SELECT * FROM extension_catalog;
-- ... and this is what the update added
\pset format unaligned
SELECT * FROM extension_catalog EXCEPT SELECT * FROM catalog_01 ORDER BY object, property;
\pset format aligned

-- queries and writes work as before
SELECT * FROM upg.group_sizes WHERE name LIKE 'Made under%';
SELECT count(*) FROM upg.members WHERE status = 'accepted';
\! python3 $MOCKCTL log | sed -E 's|user_groups/[0-9a-f]{32}|user_groups/<id>|'
UPDATE upg.user_groups SET name = 'Made under 0.1, kept by 0.2' WHERE name = 'Made under 0.1, renamed'
RETURNING name;
\! python3 $MOCKCTL log --body | sed -E 's|user_groups/[0-9a-f]{32}|user_groups/<id>|'

-- the new objects work: the statistics (the server's requests since the
-- library was loaded, the ones made under 0.1 included), their reset, the
-- cache, the deferred writes' queue
SELECT server, user_name = current_user AS mine, requests, errors, retries, cache_hits,
       bytes_received > 0 AS received
  FROM cfiam_stats WHERE server = 'cf_upgrade';
SELECT cfiam_stats_reset();
SELECT count(*) FROM upg.roles;
SELECT server, user_name = current_user AS mine, requests, errors, retries, cache_hits
  FROM cfiam_stats WHERE server = 'cf_upgrade';
SELECT cfiam_cache_clear() >= 0 AS cleared;
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
DELETE FROM upg.user_groups WHERE name = 'Made under 0.1, kept by 0.2';
SELECT seq, server, method, regexp_replace(path, '[0-9a-f]{32}$', '<id>') AS path, body
  FROM cfiam_pending_changes();
COMMIT;
\! python3 $MOCKCTL log | sed -E 's|user_groups/[0-9a-f]{32}|user_groups/<id>|'
SELECT count(*) FROM upg.user_groups WHERE name LIKE 'Made under%';
BEGIN;
SET LOCAL cfiam.write_mode = deferred;
INSERT INTO upg.user_groups (name) VALUES ('Made under 0.2');
SELECT cfiam_pending_group_id('Made under 0.2');
ROLLBACK;
\! python3 $MOCKCTL clear-log

-- 0.3's: the tables the library added are picked up on the existing
-- server by IMPORT FOREIGN SCHEMA ... LIMIT TO; effective access over the
-- tables imported under 0.1; the statistics say whose limits are in force
-- (this build's library imported them under 0.1 already; a schema that the
-- 0.2 library imported lacks them, as here once they are dropped)
DROP FOREIGN TABLE upg.account_tokens, upg.audit_logs, upg.accounts;
IMPORT FOREIGN SCHEMA cfiam LIMIT TO (account_tokens, audit_logs, accounts) FROM SERVER cf_upgrade INTO upg;
SELECT foreign_table_name FROM information_schema.foreign_tables
 WHERE foreign_table_schema = 'upg' AND foreign_table_name IN ('account_tokens', 'audit_logs', 'accounts')
 ORDER BY 1;
SELECT count(*) > 0 AS tokens FROM upg.account_tokens;
SELECT cfiam_create_effective_access('upg');
SELECT count(DISTINCT via) > 0 AS effective_access FROM upg.effective_access;
SELECT DISTINCT limits IN ('shared', 'backend') AS limits FROM cfiam_stats;
\! python3 $MOCKCTL clear-log

-- a fresh install at the default version has exactly the objects of 0.1
-- updated to it
CREATE TEMP TABLE catalog_updated AS SELECT * FROM extension_catalog;
\pset format unaligned
SELECT * FROM catalog_updated ORDER BY object, property;
\pset format aligned
SET client_min_messages = warning;
DROP EXTENSION cfiam CASCADE;
RESET client_min_messages;
CREATE EXTENSION cfiam;
SELECT extversion FROM pg_extension WHERE extname = 'cfiam';
CREATE TEMP TABLE catalog_fresh AS SELECT * FROM extension_catalog;
(SELECT 'only updated' AS side, * FROM catalog_updated EXCEPT SELECT 'only updated', * FROM catalog_fresh)
UNION ALL
(SELECT 'only fresh', * FROM catalog_fresh EXCEPT SELECT 'only fresh', * FROM catalog_updated);
SELECT (SELECT count(*) FROM catalog_updated) AS updated, (SELECT count(*) FROM catalog_fresh) AS fresh;

-- and so has 0.2 updated to it (the step a 0.2 installation takes)
SET client_min_messages = warning;
DROP EXTENSION cfiam CASCADE;
RESET client_min_messages;
CREATE EXTENSION cfiam VERSION '0.2';
ALTER EXTENSION cfiam UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'cfiam';
CREATE TEMP TABLE catalog_from_02 AS SELECT * FROM extension_catalog;
(SELECT 'only from 0.2' AS side, * FROM catalog_from_02 EXCEPT SELECT 'only from 0.2', * FROM catalog_fresh)
UNION ALL
(SELECT 'only fresh', * FROM catalog_fresh EXCEPT SELECT 'only fresh', * FROM catalog_from_02);

-- the database as the other suites expect it: cfiam at the default
-- version, nothing of this suite's left
DROP SCHEMA upg;
SELECT extversion = (SELECT default_version FROM pg_available_extensions WHERE name = 'cfiam')
       AS default_version
  FROM pg_extension WHERE extname = 'cfiam';
