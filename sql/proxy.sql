-- The egress proxy (server option proxy): every request of the server goes
-- through it, and only a superuser may set it.  test/proxy.py stands for the
-- proxy (test/pgcluster.sh starts it); it remembers one line per request.
-- Over plain HTTP it forwards each request (absolute-form: one log line per
-- request, proxy.out); over TLS it opens a CONNECT tunnel per connection and
-- sees nothing inside (proxy_1.out: the log shows the tunnels).
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
\getenv proxy_port CFIAM_PROXY_PORT
\if :{?proxy_port}
\else
\set proxy_port 18790
\endif
\set proxy_url 'http://127.0.0.1:' :proxy_port
\set tls_url 'https://127.0.0.1:' :mock_port '/client/v4'
\setenv PROXYCTL :abs_srcdir/test/proxy.py
\setenv CFIAM_PROXY_PORT :proxy_port
\! python3 $MOCKCTL reset
\! python3 $PROXYCTL log >/dev/null

CREATE SERVER viaproxy FOREIGN DATA WRAPPER cfiam
  OPTIONS (account_id '0123456789abcdef0123456789abcdef', api_url :'api_url', proxy :'proxy_url',
           max_concurrency '1', max_retries '0');
\set server viaproxy
\i :abs_srcdir/test/use_transport.sql
CREATE USER MAPPING FOR CURRENT_USER SERVER viaproxy OPTIONS (api_token 'cfiam-test-token');
CREATE FOREIGN TABLE px_roles (id text, name text) SERVER viaproxy OPTIONS (resource 'roles');
CREATE FOREIGN TABLE px_groups (id text, name text) SERVER viaproxy OPTIONS (resource 'user_groups');
CREATE FOREIGN TABLE px_members (user_group_id text, id text, email text)
  SERVER viaproxy OPTIONS (resource 'user_group_members');

-- the rows arrive; the proxy forwarded each request (plain http to the
-- loopback mock: absolute-form requests), and the mock got the same ones
SELECT name FROM px_roles ORDER BY name;
\! python3 $PROXYCTL log | sed -E 's/127\.0\.0\.1:[0-9]+/127.0.0.1:PORT/g'
\! python3 $MOCKCTL log

-- writes too
INSERT INTO px_groups (name) VALUES ('Through the proxy') RETURNING name;
UPDATE px_groups SET name = 'Through the proxy, renamed' WHERE name = 'Through the proxy';
DELETE FROM px_groups WHERE name = 'Through the proxy, renamed';
\! python3 $PROXYCTL log | sed -E 's/127\.0\.0\.1:[0-9]+/127.0.0.1:PORT/g'
\! python3 $MOCKCTL clear-log

-- concurrent GETs of a batch go through it as well (in any order; over TLS
-- one tunnel per connection: one over HTTP/2, up to 4 over HTTP/1.1)
ALTER SERVER viaproxy OPTIONS (SET max_concurrency '4');
SELECT count(*) FROM px_members;
\! python3 $PROXYCTL log | sed -E 's/127\.0\.0\.1:[0-9]+/127.0.0.1:PORT/g' | sort -u
\! python3 $MOCKCTL count

-- a server without the option does not use it
SELECT count(*) FROM cf.roles;
\! python3 $PROXYCTL log | sed -E 's/127\.0\.0\.1:[0-9]+/127.0.0.1:PORT/g'
\! python3 $MOCKCTL count

-- https goes through a CONNECT tunnel: the proxy learns the host and port,
-- never the path or the credential.  (The mock speaks plain http, so the
-- TLS handshake inside the tunnel fails: the error is curl's.)
ALTER SERVER viaproxy OPTIONS (SET api_url :'tls_url');
\set VERBOSITY sqlstate
SELECT count(*) FROM px_roles;
\set VERBOSITY default
\! python3 $PROXYCTL log | sed -E 's/127\.0\.0\.1:[0-9]+/127.0.0.1:PORT/g'
\! python3 $MOCKCTL log

-- a proxy that is not there: an error, and nothing reaches the mock
ALTER SERVER viaproxy OPTIONS (SET api_url :'api_url', SET proxy 'http://127.0.0.1:9');
\set VERBOSITY sqlstate
SELECT count(*) FROM px_roles;
\set VERBOSITY default
\! python3 $MOCKCTL count
ALTER SERVER viaproxy OPTIONS (SET proxy :'proxy_url');

-- only a superuser may set proxy; a non-superuser may use the server a
-- superuser set it on, through its own user mapping
CREATE ROLE cfiam_proxy_user;
GRANT USAGE ON FOREIGN DATA WRAPPER cfiam TO cfiam_proxy_user;
GRANT USAGE ON FOREIGN SERVER viaproxy TO cfiam_proxy_user;
GRANT SELECT ON px_roles TO cfiam_proxy_user;
CREATE USER MAPPING FOR cfiam_proxy_user SERVER viaproxy OPTIONS (api_token 'cfiam-test-token');
SET ROLE cfiam_proxy_user;
CREATE SERVER ownproxy FOREIGN DATA WRAPPER cfiam
  OPTIONS (account_id '0123456789abcdef0123456789abcdef', proxy :'proxy_url');
\echo :SQLSTATE
SELECT count(*) FROM px_roles;
RESET ROLE;
\! python3 $PROXYCTL log | sed -E 's/127\.0\.0\.1:[0-9]+/127.0.0.1:PORT/g'
\! python3 $MOCKCTL log

-- clean up
DROP SERVER viaproxy CASCADE;
REVOKE USAGE ON FOREIGN DATA WRAPPER cfiam FROM cfiam_proxy_user;
DROP ROLE cfiam_proxy_user;
