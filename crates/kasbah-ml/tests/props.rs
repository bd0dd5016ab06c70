//! Property tests: the miner takes any input without panicking, keeps its invariants, and its
//! state survives a round trip.

use kasbah_ml::{Miner, MinerConfig, MinerState, WILDCARD};
use proptest::prelude::*;

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,6}( [a-z0-9=:,./\\-]{1,8}){0,8}",
        any::<String>(),
        "[ -~]{0,40}",
    ]
}

proptest! {
    #[test]
    fn mining_is_total_and_consistent(lines in proptest::collection::vec(line(), 1..40)) {
        let cfg = MinerConfig { max_templates: 8, max_words: 6, ..MinerConfig::default() };
        let mut m = Miner::new(cfg).expect("valid config");
        for l in &lines {
            let r = m.mine(l);
            let t = m.template(r.id).expect("the template of the last message is kept");
            // Each parameter is a piece of the message.
            for p in &r.params {
                prop_assert!(l.contains(p));
            }
            prop_assert!(t.words.len() <= 6);
            prop_assert!(r.params.len() >= t.words.iter().filter(|w| w.contains(WILDCARD)).count());
            prop_assert!(m.len() <= 8);
        }
        let st = MinerState::from_json(&m.state().to_json().expect("json")).expect("parses");
        let back = Miner::from_state(st).expect("restores");
        prop_assert_eq!(back.templates(), m.templates());
    }
}
