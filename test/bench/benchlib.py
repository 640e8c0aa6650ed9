"""benchlib.py - what the measuring halves of the benchmarks (access.py, accounts.py,
backends.py, dashboard.py) share: the mock's control, psql in a fresh or a long-lived session,
the facts about the machine and the build that a report's header states, its last lines, and
number formatting. Imported, not run; each benchmark keeps its own measurements and report.
"""

import hashlib
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MOCKCTL = os.path.join(ROOT, "test", "mockctl.py")
sys.path.insert(0, os.path.join(ROOT, "test"))
from mockctl import take_log  # noqa: E402,F401  (the log with each request's "t")

ACCOUNT = "0123456789abcdef0123456789abcdef"   # the mock's first account
TOKEN = "cfiam-test-token"
SEP = "\x1f"                    # psql's field separator in Psql: not in any value
NULL = "\\N"

MOCK_PORT = os.environ.get("CFIAM_MOCK_PORT") or "18787"
BASE_URL = os.environ.get("CFIAM_API_URL") or f"http://127.0.0.1:{MOCK_PORT}/client/v4"
CA_FILE = os.environ.get("CFIAM_CA_FILE") or ""
EXPECT_PROTOCOL = os.environ.get("CFIAM_EXPECT_PROTOCOL") or ""


class BenchError(Exception):
    pass


def logger(name):
    """A log function for progress on stderr, each line prefixed with the benchmark's name."""
    def log(msg):
        sys.stderr.write(f"{name}: {msg}\n")
        sys.stderr.flush()
    return log


# --------------------------------------------------------------------------- machine and build

def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def git_rev():
    r = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                       capture_output=True, text=True)
    return r.stdout.strip() or "?"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def version_of(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip() or "?"
    except OSError:
        return "?"


def sdk_version():
    with open(os.path.join(HERE, "node_modules", "cloudflare", "package.json")) as f:
        return json.load(f)["version"]


def source_defaults():
    """cfiam's defaults from the source the build was made of: (max_concurrency,
    max_requests_per_second, burst); None where not found."""
    found = {}
    try:
        with open(os.path.join(ROOT, "src", "cfiam.h")) as f:
            text = f.read()
    except OSError:
        text = ""
    for key, name in (("mc", "CF_DEFAULT_CONCURRENCY"), ("rps", "CF_DEFAULT_REQUESTS_PER_SECOND"),
                      ("burst", "CF_START_BURST")):
        m = re.search(r"#define\s+" + name + r"\s+(\d+)", text)
        found[key] = int(m.group(1)) if m else None
    return found["mc"], found["rps"], found["burst"]


def lib_digest(libfile):
    """sha256 of the installed cfiam.so, the first 12 hex digits; '' when unknown."""
    if not libfile:
        return ""
    try:
        with open(libfile, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()[:12]
    except OSError:
        return ""


class LibWatch:
    """The installed cfiam.so, which every new session loads: its digest is checked after each
    measurement, so that another `make install` during the run is reported, once, with the
    measurement it was noticed after."""

    def __init__(self, libfile, problems):
        self.libfile = libfile
        self.problems = problems
        self.first = self.seen = lib_digest(libfile)

    def check(self, what):
        now = lib_digest(self.libfile)
        if now != self.seen:
            self.problems.append(f"{self.libfile} changed (sha256 {self.seen or '?'} before, "
                                 f"{now or '?'} after {what}): another install; the cfiam "
                                 f"measurements from {what} on may have run another build")
            self.seen = now


# --------------------------------------------------------------------------- the mock

def mockctl(*args):
    r = subprocess.run([sys.executable, MOCKCTL, *map(str, args)], capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise BenchError(f"mockctl {' '.join(map(str, args))}: {r.stderr.strip()}")
    return r.stdout


# --------------------------------------------------------------------------- numbers

def fmt(n):
    return f"{n:,}"


def fmt_ms(x):
    return f"{x:,.0f}"


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def ceil_div(a, b):
    return -(-a // b)


def sql_literal(text):
    return "'" + text.replace("'", "''") + "'"


# --------------------------------------------------------------------------- psql

class Psql:
    """psql scripts, each in a fresh session. Rows unaligned, fields separated by U+001F, NULL
    as \\N."""

    def __init__(self, binary):
        self.binary = binary

    def __call__(self, script, max_requests=None):
        """Run the script; its stdout. max_requests sets cfiam.max_requests for the session."""
        cmd = [self.binary, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-F", SEP,
               "-P", f"null={NULL}"]
        env = dict(os.environ)
        env.pop("PGOPTIONS", None)
        if max_requests is not None:
            env["PGOPTIONS"] = f"-c cfiam.max_requests={max_requests}"
        r = subprocess.run(cmd, input=script, capture_output=True, text=True, env=env)
        if r.returncode != 0:
            raise BenchError(f"psql failed ({r.returncode}): {r.stderr.strip()}\n--- script:\n"
                             f"{script}")
        return r.stdout

    def one(self, script, **kw):
        out = self(script, **kw).splitlines()
        if not out:
            raise BenchError(f"no row from: {script}")
        return out[0]

    def server_options(self, server):
        return dict(l.split(SEP, 1) for l in self(
            "SELECT option_name, option_value FROM pg_options_to_table((SELECT srvoptions FROM "
            f"pg_foreign_server WHERE srvname = {sql_literal(server)}))").splitlines())

    def timed(self, warmup, sql, max_requests, setting=""):
        """The statement in a fresh session (after `setting`, e.g. SET jit = off) after the
        warm-up statement, the mock's log cleared between them; returns rows (lines), psql's
        \\timing in ms and the mock's log of the statement."""
        marker = "__cfiam_bench_begin__"
        script = (f"{setting + chr(10) if setting else ''}{warmup};\n"
                  f"\\! {shlex.quote(sys.executable)} {shlex.quote(MOCKCTL)} clear-log\n"
                  f"\\echo {marker}\n"
                  "\\timing on\n"
                  f"{sql};\n"
                  "\\timing off\n")
        out = self(script, max_requests).splitlines()
        try:
            start = out.index(marker) + 1
        except ValueError:
            raise BenchError(f"no marker in psql's output: {out[:5]}")
        body = out[start:]
        if not body:
            raise BenchError("no timing line in psql's output")
        m = re.fullmatch(r"Time: ([0-9.]+) ms(?: \(.*\))?", body[-1])
        if not m:
            raise BenchError(f"no timing line in psql's output, the last line: {body[-1][:200]}")
        entries = take_log(False)
        return body[:-1], float(m.group(1)), entries

    def protocol(self, query, problems):
        """(protocol, connections) cfiam's server negotiated, from EXPLAIN ANALYZE of a
        one-request query; a problem when it is not CFIAM_EXPECT_PROTOCOL."""
        plan_json = self("EXPLAIN (ANALYZE, FORMAT JSON, COSTS OFF, TIMING OFF, SUMMARY OFF) "
                         f"{query}")
        try:
            node = json.loads(plan_json)[0]["Plan"]
            while node.get("Node Type") != "Foreign Scan":
                node = node["Plans"][0]
        except (ValueError, KeyError, IndexError) as e:
            raise BenchError(f"unreadable EXPLAIN output ({e}): {plan_json[:2000]}")
        protocol, connections = node.get("API Protocol"), node.get("API Connections")
        if EXPECT_PROTOCOL and protocol != EXPECT_PROTOCOL:
            problems.append(f"cfiam's server negotiated {protocol or 'no protocol shown'}, not "
                            f"{EXPECT_PROTOCOL}")
        return protocol, connections


class Session:
    """A long-lived psql session (one backend), fed statements through a pipe, like a connection
    of a dashboard tool's pool. run() returns the output lines of the statement and its time as
    psql's \\timing measures it (client round trip); send() and collect() are its two halves, for
    a statement released in several sessions at once."""

    _seq = 0
    _seq_lock = threading.Lock()

    def __init__(self, psql, name="admin", options=None, user="postgres"):
        """options: the session's PGOPTIONS ('' for none); None keeps the environment's."""
        self.name = name
        env = dict(os.environ)
        if options:
            env["PGOPTIONS"] = options
        elif options is not None:
            env.pop("PGOPTIONS", None)
        self.proc = subprocess.Popen(
            [psql, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-U", user, "-d", "postgres"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, bufsize=1, env=env)
        self.lock = threading.Lock()
        self.run("\\timing on")
        self.pid = int(self.run("SELECT pg_backend_pid()")[0][0])

    def send(self, sql):
        """Write the statement and its end marker; returns the marker for collect()."""
        with Session._seq_lock:
            Session._seq += 1
            marker = f"__cfiam_session_{Session._seq}__"
        text = sql.strip()
        if not text.startswith("\\") and not text.endswith(";"):
            text += ";"
        try:
            self.proc.stdin.write(f"{text}\n\\echo {marker}\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise BenchError(f"session {self.name} has ended")
        return marker

    def collect(self, marker, sql):
        out = []
        ms = None
        while True:
            line = self.proc.stdout.readline()
            if line == "":
                raise BenchError(f"session {self.name} ended during:\n{sql}\n" + "".join(out))
            line = line.rstrip("\n")
            if line == marker:
                break
            m = re.fullmatch(r"Time: ([0-9.]+) ms(?: \(.*\))?", line)
            if m:
                ms = float(m.group(1))
                continue
            if line.startswith(("ERROR:", "FATAL:", "psql:")):
                raise BenchError(f"session {self.name}: {line}\n--- statement:\n{sql}")
            out.append(line)
        return out, ms

    def run(self, sql):
        with self.lock:
            return self.collect(self.send(sql), sql)

    def one(self, sql):
        """The first column of the first row."""
        rows, _ = self.run(sql)
        if not rows:
            raise BenchError(f"no row from: {sql}")
        return rows[0].split("|")[0]

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def pg_restart(pg_ctl, base):
    """Restart the throwaway cluster of CFIAM_PGDATA `base` (as the postgres OS user when run as
    root, as test/pgcluster.sh starts it), for a setting read at server start."""
    cmd = [pg_ctl, "restart", "-D", os.path.join(base, "data"), "-m", "fast", "-w",
           "-t", "60", "-l", os.path.join(base, "postgres.log")]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=base)
    if r.returncode != 0:
        raise BenchError(f"pg_ctl restart failed: {r.stdout}{r.stderr}")


# --------------------------------------------------------------------------- the pace

class Pace:
    """max_concurrency and max_requests_per_second as the server has them (its options, else
    the build's defaults), and the floor the pace sets on a wall time: (requests - burst) /
    max_requests_per_second."""

    def __init__(self, server_opts):
        mc_default, rps_default, self.burst = source_defaults()
        if "max_concurrency" in server_opts:
            self.mc_text = f"{server_opts['max_concurrency']} (server option)"
        else:
            self.mc_text = (f"{mc_default if mc_default is not None else '?'} (the default: "
                            "option unset)")
        if "max_requests_per_second" in server_opts:
            self.pace = int(server_opts["max_requests_per_second"])
            self.pace_text = f"{self.pace} (server option)"
        else:
            self.pace = rps_default
            self.pace_text = (f"{self.pace if self.pace is not None else '?'} (the default: "
                              "option unset)")
        self.burst_text = f"{self.burst}" if self.burst is not None else "?"

    def floor_ms(self, n):
        if not self.pace or self.burst is None:
            return None
        return max(0, n - self.burst) / self.pace * 1000.0


# --------------------------------------------------------------------------- the SDK

def add_sdk_options(ap, script):
    """--sdk, --max-concurrency, --max-requests-per-second and --transport, the options of the
    benchmarks that set cfiam against the SDK; `script` is the .sh that starts the transport."""
    ap.add_argument("--sdk", default="1:auto,4:total", metavar="LIST",
                    help="the SDK's variants, comma-separated IN_FLIGHT:PAGING, PAGING auto (the "
                         "SDK's own paging, as `for await`) or total (page 1, then the other "
                         "pages from result_info.total_count); default 1:auto,4:total; '' for "
                         "none")
    ap.add_argument("--max-concurrency", type=int, dest="mc", metavar="N",
                    help="the server option max_concurrency (default: left unset, cfiam's "
                         "default)")
    ap.add_argument("--max-requests-per-second", type=int, dest="rps", metavar="N",
                    help="the server option max_requests_per_second (default: left unset, "
                         "cfiam's default; 0: not paced)")
    ap.add_argument("--transport", choices=("h2", "http1", "tls-http1"), default="h2",
                    help=f"how cfiam reaches the mock ({script} starts it): h2, TLS + HTTP/2 "
                         "through a TLS front, as api.cloudflare.com (default); http1; tls-http1")


def check_sdk_options(ap, a):
    """The SDK's variants from --sdk, after --max-concurrency and --max-requests-per-second are
    checked; ap.error() otherwise."""
    if a.mc is not None and not 1 <= a.mc <= 16:
        ap.error("--max-concurrency is 1..16")
    if a.rps is not None and a.rps < 0:
        ap.error("--max-requests-per-second must be >= 0 (0: not paced)")
    try:
        return parse_variants(a.sdk)
    except ValueError as e:
        ap.error(f"--sdk: '{e}' is not IN_FLIGHT:PAGING (e.g. 4:total)")


def server_option_list(a):
    """The server options cfiam's benchmarks against the SDK set besides account_id: api_url,
    ca_file for a TLS front, and --max-concurrency / --max-requests-per-second when given."""
    opts = [f"api_url {sql_literal(BASE_URL)}"]
    if CA_FILE:
        opts.append(f"ca_file {sql_literal(CA_FILE)}")
    if a.mc is not None:
        opts.append(f"max_concurrency '{a.mc}'")
    if a.rps is not None:
        opts.append(f"max_requests_per_second '{a.rps}'")
    return opts


def parse_variants(text):
    """--sdk's comma-separated IN_FLIGHT:PAGING; ValueError names the part that is not."""
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"([1-9][0-9]*):(auto|total)", part)
        if not m:
            raise ValueError(part)
        out.append((int(m.group(1)), m.group(2)))
    return out


def paging_text(paging):
    """How an SDK variant pages, in the reports' words."""
    return ("each list page by page as `for await` does" if paging == "auto"
            else "each list's other pages from result_info.total_count")


def sdk_run(script, fixed, args):
    """A fresh node process of the SDK script with --base-url, --token, the fixed arguments and
    the measurement's (which an error names); its JSON line and the mock's log of it."""
    cmd = ["node", os.path.join(HERE, script), "--base-url", BASE_URL, "--token", TOKEN,
           *fixed, *map(str, args)]
    mockctl("clear-log")
    env = dict(os.environ)
    if CA_FILE:
        env["NODE_EXTRA_CA_CERTS"] = CA_FILE
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE, env=env)
    if r.returncode != 0:
        raise BenchError(f"{script} {' '.join(map(str, args))} failed: {r.stderr.strip()}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    entries = take_log(False)
    return out, entries


# --------------------------------------------------------------------------- the header

def print_setup(script, load_at_start, pg_version, ext_version, libfile, digest, protocol,
                connections):
    """The report's lines on the command, the machine, the software and the transport."""
    cmd = os.environ.get("BENCH_CMDLINE") or (f"python3 test/bench/{script} "
                                              + " ".join(sys.argv[1:]))
    print(f"- command: `{cmd}`")
    print(f"- machine: {os.cpu_count()} CPUs ({cpu_model()}); load average (1/5/15 min) at the "
          f"start: {load_at_start}")
    lib = f", `{libfile}` sha256 {digest}..." if digest else ""
    print(f"- software: PostgreSQL {pg_version}, cfiam {git_rev()} (extension {ext_version}"
          f"{lib}), node {version_of(['node', '--version'])}, cloudflare (npm) {sdk_version()}")
    tls = BASE_URL.startswith("https")
    print(f"- transport: cfiam to {BASE_URL}" + (f" (ca_file {CA_FILE})" if CA_FILE else "")
          + f", negotiated **{protocol}** (API Connections {connections})"
          + ("; the SDK (node's fetch, HTTP/1.1 keep-alive) to the same TLS front, the CA in "
             "NODE_EXTRA_CA_CERTS; the front speaks HTTP/1.1 to the mock" if tls
             else "; the SDK likewise, plain HTTP/1.1 keep-alive"))



# --------------------------------------------------------------------------- the end

def print_problems(problems):
    """The report's last section, when there is anything to say there."""
    if problems:
        print()
        print("## Problems")
        print()
        for p in problems:
            print(f"- {p}")


def print_end(load_at_start, started, problems):
    """The report's last lines: the load average and the minutes it took, then the problems;
    returns the exit status, 1 if there are problems."""
    print(f"Load average (1/5/15 min): {load_at_start} at the start, {loadavg()} at the end; "
          f"{(time.monotonic() - started) / 60:.1f} minutes in all.")
    print_problems(problems)
    return 1 if problems else 0


def run_main(main, log):
    """Exit with main()'s status, or 2 after logging a BenchError."""
    try:
        sys.exit(main())
    except BenchError as e:
        log(f"error: {e}")
        sys.exit(2)
