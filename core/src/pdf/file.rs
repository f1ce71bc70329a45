//! Printouts: the to-do list ("édition des actions à effectuer") and the
//! customer file ("dossier client").

use super::sheet::*;
use super::{tr, Letterhead};
use crate::model::AccountFile;
use crate::reports::TodoItem;
use crate::text::{self, Lang};
use crate::Result;

/// "Édition des actions à effectuer": the open actions due up to `until`
/// (overdue first, as `reports::todo` orders them), for `who`, as a table
/// whose header repeats on every page; the company's name at the foot.
pub fn todo<'a>(
    head: impl Into<Letterhead<'a>>,
    who: &str,
    items: &[TodoItem],
    until: chrono::NaiveDate,
    today: chrono::NaiveDate,
    lang: Lang,
) -> Result<Vec<u8>> {
    let head = head.into();
    let settings = head.settings;
    let title = tr(lang, "Actions à effectuer", "Actions to do").to_string();
    let footer = format!(
        "{} — {} {} — {}",
        settings.company.name,
        tr(lang, "édité le", "printed on"),
        text::date(today, lang),
        who
    );
    let mut sheet = Sheet::new(&head, &footer, Some(today), lang)?;
    let full = PAGE_W - 2.0 * MARGIN;
    sheet.para(
        MARGIN,
        full,
        tr(lang, "Édition des actions à effectuer", "Actions to do"),
        BODY + 5.0,
        true,
    );
    sheet.para(
        MARGIN,
        full,
        &format!(
            "{} {} — {} — {} {}",
            tr(lang, "Jusqu'au", "Up to"),
            text::date(until, lang),
            who,
            items.len(),
            tr(lang, "action(s)", "action(s)")
        ),
        BODY,
        false,
    );
    sheet.gap(8.0);
    let cols = [
        Col {
            title: tr(lang, "Échéance", "Due"),
            width: 62.0,
            align: Align::Left,
        },
        Col {
            title: tr(lang, "Retard", "Late"),
            width: 44.0,
            align: Align::Right,
        },
        Col {
            title: tr(lang, "Client", "Account"),
            width: 135.0,
            align: Align::Left,
        },
        Col {
            title: tr(lang, "Type", "Type"),
            width: 45.0,
            align: Align::Left,
        },
        Col {
            title: tr(lang, "Objet", "Subject"),
            width: full - 62.0 - 44.0 - 135.0 - 45.0 - 30.0,
            align: Align::Left,
        },
        Col {
            title: tr(lang, "Fait", "Done"),
            width: 30.0,
            align: Align::Left,
        },
    ];
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|t| {
            vec![
                text::date(t.due, lang),
                if t.overdue {
                    format!("{}\u{a0}{}", t.days_late, tr(lang, "j", "d"))
                } else {
                    String::new()
                },
                t.account.clone(),
                t.action_type.clone(),
                t.subject.clone(),
                "☐".to_string(),
            ]
        })
        .collect();
    sheet.table(&cols, &rows);
    sheet.finish(&title)
}

/// The customer file ("dossier client") to print before a visit: who the
/// client is, its contacts, deals, open actions, quotes, orders and latest
/// notes, each as a table whose header repeats across pages.
pub fn account<'a>(
    head: impl Into<Letterhead<'a>>,
    file: &AccountFile,
    today: chrono::NaiveDate,
    lang: Lang,
) -> Result<Vec<u8>> {
    let head = head.into();
    let settings = head.settings;
    let a = &file.account;
    let title = format!(
        "{} — {}",
        tr(lang, "Dossier client", "Customer file"),
        a.name
    );
    let footer = format!(
        "{} — {} {} — {}",
        settings.company.name,
        tr(lang, "édité le", "printed on"),
        text::date(today, lang),
        a.name
    );
    let mut sheet = Sheet::new(&head, &footer, Some(today), lang)?;
    let full = PAGE_W - 2.0 * MARGIN;
    sheet.para(MARGIN, full, &title, BODY + 5.0, true);
    let day = |d: Option<chrono::NaiveDate>| d.map(|d| text::date(d, lang)).unwrap_or_default();
    let money = |c: i64, cur: &str| text::amount(c, cur, lang);
    let mut left = super::client_lines(a, lang);
    for (label, value) in [
        (tr(lang, "Téléphone :", "Phone:"), a.phone.clone()),
        ("E-mail :", a.email.clone()),
        (tr(lang, "Site :", "Website:"), a.website.clone()),
    ] {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            left.push((format!("{label} {v}"), false));
        }
    }
    let mut right = vec![
        (
            format!(
                "{} {}",
                tr(lang, "Statut :", "Status:"),
                text::account_status(&a.status, lang)
            ),
            false,
        ),
        (
            format!("{} {}", tr(lang, "Commercial :", "Rep:"), a.owner),
            false,
        ),
    ];
    if let Some(t) = &a.territory {
        right.push((
            format!("{} {t}", tr(lang, "Secteur :", "Territory:")),
            false,
        ));
    }
    if !a.tags.is_empty() {
        right.push((
            format!(
                "{} {}",
                tr(lang, "Étiquettes :", "Tags:"),
                a.tags.join(", ")
            ),
            false,
        ));
    }
    sheet.columns(&left, &right);
    if !a.expectations.trim().is_empty() {
        sheet.gap(6.0);
        sheet.para(
            MARGIN,
            full,
            tr(lang, "Attentes du client", "Expectations"),
            BODY,
            true,
        );
        sheet.para(MARGIN, full, &a.expectations, BODY, false);
    }
    let section = |sheet: &mut Sheet, name: &str, cols: &[Col<'_>], rows: Vec<Vec<String>>| {
        sheet.gap(10.0);
        sheet.ensure(lead(BODY) * 4.0);
        sheet.para(MARGIN, full, name, BODY + 2.0, true);
        if rows.is_empty() {
            sheet.para(MARGIN, full, tr(lang, "(aucun)", "(none)"), BODY, false);
        } else {
            sheet.table(cols, &rows);
        }
    };
    let col = |title: &'static str, width: f32, align: Align| Col {
        title,
        width,
        align,
    };
    section(
        &mut sheet,
        tr(lang, "Contacts", "Contacts"),
        &[
            col(tr(lang, "Nom", "Name"), 140.0, Align::Left),
            col(tr(lang, "Fonction", "Role"), 110.0, Align::Left),
            col(tr(lang, "Téléphone", "Phone"), 100.0, Align::Left),
            col("E-mail", full - 350.0, Align::Left),
        ],
        file.contacts
            .iter()
            .map(|c| {
                vec![
                    c.name.clone(),
                    c.role.clone().unwrap_or_default(),
                    c.phone.clone().or(c.mobile.clone()).unwrap_or_default(),
                    c.email.clone().unwrap_or_default(),
                ]
            })
            .collect(),
    );
    section(
        &mut sheet,
        tr(lang, "Affaires", "Deals"),
        &[
            col(tr(lang, "Titre", "Title"), 200.0, Align::Left),
            col(tr(lang, "Étape", "Stage"), 100.0, Align::Left),
            col(tr(lang, "Clôture", "Close"), 80.0, Align::Left),
            col(tr(lang, "Montant HT", "Amount"), full - 380.0, Align::Right),
        ],
        file.deals
            .iter()
            .map(|d| {
                vec![
                    d.title.clone(),
                    d.stage.clone(),
                    day(d.close_date),
                    money(d.amount.cents, &d.amount.currency),
                ]
            })
            .collect(),
    );
    section(
        &mut sheet,
        tr(lang, "Actions ouvertes", "Open actions"),
        &[
            col(tr(lang, "Échéance", "Due"), 70.0, Align::Left),
            col(tr(lang, "Type", "Type"), 60.0, Align::Left),
            col(tr(lang, "Objet", "Subject"), full - 250.0, Align::Left),
            col(tr(lang, "Pour", "For"), 120.0, Align::Left),
        ],
        file.actions
            .iter()
            .filter(|x| x.done_on.is_none())
            .map(|x| {
                vec![
                    day(x.due),
                    x.action_type.clone(),
                    x.subject.clone(),
                    x.assignee.clone(),
                ]
            })
            .collect(),
    );
    section(
        &mut sheet,
        tr(lang, "Devis", "Quotes"),
        &[
            col(tr(lang, "Numéro", "Number"), 130.0, Align::Left),
            col(tr(lang, "Date", "Date"), 70.0, Align::Left),
            col(tr(lang, "Statut", "Status"), 80.0, Align::Left),
            col(tr(lang, "Total HT", "Net"), 110.0, Align::Right),
            col(tr(lang, "Total TTC", "Gross"), full - 390.0, Align::Right),
        ],
        file.quotes
            .iter()
            .map(|q| {
                vec![
                    q.number.clone(),
                    day(q.date),
                    text::quote_status(q.status_on(today), lang).to_string(),
                    money(q.totals.net, &q.currency),
                    money(q.totals.gross, &q.currency),
                ]
            })
            .collect(),
    );
    section(
        &mut sheet,
        tr(lang, "Commandes", "Orders"),
        &[
            col(tr(lang, "Numéro", "Number"), 130.0, Align::Left),
            col(tr(lang, "Date", "Date"), 70.0, Align::Left),
            col(tr(lang, "Statut", "Status"), 80.0, Align::Left),
            col(tr(lang, "Livraison", "Delivery"), 80.0, Align::Left),
            col(tr(lang, "Total HT", "Net"), full - 360.0, Align::Right),
        ],
        file.orders
            .iter()
            .map(|o| {
                vec![
                    o.number.clone(),
                    day(o.date),
                    text::order_status(&o.status, lang).to_string(),
                    day(o.delivery_date),
                    money(o.totals.net, &o.currency),
                ]
            })
            .collect(),
    );
    section(
        &mut sheet,
        tr(lang, "Dernières notes", "Latest notes"),
        &[
            col(tr(lang, "Date", "Date"), 90.0, Align::Left),
            col(tr(lang, "Auteur", "Author"), 120.0, Align::Left),
            col(tr(lang, "Note", "Note"), full - 210.0, Align::Left),
        ],
        file.notes
            .iter()
            .take(NOTES)
            .map(|n| {
                vec![
                    text::date_time(n.created_at, lang),
                    n.author.clone(),
                    shortened(&n.body, NOTE_CHARS),
                ]
            })
            .collect(),
    );
    sheet.finish(&title)
}

/// Notes printed in a customer file (the newest).
const NOTES: usize = 20;
/// Characters of a note printed (a longer one ends with "…").
const NOTE_CHARS: usize = 1000;

fn shortened(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}
