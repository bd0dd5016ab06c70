//! Throughput of the JSON-lines parser on generated ECS-like documents (~0.5-1 KB, 20-40 fields,
//! the shape Beats / Elastic Agent ship), Suricata EVE and Zeek, compared with a plain
//! `serde_json::Value` parse of the same lines.
//!
//! `cargo run --release -p kasbah-parse --example json_speed [MB] [jsonl|serde|eve|zeek]`

use std::sync::Arc;
use std::time::Instant;

use kasbah_parse::{Format, Item, Origin, ParseOptions, parse_bytes};

/// A tiny deterministic generator (xorshift), so runs compare.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

fn ecs_doc(r: &mut Rng, i: u64) -> String {
    let host = r.pick(&[
        "web-01",
        "web-02",
        "db-prod-3",
        "dc01.corp.example.com",
        "laptop-7731",
    ]);
    let user = r.pick(&["alice", "bob", "SYSTEM", "svc_backup", "carol.smith"]);
    let proc_ = r.pick(&["sshd", "powershell.exe", "nginx", "cmd.exe", "python3"]);
    let action = r.pick(&[
        "logged-in",
        "process-started",
        "connection-accepted",
        "file-created",
    ]);
    format!(
        concat!(
            r#"{{"@timestamp":"2024-05-{:02}T{:02}:{:02}:{:02}.{:03}Z","#,
            r#""agent":{{"type":"filebeat","version":"8.13.2","id":"5f7c3a1e-9b2d-4c8e-a1f0-{:012x}","name":"{}"}},"#,
            r#""ecs":{{"version":"8.11.0"}},"#,
            r#""host":{{"name":"{}","hostname":"{}","os":{{"family":"debian","kernel":"6.1.0-18-amd64","name":"Debian GNU/Linux","version":"12"}},"ip":["10.1.{}.{}","fe80::a00:27ff:fe4e:66a1"],"architecture":"x86_64"}},"#,
            r#""event":{{"kind":"event","category":["authentication","process"],"type":["start"],"action":"{}","outcome":"success","dataset":"system.auth","module":"system","ingested":"2024-05-01T10:00:01.456Z"}},"#,
            r#""process":{{"name":"{}","pid":{},"executable":"/usr/sbin/{}","args":["{}","-D","--config=/etc/app/app.conf"],"parent":{{"pid":1,"name":"systemd"}}}},"#,
            r#""user":{{"name":"{}","id":"{}"}},"#,
            r#""source":{{"ip":"192.168.{}.{}","port":{}}},"#,
            r#""log":{{"file":{{"path":"/var/log/auth.log"}},"offset":{}}},"#,
            r#""message":"Accepted publickey for {} from 192.168.{}.{} port {} ssh2: ED25519 SHA256:Xq1u\"k3Y","#,
            r#""tags":["prod","beats_input_codec_plain_applied"],"score":{}.{}}}"#
        ),
        1 + i % 28,
        i % 24,
        i % 60,
        (i / 7) % 60,
        i % 1000,
        r.next() & 0xffff_ffff_ffff,
        host,
        host,
        host,
        r.next() % 255,
        r.next() % 255,
        action,
        proc_,
        r.next() % 65536,
        proc_,
        proc_,
        user,
        r.next() % 5000,
        r.next() % 255,
        r.next() % 255,
        1024 + r.next() % 60000,
        r.next() % 10_000_000,
        user,
        r.next() % 255,
        r.next() % 255,
        1024 + r.next() % 60000,
        r.next() % 100,
        r.next() % 100,
    )
}

fn eve_doc(r: &mut Rng, i: u64) -> String {
    let sig = r.pick(&[
        "ET POLICY Outgoing Basic Auth Base64 HTTP Password detected unencrypted",
        "ET SCAN Suspicious inbound to mySQL port 3306",
        "ET MALWARE Possible Windows executable sent when remote host claims to send an image",
    ]);
    format!(
        concat!(
            r#"{{"timestamp":"2024-05-01T10:{:02}:{:02}.{:06}+0000","flow_id":{},"in_iface":"eth0","event_type":"alert","#,
            r#""src_ip":"10.0.{}.{}","src_port":{},"dest_ip":"203.0.113.{}","dest_port":80,"proto":"TCP","community_id":"1:LQU9qZlK+B5F3KDmev6m5PMibrg=","#,
            r#""tx_id":0,"alert":{{"action":"allowed","gid":1,"signature_id":{},"rev":3,"signature":"{}","category":"Potential Corporate Privacy Violation","severity":1,"#,
            r#""metadata":{{"created_at":["2010_10_18"],"updated_at":["2019_07_26"]}}}},"#,
            r#""http":{{"hostname":"example.com","url":"/login.php?user=admin","http_user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64)","http_content_type":"text/html","http_method":"GET","protocol":"HTTP/1.1","status":200,"length":{}}},"#,
            r#""app_proto":"http","flow":{{"pkts_toserver":{},"pkts_toclient":{},"bytes_toserver":{},"bytes_toclient":{},"start":"2024-05-01T10:00:00.000000+0000"}},"host":"sensor-1"}}"#
        ),
        i % 60,
        (i / 60) % 60,
        i % 1_000_000,
        r.next() >> 12,
        r.next() % 255,
        r.next() % 255,
        1024 + r.next() % 60000,
        r.next() % 255,
        2_000_000 + r.next() % 100_000,
        sig,
        r.next() % 100_000,
        r.next() % 100,
        r.next() % 100,
        r.next() % 100_000,
        r.next() % 1_000_000,
    )
}

fn zeek_tsv(r: &mut Rng, lines: u64) -> String {
    let mut s = String::from(
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#open\t2024-05-01-10-00-00\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n",
    );
    for i in 0..lines {
        s.push_str(&format!(
            "{}.{:06}\tC{:x}\t10.0.{}.{}\t{}\t93.184.216.{}\t443\ttcp\tssl\t{}.{:06}\t{}\t{}\tSF\tT\tF\t0\tShADadFf\t{}\t{}\t{}\t{}\t(empty)\n",
            1_714_557_600 + i, r.next() % 1_000_000, r.next() >> 20, r.next() % 255, r.next() % 255,
            1024 + r.next() % 60000, r.next() % 255, r.next() % 100, r.next() % 1_000_000,
            r.next() % 100_000, r.next() % 1_000_000, r.next() % 1000, r.next() % 100_000,
            r.next() % 1000, r.next() % 1_000_000,
        ));
    }
    s
}

/// Nanoseconds this thread has spent on a CPU (Linux), so that a loaded machine does not skew
/// the figures; falls back to wall time elsewhere.
fn cpu_nanos() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Runs `f` and returns the seconds it took: on-CPU time when available, else wall time.
fn timed(f: impl FnOnce()) -> f64 {
    let (c0, t) = (cpu_nanos(), Instant::now());
    f();
    match (c0, cpu_nanos()) {
        (Some(a), Some(b)) => (b - a) as f64 / 1e9,
        _ => t.elapsed().as_secs_f64(),
    }
}

fn run(name: &str, input: &[u8], format: Format) {
    let origin = Origin::File(Arc::from("bench"));
    let opts = ParseOptions {
        keep_raw: false,
        ..ParseOptions::default()
    };
    let mut best = f64::MAX;
    let mut counts = (0, 0);
    for _ in 0..5 {
        let mut n = 0u64;
        let mut events = 0;
        let secs = timed(|| {
            let (_, stats) = parse_bytes(input, Some(format), &origin, &opts, &mut |item| {
                if let Item::Event(e) = item {
                    n += e.fields.len() as u64;
                }
            });
            events = stats.events;
        });
        best = best.min(secs);
        counts = (events, n);
    }
    let mb = input.len() as f64 / 1e6;
    println!(
        "{name:<28} {:>8.1} MB/s  {:>10.0} events/s  ({} events, {:.1} fields/event, {:.0} B/event)",
        mb / best,
        counts.0 as f64 / best,
        counts.0,
        counts.1 as f64 / counts.0.max(1) as f64,
        input.len() as f64 / counts.0.max(1) as f64,
    );
}

fn serde_baseline(name: &str, input: &[u8]) {
    let mut best = f64::MAX;
    for _ in 0..3 {
        let secs = timed(|| {
            let mut n = 0usize;
            for line in input.split(|c| *c == b'\n') {
                if let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) {
                    n += v.as_object().map_or(0, |o| o.len());
                }
            }
            std::hint::black_box(n);
        });
        best = best.min(secs);
    }
    println!(
        "{name:<28} {:>8.1} MB/s  (serde_json::Value tree only, no event)",
        input.len() as f64 / 1e6 / best
    );
}

fn main() {
    let mb: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(64);
    let mut r = Rng(0x2545_f491_4f6c_dd1d);
    let mut ecs = String::new();
    let mut i = 0;
    while ecs.len() < mb << 20 {
        ecs.push_str(&ecs_doc(&mut r, i));
        ecs.push('\n');
        i += 1;
    }
    let mut eve = String::new();
    while eve.len() < mb << 20 {
        eve.push_str(&eve_doc(&mut r, i));
        eve.push('\n');
        i += 1;
    }
    let zeek = zeek_tsv(&mut r, (mb as u64) << 20 >> 8);
    let only = std::env::args().nth(2).unwrap_or_default();
    let want = |n: &str| only.is_empty() || only == n;
    if want("jsonl") {
        run("jsonl (ECS-like docs)", ecs.as_bytes(), Format::Jsonl);
    }
    if want("serde") {
        serde_baseline("serde_json baseline", ecs.as_bytes());
    }
    if want("eve") {
        run("eve (alerts with http)", eve.as_bytes(), Format::Eve);
    }
    if want("zeek") {
        run("zeek (conn TSV)", zeek.as_bytes(), Format::Zeek);
    }
}
