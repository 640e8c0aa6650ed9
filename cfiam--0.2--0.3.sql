/* cfiam--0.2--0.3.sql: from 0.2 to 0.3 (ALTER EXTENSION cfiam UPDATE) */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION cfiam UPDATE TO '0.3'" to load this file. \quit

-- cfiam_stats: counted per role that sent, a role sees its own rows (every
-- row with pg_read_all_stats), and the new column limits says whether the
-- pace and the rate-limit windows are shared by every backend.  The view is
-- granted as the README says (GRANT SELECT ON cfiam_stats TO ...): the
-- function behind it may be called by every role.
DROP VIEW cfiam_stats;
DROP FUNCTION cfiam_stats();

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

-- Forget what is known of every credential's rate-limit window and any
-- 429 block (after the account's limits changed at Cloudflare).
CREATE FUNCTION cfiam_limits_reset()
RETURNS bigint
AS 'MODULE_PATHNAME'
LANGUAGE C VOLATILE STRICT;

COMMENT ON FUNCTION cfiam_limits_reset() IS
  'Forget the rate-limit windows and 429 blocks cfiam knows of (all backends when cfiam is preloaded); returns how many';

REVOKE ALL ON FUNCTION cfiam_limits_reset() FROM PUBLIC;
