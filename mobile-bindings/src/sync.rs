//! The apps' side of sync: listeners, the status the indicator shows, and
//! the client's device as a `driver::Host`. Sessions themselves (one-shot
//! or live with backoff and nudges) are the core's one session driver
//! (`carnet_core::sync::driver`); the device lock is held only while a
//! frame is handled, so the app's reads and edits go on during a sync.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use carnet_core::device::Device;
use carnet_core::ids::DocId;
use carnet_core::sync::driver::{self, Control, Event, Host};
use carnet_core::sync::SyncError;
use tokio::sync::watch;

use crate::error::{CarnetError, Result};
use crate::types::{SyncPhase, SyncStatus};

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

/// The state shared by the client object and its sync tasks.
pub(crate) struct Shared {
    device: Mutex<Option<Device>>,
    status_listeners: Mutex<HashMap<u64, Arc<dyn SyncStatusListener>>>,
    change_listeners: Mutex<HashMap<u64, Arc<dyn ChangeListener>>>,
    next_listener: AtomicU64,
    status: Mutex<SyncStatus>,
    /// Ends of sync attempts: a generation counter and the result, for
    /// `sync_now` while a background session runs.
    /// Woken whenever the device is up to date or received changes: the
    /// background library download listens (a permit is kept, so no
    /// wake-up is lost).
    synced: tokio::sync::Notify,
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
            synced: tokio::sync::Notify::new(),
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

    pub(crate) fn set_device(&self, device: Device) {
        *lock(&self.device) = Some(device);
        self.refresh_status(|_| {});
    }

    /// Closes the store (flushed, directory released before it returns):
    /// another client can open it at once.
    pub(crate) fn release_device(&self) -> Result<()> {
        let device = lock(&self.device).take();
        match device {
            Some(d) => Ok(d.close()?),
            None => Ok(()),
        }
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
            guard.as_ref().and_then(|d| d.sync_status().ok())
        };
        let background = lock(&self.background)
            .as_ref()
            .is_some_and(|b| !b.control.is_stopped());
        let next = {
            let mut st = lock(&self.status);
            let before = st.clone();
            if let Some(s) = stored {
                st.stored(s);
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

    /// The background session's control, while it runs.
    pub(crate) fn live_background(&self) -> Option<Arc<Control>> {
        lock(&self.background)
            .as_ref()
            .filter(|b| b.is_live())
            .map(|b| b.control.clone())
    }

    /// Called after an edit made through the client.
    pub(crate) fn local_edit(&self, doc: DocId) {
        self.changed(&[doc]);
        if let Some(c) = self.live_background() {
            c.nudge();
        }
        self.refresh_status(|_| {});
    }
}

impl Host for Shared {
    type Replica = Device;

    fn with_replica<T>(
        &self,
        f: impl FnOnce(&mut Device) -> Result<T, SyncError>,
    ) -> Result<T, SyncError> {
        match lock(&self.device).as_mut() {
            Some(d) => f(d),
            None => Err(SyncError::NotLinked),
        }
    }

    fn on_event(&self, event: Event<'_>) {
        match event {
            Event::Phase(p) => self.refresh_status(|s| s.phase = p),
            Event::UpToDate => {
                // One update: an indicator never shows "up to date" with
                // the previous failure still attached.
                self.refresh_status(|s| {
                    s.phase = SyncPhase::UpToDate;
                    s.last_error = None;
                });
                self.publish(Ok(()));
                self.synced.notify_one();
            }
            Event::Changed(docs) => {
                self.changed(docs);
                self.synced.notify_one();
            }
            Event::Failed(e) => self.failed(CarnetError::from(e).to_string()),
        }
    }
}

// ----- sessions -------------------------------------------------------------

/// `sync_now` without a background session: one session, then offline.
pub(crate) async fn once(shared: Arc<Shared>) -> Result<()> {
    let _one = shared.session.lock().await;
    let r = driver::session(&*shared, None, driver::TIMEOUT).await;
    match r {
        // The session left the status up to date as of now.
        Ok(()) => Ok(()),
        Err(e) => {
            let e = CarnetError::from(e);
            shared.failed(e.to_string());
            Err(e)
        }
    }
}

/// `sync_now` with a background session: nudge it and wait for the next
/// outcome.
pub(crate) async fn nudge_and_wait(shared: Arc<Shared>, control: Arc<Control>) -> Result<()> {
    let mut rx = shared.outcome.subscribe();
    let start = rx.borrow().0;
    control.nudge();
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
    match tokio::time::timeout(driver::TIMEOUT * 2, wait).await {
        Ok(r) => r,
        Err(_) => Err(CarnetError::network("no answer from the server")),
    }
}

/// The background loop: the driver's live sessions with backoff, one at a
/// time per store.
pub(crate) async fn background(shared: Arc<Shared>, control: Arc<Control>) {
    let _one = shared.session.lock().await;
    let library = tokio::spawn(fetch_library_after_syncs(shared.clone()));
    driver::background(&*shared, &control, driver::TIMEOUT).await;
    library.abort();
    control.request_stop();
    shared.refresh_status(|s| s.phase = SyncPhase::Offline);
}

/// Largest library file the device downloads.
const MAX_BLOB_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Downloads the library documents meant for this user (and the company's
/// logo) that are not on the device yet, each checked against its SHA-256,
/// then deletes those no longer meant for it; returns how many came. The
/// device lock is held only to list them, never during a download.
pub(crate) async fn fetch_library(shared: &Shared) -> Result<u32> {
    use carnet_core::sync::Replica;
    let (remote, wanted) = shared.with(|d| {
        let remote = d.remote()?.ok_or_else(CarnetError::not_logged_in)?;
        Ok((remote, d.blobs_to_fetch()?))
    })?;
    let mut n = 0u32;
    for (sha, dest) in wanted {
        carnet_core::sync::fetch::fetch_blob(&remote, &sha, &dest, MAX_BLOB_BYTES).await?;
        n += 1;
    }
    // A replaced or withdrawn document leaves the device once the new
    // ones are here.
    shared.with(|d| Ok(d.prune_blobs()?))?;
    Ok(n)
}

/// With background sync on: whenever the device is up to date or has
/// received changes, the library documents not on it yet are downloaded,
/// so they open offline. A failed download is tried again at the next.
async fn fetch_library_after_syncs(shared: Arc<Shared>) {
    loop {
        shared.synced.notified().await;
        if let Err(e) = fetch_library(&shared).await {
            tracing::warn!(error = %e, "library download failed; retried after the next sync");
        }
    }
}
