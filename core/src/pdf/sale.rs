//! Quotes ("devis") and orders ("commandes") as PDFs: seller and client,
//! the lines, totals per VAT rate, terms and every legal mention.

use super::sheet::*;
use super::{client_lines, percent, seller_lines, tr, Letterhead};
use crate::legal;
use crate::model::{Account, Line, Order, Quote, Settings, Totals};
use crate::text::{self, Lang};
use crate::Result;

/// The quote as a PDF, in `lang`: letterhead, client, lines (the header
/// repeated on each page), totals per VAT rate, terms and every legal
/// mention (`crate::legal`), the seller's legal line and the page number at
/// the foot of each page. Made whatever the quote's state: a draft shows
/// "provisional number" when it has no final one.
pub fn quote<'a>(
    head: impl Into<Letterhead<'a>>,
    account: &Account,
    q: &Quote,
    lang: Lang,
) -> Result<Vec<u8>> {
    let head = head.into();
    let settings = head.settings;
    let (seller, footer) = seller_lines(settings, lang);
    let title = format!("{} {}", tr(lang, "Devis", "Quote"), q.number);
    let mut sheet = Sheet::new(&head, &footer, q.date, lang)?;
    sheet.columns(&seller, &client_lines(account, lang));
    sheet.gap(14.0);
    let full = PAGE_W - 2.0 * MARGIN;
    sheet.para(
        MARGIN,
        full,
        &format!("{} {}", tr(lang, "DEVIS N°", "QUOTE No."), q.number),
        BODY + 5.0,
        true,
    );
    if q.revision > 1 {
        sheet.para(
            MARGIN,
            full,
            &format!(
                "{} {} — {}",
                tr(lang, "Révision", "Revision"),
                q.revision,
                tr(
                    lang,
                    "remplace la version précédente de ce devis",
                    "replaces the previous version of this quote"
                )
            ),
            BODY,
            false,
        );
    }
    if q.provisional {
        sheet.para(
            MARGIN,
            full,
            tr(
                lang,
                "(numéro provisoire : le numéro définitif est attribué à la synchronisation)",
                "(provisional number: the final one is given on sync)",
            ),
            SMALL,
            false,
        );
    }
    let day = |d: Option<chrono::NaiveDate>| d.map(|d| text::date(d, lang)).unwrap_or_default();
    sheet.para(
        MARGIN,
        full,
        &format!(
            "{} {} — {} {}",
            tr(lang, "Date :", "Date:"),
            day(q.date),
            tr(lang, "Valable jusqu'au :", "Valid until:"),
            day(q.valid_until)
        ),
        BODY,
        false,
    );
    sheet.gap(8.0);
    lines_and_totals(&mut sheet, &q.lines, &q.totals, &q.currency, lang);
    // Terms and legal mentions.
    sheet.gap(12.0);
    let c = &settings.company;
    let payment = if q.payment_terms.trim().is_empty() {
        c.payment_terms.clone()
    } else {
        q.payment_terms.clone()
    };
    let mut terms = payment_lines(settings, account, &payment, lang);
    if !q.delivery_terms.trim().is_empty() {
        terms.insert(
            1,
            format!(
                "{} {}",
                tr(lang, "Conditions de livraison :", "Delivery terms:"),
                q.delivery_terms
            ),
        );
    }
    terms.push(format!(
        "{} {}",
        tr(lang, "Devis valable jusqu'au", "Quote valid until"),
        day(q.valid_until)
    ));
    for t in [&q.terms, &q.notes] {
        if !t.trim().is_empty() {
            terms.push(t.clone());
        }
    }
    for t in &terms {
        sheet.para(MARGIN, full, t, BODY, false);
    }
    sheet.gap(14.0);
    sheet.ensure(lead(BODY) * 4.0);
    sheet.para(
        MARGIN,
        full,
        tr(
            lang,
            "Bon pour accord — date, signature et cachet du client :",
            "Agreed — date, signature and stamp of the client:",
        ),
        BODY,
        true,
    );
    sheet.finish(&title)
}

/// The lines as a table (its header repeated on every page), then the
/// totals: excl. VAT, VAT per rate with its base, incl. VAT.
fn lines_and_totals(
    sheet: &mut Sheet,
    lines: &[Line],
    totals: &Totals,
    currency: &str,
    lang: Lang,
) {
    let full = PAGE_W - 2.0 * MARGIN;
    let cur = currency;
    let money = |c: i64| text::amount(c, cur, lang);
    let cols = [
        Col {
            title: tr(lang, "Désignation", "Item"),
            width: 215.0,
            align: Align::Left,
        },
        Col {
            title: tr(lang, "Qté", "Qty"),
            width: 40.0,
            align: Align::Right,
        },
        Col {
            title: tr(lang, "P.U. HT", "Unit price"),
            width: 72.0,
            align: Align::Right,
        },
        Col {
            title: tr(lang, "Remise", "Discount"),
            width: 48.0,
            align: Align::Right,
        },
        Col {
            title: tr(lang, "TVA", "VAT"),
            width: 40.0,
            align: Align::Right,
        },
        Col {
            title: tr(lang, "Total HT", "Net"),
            width: full - 215.0 - 40.0 - 72.0 - 48.0 - 40.0,
            align: Align::Right,
        },
    ];
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|l| {
            vec![
                l.label.clone(),
                text::rate(&l.qty.normalize().to_string(), lang),
                money(l.unit_price),
                if l.discount.is_zero() {
                    String::new()
                } else {
                    percent(l.discount, lang)
                },
                percent(l.vat_rate, lang),
                money(l.net),
            ]
        })
        .collect();
    sheet.table(&cols, &rows);
    // Totals, right-aligned under the table.
    sheet.gap(6.0);
    let mut shown: Vec<(String, String, bool)> = vec![(
        tr(lang, "Total HT", "Total excl. VAT").to_string(),
        money(totals.net),
        true,
    )];
    for v in &totals.vat_lines {
        shown.push((
            format!(
                "{} {} ({} {})",
                tr(lang, "TVA", "VAT"),
                percent(v.rate, lang),
                tr(lang, "base", "on"),
                money(v.base)
            ),
            money(v.vat),
            false,
        ));
    }
    shown.push((
        tr(lang, "Total TTC", "Total incl. VAT").to_string(),
        money(totals.gross),
        true,
    ));
    sheet.ensure(lead(BODY) * shown.len() as f32 + 8.0);
    for (label, value, bold) in &shown {
        let y = sheet.y;
        let wv = sheet.faces.width(value, BODY, *bold);
        let wl = sheet.faces.width(label, BODY, *bold);
        sheet.put(PAGE_W - MARGIN - wv - 3.0, y, BODY, *bold, value);
        sheet.put(PAGE_W - MARGIN - 110.0 - wl, y, BODY, *bold, label);
        sheet.y += lead(BODY);
    }
}

/// An order ("bon de commande") as a PDF: the same letterhead, lines and
/// totals as its quote, its delivery date and status, the payment terms and
/// the late-payment mentions.
pub fn order<'a>(
    head: impl Into<Letterhead<'a>>,
    account: &Account,
    o: &Order,
    quote_number: Option<&str>,
    lang: Lang,
) -> Result<Vec<u8>> {
    let head = head.into();
    let settings = head.settings;
    let (seller, footer) = seller_lines(settings, lang);
    let title = format!("{} {}", tr(lang, "Commande", "Order"), o.number);
    let mut sheet = Sheet::new(&head, &footer, o.date, lang)?;
    sheet.columns(&seller, &client_lines(account, lang));
    sheet.gap(14.0);
    let full = PAGE_W - 2.0 * MARGIN;
    sheet.para(
        MARGIN,
        full,
        &format!(
            "{} {}",
            tr(lang, "BON DE COMMANDE N°", "ORDER No."),
            o.number
        ),
        BODY + 5.0,
        true,
    );
    let day = |d: Option<chrono::NaiveDate>| d.map(|d| text::date(d, lang)).unwrap_or_default();
    let mut head = format!(
        "{} {} — {} {} — {} {}",
        tr(lang, "Date :", "Date:"),
        day(o.date),
        tr(lang, "Livraison prévue :", "Delivery:"),
        day(o.delivery_date),
        tr(lang, "Statut :", "Status:"),
        text::order_status(&o.status, lang)
    );
    if let Some(n) = quote_number {
        head.push_str(&format!(" — {} {n}", tr(lang, "Devis :", "Quote:")));
    }
    sheet.para(MARGIN, full, &head, BODY, false);
    sheet.gap(8.0);
    lines_and_totals(&mut sheet, &o.lines, &o.totals, &o.currency, lang);
    sheet.gap(12.0);
    let terms = payment_lines(settings, account, &settings.company.payment_terms, lang);
    for t in &terms {
        sheet.para(MARGIN, full, t, BODY, false);
    }
    sheet.finish(&title)
}

/// What a sale states about payment: the terms, the late-payment penalty
/// rate and, for a business client, the fixed recovery indemnity.
fn payment_lines(settings: &Settings, account: &Account, payment: &str, lang: Lang) -> Vec<String> {
    let mut terms = vec![format!(
        "{} {}",
        tr(lang, "Conditions de paiement :", "Payment terms:"),
        payment
    )];
    if let Some(rate) = settings.company.late_penalty_rate {
        terms.push(format!(
            "{} {}",
            tr(
                lang,
                "Pénalités de retard : taux annuel de",
                "Late-payment penalties: yearly rate of"
            ),
            percent(rate, lang)
        ));
    }
    if legal::is_business(account) {
        terms.push(legal::recovery_indemnity(lang).to_string());
    }
    terms
}
