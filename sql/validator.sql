-- Option validation: every bad option is refused when it is given, with a
-- message naming it; nothing reaches the API.
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
\! python3 $MOCKCTL reset

-- server: account_id is optional (without it the server covers every
-- account the credential sees) and must be 32 lowercase hex
CREATE SERVER v1 FOREIGN DATA WRAPPER cfiam;
DROP SERVER v1;
CREATE SERVER v1 FOREIGN DATA WRAPPER cfiam OPTIONS (account_id 'abc');
CREATE SERVER v1 FOREIGN DATA WRAPPER cfiam OPTIONS (account_id '0123456789ABCDEF0123456789ABCDEF');
CREATE SERVER v1 FOREIGN DATA WRAPPER cfiam OPTIONS (account_id '0123456789abcdef0123456789abcdef', colour 'blue');
-- api_url: https anywhere, plain http only for loopback hosts
CREATE SERVER v1 FOREIGN DATA WRAPPER cfiam OPTIONS (account_id '0123456789abcdef0123456789abcdef', api_url 'http://api.example.com/client/v4');
CREATE SERVER v1 FOREIGN DATA WRAPPER cfiam OPTIONS (account_id '0123456789abcdef0123456789abcdef', api_url 'http://127.0.0.1.example.com/v4');
CREATE SERVER v1 FOREIGN DATA WRAPPER cfiam OPTIONS (account_id '0123456789abcdef0123456789abcdef', api_url 'http://user@127.0.0.1/v4');
CREATE SERVER v1 FOREIGN DATA WRAPPER cfiam OPTIONS (account_id '0123456789abcdef0123456789abcdef', api_url 'ftp://127.0.0.1/');
CREATE SERVER v1 FOREIGN DATA WRAPPER cfiam OPTIONS (account_id '0123456789abcdef0123456789abcdef', api_url 'https://api.example.com/v4?x=1');
CREATE SERVER v1 FOREIGN DATA WRAPPER cfiam OPTIONS (account_id '0123456789abcdef0123456789abcdef', api_url 'http://127.0.0.2:8080/v4');
CREATE SERVER v2 FOREIGN DATA WRAPPER cfiam OPTIONS (account_id '0123456789abcdef0123456789abcdef', api_url 'http://[::1]:8080/v4');
CREATE SERVER v3 FOREIGN DATA WRAPPER cfiam OPTIONS (account_id '0123456789abcdef0123456789abcdef', api_url 'http://localhost/v4');
CREATE SERVER v4 FOREIGN DATA WRAPPER cfiam OPTIONS (account_id '0123456789abcdef0123456789abcdef', api_url 'https://api.cloudflare.com/client/v4/');
ALTER SERVER v4 OPTIONS (SET api_url 'http://10.0.0.1/client/v4');
-- proxy: http:// or https://, a host and a port, no credentials or path
CREATE SERVER v5 FOREIGN DATA WRAPPER cfiam OPTIONS (account_id '0123456789abcdef0123456789abcdef', proxy 'socks5://127.0.0.1:1080');
CREATE SERVER v5 FOREIGN DATA WRAPPER cfiam OPTIONS (account_id '0123456789abcdef0123456789abcdef', proxy 'http://user:secret@proxy.example:3128');
CREATE SERVER v5 FOREIGN DATA WRAPPER cfiam OPTIONS (account_id '0123456789abcdef0123456789abcdef', proxy 'http://proxy.example:3128/path');
CREATE SERVER v5 FOREIGN DATA WRAPPER cfiam OPTIONS (account_id '0123456789abcdef0123456789abcdef', proxy 'http://proxy.example:3128?x=1');
CREATE SERVER v5 FOREIGN DATA WRAPPER cfiam OPTIONS (account_id '0123456789abcdef0123456789abcdef', proxy 'http://proxy.example:65536');
CREATE SERVER v5 FOREIGN DATA WRAPPER cfiam OPTIONS (account_id '0123456789abcdef0123456789abcdef', proxy 'http://proxy.example:');
CREATE SERVER v5 FOREIGN DATA WRAPPER cfiam OPTIONS (account_id '0123456789abcdef0123456789abcdef', proxy 'http://:3128');
CREATE SERVER v5 FOREIGN DATA WRAPPER cfiam OPTIONS (account_id '0123456789abcdef0123456789abcdef', proxy 'http://[::1:3128');
CREATE SERVER v5 FOREIGN DATA WRAPPER cfiam OPTIONS (account_id '0123456789abcdef0123456789abcdef', proxy 'http://proxy example:3128');
CREATE SERVER v5 FOREIGN DATA WRAPPER cfiam OPTIONS (account_id '0123456789abcdef0123456789abcdef', proxy 'http://proxy.example.com:3128');
ALTER SERVER v5 OPTIONS (SET proxy 'https://[::1]:8443/');
ALTER SERVER v5 OPTIONS (SET proxy 'http://10.1.2.3');
CREATE USER MAPPING FOR CURRENT_USER SERVER v5 OPTIONS (api_token 't', proxy 'http://10.1.2.3:3128');
CREATE FOREIGN TABLE ft0 (id text) SERVER v5 OPTIONS (resource 'roles', proxy 'http://10.1.2.3:3128');
-- numbers: integers within range
ALTER SERVER v1 OPTIONS (ADD timeout_ms '0');
ALTER SERVER v1 OPTIONS (ADD timeout_ms '30s');
ALTER SERVER v1 OPTIONS (ADD connect_timeout_ms '-5');
ALTER SERVER v1 OPTIONS (ADD max_retries '11');
ALTER SERVER v1 OPTIONS (ADD timeout_ms '1000', ADD connect_timeout_ms '500', ADD max_retries '0');
-- options of one object are not accepted on another
ALTER SERVER v1 OPTIONS (ADD api_token 'x');
ALTER SERVER v1 OPTIONS (ADD resource 'roles');

-- user mapping: exactly one way to authenticate
CREATE USER MAPPING FOR CURRENT_USER SERVER v1;
CREATE USER MAPPING FOR CURRENT_USER SERVER v1 OPTIONS (api_email 'admin@example.com');
CREATE USER MAPPING FOR CURRENT_USER SERVER v1 OPTIONS (api_key 'k');
CREATE USER MAPPING FOR CURRENT_USER SERVER v1 OPTIONS (api_token 't', api_email 'admin@example.com', api_key 'k');
CREATE USER MAPPING FOR CURRENT_USER SERVER v1 OPTIONS (api_email 'not-an-email', api_key 'k');
CREATE USER MAPPING FOR CURRENT_USER SERVER v1 OPTIONS (api_token '');
-- a credential with a line break could inject an HTTP header
CREATE USER MAPPING FOR CURRENT_USER SERVER v1 OPTIONS (api_token E'abc\r\nX-Evil: 1');
CREATE USER MAPPING FOR CURRENT_USER SERVER v1 OPTIONS (account_id '0123456789abcdef0123456789abcdef');
CREATE USER MAPPING FOR CURRENT_USER SERVER v1 OPTIONS (api_email 'admin@example.com', api_key 'cfiam-test-key');
-- dropping one half of the pair leaves an invalid mapping: refused
ALTER USER MAPPING FOR CURRENT_USER SERVER v1 OPTIONS (DROP api_key);
ALTER USER MAPPING FOR CURRENT_USER SERVER v1 OPTIONS (DROP api_key, DROP api_email, ADD api_token 'cfiam-test-token');

-- foreign table: resource is required and must be one of the six
CREATE FOREIGN TABLE ft1 (id text) SERVER v1;
CREATE FOREIGN TABLE ft1 (id text) SERVER v1 OPTIONS (resource 'zones');
CREATE FOREIGN TABLE ft1 (id text) SERVER v1 OPTIONS (resource 'roles', account_id 'nope');
CREATE FOREIGN TABLE ft1 (id text) SERVER v1 OPTIONS (resource 'roles', order_pushdown 'maybe');
CREATE FOREIGN TABLE ft1 (id text) SERVER v1 OPTIONS (resource 'roles', api_url 'https://example.com');
CREATE FOREIGN TABLE ft1 (id text) SERVER v1 OPTIONS (resource 'roles', order_pushdown 'false', account_id 'fedcba9876543210fedcba9876543210');
-- a column the resource does not have is refused when the table is used
CREATE FOREIGN TABLE ft2 (id text, colour text) SERVER v1 OPTIONS (resource 'roles');
SELECT * FROM ft2;
EXPLAIN SELECT * FROM ft2;
-- a wrapper option does not exist
ALTER FOREIGN DATA WRAPPER cfiam OPTIONS (ADD debug 'on');

-- the table's account_id overrides the server's in the request path
CREATE FOREIGN TABLE ft3 (id text, name text) SERVER cloudflare
  OPTIONS (resource 'roles', account_id 'fedcba9876543210fedcba9876543210');
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM ft3;
-- that account is not the mock's: the API's 403 comes back as an error
SELECT * FROM ft3;

-- nothing above sent a request but the last SELECT
\! python3 $MOCKCTL log

DROP SERVER v1, v2, v3, v4, v5 CASCADE;
DROP FOREIGN TABLE ft3;
