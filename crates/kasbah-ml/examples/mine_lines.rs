//! Mines the lines of stdin and prints `template_id<TAB>template` per line (benchmark helper).
//! Two passes, as `kasbah templates` does: learn from all lines, then report each line's
//! template in the final state.
use std::io::{BufRead, Write};

fn main() -> std::io::Result<()> {
    let mut m = kasbah_ml::Miner::default();
    let lines: Vec<String> = std::io::stdin().lock().lines().collect::<Result<_, _>>()?;
    for l in &lines {
        m.mine(l);
    }
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    for l in &lines {
        match m.lookup(l) {
            Some(r) => {
                let t = m.template(r.id).map(|t| t.text()).unwrap_or_default();
                writeln!(out, "{}\t{t}", r.id)?;
            }
            None => writeln!(out, "0\t{l}")?,
        }
    }
    Ok(())
}
