-- IMPORT FOREIGN SCHEMA creates the six tables with their canonical columns.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
\! python3 $MOCKCTL reset

CREATE SCHEMA imp;
IMPORT FOREIGN SCHEMA cfiam FROM SERVER cloudflare INTO imp;
\det+ imp.*
\d imp.user_groups
\d imp.user_group_members
\d imp.account_members
\d imp.roles
\d imp.permission_groups
\d imp.resource_groups
DROP SCHEMA imp CASCADE;

-- LIMIT TO and EXCEPT
CREATE SCHEMA imp;
IMPORT FOREIGN SCHEMA cfiam LIMIT TO (user_groups, user_group_members) FROM SERVER cloudflare INTO imp;
\det imp.*
DROP SCHEMA imp CASCADE;
CREATE SCHEMA imp;
IMPORT FOREIGN SCHEMA cfiam EXCEPT (roles, resource_groups) FROM SERVER cloudflare INTO imp;
\det imp.*
-- importing again collides, as in any FDW
IMPORT FOREIGN SCHEMA cfiam LIMIT TO (roles) FROM SERVER cloudflare INTO imp;
IMPORT FOREIGN SCHEMA cfiam LIMIT TO (user_groups) FROM SERVER cloudflare INTO imp;
DROP SCHEMA imp CASCADE;

-- a misspelt table name or remote schema is an error, not an empty import
CREATE SCHEMA imp;
IMPORT FOREIGN SCHEMA cfiam LIMIT TO (user_group) FROM SERVER cloudflare INTO imp;
IMPORT FOREIGN SCHEMA public FROM SERVER cloudflare INTO imp;
DROP SCHEMA imp;

-- names that need quoting: schema and server
CREATE SCHEMA "Cloudflare IAM";
CREATE SERVER "my server" FOREIGN DATA WRAPPER cfiam
  OPTIONS (account_id '0123456789abcdef0123456789abcdef', api_url :'api_url');
\set server 'my server'
\i :abs_srcdir/test/use_transport.sql
CREATE USER MAPPING FOR CURRENT_USER SERVER "my server" OPTIONS (api_token 'cfiam-test-token');
IMPORT FOREIGN SCHEMA cfiam LIMIT TO (roles) FROM SERVER "my server" INTO "Cloudflare IAM";
SELECT name FROM "Cloudflare IAM".roles ORDER BY name;
DROP SCHEMA "Cloudflare IAM" CASCADE;
DROP SERVER "my server" CASCADE;

-- importing sent no request: the only one is the SELECT above
\! python3 $MOCKCTL log
