//! The admin's import (`carnet-server import accounts FILE`): the core's
//! import (`carnet_core::import`) writing into the tenant as the admin,
//! with the duplicate checks against every file of the tenant (a user's,
//! from the web, against the files they may see); the tenant-wide
//! duplicate groups; and a new customer file from the web app's form,
//! made as an imported one is.
//!
//! The core's import is synchronous (it reads a file as it streams); it
//! runs on its own thread. There each new file is built whole as one
//! change (`ops::new_account`, as on a device) and judged as any creation
//! by the importer, so a refused row is known at once; accepted files are
//! held (a contact on a later row joins its file's change, as on a
//! device) and sent to this async side in groups to be stored, while the
//! thread reads on. Up to `IN_FLIGHT` files are being stored at a time,
//! which the group-commit writer flushes together instead of once a row.
//! Any other request (a contact for a file already sent, a file's
//! contacts) waits for those stores and is answered. A failed store stops
//! the import with an error, whatever rows were counted.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use carnet_core::dedup;
use carnet_core::doc::Writer;
use carnet_core::import::{self, Existing, Fields, Held, Overrides, Report};
use carnet_core::ops::RawFields;
use carnet_core::{ops, CoreError, DocId, DocKind, ValidationError};
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::mpsc;

use super::judge::Accepted;
use super::{EditError, Tenant, TenantError};

/// Files of an import stored at once: written in the same groups by the
/// group-commit writer instead of one flush each.
const IN_FLIGHT: usize = 256;

/// New files held on the import's thread before they are sent to be
/// stored: a company's contacts on the rows after it join its file.
const SEND_GROUP: usize = 64;

enum Req {
    /// New files, built and accepted: stored without an answer.
    Store(Vec<Accepted>),
    AddContact(
        DocId,
        Fields,
        std::sync::mpsc::Sender<carnet_core::Result<()>>,
    ),
    Contacts(
        DocId,
        std::sync::mpsc::Sender<Vec<(String, Option<String>)>>,
    ),
}

struct ChannelSink {
    tx: mpsc::Sender<Req>,
    tenant: Arc<Tenant>,
    writer: Writer,
    judged: bool,
    held: Held<Accepted>,
    /// Set by the async side when a store failed.
    failed: Arc<OnceLock<String>>,
}

/// Keeps the first failed store's error: it stops the import.
fn note_failure(done: Result<(), TenantError>, failed: &OnceLock<String>) {
    if let Err(e) = done {
        let _ = failed.set(e.to_string());
    }
}

/// Waits for every store in flight.
async fn settle<F>(stores: &mut FuturesUnordered<F>, failed: &OnceLock<String>)
where
    F: std::future::Future<Output = Result<(), TenantError>>,
{
    while let Some(done) = stores.next().await {
        note_failure(done, failed);
    }
}

fn gone() -> CoreError {
    CoreError::Export("the server stopped during the import".into())
}

fn storage_failed(e: &str) -> CoreError {
    CoreError::Export(format!("storage failed: {e}"))
}

impl ChannelSink {
    fn stopped(&self) -> carnet_core::Result<()> {
        match self.failed.get() {
            Some(e) => Err(storage_failed(e)),
            None => Ok(()),
        }
    }

    /// Sends the held files to be stored.
    fn send_held(&mut self) -> carnet_core::Result<()> {
        if self.held.is_empty() {
            return Ok(());
        }
        self.tx
            .blocking_send(Req::Store(self.held.take()))
            .map_err(|_| gone())
    }
}

impl import::Sink for ChannelSink {
    fn create(&mut self, account: &Fields, contacts: &[Fields]) -> carnet_core::Result<DocId> {
        self.stopped()?;
        let id = DocId::new();
        let accepted = self
            .tenant
            .plan_file(&self.writer, self.judged, id, account, contacts)
            .map_err(edit_error)?;
        self.held.push(id, account, contacts, accepted);
        if self.held.len() >= SEND_GROUP {
            self.send_held()?;
        }
        Ok(id)
    }

    fn add_contact(&mut self, account: DocId, contact: &Fields) -> carnet_core::Result<()> {
        self.stopped()?;
        let (tenant, writer, judged) = (&self.tenant, &self.writer, self.judged);
        if let Some(built) = self.held.add_contact(account, contact, |id, a, c| {
            tenant
                .plan_file(writer, judged, id, a, c)
                .map_err(edit_error)
        }) {
            return built;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        self.tx
            .blocking_send(Req::AddContact(account, contact.clone(), tx))
            .map_err(|_| gone())?;
        rx.recv().map_err(|_| gone())?
    }

    fn contacts_of(&mut self, account: DocId) -> Vec<(String, Option<String>)> {
        let (tx, rx) = std::sync::mpsc::channel();
        if self.tx.blocking_send(Req::Contacts(account, tx)).is_err() {
            return Vec::new();
        }
        rx.recv().unwrap_or_default()
    }
}

/// A refused write stays a refusal (the row is rejected); anything else
/// stops the import.
fn core_error(e: TenantError) -> CoreError {
    match e {
        TenantError::Core(c) => c,
        TenantError::Invalid(m) => ValidationError::Rule(m).into(),
        other => CoreError::Export(other.to_string()),
    }
}

fn edit_error(e: EditError) -> CoreError {
    match e {
        EditError::Hidden => ValidationError::Rule(crate::acl::NOT_PERMITTED.to_string()).into(),
        EditError::Refused(reason) => ValidationError::Rule(reason).into(),
        EditError::Invalid(c) => c,
        EditError::Tenant(t) => core_error(t),
    }
}

/// Who an import writes as.
pub enum Importer {
    /// An admin command: written as this admin, checked for duplicates
    /// against every file of the tenant.
    Admin(String),
    /// A user of the web app: every file judged as any edit of theirs, and
    /// checked for duplicates against the files they may see only (a
    /// hidden file is never named).
    User(Writer),
}

impl Tenant {
    /// What `f` makes of every customer file of the tenant (an admin's
    /// reach).
    fn with_all_rows<T>(&self, f: impl FnOnce(&carnet_core::index::Index) -> T) -> T {
        f(&self.rows.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Imports accounts from the CSV at `path`, as `who`.
    pub async fn import_accounts(
        self: &Arc<Self>,
        who: Importer,
        path: PathBuf,
        overrides: Overrides,
        opts: import::Options,
    ) -> Result<Report, TenantError> {
        let file = std::fs::File::open(&path)
            .map_err(|e| TenantError::Invalid(format!("{}: {e}", path.display())))?;
        let existing: Vec<Existing> = match &who {
            Importer::Admin(_) => self.with_all_rows(import::existing_in),
            Importer::User(w) => self.with_visible(&w.user, |f| import::existing_in(f)),
        };
        let (writer, judged) = match who {
            Importer::Admin(admin) => (
                Writer {
                    user: admin,
                    actor: automerge::ActorId::random(),
                    now: chrono::Utc::now().timestamp(),
                },
                false,
            ),
            Importer::User(w) => (w, true),
        };
        let vocab = self.vocab();
        let failed = Arc::new(OnceLock::new());
        let (tx, mut rx) = mpsc::channel::<Req>(64);
        let mut sink = ChannelSink {
            tx,
            tenant: self.clone(),
            writer: writer.clone(),
            judged,
            held: Held::default(),
            failed: failed.clone(),
        };
        let worker = std::thread::spawn(move || {
            import::accounts(
                std::io::BufReader::new(file),
                &overrides,
                &vocab,
                existing,
                &mut sink,
                &opts,
                &mut |_| {},
            )
            .and_then(|report| sink.send_held().map(|()| report))
        });
        let mut stores = FuturesUnordered::new();
        loop {
            let req = tokio::select! {
                biased;
                Some(done) = stores.next(), if !stores.is_empty() => {
                    note_failure(done, &failed);
                    continue;
                }
                req = rx.recv(), if stores.len() < IN_FLIGHT => match req {
                    Some(req) => req,
                    None => break,
                },
            };
            if !matches!(req, Req::Store(_)) {
                // An edit of a file made by this import waits for its slot,
                // which an unfinished store holds; a file's contacts are in
                // its rows once stored.
                settle(&mut stores, &failed).await;
            }
            if let Some(e) = failed.get() {
                // Stopped: nothing more is written.
                match req {
                    Req::Store(_) => {}
                    Req::AddContact(_, _, reply) => drop(reply.send(Err(storage_failed(e)))),
                    Req::Contacts(_, reply) => drop(reply.send(Vec::new())),
                }
                continue;
            }
            match req {
                Req::Store(files) => {
                    for accepted in files {
                        stores.push(self.store_planned(accepted, &writer.user));
                    }
                }
                Req::AddContact(id, contact, reply) => {
                    let add = |doc: &mut carnet_core::doc::CrmDoc,
                               ctx: &carnet_core::ops::EditCtx<'_>| {
                        ops::add_contact(doc, ctx, &contact).map(|_| ())
                    };
                    let r = if judged {
                        self.edit_for(&writer, id, DocKind::Account, false, add)
                            .await
                            .map_err(edit_error)
                    } else {
                        self.edit_as_user(&writer, id, DocKind::Account, add)
                            .await
                            .map(|_| ())
                            .map_err(core_error)
                    };
                    let _ = reply.send(r);
                }
                Req::Contacts(id, reply) => {
                    let contacts = self
                        .rows(id)
                        .map(|r| import::contacts_in(&r))
                        .unwrap_or_default();
                    let _ = reply.send(contacts);
                }
            }
        }
        settle(&mut stores, &failed).await;
        let report = worker
            .join()
            .map_err(|_| TenantError::Invalid("the import stopped unexpectedly".into()))?
            .map_err(TenantError::Core)?;
        match failed.get() {
            // Files counted as created but not stored: the import failed.
            Some(e) => Err(TenantError::Invalid(format!("storage failed: {e}"))),
            None => Ok(report),
        }
    }

    /// A new customer file `id`, built whole (`ops::new_account`) and
    /// judged as any creation by the writer when `judged`. An import's
    /// run on its own thread.
    fn plan_file(
        &self,
        writer: &Writer,
        judged: bool,
        id: DocId,
        account: &RawFields<'_>,
        contacts: &[Fields],
    ) -> Result<Accepted, EditError> {
        let parts = self.edit_parts();
        let (doc, rows) =
            ops::new_account(&parts.ctx(writer, self.vocab()), id, account, contacts)?;
        if !judged {
            return Ok(Accepted { doc, rows });
        }
        self.judge(&writer.user)
            .judge_built(doc, rows)
            .map_err(EditError::refusal)
    }

    /// A new customer file made by `w` (the web app's form): built whole
    /// as one change, judged as any creation of theirs, stored.
    pub async fn create_account_for(
        &self,
        w: &Writer,
        account: &RawFields<'_>,
    ) -> Result<DocId, EditError> {
        let id = DocId::new();
        let accepted = self.plan_file(w, true, id, account, &[])?;
        self.store_planned(accepted, &w.user).await?;
        Ok(id)
    }

    /// Stores a file `plan_file` made. Several are in flight at once, so
    /// the group-commit writer flushes them together.
    async fn store_planned(&self, accepted: Accepted, user: &str) -> Result<(), TenantError> {
        let slot = self.slot(accepted.doc.id()).await?;
        // A fresh id: the slot is free.
        let mut slot = slot.lock().await;
        // A failed commit evicts the file: nothing of it stays.
        self.store_new(&mut slot, accepted, user).await
    }

    /// Writes the whole store to a new file at `path` (mode 0600), as
    /// `carnet_core::backup` lays it out.
    pub fn backup_to(
        &self,
        path: &std::path::Path,
    ) -> Result<carnet_core::backup::Counts, TenantError> {
        let mut open = std::fs::OpenOptions::new();
        open.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            open.mode(0o600);
        }
        let file = open
            .open(path)
            .map_err(|e| TenantError::Invalid(format!("{}: {e}", path.display())))?;
        let counts = carnet_core::backup::write(&self.store, std::io::BufWriter::new(file))?;
        Ok(counts)
    }

    /// Groups of files of the whole tenant that look like one company.
    pub fn duplicate_groups(&self) -> Vec<dedup::Group<DocId>> {
        self.with_all_rows(dedup::groups_in)
    }
}
