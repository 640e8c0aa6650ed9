\set ECHO none
-- The end of a fault's test in sql/errors.sql:
--   \set query 'SELECT count(*) FROM cf.roles'
--   \! python3 $MOCKCTL fault malformed
--   :query;
--   \i :abs_srcdir/test/after_fault.sql
-- The fault made the query fail; this shows the error's SQLSTATE, that the
-- session keeps working (SELECT 1) and that the same query now succeeds, and
-- the requests the mock received.  Its queries are echoed as they are sent.
-- (The failing query runs in the suite itself: psql would put this file's
-- name and line before an error raised here.)
\echo :SQLSTATE
\set ECHO queries
SELECT 1;
:query;
\set ECHO none
\! python3 $MOCKCTL log
\unset query
\set ECHO all
