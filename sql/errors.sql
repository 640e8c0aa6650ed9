--
-- errors: what the user sees when the API (or the way to it) fails, and that
-- the session keeps working afterwards.
--
-- Cloudflare's own errors read "Cloudflare API error <code>: <message>", with
-- the HTTP status, method and path in DETAIL and a fitting SQLSTATE; psql's
-- :SQLSTATE variable shows it (VERBOSITY verbose would too, but its LOCATION
-- line carries source line numbers that change with every edit of src/).
-- The suites' server retries nothing (test/fixture.sql sets max_retries 0;
-- retries are sql/resilience.sql's subject): each failure below is one error
-- after one request, except where libcurl itself resends a request over a
-- dead keep-alive connection (see the "reset" fault).
--
-- Alternative output: over TLS + HTTP/2 (the h2 pass of test/run-tests.sh)
-- a body cut short reaches cfiam as a reset HTTP/2 stream (the TLS front,
-- nghttpx, resets the stream when the mock's answer ends early), so that
-- error's text differs: expected/errors_1.out is the output there, and
-- errors.out the one over plain HTTP/1.1.  All else is the same.
--
\getenv abs_srcdir PG_ABS_SRCDIR
\i :abs_srcdir/test/fixture.sql
\! python3 $MOCKCTL reset
-- For errors whose text holds timings (curl's "after 0 ms"): SQLSTATE,
-- message with the numbers replaced by N, and detail.
CREATE FUNCTION public.error_of(query text,
                                OUT state text, OUT message text, OUT detail text)
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE query;
  state := '00000';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                          detail = PG_EXCEPTION_DETAIL;
  message := regexp_replace(message, '\d+ (ms|milliseconds)', 'N \1', 'g');
END
$$;
SELECT count(*) FROM cf.roles;
\! python3 $MOCKCTL log

--
-- A wrong credential: the API answers 403 with code 10000.  The token must
-- appear nowhere (error, EXPLAIN, mock log).  Both tokens, and the keys
-- below, are built by concatenation, so that their values never occur in this
-- file's expected output: grep for them there finds nothing.
--
SELECT 'wrong-' || 'token-' || 'f00d' AS bad_token,
       'cfiam-test-' || 'token' AS good_token \gset
ALTER USER MAPPING FOR CURRENT_USER SERVER cloudflare OPTIONS (SET api_token :'bad_token');
SELECT count(*) FROM cf.account_members;
\echo :SQLSTATE
-- a GET by id is an error too, not "no rows"
SELECT email FROM cf.account_members WHERE id = '181976eb9ba5a68cf95476bfbeb6cf41';
\echo :SQLSTATE
-- planning and EXPLAIN send nothing and so do not fail
EXPLAIN (VERBOSE, COSTS OFF) SELECT email FROM cf.account_members WHERE status = 'pending';
\! python3 $MOCKCTL log
-- neither the wrong token nor the right one is in any part of the error
DO $$
DECLARE
  m text; d text; h text; c text;
BEGIN
  PERFORM count(*) FROM cf.account_members;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS m = MESSAGE_TEXT, d = PG_EXCEPTION_DETAIL,
                          h = PG_EXCEPTION_HINT, c = PG_EXCEPTION_CONTEXT;
  RAISE NOTICE 'error: %; wrong token in it: %; right token in it: %; "Bearer" in it: %',
    m, strpos(concat(m, d, h, c), 'wrong-' || 'token-' || 'f00d') > 0,
    strpos(concat(m, d, h, c), 'cfiam-test-' || 'token') > 0,
    strpos(concat(m, d, h, c), 'Bearer') > 0;
END
$$;
\! python3 $MOCKCTL log
SELECT 1;
-- the right token again: the cached connection is rebuilt, queries work
ALTER USER MAPPING FOR CURRENT_USER SERVER cloudflare OPTIONS (SET api_token :'good_token');
SELECT count(*) FROM cf.account_members;
\! python3 $MOCKCTL log

-- the same with api_email + api_key
SELECT 'wrong-' || 'key-' || 'f00d' AS bad_key, 'cfiam-test-' || 'key' AS good_key \gset
ALTER USER MAPPING FOR CURRENT_USER SERVER cloudflare
  OPTIONS (DROP api_token, ADD api_email 'admin@example.com', ADD api_key :'bad_key');
SELECT count(*) FROM cf.roles;
\echo :SQLSTATE
ALTER USER MAPPING FOR CURRENT_USER SERVER cloudflare OPTIONS (SET api_key :'good_key');
SELECT count(*) FROM cf.roles;
ALTER USER MAPPING FOR CURRENT_USER SERVER cloudflare
  OPTIONS (DROP api_email, DROP api_key, ADD api_token :'good_token');
SELECT count(*) FROM cf.roles;
\! python3 $MOCKCTL log

-- another account than the credential's (table option account_id): 403, 9109
CREATE FOREIGN TABLE public.other_account_roles (id text, name text)
  SERVER cloudflare OPTIONS (resource 'roles', account_id 'fedcba9876543210fedcba9876543210');
SELECT * FROM public.other_account_roles;
\echo :SQLSTATE
\! python3 $MOCKCTL log
DROP FOREIGN TABLE public.other_account_roles;

--
-- Injected faults.  Each one hits the next request only; the error is clear,
-- the session keeps working (SELECT 1) and the next query succeeds.
--
-- HTTP 500 with Cloudflare's envelope
\set query 'SELECT count(*) FROM cf.roles'
\! python3 $MOCKCTL fault status --status 500
:query;
\i :abs_srcdir/test/after_fault.sql
-- HTTP 503 on a GET by id: an error, not "no rows"
\! python3 $MOCKCTL fault status --status 503
SELECT name FROM cf.roles WHERE id = '13855ce437550996aadfbdeed6439952';
\echo :SQLSTATE
SELECT name FROM cf.roles WHERE id = '13855ce437550996aadfbdeed6439952';
\! python3 $MOCKCTL log
-- HTTP 429 with Retry-After: not retried either (max_retries 0)
\set query 'SELECT count(*) FROM cf.account_members'
\! python3 $MOCKCTL fault status --status 429 --retry-after 7
:query;
\i :abs_srcdir/test/after_fault.sql
-- HTTP 400 with the API's own code and message
\! python3 $MOCKCTL fault status --status 400 --code 1001 --message "Invalid value for parameter 'per_page'"
SELECT count(*) FROM cf.permission_groups;
\echo :SQLSTATE
SELECT count(*) FROM cf.permission_groups;
\! python3 $MOCKCTL log
-- HTTP 401, and a 404 on a listing (only a GET by id takes 404 as "no rows")
\! python3 $MOCKCTL fault status --status 401 --code 10001 --message "Unauthorized"
SELECT count(*) FROM cf.permission_groups;
\echo :SQLSTATE
\! python3 $MOCKCTL fault status --status 404 --code 7003 --message "No route for the URI"
SELECT count(*) FROM cf.permission_groups;
\echo :SQLSTATE
SELECT count(*) FROM cf.permission_groups;
\! python3 $MOCKCTL log
-- a body that is not valid JSON
\set query 'SELECT count(*) FROM cf.roles'
\! python3 $MOCKCTL fault malformed
:query;
\i :abs_srcdir/test/after_fault.sql
-- a body cut short (Content-Length promises more than arrives)
\set query 'SELECT count(*) FROM cf.roles'
\! python3 $MOCKCTL fault truncated
:query;
\i :abs_srcdir/test/after_fault.sql
-- an HTML page instead of JSON
\set query 'SELECT count(*) FROM cf.resource_groups'
\! python3 $MOCKCTL fault html
:query;
\i :abs_srcdir/test/after_fault.sql
-- HTTP 200 with "success": false
\set query 'SELECT count(*) FROM cf.roles'
\! python3 $MOCKCTL fault success_false
:query;
\i :abs_srcdir/test/after_fault.sql
-- "success": true but no "result"
\set query 'SELECT count(*) FROM cf.roles'
\! python3 $MOCKCTL fault missing_result
:query;
\i :abs_srcdir/test/after_fault.sql
\! python3 $MOCKCTL fault missing_result
SELECT name FROM cf.roles WHERE id = '13855ce437550996aadfbdeed6439952';
SELECT name FROM cf.roles WHERE id = '13855ce437550996aadfbdeed6439952';
\! python3 $MOCKCTL log
-- the connection dropped without an answer.  libcurl itself sends a request
-- again, once, when a reused keep-alive connection turns out dead before any
-- answer byte: so a single drop is invisible (two requests, one result) ...
SELECT count(*) FROM cf.roles;
\! python3 $MOCKCTL log
\! python3 $MOCKCTL fault reset
SELECT count(*) FROM cf.roles;
\! python3 $MOCKCTL log
-- ... and a drop on the fresh connection too is the error
\! python3 $MOCKCTL fault reset --count 2
SELECT count(*) FROM cf.roles;
\echo :SQLSTATE
\! python3 $MOCKCTL clear-faults
SELECT 1;
SELECT count(*) FROM cf.roles;
\! python3 $MOCKCTL log

--
-- A failure in the middle of a paged listing: page 1 was read, page 2 fails.
--
\! python3 $MOCKCTL reset --account-members 120
BEGIN;
DECLARE c CURSOR FOR SELECT email FROM cf.account_members;
MOVE 50 IN c;
\! python3 $MOCKCTL fault status --status 502
FETCH 1 FROM c;
\echo :SQLSTATE
ROLLBACK;
SELECT count(*), count(DISTINCT email) FROM cf.account_members;
\! python3 $MOCKCTL log
\! python3 $MOCKCTL reset

--
-- Nothing listening: a server whose api_url is a closed loopback port.
--
CREATE SERVER closed_port FOREIGN DATA WRAPPER cfiam
  OPTIONS (account_id '0123456789abcdef0123456789abcdef',
           api_url 'http://127.0.0.1:9/client/v4', max_retries '0');
CREATE USER MAPPING FOR CURRENT_USER SERVER closed_port OPTIONS (api_token :'good_token');
CREATE FOREIGN TABLE public.closed_roles (id text, name text)
  SERVER closed_port OPTIONS (resource 'roles');
SELECT * FROM public.error_of('SELECT * FROM public.closed_roles');
SELECT * FROM public.error_of(
  'SELECT * FROM public.closed_roles WHERE id = ''13855ce437550996aadfbdeed6439952''');
SELECT 1;
\! python3 $MOCKCTL log
DROP SERVER closed_port CASCADE;

--
-- The server's timeout_ms: an answer later than that is an error.
--
CREATE SERVER slow FOREIGN DATA WRAPPER cfiam
  OPTIONS (account_id '0123456789abcdef0123456789abcdef', api_url :'api_url',
           timeout_ms '300', max_retries '0');
\set server slow
\i :abs_srcdir/test/use_transport.sql
CREATE USER MAPPING FOR CURRENT_USER SERVER slow OPTIONS (api_token :'good_token');
CREATE FOREIGN TABLE public.slow_roles (id text, name text)
  SERVER slow OPTIONS (resource 'roles');
\! python3 $MOCKCTL fault delay --delay-ms 2000
SELECT * FROM public.error_of('SELECT * FROM public.slow_roles');
SELECT count(*) FROM public.slow_roles;
\! python3 $MOCKCTL log
DROP SERVER slow CASCADE;

--
-- statement_timeout stops a request in flight: the normal cancel error
-- (57014), well before the 5 s the answer would take.
--
\! python3 $MOCKCTL fault delay --delay-ms 5000
SET statement_timeout = '500ms';
SELECT count(*) FROM cf.roles;
\echo :SQLSTATE
RESET statement_timeout;
SELECT 1;
SELECT count(*) FROM cf.roles;
\! python3 $MOCKCTL log
-- how long it took: the cancel is noticed within a second of the timeout
\! python3 $MOCKCTL fault delay --delay-ms 5000
SET statement_timeout = '500ms';
DO $$
BEGIN
  PERFORM count(*) FROM cf.roles;
  RAISE NOTICE 'not canceled';
EXCEPTION WHEN query_canceled THEN
  RAISE NOTICE 'canceled after less than 2 s: %',
    clock_timestamp() - statement_timestamp() < interval '2 s';
END
$$;
RESET statement_timeout;
SELECT count(*) FROM cf.roles;
\! python3 $MOCKCTL log

DROP FUNCTION public.error_of(text);
