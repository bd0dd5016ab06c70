#!/usr/bin/env python3
"""Generates synthetic logs for the parse benchmark: one file per format, realistic in shape
(field counts, value lengths, variety) and deterministic (fixed seed). Written for Kasbah."""
import argparse, json, os, random

R = random.Random(42)
USERS = ["root", "deploy", "admin", "alice", "bob", "svc-backup", "oracle", "ubuntu", "j.smith"]
HOSTS = ["web01", "web02", "db01", "mail01", "fw-edge", "dc01.corp.example.org", "ws07"]
APPS = ["sshd", "sudo", "cron", "systemd", "postfix/smtpd", "kernel", "nginx", "dockerd"]
PATHS = ["/", "/index.php", "/login", "/api/v1/items?id=42&sort=asc", "/static/app.3f9a.js",
         "/wp-login.php", "/products.php?id=1%27%20OR%201=1--", "/download.php?file=../../etc/passwd"]
UAS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0 Safari/537.36",
       "curl/8.5.0", "sqlmap/1.7.2#stable (https://sqlmap.org)", "python-requests/2.31.0"]
MON = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

def ip():
    return f"{R.choice([10, 192, 198, 203])}.{R.randint(0, 255)}.{R.randint(0, 255)}.{R.randint(1, 254)}"

def bsd(i):
    s = i % 86400
    return f"{MON[(i // 86400) % 12]} {1 + (i // 3600) % 28:2d} {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}"

def iso(i):
    s = i % 86400
    return f"2024-03-{1 + (i // 86400) % 28:02d}T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.{R.randint(0, 999999):06d}Z"

def syslog3164(i):
    app = R.choice(APPS)
    msg = R.choice([f"Failed password for {R.choice(USERS)} from {ip()} port {R.randint(1024, 65535)} ssh2",
                    f"pam_unix(cron:session): session opened for user {R.choice(USERS)}(uid=0) by (uid=0)",
                    f"connect from unknown[{ip()}]", f"Started Session {R.randint(1, 9999)} of User {R.choice(USERS)}.",
                    f"[UFW BLOCK] IN=eth0 OUT= SRC={ip()} DST={ip()} PROTO=TCP SPT={R.randint(1, 65535)} DPT=22"])
    return f"<{R.randint(0, 191)}>{bsd(i)} {R.choice(HOSTS)} {app}[{R.randint(100, 65000)}]: {msg}"

def syslog5424(i):
    sd = R.choice(["-", f'[origin ip="{ip()}"][meta sequenceId="{i}"]', '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]'])
    return f"<{R.randint(0, 191)}>1 {iso(i)} {R.choice(HOSTS)} {R.choice(APPS)} {R.randint(100, 65000)} ID{R.randint(1, 99)} {sd} User {R.choice(USERS)} did action {R.randint(0, 10**6)} from {ip()}"

def jsonl(i):
    d = {"@timestamp": iso(i), "event": {"kind": "event", "category": ["process"], "type": ["start"], "module": "endpoint", "dataset": "endpoint.events.process"},
         "host": {"name": R.choice(HOSTS), "os": {"family": "windows", "version": "10.0"}, "ip": [ip()]},
         "process": {"name": "powershell.exe", "pid": R.randint(100, 65000), "executable": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                     "command_line": f"powershell.exe -nop -w hidden -c Invoke-Item {R.randint(0, 10**9)}", "parent": {"name": "explorer.exe", "pid": R.randint(100, 65000)},
                     "hash": {"sha256": "%064x" % R.getrandbits(256)}},
         "user": {"name": R.choice(USERS), "domain": "CORP"}, "agent": {"type": "endpoint", "version": "8.12.0", "id": "%032x" % R.getrandbits(128)},
         "message": "Endpoint process event", "tags": ["bench", "synthetic"]}
    return json.dumps(d, separators=(",", ":"))

def eve(i):
    d = {"timestamp": iso(i).replace("Z", "+0000"), "flow_id": R.getrandbits(50), "in_iface": "eth0", "event_type": "alert", "src_ip": ip(), "src_port": R.randint(1024, 65535),
         "dest_ip": ip(), "dest_port": R.choice([80, 443, 22, 445]), "proto": "TCP", "community_id": "1:%s=" % ("%x" % R.getrandbits(100)),
         "alert": {"action": "allowed", "gid": 1, "signature_id": R.randint(2000000, 2999999), "rev": 3, "signature": "ET SCAN Suspicious inbound to port", "category": "Attempted Information Leak", "severity": R.randint(1, 3)},
         "app_proto": "http", "host": "sensor01"}
    return json.dumps(d, separators=(",", ":"))

def zeek_header():
    return ("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\thistory\torig_pkts\tresp_pkts\n"
            "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tstring\tcount\tcount")

def zeek(i):
    return "\t".join([f"{1710000000 + i}.{R.randint(0, 999999):06d}", "C%017x" % R.getrandbits(68), ip(), str(R.randint(1024, 65535)), ip(), str(R.choice([53, 80, 443])),
                      R.choice(["tcp", "udp"]), R.choice(["dns", "http", "ssl", "-"]), f"{R.random():.6f}", str(R.randint(0, 99999)), str(R.randint(0, 999999)), "SF", "ShADadfF", str(R.randint(1, 99)), str(R.randint(1, 99))])

def access(i):
    s = i % 86400
    return f'{ip()} - {R.choice(["-", "alice"])} [{1 + s % 28:02d}/Mar/2024:{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d} +0000] "{R.choice(["GET", "POST"])} {R.choice(PATHS)} HTTP/1.1" {R.choice([200, 200, 301, 404, 500])} {R.randint(0, 99999)} "-" "{R.choice(UAS)}"'

def auth(i):
    u, a = R.choice(USERS), ip()
    msg = R.choice([f"sshd[{R.randint(100, 65000)}]: Failed password for {u} from {a} port {R.randint(1024, 65535)} ssh2",
                    f"sshd[{R.randint(100, 65000)}]: Accepted publickey for {u} from {a} port {R.randint(1024, 65535)} ssh2: RSA SHA256:{'%043x' % R.getrandbits(170)}",
                    f"sudo:   {u} : TTY=pts/{R.randint(0, 9)} ; PWD=/home/{u} ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx",
                    f"sshd[{R.randint(100, 65000)}]: Invalid user {u}{R.randint(0, 99)} from {a} port {R.randint(1024, 65535)}"])
    return f"{bsd(i)} {R.choice(HOSTS)} {msg}"

def auditd(i):
    t, s = f"{1710000000 + i}.{R.randint(0, 999):03d}", 1000 + i
    return "\n".join([
        f"type=SYSCALL msg=audit({t}:{s}): arch=c000003e syscall=59 success=yes exit=0 a0=55d0c5a1b2c0 a1=55d0c5a1b340 a2=55d0c5a1b380 a3=0 items=2 ppid={R.randint(100, 65000)} pid={R.randint(100, 65000)} auid=1001 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts1 ses=4 comm=\"curl\" exe=\"/usr/bin/curl\" key=\"exec\"",
        f"type=EXECVE msg=audit({t}:{s}): argc=3 a0=\"curl\" a1=\"-s\" a2=\"http://{ip()}/x\"",
        f"type=CWD msg=audit({t}:{s}): cwd=\"/tmp\"",
        f"type=PATH msg=audit({t}:{s}): item=0 name=\"/usr/bin/curl\" inode=262401 dev=fd:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL",
        f"type=PROCTITLE msg=audit({t}:{s}): proctitle=6375726C002D73",
        f"type=EOE msg=audit({t}:{s}):"])

def cef(i):
    return (f"<134>{bsd(i)} ids01 CEF:0|Vendor|IDS|5.5|{R.randint(1000, 9999)}|Suspicious traffic detected|{R.randint(0, 10)}|rt={1710000000000 + i * 1000} "
            f"src={ip()} spt={R.randint(1024, 65535)} dst={ip()} dpt={R.choice([80, 443])} proto=TCP act={R.choice(['Permit', 'Block'])} request=http://shop.example.org/p?id\\={i} cs1Label=Policy cs1=Web attacks msg=Detected pattern {i}")

def leef(i):
    return f"LEEF:2.0|Vendor|Product|1.0|EV{R.randint(1, 99)}|^|devTime={1710000000000 + i * 1000}^src={ip()}^dst={ip()}^srcPort={R.randint(1024, 65535)}^dstPort=443^usrName={R.choice(USERS)}^proto=TCP^sev={R.randint(1, 10)}^cat=Network"

def kv(i):
    s = i % 86400
    return (f'date=2024-03-{1 + s % 28:02d} time={s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d} devname="FGT-EDGE01" devid="FG100F0000000001" logid="0000000013" type="traffic" subtype="forward" level="notice" '
            f'srcip={ip()} srcport={R.randint(1024, 65535)} srcintf="wan1" dstip={ip()} dstport={R.choice([80, 443, 3389])} dstintf="dmz" proto=6 action="{R.choice(["accept", "deny"])}" policyid={R.randint(0, 99)} service="HTTPS" sentbyte={R.randint(0, 99999)} rcvdbyte={R.randint(0, 99999)}')

GENS = {"syslog3164": (syslog3164, "syslog"), "syslog5424": (syslog5424, "syslog"), "jsonl": (jsonl, "jsonl"), "eve": (eve, "eve"),
        "zeek": (zeek, "zeek"), "access": (access, "access"), "auth": (auth, "auth"), "auditd": (auditd, "auditd"),
        "cef": (cef, "cef"), "leef": (leef, "leef"), "kv": (kv, "kv")}

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--mb", type=int, default=64)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name, (gen, fmt) in GENS.items():
        path = os.path.join(args.out, f"{name}.{fmt}.log")
        if os.path.exists(path) and os.path.getsize(path) >= args.mb << 20:
            continue
        # Generate a pool of distinct records, then repeat it: realistic variety, fast generation.
        pool = [gen(i) for i in range(20000)]
        with open(path, "w") as f:
            if name == "zeek":
                f.write(zeek_header() + "\n")
            size, i = 0, 0
            while size < args.mb << 20:
                line = pool[i % len(pool)] + "\n"
                f.write(line)
                size += len(line)
                i += 1
        print(f"generated {path}")

if __name__ == "__main__":
    main()
