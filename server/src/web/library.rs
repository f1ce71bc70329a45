//! The marketing library in the web app, and the blobs themselves:
//! `/library` lists the documents meant for the viewer; `/blobs/<sha>`
//! streams one, to a logged-in browser or to a device showing its token
//! (`Authorization: Bearer`), after the one decision `Tenant::may_fetch`.
//! A blob the caller may not fetch answers exactly like a missing one.

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Multipart, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use carnet_core::model::LibraryItem;
use carnet_core::text::{self, Lang};
use maud::{html, Markup};
use serde::Deserialize;

use super::page::{self, tr, Nav};
use super::{back, forbidden, html_page, not_found, small_field, with_error, Posted, Viewer, Web};
use crate::acl::Role;
use crate::library::{Placed, DEFAULT_MAX_BYTES};

/// The largest document uploaded from a browser: the library's limit.
pub const MAX_UPLOAD: u64 = DEFAULT_MAX_BYTES;
/// What an upload gathers before writing it, off the async workers.
const WRITE_PIECE: usize = 1 << 20;

/// Writes `piece` to the blob on the blocking pool and hands the writer
/// back; on failure the writer is dropped, and its temporary file with it.
async fn write_piece(
    mut out: crate::library::BlobWriter,
    piece: Vec<u8>,
) -> Result<crate::library::BlobWriter, crate::tenant::TenantError> {
    if piece.is_empty() {
        return Ok(out);
    }
    tokio::task::spawn_blocking(move || out.write(&piece).map(|()| out))
        .await
        .map_err(|e| crate::tenant::TenantError::Invalid(e.to_string()))?
}

/// Territories or teams one upload may target.
const MAX_TARGETS: usize = 200;

pub fn routes() -> Router<Web> {
    Router::new()
        .route(
            "/library",
            get(list)
                .post(upload)
                .layer(DefaultBodyLimit::max(MAX_UPLOAD as usize + 64 * 1024)),
        )
        .route("/library/remove", post(remove))
        .route("/blobs/{sha}", get(blob))
}

#[derive(Deserialize, Default)]
struct Msg {
    error: Option<String>,
    /// `added` or `removed`: what the last action did.
    done: Option<String>,
}

/// "2,4 Mo", or "12 Ko" under a megabyte.
fn size_mb(bytes: i64, l: Lang) -> String {
    if bytes < 1_048_576 {
        let kb = (bytes.max(0) + 1023) / 1024;
        return format!("{kb}\u{a0}{}", tr(l, "Ko", "KB"));
    }
    let s = format!("{:.1}", bytes as f64 / 1_048_576.0);
    match l {
        Lang::Fr => format!("{}\u{a0}Mo", s.replace('.', ",")),
        Lang::En => format!("{s}\u{a0}MB"),
    }
}

fn targets(i: &LibraryItem, l: Lang) -> String {
    if i.territories.is_empty() && i.teams.is_empty() {
        return tr(l, "tous", "everyone").to_string();
    }
    let teams = i
        .teams
        .iter()
        .map(|m| format!("{} {m}", tr(l, "équipe de", "team of")));
    i.territories
        .iter()
        .cloned()
        .chain(teams)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The upload form (managers and admins). The token and the targets come
/// before the file, so a refused request stores nothing.
fn upload_form(web: &Web, v: &Viewer) -> Markup {
    let l = v.lang;
    let acl = web.tenant.acl();
    let managers: Vec<String> = acl
        .users()
        .into_iter()
        .filter(|u| acl.role(u) == Some(Role::Manager))
        .collect();
    html! {
        form #upload method="post" action="/library" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(v.csrf);
            p {
                label for="lib-title" { (tr(l, "Titre", "Title")) }
                " "
                input #lib-title type="text" name="title" required maxlength="200";
            }
            fieldset {
                legend { (tr(l, "Pour (rien de coché : tout le monde)", "For (nothing ticked: everyone)")) }
                @for t in acl.territory_names() {
                    label { input type="checkbox" name="territory" value=(t); " " (tr(l, "secteur ", "territory ")) (t) }
                    " "
                }
                @for m in &managers {
                    label { input type="checkbox" name="team" value=(m); " " (tr(l, "équipe de ", "team of ")) (m) }
                    " "
                }
            }
            p {
                label for="lib-file" { (tr(l, "Fichier (500 Mo au plus)", "File (500 MB at most)")) }
                " "
                input #lib-file type="file" name="file" required;
            }
            button type="submit" { (tr(l, "Ajouter à la bibliothèque", "Add to the library")) }
        }
    }
}

async fn list(State(web): State<Web>, v: Viewer, Query(q): Query<Msg>) -> Response {
    let l = v.lang;
    let items = web.tenant.library_for(&v.user).await;
    let manage = v.is_manager();
    let done = match q.done.as_deref() {
        Some("added") => Some(tr(l, "Document ajouté : les appareils visés le téléchargent à leur prochaine synchronisation.", "Document added: the devices it is for download it at their next sync.")),
        Some("removed") => Some(tr(l, "Document retiré : il quitte les appareils à leur prochaine synchronisation.", "Document withdrawn: it leaves the devices at their next sync.")),
        _ => None,
    };
    let body = html! {
        (page::error(q.error.as_deref()))
        @if let Some(d) = done { p.flash role="status" { (d) } }
        @if items.is_empty() {
            p { (tr(l, "Aucun document pour vous pour l'instant.", "No documents for you yet.")) }
        } @else {
            table {
                thead { tr {
                    th scope="col" { (tr(l, "Titre", "Title")) }
                    th scope="col" { (tr(l, "Fichier", "File")) }
                    th scope="col" { (tr(l, "Taille", "Size")) }
                    th scope="col" { (tr(l, "Mis à jour", "Updated")) }
                    th scope="col" { (tr(l, "Pour", "For")) }
                    @if manage { th scope="col" { (tr(l, "Retirer", "Withdraw")) } }
                } }
                tbody { @for i in &items { tr {
                    td { a href={ "/blobs/" (i.blob) } { (i.title) } }
                    td { (i.file_name) }
                    td.num { (size_mb(i.size, l)) }
                    td { (text::date_time(i.updated_at, l)) }
                    td { (targets(i, l)) }
                    @if manage { td {
                        form.inline method="post" action="/library/remove" {
                            (page::csrf(&v))
                            input type="hidden" name="id" value=(i.id);
                            button type="submit" aria-label={ (tr(l, "Retirer ", "Withdraw ")) (i.title) } { (tr(l, "Retirer", "Withdraw")) }
                        }
                    } }
                } } }
            }
        }
        @if manage {
            h2 { (tr(l, "Ajouter un document", "Add a document")) }
            p { (tr(l, "Un document du même titre est remplacé par la nouvelle version, sur les appareils aussi.", "A document with the same title is replaced by the new version, on the devices too.")) }
            (upload_form(&web, &v))
        }
    };
    html_page(page::page(
        &v,
        Nav::Library,
        tr(l, "Documents commerciaux", "Marketing library"),
        body,
    ))
}

/// A document uploaded by a manager or an admin: streamed into the blob
/// store as it arrives (hashed on the way, never whole in memory, at most
/// `MAX_UPLOAD`), then listed for the territories and teams ticked.
async fn upload(State(web): State<Web>, v: Viewer, mut parts: Multipart) -> Response {
    if !v.is_manager() {
        return not_found(&v);
    }
    let l = v.lang;
    let mut csrf_ok = false;
    let (mut title, mut territories, mut teams) = (String::new(), Vec::new(), Vec::new());
    let mut stored: Option<Result<(String, u64, String), String>> = None;
    let refused = |e: crate::tenant::TenantError| -> String {
        match e {
            crate::tenant::TenantError::TooLarge(_) => format!(
                "{} {} Mo {}",
                tr(l, "Le fichier dépasse", "The file is larger than"),
                MAX_UPLOAD >> 20,
                tr(
                    l,
                    "ou n'a pas été reçu en entier : rien n'est ajouté.",
                    "or did not arrive whole: nothing is added."
                )
            ),
            other => other.to_string(),
        }
    };
    while let Ok(Some(mut field)) = parts.next_field().await {
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "csrf" => {
                let t = small_field(&mut field, 256).await.unwrap_or_default();
                csrf_ok = crate::auth::same_secret(&t, &v.csrf);
            }
            "title" => title = small_field(&mut field, 1024).await.unwrap_or_default(),
            "territory" | "team" => {
                let Some(t) = small_field(&mut field, 256).await else {
                    continue;
                };
                let list = if name == "team" {
                    &mut teams
                } else {
                    &mut territories
                };
                if list.len() < MAX_TARGETS && !t.trim().is_empty() {
                    list.push(t.trim().to_string());
                }
            }
            // The token and targets come first: a request without them
            // stores nothing.
            "file" if csrf_ok && stored.is_none() => {
                if !crate::library::title_ok(&title) {
                    stored = Some(Err(tr(
                        l,
                        "Le titre doit compter de 1 à 200 caractères.",
                        "The title must be 1 to 200 characters long.",
                    )
                    .to_string()));
                    break;
                }
                if let Err(e) = web.tenant.check_library_item(&title, &territories, &teams) {
                    stored = Some(Err(e.to_string()));
                    break;
                }
                let file_name = field.file_name().unwrap_or("document").to_string();
                let mut out = match web.tenant.blobs.writer(MAX_UPLOAD) {
                    Ok(w) => w,
                    Err(e) => {
                        stored = Some(Err(refused(e)));
                        break;
                    }
                };
                // Gathered into 1 MiB pieces, each written (and the whole
                // fsynced) on the blocking pool, never on the async workers.
                let mut piece: Vec<u8> = Vec::with_capacity(WRITE_PIECE);
                let got = loop {
                    match field.chunk().await {
                        Ok(Some(chunk)) => {
                            piece.extend_from_slice(&chunk);
                            if piece.len() >= WRITE_PIECE {
                                out = match write_piece(out, std::mem::take(&mut piece)).await {
                                    Ok(o) => o,
                                    Err(e) => break Err(refused(e)),
                                };
                            }
                        }
                        Ok(None) => {
                            break write_piece(out, std::mem::take(&mut piece))
                                .await
                                .map_err(refused);
                        }
                        // The body limit cut it, or the browser went away:
                        // never keep part of a file.
                        Err(_) => {
                            break Err(refused(crate::tenant::TenantError::TooLarge(MAX_UPLOAD)))
                        }
                    }
                };
                stored = Some(match got {
                    Ok(out) if out.size() == 0 => {
                        Err(tr(l, "Le fichier est vide.", "The file is empty.").to_string())
                    }
                    Ok(out) => tokio::task::spawn_blocking(move || out.finish())
                        .await
                        .map_err(|e| e.to_string())
                        .and_then(|r| r.map_err(refused))
                        .map(|(sha, size)| (sha, size, file_name)),
                    Err(e) => Err(e),
                });
            }
            _ => {}
        }
    }
    if !csrf_ok {
        return forbidden(l);
    }
    let placed = match stored {
        None => Err(tr(l, "Aucun fichier reçu.", "No file received.").to_string()),
        Some(Err(e)) => Err(e),
        Some(Ok((sha, size, file_name))) => web
            .tenant
            .library_place(Placed {
                title,
                file_name,
                mime: None,
                sha,
                size,
                territories,
                teams,
            })
            .await
            .map_err(|e| e.to_string()),
    };
    match placed {
        Ok(item) => {
            tracing::info!(by = %v.user, title = %item.title, blob = %item.blob, "library document added");
            back("/library?done=added")
        }
        Err(e) => back(&with_error("/library", &e)),
    }
}

/// Withdraws a document (managers and admins); one the viewer cannot see
/// answers like a missing one.
async fn remove(State(web): State<Web>, Posted { v, f }: Posted) -> Response {
    if !v.is_manager() {
        return not_found(&v);
    }
    let id = f.text("id");
    if !web
        .tenant
        .library_for(&v.user)
        .await
        .iter()
        .any(|i| i.id == id)
    {
        return not_found(&v);
    }
    match web.tenant.library_remove(&id).await {
        Ok(item) => {
            tracing::info!(by = %v.user, title = %item.title, "library document withdrawn");
            back("/library?done=removed")
        }
        Err(e) => back(&with_error("/library", &e.to_string())),
    }
}

/// The caller: a device's token, or the browser's session.
async fn caller(web: &Web, req: Request) -> Result<String, Response> {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .map(str::to_string);
    if let Some(token) = bearer {
        return match web.tenant.device_for_token(&token) {
            Some(rec) if web.tenant.acl().role(&rec.user).is_some() => Ok(rec.user),
            _ => Err(StatusCode::UNAUTHORIZED.into_response()),
        };
    }
    let (mut parts, _) = req.into_parts();
    Viewer::from_request_parts(&mut parts, web)
        .await
        .map(|v| v.user)
}

async fn blob(State(web): State<Web>, Path(sha): Path<String>, req: Request) -> Response {
    let user = match caller(&web, req).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let missing = || (StatusCode::NOT_FOUND, "not found").into_response();
    let Some(item) = web.tenant.may_fetch(&user, &sha).await else {
        return missing();
    };
    let Some(path) = web.tenant.blobs.path(&sha) else {
        return missing();
    };
    let Ok(file) = tokio::fs::File::open(&path).await else {
        return missing();
    };
    let len = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    // 64 KiB at a time: a 200 MB brochure never sits in memory.
    let stream = futures_util::stream::unfold(file, |mut f| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(buf), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    });
    let name: String = item
        .file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    (
        [
            (header::CONTENT_TYPE, item.mime.clone()),
            (header::CONTENT_LENGTH, len.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::ETAG, format!("\"{sha}\"")),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}
