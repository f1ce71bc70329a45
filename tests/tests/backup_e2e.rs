//! End to end: a running server is backed up (`carnet-server backup`),
//! lost, and restored from the file into a new data directory
//! (`carnet-server restore`); its devices carry on as if nothing happened:
//! same token, same files, every document identical with its history.

use carnet_tests::harness::{json, login, ok, Server};

const ALICE: &str = "alice@demo.carnet.fr";

#[test]
fn a_restored_server_serves_its_devices_as_before() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("server");
    Server::demo(&data);
    let mut server = Server::start(&data, "127.0.0.1:0");
    let alice = tmp.path().join("alice");
    login(&alice, &server.url, ALICE, "carnet-demo");
    ok(&alice, &["sync"]);
    let files = json(&alice, &["account", "list", "--limit", "1000", "--json"]);
    let first = files[0]["id"].as_str().unwrap().to_string();
    ok(&alice, &["note", "add", &first, "Avant la sauvegarde"]);
    ok(&alice, &["sync"]);
    let history_before = json(&alice, &["account", "history", &first, "--json"]);

    let backup = tmp.path().join("carnet.backup.jsonl");
    let out = server.admin(&["backup", "-o", backup.to_str().unwrap()], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&backup).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the backup is readable by others: {mode:o}"
        );
    }

    // The server is lost; its replacement starts from the backup.
    server.kill9();
    std::fs::rename(&data, tmp.path().join("lost")).unwrap();
    let restore = |file: &std::path::Path| {
        std::process::Command::new(carnet_tests::harness::bin("carnet-server"))
            .arg("--data")
            .arg(&data)
            .arg("restore")
            .arg(file)
            .output()
            .unwrap()
    };
    // A backup cut short is refused and leaves no data directory behind.
    let bytes = std::fs::read(&backup).unwrap();
    let cut = tmp.path().join("cut.jsonl");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let refused = restore(&cut);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("backup"));
    assert!(!data.exists());
    let out = restore(&backup);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Restoring over a tenant is refused.
    assert!(!restore(&backup).status.success());
    for f in std::fs::read_dir(tmp.path().join("lost").join("blobs"))
        .into_iter()
        .flatten()
    {
        let f = f.unwrap();
        std::fs::create_dir_all(data.join("blobs")).unwrap();
        std::fs::copy(f.path(), data.join("blobs").join(f.file_name())).unwrap();
    }
    server.restart();

    // Alice's device syncs with its token, as before, both ways.
    ok(&alice, &["note", "add", &first, "Après la restauration"]);
    ok(&alice, &["sync"]);
    assert_eq!(
        json(&alice, &["account", "list", "--limit", "1000", "--json"]),
        files
    );
    let history_after = json(&alice, &["account", "history", &first, "--json"]);
    // The history from before the loss is all there, and one change more.
    let after = history_after.as_array().unwrap();
    let before = history_before.as_array().unwrap();
    assert!(before.iter().all(|e| after.contains(e)));
    assert_eq!(after.len(), before.len() + 1);
    // A new device of hers gets every file from the restored server, with
    // the notes written before and after.
    let again = tmp.path().join("alice2");
    login(&again, &server.url, ALICE, "carnet-demo");
    ok(&again, &["sync"]);
    assert_eq!(
        json(&again, &["account", "list", "--limit", "1000", "--json"]),
        files
    );
    let file = json(&again, &["account", "show", &first, "--json"]);
    let notes: Vec<&str> = file["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["body"].as_str().unwrap())
        .collect();
    assert!(
        notes.contains(&"Avant la sauvegarde") && notes.contains(&"Après la restauration"),
        "{notes:?}"
    );
}
