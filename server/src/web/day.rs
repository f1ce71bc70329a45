//! My day: actions due and overdue, today's visits, quotes awaiting an
//! answer; an action is ticked done with its outcome. And the printable
//! to-do list ("édition des actions à effectuer") for a date range.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use carnet_core::index::AccountRows;
use carnet_core::ops;
use carnet_core::reports::{self, Scope, TodoItem};
use carnet_core::DocKind;
use chrono::NaiveDate;
use maud::{html, Markup};
use serde::Deserialize;

use super::page::{self, day, money, tr, Nav};
use super::{back, edit_failed, html_page, not_found, Posted, Viewer, Web};

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/day", get(my_day))
        .route("/actions/{id}/done", post(done))
        .route("/print/todo", get(print_todo))
        .route("/print/todo.pdf", get(print_todo_pdf))
}

pub fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}

/// Rows of each list on "my day" (the to-do print view has them all).
pub const DAY_ROWS: usize = 50;

/// Actions on one sheet of the printed to-do list (the next sheets follow
/// by link), so a long list stays a page of bounded size.
pub const PRINT_ROWS: usize = 250;

#[derive(Deserialize, Default)]
pub struct Msg {
    pub error: Option<String>,
}

fn todo_table(v: &Viewer, items: &[TodoItem], tick: bool) -> Markup {
    let l = v.lang;
    html! {
        table {
            thead { tr {
                th scope="col" { (tr(l, "Échéance", "Due")) }
                th scope="col" { (tr(l, "Client", "Account")) }
                th scope="col" { (tr(l, "Type", "Type")) }
                th scope="col" { (tr(l, "Objet", "Subject")) }
                @if !tick { th scope="col" { (tr(l, "Assignée à", "Assignee")) } }
                @if tick { th scope="col" { (tr(l, "Fait", "Done")) } }
            } }
            tbody {
                @for t in items {
                    tr.overdue[t.overdue] {
                        td { (day(Some(t.due), l))
                            @if t.overdue { " " span.late { "(" (t.days_late) (tr(l, " j de retard)", " d late)")) } } }
                        td { a href={ "/accounts/" (t.account_id) } { (t.account) } }
                        td { (t.action_type) }
                        td { (t.subject) }
                        @if !tick { td { (t.assignee) } }
                        @if tick { td {
                            form.inline method="post" action={ "/actions/" (t.action) "/done" } {
                                (page::csrf(v))
                                label for={ "o-" (t.action) } .sr { (tr(l, "Résultat de ", "Outcome of ")) (t.subject) }
                                input id={ "o-" (t.action) } name="outcome" type="text" placeholder=(tr(l, "Résultat", "Outcome"));
                                button type="submit" { (tr(l, "Fait", "Done")) }
                            }
                        } }
                    }
                }
            }
        }
    }
}

async fn my_day(State(web): State<Web>, v: Viewer, Query(m): Query<Msg>) -> Response {
    let l = v.lang;
    let (d, mut awaiting) = web.tenant.with_visible(&v.user, |idx| {
        let mut awaiting = Vec::new();
        for (doc, a, rows) in idx.account_rows() {
            for q in &rows.quotes {
                if q.status == "sent" && q.owner == v.user {
                    awaiting.push((doc, a.name.clone(), q.clone()));
                }
            }
        }
        (reports::my_day(idx, &v.user, today()), awaiting)
    });
    awaiting.sort_by_key(|x| x.2.date);
    let body = html! {
        (page::error(m.error.as_deref()))
        p.no-print { a href="/print/todo" { (tr(l, "Imprimer les actions à effectuer", "Print the to-do list")) } }
        section aria-labelledby="h-todo" {
            h2 #h-todo { (tr(l, "À faire", "To do")) " (" (d.todo.len()) ")" }
            @if d.todo.is_empty() { p { (tr(l, "Rien d'échu aujourd'hui.", "Nothing due today.")) } }
            @else {
                (todo_table(&v, &d.todo[..d.todo.len().min(DAY_ROWS)], true))
                @if d.todo.len() > DAY_ROWS { p { (d.todo.len() - DAY_ROWS) (tr(l, " de plus : ", " more: ")) a href="/print/todo" { (tr(l, "la liste complète", "the whole list")) } } }
            }
        }
        section aria-labelledby="h-visits" {
            h2 #h-visits { (tr(l, "Visites du jour", "Today's visits")) " (" (d.visits.len()) ")" }
            ul { @for t in d.visits.iter().take(DAY_ROWS) { li { a href={ "/accounts/" (t.account_id) } { (t.account) } " — " (t.subject) } } }
        }
        section aria-labelledby="h-quotes" {
            h2 #h-quotes { (tr(l, "Devis en attente de réponse", "Quotes awaiting an answer")) " (" (awaiting.len()) ")" }
            @if awaiting.len() > DAY_ROWS { p { (tr(l, "Les plus anciens d'abord ; ", "Oldest first; ")) (DAY_ROWS) (tr(l, " affichés.", " shown.")) } }
            ul { @for (doc, name, q) in awaiting.iter().take(DAY_ROWS) {
                li { a href={ "/accounts/" (doc) } { (name) } " — " (q.number) " — " (money(q.net, l)) " HT — " (day(q.date, l)) }
            } }
        }
    };
    html_page(page::page(
        &v,
        Nav::Day,
        tr(l, "Ma journée", "My day"),
        body,
    ))
}

async fn done(State(web): State<Web>, Path(id): Path<String>, Posted { v, f }: Posted) -> Response {
    let Some(doc) = web.tenant.account_of_record(&v.user, &id) else {
        return not_found(&v);
    };
    let outcome = f.text("outcome");
    let on = today();
    let r = web
        .tenant
        .edit_for(&v.writer(), doc, DocKind::Account, false, |d, ctx| {
            ops::complete_action(
                d,
                ctx,
                &id,
                (!outcome.is_empty()).then_some(outcome.as_str()),
                on,
            )
        })
        .await;
    let to = f
        .get("back")
        .filter(|b| b.starts_with('/') && !b.starts_with("//"))
        .unwrap_or("/day")
        .to_string();
    match r {
        Ok(()) => back(&to),
        Err(e) => edit_failed(&v, e, &to),
    }
}

#[derive(Deserialize, Default)]
struct Range {
    from: Option<String>,
    to: Option<String>,
    everyone: Option<String>,
    page: Option<String>,
}

impl Range {
    /// The dates asked for (to: a week ahead by default), whether a
    /// manager asked for the whole team, and the open actions in range
    /// that the viewer may see, overdue first.
    fn items(&self, web: &Web, v: &Viewer) -> (Option<NaiveDate>, NaiveDate, bool, Vec<TodoItem>) {
        let parse = |s: &Option<String>| {
            s.as_deref()
                .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        };
        let to = parse(&self.to).unwrap_or_else(|| today() + chrono::Duration::days(7));
        let from = parse(&self.from);
        let everyone = v.is_manager() && self.everyone.is_some();
        let scope = if everyone {
            Scope::All
        } else {
            Scope::User(v.user.clone())
        };
        let items = web
            .tenant
            .with_visible(&v.user, |idx| reports::todo(idx, &scope, to, today()))
            .into_iter()
            .filter(|t| from.is_none_or(|f| t.due >= f))
            .collect();
        (from, to, everyone, items)
    }
}

/// The query that asks for this range again (and this sheet, when given).
fn range_query(
    from: Option<NaiveDate>,
    to: NaiveDate,
    everyone: bool,
    sheet: Option<usize>,
) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    if let Some(f) = from {
        q.append_pair("from", &f.to_string());
    }
    q.append_pair("to", &to.to_string());
    if everyone {
        q.append_pair("everyone", "1");
    }
    if let Some(n) = sheet {
        q.append_pair("page", &n.to_string());
    }
    q.finish()
}

/// The same list as a PDF (the core's, as a device makes it).
async fn print_todo_pdf(State(web): State<Web>, v: Viewer, Query(r): Query<Range>) -> Response {
    let (_, to, _, items) = r.items(&web, &v);
    let (head, user, lang) = (web.tenant.heading().await, v.user.clone(), v.lang);
    let made = web
        .tenant
        .on_cpu(move || carnet_core::pdf::todo(&head, &user, &items, to, today(), lang))
        .await;
    match made.map_err(carnet_core::CoreError::Pdf).and_then(|r| r) {
        Ok(bytes) => (
            [
                (axum::http::header::CONTENT_TYPE, "application/pdf"),
                (
                    axum::http::header::CONTENT_DISPOSITION,
                    "inline; filename=\"actions.pdf\"",
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "to-do PDF");
            (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                tr(
                    v.lang,
                    "PDF impossible à produire.",
                    "Could not make the PDF.",
                ),
            )
                .into_response()
        }
    }
}

/// "Édition des actions à effectuer": open actions due up to `to` (and
/// from `from`, when given), overdue first, as an A4 page.
async fn print_todo(State(web): State<Web>, v: Viewer, Query(r): Query<Range>) -> Response {
    let l = v.lang;
    let (from, to, everyone, items) = r.items(&web, &v);
    let pages = items.len().div_ceil(PRINT_ROWS).max(1);
    let sheet = r
        .page
        .as_deref()
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, pages);
    let shown = &items[(sheet - 1) * PRINT_ROWS..(sheet * PRINT_ROWS).min(items.len())];
    let next = range_query(from, to, everyone, Some(sheet + 1));
    let pdf_query = range_query(from, to, everyone, None);
    let body = html! {
        form.no-print method="get" action="/print/todo" {
            label for="from" { (tr(l, "Du", "From")) }
            input #from type="date" name="from" value=(from.map(|d| d.to_string()).unwrap_or_default());
            label for="to" { (tr(l, "au", "to")) }
            input #to type="date" name="to" value=(to.to_string());
            @if v.is_manager() {
                input #everyone type="checkbox" name="everyone" value="1" checked[everyone];
                label for="everyone" { (tr(l, "Toute l'équipe", "Whole team")) }
            }
            button type="submit" { (tr(l, "Afficher", "Show")) }
        }
        p { (tr(l, "Actions ouvertes jusqu'au ", "Open actions up to ")) (day(Some(to), l)) " : " (items.len())
            @if pages > 1 { " — " (tr(l, "feuille ", "sheet ")) (sheet) " / " (pages) } }
        (todo_table(&v, shown, false))
        @if sheet < pages { p.no-print { a href={ "/print/todo?" (next) } { (tr(l, "Feuille suivante", "Next sheet")) } } }
        p.no-print { a href={ "/print/todo.pdf?" (pdf_query) } { (tr(l, "Télécharger en PDF", "Download as PDF")) } }
    };
    html_page(page::page(
        &v,
        Nav::None,
        tr(l, "Édition des actions à effectuer", "Actions to do"),
        body,
    ))
}
