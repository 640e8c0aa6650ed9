/* cfiam--0.3.sql: the cfiam foreign data wrapper */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION cfiam" to load this file. \quit

CREATE FUNCTION cfiam_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FUNCTION cfiam_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER cfiam
  HANDLER cfiam_handler
  VALIDATOR cfiam_validator;

COMMENT ON FOREIGN DATA WRAPPER cfiam IS
  'Cloudflare user groups, their members, account members, roles, permission and resource groups';

-- Replace the whole member set of a user group with one PUT; '{}' empties it.
-- It uses the caller's user mapping for the server.
CREATE FUNCTION cfiam_replace_user_group_members(server_name text,
                                                 user_group_id text,
                                                 member_ids text[])
RETURNS TABLE(id text, email text, status text)
AS 'MODULE_PATHNAME'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION cfiam_replace_user_group_members(text, text, text[]) IS
  'Set the members of a Cloudflare user group to exactly member_ids (account member ids)';

-- Result cache (server and foreign table option cache_ttl): drop every
-- cached answer; returns how many there were.
CREATE FUNCTION cfiam_cache_clear()
RETURNS bigint
AS 'MODULE_PATHNAME'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION cfiam_cache_clear() IS
  'Drop every cached Cloudflare API answer (all backends when cfiam is preloaded); returns how many';

-- Usage statistics per server and role, since the server started (all
-- backends when cfiam is in shared_preload_libraries, else this backend's).
-- A role sees its own rows; with pg_read_all_stats, every row.  limits
-- says whether the pace and the rate-limit windows are every backend's
-- ('shared', cfiam preloaded) or each backend's own ('backend').
CREATE FUNCTION cfiam_stats(OUT server name, OUT user_name name,
                            OUT requests bigint, OUT errors bigint,
                            OUT retries bigint, OUT cache_hits bigint,
                            OUT bytes_received bigint,
                            OUT ratelimit_remaining int,
                            OUT ratelimit_reset timestamptz,
                            OUT limits text)
RETURNS SETOF record
AS 'MODULE_PATHNAME'
LANGUAGE C VOLATILE STRICT;

CREATE VIEW cfiam_stats AS SELECT * FROM cfiam_stats();

COMMENT ON VIEW cfiam_stats IS
  'Cloudflare API requests, errors, retries, cache hits and bytes per server and role, and the rate limit last heard of';

CREATE FUNCTION cfiam_stats_reset()
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION cfiam_stats_reset() IS
  'Zero the counters of cfiam_stats';

-- Forget what is known of every credential's rate-limit window and any
-- 429 block (after the account's limits changed at Cloudflare).
CREATE FUNCTION cfiam_limits_reset()
RETURNS bigint
AS 'MODULE_PATHNAME'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION cfiam_limits_reset() IS
  'Forget the rate-limit windows and 429 blocks cfiam knows of (all backends when cfiam is preloaded); returns how many';

-- Deferred writes (SET cfiam.write_mode = deferred): the calls COMMIT
-- would send now, coalesced, in order.
CREATE FUNCTION cfiam_pending_changes(OUT seq int, OUT server name,
                                      OUT method text, OUT path text,
                                      OUT body jsonb)
RETURNS SETOF record
AS 'MODULE_PATHNAME'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION cfiam_pending_changes() IS
  'The Cloudflare API calls COMMIT would send now for this transaction''s deferred changes (cfiam.write_mode = deferred)';

-- The provisional id of a user group this transaction queued for creation
-- (cfiam.write_mode = deferred), to queue its members under before COMMIT
-- gives the group its id.
CREATE FUNCTION cfiam_pending_group_id(name text)
RETURNS text
AS 'MODULE_PATHNAME'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION cfiam_pending_group_id(text) IS
  'The provisional id of a user group created in this transaction (cfiam.write_mode = deferred), for its members until COMMIT';

-- The elements of a JSON array, estimated at a few rows (a policy's
-- permission or resource groups, a member's roles): the built-in
-- jsonb_array_elements is planned at 100 rows a call, which made the
-- effective-access view look millions of rows large and PostgreSQL spend
-- half a second compiling it (JIT) before the first request went out.
-- Anything but an array has no elements.
CREATE FUNCTION cfiam_json_elements(items jsonb)
RETURNS SETOF jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE ROWS 2
AS $fn$
BEGIN
  IF jsonb_typeof(items) = 'array' THEN
    RETURN QUERY SELECT jsonb_array_elements(items);
  END IF;
END
$fn$;

COMMENT ON FUNCTION cfiam_json_elements(jsonb) IS
  'The elements of a JSON array (none for anything else), planned as a few rows: used by effective_access';

-- The same on a server without account_id (every account): the group's
-- account is the fourth argument.
CREATE FUNCTION cfiam_replace_user_group_members(server_name text,
                                                 user_group_id text,
                                                 member_ids text[],
                                                 account_id text)
RETURNS TABLE(id text, email text, status text)
AS 'MODULE_PATHNAME', 'cfiam_replace_user_group_members'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION cfiam_replace_user_group_members(text, text, text[], text) IS
  'Set the members of a Cloudflare user group of the given account to exactly member_ids (account member ids)';

-- Send now, in one batch, the first request of each foreign scan of the
-- calling query that has not started (one account, no parameters, a
-- listing); each scan then finds its page 1 answered.  A query that reads
-- several tables one after another waits for one answer instead of one per
-- table.  Returns the requests answered.
CREATE FUNCTION cfiam_read_ahead()
RETURNS integer
AS 'MODULE_PATHNAME', 'cfiam_read_ahead'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION cfiam_read_ahead() IS
  'Send the first request of each cfiam foreign scan of the calling query in one batch; used by effective_access';

-- Effective access: who can do what, where.  One statement after IMPORT
-- FOREIGN SCHEMA makes the view effective_access in the schema of the
-- tables: a row per account member, per way they get access (their own
-- policies, a user group's, a legacy role) and per policy's permission
-- group and resource group.  Each table is read once: the members' pages,
-- the groups with their members (the pushed join), the permission and
-- resource groups; their first requests in one batch (cfiam_read_ahead).
CREATE FUNCTION cfiam_create_effective_access(schema_name name)
RETURNS regclass
LANGUAGE plpgsql VOLATILE STRICT
AS $fn$
DECLARE
  missing text;
  ext name;   -- the extension's schema, where cfiam_json_elements is
BEGIN
  SELECT n.nspname INTO ext
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
   WHERE e.extname = 'cfiam';
  SELECT string_agg(t, ', ' ORDER BY t) INTO missing
    FROM unnest(ARRAY['account_members', 'user_groups', 'user_group_members',
                      'permission_groups', 'resource_groups']) AS t
   WHERE to_regclass(format('%I.%I', schema_name, t)) IS NULL;
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'schema "%" lacks the cfiam tables effective access reads: %',
                    schema_name, missing
      USING ERRCODE = 'undefined_table',
            HINT = format('IMPORT FOREIGN SCHEMA cfiam FROM SERVER <server> INTO %I first.',
                          schema_name);
  END IF;
  EXECUTE format($view$
CREATE OR REPLACE VIEW %1$I.effective_access AS
WITH members AS MATERIALIZED (
  -- the first requests of every table below go out together, before this one
  SELECT id, email, policies, roles FROM %1$I.account_members
   WHERE (SELECT %2$I.cfiam_read_ahead()) >= 0
), memberships AS MATERIALIZED (
  SELECT g.id AS user_group_id, g.name AS user_group_name, g.policies, m.id AS member_id
    FROM %1$I.user_groups g JOIN %1$I.user_group_members m ON m.user_group_id = g.id
), permission_groups AS MATERIALIZED (
  SELECT id, name FROM %1$I.permission_groups
), resource_groups AS MATERIALIZED (
  SELECT id, name, scope FROM %1$I.resource_groups
), grants AS (
  SELECT mb.id AS member_id, mb.email, 'direct'::text AS via,
         NULL::text AS user_group_id, NULL::text AS user_group_name, p.policy
    FROM members mb, %2$I.cfiam_json_elements(mb.policies) AS p(policy)
  UNION ALL
  SELECT mb.id, mb.email, 'group', ms.user_group_id, ms.user_group_name, p.policy
    FROM memberships ms JOIN members mb ON mb.id = ms.member_id,
         %2$I.cfiam_json_elements(ms.policies) AS p(policy)
)
SELECT g.member_id, g.email, g.via, g.user_group_id, g.user_group_name,
       NULL::text AS role_id, NULL::text AS role_name,
       g.policy ->> 'id' AS policy_id, g.policy ->> 'access' AS access,
       pg.item ->> 'id' AS permission_group_id,
       coalesce(pgt.name, pg.item ->> 'name') AS permission_group_name,
       rg.item ->> 'id' AS resource_group_id,
       coalesce(rgt.name, rg.item ->> 'name') AS resource_group_name,
       coalesce(rgt.scope, rg.item -> 'scope') AS scope,
       NULL::jsonb AS role_permissions
  FROM grants g
  LEFT JOIN LATERAL %2$I.cfiam_json_elements(g.policy -> 'permission_groups')
       AS pg(item) ON true
  LEFT JOIN LATERAL %2$I.cfiam_json_elements(g.policy -> 'resource_groups')
       AS rg(item) ON true
  LEFT JOIN permission_groups pgt ON pgt.id = pg.item ->> 'id'
  LEFT JOIN resource_groups rgt ON rgt.id = rg.item ->> 'id'
UNION ALL
SELECT mb.id, mb.email, 'role', NULL, NULL, r.role ->> 'id', r.role ->> 'name', NULL,
       'allow', NULL, NULL, NULL, NULL, NULL, r.role -> 'permissions'
  FROM members mb, %2$I.cfiam_json_elements(mb.roles) AS r(role)
$view$, schema_name, ext);
  EXECUTE format('COMMENT ON VIEW %I.effective_access IS %L', schema_name,
    'Who can do what, where: a row per account member, way of access (direct, group, role) and policy''s permission and resource group');
  RETURN format('%I.effective_access', schema_name)::regclass;
END
$fn$;

COMMENT ON FUNCTION cfiam_create_effective_access(name) IS
  'Create (or replace) the view effective_access in the schema of imported cfiam tables: who can do what, where';

-- Like pg_stat_statements: the view is the extension owner's to grant
-- (GRANT SELECT ON cfiam_stats TO ...), and the function behind it, which
-- every role may call, shows a role its own rows only; clearing the cache
-- and the counters affects everyone.
REVOKE ALL ON FUNCTION cfiam_cache_clear() FROM PUBLIC;
REVOKE ALL ON FUNCTION cfiam_stats_reset() FROM PUBLIC;
REVOKE ALL ON FUNCTION cfiam_limits_reset() FROM PUBLIC;
