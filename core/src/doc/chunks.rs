//! Strict checking of Automerge bytes received from elsewhere, before they
//! are merged. `load_incremental` keeps what it can parse of damaged input
//! and drops the rest silently; we want damaged input refused whole. The
//! bytes are a sequence of chunks (magic, checksum, type, LEB128 length,
//! body); each document chunk must load on its own and each change chunk
//! must decode with a valid checksum. Dependencies are not required here:
//! incremental changes depend on what the receiver already has.
//!
//! Automerge inflates compressed chunks and compressed document columns
//! with no limit, so a few hundred KiB of deflated zeros become gigabytes.
//! Every deflated part is inflated here first, against a budget of
//! inflated bytes (`MAX_INFLATED_BYTES` per call, or a budget shared by
//! several calls), and refused past it before automerge sees it.

use std::io::Read;

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// Column specs with this bit set are deflated (automerge's storage format).
const DEFLATE_BIT: u64 = 0b1000;

/// Most bytes that the deflated parts of one untrusted input may inflate to.
pub const MAX_INFLATED_BYTES: usize = 32 * 1024 * 1024;

/// Inflated bytes still allowed for one untrusted input (a frame's payload
/// for one document may be several chunk lists: they share one budget).
#[derive(Debug, Clone)]
pub struct InflateBudget {
    left: usize,
}

impl InflateBudget {
    pub fn new(bytes: usize) -> Self {
        InflateBudget { left: bytes }
    }

    /// Inflates `deflated`, failing once the budget is spent.
    fn inflate(&mut self, deflated: &[u8]) -> Result<usize, String> {
        let mut out = Vec::new();
        let limit = self.left as u64 + 1;
        flate2::bufread::DeflateDecoder::new(deflated)
            .take(limit)
            .read_to_end(&mut out)
            .map_err(|_| "bad compressed data".to_string())?;
        if out.len() > self.left {
            return Err(format!(
                "compressed data inflates past the {MAX_INFLATED_BYTES}-byte limit"
            ));
        }
        self.left -= out.len();
        Ok(out.len())
    }
}

impl Default for InflateBudget {
    fn default() -> Self {
        InflateBudget::new(MAX_INFLATED_BYTES)
    }
}

fn leb128(input: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, b) in input.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// A cursor over a chunk body, every read bounded by what is there.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn uleb(&mut self) -> Result<u64, String> {
        let (v, used) = leb128(self.rest).ok_or("bad length in document chunk")?;
        self.rest = &self.rest[used..];
        Ok(v)
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], String> {
        let n = usize::try_from(n)
            .ok()
            .filter(|n| *n <= self.rest.len())
            .ok_or("truncated document chunk")?;
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    /// Column metadata: (spec, length) pairs.
    fn columns(&mut self) -> Result<Vec<(u64, u64)>, String> {
        let n = self.uleb()?;
        // Each pair takes at least two bytes: a count past that is a lie.
        if n > self.rest.len() as u64 / 2 {
            return Err("bad column count in document chunk".into());
        }
        (0..n).map(|_| Ok((self.uleb()?, self.uleb()?))).collect()
    }
}

/// Inflates the deflated columns of a document chunk body within `budget`.
fn check_document_columns(body: &[u8], budget: &mut InflateBudget) -> Result<(), String> {
    let mut c = Cursor { rest: body };
    let actors = c.uleb()?;
    for _ in 0..actors {
        let len = c.uleb()?;
        c.take(len)?;
    }
    let heads = c.uleb()?;
    c.take(heads.checked_mul(32).ok_or("bad head count")?)?;
    let change_cols = c.columns()?;
    let op_cols = c.columns()?;
    for (spec, len) in change_cols.into_iter().chain(op_cols) {
        let data = c.take(len)?;
        if spec & DEFLATE_BIT != 0 {
            budget.inflate(data)?;
        }
    }
    Ok(())
}

/// Checks that `bytes` are well-formed Automerge chunks whose compressed
/// parts inflate to at most `MAX_INFLATED_BYTES`.
pub fn verify(bytes: &[u8]) -> Result<(), String> {
    verify_within(bytes, &mut InflateBudget::default())
}

/// `verify`, drawing inflated bytes from a budget shared with other inputs.
pub fn verify_within(bytes: &[u8], budget: &mut InflateBudget) -> Result<(), String> {
    walk(bytes, budget, true)
}

/// Only the bounds of `verify` (chunk framing, chunk types, inflated
/// size), without parsing each chunk: for bytes that go to a strict
/// `Automerge::load` next, which refuses damage itself (and would
/// otherwise parse every chunk a second time).
pub fn check_inflation(bytes: &[u8]) -> Result<(), String> {
    walk(bytes, &mut InflateBudget::default(), false)
}

/// Walks the chunks: framing and types always, inflated size within
/// `budget`, and each chunk parsed by automerge when `parse`.
fn walk(bytes: &[u8], budget: &mut InflateBudget, parse: bool) -> Result<(), String> {
    if bytes.is_empty() {
        return Err("no data".into());
    }
    let mut rest = bytes;
    while !rest.is_empty() {
        if rest.len() < 9 || rest[..4] != MAGIC {
            return Err("not an Automerge chunk".into());
        }
        let kind = rest[8];
        let (len, used) = leb128(&rest[9..]).ok_or("bad chunk length")?;
        let header = 9 + used;
        let total = usize::try_from(len)
            .ok()
            .and_then(|l| l.checked_add(header))
            .filter(|t| *t <= rest.len())
            .ok_or("truncated chunk")?;
        let chunk = &rest[..total];
        let body = &chunk[header..];
        match kind {
            0 => {
                check_document_columns(body, budget)?;
                if parse {
                    automerge::Automerge::load(chunk)
                        .map_err(|e| format!("bad document chunk: {e}"))?;
                }
            }
            1 | 2 => {
                if kind == 2 {
                    budget.inflate(body)?;
                }
                if parse {
                    automerge::Change::from_bytes(chunk.to_vec())
                        .map_err(|e| format!("bad change chunk: {e}"))?;
                }
            }
            other => return Err(format!("unsupported chunk type {other}")),
        }
        rest = &rest[total..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ROOT};

    use super::*;

    #[test]
    fn accepts_documents_and_incremental_changes_refuses_damage() {
        let mut a = AutoCommit::new();
        a.put(ROOT, "x", 1).unwrap();
        a.commit();
        let heads = a.get_heads();
        let whole = a.save();
        a.put(ROOT, "y", 2).unwrap();
        a.commit();
        a.put(ROOT, "z", 3).unwrap();
        a.commit();
        let incremental = a.save_after(&heads);
        assert_eq!(verify(&whole), Ok(()));
        assert_eq!(verify(&incremental), Ok(()), "deps are not required");
        let mut both = whole.clone();
        both.extend(&incremental);
        assert_eq!(verify(&both), Ok(()));
        assert!(verify(&incremental[..incremental.len() - 3]).is_err());
        let mut flipped = incremental.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff;
        assert!(verify(&flipped).is_err());
        assert!(verify(b"garbage").is_err());
        assert!(verify(&[]).is_err());
        let mut trailing = whole.clone();
        trailing.push(0);
        assert!(verify(&trailing).is_err());
    }

    #[test]
    fn compressed_parts_inflate_within_the_budget_or_are_refused() {
        use std::io::Write;
        // A document big enough for automerge to deflate its columns.
        let mut a = AutoCommit::new();
        for i in 0..2_000 {
            a.put(ROOT, format!("key{i}"), "the same words again and again")
                .unwrap();
        }
        a.commit();
        let saved = a.save();
        assert_eq!(verify(&saved), Ok(()));
        let err = verify_within(&saved, &mut InflateBudget::new(16)).unwrap_err();
        assert!(err.contains("inflates past"), "{err}");

        // A compressed change chunk of 64 MiB of zeros (~64 KiB on the wire).
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        let block = vec![0u8; 1 << 20];
        for _ in 0..64 {
            z.write_all(&block).unwrap();
        }
        let deflated = z.finish().unwrap();
        let mut bomb = MAGIC.to_vec();
        bomb.extend([0, 0, 0, 0, 2]);
        leb128::write::unsigned(&mut bomb, deflated.len() as u64).unwrap();
        bomb.extend(&deflated);
        let err = verify(&bomb).unwrap_err();
        assert!(err.contains("inflates past"), "{err}");
    }
}
