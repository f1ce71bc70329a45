//! Drives one sync session from raw bytes, for the fuzz target
//! (`fuzz/fuzz_targets/session_frames.rs`) and the test that replays its
//! committed corpus (`server/tests/fuzz_corpus.rs`). The input is a
//! sequence of frames, each a little-endian `u16` length then that many
//! bytes, sent after a valid `Hello` of a rep of a small tenant; whatever
//! the bytes, the session must end without a panic and the tenant must
//! still serve.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::mpsc;
use uuid::Uuid;

use crate::session::{self, Limits, WireIn};
use crate::tenant::{Tenant, TenantError};

pub const REP: &str = "rep@fuzz.test";
pub const OTHER_REP: &str = "other@fuzz.test";
pub const PASSWORD: &str = "fuzz-password";

/// A tenant with settings, two reps in two territories, and a device
/// token for `REP`.
pub struct Fixture {
    pub tenant: Arc<Tenant>,
    pub device: Uuid,
    pub token: String,
}

impl Fixture {
    pub async fn create(dir: &Path) -> Result<Fixture, TenantError> {
        let t = Tenant::create(dir, "Fuzz SARL", "admin@fuzz.test", None, PASSWORD).await?;
        t.add_user(REP, "rep", None, None, PASSWORD).await?;
        t.add_user(OTHER_REP, "rep", None, None, PASSWORD).await?;
        t.add_territory("Paris", &["75".into()], &[REP.into()])
            .await?;
        t.add_territory("Lyon", &["69".into()], &[OTHER_REP.into()])
            .await?;
        let (rec, token) = t
            .login(REP, PASSWORD, "fuzz", None)
            .await
            .map_err(|e| TenantError::Invalid(e.to_string()))?;
        Ok(Fixture {
            tenant: t,
            device: rec.device,
            token,
        })
    }

    /// Splits `data` into frames and runs a session over them; returns the
    /// frames the server sent.
    pub async fn run(&self, data: &[u8]) -> Vec<Vec<u8>> {
        let mut frames = vec![carnet_core::sync::Frame::Hello {
            device: self.device,
            token: self.token.clone(),
            cursor: 0,
        }
        .encode()];
        let mut rest = data;
        while rest.len() >= 2 {
            let len = usize::from(u16::from_le_bytes([rest[0], rest[1]]));
            rest = &rest[2..];
            let take = len.min(rest.len());
            frames.push(rest[..take].to_vec());
            rest = &rest[take..];
        }
        let (to_client, mut from_server) = mpsc::unbounded_channel::<Vec<u8>>();
        let input = futures_util::stream::iter(frames.into_iter().map(WireIn::Frame));
        let sink = futures_util::sink::unfold(to_client, |tx, bytes: Vec<u8>| async move {
            tx.send(bytes).map_err(|_| ())?;
            Ok::<_, ()>(tx)
        });
        // The stream ends after the last frame: the session closes.
        session::run(
            self.tenant.clone(),
            Limits::default(),
            None,
            Box::pin(input),
            Box::pin(sink),
        )
        .await;
        let mut out = Vec::new();
        while let Ok(f) = from_server.try_recv() {
            out.push(f);
        }
        out
    }
}

/// The bytes a device would build for a new account `id` owned by `owner`
/// in `postcode` — a plain Automerge document, for seeds and for tests that
/// play a device by hand.
pub fn account_doc(
    id: carnet_core::DocId,
    owner: &str,
    postcode: &str,
) -> Result<automerge::AutoCommit, automerge::AutomergeError> {
    use automerge::transaction::Transactable;
    use automerge::{ObjType, ROOT};
    let mut am = automerge::AutoCommit::new();
    am.put(ROOT, "schema", carnet_core::schema::SCHEMA_VERSION)?;
    am.put(ROOT, "kind", "account")?;
    am.put(ROOT, "id", id.to_string())?;
    let acc = am.put_object(ROOT, "account", ObjType::Map)?;
    for (k, v) in [
        ("name", "Forged"),
        ("kind", "company"),
        ("status", "client"),
        ("owner", owner),
        ("postcode", postcode),
    ] {
        am.put(&acc, k, v)?;
    }
    for c in carnet_core::schema::layout(carnet_core::DocKind::Account).containers {
        am.put_object(ROOT, c.key, ObjType::Map)?;
    }
    am.commit();
    Ok(am)
}

/// Encodes frames the way `Fixture::run` splits them (for seeds).
pub fn encode_input(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in frames {
        let len = u16::try_from(f.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&f[..usize::from(len)]);
    }
    out
}
