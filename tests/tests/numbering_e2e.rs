//! End to end: five devices (two reps with two devices each, and a third
//! rep) write quotes offline, then sync in a shuffled order, twice. Every
//! quote ends with a final number from the server, no number is given
//! twice, and each series (one per user and year) runs without a gap, the
//! demo's history included.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use carnet_tests::harness::{json, login, ok, Server};

const PASSWORD: &str = "carnet-demo";

#[test]
fn quotes_written_offline_on_five_devices_get_unique_gap_free_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("server");
    Server::demo(&data);
    let server = Server::start(&data, "127.0.0.1:0");
    let users = [
        "alice@demo.carnet.fr",
        "alice@demo.carnet.fr",
        "bruno@demo.carnet.fr",
        "bruno@demo.carnet.fr",
        "chloe@demo.carnet.fr",
    ];
    let stores: Vec<PathBuf> = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let store = tmp.path().join(format!("device{i}"));
            login(&store, &server.url, u, PASSWORD);
            ok(&store, &["sync"]);
            store
        })
        .collect();
    // Offline: three quotes on each device.
    let mut mine: Vec<(usize, String)> = Vec::new();
    for (i, store) in stores.iter().enumerate() {
        let acc = json(store, &["account", "list", "--json"])[0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        for n in 0..3 {
            let q = ok(store, &["quote", "add", &acc]);
            let label = format!("Device {i} quote {n}");
            ok(
                store,
                &[
                    "quote", "line", &q, "--label", &label, "--qty", "1", "--price", "100",
                ],
            );
            assert_eq!(
                json(store, &["quote", "show", &q, "--json"])["provisional"],
                true
            );
            mine.push((i, q));
        }
    }
    // Sync in a shuffled order (a fixed seed: the same order each run),
    // then everyone once more.
    let mut order: Vec<usize> = (0..stores.len()).collect();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for i in (1..order.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order.swap(i, (x % (i as u64 + 1)) as usize);
    }
    for &i in order.iter().chain(order.iter().rev()) {
        ok(&stores[i], &["sync"]);
    }
    // Each new quote has its final number on its own device.
    let mut new_numbers = BTreeSet::new();
    for (i, q) in &mine {
        let shown = json(&stores[*i], &["quote", "show", q, "--json"]);
        assert_eq!(shown["provisional"], false, "{shown}");
        assert!(new_numbers.insert(shown["number"].as_str().unwrap().to_string()));
    }
    assert_eq!(new_numbers.len(), 15);

    // The manager sees every quote of the team: numbers unique, and each
    // series 1..=n.
    let marc = tmp.path().join("marc");
    login(&marc, &server.url, "marc@demo.carnet.fr", PASSWORD);
    ok(&marc, &["sync"]);
    let mut series: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut all = BTreeSet::new();
    let list = json(&marc, &["account", "list", "--limit", "100000", "--json"]);
    for a in list.as_array().unwrap() {
        let file = json(
            &marc,
            &["account", "show", a["id"].as_str().unwrap(), "--json"],
        );
        for q in file["quotes"].as_array().unwrap() {
            let n = q["number"].as_str().unwrap().to_string();
            assert_eq!(q["provisional"], false, "{n}");
            assert!(all.insert(n.clone()), "{n} given twice");
            let (head, seq) = n.rsplit_once('-').unwrap();
            series
                .entry(head.to_string())
                .or_default()
                .push(seq.parse().unwrap());
        }
    }
    assert!(new_numbers.is_subset(&all));
    for (head, mut seqs) in series {
        seqs.sort();
        let want: Vec<u64> = (1..=seqs.len() as u64).collect();
        assert_eq!(seqs, want, "series {head} has a gap");
    }
}
