#!/usr/bin/env bash
# accounts.sh - cfiam's benchmark over every account a credential sees: a server without
# account_id (GET /accounts, then each account's listings) against the mock API with 30
# accounts of 500 members each, 50 ms per answer, over TLS + HTTP/2 through a TLS front. Counts
# per account (`SELECT account_id, count(*) ... GROUP BY account_id`) and a full scan of every
# member, through cfiam and through Cloudflare's official TypeScript SDK looping over the
# accounts: requests, wall time, and cfiam's wall time against the floor its pace sets.
#
# Usage (as root on Debian 12, from any directory):
#   bash test/bench/accounts.sh           full run: 30 accounts of 500 members, median of 3 runs
#                                         of each measurement
#   bash test/bench/accounts.sh --quick   a smoke test: 5 accounts of 100 members, 1 run
# Options (test/bench/accounts.py --help): --reps N (default 3), --latency MS (per answer,
#   default 50), --accounts N, --members N (per account), --sdk LIST (the SDK's variants,
#   IN_FLIGHT:PAGING, default 1:auto,4:total), --max-concurrency N and
#   --max-requests-per-second N (the server options; default left unset: cfiam's defaults),
#   --transport h2|http1|tls-http1 (default h2).
#
# Steps: install node + npm with apt-get if they are missing, `npm ci` the pinned SDK
# (test/bench/package-lock.json) if it is not installed yet, build and install cfiam (PGXS),
# start a throwaway cluster, the mock and the transport (test/pgcluster.sh through
# test/transport.sh), then accounts.py measures and prints a markdown report on stdout
# (progress on stderr). Everything started is stopped on exit. Exit status 1 if the counts or
# the rows (their digest) of cfiam and the SDK differ, cfiam's server did not negotiate the
# transport's protocol, or the installed cfiam.so changed during the run.
#
# Environment (all optional, as for test/run-tests.sh): PG_CONFIG, PG_BINDIR, CFIAM_PGDATA,
# CFIAM_PGPORT, CFIAM_MOCK_PORT, CFIAM_FRONT_PORT, CFIAM_PROXY_PORT.
set -euo pipefail

# shellcheck source=test/bench/benchlib.sh
. "$(dirname "${BASH_SOURCE[0]}")/benchlib.sh"

bench_init accounts "$@"
# Your own TLS front is not supported here: the cluster script starts the transport.
unset CFIAM_API_URL CFIAM_CA_FILE

bench_pg_config
export ACCOUNTS_PSQL="$PG_BIN/psql"
ACCOUNTS_LIBFILE="$("$PG_CONFIG" --pkglibdir)/cfiam.so"
export ACCOUNTS_LIBFILE

bench_traps
bench_sdk
bench_build
bench_start 0

python3 "$BENCH/accounts.py" "$@"
