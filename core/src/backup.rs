//! A whole store as one JSON Lines file, and back: every document with its
//! full history (the Automerge bytes as stored) and every meta entry (users,
//! credentials, device tokens, counters, the sync log), so a restored
//! server answers its devices exactly as before. Written and read as it
//! streams: one line per entry, each bounded. The blobs of the library
//! live beside the store, as files, and are copied as files.
//!
//! The file holds credential hashes and device token hashes: keep it as
//! private as the data directory.

use std::io::{BufRead, Read, Write};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::doc::CrmDoc;
use crate::error::{CoreError, Result, ValidationError};
use crate::ids::DocId;
use crate::index::DocRows;
use crate::store::{Batch, Durability, Store};

pub const FORMAT: &str = "carnet-backup";
pub const VERSION: u32 = 1;
/// The longest line read back (a document's base64 bytes).
pub const MAX_LINE: usize = 256 << 20;
const PAGE: usize = 10_000;

#[derive(Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum Line {
    Header { format: String, version: u32 },
    Meta { key: String, value: String },
    Doc { id: DocId, bytes: String },
    End { docs: u64, meta: u64 },
}

/// What a backup or a restore held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub docs: u64,
    pub meta: u64,
}

fn io(e: impl std::fmt::Display) -> CoreError {
    CoreError::Export(format!("backup: {e}"))
}

fn put(out: &mut impl Write, line: &Line) -> Result<()> {
    serde_json::to_writer(&mut *out, line).map_err(io)?;
    out.write_all(b"\n").map_err(io)
}

/// Writes `store` to `out`.
pub fn write(store: &impl Store, mut out: impl Write) -> Result<Counts> {
    let mut n = Counts::default();
    put(
        &mut out,
        &Line::Header {
            format: FORMAT.into(),
            version: VERSION,
        },
    )?;
    let mut after: Option<String> = None;
    loop {
        let page = store.meta_scan("", after.as_deref(), PAGE)?;
        for (key, value) in &page {
            put(
                &mut out,
                &Line::Meta {
                    key: key.clone(),
                    value: B64.encode(value),
                },
            )?;
            n.meta += 1;
        }
        match page.last() {
            Some((k, _)) if page.len() == PAGE => after = Some(k.clone()),
            _ => break,
        }
    }
    for id in store.doc_ids()? {
        let Some(stored) = store.load(id)? else {
            continue;
        };
        put(
            &mut out,
            &Line::Doc {
                id,
                bytes: B64.encode(&stored.bytes),
            },
        )?;
        n.docs += 1;
    }
    put(
        &mut out,
        &Line::End {
            docs: n.docs,
            meta: n.meta,
        },
    )?;
    out.flush().map_err(io)?;
    Ok(n)
}

fn bad(line: u64, reason: impl std::fmt::Display) -> CoreError {
    ValidationError::Rule(format!("backup line {line}: {reason}")).into()
}

/// Restores a backup into `store`, which must be empty. Every document is
/// checked (it loads) and indexed; nothing is flushed until the end, and
/// a backup without its end line (cut short) is refused.
pub fn restore(store: &impl Store, mut input: impl BufRead) -> Result<Counts> {
    if !store.doc_ids()?.is_empty() || !store.meta_scan("", None, 1)?.is_empty() {
        return Err(ValidationError::Rule("restore needs an empty store".into()).into());
    }
    let mut n = Counts::default();
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    let mut ended = false;
    loop {
        buf.clear();
        let read = input
            .by_ref()
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(io)?;
        if read == 0 {
            break;
        }
        line_no += 1;
        if buf.len() > MAX_LINE {
            return Err(bad(line_no, format!("longer than {} MB", MAX_LINE >> 20)));
        }
        if ended {
            return Err(bad(line_no, "data after the end line"));
        }
        let line: Line = serde_json::from_slice(&buf).map_err(|e| bad(line_no, e))?;
        match line {
            Line::Header { format, version } => {
                if line_no != 1 || format != FORMAT || version != VERSION {
                    return Err(bad(
                        line_no,
                        format!("not a {FORMAT} v{VERSION} header ({format} v{version})"),
                    ));
                }
            }
            _ if line_no == 1 => return Err(bad(1, "no header: not a Carnet backup")),
            Line::Meta { key, value } => {
                let value = B64.decode(value).map_err(|e| bad(line_no, e))?;
                let mut b = Batch::new();
                b.put_meta(key, value);
                store.write(b, Durability::Buffered)?;
                n.meta += 1;
            }
            Line::Doc { id, bytes } => {
                let bytes = B64.decode(bytes).map_err(|e| bad(line_no, e))?;
                // From outside: bounded inflation first, then a strict load.
                let mut doc = CrmDoc::load_foreign(id, &bytes).map_err(|e| bad(line_no, e))?;
                let rows = DocRows::of(&mut doc)?;
                let mut b = Batch::new();
                b.snapshot(id, bytes);
                b.sidecar(id, rows.encode());
                store.write(b, Durability::Buffered)?;
                n.docs += 1;
            }
            Line::End { docs, meta } => {
                if (docs, meta) != (n.docs, n.meta) {
                    return Err(bad(
                        line_no,
                        format!(
                            "the end line counts {docs} documents and {meta} entries, the file holds {} and {}",
                            n.docs, n.meta
                        ),
                    ));
                }
                ended = true;
            }
        }
    }
    if !ended {
        return Err(ValidationError::Rule(
            "the backup is cut short (no end line): nothing usable was restored".into(),
        )
        .into());
    }
    store.flush()?;
    Ok(n)
}
