//! The web app, on the same port as `/sync`: server-rendered pages (maud,
//! compiled in; one stylesheet embedded; no script at all) for the office
//! and any PC. It reads the tenant's materialized index, filtered by the
//! same `Acl` as sync, and writes through `Tenant::edit_for`: the domain's
//! operations as the logged-in user, judged and committed like a device's
//! change, so connected devices see a browser edit live.
//!
//! Security: sessions in HttpOnly SameSite=Strict cookies (`session`), a
//! CSRF token checked on every POST, logins throttled by the same
//! `LoginGuard` as device logins, a Content-Security-Policy without any
//! script source, every value escaped by maud, bodies bounded. A hidden
//! account answers byte for byte like a missing one (`not_found`).

mod accounts;
mod chart;
mod dashboard;
mod day;
pub mod import;
mod library;
mod manage;
pub mod page;
mod pipeline;
mod quality;
pub mod session;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use carnet_core::doc::Writer;
use carnet_core::text::Lang;
use maud::{html, Markup};

use crate::acl::Role;
use crate::admin::LoginRefused;
use crate::tenant::{EditError, Tenant};
use page::tr;
use session::{Sessions, COOKIE};

/// Largest form body (a note is the longest thing typed).
pub const MAX_FORM_BYTES: usize = 64 * 1024;
/// Longest value of one form field.
pub const MAX_FIELD_CHARS: usize = 10_000;
/// Most fields in one form.
pub const MAX_FIELDS: usize = 200;

#[derive(Clone)]
pub struct Web {
    pub tenant: Arc<Tenant>,
    pub sessions: Arc<Sessions>,
    /// CSV files kept between an import's dry run and the import itself.
    pub kept: Arc<import::Kept>,
}

pub fn router(tenant: Arc<Tenant>) -> Router {
    let web = Web {
        tenant,
        sessions: Arc::new(Sessions::default()),
        kept: Arc::new(import::Kept::default()),
    };
    Router::new()
        .route("/", get(|| async { Redirect::to("/day") }))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/lang", post(set_lang))
        .route("/assets/style.css", get(style))
        .merge(day::routes())
        .merge(accounts::routes())
        .merge(pipeline::routes())
        .merge(dashboard::routes())
        .merge(manage::routes())
        .merge(library::routes())
        .merge(quality::routes())
        .merge(import::routes())
        .layer(axum::extract::DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(web)
}

async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("assets/style.css"),
    )
        .into_response()
}

/// The logged-in user of a request.
#[derive(Clone)]
pub struct Viewer {
    pub user: String,
    pub role: Role,
    pub lang: Lang,
    pub csrf: String,
    pub token: String,
    pub actor: automerge::ActorId,
    /// Served over TLS (a proxy says so): cookies get `Secure`.
    pub secure: bool,
}

impl Viewer {
    /// The author of this viewer's changes, now.
    pub fn writer(&self) -> Writer {
        Writer {
            user: self.user.clone(),
            actor: self.actor.clone(),
            now: chrono::Utc::now().timestamp(),
        }
    }

    pub fn is_manager(&self) -> bool {
        self.role != Role::Rep
    }
}

fn secure(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// Language from `Accept-Language`: English when the browser prefers it,
/// else French.
fn browser_lang(headers: &HeaderMap) -> Lang {
    let al = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let first = al.split(',').next().unwrap_or("").trim().to_lowercase();
    if first.starts_with("en") {
        Lang::En
    } else {
        Lang::Fr
    }
}

impl FromRequestParts<Web> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, web: &Web) -> Result<Viewer, Response> {
        let token = parts
            .headers
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|c| session::cookie(c, COOKIE))
            .map(str::to_string);
        let found = token
            .as_deref()
            .and_then(|t| web.sessions.get(t).map(|s| (t.to_string(), s)));
        let Some((token, s)) = found else {
            return Err(Redirect::to("/login").into_response());
        };
        // Deactivated or removed since: the session ends here.
        let Some(role) = web.tenant.acl().role(&s.user) else {
            web.sessions.close(&token);
            return Err(Redirect::to("/login").into_response());
        };
        Ok(Viewer {
            user: s.user,
            role,
            lang: s.lang,
            csrf: s.csrf,
            token,
            actor: s.actor,
            secure: secure(&parts.headers),
        })
    }
}

/// A posted form, CSRF-checked.
pub struct Form(Vec<(String, String)>);

/// Why a posted form is refused before anything reads it.
pub enum Rejected {
    /// No CSRF token, or not the session's.
    Csrf(Lang),
    TooLarge,
}

impl IntoResponse for Rejected {
    fn into_response(self) -> Response {
        match self {
            Rejected::Csrf(l) => forbidden(l),
            Rejected::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response(),
        }
    }
}

/// A POST from a logged-in user: who, and their form, CSRF-checked. The
/// body is read within `MAX_FORM_BYTES` (the router's body limit).
pub struct Posted {
    pub v: Viewer,
    pub f: Form,
}

impl FromRequest<Web> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, web: &Web) -> Result<Posted, Response> {
        let (mut parts, body) = req.into_parts();
        let v = Viewer::from_request_parts(&mut parts, web).await?;
        let body = Bytes::from_request(Request::from_parts(parts, body), web)
            .await
            .map_err(IntoResponse::into_response)?;
        let f = Form::parse(&v, &body).map_err(IntoResponse::into_response)?;
        Ok(Posted { v, f })
    }
}

/// A `Posted` from an admin; anyone else gets the hidden answer.
pub struct AdminPosted(pub Posted);

impl FromRequest<Web> for AdminPosted {
    type Rejection = Response;

    async fn from_request(req: Request, web: &Web) -> Result<AdminPosted, Response> {
        let posted = Posted::from_request(req, web).await?;
        if posted.v.role != Role::Admin {
            return Err(not_found(&posted.v));
        }
        Ok(AdminPosted(posted))
    }
}

impl Form {
    /// The fields of an urlencoded body.
    fn decode(body: &[u8]) -> Form {
        Form(
            form_urlencoded::parse(body)
                .map(|(k, val)| (k.into_owned(), val.into_owned()))
                .collect(),
        )
    }

    /// At most `MAX_FIELDS` fields of at most `MAX_FIELD_CHARS` each.
    fn bounded(self) -> Result<Form, Rejected> {
        if self.0.len() > MAX_FIELDS
            || self
                .0
                .iter()
                .any(|(_, x)| x.chars().count() > MAX_FIELD_CHARS)
        {
            return Err(Rejected::TooLarge);
        }
        Ok(self)
    }

    /// Parses an urlencoded body and checks its CSRF token against the
    /// session's; bounds every field.
    pub fn parse(v: &Viewer, body: &Bytes) -> Result<Form, Rejected> {
        let form = Form::decode(body);
        if !crate::auth::same_secret(form.get("csrf").unwrap_or(""), &v.csrf) {
            return Err(Rejected::Csrf(v.lang));
        }
        form.bounded()
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or("").trim().to_string()
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The non-empty fields among `names`, as the domain's raw inputs.
    pub fn raw<'a>(&self, names: &[&'a str]) -> Vec<(&'a str, String)> {
        names
            .iter()
            .filter_map(|n| {
                let v = self.text(n);
                (!v.is_empty()).then_some((*n, v))
            })
            .collect()
    }
}

pub fn forbidden(lang: Lang) -> Response {
    (
        StatusCode::FORBIDDEN,
        maud::Markup::into_string(page::bare(
            lang,
            tr(lang, "Requête refusée", "Request refused"),
            html! { p { (tr(lang, "Le formulaire a expiré ou ne vient pas de Carnet. Rechargez la page.", "The form expired or did not come from Carnet. Reload the page.")) } },
        )),
    )
        .into_response()
}

/// The answer for a document that does not exist or that the viewer may
/// not see: the same bytes for both.
pub fn not_found(v: &Viewer) -> Response {
    let l = v.lang;
    (
        StatusCode::NOT_FOUND,
        html_page(page::page(
            v,
            page::Nav::None,
            tr(l, "Introuvable", "Not found"),
            html! {
                p { (tr(l, "Cette fiche n'existe pas ou ne vous est pas accessible.", "This record does not exist or is not available to you.")) }
                p { a href="/accounts" { (tr(l, "Retour aux clients", "Back to accounts")) } }
            },
        )),
    )
        .into_response()
}

pub fn html_page(m: Markup) -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        m.into_string(),
    )
        .into_response()
}

/// After a POST: back to `to` (303, so a reload does not post again),
/// with a message for the next page.
pub fn back(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// What an edit's failure tells the user: hidden reads as missing; a
/// broken rule comes back on the page it was typed on.
pub fn edit_failed(v: &Viewer, e: EditError, to: &str) -> Response {
    match e {
        EditError::Hidden => not_found(v),
        EditError::Invalid(carnet_core::CoreError::Invalid(c)) => {
            back(&with_error(to, &c.message(v.lang)))
        }
        EditError::Invalid(c) => back(&with_error(to, &c.to_string())),
        EditError::Refused(r) => back(&with_error(to, &r)),
        EditError::Tenant(t) => {
            tracing::error!(error = %t, "web edit failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                tr(
                    v.lang,
                    "Enregistrement impossible pour le moment.",
                    "Could not save right now.",
                ),
            )
                .into_response()
        }
    }
}

/// `to` with an `error` query parameter.
/// A small multipart field (a token, a title) read as text, at most `max`
/// bytes: `None` when longer, not UTF-8, or cut short. Never the whole
/// body in memory, whatever a client sends.
pub async fn small_field(
    field: &mut axum::extract::multipart::Field<'_>,
    max: usize,
) -> Option<String> {
    let mut buf = Vec::new();
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => {
                if buf.len() + chunk.len() > max {
                    return None;
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(None) => return String::from_utf8(buf).ok(),
            Err(_) => return None,
        }
    }
}

pub fn with_error(to: &str, msg: &str) -> String {
    let sep = if to.contains('?') { '&' } else { '?' };
    format!("{to}{sep}error={}", enc(msg))
}

/// `s` encoded for a URL's query.
pub fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

// ----- login --------------------------------------------------------------

async fn login_form(headers: HeaderMap) -> Response {
    login_page(browser_lang(&headers), None, StatusCode::OK)
}

fn login_page(l: Lang, error: Option<&str>, status: StatusCode) -> Response {
    let body = html! {
        (page::error(error))
        form method="post" action="/login" {
            p {
                label for="email" { (tr(l, "Adresse e-mail", "Email address")) }
                input #email type="email" name="email" required autocomplete="username";
            }
            p {
                label for="password" { (tr(l, "Mot de passe", "Password")) }
                input #password type="password" name="password" required autocomplete="current-password";
            }
            p.check {
                input #public type="checkbox" name="public" value="1";
                label for="public" { (tr(l, "Ce n'est pas mon ordinateur (session fermée après 30 minutes d'inactivité)", "This is not my computer (session ends after 30 idle minutes)")) }
            }
            p { button type="submit" { (tr(l, "Se connecter", "Log in")) } }
        }
    };
    (
        status,
        html_page(page::bare(l, tr(l, "Connexion", "Log in"), body)),
    )
        .into_response()
}

async fn login(
    State(web): State<Web>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let l = browser_lang(&headers);
    // No session yet, so no CSRF token: the login form is the one POST
    // without it (SameSite=Strict keeps other sites' cookies out anyway).
    let f = Form::decode(&body);
    let (email, password) = (
        f.get("email").unwrap_or(""),
        f.get("password").unwrap_or(""),
    );
    let public = f.get("public") == Some("1");
    let addr: Option<IpAddr> = Some(peer.ip());
    match web.tenant.check_password(email, password, addr).await {
        Ok(user) => {
            let token = web.sessions.open(&user, public, l);
            (
                [(
                    header::SET_COOKIE,
                    session::set_cookie(&token, public, secure(&headers)),
                )],
                Redirect::to("/day"),
            )
                .into_response()
        }
        Err(LoginRefused::Wrong) => login_page(
            l,
            Some(tr(
                l,
                "Adresse e-mail ou mot de passe incorrect.",
                "Wrong email or password.",
            )),
            StatusCode::UNAUTHORIZED,
        ),
        Err(LoginRefused::Throttled(_)) => login_page(
            l,
            Some(tr(
                l,
                "Trop de tentatives : réessayez dans une minute.",
                "Too many attempts: try again in a minute.",
            )),
            StatusCode::TOO_MANY_REQUESTS,
        ),
    }
}

async fn logout(State(web): State<Web>, Posted { v, .. }: Posted) -> Response {
    web.sessions.close(&v.token);
    (
        [(header::SET_COOKIE, session::clear_cookie(v.secure))],
        Redirect::to("/login"),
    )
        .into_response()
}

async fn set_lang(State(web): State<Web>, headers: HeaderMap, Posted { v, f }: Posted) -> Response {
    let lang = if f.text("lang") == "en" {
        Lang::En
    } else {
        Lang::Fr
    };
    web.sessions.set_lang(&v.token, lang);
    let to = headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| r.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.find('/').map(|i| rest[i..].to_string()))
        .filter(|p| p.starts_with('/') && !p.starts_with("//"))
        .unwrap_or_else(|| "/day".into());
    back(&to)
}
