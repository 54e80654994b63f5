//! `check-config --probe`: what the current settings of an S3 source reach in its bucket,
//! found the way a sweep finds it (every day folder of the look-back window), without
//! downloading an object or touching a checkpoint.

use super::client::Listed;
use super::filter::{ObjectFilter, Verdict};
use super::{S3SourceError, bucket, discover, listing, now};
use crate::config::S3Source;

/// The objects the settings reach in one place (a partition, or the folders outside the layout).
#[derive(Debug, Default)]
pub struct Reached {
    /// The partition's prefix, or `FilePath` for the files outside the day folders.
    pub prefix: String,
    /// True for the files in `FilePath` and its folders down to `DepthToRecurse` levels.
    pub loose: bool,
    /// Objects wanted.
    pub objects: u64,
    /// Their stored size.
    pub bytes: u64,
    /// The first and last wanted keys, in key order.
    pub first_key: Option<String>,
    /// See `first_key`.
    pub last_key: Option<String>,
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

/// What a probe found.
#[derive(Debug, Default)]
pub struct Probe {
    /// Per partition, then the files outside the day folders (when there are any).
    pub reached: Vec<Reached>,
    /// Log files left out by `Inclusions` / `Exclusions`.
    pub left_out_by_name: u64,
    /// Log files in folders an `ExclusionDirectories` entry names.
    pub in_excluded_folders: u64,
    /// Log files older than the look-back window.
    pub too_old: u64,
    /// When nothing at all was found under `FilePath`: what was seen instead.
    pub nothing_found: Option<String>,
}

impl Probe {
    /// Objects reached in all.
    pub fn objects(&self) -> u64 {
        self.reached.iter().map(|reached| reached.objects).sum()
    }

    /// Their stored size in all.
    pub fn bytes(&self) -> u64 {
        self.reached.iter().map(|reached| reached.bytes).sum()
    }
}

/// Lists what the source would collect in a sweep of its look-back window.
pub async fn probe(config: &S3Source) -> Result<Probe, S3SourceError> {
    let bucket = bucket(config).await?;
    let filter = ObjectFilter::new(config)?;
    let started = now();
    let window_start = started - i64::from(config.no_of_back_days_data) * 86_400;
    let discovery = discover::discover(&bucket, config, true, &[]).await?;
    let mut probe = Probe::default();
    if discovery.partitions.is_empty() && discovery.loose.is_empty() {
        probe.nothing_found = Some(discover::nothing_found(&bucket, config, &discovery).await);
        return Ok(probe);
    }
    let mut judge = |reached: &mut Reached, object: &Listed| match filter.judge(object, window_start) {
        Verdict::Wanted(_) => reached.add(object),
        Verdict::LeftOutByName => probe.left_out_by_name += 1,
        Verdict::ExcludedFolder => probe.in_excluded_folders += 1,
        Verdict::TooOld => probe.too_old += 1,
        Verdict::NotALog => {}
    };
    let mut reached = Vec::new();
    for partition in &discovery.partitions {
        let mut here = Reached { prefix: partition.prefix.clone(), ..Reached::default() };
        for day in listing::days_in_window(started, config.no_of_back_days_data) {
            let objects = bucket.list(&listing::day_prefix(partition, day), None).await?;
            objects.iter().for_each(|object| judge(&mut here, object));
        }
        reached.push(here);
    }
    if !discovery.loose.is_empty() {
        let mut here = Reached { prefix: config.file_path.clone(), loose: true, ..Reached::default() };
        discovery.loose.iter().for_each(|object| judge(&mut here, object));
        reached.push(here);
    }
    probe.reached = reached;
    Ok(probe)
}
