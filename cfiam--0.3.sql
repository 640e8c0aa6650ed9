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

-- Like pg_stat_statements: the view is the extension owner's to grant
-- (GRANT SELECT ON cfiam_stats TO ...), and the function behind it, which
-- every role may call, shows a role its own rows only; clearing the cache
-- and the counters affects everyone.
REVOKE ALL ON FUNCTION cfiam_cache_clear() FROM PUBLIC;
REVOKE ALL ON FUNCTION cfiam_stats_reset() FROM PUBLIC;
REVOKE ALL ON FUNCTION cfiam_limits_reset() FROM PUBLIC;
