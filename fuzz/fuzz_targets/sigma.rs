//! Fuzz target: Sigma rule text (the first part of the input) must load, compile and match
//! events built from the rest of the input without panicking or hanging.
#![no_main]

use std::sync::{Arc, OnceLock};

use kasbah_event::{Event, Source, Timestamp};
use kasbah_sigma::{Config, Correlator, Engine, RuleSet, Scratch};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (rules, events) = text.split_once("\n%%\n").unwrap_or((&text, "Image=C:\\x\\cmd.exe"));
    let mut set = RuleSet::new();
    set.add("fuzz.yml", rules);
    // The default mappings are parsed once, not per input.
    static CONFIG: OnceLock<Config> = OnceLock::new();
    let engine = Engine::build(&set, CONFIG.get_or_init(Config::default));
    let mut correlator = Correlator::new(&engine);
    let mut scratch = Scratch::new();
    let mut alerts = Vec::new();
    for (i, line) in events.lines().enumerate() {
        let mut ev = Event::new(
            Timestamp::from_nanos(i as i64 * 1_000_000_000),
            Source::Input { name: Arc::from("fuzz") },
        );
        for pair in line.split('\t') {
            if let Some((k, v)) = pair.split_once('=') {
                ev.fields.set_name(k, kasbah_event::Value::infer(v));
            }
        }
        let mut hits = Vec::new();
        engine.matches(&ev, &mut scratch, &mut hits);
        correlator.observe(&ev, &hits, &mut alerts);
    }
    correlator.finish(&mut alerts);
});
