//! Anomaly alerts on ingestion: each tenant's [`TenantModel`] learns from the template ids of
//! its text logs, then checks them; what it finds joins the rule findings of the batch and
//! becomes alerts once the batch is durable (same worker, suppressions and dedup as rules).
//!
//! Models are loaded lazily from `tenants/<id>/anomaly.json`, saved there every minute and at
//! shutdown (a crash loses at most the last minute of learning; findings already raised are
//! alerts in the database).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use kasbah_detect::anomaly::{AnomalyConfig, Settings, Status, TenantModel};
use kasbah_detect::{Detector, Findings, Mode};
use kasbah_event::{Event, TenantId};
use kasbah_ml::{SharedMiner, TemplateId};

/// Counters of the anomaly path.
#[derive(Debug, Default)]
pub struct AnomalyMetrics {
    /// Events learned from.
    pub learned: AtomicU64,
    /// Events checked.
    pub checked: AtomicU64,
    /// Alert drafts raised.
    pub drafts: AtomicU64,
}

/// The tenants' anomaly models.
pub struct Anomalies {
    root: PathBuf,
    cfg: AnomalyConfig,
    models: RwLock<HashMap<TenantId, Arc<Mutex<TenantModel>>>>,
    /// Counters.
    pub metrics: AnomalyMetrics,
}

impl Anomalies {
    /// Models for the tenants of a data directory.
    pub fn new(data_dir: &Path, cfg: AnomalyConfig) -> Self {
        Anomalies {
            root: data_dir.join("tenants"),
            cfg,
            models: RwLock::default(),
            metrics: AnomalyMetrics::default(),
        }
    }

    fn path(&self, tenant: TenantId) -> PathBuf {
        self.root.join(tenant.0.to_string()).join("anomaly.json")
    }

    fn model(&self, tenant: TenantId) -> Option<Arc<Mutex<TenantModel>>> {
        if let Some(m) = self.models.read().ok()?.get(&tenant) {
            return Some(m.clone());
        }
        let mut w = self.models.write().ok()?;
        if let Some(m) = w.get(&tenant) {
            return Some(m.clone());
        }
        let path = self.path(tenant);
        let restored = match std::fs::read_to_string(&path) {
            Ok(s) => match TenantModel::from_json(&s) {
                Ok(m) => Some(m),
                Err(e) => {
                    // Kept aside rather than overwritten at the next save.
                    let aside = path.with_extension("json.unreadable");
                    let _ = std::fs::rename(&path, &aside);
                    tracing::warn!(tenant = tenant.0, error = %e, kept = %aside.display(),
                        "anomaly model unreadable; learning again");
                    None
                }
            },
            Err(_) => None,
        };
        let model = match restored {
            Some(m) => m,
            None => TenantModel::new(&self.cfg).ok()?,
        };
        let m = Arc::new(Mutex::new(model));
        w.insert(tenant, m.clone());
        Some(m)
    }

    /// Learns or checks one event whose message has `template`; drafts go to `out`, and an
    /// event that raised one gets an `event.id` so the alert links to it.
    pub fn observe(
        &self,
        tenant: TenantId,
        ev: &mut Event,
        template: TemplateId,
        miner: &SharedMiner,
        detector: &Detector,
        out: &mut Findings,
    ) {
        let Some((field, value)) = kasbah_detect::anomaly::entity_of(&self.cfg.entity_fields, ev)
        else {
            return;
        };
        let Some(model) = self.model(tenant) else {
            return;
        };
        let text = |id: TemplateId| miner.template(id).map(|t| t.text());
        let (drafts, learning) = {
            let Ok(mut m) = model.lock() else {
                return;
            };
            let d = m.observe(tenant, ev, (field, &value), template, &text);
            (d, m.is_learning())
        };
        let counter = if learning {
            &self.metrics.learned
        } else {
            &self.metrics.checked
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if drafts.is_empty() {
            return;
        }
        self.metrics
            .drafts
            .fetch_add(drafts.len() as u64, Ordering::Relaxed);
        let mut id = None;
        for mut d in drafts {
            if d.about_event {
                if id.is_none() {
                    id = detector.event_id(ev, Mode::Live);
                }
                if let Some(id) = &id {
                    kasbah_detect::alert::add_event_id(&mut d.alert.event_ids, id);
                }
            }
            out.push(d.alert);
        }
    }

    /// Where a tenant's model stands.
    pub fn status(&self, tenant: TenantId) -> Option<Status> {
        let m = self.model(tenant)?;
        let g = m.lock().ok()?;
        Some(g.status())
    }

    /// Changes a tenant's settings.
    pub fn set_settings(&self, tenant: TenantId, s: Settings) -> Result<Status, String> {
        let m = self.model(tenant).ok_or("no model")?;
        let mut g = m.lock().map_err(|_| "model lock poisoned")?;
        g.set_settings(s)?;
        Ok(g.status())
    }

    /// Forgets what a tenant's model learned; it learns again.
    pub fn relearn(&self, tenant: TenantId) -> Result<Status, String> {
        let m = self.model(tenant).ok_or("no model")?;
        let mut g = m.lock().map_err(|_| "model lock poisoned")?;
        g.relearn(&self.cfg).map_err(|e| e.to_string())?;
        Ok(g.status())
    }

    /// Saves every loaded model.
    pub fn save(&self) -> std::io::Result<()> {
        let models: Vec<(TenantId, Arc<Mutex<TenantModel>>)> = self
            .models
            .read()
            .map(|m| m.iter().map(|(k, v)| (*k, v.clone())).collect())
            .unwrap_or_default();
        for (tenant, m) in models {
            let json = match m.lock() {
                Ok(g) => g.to_json().map_err(std::io::Error::other)?,
                Err(_) => continue,
            };
            crate::templates::write_atomically(&self.path(tenant), json.as_bytes())?;
        }
        Ok(())
    }
}
