//! Mines the lines of stdin and prints `template_id<TAB>template` per line (benchmark helper).
use std::io::{BufRead, Write};

fn main() -> std::io::Result<()> {
    let mut m = kasbah_ml::Miner::default();
    let stdin = std::io::stdin();
    let mut ids = Vec::new();
    for line in stdin.lock().lines() {
        let line = line?;
        ids.push(m.mine(&line).id);
    }
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    for id in ids {
        let t = m.template(id).map(|t| t.text()).unwrap_or_default();
        writeln!(out, "{id}\t{t}")?;
    }
    Ok(())
}
