-- Who may use which credentials, and where they may be sent.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
\! python3 $MOCKCTL reset

CREATE ROLE cfiam_analyst LOGIN;
GRANT USAGE ON SCHEMA cf TO cfiam_analyst;
GRANT SELECT, INSERT, DELETE ON ALL TABLES IN SCHEMA cf TO cfiam_analyst;
GRANT USAGE ON FOREIGN SERVER cloudflare TO cfiam_analyst;
SET ROLE cfiam_analyst;

-- no user mapping of its own: no credentials, no call
SELECT count(*) FROM cf.roles;
SELECT * FROM cfiam_replace_user_group_members('cloudflare', '0362cbd6079cb9a6ce7ecd88fde2537e', '{}');
\! python3 $MOCKCTL count

-- only the server's owner may say where credentials go
ALTER SERVER cloudflare OPTIONS (SET api_url 'https://attacker.example/client/v4');
-- a user mapping cannot redirect them either
CREATE USER MAPPING FOR cfiam_analyst SERVER cloudflare
  OPTIONS (api_token 'analyst-token', api_url 'https://attacker.example/client/v4');
-- header injection through a credential is refused
CREATE USER MAPPING FOR cfiam_analyst SERVER cloudflare
  OPTIONS (api_token E'analyst-token\r\nX-Evil: 1');
-- its own credentials: used, and a wrong one is Cloudflare's 403, shown
-- without the credential
CREATE USER MAPPING FOR cfiam_analyst SERVER cloudflare OPTIONS (api_token 'analyst-token');
SELECT count(*) FROM cf.roles;
\echo :SQLSTATE
\! python3 $MOCKCTL log
ALTER USER MAPPING FOR cfiam_analyst SERVER cloudflare OPTIONS (SET api_token 'cfiam-test-token');
SELECT count(*) FROM cf.roles;
RESET ROLE;

-- clean up
DROP USER MAPPING FOR cfiam_analyst SERVER cloudflare;
REVOKE ALL ON ALL TABLES IN SCHEMA cf FROM cfiam_analyst;
REVOKE ALL ON SCHEMA cf FROM cfiam_analyst;
REVOKE ALL ON FOREIGN SERVER cloudflare FROM cfiam_analyst;
DROP ROLE cfiam_analyst;
