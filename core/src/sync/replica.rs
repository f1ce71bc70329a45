//! What the sync protocol needs of a replica, and nothing more: where its
//! server is, its cursor in the server's change log, the documents it has
//! edited and not had acknowledged (its outbox), and how to apply what the
//! server sends. `crate::device::Device` implements it over its store; the
//! protocol (`ClientSession`) and the session driver only see this trait.

use automerge::sync::State;
use automerge::ChangeHash;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::frame::UpDoc;
use crate::error::Result;
use crate::ids::{DocId, DocKind};

/// The server a replica syncs with, and the device's credentials there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Remote {
    pub url: String,
    pub device: Uuid,
    pub token: String,
}

/// Marks the latest local edit of a document: an acknowledgement clears
/// the document's pending state only if no edit happened after the state
/// it acknowledges.
pub type EditToken = Vec<u8>;

/// What an acknowledgement from the server is matched against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AckBasis {
    /// The document as it was when sent (`None`: it had no local edit).
    Sent(Option<EditToken>),
    /// The acknowledged heads themselves: the document is no longer pending
    /// when they cover every change the replica has.
    Heads,
}

/// A replica of the tenant's documents that a sync session keeps in step
/// with the server. Every method that writes is atomic on its own; inside
/// `batched` writes may be buffered and are flushed once at its end.
pub trait Replica {
    // ----- the link ---------------------------------------------------------

    /// The server this replica is linked to (`None`: never logged in).
    fn remote(&self) -> Result<Option<Remote>>;
    /// Position in the server's change log up to which everything is here.
    fn cursor(&self) -> Result<u64>;
    fn set_cursor(&mut self, cursor: u64) -> Result<()>;
    /// Records the ids of the settings, catalog, directory and library.
    fn set_singletons(&mut self, singletons: &[(DocKind, DocId)]) -> Result<()>;

    // ----- the outbox -------------------------------------------------------

    /// Documents with local edits the server has neither acknowledged nor
    /// refused.
    fn pending(&self) -> Result<Vec<DocId>>;
    /// What to send for a document: its heads and, when it has local edits
    /// not refused, the changes after the server's last acknowledgement;
    /// with the token of its latest edit.
    fn outgoing(&self, doc: DocId) -> Result<(UpDoc, Option<EditToken>)>;
    /// The server durably stored `heads`. Returns true when the document is
    /// no longer pending.
    fn acknowledge(&mut self, doc: DocId, heads: &[ChangeHash], basis: AckBasis) -> Result<bool>;
    /// The server refused the document's changes; they stay here, flagged.
    fn refuse(&mut self, doc: DocId, reason: &str) -> Result<()>;

    // ----- the inbox --------------------------------------------------------

    fn has(&self, doc: DocId) -> bool;
    fn heads(&self, doc: DocId) -> Result<Vec<ChangeHash>>;
    /// Changes of a document after `heads` (the whole document when empty).
    fn changes_since(&self, doc: DocId, heads: &[ChangeHash]) -> Result<Vec<u8>>;
    /// Merges changes or a whole document from elsewhere; a document new
    /// here is stored as received. Returns the number of new changes.
    fn merge_remote(&mut self, doc: DocId, bytes: &[u8]) -> Result<usize>;
    /// Applies changes pushed live; false (nothing stored) when they depend
    /// on changes this replica lacks.
    fn merge_live(&mut self, doc: DocId, bytes: &[u8]) -> Result<bool>;
    /// Forgets a document (access lost, or a refused copy reverted).
    fn drop_doc(&mut self, doc: DocId) -> Result<()>;
    /// Drops a document the server rewrote to erase the records `erased`
    /// (protocol 2, `Replace`), keeping its unacknowledged edits aside,
    /// durably, to replay on the new copy when it arrives through
    /// `merge_remote`.
    fn replace(&mut self, doc: DocId, erased: &[String]) -> Result<()>;

    // ----- Automerge's sync exchange, per document ---------------------------

    /// The sync state kept from the last exchange (shared heads).
    fn saved_sync_state(&self, doc: DocId) -> State;
    fn save_sync_state(&mut self, doc: DocId, state: &State) -> Result<()>;
    /// The next sync message for a document, if any.
    fn sync_generate(&self, doc: DocId, state: &mut State) -> Result<Option<Vec<u8>>>;
    /// Applies a sync message; true when it changed the document.
    fn sync_receive(&mut self, doc: DocId, state: &mut State, msg: &[u8]) -> Result<bool>;

    /// Runs `f` with writes buffered and flushes once at the end (one frame
    /// touching hundreds of documents costs one fsync). Nothing in it is a
    /// user's edit, and the cursor is written last.
    fn batched<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T>
    where
        Self: Sized;
}
