//! Server counters and their Prometheus text rendering (`GET /metrics`).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use kasbah_store::Metrics as StoreMetrics;

/// An ingestion path, for per-input counters.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// `POST /api/v1/ingest`.
    Http,
    /// `POST /_bulk`.
    Bulk,
    /// `POST /api/v1/upload`.
    Upload,
    /// Syslog over UDP.
    SyslogUdp,
    /// Syslog over TCP.
    SyslogTcp,
    /// Syslog over TLS.
    SyslogTls,
    /// Syslog over RELP.
    SyslogRelp,
}

impl Input {
    /// Every input, in the order metrics list them.
    pub const ALL: [Input; 7] = [
        Input::Http,
        Input::Bulk,
        Input::Upload,
        Input::SyslogUdp,
        Input::SyslogTcp,
        Input::SyslogTls,
        Input::SyslogRelp,
    ];

    /// Label value.
    pub fn name(self) -> &'static str {
        match self {
            Input::Http => "http",
            Input::Bulk => "bulk",
            Input::Upload => "upload",
            Input::SyslogUdp => "syslog_udp",
            Input::SyslogTcp => "syslog_tcp",
            Input::SyslogTls => "syslog_tls",
            Input::SyslogRelp => "syslog_relp",
        }
    }

    fn idx(self) -> usize {
        self as usize
    }
}

/// Per-input counters.
#[derive(Debug, Default)]
pub struct PerInput([AtomicU64; Input::ALL.len()]);

impl PerInput {
    /// Adds `n` for `input`.
    pub fn add(&self, input: Input, n: u64) {
        if let Some(c) = self.0.get(input.idx()) {
            c.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// The count of `input`.
    pub fn get(&self, input: Input) -> u64 {
        self.0
            .get(input.idx())
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Sum over inputs.
    pub fn total(&self) -> u64 {
        self.0.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

/// Counters of the server.
#[derive(Debug, Default)]
pub struct ServerMetrics {
    /// Events accepted (durably logged).
    pub events: PerInput,
    /// Bytes received.
    pub bytes: PerInput,
    /// Records that could not be parsed (reported to the sender, not stored).
    pub parse_errors: PerInput,
    /// Events refused because the store was overloaded (the sender was told to retry).
    pub rejected_overload: PerInput,
    /// Messages or bodies refused for size.
    pub rejected_too_large: PerInput,
    /// UDP datagrams that could not be stored (UDP has no way to ask the sender to retry).
    pub udp_dropped: AtomicU64,
    /// Requests refused for missing or bad credentials.
    pub auth_failures: AtomicU64,
    /// Open syslog stream connections.
    pub syslog_connections: AtomicU64,
    /// Stream connections refused at the connection limit.
    pub connections_refused: AtomicU64,
    /// Searches run.
    pub searches: AtomicU64,
    /// Total search time, ns.
    pub search_nanos: AtomicU64,
}

fn line(out: &mut String, name: &str, help: &str, kind: &str, v: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
    );
}

fn per_input(out: &mut String, name: &str, help: &str, p: &PerInput) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for i in Input::ALL {
        let _ = writeln!(out, "{name}{{input=\"{}\"}} {}", i.name(), p.get(i));
    }
}

/// Appends the detection counters.
pub fn render_detection(out: &mut String, d: &crate::detection::DetectionMetrics) {
    let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let rows: [(&str, &str, &str, &AtomicU64); 8] = [
        (
            "kasbah_detection_queued_batches",
            "Durable batches whose alerts are not recorded yet.",
            "gauge",
            &d.queued,
        ),
        (
            "kasbah_detection_hits_total",
            "Rule matches before deduplication.",
            "counter",
            &d.hits,
        ),
        (
            "kasbah_alerts_created_total",
            "Alerts created.",
            "counter",
            &d.created,
        ),
        (
            "kasbah_alerts_merged_total",
            "Matches merged into an existing alert.",
            "counter",
            &d.merged,
        ),
        (
            "kasbah_alerts_suppressed_total",
            "Alert drafts dropped by a suppression.",
            "counter",
            &d.suppressed,
        ),
        (
            "kasbah_correlation_alerts_total",
            "Correlation rules fired.",
            "counter",
            &d.correlations,
        ),
        (
            "kasbah_correlation_late_total",
            "Correlation inputs that arrived beyond the lateness bound.",
            "counter",
            &d.late,
        ),
        (
            "kasbah_alerts_failed_total",
            "Alert drafts lost because the alert database failed.",
            "counter",
            &d.failed,
        ),
    ];
    for (name, help, kind, v) in rows {
        line(out, name, help, kind, l(v));
    }
}

/// Appends the anomaly counters.
pub fn render_anomaly(out: &mut String, a: &crate::anomaly::AnomalyMetrics) {
    let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
    line(
        out,
        "kasbah_anomaly_learned_events_total",
        "Text events the anomaly models learned from.",
        "counter",
        l(&a.learned),
    );
    line(
        out,
        "kasbah_anomaly_checked_events_total",
        "Text events the anomaly models checked.",
        "counter",
        l(&a.checked),
    );
    line(
        out,
        "kasbah_anomaly_drafts_total",
        "Anomaly alert drafts raised (before suppression and deduplication).",
        "counter",
        l(&a.drafts),
    );
}

/// Renders every counter in the Prometheus text format.
pub fn render(m: &ServerMetrics, s: &StoreMetrics) -> String {
    let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let mut out = String::with_capacity(4096);
    per_input(
        &mut out,
        "kasbah_ingest_events_total",
        "Events accepted (durably logged).",
        &m.events,
    );
    per_input(
        &mut out,
        "kasbah_ingest_bytes_total",
        "Bytes received.",
        &m.bytes,
    );
    per_input(
        &mut out,
        "kasbah_parse_errors_total",
        "Records that could not be parsed.",
        &m.parse_errors,
    );
    per_input(
        &mut out,
        "kasbah_rejected_overload_events_total",
        "Events refused with retry-later because the store was overloaded.",
        &m.rejected_overload,
    );
    per_input(
        &mut out,
        "kasbah_rejected_too_large_total",
        "Messages or request bodies refused for size.",
        &m.rejected_too_large,
    );
    line(
        &mut out,
        "kasbah_udp_dropped_total",
        "UDP messages that could not be stored.",
        "counter",
        l(&m.udp_dropped),
    );
    line(
        &mut out,
        "kasbah_auth_failures_total",
        "Requests refused for missing or invalid credentials.",
        "counter",
        l(&m.auth_failures),
    );
    line(
        &mut out,
        "kasbah_syslog_connections",
        "Open syslog TCP/TLS connections.",
        "gauge",
        l(&m.syslog_connections),
    );
    line(
        &mut out,
        "kasbah_connections_refused_total",
        "Connections refused at the limit.",
        "counter",
        l(&m.connections_refused),
    );
    line(
        &mut out,
        "kasbah_searches_total",
        "Searches run.",
        "counter",
        l(&m.searches),
    );
    line(
        &mut out,
        "kasbah_search_seconds_total",
        "Time spent searching.",
        "counter",
        0,
    );
    out.truncate(out.len() - 2);
    let _ = writeln!(out, "{}", l(&m.search_nanos) as f64 / 1e9);
    line(
        &mut out,
        "kasbah_wal_logged_events_total",
        "Events written to the write-ahead log.",
        "counter",
        l(&s.logged_events),
    );
    line(
        &mut out,
        "kasbah_wal_syncs_total",
        "Group commits (fsync) of the write-ahead log.",
        "counter",
        l(&s.wal_syncs),
    );
    line(
        &mut out,
        "kasbah_wal_bytes",
        "Bytes in the write-ahead log.",
        "gauge",
        l(&s.wal_bytes),
    );
    line(
        &mut out,
        "kasbah_inflight_bytes",
        "Bytes accepted but not yet committed to the index (WAL depth).",
        "gauge",
        l(&s.inflight_bytes),
    );
    line(
        &mut out,
        "kasbah_indexed_events_total",
        "Events added to the index.",
        "counter",
        l(&s.indexed_events),
    );
    line(
        &mut out,
        "kasbah_committed_events_total",
        "Events committed in the index.",
        "counter",
        l(&s.committed_events),
    );
    line(
        &mut out,
        "kasbah_store_rejected_overload_events_total",
        "Events the store refused as overloaded.",
        "counter",
        l(&s.rejected_overload),
    );
    line(
        &mut out,
        "kasbah_bad_documents_total",
        "Stored events that could not be indexed.",
        "counter",
        l(&s.bad_documents),
    );
    line(
        &mut out,
        "kasbah_index_errors_total",
        "Failed index operations.",
        "counter",
        l(&s.index_errors),
    );
    line(
        &mut out,
        "kasbah_held_events",
        "Logged events not indexed yet because their tenant or partition could not be opened; kept in the write-ahead log and retried at every commit.",
        "gauge",
        l(&s.held_events),
    );
    line(
        &mut out,
        "kasbah_retention_dropped_events_total",
        "Events deleted by retention.",
        "counter",
        l(&s.dropped_by_retention),
    );
    line(
        &mut out,
        "kasbah_replayed_events",
        "Events replayed from the write-ahead log at start.",
        "gauge",
        l(&s.replayed_events),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = ServerMetrics::default();
        m.events.add(Input::SyslogUdp, 3);
        m.search_nanos.store(1_500_000_000, Ordering::Relaxed);
        let s = StoreMetrics::default();
        let text = render(&m, &s);
        assert!(
            text.contains("kasbah_ingest_events_total{input=\"syslog_udp\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("kasbah_search_seconds_total 1.5\n"), "{text}");
        assert!(text.contains("# TYPE kasbah_inflight_bytes gauge\nkasbah_inflight_bytes 0\n"));
    }
}
