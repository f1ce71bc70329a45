//! How a document is saved, in one place for every writer (the device's
//! store and the server's tenant): an edit is one Automerge change or
//! nothing (`edit`), a save is a snapshot or a chunk of new changes with
//! the document's index rows (`DocWrite`), and the index is read back from
//! the stored rows, rebuilding those an older version wrote (`load_index`).

use automerge::ChangeHash;

use crate::doc::{CrmDoc, Writer};
use crate::error::Result;
use crate::ids::DocId;
use crate::index::{DocRows, Index};
use crate::store::{Batch, Durability, Store, COMPACT_AFTER_CHUNKS};

/// Runs `f` on `doc` as one change authored by `writer`: committed when it
/// succeeds, rolled back (nothing written to the document) when it fails.
pub fn edit<T, E>(
    doc: &mut CrmDoc,
    writer: &Writer,
    f: impl FnOnce(&mut CrmDoc) -> std::result::Result<T, E>,
) -> std::result::Result<T, E> {
    doc.begin(writer);
    match f(doc) {
        Ok(v) => {
            doc.commit(writer);
            Ok(v)
        }
        Err(e) => {
            doc.rollback();
            Err(e)
        }
    }
}

/// One document's new state, ready for a store batch.
pub struct DocWrite {
    pub doc: DocId,
    /// The whole document (it was new, or had enough chunks to compact)
    /// rather than the changes after the previous save.
    pub snapshot: bool,
    pub bytes: Vec<u8>,
    pub rows: DocRows,
}

impl DocWrite {
    /// Plans saving `doc`, whose stored copy has `chunks` chunks and
    /// `before` heads (empty for a document not stored yet). `rows` are its
    /// index rows when the caller computed them already.
    pub fn plan(
        doc: &mut CrmDoc,
        before: &[ChangeHash],
        chunks: usize,
        rows: Option<DocRows>,
    ) -> Result<DocWrite> {
        let rows = match rows {
            Some(r) => r,
            None => DocRows::of(doc)?,
        };
        let snapshot = before.is_empty() || chunks + 1 >= COMPACT_AFTER_CHUNKS;
        let bytes = if snapshot {
            doc.save()
        } else {
            doc.changes_since(before)
        };
        Ok(DocWrite {
            doc: doc.id(),
            snapshot,
            bytes,
            rows,
        })
    }

    /// A document received whole from a peer, kept as received (already
    /// compact) rather than encoded again.
    pub fn received(doc: &mut CrmDoc, bytes: Vec<u8>) -> Result<DocWrite> {
        Ok(DocWrite {
            doc: doc.id(),
            snapshot: true,
            rows: DocRows::of(doc)?,
            bytes,
        })
    }

    /// How many chunks the stored copy has once this write is applied.
    pub fn chunks_after(&self, chunks: usize) -> usize {
        if self.snapshot {
            0
        } else {
            chunks + 1
        }
    }

    /// Adds the document's bytes and rows to `batch`.
    pub fn add_to(&self, batch: &mut Batch) {
        if self.snapshot {
            batch.snapshot(self.doc, self.bytes.clone());
        } else {
            batch.append(self.doc, self.bytes.clone());
        }
        batch.sidecar(self.doc, self.rows.encode());
    }
}

/// The index of every document in `store`, from the rows stored beside
/// them; rows an older version encoded differently are rebuilt from their
/// document and stored again.
pub fn load_index(store: &impl Store) -> Result<Index> {
    let mut index = Index::new();
    let mut stale = Vec::new();
    for (doc, bytes) in store.sidecars()? {
        match DocRows::decode(&bytes) {
            Some(rows) => index.put(doc, rows),
            None => stale.push(doc),
        }
    }
    for id in stale {
        let stored = store
            .load(id)?
            .ok_or(crate::error::CoreError::DocNotFound(id))?;
        let mut doc = CrmDoc::load(id, &stored.bytes)?;
        let rows = DocRows::of(&mut doc)?;
        let mut batch = Batch::new();
        batch.sidecar(id, rows.encode());
        store.write(batch, Durability::Flushed)?;
        index.put(id, rows);
    }
    Ok(index)
}
