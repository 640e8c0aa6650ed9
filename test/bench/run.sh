#!/usr/bin/env bash
# run.sh - cfiam's benchmark: API requests, wall time against Cloudflare's official
# TypeScript SDK, decode throughput and backend memory, all against the mock API.
#
# Usage (as root on Debian 12, from any directory):
#   bash test/bench/run.sh            full run: 1,000 and 10,000 account members,
#                                     200 groups x 50 members, 50 ms per answer,
#                                     memory at 1,000 / 10,000 / 100,000 rows, the
#                                     three-way join at 10,000 with no added latency
#   bash test/bench/run.sh --quick    small sizes, for a smoke test (~1 minute)
#   bash test/bench/run.sh --only-join3
#                                     the three-way join at 10,000 with no added latency
#                                     alone, cfiam only (no SDK, no node): paced and not
#                                     paced, at max_concurrency unset and 1 (~1 minute)
# Options: --reps N (timed repetitions, median reported; default 3), --latency MS
#   (default 50), --max-concurrency N (sets cfiam's server option of that name; an error
#   if the installed build does not have it; by default the option is left unset),
#   --sweep LIST (other max_concurrency values the largest full scan is also timed with,
#   default 4,8,16; '' for none), --transport h2|http1|tls-http1 (default h2: cfiam talks
#   TLS + HTTP/2 to a TLS front (nghttpx) before the mock, as to api.cloudflare.com, with
#   the server option ca_file; the SDK keeps its default, HTTP/1.1 keep-alive, over TLS to
#   the same front; http1: both plain HTTP/1.1 to the mock; tls-http1: the front offers
#   HTTP/1.1 only), --max-requests-per-second N (sets cfiam's server option of that name,
#   0 for no pace; by default the option is left unset).
#
# Steps: build and install cfiam (PGXS, like test/run-tests.sh), unless --only-join3 install node + npm with
# apt-get if they are missing, `npm ci` the pinned SDK (test/bench/package-lock.json) if
# it is not installed yet, start a throwaway cluster + the mock + for a TLS transport the
# front with a CA made at start-up (test/pgcluster.sh through test/transport.sh), then
# test/bench/bench.py measures and prints the report. Everything started is stopped on exit.
#
# Environment (all optional, as for test/run-tests.sh): PG_CONFIG, PG_BINDIR,
# CFIAM_PGDATA, CFIAM_PGPORT, CFIAM_MOCK_PORT, CFIAM_FRONT_PORT, CFIAM_PROXY_PORT;
# CFIAM_API_URL and CFIAM_CA_FILE to use a TLS front you run yourself before the mock
# (test/transport.sh).
set -euo pipefail

# shellcheck source=test/bench/benchlib.sh
. "$(dirname "${BASH_SOURCE[0]}")/benchlib.sh"
BENCH_NAME=bench

# The exact command, for the report: with a TLS front of your own, its URL and CA too.
CMDLINE=""
for v in PG_CONFIG PG_BINDIR CFIAM_PGDATA CFIAM_PGPORT CFIAM_MOCK_PORT CFIAM_FRONT_PORT \
         CFIAM_PROXY_PORT CFIAM_API_URL CFIAM_CA_FILE; do
    if [ -n "${!v:-}" ]; then CMDLINE="$CMDLINE$v=${!v} "; fi
done
export BENCH_CMDLINE="${CMDLINE}bash test/bench/run.sh${*:+ $*}"

# Validate the arguments before building anything (bench.py parses them again); the
# transport is needed here, to start the front.
bench_args run.sh "$@"
WITH_SDK=1
for a in "$@"; do
    if [ "$a" = --only-join3 ]; then WITH_SDK=0; fi
done
bench_check_args bench.py "$@"
export BENCH_TRANSPORT="$TRANSPORT"

bench_pg_config
export BENCH_PSQL="$PG_BIN/psql"

bench_traps
# node and the SDK, not for --only-join3 (cfiam only)
if [ "$WITH_SDK" = 1 ]; then bench_sdk; fi
bench_build
bench_start

python3 "$BENCH/bench.py" "$@"
