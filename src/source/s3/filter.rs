//! Which listed objects a source wants: log files, by name and folder, inside the look-back
//! window. Shared by the poll and by `check-config --probe`, so both count the same objects.

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::client::Listed;
use super::listing;
use crate::config::S3Source;
use crate::decode::{self, KeyKind};

/// What the source's settings say of one listed object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not a log file (a digest, a folder marker, an empty object): never collected, not counted.
    NotALog,
    /// Left out by `Inclusions` / `Exclusions`.
    LeftOutByName,
    /// In a folder an `ExclusionDirectories` entry names.
    ExcludedFolder,
    /// Its key time is before the look-back window.
    TooOld,
    /// Wanted, with its key time (from the file name, else its last-modified time).
    Wanted(i64),
}

/// The object filters of one source.
pub struct ObjectFilter {
    inclusions: GlobSet,
    exclusions: GlobSet,
    root: String,
    exclusion_directories: Vec<String>,
}

impl ObjectFilter {
    /// Compiles the source's globs (validation has checked them).
    pub fn new(config: &S3Source) -> Result<Self, globset::Error> {
        Ok(ObjectFilter {
            inclusions: glob_set(&config.inclusions)?,
            exclusions: glob_set(&config.exclusions)?,
            root: config.file_path.clone(),
            exclusion_directories: config.exclusion_directories.clone(),
        })
    }

    /// What the settings say of `object` when the look-back window starts at `window_start`.
    pub fn judge(&self, object: &Listed, window_start: i64) -> Verdict {
        if matches!(decode::classify_key(&object.key), KeyKind::Digest | KeyKind::FolderMarker)
            || object.size == 0
        {
            return Verdict::NotALog;
        }
        let file_name = object.key.rsplit('/').next().unwrap_or("");
        if !self.inclusions.is_match(file_name) || self.exclusions.is_match(file_name) {
            return Verdict::LeftOutByName;
        }
        if listing::in_excluded_folder(&object.key, &self.root, &self.exclusion_directories) {
            return Verdict::ExcludedFolder;
        }
        let key_time = listing::key_time(&object.key).or(object.last_modified).unwrap_or(window_start);
        if key_time < window_start { Verdict::TooOld } else { Verdict::Wanted(key_time) }
    }
}

/// Compiles file-name globs into one matcher.
pub fn glob_set(globs: &[String]) -> Result<GlobSet, globset::Error> {
    let mut builder = GlobSetBuilder::new();
    for glob in globs {
        builder.add(Glob::new(glob)?);
    }
    builder.build()
}
