//! `carnet conflicts` and `carnet conflict resolve`.

use anyhow::Result;
use carnet_core::text::Label;
use clap::Subcommand;

use crate::out::{print_json, Out};
use crate::{doc_id, open, Cli};

#[derive(Subcommand)]
pub enum ConflictCmd {
    /// Keep VALUE for the field at PATH of document DOC.
    Resolve {
        doc: String,
        path: String,
        value: String,
    },
}

pub fn list(cli: &Cli, out: Out, json: bool) -> Result<()> {
    let d = open(cli)?;
    let c = d.conflicts()?;
    if json {
        return print_json(&c);
    }
    if c.is_empty() {
        println!("{}", out.t(Label::NoConflicts));
        return Ok(());
    }
    for x in &c {
        println!("{} {} {}", out.t(Label::ConflictIn), x.doc, x.path);
        for v in &x.values {
            let shown = if v.shown {
                format!(" ({})", out.t(Label::Shown))
            } else {
                String::new()
            };
            println!(
                "  {:?} — {} {}{shown}",
                v.value,
                v.author.as_deref().unwrap_or(&v.actor),
                out.date_time(v.time)
            );
        }
    }
    Ok(())
}

pub fn run(cli: &Cli, _out: Out, cmd: &ConflictCmd) -> Result<()> {
    match cmd {
        ConflictCmd::Resolve { doc, path, value } => {
            let mut d = open(cli)?;
            d.resolve_conflict(doc_id(doc)?, path, value)?;
            println!("{path} = {value:?}");
            Ok(())
        }
    }
}
