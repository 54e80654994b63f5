//! Events a receiver refused for good (a mapping error, an invalid event) are kept, not dropped.
//!
//! Sending them again would fail the same way and block everything behind them, so they are
//! written to `STATE_DIR/rejected/SINK.ndjson`, one `{"sink", "reason", "event"}` object per
//! line, counted, and reported; their unit of work then counts as handled. Replaying that file
//! after fixing the receiver's mapping loses nothing.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::normalize::Event;
use crate::telemetry::{SinkMetrics, Stats};

/// The dead-letter file of one sink, opened on first use.
pub(super) struct RejectedEvents {
    sink: String,
    path: PathBuf,
    file: Option<BufWriter<File>>,
    stats: Arc<Stats>,
    metrics: SinkMetrics,
}

impl RejectedEvents {
    /// The dead-letter file of the sink described as `sink`, under `state_dir`.
    pub(super) fn new(state_dir: &Path, sink: &str, stats: Arc<Stats>, metrics: SinkMetrics) -> Self {
        let file_name: String =
            sink.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '_' }).collect();
        let path = state_dir.join("rejected").join(format!("{file_name}.ndjson"));
        RejectedEvents { sink: sink.to_string(), path, file: None, stats, metrics }
    }

    /// Keeps `events`, refused for `reason`.
    pub(super) fn keep<'e>(
        &mut self,
        events: impl IntoIterator<Item = Event<'e>>,
        reason: &str,
    ) -> io::Result<()> {
        if self.file.is_none() {
            // Rejected events are events: only the agent's user reads them (0700 and 0600).
            if let Some(parent) = self.path.parent() {
                std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
                    .create(parent)?;
            }
            let file =
                std::os::unix::fs::OpenOptionsExt::mode(OpenOptions::new().create(true).append(true), 0o600)
                    .open(&self.path)?;
            self.file = Some(BufWriter::new(file));
        }
        let out = self.file.as_mut().expect("opened above");
        let prefix = format!(
            "{{\"sink\":{},\"reason\":{},\"event\":",
            serde_json::Value::from(self.sink.as_str()),
            serde_json::Value::from(reason)
        );
        let mut count = 0;
        for event in events {
            out.write_all(prefix.as_bytes())?;
            out.write_all(event.json)?;
            out.write_all(b"}\n")?;
            count += 1;
        }
        out.flush()?;
        Stats::add(&self.stats.events_rejected, count);
        self.metrics.rejected(count);
        tracing::warn!("{}: {count} event(s) rejected: {reason}; kept in {}", self.sink, self.path.display());
        Ok(())
    }
}
