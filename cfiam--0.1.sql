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
