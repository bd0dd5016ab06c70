//! Correlation on a live stream: events arrive out of order (several shippers, buffering,
//! replays), while Sigma correlation windows are defined in event time.
//!
//! A [`LiveCorrelator`] holds each capture in a reorder buffer until the watermark (the newest
//! event time seen minus the allowed lateness) passes it, then feeds the buffered captures to a
//! [`Correlator`] in event-time order. Events up to `lateness` behind the newest one therefore
//! correlate exactly as `kasbah hunt` would over the same events sorted. When no capture has
//! arrived for `lateness` of wall-clock time the buffer is flushed, so a quiet stream still
//! raises its alerts. Captures older than the watermark (later than the bound) are fed at once
//! and counted as late: they still count in open windows, but windows already evaluated are not
//! revisited.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use kasbah_sigma::{Capture, CorrelationAlert, Correlator, EngineRef};

/// A capture waiting in the reorder buffer, ordered by event time then arrival.
struct Pending {
    ts: i64,
    seq: u64,
    cap: Capture,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        (self.ts, self.seq) == (o.ts, o.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.ts, self.seq).cmp(&(o.ts, o.seq))
    }
}

/// Most captures held in the reorder buffer; beyond, the oldest are released early.
const MAX_PENDING: usize = 1_000_000;

/// The correlation state of one tenant on a live stream.
pub struct LiveCorrelator<'e> {
    correlator: Correlator<'e>,
    pending: BinaryHeap<Reverse<Pending>>,
    seq: u64,
    newest: i64,
    released: i64,
    lateness: i64,
    idle: Duration,
    last_input: Instant,
    late: u64,
}

impl<'e> LiveCorrelator<'e> {
    /// Empty state for `engine`'s correlations, with the allowed lateness.
    pub fn new(engine: impl Into<EngineRef<'e>>, lateness: Duration) -> Self {
        LiveCorrelator {
            correlator: Correlator::new(engine),
            pending: BinaryHeap::new(),
            seq: 0,
            newest: i64::MIN,
            released: i64::MIN,
            lateness: i64::try_from(lateness.as_nanos()).unwrap_or(i64::MAX),
            idle: lateness,
            last_input: Instant::now(),
            late: 0,
        }
    }

    /// Captures that arrived after the watermark had passed them.
    pub fn late(&self) -> u64 {
        self.late
    }

    /// Captures waiting in the reorder buffer.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Adds captures; alerts whose windows complete go to `out`.
    pub fn push(
        &mut self,
        caps: impl IntoIterator<Item = Capture>,
        now: Instant,
        out: &mut Vec<CorrelationAlert>,
    ) {
        let mut any = false;
        for cap in caps {
            any = true;
            let ts = cap.ts;
            if ts < self.released {
                self.late += 1;
                self.correlator.feed(cap, out);
                continue;
            }
            self.newest = self.newest.max(ts);
            self.seq += 1;
            self.pending.push(Reverse(Pending {
                ts,
                seq: self.seq,
                cap,
            }));
        }
        if any {
            self.last_input = now;
        }
        let watermark = self.newest.saturating_sub(self.lateness);
        self.release(watermark, out);
        while self.pending.len() > MAX_PENDING {
            self.release_one(out);
        }
    }

    /// Flushes the buffer if the stream has been quiet for the lateness period.
    pub fn tick(&mut self, now: Instant, out: &mut Vec<CorrelationAlert>) {
        if !self.pending.is_empty() && now.duration_since(self.last_input) >= self.idle {
            self.release(i64::MAX, out);
        }
    }

    /// Releases everything buffered (shutdown, end of a retro-hunt) and closes open windows
    /// whose outcome is only known at their end.
    pub fn finish(&mut self, out: &mut Vec<CorrelationAlert>) {
        self.release(i64::MAX, out);
        self.correlator.finish(out);
    }

    /// Releases what is buffered without closing windows (state rebuilt after a restart).
    pub fn drain(&mut self, out: &mut Vec<CorrelationAlert>) {
        self.release(i64::MAX, out);
    }

    fn release(&mut self, watermark: i64, out: &mut Vec<CorrelationAlert>) {
        while self.pending.peek().is_some_and(|p| p.0.ts <= watermark) {
            self.release_one(out);
        }
    }

    fn release_one(&mut self, out: &mut Vec<CorrelationAlert>) {
        if let Some(Reverse(p)) = self.pending.pop() {
            self.released = self.released.max(p.ts);
            self.correlator.feed(p.cap, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kasbah_event::{Event, Source, Timestamp};
    use kasbah_sigma::{Config, Engine, Hit, RuleSet, Scratch};
    use std::sync::Arc;

    fn engine() -> Engine {
        let mut set = RuleSet::new();
        set.add(
            "r.yml",
            "title: Logon failure\nid: f-1\nlogsource: {product: windows, service: security}\ndetection:\n  sel:\n    EventID: 4625\n  condition: sel\n---\ntitle: Brute force\nid: bf-1\nlevel: high\ncorrelation:\n  type: event_count\n  rules: [f-1]\n  group-by: [IpAddress]\n  timespan: 10s\n  condition: {gte: 3}\n",
        );
        Engine::build(&set, &Config::default())
    }

    fn caps(e: &Engine, secs: i64, ip: &str) -> Vec<Capture> {
        let mut ev = Event::new(
            Timestamp::from_nanos(secs * 1_000_000_000),
            Source::Input {
                name: Arc::from("t"),
            },
        );
        ev.fields.set_name("Channel", "Security");
        ev.fields.set_name("EventID", 4625i64);
        ev.fields.set_name("IpAddress", ip);
        let mut hits: Vec<Hit> = Vec::new();
        e.matches(&ev, &mut Scratch::new(), &mut hits);
        let mut out = Vec::new();
        e.captures(&ev, &hits, &mut out);
        out
    }

    #[test]
    fn out_of_order_events_within_lateness_correlate() {
        let e = engine();
        let mut live = LiveCorrelator::new(&e, Duration::from_secs(30));
        let now = Instant::now();
        let mut out = Vec::new();
        // 100 s and 108 s, then 94 s and 105 s arriving late: sorted, 94 is too old for any
        // 10 s window of three, and 100, 105, 108 fire.
        live.push(caps(&e, 100, "10.0.0.9"), now, &mut out);
        live.push(caps(&e, 108, "10.0.0.9"), now, &mut out);
        live.push(caps(&e, 94, "10.0.0.9"), now, &mut out);
        live.push(caps(&e, 105, "10.0.0.9"), now, &mut out);
        assert!(out.is_empty(), "held until the watermark passes");
        assert_eq!(live.pending(), 4);
        live.push(caps(&e, 200, "10.0.0.1"), now, &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].first.as_nanos(), 100_000_000_000);
        assert_eq!(out[0].last.as_nanos(), 108_000_000_000);
        assert_eq!(live.late(), 0);
    }

    #[test]
    fn quiet_streams_flush_and_very_late_events_are_counted() {
        let e = engine();
        let mut live = LiveCorrelator::new(&e, Duration::from_millis(10));
        let start = Instant::now();
        let mut out = Vec::new();
        for s in [1, 2, 3] {
            live.push(caps(&e, s, "10.0.0.9"), start, &mut out);
        }
        // The lateness is 10 ms of event time: 1 and 2 are released as 3 arrives... and the
        // third only when the stream goes quiet.
        live.tick(start + Duration::from_millis(50), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(live.pending(), 0);
        live.push(caps(&e, 0, "10.0.0.9"), start, &mut out);
        assert_eq!(live.late(), 1);
    }

    #[test]
    fn sorted_feeding_matches_batch_correlation() {
        let e = engine();
        let times = [5, 1, 9, 3, 7, 2, 30, 31, 29, 50];
        let mut live = LiveCorrelator::new(&e, Duration::from_secs(60));
        let mut got = Vec::new();
        for t in times {
            live.push(caps(&e, t, "10.1.1.1"), Instant::now(), &mut got);
        }
        live.finish(&mut got);
        let mut all: Vec<Capture> = times
            .iter()
            .flat_map(|t| caps(&e, *t, "10.1.1.1"))
            .collect();
        all.sort_by_key(|c| c.ts);
        let mut batch = Correlator::new(&e);
        let mut want = Vec::new();
        for c in all {
            batch.feed(c, &mut want);
        }
        batch.finish(&mut want);
        assert_eq!(got, want);
        assert_eq!(got.len(), 3, "1-3, 5-9 and 29-31");
    }
}
