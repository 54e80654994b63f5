//! The `s3` source: log files in a bucket, every file collected once and none missed.
//!
//! Each poll discovers partitions (account × service × region) below `FilePath` with delimiter
//! listings (`discover.rs`, which also finds the files of trees outside the AWS layout), lists
//! only the day folders inside the look-back window, starting each listing where the checkpoint
//! says everything before is done (minus the settle window), and skips objects already in the
//! processed set. Every `sweep_interval_minutes` a sweep re-lists the whole window. Objects are
//! downloaded a few at a time, streamed through decode and normalize, and recorded as processed
//! only once every sink accepted all their events. `DESIGN.md` beside this file explains why this
//! cannot miss a file and what bounds the guarantee.

pub mod client;
pub mod discover;
pub mod filter;
pub mod listing;
pub mod preview;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;

use self::client::{Bucket, Listed, S3Error};
use self::filter::{ObjectFilter, Verdict};
use self::listing::{DayListing, Partition};
use super::fetch::{Fetched, fetch};
use super::object::Outcome;
use super::{RunMode, SourceContext, blocking, now};
use crate::checkpoint::{CheckpointError, CheckpointStore, ObjectOutcome, ProcessedObject};
use crate::config::S3Source;

/// Objects downloaded and decoded at the same time. Up to `DataFolderFilesCount` more may wait
/// for their delivery meanwhile: an object holds a download slot only until its events are
/// handed to the sinks, so a sink that batches (the `http` sink waits up to `batch_timeout_ms`
/// for a fuller request) is fed by many objects at once instead of four.
const CONCURRENT_OBJECTS: usize = 4;

/// Why the source cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum S3SourceError {
    /// The SDK could not be set up.
    #[error(transparent)]
    Setup(#[from] crate::aws::AwsSetupError),
    /// A glob does not compile (validation should have caught it).
    #[error("invalid glob: {0}")]
    Glob(#[from] globset::Error),
    /// The checkpoint store failed.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A listing failed (`check-config --probe`).
    #[error(transparent)]
    List(#[from] S3Error),
    /// `run --once`: the poll could not be completed.
    #[error("the poll could not be completed: {0}")]
    Incomplete(String),
}

/// A running S3 source.
struct Collector {
    name: String,
    config: S3Source,
    bucket: Bucket,
    store: Arc<CheckpointStore>,
    context: SourceContext,
    filter: ObjectFilter,
    /// The `AWSLogs/` folders the last search found (none before the first poll).
    logs_roots: Mutex<Option<Vec<(String, u32)>>>,
    /// Objects the current poll listed, and how many of them the name globs left out.
    listed: AtomicU64,
    left_out_by_name: AtomicU64,
    /// The download slots ([`CONCURRENT_OBJECTS`]).
    downloads: tokio::sync::Semaphore,
}

/// Polls until shutdown (or once), collecting every new object.
pub async fn run(
    name: String,
    config: S3Source,
    context: SourceContext,
    store: Arc<CheckpointStore>,
    mode: RunMode,
) -> Result<(), S3SourceError> {
    let bucket = bucket(&config).await?.with_metrics(context.metrics.clone());
    let collector = Arc::new(Collector {
        filter: ObjectFilter::new(&config)?,
        logs_roots: Mutex::new(None),
        listed: AtomicU64::new(0),
        left_out_by_name: AtomicU64::new(0),
        downloads: tokio::sync::Semaphore::new(CONCURRENT_OBJECTS),
        name,
        bucket,
        store,
        context,
        config,
    });
    if !collector.pause(Duration::from_secs(collector.config.startup_delay_in_seconds.into())).await {
        return Ok(());
    }
    let (store, source) = (Arc::clone(&collector.store), collector.name.clone());
    let mut last_sweep = blocking(move || store.last_sweep(&source)).await?;
    if mode.sweep_now {
        last_sweep = None;
    }
    loop {
        let started = now();
        let sweep_every = i64::from(collector.config.sweep_interval_minutes) * 60;
        let sweep = last_sweep.is_none_or(|at| started - at >= sweep_every);
        let problem = Arc::clone(&collector).poll(started, sweep).await?;
        let stopped = collector.context.shutdown.is_cancelled();
        match problem {
            None if sweep && !stopped => last_sweep = Some(started),
            Some(problem) if mode.once && !stopped => return Err(S3SourceError::Incomplete(problem)),
            _ => {}
        }
        if mode.once || stopped {
            return Ok(());
        }
        if !collector.pause(Duration::from_secs(collector.config.poll_interval_seconds.into())).await {
            return Ok(());
        }
    }
}

impl Collector {
    /// Waits, unless shutdown comes first (then returns false).
    async fn pause(&self, duration: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(duration) => true,
            _ = self.context.shutdown.cancelled() => false,
        }
    }

    /// One pass over every partition; a sweep ignores the watermarks and lists the whole window.
    /// S3 errors end the partition they happen in (its watermark stays) and are reported as the
    /// poll's problem, which is returned; only a checkpoint failure stops the source.
    async fn poll(self: Arc<Self>, started: i64, sweep: bool) -> Result<Option<String>, S3SourceError> {
        let (store, name) = (Arc::clone(&self.store), self.name.clone());
        blocking(move || store.poll_started(&name, started)).await?;
        self.context.metrics.poll_started(started);
        // What this poll lists is what is pending: objects a failed poll left are listed again.
        self.context.metrics.forget_pending();
        self.listed.store(0, Ordering::Relaxed);
        self.left_out_by_name.store(0, Ordering::Relaxed);
        let problem = self.poll_partitions(started, sweep).await?;
        if let Some(problem) = &problem {
            tracing::warn!(source = %self.name, "{problem}");
        }
        self.warn_when_names_leave_out_everything();
        let (store, name) = (Arc::clone(&self.store), self.name.clone());
        let expire_before = started - (i64::from(self.config.no_of_back_days_data) + 1) * 86_400;
        let clean = problem.is_none() && !self.context.shutdown.is_cancelled();
        let recorded = problem.clone();
        blocking(move || {
            store.expire(&name, expire_before)?;
            if sweep && clean {
                store.sweep_done(&name, started)?;
            }
            store.poll_finished(&name, now(), recorded.as_deref())
        })
        .await?;
        self.context.save_filtered(&self.store, &self.name).await?;
        self.context.metrics.poll_finished(now(), problem.as_deref());
        Ok(problem)
    }

    /// A poll that listed objects and kept none because of `Inclusions`/`Exclusions` collects
    /// nothing: say so.
    fn warn_when_names_leave_out_everything(&self) {
        let listed = self.listed.load(Ordering::Relaxed);
        if listed > 0 && self.left_out_by_name.load(Ordering::Relaxed) == listed {
            tracing::warn!(
                source = %self.name,
                "all {listed} object(s) listed in bucket {} under FilePath {:?} were left out by their file \
                 names (Inclusions {:?}, Exclusions {:?}): nothing is collected",
                self.config.bucket,
                self.config.file_path,
                self.config.inclusions,
                self.config.exclusions
            );
        }
    }

    /// Finds what to list, then collects the loose files and every partition; returns the first
    /// S3 problem, if any.
    async fn poll_partitions(
        self: &Arc<Self>,
        started: i64,
        sweep: bool,
    ) -> Result<Option<String>, S3SourceError> {
        let known = self.logs_roots.lock().unwrap_or_else(|poison| poison.into_inner()).clone();
        let search = sweep || known.is_none();
        let discovery =
            match discover::discover(&self.bucket, &self.config, search, known.as_deref().unwrap_or(&[]))
                .await
            {
                Ok(discovery) => discovery,
                Err(error) => return Ok(Some(error.to_string())),
            };
        if search {
            *self.logs_roots.lock().unwrap_or_else(|poison| poison.into_inner()) =
                Some(discovery.logs_roots.clone());
        }
        tracing::debug!(
            source = %self.name,
            "{} partition(s), {} file(s) outside the day folders",
            discovery.partitions.len(),
            discovery.loose.len()
        );
        if discovery.partitions.is_empty() && discovery.loose.is_empty() {
            tracing::warn!(source = %self.name, "{}", discover::nothing_found(&self.bucket, &self.config, &discovery).await);
            return Ok(None);
        }
        let mut problem = match Arc::clone(self).collect_loose(discovery.loose, started).await {
            Ok(problem) => problem,
            Err(PartitionError::S3(error)) => Some(error.to_string()),
            Err(PartitionError::Checkpoint(error)) => return Err(error.into()),
        };
        for partition in discovery.partitions {
            if self.context.shutdown.is_cancelled() {
                break;
            }
            match Arc::clone(self).poll_partition(&partition, started, sweep).await {
                Ok(None) => {}
                Ok(Some(failed)) => {
                    problem.get_or_insert(failed);
                }
                Err(PartitionError::S3(error)) => {
                    problem.get_or_insert(error.to_string());
                }
                Err(PartitionError::Checkpoint(error)) => return Err(error.into()),
            }
        }
        Ok(problem)
    }

    /// Lists the partition's day folders in the window and collects every new object; returns
    /// what went wrong with downloads, if anything did.
    async fn poll_partition(
        self: Arc<Self>,
        partition: &Partition,
        started: i64,
        sweep: bool,
    ) -> Result<Option<String>, PartitionError> {
        let settle = i64::from(self.config.settle_minutes) * 60;
        let window_start = started - i64::from(self.config.no_of_back_days_data) * 86_400;
        let (store, name, prefix) = (Arc::clone(&self.store), self.name.clone(), partition.prefix.clone());
        let (watermark, processed) = blocking(move || {
            Ok::<_, CheckpointError>((
                store.watermark(&name, &prefix)?,
                store.processed_under(&name, &prefix)?,
            ))
        })
        .await?;
        let resume_from = if sweep { None } else { watermark.map(|w| w - settle) };
        let mut candidates = Vec::new();
        for day in listing::days_in_window(started, self.config.no_of_back_days_data) {
            let DayListing::From(start_after) = listing::plan_day(partition, day, resume_from) else {
                continue;
            };
            let day_prefix = listing::day_prefix(partition, day);
            tracing::debug!(source = %self.name, "listing {day_prefix} after {:?}", start_after.as_deref().unwrap_or(""));
            for object in self.bucket.list(&day_prefix, start_after.as_deref()).await? {
                if let Some(candidate) = self.candidate(object, &processed, window_start) {
                    candidates.push(candidate);
                }
            }
        }
        let collected = self.collect(candidates).await?;
        let (store, name, prefix) = (Arc::clone(&self.store), self.name.clone(), partition.prefix.clone());
        let watermark = listing::next_watermark(started, collected.undelivered);
        blocking(move || store.advance_watermark(&name, &prefix, watermark)).await?;
        Ok(collected.download_problem)
    }

    /// Collects the files found in `FilePath` and its folders down to `DepthToRecurse` levels.
    /// Folders outside the AWS layout have no time order: they are listed on every poll, and the
    /// processed set skips what is done.
    async fn collect_loose(
        self: Arc<Self>,
        loose: Vec<Listed>,
        started: i64,
    ) -> Result<Option<String>, PartitionError> {
        if loose.is_empty() {
            return Ok(None);
        }
        let window_start = started - i64::from(self.config.no_of_back_days_data) * 86_400;
        let keys: Vec<String> = loose.iter().map(|object| object.key.clone()).collect();
        let (store, name) = (Arc::clone(&self.store), self.name.clone());
        let processed = blocking(move || store.processed_among(&name, &keys)).await?;
        let candidates =
            loose.into_iter().filter_map(|object| self.candidate(object, &processed, window_start)).collect();
        Ok(self.collect(candidates).await?.download_problem)
    }

    /// The object with its key time, if it is new, wanted and inside the look-back window.
    fn candidate(
        &self,
        object: Listed,
        processed: &HashSet<(String, String)>,
        window_start: i64,
    ) -> Option<(Listed, i64)> {
        let verdict = self.filter.judge(&object, window_start);
        if verdict != Verdict::NotALog {
            self.listed.fetch_add(1, Ordering::Relaxed);
        }
        match verdict {
            Verdict::LeftOutByName => {
                self.left_out_by_name.fetch_add(1, Ordering::Relaxed);
                None
            }
            Verdict::Wanted(key_time) if !processed.contains(&(object.key.clone(), object.etag.clone())) => {
                Some((object, key_time))
            }
            _ => None,
        }
    }

    /// Collects objects a few at a time.
    async fn collect(self: &Arc<Self>, candidates: Vec<(Listed, i64)>) -> Result<Collected, PartitionError> {
        for (_, key_time) in &candidates {
            self.context.metrics.pending(*key_time);
        }
        let mut collected = Collected::default();
        let mut failed_downloads = 0;
        let mut pending = candidates.into_iter();
        let mut running = JoinSet::new();
        loop {
            while running.len() < self.config.data_folder_files_count as usize {
                let Some((object, key_time)) = pending.next() else { break };
                if self.context.shutdown.is_cancelled() {
                    collected.undelivered.push(key_time);
                    continue;
                }
                running.spawn(Arc::clone(self).collect_one(object, key_time));
            }
            let Some(joined) = running.join_next().await else { break };
            let (key_time, result) =
                joined.unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()));
            match result {
                Ok(Collection::Delivered) => {}
                Ok(Collection::NotDelivered) => collected.undelivered.push(key_time),
                Ok(Collection::DownloadFailed(error)) => {
                    collected.undelivered.push(key_time);
                    failed_downloads += 1;
                    collected.download_problem.get_or_insert(error.to_string());
                }
                Err(error) => return Err(error),
            }
        }
        if failed_downloads > 1
            && let Some(first) = &mut collected.download_problem
        {
            *first = format!("{failed_downloads} objects could not be downloaded; the first: {first}");
        }
        Ok(collected)
    }

    /// Downloads, decodes and delivers one object, then records it. One that was not delivered
    /// is not recorded: it will be listed again.
    async fn collect_one(
        self: Arc<Self>,
        object: Listed,
        key_time: i64,
    ) -> (i64, Result<Collection, PartitionError>) {
        let log_type = Some(self.config.log_type);
        let slot = Some(&self.downloads);
        let report = match fetch(&self.name, &self.bucket, &object.key, log_type, &self.context, slot).await {
            Fetched::Done(report) => report,
            Fetched::NotDelivered => return (key_time, Ok(Collection::NotDelivered)),
            Fetched::DownloadFailed(error) => return (key_time, Ok(Collection::DownloadFailed(error))),
        };
        let delivered_at = (report.outcome == Outcome::Complete).then(now);
        let (outcome, detail) = match report.outcome {
            Outcome::Complete => (ObjectOutcome::Delivered, None),
            Outcome::Skipped(reason) => (ObjectOutcome::Skipped, Some(format!("{reason:?}"))),
            Outcome::Failed(reason) => (ObjectOutcome::Quarantined, Some(reason)),
            Outcome::Stopped => unreachable!("fetch reports a stopped object as not delivered"),
        };
        let record = ProcessedObject { key: object.key, etag: object.etag, key_time, outcome, detail };
        let (store, name) = (Arc::clone(&self.store), self.name.clone());
        let saved = blocking(move || store.record(&name, &[record], now())).await;
        self.context.metrics.settled(key_time, delivered_at);
        (key_time, saved.map(|()| Collection::Delivered).map_err(PartitionError::from))
    }
}

/// What became of one object.
enum Collection {
    /// Delivered to every sink and recorded.
    Delivered,
    /// Not delivered (shutdown, or a sink failed): listed again by a later poll.
    NotDelivered,
    /// The download failed: listed again by a later poll, and reported.
    DownloadFailed(S3Error),
}

/// What became of a set of objects.
#[derive(Default)]
struct Collected {
    /// The key times of the objects not delivered (the watermark stops at the oldest).
    undelivered: Vec<i64>,
    /// The first failed download, if any (with the count when there were several).
    download_problem: Option<String>,
}

/// What stops one partition's poll.
#[derive(Debug, thiserror::Error)]
enum PartitionError {
    #[error(transparent)]
    S3(#[from] S3Error),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// The source's bucket, through an SDK client built from its settings.
async fn bucket(config: &S3Source) -> Result<Bucket, S3SourceError> {
    let sdk = crate::aws::sdk_config(&config.aws).await?;
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk).force_path_style(config.aws.force_path_style).build(),
    );
    Ok(Bucket::new(client, &config.bucket, config.max_result_count, config.log_api_requests))
}
