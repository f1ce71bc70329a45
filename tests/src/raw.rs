//! A hand-crafted sync client for tests that play a hostile device: raw
//! frames over a real websocket, with no help from the CLI's session.

use std::time::Duration;

use automerge::sync::{self, SyncDoc};
use automerge::AutoCommit;
use carnet_core::sync::frame::{DocMsg, ErrorCode, Frame};
use carnet_core::DocId;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::harness::Server;

pub const PASSWORD: &str = "carnet-demo";

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Raw(pub Ws);

impl Raw {
    pub async fn connect(server: &Server) -> Raw {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/sync", server.addr))
            .await
            .expect("connect");
        Raw(ws)
    }
    pub async fn send(&mut self, f: &Frame) {
        self.send_bytes(f.encode()).await;
    }
    pub async fn send_bytes(&mut self, b: Vec<u8>) {
        let _ = self.0.send(Message::binary(b)).await;
    }
    /// The next frame, skipping pings; `None` once the server closed.
    pub async fn recv(&mut self) -> Option<Frame> {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(20), self.0.next())
                .await
                .expect("server answers in time");
            match msg {
                Some(Ok(Message::Binary(b))) => {
                    match Frame::decode(&b).expect("server frames decode") {
                        Frame::Ping(_) => continue,
                        f => return Some(f),
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }
    pub async fn expect_error(&mut self) -> ErrorCode {
        match self.recv().await {
            Some(Frame::Error { code, .. }) => code,
            other => panic!("expected an Error frame, got {other:?}"),
        }
    }
}

pub async fn raw_login(server: &Server, email: &str) -> (Uuid, String) {
    let mut r = Raw::connect(server).await;
    r.send(&Frame::Login {
        email: email.into(),
        password: PASSWORD.into(),
        device_name: "raw test".into(),
    })
    .await;
    match r.recv().await {
        Some(Frame::LoggedIn { device, token, .. }) => (device, token),
        other => panic!("login failed: {other:?}"),
    }
}

/// Connects, says Hello, reads Welcome and the catch-up lists.
pub async fn session(server: &Server, device: Uuid, token: &str) -> (Raw, Vec<DocId>) {
    let (r, docs, _) = session_with_revoked(server, device, token).await;
    (r, docs)
}

/// `session`, also returning the documents the catch-up revoked.
pub async fn session_with_revoked(
    server: &Server,
    device: Uuid,
    token: &str,
) -> (Raw, Vec<DocId>, Vec<DocId>) {
    let mut r = Raw::connect(server).await;
    r.send(&Frame::Hello {
        device,
        token: token.into(),
        cursor: 0,
    })
    .await;
    assert!(matches!(r.recv().await, Some(Frame::Welcome { .. })));
    let mut docs = Vec::new();
    let mut revoked = Vec::new();
    loop {
        match r.recv().await {
            Some(Frame::Changed {
                docs: d,
                revoked: gone,
                more,
                ..
            }) => {
                docs.extend(d);
                revoked.extend(gone);
                if !more {
                    break;
                }
            }
            other => panic!("expected Changed, got {other:?}"),
        }
    }
    (r, docs, revoked)
}

/// A document claiming to be `id`, with an account owned by `owner` in `postcode`.
pub fn forged_account(id: DocId, owner: &str, postcode: &str) -> AutoCommit {
    carnet_server::fuzzing::account_doc(id, owner, postcode).expect("a fresh document takes puts")
}

/// Runs a sync exchange for `doc` until the server has our changes or
/// refuses them; returns the rejection, if any.
pub async fn push(r: &mut Raw, doc: DocId, am: &mut AutoCommit) -> Option<String> {
    let mut state = sync::State::new();
    for _ in 0..6 {
        let msg = am.sync().generate_sync_message(&mut state)?;
        r.send(&Frame::Sync {
            msgs: vec![DocMsg {
                doc,
                msg: msg.encode(),
            }],
        })
        .await;
        match r.recv().await {
            Some(Frame::SyncReply { msgs, rejects, .. }) => {
                if let Some((_, reason)) = rejects.into_iter().find(|(d, _)| *d == doc) {
                    return Some(reason);
                }
                for m in msgs
                    .into_iter()
                    .filter(|m| m.doc == doc && !m.msg.is_empty())
                {
                    am.sync()
                        .receive_sync_message(&mut state, sync::Message::decode(&m.msg).unwrap())
                        .unwrap();
                }
            }
            Some(Frame::Changed { .. }) => {}
            other => panic!("expected SyncReply, got {other:?}"),
        }
    }
    None
}

pub fn demo() -> (tempfile::TempDir, Server) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("server");
    Server::demo(&data);
    let server = Server::start(&data, "127.0.0.1:0");
    (tmp, server)
}
