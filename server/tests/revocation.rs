//! A revoked device cannot outrun its revocation: not by ceasing to read
//! while the tenant commits more than the live feed holds (the revocation
//! event is then lost to its session), nor by keeping its connection
//! open. In memory, through the server's own session code.

use std::time::Duration;

use carnet_core::sync::frame::{ErrorCode, Frame};
use carnet_core::{DocId, DocKind};
use carnet_server::fuzzing::{Fixture, REP};
use carnet_server::session::{self, Limits, WireIn};
use carnet_server::tenant::Event;
use tokio::sync::mpsc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_device_that_stopped_reading_cannot_outrun_its_revocation() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::create(dir.path()).await.unwrap();
    let (in_tx, in_rx) = mpsc::unbounded_channel::<WireIn>();
    let input =
        futures_util::stream::unfold(
            in_rx,
            |mut rx| async move { rx.recv().await.map(|m| (m, rx)) },
        );
    // A device that does not read: one frame fits, the next write waits.
    let (out_tx, mut out_rx) = mpsc::channel::<Vec<u8>>(1);
    let sink = futures_util::sink::unfold(out_tx, |tx, bytes: Vec<u8>| async move {
        tx.send(bytes).await.map_err(|_| ())?;
        Ok::<_, ()>(tx)
    });
    let server = tokio::spawn(session::run(
        f.tenant.clone(),
        Limits::default(),
        None,
        Box::pin(input),
        Box::pin(sink),
    ));
    in_tx
        .send(WireIn::Frame(
            Frame::Hello {
                device: f.device,
                token: f.token.clone(),
                cursor: 0,
            }
            .encode(),
        ))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Revoked while stuck, then more events than the live feed holds.
    f.tenant.revoke_devices(REP, Some(f.device)).unwrap();
    let seq = f.tenant.seq();
    for i in 0..20_000u64 {
        f.tenant.publish(Event::Doc {
            doc: DocId::new(),
            seq: seq + 1 + i,
            kind: DocKind::Account,
            changes: None,
        });
    }
    // The device reads again: past its catch-up it hears it was revoked,
    // and the session ends.
    let mut frames = Vec::new();
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(b) = out_rx.recv().await {
            frames.push(Frame::decode(&b).unwrap());
        }
    })
    .await;
    assert!(ended.is_ok(), "the session stayed open: {frames:?}");
    server.await.unwrap();
    let after_catch_up: Vec<&Frame> = frames
        .iter()
        .skip_while(|f| !matches!(f, Frame::Changed { more: false, .. }))
        .skip(1)
        .collect();
    assert!(
        matches!(
            after_catch_up.as_slice(),
            [Frame::Error {
                code: ErrorCode::Unauthorized,
                ..
            }]
        ),
        "after the catch-up: {after_catch_up:?}"
    );
}
