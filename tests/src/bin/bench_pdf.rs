//! PDF benchmark: a quote of about three pages (90 lines) and one of 200
//! lines, made by the core as a device makes them offline. Prints the
//! median and the slowest of 20 runs, and the size.
//!
//! cargo run --release -p carnet-tests --bin bench-pdf

use std::time::{Duration, Instant};

use carnet_core::model::NewQuoteLine;
use carnet_core::text::Lang;
use carnet_core::Device;

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut d =
        Device::init(dir.path(), "rep@bench.fr", Some("Rep"), "Fromages Lefèvre").expect("store");
    for (k, v) in carnet_core::legal::EXAMPLE_SELLER {
        d.set_company_field(k, v).expect("company");
    }
    let acc = d
        .create_account(&[
            ("name", "Crèmerie Dupré & Fils".to_string()),
            ("address_line1", "3 avenue Foch".to_string()),
            ("postcode", "69006".to_string()),
            ("city", "Lyon".to_string()),
            ("siret", "73282932000074".to_string()),
        ])
        .expect("account");
    println!("| quote | pages | size | median | slowest of 20 | target |");
    println!("|---|---|---|---|---|---|");
    for (lines, logo, target) in [
        (90, false, "≤ 50 ms, ≤ 200 KB (3 pages)"),
        (200, false, "≤ 300 ms"),
        (90, true, "≤ 50 ms, ≤ 200 KB (3 pages)"),
    ] {
        if logo {
            // The letterhead's logo (180 × 60 pixels), as a device holds
            // it once downloaded with the library.
            let sha = "5".repeat(64);
            let path = d.blob_path(&sha).expect("blob path");
            std::fs::create_dir_all(path.parent().expect("blob dir")).expect("blob dir");
            std::fs::write(
                &path,
                include_bytes!("../../../core/tests/fixtures/logo.png"),
            )
            .expect("logo");
            d.set_company_field("logo", &sha).expect("logo set");
        }
        let q = d.create_quote(acc, &[]).expect("quote").to_string();
        for i in 0..lines {
            d.add_quote_line(
                &q,
                &NewQuoteLine {
                    product: None,
                    label: Some(format!("Article {i:03} — Comté affiné « réserve »")),
                    qty: "3".into(),
                    unit_price: Some("21.40".into()),
                    vat_rate: Some(if i % 3 == 0 { "20" } else { "5.5" }.into()),
                    discount: (i % 5 == 0).then(|| "10".into()),
                },
            )
            .expect("line");
        }
        let mut times: Vec<Duration> = Vec::new();
        let mut bytes = Vec::new();
        for _ in 0..20 {
            let t = Instant::now();
            bytes = d.quote_pdf(&q, Lang::Fr).expect("pdf");
            times.push(t.elapsed());
        }
        times.sort();
        println!(
            "| {lines} lines{} | {} | {:.1} KB | {:.1} ms | {:.1} ms | {target} |",
            if logo { ", logo" } else { "" },
            page_count(&bytes),
            bytes.len() as f64 / 1000.0,
            times[times.len() / 2].as_secs_f64() * 1000.0,
            times[times.len() - 1].as_secs_f64() * 1000.0,
        );
    }
}

/// Pages in a PDF, by poppler's `pdfinfo` ("?" without it).
fn page_count(pdf: &[u8]) -> String {
    let Ok(dir) = tempfile::tempdir() else {
        return "?".into();
    };
    let path = dir.path().join("q.pdf");
    if std::fs::write(&path, pdf).is_err() {
        return "?".into();
    }
    std::process::Command::new("pdfinfo")
        .arg(&path)
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .find_map(|l| l.strip_prefix("Pages:").map(|n| n.trim().to_string()))
        })
        .unwrap_or_else(|| "?".into())
}
