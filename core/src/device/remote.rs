//! What a device keeps about its server: where it is, its device token, the
//! cursor in the server's change sequence, which documents have local
//! changes the server has not acknowledged yet ("dirty"), the heads the
//! server last acknowledged, and the documents whose changes it refused.
//! Everything lives in the store's meta entries, written atomically with
//! the documents they describe.

use std::path::Path;

use automerge::sync::{self, SyncDoc};
use automerge::{ActorId, ChangeHash};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{singleton_key, Device, Identity, META_IDENTITY};
use crate::doc::CrmDoc;
use crate::error::{CoreError, Result, StoreError, ValidationError};
use crate::ids::{DocId, DocKind};
use crate::index::DocRows;
use crate::model::Catalog;
use crate::store::{Batch, Durability, SledStore, Store};

const META_REMOTE: &str = "sync/remote";
const META_CURSOR: &str = "sync/cursor";
const META_LAST_ACK: &str = "sync/last_ack";

pub(crate) fn dirty_key(doc: DocId) -> String {
    format!("sync/dirty/{doc}")
}
pub(crate) fn rejected_key(doc: DocId) -> String {
    format!("sync/rejected/{doc}")
}
fn acked_key(doc: DocId) -> String {
    format!("sync/acked/{doc}")
}
fn sync_state_key(doc: DocId) -> String {
    format!("sync/state/{doc}")
}

/// The server this store syncs with, and the device's credentials there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Remote {
    pub url: String,
    pub device: Uuid,
    pub token: String,
}

/// What `carnet status` and the apps' sync indicator show.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SyncState {
    pub server: Option<String>,
    pub user: String,
    /// Documents with local changes not yet acknowledged by the server.
    pub pending: Vec<DocId>,
    /// Unix seconds of the last acknowledgement received.
    pub last_ack: Option<i64>,
    pub cursor: u64,
    /// Documents whose changes the server refused, with its reason. They
    /// stay on the device until the user fixes (edits) or reverts them.
    pub rejected: Vec<(DocId, String)>,
}

fn corrupt(key: &str, e: impl ToString) -> CoreError {
    StoreError::Corrupt {
        key: key.to_string(),
        reason: e.to_string(),
    }
    .into()
}

fn encode_heads(heads: &[ChangeHash]) -> Vec<u8> {
    heads.iter().flat_map(|h| h.0).collect()
}

fn decode_heads(bytes: &[u8]) -> Vec<ChangeHash> {
    bytes
        .chunks_exact(32)
        .filter_map(|c| ChangeHash::try_from(c).ok())
        .collect()
}

fn doc_of_key(key: &str, prefix: &str) -> Option<DocId> {
    key.strip_prefix(prefix)?.parse().ok()
}

impl Device<SledStore> {
    /// Creates an empty store bound to a server account: documents,
    /// including settings and catalog, arrive with the first sync.
    pub fn init_remote(
        dir: &Path,
        user: &str,
        tenant: Uuid,
        remote: Remote,
    ) -> Result<Device<SledStore>> {
        let store = SledStore::open(dir)?;
        if store.meta(META_IDENTITY)?.is_some() {
            return Err(CoreError::AlreadyInitialised);
        }
        let identity = Identity {
            user: user.to_string(),
            name: None,
            device: remote.device,
            actor: ActorId::random().to_hex_string(),
            tenant,
        };
        let mut b = Batch::new();
        b.put_meta(
            META_IDENTITY,
            serde_json::to_vec(&identity).map_err(|e| ValidationError::Rule(e.to_string()))?,
        );
        b.put_meta(
            META_REMOTE,
            serde_json::to_vec(&remote).map_err(|e| ValidationError::Rule(e.to_string()))?,
        );
        store.write(b, Durability::Flushed)?;
        Device::open_store(store)
    }
}

impl<S: Store> Device<S> {
    pub fn remote(&self) -> Result<Option<Remote>> {
        match self.store.meta(META_REMOTE)? {
            Some(b) => Ok(Some(
                serde_json::from_slice(&b).map_err(|e| corrupt(META_REMOTE, e))?,
            )),
            None => Ok(None),
        }
    }

    pub fn cursor(&self) -> Result<u64> {
        Ok(self
            .store
            .meta(META_CURSOR)?
            .and_then(|b| b.try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(0))
    }

    pub fn set_cursor(&self, cursor: u64) -> Result<()> {
        let mut b = Batch::new();
        b.put_meta(META_CURSOR, cursor.to_be_bytes().to_vec());
        Ok(self.store.write(b, self.durability)?)
    }

    /// Records the singleton document ids announced by the server.
    pub fn set_singletons(&mut self, singletons: &[(DocKind, DocId)]) -> Result<()> {
        let mut b = Batch::new();
        for (kind, id) in singletons {
            b.put_meta(singleton_key(*kind), id.0.as_bytes().to_vec());
        }
        self.store.write(b, Durability::Flushed)?;
        self.refresh_singletons_lenient()
    }

    /// Like `refresh_singletons`, but a singleton not received yet is fine.
    pub(crate) fn refresh_singletons_lenient(&mut self) -> Result<()> {
        match self.refresh_singletons() {
            Err(CoreError::DocNotFound(_)) => Ok(()),
            other => other,
        }
    }

    fn scan_docs(&self, prefix: &str) -> Result<Vec<(DocId, Vec<u8>)>> {
        Ok(self
            .store
            .meta_scan(prefix, None, usize::MAX)?
            .into_iter()
            .filter_map(|(k, v)| doc_of_key(&k, prefix).map(|d| (d, v)))
            .collect())
    }

    /// Documents with local changes the server has not acknowledged.
    pub fn dirty_docs(&self) -> Result<Vec<DocId>> {
        Ok(self
            .scan_docs("sync/dirty/")?
            .into_iter()
            .map(|(d, _)| d)
            .collect())
    }

    /// The token of the document's latest unacknowledged local edit.
    pub fn dirty_token(&self, doc: DocId) -> Result<Option<Vec<u8>>> {
        Ok(self.store.meta(&dirty_key(doc))?)
    }

    /// Records an ack that covers the device's state as of `token`: the
    /// document stops being pending unless it was edited since.
    pub fn record_ack_for(
        &mut self,
        doc: DocId,
        heads: &[ChangeHash],
        token: Option<&[u8]>,
        now: i64,
    ) -> Result<bool> {
        let current = self.dirty_token(doc)?;
        let covered = current.as_deref() == token || current.is_none();
        self.write_ack(doc, heads, now, covered && current.is_some())?;
        Ok(covered)
    }

    /// What an `Up` frame says about a document: its heads, and the changes
    /// after the server's last ack (the stored bytes when there was none).
    pub fn up_doc(&self, doc: DocId, dirty: bool) -> Result<crate::sync::UpDoc> {
        let stored = self.store.load(doc)?.ok_or(CoreError::DocNotFound(doc))?;
        let mut d = CrmDoc::load(doc, &stored.bytes)?;
        let heads = d.heads();
        let changes = if !dirty {
            Vec::new()
        } else {
            let acked = self.acked_heads(doc)?;
            if acked.is_empty() {
                // Never acknowledged: the document as stored, already compact.
                stored.bytes
            } else {
                let known = {
                    let am = d.automerge();
                    acked.iter().all(|h| am.get_change_by_hash(h).is_some())
                };
                if known {
                    d.changes_since(&acked)
                } else {
                    stored.bytes
                }
            }
        };
        Ok(crate::sync::UpDoc {
            doc,
            heads: heads.iter().map(|h| h.0).collect(),
            changes,
        })
    }

    pub fn rejected(&self) -> Result<Vec<(DocId, String)>> {
        Ok(self
            .scan_docs("sync/rejected/")?
            .into_iter()
            .map(|(d, r)| (d, String::from_utf8_lossy(&r).into_owned()))
            .collect())
    }

    pub fn is_rejected(&self, doc: DocId) -> Result<bool> {
        Ok(self.store.meta(&rejected_key(doc))?.is_some())
    }

    pub fn set_rejected(&self, doc: DocId, reason: &str) -> Result<()> {
        let mut b = Batch::new();
        b.put_meta(rejected_key(doc), reason.as_bytes().to_vec());
        Ok(self.store.write(b, self.durability)?)
    }

    /// Throws away a refused document's local copy (with the refused
    /// changes); the next sync fetches the server's copy. `false` when the
    /// document had no refused changes (nothing is done then).
    pub fn revert(&mut self, doc: DocId) -> Result<bool> {
        if !self.is_rejected(doc)? {
            return Ok(false);
        }
        self.drop_doc(doc)?;
        // A full catch-up brings the server's copy back.
        self.set_cursor(0)?;
        Ok(true)
    }

    pub fn acked_heads(&self, doc: DocId) -> Result<Vec<ChangeHash>> {
        Ok(self
            .store
            .meta(&acked_key(doc))?
            .map(|b| decode_heads(&b))
            .unwrap_or_default())
    }

    /// Records heads the server has durably stored. Returns true when that
    /// covers every local change of the document (it is no longer pending).
    pub fn record_ack(&mut self, doc: DocId, heads: &[ChangeHash], now: i64) -> Result<bool> {
        let covered = match self.load(doc) {
            Ok(mut d) => {
                let am = d.automerge();
                heads.iter().all(|h| am.get_change_by_hash(h).is_some())
                    && am.get_changes(heads).is_empty()
            }
            Err(CoreError::DocNotFound(_)) => true,
            Err(e) => return Err(e),
        };
        self.write_ack(doc, heads, now, covered)?;
        Ok(covered)
    }

    /// Stores acked heads and the ack time; `clear` ends the pending state.
    fn write_ack(&self, doc: DocId, heads: &[ChangeHash], now: i64, clear: bool) -> Result<()> {
        let mut b = Batch::new();
        b.put_meta(acked_key(doc), encode_heads(heads));
        b.put_meta(META_LAST_ACK, now.to_be_bytes().to_vec());
        if clear {
            b.delete_meta(dirty_key(doc));
        }
        Ok(self.store.write(b, self.durability)?)
    }

    pub fn sync_state(&self) -> Result<SyncState> {
        Ok(SyncState {
            server: self.remote()?.map(|r| r.url),
            user: self.identity().user.clone(),
            pending: self.dirty_docs()?,
            last_ack: self
                .store
                .meta(META_LAST_ACK)?
                .and_then(|b| b.try_into().ok().map(i64::from_be_bytes)),
            cursor: self.cursor()?,
            rejected: self.rejected()?,
        })
    }

    pub fn has_doc(&self, doc: DocId) -> bool {
        self.index.get(doc).is_some()
    }

    /// Removes a document the user lost access to (or reverts a rejected
    /// one, to fetch the server's copy again).
    pub fn drop_doc(&mut self, doc: DocId) -> Result<()> {
        let mut b = Batch::new();
        b.delete_doc(doc)
            .delete_meta(dirty_key(doc))
            .delete_meta(rejected_key(doc))
            .delete_meta(acked_key(doc))
            .delete_meta(sync_state_key(doc));
        self.store.write(b, self.durability)?;
        self.index.remove(doc);
        Ok(())
    }

    /// The Automerge sync state kept from the last exchange with the server
    /// (the heads both sides had), so the next exchange only summarises
    /// what changed since.
    pub fn saved_sync_state(&self, doc: DocId) -> sync::State {
        self.store
            .meta(&sync_state_key(doc))
            .ok()
            .flatten()
            .and_then(|b| sync::State::decode(&b).ok())
            .unwrap_or_default()
    }

    pub fn save_sync_state(&self, doc: DocId, state: &sync::State) -> Result<()> {
        let mut b = Batch::new();
        b.put_meta(sync_state_key(doc), state.encode());
        Ok(self.store.write(b, self.durability)?)
    }

    /// Runs `f` with writes buffered, then flushes once: a frame from the
    /// server touching hundreds of documents costs one fsync, not hundreds.
    /// Nothing here is a user's edit, and the cursor is written last, so a
    /// crash loses at most what the next sync fetches again.
    pub fn batched<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let previous = self.durability;
        self.durability = Durability::Buffered;
        let out = f(self);
        self.durability = previous;
        self.store.flush()?;
        out
    }

    /// The next Automerge sync message for `doc`, if any.
    pub fn sync_generate(&self, doc: DocId, state: &mut sync::State) -> Result<Option<Vec<u8>>> {
        let mut d = self.load(doc)?;
        let msg = d
            .automerge()
            .sync()
            .generate_sync_message(state)
            .map(|m| m.encode());
        Ok(msg)
    }

    /// Applies a sync message from the server, persisting what it brought.
    pub fn sync_receive(&mut self, doc: DocId, state: &mut sync::State, msg: &[u8]) -> Result<()> {
        let message = crate::sync::message::decode(msg).map_err(|e| CoreError::CorruptDoc {
            doc,
            reason: e.to_string(),
        })?;
        let (mut d, chunks) = match self.store.load(doc)? {
            Some(stored) => (CrmDoc::load(doc, &stored.bytes)?, stored.chunks),
            None => return Err(CoreError::DocNotFound(doc)),
        };
        let before = d.heads();
        d.automerge()
            .sync()
            .receive_sync_message(state, message)
            .map_err(|e| CoreError::CorruptDoc {
                doc,
                reason: e.to_string(),
            })?;
        // The server might have sent something that is not this document.
        if let Err(reason) = d.check_identity().and_then(|()| d.check_shape()) {
            return Err(CoreError::CorruptDoc { doc, reason });
        }
        self.persist(&mut d, &before, chunks, Batch::new(), false)
    }

    /// Applies changes pushed live for a document this device has. Returns
    /// false when they depend on changes the device lacks (nothing is
    /// stored then; the caller syncs the document instead).
    pub fn merge_live(&mut self, doc: DocId, bytes: &[u8]) -> Result<bool> {
        let Some(stored) = self.store.load(doc)? else {
            return Ok(false);
        };
        let mut d = CrmDoc::load(doc, &stored.bytes)?;
        let before = d.heads();
        d.merge_bytes(bytes)?;
        if !d.automerge().get_missing_deps(&[]).is_empty() {
            return Ok(false);
        }
        self.persist(&mut d, &before, stored.chunks, Batch::new(), false)?;
        Ok(true)
    }

    /// Rebuilds the catalog and settings after a sync brought them.
    pub fn refresh(&mut self) -> Result<()> {
        self.refresh_singletons_lenient()?;
        if self.singleton(DocKind::Catalog)?.is_none() {
            self.catalog = Catalog::default();
        }
        Ok(())
    }

    /// Index rows of a document, recomputed (used by tests and the server).
    pub fn rows_of(&self, doc: DocId) -> Result<DocRows> {
        DocRows::of(&mut self.load(doc)?)
    }
}
