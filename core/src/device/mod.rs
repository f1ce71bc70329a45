//! The domain API: one local store with its index, the settings and
//! catalog in memory, and every operation and query a user has. Every
//! front-end (the CLI, `CarnetClient` for the apps, the web app) parses
//! input into the typed inputs of `crate::model::input`, calls a method
//! here and presents the typed view it returns; none of them knows a
//! document path, a container layout or sled. Sync sees this type only as a
//! `crate::sync::Replica` (`replica.rs`).
//!
//! Every edit loads the document, applies validated field-level writes as
//! one Automerge change authored by the device's user, and persists the new
//! changes together with the document's recomputed index rows in one atomic,
//! flushed batch before returning: an edit reported saved survives a kill -9.

use std::path::Path;

use automerge::{ActorId, ChangeHash};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::doc::{Conflict, CrmDoc, HistoryEntry, Writer};
use crate::error::{CoreError, Result, ValidationError};
use crate::ids::{DocId, DocKind, RecordId};
use crate::index::{DocRows, Index, SearchHit};
use crate::model::{
    AccountFile, Catalog, Directory, NewQuoteLine, Plan, Quote, Settings, VisitReport,
};
use crate::ops::{self, EditCtx, RawFields};
use crate::persist::{self, DocWrite};
use crate::reports::{
    self, Commission, DashScope, Dashboard, Forecast, Indicator, MyDay, Period, Pipeline, Scope,
    TargetReport, TodoItem,
};
use crate::schema::RecordKind;
use crate::store::{Batch, Durability, SledStore, Store};

/// Who uses this store, on which device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub user: String,
    pub name: Option<String>,
    pub device: Uuid,
    /// Hex Automerge actor id used for this user's changes on this device.
    pub actor: String,
    pub tenant: Uuid,
}

mod quality;
mod replica;
mod transfer;

pub use quality::DuplicateHit;
pub use transfer::{read_vcard_file, PersonData, VcardReport};

pub use crate::sync::{Remote, SyncStatus};

pub(crate) const META_IDENTITY: &str = "identity";

/// A customer file planned by `Device::plan_account`, not stored yet.
pub(crate) struct NewFile {
    write: DocWrite,
    batch: Batch,
}

impl NewFile {
    pub(crate) fn id(&self) -> DocId {
        self.write.doc
    }

    /// Bytes it will write.
    pub(crate) fn size(&self) -> usize {
        self.write.bytes.len()
    }
}

/// Marks `doc` as edited on this device and not yet on the server; a new
/// edit also retries a rejected one. A fresh token per edit: an ack only
/// clears the flag if no edit happened after what it acknowledges. A new
/// file has no rejected edit to clear (and a delete costs the store a write).
fn mark_local(batch: &mut Batch, doc: DocId, new: bool) {
    batch.put_meta(replica::dirty_key(doc), Uuid::new_v4().as_bytes().to_vec());
    if !new {
        batch.delete_meta(replica::rejected_key(doc));
    }
}

pub(crate) fn singleton_key(kind: DocKind) -> String {
    format!("singleton/{kind}")
}

pub struct Device<S: Store = SledStore> {
    pub(crate) store: S,
    pub(crate) index: Index,
    identity: Identity,
    actor: ActorId,
    settings: Settings,
    catalog: Catalog,
    pub(crate) durability: Durability,
    /// Fixed "now" for scripted runs and tests; `None` uses the clock.
    clock: Option<i64>,
}

impl Device<SledStore> {
    /// Creates a new store in `dir` for `user`, seeding the settings
    /// (pipeline, action types, French VAT rates), an empty catalog,
    /// a directory holding the user, and an empty library.
    pub fn init(dir: &Path, user: &str, name: Option<&str>, company: &str) -> Result<Self> {
        let user = crate::validate::email("user", user)?;
        let store = SledStore::open(dir)?;
        if store.meta(META_IDENTITY)?.is_some() {
            return Err(CoreError::AlreadyInitialised);
        }
        let device = Uuid::new_v4();
        let actor = ActorId::random();
        let identity = Identity {
            user: user.clone(),
            name: name.map(str::to_string),
            device,
            actor: actor.to_hex_string(),
            tenant: Uuid::new_v4(),
        };
        let mut dev = Device::bare(store, identity, actor);
        let company = company.to_string();
        dev.create_singleton(DocKind::Settings, |doc, _| Settings::seed(doc, &company))?;
        dev.create_singleton(DocKind::Catalog, |_, _| Ok(()))?;
        let (email, display) = (user.clone(), name.map(str::to_string));
        dev.create_singleton(DocKind::Directory, move |doc, ctx| {
            let mut raw = vec![("email", email), ("role", "admin".to_string())];
            if let Some(n) = display {
                raw.push(("name", n));
            }
            let fields: Vec<(&str, crate::doc::FieldValue)> = raw
                .iter()
                .map(|(k, v)| {
                    crate::doc::value::parse(RecordKind::User.field(k), v, &ctx.vocab)
                        .map(|p| (*k, p))
                })
                .collect::<std::result::Result<_, _>>()?;
            doc.create_record(
                &["users"],
                &Uuid::new_v4().to_string(),
                RecordKind::User,
                &fields,
            )?;
            Ok(())
        })?;
        dev.create_singleton(DocKind::Library, |_, _| Ok(()))?;
        let mut b = Batch::new();
        b.put_meta(
            META_IDENTITY,
            serde_json::to_vec(&dev.identity).map_err(|e| ValidationError::Rule(e.to_string()))?,
        );
        dev.store.write(b, Durability::Flushed)?;
        Ok(dev)
    }

    /// Opens an existing store: loads the index rows (rebuilding any that
    /// are from an older format), the settings and the catalog.
    pub fn open(dir: &Path) -> Result<Self> {
        if !SledStore::exists(dir) {
            return Err(CoreError::NotInitialised);
        }
        let store = SledStore::open(dir)?;
        Device::open_store(store)
    }

    /// The blobs this device should hold and does not yet: the library
    /// documents meant for this user, and the company's logo (every PDF's
    /// letterhead). Each with where it goes; downloaded by
    /// `sync::fetch::fetch_blob`.
    pub fn blobs_to_fetch(&self) -> Result<Vec<(String, std::path::PathBuf)>> {
        Ok(self
            .blobs_meant()?
            .into_iter()
            .filter_map(|sha| self.blob_path(&sha).map(|p| (sha, p)))
            .filter(|(_, p)| !p.is_file())
            .collect())
    }

    /// Deletes the blobs no library document meant for this user and no
    /// logo names any more: the old version of a document replaced, one
    /// withdrawn or no longer for this user's territories. Returns how
    /// many. A download in progress (a temporary name) is left alone.
    /// What a message in the outbox attaches is sent from the server's
    /// copy, so nothing queued needs these.
    pub fn prune_blobs(&self) -> Result<u32> {
        let keep = self.blobs_meant()?;
        let Some(Ok(entries)) = self.store.blob_dir().map(std::fs::read_dir) else {
            return Ok(0);
        };
        let mut n = 0;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            // One that cannot be deleted now is tried again next time.
            if crate::model::library::is_sha256(&name)
                && !keep.contains(&name)
                && std::fs::remove_file(e.path()).is_ok()
            {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Whether `dir` holds a store.
    pub fn exists(dir: &Path) -> bool {
        SledStore::exists(dir)
    }

    /// Flushes and closes the store, releasing its directory before it
    /// returns: opening it again right after never fails.
    pub fn close(self) -> Result<()> {
        Ok(self.store.close()?)
    }
}

impl Settings {
    fn read_empty() -> Settings {
        Settings {
            company_name: String::new(),
            company: Default::default(),
            currency: "EUR".into(),
            quote_prefix: "DEV".into(),
            order_prefix: "CMD".into(),
            stages: Vec::new(),
            action_types: Vec::new(),
            vat_rates: Vec::new(),
        }
    }
}

impl<S: Store> Device<S> {
    /// Every blob this device should hold: those of the library documents
    /// meant for this user, and the company's logo.
    fn blobs_meant(&self) -> Result<std::collections::BTreeSet<String>> {
        let mut meant: std::collections::BTreeSet<String> =
            self.library()?.into_iter().map(|i| i.blob).collect();
        meant.extend(self.settings.company.logo.clone());
        Ok(meant)
    }

    /// Where this device keeps library blob `sha` (`None`: not a blob
    /// name, or a store not on disk); the file exists once downloaded
    /// whole (`sync::fetch`).
    pub fn blob_path(&self, sha: &str) -> Option<std::path::PathBuf> {
        if !crate::model::library::is_sha256(sha) {
            return None;
        }
        Some(self.store.blob_dir()?.join(sha))
    }

    /// A library item's file on this device, if downloaded.
    pub fn library_file(&self, item: &crate::model::LibraryItem) -> Option<std::path::PathBuf> {
        self.blob_path(&item.blob).filter(|p| p.is_file())
    }

    /// A device over `store` with an empty index and default settings,
    /// before anything is loaded or created.
    fn bare(store: S, identity: Identity, actor: ActorId) -> Self {
        Device {
            store,
            index: Index::new(),
            identity,
            actor,
            settings: Settings::read_empty(),
            catalog: Catalog::default(),
            durability: Durability::Flushed,
            clock: None,
        }
    }

    /// Opens a device over an already opened store (any `Store`).
    pub fn open_store(store: S) -> Result<Self> {
        let identity: Identity = match store.meta(META_IDENTITY)? {
            Some(b) => {
                serde_json::from_slice(&b).map_err(|e| crate::error::StoreError::Corrupt {
                    key: META_IDENTITY.into(),
                    reason: e.to_string(),
                })?
            }
            None => return Err(CoreError::NotInitialised),
        };
        let actor = ActorId::try_from(identity.actor.as_str()).map_err(|_| {
            crate::error::StoreError::Corrupt {
                key: META_IDENTITY.into(),
                reason: "bad actor id".into(),
            }
        })?;
        let mut dev = Device::bare(store, identity, actor);
        dev.index = persist::load_index(&dev.store)?;
        dev.refresh_singletons()?;
        // An erasure a crash left on disk (see `Replica::replace`).
        dev.compact_if_due()?;
        Ok(dev)
    }

    // ----- identity, clock, durability ------------------------------------

    /// Who uses this store, on which device.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The tenant's settings: company, pipeline stages, action types, VAT rates.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The product catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The summary rows of every document (what lists and reports read).
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// The underlying store (for maintenance tools and benchmarks).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Pins the clock (Unix seconds) for reproducible scripts and tests.
    pub fn set_clock(&mut self, now: Option<i64>) {
        self.clock = now;
    }

    /// Unix seconds now (or the pinned clock).
    pub fn now(&self) -> i64 {
        self.clock.unwrap_or_else(|| chrono::Utc::now().timestamp())
    }

    /// Today's date, local time (or the pinned clock's).
    pub fn today(&self) -> NaiveDate {
        match self.clock {
            Some(t) => chrono::DateTime::from_timestamp(t, 0)
                .map(|d| d.date_naive())
                .unwrap_or_default(),
            None => chrono::Local::now().date_naive(),
        }
    }

    /// `Buffered` for bulk imports: call `flush` before reporting success.
    pub fn set_durability(&mut self, d: Durability) {
        self.durability = d;
    }

    /// Flushes buffered writes (see `set_durability`).
    pub fn flush(&self) -> Result<()> {
        Ok(self.store.flush()?)
    }

    fn writer(&self) -> Writer {
        Writer {
            user: self.identity.user.clone(),
            actor: self.actor.clone(),
            now: self.now(),
        }
    }

    fn ctx<'a>(&'a self, writer: &'a Writer) -> EditCtx<'a> {
        EditCtx {
            writer,
            settings: &self.settings,
            catalog: &self.catalog,
            vocab: self.settings.vocab(),
            today: self.today(),
        }
    }

    // ----- documents -------------------------------------------------------

    /// Loads a document from the store.
    pub fn load(&self, id: DocId) -> Result<CrmDoc> {
        let stored = self.store.load(id)?.ok_or(CoreError::DocNotFound(id))?;
        CrmDoc::load(id, &stored.bytes)
    }

    /// Runs `f` on a document as one change, then persists it. On error
    /// nothing is written.
    pub fn edit<T>(
        &mut self,
        id: DocId,
        f: impl FnOnce(&mut CrmDoc, &EditCtx<'_>) -> Result<T>,
    ) -> Result<T> {
        self.edit_with(id, Batch::new(), f)
    }

    /// `edit`, writing `batch` (a counter, say) atomically with the change.
    fn edit_with<T>(
        &mut self,
        id: DocId,
        batch: Batch,
        f: impl FnOnce(&mut CrmDoc, &EditCtx<'_>) -> Result<T>,
    ) -> Result<T> {
        let stored = self.store.load(id)?.ok_or(CoreError::DocNotFound(id))?;
        let mut doc = CrmDoc::load(id, &stored.bytes)?;
        let before = doc.heads();
        let writer = self.writer();
        let out = {
            let ctx = self.ctx(&writer);
            persist::edit(&mut doc, &writer, |d| f(d, &ctx))?
        };
        self.save(&mut doc, &before, stored.chunks, batch, true)?;
        Ok(out)
    }

    /// Creates a document of `kind`, filled by `f`, as one change.
    pub fn create(
        &mut self,
        kind: DocKind,
        f: impl FnOnce(&mut CrmDoc, &EditCtx<'_>) -> Result<()>,
    ) -> Result<DocId> {
        self.create_with(DocId::new(), kind, Batch::new(), f)
    }

    /// Creates a document of `kind` as one change: its skeleton, then `f`.
    fn create_with(
        &mut self,
        id: DocId,
        kind: DocKind,
        batch: Batch,
        f: impl FnOnce(&mut CrmDoc, &EditCtx<'_>) -> Result<()>,
    ) -> Result<DocId> {
        let writer = self.writer();
        let (mut doc, _) = CrmDoc::create_open(id, kind, &writer, &[], &[])?;
        {
            let ctx = self.ctx(&writer);
            persist::edit(&mut doc, &writer, |d| f(d, &ctx))?;
        }
        self.save(&mut doc, &[], 0, batch, true)?;
        Ok(id)
    }

    fn create_singleton(
        &mut self,
        kind: DocKind,
        f: impl FnOnce(&mut CrmDoc, &EditCtx<'_>) -> Result<()>,
    ) -> Result<DocId> {
        let id = DocId::new();
        let mut b = Batch::new();
        b.put_meta(singleton_key(kind), id.0.as_bytes().to_vec());
        self.create_with(id, kind, b, f)
    }

    /// Writes a document's new changes (or a fresh snapshot past the
    /// compaction threshold) with its index rows, atomically. `local`: a
    /// user's edit on this device, pending until the server acknowledges it.
    pub(crate) fn save(
        &mut self,
        doc: &mut CrmDoc,
        before: &[ChangeHash],
        chunks: usize,
        mut batch: Batch,
        local: bool,
    ) -> Result<()> {
        let id = doc.id();
        if !before.is_empty() && doc.heads() == before && batch.is_empty() {
            return Ok(());
        }
        if local {
            mark_local(&mut batch, id, before.is_empty());
        }
        let write = DocWrite::plan(doc, before, chunks, None)?;
        self.write_doc(write, doc, batch)
    }

    /// Stores a planned write with `batch`, then indexes it.
    pub(crate) fn write_doc(
        &mut self,
        write: DocWrite,
        doc: &CrmDoc,
        mut batch: Batch,
    ) -> Result<()> {
        write.add_to(&mut batch);
        self.store.write(batch, self.durability)?;
        self.written(write.doc, write.rows, doc)
    }

    /// After a document and its rows reached the store: index them, and
    /// refresh the settings or catalog kept in memory if that is what changed.
    fn written(&mut self, id: DocId, rows: DocRows, doc: &CrmDoc) -> Result<()> {
        self.index.put(id, rows);
        match doc.kind() {
            DocKind::Settings if self.singleton(DocKind::Settings)? == Some(id) => {
                self.settings = Settings::read(doc);
            }
            DocKind::Catalog if self.singleton(DocKind::Catalog)? == Some(id) => {
                self.catalog = Catalog::read(doc);
            }
            _ => {}
        }
        Ok(())
    }

    pub(crate) fn singleton(&self, kind: DocKind) -> Result<Option<DocId>> {
        Ok(self
            .store
            .meta(&singleton_key(kind))?
            .and_then(|b| Uuid::from_slice(&b).ok())
            .map(DocId))
    }

    /// The id of the settings, catalog, directory or library document.
    pub fn singleton_id(&self, kind: DocKind) -> Result<DocId> {
        self.singleton(kind)?.ok_or(CoreError::NotInitialised)
    }

    pub(crate) fn refresh_singletons(&mut self) -> Result<()> {
        if let Some(id) = self.singleton(DocKind::Settings)? {
            self.settings = Settings::read(&self.load(id)?);
        }
        if let Some(id) = self.singleton(DocKind::Catalog)? {
            self.catalog = Catalog::read(&self.load(id)?);
        }
        Ok(())
    }

    fn next_number(&mut self, counter: &str, prefix: &str) -> Result<(String, Batch)> {
        let key = format!("counter/{counter}");
        let n = self
            .store
            .meta(&key)?
            .and_then(|b| b.try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(0)
            + 1;
        let mut b = Batch::new();
        b.put_meta(key, n.to_be_bytes().to_vec());
        let dev = self.identity.device.simple().to_string().to_uppercase();
        Ok((format!("{prefix}-P{}-{n:04}", &dev[..4]), b))
    }

    /// The account document holding a record, checked to be one.
    pub fn account_of(&self, record: &str) -> Result<DocId> {
        let rid: RecordId = record.parse()?;
        self.index
            .doc_of(record)
            .filter(|d| {
                self.index
                    .get(*d)
                    .is_some_and(|r| r.kind == DocKind::Account)
            })
            .ok_or(CoreError::RecordNotFound(rid))
    }

    /// `id` is a customer file on this device.
    pub fn require_account(&self, id: DocId) -> Result<()> {
        match self.index.get(id) {
            Some(r) if r.kind == DocKind::Account => Ok(()),
            Some(r) => Err(CoreError::WrongKind {
                doc: id,
                expected: "account",
                found: r.kind.to_string(),
            }),
            None => Err(CoreError::DocNotFound(id)),
        }
    }

    // ----- customer files ---------------------------------------------------

    /// Creates a customer file. `fields` are account fields as typed
    /// (`name`, `kind`, `status`, `siret`, `postcode`, ...).
    pub fn create_account(&mut self, fields: &RawFields<'_>) -> Result<DocId> {
        let file = self.plan_account(DocId::new(), fields, &[])?;
        let id = file.id();
        self.store_new(vec![file])?;
        Ok(id)
    }

    /// A new customer file with its contacts, as one change, not stored
    /// yet: `store_new` stores many such files in one store batch (an
    /// import's; one batch per file would cost the store a log write
    /// each). Its index rows are read from the tree it was built from.
    pub(crate) fn plan_account(
        &mut self,
        id: DocId,
        fields: &RawFields<'_>,
        contacts: &[crate::import::Fields],
    ) -> Result<NewFile> {
        let writer = self.writer();
        let (mut doc, rows) = ops::new_account(&self.ctx(&writer), id, fields, contacts)?;
        let mut batch = Batch::new();
        mark_local(&mut batch, id, true);
        let write = DocWrite::plan(&mut doc, &[], 0, Some(rows))?;
        Ok(NewFile { write, batch })
    }

    /// Stores the files `plan_account` planned, atomically, then indexes them.
    pub(crate) fn store_new(&mut self, files: Vec<NewFile>) -> Result<()> {
        let mut all = Batch::new();
        let mut rows = Vec::with_capacity(files.len());
        for f in files {
            f.write.add_to(&mut all);
            all.extend(f.batch);
            rows.push((f.write.doc, f.write.rows));
        }
        self.store.write(all, self.durability)?;
        for (id, r) in rows {
            self.index.put(id, r);
        }
        Ok(())
    }

    /// Sets one field from text. `path` is `account/<field>`,
    /// `account/custom/<key>`, `deals/<id>/<field>`, ...
    pub fn set_field(&mut self, doc: DocId, path: &str, raw: &str) -> Result<()> {
        self.edit(doc, |d, ctx| ops::set_field(d, ctx, path, raw))
    }

    /// Sets one field of the company in the settings (`legal_form`,
    /// `share_capital`, `rcs_city`, …: what quotes state; an admin's
    /// right, the server refuses it from anyone else).
    pub fn set_company_field(&mut self, field: &str, value: &str) -> Result<()> {
        let doc = self.singleton_id(DocKind::Settings)?;
        self.set_field(doc, &format!("company/{field}"), value)?;
        self.refresh_singletons()
    }

    /// Sets the letterhead's logo to an image of the library (by title, id
    /// or blob; empty removes it), once this device holds it and knows it
    /// can be drawn (a PNG or JPEG within `pdf::MAX_LOGO_BYTES` and
    /// `pdf::MAX_LOGO_SIDE`).
    pub fn set_logo(&mut self, what: &str) -> Result<()> {
        let what = what.trim();
        if what.is_empty() {
            return self.set_company_field("logo", "");
        }
        let item = self
            .library()?
            .into_iter()
            .find(|i| i.title == what || i.id == what || i.blob == what)
            .ok_or_else(|| ValidationError::Rule(format!("no library document {what:?}")))?;
        let bytes = self
            .library_file(&item)
            .and_then(|p| crate::pdf::read_logo(&p))
            .ok_or_else(|| {
                ValidationError::Rule(format!(
                    "{} is not on this device (or is larger than 2 MB): run `carnet library fetch`",
                    item.title
                ))
            })?;
        crate::pdf::check_logo(&bytes).map_err(|e| {
            ValidationError::Rule(format!("{} cannot be the logo: {e}", item.title))
        })?;
        self.set_company_field("logo", &item.blob)
    }

    /// Sets one field of a customer file's account from what the user typed
    /// (`name`, `phone`, `status`, `tags`, `custom/<key>`, ...).
    pub fn set_account_field(&mut self, account: DocId, field: &str, value: &str) -> Result<()> {
        self.require_account(account)?;
        self.set_field(account, &format!("account/{field}"), value)
    }

    /// Sets one field of a contact, deal, action, quote or order, found by
    /// its id, from what the user typed. Setting a quote's `status` to
    /// `accepted` accepts it (`accept_quote`: its order is created too).
    /// Returns the customer file it belongs to.
    pub fn set_record_field(&mut self, record: &str, field: &str, value: &str) -> Result<DocId> {
        let record = record.trim();
        let rid: RecordId = record.parse()?;
        let doc = self.account_of(record)?;
        let container = self
            .index
            .get(doc)
            .and_then(|rows| rows.container_of(record))
            .ok_or(CoreError::RecordNotFound(rid))?;
        if container == "quotes" && field == "status" && value.trim() == "accepted" {
            self.accept_quote(record)?;
        } else {
            self.set_field(doc, &format!("{container}/{record}/{field}"), value)?;
        }
        Ok(doc)
    }

    /// Adds a contact to a customer file (`crate::model::NewContact::fields`).
    pub fn add_contact(&mut self, account: DocId, fields: &RawFields<'_>) -> Result<RecordId> {
        self.require_account(account)?;
        self.edit(account, |d, ctx| ops::add_contact(d, ctx, fields))
    }

    /// Adds a deal (`crate::model::NewDeal::fields`); the stage defaults to the
    /// first of the pipeline.
    pub fn add_deal(&mut self, account: DocId, fields: &RawFields<'_>) -> Result<RecordId> {
        self.require_account(account)?;
        self.edit(account, |d, ctx| ops::add_deal(d, ctx, fields))
    }

    /// Plans an action (`crate::model::NewAction::fields`).
    pub fn add_action(&mut self, account: DocId, fields: &RawFields<'_>) -> Result<RecordId> {
        self.require_account(account)?;
        self.edit(account, |d, ctx| ops::add_action(d, ctx, fields))
    }

    /// Marks an action done today (or `on`), with an optional outcome.
    pub fn complete_action(
        &mut self,
        action: &str,
        outcome: Option<&str>,
        on: Option<NaiveDate>,
    ) -> Result<()> {
        let doc = self.account_of(action)?;
        let on = on.unwrap_or_else(|| self.today());
        self.edit(doc, |d, ctx| {
            ops::complete_action(d, ctx, action, outcome, on)
        })
    }

    /// The visit report typed at the client's: a visit done today with its
    /// outcome and, optionally, the follow-up action, as one change.
    /// Returns the visit's id.
    pub fn log_visit(&mut self, account: DocId, visit: &VisitReport) -> Result<RecordId> {
        self.require_account(account)?;
        let today = self.today().format("%Y-%m-%d").to_string();
        let mut fields = vec![
            ("type", "visit".to_string()),
            ("subject", visit.subject.clone()),
            ("due", today.clone()),
            ("done_on", today),
            ("outcome", visit.outcome.clone()),
        ];
        if let Some(c) = &visit.contact {
            fields.push(("contact", c.clone()));
        }
        if let Some(d) = &visit.deal {
            fields.push(("deal", d.clone()));
        }
        let follow = visit.follow_up.as_ref().map(|a| a.fields());
        self.edit(account, |d, ctx| {
            let id = ops::add_action(d, ctx, &fields)?;
            if let Some(f) = &follow {
                ops::add_action(d, ctx, f)?;
            }
            Ok(id)
        })
    }

    /// Adds a note to a customer file's timeline.
    pub fn add_note(&mut self, account: DocId, body: &str) -> Result<RecordId> {
        self.require_account(account)?;
        self.edit(account, |d, ctx| ops::add_note(d, ctx, body))
    }

    /// A draft quote with a provisional device number.
    pub fn create_quote(&mut self, account: DocId, fields: &RawFields<'_>) -> Result<RecordId> {
        self.require_account(account)?;
        let prefix = self.settings.quote_prefix.clone();
        let (number, counter) = self.next_number("quote", &prefix)?;
        self.edit_with(account, counter, |d, ctx| {
            ops::create_quote(d, ctx, &number, fields)
        })
    }

    /// Adds a line to a draft quote: from the catalog (`product`) or free.
    pub fn add_quote_line(&mut self, quote: &str, line: &NewQuoteLine) -> Result<RecordId> {
        let doc = self.account_of(quote)?;
        self.edit(doc, |d, ctx| ops::add_quote_line(d, ctx, quote, line))
    }

    /// A quote with its lines and totals, and the customer file holding it.
    pub fn quote(&self, quote: &str) -> Result<(DocId, Quote)> {
        let doc = self.account_of(quote)?;
        let d = self.load(doc)?;
        Ok((doc, ops::read_quote(&d, quote)?))
    }

    /// Accepts a quote and creates its order (provisional number).
    pub fn accept_quote(&mut self, quote: &str) -> Result<RecordId> {
        let account = self.account_of(quote)?;
        let prefix = self.settings.order_prefix.clone();
        let (number, counter) = self.next_number("order", &prefix)?;
        self.edit_with(account, counter, |d, ctx| {
            ops::accept_quote(d, ctx, quote, &number)
        })
    }

    /// Revises a quote (`ops::revise_quote`): a new draft with the same
    /// lines, linked to the original, which reads "superseded".
    pub fn revise_quote(&mut self, quote: &str) -> Result<RecordId> {
        let account = self.account_of(quote)?;
        let prefix = self.settings.quote_prefix.clone();
        let (number, counter) = self.next_number("quote", &prefix)?;
        self.edit_with(account, counter, |d, ctx| {
            ops::revise_quote(d, ctx, quote, &number)
        })
    }

    /// Marks a quote sent, once every legal mention is there
    /// (`crate::legal`); else nothing changes and the refusal
    /// (`ValidationError::MissingMentions`) lists what lacks.
    pub fn send_quote(&mut self, quote: &str) -> Result<()> {
        let account = self.account_of(quote)?;
        self.edit(account, |d, ctx| ops::send_quote(d, ctx, quote))
    }

    /// Writes a message into the outbox of `account` (offline too): the
    /// server sends it once the file reaches it and records the result
    /// here. With a quote, the quote is sent first (every legal mention,
    /// `send_quote`) and its PDF is attached. A recipient who refused
    /// prospecting email is refused (`ValidationError::OptedOut`).
    pub fn queue_email(&mut self, account: DocId, mail: &ops::NewEmail<'_>) -> Result<RecordId> {
        self.require_account(account)?;
        if !mail.attachments.is_empty() {
            let mine = self.library()?;
            if let Some(a) = mail
                .attachments
                .iter()
                .find(|a| !mine.iter().any(|i| &i.blob == *a))
            {
                return Err(ValidationError::Rule(format!(
                    "attachment {a} is not a library document of yours"
                ))
                .into());
            }
        }
        self.edit(account, |d, ctx| ops::queue_email(d, ctx, mail))
    }

    /// Sends a quote by email (`queue_email` with the quote, its default
    /// subject, `message` above the attachment, and library documents
    /// (their blobs) attached too).
    pub fn email_quote(
        &mut self,
        quote: &str,
        to: &str,
        message: &str,
        attachments: &[String],
        lang: crate::text::Lang,
    ) -> Result<RecordId> {
        let account = self.account_of(quote)?;
        self.queue_email(
            account,
            &ops::NewEmail {
                to,
                subject: "",
                message,
                quote: Some(quote),
                attachments,
                lang,
            },
        )
    }

    /// Every outbox message of the files on this device, newest first.
    pub fn outbox(&self) -> Vec<(DocId, crate::index::EmailRow)> {
        let mut out: Vec<(DocId, crate::index::EmailRow)> = self
            .index
            .accounts()
            .flat_map(|(id, _, rows)| rows.emails.iter().map(move |e| (id, e.clone())))
            .collect();
        out.sort_by(|a, b| {
            b.1.created_at
                .cmp(&a.1.created_at)
                .then(a.1.id.cmp(&b.1.id))
        });
        out
    }

    /// The mentions a quote lacks before it can be sent (empty: ready).
    pub fn quote_missing_mentions(&self, quote: &str) -> Result<Vec<crate::legal::Mention>> {
        let account = self.account_of(quote)?;
        let (q, a) = ops::quote_and_account(&self.load(account)?, quote)?;
        Ok(crate::legal::missing(&self.settings, &a, &q))
    }

    /// The quote as a PDF in `lang` (`crate::pdf::quote`), made here,
    /// offline.
    pub fn quote_pdf(&self, quote: &str, lang: crate::text::Lang) -> Result<Vec<u8>> {
        let account = self.account_of(quote)?;
        let (q, a) = ops::quote_and_account(&self.load(account)?, quote)?;
        crate::pdf::quote(&self.heading(), &a, &q, lang)
    }

    /// What heads this device's PDFs: the settings, and the company's
    /// logo when set and downloaded here (it comes with the library:
    /// `blobs_to_fetch`).
    fn heading(&self) -> crate::pdf::Heading {
        let logo = self
            .settings
            .company
            .logo
            .as_deref()
            .and_then(|sha| self.blob_path(sha))
            .and_then(|p| crate::pdf::read_logo(&p));
        crate::pdf::Heading {
            settings: self.settings.clone(),
            logo,
        }
    }

    /// An order as a PDF in `lang` ("bon de commande"), made here, offline.
    pub fn order_pdf(&self, order: &str, lang: crate::text::Lang) -> Result<Vec<u8>> {
        let account = self.account_of(order)?;
        let mut doc = self.load(account)?;
        let file = AccountFile::read(&mut doc)?;
        let (o, quote) = file
            .order(order)
            .ok_or_else(|| ValidationError::Rule(format!("no order {order}")))?;
        crate::pdf::order(&self.heading(), &file.account, o, quote, lang)
    }

    /// A customer file as a PDF to print ("dossier client"), made here,
    /// offline.
    pub fn account_pdf(&self, account: DocId, lang: crate::text::Lang) -> Result<Vec<u8>> {
        let file = self.account_file(account)?;
        crate::pdf::account(&self.heading(), &file, self.today(), lang)
    }

    /// The to-do list up to `until` for `scope` as a PDF ("édition des
    /// actions à effectuer"), made here, offline.
    pub fn todo_pdf(
        &self,
        scope: &crate::reports::Scope,
        until: chrono::NaiveDate,
        lang: crate::text::Lang,
    ) -> Result<Vec<u8>> {
        let items = self.todo(scope, until);
        let who = match scope {
            crate::reports::Scope::User(u) => u.clone(),
            crate::reports::Scope::All => self.identity.user.clone(),
        };
        crate::pdf::todo(&self.heading(), &who, &items, until, self.today(), lang)
    }

    /// Everything in one customer file.
    pub fn account_file(&self, id: DocId) -> Result<AccountFile> {
        self.require_account(id)?;
        AccountFile::read(&mut self.load(id)?)
    }

    /// Customer files whose name (or a contact's) matches; all when `query`
    /// is empty. Names starting with the query come first.
    pub fn search(&self, query: &str, limit: usize) -> Vec<SearchHit> {
        self.index.search(query, limit)
    }

    /// Every change of a document, oldest first: who, when, which fields.
    pub fn history(&self, id: DocId) -> Result<Vec<HistoryEntry>> {
        Ok(self.load(id)?.history())
    }

    /// Every conflicted field of every document (found through the index).
    pub fn conflicts(&self) -> Result<Vec<Conflict>> {
        let mut docs: Vec<DocId> = self
            .index
            .iter()
            .filter(|(_, r)| r.conflicts > 0)
            .map(|(id, _)| *id)
            .collect();
        docs.sort();
        let mut out = Vec::new();
        for id in docs {
            out.extend(self.load(id)?.conflicts());
        }
        Ok(out)
    }

    /// Resolves a conflict by writing the chosen value: an ordinary edit that
    /// supersedes every concurrent value.
    pub fn resolve_conflict(&mut self, doc: DocId, path: &str, raw: &str) -> Result<()> {
        self.set_field(doc, path, raw)
    }

    // ----- reports --------------------------------------------------------------

    /// `user`, or the device's own user when none is named.
    pub fn user_or_me(&self, user: Option<&str>) -> String {
        user.map_or_else(|| self.identity.user.clone(), str::to_string)
    }

    /// The user's own scope for reports.
    pub fn me(&self) -> Scope {
        Scope::User(self.identity.user.clone())
    }

    /// Open actions in `scope` due on or before `until`, overdue first.
    pub fn todo(&self, scope: &Scope, until: NaiveDate) -> Vec<TodoItem> {
        reports::todo(&self.index, scope, until, self.today())
    }

    /// The user's day: everything due by today (overdue first), and
    /// today's visits.
    pub fn my_day(&self) -> MyDay {
        reports::my_day(&self.index, &self.identity.user, self.today())
    }

    /// `Scope::All` (every file this device holds) or the user's own.
    pub fn scope(&self, everyone: bool) -> Scope {
        if everyone {
            Scope::All
        } else {
            self.me()
        }
    }

    /// Open deals by stage, with amounts and weighted amounts.
    pub fn pipeline(&self, scope: &Scope) -> Pipeline {
        reports::pipeline(&self.index, &self.settings, scope)
    }

    /// Weighted forecast by month of expected close, for `months` months.
    pub fn forecast(&self, scope: &Scope, months: u32) -> Forecast {
        reports::forecast(&self.index, &self.settings, scope, self.today(), months)
    }

    /// A user's targets and commission tiers (empty when none are set).
    pub fn plan(&self, user: &str) -> Result<Plan> {
        match self.index.plan_of(user) {
            Some(id) => Ok(Plan::read(&self.load(id)?)),
            None => Ok(Plan {
                user: user.to_string(),
                currency: self.settings.currency.clone(),
                ..Plan::default()
            }),
        }
    }

    /// Target, actual orders and variance of a user for a period.
    pub fn variance(&self, user: &str, period: Period) -> Result<TargetReport> {
        Ok(reports::variance(
            &self.plan(user)?,
            &self.index,
            user,
            period,
        ))
    }

    /// The dashboard of `period` for `scope` (the user's own records, or
    /// every file this device holds), with the user's saved layout (their
    /// directory record, synced from the web app) and the chart of the
    /// last 12 periods of its first indicator. Works offline: the index,
    /// the plans and the directory are all on the device.
    pub fn dashboard(&self, period: Period, scope: &Scope) -> Result<Dashboard> {
        let layout_text = self
            .directory()?
            .users
            .into_iter()
            .find(|u| u.email == self.identity.user)
            .and_then(|u| u.dashboard)
            .unwrap_or_default();
        let layout = Indicator::layout(&layout_text);
        let (users, planned): (Option<std::collections::BTreeSet<String>>, Vec<String>) =
            match scope {
                Scope::User(u) => (Some([u.clone()].into()), vec![u.clone()]),
                Scope::All => (
                    None,
                    self.index
                        .iter()
                        .filter_map(|(_, r)| r.plan_user.clone())
                        .collect(),
                ),
            };
        let mut plans = Vec::new();
        for u in &planned {
            plans.push(self.plan(u)?);
        }
        let accounts = self.index.accounts().map(|(_, _, r)| r).collect();
        Ok(reports::dashboard(
            &DashScope { accounts, users },
            &self.settings,
            &plans,
            period,
            &layout,
            layout[0],
            12,
        ))
    }

    /// A user's commission for a period, tier by tier.
    pub fn commission(&self, user: &str, period: Period) -> Result<Commission> {
        let plan = self.plan(user)?;
        let target = reports::target_for(&plan, period);
        let (revenue, _) = reports::actual_orders(&self.index, user, period);
        Ok(reports::commission(&plan.tiers, target, revenue))
    }

    fn plan_doc(&mut self, user: &str) -> Result<DocId> {
        let user = crate::validate::email("user", user)?;
        if let Some(id) = self.index.plan_of(&user) {
            return Ok(id);
        }
        let currency = self.settings.currency.clone();
        self.create(DocKind::Plan, |doc, _| {
            ops::init_plan(doc, &user, &currency)
        })
    }

    /// Sets a user's target for a period (`2026`, `2026-Q4`, `2026-11`).
    pub fn set_target(&mut self, user: &str, period: Period, amount: &str) -> Result<()> {
        let cents = crate::money::parse_amount("amount", amount)?;
        let doc = self.plan_doc(user)?;
        let key = period.to_string();
        self.edit(doc, |d, _| ops::set_target(d, &key, cents))
    }

    /// Replaces a user's commission tiers: (from % of target, rate %).
    pub fn set_tiers(&mut self, user: &str, tiers: &[(String, String)]) -> Result<()> {
        let doc = self.plan_doc(user)?;
        self.edit(doc, |d, ctx| ops::set_tiers(d, ctx, tiers))
    }

    // ----- settings and catalog ------------------------------------------

    /// Adds a product to the catalog.
    pub fn add_product(&mut self, fields: &RawFields<'_>) -> Result<RecordId> {
        let doc = self.singleton_id(DocKind::Catalog)?;
        let mut raw = fields.to_vec();
        if !raw.iter().any(|(k, _)| *k == "currency") {
            raw.push(("currency", self.settings.currency.clone()));
        }
        self.edit(doc, |d, ctx| {
            let id = RecordId::new();
            let mut parsed = Vec::new();
            for (k, v) in &raw {
                parsed.push((
                    *k,
                    crate::doc::value::parse(RecordKind::Product.field(k), v, &ctx.vocab)?,
                ));
            }
            if parsed
                .iter()
                .any(|(k, _)| RecordKind::Product.field(k).is_none())
            {
                return Err(ValidationError::Rule("unknown product field".into()).into());
            }
            let sku = parsed
                .iter()
                .find(|(k, _)| *k == "sku")
                .map(|(_, v)| v.clone());
            if let Some(crate::doc::FieldValue::Str(sku)) = sku {
                if ctx.catalog.find(&sku).is_some() {
                    return Err(ValidationError::Rule(format!("SKU {sku} already exists")).into());
                }
            }
            d.create_record(&["products"], &id.to_string(), RecordKind::Product, &parsed)?;
            Ok(id)
        })
    }

    /// The library documents meant for this user, newest first: the
    /// server's rule, mirrored (managers and admins: all; a rep: those for
    /// everyone, a territory they cover, or their manager's team).
    pub fn library(&self) -> Result<Vec<crate::model::LibraryItem>> {
        let Ok(lib) = self.singleton_id(DocKind::Library) else {
            return Ok(Vec::new());
        };
        let items = crate::model::LibraryItem::all(&self.load(lib)?);
        let dir_doc = self.load(self.singleton_id(DocKind::Directory)?)?;
        let me = self.identity.user.as_str();
        let users = Directory::read(&dir_doc).users;
        let Some(user) = users.iter().find(|u| u.email == me) else {
            return Ok(Vec::new());
        };
        if user.role != "rep" {
            return Ok(items);
        }
        let h = dir_doc.hydrated();
        let territories: Vec<String> = crate::model::Rec(&h)
            .records("territories")
            .into_iter()
            .filter(|(_, t)| t.get_tags("reps").iter().any(|r| r == me))
            .map(|(_, t)| t.string("name"))
            .collect();
        let mine: Vec<&str> = territories.iter().map(String::as_str).collect();
        Ok(items
            .into_iter()
            .filter(|i| i.targets(&mine, user.manager.as_deref()))
            .collect())
    }

    /// The tenant's users, roles and managers.
    pub fn directory(&self) -> Result<Directory> {
        Ok(Directory::read(
            &self.load(self.singleton_id(DocKind::Directory)?)?,
        ))
    }

    // ----- the store as a whole -----------------------------------------------

    /// Every document id in the store.
    pub fn doc_ids(&self) -> Result<Vec<DocId>> {
        Ok(self.store.doc_ids()?)
    }

    /// The index rebuilt from every document, ignoring the stored rows: what
    /// the incremental index must always equal.
    pub fn rebuild_index(&self) -> Result<Index> {
        let mut idx = Index::new();
        for id in self.store.doc_ids()? {
            let mut d = self.load(id)?;
            idx.put(id, DocRows::of(&mut d)?);
        }
        Ok(idx)
    }
}
