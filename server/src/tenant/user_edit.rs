//! Edits a logged-in user makes on the server (the web app). The domain's
//! document operations (`carnet_core::ops`, what `Device` runs on a phone)
//! run on a fork of the held document as that user; the fork is then judged
//! by the same `Judge` as a device's change (schema, read-only fields,
//! numbers, the one authorization decision on what the change produces),
//! stored by the same group-commit writer, numbered like a device's quote,
//! and pushed live to connected devices. There is no second validator and
//! no second commit path.

use carnet_core::doc::{CrmDoc, Writer};
use carnet_core::index::{DocRows, Filtered};
use carnet_core::model::{Catalog, Plan, Settings};
use carnet_core::ops::EditCtx;
use carnet_core::persist;
use carnet_core::reports::Tallies;
use carnet_core::{DocId, DocKind};

use super::judge::Before;
use super::{Tenant, TenantError};
use crate::acl::NOT_PERMITTED;

/// Why a user's edit did not happen. Nothing was written in any case.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The document does not exist or the user may not see it (one answer
    /// for both).
    #[error("{NOT_PERMITTED}")]
    Hidden,
    /// The input broke a rule of the domain (a bad date, an unknown stage).
    #[error(transparent)]
    Invalid(#[from] carnet_core::CoreError),
    /// The judge refused what the change would produce (read-only field,
    /// a document the user may not write).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Tenant(#[from] TenantError),
}

impl EditError {
    /// The judge's refusal: a change the user could not see afterwards is
    /// answered as a missing document.
    pub(super) fn refusal(reason: String) -> Self {
        if reason == NOT_PERMITTED {
            EditError::Hidden
        } else {
            EditError::Refused(reason)
        }
    }
}

/// The settings and catalog the domain's operations read, cached between
/// rule refreshes (every web edit needs them).
#[derive(Default)]
pub struct EditParts {
    pub settings: Settings,
    pub catalog: Catalog,
}

impl EditParts {
    /// What the domain's operations read, for a change by `w` (dated by
    /// its clock).
    pub fn ctx<'a>(&'a self, w: &'a Writer, vocab: carnet_core::doc::Vocab) -> EditCtx<'a> {
        let today = chrono::DateTime::from_timestamp(w.now, 0).unwrap_or_default();
        EditCtx {
            writer: w,
            vocab,
            settings: &self.settings,
            catalog: &self.catalog,
            today: today.date_naive(),
        }
    }
}

impl Tenant {
    /// Runs `f` on document `doc` as `w.user`, as one change, and stores it
    /// if the judge accepts it. `create`: the document is new (of `kind`);
    /// otherwise it must exist, be of `kind`, and be visible to the user.
    pub async fn edit_for<T>(
        &self,
        w: &Writer,
        doc: DocId,
        kind: DocKind,
        create: bool,
        f: impl FnOnce(&mut CrmDoc, &EditCtx<'_>) -> carnet_core::Result<T>,
    ) -> Result<T, EditError> {
        let parts = self.edit_parts();
        let ctx = parts.ctx(w, self.vocab());
        let judge = self.judge(&w.user);
        let slot = self.slot(doc).await?;
        let mut slot = slot.lock().await;
        match slot.doc.as_mut() {
            None if create => {
                let mut fresh = CrmDoc::create(doc, kind, w)?;
                let out = persist::edit(&mut fresh, w, |d| f(d, &ctx))?;
                let accepted = judge.judge_create(fresh).map_err(EditError::refusal)?;
                self.store_new(&mut slot, accepted, &w.user).await?;
                Ok(out)
            }
            None => Err(EditError::Hidden),
            Some(held) => {
                let rows = self.rows(doc).ok_or(EditError::Hidden)?;
                if create || held.kind() != kind || !judge.acl.can_see(&w.user, &rows) {
                    return Err(EditError::Hidden);
                }
                let before = Before::of(held, rows);
                let mut fork = CrmDoc::from_automerge(doc, held.automerge().fork())
                    .map_err(EditError::Refused)?;
                let out = persist::edit(&mut fork, w, |d| f(d, &ctx))?;
                let accepted = judge
                    .judge_update(fork, &before, false)
                    .map_err(EditError::refusal)?;
                self.store_update(&mut slot, accepted, &before.heads, &w.user)
                    .await?;
                Ok(out)
            }
        }
    }

    /// The cached settings and catalog.
    pub fn edit_parts(&self) -> std::sync::Arc<EditParts> {
        self.parts
            .read()
            .map(|p| p.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    pub(super) fn refresh_parts(&self) -> super::Result<()> {
        let settings = self
            .singleton_doc(DocKind::Settings)?
            .map(|d| Settings::read(&d))
            .unwrap_or_default();
        let catalog = self
            .singleton_doc(DocKind::Catalog)?
            .map(|d| Catalog::read(&d))
            .unwrap_or_default();
        if let Ok(mut p) = self.parts.write() {
            *p = std::sync::Arc::new(EditParts { settings, catalog });
        }
        Ok(())
    }
}

impl Tenant {
    /// Reads document `doc` for `user`: `None` when it does not exist, is
    /// not of `kind`, or the user may not see it (one answer for all).
    pub async fn read_for<T>(
        &self,
        user: &str,
        doc: DocId,
        kind: DocKind,
        f: impl FnOnce(&mut CrmDoc) -> T,
    ) -> super::Result<Option<T>> {
        if !self.visible(user, doc) {
            return Ok(None);
        }
        let slot = self.slot(doc).await?;
        let mut slot = slot.lock().await;
        Ok(match slot.doc.as_mut() {
            Some(d) if d.kind() == kind => Some(f(d)),
            _ => None,
        })
    }

    /// Runs `f` on the customer files `user` may see (filtered by the
    /// `Acl` in place, under the index's read lock: keep `f` to computing,
    /// no I/O). Reports and lists run on it, so no page counts a hidden
    /// record. Only the files the user can reach are read (`Reach`), and
    /// each still passes `Acl::can_see`.
    pub fn with_visible<T>(&self, user: &str, f: impl FnOnce(&Filtered<'_>) -> T) -> T {
        let acl = self.acl();
        let seer = acl.seer(user);
        let keep = |rows: &DocRows| seer.sees(rows);
        let index = self.rows.read().unwrap_or_else(|p| p.into_inner());
        let among = self
            .reach
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .accounts_of(&acl, user);
        match &among {
            Some(ids) => f(&index.filtered_among(ids, keep)),
            None => f(&index.filtered(keep)),
        }
    }

    /// The dashboard sums of the customer files `user` may see (those of
    /// `territory` only, when given), from the groups the board keeps: the
    /// same visibility test as `with_visible`, made once per group.
    pub fn tallies_for(&self, user: &str, territory: Option<&str>) -> Tallies {
        let acl = self.acl();
        let seer = acl.seer(user);
        let board = self.board.read().unwrap_or_else(|p| p.into_inner());
        board.tallies(|g| {
            territory.is_none_or(|t| g.territory.as_deref() == Some(t))
                && seer.sees_people(g.people.iter().map(String::as_str))
        })
    }

    /// The customer file holding record `id`, if the user may see it.
    pub fn account_of_record(&self, user: &str, id: &str) -> Option<DocId> {
        let doc = self.doc_of_record(id.trim())?;
        self.visible(user, doc).then_some(doc)
    }

    /// The plans of `users` (empty plans, in the tenant's currency, for
    /// those without one).
    pub async fn plans_of(&self, users: &[String]) -> Vec<Plan> {
        let currency = self.edit_parts().settings.currency.clone();
        let mut out = Vec::new();
        for u in users {
            let id = self.rows_plan_of(u);
            let plan = match id {
                Some(id) => self
                    .read_for(u, id, DocKind::Plan, |d| Plan::read(d))
                    .await
                    .ok()
                    .flatten(),
                None => None,
            };
            out.push(plan.unwrap_or_else(|| Plan {
                user: u.clone(),
                currency: currency.clone(),
                ..Plan::default()
            }));
        }
        out
    }
}
