//! `kasbah serve --demo`: seeds a `demo` tenant with the bundled sample incident (`samples/`,
//! embedded in the binary) so a newcomer has events to search and alerts to triage at once.

use std::sync::Arc;

use kasbah_meta::{Scope, Scopes};
use kasbah_parse::Origin;

use crate::ingest;
use crate::state::Shared;

/// The sample files, by the path they have in the repository.
pub const SAMPLES: &[(&str, &[u8])] = &[
    (
        "samples/firewall/fortigate.log",
        include_bytes!("../../../samples/firewall/fortigate.log"),
    ),
    (
        "samples/firewall/ids.cef",
        include_bytes!("../../../samples/firewall/ids.cef"),
    ),
    (
        "samples/firewall/mail.leef",
        include_bytes!("../../../samples/firewall/mail.leef"),
    ),
    (
        "samples/linux/audit.log",
        include_bytes!("../../../samples/linux/audit.log"),
    ),
    (
        "samples/linux/auth.log",
        include_bytes!("../../../samples/linux/auth.log"),
    ),
    (
        "samples/network/conn.log",
        include_bytes!("../../../samples/network/conn.log"),
    ),
    (
        "samples/network/eve.json",
        include_bytes!("../../../samples/network/eve.json"),
    ),
    (
        "samples/syslog/messages.log",
        include_bytes!("../../../samples/syslog/messages.log"),
    ),
    (
        "samples/web/access.log",
        include_bytes!("../../../samples/web/access.log"),
    ),
    (
        "samples/windows/events.xml",
        include_bytes!("../../../samples/windows/events.xml"),
    ),
];

/// The tenant the demo data goes to.
pub const TENANT: &str = "demo";

/// What seeding did.
#[derive(Debug)]
pub struct Seeded {
    /// Events stored (0 when the tenant already had data).
    pub events: u64,
    /// A new read+ingest+write token for the demo tenant (only when seeding happened).
    pub token: Option<String>,
}

/// Seeds the demo tenant unless it already holds events.
pub async fn seed(state: &Shared) -> Result<Seeded, String> {
    let tenant = state
        .meta
        .ensure_tenant(TENANT)
        .map_err(|e| e.to_string())?;
    if state
        .store
        .view(tenant.id)
        .is_some_and(|v| v.partitions.iter().any(|p| p.meta.docs > 0))
    {
        return Ok(Seeded {
            events: 0,
            token: None,
        });
    }
    // The incident happened on 2024-03-15: year-less timestamps belong to that year.
    let mut opts = state.parse_options(tenant.id);
    opts.received = kasbah_parse::time::rfc3339("2024-03-15T23:59:59Z", None)
        .map(|(t, _)| t)
        .unwrap_or(opts.received);
    let mut events = 0;
    for (name, bytes) in SAMPLES {
        let received = std::time::Instant::now();
        let parsed = ingest::parse(
            bytes,
            None,
            &Origin::File(Arc::from(*name)),
            &opts,
            &state.prep(tenant.id),
            usize::MAX,
        );
        for p in parsed.batches {
            events += p.batch.events.len() as u64;
            ingest::commit(&state.store, p.batch)
                .await
                .map_err(|e| e.to_string())?;
            ingest::detected(state, tenant.id, p.findings, received);
        }
    }
    if let Some(d) = state.detection.clone() {
        // The sample incident is complete: raise its correlation alerts now rather than after
        // the lateness period.
        let _ = tokio::task::spawn_blocking(move || d.flush()).await;
    }
    // Enough to explore and triage the demo, not to administer it.
    let scopes = Scopes::default()
        .with(Scope::Read)
        .with(Scope::Ingest)
        .with(Scope::Write);
    let token = state
        .meta
        .create_token(tenant.id, "demo", scopes, None)
        .map_err(|e| e.to_string())?;
    Ok(Seeded {
        events,
        token: Some(token.secret),
    })
}
