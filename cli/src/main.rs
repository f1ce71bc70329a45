//! `carnet`: the rep's Carnet client in a terminal, and the scripted client
//! used by tests and benchmarks. A thin shell over the core's domain API
//! (`carnet_core::Device`): parse arguments, call it, present the result
//! (a table in the user's language, or JSON). One module per command group
//! under `cmd/`; `out` formats.
//!
//! Commands that create something print its id alone on standard output,
//! for scripts; the others say what they did.

mod cmd;
mod out;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use carnet_core::text::Lang;
use carnet_core::{Device, DocId};
use clap::{Parser, Subcommand};

use out::Out;

#[derive(Parser)]
#[command(
    name = "carnet",
    version,
    about = "Carnet: the offline-first CRM, in a terminal"
)]
pub struct Cli {
    /// The local store directory.
    #[arg(
        long,
        global = true,
        env = "CARNET_STORE",
        default_value = "carnet-data"
    )]
    store: PathBuf,
    /// Language of the output: fr (default) or en.
    #[arg(
        long,
        global = true,
        env = "CARNET_LANG",
        default_value = "fr",
        value_parser = |s: &str| s.parse::<Lang>()
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
    Account(Box<cmd::account::AccountCmd>),
    /// People at an account.
    #[command(subcommand)]
    Contact(cmd::records::RecordCmd<cmd::records::ContactAdd>),
    /// Deals ("affaires").
    #[command(subcommand)]
    Deal(cmd::records::RecordCmd<cmd::records::DealAdd>),
    /// Follow-up actions ("relances").
    #[command(subcommand)]
    Action(cmd::records::ActionCmd),
    /// Notes on an account's timeline.
    #[command(subcommand)]
    Note(cmd::records::NoteCmd),
    /// Quotes ("devis").
    #[command(subcommand)]
    Quote(cmd::quote::QuoteCmd),
    /// Orders ("commandes").
    #[command(subcommand)]
    Order(cmd::quote::OrderCmd),
    /// The product catalog.
    #[command(subcommand)]
    Product(cmd::catalog::ProductCmd),
    /// The company as quotes state it (legal mentions); admins set it.
    #[command(subcommand)]
    Company(cmd::catalog::CompanyCmd),
    /// Pipeline stages from settings.
    Stages {
        #[arg(long)]
        json: bool,
    },
    /// Bring an existing file in (CSV accounts, vCard contacts).
    #[command(subcommand)]
    Import(cmd::import::ImportCmd),
    /// Lists for a spreadsheet (CSV), contacts for an address book (vCard).
    #[command(subcommand)]
    Export(cmd::export::ExportCmd),
    /// Data quality: key fields not verified for over a year, files to
    /// check, addresses mail or email cannot reach.
    Quality {
        /// Every file on this device, not just mine.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Everything held about one person (a contact id), as JSON: their
    /// right of access.
    Person {
        contact: String,
        #[arg(short, long)]
        output: Option<std::path::PathBuf>,
    },
    /// Customer files that look like one company (same SIRET, SIREN,
    /// email, phone, or name and postcode).
    Duplicates {
        #[arg(long)]
        json: bool,
    },
    /// The documents managers push to reps, to open offline.
    #[command(subcommand)]
    Library(cmd::library::LibraryCmd),
    /// The outbox: messages waiting, sent or failed, newest first.
    Outbox {
        #[arg(long)]
        json: bool,
    },
    /// My to-do list: open actions due up to a date, overdue first.
    Todo {
        #[arg(long)]
        until: Option<String>,
        /// Everyone's actions, not just mine.
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
        /// Write it as a PDF ("édition des actions à effectuer") instead.
        #[arg(long)]
        pdf: Option<std::path::PathBuf>,
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
    Target(cmd::reports::TargetCmd),
    /// Commission tiers and commission for a period.
    #[command(subcommand)]
    Commission(cmd::reports::CommissionCmd),
    /// Fields edited apart on two devices.
    Conflicts {
        #[arg(long)]
        json: bool,
    },
    /// Resolve a conflict.
    #[command(subcommand)]
    Conflict(cmd::conflicts::ConflictCmd),
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
    /// One full exchange with the server, then exit (--watch: stay
    /// connected, print `changed ID` as files change, reconnect when the
    /// connection drops).
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
    Debug(cmd::debug::DebugCmd),
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

fn run(cli: Cli) -> Result<()> {
    use cmd::*;
    let out = Out { lang: cli.lang };
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
        Cmd::Account(c) => account::run(&cli, out, c),
        Cmd::Contact(c) => records::contact(&cli, out, c),
        Cmd::Deal(c) => records::deal(&cli, out, c),
        Cmd::Action(c) => records::action(&cli, out, c),
        Cmd::Note(c) => records::note(&cli, c),
        Cmd::Quote(c) => quote::run(&cli, out, c),
        Cmd::Order(c) => quote::order(&cli, out, c),
        Cmd::Product(c) => catalog::product(&cli, out, c),
        Cmd::Company(c) => catalog::company(&cli, out, c),
        Cmd::Library(c) => library::run(&cli, out, c),
        Cmd::Import(c) => import::run(&cli, out, c),
        Cmd::Export(c) => export::run(&cli, out, c),
        Cmd::Person { contact, output } => {
            let d = open(&cli)?;
            let data = d.person_data(contact)?;
            match output {
                Some(path) => {
                    std::fs::write(path, serde_json::to_vec_pretty(&data)?)?;
                    println!("{}", path.display());
                    Ok(())
                }
                None => out::print_json(&data),
            }
        }
        Cmd::Quality { all, json } => reports::quality(&cli, out, *all, *json),
        Cmd::Duplicates { json } => account::duplicates(&cli, out, *json),
        Cmd::Outbox { json } => quote::outbox(&cli, out, *json),
        Cmd::Stages { json } => catalog::stages(&cli, out, *json),
        Cmd::Todo {
            until,
            all,
            json,
            pdf,
        } => reports::todo(&cli, out, until.as_deref(), *all, *json, pdf.as_deref()),
        Cmd::Pipeline { all, json } => reports::pipeline(&cli, out, *all, *json),
        Cmd::Forecast { months, all, json } => reports::forecast(&cli, out, *months, *all, *json),
        Cmd::Target(c) => reports::target(&cli, out, c),
        Cmd::Commission(c) => reports::commission(&cli, out, c),
        Cmd::Conflicts { json } => conflicts::list(&cli, out, *json),
        Cmd::Conflict(c) => conflicts::run(&cli, out, c),
        Cmd::Login {
            url,
            email,
            password_stdin: _,
            device_name,
        } => sync::login(&cli, out, url, email, device_name),
        Cmd::Sync { watch, timeout } => sync::sync(&cli, out, *watch, *timeout),
        Cmd::Status { json } => sync::status(&cli, out, *json),
        Cmd::Revert { doc } => sync::revert(&cli, out, doc),
        Cmd::Debug(c) => debug::run(&cli, c),
    }
}

/// Opens the store, with `--today` applied.
pub fn open(cli: &Cli) -> Result<Device> {
    let mut d = Device::open(&cli.store)
        .with_context(|| format!("opening store {}", cli.store.display()))?;
    if let Some(today) = &cli.today {
        let day = carnet_core::validate::date("--today", today)?;
        let noon = day
            .and_hms_opt(12, 0, 0)
            .ok_or_else(|| anyhow!("bad date"))?;
        d.set_clock(Some(noon.and_utc().timestamp()));
    }
    Ok(d)
}

pub fn doc_id(s: &str) -> Result<DocId> {
    Ok(s.parse::<DocId>()?)
}
