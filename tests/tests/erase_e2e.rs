//! End to end: a person is erased (`carnet-server erase`) while a second
//! device of the rep edits their customer file offline. Afterwards no file
//! of the server's data directory or of either device store, and no
//! export, holds the person's name, email or phone number (the bytes on
//! disk are searched); the offline edits of anything else survive, scrubbed
//! of the person; an offline edit of the person does not bring them back.
//! A device of protocol version 1 is told to drop its copy and fetches the
//! new one, in frames of its own version.

use std::path::Path;
use std::time::{Duration, Instant};

use carnet_core::sync::frame::Frame;
use carnet_core::DocId;
use carnet_tests::harness::{json, login, ok, Server};
use carnet_tests::raw::{raw_login, Raw};
use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

const ALICE: &str = "alice@demo.carnet.fr";
const NAME: &str = "Zoé Quérard";
const EMAIL: &str = "zoe.querard@exemple.fr";

/// What must be found nowhere once the person is erased.
const NEEDLES: [&str; 4] = ["Quérard", "querard", "71 82 93 04", "671829304"];

/// Files under `dir` holding one of `NEEDLES`, with the needle.
fn holders(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let Ok(bytes) = std::fs::read(&p) else {
                continue;
            };
            for n in NEEDLES {
                if bytes.windows(n.len()).any(|w| w == n.as_bytes()) {
                    out.push(format!("{} ({n})", p.display()));
                }
            }
        }
    }
    out
}

fn bodies(file: &Value, records: &str, field: &str) -> Vec<String> {
    let mut v: Vec<String> = file[records]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[field].as_str().unwrap_or("").to_string())
        .collect();
    v.sort();
    v
}

/// A frame from a raw connection, with the version byte it came in.
async fn recv_versioned(r: &mut Raw) -> (u8, Frame) {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(20), r.0.next())
            .await
            .expect("the server answers in time");
        if let Some(Ok(Message::Binary(b))) = msg {
            let (v, f) = Frame::decode_versioned(&b).expect("server frames decode");
            if !matches!(f, Frame::Ping(_)) {
                return (v, f);
            }
        } else if !matches!(msg, Some(Ok(_))) {
            panic!("the server closed the connection");
        }
    }
}

/// A device of protocol 1: its Hello, and the catch-up it gets.
async fn v1_session(
    server: &Server,
    device: uuid::Uuid,
    token: &str,
) -> (Raw, Vec<DocId>, Vec<DocId>) {
    let mut r = Raw::connect(server).await;
    r.send_bytes(
        Frame::Hello {
            device,
            token: token.into(),
            cursor: 0,
        }
        .encode_as(1),
    )
    .await;
    let (v, welcome) = recv_versioned(&mut r).await;
    assert_eq!(v, 1, "answered in the device's version");
    assert!(matches!(welcome, Frame::Welcome { .. }), "{welcome:?}");
    let (mut docs, mut revoked) = (Vec::new(), Vec::new());
    loop {
        match recv_versioned(&mut r).await {
            (
                1,
                Frame::Changed {
                    docs: d,
                    revoked: g,
                    more,
                    ..
                },
            ) => {
                docs.extend(d);
                revoked.extend(g);
                if !more {
                    break;
                }
            }
            other => panic!("expected a version-1 Changed, got {other:?}"),
        }
    }
    (r, docs, revoked)
}

/// Fetches `doc` whole over a version-1 connection.
async fn v1_fetch(r: &mut Raw, doc: DocId) -> Vec<u8> {
    r.send_bytes(Frame::Fetch { docs: vec![doc] }.encode_as(1))
        .await;
    loop {
        match recv_versioned(r).await {
            (1, Frame::Docs { docs, .. }) => {
                return docs
                    .into_iter()
                    .find(|(d, _)| *d == doc)
                    .expect("fetched")
                    .1
            }
            (1, _) => continue,
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn an_erased_person_leaves_every_store_and_export_and_offline_edits_survive() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("server");
    Server::demo(&data);
    let server = Server::start(&data, "127.0.0.1:0");
    let phone = tmp.path().join("phone");
    let tablet = tmp.path().join("tablet");
    login(&phone, &server.url, ALICE, "carnet-demo");
    login(&tablet, &server.url, ALICE, "carnet-demo");
    ok(&phone, &["sync"]);
    let accounts = json(&phone, &["account", "list", "--json"]);
    let account = accounts[0]["id"].as_str().unwrap().to_string();
    let contact = ok(
        &phone,
        &[
            "contact",
            "add",
            &account,
            "--name",
            NAME,
            "--email",
            EMAIL,
            "--mobile",
            "+33 6 71 82 93 04",
            "--role",
            "Acheteuse",
        ],
    )
    .trim()
    .to_string();
    ok(
        &phone,
        &["contact", "set", &contact, "role", "Responsable achats"],
    );
    ok(
        &phone,
        &[
            "note",
            "add",
            &account,
            "Rappeler Zoé Quérard au 06 71 82 93 04 mardi",
        ],
    );
    ok(&phone, &["sync"]);
    ok(&tablet, &["sync"]);

    // A device of protocol 1 holds the file too.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let doc: DocId = account.parse().unwrap();
    let (v1_device, v1_token) = rt.block_on(raw_login(&server, ALICE));
    rt.block_on(async {
        let (mut r, docs, _) = v1_session(&server, v1_device, &v1_token).await;
        assert!(docs.contains(&doc));
        let bytes = v1_fetch(&mut r, doc).await;
        assert!(
            bytes.windows(7).any(|w| w == b"querard"),
            "the old copy names her"
        );
    });

    // Before: the person is on disk everywhere (the search can see her).
    assert!(!holders(&data).is_empty());
    assert!(!holders(&tablet).is_empty());

    // The tablet, offline, edits the file: the person, and other things.
    ok(
        &tablet,
        &["note", "add", &account, "Commande prévue en janvier"],
    );
    ok(&tablet, &["note", "add", &account, "Zoé Quérard a rappelé"]);
    ok(&tablet, &["contact", "set", &contact, "role", "Directrice"]);

    let out = server.admin(&["erase", &contact], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done["accounts"], serde_json::json!([account]));
    assert!(done["device_copies"].as_u64().unwrap() >= 3, "{done}");
    assert_eq!(holders(&data), Vec::<String>::new(), "server after erase");

    // The phone replaces its copy.
    ok(&phone, &["sync"]);
    let file = json(&phone, &["account", "show", &account, "--json"]);
    assert!(!bodies(&file, "contacts", "id").contains(&contact));
    assert!(
        bodies(&file, "notes", "body").contains(&"Rappeler [effacé] au [effacé] mardi".to_string())
    );

    // The tablet comes back: its other edits reach everyone, scrubbed;
    // its edit of the person is gone with her.
    let deadline = Instant::now() + Duration::from_secs(30);
    let converged = loop {
        ok(&tablet, &["sync"]);
        ok(&phone, &["sync"]);
        let p = json(&phone, &["account", "show", &account, "--json"]);
        let t = json(&tablet, &["account", "show", &account, "--json"]);
        let notes = bodies(&p, "notes", "body");
        let done = notes.contains(&"Commande prévue en janvier".to_string())
            && notes.contains(&"[effacé] a rappelé".to_string())
            && notes == bodies(&t, "notes", "body")
            && bodies(&p, "contacts", "id") == bodies(&t, "contacts", "id");
        if done || Instant::now() > deadline {
            break done;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(converged, "the tablet's offline edits did not converge");
    let t = json(&tablet, &["account", "show", &account, "--json"]);
    assert!(!bodies(&t, "contacts", "id").contains(&contact));
    let status = json(&tablet, &["status", "--json"]);
    assert_eq!(
        status["pending"].as_array().map(Vec::len),
        Some(0),
        "{status}"
    );
    assert_eq!(
        status["rejected"].as_array().map(Vec::len),
        Some(0),
        "{status}"
    );

    // The device of protocol 1: told to drop the file, then to fetch it.
    rt.block_on(async {
        let (mut r, docs, revoked) = v1_session(&server, v1_device, &v1_token).await;
        assert!(
            revoked.contains(&doc) && !docs.contains(&doc),
            "{docs:?} {revoked:?}"
        );
        r.send_bytes(Frame::Dropped { docs: vec![doc] }.encode_as(1))
            .await;
        match recv_versioned(&mut r).await {
            (1, Frame::Changed { docs, .. }) => assert_eq!(docs, vec![doc]),
            other => panic!("expected the file listed again, got {other:?}"),
        }
        let bytes = v1_fetch(&mut r, doc).await;
        assert!(!bytes.windows(7).any(|w| w == b"querard"));
        // And next time it is an ordinary file again.
        drop(r);
        let (_, _, revoked) = v1_session(&server, v1_device, &v1_token).await;
        assert!(!revoked.contains(&doc));
    });

    // Exports, from a device and from the server.
    let csv = tmp.path().join("export.csv");
    let vcf = tmp.path().join("export.vcf");
    let backup = tmp.path().join("backup.jsonl");
    ok(
        &tablet,
        &["export", "accounts", "--all", "-o", csv.to_str().unwrap()],
    );
    ok(
        &tablet,
        &["export", "vcard", "--all", "-o", vcf.to_str().unwrap()],
    );
    let out = server.admin(&["backup", "-o", backup.to_str().unwrap()], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [&csv, &vcf, &backup] {
        assert!(std::fs::metadata(f).unwrap().len() > 0);
    }

    // Nothing, anywhere on disk.
    for dir in [&data, &phone, &tablet, &tmp.path().to_path_buf()] {
        assert_eq!(holders(dir), Vec::<String>::new(), "{}", dir.display());
    }
}

/// The next frame that is not a `Changed` (live lists may come between).
async fn next_reply(r: &mut Raw) -> (u8, Frame) {
    loop {
        match recv_versioned(r).await {
            (_, Frame::Changed { .. }) => continue,
            other => return other,
        }
    }
}

#[test]
fn changes_building_on_an_erased_history_are_never_merged() {
    use automerge::sync::SyncDoc;
    use carnet_core::sync::frame::{DocMsg, UpDoc};

    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("server");
    Server::demo(&data);
    let server = Server::start(&data, "127.0.0.1:0");
    let phone = tmp.path().join("phone");
    login(&phone, &server.url, ALICE, "carnet-demo");
    ok(&phone, &["sync"]);
    let accounts = json(&phone, &["account", "list", "--json"]);
    let account = accounts[0]["id"].as_str().unwrap().to_string();
    let doc: DocId = account.parse().unwrap();
    let contact = ok(
        &phone,
        &["contact", "add", &account, "--name", NAME, "--email", EMAIL],
    )
    .trim()
    .to_string();
    ok(&phone, &["sync"]);

    let rt = tokio::runtime::Runtime::new().unwrap();
    // Two raw devices, one per protocol version, each with the old copy.
    let (v2_device, v2_token) = rt.block_on(raw_login(&server, ALICE));
    let (v1_device, v1_token) = rt.block_on(raw_login(&server, ALICE));
    let (old, mut live) = rt.block_on(async {
        let (mut r, _, _) = v1_session(&server, v1_device, &v1_token).await;
        let old = v1_fetch(&mut r, doc).await;
        let (mut r, docs) = carnet_tests::raw::session(&server, v2_device, &v2_token).await;
        assert!(docs.contains(&doc));
        r.send(&Frame::Fetch { docs: vec![doc] }).await;
        assert!(matches!(next_reply(&mut r).await, (2, Frame::Docs { .. })));
        (old, r)
    });
    let mut old_am = automerge::AutoCommit::load(&old).unwrap();
    let old_heads: Vec<[u8; 32]> = old_am.get_heads().iter().map(|h| h.0).collect();

    let out = server.admin(&["erase", &contact], None);
    // A connected device of protocol 2 hears it live.
    rt.block_on(async {
        match next_reply(&mut live).await {
            (2, Frame::Replace { docs }) => assert_eq!(docs[0].doc, doc),
            other => panic!("expected a live Replace, got {other:?}"),
        }
    });
    drop(live);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    rt.block_on(async {
        // Protocol 2: told to replace, at once, before the catch-up list.
        let mut r = Raw::connect(&server).await;
        r.send(&Frame::Hello {
            device: v2_device,
            token: v2_token.clone(),
            cursor: 0,
        })
        .await;
        assert!(matches!(
            recv_versioned(&mut r).await,
            (2, Frame::Welcome { .. })
        ));
        match recv_versioned(&mut r).await {
            (2, Frame::Replace { docs }) => {
                assert_eq!(docs.len(), 1);
                assert_eq!(docs[0].doc, doc);
                assert_eq!(docs[0].erased, vec![contact.clone()]);
            }
            other => panic!("expected Replace, got {other:?}"),
        }
        // It fetches the new copy (its mark is cleared) ...
        r.send(&Frame::Fetch { docs: vec![doc] }).await;
        match next_reply(&mut r).await {
            (2, Frame::Docs { docs, .. }) => {
                assert!(!docs[0].1.windows(7).any(|w| w == b"querard"))
            }
            other => panic!("{other:?}"),
        }
        // ... then pushes the old history anyway, whole: never merged.
        r.send(&Frame::Up {
            docs: vec![UpDoc {
                doc,
                heads: old_heads.clone(),
                changes: old.clone(),
            }],
        })
        .await;
        match next_reply(&mut r).await {
            (
                2,
                Frame::Down {
                    acks,
                    rejects,
                    docs,
                    resync,
                },
            ) => {
                assert!(
                    acks.is_empty() && rejects.is_empty() && docs.is_empty() && resync.is_empty()
                )
            }
            other => panic!("expected Down, got {other:?}"),
        }
        assert!(matches!(
            next_reply(&mut r).await,
            (2, Frame::Replace { .. })
        ));
        // Nor through Automerge's sync exchange.
        let mut state = automerge::sync::State::new();
        let msg = old_am.sync().generate_sync_message(&mut state).unwrap();
        r.send(&Frame::Sync {
            msgs: vec![DocMsg {
                doc,
                msg: msg.encode(),
            }],
        })
        .await;
        match next_reply(&mut r).await {
            (
                2,
                Frame::SyncReply {
                    msgs,
                    acks,
                    rejects,
                },
            ) => {
                assert!(msgs.is_empty() && acks.is_empty() && rejects.is_empty())
            }
            other => panic!("expected SyncReply, got {other:?}"),
        }
        assert!(matches!(
            next_reply(&mut r).await,
            (2, Frame::Replace { .. })
        ));

        // Protocol 1: the same push is refused, with the reason.
        let (mut r, _, revoked) = v1_session(&server, v1_device, &v1_token).await;
        assert!(revoked.contains(&doc));
        r.send_bytes(
            Frame::Up {
                docs: vec![UpDoc {
                    doc,
                    heads: old_heads.clone(),
                    changes: old.clone(),
                }],
            }
            .encode_as(1),
        )
        .await;
        match next_reply(&mut r).await {
            (1, Frame::Down { rejects, acks, .. }) => {
                assert!(acks.is_empty());
                assert_eq!(rejects.len(), 1);
                assert!(rejects[0].1.contains("effacer"), "{}", rejects[0].1);
            }
            other => panic!("expected a version-1 Down, got {other:?}"),
        }
    });
    // The person never came back.
    ok(&phone, &["sync"]);
    let file = json(&phone, &["account", "show", &account, "--json"]);
    assert!(!bodies(&file, "contacts", "id").contains(&contact));
    assert_eq!(holders(&data), Vec::<String>::new());
}
