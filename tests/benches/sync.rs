//! Sync benchmark: Carnet against samod 0.16 (the Rust automerge-repo), in
//! the same run, on the same small account documents, both over real
//! loopback sockets with on-disk storage on both ends.
//!
//! cargo bench -p carnet-tests --bench sync [-- --accounts N]
//!
//! Prints one table with both systems' figures and the ratios.

use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::ReadDoc;
use carnet_core::device::Remote;
use carnet_core::sync::{driver, transport, Replica};
use carnet_core::{Device, DocId};
use carnet_server::tenant::Tenant;
use carnet_tests::portfolio::{self, SMALL_SHAPE};
use carnet_tests::stats::median_p99;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::Message;

const PASSWORD: &str = "bench-password";
const REP: &str = "rep@bench.fr";

struct Row {
    scenario: &'static str,
    carnet: String,
    samod: String,
    ratio: String,
    target: &'static str,
}

fn ms(d: Duration) -> String {
    if d.as_secs_f64() >= 1.0 {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    }
}

fn kb(b: u64) -> String {
    if b < 10_000 {
        format!("{b} B")
    } else {
        format!("{:.1} MB", b as f64 / 1e6)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let accounts = args
        .iter()
        .position(|a| a == "--accounts")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let rows = rt.block_on(run(accounts));
    println!("# Sync benchmark: Carnet vs samod 0.16 ({accounts} small account documents)");
    println!("| scenario | Carnet | samod | samod / Carnet | target for Carnet |");
    println!("|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} |",
            r.scenario, r.carnet, r.samod, r.ratio, r.target
        );
    }
}

// ---------------------------------------------------------------- Carnet

struct CarnetServer {
    tenant: Arc<Tenant>,
    url: String,
    addr: String,
}

async fn carnet_server(dir: &Path) -> CarnetServer {
    let t = Tenant::create(dir, "Bench", "admin@bench.fr", None, PASSWORD)
        .await
        .expect("tenant");
    t.add_user(REP, "rep", None, None, PASSWORD)
        .await
        .expect("user");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let app = carnet_server::http::router(carnet_server::http::AppState {
        tenant: t.clone(),
        limits: carnet_server::session::Limits::default(),
        admin_token: Arc::new("x".repeat(64)),
        metrics_token: Arc::new("m".repeat(64)),
    });
    tokio::spawn(carnet_server::http::serve(
        listener,
        app,
        std::future::pending(),
    ));
    CarnetServer {
        tenant: t,
        url: format!("http://{addr}"),
        addr,
    }
}

async fn device(server: &CarnetServer, dir: &Path) -> Device {
    Device::login(dir, &server.url, REP, PASSWORD, "bench")
        .await
        .expect("login")
}

async fn sync(d: &mut Device) -> Duration {
    let t = Instant::now();
    driver::run(d, &driver::Options::default(), None, |_| {})
        .await
        .expect("sync");
    t.elapsed()
}

fn wire_bytes(t: &Tenant) -> u64 {
    let text = t.metrics.render();
    ["carnet_bytes_received_total", "carnet_bytes_sent_total"]
        .iter()
        .filter_map(|m| {
            text.lines()
                .find_map(|l| l.strip_prefix(m).and_then(|v| v.trim().parse::<u64>().ok()))
        })
        .sum()
}

// ----------------------------------------------------------------- samod

/// Counts bytes both ways on the server side of a samod connection.
struct Counting<S> {
    inner: S,
    bytes: Arc<AtomicU64>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counting<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counting<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            self.bytes.fetch_add(*n as u64, Ordering::Relaxed);
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

async fn samod_repo(dir: &Path) -> samod::Repo {
    samod::Repo::build_tokio()
        .with_storage(samod::storage::TokioFilesystemStorage::new(dir))
        .load()
        .await
}

async fn samod_server(dir: &Path, bytes: Arc<AtomicU64>) -> (samod::Repo, u16) {
    let repo = samod_repo(dir).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let acceptor = repo
        .make_acceptor(samod::Url::parse(&format!("tcp://127.0.0.1:{port}")).expect("url"))
        .expect("acceptor");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = acceptor.accept_tokio_io(Counting {
                inner: stream,
                bytes: bytes.clone(),
            });
        }
    });
    (repo, port)
}

async fn samod_client(dir: &Path, port: u16) -> (samod::Repo, samod::ConnectionId) {
    let repo = samod_repo(dir).await;
    let dialer = repo
        .dial_tcp(
            samod::Url::parse(&format!("tcp://127.0.0.1:{port}")).expect("url"),
            samod::BackoffConfig::default(),
        )
        .expect("dial");
    dialer.established().await.expect("connected");
    let conn = dialer.connection_id().expect("connection id");
    std::mem::forget(dialer);
    (repo, conn)
}

/// Finds every document and waits until this repo has the server's changes.
async fn samod_pull(
    repo: &samod::Repo,
    conn: samod::ConnectionId,
    ids: &[samod::DocumentId],
) -> usize {
    let handles = futures_util::future::join_all(ids.iter().map(|id| repo.find(id.clone()))).await;
    let found: Vec<samod::DocHandle> = handles
        .into_iter()
        .filter_map(|h| h.ok().flatten())
        .collect();
    futures_util::future::join_all(found.iter().map(|h| h.we_have_their_changes(conn))).await;
    found.len()
}

// ------------------------------------------------------------------- run

async fn run(n: usize) -> Vec<Row> {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut rows = Vec::new();

    // Carnet: a device creates n accounts offline and uploads them.
    let server = carnet_server(&tmp.path().join("carnet-server")).await;
    let mut a = device(&server, &tmp.path().join("carnet-a")).await;
    sync(&mut a).await;
    let mut shape = SMALL_SHAPE;
    shape.accounts = n;
    let ids = portfolio::generate(&mut a, shape, 11).expect("portfolio");
    let c_upload = sync(&mut a).await;
    assert!(a.sync_status().expect("state").pending.is_empty());
    let doc_bytes: Vec<Vec<u8>> = ids
        .iter()
        .map(|id| a.changes_since(*id, &[]).expect("doc bytes"))
        .collect();
    let avg = doc_bytes.iter().map(Vec::len).sum::<usize>() / n.max(1);

    if std::env::var("CARNET_BENCH_PROBE").is_ok() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut probe = Device::init_remote(
            dir.path(),
            REP,
            uuid::Uuid::new_v4(),
            Remote {
                url: "x".into(),
                device: uuid::Uuid::new_v4(),
                token: "t".into(),
            },
        )
        .expect("probe");
        let t = Instant::now();
        probe
            .batched(|p| {
                for (id, b) in ids.iter().zip(&doc_bytes) {
                    p.merge_remote(*id, b)?;
                }
                Ok(())
            })
            .expect("merge");
        eprintln!(
            "probe: merge_remote x{} batched: {:?}",
            ids.len(),
            t.elapsed()
        );
        let t = Instant::now();
        for b in &doc_bytes {
            let _ = carnet_core::doc::CrmDoc::load(ids[0], b);
        }
        eprintln!("probe: CrmDoc::load x{}: {:?}", ids.len(), t.elapsed());
        // Each step loads every document again, then reads it one way.
        let load_and = |what: &str, read: &dyn Fn(&mut carnet_core::doc::CrmDoc)| {
            let t = Instant::now();
            for (id, b) in ids.iter().zip(&doc_bytes) {
                let mut d = carnet_core::doc::CrmDoc::load(*id, b).expect("d");
                read(&mut d);
            }
            eprintln!("probe: load+{what} x{}: {:?}", ids.len(), t.elapsed());
        };
        load_and("rows", &|d| {
            let _ = carnet_core::index::DocRows::of(d);
        });
        load_and("hydrate", &|d| {
            let _ = automerge::ReadDoc::hydrate(d.automerge(), automerge::ROOT, None);
        });
        load_and("file", &|d| {
            let _ = carnet_core::model::AccountFile::read(d);
        });
        load_and("conflicts", &|d| {
            let _ = d.conflicts();
        });
    }
    // A fresh device pulls them.
    let mut b = device(&server, &tmp.path().join("carnet-b")).await;
    let c_pull = sync(&mut b).await;
    assert_eq!(b.search("", n + 10).len(), n);
    // Reconnect with nothing changed.
    let before = wire_bytes(&server.tenant);
    let mut c_idle_times = Vec::new();
    for _ in 0..5 {
        c_idle_times.push(sync(&mut b).await);
    }
    let c_idle_bytes = (wire_bytes(&server.tenant) - before) / 5;
    let (c_idle, _) = median_p99(&mut c_idle_times);
    // 50 remote edits, then reconnect.
    let mut encoded = 0;
    for id in ids.iter().take(50) {
        let heads = a.heads(*id).expect("heads");
        a.set_field(*id, "account/city", "Villeurbanne")
            .expect("edit");
        encoded += a.changes_since(*id, &heads).expect("changes").len();
    }
    sync(&mut a).await;
    let before = wire_bytes(&server.tenant);
    let c_edits = sync(&mut b).await;
    let c_edit_bytes = wire_bytes(&server.tenant) - before;
    assert_eq!(
        b.account_file(ids[0])
            .expect("file")
            .account
            .city
            .as_deref(),
        Some("Villeurbanne")
    );

    if std::env::var("CARNET_BENCH_ONLY").as_deref() == Ok("carnet") {
        eprintln!(
            "carnet only: upload {}, pull {}, idle {c_idle:.1} ms {c_idle_bytes} B, 50 edits {} {c_edit_bytes} B (encoded {encoded} B)",
            ms(c_upload),
            ms(c_pull),
            ms(c_edits)
        );
        for r in live_latency(&server, &ids, 200).await {
            eprintln!("carnet only: {} {}", r.scenario, r.carnet);
        }
        return rows;
    }
    // samod, same documents.
    let s_bytes = Arc::new(AtomicU64::new(0));
    let (_s_server, port) = samod_server(&tmp.path().join("samod-server"), s_bytes.clone()).await;
    let (sa, sa_conn) = samod_client(&tmp.path().join("samod-a"), port).await;
    let t = Instant::now();
    let handles: Vec<samod::DocHandle> = futures_util::future::join_all(
        doc_bytes
            .iter()
            .map(|b| sa.create(automerge::Automerge::load(b).expect("load"))),
    )
    .await
    .into_iter()
    .map(|h| h.expect("create"))
    .collect();
    futures_util::future::join_all(handles.iter().map(|h| h.they_have_our_changes(sa_conn))).await;
    let s_upload = t.elapsed();
    let sids: Vec<samod::DocumentId> = handles.iter().map(|h| h.document_id().clone()).collect();

    let sb_dir = tmp.path().join("samod-b");
    let (sb, sb_conn) = samod_client(&sb_dir, port).await;
    let t = Instant::now();
    let got = samod_pull(&sb, sb_conn, &sids).await;
    let s_pull = t.elapsed();
    assert_eq!(got, n);
    sb.stop().await;
    // Reconnect with nothing changed: a restarted repo on the same storage.
    let mut s_idle_times = Vec::new();
    let mut s_idle_bytes = 0;
    for _ in 0..2 {
        let (sb, sb_conn) = samod_client(&sb_dir, port).await;
        let before = s_bytes.load(Ordering::Relaxed);
        let t = Instant::now();
        samod_pull(&sb, sb_conn, &sids).await;
        s_idle_times.push(t.elapsed());
        s_idle_bytes = s_bytes.load(Ordering::Relaxed) - before;
        sb.stop().await;
    }
    let (s_idle, _) = median_p99(&mut s_idle_times);
    // 50 remote edits, then the other device reconnects.
    for h in handles.iter().take(50) {
        h.with_document(|d| {
            let acc = match d.get(automerge::ROOT, "account") {
                Ok(Some((_, id))) => id,
                _ => return,
            };
            let mut tx = d.transaction();
            let _ = tx.put(&acc, "city", "Villeurbanne");
            tx.commit();
        });
    }
    futures_util::future::join_all(
        handles
            .iter()
            .take(50)
            .map(|h| h.they_have_our_changes(sa_conn)),
    )
    .await;
    let (sb, sb_conn) = samod_client(&sb_dir, port).await;
    let before = s_bytes.load(Ordering::Relaxed);
    let t = Instant::now();
    samod_pull(&sb, sb_conn, &sids).await;
    let s_edits = t.elapsed();
    let s_edit_bytes = s_bytes.load(Ordering::Relaxed) - before;

    let ratio = |c: Duration, s: Duration| format!("{:.1}×", s.as_secs_f64() / c.as_secs_f64());
    rows.push(Row {
        scenario: "device uploads offline-created accounts",
        carnet: ms(c_upload),
        samod: ms(s_upload),
        ratio: ratio(c_upload, s_upload),
        target: "≤ 5 s",
    });
    rows.push(Row {
        scenario: "fresh device pulls all accounts",
        carnet: ms(c_pull),
        samod: ms(s_pull),
        ratio: ratio(c_pull, s_pull),
        target: "≤ 3 s and ≥ 15× faster than samod",
    });
    rows.push(Row {
        scenario: "reconnect, nothing changed (median)",
        carnet: format!(
            "{}, {}",
            ms(Duration::from_secs_f64(c_idle / 1000.0)),
            kb(c_idle_bytes)
        ),
        samod: format!(
            "{}, {}",
            ms(Duration::from_secs_f64(s_idle / 1000.0)),
            kb(s_idle_bytes)
        ),
        ratio: format!(
            "{:.0}× time, {:.0}× bytes",
            s_idle / c_idle,
            s_idle_bytes as f64 / c_idle_bytes.max(1) as f64
        ),
        target: "≤ 50 ms and ≤ 2 KB",
    });
    rows.push(Row {
        scenario: "reconnect after 50 remote edits",
        carnet: format!(
            "{}, {} on the wire = {:.1}× the {} B of encoded changes",
            ms(c_edits),
            kb(c_edit_bytes),
            c_edit_bytes as f64 / encoded.max(1) as f64,
            encoded
        ),
        samod: format!("{}, {}", ms(s_edits), kb(s_edit_bytes)),
        ratio: ratio(c_edits, s_edits),
        target: "≤ 200 ms; wire ≤ 3× encoded changes",
    });
    rows.push(Row {
        scenario: "average account document",
        carnet: format!("{avg} B"),
        samod: "same documents".into(),
        ratio: "—".into(),
        target: "—",
    });

    rows.extend(live_latency(&server, &ids, 200).await);
    rows
}

// ------------------------------------------------- live edit propagation

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn raw(server: &CarnetServer, device: uuid::Uuid, token: &str, cursor: u64) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(
        format!("ws://{}/sync", server.addr),
        None,
        true,
    )
    .await
    .expect("connect");
    let hello = carnet_core::sync::Frame::Hello {
        device,
        token: token.to_string(),
        cursor,
    };
    ws.send(Message::binary(hello.encode()))
        .await
        .expect("hello");
    ws
}

async fn next_frame(ws: &mut Ws) -> Option<carnet_core::sync::Frame> {
    loop {
        match ws.next().await? {
            Ok(Message::Binary(b)) => return carnet_core::sync::Frame::decode(&b).ok(),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

/// `watchers` devices stay connected; one device edits a customer file;
/// each watcher counts from the edit leaving the editor until it holds the
/// change (notified, synced, applied).
async fn live_latency(server: &CarnetServer, ids: &[DocId], watchers: usize) -> Vec<Row> {
    use automerge::sync::SyncDoc;
    use carnet_core::sync::{DocMsg, Frame};
    let login = transport::login(&server.url, REP, PASSWORD, "watchers")
        .await
        .expect("login");
    let doc = ids[1];
    let edits = 20;
    let start = Arc::new(tokio::sync::Mutex::new(Instant::now()));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Duration>();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut tasks = Vec::new();
    for _ in 0..watchers {
        let mut ws = raw(server, login.device, &login.token, server.tenant.seq()).await;
        let (start, tx, ready) = (start.clone(), tx.clone(), ready_tx.clone());
        // Start from the server's copy.
        let bytes = carnet_core::store::Store::load(&server.tenant.store, doc)
            .expect("load")
            .expect("stored")
            .bytes;
        tasks.push(tokio::spawn(async move {
            let mut am = automerge::AutoCommit::load(&bytes).expect("doc");
            let mut caught_up = false;
            while let Some(f) = next_frame(&mut ws).await {
                let Frame::Changed {
                    docs,
                    changes,
                    more,
                    ..
                } = f
                else {
                    continue;
                };
                if !caught_up {
                    // The first session's catch-up list: not an edit.
                    if !more {
                        caught_up = true;
                        let _ = ready.send(());
                    }
                    continue;
                }
                if !docs.contains(&doc) {
                    continue;
                }
                // Pushed live: apply, and done if nothing is missing.
                if let Some((_, bytes)) = changes.iter().find(|(d, _)| *d == doc) {
                    if am.load_incremental(bytes).is_ok() && am.get_missing_deps(&[]).is_empty() {
                        let _ = tx.send(start.lock().await.elapsed());
                        continue;
                    }
                }
                let mut state = automerge::sync::State::new();
                loop {
                    let next = am.sync().generate_sync_message(&mut state);
                    let Some(m) = next else { break };
                    let f = Frame::Sync {
                        msgs: vec![DocMsg {
                            doc,
                            msg: m.encode(),
                        }],
                    };
                    if ws.send(Message::binary(f.encode())).await.is_err() {
                        return;
                    }
                    let reply = loop {
                        match next_frame(&mut ws).await {
                            Some(Frame::SyncReply { msgs, .. }) => break msgs,
                            Some(_) => continue,
                            None => return,
                        }
                    };
                    for m in reply.into_iter().filter(|m| !m.msg.is_empty()) {
                        if let Ok(msg) = automerge::sync::Message::decode(&m.msg) {
                            let _ = am.sync().receive_sync_message(&mut state, msg);
                        }
                    }
                }
                let _ = tx.send(start.lock().await.elapsed());
            }
        }));
    }
    // Every watcher has finished its catch-up before the first edit.
    for _ in 0..watchers {
        ready_rx.recv().await.expect("watcher ready");
    }
    // The editor is a live device too: connected, editing its own copy.
    let elogin = transport::login(&server.url, REP, PASSWORD, "editor")
        .await
        .expect("login");
    let mut ews = raw(server, elogin.device, &elogin.token, server.tenant.seq()).await;
    let bytes = carnet_core::store::Store::load(&server.tenant.store, doc)
        .expect("load")
        .expect("stored")
        .bytes;
    let mut am = automerge::AutoCommit::load(&bytes).expect("doc");
    let account = match automerge::ReadDoc::get(&am, automerge::ROOT, "account") {
        Ok(Some((_, id))) => id,
        _ => panic!("no account map"),
    };
    let mut state = automerge::sync::State::new();
    let mut samples = Vec::new();
    for i in 0..edits {
        am.put(&account, "city", format!("Ville {i}"))
            .expect("edit");
        am.commit();
        *start.lock().await = Instant::now();
        loop {
            let next = am.sync().generate_sync_message(&mut state);
            let Some(m) = next else { break };
            let f = Frame::Sync {
                msgs: vec![DocMsg {
                    doc,
                    msg: m.encode(),
                }],
            };
            ews.send(Message::binary(f.encode())).await.expect("send");
            let reply = loop {
                match next_frame(&mut ews).await {
                    Some(Frame::SyncReply { msgs, .. }) => break msgs,
                    Some(_) => continue,
                    None => panic!("editor disconnected"),
                }
            };
            for m in reply.into_iter().filter(|m| !m.msg.is_empty()) {
                let msg = automerge::sync::Message::decode(&m.msg).expect("message");
                am.sync()
                    .receive_sync_message(&mut state, msg)
                    .expect("receive");
            }
        }
        for _ in 0..watchers {
            match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
                Ok(Some(d)) => samples.push(d),
                _ => break,
            }
        }
    }
    for t in tasks {
        t.abort();
    }
    let got = samples.len();
    let (p50, p99) = median_p99(&mut samples);
    vec![Row {
        scenario: "edit to visible on another live device, 200 connected",
        carnet: format!("p50 {p50:.1} ms, p99 {p99:.1} ms ({got} deliveries)"),
        samod: "not measured".into(),
        ratio: "—".into(),
        target: "p50 ≤ 20 ms, p99 ≤ 100 ms",
    }]
}
