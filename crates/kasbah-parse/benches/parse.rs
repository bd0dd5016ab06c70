//! Parser micro-benchmarks (to be completed).
fn main() {}
