//! Windows event normalisation shared by EVTX, Windows event XML and Windows event JSON.
//!
//! Every Windows event, whatever its encoding, has the same three parts: `System` (who logged
//! what, when), `EventData` (named `<Data Name="X">` values, or unnamed ones for classic
//! events) or `UserData` (one provider-defined element with child leaves), and optionally
//! `RenderingInfo` (localised text). The readers (`evtx.rs`, `winxml.rs`, [`normalise_json`])
//! walk their input and call a [`Normaliser`] for each value they find; the normaliser names the
//! fields the way Sigma rules and analysts expect, and adds ECS:
//!
//! * `System` values are flattened: `EventID` (integer, its `Qualifiers` kept as `Qualifiers`),
//!   `Provider_Name`, `Provider_Guid`, `Channel`, `Computer`, `Level`, `Task`, `Opcode`,
//!   `Keywords`, `Version`, `EventRecordID`, `ProcessID`/`ThreadID` (from `Execution`),
//!   `UserID` (from `Security`), `ActivityID`/`RelatedActivityID` (from `Correlation`) and
//!   `TimeCreated`; each is also reachable by its XML path (`System.EventID`,
//!   `System.Provider.Name`, `System.Execution.ProcessID`). `TimeCreated/@SystemTime` is the
//!   event time (always UTC).
//! * `<Data Name="X">` becomes field `X` with alias `EventData.X`; unnamed `<Data>` values become
//!   the list field `Data`; `UserData` leaves become fields named by their element
//!   (`SubjectUserName`) with an alias by dotted path (`UserData.LogFileCleared.SubjectUserName`).
//!   Values keep the source's text (XML has no types), so `EventData.ProcessId` is `"2604"`;
//!   the ECS copy (`process.pid`) is an integer.
//! * ECS: `winlog.*` from `System`, `event.code`, `event.provider`, `host.name`, `log.level`,
//!   `event.kind`, `event.module` (`windows`) and `event.dataset` (from the channel), then a
//!   data-driven table ([`MAPPINGS`]) keyed by (log source, event id) that sets
//!   `event.category`/`type`/`action`/`outcome` and copies event data into ECS fields
//!   (`Image` -> `process.executable` + `process.name`, `IpAddress` -> `source.ip`, ...). The
//!   table is documented in `docs/formats/windows.md`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use compact_str::CompactString;
use kasbah_event::{Event, FieldId, Timestamp, TzOffset, Value, ecs};

use crate::norm;

// ---------------------------------------------------------------------------------------------
// Name cache

/// A small, fast, non-cryptographic hasher for the name caches (the keys are field names the
/// cache is bounded for, so hash flooding can cost at most a bounded scan).
#[derive(Default, Clone, Copy)]
struct NameHasher(u64);

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = self.0;
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let v = <[u8; 8]>::try_from(w).map_or(0, u64::from_le_bytes);
            h = (h.rotate_left(5) ^ v).wrapping_mul(K);
        }
        for &b in words.remainder() {
            h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
        self.0 = h;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type NameMap<V> = HashMap<Box<str>, V, BuildHasherDefault<NameHasher>>;

/// Distinct names remembered per map; past this, names are interned on every use (slower, but
/// hostile input with millions of distinct names cannot grow the cache).
const CACHE_LIMIT: usize = 4096;

/// Longer names (real ones are under 64 bytes) are not made field names: interned names live as
/// long as the process, so hostile input must not choose how big they are. Such values go to the
/// unnamed `Data` list instead.
const MAX_NAME_LEN: usize = 256;

/// Interns `key`'s field ids once and remembers them.
fn cached<V: Copy>(map: &mut NameMap<V>, key: &str, make: impl FnOnce() -> Option<V>) -> Option<V> {
    if let Some(v) = map.get(key) {
        return Some(*v);
    }
    let v = make()?;
    if map.len() < CACHE_LIMIT {
        map.insert(key.into(), v);
    }
    Some(v)
}

// ---------------------------------------------------------------------------------------------
// System fields

/// How a `System` value is typed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// An integer when it reads as one (`EventID`, `Level`), text otherwise.
    Int,
    /// Text.
    Text,
    /// `TimeCreated/@SystemTime`: text, and the event time.
    Time,
}

/// One well-known `System` value: (element, attribute, field name, path alias, kind, ECS copies).
type SystemRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Kind,
    &'static [&'static str],
);

/// The well-known `System` values; [`system_index`] finds a row, and the `SYS_*` constants name
/// the rows the normaliser looks at.
#[rustfmt::skip]
const SYSTEM: &[SystemRow] = &[
    ("Provider", "Name", "Provider_Name", "System.Provider.Name", Kind::Text, &["winlog.provider_name", "event.provider"]),
    ("Provider", "Guid", "Provider_Guid", "System.Provider.Guid", Kind::Text, &["winlog.provider_guid"]),
    ("Provider", "EventSourceName", "Provider_EventSourceName", "System.Provider.EventSourceName", Kind::Text, &[]),
    ("EventID", "", "EventID", "System.EventID", Kind::Int, &["winlog.event_id"]),
    ("EventID", "Qualifiers", "Qualifiers", "System.EventID.Qualifiers", Kind::Int, &[]),
    ("Version", "", "Version", "System.Version", Kind::Int, &["winlog.version"]),
    ("Level", "", "Level", "System.Level", Kind::Int, &["winlog.level"]),
    ("Task", "", "Task", "System.Task", Kind::Int, &["winlog.task"]),
    ("Opcode", "", "Opcode", "System.Opcode", Kind::Int, &["winlog.opcode"]),
    ("Keywords", "", "Keywords", "System.Keywords", Kind::Text, &["winlog.keywords"]),
    ("TimeCreated", "SystemTime", "TimeCreated", "System.TimeCreated.SystemTime", Kind::Time, &[]),
    ("EventRecordID", "", "EventRecordID", "System.EventRecordID", Kind::Int, &["winlog.record_id"]),
    ("Correlation", "ActivityID", "ActivityID", "System.Correlation.ActivityID", Kind::Text, &["winlog.activity_id"]),
    ("Correlation", "RelatedActivityID", "RelatedActivityID", "System.Correlation.RelatedActivityID", Kind::Text, &["winlog.related_activity_id"]),
    ("Execution", "ProcessID", "ProcessID", "System.Execution.ProcessID", Kind::Int, &["winlog.process.pid"]),
    ("Execution", "ThreadID", "ThreadID", "System.Execution.ThreadID", Kind::Int, &["winlog.process.thread.id"]),
    ("Channel", "", "Channel", "System.Channel", Kind::Text, &["winlog.channel"]),
    ("Computer", "", "Computer", "System.Computer", Kind::Text, &["winlog.computer_name", "host.name"]),
    ("Security", "UserID", "UserID", "System.Security.UserID", Kind::Text, &["winlog.user.identifier"]),
];

const SYS_PROVIDER_NAME: usize = 0;
const SYS_EVENT_ID: usize = 3;
const SYS_LEVEL: usize = 6;
const SYS_KEYWORDS: usize = 9;
const SYS_TIME_CREATED: usize = 10;
const SYS_CHANNEL: usize = 16;

/// The [`SYSTEM`] row of an element/attribute pair (`attr` empty for the element's text). A
/// `match` rather than a table search: this runs for every `System` value (a unit test checks
/// that it agrees with the table).
fn system_index(elem: &str, attr: &str) -> Option<usize> {
    let text = attr.is_empty();
    Some(match elem {
        "Provider" => match attr {
            "Name" => 0,
            "Guid" => 1,
            "EventSourceName" => 2,
            _ => return None,
        },
        "EventID" if text => 3,
        "EventID" if attr == "Qualifiers" => 4,
        "Version" if text => 5,
        "Level" if text => 6,
        "Task" if text => 7,
        "Opcode" if text => 8,
        "Keywords" if text => 9,
        "TimeCreated" if attr == "SystemTime" => 10,
        "EventRecordID" if text => 11,
        "Correlation" => match attr {
            "ActivityID" => 12,
            "RelatedActivityID" => 13,
            _ => return None,
        },
        "Execution" => match attr {
            "ProcessID" => 14,
            "ThreadID" => 15,
            _ => return None,
        },
        "Channel" if text => 16,
        "Computer" if text => 17,
        "Security" if attr == "UserID" => 18,
        _ => return None,
    })
}

struct SysField {
    field: FieldId,
    alias: FieldId,
    kind: Kind,
    ecs: Vec<FieldId>,
}

/// Field ids interned once per process.
struct Ids {
    system: Vec<SysField>,
    data: FieldId,
    data_alias: FieldId,
    keywords_rendered: FieldId,
    mappings: Vec<Mapping>,
}

fn ids() -> &'static Ids {
    static IDS: OnceLock<Ids> = OnceLock::new();
    IDS.get_or_init(|| Ids {
        system: SYSTEM
            .iter()
            .map(|(_, _, field, alias, kind, ecs)| SysField {
                field: FieldId::intern(field),
                alias: FieldId::intern(alias),
                kind: *kind,
                ecs: ecs.iter().map(|n| FieldId::intern(n)).collect(),
            })
            .collect(),
        data: FieldId::intern("Data"),
        data_alias: FieldId::intern("EventData.Data"),
        keywords_rendered: FieldId::intern("RenderingInfo.Keywords"),
        mappings: MAPPINGS.iter().map(Mapping::resolve).collect(),
    })
}

// ---------------------------------------------------------------------------------------------
// The per-event ECS table

/// Which log an event comes from, by channel (or provider when the channel is missing).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum Log {
    /// `Security` (`Microsoft-Windows-Security-Auditing`).
    Security,
    /// `System`.
    System,
    /// `Microsoft-Windows-Sysmon/Operational`.
    Sysmon,
    /// `Microsoft-Windows-PowerShell/Operational`.
    PowerShell,
    /// `Microsoft-Windows-TaskScheduler/Operational`.
    TaskScheduler,
    /// `Microsoft-Windows-TerminalServices-LocalSessionManager/Operational`.
    RdpSessions,
}

impl Log {
    /// The log a channel name is (case-insensitive).
    fn from_channel(channel: &str) -> Option<Log> {
        [
            ("Security", Log::Security),
            ("System", Log::System),
            ("Microsoft-Windows-Sysmon/Operational", Log::Sysmon),
            ("Microsoft-Windows-PowerShell/Operational", Log::PowerShell),
            (
                "Microsoft-Windows-TaskScheduler/Operational",
                Log::TaskScheduler,
            ),
            (
                "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
                Log::RdpSessions,
            ),
        ]
        .into_iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(channel))
        .map(|(_, l)| l)
    }

    /// The log a provider writes to, for events without a channel.
    fn from_provider(provider: &str) -> Option<Log> {
        [
            ("Microsoft-Windows-Security-Auditing", Log::Security),
            ("Microsoft-Windows-Sysmon", Log::Sysmon),
            ("Microsoft-Windows-PowerShell", Log::PowerShell),
        ]
        .into_iter()
        .find(|(p, _)| p.eq_ignore_ascii_case(provider))
        .map(|(_, l)| l)
    }
}

/// How a source value is converted into its ECS field(s).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Conv {
    /// The text as is (skipped when empty or `-`).
    Text,
    /// A process id, decimal or `0x` hexadecimal (Security events write them in hex); `0`, which
    /// Windows writes when there is no process, is skipped.
    Pid,
    /// An IP address, when valid (`-` and garbage are skipped; `::ffff:a.b.c.d` becomes `a.b.c.d`).
    Ip,
    /// A port in 1..=65535.
    Port,
    /// Lower-cased text (`tcp`).
    Lower,
    /// An executable path: `dst` gets the path, `dst2` the file name.
    Exe,
    /// `DOMAIN\user`: `dst` gets the user, `dst2` the domain (when there is one).
    UserDomain,
    /// A file path: `file.path`, `file.name`, `file.directory`.
    FilePath,
    /// Sysmon's `SHA1=..,MD5=..,SHA256=..,IMPHASH=..`: `dst` is the prefix (`process`, `file`)
    /// of `<dst>.hash.<algo>` (lower-cased) and `<dst>.pe.imphash`.
    Hashes,
    /// Sysmon's `Initiated` (`true`: the host opened the connection): `network.direction`.
    Direction,
    /// A logon type number: its name (`10` -> `RemoteInteractive`).
    LogonType,
}

/// One source field of a mapping.
#[derive(Clone, Copy, Debug)]
struct FieldMap {
    src: &'static str,
    conv: Conv,
    dst: &'static str,
    dst2: &'static str,
}

const fn f(src: &'static str, conv: Conv, dst: &'static str) -> FieldMap {
    FieldMap {
        src,
        conv,
        dst,
        dst2: "",
    }
}

const fn f2(src: &'static str, conv: Conv, dst: &'static str, dst2: &'static str) -> FieldMap {
    FieldMap {
        src,
        conv,
        dst,
        dst2,
    }
}

/// How `event.outcome` is decided.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Outcome {
    /// Not by this mapping (the Security audit keywords may still say).
    Unknown,
    Success,
    Failure,
    /// From a status field: `0x0`/`0` is success, anything else failure.
    Status(&'static str),
}

/// The ECS meaning of one kind of event.
#[derive(Debug)]
pub(crate) struct EventMap {
    log: Log,
    ids: &'static [i64],
    category: &'static [&'static str],
    kind_type: &'static [&'static str],
    action: &'static str,
    outcome: Outcome,
    /// Constant ECS values (`network.protocol` = `dns`).
    consts: &'static [(&'static str, &'static str)],
    /// Field groups copied into ECS, in order (an ECS field set by an earlier entry is kept).
    fields: &'static [&'static [FieldMap]],
}

use Conv::*;

const SYSMON_PROCESS: &[FieldMap] = &[
    f2("Image", Exe, "process.executable", "process.name"),
    f("ProcessId", Pid, "process.pid"),
    f("ProcessGuid", Text, "process.entity_id"),
    f2("User", UserDomain, "user.name", "user.domain"),
    f("RuleName", Text, "rule.name"),
];

const SYSMON_PROCESS_CREATE: &[FieldMap] = &[
    f("CommandLine", Text, "process.command_line"),
    f("CurrentDirectory", Text, "process.working_directory"),
    f("OriginalFileName", Text, "process.pe.original_file_name"),
    f("Hashes", Hashes, "process"),
    f2(
        "ParentImage",
        Exe,
        "process.parent.executable",
        "process.parent.name",
    ),
    f("ParentCommandLine", Text, "process.parent.command_line"),
    f("ParentProcessId", Pid, "process.parent.pid"),
    f("ParentProcessGuid", Text, "process.parent.entity_id"),
];

const SYSMON_NETWORK: &[FieldMap] = &[
    f("Protocol", Lower, "network.transport"),
    f("Initiated", Direction, "network.direction"),
    f("SourceIp", Ip, "source.ip"),
    f("SourcePort", Port, "source.port"),
    f("SourceHostname", Text, "source.domain"),
    f("DestinationIp", Ip, "destination.ip"),
    f("DestinationPort", Port, "destination.port"),
    f("DestinationHostname", Text, "destination.domain"),
];

/// Sysmon 8 and 10 name the acting process `Source*` and the other one `Target*`.
const SYSMON_SOURCE_TARGET: &[FieldMap] = &[
    f2("SourceImage", Exe, "process.executable", "process.name"),
    f("SourceProcessId", Pid, "process.pid"),
    f("SourceProcessGuid", Text, "process.entity_id"),
    f("SourceProcessGUID", Text, "process.entity_id"),
    f2("SourceUser", UserDomain, "user.name", "user.domain"),
    f2(
        "TargetImage",
        Exe,
        "process.target.executable",
        "process.target.name",
    ),
    f("TargetProcessId", Pid, "process.target.pid"),
    f("TargetProcessGuid", Text, "process.target.entity_id"),
    f("TargetProcessGUID", Text, "process.target.entity_id"),
    f("RuleName", Text, "rule.name"),
];

const TARGET_FILE: &[FieldMap] = &[f("TargetFilename", FilePath, "file.path")];
const FILE_HASHES: &[FieldMap] = &[f("Hashes", Hashes, "file")];
const LOADED_IMAGE: &[FieldMap] = &[
    f("ImageLoaded", FilePath, "file.path"),
    f("Hashes", Hashes, "file"),
];
const REGISTRY: &[FieldMap] = &[
    f("TargetObject", Text, "registry.path"),
    f("Details", Text, "registry.data.strings"),
];
const DNS: &[FieldMap] = &[f("QueryName", Text, "dns.question.name")];

const SUBJECT: &[FieldMap] = &[
    f("SubjectUserName", Text, "user.name"),
    f("SubjectDomainName", Text, "user.domain"),
    f("SubjectUserSid", Text, "user.id"),
];
const TARGET_USER: &[FieldMap] = &[
    f("TargetUserName", Text, "user.name"),
    f("TargetDomainName", Text, "user.domain"),
    f("TargetUserSid", Text, "user.id"),
    f("TargetSid", Text, "user.id"),
];
const TARGET_ACCOUNT: &[FieldMap] = &[
    f("TargetUserName", Text, "user.target.name"),
    f("TargetDomainName", Text, "user.target.domain"),
    f("TargetSid", Text, "user.target.id"),
];
const TARGET_GROUP: &[FieldMap] = &[
    f("TargetUserName", Text, "group.name"),
    f("TargetDomainName", Text, "group.domain"),
    f("TargetSid", Text, "group.id"),
    f("MemberName", Text, "user.target.name"),
    f("MemberSid", Text, "user.target.id"),
];
const NET_SOURCE: &[FieldMap] = &[
    f("IpAddress", Ip, "source.ip"),
    f("IpPort", Port, "source.port"),
    f("WorkstationName", Text, "source.domain"),
    f("Workstation", Text, "source.domain"),
];
const LOGON: &[FieldMap] = &[
    f("LogonType", LogonType, "winlog.logon.type"),
    f2("ProcessName", Exe, "process.executable", "process.name"),
    f("ProcessId", Pid, "process.pid"),
];
const PROCESS_4688: &[FieldMap] = &[
    f2("NewProcessName", Exe, "process.executable", "process.name"),
    f("NewProcessId", Pid, "process.pid"),
    f("CommandLine", Text, "process.command_line"),
    f2(
        "ParentProcessName",
        Exe,
        "process.parent.executable",
        "process.parent.name",
    ),
    f("ProcessId", Pid, "process.parent.pid"),
];
const PROCESS_4689: &[FieldMap] = &[
    f2("ProcessName", Exe, "process.executable", "process.name"),
    f("ProcessId", Pid, "process.pid"),
];
const KERBEROS: &[FieldMap] = &[
    f("ServiceName", Text, "service.name"),
    f("IpAddress", Ip, "source.ip"),
    f("IpPort", Port, "source.port"),
];
const EXPLICIT_TARGET: &[FieldMap] = &[
    f("TargetUserName", Text, "user.target.name"),
    f("TargetDomainName", Text, "user.target.domain"),
    f("TargetServerName", Text, "destination.domain"),
];
const SERVICE: &[FieldMap] = &[f("ServiceName", Text, "service.name")];
const TASK_USER: &[FieldMap] = &[f2("UserContext", UserDomain, "user.name", "user.domain")];
const RDP_SESSION: &[FieldMap] = &[
    f2("User", UserDomain, "user.name", "user.domain"),
    f("Address", Ip, "source.ip"),
];
const SHARE: &[FieldMap] = &[
    f("IpAddress", Ip, "source.ip"),
    f("IpPort", Port, "source.port"),
];
const SCRIPT_BLOCK: &[FieldMap] = &[
    f("ScriptBlockText", Text, "powershell.file.script_block_text"),
    f("ScriptBlockId", Text, "powershell.file.script_block_id"),
    f("Path", FilePath, "file.path"),
];

/// One table row: (log, event ids, categories, types, action, outcome, field groups).
const fn map(
    log: Log,
    ids: &'static [i64],
    category: &'static [&'static str],
    kind_type: &'static [&'static str],
    action: &'static str,
    outcome: Outcome,
    fields: &'static [&'static [FieldMap]],
) -> EventMap {
    EventMap {
        log,
        ids,
        category,
        kind_type,
        action,
        outcome,
        consts: &[],
        fields,
    }
}

use Outcome::{Failure, Success, Unknown};

/// The per-event ECS table: for each (log, event ids), the categorisation and the source
/// fields copied into ECS. `docs/formats/windows.md` renders it for analysts.
#[rustfmt::skip]
pub(crate) const MAPPINGS: &[EventMap] = &[
    // Sysmon (Microsoft-Windows-Sysmon/Operational)
    map(Log::Sysmon, &[1], &["process"], &["start"], "process-created", Unknown, &[SYSMON_PROCESS, SYSMON_PROCESS_CREATE]),
    map(Log::Sysmon, &[2], &["file"], &["change"], "file-creation-time-changed", Unknown, &[SYSMON_PROCESS, TARGET_FILE]),
    map(Log::Sysmon, &[3], &["network"], &["connection", "start"], "network-connection-detected", Unknown, &[SYSMON_PROCESS, SYSMON_NETWORK]),
    map(Log::Sysmon, &[5], &["process"], &["end"], "process-terminated", Unknown, &[SYSMON_PROCESS]),
    map(Log::Sysmon, &[6], &["driver"], &["start"], "driver-loaded", Unknown, &[LOADED_IMAGE]),
    map(Log::Sysmon, &[7], &["library"], &["start"], "image-loaded", Unknown, &[SYSMON_PROCESS, LOADED_IMAGE]),
    map(Log::Sysmon, &[8], &["process"], &["change"], "remote-thread-created", Unknown, &[SYSMON_SOURCE_TARGET]),
    map(Log::Sysmon, &[10], &["process"], &["access"], "process-accessed", Unknown, &[SYSMON_SOURCE_TARGET]),
    map(Log::Sysmon, &[11], &["file"], &["creation"], "file-created", Unknown, &[SYSMON_PROCESS, TARGET_FILE]),
    map(Log::Sysmon, &[12], &["registry"], &["change"], "registry-key-created-or-deleted", Unknown, &[SYSMON_PROCESS, REGISTRY]),
    map(Log::Sysmon, &[13], &["registry"], &["change"], "registry-value-set", Unknown, &[SYSMON_PROCESS, REGISTRY]),
    map(Log::Sysmon, &[14], &["registry"], &["change"], "registry-key-renamed", Unknown, &[SYSMON_PROCESS, REGISTRY]),
    map(Log::Sysmon, &[15], &["file"], &["creation"], "file-stream-created", Unknown, &[SYSMON_PROCESS, TARGET_FILE, FILE_HASHES]),
    map(Log::Sysmon, &[17], &["file"], &["creation"], "pipe-created", Unknown, &[SYSMON_PROCESS]),
    map(Log::Sysmon, &[18], &["file"], &["access"], "pipe-connected", Unknown, &[SYSMON_PROCESS]),
    EventMap {
        consts: &[("network.protocol", "dns")],
        ..map(Log::Sysmon, &[22], &["network"], &["protocol", "info"], "dns-query", Unknown, &[SYSMON_PROCESS, DNS])
    },
    map(Log::Sysmon, &[23], &["file"], &["deletion"], "file-deleted", Unknown, &[SYSMON_PROCESS, TARGET_FILE, FILE_HASHES]),
    map(Log::Sysmon, &[25], &["process"], &["change"], "process-tampering", Unknown, &[SYSMON_PROCESS]),
    map(Log::Sysmon, &[26], &["file"], &["deletion"], "file-delete-detected", Unknown, &[SYSMON_PROCESS, TARGET_FILE, FILE_HASHES]),
    // Security: logons and authentication
    map(Log::Security, &[4624], &["authentication"], &["start"], "logged-in", Success, &[TARGET_USER, NET_SOURCE, LOGON]),
    map(Log::Security, &[4625], &["authentication"], &["start"], "logon-failed", Failure, &[TARGET_USER, NET_SOURCE, LOGON]),
    map(Log::Security, &[4634, 4647], &["authentication"], &["end"], "logged-out", Success, &[TARGET_USER, LOGON]),
    map(Log::Security, &[4648], &["authentication"], &["start"], "logged-in-explicit", Success, &[SUBJECT, EXPLICIT_TARGET, NET_SOURCE, LOGON]),
    map(Log::Security, &[4672], &["iam"], &["admin"], "logged-in-special", Success, &[SUBJECT]),
    map(Log::Security, &[4768], &["authentication"], &["start"], "kerberos-authentication-ticket-requested", Outcome::Status("Status"), &[TARGET_USER, KERBEROS]),
    map(Log::Security, &[4769], &["authentication"], &["start"], "kerberos-service-ticket-requested", Outcome::Status("Status"), &[TARGET_USER, KERBEROS]),
    map(Log::Security, &[4771], &["authentication"], &["start"], "kerberos-preauth-failed", Failure, &[TARGET_USER, KERBEROS]),
    map(Log::Security, &[4776], &["authentication"], &["start"], "credential-validated", Outcome::Status("Status"), &[TARGET_USER, NET_SOURCE]),
    // Security: processes
    map(Log::Security, &[4688], &["process"], &["start"], "created-process", Success, &[SUBJECT, PROCESS_4688]),
    map(Log::Security, &[4689], &["process"], &["end"], "exited-process", Success, &[SUBJECT, PROCESS_4689]),
    // Security: accounts and groups
    map(Log::Security, &[4720], &["iam"], &["user", "creation"], "added-user-account", Success, &[SUBJECT, TARGET_ACCOUNT]),
    map(Log::Security, &[4722], &["iam"], &["user", "change"], "enabled-user-account", Success, &[SUBJECT, TARGET_ACCOUNT]),
    map(Log::Security, &[4724], &["iam"], &["user", "change"], "reset-password", Success, &[SUBJECT, TARGET_ACCOUNT]),
    map(Log::Security, &[4726], &["iam"], &["user", "deletion"], "deleted-user-account", Success, &[SUBJECT, TARGET_ACCOUNT]),
    map(Log::Security, &[4738], &["iam"], &["user", "change"], "modified-user-account", Success, &[SUBJECT, TARGET_ACCOUNT]),
    map(Log::Security, &[4728, 4732, 4756], &["iam"], &["group", "change"], "added-member-to-group", Success, &[SUBJECT, TARGET_GROUP]),
    // Log clearing, services and scheduled tasks
    map(Log::Security, &[1102], &["iam"], &["admin", "change"], "audit-log-cleared", Success, &[SUBJECT]),
    map(Log::System, &[104], &["iam"], &["admin", "change"], "log-cleared", Success, &[SUBJECT]),
    map(Log::Security, &[4697], &["configuration"], &["creation"], "service-installed", Success, &[SUBJECT, SERVICE]),
    map(Log::System, &[7045], &["configuration"], &["creation"], "service-installed", Success, &[SERVICE]),
    map(Log::Security, &[4698], &["configuration"], &["creation"], "scheduled-task-created", Success, &[SUBJECT]),
    map(Log::TaskScheduler, &[106], &["configuration"], &["creation"], "scheduled-task-registered", Success, &[TASK_USER]),
    // Shares
    map(Log::Security, &[5140], &["file"], &["access"], "network-share-object-accessed", Unknown, &[SUBJECT, SHARE]),
    map(Log::Security, &[5145], &["file"], &["access"], "network-share-object-access-checked", Unknown, &[SUBJECT, SHARE]),
    // Remote Desktop sessions (TerminalServices-LocalSessionManager/Operational)
    map(Log::RdpSessions, &[21], &["authentication", "session"], &["start"], "rdp-session-logon", Success, &[RDP_SESSION]),
    map(Log::RdpSessions, &[23], &["session"], &["end"], "rdp-session-logoff", Success, &[RDP_SESSION]),
    map(Log::RdpSessions, &[24], &["session"], &["end"], "rdp-session-disconnected", Success, &[RDP_SESSION]),
    map(Log::RdpSessions, &[25], &["authentication", "session"], &["start"], "rdp-session-reconnected", Success, &[RDP_SESSION]),
    // PowerShell (Microsoft-Windows-PowerShell/Operational)
    map(Log::PowerShell, &[4104], &["process"], &["info"], "script-block-logged", Unknown, &[SCRIPT_BLOCK]),
];

/// A [`FieldMap`] with its names interned.
struct FieldIds {
    src: FieldId,
    conv: Conv,
    dst: FieldId,
    /// Second destination, or for [`Conv::Hashes`] the five hash fields (md5, sha1, sha256,
    /// sha512, imphash).
    more: Vec<FieldId>,
}

/// An [`EventMap`] with its names interned and values prebuilt.
struct Mapping {
    log: Log,
    ids: &'static [i64],
    category: Value,
    kind_type: Value,
    action: &'static str,
    outcome: Outcome,
    status: Option<FieldId>,
    consts: Vec<(FieldId, &'static str)>,
    fields: Vec<FieldIds>,
}

impl Mapping {
    fn resolve(m: &EventMap) -> Mapping {
        let list = |l: &[&str]| Value::List(l.iter().map(|s| Value::str(s)).collect());
        let fields = m
            .fields
            .iter()
            .flat_map(|g| g.iter())
            .map(|fm| {
                let more = match fm.conv {
                    Hashes => [
                        "hash.md5",
                        "hash.sha1",
                        "hash.sha256",
                        "hash.sha512",
                        "pe.imphash",
                    ]
                    .iter()
                    .map(|s| FieldId::intern(&format!("{}.{s}", fm.dst)))
                    .collect(),
                    _ if !fm.dst2.is_empty() => vec![FieldId::intern(fm.dst2)],
                    _ => Vec::new(),
                };
                FieldIds {
                    src: FieldId::intern(fm.src),
                    conv: fm.conv,
                    dst: FieldId::intern(fm.dst),
                    more,
                }
            })
            .collect();
        Mapping {
            log: m.log,
            ids: m.ids,
            category: list(m.category),
            kind_type: list(m.kind_type),
            action: m.action,
            outcome: m.outcome,
            status: match m.outcome {
                Outcome::Status(s) => Some(FieldId::intern(s)),
                _ => None,
            },
            consts: m
                .consts
                .iter()
                .map(|(k, v)| (FieldId::intern(k), *v))
                .collect(),
            fields,
        }
    }
}

/// Parses a decimal or `0x` hexadecimal integer.
fn parse_int(s: &str) -> Option<i64> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16)
            .ok()
            .and_then(|v| i64::try_from(v).ok()),
        None => s.parse().ok(),
    }
}

fn logon_type_name(s: &str) -> Option<&'static str> {
    Some(match s.trim() {
        "0" => "System",
        "2" => "Interactive",
        "3" => "Network",
        "4" => "Batch",
        "5" => "Service",
        "7" => "Unlock",
        "8" => "NetworkCleartext",
        "9" => "NewCredentials",
        "10" => "RemoteInteractive",
        "11" => "CachedInteractive",
        "12" => "CachedRemoteInteractive",
        "13" => "CachedUnlock",
        _ => return None,
    })
}

/// True for values that mean "nothing" in Windows events.
fn is_blank(s: &str) -> bool {
    s.is_empty() || s == "-"
}

// ---------------------------------------------------------------------------------------------
// Field writes

/// Which names the event being built has, so that new fields can be appended without scanning
/// the field map (see [`kasbah_event::Fields::push_new`]): one stamp per field id, equal to the
/// current generation when the name is present.
#[derive(Default)]
struct Seen {
    stamp: Vec<u32>,
    generation: u32,
}

impl Seen {
    /// Starts an event, noting the names it already has (JSON callers may have set some).
    fn begin(&mut self, e: &Event) {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.stamp.fill(0);
            self.generation = 1;
        }
        for (id, _) in e.fields.iter_ids() {
            self.mark(id);
        }
        for (alias, _) in e.fields.aliases() {
            self.mark(alias);
        }
    }

    fn has(&self, id: FieldId) -> bool {
        self.stamp.get(id.index()) == Some(&self.generation)
    }

    fn mark(&mut self, id: FieldId) {
        let i = id.index();
        if i >= self.stamp.len() {
            self.stamp.resize(i + 64, 0);
        }
        if let Some(s) = self.stamp.get_mut(i) {
            *s = self.generation;
        }
    }

    /// Sets `id`, replacing an earlier value.
    fn put(&mut self, e: &mut Event, id: FieldId, v: impl Into<Value>) {
        if self.has(id) {
            e.set(id, v);
        } else {
            self.mark(id);
            e.fields.push_new_aliased(id, v, None);
        }
    }

    /// Sets `id` unless it has a value; returns whether it did.
    fn put_default(&mut self, e: &mut Event, id: FieldId, v: impl Into<Value>) -> bool {
        if self.has(id) {
            return false;
        }
        self.mark(id);
        e.fields.push_new_aliased(id, v, None);
        true
    }

    /// Sets a new field `id` reachable also as `alias`; does nothing (returns false) if `id` has
    /// a value. The alias is skipped if that name is taken.
    fn put_aliased(&mut self, e: &mut Event, id: FieldId, alias: FieldId, v: Value) -> bool {
        if self.has(id) {
            return false;
        }
        self.mark(id);
        let alias = (alias != id && !self.has(alias)).then(|| {
            self.mark(alias);
            alias
        });
        e.fields.push_new_aliased(id, v, alias);
        true
    }

    /// Appends `v` to the list `id` (a value already there becomes the list's first item).
    fn push(&mut self, e: &mut Event, id: FieldId, v: Value) {
        if self.has(id) {
            norm::push_value(e, id, v);
        } else {
            self.put(e, id, v);
        }
    }
}

/// The canonical text of an IP address (brackets and `%zone` tolerated, IPv4-mapped IPv6 as
/// IPv4), or `None` if `s` is not one.
fn ip_text(s: &str) -> Option<String> {
    let t = s.trim().trim_start_matches('[').trim_end_matches(']');
    let t = t.split_once('%').map_or(t, |(a, _)| a);
    match t.parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V6(v6) => Some(match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        }),
        v4 => Some(v4.to_string()),
    }
}

/// Applies one field conversion; `text` is the source value.
fn convert(seen: &mut Seen, e: &mut Event, fm: &FieldIds, text: &str) {
    if is_blank(text) {
        return;
    }
    let dst = fm.dst;
    let second = fm.more.first().copied();
    match fm.conv {
        Text => {
            seen.put_default(e, dst, text);
        }
        Lower => {
            seen.put_default(e, dst, text.to_ascii_lowercase());
        }
        Pid => {
            if let Some(i) = parse_int(text).filter(|i| *i != 0 && !seen.has(dst)) {
                seen.put(e, dst, i);
            }
        }
        Ip => {
            if let Some(ip) = ip_text(text).filter(|_| !seen.has(dst)) {
                seen.put(e, dst, ip);
            }
        }
        Port => {
            if let Ok(p) = text.trim().parse::<u16>()
                && p != 0
            {
                seen.put_default(e, dst, p);
            }
        }
        Exe => {
            if seen.put_default(e, dst, text) {
                let name = norm::basename(text);
                if let (Some(id), false) = (second, name.is_empty()) {
                    seen.put_default(e, id, name);
                }
            }
        }
        UserDomain => match text.split_once('\\') {
            Some((domain, user)) => {
                if !user.is_empty()
                    && seen.put_default(e, dst, user)
                    && !domain.is_empty()
                    && let Some(id) = second
                {
                    seen.put_default(e, id, domain);
                }
            }
            None => {
                seen.put_default(e, dst, text);
            }
        },
        FilePath => {
            if seen.put_default(e, ecs::FILE_PATH, text) {
                let name = norm::basename(text);
                if !name.is_empty() {
                    seen.put_default(e, ecs::FILE_NAME, name);
                }
                let dir = text
                    .get(..text.len() - name.len())
                    .unwrap_or_default()
                    .trim_end_matches(['/', '\\']);
                if !dir.is_empty() {
                    seen.put_default(e, ecs::FILE_DIRECTORY, dir);
                }
            }
        }
        Hashes => {
            for part in text.split(',') {
                let Some((algo, hash)) = part.split_once('=') else {
                    continue;
                };
                let algo = algo.trim();
                let slot = ["MD5", "SHA1", "SHA256", "SHA512", "IMPHASH"]
                    .iter()
                    .position(|a| a.eq_ignore_ascii_case(algo));
                let hash = hash.trim();
                if let (Some(id), false) = (slot.and_then(|i| fm.more.get(i)), hash.is_empty()) {
                    seen.put_default(e, *id, hash.to_ascii_lowercase());
                }
            }
        }
        Direction => {
            let dir = if text.eq_ignore_ascii_case("true") {
                "egress"
            } else {
                "ingress"
            };
            seen.put_default(e, dst, dir);
        }
        LogonType => {
            if let Some(name) = logon_type_name(text) {
                seen.put_default(e, dst, name);
            }
        }
    }
}

/// The dataset name of a channel (`Security` -> `windows.security`).
fn dataset(channel: &str) -> CompactString {
    let known = [
        ("Security", "windows.security"),
        ("System", "windows.system"),
        ("Application", "windows.application"),
        ("Microsoft-Windows-Sysmon/Operational", "windows.sysmon"),
        ("Windows PowerShell", "windows.powershell"),
        (
            "Microsoft-Windows-PowerShell/Operational",
            "windows.powershell_operational",
        ),
        ("ForwardedEvents", "windows.forwarded"),
    ];
    if let Some((_, d)) = known.iter().find(|(c, _)| c.eq_ignore_ascii_case(channel)) {
        return CompactString::new(d);
    }
    // Any other channel: its name in lower case with runs of other characters as `_`
    // (`Microsoft-Windows-TaskScheduler/Operational` -> `windows.microsoft_windows_taskscheduler_operational`).
    let mut out = CompactString::new("windows.");
    let mut sep = false;
    for c in channel.chars() {
        if c.is_ascii_alphanumeric() {
            if sep && !out.ends_with('.') {
                out.push('_');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        } else {
            sep = true;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The normaliser

/// Turns the parts of one Windows event into fields; reused across events (it caches interned
/// names). Call [`Normaliser::begin`] before each event and [`Normaliser::finish`] after.
#[derive(Default)]
pub(crate) struct Normaliser {
    /// `EventData` name -> (field, `EventData.<name>` alias).
    data_names: NameMap<(FieldId, FieldId)>,
    /// Any other dotted path -> (leaf field, path alias).
    paths: NameMap<(FieldId, FieldId)>,
    /// Dotted names kept only under their path (RenderingInfo).
    plain: NameMap<FieldId>,
    /// The last channel seen and its dataset.
    last_dataset: Option<(CompactString, CompactString)>,
    /// The event being built.
    cur: Current,
    seen: Seen,
    scratch: String,
}

/// What `finish` needs to know about the event being built, noted as the values go by (so it
/// does not look them up again).
#[derive(Default)]
struct Current {
    time: Option<Timestamp>,
    event_id: Option<i64>,
    level: Option<i64>,
    keywords: Option<u64>,
    channel_log: Option<Log>,
    provider_log: Option<Log>,
    dataset: Option<CompactString>,
    /// Unnamed `<Data>` values, stored as one list when the event ends.
    unnamed: Vec<Value>,
}

/// Fields a Windows event usually has; reserved up front so the map is not regrown.
const TYPICAL_FIELDS: usize = 96;

impl Normaliser {
    /// A normaliser with empty caches.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Starts a new event.
    pub(crate) fn begin(&mut self, e: &mut Event) {
        let unnamed = std::mem::take(&mut self.cur.unnamed);
        self.cur = Current {
            unnamed,
            ..Current::default()
        };
        self.cur.unnamed.clear();
        if e.fields.is_empty() {
            e.fields = kasbah_event::Fields::with_capacity(TYPICAL_FIELDS);
        }
        self.seen.begin(e);
    }

    /// A `System` value: the text of element `elem` (`attr` empty) or its attribute `attr`.
    pub(crate) fn system(&mut self, e: &mut Event, elem: &str, attr: &str, value: Value) {
        if matches!(&value, Value::Null) || value.as_str().is_some_and(str::is_empty) {
            return;
        }
        let Some(i) = system_index(elem, attr) else {
            self.system_other(e, elem, attr, value);
            return;
        };
        let Some(sf) = ids().system.get(i) else {
            return;
        };
        let value = match (sf.kind, value) {
            (Kind::Int, Value::Str(s)) => match s.trim().parse::<i64>() {
                Ok(n) => Value::Int(n),
                Err(_) => Value::Str(s),
            },
            (_, v) => v,
        };
        if self.seen.has(sf.field) {
            // A repeated System element: the first one wins.
            return;
        }
        let text = value.as_str();
        match i {
            SYS_PROVIDER_NAME => self.cur.provider_log = text.and_then(Log::from_provider),
            SYS_EVENT_ID => self.cur.event_id = value.as_i64(),
            SYS_LEVEL => self.cur.level = value.as_i64(),
            SYS_KEYWORDS => self.cur.keywords = text.and_then(parse_keywords),
            // SystemTime is UTC by definition, with or without a `Z`.
            SYS_TIME_CREATED => {
                self.cur.time = text
                    .and_then(|t| crate::time::rfc3339(t, Some(TzOffset::UTC)))
                    .map(|(t, _)| t);
            }
            SYS_CHANNEL => {
                if let Some(ch) = text {
                    self.cur.channel_log = Log::from_channel(ch);
                    self.cur.dataset = Some(match &self.last_dataset {
                        Some((c, d)) if c == ch => d.clone(),
                        _ => {
                            let d = dataset(ch);
                            self.last_dataset = Some((CompactString::new(ch), d.clone()));
                            d
                        }
                    });
                }
            }
            _ => {}
        }
        // The original first, then its ECS copies.
        let code = (i == SYS_EVENT_ID).then(|| match &value {
            // event.code is the event id as text.
            Value::Str(s) => s.clone(),
            Value::Int(n) => compact_str::ToCompactString::to_compact_string(n),
            other => CompactString::new(other.to_string()),
        });
        let copy = (!sf.ecs.is_empty()).then(|| value.clone());
        self.seen.put_aliased(e, sf.field, sf.alias, value);
        if let (Some(copy), Some((last, others))) = (copy, sf.ecs.split_last()) {
            // One clone per copy: the last one takes the value itself.
            for id in others {
                self.seen.put(e, *id, copy.clone());
            }
            self.seen.put(e, *last, copy);
        }
        if let Some(code) = code {
            self.seen.put(e, ecs::EVENT_CODE, code);
        }
    }

    /// A `System` part outside the well-known ones: `Elem` or `Elem_Attr`, with alias
    /// `System.Elem[.Attr]`.
    fn system_other(&mut self, e: &mut Event, elem: &str, attr: &str, value: Value) {
        if elem.len() + attr.len() > MAX_NAME_LEN {
            self.cur.unnamed.push(value);
            return;
        }
        self.scratch.clear();
        self.scratch.push_str("System.");
        self.scratch.push_str(elem);
        if !attr.is_empty() {
            self.scratch.push('.');
            self.scratch.push_str(attr);
        }
        let ids = cached(&mut self.paths, &self.scratch, || {
            let name = if attr.is_empty() {
                elem.to_owned()
            } else {
                format!("{elem}_{attr}")
            };
            Some((
                FieldId::try_intern(&name)?,
                FieldId::try_intern(&self.scratch)?,
            ))
        });
        if let Some((field, alias)) = ids {
            self.seen.put_aliased(e, field, alias, value);
        }
    }

    /// A named `<Data Name="name">` value (or another `EventData` child such as `Binary`).
    pub(crate) fn data(&mut self, e: &mut Event, name: &str, value: Value) {
        if name.len() > MAX_NAME_LEN {
            self.cur.unnamed.push(value);
            return;
        }
        let ids = cached(&mut self.data_names, name, || {
            Some((
                FieldId::try_intern(name)?,
                FieldId::try_intern(&format!("EventData.{name}"))?,
            ))
        });
        let Some((field, alias)) = ids else {
            // The interner is full: keep the value by its path name.
            e.fields.set_name(&format!("EventData.{name}"), value);
            return;
        };
        if !self.seen.has(field) {
            self.seen.put_aliased(e, field, alias, value);
            return;
        }
        if self.seen.has(alias) {
            // The same name twice (or the name of a System field, whose path alias this
            // is not): keep both values in a list.
            if e.fields.aliases().any(|(a, t)| a == alias && t == field) {
                self.seen.push(e, field, value);
            } else {
                self.seen.push(e, alias, value);
            }
        } else {
            // The name is taken by a System field: keep the data under its path only.
            self.seen.put(e, alias, value);
        }
    }

    /// An unnamed `<Data>` value: appended to the list field `Data`.
    pub(crate) fn unnamed_data(&mut self, _e: &mut Event, value: Value) {
        self.cur.unnamed.push(value);
    }

    /// A `UserData` (or other section) leaf: `path` is its full dotted path
    /// (`UserData.LogFileCleared.SubjectUserName`), `leaf` its own name.
    pub(crate) fn user_data(&mut self, e: &mut Event, path: &str, leaf: &str, value: Value) {
        if path.len() > MAX_NAME_LEN {
            self.cur.unnamed.push(value);
            return;
        }
        let ids = cached(&mut self.paths, path, || {
            Some((FieldId::try_intern(leaf)?, FieldId::try_intern(path)?))
        });
        let Some((field, alias)) = ids else {
            e.fields.set_name(path, value);
            return;
        };
        if !self.seen.has(field) {
            self.seen.put_aliased(e, field, alias, value);
            return;
        }
        if e.fields.aliases().any(|(a, t)| a == alias && t == field) {
            // The same leaf again: a list.
            self.seen.push(e, field, value);
        } else {
            // The leaf name is taken (by System or EventData): keep it under its path only.
            self.seen.push(e, alias, value);
        }
    }

    /// A `RenderingInfo` value, by dotted path (`RenderingInfo.Level`). `Message` becomes ECS
    /// `message`; `Keywords.Keyword` values are collected in the list `RenderingInfo.Keywords`.
    pub(crate) fn rendering(&mut self, e: &mut Event, path: &str, leaf: &str, value: Value) {
        if leaf == "Message" {
            let alias = cached(&mut self.plain, "RenderingInfo.Message", || {
                FieldId::try_intern("RenderingInfo.Message")
            });
            match alias {
                Some(a) if !self.seen.has(ecs::MESSAGE) => {
                    self.seen.put_aliased(e, ecs::MESSAGE, a, value);
                }
                _ => self.seen.put(e, ecs::MESSAGE, value),
            }
            return;
        }
        if value.as_str().is_some_and(str::is_empty) {
            // Event Viewer writes empty `<Task></Task>`, `<Keywords/>`: nothing to keep.
            return;
        }
        if leaf == "Keyword" {
            let id = ids().keywords_rendered;
            if self.seen.has(id) {
                self.seen.push(e, id, value);
            } else {
                self.seen.put(e, id, Value::List(vec![value]));
            }
            return;
        }
        if path.len() > MAX_NAME_LEN {
            return;
        }
        match cached(&mut self.plain, path, || FieldId::try_intern(path)) {
            Some(id) => self.seen.push(e, id, value),
            None => e.fields.set_name(path, value),
        }
    }

    /// Ends the event: sets its time (`fallback` when it has no `TimeCreated`, e.g. the EVTX
    /// record header's) and the ECS fields.
    pub(crate) fn finish(&mut self, e: &mut Event, fallback: Option<Timestamp>) {
        let cur = &mut self.cur;
        let seen = &mut self.seen;
        if !cur.unnamed.is_empty() {
            let ids = ids();
            let list = Value::List(std::mem::take(&mut cur.unnamed));
            if !seen.has(ids.data) {
                seen.put_aliased(e, ids.data, ids.data_alias, list);
            } else if let Value::List(items) = list {
                for v in items {
                    seen.push(e, ids.data, v);
                }
            }
        }
        if let Some(t) = cur.time.or(fallback) {
            e.timestamp = t;
            e.tz = Some(TzOffset::UTC);
        }
        seen.put(e, ecs::EVENT_KIND, "event");
        seen.put(e, ecs::EVENT_MODULE, "windows");
        // Events without a channel (ETW traces saved to a file) are named by their provider.
        let ds = cur.dataset.take().or_else(|| {
            e.fields
                .get_str(ecs::WINLOG_PROVIDER_NAME)
                .filter(|p| !p.is_empty())
                .map(dataset)
        });
        if let Some(ds) = ds {
            seen.put(e, ecs::EVENT_DATASET, ds);
        }
        if let Some(level) = cur.level {
            let name = match level {
                1 => "critical",
                2 => "error",
                3 => "warning",
                5 => "verbose",
                _ => "information",
            };
            seen.put(e, ecs::LOG_LEVEL, name);
        }
        let log = cur.channel_log.or(cur.provider_log);
        let mut outcome_set = false;
        if let (Some(log), Some(id)) = (log, cur.event_id)
            && let Some(m) = ids()
                .mappings
                .iter()
                .find(|m| m.log == log && m.ids.contains(&id))
        {
            outcome_set = apply(seen, e, m);
        }
        if !outcome_set && log == Some(Log::Security) {
            // Security audit events say how they ended in their keywords.
            match cur.keywords {
                Some(k) if k & 0x0020_0000_0000_0000 != 0 => {
                    seen.put(e, ecs::EVENT_OUTCOME, "success");
                }
                Some(k) if k & 0x0010_0000_0000_0000 != 0 => {
                    seen.put(e, ecs::EVENT_OUTCOME, "failure");
                }
                _ => {}
            }
        }
    }
}

fn parse_keywords(s: &str) -> Option<u64> {
    let s = s.trim();
    let hex = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    u64::from_str_radix(hex, 16).ok()
}

/// Applies one mapping; returns whether it decided `event.outcome`.
fn apply(seen: &mut Seen, e: &mut Event, m: &Mapping) -> bool {
    seen.put(e, ecs::EVENT_CATEGORY, m.category.clone());
    seen.put(e, ecs::EVENT_TYPE, m.kind_type.clone());
    seen.put(e, ecs::EVENT_ACTION, m.action);
    for (id, v) in &m.consts {
        seen.put(e, *id, *v);
    }
    let mut text = CompactString::default();
    for fm in &m.fields {
        if !seen.has(fm.src) {
            continue;
        }
        let Some(v) = e.get(fm.src) else {
            continue;
        };
        text.clear();
        match v {
            Value::Str(s) => text.push_str(s),
            Value::Null | Value::List(_) => continue,
            other => {
                use std::fmt::Write;
                let _ = write!(text, "{other}");
            }
        }
        convert(seen, e, fm, &text);
    }
    let outcome = match m.outcome {
        Outcome::Unknown => None,
        Outcome::Success => Some(true),
        Outcome::Failure => Some(false),
        Outcome::Status(_) => m.status.and_then(|id| e.get(id)).and_then(|v| {
            let s = v.to_string();
            let s = s.trim();
            (!s.is_empty()).then(|| parse_int(s) == Some(0))
        }),
    };
    match outcome {
        Some(ok) => {
            seen.put(
                e,
                ecs::EVENT_OUTCOME,
                if ok { "success" } else { "failure" },
            );
            true
        }
        None => false,
    }
}

// ---------------------------------------------------------------------------------------------
// JSON

thread_local! {
    static JSON_NORMALISER: RefCell<Normaliser> = RefCell::new(Normaliser::new());
}

/// Fills `e` from a Windows event given as JSON, in either the shape the `evtx` crate renders
/// (`{"Event": {"System": {...}, "EventData": {...}}}`, attributes under `#attributes` or in
/// `<Name>_attributes` siblings) or Winlogbeat's (`winlog.event_id`, `winlog.event_data.*`,
/// nested or with dotted keys). Returns false (and leaves `e` untouched) if `doc` is not a
/// Windows event.
///
/// For Winlogbeat documents only `winlog.*`, `@timestamp` and `message` are read; the caller
/// keeps the document's other members (`host.*`, `agent.*`) by its generic flattening.
pub(crate) fn normalise_json(doc: &serde_json::Value, e: &mut Event) -> bool {
    JSON_NORMALISER.with(|n| match n.try_borrow_mut() {
        Ok(mut n) => normalise_json_with(&mut n, doc, e),
        Err(_) => normalise_json_with(&mut Normaliser::new(), doc, e),
    })
}

fn normalise_json_with(n: &mut Normaliser, doc: &serde_json::Value, e: &mut Event) -> bool {
    let Some(obj) = doc.as_object() else {
        return false;
    };
    // evtx shape, with or without the `Event` wrapper.
    let event = obj
        .get("Event")
        .and_then(serde_json::Value::as_object)
        .unwrap_or(obj);
    if let Some(system) = event.get("System").and_then(serde_json::Value::as_object)
        && (system.contains_key("EventID") || system.contains_key("Provider"))
    {
        evtx_json(n, event, system, e);
        return true;
    }
    if let Some(w) = winlog(obj) {
        winlogbeat_json(n, obj, &w, e);
        return true;
    }
    false
}

/// Text of a JSON scalar as a [`Value`] (objects: their `#text`).
fn json_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Object(o) => o.get("#text").map_or(Value::Null, json_value),
        other => Value::from_json(other),
    }
}

fn evtx_json(
    n: &mut Normaliser,
    event: &serde_json::Map<String, serde_json::Value>,
    system: &serde_json::Map<String, serde_json::Value>,
    e: &mut Event,
) {
    n.begin(e);
    for (k, v) in system {
        if let Some(elem) = k.strip_suffix("_attributes") {
            if let Some(attrs) = v.as_object() {
                for (a, av) in attrs {
                    n.system(e, elem, a, Value::from_json(av));
                }
            }
            continue;
        }
        match v {
            serde_json::Value::Object(o) => {
                if let Some(attrs) = o.get("#attributes").and_then(serde_json::Value::as_object) {
                    for (a, av) in attrs {
                        n.system(e, k, a, Value::from_json(av));
                    }
                }
                if let Some(t) = o.get("#text") {
                    n.system(e, k, "", Value::from_json(t));
                }
            }
            other => n.system(e, k, "", Value::from_json(other)),
        }
    }
    if let Some(data) = event.get("EventData") {
        match data {
            serde_json::Value::Object(o) => {
                for (k, v) in o {
                    if k == "#attributes" || k.ends_with("_attributes") {
                        continue;
                    }
                    if k == "Data" {
                        // Unnamed data: `{"Data": {"#text": [..]}}`, `{"Data": [..]}` or a scalar.
                        let inner = match v {
                            serde_json::Value::Object(d) => d.get("#text").unwrap_or(v),
                            _ => v,
                        };
                        match inner {
                            serde_json::Value::Array(items) => {
                                for it in items {
                                    n.unnamed_data(e, data_value(it));
                                }
                            }
                            other => n.unnamed_data(e, data_value(other)),
                        }
                        continue;
                    }
                    n.data(e, k, data_value(v));
                }
            }
            serde_json::Value::Array(items) => {
                for it in items {
                    n.unnamed_data(e, data_value(it));
                }
            }
            _ => {}
        }
    }
    let mut path = String::new();
    for (section, v) in event {
        match section.as_str() {
            "System" | "EventData" | "#attributes" => {}
            "RenderingInfo" => {
                path.clear();
                path.push_str("RenderingInfo");
                json_tree(n, e, &mut path, v, true);
            }
            s if s.ends_with("_attributes") => {}
            _ => {
                path.clear();
                path.push_str(section);
                json_tree(n, e, &mut path, v, false);
            }
        }
    }
    n.finish(e, None);
}

/// An `EventData` value: `null` (an empty `<Data/>`) reads as empty text, like the XML form.
fn data_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::str(""),
        other => json_value(other),
    }
}

/// Walks a `UserData`/`RenderingInfo`-like JSON tree, calling the normaliser for each leaf.
fn json_tree(
    n: &mut Normaliser,
    e: &mut Event,
    path: &mut String,
    v: &serde_json::Value,
    rendering: bool,
) {
    const MAX_DEPTH: usize = 32;
    fn walk(
        n: &mut Normaliser,
        e: &mut Event,
        path: &mut String,
        leaf: &str,
        v: &serde_json::Value,
        rendering: bool,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        match v {
            serde_json::Value::Object(o) => {
                for (k, child) in o {
                    let key = if k == "#attributes" {
                        // Attributes are leaves of their element (xmlns declarations skipped).
                        if let Some(attrs) = child.as_object() {
                            for (a, av) in attrs {
                                if a == "xmlns" || a.starts_with("xmlns:") {
                                    continue;
                                }
                                emit(n, e, path, a, av, rendering, depth);
                            }
                        }
                        continue;
                    } else if k == "#text" {
                        // The element's own text.
                        if !leaf.is_empty() {
                            leaf_value(n, e, path, leaf, child, rendering);
                        }
                        continue;
                    } else {
                        k.as_str()
                    };
                    emit(n, e, path, key, child, rendering, depth);
                }
            }
            serde_json::Value::Array(items) => {
                for it in items {
                    walk(n, e, path, leaf, it, rendering, depth + 1);
                }
            }
            other => {
                if !leaf.is_empty() {
                    leaf_value(n, e, path, leaf, other, rendering);
                }
            }
        }
    }
    fn emit(
        n: &mut Normaliser,
        e: &mut Event,
        path: &mut String,
        key: &str,
        v: &serde_json::Value,
        rendering: bool,
        depth: usize,
    ) {
        let len = path.len();
        path.push('.');
        path.push_str(key);
        walk(n, e, path, key, v, rendering, depth + 1);
        path.truncate(len);
    }
    fn leaf_value(
        n: &mut Normaliser,
        e: &mut Event,
        path: &str,
        leaf: &str,
        v: &serde_json::Value,
        rendering: bool,
    ) {
        let value = match v {
            serde_json::Value::Null => Value::str(""),
            other => Value::from_json(other),
        };
        if rendering {
            n.rendering(e, path, leaf, value);
        } else {
            n.user_data(e, path, leaf, value);
        }
    }
    walk(n, e, path, "", v, rendering, 0);
}

/// Winlogbeat's `winlog` object, nested or as dotted keys.
enum Winlog<'a> {
    Nested(&'a serde_json::Map<String, serde_json::Value>),
    Dotted,
}

fn winlog(obj: &serde_json::Map<String, serde_json::Value>) -> Option<Winlog<'_>> {
    if let Some(w) = obj.get("winlog").and_then(serde_json::Value::as_object)
        && (w.contains_key("event_id")
            || w.contains_key("channel")
            || w.contains_key("provider_name"))
    {
        return Some(Winlog::Nested(w));
    }
    (obj.contains_key("winlog.event_id") || obj.contains_key("winlog.channel"))
        .then_some(Winlog::Dotted)
}

/// Looks up `path` (dotted) under a Winlogbeat document.
fn wl<'a>(
    obj: &'a serde_json::Map<String, serde_json::Value>,
    w: &Winlog<'a>,
    path: &str,
) -> Option<&'a serde_json::Value> {
    match w {
        Winlog::Nested(m) => {
            let mut cur = *m;
            let mut parts = path.split('.').peekable();
            while let Some(p) = parts.next() {
                let v = cur.get(p)?;
                if parts.peek().is_none() {
                    return Some(v);
                }
                cur = v.as_object()?;
            }
            None
        }
        Winlog::Dotted => obj.get(&format!("winlog.{path}")),
    }
}

fn winlogbeat_json(
    n: &mut Normaliser,
    obj: &serde_json::Map<String, serde_json::Value>,
    w: &Winlog<'_>,
    e: &mut Event,
) {
    n.begin(e);
    const SYS: &[(&str, &str, &str)] = &[
        ("provider_name", "Provider", "Name"),
        ("provider_guid", "Provider", "Guid"),
        ("event_id", "EventID", ""),
        ("version", "Version", ""),
        ("task", "Task", ""),
        ("opcode", "Opcode", ""),
        ("record_id", "EventRecordID", ""),
        ("activity_id", "Correlation", "ActivityID"),
        ("related_activity_id", "Correlation", "RelatedActivityID"),
        ("process.pid", "Execution", "ProcessID"),
        ("process.thread.id", "Execution", "ThreadID"),
        ("channel", "Channel", ""),
        ("computer_name", "Computer", ""),
        ("user.identifier", "Security", "UserID"),
        ("time_created", "TimeCreated", "SystemTime"),
    ];
    for (path, elem, attr) in SYS {
        if let Some(v) = wl(obj, w, path) {
            // Winlogbeat writes event ids and record ids as strings; they are numbers.
            let value = match v {
                serde_json::Value::String(s) if *elem == "EventID" || *elem == "EventRecordID" => {
                    match s.trim().parse::<i64>() {
                        Ok(i) => Value::Int(i),
                        Err(_) => Value::str(s),
                    }
                }
                other => json_value(other),
            };
            n.system(e, elem, attr, value);
        }
    }
    if let Some(kw) = wl(obj, w, "keywords") {
        n.seen.put(e, ecs::WINLOG_KEYWORDS, Value::from_json(kw));
    }
    let mut extra = String::new();
    for (section, prefix) in [
        ("event_data", "winlog.event_data."),
        ("user_data", "winlog.user_data."),
    ] {
        let Some(data) = wl(obj, w, section) else {
            continue;
        };
        let Some(map) = data.as_object() else {
            continue;
        };
        for (k, v) in map {
            let value = data_value(v);
            if section == "event_data" {
                n.data(e, k, value);
                let id = n.data_names.get(k.as_str()).map(|(f, _)| *f);
                if let Some(field) = id {
                    // The document's own name for it.
                    extra.clear();
                    extra.push_str(prefix);
                    extra.push_str(k);
                    if let Some(alias) = FieldId::try_intern(&extra).filter(|a| !n.seen.has(*a)) {
                        e.fields.alias(alias, field);
                        n.seen.mark(alias);
                    }
                }
            } else {
                extra.clear();
                extra.push_str("UserData.");
                extra.push_str(k);
                n.user_data(e, &extra, k, value);
            }
        }
    }
    if let Some(Value::Str(m)) = obj.get("message").map(Value::from_json) {
        n.seen.put(e, ecs::MESSAGE, m);
    }
    let ts = obj
        .get("@timestamp")
        .and_then(serde_json::Value::as_str)
        .and_then(|s| crate::time::rfc3339(s, Some(TzOffset::UTC)))
        .map(|(t, _)| t);
    n.finish(e, ts);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use std::borrow::Cow;

    use kasbah_event::Source;
    use serde_json::json;

    use super::*;

    fn ev() -> Event {
        Event::new(
            Timestamp::from_nanos(0),
            Source::Input {
                name: Arc::from("t"),
            },
        )
    }

    fn s<'a>(e: &'a Event, name: &str) -> Option<Cow<'a, str>> {
        e.get_name(name).map(|v| match v {
            Value::Str(s) => Cow::Borrowed(s.as_str()),
            other => Cow::Owned(other.to_string()),
        })
    }

    fn sysmon1() -> Event {
        let mut n = Normaliser::new();
        let mut e = ev();
        n.begin(&mut e);
        n.system(
            &mut e,
            "Provider",
            "Name",
            Value::str("Microsoft-Windows-Sysmon"),
        );
        n.system(&mut e, "EventID", "", Value::str("1"));
        n.system(&mut e, "Level", "", Value::str("4"));
        n.system(&mut e, "Keywords", "", Value::str("0x8000000000000000"));
        n.system(
            &mut e,
            "TimeCreated",
            "SystemTime",
            Value::str("2021-11-18T07:40:29.5660335Z"),
        );
        n.system(
            &mut e,
            "Channel",
            "",
            Value::str("Microsoft-Windows-Sysmon/Operational"),
        );
        n.system(&mut e, "Computer", "", Value::str("PC-01.corp.local"));
        n.data(&mut e, "ProcessId", Value::str("2604"));
        n.data(
            &mut e,
            "Image",
            Value::str("C:\\Windows\\System32\\cmd.exe"),
        );
        n.data(&mut e, "CommandLine", Value::str("cmd.exe /c whoami"));
        n.data(&mut e, "User", Value::str("CORP\\alice"));
        n.data(
            &mut e,
            "Hashes",
            Value::str("SHA1=AA,MD5=BB,SHA256=CC,IMPHASH=DD"),
        );
        n.data(
            &mut e,
            "ParentImage",
            Value::str("C:\\Windows\\explorer.exe"),
        );
        n.data(&mut e, "ParentProcessId", Value::str("0x10"));
        n.finish(&mut e, None);
        e
    }

    #[test]
    fn system_fields_are_flat_typed_and_aliased() {
        let e = sysmon1();
        assert_eq!(e.get_name("EventID"), Some(&Value::Int(1)));
        assert_eq!(e.get_name("System.EventID"), Some(&Value::Int(1)));
        assert_eq!(e.get(ecs::WINLOG_EVENT_ID), Some(&Value::Int(1)));
        assert_eq!(s(&e, "event.code").as_deref(), Some("1"));
        assert_eq!(
            s(&e, "System.Provider.Name").as_deref(),
            Some("Microsoft-Windows-Sysmon")
        );
        assert_eq!(
            s(&e, "event.provider").as_deref(),
            Some("Microsoft-Windows-Sysmon")
        );
        assert_eq!(s(&e, "host.name").as_deref(), Some("PC-01.corp.local"));
        assert_eq!(s(&e, "Keywords").as_deref(), Some("0x8000000000000000"));
        assert_eq!(s(&e, "log.level").as_deref(), Some("information"));
        assert_eq!(s(&e, "event.dataset").as_deref(), Some("windows.sysmon"));
        assert_eq!(s(&e, "event.module").as_deref(), Some("windows"));
        assert_eq!(e.timestamp.to_rfc3339(), "2021-11-18T07:40:29.566033500Z");
        assert_eq!(e.tz, Some(TzOffset::UTC));
    }

    #[test]
    fn sysmon_process_creation_maps_to_ecs() {
        let e = sysmon1();
        assert_eq!(
            s(&e, "Image").as_deref(),
            Some("C:\\Windows\\System32\\cmd.exe")
        );
        assert_eq!(
            s(&e, "EventData.Image").as_deref(),
            Some("C:\\Windows\\System32\\cmd.exe")
        );
        assert_eq!(s(&e, "process.name").as_deref(), Some("cmd.exe"));
        assert_eq!(e.get(ecs::PROCESS_PID), Some(&Value::Int(2604)));
        assert_eq!(e.get(ecs::PROCESS_PARENT_PID), Some(&Value::Int(16)));
        assert_eq!(
            s(&e, "process.parent.name").as_deref(),
            Some("explorer.exe")
        );
        assert_eq!(s(&e, "user.name").as_deref(), Some("alice"));
        assert_eq!(s(&e, "user.domain").as_deref(), Some("CORP"));
        assert_eq!(s(&e, "process.hash.sha1").as_deref(), Some("aa"));
        assert_eq!(s(&e, "process.hash.md5").as_deref(), Some("bb"));
        assert_eq!(s(&e, "process.hash.sha256").as_deref(), Some("cc"));
        assert_eq!(s(&e, "process.pe.imphash").as_deref(), Some("dd"));
        assert_eq!(s(&e, "event.action").as_deref(), Some("process-created"));
        assert_eq!(
            e.get(ecs::EVENT_CATEGORY),
            Some(&Value::List(vec![Value::str("process")]))
        );
        // Original text kept as text.
        assert_eq!(e.get_name("ProcessId"), Some(&Value::str("2604")));
    }

    fn security(id: &str, data: &[(&str, &str)]) -> Event {
        let mut n = Normaliser::new();
        let mut e = ev();
        n.begin(&mut e);
        n.system(
            &mut e,
            "Provider",
            "Name",
            Value::str("Microsoft-Windows-Security-Auditing"),
        );
        n.system(&mut e, "EventID", "", Value::str(id));
        n.system(&mut e, "Keywords", "", Value::str("0x8020000000000000"));
        n.system(&mut e, "Channel", "", Value::str("Security"));
        for (k, v) in data {
            n.data(&mut e, k, Value::str(v));
        }
        n.finish(&mut e, None);
        e
    }

    #[test]
    fn logon_maps_user_source_and_outcome() {
        let e = security(
            "4624",
            &[
                ("TargetUserName", "bob"),
                ("TargetDomainName", "CORP"),
                ("LogonType", "10"),
                ("IpAddress", "::ffff:10.1.2.3"),
                ("IpPort", "51234"),
                ("ProcessId", "0x2e4"),
            ],
        );
        assert_eq!(s(&e, "user.name").as_deref(), Some("bob"));
        assert_eq!(s(&e, "user.domain").as_deref(), Some("CORP"));
        assert_eq!(s(&e, "source.ip").as_deref(), Some("10.1.2.3"));
        assert_eq!(e.get(ecs::SOURCE_PORT), Some(&Value::Int(51234)));
        assert_eq!(
            s(&e, "winlog.logon.type").as_deref(),
            Some("RemoteInteractive")
        );
        assert_eq!(e.get(ecs::PROCESS_PID), Some(&Value::Int(0x2e4)));
        assert_eq!(s(&e, "event.outcome").as_deref(), Some("success"));
        assert_eq!(s(&e, "event.dataset").as_deref(), Some("windows.security"));

        let e = security(
            "4625",
            &[
                ("TargetUserName", "bob"),
                ("IpAddress", "-"),
                ("IpPort", "-"),
            ],
        );
        assert_eq!(s(&e, "event.outcome").as_deref(), Some("failure"));
        assert!(e.get(ecs::SOURCE_IP).is_none());
        assert!(e.get(ecs::SOURCE_PORT).is_none());
    }

    #[test]
    fn status_and_keywords_decide_outcome() {
        let ok = security("4776", &[("Status", "0x0"), ("TargetUserName", "x")]);
        assert_eq!(s(&ok, "event.outcome").as_deref(), Some("success"));
        let bad = security("4776", &[("Status", "0xc000006a"), ("TargetUserName", "x")]);
        assert_eq!(s(&bad, "event.outcome").as_deref(), Some("failure"));
        // No mapping for 4799: the Audit Success keyword decides.
        let other = security("4799", &[]);
        assert_eq!(s(&other, "event.outcome").as_deref(), Some("success"));
        assert!(other.get(ecs::EVENT_ACTION).is_none());
    }

    #[test]
    fn process_4688_reads_hex_pids() {
        let e = security(
            "4688",
            &[
                ("NewProcessName", "C:\\Windows\\System32\\whoami.exe"),
                ("NewProcessId", "0x1a2c"),
                ("ProcessId", "0x4"),
                ("CommandLine", "whoami /all"),
                ("ParentProcessName", "C:\\Windows\\System32\\cmd.exe"),
                ("SubjectUserName", "alice"),
            ],
        );
        assert_eq!(e.get(ecs::PROCESS_PID), Some(&Value::Int(0x1a2c)));
        assert_eq!(e.get(ecs::PROCESS_PARENT_PID), Some(&Value::Int(4)));
        assert_eq!(s(&e, "process.name").as_deref(), Some("whoami.exe"));
        assert_eq!(s(&e, "process.parent.name").as_deref(), Some("cmd.exe"));
        assert_eq!(s(&e, "user.name").as_deref(), Some("alice"));
    }

    #[test]
    fn data_names_colliding_with_system_stay_under_their_path() {
        let mut n = Normaliser::new();
        let mut e = ev();
        n.begin(&mut e);
        n.system(&mut e, "Channel", "", Value::str("Security"));
        n.data(&mut e, "Channel", Value::str("other"));
        n.data(&mut e, "Twice", Value::str("a"));
        n.data(&mut e, "Twice", Value::str("b"));
        assert_eq!(s(&e, "Channel").as_deref(), Some("Security"));
        assert_eq!(s(&e, "EventData.Channel").as_deref(), Some("other"));
        assert_eq!(
            e.get_name("EventData.Twice"),
            Some(&Value::List(vec![Value::str("a"), Value::str("b")]))
        );
    }

    #[test]
    fn unnamed_data_and_user_data() {
        let mut n = Normaliser::new();
        let mut e = ev();
        n.begin(&mut e);
        n.unnamed_data(&mut e, Value::str("a"));
        n.unnamed_data(&mut e, Value::str("b"));
        n.user_data(
            &mut e,
            "UserData.LogFileCleared.SubjectUserName",
            "SubjectUserName",
            Value::str("admin"),
        );
        n.user_data(&mut e, "UserData.X.Item", "Item", Value::str("1"));
        n.user_data(&mut e, "UserData.X.Item", "Item", Value::str("2"));
        n.finish(&mut e, None);
        assert_eq!(
            e.get_name("EventData.Data"),
            Some(&Value::List(vec![Value::str("a"), Value::str("b")]))
        );
        assert_eq!(
            s(&e, "UserData.LogFileCleared.SubjectUserName").as_deref(),
            Some("admin")
        );
        assert_eq!(s(&e, "SubjectUserName").as_deref(), Some("admin"));
        assert_eq!(
            e.get_name("Item"),
            Some(&Value::List(vec![Value::str("1"), Value::str("2")]))
        );
    }

    #[test]
    fn over_long_names_are_not_interned() {
        let mut n = Normaliser::new();
        let mut e = ev();
        n.begin(&mut e);
        let long = "N".repeat(MAX_NAME_LEN + 1);
        n.data(&mut e, &long, Value::str("v1"));
        n.user_data(&mut e, &format!("UserData.{long}"), &long, Value::str("v2"));
        n.system(&mut e, &long, "", Value::str("v3"));
        n.finish(&mut e, None);
        assert!(FieldId::lookup(&long).is_none());
        assert_eq!(
            e.get_name("Data"),
            Some(&Value::List(vec![
                Value::str("v1"),
                Value::str("v2"),
                Value::str("v3")
            ]))
        );
    }

    #[test]
    fn datasets_from_channels() {
        assert_eq!(dataset("security"), "windows.security");
        assert_eq!(
            dataset("Microsoft-Windows-TaskScheduler/Operational"),
            "windows.microsoft_windows_taskscheduler_operational"
        );
        assert_eq!(dataset("Windows PowerShell"), "windows.powershell");
        assert_eq!(dataset("!!"), "windows.");
    }

    #[test]
    fn conversions_reject_garbage() {
        assert_eq!(parse_int("0x10"), Some(16));
        assert_eq!(parse_int("12"), Some(12));
        assert_eq!(parse_int("0xZZ"), None);
        assert_eq!(parse_int("0xFFFFFFFFFFFFFFFF"), None);
        assert_eq!(logon_type_name("3"), Some("Network"));
        assert_eq!(logon_type_name("99"), None);
        let e = security("4624", &[("IpAddress", "999.1.1.1"), ("IpPort", "70000")]);
        assert!(e.get(ecs::SOURCE_IP).is_none());
        assert!(e.get(ecs::SOURCE_PORT).is_none());
    }

    #[test]
    fn evtx_json_shape() {
        let doc = json!({"Event": {
            "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
            "System": {
                "Provider": {"#attributes": {"Name": "Service Control Manager", "Guid": "{555908d1-a6d7-4695-8e1e-26931d2012f4}", "EventSourceName": "Service Control Manager"}},
                "EventID": {"#attributes": {"Qualifiers": 16384}, "#text": 7045},
                "Level": 4,
                "TimeCreated": {"#attributes": {"SystemTime": "2019-03-19T23:34:25.123456Z"}},
                "EventRecordID": 1,
                "Correlation": null,
                "Execution": {"#attributes": {"ProcessID": 640, "ThreadID": 1464}},
                "Channel": "System",
                "Computer": "WIN-1",
                "Security": {"#attributes": {"UserID": "S-1-5-18"}}
            },
            "EventData": {"ServiceName": "evil", "ImagePath": "C:\\evil.exe", "StartType": null}
        }});
        let mut e = ev();
        assert!(normalise_json(&doc, &mut e));
        assert_eq!(e.get_name("EventID"), Some(&Value::Int(7045)));
        assert_eq!(e.get_name("Qualifiers"), Some(&Value::Int(16384)));
        assert_eq!(e.get_name("ProcessID"), Some(&Value::Int(640)));
        assert_eq!(s(&e, "UserID").as_deref(), Some("S-1-5-18"));
        assert_eq!(s(&e, "service.name").as_deref(), Some("evil"));
        assert_eq!(s(&e, "event.action").as_deref(), Some("service-installed"));
        assert_eq!(s(&e, "StartType").as_deref(), Some(""));
        assert_eq!(
            s(&e, "Provider_EventSourceName").as_deref(),
            Some("Service Control Manager")
        );
        assert_eq!(e.timestamp.to_rfc3339(), "2019-03-19T23:34:25.123456Z");

        // Separated attributes, unnamed data and UserData.
        let doc = json!({"Event": {
            "System": {
                "Provider_attributes": {"Name": "Microsoft-Windows-Eventlog"},
                "EventID": 1102,
                "Channel": "Security"
            },
            "UserData": {"LogFileCleared": {
                "#attributes": {"xmlns": "http://manifests.microsoft.com/win/2004/08/windows/eventlog"},
                "SubjectUserName": "admin", "SubjectDomainName": "CORP"}}
        }});
        let mut e = ev();
        assert!(normalise_json(&doc, &mut e));
        assert_eq!(
            s(&e, "Provider_Name").as_deref(),
            Some("Microsoft-Windows-Eventlog")
        );
        assert_eq!(
            s(&e, "UserData.LogFileCleared.SubjectUserName").as_deref(),
            Some("admin")
        );
        assert_eq!(s(&e, "user.name").as_deref(), Some("admin"));
        assert_eq!(s(&e, "event.action").as_deref(), Some("audit-log-cleared"));
        assert!(e.get_name("UserData.LogFileCleared.xmlns").is_none());

        let doc = json!({"Event": {"System": {"EventID": 600, "Channel": "Windows PowerShell"},
            "EventData": {"Data": {"#text": ["Registry", "Started"]}}}});
        let mut e = ev();
        assert!(normalise_json(&doc, &mut e));
        assert_eq!(
            e.get_name("Data"),
            Some(&Value::List(vec![
                Value::str("Registry"),
                Value::str("Started")
            ]))
        );
    }

    #[test]
    fn winlogbeat_shape() {
        let doc = json!({
            "@timestamp": "2024-03-01T10:00:00.000Z",
            "message": "An account was successfully logged on.",
            "winlog": {
                "event_id": "4624",
                "channel": "Security",
                "provider_name": "Microsoft-Windows-Security-Auditing",
                "computer_name": "DC01.corp.local",
                "record_id": 12345,
                "process": {"pid": 640, "thread": {"id": 700}},
                "event_data": {"TargetUserName": "bob", "IpAddress": "10.0.0.9", "LogonType": "3"},
                "keywords": ["Audit Success"]
            }
        });
        let mut e = ev();
        assert!(normalise_json(&doc, &mut e));
        assert_eq!(e.get_name("EventID"), Some(&Value::Int(4624)));
        assert_eq!(e.get_name("EventRecordID"), Some(&Value::Int(12345)));
        assert_eq!(e.get_name("ThreadID"), Some(&Value::Int(700)));
        assert_eq!(
            s(&e, "winlog.event_data.TargetUserName").as_deref(),
            Some("bob")
        );
        assert_eq!(s(&e, "EventData.TargetUserName").as_deref(), Some("bob"));
        assert_eq!(s(&e, "source.ip").as_deref(), Some("10.0.0.9"));
        assert_eq!(s(&e, "host.name").as_deref(), Some("DC01.corp.local"));
        assert_eq!(
            s(&e, "message").as_deref(),
            Some("An account was successfully logged on.")
        );
        assert_eq!(e.timestamp.to_rfc3339(), "2024-03-01T10:00:00Z");

        let dotted = json!({"winlog.event_id": 4688, "winlog.channel": "Security",
            "winlog.event_data": {"NewProcessName": "C:\\x\\a.exe"}});
        let mut e = ev();
        assert!(normalise_json(&dotted, &mut e));
        assert_eq!(s(&e, "process.name").as_deref(), Some("a.exe"));
    }

    #[test]
    fn non_windows_json_is_left_alone() {
        for doc in [
            json!({"message": "hello"}),
            json!([1, 2]),
            json!({"Event": {"System": "x"}}),
            json!({"winlog": {"api": "wineventlog"}}),
            json!(null),
        ] {
            let mut e = ev();
            assert!(!normalise_json(&doc, &mut e), "{doc}");
            assert!(e.fields.is_empty());
        }
    }

    /// The Sigma regression data holds, for many rules, an EVTX file and the same events as
    /// JSON (the `evtx` crate's shape): both readers must give the same fields. Read in place
    /// from `$KASBAH_SHARED/sigma/regression_data`; skipped when absent.
    #[test]
    fn evtx_and_json_of_the_same_events_agree() {
        let root = std::env::var_os("KASBAH_SHARED")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
            })
            .join("sigma/regression_data");
        if !root.is_dir() {
            eprintln!("skipping: no Sigma regression data at {}", root.display());
            return;
        }
        fn walk(d: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "evtx") {
                    out.push(p);
                }
            }
        }
        let mut files = Vec::new();
        walk(&root, &mut files);
        files.sort();
        // The JSON was rendered by another tool: GUIDs print as `UPPER` instead of `{lower}`,
        // trailing blanks are trimmed and SystemTime has fewer digits.
        let canon = |v: &Value| {
            v.to_string()
                .trim()
                .trim_matches(|c| c == '{' || c == '}')
                .to_ascii_lowercase()
        };
        let (mut pairs, mut compared) = (0, 0);
        for evtx_path in &files {
            let Ok(json) = std::fs::read_to_string(evtx_path.with_extension("json")) else {
                continue;
            };
            let bytes = std::fs::read(evtx_path).expect("read evtx");
            let opts = crate::driver::ParseOptions::default();
            let origin = crate::driver::Origin::File(Arc::from("r.evtx"));
            let mut from_evtx = Vec::new();
            let mut sink = |i: crate::driver::Item| {
                if let crate::driver::Item::Event(e) = i {
                    from_evtx.push(*e);
                }
            };
            let mut cx = crate::driver::Cx::new(&opts, &origin, &mut sink);
            crate::evtx::parse(&bytes, &mut cx);
            for doc in serde_json::Deserializer::from_str(&json).into_iter::<serde_json::Value>() {
                let doc = doc.expect("regression JSON parses");
                let mut j = ev();
                assert!(normalise_json(&doc, &mut j), "{}", evtx_path.display());
                let rid = j.get_name("EventRecordID").cloned();
                let Some(x) = from_evtx
                    .iter()
                    .find(|x| x.get_name("EventRecordID").cloned() == rid)
                else {
                    panic!("{}: record {rid:?} only in the JSON", evtx_path.display());
                };
                pairs += 1;
                for name in [
                    "EventID",
                    "Channel",
                    "Provider_Name",
                    "Computer",
                    "event.action",
                    "event.category",
                ] {
                    assert_eq!(
                        x.get_name(name),
                        j.get_name(name),
                        "{} {name}",
                        evtx_path.display()
                    );
                }
                assert_eq!(x.timestamp.as_nanos() / 1000, j.timestamp.as_nanos() / 1000);
                // Every EventData/UserData value of the EVTX event is in the JSON one.
                for (alias, target) in x.fields.aliases() {
                    let a = alias.name();
                    if !(a.starts_with("EventData.") || a.starts_with("UserData.")) {
                        continue;
                    }
                    let (Some(xv), jv) = (x.get(target), j.get_name(a)) else {
                        continue;
                    };
                    let jv = jv.unwrap_or_else(|| {
                        panic!("{}: {a} missing from the JSON event", evtx_path.display())
                    });
                    assert_eq!(canon(xv), canon(jv), "{} {a}", evtx_path.display());
                    compared += 1;
                }
            }
        }
        eprintln!("{pairs} events compared ({compared} event data values)");
        assert!(pairs > 0 || files.is_empty());
    }

    /// The ECS table as Markdown, as `docs/formats/windows.md` shows it.
    fn mappings_markdown() -> String {
        let log = |l: Log| match l {
            Log::Security => "Security",
            Log::System => "System",
            Log::Sysmon => "Sysmon",
            Log::PowerShell => "PowerShell/Operational",
            Log::TaskScheduler => "TaskScheduler/Operational",
            Log::RdpSessions => "TerminalServices-LocalSessionManager/Operational",
        };
        let field = |fm: &FieldMap| {
            let to = match fm.conv {
                Conv::Text => format!("`{}`", fm.dst),
                Conv::Pid => format!("`{}` (pid, hex or decimal)", fm.dst),
                Conv::Ip => format!("`{}` (valid IP)", fm.dst),
                Conv::Port => format!("`{}` (1-65535)", fm.dst),
                Conv::Lower => format!("`{}` (lower case)", fm.dst),
                Conv::Exe => format!("`{}` + `{}` (file name)", fm.dst, fm.dst2),
                Conv::UserDomain => format!("`{}` + `{}` (`DOMAIN\\user`)", fm.dst, fm.dst2),
                Conv::FilePath => "`file.path`, `file.name`, `file.directory`".to_owned(),
                Conv::Hashes => format!("`{0}.hash.*`, `{0}.pe.imphash`", fm.dst),
                Conv::Direction => format!("`{}` (`true`: egress)", fm.dst),
                Conv::LogonType => format!("`{}` (type name)", fm.dst),
            };
            format!("`{}` → {to}", fm.src)
        };
        let mut out = String::from(
            "| Log | Event ID | event.category | event.type | event.action | event.outcome | Event data → ECS |\n|---|---|---|---|---|---|---|\n",
        );
        for m in MAPPINGS {
            let ids: Vec<String> = m.ids.iter().map(ToString::to_string).collect();
            let outcome = match m.outcome {
                Outcome::Unknown => "".to_owned(),
                Outcome::Success => "success".to_owned(),
                Outcome::Failure => "failure".to_owned(),
                Outcome::Status(f) => format!("`{f}` `0x0`: success, else failure"),
            };
            let mut fields: Vec<String> =
                m.fields.iter().flat_map(|g| g.iter()).map(field).collect();
            fields.extend(m.consts.iter().map(|(k, v)| format!("`{k}` = `{v}`")));
            out.push_str(&format!(
                "| {} | {} | {} | {} | `{}` | {} | {} |\n",
                log(m.log),
                ids.join(", "),
                m.category.join(", "),
                m.kind_type.join(", "),
                m.action,
                outcome,
                fields.join("; ")
            ));
        }
        out
    }

    /// `docs/formats/windows.md` shows the table the code uses (regenerate with `KASBAH_BLESS=1`).
    #[test]
    fn docs_show_the_current_table() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/formats/windows.md");
        let doc = std::fs::read_to_string(&path).expect("docs/formats/windows.md exists");
        let (start, end) = ("<!-- mappings:start -->\n", "<!-- mappings:end -->");
        let (Some(a), Some(b)) = (doc.find(start), doc.find(end)) else {
            panic!("{} lacks the mapping table markers", path.display());
        };
        let table = mappings_markdown();
        let current = doc.get(a + start.len()..b).unwrap_or_default();
        if std::env::var_os("KASBAH_BLESS").is_some() {
            let updated = format!("{}{table}{}", &doc[..a + start.len()], &doc[b..]);
            std::fs::write(&path, updated).expect("write docs");
            return;
        }
        assert_eq!(
            current, table,
            "docs/formats/windows.md is stale: run with KASBAH_BLESS=1"
        );
    }

    #[test]
    fn system_rows_are_found_by_their_names() {
        for (i, row) in SYSTEM.iter().enumerate() {
            assert_eq!(system_index(row.0, row.1), Some(i), "{row:?}");
        }
        assert_eq!(system_index("EventID", "Bogus"), None);
        assert_eq!(system_index("Channel", "x"), None);
        assert_eq!(system_index("Execution", ""), None);
        assert_eq!(system_index("Nope", ""), None);
        assert_eq!(SYSTEM[SYS_CHANNEL].2, "Channel");
        assert_eq!(SYSTEM[SYS_TIME_CREATED].2, "TimeCreated");
        assert_eq!(SYSTEM[SYS_KEYWORDS].2, "Keywords");
        assert_eq!(SYSTEM[SYS_LEVEL].2, "Level");
        assert_eq!(SYSTEM[SYS_EVENT_ID].2, "EventID");
        assert_eq!(SYSTEM[SYS_PROVIDER_NAME].2, "Provider_Name");
    }

    #[test]
    fn table_is_consistent() {
        let mut seen = std::collections::HashSet::new();
        for m in MAPPINGS {
            assert!(!m.category.is_empty() && !m.kind_type.is_empty() && !m.action.is_empty());
            for id in m.ids {
                assert!(
                    seen.insert((m.log, *id)),
                    "duplicate mapping {:?} {id}",
                    m.log
                );
            }
        }
        assert_eq!(ids().mappings.len(), MAPPINGS.len());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_values_never_panic(
            elem in "[A-Za-z]{0,12}", attr in "[A-Za-z]{0,8}", v in "\\PC{0,40}", id in 0i64..10000,
        ) {
            let mut n = Normaliser::new();
            let mut e = ev();
            n.begin(&mut e);
            n.system(&mut e, &elem, &attr, Value::str(&v));
            n.system(&mut e, "EventID", "", Value::Int(id));
            n.system(&mut e, "Channel", "", Value::str("Security"));
            n.system(&mut e, "TimeCreated", "SystemTime", Value::str(&v));
            for name in ["IpAddress", "IpPort", "Hashes", "Image", "User", "NewProcessId", "LogonType"] {
                n.data(&mut e, name, Value::str(&v));
            }
            n.user_data(&mut e, &format!("UserData.{elem}"), &elem, Value::str(&v));
            n.finish(&mut e, None);
            proptest::prop_assert_eq!(e.get_name("EventID"), Some(&Value::Int(id)));
        }
    }
}
