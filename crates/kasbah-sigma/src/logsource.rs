//! Log-source mappings: what `logsource: {product, category, service}` means for an event, and
//! which event fields a rule's field names stand for in each kind of event.
//!
//! Sigma rules name abstract log sources; events carry concrete facts (`Channel`, `EventID`,
//! `event.module`, `event.dataset`). A mapping file (YAML) links the two at run time, so new
//! sources need no rule conversion:
//!
//! ```yaml
//! logsources:
//!   - product: windows
//!     category: process_creation
//!     sources:                       # alternatives ("variants"), tried in order
//!       - when: {Channel: Microsoft-Windows-Sysmon/Operational, EventID: 1}
//!       - when: {Channel: Security, EventID: 4688}
//!         fields: {Image: NewProcessName, ParentImage: ParentProcessName}
//!   - product: windows
//!     service: security
//!     when: {Channel: Security}      # shorthand for one source
//! ```
//!
//! `when` is a Sigma search (a mapping, or a list of mappings OR-ed; modifiers allowed). `fields`
//! renames rule fields to event fields for that source only (`ProcessId` is `NewProcessId` in a
//! 4688 event, but `ProcessId` there is the parent's).
//!
//! Resolution of a rule's log source: every entry whose keys all equal the rule's applies; the
//! conditions of the applying entries are AND-ed and their sources combined. A key of the rule
//! that no applying entry covers falls back to the ECS convention, with a `KS101` warning:
//! an unknown product P requires `event.module: P`; an unknown service S requires `event.dataset`
//! to be S or end with `.S`; an unknown category C requires `event.category: C` only when the
//! rule names no product and no service (a category refines what the product already selects).
//!
//! The default mappings are embedded (`mappings/default.yml`); user files extend them, an entry
//! with the same keys as an earlier one replacing it.

use std::sync::Arc;

use crate::ast::{FieldMatch, LogSource, Modifier, Search, SigmaString, SigmaValue};
use crate::compile::Renames;
use crate::diag::{Code, Diagnostic, Problem};
use crate::yaml::{self, Node, Yaml};

/// The mappings embedded in the crate.
pub const DEFAULT_MAPPINGS: &str = include_str!("../mappings/default.yml");

/// Most variants one log source may resolve to (cross product of the applying entries).
const MAX_VARIANTS: usize = 64;

/// One source of an entry: a condition and field renames.
#[derive(Clone, Debug, Default)]
pub(crate) struct SourceDef {
    pub when: Option<Search>,
    pub fields: Renames,
}

/// One mapping entry.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub key: LogSource,
    pub sources: Vec<SourceDef>,
}

/// A set of log-source mappings.
#[derive(Clone, Debug)]
pub struct Mappings {
    entries: Vec<Entry>,
}

/// A log source resolved against the mappings.
#[derive(Clone, Debug)]
pub(crate) struct Resolved {
    /// Variants in order: each an AND of conditions, with its renames.
    pub variants: Vec<(Vec<Search>, Renames)>,
    /// The rule's keys no entry covered (for the `KS101` warning).
    pub unmapped: Vec<String>,
}

impl Default for Mappings {
    /// The embedded default mappings.
    fn default() -> Self {
        let path: Arc<str> = Arc::from("<kasbah default mappings>");
        // The embedded file is tested; should it ever break, run without mappings rather
        // than refusing to start.
        Mappings::parse(&path, DEFAULT_MAPPINGS).unwrap_or_else(|_| Mappings::empty())
    }
}

impl Mappings {
    /// No mappings: every log source falls back to the ECS convention.
    pub fn empty() -> Self {
        Mappings {
            entries: Vec::new(),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Parses a mapping file. Every bad entry is reported; nothing is returned if any is bad.
    pub fn parse(path: &Arc<str>, text: &str) -> Result<Mappings, Vec<Diagnostic>> {
        let docs = yaml::parse(text).map_err(|p| vec![relabel(p).at(path)])?;
        let mut entries = Vec::new();
        let mut diags = Vec::new();
        for doc in &docs {
            let Some(list) = doc.get("logsources") else {
                diags.push(
                    Problem::new(doc.line, Code::Mapping, "a mapping file needs 'logsources'")
                        .at(path),
                );
                continue;
            };
            let Some(items) = list.as_seq() else {
                diags.push(
                    Problem::new(list.line, Code::Mapping, "'logsources' must be a list").at(path),
                );
                continue;
            };
            for item in items {
                match parse_entry(item) {
                    Ok(e) => entries.push(e),
                    Err(p) => diags.push(relabel(p).at(path)),
                }
            }
        }
        if diags.is_empty() {
            Ok(Mappings { entries })
        } else {
            Err(diags)
        }
    }

    /// Adds `other`'s entries; an entry with the same keys as an existing one replaces it.
    pub fn extend(&mut self, other: Mappings) {
        for e in other.entries {
            self.entries.retain(|x| x.key != e.key);
            self.entries.push(e);
        }
    }

    /// Resolves a rule's log source.
    pub(crate) fn resolve(&self, ls: &LogSource) -> Result<Resolved, String> {
        let applies = |e: &Entry| {
            let ok = |k: &Option<String>, r: &Option<String>| k.is_none() || k == r;
            ok(&e.key.product, &ls.product)
                && ok(&e.key.category, &ls.category)
                && ok(&e.key.service, &ls.service)
        };
        let matched: Vec<&Entry> = self.entries.iter().filter(|e| applies(e)).collect();
        let covered =
            |f: fn(&LogSource) -> &Option<String>| matched.iter().any(|e| f(&e.key).is_some());
        let mut unmapped = Vec::new();
        let mut fallback: Vec<SourceDef> = Vec::new();
        if let Some(p) = &ls.product
            && !covered(|k| &k.product)
        {
            unmapped.push(format!("product: {p}"));
            fallback.push(source_when(vec![eq("event.module", p)]));
        }
        if let Some(s) = &ls.service
            && !covered(|k| &k.service)
        {
            unmapped.push(format!("service: {s}"));
            fallback.push(source_when_any(vec![
                vec![eq("event.dataset", s)],
                vec![ends("event.dataset", &format!(".{s}"))],
            ]));
        }
        if let Some(c) = &ls.category
            && !covered(|k| &k.category)
        {
            unmapped.push(format!("category: {c}"));
            if ls.product.is_none() && ls.service.is_none() {
                fallback.push(source_when(vec![eq("event.category", c)]));
            }
        }
        // Cross product of the applying entries' sources.
        let mut variants: Vec<(Vec<Search>, Renames)> = vec![(Vec::new(), Renames::default())];
        let groups = matched
            .iter()
            .map(|e| e.sources.as_slice())
            .chain(fallback.iter().map(std::slice::from_ref));
        for sources in groups {
            if sources.is_empty() {
                continue;
            }
            let mut next = Vec::with_capacity(variants.len() * sources.len());
            for (conds, renames) in &variants {
                for s in sources {
                    let mut c = conds.clone();
                    if let Some(w) = &s.when {
                        c.push(w.clone());
                    }
                    let mut r = renames.clone();
                    r.extend(s.fields.iter().map(|(a, b)| (a.clone(), b.clone())));
                    next.push((c, r));
                }
            }
            if next.len() > MAX_VARIANTS {
                return Err(format!(
                    "log source {ls} resolves to more than {MAX_VARIANTS} variants"
                ));
            }
            variants = next;
        }
        Ok(Resolved { variants, unmapped })
    }
}

fn relabel(mut p: Problem) -> Problem {
    if p.code != Code::Yaml && p.code != Code::Limits {
        p.code = Code::Mapping;
    }
    p
}

fn str_value(s: &str) -> SigmaValue {
    SigmaValue::Str {
        value: SigmaString::literal(s),
        raw: s.to_owned(),
    }
}

fn eq(field: &str, v: &str) -> FieldMatch {
    FieldMatch {
        field: Some(field.to_owned()),
        modifiers: Vec::new(),
        values: vec![str_value(v)],
        line: 0,
    }
}

fn ends(field: &str, v: &str) -> FieldMatch {
    FieldMatch {
        field: Some(field.to_owned()),
        modifiers: vec![Modifier::EndsWith],
        values: vec![str_value(v)],
        line: 0,
    }
}

fn source_when(all: Vec<FieldMatch>) -> SourceDef {
    source_when_any(vec![all])
}

fn source_when_any(any_of: Vec<Vec<FieldMatch>>) -> SourceDef {
    SourceDef {
        when: Some(Search {
            name: "logsource".into(),
            line: 0,
            any_of,
        }),
        fields: Renames::default(),
    }
}

fn parse_source(n: &Node) -> Result<SourceDef, Problem> {
    let when = match n.get("when") {
        None => None,
        Some(w) => {
            let mut s = crate::parse::parse_search_node("logsource", w)?;
            s.line = w.line;
            Some(s)
        }
    };
    let mut fields = Renames::default();
    if let Some(f) = n.get("fields") {
        let Some(entries) = f.as_map() else {
            return Err(Problem::new(
                f.line,
                Code::Mapping,
                "'fields' must map rule field names to event field names",
            ));
        };
        for (k, v) in entries {
            match (k.as_str(), v.as_str()) {
                (Some(a), Some(b)) => {
                    fields.insert(a.to_owned(), b.to_owned());
                }
                _ => {
                    return Err(Problem::new(
                        k.line,
                        Code::Mapping,
                        "'fields' must map rule field names to event field names",
                    ));
                }
            }
        }
    }
    Ok(SourceDef { when, fields })
}

fn parse_entry(n: &Node) -> Result<Entry, Problem> {
    if n.as_map().is_none() {
        return Err(Problem::new(
            n.line,
            Code::Mapping,
            "a log-source entry must be a mapping",
        ));
    }
    let key = crate::parse::parse_logsource(n)?;
    if key.product.is_none() && key.category.is_none() && key.service.is_none() {
        return Err(Problem::new(
            n.line,
            Code::Mapping,
            "a log-source entry needs at least one of product, category, service",
        ));
    }
    let sources = match (n.get("sources"), n.get("when")) {
        (Some(_), Some(w)) => {
            return Err(Problem::new(
                w.line,
                Code::Mapping,
                "use either 'sources' or 'when', not both",
            ));
        }
        (Some(s), None) => match &s.value {
            Yaml::Seq(items) => items.iter().map(parse_source).collect::<Result<_, _>>()?,
            _ => {
                return Err(Problem::new(
                    s.line,
                    Code::Mapping,
                    "'sources' must be a list of {when, fields}",
                ));
            }
        },
        (None, _) => {
            let s = parse_source(n)?;
            if s.when.is_none() && s.fields.is_empty() {
                Vec::new()
            } else {
                vec![s]
            }
        }
    };
    Ok(Entry { key, sources })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ls(p: Option<&str>, c: Option<&str>, s: Option<&str>) -> LogSource {
        LogSource {
            product: p.map(str::to_owned),
            category: c.map(str::to_owned),
            service: s.map(str::to_owned),
        }
    }

    #[test]
    fn default_mappings_parse() {
        let path: Arc<str> = Arc::from("default.yml");
        let m = Mappings::parse(&path, DEFAULT_MAPPINGS)
            .unwrap_or_else(|d| panic!("default mappings: {d:?}"));
        assert!(m.len() > 50);
        assert_eq!(Mappings::default().len(), m.len());
    }

    #[test]
    fn process_creation_has_two_variants_with_renames() {
        let m = Mappings::default();
        let r = m
            .resolve(&ls(Some("windows"), Some("process_creation"), None))
            .expect("resolves");
        assert!(r.unmapped.is_empty());
        assert!(r.variants.len() >= 2, "{:?}", r.variants.len());
        let renamed = r
            .variants
            .iter()
            .find(|(_, ren)| ren.get("Image").map(String::as_str) == Some("NewProcessName"));
        assert!(renamed.is_some(), "4688 variant renames Image");
        assert!(
            r.variants
                .iter()
                .any(|(_, ren)| ren.get("ProcessId").map(String::as_str) == Some("NewProcessId"))
        );
    }

    #[test]
    fn unmapped_parts_fall_back_to_ecs() {
        let m = Mappings::default();
        let r = m
            .resolve(&ls(Some("acme"), None, Some("firewall")))
            .expect("resolves");
        assert_eq!(r.unmapped, vec!["product: acme", "service: firewall"]);
        assert_eq!(r.variants.len(), 1);
        assert_eq!(r.variants[0].0.len(), 2);
        // An unmapped category under a mapped product adds no condition.
        let r = m
            .resolve(&ls(Some("windows"), Some("brand_new_thing"), None))
            .expect("resolves");
        assert_eq!(r.unmapped, vec!["category: brand_new_thing"]);
        // Alone, it requires event.category.
        let r = m
            .resolve(&ls(None, Some("brand_new_thing"), None))
            .expect("ok");
        assert_eq!(r.variants[0].0.len(), 1);
    }

    #[test]
    fn user_entries_extend_and_replace() {
        let path: Arc<str> = Arc::from("user.yml");
        let user = Mappings::parse(
            &path,
            "logsources:\n  - product: acme\n    when: {vendor: ACME}\n  - product: windows\n    service: security\n    when: {Channel: SecurityCopy}\n",
        )
        .expect("valid");
        let mut m = Mappings::default();
        let before = m.len();
        m.extend(user);
        assert_eq!(m.len(), before + 1);
        let r = m.resolve(&ls(Some("acme"), None, None)).expect("ok");
        assert!(r.unmapped.is_empty());
        let r = m
            .resolve(&ls(Some("windows"), None, Some("security")))
            .expect("ok");
        let text = format!("{:?}", r.variants);
        assert!(text.contains("SecurityCopy"), "{text}");
    }

    #[test]
    fn bad_mapping_files_are_reported() {
        let path: Arc<str> = Arc::from("bad.yml");
        for (t, line) in [
            ("nope: 1\n", 1),
            ("logsources: 3\n", 1),
            ("logsources:\n  - when: {a: 1}\n", 2),
            ("logsources:\n  - product: x\n    when: {a|bogus: 1}\n", 3),
            ("logsources:\n  - product: x\n    fields: [a]\n", 3),
            ("logsources:\n  - product: x\n    sources: {a: 1}\n", 3),
        ] {
            let e = Mappings::parse(&path, t).expect_err(t);
            assert_eq!(e[0].line, line, "{t}: {e:?}");
            assert!(
                matches!(e[0].code, Code::Mapping | Code::UnknownModifier),
                "{t}: {e:?}"
            );
        }
    }
}
