//! Automerge sync messages from a peer, bounded before automerge acts on
//! them. Automerge trusts what a message says about itself: a Bloom filter
//! with 2^32 − 1 probes makes it allocate 16 GiB per hash tested, one with
//! no bits divides by zero, and compressed changes inflate without limit.
//! `decode` refuses all of that with a typed error; both the server and the
//! device read every sync message through it.

use automerge::sync;
use thiserror::Error;

use crate::doc::chunks::{self, Budget};

/// Most heads one message may announce (one per concurrent writer).
pub const MAX_HEADS: usize = 256;
/// Most change hashes one message may ask for.
pub const MAX_NEED: usize = 1024;
/// Most `have` summaries in one message (automerge sends one).
pub const MAX_HAVE: usize = 4;
/// Bloom filter parameters: automerge uses 7 probes and 10 bits per entry.
pub const MAX_BLOOM_PROBES: u64 = 32;
pub const MAX_BLOOM_BITS_PER_ENTRY: u64 = 64;
/// Most entries (changes) one Bloom filter may summarise.
pub const MAX_BLOOM_ENTRIES: u64 = 100_000;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SyncMessageError {
    #[error("malformed sync message: {0}")]
    Malformed(String),
    #[error("sync message with {count} {what} (at most {max})")]
    TooMany {
        what: &'static str,
        count: usize,
        max: usize,
    },
    #[error("sync message with a bad Bloom filter: {0}")]
    BadBloom(String),
    #[error("malformed changes: {0}")]
    BadChanges(String),
}

fn at_most(what: &'static str, count: usize, max: usize) -> Result<(), SyncMessageError> {
    if count > max {
        return Err(SyncMessageError::TooMany { what, count, max });
    }
    Ok(())
}

fn uleb(input: &mut &[u8]) -> Option<u64> {
    let mut value: u64 = 0;
    for (i, b) in input.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            *input = &input[i + 1..];
            return Some(value);
        }
    }
    None
}

/// The parameters of an encoded Bloom filter must make it cheap to probe.
fn check_bloom(encoded: &[u8]) -> Result<(), SyncMessageError> {
    if encoded.is_empty() {
        return Ok(()); // empty filter: nothing is probed
    }
    let bad = |m: &str| SyncMessageError::BadBloom(m.to_string());
    let mut rest = encoded;
    let entries = uleb(&mut rest).ok_or_else(|| bad("bad header"))?;
    let bits = uleb(&mut rest).ok_or_else(|| bad("bad header"))?;
    let probes = uleb(&mut rest).ok_or_else(|| bad("bad header"))?;
    if !(1..=MAX_BLOOM_PROBES).contains(&probes) {
        return Err(bad(&format!("{probes} probes (1 to {MAX_BLOOM_PROBES})")));
    }
    if !(1..=MAX_BLOOM_BITS_PER_ENTRY).contains(&bits) {
        return Err(bad(&format!(
            "{bits} bits per entry (1 to {MAX_BLOOM_BITS_PER_ENTRY})"
        )));
    }
    if entries > MAX_BLOOM_ENTRIES {
        return Err(bad(&format!(
            "{entries} entries (at most {MAX_BLOOM_ENTRIES})"
        )));
    }
    if rest.is_empty() {
        return Err(bad("no bits"));
    }
    Ok(())
}

/// Decodes a sync message from a peer and checks every part that drives
/// allocation or CPU in automerge: counts of heads, needs and summaries,
/// Bloom filter parameters, and the changes (well-formed chunks whose
/// compressed parts inflate within one budget).
pub fn decode(bytes: &[u8]) -> Result<sync::Message, SyncMessageError> {
    let msg = decode_summary(bytes)?;
    verify_changes(&msg)?;
    Ok(msg)
}

/// `decode` without checking the changes: cheap (linear in the message's
/// size), for the caller that verifies the changes elsewhere
/// (`verify_changes`, CPU-heavy) before automerge applies them.
pub fn decode_summary(bytes: &[u8]) -> Result<sync::Message, SyncMessageError> {
    let msg =
        sync::Message::decode(bytes).map_err(|e| SyncMessageError::Malformed(e.to_string()))?;
    at_most("heads", msg.heads.len(), MAX_HEADS)?;
    at_most("needed hashes", msg.need.len(), MAX_NEED)?;
    at_most("summaries", msg.have.len(), MAX_HAVE)?;
    for have in &msg.have {
        at_most("last-sync hashes", have.last_sync.len(), MAX_HEADS)?;
        check_bloom(&have.bloom.to_bytes())?;
    }
    Ok(msg)
}

/// The message's changes are well-formed chunks whose compressed parts
/// and claimed operations fit one budget.
pub fn verify_changes(msg: &sync::Message) -> Result<(), SyncMessageError> {
    let mut budget = Budget::default();
    for change in msg.changes.iter() {
        chunks::verify_within(change, &mut budget).map_err(SyncMessageError::BadChanges)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use automerge::sync::SyncDoc;
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ROOT};

    use super::*;

    /// A real first message from a document with changes (it carries a
    /// Bloom filter once the peer's state says what it has).
    fn message_with_bloom() -> Vec<u8> {
        let mut a = AutoCommit::new();
        a.put(ROOT, "x", 1).unwrap();
        a.commit();
        let mut b = AutoCommit::new();
        b.put(ROOT, "y", 1).unwrap();
        b.commit();
        let (mut sa, mut sb) = (sync::State::new(), sync::State::new());
        let m1 = a.sync().generate_sync_message(&mut sa).unwrap();
        b.sync().receive_sync_message(&mut sb, m1).unwrap();
        let m = b.sync().generate_sync_message(&mut sb).unwrap();
        m.encode()
    }

    /// Re-encodes the message with its first summary's filter replaced.
    fn with_bloom(encoded: &[u8], entries: u64, bits: u64, probes: u64, body: &[u8]) -> Vec<u8> {
        let mut msg = sync::Message::decode(encoded).unwrap();
        assert!(
            !msg.have[0].bloom.to_bytes().is_empty(),
            "the sample carries a filter"
        );
        let mut filter = Vec::new();
        for v in [entries, bits, probes] {
            leb128::write::unsigned(&mut filter, v).unwrap();
        }
        filter.extend_from_slice(body);
        msg.have[0].bloom = sync::BloomFilter::try_from(filter.as_slice()).unwrap();
        msg.encode()
    }

    #[test]
    fn real_messages_pass() {
        let m = message_with_bloom();
        assert!(decode(&m).is_ok());
    }

    #[test]
    fn hostile_bloom_filters_are_refused_before_automerge_probes_them() {
        let m = message_with_bloom();
        let huge_probes = with_bloom(&m, 1, 10, u64::from(u32::MAX), &[0xff, 0xff]);
        assert!(matches!(
            decode(&huge_probes),
            Err(SyncMessageError::BadBloom(_))
        ));
        // Zero bits: automerge would divide by zero.
        let zero_bits = with_bloom(&m, 1, 0, 7, &[]);
        assert!(matches!(
            decode(&zero_bits),
            Err(SyncMessageError::BadBloom(_))
        ));
        let zero_probes = with_bloom(&m, 1, 10, 0, &[0xff, 0xff]);
        assert!(matches!(
            decode(&zero_probes),
            Err(SyncMessageError::BadBloom(_))
        ));
    }

    #[test]
    fn garbage_is_a_typed_error() {
        assert!(matches!(
            decode(b"\x42\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"),
            Err(SyncMessageError::Malformed(_))
        ));
        assert!(decode(&[]).is_err());
    }
}
