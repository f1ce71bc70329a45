//! "Qualité des données" for managers and admins: over the files the
//! viewer may see, the share of key fields not verified for over a year,
//! the addresses mail or email cannot reach, the prospects silent for three
//! years, and the files that look like one company, each pair with a
//! button that merges them (`Tenant::merge_accounts`). A file the viewer
//! may not see answers as a missing one.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use carnet_core::dedup;
use carnet_core::index::{AccountRow, AccountRows, DocRows};
use carnet_core::reports::{self, Scope};
use carnet_core::DocId;
use maud::html;
use serde::Deserialize;

use super::day::today;
use super::page::{self, day, tr, Nav};
use super::{back, html_page, not_found, with_error, Posted, Viewer, Web};

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/quality", get(quality))
        .route("/quality/merge", post(merge))
}

/// Groups shown at most: the scan goes on, the page stays readable.
const MAX_GROUPS: usize = 200;

#[derive(Deserialize, Default)]
struct Q {
    error: Option<String>,
    merged: Option<String>,
}

async fn quality(State(web): State<Web>, v: Viewer, Query(q): Query<Q>) -> Response {
    let l = v.lang;
    if !v.is_manager() {
        return not_found(&v);
    }
    let today = today();
    let (quality, dormant, to_check, groups, names) = web.tenant.with_visible(&v.user, |idx| {
        let mut groups = dedup::groups_in(idx);
        groups.truncate(MAX_GROUPS);
        let rows: HashMap<DocId, (&AccountRow, &DocRows)> =
            idx.account_rows().map(|(id, a, r)| (id, (a, r))).collect();
        // The file kept is the one with more in it (then the older one).
        let weight = |id: &DocId| {
            rows.get(id).map(|(a, r)| {
                let n = r.contacts.len()
                    + r.deals.len()
                    + r.actions.len()
                    + r.quotes.len()
                    + r.orders.len();
                (n, std::cmp::Reverse(a.created_on))
            })
        };
        for g in &mut groups {
            for (a, b, _) in &mut g.links {
                if weight(b) > weight(a) {
                    std::mem::swap(a, b);
                }
            }
        }
        let names: HashMap<DocId, (String, String)> = groups
            .iter()
            .flat_map(|g| g.members.iter())
            .filter_map(|id| {
                let (a, _) = rows.get(id)?;
                let place = [a.postcode.clone(), a.city.clone()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                Some((*id, (a.name.clone(), place)))
            })
            .collect();
        (
            reports::quality(idx, &Scope::All, today),
            reports::dormant_prospects(idx, &Scope::All, today),
            reports::stale_accounts(idx, &Scope::All, today, 100),
            groups,
            names,
        )
    });
    let pct = |x: f64| carnet_core::text::share(x, l);
    let name = |id: &DocId| names.get(id).cloned().unwrap_or_default();
    let body = html! {
        (page::error(q.error.as_deref()))
        @if q.merged.is_some() { p role="status" { (tr(l, "Dossiers fusionnés.", "Files merged.")) } }
        p { a href="/import" { (tr(l, "Importer un fichier de clients (CSV)", "Import a customer file (CSV)")) } }
        p {
            (quality.accounts) " " (tr(l, "dossiers", "files")) " · "
            (quality.fields) " " (tr(l, "champs clés", "key fields")) " · "
            (tr(l, "non vérifiés depuis plus d'un an :", "not verified for over a year:")) " "
            (quality.unverified_over_a_year) " (" (pct(quality.share_unverified)) ") · "
            (tr(l, "obsolescence estimée :", "estimated staleness:")) " " (pct(quality.mean_staleness))
        }
        h2 { (tr(l, "Doublons probables", "Likely duplicates")) }
        @if groups.is_empty() {
            p { (tr(l, "Aucun doublon.", "No duplicates.")) }
        } @else {
            table {
                thead { tr {
                    th scope="col" { (tr(l, "Dossier conservé", "File kept")) }
                    th scope="col" { (tr(l, "Doublon", "Duplicate")) }
                    th scope="col" { (tr(l, "Motif", "Reason")) }
                    th scope="col" { (tr(l, "Fusion", "Merge")) }
                } }
                tbody { @for g in &groups { @for (a, b, reason) in &g.links { tr {
                    td { a href={ "/accounts/" (a) } { (name(a).0) } " " (name(a).1) }
                    td { a href={ "/accounts/" (b) } { (name(b).0) } " " (name(b).1) }
                    td { (reason.text(l)) }
                    td { form method="post" action="/quality/merge" {
                        input type="hidden" name="csrf" value=(v.csrf);
                        input type="hidden" name="winner" value=(a);
                        input type="hidden" name="loser" value=(b);
                        button type="submit" aria-label={ (tr(l, "Fusionner", "Merge")) " " (name(b).0) " → " (name(a).0) } {
                            (tr(l, "Fusionner", "Merge"))
                        }
                    } }
                } } } }
            }
        }
        h2 { (tr(l, "Adresses à corriger", "Addresses to correct")) }
        @if quality.undeliverable.is_empty() {
            p { (tr(l, "Aucune.", "None.")) }
        } @else {
            ul { @for u in &quality.undeliverable { li {
                a href={ "/accounts/" (u.id) } { (u.name) } " — "
                @if u.returned_mail { (tr(l, "NPAI (courrier revenu)", "mail returned")) " " }
                @if u.email_bounced { (tr(l, "e-mail en erreur", "email bounced")) }
            } } }
        }
        h2 { (tr(l, "Prospects sans contact depuis trois ans", "Prospects without contact for three years")) }
        @if dormant.is_empty() {
            p { (tr(l, "Aucun.", "None.")) }
        } @else {
            ul { @for p in &dormant { li {
                a href={ "/accounts/" (p.id) } { (p.name) } " — " (p.owner) " — "
                (day(p.last_contact, l))
            } } }
        }
        h2 { (tr(l, "Champs à vérifier", "Fields to check")) }
        @if to_check.is_empty() {
            p { (tr(l, "Rien à vérifier.", "Nothing to check.")) }
        } @else {
            ul { @for s in &to_check { li {
                a href={ "/accounts/" (s.id) } { (s.name) } " — " (pct(s.staleness)) " — "
                (s.to_check.iter().map(|c| c.field.split('/').next().unwrap_or("").to_string()).collect::<Vec<_>>().join(", "))
            } } }
        }
    };
    html_page(page::page(
        &v,
        Nav::Quality,
        tr(l, "Qualité des données", "Data quality"),
        body,
    ))
}

/// Merges two files the viewer (a manager or an admin) may both see; the
/// server writes both. Either one hidden answers as missing.
async fn merge(State(web): State<Web>, Posted { v, f }: Posted) -> Response {
    if !v.is_manager() {
        return not_found(&v);
    }
    let id = |k: &str| f.text(k).parse::<DocId>().ok();
    let (Some(winner), Some(loser)) = (id("winner"), id("loser")) else {
        return not_found(&v);
    };
    let visible = |d: DocId| {
        web.tenant
            .rows(d)
            .is_some_and(|r| r.listed_account().is_some())
            && web.tenant.visible(&v.user, d)
    };
    if !visible(winner) || !visible(loser) {
        return not_found(&v);
    }
    match web.tenant.merge_accounts(winner, loser).await {
        Ok(_) => back("/quality?merged=1"),
        Err(e) => back(&with_error("/quality", &e.to_string())),
    }
}
