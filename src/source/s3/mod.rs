//! The `s3` source: log files in a bucket, every file collected once and none missed.
//!
//! Each poll discovers partitions (account × service × region) with delimiter listings, lists
//! only the day folders inside the look-back window, starting each listing where the checkpoint
//! says everything before is done (minus the settle window), and skips objects already in the
//! processed set. Every `sweep_interval_minutes` a sweep re-lists the whole window. Objects are
//! downloaded a few at a time, streamed through decode and normalize, and recorded as processed
//! only once every sink accepted all their events. `DESIGN.md` beside this file explains why this
//! cannot miss a file and what bounds the guarantee.

pub mod client;
pub mod listing;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use globset::{Glob, GlobSet, GlobSetBuilder};
use tokio::task::JoinSet;

use self::client::{Bucket, Listed, S3Error};
use self::listing::{DayListing, Partition};
use super::object::{self, Outcome, Stopped};
use super::{Batch, RunMode, SourceContext, blocking, now};
use crate::ack::{Acknowledgement, Delivery};
use crate::checkpoint::{CheckpointError, CheckpointStore, ObjectOutcome, ProcessedObject};
use crate::config::S3Source;
use crate::decode::{self, KeyKind};
use crate::normalize::ObjectContext;

/// Objects downloaded and processed at the same time (always within `DataFolderFilesCount`).
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
}

/// A running S3 source.
struct Collector {
    name: String,
    config: S3Source,
    bucket: Bucket,
    store: Arc<CheckpointStore>,
    context: SourceContext,
    inclusions: GlobSet,
    exclusions: GlobSet,
}

/// Polls until shutdown (or once), collecting every new object.
pub async fn run(
    name: String,
    config: S3Source,
    context: SourceContext,
    store: Arc<CheckpointStore>,
    mode: RunMode,
) -> Result<(), S3SourceError> {
    let sdk = crate::aws::sdk_config(&config.aws).await?;
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk).force_path_style(config.aws.force_path_style).build(),
    );
    let bucket = Bucket::new(client, &config.bucket, config.max_result_count, config.log_api_requests);
    let collector = Arc::new(Collector {
        inclusions: glob_set(&config.inclusions)?,
        exclusions: glob_set(&config.exclusions)?,
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
        match Arc::clone(&collector).poll(started, sweep).await {
            Ok(true) if sweep => last_sweep = Some(started),
            Ok(_) => {}
            Err(error) => return Err(error),
        }
        if mode.once || collector.context.shutdown.is_cancelled() {
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
    /// poll's error; only a checkpoint failure stops the source. True when the poll was clean.
    async fn poll(self: Arc<Self>, started: i64, sweep: bool) -> Result<bool, S3SourceError> {
        let (store, name) = (Arc::clone(&self.store), self.name.clone());
        blocking(move || store.poll_started(&name, started)).await?;
        let problem = self.poll_partitions(started, sweep).await?;
        if let Some(problem) = &problem {
            tracing::warn!(source = %self.name, "{problem}");
        }
        let (store, name) = (Arc::clone(&self.store), self.name.clone());
        let expire_before = started - (i64::from(self.config.no_of_back_days_data) + 1) * 86_400;
        let clean = problem.is_none() && !self.context.shutdown.is_cancelled();
        blocking(move || {
            store.expire(&name, expire_before)?;
            if sweep && clean {
                store.sweep_done(&name, started)?;
            }
            store.poll_finished(&name, now(), problem.as_deref())
        })
        .await?;
        Ok(clean)
    }

    /// Polls every partition; returns the first S3 problem, if any. A bucket without an
    /// `AWSLogs/` folder under `FilePath` is read as a plain tree (`DepthToRecurse` levels).
    async fn poll_partitions(
        self: &Arc<Self>,
        started: i64,
        sweep: bool,
    ) -> Result<Option<String>, S3SourceError> {
        let partitions = match self.discover().await {
            Ok(partitions) => partitions,
            Err(error) => return Ok(Some(error.to_string())),
        };
        if partitions.is_empty() {
            return match Arc::clone(self).poll_tree(started).await {
                Ok(()) => Ok(None),
                Err(PartitionError::S3(error)) => Ok(Some(error.to_string())),
                Err(PartitionError::Checkpoint(error)) => Err(error.into()),
            };
        }
        let mut problem = None;
        for partition in partitions {
            if self.context.shutdown.is_cancelled() {
                break;
            }
            match Arc::clone(self).poll_partition(&partition, started, sweep).await {
                Ok(()) => {}
                Err(PartitionError::S3(error)) => {
                    problem.get_or_insert(error.to_string());
                }
                Err(PartitionError::Checkpoint(error)) => return Err(error.into()),
            }
        }
        Ok(problem)
    }

    /// Partitions below `[FilePath]AWSLogs/`: accounts (also inside organization folders),
    /// the service folders of the log type, then the region folders.
    async fn discover(&self) -> Result<Vec<Partition>, S3Error> {
        let root = format!("{}AWSLogs/", self.config.file_path);
        let mut accounts = Vec::new();
        for folder in self.bucket.folders(&root).await? {
            let name = listing::folder_name(&folder);
            if listing::is_account(name) {
                accounts.push((folder.clone(), name.to_string()));
            } else if listing::is_organization(name) {
                for member in self.bucket.folders(&folder).await? {
                    let account = listing::folder_name(&member).to_string();
                    if listing::is_account(&account) {
                        accounts.push((member.clone(), account));
                    }
                }
            }
        }
        tracing::debug!(source = %self.name, "{} account folder(s) under {root}", accounts.len());
        let mut partitions = Vec::new();
        for (account_prefix, account) in accounts {
            if self.excluded_folder(&account) {
                continue;
            }
            for service in listing::service_folders(self.config.log_type) {
                for region_prefix in self.bucket.folders(&format!("{account_prefix}{service}/")).await? {
                    let region = listing::folder_name(&region_prefix).to_string();
                    let wanted =
                        self.config.region_folders.is_empty() || self.config.region_folders.contains(&region);
                    if wanted && !self.excluded_folder(&region) {
                        partitions.push(Partition {
                            prefix: region_prefix,
                            account: account.clone(),
                            service: service.to_string(),
                            region,
                        });
                    }
                }
            }
        }
        Ok(partitions)
    }

    fn excluded_folder(&self, name: &str) -> bool {
        self.config.exclusion_directories.iter().any(|entry| name.contains(entry.as_str()))
    }

    /// Lists the partition's day folders in the window and collects every new object.
    async fn poll_partition(
        self: Arc<Self>,
        partition: &Partition,
        started: i64,
        sweep: bool,
    ) -> Result<(), PartitionError> {
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
        let undelivered = self.collect(candidates).await?;
        let (store, name, prefix) = (Arc::clone(&self.store), self.name.clone(), partition.prefix.clone());
        let watermark = listing::next_watermark(started, undelivered);
        blocking(move || store.advance_watermark(&name, &prefix, watermark)).await?;
        Ok(())
    }

    /// Reads a bucket that does not follow the AWS layout: the objects of `FilePath` and of its
    /// folders down to `DepthToRecurse` levels, skipping excluded folders. Without time-ordered
    /// folders there is no watermark: every poll lists the tree, and the processed set skips what
    /// is done.
    async fn poll_tree(self: Arc<Self>, started: i64) -> Result<(), PartitionError> {
        let window_start = started - i64::from(self.config.no_of_back_days_data) * 86_400;
        let root = self.config.file_path.clone();
        let (store, name, prefix) = (Arc::clone(&self.store), self.name.clone(), root.clone());
        let processed = blocking(move || store.processed_under(&name, &prefix)).await?;
        let mut candidates = Vec::new();
        let mut level = vec![root];
        for depth in 1..=self.config.depth_to_recurse {
            let mut next_level = Vec::new();
            for prefix in level {
                let (objects, folders) = self.bucket.level(&prefix).await?;
                candidates.extend(
                    objects.into_iter().filter_map(|object| self.candidate(object, &processed, window_start)),
                );
                if depth < self.config.depth_to_recurse {
                    next_level.extend(
                        folders
                            .into_iter()
                            .filter(|folder| !self.excluded_folder(listing::folder_name(folder))),
                    );
                }
            }
            level = next_level;
        }
        self.collect(candidates).await?;
        Ok(())
    }

    /// The object with its key time, if it is new, wanted and inside the look-back window.
    fn candidate(
        &self,
        object: Listed,
        processed: &HashSet<(String, String)>,
        window_start: i64,
    ) -> Option<(Listed, i64)> {
        if processed.contains(&(object.key.clone(), object.etag.clone())) {
            return None;
        }
        if matches!(decode::classify_key(&object.key), KeyKind::Digest | KeyKind::FolderMarker)
            || object.size == 0
        {
            return None;
        }
        let file_name = object.key.rsplit('/').next().unwrap_or("");
        if !self.inclusions.is_match(file_name) || self.exclusions.is_match(file_name) {
            return None;
        }
        if listing::in_excluded_folder(
            &object.key,
            &self.config.file_path,
            &self.config.exclusion_directories,
        ) {
            return None;
        }
        let key_time = listing::key_time(&object.key).or(object.last_modified).unwrap_or(window_start);
        (key_time >= window_start).then_some((object, key_time))
    }

    /// Collects objects a few at a time; returns the key times of those not delivered.
    async fn collect(self: &Arc<Self>, candidates: Vec<(Listed, i64)>) -> Result<Vec<i64>, PartitionError> {
        let mut undelivered = Vec::new();
        let mut pending = candidates.into_iter();
        let mut running = JoinSet::new();
        loop {
            while running.len() < CONCURRENT_OBJECTS.min(self.config.data_folder_files_count as usize) {
                let Some((object, key_time)) = pending.next() else { break };
                if self.context.shutdown.is_cancelled() {
                    undelivered.push(key_time);
                    continue;
                }
                running.spawn(Arc::clone(self).collect_one(object, key_time));
            }
            let Some(joined) = running.join_next().await else { break };
            let (key_time, result) =
                joined.unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()));
            match result {
                Ok(true) => {}
                Ok(false) => undelivered.push(key_time),
                Err(error) => return Err(error),
            }
        }
        Ok(undelivered)
    }

    /// Downloads, decodes and delivers one object, then records it; `Ok(false)` when it was not
    /// delivered (it will be listed again).
    async fn collect_one(
        self: Arc<Self>,
        object: Listed,
        key_time: i64,
    ) -> (i64, Result<bool, PartitionError>) {
        let body = match self.bucket.get(&object.key).await {
            Ok(body) => body,
            Err(error) => {
                tracing::warn!(source = %self.name, "{error}");
                return (key_time, Ok(false));
            }
        };
        let acknowledgement = Acknowledgement::new();
        let collector = Arc::clone(&self);
        let key = object.key.clone();
        let receipts = acknowledgement.receipts();
        let ingest = tokio::task::spawn_blocking(move || {
            let context = ObjectContext::new(&collector.name, Some(collector.bucket.name()), &key, now());
            let mut emit = |events| {
                if collector.context.shutdown.is_cancelled() {
                    return Err(Stopped);
                }
                let batch = Batch { events, receipt: Some(receipts.next()) };
                collector.context.out.send(batch).map_err(|_| Stopped)
            };
            let log_type = Some(collector.config.log_type);
            object::ingest(
                std::io::Cursor::new(body),
                &context,
                log_type,
                &collector.context.stats,
                &mut emit,
            )
        });
        let report = ingest.await.unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()));
        if report.outcome == Outcome::Stopped || acknowledgement.outcome().await == Delivery::Failed {
            return (key_time, Ok(false));
        }
        let (outcome, detail) = match report.outcome {
            Outcome::Complete => (ObjectOutcome::Delivered, None),
            Outcome::Skipped(reason) => (ObjectOutcome::Skipped, Some(format!("{reason:?}"))),
            Outcome::Failed(reason) => (ObjectOutcome::Quarantined, Some(reason)),
            Outcome::Stopped => unreachable!("handled above"),
        };
        tracing::debug!(source = %self.name, key = %object.key, events = report.events, "{outcome:?}");
        let record = ProcessedObject { key: object.key, etag: object.etag, key_time, outcome, detail };
        let (store, name) = (Arc::clone(&self.store), self.name.clone());
        let saved = blocking(move || store.record(&name, &[record], now())).await;
        (key_time, saved.map(|()| true).map_err(PartitionError::from))
    }
}

/// What stops one partition's poll.
#[derive(Debug, thiserror::Error)]
enum PartitionError {
    #[error(transparent)]
    S3(#[from] S3Error),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

fn glob_set(globs: &[String]) -> Result<GlobSet, globset::Error> {
    let mut builder = GlobSetBuilder::new();
    for glob in globs {
        builder.add(Glob::new(glob)?);
    }
    builder.build()
}
