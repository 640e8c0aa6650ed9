#!/usr/bin/env bash
# stress-h2.sh - concurrent reads through cfiam over Cloudflare's transport, TLS + HTTP/2,
# many times over: every body complete, every request count exact. Not part of CI (the
# full run takes about 20 minutes; about 12 of them at max_concurrency 1).
#
# Usage (as root on Debian 12, from any directory):
#   bash test/stress-h2.sh                 50 consecutive full scans of 10,000 account
#                                          members at max_concurrency 1, 4, 8 and 16,
#                                          50 ms per answer, plus 10 fan-outs over 200
#                                          groups x 50 members and 10 id = ANY(...) lookups
#                                          of 200 ids at each setting
#   bash test/stress-h2.sh --scans 3 --repeat 1     a quick run (~2 minutes)
# Options (see --help): --scans N, --settings 1:20,4,8,16 (MC or MC:SCANS), --repeat N,
#   --latency MS, --members N, --groups N, --per-group N, --ids N.
#
# It prints a markdown report on stdout (progress on stderr): per max_concurrency the
# protocol the server negotiated, then scans | failures | requests per scan (min/max) |
# median seconds per scan, and the same for the fan-out and the id lookups. A statement
# fails if it errors or its count is not the number of rows seeded; each must take exactly
# the minimum number of requests (200 for a scan: 10,000 / 50 per page), counted by the
# mock. Exit status 1 if anything failed, a count was off, or the protocol was not the
# expected one.
#
# Steps: build and install cfiam (PGXS), start a throwaway cluster, the mock and a TLS +
# HTTP/2 front (nghttpx) with a CA made at start-up (test/pgcluster.sh, transport h2),
# then test/stress-h2.py measures. Everything started is stopped on exit.
#
# Environment (all optional): PG_CONFIG, PG_BINDIR, CFIAM_PGDATA and the ports as
# test/lib.sh says; CFIAM_TRANSPORT (default h2; tls-http1 or http1 to compare);
# CFIAM_API_URL and CFIAM_CA_FILE to use a front you run yourself before the mock
# (see test/transport.sh).
#
# Result of the full default run (21 minutes on 2 CPUs shared with other jobs, load
# average 1.8 at the start, 4.4 at the end), libcurl 7.88.1, nghttpx 1.52 as the front:
#
#   max_concurrency | scans | failures | requests per scan (min/max) | median s per scan
#                 1 |    50 |        0 |                     200/200 |             11.09
#                 4 |    50 |        0 |                     200/200 |              3.05
#                 8 |    50 |        0 |                     200/200 |              1.65
#                16 |    50 |        0 |                     200/200 |              1.28
#
#   fan-out over 200 groups x 50 (201 requests) and id = ANY(200 ids) (200 requests),
#   10 of each per setting: 0 failures, every run exactly 201 / 200 requests; median
#   10.86 / 10.54 s at 1, 2.97 / 2.83 at 4, 1.54 / 1.42 at 8, 1.27 / 1.20 at 16.
#   Protocol negotiated in every session: HTTP/2, one connection.
set -euo pipefail

# The command as given (before test/lib.sh fills in the defaults), for the report.
CMDLINE=""
for v in PG_CONFIG PG_BINDIR CFIAM_PGDATA CFIAM_PGPORT CFIAM_MOCK_PORT CFIAM_FRONT_PORT \
         CFIAM_TRANSPORT CFIAM_API_URL CFIAM_CA_FILE; do
    if [ -n "${!v:-}" ]; then CMDLINE="$CMDLINE$v=${!v} "; fi
done
export STRESS_CMDLINE="${CMDLINE}bash test/stress-h2.sh${*:+ $*}"

# shellcheck source=test/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for a in "$@"; do
    case "$a" in
        -h|--help) sed -n '2,45p' "$0"; echo; python3 "$ROOT/test/stress-h2.py" --help; exit 0 ;;
    esac
done
STRESS_CHECK_ARGS=1 python3 "$ROOT/test/stress-h2.py" "$@"

export STRESS_PSQL="$PSQL"
TRANSPORT="${CFIAM_TRANSPORT:-h2}"

log() { printf 'stress: %s\n' "$*" >&2; }

trap cluster_stop EXIT
trap 'exit 130' INT TERM

log "build and install cfiam (PG_CONFIG=$PG_CONFIG)"
build_install

log "start the throwaway cluster, the mock API and the transport ($TRANSPORT)"
# shellcheck source=test/transport.sh
. "$ROOT/test/transport.sh"
transport_start "$TRANSPORT"
log "cfiam talks to $CFIAM_API_URL${CFIAM_CA_FILE:+ (ca_file $CFIAM_CA_FILE)}"

python3 "$ROOT/test/stress-h2.py" "$@"
