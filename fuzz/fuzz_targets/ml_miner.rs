//! Template miner and saved-state reader over arbitrary bytes: every line is mined (small
//! bounds so eviction runs), parameters must be pieces of their message, and the state must
//! survive a round trip; arbitrary bytes as a saved state must be refused, not panic.
#![no_main]

use kasbah_ml::anomaly::Model;
use kasbah_ml::{Miner, MinerConfig, MinerState};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let cfg = MinerConfig {
        max_templates: 16,
        max_words: 12,
        ..MinerConfig::default()
    };
    let Ok(mut m) = Miner::new(cfg) else { return };
    for line in text.lines() {
        let r = m.mine(line);
        for p in &r.params {
            assert!(line.contains(p));
        }
        assert!(m.len() <= 16);
    }
    if let Ok(json) = m.state().to_json() {
        let st = MinerState::from_json(&json).expect("own state parses");
        let back = Miner::from_state(st).expect("own state restores");
        assert_eq!(back.templates(), m.templates());
    }
    let _ = MinerState::from_json(&text).and_then(Miner::from_state);
    let _ = Model::from_json(&text);
});
