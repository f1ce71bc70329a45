//! Web app load benchmark: a tenant of 50 reps (five teams of ten, one
//! territory each) and 50,000 customer files with a year of history, served
//! by a real `carnet-server` router on loopback; 50 logged-in sessions
//! hammer each page with `wrk` (Debian's), which reports the latency
//! distribution. Then a rep's device stays connected (`sync --watch`) while
//! a browser session edits that rep's files: time from the POST leaving
//! until the device has applied the change.
//!
//! cargo bench -p carnet-tests --bench web [-- --accounts N --seconds S]
//!
//! Needs `wrk` on the PATH (`apt-get install wrk`). Prints one table.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use carnet_core::doc::Writer;
use carnet_core::sync::driver;
use carnet_core::{ops, Device, DocId, DocKind};
use carnet_server::tenant::Tenant;
use carnet_tests::portfolio::Rng;
use carnet_tests::stats::median_p99;
use chrono::{Datelike, Duration as Days};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PASSWORD: &str = "bench-password";
const ADMIN: &str = "admin@bench.fr";
const REPS: usize = 50;
const TEAM: usize = 10;
const SESSIONS: usize = 50;

fn rep(r: usize) -> String {
    format!("rep{r:02}@bench.fr")
}

fn manager(m: usize) -> String {
    format!("manager{m}@bench.fr")
}

/// Rep `r`'s department: its postcodes start with it.
fn department(r: usize) -> String {
    format!("{:02}", r + 1)
}

const CITIES: &[&str] = &[
    "Beaulieu",
    "Saint-Martin",
    "Villeneuve",
    "Montreuil",
    "Châteauneuf",
    "Fontaine",
    "Bourg-la-Reine",
    "Neuville",
];
const PREFIXES: &[&str] = &[
    "Boulangerie",
    "Garage",
    "Pharmacie",
    "Hôtel",
    "Cabinet",
    "Atelier",
    "Fromagerie",
    "Imprimerie",
    "Brasserie",
    "Librairie",
];
const FAMILY: &[&str] = &[
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David",
];
const STAGES: &[&str] = &[
    "prospection",
    "qualification",
    "proposition",
    "negociation",
    "gagne",
    "perdu",
];

/// What wrk picks from: (cookie, path) pairs.
type Requests = Vec<(String, String)>;

struct Args {
    accounts: usize,
    seconds: u64,
    /// Only the scenarios whose name contains this.
    only: String,
    /// Keep the seeded tenant here, and reuse it when it exists.
    data: Option<std::path::PathBuf>,
}

fn args() -> Args {
    let args: Vec<String> = std::env::args().collect();
    let num = |flag: &str, default: u64| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let text = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    Args {
        accounts: num("--accounts", 50_000) as usize,
        seconds: num("--seconds", 15),
        only: text("--only").unwrap_or_default(),
        data: text("--data").map(Into::into),
    }
}

fn main() {
    let a = args();
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("wrk is not installed: apt-get install wrk");
        std::process::exit(2);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(a));
}

async fn run(a: Args) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let t0 = Instant::now();
    let dir = a.data.clone().unwrap_or_else(|| tmp.path().join("server"));
    let reused = dir.exists();
    let (tenant, files) = if reused {
        reopen(&dir)
    } else {
        seed(&dir, a.accounts).await
    };
    let seeded = t0.elapsed();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let app = carnet_server::http::router(carnet_server::http::AppState {
        tenant: tenant.clone(),
        limits: carnet_server::session::Limits::default(),
        admin_token: Arc::new("x".repeat(64)),
        metrics_token: Arc::new("m".repeat(64)),
    });
    tokio::spawn(carnet_server::http::serve(
        listener,
        app,
        std::future::pending(),
    ));
    println!(
        "# Web app load: {} reps, {} accounts ({} in {:.0} s), {SESSIONS} sessions, wrk {} s per page",
        REPS,
        files.values().map(Vec::len).sum::<usize>(),
        if reused { "reopened" } else { "seeded" },
        seeded.as_secs_f64(),
        a.seconds
    );

    // Fifty rep sessions, and fifty manager sessions (ten per manager: a
    // manager on several computers) for the pages only managers have.
    let mut reps = Vec::new();
    for r in 0..SESSIONS {
        reps.push((r % REPS, login(&addr, &rep(r % REPS)).await));
    }
    let mut managers = Vec::new();
    for s in 0..SESSIONS {
        managers.push(login(&addr, &manager(s % (REPS / TEAM))).await);
    }
    let admin = login(&addr, ADMIN).await;

    // Page sizes, with the one stylesheet every page loads.
    let css = get(&addr, "/assets/style.css", &reps[0].1).await.1.len();
    let mine = &files[&reps[0].0];
    let pages: Vec<(&str, &str, String)> = vec![
        ("rep", "/day", "/day".into()),
        ("rep", "/accounts", "/accounts".into()),
        ("rep", "/accounts?q=martin", "/accounts?q=martin".into()),
        ("rep", "/accounts/ID", format!("/accounts/{}", mine[0])),
        ("rep", "/pipeline", "/pipeline".into()),
        ("rep", "/print/todo", "/print/todo".into()),
        (
            "rep",
            "/print/accounts/ID",
            format!("/print/accounts/{}", mine[0]),
        ),
        (
            "manager",
            "/dashboard?scope=team",
            "/dashboard?scope=team".into(),
        ),
        (
            "manager",
            "/dashboard?scope=company",
            "/dashboard?scope=company".into(),
        ),
        ("manager", "/pipeline", "/pipeline".into()),
        ("manager", "/forecast", "/forecast".into()),
        ("manager", "/commissions", "/commissions".into()),
        ("manager", "/targets", "/targets".into()),
        ("admin", "/accounts", "/accounts".into()),
        ("admin", "/territories", "/territories".into()),
        (
            "admin",
            "/territories?of=Secteur 01",
            "/territories?of=Secteur+01".into(),
        ),
        ("admin", "/dashboard", "/dashboard".into()),
        ("admin", "/pipeline", "/pipeline".into()),
        ("admin", "/users", "/users".into()),
    ];
    println!();
    println!("| page (as) | status | bytes | with the stylesheet | ≤ 100 KB |");
    println!("|---|---|---|---|---|");
    for (who, label, path) in &pages {
        let cookie = match *who {
            "rep" => &reps[0].1,
            "manager" => &managers[0],
            _ => &admin,
        };
        let (status, body) = get(&addr, path, cookie).await;
        let total = body.len() + css;
        println!(
            "| `{label}` ({who}) | {status} | {} | {} | {} |",
            body.len(),
            total,
            if total <= 100_000 { "yes" } else { "**no**" }
        );
    }

    // Load: each scenario a list of (cookie, path) that wrk picks from.
    let mut rng = Rng::new(7);
    let mut scenarios: Vec<(&str, &str, Requests)> = Vec::new();
    let dash: Vec<(String, String)> = managers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let p = if i % 2 == 0 {
                "/dashboard?scope=team"
            } else {
                "/dashboard?scope=company"
            };
            (c.clone(), p.to_string())
        })
        .collect();
    scenarios.push((
        "dashboard (team and company, managers)",
        "p99 ≤ 100 ms",
        dash,
    ));
    let mut search = Vec::new();
    for (_, c) in &reps {
        for _ in 0..20 {
            let term = match rng.below(3) {
                0 => FAMILY[rng.below(FAMILY.len())].to_lowercase(),
                1 => CITIES[rng.below(CITIES.len())].to_lowercase(),
                _ => format!("{}", rng.below(1000)),
            };
            let term: String = form_urlencoded::byte_serialize(term.as_bytes()).collect();
            search.push((c.clone(), format!("/accounts?q={term}")));
        }
    }
    scenarios.push(("account search (reps)", "p99 ≤ 50 ms", search));
    let mut file = Vec::new();
    for (r, c) in &reps {
        let ids = &files[r];
        for _ in 0..20 {
            file.push((
                c.clone(),
                format!("/accounts/{}", ids[rng.below(ids.len())]),
            ));
        }
    }
    scenarios.push(("account file (reps)", "p99 ≤ 50 ms", file));
    let pipe = reps
        .iter()
        .map(|(_, c)| (c.clone(), "/pipeline".to_string()))
        .collect();
    scenarios.push(("pipeline board (reps)", "p99 ≤ 100 ms", pipe));
    let mpipe = managers
        .iter()
        .map(|c| (c.clone(), "/pipeline".to_string()))
        .collect();
    scenarios.push(("pipeline board (managers, a team's)", "p99 ≤ 100 ms", mpipe));

    println!();
    println!("| scenario | load | requests/s | p50 | p90 | p99 | target | errors |");
    println!("|---|---|---|---|---|---|---|---|");
    for (name, target, reqs) in scenarios.iter().filter(|s| s.0.contains(&a.only)) {
        for paced in [true, false] {
            let r = wrk(&addr, reqs, a.seconds, paced, tmp.path());
            println!(
                "| {name} | {} | {:.0} | {} | {} | {} | {target} | {} |",
                if paced {
                    "paced: each session clicks every 0–1 s"
                } else {
                    "saturated: back to back"
                },
                r.rps,
                r.p50,
                r.p90,
                r.p99,
                r.errors
            );
        }
    }

    if !a.only.is_empty() {
        return;
    }
    // A browser edit reaching a connected device.
    let (p50, p99, n) = edit_to_device(&addr, &files, tmp.path()).await;
    println!(
        "| browser edit → connected device (rep, 30 edits) | — | {p50:.1} ms | — | {p99:.1} ms | p50 ≤ 50 ms | {} |",
        30 - n
    );
}

// ------------------------------------------------------------------ seed

/// The tenant: an admin, five managers, fifty reps with a territory (a
/// department) each, `accounts` files spread over them, each with a
/// contact, an open deal, an action to do and, in one month of the last
/// twelve, a visit and a quote (half of them accepted: an order); monthly
/// targets and commission tiers per rep. Every file is written by its rep
/// through `Tenant::edit_for`, as the web app writes.
async fn seed(dir: &Path, accounts: usize) -> (Arc<Tenant>, BTreeMap<usize, Vec<DocId>>) {
    let t = Tenant::create(dir, "Bench", ADMIN, None, PASSWORD)
        .await
        .expect("tenant");
    for m in 0..REPS / TEAM {
        t.add_user(&manager(m), "manager", None, None, PASSWORD)
            .await
            .expect("manager");
    }
    for r in 0..REPS {
        t.add_user(&rep(r), "rep", Some(&manager(r / TEAM)), None, PASSWORD)
            .await
            .expect("rep");
        t.add_territory(
            &format!("Secteur {}", department(r)),
            &[department(r)],
            &[rep(r)],
        )
        .await
        .expect("territory");
    }
    // What a quote must state, so seeded quotes can be sent.
    let admin = Writer {
        user: ADMIN.to_string(),
        actor: automerge::ActorId::random(),
        now: chrono::Utc::now().timestamp(),
    };
    let settings = t.singleton(DocKind::Settings).expect("settings");
    t.edit_as_user(&admin, settings, DocKind::Settings, |d, ctx| {
        for (k, v) in carnet_server::demo::COMPANY {
            ops::set_field(d, ctx, &format!("company/{k}"), v)?;
        }
        Ok(())
    })
    .await
    .expect("company");
    let today = chrono::Utc::now().date_naive();
    let first = today.with_day(1).unwrap_or(today);
    let mut tasks = Vec::new();
    for r in 0..REPS {
        let t = t.clone();
        let n = accounts / REPS + usize::from(r < accounts % REPS);
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(r as u64 + 1);
            let mut ids = Vec::with_capacity(n);
            for i in 0..n {
                let id = DocId::new();
                let back = rng.below(13) as u32;
                let month = first - chrono::Months::new(back);
                let span = if back == 0 { today.day() as usize } else { 27 };
                let day = month + Days::days(rng.below(span) as i64);
                let when = day
                    .and_hms_opt(10, 0, 0)
                    .map_or(0, |d| d.and_utc().timestamp());
                let w = Writer {
                    user: rep(r),
                    actor: automerge::ActorId::random(),
                    now: when,
                };
                let name = format!(
                    "{} {} {}",
                    PREFIXES[rng.below(PREFIXES.len())],
                    FAMILY[rng.below(FAMILY.len())],
                    r * 10_000 + i
                );
                let city = CITIES[rng.below(CITIES.len())];
                let postcode = format!("{}{:03}", department(r), rng.below(1000));
                let stage = STAGES[rng.below(STAGES.len())];
                let amount = 500 + rng.below(30_000);
                let close = today + Days::days(rng.below(180) as i64 - 30);
                let due = today + Days::days(rng.below(30) as i64 - 10);
                let qty = 1 + rng.below(5);
                let price = 200 + rng.below(1800);
                let outcome = rng.below(4);
                let status = if i % 3 == 0 { "prospect" } else { "client" };
                let me = rep(r);
                t.edit_for(&w, id, DocKind::Account, true, |d, ctx| {
                    let date = ctx.today.to_string();
                    ops::init_account(
                        d,
                        ctx,
                        &[
                            ("name", name),
                            ("status", status.to_string()),
                            ("postcode", postcode),
                            ("city", city.to_string()),
                            ("address_line1", format!("{} rue de la Gare", 1 + i % 90)),
                            (
                                "siren",
                                carnet_core::validate::siren_for((r * 10_000 + i) as u32),
                            ),
                            ("owner", me.clone()),
                            ("phone", format!("04 78 {:02} {:02} 00", i % 100, r)),
                        ],
                    )?;
                    ops::add_contact(
                        d,
                        ctx,
                        &[
                            ("name", format!("Contact {}", FAMILY[i % FAMILY.len()])),
                            ("role", "Gérant".to_string()),
                            ("email", format!("contact{i}@client{r}.fr")),
                        ],
                    )?;
                    ops::add_deal(
                        d,
                        ctx,
                        &[
                            ("title", format!("Affaire {i}")),
                            ("amount", amount.to_string()),
                            ("stage", stage.to_string()),
                            ("close_date", close.to_string()),
                            ("owner", me.clone()),
                        ],
                    )?;
                    ops::add_action(
                        d,
                        ctx,
                        &[
                            ("type", "visit".to_string()),
                            ("subject", "Visite de suivi".to_string()),
                            ("due", date.clone()),
                            ("done_on", date),
                            ("outcome", "Besoin confirmé".to_string()),
                        ],
                    )?;
                    ops::add_action(
                        d,
                        ctx,
                        &[
                            ("type", "call".to_string()),
                            ("subject", "Relance".to_string()),
                            ("due", due.to_string()),
                            ("assignee", me.clone()),
                        ],
                    )?;
                    carnet_server::demo::sell(d, ctx, "BENCH", qty, price, outcome)?;
                    Ok(())
                })
                .await
                .expect("seed account");
                ids.push(id);
            }
            (r, ids)
        }));
    }
    let mut files = BTreeMap::new();
    for task in tasks {
        let (r, ids) = task.await.expect("seeding task");
        files.insert(r, ids);
    }
    for r in 0..REPS {
        let w = Writer {
            user: manager(r / TEAM),
            actor: automerge::ActorId::random(),
            now: chrono::Utc::now().timestamp(),
        };
        let who = rep(r);
        t.edit_for(&w, DocId::new(), DocKind::Plan, true, |d, ctx| {
            ops::init_plan(d, &who, &ctx.settings.currency)?;
            for back in 0..=12u32 {
                let key = carnet_core::reports::Period::month_of(first - chrono::Months::new(back))
                    .to_string();
                ops::set_target(d, &key, 40_000_000)?;
                ops::set_target(d, &format!("visits:{key}"), 80)?;
                ops::set_target(d, &format!("new_clients:{key}"), 10)?;
                ops::set_target(d, &format!("quotes_sent:{key}"), 80)?;
                ops::set_target(d, &format!("conversion:{key}"), 5_000)?;
            }
            ops::set_tiers(
                d,
                ctx,
                &[("0".into(), "3".into()), ("100".into(), "5".into())],
            )
        })
        .await
        .expect("plan");
    }
    (t, files)
}

/// A tenant seeded by an earlier run (`--data`), and its reps' files.
fn reopen(dir: &Path) -> (Arc<Tenant>, BTreeMap<usize, Vec<DocId>>) {
    let t = Tenant::open(dir, 2048).expect("open the seeded tenant");
    let mut files: BTreeMap<usize, Vec<DocId>> = BTreeMap::new();
    t.for_each_row(|id, rows| {
        let r = rows.account.as_ref().and_then(|a| {
            a.owner
                .strip_prefix("rep")?
                .strip_suffix("@bench.fr")?
                .parse()
                .ok()
        });
        if let Some(r) = r {
            files.entry(r).or_default().push(id);
        }
    });
    for ids in files.values_mut() {
        ids.sort();
    }
    (t, files)
}

// ------------------------------------------------------------------ HTTP

/// One HTTP/1.1 exchange on a fresh connection: status, headers, body.
async fn exchange(addr: &str, req: String) -> (u16, String, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(req.as_bytes()).await.expect("send");
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.expect("read");
    let text = String::from_utf8_lossy(&out).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

async fn get(addr: &str, path: &str, cookie: &str) -> (u16, String) {
    let (status, _, body) = exchange(
        addr,
        format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    (status, body)
}

async fn post(addr: &str, path: &str, cookie: &str, form: &str) -> u16 {
    exchange(
        addr,
        format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
            form.len()
        ),
    )
    .await
    .0
}

/// Logs in; returns the `Cookie` header value of the session.
async fn login(addr: &str, email: &str) -> String {
    let form = format!(
        "email={}&password={PASSWORD}",
        form_urlencoded::byte_serialize(email.as_bytes()).collect::<String>()
    );
    let (status, head, _) = exchange(
        addr,
        format!(
            "POST /login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
            form.len()
        ),
    )
    .await;
    assert_eq!(status, 303, "login {email}");
    head.lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("session cookie")
        .to_string()
}

/// The CSRF token in a page's forms.
fn csrf(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
    page[at..].split('"').next().unwrap_or("").to_string()
}

// ------------------------------------------------------------------- wrk

struct Load {
    rps: f64,
    p50: String,
    p90: String,
    p99: String,
    errors: u64,
}

/// Runs wrk for `seconds` with 50 connections (one per session) on two
/// threads, each request a random (cookie, path) of `reqs`. Paced: each
/// connection waits 0 to 1,000 ms (uniform) between requests, as a busy
/// user would not; otherwise back to back (the server's saturation).
fn wrk(addr: &str, reqs: &[(String, String)], seconds: u64, paced: bool, dir: &Path) -> Load {
    let mut lua = String::from("local reqs = {\n");
    for (c, p) in reqs {
        lua.push_str(&format!("  {{ {c:?}, {p:?} }},\n"));
    }
    lua.push_str(
        "}\nrequest = function()\n  local r = reqs[math.random(#reqs)]\n  return wrk.format(\"GET\", r[2], { [\"Cookie\"] = r[1] })\nend\n",
    );
    if paced {
        lua.push_str("delay = function()\n  return math.random(0, 1000)\nend\n");
    }
    let script = dir.join("load.lua");
    std::fs::write(&script, lua).expect("lua script");
    let out = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{SESSIONS}"),
            &format!("-d{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(&script)
        .arg(format!("http://{addr}"))
        .output()
        .expect("run wrk");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| "?".into())
    };
    let errors = line("Non-2xx or 3xx responses:").parse().unwrap_or(0)
        + text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Socket errors:"))
            .map_or(0, |s| {
                s.split(',')
                    .filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok())
                    .sum()
            });
    Load {
        rps: line("Requests/sec:").parse().unwrap_or(0.0),
        p50: line("50%"),
        p90: line("90%"),
        p99: line("99%"),
        errors,
    }
}

// --------------------------------------------------- edit to device

/// Rep 0's device syncs its territory, then stays connected (watch); a
/// browser session of the same rep changes a field of one of its files 30
/// times. Each sample: from the POST leaving until the device reports the
/// document changed (received and applied to its store).
async fn edit_to_device(
    addr: &str,
    files: &BTreeMap<usize, Vec<DocId>>,
    dir: &Path,
) -> (f64, f64, usize) {
    let url = format!("http://{addr}");
    let mut device = Device::login(&dir.join("device"), &url, &rep(0), PASSWORD, "bench")
        .await
        .expect("device login");
    driver::run(&mut device, &driver::Options::default(), None, |_| {})
        .await
        .expect("first sync");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<DocId>)>();
    let control = Arc::new(driver::Control::default());
    let c2 = control.clone();
    let watcher = tokio::spawn(async move {
        let opts = driver::Options {
            watch: true,
            ..driver::Options::default()
        };
        let _ = driver::run(&mut device, &opts, Some(&c2), |e| {
            if let driver::Event::Changed(docs) = e {
                let _ = tx.send((Instant::now(), docs.to_vec()));
            }
        })
        .await;
    });
    // Let the watch session connect and catch up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    while rx.try_recv().is_ok() {}
    let cookie = login(addr, &rep(0)).await;
    let doc = files[&0][1];
    let (_, page) = get(addr, &format!("/accounts/{doc}"), &cookie).await;
    let token = csrf(&page);
    let mut samples = Vec::new();
    for i in 0..30 {
        let start = Instant::now();
        let status = post(
            addr,
            &format!("/accounts/{doc}/field"),
            &cookie,
            &format!("csrf={token}&field=city&value=Ville+{i}"),
        )
        .await;
        assert_eq!(status, 303, "edit refused");
        let deadline = start + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline.into(), rx.recv()).await {
                Ok(Some((at, docs))) if docs.contains(&doc) => {
                    samples.push(at.saturating_duration_since(start));
                    break;
                }
                Ok(Some(_)) => continue,
                _ => break,
            }
        }
    }
    control.request_stop();
    let _ = tokio::time::timeout(Duration::from_secs(5), watcher).await;
    let n = samples.len();
    let (p50, p99) = median_p99(&mut samples);
    (p50, p99, n)
}
