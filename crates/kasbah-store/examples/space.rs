//! Where a partition's bytes go: `cargo run --release -p kasbah-store --example space -- DIR...`
//! prints tantivy's space usage per component and field, and for the JSON field of keyword terms
//! the number of distinct terms and postings per field path (the largest first). A diagnostic
//! for storage work, not part of the product.

use std::collections::HashMap;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for dir in std::env::args().skip(1) {
        let index = tantivy::Index::open_in_dir(&dir)?;
        let searcher = index.reader()?.searcher();
        let docs = searcher.num_docs().max(1) as f64;
        let usage = searcher.space_usage()?;
        println!(
            "{dir}: {} documents, {:.1} bytes/event",
            docs,
            usage.total().get_bytes() as f64 / docs
        );
        let mut per: HashMap<String, [u64; 5]> = HashMap::new();
        let mut store = 0;
        for seg in usage.segments() {
            store += seg.store().total().get_bytes();
            for (k, part) in [
                seg.termdict(),
                seg.postings(),
                seg.positions(),
                seg.fast_fields(),
                seg.fieldnorms(),
            ]
            .into_iter()
            .enumerate()
            {
                for f in part.fields() {
                    per.entry(f.field_name().to_string()).or_default()[k] += f.total().get_bytes();
                }
            }
        }
        println!("  store {:.1} B/event", store as f64 / docs);
        let mut rows: Vec<_> = per.into_iter().collect();
        rows.sort_by_key(|(_, v)| std::cmp::Reverse(v.iter().sum::<u64>()));
        println!(
            "  {:<8} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "field", "terms", "postings", "positions", "fast", "norms"
        );
        for (name, v) in rows {
            let b = v.map(|x| x as f64 / docs);
            println!(
                "  {name:<8} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
                b[0], b[1], b[2], b[3], b[4]
            );
        }
        // Keyword terms per JSON path.
        let schema = index.schema();
        for name in ["f", "s1", "text"] {
            let Ok(field) = schema.get_field(name) else {
                continue;
            };
            let mut paths: HashMap<Vec<u8>, (u64, u64, u64)> = HashMap::new();
            for seg in searcher.segment_readers() {
                let inv = seg.inverted_index(field)?;
                let mut stream = inv.terms().stream()?;
                while stream.advance() {
                    let key = stream.key();
                    let path = if name == "text" {
                        b"(words)".to_vec()
                    } else {
                        key.iter()
                            .position(|&b| b == 0)
                            .map_or(key.to_vec(), |i| key[..i].to_vec())
                    };
                    let e = paths.entry(path).or_default();
                    e.0 += 1;
                    e.1 += u64::from(stream.value().doc_freq);
                    e.2 += key.len() as u64;
                }
            }
            let mut rows: Vec<_> = paths.into_iter().collect();
            rows.sort_by_key(|(_, v)| std::cmp::Reverse(v.0));
            println!(
                "  {name}: paths by distinct terms (terms/event, postings/event, key bytes/event)"
            );
            for (p, (t, d, kb)) in rows.iter().take(25) {
                let p = String::from_utf8_lossy(p).replace('\u{1}', ".");
                println!(
                    "    {p:<40} {:>8.3} {:>8.3} {:>8.2}",
                    *t as f64 / docs,
                    *d as f64 / docs,
                    *kb as f64 / docs
                );
            }
        }
    }
    Ok(())
}
