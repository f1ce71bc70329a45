//! Record-level operations on one loaded document: create a contact, a
//! deal, an action, a quote line, accept a quote... Each validates every
//! input against the schema and the settings first, then writes field by
//! field. They run between `CrmDoc::begin` and `commit`; on error the caller
//! rolls back, so a refused input writes nothing.

use chrono::NaiveDate;

use crate::doc::value::{self, FieldValue, Vocab};
use crate::doc::{CrmDoc, NewRecord, Writer};
use crate::error::{CoreError, Result, ValidationError};
use crate::ids::{DocId, DocKind, RecordId};
use crate::index::DocRows;
use crate::model::{Catalog, Line, NewQuoteLine, Quote, Settings};
use crate::schema::{self, RecordKind};

/// What an operation may read besides the document.
pub struct EditCtx<'a> {
    pub writer: &'a Writer,
    pub settings: &'a Settings,
    pub catalog: &'a Catalog,
    pub vocab: Vocab,
    pub today: NaiveDate,
}

/// Raw inputs for one record: field name and the text the user typed.
pub type RawFields<'a> = [(&'a str, String)];

fn parse_all(
    kind: RecordKind,
    raw: &RawFields<'_>,
    vocab: &Vocab,
) -> Result<Vec<(&'static str, FieldValue)>> {
    let mut out = Vec::with_capacity(raw.len());
    for (name, text) in raw {
        let spec = kind
            .fields()
            .iter()
            .find(|s| s.name == *name)
            .ok_or_else(|| ValidationError::UnknownField {
                path: name.to_string(),
                what: format!("a {}", kind.name()),
            })?;
        // Creation may set fields that are read-only afterwards.
        let mut writable = *spec;
        writable.editable = true;
        out.push((spec.name, value::parse(Some(&writable), text, vocab)?));
    }
    Ok(out)
}

fn with_default(raw: &mut Vec<(&str, String)>, field: &'static str, value: impl Into<String>) {
    if !raw.iter().any(|(k, v)| *k == field && !v.trim().is_empty()) {
        raw.retain(|(k, _)| *k != field);
        raw.push((field, value.into()));
    }
}

fn created(ctx: &EditCtx<'_>) -> (&'static str, String) {
    ("created_at", ctx.writer.now.to_string())
}

/// The fields a new customer file's account starts with: `raw` validated,
/// with the defaults (kind, status, owner) and the creation stamps.
pub fn account_fields(
    ctx: &EditCtx<'_>,
    raw: &RawFields<'_>,
) -> Result<Vec<(&'static str, FieldValue)>> {
    let mut raw = raw.to_vec();
    with_default(&mut raw, "kind", "company");
    with_default(&mut raw, "status", "prospect");
    with_default(&mut raw, "owner", ctx.writer.user.clone());
    raw.push(created(ctx));
    raw.push(("created_by", ctx.writer.user.clone()));
    let fields = parse_all(RecordKind::Account, &raw, &ctx.vocab)?;
    if !fields.iter().any(|(k, _)| *k == "name") {
        return Err(ValidationError::Empty {
            field: "name".into(),
        }
        .into());
    }
    Ok(fields)
}

/// A new customer file `id` with its contacts, validated whole, built as
/// one tree and committed as one change by `ctx.writer`; with its rows,
/// read off that tree. How every import writes a file, on a device and on
/// the server.
pub fn new_account(
    ctx: &EditCtx<'_>,
    id: DocId,
    raw: &RawFields<'_>,
    contacts: &[Vec<(&str, String)>],
) -> Result<(CrmDoc, DocRows)> {
    let first = account_fields(ctx, raw)?;
    let records = contacts
        .iter()
        .map(|c| {
            Ok(NewRecord {
                container: "contacts",
                id: RecordId::new().to_string(),
                kind: RecordKind::Contact,
                fields: contact_fields(ctx, c)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let (mut doc, tree) = CrmDoc::create_open(id, DocKind::Account, ctx.writer, &first, &records)?;
    doc.commit(ctx.writer);
    let rows = DocRows::of_tree(&mut doc, Some(&tree))?;
    Ok((doc, rows))
}

/// Fills the account of a fresh account document with `account_fields`.
pub fn init_account(doc: &mut CrmDoc, ctx: &EditCtx<'_>, raw: &RawFields<'_>) -> Result<()> {
    for (k, v) in &account_fields(ctx, raw)? {
        let path = schema::FieldPath {
            parent: vec!["account".into()],
            key: k.to_string(),
            record: RecordKind::Account,
            spec: RecordKind::Account.field(k),
        };
        doc.put_field(&path, v)?;
    }
    Ok(())
}

/// Sets one field from user text, at a path like `account/city` or
/// `deals/<id>/stage`.
pub fn set_field(doc: &mut CrmDoc, ctx: &EditCtx<'_>, path: &str, raw: &str) -> Result<()> {
    // A quote becomes "sent" only with its legal mentions (`send_quote`),
    // whichever way the status is written.
    if let ["quotes", quote, "status"] = path.split('/').collect::<Vec<_>>()[..] {
        if raw.trim() == "sent" && read_quote(doc, quote)?.status != "sent" {
            return send_quote(doc, ctx, quote);
        }
    }
    put_field(doc, ctx, path, raw)?;
    // Typing a key field is confirming it; a corrected address or email is
    // no longer the one mail came back from.
    let today = ctx.today.format("%Y-%m-%d").to_string();
    match path.split('/').collect::<Vec<_>>()[..] {
        ["account", "address_line1" | "address_line2" | "postcode" | "city" | "country"] => {
            put_field(doc, ctx, "account/verified_address", &today)?;
            put_field(doc, ctx, "account/returned_mail", "false")?;
        }
        ["account", "phone"] => put_field(doc, ctx, "account/verified_phone", &today)?,
        ["account", "email"] => {
            put_field(doc, ctx, "account/verified_email", &today)?;
            put_field(doc, ctx, "account/email_bounced", "false")?;
        }
        ["contacts", contact, "role"] => put_field(
            doc,
            ctx,
            &format!("contacts/{contact}/verified_role"),
            &today,
        )?,
        _ => {}
    }
    Ok(())
}

/// Key fields a rep confirms during a visit ("toujours exact").
pub const VERIFIABLE: &[&str] = &["address", "phone", "email", "roles"];

/// Records that `fields` (of `VERIFIABLE`; all of them when empty) of the
/// customer file were checked today: `roles` confirms every contact's role.
pub fn verify(doc: &mut CrmDoc, ctx: &EditCtx<'_>, fields: &[String]) -> Result<()> {
    let all: Vec<String> = VERIFIABLE.iter().map(|s| s.to_string()).collect();
    let fields = if fields.is_empty() { &all[..] } else { fields };
    let today = ctx.today.format("%Y-%m-%d").to_string();
    for f in fields {
        match f.trim() {
            f @ ("address" | "phone" | "email") => {
                put_field(doc, ctx, &format!("account/verified_{f}"), &today)?
            }
            "roles" | "role" => {
                for c in doc.record_ids("contacts") {
                    put_field(doc, ctx, &format!("contacts/{c}/verified_role"), &today)?;
                }
            }
            other => {
                return Err(ValidationError::NotAllowed {
                    field: "field".into(),
                    value: other.to_string(),
                    allowed: VERIFIABLE.join(", "),
                }
                .into())
            }
        }
    }
    Ok(())
}

/// `set_field` without the rules of particular fields.
fn put_field(doc: &mut CrmDoc, ctx: &EditCtx<'_>, path: &str, raw: &str) -> Result<()> {
    let p = schema::resolve(doc.kind(), path)?;
    let v = value::parse(p.spec, raw, &ctx.vocab)?;
    if doc.map_at(&p.parent).is_none() {
        return Err(ValidationError::UnknownField {
            path: path.to_string(),
            what: "this document (no such record)".into(),
        }
        .into());
    }
    doc.put_field(&p, &v)
}

fn add_record(
    doc: &mut CrmDoc,
    ctx: &EditCtx<'_>,
    container: &[&str],
    kind: RecordKind,
    raw: &RawFields<'_>,
) -> Result<RecordId> {
    let fields = parse_all(kind, raw, &ctx.vocab)?;
    let id = RecordId::new();
    doc.create_record(container, &id.to_string(), kind, &fields)?;
    Ok(id)
}

fn require_record(doc: &CrmDoc, container: &str, id: &str, what: &str) -> Result<()> {
    if doc.record(&[container], id).is_none() {
        return Err(
            ValidationError::Rule(format!("{what} {id} is not in this customer file")).into(),
        );
    }
    Ok(())
}

/// A new contact's fields: `raw` validated, with the creation stamp.
pub fn contact_fields(
    ctx: &EditCtx<'_>,
    raw: &RawFields<'_>,
) -> Result<Vec<(&'static str, FieldValue)>> {
    let mut raw = raw.to_vec();
    raw.push(created(ctx));
    parse_all(RecordKind::Contact, &raw, &ctx.vocab)
}

pub fn add_contact(doc: &mut CrmDoc, ctx: &EditCtx<'_>, raw: &RawFields<'_>) -> Result<RecordId> {
    let fields = contact_fields(ctx, raw)?;
    let id = RecordId::new();
    doc.create_record(&["contacts"], &id.to_string(), RecordKind::Contact, &fields)?;
    Ok(id)
}

pub fn add_deal(doc: &mut CrmDoc, ctx: &EditCtx<'_>, raw: &RawFields<'_>) -> Result<RecordId> {
    let mut raw = raw.to_vec();
    if let Some(stage) = ctx.settings.first_open_stage() {
        with_default(&mut raw, "stage", stage.code.clone());
    }
    with_default(&mut raw, "currency", ctx.settings.currency.clone());
    with_default(&mut raw, "owner", ctx.writer.user.clone());
    raw.push(created(ctx));
    if let Some((_, c)) = raw.iter().find(|(k, _)| *k == "contact") {
        require_record(doc, "contacts", c.trim(), "contact")?;
    }
    add_record(doc, ctx, &["deals"], RecordKind::Deal, &raw)
}

pub fn add_action(doc: &mut CrmDoc, ctx: &EditCtx<'_>, raw: &RawFields<'_>) -> Result<RecordId> {
    let mut raw = raw.to_vec();
    with_default(&mut raw, "assignee", ctx.writer.user.clone());
    raw.push(created(ctx));
    raw.push(("created_by", ctx.writer.user.clone()));
    for (field, container) in [("deal", "deals"), ("contact", "contacts")] {
        if let Some((_, r)) = raw
            .iter()
            .find(|(k, v)| *k == field && !v.trim().is_empty())
        {
            require_record(doc, container, r.trim(), field)?;
        }
    }
    add_record(doc, ctx, &["actions"], RecordKind::Action, &raw)
}

/// Marks an action done on `on`, with an optional outcome ("compte rendu").
pub fn complete_action(
    doc: &mut CrmDoc,
    ctx: &EditCtx<'_>,
    action: &str,
    outcome: Option<&str>,
    on: NaiveDate,
) -> Result<()> {
    require_record(doc, "actions", action, "action")?;
    set_field(
        doc,
        ctx,
        &format!("actions/{action}/done_on"),
        &on.format("%Y-%m-%d").to_string(),
    )?;
    if let Some(o) = outcome {
        set_field(doc, ctx, &format!("actions/{action}/outcome"), o)?;
    }
    Ok(())
}

pub fn add_note(doc: &mut CrmDoc, ctx: &EditCtx<'_>, body: &str) -> Result<RecordId> {
    if body.trim().is_empty() {
        return Err(ValidationError::Empty {
            field: "body".into(),
        }
        .into());
    }
    let raw = [
        ("body", body.to_string()),
        ("author", ctx.writer.user.clone()),
        created(ctx),
    ];
    add_record(doc, ctx, &["notes"], RecordKind::Note, &raw)
}

pub fn create_quote(
    doc: &mut CrmDoc,
    ctx: &EditCtx<'_>,
    provisional_number: &str,
    raw: &RawFields<'_>,
) -> Result<RecordId> {
    let mut raw = raw.to_vec();
    with_default(&mut raw, "status", "draft");
    with_default(&mut raw, "date", ctx.today.format("%Y-%m-%d").to_string());
    with_default(
        &mut raw,
        "valid_until",
        (ctx.today + chrono::Duration::days(30))
            .format("%Y-%m-%d")
            .to_string(),
    );
    with_default(&mut raw, "currency", ctx.settings.currency.clone());
    raw.push(("provisional_number", provisional_number.to_string()));
    raw.push(("owner", ctx.writer.user.clone()));
    raw.push(created(ctx));
    if let Some((_, d)) = raw
        .iter()
        .find(|(k, v)| *k == "deal" && !v.trim().is_empty())
    {
        require_record(doc, "deals", d.trim(), "deal")?;
    }
    add_record(doc, ctx, &["quotes"], RecordKind::Quote, &raw)
}

pub fn add_quote_line(
    doc: &mut CrmDoc,
    ctx: &EditCtx<'_>,
    quote: &str,
    line: &NewQuoteLine,
) -> Result<RecordId> {
    let q = read_quote(doc, quote)?;
    if !matches!(q.status.as_str(), "draft" | "sent") {
        return Err(ValidationError::Rule(format!(
            "quote {} is {}: lines can only change on a draft or sent quote",
            q.number, q.status
        ))
        .into());
    }
    let mut raw: Vec<(&str, String)> = vec![("qty", line.qty.clone())];
    if let Some(key) = &line.product {
        let p = ctx
            .catalog
            .find(key)
            .ok_or_else(|| ValidationError::Rule(format!("no product {key:?} in the catalog")))?;
        raw.push(("product", p.id.clone()));
        raw.push((
            "label",
            line.label.clone().unwrap_or_else(|| p.name.clone()),
        ));
        raw.push((
            "unit_price",
            line.unit_price
                .clone()
                .unwrap_or_else(|| crate::money::format_cents(p.unit_price)),
        ));
        raw.push((
            "vat_rate",
            line.vat_rate
                .clone()
                .unwrap_or_else(|| p.vat_rate.to_string()),
        ));
    } else {
        raw.push(("label", line.label.clone().unwrap_or_default()));
        raw.push(("unit_price", line.unit_price.clone().unwrap_or_default()));
        raw.push((
            "vat_rate",
            line.vat_rate.clone().unwrap_or_else(|| "20".into()),
        ));
    }
    if let Some(d) = &line.discount {
        raw.push(("discount", d.clone()));
    }
    let next = q.lines.iter().map(|l| l.position).max().unwrap_or(0) + 1;
    raw.push(("position", next.to_string()));
    add_record(
        doc,
        ctx,
        &["quotes", quote, "lines"],
        RecordKind::QuoteLine,
        &raw,
    )
}

pub fn read_quote(doc: &CrmDoc, quote: &str) -> Result<Quote> {
    let o = doc.record(&["quotes"], quote).ok_or_else(|| {
        ValidationError::Rule(format!("quote {quote} is not in this customer file"))
    })?;
    Ok(Quote::read(
        crate::model::Rec(&doc.hydrated_obj(&o)),
        quote.to_string(),
    ))
}

/// A quote of this customer file and the file's account (what the legal
/// check and the PDF read).
pub fn quote_and_account(doc: &CrmDoc, quote: &str) -> Result<(Quote, crate::model::Account)> {
    Ok((read_quote(doc, quote)?, crate::model::Account::read(doc)?))
}

/// Revises a quote: a new draft with the same lines and terms, linked to
/// the one it replaces (`revises`, `revision` one more), which becomes
/// `superseded` and stays readable. An accepted or already superseded quote
/// is not revised. The revision gets its own number from the server.
pub fn revise_quote(
    doc: &mut CrmDoc,
    ctx: &EditCtx<'_>,
    quote: &str,
    provisional_number: &str,
) -> Result<RecordId> {
    let q = read_quote(doc, quote)?;
    if matches!(q.status.as_str(), "accepted" | "superseded") {
        return Err(ValidationError::Rule(format!(
            "quote {} is {} and cannot be revised",
            q.number, q.status
        ))
        .into());
    }
    let day = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    let mut raw = vec![
        ("revises", quote.to_string()),
        ("revision", (q.revision + 1).to_string()),
        ("currency", q.currency.clone()),
    ];
    for (k, v) in [
        ("deal", q.deal.clone()),
        ("contact", q.contact.clone()),
        ("terms", Some(q.terms.clone())),
        ("payment_terms", Some(q.payment_terms.clone())),
        ("delivery_terms", Some(q.delivery_terms.clone())),
        ("notes", Some(q.notes.clone())),
    ] {
        if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
            raw.push((k, v));
        }
    }
    // A validity as long as the original's, from today.
    if let (Some(from), Some(to)) = (q.date, q.valid_until) {
        raw.push(("valid_until", day(ctx.today + (to - from))));
    }
    let new = create_quote(doc, ctx, provisional_number, &raw)?;
    let new_s = new.to_string();
    for l in &q.lines {
        add_record(
            doc,
            ctx,
            &["quotes", &new_s, "lines"],
            RecordKind::QuoteLine,
            &line_fields(l),
        )?;
    }
    put_field(doc, ctx, &format!("quotes/{quote}/status"), "superseded")?;
    Ok(new)
}

/// Accepts a quote and turns it into an order with the same lines.
pub fn accept_quote(
    doc: &mut CrmDoc,
    ctx: &EditCtx<'_>,
    quote: &str,
    provisional_number: &str,
) -> Result<RecordId> {
    let q = read_quote(doc, quote)?;
    if !matches!(q.status.as_str(), "draft" | "sent" | "accepted") {
        return Err(ValidationError::Rule(format!(
            "quote {} is {} and cannot be accepted",
            q.number, q.status
        ))
        .into());
    }
    if q.lines.is_empty() {
        return Err(ValidationError::Rule(format!("quote {} has no lines", q.number)).into());
    }
    let already = doc
        .records(&["orders"])
        .into_iter()
        .any(|(_, o)| doc.get_str(&o, "quote").as_deref() == Some(quote));
    if already {
        return Err(
            ValidationError::Rule(format!("quote {} already has an order", q.number)).into(),
        );
    }
    set_field(doc, ctx, &format!("quotes/{quote}/status"), "accepted")?;
    let raw = [
        ("status", "confirmed".to_string()),
        ("quote", quote.to_string()),
        ("date", ctx.today.format("%Y-%m-%d").to_string()),
        ("currency", q.currency.clone()),
        ("provisional_number", provisional_number.to_string()),
        (
            "owner",
            if q.owner.is_empty() {
                ctx.writer.user.clone()
            } else {
                q.owner.clone()
            },
        ),
        created(ctx),
    ];
    let order = add_record(doc, ctx, &["orders"], RecordKind::Order, &raw)?;
    let order_s = order.to_string();
    for l in &q.lines {
        copy_line(doc, ctx, &order_s, l)?;
    }
    // The deal the quote answered is won, for the order's amount.
    if let Some(deal) = q.deal.as_deref().filter(|d| !d.trim().is_empty()) {
        let won = ctx
            .settings
            .stages
            .iter()
            .find(|s| s.outcome == crate::model::StageOutcome::Won);
        if let (Some(won), Some(_)) = (won, doc.record(&["deals"], deal)) {
            set_field(doc, ctx, &format!("deals/{deal}/stage"), &won.code)?;
            set_field(
                doc,
                ctx,
                &format!("deals/{deal}/amount"),
                &crate::money::format_cents(q.totals.net),
            )?;
        }
    }
    Ok(order)
}

/// Sends a quote: every legal mention must be there (`crate::legal`),
/// else nothing changes and the refusal lists what lacks. A draft or an
/// already sent quote (sent again) may be sent.
pub fn send_quote(doc: &mut CrmDoc, ctx: &EditCtx<'_>, quote: &str) -> Result<()> {
    let q = read_quote(doc, quote)?;
    if !matches!(q.status.as_str(), "draft" | "sent") {
        return Err(ValidationError::Rule(format!(
            "quote {} is {} and cannot be sent",
            q.number, q.status
        ))
        .into());
    }
    crate::legal::check(ctx.settings, &crate::model::Account::read(doc)?, &q)?;
    put_field(doc, ctx, &format!("quotes/{quote}/status"), "sent")
}

/// What to write into the outbox: a quote (sent as a PDF) or a plain
/// message.
pub struct NewEmail<'a> {
    pub to: &'a str,
    /// Empty: the quote's subject (`mail::quote_subject`).
    pub subject: &'a str,
    pub message: &'a str,
    pub quote: Option<&'a str>,
    /// Library documents to attach: their blobs (SHA-256).
    pub attachments: &'a [String],
    pub lang: crate::text::Lang,
}

/// Library documents one message may carry.
pub const MAX_ATTACHMENTS: usize = 5;

/// Queues a message in this customer file's outbox; the server sends it
/// once the document reaches it. A quote is sent first (`send_quote`: every
/// legal mention, else nothing is written). A recipient who refused
/// prospecting email is refused here, with who and why.
pub fn queue_email(doc: &mut CrmDoc, ctx: &EditCtx<'_>, mail: &NewEmail<'_>) -> Result<RecordId> {
    use crate::text::Lang;
    let to = crate::validate::email("to", mail.to.trim())?;
    let file = crate::model::AccountFile::read(doc)?;
    if let Some(who) = crate::mail::refusal(&file, &to) {
        return Err(ValidationError::OptedOut { to, who }.into());
    }
    let quote = match mail.quote {
        Some(id) => {
            send_quote(doc, ctx, id)?;
            Some(read_quote(doc, id)?)
        }
        None => None,
    };
    let subject = mail.subject.trim().to_string();
    if subject.is_empty() && quote.is_none() {
        return Err(ValidationError::Empty {
            field: "subject".into(),
        }
        .into());
    }
    if subject.chars().count() > crate::mail::MAX_SUBJECT || subject.chars().any(char::is_control) {
        return Err(ValidationError::Rule(format!(
            "subject: at most {} characters on one line",
            crate::mail::MAX_SUBJECT
        ))
        .into());
    }
    if mail.message.chars().count() > crate::mail::MAX_MESSAGE {
        return Err(ValidationError::Rule(format!(
            "message: at most {} characters",
            crate::mail::MAX_MESSAGE
        ))
        .into());
    }
    let lang = match mail.lang {
        Lang::Fr => "fr",
        Lang::En => "en",
    };
    let mut fields = vec![
        ("to", FieldValue::Str(to)),
        ("message", FieldValue::Text(mail.message.to_string())),
        ("lang", FieldValue::Str(lang.into())),
        ("status", FieldValue::Str("queued".into())),
        ("created_by", FieldValue::Str(ctx.writer.user.clone())),
        ("created_at", FieldValue::Int(ctx.writer.now)),
    ];
    if !subject.is_empty() {
        fields.push(("subject", FieldValue::Str(subject)));
    }
    if mail.attachments.len() > MAX_ATTACHMENTS
        || !mail
            .attachments
            .iter()
            .all(|a| crate::model::library::is_sha256(a))
    {
        return Err(ValidationError::Rule(format!(
            "attachments: at most {MAX_ATTACHMENTS} library documents"
        ))
        .into());
    }
    if !mail.attachments.is_empty() {
        fields.push(("attachments", FieldValue::Tags(mail.attachments.to_vec())));
    }
    if let Some(q) = mail.quote {
        fields.push(("quote", FieldValue::Str(q.to_string())));
    }
    let id = RecordId::new();
    doc.create_record(&["emails"], &id.to_string(), RecordKind::Email, &fields)?;
    Ok(id)
}

/// What became of one attempt to send an outbox message.
#[derive(Clone, Debug, PartialEq)]
pub enum Sending {
    /// The mail server accepted it.
    Sent { at: i64, message_id: String },
    /// This attempt failed; the mailer tries again at `next_attempt`.
    Retry {
        attempts: i64,
        error: String,
        next_attempt: i64,
    },
    /// Not sent, for good (attempts exhausted, a refusal of the recipient).
    Failed { attempts: i64, error: String },
}

/// Records what became of an outbox message: the server's mailer only
/// (these fields are read-only to users, `schema::RecordKind::Email`).
pub fn record_sending(doc: &mut CrmDoc, email: &str, outcome: &Sending) -> Result<()> {
    if doc.record(&["emails"], email).is_none() {
        return Err(ValidationError::Rule(format!("message {email} is not in this file")).into());
    }
    let mut put = |field: &str, v: FieldValue| -> Result<()> {
        doc.put_field(
            &schema::resolve(doc.kind(), &format!("emails/{email}/{field}"))?,
            &v,
        )
    };
    let short = |s: &str| s.chars().take(500).collect::<String>();
    match outcome {
        Sending::Sent { at, message_id } => {
            put("status", FieldValue::Str("sent".into()))?;
            put("sent_at", FieldValue::Int(*at))?;
            put("message_id", FieldValue::Str(message_id.clone()))?;
            put("next_attempt", FieldValue::Clear)?;
        }
        Sending::Retry {
            attempts,
            error,
            next_attempt,
        } => {
            put("attempts", FieldValue::Int(*attempts))?;
            put("error", FieldValue::Str(short(error)))?;
            put("next_attempt", FieldValue::Int(*next_attempt))?;
        }
        Sending::Failed { attempts, error } => {
            put("status", FieldValue::Str("failed".into()))?;
            put("attempts", FieldValue::Int(*attempts))?;
            put("error", FieldValue::Str(short(error)))?;
            put("next_attempt", FieldValue::Clear)?;
        }
    }
    Ok(())
}

/// A line's fields as text, to copy it (into an order, a revision).
fn line_fields(l: &Line) -> Vec<(&'static str, String)> {
    let mut raw = vec![
        ("position", l.position.to_string()),
        ("label", l.label.clone()),
        ("qty", l.qty.to_string()),
        ("unit_price", crate::money::format_cents(l.unit_price)),
        ("discount", l.discount.to_string()),
        ("vat_rate", l.vat_rate.to_string()),
    ];
    if let Some(p) = &l.product {
        raw.push(("product", p.clone()));
    }
    raw
}

fn copy_line(doc: &mut CrmDoc, ctx: &EditCtx<'_>, order: &str, l: &Line) -> Result<()> {
    let fields = parse_all(RecordKind::OrderLine, &line_fields(l), &ctx.vocab)?;
    doc.create_record(
        &["orders", order, "lines"],
        &l.id,
        RecordKind::OrderLine,
        &fields,
    )
    .map(|_| ())
    .map_err(|e: CoreError| e)
}

/// Fills a fresh plan document: whose plan it is, in which currency.
pub fn init_plan(doc: &mut CrmDoc, user: &str, currency: &str) -> Result<()> {
    use automerge::transaction::Transactable;
    let obj = doc.map_at(&["plan"]).ok_or_else(|| CoreError::CorruptDoc {
        doc: doc.id(),
        reason: "no plan map".into(),
    })?;
    doc.automerge().put(&obj, "user", user)?;
    doc.automerge().put(&obj, "currency", currency)?;
    Ok(())
}

/// Sets the target stored under `key` in a plan (`2026-11` for orders,
/// `visits:2026-11`, … see `reports::Indicator::target_key`) to `value`
/// (cents, a count, or hundredths of a percent).
pub fn set_target(doc: &mut CrmDoc, key: &str, value: i64) -> Result<()> {
    if key.is_empty() || key.len() > 64 || key.contains('/') {
        return Err(ValidationError::Rule(format!("bad target key {key:?}")).into());
    }
    match doc.record(&["targets"], key) {
        Some(_) => doc.put_field(
            &schema::resolve(crate::DocKind::Plan, &format!("targets/{key}/amount"))?,
            &FieldValue::Int(value),
        ),
        None => doc
            .create_record(
                &["targets"],
                key,
                RecordKind::Target,
                &[("amount", FieldValue::Int(value))],
            )
            .map(|_| ()),
    }
}

/// Replaces a plan's commission tiers: (from % of target, rate %).
pub fn set_tiers(doc: &mut CrmDoc, ctx: &EditCtx<'_>, tiers: &[(String, String)]) -> Result<()> {
    let d = doc;
    let mut parsed = Vec::new();
    for (from, rate) in tiers {
        let f = value::parse(
            RecordKind::CommissionTier.field("from_pct"),
            from,
            &ctx.vocab,
        )?;
        let r = value::parse(RecordKind::CommissionTier.field("rate"), rate, &ctx.vocab)?;
        parsed.push([("from_pct", f), ("rate", r)]);
    }
    for (id, _) in d.records(&["tiers"]) {
        d.delete_record(&["tiers"], &id)?;
    }
    for fields in parsed {
        d.create_record(
            &["tiers"],
            &RecordId::new().to_string(),
            RecordKind::CommissionTier,
            &fields,
        )?;
    }
    Ok(())
}
