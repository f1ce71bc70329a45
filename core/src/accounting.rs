//! Orders handed to accounting ("export comptable"): for a period, each
//! order with what an e-invoice will need — the seller and the buyer
//! (name, SIREN/SIRET, VAT number, address), the operation category, the
//! lines, the VAT breakdown per rate and the totals — as JSON, and as CSV
//! with one row per order and VAT rate (what a French accounting package
//! imports as journal lines: semicolons, decimal commas, a BOM). Pure
//! functions of the orders, their accounts and the settings: the server's
//! `export orders` command and the web app call them.

use chrono::NaiveDate;
use serde::Serialize;

use crate::model::{Account, Order, Settings};
use crate::money::format_cents;

/// A party of the sale, as an invoice names it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Party {
    pub name: String,
    pub siren: Option<String>,
    pub siret: Option<String>,
    pub vat_number: Option<String>,
    pub address: String,
    pub postcode: String,
    pub city: String,
    pub country: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LineOut {
    pub label: String,
    pub quantity: String,
    /// Decimal strings with a point: `"1234.50"`.
    pub unit_price: String,
    pub discount_percent: String,
    pub vat_rate: String,
    pub net: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VatOut {
    pub rate: String,
    pub base: String,
    pub vat: String,
}

/// One order, ready for accounting.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OrderOut {
    pub number: String,
    pub date: Option<NaiveDate>,
    pub delivery_date: Option<NaiveDate>,
    pub status: String,
    pub quote_number: Option<String>,
    pub currency: String,
    /// `goods`, `services` or `mixed`, from the company settings (empty
    /// when not set: the e-invoice will need it).
    pub operation_category: String,
    pub seller: Party,
    pub buyer: Party,
    pub lines: Vec<LineOut>,
    pub vat_breakdown: Vec<VatOut>,
    pub total_net: String,
    pub total_vat: String,
    pub total_gross: String,
    pub payment_terms: String,
    pub rep: String,
}

fn opt(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

fn seller(s: &Settings) -> Party {
    let c = &s.company;
    Party {
        name: if c.name.trim().is_empty() {
            s.company_name.clone()
        } else {
            c.name.clone()
        },
        siren: opt(&c.siren).or_else(|| c.siret.get(..9).map(str::to_string)),
        siret: opt(&c.siret),
        vat_number: opt(&c.vat_number),
        address: c.address.clone(),
        postcode: c.postcode.clone(),
        city: c.city.clone(),
        country: "FR".into(),
    }
}

fn buyer(a: &Account) -> Party {
    let address = [&a.address_line1, &a.address_line2]
        .into_iter()
        .flatten()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    Party {
        name: a.name.clone(),
        siren: a.siren.clone().or_else(|| {
            a.siret
                .as_ref()
                .and_then(|s| s.get(..9).map(str::to_string))
        }),
        siret: a.siret.clone(),
        vat_number: a.vat_number.clone(),
        address,
        postcode: a.postcode.clone().unwrap_or_default(),
        city: a.city.clone().unwrap_or_default(),
        country: a
            .country
            .clone()
            .filter(|c| !c.trim().is_empty())
            .unwrap_or_else(|| "FR".into()),
    }
}

/// One order with its account, as accounting reads it.
pub fn order_out(
    settings: &Settings,
    account: &Account,
    o: &Order,
    quote_number: Option<&str>,
) -> OrderOut {
    OrderOut {
        number: o.number.clone(),
        date: o.date,
        delivery_date: o.delivery_date,
        status: o.status.clone(),
        quote_number: quote_number.map(str::to_string),
        currency: o.currency.clone(),
        operation_category: settings
            .company
            .operation_category
            .clone()
            .unwrap_or_default(),
        seller: seller(settings),
        buyer: buyer(account),
        lines: o
            .lines
            .iter()
            .map(|l| LineOut {
                label: l.label.clone(),
                quantity: l.qty.normalize().to_string(),
                unit_price: format_cents(l.unit_price),
                discount_percent: l.discount.normalize().to_string(),
                vat_rate: l.vat_rate.normalize().to_string(),
                net: format_cents(l.net),
            })
            .collect(),
        vat_breakdown: o
            .totals
            .vat_lines
            .iter()
            .map(|v| VatOut {
                rate: v.rate.normalize().to_string(),
                base: format_cents(v.base),
                vat: format_cents(v.vat),
            })
            .collect(),
        total_net: format_cents(o.totals.net),
        total_vat: format_cents(o.totals.vat),
        total_gross: format_cents(o.totals.gross),
        payment_terms: settings.company.payment_terms.clone(),
        rep: o.owner.clone(),
    }
}

/// The CSV's columns, in French (the accountant's words).
pub const CSV_HEADER: [&str; 16] = [
    "numero",
    "date",
    "statut",
    "devis",
    "client",
    "siren_client",
    "tva_client",
    "adresse_client",
    "code_postal",
    "ville",
    "pays",
    "categorie_operation",
    "taux_tva",
    "base_ht",
    "montant_tva",
    "total_ttc_commande",
];

/// A cell as a spreadsheet must not run it: text that starts like a
/// formula gets a leading quote.
pub(crate) fn cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

fn comma(point: &str) -> String {
    point.replace('.', ",")
}

/// A CSV writer as French spreadsheets open it: a BOM, semicolons, CRLF.
pub(crate) fn spreadsheet_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(csv::Terminator::CRLF)
        .from_writer(b"\xEF\xBB\xBF".to_vec())
}

/// The orders as CSV: a BOM, semicolons, decimal commas, one row per order
/// and VAT rate (an order with no line: one row at rate 0).
pub fn csv(orders: &[OrderOut]) -> crate::Result<Vec<u8>> {
    let mut w = spreadsheet_writer();
    let fail = |e: csv::Error| crate::CoreError::Export(e.to_string());
    w.write_record(CSV_HEADER).map_err(fail)?;
    for o in orders {
        let zero = [VatOut {
            rate: "0".into(),
            base: "0.00".into(),
            vat: "0.00".into(),
        }];
        let rates = if o.vat_breakdown.is_empty() {
            &zero[..]
        } else {
            &o.vat_breakdown[..]
        };
        for v in rates {
            let b = &o.buyer;
            let row = [
                cell(&o.number),
                o.date
                    .map(|d| d.format("%d/%m/%Y").to_string())
                    .unwrap_or_default(),
                cell(&o.status),
                cell(o.quote_number.as_deref().unwrap_or("")),
                cell(&b.name),
                cell(b.siren.as_deref().unwrap_or("")),
                cell(b.vat_number.as_deref().unwrap_or("")),
                cell(&b.address),
                cell(&b.postcode),
                cell(&b.city),
                cell(&b.country),
                cell(&o.operation_category),
                comma(&v.rate),
                comma(&v.base),
                comma(&v.vat),
                comma(&o.total_gross),
            ];
            w.write_record(&row).map_err(fail)?;
        }
    }
    w.into_inner()
        .map_err(|e| crate::CoreError::Export(e.to_string()))
}
