//! Windows events rendered as XML: `wevtutil qe /f:xml`, `Get-WinEvent ... | % ToXml()`, Event
//! Viewer "Save as XML", and the EVTX reader's own rendering of each record.
//!
//! Accepted: one or many `<Event xmlns="...">` elements, bare, concatenated or wrapped in
//! `<Events>`, with or without an `<?xml?>` prolog, comments, pretty-printing whitespace,
//! `RenderingInfo`, character/entity references and CDATA; UTF-8 (BOM optional) or UTF-16 with a
//! BOM. Each `<Event>` becomes one event, numbered by its ordinal in the input; its fields come
//! from the shared [`Normaliser`](crate::windows::Normaliser) (see `windows.rs`).
//!
//! The XML is read by a small hand-written scanner rather than a general XML library: Windows
//! events use a fixed subset of XML (no DTD-defined entities, no mixed content that matters),
//! and the EVTX reader renders every record to XML and walks it here, so this scanner is on the
//! EVTX hot path (measured at several times quick-xml's throughput on EVTX renderings). It is
//! linear: every byte is looked at a bounded number of times, with `memchr` for the searches.
//!
//! A malformed event (unclosed or mismatched element, bad tag syntax, input ending inside it, a
//! new `<Event` before the current one is closed) is reported as `KP008` with its ordinal, and
//! reading resumes where the scanner stopped, so one broken event costs only itself.

use std::borrow::Cow;

use kasbah_event::{Event, Timestamp, Value};
use memchr::{memchr, memmem};

use crate::driver::Cx;
use crate::error::{ErrorCode, ParseError};
use crate::windows::Normaliser;

/// Elements nest at most this deep inside an `<Event>` (real events use 4 or 5 levels).
const MAX_DEPTH: usize = 64;

/// Why a piece of XML could not be read, and where to resume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct XmlError {
    /// Byte offset of the problem.
    pub(crate) at: usize,
    /// Where reading can resume (at or after `at`).
    pub(crate) resume: usize,
    /// What was expected.
    pub(crate) msg: Cow<'static, str>,
}

impl XmlError {
    fn new(at: usize, msg: impl Into<Cow<'static, str>>) -> Self {
        XmlError {
            at,
            resume: at,
            msg: msg.into(),
        }
    }

    /// An error about a construct (comment, CDATA, attribute value, ...) that runs to the end of
    /// `len` bytes of input: everything after it is inside it, so reading resumes at the end
    /// (resuming earlier would rescan the same bytes for every `<Event` in them).
    fn unterminated(at: usize, len: usize, msg: &'static str) -> Self {
        XmlError {
            at,
            resume: len,
            msg: Cow::Borrowed(msg),
        }
    }
}

/// One piece of XML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok<'a> {
    /// `<name attrs>` or `<name attrs/>` (`empty`); `attrs` is the raw, already checked text.
    Start {
        name: &'a str,
        attrs: &'a str,
        empty: bool,
    },
    /// `</name>`.
    End { name: &'a str },
    /// Character data, entity references not yet decoded.
    Text(&'a str),
    /// The content of a CDATA section (literal).
    CData(&'a str),
    /// End of input.
    Eof,
}

/// Byte classes: bit 1 = XML white space, bit 2 = ends a name.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b' ' as usize] = 3;
    t[b'\t' as usize] = 3;
    t[b'\r' as usize] = 3;
    t[b'\n' as usize] = 3;
    t[b'>' as usize] = 2;
    t[b'/' as usize] = 2;
    t[b'=' as usize] = 2;
    t[b'<' as usize] = 2;
    t[b'"' as usize] = 2;
    t[b'\'' as usize] = 2;
    t
};

fn is_space(b: u8) -> bool {
    // 256 entries: every byte value is in range.
    CLASS[usize::from(b)] & 1 != 0
}

/// The part of a qualified name after its prefix (`evt:Event` -> `Event`).
pub(crate) fn local_name(name: &str) -> &str {
    // Names are short: a plain loop beats a memrchr call here.
    match name.bytes().rposition(|b| b == b':') {
        Some(i) => name.get(i + 1..).unwrap_or_default(),
        None => name,
    }
}

/// A streaming XML tokenizer over a string. Comments, processing instructions and `<!DOCTYPE>`
/// are skipped; everything else is returned as [`Tok`]s.
pub(crate) struct Scanner<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(s: &'a str, pos: usize) -> Self {
        Scanner {
            s,
            pos: pos.min(s.len()),
        }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    fn bytes(&self) -> &'a [u8] {
        self.s.as_bytes()
    }

    /// `s[a..b]`, or an error if those are not character boundaries (they always are: every
    /// offset used here is at an ASCII delimiter or the end).
    fn slice(&self, a: usize, b: usize) -> Result<&'a str, XmlError> {
        self.s
            .get(a..b)
            .ok_or_else(|| XmlError::new(a, "internal: offset not at a character boundary"))
    }

    /// Offset of `needle` at or after `from`.
    fn find(&self, from: usize, needle: &[u8]) -> Option<usize> {
        let hay = self.bytes().get(from..)?;
        memmem::find(hay, needle).map(|i| from + i)
    }

    /// The next token.
    pub(crate) fn next_tok(&mut self) -> Result<Tok<'a>, XmlError> {
        loop {
            let b = self.bytes();
            let start = self.pos;
            let Some(&first) = b.get(start) else {
                return Ok(Tok::Eof);
            };
            if first != b'<' {
                let end = b
                    .get(start..)
                    .and_then(|r| memchr(b'<', r))
                    .map_or(b.len(), |i| start + i);
                self.pos = end;
                return Ok(Tok::Text(self.slice(start, end)?));
            }
            let rest = b.get(start..).unwrap_or_default();
            if rest.starts_with(b"<!--") {
                let end = self.find(start + 4, b"-->").ok_or_else(|| {
                    XmlError::unterminated(start, b.len(), "unterminated comment: expected `-->`")
                })?;
                self.pos = end + 3;
                continue;
            }
            if rest.starts_with(b"<![CDATA[") {
                let end = self.find(start + 9, b"]]>").ok_or_else(|| {
                    XmlError::unterminated(
                        start,
                        b.len(),
                        "unterminated CDATA section: expected `]]>`",
                    )
                })?;
                self.pos = end + 3;
                return Ok(Tok::CData(self.slice(start + 9, end)?));
            }
            if rest.starts_with(b"<?") {
                let end = self.find(start + 2, b"?>").ok_or_else(|| {
                    XmlError::unterminated(
                        start,
                        b.len(),
                        "unterminated processing instruction: expected `?>`",
                    )
                })?;
                self.pos = end + 2;
                continue;
            }
            if rest.starts_with(b"<!") {
                self.pos = self.skip_declaration(start)?;
                continue;
            }
            if rest.starts_with(b"</") {
                // Names are short: plain loops beat memchr calls here.
                let mut i = start + 2;
                while b.get(i).is_some_and(|c| !is_name_stop(*c)) {
                    i += 1;
                }
                let name = self.slice(start + 2, i)?;
                let mut j = i;
                while b.get(j).is_some_and(|c| is_space(*c)) {
                    j += 1;
                }
                match b.get(j) {
                    Some(b'>') if !name.is_empty() => {
                        self.pos = j + 1;
                        return Ok(Tok::End { name });
                    }
                    None => {
                        return Err(XmlError {
                            resume: b.len(),
                            ..XmlError::new(start, "unterminated end tag: expected `>`")
                        });
                    }
                    Some(_) => {
                        return Err(XmlError {
                            resume: j + 1,
                            ..XmlError::new(start, "malformed end tag: expected `</name>`")
                        });
                    }
                }
            }
            return self.start_tag(start);
        }
    }

    /// Skips `<!DOCTYPE ...>` (with an internal subset in brackets) or another `<!` declaration.
    fn skip_declaration(&self, start: usize) -> Result<usize, XmlError> {
        let b = self.bytes();
        let mut depth = 0usize;
        let mut i = start + 2;
        while let Some(&c) = b.get(i) {
            match c {
                b'[' => depth += 1,
                b']' => depth = depth.saturating_sub(1),
                b'>' if depth == 0 => return Ok(i + 1),
                _ => {}
            }
            i += 1;
        }
        Err(XmlError::unterminated(
            start,
            b.len(),
            "unterminated declaration: expected `>`",
        ))
    }

    /// Reads `<name attr="v" ...>` or `.../>` at `start`.
    fn start_tag(&mut self, start: usize) -> Result<Tok<'a>, XmlError> {
        let b = self.bytes();
        let mut i = start + 1;
        while b.get(i).is_some_and(|c| !is_name_stop(*c)) {
            i += 1;
        }
        let name = self.slice(start + 1, i)?;
        if name.is_empty() {
            return Err(XmlError {
                resume: start + 1,
                ..XmlError::new(start, "expected an element name after `<`")
            });
        }
        let attrs_start = i;
        loop {
            while b.get(i).is_some_and(|c| is_space(*c)) {
                i += 1;
            }
            match b.get(i) {
                None => {
                    return Err(XmlError {
                        resume: b.len(),
                        ..XmlError::new(start, "input ends inside a start tag")
                    });
                }
                Some(b'>') => {
                    self.pos = i + 1;
                    return Ok(Tok::Start {
                        name,
                        attrs: self.slice(attrs_start, i)?,
                        empty: false,
                    });
                }
                Some(b'/') if b.get(i + 1) == Some(&b'>') => {
                    self.pos = i + 2;
                    return Ok(Tok::Start {
                        name,
                        attrs: self.slice(attrs_start, i)?,
                        empty: true,
                    });
                }
                Some(_) => {
                    let (_, _, end) = attribute_at(b, i).map_err(|msg| XmlError {
                        // An unclosed quote swallows the rest of the input.
                        resume: if msg.starts_with("unterminated") {
                            b.len()
                        } else {
                            i + 1
                        },
                        ..XmlError::new(i, msg)
                    })?;
                    i = end;
                }
            }
        }
    }
}

/// Bytes that end a name.
fn is_name_stop(c: u8) -> bool {
    CLASS[usize::from(c)] & 2 != 0
}

/// Reads `name = "value"` at `i` (which is not a space); returns (name span, value span, end).
#[allow(clippy::type_complexity)]
fn attribute_at(
    b: &[u8],
    mut i: usize,
) -> Result<((usize, usize), (usize, usize), usize), &'static str> {
    let name_start = i;
    while b.get(i).is_some_and(|c| !is_name_stop(*c)) {
        i += 1;
    }
    if i == name_start {
        return Err("malformed attribute: expected a name");
    }
    let name_end = i;
    while b.get(i).is_some_and(|c| is_space(*c)) {
        i += 1;
    }
    if b.get(i) != Some(&b'=') {
        return Err("malformed attribute: expected `=` after its name");
    }
    i += 1;
    while b.get(i).is_some_and(|c| is_space(*c)) {
        i += 1;
    }
    let q = match b.get(i) {
        Some(q @ (b'"' | b'\'')) => *q,
        _ => return Err("malformed attribute: expected a quoted value"),
    };
    let vstart = i + 1;
    let vend = b
        .get(vstart..)
        .and_then(|r| memchr(q, r))
        .map(|j| vstart + j)
        .ok_or("unterminated attribute value: expected a closing quote")?;
    Ok(((name_start, name_end), (vstart, vend), vend + 1))
}

/// The attributes of a start tag, as (name, raw value) pairs. The text was checked by the
/// scanner; anything unreadable simply ends the iteration.
pub(crate) fn attributes(attrs: &str) -> impl Iterator<Item = (&str, &str)> {
    let b = attrs.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while b.get(i).is_some_and(|c| is_space(*c)) {
            i += 1;
        }
        b.get(i)?;
        let ((ns, ne), (vs, ve), end) = attribute_at(b, i).ok()?;
        i = end;
        Some((attrs.get(ns..ne)?, attrs.get(vs..ve)?))
    })
}

/// The character an entity reference (`amp`, `#60`, `#x3C`) stands for.
fn entity(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => {
            let num = name.strip_prefix('#')?;
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// Decodes entity and character references; unknown or malformed references are kept as
/// written. Borrows when there is nothing to decode.
pub(crate) fn unescape(raw: &str) -> Cow<'_, str> {
    if memchr(b'&', raw.as_bytes()).is_none() {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('&') {
        out.push_str(rest.get(..i).unwrap_or_default());
        let after = rest.get(i + 1..).unwrap_or_default();
        // References are short; looking further would make `&&&&...` quadratic.
        let semi = after.bytes().take(12).position(|c| c == b';');
        if let Some(c) = semi.and_then(|j| after.get(..j)).and_then(entity) {
            out.push(c);
            rest = semi.and_then(|j| after.get(j + 1..)).unwrap_or_default();
        } else {
            out.push('&');
            rest = after;
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Appends a decoded piece of text to an accumulator, borrowing while there is one piece.
fn append<'a>(acc: &mut Cow<'a, str>, piece: Cow<'a, str>) {
    if acc.is_empty() {
        *acc = piece;
    } else {
        acc.to_mut().push_str(&piece);
    }
}

/// Which part of the event an open element belongs to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Part<'a> {
    /// The `<Event>` element itself.
    Event,
    /// `<System>`.
    System,
    /// A child of `<System>`, by local name.
    SystemValue(&'a str),
    /// `<EventData>`.
    EventData,
    /// `<Data>` without a `Name`.
    UnnamedData,
    /// `<Data Name="...">`, or another `EventData` child such as `<Binary>`: the value's name
    /// is in the frame.
    NamedData,
    /// `UserData`, `RenderingInfo` and any other section, or an element inside one: collects a
    /// dotted path; leaves (elements without child elements) are values.
    Tree { rendering: bool },
    /// Anything else (elements nested inside values): text ignored.
    Ignored,
}

struct Frame<'a> {
    qname: &'a str,
    local: &'a str,
    part: Part<'a>,
    text: Cow<'a, str>,
    /// The `Name` of a `<Data>`.
    data_name: Cow<'a, str>,
    has_child: bool,
    /// Length of the dotted path before this element was added.
    path_len: usize,
}

/// Reads one `<Event>` whose start tag begins at `start` in `s`, filling `e` through `norm`.
/// Returns the offset just past `</Event>`. `norm.begin` is called here; `norm.finish` is
/// left to the caller (who knows the fallback time).
pub(crate) fn read_event<'a>(
    s: &'a str,
    start: usize,
    norm: &mut Normaliser,
    e: &mut Event,
) -> Result<usize, XmlError> {
    let mut sc = Scanner::new(s, start);
    let (qname, empty) = match sc.next_tok()? {
        Tok::Start { name, empty, .. } if local_name(name) == "Event" => (name, empty),
        _ => return Err(XmlError::new(start, "expected an `<Event>` start tag")),
    };
    norm.begin(e);
    if empty {
        return Err(XmlError {
            resume: sc.pos(),
            ..XmlError::new(start, "empty `<Event/>`: expected a `<System>` element")
        });
    }
    let mut stack: Vec<Frame<'a>> = Vec::with_capacity(8);
    stack.push(Frame {
        qname,
        local: "Event",
        part: Part::Event,
        text: Cow::Borrowed(""),
        data_name: Cow::Borrowed(""),
        has_child: false,
        path_len: 0,
    });
    let mut path = String::new();
    let mut scratch = String::new();
    let mut saw_system = false;
    loop {
        let tok_at = sc.pos();
        let tok = sc.next_tok().map_err(|mut err| {
            // A broken tag inside an event ends that event; resume after the tag.
            err.resume = err.resume.max(err.at + 1);
            err
        })?;
        match tok {
            Tok::Start { name, attrs, empty } => {
                let local = local_name(name);
                if local == "Event" {
                    return Err(XmlError::new(
                        tok_at,
                        "a new `<Event>` starts before `</Event>`: the event is not closed",
                    ));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError {
                        resume: sc.pos(),
                        ..XmlError::new(tok_at, "elements nested too deep")
                    });
                }
                let Some(parent) = stack.last_mut() else {
                    return Err(XmlError::new(tok_at, "internal: no open element"));
                };
                parent.has_child = true;
                let parent_part = parent.part;
                let path_len = path.len();
                let mut data_name = Cow::Borrowed("");
                let part = match parent_part {
                    Part::Event => match local {
                        "System" => {
                            saw_system = true;
                            Part::System
                        }
                        "EventData" => Part::EventData,
                        other => {
                            path.push_str(other);
                            let rendering = other == "RenderingInfo";
                            tree_attributes(attrs, &path, rendering, &mut scratch, norm, e);
                            Part::Tree { rendering }
                        }
                    },
                    Part::System => {
                        for (a, v) in attributes(attrs) {
                            if a != "xmlns" && !a.starts_with("xmlns:") {
                                norm.system(e, local, local_name(a), Value::str(&unescape(v)));
                            }
                        }
                        Part::SystemValue(local)
                    }
                    Part::EventData => {
                        if local == "Data" {
                            match attributes(attrs).find(|(a, _)| *a == "Name") {
                                Some((_, n)) if !n.trim().is_empty() => {
                                    data_name = unescape(n);
                                    Part::NamedData
                                }
                                _ => Part::UnnamedData,
                            }
                        } else {
                            data_name = Cow::Borrowed(local);
                            Part::NamedData
                        }
                    }
                    Part::Tree { rendering } => {
                        path.push('.');
                        path.push_str(local);
                        tree_attributes(attrs, &path, rendering, &mut scratch, norm, e);
                        Part::Tree { rendering }
                    }
                    _ => Part::Ignored,
                };
                let frame = Frame {
                    qname: name,
                    local,
                    part,
                    text: Cow::Borrowed(""),
                    data_name,
                    has_child: false,
                    path_len,
                };
                if empty {
                    close(frame, &mut path, norm, e);
                } else {
                    stack.push(frame);
                }
            }
            Tok::End { name } => {
                let Some(frame) = stack.pop() else {
                    return Err(XmlError::new(tok_at, "internal: no open element"));
                };
                if frame.qname != name {
                    return Err(XmlError {
                        resume: sc.pos(),
                        ..XmlError::new(
                            tok_at,
                            format!("expected `</{}>`, found `</{name}>`", frame.qname),
                        )
                    });
                }
                if frame.part == Part::Event {
                    if !saw_system {
                        return Err(XmlError {
                            resume: sc.pos(),
                            ..XmlError::new(start, "the event has no `<System>` element")
                        });
                    }
                    return Ok(sc.pos());
                }
                close(frame, &mut path, norm, e);
            }
            Tok::Text(raw) => {
                if let Some(top) = stack.last_mut()
                    && collects_text(top.part)
                {
                    append(&mut top.text, unescape(raw));
                }
            }
            Tok::CData(c) => {
                if let Some(top) = stack.last_mut()
                    && collects_text(top.part)
                {
                    append(&mut top.text, Cow::Borrowed(c));
                }
            }
            Tok::Eof => {
                let open = stack.last().map_or("Event", |f| f.qname);
                return Err(XmlError {
                    resume: s.len(),
                    ..XmlError::new(
                        tok_at,
                        format!("input ends inside the event: expected `</{open}>`"),
                    )
                });
            }
        }
    }
}

/// The attributes of a `UserData`/`RenderingInfo` element are leaves named by their path
/// (`UserData.EventXML.Attr`); namespace declarations are skipped.
fn tree_attributes(
    attrs: &str,
    path: &str,
    rendering: bool,
    scratch: &mut String,
    norm: &mut Normaliser,
    e: &mut Event,
) {
    for (a, v) in attributes(attrs) {
        if a == "xmlns" || a.starts_with("xmlns:") {
            continue;
        }
        let a = local_name(a);
        scratch.clear();
        scratch.push_str(path);
        scratch.push('.');
        scratch.push_str(a);
        let value = Value::str(&unescape(v));
        if rendering {
            norm.rendering(e, scratch, a, value);
        } else {
            norm.user_data(e, scratch, a, value);
        }
    }
}

fn collects_text(part: Part<'_>) -> bool {
    matches!(
        part,
        Part::SystemValue(_) | Part::NamedData | Part::UnnamedData | Part::Tree { .. }
    )
}

/// Hands a closed element's value to the normaliser.
fn close(frame: Frame<'_>, path: &mut String, norm: &mut Normaliser, e: &mut Event) {
    match frame.part {
        Part::SystemValue(elem) => norm.system(e, elem, "", Value::str(&frame.text)),
        Part::NamedData => norm.data(e, &frame.data_name, Value::str(&frame.text)),
        Part::UnnamedData => norm.unnamed_data(e, Value::str(&frame.text)),
        Part::Tree { rendering } => {
            // Only leaves carry values; a section with no children at all has nothing.
            if !frame.has_child && path.contains('.') {
                if rendering {
                    norm.rendering(e, path, frame.local, Value::str(&frame.text));
                } else {
                    norm.user_data(e, path, frame.local, Value::str(&frame.text));
                }
            }
            path.truncate(frame.path_len);
        }
        _ => {}
    }
}

/// Offset of the next `<Event` start tag at or after `from` at the top level (outside
/// comments, CDATA and processing instructions), skipping every other tag.
pub(crate) fn find_event(s: &str, mut from: usize) -> Option<usize> {
    let b = s.as_bytes();
    loop {
        let i = from + memchr(b'<', b.get(from..)?)?;
        let rest = b.get(i..).unwrap_or_default();
        let skip_to = |close: &[u8], open_len: usize| {
            b.get(i + open_len..)
                .and_then(|r| memmem::find(r, close))
                .map_or(b.len(), |j| i + open_len + j + close.len())
        };
        if rest.starts_with(b"<!--") {
            from = skip_to(b"-->", 4);
        } else if rest.starts_with(b"<![CDATA[") {
            from = skip_to(b"]]>", 9);
        } else if rest.starts_with(b"<?") {
            from = skip_to(b"?>", 2);
        } else {
            let name_end = rest
                .iter()
                .skip(1)
                .position(|c| is_name_stop(*c))
                .map_or(rest.len(), |p| p + 1);
            let name = rest.get(1..name_end).unwrap_or_default();
            let local = name
                .iter()
                .rposition(|c| *c == b':')
                .map_or(name, |p| name.get(p + 1..).unwrap_or_default());
            if local == b"Event" {
                return Some(i);
            }
            from = i + 1;
        }
    }
}

/// Decodes the input to text: UTF-16 (with its BOM) is converted, UTF-8 invalid sequences are
/// replaced (U+FFFD).
fn decode(input: &[u8]) -> Cow<'_, str> {
    let utf16 = |le: bool, body: &[u8]| {
        let units = body.chunks_exact(2).map(|c| {
            let pair = [
                c.first().copied().unwrap_or(0),
                c.get(1).copied().unwrap_or(0),
            ];
            if le {
                u16::from_le_bytes(pair)
            } else {
                u16::from_be_bytes(pair)
            }
        });
        Cow::Owned(
            char::decode_utf16(units)
                .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect::<String>(),
        )
    };
    if let Some(body) = input.strip_prefix(b"\xFF\xFE") {
        return utf16(true, body);
    }
    if let Some(body) = input.strip_prefix(b"\xFE\xFF") {
        return utf16(false, body);
    }
    String::from_utf8_lossy(input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input))
}

/// Parses every `<Event>` of an XML input.
pub(crate) fn parse(input: &[u8], cx: &mut Cx<'_>) {
    let text = decode(input);
    let s: &str = &text;
    let mut norm = Normaliser::new();
    let mut ordinal = 0u64;
    let mut pos = 0usize;
    while let Some(start) = find_event(s, pos) {
        ordinal += 1;
        let mut e = cx.new_event(ordinal, None);
        match read_event(s, start, &mut norm, &mut e) {
            Ok(end) => {
                norm.finish(&mut e, None);
                if cx.opts.keep_raw {
                    e.raw = s.get(start..end).map(Box::from);
                }
                cx.emit(e);
                pos = end;
            }
            Err(err) => {
                cx.bad(
                    ordinal,
                    ParseError::new(
                        ErrorCode::Xml,
                        format!("event at byte {}: {}", err.at, err.msg),
                    ),
                );
                pos = err.resume.max(start + 1);
            }
        }
    }
    if ordinal == 0 {
        cx.bad(
            1,
            ParseError::new(
                ErrorCode::WrongFormat,
                "not Windows event XML: no `<Event>` element found",
            ),
        );
    }
}

/// Reads one event from the EVTX reader's XML rendering of a record (with its `<?xml?>`
/// prolog). Returns the offset where the `<Event>` element starts (the raw record is kept from
/// there).
pub(crate) fn read_rendered(
    xml: &str,
    norm: &mut Normaliser,
    e: &mut Event,
    fallback: Option<Timestamp>,
) -> Result<usize, XmlError> {
    let start = find_event(xml, 0)
        .ok_or_else(|| XmlError::new(0, "the rendering has no `<Event>` element"))?;
    read_event(xml, start, norm, e)?;
    norm.finish(e, fallback);
    Ok(start)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kasbah_event::ecs;

    use super::*;
    use crate::driver::{Item, Origin, ParseOptions};

    fn toks(s: &str) -> Vec<Tok<'_>> {
        let mut sc = Scanner::new(s, 0);
        let mut out = Vec::new();
        loop {
            match sc.next_tok() {
                Ok(Tok::Eof) => return out,
                Ok(t) => out.push(t),
                Err(e) => panic!("{e:?}"),
            }
        }
    }

    #[test]
    fn scanner_tokens() {
        let t = toks(
            "<?xml version=\"1.0\"?><!-- c --><a x='1' y = \"a>b\"><b/>t&amp;<![CDATA[<x>]]></a >",
        );
        assert_eq!(
            t,
            vec![
                Tok::Start {
                    name: "a",
                    attrs: " x='1' y = \"a>b\"",
                    empty: false
                },
                Tok::Start {
                    name: "b",
                    attrs: "",
                    empty: true
                },
                Tok::Text("t&amp;"),
                Tok::CData("<x>"),
                Tok::End { name: "a" },
            ]
        );
        let attrs: Vec<_> = attributes(" x='1' y = \"a>b\"").collect();
        assert_eq!(attrs, vec![("x", "1"), ("y", "a>b")]);
        assert_eq!(toks("<!DOCTYPE x [<!ENTITY a 'b'>]><r/>").len(), 1);
    }

    #[test]
    fn scanner_errors() {
        for bad in [
            "<a x=1>",
            "<a x>",
            "<a x=\"1>",
            "<!-- x",
            "<![CDATA[ x",
            "<? x",
            "</a",
            "< a>",
            "<a",
        ] {
            let mut sc = Scanner::new(bad, 0);
            assert!(sc.next_tok().is_err(), "{bad}");
        }
    }

    #[test]
    fn unescape_references() {
        assert_eq!(unescape("plain"), "plain");
        assert!(matches!(unescape("plain"), Cow::Borrowed(_)));
        assert_eq!(unescape("a &lt;b&gt; &amp; &quot;&apos;"), "a <b> & \"'");
        assert_eq!(unescape("&#60;&#x3C;&#X3c;"), "<<<");
        assert_eq!(
            unescape("&bogus; & &#xZZ; &#1114112;"),
            "&bogus; & &#xZZ; &#1114112;"
        );
        assert_eq!(unescape("&&&&"), "&&&&");
        assert_eq!(unescape("é&amp;é"), "é&é");
    }

    fn run(input: &[u8]) -> (Vec<Event>, Vec<(u64, String)>) {
        let opts = ParseOptions {
            keep_raw: true,
            ..ParseOptions::default()
        };
        let origin = Origin::File(Arc::from("t.xml"));
        let mut events = Vec::new();
        let mut bad = Vec::new();
        let mut sink = |i: Item| match i {
            Item::Event(e) => events.push(*e),
            Item::Bad(b) => bad.push((b.record, b.error.to_string())),
        };
        let mut cx = Cx::new(&opts, &origin, &mut sink);
        parse(input, &mut cx);
        (events, bad)
    }

    const SYSMON: &str = r#"<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event">
  <System>
    <Provider Name="Microsoft-Windows-Sysmon" Guid="{5770385f-c22a-43e0-bf4c-06f5698ffbd9}" />
    <EventID>1</EventID>
    <TimeCreated SystemTime="2024-05-01T10:00:00.1234567Z" />
    <EventRecordID>42</EventRecordID>
    <Execution ProcessID="2148" ThreadID="3896" />
    <Channel>Microsoft-Windows-Sysmon/Operational</Channel>
    <Computer>ws1.corp.local</Computer>
  </System>
  <EventData>
    <Data Name="Image">C:\Windows\System32\cmd.exe</Data>
    <Data Name="CommandLine">cmd /c "echo &lt;hi&gt;"</Data>
    <Data Name="Empty" />
  </EventData>
</Event>"#;

    #[test]
    fn reads_a_pretty_printed_event() {
        let (events, bad) = run(SYSMON.as_bytes());
        assert!(bad.is_empty(), "{bad:?}");
        let e = events.first().expect("one event");
        assert_eq!(e.get_name("EventID"), Some(&Value::Int(1)));
        assert_eq!(e.get_name("ProcessID"), Some(&Value::Int(2148)));
        assert_eq!(
            e.get_name("CommandLine").and_then(Value::as_str),
            Some("cmd /c \"echo <hi>\"")
        );
        assert_eq!(e.get_name("Empty").and_then(Value::as_str), Some(""));
        assert_eq!(e.fields.get_str(ecs::PROCESS_NAME), Some("cmd.exe"));
        assert_eq!(e.timestamp.to_rfc3339(), "2024-05-01T10:00:00.123456700Z");
        assert_eq!(
            e.source,
            kasbah_event::Source::File {
                path: Arc::from("t.xml"),
                record: 1
            }
        );
        assert!(
            e.raw
                .as_deref()
                .is_some_and(|r| r.starts_with("<Event") && r.ends_with("</Event>"))
        );
    }

    #[test]
    fn many_events_wrapped_prefixed_and_utf16() {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<Events>{SYSMON}<!-- <Event> in a comment -->{}</Events>",
            SYSMON.replace("<EventID>1<", "<EventID>5<")
        );
        let (events, bad) = run(body.as_bytes());
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(events.len(), 2);
        assert_eq!(
            events.get(1).and_then(|e| e.get_name("EventID")),
            Some(&Value::Int(5))
        );

        let prefixed = SYSMON
            .replace("<Event ", "<e:Event xmlns:e=\"x\" ")
            .replace("</Event>", "</e:Event>");
        let (events, bad) = run(prefixed.as_bytes());
        assert_eq!((events.len(), bad.len()), (1, 0), "{bad:?}");

        let mut utf16 = vec![0xFF, 0xFE];
        for u in body.encode_utf16() {
            utf16.extend_from_slice(&u.to_le_bytes());
        }
        let (events, bad) = run(&utf16);
        assert_eq!((events.len(), bad.len()), (2, 0));
    }

    #[test]
    fn malformed_events_are_skipped_with_their_ordinal() {
        let good = SYSMON;
        let unclosed = "<Event><System><EventID>4</EventID></System><EventData><Data Name=\"a\">x</EventData></Event>";
        let truncated = "<Event><System><EventID>4</EventID>";
        let input = format!("<Events>{good}{unclosed}{good}<Event><System/>{good}{truncated}");
        let (events, bad) = run(input.as_bytes());
        assert_eq!(events.len(), 3);
        let ords: Vec<u64> = bad.iter().map(|(r, _)| *r).collect();
        assert_eq!(ords, vec![2, 4, 6], "{bad:?}");
        assert!(bad.iter().all(|(_, m)| m.starts_with("KP008")), "{bad:?}");
        assert!(
            bad.first()
                .is_some_and(|(_, m)| m.contains("expected `</Data>`, found `</EventData>`"))
        );
        let sources: Vec<u64> = events
            .iter()
            .map(|e| match &e.source {
                kasbah_event::Source::File { record, .. } => *record,
                _ => 0,
            })
            .collect();
        assert_eq!(sources, vec![1, 3, 5]);
    }

    #[test]
    fn not_xml_at_all_is_wrong_format() {
        let (events, bad) = run(b"Oct 11 22:14:15 host sshd[1]: hello\n");
        assert!(events.is_empty());
        assert_eq!(bad.len(), 1);
        assert!(
            bad.first()
                .is_some_and(|(r, m)| *r == 1 && m.starts_with("KP005"))
        );
        let (events, bad) = run(b"<Event/>");
        assert!(events.is_empty());
        assert!(bad.first().is_some_and(|(_, m)| m.starts_with("KP008")));
    }

    #[test]
    fn user_data_and_rendering_info() {
        let xml = r#"<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-Eventlog"/><EventID>1102</EventID><Channel>Security</Channel></System><UserData><LogFileCleared xmlns="http://manifests.microsoft.com/win/2004/08/windows/eventlog"><SubjectUserSid>S-1-5-21-1</SubjectUserSid><SubjectUserName>admin</SubjectUserName><SubjectDomainName>CORP</SubjectDomainName></LogFileCleared></UserData><RenderingInfo Culture="en-US"><Message>The audit log was cleared.</Message><Level>Information</Level><Keywords><Keyword>Audit Success</Keyword></Keywords></RenderingInfo></Event>"#;
        let (events, bad) = run(xml.as_bytes());
        assert!(bad.is_empty(), "{bad:?}");
        let e = events.first().expect("event");
        assert_eq!(
            e.get_name("UserData.LogFileCleared.SubjectUserName")
                .and_then(Value::as_str),
            Some("admin")
        );
        assert_eq!(e.fields.get_str(ecs::USER_NAME), Some("admin"));
        assert_eq!(e.fields.get_str(ecs::USER_DOMAIN), Some("CORP"));
        assert_eq!(
            e.fields.get_str(ecs::MESSAGE),
            Some("The audit log was cleared.")
        );
        assert_eq!(
            e.get_name("RenderingInfo.Level").and_then(Value::as_str),
            Some("Information")
        );
        assert_eq!(
            e.get_name("RenderingInfo.Culture").and_then(Value::as_str),
            Some("en-US")
        );
        assert_eq!(
            e.get_name("RenderingInfo.Keywords"),
            Some(&Value::List(vec![Value::str("Audit Success")]))
        );
        assert_eq!(
            e.fields.get_str(ecs::EVENT_ACTION),
            Some("audit-log-cleared")
        );
    }

    #[test]
    fn deep_nesting_and_many_events_stay_linear() {
        let deep = format!("<Event><System/>{}", "<a>".repeat(10_000));
        let (events, bad) = run(deep.as_bytes());
        assert!(events.is_empty());
        assert_eq!(bad.len(), 1);
        // Unterminated constructs inside events swallow the rest instead of being rescanned
        // for every `<Event` after them.
        for tail in ["<![", "<!--", "<?", "<a x='", "<![CDATA["] {
            let input = format!(
                "<Event><System/>{tail}{}",
                "<Event><System/>".repeat(20_000)
            );
            let (events, bad) = run(input.as_bytes());
            assert!(events.is_empty());
            assert_eq!(bad.len(), 1, "{tail}");
        }
        // Thousands of unclosed events: each is reported once, quickly.
        let many = "<Event><System>".repeat(20_000);
        let (events, bad) = run(many.as_bytes());
        assert!(events.is_empty());
        assert_eq!(bad.len(), 20_000);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = run(&data);
        }

        #[test]
        fn arbitrary_xmlish_never_panics(s in "(<|>|/|Event|System|Data|Name=\"x\"|&amp;|&#|<!--|-->|<!\\[CDATA\\[|\\]\\]>|\"|'| |[a-z])*") {
            let _ = run(s.as_bytes());
        }

        #[test]
        fn generated_events_round_trip(
            id in 0u32..70000,
            names in proptest::collection::vec("[A-Z][A-Za-z]{0,10}", 0..6),
            value in "[^<&\\x00]{0,30}",
        ) {
            let mut xml = format!("<Event><System><EventID>{id}</EventID><Channel>Application</Channel></System><EventData>");
            for n in &names {
                xml.push_str(&format!("<Data Name=\"{n}\">{}</Data>", value.replace('>', "&gt;")));
            }
            xml.push_str("</EventData></Event>");
            let (events, bad) = run(xml.as_bytes());
            proptest::prop_assert!(bad.is_empty(), "{:?}", bad);
            let e = events.first().expect("event");
            proptest::prop_assert_eq!(e.get_name("EventID"), Some(&Value::Int(i64::from(id))));
            for n in &names {
                let got = e.get_name(&format!("EventData.{n}")).map(ToString::to_string).unwrap_or_default();
                proptest::prop_assert!(got.contains(&value), "{} {:?}", n, got);
            }
        }
    }
}
