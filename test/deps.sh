#!/usr/bin/env bash
# deps.sh - the Debian 12 packages that building cfiam, its regression suites
# and its demo need: the one list of them, and what installs those missing.
#
# Usage (from any directory):
#   bash test/deps.sh           install the missing ones (apt-get, as root, else
#                               through `sudo -n`); says which and why first.
#                               Prints nothing when none is missing. When it
#                               cannot install (not root, no sudo without a
#                               password) it prints the command to run and
#                               exits 1.
#   bash test/deps.sh --check   name the missing ones and exit 1; install nothing
#   bash test/deps.sh --list    print the packages, one a line
#
# test/demo.sh, test/run-tests.sh and .ci/run run it first, so that the Quick
# start's two commands work on a bare Debian 12. Sourced (`. test/deps.sh`) it
# runs nothing and defines:
#   deps_list             the packages, one a line
#   deps_why PACKAGE      what cfiam needs PACKAGE for
#   deps_missing          those of them not installed, one a line
#   deps_ensure           install the missing ones, as `bash test/deps.sh` does
#
# Environment:
#   CFIAM_SKIP_DEPS=1     check nothing, install nothing (a PostgreSQL 15 and
#                         libraries not from Debian's packages: PG_CONFIG)
# On a system without dpkg-query and apt-get (not Debian) it says so once, on
# stderr, and goes on: the build then names whatever is missing.

# Each package and what cfiam needs it for, one a line. The demo needs all but
# nghttp2-proxy and iproute2 (TLS transports of the suites); one list is kept.
CFIAM_DEPS_TABLE='
postgresql-15            PostgreSQL 15: the server, initdb, pg_ctl, psql, and the dblink extension a suite uses
postgresql-server-dev-15 the PostgreSQL 15 headers, PGXS (the build) and pg_regress (the suites)
libcurl4-openssl-dev     libcurl, the HTTP client cfiam links to
libcjson-dev             cJSON, the JSON parser cfiam links to
pkg-config               finds the compiler and linker flags of libcurl and cJSON
make                     runs the build and the suites
gcc                      compiles cfiam
python3                  runs the mock Cloudflare API and the test helpers
nghttp2-proxy            nghttpx, the TLS + HTTP/2 front before the mock in the TLS passes
openssl                  makes the throwaway test CA and certificate of the TLS passes
iproute2                 ss -K: the front drops its connections when the mock injects a fault
ca-certificates          the system CA bundle libcurl verifies HTTPS servers with
'

deps_list() {
    local pkg why
    while read -r pkg why; do
        [ -n "$pkg" ] && printf '%s\n' "$pkg"
    done <<<"$CFIAM_DEPS_TABLE"
    return 0
}

deps_why() {
    local pkg why
    while read -r pkg why; do
        if [ "$pkg" = "$1" ]; then
            printf '%s\n' "$why"
            return 0
        fi
    done <<<"$CFIAM_DEPS_TABLE"
    return 1
}

# True on a Debian-like system, where the packages can be checked and installed.
deps_debian() {
    command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1
}

# The packages of the list dpkg does not have installed (installed: the
# second letter of the status abbreviation is `i`, as in `ii` and `hi`; a
# package removed with its configuration kept, `rc`, is missing).
deps_missing() {
    local installed pkg
    local -a pkgs
    mapfile -t pkgs <<<"$(deps_list)"
    installed="$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${pkgs[@]}" 2>/dev/null |
        awk 'substr($1, 2, 1) == "i" { print $2 }')" || true
    for pkg in "${pkgs[@]}"; do
        grep -qxF -- "$pkg" <<<"$installed" || printf '%s\n' "$pkg"
    done
    return 0
}

# One line per package: what it is for.
deps_explain() {
    local pkg
    for pkg in "$@"; do
        printf '  %s: %s\n' "$pkg" "$(deps_why "$pkg")"
    done
}

# Install the missing packages. Returns non-zero, with the command a person
# would run, when this user cannot install them.
deps_ensure() {
    local -a missing run
    local out apt_opts=(-q -o Acquire::Retries=3 -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0)
    [ "${CFIAM_SKIP_DEPS:-0}" = 1 ] && return 0
    if ! deps_debian; then
        echo "deps: no dpkg-query and apt-get here (not Debian?): the packages are not checked;" \
            "\`bash test/deps.sh --list\` names them" >&2
        return 0
    fi
    out="$(deps_missing)"
    [ -z "$out" ] && return 0
    mapfile -t missing <<<"$out"

    echo "== Debian packages missing, installing them with apt-get:"
    deps_explain "${missing[@]}"
    if [ "$(id -u)" -eq 0 ]; then
        run=(env DEBIAN_FRONTEND=noninteractive)
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        run=(sudo -n env DEBIAN_FRONTEND=noninteractive)
    else
        {
            echo "deps: cannot install them: not root, and \`sudo -n\` is not allowed here."
            echo "deps: run this as root (su -, or through sudo), then try again:"
            echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
        } >&2
        return 1
    fi
    # The package lists may be old or absent (a fresh system): update first.
    # A source that does not answer is no reason not to try the install.
    "${run[@]}" apt-get update "${apt_opts[@]}" </dev/null ||
        echo "deps: apt-get update failed; trying the install with the package lists there are" >&2
    if ! "${run[@]}" apt-get install -y --no-install-recommends "${apt_opts[@]}" \
        "${missing[@]}" </dev/null; then
        echo "deps: apt-get install failed: ${missing[*]}" >&2
        return 1
    fi
    out="$(deps_missing)"
    if [ -n "$out" ]; then
        echo "deps: still not installed after apt-get install: ${out//$'\n'/ }" >&2
        return 1
    fi
    echo "== Debian packages installed"
}

deps_main() {
    local out
    local -a missing
    case "${1:-}" in
        "") deps_ensure ;;
        --list) deps_list ;;
        --check)
            deps_debian || { echo "deps: no dpkg-query and apt-get here (not Debian?): cannot check" >&2; return 2; }
            out="$(deps_missing)"
            [ -z "$out" ] && return 0
            mapfile -t missing <<<"$out"
            echo "Debian packages missing (bash test/deps.sh installs them):"
            deps_explain "${missing[@]}"
            return 1
            ;;
        -h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" ;;
        *)
            echo "usage: bash test/deps.sh [--check | --list]" >&2
            return 2
            ;;
    esac
}

# Run, not sourced: do as asked.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -uo pipefail
    deps_main "$@"
    exit
fi
