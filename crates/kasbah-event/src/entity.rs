//! Entities: the things an alert is about (a host, a user, an IP address, a process), taken from
//! an event's fields. Alerts are deduplicated and suppressed by rule and entity.

use std::fmt;

/// What kind of thing an entity is.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntityKind {
    /// A computer (`host.name`, `Computer`).
    Host,
    /// An account (`user.name`, `SubjectUserName`, `TargetUserName`).
    User,
    /// An IP address (`source.ip`, `IpAddress`).
    Ip,
    /// A program (`process.executable`, `Image`).
    Process,
}

impl EntityKind {
    /// Every kind, in display order.
    pub const ALL: [EntityKind; 4] = [
        EntityKind::Host,
        EntityKind::User,
        EntityKind::Ip,
        EntityKind::Process,
    ];

    /// The kind's name (`host`, `user`, `ip`, `process`).
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Host => "host",
            EntityKind::User => "user",
            EntityKind::Ip => "ip",
            EntityKind::Process => "process",
        }
    }

    /// Parses a kind's name.
    pub fn parse(s: &str) -> Option<EntityKind> {
        EntityKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entity: a kind and a value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Entity {
    /// What it is.
    pub kind: EntityKind,
    /// Its value as it appeared in the event.
    pub value: String,
}

impl Entity {
    /// An entity.
    pub fn new(kind: EntityKind, value: impl Into<String>) -> Entity {
        Entity {
            kind,
            value: value.into(),
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_their_names() {
        for k in EntityKind::ALL {
            assert_eq!(EntityKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(EntityKind::parse("file"), None);
        assert_eq!(
            Entity::new(EntityKind::Ip, "10.0.0.1").to_string(),
            "ip:10.0.0.1"
        );
    }
}
