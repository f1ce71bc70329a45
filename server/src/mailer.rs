//! The outbox's sender ("envoi des e-mails"). Users write messages into a
//! customer file's outbox on their device, offline too (`ops::queue_email`);
//! once the file reaches the server, this task sends each queued message
//! over SMTP (lettre, rustls; STARTTLS, TLS or plain as configured), a
//! quote with its PDF attached (made here with `carnet_core::pdf`, as the
//! device would), and records what became of it back into the file as the
//! server (`ops::record_sending`): sent with the time and Message-ID, or an
//! attempt that failed and when the next one is, then failed for good.
//! Devices see the record by the ordinary sync.
//!
//! A message is never lost and never sent twice with two ids: it stays
//! `queued` in the stored document until its record is durable, and its
//! Message-ID comes from its record id (`mail::message_id`), so a server
//! killed between the mail server's acceptance and the record sends it
//! again, on restart, with the same Message-ID — once more, not a third
//! time. The mail server's credentials live in `DATA/mail.json`, readable
//! by the server's user only; they are never in a document, so never on a
//! device.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use carnet_core::mail;
use carnet_core::model::AccountFile;
use carnet_core::ops::{self, Sending};
use carnet_core::text::Lang;
use carnet_core::{DocId, DocKind};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};

use crate::tenant::{Event, Tenant};

/// The file, in the data directory, that holds the mail server's settings.
pub const CONFIG_FILE: &str = "mail.json";
const MAX_CONFIG_BYTES: u64 = 64 * 1024;

/// How the connection to the mail server is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same machine or network.
    None,
}

impl std::str::FromStr for Security {
    type Err = String;
    fn from_str(s: &str) -> Result<Security, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "starttls" => Ok(Security::Starttls),
            "tls" | "smtps" => Ok(Security::Tls),
            "none" | "plain" => Ok(Security::None),
            other => Err(format!(
                "unknown security {other:?} (starttls, tls or none)"
            )),
        }
    }
}

/// The mail server and the sending rules (`DATA/mail.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailConfig {
    pub host: String,
    pub port: u16,
    pub security: Security,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// The sender: `Démo Carnet <devis@demo.example>`. Replies go to the
    /// rep who wrote the message (Reply-To).
    pub from: String,
    /// Attempts before a message is marked failed for good.
    #[serde(default = "default_attempts")]
    pub max_attempts: i64,
    /// The wait after the first failed attempt; it doubles after each.
    #[serde(default = "default_retry")]
    pub retry_secs: u64,
    /// Messages sent at once (connections to the mail server).
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Longest wait for the mail server, per message.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// A certificate authority (PEM) trusted besides the usual roots: a
    /// company relay whose certificate a private CA signed.
    #[serde(default)]
    pub ca_pem: Option<String>,
}

/// Largest `ca_pem` accepted.
const MAX_CA_BYTES: usize = 32 * 1024;

fn default_attempts() -> i64 {
    5
}
fn default_retry() -> u64 {
    60
}
fn default_concurrency() -> usize {
    4
}
fn default_timeout() -> u64 {
    30
}

impl MailConfig {
    pub fn new(host: &str, port: u16, security: Security, from: &str) -> MailConfig {
        MailConfig {
            host: host.trim().to_string(),
            port,
            security,
            username: None,
            password: None,
            from: from.trim().to_string(),
            max_attempts: default_attempts(),
            retry_secs: default_retry(),
            concurrency: default_concurrency(),
            timeout_secs: default_timeout(),
            ca_pem: None,
        }
    }

    pub fn path(data: &Path) -> PathBuf {
        data.join(CONFIG_FILE)
    }

    /// The settings in `data`, if the mail server was configured.
    pub fn load(data: &Path) -> anyhow::Result<Option<MailConfig>> {
        use std::io::Read;
        let path = MailConfig::path(data);
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(anyhow::anyhow!("{}: {e}", path.display())),
        };
        let mut bytes = Vec::new();
        file.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > MAX_CONFIG_BYTES {
            anyhow::bail!("{}: larger than {MAX_CONFIG_BYTES} bytes", path.display());
        }
        let cfg: MailConfig = serde_json::from_slice(&bytes)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        cfg.validate()
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(Some(cfg))
    }

    /// Writes the settings, readable by the server's user only.
    pub fn save(&self, data: &Path) -> anyhow::Result<()> {
        self.validate().map_err(anyhow::Error::msg)?;
        crate::admin::write_private(&MailConfig::path(data), &serde_json::to_vec_pretty(self)?)?;
        Ok(())
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.host.is_empty() || self.host.len() > 253 {
            return Err("host: a mail server name is needed".into());
        }
        self.from
            .parse::<Mailbox>()
            .map_err(|e| format!("from: {:?} is not an address ({e})", self.from))?;
        if !(1..=50).contains(&self.max_attempts) {
            return Err("max_attempts: between 1 and 50".into());
        }
        if !(1..=86_400).contains(&self.retry_secs) {
            return Err("retry_secs: between 1 and 86400".into());
        }
        if !(1..=32).contains(&self.concurrency) {
            return Err("concurrency: between 1 and 32".into());
        }
        if !(1..=600).contains(&self.timeout_secs) {
            return Err("timeout_secs: between 1 and 600".into());
        }
        if self.username.is_some() != self.password.is_some() {
            return Err("username and password go together".into());
        }
        if let Some(pem) = &self.ca_pem {
            if pem.len() > MAX_CA_BYTES {
                return Err(format!("ca: larger than {MAX_CA_BYTES} bytes"));
            }
            Certificate::from_pem(pem.as_bytes())
                .map_err(|e| format!("ca: not a PEM certificate ({e})"))?;
        }
        Ok(())
    }

    /// What `mail show` prints: everything but the password.
    pub fn redacted(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(p) = v.get_mut("password").filter(|p| !p.is_null()) {
            *p = serde_json::Value::String("********".into());
        }
        v
    }

    fn transport(&self) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
        // rustls, verifying the server's name against the usual roots and
        // the CA given, if any.
        let tls = || -> anyhow::Result<TlsParameters> {
            let mut b = TlsParameters::builder(self.host.clone());
            if let Some(pem) = &self.ca_pem {
                b = b.add_root_certificate(Certificate::from_pem(pem.as_bytes())?);
            }
            Ok(b.build_rustls()?)
        };
        let plain = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host);
        let builder = match self.security {
            Security::Starttls => plain.tls(Tls::Required(tls()?)),
            Security::Tls => plain.tls(Tls::Wrapper(tls()?)),
            Security::None => plain,
        };
        let mut builder = builder
            .port(self.port)
            .timeout(Some(Duration::from_secs(self.timeout_secs)))
            .pool_config(PoolConfig::new().max_size(self.concurrency as u32));
        if let (Some(u), Some(p)) = (&self.username, &self.password) {
            builder = builder.credentials(Credentials::new(u.clone(), p.clone()));
        }
        Ok(builder.build())
    }
}

/// One outbox message: the file it is in and its record id.
type Key = (DocId, String);

/// Queued messages by when they are due (Unix seconds).
#[derive(Default)]
struct Queue {
    due: BTreeSet<(i64, DocId, String)>,
    of: HashMap<Key, i64>,
    /// Messages whose outcome could not be recorded (the store refused
    /// the write): not tried again before this time, whatever the file
    /// says, so a full disk never turns into a stream of resends.
    hold: HashMap<Key, i64>,
}

impl Queue {
    fn put(&mut self, key: Key, at: i64) {
        let at = self.hold.get(&key).map_or(at, |h| at.max(*h));
        if let Some(old) = self.of.insert(key.clone(), at) {
            self.due.remove(&(old, key.0, key.1.clone()));
        }
        self.due.insert((at, key.0, key.1));
    }

    fn remove(&mut self, key: &Key) {
        if let Some(old) = self.of.remove(key) {
            self.due.remove(&(old, key.0, key.1.clone()));
        }
    }

    /// The file's queued messages as its index rows say now.
    fn refresh(&mut self, tenant: &Tenant, doc: DocId) {
        let stale: Vec<Key> = self.of.keys().filter(|k| k.0 == doc).cloned().collect();
        for k in stale {
            self.remove(&k);
        }
        if let Some(rows) = tenant.rows(doc) {
            for e in rows.emails.iter().filter(|e| e.status == "queued") {
                self.put((doc, e.id.clone()), e.next_attempt.unwrap_or(0));
            }
        }
    }

    fn refresh_all(&mut self, tenant: &Tenant) {
        self.due.clear();
        self.of.clear();
        tenant.for_each_row(|doc, rows| {
            for e in rows.emails.iter().filter(|e| e.status == "queued") {
                self.put((doc, e.id.clone()), e.next_attempt.unwrap_or(0));
            }
        });
    }

    fn first(&self) -> Option<(i64, Key)> {
        self.due.first().map(|(at, d, id)| (*at, (*d, id.clone())))
    }
}

/// The sender of one tenant's outbox.
pub struct Mailer {
    tenant: Arc<Tenant>,
    /// The data directory, whose `mail.json` is read again when it changes.
    data: PathBuf,
    /// The settings in force, `None` while no mail server is set.
    live: std::sync::RwLock<Option<Arc<Live>>>,
}

/// Mail settings in force, and the connection pool built from them.
struct Live {
    cfg: MailConfig,
    from: Mailbox,
    domain: String,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl Live {
    fn new(cfg: MailConfig) -> anyhow::Result<Live> {
        cfg.validate().map_err(anyhow::Error::msg)?;
        let from: Mailbox = cfg.from.parse()?;
        Ok(Live {
            domain: from.email.domain().to_string(),
            transport: cfg.transport()?,
            from,
            cfg,
        })
    }
}

/// How often `mail.json` is looked at: `mail set` takes effect within
/// this, without restarting the server.
const RELOAD_EVERY: Duration = Duration::from_secs(5);
/// Messages sent at once, at most (`MailConfig::concurrency` ≤ this).
const MAX_CONCURRENCY: usize = 32;

/// Starts sending the tenant's outbox with the settings in `data` (none
/// yet: messages wait, and the settings are picked up once `mail set`
/// writes them); the task runs until the tenant's events stop. Settings
/// that fail to load are logged and the previous ones stay in force.
pub fn spawn(tenant: Arc<Tenant>, data: &Path) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let live = MailConfig::load(data)?.map(Live::new).transpose()?;
    let mailer = Arc::new(Mailer {
        tenant,
        data: data.to_path_buf(),
        live: std::sync::RwLock::new(live.map(Arc::new)),
    });
    Ok(tokio::spawn(mailer.run()))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// What one message needs to leave.
struct Prepared {
    to: String,
    subject: String,
    body: String,
    reply_to: String,
    /// (file name, type, bytes): the quote's PDF, then library documents.
    attachments: Vec<(String, String, Vec<u8>)>,
    attempts: i64,
}

/// Library documents one message may carry, in bytes altogether.
pub const MAX_ATTACHED_BYTES: u64 = 20 * 1024 * 1024;

/// Why a message will never leave (recorded as failed at once).
struct Never(String);

impl Mailer {
    fn live(&self) -> Option<Arc<Live>> {
        self.live
            .read()
            .map(|l| l.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Reads `mail.json` again; true when the settings changed.
    async fn reload(&self) -> bool {
        let data = self.data.clone();
        let loaded = tokio::task::spawn_blocking(move || MailConfig::load(&data)).await;
        let cfg = match loaded {
            Ok(Ok(cfg)) => cfg,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "mail settings not reloaded; the previous ones stay");
                return false;
            }
            Err(_) => return false,
        };
        let current = self.live();
        if current.as_ref().map(|l| &l.cfg) == cfg.as_ref() {
            return false;
        }
        let next = match cfg.map(Live::new).transpose() {
            Ok(next) => next.map(Arc::new),
            Err(e) => {
                tracing::warn!(error = %e, "mail settings not reloaded; the previous ones stay");
                return false;
            }
        };
        match &next {
            Some(l) => tracing::info!(host = %l.cfg.host, "mail settings loaded"),
            None => tracing::info!("mail settings removed: messages wait in the outbox"),
        }
        match self.live.write() {
            Ok(mut w) => *w = next,
            Err(p) => *p.into_inner() = next,
        }
        true
    }

    async fn run(self: Arc<Self>) {
        let mut events = self.tenant.subscribe();
        let mut queue = Queue::default();
        queue.refresh_all(&self.tenant);
        let mut busy: HashSet<Key> = HashSet::new();
        let (done_tx, mut done_rx) = mpsc::channel::<(Key, bool)>(MAX_CONCURRENCY);
        let mut reload = tokio::time::interval(RELOAD_EVERY);
        reload.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tracing::info!(queued = queue.of.len(), "mailer started");
        loop {
            let t = now();
            let live = self.live();
            // No mail server set: nothing leaves; messages wait queued.
            let concurrency = live.as_ref().map_or(0, |l| l.cfg.concurrency);
            while busy.len() < concurrency {
                let Some((_, key)) = queue.first().filter(|(at, _)| *at <= t) else {
                    break;
                };
                // Out of the queue while it is being sent; when done, the
                // file's rows say whether it is still queued (and when).
                queue.remove(&key);
                if !busy.insert(key.clone()) {
                    continue;
                }
                let Some(l) = live.clone() else { break };
                let me = self.clone();
                let done = done_tx.clone();
                tokio::spawn(async move {
                    let recorded = me.attempt(&l, key.0, &key.1).await;
                    let _ = done.send((key, recorded)).await;
                });
            }
            let wait = match queue.first() {
                Some((at, _)) if busy.len() < concurrency => {
                    Duration::from_secs(at.saturating_sub(now()).clamp(0, 3600) as u64)
                }
                _ => Duration::from_secs(3600),
            };
            tokio::select! {
                ev = events.recv() => match ev {
                    Ok(Event::Doc { doc, kind: DocKind::Account, .. }) => {
                        queue.refresh(&self.tenant, doc);
                        for k in &busy {
                            queue.remove(k);
                        }
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        queue.refresh_all(&self.tenant);
                        for k in &busy {
                            queue.remove(k);
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = reload.tick() => {
                    self.reload().await;
                }
                Some((key, recorded)) = done_rx.recv() => {
                    busy.remove(&key);
                    if recorded {
                        queue.hold.remove(&key);
                    } else {
                        let retry = live.as_ref().map_or(60, |l| l.cfg.retry_secs);
                        let wait = retry.min(i64::MAX as u64) as i64;
                        queue.hold.insert(key.clone(), now().saturating_add(wait));
                    }
                    queue.refresh(&self.tenant, key.0);
                    for k in &busy {
                        queue.remove(k);
                    }
                }
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One attempt at one message, and its record; false when the record
    /// could not be written (the message stays queued in the file).
    async fn attempt(&self, live: &Live, doc: DocId, email: &str) -> bool {
        let outcome = match self.prepare(doc, email).await {
            Ok(None) => return true,
            Err(Never(reason)) => Sending::Failed {
                attempts: 0,
                error: reason,
            },
            Ok(Some(p)) => self.send(live, email, p).await,
        };
        match &outcome {
            Sending::Sent { message_id, .. } => {
                tracing::info!(%doc, email, message_id, "message sent")
            }
            Sending::Retry { error, .. } | Sending::Failed { error, .. } => {
                tracing::warn!(%doc, email, error, "message not sent")
            }
        }
        let recorded = self
            .tenant
            .edit_as_server(doc, DocKind::Account, |d| {
                ops::record_sending(d, email, &outcome)
            })
            .await;
        match recorded {
            Ok(_) => true,
            Err(e) => {
                // Still queued in the stored file: sent again later, with
                // the same Message-ID.
                tracing::error!(%doc, email, error = %e, "could not record a sending");
                false
            }
        }
    }

    /// Reads the message from its file, as it stands now: `None` when it is
    /// gone or no longer queued.
    async fn prepare(&self, doc: DocId, email: &str) -> Result<Option<Prepared>, Never> {
        let slot = self
            .tenant
            .slot(doc)
            .await
            .map_err(|e| Never(e.to_string()))?;
        let (file, quote) = {
            let mut slot = slot.lock().await;
            let Some(d) = slot.doc.as_mut() else {
                return Ok(None);
            };
            if d.kind() != DocKind::Account {
                return Ok(None);
            }
            let file = AccountFile::read(d).map_err(|e| Never(e.to_string()))?;
            let Some(e) = file.emails.iter().find(|e| e.id == email) else {
                return Ok(None);
            };
            let quote = match e.quote.as_deref() {
                Some(q) => Some(ops::read_quote(d, q).map_err(|e| Never(e.to_string()))?),
                None => None,
            };
            (file, quote)
        };
        let Some(e) = file.emails.iter().find(|e| e.id == email) else {
            return Ok(None);
        };
        if e.status != "queued" {
            return Ok(None);
        }
        let lang = e.lang.parse::<Lang>().unwrap_or_default();
        if let Some(who) = mail::refusal(&file, &e.to) {
            return Err(Never(
                carnet_core::ValidationError::OptedOut {
                    to: e.to.clone(),
                    who,
                }
                .message(lang),
            ));
        }
        let settings = self.tenant.edit_parts().settings.clone();
        let mut attachments = Vec::new();
        if let Some(q) = &quote {
            // The logo is read for a quote's PDF only.
            let head = self.tenant.heading().await;
            let (a, q2) = (file.account.clone(), q.clone());
            let pdf = self
                .tenant
                .on_cpu(move || carnet_core::pdf::quote(&head, &a, &q2, lang))
                .await
                .map_err(Never)?
                .map_err(|e| Never(e.to_string()))?;
            attachments.push((
                mail::quote_file_name(q, lang),
                "application/pdf".to_string(),
                pdf,
            ));
        }
        // Library documents: still meant for the author, and not too big
        // to carry (a message is built whole in memory).
        let mut total = 0u64;
        for sha in &e.attachments {
            let gone = || {
                Never(format!(
                    "library document {sha} is no longer available to {}",
                    e.created_by
                ))
            };
            let item = self
                .tenant
                .may_fetch(&e.created_by, sha)
                .await
                .ok_or_else(gone)?;
            total = total.saturating_add(item.size.max(0) as u64);
            if total > MAX_ATTACHED_BYTES {
                return Err(Never(format!(
                    "attachments larger than {} MB altogether",
                    MAX_ATTACHED_BYTES / (1024 * 1024)
                )));
            }
            let path = self.tenant.blobs.path(sha).ok_or_else(gone)?;
            let bytes = tokio::fs::read(&path).await.map_err(|_| gone())?;
            attachments.push((item.file_name.clone(), item.mime.clone(), bytes));
        }
        Ok(Some(Prepared {
            to: e.to.clone(),
            subject: e.subject.clone(),
            body: mail::body(&settings, &e.message, quote.as_ref(), lang),
            reply_to: e.created_by.clone(),
            attachments,
            attempts: e.attempts,
        }))
    }

    async fn send(&self, live: &Live, email: &str, p: Prepared) -> Sending {
        let message_id = mail::message_id(email, &live.domain);
        let attempts = p.attempts + 1;
        let failed = |error: String| {
            if attempts >= live.cfg.max_attempts {
                Sending::Failed { attempts, error }
            } else {
                Sending::Retry {
                    attempts,
                    error,
                    next_attempt: now()
                        + mail::backoff(attempts, live.cfg.retry_secs).min(i64::MAX as u64) as i64,
                }
            }
        };
        let message = match Mailer::build(live, &p, &message_id) {
            Ok(m) => m,
            Err(e) => return Sending::Failed { attempts, error: e },
        };
        let limit = Duration::from_secs(live.cfg.timeout_secs.saturating_mul(2));
        match tokio::time::timeout(limit, live.transport.send(message)).await {
            Ok(Ok(_)) => Sending::Sent {
                at: now(),
                message_id,
            },
            Ok(Err(e)) => failed(e.to_string()),
            Err(_) => failed("the mail server did not answer in time".into()),
        }
    }

    fn build(live: &Live, p: &Prepared, message_id: &str) -> Result<Message, String> {
        let to: Mailbox =
            p.to.parse()
                .map_err(|e| format!("{:?} is not an address: {e}", p.to))?;
        let mut b = Message::builder()
            .from(live.from.clone())
            .to(to)
            .subject(p.subject.clone())
            .message_id(Some(message_id.to_string()))
            .date_now()
            .user_agent("Carnet".into());
        if let Ok(r) = p.reply_to.parse::<Mailbox>() {
            b = b.reply_to(r);
        }
        let text = SinglePart::plain(p.body.clone());
        if p.attachments.is_empty() {
            return b.singlepart(text).map_err(|e| e.to_string());
        }
        let mut parts = MultiPart::mixed().singlepart(text);
        for (name, mime, bytes) in &p.attachments {
            let kind = ContentType::parse(mime)
                .or_else(|_| ContentType::parse("application/octet-stream"))
                .map_err(|e| e.to_string())?;
            parts = parts.singlepart(Attachment::new(name.clone()).body(bytes.clone(), kind));
        }
        b.multipart(parts).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> Key {
        (DocId::new(), format!("e{n}"))
    }

    #[test]
    fn the_queue_hands_out_the_earliest_and_holds_what_could_not_be_recorded() {
        let mut q = Queue::default();
        let (a, b) = (key(1), key(2));
        q.put(a.clone(), 50);
        q.put(b.clone(), 10);
        assert_eq!(q.first().map(|f| f.1), Some(b.clone()));
        // A new due time replaces the old one (no second entry).
        q.put(b.clone(), 70);
        assert_eq!(q.first(), Some((50, a.clone())));
        assert_eq!(q.due.len(), 2);
        q.remove(&a);
        assert_eq!(q.first(), Some((70, b.clone())));
        // Held (its record failed): not before the hold, even if the file
        // says it is due now.
        q.hold.insert(b.clone(), 500);
        q.put(b.clone(), 0);
        assert_eq!(q.first(), Some((500, b.clone())));
        q.hold.remove(&b);
        q.put(b.clone(), 0);
        assert_eq!(q.first(), Some((0, b)));
    }
}
