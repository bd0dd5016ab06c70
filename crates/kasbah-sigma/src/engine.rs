//! The compiled engine: rules grouped by log source, a literal prefilter in front, and the
//! per-event evaluation.
//!
//! Per event, [`Engine::matches`]:
//! 1. looks the event's `Channel` up in an index of the groups keyed on it (most Windows log
//!    sources), so the conditions of groups for other channels are never evaluated;
//! 2. scans the event's values once with the prefilter automaton, which yields the rules one of
//!    whose required literals occurs;
//! 3. adds the rules that have no literal requirement, for the groups that match the event;
//! 4. evaluates those candidate rules only, each in the log-source variant its group matched
//!    (the variant decides which event field a rule field name reads).
//!
//! Group conditions are evaluated lazily and at most once per event. The engine is immutable
//! and `Sync`: share it between threads, give each thread its own [`Scratch`].

use kasbah_event::{Event, FieldId, Value};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::ast::{
    Correlation, CorrelationType, Document, Filter, FilterTarget, Level, LogSource, Meta, Rule,
};
use crate::compile::{self, CSearch, CompileOptions, Ctx, Expr, Renames};
use crate::correlation::{self, CorrelationDef};
use crate::diag::{Code, Diagnostic, Problem};
use crate::logsource::Mappings;
use crate::matcher::{Scratch, StrKind, Target, Test};
use crate::prefilter::{self, Prefilter};
use crate::ruleset::RuleSet;

/// Index of a rule (detection or correlation) in an [`Engine`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct RuleId(pub u32);

/// A detection: the rule that matched, and the log-source variant it matched in.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hit {
    /// The rule.
    pub rule: RuleId,
    /// Which source of the rule's log-source mapping the event came from.
    pub variant: u16,
}

/// What kind of rule an entry is.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// A Sigma detection rule, matched per event.
    Detection,
    /// A correlation rule, matched over events in time.
    Correlation(CorrelationType),
}

/// What the engine knows about a loaded rule.
#[derive(Clone, Debug, Serialize)]
pub struct RuleInfo {
    /// Title, id, level, tags, file...
    pub meta: Meta,
    /// The rule's log source (empty for correlations).
    pub logsource: LogSource,
    /// The condition as written.
    pub condition: String,
    /// Detection or correlation.
    pub kind: RuleKind,
    /// False for rules referenced by a correlation with `generate: false`: they feed the
    /// correlation but report no detections of their own.
    pub reported: bool,
}

impl RuleInfo {
    /// The level, `medium` when the rule has none (Sigma's default for unrated rules).
    pub fn level(&self) -> Level {
        self.meta.level.unwrap_or(Level::Medium)
    }

    /// The rule's id, or its title when it has none.
    pub fn id_or_title(&self) -> &str {
        self.meta.id.as_deref().unwrap_or(&self.meta.title)
    }
}

/// Configuration of an engine build.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Log-source mappings (the embedded defaults, possibly extended).
    pub mappings: Mappings,
    /// Compile options (placeholders, regex limits).
    pub compile: CompileOptions,
}

/// Counts describing a built engine.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct EngineStats {
    /// Detection rules loaded.
    pub rules: usize,
    /// Correlation rules loaded.
    pub correlations: usize,
    /// Filters applied (to at least one rule).
    pub filters: usize,
    /// Distinct log sources (rule groups).
    pub groups: usize,
    /// Distinct literals in the prefilter.
    pub literals: usize,
    /// Rules with no literal requirement (evaluated whenever their log source matches).
    pub unfiltered: usize,
}

pub(crate) struct CompiledRule {
    pub group: u32,
    pub searches: Vec<CSearch>,
    pub expr: Expr,
}

struct Group {
    variants: Vec<Vec<CSearch>>,
    renames: Vec<Renames>,
    /// True if every variant requires `Channel` to be one of the values indexed for it.
    channel_keyed: bool,
}

/// A compiled rule set, ready to match events.
pub struct Engine {
    infos: Vec<RuleInfo>,
    rules: Vec<CompiledRule>,
    groups: Vec<Group>,
    channel_field: FieldId,
    channel_groups: FxHashMap<Box<str>, Vec<u32>>,
    /// Per group with any, its rules without literal requirement.
    unfiltered: Vec<(u32, Vec<u32>)>,
    prefilter: Prefilter,
    pub(crate) correlations: Vec<CorrelationDef>,
    diagnostics: Vec<Diagnostic>,
    stats: EngineStats,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("stats", &self.stats)
            .finish()
    }
}

const NO_VARIANT: u16 = u16::MAX;

pub(crate) fn eval_search(s: &CSearch, ev: &Event, variant: usize, scratch: &mut Scratch) -> bool {
    s.any_of
        .iter()
        .any(|all| all.iter().all(|m| m.eval(ev, variant, scratch)))
}

fn eval_expr(
    e: &Expr,
    searches: &[CSearch],
    ev: &Event,
    variant: usize,
    scratch: &mut Scratch,
) -> bool {
    match e {
        Expr::Search(i) => searches
            .get(*i as usize)
            .is_some_and(|s| eval_search(s, ev, variant, scratch)),
        Expr::Not(x) => !eval_expr(x, searches, ev, variant, scratch),
        Expr::And(v) => v
            .iter()
            .all(|x| eval_expr(x, searches, ev, variant, scratch)),
        Expr::Or(v) => v
            .iter()
            .any(|x| eval_expr(x, searches, ev, variant, scratch)),
        Expr::AtLeast(n, v) => {
            let mut hits = 0u32;
            for x in v {
                if eval_expr(x, searches, ev, variant, scratch) {
                    hits += 1;
                    if hits >= *n {
                        return true;
                    }
                }
            }
            false
        }
    }
}

/// The exact `Channel` values a variant requires, if it requires one.
fn channel_values(conds: &[CSearch]) -> Option<Vec<Box<str>>> {
    for s in conds {
        let [all] = s.any_of.as_slice() else { continue };
        for m in all {
            let Target::Field(f) = &m.target else {
                continue;
            };
            if &*f.name != "Channel" || m.neq || m.all {
                continue;
            }
            let mut out = Vec::new();
            for alts in &m.values {
                for t in alts {
                    match t {
                        Test::Str(st) if !st.cased => match &st.kind {
                            StrKind::Exact(p) => out.push(p.clone()),
                            _ => return None,
                        },
                        _ => return None,
                    }
                }
            }
            return Some(out);
        }
    }
    None
}

/// Sorts the documents by kind, skipping (with `KS050`) those whose id is already taken.
fn split_documents<'a>(
    set: &'a RuleSet,
    diags: &mut Vec<Diagnostic>,
) -> (Vec<&'a Rule>, Vec<&'a Filter>, Vec<&'a Correlation>) {
    let mut rules = Vec::new();
    let mut filters = Vec::new();
    let mut corrs = Vec::new();
    let mut seen_ids: FxHashMap<&str, (&str, u32)> = FxHashMap::default();
    for d in set.documents() {
        let meta = match d {
            Document::Rule(r) => &r.meta,
            Document::Filter(f) => &f.meta,
            Document::Correlation(c) => &c.meta,
        };
        if let Some(id) = &meta.id {
            if let Some((p, l)) = seen_ids.get(id.as_str()) {
                diags.push(Diagnostic::new(
                    &meta.path,
                    meta.line,
                    Code::DuplicateId,
                    format!("id {id} is already used by {p}:{l}; this document is skipped"),
                ));
                continue;
            }
            seen_ids.insert(id, (&meta.path, meta.line));
        }
        match d {
            Document::Rule(r) => rules.push(&**r),
            Document::Filter(f) => filters.push(&**f),
            Document::Correlation(c) => corrs.push(&**c),
        }
    }
    (rules, filters, corrs)
}

/// Group id per log source (or why it cannot be resolved), the groups, and the unmapped keys
/// of each group (for `KS101`).
type Groups<'a> = (
    Vec<Group>,
    FxHashMap<&'a LogSource, Result<u32, String>>,
    FxHashMap<u32, Vec<String>>,
);

/// Resolves each distinct log source once and compiles its variants' conditions.
fn resolve_groups<'a>(rules: &[&'a Rule], cfg: &Config) -> Groups<'a> {
    let mut group_of: FxHashMap<&LogSource, Result<u32, String>> = FxHashMap::default();
    let mut groups: Vec<Group> = Vec::new();
    let mut unmapped: FxHashMap<u32, Vec<String>> = FxHashMap::default();
    for r in rules {
        if group_of.contains_key(&r.logsource) {
            continue;
        }
        let g = cfg.mappings.resolve(&r.logsource).and_then(|res| {
            let ctx = Ctx {
                opts: &cfg.compile,
                renames: &[],
            };
            let mut variants = Vec::with_capacity(res.variants.len());
            let mut renames = Vec::with_capacity(res.variants.len());
            for (conds, ren) in &res.variants {
                let mut cs = Vec::with_capacity(conds.len());
                for c in conds {
                    cs.push(ctx.search(c).map_err(|p| {
                        format!("log-source mapping for {}: {}", r.logsource, p.message)
                    })?);
                }
                variants.push(cs);
                renames.push(ren.clone());
            }
            let id = groups.len() as u32;
            if !res.unmapped.is_empty() {
                unmapped.insert(id, res.unmapped);
            }
            groups.push(Group {
                variants,
                renames,
                channel_keyed: false,
            });
            Ok(id)
        });
        group_of.insert(&r.logsource, g);
    }
    (groups, group_of, unmapped)
}

/// AND-s each filter into the condition of its target rules (compatible log source, and named
/// by id or name unless the filter targets any rule). Returns the number of filters applied.
fn apply_filters(
    filters: &[&Filter],
    rules: &mut [CompiledRule],
    infos: &[RuleInfo],
    groups: &[Group],
    opts: &CompileOptions,
    diags: &mut Vec<Diagnostic>,
) -> usize {
    let mut applied_filters = 0;
    for f in filters {
        let mut targets: Vec<usize> = Vec::new();
        match &f.target {
            FilterTarget::Any => targets.extend(0..rules.len()),
            FilterTarget::Rules(refs) => {
                for rf in refs {
                    let found: Vec<usize> = infos
                        .iter()
                        .enumerate()
                        .filter(|(_, i)| {
                            i.meta.id.as_deref() == Some(rf.as_str())
                                || i.meta.name.as_deref() == Some(rf.as_str())
                        })
                        .map(|(n, _)| n)
                        .collect();
                    if found.is_empty() {
                        diags.push(Diagnostic::new(
                            &f.meta.path,
                            f.meta.line,
                            Code::FilterTarget,
                            format!(
                                "filter '{}' names rule '{rf}', which is not loaded",
                                f.meta.title
                            ),
                        ));
                    }
                    targets.extend(found);
                }
            }
        }
        let compatible = |ls: &LogSource| {
            let ok = |k: &Option<String>, r: &Option<String>| k.is_none() || k == r;
            ok(&f.logsource.product, &ls.product)
                && ok(&f.logsource.category, &ls.category)
                && ok(&f.logsource.service, &ls.service)
        };
        let mut applied = false;
        let mut failed: Option<Problem> = None;
        for t in targets {
            let (Some(rule), Some(info)) = (rules.get_mut(t), infos.get(t)) else {
                continue;
            };
            if !compatible(&info.logsource) {
                continue;
            }
            let Some(group) = groups.get(rule.group as usize) else {
                continue;
            };
            let ctx = Ctx {
                opts,
                renames: &group.renames,
            };
            // Compiled per target: the renames depend on the rule's log source.
            let compiled: Result<Vec<CSearch>, Problem> =
                f.detection.searches.iter().map(|s| ctx.search(s)).collect();
            let compiled = match compiled {
                Ok(c) => c,
                Err(p) => {
                    failed = Some(p);
                    break;
                }
            };
            let base = rule.searches.len() as u32;
            let fexpr = compile::condition(&f.detection.condition, &f.detection, base);
            rule.searches.extend(compiled);
            let old = std::mem::replace(&mut rule.expr, Expr::Or(Vec::new()));
            rule.expr = Expr::And(vec![old, fexpr]);
            applied = true;
        }
        if let Some(p) = failed {
            diags.push(Diagnostic::new(
                &f.meta.path,
                p.line,
                Code::Filter,
                format!("filter '{}': {}", f.meta.title, p.message),
            ));
        } else if applied {
            applied_filters += 1;
        }
    }
    applied_filters
}

/// Indexes the groups whose every variant requires a `Channel` value, by that value (lower
/// case); marks them `channel_keyed`.
fn channel_index(groups: &mut [Group]) -> FxHashMap<Box<str>, Vec<u32>> {
    let mut channel_groups: FxHashMap<Box<str>, Vec<u32>> = FxHashMap::default();
    for (gi, g) in groups.iter_mut().enumerate() {
        let per_variant: Option<Vec<Vec<Box<str>>>> =
            g.variants.iter().map(|v| channel_values(v)).collect();
        if let Some(vals) = per_variant.filter(|v| !v.is_empty()) {
            g.channel_keyed = true;
            for v in vals.into_iter().flatten() {
                let e = channel_groups.entry(v).or_default();
                if e.last() != Some(&(gi as u32)) {
                    e.push(gi as u32);
                }
            }
        }
    }
    channel_groups
}

impl Engine {
    /// Compiles every document of `set`. Documents that cannot be compiled are reported in
    /// [`Engine::diagnostics`] (with the set's parse diagnostics) and left out.
    pub fn build(set: &RuleSet, cfg: &Config) -> Engine {
        let mut diags: Vec<Diagnostic> = set.diagnostics().to_vec();
        let (rules_ast, filters, corrs) = split_documents(set, &mut diags);
        let opts = &cfg.compile;
        let (mut groups, group_of, unmapped) = resolve_groups(&rules_ast, cfg);

        // Rules, compiled in parallel.
        let compiled: Vec<Result<(CompiledRule, Option<Diagnostic>), Diagnostic>> = rules_ast
            .par_iter()
            .map(|r| {
                let g = match group_of.get(&r.logsource) {
                    Some(Ok(g)) => *g,
                    Some(Err(msg)) => {
                        return Err(Diagnostic::new(&r.meta.path, r.meta.line, Code::Mapping, msg));
                    }
                    None => {
                        return Err(Diagnostic::new(
                            &r.meta.path,
                            r.meta.line,
                            Code::Mapping,
                            "log source not resolved",
                        ));
                    }
                };
                let group = &groups[g as usize];
                let ctx = Ctx {
                    opts,
                    renames: &group.renames,
                };
                let mut searches = Vec::with_capacity(r.detection.searches.len());
                for s in &r.detection.searches {
                    searches.push(ctx.search(s).map_err(|p| p.at(&r.meta.path))?);
                }
                let expr = compile::condition(&r.detection.condition, &r.detection, 0);
                let warn = unmapped.get(&g).map(|u| {
                    Diagnostic::new(
                        &r.meta.path,
                        r.meta.line,
                        Code::UnmappedLogSource,
                        format!(
                            "log source not in the mappings ({}); matched through ECS fields (event.module / event.dataset / event.category)",
                            u.join(", ")
                        ),
                    )
                });
                Ok((
                    CompiledRule {
                        group: g,
                        searches,
                        expr,
                    },
                    warn,
                ))
            })
            .collect();
        let mut rules = Vec::with_capacity(compiled.len());
        let mut infos = Vec::with_capacity(compiled.len());
        for (r, c) in rules_ast.iter().zip(compiled) {
            match c {
                Ok((cr, warn)) => {
                    diags.extend(warn);
                    rules.push(cr);
                    infos.push(RuleInfo {
                        meta: r.meta.clone(),
                        logsource: r.logsource.clone(),
                        condition: r.detection.condition_text.clone(),
                        kind: RuleKind::Detection,
                        reported: true,
                    });
                }
                Err(d) => diags.push(d),
            }
        }

        // Filters: AND-ed into the conditions of their target rules.
        let applied_filters =
            apply_filters(&filters, &mut rules, &infos, &groups, opts, &mut diags);

        // Correlations.
        let (correlations, corr_infos, corr_diags) = correlation::compile(
            &corrs,
            &mut infos,
            &rules,
            &|r: &CompiledRule| {
                groups
                    .get(r.group as usize)
                    .map(|g| g.renames.clone())
                    .unwrap_or_default()
            },
            opts,
        );
        diags.extend(corr_diags);
        infos.extend(corr_infos);

        let channel_field = FieldId::intern("Channel");
        let channel_groups = channel_index(&mut groups);

        // Prefilter.
        let reqs: Vec<_> = rules
            .par_iter()
            .map(|r| prefilter::expr_req(&r.expr, &r.searches))
            .collect();
        let scope = prefilter::literal_scope(
            rules
                .iter()
                .zip(&reqs)
                .filter(|(_, req)| req.is_some())
                .map(|(r, _)| r.searches.as_slice()),
        );
        let prefilter = Prefilter::build(&reqs, scope);
        let mut unfiltered_map: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
        let mut n_unfiltered = 0;
        for (i, (r, req)) in rules.iter().zip(&reqs).enumerate() {
            if req.is_none() {
                unfiltered_map.entry(r.group).or_default().push(i as u32);
                n_unfiltered += 1;
            }
        }
        let mut unfiltered: Vec<(u32, Vec<u32>)> = unfiltered_map.into_iter().collect();
        unfiltered.sort_unstable_by_key(|(g, _)| *g);

        let stats = EngineStats {
            rules: rules.len(),
            correlations: correlations.len(),
            filters: applied_filters,
            groups: groups.len(),
            literals: prefilter.literals(),
            unfiltered: n_unfiltered,
        };
        diags.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
        Engine {
            infos,
            rules,
            groups,
            channel_field,
            channel_groups,
            unfiltered,
            prefilter,
            correlations,
            diagnostics: diags,
            stats,
        }
    }

    /// Every loaded rule, detections first, then correlations; index with [`RuleId`].
    pub fn rules(&self) -> &[RuleInfo] {
        &self.infos
    }

    /// The rule `id`.
    pub fn rule(&self, id: RuleId) -> Option<&RuleInfo> {
        self.infos.get(id.0 as usize)
    }

    /// Everything that could not be loaded (errors) or deserves attention (warnings), sorted by
    /// file and line.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// Counts describing the engine.
    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    fn prepare(&self, scratch: &mut Scratch) {
        let n = self.rules.len();
        if scratch.rule_seen.len() < n {
            scratch.rule_seen.resize(n, 0);
        }
        let g = self.groups.len();
        if scratch.group_variant.len() < g {
            scratch.group_variant.resize(g, NO_VARIANT);
            scratch.group_epoch.resize(g, 0);
            scratch.channel_mark.resize(g, 0);
        }
    }

    /// The variant of group `g` the event matches, evaluated at most once per event.
    fn group_variant(&self, g: u32, ev: &Event, scratch: &mut Scratch) -> Option<usize> {
        let gi = g as usize;
        let epoch = scratch.epoch;
        if scratch.group_epoch.get(gi) == Some(&epoch) {
            let v = scratch.group_variant.get(gi).copied().unwrap_or(NO_VARIANT);
            return (v != NO_VARIANT).then_some(v as usize);
        }
        let group = self.groups.get(gi)?;
        let result = if group.channel_keyed && scratch.channel_mark.get(gi) != Some(&epoch) {
            None
        } else {
            group
                .variants
                .iter()
                .position(|conds| conds.iter().all(|s| eval_search(s, ev, 0, scratch)))
        };
        if let (Some(e), Some(v)) = (
            scratch.group_epoch.get_mut(gi),
            scratch.group_variant.get_mut(gi),
        ) {
            *e = epoch;
            *v = result.map_or(NO_VARIANT, |x| x as u16);
        }
        result
    }

    /// Appends to `out` every detection rule that matches `ev` (sorted by rule), whether or not
    /// it is reported on its own (see [`RuleInfo::reported`]).
    pub fn matches(&self, ev: &Event, scratch: &mut Scratch, out: &mut Vec<Hit>) {
        self.prepare(scratch);
        scratch.reset_event();
        scratch.candidates.clear();
        let epoch = scratch.epoch;

        // 1. Channel dispatch.
        if let Some(v @ Value::Str(ch)) = ev.fields.get(self.channel_field) {
            let r = scratch.lowered(v, ch);
            if let Some(gs) = self.channel_groups.get(scratch.slice(r)) {
                for &g in gs {
                    if let Some(m) = scratch.channel_mark.get_mut(g as usize) {
                        *m = epoch;
                    }
                }
            }
        }
        // 2. Prefilter.
        self.prefilter.scan(ev, scratch);
        // 3. Rules without literal requirements, for the groups that match.
        for (g, rules) in &self.unfiltered {
            if self.group_variant(*g, ev, scratch).is_none() {
                continue;
            }
            for &r in rules {
                if let Some(s) = scratch.rule_seen.get_mut(r as usize)
                    && *s != epoch
                {
                    *s = epoch;
                    scratch.candidates.push(r);
                }
            }
        }
        // 4. Evaluate the candidates.
        let mut candidates = std::mem::take(&mut scratch.candidates);
        candidates.sort_unstable();
        for &r in &candidates {
            let Some(rule) = self.rules.get(r as usize) else {
                continue;
            };
            let Some(variant) = self.group_variant(rule.group, ev, scratch) else {
                continue;
            };
            scratch.evaluated += 1;
            if eval_expr(&rule.expr, &rule.searches, ev, variant, scratch) {
                out.push(Hit {
                    rule: RuleId(r),
                    variant: variant as u16,
                });
            }
        }
        scratch.candidates = candidates;
    }

    /// The rules evaluated whenever their log source matches (no literal requirement), for
    /// diagnostics and benchmarks.
    #[doc(hidden)]
    pub fn unfiltered_rules(&self) -> Vec<RuleId> {
        self.unfiltered
            .iter()
            .flat_map(|(_, r)| r.iter().map(|x| RuleId(*x)))
            .collect()
    }

    /// The prefilter's literals (for diagnostics and benchmarks).
    #[doc(hidden)]
    pub fn prefilter_literals(&self) -> &[Box<str>] {
        &self.prefilter.lits
    }

    /// Evaluates every rule without the prefilter or the channel index (for tests: the
    /// prefilter must never change the result).
    #[doc(hidden)]
    pub fn matches_exhaustive(&self, ev: &Event, scratch: &mut Scratch, out: &mut Vec<Hit>) {
        self.prepare(scratch);
        scratch.reset_event();
        for (i, rule) in self.rules.iter().enumerate() {
            let Some(group) = self.groups.get(rule.group as usize) else {
                continue;
            };
            let Some(variant) = group
                .variants
                .iter()
                .position(|conds| conds.iter().all(|s| eval_search(s, ev, 0, scratch)))
            else {
                continue;
            };
            if eval_expr(&rule.expr, &rule.searches, ev, variant, scratch) {
                out.push(Hit {
                    rule: RuleId(i as u32),
                    variant: variant as u16,
                });
            }
        }
    }
}
