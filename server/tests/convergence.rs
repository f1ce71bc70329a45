//! Convergence as a property: random offline edits on several devices,
//! random sync orders and device restarts, all through the real server
//! session code over in-memory connections. At the end every replica is
//! identical and holds every change any device made.

use std::sync::Arc;

use automerge::ChangeHash;
use carnet_core::device::Remote;
use carnet_core::sync::{ClientSession, Frame, Replica};
use carnet_core::{Device, DocId};
use carnet_server::session::{self, Limits, WireIn};
use carnet_server::tenant::Tenant;
use proptest::prelude::*;
use tokio::sync::mpsc;

const USERS: [&str; 3] = ["alice@x.fr", "bob@x.fr", "marc@x.fr"];

struct Client {
    dir: tempfile::TempDir,
    device: Option<Device>,
}

async fn tenant(dir: &std::path::Path) -> Arc<Tenant> {
    let t = Tenant::create(dir, "Test", "admin@x.fr", None, "password1")
        .await
        .unwrap();
    t.add_user("marc@x.fr", "manager", None, None, "password1")
        .await
        .unwrap();
    t.add_user("alice@x.fr", "rep", Some("marc@x.fr"), None, "password1")
        .await
        .unwrap();
    t.add_user("bob@x.fr", "rep", Some("marc@x.fr"), None, "password1")
        .await
        .unwrap();
    t.add_territory(
        "Paris",
        &["75".into()],
        &["alice@x.fr".into(), "bob@x.fr".into()],
    )
    .await
    .unwrap();
    t
}

/// One sync session over in-memory channels, until the client is idle.
async fn sync(tenant: &Arc<Tenant>, device: &mut Device) {
    let (to_server, from_client) = mpsc::unbounded_channel::<WireIn>();
    let (to_client, mut from_server) = mpsc::unbounded_channel::<Vec<u8>>();
    let input = futures_util::stream::unfold(from_client, |mut rx| async move {
        rx.recv().await.map(|m| (m, rx))
    });
    let sink = futures_util::sink::unfold(to_client, |tx, bytes: Vec<u8>| async move {
        tx.send(bytes).map_err(|_| ())?;
        Ok::<_, ()>(tx)
    });
    let server = tokio::spawn(session::run(
        tenant.clone(),
        Limits::default(),
        None,
        Box::pin(input),
        Box::pin(sink),
    ));
    let mut s = ClientSession::new();
    to_server
        .send(WireIn::Frame(s.hello(device).unwrap().encode()))
        .unwrap();
    while !s.is_idle() {
        let bytes = from_server.recv().await.expect("server frame");
        let frame = Frame::decode(&bytes).unwrap();
        assert!(!matches!(frame, Frame::Error { .. }), "{frame:?}");
        for reply in s.handle(device, frame).unwrap() {
            to_server.send(WireIn::Frame(reply.encode())).unwrap();
        }
    }
    to_server.send(WireIn::Closed).unwrap();
    server.await.unwrap();
    // Drain anything left (pings, late Changed).
    while from_server.try_recv().is_ok() {}
}

/// The device's customer files, in a stable order.
fn accounts(d: &Device) -> Vec<DocId> {
    let mut v: Vec<DocId> = d.search("", 1000).into_iter().map(|h| h.id).collect();
    v.sort();
    v
}

#[derive(Clone, Debug)]
enum Op {
    NewAccount(usize),
    Edit(usize, usize, u8, u8),
    Note(usize, usize),
    Sync(usize),
    Restart(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize).prop_map(Op::NewAccount),
        (0..3usize, 0..6usize, 0..3u8, 0..4u8).prop_map(|(d, a, f, v)| Op::Edit(d, a, f, v)),
        (0..3usize, 0..6usize).prop_map(|(d, a)| Op::Note(d, a)),
        (0..3usize).prop_map(Op::Sync),
        (0..3usize).prop_map(Op::Restart),
    ]
}

fn run_schedule(ops: Vec<Op>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let server_dir = tempfile::tempdir().unwrap();
        let t = tenant(server_dir.path()).await;
        let mut clients = Vec::new();
        for u in USERS {
            let (rec, token) = t.login(u, "password1", "test", None).await.unwrap();
            let dir = tempfile::tempdir().unwrap();
            let mut d = Device::init_remote(
                dir.path(),
                u,
                t.info.id,
                Remote {
                    url: "memory".into(),
                    device: rec.device,
                    token,
                },
            )
            .unwrap();
            sync(&t, &mut d).await;
            clients.push(Client {
                dir,
                device: Some(d),
            });
        }
        let mut made: Vec<(DocId, ChangeHash)> = Vec::new();
        let cities = ["Paris", "Lyon", "Nantes", "Lille"];
        let fields = ["city", "phone", "website"];
        for op in ops {
            match op {
                Op::NewAccount(c) => {
                    let d = clients[c].device.as_mut().unwrap();
                    let id = d
                        .create_account(&[
                            ("name", "Acme".to_string()),
                            ("postcode", "75011".to_string()),
                        ])
                        .unwrap();
                    made.push((id, d.heads(id).unwrap()[0]));
                }
                Op::Edit(c, a, f, v) => {
                    let d = clients[c].device.as_mut().unwrap();
                    let accounts = accounts(d);
                    if let Some(id) = accounts.get(a % accounts.len().max(1)) {
                        let value = match f {
                            0 => cities[v as usize].to_string(),
                            1 => format!("01 00 00 00 0{v}"),
                            _ => format!("site{v}.fr"),
                        };
                        d.set_field(*id, &format!("account/{}", fields[f as usize]), &value)
                            .unwrap();
                        made.push((*id, d.heads(*id).unwrap()[0]));
                    }
                }
                Op::Note(c, a) => {
                    let d = clients[c].device.as_mut().unwrap();
                    let accounts = accounts(d);
                    if let Some(id) = accounts.get(a % accounts.len().max(1)) {
                        d.add_note(*id, "visite").unwrap();
                        made.push((*id, d.heads(*id).unwrap()[0]));
                    }
                }
                Op::Sync(c) => sync(&t, clients[c].device.as_mut().unwrap()).await,
                Op::Restart(c) => {
                    // An app closing its client and opening it again at once.
                    if let Some(d) = clients[c].device.take() {
                        d.close().unwrap();
                    }
                    clients[c].device = Some(Device::open(clients[c].dir.path()).unwrap());
                }
            }
        }
        for _ in 0..2 {
            for c in clients.iter_mut() {
                sync(&t, c.device.as_mut().unwrap()).await;
            }
        }
        let devices: Vec<&Device> = clients.iter().map(|c| c.device.as_ref().unwrap()).collect();
        let ids0 = accounts(devices[0]);
        for d in &devices {
            assert_eq!(
                accounts(d),
                ids0,
                "every device holds the same customer files"
            );
            assert!(d.sync_status().unwrap().pending.is_empty());
            assert!(d.index().same_as(&d.rebuild_index().unwrap()));
        }
        for id in &ids0 {
            let mut heads: Vec<Vec<ChangeHash>> = devices
                .iter()
                .map(|d| {
                    let mut h = d.heads(*id).unwrap();
                    h.sort();
                    h
                })
                .collect();
            heads.dedup();
            assert_eq!(heads.len(), 1, "replicas of {id} differ");
            let rows: Vec<_> = devices
                .iter()
                .map(|d| d.index().get(*id).cloned())
                .collect();
            assert!(rows.iter().all(|r| r == &rows[0]));
        }
        for (id, hash) in made {
            for d in &devices {
                let mut doc = d.load(id).unwrap();
                assert!(
                    doc.automerge().get_change_by_hash(&hash).is_some(),
                    "change {hash} of {id} lost"
                );
            }
        }
    });
}

/// 32 cases in the suite; `CARNET_CONVERGENCE_CASES=10000` for a long run.
fn cases() -> u32 {
    std::env::var("CARNET_CONVERGENCE_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(32)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), .. ProptestConfig::default() })]

    #[test]
    fn replicas_converge_and_keep_every_change(ops in prop::collection::vec(op(), 1..30)) {
        run_schedule(ops);
    }
}

#[test]
fn a_fixed_busy_schedule_converges() {
    use Op::*;
    run_schedule(vec![
        NewAccount(0),
        NewAccount(1),
        Sync(0),
        Edit(2, 0, 0, 1),
        Sync(1),
        Edit(0, 0, 0, 2),
        Edit(1, 0, 0, 3),
        Note(1, 1),
        Restart(2),
        Sync(2),
        Edit(2, 1, 1, 0),
        NewAccount(2),
        Sync(0),
        Restart(0),
        Edit(0, 2, 2, 1),
        Sync(1),
        Sync(2),
    ]);
}
