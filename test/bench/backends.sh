#!/usr/bin/env bash
# backends.sh - cfiam's concurrent-backends benchmark: 8 dashboard backends run the same full
# scan of the account members at the same moment, against the mock API with 50 ms per answer,
# with cfiam preloaded (shared_preload_libraries = 'cfiam') and not: the wall time until all
# have their answer, the requests the mock received, and the most of them in any one second,
# against cfiam's max_requests_per_second and Cloudflare's 200 requests per second per client IP.
#
# Usage (as root on Debian 12, from any directory):
#   bash test/bench/backends.sh           full run: 10,000 members (200 pages of 50 per
#                                         backend), 3 runs of each configuration
#   bash test/bench/backends.sh --quick   a smoke test: 2,000 members, 1 run of each
# Options (test/bench/backends.py --help): --backends N (default 8), --members N (default
#   10000), --latency MS (per answer, default 50), --reps N (runs of each configuration,
#   median; default 3), --max-requests-per-second N (the server option; default left unset,
#   cfiam's default), --settle SECONDS (idle between the warm-up and the release, default 2),
#   --transport h2|http1|tls-http1 (default h2: TLS + HTTP/2 through a TLS front before the
#   mock).
#
# Steps: build and install cfiam (PGXS), start a throwaway cluster (test/pgcluster.sh with
# CFIAM_PRELOAD=0, through test/transport.sh), the mock and the transport; backends.py
# switches shared_preload_libraries between '' and 'cfiam' (ALTER SYSTEM RESET / SET, what
# CFIAM_PRELOAD=1 writes, and a restart before every run), measures and prints a markdown
# report on stdout (progress on stderr).
# Everything started is stopped on exit.
#
# Environment (all optional, as for test/run-tests.sh): PG_CONFIG, PG_BINDIR, CFIAM_PGDATA,
# CFIAM_PGPORT, CFIAM_MOCK_PORT, CFIAM_FRONT_PORT, CFIAM_PROXY_PORT.
set -euo pipefail

# shellcheck source=test/bench/benchlib.sh
. "$(dirname "${BASH_SOURCE[0]}")/benchlib.sh"

bench_init backends "$@"
# Your own TLS front is not supported here: the cluster script starts the transport.
unset CFIAM_API_URL CFIAM_CA_FILE

bench_pg_config
export BACKENDS_BINDIR="$PG_BIN"
BACKENDS_LIBFILE="$("$PG_CONFIG" --pkglibdir)/cfiam.so"
export BACKENDS_LIBFILE

bench_traps
bench_build
# not preloaded to begin with: backends.py sets shared_preload_libraries with ALTER SYSTEM
bench_start 0

python3 "$BENCH/backends.py" "$@"
