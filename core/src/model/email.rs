//! An outbox message ("e-mail") in a customer file: a quote, or a plain
//! message, that its author asked to send. It is written on the device, so
//! it can be written offline, and the server's mailer sends it once the
//! document reaches it, then records the result here: `sent` with the time
//! and the Message-ID, or an attempt that failed (retried later), or
//! `failed` for good with the reason.

use serde::Serialize;

use super::view::Rec;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Email {
    pub id: String,
    pub to: String,
    /// As written, or for a quote without one, `mail::quote_subject`
    /// (filled in by `AccountFile::read`).
    pub subject: String,
    pub message: String,
    /// The quote sent as a PDF attachment.
    pub quote: Option<String>,
    /// Library documents attached (their blobs' SHA-256).
    pub attachments: Vec<String>,
    /// `fr` or `en`: the language of the subject, the body and the PDF.
    pub lang: String,
    /// `queued`, `sent` or `failed`.
    pub status: String,
    /// Failed attempts so far.
    pub attempts: i64,
    /// Why the last attempt failed (or why it was not sent at all).
    pub error: Option<String>,
    /// When the mailer tries again (Unix seconds), while queued.
    pub next_attempt: Option<i64>,
    pub sent_at: Option<i64>,
    pub message_id: Option<String>,
    pub created_by: String,
    pub created_at: i64,
}

impl Email {
    pub fn read(o: Rec<'_>, id: String) -> Email {
        Email {
            to: o.string("to"),
            subject: o.string("subject"),
            message: o.get_text("message").unwrap_or_default(),
            quote: o.get_str("quote"),
            attachments: o.get_tags("attachments"),
            lang: o.get_str("lang").unwrap_or_else(|| "fr".into()),
            status: o.get_str("status").unwrap_or_else(|| "queued".into()),
            attempts: o.get_i64("attempts").unwrap_or(0),
            error: o.get_str("error"),
            next_attempt: o.get_i64("next_attempt"),
            sent_at: o.get_i64("sent_at"),
            message_id: o.get_str("message_id"),
            created_by: o.string("created_by"),
            created_at: o.get_i64("created_at").unwrap_or(0),
            id,
        }
    }
}
