#!/usr/bin/env bash
# dashboard.sh - cfiam's dashboard benchmark: a three-panel reporting dashboard refreshed 20
# times in five minutes from a pool of connections, against the mock API, with the result
# cache (cache_ttl) shared in memory: API requests without the cache and with it, the
# latency of a cache hit against a call, and the memory the cache used.
#
# Usage (as root on Debian 12, from any directory):
#   bash test/bench/dashboard.sh           full run, in real time: about 25 minutes
#   bash test/bench/dashboard.sh --quick   a smoke test: small account, time compressed
#                                          15x, about 2 minutes
# Options (test/bench/dashboard.py --help): --members N, --groups N, --members-per-group N
#   (default 10,000 / 200 / 50), --connections N (the dashboard's pool, default 4), --ttls
#   LIST (cache_ttl values compared with none, default 60,150,300), --interval SECONDS (from
#   one refresh to the next, default 15: the 20 refreshes take 20 x SECONDS, five minutes),
#   --scale K (divide the refresh interval, the 20 refreshes' span and every cache_ttl by K;
#   default 1), --latency MS (per answer, default 50), --reps N (hit / call timings, default
#   7), --cache-size SIZE (cfiam.cache_size, default 64MB), --also-cache-size SIZE (run the
#   largest cache_ttl again at that size; default 8MB, the setting's default; '' for none),
#   --transport h2|http1|tls-http1 (default h2: TLS + HTTP/2 through a TLS front before the
#   mock).
#
# Steps: build and install cfiam (PGXS), start a throwaway cluster with
# shared_preload_libraries = 'cfiam' (test/pgcluster.sh with CFIAM_PRELOAD=1, through
# test/transport.sh), the mock and the transport; dashboard.py sets cfiam.cache_size (ALTER
# SYSTEM and a restart of the cluster), measures and prints a markdown report on stdout
# (progress on stderr). Everything started is stopped on exit.
#
# Environment (all optional, as for test/run-tests.sh): PG_CONFIG, PG_BINDIR, CFIAM_PGDATA,
# CFIAM_PGPORT, CFIAM_MOCK_PORT, CFIAM_FRONT_PORT, CFIAM_PROXY_PORT.
set -euo pipefail

# shellcheck source=test/bench/benchlib.sh
. "$(dirname "${BASH_SOURCE[0]}")/benchlib.sh"

bench_init dashboard "$@"
# Your own TLS front is not supported here: the cluster script starts the transport.
unset CFIAM_API_URL CFIAM_CA_FILE

bench_pg_config
export DASH_BINDIR="$PG_BIN"

bench_traps
bench_build
bench_start 1

python3 "$BENCH/dashboard.py" "$@"
