#!/usr/bin/env python3
"""Instructions per ingested event of `kasbah serve`, counted by valgrind (written for Kasbah).

Wall-clock ingestion rates on a shared 2-core VM drift by 5-30% within minutes, more than most
changes to the ingestion path are worth. valgrind's callgrind counts the instructions the server
executes, whatever else the machine does, and gives the same count to within 0.1% run after run.
This script runs each build under callgrind twice, with N and 2N events per connection of the
same generated syslog stream as bench/ingest.py (4 TCP connections), and reports the difference
divided by the extra events: the marginal instructions of one event (parse, template mining,
rule matching, log, index, store compression; start-up, the final commit and shutdown cancel).
The count covers user space only: page faults and system calls are not in it, so it complements
bench/ingest.py (which measures time) rather than replacing it.

Usage: bench/instructions.py --kasbah base=/tmp/kasbah-old --kasbah new=target/release/kasbah
Needs valgrind (Debian package `valgrind`).
"""
import argparse, os, shutil, signal, socket, subprocess, sys, threading, time, urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import ingest  # noqa: E402  (the stream generator and helpers)

HTTP, SYSLOG = 18820, 18834


def run(binary, streams, per_conn, work):
    """Total instructions of one server run that ingests `per_conn` lines of each stream."""
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    parts = []
    for i, src in enumerate(streams):
        part = os.path.join(work, f"s{i}.log")
        with open(src) as f, open(part, "w") as out:
            for _, line in zip(range(per_conn), f):
                out.write(line)
        parts.append(part)
    conf = os.path.join(work, "kasbah.toml")
    with open(conf, "w") as f:
        # No periodic commit: the count would depend on how many fell inside the run.
        f.write("[storage]\ncommit_interval_secs = 3600\n")
    data, out = os.path.join(work, "data"), os.path.join(work, "callgrind.out")
    env = dict(os.environ, KASBAH_CONFIG=conf, KASBAH_LOG="warn")
    ingest.require_free(HTTP, SYSLOG)
    srv = subprocess.Popen(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                            binary, "serve", "--data-dir", data, "--listen", f"127.0.0.1:{HTTP}",
                            "--syslog-tcp", f"127.0.0.1:{SYSLOG}"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{HTTP}"
    try:
        if not ingest.wait_ready(base, 600):
            raise RuntimeError("the server did not start under valgrind")
        # Counting starts once the server is up: rule compilation and start-up are not counted.
        subprocess.run(["callgrind_control", "-i", "on", str(srv.pid)], check=True, capture_output=True)
        threads = [threading.Thread(target=ingest.send, args=(("127.0.0.1", SYSLOG), p, 1)) for p in parts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        total = per_conn * len(parts)
        while ingest.metric(base, "kasbah_indexed_events_total") < total:
            time.sleep(0.5)
        # A graceful stop commits once and writes the counts.
        srv.send_signal(signal.SIGTERM)
        srv.wait(timeout=1800)
    finally:
        if srv.poll() is None:
            srv.kill()
    with open(out) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {out}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kasbah", action="append", required=True, help="LABEL=BINARY (repeat to compare builds)")
    ap.add_argument("--events", type=int, default=2500, help="events per connection of the smaller run")
    ap.add_argument("--work", default="target/bench-instructions")
    a = ap.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    os.makedirs(a.work, exist_ok=True)
    # The same streams as bench/ingest.py's 1M-event run.
    streams = []
    for c in range(4):
        src = os.path.join(a.work, f"stream-c{c}-{2 * a.events}.log")
        ingest.generate(src, 2 * a.events, 28, 7 + c)
        streams.append(src)
    rows = []
    for spec in a.kasbah:
        label, _, binary = spec.partition("=")
        small = run(binary, streams, a.events, os.path.join(a.work, "run"))
        large = run(binary, streams, 2 * a.events, os.path.join(a.work, "run"))
        extra = 4 * a.events
        rows.append((label, (large - small) / extra, small, large))
    print(f"\n{4 * a.events:,} extra events (4 connections); instructions counted by callgrind")
    print("| build | instructions per event | run with N | run with 2N |\n|---|---|---|---|")
    first = rows[0][1]
    for label, per, small, large in rows:
        rel = "" if per == first else f" ({100 * (per - first) / first:+.1f}%)"
        print(f"| {label} | {per:,.0f}{rel} | {small:,} | {large:,} |")


if __name__ == "__main__":
    main()
