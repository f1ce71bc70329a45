//! End to end: a quote written and sent offline from the `carnet` CLI
//! leaves through a real SMTP server on loopback (Debian's aiosmtpd,
//! `tests/smtp/sink.py`) once the rep syncs, with its PDF attached, exactly
//! once; the result comes back to the device. A server killed after the
//! mail server took the message sends it again with the same Message-ID,
//! never a third time; a refusing or unreachable mail server gives retries
//! then a failure the device sees; an opted-out contact gets nothing. A
//! mail server requiring STARTTLS gets nothing until its certificate is
//! trusted, then the message over TLS; settings written while the server
//! runs take effect without a restart.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use carnet_tests::harness::{bin, carnet, json, login, ok, Server};
use carnet_tests::smtp::{pdf_text, Sink};
use serde_json::Value;
use tempfile::TempDir;

const PASSWORD: &str = "carnet-demo";
const ALICE: &str = "alice@demo.carnet.fr";

struct World {
    tmp: TempDir,
    server: Server,
    sink: Sink,
    alice: PathBuf,
}

/// `carnet-server mail set` to the sink on `port`, with `security`
/// (`none`, `starttls`) and `extra` options.
fn mail_set(data: &Path, port: u16, security: &str, extra: &[&str]) {
    let port = port.to_string();
    let mut args = vec![
        "mail",
        "set",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--security",
        security,
        "--from",
        "Démo Carnet <devis@demo.example>",
    ];
    args.extend_from_slice(extra);
    let out = Command::new(bin("carnet-server"))
        .arg("--data")
        .arg(data)
        .args(&args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The demo tenant, its mail server set to a sink, and Alice's device.
fn world(extra: &[&str]) -> World {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("server");
    Server::demo(&data);
    let sink = Sink::start(&tmp.path().join("sink"));
    mail_set(&data, sink.port, "none", extra);
    let server = Server::start(&data, "127.0.0.1:0");
    let alice = tmp.path().join("alice");
    login(&alice, &server.url, ALICE, PASSWORD);
    ok(&alice, &["sync"]);
    World {
        tmp,
        server,
        sink,
        alice,
    }
}

fn first_account(store: &Path) -> String {
    let list = json(store, &["account", "list", "--json"]);
    list[0]["id"].as_str().unwrap().to_string()
}

/// A quote with every legal mention (the demo's company and accounts have
/// theirs): one line, 2 × 450,00 € at 20 %.
fn quote(store: &Path, account: &str) -> String {
    let q = ok(
        store,
        &["quote", "add", account, "--valid-until", "2026-12-31"],
    );
    ok(
        store,
        &[
            "quote",
            "line",
            &q,
            "--label",
            "Audit réseau",
            "--qty",
            "2",
            "--unit-price",
            "450",
        ],
    );
    q
}

fn outbox(store: &Path) -> Vec<Value> {
    json(store, &["outbox", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["email"].clone())
        .collect()
}

fn email(store: &Path, id: &str) -> Value {
    outbox(store)
        .into_iter()
        .find(|e| e["id"] == id)
        .unwrap_or_else(|| panic!("message {id} not in the outbox"))
}

/// Syncs until message `id` has left the `queued` state; returns it.
fn settled(store: &Path, id: &str, within: Duration) -> Value {
    sync_until(store, id, within, |e| e["status"] != "queued")
}

/// Syncs until message `id` satisfies `done` (or `within` passes);
/// returns it.
fn sync_until(store: &Path, id: &str, within: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + within;
    loop {
        ok(store, &["sync"]);
        let e = email(store, id);
        if done(&e) || Instant::now() > deadline {
            return e;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_quote_sent_offline_leaves_once_with_its_pdf_and_opted_out_contacts_get_nothing() {
    let w = world(&["--retry-secs", "1"]);
    // A price list in the library, for everyone: Alice attaches it too.
    let tarifs = w.tmp.path().join("tarifs.pdf");
    std::fs::write(&tarifs, b"%PDF-1.7 tarifs joints").unwrap();
    let added = w.server.admin(
        &[
            "library",
            "add",
            tarifs.to_str().unwrap(),
            "--title",
            "Tarifs",
        ],
        None,
    );
    assert!(added.status.success());
    ok(&w.alice, &["sync"]);
    let acc = first_account(&w.alice);
    let q = quote(&w.alice, &acc);
    // Offline: nothing reaches the server before the next sync.
    let id = ok(
        &w.alice,
        &[
            "quote",
            "send",
            &q,
            "--to",
            "client@example.com",
            "--message",
            "Bonjour, voici notre devis.",
            "--attach",
            "Tarifs",
        ],
    );
    let queued = email(&w.alice, &id);
    assert_eq!(queued["status"], "queued");
    assert_eq!(queued["to"], "client@example.com");
    assert!(w.sink.messages().is_empty());

    ok(&w.alice, &["sync"]);
    let got = w.sink.wait_for(1, Duration::from_secs(20));
    assert_eq!(got.len(), 1, "the message did not leave");
    let m = &got[0];
    let final_number = json(&w.alice, &["quote", "show", &q, "--json"])["number"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        !final_number.contains("-P"),
        "still provisional: {final_number}"
    );
    assert_eq!(
        m.header("X-Envelope-To").as_deref(),
        Some("client@example.com")
    );
    assert_eq!(m.header("Message-ID"), Some(format!("<{id}@demo.example>")));
    assert_eq!(m.header("Reply-To").as_deref(), Some(ALICE));
    assert!(m.header("Subject").unwrap().contains(&final_number));
    assert!(m.0.contains("Bonjour, voici notre devis."));
    let pdf = m.attachment("application/pdf").expect("a PDF attached");
    assert!(pdf.starts_with(b"%PDF-"));
    let text = pdf_text(&pdf);
    assert!(text.contains(&final_number), "{text}");
    assert!(text.contains("Audit réseau"), "{text}");
    assert!(
        text.contains("1,080.00") || text.contains("1 080,00"),
        "{text}"
    );
    assert!(
        m.0.contains("filename=\"tarifs.pdf\""),
        "the library document is attached"
    );

    // The result comes back to the device.
    let sent = settled(&w.alice, &id, Duration::from_secs(20));
    assert_eq!(sent["status"], "sent", "{sent}");
    assert_eq!(sent["message_id"], format!("<{id}@demo.example>"));
    assert!(sent["sent_at"].as_i64().unwrap() > 0);
    assert_eq!(
        json(&w.alice, &["quote", "show", &q, "--json"])["status"],
        "sent"
    );

    // A contact who said no to prospecting email: refused on the device...
    let c = ok(
        &w.alice,
        &[
            "contact",
            "add",
            &acc,
            "--name",
            "Paul Refus",
            "--email",
            "paul@example.com",
        ],
    );
    ok(&w.alice, &["contact", "set", &c, "consent_email", "no"]);
    let q2 = quote(&w.alice, &acc);
    let out = carnet(
        &w.alice,
        &["quote", "send", &q2, "--to", "PAUL@example.com"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Paul Refus") && err.contains("refused prospecting email"),
        "{err}"
    );
    // ...and by the server, when the refusal reaches it with the message
    // (queued while consent was unknown, refused before the sync).
    let c2 = ok(
        &w.alice,
        &[
            "contact",
            "add",
            &acc,
            "--name",
            "Léa Tardive",
            "--email",
            "lea@example.com",
        ],
    );
    let late = ok(&w.alice, &["quote", "send", &q2, "--to", "lea@example.com"]);
    ok(&w.alice, &["contact", "set", &c2, "consent_email", "no"]);
    ok(&w.alice, &["sync"]);
    let refused = settled(&w.alice, &late, Duration::from_secs(20));
    assert_eq!(refused["status"], "failed", "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("Léa Tardive"),
        "{refused}"
    );

    // Exactly once, and nothing to the opted-out.
    std::thread::sleep(Duration::from_secs(2));
    let all = w.sink.messages();
    assert_eq!(all.len(), 1, "sent more than once");
    drop(w.tmp);
}

#[test]
fn a_server_killed_after_the_mail_server_took_it_resends_with_the_same_message_id() {
    let mut w = world(&["--retry-secs", "1"]);
    let acc = first_account(&w.alice);
    let q = quote(&w.alice, &acc);
    let id = ok(
        &w.alice,
        &["quote", "send", &q, "--to", "client@example.com"],
    );
    // The sink stores the message, then kills the server before answering.
    w.sink
        .set_mode(&format!("kill {}", w.server.pid().expect("server pid")));
    // The mailer starts as soon as the message is stored, so the kill may
    // land before the sync's last exchange: then the sync fails on the
    // transport, and the message is on the server all the same.
    let out = carnet(&w.alice, &["sync"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() || err.contains("transport"), "{err}");
    let first = w.sink.wait_for(1, Duration::from_secs(20));
    assert_eq!(first.len(), 1);
    w.server.kill9();
    w.server.restart();
    let both = w.sink.wait_for(2, Duration::from_secs(20));
    assert_eq!(both.len(), 2, "not sent again after the crash");
    let want = Some(format!("<{id}@demo.example>"));
    assert_eq!(both[0].header("Message-ID"), want);
    assert_eq!(both[1].header("Message-ID"), want);
    let sent = settled(&w.alice, &id, Duration::from_secs(20));
    assert_eq!(sent["status"], "sent", "{sent}");
    // Never a third time, even after another restart.
    w.server.kill9();
    w.server.restart();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(w.sink.messages().len(), 2, "sent a third time");
}

#[test]
fn a_refusing_then_unreachable_mail_server_ends_in_a_failure_the_device_sees() {
    let mut w = world(&["--retry-secs", "1", "--max-attempts", "3"]);
    let acc = first_account(&w.alice);
    w.sink.set_mode("tempfail");
    let q = quote(&w.alice, &acc);
    let id = ok(
        &w.alice,
        &["quote", "send", &q, "--to", "client@example.com"],
    );
    ok(&w.alice, &["sync"]);
    let failed = settled(&w.alice, &id, Duration::from_secs(30));
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["attempts"], 3, "{failed}");
    assert!(
        failed["error"].as_str().unwrap().contains("451"),
        "{failed}"
    );
    assert!(w.sink.messages().is_empty());

    // No mail server at all (the configured port closes): the same, with
    // the connection's error.
    drop(std::mem::replace(
        &mut w.sink,
        Sink::start(&w.tmp.path().join("other-sink")),
    ));
    let q2 = quote(&w.alice, &acc);
    let id2 = ok(
        &w.alice,
        &["quote", "send", &q2, "--to", "client@example.com"],
    );
    ok(&w.alice, &["sync"]);
    let unreachable = settled(&w.alice, &id2, Duration::from_secs(30));
    assert_eq!(unreachable["status"], "failed", "{unreachable}");
    assert_eq!(unreachable["attempts"], 3);
    assert!(!unreachable["error"].as_str().unwrap().is_empty());
    // The server kept serving throughout.
    ok(&w.alice, &["sync"]);
}

#[test]
fn mail_settings_written_while_the_server_runs_send_what_was_waiting() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("server");
    Server::demo(&data);
    let sink = Sink::start(&tmp.path().join("sink"));
    let server = Server::start(&data, "127.0.0.1:0");
    let alice = tmp.path().join("alice");
    login(&alice, &server.url, ALICE, PASSWORD);
    ok(&alice, &["sync"]);
    let q = quote(&alice, &first_account(&alice));
    let id = ok(&alice, &["quote", "send", &q, "--to", "client@example.com"]);
    // No mail server set: the message waits, queued, on the server too.
    ok(&alice, &["sync"]);
    std::thread::sleep(Duration::from_secs(2));
    ok(&alice, &["sync"]);
    assert_eq!(email(&alice, &id)["status"], "queued");
    assert!(sink.messages().is_empty());

    mail_set(&data, sink.port, "none", &[]);
    // Picked up within seconds, without a restart.
    let sent = settled(&alice, &id, Duration::from_secs(30));
    assert_eq!(sent["status"], "sent", "{sent}");
    assert_eq!(sink.wait_for(1, Duration::from_secs(10)).len(), 1);
    drop(server);
}

/// A certificate authority and a certificate for 127.0.0.1 it signed
/// (Debian's openssl): (ca.pem, cert.pem, key.pem).
fn private_ca(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("openssl (Debian's openssl package)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Carnet test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "key.pem",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "cert.pem",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    )
}

#[test]
fn a_mail_server_requiring_starttls_gets_the_message_once_its_certificate_is_trusted() {
    let tmp = tempfile::tempdir().unwrap();
    let (ca, cert, key) = private_ca(tmp.path());
    let data = tmp.path().join("server");
    Server::demo(&data);
    let sink = Sink::start_tls(&tmp.path().join("sink"), &cert, &key);
    // STARTTLS required, the certificate checked against the usual roots
    // only: the private CA is unknown, so nothing is sent in clear or to
    // an unverified server; the message waits with the reason.
    mail_set(
        &data,
        sink.port,
        "starttls",
        &["--retry-secs", "1", "--max-attempts", "50"],
    );
    let server = Server::start(&data, "127.0.0.1:0");
    let alice = tmp.path().join("alice");
    login(&alice, &server.url, ALICE, PASSWORD);
    ok(&alice, &["sync"]);
    let q = quote(&alice, &first_account(&alice));
    let id = ok(&alice, &["quote", "send", &q, "--to", "client@example.com"]);
    let waiting = sync_until(&alice, &id, Duration::from_secs(30), |e| {
        !e["error"].is_null()
    });
    assert_ne!(waiting["status"], "sent", "{waiting}");
    let why = waiting["error"].as_str().unwrap_or_default();
    assert!(
        why.contains("UnknownIssuer"),
        "the reason is recorded: {waiting}"
    );
    assert!(sink.messages().is_empty());

    // With the company's CA trusted (read by the running server), it
    // leaves over TLS.
    let ca = ca.to_str().unwrap();
    mail_set(
        &data,
        sink.port,
        "starttls",
        &["--retry-secs", "1", "--max-attempts", "50", "--ca-file", ca],
    );
    let sent = sync_until(&alice, &id, Duration::from_secs(60), |e| {
        e["status"] == "sent"
    });
    assert_eq!(sent["status"], "sent", "{sent}");
    assert_eq!(sink.wait_for(1, Duration::from_secs(10)).len(), 1);
    drop(server);
}
