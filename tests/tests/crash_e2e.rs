//! kill -9 of the server while 20 devices upload: every change the server
//! acknowledged is there after the restart, the devices finish their sync,
//! and everyone converges.

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use carnet_tests::harness::{bin, json, login, ok, Server};

const PASSWORD: &str = "carnet-demo";
const CLIENTS: usize = 20;
const PER_CLIENT: usize = 50;

#[test]
fn kill_9_while_twenty_devices_upload_loses_nothing_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("server");
    Server::demo(&data);
    let mut server = Server::start(&data, "127.0.0.1:0");

    let stores: Vec<_> = (0..CLIENTS)
        .map(|i| tmp.path().join(format!("device{i}")))
        .collect();
    for s in &stores {
        login(s, &server.url, "alice@demo.carnet.fr", PASSWORD);
        ok(s, &["sync"]);
        // Offline: 50 new customer files on each device.
        ok(
            s,
            &["debug", "write-loop", "--count", &PER_CLIENT.to_string()],
        );
    }
    let created: Vec<HashSet<String>> = stores
        .iter()
        .map(|s| {
            json(s, &["status", "--json"])["pending"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_str().unwrap().to_string())
                .collect()
        })
        .collect();
    assert!(created.iter().all(|c| c.len() == PER_CLIENT));

    let acks_before = server.metric("carnet_acks_total");
    let mut syncs: Vec<_> = stores
        .iter()
        .map(|s| {
            Command::new(bin("carnet"))
                .arg("--store")
                .arg(s)
                .args(["sync", "--timeout", "5"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    // Let some uploads be acknowledged, then pull the plug.
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.metric("carnet_acks_total") - acks_before < 100.0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    // Long enough for the acks of those commits to reach their devices,
    // short enough that most uploads are still in flight.
    std::thread::sleep(Duration::from_millis(20));
    server.kill9();
    for c in &mut syncs {
        let _ = c.wait();
    }

    // What each device was told is safe on the server.
    let mut acked = Vec::new();
    for (s, made) in stores.iter().zip(&created) {
        let pending: HashSet<String> = json(s, &["status", "--json"])["pending"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap().to_string())
            .collect();
        acked.extend(made.difference(&pending).cloned());
    }
    assert!(
        !acked.is_empty(),
        "some uploads were acknowledged before the kill"
    );
    let total: usize = created.iter().map(HashSet::len).sum();
    eprintln!(
        "{} of {total} files acknowledged before kill -9",
        acked.len()
    );

    server.restart();
    let marc = tmp.path().join("marc");
    login(&marc, &server.url, "marc@demo.carnet.fr", PASSWORD);
    ok(&marc, &["sync"]);
    let on_server: HashSet<String> =
        json(&marc, &["account", "list", "--limit", "100000", "--json"])
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_str().unwrap().to_string())
            .collect();
    for id in &acked {
        assert!(on_server.contains(id), "{id} was acknowledged, then lost");
    }

    // The devices finish their sync; nothing is pending; all converge.
    for s in &stores {
        ok(s, &["sync"]);
        let st = json(s, &["status", "--json"]);
        assert!(st["pending"].as_array().unwrap().is_empty(), "{st}");
    }
    ok(&marc, &["sync"]);
    let n = json(&marc, &["account", "list", "--limit", "100000", "--json"])
        .as_array()
        .unwrap()
        .len();
    assert_eq!(n, 60 + total);
    let verify = json(&marc, &["debug", "verify"]);
    assert_eq!(verify["index_consistent"], true);
    // Spot check: a device's file equals the manager's copy.
    let one = created[3].iter().next().unwrap();
    assert_eq!(
        json(&stores[3], &["account", "show", one, "--json"]),
        json(&marc, &["account", "show", one, "--json"])
    );
}
