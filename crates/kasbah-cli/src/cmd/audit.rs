//! `kasbah audit verify`: recompute every tenant's audit hash chain in a data directory and say
//! whether it is intact; the head hashes it prints are what to record elsewhere, so that a
//! rewritten tail is detected at the next check.

use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use kasbah_meta::{AlertRepo, MetaRepo};
use serde_json::json;

use super::token::DataDir;

/// Output of `audit verify`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum VerifyFormat {
    /// One line per tenant.
    Text,
    /// `{"intact", "tenants": [{"tenant", "entries", "head", "broken": {"id", "reason"}|null}]}`.
    Json,
}

#[derive(Subcommand)]
pub enum AuditCmd {
    /// Check that no audit entry was changed, removed or reordered.
    #[command(after_help = "Exit status: 0 every chain intact, 1 a chain is broken or error.")]
    Verify {
        /// Output format.
        #[arg(short, long, value_enum, default_value_t = VerifyFormat::Text)]
        format: VerifyFormat,
        #[command(flatten)]
        dir: DataDir,
    },
}

pub fn run(cmd: AuditCmd) -> anyhow::Result<ExitCode> {
    let AuditCmd::Verify { format, dir } = cmd;
    let repo = super::token::open(&dir)?;
    let chains = repo.verify_audit()?;
    let names: std::collections::HashMap<u32, String> = repo
        .tenants()?
        .into_iter()
        .map(|t| (t.id.0, t.name))
        .collect();
    let name = |id: u32| names.get(&id).cloned().unwrap_or_else(|| format!("#{id}"));
    let intact = chains.iter().all(|c| c.broken.is_none());
    match format {
        VerifyFormat::Json => {
            let tenants: Vec<_> = chains
                .iter()
                .map(|c| {
                    json!({
                        "tenant": name(c.tenant.0),
                        "entries": c.entries,
                        "head": c.head,
                        "broken": c.broken.as_ref().map(|(id, why)| json!({"id": id, "reason": why})),
                    })
                })
                .collect();
            println!("{}", json!({"intact": intact, "tenants": tenants}));
        }
        VerifyFormat::Text => {
            for c in &chains {
                match &c.broken {
                    None => println!(
                        "{:<24} {:>8} entries  intact  head {}",
                        name(c.tenant.0),
                        c.entries,
                        c.head.as_deref().unwrap_or("-")
                    ),
                    Some((id, why)) => println!(
                        "{:<24} {:>8} entries  BROKEN at entry {id}: {why}",
                        name(c.tenant.0),
                        c.entries
                    ),
                }
            }
            if chains.is_empty() {
                println!("no audit entries");
            }
        }
    }
    Ok(if intact {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
