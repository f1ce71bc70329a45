//! The weighted forecast by month of expected close. Open deals whose close
//! date has passed are not silently dropped: they are in `overdue`, and open
//! deals without a date are in `undated`. Won deals count in their month.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::Serialize;

use super::Scope;
use crate::index::AccountRows;
use crate::model::{Settings, StageOutcome};
use crate::money::percent_of;

#[derive(Clone, Debug, PartialEq, Serialize, Default)]
pub struct ForecastBucket {
    /// `YYYY-MM`, or `overdue` / `undated`.
    pub month: String,
    pub open_count: usize,
    pub amount: i64,
    pub weighted: i64,
    /// Amount of deals won with a close date in this month.
    pub won: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Forecast {
    pub currency: String,
    pub overdue: ForecastBucket,
    pub months: Vec<ForecastBucket>,
    pub undated: ForecastBucket,
    /// Weighted total over `months` (not overdue nor undated).
    pub weighted_total: i64,
}

fn month_index(d: NaiveDate) -> i64 {
    d.year() as i64 * 12 + d.month0() as i64
}

pub fn forecast(
    index: &impl AccountRows,
    settings: &Settings,
    scope: &Scope,
    today: NaiveDate,
    months: u32,
) -> Forecast {
    let first = month_index(today);
    let mut buckets: Vec<ForecastBucket> = (0..months as i64)
        .map(|i| {
            let m = first + i;
            ForecastBucket {
                month: format!("{:04}-{:02}", m.div_euclid(12), m.rem_euclid(12) + 1),
                ..Default::default()
            }
        })
        .collect();
    let mut overdue = ForecastBucket {
        month: "overdue".into(),
        ..Default::default()
    };
    let mut undated = ForecastBucket {
        month: "undated".into(),
        ..Default::default()
    };
    let stages: HashMap<&str, (StageOutcome, Decimal)> = settings
        .stages
        .iter()
        .map(|s| (s.code.as_str(), (s.outcome, s.probability)))
        .collect();
    for (_, _, rows) in index.account_rows() {
        for d in rows.deals.iter().filter(|d| scope.covers(&d.owner)) {
            let (outcome, default_p) = stages
                .get(d.stage.as_str())
                .copied()
                .unwrap_or((StageOutcome::Open, Decimal::ZERO));
            let slot = d.close_date.map(|c| month_index(c) - first);
            match outcome {
                StageOutcome::Lost => {}
                StageOutcome::Won => {
                    if let Some(i) = slot.filter(|i| (0..months as i64).contains(i)) {
                        buckets[i as usize].won += d.amount;
                    }
                }
                StageOutcome::Open => {
                    let bucket = match slot {
                        None => &mut undated,
                        Some(i) if i < 0 => &mut overdue,
                        Some(i) if i < months as i64 => &mut buckets[i as usize],
                        Some(_) => continue,
                    };
                    bucket.open_count += 1;
                    bucket.amount += d.amount;
                    bucket.weighted += percent_of(d.amount, d.probability.unwrap_or(default_p));
                }
            }
        }
    }
    Forecast {
        currency: settings.currency.clone(),
        weighted_total: buckets.iter().map(|b| b.weighted).sum(),
        overdue,
        months: buckets,
        undated,
    }
}
