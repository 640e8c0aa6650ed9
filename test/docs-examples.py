#!/usr/bin/env python3
"""docs-examples.py - run the documentation's runnable SQL examples against the mock API.

    python3 test/docs-examples.py [--list] [--out DIR] [FILE.md ...]

With no FILE: README.md and every docs/*.md, in that order. Each page is one test: its
runnable examples run in order, in one psql session, against the throwaway cluster and the
mock Cloudflare API that test/pgcluster.sh started (run-tests.sh runs this script in its
http1 pass, after the regression suites).

What is runnable, in a page:

    <!-- runnable -->
    ```sql
    SELECT name FROM cf.user_groups ORDER BY name;
    ```

  a fenced block tagged sql on the line after the marker (a block indented in a list item
  may be indented as its fence is). It is what a reader would type into psql: SQL and psql
  meta-commands (\\gset and :'variables' included).

    <!-- runnable setup
    CREATE SCHEMA hr;
    CREATE TABLE hr.staff (email text, team text);
    -->

  SQL that the page's examples need but the reader does not (an HR table, a psql variable,
  the mock's data: \\! python3 $MOCKCTL reset --account-members 400); it runs where it
  stands and is not shown.

For each page: the mock is reset to its default data (5 user groups of 3 members, 12
account members, 3 roles, 4 permission groups, 2 resource groups: test/mock_cloudflare.py),
a fresh database cfiam_docs is created, and a preamble sets up what the docs assume: CREATE
EXTENSION cfiam, a server `cloudflare` at the mock (or the TLS front, with its CA file),
a user mapping with the mock's token, and the tables imported into schema `cf`. Then
the page's blocks run with ON_ERROR_STOP; the first error fails the page with the file and
line of the statement that failed and psql's message. A page that has sql blocks but none
marked runnable fails too, so that a new page's examples are not left untested. So does a
page with a broken relative link (a file that does not exist, or an #anchor that is no
heading of its target), and README.md if a page of docs/ is not linked from it.

Output: one line per page, `docs README.md ... ok` or `... FAILED` (the form pg_regress
uses, which run-tests.sh counts), the failures' details after them. Exit status 1 if a page
failed. --list prints the pages and exits; --out DIR keeps each page's psql output in
DIR/docs-<page>.out (README.md -> docs-README.out, docs/tables.md -> docs-tables.out).

Environment: PGHOST, PGPORT, PGUSER of the cluster; CFIAM_API_URL and CFIAM_CA_FILE (as
`test/pgcluster.sh env` prints them; without them the mock over plain HTTP at
CFIAM_MOCK_PORT, default 18787); PSQL or PG_BINDIR for psql (else psql on PATH).
Python 3 standard library only.
"""

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MOCKCTL = os.path.join(ROOT, "test", "mockctl.py")
DATABASE = "cfiam_docs"
PAGE_TIMEOUT = 300          # seconds for one page's examples

MARKER = re.compile(r"^\s*<!--\s*runnable\s*-->\s*$")
SETUP = re.compile(r"^\s*<!--\s*runnable\s+setup\s*$")
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([A-Za-z0-9_+-]*)")
PSQL_ERROR = re.compile(r"^psql:(.*?):(\d+): (.*)$")
LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")

PREAMBLE = r"""\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION cfiam;
CREATE SERVER cloudflare FOREIGN DATA WRAPPER cfiam
  OPTIONS (account_id '0123456789abcdef0123456789abcdef', api_url :'api_url');
SELECT :'ca_file' <> '' AS cfiam_tls \gset
\if :cfiam_tls
ALTER SERVER cloudflare OPTIONS (ADD ca_file :'ca_file');
\endif
CREATE USER MAPPING FOR CURRENT_USER SERVER cloudflare OPTIONS (api_token 'cfiam-test-token');
CREATE SCHEMA cf;
IMPORT FOREIGN SCHEMA cfiam FROM SERVER cloudflare INTO cf;
RESET client_min_messages;
"""


class Block:
    def __init__(self, path, start, lines, hidden):
        self.path = path            # the page, relative to ROOT
        self.start = start          # line number of the block's first SQL line
        self.lines = lines          # the SQL lines, indentation removed
        self.hidden = hidden


def default_pages():
    pages = ["README.md"]
    pages += sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))
    return pages


def closes(line, ticks):
    """Does this line close a fence opened with ticks?"""
    mark = line.strip()
    return len(mark) >= len(ticks) and mark == ticks[0] * len(mark)


def parse(path):
    """(runnable blocks, number of sql blocks) of one page."""
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        text = f.read().split("\n")
    blocks = []
    sql_blocks = 0
    i = 0
    while i < len(text):
        line = text[i]
        if SETUP.match(line):
            j = i + 1
            while j < len(text) and "-->" not in text[j]:
                j += 1
            if j == len(text):
                raise SystemExit(f"{path}:{i + 1}: <!-- runnable setup without its -->")
            if text[j].strip() != "-->":
                raise SystemExit(f"{path}:{j + 1}: a runnable setup ends with --> on a line of its own")
            blocks.append(Block(path, i + 2, text[i + 1:j], True))
            i = j + 1
            continue
        fence = FENCE.match(line)
        if fence:
            indent, ticks, lang = fence.groups()
            j = i + 1
            while j < len(text) and not closes(text[j], ticks):
                j += 1
            if j == len(text):
                raise SystemExit(f"{path}:{i + 1}: a fenced block that is never closed")
            if lang == "sql":
                sql_blocks += 1
                if i > 0 and MARKER.match(text[i - 1]):
                    body = []
                    for k in range(i + 1, j):
                        body.append(text[k][len(indent):] if text[k].startswith(indent) else text[k].lstrip())
                    blocks.append(Block(path, i + 2, body, False))
            elif i > 0 and MARKER.match(text[i - 1]):
                raise SystemExit(f"{path}:{i}: <!-- runnable --> before a block that is not ```sql")
            i = j + 1
            continue
        if MARKER.match(line) and not (i + 1 < len(text) and FENCE.match(text[i + 1])):
            raise SystemExit(f"{path}:{i + 1}: <!-- runnable --> not followed by a ```sql block")
        i += 1
    return blocks, sql_blocks


def prose_lines(path):
    """(line number, text) of a page's lines outside fenced blocks, inline code removed."""
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        text = f.read().split("\n")
    fence = None
    for n, line in enumerate(text, 1):
        m = FENCE.match(line)
        if fence is None and m:
            fence = m.group(2)
            continue
        if fence is not None:
            if closes(line, fence):
                fence = None
            continue
        yield n, re.sub(r"`[^`]*`", "", line)


def anchors(path):
    """The anchors GitHub gives a page's headings."""
    seen = {}
    result = set()
    for _, line in prose_lines(path):
        m = HEADING.match(line)
        if not m:
            continue
        slug = re.sub(r"[^\w\- ]", "", m.group(2).replace("`", "").lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        result.add(slug if n == 0 else f"{slug}-{n}")
    return result


def check_links(path):
    """Messages for the page's broken relative links (and, for README.md, docs pages it
    does not link)."""
    problems = []
    linked = set()
    here = os.path.dirname(path)
    for n, line in prose_lines(path):
        for target in LINK.findall(line):
            if re.match(r"[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(here, file)) if file else path
            linked.add(dest)
            if not os.path.exists(os.path.join(ROOT, dest)):
                problems.append(f"{path}:{n}: link to {target}: no file {dest}")
            elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
                problems.append(f"{path}:{n}: link to {target}: no heading #{anchor} in {dest}")
    if path == "README.md":
        for page in default_pages()[1:]:
            if page not in linked:
                problems.append(f"README.md: {page} is not linked from it")
    return problems


def psql_cmd():
    if os.environ.get("PSQL"):
        return os.environ["PSQL"]
    bindir = os.environ.get("PG_BINDIR")
    if bindir and os.access(os.path.join(bindir, "psql"), os.X_OK):
        return os.path.join(bindir, "psql")
    return shutil.which("psql") or "psql"


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, **kw)


def fresh_database(psql, env):
    r = run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "postgres",
             "-c", f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)",
             "-c", f"CREATE DATABASE {DATABASE}"], env=env, timeout=120)
    return r.returncode == 0, r.stdout


def run_page(path, psql, env, api_url, ca_file, out_dir):
    """(ok, number of examples, message)."""
    blocks, sql_blocks = parse(path)
    shown = sum(1 for b in blocks if not b.hidden)
    problems = check_links(path)
    if problems:
        return False, shown, "\n".join(problems)
    if shown == 0:
        if sql_blocks:
            return False, 0, f"{path}: {sql_blocks} sql block(s), none marked <!-- runnable -->"
        return True, 0, ""

    r = run([sys.executable, MOCKCTL, "reset"], env=env, timeout=60)
    if r.returncode != 0:
        return False, shown, f"{path}: mockctl reset failed: {r.stdout.strip()}"
    ok, out = fresh_database(psql, env)
    if not ok:
        return False, shown, f"{path}: could not create database {DATABASE}: {out.strip()}"

    # One script for the page; where each of its lines came from.
    script = PREAMBLE.split("\n")
    origin = [None] * len(script)
    for b in blocks:
        for k, line in enumerate(b.lines):
            script.append(line)
            origin.append((b, b.start + k))
    with tempfile.NamedTemporaryFile("w", suffix=".sql", prefix="cfiam-docs-",
                                     delete=False, encoding="utf-8") as f:
        f.write("\n".join(script) + "\n")
        name = f.name
    os.chmod(name, 0o644)
    try:
        cmd = [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", "api_url=" + api_url,
               "-v", "ca_file=" + ca_file, "-d", DATABASE, "-f", name]
        try:
            r = run(cmd, env=env, timeout=PAGE_TIMEOUT)
        except subprocess.TimeoutExpired:
            return False, shown, f"{path}: its examples did not finish within {PAGE_TIMEOUT} s"
    finally:
        os.unlink(name)
    if out_dir:
        base = os.path.splitext(os.path.basename(path))[0]
        with open(os.path.join(out_dir, f"docs-{base}.out"), "w", encoding="utf-8") as f:
            f.write(r.stdout)
    if r.returncode == 0:
        run([psql, "-X", "-q", "-d", "postgres", "-c", f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"],
            env=env, timeout=120)
        return True, shown, ""

    where = None
    messages = []
    for line in r.stdout.split("\n"):
        m = PSQL_ERROR.match(line)
        if m and m.group(1) == name:
            n = int(m.group(2))
            if where is None and 1 <= n <= len(origin):
                where = origin[n - 1]
                if where is None:
                    where = "preamble"
            messages.append(m.group(3))
        elif messages and line.strip():
            messages.append(line)
    if where is None or where == "preamble":
        loc = f"{path} (the page's preamble)" if where == "preamble" else path
    else:
        b, n = where
        kind = "runnable setup" if b.hidden else "example"
        loc = f"{path}:{n} ({kind} from line {b.start - 1})"
    detail = "\n".join("    " + m for m in (messages or r.stdout.strip().split("\n")[-10:]))
    return False, shown, f"{loc}: failed\n{detail}"


def main(argv):
    out_dir = None
    args = []
    it = iter(argv)
    for a in it:
        if a == "--out":
            out_dir = next(it, None)
            if not out_dir:
                print("docs-examples: --out needs a directory", file=sys.stderr)
                return 2
            os.makedirs(out_dir, exist_ok=True)
        elif a != "--list":
            args.append(a)
    pages = args or default_pages()
    if "--list" in argv:
        print(" ".join(pages))
        return 0
    env = dict(os.environ)
    env.setdefault("PGDATABASE", "postgres")
    env["MOCKCTL"] = MOCKCTL
    env["PGAPPNAME"] = "cfiam-docs-examples"
    mock_port = env.get("CFIAM_MOCK_PORT") or "18787"
    api_url = env.get("CFIAM_API_URL") or f"http://127.0.0.1:{mock_port}/client/v4"
    ca_file = env.get("CFIAM_CA_FILE") or ""
    psql = psql_cmd()

    failures = []
    for path in pages:
        start = time.monotonic()
        try:
            ok, n, message = run_page(path, psql, env, api_url, ca_file, out_dir)
        except SystemExit as e:
            ok, n, message = False, 0, str(e)
        ms = round((time.monotonic() - start) * 1000)
        print(f"docs {path:<28} ... {'ok' if ok else 'FAILED'}  {n:>2} example(s) {ms:>6} ms",
              flush=True)
        if not ok:
            failures.append(message)
    for message in failures:
        print("\n" + message)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
