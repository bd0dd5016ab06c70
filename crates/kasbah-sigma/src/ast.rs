//! The typed form of Sigma documents: detection rules, filters (meta rules) and correlation rules.
//!
//! Parsing ([`crate::parse`]) turns YAML into these types and reports what is wrong with a
//! location; compiling ([`crate::compile`]) turns them into matchers. Nothing here refers to
//! events: the AST is what the rule says, not how it is evaluated.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Severity of a rule's detections, from `level`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Enrichment; expected to match often.
    Informational,
    /// Notable, rarely an incident.
    Low,
    /// Should be reviewed.
    Medium,
    /// Should raise an alert.
    High,
    /// Almost certainly an incident.
    Critical,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Level; 5] = [
        Level::Informational,
        Level::Low,
        Level::Medium,
        Level::High,
        Level::Critical,
    ];

    /// The Sigma name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    /// Parses a Sigma level name (case-insensitive).
    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Maturity of a rule, from `status`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Production-ready.
    Stable,
    /// Mostly stable.
    Test,
    /// New, may be noisy.
    Experimental,
    /// Replaced by another rule.
    Deprecated,
    /// Cannot be used as is.
    Unsupported,
}

impl Status {
    /// Parses a Sigma status name (case-insensitive).
    pub fn parse(s: &str) -> Option<Status> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "stable" => Status::Stable,
            "test" | "testing" => Status::Test,
            "experimental" => Status::Experimental,
            "deprecated" => Status::Deprecated,
            "unsupported" => Status::Unsupported,
            _ => return None,
        })
    }
}

/// The `logsource` of a rule or filter. Values are lower-cased (Sigma treats them so).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LogSource {
    /// e.g. `windows`, `linux`, `aws`.
    pub product: Option<String>,
    /// e.g. `process_creation`, `webserver`.
    pub category: Option<String>,
    /// e.g. `security`, `sysmon`, `cloudtrail`.
    pub service: Option<String>,
}

impl fmt::Display for LogSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (k, v) in [
            ("product", &self.product),
            ("category", &self.category),
            ("service", &self.service),
        ] {
            if let Some(v) = v {
                if !first {
                    f.write_str(", ")?;
                }
                first = false;
                write!(f, "{k}: {v}")?;
            }
        }
        if first {
            f.write_str("(any)")?;
        }
        Ok(())
    }
}

/// Descriptive attributes shared by rules, filters and correlations.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// The file the document came from.
    pub path: Arc<str>,
    /// 1-based line of the document's first key.
    pub line: u32,
    /// `id` (normally a UUID).
    pub id: Option<String>,
    /// `name` (Sigma 2): a unique human-readable reference for correlations and filters.
    pub name: Option<String>,
    /// `title`.
    pub title: String,
    /// `status`.
    pub status: Option<Status>,
    /// `description`.
    pub description: Option<String>,
    /// `author`.
    pub author: Option<String>,
    /// `date`.
    pub date: Option<String>,
    /// `modified`.
    pub modified: Option<String>,
    /// `references`.
    pub references: Vec<String>,
    /// `tags` (`attack.t1059.001`, `attack.execution`, `cve.2021-44228`...).
    pub tags: Vec<String>,
    /// `level`.
    pub level: Option<Level>,
    /// `falsepositives`.
    pub falsepositives: Vec<String>,
    /// `fields`: the fields an analyst should look at.
    pub fields: Vec<String>,
}

/// A value modifier (the `|name` parts after a field name).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Modifier {
    /// `contains`: `*value*`.
    Contains,
    /// `startswith`: `value*`.
    StartsWith,
    /// `endswith`: `*value`.
    EndsWith,
    /// `all`: the values are AND-ed instead of OR-ed.
    All,
    /// `base64`: match the Base64 encoding of the value.
    Base64,
    /// `base64offset`: the three Base64 encodings of the value at byte offsets 0, 1, 2.
    Base64Offset,
    /// `utf16le` (also `wide`): encode the value as UTF-16LE before the next encoding.
    Utf16Le,
    /// `utf16be`: encode as UTF-16BE.
    Utf16Be,
    /// `utf16`: UTF-16LE with a byte order mark.
    Utf16,
    /// `windash`: `-` and `/` of command-line flags also match `/`, `-`, en dash, em dash and
    /// horizontal bar.
    Windash,
    /// `re`: the value is a regular expression (case-sensitive unless `i`).
    Re,
    /// `i` after `re`: case-insensitive.
    ReCaseInsensitive,
    /// `m` after `re`: `^` and `$` match at line boundaries.
    ReMultiLine,
    /// `s` after `re`: `.` also matches a newline.
    ReDotAll,
    /// `cidr`: the value is an IPv4 or IPv6 network.
    Cidr,
    /// `exists`: the value (a boolean) says whether the field must be present.
    Exists,
    /// `cased`: compare case-sensitively.
    Cased,
    /// `fieldref`: the value names another field of the same event to compare with.
    FieldRef,
    /// `expand`: replace `%placeholder%` with the configured values.
    Expand,
    /// `gt`: numerically greater than.
    Gt,
    /// `gte`: greater or equal.
    Gte,
    /// `lt`: less than.
    Lt,
    /// `lte`: less or equal.
    Lte,
    /// `neq`: the field is present and different from every value.
    Neq,
    /// `minute` of a date value (0-59).
    Minute,
    /// `hour` of a date value (0-23).
    Hour,
    /// `day` of the month (1-31).
    Day,
    /// ISO `week` of the year (1-53).
    Week,
    /// `month` (1-12).
    Month,
    /// `year`.
    Year,
}

impl Modifier {
    /// Parses one modifier name (case-sensitive, as Sigma writes them).
    pub fn parse(s: &str) -> Option<Modifier> {
        Some(match s {
            "contains" => Modifier::Contains,
            "startswith" => Modifier::StartsWith,
            "endswith" => Modifier::EndsWith,
            "all" => Modifier::All,
            "base64" => Modifier::Base64,
            "base64offset" => Modifier::Base64Offset,
            "utf16le" | "wide" => Modifier::Utf16Le,
            "utf16be" => Modifier::Utf16Be,
            "utf16" => Modifier::Utf16,
            "windash" => Modifier::Windash,
            "re" => Modifier::Re,
            "i" => Modifier::ReCaseInsensitive,
            "m" => Modifier::ReMultiLine,
            "s" => Modifier::ReDotAll,
            "cidr" => Modifier::Cidr,
            "exists" => Modifier::Exists,
            "cased" => Modifier::Cased,
            "fieldref" => Modifier::FieldRef,
            "expand" => Modifier::Expand,
            "gt" => Modifier::Gt,
            "gte" => Modifier::Gte,
            "lt" => Modifier::Lt,
            "lte" => Modifier::Lte,
            "neq" => Modifier::Neq,
            "minute" => Modifier::Minute,
            "hour" => Modifier::Hour,
            "day" => Modifier::Day,
            "week" => Modifier::Week,
            "month" => Modifier::Month,
            "year" => Modifier::Year,
            _ => return None,
        })
    }

    /// The Sigma name.
    pub fn as_str(self) -> &'static str {
        match self {
            Modifier::Contains => "contains",
            Modifier::StartsWith => "startswith",
            Modifier::EndsWith => "endswith",
            Modifier::All => "all",
            Modifier::Base64 => "base64",
            Modifier::Base64Offset => "base64offset",
            Modifier::Utf16Le => "utf16le",
            Modifier::Utf16Be => "utf16be",
            Modifier::Utf16 => "utf16",
            Modifier::Windash => "windash",
            Modifier::Re => "re",
            Modifier::ReCaseInsensitive => "i",
            Modifier::ReMultiLine => "m",
            Modifier::ReDotAll => "s",
            Modifier::Cidr => "cidr",
            Modifier::Exists => "exists",
            Modifier::Cased => "cased",
            Modifier::FieldRef => "fieldref",
            Modifier::Expand => "expand",
            Modifier::Gt => "gt",
            Modifier::Gte => "gte",
            Modifier::Lt => "lt",
            Modifier::Lte => "lte",
            Modifier::Neq => "neq",
            Modifier::Minute => "minute",
            Modifier::Hour => "hour",
            Modifier::Day => "day",
            Modifier::Week => "week",
            Modifier::Month => "month",
            Modifier::Year => "year",
        }
    }

    /// True for the time-part modifiers.
    pub fn is_time_part(self) -> bool {
        matches!(
            self,
            Modifier::Minute
                | Modifier::Hour
                | Modifier::Day
                | Modifier::Week
                | Modifier::Month
                | Modifier::Year
        )
    }

    /// True for the numeric comparisons.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            Modifier::Gt | Modifier::Gte | Modifier::Lt | Modifier::Lte
        )
    }

    /// True for modifiers that re-encode the value.
    pub fn is_encoding(self) -> bool {
        matches!(
            self,
            Modifier::Base64
                | Modifier::Base64Offset
                | Modifier::Utf16Le
                | Modifier::Utf16Be
                | Modifier::Utf16
        )
    }
}

impl fmt::Display for Modifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One piece of a Sigma string value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StrPart {
    /// Literal text.
    Lit(String),
    /// `*`: any run of characters.
    AnyRun,
    /// `?`: exactly one character.
    AnyChar,
    /// A command-line flag dash (from `windash`): any of `-`, `/`, `–`, `—`, `―`.
    Dash,
}

/// A Sigma string with its wildcards decoded: `\*`, `\?` and `\\` are literal, other backslashes
/// are kept as they are (so Windows paths need no escaping).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SigmaString {
    /// The pieces, adjacent literals merged.
    pub parts: Vec<StrPart>,
}

impl SigmaString {
    /// Decodes wildcards and escapes.
    pub fn parse(s: &str) -> SigmaString {
        let mut out = SigmaString::default();
        let mut lit = String::new();
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.peek() {
                    Some(&n @ ('*' | '?' | '\\')) => {
                        lit.push(n);
                        chars.next();
                    }
                    _ => lit.push('\\'),
                },
                '*' | '?' => {
                    if !lit.is_empty() {
                        out.parts.push(StrPart::Lit(std::mem::take(&mut lit)));
                    }
                    out.parts.push(if c == '*' {
                        StrPart::AnyRun
                    } else {
                        StrPart::AnyChar
                    });
                }
                _ => lit.push(c),
            }
        }
        if !lit.is_empty() {
            out.parts.push(StrPart::Lit(lit));
        }
        out
    }

    /// A string taken literally (no wildcard decoding).
    pub fn literal(s: &str) -> SigmaString {
        let mut out = SigmaString::default();
        if !s.is_empty() {
            out.parts.push(StrPart::Lit(s.to_owned()));
        }
        out
    }

    /// The text if the string has no wildcard or dash class.
    pub fn as_plain(&self) -> Option<String> {
        let mut s = String::new();
        for p in &self.parts {
            match p {
                StrPart::Lit(l) => s.push_str(l),
                _ => return None,
            }
        }
        Some(s)
    }

    /// True if any part is a wildcard.
    pub fn has_wildcards(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, StrPart::AnyRun | StrPart::AnyChar))
    }

    /// Appends a part, merging adjacent literals and collapsing repeated `*`.
    pub fn push(&mut self, part: StrPart) {
        match (self.parts.last_mut(), part) {
            (Some(StrPart::Lit(a)), StrPart::Lit(b)) => a.push_str(&b),
            (Some(StrPart::AnyRun), StrPart::AnyRun) => {}
            (_, StrPart::Lit(b)) if b.is_empty() => {}
            (_, p) => self.parts.push(p),
        }
    }
}

impl fmt::Display for SigmaString {
    /// The Sigma notation (wildcards as `*`/`?`, literal ones escaped).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.parts {
            match p {
                StrPart::Lit(l) => {
                    for c in l.chars() {
                        if matches!(c, '*' | '?') {
                            f.write_str("\\")?;
                        }
                        write!(f, "{c}")?;
                    }
                }
                StrPart::AnyRun => f.write_str("*")?,
                StrPart::AnyChar => f.write_str("?")?,
                StrPart::Dash => f.write_str("-")?,
            }
        }
        Ok(())
    }
}

/// A value in a selection, typed as YAML gave it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SigmaValue {
    /// A string with wildcards decoded. `raw` keeps the text as written (for `re`, `cidr`,
    /// `fieldref`, placeholders), where wildcards mean nothing.
    Str {
        /// Decoded.
        value: SigmaString,
        /// As written.
        raw: String,
    },
    /// An integer, with its text.
    Int(i64, String),
    /// A float, with its text.
    Float(f64, String),
    /// A boolean.
    Bool(bool),
    /// `null`: the field is absent or empty.
    Null,
}

impl SigmaValue {
    /// The value as written.
    pub fn text(&self) -> &str {
        match self {
            SigmaValue::Str { raw, .. } => raw,
            SigmaValue::Int(_, t) | SigmaValue::Float(_, t) => t,
            SigmaValue::Bool(true) => "true",
            SigmaValue::Bool(false) => "false",
            SigmaValue::Null => "null",
        }
    }
}

/// One `field|modifiers: values` entry of a selection (or a keyword list when `field` is None).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldMatch {
    /// The field name; `None` for keywords (field-less search).
    pub field: Option<String>,
    /// Modifiers, in the order written.
    pub modifiers: Vec<Modifier>,
    /// The values (OR-ed, or AND-ed with `all`). Never empty.
    pub values: Vec<SigmaValue>,
    /// 1-based line of the entry.
    pub line: u32,
}

impl FieldMatch {
    /// True if `m` is among the modifiers.
    pub fn has(&self, m: Modifier) -> bool {
        self.modifiers.contains(&m)
    }
}

/// A search identifier: an OR of AND-ed field matches (a map is one AND; a list of maps is their
/// OR; a keyword list is one field-less match).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Search {
    /// The identifier (`selection`, `filter_main_*`...).
    pub name: String,
    /// 1-based line.
    pub line: u32,
    /// OR of ANDs.
    pub any_of: Vec<Vec<FieldMatch>>,
}

/// Quantity of an `N of` expression.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Quantity {
    /// `all of`.
    All,
    /// `N of` (`1 of` and `any of` are `AtLeast(1)`).
    AtLeast(u32),
}

/// A condition expression.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Condition {
    /// A search identifier.
    Search(String),
    /// `N of pattern` / `N of them`; `pattern` None means `them`.
    Of(Quantity, Option<String>),
    /// `not`.
    Not(Box<Condition>),
    /// `and`.
    And(Vec<Condition>),
    /// `or`.
    Or(Vec<Condition>),
}

/// The `detection` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Search identifiers in document order.
    pub searches: Vec<Search>,
    /// The parsed condition (several conditions are OR-ed).
    pub condition: Condition,
    /// The condition as written, for display.
    pub condition_text: String,
}

impl Detection {
    /// The search named `name`.
    pub fn search(&self, name: &str) -> Option<&Search> {
        self.searches.iter().find(|s| s.name == name)
    }
}

/// A Sigma detection rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Descriptive attributes.
    pub meta: Meta,
    /// `logsource`.
    pub logsource: LogSource,
    /// `detection`.
    pub detection: Detection,
}

/// Which rules a filter applies to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FilterTarget {
    /// Every rule with a compatible log source (`rules` absent, empty or `any`).
    Any,
    /// Rules by id or name.
    Rules(Vec<String>),
}

/// A Sigma filter: a condition AND-ed to the condition of the rules it targets (usually
/// `not selection`, to drop known-good events without editing the rules).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    /// Descriptive attributes.
    pub meta: Meta,
    /// The filter applies only to rules whose log source has every key set here.
    pub logsource: LogSource,
    /// Target rules.
    pub target: FilterTarget,
    /// The filter's searches and condition.
    pub detection: Detection,
}

/// A correlation type.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorrelationType {
    /// Number of matching events per group.
    EventCount,
    /// Number of distinct values of `field` per group.
    ValueCount,
    /// All (or `condition` many) referenced rules matched within the timespan, any order.
    Temporal,
    /// All referenced rules matched within the timespan, in the listed order.
    TemporalOrdered,
    /// Sum of the numeric `field` per group.
    ValueSum,
    /// Average of the numeric `field` per group.
    ValueAvg,
    /// The `percentile` (0-100) of the numeric `field` per group.
    ValuePercentile,
    /// The median of the numeric `field` per group.
    ValueMedian,
}

impl CorrelationType {
    /// Parses a type name.
    pub fn parse(s: &str) -> Option<CorrelationType> {
        Some(match s {
            "event_count" => CorrelationType::EventCount,
            "value_count" => CorrelationType::ValueCount,
            "temporal" => CorrelationType::Temporal,
            "temporal_ordered" => CorrelationType::TemporalOrdered,
            "value_sum" => CorrelationType::ValueSum,
            "value_avg" => CorrelationType::ValueAvg,
            "value_percentile" => CorrelationType::ValuePercentile,
            "value_median" => CorrelationType::ValueMedian,
            _ => return None,
        })
    }

    /// The Sigma name.
    pub fn as_str(self) -> &'static str {
        match self {
            CorrelationType::EventCount => "event_count",
            CorrelationType::ValueCount => "value_count",
            CorrelationType::Temporal => "temporal",
            CorrelationType::TemporalOrdered => "temporal_ordered",
            CorrelationType::ValueSum => "value_sum",
            CorrelationType::ValueAvg => "value_avg",
            CorrelationType::ValuePercentile => "value_percentile",
            CorrelationType::ValueMedian => "value_median",
        }
    }

    /// True for the types that aggregate the values of a field.
    pub fn needs_field(self) -> bool {
        matches!(
            self,
            CorrelationType::ValueCount
                | CorrelationType::ValueSum
                | CorrelationType::ValueAvg
                | CorrelationType::ValuePercentile
                | CorrelationType::ValueMedian
        )
    }
}

/// A comparison of a correlation condition.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CmpOp {
    /// `gt`.
    Gt,
    /// `gte`.
    Gte,
    /// `lt`.
    Lt,
    /// `lte`.
    Lte,
    /// `eq`.
    Eq,
    /// `neq`.
    Neq,
}

impl CmpOp {
    /// Parses `gt`, `gte`, `lt`, `lte`, `eq`, `neq`.
    pub fn parse(s: &str) -> Option<CmpOp> {
        Some(match s {
            "gt" => CmpOp::Gt,
            "gte" => CmpOp::Gte,
            "lt" => CmpOp::Lt,
            "lte" => CmpOp::Lte,
            "eq" => CmpOp::Eq,
            "neq" => CmpOp::Neq,
            _ => return None,
        })
    }

    /// `x op threshold`.
    pub fn test(self, x: f64, threshold: f64) -> bool {
        match self {
            CmpOp::Gt => x > threshold,
            CmpOp::Gte => x >= threshold,
            CmpOp::Lt => x < threshold,
            CmpOp::Lte => x <= threshold,
            CmpOp::Eq => x == threshold,
            CmpOp::Neq => x != threshold,
        }
    }
}

/// The `condition` of a correlation: every comparison must hold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CorrelationCondition {
    /// Comparisons, AND-ed (a range is `gt` + `lte`).
    pub ops: Vec<(CmpOp, f64)>,
    /// The aggregated field(s) for the value types.
    pub field: Vec<String>,
    /// The percentile for `value_percentile` (0-100).
    pub percentile: Option<f64>,
}

impl CorrelationCondition {
    /// True if `x` satisfies every comparison.
    pub fn test(&self, x: f64) -> bool {
        self.ops.iter().all(|(op, t)| op.test(x, *t))
    }

    /// True if the condition only bounds from below (`gt`/`gte`): adding events can only make it
    /// true, so it may fire as soon as it holds.
    pub fn is_monotone(&self) -> bool {
        self.ops
            .iter()
            .all(|(op, _)| matches!(op, CmpOp::Gt | CmpOp::Gte))
    }
}

/// A Sigma correlation rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Correlation {
    /// Descriptive attributes.
    pub meta: Meta,
    /// The type.
    pub kind: CorrelationType,
    /// Referenced rules (ids or names), in order.
    pub rules: Vec<String>,
    /// Group-by fields (or aliases).
    pub group_by: Vec<String>,
    /// Window length in nanoseconds.
    pub timespan_ns: i64,
    /// The timespan as written.
    pub timespan_text: String,
    /// Condition.
    pub condition: CorrelationCondition,
    /// Field aliases: alias -> (rule reference -> field name).
    pub aliases: Vec<(String, Vec<(String, String)>)>,
    /// `generate`: whether the referenced rules also report their own detections.
    pub generate: bool,
}

/// Any Sigma document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Document {
    /// A detection rule.
    Rule(Box<Rule>),
    /// A filter.
    Filter(Box<Filter>),
    /// A correlation.
    Correlation(Box<Correlation>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigma_strings_decode_wildcards_and_escapes() {
        let s = SigmaString::parse("C:\\Windows\\\\*\\cmd?.exe");
        assert_eq!(
            s.parts,
            vec![
                StrPart::Lit("C:\\Windows\\".into()),
                StrPart::AnyRun,
                StrPart::Lit("\\cmd".into()),
                StrPart::AnyChar,
                StrPart::Lit(".exe".into()),
            ]
        );
        // \* \? \\ are literal; a lone backslash stays.
        let s = SigmaString::parse("\\\\\\*\\IPC$");
        assert_eq!(s.as_plain().as_deref(), Some("\\*\\IPC$"));
        let s = SigmaString::parse("a\\?b\\");
        assert_eq!(s.as_plain().as_deref(), Some("a?b\\"));
        assert!(!s.has_wildcards());
        assert!(SigmaString::parse("*").has_wildcards());
        assert_eq!(SigmaString::parse("").parts, vec![]);
        assert_eq!(SigmaString::parse("a*b").to_string(), "a*b");
        assert_eq!(SigmaString::literal("a*b").to_string(), "a\\*b");
    }

    #[test]
    fn modifiers_round_trip() {
        for m in [
            "contains",
            "startswith",
            "endswith",
            "all",
            "base64",
            "base64offset",
            "utf16le",
            "utf16be",
            "utf16",
            "windash",
            "re",
            "i",
            "m",
            "s",
            "cidr",
            "exists",
            "cased",
            "fieldref",
            "expand",
            "gt",
            "gte",
            "lt",
            "lte",
            "neq",
            "minute",
            "hour",
            "day",
            "week",
            "month",
            "year",
        ] {
            let p = Modifier::parse(m).expect(m);
            assert_eq!(p.as_str(), m);
        }
        assert_eq!(Modifier::parse("wide"), Some(Modifier::Utf16Le));
        assert_eq!(Modifier::parse("Contains"), None);
        assert_eq!(Modifier::parse("bogus"), None);
    }

    #[test]
    fn levels_and_status() {
        assert_eq!(Level::parse("High"), Some(Level::High));
        assert!(Level::Critical > Level::Low);
        assert_eq!(Level::parse("severe"), None);
        assert_eq!(Status::parse("experimental"), Some(Status::Experimental));
        assert_eq!(Status::parse("nope"), None);
    }

    #[test]
    fn correlation_conditions() {
        let c = CorrelationCondition {
            ops: vec![(CmpOp::Gt, 100.0), (CmpOp::Lte, 200.0)],
            field: vec![],
            percentile: None,
        };
        assert!(c.test(150.0) && !c.test(100.0) && !c.test(201.0));
        assert!(!c.is_monotone());
        let c = CorrelationCondition {
            ops: vec![(CmpOp::Gte, 5.0)],
            field: vec![],
            percentile: None,
        };
        assert!(c.is_monotone());
        assert_eq!(
            CorrelationType::parse("value_percentile"),
            Some(CorrelationType::ValuePercentile)
        );
        assert!(CorrelationType::ValueSum.needs_field());
        assert!(!CorrelationType::Temporal.needs_field());
    }
}
