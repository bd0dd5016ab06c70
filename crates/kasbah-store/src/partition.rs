//! A partition: one tantivy index holding a tenant's events for a stretch of ingestion, with the
//! time range of the events it holds.
//!
//! Partitions roll over by size and age, so old data can be dropped whole (retention) and
//! searches skip partitions whose time range misses the query's. The partition's state (LSN of the
//! last batch it holds, event-time range, document count) is the payload of its tantivy commit, so
//! index contents and checkpoint are always committed together: this is what makes replay after a
//! crash exactly-once.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tantivy::directory::MmapDirectory;
use tantivy::store::{Compressor, ZstdCompressor};
use tantivy::{Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy, Searcher};

use crate::error::{Result, StoreError};
use crate::schema::{self, Fields};
use crate::shape::Shapes;

/// What a partition's last commit says about it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PartitionMeta {
    /// LSN of the last batch the partition holds (or, when empty, the log position it started at).
    pub lsn: u64,
    /// Earliest event time held, UTC ns (`i64::MAX` when empty).
    pub min_ts: i64,
    /// Latest event time held, UTC ns (`i64::MIN` when empty).
    pub max_ts: i64,
    /// Documents held.
    pub docs: u64,
    /// Creation time (wall clock, UTC ns): partitions roll over by age.
    pub created: i64,
    /// Sealed partitions receive no more events.
    pub sealed: bool,
}

impl PartitionMeta {
    fn empty(lsn: u64, created: i64) -> Self {
        PartitionMeta {
            lsn,
            min_ts: i64::MAX,
            max_ts: i64::MIN,
            docs: 0,
            created,
            sealed: false,
        }
    }

    /// Whether the partition may hold events in `[from, to]`.
    pub fn overlaps(&self, from: Option<i64>, to: Option<i64>) -> bool {
        self.docs > 0
            && from.is_none_or(|f| self.max_ts >= f)
            && to.is_none_or(|t| self.min_ts <= t)
    }
}

/// One open partition.
pub struct Partition {
    /// Partition number within its tenant (increasing with creation).
    pub id: u32,
    /// Its directory.
    pub dir: PathBuf,
    /// The tantivy index.
    pub index: Index,
    /// Field handles.
    pub fields: Fields,
    /// Key sequences of its stored documents (see [`crate::shape`]).
    pub shapes: Arc<Shapes>,
    reader: IndexReader,
}

/// Directory name of partition `id`.
pub fn dir_name(id: u32) -> String {
    format!("p{id:08}")
}

/// Partition number of a directory name.
pub fn parse_dir_name(name: &str) -> Option<u32> {
    name.strip_prefix('p')?.parse().ok()
}

/// Documents per store block are compressed together: 512 KiB blocks at zstd level 5 store a
/// syslog mix in about a quarter less space than 64 KiB at level 3 (bench/RESULTS.md), for
/// slightly more CPU when a segment is written (merges copy blocks without recompressing). A
/// document read decompresses its whole block, about half a millisecond. Level 6 (partitions
/// created since 2026-12-07) stores the documents in 5% less space than level 5 once repeated
/// values are references, for a compression time within the benchmark's noise.
const DOCSTORE_BLOCK_BYTES: usize = 512 * 1024;
const DOCSTORE_ZSTD_LEVEL: i32 = 6;
/// Decompressed store blocks a searcher keeps per segment (tantivy's default, 100, would be
/// 50 MiB per segment with these blocks).
pub const DOCSTORE_CACHE_BLOCKS: usize = 4;

fn settings() -> IndexSettings {
    IndexSettings {
        docstore_compression: Compressor::Zstd(ZstdCompressor {
            compression_level: Some(DOCSTORE_ZSTD_LEVEL),
        }),
        docstore_blocksize: DOCSTORE_BLOCK_BYTES,
        ..IndexSettings::default()
    }
}

impl Partition {
    /// Creates an empty partition durably and returns it with its writer.
    pub fn create(
        parent: &Path,
        id: u32,
        base_lsn: u64,
        created: i64,
        heap_bytes: usize,
        threads: usize,
    ) -> Result<(Partition, IndexWriter)> {
        let (schema, _) = schema::schema();
        Self::create_with(parent, id, base_lsn, created, heap_bytes, threads, schema)
    }

    /// [`Partition::create`] with a given schema (tests write partitions of older layouts).
    pub(crate) fn create_with(
        parent: &Path,
        id: u32,
        base_lsn: u64,
        created: i64,
        heap_bytes: usize,
        threads: usize,
        schema: tantivy::schema::Schema,
    ) -> Result<(Partition, IndexWriter)> {
        let dir = parent.join(dir_name(id));
        let tmp = parent.join(format!("{}.tmp", dir_name(id)));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp).map_err(StoreError::io(&tmp))?;
        {
            let mmap = MmapDirectory::open(&tmp).map_err(|e| StoreError::Index(e.into()))?;
            let index = Index::create(mmap, schema, settings())?;
            schema::register_tokenizers(&index);
            let mut writer: IndexWriter = index.writer_with_num_threads(1, 15_000_000)?;
            let mut prepared = writer.prepare_commit()?;
            prepared.set_payload(&payload(
                &PartitionMeta::empty(base_lsn, created),
                &Shapes::default(),
            ));
            prepared.commit()?;
            writer.wait_merging_threads()?;
        }
        fs::rename(&tmp, &dir).map_err(StoreError::io(&dir))?;
        fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(StoreError::io(parent))?;
        let part = Partition::open(&dir, id)?;
        let writer = part.writer(heap_bytes, threads)?;
        Ok((part, writer))
    }

    /// Opens an existing partition.
    pub fn open(dir: &Path, id: u32) -> Result<Partition> {
        let index = Index::open_in_dir(dir)?;
        schema::register_tokenizers(&index);
        let fields = schema::fields(&index.schema()).ok_or_else(|| {
            StoreError::Query(format!("{}: not a Kasbah partition", dir.display()))
        })?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .doc_store_cache_num_blocks(DOCSTORE_CACHE_BLOCKS)
            .try_into()?;
        let shapes = index
            .load_metas()?
            .payload
            .as_deref()
            .and_then(|p| serde_json::from_str::<ShapesPayload>(p).ok())
            .map(|p| p.shapes)
            .unwrap_or_default();
        Ok(Partition {
            id,
            dir: dir.to_path_buf(),
            index,
            fields,
            shapes: Arc::new(Shapes::new(shapes)),
            reader,
        })
    }

    /// A writer for this partition.
    pub fn writer(&self, heap_bytes: usize, threads: usize) -> Result<IndexWriter> {
        Ok(self
            .index
            .writer_with_num_threads(threads.max(1), heap_bytes.max(15_000_000))?)
    }

    /// The state recorded by the last commit.
    pub fn meta(&self) -> Result<PartitionMeta> {
        let metas = self.index.load_metas()?;
        Ok(metas
            .payload
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_else(|| PartitionMeta::empty(0, 0)))
    }

    /// Makes the last commit visible to new searchers.
    pub fn reload(&self) -> Result<()> {
        Ok(self.reader.reload()?)
    }

    /// A point-in-time searcher.
    pub fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }

    /// Bytes on disk.
    pub fn disk_bytes(&self) -> u64 {
        dir_size(&self.dir)
    }
}

/// The commit payload: the partition's state and, beside it, its shapes (committed together
/// with the documents that use them).
#[derive(Serialize)]
struct Payload<'a> {
    #[serde(flatten)]
    meta: &'a PartitionMeta,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    shapes: Vec<Vec<&'a str>>,
}

/// The shapes of a commit payload (absent before shapes existed).
#[derive(Deserialize)]
struct ShapesPayload {
    #[serde(default)]
    shapes: Vec<Vec<String>>,
}

/// Serialises partition state and shapes for a commit payload.
pub fn payload(meta: &PartitionMeta, shapes: &Shapes) -> String {
    let list = shapes.to_vec();
    let shapes = list
        .iter()
        .map(|keys| keys.iter().map(|k| &**k).collect())
        .collect();
    serde_json::to_string(&Payload { meta, shapes }).unwrap_or_default()
}

/// Total size of the files of a directory tree.
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(rd) = fs::read_dir(dir) else { return 0 };
    rd.filter_map(|e| e.ok())
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}
