//! Decode frame → handle in a session, against a real tenant (sled in a
//! temporary directory), from arbitrary bytes. Run with
//! `cargo +nightly fuzz run session_frames` from `fuzz/`; the corpus in
//! `fuzz/corpus/session_frames` is replayed by `cargo test`
//! (`server/tests/fuzz_corpus.rs`).
#![no_main]

use std::sync::OnceLock;

use carnet_server::fuzzing::Fixture;
use libfuzzer_sys::fuzz_target;

struct World {
    rt: tokio::runtime::Runtime,
    fixture: Fixture,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let fixture = rt
            .block_on(Fixture::create(dir.path()))
            .expect("fixture tenant");
        World {
            rt,
            fixture,
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    w.rt.block_on(async {
        w.fixture.run(data).await;
    });
});
