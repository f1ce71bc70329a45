//! Erasing a person (decision 007, `carnet_core::erase`): their customer
//! file is rewritten without its history and stored as a fresh snapshot,
//! the store is compacted so the old bytes leave the disk, and every
//! device holding the old copy is told to replace it. The old lineage's
//! change hashes are kept (they hold no personal data): a change that
//! builds on them is never merged again, which would bring the person back.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use automerge::{ActorId, AutoCommit, ChangeHash};
use carnet_core::doc::Writer;
use carnet_core::erase::{self, Person};
use carnet_core::store::{Batch, Durability, Store};
use carnet_core::sync::frame::Replaced;
use carnet_core::{DocId, DocKind};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Result, Tenant, TenantError, SERVER_AUTHOR};

/// What a device of protocol 1 is told when it pushes edits to a file
/// rewritten by an erasure (it cannot replace its copy on its own).
pub const ERASED_REASON: &str = "ce dossier a été réécrit pour effacer une personne \
(RGPD) : vos modifications hors ligne n'ont pas pu être reprises ; \
utilisez « carnet revert » pour recevoir le nouveau dossier";

/// The old histories of a rewritten document, and who was erased.
#[derive(Clone, Debug, Default)]
pub struct Lineage {
    /// Every change hash of the histories the rewrites left behind.
    pub old: HashSet<ChangeHash>,
    /// Erased record ids, every erasure of this document.
    pub erased: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    erased: Vec<String>,
    old: Vec<String>,
}

fn lineage_key(doc: DocId) -> String {
    format!("erased/{doc}")
}

/// A device that still holds the old copy of `doc`.
fn stale_key(device: Uuid, doc: DocId) -> String {
    format!("stale/{device}/{doc}")
}

/// What an erasure did.
#[derive(Clone, Debug, Serialize)]
pub struct Erasure {
    /// The customer files rewritten (more than one after a merge).
    pub accounts: Vec<DocId>,
    pub contact: String,
    /// Copies on devices to replace (now, or at their next sync).
    pub device_copies: usize,
    /// The store's bytes on disk before and after compaction.
    pub store_bytes_before: u64,
    pub store_bytes_after: u64,
}

impl Lineage {
    /// Whether a device's heads or changes come from an old history.
    pub fn clashes(&self, heads: &[ChangeHash], am: Option<&mut AutoCommit>) -> bool {
        if heads.iter().any(|h| self.old.contains(h)) {
            return true;
        }
        let Some(am) = am else {
            return false;
        };
        am.get_missing_deps(&[])
            .iter()
            .any(|h| self.old.contains(h))
            || self.old.iter().any(|h| am.get_change_by_hash(h).is_some())
    }
}

/// The lineages recorded in `store`.
pub(super) fn load(store: &impl Store) -> Result<HashMap<DocId, Arc<Lineage>>> {
    let mut out = HashMap::new();
    for (k, v) in store.meta_scan("erased/", None, usize::MAX)? {
        let Some(doc) = k.strip_prefix("erased/").and_then(|d| d.parse().ok()) else {
            continue;
        };
        let s: Stored = serde_json::from_slice(&v)
            .map_err(|e| TenantError::Invalid(format!("corrupt {k}: {e}")))?;
        out.insert(
            doc,
            Arc::new(Lineage {
                old: s.old.iter().filter_map(|h| h.parse().ok()).collect(),
                erased: s.erased,
            }),
        );
    }
    Ok(out)
}

impl Tenant {
    /// The old histories of `doc`, if a person was erased from it.
    pub fn lineage(&self, doc: DocId) -> Option<Arc<Lineage>> {
        self.lineages.read().ok()?.get(&doc).cloned()
    }

    /// What a device of protocol 2 is told of a rewritten document.
    pub fn replaced(&self, doc: DocId) -> Replaced {
        Replaced {
            doc,
            erased: self
                .lineage(doc)
                .map(|l| l.erased.clone())
                .unwrap_or_default(),
        }
    }

    /// Documents whose old copy `device` still holds.
    pub fn stale_docs(&self, device: Uuid) -> Vec<DocId> {
        self.docs_under(&format!("stale/{device}/"))
    }

    pub fn is_stale(&self, device: Uuid, doc: DocId) -> bool {
        self.store
            .meta(&stale_key(device, doc))
            .ok()
            .flatten()
            .is_some()
    }

    /// `device` dropped or replaced its old copies of `docs`.
    pub fn clear_stale(&self, device: Uuid, docs: &[DocId]) -> Result<()> {
        let mut b = Batch::new();
        for d in docs {
            if self.is_stale(device, *d) {
                b.delete_meta(stale_key(device, *d));
            }
        }
        if !b.is_empty() {
            self.store.write(b, Durability::Flushed)?;
        }
        Ok(())
    }

    /// Rewrites the store's files (`SledStore::compact_files`) while
    /// writes wait; bytes on disk before and after.
    pub fn compact_store(&self) -> Result<(u64, u64)> {
        let compact = || self.store.compact_files();
        let flavor = tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor());
        Ok(match flavor {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(compact),
            _ => compact(),
        }?)
    }

    /// Erases contact `contact` (an id) from every customer file holding
    /// it (a merge copies a file's contacts, ids and all, into the file
    /// kept): rewrites each, compacts the store once, and marks every
    /// device holding one of them to replace it.
    pub async fn erase_contact(&self, contact: &str) -> Result<Erasure> {
        let contact = contact.trim();
        let mut accounts = Vec::new();
        // A merged file's rows list no contact (its records are counted in
        // the file kept): those files are opened to look.
        let mut merged = Vec::new();
        self.for_each_row(|doc, rows| match &rows.account {
            Some(a) if a.merged_into.is_some() => merged.push(doc),
            Some(_) if rows.contacts.iter().any(|c| c.id == contact) => accounts.push(doc),
            _ => {}
        });
        for doc in merged {
            let slot = self.slot(doc).await?;
            let slot = slot.lock().await;
            if slot
                .doc
                .as_ref()
                .is_some_and(|d| d.record(&["contacts"], contact).is_some())
            {
                accounts.push(doc);
            }
        }
        if accounts.is_empty() {
            return Err(TenantError::Invalid(format!("no contact {contact}")));
        }
        let mut copies = 0;
        for doc in &accounts {
            copies += self.erase_in(*doc, contact).await?;
        }
        // Old values stay in sled's log until it is rewritten.
        let (before, after) = self.compact_store().map_err(|e| {
            TenantError::Invalid(format!(
                "the person is erased from the file, but the store could not be rewritten \
                 ({e}): old bytes stay on disk until `carnet-server compact` succeeds"
            ))
        })?;
        tracing::info!(files = accounts.len(), copies, "person erased");
        Ok(Erasure {
            accounts,
            contact: contact.to_string(),
            device_copies: copies,
            store_bytes_before: before,
            store_bytes_after: after,
        })
    }

    /// Rewrites `doc` without contact `contact`; returns the devices
    /// marked to replace their copy.
    async fn erase_in(&self, doc: DocId, contact: &str) -> Result<usize> {
        let slot = self.slot(doc).await?;
        let mut slot = slot.lock().await;
        let devices: Vec<Uuid> = self
            .store
            .meta_scan("granted/", None, usize::MAX)?
            .into_iter()
            .filter_map(|(k, _)| {
                let (device, d) = k.strip_prefix("granted/")?.split_once('/')?;
                (d.parse::<DocId>().ok()? == doc).then(|| device.parse().ok())?
            })
            .collect();
        let old = slot
            .doc
            .as_mut()
            .ok_or_else(|| TenantError::Invalid(format!("no contact {contact}")))?;
        if old.kind() != DocKind::Account || old.record(&["contacts"], contact).is_none() {
            return Err(TenantError::Invalid(format!("no contact {contact}")));
        }
        let person = Person::of(old, contact)?;
        // A fresh actor: the new history shares no actor sequence with
        // the old one.
        let writer = Writer {
            user: SERVER_AUTHOR.to_string(),
            actor: ActorId::random(),
            now: chrono::Utc::now().timestamp(),
        };
        let mut fresh = erase::rewrite(old, &person, &writer)?;
        let mut lineage = self.lineage(doc).map(|l| (*l).clone()).unwrap_or_default();
        lineage
            .old
            .extend(old.change_graph().into_iter().map(|(h, _, _)| h));
        lineage.erased.push(contact.to_string());
        let stored = Stored {
            erased: lineage.erased.clone(),
            old: lineage.old.iter().map(|h| h.to_string()).collect(),
        };
        let mut meta = vec![(
            lineage_key(doc),
            serde_json::to_vec(&stored).map_err(|e| TenantError::Invalid(e.to_string()))?,
        )];
        for d in &devices {
            meta.push((stale_key(*d, doc), Vec::new()));
        }
        // A merged file's later edits are measured from its merge base:
        // from now on, from the new history.
        let base = super::merge::base_key(doc);
        if self.store.meta(&base)?.is_some() {
            meta.push((
                base,
                carnet_core::merge::heads_text(&fresh.heads()).into_bytes(),
            ));
        }
        // Known before anyone hears of the new copy (sessions read it to
        // refuse the old history and to tell devices what was erased).
        let previous = self
            .lineages
            .write()
            .map_err(|_| TenantError::Invalid("lineages poisoned".into()))?
            .insert(doc, Arc::new(lineage));
        slot.doc = Some(fresh);
        slot.chunks = 0;
        if let Err(e) = self.commit(&mut slot, &[], meta, None).await {
            if let Ok(mut l) = self.lineages.write() {
                match previous {
                    Some(p) => l.insert(doc, p),
                    None => l.remove(&doc),
                };
            }
            return Err(e);
        }
        Ok(devices.len())
    }
}
