//! `kasbah anomalies learn|score`: per-entity anomaly detection over raw log lines.
//!
//! Each line is split into an entity and a message: the entity is the first match of
//! `--entity` (a regex; its first capture group if it has one), else the host of a syslog
//! header, else the file name; the message is the text after a syslog header, else the line.
//! Messages are mined into templates, and each entity's sequence of templates is one session
//! of the anomaly model (`kasbah_ml::anomaly::Model`). `learn` adds the sessions to the state
//! file (created if missing); `score` prints the entities whose session deviates, with the
//! reasons spelled out in templates.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use kasbah_ml::anomaly::{Model, ModelConfig, Reason, Score};
use kasbah_ml::{Miner, MinerConfig, MinerState, TemplateId};
use regex::Regex;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::templates::for_each_line;

/// Subcommands of `kasbah anomalies`.
#[derive(Subcommand, Debug)]
pub enum AnomaliesCmd {
    /// Learn normal behaviour from log files into the state file.
    Learn(CommonArgs),
    /// Score log files against the learned state; print anomalous entities with reasons.
    Score(ScoreArgs),
}

/// Arguments shared by `learn` and `score`.
#[derive(Args, Debug)]
pub struct CommonArgs {
    /// Log files, one record per line (`-` for standard input).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// State file (templates and model); `learn` creates or extends it.
    #[arg(long, default_value = "kasbah-anomalies.json")]
    pub state: PathBuf,
    /// Regex whose first match (or first capture group) in a line names its entity, e.g.
    /// `blk_-?\d+` for HDFS blocks. Without it: the syslog host, else the file name. Saved in
    /// the state by `learn` and reused by `score`.
    #[arg(long)]
    pub entity: Option<String>,
    /// Cut each entity's events into sessions of this many events (0: all of an entity's
    /// events in the input are one session, right for blocks, requests, jobs). Use it for
    /// long-lived entities such as hosts, so that the model learns from many sessions. Saved
    /// in the state by `learn` and reused by `score`.
    #[arg(long)]
    pub window: Option<usize>,
}

/// Output formats of `kasbah anomalies score`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScoreFormat {
    /// One block per anomalous entity with its reasons.
    Table,
    /// One JSON object per anomalous entity.
    Jsonl,
}

/// Arguments of `kasbah anomalies score`.
#[derive(Args, Debug)]
pub struct ScoreArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ScoreFormat::Table)]
    pub format: ScoreFormat,
    /// Report entities whose score reaches this value (a new template, an unexpected
    /// transition or unseen counts weigh 1.0, an unusual count 0.8, a rare template 0.6, an
    /// unexpected transition in a session of known counts 0.34).
    #[arg(long, default_value_t = 1.0)]
    pub threshold: f64,
    /// Print all entities, also normal ones.
    #[arg(long)]
    pub all: bool,
}

/// What `learn` saves and `score` reads.
#[derive(Serialize, Deserialize)]
struct State {
    version: u32,
    entity: Option<String>,
    #[serde(default)]
    window: usize,
    miner: MinerState,
    model: Model,
}

const STATE_VERSION: u32 = 1;
/// Events kept per entity and entities per run: bounded memory on any input.
const MAX_EVENTS_PER_ENTITY: usize = 100_000;
const MAX_ENTITIES: usize = 1_000_000;

/// Splits a line into (entity, message).
struct Splitter {
    re: Option<Regex>,
}

impl Splitter {
    fn new(pattern: Option<&str>) -> anyhow::Result<Self> {
        let re = pattern
            .map(|p| Regex::new(p).with_context(|| format!("invalid --entity regex {p:?}")))
            .transpose()?;
        Ok(Splitter { re })
    }

    fn split<'a>(&self, line: &'a str, file: &'a str) -> (String, &'a str) {
        let (host, msg) = match syslog_header(line) {
            Some((h, m)) => (Some(h), m),
            None => (None, line),
        };
        if let Some(re) = &self.re
            && let Some(c) = re.captures(line)
            && let Some(m) = c.get(1).or_else(|| c.get(0))
        {
            return (m.as_str().to_owned(), msg);
        }
        (host.unwrap_or(file).to_owned(), msg)
    }
}

/// Recognises a BSD syslog header `Mmm dd hh:mm:ss host tag: message` and returns the host and
/// the message. Anything else is not a header.
fn syslog_header(line: &str) -> Option<(&str, &str)> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut it = line.splitn(5, ' ').filter(|s| !s.is_empty());
    let month = it.next()?;
    if !MONTHS.contains(&month) {
        return None;
    }
    // The day may be space-padded ("Jan  5"): re-split after the month.
    let rest = line.get(3..)?.trim_start();
    let (day, rest) = rest.split_once(' ')?;
    let (time, rest) = rest.split_once(' ')?;
    if !day.bytes().all(|c| c.is_ascii_digit())
        || time.len() != 8
        || time.as_bytes().get(2) != Some(&b':')
    {
        return None;
    }
    let (host, rest) = rest.split_once(' ')?;
    let msg = match rest.split_once(": ") {
        Some((tag, m)) if !tag.contains(' ') => m,
        _ => rest,
    };
    Some((host, msg))
}

/// Mines every line of the files and returns each entity's template sequence.
fn sequences(
    files: &[PathBuf],
    splitter: &Splitter,
    miner: &mut Miner,
    learn_templates: bool,
) -> anyhow::Result<Vec<(String, Vec<TemplateId>)>> {
    let mut index: FxHashMap<String, usize> = FxHashMap::default();
    let mut seqs: Vec<(String, Vec<TemplateId>)> = Vec::new();
    let mut stdin_buf = None;
    for f in files {
        let name = f.display().to_string();
        for_each_line(f, &mut stdin_buf, |_, line| {
            if line.trim().is_empty() {
                return Ok(());
            }
            let (entity, msg) = splitter.split(line, &name);
            let id = if learn_templates {
                miner.mine(msg).id
            } else {
                // Scoring must not bend known templates to fit new messages; a message like
                // no known template gets a new one, which the model has never seen.
                match miner.lookup(msg) {
                    Some(r) => r.id,
                    None => miner.mine(msg).id,
                }
            };
            let i = match index.get(&entity) {
                Some(&i) => i,
                None if seqs.len() < MAX_ENTITIES => {
                    index.insert(entity.clone(), seqs.len());
                    seqs.push((entity, Vec::new()));
                    seqs.len() - 1
                }
                None => return Ok(()),
            };
            if let Some((_, s)) = seqs.get_mut(i)
                && s.len() < MAX_EVENTS_PER_ENTITY
            {
                s.push(id);
            }
            Ok(())
        })?;
    }
    Ok(seqs)
}

fn read_state(path: &Path) -> anyhow::Result<State> {
    let s = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read state {} (run `kasbah anomalies learn` first)",
            path.display()
        )
    })?;
    let st: State =
        serde_json::from_str(&s).with_context(|| format!("invalid state {}", path.display()))?;
    if st.version != STATE_VERSION {
        anyhow::bail!(
            "state {} has version {}, expected {STATE_VERSION}",
            path.display(),
            st.version
        );
    }
    Ok(st)
}

/// An entity's sessions: windows of `window` events, or the whole sequence when 0.
fn sessions_of(seq: &[TemplateId], window: usize) -> Vec<&[TemplateId]> {
    if window == 0 || seq.is_empty() {
        return vec![seq];
    }
    seq.chunks(window).collect()
}

/// Scores each of the entity's sessions; the entity's score is the highest, its reasons those
/// of every session that reached a non-zero score (each once).
fn score_entity(model: &Model, seq: &[TemplateId], window: usize) -> Score {
    let mut out = Score::default();
    for s in sessions_of(seq, window) {
        let sc = model.score_session(s);
        out.score = out.score.max(sc.score);
        for (r, w) in sc.reasons.into_iter().zip(sc.weights) {
            if !out.reasons.contains(&r) {
                out.reasons.push(r);
                out.weights.push(w);
            }
        }
    }
    out
}

/// Runs `kasbah anomalies`.
pub fn run(cmd: AnomaliesCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        AnomaliesCmd::Learn(a) => learn(a),
        AnomaliesCmd::Score(a) => score(a),
    }
}

fn learn(a: CommonArgs) -> anyhow::Result<ExitCode> {
    let (mut miner, mut model, entity, window) = if a.state.exists() {
        let st = read_state(&a.state)?;
        (
            Miner::from_state(st.miner)?,
            st.model,
            a.entity.or(st.entity),
            a.window.unwrap_or(st.window),
        )
    } else {
        (
            Miner::new(MinerConfig::default())?,
            Model::new(ModelConfig::default())?,
            a.entity,
            a.window.unwrap_or(0),
        )
    };
    let splitter = Splitter::new(entity.as_deref())?;
    let seqs = sequences(&a.files, &splitter, &mut miner, true)?;
    // Template ids of the first pass may have been refined by later lines: re-map each
    // message to its template in the final state before learning sequences.
    let seqs = {
        let mut remined = sequences(&a.files, &splitter, &mut miner, false)?;
        if remined.len() != seqs.len() {
            remined = seqs;
        }
        remined
    };
    for (_, s) in &seqs {
        for chunk in sessions_of(s, window) {
            model.learn_session(chunk);
        }
    }
    let st = State {
        version: STATE_VERSION,
        entity,
        window,
        miner: miner.state(),
        model,
    };
    let json = serde_json::to_string(&st)?;
    std::fs::write(&a.state, json)
        .with_context(|| format!("cannot write {}", a.state.display()))?;
    eprintln!(
        "learned {} entities ({} events), {} templates, {} sessions in the model; state in {}",
        seqs.len(),
        seqs.iter().map(|(_, s)| s.len()).sum::<usize>(),
        miner.templates().len(),
        st.model.sessions(),
        a.state.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct EntityOut<'a> {
    entity: &'a str,
    score: f64,
    anomalous: bool,
    events: usize,
    reasons: Vec<ReasonOut>,
}

#[derive(Serialize)]
struct ReasonOut {
    #[serde(flatten)]
    reason: Reason,
    weight: f64,
    explanation: String,
}

/// The reason in words, templates named by id and text.
fn describe(miner: &Miner, r: &Reason) -> String {
    r.explain(&|id| miner.template(id).map(|t| t.text()))
}

fn score(a: ScoreArgs) -> anyhow::Result<ExitCode> {
    let st = read_state(&a.common.state)?;
    let mut miner = Miner::from_state(st.miner)?;
    let splitter = Splitter::new(a.common.entity.as_deref().or(st.entity.as_deref()))?;
    let seqs = sequences(&a.common.files, &splitter, &mut miner, false)?;
    let window = a.common.window.unwrap_or(st.window);
    let mut scored: Vec<(&str, usize, Score)> = seqs
        .iter()
        .map(|(e, s)| (e.as_str(), s.len(), score_entity(&st.model, s, window)))
        .collect();
    scored.sort_by(|x, y| y.2.score.total_cmp(&x.2.score).then(x.0.cmp(y.0)));
    let out = std::io::stdout();
    let mut out = BufWriter::new(out.lock());
    let mut flagged = 0usize;
    for (entity, events, s) in &scored {
        let anomalous = s.is_anomalous(a.threshold);
        flagged += usize::from(anomalous);
        if !anomalous && !a.all {
            continue;
        }
        match a.format {
            ScoreFormat::Jsonl => {
                let o = EntityOut {
                    entity,
                    score: s.score,
                    anomalous,
                    events: *events,
                    reasons: s
                        .reasons
                        .iter()
                        .zip(&s.weights)
                        .map(|(r, w)| ReasonOut {
                            reason: r.clone(),
                            weight: *w,
                            explanation: describe(&miner, r),
                        })
                        .collect(),
                };
                serde_json::to_writer(&mut out, &o)?;
                writeln!(out)?;
            }
            ScoreFormat::Table => {
                writeln!(out, "{entity}  score {:.1}  events {events}", s.score)?;
                for (r, w) in s.reasons.iter().zip(&s.weights) {
                    writeln!(out, "    [{w:.1}] {}", describe(&miner, r))?;
                }
            }
        }
    }
    if a.format == ScoreFormat::Table {
        writeln!(
            out,
            "{flagged} of {} entities anomalous (threshold {})",
            scored.len(),
            a.threshold
        )?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_syslog_and_regex_entities() {
        assert_eq!(
            syslog_header("Jan  5 10:00:00 web1 sshd[12]: Accepted password for bob"),
            Some(("web1", "Accepted password for bob"))
        );
        assert_eq!(syslog_header("081109 203615 148 INFO x: y"), None);
        let s = Splitter::new(Some(r"blk_-?\d+")).expect("valid");
        let (e, m) = s.split("081109 203615 INFO Receiving block blk_-12 src", "f");
        assert_eq!(e, "blk_-12");
        assert_eq!(m, "081109 203615 INFO Receiving block blk_-12 src");
        let plain = Splitter::new(None).expect("valid");
        assert_eq!(plain.split("no header here", "file.log").0, "file.log");
        assert!(Splitter::new(Some("(")).is_err());
    }
}
