//! `kasbah search`: run a query against a server and print the events or the table.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use serde_json::{Value, json};

/// Output format.
#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum SearchFormat {
    /// Aligned columns for people.
    Table,
    /// The server's JSON answer.
    Json,
}

#[derive(Args)]
pub struct SearchArgs {
    /// The query, e.g. `process.name:powershell.exe | stats count() by host.name` (see docs/search.md).
    query: String,
    /// Server URL.
    #[arg(long, env = "KASBAH_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// API token with the `read` scope.
    #[arg(long, env = "KASBAH_TOKEN", hide_env_values = true)]
    token: String,
    /// Earliest event time: RFC 3339, YYYY-MM-DD, epoch seconds, or relative (-15m, -24h, -7d).
    #[arg(long)]
    from: Option<String>,
    /// Latest event time (same forms as --from).
    #[arg(long)]
    to: Option<String>,
    /// Events to return (queries without pipes).
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Events to skip (paging).
    #[arg(long, default_value_t = 0)]
    offset: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: SearchFormat,
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn print_table(
    out: &mut impl Write,
    columns: &[String],
    rows: &[Vec<String>],
) -> std::io::Result<()> {
    const MAX: usize = 60;
    let mut widths: Vec<usize> = columns.iter().map(|c| c.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count()).min(MAX);
        }
    }
    let fit = |s: &str, w: usize| {
        let n = s.chars().count();
        if n > w {
            format!(
                "{}…",
                s.chars().take(w.saturating_sub(1)).collect::<String>()
            )
        } else {
            format!("{s:<w$}")
        }
    };
    let line = |cells: Vec<String>| cells.join("  ").trim_end().to_string();
    writeln!(
        out,
        "{}",
        line(
            columns
                .iter()
                .zip(&widths)
                .map(|(c, w)| fit(c, *w))
                .collect()
        )
    )?;
    writeln!(
        out,
        "{}",
        line(widths.iter().map(|w| "-".repeat(*w)).collect())
    )?;
    for r in rows {
        writeln!(
            out,
            "{}",
            line(
                r.iter()
                    .zip(&widths)
                    .map(|(c, w)| fit(&c.replace('\n', " "), *w))
                    .collect()
            )
        )?;
    }
    Ok(())
}

pub fn run(args: SearchArgs) -> anyhow::Result<ExitCode> {
    let url = format!("{}/api/v1/search", args.server.trim_end_matches('/'));
    let body = json!({"query": args.query, "from": args.from, "to": args.to, "limit": args.limit, "offset": args.offset});
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(300)))
        .http_status_as_error(false)
        .user_agent(concat!("kasbah/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut resp = agent
        .post(&url)
        .header("Authorization", &format!("Bearer {}", args.token))
        .header("Content-Type", "application/json")
        .send(serde_json::to_vec(&body)?.as_slice())
        .with_context(|| format!("cannot reach {url}"))?;
    let status = resp.status();
    let text = resp
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_string()
        .context("cannot read the answer")?;
    let answer: Value = serde_json::from_str(&text)
        .with_context(|| format!("the server answered {status} with non-JSON"))?;
    if !status.is_success() {
        let e = &answer["error"];
        if let Some(c) = e.get("column").and_then(Value::as_u64) {
            eprintln!(
                "  {}\n  {}^",
                args.query,
                " ".repeat(c.saturating_sub(1) as usize)
            );
        }
        bail!(
            "{}: {}",
            e["code"].as_str().unwrap_or("error"),
            e["message"].as_str().unwrap_or(&text)
        );
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        SearchFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&answer)?)?,
        SearchFormat::Table => {
            if let Some(rows) = answer.get("rows").and_then(Value::as_array) {
                let columns: Vec<String> = answer["columns"]
                    .as_array()
                    .map(|c| c.iter().map(cell).collect())
                    .unwrap_or_default();
                let rows: Vec<Vec<String>> = rows
                    .iter()
                    .map(|r| {
                        r.as_array()
                            .map(|r| r.iter().map(cell).collect())
                            .unwrap_or_default()
                    })
                    .collect();
                print_table(&mut out, &columns, &rows)?;
            } else {
                let events = answer["events"].as_array().cloned().unwrap_or_default();
                let columns: Vec<String> = ["@timestamp", "host.name", "event.module", "message"]
                    .map(String::from)
                    .to_vec();
                let rows: Vec<Vec<String>> = events
                    .iter()
                    .map(|e| {
                        let msg = e.get("message").map(cell).unwrap_or_else(|| {
                            // Events without a message (Windows): show the action or event code.
                            e.get("event.action")
                                .or_else(|| e.get("event.code"))
                                .map(cell)
                                .unwrap_or_default()
                        });
                        vec![
                            cell(&e["@timestamp"]),
                            e.get("host.name").map(cell).unwrap_or_default(),
                            e.get("event.module").map(cell).unwrap_or_default(),
                            msg,
                        ]
                    })
                    .collect();
                print_table(&mut out, &columns, &rows)?;
            }
            let total = answer["total"].as_u64().unwrap_or(0);
            let took = answer["took_ms"].as_f64().unwrap_or(0.0);
            eprintln!("{total} matching events ({took:.1} ms)");
        }
    }
    Ok(ExitCode::SUCCESS)
}
