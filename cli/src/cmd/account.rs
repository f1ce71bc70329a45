//! `carnet account`: customer files.

use anyhow::Result;
use carnet_core::model::{AccountFile, NewAccount};
use carnet_core::text::Label;
use clap::Subcommand;

use crate::out::{print_json, Out};
use crate::{doc_id, open, Cli};

#[derive(Subcommand)]
pub enum AccountCmd {
    /// Create a customer file; prints its id.
    Add(Box<NewAccount>),
    /// List or search customer files.
    List {
        #[arg(long)]
        search: Option<String>,
        #[arg(long, default_value_t = 200)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Write the customer file as a PDF to print ("dossier client"), made
    /// here, offline.
    Pdf {
        id: String,
        #[arg(short, long)]
        output: std::path::PathBuf,
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
    /// Confirm key fields are still right ("vérifié ce jour"): address,
    /// phone, email, roles (every contact's); all of them by default.
    Verify { id: String, fields: Vec<String> },
    /// Mail to this address came back ("NPAI"): left out of mailings until
    /// the address is corrected (--clear: it was a mistake).
    Npai {
        id: String,
        #[arg(long)]
        clear: bool,
    },
    /// Email to this account bounced: left out of mailings until corrected.
    Bounced {
        id: String,
        #[arg(long)]
        clear: bool,
    },
    /// Who changed what, when.
    History {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cli: &Cli, out: Out, cmd: &AccountCmd) -> Result<()> {
    match cmd {
        AccountCmd::Add(a) => {
            let mut d = open(cli)?;
            let fields = a.fields();
            // Checked against this device's copy, offline too.
            for hit in d.duplicates_of(&fields) {
                eprintln!("{}", duplicate_warning(out, &hit));
            }
            println!("{}", d.create_account(&fields)?);
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
                println!("{}", out.t(Label::NoAccounts));
                return Ok(());
            }
            let mut tb = out.table(
                &[
                    "id",
                    out.t(Label::Name),
                    out.t(Label::Status),
                    out.t(Label::Postcode),
                    out.t(Label::City),
                    out.t(Label::Owner),
                ],
                &[],
            );
            for h in hits {
                let name = match &h.contact {
                    Some(c) => format!("{} ({c})", h.name),
                    None => h.name,
                };
                tb.add_row(vec![
                    h.id.to_string(),
                    name,
                    h.status,
                    h.postcode.unwrap_or_default(),
                    h.city.unwrap_or_default(),
                    h.owner,
                ]);
            }
            println!("{tb}");
            Ok(())
        }
        AccountCmd::Pdf { id, output } => {
            let d = open(cli)?;
            std::fs::write(output, d.account_pdf(doc_id(id)?, out.lang)?)?;
            println!("{}", output.display());
            Ok(())
        }
        AccountCmd::Show { id, json } => {
            let d = open(cli)?;
            let f = d.account_file(doc_id(id)?)?;
            if *json {
                return print_json(&f);
            }
            print_account(out, &f);
            Ok(())
        }
        AccountCmd::Verify { id, fields } => {
            let mut d = open(cli)?;
            d.verify_account(doc_id(id)?, fields)?;
            println!(
                "{}",
                if out.lang == carnet_core::text::Lang::Fr {
                    "vérifié"
                } else {
                    "verified"
                }
            );
            Ok(())
        }
        AccountCmd::Npai { id, clear } => {
            let mut d = open(cli)?;
            d.mark_returned_mail(doc_id(id)?, !clear)?;
            println!("returned_mail = {}", !clear);
            Ok(())
        }
        AccountCmd::Bounced { id, clear } => {
            let mut d = open(cli)?;
            d.mark_email_bounced(doc_id(id)?, !clear)?;
            println!("email_bounced = {}", !clear);
            Ok(())
        }
        AccountCmd::Set { id, field, value } => {
            let mut d = open(cli)?;
            let field = field.strip_prefix("account/").unwrap_or(field);
            d.set_account_field(doc_id(id)?, field, value)?;
            println!("{field} = {value:?}");
            Ok(())
        }
        AccountCmd::History { id, json } => {
            let d = open(cli)?;
            let h = d.history(doc_id(id)?)?;
            if *json {
                return print_json(&h);
            }
            let mut tb = out.table(
                &[
                    out.t(Label::When),
                    out.t(Label::Who),
                    out.t(Label::Field),
                    out.t(Label::Before),
                    out.t(Label::After),
                ],
                &[],
            );
            for e in &h {
                let when = out.date_time(e.time);
                for c in &e.changes {
                    tb.add_row(vec![
                        when.clone(),
                        e.author
                            .clone()
                            .unwrap_or_else(|| e.actor.chars().take(8).collect()),
                        c.path.clone(),
                        c.old.clone().unwrap_or_default(),
                        c.new.clone().unwrap_or_default(),
                    ]);
                }
            }
            println!("{tb}");
            Ok(())
        }
    }
}

fn print_account(out: Out, f: &AccountFile) {
    let a = &f.account;
    println!("{} [{}] — {}", a.name, a.status, a.id);
    let mut info = Vec::new();
    for (label, v) in [
        ("SIRET", &a.siret),
        ("TVA", &a.vat_number),
        ("NAF", &a.naf),
        (out.t(Label::Phone), &a.phone),
        (out.t(Label::Email), &a.email),
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
    info.push(format!("{}: {}", out.t(Label::Owner), a.owner));
    if !a.tags.is_empty() {
        info.push(format!("{}: {}", out.t(Label::Tags), a.tags.join(", ")));
    }
    for line in info {
        println!("  {line}");
    }
    if !a.expectations.is_empty() {
        println!("  {}: {}", out.t(Label::Expectations), a.expectations);
    }
    for (k, v) in &a.custom {
        println!("  {k}: {v}");
    }
    if !f.contacts.is_empty() {
        println!("\n{}", out.t(Label::Contacts));
        let mut tb = out.table(
            &[
                "id",
                out.t(Label::Name),
                out.t(Label::Role),
                out.t(Label::Phone),
                out.t(Label::Email),
            ],
            &[],
        );
        for c in &f.contacts {
            tb.add_row(vec![
                c.id.clone(),
                c.name.clone(),
                c.role.clone().unwrap_or_default(),
                c.phone.clone().or(c.mobile.clone()).unwrap_or_default(),
                c.email.clone().unwrap_or_default(),
            ]);
        }
        println!("{tb}");
    }
    if !f.deals.is_empty() {
        println!("\n{}", out.t(Label::Deals));
        let mut tb = out.table(
            &[
                "id",
                out.t(Label::Name),
                out.t(Label::Stage),
                out.t(Label::Amount),
                out.t(Label::Close),
            ],
            &[3],
        );
        for d in &f.deals {
            tb.add_row(vec![
                d.id.clone(),
                d.title.clone(),
                d.stage.clone(),
                out.amount(d.amount.cents, &d.amount.currency),
                out.opt_date(d.close_date),
            ]);
        }
        println!("{tb}");
    }
    if !f.actions.is_empty() {
        println!("\n{}", out.t(Label::Actions));
        let mut tb = out.table(
            &[
                "id",
                out.t(Label::Due),
                out.t(Label::Type),
                out.t(Label::Subject),
                out.t(Label::Status),
            ],
            &[],
        );
        for a in &f.actions {
            tb.add_row(vec![
                a.id.clone(),
                out.opt_date(a.due),
                a.action_type.clone(),
                a.subject.clone(),
                match a.done_on {
                    Some(d) => format!("{} {}", out.t(Label::Done), out.date(d)),
                    None => out.t(Label::Open).to_string(),
                },
            ]);
        }
        println!("{tb}");
    }
    if !f.quotes.is_empty() {
        println!("\n{}", out.t(Label::Quotes));
        let mut tb = out.table(
            &[
                "id",
                out.t(Label::Number),
                out.t(Label::Status),
                out.t(Label::TotalNet),
                out.t(Label::TotalGross),
            ],
            &[3, 4],
        );
        for q in &f.quotes {
            tb.add_row(vec![
                q.id.clone(),
                q.number.clone(),
                q.status.clone(),
                out.amount(q.totals.net, &q.currency),
                out.amount(q.totals.gross, &q.currency),
            ]);
        }
        println!("{tb}");
    }
    if !f.orders.is_empty() {
        println!("\n{}", out.t(Label::Orders));
        let mut tb = out.table(
            &[
                "id",
                out.t(Label::Number),
                out.t(Label::Date),
                out.t(Label::TotalNet),
            ],
            &[3],
        );
        for o in &f.orders {
            tb.add_row(vec![
                o.id.clone(),
                o.number.clone(),
                out.opt_date(o.date),
                out.amount(o.totals.net, &o.currency),
            ]);
        }
        println!("{tb}");
    }
    if !f.notes.is_empty() {
        println!("\n{}", out.t(Label::Notes));
        for n in &f.notes {
            println!("  {} {}: {}", out.date_time(n.created_at), n.author, n.body);
        }
    }
    if f.conflicts > 0 {
        println!(
            "\n{}: {} (carnet conflicts)",
            out.t(Label::ConflictIn),
            f.conflicts
        );
    }
}

/// "attention : doublon probable de « Martin » (69003 Lyon, même SIRET) : ID".
pub fn duplicate_warning(out: Out, hit: &carnet_core::device::DuplicateHit) -> String {
    let place = [hit.postcode.as_deref(), hit.city.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    match out.lang {
        carnet_core::text::Lang::Fr => format!(
            "attention : doublon probable de « {} » ({place}, {}) : {}",
            hit.name,
            hit.reason.text(out.lang),
            hit.id
        ),
        carnet_core::text::Lang::En => format!(
            "warning: likely duplicate of \"{}\" ({place}, {}): {}",
            hit.name,
            hit.reason.text(out.lang),
            hit.id
        ),
    }
}

/// `carnet duplicates`: groups of files that look like one company.
pub fn duplicates(cli: &Cli, out: Out, json: bool) -> Result<()> {
    let d = open(cli)?;
    let groups = d.duplicate_groups();
    if json {
        return print_json(&groups);
    }
    let fr = out.lang == carnet_core::text::Lang::Fr;
    if groups.is_empty() {
        println!("{}", if fr { "aucun doublon" } else { "no duplicates" });
        return Ok(());
    }
    for (i, g) in groups.iter().enumerate() {
        println!("{} {}", if fr { "groupe" } else { "group" }, i + 1);
        for m in &g.members {
            let name = d
                .index()
                .get(*m)
                .and_then(|r| r.account.as_ref())
                .map(|a| format!("{} ({})", a.name, a.postcode.clone().unwrap_or_default()))
                .unwrap_or_default();
            println!("  {m}  {name}");
        }
        for (a, b, r) in &g.links {
            println!("    {a} ~ {b} : {}", r.text(out.lang));
        }
    }
    Ok(())
}
