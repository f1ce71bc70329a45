//! Importing a CSV of customer files from the web app, for managers and
//! admins: the file is uploaded (multipart, at most `MAX_UPLOAD` bytes,
//! written to a private temporary file as it arrives), then imported as
//! the viewer through `Tenant::import_accounts`: every file judged as any
//! edit of theirs, duplicates checked against the files they may see. A
//! dry run shows the same report and writes nothing.

use tokio::io::AsyncWriteExt;

use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use carnet_core::import::columns::{ACCOUNT_FIELDS, CONTACT_FIELDS};
use carnet_core::import::{ColumnUse, Mapping, Outcome, Overrides};
use carnet_core::ValidationError;
use maud::{html, Markup};

use super::page::{self, tr, Nav};
use super::{forbidden, html_page, not_found, Posted, Viewer, Web};
use crate::tenant::import::Importer;

/// The largest CSV uploaded from a browser.
pub const MAX_UPLOAD: usize = 20 << 20;

/// The most a request to `/import` may send. A file over `MAX_UPLOAD` is
/// still read to its end, up to this, and dropped: a browser still
/// sending when the answer came would lose it to the connection's reset
/// (and a test client gets EPIPE). Beyond it the connection is cut.
const MAX_BODY: usize = 3 * MAX_UPLOAD;

pub fn routes() -> Router<Web> {
    Router::new()
        .route(
            "/import",
            get(form)
                .post(upload)
                .layer(DefaultBodyLimit::max(MAX_BODY)),
        )
        .route("/import/columns", axum::routing::post(columns))
}

fn upload_form(v: &Viewer) -> Markup {
    let l = v.lang;
    html! {
        form method="post" action="/import" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(v.csrf);
            p {
                label for="file" { (tr(l, "Fichier CSV (virgules ou points-virgules, UTF-8 ou Windows-1252)", "CSV file (commas or semicolons, UTF-8 or Windows-1252)")) }
                " "
                input #file type="file" name="file" accept=".csv,text/csv" required;
            }
            p {
                label for="verified_on" { (tr(l, "Données vérifiées le (facultatif : la date de l'export ; sinon, la date d'aujourd'hui)", "Data checked on (optional: the export's date; otherwise today)")) }
                " "
                input #verified_on type="date" name="verified_on";
            }
            p {
                input #dry_run type="checkbox" name="dry_run" value="1" checked;
                " "
                label for="dry_run" { (tr(l, "Simulation : vérifier sans rien écrire", "Dry run: check without writing")) }
            }
            button type="submit" { (tr(l, "Importer", "Import")) }
        }
    }
}

async fn form(v: Viewer) -> Response {
    if !v.is_manager() {
        return not_found(&v);
    }
    let l = v.lang;
    let body = html! {
        p { (tr(l, "Les colonnes sont reconnues d'après leurs en-têtes (Raison sociale, SIRET, CP, Ville, Tél., E-mail, Contact, Fonction…, ou ceux du fichier SIRENE). Une ligne en double d'un dossier que vous voyez est ignorée ; une ligne invalide est rejetée avec son motif.", "Columns are recognized from their headers (company name, SIRET, postcode, city, phone, email, contact, role…, or those of the SIRENE file). A row duplicating a file you can see is skipped; an invalid row is rejected with its reason.")) }
        (upload_form(&v))
    };
    html_page(page::page(
        &v,
        Nav::Quality,
        tr(l, "Importer des clients", "Import customers"),
        body,
    ))
}

async fn upload(State(web): State<Web>, v: Viewer, mut parts: Multipart) -> Response {
    if !v.is_manager() {
        return not_found(&v);
    }
    let l = v.lang;
    let mut csrf_ok = false;
    let mut dry_run = false;
    let mut verified_on = None;
    let path = std::env::temp_dir().join(format!("carnet-import-{}.csv", uuid::Uuid::new_v4()));
    let mut saved = false;
    let mut too_large = false;
    while let Ok(Some(mut field)) = parts.next_field().await {
        match field.name() {
            Some("csrf") => {
                let t = super::small_field(&mut field, 256)
                    .await
                    .unwrap_or_default();
                csrf_ok = crate::auth::same_secret(&t, &v.csrf);
            }
            Some("dry_run") => dry_run = true,
            Some("verified_on") => {
                let t = super::small_field(&mut field, 64).await.unwrap_or_default();
                verified_on = chrono::NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d").ok();
            }
            // The token comes first in the form: no file is written for a
            // request that does not carry it.
            Some("file") if csrf_ok => {
                // Written through tokio's file (the blocking pool), never
                // on an async worker.
                let mut open = tokio::fs::OpenOptions::new();
                open.write(true).create_new(true);
                #[cfg(unix)]
                open.mode(0o600);
                let Ok(mut out) = open.open(&path).await else {
                    break;
                };
                let mut written = 0usize;
                loop {
                    match field.chunk().await {
                        Ok(Some(chunk)) => {
                            written += chunk.len();
                            if written > MAX_UPLOAD {
                                // Read on and dropped (`MAX_BODY`).
                                too_large = true;
                            } else if out.write_all(&chunk).await.is_err() {
                                break;
                            }
                        }
                        Ok(None) => {
                            saved = !too_large && out.flush().await.is_ok();
                            break;
                        }
                        // The body limit cut it, or the browser went away:
                        // never import part of a file.
                        Err(_) => {
                            too_large = true;
                            break;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if !csrf_ok {
        let _ = std::fs::remove_file(&path);
        return forbidden(l);
    }
    if too_large || !saved {
        let _ = std::fs::remove_file(&path);
        let msg = if too_large {
            format!(
                "{} {} Mo {}",
                tr(l, "Le fichier dépasse", "The file is larger than"),
                MAX_UPLOAD >> 20,
                tr(
                    l,
                    "ou n'a pas été reçu en entier : rien n'est importé.",
                    "or did not arrive whole: nothing is imported."
                )
            )
        } else {
            tr(l, "Aucun fichier reçu.", "No file received.").to_string()
        };
        return result_page(&v, html! { (page::error(Some(&msg))) (upload_form(&v)) });
    }
    // Kept for a second look: a dry run's columns can be corrected and
    // the same file imported without sending it again.
    let token = web.kept.put(&v.user, path.clone());
    run(
        &web,
        &v,
        &token,
        path,
        Overrides::new(),
        dry_run,
        verified_on,
    )
    .await
}

/// The columns a manager corrected after a dry run: the file kept under
/// `token` (theirs, not expired) imported again with them.
async fn columns(State(web): State<Web>, Posted { v, f }: Posted) -> Response {
    if !v.is_manager() {
        return not_found(&v);
    }
    let l = v.lang;
    let token = f.text("token");
    let Some(path) = web.kept.get(&v.user, &token) else {
        let msg = tr(
            l,
            "Ce fichier n'est plus disponible (plus de 30 minutes, ou déjà importé) : envoyez-le à nouveau.",
            "This file is no longer available (over 30 minutes, or imported already): send it again.",
        );
        return result_page(&v, html! { (page::error(Some(msg))) (upload_form(&v)) });
    };
    let headers = headers_of(&path).await.unwrap_or_default();
    let mut overrides = Overrides::new();
    let mut forged = false;
    for (i, h) in headers.iter().enumerate() {
        let c = f.text(&format!("c{i}"));
        if c.is_empty() {
            continue;
        }
        // Only what the form offers: anything else is refused here, in
        // the viewer's language, and the file stays for another try.
        forged |= !offered(&c);
        overrides.insert(h.clone(), c);
    }
    if forged {
        let uses = Mapping::recognize(&headers, &Overrides::new())
            .map(|m| m.uses(&headers))
            .unwrap_or_default();
        let msg = tr(
            l,
            "Une colonne a reçu un champ que la liste ne propose pas : choisissez dans la liste.",
            "A column was given a field the list does not offer: choose from the list.",
        );
        return result_page(
            &v,
            html! { (page::error(Some(msg))) (columns_form(&v, &token, &uses, &Overrides::new())) },
        );
    }
    let verified_on = chrono::NaiveDate::parse_from_str(&f.text("verified_on"), "%Y-%m-%d").ok();
    let dry_run = f.get("dry_run").is_some();
    run(&web, &v, &token, path, overrides, dry_run, verified_on).await
}

/// Whether the columns form offers `target`: `ignore`, or a field as a
/// mapping names it (`Target::parse`, the rule the import itself applies).
fn offered(target: &str) -> bool {
    target == "ignore" || carnet_core::import::Target::parse(target).is_some()
}

/// The header line of a kept file.
async fn headers_of(path: &std::path::Path) -> Option<Vec<String>> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(path).ok()?;
        let src = carnet_core::import::CsvSource::new(std::io::BufReader::new(file)).ok()?;
        Some(src.headers().to_vec())
    })
    .await
    .ok()
    .flatten()
}

/// Imports the kept file as the viewer, and shows the report: with the
/// columns to correct after a dry run, or when no column gives the name.
/// A real import, or a file that cannot be read, lets the file go.
async fn run(
    web: &Web,
    v: &Viewer,
    token: &str,
    path: std::path::PathBuf,
    overrides: Overrides,
    dry_run: bool,
    verified_on: Option<chrono::NaiveDate>,
) -> Response {
    let l = v.lang;
    let outcome = web
        .tenant
        .import_accounts(
            Importer::User(v.writer()),
            path.clone(),
            overrides.clone(),
            carnet_core::import::Options {
                dry_run,
                lang: l,
                verified_on,
            },
        )
        .await;
    let forget = || {
        if let Some(p) = web.kept.take(&v.user, token) {
            let _ = std::fs::remove_file(p);
        }
    };
    let body = match outcome {
        Ok(r) if r.dry_run => html! {
            (report(v, &r))
            (columns_form(v, token, &r.columns, &overrides))
        },
        Ok(r) => {
            forget();
            html! {
                (report(v, &r))
                h2 { (tr(l, "Importer un autre fichier", "Import another file")) }
                (upload_form(v))
            }
        }
        Err(crate::tenant::TenantError::Core(carnet_core::CoreError::Invalid(
            e @ ValidationError::NoNameColumn { .. },
        ))) => {
            let headers = headers_of(&path).await.unwrap_or_default();
            let uses = Mapping::recognize(&headers, &overrides)
                .map(|m| m.uses(&headers))
                .unwrap_or_default();
            html! {
                (page::error(Some(&e.message(l))))
                (columns_form(v, token, &uses, &overrides))
            }
        }
        Err(e) => {
            forget();
            let msg = match e {
                crate::tenant::TenantError::Core(carnet_core::CoreError::Invalid(e)) => {
                    e.message(l)
                }
                other => other.to_string(),
            };
            html! { (page::error(Some(&msg))) (upload_form(v)) }
        }
    };
    result_page(v, body)
}

fn result_page(v: &Viewer, body: Markup) -> Response {
    html_page(page::page(
        v,
        Nav::Quality,
        tr(v.lang, "Importer des clients", "Import customers"),
        body,
    ))
}

fn report(v: &Viewer, r: &carnet_core::import::Report) -> Markup {
    let l = v.lang;
    html! {
        p role="status" {
            @if r.dry_run { strong { (tr(l, "Simulation : rien n'a été écrit. ", "Dry run: nothing was written. ")) } }
            (tr(l, "Créés", "Created")) " : " (r.created) " · "
            (tr(l, "mis à jour", "updated")) " : " (r.updated) " · "
            (tr(l, "doublons", "duplicates")) " : " (r.duplicates) " · "
            (tr(l, "rejetés", "rejected")) " : " (r.rejected) " · "
            (tr(l, "lignes vides", "blank rows")) " : " (r.blank)
        }
        @if !r.rows.is_empty() {
            table {
                caption { (tr(l, "Lignes ignorées ou rejetées", "Rows skipped or rejected")) }
                thead { tr {
                    th scope="col" { (tr(l, "Ligne", "Line")) }
                    th scope="col" { (tr(l, "Résultat", "Outcome")) }
                    th scope="col" { (tr(l, "Motif", "Reason")) }
                } }
                tbody { @for n in &r.rows { tr {
                    td.num { (n.line) }
                    td { @match n.outcome {
                        Outcome::Duplicate => (tr(l, "doublon", "duplicate")),
                        Outcome::Rejected => (tr(l, "rejetée", "rejected")),
                    } }
                    td { (n.reason) }
                } } }
            }
        }
    }
}

/// Columns a form can correct (one select each, within the form limits).
const MAX_CORRECTED_COLUMNS: usize = 150;

/// Each column of the kept file with what it was read as, and a choice to
/// correct it; then the same file checked (or imported) again.
fn columns_form(v: &Viewer, token: &str, uses: &[ColumnUse], overrides: &Overrides) -> Markup {
    let l = v.lang;
    if uses.len() > MAX_CORRECTED_COLUMNS {
        return html! { p { (tr(l, "Ce fichier a trop de colonnes pour les corriger ici : utilisez un fichier de correspondances (carnet-server import accounts --mapping).", "This file has too many columns to correct here: use a mapping file (carnet-server import accounts --mapping).")) } };
    }
    let fields = ACCOUNT_FIELDS
        .iter()
        .map(|f| (f.to_string(), format!("{} : {f}", tr(l, "dossier", "file"))))
        .chain(CONTACT_FIELDS.iter().map(|f| {
            (
                format!("contact.{f}"),
                format!("{} : {f}", tr(l, "contact", "contact")),
            )
        }))
        .collect::<Vec<_>>();
    html! {
        h2 { (tr(l, "Colonnes", "Columns")) }
        form method="post" action="/import/columns" {
            (page::csrf(v))
            input type="hidden" name="token" value=(token);
            table {
                caption { (tr(l, "Ce que chaque colonne donne (corrigez au besoin)", "What each column gives (correct as needed)")) }
                thead { tr {
                    th scope="col" { (tr(l, "En-tête du fichier", "File header")) }
                    th scope="col" { (tr(l, "Champ", "Field")) }
                } }
                tbody { @for (i, u) in uses.iter().enumerate() {
                    @let chosen = overrides.get(&u.header).map(String::as_str).unwrap_or("");
                    tr {
                        th scope="row" { label for={ "c" (i) } { (u.header) } }
                        td { select id={ "c" (i) } name={ "c" (i) } {
                            option value="" selected[chosen.is_empty()] {
                                @match &u.field {
                                    Some(f) => { (tr(l, "reconnu : ", "recognized: ")) (f) }
                                    None => (tr(l, "non reconnu (ignoré)", "not recognized (ignored)")),
                                }
                            }
                            option value="ignore" selected[chosen == "ignore"] { (tr(l, "ignorer", "ignore")) }
                            @for (code, label) in &fields {
                                option value=(code) selected[chosen == code] { (label) }
                            }
                        } }
                    }
                } }
            }
            p {
                label for="col-verified_on" { (tr(l, "Données vérifiées le (facultatif)", "Data checked on (optional)")) }
                " "
                input #col-verified_on type="date" name="verified_on";
            }
            p {
                input #col-dry_run type="checkbox" name="dry_run" value="1" checked;
                " "
                label for="col-dry_run" { (tr(l, "Simulation : vérifier sans rien écrire", "Dry run: check without writing")) }
            }
            button type="submit" { (tr(l, "Reprendre le même fichier avec ces colonnes", "Run the same file with these columns")) }
        }
        h2 { (tr(l, "Ou importer un autre fichier", "Or import another file")) }
        (upload_form(v))
    }
}

/// How long an uploaded file is kept for a second look, and how many are
/// kept at once (the oldest goes first).
const KEEP_FOR: std::time::Duration = std::time::Duration::from_secs(30 * 60);
const MAX_KEPT: usize = 20;

/// Uploaded files kept between a dry run and the real import, each under
/// a random token that only its uploader may use.
#[derive(Default)]
pub struct Kept {
    files: std::sync::Mutex<std::collections::HashMap<String, KeptFile>>,
    /// Order of arrival, for evicting the oldest.
    next: std::sync::atomic::AtomicU64,
}

struct KeptFile {
    user: String,
    path: std::path::PathBuf,
    until: std::time::Instant,
    seq: u64,
}

impl Kept {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, KeptFile>> {
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `path` for `user`; returns its token. Expired files, and the
    /// oldest beyond `MAX_KEPT`, are deleted.
    fn put(&self, user: &str, path: std::path::PathBuf) -> String {
        let token = crate::auth::new_token();
        let mut files = self.lock();
        let now = std::time::Instant::now();
        files.retain(|_, f| {
            let keep = f.until > now;
            if !keep {
                let _ = std::fs::remove_file(&f.path);
            }
            keep
        });
        while files.len() >= MAX_KEPT {
            let Some(oldest) = files
                .iter()
                .min_by_key(|(_, f)| f.seq)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(f) = files.remove(&oldest) {
                let _ = std::fs::remove_file(&f.path);
            }
        }
        files.insert(
            token.clone(),
            KeptFile {
                user: user.to_string(),
                path,
                until: now + KEEP_FOR,
                seq: self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            },
        );
        token
    }

    /// The file under `token`, if it is `user`'s and not expired.
    fn get(&self, user: &str, token: &str) -> Option<std::path::PathBuf> {
        let files = self.lock();
        files
            .get(token)
            .filter(|f| f.user == user && f.until > std::time::Instant::now())
            .map(|f| f.path.clone())
    }

    /// Forgets the file under `token` (if `user`'s); the caller deletes it.
    fn take(&self, user: &str, token: &str) -> Option<std::path::PathBuf> {
        let mut files = self.lock();
        if files.get(token).is_some_and(|f| f.user == user) {
            return files.remove(token).map(|f| f.path);
        }
        None
    }
}

impl Drop for Kept {
    fn drop(&mut self) {
        for f in self.lock().values() {
            let _ = std::fs::remove_file(&f.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Kept, MAX_KEPT};

    #[test]
    fn a_kept_file_serves_only_its_uploader_and_the_oldest_go_first() {
        let dir = tempfile::tempdir().unwrap();
        let kept = Kept::default();
        let file = |n: usize| {
            let p = dir.path().join(format!("{n}.csv"));
            std::fs::write(&p, "Raison sociale\nX\n").unwrap();
            p
        };
        let first = kept.put("marc@x.fr", file(0));
        assert_eq!(kept.get("nina@x.fr", &first), None);
        assert_eq!(kept.take("nina@x.fr", &first), None);
        assert_eq!(
            kept.get("marc@x.fr", &first),
            Some(dir.path().join("0.csv"))
        );
        // Past MAX_KEPT, the oldest is forgotten and its file deleted.
        for n in 1..=MAX_KEPT {
            kept.put("marc@x.fr", file(n));
        }
        assert_eq!(kept.get("marc@x.fr", &first), None);
        assert!(!dir.path().join("0.csv").exists());
        assert!(dir.path().join("1.csv").exists());
        // Dropped (the server stops): every kept file goes.
        drop(kept);
        assert!(!dir.path().join("1.csv").exists());
    }
}
