//! `carnet library`: the documents managers push to reps (brochures,
//! price lists), downloaded to open offline.

use anyhow::{anyhow, Result};
use carnet_core::sync::Replica;
use carnet_core::text::Lang;
use clap::Subcommand;

use crate::out::{print_json, Out};
use crate::{open, Cli};

/// Largest library file this client downloads.
const MAX_BLOB_BYTES: u64 = 2 * 1024 * 1024 * 1024;

#[derive(Subcommand)]
pub enum LibraryCmd {
    /// The documents meant for me, and whether they are on this device.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Download the documents not on this device yet, and the company's
    /// logo; delete those replaced or withdrawn (run after `sync`).
    Fetch,
    /// Print the local path of a document (by title or id), to open it
    /// offline.
    Open { what: String },
}

pub fn run(cli: &Cli, out: Out, cmd: &LibraryCmd) -> Result<()> {
    let d = open(cli)?;
    let items = d.library()?;
    match cmd {
        LibraryCmd::List { json } => {
            if *json {
                let list: Vec<_> = items
                    .iter()
                    .map(|i| serde_json::json!({ "item": i, "path": d.library_file(i) }))
                    .collect();
                return print_json(&list);
            }
            let (here, missing) = match out.lang {
                Lang::Fr => ("sur l'appareil", "à télécharger"),
                Lang::En => ("on this device", "to download"),
            };
            for i in &items {
                println!(
                    "{}  {}  {:.1} MB  {}",
                    i.title,
                    i.file_name,
                    i.size as f64 / 1_048_576.0,
                    if d.library_file(i).is_some() {
                        here
                    } else {
                        missing
                    }
                );
            }
            Ok(())
        }
        LibraryCmd::Fetch => {
            let remote = d
                .remote()?
                .ok_or_else(|| anyhow!("not linked to a server: run `carnet login` first"))?;
            let rt = super::sync::runtime()?;
            let mut fetched = 0;
            for (sha, dest) in d.blobs_to_fetch()? {
                rt.block_on(carnet_core::sync::fetch::fetch_blob(
                    &remote,
                    &sha,
                    &dest,
                    MAX_BLOB_BYTES,
                ))?;
                fetched += 1;
            }
            d.prune_blobs()?;
            println!("{fetched}");
            Ok(())
        }
        LibraryCmd::Open { what } => {
            let item = items
                .iter()
                .find(|i| i.id == *what || i.title == *what)
                .ok_or_else(|| anyhow!("no library document {what:?} for you"))?;
            let path = d.library_file(item).ok_or_else(|| {
                anyhow!(
                    "{} is not on this device yet: run `carnet library fetch`",
                    item.title
                )
            })?;
            println!("{}", path.display());
            Ok(())
        }
    }
}
