# shellcheck shell=bash
# transport.sh - sourced by test/stress-h2.sh and test/bench/run.sh: start the throwaway
# cluster + mock (test/pgcluster.sh) for a transport and export where cfiam must send its
# requests. Not a command of its own.
#
#   . test/transport.sh
#   transport_start h2       # or http1, tls-http1
#
# Transports (the names of test/pgcluster.sh's CFIAM_TRANSPORT):
#   http1      plain HTTP/1.1 to the mock
#   h2         TLS to a front (nghttpx) before the mock that offers h2 and http/1.1 by
#              ALPN: libcurl picks HTTP/2, as with api.cloudflare.com
#   tls-http1  TLS to the front, which offers http/1.1 only
#
# pgcluster.sh starts the front for a TLS transport, with a CA made at start-up, and its
# `env` prints CFIAM_API_URL and CFIAM_CA_FILE. A front of your own can be used instead:
# set CFIAM_API_URL (and CFIAM_CA_FILE, an absolute path the postgres OS user can read)
# before calling; then only the cluster and the mock are started, and the transport
# name says which protocol to expect.
#
# Exports afterwards: what `pgcluster.sh env` prints (PGHOST, PGPORT, PGUSER,
# CFIAM_MOCK_PORT, ...), plus CFIAM_API_URL, CFIAM_CA_FILE (empty for plain HTTP) and
# CFIAM_EXPECT_PROTOCOL (HTTP/2 or HTTP/1.1, as cfiam's EXPLAIN ANALYZE names it).
# The caller stops everything with `bash test/pgcluster.sh stop` (cluster_stop of
# test/lib.sh, which this file sources: the working directory becomes the top of the
# tree, and PG_CONFIG, PG_BINDIR and the ports get their defaults).

# shellcheck source=test/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

transport_start() {
    local transport="$1" own_url own_ca
    case "$transport" in
        http1 | tls-http1) CFIAM_EXPECT_PROTOCOL=HTTP/1.1 ;;
        h2) CFIAM_EXPECT_PROTOCOL=HTTP/2 ;;
        *) echo "transport must be http1, h2 or tls-http1, not '$transport'" >&2; return 1 ;;
    esac
    own_url="${CFIAM_API_URL:-}"
    own_ca="${CFIAM_CA_FILE:-}"
    if [ -n "$own_url" ]; then
        # The caller runs the front: the cluster and the mock alone.
        cluster_start http1 || return
        CFIAM_API_URL="$own_url"
        CFIAM_CA_FILE="$own_ca"
    else
        cluster_start "$transport" || return
        if [ -z "${CFIAM_API_URL:-}" ]; then
            if [ "$transport" != http1 ]; then
                echo "test/pgcluster.sh did not start a TLS front for '$transport' (it prints" \
                     "no CFIAM_API_URL); run a front yourself and set CFIAM_API_URL and" \
                     "CFIAM_CA_FILE" >&2
                return 1
            fi
            CFIAM_API_URL="http://127.0.0.1:$CFIAM_MOCK_PORT/client/v4"
            CFIAM_CA_FILE=""
        fi
    fi
    case "$CFIAM_API_URL" in
        https://*)
            [ "$transport" != http1 ] || {
                echo "CFIAM_API_URL is https, but the transport is http1" >&2; return 1; } ;;
        http://*)
            [ "$transport" = http1 ] || {
                echo "CFIAM_API_URL is plain http, but the transport is $transport" >&2; return 1; } ;;
        *) echo "CFIAM_API_URL is not an http(s) URL: $CFIAM_API_URL" >&2; return 1 ;;
    esac
    if [ -n "${CFIAM_CA_FILE:-}" ]; then
        case "$CFIAM_CA_FILE" in
            /*) ;;
            *) echo "CFIAM_CA_FILE must be an absolute path: $CFIAM_CA_FILE" >&2; return 1 ;;
        esac
        # The backend reads it, as the cluster's OS user.
        if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -r "$CFIAM_CA_FILE"; then
            echo "CFIAM_CA_FILE is not readable by the postgres OS user: $CFIAM_CA_FILE" >&2
            return 1
        fi
    fi
    export CFIAM_API_URL CFIAM_CA_FILE CFIAM_EXPECT_PROTOCOL
}
