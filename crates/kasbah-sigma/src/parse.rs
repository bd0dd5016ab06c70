//! YAML documents to the typed AST, with a located, coded diagnostic for everything that is not
//! valid Sigma.
//!
//! What is checked here is what can be checked without the configuration: structure, types,
//! modifier names and combinations, value types, the condition's syntax and identifiers,
//! correlation and filter sections. What needs the configuration (placeholders, log-source
//! mappings) or is expensive (regexes) is checked when compiling.

use std::sync::Arc;

use crate::ast::{
    CmpOp, Condition, Correlation, CorrelationCondition, CorrelationType, Detection, Document,
    FieldMatch, Filter, FilterTarget, LogSource, Meta, Modifier, Rule, Search, SigmaString,
    SigmaValue, Status,
};
use crate::condition::{self, pattern_matches};
use crate::diag::{Code, Diagnostic, Problem};
use crate::yaml::{self, Node, Resolved, Yaml};

/// Parses every document of one file. Documents that fail get a diagnostic; the others are
/// returned (a file with one bad document among several keeps the good ones).
pub fn parse_file(path: &Arc<str>, text: &str) -> (Vec<Document>, Vec<Diagnostic>) {
    let docs = match yaml::parse(text) {
        Ok(d) => d,
        Err(p) => return (Vec::new(), vec![p.at(path)]),
    };
    let mut out = Vec::with_capacity(docs.len());
    let mut diags = Vec::new();
    for node in &docs {
        match parse_document(path, node) {
            Ok(d) => out.push(d),
            Err(p) => diags.push(p.at(path)),
        }
    }
    (out, diags)
}

/// Parses one YAML document.
pub(crate) fn parse_document(path: &Arc<str>, node: &Node) -> Result<Document, Problem> {
    if node.as_map().is_none() {
        return Err(Problem::new(
            node.line,
            Code::Structure,
            format!(
                "a Sigma document must be a mapping, found a {}",
                node.kind()
            ),
        ));
    }
    if let Some(a) = node.get("action") {
        return Err(Problem::new(
            a.line,
            Code::Structure,
            format!(
                "Sigma 1 collection action '{}' is not supported; write self-contained documents",
                a.as_str().unwrap_or("?")
            ),
        ));
    }
    if let Some(c) = node.get("correlation") {
        return parse_correlation(path, node, c).map(|c| Document::Correlation(Box::new(c)));
    }
    if let Some(f) = node.get("filter") {
        return parse_filter(path, node, f).map(|f| Document::Filter(Box::new(f)));
    }
    let Some(det) = node.get("detection") else {
        return Err(Problem::new(
            node.line,
            Code::Structure,
            "not a Sigma rule: no 'detection', 'correlation' or 'filter' section",
        ));
    };
    let meta = parse_meta(path, node)?;
    let logsource = match node.get("logsource") {
        Some(l) => parse_logsource(l)?,
        None => {
            return Err(Problem::new(
                node.line,
                Code::Missing,
                "missing 'logsource'",
            ));
        }
    };
    let detection = parse_detection(det, &[])?;
    Ok(Document::Rule(Box::new(Rule {
        meta,
        logsource,
        detection,
    })))
}

fn text_of(n: &Node, what: &str) -> Result<String, Problem> {
    match n.as_str() {
        Some(s) => Ok(s.to_owned()),
        None => Err(Problem::new(
            n.line,
            Code::Attribute,
            format!("'{what}' must be a string, found a {}", n.kind()),
        )),
    }
}

fn opt_text(node: &Node, key: &str) -> Result<Option<String>, Problem> {
    match node.get(key) {
        None => Ok(None),
        Some(n) if n.is_null() => Ok(None),
        Some(n) => text_of(n, key).map(Some),
    }
}

fn text_list(node: &Node, key: &str) -> Result<Vec<String>, Problem> {
    match node.get(key) {
        None => Ok(Vec::new()),
        Some(n) if n.is_null() => Ok(Vec::new()),
        Some(n) => match &n.value {
            Yaml::Scalar(s) => Ok(vec![s.text.clone()]),
            Yaml::Seq(items) => items
                .iter()
                .filter(|i| !i.is_null())
                .map(|i| text_of(i, key))
                .collect(),
            Yaml::Map(_) => Err(Problem::new(
                n.line,
                Code::Attribute,
                format!("'{key}' must be a list of strings, found a mapping"),
            )),
        },
    }
}

fn parse_meta(path: &Arc<str>, node: &Node) -> Result<Meta, Problem> {
    let title = match node.get("title") {
        Some(t) => text_of(t, "title")?,
        None => return Err(Problem::new(node.line, Code::Missing, "missing 'title'")),
    };
    let level = match node.get("level") {
        None => None,
        Some(l) if l.is_null() => None,
        Some(l) => {
            let t = text_of(l, "level")?;
            Some(crate::ast::Level::parse(&t).ok_or_else(|| {
                Problem::new(
                    l.line,
                    Code::Attribute,
                    format!(
                        "unknown level '{t}' (expected informational, low, medium, high or critical)"
                    ),
                )
            })?)
        }
    };
    let status = match node.get("status") {
        None => None,
        Some(s) if s.is_null() => None,
        Some(s) => {
            let t = text_of(s, "status")?;
            Some(Status::parse(&t).ok_or_else(|| {
                Problem::new(
                    s.line,
                    Code::Attribute,
                    format!(
                        "unknown status '{t}' (expected stable, test, experimental, deprecated or unsupported)"
                    ),
                )
            })?)
        }
    };
    Ok(Meta {
        path: path.clone(),
        line: node.line,
        id: opt_text(node, "id")?,
        name: opt_text(node, "name")?,
        title,
        status,
        description: opt_text(node, "description")?,
        author: opt_text(node, "author")?,
        date: opt_text(node, "date")?,
        modified: opt_text(node, "modified")?,
        references: text_list(node, "references")?,
        tags: text_list(node, "tags")?,
        level,
        falsepositives: text_list(node, "falsepositives")?,
        fields: text_list(node, "fields")?,
    })
}

/// Parses a `logsource` mapping (values lower-cased).
pub(crate) fn parse_logsource(n: &Node) -> Result<LogSource, Problem> {
    if n.as_map().is_none() {
        return Err(Problem::new(
            n.line,
            Code::Attribute,
            format!("'logsource' must be a mapping, found a {}", n.kind()),
        ));
    }
    let get = |k: &str| -> Result<Option<String>, Problem> {
        Ok(opt_text(n, k)?.map(|s| s.trim().to_ascii_lowercase()))
    };
    Ok(LogSource {
        product: get("product")?,
        category: get("category")?,
        service: get("service")?,
    })
}

/// Parses a detection-like section: every key but `condition`, `timeframe` and `skip` is a
/// search identifier.
pub(crate) fn parse_detection(det: &Node, skip: &[&str]) -> Result<Detection, Problem> {
    let Some(entries) = det.as_map() else {
        return Err(Problem::new(
            det.line,
            Code::Structure,
            format!("'detection' must be a mapping, found a {}", det.kind()),
        ));
    };
    let mut searches: Vec<Search> = Vec::new();
    let mut cond_node = None;
    for (k, v) in entries {
        let Some(name) = k.as_str() else {
            return Err(Problem::new(
                k.line,
                Code::Selection,
                "search identifiers must be strings",
            ));
        };
        match name {
            "condition" => cond_node = Some(v),
            "timeframe" => {}
            _ if skip.contains(&name) => {}
            _ => {
                let s = parse_search(name, k.line, v)?;
                // A repeated identifier replaces the earlier one (YAML last-wins).
                searches.retain(|o| o.name != s.name);
                searches.push(s);
            }
        }
    }
    let Some(cond_node) = cond_node else {
        return Err(Problem::new(
            det.line,
            Code::Missing,
            "missing 'condition' in the detection",
        ));
    };
    let texts: Vec<(String, u32)> = match &cond_node.value {
        Yaml::Scalar(s) => vec![(s.text.clone(), cond_node.line)],
        Yaml::Seq(items) => items
            .iter()
            .map(|i| text_of(i, "condition").map(|t| (t, i.line)))
            .collect::<Result<_, _>>()?,
        Yaml::Map(_) => {
            return Err(Problem::new(
                cond_node.line,
                Code::ConditionSyntax,
                "'condition' must be a string or a list of strings",
            ));
        }
    };
    if texts.is_empty() {
        return Err(Problem::new(
            cond_node.line,
            Code::ConditionSyntax,
            "empty condition list",
        ));
    }
    let mut conds = Vec::with_capacity(texts.len());
    for (t, line) in &texts {
        let c = condition::parse(t).map_err(|e| Problem::new(*line, e.code, e.message))?;
        check_identifiers(&c, &searches, *line)?;
        conds.push(c);
    }
    let condition = if conds.len() == 1 {
        conds.remove(0)
    } else {
        Condition::Or(conds)
    };
    let condition_text = texts
        .iter()
        .map(|(t, _)| t.as_str())
        .collect::<Vec<_>>()
        .join(" or ");
    Ok(Detection {
        searches,
        condition,
        condition_text,
    })
}

fn check_identifiers(c: &Condition, searches: &[Search], line: u32) -> Result<(), Problem> {
    match c {
        Condition::Search(name) => {
            if searches.iter().any(|s| &s.name == name) {
                Ok(())
            } else {
                Err(Problem::new(
                    line,
                    Code::UnknownIdentifier,
                    format!("the condition names '{name}', which is not a search identifier"),
                ))
            }
        }
        Condition::Of(_, Some(p)) => {
            if searches.iter().any(|s| pattern_matches(p, &s.name)) {
                Ok(())
            } else {
                Err(Problem::new(
                    line,
                    Code::UnknownIdentifier,
                    format!("no search identifier matches the pattern '{p}'"),
                ))
            }
        }
        Condition::Of(_, None) => {
            if searches.is_empty() {
                Err(Problem::new(
                    line,
                    Code::UnknownIdentifier,
                    "'them' but the detection has no search identifiers",
                ))
            } else {
                Ok(())
            }
        }
        Condition::Not(inner) => check_identifiers(inner, searches, line),
        Condition::And(v) | Condition::Or(v) => v
            .iter()
            .try_for_each(|c| check_identifiers(c, searches, line)),
    }
}

/// Parses a search identifier's body (used by the log-source mappings for `when`).
pub(crate) fn parse_search_node(name: &str, v: &Node) -> Result<Search, Problem> {
    parse_search(name, v.line, v)
}

fn parse_search(name: &str, line: u32, v: &Node) -> Result<Search, Problem> {
    let mut any_of: Vec<Vec<FieldMatch>> = Vec::new();
    match &v.value {
        Yaml::Map(entries) => any_of.push(parse_and_map(entries, v.line)?),
        Yaml::Seq(items) => {
            if items.is_empty() {
                return Err(Problem::new(
                    v.line,
                    Code::Selection,
                    format!("search identifier '{name}' is an empty list"),
                ));
            }
            let mut keywords = Vec::new();
            let mut kw_line = 0;
            for item in items {
                match &item.value {
                    Yaml::Map(entries) => any_of.push(parse_and_map(entries, item.line)?),
                    Yaml::Scalar(_) => {
                        if kw_line == 0 {
                            kw_line = item.line;
                        }
                        keywords.push(parse_value(item)?);
                    }
                    Yaml::Seq(_) => {
                        return Err(Problem::new(
                            item.line,
                            Code::Selection,
                            format!("search identifier '{name}' contains a nested list"),
                        ));
                    }
                }
            }
            if !keywords.is_empty() {
                any_of.push(vec![keyword_match(Vec::new(), keywords, kw_line)?]);
            }
        }
        Yaml::Scalar(_) if v.is_null() => {
            return Err(Problem::new(
                v.line,
                Code::Selection,
                format!("search identifier '{name}' is empty"),
            ));
        }
        Yaml::Scalar(_) => any_of.push(vec![keyword_match(
            Vec::new(),
            vec![parse_value(v)?],
            v.line,
        )?]),
    }
    Ok(Search {
        name: name.to_owned(),
        line,
        any_of,
    })
}

fn keyword_match(
    modifiers: Vec<Modifier>,
    values: Vec<SigmaValue>,
    line: u32,
) -> Result<FieldMatch, Problem> {
    let m = FieldMatch {
        field: None,
        modifiers,
        values,
        line,
    };
    check_modifiers(&m)?;
    Ok(m)
}

fn parse_and_map(entries: &[(Node, Node)], line: u32) -> Result<Vec<FieldMatch>, Problem> {
    if entries.is_empty() {
        return Err(Problem::new(
            line,
            Code::Selection,
            "empty selection mapping",
        ));
    }
    entries
        .iter()
        .map(|(k, v)| parse_field_match(k, v))
        .collect()
}

fn parse_field_match(k: &Node, v: &Node) -> Result<FieldMatch, Problem> {
    let Some(key) = k.as_str() else {
        return Err(Problem::new(
            k.line,
            Code::Selection,
            "field names must be strings",
        ));
    };
    let mut parts = key.split('|');
    let field = parts.next().unwrap_or_default().trim();
    let mut modifiers = Vec::new();
    for m in parts {
        match Modifier::parse(m) {
            Some(m) => modifiers.push(m),
            None => {
                return Err(Problem::new(
                    k.line,
                    Code::UnknownModifier,
                    format!("unknown modifier '{m}' in '{key}'"),
                ));
            }
        }
    }
    let values = match &v.value {
        Yaml::Scalar(_) => vec![parse_value(v)?],
        Yaml::Seq(items) => {
            if items.is_empty() {
                return Err(Problem::new(
                    v.line,
                    Code::Selection,
                    format!("'{key}' has an empty list of values"),
                ));
            }
            items.iter().map(parse_value).collect::<Result<_, _>>()?
        }
        Yaml::Map(_) => {
            return Err(Problem::new(
                v.line,
                Code::Selection,
                format!("'{key}' has a mapping as value; values must be scalars or a list"),
            ));
        }
    };
    let m = FieldMatch {
        field: (!field.is_empty()).then(|| field.to_owned()),
        modifiers,
        values,
        line: k.line,
    };
    check_modifiers(&m)?;
    Ok(m)
}

fn parse_value(n: &Node) -> Result<SigmaValue, Problem> {
    let Some(s) = n.scalar() else {
        return Err(Problem::new(
            n.line,
            Code::Selection,
            format!("a value must be a scalar, found a {}", n.kind()),
        ));
    };
    Ok(match s.resolve() {
        Resolved::Null => SigmaValue::Null,
        Resolved::Bool(b) => SigmaValue::Bool(b),
        Resolved::Int(i) => SigmaValue::Int(i, s.text.clone()),
        Resolved::Float(f) => SigmaValue::Float(f, s.text.clone()),
        Resolved::Str(t) => SigmaValue::Str {
            value: SigmaString::parse(t),
            raw: t.to_owned(),
        },
    })
}

fn combo(m: &FieldMatch, a: Modifier, b: Modifier) -> Problem {
    Problem::new(
        m.line,
        Code::ModifierCombination,
        format!("modifiers '{a}' and '{b}' cannot be combined"),
    )
}

/// Checks that the modifiers of an entry can be combined and suit its values.
fn check_modifiers(m: &FieldMatch) -> Result<(), Problem> {
    use Modifier as M;
    let mods = &m.modifiers;
    for (i, a) in mods.iter().enumerate() {
        if mods[..i].contains(a) {
            return Err(Problem::new(
                m.line,
                Code::ModifierCombination,
                format!("modifier '{a}' is repeated"),
            ));
        }
    }
    let pos = [M::Contains, M::StartsWith, M::EndsWith];
    let position: Vec<_> = mods.iter().filter(|x| pos.contains(x)).collect();
    if let [a, b, ..] = position.as_slice() {
        return Err(combo(m, **a, **b));
    }
    let has = |x: M| mods.contains(&x);
    for flag in [M::ReCaseInsensitive, M::ReMultiLine, M::ReDotAll] {
        if has(flag) && !has(M::Re) {
            return Err(Problem::new(
                m.line,
                Code::ModifierCombination,
                format!("'{flag}' is a sub-modifier of 're' and needs it"),
            ));
        }
    }
    // Modifiers that decide what the value is (only one of these families at a time).
    let string_like = |x: &M| {
        matches!(
            x,
            M::Contains | M::StartsWith | M::EndsWith | M::Windash | M::Expand
        ) || x.is_encoding()
    };
    let exclusive = |base: M, allowed: &dyn Fn(&M) -> bool| -> Result<(), Problem> {
        if has(base)
            && let Some(other) = mods.iter().find(|x| **x != base && !allowed(x))
        {
            return Err(combo(m, base, *other));
        }
        Ok(())
    };
    exclusive(M::Re, &|x| {
        matches!(
            x,
            M::ReCaseInsensitive | M::ReMultiLine | M::ReDotAll | M::All | M::Neq
        )
    })?;
    exclusive(M::Cidr, &|x| matches!(x, M::All | M::Neq))?;
    exclusive(M::Exists, &|_| false)?;
    exclusive(M::FieldRef, &|x| {
        matches!(
            x,
            M::Contains | M::StartsWith | M::EndsWith | M::All | M::Neq | M::Cased
        )
    })?;
    let comparisons: Vec<_> = mods.iter().filter(|x| x.is_comparison()).collect();
    if let [a, b, ..] = comparisons.as_slice() {
        return Err(combo(m, **a, **b));
    }
    let times: Vec<_> = mods.iter().filter(|x| x.is_time_part()).collect();
    if let [a, b, ..] = times.as_slice() {
        return Err(combo(m, **a, **b));
    }
    for c in comparisons.iter().chain(times.iter()) {
        if let Some(other) = mods
            .iter()
            .find(|x| string_like(x) || matches!(x, M::Cased))
        {
            return Err(combo(m, **c, *other));
        }
    }
    if let (Some(c), true) = (comparisons.first(), has(M::Neq)) {
        return Err(combo(m, **c, M::Neq));
    }
    if has(M::Base64) && has(M::Base64Offset) {
        return Err(combo(m, M::Base64, M::Base64Offset));
    }
    let utf: Vec<_> = mods
        .iter()
        .filter(|x| matches!(x, M::Utf16 | M::Utf16Le | M::Utf16Be))
        .collect();
    if let [a, b, ..] = utf.as_slice() {
        return Err(combo(m, **a, **b));
    }
    // Value types.
    let numeric = !comparisons.is_empty() || !times.is_empty();
    for v in &m.values {
        let bad = |what: &str| {
            Problem::new(
                m.line,
                Code::ModifierValue,
                format!("{what}, found '{}'", v.text()),
            )
        };
        match v {
            SigmaValue::Null
                if mods
                    .iter()
                    .any(|x| !matches!(x, M::All | M::Neq | M::Cased)) =>
            {
                return Err(bad("null cannot be used with these modifiers"));
            }
            SigmaValue::Bool(_) if has(M::Exists) => {}
            _ if has(M::Exists) => return Err(bad("'exists' takes true or false")),
            SigmaValue::Int(..) | SigmaValue::Float(..) if numeric => {}
            SigmaValue::Str { raw, .. } if numeric && raw.trim().parse::<f64>().is_ok() => {}
            _ if numeric => return Err(bad("numeric modifiers take numbers")),
            _ => {}
        }
    }
    if m.field.is_none()
        && mods
            .iter()
            .any(|x| matches!(x, M::Exists | M::FieldRef | M::Neq))
    {
        return Err(Problem::new(
            m.line,
            Code::ModifierCombination,
            "keywords (no field name) cannot use 'exists', 'fieldref' or 'neq'",
        ));
    }
    Ok(())
}

fn parse_filter(path: &Arc<str>, node: &Node, f: &Node) -> Result<Filter, Problem> {
    let meta = parse_meta(path, node)?;
    let logsource = match node.get("logsource") {
        Some(l) => parse_logsource(l)?,
        None => LogSource::default(),
    };
    if f.as_map().is_none() {
        return Err(Problem::new(
            f.line,
            Code::Filter,
            format!("'filter' must be a mapping, found a {}", f.kind()),
        ));
    }
    let target = match f.get("rules") {
        None => FilterTarget::Any,
        Some(r) if r.is_null() => FilterTarget::Any,
        Some(r) => match &r.value {
            Yaml::Scalar(s) if s.text.eq_ignore_ascii_case("any") => FilterTarget::Any,
            Yaml::Scalar(s) => FilterTarget::Rules(vec![s.text.clone()]),
            Yaml::Seq(items) if items.is_empty() => FilterTarget::Any,
            Yaml::Seq(items) => FilterTarget::Rules(
                items
                    .iter()
                    .map(|i| {
                        i.as_str().map(str::to_owned).ok_or_else(|| {
                            Problem::new(i.line, Code::Filter, "filter 'rules' must be strings")
                        })
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Yaml::Map(_) => {
                return Err(Problem::new(
                    r.line,
                    Code::Filter,
                    "filter 'rules' must be a list of rule ids or names, or 'any'",
                ));
            }
        },
    };
    let detection = parse_detection(f, &["rules"]).map_err(|mut p| {
        if p.code == Code::Structure || p.code == Code::Missing {
            p.code = Code::Filter;
        }
        p
    })?;
    Ok(Filter {
        meta,
        logsource,
        target,
        detection,
    })
}

/// Parses a timespan (`90s`, `5m`, `1h`, `7d`, `2w`, `1M`, `1y`) to nanoseconds.
pub fn parse_timespan(s: &str) -> Option<i64> {
    let s = s.trim();
    let unit = s.chars().last()?;
    let n: i64 = s.get(..s.len() - unit.len_utf8())?.parse().ok()?;
    if n <= 0 {
        return None;
    }
    let secs: i64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        'w' => 604_800,
        'M' => 2_629_746,
        'y' => 31_556_952,
        _ => return None,
    };
    n.checked_mul(secs)?.checked_mul(1_000_000_000)
}

fn parse_correlation(path: &Arc<str>, node: &Node, c: &Node) -> Result<Correlation, Problem> {
    let meta = parse_meta(path, node)?;
    let err = |n: &Node, msg: String| Problem::new(n.line, Code::Correlation, msg);
    if c.as_map().is_none() {
        return Err(err(c, "'correlation' must be a mapping".into()));
    }
    let kind = match c.get("type") {
        Some(t) => {
            let s = t.as_str().unwrap_or_default();
            CorrelationType::parse(s).ok_or_else(|| {
                err(
                    t,
                    format!(
                        "unknown correlation type '{s}' (expected event_count, value_count, temporal, temporal_ordered, value_sum, value_avg, value_percentile or value_median)"
                    ),
                )
            })?
        }
        None => return Err(err(c, "missing correlation 'type'".into())),
    };
    let rules = text_list(c, "rules").map_err(|mut p| {
        p.code = Code::Correlation;
        p
    })?;
    if rules.is_empty() {
        return Err(err(c, "a correlation needs 'rules'".into()));
    }
    let group_by = text_list(c, "group-by").map_err(|mut p| {
        p.code = Code::Correlation;
        p
    })?;
    let ts_node = c.get("timespan").or_else(|| c.get("timeframe"));
    let Some(ts_node) = ts_node else {
        return Err(err(c, "a correlation needs a 'timespan'".into()));
    };
    let timespan_text = ts_node.as_str().unwrap_or_default().to_owned();
    let timespan_ns = parse_timespan(&timespan_text).ok_or_else(|| {
        err(
            ts_node,
            format!("invalid timespan '{timespan_text}' (expected a number and one of s m h d w M y, e.g. 5m)"),
        )
    })?;
    let condition = match c.get("condition") {
        Some(cn) => parse_corr_condition(cn, kind)?,
        None if matches!(
            kind,
            CorrelationType::Temporal | CorrelationType::TemporalOrdered
        ) =>
        {
            CorrelationCondition {
                ops: vec![(CmpOp::Gte, rules.len() as f64)],
                field: Vec::new(),
                percentile: None,
            }
        }
        None => {
            return Err(err(
                c,
                format!("a {} correlation needs a 'condition'", kind.as_str()),
            ));
        }
    };
    if kind.needs_field() && condition.field.is_empty() {
        return Err(err(
            c,
            format!(
                "a {} correlation needs 'field' in its condition",
                kind.as_str()
            ),
        ));
    }
    let mut aliases = Vec::new();
    if let Some(a) = c.get("aliases") {
        let Some(entries) = a.as_map() else {
            return Err(err(a, "'aliases' must be a mapping".into()));
        };
        for (alias, mapping) in entries {
            let alias_name = alias.as_str().unwrap_or_default().to_owned();
            let Some(m) = mapping.as_map() else {
                return Err(err(
                    mapping,
                    format!("alias '{alias_name}' must map rule names to field names"),
                ));
            };
            let mut pairs = Vec::new();
            for (r, f) in m {
                match (r.as_str(), f.as_str()) {
                    (Some(r), Some(f)) => pairs.push((r.to_owned(), f.to_owned())),
                    _ => {
                        return Err(err(
                            r,
                            format!("alias '{alias_name}' must map rule names to field names"),
                        ));
                    }
                }
            }
            aliases.push((alias_name, pairs));
        }
    }
    let generate = match c.get("generate").or_else(|| node.get("generate")) {
        None => false,
        Some(g) => match g.scalar().map(crate::yaml::Scalar::resolve) {
            Some(Resolved::Bool(b)) => b,
            _ => return Err(err(g, "'generate' must be true or false".into())),
        },
    };
    Ok(Correlation {
        meta,
        kind,
        rules,
        group_by,
        timespan_ns,
        timespan_text,
        condition,
        aliases,
        generate,
    })
}

fn parse_corr_condition(cn: &Node, kind: CorrelationType) -> Result<CorrelationCondition, Problem> {
    let err = |n: &Node, msg: String| Problem::new(n.line, Code::Correlation, msg);
    let Some(entries) = cn.as_map() else {
        return Err(err(
            cn,
            "a correlation 'condition' must be a mapping like {gte: 10}".into(),
        ));
    };
    let mut cond = CorrelationCondition {
        ops: Vec::new(),
        field: Vec::new(),
        percentile: None,
    };
    for (k, v) in entries {
        let key = k.as_str().unwrap_or_default();
        if let Some(op) = CmpOp::parse(key) {
            let x = match v.scalar().map(crate::yaml::Scalar::resolve) {
                Some(Resolved::Int(i)) => i as f64,
                Some(Resolved::Float(f)) if f.is_finite() => f,
                _ => return Err(err(v, format!("'{key}' must be a number"))),
            };
            cond.ops.push((op, x));
            continue;
        }
        match key {
            "field" => {
                cond.field = match &v.value {
                    Yaml::Scalar(s) => vec![s.text.clone()],
                    Yaml::Seq(items) => items
                        .iter()
                        .filter_map(|i| i.as_str().map(str::to_owned))
                        .collect(),
                    Yaml::Map(_) => return Err(err(v, "'field' must be a field name".into())),
                }
            }
            "percentile" => match v.scalar().map(crate::yaml::Scalar::resolve) {
                Some(Resolved::Int(i)) if (0..=100).contains(&i) => {
                    cond.percentile = Some(i as f64);
                }
                Some(Resolved::Float(f)) if (0.0..=100.0).contains(&f) => {
                    cond.percentile = Some(f);
                }
                _ => return Err(err(v, "'percentile' must be a number from 0 to 100".into())),
            },
            _ => {
                return Err(err(
                    k,
                    format!(
                        "unknown key '{key}' in a correlation condition (expected gt, gte, lt, lte, eq, neq, field, percentile)"
                    ),
                ));
            }
        }
    }
    if cond.ops.is_empty() {
        return Err(err(
            cn,
            "a correlation condition needs a comparison (gt, gte, lt, lte, eq or neq)".into(),
        ));
    }
    if kind == CorrelationType::ValuePercentile && cond.percentile.is_none() {
        return Err(err(
            cn,
            "a value_percentile correlation needs 'percentile' (0-100)".into(),
        ));
    }
    Ok(cond)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::{Level, Quantity, StrPart};

    fn path() -> Arc<str> {
        Arc::from("t.yml")
    }

    fn rule(text: &str) -> Rule {
        let (docs, diags) = parse_file(&path(), text);
        assert!(diags.is_empty(), "{diags:?}");
        match docs.into_iter().next() {
            Some(Document::Rule(r)) => *r,
            other => panic!("not a rule: {other:?}"),
        }
    }

    fn error(text: &str) -> Diagnostic {
        let (docs, diags) = parse_file(&path(), text);
        assert!(docs.is_empty(), "{docs:?}");
        diags.into_iter().next().expect("a diagnostic")
    }

    const BASE: &str = "title: T\nid: 1\nlevel: high\nstatus: test\ntags: [attack.t1059]\nlogsource:\n  product: Windows\n  category: process_creation\n";

    #[test]
    fn full_rule() {
        let r = rule(&format!(
            "{BASE}detection:\n  selection:\n    Image|endswith: '\\cmd.exe'\n    CommandLine|contains|all:\n      - ' /c '\n      - whoami\n  filter:\n    - ParentImage: null\n    - User: SYSTEM\n  keywords:\n    - evil\n    - 'bad*'\n  condition: selection and not filter or keywords\nfalsepositives: [admins]\n"
        ));
        assert_eq!(r.meta.title, "T");
        assert_eq!(r.meta.level, Some(Level::High));
        assert_eq!(r.meta.tags, vec!["attack.t1059"]);
        assert_eq!(r.logsource.product.as_deref(), Some("windows"));
        let d = &r.detection;
        assert_eq!(d.searches.len(), 3);
        let sel = d.search("selection").expect("sel");
        assert_eq!(sel.any_of.len(), 1);
        assert_eq!(sel.any_of[0].len(), 2);
        assert_eq!(
            sel.any_of[0][1].modifiers,
            vec![Modifier::Contains, Modifier::All]
        );
        assert_eq!(sel.any_of[0][1].line, 12);
        let filter = d.search("filter").expect("filter");
        assert_eq!(filter.any_of.len(), 2);
        assert_eq!(filter.any_of[0][0].values, vec![SigmaValue::Null]);
        let kw = d.search("keywords").expect("kw");
        assert_eq!(kw.any_of[0][0].field, None);
        assert_eq!(kw.any_of[0][0].values.len(), 2);
        match &kw.any_of[0][0].values[1] {
            SigmaValue::Str { value, .. } => {
                assert_eq!(
                    value.parts,
                    vec![StrPart::Lit("bad".into()), StrPart::AnyRun]
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(d.condition, Condition::Or(_)));
    }

    #[test]
    fn condition_list_is_or() {
        let r = rule(&format!(
            "{BASE}detection:\n  a: {{x: 1}}\n  b: {{y: 2}}\n  condition:\n    - a\n    - b\n"
        ));
        assert_eq!(
            r.detection.condition,
            Condition::Or(vec![
                Condition::Search("a".into()),
                Condition::Search("b".into())
            ])
        );
        let r = rule(&format!(
            "{BASE}detection:\n  sel_a: {{x: 1}}\n  sel_b: {{y: 2}}\n  condition: all of sel_*\n"
        ));
        assert_eq!(
            r.detection.condition,
            Condition::Of(Quantity::All, Some("sel_*".into()))
        );
    }

    #[test]
    fn diagnostics_have_codes_and_lines() {
        let cases: &[(&str, Code, u32)] = &[
            ("a: [1,\n", Code::Yaml, 0),
            ("- 1\n- 2\n", Code::Structure, 1),
            ("title: x\nfoo: 1\n", Code::Structure, 1),
            (
                "title: x\ndetection:\n  s: {a: 1}\n  condition: s\n",
                Code::Missing,
                1,
            ),
            (
                "logsource: {product: windows}\ndetection:\n  s: {a: 1}\n  condition: s\n",
                Code::Missing,
                1,
            ),
            (
                "title: x\nlevel: severe\nlogsource: {}\ndetection:\n  s: {a: 1}\n  condition: s\n",
                Code::Attribute,
                2,
            ),
            (
                "title: x\nlogsource: {}\ndetection:\n  s: {a: 1}\n",
                Code::Missing,
                4,
            ),
            (
                "title: x\nlogsource: {}\ndetection:\n  s: {a: 1}\n  condition: s and t\n",
                Code::UnknownIdentifier,
                5,
            ),
            (
                "title: x\nlogsource: {}\ndetection:\n  s: {a: 1}\n  condition: 1 of f*\n",
                Code::UnknownIdentifier,
                5,
            ),
            (
                "title: x\nlogsource: {}\ndetection:\n  s: {a: 1}\n  condition: s | count() > 4\n",
                Code::Aggregation,
                5,
            ),
            (
                "title: x\nlogsource: {}\ndetection:\n  s:\n    a|foo: 1\n  condition: s\n",
                Code::UnknownModifier,
                5,
            ),
            (
                "title: x\nlogsource: {}\ndetection:\n  s:\n    a|contains|endswith: 1\n  condition: s\n",
                Code::ModifierCombination,
                5,
            ),
            (
                "title: x\nlogsource: {}\ndetection:\n  s:\n    a|re|contains: x\n  condition: s\n",
                Code::ModifierCombination,
                5,
            ),
            (
                "title: x\nlogsource: {}\ndetection:\n  s:\n    a|i: x\n  condition: s\n",
                Code::ModifierCombination,
                5,
            ),
            (
                "title: x\nlogsource: {}\ndetection:\n  s:\n    a|gt: abc\n  condition: s\n",
                Code::ModifierValue,
                5,
            ),
            (
                "title: x\nlogsource: {}\ndetection:\n  s:\n    a|exists: maybe\n  condition: s\n",
                Code::ModifierValue,
                5,
            ),
            (
                "title: x\nlogsource: {}\ndetection:\n  s:\n    a|contains: null\n  condition: s\n",
                Code::ModifierValue,
                5,
            ),
            (
                "title: x\nlogsource: {}\ndetection:\n  s:\n    a: []\n  condition: s\n",
                Code::Selection,
                5,
            ),
            (
                "title: x\nlogsource: {}\ndetection:\n  s:\n    a: {b: c}\n  condition: s\n",
                Code::Selection,
                5,
            ),
            (
                "title: x\nlogsource: {}\ndetection:\n  s: []\n  condition: s\n",
                Code::Selection,
                4,
            ),
            (
                "title: x\nlogsource: {}\ndetection:\n  s:\n  condition: s\n",
                Code::Selection,
                4,
            ),
            ("action: global\ntitle: x\n", Code::Structure, 1),
            (
                "title: x\nlogsource: {}\ndetection:\n  s:\n    a|gt|lt: 1\n  condition: s\n",
                Code::ModifierCombination,
                5,
            ),
            (
                "title: x\nlogsource: {}\ndetection:\n  s:\n    - '|exists': true\n  condition: s\n",
                Code::ModifierCombination,
                5,
            ),
        ];
        for (text, code, line) in cases {
            let d = error(text);
            assert_eq!(d.code, *code, "{text}: {d}");
            if *line > 0 {
                assert_eq!(d.line, *line, "{text}: {d}");
            }
        }
    }

    #[test]
    fn one_bad_document_keeps_the_others() {
        let text = "title: a\nlogsource: {}\ndetection:\n  s: {x: 1}\n  condition: s\n---\ntitle: b\n---\ntitle: c\nlogsource: {}\ndetection:\n  s: {x: 1}\n  condition: s\n";
        let (docs, diags) = parse_file(&path(), text);
        assert_eq!(docs.len(), 2);
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].line, 7);
    }

    #[test]
    fn filters() {
        let text = "title: F\nlogsource:\n  product: windows\nfilter:\n  rules:\n    - r1\n    - r2\n  selection:\n    User|startswith: adm_\n  condition: not selection\n";
        let (docs, diags) = parse_file(&path(), text);
        assert!(diags.is_empty(), "{diags:?}");
        let Some(Document::Filter(f)) = docs.first() else {
            panic!("{docs:?}")
        };
        assert_eq!(
            f.target,
            FilterTarget::Rules(vec!["r1".into(), "r2".into()])
        );
        assert_eq!(f.detection.searches.len(), 1);
        let any = "title: F\nfilter:\n  rules: any\n  s: {a: 1}\n  condition: not s\n";
        let (docs, _) = parse_file(&path(), any);
        assert!(matches!(docs.first(), Some(Document::Filter(f)) if f.target == FilterTarget::Any));
        let bad = "title: F\nfilter:\n  rules: [r]\n  s: {a: 1}\n";
        assert_eq!(error(bad).code, Code::Filter);
    }

    #[test]
    fn correlations() {
        let text = "title: C\nid: c1\nlevel: high\ncorrelation:\n  type: value_count\n  rules: [r1]\n  group-by: [Host]\n  timespan: 10m\n  condition:\n    gte: 5\n    field: User\n  aliases:\n    ip:\n      r1: source.ip\n";
        let (docs, diags) = parse_file(&path(), text);
        assert!(diags.is_empty(), "{diags:?}");
        let Some(Document::Correlation(c)) = docs.first() else {
            panic!("{docs:?}")
        };
        assert_eq!(c.kind, CorrelationType::ValueCount);
        assert_eq!(c.timespan_ns, 600_000_000_000);
        assert_eq!(c.condition.field, vec!["User"]);
        assert_eq!(c.condition.ops, vec![(CmpOp::Gte, 5.0)]);
        assert_eq!(
            c.aliases[0].1,
            vec![("r1".to_string(), "source.ip".to_string())]
        );
        assert!(!c.generate);
        // temporal defaults to "all rules".
        let t = "title: T\ncorrelation:\n  type: temporal\n  rules: [a, b, c]\n  group-by: [h]\n  timespan: 5m\n  generate: true\n";
        let (docs, diags) = parse_file(&path(), t);
        assert!(diags.is_empty(), "{diags:?}");
        let Some(Document::Correlation(c)) = docs.first() else {
            panic!()
        };
        assert_eq!(c.condition.ops, vec![(CmpOp::Gte, 3.0)]);
        assert!(c.generate);
        for bad in [
            "title: C\ncorrelation:\n  type: nope\n  rules: [a]\n  timespan: 1m\n  condition: {gt: 1}\n",
            "title: C\ncorrelation:\n  type: event_count\n  rules: [a]\n  timespan: 1q\n  condition: {gt: 1}\n",
            "title: C\ncorrelation:\n  type: event_count\n  rules: [a]\n  timespan: 1m\n",
            "title: C\ncorrelation:\n  type: value_count\n  rules: [a]\n  timespan: 1m\n  condition: {gt: 1}\n",
            "title: C\ncorrelation:\n  type: value_percentile\n  rules: [a]\n  timespan: 1m\n  condition: {gt: 1, field: x}\n",
            "title: C\ncorrelation:\n  type: event_count\n  timespan: 1m\n  condition: {gt: 1}\n",
            "title: C\ncorrelation:\n  type: event_count\n  rules: [a]\n  timespan: 1m\n  condition: {gt: x}\n",
        ] {
            assert_eq!(error(bad).code, Code::Correlation, "{bad}");
        }
    }

    #[test]
    fn timespans() {
        assert_eq!(parse_timespan("30s"), Some(30_000_000_000));
        assert_eq!(parse_timespan("1h"), Some(3_600_000_000_000));
        assert_eq!(parse_timespan("2d"), Some(172_800_000_000_000));
        assert_eq!(parse_timespan("1M"), Some(2_629_746_000_000_000));
        assert_eq!(parse_timespan("0m"), None);
        assert_eq!(parse_timespan("m"), None);
        assert_eq!(parse_timespan("5"), None);
        assert_eq!(parse_timespan("99999999999999y"), None);
        assert_eq!(parse_timespan("5é"), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_text(t in ".{0,300}") {
            let _ = parse_file(&path(), &t);
        }

        #[test]
        fn never_panics_on_rule_shaped_text(
            cond in "[a-z_*() ]{0,30}",
            key in "[A-Za-z|]{0,30}",
            val in "[ -~]{0,20}",
        ) {
            let t = format!("title: x\nlogsource: {{}}\ndetection:\n  sel:\n    '{key}': '{val}'\n  condition: {cond}\n");
            let _ = parse_file(&path(), &t);
        }
    }
}
