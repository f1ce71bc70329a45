//! What a device's change would produce, and whether it may: the pure part
//! of accepting changes, run on the blocking pool (it parses, hydrates and
//! validates untrusted documents) with no lock and no I/O. Every check is
//! made on the document as the change leaves it: its shape (depth, size,
//! root keys), its schema, fields that nobody edits after creation, numbers
//! only the server assigns, and the one authorization decision
//! (`Acl::authorize_change`).

use automerge::{AutoCommit, ChangeHash, ReadDoc};
use carnet_core::doc::{CrmDoc, Vocab};
use carnet_core::index::DocRows;
use carnet_core::{DocId, DocKind};

use crate::acl::Acl;

/// Why a change is refused, for the device (same words for a hidden and a
/// missing document).
pub type Refusal = String;

pub const NUMBERS_BY_SERVER: &str = "quote and order numbers are assigned by the server";
/// Marking a file merged hides it and makes the server carry its records
/// into another file: only the server's merge does that.
pub const MERGED_BY_SERVER: &str = "only the server merges customer files";

/// The rules in force for one user, copied out of the tenant.
pub struct Judge {
    pub user: String,
    pub acl: std::sync::Arc<Acl>,
    pub vocab: Vocab,
}

/// A document as it stands before a device's change.
pub struct Before {
    pub kind: DocKind,
    pub rows: DocRows,
    pub heads: Vec<ChangeHash>,
    pub numbers: Vec<(String, Option<String>)>,
}

/// A document the change produced, accepted, with its index rows.
pub struct Accepted {
    pub doc: CrmDoc,
    pub rows: DocRows,
}

impl Judge {
    /// A change to a document the user holds: `fork` is the stored
    /// document with the device's changes applied.
    pub fn update(
        &self,
        id: DocId,
        before: &Before,
        fork: AutoCommit,
        grace: bool,
    ) -> Result<Accepted, Refusal> {
        let doc =
            CrmDoc::from_automerge(id, fork).map_err(|e| format!("not a valid document: {e}"))?;
        self.judge_update(doc, before, grace)
    }

    /// The checks of `update` on a document already parsed: a device's
    /// fork, or a copy the web app edited as this user.
    pub fn judge_update(
        &self,
        mut doc: CrmDoc,
        before: &Before,
        grace: bool,
    ) -> Result<Accepted, Refusal> {
        if doc.kind() != before.kind {
            return Err("the document's kind changed".into());
        }
        if grace {
            self.authored_by_user(&mut doc, &before.heads)?;
            // Not even a concurrent value: whichever value wins a conflict
            // is a matter of actor ids, which the device chooses.
            if !access_untouched(&mut doc, &before.heads) {
                return Err(crate::acl::NOT_PERMITTED.into());
            }
        }
        let rows = DocRows::of(&mut doc).map_err(|e| e.to_string())?;
        self.acl
            .authorize_change(&self.user, Some(&before.rows), &rows, grace)
            .map_err(|d| d.to_string())?;
        doc.check(&self.vocab)?;
        doc.check_read_only(&before.heads)?;
        fresh_emails_queued(Some(&before.rows), &rows, &self.user)?;
        if !numbers_unchanged(&before.numbers, &doc) {
            return Err(NUMBERS_BY_SERVER.into());
        }
        Ok(Accepted { doc, rows })
    }

    /// A document the device created offline.
    pub fn create(&self, id: DocId, am: AutoCommit) -> Result<Accepted, Refusal> {
        let doc =
            CrmDoc::from_automerge(id, am).map_err(|e| format!("not a valid document: {e}"))?;
        self.judge_create(doc)
    }

    /// The checks of `create` on a document already built.
    pub fn judge_create(&self, mut doc: CrmDoc) -> Result<Accepted, Refusal> {
        let rows = DocRows::of(&mut doc).map_err(|e| e.to_string())?;
        self.judge_built(doc, rows)
    }

    /// The checks of `create` on a document the server built, with the
    /// rows read off the tree it was built from (`ops::new_account`).
    pub fn judge_built(&self, doc: CrmDoc, rows: DocRows) -> Result<Accepted, Refusal> {
        self.acl
            .authorize_change(&self.user, None, &rows, false)
            .map_err(|d| d.to_string())?;
        doc.check(&self.vocab)?;
        if doc.numbers().iter().any(|(_, n)| n.is_some()) {
            return Err(NUMBERS_BY_SERVER.into());
        }
        // Read-only fields are checked against an earlier state; a new file
        // has none, so this one is checked here.
        if rows
            .account
            .as_ref()
            .is_some_and(|a| a.merged_into.is_some())
        {
            return Err(MERGED_BY_SERVER.into());
        }
        fresh_emails_queued(None, &rows, &self.user)?;
        Ok(Accepted { doc, rows })
    }

    /// Edits pushed in grace are the device's own: every new change is
    /// authored by this user.
    fn authored_by_user(&self, doc: &mut CrmDoc, before: &[ChangeHash]) -> Result<(), Refusal> {
        let actors: Vec<automerge::ActorId> = doc
            .automerge()
            .get_changes(before)
            .iter()
            .map(|c| c.actor_id().clone())
            .collect();
        for actor in actors {
            if doc.author_of(&actor).as_deref() != Some(self.user.as_str()) {
                return Err(crate::acl::NOT_PERMITTED.into());
            }
        }
        Ok(())
    }
}

pub const MAILER_ONLY: &str =
    "an outbox message is written queued, by its author; only the server records its sending";

/// Every outbox message this change adds is queued, written by the user,
/// with none of the fields the server's mailer records: a device cannot
/// claim a message left, nor queue one in another user's name.
fn fresh_emails_queued(
    before: Option<&DocRows>,
    rows: &DocRows,
    user: &str,
) -> Result<(), Refusal> {
    let existed = |id: &str| before.is_some_and(|b| b.emails.iter().any(|e| e.id == id));
    for e in rows.emails.iter().filter(|e| !existed(&e.id)) {
        let untouched = e.status == "queued"
            && e.attempts == 0
            && e.next_attempt.is_none()
            && e.error.is_none()
            && e.sent_at.is_none()
            && e.message_id.is_none()
            && e.created_by == user;
        if !untouched {
            return Err(MAILER_ONLY.into());
        }
    }
    Ok(())
}

/// The fields that decide who sees a document (an account's owner and
/// postcode, a plan's user) hold the same values, conflicts included, as
/// at `before`.
fn access_untouched(doc: &mut CrmDoc, before: &[ChangeHash]) -> bool {
    let fields: &[(&str, &str)] = match doc.kind() {
        DocKind::Account => &[("account", "owner"), ("account", "postcode")],
        DocKind::Plan => &[("plan", "user")],
        _ => &[],
    };
    for (record, key) in fields {
        let Some(obj) = doc.map_at(&[*record]) else {
            return false;
        };
        let am = doc.automerge();
        let then = am.get_all_at(&obj, *key, before).unwrap_or_default();
        let now = am.get_all(&obj, *key).unwrap_or_default();
        if then != now {
            return false;
        }
    }
    true
}

/// The device changed no number: existing records keep theirs, new ones
/// come without (the server assigns them).
fn numbers_unchanged(before: &[(String, Option<String>)], after: &CrmDoc) -> bool {
    after
        .numbers()
        .iter()
        .all(|(path, n)| match before.iter().find(|(p, _)| p == path) {
            Some((_, old)) => old == n,
            None => n.is_none(),
        })
}
