//! `carnet contact|deal|action|note`: the records of a customer file.

use anyhow::Result;
use carnet_core::model::{NewAction, NewContact, NewDeal};
use carnet_core::text::Label;
use clap::{Args, Subcommand};

use crate::out::Out;
use crate::{doc_id, open, Cli};

#[derive(Subcommand)]
pub enum RecordCmd<A: Args> {
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
pub struct ContactAdd {
    account: String,
    #[command(flatten)]
    input: NewContact,
}

#[derive(Args)]
pub struct DealAdd {
    account: String,
    #[command(flatten)]
    input: NewDeal,
}

#[derive(Subcommand)]
pub enum ActionCmd {
    /// Plan an action; prints its id.
    Add {
        account: String,
        #[command(flatten)]
        input: NewAction,
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
pub enum NoteCmd {
    /// Add a note; prints its id.
    Add { account: String, text: String },
}

/// Sets a field of a record found by id, and says so.
fn set(cli: &Cli, id: &str, field: &str, value: &str) -> Result<()> {
    let mut d = open(cli)?;
    d.set_record_field(id, field, value)?;
    println!("{field} = {value:?}");
    Ok(())
}

pub fn contact(cli: &Cli, _out: Out, cmd: &RecordCmd<ContactAdd>) -> Result<()> {
    match cmd {
        RecordCmd::Add(a) => {
            let mut d = open(cli)?;
            println!("{}", d.add_contact(doc_id(&a.account)?, &a.input.fields())?);
            Ok(())
        }
        RecordCmd::Set { id, field, value } => set(cli, id, field, value),
    }
}

pub fn deal(cli: &Cli, _out: Out, cmd: &RecordCmd<DealAdd>) -> Result<()> {
    match cmd {
        RecordCmd::Add(a) => {
            let mut d = open(cli)?;
            println!("{}", d.add_deal(doc_id(&a.account)?, &a.input.fields())?);
            Ok(())
        }
        RecordCmd::Set { id, field, value } => set(cli, id, field, value),
    }
}

pub fn action(cli: &Cli, out: Out, cmd: &ActionCmd) -> Result<()> {
    match cmd {
        ActionCmd::Add { account, input } => {
            let mut d = open(cli)?;
            println!("{}", d.add_action(doc_id(account)?, &input.fields())?);
            Ok(())
        }
        ActionCmd::Done { id, outcome, on } => {
            let mut d = open(cli)?;
            let on = on
                .as_deref()
                .map(|s| carnet_core::validate::date("--on", s))
                .transpose()?;
            d.complete_action(id, outcome.as_deref(), on)?;
            let day = on.unwrap_or_else(|| d.today());
            println!("{} {}", out.t(Label::Done), out.date(day));
            Ok(())
        }
        ActionCmd::Set { id, field, value } => set(cli, id, field, value),
    }
}

pub fn note(cli: &Cli, cmd: &NoteCmd) -> Result<()> {
    match cmd {
        NoteCmd::Add { account, text } => {
            let mut d = open(cli)?;
            println!("{}", d.add_note(doc_id(account)?, text)?);
            Ok(())
        }
    }
}
