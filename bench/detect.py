#!/usr/bin/env python3
"""Detection-on-ingestion benchmark of `kasbah serve` (written for Kasbah).

Replays real Windows attack events (EVTX-ATTACK-SAMPLES, normalised once with `kasbah parse`)
through `POST /api/v1/ingest` until EVENTS events were sent, shifting their times by one day per
round, with every SigmaHQ Windows rule loaded, and measures:
  * sustained ingestion in events/s until every event is indexed and every alert recorded,
    with detection on, and the same stream with detection off (the cost of detection);
  * ingest-to-alert latency p50/p99 (from the request's arrival to the alert's commit in the
    alert database; the server's own measure over its last 10,000 alerts).
The samples are attack data: about one event in three matches some rule, far denser than a
production stream, so this is a worst case for the alert path.
Usage: bench/detect.py --kasbah target/release/kasbah --events 2000000
"""
import argparse, json, os, shutil, socket, subprocess, sys, threading, time, urllib.request

SHARED = os.environ.get("KASBAH_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "shared"))


def get(base, path, token=None):
    req = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"} if token else {})
    return json.load(urllib.request.urlopen(req, timeout=60))


def post(base, path, token, body):
    req = urllib.request.Request(base + path, data=body, method="POST",
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"})
    for _ in range(600):
        try:
            return json.load(urllib.request.urlopen(req, timeout=120))
        except urllib.error.HTTPError as e:
            if e.code in (429, 503):
                time.sleep(float(e.headers.get("Retry-After", "1")))
                continue
            raise
    raise RuntimeError("server kept refusing")


def send_all(base, path, token, bodies, connections):
    """Posts every body, in order, over `connections` parallel connections."""
    queue, lock = list(reversed(bodies)), threading.Lock()

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                b = queue.pop()
            post(base, path, token, b)

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def pool(kasbah, samples, work):
    path = os.path.join(work, "windows.jsonl")
    if not os.path.exists(path):
        with open(path + ".tmp", "w") as f:
            subprocess.run([kasbah, "parse", samples, "--format", "auto"], stdout=f, stderr=subprocess.DEVNULL, check=False)
        os.rename(path + ".tmp", path)
    events = []
    for line in open(path):
        try:
            events.append(json.loads(line))
        except ValueError:
            pass
    return events


def shifted(events, rnd):
    out = []
    for e in events:
        e = dict(e)
        ts = e.get("@timestamp", "2020-01-01T00:00:00Z")
        # One day later per round: same attacks, new days (keeps dedup windows realistic).
        t = time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")
        e["@timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.mktime(t) - time.timezone + rnd * 86400)) + ts[19:]
        out.append(json.dumps(e))
    return out


def require_free(port):
    """Stops the benchmark if something already listens on the port: a server left by an aborted run
    would answer in place of the one under test (the new one fails to bind and exits)."""
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", port)) == 0:
            sys.exit(f"port {port} is in use (a server of an earlier run?); stop it first")

def run(a, events, detection):
    data = os.path.join(a.work, "data-on" if detection else "data-off")
    shutil.rmtree(data, ignore_errors=True)
    cfg = os.path.join(a.work, "kasbah.toml")
    rules = ", ".join(json.dumps(r) for r in a.rules)
    with open(cfg, "w") as f:
        f.write(f"[detection]\nenabled = {'true' if detection else 'false'}\nbuiltin_rules = false\nrules = [{rules}]\nlateness_secs = 5\n"
                "[http]\nmax_body_bytes = 268435456\n")
    http = 18600
    base = f"http://127.0.0.1:{http}"
    require_free(http)
    srv = subprocess.Popen([a.kasbah, "serve", "--config", cfg, "--data-dir", data, "--listen", f"127.0.0.1:{http}"],
                           env=dict(os.environ, KASBAH_LOG="warn"))
    try:
        for _ in range(1200):
            try:
                urllib.request.urlopen(base + "/readyz", timeout=1)
                break
            except Exception:
                time.sleep(0.05)
        token = subprocess.run([a.kasbah, "token", "create", "--tenant", "bench", "--scope", "ingest,read", "--data-dir", data],
                               capture_output=True, text=True, check=True).stdout.split()[-1]
        rounds = max(1, a.events // len(events))
        bodies = []
        for r in range(rounds):
            lines = shifted(events, r)
            for i in range(0, len(lines), a.batch):
                bodies.append(("\n".join(lines[i:i + a.batch]) + "\n").encode())
        total = rounds * len(events)
        t0 = time.perf_counter()
        send_all(base, "/api/v1/ingest", token, bodies, a.connections)
        t_sent = time.perf_counter()
        while True:
            h = get(base, "/api/v1/health", token)
            d = h.get("detection") or {}
            if h["store"]["indexed_events"] >= total and d.get("queued_batches", 0) == 0:
                break
            time.sleep(0.05)
        t_done = time.perf_counter()
        cpu = sum(float(x) for x in open(f"/proc/{srv.pid}/stat").read().split(")")[1].split()[11:13]) / os.sysconf("SC_CLK_TCK")
        rss = int([l for l in open(f"/proc/{srv.pid}/status") if l.startswith("VmHWM")][0].split()[1]) // 1024
        alerts = get(base, "/api/v1/alerts?limit=1", token)["counts"] if detection else {}
        return dict(total=total, rate=total / (t_done - t0), sent=t_sent - t0, done=t_done - t0, cpu=cpu, rss=rss,
                    detection=d, alerts=alerts)
    finally:
        srv.terminate()
        srv.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kasbah", required=True)
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--work", default="target/bench-detect")
    ap.add_argument("--rules", nargs="*", default=[os.path.join(SHARED, "sigma", "rules", "windows")])
    ap.add_argument("--samples", default=os.path.join(SHARED, "evtx", "EVTX-ATTACK-SAMPLES"))
    a = ap.parse_args()
    a.rules = [os.path.abspath(r) for r in a.rules]
    if not os.path.isdir(a.samples) or not all(os.path.isdir(r) for r in a.rules):
        print(f"SKIPPED: {a.samples} or the rules are missing (set KASBAH_SHARED)")
        return
    os.makedirs(a.work, exist_ok=True)
    events = pool(a.kasbah, a.samples, a.work)
    off = run(a, events, False)
    on = run(a, events, True)
    d = on["detection"]
    lat = d.get("latency_ms", {})
    print(f"\nevents: {on['total']:,} Windows attack events ({len(events):,} distinct, replayed), {a.connections} HTTP connections, "
          f"batches of {a.batch}, {d.get('rules', 0):,} rules loaded")
    print("| measure | detection off | detection on |\n|---|---|---|")
    print(f"| sustained ingestion (parse + detect + WAL fsync + index + alerts), events/s | {off['rate']:,.0f} | {on['rate']:,.0f} |")
    print(f"| server CPU time (2 cores) | {off['cpu']:.1f} s | {on['cpu']:.1f} s |")
    print(f"| events per CPU-second | {off['total'] / off['cpu']:,.0f} | {on['total'] / on['cpu']:,.0f} |")
    print(f"| peak server memory (RSS) | {off['rss']} MiB | {on['rss']} MiB |")
    print(f"| rule matches / alerts (after dedup) | - | {d.get('hits', 0):,} / {sum(on['alerts'].values()):,} |")
    print(f"| ingest-to-alert latency p50 / p99 | - | {lat.get('p50', 0):.0f} ms / {lat.get('p99', 0):.0f} ms ({lat.get('samples', 0):,} alerts) |")


if __name__ == "__main__":
    sys.exit(main())
