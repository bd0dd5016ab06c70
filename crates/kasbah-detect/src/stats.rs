//! Rule hit statistics and the alert budget: how often each rule fires per tenant, over the last
//! hour and in total, and which entity values drive it, so noisy rules can be found and tuned.
//!
//! Rates use wall-clock minutes (the analyst's queue fills in wall time, whatever the events'
//! own times). The top values are kept with the space-saving algorithm: a fixed number of
//! counters, the smallest replaced when a new value arrives, so memory stays bounded whatever
//! the cardinality; counts are upper bounds, exact for values that stayed in the table.

use kasbah_event::{Entity, TenantId};
use rustc_hash::FxHashMap;

/// Minutes in the rate window.
const MINUTES: usize = 60;
/// Values tracked per rule.
const TOP_SLOTS: usize = 32;

/// Counters of one rule in one tenant.
#[derive(Clone, Debug)]
struct Counter {
    total: u64,
    alerts: u64,
    /// Hits per minute, ring indexed by minute number.
    minutes: [u64; MINUTES],
    /// The minute each ring slot holds.
    stamps: [i64; MINUTES],
    top: Vec<(Entity, u64)>,
    last_hit: i64,
}

impl Default for Counter {
    fn default() -> Self {
        Counter {
            total: 0,
            alerts: 0,
            minutes: [0; MINUTES],
            stamps: [i64::MIN; MINUTES],
            top: Vec::new(),
            last_hit: 0,
        }
    }
}

impl Counter {
    fn add(&mut self, minute: i64, hits: u64) {
        let slot = minute.rem_euclid(MINUTES as i64) as usize;
        if let (Some(m), Some(s)) = (self.minutes.get_mut(slot), self.stamps.get_mut(slot)) {
            if *s != minute {
                *s = minute;
                *m = 0;
            }
            *m += hits;
        }
    }

    fn last_hour(&self, minute: i64) -> u64 {
        self.minutes
            .iter()
            .zip(self.stamps.iter())
            .filter(|(_, s)| **s > minute - MINUTES as i64 && **s <= minute)
            .map(|(m, _)| *m)
            .sum()
    }

    fn see(&mut self, e: &Entity, n: u64) {
        if let Some(slot) = self.top.iter_mut().find(|(v, _)| v == e) {
            slot.1 += n;
        } else if self.top.len() < TOP_SLOTS {
            self.top.push((e.clone(), n));
        } else if let Some(min) = self.top.iter_mut().min_by_key(|(_, c)| *c) {
            // Space-saving: the newcomer inherits the smallest count.
            *min = (e.clone(), min.1 + n);
        }
    }
}

/// What the API reports for one rule.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleReport {
    /// The rule.
    pub rule_id: String,
    /// Matches since the server started.
    pub hits: u64,
    /// Alerts created (not merged) since the server started.
    pub alerts: u64,
    /// Matches in the last 60 minutes.
    pub last_hour: u64,
    /// Over the alert budget.
    pub noisy: bool,
    /// The entity values seen most, with their (upper-bound) counts.
    pub top: Vec<(Entity, u64)>,
    /// Wall time of the last match, ns.
    pub last_hit: i64,
}

/// Hit counters of every rule of every tenant.
#[derive(Debug, Default)]
pub struct RuleStats {
    rules: FxHashMap<(TenantId, String), Counter>,
}

fn minute_of(now_ns: i64) -> i64 {
    now_ns.div_euclid(60_000_000_000)
}

impl RuleStats {
    /// Empty counters.
    pub fn new() -> Self {
        RuleStats::default()
    }

    /// Records `hits` matches of a rule about `entities` (at wall time `now_ns`), of which
    /// `created` were new alerts.
    pub fn record(
        &mut self,
        tenant: TenantId,
        rule_id: &str,
        entities: &[Entity],
        hits: u64,
        created: bool,
        now_ns: i64,
    ) {
        let c = self.rules.entry((tenant, rule_id.to_owned())).or_default();
        c.total += hits;
        c.alerts += u64::from(created);
        c.last_hit = now_ns;
        c.add(minute_of(now_ns), hits);
        for e in entities {
            c.see(e, hits);
        }
    }

    /// The tenant's rules that fired, busiest last hour first; `budget` is the number of matches
    /// per hour beyond which a rule is flagged noisy (0: never).
    pub fn report(&self, tenant: TenantId, budget: u64, now_ns: i64) -> Vec<RuleReport> {
        let minute = minute_of(now_ns);
        let mut out: Vec<RuleReport> = self
            .rules
            .iter()
            .filter(|((t, _), _)| *t == tenant)
            .map(|((_, id), c)| {
                let last_hour = c.last_hour(minute);
                let mut top = c.top.clone();
                top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                top.truncate(10);
                RuleReport {
                    rule_id: id.clone(),
                    hits: c.total,
                    alerts: c.alerts,
                    last_hour,
                    noisy: budget > 0 && last_hour > budget,
                    top,
                    last_hit: c.last_hit,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.last_hour
                .cmp(&a.last_hour)
                .then_with(|| a.rule_id.cmp(&b.rule_id))
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kasbah_event::EntityKind;

    const MIN: i64 = 60_000_000_000;

    #[test]
    fn rates_budget_and_top_values() {
        let mut s = RuleStats::new();
        let t = TenantId(1);
        let noisy_host = Entity::new(EntityKind::Host, "build-01");
        for i in 0..50 {
            s.record(
                t,
                "r1",
                std::slice::from_ref(&noisy_host),
                10,
                i == 0,
                10 * MIN,
            );
        }
        s.record(
            t,
            "r1",
            &[Entity::new(EntityKind::Host, "ws-7")],
            1,
            false,
            10 * MIN,
        );
        s.record(t, "r2", &[], 3, true, 10 * MIN);
        s.record(TenantId(2), "r1", &[], 99, true, 10 * MIN);
        let rep = s.report(t, 100, 10 * MIN);
        assert_eq!(rep.len(), 2, "only the tenant's rules");
        assert_eq!(rep[0].rule_id, "r1");
        assert_eq!(rep[0].hits, 501);
        assert_eq!(rep[0].alerts, 1);
        assert!(rep[0].noisy);
        assert_eq!(rep[0].top[0], (noisy_host, 500));
        assert!(!rep[1].noisy);
        // An hour later the rate has decayed, the totals stay.
        let later = s.report(t, 100, 71 * MIN);
        assert_eq!(
            later
                .iter()
                .find(|r| r.rule_id == "r1")
                .map(|r| r.last_hour),
            Some(0)
        );
        assert_eq!(
            later.iter().find(|r| r.rule_id == "r1").map(|r| r.hits),
            Some(501)
        );
    }

    #[test]
    fn top_values_stay_bounded() {
        let mut s = RuleStats::new();
        let t = TenantId(1);
        for i in 0..10_000 {
            s.record(
                t,
                "r",
                &[Entity::new(
                    EntityKind::Ip,
                    format!("10.0.{}.{}", i / 256, i % 256),
                )],
                1,
                false,
                0,
            );
        }
        s.record(
            t,
            "r",
            &[Entity::new(EntityKind::Ip, "1.2.3.4")],
            5_000,
            false,
            0,
        );
        let rep = s.report(t, 0, 0);
        assert_eq!(rep[0].top.len(), 10);
        assert_eq!(
            rep[0].top[0].0.value, "1.2.3.4",
            "a heavy hitter is always found"
        );
        assert!(!rep[0].noisy, "budget 0 never flags");
    }
}
