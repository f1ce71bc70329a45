//! The wire format of the sync protocol, version 2 (see docs/protocol.md).
//!
//! Every websocket binary message is one frame: the 3 bytes `CRN`, one byte
//! of protocol version, then the postcard encoding of a `Frame`. Decoding
//! never panics: a short, foreign, oversized or malformed message is a typed
//! `FrameError`.

use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::ids::{DocId, DocKind};

pub const MAGIC: [u8; 3] = *b"CRN";
/// The version this side speaks: 2 added `Replace` (a document rewritten
/// to erase a person).
pub const PROTOCOL_VERSION: u8 = 2;
/// The oldest version a server still serves (a device of that version is
/// answered in it, and never sent a frame it does not know).
pub const MIN_PROTOCOL_VERSION: u8 = 1;
/// Largest frame either side accepts.
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;
/// Most documents in one frame's batch.
pub const MAX_BATCH_DOCS: usize = 1024;

/// A change hash (32 bytes).
pub type Hash = [u8; 32];

/// One document's Automerge sync message; an empty `msg` means "nothing
/// more to say about this document".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocMsg {
    pub doc: DocId,
    pub msg: Vec<u8>,
}

/// One document in an `Up` frame: the heads the device has, and the
/// changes the server may lack (empty when the device has nothing new).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpDoc {
    pub doc: DocId,
    pub heads: Vec<Hash>,
    pub changes: Vec<u8>,
}

/// A document the server rewrote without its history (a person was
/// erased from it): the device drops its copy and fetches the new one,
/// replaying its own unacknowledged edits except those of `erased`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replaced {
    pub doc: DocId,
    /// Ids of the erased records (contacts).
    pub erased: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    /// The frame could not be decoded.
    BadFrame,
    /// The peer speaks another protocol version.
    UnsupportedVersion,
    /// Wrong password, unknown or revoked device token.
    Unauthorized,
    /// A frame or batch over the limits.
    TooLarge,
    /// A frame that is valid but not expected now.
    Unexpected,
    /// The server failed; try again later.
    Internal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Frame {
    /// C→S, first frame when the device has no token yet.
    Login {
        email: String,
        password: String,
        device_name: String,
    },
    /// S→C: the device token to present in every later `Hello`.
    LoggedIn {
        user: String,
        tenant: Uuid,
        device: Uuid,
        token: String,
    },
    /// C→S, first frame of a sync session.
    Hello {
        device: Uuid,
        token: String,
        /// The server sequence up to which the device has everything.
        cursor: u64,
    },
    /// S→C, answer to `Hello`.
    Welcome {
        user: String,
        role: String,
        tenant: Uuid,
        singletons: Vec<(DocKind, DocId)>,
        seq: u64,
    },
    /// S→C: documents to sync or fetch, documents the device must drop, and
    /// the sequence the device reaches once it has handled them.
    Changed {
        docs: Vec<DocId>,
        revoked: Vec<DocId>,
        upto: u64,
        /// More `Changed` frames follow for the same `upto` (long lists are
        /// chunked); the device is caught up after the last one.
        more: bool,
        /// Live pushes: the changes just committed to some of `docs`. A
        /// device that holds everything they depend on applies them and is
        /// done with that document; otherwise it syncs it as usual.
        changes: Vec<(DocId, Vec<u8>)>,
    },
    /// C→S: send these whole documents (the device has none of them).
    Fetch {
        docs: Vec<DocId>,
    },
    /// S→C: whole documents, and the requested ids that do not exist (or
    /// that the user may not see: the two are indistinguishable).
    Docs {
        docs: Vec<(DocId, Vec<u8>)>,
        missing: Vec<DocId>,
    },
    /// C→S: Automerge sync messages, batched.
    Sync {
        msgs: Vec<DocMsg>,
    },
    /// S→C: one reply per document of a `Sync`, plus durable acks and
    /// rejections.
    SyncReply {
        msgs: Vec<DocMsg>,
        /// (doc, heads durably stored on the server)
        acks: Vec<(DocId, Vec<Hash>)>,
        /// (doc, reason): changes refused, neither stored nor forwarded.
        rejects: Vec<(DocId, String)>,
    },
    /// C→S, the star-topology fast path: per document, the device's heads
    /// and its changes since the server's last ack. One round trip instead
    /// of an Automerge sync exchange, when both sides' histories line up.
    Up {
        docs: Vec<UpDoc>,
    },
    /// S→C, answer to `Up`: per document the changes the device lacks,
    /// durable acks, rejections, and the documents whose histories do not
    /// line up (the device then runs an Automerge sync exchange for them).
    Down {
        docs: Vec<(DocId, Vec<u8>)>,
        acks: Vec<(DocId, Vec<Hash>)>,
        rejects: Vec<(DocId, String)>,
        resync: Vec<DocId>,
    },
    /// C→S: the device dropped these revoked documents.
    Dropped {
        docs: Vec<DocId>,
    },
    /// Either way; the sender closes after it.
    Error {
        code: ErrorCode,
        message: String,
    },
    Ping(u64),
    Pong(u64),
    /// S→C, version 2: drop these documents and fetch them again (they
    /// were rewritten to erase a person). Never sent to a version-1 device.
    Replace {
        docs: Vec<Replaced>,
    },
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FrameError {
    #[error("frame too short")]
    Short,
    #[error("not a Carnet frame")]
    BadMagic,
    #[error("protocol version {0} is not supported (this side speaks {PROTOCOL_VERSION})")]
    Version(u8),
    #[error("frame of {0} bytes is over the {MAX_FRAME_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("malformed frame: {0}")]
    Malformed(String),
    #[error("batch of {0} documents is over the {MAX_BATCH_DOCS}-document limit")]
    BatchTooLarge(usize),
}

impl FrameError {
    pub fn code(&self) -> ErrorCode {
        match self {
            FrameError::Version(_) => ErrorCode::UnsupportedVersion,
            FrameError::TooLarge(_) | FrameError::BatchTooLarge(_) => ErrorCode::TooLarge,
            _ => ErrorCode::BadFrame,
        }
    }
}

impl Frame {
    pub fn encode(&self) -> Vec<u8> {
        self.encode_as(PROTOCOL_VERSION)
    }

    /// Encoded for a peer speaking `version` (the caller never sends it
    /// a frame that version lacks).
    pub fn encode_as(&self, version: u8) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(&MAGIC);
        out.push(version);
        // Serializing owned plain data into a Vec cannot fail.
        out.extend(postcard::to_stdvec(self).unwrap_or_default());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Frame, FrameError> {
        Frame::decode_versioned(bytes).map(|(_, f)| f)
    }

    /// The frame and the protocol version its sender speaks.
    pub fn decode_versioned(bytes: &[u8]) -> Result<(u8, Frame), FrameError> {
        if bytes.len() > MAX_FRAME_BYTES {
            return Err(FrameError::TooLarge(bytes.len()));
        }
        if bytes.len() < 4 {
            return Err(FrameError::Short);
        }
        if bytes[..3] != MAGIC {
            return Err(FrameError::BadMagic);
        }
        let version = bytes[3];
        if !(MIN_PROTOCOL_VERSION..=PROTOCOL_VERSION).contains(&version) {
            return Err(FrameError::Version(version));
        }
        let frame: Frame =
            postcard::from_bytes(&bytes[4..]).map_err(|e| FrameError::Malformed(e.to_string()))?;
        if version < 2 && matches!(frame, Frame::Replace { .. }) {
            return Err(FrameError::Malformed("Replace in a version-1 frame".into()));
        }
        let batch = match &frame {
            Frame::Changed { docs, revoked, .. } => docs.len().max(revoked.len()),
            Frame::Fetch { docs } | Frame::Dropped { docs } => docs.len(),
            Frame::Docs { docs, missing } => docs.len().max(missing.len()),
            Frame::Sync { msgs } => msgs.len(),
            Frame::SyncReply { msgs, .. } => msgs.len(),
            Frame::Up { docs } => docs.len(),
            Frame::Down { docs, acks, .. } => docs.len().max(acks.len()),
            Frame::Replace { docs } => docs.len(),
            _ => 0,
        };
        // Server-built `Changed` lists are chunked; anything bigger is abuse.
        if batch > MAX_BATCH_DOCS * 8 {
            return Err(FrameError::BatchTooLarge(batch));
        }
        Ok((version, frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let frames = vec![
            Frame::Hello {
                device: Uuid::new_v4(),
                token: "t".into(),
                cursor: 42,
            },
            Frame::Sync {
                msgs: vec![DocMsg {
                    doc: DocId::new(),
                    msg: vec![1, 2, 3],
                }],
            },
            Frame::Error {
                code: ErrorCode::Unauthorized,
                message: "no".into(),
            },
        ];
        for f in frames {
            assert_eq!(Frame::decode(&f.encode()).unwrap(), f);
        }
    }

    #[test]
    fn bad_bytes_are_typed_errors_never_panics() {
        assert_eq!(Frame::decode(b"CR"), Err(FrameError::Short));
        assert_eq!(Frame::decode(b"XXXX1234"), Err(FrameError::BadMagic));
        assert_eq!(Frame::decode(b"CRN\x09abc"), Err(FrameError::Version(9)));
        assert_eq!(Frame::decode(b"CRN\x00abc"), Err(FrameError::Version(0)));
        assert!(matches!(
            Frame::decode(b"CRN\x01\xff\xff\xff"),
            Err(FrameError::Malformed(_))
        ));
        let good = Frame::Ping(7).encode();
        for cut in 4..good.len() {
            let _ = Frame::decode(&good[..cut]);
        }
        let big = vec![0u8; MAX_FRAME_BYTES + 1];
        assert!(matches!(Frame::decode(&big), Err(FrameError::TooLarge(_))));
    }

    #[test]
    fn version_one_frames_still_decode_and_never_carry_replace() {
        let ping = Frame::Ping(3);
        assert_eq!(
            Frame::decode_versioned(&ping.encode_as(1)),
            Ok((1, ping.clone()))
        );
        assert_eq!(Frame::decode_versioned(&ping.encode()), Ok((2, ping)));
        let replace = Frame::Replace {
            docs: vec![Replaced {
                doc: DocId::new(),
                erased: vec!["c1".into()],
            }],
        };
        assert_eq!(Frame::decode(&replace.encode()), Ok(replace.clone()));
        assert!(matches!(
            Frame::decode(&replace.encode_as(1)),
            Err(FrameError::Malformed(_))
        ));
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x: u64 = 0x1234_5678;
        for len in 0..2000usize {
            let mut buf = b"CRN\x01".to_vec();
            for _ in 0..(len % 97) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf.push(x as u8);
            }
            let _ = Frame::decode(&buf);
        }
    }
}
