//! `carnet debug`: maintenance commands used by tests and support.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Result};
use carnet_core::store::Durability;
use carnet_core::sync::Replica;
use carnet_core::DocKind;
use clap::Subcommand;

use crate::out::print_json;
use crate::{doc_id, open, Cli};

#[derive(Subcommand)]
pub enum DebugCmd {
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

pub fn run(cli: &Cli, cmd: &DebugCmd) -> Result<()> {
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
                d.set_account_field(id, "postcode", "75011")?;
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
