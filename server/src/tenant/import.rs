//! The admin's import (`carnet-server import accounts FILE`): the core's
//! import (`carnet_core::import`) writing into the tenant as the admin,
//! with the duplicate checks against every file of the tenant, and the
//! tenant-wide duplicate groups.
//!
//! The core's import is synchronous (it reads a file as it streams); it
//! runs on its own thread and asks this async side for each write through
//! a channel, so every write takes the same path as any other admin edit.

use std::path::PathBuf;

use carnet_core::dedup;
use carnet_core::doc::Writer;
use carnet_core::import::{self, Existing, Fields, Overrides, Report};
use carnet_core::{ops, CoreError, DocId, DocKind, ValidationError};
use tokio::sync::mpsc;

use super::{EditError, Tenant, TenantError};

enum Req {
    Create(
        Fields,
        Vec<Fields>,
        std::sync::mpsc::Sender<carnet_core::Result<DocId>>,
    ),
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

struct ChannelSink(mpsc::Sender<Req>);

fn gone() -> CoreError {
    CoreError::Export("the server stopped during the import".into())
}

impl import::Sink for ChannelSink {
    fn create(&mut self, account: &Fields, contacts: &[Fields]) -> carnet_core::Result<DocId> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.0
            .blocking_send(Req::Create(account.clone(), contacts.to_vec(), tx))
            .map_err(|_| gone())?;
        rx.recv().map_err(|_| gone())?
    }

    fn add_contact(&mut self, account: DocId, contact: &Fields) -> carnet_core::Result<()> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.0
            .blocking_send(Req::AddContact(account, contact.clone(), tx))
            .map_err(|_| gone())?;
        rx.recv().map_err(|_| gone())?
    }

    fn contacts_of(&mut self, account: DocId) -> Vec<(String, Option<String>)> {
        let (tx, rx) = std::sync::mpsc::channel();
        if self.0.blocking_send(Req::Contacts(account, tx)).is_err() {
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
        &self,
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
        let vocab = self.vocab();
        let (tx, mut rx) = mpsc::channel::<Req>(16);
        let worker = std::thread::spawn(move || {
            import::accounts(
                std::io::BufReader::new(file),
                &overrides,
                &vocab,
                existing,
                &mut ChannelSink(tx),
                &opts,
                &mut |_| {},
            )
        });
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
        while let Some(req) = rx.recv().await {
            match req {
                Req::Create(account, contacts, reply) => {
                    let id = DocId::new();
                    let fill =
                        |doc: &mut carnet_core::doc::CrmDoc,
                         ctx: &carnet_core::ops::EditCtx<'_>| {
                            ops::init_account(doc, ctx, &account)?;
                            for c in &contacts {
                                ops::add_contact(doc, ctx, c)?;
                            }
                            Ok(())
                        };
                    let r = if judged {
                        self.edit_for(&writer, id, DocKind::Account, true, fill)
                            .await
                            .map_err(edit_error)
                    } else {
                        self.edit_as_user(&writer, id, DocKind::Account, fill)
                            .await
                            .map(|_| ())
                            .map_err(core_error)
                    };
                    if r.is_err() {
                        // Nothing was stored: forget the half-made slot.
                        self.evict(id);
                    }
                    let _ = reply.send(r.map(|_| id));
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
        worker
            .join()
            .map_err(|_| TenantError::Invalid("the import stopped unexpectedly".into()))?
            .map_err(TenantError::Core)
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
