//! The [`Event`] type and its field map.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::{FieldId, Timestamp, TzOffset, Value};

/// A tenant: every event, alert, rule set and token belongs to exactly one.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TenantId(pub u32);

impl TenantId {
    /// The tenant of single-tenant installs and offline tools.
    pub const DEFAULT: TenantId = TenantId(0);
}

/// Where an event came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A file read offline; `record` is the 1-based line or record number of the event's start.
    File {
        /// The path as given by the user.
        path: Arc<str>,
        /// 1-based line (text formats) or record number (EVTX, JSON arrays).
        record: u64,
    },
    /// A network peer of a named input (`syslog-udp`, `http`).
    Peer {
        /// The input's name.
        input: Arc<str>,
        /// The peer's address.
        addr: SocketAddr,
    },
    /// An input with no peer address (an agent, a test).
    Input {
        /// The input's name.
        name: Arc<str>,
    },
}

/// The fields of one event: a small insertion-ordered map from [`FieldId`] to [`Value`].
///
/// Lookups scan a few dozen `u32`s (faster than hashing at this size) and return borrowed values.
/// A 256-bit filter over the ids present (names and aliases) answers most misses without a scan,
/// which matters twice: a rule engine asks for many fields an event does not have, and `set`
/// appends without scanning when the filter says the name is new. An alias makes a second name
/// (`EventData.Image`) resolve to an existing entry (`Image`) without copying the value. Names
/// that could not be interned (the interner is bounded) live in `overflow` and are found by string.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fields {
    present: Present,
    entries: Vec<(FieldId, Value)>,
    aliases: Vec<(FieldId, u32)>,
    overflow: Vec<(Box<str>, Value)>,
}

/// A one-hash Bloom filter of 256 bits over field ids: "maybe present" or "certainly absent".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Present([u64; 4]);

impl Present {
    #[inline]
    fn bit(id: FieldId) -> (usize, u64) {
        let i = id.index() & 255;
        (i >> 6, 1u64 << (i & 63))
    }

    #[inline]
    fn insert(&mut self, id: FieldId) {
        let (w, b) = Self::bit(id);
        if let Some(word) = self.0.get_mut(w) {
            *word |= b;
        }
    }

    #[inline]
    fn may_contain(&self, id: FieldId) -> bool {
        let (w, b) = Self::bit(id);
        self.0.get(w).is_some_and(|word| word & b != 0)
    }
}

impl Fields {
    /// An empty map with room for `n` fields.
    pub fn with_capacity(n: usize) -> Self {
        Fields {
            present: Present::default(),
            entries: Vec::with_capacity(n),
            aliases: Vec::new(),
            overflow: Vec::new(),
        }
    }

    /// The value of `id`, directly or through an alias.
    #[inline]
    pub fn get(&self, id: FieldId) -> Option<&Value> {
        if !self.present.may_contain(id) {
            return None;
        }
        if let Some((_, v)) = self.entries.iter().find(|(k, _)| *k == id) {
            return Some(v);
        }
        self.aliases
            .iter()
            .find(|(k, _)| *k == id)
            .and_then(|(_, i)| self.entries.get(*i as usize))
            .map(|(_, v)| v)
    }

    /// The value of a field by name (for tools and tests; rules resolve ids once instead).
    pub fn get_name(&self, name: &str) -> Option<&Value> {
        match FieldId::lookup(name) {
            Some(id) => self.get(id),
            None => self
                .overflow
                .iter()
                .find(|(k, _)| &**k == name)
                .map(|(_, v)| v),
        }
    }

    /// The text of a string field.
    #[inline]
    pub fn get_str(&self, id: FieldId) -> Option<&str> {
        self.get(id).and_then(Value::as_str)
    }

    /// Sets `id` to `value`, replacing an earlier value of the same field.
    pub fn set(&mut self, id: FieldId, value: impl Into<Value>) {
        let value = value.into();
        if !self.present.may_contain(id) {
            self.present.insert(id);
            self.entries.push((id, value));
            return;
        }
        match self.entries.iter_mut().find(|(k, _)| *k == id) {
            Some((_, v)) => *v = value,
            None => self.entries.push((id, value)),
        }
    }

    /// Appends `id` without looking for an earlier value, for parsers that already know which
    /// fields they have written (the duplicate scan of [`Fields::set`] makes filling a map of `n`
    /// fields O(n^2)). The caller guarantees `id` is not set yet; if it were, [`Fields::get`] would
    /// keep returning the earlier value.
    #[inline]
    pub fn push_new(&mut self, id: FieldId, value: impl Into<Value>) {
        debug_assert!(
            self.get(id).is_none(),
            "push_new of a field already set: {id:?}"
        );
        self.present.insert(id);
        self.entries.push((id, value.into()));
    }

    /// Sets `id` only if it has no value yet. Used to fill an ECS field from a secondary source.
    pub fn set_default(&mut self, id: FieldId, value: impl Into<Value>) {
        if self.get(id).is_none() {
            self.present.insert(id);
            self.entries.push((id, value.into()));
        }
    }

    /// Sets a field by name, interning it (or keeping it by string if the interner is full).
    pub fn set_name(&mut self, name: &str, value: impl Into<Value>) {
        match FieldId::try_intern(name) {
            Some(id) => self.set(id, value),
            None => {
                let value = value.into();
                match self.overflow.iter_mut().find(|(k, _)| &**k == name) {
                    Some((_, v)) => *v = value,
                    None => self.overflow.push((name.into(), value)),
                }
            }
        }
    }

    /// Appends a field, and optionally an alias to it, without looking for an earlier value:
    /// the fast path for parsers that track which names they have set (`set` and `alias` scan
    /// the map, so building an event of n fields with them costs O(n²); Windows events have
    /// about a hundred names). The caller must not push a name, or an alias name, that is
    /// already present: `get` would find the first value and the output would repeat the key.
    /// Debug builds check this.
    pub fn push_new_aliased(
        &mut self,
        id: FieldId,
        value: impl Into<Value>,
        alias: Option<FieldId>,
    ) {
        debug_assert!(self.get(id).is_none(), "{id:?} is already set");
        debug_assert!(
            alias.is_none_or(|a| a != id && self.get(a).is_none()),
            "alias {alias:?} is already set"
        );
        let index = self.entries.len() as u32;
        self.present.insert(id);
        self.entries.push((id, value.into()));
        if let Some(a) = alias {
            self.present.insert(a);
            if self.aliases.capacity() == 0 {
                // A builder that aliases usually aliases many fields: size once, not 4, 8, 16...
                self.aliases.reserve(self.entries.capacity() / 2);
            }
            self.aliases.push((a, index));
        }
    }

    /// Makes `alias` resolve to the current value of `target`. No-op if `target` is unset or
    /// `alias` already names a field.
    pub fn alias(&mut self, alias: FieldId, target: FieldId) {
        if alias == target || self.get(alias).is_some() {
            return;
        }
        if let Some(i) = self.entries.iter().position(|(k, _)| *k == target) {
            self.present.insert(alias);
            self.aliases.push((alias, i as u32));
        }
    }

    /// [`Fields::alias`] with the alias given by name.
    pub fn alias_name(&mut self, alias: &str, target: FieldId) {
        if let Some(id) = FieldId::try_intern(alias) {
            self.alias(id, target);
        }
    }

    /// Every field with its name, in insertion order (aliases excluded).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries
            .iter()
            .map(|(k, v)| (k.name(), v))
            .chain(self.overflow.iter().map(|(k, v)| (&**k, v)))
    }

    /// Every interned field id with its value, in insertion order (aliases excluded).
    pub fn iter_ids(&self) -> impl Iterator<Item = (FieldId, &Value)> {
        self.entries.iter().map(|(k, v)| (*k, v))
    }

    /// Every alias with the field it points to.
    pub fn aliases(&self) -> impl Iterator<Item = (FieldId, FieldId)> + '_ {
        self.aliases
            .iter()
            .filter_map(|(a, i)| self.entries.get(*i as usize).map(|(t, _)| (*a, *t)))
    }

    /// Number of fields (aliases excluded).
    pub fn len(&self) -> usize {
        self.entries.len() + self.overflow.len()
    }

    /// True if there are no fields.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One normalised event.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// When it happened, in UTC. Parsers fall back to `received` when the record has no time.
    pub timestamp: Timestamp,
    /// The offset the source wrote its time in, when it said (`None`: unknown or not given).
    pub tz: Option<TzOffset>,
    /// When Kasbah read or received it.
    pub received: Timestamp,
    /// The owning tenant.
    pub tenant: TenantId,
    /// Where it came from.
    pub source: Source,
    /// ECS and original fields.
    pub fields: Fields,
    /// The original record (text formats: the line or message; EVTX: the record as XML).
    pub raw: Option<Box<str>>,
}

impl Event {
    /// A new event with no fields, timestamped at `received` until a parser finds its own time.
    pub fn new(received: Timestamp, source: Source) -> Self {
        Event {
            timestamp: received,
            tz: None,
            received,
            tenant: TenantId::DEFAULT,
            source,
            fields: Fields::with_capacity(16),
            raw: None,
        }
    }

    /// Shorthand for `self.fields.get(id)`.
    #[inline]
    pub fn get(&self, id: FieldId) -> Option<&Value> {
        self.fields.get(id)
    }

    /// Shorthand for `self.fields.get_name(name)`.
    pub fn get_name(&self, name: &str) -> Option<&Value> {
        self.fields.get_name(name)
    }

    /// Shorthand for `self.fields.set(id, value)`.
    pub fn set(&mut self, id: FieldId, value: impl Into<Value>) {
        self.fields.set(id, value);
    }

    /// `host.name`, the host the event is about.
    pub fn host(&self) -> Option<&str> {
        self.fields.get_str(crate::ecs::HOST_NAME)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecs;

    fn ev() -> Event {
        Event::new(
            Timestamp::from_nanos(0),
            Source::Input {
                name: Arc::from("test"),
            },
        )
    }

    #[test]
    fn set_replaces_and_alias_resolves() {
        let mut e = ev();
        let image = FieldId::intern("Image");
        e.set(image, "C:\\a.exe");
        e.set(image, "C:\\b.exe");
        e.fields.alias_name("EventData.Image", image);
        assert_eq!(e.fields.len(), 1);
        assert_eq!(
            e.get_name("EventData.Image").and_then(Value::as_str),
            Some("C:\\b.exe")
        );
        assert_eq!(e.fields.aliases().count(), 1);
    }

    #[test]
    fn push_new_appends() {
        let mut e = ev();
        e.fields.push_new(ecs::USER_NAME, "alice");
        e.fields.push_new(ecs::HOST_NAME, "h");
        assert_eq!(e.fields.get_str(ecs::USER_NAME), Some("alice"));
        assert_eq!(e.fields.len(), 2);
    }

    #[test]
    fn filter_collisions_still_resolve() {
        // Ids 256 apart share a filter bit: presence of one must not hide or fake the other.
        let mut e = ev();
        let ids: Vec<FieldId> = (0..600)
            .map(|i| FieldId::intern(&format!("collide.{i}")))
            .collect();
        for (n, id) in ids.iter().enumerate().step_by(2) {
            e.set(*id, n as i64);
        }
        for (n, id) in ids.iter().enumerate() {
            let expect = (n % 2 == 0).then_some(Value::Int(n as i64));
            assert_eq!(e.get(*id), expect.as_ref(), "{id:?}");
        }
        // Replacing through `set` after a collision keeps one entry per name.
        e.set(ids[0], -1i64);
        assert_eq!(e.get(ids[0]), Some(&Value::Int(-1)));
        assert_eq!(e.fields.len(), 300);
    }

    #[test]
    fn push_new_appends_with_alias() {
        let mut e = ev();
        let image = FieldId::intern("Image");
        let alias = FieldId::intern("EventData.Image");
        e.fields.push_new_aliased(ecs::EVENT_KIND, "event", None);
        e.fields.push_new_aliased(image, "C:\\a.exe", Some(alias));
        assert_eq!(e.fields.len(), 2);
        assert_eq!(e.fields.get_str(alias), Some("C:\\a.exe"));
        assert_eq!(e.fields.aliases().collect::<Vec<_>>(), vec![(alias, image)]);
        // A later `set` replaces the value the alias resolves to.
        e.set(image, "C:\\b.exe");
        assert_eq!(e.fields.get_str(alias), Some("C:\\b.exe"));
    }

    #[test]
    fn set_default_keeps_first() {
        let mut e = ev();
        e.fields.set_default(ecs::USER_NAME, "alice");
        e.fields.set_default(ecs::USER_NAME, "bob");
        assert_eq!(e.fields.get_str(ecs::USER_NAME), Some("alice"));
    }

    #[test]
    fn missing_fields_are_none() {
        let e = ev();
        assert!(e.get(ecs::PROCESS_NAME).is_none());
        assert!(e.get_name("no.such.field.anywhere").is_none());
    }
}
