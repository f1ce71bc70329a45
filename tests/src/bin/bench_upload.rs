//! Benchmark fixture: logs in to a running server as a user, builds the core
//! benchmark's portfolio (5,000 accounts by default) on a fresh device and
//! uploads it, so that a mobile client can then measure a full sync from a
//! fresh store. Prints the upload time.
//!
//! bench-upload URL EMAIL PASSWORD [--accounts N]

use std::time::Instant;

use carnet_core::sync::driver;
use carnet_core::Device;
use carnet_tests::portfolio::{self, ISSUE_SHAPE};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(url), Some(email), Some(password)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("usage: bench-upload URL EMAIL PASSWORD [--accounts N]");
        std::process::exit(2);
    };
    let mut shape = ISSUE_SHAPE;
    if args.get(4).map(String::as_str) == Some("--accounts") {
        match args.get(5).and_then(|n| n.parse().ok()) {
            Some(n) => shape.accounts = n,
            None => {
                eprintln!("--accounts needs a number");
                std::process::exit(2);
            }
        }
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut device = rt
        .block_on(Device::login(
            tmp.path(),
            url,
            email,
            password,
            "bench-upload",
        ))
        .expect("login");
    let opts = driver::Options::default();
    rt.block_on(driver::run(&mut device, &opts, None, |_| {}))
        .expect("first sync");
    portfolio::generate(&mut device, shape, 42).expect("portfolio");
    let t = Instant::now();
    rt.block_on(driver::run(&mut device, &opts, None, |_| {}))
        .expect("upload");
    let state = device.sync_status().expect("state");
    assert!(state.pending.is_empty(), "upload left pending documents");
    assert!(state.rejected.is_empty(), "the server refused documents");
    println!(
        "uploaded {} accounts in {:.2} s",
        shape.accounts,
        t.elapsed().as_secs_f64()
    );
}
