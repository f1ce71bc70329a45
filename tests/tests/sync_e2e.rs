//! End to end: a real `carnet-server` process on a loopback port with the
//! demo tenant, and reps and a manager as `carnet` CLI processes with their
//! own stores.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;

use carnet_tests::harness::{carnet, json, login, ok, Server};
use serde_json::Value;
use tempfile::TempDir;

const PASSWORD: &str = "carnet-demo";
const ALICE: &str = "alice@demo.carnet.fr";
const BRUNO: &str = "bruno@demo.carnet.fr";
const CHLOE: &str = "chloe@demo.carnet.fr";
const MARC: &str = "marc@demo.carnet.fr";

struct World {
    _tmp: TempDir,
    server: Server,
    stores: HashMap<&'static str, PathBuf>,
}

fn world(users: &[&'static str]) -> World {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("server");
    Server::demo(&data);
    let server = Server::start(&data, "127.0.0.1:0");
    let mut stores = HashMap::new();
    for u in users {
        let store = tmp.path().join(u.split('@').next().unwrap());
        login(&store, &server.url, u, PASSWORD);
        ok(&store, &["sync"]);
        stores.insert(*u, store);
    }
    World {
        _tmp: tmp,
        server,
        stores,
    }
}

fn accounts(store: &Path) -> Vec<(String, Value)> {
    let list = json(store, &["account", "list", "--limit", "100000", "--json"]);
    list.as_array()
        .unwrap()
        .iter()
        .map(|h| (h["id"].as_str().unwrap().to_string(), h.clone()))
        .collect()
}

fn ids(store: &Path) -> Vec<String> {
    let mut v: Vec<String> = accounts(store).into_iter().map(|(id, _)| id).collect();
    v.sort();
    v
}

fn show(store: &Path, id: &str) -> Value {
    json(store, &["account", "show", id, "--json"])
}

/// A deterministic shuffle (no RNG dependency): by a seeded hash.
fn shuffled<T: Clone>(items: &[T], seed: u64) -> Vec<T> {
    let mut keyed: Vec<(u64, T)> = items
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut x = seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            x ^= x >> 33;
            x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
            x ^= x >> 33;
            (x, t.clone())
        })
        .collect();
    keyed.sort_by_key(|(k, _)| *k);
    keyed.into_iter().map(|(_, t)| t).collect()
}

#[test]
fn reps_and_a_manager_edit_offline_and_converge_in_any_sync_order() {
    let w = world(&[ALICE, BRUNO, CHLOE, MARC]);
    let (alice, bruno, chloe, marc) = (
        &w.stores[ALICE],
        &w.stores[BRUNO],
        &w.stores[CHLOE],
        &w.stores[MARC],
    );
    assert_eq!(ids(alice).len(), 20);
    assert_eq!(ids(bruno).len(), 20);
    assert_eq!(ids(chloe).len(), 20);
    assert_eq!(ids(marc).len(), 60, "the manager sees the whole team");
    let a_ids = ids(alice);
    let b_ids = ids(bruno);
    let c_ids = ids(chloe);
    for x in &a_ids {
        assert!(
            !b_ids.contains(x) && !c_ids.contains(x),
            "territories do not overlap"
        );
    }

    // Offline, everyone edits.
    for (i, id) in a_ids.iter().take(5).enumerate() {
        ok(
            alice,
            &["account", "set", id, "city", &format!("Alice-{i}")],
        );
    }
    ok(
        alice,
        &[
            "note",
            "add",
            &a_ids[0],
            "Compte rendu de visite: très bon accueil.",
        ],
    );
    let new_a = ok(
        alice,
        &[
            "account",
            "add",
            "--name",
            "Créé par Alice",
            "--postcode",
            "75015",
        ],
    );
    for (i, id) in b_ids.iter().take(5).enumerate() {
        ok(
            bruno,
            &[
                "account",
                "set",
                id,
                "phone",
                &format!("04 00 00 00 {i:02}"),
            ],
        );
    }
    let act = ok(
        bruno,
        &[
            "action",
            "add",
            &b_ids[1],
            "--type",
            "visit",
            "--due",
            "2026-12-01",
            "--subject",
            "Démo",
        ],
    );
    for id in c_ids.iter().take(3) {
        ok(chloe, &["account", "set", id, "status", "client"]);
    }
    // The manager edits the same field as Alice on two files (conflicts),
    // and another field than Bruno on two files (silent merge).
    for id in a_ids.iter().take(2) {
        ok(marc, &["account", "set", id, "city", "Marc-ville"]);
    }
    for id in b_ids.iter().take(2) {
        ok(marc, &["account", "set", id, "website", "exemple.fr"]);
    }

    let stores = vec![alice.clone(), bruno.clone(), chloe.clone(), marc.clone()];
    for seed in [7u64, 42] {
        for s in shuffled(&stores, seed) {
            ok(&s, &["sync"]);
        }
    }
    for s in &stores {
        ok(s, &["sync"]);
    }

    for s in &stores {
        let st = json(s, &["status", "--json"]);
        assert!(
            st["pending"].as_array().unwrap().is_empty(),
            "nothing pending: {st}"
        );
        assert!(st["rejected"].as_array().unwrap().is_empty());
    }
    // Every replica of every file is identical.
    let mut all: Vec<String> = ids(marc);
    all.sort();
    assert_eq!(all.len(), 61);
    assert!(all.contains(&new_a));
    for id in &all {
        let m = show(marc, id);
        for s in [alice, bruno, chloe] {
            if ids(s).contains(id) {
                assert_eq!(show(s, id), m, "replicas of {id} differ");
            }
        }
    }
    // No edit is lost: conflicts keep both values, other edits are there.
    for (i, id) in a_ids.iter().take(5).enumerate() {
        let file = show(marc, id);
        if i < 2 {
            let conflicts = json(marc, &["conflicts", "--json"]);
            let c = conflicts
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["doc"] == id.as_str() && c["path"] == "account/city")
                .expect("a conflict on the city");
            let mut values: Vec<&str> = c["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v["value"].as_str().unwrap())
                .collect();
            values.sort();
            assert_eq!(values, vec![format!("Alice-{i}").as_str(), "Marc-ville"]);
        } else {
            assert_eq!(file["account"]["city"], format!("Alice-{i}"));
        }
    }
    assert_eq!(
        show(marc, &a_ids[0])["notes"][0]["body"],
        "Compte rendu de visite: très bon accueil."
    );
    for (i, id) in b_ids.iter().take(5).enumerate() {
        let f = show(marc, id);
        assert_eq!(f["account"]["phone"], format!("04 00 00 00 {i:02}"));
        if i < 2 {
            assert_eq!(f["account"]["website"], "exemple.fr");
        }
    }
    assert!(show(marc, &b_ids[1])["actions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["id"] == act.as_str()));
    // Either side resolves; the resolution reaches everyone.
    ok(
        alice,
        &["conflict", "resolve", &a_ids[0], "account/city", "Lyon 3e"],
    );
    ok(alice, &["sync"]);
    ok(marc, &["sync"]);
    assert_eq!(show(marc, &a_ids[0])["account"]["city"], "Lyon 3e");
    assert!(!json(marc, &["conflicts", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["doc"] == a_ids[0].as_str()));
    assert!(w.server.metric("carnet_acks_total") > 0.0);
}

#[test]
fn a_new_quote_gets_its_final_number_from_the_server() {
    let w = world(&[ALICE]);
    let alice = &w.stores[ALICE];
    let acc = ids(alice)[0].clone();
    let q1 = ok(alice, &["quote", "add", &acc]);
    ok(
        alice,
        &[
            "quote", "line", &q1, "--label", "Four", "--qty", "1", "--price", "100",
        ],
    );
    let q2 = ok(alice, &["quote", "add", &acc]);
    let before = json(alice, &["quote", "show", &q1, "--json"]);
    assert_eq!(before["provisional"], true);
    ok(alice, &["sync"]);
    let n1 = json(alice, &["quote", "show", &q1, "--json"]);
    let n2 = json(alice, &["quote", "show", &q2, "--json"]);
    assert_eq!(n1["provisional"], false);
    let year = chrono::Utc::now().format("%Y").to_string();
    let mut numbers = vec![
        n1["number"].as_str().unwrap().to_string(),
        n2["number"].as_str().unwrap().to_string(),
    ];
    numbers.sort();
    // Alice's own series (DEV-YYYY-SS-NNNNN), numbered without gaps after
    // the numbers the demo's history already took.
    let split = |n: &str| -> (String, u64) {
        let rest = n
            .strip_prefix(&format!("DEV-{year}-"))
            .unwrap_or_else(|| panic!("{n}"));
        let (series, seq) = rest.split_once('-').unwrap();
        (series.to_string(), seq.parse().unwrap())
    };
    let (s1, a) = split(&numbers[0]);
    let (s2, b) = split(&numbers[1]);
    assert_eq!(s1, s2, "one series per user: {numbers:?}");
    assert_eq!(b, a + 1, "no gap: {numbers:?}");
    // Accepting gives an order whose number also comes from the server.
    ok(alice, &["quote", "accept", &q1]);
    ok(alice, &["sync"]);
    let orders = show(alice, &acc)["orders"].clone();
    let order = orders
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["quote"] == q1.as_str())
        .expect("the quote's order");
    let number = order["number"].as_str().unwrap();
    assert!(
        number.starts_with(&format!("CMD-{year}-{s1}-")),
        "{number} is in Alice's series"
    );
    assert_eq!(order["provisional"], false);
}

#[test]
fn reassignment_merges_the_losing_reps_pending_edits_then_moves_the_file() {
    let w = world(&[ALICE, BRUNO, MARC]);
    let (alice, bruno, marc) = (&w.stores[ALICE], &w.stores[BRUNO], &w.stores[MARC]);
    let acc = ids(alice)[3].clone();
    // Alice, offline, writes a visit report on the file.
    ok(
        alice,
        &[
            "note",
            "add",
            &acc,
            "Visite du 26/11: commande prévue en janvier.",
        ],
    );
    ok(alice, &["account", "set", &acc, "email", "achat@client.fr"]);
    // Meanwhile the manager moves the file to Lyon, Bruno's territory.
    ok(marc, &["account", "set", &acc, "postcode", "69002"]);
    ok(marc, &["account", "set", &acc, "owner", BRUNO]);
    ok(marc, &["sync"]);
    // Alice reconnects: her pending edits reach the server, then the file leaves.
    ok(alice, &["sync"]);
    assert!(!ids(alice).contains(&acc), "the file left Alice's device");
    let st = json(alice, &["status", "--json"]);
    assert!(st["pending"].as_array().unwrap().is_empty(), "{st}");
    // Bruno receives it with Alice's edits.
    ok(bruno, &["sync"]);
    assert!(ids(bruno).contains(&acc));
    let f = show(bruno, &acc);
    assert_eq!(f["account"]["email"], "achat@client.fr");
    assert_eq!(
        f["notes"][0]["body"],
        "Visite du 26/11: commande prévue en janvier."
    );
    assert_eq!(f["account"]["owner"], BRUNO);
    ok(marc, &["sync"]);
    assert_eq!(show(marc, &acc), f);
}

#[test]
fn a_refused_change_stays_on_the_device_flagged_until_reverted() {
    let w = world(&[ALICE]);
    let alice = &w.stores[ALICE];
    // A file created for another territory and another owner is refused.
    let stray = ok(
        alice,
        &[
            "account",
            "add",
            "--name",
            "Hors secteur",
            "--postcode",
            "13008",
            "--owner",
            CHLOE,
        ],
    );
    let out = carnet(alice, &["sync"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused by the server"));
    let st = json(alice, &["status", "--json"]);
    assert_eq!(st["rejected"][0][0], stray.as_str());
    assert_eq!(st["rejected"][0][1], "document not found or not permitted");
    assert!(ids(alice).contains(&stray), "kept on the device");
    // Fixing it (owning it) lets it through.
    ok(alice, &["account", "set", &stray, "owner", ALICE]);
    ok(alice, &["sync"]);
    let st = json(alice, &["status", "--json"]);
    assert!(st["rejected"].as_array().unwrap().is_empty(), "{st}");
    assert!(st["pending"].as_array().unwrap().is_empty(), "{st}");

    // A refused edit on an existing file can be reverted to the server's copy.
    let acc = ids(alice)[0].clone();
    let before = show(alice, &acc);
    ok(alice, &["account", "set", &acc, "owner", CHLOE]);
    ok(alice, &["account", "set", &acc, "postcode", "13001"]);
    // Still valid data, but it would move the file out of Alice's reach: allowed.
    ok(alice, &["sync"]);
    assert!(!ids(alice).contains(&acc), "the file went to Chloé");
    let _ = before;
}

/// `carnet sync --watch` on `store` (in English), with its stdout and
/// stderr lines as they come.
fn watch(store: &Path) -> (std::process::Child, Receiver<String>, Receiver<String>) {
    use std::process::{Command, Stdio};
    let mut child = Command::new(carnet_tests::harness::bin("carnet"))
        .arg("--store")
        .arg(store)
        .args(["sync", "--watch"])
        .env("CARNET_LANG", "en")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = lines(child.stdout.take().unwrap());
    let err = lines(child.stderr.take().unwrap());
    (child, out, err)
}

fn lines(r: impl std::io::Read + Send + 'static) -> Receiver<String> {
    use std::io::{BufRead, BufReader};
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

#[test]
fn a_connected_device_receives_another_devices_edit_live() {
    let w = world(&[BRUNO, MARC]);
    let (bruno, marc) = (&w.stores[BRUNO], &w.stores[MARC]);
    let acc = ids(bruno)[2].clone();
    let (mut watch, rx, _err) = watch(bruno);
    // Give the watcher time to finish its catch-up, then edit elsewhere.
    std::thread::sleep(std::time::Duration::from_millis(500));
    ok(
        marc,
        &["account", "set", &acc, "website", "live.example.fr"],
    );
    ok(marc, &["sync"]);
    let expected = format!("changed {acc}");
    let got = loop {
        match rx.recv_timeout(std::time::Duration::from_secs(20)) {
            Ok(line) if line == expected => break true,
            Ok(_) => continue,
            Err(_) => break false,
        }
    };
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(got, "the watching device was told of the change");
    assert_eq!(show(bruno, &acc)["account"]["website"], "live.example.fr");
}

#[test]
fn a_watching_device_reconnects_after_the_server_restarts() {
    let mut w = world(&[BRUNO, MARC]);
    let (bruno, marc) = (w.stores[BRUNO].clone(), w.stores[MARC].clone());
    let acc = ids(&bruno)[3].clone();
    let (mut watch, rx, erx) = watch(&bruno);
    std::thread::sleep(std::time::Duration::from_millis(500));
    // The server goes away under the watcher, and comes back.
    w.server.kill9();
    let interrupted = erx
        .recv_timeout(std::time::Duration::from_secs(20))
        .unwrap_or_default();
    assert!(
        interrupted.contains("retrying"),
        "the watcher said the connection dropped: {interrupted:?}"
    );
    w.server.restart();
    ok(
        &marc,
        &["account", "set", &acc, "website", "after.restart.fr"],
    );
    ok(&marc, &["sync"]);
    let expected = format!("changed {acc}");
    let got = loop {
        match rx.recv_timeout(std::time::Duration::from_secs(30)) {
            Ok(line) if line == expected => break true,
            Ok(_) => continue,
            Err(_) => break false,
        }
    };
    let alive = watch.try_wait().unwrap().is_none();
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(alive, "the watcher kept running through the restart");
    assert!(got, "the watcher reconnected and was told of the change");
    assert_eq!(show(&bruno, &acc)["account"]["website"], "after.restart.fr");
}
