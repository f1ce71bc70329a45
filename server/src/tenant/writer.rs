//! Group commit: one task applies every pending write of all connections in
//! one atomic sled batch, flushes once, then answers them all. Acks thus
//! stay cheap under load while each one still means "on disk". The writer
//! also assigns the tenant's sequence numbers, so the log is in commit order.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use carnet_core::persist::DocWrite;
use carnet_core::store::{Batch, Durability, Store};
use carnet_core::{DocId, DocKind};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{log_key, Tenant};

pub struct WriteReq {
    pub kind: DocKind,
    pub write: DocWrite,
    pub meta: Vec<(String, Vec<u8>)>,
    pub reply: oneshot::Sender<Result<u64, String>>,
}

/// What connections hear about.
#[derive(Clone, Debug)]
pub enum Event {
    /// A document was durably changed and has this sequence number;
    /// `changes` are the new changes when small enough to push live.
    Doc {
        doc: DocId,
        seq: u64,
        kind: DocKind,
        changes: Option<Arc<Vec<u8>>>,
    },
    /// A device token was revoked: its connections close at once.
    DeviceRevoked(Uuid),
}

const MAX_GROUP: usize = 512;
/// Changes at most this big travel with the live notification.
const LIVE_PUSH_BYTES: usize = 64 * 1024;

pub async fn run(tenant: Arc<Tenant>, mut rx: mpsc::Receiver<WriteReq>) {
    while let Some(first) = rx.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(r) => group.push(r),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let base = tenant.seq.load(Ordering::SeqCst);
        let mut batch = Batch::new();
        let mut assigned = Vec::with_capacity(group.len());
        let mut old_entries = Vec::new();
        {
            let docseq = match tenant.docseq.lock() {
                Ok(m) => m,
                Err(p) => p.into_inner(),
            };
            let mut last_in_group = std::collections::HashMap::new();
            for (i, r) in group.iter().enumerate() {
                let seq = base + 1 + i as u64;
                let doc = r.write.doc;
                r.write.add_to(&mut batch);
                // One log entry per document: drop its previous one.
                let prev = last_in_group
                    .get(&doc)
                    .copied()
                    .or_else(|| docseq.get(&doc).copied());
                if let Some(p) = prev {
                    old_entries.push(log_key(p));
                }
                last_in_group.insert(doc, seq);
                batch.put_meta(log_key(seq), doc.0.as_bytes().to_vec());
                batch.put_meta(format!("docseq/{doc}"), seq.to_be_bytes().to_vec());
                for (k, v) in &r.meta {
                    batch.put_meta(k.clone(), v.clone());
                }
                assigned.push(seq);
            }
        }
        for k in old_entries {
            batch.delete_meta(k);
        }
        let top = base + group.len() as u64;
        batch.put_meta("seq", top.to_be_bytes().to_vec());
        let t2 = tenant.clone();
        let result =
            tokio::task::spawn_blocking(move || t2.store.write(batch, Durability::Flushed))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()));
        match result {
            Ok(()) => {
                tenant.seq.store(top, Ordering::SeqCst);
                let mut rules_changed = false;
                {
                    if let Ok(mut docseq) = tenant.docseq.lock() {
                        for (r, seq) in group.iter().zip(&assigned) {
                            docseq.insert(r.write.doc, *seq);
                        }
                    }
                    let acl = tenant.acl();
                    if let Ok(mut rows) = tenant.rows.write() {
                        let mut reach = tenant.reach.write().unwrap_or_else(|p| p.into_inner());
                        let mut board = tenant.board.write().unwrap_or_else(|p| p.into_inner());
                        for r in &group {
                            let doc = r.write.doc;
                            reach.put(doc, &r.write.rows, &acl);
                            board.put(doc, rows.get(doc), &r.write.rows, &acl);
                            rows.put(doc, r.write.rows.clone());
                        }
                    }
                }
                for (r, seq) in group.iter().zip(&assigned) {
                    if matches!(
                        r.kind,
                        DocKind::Directory | DocKind::Settings | DocKind::Catalog
                    ) {
                        rules_changed = true;
                        if r.kind == DocKind::Directory {
                            tenant.dir_seq.store(*seq, Ordering::SeqCst);
                        }
                    }
                }
                if rules_changed {
                    if let Err(e) = tenant.refresh_rules() {
                        tracing::error!(error = %e, "refreshing access rules failed");
                    }
                }
                tenant
                    .metrics
                    .record_commit(group.len() as u64, started.elapsed());
                for (r, seq) in group.into_iter().zip(assigned) {
                    let w = r.write;
                    let live = !w.snapshot && w.bytes.len() <= LIVE_PUSH_BYTES;
                    tenant.publish(Event::Doc {
                        doc: w.doc,
                        seq,
                        kind: r.kind,
                        changes: live.then(|| Arc::new(w.bytes)),
                    });
                    let _ = r.reply.send(Ok(seq));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "group commit failed");
                for r in group {
                    let _ = r.reply.send(Err(e.clone()));
                }
            }
        }
    }
}
