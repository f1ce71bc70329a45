//! The HTTP surface: `/sync` (websocket), `/admin` (websocket, local admin
//! token), `/metrics` (Prometheus, behind a bearer token), `/health`, and
//! the web app (`crate::web`) on every other path.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
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
    /// What a scraper presents as `Authorization: Bearer …` on `/metrics`.
    pub metrics_token: Arc<String>,
}

/// How long an `/admin` connection may take to send its token, then its
/// command.
pub const ADMIN_IDLE: Duration = Duration::from_secs(10);
/// Largest `/admin` message (a command is a few hundred bytes).
pub const ADMIN_MESSAGE_BYTES: usize = 64 * 1024;

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
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/sync", get(sync_ws))
        .route("/admin", get(admin_ws))
        .route("/metrics", get(metrics))
        .route("/health", get(|| async { "ok" }))
        .with_state(state.clone())
        .merge(crate::web::router(state.tenant))
}

/// The metrics router alone, without a token: for a separate listen
/// address that only the scraper reaches (`--metrics-listen`).
pub fn metrics_router(tenant: Arc<Tenant>) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let t = tenant.clone();
            async move { metrics_text(&t) }
        }),
    )
}

fn metrics_text(t: &Tenant) -> impl IntoResponse {
    (
        [("content-type", crate::metrics::CONTENT_TYPE)],
        t.metrics.render(),
    )
}

async fn metrics(State(s): State<AppState>, headers: HeaderMap) -> axum::response::Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !crate::auth::same_secret(presented.trim(), s.metrics_token.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "metrics need the token in the data directory's metrics-token file\n",
        )
            .into_response();
    }
    metrics_text(&s.tenant).into_response()
}

async fn sync_ws(
    ws: WebSocketUpgrade,
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> impl IntoResponse {
    let peer = Some(peer.ip());
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| serve_socket(socket, s, peer))
}

async fn serve_socket(socket: WebSocket, s: AppState, peer: Option<IpAddr>) {
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
        peer,
        Box::pin(input),
        Box::pin(sink),
    )
    .await;
}

/// The next text message of an `/admin` connection, within `ADMIN_IDLE`.
async fn admin_text(socket: &mut WebSocket) -> Option<String> {
    match tokio::time::timeout(ADMIN_IDLE, socket.recv()).await {
        Ok(Some(Ok(Message::Text(t)))) => Some(t.to_string()),
        _ => None,
    }
}

async fn admin_ws(ws: WebSocketUpgrade, State(s): State<AppState>) -> impl IntoResponse {
    ws.max_message_size(ADMIN_MESSAGE_BYTES)
        .max_frame_size(ADMIN_MESSAGE_BYTES)
        .on_upgrade(move |mut socket| async move {
            // First message: the admin token; second: one JSON command.
            let Some(token) = admin_text(&mut socket).await else {
                return;
            };
            if !crate::auth::same_secret(token.trim(), s.admin_token.as_str()) {
                let _ = socket
                    .send(Message::Text(r#"{"error":"bad admin token"}"#.into()))
                    .await;
                return;
            }
            let Some(cmd) = admin_text(&mut socket).await else {
                return;
            };
            let reply = match serde_json::from_str::<AdminCmd>(&cmd) {
                Ok(cmd) => match s.tenant.admin(cmd).await {
                    Ok(v) => serde_json::json!({ "ok": v }),
                    Err(e) => serde_json::json!({ "error": e.to_string() }),
                },
                Err(e) => serde_json::json!({ "error": format!("bad command: {e}") }),
            };
            let _ = socket.send(Message::Text(reply.to_string().into())).await;
        })
}
