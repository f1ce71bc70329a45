//! Accounts: the filtered list and its CSV export, the account file (read,
//! edit, add records, resolve conflicts) and its print view.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use carnet_core::doc::Conflict;
use carnet_core::index::{fold, AccountRow, AccountRows, DocRows};
use carnet_core::legal::Mention;
use carnet_core::model::{AccountFile, NewQuoteLine};
use carnet_core::{ops, schema};
use carnet_core::{DocId, DocKind};
use chrono::NaiveDate;
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::{BinaryHeap, HashMap};

use super::day::{today, Msg};
use super::page::{self, day, money, tr, Nav};
use super::{back, edit_failed, html_page, not_found, Posted, Viewer, Web};
use carnet_core::text::{self, Lang};

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/accounts", get(list).post(create))
        .route("/accounts.csv", get(csv))
        .route("/accounts/{id}", get(file))
        .route("/accounts/{id}/field", post(set_field))
        .route("/accounts/{id}/contacts", post(add_contact))
        .route("/accounts/{id}/deals", post(add_deal))
        .route("/accounts/{id}/actions", post(add_action))
        .route("/accounts/{id}/notes", post(add_note))
        .route("/accounts/{id}/quotes", post(add_quote))
        .route("/quotes/{id}/send", post(send_quote))
        .route("/quotes/{id}/email", post(email_quote))
        .route("/quotes/{id}/revise", post(revise_quote))
        .route("/quotes/{id}/pdf", get(quote_pdf))
        .route("/orders/{id}/pdf", get(order_pdf))
        .route("/accounts/{id}/pdf", get(account_pdf))
        .route("/accounts/{id}/resolve", post(resolve))
        .route("/contacts/{id}/erase", post(erase_contact))
        .route("/print/accounts/{id}", get(print_file))
}

/// Largest "not visited for N days" filter (larger ones are ignored).
pub const MAX_IDLE_DAYS: u64 = 36_500;

/// Rows shown on one list page (the CSV export has them all).
pub const LIST_ROWS: usize = 200;

#[derive(Deserialize, Default, Clone)]
pub struct Filters {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub territory: String,
    #[serde(default)]
    pub tag: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub city: String,
    /// "Not visited for N days".
    #[serde(default)]
    pub idle: String,
    pub error: Option<String>,
}

impl Filters {
    fn query(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("q", &self.q),
            ("status", &self.status),
            ("territory", &self.territory),
            ("tag", &self.tag),
            ("owner", &self.owner),
            ("city", &self.city),
            ("idle", &self.idle),
        ] {
            if !v.trim().is_empty() {
                s.append_pair(k, v.trim());
            }
        }
        s.finish()
    }
}

/// One listed account.
pub struct Listed {
    pub id: DocId,
    pub row: AccountRow,
    pub territory: Option<String>,
    pub last_visit: Option<NaiveDate>,
}

/// The accounts `user` may see that pass the filters: how many, and the
/// first `limit` by name. Only the shown rows are copied: a list of 200
/// out of 50,000 keeps 200 (a bounded heap while scanning).
pub fn matching(web: &Web, user: &str, f: &Filters, limit: usize) -> (usize, Vec<Listed>) {
    let acl = web.tenant.acl();
    let q = fold(f.q.trim());
    let city = fold(f.city.trim());
    let tag = fold(f.tag.trim());
    // Days are bounded (a century) before any date arithmetic, which would
    // panic on a huge number.
    let idle: Option<u64> = f.idle.trim().parse().ok().filter(|n| *n <= MAX_IDLE_DAYS);
    let cutoff = idle.and_then(|n| today().checked_sub_days(chrono::Days::new(n)));
    let territory_of = |a: &AccountRow| {
        acl.territory_of(a.postcode.as_deref())
            .map(|t| t.name.clone())
    };
    let last_visit = |rows: &DocRows| {
        rows.actions
            .iter()
            .filter(|x| x.action_type == "visit")
            .filter_map(|x| x.done_on)
            .max()
    };
    let mut total = 0;
    // The `limit` smallest (folded name, id) so far; the largest on top.
    let mut heap: BinaryHeap<(String, DocId)> = BinaryHeap::new();
    let mut kept: HashMap<DocId, Listed> = HashMap::new();
    web.tenant.with_visible(user, |idx| {
        for (id, a, rows) in idx.account_rows() {
            if !q.is_empty()
                && !a.search.contains(&q)
                && !rows.contacts.iter().any(|c| c.search.contains(&q))
            {
                continue;
            }
            if !f.status.is_empty() && a.status != f.status {
                continue;
            }
            if !f.owner.is_empty() && a.owner != f.owner {
                continue;
            }
            if !tag.is_empty() && !a.tags.iter().any(|t| fold(t) == tag) {
                continue;
            }
            if !city.is_empty() && !a.city.as_deref().is_some_and(|c| fold(c).contains(&city)) {
                continue;
            }
            if !f.territory.is_empty() {
                let t = territory_of(a);
                let wanted = if f.territory == NO_TERRITORY {
                    t.is_none()
                } else {
                    t.as_deref() == Some(f.territory.as_str())
                };
                if !wanted {
                    continue;
                }
            }
            if let Some(c) = cutoff {
                if last_visit(rows).is_some_and(|d| d > c) {
                    continue;
                }
            }
            total += 1;
            let key = (fold(&a.name), id);
            if heap.len() >= limit {
                match heap.peek() {
                    Some(top) if key < *top => {
                        if let Some((_, out)) = heap.pop() {
                            kept.remove(&out);
                        }
                    }
                    _ => continue,
                }
            }
            heap.push(key);
            kept.insert(
                id,
                Listed {
                    id,
                    row: a.clone(),
                    territory: territory_of(a),
                    last_visit: last_visit(rows),
                },
            );
        }
    });
    let shown = heap
        .into_sorted_vec()
        .into_iter()
        .filter_map(|(_, id)| kept.remove(&id))
        .collect();
    (total, shown)
}

/// The territory filter's value for accounts outside every territory.
pub const NO_TERRITORY: &str = "-";

fn status_label(s: &str, l: Lang) -> &'static str {
    match s {
        "prospect" => tr(l, "Prospect", "Prospect"),
        "client" => tr(l, "Client", "Client"),
        "former" => tr(l, "Ancien client", "Former client"),
        _ => tr(l, "Autre", "Other"),
    }
}

async fn list(State(web): State<Web>, v: Viewer, Query(f): Query<Filters>) -> Response {
    let l = v.lang;
    let (total, rows) = matching(&web, &v.user, &f, LIST_ROWS);
    let acl = web.tenant.acl();
    let territories: Vec<String> = acl.territory_names();
    let owners: Vec<String> = acl.users();
    let body = html! {
        (page::error(f.error.as_deref()))
        form.filters method="get" action="/accounts" role="search" {
            p { label for="q" { (tr(l, "Recherche", "Search")) } input #q type="search" name="q" value=(f.q); }
            p { label for="status" { (tr(l, "Statut", "Status")) }
                select #status name="status" {
                    option value="" { (tr(l, "Tous", "All")) }
                    @for s in carnet_core::schema::ACCOUNT_STATUSES { option value=(s) selected[f.status == *s] { (status_label(s, l)) } }
                } }
            p { label for="territory" { (tr(l, "Secteur", "Territory")) }
                select #territory name="territory" {
                    option value="" { (tr(l, "Tous", "All")) }
                    @for t in &territories { option value=(t) selected[f.territory == *t] { (t) } }
                    option value=(NO_TERRITORY) selected[f.territory == NO_TERRITORY] { (tr(l, "Hors secteur", "No territory")) }
                } }
            p { label for="tag" { (tr(l, "Segment / étiquette", "Segment / tag")) } input #tag type="text" name="tag" value=(f.tag); }
            p { label for="owner" { (tr(l, "Responsable", "Owner")) }
                select #owner name="owner" {
                    option value="" { (tr(l, "Tous", "All")) }
                    @for o in &owners { option value=(o) selected[f.owner == *o] { (o) } }
                } }
            p { label for="city" { (tr(l, "Ville", "City")) } input #city type="text" name="city" value=(f.city); }
            p { label for="idle" { (tr(l, "Non visité depuis (jours)", "Not visited for (days)")) } input #idle type="number" min="0" name="idle" value=(f.idle); }
            p { button type="submit" { (tr(l, "Filtrer", "Filter")) } }
        }
        p {
            (total) (tr(l, " clients", " accounts"))
            @if total > LIST_ROWS { " (" (tr(l, "les ", "first ")) (LIST_ROWS) (tr(l, " premiers affichés", " shown")) ")" }
            " — " a href={ "/accounts.csv?" (f.query()) } download { (tr(l, "Exporter en CSV", "Export as CSV")) }
        }
        table {
            thead { tr {
                th scope="col" { (tr(l, "Nom", "Name")) }
                th scope="col" { (tr(l, "Statut", "Status")) }
                th scope="col" { (tr(l, "Ville", "City")) }
                th scope="col" { (tr(l, "Secteur", "Territory")) }
                th scope="col" { (tr(l, "Responsable", "Owner")) }
                th scope="col" { (tr(l, "Dernière visite", "Last visit")) }
            } }
            tbody {
                @for r in &rows {
                    tr {
                        td { a href={ "/accounts/" (r.id) } { (r.row.name) } }
                        td { (status_label(&r.row.status, l)) }
                        td { (r.row.postcode.clone().unwrap_or_default()) " " (r.row.city.clone().unwrap_or_default()) }
                        td { (r.territory.clone().unwrap_or_default()) }
                        td { (r.row.owner) }
                        td { (day(r.last_visit, l)) }
                    }
                }
            }
        }
        details.no-print {
            summary { (tr(l, "Nouveau client", "New account")) }
            form method="post" action="/accounts" {
                (page::csrf(&v))
                p { label for="n-name" { (tr(l, "Nom", "Name")) } input #n-name type="text" name="name" required; }
                p { label for="n-postcode" { (tr(l, "Code postal", "Postcode")) } input #n-postcode type="text" name="postcode"; }
                p { label for="n-city" { (tr(l, "Ville", "City")) } input #n-city type="text" name="city"; }
                p { label for="n-phone" { (tr(l, "Téléphone", "Phone")) } input #n-phone type="tel" name="phone"; }
                p { button type="submit" { (tr(l, "Créer", "Create")) } }
            }
        }
    };
    html_page(page::page(
        &v,
        Nav::Accounts,
        tr(l, "Clients", "Accounts"),
        body,
    ))
}

/// A CSV field, quoted when needed; a leading `=+-@` is defused so a
/// spreadsheet does not run it as a formula.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([';', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

async fn csv(State(web): State<Web>, v: Viewer, Query(f): Query<Filters>) -> Response {
    let (_, rows) = matching(&web, &v.user, &f, usize::MAX);
    // Semicolons and a BOM: what a French spreadsheet opens as columns.
    let mut out = String::from("\u{feff}id;nom;statut;code_postal;ville;secteur;responsable;telephone;email;siret;etiquettes;derniere_visite\r\n");
    for r in &rows {
        let a = &r.row;
        let cols = [
            r.id.to_string(),
            a.name.clone(),
            a.status.clone(),
            a.postcode.clone().unwrap_or_default(),
            a.city.clone().unwrap_or_default(),
            r.territory.clone().unwrap_or_default(),
            a.owner.clone(),
            a.phone.clone().unwrap_or_default(),
            a.email.clone().unwrap_or_default(),
            a.siret.clone().unwrap_or_default(),
            a.tags.join(","),
            r.last_visit
                .map(|d| text::date(d, Lang::Fr))
                .unwrap_or_default(),
        ];
        out.push_str(
            &cols
                .iter()
                .map(|c| csv_field(c))
                .collect::<Vec<_>>()
                .join(";"),
        );
        out.push_str("\r\n");
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"clients.csv\"",
            ),
        ],
        out,
    )
        .into_response()
}

fn doc_id(s: &str) -> Option<DocId> {
    s.parse().ok()
}

async fn create(State(web): State<Web>, Posted { v, f }: Posted) -> Response {
    let raw = f.raw(&["name", "postcode", "city", "phone"]);
    match web.tenant.create_account_for(&v.writer(), &raw).await {
        Ok(id) => back(&format!("/accounts/{id}")),
        Err(crate::tenant::EditError::Hidden) => back(&super::with_error(
            "/accounts",
            tr(
                v.lang,
                "Ce code postal est hors de vos secteurs.",
                "This postcode is outside your territories.",
            ),
        )),
        Err(e) => edit_failed(&v, e, "/accounts"),
    }
}

/// Everything the account page shows, read under the document's lock.
struct FileView {
    file: AccountFile,
    history: Vec<carnet_core::doc::HistoryEntry>,
    conflicts: Vec<Conflict>,
    /// The legal mentions each draft quote lacks before it can be sent.
    missing: HashMap<String, Vec<Mention>>,
    /// The library documents the viewer may attach to a message.
    library: Vec<carnet_core::model::LibraryItem>,
}

async fn load_file(web: &Web, v: &Viewer, id: &str) -> Option<FileView> {
    let doc = doc_id(id)?;
    let parts = web.tenant.edit_parts();
    let mut fv = web
        .tenant
        .read_for(&v.user, doc, DocKind::Account, |d| {
            let file = AccountFile::read(d).ok()?;
            let missing = file
                .quotes
                .iter()
                .filter(|q| matches!(q.status.as_str(), "draft" | "sent"))
                .map(|q| {
                    let m = carnet_core::legal::missing(&parts.settings, &file.account, q);
                    (q.id.clone(), m)
                })
                .collect();
            Some(FileView {
                history: d.history(),
                conflicts: d.conflicts(),
                missing,
                file,
                library: Vec::new(),
            })
        })
        .await
        .ok()
        .flatten()
        .flatten()?;
    fv.library = web.tenant.library_for(&v.user).await;
    Some(fv)
}

/// How a field is edited on the page.
#[derive(Clone, Copy)]
enum Input {
    Text,
    Choice(&'static [&'static str]),
    YesNo,
}

/// The account fields the page edits (every writable field of the schema
/// but the expectations, which have their own box), with their labels.
const EDITABLE: &[(&str, &str, &str, Input)] = &[
    ("name", "Nom", "Name", Input::Text),
    ("kind", "Type", "Kind", Input::Choice(schema::ACCOUNT_KINDS)),
    (
        "status",
        "Statut",
        "Status",
        Input::Choice(schema::ACCOUNT_STATUSES),
    ),
    ("phone", "Téléphone", "Phone", Input::Text),
    ("email", "E-mail", "Email", Input::Text),
    ("website", "Site web", "Website", Input::Text),
    ("address_line1", "Adresse", "Address", Input::Text),
    (
        "address_line2",
        "Complément d'adresse",
        "Address line 2",
        Input::Text,
    ),
    ("postcode", "Code postal", "Postcode", Input::Text),
    ("city", "Ville", "City", Input::Text),
    ("country", "Pays", "Country", Input::Text),
    ("siret", "SIRET", "SIRET", Input::Text),
    ("siren", "SIREN", "SIREN", Input::Text),
    (
        "vat_number",
        "N° de TVA intracommunautaire",
        "EU VAT number",
        Input::Text,
    ),
    ("naf", "Code NAF", "NAF code", Input::Text),
    (
        "tags",
        "Segments / étiquettes",
        "Segments / tags",
        Input::Text,
    ),
    ("source", "Origine", "Source", Input::Text),
    ("owner", "Responsable", "Owner", Input::Text),
    (
        "returned_mail",
        "Courrier revenu (NPAI)",
        "Returned mail",
        Input::YesNo,
    ),
    (
        "consent_email",
        "Accepte la prospection par e-mail",
        "Accepts email prospecting",
        Input::YesNo,
    ),
    (
        "consent_phone",
        "Accepte la prospection par téléphone",
        "Accepts phone prospecting",
        Input::YesNo,
    ),
    (
        "consent_post",
        "Accepte la prospection par courrier",
        "Accepts postal prospecting",
        Input::YesNo,
    ),
];

fn field_value(f: &AccountFile, key: &str) -> String {
    let a = &f.account;
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    let yes = |b: bool| if b { "true" } else { "false" }.to_string();
    match key {
        "name" => a.name.clone(),
        "kind" => a.kind.clone(),
        "status" => a.status.clone(),
        "phone" => opt(&a.phone),
        "email" => opt(&a.email),
        "website" => opt(&a.website),
        "address_line1" => opt(&a.address_line1),
        "address_line2" => opt(&a.address_line2),
        "postcode" => opt(&a.postcode),
        "city" => opt(&a.city),
        "country" => opt(&a.country),
        "siret" => opt(&a.siret),
        "siren" => opt(&a.siren),
        "vat_number" => opt(&a.vat_number),
        "naf" => opt(&a.naf),
        "tags" => a.tags.join(", "),
        "source" => opt(&a.source),
        "owner" => a.owner.clone(),
        "returned_mail" => yes(a.returned_mail),
        "consent_email" => yes(a.consent_email),
        "consent_phone" => yes(a.consent_phone),
        "consent_post" => yes(a.consent_post),
        _ => String::new(),
    }
}

/// A field's value as read on the page (choices and yes/no in words).
fn shown(key: &str, input: Input, value: &str, l: Lang) -> String {
    match input {
        Input::YesNo => tr(
            l,
            if value == "true" { "oui" } else { "non" },
            if value == "true" { "yes" } else { "no" },
        )
        .to_string(),
        Input::Choice(_) => choice_label(key, value, l).to_string(),
        Input::Text => value.to_string(),
    }
}

fn choice_label<'a>(key: &str, value: &'a str, l: Lang) -> &'a str {
    match (key, value) {
        ("status", s) => status_label(s, l),
        ("kind", "company") => tr(l, "Entreprise", "Company"),
        ("kind", "person") => tr(l, "Particulier", "Person"),
        _ => value,
    }
}

fn field_input(key: &str, input: Input, value: &str, l: Lang) -> Markup {
    let id = format!("f-{key}");
    match input {
        Input::Text => html! { input id=(id) type="text" name="value" value=(value); },
        Input::Choice(options) => html! {
            select id=(id) name="value" {
                @for o in options { option value=(o) selected[*o == value] { (choice_label(key, o, l)) } }
            }
        },
        Input::YesNo => html! {
            select id=(id) name="value" {
                option value="true" selected[value == "true"] { (tr(l, "oui", "yes")) }
                option value="false" selected[value != "true"] { (tr(l, "non", "no")) }
            }
        },
    }
}

fn timeline(fv: &FileView, l: Lang) -> Markup {
    // Notes and changes, newest first.
    let mut items: Vec<(i64, String, String)> = fv
        .file
        .notes
        .iter()
        .map(|n| (n.created_at, n.author.clone(), n.body.clone()))
        .collect();
    for e in &fv.file.emails {
        let what = format!(
            "{} {} : {} ({})",
            tr(l, "e-mail à", "email to"),
            e.to,
            e.subject,
            text::email_status(&e.status, l)
        );
        items.push((e.created_at, e.created_by.clone(), what));
    }
    for h in &fv.history {
        let what: Vec<String> = h
            .changes
            .iter()
            .filter(|c| !c.path.starts_with("notes/") && !c.path.starts_with("emails/"))
            .map(|c| match &c.new {
                Some(n) => format!("{} → {}", c.path, n),
                None => format!("{} ✕", c.path),
            })
            .collect();
        if !what.is_empty() {
            items.push((
                h.time,
                h.author.clone().unwrap_or_else(|| "?".into()),
                what.join(" ; "),
            ));
        }
    }
    items.sort_by_key(|i| std::cmp::Reverse(i.0));
    items.truncate(100);
    html! {
        ol.timeline {
            @for (t, who, what) in &items {
                li { time { (text::date_time(*t, l)) } " — " strong { (who) } " — " (what) }
            }
        }
    }
}

fn sections(fv: &FileView, v: &Viewer, print: bool) -> Markup {
    let l = v.lang;
    let f = &fv.file;
    let id = f.account.id;
    html! {
        section.sheet aria-labelledby="h-identity" {
            h2 #h-identity { (tr(l, "Identité", "Identity")) }
            @if print {
                dl { @for (k, fr, en, input) in EDITABLE { dt { (tr(l, fr, en)) } dd { (shown(k, *input, &field_value(f, k), l)) } } }
            } @else {
                table.fields { tbody {
                    @for (k, fr, en, input) in EDITABLE {
                        tr { th scope="row" { label for={ "f-" (k) } { (tr(l, fr, en)) } }
                            td { form.inline method="post" action={ "/accounts/" (id) "/field" } {
                                (page::csrf(v))
                                input type="hidden" name="field" value=(k);
                                (field_input(k, *input, &field_value(f, k), l))
                                button type="submit" { (tr(l, "Enregistrer", "Save")) }
                            } } }
                    }
                } }
            }
            h3 { (tr(l, "Attentes du client", "Expectations")) }
            @if print { p.pre { (f.account.expectations) } } @else {
                form method="post" action={ "/accounts/" (id) "/field" } {
                    (page::csrf(v))
                    input type="hidden" name="field" value="expectations";
                    label for="f-expectations" .sr { (tr(l, "Attentes du client", "Expectations")) }
                    textarea #f-expectations name="value" rows="3" { (f.account.expectations) }
                    button type="submit" { (tr(l, "Enregistrer", "Save")) }
                }
            }
        }
        @if !fv.conflicts.is_empty() && !print {
            section.conflicts aria-labelledby="h-conflicts" {
                h2 #h-conflicts { (tr(l, "Conflits à résoudre", "Conflicts to resolve")) }
                @for c in &fv.conflicts {
                    div.conflict {
                        p { strong { (c.path) } }
                        ul { @for val in &c.values {
                            li { "« " (val.value) " » — " (val.author.clone().unwrap_or_else(|| "?".into())) ", " (text::date_time(val.time, l))
                                form.inline method="post" action={ "/accounts/" (id) "/resolve" } {
                                    (page::csrf(v))
                                    input type="hidden" name="path" value=(c.path);
                                    input type="hidden" name="value" value=(val.value);
                                    button type="submit" { (tr(l, "Garder cette valeur", "Keep this value")) }
                                }
                            }
                        } }
                    }
                }
            }
        }
        section.sheet aria-labelledby="h-contacts" {
            h2 #h-contacts { (tr(l, "Contacts", "Contacts")) }
            @let eraser = !print && v.role == super::Role::Admin;
            table { thead { tr { th scope="col" { (tr(l, "Nom", "Name")) } th scope="col" { (tr(l, "Fonction", "Role")) } th scope="col" { (tr(l, "Téléphone", "Phone")) } th scope="col" { "E-mail" }
                @if eraser { th scope="col" { (tr(l, "Données personnelles", "Personal data")) } } } }
                tbody { @for c in &f.contacts { tr { td { (c.name) } td { (c.role.clone().unwrap_or_default()) } td { (c.phone.clone().or(c.mobile.clone()).unwrap_or_default()) } td { (c.email.clone().unwrap_or_default()) }
                    @if eraser { td { details { summary { (tr(l, "Effacer (RGPD)", "Erase (GDPR)")) }
                        form method="post" action={ "/contacts/" (c.id) "/erase" } {
                            (page::csrf(v))
                            p { (tr(l, "Efface cette personne de la fiche, de son historique et de tous les appareils. Irréversible.", "Erases this person from the file, its history and every device. Cannot be undone.")) }
                            p { input id={ "erase-" (c.id) } type="checkbox" name="confirm" value="yes" required;
                                " " label for={ "erase-" (c.id) } { (tr(l, "Je confirme l'effacement de ", "I confirm erasing ")) (c.name) } }
                            button type="submit" { (tr(l, "Effacer définitivement", "Erase for good")) }
                        }
                    } } }
                } } } }
            @if !print { (add_form(v, id, "contacts", &[("name", "Nom", "Name", "text"), ("role", "Fonction", "Role", "text"), ("phone", "Téléphone", "Phone", "tel"), ("email", "E-mail", "Email", "email")], tr(l, "Ajouter un contact", "Add a contact"))) }
        }
        section.sheet aria-labelledby="h-deals" {
            h2 #h-deals { (tr(l, "Affaires", "Deals")) }
            table { thead { tr { th scope="col" { (tr(l, "Titre", "Title")) } th scope="col" { (tr(l, "Étape", "Stage")) } th scope="col" { (tr(l, "Montant", "Amount")) } th scope="col" { (tr(l, "Clôture prévue", "Expected close")) } } }
                tbody { @for d in &f.deals { tr { td { (d.title) } td { (d.stage) } td.num { (money(d.amount.cents, l)) } td { (day(d.close_date, l)) } } } } }
            @if !print { (add_form(v, id, "deals", &[("title", "Titre", "Title", "text"), ("amount", "Montant HT", "Amount excl. VAT", "text"), ("close_date", "Clôture prévue", "Expected close", "date")], tr(l, "Ajouter une affaire", "Add a deal"))) }
        }
        section.sheet aria-labelledby="h-quotes" {
            h2 #h-quotes { (tr(l, "Devis", "Quotes")) }
            table { thead { tr { th scope="col" { (tr(l, "Numéro", "Number")) } th scope="col" { (tr(l, "Statut", "Status")) } th scope="col" { (tr(l, "Date", "Date")) } th scope="col" { (tr(l, "Total HT", "Net")) } th scope="col" { (tr(l, "Total TTC", "Gross")) }
                @if !print { th scope="col" { (tr(l, "Envoi", "Sending")) } } } }
                tbody { @for q in &f.quotes { tr { td { (q.number) @if q.revision > 1 { " (" (tr(l, "rév. ", "rev. ")) (q.revision) ")" } @if !print { " " a href={ "/quotes/" (q.id) "/pdf" } { "PDF" } } } td { (text::quote_status(q.status_on(today()), l)) } td { (day(q.date, l)) } td.num { (money(q.totals.net, l)) } td.num { (money(q.totals.gross, l)) }
                    @if !print { td {
                        @if !matches!(q.status.as_str(), "accepted" | "superseded") {
                            form.inline method="post" action={ "/quotes/" (q.id) "/revise" } {
                                (page::csrf(v))
                                button type="submit" { (tr(l, "Réviser", "Revise")) }
                            }
                        }
                        @if let Some(missing) = fv.missing.get(&q.id) {
                            @if missing.is_empty() {
                                @if q.status == "draft" {
                                    form.inline method="post" action={ "/quotes/" (q.id) "/send" } {
                                        (page::csrf(v))
                                        button type="submit" { (tr(l, "Marquer envoyé", "Mark sent")) }
                                    }
                                }
                                details { summary { (tr(l, "Envoyer par e-mail", "Send by email")) }
                                    form method="post" action={ "/quotes/" (q.id) "/email" } {
                                        (page::csrf(v))
                                        p { label for={ "to-" (q.id) } { (tr(l, "Destinataire", "To")) }
                                            input id={ "to-" (q.id) } type="email" name="to" required value=(f.account.email.clone().unwrap_or_default()); }
                                        p { label for={ "msg-" (q.id) } { (tr(l, "Message", "Message")) }
                                            textarea id={ "msg-" (q.id) } name="message" rows="3" maxlength="20000" {} }
                                        @if !fv.library.is_empty() {
                                            fieldset { legend { (tr(l, "Joindre des documents (5 au plus)", "Attach documents (at most 5)")) }
                                                @for i in &fv.library {
                                                    label { input type="checkbox" name="attach" value=(i.blob); " " (i.title) }
                                                    " "
                                                }
                                            }
                                        }
                                        button type="submit" { (tr(l, "Envoyer le devis en PDF", "Send the quote as a PDF")) }
                                    }
                                }
                            } @else {
                                details.missing { summary { (tr(l, "Mentions manquantes", "Missing mentions")) " (" (missing.len()) ")" }
                                    ul { @for m in missing { li { (m.label(l)) } } } }
                            }
                        }
                    } }
                } } } }
            @if !print { (add_form(v, id, "quotes", &[("label", "Désignation", "Item", "text"), ("qty", "Quantité", "Quantity", "text"), ("unit_price", "Prix unitaire HT", "Unit price excl. VAT", "text"), ("vat_rate", "TVA %", "VAT %", "text")], tr(l, "Nouveau devis (une ligne)", "New quote (one line)"))) }
        }
        @if !f.emails.is_empty() {
            section.sheet aria-labelledby="h-emails" {
                h2 #h-emails { (tr(l, "E-mails", "Emails")) }
                table { thead { tr { th scope="col" { (tr(l, "Écrit le", "Written")) } th scope="col" { (tr(l, "Destinataire", "To")) } th scope="col" { (tr(l, "Objet", "Subject")) } th scope="col" { (tr(l, "Statut", "Status")) } th scope="col" { (tr(l, "Détail", "Detail")) } } }
                    tbody { @for e in &f.emails { tr { td { (text::date_time(e.created_at, l)) } td { (e.to) } td { (e.subject)
                        @if !e.attachments.is_empty() { br; small { (tr(l, "Joint : ", "Attached: "))
                            (e.attachments.iter().map(|sha| fv.library.iter().find(|i| &i.blob == sha).map_or_else(|| tr(l, "document retiré", "withdrawn document").to_string(), |i| i.title.clone())).collect::<Vec<_>>().join(", ")) } } }
                        td { (text::email_status(&e.status, l)) }
                        td { @if let Some(t) = e.sent_at { (text::date_time(t, l)) } @else if let Some(err) = &e.error { (err) } } } } } }
            }
        }
        section.sheet aria-labelledby="h-orders" {
            h2 #h-orders { (tr(l, "Commandes", "Orders")) }
            table { thead { tr { th scope="col" { (tr(l, "Numéro", "Number")) } th scope="col" { (tr(l, "Statut", "Status")) } th scope="col" { (tr(l, "Date", "Date")) } th scope="col" { (tr(l, "Total HT", "Net")) } th scope="col" { (tr(l, "Lignes", "Lines")) } } }
                tbody { @for o in &f.orders { tr { td { (o.number) @if !print { " " a href={ "/orders/" (o.id) "/pdf" } { "PDF" } } } td { (text::order_status(&o.status, l)) } td { (day(o.date, l)) } td.num { (money(o.totals.net, l)) }
                    td { @for li in &o.lines { (li.label) " × " (li.qty) " = " (money(li.net, l)) br; } } } } } }
        }
        section.sheet aria-labelledby="h-actions" {
            h2 #h-actions { (tr(l, "Actions", "Actions")) }
            table { thead { tr { th scope="col" { (tr(l, "Échéance", "Due")) } th scope="col" { (tr(l, "Type", "Type")) } th scope="col" { (tr(l, "Objet", "Subject")) } th scope="col" { (tr(l, "Fait le", "Done on")) } th scope="col" { (tr(l, "Résultat", "Outcome")) } } }
                tbody { @for a in &f.actions { tr { td { (day(a.due, l)) } td { (a.action_type) } td { (a.subject) } td { (day(a.done_on, l)) } td { (a.outcome) } } } } }
            @if !print { (add_form(v, id, "actions", &[("type", "Type (call, visit, email…)", "Type (call, visit, email…)", "text"), ("subject", "Objet", "Subject", "text"), ("due", "Échéance", "Due", "date")], tr(l, "Planifier une action", "Plan an action"))) }
        }
        section.sheet aria-labelledby="h-timeline" {
            h2 #h-timeline { (tr(l, "Historique", "Timeline")) }
            @if !print {
                form method="post" action={ "/accounts/" (id) "/notes" } {
                    (page::csrf(v))
                    label for="note" { (tr(l, "Nouvelle note", "New note")) }
                    textarea #note name="body" rows="3" required {}
                    button type="submit" { (tr(l, "Ajouter la note", "Add the note")) }
                }
            }
            (timeline(fv, l))
        }
    }
}

fn add_form(
    v: &Viewer,
    id: DocId,
    what: &str,
    fields: &[(&str, &'static str, &'static str, &str)],
    title: &str,
) -> Markup {
    let l = v.lang;
    html! {
        details.no-print {
            summary { (title) }
            form method="post" action={ "/accounts/" (id) "/" (what) } {
                (page::csrf(v))
                @for (name, fr, en, ty) in fields {
                    p { label for={ (what) "-" (name) } { (tr(l, fr, en)) }
                        input id={ (what) "-" (name) } type=(ty) name=(name); }
                }
                button type="submit" { (title) }
            }
        }
    }
}

async fn file(
    State(web): State<Web>,
    v: Viewer,
    Path(id): Path<String>,
    Query(m): Query<Msg>,
) -> Response {
    let Some(fv) = load_file(&web, &v, &id).await else {
        return not_found(&v);
    };
    let l = v.lang;
    let title = fv.file.account.name.clone();
    let body = html! {
        (page::error(m.error.as_deref()))
        p.no-print { a href={ "/print/accounts/" (fv.file.account.id) } { (tr(l, "Imprimer le dossier client", "Print the customer file")) } " · " a href={ "/accounts/" (fv.file.account.id) "/pdf" } { (tr(l, "Dossier client en PDF", "Customer file as a PDF")) } }
        (sections(&fv, &v, false))
    };
    html_page(page::page(&v, Nav::Accounts, &title, body))
}

/// "Édition du dossier client": the file without forms, one section per
/// printed page block.
async fn print_file(State(web): State<Web>, v: Viewer, Path(id): Path<String>) -> Response {
    let Some(fv) = load_file(&web, &v, &id).await else {
        return not_found(&v);
    };
    let title = format!(
        "{} — {}",
        tr(v.lang, "Dossier client", "Customer file"),
        fv.file.account.name
    );
    html_page(page::page(&v, Nav::None, &title, sections(&fv, &v, true)))
}

/// Runs one edit of customer file `id` and goes back to its page.
async fn edit_file<T>(
    web: &Web,
    v: &Viewer,
    id: &str,
    f: impl FnOnce(&mut carnet_core::doc::CrmDoc, &ops::EditCtx<'_>) -> carnet_core::Result<T>,
) -> Response {
    let Some(doc) = doc_id(id) else {
        return not_found(v);
    };
    let to = format!("/accounts/{doc}");
    match web
        .tenant
        .edit_for(&v.writer(), doc, DocKind::Account, false, f)
        .await
    {
        Ok(_) => back(&to),
        Err(e) => edit_failed(v, e, &to),
    }
}

async fn set_field(
    State(web): State<Web>,
    Path(id): Path<String>,
    Posted { v, f }: Posted,
) -> Response {
    let (field, value) = (f.text("field"), f.get("value").unwrap_or("").to_string());
    edit_file(&web, &v, &id, |d, ctx| {
        ops::set_field(d, ctx, &format!("account/{field}"), &value)
    })
    .await
}

async fn resolve(
    State(web): State<Web>,
    Path(id): Path<String>,
    Posted { v, f }: Posted,
) -> Response {
    let (path, value) = (f.text("path"), f.get("value").unwrap_or("").to_string());
    edit_file(&web, &v, &id, |d, ctx| {
        ops::set_field(d, ctx, &path, &value)
    })
    .await
}

/// Erases a person (admins only; to anyone else, and for an unknown id,
/// the page of a missing record): `Tenant::erase_contact`.
async fn erase_contact(
    State(web): State<Web>,
    Path(id): Path<String>,
    Posted { v, f }: Posted,
) -> Response {
    let Some(doc) = web.tenant.doc_of_record(id.trim()) else {
        return not_found(&v);
    };
    if v.role != super::Role::Admin {
        return not_found(&v);
    }
    let to = format!("/accounts/{doc}");
    if f.text("confirm") != "yes" {
        let why = tr(
            v.lang,
            "Cochez la case pour confirmer l'effacement.",
            "Tick the box to confirm the erasure.",
        );
        return back(&super::with_error(&to, why));
    }
    match web.tenant.erase_contact(&id).await {
        Ok(_) => back(&to),
        Err(e) => {
            tracing::error!(error = %e, "erasure failed");
            back(&super::with_error(
                &to,
                tr(
                    v.lang,
                    "L'effacement n'a pas abouti : voir le journal du serveur.",
                    "The erasure did not complete: see the server's log.",
                ),
            ))
        }
    }
}

async fn add_contact(
    State(web): State<Web>,
    Path(id): Path<String>,
    Posted { v, f }: Posted,
) -> Response {
    let raw = f.raw(&["name", "role", "phone", "email"]);
    edit_file(&web, &v, &id, |d, ctx| ops::add_contact(d, ctx, &raw)).await
}

async fn add_deal(
    State(web): State<Web>,
    Path(id): Path<String>,
    Posted { v, f }: Posted,
) -> Response {
    let raw = f.raw(&["title", "amount", "close_date", "stage"]);
    edit_file(&web, &v, &id, |d, ctx| ops::add_deal(d, ctx, &raw)).await
}

async fn add_action(
    State(web): State<Web>,
    Path(id): Path<String>,
    Posted { v, f }: Posted,
) -> Response {
    let raw = f.raw(&["type", "subject", "due"]);
    edit_file(&web, &v, &id, |d, ctx| ops::add_action(d, ctx, &raw)).await
}

async fn add_note(
    State(web): State<Web>,
    Path(id): Path<String>,
    Posted { v, f }: Posted,
) -> Response {
    let text = f.text("body");
    edit_file(&web, &v, &id, |d, ctx| ops::add_note(d, ctx, &text)).await
}

/// A draft quote with one line; the server numbers it like a device's.
async fn add_quote(
    State(web): State<Web>,
    Path(id): Path<String>,
    Posted { v, f }: Posted,
) -> Response {
    let line = NewQuoteLine {
        qty: f.text("qty"),
        product: None,
        label: Some(f.text("label")),
        unit_price: Some(f.text("unit_price")).filter(|s| !s.is_empty()),
        vat_rate: Some(f.text("vat_rate")).filter(|s| !s.is_empty()),
        discount: None,
    };
    edit_file(&web, &v, &id, |d, ctx| {
        let q = ops::create_quote(d, ctx, "WEB", &[])?;
        ops::add_quote_line(d, ctx, &q.to_string(), &line)
    })
    .await
}

/// The quote as a PDF (the core's, as a device makes it), in the viewer's
/// language; a hidden or missing quote answers like any missing page.
async fn quote_pdf(State(web): State<Web>, v: Viewer, Path(id): Path<String>) -> Response {
    let made = record_file(&web, &v, &id, |f| {
        let q = f.quotes.iter().find(|q| q.id == id.trim())?.clone();
        Some((format!("devis-{}", q.number), q, f.account.clone()))
    });
    let Some((name, q, a)) = made.await else {
        return not_found(&v);
    };
    let (head, lang) = (web.tenant.heading().await, v.lang);
    pdf_response(&web, &v, name, move || {
        carnet_core::pdf::quote(&head, &a, &q, lang)
    })
    .await
}

/// An order as a PDF ("bon de commande"), made like the device makes it.
async fn order_pdf(State(web): State<Web>, v: Viewer, Path(id): Path<String>) -> Response {
    let made = record_file(&web, &v, &id, |f| {
        let (o, quote) = f.order(&id)?;
        let name = format!("commande-{}", o.number);
        Some((
            name,
            o.clone(),
            quote.map(str::to_string),
            f.account.clone(),
        ))
    });
    let Some((name, o, quote, a)) = made.await else {
        return not_found(&v);
    };
    let (head, lang) = (web.tenant.heading().await, v.lang);
    pdf_response(&web, &v, name, move || {
        carnet_core::pdf::order(&head, &a, &o, quote.as_deref(), lang)
    })
    .await
}

/// Reads, for the viewer, the customer file holding record `id` and picks
/// what `f` needs from it; `None` when hidden, missing or not found in it.
async fn record_file<T>(
    web: &Web,
    v: &Viewer,
    id: &str,
    f: impl FnOnce(&AccountFile) -> Option<T>,
) -> Option<T> {
    let doc = web.tenant.account_of_record(&v.user, id)?;
    let read = web
        .tenant
        .read_for(&v.user, doc, DocKind::Account, |d| {
            AccountFile::read(d).ok()
        })
        .await;
    match read {
        Ok(Some(Some(file))) => f(&file),
        _ => None,
    }
}

/// The customer file as a PDF to print ("dossier client").
async fn account_pdf(State(web): State<Web>, v: Viewer, Path(id): Path<String>) -> Response {
    let Some(doc) = doc_id(&id) else {
        return not_found(&v);
    };
    let read = web
        .tenant
        .read_for(&v.user, doc, DocKind::Account, |d| {
            AccountFile::read(d).ok()
        })
        .await;
    let Ok(Some(Some(file))) = read else {
        return not_found(&v);
    };
    let (head, lang) = (web.tenant.heading().await, v.lang);
    let name = format!("dossier-{}", file.account.name);
    pdf_response(&web, &v, name, move || {
        carnet_core::pdf::account(&head, &file, today(), lang)
    })
    .await
}

/// Makes a PDF on the blocking pool (never on the async workers) and
/// serves it inline as `name.pdf` (kept to ASCII letters, digits and '-').
async fn pdf_response(
    web: &Web,
    v: &Viewer,
    name: String,
    make: impl FnOnce() -> carnet_core::Result<Vec<u8>> + Send + 'static,
) -> Response {
    let Ok(Ok(bytes)) = web.tenant.on_cpu(make).await else {
        return not_found(v);
    };
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{name}.pdf\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// Marks a quote sent (refused, with the list of missing mentions, when
/// French law's are not all there).
async fn send_quote(
    State(web): State<Web>,
    Path(id): Path<String>,
    Posted { v, .. }: Posted,
) -> Response {
    let Some(doc) = web.tenant.account_of_record(&v.user, &id) else {
        return not_found(&v);
    };
    let to = format!("/accounts/{doc}");
    match web
        .tenant
        .edit_for(&v.writer(), doc, DocKind::Account, false, |d, ctx| {
            ops::send_quote(d, ctx, id.trim())
        })
        .await
    {
        Ok(()) => back(&to),
        Err(e) => edit_failed(&v, e, &to),
    }
}

/// Revises a quote: a new draft with its lines, linked to it.
async fn revise_quote(
    State(web): State<Web>,
    Path(id): Path<String>,
    Posted { v, .. }: Posted,
) -> Response {
    let Some(doc) = web.tenant.account_of_record(&v.user, &id) else {
        return not_found(&v);
    };
    edit_file(&web, &v, &doc.to_string(), |d, ctx| {
        ops::revise_quote(d, ctx, id.trim(), "WEB")
    })
    .await
}

/// Sends a quote by email, its PDF attached: it is marked sent (legal
/// mentions) and the message waits in the file's outbox for the mailer,
/// exactly as a device's would.
async fn email_quote(
    State(web): State<Web>,
    Path(id): Path<String>,
    Posted { v, f }: Posted,
) -> Response {
    let Some(doc) = web.tenant.account_of_record(&v.user, &id) else {
        return not_found(&v);
    };
    let back_to = format!("/accounts/{doc}");
    let (to, message) = (f.text("to"), f.text("message"));
    // Only documents meant for the viewer: one they may not fetch answers
    // like a missing page (the mailer checks again when it sends).
    let mut attachments: Vec<String> = f.all("attach").into_iter().map(str::to_string).collect();
    attachments.sort();
    attachments.dedup();
    for sha in &attachments {
        if web.tenant.may_fetch(&v.user, sha).await.is_none() {
            return not_found(&v);
        }
    }
    let mail = ops::NewEmail {
        to: &to,
        subject: "",
        message: &message,
        quote: Some(id.trim()),
        attachments: &attachments,
        lang: v.lang,
    };
    match web
        .tenant
        .edit_for(&v.writer(), doc, DocKind::Account, false, |d, ctx| {
            ops::queue_email(d, ctx, &mail)
        })
        .await
    {
        Ok(_) => back(&back_to),
        Err(e) => edit_failed(&v, e, &back_to),
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a;b"), "\"a;b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
    }
}
