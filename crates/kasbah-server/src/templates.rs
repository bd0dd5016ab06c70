//! Template mining on ingestion: every message of a text log (syslog, auth.log, auditd,
//! key=value, CEF/LEEF) gets `log.template_id`, so analysts can search, count and spot new message
//! shapes (`log.template_id:17`, `* | stats count() by log.template_id`).
//!
//! One miner per tenant (templates are learnt from a tenant's own messages and never shown to
//! another), shared by every ingest thread (`SharedMiner`), saved under
//! `tenants/<id>/templates.json` at shutdown and restored at start so ids stay stable.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use kasbah_event::{Event, TenantId, ecs};
use kasbah_ml::{MinerConfig, MinerState, SharedMiner, Template, TemplateId};

/// Shards of each tenant's miner (lock contention across ingest threads).
const SHARDS: usize = 8;

/// Formats whose `message` is free text worth mining.
const TEXT_MODULES: &[&str] = &["syslog", "auth", "auditd", "kv", "cef", "leef"];

/// The tenants' miners.
pub struct Templates {
    root: PathBuf,
    miners: RwLock<HashMap<TenantId, Arc<SharedMiner>>>,
}

impl Templates {
    /// Miners for the tenants of a data directory (loaded lazily).
    pub fn new(data_dir: &Path) -> Self {
        Templates {
            root: data_dir.join("tenants"),
            miners: RwLock::default(),
        }
    }

    fn path(&self, tenant: TenantId) -> PathBuf {
        self.root.join(tenant.0.to_string()).join("templates.json")
    }

    fn miner(&self, tenant: TenantId) -> Option<Arc<SharedMiner>> {
        if let Some(m) = self.miners.read().ok()?.get(&tenant) {
            return Some(m.clone());
        }
        let mut w = self.miners.write().ok()?;
        if let Some(m) = w.get(&tenant) {
            return Some(m.clone());
        }
        let restored = std::fs::read_to_string(self.path(tenant))
            .ok()
            .and_then(|s| MinerState::from_json(&s).ok())
            .and_then(|st| SharedMiner::from_state(st, SHARDS).ok());
        let miner = match restored {
            Some(m) => m,
            None => SharedMiner::new(MinerConfig::default(), SHARDS).ok()?,
        };
        let m = Arc::new(miner);
        w.insert(tenant, m.clone());
        Some(m)
    }

    /// Adds `log.template_id` to a text-log event with a message; returns the id and the
    /// tenant's miner (for the template's text).
    pub fn annotate(
        &self,
        tenant: TenantId,
        event: &mut Event,
    ) -> Option<(TemplateId, Arc<SharedMiner>)> {
        let is_text = event
            .fields
            .get_str(ecs::EVENT_MODULE)
            .is_some_and(|m| TEXT_MODULES.contains(&m));
        if !is_text {
            return None;
        }
        let msg = event.fields.get_str(ecs::MESSAGE)?;
        let miner = self.miner(tenant)?;
        let id = miner.mine(msg).id;
        event.fields.set_name("log.template_id", i64::from(id.0));
        Some((id, miner))
    }

    /// A tenant's templates, most frequent first.
    pub fn list(&self, tenant: TenantId) -> Vec<Template> {
        let mut t = self
            .miner(tenant)
            .map(|m| m.templates())
            .unwrap_or_default();
        t.sort_by_key(|t| std::cmp::Reverse(t.count));
        t
    }

    /// Saves every miner (at shutdown).
    pub fn save(&self) -> std::io::Result<()> {
        let miners: Vec<(TenantId, Arc<SharedMiner>)> = self
            .miners
            .read()
            .map(|m| m.iter().map(|(k, v)| (*k, v.clone())).collect())
            .unwrap_or_default();
        for (tenant, m) in miners {
            let json = m.state().to_json().map_err(std::io::Error::other)?;
            write_atomically(&self.path(tenant), json.as_bytes())?;
        }
        Ok(())
    }
}

/// Writes a file so that a crash leaves the old or the new content, never a mix: a
/// temporary file, synced, renamed over the old one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(module: &str, msg: &str) -> Event {
        let mut e = Event::new(
            kasbah_event::Timestamp::now(),
            kasbah_event::Source::Input {
                name: std::sync::Arc::from("test"),
            },
        );
        e.fields.set_name("event.module", module);
        e.fields.set_name("message", msg);
        e
    }

    #[test]
    fn text_messages_get_stable_template_ids_per_tenant() {
        let dir = tempfile::tempdir().unwrap();
        let t = Templates::new(dir.path());
        let mut a = event(
            "auth",
            "Failed password for root from 10.0.0.1 port 22 ssh2",
        );
        let mut b = event(
            "auth",
            "Failed password for root from 10.0.0.2 port 2222 ssh2",
        );
        let mut j = event(
            "jsonl",
            "Failed password for root from 10.0.0.1 port 22 ssh2",
        );
        t.annotate(TenantId(1), &mut a);
        t.annotate(TenantId(1), &mut b);
        t.annotate(TenantId(1), &mut j);
        let id = |e: &Event| e.fields.get_name("log.template_id").cloned();
        assert!(id(&a).is_some());
        assert_eq!(id(&a), id(&b));
        assert_eq!(id(&j), None, "JSON events are not mined");
        t.save().unwrap();
        // Restored after a restart: the same message shape keeps its id.
        let t2 = Templates::new(dir.path());
        let mut c = event(
            "auth",
            "Failed password for root from 10.9.9.9 port 22 ssh2",
        );
        t2.annotate(TenantId(1), &mut c);
        assert_eq!(id(&c), id(&a));
        assert!(!t2.list(TenantId(1)).is_empty());
        assert!(
            t2.list(TenantId(2)).is_empty(),
            "tenants do not share templates"
        );
    }
}
