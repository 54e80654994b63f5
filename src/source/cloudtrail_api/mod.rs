//! The `cloudtrail_api` source: CloudTrail Event history through LookupEvents.
//!
//! Every `APIPollingIntervalInMs`, for each region, one window `[watermark − BackOffTime, now]`
//! is fixed and paged through with `NextToken` (a token is bound to its query, so the window never
//! changes while paging). Events whose id was already emitted are skipped; the rest go out oldest
//! first, as one unit of work: only when every sink accepted them are their ids recorded and the
//! watermark moved to the window's end. A restart therefore neither loses nor repeats events.
//!
//! Requests go through a rate limiter shared by every source with the same credentials, endpoint
//! and region (`rate.rs`). Throttling and server errors are retried up to `APIRetryCount` times
//! with exponential back-off and jitter; after that the poll is given up and the same window is
//! read again at the next interval.

pub mod rate;
pub mod window;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_cloudtrail::Client;
use aws_sdk_cloudtrail::config::retry::RetryConfig;
use aws_sdk_cloudtrail::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudtrail::primitives::DateTime;
use tokio_util::sync::CancellationToken;

use self::rate::RateLimiter;
use super::object::{BATCH_BYTES, BATCH_SIZE};
use super::{Batch, RunMode, SourceContext, blocking, now};
use crate::ack::{Acknowledgement, Delivery};
use crate::checkpoint::{CheckpointError, CheckpointStore, ObjectOutcome, ProcessedObject};
use crate::config::{CloudTrailApiSource, Credentials};
use crate::normalize::cloudtrail::normalize_record;
use crate::normalize::{EventBatch, ObjectContext};
use crate::telemetry::{SourceMetrics, Stats};

/// Why the source cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum ApiSourceError {
    /// The SDK could not be set up.
    #[error(transparent)]
    Setup(#[from] crate::aws::AwsSetupError),
    /// The checkpoint store failed.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// `run --once`: the poll of a region could not be completed.
    #[error("region {region}: the poll could not be completed: {problem}")]
    Incomplete {
        /// The region.
        region: String,
        /// What went wrong.
        problem: String,
    },
}

/// One event as LookupEvents returned it.
struct Found {
    id: String,
    time: i64,
    record: String,
}

/// Polls every region of the source until shutdown (or once).
pub async fn run(
    name: String,
    config: CloudTrailApiSource,
    context: SourceContext,
    store: Arc<CheckpointStore>,
    mode: RunMode,
) -> Result<(), ApiSourceError> {
    let config = Arc::new(config);
    let mut regions = tokio::task::JoinSet::new();
    for pager in pagers(&config, Some(context.metrics.clone())).await? {
        let poller = RegionPoller {
            name: name.clone(),
            region: pager.region.clone(),
            pager,
            config: Arc::clone(&config),
            context: context.clone(),
            store: Arc::clone(&store),
        };
        regions.spawn(poller.run(mode));
    }
    let mut result = Ok(());
    while let Some(joined) = regions.join_next().await {
        let outcome = joined.unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()));
        if outcome.is_err() && result.is_ok() {
            result = outcome;
        }
    }
    result
}

/// One reader of LookupEvents windows per region of the source.
async fn pagers(
    config: &Arc<CloudTrailApiSource>,
    metrics: Option<SourceMetrics>,
) -> Result<Vec<Pager>, ApiSourceError> {
    let sdk = crate::aws::sdk_config(&config.aws).await?;
    Ok(config
        .regions
        .iter()
        .map(|region| {
            let client_config = aws_sdk_cloudtrail::config::Builder::from(&sdk)
                .region(aws_sdk_cloudtrail::config::Region::new(region.clone()))
                .retry_config(RetryConfig::disabled())
                .build();
            Pager {
                limiter: rate::shared(&budget_key(config, region), config.max_requests_per_second),
                client: Client::from_conf(client_config),
                region: region.clone(),
                config: Arc::clone(config),
                metrics: metrics.clone(),
            }
        })
        .collect())
}

/// What the next poll of one region would read (`run --dry-run`).
#[derive(Debug, serde::Serialize)]
pub struct WindowPreview {
    /// The region.
    pub region: String,
    /// The window `[start, end]`, RFC 3339.
    pub start: String,
    /// See `start`.
    pub end: String,
    /// Events in the window not yet emitted: what the poll would deliver.
    pub new_events: usize,
    /// Events in the window already emitted (skipped by the poll).
    pub already_emitted: usize,
    /// The oldest and newest new events' times, RFC 3339.
    pub first_event_time: Option<String>,
    /// See `first_event_time`.
    pub last_event_time: Option<String>,
}

/// Reads the window each region's next poll would read, from the checkpoints in `store` (a
/// read-only store, or none yet), and counts what it would emit. Nothing is emitted or recorded.
pub async fn preview(
    name: &str,
    config: &CloudTrailApiSource,
    store: Option<&CheckpointStore>,
) -> Result<Vec<WindowPreview>, ApiSourceError> {
    let config = Arc::new(config.clone());
    let mut previews = Vec::new();
    for pager in pagers(&config, None).await? {
        let started = now();
        let (watermark, emitted) = match store {
            Some(store) => (
                store.watermark(name, &pager.region)?,
                store.processed_under(name, &format!("{}/", pager.region))?,
            ),
            None => (None, HashSet::new()),
        };
        let watermark = watermark.unwrap_or_else(|| window::first_watermark(&config, started));
        let (start, end) = window::window(&config, watermark, started);
        let found = pager
            .read_window(start, end, None)
            .await
            .map_err(|problem| ApiSourceError::Incomplete { region: pager.region.clone(), problem })?;
        let mut seen = HashSet::new();
        let (mut new, mut old) = (Vec::new(), 0);
        for event in &found {
            if emitted.contains(&(format!("{}/{}", pager.region, event.id), String::new())) {
                old += 1;
            } else if seen.insert(event.id.clone()) {
                new.push(event.time);
            }
        }
        previews.push(WindowPreview {
            region: pager.region.clone(),
            start: crate::normalize::format_unix(start),
            end: crate::normalize::format_unix(end),
            new_events: new.len(),
            already_emitted: old,
            first_event_time: new.iter().min().map(|t| crate::normalize::format_unix(*t)),
            last_event_time: new.iter().max().map(|t| crate::normalize::format_unix(*t)),
        });
    }
    Ok(previews)
}

/// Sources with the same credentials, endpoint and region share one request budget.
fn budget_key(config: &CloudTrailApiSource, region: &str) -> String {
    let identity = match (&config.aws.role_arn, &config.aws.credentials) {
        (Some(role), _) => format!("role:{role}"),
        (None, Credentials::Static { access_key_id, .. }) => format!("key:{}", access_key_id.expose()),
        (None, Credentials::Profile(profile)) => format!("profile:{profile}"),
        (None, Credentials::DefaultChain) => "default-chain".to_string(),
    };
    format!("{identity}|{}|{region}", config.aws.endpoint.as_deref().unwrap_or("aws"))
}

/// Reads LookupEvents windows of one region, page by page, under the shared rate.
struct Pager {
    client: Client,
    limiter: Arc<RateLimiter>,
    region: String,
    config: Arc<CloudTrailApiSource>,
    metrics: Option<SourceMetrics>,
}

struct RegionPoller {
    pager: Pager,
    name: String,
    region: String,
    config: Arc<CloudTrailApiSource>,
    context: SourceContext,
    store: Arc<CheckpointStore>,
}

impl RegionPoller {
    async fn run(self, mode: RunMode) -> Result<(), ApiSourceError> {
        if !self.pause(Duration::from_secs(self.config.startup_delay_in_seconds.into())).await {
            return Ok(());
        }
        loop {
            let problem = self.poll().await?;
            let stopped = self.context.shutdown.is_cancelled();
            if let Some(problem) = problem
                && mode.once
                && !stopped
            {
                return Err(ApiSourceError::Incomplete { region: self.region.clone(), problem });
            }
            if mode.once || stopped {
                return Ok(());
            }
            if !self.pause(Duration::from_millis(self.config.api_polling_interval_ms.into())).await {
                return Ok(());
            }
        }
    }

    async fn pause(&self, duration: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(duration) => true,
            _ = self.context.shutdown.cancelled() => false,
        }
    }

    /// One window: read it, emit what is new oldest first, and checkpoint after delivery.
    /// Returns what kept the window from being read or delivered, if anything did.
    async fn poll(&self) -> Result<Option<String>, ApiSourceError> {
        let started = now();
        let (store, name, region) = (Arc::clone(&self.store), self.name.clone(), self.region.clone());
        let (watermark, emitted) = blocking(move || {
            store.poll_started(&name, started)?;
            Ok::<_, CheckpointError>((
                store.watermark(&name, &region)?,
                store.processed_under(&name, &format!("{region}/"))?,
            ))
        })
        .await?;
        let watermark = watermark.unwrap_or_else(|| window::first_watermark(&self.config, started));
        let (start, end) = window::window(&self.config, watermark, started);
        let metrics = &self.context.metrics;
        metrics.poll_started(started);
        // The window start stays pending, and the lag grows, until the window is delivered.
        metrics.forget_pending();
        metrics.pending(start);
        let problem = match self.pager.read_window(start, end, Some(&self.context.shutdown)).await {
            Err(problem) => Some(problem),
            Ok(found) => self.deliver(found, &emitted, end).await?,
        };
        if let Some(problem) = &problem {
            tracing::warn!(source = %self.name, region = %self.region, "{problem}");
        }
        let (store, name) = (Arc::clone(&self.store), self.name.clone());
        let expire_before = start - 3600;
        let recorded = problem.clone();
        blocking(move || {
            store.expire(&name, expire_before)?;
            store.poll_finished(&name, now(), recorded.as_deref())
        })
        .await?;
        self.context.save_filtered(&self.store, &self.name).await?;
        if problem.is_none() {
            metrics.settled(start, None);
        }
        metrics.poll_finished(now(), problem.as_deref());
        Ok(problem)
    }

    /// Emits the new events oldest first as one unit; records them once delivered. Returns a
    /// problem to report when the unit was not delivered (the window is read again next poll).
    async fn deliver(
        &self,
        mut found: Vec<Found>,
        emitted: &HashSet<(String, String)>,
        end: i64,
    ) -> Result<Option<String>, ApiSourceError> {
        let mut seen = HashSet::new();
        found.retain(|event| {
            let key = format!("{}/{}", self.region, event.id);
            !emitted.contains(&(key, String::new())) && seen.insert(event.id.clone())
        });
        found.sort_by(|a, b| a.time.cmp(&b.time).then_with(|| a.id.cmp(&b.id)));
        let acknowledgement = Acknowledgement::new();
        let context = ObjectContext::for_api(&self.name, &self.region, now());
        let mut batch = EventBatch::default();
        let mut stopped = false;
        let mut bad_items = 0;
        for (index, event) in found.iter().enumerate() {
            match normalize_record(&context, index as u64 + 1, event.record.as_bytes(), &mut batch) {
                Ok(()) => {}
                Err(error) => {
                    bad_items += 1;
                    Stats::add(&self.context.stats.bad_items, 1);
                    tracing::warn!(source = %self.name, region = %self.region, "event {}: {error}", event.id);
                }
            }
            let full = batch.len() >= BATCH_SIZE || batch.ndjson().len() >= BATCH_BYTES;
            if full || index + 1 == found.len() {
                let events = std::mem::take(&mut batch);
                Stats::add(&self.context.stats.events, events.len() as u64);
                let (out, batch) =
                    (self.context.out.clone(), Batch { events, receipt: Some(acknowledgement.receipt()) });
                let sent = blocking(move || out.send(batch)).await;
                if sent.is_err() {
                    stopped = true;
                    break;
                }
            }
        }
        if stopped || acknowledgement.outcome().await == Delivery::Failed {
            return Ok(Some(
                "the window's events were not all delivered; it is read again at the next poll".into(),
            ));
        }
        let records: Vec<ProcessedObject> = found
            .iter()
            .map(|event| ProcessedObject {
                key: format!("{}/{}", self.region, event.id),
                etag: String::new(),
                key_time: event.time,
                outcome: ObjectOutcome::Delivered,
                detail: None,
            })
            .collect();
        let (store, name, region) = (Arc::clone(&self.store), self.name.clone(), self.region.clone());
        blocking(move || {
            store.record(&name, &records, now())?;
            store.advance_watermark(&name, &region, end)
        })
        .await?;
        let (metrics, delivered_at) = (&self.context.metrics, now());
        metrics.events(crate::decode::LogType::CloudTrail, found.len() as u64 - bad_items, bad_items);
        for event in &found {
            metrics.delivered_event(event.time, delivered_at);
        }
        Ok(None)
    }
}

impl Pager {
    /// Every event of the window, all pages, with the window fixed while paging.
    /// Stops between pages once `stop` is cancelled.
    async fn read_window(
        &self,
        start: i64,
        end: i64,
        stop: Option<&CancellationToken>,
    ) -> Result<Vec<Found>, String> {
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self.page(start, end, token.clone()).await?;
            for event in page.events() {
                let (Some(id), Some(record)) = (event.event_id(), event.cloud_trail_event()) else {
                    continue;
                };
                let time = event.event_time().map_or(end, DateTime::secs);
                found.push(Found { id: id.to_string(), time, record: record.to_string() });
            }
            match page.next_token() {
                Some(next) => token = Some(next.to_string()),
                None => return Ok(found),
            }
            if stop.is_some_and(CancellationToken::is_cancelled) {
                return Err("stopped while paging; the window is read again at the next start".into());
            }
        }
    }

    /// One page, retried on throttling and server errors with exponential back-off and jitter.
    async fn page(
        &self,
        start: i64,
        end: i64,
        token: Option<String>,
    ) -> Result<aws_sdk_cloudtrail::operation::lookup_events::LookupEventsOutput, String> {
        let mut attempt = 0;
        loop {
            self.limiter.acquire().await;
            let request = self
                .client
                .lookup_events()
                .start_time(DateTime::from_secs(start))
                .end_time(DateTime::from_secs(end))
                .max_results(i32::try_from(self.config.max_result_count).unwrap_or(50))
                .set_next_token(token.clone());
            let sent = std::time::Instant::now();
            let result = request.send().await;
            if let Some(metrics) = &self.metrics {
                metrics.aws_request("LookupEvents", result.is_ok(), sent.elapsed().as_secs_f64());
            }
            let error = match result {
                Ok(page) => return Ok(page),
                Err(error) => error,
            };
            let retryable = is_retryable(&error);
            if !retryable || attempt >= self.config.api_retry_count {
                return Err(explain(&error, attempt));
            }
            attempt += 1;
            tokio::time::sleep(back_off(attempt)).await;
        }
    }
}

fn is_retryable<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    match error {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("");
            matches!(
                code,
                "ThrottlingException"
                    | "ThrottledException"
                    | "RequestLimitExceeded"
                    | "TooManyRequestsException"
            ) || code.starts_with("InternalFailure")
                || code.starts_with("ServiceUnavailable")
                || code.starts_with("InternalServerError")
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        _ => false,
    }
}

/// 200 ms × 2^attempt, capped at 20 s, with up to 50 % jitter.
fn back_off(attempt: u32) -> Duration {
    let base = Duration::from_millis(200).saturating_mul(1 << attempt.min(7)).min(Duration::from_secs(20));
    let jitter_permille = u64::from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos())
            % 500,
    );
    base + base.mul_f64(jitter_permille as f64 / 1000.0)
}

/// An actionable message for a LookupEvents error.
fn explain<E: ProvideErrorMetadata + std::error::Error + 'static>(
    error: &SdkError<E>,
    retries: u32,
) -> String {
    let code = error.code().unwrap_or("");
    let detail = error.message().unwrap_or("");
    match code {
        "ThrottlingException" => format!(
            "LookupEvents still throttled after {retries} retries; the window is read again at the next poll (lower MaxRequestsPerSecond, or fewer sources on this account and region)"
        ),
        "InvalidTimeRangeException" => format!(
            "LookupEvents refused the time range ({detail}); check this machine's clock (Event history keeps 90 days)"
        ),
        "InvalidNextTokenException" => {
            "LookupEvents refused a page token; the window is read again from its first page at the next poll"
                .to_string()
        }
        "AccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "InvalidSignatureException"
        | "ExpiredTokenException"
        | "MissingAuthenticationTokenException" => {
            format!(
                "authentication failed ({code}: {detail}): check the credentials and that the identity is allowed cloudtrail:LookupEvents"
            )
        }
        "SignatureDoesNotMatch" if detail.contains("time") => {
            format!("the request time was refused ({detail}): this machine's clock is off")
        }
        _ => format!("LookupEvents failed: {}", crate::aws::describe_error(error)),
    }
}
