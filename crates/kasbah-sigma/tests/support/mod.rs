//! Test support: Windows events from the `evtx` crate's JSON rendering.
//!
//! Until Kasbah's own EVTX parser is merged, tests and benchmarks of the Sigma engine build
//! events from the JSON shape the `evtx` crate (and SigmaHQ's regression data) use, with the
//! field names Kasbah's Windows parsers produce: `Channel`, `EventID`, `Provider_Name`,
//! `Computer`... and every `EventData`/`UserData` field under its own name.

use std::sync::Arc;

use kasbah_event::{Event, Source, Timestamp, Value};

/// Builds an event from `{"Event": {"System": {...}, "EventData": {...}}}`.
pub fn event_from_evtx_json(doc: &serde_json::Value) -> Option<Event> {
    let e = doc.get("Event")?;
    let sys = e.get("System")?;
    let mut ev = Event::new(
        Timestamp::from_nanos(0),
        Source::Input {
            name: Arc::from("evtx-json"),
        },
    );
    ev.fields.set_name("event.module", "windows");
    let scalar = |v: &serde_json::Value| -> Option<Value> {
        match v {
            serde_json::Value::Object(o) => o.get("#text").map(Value::from_json),
            serde_json::Value::Array(_) => None,
            other => Some(Value::from_json(other)),
        }
    };
    for (k, v) in sys.as_object()? {
        match k.as_str() {
            "Provider" => {
                if let Some(a) = v.get("#attributes") {
                    if let Some(n) = a.get("Name").and_then(|x| x.as_str()) {
                        ev.fields.set_name("Provider_Name", n);
                    }
                    if let Some(g) = a.get("Guid").and_then(|x| x.as_str()) {
                        ev.fields.set_name("Provider_Guid", g);
                    }
                }
            }
            "TimeCreated" => {
                let t = v
                    .get("#attributes")
                    .and_then(|a| a.get("SystemTime"))
                    .and_then(|t| t.as_str())
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .and_then(|d| d.timestamp_nanos_opt());
                if let Some(t) = t {
                    ev.timestamp = Timestamp::from_nanos(t);
                }
            }
            _ => {
                if let Some(s) = scalar(v) {
                    ev.fields.set_name(k, s);
                }
            }
        }
    }
    if let Some(c) = ev.fields.get_name("Computer").cloned() {
        ev.fields.set_name("host.name", c);
    }
    for section in ["EventData", "UserData"] {
        let Some(data) = e.get(section).and_then(|d| d.as_object()) else {
            continue;
        };
        for (k, v) in data {
            match v {
                serde_json::Value::Object(inner) if !inner.contains_key("#text") => {
                    for (k2, v2) in inner {
                        if let Some(s) = scalar(v2) {
                            ev.fields.set_name(k2, s);
                        }
                    }
                }
                other => {
                    if let Some(s) = scalar(other) {
                        ev.fields.set_name(k, s);
                    }
                }
            }
        }
    }
    Some(ev)
}
