//! The manager's dashboard ("tableau de bord"): for a period and a scope,
//! each indicator beside its target with the variance in value and in
//! percent, and the last periods of one indicator for the chart.
//!
//! Every figure is a pure function of index rows (never documents):
//! - orders: Σ net (excl. VAT) and count of non-cancelled orders dated in
//!   the period whose owner is in scope;
//! - new clients: accounts whose first non-cancelled order is dated in the
//!   period;
//! - visits: actions of type `visit` done in the period, assignee in scope;
//! - quotes sent: quotes dated in the period that left the draft state
//!   (sent, accepted, refused, expired); conversion = accepted ÷ sent;
//! - pipeline: open deals expected to close in the period, raw and
//!   weighted by probability.
//!
//! Sums saturate: documents come from devices, and a hostile one must not
//! make a report overflow.
//!
//! Targets live in the users' plans: `2026-11` (orders value, as before)
//! or `<indicator>:2026-11`; a quarter or year without its own target sums
//! its months; a scope's target sums its users' (rates average them).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{deal_probability, Period};
use crate::index::DocRows;
use crate::model::{Plan, Settings, StageOutcome};
use crate::money::percent_of;

/// What a dashboard can show. The order of `ALL` is the default layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Indicator {
    OrdersValue,
    OrdersCount,
    NewClients,
    Visits,
    QuotesSent,
    Conversion,
    PipelineRaw,
    PipelineWeighted,
}

/// How an indicator's integer value reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Cents.
    Money,
    Count,
    /// Hundredths of a percent.
    Percent,
}

impl Unit {
    /// The unit's name as serialized (`money`, `count`, `percent`).
    pub fn code(self) -> &'static str {
        match self {
            Unit::Money => "money",
            Unit::Count => "count",
            Unit::Percent => "percent",
        }
    }
}

impl Indicator {
    pub const ALL: [Indicator; 8] = [
        Indicator::OrdersValue,
        Indicator::OrdersCount,
        Indicator::NewClients,
        Indicator::Visits,
        Indicator::QuotesSent,
        Indicator::Conversion,
        Indicator::PipelineRaw,
        Indicator::PipelineWeighted,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Indicator::OrdersValue => "orders_value",
            Indicator::OrdersCount => "orders_count",
            Indicator::NewClients => "new_clients",
            Indicator::Visits => "visits",
            Indicator::QuotesSent => "quotes_sent",
            Indicator::Conversion => "conversion",
            Indicator::PipelineRaw => "pipeline_raw",
            Indicator::PipelineWeighted => "pipeline_weighted",
        }
    }

    pub fn parse(code: &str) -> Option<Indicator> {
        Indicator::ALL.into_iter().find(|i| i.code() == code.trim())
    }

    pub fn unit(self) -> Unit {
        match self {
            Indicator::OrdersValue | Indicator::PipelineRaw | Indicator::PipelineWeighted => {
                Unit::Money
            }
            Indicator::Conversion => Unit::Percent,
            _ => Unit::Count,
        }
    }

    /// The key of this indicator's target for `period` in a plan.
    pub fn target_key(self, period: &str) -> String {
        match self {
            Indicator::OrdersValue => period.to_string(),
            other => format!("{}:{period}", other.code()),
        }
    }

    /// Parses a layout (`visits,orders_value,…`): known codes, each once,
    /// in order; the default layout when none is known.
    pub fn layout(text: &str) -> Vec<Indicator> {
        let mut out = Vec::new();
        for i in text.split(',').filter_map(Indicator::parse) {
            if !out.contains(&i) {
                out.push(i);
            }
        }
        if out.is_empty() {
            Indicator::ALL.to_vec()
        } else {
            out
        }
    }

    pub fn layout_text(layout: &[Indicator]) -> String {
        layout
            .iter()
            .map(|i| i.code())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Which records a dashboard counts: the documents passed in (already
/// filtered by the caller: what the viewer may see, a territory), and the
/// users whose records count (`None`: everyone's).
pub struct DashScope<'a> {
    pub accounts: Vec<&'a DocRows>,
    pub users: Option<BTreeSet<String>>,
}

/// One indicator for the period, beside its target.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Figure {
    pub indicator: Indicator,
    pub unit: Unit,
    pub actual: i64,
    pub target: Option<i64>,
    /// actual − target.
    pub variance: Option<i64>,
    /// (actual − target) ÷ target × 100, two decimals.
    pub variance_pct: Option<Decimal>,
}

/// One period of the chart.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChartPoint {
    pub period: String,
    pub actual: i64,
    pub target: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Dashboard {
    pub period: String,
    pub currency: String,
    pub figures: Vec<Figure>,
    pub chart_indicator: Indicator,
    /// The periods up to `period` (oldest first).
    pub chart: Vec<ChartPoint>,
}

/// Raw tallies of one period.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    orders_value: i64,
    orders_count: i64,
    new_clients: i64,
    visits: i64,
    quotes_sent: i64,
    quotes_accepted: i64,
    pipeline_raw: i64,
    pipeline_weighted: i64,
}

impl Tally {
    fn get(&self, i: Indicator) -> i64 {
        match i {
            Indicator::OrdersValue => self.orders_value,
            Indicator::OrdersCount => self.orders_count,
            Indicator::NewClients => self.new_clients,
            Indicator::Visits => self.visits,
            Indicator::QuotesSent => self.quotes_sent,
            Indicator::Conversion => {
                if self.quotes_sent == 0 {
                    0
                } else {
                    let pct = Decimal::from(self.quotes_accepted) * Decimal::from(10_000)
                        / Decimal::from(self.quotes_sent);
                    i64::try_from(pct.round()).unwrap_or(0)
                }
            }
            Indicator::PipelineRaw => self.pipeline_raw,
            Indicator::PipelineWeighted => self.pipeline_weighted,
        }
    }
}

/// A calendar month (year, month 1–12).
type Month = (i32, u32);

fn month_of(d: NaiveDate) -> Month {
    (d.year(), d.month())
}

/// Exact sums of one person's records in one month. i128 and wrapping:
/// removing what was added restores the sums exactly, whatever amounts a
/// hostile device wrote; figures saturate to i64 only when read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Sums([i128; 8]);

const ORDERS_VALUE: usize = 0;
const ORDERS_COUNT: usize = 1;
const NEW_CLIENTS: usize = 2;
const VISITS: usize = 3;
const QUOTES_SENT: usize = 4;
const QUOTES_ACCEPTED: usize = 5;
const PIPELINE_RAW: usize = 6;
const PIPELINE_WEIGHTED: usize = 7;

impl Sums {
    fn add(&mut self, other: &Sums, sign: i128) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a = a.wrapping_add(b.wrapping_mul(sign));
        }
    }
}

fn saturate(x: i128) -> i64 {
    i64::try_from(x).unwrap_or(if x < 0 { i64::MIN } else { i64::MAX })
}

/// Monthly sums by person: what a dashboard reads. Built from customer
/// files' rows (`add`); a server keeps them current by removing a file's
/// old rows and adding its new ones on each commit, and sums the parts a
/// viewer may see (`merge`) instead of reading every file per request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tallies {
    by: HashMap<String, BTreeMap<Month, Sums>>,
}

impl Tallies {
    /// Counts one customer file's records.
    pub fn add(&mut self, rows: &DocRows, settings: &Settings) {
        self.apply(rows, settings, 1);
    }

    /// Takes back what `add` counted for these rows.
    pub fn remove(&mut self, rows: &DocRows, settings: &Settings) {
        self.apply(rows, settings, -1);
    }

    pub fn merge(&mut self, other: &Tallies) {
        for (who, months) in &other.by {
            for (month, v) in months {
                self.bump(who, *month, v, 1);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by.is_empty()
    }

    fn bump(&mut self, who: &str, month: Month, sums: &Sums, sign: i128) {
        let months = match self.by.get_mut(who) {
            Some(m) => m,
            None => self.by.entry(who.to_string()).or_default(),
        };
        let e = months.entry(month).or_default();
        e.add(sums, sign);
        if *e == Sums::default() {
            months.remove(&month);
            if months.is_empty() {
                self.by.remove(who);
            }
        }
    }

    fn one(&mut self, who: &str, date: Option<NaiveDate>, field: usize, value: i128, sign: i128) {
        if let Some(d) = date {
            let mut s = Sums::default();
            s.0[field] = value;
            self.bump(who, month_of(d), &s, sign);
        }
    }

    /// Every record's contribution, by its person and month:
    /// - orders: non-cancelled, by owner and date (value and count);
    /// - new clients: the account's owner, in the month of its first
    ///   non-cancelled order (whoever took it);
    /// - visits: `visit` actions done, by assignee and day done;
    /// - quotes sent: out of draft, by owner and date; accepted among them;
    /// - pipeline: open deals by owner and expected close, raw and weighted.
    fn apply(&mut self, rows: &DocRows, settings: &Settings, sign: i128) {
        let mut first_order: Option<NaiveDate> = None;
        for o in rows.orders.iter().filter(|o| o.status != "cancelled") {
            first_order = match (first_order, o.date) {
                (Some(f), Some(d)) => Some(f.min(d)),
                (f, d) => f.or(d),
            };
            if let Some(d) = o.date {
                let mut s = Sums::default();
                s.0[ORDERS_VALUE] = i128::from(o.net);
                s.0[ORDERS_COUNT] = 1;
                self.bump(&o.owner, month_of(d), &s, sign);
            }
        }
        if let Some(a) = &rows.account {
            self.one(&a.owner, first_order, NEW_CLIENTS, 1, sign);
        }
        for a in rows.actions.iter().filter(|a| a.action_type == "visit") {
            self.one(&a.assignee, a.done_on, VISITS, 1, sign);
        }
        for q in rows.quotes.iter().filter(|q| q.status != "draft") {
            if let Some(d) = q.date {
                let mut s = Sums::default();
                s.0[QUOTES_SENT] = 1;
                s.0[QUOTES_ACCEPTED] = i128::from(q.status == "accepted");
                self.bump(&q.owner, month_of(d), &s, sign);
            }
        }
        for d in &rows.deals {
            let open = settings
                .stages
                .iter()
                .find(|s| s.code == d.stage)
                .is_none_or(|s| s.outcome == StageOutcome::Open);
            if let (true, Some(close)) = (open, d.close_date) {
                let mut s = Sums::default();
                s.0[PIPELINE_RAW] = i128::from(d.amount);
                s.0[PIPELINE_WEIGHTED] =
                    i128::from(percent_of(d.amount, deal_probability(d, settings)));
                self.bump(&d.owner, month_of(close), &s, sign);
            }
        }
    }

    /// The tally of `period` for the people `covers` accepts.
    fn period(&self, covers: &impl Fn(&str) -> bool, period: Period) -> Tally {
        let (start, end) = period.range();
        let (first, last) = (month_of(start), month_of(end));
        let mut s = Sums::default();
        for (_, months) in self.by.iter().filter(|(who, _)| covers(who)) {
            for (_, v) in months.range(first..last) {
                s.add(v, 1);
            }
        }
        let v = s.0.map(saturate);
        Tally {
            orders_value: v[ORDERS_VALUE],
            orders_count: v[ORDERS_COUNT],
            new_clients: v[NEW_CLIENTS],
            visits: v[VISITS],
            quotes_sent: v[QUOTES_SENT],
            quotes_accepted: v[QUOTES_ACCEPTED],
            pipeline_raw: v[PIPELINE_RAW],
            pipeline_weighted: v[PIPELINE_WEIGHTED],
        }
    }
}

/// Targets combined: their sum, or their mean for a rate; `None` when
/// there are none.
fn combine(indicator: Indicator, targets: impl Iterator<Item = i64>) -> Option<i64> {
    let (sum, n) = targets.fold((0i64, 0i64), |(s, n), t| (s.saturating_add(t), n + 1));
    match (n, indicator.unit()) {
        (0, _) => None,
        (n, Unit::Percent) => Some(sum / n),
        _ => Some(sum),
    }
}

/// One plan's target for an indicator and period: set for the period, or
/// combined from its months (not for a month: a month is set or not).
pub fn plan_target(plan: &Plan, indicator: Indicator, period: Period) -> Option<i64> {
    if let Some(t) = plan.targets.get(&indicator.target_key(&period.to_string())) {
        return Some(*t);
    }
    if matches!(period, Period::Month(..)) {
        return None;
    }
    combine(
        indicator,
        period
            .months()
            .iter()
            .filter_map(|m| plan.targets.get(&indicator.target_key(m)).copied()),
    )
}

/// The scope's target: its plans' combined; `None` when no plan has one.
pub fn scope_target(plans: &[Plan], indicator: Indicator, period: Period) -> Option<i64> {
    combine(
        indicator,
        plans
            .iter()
            .filter_map(|p| plan_target(p, indicator, period)),
    )
}

fn figure(indicator: Indicator, actual: i64, target: Option<i64>) -> Figure {
    Figure {
        indicator,
        unit: indicator.unit(),
        actual,
        target,
        variance: target.map(|t| actual.saturating_sub(t)),
        variance_pct: target.filter(|t| *t != 0).map(|t| {
            ((Decimal::from(actual) - Decimal::from(t)) * Decimal::ONE_HUNDRED / Decimal::from(t))
                .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
        }),
    }
}

/// The dashboard of `period` for `scope`: the `layout`'s indicators, and
/// `history` periods of `chart` ending with `period`. `plans` are the
/// plans of the users in scope.
pub fn dashboard(
    scope: &DashScope<'_>,
    settings: &Settings,
    plans: &[Plan],
    period: Period,
    layout: &[Indicator],
    chart: Indicator,
    history: usize,
) -> Dashboard {
    let mut tallies = Tallies::default();
    for rows in &scope.accounts {
        tallies.add(rows, settings);
    }
    dashboard_of(
        &tallies,
        scope.users.as_ref(),
        &settings.currency,
        plans,
        period,
        layout,
        chart,
        history,
    )
}

/// The dashboard read from tallies already summed (what a viewer may see):
/// the records of `users` (`None`: everyone's) in them.
#[allow(clippy::too_many_arguments)]
pub fn dashboard_of(
    tallies: &Tallies,
    users: Option<&BTreeSet<String>>,
    currency: &str,
    plans: &[Plan],
    period: Period,
    layout: &[Indicator],
    chart: Indicator,
    history: usize,
) -> Dashboard {
    let history = history.clamp(1, 36);
    let periods: Vec<Period> = (0..history)
        .rev()
        .map(|back| period.shift(-(back as i32)))
        .collect();
    let covers = |who: &str| users.is_none_or(|u| u.contains(who));
    let sums: Vec<Tally> = periods
        .iter()
        .map(|p| tallies.period(&covers, *p))
        .collect();
    let now = sums.last().copied().unwrap_or_default();
    Dashboard {
        period: period.to_string(),
        currency: currency.to_string(),
        figures: layout
            .iter()
            .map(|i| figure(*i, now.get(*i), scope_target(plans, *i, period)))
            .collect(),
        chart_indicator: chart,
        chart: periods
            .iter()
            .zip(&sums)
            .map(|(p, t)| ChartPoint {
                period: p.to_string(),
                actual: t.get(chart),
                target: scope_target(plans, chart, *p),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::DocKind;
    use crate::index::{AccountRow, ActionRow, DealRow, OrderRow, QuoteRow};

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn settings() -> Settings {
        let mut doc = crate::doc::CrmDoc::create(
            crate::DocId::new(),
            DocKind::Settings,
            &crate::doc::Writer {
                user: "t".into(),
                actor: automerge::ActorId::random(),
                now: 0,
            },
        )
        .unwrap();
        let w = crate::doc::Writer {
            user: "t".into(),
            actor: automerge::ActorId::random(),
            now: 0,
        };
        crate::persist::edit(&mut doc, &w, |d| Settings::seed(d, "T")).unwrap();
        Settings::read(&doc)
    }

    fn account(owner: &str) -> DocRows {
        DocRows {
            kind: DocKind::Account,
            account: Some(AccountRow {
                name: "A".into(),
                kind: "company".into(),
                status: "client".into(),
                postcode: None,
                city: None,
                owner: owner.into(),
                territory: None,
                phone: None,
                email: None,
                siret: None,
                siren: None,
                tags: vec![],
                search: String::new(),
                checks: vec![],
                returned_mail: false,
                email_bounced: false,
                created_on: None,
                merged_into: None,
            }),
            contacts: vec![],
            deals: vec![],
            actions: vec![],
            quotes: vec![],
            orders: vec![],
            emails: Vec::new(),
            plan_user: None,
            conflicts: 0,
        }
    }

    fn order(owner: &str, date: &str, net: i64, status: &str) -> OrderRow {
        OrderRow {
            id: format!("o{net}{date}"),
            number: String::new(),
            status: status.into(),
            date: Some(d(date)),
            net,
            currency: "EUR".into(),
            owner: owner.into(),
        }
    }

    fn quote(owner: &str, date: &str, status: &str) -> QuoteRow {
        QuoteRow {
            id: format!("q{date}{status}"),
            number: String::new(),
            status: status.into(),
            date: Some(d(date)),
            net: 100,
            gross: 120,
            currency: "EUR".into(),
            owner: owner.into(),
        }
    }

    fn fixture() -> Vec<DocRows> {
        let mut a = account("alice");
        a.orders = vec![
            order("alice", "2026-11-03", 100_000, "confirmed"),
            order("alice", "2026-11-20", 50_000, "confirmed"),
            order("alice", "2026-11-21", 70_000, "cancelled"),
            order("alice", "2026-10-02", 30_000, "confirmed"),
        ];
        a.actions = vec![
            ActionRow {
                id: "v1".into(),
                action_type: "visit".into(),
                subject: "s".into(),
                due: None,
                assignee: "alice".into(),
                done_on: Some(d("2026-11-04")),
                deal: None,
            },
            ActionRow {
                id: "v2".into(),
                action_type: "call".into(),
                subject: "s".into(),
                due: None,
                assignee: "alice".into(),
                done_on: Some(d("2026-11-04")),
                deal: None,
            },
            ActionRow {
                id: "v3".into(),
                action_type: "visit".into(),
                subject: "s".into(),
                due: Some(d("2026-11-30")),
                assignee: "alice".into(),
                done_on: None,
                deal: None,
            },
        ];
        a.quotes = vec![
            quote("alice", "2026-11-01", "accepted"),
            quote("alice", "2026-11-02", "sent"),
            quote("alice", "2026-11-05", "refused"),
            quote("alice", "2026-11-06", "draft"),
        ];
        a.deals = vec![
            DealRow {
                id: "d1".into(),
                title: "t".into(),
                stage: "proposition".into(), // 50 %
                amount: 1_000_000,
                currency: "EUR".into(),
                probability: None,
                close_date: Some(d("2026-11-28")),
                owner: "alice".into(),
            },
            DealRow {
                id: "d2".into(),
                title: "t".into(),
                stage: "gagne".into(),
                amount: 999,
                currency: "EUR".into(),
                probability: None,
                close_date: Some(d("2026-11-28")),
                owner: "alice".into(),
            },
        ];
        // Bruno's client: first order in November, second account of scope.
        let mut b = account("bruno");
        b.orders = vec![order("bruno", "2026-11-10", 20_000, "confirmed")];
        vec![a, b]
    }

    fn plan(user: &str, targets: &[(&str, i64)]) -> Plan {
        Plan {
            user: user.into(),
            currency: "EUR".into(),
            targets: targets.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            tiers: vec![],
        }
    }

    #[test]
    fn tallies_kept_by_removing_old_rows_equal_tallies_built_afresh() {
        let st = settings();
        let docs = fixture();
        let mut kept = Tallies::default();
        for r in &docs {
            kept.add(r, &st);
        }
        // The first file changes: an order cancelled, a new visit; then a
        // hostile device writes the largest amounts there are.
        let mut changed = docs[0].clone();
        changed.orders[0].status = "cancelled".into();
        changed.actions[0].done_on = Some(d("2026-10-09"));
        let mut hostile = changed.clone();
        hostile
            .orders
            .push(order("alice", "2026-11-05", i64::MAX, "confirmed"));
        hostile
            .orders
            .push(order("alice", "2026-11-06", i64::MAX, "confirmed"));
        for (old, new) in [(&docs[0], &hostile), (&hostile, &changed)] {
            kept.remove(old, &st);
            kept.add(new, &st);
        }
        let mut fresh = Tallies::default();
        fresh.add(&changed, &st);
        for r in &docs[1..] {
            fresh.add(r, &st);
        }
        assert_eq!(kept, fresh);
        // Merged parts read as the whole; removing everything leaves nothing.
        let mut parts = Tallies::default();
        for r in docs[1..].iter().chain([&changed]) {
            let mut one = Tallies::default();
            one.add(r, &st);
            parts.merge(&one);
        }
        assert_eq!(parts, fresh);
        kept.remove(&changed, &st);
        for r in &docs[1..] {
            kept.remove(r, &st);
        }
        assert!(kept.is_empty());
        // While the hostile rows are in, the month's orders saturate.
        let mut h = Tallies::default();
        h.add(&hostile, &st);
        let dash = dashboard_of(
            &h,
            None,
            "EUR",
            &[],
            Period::Month(2026, 11),
            &[Indicator::OrdersValue],
            Indicator::OrdersValue,
            1,
        );
        assert_eq!(dash.figures[0].actual, i64::MAX);
    }

    #[test]
    fn each_indicator_counts_what_its_definition_says() {
        let rows = fixture();
        let scope = DashScope {
            accounts: rows.iter().collect(),
            users: None,
        };
        let nov: Period = "2026-11".parse().unwrap();
        let dash = dashboard(
            &scope,
            &settings(),
            &[],
            nov,
            &Indicator::ALL,
            Indicator::OrdersValue,
            12,
        );
        let v = |i: Indicator| {
            dash.figures
                .iter()
                .find(|f| f.indicator == i)
                .unwrap()
                .actual
        };
        assert_eq!(v(Indicator::OrdersValue), 170_000); // cancelled excluded
        assert_eq!(v(Indicator::OrdersCount), 3);
        assert_eq!(v(Indicator::NewClients), 1); // Alice's client ordered in October already
        assert_eq!(v(Indicator::Visits), 1);
        assert_eq!(v(Indicator::QuotesSent), 3);
        assert_eq!(v(Indicator::Conversion), 3333); // 1 of 3 = 33.33 %
        assert_eq!(v(Indicator::PipelineRaw), 1_000_000); // won deal excluded
        assert_eq!(v(Indicator::PipelineWeighted), 500_000);
        assert_eq!(dash.chart.len(), 12);
        assert_eq!(dash.chart[0].period, "2025-12");
        assert_eq!(dash.chart[10].actual, 30_000);
        assert_eq!(dash.chart[11].actual, 170_000);
    }

    #[test]
    fn a_user_scope_counts_that_users_records_only() {
        let rows = fixture();
        let scope = DashScope {
            accounts: rows.iter().collect(),
            users: Some(["bruno".to_string()].into()),
        };
        let nov: Period = "2026-11".parse().unwrap();
        let dash = dashboard(
            &scope,
            &settings(),
            &[],
            nov,
            &[Indicator::OrdersValue, Indicator::NewClients],
            Indicator::Visits,
            3,
        );
        assert_eq!(dash.figures[0].actual, 20_000);
        assert_eq!(dash.figures[1].actual, 1);
        assert!(dash.chart.iter().all(|p| p.actual == 0));
    }

    #[test]
    fn variance_is_against_the_sum_of_the_scopes_targets() {
        let rows = fixture();
        let scope = DashScope {
            accounts: rows.iter().collect(),
            users: None,
        };
        let plans = [
            plan(
                "alice",
                &[
                    ("2026-11", 150_000),
                    ("visits:2026-11", 4),
                    ("conversion:2026-11", 5000),
                ],
            ),
            plan(
                "bruno",
                &[("2026-11", 50_000), ("conversion:2026-11", 3000)],
            ),
        ];
        let nov: Period = "2026-11".parse().unwrap();
        let dash = dashboard(
            &scope,
            &settings(),
            &plans,
            nov,
            &[
                Indicator::OrdersValue,
                Indicator::Visits,
                Indicator::Conversion,
                Indicator::NewClients,
            ],
            Indicator::OrdersValue,
            12,
        );
        let f = &dash.figures;
        assert_eq!(f[0].target, Some(200_000));
        assert_eq!(f[0].variance, Some(-30_000));
        assert_eq!(f[0].variance_pct, Some(Decimal::new(-1500, 2)));
        assert_eq!(f[1].target, Some(4));
        assert_eq!(f[1].variance, Some(-3));
        assert_eq!(f[2].target, Some(4000)); // mean of 50 % and 30 %
        assert_eq!(f[3].target, None);
        assert_eq!(f[3].variance_pct, None);
        assert_eq!(dash.chart[11].target, Some(200_000));
        assert_eq!(dash.chart[10].target, None);
    }

    #[test]
    fn quarter_targets_sum_months_and_rates_average_them() {
        let p = plan(
            "a",
            &[
                ("visits:2026-10", 3),
                ("visits:2026-11", 4),
                ("conversion:2026-10", 2000),
                ("conversion:2026-12", 4000),
            ],
        );
        let q4: Period = "2026-Q4".parse().unwrap();
        assert_eq!(plan_target(&p, Indicator::Visits, q4), Some(7));
        assert_eq!(plan_target(&p, Indicator::Conversion, q4), Some(3000));
        assert_eq!(plan_target(&p, Indicator::OrdersValue, q4), None);
    }

    #[test]
    fn reports_on_a_filtered_index_see_only_what_it_keeps() {
        let mut index = crate::index::Index::new();
        for rows in fixture() {
            index.put(crate::DocId::new(), rows);
        }
        let nov: Period = "2026-11".parse().unwrap();
        assert_eq!(
            super::super::actual_orders(&index, "alice", nov),
            (150_000, 2)
        );
        let bruno_only = index.filtered(|r| r.account.as_ref().is_some_and(|a| a.owner == "bruno"));
        assert_eq!(
            super::super::actual_orders(&bruno_only, "alice", nov),
            (0, 0)
        );
        assert_eq!(
            super::super::actual_orders(&bruno_only, "bruno", nov),
            (20_000, 1)
        );
        let all = super::super::pipeline(&index, &settings(), &super::super::Scope::All);
        let none = super::super::pipeline(&bruno_only, &settings(), &super::super::Scope::All);
        assert_eq!(all.open_amount, 1_000_000);
        assert_eq!(none.open_amount, 0);
    }

    #[test]
    fn huge_targets_from_hostile_plans_saturate_instead_of_overflowing() {
        let rows = fixture();
        let scope = DashScope {
            accounts: rows.iter().collect(),
            users: None,
        };
        let plans = [
            plan("alice", &[("2026-11", i64::MAX)]),
            plan("bruno", &[("2026-11", i64::MAX)]),
        ];
        let nov: Period = "2026-11".parse().unwrap();
        let dash = dashboard(
            &scope,
            &settings(),
            &plans,
            nov,
            &[Indicator::OrdersValue],
            Indicator::OrdersValue,
            1,
        );
        assert_eq!(dash.figures[0].target, Some(i64::MAX));
        assert_eq!(dash.figures[0].variance, Some(170_000 - i64::MAX));
    }

    #[test]
    fn unit_codes_are_their_serialized_names() {
        for u in [Unit::Money, Unit::Count, Unit::Percent] {
            assert_eq!(serde_json::to_value(u).unwrap(), u.code());
        }
    }

    #[test]
    fn layouts_parse_known_codes_once_in_order() {
        assert_eq!(
            Indicator::layout("visits, orders_value,visits,bogus"),
            vec![Indicator::Visits, Indicator::OrdersValue]
        );
        assert_eq!(Indicator::layout("bogus"), Indicator::ALL.to_vec());
        assert_eq!(
            Indicator::layout(&Indicator::layout_text(&[Indicator::Conversion])),
            vec![Indicator::Conversion]
        );
    }
}
