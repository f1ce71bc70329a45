//! Merging two customer files on the server (`carnet_core::merge`), and
//! keeping the merge true: whenever a merged file changes (a device that
//! was offline during the merge synced its edits), what changed is carried
//! into the file it was merged into. The server writes both, so numbered
//! quotes and sent messages move with their numbers and results; devices
//! get both files by the ordinary sync and converge.

use std::sync::Arc;

use carnet_core::doc::CrmDoc;
use carnet_core::merge;
use carnet_core::store::{Batch, Durability, Store};
use carnet_core::{DocId, DocKind};

use super::{Event, Tenant, TenantError};

/// Where the server keeps a merged file's heads as last carried over.
pub(super) fn base_key(loser: DocId) -> String {
    format!("merge-base/{loser}")
}

impl Tenant {
    /// A copy of a stored document, to read while another is edited.
    async fn doc_copy(&self, id: DocId) -> Result<CrmDoc, TenantError> {
        let slot = self.slot(id).await?;
        let mut slot = slot.lock().await;
        let d = slot
            .doc
            .as_mut()
            .ok_or_else(|| TenantError::Invalid(format!("no file {id}")))?;
        CrmDoc::from_automerge(id, d.automerge().fork())
            .map_err(|e| TenantError::Invalid(format!("file {id}: {e}")))
    }

    /// Merges `loser` into `winner` (both customer files, neither merged):
    /// returns the records copied.
    pub async fn merge_accounts(&self, winner: DocId, loser: DocId) -> Result<usize, TenantError> {
        for id in [winner, loser] {
            if self.rows(id).and_then(|r| r.account).is_none() {
                return Err(TenantError::Invalid(format!("no customer file {id}")));
            }
        }
        let mut from = self.doc_copy(loser).await?;
        let heads = from.heads();
        let mut copied = 0;
        self.edit_as_server(winner, DocKind::Account, |w| {
            copied = merge::absorb(w, &from)?;
            Ok(())
        })
        .await?;
        // What later edits of the merged file are measured from: written
        // before the mark, so an edit arriving right after it is carried.
        let mut b = Batch::new();
        b.put_meta(base_key(loser), merge::heads_text(&heads).into_bytes());
        self.store.write(b, Durability::Flushed)?;
        self.edit_as_server(loser, DocKind::Account, |l| {
            merge::mark_merged(l, winner, &heads)
        })
        .await?;
        Ok(copied)
    }

    /// Carries into its file what changed in a merged file since the last
    /// time (or since the merge). Returns the fields and records written.
    pub async fn forward_merge(&self, loser: DocId) -> Result<usize, TenantError> {
        let Some(winner) = self
            .rows(loser)
            .and_then(|r| r.account)
            .and_then(|a| a.merged_into)
        else {
            return Ok(0);
        };
        let mut from = self.doc_copy(loser).await?;
        let heads = from.heads();
        // Only a merge this server made has a base: a file claiming to be
        // merged any other way is not carried anywhere.
        let Some(base) = self.store.meta(&base_key(loser))? else {
            return Ok(0);
        };
        let base = merge::parse_heads(&String::from_utf8_lossy(&base));
        if base == heads {
            return Ok(0);
        }
        let mut n = 0;
        self.edit_as_server(winner, DocKind::Account, |w| {
            n = merge::forward(w, &from, &base)?;
            Ok(())
        })
        .await?;
        let mut b = Batch::new();
        b.put_meta(base_key(loser), merge::heads_text(&heads).into_bytes());
        self.store.write(b, Durability::Flushed)?;
        Ok(n)
    }
}

/// Forwards merged files' changes as they arrive, for as long as the
/// server runs.
pub fn spawn(tenant: Arc<Tenant>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut events = tenant.subscribe();
        loop {
            match events.recv().await {
                Ok(Event::Doc {
                    doc,
                    kind: DocKind::Account,
                    ..
                }) => {
                    let merged = tenant
                        .rows(doc)
                        .and_then(|r| r.account)
                        .is_some_and(|a| a.merged_into.is_some());
                    if merged {
                        if let Err(e) = tenant.forward_merge(doc).await {
                            tracing::warn!(%doc, error = %e, "forwarding a merged file failed");
                        }
                    }
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    // Missed events: look at every merged file once.
                    let mut merged = Vec::new();
                    tenant.for_each_row(|id, r| {
                        if r.account.as_ref().is_some_and(|a| a.merged_into.is_some()) {
                            merged.push(id);
                        }
                    });
                    for id in merged {
                        let _ = tenant.forward_merge(id).await;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    })
}
