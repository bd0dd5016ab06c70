//! A small YAML tree that remembers the line of every node, built from `saphyr-parser` events.
//!
//! Sigma rules are YAML; diagnostics must point at the line of the offending key or value, and
//! rule files come from outside (rule packs, users), so loading must be safe on any text:
//! * the tree is built iteratively (no recursion on input depth) with a nesting limit, so deep
//!   input cannot overflow the stack, here or when the tree is dropped;
//! * aliases are expanded by copying, counted against a node budget, so "billion laughs" alias
//!   bombs stop with a diagnostic instead of exhausting memory;
//! * the parser runs under `catch_unwind` as a last line of defence against a bug in it.
//!
//! Block-style input, which is what rule files are, is read by a faster line-based reader
//! ([`block`]) that declines whatever it does not fully understand; the general parser reads
//! the rest, and tests hold the two to the same tree.
//!
//! Plain scalars are resolved with the YAML 1.2 core schema (null, booleans, integers, floats);
//! the original text is kept, because Sigma compares values as text (`EventID: 4688` must also
//! match the string `"4688"`).

use std::borrow::Cow;

use rustc_hash::FxHashMap;
use saphyr_parser::{Event, Parser, ScalarStyle};

use crate::diag::{Code, Problem};

mod block;

/// Largest YAML text accepted (bytes). SigmaHQ's largest rule is about 40 KiB.
pub const MAX_INPUT_BYTES: usize = 8 << 20;
/// Deepest nesting of sequences and mappings accepted.
pub const MAX_DEPTH: usize = 64;
/// Most nodes (after alias expansion) accepted in one file.
pub const MAX_NODES: usize = 500_000;

/// A YAML node and the 1-based line it starts on.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The content.
    pub value: Yaml,
    /// 1-based line of the node's first character.
    pub line: u32,
}

/// The content of a node.
#[derive(Clone, Debug, PartialEq)]
pub enum Yaml {
    /// A scalar with its text.
    Scalar(Scalar),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order (duplicate keys kept; lookups take the last, as PyYAML does).
    Map(Vec<(Node, Node)>),
}

/// A scalar's text and whether it was quoted (quoted and block scalars are always strings).
#[derive(Clone, Debug, PartialEq)]
pub struct Scalar {
    /// The text, after YAML unescaping.
    pub text: String,
    /// True for quoted, block and `!!str`-tagged scalars.
    pub quoted: bool,
}

/// A scalar resolved to its YAML 1.2 core-schema type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Resolved<'a> {
    /// `null`, `~` or empty.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// Anything else, and every quoted scalar.
    Str(&'a str),
}

impl Scalar {
    /// Resolves the scalar's type.
    pub fn resolve(&self) -> Resolved<'_> {
        if self.quoted {
            return Resolved::Str(&self.text);
        }
        let t = self.text.as_str();
        match t {
            "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
            "true" | "True" | "TRUE" => return Resolved::Bool(true),
            "false" | "False" | "FALSE" => return Resolved::Bool(false),
            _ => {}
        }
        if let Some(i) = parse_int(t) {
            return Resolved::Int(i);
        }
        if let Some(f) = parse_float(t) {
            return Resolved::Float(f);
        }
        Resolved::Str(t)
    }
}

fn parse_int(t: &str) -> Option<i64> {
    if let Some(hex) = t.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok();
    }
    if let Some(oct) = t.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).ok();
    }
    let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

fn parse_float(t: &str) -> Option<f64> {
    match t {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    // Core schema: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    let b = t.strip_prefix(['-', '+']).unwrap_or(t).as_bytes();
    let mut i = 0;
    let int_digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    i += int_digits;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        i += frac_digits;
    }
    if int_digits == 0 && frac_digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let exp = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp == 0 {
            return None;
        }
        i += exp;
    }
    if i != b.len() {
        return None;
    }
    t.parse().ok()
}

impl Node {
    /// The scalar, if this is one.
    pub fn scalar(&self) -> Option<&Scalar> {
        match &self.value {
            Yaml::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The text of a scalar node (whatever its resolved type).
    pub fn as_str(&self) -> Option<&str> {
        self.scalar().map(|s| s.text.as_str())
    }

    /// True for a null scalar.
    pub fn is_null(&self) -> bool {
        matches!(self.scalar().map(Scalar::resolve), Some(Resolved::Null))
    }

    /// The entries of a mapping.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Yaml::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The items of a sequence.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Yaml::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The value of `key` in a mapping (the last one if the key is repeated).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .rev()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// A short name of the node's kind, for messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Yaml::Scalar(_) if self.is_null() => "null",
            Yaml::Scalar(_) => "scalar",
            Yaml::Seq(_) => "list",
            Yaml::Map(_) => "mapping",
        }
    }
}

enum Frame {
    Seq {
        items: Vec<Node>,
        line: u32,
        anchor: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        line: u32,
        anchor: usize,
    },
}

struct Builder {
    docs: Vec<Node>,
    stack: Vec<Frame>,
    anchors: FxHashMap<usize, (Node, usize)>,
    nodes: usize,
    /// Nodes built inside each open frame, to size anchored collections.
    sizes: Vec<usize>,
}

impl Builder {
    fn count(&mut self, n: usize, line: u32) -> Result<(), Problem> {
        self.nodes = self.nodes.saturating_add(n);
        for s in &mut self.sizes {
            *s = s.saturating_add(n);
        }
        if self.nodes > MAX_NODES {
            return Err(Problem::new(
                line,
                Code::Limits,
                format!("more than {MAX_NODES} YAML nodes (after alias expansion)"),
            ));
        }
        Ok(())
    }

    fn attach(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }

    fn open(&mut self, frame: Frame, line: u32) -> Result<(), Problem> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Problem::new(
                line,
                Code::Limits,
                format!("YAML nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        self.count(1, line)?;
        self.stack.push(frame);
        self.sizes.push(1);
        Ok(())
    }

    fn close(&mut self) {
        let size = self.sizes.pop().unwrap_or(1);
        let (node, anchor) = match self.stack.pop() {
            Some(Frame::Seq {
                items,
                line,
                anchor,
            }) => (
                Node {
                    value: Yaml::Seq(items),
                    line,
                },
                anchor,
            ),
            Some(Frame::Map {
                entries,
                key,
                line,
                anchor,
            }) => {
                let mut entries = entries;
                // A key without value (`{a}` or a truncated document) maps to null.
                if let Some(k) = key {
                    let l = k.line;
                    entries.push((k, null_node(l)));
                }
                (
                    Node {
                        value: Yaml::Map(entries),
                        line,
                    },
                    anchor,
                )
            }
            None => return,
        };
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        self.attach(node);
    }
}

fn null_node(line: u32) -> Node {
    Node {
        value: Yaml::Scalar(Scalar {
            text: String::new(),
            quoted: false,
        }),
        line,
    }
}

fn line_of(m: &saphyr_parser::Marker) -> u32 {
    u32::try_from(m.line()).unwrap_or(u32::MAX)
}

/// Parses every document of `text`. Empty documents are skipped.
pub fn parse(text: &str) -> Result<Vec<Node>, Problem> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(Problem::new(
            0,
            Code::Limits,
            format!(
                "file of {} bytes exceeds the limit of {MAX_INPUT_BYTES}",
                text.len()
            ),
        ));
    }
    let read = || block::parse(text).map_or_else(|| parse_inner(text), Ok);
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)) {
        Ok(r) => r,
        Err(_) => Err(Problem::new(
            0,
            Code::Yaml,
            "the YAML parser failed on this input",
        )),
    }
}

/// Reads `text` with both readers: the block reader's tree (`None` where it declines) and the
/// general parser's. For differential tests and fuzzing (`fuzz/fuzz_targets/sigma_yaml.rs`):
/// wherever the first is `Some`, the two must be equal. [`parse`] is what loading uses.
#[doc(hidden)]
pub fn parse_both(text: &str) -> (Option<Vec<Node>>, Result<Vec<Node>, Problem>) {
    if text.len() > MAX_INPUT_BYTES {
        return (None, parse(text));
    }
    (block::parse(text), parse_inner(text))
}

fn parse_inner(text: &str) -> Result<Vec<Node>, Problem> {
    let mut parser = Parser::new_from_str(text);
    let mut b = Builder {
        docs: Vec::new(),
        stack: Vec::new(),
        anchors: FxHashMap::default(),
        nodes: 0,
        sizes: Vec::new(),
    };
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| {
            Problem::new(
                line_of(e.marker()),
                Code::Yaml,
                format!("invalid YAML: {}", e.info()),
            )
        })?;
        let line = line_of(&span.start);
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                b.count(1, line)?;
                let tagged_str = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let node = Node {
                    value: Yaml::Scalar(Scalar {
                        text: Cow::into_owned(text),
                        quoted: style != ScalarStyle::Plain || tagged_str,
                    }),
                    line,
                };
                if anchor != 0 {
                    b.anchors.insert(anchor, (node.clone(), 1));
                }
                b.attach(node);
            }
            Event::SequenceStart(anchor, _) => b.open(
                Frame::Seq {
                    items: Vec::new(),
                    line,
                    anchor,
                },
                line,
            )?,
            Event::MappingStart(anchor, _) => b.open(
                Frame::Map {
                    entries: Vec::new(),
                    key: None,
                    line,
                    anchor,
                },
                line,
            )?,
            Event::SequenceEnd | Event::MappingEnd => b.close(),
            Event::Alias(id) => {
                let Some((node, size)) = b.anchors.get(&id).cloned() else {
                    return Err(Problem::new(line, Code::Yaml, "alias to an unknown anchor"));
                };
                b.count(size, line)?;
                b.attach(node);
            }
            Event::StreamEnd => break,
            Event::Nothing | Event::StreamStart | Event::DocumentStart(_) | Event::DocumentEnd => {}
        }
    }
    // An empty document (a trailing `---`) has a null root: nothing to load.
    b.docs.retain(|d| !d.is_null());
    Ok(b.docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        let mut d = parse(text).expect("valid yaml");
        assert_eq!(d.len(), 1, "{d:?}");
        d.remove(0)
    }

    #[test]
    fn lines_and_lookup() {
        let n =
            one("title: x\ndetection:\n  sel:\n    Image|endswith: '\\a.exe'\n  condition: sel\n");
        assert_eq!(n.line, 1);
        let det = n.get("detection").expect("detection");
        assert_eq!(det.line, 3);
        let sel = det.get("sel").expect("sel");
        let (k, v) = &sel.as_map().expect("map")[0];
        assert_eq!(k.as_str(), Some("Image|endswith"));
        assert_eq!(k.line, 4);
        assert_eq!(v.as_str(), Some("\\a.exe"));
        assert!(v.scalar().expect("scalar").quoted);
        assert_eq!(det.get("condition").and_then(Node::as_str), Some("sel"));
        assert!(n.get("nope").is_none());
    }

    #[test]
    fn scalars_resolve_with_core_schema() {
        let n = one(
            "a: 4688\nb: '4688'\nc: null\nd: ~\ne:\nf: true\ng: 1.5\nh: 0x10\ni: -3\nj: 1.10.2\nk: yes\nl: .5\nm: 1e3\n",
        );
        let r = |k: &str| n.get(k).and_then(Node::scalar).map(Scalar::resolve);
        assert_eq!(r("a"), Some(Resolved::Int(4688)));
        assert_eq!(r("b"), Some(Resolved::Str("4688")));
        assert_eq!(r("c"), Some(Resolved::Null));
        assert_eq!(r("d"), Some(Resolved::Null));
        assert_eq!(r("e"), Some(Resolved::Null));
        assert_eq!(r("f"), Some(Resolved::Bool(true)));
        assert_eq!(r("g"), Some(Resolved::Float(1.5)));
        assert_eq!(r("h"), Some(Resolved::Int(16)));
        assert_eq!(r("i"), Some(Resolved::Int(-3)));
        assert_eq!(r("j"), Some(Resolved::Str("1.10.2")));
        // YAML 1.2: `yes` is a string, not a boolean.
        assert_eq!(r("k"), Some(Resolved::Str("yes")));
        assert_eq!(r("l"), Some(Resolved::Float(0.5)));
        assert_eq!(r("m"), Some(Resolved::Float(1000.0)));
        // Keeps the original text for matching.
        assert_eq!(n.get("g").and_then(Node::as_str), Some("1.5"));
    }

    #[test]
    fn multi_documents_and_empty() {
        let d = parse("a: 1\n---\nb: 2\n---\n").expect("valid");
        assert_eq!(d.len(), 2);
        assert_eq!(d[1].get("b").and_then(Node::as_str), Some("2"));
        assert_eq!(d[1].line, 3);
        assert!(parse("").expect("valid").is_empty());
    }

    #[test]
    fn duplicate_keys_last_wins() {
        let n = one("a: 1\na: 2\n");
        assert_eq!(n.get("a").and_then(Node::as_str), Some("2"));
    }

    #[test]
    fn syntax_errors_have_lines() {
        let e = parse("a: 1\nb: [1, 2\nc: 3\n").expect_err("invalid");
        assert_eq!(e.code, Code::Yaml);
        assert!(e.line >= 2, "{e:?}");
        let e = parse("a: *nope\n").expect_err("unknown alias");
        assert_eq!(e.code, Code::Yaml);
    }

    #[test]
    fn aliases_expand_and_bombs_stop() {
        let n = one("a: &x [1, 2]\nb: *x\n");
        assert_eq!(
            n.get("b").and_then(Node::as_seq).map(<[Node]>::len),
            Some(2)
        );
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            bomb.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let e = parse(&bomb).expect_err("bomb");
        assert_eq!(e.code, Code::Limits);
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = "[".repeat(100_000);
        let e = parse(&deep).expect_err("too deep or invalid");
        assert!(matches!(e.code, Code::Limits | Code::Yaml));
        let deep_ok = format!("{}1{}", "[".repeat(10), "]".repeat(10));
        assert_eq!(parse(&deep_ok).expect("valid").len(), 1);
    }

    #[test]
    fn known_hang_inputs_terminate() {
        for t in [
            "{---",
            "[...",
            "- - - ? : : :",
            "&a [*a]",
            "? ? ?",
            "'\\",
            "\t",
        ] {
            let _ = parse(t);
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in ".{0,400}") {
            let _ = parse(&s);
        }

        #[test]
        fn never_panics_yamlish(s in "[a-z:\\-\\[\\]{}&*!|>'\"#\\n ?,]{0,200}") {
            let _ = parse(&s);
        }
    }
}
