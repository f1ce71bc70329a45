//! The websocket client transport (feature `transport`): moves frames
//! between a `ClientSession` and the server's `/sync` endpoint. No protocol
//! logic lives here.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use super::client::{frame_name, ClientSession, SyncError, SyncStatus};
use super::frame::Frame;
use crate::device::Device;
use crate::ids::DocId;
use crate::store::Store;

/// `http://host:port` (or `ws://...`) → `ws://host:port/sync`.
pub fn sync_url(server: &str) -> String {
    let base = server.trim_end_matches('/');
    let ws = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        base.to_string()
    };
    if ws.ends_with("/sync") {
        ws
    } else {
        format!("{ws}/sync")
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One websocket connection to a server's `/sync` endpoint, carrying
/// frames. `recv` is cancel-safe: a frame is never half-read when its future
/// is dropped (the socket buffers it), so it can sit in a `select!`.
pub struct Connection {
    ws: Ws,
}

impl Connection {
    pub async fn open(server: &str) -> Result<Connection, SyncError> {
        #[cfg(feature = "tls")]
        {
            // Pin ring as the process-wide crypto provider (rustls would
            // refuse to pick one if another crate enabled aws-lc too); a
            // second install is a harmless no-op.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let mut config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default();
        config.max_message_size = Some(super::frame::MAX_FRAME_BYTES);
        config.max_frame_size = Some(super::frame::MAX_FRAME_BYTES);
        // Nagle off: frames are small and every round trip counts.
        let (ws, _) =
            tokio_tungstenite::connect_async_with_config(sync_url(server), Some(config), true)
                .await
                .map_err(|e| SyncError::Transport(format!("cannot reach {server}: {e}")))?;
        Ok(Connection { ws })
    }

    pub async fn send(&mut self, frame: &Frame) -> Result<(), SyncError> {
        self.ws
            .send(Message::binary(frame.encode()))
            .await
            .map_err(|e| SyncError::Transport(e.to_string()))
    }

    /// The next frame, or an error when the server is silent for `timeout`,
    /// closes, or sends something that is not a frame.
    pub async fn recv(&mut self, timeout: Duration) -> Result<Frame, SyncError> {
        loop {
            let msg = tokio::time::timeout(timeout, self.ws.next())
                .await
                .map_err(|_| SyncError::Transport("the server stopped answering".into()))?;
            match msg {
                Some(Ok(Message::Binary(b))) => {
                    return Frame::decode(&b).map_err(|e| SyncError::Protocol(e.to_string()))
                }
                Some(Ok(Message::Close(_))) | None => {
                    return Err(SyncError::Transport(
                        "the server closed the connection".into(),
                    ))
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(SyncError::Transport(e.to_string())),
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// What a successful login returns.
#[derive(Clone, Debug)]
pub struct Login {
    pub user: String,
    pub tenant: Uuid,
    pub device: Uuid,
    pub token: String,
}

/// Exchanges a password for a device token.
pub async fn login(
    server: &str,
    email: &str,
    password: &str,
    device_name: &str,
) -> Result<Login, SyncError> {
    let mut conn = Connection::open(server).await?;
    conn.send(&Frame::Login {
        email: email.to_string(),
        password: password.to_string(),
        device_name: device_name.to_string(),
    })
    .await?;
    let reply = conn.recv(Duration::from_secs(30)).await;
    conn.close().await;
    match reply? {
        Frame::LoggedIn {
            user,
            tenant,
            device,
            token,
        } => Ok(Login {
            user,
            tenant,
            device,
            token,
        }),
        Frame::Error { code, message } => Err(SyncError::Server { code, message }),
        other => Err(SyncError::Protocol(format!(
            "unexpected answer to Login: {}",
            frame_name(&other)
        ))),
    }
}

/// Logs in and creates the device's store in `dir`, bound to `server`; the
/// documents arrive with the first sync.
pub async fn login_device(
    dir: &std::path::Path,
    server: &str,
    email: &str,
    password: &str,
    device_name: &str,
) -> Result<Device, SyncError> {
    let login = login(server, email, password, device_name).await?;
    Ok(Device::init_remote(
        dir,
        &login.user,
        login.tenant,
        crate::device::Remote {
            url: server.to_string(),
            device: login.device,
            token: login.token,
        },
    )?)
}

pub struct Options {
    /// Stay connected and receive live changes instead of exiting once up
    /// to date.
    pub watch: bool,
    /// Give up when the server is silent this long.
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            watch: false,
            timeout: Duration::from_secs(60),
        }
    }
}

/// One sync session against the device's server. Returns when up to date
/// (or, with `watch`, when the connection ends). `on_update` sees the status
/// and the documents that changed from elsewhere after every frame.
pub async fn run<S: Store>(
    device: &mut Device<S>,
    opts: &Options,
    mut on_update: impl FnMut(SyncStatus, &[DocId]),
) -> Result<(), SyncError> {
    let remote = device.remote()?.ok_or(SyncError::NotLinked)?;
    let mut conn = Connection::open(&remote.url).await?;
    let mut session = ClientSession::new();
    conn.send(&session.hello(device)?).await?;
    loop {
        if session.is_idle() && !opts.watch {
            conn.close().await;
            return Ok(());
        }
        let timeout = if opts.watch {
            // Live: the server pings; silence this long means it is gone.
            opts.timeout * 2
        } else {
            opts.timeout
        };
        let frame = conn.recv(timeout).await?;
        let replies = session.handle(device, frame)?;
        for f in &replies {
            conn.send(f).await?;
        }
        let changed = session.take_changed();
        on_update(session.status(), &changed);
    }
}
