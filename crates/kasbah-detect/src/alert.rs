//! From matches to alert drafts: the entities an event is about, the notable fields shown to an
//! analyst, and the deduplication key (rule and entities).

use kasbah_event::{Entity, EntityKind, Event, TenantId, Value};
use kasbah_meta::{AlertKind, NewAlert};
use kasbah_sigma::{CorrelationAlert, RuleInfo};
use serde_json::{Map, Value as Json};

/// Fields shown in an alert's details when the rule lists no `fields`.
pub const NOTABLE: &[&str] = &[
    "CommandLine",
    "Image",
    "ParentImage",
    "TargetFilename",
    "TargetObject",
    "Details",
    "QueryName",
    "ScriptBlockText",
    "ServiceName",
    "ImagePath",
    "TargetUserName",
    "SubjectUserName",
    "User",
    "IpAddress",
    "WorkstationName",
    "DestinationIp",
    "DestinationPort",
    "process.command_line",
    "url.original",
    "source.ip",
    "user.name",
    "message",
];

/// Most notable fields kept.
pub const MAX_DETAILS: usize = 6;
/// Longest value kept in details, in characters.
pub const MAX_VALUE: usize = 160;

/// Where each entity kind is read from, most specific first (ECS names, then the Windows
/// originals). The first present, meaningful value wins.
const SOURCES: &[(EntityKind, &[&str])] = &[
    (
        EntityKind::Host,
        &["host.name", "Computer", "host.hostname", "hostname"],
    ),
    (
        EntityKind::User,
        &[
            "user.name",
            "TargetUserName",
            "SubjectUserName",
            "User",
            "AccountName",
        ],
    ),
    (
        EntityKind::Ip,
        &["source.ip", "IpAddress", "SourceIp", "client.ip", "src_ip"],
    ),
    (
        EntityKind::Process,
        &[
            "process.executable",
            "Image",
            "NewProcessName",
            "process.name",
        ],
    ),
];

/// Placeholder values Windows and others write for "nothing".
fn meaningful(s: &str) -> bool {
    let s = s.trim();
    !(s.is_empty() || s == "-" || s == "N/A" || s == "::" || s == "0.0.0.0")
}

/// The entities of an event: at most one per kind.
pub fn entities(ev: &Event) -> Vec<Entity> {
    let mut out = Vec::new();
    for (kind, names) in SOURCES {
        for n in *names {
            let v = match ev.get_name(n) {
                Some(Value::Str(s)) if meaningful(s) => s.to_string(),
                Some(Value::Int(i)) => i.to_string(),
                _ => continue,
            };
            out.push(Entity::new(*kind, v));
            break;
        }
    }
    out
}

/// Shortens a value to one line of at most `max` characters.
pub fn short(s: &str, max: usize) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.chars().count() <= max {
        one_line
    } else {
        let mut t: String = one_line.chars().take(max).collect();
        t.push('…');
        t
    }
}

/// The notable fields of an event for a rule: the rule's `fields`, or [`NOTABLE`].
pub fn notable(ev: &Event, info: &RuleInfo) -> Vec<(String, String)> {
    let names: Vec<&str> = if info.meta.fields.is_empty() {
        NOTABLE.to_vec()
    } else {
        info.meta.fields.iter().map(String::as_str).collect()
    };
    let mut parts = Vec::new();
    for n in names {
        if parts.len() >= MAX_DETAILS {
            break;
        }
        match ev.get_name(n) {
            Some(Value::Null) | None => {}
            Some(Value::Str(s)) if s.is_empty() => {}
            Some(v) => parts.push((n.to_owned(), short(&v.to_string(), MAX_VALUE))),
        }
    }
    parts
}

/// The deduplication key: rule and entities (alerts of one rule about the same things merge).
pub fn dedup_key(rule_id: &str, entities: &[Entity]) -> String {
    let mut k = String::with_capacity(rule_id.len() + 32 * entities.len());
    k.push_str(rule_id);
    for e in entities {
        k.push('\u{1f}');
        k.push_str(e.kind.as_str());
        k.push('=');
        k.push_str(&e.value);
    }
    k
}

/// The alert a detection rule raises for one event, given the event's [`entities`] and the
/// [`dedup_key`] (the detector computes them first, to merge repeated matches without drafting).
/// `event_id` is the event's `event.id`.
pub fn draft(
    tenant: TenantId,
    ev: &Event,
    info: &RuleInfo,
    entities: Vec<Entity>,
    dedup_key: String,
    event_id: Option<&str>,
    retro: bool,
) -> NewAlert {
    let mut details = Map::new();
    for (k, v) in notable(ev, info) {
        details.insert(k, Json::String(v));
    }
    if let kasbah_event::Source::File { path, record } = &ev.source {
        details.insert("log.file.path".into(), Json::String(path.to_string()));
        details.insert("log.file.record".into(), Json::from(*record));
    }
    NewAlert {
        tenant,
        dedup_key,
        rule_id: info.id_or_title().to_owned(),
        rule_title: info.meta.title.clone(),
        level: info.level().as_str().to_owned(),
        tags: info.meta.tags.clone(),
        kind: AlertKind::Detection,
        entities,
        first_seen: ev.timestamp.as_nanos(),
        last_seen: ev.timestamp.as_nanos(),
        count: 1,
        event_ids: event_id.map(str::to_owned).into_iter().collect(),
        retro,
        details: Json::Object(details).to_string(),
    }
}

/// Adds an event id to an alert's list unless it is there or the list is full.
pub fn add_event_id(ids: &mut Vec<String>, id: &str) {
    if ids.len() < kasbah_meta::MAX_EVENT_IDS && !ids.iter().any(|x| x == id) {
        ids.push(id.to_owned());
    }
}

/// The entity kind a correlation's group-by field names, if it names one.
fn group_kind(field: &str) -> Option<EntityKind> {
    SOURCES
        .iter()
        .find(|(_, names)| names.iter().any(|n| n.eq_ignore_ascii_case(field)))
        .map(|(k, _)| *k)
}

/// The alert a correlation rule raises.
pub fn from_correlation(
    tenant: TenantId,
    a: &CorrelationAlert,
    info: &RuleInfo,
    retro: bool,
) -> NewAlert {
    let rule_id = info.id_or_title().to_owned();
    let mut entities: Vec<Entity> = a
        .group
        .iter()
        .filter_map(|(k, v)| group_kind(k).map(|kind| Entity::new(kind, v.clone())))
        .collect();
    entities.sort();
    entities.dedup_by_key(|e| e.kind);
    let group: Map<String, Json> = a
        .group
        .iter()
        .map(|(k, v)| (k.clone(), Json::String(v.clone())))
        .collect();
    let mut key_parts = entities.clone();
    // Group-by values that are not entities still distinguish alerts.
    for (k, v) in &a.group {
        if group_kind(k).is_none() {
            key_parts.push(Entity::new(EntityKind::Host, format!("{k}={v}")));
        }
    }
    let details = serde_json::json!({
        "group": group,
        "value": a.value,
        "events": a.events,
    });
    NewAlert {
        tenant,
        dedup_key: dedup_key(&rule_id, &key_parts),
        rule_id,
        rule_title: info.meta.title.clone(),
        level: info.level().as_str().to_owned(),
        tags: info.meta.tags.clone(),
        kind: AlertKind::Correlation,
        entities,
        first_seen: a.first.as_nanos(),
        last_seen: a.last.as_nanos(),
        count: 1,
        event_ids: Vec::new(),
        retro,
        details: details.to_string(),
    }
}

/// Merges `b` into `a` (same dedup key): counts add, times widen, event ids append up to the
/// repository's cap.
pub fn merge(a: &mut NewAlert, b: NewAlert) {
    a.count += b.count;
    a.first_seen = a.first_seen.min(b.first_seen);
    a.last_seen = a.last_seen.max(b.last_seen);
    for id in &b.event_ids {
        add_event_id(&mut a.event_ids, id);
    }
}

/// The ATT&CK tactics (Sigma tag spelling).
pub const TACTICS: &[&str] = &[
    "reconnaissance",
    "resource-development",
    "initial-access",
    "execution",
    "persistence",
    "privilege-escalation",
    "defense-evasion",
    "credential-access",
    "discovery",
    "lateral-movement",
    "collection",
    "command-and-control",
    "exfiltration",
    "impact",
];

/// One ATT&CK reference of a rule's tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attack {
    /// A tactic, such as `credential-access`.
    Tactic(String),
    /// A technique or sub-technique id, such as `T1059.001`.
    Technique(String),
}

/// The ATT&CK tactics and techniques among a rule's tags (`attack.credential_access`,
/// `attack.t1003.001`).
pub fn attack(tags: &[String]) -> Vec<Attack> {
    let mut out = Vec::new();
    for t in tags {
        let lower = t.to_ascii_lowercase();
        let Some(rest) = lower.strip_prefix("attack.") else {
            continue;
        };
        let norm = rest.replace('_', "-");
        if TACTICS.contains(&norm.as_str()) {
            out.push(Attack::Tactic(norm));
        } else if rest.len() >= 5
            && rest.starts_with('t')
            && rest
                .as_bytes()
                .get(1..5)
                .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
        {
            out.push(Attack::Technique(rest.to_ascii_uppercase()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use kasbah_event::{Source, Timestamp};

    fn from_event(
        tenant: TenantId,
        ev: &Event,
        info: &RuleInfo,
        event_id: Option<&str>,
        retro: bool,
    ) -> NewAlert {
        let entities = entities(ev);
        let key = dedup_key(info.id_or_title(), &entities);
        draft(tenant, ev, info, entities, key, event_id, retro)
    }
    use kasbah_sigma::{Config, Engine, RuleSet};
    use std::sync::Arc;

    fn engine() -> Engine {
        let mut set = RuleSet::new();
        set.add(
            "r.yml",
            "title: Whoami\nid: w-1\nlevel: high\ntags: [attack.discovery, attack.t1033]\nlogsource: {product: windows, category: process_creation}\ndetection:\n  sel:\n    Image|endswith: '\\whoami.exe'\n  condition: sel\n",
        );
        Engine::build(&set, &Config::default())
    }

    fn ev() -> Event {
        let mut e = Event::new(
            Timestamp::from_nanos(5_000_000_000),
            Source::File {
                path: Arc::from("sec.evtx"),
                record: 7,
            },
        );
        e.fields.set_name("Computer", "WS01");
        e.fields.set_name("User", "CORP\\alice");
        e.fields.set_name("IpAddress", "-");
        e.fields.set_name("Image", "C:\\W\\whoami.exe");
        e.fields.set_name("CommandLine", "whoami\n/all");
        e
    }

    #[test]
    fn entities_skip_placeholders_and_keep_one_per_kind() {
        let got = entities(&ev());
        assert_eq!(
            got,
            vec![
                Entity::new(EntityKind::Host, "WS01"),
                Entity::new(EntityKind::User, "CORP\\alice"),
                Entity::new(EntityKind::Process, "C:\\W\\whoami.exe"),
            ]
        );
    }

    #[test]
    fn detection_alert_carries_rule_attack_entities_and_details() {
        let e = engine();
        let info = &e.rules()[0];
        let a = from_event(TenantId(3), &ev(), info, Some("ev-1"), false);
        assert_eq!(a.rule_id, "w-1");
        assert_eq!(a.level, "high");
        assert_eq!(a.tags, vec!["attack.discovery", "attack.t1033"]);
        assert_eq!(a.first_seen, 5_000_000_000);
        assert_eq!(a.event_ids, vec!["ev-1"]);
        assert_eq!(
            a.dedup_key,
            "w-1\u{1f}host=WS01\u{1f}user=CORP\\alice\u{1f}process=C:\\W\\whoami.exe"
        );
        let d: Json = serde_json::from_str(&a.details).expect("details are JSON");
        assert_eq!(d["CommandLine"], "whoami /all", "one line");
        assert_eq!(d["log.file.record"], 7);
    }

    #[test]
    fn merge_adds_counts_and_caps_event_ids() {
        let e = engine();
        let info = &e.rules()[0];
        let mut a = from_event(TenantId(3), &ev(), info, Some("x"), false);
        for i in 0..150 {
            let mut b = from_event(TenantId(3), &ev(), info, Some(&format!("id{i}")), false);
            b.first_seen = i;
            merge(&mut a, b);
        }
        assert_eq!(a.count, 151);
        assert_eq!(a.first_seen, 0);
        assert_eq!(a.event_ids.len(), kasbah_meta::MAX_EVENT_IDS);
    }

    #[test]
    fn attack_tags_are_split_into_tactics_and_techniques() {
        let tags: Vec<String> = [
            "attack.credential_access",
            "attack.t1003.001",
            "attack.g0007",
            "cve.2021-1",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        assert_eq!(
            attack(&tags),
            vec![
                Attack::Tactic("credential-access".into()),
                Attack::Technique("T1003.001".into())
            ]
        );
    }

    #[test]
    fn short_values_are_one_line_and_bounded() {
        assert_eq!(short("a\tb", 10), "a b");
        assert_eq!(short("abcdef", 3), "abc…");
    }
}
