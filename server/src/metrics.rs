//! Prometheus metrics, rendered by hand in the text exposition format:
//! connections, frames, bytes, merge latency, commits, acks and rejects.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 10] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0];

#[derive(Default)]
struct Histogram {
    counts: [AtomicU64; 10],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                self.counts[i].fetch_add(1, Relaxed);
            }
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_us.fetch_add(d.as_micros() as u64, Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{b}\"}} {}",
                self.counts[i].load(Relaxed)
            );
        }
        let count = self.count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}\n{name}_count {count}",
            self.sum_us.load(Relaxed) as f64 / 1e6
        );
    }
}

#[derive(Default)]
pub struct Metrics {
    connections_open: AtomicI64,
    connections_total: AtomicU64,
    frames_in: AtomicU64,
    frames_out: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    bad_frames: AtomicU64,
    acks: AtomicU64,
    rejects: AtomicU64,
    commits: AtomicU64,
    committed_docs: AtomicU64,
    loaded_docs: AtomicU64,
    merge: Histogram,
    commit: Histogram,
}

impl Metrics {
    pub fn connection_opened(&self) {
        self.connections_open.fetch_add(1, Relaxed);
        self.connections_total.fetch_add(1, Relaxed);
    }
    pub fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Relaxed);
    }
    pub fn frame_in(&self, bytes: usize) {
        self.frames_in.fetch_add(1, Relaxed);
        self.bytes_in.fetch_add(bytes as u64, Relaxed);
    }
    pub fn frame_out(&self, bytes: usize) {
        self.frames_out.fetch_add(1, Relaxed);
        self.bytes_out.fetch_add(bytes as u64, Relaxed);
    }
    pub fn bad_frame(&self) {
        self.bad_frames.fetch_add(1, Relaxed);
    }
    pub fn record_ack(&self) {
        self.acks.fetch_add(1, Relaxed);
    }
    pub fn record_reject(&self) {
        self.rejects.fetch_add(1, Relaxed);
    }
    pub fn record_merge(&self, d: Duration) {
        self.merge.observe(d);
    }
    pub fn record_commit(&self, docs: u64, d: Duration) {
        self.commits.fetch_add(1, Relaxed);
        self.committed_docs.fetch_add(docs, Relaxed);
        self.commit.observe(d);
    }
    pub fn set_loaded_docs(&self, n: u64) {
        self.loaded_docs.store(n, Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, kind: &str, v: String| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        };
        counter(
            "carnet_connections_open",
            "Open sync connections.",
            "gauge",
            self.connections_open.load(Relaxed).to_string(),
        );
        for (name, help, v) in [
            (
                "carnet_connections_total",
                "Sync connections accepted.",
                &self.connections_total,
            ),
            (
                "carnet_frames_received_total",
                "Frames received.",
                &self.frames_in,
            ),
            ("carnet_frames_sent_total", "Frames sent.", &self.frames_out),
            (
                "carnet_bytes_received_total",
                "Frame bytes received.",
                &self.bytes_in,
            ),
            (
                "carnet_bytes_sent_total",
                "Frame bytes sent.",
                &self.bytes_out,
            ),
            (
                "carnet_bad_frames_total",
                "Frames refused as malformed or oversized.",
                &self.bad_frames,
            ),
            (
                "carnet_acks_total",
                "Document changes acknowledged after a durable write.",
                &self.acks,
            ),
            (
                "carnet_rejects_total",
                "Document changes refused.",
                &self.rejects,
            ),
            (
                "carnet_commits_total",
                "Group commits (one flush each).",
                &self.commits,
            ),
            (
                "carnet_committed_documents_total",
                "Document writes in group commits.",
                &self.committed_docs,
            ),
        ] {
            counter(name, help, "counter", v.load(Relaxed).to_string());
        }
        counter(
            "carnet_loaded_documents",
            "Documents held in server memory.",
            "gauge",
            self.loaded_docs.load(Relaxed).to_string(),
        );
        self.merge.render(
            &mut out,
            "carnet_merge_seconds",
            "Time to apply, validate and store one document's incoming sync message.",
        );
        self.commit.render(
            &mut out,
            "carnet_commit_seconds",
            "Time of one group commit, flush included.",
        );
        out
    }
}
