//! `carnet quote`: quotes ("devis") and accepting them into orders.

use anyhow::Result;
use carnet_core::model::{NewQuote, NewQuoteLine, Quote};
use carnet_core::text::{self, Label, Lang};
use clap::Subcommand;

use crate::out::{print_json, Out};
use crate::{doc_id, open, Cli};

#[derive(Subcommand)]
pub enum QuoteCmd {
    /// Draft a quote; prints its id.
    Add {
        account: String,
        #[command(flatten)]
        input: NewQuote,
    },
    /// Add a line from the catalog (--product) or free (--label).
    Line {
        quote: String,
        #[command(flatten)]
        line: NewQuoteLine,
    },
    /// A quote with its lines and totals.
    Show {
        quote: String,
        #[arg(long)]
        json: bool,
    },
    /// Set its status: draft, sent, refused, expired (accepted: as `accept`).
    Status { quote: String, status: String },
    /// Revise it: a new draft with the same lines, linked to this one
    /// (which then reads "superseded"); prints the revision's id.
    Revise { quote: String },
    /// Accept it and create the order; prints the order id.
    Accept { quote: String },
    /// Mark it sent, once it carries every legal mention (refused with the
    /// list of what is missing otherwise). With --to, also email it, PDF
    /// attached: the message waits in the outbox (offline too) and the
    /// server sends it after the next sync (`carnet outbox` follows it).
    Send {
        quote: String,
        /// The recipient's address.
        #[arg(long)]
        to: Option<String>,
        /// The message above the attachment (a default one otherwise).
        #[arg(long, requires = "to")]
        message: Option<String>,
        /// A library document to attach too, by title (repeat for more).
        #[arg(long = "attach", requires = "to")]
        attach: Vec<String>,
    },
    /// The legal mentions it still lacks before it can be sent.
    Check { quote: String },
    /// Write it as a PDF (made here, offline).
    Pdf {
        quote: String,
        /// Where to write it.
        #[arg(short, long)]
        output: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
pub enum OrderCmd {
    /// Write an order as a PDF ("bon de commande"), made here, offline.
    Pdf {
        order: String,
        #[arg(short, long)]
        output: std::path::PathBuf,
    },
}

pub fn order(cli: &Cli, out: Out, cmd: &OrderCmd) -> Result<()> {
    match cmd {
        OrderCmd::Pdf { order, output } => {
            let d = open(cli)?;
            std::fs::write(output, d.order_pdf(order, out.lang)?)?;
            println!("{}", output.display());
            Ok(())
        }
    }
}

pub fn run(cli: &Cli, out: Out, cmd: &QuoteCmd) -> Result<()> {
    match cmd {
        QuoteCmd::Add { account, input } => {
            let mut d = open(cli)?;
            println!("{}", d.create_quote(doc_id(account)?, &input.fields())?);
            Ok(())
        }
        QuoteCmd::Line { quote, line } => {
            let mut d = open(cli)?;
            println!("{}", d.add_quote_line(quote, line)?);
            Ok(())
        }
        QuoteCmd::Show { quote, json } => {
            let d = open(cli)?;
            let (_, q) = d.quote(quote)?;
            if *json {
                return print_json(&q);
            }
            print_quote(out, &q, d.today());
            Ok(())
        }
        QuoteCmd::Status { quote, status } => {
            let mut d = open(cli)?;
            d.set_record_field(quote, "status", status)?;
            println!(
                "{}",
                text::quote_status(&d.quote(quote)?.1.status, out.lang)
            );
            Ok(())
        }
        QuoteCmd::Revise { quote } => {
            let mut d = open(cli)?;
            println!("{}", d.revise_quote(quote)?);
            Ok(())
        }
        QuoteCmd::Accept { quote } => {
            let mut d = open(cli)?;
            println!("{}", d.accept_quote(quote)?);
            Ok(())
        }
        QuoteCmd::Send {
            quote,
            to,
            message,
            attach,
        } => {
            let mut d = open(cli)?;
            match to {
                Some(to) => {
                    let library = d.library()?;
                    let mut blobs = Vec::new();
                    for title in attach {
                        let item = library
                            .iter()
                            .find(|i| i.title == *title || i.id == *title)
                            .ok_or_else(|| {
                                anyhow::anyhow!("no library document {title:?} for you")
                            })?;
                        blobs.push(item.blob.clone());
                    }
                    let message = message.as_deref().unwrap_or("");
                    let id = d.email_quote(quote, to, message, &blobs, out.lang)?;
                    println!("{id}");
                    eprintln!(
                        "{}",
                        match out.lang {
                            Lang::Fr =>
                                "dans la boîte d'envoi : il part après la prochaine synchronisation",
                            Lang::En => "in the outbox: it leaves after the next sync",
                        }
                    );
                }
                None => {
                    d.send_quote(quote)?;
                    println!("{}", text::quote_status("sent", out.lang));
                }
            }
            Ok(())
        }
        QuoteCmd::Pdf { quote, output } => {
            let d = open(cli)?;
            let bytes = d.quote_pdf(quote, out.lang)?;
            std::fs::write(output, &bytes)?;
            println!("{}", output.display());
            Ok(())
        }
        QuoteCmd::Check { quote } => {
            let d = open(cli)?;
            let missing = d.quote_missing_mentions(quote)?;
            for m in &missing {
                println!("{}", m.label(out.lang));
            }
            if missing.is_empty() {
                println!(
                    "{}",
                    match out.lang {
                        Lang::Fr => "toutes les mentions légales sont présentes",
                        Lang::En => "every legal mention is there",
                    }
                );
            }
            Ok(())
        }
    }
}

/// `carnet outbox`: every message of the files on this device.
pub fn outbox(cli: &Cli, out: Out, json: bool) -> Result<()> {
    let d = open(cli)?;
    let rows = d.outbox();
    if json {
        let list: Vec<_> = rows
            .iter()
            .map(|(doc, e)| serde_json::json!({ "account": doc.to_string(), "email": e }))
            .collect();
        return print_json(&list);
    }
    if rows.is_empty() {
        println!("{}", out.t(Label::OutboxEmpty));
        return Ok(());
    }
    let mut tb = out.table(
        &[
            out.t(Label::When),
            out.t(Label::Recipient),
            out.t(Label::Subject),
            out.t(Label::Status),
            out.t(Label::Attempts),
            out.t(Label::Detail),
        ],
        &[4],
    );
    for (_, e) in &rows {
        let detail = match (e.status.as_str(), &e.error, e.next_attempt) {
            ("queued", Some(err), Some(next)) => format!("{err} → {}", out.date_time(next)),
            ("sent", _, _) => format!(
                "{} {}",
                e.sent_at.map(|t| out.date_time(t)).unwrap_or_default(),
                e.message_id.as_deref().unwrap_or("")
            ),
            (_, Some(err), _) => err.clone(),
            _ => String::new(),
        };
        tb.add_row(vec![
            out.date_time(e.created_at),
            e.to.clone(),
            e.subject.clone(),
            text::email_status(&e.status, out.lang).to_string(),
            e.attempts.to_string(),
            detail,
        ]);
    }
    println!("{}\n{tb}", out.t(Label::Outbox));
    Ok(())
}

fn print_quote(out: Out, q: &Quote, today: chrono::NaiveDate) {
    let provisional = if q.provisional {
        out.t(Label::Provisional)
    } else {
        ""
    };
    println!(
        "{} {} {provisional} — {} — {}",
        out.t(Label::Quotes),
        q.number,
        text::quote_status(q.status_on(today), out.lang),
        q.id
    );
    let mut tb = out.table(
        &[
            out.t(Label::LineLabel),
            out.t(Label::Qty),
            out.t(Label::UnitPrice),
            out.t(Label::Discount),
            out.t(Label::Vat),
            out.t(Label::Net),
        ],
        &[1, 2, 3, 4, 5],
    );
    for l in &q.lines {
        tb.add_row(vec![
            l.label.clone(),
            out.number(l.qty),
            out.amount(l.unit_price, &q.currency),
            out.number(l.discount),
            out.number(l.vat_rate),
            out.amount(l.net, &q.currency),
        ]);
    }
    println!("{tb}");
    println!(
        "{:<20} {:>16}",
        out.t(Label::TotalNet),
        out.amount(q.totals.net, &q.currency)
    );
    for v in &q.totals.vat_lines {
        println!(
            "{:<20} {:>16} ({} {})",
            format!("{} {}", out.t(Label::VatAt), out.rate(v.rate)),
            out.amount(v.vat, &q.currency),
            out.t(Label::Base).to_lowercase(),
            out.amount(v.base, &q.currency)
        );
    }
    println!(
        "{:<20} {:>16}",
        out.t(Label::TotalGross),
        out.amount(q.totals.gross, &q.currency)
    );
}
