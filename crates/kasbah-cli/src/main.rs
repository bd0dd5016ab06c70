//! `kasbah`: the command-line entry point. Parses arguments and hands each subcommand to its
//! module under `cmd/`; all real work lives in the library crates.

mod cmd;
mod files;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

// mimalloc: rule loading, event parsing and indexing allocate many small short-lived objects
// across threads; with glibc's malloc a hunt spent about 15% of its CPU in malloc and free.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Kasbah: an open-source security operations platform (SIEM, hunting, detection).
#[derive(Parser)]
#[command(name = "kasbah", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse log files and print one normalised event per line as JSON.
    Parse(cmd::parse::ParseArgs),
    /// List the supported formats.
    Formats,
    /// Hunt with Sigma rules over log files: a timeline of detections and a summary.
    Hunt(cmd::hunt::HuntArgs),
    /// Work with Sigma rules.
    Rules {
        #[command(subcommand)]
        cmd: cmd::rules::RulesCmd,
    },
    /// Run the server: syslog and HTTP ingestion, the event store and the search API.
    Serve(Box<cmd::serve::ServeArgs>),
    /// Search a running server.
    Search(cmd::search::SearchArgs),
    /// Manage API tokens of a data directory.
    Token {
        #[command(subcommand)]
        cmd: cmd::token::TokenCmd,
    },
    /// Manage tenants of a data directory.
    Tenant {
        #[command(subcommand)]
        cmd: cmd::token::TenantCmd,
    },
    /// Manage users of a data directory and their roles per tenant.
    User {
        #[command(subcommand)]
        cmd: cmd::user::UserCmd,
    },
    /// Check the audit trail of a data directory.
    Audit {
        #[command(subcommand)]
        cmd: cmd::audit::AuditCmd,
    },
    /// Mine log templates: one message per line in, template ids and a summary out.
    Templates(cmd::templates::TemplatesArgs),
    /// Learn what is normal per entity and score deviations (new templates, unusual sequences).
    Anomalies {
        #[command(subcommand)]
        cmd: cmd::anomalies::AnomaliesCmd,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Parse(args) => cmd::parse::run(args),
        Command::Formats => cmd::formats::run(),
        Command::Hunt(args) => cmd::hunt::run(args),
        Command::Rules { cmd } => cmd::rules::run(cmd),
        Command::Serve(args) => cmd::serve::run(*args),
        Command::Search(args) => cmd::search::run(args),
        Command::Token { cmd } => cmd::token::run_token(cmd),
        Command::Tenant { cmd } => cmd::token::run_tenant(cmd),
        Command::Templates(args) => cmd::templates::run(args),
        Command::Audit { cmd } => cmd::audit::run(cmd),
        Command::User { cmd } => cmd::user::run(cmd),
        Command::Anomalies { cmd } => cmd::anomalies::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kasbah: error: {e:#}");
            ExitCode::from(cmd::EXIT_ERROR)
        }
    }
}
