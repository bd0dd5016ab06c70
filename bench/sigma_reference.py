#!/usr/bin/env python3
"""Completeness check of `kasbah hunt` against an independent Sigma implementation.

The reference is pySigma with its SQLite backend, the conversion Zircolite (one of the issue's
anchors) runs: every rule is converted to SQL with the Sysmon and Windows log-source pipelines,
the EVTX records are read with the `evtx` Python package (not Kasbah's parser), flattened to
leaf names as Zircolite does (`Channel`, `EventID`, `CommandLine`, `Provider_Name`), stored in
one SQLite table with case-insensitive text columns, and every query is run against it. Kasbah
runs `kasbah hunt --format jsonl` over the same files and rules. The script prints, per rule, the
events the reference flags and Kasbah does not, and the totals; with `--json FILE` it writes them
for bench/RESULTS.md.

    python3 -m venv target/pysigma-venv
    target/pysigma-venv/bin/pip install pysigma pysigma-backend-sqlite \
        pysigma-pipeline-windows pysigma-pipeline-sysmon evtx
    target/pysigma-venv/bin/python bench/sigma_reference.py --kasbah target/release/kasbah

Data: ../shared/sigma and ../shared/evtx/EVTX-ATTACK-SAMPLES (KASBAH_SHARED overrides ../shared).
"""
import argparse
import collections
import json
import os
import re
import sqlite3
import subprocess
import sys
import time

try:
    import evtx
    from sigma.backends.sqlite import sqliteBackend
    from sigma.collection import SigmaCollection
    from sigma.pipelines.sysmon import sysmon_pipeline
    from sigma.pipelines.windows import windows_logsource_pipeline
    from sigma.rule import SigmaRule
except ImportError as e:  # pragma: no cover - environment check
    sys.exit(f"missing Python package ({e}); see the usage at the top of {__file__}")

RULE_DIRS = ["rules", "rules-emerging-threats", "rules-threat-hunting"]


def flatten(node, out, name=None):
    """Leaf values of an EVTX record's JSON under their own names (attributes as
    `Parent_Attr`, element text `#text` under the element's name), as Zircolite does."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "#attributes":
                for ak, av in v.items():
                    out[f"{name}_{ak}" if name else ak] = av
            elif k == "#text":
                out[name] = v if not isinstance(v, list) else "".join(map(str, v))
            else:
                flatten(v, out, k)
    elif isinstance(node, list):
        # Unnamed repeated <Data> elements: keep them as Zircolite keeps a list, joined.
        if all(not isinstance(x, (dict, list)) for x in node):
            out[name] = ",".join("" if x is None else str(x) for x in node)
        else:
            for x in node:
                flatten(x, out, name)
    elif isinstance(node, bool):
        out[name] = "true" if node else "false"  # the XML text, not Python's 1 and 0
    else:
        out[name] = node


def read_events(root):
    """(relative file, EventRecordID, flat dict) for every record of every EVTX under root."""
    for dirpath, _, names in os.walk(root):
        for n in sorted(names):
            if not n.lower().endswith(".evtx"):
                continue
            path = os.path.join(dirpath, n)
            rel = os.path.relpath(path, root)
            try:
                parser = evtx.PyEvtxParser(path)
                for rec in parser.records_json():
                    try:
                        data = json.loads(rec["data"])
                    except ValueError:
                        continue
                    flat = {}
                    flatten(data.get("Event", data), flat)
                    flat.pop(None, None)
                    # The System EventRecordID, as Kasbah reports it (python-evtx's own
                    # `event_record_id` is the record header's number, which can differ).
                    yield rel, flat.get("EventRecordID", rec["event_record_id"]), flat
            except (OSError, RuntimeError):
                continue


def build_db(root):
    # SQLite column names are case-insensitive (`ProcessID` and `ProcessId` are one column).
    rows = [(rel, rid, {k.lower(): v for k, v in f.items()}) for rel, rid, f in read_events(root)]
    cols = sorted({k for _, _, f in rows for k in f})
    db = sqlite3.connect(":memory:")
    db.create_function(
        "regexp", 2, lambda p, v: v is not None and re.search(p, str(v)) is not None,
        deterministic=True)
    coldefs = ", ".join(f'"{c}" TEXT COLLATE NOCASE' for c in cols)
    db.execute(f"CREATE TABLE logs (row_id INTEGER PRIMARY KEY, {coldefs})")
    index = {}
    for i, (rel, rid, flat) in enumerate(rows):
        index[i] = (rel, rid)
        keys = list(flat)
        vals = [None if v is None else (v if isinstance(v, (int, float)) and
                                        abs(v) < 2**63 else str(v)) for v in flat.values()]
        q = ", ".join(f'"{k}"' for k in keys)
        db.execute(f"INSERT INTO logs (row_id, {q}) VALUES (?{', ?' * len(keys)})", [i] + vals)
    return db, index, len(rows)


def reference(shared, db, index):
    backend = sqliteBackend(sysmon_pipeline() + windows_logsource_pipeline())
    hits = collections.defaultdict(set)
    titles, files = {}, {}
    converted, refused = 0, collections.Counter()
    for d in RULE_DIRS:
        for dirpath, _, names in os.walk(os.path.join(shared, "sigma", d)):
            for n in sorted(names):
                if not n.endswith((".yml", ".yaml")):
                    continue
                path = os.path.join(dirpath, n)
                try:
                    coll = SigmaCollection.from_yaml(open(path, encoding="utf-8").read())
                    rules = [r for r in coll.rules if isinstance(r, SigmaRule)]
                    if not rules:
                        continue
                    rule = rules[0]
                    if rule.logsource.product not in (None, "windows"):
                        continue
                    queries = backend.convert_rule(rule)
                except Exception as e:  # noqa: BLE001 - the reference refuses what it refuses
                    refused[type(e).__name__] += 1
                    continue
                converted += 1
                rid = str(rule.id)
                titles[rid], files[rid] = rule.title, os.path.relpath(path, shared)
                for q in queries:
                    for row in run(db, q.replace("SELECT *", "SELECT row_id", 1)):
                        hits[rid].add(index[row])
    return hits, titles, files, converted, refused


def run(db, q):
    """Rows of a query. A field no record has is a missing column to SQLite (Zircolite then
    reports an error and no detection); here it is added, empty, so the field is absent."""
    while True:
        try:
            return [row for (row,) in db.execute(q)]
        except sqlite3.OperationalError as e:
            m = re.match(r"no such column: (.+)", str(e))
            if not m:
                raise
            db.execute(f'ALTER TABLE logs ADD COLUMN "{m.group(1)}" TEXT COLLATE NOCASE')


def kasbah(binary, shared, root):
    args = [binary, "hunt", root, "--format", "jsonl", "--min-level", "informational"]
    for d in RULE_DIRS:
        args += ["-r", os.path.join(shared, "sigma", d)]
    out = subprocess.run(args, capture_output=True, text=True, check=False)
    if out.returncode not in (0, 1):
        sys.exit(f"kasbah hunt failed ({out.returncode}): {out.stderr[-2000:]}")
    hits = collections.defaultdict(set)
    for line in out.stdout.splitlines():
        d = json.loads(line)
        if d.get("kind") != "detection":
            continue
        rid = d["event"].get("EventRecordID")
        hits[d["rule_id"]].add((os.path.relpath(d["file"], root), rid))
    return hits


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kasbah", required=True)
    ap.add_argument("--json", help="write the comparison to this file")
    args = ap.parse_args()
    shared = os.environ.get("KASBAH_SHARED", os.path.join(os.path.dirname(__file__), "../../shared"))
    root = os.path.join(shared, "evtx", "EVTX-ATTACK-SAMPLES")
    if not os.path.isdir(root):
        sys.exit(f"missing {root} (set KASBAH_SHARED)")
    t = time.time()
    db, index, n = build_db(root)
    print(f"reference: {n} records read with python-evtx in {time.time() - t:.1f} s", file=sys.stderr)
    t = time.time()
    ref, titles, files, converted, refused = reference(shared, db, index)
    print(f"reference: {converted} windows rules converted, {sum(refused.values())} refused "
          f"({dict(refused)}), {time.time() - t:.1f} s", file=sys.stderr)
    kas = kasbah(args.kasbah, shared, root)
    ref_pairs = {(r, e) for r, es in ref.items() for e in es}
    kas_pairs = {(r, e) for r, es in kas.items() for e in es if r in titles}
    missed = collections.defaultdict(list)
    for r, e in sorted(ref_pairs - kas_pairs):
        missed[r].append(e)
    extra = collections.Counter(r for r, _ in kas_pairs - ref_pairs)
    print(f"| | reference (pySigma + SQLite) | kasbah |")
    print(f"|---|---|---|")
    print(f"| rule hits (rule, event) on rules both load | {len(ref_pairs)} | {len(kas_pairs)} |")
    print(f"| rules with a hit | {sum(1 for v in ref.values() if v)} | "
          f"{sum(1 for r, v in kas.items() if v and r in titles)} |")
    print(f"| flagged by the reference only | {len(ref_pairs - kas_pairs)} | |")
    print(f"| flagged by kasbah only | | {len(kas_pairs - ref_pairs)} |")
    print()
    for r, es in sorted(missed.items(), key=lambda x: -len(x[1])):
        print(f"- {titles[r]} ({files[r]}): {len(es)} events only in the reference, e.g. "
              f"{es[0][0]} record {es[0][1]}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"reference_only": {r: [list(e) for e in es] for r, es in missed.items()},
                       "kasbah_only": {r: [list(e) for q, e in sorted(kas_pairs - ref_pairs)
                                           if q == r] for r in extra},
                       "titles": titles, "files": files}, f, indent=1)


if __name__ == "__main__":
    main()
