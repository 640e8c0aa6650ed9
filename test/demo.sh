#!/usr/bin/env bash
# demo.sh - show cfiam at work against the mock Cloudflare API.
#
# Usage (as root, from any directory):   bash test/demo.sh
#
# Installs the Debian packages it needs when some are missing (test/deps.sh),
# builds and installs the extension, starts the throwaway PostgreSQL 15
# cluster and the mock API (test/pgcluster.sh), seeds the mock with sample
# accounts, groups and roles, runs a few queries through the foreign tables,
# and prints how many API calls the mock received. Everything it started is
# stopped on exit. CFIAM_TRANSPORT=h2 (or tls-http1) runs it over TLS through
# the front of test/pgcluster.sh, as the regression suites' TLS passes do.
# Environment: as test/lib.sh says (PG_CONFIG, PG_BINDIR, CFIAM_PGDATA and the
# ports), all optional.
set -euo pipefail

# The build's and the cluster's Debian packages, before lib.sh looks for
# PostgreSQL 15.
bash "$(dirname "${BASH_SOURCE[0]}")/deps.sh"

# shellcheck source=test/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

trap cluster_stop EXIT

echo "== build and install"
build_install

echo "== start the throwaway cluster and the mock API"
# PGHOST, PGPORT, PGUSER, CFIAM_MOCK_PORT, CFIAM_API_URL and CFIAM_CA_FILE
# of that cluster and mock (and front).
cluster_start

echo "== seed the mock with sample data"
python3 test/mockctl.py reset --user-groups 8 --members-per-group 4 \
    --account-members 25 --roles 4 --permission-groups 6 --resource-groups 3 --accounts 3

echo
"$PSQL" -X -q -v ON_ERROR_STOP=1 -v api_url="$CFIAM_API_URL" -v ca_file="$CFIAM_CA_FILE" <<'SQL'
\echo '== set up: extension, server, user mapping, imported foreign tables'
CREATE EXTENSION cfiam;
CREATE SERVER cloudflare FOREIGN DATA WRAPPER cfiam
  OPTIONS (account_id '0123456789abcdef0123456789abcdef', api_url :'api_url');
-- over TLS: the test CA that signed the front's certificate
SELECT :'ca_file' <> '' AS tls \gset
\if :tls
ALTER SERVER cloudflare OPTIONS (ADD ca_file :'ca_file');
\endif
CREATE USER MAPPING FOR CURRENT_USER SERVER cloudflare OPTIONS (api_token 'cfiam-test-token');
CREATE SCHEMA cf;
IMPORT FOREIGN SCHEMA cfiam FROM SERVER cloudflare INTO cf;
\det cf.*

\echo '== user groups and their member counts'
SELECT g.name, count(m.id) AS members
  FROM cf.user_groups g
  LEFT JOIN cf.user_group_members m ON m.user_group_id = g.id
 GROUP BY g.name
 ORDER BY g.name;

\echo '== members with a pending invitation'
SELECT email, first_name, last_name
  FROM cf.account_members
 WHERE status = 'pending'
 ORDER BY email;

\echo '== account members and their roles (first 10)'
SELECT m.email, r.name AS role
  FROM cf.account_members m
 CROSS JOIN LATERAL unnest(m.role_ids) AS rid
  JOIN cf.roles r ON r.id = rid
 ORDER BY m.email
 LIMIT 10;

\echo '== the pending-invitation query: filter and sort go to the API'
EXPLAIN (VERBOSE, COSTS OFF)
SELECT email, first_name, last_name
  FROM cf.account_members
 WHERE status = 'pending'
 ORDER BY email;
SQL

echo "== API calls the mock received so far"
python3 test/mockctl.py count

"$PSQL" -X -q -v ON_ERROR_STOP=1 <<'SQL'
\echo '== changing membership from SQL: a new group, and every pending member added to it'
INSERT INTO cf.user_groups (name) VALUES ('Pending review') RETURNING id, name;
INSERT INTO cf.user_group_members (user_group_id, id)
SELECT g.id, m.id
  FROM cf.user_groups g, cf.account_members m
 WHERE g.name = 'Pending review' AND m.status = 'pending';
SELECT count(*) AS members_of_pending_review
  FROM cf.user_groups g JOIN cf.user_group_members m ON m.user_group_id = g.id
 WHERE g.name = 'Pending review';
SQL
echo "== the calls those statements made: one POST for the group, one for all its members"
python3 test/mockctl.py log | sed -e 's/0123456789abcdef0123456789abcdef/<account>/'

"$PSQL" -X -q -v ON_ERROR_STOP=1 <<'SQL'
\echo '== who can do what, where: effective access (one statement makes the view)'
SELECT cfiam_create_effective_access('cf') AS view;
SELECT via, coalesce(user_group_name, role_name, '(own policy)') AS through,
       access, count(DISTINCT member_id) AS members
  FROM cf.effective_access
 GROUP BY 1, 2, 3
 ORDER BY 1, 2, 3
 LIMIT 12;

\echo '== API tokens unused for 90 days, never used, or never expiring'
SELECT name, status,
       coalesce(to_char(last_used_on, 'YYYY-MM-DD'), 'never used') AS last_used,
       coalesce(to_char(expires_on, 'YYYY-MM-DD'), 'never expires') AS expires
  FROM cf.account_tokens
 WHERE status <> 'expired'
   AND (last_used_on IS NULL OR last_used_on < now() - interval '90 days' OR expires_on IS NULL)
 ORDER BY name;
SQL

python3 test/mockctl.py clear-log
"$PSQL" -X -q -v ON_ERROR_STOP=1 -v api_url="$CFIAM_API_URL" -v ca_file="$CFIAM_CA_FILE" <<'SQL'
\echo '== every account in one query: a server without account_id (three accounts here)'
CREATE SERVER cloudflare_all FOREIGN DATA WRAPPER cfiam OPTIONS (api_url :'api_url');
SELECT :'ca_file' <> '' AS tls \gset
\if :tls
ALTER SERVER cloudflare_all OPTIONS (ADD ca_file :'ca_file');
\endif
CREATE USER MAPPING FOR CURRENT_USER SERVER cloudflare_all OPTIONS (api_token 'cfiam-test-token');
CREATE SCHEMA cf_all;
IMPORT FOREIGN SCHEMA cfiam FROM SERVER cloudflare_all INTO cf_all;
SELECT a.name AS account, a.type, count(*) AS members,
       count(*) FILTER (WHERE m.status = 'pending') AS pending
  FROM cf_all.accounts a
  JOIN cf_all.account_members m ON m.account_id = a.id
 GROUP BY 1, 2
 ORDER BY 1;
SQL
echo "== the calls that query made: the accounts, then each account's members"
python3 test/mockctl.py log | sed -e 's/0123456789abcdef0123456789abcdef/<account>/'

