//! The websocket client transport (feature `transport`): moves frames
//! between a `ClientSession` and the server's `/sync` endpoint, and the
//! password login. No protocol logic lives here; `super::driver` runs
//! sessions over it.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use super::client::{frame_name, SyncError};
use super::frame::Frame;

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
