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
-- without the credential.  The server is a superuser's, with a loopback
-- api_url (the mock): it works for a non-superuser with a mapping of its own.
CREATE USER MAPPING FOR cfiam_analyst SERVER cloudflare OPTIONS (api_token 'analyst-token');
SELECT count(*) FROM cf.roles;
\echo :SQLSTATE
\! python3 $MOCKCTL log
ALTER USER MAPPING FOR cfiam_analyst SERVER cloudflare OPTIONS (SET api_token 'cfiam-test-token');
SELECT count(*) FROM cf.roles;
\! python3 $MOCKCTL log
RESET ROLE;

-- Where the database server connects, and which of its files it reads, is a
-- superuser's decision: api_url other than the default, ca_file and proxy.
-- A role with USAGE on the wrapper may create servers of its own, but not
-- point one at a service that only the database host can reach.
GRANT USAGE ON FOREIGN DATA WRAPPER cfiam TO cfiam_analyst;
CREATE SCHEMA cfiam_analyst AUTHORIZATION cfiam_analyst;
SET ROLE cfiam_analyst;
-- the attack (a server pointed at loopback), refused at CREATE SERVER: the rest has no server
CREATE SERVER evil FOREIGN DATA WRAPPER cfiam
  OPTIONS (api_url 'http://127.0.0.1:18999/x', account_id '0123456789abcdef0123456789abcdef');
\echo :SQLSTATE
CREATE USER MAPPING FOR CURRENT_USER SERVER evil OPTIONS (api_token 't');
CREATE FOREIGN TABLE r (id text, name text) SERVER evil OPTIONS (resource 'roles');
SELECT * FROM r;
-- the mock's own URL is no different, nor https, nor the default's host
-- with another path
CREATE SERVER evil FOREIGN DATA WRAPPER cfiam
  OPTIONS (api_url :'api_url', account_id '0123456789abcdef0123456789abcdef');
CREATE SERVER evil FOREIGN DATA WRAPPER cfiam
  OPTIONS (api_url 'https://internal.example/v4', account_id '0123456789abcdef0123456789abcdef');
CREATE SERVER evil FOREIGN DATA WRAPPER cfiam
  OPTIONS (api_url 'https://api.cloudflare.com/client/v4/x', account_id '0123456789abcdef0123456789abcdef');
-- ca_file (a file of the database server) and proxy likewise
CREATE SERVER evil FOREIGN DATA WRAPPER cfiam
  OPTIONS (account_id '0123456789abcdef0123456789abcdef', ca_file '/etc/ssl/certs/ca-certificates.crt');
\echo :SQLSTATE
CREATE SERVER evil FOREIGN DATA WRAPPER cfiam
  OPTIONS (account_id '0123456789abcdef0123456789abcdef', proxy 'http://127.0.0.1:3128');
\echo :SQLSTATE
-- the default URL, unset or given exactly, is open to every role with USAGE
CREATE SERVER own1 FOREIGN DATA WRAPPER cfiam
  OPTIONS (account_id '0123456789abcdef0123456789abcdef');
CREATE SERVER own2 FOREIGN DATA WRAPPER cfiam
  OPTIONS (account_id '0123456789abcdef0123456789abcdef', api_url 'https://api.cloudflare.com/client/v4');
-- but the owner of a server cannot point it elsewhere either
ALTER SERVER own1 OPTIONS (ADD api_url 'http://127.0.0.1:18999/x');
ALTER SERVER own2 OPTIONS (SET api_url :'api_url');
ALTER SERVER own1 OPTIONS (ADD ca_file '/etc/passwd');
ALTER SERVER own1 OPTIONS (ADD proxy 'http://127.0.0.1:18999');
-- its other options remain the owner's to change
ALTER SERVER own1 OPTIONS (ADD timeout_ms '1000');
ALTER SERVER own2 OPTIONS (SET api_url 'https://api.cloudflare.com/client/v4/');
SELECT srvname, srvoptions FROM pg_foreign_server WHERE srvname IN ('own1', 'own2', 'evil') ORDER BY 1;
RESET ROLE;
-- a server a superuser pointed at the mock and gave away: PostgreSQL
-- validates all of a server's options on ALTER, so its non-superuser owner
-- can alter it only by dropping api_url (back to the default)
CREATE SERVER given FOREIGN DATA WRAPPER cfiam
  OPTIONS (account_id '0123456789abcdef0123456789abcdef', api_url :'api_url');
ALTER SERVER given OWNER TO cfiam_analyst;
SET ROLE cfiam_analyst;
ALTER SERVER given OPTIONS (ADD timeout_ms '1000');
ALTER SERVER given OPTIONS (DROP api_url, ADD timeout_ms '1000');
SELECT srvoptions FROM pg_foreign_server WHERE srvname = 'given';
RESET ROLE;
-- a superuser may set all three
ALTER SERVER own1 OPTIONS (ADD api_url 'http://127.0.0.1:18999/x', ADD ca_file '/etc/ssl/certs/ca-certificates.crt',
                           ADD proxy 'http://127.0.0.1:3128');
-- nothing above reached the mock
\! python3 $MOCKCTL log

-- clean up
DROP SERVER own1, own2, given CASCADE;
DROP SCHEMA cfiam_analyst;
DROP USER MAPPING FOR cfiam_analyst SERVER cloudflare;
REVOKE ALL ON ALL TABLES IN SCHEMA cf FROM cfiam_analyst;
REVOKE ALL ON SCHEMA cf FROM cfiam_analyst;
REVOKE ALL ON FOREIGN SERVER cloudflare FROM cfiam_analyst;
REVOKE USAGE ON FOREIGN DATA WRAPPER cfiam FROM cfiam_analyst;
DROP ROLE cfiam_analyst;
