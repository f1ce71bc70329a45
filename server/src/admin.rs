//! Administration: users, territories, device tokens, login. The same
//! commands run against a data directory directly, or through a running
//! server's `/admin` endpoint when the server holds the directory.

use std::net::IpAddr;
use std::sync::Arc;

use carnet_core::doc::FieldValue;
use carnet_core::schema::RecordKind;
use carnet_core::store::{Batch, Durability, Store};
use carnet_core::{DocKind, RecordId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::{self, Credentials, DeviceRecord};
use crate::tenant::{Event, Result, Tenant, TenantError};
use crate::throttle::Throttled;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum AdminCmd {
    AddUser {
        email: String,
        role: String,
        manager: Option<String>,
        name: Option<String>,
        password: String,
    },
    AddTerritory {
        name: String,
        postcodes: Vec<String>,
        reps: Vec<String>,
    },
    RevokeDevice {
        email: String,
        device: Option<Uuid>,
    },
    Devices {
        email: String,
    },
    /// A document into the marketing library (a new version of the one
    /// with the same title).
    LibraryAdd(crate::library::NewItem),
    /// The library's documents.
    LibraryList,
    /// Withdraws a library document (by id or title).
    LibraryRemove {
        what: String,
    },
    /// Orders of a period for accounting: `csv` or `json`.
    ExportOrders {
        period: String,
        format: String,
    },
    /// A CSV of accounts on the server's disk (`carnet_core::import`),
    /// written as the first admin.
    ImportAccounts {
        path: std::path::PathBuf,
        #[serde(default)]
        mapping: carnet_core::import::Overrides,
        #[serde(default)]
        dry_run: bool,
        /// When the file's data was last checked (`import::Options`).
        #[serde(default)]
        verified_on: Option<chrono::NaiveDate>,
    },
    /// Groups of files that look like one company, tenant-wide.
    Duplicates,
    /// Merges `loser` into `winner` (`carnet_core::merge`).
    Merge {
        winner: String,
        loser: String,
    },
    /// Erases a person (a contact, by id) from their customer file, its
    /// history, the store's files and every device (decision 007).
    Erase {
        contact: String,
    },
    /// Rewrites the store's files so no old value stays on disk.
    Compact,
    /// The whole store as JSON Lines (`carnet_core::backup`) into a new
    /// file at `path`, readable by the server's user only.
    Backup {
        path: std::path::PathBuf,
    },
}

/// Longest email and password a login may carry (checked before hashing).
pub const MAX_EMAIL_BYTES: usize = 254;
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Why a login is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LoginRefused {
    #[error("wrong email or password")]
    Wrong,
    #[error(transparent)]
    Throttled(#[from] Throttled),
}

fn cred_key(email: &str) -> String {
    format!("cred/{email}")
}
fn device_key(token_hash: &str) -> String {
    format!("device/{token_hash}")
}
fn user_device_key(email: &str, device: Uuid) -> String {
    format!("userdev/{email}/{device}")
}

fn invalid(e: impl ToString) -> TenantError {
    TenantError::Invalid(e.to_string())
}

impl Tenant {
    pub async fn admin(self: &Arc<Self>, cmd: AdminCmd) -> Result<serde_json::Value> {
        match cmd {
            AdminCmd::AddUser {
                email,
                role,
                manager,
                name,
                password,
            } => {
                self.add_user(
                    &email,
                    &role,
                    manager.as_deref(),
                    name.as_deref(),
                    &password,
                )
                .await?;
                Ok(serde_json::json!({"added": email}))
            }
            AdminCmd::AddTerritory {
                name,
                postcodes,
                reps,
            } => {
                self.add_territory(&name, &postcodes, &reps).await?;
                Ok(serde_json::json!({"added": name}))
            }
            AdminCmd::LibraryAdd(item) => {
                let added = self.library_add(item).await?;
                Ok(serde_json::to_value(added).map_err(invalid)?)
            }
            AdminCmd::LibraryList => {
                Ok(serde_json::to_value(self.library().await).map_err(invalid)?)
            }
            AdminCmd::LibraryRemove { what } => {
                let removed = self.library_remove(&what).await?;
                Ok(serde_json::to_value(removed).map_err(invalid)?)
            }
            AdminCmd::ExportOrders { period, format } => {
                let period: carnet_core::reports::Period = period
                    .parse()
                    .map_err(|e: carnet_core::ValidationError| invalid(e))?;
                let orders = self.export_orders(period, None).await?;
                let content = match format.as_str() {
                    "json" => serde_json::to_string_pretty(&serde_json::json!({
                        "period": period.to_string(),
                        "orders": orders,
                    }))
                    .map_err(invalid)?,
                    "csv" => {
                        String::from_utf8(carnet_core::accounting::csv(&orders).map_err(invalid)?)
                            .map_err(invalid)?
                    }
                    other => {
                        return Err(invalid(format!("unknown format {other:?} (csv or json)")))
                    }
                };
                Ok(serde_json::json!({"orders": orders.len(), "content": content}))
            }
            AdminCmd::ImportAccounts {
                path,
                mapping,
                dry_run,
                verified_on,
            } => {
                let acl = self.acl();
                let admin = acl
                    .users()
                    .into_iter()
                    .find(|u| acl.role(u) == Some(crate::acl::Role::Admin))
                    .ok_or_else(|| invalid("the tenant has no admin"))?;
                let report = self
                    .import_accounts(
                        crate::tenant::import::Importer::Admin(admin),
                        path,
                        mapping,
                        carnet_core::import::Options {
                            dry_run,
                            lang: carnet_core::text::Lang::Fr,
                            verified_on,
                        },
                    )
                    .await?;
                Ok(serde_json::to_value(report).map_err(invalid)?)
            }
            AdminCmd::Merge { winner, loser } => {
                let id = |s: &str| s.trim().parse::<carnet_core::DocId>().map_err(invalid);
                let copied = self.merge_accounts(id(&winner)?, id(&loser)?).await?;
                Ok(serde_json::json!({"merged_into": winner, "records_copied": copied}))
            }
            AdminCmd::Erase { contact } => {
                let done = self.erase_contact(&contact).await?;
                Ok(serde_json::to_value(done).map_err(invalid)?)
            }
            AdminCmd::Compact => {
                let (before, after) = self.compact_store()?;
                Ok(serde_json::json!({"store_bytes_before": before, "store_bytes_after": after}))
            }
            AdminCmd::Backup { path } => {
                let counts = self.backup_to(&path)?;
                Ok(serde_json::to_value(counts).map_err(invalid)?)
            }
            AdminCmd::Duplicates => {
                let groups = self.duplicate_groups();
                let names: std::collections::BTreeMap<String, String> = groups
                    .iter()
                    .flat_map(|g| g.members.iter())
                    .filter_map(|id| {
                        let rows = self.rows(*id)?;
                        let a = rows.account.as_ref()?;
                        Some((id.to_string(), a.name.clone()))
                    })
                    .collect();
                Ok(serde_json::json!({"groups": groups, "names": names}))
            }
            AdminCmd::RevokeDevice { email, device } => {
                let revoked = self.revoke_devices(&email, device)?;
                Ok(serde_json::json!({"revoked": revoked}))
            }
            AdminCmd::Devices { email } => {
                Ok(serde_json::to_value(self.devices_of(&email)?).map_err(invalid)?)
            }
        }
    }

    pub async fn add_user(
        &self,
        email: &str,
        role: &str,
        manager: Option<&str>,
        name: Option<&str>,
        password: &str,
    ) -> Result<()> {
        let email = carnet_core::validate::email("email", email).map_err(invalid)?;
        if !carnet_core::schema::ROLES.contains(&role) {
            return Err(invalid(format!(
                "role must be one of rep, manager, admin (got {role:?})"
            )));
        }
        if password.chars().count() < 8 {
            return Err(invalid("the password must have at least 8 characters"));
        }
        if self.store.meta(&cred_key(&email))?.is_some() {
            return Err(invalid(format!("{email} already exists")));
        }
        let manager = match manager {
            Some(m) => {
                let m = carnet_core::validate::email("manager", m).map_err(invalid)?;
                if self.acl().role(&m).is_none() {
                    return Err(invalid(format!("no user {m}")));
                }
                Some(m)
            }
            None => None,
        };
        let hash = auth::hash_password(password).map_err(invalid)?;
        let dir = self
            .singleton(DocKind::Directory)
            .ok_or(TenantError::NotInitialised)?;
        let role = role.to_string();
        let em = email.clone();
        let name = name.map(str::to_string);
        self.edit_as_server(dir, DocKind::Directory, move |d| {
            let mut fields = vec![
                ("email", FieldValue::Str(em)),
                ("role", FieldValue::Str(role)),
            ];
            if let Some(m) = manager {
                fields.push(("manager", FieldValue::Str(m)));
            }
            if let Some(n) = name {
                fields.push(("name", FieldValue::Str(n)));
            }
            d.create_record(
                &["users"],
                &RecordId::new().to_string(),
                RecordKind::User,
                &fields,
            )?;
            Ok(())
        })
        .await?;
        let mut b = Batch::new();
        b.put_meta(
            cred_key(&email),
            serde_json::to_vec(&Credentials {
                email: email.clone(),
                password_hash: hash,
            })
            .map_err(invalid)?,
        );
        self.store.write(b, Durability::Flushed)?;
        Ok(())
    }

    pub async fn add_territory(
        &self,
        name: &str,
        postcodes: &[String],
        reps: &[String],
    ) -> Result<()> {
        let name = carnet_core::validate::non_empty("name", name).map_err(invalid)?;
        let (prefixes, rep_emails) = self.territory_rules(postcodes, reps)?;
        let dir = self
            .singleton(DocKind::Directory)
            .ok_or(TenantError::NotInitialised)?;
        self.edit_as_server(dir, DocKind::Directory, move |d| {
            d.create_record(
                &["territories"],
                &RecordId::new().to_string(),
                RecordKind::Territory,
                &[
                    ("name", FieldValue::Str(name)),
                    ("postcodes", FieldValue::Str(prefixes.join(","))),
                    ("reps", FieldValue::Tags(rep_emails)),
                ],
            )?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// Changes a territory's rules (its postcode or department prefixes,
    /// its reps) in one change, checked as when it was added. Devices that
    /// lose files by it drop them on their next sync.
    pub async fn edit_territory(
        &self,
        id: &str,
        postcodes: &[String],
        reps: &[String],
    ) -> Result<()> {
        if !self.acl().territories().iter().any(|t| t.id == id) {
            return Err(invalid(format!("no territory {id}")));
        }
        let (prefixes, reps) = self.territory_rules(postcodes, reps)?;
        let dir = self
            .singleton(DocKind::Directory)
            .ok_or(TenantError::NotInitialised)?;
        let path = |field: &str| {
            carnet_core::schema::resolve(DocKind::Directory, &format!("territories/{id}/{field}"))
        };
        let (postcodes, reps_path) = (
            path("postcodes").map_err(invalid)?,
            path("reps").map_err(invalid)?,
        );
        self.edit_as_server(dir, DocKind::Directory, move |d| {
            d.put_field(&postcodes, &FieldValue::Str(prefixes.join(",")))?;
            d.put_field(&reps_path, &FieldValue::Tags(reps))
        })
        .await?;
        Ok(())
    }

    /// A territory's rules, checked: postcode or department prefixes (up to
    /// five digits, `2A`/`2B` for Corsica), and reps who are users.
    fn territory_rules(
        &self,
        postcodes: &[String],
        reps: &[String],
    ) -> Result<(Vec<String>, Vec<String>)> {
        let mut prefixes = Vec::new();
        for p in postcodes.iter().flat_map(|p| p.split(',')) {
            let p = p.trim();
            if p.is_empty()
                || p.len() > 5
                || !p
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == 'A' || c == 'B')
            {
                return Err(invalid(format!(
                    "{p:?} is not a postcode or department prefix"
                )));
            }
            prefixes.push(p.to_string());
        }
        let acl = self.acl();
        let mut rep_emails = Vec::new();
        for r in reps {
            let r = carnet_core::validate::email("rep", r).map_err(invalid)?;
            if acl.role(&r).is_none() {
                return Err(invalid(format!("no user {r}")));
            }
            rep_emails.push(r);
        }
        Ok((prefixes, rep_emails))
    }

    /// Checks a password and issues a device token. Throttled per account
    /// and per address before any hashing; a failure costs the same time
    /// whether the account exists or not (an unknown email is checked
    /// against a stand-in hash), so accounts cannot be enumerated.
    pub async fn login(
        self: &Arc<Self>,
        email: &str,
        password: &str,
        device_name: &str,
        addr: Option<IpAddr>,
    ) -> std::result::Result<(DeviceRecord, String), LoginRefused> {
        let name = device_name.chars().take(100).collect::<String>();
        self.guarded_login(email, password, addr, move |t, e, p| {
            t.check_and_issue(e, p, &name)
        })
        .await
    }

    /// Checks a password for the web app (no device token): the same
    /// throttling, the same hashing threads, the same cost for an unknown
    /// email as `login`. Returns the user's normalized email.
    pub async fn check_password(
        self: &Arc<Self>,
        email: &str,
        password: &str,
        addr: Option<IpAddr>,
    ) -> std::result::Result<String, LoginRefused> {
        self.guarded_login(email, password, addr, |t, e, p| {
            t.password_ok(e, p).then(|| e.to_string())
        })
        .await
    }

    /// The one login path: throttled per account and address before any
    /// hashing, bounded fields, `check` (which verifies the password) on
    /// the hashing threads, the failure forgiven once it succeeds.
    async fn guarded_login<T: Send + 'static>(
        self: &Arc<Self>,
        email: &str,
        password: &str,
        addr: Option<IpAddr>,
        check: impl FnOnce(&Tenant, &str, &str) -> Option<T> + Send + 'static,
    ) -> std::result::Result<T, LoginRefused> {
        let email = email.trim().to_lowercase();
        // Counted as a failure from here on (so parallel guesses count
        // too); forgiven once the password proves right.
        self.logins.attempt(&email, addr)?;
        if email.len() > MAX_EMAIL_BYTES || password.len() > MAX_PASSWORD_BYTES {
            return Err(LoginRefused::Wrong);
        }
        let t = self.clone();
        let (e, p) = (email.clone(), password.to_string());
        let done = self
            .logins
            .hash(move || check(&t, &e, &p))
            .await?
            .ok_or(LoginRefused::Wrong)?;
        self.logins.forgive(&email, addr);
        Ok(done)
    }

    /// The password is right and the user active.
    fn password_ok(&self, email: &str, password: &str) -> bool {
        let cred: Option<Credentials> = self.meta_json(&cred_key(email));
        let verified = auth::verify_password_or_stand_in(
            password,
            cred.as_ref().map(|c| c.password_hash.as_str()),
        );
        verified && cred.is_some() && self.acl().role(email).is_some()
    }

    fn check_and_issue(
        &self,
        email: &str,
        password: &str,
        device_name: &str,
    ) -> Option<(DeviceRecord, String)> {
        if !self.password_ok(email, password) {
            return None;
        }
        let token = auth::new_token();
        let record = DeviceRecord {
            device: Uuid::new_v4(),
            user: email.to_string(),
            name: device_name.to_string(),
            created_at: chrono::Utc::now().timestamp(),
            revoked: false,
            token_hash: auth::token_hash(&token),
        };
        let mut b = Batch::new();
        b.put_meta(
            device_key(&record.token_hash),
            serde_json::to_vec(&record).ok()?,
        );
        b.put_meta(
            user_device_key(email, record.device),
            record.token_hash.as_bytes().to_vec(),
        );
        self.store.write(b, Durability::Flushed).ok()?;
        Some((record, token))
    }

    /// The device's record is still valid: not revoked, its user still in
    /// the directory. Sessions ask again on every tick and after falling
    /// behind the live feed, so a revocation cannot be outrun.
    pub fn still_authorised(&self, token_hash: &str, device: Uuid) -> bool {
        let rec: Option<DeviceRecord> = self.meta_json(&device_key(token_hash));
        rec.is_some_and(|r| !r.revoked && r.device == device && self.acl().role(&r.user).is_some())
    }

    /// The device a token belongs to, if it is valid and not revoked.
    pub fn device_for_token(&self, token: &str) -> Option<DeviceRecord> {
        let rec: DeviceRecord = self.meta_json(&device_key(&auth::token_hash(token)))?;
        (!rec.revoked).then_some(rec)
    }

    /// A server-side record (credentials, device) stored as JSON; `None`
    /// when absent or unreadable.
    fn meta_json<T: serde::de::DeserializeOwned>(&self, key: &str) -> Option<T> {
        let bytes = self.store.meta(key).ok()??;
        serde_json::from_slice(&bytes).ok()
    }

    pub fn devices_of(&self, email: &str) -> Result<Vec<DeviceRecord>> {
        let prefix = format!("userdev/{}/", email.trim().to_lowercase());
        let mut out = Vec::new();
        for (_, hash) in self.store.meta_scan(&prefix, None, usize::MAX)? {
            let hash = String::from_utf8_lossy(&hash).into_owned();
            if let Some(b) = self.store.meta(&device_key(&hash))? {
                if let Ok(rec) = serde_json::from_slice::<DeviceRecord>(&b) {
                    out.push(rec);
                }
            }
        }
        Ok(out)
    }

    /// Revokes one device (or all of a user's): their tokens stop working at
    /// once, open connections included.
    pub fn revoke_devices(&self, email: &str, device: Option<Uuid>) -> Result<Vec<Uuid>> {
        let mut revoked = Vec::new();
        let mut b = Batch::new();
        for mut rec in self.devices_of(email)? {
            if rec.revoked || device.is_some_and(|d| d != rec.device) {
                continue;
            }
            rec.revoked = true;
            b.put_meta(
                device_key(&rec.token_hash),
                serde_json::to_vec(&rec).map_err(invalid)?,
            );
            revoked.push(rec.device);
        }
        if device.is_some() && revoked.is_empty() {
            return Err(invalid(format!("no active device {device:?} for {email}")));
        }
        self.store.write(b, Durability::Flushed)?;
        for d in &revoked {
            self.publish(Event::DeviceRevoked(*d));
        }
        Ok(revoked)
    }
}

impl Tenant {
    /// Sets one field of the directory (a user's role or manager, a
    /// territory's rules), validated by the schema, written as the server.
    pub async fn set_directory_field(&self, path: &str, value: &str) -> Result<()> {
        let dir = self
            .singleton(DocKind::Directory)
            .ok_or(TenantError::NotInitialised)?;
        let w = self.server_writer();
        self.edit_as_user(&w, dir, DocKind::Directory, |d, ctx| {
            carnet_core::ops::set_field(d, ctx, path, value)
        })
        .await?;
        Ok(())
    }

    /// Deactivates a user: kept in the directory (history keeps its
    /// author), granted nothing from the next frame on; every device token
    /// is revoked, so open connections close at once.
    pub async fn deactivate_user(&self, email: &str) -> Result<Vec<Uuid>> {
        let record = self
            .acl()
            .record_of(email)
            .map(str::to_string)
            .ok_or_else(|| invalid(format!("no user {email}")))?;
        self.set_directory_field(&format!("users/{record}/disabled"), "true")
            .await?;
        self.revoke_devices(email, None)
    }
}

/// Writes a file only the server's user may read.
pub fn write_private(path: &std::path::Path, json: &[u8]) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        f.write_all(json)?;
    }
    #[cfg(not(unix))]
    std::fs::write(path, json)?;
    Ok(())
}
