//! Anomaly-detection floor on HDFS (the DeepLog splits of `../shared/hdfs`): learn from the
//! normal training sessions, score the balanced validation set, and require precision, recall
//! and F1 a little below the figures recorded in bench/RESULTS.md (0.997 / 1.000 / 0.999), so
//! that a regression of the model fails. Skips when the data is absent.

use std::path::{Path, PathBuf};

use kasbah_ml::TemplateId;
use kasbah_ml::anomaly::{Model, ModelConfig};

fn shared() -> PathBuf {
    std::env::var_os("KASBAH_SHARED").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
        PathBuf::from,
    )
}

fn seq(s: &str) -> Vec<TemplateId> {
    s.split_whitespace()
        .filter_map(|t| t.parse().ok())
        .map(TemplateId)
        .collect()
}

#[test]
fn hdfs_validation_f1_stays_above_its_floor() {
    let dir = shared().join("hdfs");
    let (Ok(train), Ok(valid)) = (
        std::fs::read_to_string(dir.join("deeplog/hdfs_train")),
        std::fs::read_to_string(dir.join("logdeep/robust_log_valid.csv")),
    ) else {
        eprintln!("SKIPPED: {} not found (set KASBAH_SHARED)", dir.display());
        return;
    };
    let mut m = Model::new(ModelConfig::default()).expect("default config");
    for l in train.lines() {
        m.learn_session(&seq(l));
    }
    assert!(m.sessions() > 4000, "{} sessions", m.sessions());
    let (mut tp, mut fp, mut fn_, mut tn) = (0u32, 0u32, 0u32, 0u32);
    for l in valid.lines().skip(1) {
        let Some((s, label)) = l.rsplit_once(',') else {
            continue;
        };
        let flagged = m.score_session(&seq(s)).is_anomalous(1.0);
        match (label.trim() == "1", flagged) {
            (true, true) => tp += 1,
            (true, false) => fn_ += 1,
            (false, true) => fp += 1,
            (false, false) => tn += 1,
        }
    }
    assert_eq!(tp + fn_, 1000, "anomalous sessions of the validation set");
    assert_eq!(fp + tn, 1000, "normal sessions of the validation set");
    let p = f64::from(tp) / f64::from((tp + fp).max(1));
    let r = f64::from(tp) / f64::from(tp + fn_);
    let f1 = 2.0 * p * r / (p + r);
    eprintln!("HDFS valid: TP {tp} FN {fn_} FP {fp} TN {tn}; P {p:.3} R {r:.3} F1 {f1:.3}");
    assert!(p >= 0.99, "precision {p:.3}");
    assert!(r >= 0.99, "recall {r:.3}");
    assert!(f1 >= 0.99, "F1 {f1:.3}");
}
