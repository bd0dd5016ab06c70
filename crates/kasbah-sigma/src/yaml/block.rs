//! A fast reader for the block-style YAML that rule files are written in.
//!
//! Loading SigmaHQ spent most of its parsing time in a general YAML scanner (a token queue, a
//! `String` per scalar, simple-key bookkeeping). Rule files use a small part of YAML: block
//! mappings and sequences, plain and quoted scalars on one line, plain scalars folded over a few
//! lines, literal and folded block scalars. This reader handles exactly that part, line by line.
//!
//! It either builds the same tree as the general parser or declines (`None`) and lets it run:
//! anything it does not fully understand (flow collections, anchors, tags, escapes other than
//! `\\` and `\"`, tabs, carriage returns, explicit keys, directives, odd indentation, invalid
//! YAML) is declined, never guessed. Tests hold it to the general parser on every SigmaHQ file
//! and on generated documents.

use super::{MAX_DEPTH, MAX_NODES, Node, Scalar, Yaml};

/// One line of the input.
#[derive(Clone, Copy)]
struct Line<'a> {
    /// Columns of leading spaces.
    indent: usize,
    /// The text after the indentation (trailing spaces kept).
    body: &'a str,
    /// 1-based line number.
    number: u32,
}

impl Line<'_> {
    /// Blank or comment only: not part of the structure (but content inside block scalars).
    fn is_filler(&self) -> bool {
        let t = self.body.trim_end_matches(' ');
        t.is_empty() || t.starts_with('#')
    }
}

/// Parses every document of `text`, or returns `None` to leave the input to the general parser.
pub(crate) fn parse(text: &str) -> Option<Vec<Node>> {
    if !plain_text(text) {
        return None;
    }
    let mut docs = Vec::new();
    let mut lines: Vec<Line<'_>> = Vec::new();
    let mut nodes = 0usize;
    for (i, raw) in split_lines(text).enumerate() {
        let number = u32::try_from(i + 1).ok()?;
        if let Some(rest) = raw.strip_prefix("---") {
            // A document marker, alone or before a comment.
            if !(rest.is_empty() || rest.starts_with(' ') && only_comment(rest)) {
                return None;
            }
            document(std::mem::take(&mut lines), &mut docs, &mut nodes)?;
            continue;
        }
        if raw.starts_with("...") || raw.starts_with('%') {
            return None;
        }
        let body = raw.trim_start_matches(' ');
        lines.push(Line {
            indent: raw.len() - body.len(),
            body,
            number,
        });
    }
    document(lines, &mut docs, &mut nodes)?;
    Some(docs)
}

/// No tab, carriage return, byte-order mark, line separator or character YAML does not allow
/// (control characters, `U+FFFE`, `U+FFFF`): the general parser handles or refuses those.
fn plain_text(text: &str) -> bool {
    let ascii_ok = |b: u8| (b >= 0x20 && b != 0x7f) || b == b'\n' || b >= 0x80;
    text.bytes().all(ascii_ok)
        && (text.is_ascii()
            || !text.chars().any(|c| {
                matches!(
                    c,
                    '\u{80}'
                        ..='\u{9f}'
                            | '\u{2028}'
                            | '\u{2029}'
                            | '\u{feff}'
                            | '\u{fffe}'
                            | '\u{ffff}'
                )
            }))
}

/// The lines of `text` (split at each `\n` with memchr: `str::split` by a char was a visible
/// share of loading SigmaHQ).
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut start = 0;
    memchr::memchr_iter(b'\n', bytes)
        .map(Some)
        .chain(std::iter::once(None))
        .map(move |newline| {
            let end = newline.unwrap_or(bytes.len());
            // `\n` is ASCII: both ends are character boundaries.
            let line = text.get(start..end).unwrap_or_default();
            start = end + 1;
            line
        })
}

/// Reads one document's lines into `docs` (nothing for an empty document).
fn document(lines: Vec<Line<'_>>, docs: &mut Vec<Node>, nodes: &mut usize) -> Option<()> {
    let mut r = Reader {
        lines,
        at: 0,
        nodes: *nodes,
    };
    r.skip_filler();
    let Some(first) = r.peek() else {
        return Some(());
    };
    let root = r.block(first.indent, 0)?;
    r.skip_filler();
    if r.peek().is_some() {
        return None;
    }
    *nodes = r.nodes;
    if !root.is_null() {
        docs.push(root);
    }
    Some(())
}

struct Reader<'a> {
    lines: Vec<Line<'a>>,
    at: usize,
    nodes: usize,
}

/// Characters that give a scalar's first character another meaning.
fn indicator(c: char) -> bool {
    matches!(
        c,
        '[' | ']'
            | '{'
            | '}'
            | '#'
            | '&'
            | '*'
            | '!'
            | '|'
            | '>'
            | '\''
            | '"'
            | '%'
            | '@'
            | '`'
            | ','
    )
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<Line<'a>> {
        self.lines.get(self.at).copied()
    }

    fn skip_filler(&mut self) {
        while self.peek().is_some_and(|l| l.is_filler()) {
            self.at += 1;
        }
    }

    fn count(&mut self) -> Option<()> {
        self.nodes += 1;
        (self.nodes <= MAX_NODES).then_some(())
    }

    /// The collection starting at the current line, whose indentation is `indent`.
    fn block(&mut self, indent: usize, depth: usize) -> Option<Node> {
        if depth >= MAX_DEPTH {
            return None;
        }
        let line = self.peek()?;
        if is_item(line.body) {
            self.sequence(indent, depth)
        } else {
            self.mapping(indent, depth)
        }
    }

    fn mapping(&mut self, indent: usize, depth: usize) -> Option<Node> {
        self.count()?;
        let start = self.peek()?.number;
        let mut entries = Vec::new();
        loop {
            self.skip_filler();
            let Some(line) = self.peek() else { break };
            if line.indent < indent {
                break;
            }
            if line.indent > indent || is_item(line.body) {
                return None;
            }
            let (key, rest) = split_key(line.body)?;
            self.count()?;
            let key = Node {
                value: Yaml::Scalar(Scalar {
                    text: key.to_owned(),
                    quoted: false,
                }),
                line: line.number,
            };
            let value = self.value(rest, line, indent, true, depth)?;
            entries.push((key, value));
        }
        Some(Node {
            value: Yaml::Map(entries),
            line: start,
        })
    }

    fn sequence(&mut self, indent: usize, depth: usize) -> Option<Node> {
        self.count()?;
        let start = self.peek()?.number;
        let mut items = Vec::new();
        loop {
            self.skip_filler();
            let Some(line) = self.peek() else { break };
            if line.indent < indent || (line.indent == indent && !is_item(line.body)) {
                break;
            }
            if line.indent > indent {
                return None;
            }
            let after = line.body.get(1..).unwrap_or_default();
            let rest = after.trim_start_matches(' ');
            if is_item(rest) {
                return None; // `- - a`
            }
            let col = indent + 1 + (after.len() - rest.len());
            let item = if !rest.is_empty() && !rest.starts_with('#') && split_key(rest).is_some() {
                // `- key: value`: a mapping whose keys are at the column of this one.
                if depth + 1 >= MAX_DEPTH {
                    return None;
                }
                if let Some(l) = self.lines.get_mut(self.at) {
                    l.indent = col;
                    l.body = rest;
                }
                self.mapping(col, depth + 1)?
            } else {
                self.value(rest, line, indent, false, depth)?
            };
            items.push(item);
        }
        Some(Node {
            value: Yaml::Seq(items),
            line: start,
        })
    }

    /// The value that follows a key or a dash on `line` (`rest` is the text after it), owned by
    /// a collection at `indent`. The current line is `line`; on return it is past the value.
    fn value(
        &mut self,
        rest: &'a str,
        line: Line<'a>,
        indent: usize,
        in_mapping: bool,
        depth: usize,
    ) -> Option<Node> {
        self.at += 1;
        let rest = rest.trim_end_matches(' ');
        if rest.is_empty() || rest.starts_with('#') {
            // The value is on the following lines, or null.
            self.skip_filler();
            if let Some(next) = self.peek() {
                if next.indent > indent {
                    return self.block(next.indent, depth + 1);
                }
                if in_mapping && next.indent == indent && is_item(next.body) {
                    return self.sequence(indent, depth + 1);
                }
            }
            self.count()?;
            return Some(Node {
                value: Yaml::Scalar(Scalar {
                    text: String::new(),
                    quoted: false,
                }),
                line: line.number,
            });
        }
        self.count()?;
        let first = rest.chars().next()?;
        let (text, quoted) = match first {
            '\'' => (single_quoted(rest)?, true),
            '"' => (double_quoted(rest)?, true),
            '|' | '>' => {
                // The general parser places a block scalar on its first line of text.
                let (text, first) = self.block_scalar(rest, indent)?;
                return Some(Node {
                    value: Yaml::Scalar(Scalar { text, quoted: true }),
                    line: first,
                });
            }
            c if indicator(c) => return None,
            _ => (self.plain(rest, indent)?, false),
        };
        Some(Node {
            value: Yaml::Scalar(Scalar { text, quoted }),
            line: line.number,
        })
    }

    /// A plain scalar starting with `first` (the rest of the current line), continued on more
    /// indented lines.
    fn plain(&mut self, first: &str, indent: usize) -> Option<String> {
        let (first, mut ended) = plain_piece(first)?;
        if first.starts_with("- ")
            || first == "-"
            || first.starts_with("? ")
            || first.starts_with(": ")
        {
            return None;
        }
        let mut text = first.to_owned();
        let mut breaks = 0usize;
        // A comment ends the scalar: a more indented line after it is left to the structure,
        // which declines it.
        while !ended && let Some(l) = self.peek() {
            if l.body.trim_end_matches(' ').is_empty() {
                breaks += 1;
                self.at += 1;
                continue;
            }
            if l.indent <= indent || l.body.starts_with('#') {
                break;
            }
            let (piece, comment) = plain_piece(l.body)?;
            ended = comment;
            fold_line(&mut text, breaks, piece);
            breaks = 0;
            self.at += 1;
        }
        if breaks > 0 {
            // Blank lines after the scalar belong to nothing; step back so they stay filler.
            self.at -= breaks;
        }
        Some(text)
    }

    /// A literal (`|`) or folded (`>`) block scalar with clip or strip chomping.
    fn block_scalar(&mut self, header: &str, indent: usize) -> Option<(String, u32)> {
        let (style, chomp) = header.split_at(1);
        let (strip, after) = match chomp.strip_prefix('-') {
            Some(after) => (true, after),
            None => (false, chomp),
        };
        if !(after.is_empty() || after.starts_with(' ') && only_comment(after)) {
            return None;
        }
        let literal = style == "|";
        // Content lines: blank ones, and those indented at least as much as the first.
        let mut content: Vec<Line<'a>> = Vec::new();
        let mut at = self.at;
        let mut width = None;
        while let Some(l) = self.lines.get(at).copied() {
            if l.body.is_empty() {
                // Spaces beyond the indentation are content: leave it to the parser.
                if l.indent > width.unwrap_or(indent) {
                    return None;
                }
                content.push(l);
                at += 1;
                continue;
            }
            match width {
                None if l.indent > indent => width = Some(l.indent),
                None => break,
                Some(w) if l.indent >= w => {}
                Some(_) if l.indent > indent => return None,
                Some(_) => break,
            }
            content.push(l);
            at += 1;
        }
        let width = width?;
        // Trailing blank lines are chomped: give them back to the structure.
        while let Some(l) = content.last().filter(|l| l.body.is_empty()) {
            if l.indent >= width {
                return None; // indentation on a trailing blank line: the parsers differ at the end of input
            }
            content.pop();
            at -= 1;
        }
        self.at = at;
        let mut text = if literal {
            // Lines joined by their breaks, spaces beyond the indentation kept.
            let mut text = String::new();
            for (i, l) in content.iter().enumerate() {
                if i > 0 {
                    text.push('\n');
                }
                if !l.body.is_empty() {
                    text.extend(std::iter::repeat_n(' ', l.indent - width));
                    text.push_str(l.body);
                }
            }
            text
        } else {
            if content
                .iter()
                .any(|l| l.indent > width && !l.body.is_empty())
            {
                return None; // more-indented lines of a folded scalar keep their breaks
            }
            fold(&content)
        };
        if !strip {
            text.push('\n');
        }
        let first = content.iter().find(|l| !l.body.is_empty())?.number;
        Some((text, first))
    }
}

/// Folds the lines of a `>` scalar (leading blank lines are breaks).
fn fold(content: &[Line<'_>]) -> String {
    let mut text = String::new();
    let mut blanks = 0usize;
    for l in content {
        if l.body.is_empty() {
            blanks += 1;
            continue;
        }
        if text.is_empty() {
            text.extend(std::iter::repeat_n('\n', blanks));
            text.push_str(l.body);
        } else {
            fold_line(&mut text, blanks, l.body);
        }
        blanks = 0;
    }
    text
}

/// Appends the next line of a folded scalar (plain or `>`): after a text line directly, the
/// break between them is a space; after `blanks` blank lines, it is those breaks.
fn fold_line(text: &mut String, blanks: usize, line: &str) {
    if blanks == 0 {
        text.push(' ');
    } else {
        text.extend(std::iter::repeat_n('\n', blanks));
    }
    text.push_str(line);
}

/// `- ` or a lone `-` starts a sequence item.
fn is_item(body: &str) -> bool {
    body.starts_with("- ") || body.trim_end_matches(' ') == "-"
}

/// Splits `key: rest` (or `key:` at the end of the line) with a plain key; `None` if the line is
/// not such an entry or the key is not a simple plain scalar.
fn split_key(body: &str) -> Option<(&str, &str)> {
    let first = body.chars().next()?;
    if indicator(first) || first == '-' || first == '?' || first == ':' {
        return None;
    }
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b':' if bytes.get(i + 1).is_none_or(|&b| b == b' ') => {
                let key = &body[..i];
                if key.ends_with(' ') || key.contains(" #") {
                    return None;
                }
                return Some((
                    key,
                    body.get(i + 1..)
                        .unwrap_or_default()
                        .trim_start_matches(' '),
                ));
            }
            b'#' if i > 0 && bytes[i - 1] == b' ' => return None,
            _ => {}
        }
        i += 1;
    }
    None
}

/// The text of one line of a plain scalar, and whether a comment follows it (which ends the
/// scalar); `None` if the line holds something a plain scalar cannot (`: `, a trailing `:`).
fn plain_piece(body: &str) -> Option<(&str, bool)> {
    let body = body.trim_end_matches(' ');
    let (text, comment) = match body.find(" #") {
        Some(i) => (body[..i].trim_end_matches(' '), true),
        None => (body, false),
    };
    if text.is_empty() || text.contains(": ") || text.ends_with(':') {
        return None;
    }
    Some((text, comment))
}

/// A single-quoted scalar that closes on its line (`''` is a quote), followed by nothing but a
/// comment.
fn single_quoted(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = s.get(1..)?;
    loop {
        let i = rest.find('\'')?;
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('\'') {
            out.push('\'');
            rest = r;
        } else {
            break;
        }
    }
    only_comment(rest).then_some(out)
}

/// A double-quoted scalar that closes on its line, with `\\` and `\"` as its only escapes.
fn double_quoted(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = s.get(1..)?.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return only_comment(&s[1 + i + 1..]).then_some(out),
            '\\' => match chars.next()?.1 {
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                _ => return None,
            },
            c => out.push(c),
        }
    }
    None
}

/// Nothing, spaces, or spaces and a comment.
fn only_comment(rest: &str) -> bool {
    let t = rest.trim_start_matches(' ');
    t.is_empty() || (t.starts_with('#') && t.len() < rest.len())
}

#[cfg(test)]
mod tests {
    use super::super::parse_inner;
    use super::parse;

    /// The fast reader either declines or agrees with the general parser, node for node and
    /// line for line.
    fn agrees(text: &str) -> bool {
        match parse(text) {
            None => false,
            Some(fast) => {
                let (a, b) = (
                    format!("{:?}", Ok::<_, ()>(&fast)),
                    format!("{:?}", parse_inner(text).as_ref()),
                );
                if a != b {
                    // The first difference, with some context (whole trees are too long to read).
                    let at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
                    let near = |s: &str| {
                        s.get(at.saturating_sub(200)..(at + 200).min(s.len()))
                            .unwrap_or(s)
                            .to_owned()
                    };
                    panic!(
                        "fast: ...{}...\ngeneral: ...{}...\ninput:\n{}",
                        near(&a),
                        near(&b),
                        text.get(..text.len().min(2000)).unwrap_or(text)
                    );
                }
                true
            }
        }
    }

    #[test]
    fn reads_what_rules_are_made_of() {
        let cases = [
            "title: x\nid: 1\n",
            "a:\n  b: c\n  d:\n    - e\n    - 'f''g'\n    - \"h\\\\i \\\"j\\\"\"\n",
            "a:\n- b\n- c\nd: e\n",
            "sel:\n    - Image|endswith: '\\a.exe'\n      CommandLine|contains:\n          - x\n          - y\n    - z\n",
            "description: one\n    two\n\n    three\n  # comment\nnext: v # trailing\n",
            "k: |\n    line 1\n      more\n\n    line 3\n\nj: >-\n    folded\n    text\n\n    para\n",
            "k: |-\n  a\n  b\n\n\nz: 1\n",
            "k: >\n\n  lead\n  x\n",
            "empty:\nnull_too: ~\nlast:",
            "title: a\n---\ntitle: b\n---\n",
            "---\n# only a comment\n---\na: 1\n",
            "  indented: root\n  b: 2\n",
            "url: http://x.example/a#b\nwin: C:\\Windows\\\nneg: -1\nq: ?x\n",
            "a: b #c\nd: 'e' # f\n",
            "list:\n  -\n    k: v\n  - # note\n    - nested\n",
        ];
        for c in cases {
            assert!(agrees(c), "declined:\n{c}");
        }
    }

    #[test]
    fn declines_what_it_does_not_know() {
        let cases = [
            "a: [1, 2]\n",
            "a: {b: c}\n",
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: \"\\n\"\n",
            "a: 'multi\n  line'\n",
            "a:\tb\n",
            "a: b\r\n",
            "a: b\u{4}c\n",
            "a: \u{7f}\n",
            "a: x\u{85}y\n",
            "a: x\u{2028}y\n",
            "a: \u{feff}x\n",
            "? a\n: b\n",
            "a: |+\n  x\n",
            "a: |2\n   x\n",
            "%YAML 1.2\n---\na: 1\n",
            "a: b: c\n",
            "a:\n  b\n  c: d\n",
            "a: 1\n b: 2\n",
            "- a\nb: 1\n",
            "'quoted key': 1\n",
        ];
        for c in cases {
            assert!(parse(c).is_none(), "should decline:\n{c}");
        }
    }

    /// Pieces of lines that generated documents are made of: the first [`VALID`] are what rule
    /// files hold, the rest odd or invalid YAML.
    const PIECES: &[&str] = &[
        "a:",
        "b: 1",
        "c: 'x'",
        "d: \"y\"",
        "e: |",
        "f: >-",
        "g: |-",
        "h: >",
        "- i",
        "- j: 1",
        "-",
        "k: l m",
        "# c",
        "",
        "text line",
        "n: o # p",
        "q: 'r''s'",
        "- 't'",
        "u: -v",
        "w: x:y",
        "---",
        "z: a #b",
        "j: ~",
        "- l: |",
        "more text",
        "y: 'a' # c",
        "- >",
        "i: \"\\\\ \\\" \"",
        "k: null",
        "- # c",
        // Odd or invalid from here.
        "   ",
        "--- # doc",
        "- - c",
        "d: [1]",
        "e: &f g",
        "h: 'open",
        "with: colon: here",
        "key:value",
        "?",
        ": x",
        "...",
        "m: \"\\n\"",
        "n:  spaced  ",
        "o: 'p' q",
        "r: \"s\" #",
        "t: |+",
        "u: >2",
        "#",
        "v: *w",
        "x: !y z",
        "{a: b}",
        "[c]",
        "'k': v",
        "k :v",
        "- |-",
        "%TAG",
        "z: |  # c",
        "a: >- # c",
        "b: x\u{4}y",
        "c: \u{85}",
        "d: 'caf\u{e9}'",
        "- \u{0}",
    ];
    const VALID: usize = 30;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]
        /// Generated documents, from plausible to invalid: whenever the fast reader accepts one,
        /// the general parser reads the same tree (an error there is a disagreement too).
        #[test]
        fn never_disagrees_on_generated_documents(
            lines in proptest::collection::vec(
                (
                    proptest::prop_oneof![3 => proptest::sample::select(vec![0i32, 0, 2, -2, 4, -4]), 1 => -8i32..9],
                    proptest::prop_oneof![4 => 0..VALID, 1 => 0..PIECES.len()],
                ),
                1..16,
            ),
            trailing_newline in proptest::bool::ANY,
        ) {
            let mut indent = 0i32;
            let mut text = String::new();
            for (i, &(delta, piece)) in lines.iter().enumerate() {
                indent = (indent + delta).clamp(0, 12);
                if i > 0 {
                    text.push('\n');
                }
                text.extend(std::iter::repeat_n(' ', indent as usize));
                text.push_str(PIECES[piece]);
            }
            if trailing_newline {
                text.push('\n');
            }
            agrees(&text);
        }
    }
}
