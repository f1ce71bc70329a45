//! Strict checking of Automerge bytes received from elsewhere, before they
//! are merged. `load_incremental` keeps what it can parse of damaged input
//! and drops the rest silently; we want damaged input refused whole. The
//! bytes are a sequence of chunks (magic, checksum, type, LEB128 length,
//! body); each document chunk must load on its own and each change chunk
//! must decode with a valid checksum. Dependencies are not required here:
//! incremental changes depend on what the receiver already has.

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

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

/// Checks that `bytes` are well-formed Automerge chunks.
pub fn verify(bytes: &[u8]) -> Result<(), String> {
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
        match kind {
            0 => {
                automerge::Automerge::load(chunk)
                    .map_err(|e| format!("bad document chunk: {e}"))?;
            }
            1 | 2 => {
                automerge::Change::from_bytes(chunk.to_vec())
                    .map_err(|e| format!("bad change chunk: {e}"))?;
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
}
