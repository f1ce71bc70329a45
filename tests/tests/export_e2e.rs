//! End to end: orders handed to accounting with `carnet-server export
//! orders`, through a running server, as JSON (what an e-invoice needs) and
//! as CSV (one row per order and VAT rate), checked against an order a rep
//! made from the CLI with figures computed by hand.

use carnet_tests::harness::{json, login, ok, Server};
use serde_json::Value;

const ALICE: &str = "alice@demo.carnet.fr";

fn export(server: &Server, period: &str, format: &str) -> String {
    let out = server.admin(
        &["export", "orders", "--period", period, "--format", format],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn cents(s: &Value) -> i64 {
    let s = s.as_str().unwrap();
    let (units, frac) = s.split_once('.').unwrap();
    units.parse::<i64>().unwrap() * 100 + frac.parse::<i64>().unwrap()
}

#[test]
fn orders_export_to_json_and_csv_with_their_vat_per_rate() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("server");
    Server::demo(&data);
    let server = Server::start(&data, "127.0.0.1:0");
    let alice = tmp.path().join("alice");
    login(&alice, &server.url, ALICE, "carnet-demo");
    ok(&alice, &["sync"]);
    let acc = json(&alice, &["account", "list", "--json"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let q = ok(
        &alice,
        &["quote", "add", &acc, "--valid-until", "2026-12-31"],
    );
    // 4 × 30,00 at 5,5 % and 45,00 − 10 % at 20 %.
    ok(
        &alice,
        &[
            "quote",
            "line",
            &q,
            "--label",
            "Comté",
            "--qty",
            "4",
            "--unit-price",
            "30",
            "--vat-rate",
            "5.5",
        ],
    );
    ok(
        &alice,
        &[
            "quote",
            "line",
            &q,
            "--label",
            "Plateau",
            "--qty",
            "1",
            "--unit-price",
            "45",
            "--vat-rate",
            "20",
            "--discount",
            "10",
        ],
    );
    let order = ok(&alice, &["quote", "accept", &q]);
    ok(&alice, &["sync"]);
    let file = json(&alice, &["account", "show", &acc, "--json"]);
    let number = file["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == order.as_str())
        .unwrap()["number"]
        .as_str()
        .unwrap()
        .to_string();
    let period = &file["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == order.as_str())
        .unwrap()["date"]
        .as_str()
        .unwrap()[..7]
        .to_string();

    let all: Value = serde_json::from_str(&export(&server, period, "json")).unwrap();
    assert_eq!(all["period"], period.as_str());
    let orders = all["orders"].as_array().unwrap();
    assert!(!orders.is_empty());
    let mut last = String::new();
    for o in orders {
        // Every order adds up, and sits in the period, in date order.
        let date = o["date"].as_str().unwrap().to_string();
        assert!(date.starts_with(period.as_str()) && date >= last, "{date}");
        last = date;
        let vat: i64 = o["vat_breakdown"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| cents(&v["vat"]))
            .sum();
        assert_eq!(vat, cents(&o["total_vat"]));
        assert_eq!(cents(&o["total_net"]) + vat, cents(&o["total_gross"]));
        assert_eq!(o["seller"]["siren"], "732829320");
        assert_eq!(o["operation_category"], "services");
    }
    let mine = orders
        .iter()
        .find(|o| o["number"] == number.as_str())
        .expect("the new order");
    assert_eq!(mine["total_net"], "160.50");
    assert_eq!(mine["total_gross"], "175.20");
    assert_eq!(
        mine["vat_breakdown"],
        serde_json::json!([
            {"rate": "5.5", "base": "120.00", "vat": "6.60"},
            {"rate": "20", "base": "40.50", "vat": "8.10"}
        ])
    );
    assert_eq!(mine["buyer"]["name"], file["account"]["name"]);
    assert!(mine["buyer"]["siren"]
        .as_str()
        .is_some_and(|s| s.len() == 9));
    assert_eq!(mine["rep"], ALICE);
    assert_eq!(mine["lines"].as_array().unwrap().len(), 2);

    let csv = export(&server, period, "csv");
    assert!(csv.starts_with('\u{feff}'), "a BOM for spreadsheets");
    let rows: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert!(rows[0].starts_with("numero;date;statut;devis;client;"));
    let lines: usize = orders
        .iter()
        .map(|o| o["vat_breakdown"].as_array().unwrap().len().max(1))
        .sum();
    assert_eq!(rows.len() - 1, lines);
    let ours: Vec<&&str> = rows
        .iter()
        .filter(|r| r.starts_with(&format!("{number};")))
        .collect();
    assert_eq!(ours.len(), 2, "{ours:?}");
    assert!(ours[0].ends_with(";5,5;120,00;6,60;175,20"), "{}", ours[0]);
    assert!(ours[1].ends_with(";20;40,50;8,10;175,20"), "{}", ours[1]);

    // A bad period or format: a clear error, nothing written.
    let out = server.admin(&["export", "orders", "--period", "2026-13"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("2026-13"));
    assert!(out.stdout.is_empty());
}
