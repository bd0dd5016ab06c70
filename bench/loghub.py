#!/usr/bin/env python3
"""Template-mining accuracy on Loghub-2k: GA, PA, FGA and FTA (Loghub-2.0, ISSTA 2024).

Feeds the `Content` column of each system's structured CSV, one message per line, to
`kasbah templates --format jsonl` (or any command printing `id<TAB>template` per line with
--tsv) and compares the result with the original (Zhu et al.) and corrected (Khan et al.)
ground truth. Stdlib only.

  python3 bench/loghub.py [--shared ../shared] [--bin target/release/kasbah]

Metric definitions (per system; the table also prints the plain average over systems):
  GA  share of messages whose predicted group holds exactly the messages of their true group;
  FGA F1 of group-level precision (correct groups / predicted groups) and recall (correct
      groups / true groups), a group being correct when it equals a true group;
  PA  share of messages whose predicted template string equals the true template;
  FTA F1 of template-level precision and recall, a template being correct when its group is
      correct and its text equals the true template.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import time
from collections import defaultdict

SYSTEMS = ["HDFS", "Hadoop", "Spark", "Zookeeper", "OpenStack", "Android", "HealthApp",
           "Apache", "OpenSSH", "Windows"]
DRAIN_GA = {"HDFS": 0.998, "Hadoop": 0.948, "Spark": 0.920, "Zookeeper": 0.967,
            "OpenStack": 0.733, "Android": 0.911, "HealthApp": 0.780, "Apache": 1.000,
            "OpenSSH": 0.788, "Windows": 0.997}


def norm(t):
    return " ".join(t.split())


def read_truth(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["Content"] for r in rows], [norm(r["EventTemplate"]) for r in rows]


def run_parser(cmd, contents):
    data = "\n".join(c.replace("\n", " ") for c in contents) + "\n"
    t0 = time.perf_counter()
    out = subprocess.run(cmd, input=data.encode(), capture_output=True, check=True).stdout
    secs = time.perf_counter() - t0
    ids, templates = [], []
    for line in out.decode().splitlines():
        if not line.strip():
            continue
        if line.startswith("{"):
            o = json.loads(line)
            if o.get("type") != "line":
                continue
            ids.append(o["template_id"])
            templates.append(norm(o["template"]))
        else:
            i, t = line.split("\t", 1)
            ids.append(i)
            templates.append(norm(t))
    if len(ids) != len(contents):
        sys.exit(f"parser printed {len(ids)} lines for {len(contents)} messages")
    return ids, templates, secs


def metrics(truth, pred_ids, pred_templates):
    n = len(truth)
    true_groups = defaultdict(list)
    pred_groups = defaultdict(list)
    for i, (t, p) in enumerate(zip(truth, pred_ids)):
        true_groups[t].append(i)
        pred_groups[p].append(i)
    true_sets = {t: frozenset(v) for t, v in true_groups.items()}
    correct_msgs = 0
    correct_groups = 0
    correct_templates = 0
    for p, members in pred_groups.items():
        t = truth[members[0]]
        if true_sets[t] == frozenset(members):
            correct_msgs += len(members)
            correct_groups += 1
            if pred_templates[members[0]] == t:
                correct_templates += 1
    f1 = lambda p, r: 0.0 if p + r == 0 else 2 * p * r / (p + r)
    ga = correct_msgs / n
    fga = f1(correct_groups / len(pred_groups), correct_groups / len(true_groups))
    pa = sum(1 for t, p in zip(truth, pred_templates) if t == p) / n
    fta = f1(correct_templates / len(pred_groups), correct_templates / len(true_groups))
    return ga, fga, pa, fta


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=os.environ.get("KASBAH_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "shared")))
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "target", "release", "kasbah"))
    ap.add_argument("--tsv", action="store_true", help="the command reads stdin and prints id<TAB>template")
    ap.add_argument("--show-errors", type=int, default=0, help="print up to N wrong templates per system")
    args = ap.parse_args()
    root = os.path.join(args.shared, "loghub")
    if not os.path.isdir(root):
        sys.exit(f"skipped: {root} not found (set KASBAH_SHARED)")
    cmd = [args.bin] if args.tsv else [args.bin, "templates", "--format", "jsonl", "-"]
    rows = []
    total_lines = 0
    total_secs = 0.0
    for s in SYSTEMS:
        res = {}
        for kind, suffix in (("orig", ""), ("corr", "_corrected")):
            contents, truth = read_truth(os.path.join(root, s, f"{s}_2k.log_structured{suffix}.csv"))
            ids, templates, secs = run_parser(cmd, contents)
            total_lines += len(contents)
            total_secs += secs
            res[kind] = metrics(truth, ids, templates)
            if args.show_errors and kind == "corr":
                shown = set()
                for c, t, p in zip(contents, truth, templates):
                    if t != p and (t, p) not in shown and len(shown) < args.show_errors:
                        shown.add((t, p))
                        print(f"  {s}: {c[:100]}\n     truth {t[:110]}\n     ours  {p[:110]}")
        rows.append((s, res))
    hdr = "| system | GA | FGA | PA | FTA | GA corr | FGA corr | PA corr | FTA corr | Drain GA |"
    print(hdr)
    print("|" + "---|" * (hdr.count("|") - 1))
    sums = [0.0] * 8
    for s, res in rows:
        vals = list(res["orig"]) + list(res["corr"])
        sums = [a + b for a, b in zip(sums, vals)]
        print(f"| {s} | " + " | ".join(f"{v:.3f}" for v in vals) + f" | {DRAIN_GA[s]:.3f} |")
    avg = [v / len(rows) for v in sums]
    drain_avg = sum(DRAIN_GA.values()) / len(DRAIN_GA)
    print("| **average** | " + " | ".join(f"**{v:.3f}**" for v in avg) + f" | {drain_avg:.3f} |")
    print(f"\n{total_lines} messages in {total_secs:.2f} s wall including process start-up "
          f"({total_lines / total_secs:,.0f} lines/s; see bench/templates_speed.sh for throughput)")


if __name__ == "__main__":
    main()
