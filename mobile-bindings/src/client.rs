//! `CarnetClient`: everything the apps do, over one local store.
//!
//! Local reads and edits are synchronous and fast (the store is on the
//! device; an edit returns once flushed to disk): the Kotlin and Swift
//! wrappers run them off the UI thread. Network work (login, sync) is
//! async, on the client's own tokio runtime.

use std::path::PathBuf;
use std::sync::Arc;

use carnet_core::device::Device;
use carnet_core::ids::DocId;
use carnet_core::reports::Period;
use carnet_core::sync::driver::Control;
use carnet_core::sync::Replica;
use carnet_core::text::{with_detail, Label, Lang};
use chrono::NaiveDate;

use crate::error::{CarnetError, Result};
use crate::sync::{self, lock, Background, ChangeListener, Shared, SyncStatusListener};
use crate::types::*;

/// The apps' one entry point: a rep's store in an app directory, its sync
/// with the server, and listeners for screens.
#[derive(uniffi::Object)]
pub struct CarnetClient {
    dir: PathBuf,
    shared: Arc<Shared>,
    /// `None` only while dropping.
    rt: Option<tokio::runtime::Runtime>,
}

fn doc_id(id: &str) -> Result<DocId> {
    id.trim()
        .parse()
        .map_err(|_| CarnetError::not_found(&format!("document {id:?}")))
}

fn day(field: &str, text: &str) -> Result<NaiveDate> {
    Ok(carnet_core::validate::date(field, text)?)
}

fn parse_period(text: &str) -> Result<Period> {
    Ok(text.parse::<Period>()?)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("carnet-sync")
        .enable_all()
        .build()
        .map_err(|e| CarnetError::Storage {
            reason: with_detail(Label::SyncStartFailed, &e, Lang::En),
            reason_fr: with_detail(Label::SyncStartFailed, &e, Lang::Fr),
        })
}

impl CarnetClient {
    fn over(dir: PathBuf, device: Option<Device>) -> Result<Arc<Self>> {
        Ok(Arc::new(CarnetClient {
            dir,
            shared: Arc::new(Shared::new(device)),
            rt: Some(runtime()?),
        }))
    }

    fn rt(&self) -> &tokio::runtime::Runtime {
        // Set from construction until drop.
        self.rt.as_ref().expect("runtime present until drop")
    }

    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Device) -> Result<T>) -> Result<T> {
        self.shared.with(f)
    }

    /// An edit of one customer file: runs it, then tells listeners and the
    /// live sync session (outside the device lock).
    fn edit<T>(&self, doc: DocId, f: impl FnOnce(&mut Device) -> Result<T>) -> Result<T> {
        let out = self.with(f)?;
        self.shared.local_edit(doc);
        Ok(out)
    }

    fn record_doc(&self, record: &str) -> Result<DocId> {
        self.with(|d| Ok(d.account_of(record.trim())?))
    }

    /// Sets a field of a record found by id, then tells listeners.
    fn set_record(&self, record: &str, field: &str, value: &str) -> Result<()> {
        let doc = self.with(|d| Ok(d.set_record_field(record, field, value)?))?;
        self.shared.local_edit(doc);
        Ok(())
    }

    fn background_control(&self) -> Option<Arc<Control>> {
        self.shared.live_background()
    }
}

impl Drop for CarnetClient {
    fn drop(&mut self) {
        if let Some(c) = self.background_control() {
            c.request_stop();
        }
        // Safe from any thread, also a runtime thread (a listener dropping
        // the last reference): no blocking wait for the tasks.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
        // The tasks end on their own time; the store is released now.
        if let Err(e) = self.shared.release_device() {
            tracing::warn!(error = %e, "closing the store failed");
        }
    }
}

#[uniffi::export]
impl CarnetClient {
    /// Opens the store in `data_dir` (created when missing). A directory
    /// without a store gives a client that is not logged in: call `login`.
    #[uniffi::constructor]
    pub fn new(data_dir: String) -> Result<Arc<Self>> {
        let dir = PathBuf::from(&data_dir);
        let device = if Device::exists(&dir) {
            Some(Device::open(&dir)?)
        } else {
            None
        };
        CarnetClient::over(dir, device)
    }

    /// A store that never syncs (trial, demo): the user is its admin.
    #[uniffi::constructor]
    pub fn create_local(
        data_dir: String,
        user: String,
        name: Option<String>,
        company: String,
    ) -> Result<Arc<Self>> {
        let dir = PathBuf::from(&data_dir);
        let device = Device::init(&dir, &user, name.as_deref(), &company)?;
        CarnetClient::over(dir, Some(device))
    }

    pub fn is_logged_in(&self) -> bool {
        self.shared.has_device()
    }

    /// Exchanges the password for a device token and creates the store;
    /// the documents arrive with the first sync.
    pub async fn login(
        &self,
        server: String,
        email: String,
        password: String,
        device_name: String,
    ) -> Result<LoginInfo> {
        if self.shared.has_device() {
            return Err(CarnetError::storage(Label::AlreadyLoggedIn));
        }
        let dir = self.dir.clone();
        let device = self
            .rt()
            .spawn(
                async move { Device::login(&dir, &server, &email, &password, &device_name).await },
            )
            .await
            .map_err(CarnetError::network)??;
        let info = LoginInfo {
            user: device.identity().user.clone(),
            device: device.identity().device.to_string(),
        };
        self.shared.set_device(device);
        Ok(info)
    }

    pub fn me(&self) -> Result<Me> {
        self.with(|d| {
            let id = d.identity();
            Ok(Me {
                user: id.user.clone(),
                name: id.name.clone(),
                device: id.device.to_string(),
                company: d.settings().company_name.clone(),
                currency: d.settings().currency.clone(),
                server: d.remote()?.map(|r| r.url),
            })
        })
    }

    /// Fixes "now" (Unix seconds) for demos and tests; `None` is the clock.
    pub fn set_clock(&self, unix_seconds: Option<i64>) -> Result<()> {
        self.with(|d| {
            d.set_clock(unix_seconds);
            Ok(())
        })
    }

    // ----- settings -------------------------------------------------------

    pub fn stages(&self) -> Result<Vec<Stage>> {
        self.with(|d| {
            Ok(d.settings()
                .stages
                .iter()
                .map(|s| Stage {
                    code: s.code.clone(),
                    label: s.label.clone(),
                    probability: s.probability.to_string(),
                    outcome: s.outcome.to_string(),
                })
                .collect())
        })
    }

    pub fn action_types(&self) -> Result<Vec<ActionType>> {
        self.with(|d| {
            Ok(d.settings()
                .action_types
                .iter()
                .map(|(code, label)| ActionType {
                    code: code.clone(),
                    label: label.clone(),
                })
                .collect())
        })
    }

    pub fn vat_rates(&self) -> Result<Vec<String>> {
        self.with(|d| {
            Ok(d.settings()
                .vat_rates
                .iter()
                .map(|r| r.to_string())
                .collect())
        })
    }

    pub fn products(&self) -> Result<Vec<Product>> {
        self.with(|d| Ok(d.catalog().products.iter().map(Into::into).collect()))
    }

    // ----- customer files -------------------------------------------------

    /// Accounts whose name (or a contact's) matches; all when `query` is
    /// empty. Names starting with the query come first.
    pub fn search_accounts(&self, query: String, limit: u32) -> Result<Vec<AccountSummary>> {
        self.with(|d| {
            Ok(d.search(&query, limit as usize)
                .into_iter()
                .map(Into::into)
                .collect())
        })
    }

    pub fn account_file(&self, account_id: String) -> Result<AccountFile> {
        let id = doc_id(&account_id)?;
        self.with(|d| Ok(d.account_file(id)?.into()))
    }

    pub fn create_account(&self, account: NewAccount) -> Result<String> {
        let id = self.with(|d| Ok(d.create_account(&account.fields())?))?;
        self.shared.local_edit(id);
        Ok(id.to_string())
    }

    /// Files on this device that `account` would duplicate (same SIRET,
    /// SIREN, email, phone, or name and postcode), strongest reason first:
    /// what to warn about before `create_account`, offline too.
    pub fn duplicates_of(&self, account: NewAccount) -> Result<Vec<DuplicateHit>> {
        self.with(|d| {
            Ok(d.duplicates_of(&account.fields())
                .into_iter()
                .map(DuplicateHit::from)
                .collect())
        })
    }

    /// Confirms key fields of a customer file are still right today, during
    /// a visit: `address`, `phone`, `email`, `roles` (every contact's); all
    /// of them when `fields` is empty.
    pub fn verify_account(&self, account_id: String, fields: Vec<String>) -> Result<()> {
        let doc = doc_id(&account_id)?;
        self.edit(doc, |d| Ok(d.verify_account(doc, &fields)?))
    }

    /// My files with key fields not verified for over a year, those with a
    /// visit planned first ("à vérifier lors de ma prochaine visite").
    pub fn accounts_to_check(&self, limit: u32) -> Result<Vec<AccountToCheck>> {
        self.with(|d| {
            Ok(d.stale_accounts(&d.me(), limit as usize)
                .into_iter()
                .map(AccountToCheck::from)
                .collect())
        })
    }

    /// Sets one field of the account itself (`name`, `phone`, `status`,
    /// `tags`, `custom/<key>`, ...) from what the user typed.
    pub fn set_account_field(
        &self,
        account_id: String,
        field: String,
        value: String,
    ) -> Result<()> {
        let doc = doc_id(&account_id)?;
        self.edit(doc, |d| Ok(d.set_account_field(doc, &field, &value)?))
    }

    pub fn set_contact_field(
        &self,
        contact_id: String,
        field: String,
        value: String,
    ) -> Result<()> {
        self.set_record(&contact_id, &field, &value)
    }

    pub fn set_deal_field(&self, deal_id: String, field: String, value: String) -> Result<()> {
        self.set_record(&deal_id, &field, &value)
    }

    pub fn set_action_field(&self, action_id: String, field: String, value: String) -> Result<()> {
        self.set_record(&action_id, &field, &value)
    }

    /// `draft` → `sent` → `accepted`/`refused`/`expired`; `accepted` also
    /// creates the order, as `accept_quote` does.
    pub fn set_quote_status(&self, quote_id: String, status: String) -> Result<()> {
        self.set_record(&quote_id, "status", &status)
    }

    pub fn add_contact(&self, account_id: String, contact: NewContact) -> Result<String> {
        let doc = doc_id(&account_id)?;
        let id = self.edit(doc, |d| Ok(d.add_contact(doc, &contact.fields())?))?;
        Ok(id.to_string())
    }

    pub fn add_deal(&self, account_id: String, deal: NewDeal) -> Result<String> {
        let doc = doc_id(&account_id)?;
        let id = self.edit(doc, |d| Ok(d.add_deal(doc, &deal.fields())?))?;
        Ok(id.to_string())
    }

    pub fn add_action(&self, account_id: String, action: NewAction) -> Result<String> {
        let doc = doc_id(&account_id)?;
        let id = self.edit(doc, |d| Ok(d.add_action(doc, &action.fields())?))?;
        Ok(id.to_string())
    }

    /// Marks an action done (today unless `on`), with the outcome.
    pub fn complete_action(
        &self,
        action_id: String,
        outcome: Option<String>,
        on: Option<String>,
    ) -> Result<()> {
        let doc = self.record_doc(&action_id)?;
        let on = on.map(|o| day("done_on", &o)).transpose()?;
        self.edit(doc, |d| {
            Ok(d.complete_action(action_id.trim(), outcome.as_deref(), on)?)
        })
    }

    /// The visit report typed at the client's: a visit done today with its
    /// outcome and, optionally, the follow-up action, saved as one change.
    /// Returns the visit's id.
    pub fn log_visit(&self, account_id: String, visit: VisitReport) -> Result<String> {
        let doc = doc_id(&account_id)?;
        let id = self.edit(doc, |d| Ok(d.log_visit(doc, &visit)?))?;
        Ok(id.to_string())
    }

    pub fn add_note(&self, account_id: String, body: String) -> Result<String> {
        let doc = doc_id(&account_id)?;
        let id = self.edit(doc, |d| Ok(d.add_note(doc, &body)?))?;
        Ok(id.to_string())
    }

    /// A draft quote with a provisional number (the server gives the final
    /// one on sync).
    pub fn create_quote(&self, account_id: String, quote: NewQuote) -> Result<String> {
        let doc = doc_id(&account_id)?;
        let id = self.edit(doc, |d| Ok(d.create_quote(doc, &quote.fields())?))?;
        Ok(id.to_string())
    }

    pub fn add_quote_line(&self, quote_id: String, line: NewQuoteLine) -> Result<String> {
        let doc = self.record_doc(&quote_id)?;
        let id = self.edit(doc, |d| Ok(d.add_quote_line(quote_id.trim(), &line)?))?;
        Ok(id.to_string())
    }

    /// A quote with its lines and totals; a sent quote past its validity
    /// date reads `expired`.
    pub fn quote(&self, quote_id: String) -> Result<Quote> {
        self.with(|d| Ok(Quote::of(d.quote(quote_id.trim())?.1, d.today())))
    }

    /// Marks a quote sent once it carries every legal mention; else an
    /// `Invalid` error whose reason lists what is missing (in French in
    /// `reason_fr`).
    pub fn send_quote(&self, quote_id: String) -> Result<()> {
        let doc = self.record_doc(&quote_id)?;
        self.edit(doc, |d| Ok(d.send_quote(quote_id.trim())?))
    }

    /// The quote as a PDF, made on the device (offline), in French or in
    /// English: the bytes to show or to share.
    pub fn quote_pdf(&self, quote_id: String, english: bool) -> Result<Vec<u8>> {
        let lang = if english { Lang::En } else { Lang::Fr };
        self.with(|d| Ok(d.quote_pdf(quote_id.trim(), lang)?))
    }

    /// Sends a quote by email, its PDF attached: the quote is marked sent
    /// (every legal mention, else `Invalid` with what lacks) and the
    /// message waits in the outbox, offline too; the server sends it after
    /// the next sync and the outcome comes back (`outbox`). A recipient
    /// who refused prospecting email is refused (`Invalid`, with who).
    /// `attachments`: library documents to attach too (their `blob`).
    /// Returns the message's id.
    pub fn email_quote(
        &self,
        quote_id: String,
        to: String,
        message: String,
        attachments: Vec<String>,
        english: bool,
    ) -> Result<String> {
        let lang = if english { Lang::En } else { Lang::Fr };
        let doc = self.record_doc(&quote_id)?;
        let id = self.edit(doc, |d| {
            Ok(d.email_quote(quote_id.trim(), &to, &message, &attachments, lang)?)
        })?;
        Ok(id.to_string())
    }

    /// The outbox: every message of the files on this device, newest first.
    pub fn outbox(&self) -> Result<Vec<OutboxEmail>> {
        self.with(|d| {
            Ok(d.outbox()
                .into_iter()
                .map(|(doc, e)| OutboxEmail::of(doc, e))
                .collect())
        })
    }

    /// An order as a PDF ("bon de commande"), made on the device.
    pub fn order_pdf(&self, order_id: String, english: bool) -> Result<Vec<u8>> {
        let lang = if english { Lang::En } else { Lang::Fr };
        self.with(|d| Ok(d.order_pdf(order_id.trim(), lang)?))
    }

    /// A customer file as a PDF to print ("dossier client"), made on the
    /// device.
    pub fn account_pdf(&self, account_id: String, english: bool) -> Result<Vec<u8>> {
        let lang = if english { Lang::En } else { Lang::Fr };
        let doc = doc_id(&account_id)?;
        self.with(|d| Ok(d.account_pdf(doc, lang)?))
    }

    /// What a quote still lacks before it can be sent, as people read it
    /// in French (empty: ready to send).
    pub fn quote_missing_mentions(&self, quote_id: String) -> Result<Vec<String>> {
        self.with(|d| {
            Ok(d.quote_missing_mentions(quote_id.trim())?
                .into_iter()
                .map(|m| m.label(Lang::Fr).to_string())
                .collect())
        })
    }

    /// Revises the quote: a new draft with the same lines, linked to the
    /// original (which then reads "superseded"); returns the revision's id.
    pub fn revise_quote(&self, quote_id: String) -> Result<String> {
        let doc = self.record_doc(&quote_id)?;
        let id = self.edit(doc, |d| Ok(d.revise_quote(quote_id.trim())?))?;
        Ok(id.to_string())
    }

    /// Accepts the quote and creates its order; returns the order's id.
    pub fn accept_quote(&self, quote_id: String) -> Result<String> {
        let doc = self.record_doc(&quote_id)?;
        let id = self.edit(doc, |d| Ok(d.accept_quote(quote_id.trim())?))?;
        Ok(id.to_string())
    }

    // ----- reports ----------------------------------------------------------

    /// Open actions due on or before `until` (default today), overdue first.
    /// `everyone`: the whole visible team's, not only the user's.
    pub fn todo(&self, until: Option<String>, everyone: bool) -> Result<Vec<TodoItem>> {
        let until = until.map(|u| day("until", &u)).transpose()?;
        self.with(|d| {
            let until = until.unwrap_or_else(|| d.today());
            let scope = d.scope(everyone);
            Ok(d.todo(&scope, until).into_iter().map(Into::into).collect())
        })
    }

    /// The to-do list as a PDF made on the device ("édition des actions à
    /// effectuer"), in French unless `english`.
    pub fn todo_pdf(
        &self,
        until: Option<String>,
        everyone: bool,
        english: bool,
    ) -> Result<Vec<u8>> {
        let until = until.map(|u| day("until", &u)).transpose()?;
        let lang = if english { Lang::En } else { Lang::Fr };
        self.with(|d| {
            let until = until.unwrap_or_else(|| d.today());
            Ok(d.todo_pdf(&d.scope(everyone), until, lang)?)
        })
    }

    /// The user's day: everything due by today, and today's visits.
    pub fn my_day(&self) -> Result<MyDay> {
        self.with(|d| Ok(d.my_day().into()))
    }

    pub fn pipeline(&self, everyone: bool) -> Result<Pipeline> {
        self.with(|d| Ok(d.pipeline(&d.scope(everyone)).into()))
    }

    pub fn forecast(&self, months: u32, everyone: bool) -> Result<Forecast> {
        self.with(|d| Ok(d.forecast(&d.scope(everyone), months.clamp(1, 36)).into()))
    }

    /// Target, actual and variance for `period` (`2026`, `2026-Q4`,
    /// `2026-11`); `user` defaults to the device's user.
    pub fn variance(&self, period: String, user: Option<String>) -> Result<TargetReport> {
        let p = parse_period(&period)?;
        self.with(|d| {
            let user = d.user_or_me(user.as_deref());
            Ok(d.variance(&user, p)?.into())
        })
    }

    /// The dashboard of `period` for `scope`: the device's user (`None` or
    /// `me`), everything the device holds (`everyone`), or one user (an
    /// email). Offline: computed from the index, the plans and the layout
    /// saved in the directory.
    pub fn dashboard(&self, period: String, scope: Option<String>) -> Result<Dashboard> {
        let p = parse_period(&period)?;
        self.with(|d| {
            let scope = match scope.as_deref().map(str::trim) {
                None | Some("") | Some("me") => d.me(),
                Some("everyone") => d.scope(true),
                Some(user) => carnet_core::reports::Scope::User(user.to_string()),
            };
            Ok(d.dashboard(p, &scope)?.into())
        })
    }

    pub fn commission(&self, period: String, user: Option<String>) -> Result<Commission> {
        let p = parse_period(&period)?;
        self.with(|d| {
            let user = d.user_or_me(user.as_deref());
            Ok(d.commission(&user, p)?.into())
        })
    }

    // ----- conflicts and history -------------------------------------------

    pub fn conflicts(&self) -> Result<Vec<Conflict>> {
        self.with(|d| Ok(d.conflicts()?.into_iter().map(Into::into).collect()))
    }

    /// Keeps `value` for a conflicting field (one of the values or a new
    /// one): an ordinary edit that supersedes every concurrent value.
    pub fn resolve_conflict(&self, doc: String, path: String, value: String) -> Result<()> {
        let id = doc_id(&doc)?;
        self.edit(id, |d| Ok(d.resolve_conflict(id, &path, &value)?))
    }

    /// Every change to a customer file, oldest first: who, when, which fields.
    pub fn history(&self, account_id: String) -> Result<Vec<HistoryEntry>> {
        let id = doc_id(&account_id)?;
        self.with(|d| Ok(d.history(id)?.into_iter().map(Into::into).collect()))
    }

    // ----- library ----------------------------------------------------------

    /// The documents managers pushed for this user (brochures, price
    /// lists), newest first, each with its file on the device once
    /// downloaded (`fetch_library`).
    pub fn library(&self) -> Result<Vec<LibraryDoc>> {
        self.with(|d| {
            Ok(d.library()?
                .into_iter()
                .map(|i| LibraryDoc::of(d.library_file(&i), i))
                .collect())
        })
    }

    /// Downloads the library documents not on the device yet (checked
    /// against their SHA-256), so they open offline; returns how many.
    /// With background sync on, this happens by itself after each sync.
    pub async fn fetch_library(&self) -> Result<u32> {
        let shared = self.shared.clone();
        let task = self
            .rt()
            .spawn(async move { sync::fetch_library(&shared).await });
        task.await.map_err(CarnetError::network)?
    }

    // ----- sync -------------------------------------------------------------

    /// Syncs now and returns once up to date (or failed). With background
    /// sync on, asks the live session and waits for it.
    pub async fn sync_now(&self) -> Result<()> {
        if !self.shared.has_device() {
            return Err(CarnetError::not_logged_in());
        }
        let shared = self.shared.clone();
        let task = match self.background_control() {
            Some(control) => self.rt().spawn(sync::nudge_and_wait(shared, control)),
            None => self.rt().spawn(sync::once(shared)),
        };
        task.await.map_err(CarnetError::network)?
    }

    /// Keeps a live connection: changes from others arrive within moments,
    /// local edits leave at once, reconnecting with backoff when the
    /// network comes and goes. Idempotent.
    pub fn start_background_sync(&self) -> Result<()> {
        self.with(|d| {
            d.remote()?.ok_or_else(CarnetError::not_logged_in)?;
            Ok(())
        })?;
        let mut bg = lock(&self.shared.background);
        if bg.as_ref().is_some_and(Background::is_live) {
            return Ok(());
        }
        let control = Arc::new(Control::default());
        let task = self
            .rt()
            .spawn(sync::background(self.shared.clone(), control.clone()));
        *bg = Some(Background { control, task });
        drop(bg);
        self.shared.refresh_status(|_| {});
        Ok(())
    }

    /// Closes the live connection; edits stay pending until the next sync.
    pub async fn stop_background_sync(&self) {
        let bg = lock(&self.shared.background).take();
        if let Some(b) = bg {
            b.control.request_stop();
            let _ = b.task.await;
        }
        self.shared.refresh_status(|s| s.phase = SyncPhase::Offline);
    }

    /// Stops sync and releases the store, so that it can be opened again
    /// (by a new client, after a logout, in tests). Later calls fail with
    /// `NotLoggedIn`.
    pub async fn shutdown(&self) {
        self.stop_background_sync().await;
        if let Err(e) = self.shared.release_device() {
            tracing::warn!(error = %e, "closing the store failed");
        }
    }

    /// The network is back (from the platform's connectivity callback):
    /// retry at once instead of waiting out the backoff.
    pub fn network_available(&self) {
        if let Some(c) = self.background_control() {
            c.nudge();
        }
    }

    pub fn sync_status(&self) -> SyncStatus {
        self.shared.status()
    }

    /// Drops a refused file's local changes; the next sync brings the
    /// server's copy back.
    pub fn revert(&self, doc: String) -> Result<()> {
        let id = doc_id(&doc)?;
        let done = self.with(|d| Ok(d.revert(id)?))?;
        if !done {
            return Err(CarnetError::invalid(
                format!("{doc} {}", Label::NothingToRevert.text(Lang::En)),
                format!("{doc} {}", Label::NothingToRevert.text(Lang::Fr)),
            ));
        }
        self.shared.local_edit(id);
        Ok(())
    }

    // ----- listeners ---------------------------------------------------------

    /// Called at once with the current status, then on every change. Returns
    /// an id for `remove_listener`.
    pub fn add_sync_status_listener(&self, listener: Arc<dyn SyncStatusListener>) -> u64 {
        self.shared.add_status_listener(listener)
    }

    pub fn add_change_listener(&self, listener: Arc<dyn ChangeListener>) -> u64 {
        self.shared.add_change_listener(listener)
    }

    pub fn remove_listener(&self, id: u64) -> bool {
        self.shared.remove_listener(id)
    }
}
