//! Data benchmark, on a device over a real sled store: importing 100,000
//! CSV rows (peak memory of the whole process), the duplicate scan over
//! 50,000 files, the "to check" list over a 5,000-file portfolio, and
//! erasing a person: the store compaction it costs (50,000 and 5,000
//! files) and a device's whole replacement of the file (replay included).
//! `server`: the admin's import into the demo tenant (`carnet-server
//! import accounts`, the real binary); with `CARNET_BASELINE_BIN_DIR` set
//! to another build's `target/release`, that build's too, in the same run.
//!
//! `server-user`: a rep's import on the server, every file judged (what
//! the web upload runs), in process.
//!
//! cargo run --release -p carnet-tests --bin bench-import [import] [scan] [stale] [server] [server-user]

use std::io::Write;
use std::time::{Duration, Instant};

use carnet_core::import::{Options, Overrides};
use carnet_core::text::Lang;
use carnet_core::Device;

const TRADES: [&str; 8] = [
    "Boulangerie",
    "Garage",
    "Pharmacie",
    "Cabinet",
    "Imprimerie",
    "Hôtel",
    "Café",
    "Menuiserie",
];

/// The process's peak resident memory so far, in MiB.
fn peak_mib() -> u64 {
    carnet_tests::stats::proc_status_kib("VmHWM:").unwrap_or(0) / 1024
}

/// `rows` accounts with a contact, Windows-1252, semicolons, CRLF; one row
/// in 50 repeats an earlier company, one in 100 has a bad SIRET.
fn write_csv(path: &std::path::Path, rows: usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("csv"));
    let mut out = String::from(
        "Raison sociale;SIRET;Adresse;CP;Ville;Tél.;E-mail;Statut;Contact;Fonction\r\n",
    );
    for i in 0..rows {
        let n = if i % 50 == 49 { i - 7 } else { i };
        let siret = if i % 100 == 99 {
            "123".to_string()
        } else {
            String::new()
        };
        out.push_str(&format!(
            "{} Société {n};{siret};{} rue de la Gare;{:05};Ville {};0{} {:02} {:02} {:02} {:02};contact{n}@exemple.fr;client;Jean Dupont {n};Gérant\r\n",
            TRADES[n % TRADES.len()],
            1 + n % 90,
            10_000 + n % 85_000,
            n % 1000,
            1 + n % 5,
            (n / 1_000_000) % 100,
            (n / 10_000) % 100,
            (n / 100) % 100,
            n % 100,
        ));
        if out.len() > 1 << 16 {
            f.write_all(&latin1(&out)).expect("write");
            out.clear();
        }
    }
    f.write_all(&latin1(&out)).expect("write");
}

/// Windows-1252 for the accents used here ("Société", "Tél."): one byte each.
fn latin1(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| {
            if (c as u32) < 0x100 {
                c as u32 as u8
            } else {
                b'?'
            }
        })
        .collect()
}

fn import(d: &mut Device, path: &std::path::Path) -> (Duration, carnet_core::import::Report) {
    let t = Instant::now();
    let r = d
        .import_accounts(
            std::io::BufReader::new(std::fs::File::open(path).expect("open")),
            &Overrides::new(),
            &Options {
                dry_run: false,
                lang: Lang::Fr,
                verified_on: None,
            },
            &mut |_| {},
        )
        .expect("import");
    (t.elapsed(), r)
}

fn device(dir: &std::path::Path) -> Device {
    Device::init(dir, "rep@bench.fr", Some("Rep"), "Bench SARL").expect("store")
}

fn main() {
    // Sections to run (`import`, `scan`, `stale`, `server`); all without
    // arguments.
    let only: Vec<String> = std::env::args().skip(1).collect();
    let run = |section: &str| only.is_empty() || only.iter().any(|a| a == section);
    let tmp = tempfile::tempdir().expect("tmp");
    println!("| what | size | time | peak memory (process) | target |");
    println!("|---|---|---|---|---|");
    if run("import") {
        import_100k(tmp.path());
    }
    if run("scan") {
        scan_50k(tmp.path());
    }
    if run("stale") {
        stale_5k(tmp.path());
    }
    if run("server") {
        server_import(tmp.path());
    }
    if run("server-user") {
        server_user_import(tmp.path());
    }
}

/// A rep's import on the server (what the web upload runs: every file
/// judged as hers), in process: 20,000 rows of her territory.
fn server_user_import(tmp: &std::path::Path) {
    use carnet_server::fuzzing::{Fixture, REP};
    use carnet_server::tenant::import::Importer;
    const ROWS: usize = 20_000;
    let csv = tmp.join("user.csv");
    let mut out = String::from("Raison sociale;CP;Ville;Contact\n");
    for n in 0..ROWS {
        out.push_str(&format!(
            "{} Société {n};75{:03};Paris;Jean Dupont {n}\n",
            TRADES[n % TRADES.len()],
            1 + n % 20
        ));
    }
    std::fs::write(&csv, out).expect("csv");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let f = Fixture::create(&tmp.join("user-tenant")).await.expect("tenant");
        let writer = carnet_core::doc::Writer {
            user: REP.into(),
            actor: automerge::ActorId::random(),
            now: chrono::Utc::now().timestamp(),
        };
        let t = Instant::now();
        let r = f
            .tenant
            .import_accounts(
                Importer::User(writer),
                csv.clone(),
                Overrides::new(),
                Options {
                    dry_run: false,
                    lang: Lang::Fr,
                    verified_on: None,
                },
            )
            .await
            .expect("import");
        let took = t.elapsed();
        println!(
            "| server import as a rep, every file judged (created {}, rejected {}) | {ROWS} rows | {:.1} s, {:.2} ms a row | | |",
            r.created,
            r.rejected,
            took.as_secs_f64(),
            took.as_secs_f64() * 1e3 / ROWS as f64
        );
    });
}

/// 10,000 companies on two rows each, one row per contact (how many
/// tools export contacts).
fn write_pairs_csv(path: &std::path::Path) {
    let mut out = String::from("Raison sociale;CP;Ville;Contact;Fonction\n");
    for n in 0..10_000 {
        for who in ["Jean Dupont", "Marie Durand"] {
            out.push_str(&format!(
                "{} Société {n};{:05};Ville {};{who} {n};Gérant\n",
                TRADES[n % TRADES.len()],
                10_000 + n % 85_000,
                n % 1000,
            ));
        }
    }
    std::fs::write(path, out).expect("csv");
}

/// `carnet-server import accounts` of 20,000 rows into a fresh demo
/// tenant, one file a row and then one row per contact, by this build
/// and, if given, a baseline build.
fn server_import(tmp: &std::path::Path) {
    let csv = tmp.join("server.csv");
    write_csv(&csv, 20_000);
    server_import_of(tmp, &csv, "one file a row");
    let pairs = tmp.join("pairs.csv");
    write_pairs_csv(&pairs);
    server_import_of(tmp, &pairs, "one row per contact");
}

fn server_import_of(tmp: &std::path::Path, csv: &std::path::Path, shape: &str) {
    use std::process::Command;
    const ROWS: usize = 20_000;
    let mut builds = vec![("this build", carnet_tests::harness::bin("carnet-server"))];
    if let Some(dir) = std::env::var_os("CARNET_BASELINE_BIN_DIR") {
        builds.push((
            "baseline",
            std::path::PathBuf::from(dir).join("carnet-server"),
        ));
    }
    let mut times = Vec::new();
    for (label, exe) in builds {
        let data = tmp.join(format!("server-{}", uuid::Uuid::new_v4()));
        let demo = Command::new(&exe)
            .arg("--data")
            .arg(&data)
            .args(["demo", "--no-serve"])
            .output()
            .expect("run carnet-server demo");
        assert!(demo.status.success(), "demo: {demo:?}");
        let t = Instant::now();
        let out = Command::new(&exe)
            .arg("--data")
            .arg(&data)
            .args(["import", "accounts"])
            .arg(csv)
            .arg("--json")
            .output()
            .expect("run carnet-server import");
        let took = t.elapsed();
        assert!(out.status.success(), "import: {out:?}");
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
        println!(
            "| server import, {shape}, {label} (created {}, updated {}, duplicates {}, rejected {}) | {ROWS} rows | {:.1} s, {:.2} ms a row | | |",
            r["created"],
            r["updated"],
            r["duplicates"],
            r["rejected"],
            took.as_secs_f64(),
            took.as_secs_f64() * 1e3 / ROWS as f64
        );
        times.push(took);
    }
    if let [this, base] = times[..] {
        println!(
            "| server import, {shape}: baseline / this build | | {:.1}× | | |",
            base.as_secs_f64() / this.as_secs_f64()
        );
    }
}

fn import_100k(tmp: &std::path::Path) {
    let big = tmp.join("100k.csv");
    write_csv(&big, 100_000);
    let size = std::fs::metadata(&big).map(|m| m.len()).unwrap_or(0);
    let before = peak_mib();
    let mut d = device(&tmp.join("a"));
    let (took, r) = import(&mut d, &big);
    println!(
        "| import CSV (created {}, updated {}, duplicates {}, rejected {}) | 100,000 rows, {:.1} MB | {:.1} s | {} MiB (was {} MiB before) | ≤ 30 s, ≤ 500 MB |",
        r.created,
        r.updated,
        r.duplicates,
        r.rejected,
        size as f64 / 1e6,
        took.as_secs_f64(),
        peak_mib(),
        before
    );
}

fn scan_50k(tmp: &std::path::Path) {
    let half = tmp.join("50k.csv");
    write_csv(&half, 51_000);
    let mut d = device(&tmp.join("b"));
    let (_, r) = import(&mut d, &half);
    let files = d.index().accounts().count();
    let mut times = Vec::new();
    let mut groups = 0;
    for _ in 0..5 {
        let t = Instant::now();
        groups = d.duplicate_groups().len();
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "| duplicate scan ({groups} groups; the import skipped {} twins) | {files} files | median {:.0} ms, slowest {:.0} ms of 5 | | ≤ 10 s |",
        r.duplicates,
        times[2].as_secs_f64() * 1e3,
        times[4].as_secs_f64() * 1e3
    );
    // What an erasure costs the server: its store rewritten while writes wait.
    let t = Instant::now();
    let (before, after) = d.store().compact_files().expect("compact");
    println!(
        "| erasure: store compaction (writes wait meanwhile) | {files} files, {} MB on disk before, {} MB after | {:.1} s | | |",
        before / 1_000_000,
        after / 1_000_000,
        t.elapsed().as_secs_f64()
    );
}

fn stale_5k(tmp: &std::path::Path) {
    let small = tmp.join("5k.csv");
    write_csv(&small, 5_100);
    let mut d = device(&tmp.join("c"));
    import(&mut d, &small);
    // Two years later, nothing verified: every file is to check.
    d.set_clock(Some(chrono::Utc::now().timestamp() + 2 * 366 * 86_400));
    let me = d.me();
    let mut times = Vec::new();
    let mut n = 0;
    for _ in 0..200 {
        let t = Instant::now();
        n = d.stale_accounts(&me, 50).len();
        let q = d.data_quality(&me);
        times.push(t.elapsed());
        assert!(q.fields > 0);
    }
    times.sort();
    let files = d.index().accounts().count();
    println!(
        "| \"to check\" list ({n} shown) and data quality | {files} files | p50 {:.2} ms, p99 {:.2} ms of 200 | | ≤ 20 ms p99 |",
        times[100].as_secs_f64() * 1e3,
        times[197].as_secs_f64() * 1e3
    );
    erase_on_device(&mut d, files);
}

/// A device told to replace a file a person was erased from, with an
/// offline edit of it pending: keep the edit aside, drop, take the new
/// copy, replay, compact the store.
fn erase_on_device(d: &mut Device, files: usize) {
    use carnet_core::erase::{self, Person};
    use carnet_core::sync::{AckBasis, Replica};

    let (acc, contact) = {
        let (acc, _, rows) = d.index().accounts().next().expect("a file");
        (acc, rows.contacts.first().expect("a contact").id.clone())
    };
    let heads = d.heads(acc).expect("heads");
    d.acknowledge(acc, &heads, AckBasis::Heads).expect("ack");
    let server_copy = d.load(acc).expect("load");
    d.add_note(acc, "Rappel prévu en janvier").expect("note");
    let person = Person::of(&server_copy, &contact).expect("person");
    let writer = carnet_core::doc::Writer {
        user: "server".into(),
        actor: automerge::ActorId::random(),
        now: chrono::Utc::now().timestamp(),
    };
    let bytes = erase::rewrite(&server_copy, &person, &writer)
        .expect("rewrite")
        .save();
    let t = Instant::now();
    d.replace(acc, &[contact]).expect("replace");
    d.merge_remote(acc, &bytes).expect("new copy");
    let replayed = t.elapsed();
    d.compact_if_due().expect("compact");
    println!(
        "| erasure on a device: keep the edit aside, drop, take the new copy, replay ({:.1} ms); then compact the store | {files} files | {:.2} s in all | | |",
        replayed.as_secs_f64() * 1e3,
        t.elapsed().as_secs_f64()
    );
}
