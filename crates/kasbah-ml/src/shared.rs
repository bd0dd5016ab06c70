//! A thread-safe miner for the ingest path: templates are partitioned into shards by the
//! same key that routes a message to its leaf (word count and first word), so a message only
//! ever locks one shard, shards never need to talk to each other, and the result is the same
//! as one [`Miner`] would give. Ids come from one atomic counter and are unique across shards.

use std::cell::RefCell;
use std::hash::{Hash, Hasher};
use std::sync::atomic::AtomicU32;
use std::sync::{Arc, Mutex, MutexGuard};

use rustc_hash::FxHasher;

use crate::Error;
use crate::mask::Tokens;
use crate::miner::{
    Group, IdSource, Mined, Miner, MinerConfig, MinerState, Template, TemplateId, group_key,
};

thread_local! {
    /// Tokenizing happens outside the shard lock, in per-thread scratch space.
    static SCRATCH: RefCell<Tokens> = RefCell::new(Tokens::new());
}

/// A miner that many threads can call at once (`&self`).
#[derive(Debug)]
pub struct SharedMiner {
    cfg: MinerConfig,
    shards: Box<[Mutex<Miner>]>,
    ids: Arc<AtomicU32>,
}

impl SharedMiner {
    /// A miner with `shards` independent locks (at least 1). `max_templates` is split evenly.
    pub fn new(cfg: MinerConfig, shards: usize) -> Result<Self, Error> {
        cfg.validate()?;
        Ok(Self::build(cfg, shards.max(1), 0))
    }

    fn build(cfg: MinerConfig, n: usize, last_id: u32) -> Self {
        let ids = Arc::new(AtomicU32::new(last_id));
        let per = MinerConfig {
            max_templates: (cfg.max_templates / n).max(1),
            ..cfg.clone()
        };
        let shards = (0..n)
            .map(|_| Mutex::new(Miner::with_ids(per.clone(), IdSource::Shared(ids.clone()))))
            .collect();
        SharedMiner { cfg, shards, ids }
    }

    fn shard_of(&self, t: &Tokens) -> usize {
        self.shard_of_key(crate::miner::leaf_key(t))
    }

    fn shard_of_key(&self, key: (u32, u64)) -> usize {
        let mut h = FxHasher::default();
        key.hash(&mut h);
        (h.finish() % self.shards.len() as u64) as usize
    }

    fn lock(&self, i: usize) -> Option<MutexGuard<'_, Miner>> {
        // A poisoned shard (a panic elsewhere while it was held) is still consistent: every
        // mutation is completed before anything that could panic.
        let m = self.shards.get(i)?;
        Some(m.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Mines one message; see [`Miner::mine`].
    pub fn mine<'a>(&self, msg: &'a str) -> Mined<'a> {
        SCRATCH.with(|cell| {
            let mut t = cell.take();
            t.fill(msg, &self.cfg.masks, self.cfg.max_words);
            let shard = self.shard_of(&t);
            let r = match self.lock(shard) {
                Some(mut m) => m.mine_tokens(msg, &t, true),
                None => Mined {
                    id: TemplateId(0),
                    params: Vec::new(),
                    change: crate::Change::Matched,
                },
            };
            cell.replace(t);
            r
        })
    }

    /// A copy of the template with this id, if it is still kept.
    pub fn template(&self, id: TemplateId) -> Option<Template> {
        (0..self.shards.len()).find_map(|i| self.lock(i)?.template(id))
    }

    /// Copies of all templates, in id order.
    pub fn templates(&self) -> Vec<Template> {
        let mut v: Vec<Template> = (0..self.shards.len())
            .filter_map(|i| self.lock(i))
            .flat_map(|m| m.templates())
            .collect();
        v.sort_by_key(|t| t.id);
        v
    }

    /// A snapshot of all shards, in the same format as [`Miner::state`].
    pub fn state(&self) -> MinerState {
        let mut tick = 0;
        let mut groups = Vec::new();
        for i in 0..self.shards.len() {
            if let Some(m) = self.lock(i) {
                tick += m.tick();
                groups.extend(m.state().groups);
            }
        }
        groups.sort_by_key(|g| g.id());
        MinerState {
            version: MinerState::VERSION,
            config: self.cfg.clone(),
            last_id: self.ids.load(std::sync::atomic::Ordering::Relaxed),
            tick,
            groups,
        }
    }

    /// Restores a snapshot (of a [`Miner`] or a [`SharedMiner`]) into `shards` shards.
    pub fn from_state(state: MinerState, shards: usize) -> Result<Self, Error> {
        state.check()?;
        let s = Self::build(state.config, shards.max(1), state.last_id);
        let mut per: Vec<Vec<Group>> = vec![Vec::new(); s.shards.len()];
        for g in state.groups {
            let i = s.shard_of_key(group_key(&g, &s.cfg));
            if let Some(v) = per.get_mut(i) {
                v.push(g);
            }
        }
        for (i, v) in per.into_iter().enumerate() {
            if let Some(mut m) = s.lock(i) {
                m.load_groups(v);
            }
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_agree_with_a_single_miner() {
        let lines: Vec<String> = (0..2000)
            .map(|i| match i % 4 {
                0 => format!(
                    "Accepted password for user{} from 10.0.0.{} port {}",
                    i % 7,
                    i % 250,
                    i
                ),
                1 => format!("Connection closed by 10.1.{}.{}", i % 200, i % 100),
                2 => format!("session opened for user u{} by (uid={})", i % 5, i),
                _ => format!("disk /dev/sd{} is {}% full", i % 3, i % 100),
            })
            .collect();
        let shared = SharedMiner::new(MinerConfig::default(), 4).expect("config");
        std::thread::scope(|s| {
            for chunk in lines.chunks(500) {
                let shared = &shared;
                s.spawn(move || {
                    for l in chunk {
                        shared.mine(l);
                    }
                });
            }
        });
        let mut single = Miner::default();
        for l in &lines {
            single.mine(l);
        }
        let mut a: Vec<String> = shared.templates().iter().map(Template::text).collect();
        let mut b: Vec<String> = single.templates().iter().map(Template::text).collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);
        let total: u64 = shared.templates().iter().map(|t| t.count).sum();
        assert_eq!(total, 2000);

        let restored = SharedMiner::from_state(shared.state(), 2).expect("restores");
        let r = restored.mine("Connection closed by 10.9.9.9");
        assert_eq!(
            restored.template(r.id).map(|t| t.text()).as_deref(),
            Some("Connection closed by <*>")
        );
    }
}
