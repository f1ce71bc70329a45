//! Server memory with many idle connected devices: a real `carnet-server`
//! process with the demo tenant, N websocket sessions (Hello, catch-up,
//! then idle), and the server's RSS before and after.
//!
//! cargo run --release -p carnet-tests --bin bench-idle [-- N]

use std::time::{Duration, Instant};

use carnet_core::sync::Frame;
use carnet_tests::harness::Server;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("server");
    Server::demo(&data);
    let server = Server::start(&data, "127.0.0.1:0");
    let url = format!("ws://{}/sync", server.addr);

    let (mut ws, _) = tokio_tungstenite::connect_async(&url)
        .await
        .expect("connect");
    let login = Frame::Login {
        email: "alice@demo.carnet.fr".into(),
        password: "carnet-demo".into(),
        device_name: "bench".into(),
    };
    ws.send(Message::binary(login.encode()))
        .await
        .expect("login");
    let (device, token) = loop {
        match ws.next().await {
            Some(Ok(Message::Binary(b))) => match Frame::decode(&b) {
                Ok(Frame::LoggedIn { device, token, .. }) => break (device, token),
                other => panic!("login: {other:?}"),
            },
            Some(Ok(_)) => continue,
            other => panic!("login: {other:?}"),
        }
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = server.rss_kib().unwrap_or(0);
    let started = Instant::now();
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let (mut ws, _) = tokio_tungstenite::connect_async(&url)
            .await
            .expect("connect");
        let hello = Frame::Hello {
            device,
            token: token.clone(),
            cursor: 0,
        };
        ws.send(Message::binary(hello.encode()))
            .await
            .expect("hello");
        // Welcome, then the catch-up list.
        let mut seen = 0;
        while seen < 2 {
            match ws.next().await {
                Some(Ok(Message::Binary(_))) => seen += 1,
                Some(Ok(_)) => {}
                other => panic!("session: {other:?}"),
            }
        }
        conns.push(ws);
    }
    let opened = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = server.rss_kib().unwrap_or(0);
    println!("# Idle connections (real carnet-server process, demo tenant)");
    println!("| metric | value | target |");
    println!("|---|---|---|");
    println!(
        "| sessions opened | {n} in {:.2} s | — |",
        opened.as_secs_f64()
    );
    println!(
        "| server RSS before | {:.1} MB | — |",
        before as f64 / 1024.0
    );
    println!(
        "| server RSS with {n} idle sessions | {:.1} MB ({:.1} KB per session) | ≤ 500 MB |",
        after as f64 / 1024.0,
        (after.saturating_sub(before)) as f64 / n as f64
    );
    drop(conns);
}
