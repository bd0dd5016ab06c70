//! Anomaly alerts: the per-entity models of `kasbah-ml`, fed with the template ids mined on
//! ingestion, raise alert drafts on the same path as rule matches (suppressions, dedup, triage).
//!
//! Each tenant has one [`TenantModel`]. It first *learns*: every text event trains the model
//! of its entity's windows (an entity is the first present field of
//! [`AnomalyConfig::entity_fields`], the host by default). Learning ends once both the
//! learning span of event time has passed since the tenant's first event and the learning
//! count of events was seen; event time (not the wall clock) so that a replayed or uploaded
//! history trains the model like live traffic would. Then the model *detects*: each event is
//! checked as it arrives and findings whose weight reaches the tenant's threshold become
//! drafts: a template never learned (reported once per entity and template), an unexpected
//! transition between templates, a burst (a template more often in a window than in any
//! learned one), a window whose mix of templates no learned window had, a rare template.
//!
//! The model does not learn while it detects (an attack must not teach it that attacks are
//! normal); [`TenantModel::relearn`] starts a new learning period.

use kasbah_event::{Entity, EntityKind, Event, TenantId, Value};
use kasbah_meta::{AlertKind, NewAlert};
use kasbah_ml::TemplateId;
use kasbah_ml::anomaly::{Detector, DetectorConfig, Finding, Reason};
use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json, json};

use crate::alert;

/// Prefix of the rule ids of anomaly alerts (`kasbah.anomaly.new_template`, ...).
pub const RULE_PREFIX: &str = "kasbah.anomaly.";

/// Version of the saved state.
const STATE_VERSION: u32 = 1;

/// Most (entity, template) pairs remembered as already reported new; past it the memory is
/// cleared (a template may then be reported once more per entity).
const MAX_REPORTED: usize = 100_000;

/// What a tenant may tune.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Event time that learning covers at least, from the tenant's first text event, seconds.
    pub learning_secs: u64,
    /// Events that learning sees at least.
    pub learning_events: u64,
    /// Findings weighing at least this much become alerts. Weights: new template, unexpected
    /// transition and unseen mix 1.0; burst 0.8; rare template 0.6.
    pub threshold: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            learning_secs: 86_400,
            learning_events: 10_000,
            threshold: 0.8,
        }
    }
}

impl Settings {
    /// Checks values a user set.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.threshold.is_finite() && self.threshold > 0.0) {
            return Err(format!(
                "threshold must be a positive number, not {}",
                self.threshold
            ));
        }
        Ok(())
    }
}

/// Settings shared by every tenant.
#[derive(Clone, Debug, PartialEq)]
pub struct AnomalyConfig {
    /// A new tenant's settings.
    pub defaults: Settings,
    /// Fields naming an event's entity, first present wins (`host.name`, `service.name`, ...).
    pub entity_fields: Vec<String>,
    /// Windows and model of `kasbah-ml`.
    pub detector: DetectorConfig,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        AnomalyConfig {
            defaults: Settings::default(),
            entity_fields: ["host.name", "host.hostname", "observer.hostname"]
                .map(String::from)
                .to_vec(),
            detector: server_detector(),
        }
    }
}

/// The model settings for a server's streams: a pair of templates seen a few times in
/// learning does not judge (windows of a host's log start at arbitrary points).
fn server_detector() -> DetectorConfig {
    let mut d = DetectorConfig::default();
    d.model.min_support_last = 20;
    d
}

/// The entity an event is about, per `fields`: the field and its value.
pub fn entity_of<'e>(fields: &'e [String], ev: &Event) -> Option<(&'e str, String)> {
    fields.iter().find_map(|f| match ev.get_name(f) {
        Some(Value::Str(s)) if !s.trim().is_empty() && s.as_str() != "-" => {
            Some((f.as_str(), s.to_string()))
        }
        Some(Value::Int(i)) => Some((f.as_str(), i.to_string())),
        _ => None,
    })
}

/// The alert entity kind of an entity field, when it names one.
fn entity_kind(field: &str) -> Option<EntityKind> {
    if field.starts_with("host.") || field.starts_with("observer.") {
        Some(EntityKind::Host)
    } else if field.starts_with("user.") {
        Some(EntityKind::User)
    } else if field.ends_with(".ip") {
        Some(EntityKind::Ip)
    } else if field.starts_with("process.") {
        Some(EntityKind::Process)
    } else {
        None
    }
}

/// Where a tenant's model is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Learning what is normal.
    Learning {
        /// Event time of the first event learned, ns.
        first: Option<i64>,
        /// Events learned.
        events: u64,
    },
    /// Checking events.
    Detecting {
        /// Event time at which learning ended, ns.
        since: i64,
        /// Events learned.
        learned: u64,
    },
}

/// A draft and whether it is about the event being checked (its id is then linked).
#[derive(Debug)]
pub struct AnomalyDraft {
    /// The draft.
    pub alert: NewAlert,
    /// Raised by the event just checked (not by the closing of another window).
    pub about_event: bool,
}

/// A tenant's anomaly model and where it stands.
#[derive(Debug, Serialize, Deserialize)]
pub struct TenantModel {
    version: u32,
    settings: Settings,
    phase: Phase,
    detector: Detector,
    /// (entity, template) pairs already reported as new.
    reported: FxHashSet<(String, u32)>,
}

/// A model's state, for people.
#[derive(Debug, Serialize)]
pub struct Status {
    /// The phase, with its figures.
    #[serde(flatten)]
    pub phase: Phase,
    /// The tenant's settings.
    pub settings: Settings,
    /// Windows (sessions) learned.
    pub sessions_learned: u64,
}

impl TenantModel {
    /// A model that starts learning.
    pub fn new(cfg: &AnomalyConfig) -> Result<TenantModel, kasbah_ml::Error> {
        Ok(TenantModel {
            version: STATE_VERSION,
            settings: cfg.defaults.clone(),
            phase: Phase::Learning {
                first: None,
                events: 0,
            },
            detector: Detector::new(cfg.detector.clone())?,
            reported: FxHashSet::default(),
        })
    }

    /// Where the model stands.
    pub fn status(&self) -> Status {
        Status {
            phase: self.phase.clone(),
            settings: self.settings.clone(),
            sessions_learned: self.detector.model().sessions(),
        }
    }

    /// Whether the model is still learning.
    pub fn is_learning(&self) -> bool {
        matches!(self.phase, Phase::Learning { .. })
    }

    /// Changes the tenant's settings (a shorter learning period ends learning at the next
    /// event).
    pub fn set_settings(&mut self, s: Settings) -> Result<(), String> {
        s.validate()?;
        self.settings = s;
        Ok(())
    }

    /// Forgets what was learned and starts a new learning period (settings are kept).
    pub fn relearn(&mut self, cfg: &AnomalyConfig) -> Result<(), kasbah_ml::Error> {
        let settings = std::mem::take(&mut self.settings);
        *self = TenantModel::new(cfg)?;
        self.settings = settings;
        Ok(())
    }

    /// Learns or checks one event of `entity` (its field and value) whose message has
    /// `template`; `text` gives a template's text for explanations.
    pub fn observe(
        &mut self,
        tenant: TenantId,
        ev: &Event,
        entity: (&str, &str),
        template: TemplateId,
        text: &dyn Fn(TemplateId) -> Option<String>,
    ) -> Vec<AnomalyDraft> {
        let ts = ev.timestamp.as_nanos();
        let secs = u64::try_from(ts.max(0) / 1_000_000_000).unwrap_or(0);
        let value = entity.1;
        match &mut self.phase {
            Phase::Learning { first, events } => {
                let first = *first.get_or_insert(ts);
                *events += 1;
                let events = *events;
                self.detector.learn(value, template, secs);
                let span = ts.saturating_sub(first);
                let needed = i64::try_from(self.settings.learning_secs)
                    .unwrap_or(i64::MAX / 1_000_000_000)
                    .saturating_mul(1_000_000_000);
                if events >= self.settings.learning_events && span >= needed {
                    self.detector.finish_learning();
                    self.phase = Phase::Detecting {
                        since: ts,
                        learned: events,
                    };
                }
                Vec::new()
            }
            Phase::Detecting { .. } => {
                let threshold = self.settings.threshold;
                let mut findings = self.detector.observe(value, template, secs);
                // A new template is also an unexpected next one: one alert says it.
                let new: Vec<TemplateId> = findings
                    .iter()
                    .filter_map(|f| match f.reason {
                        Reason::NewTemplate { template } => Some(template),
                        _ => None,
                    })
                    .collect();
                findings.retain(|f| {
                    !matches!(&f.reason, Reason::UnexpectedTransition { next: Some(n), .. }
                        if new.contains(n))
                });
                findings
                    .into_iter()
                    .filter(|f| f.score >= threshold)
                    .filter_map(|f| self.draft(tenant, ev, entity, f, text))
                    .collect()
            }
        }
    }

    fn draft(
        &mut self,
        tenant: TenantId,
        ev: &Event,
        (field, value): (&str, &str),
        f: Finding,
        text: &dyn Fn(TemplateId) -> Option<String>,
    ) -> Option<AnomalyDraft> {
        let (name, title, level, subject) = describe(&f.reason);
        if let Reason::NewTemplate { template } = f.reason {
            if self.reported.len() >= MAX_REPORTED {
                self.reported.clear();
            }
            if !self.reported.insert((f.entity.clone(), template.0)) {
                return None;
            }
        }
        // Window findings (unseen mix) may close another entity's window.
        let about_event = !matches!(f.reason, Reason::UnseenCounts { .. }) && f.entity == value;
        let rule_id = format!("{RULE_PREFIX}{name}");
        let mut entities = if about_event {
            alert::entities(ev)
        } else {
            Vec::new()
        };
        if let Some(kind) = entity_kind(field) {
            let e = Entity::new(kind, f.entity.clone());
            if !entities.iter().any(|x| x.kind == kind) {
                entities.insert(0, e);
            }
        }
        let key_subject = subject.map_or_else(String::new, |t| format!(":{t}"));
        let dedup_key = format!("{rule_id}{key_subject}\u{1f}{field}={}", f.entity);
        let at = if about_event {
            ev.timestamp.as_nanos()
        } else {
            i64::try_from(f.time.saturating_mul(1_000_000_000)).unwrap_or(i64::MAX)
        };
        let mut details = Map::new();
        details.insert("explanation".into(), Json::String(f.reason.explain(text)));
        details.insert(
            "anomaly.entity".into(),
            Json::String(format!("{field}={}", f.entity)),
        );
        details.insert("anomaly.score".into(), json!(f.score));
        if let Some(t) = subject {
            details.insert("log.template_id".into(), json!(t.0));
            if let Some(x) = text(t) {
                details.insert("log.template".into(), Json::String(x));
            }
        }
        if about_event && let Some(Value::Str(m)) = ev.get_name("message") {
            details.insert("message".into(), Json::String(alert::short(m, 300)));
        }
        if let Ok(reason) = serde_json::to_value(&f.reason) {
            details.insert("anomaly.reason".into(), reason);
        }
        Some(AnomalyDraft {
            about_event,
            alert: NewAlert {
                tenant,
                rule_id,
                rule_title: title.to_owned(),
                level: level.to_owned(),
                tags: Vec::new(),
                kind: AlertKind::Anomaly,
                entities,
                dedup_key,
                first_seen: at,
                last_seen: at,
                count: 1,
                event_ids: Vec::new(),
                retro: false,
                details: Json::Object(details).to_string(),
            },
        })
    }

    /// The state as JSON, to save with the tenant's data.
    pub fn to_json(&self) -> Result<String, kasbah_ml::Error> {
        serde_json::to_string(self).map_err(kasbah_ml::Error::State)
    }

    /// A state written by [`TenantModel::to_json`].
    pub fn from_json(s: &str) -> Result<TenantModel, kasbah_ml::Error> {
        let m: TenantModel = serde_json::from_str(s).map_err(kasbah_ml::Error::State)?;
        if m.version != STATE_VERSION {
            return Err(kasbah_ml::Error::Version {
                found: m.version,
                expected: STATE_VERSION,
            });
        }
        Ok(m)
    }
}

/// Name, title, level and the template a reason is about.
fn describe(r: &Reason) -> (&'static str, &'static str, &'static str, Option<TemplateId>) {
    match r {
        Reason::NewTemplate { template } => (
            "new_template",
            "Log message never seen while learning",
            "low",
            Some(*template),
        ),
        Reason::RareTemplate { template, .. } => (
            "rare_template",
            "Rare log message",
            "informational",
            Some(*template),
        ),
        Reason::UnexpectedTransition { next, .. } => (
            "unexpected_sequence",
            "Log messages in an unusual order",
            "low",
            *next,
        ),
        Reason::UnseenCounts { .. } => (
            "unseen_mix",
            "Unusual mix of log messages in a window",
            "low",
            None,
        ),
        Reason::UnusualCount { template, .. } => {
            ("burst", "Burst of a log message", "medium", Some(*template))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kasbah_event::{Source, Timestamp};

    fn ev(host: &str, secs: i64, msg: &str) -> Event {
        let mut e = Event::new(
            Timestamp::from_nanos(secs * 1_000_000_000),
            Source::Input {
                name: std::sync::Arc::from("test"),
            },
        );
        e.fields.set_name("host.name", host);
        e.fields.set_name("message", msg);
        e
    }

    fn cfg(events: u64, secs: u64) -> AnomalyConfig {
        AnomalyConfig {
            defaults: Settings {
                learning_secs: secs,
                learning_events: events,
                threshold: 0.8,
            },
            ..AnomalyConfig::default()
        }
    }

    fn feed(m: &mut TenantModel, host: &str, t: i64, template: u32) -> Vec<AnomalyDraft> {
        let e = ev(host, t, &format!("message of template {template}"));
        m.observe(
            TenantId(1),
            &e,
            ("host.name", host),
            TemplateId(template),
            &|id| Some(format!("text {id}")),
        )
    }

    #[test]
    fn learns_for_the_period_then_reports_a_new_template_once_per_entity() {
        let mut m = TenantModel::new(&cfg(100, 3600)).unwrap();
        // 100 events in 99 s: enough events, not enough time yet.
        for i in 0..100 {
            assert!(feed(&mut m, "web01", i, (i % 3) as u32).is_empty());
        }
        assert!(matches!(
            m.status().phase,
            Phase::Learning { events: 100, .. }
        ));
        for i in 0..10 {
            let got = feed(&mut m, "web01", 3600 + i, (i % 3) as u32);
            assert!(got.is_empty(), "{i}: {got:?}");
        }
        assert!(
            matches!(m.status().phase, Phase::Detecting { learned: 101, .. }),
            "{:?}",
            m.status()
        );
        let got = feed(&mut m, "web01", 4000, 7);
        let new: Vec<_> = got
            .iter()
            .filter(|d| d.alert.rule_id == "kasbah.anomaly.new_template")
            .collect();
        assert_eq!(new.len(), 1, "{got:?}");
        let a = &new[0].alert;
        assert!(new[0].about_event);
        assert_eq!(a.kind, AlertKind::Anomaly);
        assert_eq!(a.entities[0], Entity::new(EntityKind::Host, "web01"));
        let d: Json = serde_json::from_str(&a.details).unwrap();
        assert_eq!(d["explanation"], "new template #7 \"text 7\"");
        assert_eq!(d["log.template_id"], 7);
        // The same template on the same host is not new twice; on another host it is.
        assert!(
            feed(&mut m, "web01", 4001, 7)
                .iter()
                .all(|d| d.alert.rule_id != "kasbah.anomaly.new_template")
        );
        let other = feed(&mut m, "web02", 4002, 7);
        assert!(
            other
                .iter()
                .any(|d| d.alert.rule_id == "kasbah.anomaly.new_template"
                    && d.alert.dedup_key.ends_with("host.name=web02"))
        );
        // Known templates in the learned order raise nothing.
        assert!(feed(&mut m, "web03", 4003, 0).is_empty());
    }

    #[test]
    fn an_unusual_order_and_a_burst_are_reported_with_their_explanation() {
        let mut c = cfg(600, 0);
        c.detector.window_events = 100;
        let mut m = TenantModel::new(&c).unwrap();
        for i in 0..600 {
            feed(&mut m, "db01", i, (i % 3) as u32);
        }
        assert!(matches!(m.status().phase, Phase::Detecting { .. }));
        assert!(feed(&mut m, "db01", 400, 0).is_empty());
        let got = feed(&mut m, "db01", 401, 2);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].alert.rule_id, "kasbah.anomaly.unexpected_sequence");
        let d: Json = serde_json::from_str(&got[0].alert.details).unwrap();
        assert_eq!(
            d["explanation"],
            // Windows of 100 events end after a 0: the end is a usual next too.
            "unexpected #2 \"text 2\" after #0 \"text 0\"; usual next: #1, (end)"
        );
        // Template 1 came at most 34 times in a learned window (6 windows of 100 events): the
        // 35th in one is a burst.
        let mut bursts = 0;
        for i in 0..50 {
            bursts += feed(&mut m, "db01", 500 + i, 1)
                .iter()
                .filter(|d| d.alert.rule_id == "kasbah.anomaly.burst" && d.alert.level == "medium")
                .count();
        }
        assert_eq!(bursts, 1);
    }

    #[test]
    fn the_threshold_filters_findings_and_state_round_trips() {
        let mut m = TenantModel::new(&cfg(10, 0)).unwrap();
        for i in 0..10 {
            feed(&mut m, "h", i, 1);
        }
        assert!(matches!(m.status().phase, Phase::Detecting { .. }));
        m.set_settings(Settings {
            threshold: 5.0,
            ..m.status().settings
        })
        .unwrap();
        assert!(feed(&mut m, "h", 20, 9).is_empty(), "nothing weighs 5");
        assert!(
            m.set_settings(Settings {
                threshold: f64::NAN,
                ..Settings::default()
            })
            .is_err()
        );
        let json = m.to_json().unwrap();
        let mut back = TenantModel::from_json(&json).unwrap();
        assert_eq!(back.status().settings.threshold, 5.0);
        assert!(matches!(back.status().phase, Phase::Detecting { .. }));
        back.relearn(&cfg(10, 0)).unwrap();
        assert!(matches!(
            back.status().phase,
            Phase::Learning { events: 0, .. }
        ));
        assert_eq!(back.status().settings.threshold, 5.0, "settings survive");
        assert!(TenantModel::from_json("{\"version\":99}").is_err());
    }

    #[test]
    fn entities_come_from_the_first_present_field() {
        let fields = AnomalyConfig::default().entity_fields;
        let mut e = ev("web01", 0, "x");
        assert_eq!(
            entity_of(&fields, &e),
            Some(("host.name", "web01".to_owned()))
        );
        e.fields.set_name("host.name", "-");
        e.fields.set_name("host.hostname", "h2");
        assert_eq!(
            entity_of(&fields, &e),
            Some(("host.hostname", "h2".to_owned()))
        );
        assert_eq!(entity_kind("service.name"), None);
        assert_eq!(entity_kind("source.ip"), Some(EntityKind::Ip));
    }
}
