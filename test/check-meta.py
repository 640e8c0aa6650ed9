#!/usr/bin/env python3
"""check-meta.py - check META.json against the PGXN meta spec 1.0 and the tree.

Usage (from any directory; standard library only):   python3 test/check-meta.py [META.json]

The spec's rules (https://pgxn.org/meta/spec.txt, version 1.0.x):
  - the required fields: name, version, abstract, maintainer, license, provides,
    meta-spec; no other top-level keys than the spec's optional ones
    (description, generated_by, tags, no_index, prereqs, release_status,
    resources) and custom keys starting with x_ or X_;
  - name and the names of provided extensions and prerequisites are terms (at
    least two characters, no slash, backslash, space or control character);
    versions are SemVer (three numbers); version ranges are a version, 0, or
    comparisons joined by commas; meta-spec.version is 1.0.x; the license is
    one of the spec's names, a list of them, or names mapped to URLs;
    prereqs go phase -> relationship -> {name: range}.
And the tree's (so that a release cannot go out half done):
  - provides.cfiam.version is default_version of cfiam.control (0.2 -> 0.2.0),
    and so is the distribution's version;
  - the provided file and docfile exist, and the file is listed in the Makefile's DATA;
  - CHANGELOG.md has a section "## <default_version>".

Prints "META.json is OK" and exits 0, or lists every problem and exits 1.
"""

import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

REQUIRED = ("name", "version", "abstract", "maintainer", "license", "provides", "meta-spec")
OPTIONAL = ("description", "generated_by", "tags", "no_index", "prereqs", "release_status",
            "resources")
LICENSES = {
    "agpl_3", "apache_1_1", "apache_2_0", "artistic_1", "artistic_2", "bsd", "freebsd",
    "gfdl_1_2", "gfdl_1_3", "gpl_1", "gpl_2", "gpl_3", "lgpl_2_1", "lgpl_3_0", "mit",
    "mozilla_1_0", "mozilla_1_1", "openssl", "perl_5", "postgresql", "qpl_1_0", "ssleay",
    "sun", "zlib", "open_source", "restricted", "unrestricted", "unknown",
}
PHASES = ("configure", "build", "test", "runtime", "develop")
RELATIONSHIPS = ("requires", "recommends", "suggests", "conflicts")
TERM = re.compile(r"[^/\\\s\x00-\x1f\x7f]{2,}\Z")
TAG = re.compile(r"[^/\\\x00-\x1f\x7f]{2,255}\Z")
SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?\Z")
RANGE_PART = re.compile(r"(?:(?:[=!]=|[<>]=?)\s*)?(.+)\Z")
CUSTOM = re.compile(r"[xX]_.")

problems = []


def problem(msg):
    problems.append(msg)


def nonempty_string(value, where):
    if not isinstance(value, str) or not value:
        problem(f"{where} must be a non-empty string")
        return False
    return True


def check_term(value, where):
    if not isinstance(value, str) or not TERM.match(value):
        problem(f"{where} must be a term (2 or more characters, no slash, backslash, space "
                f"or control character): {value!r}")


def check_version(value, where):
    if not isinstance(value, str) or not SEMVER.match(value):
        problem(f"{where} must be a SemVer version such as 1.2.3: {value!r}")


def check_range(value, where):
    if value == 0 or value == "0":
        return
    if not isinstance(value, str) or not value.strip():
        problem(f"{where} must be a version range (a version, 0, or comparisons): {value!r}")
        return
    for part in value.split(","):
        m = RANGE_PART.match(part.strip())
        if not m or not (m.group(1) == "0" or SEMVER.match(m.group(1))):
            problem(f"{where}: {part.strip()!r} is not a version or a comparison with one")


def check_license(value):
    if isinstance(value, str):
        if value not in LICENSES:
            problem(f"license {value!r} is not one of the spec's names ({', '.join(sorted(LICENSES))})")
    elif isinstance(value, list):
        if not value:
            problem("license: an empty list")
        for v in value:
            if v not in LICENSES:
                problem(f"license {v!r} is not one of the spec's names")
    elif isinstance(value, dict):
        if not value:
            problem("license: an empty object")
        for k, v in value.items():
            if not isinstance(v, str) or not re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", v):
                problem(f"license {k!r} must map to a URL, not {v!r}")
    else:
        problem("license must be a name, a list of names or an object of names and URLs")


def check_prereqs(value):
    if not isinstance(value, dict) or not value:
        problem("prereqs must be a non-empty object of phases")
        return
    for phase, rels in value.items():
        if CUSTOM.match(phase):
            continue
        if phase not in PHASES:
            problem(f"prereqs: unknown phase {phase!r} (one of {', '.join(PHASES)})")
            continue
        if not isinstance(rels, dict) or not rels:
            problem(f"prereqs.{phase} must be a non-empty object of relationships")
            continue
        for rel, reqs in rels.items():
            if CUSTOM.match(rel):
                continue
            if rel not in RELATIONSHIPS:
                problem(f"prereqs.{phase}: unknown relationship {rel!r} "
                        f"(one of {', '.join(RELATIONSHIPS)})")
                continue
            if not isinstance(reqs, dict) or not reqs:
                problem(f"prereqs.{phase}.{rel} must be a non-empty object of names and ranges")
                continue
            for name, rng in reqs.items():
                check_term(name, f"prereqs.{phase}.{rel} name")
                check_range(rng, f"prereqs.{phase}.{rel}.{name}")


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def check_tree(meta):
    control = read("cfiam.control")
    m = re.search(r"^\s*default_version\s*=\s*'([^']*)'", control, re.M)
    if not m:
        problem("cfiam.control has no default_version")
        return
    default = m.group(1)
    as_semver = default + ".0" * (2 - default.count("."))
    ext = meta.get("provides", {}).get("cfiam") if isinstance(meta.get("provides"), dict) else None
    if not isinstance(ext, dict):
        problem("provides has no extension cfiam")
        return
    if ext.get("version") != as_semver:
        problem(f"provides.cfiam.version is {ext.get('version')!r}, cfiam.control's "
                f"default_version {default!r} makes it {as_semver!r}")
    if meta.get("version") != as_semver:
        problem(f"version is {meta.get('version')!r}, cfiam.control's default_version "
                f"{default!r} makes it {as_semver!r}")
    for key in ("file", "docfile"):
        path = ext.get(key)
        if isinstance(path, str) and not os.path.isfile(os.path.join(ROOT, path)):
            problem(f"provides.cfiam.{key} {path!r} is not a file of the tree")
    makefile = read("Makefile")
    data = re.search(r"^DATA\s*=\s*((?:.*\\\n)*.*)$", makefile, re.M)
    listed = data.group(1).replace("\\\n", " ").split() if data else []
    if ext.get("file") not in listed:
        problem(f"provides.cfiam.file {ext.get('file')!r} is not in the Makefile's DATA")
    if f"cfiam--{default}.sql" not in listed:
        problem(f"cfiam--{default}.sql (default_version) is not in the Makefile's DATA")
    try:
        changelog = read("CHANGELOG.md")
    except OSError:
        problem("there is no CHANGELOG.md")
        return
    if not re.search(rf"^## {re.escape(default)}\b", changelog, re.M):
        problem(f"CHANGELOG.md has no section '## {default}'")


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "META.json")
    try:
        with open(path, encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        print(f"{path}: cannot read it as JSON: {e}", file=sys.stderr)
        return 1
    if not isinstance(meta, dict):
        print(f"{path}: not a JSON object", file=sys.stderr)
        return 1

    for key in REQUIRED:
        if key not in meta:
            problem(f"missing required field {key!r}")
    for key in meta:
        if key not in REQUIRED and key not in OPTIONAL and not CUSTOM.match(key):
            problem(f"unknown field {key!r} (custom fields start with x_)")

    if "name" in meta:
        check_term(meta["name"], "name")
    if "version" in meta:
        check_version(meta["version"], "version")
    for key in ("abstract", "description", "generated_by"):
        if key in meta:
            nonempty_string(meta[key], key)
    if "maintainer" in meta:
        mt = meta["maintainer"]
        if isinstance(mt, list):
            if not mt or not all(isinstance(x, str) and x for x in mt):
                problem("maintainer must be a non-empty list of non-empty strings")
        else:
            nonempty_string(mt, "maintainer")
    if "license" in meta:
        check_license(meta["license"])
    if "provides" in meta:
        prov = meta["provides"]
        if not isinstance(prov, dict) or not prov:
            problem("provides must be a non-empty object of extensions")
        else:
            for name, ext in prov.items():
                check_term(name, "provides: extension name")
                if not isinstance(ext, dict):
                    problem(f"provides.{name} must be an object")
                    continue
                for key in ("file", "version"):
                    if key not in ext:
                        problem(f"provides.{name} lacks required {key!r}")
                if "version" in ext:
                    check_version(ext["version"], f"provides.{name}.version")
                for key in ("file", "docfile"):
                    if key in ext and (not isinstance(ext[key], str) or len(ext[key]) < 2):
                        problem(f"provides.{name}.{key} must be a relative path")
                for key in ext:
                    if key not in ("file", "version", "abstract", "docfile") and not CUSTOM.match(key):
                        problem(f"provides.{name}: unknown field {key!r}")
    if "meta-spec" in meta:
        ms = meta["meta-spec"]
        if not isinstance(ms, dict) or not re.match(r"1\.0\.\d+\Z", str(ms.get("version", ""))):
            problem("meta-spec.version must be 1.0.x")
        elif "url" in ms and ms["url"] not in ("https://pgxn.org/meta/spec.txt",
                                              "http://pgxn.org/meta/spec.txt"):
            problem("meta-spec.url must be https://pgxn.org/meta/spec.txt")
    if "prereqs" in meta:
        check_prereqs(meta["prereqs"])
    if "release_status" in meta and meta["release_status"] not in ("stable", "testing", "unstable"):
        problem("release_status must be stable, testing or unstable")
    if "tags" in meta:
        tags = meta["tags"]
        if not isinstance(tags, list) or not tags:
            problem("tags must be a non-empty list")
        else:
            for t in tags:
                if not isinstance(t, str) or not TAG.match(t):
                    problem(f"tag {t!r}: 2 to 255 characters, no slash, backslash or control character")
    if "resources" in meta and (not isinstance(meta["resources"], dict) or not meta["resources"]):
        problem("resources must be a non-empty object")

    check_tree(meta)

    if problems:
        print(f"{os.path.relpath(path)} is invalid:")
        for p in problems:
            print(f"  - {p}")
        return 1
    print(f"{os.path.relpath(path)} is OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
