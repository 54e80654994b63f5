//! What an S3 source would collect, found by listings alone: nothing is downloaded and no
//! checkpoint changes.
//!
//! Two uses: `check-config --probe` asks what the settings reach in the whole look-back window
//! (a sweep, no checkpoint); `run --dry-run` asks what the *next poll* would collect, reading the
//! source's checkpoints (watermarks, processed objects, last sweep) from a read-only store, so
//! the answer is the poll's own plan.

use std::collections::HashSet;

use serde::Serialize;

use super::client::Listed;
use super::filter::{ObjectFilter, Verdict};
use super::listing::{self, DayListing};
use super::{S3SourceError, bucket, discover, now};
use crate::checkpoint::CheckpointStore;
use crate::config::S3Source;

/// The objects the settings reach in one place (a partition, or the folders outside the layout).
#[derive(Debug, Default, Serialize)]
pub struct Reached {
    /// The partition's prefix, or `FilePath` for the files outside the day folders.
    pub prefix: String,
    /// True for the files in `FilePath` and its folders down to `DepthToRecurse` levels.
    pub loose: bool,
    /// Objects wanted.
    pub objects: u64,
    /// Their stored size.
    pub bytes: u64,
    /// The first wanted key, in key order.
    pub first_key: Option<String>,
    /// The last wanted key, in key order.
    pub last_key: Option<String>,
    /// Log files listed and left out, with why.
    pub skipped: Vec<Skipped>,
}

/// A log file the settings leave out.
#[derive(Debug, Serialize)]
pub struct Skipped {
    /// Its key.
    pub key: String,
    /// Why: `inclusions/exclusions`, `exclusion_directories` or `older than the window`.
    pub reason: &'static str,
}

impl Reached {
    fn add(&mut self, object: &Listed) {
        self.objects += 1;
        self.bytes += u64::try_from(object.size).unwrap_or(0);
        if self.first_key.as_ref().is_none_or(|first| object.key < *first) {
            self.first_key = Some(object.key.clone());
        }
        if self.last_key.as_ref().is_none_or(|last| object.key > *last) {
            self.last_key = Some(object.key.clone());
        }
    }
}

/// What a preview found.
#[derive(Debug, Default, Serialize)]
pub struct Preview {
    /// True when the listing covers the whole look-back window (a sweep, or a probe).
    pub sweep: bool,
    /// Per partition, then the files outside the day folders (when there are any).
    pub reached: Vec<Reached>,
    /// Log files already collected (in the processed set), not counted above.
    pub already_collected: u64,
    /// When nothing at all was found under `FilePath`: what was seen instead.
    pub nothing_found: Option<String>,
}

impl Preview {
    /// Objects reached in all.
    pub fn objects(&self) -> u64 {
        self.reached.iter().map(|reached| reached.objects).sum()
    }

    /// Their stored size in all.
    pub fn bytes(&self) -> u64 {
        self.reached.iter().map(|reached| reached.bytes).sum()
    }

    /// How many log files were left out for `reason`.
    pub fn skipped(&self, reason: &str) -> usize {
        self.reached.iter().flat_map(|reached| &reached.skipped).filter(|s| s.reason == reason).count()
    }
}

/// Reasons a log file is left out, as [`Skipped::reason`] says them.
pub const BY_NAME: &str = "inclusions/exclusions";
/// See [`BY_NAME`].
pub const BY_FOLDER: &str = "exclusion_directories";
/// See [`BY_NAME`].
pub const TOO_OLD: &str = "older than the window";

/// The source's checkpoints, for a preview of its next poll.
pub struct Checkpoints<'a> {
    /// The store, opened read-only.
    pub store: &'a CheckpointStore,
    /// The source's name (its checkpoints' scope).
    pub source: &'a str,
}

/// Lists what the source would collect: in its next poll when `checkpoints` are given, else in a
/// sweep of its whole look-back window.
pub async fn preview(
    config: &S3Source,
    checkpoints: Option<Checkpoints<'_>>,
) -> Result<Preview, S3SourceError> {
    let bucket = bucket(config).await?;
    let filter = ObjectFilter::new(config)?;
    let started = now();
    let window_start = started - i64::from(config.no_of_back_days_data) * 86_400;
    let sweep = match &checkpoints {
        None => true,
        Some(checkpoints) => checkpoints
            .store
            .last_sweep(checkpoints.source)?
            .is_none_or(|at| started - at >= i64::from(config.sweep_interval_minutes) * 60),
    };
    let discovery = discover::discover(&bucket, config, true, &[]).await?;
    let mut preview = Preview { sweep, ..Preview::default() };
    if discovery.partitions.is_empty() && discovery.loose.is_empty() {
        preview.nothing_found = Some(discover::nothing_found(&bucket, config, &discovery).await);
        return Ok(preview);
    }
    let mut judge = |reached: &mut Reached, object: &Listed, processed: &HashSet<(String, String)>| {
        let reason = match filter.judge(object, window_start) {
            Verdict::NotALog => return,
            Verdict::Wanted(_) if processed.contains(&(object.key.clone(), object.etag.clone())) => {
                preview.already_collected += 1;
                return;
            }
            Verdict::Wanted(_) => return reached.add(object),
            Verdict::LeftOutByName => BY_NAME,
            Verdict::ExcludedFolder => BY_FOLDER,
            Verdict::TooOld => TOO_OLD,
        };
        reached.skipped.push(Skipped { key: object.key.clone(), reason });
    };
    let mut reached = Vec::new();
    let settle = i64::from(config.settle_minutes) * 60;
    for partition in &discovery.partitions {
        let mut here = Reached { prefix: partition.prefix.clone(), ..Reached::default() };
        let (resume_from, processed) = match &checkpoints {
            None => (None, HashSet::new()),
            Some(checkpoints) => {
                let watermark = checkpoints.store.watermark(checkpoints.source, &partition.prefix)?;
                let resume_from = if sweep { None } else { watermark.map(|w| w - settle) };
                (resume_from, checkpoints.store.processed_under(checkpoints.source, &partition.prefix)?)
            }
        };
        for day in listing::days_in_window(started, config.no_of_back_days_data) {
            let DayListing::From(start_after) = listing::plan_day(partition, day, resume_from) else {
                continue;
            };
            let day_prefix = listing::day_prefix(partition, day);
            for object in bucket.list(&day_prefix, start_after.as_deref()).await? {
                judge(&mut here, &object, &processed);
            }
        }
        reached.push(here);
    }
    if !discovery.loose.is_empty() {
        let processed = match &checkpoints {
            None => HashSet::new(),
            Some(checkpoints) => {
                let keys: Vec<String> = discovery.loose.iter().map(|object| object.key.clone()).collect();
                checkpoints.store.processed_among(checkpoints.source, &keys)?
            }
        };
        let mut here = Reached { prefix: config.file_path.clone(), loose: true, ..Reached::default() };
        discovery.loose.iter().for_each(|object| judge(&mut here, object, &processed));
        reached.push(here);
    }
    preview.reached = reached;
    Ok(preview)
}
