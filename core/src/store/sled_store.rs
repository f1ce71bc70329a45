//! The sled implementation of `Store`: one tree, keys prefixed by what they
//! hold, every batch applied atomically with `apply_batch` and flushed
//! before `write` returns when the caller asks for durability.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{RwLock, RwLockReadGuard};

use super::{Batch, Durability, Store, Stored};
use crate::error::StoreError;
use crate::ids::DocId;

const SNAPSHOT: u8 = b'S';
const CHUNK: u8 = b'C';
const SIDECAR: u8 = b'I';
const META: u8 = b'M';

pub struct SledStore {
    /// Swapped whole by `compact_files`; every other call holds it for
    /// reading.
    db: RwLock<sled::Db>,
    /// A compaction failed after it started replacing the files: nothing
    /// is served (the next `open` finishes the replacement).
    broken: AtomicBool,
    dir: PathBuf,
}

/// Where `compact` builds the new store, inside the store's directory.
const COMPACT_DIR: &str = ".compact";
/// In `COMPACT_DIR`: the copy is complete and durable.
const COPIED: &str = "COPIED";
/// In `COMPACT_DIR`: the old store's files are being deleted.
const MOVING: &str = "MOVING";
/// In `COMPACT_DIR`: they are, the copy's files are moving in.
const DELETED: &str = "DELETED";

fn key(prefix: u8, doc: DocId) -> Vec<u8> {
    let mut k = Vec::with_capacity(25);
    k.push(prefix);
    k.extend_from_slice(doc.0.as_bytes());
    k
}

fn doc_of(k: &[u8]) -> Result<DocId, StoreError> {
    k.get(1..17)
        .and_then(|b| uuid::Uuid::from_slice(b).ok())
        .map(DocId)
        .ok_or_else(|| StoreError::Corrupt {
            key: format!("{k:?}"),
            reason: "bad document key".into(),
        })
}

impl SledStore {
    /// The directory the store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Opens (or creates) the store in `dir`, first finishing a
    /// compaction a crash interrupted.
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        if dir.join(COMPACT_DIR).exists() && lock_free(&dir.join("db"))? {
            finish_compaction(dir)?;
        }
        Ok(SledStore {
            db: RwLock::new(open_db(dir)?),
            broken: AtomicBool::new(false),
            dir: dir.to_path_buf(),
        })
    }

    /// Whether `dir` holds a store (one `open` would not create).
    pub fn exists(dir: &Path) -> bool {
        dir.join("conf").exists()
    }

    /// Flushes, closes and releases the directory before returning: the
    /// same or another process can open it right after. (Dropping a store
    /// also flushes it, but sled's own threads release the directory lock a
    /// moment later.)
    pub fn close(self) -> Result<(), StoreError> {
        let db = self.db.into_inner().unwrap_or_else(|p| p.into_inner());
        close_db(db, &self.dir)
    }

    fn db(&self) -> Result<RwLockReadGuard<'_, sled::Db>, StoreError> {
        let db = self.db.read().unwrap_or_else(|p| p.into_inner());
        if self.broken.load(Ordering::SeqCst) {
            return Err(io(std::io::Error::other(
                "the store's files were being replaced when that failed: restart to finish",
            )));
        }
        Ok(db)
    }

    /// Rewrites the store into fresh files and swaps them in, so the bytes
    /// of overwritten and deleted values are gone from disk: sled appends
    /// every write to its log and keeps old values until its own segment
    /// cleaning, which nothing can force. Every document is written as one
    /// snapshot (its chunks folded in). Holds the store for the whole copy:
    /// other calls wait. A crash at any point leaves the old store or the
    /// new one, finished at the next `open`. Returns the bytes on disk
    /// before and after.
    pub fn compact_files(&self) -> Result<(u64, u64), StoreError> {
        let mut db = self.db.write().unwrap_or_else(|p| p.into_inner());
        db.flush()?;
        let before = db.size_on_disk()?;
        let work = self.dir.join(COMPACT_DIR);
        if work.exists() {
            std::fs::remove_dir_all(&work).map_err(io)?;
        }
        let fresh = open_db(&work)?;
        copy_folded(&db, &fresh)?;
        close_db(fresh, &work)?;
        durable_file(&work.join(COPIED))?;
        // Close the old store (a temporary one stands in meanwhile; the
        // write lock keeps everyone off it).
        let old = std::mem::replace(&mut *db, sled::Config::new().temporary(true).open()?);
        let swapped = close_db(old, &self.dir).and_then(|()| finish_compaction(&self.dir));
        // Failed half way (`MOVING`): serving either store would be wrong,
        // and a restart finishes the swap. Failed before: the old store
        // serves again, so the copy must go now; left, the next `open`
        // would resume it and put back a store without the writes made in
        // between (if it cannot go, nothing is served: the copy is then
        // still exact).
        let untouched = || !work.join(MOVING).exists() && std::fs::remove_dir_all(&work).is_ok();
        if swapped.is_err() && !untouched() {
            self.broken.store(true, Ordering::SeqCst);
            return swapped.map(|()| (before, before));
        }
        match open_db(&self.dir) {
            Ok(reopened) => *db = reopened,
            Err(e) => {
                self.broken.store(true, Ordering::SeqCst);
                return Err(e);
            }
        }
        swapped?;
        let after = db.size_on_disk()?;
        Ok((before, after))
    }
}

fn io(e: std::io::Error) -> StoreError {
    sled::Error::Io(e).into()
}

/// Creates `path` (empty) and makes it and its directory entry durable.
fn durable_file(path: &Path) -> Result<(), StoreError> {
    std::fs::File::create(path)
        .and_then(|f| f.sync_all())
        .map_err(io)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io)
}

/// Copies every value of `from` into `to`, each document as one snapshot.
fn copy_folded(from: &sled::Db, to: &sled::Db) -> Result<(), StoreError> {
    let mut batch = sled::Batch::default();
    let mut pending = 0usize;
    let mut last_doc: Option<DocId> = None;
    for kv in from.iter() {
        let (k, v) = kv?;
        match k.first() {
            Some(&SNAPSHOT) | Some(&CHUNK) => {
                let doc = doc_of(&k)?;
                if last_doc == Some(doc) {
                    continue;
                }
                last_doc = Some(doc);
                // Chunks sort after the snapshot key of their document.
                let mut bytes = from
                    .get(key(SNAPSHOT, doc))?
                    .map(|s| s.to_vec())
                    .unwrap_or_default();
                for c in from.scan_prefix(key(CHUNK, doc)) {
                    bytes.extend_from_slice(&c?.1);
                }
                pending += bytes.len();
                batch.insert(key(SNAPSHOT, doc), bytes);
            }
            _ => {
                pending += v.len();
                batch.insert(k, v);
            }
        }
        if pending > 8 * 1024 * 1024 {
            to.apply_batch(std::mem::take(&mut batch))?;
            pending = 0;
        }
    }
    to.apply_batch(batch)?;
    to.flush()?;
    Ok(())
}

/// Whether `name` is one of sled's own files in a store directory (the
/// library's blobs live beside them, named by their SHA-256).
fn sled_file(name: &str) -> bool {
    name == "conf" || name == "db" || name.starts_with("snap.")
}

fn sled_blob(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())
}

/// The regular files of `d` whose names `pick` accepts (none when `d`
/// does not exist). Directories never: the library keeps its blobs in
/// `blobs/<two hex digits>/`, which can look like sled's numbered blobs.
fn files_in(d: &Path, pick: fn(&str) -> bool) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    let rd = match std::fs::read_dir(d) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io(e)),
    };
    for e in rd {
        let e = e.map_err(io)?;
        let name = e.file_name().to_string_lossy().into_owned();
        if pick(&name) && e.file_type().map_err(io)?.is_file() {
            out.push(name);
        }
    }
    Ok(out)
}

/// Ends a compaction of the store in `dir`, in three steps each marked in
/// `COMPACT_DIR` before it starts, so that a crash anywhere resumes the
/// same step: without a complete copy the copy goes (the old store is
/// whole); then `MOVING`: the old store's files are deleted; then
/// `DELETED`: the copy's files move in.
fn finish_compaction(dir: &Path) -> Result<(), StoreError> {
    let work = dir.join(COMPACT_DIR);
    if !work.exists() {
        return Ok(());
    }
    if !work.join(COPIED).exists() {
        return std::fs::remove_dir_all(&work).map_err(io);
    }
    let blobs = dir.join("blobs");
    if !work.join(DELETED).exists() {
        durable_file(&work.join(MOVING))?;
        for n in files_in(dir, sled_file)? {
            std::fs::remove_file(dir.join(n)).map_err(io)?;
        }
        for n in files_in(&blobs, sled_blob)? {
            std::fs::remove_file(blobs.join(n)).map_err(io)?;
        }
        durable_file(&work.join(DELETED))?;
    }
    std::fs::create_dir_all(&blobs).map_err(io)?;
    for n in files_in(&work.join("blobs"), sled_blob)? {
        std::fs::rename(work.join("blobs").join(&n), blobs.join(&n)).map_err(io)?;
    }
    for n in files_in(&work, sled_file)? {
        std::fs::rename(work.join(&n), dir.join(&n)).map_err(io)?;
    }
    sync_dir(&blobs)?;
    sync_dir(dir)?;
    std::fs::remove_dir_all(&work).map_err(io)
}

/// Flushes and drops `db`, and waits until sled's threads let `dir` go.
fn close_db(db: sled::Db, dir: &Path) -> Result<(), StoreError> {
    db.flush()?;
    let lock_file = dir.join("db");
    drop(db);
    let deadline = std::time::Instant::now() + CLOSE_WAIT;
    loop {
        if lock_free(&lock_file)? {
            return Ok(());
        }
        if std::time::Instant::now() >= deadline {
            return Err(StoreError::Engine(sled::Error::Io(std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                format!("{} is still locked after closing", lock_file.display()),
            ))));
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// Opens sled in `dir`. sled releases its directory lock from its own
/// threads a moment after the last handle is dropped: a store reopened
/// right after it was closed (an app restarting its client) waits for
/// that, a little, instead of failing. A store held by another live
/// process still fails, after the wait.
fn open_db(dir: &Path) -> Result<sled::Db, StoreError> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        let opened = sled::Config::new()
            .path(dir)
            .cache_capacity(32 * 1024 * 1024)
            .open();
        match opened {
            Err(sled::Error::Io(e))
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.to_string().contains("could not acquire lock") =>
            {
                if std::time::Instant::now() >= deadline {
                    return Err(sled::Error::Io(e).into());
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return Ok(other?),
        }
    }
}

/// Whether nobody holds sled's lock on `file` (taken and released at once).
fn lock_free(file: &Path) -> Result<bool, StoreError> {
    use fs2::FileExt;
    let f = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(file)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(sled::Error::Io(e).into()),
    };
    match f.try_lock_exclusive() {
        Ok(()) => {
            let _ = f.unlock();
            Ok(true)
        }
        Err(e) if e.raw_os_error() == fs2::lock_contended_error().raw_os_error() => Ok(false),
        Err(e) => Err(sled::Error::Io(e).into()),
    }
}

/// How long `close` waits for sled's threads to let the directory go.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// How long `open` waits for a just-closed store's lock.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

impl Store for SledStore {
    fn blob_dir(&self) -> Option<std::path::PathBuf> {
        Some(self.dir.join("blobs"))
    }

    fn load(&self, doc: DocId) -> Result<Option<Stored>, StoreError> {
        let db = self.db()?;
        let snap = db.get(key(SNAPSHOT, doc))?;
        let mut bytes = snap.map(|s| s.to_vec()).unwrap_or_default();
        let mut chunks = 0;
        for kv in db.scan_prefix(key(CHUNK, doc)) {
            let (_, v) = kv?;
            bytes.extend_from_slice(&v);
            chunks += 1;
        }
        if bytes.is_empty() {
            return Ok(None);
        }
        Ok(Some(Stored { bytes, chunks }))
    }

    fn write(&self, batch: Batch, durability: Durability) -> Result<(), StoreError> {
        let db = self.db()?;
        let mut b = sled::Batch::default();
        for doc in batch.deletes.iter() {
            for kv in db.scan_prefix(key(CHUNK, *doc)) {
                let (k, _) = kv?;
                b.remove(k);
            }
            b.remove(key(SNAPSHOT, *doc));
            b.remove(key(SIDECAR, *doc));
        }
        for (doc, bytes) in batch.snapshots.iter() {
            for kv in db.scan_prefix(key(CHUNK, *doc)) {
                let (k, _) = kv?;
                b.remove(k);
            }
            b.insert(key(SNAPSHOT, *doc), bytes.as_slice());
        }
        for (doc, bytes) in batch.appends.iter() {
            let mut k = key(CHUNK, *doc);
            // Monotonic across restarts, so chunks load in write order.
            k.extend_from_slice(&db.generate_id()?.to_be_bytes());
            b.insert(k, bytes.as_slice());
        }
        for (doc, bytes) in batch.sidecars.iter() {
            b.insert(key(SIDECAR, *doc), bytes.as_slice());
        }
        for (k, v) in batch.meta.iter() {
            let mut mk = vec![META];
            mk.extend_from_slice(k.as_bytes());
            match v {
                Some(v) => b.insert(mk, v.as_slice()),
                None => b.remove(mk),
            }
        }
        db.apply_batch(b)?;
        if durability == Durability::Flushed {
            db.flush()?;
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        let db = self.db()?;
        db.flush()?;
        Ok(())
    }

    fn doc_ids(&self) -> Result<Vec<DocId>, StoreError> {
        let db = self.db()?;
        let mut ids = Vec::new();
        for kv in db.scan_prefix([SNAPSHOT]) {
            let (k, _) = kv?;
            ids.push(doc_of(&k)?);
        }
        // Documents that only have chunks so far (never compacted).
        let mut last: Option<DocId> = None;
        for kv in db.scan_prefix([CHUNK]) {
            let (k, _) = kv?;
            let d = doc_of(&k)?;
            if last != Some(d) {
                last = Some(d);
                if !ids.contains(&d) {
                    ids.push(d);
                }
            }
        }
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    fn sidecars(&self) -> Result<Vec<(DocId, Vec<u8>)>, StoreError> {
        let db = self.db()?;
        let mut out = Vec::new();
        for kv in db.scan_prefix([SIDECAR]) {
            let (k, v) = kv?;
            out.push((doc_of(&k)?, v.to_vec()));
        }
        Ok(out)
    }

    fn meta(&self, k: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let db = self.db()?;
        let mut mk = vec![META];
        mk.extend_from_slice(k.as_bytes());
        Ok(db.get(mk)?.map(|v| v.to_vec()))
    }

    fn meta_scan(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let db = self.db()?;
        let mut start = vec![META];
        start.extend_from_slice(after.unwrap_or(prefix).as_bytes());
        let mut full_prefix = vec![META];
        full_prefix.extend_from_slice(prefix.as_bytes());
        let mut out = Vec::new();
        for kv in db.range(start..) {
            let (k, v) = kv?;
            if !k.starts_with(&full_prefix) {
                break;
            }
            let key = String::from_utf8_lossy(&k[1..]).into_owned();
            if after == Some(key.as_str()) {
                continue;
            }
            out.push((key, v.to_vec()));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        let db = self.db()?;
        Ok(db.size_on_disk()?)
    }

    fn compact(&self) -> Result<(u64, u64), StoreError> {
        self.compact_files()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_load_in_order_after_snapshot_and_snapshot_drops_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let d = DocId::new();
        assert!(store.load(d).unwrap().is_none());
        let mut b = Batch::new();
        b.snapshot(d, b"snap".to_vec());
        store.write(b, Durability::Flushed).unwrap();
        for part in [b"-a".as_slice(), b"-b", b"-c"] {
            let mut b = Batch::new();
            b.append(d, part.to_vec());
            store.write(b, Durability::Flushed).unwrap();
        }
        let s = store.load(d).unwrap().unwrap();
        assert_eq!(s.bytes, b"snap-a-b-c");
        assert_eq!(s.chunks, 3);
        let mut b = Batch::new();
        b.snapshot(d, b"whole".to_vec())
            .sidecar(d, b"rows".to_vec());
        store.write(b, Durability::Flushed).unwrap();
        let s = store.load(d).unwrap().unwrap();
        assert_eq!(s.bytes, b"whole");
        assert_eq!(s.chunks, 0);
        assert_eq!(store.doc_ids().unwrap(), vec![d]);
        assert_eq!(store.sidecars().unwrap(), vec![(d, b"rows".to_vec())]);
    }

    #[test]
    fn meta_scan_pages_in_key_order_and_delete_doc_removes_everything() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let mut b = Batch::new();
        for i in [3u64, 1, 2, 10] {
            b.put_meta(format!("log/{i:016x}"), vec![i as u8]);
        }
        b.put_meta("other", vec![]);
        let d = DocId::new();
        b.snapshot(d, b"s".to_vec()).sidecar(d, b"r".to_vec());
        store.write(b, Durability::Flushed).unwrap();
        let all = store.meta_scan("log/", None, 100).unwrap();
        let vals: Vec<u8> = all.iter().map(|(_, v)| v[0]).collect();
        assert_eq!(vals, vec![1, 2, 3, 10]);
        let after = store.meta_scan("log/", Some(&all[1].0), 1).unwrap();
        assert_eq!(after[0].1, vec![3]);
        let mut b = Batch::new();
        b.append(d, b"c".to_vec());
        store.write(b, Durability::Flushed).unwrap();
        let mut b = Batch::new();
        b.delete_doc(d);
        store.write(b, Durability::Flushed).unwrap();
        assert!(store.load(d).unwrap().is_none());
        assert!(store.sidecars().unwrap().is_empty());
    }

    #[test]
    fn meta_round_trips_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            let mut b = Batch::new();
            b.put_meta("user", b"a@b.fr".to_vec());
            store.write(b, Durability::Flushed).unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.meta("user").unwrap(), Some(b"a@b.fr".to_vec()));
        let mut b = Batch::new();
        b.delete_meta("user");
        store.write(b, Durability::Flushed).unwrap();
        assert_eq!(store.meta("user").unwrap(), None);
    }

    fn files_contain(dir: &Path, needle: &[u8]) -> bool {
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if std::fs::read(&p)
                    .unwrap()
                    .windows(needle.len())
                    .any(|w| w == needle)
                {
                    return true;
                }
            }
        }
        false
    }

    #[test]
    fn compaction_leaves_no_overwritten_bytes_and_keeps_everything_else() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let d = DocId::new();
        let other = DocId::new();
        let secret = b"Lea-Dupre-0612345678".to_vec();
        let mut b = Batch::new();
        b.snapshot(d, [b"head-".as_slice(), &secret].concat())
            .snapshot(other, vec![7u8; 200_000])
            .put_meta("who", secret.clone());
        store.write(b, Durability::Flushed).unwrap();
        for part in [b"-a".as_slice(), b"-b"] {
            let mut b = Batch::new();
            b.append(d, part.to_vec());
            store.write(b, Durability::Flushed).unwrap();
        }
        // Library blobs beside sled's files stay, in directories named
        // like sled's numbered blobs too.
        std::fs::write(dir.path().join("blobs").join("ab".repeat(32)), b"pdf").unwrap();
        std::fs::create_dir_all(dir.path().join("blobs").join("42")).unwrap();
        std::fs::write(dir.path().join("blobs/42").join("42".repeat(32)), b"doc").unwrap();
        let mut b = Batch::new();
        b.snapshot(d, b"clean".to_vec())
            .put_meta("who", b"nobody".to_vec());
        store.write(b, Durability::Flushed).unwrap();
        let mut b = Batch::new();
        b.append(d, b"-c".to_vec());
        store.write(b, Durability::Flushed).unwrap();
        assert!(files_contain(dir.path(), &secret), "sled keeps old values");
        // Sizes are reported, not compared: sled preallocates segments.
        let (before, after) = store.compact_files().unwrap();
        assert!(before > 0 && after > 0);
        assert!(!files_contain(dir.path(), &secret));
        let s = store.load(d).unwrap().unwrap();
        assert_eq!(s.bytes, b"clean-c");
        assert_eq!(s.chunks, 0, "chunks folded into the snapshot");
        assert_eq!(store.load(other).unwrap().unwrap().bytes.len(), 200_000);
        assert_eq!(store.meta("who").unwrap(), Some(b"nobody".to_vec()));
        // Writes go on, chunks load after the snapshot, across a reopen.
        let mut b = Batch::new();
        b.append(d, b"-d".to_vec());
        store.write(b, Durability::Flushed).unwrap();
        store.close().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.load(d).unwrap().unwrap().bytes, b"clean-c-d");
        assert_eq!(store.doc_ids().unwrap().len(), 2);
        assert!(dir.path().join("blobs").join("ab".repeat(32)).is_file());
        assert!(dir.path().join("blobs/42").join("42".repeat(32)).is_file());
        assert!(!dir.path().join(COMPACT_DIR).exists());
    }

    #[test]
    fn a_compaction_cut_short_resumes_or_is_undone_at_open() {
        for (copied, moving, deleted) in [
            (false, false, false),
            (true, false, false),
            (true, true, false),
            (true, true, true),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let store = SledStore::open(dir.path()).unwrap();
            let mut b = Batch::new();
            b.put_meta("k", b"old".to_vec());
            store.write(b, Durability::Flushed).unwrap();
            store.close().unwrap();
            // What `compact_files` leaves when killed at each step.
            let work = dir.path().join(COMPACT_DIR);
            let copy = SledStore::open(&work).unwrap();
            let mut b = Batch::new();
            b.put_meta("k", b"new".to_vec());
            copy.write(b, Durability::Flushed).unwrap();
            copy.close().unwrap();
            if copied {
                std::fs::write(work.join(COPIED), b"").unwrap();
            }
            if moving {
                // Cut while deleting the old files: one is gone.
                std::fs::write(work.join(MOVING), b"").unwrap();
                std::fs::remove_file(dir.path().join("conf")).unwrap();
            }
            if deleted {
                // Cut while moving the copy in: one file moved.
                for e in std::fs::read_dir(dir.path()).unwrap() {
                    let e = e.unwrap();
                    if sled_file(&e.file_name().to_string_lossy()) {
                        std::fs::remove_file(e.path()).unwrap();
                    }
                }
                std::fs::write(work.join(DELETED), b"").unwrap();
                std::fs::rename(work.join("conf"), dir.path().join("conf")).unwrap();
            }
            let store = SledStore::open(dir.path()).unwrap();
            let want: &[u8] = if copied { b"new" } else { b"old" };
            assert_eq!(
                store.meta("k").unwrap().as_deref(),
                Some(want),
                "{copied} {moving}"
            );
            assert!(!work.exists());
        }
    }

    #[test]
    fn close_returns_only_once_the_directory_is_free() {
        let dir = tempfile::tempdir().unwrap();
        for round in 0..20u8 {
            let store = SledStore::open(dir.path()).unwrap();
            let mut b = Batch::new();
            b.put_meta(format!("round/{round}"), vec![round]);
            store.write(b, Durability::Buffered).unwrap();
            assert!(
                !lock_free(&dir.path().join("db")).unwrap(),
                "held while open"
            );
            store.close().unwrap();
            // No waiting here: the lock is free the moment close returns.
            assert!(lock_free(&dir.path().join("db")).unwrap(), "round {round}");
        }
        let store = SledStore::open(dir.path()).unwrap();
        // A buffered write is on disk after close (it flushes).
        assert_eq!(store.meta_scan("round/", None, 100).unwrap().len(), 20);
    }
}
