//! Quotes ("devis") and orders ("commandes") with their lines and totals.
//! Line net = qty × unit price × (1 − discount), rounded half-up to the cent;
//! VAT is computed per rate on the sum of the nets at that rate, rounded
//! half-up; total incl. VAT = total excl. VAT + Σ VAT.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use super::view::Rec;
use crate::money::{percent_of, round_cents};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Line {
    pub id: String,
    pub position: i64,
    pub product: Option<String>,
    pub label: String,
    pub qty: Decimal,
    /// Unit price excl. VAT, in cents.
    pub unit_price: i64,
    /// Discount in percent.
    pub discount: Decimal,
    /// VAT rate in percent.
    pub vat_rate: Decimal,
    /// Net amount excl. VAT, in cents.
    pub net: i64,
}

impl Line {
    pub fn new(qty: Decimal, unit_price: i64, discount: Decimal, vat_rate: Decimal) -> Line {
        let mut l = Line {
            id: String::new(),
            position: 0,
            product: None,
            label: String::new(),
            qty,
            unit_price,
            discount,
            vat_rate,
            net: 0,
        };
        l.net = l.compute_net();
        l
    }

    fn compute_net(&self) -> i64 {
        let gross = self.qty * Decimal::from(self.unit_price);
        let factor = (Decimal::ONE_HUNDRED - self.discount) / Decimal::ONE_HUNDRED;
        round_cents(gross * factor)
    }

    pub fn read(o: Rec<'_>, id: String) -> Line {
        let mut l = Line {
            position: o.get_i64("position").unwrap_or(0),
            product: o.get_str("product"),
            label: o.string("label"),
            qty: o.decimal("qty").unwrap_or(Decimal::ZERO),
            unit_price: o.get_i64("unit_price").unwrap_or(0),
            discount: o.decimal("discount").unwrap_or(Decimal::ZERO),
            vat_rate: o.decimal("vat_rate").unwrap_or(Decimal::ZERO),
            net: 0,
            id,
        };
        l.net = l.compute_net();
        l
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VatLine {
    pub rate: Decimal,
    /// Sum of line nets at this rate, cents.
    pub base: i64,
    /// VAT at this rate, cents.
    pub vat: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Default)]
pub struct Totals {
    /// Total excl. VAT ("HT"), cents.
    pub net: i64,
    pub vat_lines: Vec<VatLine>,
    pub vat: i64,
    /// Total incl. VAT ("TTC"), cents.
    pub gross: i64,
}

impl Totals {
    pub fn of(lines: &[Line]) -> Totals {
        let mut by_rate: BTreeMap<Decimal, i64> = BTreeMap::new();
        for l in lines {
            *by_rate.entry(l.vat_rate.normalize()).or_default() += l.net;
        }
        let vat_lines: Vec<VatLine> = by_rate
            .into_iter()
            .map(|(rate, base)| VatLine {
                rate,
                base,
                vat: percent_of(base, rate),
            })
            .collect();
        let net = vat_lines.iter().map(|v| v.base).sum();
        let vat = vat_lines.iter().map(|v| v.vat).sum();
        Totals {
            net,
            vat,
            gross: net + vat,
            vat_lines,
        }
    }
}

fn read_lines(o: Rec<'_>) -> Vec<Line> {
    let mut lines: Vec<Line> = o
        .records("lines")
        .into_iter()
        .map(|(lid, l)| Line::read(l, lid))
        .collect();
    lines.sort_by(|a, b| a.position.cmp(&b.position).then(a.id.cmp(&b.id)));
    lines
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Quote {
    pub id: String,
    /// The final number from the server, or the provisional device number.
    pub number: String,
    pub provisional: bool,
    pub status: String,
    pub deal: Option<String>,
    pub contact: Option<String>,
    pub date: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
    pub currency: String,
    pub terms: String,
    /// This quote's payment terms (the company's default when empty).
    pub payment_terms: String,
    pub delivery_terms: String,
    pub notes: String,
    pub owner: String,
    /// The quote this revision replaces, if it is one.
    pub revises: Option<String>,
    /// 1 for an original quote, 2 for its first revision, …
    pub revision: i64,
    pub lines: Vec<Line>,
    pub totals: Totals,
}

impl Quote {
    /// The status as of `today`: a sent quote past its validity date is
    /// expired, whatever was last written.
    pub fn status_on(&self, today: NaiveDate) -> &str {
        match (self.status.as_str(), self.valid_until) {
            ("sent", Some(v)) if v < today => "expired",
            (s, _) => s,
        }
    }

    pub fn read(o: Rec<'_>, id: String) -> Quote {
        let lines = read_lines(o);
        let final_number = o.get_str("number");
        Quote {
            provisional: final_number.is_none(),
            number: final_number
                .or_else(|| o.get_str("provisional_number"))
                .unwrap_or_default(),
            status: o.get_str("status").unwrap_or_else(|| "draft".into()),
            deal: o.get_str("deal"),
            contact: o.get_str("contact"),
            date: o.date("date"),
            valid_until: o.date("valid_until"),
            currency: o.get_str("currency").unwrap_or_else(|| "EUR".into()),
            terms: o.get_text("terms").unwrap_or_default(),
            payment_terms: o.get_text("payment_terms").unwrap_or_default(),
            delivery_terms: o.get_text("delivery_terms").unwrap_or_default(),
            notes: o.get_text("notes").unwrap_or_default(),
            owner: o.string("owner"),
            revises: o.get_str("revises"),
            revision: o.get_i64("revision").unwrap_or(1).max(1),
            totals: Totals::of(&lines),
            lines,
            id,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Order {
    pub id: String,
    pub number: String,
    pub provisional: bool,
    pub status: String,
    pub quote: Option<String>,
    pub date: Option<NaiveDate>,
    pub delivery_date: Option<NaiveDate>,
    pub currency: String,
    pub owner: String,
    pub lines: Vec<Line>,
    pub totals: Totals,
}

impl Order {
    pub fn read(o: Rec<'_>, id: String) -> Order {
        let lines = read_lines(o);
        let final_number = o.get_str("number");
        Order {
            provisional: final_number.is_none(),
            number: final_number
                .or_else(|| o.get_str("provisional_number"))
                .unwrap_or_default(),
            status: o.get_str("status").unwrap_or_else(|| "confirmed".into()),
            quote: o.get_str("quote"),
            date: o.date("date"),
            delivery_date: o.date("delivery_date"),
            currency: o.get_str("currency").unwrap_or_else(|| "EUR".into()),
            owner: o.string("owner"),
            totals: Totals::of(&lines),
            lines,
            id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn line_net_applies_quantity_and_discount_rounding_half_up() {
        // 3 × 19.99 = 59.97, −10 % = 53.973 → 53.97
        assert_eq!(Line::new(d("3"), 1999, d("10"), d("20")).net, 5397);
        // 1.5 × 0.33 = 0.495 → 0.50 (half-up)
        assert_eq!(Line::new(d("1.5"), 33, d("0"), d("20")).net, 50);
        // a 100 % discount is free
        assert_eq!(Line::new(d("2"), 1000, d("100"), d("20")).net, 0);
    }

    #[test]
    fn quote_total_rounds_vat_half_up_per_rate() {
        let lines = vec![
            Line::new(d("1"), 1005, d("0"), d("20")),  // 10.05
            Line::new(d("1"), 1005, d("0"), d("20")),  // 10.05
            Line::new(d("1"), 1010, d("0"), d("5.5")), // 10.10
            Line::new(d("1"), 1000, d("0"), d("2.1")), // 10.00
        ];
        let t = Totals::of(&lines);
        // 20 %: base 20.10 → VAT 4.02; 5.5 %: 10.10 → 0.5555 → 0.56; 2.1 %: 10.00 → 0.21
        assert_eq!(
            t.vat_lines,
            vec![
                VatLine {
                    rate: d("2.1"),
                    base: 1000,
                    vat: 21
                },
                VatLine {
                    rate: d("5.5"),
                    base: 1010,
                    vat: 56
                },
                VatLine {
                    rate: d("20"),
                    base: 2010,
                    vat: 402
                },
            ]
        );
        assert_eq!(t.net, 4020);
        assert_eq!(t.vat, 479);
        assert_eq!(t.gross, 4499);
    }

    #[test]
    fn vat_is_summed_per_rate_before_rounding_not_per_line() {
        // Three lines of 0.05 at 10 %: per line 0.005 → 0.01 each would give 0.03;
        // per rate 0.15 × 10 % = 0.015 → 0.02.
        let lines: Vec<Line> = (0..3)
            .map(|_| Line::new(d("1"), 5, d("0"), d("10")))
            .collect();
        let t = Totals::of(&lines);
        assert_eq!(t.vat, 2);
        assert_eq!(t.gross, 17);
    }

    #[test]
    fn empty_quote_totals_zero() {
        assert_eq!(Totals::of(&[]), Totals::default());
    }
}
