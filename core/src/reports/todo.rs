//! The to-do list: open actions due up to a date, overdue first.

use chrono::NaiveDate;
use serde::Serialize;

use super::Scope;
use crate::ids::DocId;
use crate::index::{AccountRows, ActionRow};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TodoItem {
    pub action: String,
    pub account_id: DocId,
    pub account: String,
    #[serde(rename = "type")]
    pub action_type: String,
    pub subject: String,
    pub due: NaiveDate,
    pub overdue: bool,
    pub days_late: i64,
    pub assignee: String,
}

/// A rep's day: what is due by today (overdue first) and today's visits.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MyDay {
    pub date: NaiveDate,
    pub todo: Vec<TodoItem>,
    pub visits: Vec<TodoItem>,
}

/// `user`'s day on `today`.
pub fn my_day(index: &impl AccountRows, user: &str, today: NaiveDate) -> MyDay {
    let todo = self::todo(index, &Scope::User(user.to_string()), today, today);
    let visits = todo
        .iter()
        .filter(|t| t.action_type == "visit" && t.due == today)
        .cloned()
        .collect();
    MyDay {
        date: today,
        todo,
        visits,
    }
}

/// Open actions in `scope` due on or before `until`, oldest first (so the
/// overdue ones lead), then by account name.
pub fn todo(
    index: &impl AccountRows,
    scope: &Scope,
    until: NaiveDate,
    today: NaiveDate,
) -> Vec<TodoItem> {
    // Select and sort borrowed rows first; allocate only the result.
    let mut hits: Vec<(NaiveDate, &str, &str, DocId, &ActionRow)> = Vec::new();
    for (doc, account, rows) in index.account_rows() {
        for a in &rows.actions {
            let Some(due) = a.due else { continue };
            if a.done_on.is_some() || due > until || !scope.covers(&a.assignee) {
                continue;
            }
            hits.push((due, account.name.as_str(), a.id.as_str(), doc, a));
        }
    }
    hits.sort_unstable_by(|x, y| (x.0, x.1, x.2).cmp(&(y.0, y.1, y.2)));
    hits.into_iter()
        .map(|(due, account, _, doc, a)| TodoItem {
            action: a.id.clone(),
            account_id: doc,
            account: account.to_string(),
            action_type: a.action_type.clone(),
            subject: a.subject.clone(),
            due,
            overdue: due < today,
            days_late: (today - due).num_days().max(0),
            assignee: a.assignee.clone(),
        })
        .collect()
}
