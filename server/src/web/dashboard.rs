//! The dashboard ("tableau de bord"): for a period (month, quarter, year)
//! and a scope (one rep, the team, a territory, the company), each chosen
//! indicator beside its target with the variance in value and percent,
//! and the last 12 periods of one indicator as an SVG chart. Each user
//! picks and orders the indicators; the layout is saved in their record of
//! the directory document, which every device of theirs syncs.

use std::collections::BTreeSet;

use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use carnet_core::reports::{self, Indicator, Period, Unit};
use carnet_core::text::{self, Lang};
use maud::html;
use serde::Deserialize;

use super::page::{self, tr, Nav};
use super::{back, html_page, not_found, Posted, Viewer, Web};

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/dashboard", get(show))
        .route("/dashboard/layout", post(save_layout))
        .route("/orders/export", get(export_orders))
}

/// An indicator's value as read: an amount, a count, a percentage.
pub fn value(v: i64, unit: Unit, l: Lang) -> String {
    match unit {
        Unit::Money => text::amount(v, "EUR", l),
        Unit::Count => v.to_string(),
        Unit::Percent => format!("{}\u{a0}%", text::decimal(v, l)),
    }
}

pub fn label(i: Indicator, l: Lang) -> &'static str {
    match i {
        Indicator::OrdersValue => tr(l, "Commandes (HT)", "Orders (excl. VAT)"),
        Indicator::OrdersCount => tr(l, "Nombre de commandes", "Number of orders"),
        Indicator::NewClients => tr(l, "Nouveaux clients", "New clients"),
        Indicator::Visits => tr(l, "Visites effectuées", "Visits done"),
        Indicator::QuotesSent => tr(l, "Devis envoyés", "Quotes sent"),
        Indicator::Conversion => tr(
            l,
            "Taux de transformation des devis",
            "Quote conversion rate",
        ),
        Indicator::PipelineRaw => tr(l, "Affaires en cours (brut)", "Open pipeline (raw)"),
        Indicator::PipelineWeighted => {
            tr(l, "Affaires en cours (pondéré)", "Open pipeline (weighted)")
        }
    }
}

#[derive(Deserialize, Default)]
pub struct Q {
    period: Option<String>,
    scope: Option<String>,
    chart: Option<String>,
}

/// The scope a viewer asked for, if they may: `company`, `team`,
/// `rep:<email>`, `territory:<name>`.
pub struct Chosen {
    pub code: String,
    pub users: Option<BTreeSet<String>>,
    pub territory: Option<String>,
}

pub fn choose_scope(web: &Web, v: &Viewer, code: &str) -> Option<Chosen> {
    let acl = web.tenant.acl();
    let team: BTreeSet<String> = acl.team_of(&v.user).into_iter().collect();
    let code = code.trim();
    Some(match code {
        "" | "company" => Chosen {
            code: "company".into(),
            users: None,
            territory: None,
        },
        "team" => Chosen {
            code: code.into(),
            users: Some(team),
            territory: None,
        },
        _ => match code.split_once(':') {
            Some(("rep", u)) if team.contains(u) => Chosen {
                code: code.into(),
                users: Some([u.to_string()].into()),
                territory: None,
            },
            Some(("territory", t)) if acl.territory_names().iter().any(|n| n == t) => Chosen {
                code: code.into(),
                users: None,
                territory: Some(t.to_string()),
            },
            _ => return None,
        },
    })
}

async fn show(State(web): State<Web>, v: Viewer, Query(q): Query<Q>) -> Response {
    let l = v.lang;
    if !v.is_manager() {
        return not_found(&v);
    }
    let today = super::day::today();
    let period: Period = q
        .period
        .as_deref()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| Period::month_of(today));
    let Some(scope) = choose_scope(&web, &v, q.scope.as_deref().unwrap_or("")) else {
        return not_found(&v);
    };
    let acl = web.tenant.acl();
    let layout = Indicator::layout(acl.dashboard_of(&v.user).unwrap_or(""));
    let chart = q
        .chart
        .as_deref()
        .and_then(Indicator::parse)
        .unwrap_or(layout[0]);
    let parts = web.tenant.edit_parts();
    let planned: Vec<String> = match &scope.users {
        Some(u) => u.iter().cloned().collect(),
        None => match &scope.territory {
            Some(t) => acl
                .territories()
                .iter()
                .filter(|x| &x.name == t)
                .flat_map(|x| x.reps.iter().cloned())
                .collect(),
            None => acl.team_of(&v.user),
        },
    };
    let plans = web.tenant.plans_of(&planned).await;
    // The sums the board keeps for what the viewer sees, not every file.
    let tallies = web.tenant.tallies_for(&v.user, scope.territory.as_deref());
    let dash = reports::dashboard_of(
        &tallies,
        scope.users.as_ref(),
        &parts.settings.currency,
        &plans,
        period,
        &layout,
        chart,
        12,
    );
    let team = acl.team_of(&v.user);
    let body = html! {
        form.filters method="get" action="/dashboard" {
            p { label for="period" { (tr(l, "Période (2026-11, 2026-Q4, 2026)", "Period (2026-11, 2026-Q4, 2026)")) }
                input #period type="text" name="period" value=(period.to_string()) pattern="[0-9]{4}(-Q[1-4]|-[0-9]{2})?"; }
            p { label for="scope" { (tr(l, "Périmètre", "Scope")) }
                select #scope name="scope" {
                    option value="company" selected[scope.code == "company"] { (tr(l, "Entreprise", "Company")) }
                    option value="team" selected[scope.code == "team"] { (tr(l, "Mon équipe", "My team")) }
                    @for u in &team { @let c = format!("rep:{u}"); option value=(c) selected[scope.code == c] { (u) } }
                    @for t in acl.territory_names() { @let c = format!("territory:{t}"); option value=(c) selected[scope.code == c] { (tr(l, "Secteur ", "Territory ")) (t) } }
                } }
            p { label for="chart" { (tr(l, "Graphique", "Chart")) }
                select #chart name="chart" { @for i in &layout { option value=(i.code()) selected[*i == chart] { (label(*i, l)) } } } }
            p { button type="submit" { (tr(l, "Afficher", "Show")) } }
        }
        table.dash {
            caption { (tr(l, "Indicateurs de ", "Indicators for ")) (period.to_string()) }
            thead { tr {
                th scope="col" { (tr(l, "Indicateur", "Indicator")) }
                th scope="col" { (tr(l, "Réalisé", "Actual")) }
                th scope="col" { (tr(l, "Objectif", "Target")) }
                th scope="col" { (tr(l, "Écart", "Variance")) }
                th scope="col" { (tr(l, "Écart %", "Variance %")) }
            } }
            tbody {
                @for fig in &dash.figures {
                    tr data-indicator=(fig.indicator.code()) class=(match fig.variance { Some(x) if x < 0 => "below", Some(_) => "above", None => "" }) {
                        th scope="row" { (label(fig.indicator, l)) }
                        td.num.actual { (value(fig.actual, fig.unit, l)) }
                        td.num.target { @if let Some(t) = fig.target { (value(t, fig.unit, l)) } @else { "—" } }
                        td.num.variance { @if let Some(x) = fig.variance { @if x > 0 { "+" } (value(x, fig.unit, l)) } @else { "—" } }
                        td.num.pct { @if let Some(p) = fig.variance_pct { (page::signed_pct(p, l)) } @else { "—" } }
                    }
                }
            }
        }
        p.no-print {
            (tr(l, "Export comptable des commandes de la période : ", "Orders of the period for accounting: "))
            a href={ "/orders/export?format=csv&period=" (period.to_string()) } { "CSV" } " · "
            a href={ "/orders/export?format=json&period=" (period.to_string()) } { "JSON" }
        }
        h2 { (label(chart, l)) (tr(l, " — 12 dernières périodes", " — last 12 periods")) }
        (super::chart::bars(&dash.chart, chart.unit(), label(chart, l), l))
        details.no-print #customize {
            summary { (tr(l, "Personnaliser le tableau de bord", "Customize the dashboard")) }
            form method="post" action="/dashboard/layout" {
                (page::csrf(&v))
                table {
                    thead { tr { th scope="col" { (tr(l, "Afficher", "Show")) } th scope="col" { (tr(l, "Ordre", "Order")) } } }
                    tbody {
                        @for (n, i) in Indicator::ALL.iter().enumerate() {
                            @let pos = layout.iter().position(|x| x == i);
                            tr {
                                td { input type="checkbox" id={ "show-" (i.code()) } name="show" value=(i.code()) checked[pos.is_some()];
                                     label for={ "show-" (i.code()) } { (label(*i, l)) } }
                                td { label.sr for={ "pos-" (i.code()) } { (tr(l, "Position de ", "Position of ")) (label(*i, l)) }
                                     input type="number" min="1" max="8" id={ "pos-" (i.code()) } name={ "pos-" (i.code()) } value=(pos.map_or(n + 1, |p| p + 1)); }
                            }
                        }
                    }
                }
                button type="submit" { (tr(l, "Enregistrer la disposition", "Save the layout")) }
            }
        }
    };
    html_page(page::page(
        &v,
        Nav::Dashboard,
        tr(l, "Tableau de bord", "Dashboard"),
        body,
    ))
}

async fn save_layout(State(web): State<Web>, Posted { v, f }: Posted) -> Response {
    let mut chosen: Vec<(i64, Indicator)> = f
        .all("show")
        .into_iter()
        .filter_map(Indicator::parse)
        .map(|i| {
            let pos = f.text(&format!("pos-{}", i.code())).parse().unwrap_or(99);
            (pos, i)
        })
        .collect();
    chosen.sort_by_key(|(p, i)| (*p, Indicator::ALL.iter().position(|x| x == i)));
    let layout: Vec<Indicator> = chosen.into_iter().map(|(_, i)| i).collect();
    // Read back through `Indicator::layout`: each indicator once, the
    // default layout when none is ticked.
    let text = Indicator::layout_text(&Indicator::layout(&Indicator::layout_text(&layout)));
    let Some(record) = web.tenant.acl().record_of(&v.user).map(str::to_string) else {
        return not_found(&v);
    };
    // The directory is the server's to write: it writes the user's own
    // record, one field, for them.
    match web
        .tenant
        .set_directory_field(&format!("users/{record}/dashboard"), &text)
        .await
    {
        Ok(_) => back("/dashboard"),
        Err(e) => {
            tracing::error!(error = %e, "saving a dashboard layout");
            back(&super::with_error(
                "/dashboard",
                tr(v.lang, "Disposition non enregistrée.", "Layout not saved."),
            ))
        }
    }
}

#[derive(Deserialize)]
struct ExportQuery {
    period: String,
    #[serde(default)]
    format: String,
}

/// The orders of a period for accounting (`carnet_core::accounting`), of
/// the files the manager sees: CSV (one row per order and VAT rate) or
/// JSON (what an e-invoice needs). Managers and admins only.
async fn export_orders(
    State(web): State<Web>,
    v: Viewer,
    Query(q): Query<ExportQuery>,
) -> Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    if !matches!(v.role, super::Role::Manager | super::Role::Admin) {
        return not_found(&v);
    }
    let Ok(period) = q.period.parse::<Period>() else {
        return not_found(&v);
    };
    let viewer = (v.role != super::Role::Admin).then_some(v.user.as_str());
    let Ok(orders) = web.tenant.export_orders(period, viewer).await else {
        return not_found(&v);
    };
    let name = format!("commandes-{period}");
    let (mime, ext, body) = if q.format == "json" {
        let body = serde_json::to_vec_pretty(&serde_json::json!({
            "period": period.to_string(),
            "orders": orders,
        }));
        ("application/json", "json", body.unwrap_or_default())
    } else {
        match carnet_core::accounting::csv(&orders) {
            Ok(b) => ("text/csv; charset=utf-8", "csv", b),
            Err(_) => return not_found(&v),
        }
    };
    (
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.{ext}\""),
            ),
        ],
        body,
    )
        .into_response()
}
