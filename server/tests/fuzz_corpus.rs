//! Replays the fuzz target's corpus (`fuzz/corpus/session_frames`, grown by
//! `cargo +nightly fuzz run session_frames`) through the same harness, so
//! every input the fuzzer kept is checked on every `cargo test`: no panic,
//! and the tenant serves an ordinary session afterwards. With
//! `CARNET_WRITE_FUZZ_SEEDS=1` it also writes its seed inputs there.

use std::path::PathBuf;

use automerge::sync::{self, SyncDoc};
use carnet_core::sync::frame::{DocMsg, Frame, UpDoc};
use carnet_core::{DocId, DocKind};
use carnet_server::fuzzing::{account_doc, encode_input, Fixture, REP};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/session_frames")
}

/// Well-formed sessions for the fuzzer to start from.
fn seeds(settings: DocId) -> Vec<Vec<u8>> {
    let mine = DocId::new();
    let mut am = account_doc(mine, REP, "75011").unwrap();
    let up = Frame::Up {
        docs: vec![UpDoc {
            doc: mine,
            heads: am.get_heads().iter().map(|h| h.0).collect(),
            changes: am.save(),
        }],
    }
    .encode();
    let theirs = DocId::new();
    let mut other = account_doc(theirs, REP, "69001").unwrap();
    let mut state = sync::State::new();
    let msg = other
        .sync()
        .generate_sync_message(&mut state)
        .map(|m| m.encode())
        .unwrap_or_default();
    let sync = Frame::Sync {
        msgs: vec![DocMsg { doc: theirs, msg }],
    }
    .encode();
    let fetch = Frame::Fetch {
        docs: vec![settings, mine, theirs],
    }
    .encode();
    vec![
        encode_input(&[Frame::Ping(1).encode()]),
        encode_input(std::slice::from_ref(&fetch)),
        encode_input(&[up.clone(), fetch]),
        encode_input(&[sync, up]),
        encode_input(&[Frame::Dropped { docs: vec![mine] }.encode()]),
        encode_input(&[b"CRN\x01\xff\xff".to_vec()]),
    ]
}

#[test]
fn the_fuzz_corpus_replays_without_a_panic_and_the_tenant_keeps_serving() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fixture = rt.block_on(Fixture::create(dir.path())).unwrap();
    let settings = fixture.tenant.singleton(DocKind::Settings).unwrap();
    let mut inputs = seeds(settings);
    if std::env::var_os("CARNET_WRITE_FUZZ_SEEDS").is_some() {
        std::fs::create_dir_all(corpus_dir()).unwrap();
        for (i, s) in inputs.iter().enumerate() {
            std::fs::write(corpus_dir().join(format!("seed-{i}")), s).unwrap();
        }
    }
    let mut files = 0;
    if let Ok(entries) = std::fs::read_dir(corpus_dir()) {
        for e in entries.flatten() {
            inputs.push(std::fs::read(e.path()).unwrap());
            files += 1;
        }
    }
    assert!(files > 0, "the committed corpus is there");
    for input in &inputs {
        rt.block_on(fixture.run(input));
    }
    // Still serving: an ordinary fetch of the settings answers with them.
    let out = rt.block_on(
        fixture.run(&encode_input(&[Frame::Fetch {
            docs: vec![settings],
        }
        .encode()])),
    );
    let got_settings = out.iter().any(|b| {
        matches!(Frame::decode(b), Ok(Frame::Docs { docs, .. }) if docs.iter().any(|(d, _)| *d == settings))
    });
    assert!(got_settings, "the tenant still serves after the corpus");
}
