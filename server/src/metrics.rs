//! Prometheus metrics with `prometheus-client` (OpenMetrics text):
//! connections, frames, bytes, merge latency, commits, acks and rejects.

use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 10] = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0];

/// The content type of `render`'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub struct Metrics {
    registry: Registry,
    connections_open: Gauge,
    connections: Counter,
    frames_in: Counter,
    frames_out: Counter,
    bytes_in: Counter,
    bytes_out: Counter,
    bad_frames: Counter,
    acks: Counter,
    rejects: Counter,
    commits: Counter,
    committed_docs: Counter,
    loaded_docs: Gauge,
    merge: Histogram,
    commit: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let mut counter = |name: &str, help: &str| {
            let c = Counter::default();
            // Counters are exposed with the `_total` suffix.
            registry.register(name, help, c.clone());
            c
        };
        let connections = counter("carnet_connections", "Sync connections accepted.");
        let frames_in = counter("carnet_frames_received", "Frames received.");
        let frames_out = counter("carnet_frames_sent", "Frames sent.");
        let bytes_in = counter("carnet_bytes_received", "Frame bytes received.");
        let bytes_out = counter("carnet_bytes_sent", "Frame bytes sent.");
        let bad_frames = counter(
            "carnet_bad_frames",
            "Frames refused as malformed or oversized.",
        );
        let acks = counter(
            "carnet_acks",
            "Document changes acknowledged after a durable write.",
        );
        let rejects = counter("carnet_rejects", "Document changes refused.");
        let commits = counter("carnet_commits", "Group commits (one flush each).");
        let committed_docs = counter(
            "carnet_committed_documents",
            "Document writes in group commits.",
        );
        let connections_open = Gauge::default();
        registry.register(
            "carnet_connections_open",
            "Open sync connections.",
            connections_open.clone(),
        );
        let loaded_docs = Gauge::default();
        registry.register(
            "carnet_loaded_documents",
            "Documents held in server memory.",
            loaded_docs.clone(),
        );
        let merge = Histogram::new(BUCKETS);
        registry.register(
            "carnet_merge_seconds",
            "Time to apply, validate and store one document's incoming sync message.",
            merge.clone(),
        );
        let commit = Histogram::new(BUCKETS);
        registry.register(
            "carnet_commit_seconds",
            "Time of one group commit, flush included.",
            commit.clone(),
        );
        Metrics {
            registry,
            connections_open,
            connections,
            frames_in,
            frames_out,
            bytes_in,
            bytes_out,
            bad_frames,
            acks,
            rejects,
            commits,
            committed_docs,
            loaded_docs,
            merge,
            commit,
        }
    }
}

impl Metrics {
    pub fn connection_opened(&self) {
        self.connections_open.inc();
        self.connections.inc();
    }
    pub fn connection_closed(&self) {
        self.connections_open.dec();
    }
    pub fn frame_in(&self, bytes: usize) {
        self.frames_in.inc();
        self.bytes_in.inc_by(bytes as u64);
    }
    pub fn frame_out(&self, bytes: usize) {
        self.frames_out.inc();
        self.bytes_out.inc_by(bytes as u64);
    }
    pub fn bad_frame(&self) {
        self.bad_frames.inc();
    }
    pub fn record_ack(&self) {
        self.acks.inc();
    }
    pub fn record_reject(&self) {
        self.rejects.inc();
    }
    pub fn record_merge(&self, d: Duration) {
        self.merge.observe(d.as_secs_f64());
    }
    pub fn record_commit(&self, docs: u64, d: Duration) {
        self.commits.inc();
        self.committed_docs.inc_by(docs);
        self.commit.observe(d.as_secs_f64());
    }
    pub fn set_loaded_docs(&self, n: u64) {
        self.loaded_docs.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// The OpenMetrics text exposition (`CONTENT_TYPE`).
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) = encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_keep_their_names_and_histograms_their_buckets() {
        let m = Metrics::default();
        m.record_ack();
        m.record_ack();
        m.frame_in(10);
        m.record_merge(Duration::from_millis(3));
        let text = m.render();
        assert!(text.contains("carnet_acks_total 2"), "{text}");
        assert!(text.contains("carnet_bytes_received_total 10"), "{text}");
        assert!(
            text.contains("carnet_merge_seconds_bucket{le=\"0.005\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("carnet_merge_seconds_bucket{le=\"0.002\"} 0"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
