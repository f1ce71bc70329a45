//! The device's side of a sync session, as a state machine: `hello()` gives
//! the first frame, `handle()` takes each frame from the server and returns
//! the frames to send back. It reads and writes the device's store, never a
//! socket, so it runs the same under the websocket transport, in tests over
//! in-memory channels, and under the mobile bindings.
//!
//! Per document the exchange is Automerge's sync protocol, one message per
//! document per frame, batched; documents the device lacks entirely are
//! fetched whole. The cursor advances past a `Changed` list only once every
//! document in it has been handled, so a session cut at any point resumes
//! correctly.

use std::collections::{HashMap, HashSet, VecDeque};

use automerge::sync;
use automerge::ChangeHash;
use thiserror::Error;

use super::frame::{DocMsg, ErrorCode, Frame, UpDoc, MAX_BATCH_DOCS};
use crate::device::Device;
use crate::error::CoreError;
use crate::ids::DocId;
use crate::store::Store;

/// Rounds of messages for one document in one exchange before giving up.
const MAX_ROUNDS: u32 = 32;

#[derive(Debug, Error)]
pub enum SyncError {
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error("server refused: {message} ({code:?})")]
    Server { code: ErrorCode, message: String },
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("this store is not linked to a server: run `carnet login` first")]
    NotLinked,
    #[error("transport: {0}")]
    Transport(String),
}

/// Where a session stands, for sync indicators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncStatus {
    Connecting,
    Syncing,
    UpToDate,
}

#[derive(Default)]
pub struct ClientSession {
    states: HashMap<DocId, sync::State>,
    rounds: HashMap<DocId, u32>,
    /// Documents with an exchange or fetch waiting for the server.
    active: HashSet<DocId>,
    /// Documents to sync again once their current exchange ends.
    again: HashSet<DocId>,
    /// `Changed` lists not fully handled yet: (upto, documents left).
    lists: VecDeque<(u64, HashSet<DocId>)>,
    /// Revoked documents with local changes: dropped once acknowledged.
    drop_after_ack: HashSet<DocId>,
    welcomed: bool,
    /// The last `Changed` of the initial catch-up has arrived.
    caught_up: bool,
    /// Documents changed by others during this session (for listeners).
    changed: Vec<DocId>,
    /// We sent changes since the last barrier: before calling ourselves up
    /// to date, a Ping/Pong round trip lets the server deliver what those
    /// changes caused (a revocation after a reassignment, say).
    unsettled: bool,
    barrier: Option<u64>,
    pings: u64,
    /// Dirty tokens of documents sent in `Up` frames, to match their acks.
    sent_tokens: HashMap<DocId, Option<Vec<u8>>>,
}

impl ClientSession {
    pub fn new() -> ClientSession {
        ClientSession::default()
    }

    /// The first frame: `Hello` with the device token and cursor.
    pub fn hello<S: Store>(&self, device: &Device<S>) -> Result<Frame, SyncError> {
        let remote = device.remote()?.ok_or(SyncError::NotLinked)?;
        Ok(Frame::Hello {
            device: remote.device,
            token: remote.token,
            cursor: device.cursor()?,
        })
    }

    pub fn status(&self) -> SyncStatus {
        if !self.welcomed {
            SyncStatus::Connecting
        } else if self.is_idle() {
            SyncStatus::UpToDate
        } else {
            SyncStatus::Syncing
        }
    }

    fn quiet(&self) -> bool {
        self.welcomed && self.caught_up && self.active.is_empty() && self.lists.is_empty()
    }

    /// Caught up with the server and nothing waiting for an answer.
    pub fn is_idle(&self) -> bool {
        self.quiet() && !self.unsettled && self.barrier.is_none()
    }

    /// Documents that changed from elsewhere since the last call.
    pub fn take_changed(&mut self) -> Vec<DocId> {
        std::mem::take(&mut self.changed)
    }

    /// Starts exchanges for documents edited locally (dirty, not rejected).
    pub fn push_local<S: Store>(
        &mut self,
        device: &mut Device<S>,
    ) -> Result<Vec<Frame>, SyncError> {
        let rejected: HashSet<DocId> = device.rejected()?.into_iter().map(|(d, _)| d).collect();
        let mut out = Out::default();
        for doc in device.dirty_docs()? {
            if !rejected.contains(&doc) && device.has_doc(doc) {
                self.start(device, doc, &mut out)?;
            }
        }
        if !out.sync.is_empty() || !out.up.is_empty() {
            self.unsettled = true;
        }
        Ok(out.frames())
    }

    pub fn handle<S: Store>(
        &mut self,
        device: &mut Device<S>,
        frame: Frame,
    ) -> Result<Vec<Frame>, SyncError> {
        let mut result = None;
        device.batched(|d| {
            result = Some(self.handle_inner(d, frame));
            Ok(())
        })?;
        result.unwrap_or_else(|| Err(SyncError::Protocol("no result".into())))
    }

    fn handle_inner<S: Store>(
        &mut self,
        device: &mut Device<S>,
        frame: Frame,
    ) -> Result<Vec<Frame>, SyncError> {
        let mut out = Out::default();
        match frame {
            Frame::Welcome { singletons, .. } => {
                self.welcomed = true;
                device.set_singletons(&singletons)?;
                return self.push_local(device);
            }
            Frame::Changed {
                docs,
                revoked,
                upto,
                more,
                changes,
            } => {
                if !self.welcomed {
                    return Err(SyncError::Protocol("Changed before Welcome".into()));
                }
                let mut applied = HashSet::new();
                for (doc, bytes) in changes {
                    // A document in an exchange right now gets the change
                    // from that exchange.
                    if device.has_doc(doc)
                        && !self.active.contains(&doc)
                        && device.merge_live(doc, &bytes)?
                    {
                        applied.insert(doc);
                        self.changed.push(doc);
                    }
                }
                let mut waiting = HashSet::new();
                for doc in docs {
                    if applied.contains(&doc) {
                        continue;
                    }
                    waiting.insert(doc);
                    if device.has_doc(doc) {
                        self.start(device, doc, &mut out)?;
                    } else if self.active.insert(doc) {
                        out.fetch.push(doc);
                    }
                }
                let dirty: HashSet<DocId> = device.dirty_docs()?.into_iter().collect();
                for doc in revoked {
                    if dirty.contains(&doc) {
                        // Pending edits reach the server before the copy goes.
                        self.drop_after_ack.insert(doc);
                        self.start(device, doc, &mut out)?;
                    } else {
                        device.drop_doc(doc)?;
                        self.changed.push(doc);
                        out.dropped.push(doc);
                    }
                }
                waiting.retain(|d| self.active.contains(d) || self.again.contains(d));
                self.lists.push_back((upto, waiting));
                if !more {
                    self.caught_up = true;
                }
                self.advance(device)?;
            }
            Frame::Docs { docs, missing } => {
                for (doc, bytes) in docs {
                    device.merge_remote(doc, &bytes)?;
                    self.changed.push(doc);
                    self.complete(device, doc, &mut out)?;
                }
                for doc in missing {
                    self.complete(device, doc, &mut out)?;
                }
                device.refresh()?;
            }
            Frame::Down {
                docs,
                acks,
                rejects,
                resync,
            } => {
                for (doc, bytes) in docs {
                    if !bytes.is_empty()
                        && device.has_doc(doc)
                        && device.merge_remote(doc, &bytes)? > 0
                    {
                        self.changed.push(doc);
                    }
                }
                let now = chrono::Utc::now().timestamp();
                let mut done: Vec<DocId> = Vec::new();
                for (doc, heads) in acks {
                    let heads: Vec<ChangeHash> = heads.into_iter().map(ChangeHash).collect();
                    let token = self.sent_tokens.remove(&doc).flatten();
                    if device.record_ack_for(doc, &heads, token.as_deref(), now)?
                        && self.drop_after_ack.remove(&doc)
                    {
                        device.drop_doc(doc)?;
                        self.changed.push(doc);
                        out.dropped.push(doc);
                    }
                    done.push(doc);
                }
                for (doc, reason) in rejects {
                    device.set_rejected(doc, &reason)?;
                    self.sent_tokens.remove(&doc);
                    done.push(doc);
                }
                for doc in resync {
                    // Histories do not line up: the full Automerge exchange.
                    self.sent_tokens.remove(&doc);
                    self.active.remove(&doc);
                    if device.has_doc(doc) {
                        self.start_sync(device, doc, &mut out)?;
                    } else {
                        self.complete(device, doc, &mut out)?;
                    }
                }
                for doc in done {
                    self.finish(device, doc, &mut out)?;
                }
                device.refresh()?;
            }
            Frame::SyncReply {
                msgs,
                acks,
                rejects,
            } => {
                let rejected: HashSet<DocId> = rejects.iter().map(|(d, _)| *d).collect();
                for m in &msgs {
                    if m.msg.is_empty() {
                        continue;
                    }
                    let state = self.states.entry(m.doc).or_default();
                    let before = device.heads(m.doc).ok();
                    device.sync_receive(m.doc, state, &m.msg)?;
                    if device.heads(m.doc).ok() != before {
                        self.changed.push(m.doc);
                    }
                }
                for (doc, heads) in acks {
                    let heads: Vec<ChangeHash> = heads.into_iter().map(ChangeHash).collect();
                    let now = chrono::Utc::now().timestamp();
                    if device.record_ack(doc, &heads, now)? && self.drop_after_ack.remove(&doc) {
                        device.drop_doc(doc)?;
                        self.changed.push(doc);
                        out.dropped.push(doc);
                    }
                }
                for (doc, reason) in &rejects {
                    device.set_rejected(*doc, reason)?;
                    if self.drop_after_ack.remove(doc) {
                        // Refused and revoked: nothing more can be done from
                        // here; the copy stays, flagged, for the user.
                        tracing::warn!(%doc, %reason, "revoked document with refused changes kept");
                    }
                }
                for m in msgs {
                    if rejected.contains(&m.doc) || !device.has_doc(m.doc) {
                        self.finish(device, m.doc, &mut out)?;
                    } else {
                        self.step(device, m.doc, &mut out)?;
                    }
                }
                device.refresh()?;
            }
            Frame::Ping(n) => out.other.push(Frame::Pong(n)),
            Frame::Pong(n) => {
                if self.barrier == Some(n) {
                    self.barrier = None;
                }
            }
            Frame::Error { code, message } => return Err(SyncError::Server { code, message }),
            other => {
                return Err(SyncError::Protocol(format!(
                    "unexpected frame from the server: {}",
                    frame_name(&other)
                )))
            }
        }
        if !out.sync.is_empty() || !out.up.is_empty() {
            self.unsettled = true;
        }
        if self.quiet() && self.unsettled && self.barrier.is_none() {
            self.unsettled = false;
            self.pings += 1;
            self.barrier = Some(self.pings);
            out.other.push(Frame::Ping(self.pings));
        }
        Ok(out.frames())
    }

    /// Starts (or queues) an exchange for a document the device has: the
    /// one-round-trip `Up` when possible.
    fn start<S: Store>(
        &mut self,
        device: &mut Device<S>,
        doc: DocId,
        out: &mut Out,
    ) -> Result<(), SyncError> {
        if self.active.contains(&doc) {
            self.again.insert(doc);
            return Ok(());
        }
        let token = device.dirty_token(doc)?;
        let rejected = token.is_some() && device.is_rejected(doc)?;
        let up = device.up_doc(doc, token.is_some() && !rejected)?;
        self.sent_tokens.insert(doc, token);
        self.active.insert(doc);
        out.up.push(up);
        Ok(())
    }

    /// The Automerge sync exchange for one document.
    fn start_sync<S: Store>(
        &mut self,
        device: &mut Device<S>,
        doc: DocId,
        out: &mut Out,
    ) -> Result<(), SyncError> {
        // The shared heads of the last exchange, without its transient
        // flags (a stale `in_flight` would stall us).
        let saved = device.saved_sync_state(doc);
        let mut state = sync::State::new();
        state.shared_heads = saved.shared_heads;
        self.states.insert(doc, state);
        self.rounds.insert(doc, 0);
        self.active.insert(doc);
        self.step(device, doc, out)
    }

    /// Sends the next message of an exchange, or ends it.
    fn step<S: Store>(
        &mut self,
        device: &mut Device<S>,
        doc: DocId,
        out: &mut Out,
    ) -> Result<(), SyncError> {
        let state = self.states.entry(doc).or_default();
        let rounds = self.rounds.entry(doc).or_default();
        *rounds += 1;
        if *rounds > MAX_ROUNDS {
            tracing::warn!(%doc, "sync exchange did not settle; will retry next session");
            return self.finish(device, doc, out);
        }
        match device.sync_generate(doc, state)? {
            Some(msg) => {
                out.sync.push(DocMsg { doc, msg });
                Ok(())
            }
            None => self.finish(device, doc, out),
        }
    }

    fn finish<S: Store>(
        &mut self,
        device: &mut Device<S>,
        doc: DocId,
        out: &mut Out,
    ) -> Result<(), SyncError> {
        if let Some(state) = self.states.get(&doc) {
            if device.has_doc(doc) {
                device.save_sync_state(doc, state)?;
            }
        }
        self.active.remove(&doc);
        self.rounds.remove(&doc);
        if self.again.remove(&doc) && device.has_doc(doc) {
            return self.start(device, doc, out);
        }
        self.complete(device, doc, out)
    }

    fn complete<S: Store>(
        &mut self,
        device: &mut Device<S>,
        doc: DocId,
        _out: &mut Out,
    ) -> Result<(), SyncError> {
        self.active.remove(&doc);
        for (_, waiting) in self.lists.iter_mut() {
            waiting.remove(&doc);
        }
        self.advance(device)
    }

    fn advance<S: Store>(&mut self, device: &mut Device<S>) -> Result<(), SyncError> {
        let mut cursor = None;
        while let Some((upto, waiting)) = self.lists.front() {
            if !waiting.is_empty() {
                break;
            }
            cursor = Some(*upto);
            self.lists.pop_front();
        }
        if let Some(c) = cursor {
            if c > device.cursor()? {
                device.set_cursor(c)?;
            }
        }
        Ok(())
    }
}

/// Frames being built for one `handle` call.
#[derive(Default)]
struct Out {
    up: Vec<UpDoc>,
    sync: Vec<DocMsg>,
    fetch: Vec<DocId>,
    dropped: Vec<DocId>,
    other: Vec<Frame>,
}

impl Out {
    fn frames(self) -> Vec<Frame> {
        let mut frames = self.other;
        for chunk in self.fetch.chunks(MAX_BATCH_DOCS) {
            frames.push(Frame::Fetch {
                docs: chunk.to_vec(),
            });
        }
        let mut up = self.up;
        while !up.is_empty() {
            let rest = up.split_off(up.len().min(MAX_BATCH_DOCS));
            frames.push(Frame::Up { docs: up });
            up = rest;
        }
        let mut sync = self.sync;
        while !sync.is_empty() {
            let rest = sync.split_off(sync.len().min(MAX_BATCH_DOCS));
            frames.push(Frame::Sync { msgs: sync });
            sync = rest;
        }
        if !self.dropped.is_empty() {
            frames.push(Frame::Dropped { docs: self.dropped });
        }
        frames
    }
}

pub fn frame_name(f: &Frame) -> &'static str {
    match f {
        Frame::Login { .. } => "Login",
        Frame::LoggedIn { .. } => "LoggedIn",
        Frame::Hello { .. } => "Hello",
        Frame::Welcome { .. } => "Welcome",
        Frame::Changed { .. } => "Changed",
        Frame::Fetch { .. } => "Fetch",
        Frame::Docs { .. } => "Docs",
        Frame::Sync { .. } => "Sync",
        Frame::SyncReply { .. } => "SyncReply",
        Frame::Dropped { .. } => "Dropped",
        Frame::Up { .. } => "Up",
        Frame::Down { .. } => "Down",
        Frame::Error { .. } => "Error",
        Frame::Ping(_) => "Ping",
        Frame::Pong(_) => "Pong",
    }
}
