\set ECHO none
-- Give the server named by psql variable "server" the CA file of the test
-- CA when the suites run over TLS (test/fixture.sql sets ca_file and
-- cfiam_tls from the environment); nothing over plain HTTP.  Quiet, so
-- that a suite's echoed SQL is the same for every transport:
--   \set server my_server
--   \i :abs_srcdir/test/use_transport.sql
\if :cfiam_tls
ALTER SERVER :"server" OPTIONS (ADD ca_file :'ca_file');
\endif
\unset server
\set ECHO all
