//! A rep's ordinary login turned hostile, against a real server on
//! loopback: one test per class of attack (see docs/security.md). Each
//! attack is refused with a typed answer and the server keeps serving.

use std::time::{Duration, Instant};

use automerge::sync;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ChangeHash, ObjType, ReadDoc, ROOT};
use carnet_core::sync::frame::{DocMsg, Frame, UpDoc};
use carnet_core::DocId;
use carnet_tests::harness::{http_exchange, json, login, ok, Server};
use carnet_tests::raw::{
    demo, forged_account, raw_login, session, session_with_revoked, Raw, PASSWORD,
};
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

const ALICE: &str = "alice@demo.carnet.fr";
const BRUNO: &str = "bruno@demo.carnet.fr";
const MARC: &str = "marc@demo.carnet.fr";

/// `/health` answers within two seconds.
fn healthy(server: &Server) -> bool {
    use std::io::{Read, Write};
    let Ok(addr) = server.addr.parse() else {
        return false;
    };
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = write!(s, "GET /health HTTP/1.0\r\n\r\n");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.ends_with("ok")
}

fn hashes(heads: &[ChangeHash]) -> Vec<[u8; 32]> {
    heads.iter().map(|h| h.0).collect()
}

/// Sends one `Up` and returns the `Down` (skipping live notifications).
async fn up(r: &mut Raw, doc: DocId, heads: Vec<[u8; 32]>, changes: Vec<u8>) -> Frame {
    r.send(&Frame::Up {
        docs: vec![UpDoc {
            doc,
            heads,
            changes,
        }],
    })
    .await;
    next_reply(r).await
}

async fn next_reply(r: &mut Raw) -> Frame {
    loop {
        match r.recv().await {
            Some(Frame::Changed { .. }) => continue,
            Some(f) => return f,
            None => panic!("the server closed the connection"),
        }
    }
}

fn rejection(f: &Frame, doc: DocId) -> Option<String> {
    match f {
        Frame::Down { rejects, .. } | Frame::SyncReply { rejects, .. } => rejects
            .iter()
            .find(|(d, _)| *d == doc)
            .map(|(_, r)| r.clone()),
        _ => None,
    }
}

fn acked(f: &Frame, doc: DocId) -> bool {
    matches!(f, Frame::Down { acks, .. } | Frame::SyncReply { acks, .. } if acks.iter().any(|(d, _)| *d == doc))
}

/// A new account of Alice's, and the `Up` that creates it.
async fn create_own(r: &mut Raw) -> (DocId, AutoCommit) {
    let id = DocId::new();
    let mut am = forged_account(id, ALICE, "75011");
    let reply = up(r, id, hashes(&am.get_heads()), am.save()).await;
    assert!(acked(&reply, id), "a valid own account is taken: {reply:?}");
    (id, am)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_documents_are_refused_before_anything_recurses() {
    let (_tmp, server) = demo();
    let (device, token) = raw_login(&server, ALICE).await;
    let (mut r, _) = session(&server, device, &token).await;
    // Far deeper than what overflows a debug build's stack in hydrate.
    for (under, expect) in [("junk", "unknown key"), ("contacts", "nested deeper")] {
        let id = DocId::new();
        let mut am = forged_account(id, ALICE, "75011");
        let mut obj = match am.get(ROOT, under).unwrap() {
            Some((_, o)) => o,
            None => am.put_object(ROOT, under, ObjType::Map).unwrap(),
        };
        for _ in 0..3_000 {
            obj = am.put_object(&obj, "n", ObjType::Map).unwrap();
        }
        am.commit();
        let reply = up(&mut r, id, hashes(&am.get_heads()), am.save()).await;
        let reason = rejection(&reply, id).expect("refused");
        assert!(reason.contains(expect), "{under}: {reason}");
    }
    // The same account without the nesting is taken: the depth was the fault.
    create_own(&mut r).await;
    assert!(healthy(&server));
}

/// A sync message whose one summary has this Bloom filter.
fn bloom_message(entries: u64, bits: u64, probes: u64, body: &[u8]) -> Vec<u8> {
    let mut enc = Vec::new();
    for v in [entries, bits, probes] {
        leb128::write::unsigned(&mut enc, v).unwrap();
    }
    enc.extend_from_slice(body);
    let bloom = sync::BloomFilter::try_from(enc.as_slice()).expect("filter parses");
    sync::Message {
        heads: Vec::new(),
        need: Vec::new(),
        have: vec![sync::Have {
            last_sync: Vec::new(),
            bloom,
        }],
        changes: Vec::<Vec<u8>>::new().into(),
        flags: None,
        version: sync::MessageVersion::V1,
    }
    .encode()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bloom_filters_are_refused_and_others_are_still_served() {
    let (_tmp, server) = demo();
    let (device, token) = raw_login(&server, ALICE).await;
    let (mut r, _) = session(&server, device, &token).await;
    let (doc, _) = create_own(&mut r).await;
    let peak_before = server.peak_rss_kib().unwrap_or(0);
    for (what, msg) in [
        // 16 GiB per probed hash in automerge.
        (
            "probes",
            bloom_message(1, 10, u64::from(u32::MAX), &[0xff, 0xff]),
        ),
        // Seconds of CPU per message.
        ("probes", bloom_message(1, 10, 1 << 25, &[0xff, 0xff])),
        // A division by zero in automerge.
        ("bits", bloom_message(1, 0, 7, &[])),
    ] {
        r.send(&Frame::Sync {
            msgs: vec![DocMsg { doc, msg }],
        })
        .await;
        let reply = next_reply(&mut r).await;
        let reason = rejection(&reply, doc).expect("refused");
        assert!(reason.contains(what), "{reason}");
        assert!(healthy(&server), "health answers at once");
    }
    let grown = server
        .peak_rss_kib()
        .unwrap_or(0)
        .saturating_sub(peak_before);
    assert!(grown < 100 * 1024, "memory grew by {grown} KiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compressed_bomb_is_refused_in_bounded_memory() {
    use std::io::Write;
    let (_tmp, server) = demo();
    let (device, token) = raw_login(&server, ALICE).await;
    let (mut r, _) = session(&server, device, &token).await;
    // A compressed change chunk of 1 GiB of zeros: about 1 MiB on the wire.
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![0u8; 1 << 20];
    for _ in 0..1024 {
        z.write_all(&block).unwrap();
    }
    let deflated = z.finish().unwrap();
    let mut chunk = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 2];
    leb128::write::unsigned(&mut chunk, deflated.len() as u64).unwrap();
    chunk.extend(&deflated);
    let peak_before = server.peak_rss_kib().unwrap_or(0);
    let id = DocId::new();
    let reply = up(&mut r, id, Vec::new(), chunk).await;
    let reason = rejection(&reply, id).expect("refused");
    assert!(reason.contains("inflates past"), "{reason}");
    let grown = server
        .peak_rss_kib()
        .unwrap_or(0)
        .saturating_sub(peak_before);
    assert!(grown < 300 * 1024, "memory grew by {grown} KiB");
    create_own(&mut r).await;
}

/// A real change of 16,384 inserts of nothing (null) into the list `list`
/// of `am` (about 100 bytes of run-length encoded columns), whose run
/// lengths are rewritten to claim 1,048,575 operations, with a valid
/// checksum: automerge would apply every one of them.
fn run_length_bomb(am: &mut AutoCommit, list: &automerge::ObjId) -> Vec<u8> {
    use sha2::Digest;
    let base = am.get_heads();
    let n: i64 = 1 << 14;
    am.splice(list, 0, 0, vec![automerge::ScalarValue::Null; n as usize])
        .unwrap();
    am.commit();
    let mut chunk = am.get_changes(&base)[0].raw_bytes().to_vec();
    let sleb = |v: i64| {
        let mut b = Vec::new();
        leb128::write::signed(&mut b, v).unwrap();
        b
    };
    let claim: i64 = (1 << 20) - 1;
    for k in 0..3 {
        let (from, to) = (sleb(n - k), sleb(claim - k));
        let mut i = 0;
        while i + from.len() <= chunk.len() {
            if chunk[i..i + from.len()] == from[..] {
                chunk[i..i + from.len()].copy_from_slice(&to);
                i += from.len();
            } else {
                i += 1;
            }
        }
    }
    // The checksum: SHA-256 of type, length and body, first four bytes.
    let mut rest = &chunk[9..];
    let len = leb128::read::unsigned(&mut rest).unwrap();
    let header = chunk.len() - rest.len();
    let mut hashed = vec![chunk[8]];
    leb128::write::unsigned(&mut hashed, len).unwrap();
    hashed.extend_from_slice(&chunk[header..]);
    let sum = sha2::Sha256::digest(&hashed);
    chunk[4..8].copy_from_slice(&sum[..4]);
    chunk
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_lengths_claiming_a_million_operations_are_refused_unread() {
    let (_tmp, server) = demo();
    let (device, token) = raw_login(&server, ALICE).await;
    let (mut r, _) = session(&server, device, &token).await;
    // Alice's own file; one change adds a list, the next fills it.
    let (doc, mut am) = create_own(&mut r).await;
    let before = am.get_heads();
    let deals = match am.get(ROOT, "deals").unwrap() {
        Some((_, o)) => o,
        None => panic!("no deals map"),
    };
    let list = am.put_object(&deals, "x", ObjType::List).unwrap();
    am.commit();
    let mut changes = am.get_changes(&before)[0].raw_bytes().to_vec();
    let bomb = run_length_bomb(&mut am, &list);
    assert!(bomb.len() < 200, "{} bytes", bomb.len());
    changes.extend(bomb);
    let peak_before = server.peak_rss_kib().unwrap_or(0);
    let reply = up(&mut r, doc, hashes(&am.get_heads()), changes).await;
    let reason = rejection(&reply, doc).expect("refused");
    assert!(reason.contains("operations"), "{reason}");
    // Before: ~0.5 GB and seconds of CPU for these ~200 bytes (a 4-byte
    // run length would claim a hundred times more).
    let grown = server
        .peak_rss_kib()
        .unwrap_or(0)
        .saturating_sub(peak_before);
    assert!(grown < 100 * 1024, "memory grew by {grown} KiB");
    assert!(healthy(&server));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_documents_do_not_grow_a_connection_without_bound() {
    let (_tmp, server) = demo();
    let (device, token) = raw_login(&server, ALICE).await;
    let (mut r, _) = session(&server, device, &token).await;
    let heads: Vec<ChangeHash> = (0..256u32)
        .map(|i| {
            let mut h = [7u8; 32];
            h[..4].copy_from_slice(&i.to_le_bytes());
            ChangeHash(h)
        })
        .collect();
    let msg = sync::Message {
        heads,
        need: Vec::new(),
        have: Vec::new(),
        changes: Vec::<Vec<u8>>::new().into(),
        flags: None,
        version: sync::MessageVersion::V1,
    }
    .encode();
    // Eight frames, then eight more: what a connection keeps must stop
    // growing (before, each made-up document kept its state: the first
    // eight frames alone took the server from 15 MB to 320 MB).
    let mut rss = Vec::new();
    for _round in 0..2 {
        for _ in 0..8 {
            let msgs = (0..1024)
                .map(|_| DocMsg {
                    doc: DocId::new(),
                    msg: msg.clone(),
                })
                .collect();
            r.send(&Frame::Sync { msgs }).await;
            assert!(matches!(next_reply(&mut r).await, Frame::SyncReply { .. }));
        }
        rss.push(server.rss_kib().unwrap_or(0));
    }
    let grown = rss[1].saturating_sub(rss[0]);
    assert!(grown < 40 * 1024, "memory kept growing: {rss:?} KiB");
    create_own(&mut r).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_admin_connections_are_closed() {
    let (_tmp, server) = demo();
    let mut idle = Vec::new();
    for _ in 0..20 {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/admin", server.addr))
            .await
            .expect("connect");
        idle.push(ws);
    }
    for mut ws in idle {
        // The server gives up on each within its 10 s admin timeout.
        let closed = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                match ws.next().await {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    Some(Ok(_)) => continue,
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "an idle admin connection stayed open");
    }
    assert!(healthy(&server));
}

async fn try_login(server: &Server, email: &str, password: &str) -> Result<(), String> {
    let mut r = Raw::connect(server).await;
    r.send(&Frame::Login {
        email: email.into(),
        password: password.into(),
        device_name: "guess".into(),
    })
    .await;
    match r.recv().await {
        Some(Frame::LoggedIn { .. }) => Ok(()),
        Some(Frame::Error { message, .. }) => Err(message),
        other => panic!("unexpected answer {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_are_throttled_per_account_even_for_the_right_one() {
    let (_tmp, server) = demo();
    for _ in 0..10 {
        let e = try_login(&server, ALICE, "guess-guess").await.unwrap_err();
        assert_eq!(e, "wrong email or password");
    }
    let e = try_login(&server, ALICE, PASSWORD).await.unwrap_err();
    assert!(e.contains("too many failed logins"), "{e}");
    // Another account is not locked out by Alice's attacker.
    assert_eq!(try_login(&server, BRUNO, PASSWORD).await, Ok(()));
    // One address guessing many accounts runs out too.
    let mut refused = None;
    for i in 0..40 {
        if let Err(e) = try_login(&server, &format!("nobody{i}@demo.carnet.fr"), "x").await {
            if e.contains("too many") {
                refused = Some(i);
                break;
            }
        }
    }
    assert!(refused.is_some(), "the address was never throttled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_cost_the_same_for_unknown_emails_and_hashing_is_bounded() {
    let (_tmp, server) = demo();
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..5 {
        let t = Instant::now();
        try_login(&server, "chloe@demo.carnet.fr", "wrong-one")
            .await
            .unwrap_err();
        known.push(t.elapsed());
        let t = Instant::now();
        try_login(&server, &format!("ghost{i}@demo.carnet.fr"), "wrong-one")
            .await
            .unwrap_err();
        unknown.push(t.elapsed());
    }
    known.sort();
    unknown.sort();
    // Before: 0.56 ms for an unknown email against 22.7 ms for a known one.
    assert!(
        unknown[2] * 2 > known[2],
        "unknown {:?} vs known {:?}",
        unknown[2],
        known[2]
    );
    let peak_before = server.peak_rss_kib().unwrap_or(0);
    let guesses = (0..16).map(|i| {
        let server = &server;
        async move {
            let _ = try_login(server, &format!("crowd{i}@demo.carnet.fr"), "x").await;
        }
    });
    futures_util::future::join_all(guesses).await;
    // Argon2 takes ~19 MiB per hash: 16 at once would be ~300 MiB.
    let grown = server
        .peak_rss_kib()
        .unwrap_or(0)
        .saturating_sub(peak_before);
    assert!(grown < 120 * 1024, "memory grew by {grown} KiB");
}

/// The manager's CLI store, synced: it sees every file of the team.
fn manager_store(tmp: &tempfile::TempDir, server: &Server) -> std::path::PathBuf {
    let marc = tmp.path().join("marc");
    login(&marc, &server.url, MARC, PASSWORD);
    ok(&marc, &["sync"]);
    marc
}

/// The first customer file `owner` owns, as the manager's store lists it.
fn first_account_of(store: &std::path::Path, owner: &str) -> DocId {
    let all = json(store, &["account", "list", "--limit", "1000", "--json"]);
    all.as_array()
        .unwrap()
        .iter()
        .find(|h| h["owner"] == owner)
        .and_then(|h| h["id"].as_str())
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grace_after_a_move_takes_nothing_back_and_sends_nothing_new() {
    let (tmp, server) = demo();
    let marc = manager_store(&tmp, &server);
    let id = first_account_of(&marc, ALICE);
    // Alice's device holds the file.
    let (device, token) = raw_login(&server, ALICE).await;
    let (mut r, _) = session(&server, device, &token).await;
    r.send(&Frame::Fetch { docs: vec![id] }).await;
    let mut copy = match next_reply(&mut r).await {
        Frame::Docs { docs, .. } => AutoCommit::load(&docs[0].1).unwrap(),
        other => panic!("expected Docs, got {other:?}"),
    };
    drop(r);
    let old_heads = copy.get_heads();
    // The manager moves it to Bruno; Bruno writes to it.
    let sid = id.to_string();
    ok(&marc, &["account", "set", &sid, "owner", BRUNO]);
    ok(&marc, &["account", "set", &sid, "postcode", "69003"]);
    ok(&marc, &["sync"]);
    let bruno = tmp.path().join("bruno");
    login(&bruno, &server.url, BRUNO, PASSWORD);
    ok(&bruno, &["sync"]);
    ok(&bruno, &["note", "add", &sid, "Secret de Bruno"]);
    ok(&bruno, &["sync"]);

    let (mut r, _, revoked) = session_with_revoked(&server, device, &token).await;
    assert!(revoked.contains(&id), "the move is announced");
    // Asking with her old heads brings nothing of Bruno's.
    match up(&mut r, id, hashes(&old_heads), Vec::new()).await {
        Frame::Down { docs, .. } => assert!(
            docs.iter().all(|(d, bytes)| *d != id || bytes.is_empty()),
            "new content was sent in grace"
        ),
        other => panic!("expected Down, got {other:?}"),
    }
    // Taking it back, as herself, is refused.
    copy.set_author(Some(automerge::Author::from(ALICE.as_bytes().to_vec())));
    let acc = match copy.get(ROOT, "account").unwrap() {
        Some((_, o)) => o,
        None => panic!("no account map"),
    };
    // (A put of the value already there writes nothing: delete first.)
    for (key, value) in [("owner", ALICE), ("postcode", "75011")] {
        copy.delete(&acc, key).unwrap();
        copy.put(&acc, key, value).unwrap();
    }
    copy.commit();
    let heads = copy.get_heads();
    assert_ne!(heads, old_heads, "Alice wrote a change");
    let reply = up(&mut r, id, hashes(&heads), copy.save()).await;
    assert!(
        rejection(&reply, id).is_some(),
        "taking back was accepted: {reply:?}"
    );
    // Bruno still has it, unchanged in who owns it.
    ok(&bruno, &["sync"]);
    let file = json(&bruno, &["account", "show", &sid, "--json"]);
    assert_eq!(file["account"]["owner"], BRUNO);
}

fn plan_for(id: DocId, user: &str) -> AutoCommit {
    let mut am = AutoCommit::new();
    am.put(ROOT, "schema", 1u64).unwrap();
    am.put(ROOT, "kind", "plan").unwrap();
    am.put(ROOT, "id", id.to_string()).unwrap();
    let plan = am.put_object(ROOT, "plan", ObjType::Map).unwrap();
    am.put(&plan, "user", user).unwrap();
    am.put(&plan, "currency", "EUR").unwrap();
    am.put_object(ROOT, "targets", ObjType::Map).unwrap();
    am.put_object(ROOT, "tiers", ObjType::Map).unwrap();
    am.commit();
    am
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_cannot_hand_himself_a_plan() {
    let (_tmp, server) = demo();
    let (device, token) = raw_login(&server, MARC).await;
    let (mut r, _) = session(&server, device, &token).await;
    let mine = DocId::new();
    let mut own = plan_for(mine, MARC);
    let reply = up(&mut r, mine, hashes(&own.get_heads()), own.save()).await;
    assert!(rejection(&reply, mine).is_some(), "his own plan: {reply:?}");
    let id = DocId::new();
    let mut plan = plan_for(id, ALICE);
    let reply = up(&mut r, id, hashes(&plan.get_heads()), plan.save()).await;
    assert!(acked(&reply, id), "a rep's plan is his to write: {reply:?}");
    let before = plan.get_heads();
    let header = match plan.get(ROOT, "plan").unwrap() {
        Some((_, o)) => o,
        None => panic!("no header"),
    };
    plan.put(&header, "user", MARC).unwrap();
    plan.commit();
    let reply = up(
        &mut r,
        id,
        hashes(&plan.get_heads()),
        plan.save_after(&before),
    )
    .await;
    let reason = rejection(&reply, id).expect("refused");
    assert!(reason.contains("read-only"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_cannot_claim_a_message_left_nor_queue_one_for_someone_else() {
    let (tmp, server) = demo();
    let marc = manager_store(&tmp, &server);
    let id = first_account_of(&marc, ALICE);
    let (device, token) = raw_login(&server, ALICE).await;
    let (mut r, _) = session(&server, device, &token).await;
    r.send(&Frame::Fetch { docs: vec![id] }).await;
    let mut copy = match next_reply(&mut r).await {
        Frame::Docs { docs, .. } => AutoCommit::load(&docs[0].1).unwrap(),
        other => panic!("expected Docs, got {other:?}"),
    };
    copy.set_author(Some(automerge::Author::from(ALICE.as_bytes().to_vec())));
    let emails = match copy.get(ROOT, "emails").unwrap() {
        Some((_, o)) => o,
        None => copy.put_object(ROOT, "emails", ObjType::Map).unwrap(),
    };
    let base = copy.get_heads();
    let forged: [&[(&str, &str)]; 3] = [
        // Already "sent": only the server's mailer says so.
        &[("status", "sent"), ("created_by", ALICE)],
        // Queued in the manager's name.
        &[("status", "queued"), ("created_by", MARC)],
        // Queued with a Message-ID of its choosing.
        &[
            ("status", "queued"),
            ("created_by", ALICE),
            ("message_id", "<x@y>"),
        ],
    ];
    for fields in forged {
        let mut fork = copy.fork();
        let e = fork
            .put_object(&emails, uuid::Uuid::new_v4().to_string(), ObjType::Map)
            .unwrap();
        for (k, v) in [("to", "client@example.com"), ("lang", "fr")]
            .iter()
            .chain(fields.iter())
        {
            fork.put(&e, *k, *v).unwrap();
        }
        fork.put(&e, "created_at", 1_795_687_200i64).unwrap();
        fork.commit();
        let reply = up(
            &mut r,
            id,
            hashes(&fork.get_heads()),
            fork.save_after(&base),
        )
        .await;
        let reason =
            rejection(&reply, id).unwrap_or_else(|| panic!("{fields:?} accepted: {reply:?}"));
        assert!(reason.contains("only the server records"), "{reason}");
    }
    // The honest message is accepted.
    let e = copy
        .put_object(&emails, uuid::Uuid::new_v4().to_string(), ObjType::Map)
        .unwrap();
    for (k, v) in [
        ("to", "client@example.com"),
        ("subject", "Bonjour"),
        ("lang", "fr"),
        ("status", "queued"),
        ("created_by", ALICE),
    ] {
        copy.put(&e, k, v).unwrap();
    }
    copy.put(&e, "created_at", 1_795_687_200i64).unwrap();
    copy.commit();
    let reply = up(
        &mut r,
        id,
        hashes(&copy.get_heads()),
        copy.save_after(&base),
    )
    .await;
    assert!(acked(&reply, id), "{reply:?}");
}

/// The frame with every occurrence of one id's bytes replaced by another's.
fn with_id(frame: &Frame, from: DocId, to: DocId) -> Vec<u8> {
    let mut bytes = frame.encode();
    let (f, t) = (*from.0.as_bytes(), *to.0.as_bytes());
    let mut i = 0;
    while i + 16 <= bytes.len() {
        if bytes[i..i + 16] == f {
            bytes[i..i + 16].copy_from_slice(&t);
            i += 16;
        } else {
            i += 1;
        }
    }
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hidden_and_missing_documents_answer_byte_for_byte_alike() {
    let (tmp, server) = demo();
    let marc = manager_store(&tmp, &server);
    let hidden = first_account_of(&marc, BRUNO);
    let missing = DocId::new();
    let (device, token) = raw_login(&server, ALICE).await;
    let (mut r, _) = session(&server, device, &token).await;

    let mut foreign = AutoCommit::new();
    foreign.put(ROOT, "x", 1).unwrap();
    foreign.commit();
    let (foreign_heads, foreign_bytes) = (hashes(&foreign.get_heads()), foreign.save());
    let mut dep = AutoCommit::new();
    dep.put(ROOT, "a", 1).unwrap();
    dep.commit();
    let first = dep.get_heads();
    dep.put(ROOT, "b", 2).unwrap();
    dep.commit();
    let orphan = sync::Message {
        heads: dep.get_heads(),
        need: Vec::new(),
        have: vec![sync::Have::default()],
        changes: vec![dep.save_after(&first)].into(),
        flags: None,
        version: sync::MessageVersion::V1,
    }
    .encode();
    let probes: Vec<Box<dyn Fn(DocId) -> Frame>> = vec![
        // An empty Up: "what do you have?"
        Box::new(|doc| Frame::Up {
            docs: vec![UpDoc {
                doc,
                heads: Vec::new(),
                changes: Vec::new(),
            }],
        }),
        // Bytes that are no CRM document.
        Box::new(|doc| Frame::Up {
            docs: vec![UpDoc {
                doc,
                heads: foreign_heads.clone(),
                changes: foreign_bytes.clone(),
            }],
        }),
        // A change whose dependency is missing.
        Box::new(|doc| Frame::Sync {
            msgs: vec![DocMsg {
                doc,
                msg: orphan.clone(),
            }],
        }),
    ];
    for (i, probe) in probes.iter().enumerate() {
        r.send(&probe(hidden)).await;
        let for_hidden = next_reply(&mut r).await;
        r.send(&probe(missing)).await;
        let for_missing = next_reply(&mut r).await;
        assert_eq!(
            with_id(&for_hidden, hidden, missing),
            for_missing.encode(),
            "probe {i}: {for_hidden:?} vs {for_missing:?}"
        );
    }
    // And a whole fetch: both listed missing.
    r.send(&Frame::Fetch {
        docs: vec![hidden, missing],
    })
    .await;
    match next_reply(&mut r).await {
        Frame::Docs { docs, missing: m } => {
            assert!(docs.is_empty());
            assert_eq!(m, vec![hidden, missing]);
        }
        other => panic!("expected Docs, got {other:?}"),
    }
}

#[test]
fn metrics_need_their_token_and_quote_numbers_are_per_user() {
    let (tmp, server) = demo();
    let bare = http_exchange(&server.addr, "/metrics", &[]);
    assert!(
        bare.starts_with("HTTP/1.0 401") || bare.starts_with("HTTP/1.1 401"),
        "{bare}"
    );
    assert!(!bare.contains("carnet_"));
    assert!(server.metric("carnet_connections_total") >= 0.0);
    let auth = format!("Bearer {}", server.metrics_token());
    let full = http_exchange(&server.addr, "/metrics", &[("Authorization", &auth)]);
    assert!(full.contains("carnet_"), "{full}");
    // Alice numbers two quotes, then Bruno's first is still his first.
    let year = chrono::Utc::now().format("%Y").to_string();
    let mut numbers = Vec::new();
    for (who, n) in [(ALICE, 2), (BRUNO, 1)] {
        let store = tmp.path().join(who);
        login(&store, &server.url, who, PASSWORD);
        ok(&store, &["sync"]);
        let acc = json(&store, &["account", "list", "--json"])[0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        let mut quotes = Vec::new();
        for _ in 0..n {
            quotes.push(ok(&store, &["quote", "add", &acc]));
        }
        ok(&store, &["sync"]);
        let mut mine: Vec<String> = quotes
            .iter()
            .map(|q| json(&store, &["quote", "show", q, "--json"])["number"].to_string())
            .collect();
        mine.sort();
        numbers.push(mine);
    }
    // DEV-YYYY-SS-NNNNN: each user has a series SS, numbered without gaps
    // (the demo's history already used some numbers of each series).
    let parse = |n: &str| -> (String, u64) {
        let n = n.trim_matches('"');
        let rest = n
            .strip_prefix(&format!("DEV-{year}-"))
            .unwrap_or_else(|| panic!("{n}"));
        let (series, seq) = rest.split_once('-').unwrap();
        (series.to_string(), seq.parse().unwrap())
    };
    let alice: Vec<(String, u64)> = numbers[0].iter().map(|n| parse(n)).collect();
    let bruno = parse(&numbers[1][0]);
    assert_eq!(alice[0].0, alice[1].0, "one series per user");
    assert_eq!(alice[1].1, alice[0].1 + 1, "no gap: {alice:?}");
    assert_ne!(bruno.0, alice[0].0, "Bruno numbers in his own series");
}

/// Marking a file merged hides it from every list and makes the server
/// carry its records into another file: a device that writes the mark
/// itself, on its own file or a new one, pointing at a file of another
/// territory, is refused, and nothing is carried; the same connection goes
/// on serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_cannot_mark_a_file_merged_into_another() {
    let (tmp, server) = demo();
    let marc = manager_store(&tmp, &server);
    let bruno_file = first_account_of(&marc, BRUNO);
    let (device, token) = raw_login(&server, ALICE).await;
    let (mut r, _) = session(&server, device, &token).await;
    let (own, mut am) = create_own(&mut r).await;
    let base = am.get_heads();
    let account = match am.get(ROOT, "account").unwrap() {
        Some((_, o)) => o,
        None => panic!("no account map"),
    };
    let mark = |am: &mut AutoCommit| {
        let account = match am.get(ROOT, "account").unwrap() {
            Some((_, o)) => o,
            None => panic!("no account map"),
        };
        am.put(&account, "merged_into", bruno_file.to_string())
            .unwrap();
        am.put(&account, "merged_heads", "").unwrap();
        am.commit();
    };
    // On an existing file of hers.
    let mut forged = am.fork();
    mark(&mut forged);
    let reply = up(
        &mut r,
        own,
        hashes(&forged.get_heads()),
        forged.save_after(&base),
    )
    .await;
    let reason = rejection(&reply, own).unwrap_or_else(|| panic!("accepted: {reply:?}"));
    assert!(reason.contains("read-only"), "{reason}");
    // On a file she creates with the mark.
    let new = DocId::new();
    let mut fresh = forged_account(new, ALICE, "75011");
    mark(&mut fresh);
    let reply = up(&mut r, new, hashes(&fresh.get_heads()), fresh.save()).await;
    let reason = rejection(&reply, new).unwrap_or_else(|| panic!("accepted: {reply:?}"));
    assert!(reason.contains("only the server merges"), "{reason}");
    // Her honest edit on the same connection is taken.
    am.put(&account, "city", "Paris").unwrap();
    am.commit();
    let reply = up(&mut r, own, hashes(&am.get_heads()), am.save_after(&base)).await;
    assert!(acked(&reply, own), "{reply:?}");
    // Bruno's file holds nothing of hers.
    ok(&marc, &["sync"]);
    let shown = json(
        &marc,
        &["account", "show", &bruno_file.to_string(), "--json"],
    );
    assert!(!shown.to_string().contains(&own.to_string()));
}
