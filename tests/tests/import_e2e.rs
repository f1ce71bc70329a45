//! End to end: an admin imports a CSV into a running server
//! (`carnet-server import accounts`), a dry run first; each rep's device
//! then syncs only the imported files of its territory; the CLI warns,
//! offline, about a twin of a file it holds; the tenant-wide duplicate
//! scan finds the pair a rep then made.

use carnet_tests::harness::{carnet, json, login, ok, Server};
use serde_json::Value;

const ALICE: &str = "alice@demo.carnet.fr";
const BRUNO: &str = "bruno@demo.carnet.fr";

fn admin_json(server: &Server, args: &[&str]) -> Value {
    let out = server.admin(args, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn names(store: &std::path::Path) -> Vec<String> {
    json(store, &["account", "list", "--limit", "1000", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn an_admin_import_reaches_each_rep_by_territory_and_twins_are_found() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("server");
    Server::demo(&data);
    let server = Server::start(&data, "127.0.0.1:0");

    let csv = tmp.path().join("clients.csv");
    std::fs::write(
        &csv,
        "Société;Code postal;Ville;Téléphone;Contact;Fonction\r\n\
         Imprimerie Lenoir;75011;Paris;01 43 00 00 01;Paul Lenoir;Gérant\r\n\
         Garage des Pentes;69004;Lyon;04 78 00 00 02;;\r\n\
         IMPRIMERIE LENOIR SARL;75011;Paris;;;\r\n\
         ;75012;Paris;;;\r\n",
    )
    .unwrap();
    let csv = csv.to_str().unwrap();

    let dry = admin_json(&server, &["import", "accounts", csv, "--dry-run", "--json"]);
    assert_eq!(
        (&dry["created"], &dry["duplicates"], &dry["rejected"]),
        (&Value::from(2), &Value::from(1), &Value::from(1)),
        "{dry}"
    );
    let alice = tmp.path().join("alice");
    login(&alice, &server.url, ALICE, "carnet-demo");
    ok(&alice, &["sync"]);
    assert!(!names(&alice).contains(&"Imprimerie Lenoir".to_string()));

    let r = admin_json(&server, &["import", "accounts", csv, "--json"]);
    assert_eq!(
        (&r["created"], &r["duplicates"], &r["rejected"]),
        (&Value::from(2), &Value::from(1), &Value::from(1)),
        "{r}"
    );
    let lines: Vec<(u64, &str)> = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["line"].as_u64().unwrap(), n["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(lines, [(4, "duplicate"), (5, "rejected")]);

    // Each rep gets the files of their territory, with the contact.
    ok(&alice, &["sync"]);
    let a_names = names(&alice);
    assert!(
        a_names.contains(&"Imprimerie Lenoir".to_string()),
        "{a_names:?}"
    );
    assert!(!a_names.contains(&"Garage des Pentes".to_string()));
    let bruno = tmp.path().join("bruno");
    login(&bruno, &server.url, BRUNO, "carnet-demo");
    ok(&bruno, &["sync"]);
    assert!(names(&bruno).contains(&"Garage des Pentes".to_string()));
    let lenoir = json(&alice, &["account", "list", "--search", "Lenoir", "--json"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let file = json(&alice, &["account", "show", &lenoir, "--json"]);
    assert_eq!(file["account"]["phone"], "+33143000001");
    assert_eq!(file["contacts"][0]["role"], "Gérant");

    // Re-importing creates nothing.
    let again = admin_json(&server, &["import", "accounts", csv, "--json"]);
    assert_eq!(again["created"], 0, "{again}");

    // An old export: its fields count as checked on its day, on the device.
    let old = tmp.path().join("old.csv");
    std::fs::write(
        &old,
        "Raison sociale;CP;Ville;Tél.\nVieux Fichier;75012;Paris;01 43 00 00 07\n",
    )
    .unwrap();
    let r = admin_json(
        &server,
        &[
            "import",
            "accounts",
            old.to_str().unwrap(),
            "--verified-on",
            "2024-03-01",
            "--json",
        ],
    );
    assert_eq!(r["created"], 1, "{r}");
    ok(&alice, &["sync"]);
    let hit = json(&alice, &["account", "list", "--json", "--limit", "1000"])
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "Vieux Fichier")
        .cloned()
        .expect("the Paris rep got the old file");
    let file = json(
        &alice,
        &["account", "show", hit["id"].as_str().unwrap(), "--json"],
    );
    assert_eq!(file["account"]["verified_phone"], "2024-03-01", "{file}");
    assert_eq!(file["account"]["verified_address"], "2024-03-01", "{file}");

    // Offline, the CLI names the twin before creating a file; the rep
    // creates it anyway and the tenant-wide scan finds the pair.
    let out = carnet(
        &alice,
        &[
            "--lang",
            "fr",
            "account",
            "add",
            "--name",
            "Lenoir Imprimerie",
            "--postcode",
            "75011",
        ],
    );
    assert!(out.status.success());
    let warning = String::from_utf8_lossy(&out.stderr);
    assert!(
        warning.contains("doublon probable de « Imprimerie Lenoir »")
            && warning.contains("même nom et code postal")
            && warning.contains(&lenoir),
        "{warning}"
    );
    ok(&alice, &["sync"]);
    let scan = admin_json(&server, &["duplicates"]);
    let groups = scan["ok"]["groups"]
        .as_array()
        .or_else(|| scan["groups"].as_array())
        .unwrap();
    assert_eq!(groups.len(), 1, "{scan}");
    assert!(groups[0]["members"]
        .as_array()
        .unwrap()
        .contains(&Value::from(lenoir.as_str())));
}
