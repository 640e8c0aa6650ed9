#!/usr/bin/env bash
# access.sh - cfiam's effective-access benchmark: the report of who can do what, where
# (cf.effective_access, made by cfiam_create_effective_access; docs/reporting.md) through cfiam
# and the same rows computed with Cloudflare's official TypeScript SDK, against the mock API with
# 50 ms per answer, over TLS + HTTP/2 through a TLS front: requests, wall time, and cfiam's wall
# time against the floor its pace of requests sets.
#
# Usage (as root on Debian 12, from any directory):
#   bash test/bench/access.sh           full run: 10,000 account members, 200 user groups of
#                                       50, the mock's 4 permission groups and 2 resource
#                                       groups; median of 3 runs of each
#   bash test/bench/access.sh --quick   a smoke test: 1,000 members, 20 groups of 50, 1 run
# Options (test/bench/access.py --help): --reps N (default 3), --latency MS (per answer,
#   default 50), --members N, --groups N, --members-per-group N, --permission-groups N,
#   --resource-groups N, --sdk LIST (the SDK's variants, IN_FLIGHT:PAGING, default
#   1:auto,4:total), --max-concurrency N and --max-requests-per-second N (the server options;
#   default left unset: cfiam's defaults), --transport h2|http1|tls-http1 (default h2).
#
# Steps: install node + npm with apt-get if they are missing, `npm ci` the pinned SDK
# (test/bench/package-lock.json) if it is not installed yet, build and install cfiam (PGXS),
# start a throwaway cluster, the mock and the transport (test/pgcluster.sh through
# test/transport.sh), then access.py measures and prints a markdown report on stdout
# (progress on stderr). Everything started is stopped on exit. Exit status 1 if the row counts
# (or the rows' digest) of cfiam and the SDK differ, cfiam's server did not negotiate the
# transport's protocol, or the installed cfiam.so changed during the run.
#
# Environment (all optional, as for test/run-tests.sh): PG_CONFIG, PG_BINDIR, CFIAM_PGDATA,
# CFIAM_PGPORT, CFIAM_MOCK_PORT, CFIAM_FRONT_PORT, CFIAM_PROXY_PORT.
set -euo pipefail

# shellcheck source=test/bench/benchlib.sh
. "$(dirname "${BASH_SOURCE[0]}")/benchlib.sh"

bench_init access "$@"
# Your own TLS front is not supported here: the cluster script starts the transport.
unset CFIAM_API_URL CFIAM_CA_FILE

bench_pg_config
export ACCESS_PSQL="$PG_BIN/psql"
ACCESS_LIBFILE="$("$PG_CONFIG" --pkglibdir)/cfiam.so"
export ACCESS_LIBFILE

bench_traps
bench_sdk
bench_build
bench_start 0

python3 "$BENCH/access.py" "$@"
