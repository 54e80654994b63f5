//! Sources: where events come from.
//!
//! A source is a task that finds units of work (files, objects), reads each through
//! [`object::ingest`] and puts the resulting batches into every sink's bounded lane
//! ([`Lanes`]). When a lane is full the source waits, so a slow sink slows every source down.

pub mod cloudtrail_api;
pub mod dir;
pub mod fetch;
pub mod object;
pub mod s3;
pub mod sqs;

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::ack::Receipt;
use crate::normalize::EventBatch;
use crate::sink::fanout::Lanes;
use crate::telemetry::{SourceMetrics, Stats};

/// Events travelling together from a source to the sinks.
#[derive(Debug)]
pub struct Batch {
    /// The events, in the order they were read.
    pub events: EventBatch,
    /// Settled once every sink accepted the events, for sources that checkpoint.
    pub receipt: Option<Receipt>,
}

/// Runs blocking work (SQLite, decoding) off the async threads, re-raising its panics.
pub(crate) async fn blocking<T: Send + 'static, E: Send + 'static>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, E> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()))
}

/// The current time, Unix seconds.
pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl SourceContext {
    /// Adds what the source's filters left out since the last call to its state store.
    pub(crate) async fn save_filtered(
        &self,
        store: &Arc<crate::checkpoint::CheckpointStore>,
        source: &str,
    ) -> Result<(), crate::checkpoint::CheckpointError> {
        let Some(filter) = &self.filter else { return Ok(()) };
        let counts = filter.take_unsaved();
        let (store, source) = (Arc::clone(store), source.to_string());
        blocking(move || store.add_filtered(&source, &counts)).await
    }
}

/// How a polling source runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunMode {
    /// One poll, then return (for cron and tests).
    pub once: bool,
    /// S3: make the first poll a sweep of the whole look-back window.
    pub sweep_now: bool,
}

/// What every source is given to run.
#[derive(Clone)]
pub struct SourceContext {
    /// Where batches go (bounded: sending waits when the sinks are behind).
    pub out: Lanes,
    /// Cancelled on SIGINT/SIGTERM, or when a sink failed for good: stop taking new work.
    pub shutdown: CancellationToken,
    /// Shared counters.
    pub stats: Arc<Stats>,
    /// This source's metrics and readiness.
    pub metrics: SourceMetrics,
    /// Its drop and keep rules, if it has any.
    pub filter: Option<Arc<crate::normalize::filter::Filter>>,
}
