//! `carnet export`: lists for a spreadsheet, contacts for an address book.

use std::path::PathBuf;

use anyhow::Result;
use carnet_core::export::Audience;
use clap::Subcommand;

use crate::out::Out;
use crate::{doc_id, open, Cli};

#[derive(Subcommand)]
pub enum ExportCmd {
    /// My customer files as CSV (semicolons, re-importable): `all` (one row
    /// per contact), `mailing` (returned mail left out) or `emailing`
    /// (bounced and refused left out).
    Accounts {
        #[arg(long, default_value = "all")]
        audience: String,
        /// Every file on this device, not just mine.
        #[arg(long)]
        all: bool,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Contacts as vCard 4.0: of one file, or of all my files.
    Vcard {
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        all: bool,
        #[arg(short, long)]
        output: PathBuf,
    },
}

pub fn run(cli: &Cli, _out: Out, cmd: &ExportCmd) -> Result<()> {
    let d = open(cli)?;
    match cmd {
        ExportCmd::Accounts {
            audience,
            all,
            output,
        } => {
            let audience: Audience = audience.parse()?;
            std::fs::write(output, d.export_accounts(&d.scope(*all), audience)?)?;
            println!("{}", output.display());
        }
        ExportCmd::Vcard {
            account,
            all,
            output,
        } => {
            let account = account.as_deref().map(doc_id).transpose()?;
            std::fs::write(output, d.export_vcard(account, &d.scope(*all))?)?;
            println!("{}", output.display());
        }
    }
    Ok(())
}
