//! The wire protocol against a real server, from a hand-crafted client:
//! isolation between territories, forged identities, malformed and
//! oversized frames, replays, corrupt Automerge bytes, and a device token
//! revoked while its connection is open.

use std::collections::HashSet;

use automerge::sync::{self, SyncDoc};
use automerge::AutoCommit;
use carnet_core::sync::frame::{DocMsg, ErrorCode, Frame, PROTOCOL_VERSION};
use carnet_core::DocId;
use carnet_tests::harness::{json, login, ok};
use carnet_tests::raw::{demo, forged_account, push, raw_login, session, Raw, PASSWORD};
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_crafted_client_cannot_reach_other_territories() {
    let (tmp, server) = demo();
    // The manager's view tells us every file and its owner.
    let marc = tmp.path().join("marc");
    login(&marc, &server.url, "marc@demo.carnet.fr", PASSWORD);
    ok(&marc, &["sync"]);
    let all = json(&marc, &["account", "list", "--limit", "1000", "--json"]);
    let of = |owner: &str| -> Vec<DocId> {
        all.as_array()
            .unwrap()
            .iter()
            .filter(|h| h["owner"] == owner)
            .map(|h| h["id"].as_str().unwrap().parse().unwrap())
            .collect()
    };
    let alices: HashSet<DocId> = of("alice@demo.carnet.fr").into_iter().collect();
    let brunos = of("bruno@demo.carnet.fr");

    let (device, token) = raw_login(&server, "alice@demo.carnet.fr").await;
    let (mut r, listed) = session(&server, device, &token).await;
    let listed_accounts: HashSet<DocId> = listed
        .iter()
        .copied()
        .filter(|d| {
            all.as_array()
                .unwrap()
                .iter()
                .any(|h| h["id"] == d.to_string().as_str())
        })
        .collect();
    assert_eq!(
        listed_accounts, alices,
        "Alice is offered exactly her files"
    );

    // Asking for Bruno's files gets the answer a made-up id gets.
    let made_up = vec![DocId::new(), DocId::new()];
    let mut asked = brunos[..3].to_vec();
    asked.extend(&made_up);
    r.send(&Frame::Fetch {
        docs: asked.clone(),
    })
    .await;
    match r.recv().await {
        Some(Frame::Docs { docs, missing }) => {
            assert!(docs.is_empty(), "nothing of Bruno's is sent");
            assert_eq!(missing, asked);
        }
        other => panic!("{other:?}"),
    }
    // A sync opening on a hidden file answers like one on a missing file.
    let mut replies = Vec::new();
    for doc in [brunos[0], made_up[0]] {
        let mut empty = AutoCommit::new();
        let msg = empty
            .sync()
            .generate_sync_message(&mut sync::State::new())
            .unwrap();
        r.send(&Frame::Sync {
            msgs: vec![DocMsg {
                doc,
                msg: msg.encode(),
            }],
        })
        .await;
        match r.recv().await {
            Some(Frame::SyncReply {
                msgs,
                acks,
                rejects,
            }) => {
                assert!(acks.is_empty() && rejects.is_empty());
                replies.push(msgs[0].msg.clone());
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(replies[0], replies[1], "hidden and missing look the same");

    // Writing into Bruno's file, or creating one in his territory, is refused alike.
    let hidden = push(
        &mut r,
        brunos[1],
        &mut forged_account(brunos[1], "alice@demo.carnet.fr", "75011"),
    )
    .await;
    let foreign = push(
        &mut r,
        made_up[1],
        &mut forged_account(made_up[1], "bruno@demo.carnet.fr", "69003"),
    )
    .await;
    assert_eq!(
        hidden.as_deref(),
        Some("document not found or not permitted")
    );
    assert_eq!(hidden, foreign);
    // Bruno's file is untouched.
    ok(&marc, &["sync"]);
    let f = json(
        &marc,
        &["account", "show", &brunos[1].to_string(), "--json"],
    );
    assert_ne!(f["account"]["name"], "Forged");

    // A forged identity: Alice's token with Bruno's device id.
    let (bruno_device, _) = raw_login(&server, "bruno@demo.carnet.fr").await;
    let mut forged = Raw::connect(&server).await;
    forged
        .send(&Frame::Hello {
            device: bruno_device,
            token: token.clone(),
            cursor: 0,
        })
        .await;
    assert_eq!(forged.expect_error().await, ErrorCode::Unauthorized);
    let mut guess = Raw::connect(&server).await;
    guess
        .send(&Frame::Hello {
            device,
            token: "0".repeat(64),
            cursor: 0,
        })
        .await;
    assert_eq!(guess.expect_error().await, ErrorCode::Unauthorized);
    let mut bad_pw = Raw::connect(&server).await;
    bad_pw
        .send(&Frame::Login {
            email: "alice@demo.carnet.fr".into(),
            password: "nope".into(),
            device_name: "x".into(),
        })
        .await;
    assert_eq!(bad_pw.expect_error().await, ErrorCode::Unauthorized);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_get_typed_errors_and_the_server_keeps_serving_others() {
    let (tmp, server) = demo();
    let (device, token) = raw_login(&server, "alice@demo.carnet.fr").await;
    let hello = Frame::Hello {
        device,
        token: token.clone(),
        cursor: 0,
    };

    let cases: Vec<(Vec<u8>, ErrorCode)> = vec![
        (b"\x00\x01garbage".to_vec(), ErrorCode::BadFrame),
        (
            {
                let mut b = hello.encode();
                b[3] = PROTOCOL_VERSION + 1;
                b
            },
            ErrorCode::UnsupportedVersion,
        ),
        (
            {
                let b = hello.encode();
                b[..b.len() - 10].to_vec()
            },
            ErrorCode::BadFrame,
        ),
        (
            Frame::Fetch { docs: vec![] }.encode(),
            ErrorCode::Unexpected,
        ),
    ];
    for (bytes, code) in cases {
        let mut r = Raw::connect(&server).await;
        r.send_bytes(bytes).await;
        assert_eq!(r.expect_error().await, code);
        assert!(r.recv().await.is_none(), "the server closes after an error");
    }
    // A text message is not a frame.
    let mut r = Raw::connect(&server).await;
    let _ = r.0.send(Message::text("hello")).await;
    assert_eq!(r.expect_error().await, ErrorCode::BadFrame);
    // Oversized: refused by the websocket layer, connection closed.
    let mut r = Raw::connect(&server).await;
    r.send_bytes(vec![7u8; 17 * 1024 * 1024]).await;
    assert!(!matches!(
        r.recv().await,
        Some(Frame::Welcome { .. }) | Some(Frame::LoggedIn { .. })
    ));

    // Inside a session.
    let (mut r, docs) = session(&server, device, &token).await;
    let doc = docs[0];
    r.send(&Frame::Sync {
        msgs: vec![DocMsg {
            doc,
            msg: b"\x42not automerge".to_vec(),
        }],
    })
    .await;
    match r.recv().await {
        Some(Frame::SyncReply { rejects, .. }) => {
            assert!(
                rejects[0].1.contains("malformed sync message"),
                "{rejects:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    r.send(&Frame::Up {
        docs: vec![carnet_core::sync::UpDoc {
            doc,
            heads: vec![[7u8; 32]],
            changes: b"\x85\x6f\x4a\x83 truncated".to_vec(),
        }],
    })
    .await;
    match r.recv().await {
        Some(Frame::Down { rejects, .. }) => {
            assert!(rejects[0].1.contains("malformed changes"), "{rejects:?}");
        }
        other => panic!("{other:?}"),
    }
    r.send(&Frame::Ping(5)).await;
    assert_eq!(
        r.recv().await,
        Some(Frame::Pong(5)),
        "the session survives a bad message"
    );
    // Too many documents in one batch.
    r.send(&Frame::Fetch {
        docs: (0..2000).map(|_| DocId::new()).collect(),
    })
    .await;
    assert_eq!(r.expect_error().await, ErrorCode::TooLarge);

    // A replayed frame changes nothing twice.
    let (mut r, _) = session(&server, device, &token).await;
    let new_doc = DocId::new();
    let mut am = forged_account(new_doc, "alice@demo.carnet.fr", "75011");
    assert_eq!(push(&mut r, new_doc, &mut am).await, None);
    let mut st = sync::State::new();
    let replay = AutoCommit::load(&am.save())
        .unwrap()
        .sync()
        .generate_sync_message(&mut st)
        .unwrap()
        .encode();
    for _ in 0..2 {
        r.send(&Frame::Sync {
            msgs: vec![DocMsg {
                doc: new_doc,
                msg: replay.clone(),
            }],
        })
        .await;
        assert!(matches!(
            r.recv().await,
            Some(Frame::SyncReply { .. }) | Some(Frame::Changed { .. })
        ));
    }

    // Everyone else is still served.
    let alice = tmp.path().join("alice");
    login(&alice, &server.url, "alice@demo.carnet.fr", PASSWORD);
    ok(&alice, &["sync"]);
    let n = json(&alice, &["account", "list", "--json"])
        .as_array()
        .unwrap()
        .len();
    assert_eq!(n, 21, "20 demo files and the one pushed above, once");
    assert!(server.metric("carnet_bad_frames_total") >= 4.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_device_is_cut_off_at_once_even_mid_connection() {
    let (tmp, server) = demo();
    let (device, token) = raw_login(&server, "alice@demo.carnet.fr").await;
    let (mut r, _) = session(&server, device, &token).await;
    let out = server.admin(
        &[
            "user",
            "revoke-device",
            "--email",
            "alice@demo.carnet.fr",
            "--device",
            &device.to_string(),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        r.expect_error().await,
        ErrorCode::Unauthorized,
        "the open connection is told"
    );
    assert!(r.recv().await.is_none(), "and closed");
    let mut again = Raw::connect(&server).await;
    again
        .send(&Frame::Hello {
            device,
            token,
            cursor: 0,
        })
        .await;
    assert_eq!(again.expect_error().await, ErrorCode::Unauthorized);
    // Alice's other devices keep working.
    let phone = tmp.path().join("phone");
    login(&phone, &server.url, "alice@demo.carnet.fr", PASSWORD);
    ok(&phone, &["sync"]);
    let devices = server.admin(
        &["user", "devices", "--email", "alice@demo.carnet.fr"],
        None,
    );
    let list: serde_json::Value = serde_json::from_slice(&devices.stdout).unwrap();
    let revoked: Vec<bool> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["device"] == device.to_string().as_str())
        .map(|d| d["revoked"].as_bool().unwrap())
        .collect();
    assert_eq!(revoked, vec![true]);
}
