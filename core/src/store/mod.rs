//! Durable storage of documents. A document is a compacted snapshot plus
//! incremental chunks appended by each edit or merge; past a threshold the
//! owner compacts it back into one snapshot. Beside each document the store
//! keeps an opaque sidecar (the index rows of `crate::index`), written in the
//! same atomic batch, so the index can never disagree with the data after a
//! crash. This module knows nothing about Automerge or the CRM.

mod sled_store;

pub use sled_store::SledStore;

use crate::error::StoreError;
use crate::ids::DocId;

/// Compact a document once it has this many chunks.
pub const COMPACT_AFTER_CHUNKS: usize = 32;

/// A document as stored: snapshot and chunks concatenated, ready for
/// `automerge::AutoCommit::load`.
pub struct Stored {
    pub bytes: Vec<u8>,
    pub chunks: usize,
}

/// Writes applied atomically: all of them or none.
#[derive(Default)]
pub struct Batch {
    pub(crate) appends: Vec<(DocId, Vec<u8>)>,
    pub(crate) snapshots: Vec<(DocId, Vec<u8>)>,
    pub(crate) sidecars: Vec<(DocId, Vec<u8>)>,
    pub(crate) meta: Vec<(String, Option<Vec<u8>>)>,
    pub(crate) deletes: Vec<DocId>,
}

impl Batch {
    pub fn new() -> Self {
        Self::default()
    }
    /// Appends a chunk of changes to a document.
    pub fn append(&mut self, doc: DocId, bytes: Vec<u8>) -> &mut Self {
        if !bytes.is_empty() {
            self.appends.push((doc, bytes));
        }
        self
    }
    /// Replaces a document's snapshot and drops its chunks.
    pub fn snapshot(&mut self, doc: DocId, bytes: Vec<u8>) -> &mut Self {
        self.snapshots.push((doc, bytes));
        self
    }
    pub fn sidecar(&mut self, doc: DocId, bytes: Vec<u8>) -> &mut Self {
        self.sidecars.push((doc, bytes));
        self
    }
    pub fn put_meta(&mut self, key: impl Into<String>, value: Vec<u8>) -> &mut Self {
        self.meta.push((key.into(), Some(value)));
        self
    }
    pub fn delete_meta(&mut self, key: impl Into<String>) -> &mut Self {
        self.meta.push((key.into(), None));
        self
    }
    /// Removes a document, its chunks and its sidecar.
    pub fn delete_doc(&mut self, doc: DocId) -> &mut Self {
        self.deletes.push(doc);
        self
    }
    /// Adds every write of `other` after this batch's own.
    pub fn extend(&mut self, other: Batch) -> &mut Self {
        self.appends.extend(other.appends);
        self.snapshots.extend(other.snapshots);
        self.sidecars.extend(other.sidecars);
        self.meta.extend(other.meta);
        self.deletes.extend(other.deletes);
        self
    }
    pub fn is_empty(&self) -> bool {
        self.deletes.is_empty()
            && self.appends.is_empty()
            && self.snapshots.is_empty()
            && self.sidecars.is_empty()
            && self.meta.is_empty()
    }
}

/// Durability of a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// On disk when `write` returns: survives a kill -9 or a power cut.
    Flushed,
    /// Buffered; call `flush` before telling anyone it is saved.
    Buffered,
}

pub trait Store: Send + Sync {
    fn load(&self, doc: DocId) -> Result<Option<Stored>, StoreError>;
    fn write(&self, batch: Batch, durability: Durability) -> Result<(), StoreError>;
    fn flush(&self) -> Result<(), StoreError>;
    fn doc_ids(&self) -> Result<Vec<DocId>, StoreError>;
    /// Every (document, sidecar) pair.
    fn sidecars(&self) -> Result<Vec<(DocId, Vec<u8>)>, StoreError>;
    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Meta entries whose key starts with `prefix` and sorts after `after`
    /// (all of them when `None`), in key order, at most `limit`.
    fn meta_scan(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError>;
    fn size_on_disk(&self) -> Result<u64, StoreError>;
    /// Rewrites the store so that no overwritten or deleted value stays on
    /// disk (after erasing a person); bytes on disk before and after.
    /// Stores that keep nothing old (in memory) have nothing to do.
    fn compact(&self) -> Result<(u64, u64), StoreError> {
        let size = self.size_on_disk()?;
        Ok((size, size))
    }
    /// Where the files beside the store live (library blobs), if the
    /// store is on disk.
    fn blob_dir(&self) -> Option<std::path::PathBuf> {
        None
    }
}
