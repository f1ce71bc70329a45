//! `carnet`: the rep's Carnet client in a terminal, and the scripted client
//! used by tests and benchmarks. A thin shell over `carnet_core::Device`:
//! parse arguments, call the device, print a table or JSON.

mod i18n;
mod table;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use carnet_core::doc::Conflict;
use carnet_core::index::DocRows;
use carnet_core::model::Quote;
use carnet_core::money::format_cents;
use carnet_core::ops::NewLine;
use carnet_core::reports::{Period, Scope};
use carnet_core::store::Durability;
use carnet_core::{Device, DocId, DocKind};
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use i18n::{t, Lang};
use table::Table;

#[derive(Parser)]
#[command(
    name = "carnet",
    version,
    about = "Carnet: the offline-first CRM, in a terminal"
)]
struct Cli {
    /// The local store directory.
    #[arg(
        long,
        global = true,
        env = "CARNET_STORE",
        default_value = "carnet-data"
    )]
    store: PathBuf,
    /// Language of the output (French first).
    #[arg(
        long,
        global = true,
        env = "CARNET_LANG",
        value_enum,
        default_value = "fr"
    )]
    lang: Lang,
    /// Pretend today is this date (YYYY-MM-DD), for scripts and tests.
    #[arg(long, global = true, env = "CARNET_TODAY")]
    today: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a local store for a user (offline use, no server needed).
    Init {
        #[arg(long)]
        user: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = "Mon entreprise")]
        company: String,
    },
    /// Customer files ("dossiers clients").
    #[command(subcommand)]
    Account(Box<AccountCmd>),
    /// People at an account.
    #[command(subcommand)]
    Contact(RecordCmd<ContactAdd>),
    /// Deals ("affaires").
    #[command(subcommand)]
    Deal(RecordCmd<DealAdd>),
    /// Follow-up actions ("relances").
    #[command(subcommand)]
    Action(ActionCmd),
    /// Notes on an account's timeline.
    #[command(subcommand)]
    Note(NoteCmd),
    /// Quotes ("devis").
    #[command(subcommand)]
    Quote(QuoteCmd),
    /// The product catalog.
    #[command(subcommand)]
    Product(ProductCmd),
    /// My to-do list: open actions due up to a date, overdue first.
    Todo {
        #[arg(long)]
        until: Option<String>,
        /// Everyone's actions, not just mine.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// My pipeline by stage.
    Pipeline {
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Weighted forecast by month of expected close.
    Forecast {
        #[arg(long, default_value_t = 3)]
        months: u32,
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Targets and the variance against actual orders.
    #[command(subcommand)]
    Target(TargetCmd),
    /// Commission tiers and commission for a period.
    #[command(subcommand)]
    Commission(CommissionCmd),
    /// Fields edited apart on two devices.
    Conflicts {
        #[arg(long)]
        json: bool,
    },
    /// Resolve a conflict.
    #[command(subcommand)]
    Conflict(ConflictCmd),
    /// Pipeline stages from settings.
    Stages {
        #[arg(long)]
        json: bool,
    },
    /// Link this store to a server account (the store must be new).
    Login {
        url: String,
        #[arg(long)]
        email: String,
        /// Read the password from standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
        /// A name for this device, shown to admins.
        #[arg(long, default_value = "carnet CLI")]
        device_name: String,
    },
    /// One full exchange with the server, then exit (--watch: stay connected).
    Sync {
        #[arg(long)]
        watch: bool,
        /// Give up when the server is silent this many seconds.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// Pending local changes, last acknowledgement, cursor, rejected documents.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Drop the local changes of a document the server rejected; the next
    /// sync fetches the server's copy.
    Revert { doc: String },
    /// Maintenance commands used by tests and support.
    #[command(subcommand, hide = true)]
    Debug(DebugCmd),
}

#[derive(Subcommand)]
enum AccountCmd {
    /// Create a customer file; prints its id.
    Add(Box<AccountAdd>),
    /// List or search customer files.
    List {
        #[arg(long)]
        search: Option<String>,
        #[arg(long, default_value_t = 200)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Everything in one customer file.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Set one field (`city`, `siret`, `custom/KEY`, ...); an empty value clears it.
    Set {
        id: String,
        field: String,
        value: String,
    },
    /// Who changed what, when.
    History {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct AccountAdd {
    #[arg(long)]
    name: String,
    #[arg(long)]
    kind: Option<String>,
    #[arg(long)]
    status: Option<String>,
    #[arg(long)]
    siret: Option<String>,
    #[arg(long)]
    siren: Option<String>,
    #[arg(long)]
    vat_number: Option<String>,
    #[arg(long)]
    naf: Option<String>,
    #[arg(long)]
    address: Option<String>,
    #[arg(long)]
    postcode: Option<String>,
    #[arg(long)]
    city: Option<String>,
    #[arg(long)]
    country: Option<String>,
    #[arg(long)]
    email: Option<String>,
    #[arg(long)]
    phone: Option<String>,
    #[arg(long)]
    website: Option<String>,
    #[arg(long)]
    owner: Option<String>,
    #[arg(long)]
    territory: Option<String>,
    #[arg(long)]
    source: Option<String>,
    /// Comma-separated segment tags.
    #[arg(long)]
    tags: Option<String>,
}

#[derive(Subcommand)]
enum RecordCmd<A: Args> {
    /// Add one to an account; prints its id.
    Add(A),
    /// Set one field of it.
    Set {
        id: String,
        field: String,
        value: String,
    },
}

#[derive(Args)]
struct ContactAdd {
    account: String,
    #[arg(long)]
    name: String,
    #[arg(long)]
    email: Option<String>,
    #[arg(long)]
    phone: Option<String>,
    #[arg(long)]
    mobile: Option<String>,
    #[arg(long)]
    role: Option<String>,
    #[arg(long)]
    channel: Option<String>,
}

#[derive(Args)]
struct DealAdd {
    account: String,
    #[arg(long)]
    title: String,
    #[arg(long, allow_hyphen_values = true)]
    amount: String,
    #[arg(long)]
    stage: Option<String>,
    /// Expected close date.
    #[arg(long)]
    close: Option<String>,
    /// Override the stage's default probability (%).
    #[arg(long)]
    probability: Option<String>,
    #[arg(long)]
    contact: Option<String>,
    #[arg(long)]
    next_step: Option<String>,
    #[arg(long)]
    owner: Option<String>,
}

#[derive(Subcommand)]
enum ActionCmd {
    /// Plan an action; prints its id.
    Add {
        account: String,
        #[arg(long = "type")]
        action_type: String,
        #[arg(long)]
        due: String,
        #[arg(long)]
        subject: String,
        #[arg(long)]
        assignee: Option<String>,
        #[arg(long)]
        deal: Option<String>,
        #[arg(long)]
        contact: Option<String>,
    },
    /// Mark it done, with what came of it.
    Done {
        id: String,
        #[arg(long)]
        outcome: Option<String>,
        #[arg(long)]
        on: Option<String>,
    },
    /// Set one field of it.
    Set {
        id: String,
        field: String,
        value: String,
    },
}

#[derive(Subcommand)]
enum NoteCmd {
    /// Add a note; prints its id.
    Add { account: String, text: String },
}

#[derive(Subcommand)]
enum QuoteCmd {
    /// Draft a quote; prints its id.
    Add {
        account: String,
        #[arg(long)]
        deal: Option<String>,
        #[arg(long)]
        valid_until: Option<String>,
    },
    /// Add a line from the catalog (--product) or free (--label).
    Line {
        quote: String,
        #[arg(long, conflicts_with = "label", required_unless_present = "label")]
        product: Option<String>,
        #[arg(long)]
        label: Option<String>,
        #[arg(long, allow_hyphen_values = true)]
        qty: String,
        /// Unit price excl. VAT.
        #[arg(long, allow_hyphen_values = true)]
        price: Option<String>,
        /// VAT rate in %.
        #[arg(long)]
        vat: Option<String>,
        /// Discount in %.
        #[arg(long)]
        discount: Option<String>,
    },
    /// A quote with its lines and totals.
    Show {
        quote: String,
        #[arg(long)]
        json: bool,
    },
    /// Set its status: draft, sent, refused, expired.
    Status { quote: String, status: String },
    /// Accept it and create the order; prints the order id.
    Accept { quote: String },
}

#[derive(Subcommand)]
enum ProductCmd {
    /// Add a product; prints its id.
    Add {
        #[arg(long)]
        sku: String,
        #[arg(long)]
        name: String,
        /// Unit price excl. VAT.
        #[arg(long)]
        price: String,
        #[arg(long, default_value = "20")]
        vat: String,
        #[arg(long)]
        category: Option<String>,
    },
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum TargetCmd {
    /// Set a target for a period (2026, 2026-Q4, 2026-11).
    Set {
        #[arg(long)]
        period: String,
        #[arg(long)]
        amount: String,
        #[arg(long)]
        user: Option<String>,
    },
    /// Target, actual orders and variance for a period.
    Show {
        #[arg(long)]
        period: Option<String>,
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum CommissionCmd {
    /// Replace the tiers: --tier FROM_PCT_OF_TARGET:RATE (e.g. 0:3 100:5).
    Tiers {
        #[arg(long = "tier", required = true)]
        tiers: Vec<String>,
        #[arg(long)]
        user: Option<String>,
    },
    /// Commission for a period.
    Show {
        #[arg(long)]
        period: Option<String>,
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ConflictCmd {
    /// Keep VALUE for the field at PATH of document DOC.
    Resolve {
        doc: String,
        path: String,
        value: String,
    },
}

#[derive(Subcommand)]
enum DebugCmd {
    /// Create accounts one by one, printing `saved ID` once each is durable.
    WriteLoop {
        #[arg(long, default_value_t = 1000)]
        count: usize,
    },
    /// Load every document and compare the index with a rebuilt one.
    Verify,
    /// Export a document's bytes to a file (for scripted merges).
    Export { doc: String, file: PathBuf },
    /// Merge a document's bytes from a file.
    Import { doc: String, file: PathBuf },
}

fn main() -> ExitCode {
    // Behave like other Unix tools when the reader of our output goes away
    // (`carnet account show ID | head`): exit quietly instead of panicking.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE at start-up,
    // before any thread exists, has no memory-safety implications.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let lang = cli.lang;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("carnet: {}", error_message(lang, &e));
            ExitCode::FAILURE
        }
    }
}

/// A refused input is explained in the user's language.
fn error_message(lang: Lang, e: &anyhow::Error) -> String {
    let invalid = e.chain().find_map(|c| {
        c.downcast_ref::<carnet_core::ValidationError>()
            .or_else(|| match c.downcast_ref::<carnet_core::CoreError>() {
                Some(carnet_core::CoreError::Invalid(v)) => Some(v),
                _ => None,
            })
    });
    match (lang, invalid) {
        (Lang::Fr, Some(v)) => v.message_fr(),
        _ => format!("{e:#}"),
    }
}

fn parse_date(field: &str, s: &str) -> Result<NaiveDate> {
    Ok(carnet_core::validate::date(field, s)?)
}

fn open(cli: &Cli) -> Result<Device> {
    let mut d = Device::open(&cli.store)
        .with_context(|| format!("opening store {}", cli.store.display()))?;
    if let Some(today) = &cli.today {
        let day = parse_date("--today", today)?;
        let noon = day
            .and_hms_opt(12, 0, 0)
            .ok_or_else(|| anyhow!("bad date"))?;
        d.set_clock(Some(noon.and_utc().timestamp()));
    }
    Ok(d)
}

fn doc_id(s: &str) -> Result<DocId> {
    Ok(s.parse::<DocId>()?)
}

fn print_json<T: Serialize>(v: &T) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v)?;
    writeln!(out)?;
    Ok(())
}

fn push(fields: &mut Vec<(&'static str, String)>, key: &'static str, v: &Option<String>) {
    if let Some(v) = v {
        fields.push((key, v.clone()));
    }
}

fn scope(d: &Device, all: bool) -> Scope {
    if all {
        Scope::All
    } else {
        d.me()
    }
}

/// `container/ID/field` for a record id found through the index.
fn record_path(d: &Device, id: &str, field: &str) -> Result<(DocId, String)> {
    let doc = d
        .index()
        .doc_of(id)
        .ok_or_else(|| anyhow!("no record {id} in this store"))?;
    let rows: &DocRows = d
        .index()
        .get(doc)
        .ok_or_else(|| anyhow!("no record {id} in this store"))?;
    let container = if rows.contacts.iter().any(|r| r.id == id) {
        "contacts"
    } else if rows.deals.iter().any(|r| r.id == id) {
        "deals"
    } else if rows.actions.iter().any(|r| r.id == id) {
        "actions"
    } else if rows.quotes.iter().any(|r| r.id == id) {
        "quotes"
    } else if rows.orders.iter().any(|r| r.id == id) {
        "orders"
    } else {
        bail!("no record {id} in this store")
    };
    Ok((doc, format!("{container}/{id}/{field}")))
}

fn run(cli: Cli) -> Result<()> {
    let lang = cli.lang;
    match &cli.cmd {
        Cmd::Init {
            user,
            name,
            company,
        } => {
            let d = Device::init(&cli.store, user, name.as_deref(), company)?;
            println!("{}", d.identity().device);
            Ok(())
        }
        Cmd::Account(cmd) => account(&cli, lang, cmd),
        Cmd::Contact(RecordCmd::Add(a)) => {
            let mut d = open(&cli)?;
            let mut f = vec![("name", a.name.clone())];
            push(&mut f, "email", &a.email);
            push(&mut f, "phone", &a.phone);
            push(&mut f, "mobile", &a.mobile);
            push(&mut f, "role", &a.role);
            push(&mut f, "preferred_channel", &a.channel);
            println!("{}", d.add_contact(doc_id(&a.account)?, &f)?);
            Ok(())
        }
        Cmd::Deal(RecordCmd::Add(a)) => {
            let mut d = open(&cli)?;
            let mut f = vec![("title", a.title.clone()), ("amount", a.amount.clone())];
            push(&mut f, "stage", &a.stage);
            push(&mut f, "close_date", &a.close);
            push(&mut f, "probability", &a.probability);
            push(&mut f, "contact", &a.contact);
            push(&mut f, "next_step", &a.next_step);
            push(&mut f, "owner", &a.owner);
            println!("{}", d.add_deal(doc_id(&a.account)?, &f)?);
            Ok(())
        }
        Cmd::Contact(RecordCmd::Set { id, field, value })
        | Cmd::Deal(RecordCmd::Set { id, field, value })
        | Cmd::Action(ActionCmd::Set { id, field, value }) => {
            let mut d = open(&cli)?;
            let (doc, path) = record_path(&d, id, field)?;
            d.set_field(doc, &path, value)?;
            Ok(())
        }
        Cmd::Action(ActionCmd::Add {
            account,
            action_type,
            due,
            subject,
            assignee,
            deal,
            contact,
        }) => {
            let mut d = open(&cli)?;
            let mut f = vec![
                ("type", action_type.clone()),
                ("due", due.clone()),
                ("subject", subject.clone()),
            ];
            push(&mut f, "assignee", assignee);
            push(&mut f, "deal", deal);
            push(&mut f, "contact", contact);
            println!("{}", d.add_action(doc_id(account)?, &f)?);
            Ok(())
        }
        Cmd::Action(ActionCmd::Done { id, outcome, on }) => {
            let mut d = open(&cli)?;
            let on = on.as_deref().map(|s| parse_date("--on", s)).transpose()?;
            d.complete_action(id, outcome.as_deref(), on)?;
            Ok(())
        }
        Cmd::Note(NoteCmd::Add { account, text }) => {
            let mut d = open(&cli)?;
            println!("{}", d.add_note(doc_id(account)?, text)?);
            Ok(())
        }
        Cmd::Quote(cmd) => quote(&cli, lang, cmd),
        Cmd::Product(ProductCmd::Add {
            sku,
            name,
            price,
            vat,
            category,
        }) => {
            let mut d = open(&cli)?;
            let mut f = vec![
                ("sku", sku.clone()),
                ("name", name.clone()),
                ("unit_price", price.clone()),
                ("vat_rate", vat.clone()),
            ];
            push(&mut f, "category", category);
            println!("{}", d.add_product(&f)?);
            Ok(())
        }
        Cmd::Product(ProductCmd::List { json }) => {
            let d = open(&cli)?;
            let products = &d.catalog().products;
            if *json {
                return print_json(products);
            }
            let mut tb = Table::new(&[
                t(lang, "sku"),
                t(lang, "name"),
                t(lang, "price"),
                t(lang, "vat"),
            ])
            .right(&[2, 3]);
            for p in products {
                tb.row(vec![
                    p.sku.clone(),
                    p.name.clone(),
                    format_cents(p.unit_price),
                    p.vat_rate.to_string(),
                ]);
            }
            print!("{}", tb.render());
            Ok(())
        }
        Cmd::Todo { until, all, json } => {
            let d = open(&cli)?;
            let until = match until {
                Some(u) => parse_date("--until", u)?,
                None => d.today(),
            };
            let items = d.todo(&scope(&d, *all), until);
            if *json {
                return print_json(&items);
            }
            if items.is_empty() {
                println!("{}", t(lang, "nothing_todo"));
                return Ok(());
            }
            let mut tb = Table::new(&[
                t(lang, "due"),
                t(lang, "late"),
                t(lang, "type"),
                t(lang, "account"),
                t(lang, "subject"),
            ]);
            for i in items {
                tb.row(vec![
                    i.due.to_string(),
                    if i.overdue {
                        format!("{} {}", i.days_late, t(lang, "days"))
                    } else {
                        String::new()
                    },
                    i.action_type,
                    i.account,
                    i.subject,
                ]);
            }
            print!("{}", tb.render());
            Ok(())
        }
        Cmd::Pipeline { all, json } => {
            let d = open(&cli)?;
            let p = d.pipeline(&scope(&d, *all));
            if *json {
                return print_json(&p);
            }
            let mut tb = Table::new(&[
                t(lang, "stage"),
                t(lang, "prob"),
                t(lang, "count"),
                t(lang, "amount"),
                t(lang, "weighted"),
            ])
            .right(&[1, 2, 3, 4]);
            for s in &p.stages {
                tb.row(vec![
                    s.label.clone(),
                    format!("{} %", s.probability),
                    s.count.to_string(),
                    format_cents(s.amount),
                    format_cents(s.weighted),
                ]);
            }
            tb.row(vec![
                t(lang, "total_open").to_string(),
                String::new(),
                p.open_count.to_string(),
                format_cents(p.open_amount),
                format_cents(p.open_weighted),
            ]);
            print!("{}", tb.render());
            println!("({})", p.currency);
            Ok(())
        }
        Cmd::Forecast { months, all, json } => {
            let d = open(&cli)?;
            let f = d.forecast(&scope(&d, *all), *months);
            if *json {
                return print_json(&f);
            }
            let mut tb = Table::new(&[
                t(lang, "month"),
                t(lang, "count"),
                t(lang, "amount"),
                t(lang, "weighted"),
                t(lang, "won"),
            ])
            .right(&[1, 2, 3, 4]);
            let mut row = |label: String, b: &carnet_core::reports::ForecastBucket| {
                tb.row(vec![
                    label,
                    b.open_count.to_string(),
                    format_cents(b.amount),
                    format_cents(b.weighted),
                    format_cents(b.won),
                ])
            };
            row(t(lang, "overdue").to_string(), &f.overdue);
            for m in &f.months {
                row(m.month.clone(), m);
            }
            row(t(lang, "undated").to_string(), &f.undated);
            print!("{}", tb.render());
            println!("({})", f.currency);
            Ok(())
        }
        Cmd::Target(TargetCmd::Set {
            period,
            amount,
            user,
        }) => {
            let mut d = open(&cli)?;
            let user = user.clone().unwrap_or_else(|| d.identity().user.clone());
            d.set_target(&user, period.parse::<Period>()?, amount)?;
            Ok(())
        }
        Cmd::Target(TargetCmd::Show { period, user, json }) => {
            let d = open(&cli)?;
            let user = user.clone().unwrap_or_else(|| d.identity().user.clone());
            let period = period_or_month(&d, period)?;
            let r = d.variance(&user, period)?;
            if *json {
                return print_json(&r);
            }
            println!("{} — {}", r.user, r.period);
            let money = |c: Option<i64>| {
                c.map(format_cents)
                    .unwrap_or_else(|| t(lang, "no_target").to_string())
            };
            println!("{:<12} {}", t(lang, "target"), money(r.target));
            println!(
                "{:<12} {} ({} {})",
                t(lang, "actual"),
                format_cents(r.actual),
                r.orders,
                t(lang, "orders").to_lowercase()
            );
            println!("{:<12} {}", t(lang, "variance"), money(r.variance));
            if let Some(p) = r.attainment_pct {
                println!("{:<12} {p} %", t(lang, "attainment"));
            }
            Ok(())
        }
        Cmd::Commission(CommissionCmd::Tiers { tiers, user }) => {
            let mut d = open(&cli)?;
            let user = user.clone().unwrap_or_else(|| d.identity().user.clone());
            let parsed = tiers
                .iter()
                .map(|t| {
                    t.split_once(':')
                        .map(|(a, b)| (a.to_string(), b.to_string()))
                        .ok_or_else(|| anyhow!("--tier {t:?}: expected FROM_PCT:RATE, e.g. 100:5"))
                })
                .collect::<Result<Vec<_>>>()?;
            d.set_tiers(&user, &parsed)?;
            Ok(())
        }
        Cmd::Commission(CommissionCmd::Show { period, user, json }) => {
            let d = open(&cli)?;
            let user = user.clone().unwrap_or_else(|| d.identity().user.clone());
            let period = period_or_month(&d, period)?;
            let c = d.commission(&user, period)?;
            if *json {
                return print_json(&c);
            }
            let mut tb = Table::new(&[
                t(lang, "tier_from"),
                t(lang, "rate"),
                t(lang, "base"),
                t(lang, "commission"),
            ])
            .right(&[0, 1, 2, 3]);
            for l in &c.tiers {
                tb.row(vec![
                    format!("{} %", l.from_pct),
                    format!("{} %", l.rate),
                    format_cents(l.base),
                    format_cents(l.commission),
                ]);
            }
            println!(
                "{user} — {period}: {} {}",
                t(lang, "revenue"),
                format_cents(c.revenue)
            );
            print!("{}", tb.render());
            println!("{}: {}", t(lang, "commission"), format_cents(c.total));
            Ok(())
        }
        Cmd::Conflicts { json } => {
            let d = open(&cli)?;
            let c = d.conflicts()?;
            if *json {
                return print_json(&c);
            }
            print_conflicts(lang, &c);
            Ok(())
        }
        Cmd::Conflict(ConflictCmd::Resolve { doc, path, value }) => {
            let mut d = open(&cli)?;
            d.resolve_conflict(doc_id(doc)?, path, value)?;
            Ok(())
        }
        Cmd::Stages { json } => {
            let d = open(&cli)?;
            if *json {
                return print_json(&d.settings().stages);
            }
            let mut tb = Table::new(&["code", t(lang, "stage"), t(lang, "prob")]);
            for s in &d.settings().stages {
                tb.row(vec![
                    s.code.clone(),
                    s.label.clone(),
                    format!("{} %", s.probability),
                ]);
            }
            print!("{}", tb.render());
            Ok(())
        }
        Cmd::Login {
            url,
            email,
            password_stdin: _,
            device_name,
        } => {
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            let password = password.trim_end_matches(['\n', '\r']);
            if cli.store.join("conf").exists() {
                bail!(
                    "{} already holds a store; log in with a new --store directory",
                    cli.store.display()
                );
            }
            let rt = runtime()?;
            let d = rt.block_on(carnet_core::sync::transport::login_device(
                &cli.store,
                url,
                email,
                password,
                device_name,
            ))?;
            println!("{}", d.identity().device);
            Ok(())
        }
        Cmd::Sync { watch, timeout } => {
            let mut d = open(&cli)?;
            let rt = runtime()?;
            let opts = carnet_core::sync::transport::Options {
                watch: *watch,
                timeout: std::time::Duration::from_secs(*timeout),
            };
            let watch = *watch;
            rt.block_on(carnet_core::sync::transport::run(
                &mut d,
                &opts,
                |status, changed| {
                    if watch {
                        for doc in changed {
                            println!("changed {doc}");
                        }
                        if status == carnet_core::sync::SyncStatus::UpToDate {
                            let _ = std::io::stdout().flush();
                        }
                    }
                },
            ))?;
            let st = d.sync_state()?;
            if !st.rejected.is_empty() {
                for (doc, reason) in &st.rejected {
                    eprintln!("carnet: {doc} refused by the server: {reason}");
                }
                bail!("{} document(s) refused by the server", st.rejected.len());
            }
            Ok(())
        }
        Cmd::Status { json } => {
            let d = open(&cli)?;
            let st = d.sync_state()?;
            if *json {
                return print_json(&st);
            }
            println!(
                "{}: {}",
                t(lang, "server"),
                st.server.as_deref().unwrap_or(t(lang, "offline_only"))
            );
            println!("{}: {}", t(lang, "pending"), st.pending.len());
            let when = st
                .last_ack
                .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
                .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_else(|| "—".into());
            println!("{}: {when}", t(lang, "last_ack"));
            for (doc, reason) in &st.rejected {
                println!("{} {doc}: {reason}", t(lang, "rejected"));
            }
            Ok(())
        }
        Cmd::Revert { doc } => {
            let mut d = open(&cli)?;
            let id = doc_id(doc)?;
            if !d.revert(id)? {
                bail!("{doc} has no refused changes to revert");
            }
            Ok(())
        }
        Cmd::Debug(cmd) => debug(&cli, cmd),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn period_or_month(d: &Device, p: &Option<String>) -> Result<Period> {
    Ok(match p {
        Some(p) => p.parse()?,
        None => Period::month_of(d.today()),
    })
}

fn account(cli: &Cli, lang: Lang, cmd: &AccountCmd) -> Result<()> {
    match cmd {
        AccountCmd::Add(a) => {
            let mut d = open(cli)?;
            let mut f = vec![("name", a.name.clone())];
            push(&mut f, "kind", &a.kind);
            push(&mut f, "status", &a.status);
            push(&mut f, "siret", &a.siret);
            push(&mut f, "siren", &a.siren);
            push(&mut f, "vat_number", &a.vat_number);
            push(&mut f, "naf", &a.naf);
            push(&mut f, "address_line1", &a.address);
            push(&mut f, "postcode", &a.postcode);
            push(&mut f, "city", &a.city);
            push(&mut f, "country", &a.country);
            push(&mut f, "email", &a.email);
            push(&mut f, "phone", &a.phone);
            push(&mut f, "website", &a.website);
            push(&mut f, "owner", &a.owner);
            push(&mut f, "territory", &a.territory);
            push(&mut f, "source", &a.source);
            push(&mut f, "tags", &a.tags);
            println!("{}", d.create_account(&f)?);
            Ok(())
        }
        AccountCmd::List {
            search,
            limit,
            json,
        } => {
            let d = open(cli)?;
            let hits = d.search(search.as_deref().unwrap_or(""), *limit);
            if *json {
                return print_json(&hits);
            }
            if hits.is_empty() {
                println!("{}", t(lang, "no_accounts"));
                return Ok(());
            }
            let mut tb = Table::new(&[
                "id",
                t(lang, "name"),
                t(lang, "status"),
                t(lang, "postcode"),
                t(lang, "city"),
                t(lang, "owner"),
            ]);
            for h in hits {
                let name = match &h.contact {
                    Some(c) => format!("{} ({c})", h.name),
                    None => h.name,
                };
                tb.row(vec![
                    h.id.to_string(),
                    name,
                    h.status,
                    h.postcode.unwrap_or_default(),
                    h.city.unwrap_or_default(),
                    h.owner,
                ]);
            }
            print!("{}", tb.render());
            Ok(())
        }
        AccountCmd::Show { id, json } => {
            let d = open(cli)?;
            let f = d.account_file(doc_id(id)?)?;
            if *json {
                return print_json(&f);
            }
            print_account(lang, &f);
            Ok(())
        }
        AccountCmd::Set { id, field, value } => {
            let mut d = open(cli)?;
            let path = if field.starts_with("account/") {
                field.clone()
            } else {
                format!("account/{field}")
            };
            d.set_field(doc_id(id)?, &path, value)?;
            Ok(())
        }
        AccountCmd::History { id, json } => {
            let d = open(cli)?;
            let h = d.history(doc_id(id)?)?;
            if *json {
                return print_json(&h);
            }
            let mut tb = Table::new(&[
                t(lang, "when"),
                t(lang, "who"),
                t(lang, "field"),
                t(lang, "old"),
                t(lang, "new"),
            ]);
            for e in &h {
                let when = chrono::DateTime::from_timestamp(e.time, 0)
                    .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default();
                for c in &e.changes {
                    tb.row(vec![
                        when.clone(),
                        e.author.clone().unwrap_or_else(|| e.actor[..8].to_string()),
                        c.path.clone(),
                        c.old.clone().unwrap_or_default(),
                        c.new.clone().unwrap_or_default(),
                    ]);
                }
            }
            print!("{}", tb.render());
            Ok(())
        }
    }
}

fn quote(cli: &Cli, lang: Lang, cmd: &QuoteCmd) -> Result<()> {
    match cmd {
        QuoteCmd::Add {
            account,
            deal,
            valid_until,
        } => {
            let mut d = open(cli)?;
            let mut f = Vec::new();
            push(&mut f, "deal", deal);
            push(&mut f, "valid_until", valid_until);
            println!("{}", d.create_quote(doc_id(account)?, &f)?);
            Ok(())
        }
        QuoteCmd::Line {
            quote,
            product,
            label,
            qty,
            price,
            vat,
            discount,
        } => {
            let mut d = open(cli)?;
            let id = d.add_quote_line(
                quote,
                &NewLine {
                    product: product.clone(),
                    label: label.clone(),
                    qty: qty.clone(),
                    unit_price: price.clone(),
                    vat_rate: vat.clone(),
                    discount: discount.clone(),
                },
            )?;
            println!("{id}");
            Ok(())
        }
        QuoteCmd::Show { quote, json } => {
            let d = open(cli)?;
            let (_, q) = d.quote(quote)?;
            if *json {
                return print_json(&q);
            }
            print_quote(lang, &q);
            Ok(())
        }
        QuoteCmd::Status { quote, status } => {
            let mut d = open(cli)?;
            let (doc, path) = record_path(&d, quote, "status")?;
            if status == "accepted" {
                bail!("use `carnet quote accept {quote}`: it also creates the order");
            }
            d.set_field(doc, &path, status)?;
            Ok(())
        }
        QuoteCmd::Accept { quote } => {
            let mut d = open(cli)?;
            println!("{}", d.accept_quote(quote)?);
            Ok(())
        }
    }
}

fn debug(cli: &Cli, cmd: &DebugCmd) -> Result<()> {
    match cmd {
        DebugCmd::WriteLoop { count } => {
            let mut d = open(cli)?;
            d.set_durability(Durability::Flushed);
            let mut out = std::io::stdout().lock();
            for i in 0..*count {
                let id = d.create_account(&[
                    ("name", format!("Crash test {i}")),
                    ("city", "Paris".to_string()),
                ])?;
                d.set_field(id, "account/postcode", "75011")?;
                // Printed only once both writes are flushed to disk.
                writeln!(out, "saved {id}")?;
                out.flush()?;
            }
            Ok(())
        }
        DebugCmd::Verify => {
            let d = open(cli)?;
            let ids = d.doc_ids()?;
            let mut accounts = 0;
            for id in &ids {
                let doc = d.load(*id)?;
                if doc.kind() == DocKind::Account {
                    accounts += 1;
                }
            }
            let consistent = d.index().same_as(&d.rebuild_index()?);
            print_json(&serde_json::json!({
                "documents": ids.len(),
                "accounts": accounts,
                "index_consistent": consistent,
            }))?;
            if !consistent {
                bail!("the index differs from the documents");
            }
            Ok(())
        }
        DebugCmd::Export { doc, file } => {
            let d = open(cli)?;
            std::fs::write(file, d.changes_since(doc_id(doc)?, &[])?)?;
            Ok(())
        }
        DebugCmd::Import { doc, file } => {
            let mut d = open(cli)?;
            let bytes = std::fs::read(file)?;
            let n = d.merge_remote(doc_id(doc)?, &bytes)?;
            println!("{n}");
            Ok(())
        }
    }
}

fn print_account(lang: Lang, f: &carnet_core::model::AccountFile) {
    let a = &f.account;
    println!("{} [{}] — {}", a.name, a.status, a.id);
    let mut info = Vec::new();
    for (label, v) in [
        ("SIRET", &a.siret),
        ("TVA", &a.vat_number),
        ("NAF", &a.naf),
        (t(lang, "phone"), &a.phone),
        (t(lang, "email"), &a.email),
        ("Web", &a.website),
    ] {
        if let Some(v) = v {
            info.push(format!("{label}: {v}"));
        }
    }
    let address: Vec<&str> = [&a.address_line1, &a.postcode, &a.city]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    if !address.is_empty() {
        let flag = if a.returned_mail { " (NPAI)" } else { "" };
        info.push(format!("{}{flag}", address.join(" ")));
    }
    info.push(format!("{}: {}", t(lang, "owner"), a.owner));
    if !a.tags.is_empty() {
        info.push(format!("{}: {}", t(lang, "tags"), a.tags.join(", ")));
    }
    for line in info {
        println!("  {line}");
    }
    if !a.expectations.is_empty() {
        println!("  {}: {}", t(lang, "expectations"), a.expectations);
    }
    for (k, v) in &a.custom {
        println!("  {k}: {v}");
    }
    if !f.contacts.is_empty() {
        println!("\n{}", t(lang, "contacts"));
        let mut tb = Table::new(&[
            "id",
            t(lang, "name"),
            t(lang, "role"),
            t(lang, "phone"),
            t(lang, "email"),
        ]);
        for c in &f.contacts {
            tb.row(vec![
                c.id.clone(),
                c.name.clone(),
                c.role.clone().unwrap_or_default(),
                c.phone.clone().or(c.mobile.clone()).unwrap_or_default(),
                c.email.clone().unwrap_or_default(),
            ]);
        }
        print!("{}", tb.render());
    }
    if !f.deals.is_empty() {
        println!("\n{}", t(lang, "deals"));
        let mut tb = Table::new(&[
            "id",
            t(lang, "name"),
            t(lang, "stage"),
            t(lang, "amount"),
            t(lang, "close"),
        ])
        .right(&[3]);
        for d in &f.deals {
            tb.row(vec![
                d.id.clone(),
                d.title.clone(),
                d.stage.clone(),
                format_cents(d.amount.cents),
                d.close_date.map(|c| c.to_string()).unwrap_or_default(),
            ]);
        }
        print!("{}", tb.render());
    }
    if !f.actions.is_empty() {
        println!("\n{}", t(lang, "actions"));
        let mut tb = Table::new(&[
            "id",
            t(lang, "due"),
            t(lang, "type"),
            t(lang, "subject"),
            t(lang, "status"),
        ]);
        for a in &f.actions {
            tb.row(vec![
                a.id.clone(),
                a.due.map(|d| d.to_string()).unwrap_or_default(),
                a.action_type.clone(),
                a.subject.clone(),
                match a.done_on {
                    Some(d) => format!("{} {d}", t(lang, "done")),
                    None => t(lang, "open").to_string(),
                },
            ]);
        }
        print!("{}", tb.render());
    }
    if !f.quotes.is_empty() {
        println!("\n{}", t(lang, "quotes"));
        let mut tb = Table::new(&[
            "id",
            t(lang, "number"),
            t(lang, "status"),
            t(lang, "total_net"),
            t(lang, "total_gross"),
        ])
        .right(&[3, 4]);
        for q in &f.quotes {
            tb.row(vec![
                q.id.clone(),
                q.number.clone(),
                q.status.clone(),
                format_cents(q.totals.net),
                format_cents(q.totals.gross),
            ]);
        }
        print!("{}", tb.render());
    }
    if !f.orders.is_empty() {
        println!("\n{}", t(lang, "orders"));
        let mut tb = Table::new(&[
            "id",
            t(lang, "number"),
            t(lang, "date"),
            t(lang, "total_net"),
        ])
        .right(&[3]);
        for o in &f.orders {
            tb.row(vec![
                o.id.clone(),
                o.number.clone(),
                o.date.map(|d| d.to_string()).unwrap_or_default(),
                format_cents(o.totals.net),
            ]);
        }
        print!("{}", tb.render());
    }
    if !f.notes.is_empty() {
        println!("\n{}", t(lang, "notes"));
        for n in &f.notes {
            let when = chrono::DateTime::from_timestamp(n.created_at, 0)
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default();
            println!("  {when} {}: {}", n.author, n.body);
        }
    }
    if f.conflicts > 0 {
        println!(
            "\n{}: {} (carnet conflicts)",
            t(lang, "conflict_in"),
            f.conflicts
        );
    }
}

fn print_quote(lang: Lang, q: &Quote) {
    let provisional = if q.provisional {
        t(lang, "provisional")
    } else {
        ""
    };
    println!(
        "{} {} {provisional} — {} — {}",
        t(lang, "quotes"),
        q.number,
        q.status,
        q.id
    );
    let mut tb = Table::new(&[
        t(lang, "label"),
        t(lang, "qty"),
        t(lang, "unit_price"),
        t(lang, "discount"),
        t(lang, "vat"),
        t(lang, "net"),
    ])
    .right(&[1, 2, 3, 4, 5]);
    for l in &q.lines {
        tb.row(vec![
            l.label.clone(),
            l.qty.to_string(),
            format_cents(l.unit_price),
            l.discount.to_string(),
            l.vat_rate.to_string(),
            format_cents(l.net),
        ]);
    }
    print!("{}", tb.render());
    println!(
        "{:<16} {:>12} {}",
        t(lang, "total_net"),
        format_cents(q.totals.net),
        q.currency
    );
    for v in &q.totals.vat_lines {
        println!(
            "{:<16} {:>12} {} ({} {})",
            format!("{} {} %", t(lang, "vat_on"), v.rate),
            format_cents(v.vat),
            q.currency,
            t(lang, "base").to_lowercase(),
            format_cents(v.base)
        );
    }
    println!(
        "{:<16} {:>12} {}",
        t(lang, "total_gross"),
        format_cents(q.totals.gross),
        q.currency
    );
}

fn print_conflicts(lang: Lang, c: &[Conflict]) {
    if c.is_empty() {
        println!("{}", t(lang, "no_conflicts"));
        return;
    }
    for x in c {
        println!("{} {} {}", t(lang, "conflict_in"), x.doc, x.path);
        for v in &x.values {
            let when = chrono::DateTime::from_timestamp(v.time, 0)
                .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default();
            let shown = if v.shown {
                format!(" ({})", t(lang, "shown"))
            } else {
                String::new()
            };
            println!(
                "  {:?} — {} {when}{shown}",
                v.value,
                v.author.as_deref().unwrap_or(&v.actor)
            );
        }
    }
}
