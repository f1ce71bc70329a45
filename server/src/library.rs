//! The marketing library's bytes: content-addressed blobs (SHA-256) in
//! `DATA/blobs/<2 hex>/<64 hex>`, beside the tenant's store. A file is
//! streamed in (64 KiB at a time, hashed on the way, refused past the size
//! limit, fsynced, then renamed into place: a crash leaves no half blob
//! under a name) and streamed out, never held whole in memory. The
//! `library` document holds the metadata (`carnet_core::model::LibraryItem`);
//! who may fetch a blob is decided by the items that name it
//! (`Tenant::may_fetch`), and a blob nobody may fetch answers exactly like
//! a missing one.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use carnet_core::doc::FieldValue;
use carnet_core::model::library::is_sha256;
use carnet_core::model::LibraryItem;
use carnet_core::schema::{FieldPath, RecordKind};
use carnet_core::DocKind;
use sha2::{Digest, Sha256};

use crate::acl::Role;
use crate::tenant::{Tenant, TenantError};

/// Largest library file accepted by default (`library add --max-mb`).
pub const DEFAULT_MAX_BYTES: u64 = 500 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

/// The blob directory of a tenant.
pub struct Blobs {
    dir: PathBuf,
}

impl Blobs {
    pub fn new(dir: PathBuf) -> Blobs {
        Blobs { dir }
    }

    /// Where blob `sha` lives; `None` for anything but a SHA-256 in hex.
    pub fn path(&self, sha: &str) -> Option<PathBuf> {
        is_sha256(sha).then(|| self.dir.join(&sha[..2]).join(sha))
    }

    /// Copies `from` into the store, hashing it on the way; returns its
    /// SHA-256 and size. Refused past `max` bytes (nothing is kept).
    pub fn put_file(&self, from: &Path, max: u64) -> Result<(String, u64), TenantError> {
        let io = |e: std::io::Error| TenantError::Invalid(format!("{}: {e}", from.display()));
        let mut src = std::fs::File::open(from).map_err(io)?;
        let tmp_dir = self.dir.join("tmp");
        std::fs::create_dir_all(&tmp_dir).map_err(io)?;
        let tmp = tmp_dir.join(uuid::Uuid::new_v4().to_string());
        let result = (|| {
            let mut out = std::fs::File::create(&tmp).map_err(io)?;
            let mut hash = Sha256::new();
            let mut size = 0u64;
            let mut buf = vec![0u8; CHUNK];
            loop {
                let n = src.read(&mut buf).map_err(io)?;
                if n == 0 {
                    break;
                }
                size += n as u64;
                if size > max {
                    return Err(TenantError::Invalid(format!(
                        "{}: larger than the limit of {} MB",
                        from.display(),
                        max / (1024 * 1024)
                    )));
                }
                hash.update(&buf[..n]);
                out.write_all(&buf[..n]).map_err(io)?;
            }
            out.sync_all().map_err(io)?;
            let sha = hex(&hash.finalize());
            let dest = self
                .path(&sha)
                .ok_or_else(|| TenantError::Invalid("bad hash".into()))?;
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            std::fs::rename(&tmp, &dest).map_err(io)?;
            Ok((sha, size))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What `library add` was asked.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct NewItem {
    /// A file on the server's machine.
    pub path: PathBuf,
    pub title: String,
    #[serde(default)]
    pub territories: Vec<String>,
    #[serde(default)]
    pub teams: Vec<String>,
    #[serde(default)]
    pub mime: Option<String>,
    #[serde(default)]
    pub max_bytes: Option<u64>,
}

/// A type for a file name people open: what its extension says.
fn mime_of(name: &str) -> &'static str {
    let ext = name.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "csv" => "text/csv",
        "txt" => "text/plain",
        _ => "application/octet-stream",
    }
}

impl Tenant {
    /// Adds a document to the library, or a new version of the one with
    /// the same title (its blob replaced, its targets updated). The file
    /// is copied first; the item is written once the blob is in place.
    pub async fn library_add(&self, item: NewItem) -> Result<LibraryItem, TenantError> {
        let title = item.title.trim().to_string();
        if title.is_empty() || title.chars().count() > 200 {
            return Err(TenantError::Invalid("title: 1 to 200 characters".into()));
        }
        let acl = self.acl();
        let names = acl.territory_names();
        for t in &item.territories {
            if !names.contains(t) {
                return Err(TenantError::Invalid(format!("no territory {t:?}")));
            }
        }
        for m in &item.teams {
            if acl.role(m) != Some(Role::Manager) {
                return Err(TenantError::Invalid(format!("{m} is not a manager")));
            }
        }
        let max = item.max_bytes.unwrap_or(DEFAULT_MAX_BYTES);
        let path = item.path.clone();
        let blobs = Blobs::new(self.blobs.dir.clone());
        let (sha, size) = tokio::task::spawn_blocking(move || blobs.put_file(&path, max))
            .await
            .map_err(|e| TenantError::Invalid(e.to_string()))??;
        let file_name: String = item
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_control() && !matches!(c, '"' | '/' | '\\'))
            .take(200)
            .collect();
        let mime = item
            .mime
            .clone()
            .unwrap_or_else(|| mime_of(&file_name).to_string());
        let doc = self
            .singleton(DocKind::Library)
            .ok_or_else(|| TenantError::Invalid("no library document".into()))?;
        let now = chrono::Utc::now().timestamp();
        let mut id = String::new();
        self.edit_as_server(doc, DocKind::Library, |d| {
            let existing = LibraryItem::all(d).into_iter().find(|i| i.title == title);
            id = match &existing {
                Some(i) => i.id.clone(),
                None => carnet_core::RecordId::new().to_string(),
            };
            let fields = [
                ("title", FieldValue::Str(title.clone())),
                ("blob", FieldValue::Str(sha.clone())),
                ("mime", FieldValue::Str(mime.clone())),
                ("file_name", FieldValue::Str(file_name.clone())),
                ("size", FieldValue::Int(size as i64)),
                ("territories", FieldValue::Tags(item.territories.clone())),
                ("teams", FieldValue::Tags(item.teams.clone())),
                ("updated_at", FieldValue::Int(now)),
            ];
            if existing.is_none() {
                let mut all = fields.to_vec();
                all.push(("created_at", FieldValue::Int(now)));
                d.create_record(&["items"], &id, RecordKind::LibraryItem, &all)?;
                return Ok(());
            }
            for (k, v) in fields {
                let path = FieldPath {
                    parent: vec!["items".into(), id.clone()],
                    key: k.to_string(),
                    record: RecordKind::LibraryItem,
                    spec: RecordKind::LibraryItem.field(k),
                };
                d.put_field(&path, &v)?;
            }
            Ok(())
        })
        .await?;
        self.library()
            .await
            .into_iter()
            .find(|i| i.id == id)
            .ok_or_else(|| TenantError::Invalid("the item vanished".into()))
    }

    /// Every item of the library.
    pub async fn library(&self) -> Vec<LibraryItem> {
        let Some(doc) = self.singleton(DocKind::Library) else {
            return Vec::new();
        };
        let Ok(slot) = self.slot(doc).await else {
            return Vec::new();
        };
        let slot = slot.lock().await;
        slot.doc.as_ref().map(LibraryItem::all).unwrap_or_default()
    }

    /// The items `user` is targeted by: all of them for managers and
    /// admins; for a rep, those for everyone, for a territory they cover,
    /// or for their manager's team.
    pub async fn library_for(&self, user: &str) -> Vec<LibraryItem> {
        let acl = self.acl();
        let Some(role) = acl.role(user) else {
            return Vec::new();
        };
        let items = self.library().await;
        if role != Role::Rep {
            return items;
        }
        let mine: Vec<&str> = acl
            .territories()
            .iter()
            .filter(|t| t.reps.contains(user))
            .map(|t| t.name.as_str())
            .collect();
        let manager = acl.manager_of(user);
        items
            .into_iter()
            .filter(|i| i.targets(&mine, manager))
            .collect()
    }

    /// The item holding blob `sha` that `user` may fetch, if any: the one
    /// decision every blob route asks.
    pub async fn may_fetch(&self, user: &str, sha: &str) -> Option<LibraryItem> {
        if !is_sha256(sha) {
            return None;
        }
        self.library_for(user)
            .await
            .into_iter()
            .find(|i| i.blob == sha)
    }
}
