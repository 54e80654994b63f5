//! The `dir` source: log files on a local disk, as single files or whole `AWSLogs/` trees.
//!
//! It reads what it finds once and then finishes; `trailhound replay` is this source with a sink.
//! Files are read in parallel, one per core, each on a blocking thread. Within a file the events
//! keep their order; across files they interleave.
//!
//! The object key of a file (used in `origin.key` and in flow-log event ids) is its path from the
//! `AWSLogs/` folder on when it has one, so a replayed tree gives the same keys as the bucket it
//! was copied from; otherwise it is the path below the directory that was named.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::object::{self, Outcome, Stopped};
use super::{Batch, SourceContext};
use crate::config::DirSource;
use crate::decode::{self, KeyKind, LogType};
use crate::normalize::ObjectContext;
use crate::telemetry::{ObjectEnd, Stats};

/// A problem that prevents the source from running at all.
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    /// A path given in the configuration or on the command line does not exist.
    #[error("{path}: {source}")]
    Missing {
        /// The path.
        path: PathBuf,
        /// Why it cannot be read.
        source: std::io::Error,
    },
    /// A glob does not compile (validation should have caught it).
    #[error("invalid glob: {0}")]
    Glob(#[from] globset::Error),
}

/// One file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileJob {
    /// Where it is.
    pub path: PathBuf,
    /// Its object key (see the module docs).
    pub key: String,
    /// The log type, when configuration or key layout fixes it.
    pub log_type: Option<LogType>,
}

/// Reads every file of the source, then returns.
pub async fn run(name: String, config: DirSource, context: SourceContext) -> Result<(), DirError> {
    let discover_config = config.clone();
    let jobs = tokio::task::spawn_blocking(move || discover(&discover_config))
        .await
        .expect("file discovery does not panic")?;
    let mut queue = VecDeque::new();
    for job in jobs {
        match decode::classify_key(&job.key) {
            KeyKind::Digest | KeyKind::FolderMarker => {
                Stats::add(&context.stats.objects_skipped, 1);
                tracing::debug!(key = %job.key, "skipped: not a log file");
            }
            _ => queue.push_back(job),
        }
    }
    Stats::add(&context.stats.objects_found, queue.len() as u64);
    let queue = Arc::new(Mutex::new(queue));
    let name = Arc::new(name);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut handles = Vec::with_capacity(workers);
    for _ in 0..workers {
        let (queue, context, name) = (Arc::clone(&queue), context.clone(), Arc::clone(&name));
        handles.push(tokio::task::spawn_blocking(move || work(&queue, &context, &name)));
    }
    for handle in handles {
        if let Err(error) = handle.await {
            std::panic::resume_unwind(error.into_panic());
        }
    }
    Ok(())
}

fn work(queue: &Mutex<VecDeque<FileJob>>, context: &SourceContext, name: &str) {
    loop {
        if context.shutdown.is_cancelled() {
            return;
        }
        let Some(job) = queue.lock().expect("queue lock").pop_front() else { return };
        if read_file(&job, context, name) == Outcome::Stopped {
            return;
        }
    }
}

fn read_file(job: &FileJob, context: &SourceContext, name: &str) -> Outcome {
    let file = match std::fs::File::open(&job.path) {
        Ok(file) => file,
        Err(error) => {
            tracing::warn!("{}: cannot open: {error}", job.path.display());
            Stats::add(&context.stats.objects_failed, 1);
            context.metrics.object(ObjectEnd::Failed);
            return Outcome::Failed(error.to_string());
        }
    };
    let size = file.metadata().map_or(0, |metadata| metadata.len());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let object_context = ObjectContext::new(name, None, &job.key, now);
    let mut emit = |events| {
        if context.shutdown.is_cancelled() {
            return Err(Stopped);
        }
        context.out.send(Batch { events, receipt: None }).map_err(|_| Stopped)
    };
    let filter = context.filter.as_deref();
    let report = object::ingest(file, &object_context, job.log_type, filter, &context.stats, &mut emit);
    context.metrics.input_bytes(size);
    report.count(&context.metrics);
    report.outcome
}

/// Lists the files to read, in a stable order: named files first as given, then each tree
/// sorted by path. Globs apply to files found inside directories, not to files named directly.
pub fn discover(config: &DirSource) -> Result<Vec<FileJob>, DirError> {
    let inclusions = glob_set(&config.inclusions)?;
    let exclusions = glob_set(&config.exclusions)?;
    let mut jobs = Vec::new();
    for root in &config.paths {
        let metadata =
            std::fs::metadata(root).map_err(|source| DirError::Missing { path: root.clone(), source })?;
        if !metadata.is_dir() {
            let key = key_of(root, root.parent().unwrap_or(Path::new("")));
            jobs.push(job(root.clone(), key, config.log_type));
            continue;
        }
        let walker = walkdir::WalkDir::new(root).follow_links(true).sort_by_file_name();
        for entry in walker {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    tracing::warn!("{error}");
                    continue;
                }
            };
            if !entry.file_type().is_file() {
                continue;
            }
            let file_name = entry.file_name();
            if !inclusions.is_match(file_name) || exclusions.is_match(file_name) {
                continue;
            }
            let key = key_of(entry.path(), root);
            jobs.push(job(entry.into_path(), key, config.log_type));
        }
    }
    Ok(jobs)
}

fn job(path: PathBuf, key: String, configured: Option<LogType>) -> FileJob {
    let log_type = configured.or(match decode::classify_key(&path.to_string_lossy()) {
        KeyKind::Log(log_type) => Some(log_type),
        _ => None,
    });
    FileJob { path, key, log_type }
}

/// The path from its `AWSLogs` component on, else relative to `root`, with `/` separators.
fn key_of(path: &Path, root: &Path) -> String {
    let components: Vec<String> =
        path.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    if let Some(at) = components.iter().position(|c| c == "AWSLogs") {
        return components[at..].join("/");
    }
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/")
}

fn glob_set(globs: &[String]) -> Result<GlobSet, DirError> {
    let mut builder = GlobSetBuilder::new();
    for glob in globs {
        builder.add(Glob::new(glob)?);
    }
    Ok(builder.build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_start_at_awslogs_or_are_relative() {
        assert_eq!(
            key_of(Path::new("examples/AWSLogs/1/CloudTrail/f.json.gz"), Path::new("examples")),
            "AWSLogs/1/CloudTrail/f.json.gz"
        );
        assert_eq!(key_of(Path::new("/data/logs/a/f.log.gz"), Path::new("/data/logs")), "a/f.log.gz");
        assert_eq!(key_of(Path::new("f.log"), Path::new("")), "f.log");
    }

    #[test]
    fn discovery_filters_by_glob_and_keeps_named_files() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.json.gz", "b.log.gz", "c.txt", "d.tmp.gz"] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        let named = dir.path().join("c.txt");
        let config = DirSource {
            paths: vec![dir.path().to_path_buf(), named.clone()],
            log_type: None,
            inclusions: vec!["*.gz".into()],
            exclusions: vec!["*.tmp.gz".into()],
        };
        let found: Vec<String> = discover(&config).unwrap().into_iter().map(|job| job.key).collect();
        assert_eq!(found, vec!["a.json.gz", "b.log.gz", "c.txt"]);
    }

    #[test]
    fn a_missing_path_is_an_error() {
        let config = DirSource {
            paths: vec!["/no/such/dir".into()],
            log_type: None,
            inclusions: vec![],
            exclusions: vec![],
        };
        assert!(discover(&config).unwrap_err().to_string().starts_with("/no/such/dir: "));
    }
}
