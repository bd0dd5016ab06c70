//! EVTX parsing against the real event logs of the shared data set (EVTX-ATTACK-SAMPLES,
//! DeepBlueCLI, YamatoSecurity samples), read in place from `$KASBAH_SHARED/evtx` (default: the
//! `shared` directory next to the repository). Nothing from it is copied into the repository;
//! each test skips with a message when the data is absent.
//!
//! Record accounting: a file "declares" the records its chunk headers name. Every 64 KiB block
//! after the 4 KiB file header that starts with `ElfChnk\0` is a chunk; its header holds the
//! first and last event record ids at offsets 24 and 32 (little-endian u64), so it declares
//! `last - first + 1` records. The declared count of a file is the sum over its chunks, and
//! every declared record must come out either as an event or as a bad record. These ids are the
//! file's own record numbers (each record's header repeats its own); a log exported from Event
//! Viewer is renumbered from 1 while each event keeps its original `System/EventRecordID`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kasbah_parse::{
    BadRecord, ErrorCode, Event, Format, Item, Origin, ParseOptions, Source, Value, detect, ecs,
    parse_bytes,
};

fn shared_evtx() -> Option<PathBuf> {
    let root = std::env::var_os("KASBAH_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let dir = root.join("evtx");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: no shared EVTX data at {} (set KASBAH_SHARED to the shared data directory)",
            dir.display()
        );
        None
    }
}

fn evtx_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p
                .extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("evtx"))
            {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

fn parse(bytes: &[u8]) -> (Vec<Event>, Vec<BadRecord>) {
    let opts = ParseOptions {
        keep_raw: false,
        ..ParseOptions::default()
    };
    let origin = Origin::File(Arc::from("test.evtx"));
    let (mut events, mut bad) = (Vec::new(), Vec::new());
    let (_, stats) = parse_bytes(
        bytes,
        Some(Format::Evtx),
        &origin,
        &opts,
        &mut |item| match item {
            Item::Event(e) => events.push(*e),
            Item::Bad(b) => bad.push(b),
        },
    );
    assert_eq!(stats.events, events.len() as u64);
    assert_eq!(stats.bad, bad.len() as u64);
    (events, bad)
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    b.get(at..at + 8)
        .and_then(|s| <[u8; 8]>::try_from(s).ok())
        .map(u64::from_le_bytes)
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map(u32::from_le_bytes)
}

/// The chunks of a file: (offset, first record id, last record id).
fn chunks(bytes: &[u8]) -> Vec<(usize, u64, u64)> {
    let mut out = Vec::new();
    let mut off = 4096;
    while off + 65536 <= bytes.len() {
        let chunk = &bytes[off..];
        if chunk.starts_with(b"ElfChnk\0")
            && let (Some(first), Some(last)) = (u64_at(chunk, 24), u64_at(chunk, 32))
        {
            out.push((off, first, last));
        }
        off += 65536;
    }
    out
}

fn declared(bytes: &[u8]) -> u64 {
    chunks(bytes)
        .iter()
        .filter(|(_, f, l)| l >= f)
        .map(|(_, f, l)| l - f + 1)
        .sum()
}

fn record_of(e: &Event) -> u64 {
    match &e.source {
        Source::File { record, .. } => *record,
        other => panic!("unexpected source {other:?}"),
    }
}

fn text<'a>(e: &'a Event, name: &str) -> Option<&'a str> {
    e.get_name(name).and_then(Value::as_str)
}

#[test]
fn every_file_parses_and_accounts_for_every_record() {
    let Some(dir) = shared_evtx() else {
        return;
    };
    let files = evtx_files(&dir);
    assert!(!files.is_empty(), "no .evtx files under {}", dir.display());
    let (mut total_events, mut total_declared) = (0u64, 0u64);
    for path in &files {
        let bytes = std::fs::read(path).expect("read shared file");
        assert_eq!(detect(&bytes), Format::Evtx, "{}", path.display());
        let (events, bad) = parse(&bytes);
        let want = declared(&bytes);
        let ranges = chunks(&bytes);
        assert!(
            bad.is_empty(),
            "{}: unexpected bad records {bad:?}",
            path.display()
        );
        assert_eq!(
            events.len() as u64 + bad.len() as u64,
            want,
            "{}: events + bad records != records the chunk headers declare",
            path.display()
        );
        for e in &events {
            let id = e.get_name("EventID");
            assert!(
                matches!(id, Some(Value::Int(_))),
                "{}: EventID {id:?}",
                path.display()
            );
            // ETW trace events logged to a file have an empty `<Channel/>`.
            assert!(matches!(e.get_name("Channel"), Some(Value::Str(_)) | None));
            assert!(matches!(e.get_name("Provider_Name"), Some(Value::Str(_))));
            assert!(matches!(e.get_name("EventRecordID"), Some(Value::Int(_))));
            let n = record_of(e);
            assert!(
                ranges.iter().any(|(_, f, l)| (*f..=*l).contains(&n)),
                "{}: record number {n} is not one the chunk headers declare",
                path.display()
            );
            assert_eq!(e.fields.get_str(ecs::EVENT_MODULE), Some("windows"));
            assert_eq!(e.fields.get_str(ecs::EVENT_KIND), Some("event"));
            assert!(e.fields.get_str(ecs::EVENT_DATASET).is_some());
            let year = &e.timestamp.to_rfc3339()[..4];
            assert!(
                ("2007".."2031").contains(&year),
                "{}: odd event time {}",
                path.display(),
                e.timestamp
            );
        }
        total_events += events.len() as u64;
        total_declared += want;
    }
    eprintln!(
        "{} files: {total_events} events of {total_declared} declared records",
        files.len()
    );
    assert_eq!(total_events, total_declared);
}

/// The events of one shared file.
fn events_of(dir: &Path, rel: &str) -> Option<Vec<Event>> {
    let path = dir.join(rel);
    let Ok(bytes) = std::fs::read(&path) else {
        eprintln!("skipping spot check: {} is missing", path.display());
        return None;
    };
    let (events, bad) = parse(&bytes);
    assert!(bad.is_empty(), "{rel}: {bad:?}");
    Some(events)
}

/// The event whose `System/EventRecordID` is `id` (exported logs renumber their records, so
/// this is not always the record's number in the file).
fn record(events: &[Event], id: i64) -> &Event {
    events
        .iter()
        .find(|e| e.get_name("EventRecordID") == Some(&Value::Int(id)))
        .unwrap_or_else(|| panic!("EventRecordID {id} not found"))
}

#[test]
fn sysmon_process_creation_values() {
    let Some(dir) = shared_evtx() else {
        return;
    };
    let Some(events) = events_of(
        &dir,
        "YamatoSecurity/DefenseEvasion/T1027.004_ObfuscatedFilesOrInformationCompileAfterDelivery_Sysmon.evtx",
    ) else {
        return;
    };
    let e = record(&events, 13252);
    assert_eq!(e.get_name("EventID"), Some(&Value::Int(1)));
    assert_eq!(
        text(e, "Channel"),
        Some("Microsoft-Windows-Sysmon/Operational")
    );
    assert_eq!(text(e, "Provider_Name"), Some("Microsoft-Windows-Sysmon"));
    assert_eq!(text(e, "Computer"), Some("PC-01.cybercat.local"));
    let csc = "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\csc.exe";
    assert_eq!(text(e, "Image"), Some(csc));
    assert_eq!(text(e, "EventData.Image"), Some(csc));
    assert_eq!(
        text(e, "CommandLine"),
        Some(
            "C:\\Windows\\Microsoft.NET\\Framework64\\v4.0.30319\\csc.exe  /unsafe /nologo /target:exe /out:zoom-update.exe C:\\Users\\pc1-user\\Desktop\\zoom-update.cs"
        )
    );
    assert_eq!(
        text(e, "ParentImage"),
        Some("C:\\Windows\\System32\\cmd.exe")
    );
    assert_eq!(e.fields.get_str(ecs::PROCESS_EXECUTABLE), Some(csc));
    assert_eq!(e.fields.get_str(ecs::PROCESS_NAME), Some("csc.exe"));
    assert_eq!(e.get(ecs::PROCESS_PID), Some(&Value::Int(2604)));
    assert_eq!(e.get(ecs::PROCESS_PARENT_PID), Some(&Value::Int(6992)));
    assert_eq!(e.fields.get_str(ecs::PROCESS_PARENT_NAME), Some("cmd.exe"));
    assert_eq!(
        e.fields.get_str(ecs::PROCESS_PARENT_COMMAND_LINE),
        Some("\"C:\\Windows\\system32\\cmd.exe\" ")
    );
    assert_eq!(e.fields.get_str(ecs::USER_NAME), Some("pc1-user"));
    assert_eq!(e.fields.get_str(ecs::USER_DOMAIN), Some("CYBERCAT"));
    assert_eq!(
        text(e, "process.hash.sha256"),
        Some("c5270c0d8718c66382240db538f9bacded8db55424768c2d942a6210b96b2720")
    );
    assert_eq!(e.fields.get_str(ecs::EVENT_ACTION), Some("process-created"));
    assert_eq!(e.fields.get_str(ecs::EVENT_DATASET), Some("windows.sysmon"));
    assert_eq!(e.timestamp.to_rfc3339(), "2021-11-18T07:40:29.566033500Z");
    assert_eq!(e.get_name("ProcessID"), Some(&Value::Int(2148)));

    // The next record is a file creation.
    let e = record(&events, 13253);
    assert_eq!(e.get_name("EventID"), Some(&Value::Int(11)));
    assert_eq!(
        e.fields.get_str(ecs::FILE_PATH),
        Some("C:\\Users\\pc1-user\\Desktop\\CSCFD9BAF75EA53488BBE2F1273837CC796.TMP")
    );
    assert_eq!(
        e.fields.get_str(ecs::FILE_NAME),
        Some("CSCFD9BAF75EA53488BBE2F1273837CC796.TMP")
    );
}

#[test]
fn security_logon_kerberos_and_log_clearing_values() {
    let Some(dir) = shared_evtx() else {
        return;
    };
    let Some(events) = events_of(
        &dir,
        "YamatoSecurity/CredentialAccess/T1558.003_StealOrForgeKerberosTicketsKerberoasting_Security.evtx",
    ) else {
        return;
    };
    let logon = record(&events, 38679);
    assert_eq!(logon.get_name("EventID"), Some(&Value::Int(4624)));
    assert_eq!(text(logon, "Channel"), Some("Security"));
    assert_eq!(text(logon, "TargetUserName"), Some("Alice"));
    assert_eq!(logon.fields.get_str(ecs::USER_NAME), Some("Alice"));
    assert_eq!(logon.fields.get_str(ecs::USER_DOMAIN), Some("LABCORP"));
    assert_eq!(logon.fields.get_str(ecs::SOURCE_IP), Some("192.168.1.200"));
    assert_eq!(logon.get(ecs::SOURCE_PORT), Some(&Value::Int(40316)));
    assert_eq!(text(logon, "LogonType"), Some("3"));
    assert_eq!(text(logon, "winlog.logon.type"), Some("Network"));
    assert_eq!(logon.fields.get_str(ecs::EVENT_OUTCOME), Some("success"));
    assert_eq!(logon.fields.get_str(ecs::EVENT_ACTION), Some("logged-in"));
    // An empty WorkstationName is kept as empty text, and not copied into ECS.
    assert_eq!(text(logon, "WorkstationName"), Some(""));
    assert!(logon.get(ecs::SOURCE_DOMAIN).is_none());
    // `-` is not a process.
    assert!(logon.get(ecs::PROCESS_EXECUTABLE).is_none());

    let cleared = record(&events, 38677);
    assert_eq!(cleared.get_name("EventID"), Some(&Value::Int(1102)));
    assert_eq!(
        text(cleared, "UserData.LogFileCleared.SubjectUserName"),
        Some("Administrator")
    );
    assert_eq!(
        cleared.fields.get_str(ecs::USER_NAME),
        Some("Administrator")
    );
    assert_eq!(cleared.fields.get_str(ecs::USER_DOMAIN), Some("LABCORP"));
    assert_eq!(
        cleared.fields.get_str(ecs::EVENT_ACTION),
        Some("audit-log-cleared")
    );

    let tgs = record(&events, 38681);
    assert_eq!(tgs.get_name("EventID"), Some(&Value::Int(4769)));
    assert_eq!(tgs.fields.get_str(ecs::SERVICE_NAME), Some("sql101"));
    // IPv4-mapped IPv6 is normalised to IPv4.
    assert_eq!(text(tgs, "IpAddress"), Some("::ffff:192.168.1.200"));
    assert_eq!(tgs.fields.get_str(ecs::SOURCE_IP), Some("192.168.1.200"));
    assert_eq!(tgs.fields.get_str(ecs::EVENT_OUTCOME), Some("success"));

    let ntlm = record(&events, 38678);
    assert_eq!(ntlm.get_name("EventID"), Some(&Value::Int(4776)));
    assert_eq!(text(ntlm, "Status"), Some("0x0"));
    assert_eq!(ntlm.fields.get_str(ecs::EVENT_OUTCOME), Some("success"));
}

#[test]
fn service_install_script_block_and_unnamed_data_values() {
    let Some(dir) = shared_evtx() else {
        return;
    };
    if let Some(events) = events_of(
        &dir,
        "DeepBlueCLI/metasploit-psexec-native-target-system.evtx",
    ) {
        let e = record(&events, 8623);
        assert_eq!(e.get_name("EventID"), Some(&Value::Int(7045)));
        assert_eq!(e.get_name("Qualifiers"), Some(&Value::Int(16384)));
        assert_eq!(
            e.get_name("System.EventID.Qualifiers"),
            Some(&Value::Int(16384))
        );
        assert_eq!(text(e, "Provider_Name"), Some("Service Control Manager"));
        assert_eq!(text(e, "ServiceName"), Some("KgXItsbKgTJzdzwl"));
        assert_eq!(text(e, "ImagePath"), Some("%SYSTEMROOT%\\duKhLYUX.exe"));
        assert_eq!(
            e.fields.get_str(ecs::SERVICE_NAME),
            Some("KgXItsbKgTJzdzwl")
        );
        assert_eq!(
            e.fields.get_str(ecs::EVENT_ACTION),
            Some("service-installed")
        );
        assert_eq!(e.fields.get_str(ecs::EVENT_DATASET), Some("windows.system"));
    }
    if let Some(events) = events_of(&dir, "DeepBlueCLI/Powershell-Invoke-Obfuscation-many.evtx") {
        let e = record(&events, 568566);
        assert_eq!(e.get_name("EventID"), Some(&Value::Int(4104)));
        assert_eq!(
            text(e, "ScriptBlockText"),
            Some(".\\DeepBlue-0.2.ps1 \"\" powershell")
        );
        assert_eq!(
            text(e, "powershell.file.script_block_text"),
            Some(".\\DeepBlue-0.2.ps1 \"\" powershell")
        );
        assert_eq!(
            text(e, "ActivityID"),
            Some("{cf705cdf-21a7-0000-ddf7-70cfa721d301}")
        );
        assert_eq!(text(e, "log.level"), Some("verbose"));
        assert_eq!(
            e.fields.get_str(ecs::EVENT_DATASET),
            Some("windows.powershell_operational")
        );
    }
    if let Some(events) = events_of(
        &dir,
        "YamatoSecurity/ImpairDefenses/T1562.010_DowngradeAttack_PowerShell.evtx",
    ) {
        let e = record(&events, 705);
        assert_eq!(e.get_name("EventID"), Some(&Value::Int(600)));
        let Some(Value::List(data)) = e.get_name("Data") else {
            panic!("unnamed data is a list: {:?}", e.get_name("Data"));
        };
        assert_eq!(data.first(), Some(&Value::str("Registry")));
        assert_eq!(data.get(1), Some(&Value::str("Started")));
        assert!(
            data.get(2)
                .and_then(Value::as_str)
                .is_some_and(|s| s.contains("HostApplication=powershell calc"))
        );
        assert_eq!(e.get_name("EventData.Data"), e.get_name("Data"));
    }
}

/// The largest shared file (most declared records), for the corruption tests.
fn largest(dir: &Path) -> Option<Vec<u8>> {
    evtx_files(dir)
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .filter(|b| chunks(b).len() >= 2)
        .max_by_key(|b| declared(b))
}

#[test]
fn truncated_copies_never_panic_and_report_what_is_cut() {
    let Some(dir) = shared_evtx() else {
        return;
    };
    let Some(bytes) = largest(&dir) else {
        eprintln!("skipping: no multi-chunk file");
        return;
    };
    let (intact, _) = parse(&bytes);
    let first_chunk_end = 4096 + 65536;
    let cuts = [
        0,
        7,
        100,
        4095,
        4096,
        4096 + 300,
        4096 + 20_000,
        first_chunk_end - 1,
        first_chunk_end,
        first_chunk_end + 512,
        first_chunk_end + 33_333,
        bytes.len() - 1,
    ];
    for cut in cuts {
        let cut = cut.min(bytes.len());
        let (events, bad) = parse(&bytes[..cut]);
        assert!(events.len() <= intact.len(), "cut at {cut}");
        for b in &bad {
            assert!(
                matches!(
                    b.error.code,
                    ErrorCode::CorruptEvtx | ErrorCode::Truncated | ErrorCode::WrongFormat
                ),
                "cut at {cut}: {b}"
            );
        }
        if cut < 8 {
            assert_eq!(bad.len(), 1, "cut at {cut}: {bad:?}");
            assert_eq!(bad[0].error.code, ErrorCode::WrongFormat);
        } else if cut < 4096 {
            assert_eq!(bad.len(), 1, "cut at {cut}: {bad:?}");
            assert_eq!(bad[0].error.code, ErrorCode::Truncated);
        }
        // Every event of a cut file is one of the intact file's, unchanged.
        for e in &events {
            let id = record_of(e);
            let whole = intact
                .iter()
                .find(|x| record_of(x) == id)
                .expect("same record in the intact file");
            assert_eq!(e.fields, whole.fields, "cut at {cut}, record {id}");
        }
    }
    // A cut inside the second chunk: its records up to the cut are read, the rest reported.
    let cut = first_chunk_end + 33_333;
    let (events, bad) = parse(&bytes[..cut]);
    let second = chunks(&bytes)[1];
    let in_second = events
        .iter()
        .filter(|e| (second.1..=second.2).contains(&record_of(e)))
        .count();
    assert!(in_second > 0, "records before the cut are read");
    assert!(
        bad.iter().any(|b| b.error.code == ErrorCode::Truncated),
        "{bad:?}"
    );
    assert_eq!(
        in_second
            + bad
                .iter()
                .filter(|b| (second.1..=second.2).contains(&b.record))
                .count(),
        (second.2 - second.1 + 1) as usize,
        "every record of the cut chunk is an event or a truncated record"
    );
}

#[test]
fn flipped_bytes_inside_chunks_yield_bad_records_and_exact_accounting() {
    let Some(dir) = shared_evtx() else {
        return;
    };
    let Some(bytes) = largest(&dir) else {
        return;
    };
    let want = declared(&bytes);
    let mut damaged = bytes.clone();
    let mut flips = 0;
    for (off, _, _) in chunks(&bytes) {
        let free = u32_at(&bytes, off + 48).unwrap_or(512) as usize;
        let records = off + 512..off + free.clamp(512, 65536);
        // Record headers (magic `**\0\0`, then size and id) are left intact so that every
        // record keeps its id; everything else in the record area may be hit.
        let mut protected = vec![false; 65536];
        let area = &bytes[records.clone()];
        for (i, w) in area.windows(4).enumerate() {
            if w == b"\x2a\x2a\x00\x00" {
                for p in protected.iter_mut().skip(512 + i).take(24) {
                    *p = true;
                }
            }
        }
        let mut at = records.start + 97;
        while at < records.end {
            if !protected[at - off] {
                damaged[at] ^= 0xA5;
                flips += 1;
            }
            at += 1999;
        }
    }
    assert!(flips > 10);
    let (events, bad) = parse(&damaged);
    assert!(!bad.is_empty(), "damage is reported");
    assert!(
        bad.iter().all(|b| b.error.code == ErrorCode::CorruptEvtx),
        "{bad:?}"
    );
    assert_eq!(
        events.len() as u64 + bad.len() as u64,
        want,
        "every declared record is an event or a bad record"
    );
    eprintln!(
        "{flips} bytes flipped: {} events, {} bad records of {want}",
        events.len(),
        bad.len()
    );
}

#[test]
fn garbage_after_a_header_and_text_forced_as_evtx() {
    let Some(dir) = shared_evtx() else {
        return;
    };
    let Some(bytes) = largest(&dir) else {
        return;
    };
    // A valid file header followed by noise (a simple xorshift, reproducible).
    let mut data = bytes[..4096].to_vec();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..(3 * 65536 + 1234) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.push(x as u8);
    }
    let (events, bad) = parse(&data);
    assert!(events.is_empty());
    assert!(!bad.is_empty());
    // The same noise where the chunks' signatures are intact.
    for c in 0..3 {
        let at = 4096 + c * 65536;
        data[at..at + 8].copy_from_slice(b"ElfChnk\0");
    }
    let (events, bad) = parse(&data);
    assert!(events.len() < 10);
    assert!(!bad.is_empty());

    let (events, bad) = parse(b"2024-05-01T10:00:00Z host sshd[1]: Accepted password\n");
    assert!(events.is_empty());
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].error.code, ErrorCode::WrongFormat);
}
