//! `kasbah user`: local users of a data directory and their role per tenant. New users and
//! resets get a generated one-time password, printed once, that must be changed at the first
//! login. Every change is in the audit trail of the tenant concerned.

use std::process::ExitCode;

use clap::Subcommand;
use kasbah_meta::{MetaRepo, Role, UserRepo};
use serde_json::json;

use super::token::{DataDir, audit, open, tenant_id};

#[derive(Subcommand)]
pub enum UserCmd {
    /// Create a user with a role in a tenant (or give an existing user that role); a new user
    /// gets a one-time password, printed as the last word of the output.
    Add {
        /// Login name: 1-64 of a-z, 0-9, '.', '_', '@', '-'.
        name: String,
        /// The tenant (created if it does not exist).
        #[arg(long)]
        tenant: String,
        /// admin, analyst or viewer.
        #[arg(long, default_value = "analyst")]
        role: String,
        #[command(flatten)]
        dir: DataDir,
    },
    /// Change a user's role in a tenant, or remove it with `--role none`.
    Role {
        /// The user.
        name: String,
        /// The tenant.
        #[arg(long)]
        tenant: String,
        /// admin, analyst, viewer or none.
        #[arg(long)]
        role: String,
        #[command(flatten)]
        dir: DataDir,
    },
    /// Give a user a new one-time password (ends their sessions, clears a lockout and the TOTP second factor).
    Reset {
        /// The user.
        name: String,
        #[command(flatten)]
        dir: DataDir,
    },
    /// Make a user a global administrator (manages tenants, may search across them), or
    /// stop it with `--off`. Recorded in the audit trail of each of the user's tenants.
    Global {
        /// The user.
        name: String,
        /// Take the global administrator's rights away instead.
        #[arg(long)]
        off: bool,
        #[command(flatten)]
        dir: DataDir,
    },
    /// List users and their roles.
    List {
        #[command(flatten)]
        dir: DataDir,
    },
}

/// Creates a user with a one-time password; returns the password.
pub fn create_with_one_time_password(
    repo: &kasbah_meta::SqliteRepo,
    name: &str,
) -> anyhow::Result<(kasbah_meta::User, String)> {
    let (password, hash) = kasbah_meta::one_time_password()?;
    let user = repo.create_user(name, &hash, true)?;
    Ok((user, password))
}

pub fn run(cmd: UserCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        UserCmd::Add {
            name,
            tenant,
            role,
            dir,
        } => {
            let repo = open(&dir)?;
            let role = Role::parse(&role)?;
            let t = repo.ensure_tenant(&tenant)?;
            let existing = repo.user_by_name(&name)?.map(|(u, _)| u);
            let (user, password) = match existing {
                Some(u) => (u, None),
                None => {
                    let (u, p) = create_with_one_time_password(&repo, &name)?;
                    (u, Some(p))
                }
            };
            repo.set_role(user.id, t.id, Some(role))?;
            audit(
                &repo,
                t.id,
                "user.role",
                &format!("user:{name}"),
                json!({"role": role.as_str(), "created": password.is_some()}),
            )?;
            match password {
                Some(p) => {
                    println!(
                        "Created user {name} ({role} of {tenant}). One-time password, to change at the first login:"
                    );
                    println!("{p}");
                }
                None => println!("User {name} is now {role} of {tenant}."),
            }
        }
        UserCmd::Role {
            name,
            tenant,
            role,
            dir,
        } => {
            let repo = open(&dir)?;
            let t = tenant_id(&repo, &tenant)?;
            let (user, _) = repo
                .user_by_name(&name)?
                .ok_or_else(|| anyhow::anyhow!("no user named `{name}`"))?;
            let role = match role.as_str() {
                "none" => None,
                r => Some(Role::parse(r)?),
            };
            repo.set_role(user.id, t, role)?;
            let shown = role.map_or("none", Role::as_str);
            audit(
                &repo,
                t,
                "user.role",
                &format!("user:{name}"),
                json!({"role": shown}),
            )?;
            println!("User {name}: role in {tenant} is {shown}.");
        }
        UserCmd::Reset { name, dir } => {
            let repo = open(&dir)?;
            let (user, _) = repo
                .user_by_name(&name)?
                .ok_or_else(|| anyhow::anyhow!("no user named `{name}`"))?;
            let (password, hash) = kasbah_meta::one_time_password()?;
            // Also the lost-phone path: the second factor goes with the password.
            repo.reset_password(user.id, &hash)?;
            for (t, _) in &user.memberships {
                audit(
                    &repo,
                    *t,
                    "user.reset",
                    &format!("user:{name}"),
                    json!({"totp_removed": user.totp}),
                )?;
            }
            if user.totp {
                println!("Its second factor (TOTP) was removed; the user enrols again.");
            }
            println!("New one-time password of {name}, to change at the next login:");
            println!("{password}");
        }
        UserCmd::Global { name, off, dir } => {
            let repo = open(&dir)?;
            let (user, _) = repo
                .user_by_name(&name)?
                .ok_or_else(|| anyhow::anyhow!("no user named `{name}`"))?;
            repo.set_global_admin(user.id, !off)?;
            for (t, _) in &user.memberships {
                audit(
                    &repo,
                    *t,
                    "user.global_admin",
                    &format!("user:{name}"),
                    json!({"global_admin": !off}),
                )?;
            }
            if off {
                println!("User {name} is no longer a global administrator.");
            } else {
                println!("User {name} is now a global administrator.");
            }
        }
        UserCmd::List { dir } => {
            let repo = open(&dir)?;
            let names: std::collections::HashMap<u32, String> = repo
                .tenants()?
                .into_iter()
                .map(|t| (t.id.0, t.name))
                .collect();
            for u in repo.users()? {
                let roles: Vec<String> = u
                    .memberships
                    .iter()
                    .map(|(t, r)| format!("{}:{r}", names.get(&t.0).map_or("?", String::as_str)))
                    .collect();
                let state = match (u.locked_until, u.must_change_password) {
                    (Some(_), _) => "locked",
                    (None, true) => "must change password",
                    (None, false) => "active",
                };
                let global = if u.global_admin {
                    " (global admin)"
                } else {
                    ""
                };
                println!(
                    "{:<24}  {:<22}  {}{global}",
                    u.name,
                    state,
                    roles.join(", ")
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
