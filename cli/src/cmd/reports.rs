//! `carnet todo|pipeline|forecast|target|commission`: the reports.

use anyhow::{anyhow, Result};
use carnet_core::reports::{ForecastBucket, Period};
use carnet_core::text::Label;
use carnet_core::Device;
use clap::Subcommand;

use crate::out::{print_json, Out};
use crate::{open, Cli};

#[derive(Subcommand)]
pub enum TargetCmd {
    /// Set a target for a period (2026, 2026-Q4, 2026-11).
    Set {
        #[arg(long)]
        period: String,
        #[arg(long)]
        amount: String,
        #[arg(long)]
        user: Option<String>,
    },
    /// Target, actual orders and variance for a period.
    Show {
        #[arg(long)]
        period: Option<String>,
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum CommissionCmd {
    /// Replace the tiers: --tier FROM_PCT_OF_TARGET:RATE (e.g. 0:3 100:5).
    Tiers {
        #[arg(long = "tier", required = true)]
        tiers: Vec<String>,
        #[arg(long)]
        user: Option<String>,
    },
    /// Commission for a period.
    Show {
        #[arg(long)]
        period: Option<String>,
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

fn period_or_month(d: &Device, p: &Option<String>) -> Result<Period> {
    Ok(match p {
        Some(p) => p.parse()?,
        None => Period::month_of(d.today()),
    })
}

pub fn todo(
    cli: &Cli,
    out: Out,
    until: Option<&str>,
    all: bool,
    json: bool,
    pdf: Option<&std::path::Path>,
) -> Result<()> {
    let d = open(cli)?;
    let until = match until {
        Some(u) => carnet_core::validate::date("--until", u)?,
        None => d.today(),
    };
    if let Some(path) = pdf {
        std::fs::write(path, d.todo_pdf(&d.scope(all), until, out.lang)?)?;
        println!("{}", path.display());
        return Ok(());
    }
    let items = d.todo(&d.scope(all), until);
    if json {
        return print_json(&items);
    }
    if items.is_empty() {
        println!("{}", out.t(Label::NothingTodo));
        print_to_check(out, &d, all);
        return Ok(());
    }
    let mut tb = out.table(
        &[
            out.t(Label::Due),
            out.t(Label::Late),
            out.t(Label::Type),
            out.t(Label::Account),
            out.t(Label::Subject),
        ],
        &[1],
    );
    for i in items {
        tb.add_row(vec![
            out.date(i.due),
            if i.overdue {
                format!("{} {}", i.days_late, out.t(Label::DaysShort))
            } else {
                String::new()
            },
            i.action_type,
            i.account,
            i.subject,
        ]);
    }
    println!("{tb}");
    print_to_check(out, &d, all);
    Ok(())
}

pub fn pipeline(cli: &Cli, out: Out, all: bool, json: bool) -> Result<()> {
    let d = open(cli)?;
    let p = d.pipeline(&d.scope(all));
    if json {
        return print_json(&p);
    }
    let c = &p.currency;
    let mut tb = out.table(
        &[
            out.t(Label::Stage),
            out.t(Label::Prob),
            out.t(Label::Count),
            out.t(Label::Amount),
            out.t(Label::Weighted),
        ],
        &[1, 2, 3, 4],
    );
    for s in &p.stages {
        tb.add_row(vec![
            s.label.clone(),
            out.rate(s.probability),
            s.count.to_string(),
            out.amount(s.amount, c),
            out.amount(s.weighted, c),
        ]);
    }
    tb.add_row(vec![
        out.t(Label::TotalOpen).to_string(),
        String::new(),
        p.open_count.to_string(),
        out.amount(p.open_amount, c),
        out.amount(p.open_weighted, c),
    ]);
    println!("{tb}");
    Ok(())
}

pub fn forecast(cli: &Cli, out: Out, months: u32, all: bool, json: bool) -> Result<()> {
    let d = open(cli)?;
    let f = d.forecast(&d.scope(all), months);
    if json {
        return print_json(&f);
    }
    let c = &f.currency;
    let mut tb = out.table(
        &[
            out.t(Label::Month),
            out.t(Label::Count),
            out.t(Label::Amount),
            out.t(Label::Weighted),
            out.t(Label::Won),
        ],
        &[1, 2, 3, 4],
    );
    let mut row = |label: String, b: &ForecastBucket| {
        tb.add_row(vec![
            label,
            b.open_count.to_string(),
            out.amount(b.amount, c),
            out.amount(b.weighted, c),
            out.amount(b.won, c),
        ]);
    };
    row(out.t(Label::PastClose).to_string(), &f.overdue);
    for m in &f.months {
        row(m.month.clone(), m);
    }
    row(out.t(Label::Undated).to_string(), &f.undated);
    println!("{tb}");
    Ok(())
}

pub fn target(cli: &Cli, out: Out, cmd: &TargetCmd) -> Result<()> {
    match cmd {
        TargetCmd::Set {
            period,
            amount,
            user,
        } => {
            let mut d = open(cli)?;
            let user = d.user_or_me(user.as_deref());
            let period = period.parse::<Period>()?;
            d.set_target(&user, period, amount)?;
            let r = d.variance(&user, period)?;
            let target = r.target.unwrap_or_default();
            println!(
                "{user} — {period}: {} {}",
                out.t(Label::Target),
                out.amount(target, &r.currency)
            );
            Ok(())
        }
        TargetCmd::Show { period, user, json } => {
            let d = open(cli)?;
            let user = d.user_or_me(user.as_deref());
            let period = period_or_month(&d, period)?;
            let r = d.variance(&user, period)?;
            if *json {
                return print_json(&r);
            }
            println!("{} — {}", r.user, r.period);
            let money = |c: Option<i64>| {
                c.map(|c| out.amount(c, &r.currency))
                    .unwrap_or_else(|| out.t(Label::NoTarget).to_string())
            };
            println!("{:<12} {}", out.t(Label::Target), money(r.target));
            println!(
                "{:<12} {} ({} {})",
                out.t(Label::Actual),
                out.amount(r.actual, &r.currency),
                r.orders,
                out.t(Label::Orders).to_lowercase()
            );
            println!("{:<12} {}", out.t(Label::Variance), money(r.variance));
            if let Some(p) = r.attainment_pct {
                println!("{:<12} {}", out.t(Label::Attainment), out.rate(p));
            }
            Ok(())
        }
    }
}

pub fn commission(cli: &Cli, out: Out, cmd: &CommissionCmd) -> Result<()> {
    match cmd {
        CommissionCmd::Tiers { tiers, user } => {
            let mut d = open(cli)?;
            let user = d.user_or_me(user.as_deref());
            let parsed = tiers
                .iter()
                .map(|t| {
                    t.split_once(':')
                        .map(|(a, b)| (a.to_string(), b.to_string()))
                        .ok_or_else(|| anyhow!("--tier {t:?}: expected FROM_PCT:RATE, e.g. 100:5"))
                })
                .collect::<Result<Vec<_>>>()?;
            d.set_tiers(&user, &parsed)?;
            let plan = d.plan(&user)?;
            let tiers: Vec<String> = plan
                .tiers
                .iter()
                .map(|t| format!("{} → {}", out.rate(t.from_pct), out.rate(t.rate)))
                .collect();
            println!("{user}: {}", tiers.join(", "));
            Ok(())
        }
        CommissionCmd::Show { period, user, json } => {
            let d = open(cli)?;
            let user = d.user_or_me(user.as_deref());
            let period = period_or_month(&d, period)?;
            let c = d.commission(&user, period)?;
            if *json {
                return print_json(&c);
            }
            let cur = d.settings().currency.clone();
            let mut tb = out.table(
                &[
                    out.t(Label::TierFrom),
                    out.t(Label::Rate),
                    out.t(Label::Base),
                    out.t(Label::Commission),
                ],
                &[0, 1, 2, 3],
            );
            for l in &c.tiers {
                tb.add_row(vec![
                    out.rate(l.from_pct),
                    out.rate(l.rate),
                    out.amount(l.base, &cur),
                    out.amount(l.commission, &cur),
                ]);
            }
            println!(
                "{user} — {period}: {} {}",
                out.t(Label::Revenue),
                out.amount(c.revenue, &cur)
            );
            println!("{tb}");
            println!(
                "{}: {}",
                out.t(Label::Commission),
                out.amount(c.total, &cur)
            );
            Ok(())
        }
    }
}

/// A key field as a person reads it: "adresse", "fonction (Paul Martin)".
fn field_label(
    out: Out,
    field: &str,
    d: &carnet_core::Device,
    account: carnet_core::DocId,
) -> String {
    let fr = out.lang == carnet_core::text::Lang::Fr;
    match field {
        "address" => (if fr { "adresse" } else { "address" }).to_string(),
        "phone" => (if fr { "téléphone" } else { "phone" }).to_string(),
        "email" => (if fr { "e-mail" } else { "email" }).to_string(),
        other => {
            let id = other.strip_prefix("role/").unwrap_or(other);
            let who = d
                .index()
                .get(account)
                .and_then(|r| r.contacts.iter().find(|c| c.id == id))
                .map(|c| c.name.clone())
                .unwrap_or_default();
            format!("{} ({who})", if fr { "fonction" } else { "role" })
        }
    }
}

/// "À vérifier lors de ma prochaine visite": files with a visit planned
/// whose key fields were not verified for over a year.
fn print_to_check(out: Out, d: &carnet_core::Device, all: bool) {
    let list: Vec<_> = d
        .stale_accounts(&d.scope(all), 50)
        .into_iter()
        .filter(|s| s.next_visit.is_some())
        .collect();
    if list.is_empty() {
        return;
    }
    let fr = out.lang == carnet_core::text::Lang::Fr;
    println!(
        "{}",
        if fr {
            "À vérifier lors de ma prochaine visite :"
        } else {
            "To check on my next visit:"
        }
    );
    for s in list {
        let fields: Vec<String> = s
            .to_check
            .iter()
            .map(|c| field_label(out, &c.field, d, s.id))
            .collect();
        println!(
            "  {} {} : {}",
            s.next_visit.map(|v| out.date(v)).unwrap_or_default(),
            s.name,
            fields.join(", ")
        );
    }
}

/// `carnet quality`: the share of key fields not verified for over a
/// year, the files to check, and those mail or email cannot reach.
pub fn quality(cli: &Cli, out: Out, all: bool, json: bool) -> Result<()> {
    let d = open(cli)?;
    let scope = d.scope(all);
    let q = d.data_quality(&scope);
    let stale = d.stale_accounts(&scope, 100);
    let dormant = d.dormant_prospects(&scope);
    if json {
        return print_json(
            &serde_json::json!({"quality": q, "to_check": stale, "dormant_prospects": dormant}),
        );
    }
    let fr = out.lang == carnet_core::text::Lang::Fr;
    let pct = |x: f64| carnet_core::text::share(x, out.lang);
    if fr {
        println!(
            "{} dossiers · {} champs clés · non vérifiés depuis plus d'un an : {} ({}) · obsolescence moyenne estimée : {}",
            q.accounts, q.fields, q.unverified_over_a_year, pct(q.share_unverified), pct(q.mean_staleness)
        );
    } else {
        println!(
            "{} files · {} key fields · not verified for over a year: {} ({}) · mean estimated staleness: {}",
            q.accounts, q.fields, q.unverified_over_a_year, pct(q.share_unverified), pct(q.mean_staleness)
        );
    }
    if !q.undeliverable.is_empty() {
        println!(
            "{}",
            if fr {
                "Adresses à corriger :"
            } else {
                "Addresses to correct:"
            }
        );
        for u in &q.undeliverable {
            let mut why = Vec::new();
            if u.returned_mail {
                why.push(if fr {
                    "NPAI (courrier revenu)"
                } else {
                    "mail returned"
                });
            }
            if u.email_bounced {
                why.push(if fr {
                    "e-mail en erreur"
                } else {
                    "email bounced"
                });
            }
            println!("  {}  {} : {}", u.id, u.name, why.join(", "));
        }
    }
    if !dormant.is_empty() {
        println!(
            "{}",
            if fr {
                "Prospects sans contact depuis trois ans (redemander le consentement ou effacer) :"
            } else {
                "Prospects without contact for three years (ask consent again or erase):"
            }
        );
        for p in &dormant {
            println!("  {}  {} ({})", p.id, p.name, out.opt_date(p.last_contact));
        }
    }
    if !stale.is_empty() {
        println!("{}", if fr { "À vérifier :" } else { "To check:" });
        for s in &stale {
            let fields: Vec<String> = s
                .to_check
                .iter()
                .map(|c| {
                    format!(
                        "{} ({})",
                        field_label(out, &c.field, &d, s.id),
                        out.date(c.since)
                    )
                })
                .collect();
            println!(
                "  {}  {} [{}] : {}",
                s.id,
                s.name,
                pct(s.staleness),
                fields.join(", ")
            );
        }
    }
    Ok(())
}
