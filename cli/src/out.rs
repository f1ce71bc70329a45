//! How the terminal client presents results: tables (comfy-table), amounts
//! and dates in the user's language (`carnet_core::text`), JSON for scripts.

use std::io::Write;

use anyhow::Result;
use carnet_core::text::{self, Label, Lang};
use chrono::NaiveDate;
use comfy_table::{presets, CellAlignment, ContentArrangement, Table};
use serde::Serialize;

/// The user's language, and everything formatted in it.
#[derive(Clone, Copy)]
pub struct Out {
    pub lang: Lang,
}

impl Out {
    pub fn t(&self, label: Label) -> &'static str {
        label.text(self.lang)
    }

    /// `24 630,00 €`.
    pub fn amount(&self, cents: i64, currency: &str) -> String {
        text::amount(cents, currency, self.lang)
    }

    /// A decimal number as the user writes it: `5,5` in French.
    pub fn number(&self, n: impl ToString) -> String {
        text::rate(&n.to_string(), self.lang)
    }

    pub fn rate(&self, r: impl ToString) -> String {
        format!("{}\u{a0}%", self.number(r))
    }

    pub fn date(&self, d: NaiveDate) -> String {
        text::date(d, self.lang)
    }

    pub fn opt_date(&self, d: Option<NaiveDate>) -> String {
        d.map(|d| self.date(d)).unwrap_or_default()
    }

    pub fn date_time(&self, unix: i64) -> String {
        text::date_time(unix, self.lang)
    }

    /// A table with these headers; `right` columns (amounts) align right.
    pub fn table(&self, headers: &[&str], right: &[usize]) -> Table {
        let mut t = Table::new();
        t.load_preset(presets::UTF8_HORIZONTAL_ONLY)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header(headers.to_vec());
        for c in right {
            if let Some(col) = t.column_mut(*c) {
                col.set_cell_alignment(CellAlignment::Right);
            }
        }
        t
    }
}

pub fn print_json<T: Serialize>(v: &T) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v)?;
    writeln!(out)?;
    Ok(())
}
