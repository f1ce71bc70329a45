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
pub struct DealAdd {
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
pub enum ActionCmd {
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
            let input = NewContact {
                name: a.name.clone(),
                email: a.email.clone(),
                phone: a.phone.clone(),
                mobile: a.mobile.clone(),
                role: a.role.clone(),
                preferred_channel: a.channel.clone(),
                ..NewContact::default()
            };
            println!("{}", d.add_contact(doc_id(&a.account)?, &input.fields())?);
            Ok(())
        }
        RecordCmd::Set { id, field, value } => set(cli, id, field, value),
    }
}

pub fn deal(cli: &Cli, _out: Out, cmd: &RecordCmd<DealAdd>) -> Result<()> {
    match cmd {
        RecordCmd::Add(a) => {
            let mut d = open(cli)?;
            let input = NewDeal {
                title: a.title.clone(),
                amount: a.amount.clone(),
                stage: a.stage.clone(),
                close_date: a.close.clone(),
                probability: a.probability.clone(),
                contact: a.contact.clone(),
                next_step: a.next_step.clone(),
                owner: a.owner.clone(),
            };
            println!("{}", d.add_deal(doc_id(&a.account)?, &input.fields())?);
            Ok(())
        }
        RecordCmd::Set { id, field, value } => set(cli, id, field, value),
    }
}

pub fn action(cli: &Cli, out: Out, cmd: &ActionCmd) -> Result<()> {
    match cmd {
        ActionCmd::Add {
            account,
            action_type,
            due,
            subject,
            assignee,
            deal,
            contact,
        } => {
            let mut d = open(cli)?;
            let input = NewAction {
                action_type: action_type.clone(),
                subject: subject.clone(),
                due: due.clone(),
                assignee: assignee.clone(),
                deal: deal.clone(),
                contact: contact.clone(),
            };
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
