//! Importing a CSV of customer files from the web app, for managers and
//! admins: the file is uploaded (multipart, at most `MAX_UPLOAD` bytes,
//! written to a private temporary file as it arrives), then imported as
//! the viewer through `Tenant::import_accounts`: every file judged as any
//! edit of theirs, duplicates checked against the files they may see. A
//! dry run shows the same report and writes nothing.

use std::io::Write;

use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use carnet_core::import::{Outcome, Overrides};
use maud::{html, Markup};

use super::page::{self, tr, Nav};
use super::{forbidden, html_page, not_found, Viewer, Web};
use crate::tenant::import::Importer;

/// The largest CSV uploaded from a browser.
pub const MAX_UPLOAD: usize = 20 << 20;

pub fn routes() -> Router<Web> {
    Router::new().route(
        "/import",
        get(form)
            .post(upload)
            .layer(DefaultBodyLimit::max(MAX_UPLOAD + 64 * 1024)),
    )
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
                let mut open = std::fs::OpenOptions::new();
                open.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    open.mode(0o600);
                }
                let Ok(mut out) = open.open(&path) else { break };
                let mut written = 0usize;
                loop {
                    match field.chunk().await {
                        Ok(Some(chunk)) => {
                            written += chunk.len();
                            if written > MAX_UPLOAD || out.write_all(&chunk).is_err() {
                                too_large = written > MAX_UPLOAD;
                                break;
                            }
                        }
                        Ok(None) => {
                            saved = true;
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
    let outcome = if too_large || !saved {
        Err(if too_large {
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
        })
    } else {
        web.tenant
            .import_accounts(
                Importer::User(v.writer()),
                path.clone(),
                Overrides::new(),
                carnet_core::import::Options {
                    dry_run,
                    lang: l,
                    verified_on,
                },
            )
            .await
            .map_err(|e| match e {
                crate::tenant::TenantError::Core(carnet_core::CoreError::Invalid(v)) => {
                    v.message(l)
                }
                other => other.to_string(),
            })
    };
    let _ = std::fs::remove_file(&path);
    let body = match outcome {
        Err(msg) => html! {
            (page::error(Some(&msg)))
            (upload_form(&v))
        },
        Ok(r) => html! {
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
            h2 { (tr(l, "Importer un autre fichier", "Import another file")) }
            (upload_form(&v))
        },
    };
    html_page(page::page(
        &v,
        Nav::Quality,
        tr(l, "Importer des clients", "Import customers"),
        body,
    ))
}
