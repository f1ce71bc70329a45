//! The `carnet` binary end to end: a rep's offline session, conflicts
//! between two stores, refused input, and a kill -9 in the middle of writes.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn carnet(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_carnet"))
        .arg("--store")
        .arg(store)
        .args(["--today", "2026-11-26"])
        .args(args)
        .env_remove("CARNET_LANG")
        .output()
        .expect("run carnet")
}

/// Runs and returns trimmed stdout, failing the test on a non-zero exit.
fn ok(store: &Path, args: &[&str]) -> String {
    let out = carnet(store, args);
    assert!(
        out.status.success(),
        "carnet {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn json(store: &Path, args: &[&str]) -> Value {
    serde_json::from_str(&ok(store, args)).unwrap()
}

#[test]
fn a_rep_works_offline_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path();
    ok(
        s,
        &["init", "--user", "marie@exemple.fr", "--name", "Marie"],
    );
    let acc = ok(
        s,
        &[
            "account",
            "add",
            "--name",
            "Boulangerie Martin",
            "--status",
            "client",
            "--siret",
            "73282932000074",
            "--postcode",
            "69003",
            "--city",
            "Lyon",
        ],
    );
    ok(
        s,
        &[
            "account",
            "add",
            "--name",
            "Garage Dupont",
            "--kind",
            "company",
        ],
    );
    let contact = ok(
        s,
        &[
            "contact",
            "add",
            &acc,
            "--name",
            "Jean Martin",
            "--role",
            "Gérant",
        ],
    );
    let deal = ok(
        s,
        &[
            "deal",
            "add",
            &acc,
            "--title",
            "Four",
            "--amount",
            "1234.50",
            "--stage",
            "proposition",
            "--close",
            "2026-12-15",
        ],
    );
    let late = ok(
        s,
        &[
            "action",
            "add",
            &acc,
            "--type",
            "call",
            "--due",
            "2026-11-20",
            "--subject",
            "Relancer",
        ],
    );
    ok(
        s,
        &[
            "action",
            "add",
            &acc,
            "--type",
            "visit",
            "--due",
            "2026-11-28",
            "--subject",
            "Démo",
        ],
    );
    ok(s, &["note", "add", &acc, "Très intéressé par le four."]);
    ok(s, &["account", "set", &acc, "city", "Bron"]);
    ok(s, &["account", "set", &acc, "custom/surface", "120 m2"]);
    ok(s, &["deal", "set", &deal, "probability", "60"]);
    ok(s, &["contact", "set", &contact, "phone", "06 12 34 56 78"]);

    let list = json(s, &["account", "list", "--search", "boulangerie", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], acc.as_str());

    let file = json(s, &["account", "show", &acc, "--json"]);
    assert_eq!(file["account"]["city"], "Bron");
    assert_eq!(file["account"]["custom"]["surface"], "120 m2");
    assert_eq!(file["contacts"][0]["phone"], "06 12 34 56 78");
    assert_eq!(file["deals"][0]["amount"]["cents"], 123450);
    assert_eq!(file["notes"][0]["body"], "Très intéressé par le four.");

    let todo = json(s, &["todo", "--until", "2026-11-30", "--json"]);
    let subjects: Vec<&str> = todo
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, vec!["Relancer", "Démo"]);
    assert_eq!(todo[0]["overdue"], true);
    ok(s, &["action", "done", &late, "--outcome", "Rappeler lundi"]);
    assert_eq!(
        json(s, &["todo", "--until", "2026-11-30", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let p = json(s, &["pipeline", "--json"]);
    assert_eq!(p["open_amount"], 123450);
    assert_eq!(p["open_weighted"], 74070, "60 % override of 1234.50");
    let f = json(s, &["forecast", "--months", "2", "--json"]);
    assert_eq!(f["months"][1]["month"], "2026-12");
    assert_eq!(f["months"][1]["weighted"], 74070);

    let quote = ok(s, &["quote", "add", &acc, "--deal", &deal]);
    ok(
        s,
        &[
            "quote",
            "line",
            &quote,
            "--label",
            "Four mixte",
            "--qty",
            "1",
            "--price",
            "8900",
            "--vat",
            "20",
            "--discount",
            "10",
        ],
    );
    ok(
        s,
        &[
            "quote", "line", &quote, "--label", "Farine", "--qty", "3", "--price", "21,40",
            "--vat", "5.5",
        ],
    );
    let q = json(s, &["quote", "show", &quote, "--json"]);
    assert_eq!(q["totals"]["net"], 807420);
    assert_eq!(q["totals"]["vat"], 160200 + 353);
    assert_eq!(q["totals"]["gross"], 807420 + 160553);
    let text = ok(s, &["quote", "show", &quote]);
    assert!(text.contains("Total TTC"), "{text}");
    // Amounts read as in France: narrow no-break space between thousands,
    // decimal comma, no-break space before the euro sign.
    assert!(text.contains("9\u{202f}679,73\u{a0}€"), "{text}");
    assert!(
        text.contains("brouillon"),
        "the status reads in French: {text}"
    );
    // Sending needs every legal mention: refused in French, with the list,
    // and nothing written.
    let refused = carnet(s, &["quote", "send", &quote]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("il manque"), "{err}");
    assert!(err.contains("forme juridique de l'entreprise"), "{err}");
    let check = ok(s, &["quote", "check", &quote]);
    assert!(check.contains("capital social"), "{check}");
    for (k, v) in [
        ("legal_form", "SARL"),
        ("share_capital", "8000"),
        ("address", "4 rue Mercière"),
        ("postcode", "69002"),
        ("city", "Lyon"),
        ("siren", "732829320"),
        ("rcs_city", "Lyon"),
        ("vat_number", "FR44732829320"),
        ("payment_terms", "30 jours"),
        ("late_penalty_rate", "10"),
    ] {
        ok(s, &["company", "set", k, v]);
    }
    assert!(ok(s, &["company", "show"]).contains("8\u{202f}000,00\u{a0}€"));
    ok(
        s,
        &["account", "set", &acc, "address_line1", "2 rue du Four"],
    );
    assert!(ok(s, &["quote", "check", &quote]).contains("toutes les mentions"));
    assert_eq!(ok(s, &["quote", "send", &quote]), "envoyé");
    assert_eq!(
        json(s, &["quote", "show", &quote, "--json"])["status"],
        "sent"
    );
    // Its PDF and the to-do list's, made offline.
    for (args, file) in [
        (vec!["quote", "pdf", quote.as_str(), "-o"], "devis.pdf"),
        (vec!["todo", "--until", "2026-11-30", "--pdf"], "todo.pdf"),
    ] {
        let path = dir.path().join(file).to_string_lossy().to_string();
        let mut args = args.clone();
        args.push(&path);
        assert_eq!(ok(s, &args), path);
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(b"%PDF-"), "{file}");
    }
    ok(s, &["quote", "accept", &quote]);
    ok(
        s,
        &["target", "set", "--period", "2026-11", "--amount", "5000"],
    );
    ok(
        s,
        &["commission", "tiers", "--tier", "0:3", "--tier", "100:5"],
    );
    let v = json(s, &["target", "show", "--json"]);
    assert_eq!(v["variance"], 807420 - 500000);
    let c = json(s, &["commission", "show", "--period", "2026-11", "--json"]);
    assert_eq!(c["total"], 15000 + 15371);

    let history = json(s, &["account", "history", &acc, "--json"]);
    let city = history
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["changes"].as_array().unwrap().iter().map(move |c| (e, c)))
        .find(|(_, c)| c["path"] == "account/city" && c["old"] == "Lyon")
        .expect("the city change is in the history");
    assert_eq!(city.1["new"], "Bron");
    assert_eq!(city.0["author"], "marie@exemple.fr");

    let verify = json(s, &["debug", "verify"]);
    assert_eq!(verify["index_consistent"], true);
    assert_eq!(verify["accounts"], 2);
}

#[test]
fn refused_input_exits_non_zero_with_a_clear_message_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path();
    ok(s, &["init", "--user", "marie@exemple.fr"]);
    let acc = ok(s, &["account", "add", "--name", "Garage Dupont"]);
    let before = ok(s, &["account", "show", &acc, "--json"]);
    for (args, needle) in [
        (vec!["account", "add", "--name", " "], "vide"),
        (
            vec!["account", "add", "--name", "X", "--siret", "73282932000075"],
            "SIRET",
        ),
        (
            vec!["account", "add", "--name", "X", "--email", "x@"],
            "e-mail",
        ),
        (
            vec!["deal", "add", &acc, "--title", "T", "--amount", "-1"],
            "négatif",
        ),
        (
            vec![
                "deal", "add", &acc, "--title", "T", "--amount", "1", "--stage", "x",
            ],
            "étape inconnue",
        ),
        (
            vec![
                "action",
                "add",
                &acc,
                "--type",
                "call",
                "--due",
                "31/12/2026",
                "--subject",
                "x",
            ],
            "date",
        ),
        (
            vec!["account", "set", &acc, "postcode", "ABC"],
            "code postal",
        ),
        (vec!["account", "show", "not-an-id"], "identifiant"),
    ] {
        let out = carnet(s, &args);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_carnet"))
        .args(["--lang", "en", "--store"])
        .arg(s)
        .args(["account", "add", "--name", "X", "--siret", "1"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a valid SIRET"));
    assert_eq!(ok(s, &["account", "show", &acc, "--json"]), before);
    assert_eq!(
        json(s, &["account", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let missing = tempfile::tempdir().unwrap();
    let out = carnet(&missing.path().join("nothing"), &["todo"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("carnet init"));
}

#[test]
fn conflicting_offline_edits_on_two_stores_are_listed_and_resolved() {
    let a_dir = tempfile::tempdir().unwrap();
    let b_dir = tempfile::tempdir().unwrap();
    let (a, b) = (a_dir.path(), b_dir.path());
    let file = a_dir.path().join("doc.bin");
    let file_s = file.to_str().unwrap();
    ok(a, &["init", "--user", "alice@exemple.fr"]);
    ok(b, &["init", "--user", "bruno@exemple.fr"]);
    let acc = ok(
        a,
        &["account", "add", "--name", "Fromagerie", "--city", "Lyon"],
    );
    ok(a, &["debug", "export", &acc, file_s]);
    ok(b, &["debug", "import", &acc, file_s]);

    ok(a, &["account", "set", &acc, "phone", "04 00 00 00 01"]);
    ok(b, &["account", "set", &acc, "phone", "04 00 00 00 02"]);
    ok(b, &["account", "set", &acc, "city", "Bron"]);
    ok(a, &["debug", "export", &acc, file_s]);
    ok(b, &["debug", "import", &acc, file_s]);
    ok(b, &["debug", "export", &acc, file_s]);
    ok(a, &["debug", "import", &acc, file_s]);

    for s in [a, b] {
        let c = json(s, &["conflicts", "--json"]);
        assert_eq!(c.as_array().unwrap().len(), 1, "one conflict on each side");
        assert_eq!(c[0]["path"], "account/phone");
        let mut authors: Vec<&str> = c[0]["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["author"].as_str().unwrap())
            .collect();
        authors.sort();
        assert_eq!(authors, vec!["alice@exemple.fr", "bruno@exemple.fr"]);
        assert_eq!(
            json(s, &["account", "show", &acc, "--json"])["account"]["city"],
            "Bron"
        );
    }
    ok(
        a,
        &[
            "conflict",
            "resolve",
            &acc,
            "account/phone",
            "04 00 00 00 02",
        ],
    );
    assert!(json(a, &["conflicts", "--json"])
        .as_array()
        .unwrap()
        .is_empty());
    ok(a, &["debug", "export", &acc, file_s]);
    ok(b, &["debug", "import", &acc, file_s]);
    assert!(json(b, &["conflicts", "--json"])
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        json(b, &["account", "show", &acc, "--json"])["account"]["phone"],
        "04 00 00 00 02"
    );

    // Corrupt bytes are refused and change nothing.
    std::fs::write(&file, b"\x85\x6f\x4a\x83 not a document").unwrap();
    let out = carnet(b, &["debug", "import", &acc, file_s]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("corrupt"));
}

#[test]
fn every_write_reported_saved_survives_a_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path();
    ok(s, &["init", "--user", "marie@exemple.fr"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_carnet"))
        .arg("--store")
        .arg(s)
        .args(["debug", "write-loop", "--count", "100000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut saved = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while saved.len() < 150 {
        let line = lines.next().expect("writer still running").unwrap();
        saved.push(line.strip_prefix("saved ").unwrap().to_string());
    }
    // SIGKILL mid-batch: no destructor, no flush, no clean shutdown.
    child.kill().unwrap();
    child.wait().unwrap();

    let listed = json(s, &["account", "list", "--limit", "1000000", "--json"]);
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    for id in &saved {
        assert!(
            ids.contains(&id.as_str()),
            "account {id} was reported saved but is gone"
        );
        let file = json(s, &["account", "show", id, "--json"]);
        assert_eq!(
            file["account"]["postcode"], "75011",
            "both writes of {id} are there"
        );
    }
    let verify = json(s, &["debug", "verify"]);
    assert_eq!(verify["index_consistent"], true);
    // The store keeps working after the crash.
    ok(s, &["account", "add", "--name", "Après le crash"]);
}
