//! The one session driver (feature `transport`): runs `ClientSession`
//! over a websocket `Connection` for every front-end. One-shot ("sync now",
//! `carnet sync`) or live and reconnecting with exponential backoff
//! (the apps' background sync, `carnet sync --watch`); a nudge sends local
//! edits at once or cuts a backoff short. The replica is borrowed through
//! the `Host` only while a frame is handled, never across a network wait,
//! so the front-end's reads and edits go on during a sync.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;

use super::client::{ClientSession, SyncError};
use super::frame::{ErrorCode, Frame};
use super::replica::Replica;
use super::status::SyncPhase;
use super::transport::Connection;
use crate::ids::DocId;

/// How long a silent server is tolerated (twice that on a live session,
/// where the server pings).
pub const TIMEOUT: Duration = Duration::from_secs(60);
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// What a session tells its front-end.
#[derive(Debug)]
pub enum Event<'a> {
    /// The session moved to another phase.
    Phase(SyncPhase),
    /// Caught up: every local edit sent so far is acknowledged or refused,
    /// and everything the server had is here (`Phase(UpToDate)` follows).
    UpToDate,
    /// Documents changed from elsewhere (or dropped).
    Changed(&'a [DocId]),
    /// A session ended with this error (the session is offline from now;
    /// `Phase(Offline)` follows); a background loop retries unless it is
    /// fatal (`is_fatal`: the device was refused).
    Failed(SyncError),
}

/// The front-end's side of a session: the replica, lent one call at a time,
/// and where events go.
pub trait Host: Send + Sync {
    type Replica: Replica;
    fn with_replica<T>(
        &self,
        f: impl FnOnce(&mut Self::Replica) -> Result<T, SyncError>,
    ) -> Result<T, SyncError>;
    fn on_event(&self, event: Event<'_>);
}

/// Steers a live session: nudge it (local edits to send, network back) or
/// stop it.
#[derive(Default)]
pub struct Control {
    nudge: Notify,
    stop: Notify,
    stopped: AtomicBool,
}

impl Control {
    /// Local edits to send, or "sync now": the live session pushes them at
    /// once; a loop waiting out a backoff retries at once.
    pub fn nudge(&self) {
        self.nudge.notify_one();
    }

    /// Ends the loop (and its session) at its next wait.
    pub fn request_stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.stop.notify_one();
    }

    /// `request_stop` was called.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }
}

pub struct Options {
    /// Stay connected, receive live changes and reconnect after failures,
    /// instead of returning once up to date.
    pub watch: bool,
    /// Give up on a session when the server is silent this long.
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            watch: false,
            timeout: TIMEOUT,
        }
    }
}

enum Wake {
    Frame(Frame),
    Nudge,
    Stop,
}

/// One session. Without `live`, returns once up to date. With it, stays
/// connected: live changes come in, local edits go out on a nudge, until
/// stopped (`Ok`) or the connection fails (`Err`).
pub async fn session<H: Host>(
    host: &H,
    live: Option<&Control>,
    timeout: Duration,
) -> Result<(), SyncError> {
    let remote = host.with_replica(|r| r.remote()?.ok_or(SyncError::NotLinked))?;
    host.on_event(Event::Phase(SyncPhase::Connecting));
    let mut conn = Connection::open(&remote.url).await?;
    let mut session = ClientSession::new();
    let hello = host.with_replica(|r| session.hello(r))?;
    conn.send(&hello).await?;
    let mut was_idle = false;
    let mut waiting_nudge = false;
    loop {
        let idle = session.is_idle();
        if idle && (!was_idle || waiting_nudge) {
            // The news first, then the phase: a host that shows both at
            // once (up to date, no error) never shows one without the other.
            host.on_event(Event::UpToDate);
            host.on_event(Event::Phase(SyncPhase::UpToDate));
            waiting_nudge = false;
            if live.is_none() {
                conn.close().await;
                return Ok(());
            }
        } else if !idle && was_idle {
            host.on_event(Event::Phase(SyncPhase::Syncing));
        }
        was_idle = idle;
        let wake = match live {
            None => Wake::Frame(conn.recv(timeout).await?),
            Some(ctl) => {
                tokio::select! {
                    f = conn.recv(timeout * 2) => Wake::Frame(f?),
                    _ = ctl.nudge.notified() => Wake::Nudge,
                    _ = ctl.stop.notified() => Wake::Stop,
                }
            }
        };
        let (replies, changed) = match wake {
            Wake::Stop => {
                conn.close().await;
                return Ok(());
            }
            Wake::Frame(frame) => {
                let replies = host.with_replica(|r| session.handle(r, frame))?;
                (replies, session.take_changed())
            }
            Wake::Nudge => {
                waiting_nudge = true;
                if session.phase() == SyncPhase::Connecting {
                    // `Welcome` sends every pending edit anyway.
                    (Vec::new(), Vec::new())
                } else {
                    (host.with_replica(|r| session.push_local(r))?, Vec::new())
                }
            }
        };
        for f in &replies {
            conn.send(f).await?;
        }
        if !changed.is_empty() {
            host.on_event(Event::Changed(&changed));
        }
        if !replies.is_empty() || !changed.is_empty() {
            let phase = if session.is_idle() {
                SyncPhase::UpToDate
            } else {
                SyncPhase::Syncing
            };
            host.on_event(Event::Phase(phase));
        }
    }
}

/// A refusal that retrying cannot fix.
pub fn is_fatal(e: &SyncError) -> bool {
    matches!(
        e,
        SyncError::NotLinked
            | SyncError::Server {
                code: ErrorCode::Unauthorized,
                ..
            }
    )
}

/// The live loop: sessions, with exponential backoff between failed
/// attempts; a nudge (an edit, "sync now", the network back) retries at
/// once. Returns when stopped, or after a fatal error (the device was
/// refused: retrying would not help), which the host heard as `Failed`.
pub async fn background<H: Host>(host: &H, control: &Control, timeout: Duration) {
    let mut backoff = BACKOFF_MIN;
    while !control.is_stopped() {
        let started = std::time::Instant::now();
        let err = match session(host, Some(control), timeout).await {
            Ok(()) => break,
            Err(e) => e,
        };
        tracing::info!(error = %err, "sync session ended");
        let fatal = is_fatal(&err);
        // The error first: an indicator that shows "offline" has the reason
        // with it (the host sets both at once; the phase is then no news).
        host.on_event(Event::Failed(err));
        host.on_event(Event::Phase(SyncPhase::Offline));
        if fatal {
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
    host.on_event(Event::Phase(SyncPhase::Offline));
}

/// A replica owned by the caller (the CLI, tests, benchmarks) as a host.
/// Events go to `on_event`, except a fatal failure, which `run` returns.
struct Owned<'a, R, F> {
    replica: Mutex<&'a mut R>,
    on_event: Mutex<F>,
    fatal: Mutex<Option<SyncError>>,
}

impl<R, F> Host for Owned<'_, R, F>
where
    R: Replica + Send,
    F: FnMut(Event<'_>) + Send,
{
    type Replica = R;

    fn with_replica<T>(
        &self,
        f: impl FnOnce(&mut R) -> Result<T, SyncError>,
    ) -> Result<T, SyncError> {
        let mut guard = self.replica.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    fn on_event(&self, event: Event<'_>) {
        match event {
            Event::Failed(e) if is_fatal(&e) => {
                *self.fatal.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
            }
            other => (self.on_event.lock().unwrap_or_else(|e| e.into_inner()))(other),
        }
    }
}

/// Syncs an owned replica: once (returns when up to date), or with `watch`
/// live and reconnecting until `control` stops it or the device is refused
/// (that error is returned).
pub async fn run<R: Replica + Send>(
    replica: &mut R,
    opts: &Options,
    control: Option<&Control>,
    on_event: impl FnMut(Event<'_>) + Send,
) -> Result<(), SyncError> {
    let host = Owned {
        replica: Mutex::new(replica),
        on_event: Mutex::new(on_event),
        fatal: Mutex::new(None),
    };
    if opts.watch {
        let own = Control::default();
        background(&host, control.unwrap_or(&own), opts.timeout).await;
        match host.fatal.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    } else {
        session(&host, None, opts.timeout).await
    }
}
