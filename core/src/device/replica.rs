//! The device as a sync replica (`crate::sync::Replica`): where its server
//! is, its device token, the cursor in the server's change sequence, which
//! documents have local changes the server has not acknowledged yet
//! ("dirty"), the heads the server last acknowledged, and the documents
//! whose changes it refused. Everything lives in the store's meta entries,
//! written atomically with the documents they describe. Front-ends see
//! only `sync_status`, `revert` and the link (`init_remote`, `remote`).

use std::path::Path;

use automerge::sync::{self, SyncDoc};
use automerge::{ActorId, ChangeHash};
use uuid::Uuid;

use super::{singleton_key, Device, Identity, META_IDENTITY};
use crate::doc::CrmDoc;
use crate::error::{CoreError, Result, StoreError, ValidationError};
use crate::ids::{DocId, DocKind};
use crate::model::Catalog;
use crate::persist::DocWrite;
use crate::store::{Batch, Durability, SledStore, Store};
use crate::sync::{AckBasis, EditToken, Remote, Replica, SyncPhase, SyncStatus, UpDoc};

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
/// A replaced document's old copy and what to replay of it.
fn replay_key(doc: DocId) -> String {
    format!("sync/replay/{doc}")
}
/// Set while a store holds bytes of an erased person (a replaced copy):
/// cleared once the store is compacted.
const META_COMPACT_DUE: &str = "sync/compact-due";

/// What a device keeps of a replaced document until its new copy arrives.
#[derive(serde::Serialize, serde::Deserialize)]
struct Stash {
    /// The old copy, whole.
    bytes: Vec<u8>,
    /// What the server had of it (hex heads): edits after it are replayed.
    since: Vec<String>,
    erased: Vec<String>,
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

    /// Logs in to `server` and creates the device's store in `dir`, bound
    /// to it; the documents arrive with the first sync.
    #[cfg(feature = "transport")]
    pub async fn login(
        dir: &Path,
        server: &str,
        email: &str,
        password: &str,
        device_name: &str,
    ) -> std::result::Result<Device<SledStore>, crate::sync::SyncError> {
        let login = crate::sync::transport::login(server, email, password, device_name).await?;
        Ok(Device::init_remote(
            dir,
            &login.user,
            login.tenant,
            Remote {
                url: server.to_string(),
                device: login.device,
                token: login.token,
            },
        )?)
    }
}

impl<S: Store> Device<S> {
    fn scan_docs(&self, prefix: &str) -> Result<Vec<(DocId, Vec<u8>)>> {
        Ok(self
            .store
            .meta_scan(prefix, None, usize::MAX)?
            .into_iter()
            .filter_map(|(k, v)| doc_of_key(&k, prefix).map(|d| (d, v)))
            .collect())
    }

    /// Documents with local changes the server has not acknowledged.
    fn dirty_docs(&self) -> Result<Vec<DocId>> {
        Ok(self
            .scan_docs("sync/dirty/")?
            .into_iter()
            .map(|(d, _)| d)
            .collect())
    }

    /// The token of the document's latest unacknowledged local edit.
    fn dirty_token(&self, doc: DocId) -> Result<Option<EditToken>> {
        Ok(self.store.meta(&dirty_key(doc))?)
    }

    /// Documents whose changes the server refused, with its reason.
    pub fn rejected(&self) -> Result<Vec<(DocId, String)>> {
        Ok(self
            .scan_docs("sync/rejected/")?
            .into_iter()
            .map(|(d, r)| (d, String::from_utf8_lossy(&r).into_owned()))
            .collect())
    }

    fn is_rejected(&self, doc: DocId) -> Result<bool> {
        Ok(self.store.meta(&rejected_key(doc))?.is_some())
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

    fn acked_heads(&self, doc: DocId) -> Result<Vec<ChangeHash>> {
        Ok(self
            .store
            .meta(&acked_key(doc))?
            .map(|b| decode_heads(&b))
            .unwrap_or_default())
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

    /// Where this store stands with its server, as of the last session
    /// (`phase` is `Offline`: a running session reports its own).
    pub fn sync_status(&self) -> Result<SyncStatus> {
        Ok(SyncStatus {
            phase: SyncPhase::Offline,
            server: self.remote()?.map(|r| r.url),
            user: self.identity().user.clone(),
            pending: self.dirty_docs()?,
            last_ack: self
                .store
                .meta(META_LAST_ACK)?
                .and_then(|b| b.try_into().ok().map(i64::from_be_bytes)),
            cursor: self.cursor()?,
            rejected: self.rejected()?,
            last_error: None,
            background: false,
        })
    }

    /// Like `refresh_singletons`, but a singleton not received yet is fine;
    /// no catalog yet is an empty one.
    fn refresh_lenient(&mut self) -> Result<()> {
        match self.refresh_singletons() {
            Err(CoreError::DocNotFound(_)) => {}
            other => other?,
        }
        if self.singleton(DocKind::Catalog)?.is_none() {
            self.catalog = Catalog::default();
        }
        Ok(())
    }
}

/// Deletes a document and everything the sync keeps about it.
fn drop_batch(doc: DocId) -> Batch {
    let mut b = Batch::new();
    b.delete_doc(doc)
        .delete_meta(dirty_key(doc))
        .delete_meta(rejected_key(doc))
        .delete_meta(acked_key(doc))
        .delete_meta(sync_state_key(doc));
    b
}

impl<S: Store> Device<S> {
    /// Replays on a replaced document's new copy the edits kept aside
    /// when its old copy was dropped (`Replica::replace`), as one local
    /// edit of this device, then forgets the old copy. `doc` is the new
    /// copy as just stored whole (a snapshot: no chunk).
    fn replay_stashed(&mut self, doc: &mut CrmDoc) -> Result<()> {
        let id = doc.id();
        let Some(raw) = self.store.meta(&replay_key(id))? else {
            return Ok(());
        };
        let stash: Stash = postcard::from_bytes(&raw).map_err(|e| corrupt(&replay_key(id), e))?;
        let old = CrmDoc::load(id, &stash.bytes)?;
        let since: Vec<ChangeHash> = stash.since.iter().filter_map(|h| h.parse().ok()).collect();
        let before = doc.heads();
        let writer = self.writer();
        crate::persist::edit(doc, &writer, |d| {
            crate::erase::replay(d, &old, &since, &stash.erased)
        })?;
        let mut b = Batch::new();
        b.delete_meta(replay_key(id))
            .put_meta(META_COMPACT_DUE, Vec::new());
        if doc.heads() == before {
            self.store.write(b, Durability::Flushed)?;
            return Ok(());
        }
        self.save(doc, &before, 0, b, true)?;
        self.store.flush()?;
        Ok(())
    }

    /// Compacts the store once no replaced copy waits for its replay, so
    /// that nothing of an erased person stays in its files.
    pub fn compact_if_due(&mut self) -> Result<bool> {
        if self.store.meta(META_COMPACT_DUE)?.is_none()
            || !self.store.meta_scan("sync/replay/", None, 1)?.is_empty()
        {
            return Ok(false);
        }
        self.store.flush()?;
        self.store.compact()?;
        let mut b = Batch::new();
        b.delete_meta(META_COMPACT_DUE);
        self.store.write(b, Durability::Flushed)?;
        Ok(true)
    }
}

impl<S: Store> Replica for Device<S> {
    fn remote(&self) -> Result<Option<Remote>> {
        match self.store.meta(META_REMOTE)? {
            Some(b) => Ok(Some(
                serde_json::from_slice(&b).map_err(|e| corrupt(META_REMOTE, e))?,
            )),
            None => Ok(None),
        }
    }

    fn cursor(&self) -> Result<u64> {
        Ok(self
            .store
            .meta(META_CURSOR)?
            .and_then(|b| b.try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(0))
    }

    fn set_cursor(&mut self, cursor: u64) -> Result<()> {
        let mut b = Batch::new();
        b.put_meta(META_CURSOR, cursor.to_be_bytes().to_vec());
        Ok(self.store.write(b, self.durability)?)
    }

    fn set_singletons(&mut self, singletons: &[(DocKind, DocId)]) -> Result<()> {
        let mut b = Batch::new();
        for (kind, id) in singletons {
            b.put_meta(singleton_key(*kind), id.0.as_bytes().to_vec());
        }
        self.store.write(b, Durability::Flushed)?;
        self.refresh_lenient()
    }

    fn pending(&self) -> Result<Vec<DocId>> {
        let rejected: std::collections::HashSet<DocId> =
            self.rejected()?.into_iter().map(|(d, _)| d).collect();
        Ok(self
            .dirty_docs()?
            .into_iter()
            .filter(|d| !rejected.contains(d) && self.has(*d))
            .collect())
    }

    fn outgoing(&self, doc: DocId) -> Result<(UpDoc, Option<EditToken>)> {
        let token = self.dirty_token(doc)?;
        let dirty = token.is_some() && !self.is_rejected(doc)?;
        let stored = self.store.load(doc)?.ok_or(CoreError::DocNotFound(doc))?;
        let mut d = CrmDoc::load(doc, &stored.bytes)?;
        let heads = d.heads();
        let changes = if !dirty {
            Vec::new()
        } else {
            let acked = self.acked_heads(doc)?;
            let known = {
                let am = d.automerge();
                !acked.is_empty() && acked.iter().all(|h| am.get_change_by_hash(h).is_some())
            };
            if known {
                d.changes_since(&acked)
            } else {
                // Never acknowledged (or history the server reset): the
                // document as stored, already compact.
                stored.bytes
            }
        };
        let up = UpDoc {
            doc,
            heads: heads.iter().map(|h| h.0).collect(),
            changes,
        };
        Ok((up, token))
    }

    fn acknowledge(&mut self, doc: DocId, heads: &[ChangeHash], basis: AckBasis) -> Result<bool> {
        let now = chrono::Utc::now().timestamp();
        match basis {
            AckBasis::Sent(token) => {
                let current = self.dirty_token(doc)?;
                let covered = current.is_none() || current == token;
                self.write_ack(doc, heads, now, covered && current.is_some())?;
                Ok(covered)
            }
            AckBasis::Heads => {
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
        }
    }

    fn refuse(&mut self, doc: DocId, reason: &str) -> Result<()> {
        let mut b = Batch::new();
        b.put_meta(rejected_key(doc), reason.as_bytes().to_vec());
        Ok(self.store.write(b, self.durability)?)
    }

    fn has(&self, doc: DocId) -> bool {
        self.index.get(doc).is_some()
    }

    fn heads(&self, id: DocId) -> Result<Vec<ChangeHash>> {
        Ok(self.load(id)?.heads())
    }

    fn changes_since(&self, id: DocId, heads: &[ChangeHash]) -> Result<Vec<u8>> {
        Ok(self.load(id)?.changes_since(heads))
    }

    fn merge_remote(&mut self, id: DocId, bytes: &[u8]) -> Result<usize> {
        match self.store.load(id)? {
            Some(stored) => {
                let mut doc = CrmDoc::load(id, &stored.bytes)?;
                let before = doc.heads();
                let n = doc.merge_bytes(bytes)?;
                if n > 0 {
                    self.save(&mut doc, &before, stored.chunks, Batch::new(), false)?;
                }
                Ok(n)
            }
            None => {
                let mut doc = CrmDoc::load_foreign(id, bytes)?;
                let n = doc.automerge().get_changes(&[]).len();
                let write = DocWrite::received(&mut doc, bytes.to_vec())?;
                self.write_doc(write, &doc, Batch::new())?;
                if let Err(e) = self.replay_stashed(&mut doc) {
                    // The edits stay aside (and the store uncompacted)
                    // rather than stop every later sync.
                    tracing::warn!(%id, error = %e, "edits kept aside could not be replayed");
                }
                Ok(n)
            }
        }
    }

    fn merge_live(&mut self, doc: DocId, bytes: &[u8]) -> Result<bool> {
        let Some(stored) = self.store.load(doc)? else {
            return Ok(false);
        };
        let mut d = CrmDoc::load(doc, &stored.bytes)?;
        let before = d.heads();
        d.merge_bytes(bytes)?;
        if !d.automerge().get_missing_deps(&[]).is_empty() {
            return Ok(false);
        }
        self.save(&mut d, &before, stored.chunks, Batch::new(), false)?;
        Ok(true)
    }

    fn drop_doc(&mut self, doc: DocId) -> Result<()> {
        self.store.write(drop_batch(doc), self.durability)?;
        self.index.remove(doc);
        Ok(())
    }

    fn replace(&mut self, doc: DocId, erased: &[String]) -> Result<()> {
        if !self.has(doc) {
            // Nothing of the old copy here: the fetch brings the new one.
            return Ok(());
        }
        let mut b = drop_batch(doc);
        if self.dirty_token(doc)?.is_some() {
            let mut old = self.load(doc)?;
            let acked = self.acked_heads(doc)?;
            let since = crate::erase::server_heads(&mut old, &self.actor, &acked);
            let stash = Stash {
                bytes: old.save(),
                since: since.iter().map(|h| h.to_string()).collect(),
                erased: erased.to_vec(),
            };
            b.put_meta(
                replay_key(doc),
                postcard::to_stdvec(&stash).map_err(|e| corrupt(&replay_key(doc), e))?,
            );
        }
        b.put_meta(META_COMPACT_DUE, Vec::new());
        // Durable at once: the edits kept aside must outlive a crash.
        self.store.write(b, Durability::Flushed)?;
        self.index.remove(doc);
        Ok(())
    }

    fn saved_sync_state(&self, doc: DocId) -> sync::State {
        self.store
            .meta(&sync_state_key(doc))
            .ok()
            .flatten()
            .and_then(|b| sync::State::decode(&b).ok())
            .unwrap_or_default()
    }

    fn save_sync_state(&mut self, doc: DocId, state: &sync::State) -> Result<()> {
        let mut b = Batch::new();
        b.put_meta(sync_state_key(doc), state.encode());
        Ok(self.store.write(b, self.durability)?)
    }

    fn sync_generate(&self, doc: DocId, state: &mut sync::State) -> Result<Option<Vec<u8>>> {
        let mut d = self.load(doc)?;
        let msg = d
            .automerge()
            .sync()
            .generate_sync_message(state)
            .map(|m| m.encode());
        Ok(msg)
    }

    fn sync_receive(&mut self, doc: DocId, state: &mut sync::State, msg: &[u8]) -> Result<bool> {
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
        let changed = d.heads() != before;
        self.save(&mut d, &before, chunks, Batch::new(), false)?;
        Ok(changed)
    }

    fn batched<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let previous = self.durability;
        self.durability = Durability::Buffered;
        let out = f(self);
        self.durability = previous;
        self.store.flush()?;
        self.compact_if_due()?;
        out
    }
}
