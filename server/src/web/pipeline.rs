//! The pipeline board: open and closed deals by stage, amounts per column
//! and the weighted total. A deal moves with a select and a button, so the
//! keyboard alone does it.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use carnet_core::index::AccountRows;
use carnet_core::ops;
use carnet_core::reports::{self, Scope};
use carnet_core::DocKind;
use maud::html;
use serde::Deserialize;

use super::page::{self, day, money, tr, Nav};
use super::{back, edit_failed, html_page, not_found, Posted, Viewer, Web};

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/pipeline", get(board))
        .route("/deals/{id}/stage", post(move_deal))
}

/// Deals shown per column, biggest first (keeps the page under 100 KB
/// whatever the pipeline's size; the column's count and sums are whole).
pub const CARDS: usize = 15;

#[derive(Deserialize, Default)]
struct Q {
    mine: Option<String>,
    error: Option<String>,
}

async fn board(State(web): State<Web>, v: Viewer, Query(q): Query<Q>) -> Response {
    let l = v.lang;
    let parts = web.tenant.edit_parts();
    let settings = &parts.settings;
    let mine = q.mine.is_some() || !v.is_manager();
    let scope = if mine {
        Scope::User(v.user.clone())
    } else {
        Scope::All
    };
    // The pipeline, and each column's biggest deals (with how many there
    // are): only those leave the index, copied.
    type Card = (carnet_core::DocId, String, carnet_core::index::DealRow);
    let (p, cols) = web.tenant.with_visible(&v.user, |idx| {
        let mut cols: Vec<Vec<(carnet_core::DocId, &str, &carnet_core::index::DealRow)>> =
            vec![Vec::new(); settings.stages.len()];
        for (doc, a, rows) in idx.account_rows() {
            for d in &rows.deals {
                if !scope.covers(&d.owner) {
                    continue;
                }
                if let Some(i) = settings.stages.iter().position(|s| s.code == d.stage) {
                    cols[i].push((doc, a.name.as_str(), d));
                }
            }
        }
        let cols: Vec<(Vec<Card>, usize)> = cols
            .into_iter()
            .map(|mut c| {
                c.sort_by(|a, b| b.2.amount.cmp(&a.2.amount).then(a.2.id.cmp(&b.2.id)));
                let total = c.len();
                let shown = c
                    .into_iter()
                    .take(CARDS)
                    .map(|(doc, name, d)| (doc, name.to_string(), d.clone()))
                    .collect();
                (shown, total)
            })
            .collect();
        (reports::pipeline(idx, settings, &scope), cols)
    });
    let body = html! {
        (page::error(q.error.as_deref()))
        p {
            (tr(l, "Ouvert : ", "Open: ")) strong { (money(p.open_amount, l)) } " HT — "
            (tr(l, "pondéré : ", "weighted: ")) strong #weighted { (money(p.open_weighted, l)) } " HT — "
            (p.open_count) (tr(l, " affaires", " deals"))
            @if v.is_manager() {
                " — " @if mine { a href="/pipeline" { (tr(l, "Toute l'équipe", "Whole team")) } } @else { a href="/pipeline?mine=1" { (tr(l, "Mes affaires", "My deals")) } }
            }
        }
        div.board {
            @for (i, s) in p.stages.iter().enumerate() {
                section.column aria-labelledby={ "st-" (s.code) } {
                    h2 id={ "st-" (s.code) } { (s.label) }
                    p.colsum { (s.count) " — " (money(s.amount, l)) @if s.weighted != s.amount { br; (tr(l, "pondéré ", "weighted ")) (money(s.weighted, l)) } }
                    ul {
                        @for (doc, name, d) in &cols[i].0 {
                            li.card {
                                a href={ "/accounts/" (doc) } { (name) } br;
                                (d.title) br;
                                strong { (money(d.amount, l)) } " " (day(d.close_date, l))
                                form.inline method="post" action={ "/deals/" (d.id) "/stage" } {
                                    (page::csrf(&v))
                                    label.sr for={ "mv-" (d.id) } { (tr(l, "Déplacer ", "Move ")) (d.title) }
                                    select id={ "mv-" (d.id) } name="stage" {
                                        @for st in &settings.stages { option value=(st.code) selected[st.code == d.stage] { (st.label) } }
                                    }
                                    button type="submit" { (tr(l, "Déplacer", "Move")) }
                                }
                            }
                        }
                        @if cols[i].1 > CARDS { li { "… " (cols[i].1 - CARDS) (tr(l, " de plus", " more")) } }
                    }
                }
            }
        }
    };
    html_page(page::page(
        &v,
        Nav::Pipeline,
        tr(l, "Affaires en cours", "Pipeline"),
        body,
    ))
}

async fn move_deal(
    State(web): State<Web>,
    Path(id): Path<String>,
    Posted { v, f }: Posted,
) -> Response {
    let Some(doc) = web.tenant.account_of_record(&v.user, &id) else {
        return not_found(&v);
    };
    let stage = f.text("stage");
    match web
        .tenant
        .edit_for(&v.writer(), doc, DocKind::Account, false, |d, ctx| {
            ops::set_field(d, ctx, &format!("deals/{id}/stage"), &stage)
        })
        .await
    {
        Ok(()) => back("/pipeline"),
        Err(e) => edit_failed(&v, e, "/pipeline"),
    }
}
