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
        let mut out = self.writer(max)?;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = src.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            out.write(&buf[..n])?;
        }
        out.finish()
    }

    /// A blob written piece by piece (a browser's upload as it arrives),
    /// hashed on the way, at most `max` bytes. Dropped before `finish`, it
    /// leaves nothing behind.
    pub fn writer(&self, max: u64) -> Result<BlobWriter, TenantError> {
        let tmp_dir = self.dir.join("tmp");
        let io = |e: std::io::Error| TenantError::Invalid(format!("{}: {e}", tmp_dir.display()));
        std::fs::create_dir_all(&tmp_dir).map_err(io)?;
        let tmp = tmp_dir.join(uuid::Uuid::new_v4().to_string());
        let mut open = std::fs::OpenOptions::new();
        open.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            open.mode(0o600);
        }
        let out = open.open(&tmp).map_err(io)?;
        Ok(BlobWriter {
            dir: self.dir.clone(),
            tmp,
            out: Some(out),
            hash: Sha256::new(),
            size: 0,
            max,
        })
    }
}

/// A blob being written (`Blobs::writer`).
pub struct BlobWriter {
    dir: PathBuf,
    tmp: PathBuf,
    out: Option<std::fs::File>,
    hash: Sha256,
    size: u64,
    max: u64,
}

impl BlobWriter {
    /// Appends `bytes`; refused (and nothing kept) past the limit.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), TenantError> {
        self.size += bytes.len() as u64;
        if self.size > self.max {
            return Err(TenantError::TooLarge(self.max));
        }
        self.hash.update(bytes);
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| TenantError::Invalid("blob already finished".into()))?;
        out.write_all(bytes)
            .map_err(|e| TenantError::Invalid(format!("writing a blob: {e}")))
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Flushes to disk and gives the blob its name: its SHA-256, returned
    /// with its size.
    pub fn finish(mut self) -> Result<(String, u64), TenantError> {
        let io = |e: std::io::Error| TenantError::Invalid(format!("storing a blob: {e}"));
        let out = self
            .out
            .take()
            .ok_or_else(|| TenantError::Invalid("blob already finished".into()))?;
        out.sync_all().map_err(io)?;
        drop(out);
        let sha = hex(&std::mem::take(&mut self.hash).finalize());
        let dest = Blobs::new(self.dir.clone())
            .path(&sha)
            .ok_or_else(|| TenantError::Invalid("bad hash".into()))?;
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::rename(&self.tmp, &dest).map_err(io)?;
        Ok((sha, self.size))
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        // Unfinished (refused, failed, or the browser went away): the
        // temporary file goes; a finished one was renamed already.
        if self.out.is_some() {
            self.out = None;
            let _ = std::fs::remove_file(&self.tmp);
        }
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

/// A library document's title: 1 to 200 characters, spaces around aside.
pub fn title_ok(title: &str) -> bool {
    let n = title.trim().chars().count();
    (1..=200).contains(&n)
}

/// A library item as it is to read: its title and targets, and its file
/// (already stored as blob `sha`).
pub struct Placed {
    pub title: String,
    pub file_name: String,
    pub mime: Option<String>,
    pub sha: String,
    pub size: u64,
    pub territories: Vec<String>,
    pub teams: Vec<String>,
}

impl Tenant {
    /// Checks a title and targets before any byte is stored: 1 to 200
    /// characters, territories that exist, teams named by their manager.
    /// Returns the title trimmed.
    pub fn check_library_item(
        &self,
        title: &str,
        territories: &[String],
        teams: &[String],
    ) -> Result<String, TenantError> {
        let title = title.trim().to_string();
        if !title_ok(&title) {
            return Err(TenantError::Invalid("title: 1 to 200 characters".into()));
        }
        let acl = self.acl();
        let names = acl.territory_names();
        for t in territories {
            if !names.contains(t) {
                return Err(TenantError::Invalid(format!("no territory {t:?}")));
            }
        }
        for m in teams {
            if acl.role(m) != Some(Role::Manager) {
                return Err(TenantError::Invalid(format!("{m} is not a manager")));
            }
        }
        Ok(title)
    }

    /// Adds a document to the library from a file on the server's machine,
    /// or a new version of the one with the same title (its blob replaced,
    /// its targets updated). The file is copied first; the item is written
    /// once the blob is in place.
    pub async fn library_add(&self, item: NewItem) -> Result<LibraryItem, TenantError> {
        let title = self.check_library_item(&item.title, &item.territories, &item.teams)?;
        let max = item.max_bytes.unwrap_or(DEFAULT_MAX_BYTES);
        let path = item.path.clone();
        let blobs = Blobs::new(self.blobs.dir.clone());
        let (sha, size) = tokio::task::spawn_blocking(move || blobs.put_file(&path, max))
            .await
            .map_err(|e| TenantError::Invalid(e.to_string()))??;
        let file_name = item
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.library_place(Placed {
            title,
            file_name,
            mime: item.mime,
            sha,
            size,
            territories: item.territories,
            teams: item.teams,
        })
        .await
    }

    /// Writes the item for a blob stored already (`library_add`, or an
    /// upload from the web app): a new item, or a new version of the one
    /// with the same title.
    pub async fn library_place(&self, p: Placed) -> Result<LibraryItem, TenantError> {
        let title = self.check_library_item(&p.title, &p.territories, &p.teams)?;
        let file_name: String = p
            .file_name
            .chars()
            .filter(|c| !c.is_control() && !matches!(c, '"' | '/' | '\\'))
            .take(200)
            .collect();
        let mime = p.mime.unwrap_or_else(|| mime_of(&file_name).to_string());
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
                ("blob", FieldValue::Str(p.sha.clone())),
                ("mime", FieldValue::Str(mime.clone())),
                ("file_name", FieldValue::Str(file_name.clone())),
                (
                    "size",
                    FieldValue::Int(i64::try_from(p.size).unwrap_or(i64::MAX)),
                ),
                ("territories", FieldValue::Tags(p.territories.clone())),
                ("teams", FieldValue::Tags(p.teams.clone())),
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

    /// Withdraws a document (by id or title) from the library: devices
    /// delete their copy at their next download (`Device::prune_blobs`).
    /// The blob stays on the server, for messages that attached it.
    pub async fn library_remove(&self, what: &str) -> Result<LibraryItem, TenantError> {
        let what = what.trim();
        let item = self
            .library()
            .await
            .into_iter()
            .find(|i| i.id == what || i.title == what)
            .ok_or_else(|| TenantError::Invalid(format!("no library document {what:?}")))?;
        let doc = self
            .singleton(DocKind::Library)
            .ok_or_else(|| TenantError::Invalid("no library document".into()))?;
        let id = item.id.clone();
        self.edit_as_server(doc, DocKind::Library, |d| {
            d.delete_record(&["items"], &id)?;
            Ok(())
        })
        .await?;
        Ok(item)
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
    /// decision every blob route asks. The company's logo is everyone's
    /// (it heads every PDF a device makes).
    pub async fn may_fetch(&self, user: &str, sha: &str) -> Option<LibraryItem> {
        if !is_sha256(sha) || self.acl().role(user).is_none() {
            return None;
        }
        let mine = self.library_for(user).await;
        if let Some(item) = mine.into_iter().find(|i| i.blob == sha) {
            return Some(item);
        }
        if self.edit_parts().settings.company.logo.as_deref() != Some(sha) {
            return None;
        }
        let named = self.library().await.into_iter().find(|i| i.blob == sha);
        Some(LibraryItem {
            id: String::new(),
            title: "Logo".into(),
            blob: sha.to_string(),
            mime: named
                .as_ref()
                .map_or_else(|| "application/octet-stream".into(), |i| i.mime.clone()),
            file_name: named.map_or_else(|| "logo".into(), |i| i.file_name),
            size: 0,
            territories: Vec::new(),
            teams: Vec::new(),
            updated_at: 0,
        })
    }

    /// What heads the PDFs this server makes: the settings, and the logo
    /// when one is set and its blob is here (read bounded).
    pub async fn heading(&self) -> carnet_core::pdf::Heading {
        let settings = self.edit_parts().settings.clone();
        let mut logo = None;
        if let Some(path) = settings
            .company
            .logo
            .as_deref()
            .and_then(|s| self.blobs.path(s))
        {
            logo = tokio::task::spawn_blocking(move || carnet_core::pdf::read_logo(&path))
                .await
                .ok()
                .flatten();
        }
        carnet_core::pdf::Heading { settings, logo }
    }
}
