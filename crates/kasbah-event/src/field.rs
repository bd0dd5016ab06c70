//! Field names interned to small integer ids.
//!
//! The ECS names that parsers and rules use most are declared at compile time in [`ecs`], so their
//! ids are constants. Every other name is interned at run time into a process-wide table. The table
//! is bounded ([`FieldId::MAX_DYNAMIC`]): hostile input with millions of distinct keys cannot grow
//! it without limit; names past the bound are kept on the event by their string instead (see
//! [`crate::Fields`]).

use std::sync::{OnceLock, RwLock};

use rustc_hash::FxHashMap;

/// An interned field name. Cheap to copy and compare; resolve the name with [`FieldId::name`].
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldId(u32);

/// Name -> id, one entry per id: the next id is its length. The names by id are [`NAMES`].
struct Interner {
    ids: FxHashMap<&'static str, FieldId>,
}

/// Names by id, readable without a lock: an id's slot is set (under the interner's write lock)
/// before the id is handed out, and never changes. `name()` and `lookup()` run for every field
/// of every event on every ingest thread; a shared lock there was 2% of the server's CPU, its
/// counter bouncing between cores.
const CHUNK: usize = 4096;
const CHUNKS: usize = FieldId::MAX_DYNAMIC.div_ceil(CHUNK) + 1;
static NAMES: [OnceLock<Box<[OnceLock<&'static str>]>>; CHUNKS] =
    [const { OnceLock::new() }; CHUNKS];

fn name_slot(i: usize) -> Option<&'static OnceLock<&'static str>> {
    NAMES
        .get(i / CHUNK)?
        .get_or_init(|| (0..CHUNK).map(|_| OnceLock::new()).collect())
        .get(i % CHUNK)
}

thread_local! {
    /// Names this thread looked up recently (ids never change once given).
    static RECENT: std::cell::RefCell<FxHashMap<Box<str>, FieldId>> =
        std::cell::RefCell::new(FxHashMap::default());
}

/// Entries kept per thread before the cache starts over.
const RECENT_MAX: usize = 8192;

fn interner() -> &'static RwLock<Interner> {
    static INTERNER: OnceLock<RwLock<Interner>> = OnceLock::new();
    INTERNER.get_or_init(|| {
        let ids = ecs::NAMES
            .iter()
            .enumerate()
            .map(|(i, n)| (*n, FieldId(i as u32)))
            .collect();
        RwLock::new(Interner { ids })
    })
}

impl FieldId {
    /// Upper bound on the number of distinct names interned at run time.
    pub const MAX_DYNAMIC: usize = 1 << 20;

    /// Interns `name`, returning its id, or `None` once the table is full.
    pub fn try_intern(name: &str) -> Option<FieldId> {
        if let Some(id) = Self::lookup(name) {
            return Some(id);
        }
        let mut table = interner().write().unwrap_or_else(|e| e.into_inner());
        let next = table.ids.len();
        if next >= ecs::NAMES.len() + Self::MAX_DYNAMIC {
            return None;
        }
        // Another thread may have interned it between our read and write locks.
        if let Some(id) = table.ids.get(name) {
            return Some(*id);
        }
        // Interned names live for the whole process; the table is bounded above.
        let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
        let id = FieldId(next as u32);
        if let Some(slot) = name_slot(next) {
            let _ = slot.set(leaked);
        }
        table.ids.insert(leaked, id);
        Some(id)
    }

    /// Interns `name`. Panics only if the process-wide table is full, which untrusted input cannot
    /// cause through [`crate::Fields::set_name`]; use this for names that come from code or rules.
    #[track_caller]
    pub fn intern(name: &str) -> FieldId {
        match Self::try_intern(name) {
            Some(id) => id,
            None => panic!("field interner full while interning a name from code: {name}"),
        }
    }

    /// The id of `name` if it has been interned, without interning it.
    pub fn lookup(name: &str) -> Option<FieldId> {
        let cached = RECENT.with(|c| c.borrow().get(name).copied());
        if cached.is_some() {
            return cached;
        }
        let id = {
            let table = interner().read().unwrap_or_else(|e| e.into_inner());
            table.ids.get(name).copied()
        }?;
        RECENT.with(|c| {
            let mut c = c.borrow_mut();
            if c.len() >= RECENT_MAX {
                c.clear();
            }
            c.insert(name.into(), id);
        });
        Some(id)
    }

    /// The name this id was interned from.
    pub fn name(self) -> &'static str {
        if let Some(n) = ecs::NAMES.get(self.0 as usize) {
            return n;
        }
        name_slot(self.0 as usize)
            .and_then(|s| s.get().copied())
            .unwrap_or("")
    }

    /// The raw index, for use as a dense array index.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// True for the names declared in [`ecs`].
    pub fn is_ecs(self) -> bool {
        (self.0 as usize) < ecs::NAMES.len()
    }
}

impl std::fmt::Debug for FieldId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FieldId({}, {:?})", self.0, self.name())
    }
}

impl std::fmt::Display for FieldId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

macro_rules! ecs_fields {
    ($($(#[$doc:meta])* $konst:ident = $name:literal,)*) => {
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        #[repr(u32)]
        enum Index { $($konst,)* }

        /// Well-known ECS field ids, stable for the life of the process (constants).
        pub mod ecs {
            use super::{FieldId, Index};
            $($(#[$doc])* #[doc = concat!("`", $name, "`")] pub const $konst: FieldId = FieldId(Index::$konst as u32);)*
            /// Every well-known name, indexed by id.
            pub const NAMES: &[&str] = &[$($name,)*];
        }
    };
}

ecs_fields! {
    MESSAGE = "message",
    EVENT_KIND = "event.kind",
    EVENT_CATEGORY = "event.category",
    EVENT_TYPE = "event.type",
    EVENT_ACTION = "event.action",
    EVENT_OUTCOME = "event.outcome",
    EVENT_SEVERITY = "event.severity",
    EVENT_CODE = "event.code",
    EVENT_MODULE = "event.module",
    EVENT_DATASET = "event.dataset",
    EVENT_PROVIDER = "event.provider",
    EVENT_DURATION = "event.duration",
    EVENT_ID = "event.id",
    LOG_LEVEL = "log.level",
    LOG_LOGGER = "log.logger",
    LOG_SYSLOG_PRIORITY = "log.syslog.priority",
    LOG_SYSLOG_FACILITY_CODE = "log.syslog.facility.code",
    LOG_SYSLOG_FACILITY_NAME = "log.syslog.facility.name",
    LOG_SYSLOG_SEVERITY_CODE = "log.syslog.severity.code",
    LOG_SYSLOG_SEVERITY_NAME = "log.syslog.severity.name",
    LOG_SYSLOG_APPNAME = "log.syslog.appname",
    LOG_SYSLOG_PROCID = "log.syslog.procid",
    LOG_SYSLOG_MSGID = "log.syslog.msgid",
    LOG_SYSLOG_HOSTNAME = "log.syslog.hostname",
    LOG_SYSLOG_VERSION = "log.syslog.version",
    HOST_NAME = "host.name",
    HOST_IP = "host.ip",
    OBSERVER_NAME = "observer.name",
    OBSERVER_VENDOR = "observer.vendor",
    OBSERVER_PRODUCT = "observer.product",
    OBSERVER_VERSION = "observer.version",
    OBSERVER_IP = "observer.ip",
    USER_NAME = "user.name",
    USER_DOMAIN = "user.domain",
    USER_ID = "user.id",
    USER_EFFECTIVE_NAME = "user.effective.name",
    USER_TARGET_NAME = "user.target.name",
    USER_TARGET_DOMAIN = "user.target.domain",
    GROUP_NAME = "group.name",
    SOURCE_IP = "source.ip",
    SOURCE_PORT = "source.port",
    SOURCE_ADDRESS = "source.address",
    SOURCE_DOMAIN = "source.domain",
    SOURCE_MAC = "source.mac",
    SOURCE_BYTES = "source.bytes",
    SOURCE_PACKETS = "source.packets",
    DESTINATION_IP = "destination.ip",
    DESTINATION_PORT = "destination.port",
    DESTINATION_ADDRESS = "destination.address",
    DESTINATION_DOMAIN = "destination.domain",
    DESTINATION_MAC = "destination.mac",
    DESTINATION_BYTES = "destination.bytes",
    DESTINATION_PACKETS = "destination.packets",
    NETWORK_TRANSPORT = "network.transport",
    NETWORK_PROTOCOL = "network.protocol",
    NETWORK_DIRECTION = "network.direction",
    NETWORK_BYTES = "network.bytes",
    NETWORK_PACKETS = "network.packets",
    NETWORK_COMMUNITY_ID = "network.community_id",
    PROCESS_NAME = "process.name",
    PROCESS_PID = "process.pid",
    PROCESS_COMMAND_LINE = "process.command_line",
    PROCESS_EXECUTABLE = "process.executable",
    PROCESS_WORKING_DIRECTORY = "process.working_directory",
    PROCESS_ENTITY_ID = "process.entity_id",
    PROCESS_PARENT_NAME = "process.parent.name",
    PROCESS_PARENT_PID = "process.parent.pid",
    PROCESS_PARENT_EXECUTABLE = "process.parent.executable",
    PROCESS_PARENT_COMMAND_LINE = "process.parent.command_line",
    PROCESS_PARENT_ENTITY_ID = "process.parent.entity_id",
    FILE_PATH = "file.path",
    FILE_NAME = "file.name",
    FILE_DIRECTORY = "file.directory",
    FILE_SIZE = "file.size",
    FILE_HASH_MD5 = "file.hash.md5",
    FILE_HASH_SHA1 = "file.hash.sha1",
    FILE_HASH_SHA256 = "file.hash.sha256",
    URL_ORIGINAL = "url.original",
    URL_PATH = "url.path",
    URL_QUERY = "url.query",
    URL_DOMAIN = "url.domain",
    URL_SCHEME = "url.scheme",
    URL_PORT = "url.port",
    DNS_QUESTION_NAME = "dns.question.name",
    DNS_QUESTION_TYPE = "dns.question.type",
    DNS_RESPONSE_CODE = "dns.response_code",
    DNS_ANSWERS_DATA = "dns.answers.data",
    HTTP_REQUEST_METHOD = "http.request.method",
    HTTP_REQUEST_REFERRER = "http.request.referrer",
    HTTP_RESPONSE_STATUS_CODE = "http.response.status_code",
    HTTP_RESPONSE_BODY_BYTES = "http.response.body.bytes",
    HTTP_VERSION = "http.version",
    USER_AGENT_ORIGINAL = "user_agent.original",
    TLS_VERSION = "tls.version",
    TLS_SERVER_NAME = "tls.client.server_name",
    RULE_ID = "rule.id",
    RULE_NAME = "rule.name",
    RULE_CATEGORY = "rule.category",
    RULE_DESCRIPTION = "rule.description",
    SERVICE_NAME = "service.name",
    WINLOG_EVENT_ID = "winlog.event_id",
    WINLOG_CHANNEL = "winlog.channel",
    WINLOG_PROVIDER_NAME = "winlog.provider_name",
    WINLOG_PROVIDER_GUID = "winlog.provider_guid",
    WINLOG_COMPUTER_NAME = "winlog.computer_name",
    WINLOG_RECORD_ID = "winlog.record_id",
    WINLOG_TASK = "winlog.task",
    WINLOG_OPCODE = "winlog.opcode",
    WINLOG_KEYWORDS = "winlog.keywords",
    WINLOG_LEVEL = "winlog.level",
    WINLOG_VERSION = "winlog.version",
    WINLOG_PROCESS_PID = "winlog.process.pid",
    WINLOG_PROCESS_THREAD_ID = "winlog.process.thread.id",
    WINLOG_USER_IDENTIFIER = "winlog.user.identifier",
    WINLOG_ACTIVITY_ID = "winlog.activity_id",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecs_ids_are_stable_and_resolve() {
        assert_eq!(ecs::MESSAGE.name(), "message");
        assert_eq!(FieldId::intern("process.name"), ecs::PROCESS_NAME);
        assert!(ecs::PROCESS_NAME.is_ecs());
        assert_eq!(ecs::NAMES.len(), ecs::WINLOG_ACTIVITY_ID.index() + 1);
    }

    #[test]
    fn dynamic_names_intern_once() {
        let a = FieldId::intern("EventData.SomethingRare");
        let b = FieldId::intern("EventData.SomethingRare");
        assert_eq!(a, b);
        assert!(!a.is_ecs());
        assert_eq!(a.name(), "EventData.SomethingRare");
        assert_eq!(FieldId::lookup("never.interned.name.xyz"), None);
    }

    /// Names interned on several threads resolve both ways on every thread (the lock-free name
    /// table and each thread's lookup cache agree with the interner).
    #[test]
    fn names_and_ids_agree_across_threads() {
        let ids: Vec<Vec<(String, FieldId)>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|t| {
                    s.spawn(move || {
                        (0..3000)
                            .map(|i| {
                                let name = format!("vendor.t{}.f{}", t % 2, i);
                                let id = FieldId::intern(&name);
                                assert_eq!(FieldId::lookup(&name), Some(id));
                                (name, id)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        for (name, id) in ids.iter().flatten() {
            assert_eq!(id.name(), name);
            assert_eq!(FieldId::lookup(name), Some(*id));
        }
        // Threads 0 and 2 (and 1 and 3) interned the same names: the same ids.
        assert_eq!(ids[0], ids[2]);
        assert_eq!(ids[1], ids[3]);
        assert_ne!(ids[0][0].1, ids[1][0].1);
    }

    #[test]
    fn ecs_names_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for n in ecs::NAMES {
            assert!(seen.insert(*n), "duplicate ECS name {n}");
        }
    }
}
