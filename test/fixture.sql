\set ECHO none
-- Common set-up of the regression suites: a server pointing at the mock
-- Cloudflare API (test/mock_cloudflare.py), a user mapping with the mock's
-- token, and the six tables imported into schema cf.  Quiet, so that each
-- suite's expected output shows only what it tests.
--
-- The transport (test/pgcluster.sh, CFIAM_TRANSPORT) comes from the
-- environment: CFIAM_API_URL is the mock itself over plain HTTP/1.1, or the
-- TLS front before it, and CFIAM_CA_FILE is then the test CA that signed the
-- front's certificate (empty for plain HTTP).  Without them: the mock over
-- plain HTTP.  A suite that creates a server of its own gives it the CA file
-- through test/use_transport.sql, so its echoed SQL is the same for every
-- transport.
SET client_min_messages = warning;
\getenv abs_srcdir PG_ABS_SRCDIR
\getenv mock_port CFIAM_MOCK_PORT
\if :{?mock_port}
\else
\set mock_port 18787
\endif
-- mock_url: the mock itself over plain HTTP, whatever the transport
\set mock_url 'http://127.0.0.1:' :mock_port '/client/v4'
\set api_url ''
\getenv api_url CFIAM_API_URL
\set ca_file ''
\getenv ca_file CFIAM_CA_FILE
SELECT coalesce(nullif(:'api_url', ''), :'mock_url') AS api_url,
       :'ca_file' <> '' AS cfiam_tls \gset
-- mockctl drives the mock: \! python3 $MOCKCTL log|reset|fault ...
\setenv MOCKCTL :abs_srcdir/test/mockctl.py
-- and pgcluster.sh the TLS front: \! bash $PGCLUSTER front-restart (which
-- kills it and starts it again; nothing over plain HTTP)
\setenv PGCLUSTER :abs_srcdir/test/pgcluster.sh
\setenv CFIAM_MOCK_PORT :mock_port
DROP SERVER IF EXISTS cloudflare CASCADE;
-- One request at a time and no count(*) pushdown: the suites read the mock's
-- log in arrival order and use count(*) to scan every page.  The concurrency
-- and aggregate suites turn both on.
CREATE SERVER cloudflare FOREIGN DATA WRAPPER cfiam
  OPTIONS (account_id '0123456789abcdef0123456789abcdef', api_url :'api_url',
           max_concurrency '1', count_pushdown 'false', max_retries '0');
\if :cfiam_tls
ALTER SERVER cloudflare OPTIONS (ADD ca_file :'ca_file');
\endif
CREATE USER MAPPING FOR CURRENT_USER SERVER cloudflare
  OPTIONS (api_token 'cfiam-test-token');
DROP SCHEMA IF EXISTS cf CASCADE;
CREATE SCHEMA cf;
IMPORT FOREIGN SCHEMA cfiam FROM SERVER cloudflare INTO cf;
RESET client_min_messages;
\set ECHO all
