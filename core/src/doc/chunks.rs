//! Strict checking of Automerge bytes received from elsewhere, before they
//! are merged. `load_incremental` keeps what it can parse of damaged input
//! and drops the rest silently; we want damaged input refused whole. The
//! bytes are a sequence of chunks (magic, checksum, type, LEB128 length,
//! body); each document chunk must load on its own and each change chunk
//! must decode with a valid checksum. Dependencies are not required here:
//! incremental changes depend on what the receiver already has.
//!
//! Automerge expands what it reads without limits in two ways: it inflates
//! compressed chunks and compressed document columns (a few hundred KiB of
//! deflated zeros become gigabytes), and it believes the run lengths of
//! its run-length encoded columns (a 119-byte change can claim a million
//! operations; a few more bytes, billions). Every chunk is walked here
//! first: deflated parts are inflated against a budget of bytes, and every
//! column's entries are counted from its run lengths (in time linear in its
//! bytes, not in what it claims) against a budget of operations; past
//! either, the input is refused before automerge sees it.

use std::io::Read;

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// Column specs with this bit set are deflated (automerge's storage format).
const DEFLATE_BIT: u64 = 0b1000;

/// Most bytes that the deflated parts of one untrusted input may inflate to.
pub const MAX_INFLATED_BYTES: usize = 32 * 1024 * 1024;
/// Most operations (entries of any one column) one untrusted input may
/// claim, all its chunks together. Automerge holds roughly 0.5 KB per
/// operation while applying them; a customer file has thousands.
pub const MAX_OPS: u64 = 1_000_000;

/// What one untrusted input may still expand to (a frame's payload for one
/// document may be several chunk lists: they share one budget).
#[derive(Debug, Clone)]
pub struct Budget {
    inflated_left: usize,
    ops_left: u64,
}

impl Budget {
    pub fn new(inflated_bytes: usize, ops: u64) -> Self {
        Budget {
            inflated_left: inflated_bytes,
            ops_left: ops,
        }
    }

    /// Inflates `deflated`, failing once the budget is spent.
    fn inflate(&mut self, deflated: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let limit = self.inflated_left as u64 + 1;
        flate2::bufread::DeflateDecoder::new(deflated)
            .take(limit)
            .read_to_end(&mut out)
            .map_err(|_| "bad compressed data".to_string())?;
        if out.len() > self.inflated_left {
            return Err(format!(
                "compressed data inflates past the {MAX_INFLATED_BYTES}-byte limit"
            ));
        }
        self.inflated_left -= out.len();
        Ok(out)
    }

    /// Takes `ops` operations from the budget.
    fn claim(&mut self, ops: u64) -> Result<(), String> {
        if ops > self.ops_left {
            return Err(format!("changes claim more than {MAX_OPS} operations"));
        }
        self.ops_left -= ops;
        Ok(())
    }
}

impl Default for Budget {
    fn default() -> Self {
        Budget::new(MAX_INFLATED_BYTES, MAX_OPS)
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
        let (v, used) = leb128(self.rest).ok_or("bad length in chunk")?;
        self.rest = &self.rest[used..];
        Ok(v)
    }

    /// A signed LEB128 value (only its magnitude matters here).
    fn sleb(&mut self) -> Result<i64, String> {
        let mut value: i64 = 0;
        for (i, b) in self.rest.iter().enumerate().take(10) {
            value |= i64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                let shift = 7 * (i + 1);
                if shift < 64 && b & 0x40 != 0 {
                    value |= -1i64 << shift;
                }
                self.rest = &self.rest[i + 1..];
                return Ok(value);
            }
        }
        Err("bad number in chunk".into())
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], String> {
        let n = usize::try_from(n)
            .ok()
            .filter(|n| *n <= self.rest.len())
            .ok_or("truncated chunk")?;
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn skip_prefixed(&mut self) -> Result<(), String> {
        let len = self.uleb()?;
        self.take(len).map(|_| ())
    }

    /// Column metadata: (spec, length) pairs.
    fn columns(&mut self) -> Result<Vec<(u64, u64)>, String> {
        let n = self.uleb()?;
        // Each pair takes at least two bytes: a count past that is a lie.
        if n > self.rest.len() as u64 / 2 {
            return Err("bad column count in chunk".into());
        }
        (0..n).map(|_| Ok((self.uleb()?, self.uleb()?))).collect()
    }
}

/// How many entries a column holds, from its encoding (automerge's
/// columnar format): run-length encoded columns are `count, value` runs,
/// `-count` literal values, or `0, nulls` runs; boolean columns are
/// alternating run lengths; raw value bytes have no entries of their own.
/// Stops as soon as the count passes `limit`.
fn column_entries(spec: u64, data: &[u8], limit: u64) -> Result<u64, String> {
    const GROUP: u64 = 0;
    const ACTOR: u64 = 1;
    const ULEB: u64 = 2;
    const DELTA: u64 = 3;
    const BOOLEAN: u64 = 4;
    const STRING: u64 = 5;
    const VALUE_META: u64 = 6;
    let ty = spec & 0b111;
    let mut c = Cursor { rest: data };
    let mut entries: u64 = 0;
    let over = || format!("changes claim more than {MAX_OPS} operations");
    let value = |c: &mut Cursor<'_>| -> Result<(), String> {
        match ty {
            DELTA => c.sleb().map(|_| ()),
            STRING => c.skip_prefixed(),
            _ => c.uleb().map(|_| ()),
        }
    };
    match ty {
        BOOLEAN => {
            while !c.rest.is_empty() {
                entries = entries.saturating_add(c.uleb()?);
                if entries > limit {
                    return Err(over());
                }
            }
        }
        GROUP | ACTOR | ULEB | DELTA | STRING | VALUE_META => {
            while !c.rest.is_empty() {
                let count = c.sleb()?;
                let n = if count > 0 {
                    value(&mut c)?;
                    count.unsigned_abs()
                } else if count < 0 {
                    let n = count.unsigned_abs();
                    if n > c.rest.len() as u64 {
                        return Err("bad run in chunk".into());
                    }
                    for _ in 0..n {
                        value(&mut c)?;
                    }
                    n
                } else {
                    c.uleb()?
                };
                entries = entries.saturating_add(n);
                if entries > limit {
                    return Err(over());
                }
            }
        }
        _ => {} // raw value bytes
    }
    Ok(entries)
}

/// Checks columns (spec, data) of one chunk: inflates deflated ones and
/// claims the longest column's entries from the budget.
fn check_columns(
    columns: Vec<(u64, u64)>,
    c: &mut Cursor<'_>,
    budget: &mut Budget,
) -> Result<(), String> {
    let mut longest = 0;
    for (spec, len) in columns {
        let data = c.take(len)?;
        let inflated;
        let data = if spec & DEFLATE_BIT != 0 {
            inflated = budget.inflate(data)?;
            &inflated[..]
        } else {
            data
        };
        longest = longest.max(column_entries(spec, data, budget.ops_left)?);
    }
    budget.claim(longest)
}

/// A document chunk's body: actors, heads, change columns, op columns.
fn check_document(body: &[u8], budget: &mut Budget) -> Result<(), String> {
    let mut c = Cursor { rest: body };
    let actors = c.uleb()?;
    for _ in 0..actors {
        c.skip_prefixed()?;
    }
    let heads = c.uleb()?;
    c.take(heads.checked_mul(32).ok_or("bad head count")?)?;
    let change_cols = c.columns()?;
    let op_cols = c.columns()?;
    check_columns(change_cols, &mut c, budget)?;
    check_columns(op_cols, &mut c, budget)
}

/// A change chunk's body: dependencies, actor, numbers, message, other
/// actors, op columns.
fn check_change(body: &[u8], budget: &mut Budget) -> Result<(), String> {
    let mut c = Cursor { rest: body };
    let deps = c.uleb()?;
    c.take(deps.checked_mul(32).ok_or("bad dependency count")?)?;
    c.skip_prefixed()?; // actor
    c.uleb()?; // seq
    c.uleb()?; // start op
    c.sleb()?; // time
    c.skip_prefixed()?; // message
    let others = c.uleb()?;
    for _ in 0..others {
        c.skip_prefixed()?;
    }
    let cols = c.columns()?;
    check_columns(cols, &mut c, budget)
}

/// Checks that `bytes` are well-formed Automerge chunks whose compressed
/// parts inflate to at most `MAX_INFLATED_BYTES`.
pub fn verify(bytes: &[u8]) -> Result<(), String> {
    verify_within(bytes, &mut Budget::default())
}

/// `verify`, drawing inflated bytes from a budget shared with other inputs.
pub fn verify_within(bytes: &[u8], budget: &mut Budget) -> Result<(), String> {
    walk(bytes, budget, true)
}

/// Only the bounds of `verify` (chunk framing, chunk types, inflated
/// size, claimed operations), without parsing each chunk: for bytes that go to a strict
/// `Automerge::load` next, which refuses damage itself (and would
/// otherwise parse every chunk a second time).
pub fn check_inflation(bytes: &[u8]) -> Result<(), String> {
    walk(bytes, &mut Budget::default(), false)
}

/// Walks the chunks: framing, types, inflated size and claimed operations
/// within `budget`, and each chunk parsed by automerge when `parse`.
fn walk(bytes: &[u8], budget: &mut Budget, parse: bool) -> Result<(), String> {
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
                check_document(body, budget)?;
                if parse {
                    automerge::Automerge::load(chunk)
                        .map_err(|e| format!("bad document chunk: {e}"))?;
                }
            }
            1 | 2 => {
                if kind == 2 {
                    let inflated = budget.inflate(body)?;
                    check_change(&inflated, budget)?;
                } else {
                    check_change(body, budget)?;
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
        let err = verify_within(&saved, &mut Budget::new(16, MAX_OPS)).unwrap_err();
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

    #[test]
    fn run_lengths_claiming_too_many_operations_are_refused_unread() {
        use automerge::ObjType;
        let mut a = AutoCommit::new();
        let list = a.put_object(ROOT, "l", ObjType::List).unwrap();
        a.commit();
        let base = a.get_heads();
        let n: i64 = 1 << 14;
        a.splice(&list, 0, 0, vec![automerge::ScalarValue::Null; n as usize])
            .unwrap();
        a.commit();
        let change = a.get_changes(&base)[0].raw_bytes().to_vec();
        assert_eq!(change[8], 1, "an uncompressed change chunk");
        assert_eq!(verify(&change), Ok(()), "the real change passes");
        // 16,384 list inserts take ~100 bytes of runs: rewrite
        // the run lengths (same width) so they claim a million operations.
        let claim: i64 = (1 << 20) - 1;
        let sleb = |v: i64| {
            let mut b = Vec::new();
            leb128::write::signed(&mut b, v).unwrap();
            b
        };
        let mut patched = change.clone();
        let mut runs = 0;
        for k in 0..3 {
            let (from, to) = (sleb(n - k), sleb(claim - k));
            assert_eq!(from.len(), to.len());
            let mut i = 0;
            while i + from.len() <= patched.len() {
                if patched[i..i + from.len()] == from[..] {
                    patched[i..i + from.len()].copy_from_slice(&to);
                    runs += 1;
                    i += from.len();
                } else {
                    i += 1;
                }
            }
        }
        assert!(runs >= 5, "found the runs: {runs}");
        let err = check_inflation(&patched).unwrap_err();
        assert!(err.contains("operations"), "{err}");
        let err = verify(&patched).unwrap_err();
        assert!(err.contains("operations"), "{err}");
        // Five bytes of run length would claim billions: refused the same.
        let mut budget = Budget::new(MAX_INFLATED_BYTES, 10);
        assert!(verify_within(&change, &mut budget).is_err());
    }
}
