//! One websocket connection: authentication, the initial catch-up list,
//! then frames from the device and live changes from other devices, with
//! pings and an idle timeout. Generic over the socket (`Stream` + `Sink` of
//! frames as bytes) so it runs on axum's websocket and in memory alike.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use automerge::sync;
use carnet_core::sync::frame::{
    DocMsg, ErrorCode, Frame, Hash, Replaced, MAX_BATCH_DOCS, PROTOCOL_VERSION,
};
use carnet_core::sync::FrameError;
use carnet_core::DocId;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use tracing::Instrument;
use uuid::Uuid;

use crate::acl::Role;
use crate::auth::DeviceRecord;
use crate::tenant::{DocOutcome, Event, Phantoms, Tenant, UpOutcome};

/// Bytes in and out of a connection, whatever the socket library.
pub enum WireIn {
    Frame(Vec<u8>),
    /// The peer sent something that is not a frame (text, oversize).
    Invalid(String),
    Closed,
}

#[derive(Clone)]
pub struct Limits {
    pub ping_every: Duration,
    /// Close when the device has sent nothing for this long.
    pub idle_timeout: Duration,
    /// Largest `Docs` frame payload.
    pub docs_frame_bytes: usize,
    /// How long after a revocation is announced the device may still push
    /// the edits it made before.
    pub grace_period: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            ping_every: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(90),
            docs_frame_bytes: 4 * 1024 * 1024,
            grace_period: Duration::from_secs(60),
        }
    }
}

/// Most Automerge sync states a connection keeps between frames, and the
/// most bytes of peer messages they may hold (heads, needs, Bloom filters).
/// Past either, a document's state is dropped: its exchange starts over.
pub const MAX_SYNC_STATES: usize = 1024;
pub const MAX_SYNC_STATE_BYTES: usize = 16 * 1024 * 1024;
/// Most documents a connection may be creating through sync messages
/// whose dependencies have not all arrived.
pub const MAX_PHANTOMS: usize = 64;

struct Conn {
    user: String,
    device: Uuid,
    token_hash: String,
    /// Sync states kept between frames, with the size of the peer message
    /// each holds (bounded by `MAX_SYNC_STATES` / `MAX_SYNC_STATE_BYTES`).
    states: HashMap<DocId, (sync::State, usize)>,
    state_bytes: usize,
    phantoms: Phantoms,
    granted: HashSet<DocId>,
    /// Revoked documents announced to the device (and when), ungranted
    /// once dropped.
    revoking: HashMap<DocId, Instant>,
    /// Sequence numbers of this connection's own commits.
    own: HashSet<u64>,
    /// The protocol version the device speaks.
    version: u8,
    /// Rewritten documents a version-1 device was told to drop, to list
    /// again once it has (it then fetches the new copy).
    refetch: HashSet<DocId>,
}

impl Conn {
    /// The device lost `doc` in this session recently enough to push the
    /// edits it made before it knew.
    fn in_grace(&self, doc: &DocId, limits: &Limits) -> bool {
        self.revoking
            .get(doc)
            .is_some_and(|at| at.elapsed() < limits.grace_period)
    }

    fn take_state(&mut self, doc: &DocId) -> sync::State {
        match self.states.remove(doc) {
            Some((state, size)) => {
                self.state_bytes -= size;
                state
            }
            None => sync::State::new(),
        }
    }

    /// Keeps a document's sync state for its next message, within bounds.
    fn keep_state(&mut self, doc: DocId, state: sync::State, size: usize) {
        if self.states.len() >= MAX_SYNC_STATES || self.state_bytes + size > MAX_SYNC_STATE_BYTES {
            return;
        }
        self.state_bytes += size;
        self.states.insert(doc, (state, size));
    }

    /// Of `candidates`, the documents this device holds an old copy of
    /// (a person was erased from them): a device of protocol 2 is told to
    /// replace them (returned, for a `Replace` frame; they stay in `docs`,
    /// which it fetches); one of protocol 1 is told to drop them, and
    /// they are listed again once it has.
    fn stale(
        &mut self,
        tenant: &Tenant,
        candidates: impl IntoIterator<Item = DocId>,
        docs: &mut Vec<DocId>,
        revoked: &mut Vec<DocId>,
    ) -> Vec<Replaced> {
        let mut replace = Vec::new();
        for doc in candidates {
            if !tenant.is_stale(self.device, doc) || !tenant.visible(&self.user, doc) {
                continue;
            }
            if self.version >= 2 {
                if !docs.contains(&doc) {
                    docs.push(doc);
                }
                replace.push(tenant.replaced(doc));
            } else {
                docs.retain(|d| *d != doc);
                if !revoked.contains(&doc) {
                    revoked.push(doc);
                }
                self.refetch.insert(doc);
            }
        }
        replace
    }

    fn announce_revoked(&mut self, docs: &[DocId]) {
        let now = Instant::now();
        for d in docs {
            self.revoking.entry(*d).or_insert(now);
        }
    }

    /// Remembers this connection's own commit of `doc` (if the ack came
    /// with one), so its live event does not bounce back as a `Changed`.
    fn note_own_commit(&mut self, tenant: &Tenant, doc: DocId, seq_before: u64) {
        let seq = tenant.doc_seq(doc);
        if seq > seq_before {
            self.own.insert(seq);
        }
    }
}

type SendResult = Result<(), ()>;

/// How long one frame may take to leave. A peer that stops reading is cut
/// off after this (it would otherwise keep its session, and miss its own
/// revocation, forever).
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

async fn send<S>(tenant: &Tenant, sink: &mut S, f: &Frame) -> SendResult
where
    S: Sink<Vec<u8>> + Unpin,
{
    let bytes = f.encode();
    tenant.metrics.frame_out(bytes.len());
    match tokio::time::timeout(WRITE_TIMEOUT, sink.send(bytes)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(()),
        Err(_) => {
            tracing::info!("write timeout");
            Err(())
        }
    }
}

async fn fail<S>(tenant: &Tenant, sink: &mut S, code: ErrorCode, message: impl Into<String>)
where
    S: Sink<Vec<u8>> + Unpin,
{
    let _ = send(
        tenant,
        sink,
        &Frame::Error {
            code,
            message: message.into(),
        },
    )
    .await;
}

/// Serves one connection from `peer` (the address login attempts are
/// counted against; `None` in memory).
pub async fn run<I, S>(
    tenant: Arc<Tenant>,
    limits: Limits,
    peer: Option<IpAddr>,
    mut input: I,
    sink: S,
) where
    I: Stream<Item = WireIn> + Unpin,
    S: Sink<Vec<u8>> + Unpin,
{
    tenant.metrics.connection_opened();
    let first = tokio::time::timeout(limits.idle_timeout, input.next()).await;
    let frame = match first {
        Ok(Some(WireIn::Frame(b))) => {
            tenant.metrics.frame_in(b.len());
            Frame::decode_versioned(&b)
        }
        Ok(Some(WireIn::Invalid(why))) => Err(FrameError::Malformed(why)),
        _ => {
            tenant.metrics.connection_closed();
            return;
        }
    };
    // Every frame back is in the version the device spoke first.
    let (version, frame) = match frame {
        Ok((v, f)) => (v, Ok(f)),
        Err(e) => (PROTOCOL_VERSION, Err(e)),
    };
    let mut sink = sink.with(move |mut b: Vec<u8>| {
        if let Some(v) = b.get_mut(3) {
            *v = version;
        }
        futures_util::future::ready(Ok::<Vec<u8>, <S as Sink<Vec<u8>>>::Error>(b))
    });
    match frame {
        Ok(Frame::Login {
            email,
            password,
            device_name,
        }) => match tenant.login(&email, &password, &device_name, peer).await {
            Ok((rec, token)) => {
                let _ = send(
                    &tenant,
                    &mut sink,
                    &Frame::LoggedIn {
                        user: rec.user,
                        tenant: tenant.info.id,
                        device: rec.device,
                        token,
                    },
                )
                .await;
            }
            Err(refused) => {
                fail(
                    &tenant,
                    &mut sink,
                    ErrorCode::Unauthorized,
                    refused.to_string(),
                )
                .await
            }
        },
        Ok(Frame::Hello {
            device,
            token,
            cursor,
        }) => match tenant.device_for_token(&token) {
            Some(rec) if rec.device == device && tenant.acl().role(&rec.user).is_some() => {
                let span = tracing::info_span!("conn", tenant = %tenant.info.id, user = %rec.user, device = %rec.device);
                session(
                    &tenant, &limits, rec, cursor, version, &mut input, &mut sink,
                )
                .instrument(span)
                .await;
            }
            _ => {
                fail(
                    &tenant,
                    &mut sink,
                    ErrorCode::Unauthorized,
                    "unknown or revoked device token",
                )
                .await
            }
        },
        Ok(other) => {
            let name = carnet_core::sync::client::frame_name(&other);
            fail(
                &tenant,
                &mut sink,
                ErrorCode::Unexpected,
                format!("{name} before Hello"),
            )
            .await
        }
        Err(e) => {
            tenant.metrics.bad_frame();
            fail(&tenant, &mut sink, e.code(), e.to_string()).await
        }
    }
    let _ = sink.close().await;
    tenant.metrics.connection_closed();
}

async fn session<I, S>(
    tenant: &Arc<Tenant>,
    limits: &Limits,
    rec: DeviceRecord,
    cursor: u64,
    version: u8,
    input: &mut I,
    sink: &mut S,
) where
    I: Stream<Item = WireIn> + Unpin,
    S: Sink<Vec<u8>> + Unpin,
{
    let role = tenant.acl().role(&rec.user).unwrap_or(Role::Rep);
    let mut conn = Conn {
        user: rec.user.clone(),
        device: rec.device,
        token_hash: rec.token_hash.clone(),
        states: HashMap::new(),
        state_bytes: 0,
        phantoms: Phantoms::new(),
        granted: tenant.granted_docs(rec.device).into_iter().collect(),
        revoking: HashMap::new(),
        own: HashSet::new(),
        version,
        refetch: HashSet::new(),
    };
    // Subscribe before listing, so nothing committed in between is missed.
    let mut events = tenant.subscribe();
    let welcome = Frame::Welcome {
        user: rec.user.clone(),
        role: role.as_str().to_string(),
        tenant: tenant.info.id,
        singletons: tenant.info.singletons.clone(),
        seq: tenant.seq(),
    };
    if send(tenant, sink, &welcome).await.is_err() {
        return;
    }
    if catch_up(tenant, &mut conn, cursor, sink).await.is_err() {
        return;
    }
    tracing::debug!("session open");
    let mut ping = tokio::time::interval(limits.ping_every);
    ping.tick().await;
    let mut last_heard = Instant::now();
    let mut ping_n = 0u64;
    loop {
        tokio::select! {
            // Live changes first: whatever a device's own commit caused is
            // told before its next frame (its Ping barrier) is answered.
            biased;
            ev = events.recv() => {
                let mut batch = Vec::new();
                let mut lagged = false;
                match ev {
                    Ok(e) => batch.push(e),
                    Err(RecvError::Lagged(_)) => lagged = true,
                    Err(RecvError::Closed) => break,
                }
                loop {
                    match events.try_recv() {
                        Ok(e) => batch.push(e),
                        Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => lagged = true,
                        Err(_) => break,
                    }
                }
                let revoked_now = batch.iter().any(|e| matches!(e, Event::DeviceRevoked(d) if *d == conn.device));
                // Fell behind: the revocation may be among what was lost.
                if revoked_now || (lagged && !tenant.still_authorised(&conn.token_hash, conn.device)) {
                    fail(tenant, sink, ErrorCode::Unauthorized, "this device was revoked").await;
                    break;
                }
                let result = if lagged {
                    // Fell behind the live feed: list from the log instead.
                    let from = batch.iter().filter_map(|e| match e { Event::Doc { seq, .. } => Some(*seq), _ => None }).min().unwrap_or(tenant.seq()).saturating_sub(1);
                    catch_up(tenant, &mut conn, from.min(tenant.seq()), sink).await
                } else {
                    forward(tenant, &mut conn, &batch, sink).await
                };
                if result.is_err() {
                    break;
                }
            }
            msg = input.next() => {
                last_heard = Instant::now();
                let bytes = match msg {
                    Some(WireIn::Frame(b)) => b,
                    Some(WireIn::Invalid(why)) => {
                        tenant.metrics.bad_frame();
                        fail(tenant, sink, ErrorCode::BadFrame, why).await;
                        break;
                    }
                    Some(WireIn::Closed) | None => break,
                };
                tenant.metrics.frame_in(bytes.len());
                let frame = match Frame::decode(&bytes) {
                    Ok(f) => f,
                    Err(e) => {
                        tenant.metrics.bad_frame();
                        tracing::info!(error = %e, "bad frame");
                        fail(tenant, sink, e.code(), e.to_string()).await;
                        break;
                    }
                };
                if handle(tenant, limits, &mut conn, frame, sink).await.is_err() {
                    break;
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > limits.idle_timeout {
                    tracing::info!("idle timeout");
                    break;
                }
                if !tenant.still_authorised(&conn.token_hash, conn.device) {
                    fail(tenant, sink, ErrorCode::Unauthorized, "this device was revoked").await;
                    break;
                }
                ping_n += 1;
                if send(tenant, sink, &Frame::Ping(ping_n)).await.is_err() {
                    break;
                }
            }
        }
    }
    // Revoked documents announced in this session: the grace to push
    // pending edits ends with the session.
    let gone: Vec<DocId> = conn.revoking.drain().map(|(d, _)| d).collect();
    let _ = tenant.set_granted(conn.device, &[], &gone);
    tracing::debug!("session closed");
}

/// The documents changed after `cursor` that this device may see (or lost).
async fn catch_up<S>(tenant: &Tenant, conn: &mut Conn, cursor: u64, sink: &mut S) -> SendResult
where
    S: Sink<Vec<u8>> + Unpin,
{
    let upto = tenant.seq();
    let cursor = if cursor > upto { 0 } else { cursor };
    let mut docs = Vec::new();
    let mut revoked = Vec::new();
    let acl = tenant.acl();
    let seen_key = format!("devseen/{}", conn.device);
    let dir_seq = tenant.dir_seq();
    let seen = tenant
        .store
        .meta(&seen_key)
        .ok()
        .flatten()
        .and_then(|b| b.try_into().ok().map(u64::from_be_bytes));
    use carnet_core::store::Store;
    if cursor == 0 || seen != Some(dir_seq) {
        // The access rules changed (or first sync): check every document.
        tenant.for_each_row(|doc, rows| {
            let visible = acl.can_see(&conn.user, rows);
            if visible && (!conn.granted.contains(&doc) || tenant.doc_seq(doc) > cursor) {
                docs.push(doc);
            } else if !visible && conn.granted.contains(&doc) {
                revoked.push(doc);
            }
        });
        let mut b = carnet_core::store::Batch::new();
        b.put_meta(seen_key, dir_seq.to_be_bytes().to_vec());
        let _ = tenant
            .store
            .write(b, carnet_core::store::Durability::Buffered);
    } else {
        let mut after = cursor;
        loop {
            let page = match tenant.log_after(after, 4096) {
                Ok(p) => p,
                Err(_) => return Err(()),
            };
            let Some(last) = page.last().map(|(s, _)| *s) else {
                break;
            };
            for (seq, doc) in page {
                if seq > upto {
                    continue;
                }
                if tenant.visible(&conn.user, doc) {
                    docs.push(doc);
                } else if conn.granted.contains(&doc) {
                    revoked.push(doc);
                }
            }
            after = last;
        }
    }
    let stale = tenant.stale_docs(conn.device);
    let replace = conn.stale(tenant, stale, &mut docs, &mut revoked);
    send_replace(tenant, sink, replace).await?;
    conn.announce_revoked(&revoked);
    send_changed(tenant, sink, docs, revoked, upto).await
}

/// `Replace` (protocol 2) for documents rewritten by an erasure.
async fn send_replace<S>(tenant: &Tenant, sink: &mut S, docs: Vec<Replaced>) -> SendResult
where
    S: Sink<Vec<u8>> + Unpin,
{
    for chunk in docs.chunks(MAX_BATCH_DOCS) {
        send(
            tenant,
            sink,
            &Frame::Replace {
                docs: chunk.to_vec(),
            },
        )
        .await?;
    }
    Ok(())
}

async fn send_changed<S>(
    tenant: &Tenant,
    sink: &mut S,
    docs: Vec<DocId>,
    revoked: Vec<DocId>,
    upto: u64,
) -> SendResult
where
    S: Sink<Vec<u8>> + Unpin,
{
    send_changed_with(tenant, sink, docs, revoked, upto, Vec::new()).await
}

async fn send_changed_with<S>(
    tenant: &Tenant,
    sink: &mut S,
    docs: Vec<DocId>,
    revoked: Vec<DocId>,
    upto: u64,
    changes: Vec<(DocId, Vec<u8>)>,
) -> SendResult
where
    S: Sink<Vec<u8>> + Unpin,
{
    let mut changes = Some(changes);
    let chunks: Vec<&[DocId]> = if docs.is_empty() {
        vec![&[]]
    } else {
        docs.chunks(MAX_BATCH_DOCS * 4).collect()
    };
    let n = chunks.len();
    for (i, chunk) in chunks.into_iter().enumerate() {
        let last = i + 1 == n;
        let frame = Frame::Changed {
            docs: chunk.to_vec(),
            revoked: if last { revoked.clone() } else { Vec::new() },
            upto,
            more: !last,
            changes: if last {
                changes.take().unwrap_or_default()
            } else {
                Vec::new()
            },
        };
        send(tenant, sink, &frame).await?;
    }
    Ok(())
}

/// Live changes from other connections.
async fn forward<S>(tenant: &Tenant, conn: &mut Conn, events: &[Event], sink: &mut S) -> SendResult
where
    S: Sink<Vec<u8>> + Unpin,
{
    let mut docs = Vec::new();
    let mut revoked = Vec::new();
    let mut upto = 0;
    let mut rules_changed = false;
    let mut changes = Vec::new();
    // Stored whole: what an erasure writes (among others).
    let mut snapshots = Vec::new();
    for e in events {
        let Event::Doc {
            doc,
            seq,
            kind,
            changes: pushed,
        } = e
        else {
            continue;
        };
        upto = upto.max(*seq);
        if pushed.is_none() {
            snapshots.push(*doc);
        }
        if conn.own.remove(seq) {
            // The device has this change already; only a loss of access
            // (it moved the file away) needs telling.
            if conn.granted.contains(doc) && !tenant.visible(&conn.user, *doc) {
                revoked.push(*doc);
            }
            continue;
        }
        if *kind == carnet_core::DocKind::Directory {
            rules_changed = true;
        }
        if tenant.visible(&conn.user, *doc) {
            docs.push(*doc);
            if let Some(bytes) = pushed {
                if conn.granted.contains(doc) {
                    changes.push((*doc, bytes.as_ref().clone()));
                }
            }
        } else if conn.granted.contains(doc) {
            revoked.push(*doc);
        }
    }
    if upto == 0 {
        return Ok(());
    }
    if rules_changed {
        // Who sees what may have changed for many documents at once.
        let acl = tenant.acl();
        let (mut more, mut gone) = (Vec::new(), Vec::new());
        tenant.for_each_row(|doc, rows| {
            let visible = acl.can_see(&conn.user, rows);
            if visible && !conn.granted.contains(&doc) {
                more.push(doc);
            } else if !visible && conn.granted.contains(&doc) {
                gone.push(doc);
            }
        });
        docs.extend(more);
        revoked.extend(gone);
    }
    docs.sort();
    docs.dedup();
    let replace = conn.stale(tenant, snapshots, &mut docs, &mut revoked);
    changes.retain(|(d, _)| docs.contains(d));
    revoked.sort();
    revoked.dedup();
    send_replace(tenant, sink, replace).await?;
    conn.announce_revoked(&revoked);
    send_changed_with(tenant, sink, docs, revoked, upto, changes).await
}

/// Refuses (with `TooLarge`) a frame carrying more documents than a batch
/// may; `true` when it did.
async fn over_batch_limit<S>(tenant: &Tenant, sink: &mut S, docs: usize, frame: &str) -> bool
where
    S: Sink<Vec<u8>> + Unpin,
{
    if docs <= MAX_BATCH_DOCS {
        return false;
    }
    fail(
        tenant,
        sink,
        ErrorCode::TooLarge,
        format!("at most {MAX_BATCH_DOCS} documents per {frame}"),
    )
    .await;
    true
}

/// What the server decided about one document of a `Sync` or `Up` frame;
/// `rest` is what only that frame's reply carries.
struct Decided<R> {
    ack: Option<Vec<Hash>>,
    reject: Option<String>,
    granted: bool,
    /// The device's copy is of an erased history (`DocOutcome::replace`).
    replace: bool,
    rest: R,
}

/// The documents of one `Sync` or `Up` frame, settled.
struct Settled<R> {
    acks: Vec<(DocId, Vec<Hash>)>,
    rejects: Vec<(DocId, String)>,
    /// Documents this device holds from now on.
    grant: Vec<DocId>,
    rest: Vec<(DocId, R)>,
    /// A document could not be stored.
    failed: bool,
    /// Documents to replace (protocol 2; refused for protocol 1).
    replace: Vec<Replaced>,
}

/// One loop for the documents of a `Sync` or `Up` frame: acks (noting the
/// device's own commits), refusals and grants of every decided document.
fn settle<R>(
    tenant: &Tenant,
    conn: &mut Conn,
    seq_before: u64,
    results: Vec<(DocId, crate::tenant::Result<Decided<R>>)>,
) -> Settled<R> {
    let mut out = Settled {
        acks: Vec::new(),
        rejects: Vec::new(),
        grant: Vec::new(),
        rest: Vec::with_capacity(results.len()),
        failed: false,
        replace: Vec::new(),
    };
    for (doc, result) in results {
        let d = match result {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(%doc, error = %e, "storing a device's changes failed");
                out.failed = true;
                continue;
            }
        };
        if let Some(heads) = d.ack {
            conn.note_own_commit(tenant, doc, seq_before);
            out.acks.push((doc, heads));
        }
        if d.replace && conn.version >= 2 {
            out.replace.push(tenant.replaced(doc));
            continue;
        }
        if let Some(r) = d.reject {
            out.rejects.push((doc, r));
        }
        if d.granted && conn.granted.insert(doc) {
            out.grant.push(doc);
        }
        out.rest.push((doc, d.rest));
    }
    out
}

/// The one failure policy of `Sync` and `Up`: grants are recorded and
/// everything decided is answered; if a document could not be stored, the
/// connection then ends with `Internal` and the device retries the rest.
async fn conclude<S>(
    tenant: &Tenant,
    conn: &Conn,
    sink: &mut S,
    grant: &[DocId],
    failed: bool,
    reply: &Frame,
) -> SendResult
where
    S: Sink<Vec<u8>> + Unpin,
{
    if tenant.set_granted(conn.device, grant, &[]).is_err() {
        fail(tenant, sink, ErrorCode::Internal, "storage failure").await;
        return Err(());
    }
    let sent = send(tenant, sink, reply).await;
    if failed {
        fail(
            tenant,
            sink,
            ErrorCode::Internal,
            "the server could not store changes; retry later",
        )
        .await;
        return Err(());
    }
    sent
}

async fn handle<S>(
    tenant: &Arc<Tenant>,
    limits: &Limits,
    conn: &mut Conn,
    frame: Frame,
    sink: &mut S,
) -> SendResult
where
    S: Sink<Vec<u8>> + Unpin,
{
    match frame {
        Frame::Sync { msgs } => {
            if over_batch_limit(tenant, sink, msgs.len(), "Sync").await {
                return Err(());
            }
            // Every document of the frame at once: their writes share one
            // group commit (one flush) instead of one each.
            let seq_before = tenant.seq();
            let mut work = Vec::with_capacity(msgs.len());
            for DocMsg { doc, msg } in msgs {
                let state = conn.take_state(&doc);
                let phantom = conn.phantoms.remove(&doc);
                let grace = conn.in_grace(&doc, limits);
                work.push((doc, msg, state, phantom, grace));
            }
            let user = conn.user.clone();
            let results = futures_util::future::join_all(work.into_iter().map(
                |(doc, msg, mut state, mut phantom, grace)| {
                    let tenant = tenant.clone();
                    let user = user.clone();
                    async move {
                        let out = if msg.is_empty() {
                            Ok(Default::default())
                        } else {
                            tenant
                                .exchange(&user, &mut state, &mut phantom, doc, &msg, grace)
                                .await
                        };
                        (doc, msg.len(), state, phantom, out)
                    }
                },
            ))
            .await;
            let mut decided = Vec::with_capacity(results.len());
            for (doc, size, state, phantom, out) in results {
                if let Some(p) = phantom {
                    if conn.phantoms.len() < MAX_PHANTOMS {
                        conn.phantoms.insert(doc, p);
                    }
                }
                decided.push((
                    doc,
                    out.map(|o: DocOutcome| Decided {
                        ack: o.ack,
                        reject: o.reject,
                        granted: o.granted,
                        replace: o.replace,
                        rest: (o.reply, state, size),
                    }),
                ));
            }
            let settled = settle(tenant, conn, seq_before, decided);
            let mut msgs = Vec::with_capacity(settled.rest.len());
            for (doc, (reply, state, size)) in settled.rest {
                // A finished exchange needs no state; an unfinished one
                // keeps it within the connection's bounds.
                if !reply.is_empty() {
                    conn.keep_state(doc, state, size);
                }
                msgs.push(DocMsg { doc, msg: reply });
            }
            let frame = Frame::SyncReply {
                msgs,
                acks: settled.acks,
                rejects: settled.rejects,
            };
            conclude(tenant, conn, sink, &settled.grant, settled.failed, &frame).await?;
            send_replace(tenant, sink, settled.replace).await
        }
        Frame::Up { docs } => {
            if over_batch_limit(tenant, sink, docs.len(), "Up").await {
                return Err(());
            }
            let seq_before = tenant.seq();
            let user = conn.user.clone();
            let results = futures_util::future::join_all(docs.into_iter().map(|up| {
                let tenant = tenant.clone();
                let user = user.clone();
                let grace = conn.in_grace(&up.doc, limits);
                async move {
                    let out = tenant
                        .up(&user, up.doc, &up.heads, &up.changes, grace)
                        .await
                        .map(|o: UpOutcome| Decided {
                            ack: o.ack,
                            reject: o.reject,
                            granted: o.granted,
                            replace: o.replace,
                            rest: (o.down, o.resync),
                        });
                    (up.doc, out)
                }
            }))
            .await;
            let settled = settle(tenant, conn, seq_before, results);
            let mut down = Vec::new();
            let mut resync = Vec::new();
            for (doc, (changes, again)) in settled.rest {
                if !changes.is_empty() {
                    down.push((doc, changes));
                }
                if again {
                    resync.push(doc);
                }
            }
            let frame = Frame::Down {
                docs: down,
                acks: settled.acks,
                rejects: settled.rejects,
                resync,
            };
            conclude(tenant, conn, sink, &settled.grant, settled.failed, &frame).await?;
            send_replace(tenant, sink, settled.replace).await
        }
        Frame::Fetch { docs } => {
            if over_batch_limit(tenant, sink, docs.len(), "Fetch").await {
                return Err(());
            }
            let (found, missing) = match tenant.fetch(&conn.user, &docs) {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "fetch failed");
                    fail(tenant, sink, ErrorCode::Internal, "storage failure").await;
                    return Err(());
                }
            };
            let grant: Vec<DocId> = found
                .iter()
                .map(|(d, _)| *d)
                .filter(|d| conn.granted.insert(*d))
                .collect();
            // A whole copy: of the new history, if a person was erased.
            let fetched: Vec<DocId> = found.iter().map(|(d, _)| *d).collect();
            for d in &fetched {
                conn.refetch.remove(d);
            }
            if tenant.set_granted(conn.device, &grant, &[]).is_err()
                || tenant.clear_stale(conn.device, &fetched).is_err()
            {
                fail(tenant, sink, ErrorCode::Internal, "storage failure").await;
                return Err(());
            }
            let mut frame_docs = Vec::new();
            let mut size = 0;
            for (doc, bytes) in found {
                if size + bytes.len() > limits.docs_frame_bytes && !frame_docs.is_empty() {
                    send(
                        tenant,
                        sink,
                        &Frame::Docs {
                            docs: std::mem::take(&mut frame_docs),
                            missing: Vec::new(),
                        },
                    )
                    .await?;
                    size = 0;
                }
                size += bytes.len();
                frame_docs.push((doc, bytes));
            }
            send(
                tenant,
                sink,
                &Frame::Docs {
                    docs: frame_docs,
                    missing,
                },
            )
            .await
        }
        Frame::Dropped { docs } => {
            for d in &docs {
                conn.granted.remove(d);
                conn.revoking.remove(d);
            }
            if tenant.set_granted(conn.device, &[], &docs).is_err() {
                return Err(());
            }
            // A version-1 device dropped its copy of a rewritten document:
            // list it again, it fetches the new one.
            let again: Vec<DocId> = docs
                .iter()
                .copied()
                .filter(|d| conn.refetch.remove(d) && tenant.visible(&conn.user, *d))
                .collect();
            if again.is_empty() {
                return Ok(());
            }
            send_changed(tenant, sink, again, Vec::new(), 0).await
        }
        Frame::Ping(n) => send(tenant, sink, &Frame::Pong(n)).await,
        Frame::Pong(_) => Ok(()),
        other => {
            let name = carnet_core::sync::client::frame_name(&other);
            fail(
                tenant,
                sink,
                ErrorCode::Unexpected,
                format!("unexpected {name}"),
            )
            .await;
            Err(())
        }
    }
}
