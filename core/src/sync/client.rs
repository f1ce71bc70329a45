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
use super::replica::{AckBasis, EditToken, Replica};
use super::status::SyncPhase;
use crate::error::CoreError;
use crate::ids::DocId;

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
    sent_tokens: HashMap<DocId, Option<EditToken>>,
    /// Documents dropped on `Replace` whose new copy is being fetched.
    replacing: HashSet<DocId>,
}

impl ClientSession {
    /// A session before `Hello`.
    pub fn new() -> ClientSession {
        ClientSession::default()
    }

    /// The first frame: `Hello` with the device token and cursor.
    pub fn hello<R: Replica>(&self, device: &R) -> Result<Frame, SyncError> {
        let remote = device.remote()?.ok_or(SyncError::NotLinked)?;
        Ok(Frame::Hello {
            device: remote.device,
            token: remote.token,
            cursor: device.cursor()?,
        })
    }

    /// Connecting until `Welcome`, then syncing or up to date.
    pub fn phase(&self) -> SyncPhase {
        if !self.welcomed {
            SyncPhase::Connecting
        } else if self.is_idle() {
            SyncPhase::UpToDate
        } else {
            SyncPhase::Syncing
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
    pub fn push_local<R: Replica>(&mut self, device: &mut R) -> Result<Vec<Frame>, SyncError> {
        let mut out = Out::default();
        for doc in device.pending()? {
            self.start(device, doc, &mut out)?;
        }
        if !out.sync.is_empty() || !out.up.is_empty() {
            self.unsettled = true;
        }
        Ok(out.frames())
    }

    /// Handles one frame from the server; returns the frames to send back.
    /// The replica's writes for the frame are flushed once, at its end.
    pub fn handle<R: Replica>(
        &mut self,
        device: &mut R,
        frame: Frame,
    ) -> Result<Vec<Frame>, SyncError> {
        let mut result = None;
        device.batched(|d| {
            result = Some(self.handle_inner(d, frame));
            Ok(())
        })?;
        result.unwrap_or_else(|| Err(SyncError::Protocol("no result".into())))
    }

    fn handle_inner<R: Replica>(
        &mut self,
        device: &mut R,
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
                    if device.has(doc)
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
                    if device.has(doc) {
                        self.start(device, doc, &mut out)?;
                    } else if self.active.insert(doc) {
                        out.fetch.push(doc);
                    }
                }
                let dirty: HashSet<DocId> = device.pending()?.into_iter().collect();
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
                    if self.replacing.remove(&doc) && device.pending()?.contains(&doc) {
                        // Edits replayed on the new copy go up at once.
                        self.start(device, doc, &mut out)?;
                    }
                }
                for doc in missing {
                    self.replacing.remove(&doc);
                    self.complete(device, doc, &mut out)?;
                }
            }
            Frame::Replace { docs } => {
                if !self.welcomed {
                    return Err(SyncError::Protocol("Replace before Welcome".into()));
                }
                for r in docs {
                    // Whatever exchange was under way is over: its copy is
                    // of a history the server no longer takes.
                    self.states.remove(&r.doc);
                    self.rounds.remove(&r.doc);
                    self.again.remove(&r.doc);
                    self.sent_tokens.remove(&r.doc);
                    self.drop_after_ack.remove(&r.doc);
                    device.replace(r.doc, &r.erased)?;
                    self.changed.push(r.doc);
                    self.replacing.insert(r.doc);
                    // A `Changed` listing it waits for this fetch.
                    self.active.insert(r.doc);
                    out.fetch.push(r.doc);
                }
            }
            Frame::Down {
                docs,
                acks,
                rejects,
                resync,
            } => {
                for (doc, bytes) in docs {
                    if !bytes.is_empty() && device.has(doc) && device.merge_remote(doc, &bytes)? > 0
                    {
                        self.changed.push(doc);
                    }
                }
                let mut done: Vec<DocId> = Vec::new();
                for (doc, heads) in acks {
                    let heads: Vec<ChangeHash> = heads.into_iter().map(ChangeHash).collect();
                    let token = self.sent_tokens.remove(&doc).flatten();
                    if device.acknowledge(doc, &heads, AckBasis::Sent(token))?
                        && self.drop_after_ack.remove(&doc)
                    {
                        device.drop_doc(doc)?;
                        self.changed.push(doc);
                        out.dropped.push(doc);
                    }
                    done.push(doc);
                }
                for (doc, reason) in rejects {
                    device.refuse(doc, &reason)?;
                    self.sent_tokens.remove(&doc);
                    done.push(doc);
                }
                for doc in resync {
                    // Histories do not line up: the full Automerge exchange.
                    self.sent_tokens.remove(&doc);
                    self.active.remove(&doc);
                    if device.has(doc) {
                        self.start_sync(device, doc, &mut out)?;
                    } else {
                        self.complete(device, doc, &mut out)?;
                    }
                }
                for doc in done {
                    self.finish(device, doc, &mut out)?;
                }
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
                    if device.sync_receive(m.doc, state, &m.msg)? {
                        self.changed.push(m.doc);
                    }
                }
                for (doc, heads) in acks {
                    let heads: Vec<ChangeHash> = heads.into_iter().map(ChangeHash).collect();
                    if device.acknowledge(doc, &heads, AckBasis::Heads)?
                        && self.drop_after_ack.remove(&doc)
                    {
                        device.drop_doc(doc)?;
                        self.changed.push(doc);
                        out.dropped.push(doc);
                    }
                }
                for (doc, reason) in &rejects {
                    device.refuse(*doc, reason)?;
                    if self.drop_after_ack.remove(doc) {
                        // Refused and revoked: nothing more can be done from
                        // here; the copy stays, flagged, for the user.
                        tracing::warn!(%doc, %reason, "revoked document with refused changes kept");
                    }
                }
                for m in msgs {
                    if rejected.contains(&m.doc) || !device.has(m.doc) {
                        self.finish(device, m.doc, &mut out)?;
                    } else {
                        self.step(device, m.doc, &mut out)?;
                    }
                }
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
    fn start<R: Replica>(
        &mut self,
        device: &mut R,
        doc: DocId,
        out: &mut Out,
    ) -> Result<(), SyncError> {
        if self.active.contains(&doc) {
            self.again.insert(doc);
            return Ok(());
        }
        let (up, token) = device.outgoing(doc)?;
        self.sent_tokens.insert(doc, token);
        self.active.insert(doc);
        out.up.push(up);
        Ok(())
    }

    /// The Automerge sync exchange for one document.
    fn start_sync<R: Replica>(
        &mut self,
        device: &mut R,
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
    fn step<R: Replica>(
        &mut self,
        device: &mut R,
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

    fn finish<R: Replica>(
        &mut self,
        device: &mut R,
        doc: DocId,
        out: &mut Out,
    ) -> Result<(), SyncError> {
        if let Some(state) = self.states.get(&doc) {
            if device.has(doc) {
                device.save_sync_state(doc, state)?;
            }
        }
        self.active.remove(&doc);
        self.rounds.remove(&doc);
        if self.again.remove(&doc) && device.has(doc) {
            return self.start(device, doc, out);
        }
        self.complete(device, doc, out)
    }

    fn complete<R: Replica>(
        &mut self,
        device: &mut R,
        doc: DocId,
        _out: &mut Out,
    ) -> Result<(), SyncError> {
        self.active.remove(&doc);
        for (_, waiting) in self.lists.iter_mut() {
            waiting.remove(&doc);
        }
        self.advance(device)
    }

    fn advance<R: Replica>(&mut self, device: &mut R) -> Result<(), SyncError> {
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

/// A frame's name, for messages and logs.
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
        Frame::Replace { .. } => "Replace",
    }
}
