//! One tenant's server state: its sled store, the index rows of every
//! document, the access rules, a bounded cache of loaded documents, the
//! per-tenant change sequence, and the group-commit writer that makes every
//! acknowledged change durable before anyone hears of it.

pub mod board;
pub mod erase;
mod exchange;
mod export;
pub mod import;
mod judge;
pub mod merge;
pub mod reach;
mod user_edit;
mod writer;

pub use exchange::{DocOutcome, Phantom, Phantoms, UpOutcome, MAX_PHANTOM_BYTES};
pub use export::MAX_EXPORT_ORDERS;
pub use user_edit::{EditError, EditParts};
pub use writer::Event;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use automerge::{ActorId, ChangeHash};
use carnet_core::doc::{CrmDoc, Vocab, Writer};
use carnet_core::index::{DocRows, Index};
use carnet_core::model::Settings;
use carnet_core::ops::EditCtx;
use carnet_core::persist::{self, DocWrite};
use carnet_core::store::{Batch, Durability, SledStore, Store};
use carnet_core::{DocId, DocKind};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, oneshot};
use uuid::Uuid;

use crate::acl::Acl;
use crate::metrics::Metrics;

pub const SERVER_AUTHOR: &str = "server";

#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    #[error(transparent)]
    Core(#[from] carnet_core::CoreError),
    #[error(transparent)]
    Store(#[from] carnet_core::error::StoreError),
    #[error("no tenant in this data directory: run `carnet-server --data DIR init` first")]
    NotInitialised,
    #[error("a tenant already exists in this data directory")]
    AlreadyInitialised,
    #[error("the storage writer stopped")]
    WriterGone,
    #[error("{0}")]
    Invalid(String),
    #[error("larger than the limit of {} MB", .0 / (1024 * 1024))]
    TooLarge(u64),
}

pub type Result<T, E = TenantError> = std::result::Result<T, E>;

/// Store meta entries written with a change (counters).
pub type Meta = Vec<(String, Vec<u8>)>;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TenantInfo {
    pub id: Uuid,
    pub company: String,
    pub singletons: Vec<(DocKind, DocId)>,
    /// Actor of the server's own changes (numbers, directory edits).
    pub server_actor: String,
}

/// A loaded document and how many chunks it has in the store.
pub struct Slot {
    pub doc: Option<CrmDoc>,
    pub chunks: usize,
}

pub struct Tenant {
    pub store: SledStore,
    pub info: TenantInfo,
    pub(crate) rows: RwLock<Index>,
    /// Who reaches which account; lock it after `rows`, never before.
    pub(crate) reach: RwLock<reach::Reach>,
    /// Dashboard sums by who sees them; lock it after `rows`.
    pub(crate) board: RwLock<board::Board>,
    acl: RwLock<Arc<Acl>>,
    vocab: RwLock<Vocab>,
    parts: RwLock<Arc<EditParts>>,
    docs: Mutex<HashMap<DocId, Arc<tokio::sync::Mutex<Slot>>>>,
    docseq: Mutex<HashMap<DocId, u64>>,
    /// Documents rewritten by an erasure, with their old histories.
    lineages: RwLock<HashMap<DocId, Arc<erase::Lineage>>>,
    seq: AtomicU64,
    dir_seq: AtomicU64,
    writer: mpsc::Sender<writer::WriteReq>,
    events: broadcast::Sender<Event>,
    counters: Mutex<HashMap<String, u64>>,
    actor: ActorId,
    cache_cap: usize,
    /// Bounds the CPU-heavy work on untrusted input (parsing, merging and
    /// validating devices' changes) that runs on the blocking pool.
    cpu: tokio::sync::Semaphore,
    pub logins: crate::throttle::LoginGuard,
    pub metrics: Metrics,
    /// Where the library's blobs live (`DATA/blobs`).
    pub blobs: crate::library::Blobs,
}

const META_TENANT: &str = "tenant";

pub fn granted_key(device: Uuid, doc: DocId) -> String {
    format!("granted/{device}/{doc}")
}
pub fn log_key(seq: u64) -> String {
    format!("log/{seq:016x}")
}

impl Tenant {
    /// Opens the tenant in `dir` and starts its writer task (call within a
    /// tokio runtime).
    pub fn open(dir: &Path, cache_cap: usize) -> Result<Arc<Tenant>> {
        if !SledStore::exists(dir) {
            return Err(TenantError::NotInitialised);
        }
        let store = SledStore::open(dir)?;
        let info: TenantInfo = match store.meta(META_TENANT)? {
            Some(b) => serde_json::from_slice(&b)
                .map_err(|e| TenantError::Invalid(format!("corrupt tenant record: {e}")))?,
            None => return Err(TenantError::NotInitialised),
        };
        Tenant::start(store, info, cache_cap, dir)
    }

    /// Creates a tenant, ready to serve: its settings (seeded with the
    /// pipeline, action types and French VAT rates), an empty catalog and
    /// library, the directory, and its first user, the admin. `init`,
    /// `demo`, the tests and the benchmarks all start here.
    pub async fn create(
        dir: &Path,
        company: &str,
        admin_email: &str,
        admin_name: Option<&str>,
        admin_password: &str,
    ) -> Result<Arc<Tenant>> {
        carnet_core::validate::email("admin-email", admin_email)
            .map_err(|e| TenantError::Invalid(e.to_string()))?;
        if admin_password.chars().count() < 8 {
            return Err(TenantError::Invalid(
                "the password must have at least 8 characters".into(),
            ));
        }
        let store = SledStore::open(dir)?;
        if store.meta(META_TENANT)?.is_some() {
            return Err(TenantError::AlreadyInitialised);
        }
        let singletons = vec![
            (DocKind::Settings, DocId::new()),
            (DocKind::Catalog, DocId::new()),
            (DocKind::Directory, DocId::new()),
            (DocKind::Library, DocId::new()),
        ];
        let info = TenantInfo {
            id: Uuid::new_v4(),
            company: company.to_string(),
            singletons: singletons.clone(),
            server_actor: ActorId::random().to_hex_string(),
        };
        let mut b = Batch::new();
        b.put_meta(
            META_TENANT,
            serde_json::to_vec(&info).map_err(|e| TenantError::Invalid(e.to_string()))?,
        );
        store.write(b, Durability::Flushed)?;
        let tenant = Tenant::start(store, info, 1024, dir)?;
        let seeded = company.to_string();
        for (kind, id) in singletons {
            let company = seeded.clone();
            tenant
                .edit_as_server(id, kind, move |d| match kind {
                    DocKind::Settings => Settings::seed(d, &company),
                    _ => Ok(()),
                })
                .await?;
        }
        tenant.refresh_rules()?;
        tenant
            .add_user(admin_email, "admin", None, admin_name, admin_password)
            .await?;
        Ok(tenant)
    }

    fn start(
        store: SledStore,
        info: TenantInfo,
        cache_cap: usize,
        dir: &Path,
    ) -> Result<Arc<Tenant>> {
        let index = persist::load_index(&store)?;
        let mut docseq = HashMap::new();
        for (k, v) in store.meta_scan("docseq/", None, usize::MAX)? {
            if let (Some(doc), Ok(b)) = (
                k.strip_prefix("docseq/")
                    .and_then(|d| d.parse::<DocId>().ok()),
                <[u8; 8]>::try_from(v.as_slice()),
            ) {
                docseq.insert(doc, u64::from_be_bytes(b));
            }
        }
        let seq = store
            .meta("seq")?
            .and_then(|b| b.try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(0);
        let mut counters = HashMap::new();
        for (k, v) in store.meta_scan("counter/", None, usize::MAX)? {
            if let Ok(b) = <[u8; 8]>::try_from(v.as_slice()) {
                counters.insert(k, u64::from_be_bytes(b));
            }
        }
        let lineages = erase::load(&store)?;
        let actor = ActorId::try_from(info.server_actor.as_str())
            .map_err(|_| TenantError::Invalid("corrupt server actor".into()))?;
        let (tx, rx) = mpsc::channel(4096);
        let (events, _) = broadcast::channel(16384);
        let dir_id = info
            .singletons
            .iter()
            .find(|(k, _)| *k == DocKind::Directory)
            .map(|(_, d)| *d);
        let dir_seq = dir_id.and_then(|d| docseq.get(&d).copied()).unwrap_or(0);
        let tenant = Arc::new(Tenant {
            blobs: crate::library::Blobs::new(dir.join("blobs")),
            store,
            info,
            rows: RwLock::new(index),
            reach: RwLock::new(reach::Reach::default()),
            board: RwLock::new(board::Board::default()),
            acl: RwLock::new(Arc::new(Acl::default())),
            vocab: RwLock::new(Vocab::default()),
            parts: RwLock::new(Arc::new(EditParts::default())),
            docs: Mutex::new(HashMap::new()),
            docseq: Mutex::new(docseq),
            lineages: RwLock::new(lineages),
            seq: AtomicU64::new(seq),
            dir_seq: AtomicU64::new(dir_seq),
            writer: tx,
            events,
            counters: Mutex::new(counters),
            actor,
            cache_cap,
            cpu: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
            logins: crate::throttle::LoginGuard::default(),
            metrics: Metrics::default(),
        });
        tenant.refresh_rules()?;
        tokio::spawn(writer::run(tenant.clone(), rx));
        Ok(tenant)
    }

    pub fn singleton(&self, kind: DocKind) -> Option<DocId> {
        self.info
            .singletons
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, d)| *d)
    }

    pub fn seq(&self) -> u64 {
        self.seq.load(Ordering::SeqCst)
    }

    pub fn dir_seq(&self) -> u64 {
        self.dir_seq.load(Ordering::SeqCst)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    pub fn publish(&self, e: Event) {
        let _ = self.events.send(e);
    }

    pub fn server_writer(&self) -> Writer {
        Writer {
            user: SERVER_AUTHOR.to_string(),
            actor: self.actor.clone(),
            now: chrono::Utc::now().timestamp(),
        }
    }

    pub fn vocab(&self) -> Vocab {
        self.vocab.read().map(|v| v.clone()).unwrap_or_default()
    }

    /// The access rules in force (shared: a new set replaces them whole).
    pub fn acl(&self) -> Arc<Acl> {
        self.acl
            .read()
            .map(|a| a.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    pub fn rows(&self, doc: DocId) -> Option<DocRows> {
        self.rows.read().ok()?.get(doc).cloned()
    }

    /// Visits every document's rows under one read lock, without copying
    /// them (visibility scans over the whole tenant).
    pub fn for_each_row(&self, mut f: impl FnMut(DocId, &DocRows)) {
        if let Ok(idx) = self.rows.read() {
            for (d, r) in idx.iter() {
                f(*d, r);
            }
        }
    }

    /// The plan document of `user`, if any.
    pub fn rows_plan_of(&self, user: &str) -> Option<DocId> {
        self.rows.read().ok()?.plan_of(user)
    }

    /// The document holding record `id` (a contact, deal, action, …).
    pub fn doc_of_record(&self, id: &str) -> Option<DocId> {
        self.rows.read().ok()?.doc_of(id)
    }

    pub fn visible(&self, user: &str, doc: DocId) -> bool {
        match (self.rows.read(), self.acl.read()) {
            (Ok(rows), Ok(acl)) => rows.get(doc).is_some_and(|r| acl.can_see(user, r)),
            _ => false,
        }
    }

    pub fn doc_seq(&self, doc: DocId) -> u64 {
        self.docseq
            .lock()
            .ok()
            .and_then(|m| m.get(&doc).copied())
            .unwrap_or(0)
    }

    /// Rebuilds the access rules and vocabularies from the directory and
    /// settings documents.
    pub fn refresh_rules(&self) -> Result<()> {
        if let (Some(d), Ok(mut v)) = (self.singleton_doc(DocKind::Settings)?, self.vocab.write()) {
            *v = Settings::read(&d).vocab();
        }
        if let (Some(d), Ok(mut a)) = (self.singleton_doc(DocKind::Directory)?, self.acl.write()) {
            *a = Arc::new(Acl::read(&d));
        }
        self.refresh_parts()?;
        // What reads the index by who may see it follows the new rules.
        let acl = self.acl();
        let settings = self.edit_parts().settings.clone();
        let reach_stale = self.reach.read().map_or(true, |r| !r.built_for(&acl));
        let board_stale = self
            .board
            .read()
            .map_or(true, |b| !b.built_for(&acl, &settings));
        if reach_stale || board_stale {
            let rows = self.rows.read().unwrap_or_else(|p| p.into_inner());
            if reach_stale {
                let mut reach = self.reach.write().unwrap_or_else(|p| p.into_inner());
                *reach = reach::Reach::build(&rows, &acl);
            }
            if board_stale {
                let mut board = self.board.write().unwrap_or_else(|p| p.into_inner());
                *board = board::Board::build(&rows, &acl, &settings);
            }
        }
        Ok(())
    }

    /// The slot of a document, loading it on first use. The cache is
    /// bounded: idle documents are dropped from memory (they are on disk).
    pub async fn slot(&self, doc: DocId) -> Result<Arc<tokio::sync::Mutex<Slot>>> {
        let existing = self.docs.lock().ok().and_then(|m| m.get(&doc).cloned());
        if let Some(s) = existing {
            return Ok(s);
        }
        let loaded = match self.store.load(doc)? {
            Some(stored) => Slot {
                doc: Some(CrmDoc::load(doc, &stored.bytes)?),
                chunks: stored.chunks,
            },
            None => Slot {
                doc: None,
                chunks: 0,
            },
        };
        let mut map = self
            .docs
            .lock()
            .map_err(|_| TenantError::Invalid("document cache poisoned".into()))?;
        if map.len() >= self.cache_cap {
            // Drop documents nobody holds right now.
            map.retain(|_, s| Arc::strong_count(s) > 1);
        }
        let slot = map
            .entry(doc)
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(loaded)))
            .clone();
        self.metrics.set_loaded_docs(map.len() as u64);
        Ok(slot)
    }

    /// Forgets a cached document (after a failed write, so the next use
    /// reloads what is really on disk).
    pub fn evict(&self, doc: DocId) {
        if let Ok(mut m) = self.docs.lock() {
            m.remove(&doc);
        }
    }

    /// Runs CPU-heavy work on untrusted input on the blocking pool, at most
    /// one task per core at a time, so the async workers keep serving
    /// everyone else. A panic inside (automerge on hostile bytes) is a
    /// refusal of that input, not a crash.
    pub async fn on_cpu<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::result::Result<T, String> {
        let _permit = self
            .cpu
            .acquire()
            .await
            .map_err(|_| "the server is shutting down".to_string())?;
        tokio::task::spawn_blocking(f).await.map_err(|e| {
            tracing::warn!(error = %e, "merge task failed");
            "changes could not be applied".to_string()
        })
    }

    /// The quote and order series of a user (`01`, `02`, …), allotted on
    /// first use; the meta entries to store with the change that uses it.
    pub fn series_of(&self, user: &str) -> (String, Meta) {
        let key = format!("counter/series-of/{user}");
        if let Some(n) = self.counters().get(&key).copied() {
            return (format!("{n:02}"), Vec::new());
        }
        let (n, entry) = self.next_counter("series");
        self.counters().insert(key.clone(), n);
        (
            format!("{n:02}"),
            vec![entry, (key, n.to_be_bytes().to_vec())],
        )
    }

    /// The counters (a poisoned lock still holds valid numbers: every
    /// change to them is one insert).
    fn counters(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.counters.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserves the next number of a gap-free counter (quotes, orders).
    /// Returns the value and the meta entry to write with the change.
    pub fn next_counter(&self, name: &str) -> (u64, (String, Vec<u8>)) {
        let key = format!("counter/{name}");
        let mut c = self.counters();
        let n = c.get(&key).copied().unwrap_or(0) + 1;
        c.insert(key.clone(), n);
        (n, (key, n.to_be_bytes().to_vec()))
    }

    /// Persists a document's new changes (after `before`) with its rows,
    /// durably, and returns its new sequence number. The caller holds the
    /// document's slot lock, so writes of one document stay in order.
    /// `rows` are the document's index rows when the caller has them.
    pub async fn commit(
        &self,
        slot: &mut Slot,
        before: &[ChangeHash],
        meta: Vec<(String, Vec<u8>)>,
        rows: Option<DocRows>,
    ) -> Result<u64> {
        let doc = slot
            .doc
            .as_mut()
            .ok_or_else(|| TenantError::Invalid("commit of an empty slot".into()))?;
        let kind = doc.kind();
        let write = DocWrite::plan(doc, before, slot.chunks, rows)?;
        let id = write.doc;
        let chunks_after = write.chunks_after(slot.chunks);
        let (tx, rx) = oneshot::channel();
        self.writer
            .send(writer::WriteReq {
                kind,
                write,
                meta,
                reply: tx,
            })
            .await
            .map_err(|_| TenantError::WriterGone)?;
        match rx.await.map_err(|_| TenantError::WriterGone)? {
            Ok(seq) => {
                slot.chunks = chunks_after;
                Ok(seq)
            }
            Err(e) => {
                self.evict(id);
                Err(TenantError::Invalid(format!("storage failed: {e}")))
            }
        }
    }

    /// Creates or edits a document as the server (admin commands, numbers).
    pub async fn edit_as_server(
        &self,
        doc: DocId,
        kind: DocKind,
        f: impl FnOnce(&mut CrmDoc) -> carnet_core::Result<()>,
    ) -> Result<u64> {
        self.edit_as(&self.server_writer(), doc, kind, f).await
    }

    /// Creates or edits a document as `w` (the demo loader writes as a user).
    pub async fn edit_as(
        &self,
        w: &Writer,
        doc: DocId,
        kind: DocKind,
        f: impl FnOnce(&mut CrmDoc) -> carnet_core::Result<()>,
    ) -> Result<u64> {
        let slot = self.slot(doc).await?;
        let mut slot = slot.lock().await;
        let before = match slot.doc.as_mut() {
            Some(d) => d.heads(),
            None => {
                slot.doc = Some(CrmDoc::create(doc, kind, w)?);
                slot.chunks = 0;
                Vec::new()
            }
        };
        let d = slot
            .doc
            .as_mut()
            .ok_or_else(|| TenantError::Invalid("no document".into()))?;
        persist::edit(d, w, f)?;
        self.commit(&mut slot, &before, Vec::new(), None).await
    }

    /// Creates or edits a document as the user `w` through the domain's
    /// document operations (`carnet_core::ops`), with the tenant's current
    /// settings and catalog: what a device's `Device::edit` does, server
    /// side (the demo loader; the web app next).
    pub async fn edit_as_user(
        &self,
        w: &Writer,
        doc: DocId,
        kind: DocKind,
        f: impl FnOnce(&mut CrmDoc, &EditCtx<'_>) -> carnet_core::Result<()>,
    ) -> Result<u64> {
        let parts = self.edit_parts();
        let ctx = parts.ctx(w, self.vocab());
        self.edit_as(w, doc, kind, |d| f(d, &ctx)).await
    }

    /// A singleton document as stored, if it exists yet.
    pub(crate) fn singleton_doc(&self, kind: DocKind) -> Result<Option<CrmDoc>> {
        let Some(id) = self.singleton(kind) else {
            return Ok(None);
        };
        let stored = self.store.load(id)?;
        Ok(stored.map(|s| CrmDoc::load(id, &s.bytes)).transpose()?)
    }

    /// (seq, doc) of documents changed after `cursor`, in order, at most `limit`.
    pub fn log_after(&self, cursor: u64, limit: usize) -> Result<Vec<(u64, DocId)>> {
        let after = log_key(cursor);
        Ok(self
            .store
            .meta_scan("log/", Some(&after), limit)?
            .into_iter()
            .filter_map(|(k, v)| {
                let seq = u64::from_str_radix(k.strip_prefix("log/")?, 16).ok()?;
                let doc = uuid::Uuid::from_slice(&v).ok()?;
                Some((seq, DocId(doc)))
            })
            .collect())
    }

    pub fn granted_docs(&self, device: Uuid) -> Vec<DocId> {
        self.docs_under(&format!("granted/{device}/"))
    }

    /// The documents named by the meta keys `prefix<doc>`.
    pub(crate) fn docs_under(&self, prefix: &str) -> Vec<DocId> {
        self.store
            .meta_scan(prefix, None, usize::MAX)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(k, _)| k.strip_prefix(prefix)?.parse().ok())
            .collect()
    }

    pub fn set_granted(&self, device: Uuid, grant: &[DocId], ungrant: &[DocId]) -> Result<()> {
        if grant.is_empty() && ungrant.is_empty() {
            return Ok(());
        }
        let mut b = Batch::new();
        for d in grant {
            b.put_meta(granted_key(device, *d), Vec::new());
        }
        for d in ungrant {
            b.delete_meta(granted_key(device, *d));
        }
        Ok(self.store.write(b, Durability::Flushed)?)
    }
}
