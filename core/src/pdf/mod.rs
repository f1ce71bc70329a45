//! PDFs made in the core, so a phone makes them offline: a quote ("devis")
//! or an order with its legal mentions, ready to show on the tablet or to
//! attach; a customer file ("dossier client") and the to-do list to print.
//!
//! A small layout engine on krilla (docs/decisions/006-pdf.md): A4 pages,
//! text measured with the embedded fonts' advances and wrapped to its
//! column, tables whose header repeats on every page they run onto, and on
//! every page the seller's legal line and "Page n / N". Fonts (DejaVu Sans,
//! regular and bold) are embedded, subset to the glyphs used.

mod file;
mod sale;
mod sheet;

pub use file::{account, todo};
pub use sale::{order, quote};

use std::io::Read;

use rust_decimal::Decimal;

use crate::model::{Account, Settings};
use crate::text::{self, Lang};

/// What heads every PDF: the seller, from the settings, and the logo's
/// bytes when the company has one and this machine holds it (a device
/// downloads it with the library). A `&Settings` alone is a letterhead
/// without a logo.
#[derive(Clone, Copy)]
pub struct Letterhead<'a> {
    pub settings: &'a Settings,
    pub logo: Option<&'a [u8]>,
}

impl<'a> From<&'a Settings> for Letterhead<'a> {
    fn from(settings: &'a Settings) -> Letterhead<'a> {
        Letterhead {
            settings,
            logo: None,
        }
    }
}

/// A letterhead owning its parts, to move to another thread.
#[derive(Clone, Debug, Default)]
pub struct Heading {
    pub settings: Settings,
    pub logo: Option<Vec<u8>>,
}

impl<'a> From<&'a Heading> for Letterhead<'a> {
    fn from(h: &'a Heading) -> Letterhead<'a> {
        Letterhead {
            settings: &h.settings,
            logo: h.logo.as_deref(),
        }
    }
}

/// Largest logo file drawn.
pub const MAX_LOGO_BYTES: u64 = 2 * 1024 * 1024;
/// Largest logo side, in pixels: what bounds the memory its decoding takes.
pub const MAX_LOGO_SIDE: u32 = 4096;

/// The logo file at `path`, if it is there and no larger than
/// `MAX_LOGO_BYTES` (the read itself is bounded).
pub fn read_logo(path: &std::path::Path) -> Option<Vec<u8>> {
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.take(MAX_LOGO_BYTES + 1).read_to_end(&mut bytes).ok()?;
    (bytes.len() as u64 <= MAX_LOGO_BYTES).then_some(bytes)
}

/// Whether `bytes` can head a PDF: a PNG or JPEG within the limits. Its
/// size in pixels, or why not.
pub fn check_logo(bytes: &[u8]) -> std::result::Result<(u32, u32), String> {
    sheet::logo_image(bytes).map(|i| i.size())
}

pub(super) fn tr(lang: Lang, fr: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Fr => fr,
        Lang::En => en,
    }
}

pub(super) fn percent(d: Decimal, lang: Lang) -> String {
    format!("{}\u{a0}%", text::rate(&d.normalize().to_string(), lang))
}

/// The seller as a quote's letterhead and footer name it.
pub(super) fn seller_lines(s: &Settings, lang: Lang) -> (Vec<(String, bool)>, String) {
    let c = &s.company;
    let capital = c
        .share_capital
        .map(|cents| text::amount(cents, &s.currency, lang));
    let form = match (&capital, c.legal_form.trim()) {
        (Some(k), f) if !f.is_empty() => format!(
            "{f} {} {k}",
            tr(lang, "au capital de", "with a share capital of")
        ),
        (None, f) => f.to_string(),
        (Some(k), _) => format!("{} {k}", tr(lang, "Capital de", "Share capital")),
    };
    let ids = [
        (!c.siren.is_empty()).then(|| format!("SIREN {}", c.siren)),
        (!c.siret.is_empty()).then(|| format!("SIRET {}", c.siret)),
        (!c.rcs_city.is_empty()).then(|| format!("RCS {}", c.rcs_city)),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" — ");
    let vat = (!c.vat_number.is_empty()).then(|| {
        format!(
            "{} {}",
            tr(lang, "TVA intracommunautaire :", "EU VAT number:"),
            c.vat_number
        )
    });
    let contact = [c.phone.as_str(), c.email.as_str()]
        .into_iter()
        .filter(|x| !x.is_empty())
        .collect::<Vec<_>>()
        .join(" — ");
    let mut lines = vec![(c.name.clone(), true)];
    for l in [
        form.clone(),
        c.address.clone(),
        format!("{} {}", c.postcode, c.city).trim().to_string(),
        ids.clone(),
        vat.clone().unwrap_or_default(),
        contact,
    ] {
        if !l.trim().is_empty() {
            lines.push((l, false));
        }
    }
    let footer = [c.name.clone(), form, ids, vat.unwrap_or_default()]
        .into_iter()
        .filter(|x| !x.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" — ");
    (lines, footer)
}

pub(super) fn client_lines(a: &Account, lang: Lang) -> Vec<(String, bool)> {
    let mut lines = vec![
        (tr(lang, "Client", "Client").to_string(), false),
        (a.name.clone(), true),
    ];
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    for l in [
        opt(&a.address_line1),
        opt(&a.address_line2),
        format!("{} {}", opt(&a.postcode), opt(&a.city))
            .trim()
            .to_string(),
        opt(&a.country),
        a.siret
            .as_ref()
            .map(|s| format!("SIRET {s}"))
            .or_else(|| a.siren.as_ref().map(|s| format!("SIREN {s}")))
            .unwrap_or_default(),
        a.vat_number
            .as_ref()
            .map(|v| format!("{} {v}", tr(lang, "TVA :", "VAT:")))
            .unwrap_or_default(),
    ] {
        if !l.trim().is_empty() {
            lines.push((l, false));
        }
    }
    lines
}
