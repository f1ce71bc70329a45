//! Where a replica stands with its server: the one status type every
//! front-end shows (the CLI's `status`, the apps' sync indicator).

use serde::Serialize;

use crate::ids::DocId;

/// What the sync session is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncPhase {
    /// No session (never started, stopped, or the last one failed).
    Offline,
    Connecting,
    Syncing,
    /// Caught up with the server, nothing waiting for an answer.
    UpToDate,
}

/// A replica's sync state: the stored part (server, pending, refusals,
/// last acknowledgement) and the live part (`phase`, `last_error`,
/// `background`) that a running session adds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SyncStatus {
    pub phase: SyncPhase,
    pub server: Option<String>,
    pub user: String,
    /// Documents with local changes not yet acknowledged by the server.
    pub pending: Vec<DocId>,
    /// Unix seconds of the last acknowledgement received.
    pub last_ack: Option<i64>,
    pub cursor: u64,
    /// Documents whose changes the server refused, with its reason. They
    /// stay on the device until the user fixes (edits) or reverts them.
    pub rejected: Vec<(DocId, String)>,
    /// Why the last session failed, until one succeeds.
    pub last_error: Option<String>,
    /// A background (live, reconnecting) session is running.
    pub background: bool,
}
