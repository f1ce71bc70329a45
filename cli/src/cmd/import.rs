//! `carnet import`: bring an existing customer file in from a CSV.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result};
use carnet_core::import::{self, Outcome, Overrides, Report};
use carnet_core::text::Lang;
use clap::Subcommand;

use crate::out::{print_json, Out};
use crate::{open, Cli};

#[derive(Subcommand)]
pub enum ImportCmd {
    /// Accounts and their contacts from a CSV (comma or semicolon, UTF-8
    /// or Windows-1252); columns are recognized from their headers.
    Accounts(import::ImportArgs),
    /// A list of returned mail after a mailing (NPAI), or with --bounced
    /// of bounced email addresses: the files it names are marked, left out
    /// of the next mailing and listed for correction (`carnet quality`).
    Returned {
        file: PathBuf,
        #[arg(long)]
        bounced: bool,
        #[arg(long)]
        json: bool,
    },
    /// Contacts from a vCard 3.0 or 4.0 file: into `--account`, else into
    /// the file named by each card's company (ORG), created if needed.
    Vcard {
        file: PathBuf,
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

/// A progress bar on a terminal, nothing otherwise.
pub fn progress_bar(len: u64) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} ({eta})",
    ) {
        bar.set_style(style);
    }
    bar
}

pub fn run(cli: &Cli, out: Out, cmd: &ImportCmd) -> Result<()> {
    match cmd {
        ImportCmd::Accounts(import::ImportArgs {
            file,
            dry_run,
            mapping,
            json,
            verified_on,
        }) => {
            let overrides = match mapping {
                Some(p) => import::read_mapping(p)?,
                None => Overrides::new(),
            };
            let f =
                std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
            let bar = progress_bar(f.metadata().map(|m| m.len()).unwrap_or(0));
            let mut d = open(cli)?;
            let report = d.import_accounts(
                std::io::BufReader::new(f),
                &overrides,
                &import::Options {
                    dry_run: *dry_run,
                    lang: out.lang,
                    verified_on: *verified_on,
                },
                &mut |n| bar.set_position(n),
            )?;
            bar.finish_and_clear();
            if *json {
                return print_json(&report);
            }
            print_report(out, &report);
            Ok(())
        }
        ImportCmd::Returned {
            file,
            bounced,
            json,
        } => {
            let f =
                std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
            let mut d = open(cli)?;
            let r = d.import_returned(std::io::BufReader::new(f), *bounced)?;
            if *json {
                return print_json(&r);
            }
            let fr = out.lang == Lang::Fr;
            if fr {
                println!(
                    "dossiers marqués : {} · déjà marqués : {} · sans correspondance : {}",
                    r.marked,
                    r.already,
                    r.unmatched.len()
                );
            } else {
                println!(
                    "files marked: {} · already marked: {} · unmatched: {}",
                    r.marked,
                    r.already,
                    r.unmatched.len()
                );
            }
            for u in &r.unmatched {
                println!(
                    "  {} {} : {}",
                    if fr { "ligne" } else { "line" },
                    u.line,
                    u.reason
                );
            }
            Ok(())
        }
        ImportCmd::Vcard {
            file,
            account,
            json,
        } => {
            let text = carnet_core::device::read_vcard_file(file)?;
            let mut d = open(cli)?;
            let account = account.as_deref().map(crate::doc_id).transpose()?;
            let r = d.import_vcard(&text, account)?;
            if *json {
                return print_json(&r);
            }
            let fr = out.lang == Lang::Fr;
            if fr {
                println!(
                    "contacts ajoutés : {} · dossiers créés : {} · déjà présents : {} · rejetés : {}",
                    r.contacts_added, r.accounts_created, r.duplicates, r.rejected.len()
                );
            } else {
                println!(
                    "contacts added: {} · files created: {} · already there: {} · rejected: {}",
                    r.contacts_added,
                    r.accounts_created,
                    r.duplicates,
                    r.rejected.len()
                );
            }
            for (n, why) in &r.rejected {
                println!("  {} {n} : {why}", if fr { "fiche" } else { "card" });
            }
            Ok(())
        }
    }
}

pub fn print_report(out: Out, r: &Report) {
    let fr = out.lang == Lang::Fr;
    if fr {
        println!(
            "créés : {} · mis à jour : {} · doublons : {} · rejetés : {} · lignes vides : {} · contacts : {}",
            r.created, r.updated, r.duplicates, r.rejected, r.blank, r.contacts
        );
    } else {
        println!(
            "created: {} · updated: {} · duplicates: {} · rejected: {} · blank rows: {} · contacts: {}",
            r.created, r.updated, r.duplicates, r.rejected, r.blank, r.contacts
        );
    }
    if r.dry_run {
        println!(
            "{}",
            if fr {
                "simulation : rien n'a été écrit"
            } else {
                "dry run: nothing was written"
            }
        );
    }
    let cols: Vec<String> = r
        .columns
        .iter()
        .map(|c| match &c.field {
            Some(f) => format!("{} → {f}", c.header),
            None => format!("{} → -", c.header),
        })
        .collect();
    println!(
        "{} {}",
        if fr { "colonnes :" } else { "columns:" },
        cols.join(", ")
    );
    if r.rows.is_empty() {
        return;
    }
    let mut tb = out.table(
        &[
            if fr { "ligne" } else { "line" },
            if fr { "résultat" } else { "outcome" },
            if fr { "motif" } else { "reason" },
        ],
        &[0],
    );
    for n in &r.rows {
        let what = match (n.outcome, fr) {
            (Outcome::Duplicate, true) => "doublon",
            (Outcome::Duplicate, false) => "duplicate",
            (Outcome::Rejected, true) => "rejetée",
            (Outcome::Rejected, false) => "rejected",
        };
        tb.add_row(vec![n.line.to_string(), what.to_string(), n.reason.clone()]);
    }
    println!("{tb}");
    if r.rows_omitted > 0 {
        println!("… +{}", r.rows_omitted);
    }
}
