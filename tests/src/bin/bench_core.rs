//! Core benchmark: builds the issue's portfolio (5,000 accounts, 15,000
//! contacts, 20,000 deals, 50,000 actions, 3,000 quotes) into a sled store,
//! then measures, in fresh processes, the open time and the latency of the
//! to-do list, pipeline, forecast, name search and account file, and memory.
//!
//! cargo run --release -p carnet-tests --bin bench-core [-- --accounts N] [--keep DIR]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use carnet_core::store::Store;
use carnet_core::Device;
use carnet_tests::portfolio::{self, Shape, ISSUE_SHAPE};
use carnet_tests::stats::{dir_size, median_p99, proc_status_kib};

const RUNS: usize = 100;
const OPENS: usize = 7;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--measure") {
        if let Some(dir) = args.get(2) {
            measure(Path::new(dir));
        }
        return;
    }
    let mut shape: Shape = ISSUE_SHAPE;
    let mut keep: Option<PathBuf> = None;
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--accounts" => {
                shape.accounts = args
                    .get(i + 1)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(shape.accounts);
                i += 1;
            }
            "--keep" => {
                keep = args.get(i + 1).map(PathBuf::from);
                i += 1;
            }
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
        i += 1;
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = keep.unwrap_or_else(|| tmp.path().join("store"));

    let t = Instant::now();
    let mut device =
        Device::init(&dir, "rep@exemple.fr", Some("Bench"), "Bench SARL").expect("init");
    let ids = portfolio::generate(&mut device, shape, 42).expect("generate");
    let build = t.elapsed();
    let idx = device.index();
    let count = |f: fn(&carnet_core::index::DocRows) -> usize| -> usize {
        idx.accounts().map(|(_, _, r)| f(r)).sum()
    };
    let totals = (
        ids.len(),
        count(|r| r.contacts.len()),
        count(|r| r.deals.len()),
        count(|r| r.actions.len()),
        count(|r| r.quotes.len()),
    );
    let sled_size = device.store().size_on_disk().unwrap_or(0);
    drop(device);
    let disk = dir_size(&dir);

    println!("# Carnet core benchmark");
    println!(
        "portfolio: {} accounts, {} contacts, {} deals, {} actions, {} quotes",
        totals.0, totals.1, totals.2, totals.3, totals.4
    );
    println!("| metric | value | target |");
    println!("|---|---|---|");
    println!(
        "| build (generate + write) | {:.1} s | — |",
        build.as_secs_f64()
    );
    println!(
        "| store size on disk | {:.1} MB (sled reports {:.1} MB) | ≤ 200 MB |",
        disk as f64 / 1e6,
        sled_size as f64 / 1e6
    );

    // Each measurement in a fresh process: nothing cached in our memory.
    let me = std::env::current_exe().expect("current exe");
    let mut opens = Vec::new();
    let mut last = String::new();
    for _ in 0..OPENS {
        let out = Command::new(&me)
            .arg("--measure")
            .arg(&dir)
            .output()
            .expect("measure process");
        if !out.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&out.stderr));
            std::process::exit(1);
        }
        last = String::from_utf8_lossy(&out.stdout).into_owned();
        let open_ms: f64 = last
            .lines()
            .find_map(|l| l.strip_prefix("open_ms "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(f64::NAN);
        opens.push(Duration::from_secs_f64(open_ms / 1000.0));
    }
    let (open_med, open_max) = {
        opens.sort();
        (
            opens[opens.len() / 2].as_secs_f64() * 1000.0,
            opens[opens.len() - 1].as_secs_f64() * 1000.0,
        )
    };
    println!(
        "| open (new process, {OPENS} runs) | median {open_med:.0} ms, max {open_max:.0} ms | ≤ 300 ms |"
    );
    for line in last.lines().filter(|l| l.starts_with('|')) {
        println!("{line}");
    }
}

/// Runs in a child process: open the store, then time each query.
fn measure(dir: &Path) {
    let t = Instant::now();
    let device = Device::open(dir).expect("open");
    let open = t.elapsed();
    println!("open_ms {:.3}", open.as_secs_f64() * 1000.0);
    let rss_open = proc_status_kib("VmRSS:").unwrap_or(0);

    let me = device.me();
    let today = device.today();
    let mut rows = Vec::new();
    let mut time = |label: &str, target: &str, f: &mut dyn FnMut(usize) -> usize| {
        let mut samples = Vec::with_capacity(RUNS);
        let mut n = 0;
        for i in 0..RUNS {
            let t = Instant::now();
            n = std::hint::black_box(f(i));
            samples.push(t.elapsed());
        }
        let (m, p) = median_p99(&mut samples);
        rows.push(format!(
            "| {label} ({n} rows) | median {m:.2} ms, p99 {p:.2} ms | {target} |"
        ));
    };
    time("todo, next 7 days", "≤ 20 ms p99", &mut |_| {
        device.todo(&me, today + chrono::Duration::days(7)).len()
    });
    time("pipeline", "≤ 20 ms p99", &mut |_| {
        device.pipeline(&me).stages.len()
    });
    time("forecast, 6 months", "≤ 20 ms p99", &mut |_| {
        device.forecast(&me, 6).months.len()
    });
    let mut rng = portfolio::Rng::new(7);
    let queries: Vec<String> = (0..RUNS)
        .map(|_| {
            let n = portfolio::account_name(&mut rng, 0);
            // A word of the name, lower case and without its accent at times.
            n.split_whitespace()
                .nth(1)
                .unwrap_or("martin")
                .to_lowercase()
        })
        .collect();
    time("name search", "≤ 20 ms p99", &mut |i| {
        device.search(&queries[i], 50).len()
    });
    let ids: Vec<_> = device.search("", 5_000).into_iter().map(|h| h.id).collect();
    time("account file (load + read one document)", "—", &mut |i| {
        device
            .account_file(ids[(i * 37) % ids.len()])
            .map(|f| f.contacts.len() + f.deals.len() + f.actions.len())
            .unwrap_or(0)
    });
    for r in rows {
        println!("{r}");
    }
    println!(
        "| memory after open | RSS {:.0} MB | — |",
        rss_open as f64 / 1024.0
    );
    println!(
        "| memory after queries | RSS {:.0} MB, peak {:.0} MB | — |",
        proc_status_kib("VmRSS:").unwrap_or(0) as f64 / 1024.0,
        proc_status_kib("VmHWM:").unwrap_or(0) as f64 / 1024.0
    );
}
