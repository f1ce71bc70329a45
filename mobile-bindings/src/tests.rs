//! The client's own behaviour, in Rust (the Kotlin and Swift suites cover
//! the same API through the generated bindings and a real server).

use std::sync::{Arc, Mutex};

use crate::*;

fn client(dir: &std::path::Path) -> Arc<CarnetClient> {
    CarnetClient::create_local(
        dir.to_string_lossy().into_owned(),
        "rep@example.fr".into(),
        Some("Rep".into()),
        "Acme SARL".into(),
    )
    .expect("local store")
}

/// Records what it hears and reads the client back from inside the
/// callback, as a screen refreshing itself would.
struct Screen {
    client: Mutex<Option<Arc<CarnetClient>>>,
    changed: Mutex<Vec<Vec<String>>>,
    seen_accounts: Mutex<Vec<usize>>,
}

impl ChangeListener for Screen {
    fn on_changed(&self, docs: Vec<String>) -> Result<(), CarnetError> {
        if let Some(c) = self.client.lock().expect("lock").as_ref() {
            let n = c.search_accounts(String::new(), 100)?.len();
            self.seen_accounts.lock().expect("lock").push(n);
        }
        self.changed.lock().expect("lock").push(docs);
        Ok(())
    }
}

struct Statuses(Mutex<Vec<SyncStatus>>);

impl SyncStatusListener for Statuses {
    fn on_status(&self, status: SyncStatus) -> Result<(), CarnetError> {
        self.0.lock().expect("lock").push(status);
        Ok(())
    }
}

#[test]
fn listeners_hear_local_edits_and_may_call_back_into_the_client() {
    let tmp = tempfile::tempdir().expect("tmp");
    let c = client(tmp.path());
    let screen = Arc::new(Screen {
        client: Mutex::new(Some(c.clone())),
        changed: Mutex::default(),
        seen_accounts: Mutex::default(),
    });
    let id = c.add_change_listener(screen.clone());
    let account = c
        .create_account(NewAccount {
            name: "Garage Dupont".into(),
            ..NewAccount::default()
        })
        .expect("account");
    c.add_note(account.clone(), "Rappeler lundi".into())
        .expect("note");
    assert_eq!(
        *screen.changed.lock().expect("lock"),
        vec![vec![account.clone()], vec![account.clone()]]
    );
    assert_eq!(*screen.seen_accounts.lock().expect("lock"), vec![1, 1]);

    // A refused edit tells nobody: nothing changed.
    let err = c
        .set_account_field(account.clone(), "status".into(), "bogus".into())
        .expect_err("refused");
    assert!(matches!(err, CarnetError::Invalid { .. }), "{err:?}");
    assert_eq!(screen.changed.lock().expect("lock").len(), 2);

    assert!(c.remove_listener(id));
    c.add_note(account, "encore".into()).expect("note");
    assert_eq!(screen.changed.lock().expect("lock").len(), 2);
    // Break the cycle client → listener → client.
    screen.client.lock().expect("lock").take();
}

#[test]
fn status_listener_starts_with_the_current_status() {
    let tmp = tempfile::tempdir().expect("tmp");
    let c = client(tmp.path());
    let statuses = Arc::new(Statuses(Mutex::default()));
    c.add_sync_status_listener(statuses.clone());
    let first = statuses.0.lock().expect("lock")[0].clone();
    assert_eq!(first.phase, SyncPhase::Offline);
    assert!(!first.background);
    // An offline-only store has no server: sync is refused with a typed error.
    let err = c.start_background_sync().expect_err("no server");
    assert!(matches!(err, CarnetError::NotLoggedIn { .. }), "{err:?}");
}

#[test]
fn a_visit_report_is_one_change_with_its_follow_up() {
    let tmp = tempfile::tempdir().expect("tmp");
    let c = client(tmp.path());
    let account = c
        .create_account(NewAccount {
            name: "Boulangerie Martin".into(),
            ..NewAccount::default()
        })
        .expect("account");
    let before = c.history(account.clone()).expect("history").len();
    c.log_visit(
        account.clone(),
        VisitReport {
            subject: "Présentation".into(),
            outcome: "Devis demandé".into(),
            follow_up: Some(NewAction {
                action_type: "call".into(),
                subject: "Relancer".into(),
                due: "2030-01-15".into(),
                ..NewAction::default()
            }),
            ..VisitReport::default()
        },
    )
    .expect("visit");
    let history = c.history(account.clone()).expect("history");
    assert_eq!(history.len(), before + 1, "one change for the whole report");
    let file = c.account_file(account.clone()).expect("file");
    assert_eq!(file.actions.len(), 2);
    let visit = file
        .actions
        .iter()
        .find(|a| a.action_type == "visit")
        .expect("visit");
    assert!(visit.done_on.is_some());
    assert_eq!(visit.outcome, "Devis demandé");

    // A bad follow-up refuses the whole report: nothing is written.
    let err = c
        .log_visit(
            account.clone(),
            VisitReport {
                subject: "Deuxième".into(),
                outcome: "ok".into(),
                follow_up: Some(NewAction {
                    action_type: "call".into(),
                    subject: "x".into(),
                    due: "31/12/2030".into(),
                    ..NewAction::default()
                }),
                ..VisitReport::default()
            },
        )
        .expect_err("bad date");
    assert!(matches!(err, CarnetError::Invalid { .. }), "{err:?}");
    assert_eq!(c.account_file(account).expect("file").actions.len(), 2);
}

#[test]
fn errors_are_typed_and_french_first() {
    let tmp = tempfile::tempdir().expect("tmp");
    let c = client(tmp.path());
    match c.account_file("nope".into()) {
        Err(CarnetError::NotFound { reason_fr, .. }) => assert!(reason_fr.contains("introuvable")),
        other => panic!("{other:?}"),
    }
    match c.variance("2026-13".into(), None) {
        Err(CarnetError::Invalid { reason_fr, .. }) => assert!(!reason_fr.is_empty()),
        other => panic!("{other:?}"),
    }
    // Nothing refused: nothing to revert.
    let err = c.revert(uuid::Uuid::new_v4().to_string());
    assert!(matches!(err, Err(CarnetError::Invalid { .. })), "{err:?}");
}

#[test]
fn a_dropped_client_releases_its_store() {
    let tmp = tempfile::tempdir().expect("tmp");
    let c = client(tmp.path());
    let id = c
        .create_account(NewAccount {
            name: "Garage Dupont".into(),
            ..NewAccount::default()
        })
        .expect("account");
    drop(c);
    let again = CarnetClient::new(tmp.path().to_string_lossy().into_owned()).expect("reopen");
    assert_eq!(
        again.account_file(id).expect("file").account.name,
        "Garage Dupont"
    );
    // A second client on the same store while one is open: a typed error.
    let err = CarnetClient::new(tmp.path().to_string_lossy().into_owned()).err();
    assert!(matches!(err, Some(CarnetError::Storage { .. })), "{err:?}");
}

/// `wss://` goes through rustls with ring, and a certificate no public root
/// vouches for is refused with a typed network error (not a panic, not a
/// silent plain-text fallback). The TLS peer is Debian's `openssl s_server`
/// with a fresh self-signed certificate.
#[test]
fn https_servers_are_reached_through_rustls_and_untrusted_certificates_refused() {
    use std::process::{Command, Stdio};
    let tmp = tempfile::tempdir().expect("tmp");
    let (key, cert) = (tmp.path().join("key.pem"), tmp.path().join("cert.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl is installed (Debian's openssl package)");
    assert!(made.success());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut server = Command::new("openssl")
        .args(["s_server", "-quiet", "-accept", &port.to_string(), "-key"])
        .arg(&key)
        .arg("-cert")
        .arg(&cert)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server");
    // Wait for it to listen.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "s_server did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let c =
        CarnetClient::new(tmp.path().join("store").to_string_lossy().into_owned()).expect("client");
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let err = rt
        .block_on(c.login(
            format!("https://localhost:{port}"),
            "alice@demo.carnet.fr".into(),
            "carnet-demo".into(),
            "test".into(),
        ))
        .expect_err("self-signed certificate");
    let _ = server.kill();
    let _ = server.wait();
    match &err {
        CarnetError::Network { reason, .. } => {
            assert!(
                reason.to_lowercase().contains("certificate") || reason.contains("UnknownIssuer"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(!c.is_logged_in());
}

#[test]
fn a_quote_is_refused_until_its_legal_mentions_are_there_then_sent() {
    let tmp = tempfile::tempdir().expect("tmp");
    let c = client(tmp.path());
    let acc = c
        .create_account(NewAccount {
            name: "Garage Dupont".into(),
            address_line1: Some("3 avenue Foch".into()),
            postcode: Some("69006".into()),
            city: Some("Lyon".into()),
            siret: Some("73282932000074".into()),
            ..NewAccount::default()
        })
        .expect("account");
    let q = c
        .create_quote(
            acc,
            NewQuote {
                payment_terms: Some("à réception".into()),
                ..NewQuote::default()
            },
        )
        .expect("quote");
    c.add_quote_line(
        q.clone(),
        NewQuoteLine {
            qty: "2".into(),
            label: Some("Révision".into()),
            unit_price: Some("80".into()),
            vat_rate: Some("20".into()),
            ..NewQuoteLine::default()
        },
    )
    .expect("line");
    let missing = c.quote_missing_mentions(q.clone()).expect("mentions");
    assert!(
        missing.iter().any(|m| m.contains("forme juridique")),
        "{missing:?}"
    );
    match c.send_quote(q.clone()) {
        Err(CarnetError::Invalid { reason_fr, .. }) => {
            assert!(reason_fr.contains("il manque"), "{reason_fr}");
            assert!(reason_fr.contains("capital social"), "{reason_fr}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.quote(q.clone()).expect("quote").status_label, "brouillon");
    // The company's mentions (an admin sets them; a local store may).
    c.with(|d| {
        for (k, v) in carnet_core::legal::EXAMPLE_SELLER {
            d.set_company_field(k, v)?;
        }
        Ok(())
    })
    .expect("company");
    assert!(c
        .quote_missing_mentions(q.clone())
        .expect("mentions")
        .is_empty());
    c.send_quote(q.clone()).expect("send");
    let sent = c.quote(q).expect("quote");
    assert_eq!(
        (
            sent.status.as_str(),
            sent.status_label.as_str(),
            sent.status_label_en.as_str()
        ),
        ("sent", "envoyé", "sent")
    );
    assert_eq!(sent.payment_terms, "à réception");
    let pdf = c.quote_pdf(sent.id.clone(), false).expect("pdf");
    assert!(pdf.starts_with(b"%PDF-"), "a PDF");
    assert_ne!(
        pdf,
        c.quote_pdf(sent.id, true).expect("pdf"),
        "French and English differ"
    );
    let todo = c.todo_pdf(None, false, false).expect("todo pdf");
    assert!(todo.starts_with(b"%PDF-"), "a PDF");
    assert!(matches!(
        c.todo_pdf(Some("2026-13-01".into()), false, false),
        Err(CarnetError::Invalid { .. })
    ));
}
