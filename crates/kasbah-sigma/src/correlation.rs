//! Sigma correlation rules, evaluated in event time.
//!
//! The engine matches events statelessly; correlation needs state, kept by a [`Correlator`]:
//! each detection of a rule referenced by a correlation becomes a [`Capture`] (event time, the
//! group-by values, the aggregated field's value), and captures fed in time order drive one
//! window per correlation and group.
//!
//! Window semantics:
//! * `event_count`, `value_count`, `value_sum`, `value_avg`, `value_percentile`, `value_median`:
//!   when the condition only bounds from below (`gt`/`gte`), a sliding window of `timespan`
//!   ending at each new event; the correlation fires as soon as the condition holds, then the
//!   group's window restarts empty (one alert per burst, not one per event). With an upper bound
//!   (`lt`, `lte`, `eq`, `neq`) the answer is only known when the window is complete: windows
//!   are then tumbling, opened by a group's first event and evaluated when an event past their
//!   end arrives or at [`Correlator::finish`].
//! * `temporal`: the last time each referenced rule matched, per group; fires when the number of
//!   rules seen within `timespan` satisfies the condition (all of them by default).
//! * `temporal_ordered`: the rules must match in the listed order, the whole chain within
//!   `timespan`.
//!
//! Events that lack a group-by field are not counted (as `stats ... by` drops them). A
//! correlation may reference other correlations (chains): their alerts are captures of the next
//! level, carrying their group-by values. Group-by names resolve through `aliases` per rule, and
//! through the log-source renames of each referenced rule.

use std::collections::VecDeque;

use kasbah_event::{Event, Timestamp, Value};
use rustc_hash::{FxHashMap, FxHashSet};

use crate::ast::{Correlation, CorrelationCondition, CorrelationType, LogSource};
use crate::compile::{CompileOptions, Ctx, Renames};
use crate::diag::{Code, Diagnostic};
use crate::engine::{CompiledRule, Engine, Hit, RuleId, RuleInfo, RuleKind};
use crate::matcher::{FieldRef, with_text};

/// Most entries kept in one group's window (oldest dropped beyond).
const MAX_WINDOW: usize = 100_000;
/// Stale groups are swept every this many captures per correlation.
const SWEEP_EVERY: u64 = 8_192;
/// Most groups tracked per correlation; beyond (after a sweep), new groups are not tracked, so a
/// flood of distinct group-by values cannot exhaust memory.
const MAX_GROUPS: usize = 1_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Input {
    Rule(RuleId),
    Corr(usize),
}

#[derive(Debug)]
pub(crate) enum KeySrc {
    Field(FieldRef),
    Upstream(usize),
    Missing,
}

#[derive(Debug)]
pub(crate) struct CorrelationDef {
    pub id: RuleId,
    pub kind: CorrelationType,
    pub span: i64,
    pub cond: CorrelationCondition,
    pub inputs: Vec<Input>,
    pub group_by: Vec<String>,
    /// `[input][group-by]`.
    pub keys: Vec<Vec<KeySrc>>,
    /// `[input]`: where the aggregated value comes from.
    pub value: Vec<KeySrc>,
}

/// One detection of a rule referenced by a correlation, reduced to what the correlation needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Capture {
    corr: u32,
    input: u32,
    /// Event time, nanoseconds.
    pub ts: i64,
    key: Vec<String>,
    value: Option<String>,
}

/// A correlation rule that fired.
#[derive(Clone, Debug, PartialEq)]
pub struct CorrelationAlert {
    /// The correlation rule.
    pub rule: RuleId,
    /// Time of the first event in the window.
    pub first: Timestamp,
    /// Time of the event that completed the correlation.
    pub last: Timestamp,
    /// The group-by fields and their values.
    pub group: Vec<(String, String)>,
    /// The measured value: event count, distinct values, sum, average, percentile, or number
    /// of rules seen.
    pub value: f64,
    /// Number of captures in the window.
    pub events: u64,
}

#[derive(Clone, Debug)]
enum Val {
    None,
    Str(String),
    Num(f64),
}

#[derive(Debug)]
enum Window {
    Sliding(VecDeque<(i64, Val)>),
    Tumbling {
        start: i64,
        entries: Vec<(i64, Val)>,
    },
    Temporal(Vec<Option<i64>>),
    Ordered(Vec<Option<i64>>),
}

/// Compiles the correlation documents. Returns the definitions, their [`RuleInfo`]s (to append
/// after the detection rules) and diagnostics; marks referenced rules unreported when a
/// correlation says `generate: false`.
pub(crate) fn compile(
    corrs: &[&Correlation],
    infos: &mut [RuleInfo],
    rules: &[CompiledRule],
    renames_of: &dyn Fn(&CompiledRule) -> Vec<Renames>,
    opts: &CompileOptions,
) -> (Vec<CorrelationDef>, Vec<RuleInfo>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let find_rule = |r: &str| {
        infos
            .iter()
            .position(|i| i.meta.id.as_deref() == Some(r) || i.meta.name.as_deref() == Some(r))
    };
    let find_corr = |r: &str| {
        corrs
            .iter()
            .position(|c| c.meta.id.as_deref() == Some(r) || c.meta.name.as_deref() == Some(r))
    };
    // Resolve references; None = invalid.
    let mut resolved: Vec<Option<Vec<Input>>> = Vec::with_capacity(corrs.len());
    for c in corrs {
        let mut inputs = Vec::with_capacity(c.rules.len());
        let mut ok = true;
        for r in &c.rules {
            if let Some(i) = find_corr(r) {
                inputs.push(Input::Corr(i));
            } else if let Some(i) = find_rule(r) {
                inputs.push(Input::Rule(RuleId(i as u32)));
            } else {
                diags.push(Diagnostic::new(
                    &c.meta.path,
                    c.meta.line,
                    Code::Reference,
                    format!(
                        "correlation '{}' refers to '{r}', which is not a loaded rule (id or name)",
                        c.meta.title
                    ),
                ));
                ok = false;
            }
        }
        resolved.push(ok.then_some(inputs));
    }
    // Cycles and references to invalid correlations: iterate to a fixed point.
    let mut valid: Vec<bool> = resolved.iter().map(Option::is_some).collect();
    // Depth-first search for cycles.
    let mut state = vec![0u8; corrs.len()]; // 0 new, 1 visiting, 2 done
    fn visit(
        i: usize,
        resolved: &[Option<Vec<Input>>],
        state: &mut [u8],
        cyc: &mut [bool],
    ) -> bool {
        match state.get(i) {
            Some(1) => return true,
            Some(2) => return cyc.get(i).copied().unwrap_or(false),
            _ => {}
        }
        if let Some(s) = state.get_mut(i) {
            *s = 1;
        }
        let mut in_cycle = false;
        if let Some(Some(inputs)) = resolved.get(i) {
            for inp in inputs {
                if let Input::Corr(j) = inp
                    && visit(*j, resolved, state, cyc)
                {
                    in_cycle = true;
                }
            }
        }
        if let Some(s) = state.get_mut(i) {
            *s = 2;
        }
        if let Some(c) = cyc.get_mut(i) {
            *c = in_cycle;
        }
        in_cycle
    }
    let mut cyclic = vec![false; corrs.len()];
    for i in 0..corrs.len() {
        visit(i, &resolved, &mut state, &mut cyclic);
    }
    for (i, c) in corrs.iter().enumerate() {
        if cyclic.get(i).copied().unwrap_or(false) && valid[i] {
            valid[i] = false;
            diags.push(Diagnostic::new(
                &c.meta.path,
                c.meta.line,
                Code::Cycle,
                format!(
                    "correlation '{}' is part of a reference cycle",
                    c.meta.title
                ),
            ));
        }
    }
    loop {
        let mut changed = false;
        for i in 0..corrs.len() {
            if !valid[i] {
                continue;
            }
            let bad = resolved[i].as_ref().is_some_and(|ins| {
                ins.iter()
                    .any(|x| matches!(x, Input::Corr(j) if !valid[*j]))
            });
            if bad {
                valid[i] = false;
                changed = true;
                let c = corrs[i];
                diags.push(Diagnostic::new(
                    &c.meta.path,
                    c.meta.line,
                    Code::Reference,
                    format!(
                        "correlation '{}' refers to a correlation that could not be loaded",
                        c.meta.title
                    ),
                ));
            }
        }
        if !changed {
            break;
        }
    }
    // Number the valid ones.
    let base = infos.len();
    let mut number = vec![usize::MAX; corrs.len()];
    let mut next = 0;
    for i in 0..corrs.len() {
        if valid[i] {
            number[i] = next;
            next += 1;
        }
    }
    let mut defs = Vec::new();
    let mut out_infos = Vec::new();
    for (i, c) in corrs.iter().enumerate() {
        if !valid[i] {
            continue;
        }
        let Some(inputs) = resolved[i].as_ref() else {
            continue;
        };
        let inputs: Vec<Input> = inputs
            .iter()
            .map(|x| match x {
                Input::Corr(j) => Input::Corr(number[*j]),
                r => *r,
            })
            .collect();
        let alias_for = |group: &str, input_ref: &str| -> Option<String> {
            c.aliases
                .iter()
                .find(|(a, _)| a == group)
                .and_then(|(_, m)| m.iter().find(|(r, _)| r == input_ref))
                .map(|(_, f)| f.clone())
        };
        let mut keys = Vec::with_capacity(inputs.len());
        let mut value = Vec::with_capacity(inputs.len());
        let mut failed = None;
        for (pos, inp) in inputs.iter().enumerate() {
            let input_ref = c.rules.get(pos).map(String::as_str).unwrap_or_default();
            match inp {
                Input::Rule(rid) => {
                    let Some(rule) = rules.get(rid.0 as usize) else {
                        continue;
                    };
                    let renames = renames_of(rule);
                    let ctx = Ctx {
                        opts,
                        renames: &renames,
                    };
                    let mut k = Vec::with_capacity(c.group_by.len());
                    for g in &c.group_by {
                        let field = alias_for(g, input_ref).unwrap_or_else(|| g.clone());
                        match ctx.field(&field, c.meta.line) {
                            Ok(f) => k.push(KeySrc::Field(f)),
                            Err(p) => failed = Some(p.message),
                        }
                    }
                    keys.push(k);
                    value.push(match c.condition.field.first() {
                        Some(f) => {
                            let field = alias_for(f, input_ref).unwrap_or_else(|| f.clone());
                            match ctx.field(&field, c.meta.line) {
                                Ok(f) => KeySrc::Field(f),
                                Err(p) => {
                                    failed = Some(p.message);
                                    KeySrc::Missing
                                }
                            }
                        }
                        None => KeySrc::Missing,
                    });
                }
                Input::Corr(j) => {
                    let up = defs.get(*j).map(|d: &CorrelationDef| &d.group_by);
                    let k = c
                        .group_by
                        .iter()
                        .map(|g| {
                            let name = alias_for(g, input_ref).unwrap_or_else(|| g.clone());
                            match up.and_then(|u| u.iter().position(|x| *x == name)) {
                                Some(p) => KeySrc::Upstream(p),
                                None => KeySrc::Missing,
                            }
                        })
                        .collect();
                    keys.push(k);
                    value.push(KeySrc::Missing);
                }
            }
        }
        if let Some(msg) = failed {
            diags.push(Diagnostic::new(
                &c.meta.path,
                c.meta.line,
                Code::Correlation,
                msg,
            ));
            continue;
        }
        if !c.generate {
            for inp in &inputs {
                if let Input::Rule(r) = inp
                    && let Some(info) = infos.get_mut(r.0 as usize)
                {
                    info.reported = false;
                }
            }
        }
        let id = RuleId((base + defs.len()) as u32);
        defs.push(CorrelationDef {
            id,
            kind: c.kind,
            span: c.timespan_ns,
            cond: c.condition.clone(),
            inputs,
            group_by: c.group_by.clone(),
            keys,
            value,
        });
        out_infos.push(RuleInfo {
            meta: c.meta.clone(),
            logsource: LogSource::default(),
            condition: describe(c),
            kind: RuleKind::Correlation(c.kind),
            reported: true,
        });
    }
    // A correlation referenced by another with generate: false reports nothing on its own.
    for (i, c) in corrs.iter().enumerate() {
        if !valid[i] || c.generate {
            continue;
        }
        if let Some(Some(ins)) = resolved.get(i) {
            for inp in ins {
                if let Input::Corr(j) = inp
                    && let Some(info) = number.get(*j).and_then(|n| out_infos.get_mut(*n))
                {
                    info.reported = false;
                }
            }
        }
    }
    (defs, out_infos, diags)
}

fn describe(c: &Correlation) -> String {
    let ops: Vec<String> = c
        .condition
        .ops
        .iter()
        .map(|(op, v)| format!("{op:?} {v}").to_lowercase())
        .collect();
    let field = if c.condition.field.is_empty() {
        String::new()
    } else {
        format!(" of {}", c.condition.field.join(","))
    };
    format!(
        "{}{field} {} within {} by [{}] over [{}]",
        c.kind.as_str(),
        ops.join(" and "),
        c.timespan_text,
        c.group_by.join(", "),
        c.rules.join(", ")
    )
}

fn read(src: &KeySrc, ev: &Event, variant: usize) -> Option<String> {
    match src {
        KeySrc::Field(f) => match f.get(ev, variant)? {
            Value::Null => None,
            Value::List(items) => Some(
                items
                    .iter()
                    .map(|i| with_text(i, str::to_owned))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            v => Some(with_text(v, str::to_owned)),
        },
        KeySrc::Upstream(_) | KeySrc::Missing => None,
    }
}

impl Engine {
    /// The captures a set of detections of one event produce for the correlations.
    pub fn captures(&self, ev: &Event, hits: &[Hit], out: &mut Vec<Capture>) {
        if self.correlations.is_empty() {
            return;
        }
        for h in hits {
            for (ci, c) in self.correlations.iter().enumerate() {
                for (pos, inp) in c.inputs.iter().enumerate() {
                    if *inp != Input::Rule(h.rule) {
                        continue;
                    }
                    let variant = h.variant as usize;
                    let Some(keys) = c.keys.get(pos) else {
                        continue;
                    };
                    let key: Option<Vec<String>> =
                        keys.iter().map(|k| read(k, ev, variant)).collect();
                    let Some(key) = key else { continue };
                    let value = c.value.get(pos).and_then(|v| read(v, ev, variant));
                    if c.kind.needs_field() && value.is_none() {
                        continue;
                    }
                    out.push(Capture {
                        corr: ci as u32,
                        input: pos as u32,
                        ts: ev.timestamp.as_nanos(),
                        key,
                        value,
                    });
                }
            }
        }
    }

    /// The longest correlation timespan, in ns (`None` without correlations): how much event
    /// history rebuilds every correlation window.
    pub fn correlation_horizon(&self) -> Option<i64> {
        self.correlations.iter().map(|c| c.span).max()
    }

    /// True if the rule feeds at least one correlation.
    pub fn is_correlated(&self, rule: RuleId) -> bool {
        self.correlations
            .iter()
            .any(|c| c.inputs.contains(&Input::Rule(rule)))
    }
}

/// The engine a [`Correlator`] works for: borrowed (a hunt, whose engine outlives it) or shared
/// (a server, which replaces a tenant's engine while correlators of the old one drain).
#[derive(Clone, Debug)]
pub enum EngineRef<'e> {
    /// Borrowed for the correlator's life.
    Borrowed(&'e Engine),
    /// Shared ownership.
    Shared(std::sync::Arc<Engine>),
}

impl std::ops::Deref for EngineRef<'_> {
    type Target = Engine;

    fn deref(&self) -> &Engine {
        match self {
            EngineRef::Borrowed(e) => e,
            EngineRef::Shared(e) => e,
        }
    }
}

impl<'e> From<&'e Engine> for EngineRef<'e> {
    fn from(e: &'e Engine) -> Self {
        EngineRef::Borrowed(e)
    }
}

impl From<std::sync::Arc<Engine>> for EngineRef<'static> {
    fn from(e: std::sync::Arc<Engine>) -> Self {
        EngineRef::Shared(e)
    }
}

/// The state of every correlation of an engine.
pub struct Correlator<'e> {
    engine: EngineRef<'e>,
    windows: Vec<FxHashMap<Vec<String>, Window>>,
    feeds: Vec<u64>,
    now: i64,
}

fn percentile(values: &mut [f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let rank = (p / 100.0).clamp(0.0, 1.0) * (values.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    let (a, b) = (values.get(lo)?, values.get(hi)?);
    Some(a + (b - a) * (rank - lo as f64))
}

fn metric<'a>(
    kind: CorrelationType,
    cond: &CorrelationCondition,
    entries: impl Iterator<Item = &'a (i64, Val)>,
) -> Option<(f64, u64)> {
    let mut n = 0u64;
    match kind {
        CorrelationType::EventCount => {
            let c = entries.count() as u64;
            Some((c as f64, c))
        }
        CorrelationType::ValueCount => {
            let mut set: FxHashSet<&str> = FxHashSet::default();
            for (_, v) in entries {
                n += 1;
                if let Val::Str(s) = v {
                    set.insert(s);
                }
            }
            Some((set.len() as f64, n))
        }
        _ => {
            let mut nums: Vec<f64> = Vec::new();
            for (_, v) in entries {
                n += 1;
                if let Val::Num(x) = v {
                    nums.push(*x);
                }
            }
            if nums.is_empty() {
                return None;
            }
            let x = match kind {
                CorrelationType::ValueSum => nums.iter().sum(),
                CorrelationType::ValueAvg => nums.iter().sum::<f64>() / nums.len() as f64,
                CorrelationType::ValueMedian => percentile(&mut nums, 50.0)?,
                _ => percentile(&mut nums, cond.percentile.unwrap_or(50.0))?,
            };
            Some((x, n))
        }
    }
}

impl<'e> Correlator<'e> {
    /// Empty state for `engine`'s correlations.
    pub fn new(engine: impl Into<EngineRef<'e>>) -> Self {
        let engine = engine.into();
        let n = engine.correlations.len();
        Correlator {
            engine,
            windows: (0..n).map(|_| FxHashMap::default()).collect(),
            feeds: vec![0; n],
            now: i64::MIN,
        }
    }

    /// Matches and feeds one event's detections (streaming use). Alerts go to `out`.
    pub fn observe(&mut self, ev: &Event, hits: &[Hit], out: &mut Vec<CorrelationAlert>) {
        let mut caps = Vec::new();
        self.engine.captures(ev, hits, &mut caps);
        for c in caps {
            self.feed(c, out);
        }
    }

    /// Feeds one capture; feed them in event-time order.
    pub fn feed(&mut self, cap: Capture, out: &mut Vec<CorrelationAlert>) {
        let mut queue = vec![cap];
        while let Some(cap) = queue.pop() {
            let before = out.len();
            self.feed_one(cap, out);
            // Chains: alerts of a correlation are captures of those that reference it.
            for a in out.get(before..).unwrap_or_default().to_vec() {
                self.chain(&a, &mut queue);
            }
        }
    }

    fn chain(&self, a: &CorrelationAlert, queue: &mut Vec<Capture>) {
        let Some(src) = self.engine.correlations.iter().position(|c| c.id == a.rule) else {
            return;
        };
        for (ci, c) in self.engine.correlations.iter().enumerate() {
            for (pos, inp) in c.inputs.iter().enumerate() {
                if *inp != Input::Corr(src) {
                    continue;
                }
                let Some(keys) = c.keys.get(pos) else {
                    continue;
                };
                let key: Option<Vec<String>> = keys
                    .iter()
                    .map(|k| match k {
                        KeySrc::Upstream(i) => a.group.get(*i).map(|(_, v)| v.clone()),
                        _ => None,
                    })
                    .collect();
                let Some(key) = key else { continue };
                queue.push(Capture {
                    corr: ci as u32,
                    input: pos as u32,
                    ts: a.last.as_nanos(),
                    key,
                    value: Some(a.value.to_string()),
                });
            }
        }
    }

    fn alert(
        def: &CorrelationDef,
        key: &[String],
        first: i64,
        last: i64,
        value: f64,
        events: u64,
    ) -> CorrelationAlert {
        CorrelationAlert {
            rule: def.id,
            first: Timestamp::from_nanos(first),
            last: Timestamp::from_nanos(last),
            group: def
                .group_by
                .iter()
                .cloned()
                .zip(key.iter().cloned())
                .collect(),
            value,
            events,
        }
    }

    fn feed_one(&mut self, cap: Capture, out: &mut Vec<CorrelationAlert>) {
        let ci = cap.corr as usize;
        // A handle of its own (a copy, or one reference count) so `def` outlives `&mut self`.
        let engine = self.engine.clone();
        let Some(def) = engine.correlations.get(ci) else {
            return;
        };
        self.now = self.now.max(cap.ts);
        let val = match (def.kind, cap.value) {
            (CorrelationType::ValueCount, Some(s)) => Val::Str(s),
            (k, Some(s)) if k.needs_field() => match s.trim().parse::<f64>() {
                Ok(x) if x.is_finite() => Val::Num(x),
                _ => return,
            },
            _ => Val::None,
        };
        let Some(windows) = self.windows.get_mut(ci) else {
            return;
        };
        let n_inputs = def.inputs.len();
        let monotone = def.cond.is_monotone();
        if windows.len() >= MAX_GROUPS && !windows.contains_key(&cap.key) {
            self.sweep(ci, out);
            match self.windows.get(ci) {
                Some(w) if w.len() < MAX_GROUPS => {}
                _ => return,
            }
        }
        let Some(windows) = self.windows.get_mut(ci) else {
            return;
        };
        let w = windows
            .entry(cap.key.clone())
            .or_insert_with(|| match def.kind {
                CorrelationType::Temporal => Window::Temporal(vec![None; n_inputs]),
                CorrelationType::TemporalOrdered => Window::Ordered(vec![None; n_inputs + 1]),
                _ if monotone => Window::Sliding(VecDeque::new()),
                _ => Window::Tumbling {
                    start: cap.ts,
                    entries: Vec::new(),
                },
            });
        let ts = cap.ts;
        match w {
            Window::Sliding(q) => {
                q.push_back((ts, val));
                while q
                    .front()
                    .is_some_and(|(t, _)| *t < ts.saturating_sub(def.span))
                    || q.len() > MAX_WINDOW
                {
                    q.pop_front();
                }
                if let Some((x, n)) = metric(def.kind, &def.cond, q.iter())
                    && def.cond.test(x)
                {
                    let first = q.front().map_or(ts, |(t, _)| *t);
                    out.push(Self::alert(def, &cap.key, first, ts, x, n));
                    q.clear();
                }
            }
            Window::Tumbling { start, entries } => {
                if ts.saturating_sub(*start) > def.span {
                    if let Some((x, n)) = metric(def.kind, &def.cond, entries.iter())
                        && def.cond.test(x)
                    {
                        let last = entries.last().map_or(*start, |(t, _)| *t);
                        out.push(Self::alert(def, &cap.key, *start, last, x, n));
                    }
                    entries.clear();
                    *start = ts;
                }
                if entries.len() < MAX_WINDOW {
                    entries.push((ts, val));
                }
            }
            Window::Temporal(last) => {
                if let Some(s) = last.get_mut(cap.input as usize) {
                    *s = Some(ts);
                }
                let live: Vec<i64> = last
                    .iter()
                    .flatten()
                    .copied()
                    .filter(|t| *t >= ts.saturating_sub(def.span))
                    .collect();
                let x = live.len() as f64;
                if def.cond.test(x) {
                    let first = live.iter().copied().min().unwrap_or(ts);
                    out.push(Self::alert(def, &cap.key, first, ts, x, live.len() as u64));
                    last.iter_mut().for_each(|s| *s = None);
                }
            }
            Window::Ordered(chain) => {
                let i = cap.input as usize;
                // chain[k] = start time of the newest chain having matched inputs 0..k.
                let start = if i == 0 {
                    Some(ts)
                } else {
                    chain
                        .get(i)
                        .copied()
                        .flatten()
                        .filter(|s| ts.saturating_sub(*s) <= def.span)
                };
                if let (Some(s), Some(slot)) = (start, chain.get_mut(i + 1)) {
                    *slot = Some(slot.map_or(s, |old| old.max(s)));
                }
                if let Some(Some(s)) = chain.get(n_inputs) {
                    let s = *s;
                    out.push(Self::alert(
                        def,
                        &cap.key,
                        s,
                        ts,
                        n_inputs as f64,
                        n_inputs as u64,
                    ));
                    chain.iter_mut().for_each(|x| *x = None);
                }
            }
        }
        if let Some(f) = self.feeds.get_mut(ci) {
            *f += 1;
            if *f % SWEEP_EVERY == 0 {
                self.sweep(ci, out);
            }
        }
    }

    /// Drops groups whose window ended before the latest event (closing tumbling windows).
    fn sweep(&mut self, ci: usize, out: &mut Vec<CorrelationAlert>) {
        let Some(def) = self.engine.correlations.get(ci) else {
            return;
        };
        let Some(windows) = self.windows.get_mut(ci) else {
            return;
        };
        let now = self.now;
        windows.retain(|key, w| match w {
            Window::Sliding(q) => q
                .back()
                .is_some_and(|(t, _)| *t >= now.saturating_sub(def.span)),
            Window::Temporal(v) | Window::Ordered(v) => v
                .iter()
                .flatten()
                .any(|t| *t >= now.saturating_sub(def.span)),
            Window::Tumbling { start, entries } => {
                if now.saturating_sub(*start) <= def.span {
                    return true;
                }
                if let Some((x, n)) = metric(def.kind, &def.cond, entries.iter())
                    && def.cond.test(x)
                {
                    let last = entries.last().map_or(*start, |(t, _)| *t);
                    out.push(Self::alert(def, key, *start, last, x, n));
                }
                false
            }
        });
    }

    /// Correlates a whole batch of captures (any order): sorted by event time, fed, finished.
    /// What `kasbah hunt` and retro-hunts do over a closed set of events.
    pub fn run_batch(engine: &'e Engine, mut captures: Vec<Capture>) -> Vec<CorrelationAlert> {
        let mut out = Vec::new();
        if captures.is_empty() {
            return out;
        }
        captures.sort_by_key(|c| c.ts);
        let mut c = Correlator::new(engine);
        for cap in captures {
            c.feed(cap, &mut out);
        }
        c.finish(&mut out);
        out
    }

    /// End of input: evaluates every open tumbling window. Alerts go to `out`.
    pub fn finish(&mut self, out: &mut Vec<CorrelationAlert>) {
        for ci in 0..self.windows.len() {
            let before = out.len();
            self.now = i64::MAX;
            self.sweep(ci, out);
            let mut queue = Vec::new();
            for a in out.get(before..).unwrap_or_default().to_vec() {
                self.chain(&a, &mut queue);
            }
            queue.sort_by_key(|c| c.ts);
            for c in queue {
                self.feed(c, out);
            }
        }
    }
}
