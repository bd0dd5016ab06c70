//! Linux audit logs (`/var/log/audit/audit.log`), multi-record events joined into one event.
//!
//! A record is `[node=HOST ]type=TYPE msg=audit(EPOCH.mmm:SERIAL): key=value ...`, in the RAW
//! log format or the ENRICHED one (a `\x1d` byte, then translated upper-case fields such as
//! `AUID="alice" SYSCALL=execve`). Numeric types (`type=1300`, `UNKNOWN[1327]`) are named, and a
//! prefix before `type=` (audisp-syslog, journald's `audit:`) is skipped.
//!
//! **Joining.** The kernel writes one event as several records sharing `audit(time:serial)`
//! (`SYSCALL`, `EXECVE`, `CWD`, `PATH`..., then `EOE`), and records of concurrent events
//! interleave. Records are buffered per `(node, serial)` and an event is emitted:
//! * when its `EOE` arrives;
//! * for user-space record types that never get an `EOE` (`USER_*`, `CRED_*`, `ADD_USER`,
//!   `SERVICE_START`, `DAEMON_*`, ...): as soon as a record of another event follows (records of
//!   the same serial that come right after are still joined);
//! * when [`MAX_AGE`] newer events have started since it (a lost `EOE`, kernels that write none),
//!   or when more than [`MAX_PENDING`] events are buffered (oldest first);
//! * at the end of the input.
//!
//! **Values.** `"quoted"` strings; hex-encoded strings of the fields auditd encodes (`proctitle`,
//! `EXECVE` arguments, `exe`, `comm`, `name`, `cwd`, `acct`, `key`...) are decoded (NULs of
//! `proctitle` become spaces, a multi-key `key` becomes a list); long `EXECVE` arguments split as
//! `a1[0]`, `a1[1]`... are reassembled; the `msg='op=... acct="x" res=success'` of user-space
//! records is flattened into fields.
//!
//! **Event.** Every record's fields under `<type in lower case>.<key>` (`syscall.exe`, `path.name`;
//! lists when a type repeats, aligned by record with nulls), the merged fields under their own names
//! (`exe`, `a0`, `name`...; `EXECVE` arguments replace the `SYSCALL` registers `a0`-`a3`,
//! otherwise the first record type that has a key gives its value), and `type` as the list of
//! record types, so Sigma's `type: EXECVE` + `a0: chmod` matches the joined event. ECS fields
//! follow; the table is in `docs/formats/auditd.md`.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use kasbah_event::{Event, FieldId, Timestamp, Value, ecs};

use crate::driver::{Cx, LineParser};
use crate::error::{ErrorCode, ParseError};
use crate::norm;

/// Events buffered at most; past it the oldest is emitted.
pub const MAX_PENDING: usize = 64;
/// An event without `EOE` is emitted once this many newer events have started.
pub const MAX_AGE: u64 = 64;
/// Records joined into one event at most; further records of the serial start a new event.
const MAX_RECORDS: usize = 256;
/// Fields kept per record; more (only hostile input has them) are dropped.
const MAX_RECORD_FIELDS: usize = 512;
/// Merged fields and per-type fields set on one event, each at most.
const MAX_EVENT_FIELDS: usize = 4096;
/// A repeated record type's lists are aligned with nulls up to this many cells (keys x records).
const MAX_ALIGNED_CELLS: usize = 1 << 16;
/// Bytes of records buffered for one event at most.
const MAX_EVENT_BYTES: usize = 4 << 20;

/// True if `line` holds an audit record: `type=` at a token start followed by `audit(`.
pub(crate) fn sniff(line: &str) -> bool {
    locate(line).is_some_and(|at| memchr::memmem::find(&line.as_bytes()[at..], b"audit(").is_some())
}

/// Where the record starts (`node=` or `type=`), skipping any prefix.
fn locate(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    // audit.log lines start with the record: no search needed.
    if b.starts_with(b"type=") || b.starts_with(b"node=") {
        return Some(0);
    }
    let at = memchr::memmem::find_iter(b, b"type=")
        .find(|&i| i == 0 || matches!(b.get(i - 1), Some(b' ' | b'\t')))?;
    memchr::memmem::find(b.get(at..)?, b"audit(")?;
    // A `node=` token right before `type=` belongs to the record.
    let before = line.get(..at)?.trim_end();
    let last = before.rsplit(' ').next().unwrap_or("");
    if last.starts_with("node=") {
        Some(before.len() - last.len())
    } else {
        Some(at)
    }
}

/// The parts of one record line.
struct Head<'a> {
    node: Option<&'a str>,
    typ: Cow<'a, str>,
    /// `EPOCH.mmm:SERIAL`.
    stamp: &'a str,
    time: Timestamp,
    serial: Option<i64>,
    /// The fields, RAW part.
    body: &'a str,
    /// The ENRICHED part after `\x1d`, if any.
    enriched: Option<&'a str>,
}

fn head(line: &str) -> Result<Head<'_>, ParseError> {
    let at = locate(line).ok_or_else(|| ParseError::wrong_format("auditd"))?;
    let mut rest = line.get(at..).unwrap_or("");
    let mut node = None;
    if let Some(r) = rest.strip_prefix("node=") {
        let (n, r) = r
            .split_once(' ')
            .ok_or_else(|| ParseError::syntax("expected `type=` after `node=`"))?;
        node = Some(n);
        rest = r.trim_start();
    }
    let rest = rest
        .strip_prefix("type=")
        .ok_or_else(|| ParseError::syntax("expected `type=` at the start of the record"))?;
    let (typ, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    if typ.is_empty() {
        return Err(ParseError::syntax("empty record type"));
    }
    let rest = rest.trim_start();
    let rest = rest.strip_prefix("msg=").unwrap_or(rest);
    let rest = rest
        .strip_prefix("audit(")
        .ok_or_else(|| ParseError::syntax("expected `msg=audit(EPOCH:SERIAL):` after the type"))?;
    let (stamp, rest) = rest
        .split_once(')')
        .ok_or_else(|| ParseError::syntax("expected `)` closing `audit(`"))?;
    let (secs, serial) = stamp.split_once(':').unwrap_or((stamp, ""));
    let time = crate::time::epoch(secs).ok_or_else(|| {
        ParseError::new(
            ErrorCode::Timestamp,
            format!("cannot read the audit time {secs:?} (expected EPOCH.mmm)"),
        )
    })?;
    let body = rest.strip_prefix(':').unwrap_or(rest);
    let (body, enriched) = match body.split_once('\x1d') {
        Some((b, en)) => (b, Some(en)),
        None => (body, None),
    };
    Ok(Head {
        node,
        typ: type_name(typ),
        stamp,
        time,
        serial: serial.parse().ok(),
        body,
        enriched,
    })
}

/// Names numeric record types (`1300`, `UNKNOWN[1300]`) the way auditd does.
fn type_name(t: &str) -> Cow<'_, str> {
    let num = t
        .strip_prefix("UNKNOWN[")
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(t);
    if !num.bytes().all(|c| c.is_ascii_digit()) {
        return Cow::Borrowed(t);
    }
    let name = match num.parse::<u32>().unwrap_or(0) {
        1006 => "LOGIN",
        1100 => "USER_AUTH",
        1101 => "USER_ACCT",
        1102 => "USER_MGMT",
        1103 => "CRED_ACQ",
        1104 => "CRED_DISP",
        1105 => "USER_START",
        1106 => "USER_END",
        1107 => "USER_AVC",
        1108 => "USER_CHAUTHTOK",
        1109 => "USER_ERR",
        1110 => "CRED_REFR",
        1111 => "USYS_CONFIG",
        1112 => "USER_LOGIN",
        1113 => "USER_LOGOUT",
        1114 => "ADD_USER",
        1115 => "DEL_USER",
        1116 => "ADD_GROUP",
        1117 => "DEL_GROUP",
        1119 => "CHGRP_ID",
        1121 => "TRUSTED_APP",
        1123 => "USER_CMD",
        1124 => "USER_TTY",
        1125 => "CHUSER_ID",
        1126 => "GRP_AUTH",
        1127 => "SYSTEM_BOOT",
        1128 => "SYSTEM_SHUTDOWN",
        1129 => "SYSTEM_RUNLEVEL",
        1130 => "SERVICE_START",
        1131 => "SERVICE_STOP",
        1132 => "GRP_MGMT",
        1133 => "GRP_CHAUTHTOK",
        1135 => "ACCT_LOCK",
        1136 => "ACCT_UNLOCK",
        1137 => "USER_DEVICE",
        1138 => "SOFTWARE_UPDATE",
        1200 => "DAEMON_START",
        1201 => "DAEMON_END",
        1202 => "DAEMON_ABORT",
        1203 => "DAEMON_CONFIG",
        1205 => "DAEMON_ROTATE",
        1206 => "DAEMON_RESUME",
        1300 => "SYSCALL",
        1302 => "PATH",
        1303 => "IPC",
        1304 => "SOCKETCALL",
        1305 => "CONFIG_CHANGE",
        1306 => "SOCKADDR",
        1307 => "CWD",
        1309 => "EXECVE",
        1317 => "FD_PAIR",
        1318 => "OBJ_PID",
        1319 => "TTY",
        1320 => "EOE",
        1321 => "BPRM_FCAPS",
        1322 => "CAPSET",
        1323 => "MMAP",
        1324 => "NETFILTER_PKT",
        1325 => "NETFILTER_CFG",
        1326 => "SECCOMP",
        1327 => "PROCTITLE",
        1328 => "FEATURE_CHANGE",
        1330 => "KERN_MODULE",
        1331 => "FANOTIFY",
        1334 => "BPF",
        1337 => "OPENAT2",
        1400 => "AVC",
        1401 => "SELINUX_ERR",
        1402 => "AVC_PATH",
        1403 => "MAC_POLICY_LOAD",
        1404 => "MAC_STATUS",
        1405 => "MAC_CONFIG_CHANGE",
        1700 => "ANOM_PROMISCUOUS",
        1701 => "ANOM_ABEND",
        1702 => "ANOM_LINK",
        1703 => "ANOM_CREAT",
        2100 => "ANOM_LOGIN_FAILURES",
        2300 => "USER_ROLE_CHANGE",
        _ => return Cow::Borrowed(t),
    };
    Cow::Borrowed(name)
}

/// Record types written by user space (PAM, shadow-utils, systemd, auditd itself): one record per
/// event and no `EOE`.
fn standalone(t: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "USER_",
        "CRED_",
        "ACCT_",
        "ADD_",
        "DEL_",
        "GRP_",
        "SERVICE_",
        "SYSTEM_",
        "DAEMON_",
        "ANOM_LOGIN",
        "ANOM_ADD",
        "ANOM_DEL",
        "ANOM_MOD",
        "ANOM_ROOT",
        "ANOM_ABEND",
        "RESP_",
        "VIRT_",
        "ROLE_",
        "LABEL_",
        "CRYPTO_",
    ];
    PREFIXES.iter().any(|p| t.starts_with(p))
        || matches!(
            t,
            "CHGRP_ID" | "CHUSER_ID" | "USYS_CONFIG" | "SOFTWARE_UPDATE" | "TRUSTED_APP" | "TEST"
        )
}

/// One value as written.
enum Raw<'a> {
    Quoted(&'a str),
    Single(&'a str),
    Braced(&'a str),
    Bare(&'a str),
}

/// Calls `f` for every `key=value` (key `Some`) and bare word (key `None`) of `s`.
fn tokens<'a>(s: &'a str, f: &mut impl FnMut(Option<&'a str>, Raw<'a>)) {
    let b = s.as_bytes();
    let mut i = 0usize;
    let until =
        |from: usize, c: u8| memchr::memchr(c, b.get(from..).unwrap_or(&[])).map(|n| from + n);
    loop {
        while matches!(b.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        while let Some(&c) = b.get(i) {
            if c == b'=' || c == b' ' || c == b'\t' {
                break;
            }
            i += 1;
        }
        let word = s.get(start..i).unwrap_or("");
        if b.get(i) != Some(&b'=') {
            f(None, Raw::Bare(word));
            continue;
        }
        i += 1;
        let (raw, next) = match b.get(i) {
            Some(&q @ (b'"' | b'\'')) => {
                let end = until(i + 1, q).unwrap_or(b.len());
                let v = s.get(i + 1..end).unwrap_or("");
                let raw = if q == b'"' {
                    Raw::Quoted(v)
                } else {
                    Raw::Single(v)
                };
                (raw, end + 1)
            }
            Some(b'{') => {
                let end = until(i + 1, b'}').unwrap_or(b.len());
                (Raw::Braced(s.get(i + 1..end).unwrap_or("").trim()), end + 1)
            }
            _ => {
                let end = until(i, b' ').unwrap_or(b.len());
                (Raw::Bare(s.get(i..end).unwrap_or("")), end)
            }
        };
        f(Some(word), raw);
        i = next;
    }
}

/// Fields whose values auditd hex-encodes when they contain spaces, quotes or control characters.
fn encoded(key: &str) -> bool {
    matches!(
        key,
        "acct"
            | "cmd"
            | "comm"
            | "cwd"
            | "data"
            | "dir"
            | "exe"
            | "file"
            | "grp"
            | "key"
            | "name"
            | "new"
            | "ocomm"
            | "old"
            | "path"
            | "proctitle"
            | "watch"
            | "root_dir"
            | "cgroup"
            | "new-disk"
            | "old-disk"
            | "vm"
    )
}

/// `a0`, `a1`... (EXECVE arguments, SYSCALL registers).
fn is_arg(key: &str) -> bool {
    key.len() > 1 && key.starts_with('a') && key.bytes().skip(1).all(|c| c.is_ascii_digit())
}

fn is_hex(v: &str) -> bool {
    !v.is_empty() && v.len().is_multiple_of(2) && v.bytes().all(|c| c.is_ascii_hexdigit())
}

/// Decodes auditd's hex encoding (validated by [`is_hex`]).
fn decode_hex(v: &str) -> Vec<u8> {
    let nib = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    };
    v.as_bytes()
        .chunks_exact(2)
        .map(|p| match p {
            [h, l] => nib(*h) << 4 | nib(*l),
            _ => 0,
        })
        .collect()
}

/// A decoded hex value as text: `proctitle` NUL separators become spaces; a `key` holding several
/// keys (separated by `\x01`) becomes a list.
fn decoded(key: &str, v: &str) -> Value {
    let bytes = decode_hex(v);
    let text = String::from_utf8_lossy(&bytes);
    match key {
        "proctitle" => Value::from(text.trim_end_matches('\0').replace('\0', " ")),
        "key" if text.contains('\x01') => Value::List(text.split('\x01').map(Value::str).collect()),
        _ => Value::str(&text),
    }
}

/// One record: its type, fields in order, and bare words (AVC's `denied { read }`).
struct Rec<'a> {
    typ: Cow<'a, str>,
    fields: Vec<(&'a str, Value)>,
    words: Vec<&'a str>,
}

impl<'a> Rec<'a> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.fields.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
}

fn record<'a>(h: &Head<'a>) -> Rec<'a> {
    let mut rec = Rec {
        typ: h.typ.clone(),
        fields: Vec::new(),
        words: Vec::new(),
    };
    let execve = h.typ == "EXECVE";
    tokens(h.body, &mut |k, raw| {
        push_field(&mut rec, k, raw, execve, true)
    });
    if let Some(en) = h.enriched {
        tokens(en, &mut |k, raw| {
            push_field(&mut rec, k, raw, execve, false)
        });
    }
    rec
}

fn push_field<'a>(rec: &mut Rec<'a>, key: Option<&'a str>, raw: Raw<'a>, execve: bool, nest: bool) {
    let Some(key) = key else {
        if let Raw::Bare(w) = raw
            && rec.words.len() < MAX_RECORD_FIELDS
        {
            rec.words.push(w);
        }
        return;
    };
    if key.is_empty() || rec.fields.len() >= MAX_RECORD_FIELDS {
        return;
    }
    let value = match raw {
        // User-space records carry their own fields inside `msg='...'`.
        Raw::Single(inner) if nest && key == "msg" => {
            let before = rec.fields.len();
            tokens(inner, &mut |k, r| push_field(rec, k, r, execve, false));
            if rec.fields.len() == before {
                rec.fields.push(("msg", Value::str(inner)));
            }
            return;
        }
        Raw::Quoted(v) | Raw::Single(v) | Raw::Braced(v) => Value::str(v),
        Raw::Bare(v) => {
            // Long EXECVE arguments come in parts: `a1_len=N a1[0]=HEX a1[1]=HEX`.
            if execve && let Some((base, _)) = key.split_once('[').filter(|(b, _)| is_arg(b)) {
                let part = if is_hex(v) {
                    String::from_utf8_lossy(&decode_hex(v)).into_owned()
                } else {
                    v.trim_matches('"').to_owned()
                };
                match rec.fields.iter_mut().rev().find(|(k, _)| *k == base) {
                    Some((_, Value::Str(s))) => s.push_str(&part),
                    _ => rec.fields.push((base, Value::from(part))),
                }
                return;
            }
            let arg = is_arg(key);
            if ((arg && execve) || encoded(key)) && is_hex(v) {
                decoded(key, v)
            } else if arg {
                // Registers are hex numbers and arguments are text: never typed as integers.
                Value::str(v)
            } else {
                Value::infer(v)
            }
        }
    };
    rec.fields.push((key, value));
}

/// A pending event: the lines of its records so far.
struct Pending {
    node: Option<String>,
    stamp: String,
    first_record: u64,
    started: u64,
    standalone: bool,
    lines: Vec<String>,
    bytes: usize,
}

impl Pending {
    fn matches(&self, node: Option<&str>, stamp: &str) -> bool {
        self.stamp == stamp && self.node.as_deref() == node
    }
}

/// Parses audit records and joins them into events.
#[derive(Default)]
pub struct AuditdParser {
    pending: VecDeque<Pending>,
    /// Events started so far (for [`MAX_AGE`]).
    started: u64,
    /// Scratch buffer for `<type>.<key>` names.
    name: String,
}

impl LineParser for AuditdParser {
    fn parse_line(&mut self, line: &str, record: u64, cx: &mut Cx<'_>) -> Result<(), ParseError> {
        let h = head(line)?;
        let found = self
            .pending
            .iter()
            .rposition(|p| p.matches(h.node, h.stamp));
        if h.typ == "EOE" {
            // The end of an event; an EOE whose event was already emitted carries nothing.
            if let Some(i) = found
                && let Some(mut p) = self.pending.remove(i)
            {
                p.lines.push(line.to_owned());
                self.emit(p, cx);
            }
            self.flush_due(None, cx);
            return Ok(());
        }
        let current = match found {
            Some(i)
                if self.pending.get(i).is_some_and(|p| {
                    p.lines.len() < MAX_RECORDS && p.bytes + line.len() <= MAX_EVENT_BYTES
                }) =>
            {
                if let Some(p) = self.pending.get_mut(i) {
                    p.lines.push(line.to_owned());
                    p.bytes += line.len();
                }
                i
            }
            _ => {
                if let Some(i) = found
                    && let Some(p) = self.pending.remove(i)
                {
                    // Over the limits: what we have is emitted, the rest starts anew.
                    self.emit(p, cx);
                }
                self.started += 1;
                self.pending.push_back(Pending {
                    node: h.node.map(str::to_owned),
                    stamp: h.stamp.to_owned(),
                    first_record: record,
                    started: self.started,
                    standalone: standalone(&h.typ),
                    lines: vec![line.to_owned()],
                    bytes: line.len(),
                });
                self.pending.len() - 1
            }
        };
        self.flush_due(Some(current), cx);
        Ok(())
    }

    fn finish(&mut self, cx: &mut Cx<'_>) {
        while let Some(p) = self.pending.pop_front() {
            self.emit(p, cx);
        }
    }
}

impl AuditdParser {
    /// Emits, oldest first, the events that are due: standalone ones once another event's record
    /// arrived, those [`MAX_AGE`] events old, and the oldest beyond [`MAX_PENDING`].
    fn flush_due(&mut self, current: Option<usize>, cx: &mut Cx<'_>) {
        let started = self.started;
        let mut i = 0;
        let mut kept_current = current;
        while i < self.pending.len() {
            let due = self.pending.get(i).is_some_and(|p| {
                (p.standalone && Some(i) != kept_current) || started - p.started >= MAX_AGE
            });
            if due {
                if let Some(p) = self.pending.remove(i) {
                    self.emit(p, cx);
                }
                kept_current = kept_current.and_then(|c| match c.cmp(&i) {
                    std::cmp::Ordering::Greater => Some(c - 1),
                    std::cmp::Ordering::Equal => None,
                    std::cmp::Ordering::Less => Some(c),
                });
            } else {
                i += 1;
            }
        }
        while self.pending.len() > MAX_PENDING {
            if let Some(p) = self.pending.pop_front() {
                self.emit(p, cx);
            }
        }
    }

    fn emit(&mut self, p: Pending, cx: &mut Cx<'_>) {
        let heads: Vec<Head<'_>> = p
            .lines
            .iter()
            .filter_map(|l| head(l).ok())
            .filter(|h| h.typ != "EOE")
            .collect();
        let Some(first) = heads.first() else {
            return;
        };
        let raw = cx.opts.keep_raw.then(|| p.lines.join("\n"));
        let mut e = cx.new_event(p.first_record, raw.as_deref());
        e.timestamp = first.time;
        let recs: Vec<Rec<'_>> = heads.iter().map(record).collect();
        build(&mut e, first, &recs, &mut self.name);
        cx.emit(e);
    }
}

struct Ids {
    typ: FieldId,
    node: FieldId,
    syscall_name: FieldId,
    sequence: FieldId,
    audit_id: FieldId,
    audit_name: FieldId,
    effective_id: FieldId,
    target_id: FieldId,
    group_id: FieldId,
    user_group_id: FieldId,
    user_group_name: FieldId,
    args: FieldId,
    args_count: FieldId,
    title: FieldId,
    inode: FieldId,
    tags: FieldId,
    seresult: FieldId,
    seperms: FieldId,
}

fn ids() -> &'static Ids {
    static IDS: OnceLock<Ids> = OnceLock::new();
    IDS.get_or_init(|| Ids {
        typ: FieldId::intern("type"),
        node: FieldId::intern("node"),
        syscall_name: FieldId::intern("SYSCALL"),
        sequence: FieldId::intern("event.sequence"),
        audit_id: FieldId::intern("user.audit.id"),
        audit_name: FieldId::intern("user.audit.name"),
        effective_id: FieldId::intern("user.effective.id"),
        target_id: FieldId::intern("user.target.id"),
        group_id: FieldId::intern("group.id"),
        user_group_id: FieldId::intern("user.group.id"),
        user_group_name: FieldId::intern("user.group.name"),
        args: FieldId::intern("process.args"),
        args_count: FieldId::intern("process.args_count"),
        title: FieldId::intern("process.title"),
        inode: FieldId::intern("file.inode"),
        tags: FieldId::intern("tags"),
        seresult: FieldId::intern("seresult"),
        seperms: FieldId::intern("seperms"),
    })
}

/// Record types that accompany a primary record and do not name the event.
fn supporting(t: &str) -> bool {
    matches!(
        t,
        "SYSCALL"
            | "EXECVE"
            | "CWD"
            | "PATH"
            | "PROCTITLE"
            | "SOCKADDR"
            | "SOCKETCALL"
            | "BPRM_FCAPS"
            | "CAPSET"
            | "MMAP"
            | "FD_PAIR"
            | "OBJ_PID"
            | "IPC"
            | "OPENAT2"
            | "AVC_PATH"
            | "EOE"
    )
}

/// Text of a value: a string, a number, or a list's first non-null element.
fn text(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::Str(s) => Some(Cow::Borrowed(s.as_str())),
        Value::Int(i) => Some(Cow::Owned(i.to_string())),
        Value::List(l) => l.iter().find(|v| !v.is_null()).and_then(text),
        Value::Null => None,
        other => Some(Cow::Owned(other.to_string())),
    }
}

/// Unset ids (`4294967295`, `-1`) and placeholders (`?`, `(none)`, `unset`) carry nothing.
fn meaningful(s: &str) -> bool {
    !matches!(
        s,
        "" | "?" | "-1" | "4294967295" | "(none)" | "(null)" | "unset" | "(unknown)"
    )
}

/// FNV-1a: field names are short and not attacker-chosen in bulk per event, so a fast hash beats
/// SipHash here.
#[derive(Default)]
struct FnvHasher(u64);

impl Hasher for FnvHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type Fnv = BuildHasherDefault<FnvHasher>;

/// The merged values of an event: EXECVE arguments replace the SYSCALL registers `a0`-`a3`;
/// otherwise the first record type (in event order) that has a key gives its value.
struct Merged<'a> {
    top: Vec<(&'a str, Value)>,
    index: HashMap<&'a str, usize, Fnv>,
}

impl<'a> Merged<'a> {
    fn new(per_type: &[(&str, Vec<(&'a str, Value)>)]) -> Self {
        let mut m = Merged {
            top: Vec::new(),
            index: HashMap::default(),
        };
        // With an EXECVE record, `a0`.. are the program's arguments only: the SYSCALL registers
        // stay under `syscall.a0`.. so that `a3` of a three-argument command is not a register.
        let has_execve = per_type.iter().any(|(t, _)| *t == "EXECVE");
        for (t, fields) in per_type {
            for (k, v) in fields {
                if has_execve && *t != "EXECVE" && is_arg(k) {
                    continue;
                }
                // Lists of a repeated record type lose their alignment nulls here.
                let v = match v {
                    Value::List(l) => {
                        Value::List(l.iter().filter(|v| !v.is_null()).cloned().collect())
                    }
                    v => v.clone(),
                };
                match m.index.get(k) {
                    Some(&i) if *t == "EXECVE" && is_arg(k) => {
                        if let Some(slot) = m.top.get_mut(i) {
                            slot.1 = v;
                        }
                    }
                    Some(_) => {}
                    None => {
                        m.index.insert(k, m.top.len());
                        m.top.push((k, v));
                    }
                }
            }
        }
        m
    }

    fn get(&self, k: &str) -> Option<&Value> {
        self.index
            .get(k)
            .and_then(|&i| self.top.get(i))
            .map(|(_, v)| v)
    }

    /// The text of `k` unless it is a placeholder or an unset id.
    fn text(&self, k: &str) -> Option<Cow<'_, str>> {
        self.get(k).and_then(text).filter(|s| meaningful(s))
    }
}

/// Fills `e` from the records of one event.
fn build(e: &mut Event, first: &Head<'_>, recs: &[Rec<'_>], scratch: &mut String) {
    let ids = ids();
    // Record types in order of first appearance, each with its records.
    let mut groups: Vec<(&str, Vec<&Rec<'_>>)> = Vec::new();
    for r in recs {
        match groups.iter_mut().find(|(t, _)| *t == r.typ) {
            Some((_, v)) => v.push(r),
            None => groups.push((&r.typ, vec![r])),
        }
    }
    // Per-type values: one record gives its values, several give aligned lists.
    let mut per_type: Vec<(&str, Vec<(&str, Value)>)> = Vec::with_capacity(groups.len());
    for (t, rs) in &groups {
        let fields = match rs.as_slice() {
            [one] => one.fields.clone(),
            // Long argument lists are split over several EXECVE records with distinct keys.
            many if *t == "EXECVE" => {
                let mut seen: HashMap<&str, (), Fnv> = HashMap::default();
                many.iter()
                    .flat_map(|r| r.fields.iter())
                    .filter(|(k, _)| seen.insert(k, ()).is_none())
                    .cloned()
                    .collect()
            }
            many => {
                let mut index: HashMap<&str, usize, Fnv> = HashMap::default();
                let mut cols: Vec<(&str, Vec<(usize, Value)>)> = Vec::new();
                for (n, r) in many.iter().enumerate() {
                    for (k, v) in &r.fields {
                        let c = *index.entry(k).or_insert_with(|| {
                            cols.push((k, Vec::new()));
                            cols.len() - 1
                        });
                        if let Some((_, col)) = cols.get_mut(c)
                            && col.last().is_none_or(|(m, _)| *m != n)
                        {
                            col.push((n, v.clone()));
                        }
                    }
                }
                let align = cols.len().saturating_mul(many.len()) <= MAX_ALIGNED_CELLS;
                cols.into_iter()
                    .map(|(k, col)| {
                        let list = if align {
                            let mut out = vec![Value::Null; many.len()];
                            for (n, v) in col {
                                if let Some(slot) = out.get_mut(n) {
                                    *slot = v;
                                }
                            }
                            out
                        } else {
                            col.into_iter().map(|(_, v)| v).collect()
                        };
                        (k, Value::List(list))
                    })
                    .collect()
            }
        };
        per_type.push((t, fields));
    }
    let merged = Merged::new(&per_type);
    let get = |k: &str| merged.get(k);
    let get_text = |k: &str| merged.text(k);

    let primary: &str = groups
        .iter()
        .map(|(t, _)| *t)
        .find(|t| !supporting(t))
        .or_else(|| groups.iter().map(|(t, _)| *t).find(|t| *t == "EXECVE"))
        .unwrap_or(&first.typ);
    let syscall = get_text("SYSCALL").map(Cow::into_owned).or_else(|| {
        syscall_name(get_text("arch").as_deref(), get_text("syscall").as_deref()).map(str::to_owned)
    });

    e.set(ecs::EVENT_KIND, "event");
    e.set(ecs::EVENT_MODULE, "auditd");
    e.set(ecs::EVENT_DATASET, "auditd.log");
    e.set(ecs::EVENT_ACTION, primary.to_ascii_lowercase());
    if let Some((category, types)) = classify(
        primary,
        syscall.as_deref(),
        groups.iter().any(|(t, _)| *t == "EXECVE"),
    ) {
        e.set(ecs::EVENT_CATEGORY, category);
        match types {
            [one] => e.set(ecs::EVENT_TYPE, *one),
            many => e.set(
                ecs::EVENT_TYPE,
                Value::List(many.iter().map(|t| Value::str(t)).collect()),
            ),
        }
    }
    if let Some(o) = outcome(get_text("success").as_deref(), get_text("res").as_deref()) {
        e.set(ecs::EVENT_OUTCOME, o);
    }
    if let Some(n) = first.serial {
        e.set(ids.sequence, n);
    }
    if let Some(node) = first.node {
        e.set(ecs::HOST_NAME, node);
    }
    set_process(e, ids, &merged, &per_type);
    set_user(e, ids, primary, &merged);
    set_network(e, &merged, recs, syscall.as_deref());
    set_file(e, ids, recs, get_text("cwd").as_deref());
    if let Some(k) = get("key") {
        let keys: Vec<Value> = match k {
            Value::List(l) => l
                .iter()
                .filter(|v| v.as_str().is_some_and(meaningful))
                .cloned()
                .collect(),
            v => text(v)
                .filter(|s| meaningful(s))
                .map(|s| Value::str(&s))
                .into_iter()
                .collect(),
        };
        if !keys.is_empty() {
            e.set(ids.tags, Value::List(keys));
        }
    }
    // SELinux/AppArmor verdicts written as words: `avc:  denied  { read write } for ...`.
    for r in recs {
        if let Some(verdict) = r.words.iter().find(|w| matches!(**w, "denied" | "granted")) {
            e.fields.set_default(ids.seresult, *verdict);
            let perms: Vec<Value> = r
                .words
                .iter()
                .skip_while(|w| **w != "{")
                .skip(1)
                .take_while(|w| **w != "}")
                .map(|w| Value::str(w))
                .collect();
            if !perms.is_empty() {
                e.fields.set_default(ids.seperms, Value::List(perms));
            }
        }
    }

    // Original fields: node, the record types, the merged fields, then each type's fields.
    if let Some(node) = first.node {
        e.set(ids.node, node);
    }
    e.set(
        ids.typ,
        Value::List(groups.iter().map(|(t, _)| Value::str(t)).collect()),
    );
    if get("SYSCALL").is_none()
        && let Some(name) = &syscall
    {
        e.set(ids.syscall_name, name.as_str());
    }
    for (k, v) in merged.top.into_iter().take(MAX_EVENT_FIELDS) {
        if k != "type" && k != "node" {
            e.fields.set_name(k, v);
        }
    }
    let per_type_fields = per_type
        .into_iter()
        .flat_map(|(t, fields)| fields.into_iter().map(move |(k, v)| (t, k, v)))
        .take(MAX_EVENT_FIELDS);
    for (t, k, v) in per_type_fields {
        scratch.clear();
        scratch.extend(t.chars().map(|c| c.to_ascii_lowercase()));
        scratch.push('.');
        scratch.push_str(k);
        e.fields.set_name(scratch, v);
    }
}

fn outcome(success: Option<&str>, res: Option<&str>) -> Option<&'static str> {
    match success {
        Some("yes") => return Some("success"),
        Some("no") => return Some("failure"),
        _ => {}
    }
    match res? {
        "success" | "1" | "yes" => Some("success"),
        "failed" | "failure" | "0" | "no" => Some("failure"),
        _ => None,
    }
}

fn set_process(e: &mut Event, ids: &Ids, m: &Merged<'_>, per_type: &[(&str, Vec<(&str, Value)>)]) {
    let t = |k: &str| m.text(k);
    if let Some(pid) = t("pid") {
        norm::set_int(e, ecs::PROCESS_PID, &pid);
    }
    if let Some(ppid) = t("ppid") {
        norm::set_int(e, ecs::PROCESS_PARENT_PID, &ppid);
    }
    if let Some(comm) = t("comm") {
        e.set(ecs::PROCESS_NAME, comm.as_ref());
    }
    if let Some(exe) = t("exe") {
        norm::set_executable(e, ecs::PROCESS_EXECUTABLE, ecs::PROCESS_NAME, &exe);
    }
    if let Some(cwd) = t("cwd") {
        e.set(ecs::PROCESS_WORKING_DIRECTORY, cwd.as_ref());
    }
    let title = t("proctitle");
    if let Some(title) = &title {
        e.set(ids.title, title.as_ref());
    }
    // EXECVE arguments in order (they are complete; proctitle is cut at 128 bytes).
    let mut args: Vec<(u32, &Value)> = per_type
        .iter()
        .filter(|(t, _)| *t == "EXECVE")
        .flat_map(|(_, f)| f.iter())
        .filter(|(k, _)| is_arg(k))
        .filter_map(|(k, v)| Some((k.get(1..)?.parse().ok()?, v)))
        .collect();
    args.sort_by_key(|(n, _)| *n);
    let args: Vec<String> = args
        .iter()
        .filter_map(|(_, v)| match v {
            // A repeated EXECVE record type gives lists: its first value is the argument.
            Value::List(l) => l.iter().find(|v| !v.is_null()).map(ToString::to_string),
            v => Some(v.to_string()),
        })
        .collect();
    if !args.is_empty() {
        e.set(ecs::PROCESS_COMMAND_LINE, args.join(" "));
        e.set(ids.args_count, args.len() as i64);
        e.set(
            ids.args,
            Value::List(args.into_iter().map(Value::from).collect()),
        );
    } else if let Some(title) = title {
        e.set(ecs::PROCESS_COMMAND_LINE, title.as_ref());
    }
}

fn set_user(e: &mut Event, ids: &Ids, primary: &str, m: &Merged<'_>) {
    let t = |k: &str| m.text(k);
    let iam_user = matches!(
        primary,
        "ADD_USER"
            | "DEL_USER"
            | "USER_MGMT"
            | "USER_CHAUTHTOK"
            | "ACCT_LOCK"
            | "ACCT_UNLOCK"
            | "CHUSER_ID"
            | "USER_ROLE_CHANGE"
            | "ROLE_ASSIGN"
            | "ROLE_REMOVE"
    );
    let iam_group = matches!(
        primary,
        "ADD_GROUP" | "DEL_GROUP" | "GRP_MGMT" | "GRP_CHAUTHTOK" | "CHGRP_ID"
    );
    let acct = t("acct");
    let subject = |e: &mut Event| {
        if let Some(uid) = t("uid") {
            e.set(ecs::USER_ID, uid.as_ref());
        }
        if let Some(name) = t("UID") {
            e.set(ecs::USER_NAME, name.as_ref());
        }
    };
    if iam_user {
        // The actor is the subject; `acct`/`id` name the account created or changed.
        subject(e);
        if let Some(a) = &acct {
            e.set(ecs::USER_TARGET_NAME, a.as_ref());
        }
        if let Some(id) = t("id") {
            e.set(ids.target_id, id.as_ref());
        }
    } else if iam_group {
        subject(e);
        if let Some(a) = &acct {
            e.set(ecs::GROUP_NAME, a.as_ref());
        }
        if let Some(id) = t("id") {
            e.set(ids.group_id, id.as_ref());
        }
    } else if acct.is_some() || (primary == "USER_LOGIN" && t("id").is_some()) {
        // Authentication records: the account logging in, not the uid of the PAM service.
        if let Some(a) = &acct {
            e.set(ecs::USER_NAME, a.as_ref());
        }
        if primary == "USER_LOGIN"
            && let Some(id) = t("id")
        {
            e.set(ecs::USER_ID, id.as_ref());
        }
    } else {
        subject(e);
    }
    if let Some(auid) = t("auid") {
        e.set(ids.audit_id, auid.as_ref());
    }
    if let Some(name) = t("AUID") {
        e.set(ids.audit_name, name.as_ref());
    }
    if let Some(euid) = t("euid") {
        e.set(ids.effective_id, euid.as_ref());
    }
    if let Some(name) = t("EUID") {
        e.set(ecs::USER_EFFECTIVE_NAME, name.as_ref());
    }
    if !iam_group {
        if let Some(gid) = t("gid") {
            e.set(ids.user_group_id, gid.as_ref());
        }
        if let Some(name) = t("GID") {
            e.set(ids.user_group_name, name.as_ref());
        }
    }
}

fn set_network(e: &mut Event, m: &Merged<'_>, recs: &[Rec<'_>], syscall: Option<&str>) {
    let t = |k: &str| m.text(k);
    // User-space records: the remote peer of a login.
    if let Some(addr) = t("addr")
        && norm::set_ip(e, ecs::SOURCE_IP, &addr)
    {
        e.set(ecs::SOURCE_ADDRESS, addr.as_ref());
        if let Some(host) =
            t("hostname").filter(|h| *h != addr && h.parse::<std::net::IpAddr>().is_err())
        {
            e.set(ecs::SOURCE_DOMAIN, host.as_ref());
        }
    }
    // A SOCKADDR record of a connect/accept: the peer's address.
    let Some(saddr) = recs
        .iter()
        .filter(|r| r.typ == "SOCKADDR")
        .find_map(|r| r.get("saddr").and_then(Value::as_str))
    else {
        return;
    };
    let Some((ip, port)) = sockaddr(saddr) else {
        return;
    };
    let (ip_id, port_id) = match syscall {
        Some("accept" | "accept4" | "recvfrom" | "recvmsg") => (ecs::SOURCE_IP, ecs::SOURCE_PORT),
        Some("connect" | "sendto" | "sendmsg") | None => {
            (ecs::DESTINATION_IP, ecs::DESTINATION_PORT)
        }
        Some(_) => return,
    };
    e.fields.set_default(ip_id, ip.to_string());
    e.fields.set_default(port_id, port);
}

/// An IPv4 or IPv6 `struct sockaddr` in auditd's hex: family (little-endian), port (big-endian),
/// then the address.
fn sockaddr(hex: &str) -> Option<(std::net::IpAddr, u16)> {
    if !is_hex(hex) {
        return None;
    }
    let b = decode_hex(hex);
    let family = u16::from_le_bytes([*b.first()?, *b.get(1)?]);
    let port = u16::from_be_bytes([*b.get(2)?, *b.get(3)?]);
    match family {
        2 => {
            let a: [u8; 4] = b.get(4..8)?.try_into().ok()?;
            Some((std::net::IpAddr::from(a), port))
        }
        10 => {
            let a: [u8; 16] = b.get(8..24)?.try_into().ok()?;
            Some((std::net::IpAddr::from(a), port))
        }
        _ => None,
    }
}

fn set_file(e: &mut Event, ids: &Ids, recs: &[Rec<'_>], cwd: Option<&str>) {
    // The object of the event: the first PATH that is not the parent directory of another.
    let paths: Vec<&Rec<'_>> = recs.iter().filter(|r| r.typ == "PATH").collect();
    let chosen = paths
        .iter()
        .find(|r| r.get("nametype").and_then(Value::as_str) != Some("PARENT"))
        .or(paths.first());
    let Some(r) = chosen else {
        return;
    };
    let Some(name) = r.get("name").and_then(text).filter(|n| meaningful(n)) else {
        return;
    };
    match cwd {
        Some(dir) if !name.starts_with('/') && dir.starts_with('/') => {
            let joined = format!(
                "{}/{}",
                dir.trim_end_matches('/'),
                name.trim_start_matches("./")
            );
            norm::set_file_path(e, &joined);
        }
        _ => norm::set_file_path(e, &name),
    }
    if let Some(inode) = r.get("inode").and_then(text) {
        e.set(ids.inode, inode.as_ref());
    }
}

/// `event.category` and `event.type` of an event from its primary record type or syscall.
fn classify(
    primary: &str,
    syscall: Option<&str>,
    has_execve: bool,
) -> Option<(&'static str, &'static [&'static str])> {
    let by_type: Option<(&str, &[&str])> = match primary {
        "USER_AUTH" | "USER_ACCT" | "CRED_ACQ" | "CRED_REFR" | "CRED_DISP" | "USER_ERR"
        | "GRP_AUTH" => Some(("authentication", &["info"])),
        "USER_LOGIN" => Some(("authentication", &["start"])),
        "USER_LOGOUT" => Some(("authentication", &["end"])),
        "USER_START" | "LOGIN" => Some(("session", &["start"])),
        "USER_END" => Some(("session", &["end"])),
        "USER_CMD" | "SERVICE_START" | "DAEMON_START" => Some(("process", &["start"])),
        "SERVICE_STOP" | "DAEMON_END" | "DAEMON_ABORT" | "ANOM_ABEND" => {
            Some(("process", &["end"]))
        }
        "ADD_USER" => Some(("iam", &["user", "creation"])),
        "DEL_USER" => Some(("iam", &["user", "deletion"])),
        "ADD_GROUP" => Some(("iam", &["group", "creation"])),
        "DEL_GROUP" => Some(("iam", &["group", "deletion"])),
        "USER_MGMT" | "USER_CHAUTHTOK" | "ACCT_LOCK" | "ACCT_UNLOCK" | "CHUSER_ID"
        | "USER_ROLE_CHANGE" | "ROLE_ASSIGN" | "ROLE_REMOVE" => Some(("iam", &["user", "change"])),
        "GRP_MGMT" | "GRP_CHAUTHTOK" | "CHGRP_ID" => Some(("iam", &["group", "change"])),
        "SYSTEM_BOOT" => Some(("host", &["start"])),
        "SYSTEM_SHUTDOWN" => Some(("host", &["end"])),
        "SYSTEM_RUNLEVEL" => Some(("host", &["change"])),
        "CONFIG_CHANGE" | "DAEMON_CONFIG" | "USYS_CONFIG" | "MAC_CONFIG_CHANGE" | "MAC_STATUS"
        | "MAC_POLICY_LOAD" | "NETFILTER_CFG" | "FEATURE_CHANGE" => {
            Some(("configuration", &["change"]))
        }
        "KERN_MODULE" => Some(("driver", &["change"])),
        "SOFTWARE_UPDATE" => Some(("package", &["change"])),
        _ => None,
    };
    if by_type.is_some() {
        return by_type;
    }
    if has_execve {
        return Some(("process", &["start"]));
    }
    Some(match syscall? {
        "execve" | "execveat" => ("process", &["start"]),
        "ptrace" | "process_vm_readv" | "process_vm_writev" => ("process", &["access"]),
        "connect" | "accept" | "accept4" => ("network", &["connection", "start"]),
        "open" | "openat" | "openat2" | "open_by_handle_at" => ("file", &["access"]),
        "creat" | "mknod" | "mknodat" | "mkdir" | "mkdirat" | "link" | "linkat" | "symlink"
        | "symlinkat" | "memfd_create" => ("file", &["creation"]),
        "unlink" | "unlinkat" | "rmdir" => ("file", &["deletion"]),
        "rename" | "renameat" | "renameat2" | "chmod" | "fchmod" | "fchmodat" | "chown"
        | "fchown" | "lchown" | "fchownat" | "truncate" | "ftruncate" | "setxattr"
        | "lsetxattr" | "fsetxattr" | "removexattr" => ("file", &["change"]),
        "init_module" | "finit_module" => ("driver", &["start"]),
        "delete_module" => ("driver", &["end"]),
        _ => return None,
    })
}

/// Syscall numbers of x86_64 (`arch=c000003e`) that detections look at.
#[rustfmt::skip]
const X86_64: &[(u32, &str)] = &[
    (0, "read"), (1, "write"), (2, "open"), (3, "close"), (4, "stat"), (9, "mmap"),
    (10, "mprotect"), (16, "ioctl"), (21, "access"), (41, "socket"), (42, "connect"),
    (43, "accept"), (44, "sendto"), (45, "recvfrom"), (46, "sendmsg"), (47, "recvmsg"),
    (49, "bind"), (50, "listen"), (56, "clone"), (57, "fork"), (58, "vfork"), (59, "execve"),
    (60, "exit"), (62, "kill"), (63, "uname"), (72, "fcntl"), (76, "truncate"), (77, "ftruncate"),
    (80, "chdir"), (82, "rename"), (83, "mkdir"), (84, "rmdir"), (85, "creat"), (86, "link"),
    (87, "unlink"), (88, "symlink"), (89, "readlink"), (90, "chmod"), (91, "fchmod"),
    (92, "chown"), (93, "fchown"), (94, "lchown"), (95, "umask"), (99, "sysinfo"), (101, "ptrace"),
    (103, "syslog"), (105, "setuid"), (106, "setgid"), (109, "setpgid"), (112, "setsid"),
    (113, "setreuid"), (114, "setregid"), (117, "setresuid"), (119, "setresgid"), (133, "mknod"),
    (157, "prctl"), (161, "chroot"), (165, "mount"), (166, "umount2"), (169, "reboot"),
    (170, "sethostname"), (175, "init_module"), (176, "delete_module"), (188, "setxattr"),
    (189, "lsetxattr"), (190, "fsetxattr"), (197, "removexattr"), (200, "tkill"),
    (231, "exit_group"), (257, "openat"), (258, "mkdirat"), (259, "mknodat"), (260, "fchownat"),
    (263, "unlinkat"), (264, "renameat"), (265, "linkat"), (266, "symlinkat"), (268, "fchmodat"),
    (288, "accept4"), (304, "open_by_handle_at"), (310, "process_vm_readv"),
    (311, "process_vm_writev"), (313, "finit_module"), (316, "renameat2"), (319, "memfd_create"),
    (321, "bpf"), (322, "execveat"), (437, "openat2"),
];

/// Syscall numbers of aarch64 (`arch=c00000b7`, the generic table) that detections look at.
#[rustfmt::skip]
const AARCH64: &[(u32, &str)] = &[
    (5, "setxattr"), (23, "dup"), (25, "fcntl"), (29, "ioctl"), (33, "mknodat"), (34, "mkdirat"),
    (35, "unlinkat"), (36, "symlinkat"), (37, "linkat"), (38, "renameat"), (39, "umount2"),
    (40, "mount"), (45, "truncate"), (46, "ftruncate"), (49, "chdir"), (51, "chroot"),
    (52, "fchmod"), (53, "fchmodat"), (54, "fchownat"), (55, "fchown"), (56, "openat"),
    (57, "close"), (63, "read"), (64, "write"), (93, "exit"), (94, "exit_group"),
    (105, "init_module"), (106, "delete_module"), (116, "syslog"), (117, "ptrace"), (129, "kill"),
    (130, "tkill"), (142, "reboot"), (143, "setregid"), (144, "setgid"), (145, "setreuid"),
    (146, "setuid"), (147, "setresuid"), (149, "setresgid"), (154, "setpgid"), (157, "setsid"),
    (160, "uname"), (161, "sethostname"), (166, "umask"), (167, "prctl"), (179, "sysinfo"),
    (198, "socket"), (200, "bind"), (201, "listen"), (202, "accept"), (203, "connect"),
    (206, "sendto"), (207, "recvfrom"), (211, "sendmsg"), (212, "recvmsg"), (220, "clone"),
    (221, "execve"), (222, "mmap"), (226, "mprotect"), (242, "accept4"),
    (265, "open_by_handle_at"), (270, "process_vm_readv"), (271, "process_vm_writev"),
    (273, "finit_module"), (276, "renameat2"), (279, "memfd_create"), (280, "bpf"),
    (281, "execveat"), (437, "openat2"),
];

/// The name of a syscall number on x86_64 and aarch64. Enriched logs carry the name themselves
/// (`SYSCALL=`).
fn syscall_name(arch: Option<&str>, nr: Option<&str>) -> Option<&'static str> {
    let nr: u32 = nr?.parse().ok()?;
    let table = match arch? {
        "c000003e" => X86_64,
        "c00000b7" => AARCH64,
        _ => return None,
    };
    table
        .binary_search_by_key(&nr, |(n, _)| *n)
        .ok()
        .and_then(|i| table.get(i))
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::{Format, Item, Origin, ParseOptions, parse_bytes};

    use crate::testutil::{self, i, s};

    fn run(input: &str) -> Vec<Item> {
        testutil::items(input, Format::Auditd, &ParseOptions::default())
    }

    fn events(input: &str) -> Vec<Event> {
        testutil::events(input, Format::Auditd, &ParseOptions::default())
    }

    fn one(input: &str) -> Event {
        let mut ev = events(input);
        assert_eq!(ev.len(), 1, "expected one event");
        ev.remove(0)
    }

    fn strs(v: &[&str]) -> Value {
        Value::List(v.iter().map(|s| Value::str(s)).collect())
    }

    fn record_no(e: &Event) -> u64 {
        match &e.source {
            kasbah_event::Source::File { record, .. } => *record,
            _ => 0,
        }
    }

    const EXEC: &str = r#"type=SYSCALL msg=audit(1710410640.113:9121): arch=c000003e syscall=59 success=yes exit=0 a0=55d0c5a1b2c0 a1=55d0c5a1b340 a2=55d0c5a1b380 a3=0 items=2 ppid=22150 pid=22188 auid=1001 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts1 ses=481 comm="wget" exe="/usr/bin/wget" subj=unconfined key="susp_download"
type=EXECVE msg=audit(1710410640.113:9121): argc=4 a0="wget" a1="-q" a2="-O" a3=2F746D702F612062
type=CWD msg=audit(1710410640.113:9121): cwd="/tmp"
type=PATH msg=audit(1710410640.113:9121): item=0 name="/usr/bin/wget" inode=262401 dev=fd:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL
type=PATH msg=audit(1710410640.113:9121): item=1 name="/lib64/ld-linux-x86-64.so.2" inode=264193 dev=fd:01 mode=0100755 nametype=NORMAL
type=PROCTITLE msg=audit(1710410640.113:9121): proctitle=77676574002D71002D4F002F746D702F612062
type=EOE msg=audit(1710410640.113:9121):
"#;

    #[test]
    fn execve_event_is_joined() {
        let e = one(EXEC);
        assert_eq!(e.timestamp.to_rfc3339(), "2024-03-14T10:04:00.113Z");
        assert_eq!(e.tz, None);
        assert_eq!(record_no(&e), 1);
        assert_eq!(
            e.get_name("type"),
            Some(&strs(&["SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE"]))
        );
        // Merged: EXECVE arguments replace the SYSCALL registers.
        assert_eq!(s(&e, "a0"), Some("wget"));
        assert_eq!(s(&e, "a3"), Some("/tmp/a b"));
        assert_eq!(s(&e, "syscall.a0"), Some("55d0c5a1b2c0"));
        assert_eq!(s(&e, "syscall.a3"), Some("0"));
        assert_eq!(s(&e, "syscall.a2"), Some("55d0c5a1b380"));
        assert_eq!(s(&e, "execve.a3"), Some("/tmp/a b"));
        assert_eq!(s(&e, "exe"), Some("/usr/bin/wget"));
        assert_eq!(
            e.get_name("name"),
            Some(&strs(&["/usr/bin/wget", "/lib64/ld-linux-x86-64.so.2"]))
        );
        assert_eq!(
            e.get_name("path.item"),
            Some(&Value::List(vec![Value::Int(0), Value::Int(1)]))
        );
        // The second PATH has no ouid: aligned with a null.
        assert_eq!(
            e.get_name("path.ouid"),
            Some(&Value::List(vec![Value::Int(0), Value::Null]))
        );
        assert_eq!(s(&e, "SYSCALL"), Some("execve"));
        assert_eq!(i(&e, "syscall"), Some(59));
        // ECS.
        assert_eq!(s(&e, "event.action"), Some("execve"));
        assert_eq!(s(&e, "event.category"), Some("process"));
        assert_eq!(s(&e, "event.type"), Some("start"));
        assert_eq!(s(&e, "event.outcome"), Some("success"));
        assert_eq!(s(&e, "event.module"), Some("auditd"));
        assert_eq!(s(&e, "event.dataset"), Some("auditd.log"));
        assert_eq!(i(&e, "event.sequence"), Some(9121));
        assert_eq!(s(&e, "process.executable"), Some("/usr/bin/wget"));
        assert_eq!(s(&e, "process.name"), Some("wget"));
        assert_eq!(i(&e, "process.pid"), Some(22188));
        assert_eq!(i(&e, "process.parent.pid"), Some(22150));
        assert_eq!(s(&e, "process.command_line"), Some("wget -q -O /tmp/a b"));
        assert_eq!(
            e.get_name("process.args"),
            Some(&strs(&["wget", "-q", "-O", "/tmp/a b"]))
        );
        assert_eq!(i(&e, "process.args_count"), Some(4));
        assert_eq!(s(&e, "process.title"), Some("wget -q -O /tmp/a b"));
        assert_eq!(s(&e, "process.working_directory"), Some("/tmp"));
        assert_eq!(s(&e, "user.id"), Some("0"));
        assert_eq!(s(&e, "user.audit.id"), Some("1001"));
        assert_eq!(s(&e, "user.effective.id"), Some("0"));
        assert_eq!(s(&e, "file.path"), Some("/usr/bin/wget"));
        assert_eq!(s(&e, "file.inode"), Some("262401"));
        assert_eq!(e.get_name("tags"), Some(&strs(&["susp_download"])));
        assert!(e.raw.as_deref().is_some_and(|r| r.lines().count() == 7));
    }

    #[test]
    fn interleaved_serials_are_joined_separately() {
        let input = "\
type=SYSCALL msg=audit(1.000:10): syscall=2 arch=c000003e success=no exit=-13 pid=1 comm=\"a\"
type=SYSCALL msg=audit(1.000:11): syscall=59 arch=c000003e success=yes pid=2 comm=\"b\"
type=CWD msg=audit(1.000:10): cwd=\"/root\"
type=PATH msg=audit(1.000:11): item=0 name=\"/bin/b\" nametype=NORMAL
type=PATH msg=audit(1.000:10): item=0 name=\"secret.txt\" nametype=NORMAL
type=EOE msg=audit(1.000:11):
type=EOE msg=audit(1.000:10):
";
        let ev = events(input);
        assert_eq!(ev.len(), 2);
        // Emitted when their EOE arrives: 11 first.
        assert_eq!(i(&ev[0], "event.sequence"), Some(11));
        assert_eq!(s(&ev[0], "file.path"), Some("/bin/b"));
        assert_eq!(record_no(&ev[0]), 2);
        assert_eq!(i(&ev[1], "event.sequence"), Some(10));
        assert_eq!(s(&ev[1], "event.outcome"), Some("failure"));
        assert_eq!(s(&ev[1], "SYSCALL"), Some("open"));
        assert_eq!(s(&ev[1], "event.category"), Some("file"));
        // A relative name is joined to the working directory.
        assert_eq!(s(&ev[1], "file.path"), Some("/root/secret.txt"));
        assert_eq!(s(&ev[1], "path.name"), Some("secret.txt"));
        assert_eq!(e_type(&ev[1]), vec!["SYSCALL", "CWD", "PATH"]);
    }

    fn e_type(e: &Event) -> Vec<String> {
        match e.get_name("type") {
            Some(Value::List(l)) => l.iter().map(ToString::to_string).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn user_records_are_flattened_and_not_delayed() {
        let input = r#"type=USER_AUTH msg=audit(1710410680.002:9130): pid=22201 uid=0 auid=4294967295 ses=4294967295 subj=unconfined msg='op=PAM:authentication grantors=? acct="root" exe="/usr/sbin/sshd" hostname=203.0.113.45 addr=203.0.113.45 terminal=ssh res=failed'
type=USER_LOGIN msg=audit(1710410690.002:9131): pid=22205 uid=0 auid=1001 ses=482 msg='op=login id=1001 exe="/usr/sbin/sshd" hostname=ws7.example.org addr=198.51.100.7 terminal=/dev/pts/1 res=success'
type=USER_CMD msg=audit(1710410700.000:9132): pid=22300 uid=1001 auid=1001 ses=482 msg='cwd="/home/deploy" cmd=636174202F6574632F736861646F77 exe="/usr/bin/sudo" terminal=pts/1 res=success'
type=ADD_USER msg=audit(1710410652.990:9127): pid=22101 uid=0 auid=1001 ses=481 msg='op=add-user acct="backdoor" id=1002 exe="/usr/sbin/useradd" hostname=web01 addr=? terminal=pts/1 res=success'
"#;
        let ev = events(input);
        assert_eq!(ev.len(), 4);
        let auth = &ev[0];
        assert_eq!(s(auth, "op"), Some("PAM:authentication"));
        assert_eq!(s(auth, "user_auth.acct"), Some("root"));
        assert_eq!(s(auth, "user.name"), Some("root"));
        assert!(auth.get(ecs::USER_ID).is_none());
        assert!(auth.get_name("user.audit.id").is_none());
        assert_eq!(i(auth, "auid"), Some(4_294_967_295));
        assert_eq!(s(auth, "source.ip"), Some("203.0.113.45"));
        assert!(auth.get(ecs::SOURCE_DOMAIN).is_none());
        assert_eq!(s(auth, "event.outcome"), Some("failure"));
        assert_eq!(s(auth, "event.category"), Some("authentication"));
        assert_eq!(s(auth, "event.action"), Some("user_auth"));
        assert_eq!(s(auth, "process.executable"), Some("/usr/sbin/sshd"));
        let login = &ev[1];
        assert_eq!(s(login, "event.type"), Some("start"));
        assert_eq!(s(login, "user.id"), Some("1001"));
        assert_eq!(s(login, "source.domain"), Some("ws7.example.org"));
        assert_eq!(s(login, "terminal"), Some("/dev/pts/1"));
        let cmd = &ev[2];
        assert_eq!(s(cmd, "cmd"), Some("cat /etc/shadow"));
        assert_eq!(s(cmd, "user.id"), Some("1001"));
        assert_eq!(s(cmd, "process.working_directory"), Some("/home/deploy"));
        assert_eq!(s(cmd, "event.category"), Some("process"));
        let add = &ev[3];
        assert_eq!(s(add, "event.category"), Some("iam"));
        assert_eq!(add.get(ecs::EVENT_TYPE), Some(&strs(&["user", "creation"])));
        assert_eq!(s(add, "user.target.name"), Some("backdoor"));
        assert_eq!(s(add, "user.target.id"), Some("1002"));
        assert_eq!(s(add, "user.id"), Some("0"));
        assert_eq!(s(add, "user.audit.id"), Some("1001"));
        assert!(add.get(ecs::SOURCE_IP).is_none());
        // Each user record is emitted as soon as the next record arrives, not at the end.
        let mut order = Vec::new();
        let mut emitted_after_line = Vec::new();
        {
            let origin = Origin::File(Arc::from("a"));
            let opts = ParseOptions::default();
            let mut sink = |i: Item| {
                if let Item::Event(e) = i {
                    order.push(i64::try_from(record_no(&e)).unwrap_or(0));
                }
            };
            let mut cx = Cx::new(&opts, &origin, &mut sink);
            let mut p = AuditdParser::default();
            for (n, line) in input.lines().enumerate() {
                p.parse_line(line, n as u64 + 1, &mut cx)
                    .expect("valid record");
                emitted_after_line.push(cx.stats().events);
            }
            p.finish(&mut cx);
            emitted_after_line.push(cx.stats().events);
        }
        assert_eq!(emitted_after_line, vec![0, 1, 2, 3, 4]);
        assert_eq!(order, vec![1, 2, 3, 4]);
    }

    #[test]
    fn standalone_records_still_join_following_records() {
        let e = one(
            "type=USER_START msg=audit(5.0:7): pid=1 uid=0 msg='op=PAM:session_open acct=\"bob\" res=success'\n\
             type=PROCTITLE msg=audit(5.0:7): proctitle=737368643A20626F62\n",
        );
        assert_eq!(e_type(&e), vec!["USER_START", "PROCTITLE"]);
        assert_eq!(s(&e, "event.category"), Some("session"));
        assert_eq!(s(&e, "process.title"), Some("sshd: bob"));
    }

    #[test]
    fn enriched_format_and_nodes() {
        let e = one(
            "node=web01 type=SYSCALL msg=audit(1710410652.870:9125): arch=c000003e syscall=90 success=yes exit=0 a0=7ffc a1=1ed ppid=1 pid=2 auid=1001 uid=0 gid=0 euid=0 comm=\"chmod\" exe=\"/usr/bin/chmod\" key=(null)\x1dARCH=x86_64 SYSCALL=chmod AUID=\"deploy\" UID=\"root\" GID=\"root\" EUID=\"root\"\n\
             node=web01 type=EOE msg=audit(1710410652.870:9125): \n",
        );
        assert_eq!(s(&e, "host.name"), Some("web01"));
        assert_eq!(s(&e, "node"), Some("web01"));
        assert_eq!(s(&e, "SYSCALL"), Some("chmod"));
        assert_eq!(s(&e, "syscall.ARCH"), Some("x86_64"));
        assert_eq!(s(&e, "user.name"), Some("root"));
        assert_eq!(s(&e, "user.audit.name"), Some("deploy"));
        assert_eq!(s(&e, "user.effective.name"), Some("root"));
        assert_eq!(s(&e, "user.group.name"), Some("root"));
        assert_eq!(s(&e, "event.category"), Some("file"));
        assert_eq!(s(&e, "event.type"), Some("change"));
        assert_eq!(s(&e, "key"), Some("(null)"));
        assert!(e.get_name("tags").is_none());
        // Same serial on two nodes: two events.
        let ev = events(
            "node=a type=SYSCALL msg=audit(1.0:1): syscall=59 arch=c000003e\n\
             node=b type=SYSCALL msg=audit(1.0:1): syscall=59 arch=c000003e\n\
             node=a type=EOE msg=audit(1.0:1):\n\
             node=b type=EOE msg=audit(1.0:1):\n",
        );
        assert_eq!(ev.len(), 2);
        assert_eq!(s(&ev[0], "host.name"), Some("a"));
        assert_eq!(s(&ev[1], "host.name"), Some("b"));
    }

    #[test]
    fn values_and_encodings() {
        let e = one(
            "type=EXECVE msg=audit(1.0:1): argc=3 a0=\"sh\" a1=\"-c\" a2_len=10 a2[0]=6563686F20 a2[1]=68656C6C6F\n",
        );
        assert_eq!(s(&e, "a2"), Some("echo hello"));
        assert_eq!(i(&e, "a2_len"), Some(10));
        assert_eq!(s(&e, "process.command_line"), Some("sh -c echo hello"));
        // Multiple keys are hex with \x01 separators.
        let e = one("type=SYSCALL msg=audit(1.0:2): syscall=2 key=6B31016B32\n");
        assert_eq!(e.get_name("key"), Some(&strs(&["k1", "k2"])));
        assert_eq!(e.get_name("tags"), Some(&strs(&["k1", "k2"])));
        // Hex-looking registers stay text; non-encoded fields are typed.
        let e = one("type=SYSCALL msg=audit(1.0:3): a0=10 exit=-2 items=0 comm=6C73 name=(null)\n");
        assert_eq!(s(&e, "a0"), Some("10"));
        assert_eq!(i(&e, "exit"), Some(-2));
        assert_eq!(s(&e, "comm"), Some("ls"));
        assert_eq!(s(&e, "name"), Some("(null)"));
        // Unquoted, odd-length or non-hex values of encoded fields are kept as written.
        let e = one("type=PATH msg=audit(1.0:4): name=abc nametype=NORMAL\n");
        assert_eq!(s(&e, "name"), Some("abc"));
        // msg='' without pairs is kept as text.
        let e = one("type=USER_ERR msg=audit(1.0:5): pid=1 msg='something odd'\n");
        assert_eq!(s(&e, "msg"), Some("something odd"));
        // Unterminated quotes take the rest of the line.
        let e = one("type=SYSCALL msg=audit(1.0:6): comm=\"abc def\n");
        assert_eq!(s(&e, "comm"), Some("abc def"));
    }

    #[test]
    fn split_execve_records_are_one_argument_list() {
        let e = one(
            "type=SYSCALL msg=audit(1.0:1): arch=c000003e syscall=59 a0=1 a1=2 a2=3 a3=4\n\
             type=EXECVE msg=audit(1.0:1): argc=5 a0=\"tar\" a1=\"czf\" a2=\"/tmp/x.tgz\"\n\
             type=EXECVE msg=audit(1.0:1): a3=\"/etc\" a4=\"/root\"\n\
             type=EOE msg=audit(1.0:1):\n",
        );
        assert_eq!(s(&e, "a0"), Some("tar"));
        assert_eq!(s(&e, "execve.a4"), Some("/root"));
        assert_eq!(s(&e, "a3"), Some("/etc"));
        assert_eq!(
            s(&e, "process.command_line"),
            Some("tar czf /tmp/x.tgz /etc /root")
        );
        assert_eq!(e_type(&e), vec!["SYSCALL", "EXECVE"]);
    }

    #[test]
    fn hostile_sizes_are_bounded() {
        // Thousands of distinct keys in one record, and many PATH records with distinct keys:
        // the event keeps bounded numbers of fields and lists are not padded beyond the limit.
        let mut line = String::from("type=SYSCALL msg=audit(1.0:1):");
        for n in 0..5000 {
            line.push_str(&format!(" k{n}={n}"));
        }
        let e = one(&line);
        assert!(e.fields.len() <= 2 * MAX_RECORD_FIELDS + 64);
        assert_eq!(i(&e, "k0"), Some(0));
        assert!(e.get_name("k4999").is_none());
        let mut input = String::new();
        for r in 0..200 {
            input.push_str(&format!("type=PATH msg=audit(1.0:2): item={r}"));
            for k in 0..400 {
                input.push_str(&format!(" p{r}_{k}=x"));
            }
            input.push('\n');
        }
        let e = one(&input);
        assert!(e.fields.len() <= 2 * MAX_EVENT_FIELDS + 64);
        // 200 records x 80001 keys exceeds the alignment limit: lists hold only the values.
        assert_eq!(
            e.get_name("path.p0_0"),
            Some(&Value::List(vec![Value::str("x")]))
        );
        assert_eq!(
            e.get_name("path.item")
                .map(|v| matches!(v, Value::List(l) if l.len() == 200)),
            Some(true)
        );
    }

    #[test]
    fn avc_and_sockaddr() {
        let ev = events(
            "type=AVC msg=audit(1.0:1): avc:  denied  { read write } for  pid=42 comm=\"httpd\" name=\"shadow\" scontext=system_u:system_r:httpd_t:s0 tclass=file permissive=0\n\
             type=SYSCALL msg=audit(1.0:1): arch=c000003e syscall=257 success=no exit=-13 pid=42 comm=\"httpd\" exe=\"/usr/sbin/httpd\"\n\
             type=EOE msg=audit(1.0:1):\n\
             type=SYSCALL msg=audit(2.0:2): arch=c000003e syscall=42 success=yes exit=0 pid=7 comm=\"sh\"\n\
             type=SOCKADDR msg=audit(2.0:2): saddr=02001118C6336463000000000000000000\n\
             type=EOE msg=audit(2.0:2):\n\
             type=SYSCALL msg=audit(3.0:3): arch=c00000b7 syscall=203 success=yes exit=0 pid=8\n\
             type=SOCKADDR msg=audit(3.0:3): saddr=0A0001BB0000000020010DB8000000000000000000000001000000000000\n\
             type=EOE msg=audit(3.0:3):\n",
        );
        assert_eq!(ev.len(), 3);
        assert_eq!(s(&ev[0], "event.action"), Some("avc"));
        assert_eq!(s(&ev[0], "seresult"), Some("denied"));
        assert_eq!(ev[0].get_name("seperms"), Some(&strs(&["read", "write"])));
        assert_eq!(s(&ev[0], "SYSCALL"), Some("openat"));
        assert_eq!(s(&ev[1], "event.category"), Some("network"));
        assert_eq!(s(&ev[1], "destination.ip"), Some("198.51.100.99"));
        assert_eq!(i(&ev[1], "destination.port"), Some(4376));
        assert_eq!(s(&ev[2], "SYSCALL"), Some("connect"));
        assert_eq!(s(&ev[2], "destination.ip"), Some("2001:db8::1"));
        assert_eq!(i(&ev[2], "destination.port"), Some(443));
        assert_eq!(sockaddr("0100"), None);
        assert_eq!(sockaddr("zz"), None);
    }

    #[test]
    fn numeric_types_and_prefixes() {
        let e = one(
            "Mar 14 10:04:00 web01 audisp-syslog: type=1112 msg=audit(1.0:1): pid=1 uid=0 msg='op=login acct=\"bob\" res=success'\n",
        );
        assert_eq!(e_type(&e), vec!["USER_LOGIN"]);
        assert_eq!(s(&e, "user_login.acct"), Some("bob"));
        let e = one("audit: type=UNKNOWN[1327] audit(1.0:2): proctitle=6C73\n");
        assert_eq!(e_type(&e), vec!["PROCTITLE"]);
        assert_eq!(s(&e, "process.title"), Some("ls"));
        let e = one("type=UNKNOWN[9999] msg=audit(1.0:3): x=1\n");
        assert_eq!(e_type(&e), vec!["UNKNOWN[9999]"]);
        assert_eq!(i(&e, "unknown[9999].x"), Some(1));
    }

    #[test]
    fn pending_events_are_bounded() {
        // 200 events without EOE: at most MAX_PENDING are held at any time, all come out in
        // order of their start, none lost.
        let mut input = String::new();
        for n in 0..200 {
            input.push_str(&format!(
                "type=SYSCALL msg=audit(1.0:{n}): syscall=1 pid={n}\n"
            ));
        }
        let origin = Origin::File(Arc::from("a"));
        let opts = ParseOptions::default();
        let mut seen = Vec::new();
        let mut max_pending = 0;
        {
            let mut sink = |item: Item| {
                if let Item::Event(e) = item {
                    seen.push(i(&e, "event.sequence").unwrap_or(-1));
                }
            };
            let mut cx = Cx::new(&opts, &origin, &mut sink);
            let mut p = AuditdParser::default();
            for (n, line) in input.lines().enumerate() {
                p.parse_line(line, n as u64 + 1, &mut cx).expect("valid");
                max_pending = max_pending.max(p.pending.len());
            }
            p.finish(&mut cx);
        }
        assert!(max_pending <= MAX_PENDING);
        assert_eq!(seen, (0..200).collect::<Vec<i64>>());
        // An EOE after its event was flushed does not produce anything.
        let ev = events("type=EOE msg=audit(1.0:1):\n");
        assert!(ev.is_empty());
    }

    #[test]
    fn malformed_records() {
        let bad = |s: &str| match run(s).into_iter().next() {
            Some(Item::Bad(b)) => b.error.code,
            other => panic!("expected bad record, got {other:?}"),
        };
        assert_eq!(bad("hello world"), ErrorCode::WrongFormat);
        assert_eq!(
            bad("type=SYSCALL msg=audit(abc:1): x=1"),
            ErrorCode::Timestamp
        );
        assert_eq!(bad("type=SYSCALL msg=audit(1.0:1 x=1"), ErrorCode::Syntax);
        assert_eq!(
            bad("type=SYSCALL msg=foo audit(1.0:1): x=1"),
            ErrorCode::Syntax
        );
        assert_eq!(bad("node=x"), ErrorCode::Syntax);
        assert_eq!(bad("type=SYSCALL no stamp"), ErrorCode::Syntax);
        assert!(sniff("type=EOE msg=audit(1.0:1):"));
        assert!(sniff("node=h type=EOE msg=audit(1.0:1):"));
        assert!(!sniff("mytype=x audit(1"));
        assert!(!sniff("type=x only"));
    }

    #[test]
    fn syscall_tables_are_sorted() {
        for arch in ["c000003e", "c00000b7"] {
            let mut last = None;
            for nr in 0..500u32 {
                if let Some(name) = syscall_name(Some(arch), Some(&nr.to_string())) {
                    assert_ne!(Some(name), last);
                    last = Some(name);
                }
            }
        }
        assert_eq!(syscall_name(Some("c000003e"), Some("59")), Some("execve"));
        assert_eq!(syscall_name(Some("c00000b7"), Some("221")), Some("execve"));
        assert_eq!(
            syscall_name(Some("c000003e"), Some("319")),
            Some("memfd_create")
        );
        assert_eq!(syscall_name(Some("40000003"), Some("11")), None);
        assert_eq!(syscall_name(None, Some("59")), None);
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|c| format!("{c:02X}")).collect()
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
            let _ = run(&s);
            let _ = run(&format!("type=SYSCALL msg=audit(1.0:1): {s}"));
            let _ = run(&format!("type=USER_AUTH msg=audit(1.0:1): msg='{s}'"));
            let _ = run(&format!("type=EXECVE msg=audit(1.0:1): {s}\ntype=EXECVE msg=audit(1.0:1): {s}"));
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..400)) {
            let origin = Origin::File(Arc::from("t"));
            parse_bytes(&b, Some(Format::Auditd), &origin, &ParseOptions::default(), &mut |_| {});
        }

        #[test]
        fn hex_round_trips(title in proptest::collection::vec(any::<u8>(), 1..64), arg in "[ -~é]{1,30}") {
            let input = format!(
                "type=EXECVE msg=audit(1.0:1): argc=1 a0={}\ntype=PROCTITLE msg=audit(1.0:1): proctitle={}\ntype=EOE msg=audit(1.0:1):\n",
                hex(arg.as_bytes()),
                hex(&title)
            );
            let e = one(&input);
            let expect_title = String::from_utf8_lossy(&title).trim_end_matches('\0').replace('\0', " ");
            prop_assert_eq!(s(&e, "proctitle"), Some(expect_title.as_str()));
            prop_assert_eq!(s(&e, "a0"), Some(arg.as_str()));
            prop_assert_eq!(s(&e, "process.command_line"), Some(arg.as_str()));
        }

        #[test]
        fn interleavings_keep_events_whole(
            sizes in proptest::collection::vec(1usize..5, 1..12),
            seed in any::<u64>(),
        ) {
            // Each event: SYSCALL + (size-1) PATH records + EOE; events are interleaved by a
            // pseudo-random merge that keeps each event's own order.
            let mut queues: Vec<Vec<String>> = sizes.iter().enumerate().map(|(n, &k)| {
                let mut q = vec![format!("type=SYSCALL msg=audit(1.0:{n}): syscall=2 pid={n}")];
                for item in 1..k {
                    q.push(format!("type=PATH msg=audit(1.0:{n}): item={item} name=\"/f{n}_{item}\""));
                }
                q.push(format!("type=EOE msg=audit(1.0:{n}):"));
                q.reverse();
                q
            }).collect();
            let mut state = seed | 1;
            let mut lines = Vec::new();
            while queues.iter().any(|q| !q.is_empty()) {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17;
                let live: Vec<usize> = (0..queues.len()).filter(|&i| !queues[i].is_empty()).collect();
                let pick = live[(state % live.len() as u64) as usize];
                if let Some(l) = queues[pick].pop() { lines.push(l); }
            }
            let ev = events(&lines.join("\n"));
            prop_assert_eq!(ev.len(), sizes.len());
            for e in &ev {
                let n = i(e, "event.sequence").unwrap_or(-1) as usize;
                let k = sizes[n];
                let expect: Vec<&str> = if k > 1 { vec!["SYSCALL", "PATH"] } else { vec!["SYSCALL"] };
                prop_assert_eq!(e_type(e), expect);
                prop_assert_eq!(i(e, "pid"), Some(n as i64));
            }
        }
    }
}
