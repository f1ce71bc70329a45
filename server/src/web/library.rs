//! The marketing library in the web app, and the blobs themselves:
//! `/library` lists the documents meant for the viewer; `/blobs/<sha>`
//! streams one, to a logged-in browser or to a device showing its token
//! (`Authorization: Bearer`), after the one decision `Tenant::may_fetch`.
//! A blob the caller may not fetch answers exactly like a missing one.

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use carnet_core::text;
use maud::html;

use super::page::{self, tr, Nav};
use super::{html_page, Viewer, Web};

pub fn routes() -> Router<Web> {
    Router::new()
        .route("/library", get(list))
        .route("/blobs/{sha}", get(blob))
}

async fn list(State(web): State<Web>, v: Viewer) -> Response {
    let l = v.lang;
    let items = web.tenant.library_for(&v.user).await;
    let body = html! {
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
                } }
                tbody { @for i in &items { tr {
                    td { a href={ "/blobs/" (i.blob) } { (i.title) } }
                    td { (i.file_name) }
                    td.num { (format!("{:.1}", i.size as f64 / 1_048_576.0)) " Mo" }
                    td { (text::date_time(i.updated_at, l)) }
                    td { @if i.territories.is_empty() && i.teams.is_empty() { (tr(l, "tous", "everyone")) }
                         @else { (i.territories.iter().chain(i.teams.iter()).cloned().collect::<Vec<_>>().join(", ")) } }
                } } }
            }
        }
    };
    html_page(page::page(
        &v,
        Nav::Library,
        tr(l, "Documents commerciaux", "Marketing library"),
        body,
    ))
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
