/* cfiam--0.1--0.2.sql: from 0.1 to 0.2 (ALTER EXTENSION cfiam UPDATE) */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION cfiam UPDATE TO '0.2'" to load this file. \quit

-- Result cache (server and foreign table option cache_ttl): drop every
-- cached answer; returns how many there were.
CREATE FUNCTION cfiam_cache_clear()
RETURNS bigint
AS 'MODULE_PATHNAME'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION cfiam_cache_clear() IS
  'Drop every cached Cloudflare API answer (all backends when cfiam is preloaded); returns how many';

-- Usage statistics per server and user, since the server started (all
-- backends when cfiam is in shared_preload_libraries, else this backend's).
CREATE FUNCTION cfiam_stats(OUT server name, OUT user_name name,
                            OUT requests bigint, OUT errors bigint,
                            OUT retries bigint, OUT cache_hits bigint,
                            OUT bytes_received bigint,
                            OUT ratelimit_remaining int,
                            OUT ratelimit_reset timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME'
LANGUAGE C VOLATILE STRICT;

CREATE VIEW cfiam_stats AS SELECT * FROM cfiam_stats();

COMMENT ON VIEW cfiam_stats IS
  'Cloudflare API requests, errors, retries, cache hits and bytes per server and user, and the rate limit last heard of';

CREATE FUNCTION cfiam_stats_reset()
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION cfiam_stats_reset() IS
  'Zero the counters of cfiam_stats';

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

-- Like pg_stat_statements: the statistics name servers and users, so they
-- are the extension owner's to grant; clearing the cache and the counters
-- affects everyone.
REVOKE ALL ON FUNCTION cfiam_cache_clear() FROM PUBLIC;
REVOKE ALL ON FUNCTION cfiam_stats() FROM PUBLIC;
REVOKE ALL ON FUNCTION cfiam_stats_reset() FROM PUBLIC;
