#!/usr/bin/env python3
"""Anomaly alerts of `kasbah serve` on real logs (written for Kasbah).

Input: the `Content` column of the ten Loghub-2k systems (../shared/loghub), each message sent
as an RFC 3164 syslog line whose host is the system's name, one second apart, through
`POST /api/v1/ingest?format=syslog` (the path of a syslog relay).

1. Noise: each system is its own tenant with `learning_events = 1000`; the first 1,000
   messages train its model, the last 1,000 are checked. These logs are normal operation, so
   every anomaly alert on them is a candidate false positive: the table gives alerts per 1,000
   checked events by kind.
2. Cost: the 20,000 messages repeated 25 times (500,000 events, ten hosts, one tenant, learning
   ending after the first 100,000) with anomaly detection on and off (rules on in both), as
   sustained events/s until everything is indexed and every alert recorded.
Usage: bench/anomaly.py --kasbah target/release/kasbah
"""
import argparse, csv, os, shutil, subprocess, sys, time, urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from detect import get, post, send_all, SHARED  # noqa: E402

MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def systems(root):
    out = {}
    for s in sorted(os.listdir(root)):
        p = os.path.join(root, s, f"{s}_2k.log_structured_corrected.csv")
        if os.path.exists(p):
            with open(p, newline="", encoding="utf-8") as f:
                out[s] = [" ".join(r["Content"].split()) for r in csv.DictReader(f)]
    return out


def syslog(host, msgs, start):
    lines = []
    for i, m in enumerate(msgs):
        t = time.gmtime(start + i)
        lines.append(f"<14>{MONTHS[t.tm_mon - 1]} {t.tm_mday:2d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} "
                     f"{host.lower()} app: {m}")
    return lines


class Server:
    def __init__(self, kasbah, work, name, config, port):
        self.kasbah, self.data = kasbah, os.path.join(work, name)
        shutil.rmtree(self.data, ignore_errors=True)
        os.makedirs(self.data)
        cfg = os.path.join(self.data, "kasbah.toml")
        with open(cfg, "w") as f:
            f.write(config + "[http]\nmax_body_bytes = 268435456\n")
        self.base = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen([kasbah, "serve", "--config", cfg, "--data-dir", os.path.join(self.data, "d"),
                                      "--listen", f"127.0.0.1:{port}"], env=dict(os.environ, KASBAH_LOG="warn"))
        for _ in range(1200):
            try:
                urllib.request.urlopen(self.base + "/readyz", timeout=1)
                return
            except Exception:
                time.sleep(0.05)
        raise RuntimeError("server did not start")

    def token(self, tenant):
        return subprocess.run([self.kasbah, "token", "create", "--tenant", tenant, "--scope", "ingest,read",
                               "--data-dir", os.path.join(self.data, "d")],
                              capture_output=True, text=True, check=True).stdout.split()[-1]

    def settle(self, token, total):
        while True:
            h = get(self.base, "/api/v1/health", token)
            d = h.get("detection") or {}
            if h["store"]["indexed_events"] >= total and d.get("queued_batches", 0) == 0 \
                    and d.get("pending_captures", 0) == 0:
                return
            time.sleep(0.05)

    def cpu(self):
        f = open(f"/proc/{self.proc.pid}/stat").read().split(")")[1].split()
        return sum(float(x) for x in f[11:13]) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def noise(a, data):
    srv = Server(a.kasbah, a.work, "noise", "[detection]\nlateness_secs = 1\n"
                 "[anomaly]\nlearning_secs = 0\nlearning_events = 1000\n", 18610)
    rows = []
    try:
        for name, msgs in data.items():
            tok = srv.token(name.lower())
            lines = syslog(name, msgs, 1_700_000_000)
            for i in range(0, len(lines), 500):
                post(srv.base, "/api/v1/ingest?format=syslog", tok, ("\n".join(lines[i:i + 500]) + "\n").encode())
            srv.settle(tok, 0)
            st = get(srv.base, "/api/v1/anomaly", tok)
            alerts = get(srv.base, "/api/v1/alerts?kind=anomaly&limit=1000", tok)["alerts"]
            by = {}
            for al in alerts:
                k = al["rule_id"].removeprefix("kasbah.anomaly.")
                by[k] = by.get(k, 0) + al["count"]
            checked = len(msgs) - st.get("learned", len(msgs))
            rows.append((name, st["phase"], checked, len(alerts), by))
    finally:
        srv.stop()
    print("\n| system | phase | events checked | alerts | drafts by kind (before dedup) | alerts per 1,000 checked |")
    print("|---|---|---|---|---|---|")
    tot_c = tot_a = 0
    for name, phase, checked, n, by in rows:
        tot_c, tot_a = tot_c + checked, tot_a + n
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(by.items())) or "-"
        print(f"| {name} | {phase} | {checked:,} | {n} | {kinds} | {1000 * n / max(checked, 1):.1f} |")
    print(f"| **all** | | {tot_c:,} | {tot_a} | | {1000 * tot_a / max(tot_c, 1):.1f} |")


def cost(a, data, enabled):
    cfg = f"[detection]\nlateness_secs = 1\n[anomaly]\nenabled = {'true' if enabled else 'false'}\n" \
          "learning_secs = 0\nlearning_events = 100000\n"
    srv = Server(a.kasbah, a.work, "cost-on" if enabled else "cost-off", cfg, 18611)
    try:
        tok = srv.token("bench")
        bodies, total = [], 0
        for r in range(a.rounds):
            for name, msgs in data.items():
                lines = syslog(name, msgs, 1_700_000_000 + r * 2000)
                total += len(lines)
                bodies.append(("\n".join(lines) + "\n").encode())
        t0 = time.perf_counter()
        send_all(srv.base, "/api/v1/ingest?format=syslog", tok, bodies, a.connections)
        srv.settle(tok, total)
        took = time.perf_counter() - t0
        h = get(srv.base, "/api/v1/health", tok)
        return dict(total=total, rate=total / took, cpu=srv.cpu(), anomaly=h.get("anomaly") or {},
                    alerts=get(srv.base, "/api/v1/alerts?kind=anomaly&limit=1", tok)["counts"])
    finally:
        srv.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kasbah", required=True)
    ap.add_argument("--work", default="target/bench-anomaly")
    ap.add_argument("--rounds", type=int, default=25)
    ap.add_argument("--connections", type=int, default=2)
    a = ap.parse_args()
    root = os.path.join(SHARED, "loghub")
    if not os.path.isdir(root):
        print(f"SKIPPED: {root} is missing (set KASBAH_SHARED)")
        return
    os.makedirs(a.work, exist_ok=True)
    data = systems(root)
    noise(a, data)
    off, on = cost(a, data, False), cost(a, data, True)
    print(f"\n{on['total']:,} syslog events (Loghub-2k x {a.rounds}, ten hosts, one tenant), {a.connections} HTTP connections")
    print("| measure | anomaly off | anomaly on |\n|---|---|---|")
    print(f"| sustained ingestion (parse, templates, rules, anomaly, WAL, index), events/s | {off['rate']:,.0f} | {on['rate']:,.0f} |")
    print(f"| server CPU time | {off['cpu']:.1f} s | {on['cpu']:.1f} s |")
    print(f"| events per CPU-second | {off['total'] / off['cpu']:,.0f} | {on['total'] / on['cpu']:,.0f} |")
    an = on["anomaly"]
    print(f"| events learned / checked / drafts | - | {an.get('learned_events', 0):,} / {an.get('checked_events', 0):,} / {an.get('drafts', 0):,} |")
    print(f"| anomaly alerts (after dedup) | - | {sum(on['alerts'].values()):,} |")


if __name__ == "__main__":
    sys.exit(main())
