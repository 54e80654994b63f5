//! Durable progress: what every source has collected, so a restart neither loses nor repeats.
//!
//! One SQLite file (`trailhound.sqlite` in the state directory, WAL mode) holds, per source:
//!
//! - **watermarks** per partition (for S3: one account + region + log type): every object whose
//!   key time is older than the watermark minus the settle window has been delivered. A watermark
//!   only ever moves forward.
//! - the **processed set**: objects (key + ETag) delivered, skipped or quarantined, so a re-listed
//!   object is not collected twice. Rows expire by the object's key time once it is older than the
//!   look-back window, never by count, so the store stays bounded.
//! - **poll state**: when the last poll started and ended, and the last error.
//!
//! Every row is scoped by source name, so sources never touch each other's state. Writes are
//! single transactions; callers record an object only after every sink accepted its events.

mod sqlite;

pub use sqlite::CheckpointStore;

/// The file name of the store inside the state directory.
pub const STORE_FILE: &str = "trailhound.sqlite";

/// How an object ended, as remembered in the processed set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectOutcome {
    /// Its events were accepted by every sink.
    Delivered,
    /// Nothing to collect (digest, empty, filtered).
    Skipped,
    /// Unreadable (corrupt, truncated); counted and never retried.
    Quarantined,
}

impl ObjectOutcome {
    fn as_str(self) -> &'static str {
        match self {
            ObjectOutcome::Delivered => "delivered",
            ObjectOutcome::Skipped => "skipped",
            ObjectOutcome::Quarantined => "quarantined",
        }
    }
}

/// One object to remember.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessedObject {
    /// Its key.
    pub key: String,
    /// Its ETag (empty when the store did not give one).
    pub etag: String,
    /// The time in its key (Unix seconds), else its last-modified time; drives expiry.
    pub key_time: i64,
    /// How it ended.
    pub outcome: ObjectOutcome,
    /// Why it was skipped or quarantined.
    pub detail: Option<String>,
}

/// What `trailhound state` shows for one source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceSummary {
    /// The source name.
    pub source: String,
    /// The oldest of its partition watermarks (Unix seconds), if any.
    pub oldest_watermark: Option<i64>,
    /// The newest of its partition watermarks.
    pub newest_watermark: Option<i64>,
    /// Partitions with a watermark.
    pub partitions: u64,
    /// Objects in the processed set, by outcome: delivered, skipped, quarantined.
    pub processed: (u64, u64, u64),
    /// When the last poll started and finished.
    pub last_poll: Option<(i64, Option<i64>)>,
    /// The last error and when it happened.
    pub last_error: Option<(i64, String)>,
    /// Events its filters left out, per rule, since the store was made.
    pub filtered: Vec<(String, u64)>,
}

/// The store could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The state directory cannot be created.
    #[error("cannot create state directory {path}: {source}")]
    StateDir {
        /// The directory.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// SQLite failed.
    #[error("checkpoint store {path}: {source}")]
    Sqlite {
        /// The database file.
        path: std::path::PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// The file is not a SQLite database, or a damaged one.
    #[error(
        "checkpoint store {path} is damaged ({reason}). Trailhound does not start over on its own: that \
         would collect the whole look-back window again. Restore the file from a backup, or move it \
         aside to start over; `trailhound state --check` examines it"
    )]
    Damaged {
        /// The database file.
        path: std::path::PathBuf,
        /// What SQLite said.
        reason: String,
    },
    /// The store cannot be written: a read-only or full file system, missing permissions.
    /// Nothing is collected that could not be recorded.
    #[error(
        "checkpoint store {path} cannot be written: {reason}. Nothing is collected until it can be \
         (make room or make the state directory writable, then start again)"
    )]
    Unwritable {
        /// The database file or the state directory.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// The store's file was deleted or replaced while the agent ran.
    #[error(
        "checkpoint store {path} was deleted or replaced while running: stopping rather than \
         recording into a file nobody will read. Restore it from a backup, or start again to begin \
         a new store (which collects the whole look-back window again)"
    )]
    Vanished {
        /// The database file.
        path: std::path::PathBuf,
    },
    /// The file was written by a newer Trailhound.
    #[error("checkpoint store {path} has schema version {found}; this build knows up to {known}")]
    NewerSchema {
        /// The database file.
        path: std::path::PathBuf,
        /// Its version.
        found: i64,
        /// Ours.
        known: i64,
    },
}
