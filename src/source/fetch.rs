//! One S3 object, end to end: download it, stream it through decode and normalize into every
//! sink's lane, and wait until every sink accepted every event. Shared by the `s3` source (list
//! mode) and the `sqs` source (notification mode); what to do afterwards (record it, delete a
//! message) is theirs.

use super::object::{self, ObjectReport, Outcome, Stopped};
use super::s3::client::{Bucket, S3Error};
use super::{Batch, SourceContext, now};
use crate::ack::{Acknowledgement, Delivery};
use crate::decode::LogType;
use crate::normalize::ObjectContext;
use crate::telemetry::ObjectEnd;

/// How fetching one object ended.
#[derive(Debug)]
pub enum Fetched {
    /// Read to its end (or skipped, or quarantined: see the report's outcome) and every event
    /// accepted by every sink.
    Done(ObjectReport),
    /// Not delivered: shutdown, or a sink failed. Nothing may be checkpointed.
    NotDelivered,
    /// The download failed.
    DownloadFailed(S3Error),
}

/// Downloads `key` from `bucket` and delivers its events; `log_type` `None` means from the key
/// layout, then the content. Reports into the source's metrics. With `slot`, a permit of it is
/// held from the download until every event was handed to the sinks (not until they took them).
pub async fn fetch(
    source: &str,
    bucket: &Bucket,
    key: &str,
    log_type: Option<LogType>,
    context: &SourceContext,
    slot: Option<&tokio::sync::Semaphore>,
) -> Fetched {
    let permit = match slot {
        Some(slots) => match slots.acquire().await {
            Ok(permit) => Some(permit),
            Err(_) => return Fetched::NotDelivered,
        },
        None => None,
    };
    let body = match bucket.get(key).await {
        Ok(body) => body,
        Err(error) => {
            tracing::warn!(source = %source, "{error}");
            context.metrics.object(ObjectEnd::Failed);
            return Fetched::DownloadFailed(error);
        }
    };
    context.metrics.input_bytes(body.len() as u64);
    let acknowledgement = Acknowledgement::new();
    let receipts = acknowledgement.receipts();
    let (source_name, bucket_name, key_owned, context_owned) =
        (source.to_string(), bucket.name().to_string(), key.to_string(), context.clone());
    let ingest = tokio::task::spawn_blocking(move || {
        let object_context = ObjectContext::new(&source_name, Some(&bucket_name), &key_owned, now());
        let mut emit = |events| {
            if context_owned.shutdown.is_cancelled() {
                return Err(Stopped);
            }
            let batch = Batch { events, receipt: Some(receipts.next()) };
            context_owned.out.send(batch).map_err(|_| Stopped)
        };
        let filter = context_owned.filter.as_deref();
        let body = std::io::Cursor::new(body);
        object::ingest(body, &object_context, log_type, filter, &context_owned.stats, &mut emit)
    });
    let report = ingest.await.unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()));
    drop(permit);
    if report.outcome == Outcome::Stopped || acknowledgement.outcome().await == Delivery::Failed {
        context.metrics.object(ObjectEnd::Failed);
        return Fetched::NotDelivered;
    }
    report.count(&context.metrics);
    tracing::debug!(source = %source, key = %key, events = report.events, "{:?}", report.outcome);
    Fetched::Done(report)
}
