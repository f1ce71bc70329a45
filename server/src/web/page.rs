//! The page shell (header, navigation, footer with the date and the user
//! for printouts), the French/English wording, and formatting helpers.
//! Every value goes through maud, which escapes it.

use carnet_core::text::{self, Lang};
use chrono::NaiveDate;
use maud::{html, Markup, DOCTYPE};

use super::Viewer;
use crate::acl::Role;

/// French text, or English.
pub fn tr(lang: Lang, fr: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Fr => fr,
        Lang::En => en,
    }
}

pub fn money(cents: i64, lang: Lang) -> String {
    text::amount(cents, "EUR", lang)
}

pub fn day(d: Option<NaiveDate>, lang: Lang) -> String {
    d.map(|d| text::date(d, lang)).unwrap_or_default()
}

pub fn lang_code(lang: Lang) -> &'static str {
    match lang {
        Lang::Fr => "fr",
        Lang::En => "en",
    }
}

/// Which navigation entry is current.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Day,
    Accounts,
    Pipeline,
    Dashboard,
    Forecast,
    Commissions,
    Targets,
    Territories,
    Users,
    Company,
    Library,
    Quality,
    None,
}

/// A whole page: `<title>`, the navigation for the viewer's role, `body`,
/// and a footer that printouts carry (date, user).
pub fn page(v: &Viewer, nav: Nav, title: &str, body: Markup) -> Markup {
    let l = v.lang;
    let manager = v.role != Role::Rep;
    let entries: Vec<(Nav, &str, &str)> = [
        (Nav::Day, "/day", tr(l, "Ma journée", "My day"), true),
        (
            Nav::Accounts,
            "/accounts",
            tr(l, "Clients", "Accounts"),
            true,
        ),
        (
            Nav::Pipeline,
            "/pipeline",
            tr(l, "Affaires", "Pipeline"),
            true,
        ),
        (
            Nav::Dashboard,
            "/dashboard",
            tr(l, "Tableau de bord", "Dashboard"),
            manager,
        ),
        (
            Nav::Forecast,
            "/forecast",
            tr(l, "Prévisions", "Forecast"),
            manager,
        ),
        (
            Nav::Commissions,
            "/commissions",
            tr(l, "Commissions", "Commissions"),
            manager,
        ),
        (
            Nav::Targets,
            "/targets",
            tr(l, "Objectifs", "Targets"),
            manager,
        ),
        (
            Nav::Territories,
            "/territories",
            tr(l, "Secteurs", "Territories"),
            manager,
        ),
        (
            Nav::Quality,
            "/quality",
            tr(l, "Qualité", "Data quality"),
            manager,
        ),
        (
            Nav::Library,
            "/library",
            tr(l, "Documents", "Library"),
            true,
        ),
        (
            Nav::Users,
            "/users",
            tr(l, "Utilisateurs", "Users"),
            v.role == Role::Admin,
        ),
        (
            Nav::Company,
            "/company",
            tr(l, "Entreprise", "Company"),
            v.role == Role::Admin,
        ),
    ]
    .into_iter()
    .filter(|e| e.3)
    .map(|(n, h, t, _)| (n, h, t))
    .collect();
    let today = text::date(chrono::Local::now().date_naive(), l);
    html! {
        (DOCTYPE)
        html lang=(lang_code(l)) {
            (head(title))
            body {
                a.skip href="#main" { (tr(l, "Aller au contenu", "Skip to content")) }
                header.top.no-print {
                    span.brand { "Carnet" }
                    nav aria-label=(tr(l, "Navigation principale", "Main navigation")) {
                        ul {
                            @for (n, href, label) in &entries {
                                li {
                                    @if *n == nav {
                                        a href=(href) aria-current="page" { (label) }
                                    } @else {
                                        a href=(href) { (label) }
                                    }
                                }
                            }
                        }
                    }
                    div.me {
                        span { (v.user) }
                        form method="post" action="/lang" {
                            (csrf(v))
                            input type="hidden" name="lang" value=(if l == Lang::Fr { "en" } else { "fr" });
                            button type="submit" lang=(if l == Lang::Fr { "en" } else { "fr" }) {
                                (if l == Lang::Fr { "English" } else { "Français" })
                            }
                        }
                        form method="post" action="/logout" {
                            (csrf(v))
                            button type="submit" { (tr(l, "Se déconnecter", "Log out")) }
                        }
                    }
                }
                main #main {
                    h1 { (title) }
                    (body)
                }
                footer.print-footer {
                    (tr(l, "Édité le ", "Printed on ")) (today) " — " (v.user)
                }
            }
        }
    }
}

/// Every page's `<head>`: the one stylesheet, no script.
fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " — Carnet" }
            link rel="stylesheet" href="/assets/style.css";
        }
    }
}

/// The CSRF field every state-changing form carries.
pub fn csrf(v: &Viewer) -> Markup {
    html! { input type="hidden" name="csrf" value=(v.csrf); }
}

/// A page outside a session (login, errors before login).
pub fn bare(lang: Lang, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang_code(lang)) {
            (head(title))
            body {
                main #main.narrow {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// The error a redirect brought back (`?error=…`), as an alert.
pub fn error(msg: Option<&str>) -> Markup {
    html! { @if let Some(m) = msg { p.flash.error role="alert" { (m) } } }
}

/// A number with a sign and the French decimal comma (variances).
pub fn signed_pct(p: rust_decimal::Decimal, lang: Lang) -> String {
    let s = format!("{:+}", p.round_dp(1));
    let s = if lang == Lang::Fr {
        s.replace('.', ",")
    } else {
        s
    };
    format!("{s}\u{a0}%")
}
