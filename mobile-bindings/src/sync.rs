//! Sync sessions on the client's own runtime: one-shot (`sync_now`) or
//! background (live, reconnecting with backoff). The device lock is held
//! only while a frame is handled, never across network waits, so the app's
//! reads and edits go on during a sync; an edit nudges the live session,
//! which sends it at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use carnet_core::device::Device;
use carnet_core::ids::DocId;
use carnet_core::sync::frame::{ErrorCode, Frame};
use carnet_core::sync::transport::Connection;
use carnet_core::sync::{ClientSession, SyncError};
use tokio::sync::{watch, Notify};

use crate::error::{CarnetError, Result};
use crate::types::{RejectedDoc, SyncPhase, SyncStatus};

/// Implemented by the app to show the sync indicator.
#[uniffi::export(foreign)]
pub trait SyncStatusListener: Send + Sync {
    fn on_status(&self, status: SyncStatus) -> Result<()>;
}

/// Implemented by the app to refresh screens: ids of the customer files
/// (documents) that changed, from this device or from elsewhere.
#[uniffi::export(foreign)]
pub trait ChangeListener: Send + Sync {
    fn on_changed(&self, docs: Vec<String>) -> Result<()>;
}

/// How long a silent server is tolerated.
const TIMEOUT: Duration = Duration::from_secs(60);
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// The state shared by the client object and its sync tasks.
pub(crate) struct Shared {
    device: Mutex<Option<Device>>,
    status_listeners: Mutex<HashMap<u64, Arc<dyn SyncStatusListener>>>,
    change_listeners: Mutex<HashMap<u64, Arc<dyn ChangeListener>>>,
    next_listener: AtomicU64,
    status: Mutex<SyncStatus>,
    /// Ends of sync attempts: a generation counter and the result, for
    /// `sync_now` while a background session runs.
    outcome: watch::Sender<(u64, Option<String>)>,
    /// One session at a time per store.
    session: tokio::sync::Mutex<()>,
    pub(crate) background: Mutex<Option<Background>>,
}

pub(crate) struct Background {
    pub(crate) control: Arc<Control>,
    pub(crate) task: tokio::task::JoinHandle<()>,
}

impl Background {
    /// Running and not asked to stop.
    pub(crate) fn is_live(&self) -> bool {
        !self.control.is_stopped() && !self.task.is_finished()
    }
}

#[derive(Default)]
pub(crate) struct Control {
    /// Local edits to send, or "sync now".
    pub(crate) nudge: Notify,
    stop: Notify,
    stopped: AtomicBool,
}

impl Control {
    /// Ends the background loop (and its session) at its next wait.
    pub(crate) fn request_stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.stop.notify_one();
    }

    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a lock leaves nothing half-written on disk
    // (every write is one atomic batch); carry on with the data.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn new(device: Option<Device>) -> Shared {
        let status = SyncStatus {
            phase: SyncPhase::Offline,
            pending: 0,
            last_ack: None,
            rejected: Vec::new(),
            last_error: None,
            background: false,
        };
        let shared = Shared {
            device: Mutex::new(device),
            status_listeners: Mutex::default(),
            change_listeners: Mutex::default(),
            next_listener: AtomicU64::new(1),
            status: Mutex::new(status),
            outcome: watch::channel((0, None)).0,
            session: tokio::sync::Mutex::new(()),
            background: Mutex::new(None),
        };
        shared.refresh_status(|_| {});
        shared
    }

    /// Runs `f` on the device; `NotLoggedIn` when there is no store.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Device) -> Result<T>) -> Result<T> {
        let mut guard = lock(&self.device);
        match guard.as_mut() {
            Some(d) => f(d),
            None => Err(CarnetError::not_logged_in()),
        }
    }

    /// `with` for sync sessions: their errors are the protocol's.
    fn linked<T>(
        &self,
        f: impl FnOnce(&mut Device) -> Result<T, SyncError>,
    ) -> Result<T, SyncError> {
        match lock(&self.device).as_mut() {
            Some(d) => f(d),
            None => Err(SyncError::NotLinked),
        }
    }

    pub(crate) fn set_device(&self, device: Device) {
        *lock(&self.device) = Some(device);
        self.refresh_status(|_| {});
    }

    /// Releases the store (flushed on drop): another client can open it.
    pub(crate) fn release_device(&self) {
        let device = lock(&self.device).take();
        drop(device);
    }

    pub(crate) fn has_device(&self) -> bool {
        lock(&self.device).is_some()
    }

    // ----- listeners ----------------------------------------------------

    pub(crate) fn add_status_listener(&self, l: Arc<dyn SyncStatusListener>) -> u64 {
        let id = self.next_listener.fetch_add(1, Ordering::Relaxed);
        let current = self.status();
        lock(&self.status_listeners).insert(id, l.clone());
        // The current state first, so an indicator is right from the start.
        if let Err(e) = l.on_status(current) {
            tracing::warn!(error = %e, "status listener failed");
        }
        id
    }

    pub(crate) fn add_change_listener(&self, l: Arc<dyn ChangeListener>) -> u64 {
        let id = self.next_listener.fetch_add(1, Ordering::Relaxed);
        lock(&self.change_listeners).insert(id, l);
        id
    }

    pub(crate) fn remove_listener(&self, id: u64) -> bool {
        lock(&self.status_listeners).remove(&id).is_some()
            || lock(&self.change_listeners).remove(&id).is_some()
    }

    /// Tells change listeners; never called with the device locked.
    pub(crate) fn changed(&self, docs: &[DocId]) {
        if docs.is_empty() {
            return;
        }
        let mut ids: Vec<String> = docs.iter().map(|d| d.to_string()).collect();
        ids.sort();
        ids.dedup();
        let listeners: Vec<_> = lock(&self.change_listeners).values().cloned().collect();
        for l in listeners {
            if let Err(e) = l.on_changed(ids.clone()) {
                tracing::warn!(error = %e, "change listener failed");
            }
        }
    }

    pub(crate) fn status(&self) -> SyncStatus {
        lock(&self.status).clone()
    }

    /// Recomputes pending/acks/refusals from the store, applies `f`, and
    /// tells status listeners when anything changed.
    pub(crate) fn refresh_status(&self, f: impl FnOnce(&mut SyncStatus)) {
        let stored = {
            let guard = lock(&self.device);
            guard.as_ref().and_then(|d| d.sync_state().ok())
        };
        let background = lock(&self.background)
            .as_ref()
            .is_some_and(|b| !b.control.is_stopped());
        let next = {
            let mut st = lock(&self.status);
            let before = st.clone();
            if let Some(s) = stored {
                st.pending = u32::try_from(s.pending.len()).unwrap_or(u32::MAX);
                st.last_ack = s.last_ack;
                st.rejected = s
                    .rejected
                    .into_iter()
                    .map(|(doc, reason)| RejectedDoc {
                        doc: doc.to_string(),
                        reason,
                    })
                    .collect();
            }
            st.background = background;
            f(&mut st);
            if *st == before {
                return;
            }
            st.clone()
        };
        let listeners: Vec<_> = lock(&self.status_listeners).values().cloned().collect();
        for l in listeners {
            if let Err(e) = l.on_status(next.clone()) {
                tracing::warn!(error = %e, "status listener failed");
            }
        }
    }

    /// A sync attempt failed: the indicator shows why, `sync_now` hears it.
    fn failed(&self, message: String) {
        self.refresh_status(|s| {
            s.phase = SyncPhase::Offline;
            s.last_error = Some(message.clone());
        });
        self.publish(Err(message));
    }

    fn publish(&self, result: std::result::Result<(), String>) {
        self.outcome.send_modify(|(gen, r)| {
            *gen += 1;
            *r = result.err();
        });
    }

    /// Called after an edit made through the client.
    /// The background session's control, while it runs.
    pub(crate) fn live_background(&self) -> Option<Arc<Control>> {
        lock(&self.background)
            .as_ref()
            .filter(|b| b.is_live())
            .map(|b| b.control.clone())
    }

    pub(crate) fn local_edit(&self, doc: DocId) {
        self.changed(&[doc]);
        if let Some(c) = self.live_background() {
            c.nudge.notify_one();
        }
        self.refresh_status(|_| {});
    }
}

// ----- sessions -------------------------------------------------------------

enum Event {
    Frame(Frame),
    Nudge,
    Stop,
}

/// One sync session. Without `live`, returns once up to date. With it,
/// stays connected: live changes come in, local edits go out on a nudge,
/// until stopped (`Ok`) or the connection fails (`Err`).
async fn session(shared: &Shared, live: Option<&Control>) -> Result<(), SyncError> {
    let remote = shared.linked(|d| d.remote()?.ok_or(SyncError::NotLinked))?;
    shared.refresh_status(|s| {
        s.phase = SyncPhase::Connecting;
    });
    let mut conn = Connection::open(&remote.url).await?;
    let mut session = ClientSession::new();
    let hello = shared.linked(|d| session.hello(d))?;
    conn.send(&hello).await?;
    let mut was_idle = false;
    let mut waiting_nudge = false;
    loop {
        let idle = session.is_idle();
        if idle && (!was_idle || waiting_nudge) {
            shared.refresh_status(|s| {
                s.phase = SyncPhase::UpToDate;
                s.last_error = None;
            });
            shared.publish(Ok(()));
            waiting_nudge = false;
            if live.is_none() {
                conn.close().await;
                return Ok(());
            }
        } else if !idle && was_idle {
            shared.refresh_status(|s| s.phase = SyncPhase::Syncing);
        }
        was_idle = idle;
        let event = match live {
            None => Event::Frame(conn.recv(TIMEOUT).await?),
            Some(ctl) => {
                tokio::select! {
                    f = conn.recv(TIMEOUT * 2) => Event::Frame(f?),
                    _ = ctl.nudge.notified() => Event::Nudge,
                    _ = ctl.stop.notified() => Event::Stop,
                }
            }
        };
        let (replies, changed) = match event {
            Event::Stop => {
                conn.close().await;
                return Ok(());
            }
            Event::Frame(frame) => {
                let replies = shared.linked(|d| session.handle(d, frame))?;
                (replies, session.take_changed())
            }
            Event::Nudge => {
                waiting_nudge = true;
                if session.status() == carnet_core::sync::SyncStatus::Connecting {
                    // `Welcome` sends every pending edit anyway.
                    (Vec::new(), Vec::new())
                } else {
                    (shared.linked(|d| session.push_local(d))?, Vec::new())
                }
            }
        };
        for f in &replies {
            conn.send(f).await?;
        }
        shared.changed(&changed);
        if !replies.is_empty() || !changed.is_empty() {
            let phase = if session.is_idle() {
                SyncPhase::UpToDate
            } else {
                SyncPhase::Syncing
            };
            shared.refresh_status(|s| s.phase = phase);
        }
    }
}

/// `sync_now` without a background session: one session, then offline.
pub(crate) async fn once(shared: Arc<Shared>) -> Result<()> {
    let _one = shared.session.lock().await;
    let r = session(&shared, None).await.map_err(CarnetError::from);
    match &r {
        // The session left the status up to date as of now.
        Ok(()) => {}
        Err(e) => shared.failed(e.to_string()),
    }
    r
}

/// `sync_now` with a background session: nudge it and wait for the next
/// outcome.
pub(crate) async fn nudge_and_wait(shared: Arc<Shared>, control: Arc<Control>) -> Result<()> {
    let mut rx = shared.outcome.subscribe();
    let start = rx.borrow().0;
    control.nudge.notify_one();
    let wait = async {
        loop {
            if rx.changed().await.is_err() {
                return Err(CarnetError::network("sync stopped"));
            }
            let (gen, err) = rx.borrow().clone();
            if gen > start {
                return match err {
                    None => Ok(()),
                    Some(e) => Err(CarnetError::network(e)),
                };
            }
        }
    };
    match tokio::time::timeout(TIMEOUT * 2, wait).await {
        Ok(r) => r,
        Err(_) => Err(CarnetError::network("no answer from the server")),
    }
}

/// The background loop: sessions, with exponential backoff between failed
/// attempts; a nudge (edit, sync now, network back) retries at once. A
/// refused device stops it: retrying would not help.
pub(crate) async fn background(shared: Arc<Shared>, control: Arc<Control>) {
    let mut backoff = BACKOFF_MIN;
    while !control.is_stopped() {
        let started = std::time::Instant::now();
        let r = {
            let _one = shared.session.lock().await;
            session(&shared, Some(&control)).await
        };
        let err = match r {
            Ok(()) => break,
            Err(e) => e,
        };
        let fatal = matches!(
            &err,
            SyncError::NotLinked
                | SyncError::Server {
                    code: ErrorCode::Unauthorized,
                    ..
                }
        );
        let message = CarnetError::from(err).to_string();
        tracing::info!(error = %message, "sync session ended");
        shared.failed(message);
        if fatal {
            control.request_stop();
            break;
        }
        // A session that lived a while was a good connection: retry soon.
        if started.elapsed() > BACKOFF_MAX {
            backoff = BACKOFF_MIN;
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = control.nudge.notified() => {}
            _ = control.stop.notified() => {}
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
    control.request_stop();
    shared.refresh_status(|s| s.phase = SyncPhase::Offline);
}
