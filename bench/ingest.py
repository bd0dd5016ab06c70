#!/usr/bin/env python3
"""End-to-end ingestion benchmark of `kasbah serve` (written for Kasbah).

Generates a realistic syslog stream per connection (FortiGate key=value traffic logs, sshd auth lines, CEF IDS
alerts and RFC 5424 application logs; about 480 bytes per event on average), sends it over
several TCP connections to the server's syslog listener, and measures:
  * sustained ingestion (parse + WAL fsync + indexing) in events/s, until every event is indexed;
  * disk bytes per event of the event store (index + compressed documents, without the WAL);
  * search latency (p50/p95 over repeated runs) of a term query in a time range and of
    `stats count() by` over every stored event.
Usage: bench/ingest.py --kasbah target/release/kasbah --events 10000000 --work target/bench-ingest
"""
import argparse, json, os, random, shutil, socket, statistics, subprocess, sys, threading, time, urllib.request

R = random.Random(7)
USERS = ["root", "deploy", "admin", "alice", "bob", "svc-backup", "oracle", "ubuntu", "j.smith"]
MON = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
DAY = 86400

def ip():
    return f"{R.choice([10, 192, 198, 203])}.{R.randint(0, 255)}.{R.randint(0, 255)}.{R.randint(1, 254)}"

def line(i, days):
    t = i * days * DAY // 1_000_000 % (days * DAY)
    d, s = 1 + t // DAY, t % DAY
    hms = f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"
    host = f"fw-edge-{i % 8:02d}"
    k = i % 10
    if k < 6:
        return (f'<189>Mar {d:2d} {hms} {host} date=2024-03-{d:02d} time={hms} devname="{host}" devid="FG100F{i % 8:010d}" '
                f'logid="0000000013" type="traffic" subtype="forward" level="notice" vd="root" eventtime={1709251200 + t}000000000 tz="+0000" '
                f'srcip={ip()} srcport={R.randint(1024, 65535)} srcintf="wan1" srcintfrole="wan" dstip={ip()} dstport={R.choice([80, 443, 3389, 22, 445])} '
                f'dstintf="dmz" dstintfrole="dmz" sessionid={R.randint(1, 10**9)} proto=6 action="{R.choice(["accept", "deny", "close"])}" '
                f'policyid={R.randint(0, 99)} policytype="policy" service="HTTPS" trandisp="noop" duration={R.randint(0, 900)} '
                f'sentbyte={R.randint(0, 99999)} rcvdbyte={R.randint(0, 999999)} sentpkt={R.randint(1, 900)} rcvdpkt={R.randint(1, 900)} appcat="unscanned"')
    if k < 8:
        u = R.choice(USERS)
        return (f"<38>Mar {d:2d} {hms} srv-{i % 20:02d} sshd[{R.randint(100, 99999)}]: "
                + R.choice([f"Failed password for {u} from {ip()} port {R.randint(1024, 65535)} ssh2",
                            f"Accepted publickey for {u} from {ip()} port {R.randint(1024, 65535)} ssh2: ED25519 SHA256:{R.getrandbits(128):032x}",
                            f"Invalid user {u}{R.randint(0, 999)} from {ip()} port {R.randint(1024, 65535)}",
                            f"pam_unix(sshd:session): session opened for user {u}(uid={R.randint(0, 2000)}) by (uid=0)"]))
    if k < 9:
        return (f"<134>Mar {d:2d} {hms} ids-01 CEF:0|Vendor|IDS|5.5|{R.randint(1000, 9999)}|Suspicious traffic detected|{R.randint(0, 10)}|"
                f"rt={(1709251200 + t) * 1000} src={ip()} spt={R.randint(1024, 65535)} dst={ip()} dpt={R.choice([80, 443])} proto=TCP "
                f"act={R.choice(['Permit', 'Block'])} request=http://shop.example.org/p?id\\={i} cs1Label=Policy cs1=Web attacks msg=Detected pattern {i % 5000}")
    return (f"<165>1 2024-03-{d:02d}T{hms}.{R.randint(0, 999999):06d}Z app-{i % 12:02d} billing {R.randint(100, 9999)} ID{R.randint(1, 99)} "
            f'[meta sequenceId="{i}" region="eu-west"] invoice {R.randint(10**6, 10**7)} processed for customer {R.randint(1, 50000)} '
            f"in {R.randint(1, 3000)} ms status={R.choice(['ok', 'ok', 'ok', 'retry', 'failed'])} trace={R.getrandbits(64):016x}")

def generate(path, n, days, seed):
    if os.path.exists(path) and os.path.getsize(path) > 0:
        return
    R.seed(seed)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        for i in range(n):
            f.write(line(i, days))
            f.write("\n")
    os.rename(tmp, path)

def metric(base, name):
    text = urllib.request.urlopen(base + "/metrics", timeout=30).read().decode()
    for l in text.splitlines():
        if l.startswith(name + " "):
            return float(l.split()[1])
    return 0.0

def search(base, token, body):
    req = urllib.request.Request(base + "/api/v1/search", data=json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    t = time.perf_counter()
    ans = json.loads(urllib.request.urlopen(req, timeout=600).read())
    return time.perf_counter() - t, ans

def send(addr, path, repeat):
    with socket.create_connection(addr) as s:
        for _ in range(repeat):
            with open(path, "rb") as f:
                while True:
                    chunk = f.read(1 << 20)
                    if not chunk:
                        break
                    s.sendall(chunk)

def wait_ready(base, seconds):
    """Waits until the server answers /readyz; False if it did not within `seconds`."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            urllib.request.urlopen(base + "/readyz", timeout=2)
            return True
        except Exception:
            time.sleep(0.05)
    return False

def require_free(*ports):
    """Stops the benchmark if something already listens on a port: a server left by an aborted run
    would answer in place of the one under test (the new one fails to bind and exits)."""
    for port in ports:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                sys.exit(f"port {port} is in use (a server of an earlier run?); stop it first")

def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kasbah", required=True)
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--work", default="target/bench-ingest")
    ap.add_argument("--runs", type=int, default=20)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    unique = 1_000_000
    per_conn = a.events // a.connections
    # At most `unique` distinct lines per connection, sent `repeat` times to reach the count.
    repeat = -(-per_conn // unique)
    lines_per_file = -(-per_conn // repeat)
    # Each connection sends its own stream (same sources and time span, other random values):
    # identical streams sent side by side put each event four times into one compressed store
    # block and flattered the bytes per event (before 2026-12-07, see bench/RESULTS.md).
    srcs = []
    for c in range(a.connections):
        src = os.path.join(a.work, f"stream-c{c}-{lines_per_file}.log")
        generate(src, lines_per_file, 28, 7 + c)
        srcs.append(src)
    total = lines_per_file * repeat * a.connections
    avg = sum(os.path.getsize(s) for s in srcs) / (lines_per_file * a.connections)
    data = os.path.join(a.work, "data")
    shutil.rmtree(data, ignore_errors=True)
    http, sport = 18500, 18514
    base = f"http://127.0.0.1:{http}"
    env = dict(os.environ, KASBAH_LOG="warn")
    require_free(http, sport)
    srv = subprocess.Popen([a.kasbah, "serve", "--data-dir", data, "--listen", f"127.0.0.1:{http}",
                            "--syslog-tcp", f"127.0.0.1:{sport}"], env=env)
    try:
        wait_ready(base, 60)
        token = subprocess.run([a.kasbah, "token", "create", "--tenant", "default", "--data-dir", data],
                               capture_output=True, text=True, check=True).stdout.split()[-1]
        t0 = time.perf_counter()
        threads = [threading.Thread(target=send, args=(("127.0.0.1", sport), src, repeat)) for src in srcs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        t_sent = time.perf_counter()
        while metric(base, "kasbah_indexed_events_total") < total:
            time.sleep(0.05)
        t_indexed = time.perf_counter()
        while metric(base, "kasbah_committed_events_total") < total:
            time.sleep(0.1)
        t_committed = time.perf_counter()
        cpu = sum(float(x) for x in open(f"/proc/{srv.pid}/stat").read().split(")")[1].split()[11:13]) / os.sysconf("SC_CLK_TCK")
        store = du(os.path.join(data, "tenants"))
        wal = du(os.path.join(data, "wal"))
        rss = int([l for l in open(f"/proc/{srv.pid}/status") if l.startswith("VmHWM")][0].split()[1]) // 1024
        # Year-less syslog times (BSD "Mar 10") take the latest year that is not in the future.
        today = time.gmtime()
        year = today.tm_year if today.tm_mon >= 3 else today.tm_year - 1
        # The 10th of March when the streams reach it (10M events cover 23 days); smaller runs
        # cover fewer days (1M: 7), so their 1-day queries take a day in the middle.
        covered = lines_per_file * 28 / 1_000_000
        dom = 10 if covered > 10 else max(1, int(covered // 2))
        day = f"{year}-03-{dom:02d}"
        # The source address of the first firewall line: found in every field it was copied to.
        with open(srcs[0]) as f:
            addr = f.readline().split("srcip=")[1].split()[0]
        queries = [
            ("term in a 1-day range", {"query": "host.name:srv-06", "from": f"{day}T00:00:00Z", "to": f"{day}T23:59:59Z", "limit": 100}),
            # FortiGate lines carry their own dated fields (date=2024-03-..), so they sit in 2024.
            ("two terms in a 1-day range (firewall)", {"query": "action:deny AND destination.port:3389", "from": f"2024-03-{dom:02d}T00:00:00Z", "to": f"2024-03-{dom:02d}T23:59:59Z", "limit": 100}),
            ("full text, all time", {"query": "invalid AND user", "limit": 100}),
            ("an address, all time", {"query": f"source.ip:{addr}", "limit": 100}),
            ("a pasted address (any field), all time", {"query": addr, "limit": 100}),
            ("stats count() by host.name", {"query": "* | stats count() by host.name"}),
            ("filter | stats by destination.port | sort", {"query": 'action:deny | stats count() by destination.port | sort -count'}),
            ("stats by two fields, 1-day range", {"query": "* | stats count() by host.name, event.module", "from": f"{day}T00:00:00Z", "to": f"{day}T23:59:59Z"}),
        ]
        rows = []
        for name, body in queries:
            times, ans = [], None
            for _ in range(a.runs):
                dt, ans = search(base, token, body)
                times.append(dt * 1000)
            times.sort()
            rows.append((name, ans.get("total"), statistics.median(times), times[int(len(times) * 0.95) - 1]))
        # Merges may still run after the last commit; the store at rest is measured after a
        # graceful shutdown, which waits for them (their inputs are then deleted).
        srv.terminate()
        srv.wait(timeout=1200)
        rest = du(os.path.join(data, "tenants"))
        ingest_s = t_indexed - t0
        print(f"\nevents: {total:,} ({avg:.0f} bytes per event on average, {a.connections} TCP connections)")
        print(f"| measure | value |\n|---|---|")
        print(f"| sustained ingestion (parse + WAL fsync + index), events/s | {total / ingest_s:,.0f} |")
        print(f"| time to send / to index / to commit | {t_sent - t0:.1f} s / {ingest_s:.1f} s / {t_committed - t0:.1f} s |")
        print(f"| server CPU time (2 cores) | {cpu:.1f} s ({total / cpu:,.0f} events per CPU-second) |")
        print(f"| peak server memory (RSS) | {rss} MiB |")
        print(f"| store on disk at rest (index + documents, after shutdown) | {rest / 2**20:,.0f} MiB = {rest / total:.1f} bytes/event ({avg / (rest / total):.1f}x smaller than raw) |")
        print(f"| store on disk right after the last commit (merges may be running) | {store / 2**20:,.0f} MiB = {store / total:.1f} bytes/event |")
        print(f"| write-ahead log after checkpoint | {wal / 2**20:,.1f} MiB |")
        print(f"\n| query ({a.runs} runs) | matches | p50 ms | p95 ms |\n|---|---|---|---|")
        for name, total_hits, p50, p95 in rows:
            print(f"| {name} | {total_hits:,} | {p50:.1f} | {p95:.1f} |")
    finally:
        srv.terminate()
        srv.wait(timeout=120)

if __name__ == "__main__":
    main()
