//! Managers' and admins' pages: forecast by month and rep against targets,
//! commissions traced to order lines, targets and commission plans,
//! territories (rules, accounts caught, reps, bulk reassignment), users and
//! devices.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use carnet_core::index::AccountRows;
use carnet_core::model::Order;
use carnet_core::ops;
use carnet_core::reports::{self, Indicator, Period, Scope, Unit};
use carnet_core::{DocId, DocKind};
use maud::html;
use serde::Deserialize;

use super::accounts::{matching, Filters, NO_TERRITORY};
use super::dashboard::{label, value};
use super::day::{today, Msg};
use super::page::{self, day, money, tr, Nav};
use super::{
    back, edit_failed, enc, html_page, not_found, with_error, AdminPosted, Posted, Viewer, Web,
};
use crate::acl::Role;

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/forecast", get(forecast))
        .route("/commissions", get(commissions))
        .route("/targets", get(targets).post(set_target))
        .route("/targets/tiers", post(set_tiers))
        .route("/territories", get(territories).post(add_territory))
        .route("/territories/{id}", post(edit_territory))
        .route("/territories/reassign", post(reassign))
        .route("/users", get(users).post(add_user))
        .route("/company", get(company))
        .route("/company/field", post(set_company_field))
        .route("/company/logo", post(set_company_logo))
        .route("/users/{email}/role", post(set_role))
        .route("/users/{email}/deactivate", post(deactivate))
        .route("/users/{email}/devices/{device}/revoke", post(revoke))
}

fn period_or_month(p: Option<&str>) -> Period {
    p.and_then(|p| p.parse().ok())
        .unwrap_or_else(|| Period::month_of(today()))
}

#[derive(Deserialize, Default)]
struct Q {
    period: Option<String>,
    rep: Option<String>,
    error: Option<String>,
}

async fn forecast(State(web): State<Web>, v: Viewer) -> Response {
    let l = v.lang;
    if !v.is_manager() {
        return not_found(&v);
    }
    let parts = web.tenant.edit_parts();
    let team = web.tenant.acl().team_of(&v.user);
    let plans = web.tenant.plans_of(&team).await;
    let months = 6;
    let (all, by_rep) = web.tenant.with_visible(&v.user, |idx| {
        let forecast =
            |scope: &Scope| reports::forecast(idx, &parts.settings, scope, today(), months);
        let by_rep: Vec<_> = team
            .iter()
            .map(|u| forecast(&Scope::User(u.clone())))
            .collect();
        (forecast(&Scope::All), by_rep)
    });
    let body = html! {
        p { (tr(l, "Affaires ouvertes pondérées par mois de clôture prévue, et objectif de commandes du mois.", "Open deals weighted by month of expected close, and the month's orders target.")) }
        table {
            thead { tr {
                th scope="col" { (tr(l, "Commercial", "Rep")) }
                @for b in &all.months { th scope="col" { (b.month) } }
            } }
            tbody {
                @for ((u, plan), f) in team.iter().zip(&plans).zip(&by_rep) {
                    tr {
                        th scope="row" { (u) }
                        @for b in &f.months {
                            @let target = b.month.parse::<Period>().ok().and_then(|p| reports::plan_target(plan, Indicator::OrdersValue, p));
                            td.num { (money(b.weighted, l))
                                @if let Some(t) = target { br; small { (tr(l, "obj. ", "target ")) (money(t, l)) } } }
                        }
                    }
                }
                tr.total {
                    th scope="row" { (tr(l, "Total", "Total")) }
                    @for b in &all.months { td.num { (money(b.weighted, l)) } }
                }
            }
        }
        p { (tr(l, "En retard (clôture dépassée) : ", "Overdue (close date passed): ")) (money(all.overdue.weighted, l))
            " — " (tr(l, "sans date : ", "undated: ")) (money(all.undated.weighted, l)) }
    };
    html_page(page::page(
        &v,
        Nav::Forecast,
        tr(l, "Prévisions d'activité", "Activity forecast"),
        body,
    ))
}

async fn commissions(State(web): State<Web>, v: Viewer, Query(q): Query<Q>) -> Response {
    let l = v.lang;
    if !v.is_manager() {
        return not_found(&v);
    }
    let period = period_or_month(q.period.as_deref());
    let team = web.tenant.acl().team_of(&v.user);
    let plans = web.tenant.plans_of(&team).await;
    let rep = q.rep.clone().filter(|r| team.contains(r));
    // Each rep's revenue of the period; for the chosen rep, the files
    // holding their orders of the period (read next, for the lines).
    type Held = Vec<(DocId, String, Vec<String>)>;
    let (revenues, held): (Vec<(i64, usize)>, Held) = web.tenant.with_visible(&v.user, |idx| {
        let revenues = team
            .iter()
            .map(|u| reports::actual_orders(idx, u, period))
            .collect();
        let mut held = Vec::new();
        if let Some(r) = &rep {
            for (doc, a, rows) in idx.account_rows() {
                let ids: Vec<String> = rows
                    .orders
                    .iter()
                    .filter(|o| {
                        &o.owner == r
                            && o.status != "cancelled"
                            && o.date.is_some_and(|d| period.contains(d))
                    })
                    .map(|o| o.id.clone())
                    .collect();
                if !ids.is_empty() {
                    held.push((doc, a.name.clone(), ids));
                }
            }
        }
        (revenues, held)
    });
    let mut traced: Vec<(DocId, String, Order)> = Vec::new();
    for (doc, name, ids) in held {
        let file = web
            .tenant
            .read_for(&v.user, doc, DocKind::Account, |d| {
                carnet_core::model::AccountFile::read(d).ok()
            })
            .await
            .ok()
            .flatten()
            .flatten();
        for o in file.map(|f| f.orders).unwrap_or_default() {
            if ids.contains(&o.id) {
                traced.push((doc, name.clone(), o));
            }
        }
    }
    traced.sort_by(|a, b| a.2.date.cmp(&b.2.date).then(a.2.number.cmp(&b.2.number)));
    let body = html! {
        form.filters method="get" action="/commissions" {
            p { label for="period" { (tr(l, "Période", "Period")) } input #period type="text" name="period" value=(period.to_string()); }
            p { button type="submit" { (tr(l, "Afficher", "Show")) } }
        }
        table {
            thead { tr {
                th scope="col" { (tr(l, "Commercial", "Rep")) }
                th scope="col" { (tr(l, "CA HT", "Revenue excl. VAT")) }
                th scope="col" { (tr(l, "Objectif", "Target")) }
                th scope="col" { (tr(l, "Commission", "Commission")) }
                th scope="col" { (tr(l, "Détail", "Detail")) }
            } }
            tbody {
                @for ((u, plan), (revenue, n)) in team.iter().zip(&plans).zip(&revenues) {
                    @let (revenue, n) = (*revenue, *n);
                    @let target = reports::target_for(plan, period);
                    @let c = reports::commission(&plan.tiers, target, revenue);
                    tr {
                        th scope="row" { (u) }
                        td.num { (money(revenue, l)) " (" (n) ")" }
                        td.num { @if let Some(t) = target { (money(t, l)) } @else { "—" } }
                        td.num { (money(c.total, l)) }
                        td { a href={ "/commissions?period=" (period.to_string()) "&rep=" (u) } { (tr(l, "Commandes", "Orders")) } }
                    }
                }
            }
        }
        @if let Some(r) = &rep {
            h2 { (tr(l, "Commandes de ", "Orders of ")) (r) " — " (period.to_string()) }
            table {
                thead { tr {
                    th scope="col" { (tr(l, "Commande", "Order")) }
                    th scope="col" { (tr(l, "Date", "Date")) }
                    th scope="col" { (tr(l, "Client", "Account")) }
                    th scope="col" { (tr(l, "Ligne", "Line")) }
                    th scope="col" { (tr(l, "Montant HT", "Net")) }
                } }
                tbody {
                    @for (doc, name, o) in &traced {
                        @for li in &o.lines {
                            tr { td { (o.number) } td { (day(o.date, l)) } td { a href={ "/accounts/" (doc) } { (name) } }
                                td { (li.label) " × " (li.qty) } td.num { (money(li.net, l)) } }
                        }
                    }
                }
                tfoot { tr { th scope="row" colspan="4" { (tr(l, "Total", "Total")) }
                    td.num { (money(traced.iter().map(|t| t.2.totals.net).sum(), l)) } } }
            }
        }
    };
    html_page(page::page(
        &v,
        Nav::Commissions,
        tr(l, "Commissions", "Commissions"),
        body,
    ))
}

async fn targets(State(web): State<Web>, v: Viewer, Query(q): Query<Q>) -> Response {
    let l = v.lang;
    if !v.is_manager() {
        return not_found(&v);
    }
    let team: Vec<String> = web
        .tenant
        .acl()
        .team_of(&v.user)
        .into_iter()
        .filter(|u| u != &v.user || v.role == Role::Admin)
        .collect();
    let period = period_or_month(q.period.as_deref());
    let rep = q
        .rep
        .clone()
        .filter(|r| team.contains(r))
        .or_else(|| team.first().cloned());
    let plan = match &rep {
        Some(r) => web.tenant.plans_of(std::slice::from_ref(r)).await.pop(),
        None => None,
    };
    let body = html! {
        (page::error(q.error.as_deref()))
        form.filters method="get" action="/targets" {
            p { label for="rep" { (tr(l, "Commercial", "Rep")) }
                select #rep name="rep" { @for u in &team { option value=(u) selected[rep.as_deref() == Some(u.as_str())] { (u) } } } }
            p { label for="period" { (tr(l, "Période", "Period")) } input #period type="text" name="period" value=(period.to_string()); }
            p { button type="submit" { (tr(l, "Afficher", "Show")) } }
        }
        @if let (Some(r), Some(plan)) = (&rep, &plan) {
            table {
                caption { (r) " — " (period.to_string()) }
                thead { tr { th scope="col" { (tr(l, "Indicateur", "Indicator")) } th scope="col" { (tr(l, "Objectif", "Target")) } th scope="col" { (tr(l, "Nouvel objectif", "New target")) } } }
                tbody {
                    @for i in Indicator::ALL {
                        tr {
                            th scope="row" { (label(i, l)) }
                            td.num { @if let Some(t) = reports::plan_target(plan, i, period) { (value(t, i.unit(), l)) } @else { "—" } }
                            td { form.inline method="post" action="/targets" {
                                (page::csrf(&v))
                                input type="hidden" name="rep" value=(r);
                                input type="hidden" name="period" value=(period.to_string());
                                input type="hidden" name="indicator" value=(i.code());
                                label.sr for={ "t-" (i.code()) } { (tr(l, "Objectif ", "Target ")) (label(i, l)) }
                                input id={ "t-" (i.code()) } type="text" name="value" inputmode="decimal" required;
                                button type="submit" { (tr(l, "Fixer", "Set")) }
                            } }
                        }
                    }
                }
            }
            h2 { (tr(l, "Plan de commission", "Commission plan")) }
            p { (tr(l, "Paliers marginaux : à partir de x % de l'objectif, taux y %.", "Marginal tiers: from x % of target, rate y %.")) }
            form method="post" action="/targets/tiers" {
                (page::csrf(&v))
                input type="hidden" name="rep" value=(r);
                @for n in 0..4 {
                    @let t = plan.tiers.get(n);
                    p {
                        label for={ "from" (n) } { (tr(l, "À partir de (% objectif)", "From (% of target)")) }
                        input id={ "from" (n) } type="text" name="from" value=(t.map(|t| t.from_pct.to_string()).unwrap_or_default());
                        label for={ "rate" (n) } { (tr(l, "Taux %", "Rate %")) }
                        input id={ "rate" (n) } type="text" name="rate" value=(t.map(|t| t.rate.to_string()).unwrap_or_default());
                    }
                }
                button type="submit" { (tr(l, "Enregistrer le plan", "Save the plan")) }
            }
        }
    };
    html_page(page::page(
        &v,
        Nav::Targets,
        tr(
            l,
            "Objectifs et plans de commission",
            "Targets and commission plans",
        ),
        body,
    ))
}

/// A target as typed, in the indicator's unit.
fn parse_target(unit: Unit, raw: &str) -> Option<i64> {
    match unit {
        Unit::Money => carnet_core::money::parse_amount("value", raw).ok(),
        Unit::Count => raw.trim().parse::<i64>().ok().filter(|n| *n >= 0),
        Unit::Percent => {
            let d: rust_decimal::Decimal = raw.trim().replace(',', ".").parse().ok()?;
            i64::try_from((d * rust_decimal::Decimal::ONE_HUNDRED).round())
                .ok()
                .filter(|n| (0..=10_000).contains(n))
        }
    }
}

/// Runs `f` on `rep`'s plan as the viewer, creating the plan first when
/// there is none; judged like any change (a manager writes their reps').
async fn edit_plan(
    web: &Web,
    v: &Viewer,
    rep: &str,
    f: impl FnOnce(&mut carnet_core::doc::CrmDoc, &ops::EditCtx<'_>) -> carnet_core::Result<()>,
) -> Result<(), crate::tenant::EditError> {
    let (doc, create) = match web.tenant.rows_plan_of(rep) {
        Some(d) => (d, false),
        None => (DocId::new(), true),
    };
    let rep = rep.to_string();
    web.tenant
        .edit_for(&v.writer(), doc, DocKind::Plan, create, |d, ctx| {
            if create {
                ops::init_plan(d, &rep, &ctx.settings.currency)?;
            }
            f(d, ctx)
        })
        .await
}

async fn set_target(State(web): State<Web>, Posted { v, f }: Posted) -> Response {
    let (rep, period) = (f.text("rep"), f.text("period"));
    let to = format!("/targets?rep={}&period={}", enc(&rep), enc(&period));
    let (Ok(p), Some(i)) = (
        period.parse::<Period>(),
        Indicator::parse(&f.text("indicator")),
    ) else {
        return back(&with_error(
            &to,
            tr(
                v.lang,
                "Période ou indicateur invalide.",
                "Invalid period or indicator.",
            ),
        ));
    };
    let Some(value) = parse_target(i.unit(), &f.text("value")) else {
        return back(&with_error(
            &to,
            tr(v.lang, "Valeur invalide.", "Invalid value."),
        ));
    };
    let key = i.target_key(&p.to_string());
    match edit_plan(&web, &v, &rep, |d, _| ops::set_target(d, &key, value)).await {
        Ok(()) => back(&to),
        Err(e) => edit_failed(&v, e, &to),
    }
}

async fn set_tiers(State(web): State<Web>, Posted { v, f }: Posted) -> Response {
    let rep = f.text("rep");
    let tiers: Vec<(String, String)> = f
        .all("from")
        .into_iter()
        .zip(f.all("rate"))
        .filter(|(a, b)| !a.trim().is_empty() && !b.trim().is_empty())
        .map(|(a, b)| (a.trim().to_string(), b.trim().to_string()))
        .collect();
    let to = format!("/targets?rep={}", enc(&rep));
    match edit_plan(&web, &v, &rep, |d, ctx| ops::set_tiers(d, ctx, &tiers)).await {
        Ok(()) => back(&to),
        Err(e) => edit_failed(&v, e, &to),
    }
}

// ----- territories ---------------------------------------------------------

#[derive(Deserialize, Default)]
struct TerritoriesQ {
    error: Option<String>,
    /// The territory whose accounts are offered for reassignment (`-`: none).
    of: Option<String>,
    /// A search within them.
    #[serde(default)]
    q: String,
}

async fn territories(State(web): State<Web>, v: Viewer, Query(q): Query<TerritoriesQ>) -> Response {
    let l = v.lang;
    if !v.is_manager() {
        return not_found(&v);
    }
    let acl = web.tenant.acl();
    // How many visible accounts each territory catches ("" for none).
    let mut caught: HashMap<String, usize> = HashMap::new();
    web.tenant.with_visible(&v.user, |idx| {
        for (_, a, _) in idx.account_rows() {
            let t = acl.territory_of(a.postcode.as_deref());
            *caught
                .entry(t.map(|t| t.name.clone()).unwrap_or_default())
                .or_default() += 1;
        }
    });
    let of = q.of.clone().unwrap_or_default();
    let filters = Filters {
        q: q.q.clone(),
        territory: of.clone(),
        ..Filters::default()
    };
    let (total, offered) = if of.is_empty() {
        (0, Vec::new())
    } else {
        matching(&web, &v.user, &filters, REASSIGN_LISTED)
    };
    let users = acl.users();
    let names = acl.territory_names();
    let body = html! {
        (page::error(q.error.as_deref()))
        @for t in acl.territories() {
            @let n = caught.get(&t.name).copied().unwrap_or(0);
            section.territory aria-labelledby={ "t-" (t.id) } {
                h2 id={ "t-" (t.id) } { (t.name) " (" (n) (tr(l, " clients)", " accounts)")) }
                p.no-print {
                    a href={ "/accounts?territory=" (enc(&t.name)) } { (tr(l, "Voir les clients de ce secteur", "See this territory's accounts")) }
                    " — "
                    a href={ "/territories?of=" (enc(&t.name)) "#h-reassign" } { (tr(l, "Réaffecter", "Reassign")) }
                }
                form method="post" action={ "/territories/" (t.id) } {
                    (page::csrf(&v))
                    p { label for={ "pc-" (t.id) } { (tr(l, "Codes postaux ou départements (préfixes, séparés par des virgules)", "Postcodes or departments (prefixes, comma-separated)")) }
                        input id={ "pc-" (t.id) } type="text" name="postcodes" value=(t.prefixes.join(",")); }
                    p { label for={ "reps-" (t.id) } { (tr(l, "Commerciaux (e-mails, séparés par des virgules)", "Reps (emails, comma-separated)")) }
                        input id={ "reps-" (t.id) } type="text" name="reps" value=({ let mut r: Vec<&String> = t.reps.iter().collect(); r.sort(); r.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",") }); }
                    button type="submit" { (tr(l, "Enregistrer", "Save")) }
                }
            }
        }
        p { (caught.get("").copied().unwrap_or(0)) (tr(l, " clients hors secteur — ", " accounts outside every territory — "))
            a href={ "/territories?of=" (NO_TERRITORY) "#h-reassign" } { (tr(l, "Réaffecter", "Reassign")) } }
        section aria-labelledby="h-new-t" {
            h2 #h-new-t { (tr(l, "Nouveau secteur", "New territory")) }
            form method="post" action="/territories" {
                (page::csrf(&v))
                p { label for="nt-name" { (tr(l, "Nom", "Name")) } input #nt-name type="text" name="name" required; }
                p { label for="nt-pc" { (tr(l, "Préfixes de codes postaux", "Postcode prefixes")) } input #nt-pc type="text" name="postcodes" required; }
                p { label for="nt-reps" { (tr(l, "Commerciaux", "Reps")) } input #nt-reps type="text" name="reps"; }
                button type="submit" { (tr(l, "Créer", "Create")) }
            }
        }
        section aria-labelledby="h-reassign" {
            h2 #h-reassign { (tr(l, "Réaffecter des clients", "Reassign accounts")) }
            form.filters method="get" action="/territories" {
                p { label for="of" { (tr(l, "Clients du secteur", "Accounts of territory")) }
                    select #of name="of" {
                        option value="" { "—" }
                        @for n in &names { option value=(n) selected[of == *n] { (n) } }
                        option value=(NO_TERRITORY) selected[of == NO_TERRITORY] { (tr(l, "Hors secteur", "No territory")) }
                    } }
                p { label for="rq" { (tr(l, "Recherche", "Search")) } input #rq type="search" name="q" value=(q.q); }
                p { button type="submit" { (tr(l, "Afficher", "Show")) } }
            }
            @if !of.is_empty() {
                form method="post" action="/territories/reassign" {
                    (page::csrf(&v))
                    input type="hidden" name="of" value=(of);
                    input type="hidden" name="q" value=(q.q);
                    p { label for="to" { (tr(l, "Nouveau responsable", "New owner")) }
                        select #to name="to" { @for u in &users { option value=(u) { (u) } } } }
                    fieldset {
                        legend { (total) (tr(l, " clients", " accounts"))
                            @if total > REASSIGN_LISTED { " (" (tr(l, "les ", "first ")) (REASSIGN_LISTED) (tr(l, " premiers affichés", " shown")) ")" } }
                        @if total > 0 {
                            div.check { input #ra-all type="checkbox" name="all" value="1";
                                label for="ra-all" { (tr(l, "Toutes les fiches de cette liste (", "Every account of this list (")) (total) ")" } }
                        }
                        @for a in &offered {
                            div.check { input type="checkbox" id={ "ra-" (a.id) } name="account" value=(a.id);
                                label for={ "ra-" (a.id) } { (a.row.name) " — " (a.row.owner) } }
                        }
                    }
                    button type="submit" { (tr(l, "Réaffecter la sélection", "Reassign the selection")) }
                }
            }
        }
    };
    html_page(page::page(
        &v,
        Nav::Territories,
        tr(l, "Secteurs", "Territories"),
        body,
    ))
}

/// Accounts offered one by one for reassignment on the page.
pub const REASSIGN_LISTED: usize = 100;

/// Accounts one reassignment may change (a bulk "all of them" included).
pub const MAX_REASSIGN: usize = 5_000;

fn list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

async fn add_territory(State(web): State<Web>, Posted { v, f }: Posted) -> Response {
    if !v.is_manager() {
        return not_found(&v);
    }
    match web
        .tenant
        .add_territory(
            &f.text("name"),
            &list(&f.text("postcodes")),
            &list(&f.text("reps")),
        )
        .await
    {
        Ok(()) => back("/territories"),
        Err(e) => back(&with_error("/territories", &e.to_string())),
    }
}

async fn edit_territory(
    State(web): State<Web>,
    Path(id): Path<String>,
    Posted { v, f }: Posted,
) -> Response {
    if !v.is_manager() {
        return not_found(&v);
    }
    match web
        .tenant
        .edit_territory(&id, &list(&f.text("postcodes")), &list(&f.text("reps")))
        .await
    {
        Ok(()) => back("/territories"),
        Err(e) => back(&with_error("/territories", &e.to_string())),
    }
}

/// Gives the chosen accounts to a new owner, each as one change by the
/// viewer, judged like any other (giving away is allowed, taking is not).
/// Devices that lose an account drop it on their next sync.
async fn reassign(State(web): State<Web>, Posted { v, f }: Posted) -> Response {
    if !v.is_manager() {
        return not_found(&v);
    }
    let to = f.text("to");
    let of = f.text("of");
    let listed = with_query(
        "/territories",
        &[("of", of.as_str()), ("q", f.get("q").unwrap_or(""))],
    );
    let accounts: Vec<DocId> = if f.get("all") == Some("1") && !of.is_empty() {
        // Every account of the list, as the viewer sees it now.
        let filters = Filters {
            q: f.text("q"),
            territory: of.clone(),
            ..Filters::default()
        };
        let (total, all) = matching(&web, &v.user, &filters, MAX_REASSIGN);
        if total > MAX_REASSIGN {
            let msg = format!(
                "{} {MAX_REASSIGN} {}",
                tr(v.lang, "Plus de", "More than"),
                tr(
                    v.lang,
                    "clients : affinez la recherche.",
                    "accounts: narrow the search."
                )
            );
            return back(&with_error(&listed, &msg));
        }
        all.into_iter().map(|a| a.id).collect()
    } else {
        f.all("account")
            .into_iter()
            .filter_map(|a| a.parse().ok())
            .take(MAX_REASSIGN)
            .collect()
    };
    let mut failed = 0;
    for doc in accounts {
        let r = web
            .tenant
            .edit_for(&v.writer(), doc, DocKind::Account, false, |d, ctx| {
                ops::set_field(d, ctx, "account/owner", &to)
            })
            .await;
        if r.is_err() {
            failed += 1;
        }
    }
    if failed > 0 {
        back(&with_error(&listed, &format!("{failed} ✕")))
    } else {
        back(&listed)
    }
}

/// `path?k=v&…`, skipping empty values.
fn with_query(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        q.append_pair(k, v);
    }
    let q = q.finish();
    if q.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{q}")
    }
}

// ----- the company (what quotes state) -----------------------------------

/// The company fields an admin edits here: what quotes must state.
const COMPANY_FIELDS: &[(&str, &str, &str)] = &[
    ("name", "Raison sociale", "Company name"),
    ("legal_form", "Forme juridique (SAS, SARL…)", "Legal form"),
    ("share_capital", "Capital social (€)", "Share capital"),
    ("address", "Adresse", "Address"),
    ("postcode", "Code postal", "Postcode"),
    ("city", "Ville", "City"),
    ("siren", "SIREN", "SIREN"),
    ("siret", "SIRET", "SIRET"),
    (
        "rcs_city",
        "Ville d'immatriculation au RCS",
        "RCS registry town",
    ),
    (
        "vat_number",
        "N° de TVA intracommunautaire",
        "EU VAT number",
    ),
    ("phone", "Téléphone", "Phone"),
    ("email", "E-mail", "Email"),
    (
        "payment_terms",
        "Conditions de paiement par défaut",
        "Default payment terms",
    ),
    (
        "late_penalty_rate",
        "Taux des pénalités de retard (% par an)",
        "Late-payment penalty rate (% a year)",
    ),
    (
        "operation_category",
        "Catégorie d'opération (goods, services, mixed)",
        "Operation category (goods, services, mixed)",
    ),
];

async fn company(State(web): State<Web>, v: Viewer, Query(q): Query<Msg>) -> Response {
    let l = v.lang;
    if v.role != Role::Admin {
        return not_found(&v);
    }
    let parts = web.tenant.edit_parts();
    let c = &parts.settings.company;
    let value = |k: &str| -> String {
        match k {
            "name" => c.name.clone(),
            "legal_form" => c.legal_form.clone(),
            "share_capital" => c
                .share_capital
                .map(carnet_core::money::format_cents)
                .unwrap_or_default(),
            "address" => c.address.clone(),
            "postcode" => c.postcode.clone(),
            "city" => c.city.clone(),
            "siren" => c.siren.clone(),
            "siret" => c.siret.clone(),
            "rcs_city" => c.rcs_city.clone(),
            "vat_number" => c.vat_number.clone(),
            "phone" => c.phone.clone(),
            "email" => c.email.clone(),
            "payment_terms" => c.payment_terms.clone(),
            "late_penalty_rate" => c
                .late_penalty_rate
                .map(|r| r.to_string())
                .unwrap_or_default(),
            "operation_category" => c.operation_category.clone().unwrap_or_default(),
            _ => String::new(),
        }
    };
    let images: Vec<_> = web
        .tenant
        .library()
        .await
        .into_iter()
        .filter(|i| matches!(i.mime.as_str(), "image/png" | "image/jpeg"))
        .collect();
    let logo = c.logo.clone().unwrap_or_default();
    let body = html! {
        (page::error(q.error.as_deref()))
        h2 { (tr(l, "Logo", "Logo")) }
        @if !logo.is_empty() {
            p { img.logo src={ "/blobs/" (logo) } alt=(tr(l, "Logo actuel", "Current logo")) height="48"; }
        }
        form method="post" action="/company/logo" {
            (page::csrf(&v))
            p {
                label for="c-logo" { (tr(l, "Image de la bibliothèque (PNG ou JPEG, 2 Mo et 4096 pixels de côté au plus), en tête de chaque PDF", "Library image (PNG or JPEG, at most 2 MB and 4096 pixels a side), heading every PDF")) }
                " "
                select #c-logo name="blob" {
                    option value="" selected[logo.is_empty()] { (tr(l, "— aucun —", "— none —")) }
                    @for i in &images {
                        option value=(i.blob) selected[i.blob == logo] { (i.title) " (" (i.file_name) ")" }
                    }
                }
                " "
                button type="submit" { (tr(l, "Enregistrer", "Save")) }
            }
        }
        @if images.is_empty() {
            p { (tr(l, "Ajoutez d'abord l'image à la bibliothèque (Documents).", "Add the image to the library first (Library).")) }
        }
        h2 { (tr(l, "Mentions légales", "Legal mentions")) }
        p { (tr(l, "Ces mentions figurent sur les devis ; un devis ne peut être envoyé que si elles sont toutes renseignées.", "Quotes state these; a quote can only be sent once they are all filled in.")) }
        table.fields { tbody {
            @for (k, fr, en) in COMPANY_FIELDS {
                tr { th scope="row" { label for={ "c-" (k) } { (tr(l, fr, en)) } }
                    td { form.inline method="post" action="/company/field" {
                        (page::csrf(&v))
                        input type="hidden" name="field" value=(k);
                        input id={ "c-" (k) } type="text" name="value" value=(value(k));
                        button type="submit" { (tr(l, "Enregistrer", "Save")) }
                    } } }
            }
        } }
    };
    html_page(page::page(
        &v,
        Nav::Company,
        tr(l, "Entreprise", "Company"),
        body,
    ))
}

async fn set_company_field(
    State(web): State<Web>,
    AdminPosted(Posted { v, f }): AdminPosted,
) -> Response {
    let field = f.text("field");
    if !COMPANY_FIELDS.iter().any(|(k, _, _)| *k == field) {
        return back(&with_error("/company", &field));
    }
    let value = f.get("value").unwrap_or("").to_string();
    let Some(settings) = web.tenant.singleton(DocKind::Settings) else {
        return not_found(&v);
    };
    match web
        .tenant
        .edit_for(&v.writer(), settings, DocKind::Settings, false, |d, ctx| {
            ops::set_field(d, ctx, &format!("company/{field}"), &value)
        })
        .await
    {
        Ok(()) => back("/company"),
        Err(e) => edit_failed(&v, e, "/company"),
    }
}

/// Sets the letterhead's logo to an image of the library (or none), once
/// the image is known to be drawable: a PNG or JPEG within the limits.
async fn set_company_logo(
    State(web): State<Web>,
    AdminPosted(Posted { v, f }): AdminPosted,
) -> Response {
    let l = v.lang;
    let blob = f.text("blob");
    if !blob.is_empty() {
        let known = web
            .tenant
            .library()
            .await
            .into_iter()
            .any(|i| i.blob == blob);
        let Some(path) = web.tenant.blobs.path(&blob).filter(|_| known) else {
            return back(&with_error(
                "/company",
                tr(
                    l,
                    "Cette image n'est pas dans la bibliothèque.",
                    "This image is not in the library.",
                ),
            ));
        };
        let checked = tokio::task::spawn_blocking(move || {
            carnet_core::pdf::read_logo(&path)
                .ok_or_else(|| "larger than 2 MB".to_string())
                .and_then(|b| carnet_core::pdf::check_logo(&b))
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        if let Err(why) = checked {
            let msg = format!(
                "{} ({why})",
                tr(l, "Cette image ne peut pas servir de logo : il faut un PNG ou un JPEG de 2 Mo et 4096 pixels de côté au plus", "This image cannot be the logo: it must be a PNG or JPEG of at most 2 MB and 4096 pixels a side")
            );
            return back(&with_error("/company", &msg));
        }
    }
    let Some(settings) = web.tenant.singleton(DocKind::Settings) else {
        return not_found(&v);
    };
    match web
        .tenant
        .edit_for(&v.writer(), settings, DocKind::Settings, false, |d, ctx| {
            ops::set_field(d, ctx, "company/logo", &blob)
        })
        .await
    {
        Ok(()) => back("/company"),
        Err(e) => edit_failed(&v, e, "/company"),
    }
}

// ----- users and devices ------------------------------------------------

async fn users(State(web): State<Web>, v: Viewer, Query(q): Query<Msg>) -> Response {
    let l = v.lang;
    if v.role != Role::Admin {
        return not_found(&v);
    }
    let acl = web.tenant.acl();
    let all = acl.directory_users();
    let body = html! {
        (page::error(q.error.as_deref()))
        table {
            thead { tr {
                th scope="col" { "E-mail" }
                th scope="col" { (tr(l, "Rôle et responsable", "Role and manager")) }
                th scope="col" { (tr(l, "Appareils", "Devices")) }
                th scope="col" { (tr(l, "Accès", "Access")) }
            } }
            tbody {
                @for (u, active) in &all {
                    @let key = enc(u);
                    tr {
                        th scope="row" { (u) }
                        td { @if *active {
                            form.inline method="post" action={ "/users/" (key) "/role" } {
                                (page::csrf(&v))
                                label.sr for={ "role-" (u) } { (tr(l, "Rôle de ", "Role of ")) (u) }
                                select id={ "role-" (u) } name="role" { @for r in ["rep", "manager", "admin"] { option value=(r) selected[acl.role(u).map(|x| x.as_str()) == Some(r)] { (r) } } }
                                label.sr for={ "mgr-" (u) } { (tr(l, "Responsable de ", "Manager of ")) (u) }
                                input id={ "mgr-" (u) } type="email" name="manager" value=(acl.manager_of(u).unwrap_or(""));
                                button type="submit" { (tr(l, "Modifier", "Change")) }
                            }
                        } @else { (tr(l, "désactivé", "deactivated")) } }
                        td { ul { @for d in web.tenant.devices_of(u).unwrap_or_default() {
                            li { (d.name) " — " (carnet_core::text::date_time(d.created_at, l))
                                @if d.revoked { " — " (tr(l, "révoqué", "revoked")) } @else {
                                    form.inline method="post" action={ "/users/" (key) "/devices/" (d.device) "/revoke" } {
                                        (page::csrf(&v))
                                        button type="submit" aria-label={ (tr(l, "Révoquer l'appareil ", "Revoke device ")) (d.name) } { (tr(l, "Révoquer", "Revoke")) }
                                    }
                                }
                            }
                        } } }
                        td { @if *active && u != &v.user {
                            form.inline method="post" action={ "/users/" (key) "/deactivate" } {
                                (page::csrf(&v))
                                button type="submit" aria-label={ (tr(l, "Désactiver ", "Deactivate ")) (u) } { (tr(l, "Désactiver", "Deactivate")) }
                            }
                        } }
                    }
                }
            }
        }
        section aria-labelledby="h-new-u" {
            h2 #h-new-u { (tr(l, "Nouvel utilisateur", "New user")) }
            form method="post" action="/users" {
                (page::csrf(&v))
                p { label for="nu-email" { "E-mail" } input #nu-email type="email" name="email" required; }
                p { label for="nu-name" { (tr(l, "Nom", "Name")) } input #nu-name type="text" name="name"; }
                p { label for="nu-role" { (tr(l, "Rôle", "Role")) } select #nu-role name="role" { option value="rep" { "rep" } option value="manager" { "manager" } option value="admin" { "admin" } } }
                p { label for="nu-mgr" { (tr(l, "Responsable (e-mail)", "Manager (email)")) } input #nu-mgr type="email" name="manager"; }
                p { label for="nu-pw" { (tr(l, "Mot de passe initial (8 caractères au moins)", "Initial password (at least 8 characters)")) } input #nu-pw type="password" name="password" required minlength="8" autocomplete="new-password"; }
                button type="submit" { (tr(l, "Ajouter", "Add")) }
            }
        }
    };
    html_page(page::page(
        &v,
        Nav::Users,
        tr(l, "Utilisateurs et appareils", "Users and devices"),
        body,
    ))
}

async fn add_user(State(web): State<Web>, AdminPosted(Posted { f, .. }): AdminPosted) -> Response {
    let manager = Some(f.text("manager")).filter(|m| !m.is_empty());
    let name = Some(f.text("name")).filter(|m| !m.is_empty());
    match web
        .tenant
        .add_user(
            &f.text("email"),
            &f.text("role"),
            manager.as_deref(),
            name.as_deref(),
            f.get("password").unwrap_or(""),
        )
        .await
    {
        Ok(()) => back("/users"),
        Err(e) => back(&with_error("/users", &e.to_string())),
    }
}

async fn set_role(
    State(web): State<Web>,
    Path(email): Path<String>,
    AdminPosted(Posted { v, f }): AdminPosted,
) -> Response {
    let Some(record) = web.tenant.acl().record_of(&email).map(str::to_string) else {
        return not_found(&v);
    };
    for (field, value) in [("role", f.text("role")), ("manager", f.text("manager"))] {
        if let Err(e) = web
            .tenant
            .set_directory_field(&format!("users/{record}/{field}"), &value)
            .await
        {
            return back(&with_error("/users", &e.to_string()));
        }
    }
    back("/users")
}

async fn deactivate(
    State(web): State<Web>,
    Path(email): Path<String>,
    AdminPosted(Posted { v, .. }): AdminPosted,
) -> Response {
    if email == v.user {
        return back(&with_error(
            "/users",
            tr(
                v.lang,
                "Vous ne pouvez pas vous désactiver.",
                "You cannot deactivate yourself.",
            ),
        ));
    }
    match web.tenant.deactivate_user(&email).await {
        Ok(_) => {
            web.sessions.close_user(&email);
            back("/users")
        }
        Err(e) => back(&with_error("/users", &e.to_string())),
    }
}

async fn revoke(
    State(web): State<Web>,
    Path((email, device)): Path<(String, String)>,
    AdminPosted(Posted { v, .. }): AdminPosted,
) -> Response {
    let Ok(device) = device.parse() else {
        return not_found(&v);
    };
    match web.tenant.revoke_devices(&email, Some(device)) {
        Ok(_) => back("/users"),
        Err(e) => back(&with_error("/users", &e.to_string())),
    }
}
