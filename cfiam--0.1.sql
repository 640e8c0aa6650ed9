/* cfiam--0.1.sql: the cfiam foreign data wrapper */

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
