//! End to end: two customer files that are one company are merged on the
//! server (`carnet-server merge`) while a second device of the rep edits
//! the file that goes, offline. Every record of both ends up in the file
//! that stays, on every device, the offline edits included; the merged
//! file leaves every list and keeps its history.

use std::time::{Duration, Instant};

use carnet_tests::harness::{json, login, ok, Server};
use serde_json::Value;

const ALICE: &str = "alice@demo.carnet.fr";

fn list(store: &std::path::Path) -> Vec<String> {
    json(store, &["account", "list", "--limit", "1000", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect()
}

fn texts(file: &Value, records: &str, field: &str) -> Vec<String> {
    let mut v: Vec<String> = file[records]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[field].as_str().unwrap_or("").to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn a_merge_keeps_everything_and_converges_with_an_offline_edit_of_the_file_that_goes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("server");
    Server::demo(&data);
    let server = Server::start(&data, "127.0.0.1:0");
    let phone = tmp.path().join("phone");
    let tablet = tmp.path().join("tablet");
    login(&phone, &server.url, ALICE, "carnet-demo");
    login(&tablet, &server.url, ALICE, "carnet-demo");
    ok(&phone, &["sync"]);
    let ids = list(&phone);
    let (stays, goes) = (ids[0].clone(), ids[1].clone());
    let contact = ok(
        &phone,
        &[
            "contact",
            "add",
            &goes,
            "--name",
            "Julie Roux",
            "--role",
            "Acheteuse",
        ],
    );
    let contact = contact.trim().to_string();
    ok(&phone, &["note", "add", &goes, "Avant la fusion"]);
    ok(&phone, &["sync"]);
    ok(&tablet, &["sync"]);
    let before_stays = json(&phone, &["account", "show", &stays, "--json"]);
    let before_goes = json(&phone, &["account", "show", &goes, "--json"]);

    // The tablet goes offline and edits the file that goes.
    ok(
        &tablet,
        &["note", "add", &goes, "Pendant la fusion, hors ligne"],
    );
    ok(
        &tablet,
        &["contact", "set", &contact, "role", "Directrice des achats"],
    );

    let out = server.admin(&["merge", &stays, &goes], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The phone sees one file with both files' records.
    ok(&phone, &["sync"]);
    let after = list(&phone);
    assert!(after.contains(&stays) && !after.contains(&goes));
    let merged = json(&phone, &["account", "show", &stays, "--json"]);
    for records in ["contacts", "deals", "actions", "quotes", "orders"] {
        let n = |f: &Value| f[records].as_array().unwrap().len();
        assert_eq!(n(&merged), n(&before_stays) + n(&before_goes), "{records}");
    }
    assert!(texts(&merged, "notes", "body").contains(&"Avant la fusion".to_string()));

    // The tablet comes back: its edits reach the file that stays.
    ok(&tablet, &["sync"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let converged = loop {
        ok(&phone, &["sync"]);
        ok(&tablet, &["sync"]);
        let p = json(&phone, &["account", "show", &stays, "--json"]);
        let t = json(&tablet, &["account", "show", &stays, "--json"]);
        let done = texts(&p, "notes", "body")
            .contains(&"Pendant la fusion, hors ligne".to_string())
            && texts(&p, "contacts", "role").contains(&"Directrice des achats".to_string())
            && texts(&p, "notes", "body") == texts(&t, "notes", "body")
            && texts(&p, "contacts", "role") == texts(&t, "contacts", "role");
        if done || Instant::now() > deadline {
            break done;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(
        converged,
        "the offline edit did not reach the merged file on both devices"
    );
    assert!(!list(&tablet).contains(&goes));
    // The merged file keeps its history.
    let history = json(&phone, &["account", "history", &goes, "--json"]);
    assert!(history.as_array().unwrap().len() >= 3);
    // And the tenant-wide scan no longer counts it.
    let scan = server.admin(&["duplicates"], None);
    let scan: Value = serde_json::from_slice(&scan.stdout).unwrap();
    assert!(!scan.to_string().contains(&goes));
}
