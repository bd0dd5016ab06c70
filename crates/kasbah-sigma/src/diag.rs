//! Diagnostics: why a rule, filter, correlation or mapping could not be loaded (or loaded with a
//! caveat), with the file, the line and a stable code.
//!
//! Codes are a contract (documented in `docs/errors.md`): tools and analysts filter on them, so a
//! code keeps its meaning once released. `KS0xx` are errors (the document is skipped), `KS1xx`
//! are warnings (the document is loaded, but the user should know something).

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A stable diagnostic code.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Code {
    /// `KS001`: the text is not valid YAML.
    Yaml,
    /// `KS002`: the document is not a Sigma rule, filter or correlation (not a mapping, or none of
    /// `detection`, `filter`, `correlation`).
    Structure,
    /// `KS003`: a required attribute is missing (`title`, `logsource`, `detection`, `condition`).
    Missing,
    /// `KS004`: an attribute has the wrong type or an invalid value (`level`, `status`, `tags`...).
    Attribute,
    /// `KS005`: the document exceeds a safety limit (size, nesting depth, node count, aliases).
    Limits,
    /// `KS010`: the condition cannot be parsed.
    ConditionSyntax,
    /// `KS011`: the condition names a search identifier that does not exist (or a pattern that
    /// matches none).
    UnknownIdentifier,
    /// `KS012`: an obsolete Sigma 1 aggregation (`| count() by ...`, `near`) in the condition;
    /// Sigma 2 expresses these as correlation rules.
    Aggregation,
    /// `KS013`: a search identifier is malformed (empty, nested maps where values are expected,
    /// a value of a type Sigma does not allow).
    Selection,
    /// `KS020`: an unknown value modifier.
    UnknownModifier,
    /// `KS021`: modifiers that cannot be combined (e.g. `re` with `contains`, `cidr` with `base64`).
    ModifierCombination,
    /// `KS022`: a value that the modifier cannot use (a bad CIDR, a non-number for `gt`, a
    /// wildcard inside a `base64` value).
    ModifierValue,
    /// `KS023`: a regular expression that is invalid, too large, or uses features that need
    /// backtracking (look-around, back-references), which Kasbah refuses to keep matching linear.
    Regex,
    /// `KS024`: an `expand` placeholder (`%name%`) that has no configured values.
    Placeholder,
    /// `KS030`: an invalid correlation rule (type, timespan, condition, group-by, aliases).
    Correlation,
    /// `KS031`: a correlation or filter refers to a rule that is not loaded.
    Reference,
    /// `KS032`: correlation rules that refer to each other in a cycle.
    Cycle,
    /// `KS040`: an invalid filter (meta rule).
    Filter,
    /// `KS050`: a second rule with an id already loaded; the later one is skipped.
    DuplicateId,
    /// `KS060`: an invalid log-source mapping entry.
    Mapping,
    /// `KS101` (warning): the rule's log source is not in the mappings; it is matched through the
    /// ECS fallback (`event.module`, `event.category`, `event.dataset`).
    UnmappedLogSource,
    /// `KS102` (warning): a filter names a rule that is not loaded; the filter applies to the
    /// others.
    FilterTarget,
}

/// How bad a diagnostic is.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The document was loaded; something deserves attention.
    Warning,
    /// The document was skipped.
    Error,
}

impl Code {
    /// Every code, in order (for documentation and tests).
    pub const ALL: [Code; 22] = [
        Code::Yaml,
        Code::Structure,
        Code::Missing,
        Code::Attribute,
        Code::Limits,
        Code::ConditionSyntax,
        Code::UnknownIdentifier,
        Code::Aggregation,
        Code::Selection,
        Code::UnknownModifier,
        Code::ModifierCombination,
        Code::ModifierValue,
        Code::Regex,
        Code::Placeholder,
        Code::Correlation,
        Code::Reference,
        Code::Cycle,
        Code::Filter,
        Code::DuplicateId,
        Code::Mapping,
        Code::UnmappedLogSource,
        Code::FilterTarget,
    ];

    /// The stable text form, `KSxxx`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Yaml => "KS001",
            Code::Structure => "KS002",
            Code::Missing => "KS003",
            Code::Attribute => "KS004",
            Code::Limits => "KS005",
            Code::ConditionSyntax => "KS010",
            Code::UnknownIdentifier => "KS011",
            Code::Aggregation => "KS012",
            Code::Selection => "KS013",
            Code::UnknownModifier => "KS020",
            Code::ModifierCombination => "KS021",
            Code::ModifierValue => "KS022",
            Code::Regex => "KS023",
            Code::Placeholder => "KS024",
            Code::Correlation => "KS030",
            Code::Reference => "KS031",
            Code::Cycle => "KS032",
            Code::Filter => "KS040",
            Code::DuplicateId => "KS050",
            Code::Mapping => "KS060",
            Code::UnmappedLogSource => "KS101",
            Code::FilterTarget => "KS102",
        }
    }

    /// The code whose text form is `text` (`KS024`).
    pub fn from_code(text: &str) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.as_str() == text)
    }

    /// Whether the document carrying this diagnostic was skipped.
    pub fn severity(self) -> Severity {
        match self {
            Code::UnmappedLogSource | Code::FilterTarget => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found while loading, located in its file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// The path the caller gave with the text.
    pub path: Arc<str>,
    /// 1-based line (0 when the problem concerns the whole file).
    pub line: u32,
    /// The stable code.
    #[serde(serialize_with = "ser_code", deserialize_with = "de_code")]
    pub code: Code,
    /// Error (skipped) or warning (loaded).
    pub severity: Severity,
    /// What is wrong, and where useful what was expected.
    pub message: String,
}

fn ser_code<S: serde::Serializer>(c: &Code, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(c.as_str())
}

fn de_code<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Code, D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    Code::from_code(&text)
        .ok_or_else(|| serde::de::Error::custom(format!("unknown diagnostic code {text}")))
}

impl Diagnostic {
    /// A diagnostic at `line` of `path`.
    pub fn new(path: &Arc<str>, line: u32, code: Code, message: impl Into<String>) -> Self {
        Diagnostic {
            path: path.clone(),
            line,
            code,
            severity: code.severity(),
            message: message.into(),
        }
    }

    /// True if the document was skipped.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{}:{}: {}: {}",
                self.path, self.line, self.code, self.message
            )
        } else {
            write!(f, "{}: {}: {}", self.path, self.code, self.message)
        }
    }
}

/// A located problem before it is attached to a file (see [`Problem::at`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line (0: the whole text).
    pub line: u32,
    /// The stable code.
    pub code: Code,
    /// What is wrong.
    pub message: String,
}

impl Problem {
    /// A problem at `line`.
    pub fn new(line: u32, code: Code, message: impl Into<String>) -> Self {
        Problem {
            line,
            code,
            message: message.into(),
        }
    }

    /// The diagnostic for this problem in `path`.
    pub fn at(self, path: &Arc<str>) -> Diagnostic {
        Diagnostic::new(path, self.line, self.code, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_stable() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "duplicate {c}");
            assert!(c.as_str().starts_with("KS") && c.as_str().len() == 5);
            // KS1xx are exactly the warnings.
            assert_eq!(
                c.as_str().starts_with("KS1"),
                c.severity() == Severity::Warning,
                "{c}"
            );
        }
        assert_eq!(Code::Yaml.as_str(), "KS001");
        assert_eq!(Code::Regex.as_str(), "KS023");
    }

    #[test]
    fn display_and_json() {
        let p: Arc<str> = Arc::from("rules/a.yml");
        let d = Diagnostic::new(&p, 7, Code::UnknownModifier, "unknown modifier 'foo'");
        assert_eq!(
            d.to_string(),
            "rules/a.yml:7: KS020: unknown modifier 'foo'"
        );
        assert!(d.is_error());
        let j = serde_json::to_value(&d).expect("serialises");
        assert_eq!(j["code"], "KS020");
        assert_eq!(j["severity"], "error");
        assert_eq!(j["line"], 7);
    }
}
