//! Data kept true: how stale each customer file is, which to check on the
//! next visit, the share of key fields not verified for over a year, and
//! the addresses mail came back from ("NPAI") or email bounced from.
//!
//! Decay follows the rule of thumb of the guide Carnet serves: about 5% of
//! each field is out of date after a year. A field last known right `y`
//! years ago is wrong with probability `1 - 0.95^y`; a file's staleness is
//! the mean of its key fields'.

use chrono::NaiveDate;
use serde::Serialize;

use super::Scope;
use crate::ids::DocId;
use crate::index::{AccountRow, AccountRows, FieldCheck};

/// Share of a field that goes out of date in a year.
pub const YEARLY_DECAY: f64 = 0.05;
/// A field not verified for this long is "to check".
pub const STALE_AFTER_DAYS: i64 = 365;

/// Probability that a field last known right on `since` is wrong `today`.
pub fn field_decay(since: NaiveDate, today: NaiveDate) -> f64 {
    let years = (today - since).num_days().max(0) as f64 / 365.25;
    1.0 - (1.0 - YEARLY_DECAY).powf(years)
}

/// A file's staleness in 0..=1: the mean decay of its key fields.
pub fn staleness(checks: &[FieldCheck], today: NaiveDate) -> f64 {
    if checks.is_empty() {
        return 0.0;
    }
    checks
        .iter()
        .map(|c| field_decay(c.since, today))
        .sum::<f64>()
        / checks.len() as f64
}

/// A file with key fields to check.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StaleAccount {
    pub id: DocId,
    pub name: String,
    pub city: Option<String>,
    pub owner: String,
    /// 0..=1, see the module.
    pub staleness: f64,
    /// Fields not verified for over `STALE_AFTER_DAYS`, oldest first.
    pub to_check: Vec<FieldCheck>,
    /// The next visit planned there, if any.
    pub next_visit: Option<NaiveDate>,
}

/// The files of `scope` (owned by the user) with a key field not verified
/// for over a year, those with a visit planned first (by date), then the
/// stalest; at most `limit`.
pub fn stale_accounts(
    index: &impl AccountRows,
    scope: &Scope,
    today: NaiveDate,
    limit: usize,
) -> Vec<StaleAccount> {
    let horizon = today - chrono::Duration::days(STALE_AFTER_DAYS);
    // Ranked by reference; only the `limit` shown are copied out (a
    // portfolio has thousands of files to check, a list shows fifty).
    let mut ranked: Vec<(Option<NaiveDate>, f64, DocId, &AccountRow)> = Vec::new();
    for (id, a, rows) in index.account_rows() {
        if !scope.covers(&a.owner) || !a.checks.iter().any(|c| c.since < horizon) {
            continue;
        }
        let next_visit = rows
            .actions
            .iter()
            .filter(|x| x.done_on.is_none() && x.action_type == "visit")
            .filter_map(|x| x.due)
            .filter(|d| *d >= today)
            .min();
        ranked.push((next_visit, staleness(&a.checks, today), id, a));
    }
    let order = |x: &(Option<NaiveDate>, f64, DocId, &AccountRow),
                 y: &(Option<NaiveDate>, f64, DocId, &AccountRow)| {
        (x.0.is_none(), x.0)
            .cmp(&(y.0.is_none(), y.0))
            .then(y.1.total_cmp(&x.1))
            .then(x.3.name.cmp(&y.3.name))
            .then(x.2.cmp(&y.2))
    };
    if ranked.len() > limit && limit > 0 {
        ranked.select_nth_unstable_by(limit - 1, order);
    }
    ranked.truncate(limit);
    ranked.sort_by(order);
    ranked
        .into_iter()
        .map(|(next_visit, staleness, id, a)| {
            let mut to_check: Vec<FieldCheck> = a
                .checks
                .iter()
                .filter(|c| c.since < horizon)
                .cloned()
                .collect();
            to_check.sort_by_key(|c| c.since);
            StaleAccount {
                id,
                name: a.name.clone(),
                city: a.city.clone(),
                owner: a.owner.clone(),
                staleness,
                to_check,
                next_visit,
            }
        })
        .collect()
}

/// A file whose address or email is known wrong, to correct.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Undeliverable {
    pub id: DocId,
    pub name: String,
    pub owner: String,
    pub returned_mail: bool,
    pub email_bounced: bool,
}

/// How long a prospect may go without any contact before the CNIL's rule
/// for sales files asks to re-ask its consent or erase it.
pub const DORMANT_AFTER_DAYS: i64 = 3 * 365;

/// A prospect with no contact for three years.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Dormant {
    pub id: DocId,
    pub name: String,
    pub owner: String,
    /// The last action done, email sent, or the day it was entered.
    pub last_contact: Option<NaiveDate>,
}

/// Prospects of `scope` with no contact (an action done, an email sent)
/// and not entered in the last three years, longest silent first.
pub fn dormant_prospects(
    index: &impl AccountRows,
    scope: &Scope,
    today: NaiveDate,
) -> Vec<Dormant> {
    let horizon = today - chrono::Duration::days(DORMANT_AFTER_DAYS);
    let mut out = Vec::new();
    for (id, a, rows) in index.account_rows() {
        if a.status != "prospect" || !scope.covers(&a.owner) {
            continue;
        }
        let sent = rows
            .emails
            .iter()
            .filter_map(|e| e.sent_at)
            .filter_map(|t| chrono::DateTime::from_timestamp(t, 0).map(|d| d.date_naive()));
        let last = rows
            .actions
            .iter()
            .filter_map(|x| x.done_on)
            .chain(sent)
            .chain(a.created_on)
            .max();
        if last.is_none_or(|d| d < horizon) {
            out.push(Dormant {
                id,
                name: a.name.clone(),
                owner: a.owner.clone(),
                last_contact: last,
            });
        }
    }
    out.sort_by(|x, y| {
        x.last_contact
            .cmp(&y.last_contact)
            .then(x.name.cmp(&y.name))
    });
    out
}

/// The state of the file, tenant-wide or a user's.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Quality {
    pub accounts: usize,
    /// Key fields with a value.
    pub fields: usize,
    /// Of which not verified for over a year.
    pub unverified_over_a_year: usize,
    /// `unverified_over_a_year / fields` (0 when no field).
    pub share_unverified: f64,
    /// Mean staleness of the files.
    pub mean_staleness: f64,
    pub undeliverable: Vec<Undeliverable>,
}

pub fn quality(index: &impl AccountRows, scope: &Scope, today: NaiveDate) -> Quality {
    let horizon = today - chrono::Duration::days(STALE_AFTER_DAYS);
    let (mut accounts, mut fields, mut old) = (0usize, 0usize, 0usize);
    let mut stale_sum = 0.0;
    let mut undeliverable = Vec::new();
    for (id, a, _) in index.account_rows() {
        if !scope.covers(&a.owner) {
            continue;
        }
        accounts += 1;
        fields += a.checks.len();
        old += a.checks.iter().filter(|c| c.since < horizon).count();
        stale_sum += staleness(&a.checks, today);
        if a.returned_mail || a.email_bounced {
            undeliverable.push(Undeliverable {
                id,
                name: a.name.clone(),
                owner: a.owner.clone(),
                returned_mail: a.returned_mail,
                email_bounced: a.email_bounced,
            });
        }
    }
    undeliverable.sort_by(|x, y| x.name.cmp(&y.name));
    Quality {
        accounts,
        fields,
        unverified_over_a_year: old,
        share_unverified: if fields == 0 {
            0.0
        } else {
            old as f64 / fields as f64
        },
        mean_staleness: if accounts == 0 {
            0.0
        } else {
            stale_sum / accounts as f64
        },
        undeliverable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_field_decays_five_percent_a_year() {
        let today = d("2026-11-30");
        assert_eq!(field_decay(today, today), 0.0);
        let one = field_decay(d("2025-11-30"), today);
        assert!((one - 0.05).abs() < 0.001, "{one}");
        let two = field_decay(d("2024-11-30"), today);
        assert!((two - 0.0975).abs() < 0.001, "{two}");
        // A date in the future (a skewed clock) is not negative decay.
        assert_eq!(field_decay(d("2027-01-01"), today), 0.0);
        let checks = vec![
            FieldCheck {
                field: "phone".into(),
                since: d("2024-11-30"),
            },
            FieldCheck {
                field: "address".into(),
                since: today,
            },
        ];
        assert!((staleness(&checks, today) - 0.04875).abs() < 0.001);
    }
}
