//! The HTTP surface: `/sync` (websocket), `/admin` (websocket, local admin
//! token), `/metrics` (Prometheus), `/health`.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use carnet_core::sync::frame::MAX_FRAME_BYTES;
use futures_util::{SinkExt, StreamExt};

use crate::admin::AdminCmd;
use crate::session::{self, Limits, WireIn};
use crate::tenant::Tenant;

#[derive(Clone)]
pub struct AppState {
    pub tenant: Arc<Tenant>,
    pub limits: Limits,
    pub admin_token: Arc<String>,
}

/// Serves `app` on `listener` with Nagle's algorithm off: sync frames are
/// small and latency-bound, and a delayed ACK would add 40 ms per round trip.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "TCP_NODELAY");
        }
    });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/sync", get(sync_ws))
        .route("/admin", get(admin_ws))
        .route("/metrics", get(metrics))
        .route("/health", get(|| async { "ok" }))
        .with_state(state)
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    (
        [("content-type", "text/plain; version=0.0.4")],
        s.tenant.metrics.render(),
    )
}

async fn sync_ws(ws: WebSocketUpgrade, State(s): State<AppState>) -> impl IntoResponse {
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| serve_socket(socket, s))
}

async fn serve_socket(socket: WebSocket, s: AppState) {
    let (sink, stream) = socket.split();
    let input = stream
        .map(|m| match m {
            Ok(Message::Binary(b)) => Some(WireIn::Frame(b.to_vec())),
            Ok(Message::Text(_)) => Some(WireIn::Invalid("text messages are not frames".into())),
            Ok(Message::Close(_)) => Some(WireIn::Closed),
            Ok(_) => None,
            Err(e) => Some(WireIn::Invalid(format!("websocket error: {e}"))),
        })
        .filter_map(|m| async move { m });
    let sink =
        sink.with(|b: Vec<u8>| async move { Ok::<_, axum::Error>(Message::Binary(b.into())) });
    session::run(
        s.tenant.clone(),
        s.limits.clone(),
        Box::pin(input),
        Box::pin(sink),
    )
    .await;
}

async fn admin_ws(ws: WebSocketUpgrade, State(s): State<AppState>) -> impl IntoResponse {
    ws.on_upgrade(move |mut socket| async move {
        // First message: the admin token; second: one JSON command.
        let token = match socket.recv().await {
            Some(Ok(Message::Text(t))) => t.to_string(),
            _ => return,
        };
        if token.trim() != s.admin_token.as_str() {
            let _ = socket
                .send(Message::Text(r#"{"error":"bad admin token"}"#.into()))
                .await;
            return;
        }
        let reply = match socket.recv().await {
            Some(Ok(Message::Text(cmd))) => match serde_json::from_str::<AdminCmd>(&cmd) {
                Ok(cmd) => match s.tenant.admin(cmd).await {
                    Ok(v) => serde_json::json!({ "ok": v }),
                    Err(e) => serde_json::json!({ "error": e.to_string() }),
                },
                Err(e) => serde_json::json!({ "error": format!("bad command: {e}") }),
            },
            _ => return,
        };
        let _ = socket.send(Message::Text(reply.to_string().into())).await;
    })
}
