//! What an outbox message says and whether it may leave, as pure functions
//! of the customer file and the settings: the subject and body of a quote's
//! email, who refused prospecting email, the Message-ID a message always
//! carries, and the wait before the next attempt. The device calls them to
//! write a message; the server's mailer calls them again to send it (the
//! file may have changed in between: a contact who refused since gets
//! nothing). SMTP itself is the server's (`carnet_server::mailer`).

use crate::model::{AccountFile, Quote, Settings};
use crate::text::{self, Lang};

/// The longest subject and message a user may write.
pub const MAX_SUBJECT: usize = 200;
pub const MAX_MESSAGE: usize = 20_000;

/// The subject of a quote's email: `Devis DEV-2026-0042`. It is made
/// when read, not when written: a quote written offline has its final
/// number only once the server has seen it.
pub fn quote_subject(quote: &Quote, lang: Lang) -> String {
    match lang {
        Lang::Fr => format!("Devis {}", quote.number),
        Lang::En => format!("Quote {}", quote.number),
    }
}

fn seller(settings: &Settings) -> &str {
    if settings.company.name.trim().is_empty() {
        settings.company_name.trim()
    } else {
        settings.company.name.trim()
    }
}

/// The plain-text body: the author's message (or a default one), then, for
/// a quote, what is attached, then the seller's signature.
pub fn body(settings: &Settings, message: &str, quote: Option<&Quote>, lang: Lang) -> String {
    let mut out = String::new();
    let message = message.trim();
    if message.is_empty() {
        out.push_str(match (lang, quote.is_some()) {
            (Lang::Fr, true) => "Bonjour,\n\nVeuillez trouver ci-joint notre proposition.",
            (Lang::En, true) => "Hello,\n\nPlease find our proposal attached.",
            (Lang::Fr, false) => "Bonjour,",
            (Lang::En, false) => "Hello,",
        });
    } else {
        out.push_str(message);
    }
    if let Some(q) = quote {
        out.push_str("\n\n");
        let total = text::amount(q.totals.gross, &q.currency, lang);
        match lang {
            Lang::Fr => {
                out.push_str(&format!("Pièce jointe : devis {} ({total} TTC)", q.number));
                if let Some(v) = q.valid_until {
                    out.push_str(&format!(", valable jusqu'au {}", text::date(v, lang)));
                }
            }
            Lang::En => {
                out.push_str(&format!("Attached: quote {} ({total} incl. VAT)", q.number));
                if let Some(v) = q.valid_until {
                    out.push_str(&format!(", valid until {}", text::date(v, lang)));
                }
            }
        }
        out.push('.');
    }
    let c = &settings.company;
    let sign: Vec<&str> = [seller(settings), c.phone.trim(), c.email.trim()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    if !sign.is_empty() {
        out.push_str("\n\n-- \n");
        out.push_str(&sign.join("\n"));
    }
    out.push('\n');
    out
}

/// The file name of a quote's PDF attachment: `Devis-D-2026-0042.pdf`.
pub fn quote_file_name(quote: &Quote, lang: Lang) -> String {
    let what = match lang {
        Lang::Fr => "Devis",
        Lang::En => "Quote",
    };
    let number: String = quote
        .number
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{what}-{number}.pdf")
}

/// Who at this address refused prospecting email, if anyone did: the
/// account itself or one of its contacts (`consent_email` set to no).
/// Addresses compare without case.
pub fn refusal(file: &AccountFile, to: &str) -> Option<String> {
    let to = to.trim();
    let same = |e: &Option<String>| e.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(to));
    if file.account.refused_email && same(&file.account.email) {
        return Some(file.account.name.clone());
    }
    file.contacts
        .iter()
        .find(|c| c.refused_email && same(&c.email))
        .map(|c| c.name.clone())
}

/// The Message-ID of an outbox message: made from its record id, so every
/// attempt (and a resend after a crash) carries the same one and the
/// receiving side can drop a duplicate. `domain` is the sender's domain.
pub fn message_id(email_id: &str, domain: &str) -> String {
    let domain = if domain.is_empty() || !domain.chars().all(is_atom) {
        "carnet.invalid"
    } else {
        domain
    };
    let left: String = email_id.chars().filter(|c| is_atom(*c)).collect();
    format!("<{left}@{domain}>")
}

fn is_atom(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '.'
}

/// Seconds to wait after the `attempts`-th failed attempt: `base`, then
/// doubling, at most six hours.
pub fn backoff(attempts: i64, base: u64) -> u64 {
    let shift = attempts.saturating_sub(1).clamp(0, 20) as u32;
    base.max(1).saturating_mul(1u64 << shift).min(6 * 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_stable_and_well_formed() {
        let a = message_id("5f0c-11", "example.com");
        assert_eq!(a, "<5f0c-11@example.com>");
        assert_eq!(a, message_id("5f0c-11", "example.com"));
        // A hostile domain never reaches the header.
        assert_eq!(message_id("x", "a>b\r\nBcc: c"), "<x@carnet.invalid>");
        assert_eq!(message_id("x<y>", ""), "<xy@carnet.invalid>");
    }

    #[test]
    fn backoff_doubles_and_stops_growing() {
        assert_eq!(backoff(1, 30), 30);
        assert_eq!(backoff(2, 30), 60);
        assert_eq!(backoff(3, 30), 120);
        assert_eq!(backoff(40, 30), 6 * 3600);
        assert_eq!(backoff(0, 0), 1);
    }
}
