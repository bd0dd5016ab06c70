//! `kasbah token` and `kasbah tenant`: manage API tokens and tenants in a data directory
//! (works while the server runs: the metadata database allows concurrent writers). Every change
//! is written to the tenant's audit trail with the actor `cli:<login>`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use kasbah_meta::{AlertRepo, MetaRepo, Scopes, TokenId};
use serde_json::json;

/// The data directory argument shared by these commands.
#[derive(Args)]
pub struct DataDir {
    /// Data directory of the server.
    #[arg(long, env = "KASBAH_DATA_DIR", default_value = "kasbah-data")]
    data_dir: PathBuf,
}

/// Who made a change from the command line, for the audit trail.
fn actor() -> String {
    let login = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{login}")
}

pub(crate) fn audit(
    repo: &kasbah_meta::SqliteRepo,
    tenant: kasbah_meta::TenantId,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) -> anyhow::Result<()> {
    repo.audit(tenant, &actor(), action, target, &detail.to_string())?;
    Ok(())
}

#[derive(Subcommand)]
pub enum TokenCmd {
    /// Create a token; the secret is printed once, as the last word of the output.
    Create {
        /// Tenant the token belongs to (created if it does not exist).
        #[arg(long)]
        tenant: String,
        /// Comma-separated scopes: ingest, read, write, admin.
        #[arg(long, default_value = "ingest,read")]
        scope: String,
        /// Free text to recognise the token later.
        #[arg(long, default_value = "")]
        label: String,
        /// Lifetime in days (default: no expiry).
        #[arg(long)]
        expires_days: Option<u32>,
        #[command(flatten)]
        dir: DataDir,
    },
    /// List a tenant's tokens (never their secrets).
    List {
        /// The tenant.
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        dir: DataDir,
    },
    /// Revoke a token by id.
    Revoke {
        /// Token id (from `token list`).
        id: i64,
        #[command(flatten)]
        dir: DataDir,
    },
}

#[derive(Subcommand)]
pub enum TenantCmd {
    /// Create a tenant.
    Create {
        /// Name: 1-64 of a-z, 0-9, '-' and '_'.
        name: String,
        #[command(flatten)]
        dir: DataDir,
    },
    /// List tenants.
    List {
        #[command(flatten)]
        dir: DataDir,
    },
    /// Set a tenant's retention (applied by a running server at its next start).
    Retention {
        /// The tenant.
        name: String,
        /// Keep events this many days.
        #[arg(long)]
        days: Option<u32>,
        /// Keep at most this many bytes of events.
        #[arg(long)]
        bytes: Option<u64>,
        #[command(flatten)]
        dir: DataDir,
    },
}

pub(crate) fn open(dir: &DataDir) -> anyhow::Result<kasbah_meta::SqliteRepo> {
    Ok(kasbah_server::open_meta(&dir.data_dir)?)
}

pub(crate) fn tenant_id(repo: &dyn MetaRepo, name: &str) -> anyhow::Result<kasbah_meta::TenantId> {
    repo.tenant_by_name(name)?
        .map(|t| t.id)
        .ok_or_else(|| anyhow::anyhow!("no tenant named `{name}`"))
}

fn time(ns: i64) -> String {
    kasbah_event::Timestamp::from_nanos(ns).to_rfc3339()
}

pub fn run_token(cmd: TokenCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        TokenCmd::Create {
            tenant,
            scope,
            label,
            expires_days,
            dir,
        } => {
            let repo = open(&dir)?;
            let t = repo.ensure_tenant(&tenant)?;
            let scopes = Scopes::parse(&scope)?;
            let expires = expires_days.map(|d| {
                kasbah_event::Timestamp::now()
                    .as_nanos()
                    .saturating_add(i64::from(d) * 86_400 * 1_000_000_000)
            });
            let tok = repo.create_token(t.id, &label, scopes, expires)?;
            audit(
                &repo,
                t.id,
                "token.create",
                &format!("token:{}", tok.info.id.0),
                json!({"label": label, "scopes": scopes.to_string(), "expires_at": expires}),
            )?;
            println!(
                "Created token {} for tenant {} (scopes: {scopes}). It is shown only once:",
                tok.info.id.0, t.name
            );
            println!("{}", tok.secret);
        }
        TokenCmd::List { tenant, dir } => {
            let repo = open(&dir)?;
            let id = tenant_id(&repo, &tenant)?;
            println!(
                "{:>5}  {:<20}  {:<24}  {:<32}  status",
                "id", "label", "scopes", "created"
            );
            for t in repo.tokens(id)? {
                let now = kasbah_event::Timestamp::now().as_nanos();
                let status = match (t.revoked_at, t.expires_at) {
                    (Some(r), _) => format!("revoked {}", time(r)),
                    (None, Some(e)) if e <= now => format!("expired {}", time(e)),
                    (None, Some(e)) => format!("expires {}", time(e)),
                    (None, None) => "active".into(),
                };
                println!(
                    "{:>5}  {:<20}  {:<24}  {:<32}  {status}",
                    t.id.0,
                    t.label,
                    t.scopes.to_string(),
                    time(t.created_at)
                );
            }
        }
        TokenCmd::Revoke { id, dir } => {
            let repo = open(&dir)?;
            let Some(tenant) = repo.revoke_token(TokenId(id), None)? else {
                anyhow::bail!("no active token with id {id}");
            };
            audit(
                &repo,
                tenant,
                "token.revoke",
                &format!("token:{id}"),
                json!({}),
            )?;
            println!("Token {id} revoked.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_tenant(cmd: TenantCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        TenantCmd::Create { name, dir } => {
            let repo = open(&dir)?;
            let existed = repo.tenant_by_name(&name)?.is_some();
            let t = repo.ensure_tenant(&name)?;
            if !existed {
                audit(
                    &repo,
                    t.id,
                    "tenant.create",
                    &format!("tenant:{name}"),
                    json!({}),
                )?;
            }
            println!("Tenant {} has id {}.", t.name, t.id.0);
        }
        TenantCmd::List { dir } => {
            for t in open(&dir)?.tenants()? {
                let days = t
                    .retention_days
                    .map_or("default".to_string(), |d| format!("{d} days"));
                let bytes = t
                    .retention_bytes
                    .map_or("unlimited".to_string(), |b| format!("{b} bytes"));
                println!("{:>4}  {:<24}  retention: {days}, {bytes}", t.id.0, t.name);
            }
        }
        TenantCmd::Retention {
            name,
            days,
            bytes,
            dir,
        } => {
            let repo = open(&dir)?;
            let id = tenant_id(&repo, &name)?;
            repo.set_retention(id, days, bytes)?;
            audit(
                &repo,
                id,
                "tenant.retention",
                &format!("tenant:{name}"),
                json!({"days": days, "bytes": bytes}),
            )?;
            println!("Retention of {name} set.");
        }
    }
    Ok(ExitCode::SUCCESS)
}
