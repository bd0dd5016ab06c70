//! What the console's overview and rule pages ask for beyond plain lists: a summary of a
//! period's alerts (by level over time, top rules, ATT&CK techniques) and rule tests against
//! pasted events (a loaded rule or a new Sigma text), which store nothing.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use kasbah_detect::alert::Attack;
use kasbah_event::Timestamp;
use kasbah_meta::{AlertFilter, Scope};
use kasbah_parse::{Item, Origin};
use serde::Deserialize;
use serde_json::{Value, json};

use super::alerts::{Q, blocking, detection, find_rule, json_body, meta_err, who};
use crate::error::ApiError;
use crate::state::Shared;
use crate::timespec;

/// Alerts read for one summary at most (newest first); beyond, `truncated` is set.
const MAX_SUMMARY_ALERTS: usize = 100_000;
/// Buckets of a summary at most.
const MAX_BUCKETS: i64 = 2_000;
/// Events of one rule test at most.
const MAX_TEST_EVENTS: usize = 10_000;

const LEVELS: [&str; 5] = ["critical", "high", "medium", "low", "informational"];

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct SummaryParams {
    from: Option<String>,
    to: Option<String>,
    span: Option<String>,
}

/// `GET /api/v1/alerts/summary?from=&to=&span=1h`: the period's alerts (by `first_seen`) per
/// level and time bucket, the busiest rules and the ATT&CK techniques with their tactics.
pub(super) async fn alerts(
    State(state): State<Shared>,
    headers: HeaderMap,
    Q(params): Q<SummaryParams>,
) -> Result<Json<Value>, ApiError> {
    let p = who(&state, &headers, Scope::Read)?;
    let now = Timestamp::now().as_nanos();
    let time = |s: &Option<String>| {
        s.as_deref()
            .map(|s| timespec::parse(s, now))
            .transpose()
            .map_err(ApiError::bad_request)
    };
    let (from, to) = (time(&params.from)?, time(&params.to)?);
    let span = match params.span.as_deref() {
        None => 3_600 * 1_000_000_000,
        Some(s) => kasbah_query::time::parse_span(s).ok_or_else(|| {
            ApiError::bad_request(format!("span {s:?}: use a number and ms, s, m, h, d or w"))
        })?,
    };
    blocking(move || {
        let filter = AlertFilter {
            from,
            to,
            limit: MAX_SUMMARY_ALERTS + 1,
            ..AlertFilter::default()
        };
        let mut list = state.alerts.alerts(p.tenant, &filter).map_err(meta_err)?;
        let truncated = list.len() > MAX_SUMMARY_ALERTS;
        list.truncate(MAX_SUMMARY_ALERTS);
        // Buckets aligned on the epoch, from the first alert (or `from`) to the last.
        let lo = list.iter().map(|a| a.alert.first_seen).min();
        let hi = list.iter().map(|a| a.alert.first_seen).max();
        let mut span = span;
        if let (Some(lo), Some(hi)) = (from.or(lo), to.or(hi)) {
            while (hi - lo) / span > MAX_BUCKETS {
                span *= 2;
            }
        }
        let mut buckets: BTreeMap<i64, [u64; 5]> = BTreeMap::new();
        let mut rules: HashMap<&str, (&str, &str, u64)> = HashMap::new();
        let mut techniques: BTreeMap<String, (Vec<String>, u64)> = BTreeMap::new();
        for a in &list {
            let n = &a.alert;
            let b = n.first_seen.div_euclid(span) * span;
            if let Some(i) = LEVELS.iter().position(|l| *l == n.level) {
                buckets.entry(b).or_default()[i] += 1;
            }
            rules
                .entry(&n.rule_id)
                .or_insert((&n.rule_title, &n.level, 0))
                .2 += 1;
            let attack = kasbah_detect::alert::attack(&n.tags);
            let tactics: Vec<String> = attack
                .iter()
                .filter_map(|x| match x {
                    Attack::Tactic(t) => Some(t.clone()),
                    Attack::Technique(_) => None,
                })
                .collect();
            for x in &attack {
                if let Attack::Technique(t) = x {
                    let e = techniques.entry(t.clone()).or_default();
                    for tac in &tactics {
                        if !e.0.contains(tac) {
                            e.0.push(tac.clone());
                        }
                    }
                    e.1 += 1;
                }
            }
        }
        // Empty buckets between the first and the last are filled, so charts show the gaps.
        if let (Some(&first), Some(&last)) = (buckets.keys().next(), buckets.keys().last()) {
            let mut t = first;
            while t < last {
                buckets.entry(t).or_default();
                t += span;
            }
        }
        let buckets: Vec<Value> = buckets
            .iter()
            .map(|(t, c)| {
                let mut v = json!({"time": Timestamp::from_nanos(*t).to_rfc3339()});
                for (i, l) in LEVELS.iter().enumerate() {
                    v[*l] = json!(c[i]);
                }
                v
            })
            .collect();
        let mut top: Vec<_> = rules.into_iter().collect();
        top.sort_by(|a, b| b.1.2.cmp(&a.1.2).then(a.0.cmp(b.0)));
        top.truncate(20);
        let mut techs: Vec<_> = techniques.into_iter().collect();
        techs.sort_by(|a, b| b.1.1.cmp(&a.1.1).then(a.0.cmp(&b.0)));
        Ok(Json(json!({
            "total": list.len(),
            "truncated": truncated,
            "span_secs": span / 1_000_000_000,
            "buckets": buckets,
            "top_rules": top.iter().map(|(id, (title, level, n))| json!({"rule_id": id, "title": title, "level": level, "count": n})).collect::<Vec<_>>(),
            "techniques": techs.iter().map(|(t, (tac, n))| json!({"technique": t, "tactics": tac, "count": n})).collect::<Vec<_>>(),
        })))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestBody {
    rule_id: Option<String>,
    sigma: Option<String>,
    events: String,
    format: Option<String>,
}

/// `POST /api/v1/rules/test` `{"rule_id" | "sigma", "events": "text", "format"?: "auto"}`:
/// matches pasted events (any text format the server ingests; `auto` by default) against one
/// loaded rule or new Sigma rules. Nothing is stored and no alert is raised; correlations run
/// over the pasted events in event time.
pub(super) async fn test_rule(
    State(state): State<Shared>,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let p = who(&state, &headers, Scope::Read)?;
    let d = detection(&state)?;
    let body: TestBody = json_body(b, r#"{"rule_id" | "sigma", "events", "format"?}"#)?;
    let format = super::api::format_param(body.format.as_deref(), None)?;
    let (detector, only) = match (&body.rule_id, &body.sigma) {
        (Some(id), None) => {
            let own = d.detector(p.tenant);
            let rid = find_rule(&own, id)?;
            (own, Some(rid))
        }
        (None, Some(text)) => (
            d.compile_adhoc(text).map_err(super::alerts::invalid_rule)?,
            None,
        ),
        _ => {
            return Err(ApiError::bad_request(
                "give rule_id (a loaded rule) or sigma (new rules), one of them",
            ));
        }
    };
    let st = state.clone();
    blocking(move || {
        let opts = st.parse_options(p.tenant);
        let origin = Origin::Input(Arc::from("rule-test"));
        let mut events = Vec::new();
        let mut errors = Vec::new();
        let mut rejected = 0u64;
        let mut sink = |item: Item| match item {
            Item::Event(e) if events.len() < MAX_TEST_EVENTS => events.push(*e),
            Item::Event(_) => {}
            Item::Bad(b) => {
                rejected += 1;
                if errors.len() < 20 {
                    errors.push(b);
                }
            }
        };
        kasbah_parse::parse_bytes(body.events.as_bytes(), format, &origin, &opts, &mut sink);
        let engine = detector.engine();
        let mut scratch = kasbah_sigma::Scratch::default();
        let mut hits = Vec::new();
        let mut captures = Vec::new();
        let mut matches = Vec::new();
        for (i, ev) in events.iter().enumerate() {
            hits.clear();
            engine.matches(ev, &mut scratch, &mut hits);
            hits.retain(|h| only.is_none_or(|o| o == h.rule));
            engine.captures(ev, &hits, &mut captures);
            for h in &hits {
                if let Some(info) = engine.rule(h.rule).filter(|i| i.reported) {
                    matches.push(json!({"event": i, "rule_id": info.id_or_title(),
                        "title": info.meta.title, "level": info.level().as_str()}));
                }
            }
        }
        let fired: Vec<Value> = kasbah_sigma::Correlator::run_batch(engine, captures)
            .iter()
            .filter(|c| only.is_none_or(|o| o == c.rule))
            .filter_map(|c| {
                let info = engine.rule(c.rule)?;
                Some(json!({"rule_id": info.id_or_title(), "title": info.meta.title,
                    "level": info.level().as_str(), "events": c.events, "value": c.value,
                    "group": c.group.iter().map(|(k, v)| json!({"field": k, "value": v})).collect::<Vec<_>>()}))
            })
            .collect();
        Ok(Json(json!({
            "events": events.len(),
            "rejected": rejected,
            "errors": super::api::errors_json(&errors),
            "matches": matches,
            "correlations": fired,
            "matched_events": matches.iter().filter_map(|m| m["event"].as_u64()).collect::<std::collections::BTreeSet<_>>().len(),
        })))
    })
    .await
}
