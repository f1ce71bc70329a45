//! The sled implementation of `Store`: one tree, keys prefixed by what they
//! hold, every batch applied atomically with `apply_batch` and flushed
//! before `write` returns when the caller asks for durability.

use std::path::{Path, PathBuf};

use super::{Batch, Durability, Store, Stored};
use crate::error::StoreError;
use crate::ids::DocId;

const SNAPSHOT: u8 = b'S';
const CHUNK: u8 = b'C';
const SIDECAR: u8 = b'I';
const META: u8 = b'M';

pub struct SledStore {
    db: sled::Db,
    dir: PathBuf,
}

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

    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        // sled releases its directory lock from its own threads a moment
        // after the last handle is dropped: a store reopened right after it
        // was closed (an app restarting its client) waits for that, a
        // little, instead of failing. A store held by another live process
        // still fails, after the wait.
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
                other => {
                    return Ok(SledStore {
                        db: other?,
                        dir: dir.to_path_buf(),
                    })
                }
            }
        }
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
        self.db.flush()?;
        let lock_file = self.dir.join("db");
        drop(self.db);
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
        let snap = self.db.get(key(SNAPSHOT, doc))?;
        let mut bytes = snap.map(|s| s.to_vec()).unwrap_or_default();
        let mut chunks = 0;
        for kv in self.db.scan_prefix(key(CHUNK, doc)) {
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
        let mut b = sled::Batch::default();
        for doc in batch.deletes.iter() {
            for kv in self.db.scan_prefix(key(CHUNK, *doc)) {
                let (k, _) = kv?;
                b.remove(k);
            }
            b.remove(key(SNAPSHOT, *doc));
            b.remove(key(SIDECAR, *doc));
        }
        for (doc, bytes) in batch.snapshots.iter() {
            for kv in self.db.scan_prefix(key(CHUNK, *doc)) {
                let (k, _) = kv?;
                b.remove(k);
            }
            b.insert(key(SNAPSHOT, *doc), bytes.as_slice());
        }
        for (doc, bytes) in batch.appends.iter() {
            let mut k = key(CHUNK, *doc);
            // Monotonic across restarts, so chunks load in write order.
            k.extend_from_slice(&self.db.generate_id()?.to_be_bytes());
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
        self.db.apply_batch(b)?;
        if durability == Durability::Flushed {
            self.db.flush()?;
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    fn doc_ids(&self) -> Result<Vec<DocId>, StoreError> {
        let mut ids = Vec::new();
        for kv in self.db.scan_prefix([SNAPSHOT]) {
            let (k, _) = kv?;
            ids.push(doc_of(&k)?);
        }
        // Documents that only have chunks so far (never compacted).
        let mut last: Option<DocId> = None;
        for kv in self.db.scan_prefix([CHUNK]) {
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
        let mut out = Vec::new();
        for kv in self.db.scan_prefix([SIDECAR]) {
            let (k, v) = kv?;
            out.push((doc_of(&k)?, v.to_vec()));
        }
        Ok(out)
    }

    fn meta(&self, k: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut mk = vec![META];
        mk.extend_from_slice(k.as_bytes());
        Ok(self.db.get(mk)?.map(|v| v.to_vec()))
    }

    fn meta_scan(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut start = vec![META];
        start.extend_from_slice(after.unwrap_or(prefix).as_bytes());
        let mut full_prefix = vec![META];
        full_prefix.extend_from_slice(prefix.as_bytes());
        let mut out = Vec::new();
        for kv in self.db.range(start..) {
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
        Ok(self.db.size_on_disk()?)
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
