//! Records that cross the FFI boundary. Amounts are integer cents with a
//! currency, rates and quantities decimal strings ("20", "1.5"), dates ISO
//! `YYYY-MM-DD`, times Unix seconds. Inputs carry what the user typed; the
//! core parses and validates it (French message on refusal).

use carnet_core::text::{quote_status, Lang};
use std::collections::HashMap;

pub use carnet_core::doc::FieldChange;
use carnet_core::doc::{Conflict as CoreConflict, HistoryEntry as CoreHistory};
use carnet_core::index::SearchHit;
use carnet_core::model::{
    Account as CoreAccount, AccountFile as CoreFile, Action as CoreAction, Deal as CoreDeal, Line,
    Order as CoreOrder, Product as CoreProduct, Quote as CoreQuote, Totals,
};
pub use carnet_core::model::{
    Contact as CoreContact, NewAccount, NewAction, NewContact, NewDeal, NewQuote, NewQuoteLine,
    Note, VisitReport,
};
use carnet_core::reports::{
    Commission as CoreCommission, Dashboard as CoreDashboard, Forecast as CoreForecast,
    ForecastBucket as CoreBucket, MyDay as CoreDay, Pipeline as CorePipeline,
    TargetReport as CoreTarget, TodoItem as CoreTodo,
};
pub use carnet_core::sync::SyncPhase;
use chrono::NaiveDate;

fn date(d: Option<NaiveDate>) -> Option<String> {
    d.map(|d| d.to_string())
}

// ----- customer files -------------------------------------------------------

/// One line of the account list or of search results.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct AccountSummary {
    pub id: String,
    pub name: String,
    pub status: String,
    pub postcode: Option<String>,
    pub city: Option<String>,
    pub owner: String,
    /// The contact whose name matched the search, when the account's did not.
    pub matched_contact: Option<String>,
}

impl From<SearchHit> for AccountSummary {
    fn from(h: SearchHit) -> Self {
        AccountSummary {
            id: h.id.to_string(),
            name: h.name,
            status: h.status,
            postcode: h.postcode,
            city: h.city,
            owner: h.owner,
            matched_contact: h.contact,
        }
    }
}

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct Account {
    pub id: String,
    pub name: String,
    /// `company` or `person`.
    pub kind: String,
    /// `prospect`, `client` or `former`.
    pub status: String,
    pub siret: Option<String>,
    pub siren: Option<String>,
    pub vat_number: Option<String>,
    pub naf: Option<String>,
    pub tags: Vec<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub postcode: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub returned_mail: bool,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub website: Option<String>,
    pub owner: String,
    pub territory: Option<String>,
    pub source: Option<String>,
    pub expectations: String,
    pub consent_email: bool,
    pub consent_phone: bool,
    pub consent_post: bool,
    /// When a rep last confirmed the address, phone and email
    /// (`YYYY-MM-DD`; `account verify`).
    pub verified_address: Option<String>,
    pub verified_phone: Option<String>,
    pub verified_email: Option<String>,
    /// Email to the account bounced: left out of mailings until corrected.
    pub email_bounced: bool,
    pub custom: HashMap<String, String>,
    pub created_at: i64,
}

impl From<CoreAccount> for Account {
    fn from(a: CoreAccount) -> Self {
        Account {
            id: a.id.to_string(),
            name: a.name,
            kind: a.kind,
            status: a.status,
            siret: a.siret,
            siren: a.siren,
            vat_number: a.vat_number,
            naf: a.naf,
            tags: a.tags,
            address_line1: a.address_line1,
            address_line2: a.address_line2,
            postcode: a.postcode,
            city: a.city,
            country: a.country,
            returned_mail: a.returned_mail,
            phone: a.phone,
            email: a.email,
            website: a.website,
            owner: a.owner,
            territory: a.territory,
            source: a.source,
            expectations: a.expectations,
            consent_email: a.consent_email,
            consent_phone: a.consent_phone,
            consent_post: a.consent_post,
            verified_address: date(a.verified_address),
            verified_phone: date(a.verified_phone),
            verified_email: date(a.verified_email),
            email_bounced: a.email_bounced,
            custom: a.custom.into_iter().collect(),
            created_at: a.created_at,
        }
    }
}

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct Contact {
    pub id: String,
    pub name: String,
    pub role: Option<String>,
    pub phone: Option<String>,
    pub mobile: Option<String>,
    pub email: Option<String>,
    pub preferred_channel: Option<String>,
    pub consent_email: bool,
    pub consent_phone: bool,
    pub consent_post: bool,
    /// Said no to prospecting email (`consent_email` set to no, not merely
    /// never asked): nothing is sent to this address.
    pub refused_email: bool,
    pub notes: String,
    /// When a rep last confirmed the role (`YYYY-MM-DD`).
    pub verified_role: Option<String>,
}

impl From<CoreContact> for Contact {
    fn from(c: CoreContact) -> Self {
        Contact {
            id: c.id,
            name: c.name,
            role: c.role,
            phone: c.phone,
            mobile: c.mobile,
            email: c.email,
            preferred_channel: c.preferred_channel,
            consent_email: c.consent_email,
            consent_phone: c.consent_phone,
            consent_post: c.consent_post,
            refused_email: c.refused_email,
            notes: c.notes,
            verified_role: date(c.verified_role),
        }
    }
}

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct Deal {
    pub id: String,
    pub title: String,
    pub stage: String,
    pub amount_cents: i64,
    pub currency: String,
    /// Set when the rep overrode the stage's default probability.
    pub probability: Option<String>,
    pub close_date: Option<String>,
    pub next_step: Option<String>,
    pub lost_reason: Option<String>,
    pub owner: String,
    pub contact: Option<String>,
}

impl From<CoreDeal> for Deal {
    fn from(d: CoreDeal) -> Self {
        Deal {
            id: d.id,
            title: d.title,
            stage: d.stage,
            amount_cents: d.amount.cents,
            currency: d.amount.currency,
            probability: d.probability.map(|p| p.to_string()),
            close_date: date(d.close_date),
            next_step: d.next_step,
            lost_reason: d.lost_reason,
            owner: d.owner,
            contact: d.contact,
        }
    }
}

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct Action {
    pub id: String,
    /// `call`, `visit`, `email`, ... (see `action_types()`).
    pub action_type: String,
    pub subject: String,
    pub due: Option<String>,
    pub assignee: String,
    pub outcome: String,
    pub done_on: Option<String>,
    pub deal: Option<String>,
    pub contact: Option<String>,
}

impl From<CoreAction> for Action {
    fn from(a: CoreAction) -> Self {
        Action {
            id: a.id,
            action_type: a.action_type,
            subject: a.subject,
            due: date(a.due),
            assignee: a.assignee,
            outcome: a.outcome,
            done_on: date(a.done_on),
            deal: a.deal,
            contact: a.contact,
        }
    }
}

#[uniffi::remote(Record)]
pub struct Note {
    pub id: String,
    pub body: String,
    pub author: String,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct DocLine {
    pub id: String,
    pub position: i64,
    pub product: Option<String>,
    pub label: String,
    pub qty: String,
    /// Excluding VAT.
    pub unit_price_cents: i64,
    /// Percent.
    pub discount: String,
    /// Percent.
    pub vat_rate: String,
    pub net_cents: i64,
}

impl From<Line> for DocLine {
    fn from(l: Line) -> Self {
        DocLine {
            id: l.id,
            position: l.position,
            product: l.product,
            label: l.label,
            qty: l.qty.to_string(),
            unit_price_cents: l.unit_price,
            discount: l.discount.to_string(),
            vat_rate: l.vat_rate.to_string(),
            net_cents: l.net,
        }
    }
}

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct VatLine {
    pub rate: String,
    pub base_cents: i64,
    pub vat_cents: i64,
}

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct DocTotals {
    pub net_cents: i64,
    pub vat_lines: Vec<VatLine>,
    pub vat_cents: i64,
    pub gross_cents: i64,
}

impl From<Totals> for DocTotals {
    fn from(t: Totals) -> Self {
        DocTotals {
            net_cents: t.net,
            vat_lines: t
                .vat_lines
                .into_iter()
                .map(|v| VatLine {
                    rate: v.rate.to_string(),
                    base_cents: v.base,
                    vat_cents: v.vat,
                })
                .collect(),
            vat_cents: t.vat,
            gross_cents: t.gross,
        }
    }
}

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct Quote {
    pub id: String,
    /// `DEV-2026-03-00042` (series 03 of the user who sent it) once the
    /// server numbered it, else provisional.
    pub number: String,
    pub provisional: bool,
    /// `draft`, `sent`, `accepted`, `refused`, `expired` (a sent quote
    /// past its validity date reads `expired`).
    pub status: String,
    /// The status as people read it, in French ("brouillon", "envoyé", …)
    /// and in English.
    pub status_label: String,
    pub status_label_en: String,
    pub deal: Option<String>,
    pub contact: Option<String>,
    pub date: Option<String>,
    pub valid_until: Option<String>,
    pub currency: String,
    pub terms: String,
    pub payment_terms: String,
    pub delivery_terms: String,
    pub notes: String,
    pub owner: String,
    /// The quote this revision replaces, if it is one.
    pub revises: Option<String>,
    /// 1 for an original quote, 2 for its first revision, …
    pub revision: i64,
    pub lines: Vec<DocLine>,
    pub totals: DocTotals,
}

impl Quote {
    /// The view of a quote on `today` (expired once past its validity).
    pub fn of(q: CoreQuote, today: chrono::NaiveDate) -> Quote {
        let status = q.status_on(today).to_string();
        let mut out: Quote = q.into();
        out.status_label = quote_status(&status, Lang::Fr).to_string();
        out.status_label_en = quote_status(&status, Lang::En).to_string();
        out.status = status;
        out
    }
}

impl From<CoreQuote> for Quote {
    fn from(q: CoreQuote) -> Self {
        Quote {
            id: q.id,
            number: q.number,
            provisional: q.provisional,
            status_label: quote_status(&q.status, Lang::Fr).to_string(),
            status_label_en: quote_status(&q.status, Lang::En).to_string(),
            status: q.status,
            deal: q.deal,
            contact: q.contact,
            date: date(q.date),
            valid_until: date(q.valid_until),
            currency: q.currency,
            terms: q.terms,
            payment_terms: q.payment_terms,
            delivery_terms: q.delivery_terms,
            notes: q.notes,
            owner: q.owner,
            revises: q.revises,
            revision: q.revision,
            lines: q.lines.into_iter().map(Into::into).collect(),
            totals: q.totals.into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct Order {
    pub id: String,
    pub number: String,
    pub provisional: bool,
    pub status: String,
    pub quote: Option<String>,
    pub date: Option<String>,
    pub currency: String,
    pub owner: String,
    pub lines: Vec<DocLine>,
    pub totals: DocTotals,
}

impl From<CoreOrder> for Order {
    fn from(o: CoreOrder) -> Self {
        Order {
            id: o.id,
            number: o.number,
            provisional: o.provisional,
            status: o.status,
            quote: o.quote,
            date: date(o.date),
            currency: o.currency,
            owner: o.owner,
            lines: o.lines.into_iter().map(Into::into).collect(),
            totals: o.totals.into(),
        }
    }
}

/// Everything in one customer file, for the account screen.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct AccountFile {
    pub account: Account,
    pub contacts: Vec<Contact>,
    pub deals: Vec<Deal>,
    pub actions: Vec<Action>,
    pub notes: Vec<Note>,
    pub quotes: Vec<Quote>,
    pub orders: Vec<Order>,
    /// Fields with concurrent values waiting for a decision.
    pub conflicts: u32,
}

impl From<CoreFile> for AccountFile {
    fn from(f: CoreFile) -> Self {
        AccountFile {
            account: f.account.into(),
            contacts: f.contacts.into_iter().map(Contact::from).collect(),
            deals: f.deals.into_iter().map(Into::into).collect(),
            actions: f.actions.into_iter().map(Into::into).collect(),
            notes: f.notes,
            quotes: f.quotes.into_iter().map(Into::into).collect(),
            orders: f.orders.into_iter().map(Into::into).collect(),
            conflicts: count(f.conflicts),
        }
    }
}

// ----- inputs ---------------------------------------------------------------
//
// The core's own input types (`carnet_core::model::input`), exported as
// they are: uniffi checks at compile time that each restated field list
// matches the core's, and no conversion code exists.

/// A new customer file. `None` leaves a field unset (or at its default:
/// kind `company`, status `prospect`, owner the user).
#[uniffi::remote(Record)]
pub struct NewAccount {
    pub name: String,
    #[uniffi(default = None)]
    pub kind: Option<String>,
    #[uniffi(default = None)]
    pub status: Option<String>,
    #[uniffi(default = None)]
    pub siret: Option<String>,
    #[uniffi(default = None)]
    pub vat_number: Option<String>,
    #[uniffi(default = None)]
    pub naf: Option<String>,
    #[uniffi(default = None)]
    pub address_line1: Option<String>,
    #[uniffi(default = None)]
    pub address_line2: Option<String>,
    #[uniffi(default = None)]
    pub postcode: Option<String>,
    #[uniffi(default = None)]
    pub city: Option<String>,
    #[uniffi(default = None)]
    pub country: Option<String>,
    #[uniffi(default = None)]
    pub phone: Option<String>,
    #[uniffi(default = None)]
    pub email: Option<String>,
    #[uniffi(default = None)]
    pub website: Option<String>,
    /// Comma-separated.
    #[uniffi(default = None)]
    pub tags: Option<String>,
    #[uniffi(default = None)]
    pub source: Option<String>,
    #[uniffi(default = None)]
    pub owner: Option<String>,
    /// SIREN of a business without a known establishment (SIRET).
    #[uniffi(default = None)]
    pub siren: Option<String>,
    /// A territory name, when no postcode rule places the account.
    #[uniffi(default = None)]
    pub territory: Option<String>,
}

#[uniffi::remote(Record)]
pub struct NewContact {
    pub name: String,
    #[uniffi(default = None)]
    pub role: Option<String>,
    #[uniffi(default = None)]
    pub phone: Option<String>,
    #[uniffi(default = None)]
    pub mobile: Option<String>,
    #[uniffi(default = None)]
    pub email: Option<String>,
    #[uniffi(default = None)]
    pub preferred_channel: Option<String>,
    #[uniffi(default = None)]
    pub notes: Option<String>,
}

#[uniffi::remote(Record)]
pub struct NewDeal {
    pub title: String,
    /// Amount as typed: `12500`, `12 500,50`.
    pub amount: String,
    /// Defaults to the first pipeline stage.
    #[uniffi(default = None)]
    pub stage: Option<String>,
    #[uniffi(default = None)]
    pub close_date: Option<String>,
    #[uniffi(default = None)]
    pub probability: Option<String>,
    #[uniffi(default = None)]
    pub next_step: Option<String>,
    #[uniffi(default = None)]
    pub contact: Option<String>,
    /// Defaults to the user creating it.
    #[uniffi(default = None)]
    pub owner: Option<String>,
}

#[uniffi::remote(Record)]
pub struct NewAction {
    /// `call`, `visit`, `email`, ...
    pub action_type: String,
    pub subject: String,
    /// `YYYY-MM-DD`.
    pub due: String,
    #[uniffi(default = None)]
    pub assignee: Option<String>,
    #[uniffi(default = None)]
    pub deal: Option<String>,
    #[uniffi(default = None)]
    pub contact: Option<String>,
}

/// A visit report captured at the client's site: one change holding the
/// visit (done today, with its outcome) and, optionally, the follow-up.
#[uniffi::remote(Record)]
pub struct VisitReport {
    pub subject: String,
    pub outcome: String,
    #[uniffi(default = None)]
    pub contact: Option<String>,
    #[uniffi(default = None)]
    pub deal: Option<String>,
    #[uniffi(default = None)]
    pub follow_up: Option<NewAction>,
}

#[uniffi::remote(Record)]
pub struct NewQuote {
    #[uniffi(default = None)]
    pub deal: Option<String>,
    #[uniffi(default = None)]
    pub contact: Option<String>,
    /// Defaults to today.
    #[uniffi(default = None)]
    pub date: Option<String>,
    #[uniffi(default = None)]
    pub valid_until: Option<String>,
    #[uniffi(default = None)]
    pub terms: Option<String>,
    /// This quote's payment terms (the company's default when absent).
    #[uniffi(default = None)]
    pub payment_terms: Option<String>,
    #[uniffi(default = None)]
    pub delivery_terms: Option<String>,
    #[uniffi(default = None)]
    pub notes: Option<String>,
}

/// A quote line: from a catalogue product (`product` = its id or SKU, price
/// and VAT from the catalogue unless given) or free text (`label` and
/// `unit_price` required).
#[uniffi::remote(Record)]
pub struct NewQuoteLine {
    pub qty: String,
    #[uniffi(default = None)]
    pub product: Option<String>,
    #[uniffi(default = None)]
    pub label: Option<String>,
    #[uniffi(default = None)]
    pub unit_price: Option<String>,
    #[uniffi(default = None)]
    pub vat_rate: Option<String>,
    #[uniffi(default = None)]
    pub discount: Option<String>,
}

// ----- settings -------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct Stage {
    pub code: String,
    pub label: String,
    pub probability: String,
    /// `open`, `won` or `lost`.
    pub outcome: String,
}

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct ActionType {
    pub code: String,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct Product {
    pub id: String,
    pub sku: String,
    pub name: String,
    pub unit_price_cents: i64,
    pub currency: String,
    pub vat_rate: String,
    pub category: Option<String>,
    pub active: bool,
}

impl From<&CoreProduct> for Product {
    fn from(p: &CoreProduct) -> Self {
        Product {
            id: p.id.clone(),
            sku: p.sku.clone(),
            name: p.name.clone(),
            unit_price_cents: p.unit_price,
            currency: p.currency.clone(),
            vat_rate: p.vat_rate.to_string(),
            category: p.category.clone(),
            active: p.active,
        }
    }
}

/// Who is using this device.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct Me {
    pub user: String,
    pub name: Option<String>,
    pub device: String,
    pub company: String,
    pub currency: String,
    /// The server this store syncs with; `None` for an offline-only store.
    pub server: Option<String>,
}

// ----- reports --------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct TodoItem {
    pub action: String,
    pub account_id: String,
    pub account: String,
    pub action_type: String,
    pub subject: String,
    pub due: String,
    pub overdue: bool,
    pub days_late: i64,
    pub assignee: String,
}

impl From<CoreTodo> for TodoItem {
    fn from(t: CoreTodo) -> Self {
        TodoItem {
            action: t.action,
            account_id: t.account_id.to_string(),
            account: t.account,
            action_type: t.action_type,
            subject: t.subject,
            due: t.due.to_string(),
            overdue: t.overdue,
            days_late: t.days_late,
            assignee: t.assignee,
        }
    }
}

/// The rep's day: what is due (overdue first) and today's visits.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct MyDay {
    pub date: String,
    pub todo: Vec<TodoItem>,
    pub visits: Vec<TodoItem>,
}

impl From<CoreDay> for MyDay {
    fn from(d: CoreDay) -> Self {
        MyDay {
            date: d.date.to_string(),
            todo: d.todo.into_iter().map(Into::into).collect(),
            visits: d.visits.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct PipelineStage {
    pub code: String,
    pub label: String,
    pub outcome: String,
    pub probability: String,
    pub count: u32,
    pub amount_cents: i64,
    pub weighted_cents: i64,
}

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct Pipeline {
    pub currency: String,
    pub stages: Vec<PipelineStage>,
    pub open_count: u32,
    pub open_amount_cents: i64,
    pub open_weighted_cents: i64,
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl From<CorePipeline> for Pipeline {
    fn from(p: CorePipeline) -> Self {
        Pipeline {
            currency: p.currency,
            stages: p
                .stages
                .into_iter()
                .map(|s| PipelineStage {
                    code: s.code,
                    label: s.label,
                    outcome: s.outcome.to_string(),
                    probability: s.probability.to_string(),
                    count: count(s.count),
                    amount_cents: s.amount,
                    weighted_cents: s.weighted,
                })
                .collect(),
            open_count: count(p.open_count),
            open_amount_cents: p.open_amount,
            open_weighted_cents: p.open_weighted,
        }
    }
}

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct ForecastBucket {
    /// `YYYY-MM`, `overdue` or `undated`.
    pub month: String,
    pub open_count: u32,
    pub amount_cents: i64,
    pub weighted_cents: i64,
    pub won_cents: i64,
}

impl From<CoreBucket> for ForecastBucket {
    fn from(b: CoreBucket) -> Self {
        ForecastBucket {
            month: b.month,
            open_count: count(b.open_count),
            amount_cents: b.amount,
            weighted_cents: b.weighted,
            won_cents: b.won,
        }
    }
}

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct Forecast {
    pub currency: String,
    pub overdue: ForecastBucket,
    pub months: Vec<ForecastBucket>,
    pub undated: ForecastBucket,
    pub weighted_total_cents: i64,
}

impl From<CoreForecast> for Forecast {
    fn from(f: CoreForecast) -> Self {
        Forecast {
            currency: f.currency,
            overdue: f.overdue.into(),
            months: f.months.into_iter().map(Into::into).collect(),
            undated: f.undated.into(),
            weighted_total_cents: f.weighted_total,
        }
    }
}

/// Target against actual for one rep and period.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct TargetReport {
    pub user: String,
    pub period: String,
    pub currency: String,
    pub target_cents: Option<i64>,
    pub actual_cents: i64,
    pub orders: u32,
    /// actual − target.
    pub variance_cents: Option<i64>,
    pub attainment_pct: Option<String>,
}

impl From<CoreTarget> for TargetReport {
    fn from(t: CoreTarget) -> Self {
        TargetReport {
            user: t.user,
            period: t.period,
            currency: t.currency,
            target_cents: t.target,
            actual_cents: t.actual,
            orders: count(t.orders),
            variance_cents: t.variance,
            attainment_pct: t.attainment_pct.map(|p| p.to_string()),
        }
    }
}

/// One dashboard indicator beside its target. `unit` says how to read
/// the integers: `money` (cents), `count`, `percent` (hundredths of a
/// percent).
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct DashboardFigure {
    /// `orders_value`, `orders_count`, `new_clients`, `visits`,
    /// `quotes_sent`, `conversion`, `pipeline_raw`, `pipeline_weighted`.
    pub indicator: String,
    pub unit: String,
    pub actual: i64,
    pub target: Option<i64>,
    /// actual − target.
    pub variance: Option<i64>,
    /// (actual − target) ÷ target × 100, two decimals.
    pub variance_pct: Option<String>,
}

/// One period of the dashboard's chart.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct DashboardPoint {
    pub period: String,
    pub actual: i64,
    pub target: Option<i64>,
}

/// The dashboard of a period, in the user's saved layout (the same one
/// the web app shows), with the last 12 periods of its first indicator.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct Dashboard {
    pub period: String,
    pub currency: String,
    pub figures: Vec<DashboardFigure>,
    pub chart_indicator: String,
    pub chart: Vec<DashboardPoint>,
}

impl From<CoreDashboard> for Dashboard {
    fn from(d: CoreDashboard) -> Self {
        Dashboard {
            period: d.period,
            currency: d.currency,
            figures: d
                .figures
                .into_iter()
                .map(|f| DashboardFigure {
                    indicator: f.indicator.code().to_string(),
                    unit: f.unit.code().to_string(),
                    actual: f.actual,
                    target: f.target,
                    variance: f.variance,
                    variance_pct: f.variance_pct.map(|p| p.to_string()),
                })
                .collect(),
            chart_indicator: d.chart_indicator.code().to_string(),
            chart: d
                .chart
                .into_iter()
                .map(|p| DashboardPoint {
                    period: p.period,
                    actual: p.actual,
                    target: p.target,
                })
                .collect(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct CommissionTier {
    pub from_pct: String,
    pub to_pct: Option<String>,
    pub rate: String,
    pub base_cents: i64,
    pub commission_cents: i64,
}

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct Commission {
    pub revenue_cents: i64,
    pub target_cents: Option<i64>,
    pub tiers: Vec<CommissionTier>,
    pub total_cents: i64,
}

impl From<CoreCommission> for Commission {
    fn from(c: CoreCommission) -> Self {
        Commission {
            revenue_cents: c.revenue,
            target_cents: c.target,
            tiers: c
                .tiers
                .into_iter()
                .map(|t| CommissionTier {
                    from_pct: t.from_pct.to_string(),
                    to_pct: t.to_pct.map(|p| p.to_string()),
                    rate: t.rate.to_string(),
                    base_cents: t.base,
                    commission_cents: t.commission,
                })
                .collect(),
            total_cents: c.total,
        }
    }
}

// ----- conflicts and history ------------------------------------------------

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct ConflictValue {
    pub value: String,
    pub author: Option<String>,
    pub time: i64,
    /// The value screens show until someone decides.
    pub shown: bool,
}

/// A field two people changed at once; both values are kept.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct Conflict {
    pub doc: String,
    /// Pass to `resolve_conflict` with the chosen value.
    pub path: String,
    pub record: String,
    pub field: String,
    pub values: Vec<ConflictValue>,
}

impl From<CoreConflict> for Conflict {
    fn from(c: CoreConflict) -> Self {
        Conflict {
            doc: c.doc.to_string(),
            path: c.path,
            record: c.record.to_string(),
            field: c.field,
            values: c
                .values
                .into_iter()
                .map(|v| ConflictValue {
                    value: v.value,
                    author: v.author,
                    time: v.time,
                    shown: v.shown,
                })
                .collect(),
        }
    }
}

#[uniffi::remote(Record)]
pub struct FieldChange {
    pub path: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// One change to a customer file: who, when, which fields.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct HistoryEntry {
    pub author: Option<String>,
    pub time: i64,
    pub changes: Vec<FieldChange>,
}

impl From<CoreHistory> for HistoryEntry {
    fn from(h: CoreHistory) -> Self {
        HistoryEntry {
            author: h.author,
            time: h.time,
            changes: h.changes,
        }
    }
}

// ----- sync -----------------------------------------------------------------

#[uniffi::remote(Enum)]
pub enum SyncPhase {
    /// Not connected (no network, server unreachable, or sync stopped).
    Offline,
    Connecting,
    Syncing,
    UpToDate,
}

#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct RejectedDoc {
    pub doc: String,
    pub reason: String,
}

/// What the sync indicator shows.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct SyncStatus {
    pub phase: SyncPhase,
    /// Customer files with edits the server has not acknowledged yet.
    pub pending: u32,
    /// Unix seconds of the last acknowledgement.
    pub last_ack: Option<i64>,
    /// Files whose changes the server refused: fix (edit) or revert them.
    pub rejected: Vec<RejectedDoc>,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
    pub background: bool,
}

impl SyncStatus {
    /// Takes the stored part of the core's status (pending, last ack,
    /// refusals); the live part is the session's.
    pub(crate) fn stored(&mut self, s: carnet_core::sync::SyncStatus) {
        self.pending = u32::try_from(s.pending.len()).unwrap_or(u32::MAX);
        self.last_ack = s.last_ack;
        self.rejected = s
            .rejected
            .into_iter()
            .map(|(doc, reason)| RejectedDoc {
                doc: doc.to_string(),
                reason,
            })
            .collect();
    }
}

/// The outcome of a login.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct LoginInfo {
    pub user: String,
    pub device: String,
}

/// A message of the outbox: written on the device (offline too), sent by
/// the server once the file reaches it, its outcome synced back.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct OutboxEmail {
    pub id: String,
    /// The customer file it belongs to.
    pub account_id: String,
    pub to: String,
    pub subject: String,
    /// The quote attached as a PDF, if any.
    pub quote_id: Option<String>,
    /// `queued`, `sent` or `failed`.
    pub status: String,
    /// The status as people read it ("en attente d'envoi", "envoyé",
    /// "échec de l'envoi") and in English.
    pub status_label: String,
    pub status_label_en: String,
    /// Failed attempts so far.
    pub attempts: i64,
    /// Why the last attempt failed, or why it will not be sent.
    pub error: Option<String>,
    /// Unix seconds.
    pub next_attempt: Option<i64>,
    pub sent_at: Option<i64>,
    pub message_id: Option<String>,
    pub created_at: i64,
}

impl OutboxEmail {
    pub(crate) fn of(account: carnet_core::DocId, e: carnet_core::index::EmailRow) -> OutboxEmail {
        use carnet_core::text::email_status;
        OutboxEmail {
            status_label: email_status(&e.status, Lang::Fr).to_string(),
            status_label_en: email_status(&e.status, Lang::En).to_string(),
            id: e.id,
            account_id: account.to_string(),
            to: e.to,
            subject: e.subject,
            quote_id: e.quote,
            status: e.status,
            attempts: e.attempts,
            error: e.error,
            next_attempt: e.next_attempt,
            sent_at: e.sent_at,
            message_id: e.message_id,
            created_at: e.created_at,
        }
    }
}

/// A document of the marketing library, for this user.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct LibraryDoc {
    pub id: String,
    pub title: String,
    pub file_name: String,
    pub mime: String,
    pub size: i64,
    /// SHA-256 of its bytes.
    pub blob: String,
    /// Unix seconds.
    pub updated_at: i64,
    /// Its file on the device, once downloaded (opens offline).
    pub local_path: Option<String>,
}

impl LibraryDoc {
    pub(crate) fn of(
        path: Option<std::path::PathBuf>,
        i: carnet_core::model::LibraryItem,
    ) -> LibraryDoc {
        LibraryDoc {
            id: i.id,
            title: i.title,
            file_name: i.file_name,
            mime: i.mime,
            size: i.size,
            blob: i.blob,
            updated_at: i.updated_at,
            local_path: path.map(|p| p.display().to_string()),
        }
    }
}

// ----- data quality -----------------------------------------------------------

/// A file a new one would duplicate.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct DuplicateHit {
    pub account_id: String,
    pub name: String,
    pub postcode: Option<String>,
    pub city: Option<String>,
    /// `siret`, `siren`, `email`, `phone` or `name_postcode`.
    pub reason: String,
    /// "même SIRET", ... and in English.
    pub reason_label: String,
    pub reason_label_en: String,
}

impl From<carnet_core::device::DuplicateHit> for DuplicateHit {
    fn from(h: carnet_core::device::DuplicateHit) -> Self {
        use carnet_core::text::Lang;
        DuplicateHit {
            account_id: h.id.to_string(),
            name: h.name,
            postcode: h.postcode,
            city: h.city,
            reason: h.reason.code().to_string(),
            reason_label: h.reason.text(Lang::Fr).to_string(),
            reason_label_en: h.reason.text(Lang::En).to_string(),
        }
    }
}

/// A key field to check, and since when it is known right.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct FieldToCheck {
    /// `address`, `phone`, `email`, or `role/<contact id>`.
    pub field: String,
    /// `YYYY-MM-DD`: last verified, else entered.
    pub since: String,
}

/// A customer file whose key fields were not verified for over a year.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct AccountToCheck {
    pub account_id: String,
    pub name: String,
    pub city: Option<String>,
    /// Estimated share of its key fields out of date (0..=1), from the
    /// 5%-per-year decay.
    pub staleness: f64,
    pub fields: Vec<FieldToCheck>,
    /// `YYYY-MM-DD` of the next visit planned there.
    pub next_visit: Option<String>,
}

impl From<carnet_core::reports::StaleAccount> for AccountToCheck {
    fn from(s: carnet_core::reports::StaleAccount) -> Self {
        AccountToCheck {
            account_id: s.id.to_string(),
            name: s.name,
            city: s.city,
            staleness: s.staleness,
            fields: s
                .to_check
                .into_iter()
                .map(|c| FieldToCheck {
                    field: c.field,
                    since: c.since.to_string(),
                })
                .collect(),
            next_visit: date(s.next_visit),
        }
    }
}
