//! The checkpoint store on SQLite (rusqlite, bundled).

use std::collections::HashSet;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use super::{CheckpointError, ObjectOutcome, ProcessedObject, STORE_FILE, SourceSummary};

const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS watermarks (
    source TEXT NOT NULL,
    partition TEXT NOT NULL,
    watermark INTEGER NOT NULL,
    PRIMARY KEY (source, partition)
);
CREATE TABLE IF NOT EXISTS processed (
    source TEXT NOT NULL,
    key TEXT NOT NULL,
    etag TEXT NOT NULL,
    key_time INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT,
    processed_at INTEGER NOT NULL,
    PRIMARY KEY (source, key, etag)
);
CREATE INDEX IF NOT EXISTS processed_by_age ON processed (source, key_time);
CREATE TABLE IF NOT EXISTS filtered (
    source TEXT NOT NULL,
    rule TEXT NOT NULL,
    events INTEGER NOT NULL,
    PRIMARY KEY (source, rule)
);
CREATE TABLE IF NOT EXISTS polls (
    source TEXT PRIMARY KEY,
    started INTEGER NOT NULL,
    finished INTEGER,
    error TEXT,
    error_at INTEGER,
    last_sweep INTEGER
);
";

/// The checkpoint store. Its methods block (SQLite I/O): call them from blocking threads.
pub struct CheckpointStore {
    path: PathBuf,
    connection: Mutex<Connection>,
    /// The device and inode of the file opened, to notice it being deleted or replaced.
    identity: Option<(u64, u64)>,
}

/// The device and inode of `path`.
fn file_identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|metadata| (metadata.dev(), metadata.ino()))
}

/// Writes and removes a small file in `state_dir`, so that a read-only or full file system is
/// reported before anything is collected, in words rather than as SQLite's "unable to open".
fn probe_writable(state_dir: &Path) -> Result<(), CheckpointError> {
    use std::io::Write;
    let probe = state_dir.join(format!(".write-probe-{}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&probe)
        .and_then(|mut file| file.write_all(&[0; 8192]).and_then(|()| file.sync_all()));
    // A probe that cannot be removed only leaves a small file behind; the write decides.
    std::fs::remove_file(&probe).ok();
    written.map_err(|error| CheckpointError::Unwritable {
        path: state_dir.to_path_buf(),
        reason: error.to_string(),
    })
}

impl CheckpointStore {
    /// Opens (creating if needed) `trailhound.sqlite` in `state_dir`.
    pub fn open(state_dir: &Path) -> Result<Self, CheckpointError> {
        // The store names every object collected: only its owner reads it (0700 and 0600).
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
            .create(state_dir)
            .map_err(|source| CheckpointError::StateDir { path: state_dir.to_path_buf(), source })?;
        probe_writable(state_dir)?;
        let path = state_dir.join(STORE_FILE);
        let sqlite = |source| classify(&path, source);
        if std::fs::metadata(&path).is_err() {
            let created = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path);
            // Another process may have created it meanwhile: SQLite opens it either way.
            if let Err(source) = created
                && source.kind() != std::io::ErrorKind::AlreadyExists
            {
                return Err(CheckpointError::StateDir { path: path.clone(), source });
            }
        }
        let connection = Connection::open(&path).map_err(sqlite)?;
        connection.pragma_update(None, "journal_mode", "WAL").map_err(sqlite)?;
        connection.pragma_update(None, "synchronous", "NORMAL").map_err(sqlite)?;
        connection.busy_timeout(std::time::Duration::from_secs(10)).map_err(sqlite)?;
        connection.execute_batch(SCHEMA).map_err(sqlite)?;
        let version: Option<i64> = connection
            .query_row("SELECT MAX(version) FROM schema_version", [], |row| row.get(0))
            .map_err(sqlite)?;
        match version {
            None => {
                connection
                    .execute("INSERT INTO schema_version (version) VALUES (?1)", [SCHEMA_VERSION])
                    .map_err(sqlite)?;
            }
            Some(found) if found > SCHEMA_VERSION => {
                return Err(CheckpointError::NewerSchema { path, found, known: SCHEMA_VERSION });
            }
            Some(_) => {}
        }
        let identity = file_identity(&path);
        Ok(CheckpointStore { path, connection: Mutex::new(connection), identity })
    }

    /// Opens an existing store for reading only (`run --dry-run`): nothing is created or
    /// written. `None` when `state_dir` holds no store yet.
    pub fn open_read_only(state_dir: &Path) -> Result<Option<Self>, CheckpointError> {
        let path = state_dir.join(STORE_FILE);
        match std::fs::metadata(&path) {
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(CheckpointError::StateDir { path, source }),
        }
        let sqlite = |source| classify(&path, source);
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(&path, flags).map_err(sqlite)?;
        connection.busy_timeout(std::time::Duration::from_secs(10)).map_err(sqlite)?;
        let identity = file_identity(&path);
        Ok(Some(CheckpointStore { path, connection: Mutex::new(connection), identity }))
    }

    /// Examines the store: SQLite's integrity check, the schema version and the tables. The
    /// problems found, none when it is sound.
    pub fn check(&self) -> Result<Vec<String>, CheckpointError> {
        let mut problems = Vec::new();
        let checked: Vec<String> = self
            .with(|db| db.prepare("PRAGMA integrity_check")?.query_map([], |row| row.get(0))?.collect())
            .map_err(|error| match error {
                CheckpointError::Sqlite { path, source } => classify(&path, source),
                other => other,
            })?;
        problems.extend(checked.into_iter().filter(|line| line != "ok"));
        let tables: Vec<String> = self.with(|db| {
            db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?
                .query_map([], |row| row.get(0))?
                .collect()
        })?;
        for table in ["schema_version", "watermarks", "processed", "polls"] {
            if !tables.iter().any(|name| name == table) {
                problems.push(format!("table {table} is missing"));
            }
        }
        if tables.iter().any(|name| name == "schema_version") {
            let version: Option<i64> = self
                .with(|db| db.query_row("SELECT MAX(version) FROM schema_version", [], |row| row.get(0)))?;
            match version {
                None => problems.push("no schema version".into()),
                Some(found) if found > SCHEMA_VERSION => {
                    problems.push(format!("schema version {found}, newer than this build's {SCHEMA_VERSION}"))
                }
                Some(_) => {}
            }
        }
        Ok(problems)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs a write, counted in `trailhound_checkpoint_writes_total`.
    fn write<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, CheckpointError> {
        if self.identity.is_some() && file_identity(&self.path) != self.identity {
            return Err(CheckpointError::Vanished { path: self.path.clone() });
        }
        let result = self.with(work);
        if result.is_ok() {
            crate::telemetry::metrics::checkpoint_written();
        }
        result
    }

    fn with<T>(
        &self,
        work: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, CheckpointError> {
        let mut connection = self.connection.lock().expect("checkpoint lock");
        work(&mut connection).map_err(|source| classify(&self.path, source))
    }

    /// The watermark of one partition of a source, if it has one.
    pub fn watermark(&self, source: &str, partition: &str) -> Result<Option<i64>, CheckpointError> {
        self.with(|db| {
            db.query_row(
                "SELECT watermark FROM watermarks WHERE source = ?1 AND partition = ?2",
                params![source, partition],
                |row| row.get(0),
            )
            .optional()
        })
    }

    /// Moves a partition's watermark to `to`, never backwards.
    pub fn advance_watermark(&self, source: &str, partition: &str, to: i64) -> Result<(), CheckpointError> {
        self.write(|db| {
            db.execute(
                "INSERT INTO watermarks (source, partition, watermark) VALUES (?1, ?2, ?3)
                 ON CONFLICT (source, partition) DO UPDATE SET watermark = MAX(watermark, excluded.watermark)",
                params![source, partition, to],
            )
            .map(|_| ())
        })
    }

    /// The processed objects (key, ETag) of a source whose key starts with `prefix`.
    pub fn processed_under(
        &self,
        source: &str,
        prefix: &str,
    ) -> Result<HashSet<(String, String)>, CheckpointError> {
        self.with(|db| {
            let mut statement = db.prepare_cached(
                "SELECT key, etag FROM processed WHERE source = ?1 AND key >= ?2 AND key < ?3",
            )?;
            let rows = statement.query_map(params![source, prefix, prefix_end(prefix)], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })?;
            rows.collect()
        })
    }

    /// The processed objects (key, ETag) of a source among `keys`.
    pub fn processed_among(
        &self,
        source: &str,
        keys: &[String],
    ) -> Result<HashSet<(String, String)>, CheckpointError> {
        self.with(|db| {
            let mut statement =
                db.prepare_cached("SELECT key, etag FROM processed WHERE source = ?1 AND key = ?2")?;
            let mut found = HashSet::new();
            for key in keys {
                let rows = statement.query_map(params![source, key], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })?;
                for row in rows {
                    found.insert(row?);
                }
            }
            Ok(found)
        })
    }

    /// Adds to the counts of events a source's filters left out, per rule.
    pub fn add_filtered(&self, source: &str, counts: &[(String, u64)]) -> Result<(), CheckpointError> {
        if counts.iter().all(|(_, n)| *n == 0) {
            return Ok(());
        }
        self.write(|db| {
            let transaction = db.transaction()?;
            for (rule, events) in counts.iter().filter(|(_, n)| *n > 0) {
                transaction.execute(
                    "INSERT INTO filtered (source, rule, events) VALUES (?1, ?2, ?3)
                     ON CONFLICT (source, rule) DO UPDATE SET events = events + excluded.events",
                    params![source, rule, i64::try_from(*events).unwrap_or(i64::MAX)],
                )?;
            }
            transaction.commit()
        })
    }

    /// Remembers objects, all in one transaction.
    pub fn record(&self, source: &str, objects: &[ProcessedObject], now: i64) -> Result<(), CheckpointError> {
        self.write(|db| {
            let transaction = db.transaction()?;
            {
                let mut insert = transaction.prepare_cached(
                    "INSERT OR REPLACE INTO processed (source, key, etag, key_time, outcome, detail, processed_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?;
                for object in objects {
                    insert.execute(params![
                        source,
                        object.key,
                        object.etag,
                        object.key_time,
                        object.outcome.as_str(),
                        object.detail,
                        now
                    ])?;
                }
            }
            transaction.commit()
        })
    }

    /// Forgets processed objects whose key time is older than `before`; returns how many.
    pub fn expire(&self, source: &str, before: i64) -> Result<usize, CheckpointError> {
        self.write(|db| {
            db.execute("DELETE FROM processed WHERE source = ?1 AND key_time < ?2", params![source, before])
        })
    }

    /// Notes that a poll started.
    pub fn poll_started(&self, source: &str, now: i64) -> Result<(), CheckpointError> {
        self.write(|db| {
            db.execute(
                "INSERT INTO polls (source, started, finished) VALUES (?1, ?2, NULL)
                 ON CONFLICT (source) DO UPDATE SET started = excluded.started, finished = NULL",
                params![source, now],
            )
            .map(|_| ())
        })
    }

    /// Notes that a poll finished, with the error that ended it, if any.
    pub fn poll_finished(&self, source: &str, now: i64, error: Option<&str>) -> Result<(), CheckpointError> {
        self.write(|db| {
            db.execute(
                "UPDATE polls SET finished = ?2,
                     error = COALESCE(?3, error), error_at = CASE WHEN ?3 IS NULL THEN error_at ELSE ?2 END
                 WHERE source = ?1",
                params![source, now, error],
            )
            .map(|_| ())
        })
    }

    /// When the source last swept its whole look-back window.
    pub fn last_sweep(&self, source: &str) -> Result<Option<i64>, CheckpointError> {
        self.with(|db| {
            db.query_row("SELECT last_sweep FROM polls WHERE source = ?1", [source], |row| row.get(0))
                .optional()
                .map(Option::flatten)
        })
    }

    /// Notes a completed sweep.
    pub fn sweep_done(&self, source: &str, at: i64) -> Result<(), CheckpointError> {
        self.write(|db| {
            db.execute("UPDATE polls SET last_sweep = ?2 WHERE source = ?1", params![source, at]).map(|_| ())
        })
    }

    /// What every source has done, for `trailhound state`.
    pub fn summaries(&self) -> Result<Vec<SourceSummary>, CheckpointError> {
        self.with(|db| {
            let mut names: Vec<String> = db
                .prepare(
                    "SELECT source FROM watermarks UNION SELECT source FROM processed UNION SELECT source FROM polls \
                     UNION SELECT source FROM filtered",
                )?
                .query_map([], |row| row.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            names.sort();
            names.into_iter().map(|source| summary(db, source)).collect()
        })
    }
}

/// A damaged or foreign file is told apart from other SQLite failures.
fn classify(path: &Path, source: rusqlite::Error) -> CheckpointError {
    use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
    match &source {
        rusqlite::Error::SqliteFailure(failure, _)
            if matches!(failure.code, DatabaseCorrupt | NotADatabase) =>
        {
            CheckpointError::Damaged { path: path.to_path_buf(), reason: failure.to_string() }
        }
        rusqlite::Error::SqliteFailure(failure, _) if failure.code == rusqlite::ErrorCode::DiskFull => {
            CheckpointError::Unwritable { path: path.to_path_buf(), reason: "the file system is full".into() }
        }
        rusqlite::Error::SqliteFailure(failure, _) if failure.code == rusqlite::ErrorCode::ReadOnly => {
            CheckpointError::Unwritable { path: path.to_path_buf(), reason: "it is read-only".into() }
        }
        _ => CheckpointError::Sqlite { path: path.to_path_buf(), source },
    }
}

/// started, finished, error, error_at
type PollRow = (i64, Option<i64>, Option<String>, Option<i64>);

fn summary(db: &Connection, source: String) -> rusqlite::Result<SourceSummary> {
    let (oldest, newest, partitions): (Option<i64>, Option<i64>, i64) = db.query_row(
        "SELECT MIN(watermark), MAX(watermark), COUNT(*) FROM watermarks WHERE source = ?1",
        [&source],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
    )?;
    let count = |outcome: ObjectOutcome| -> rusqlite::Result<u64> {
        let count: i64 = db.query_row(
            "SELECT COUNT(*) FROM processed WHERE source = ?1 AND outcome = ?2",
            params![source, outcome.as_str()],
            |row| row.get(0),
        )?;
        Ok(count.unsigned_abs())
    };
    let processed = (
        count(ObjectOutcome::Delivered)?,
        count(ObjectOutcome::Skipped)?,
        count(ObjectOutcome::Quarantined)?,
    );
    let poll: Option<PollRow> = db
        .query_row(
            "SELECT started, finished, error, error_at FROM polls WHERE source = ?1",
            [&source],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )
        .optional()?;
    let last_poll = poll.as_ref().map(|(started, finished, _, _)| (*started, *finished));
    let last_error = poll.and_then(|(_, _, error, at)| Some((at?, error?)));
    let filtered = db
        .prepare_cached("SELECT rule, events FROM filtered WHERE source = ?1 ORDER BY rule")?
        .query_map([&source], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?.unsigned_abs())))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(SourceSummary {
        filtered,
        source,
        oldest_watermark: oldest,
        newest_watermark: newest,
        partitions: partitions.unsigned_abs(),
        processed,
        last_poll,
        last_error,
    })
}

/// The smallest string greater than every string starting with `prefix`.
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(key: &str, etag: &str, key_time: i64) -> ProcessedObject {
        ProcessedObject {
            key: key.into(),
            etag: etag.into(),
            key_time,
            outcome: ObjectOutcome::Delivered,
            detail: None,
        }
    }

    #[test]
    fn watermarks_only_move_forward_and_are_scoped_by_source() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(dir.path()).unwrap();
        assert_eq!(store.watermark("a", "p").unwrap(), None);
        store.advance_watermark("a", "p", 100).unwrap();
        store.advance_watermark("a", "p", 50).unwrap();
        assert_eq!(store.watermark("a", "p").unwrap(), Some(100));
        store.advance_watermark("a", "p", 150).unwrap();
        assert_eq!(store.watermark("a", "p").unwrap(), Some(150));
        assert_eq!(store.watermark("b", "p").unwrap(), None);
    }

    #[test]
    fn processed_objects_survive_a_reopen_and_expire_by_age() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = CheckpointStore::open(dir.path()).unwrap();
            let objects = [
                object("AWSLogs/1/a", "e1", 100),
                object("AWSLogs/1/b", "e2", 200),
                object("AWSLogs/2/c", "e3", 300),
            ];
            store.record("s", &objects, 1000).unwrap();
            store.record("other", &[object("AWSLogs/1/a", "e1", 100)], 1000).unwrap();
        }
        let store = CheckpointStore::open(dir.path()).unwrap();
        let under_one = store.processed_under("s", "AWSLogs/1/").unwrap();
        assert_eq!(
            under_one,
            HashSet::from([("AWSLogs/1/a".into(), "e1".into()), ("AWSLogs/1/b".into(), "e2".into())])
        );
        assert_eq!(store.expire("s", 250).unwrap(), 2);
        assert_eq!(store.processed_under("s", "").unwrap().len(), 1);
        assert_eq!(store.processed_under("other", "").unwrap().len(), 1, "other sources are untouched");
    }

    #[test]
    fn summaries_show_watermarks_counts_polls_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(dir.path()).unwrap();
        store.advance_watermark("s", "p1", 100).unwrap();
        store.advance_watermark("s", "p2", 300).unwrap();
        let quarantined = ProcessedObject {
            outcome: ObjectOutcome::Quarantined,
            detail: Some("truncated".into()),
            ..object("k2", "e", 1)
        };
        store.record("s", &[object("k1", "e", 1), quarantined], 5).unwrap();
        store.poll_started("s", 10).unwrap();
        store.poll_finished("s", 12, Some("AccessDenied")).unwrap();
        store.poll_started("s", 20).unwrap();
        store.poll_finished("s", 21, None).unwrap();
        store.add_filtered("s", &[("drop[1]".into(), 5), ("not kept".into(), 0)]).unwrap();
        store.add_filtered("s", &[("drop[1]".into(), 2), ("not kept".into(), 1)]).unwrap();
        let summaries = store.summaries().unwrap();
        assert_eq!(
            summaries,
            vec![SourceSummary {
                source: "s".into(),
                oldest_watermark: Some(100),
                newest_watermark: Some(300),
                partitions: 2,
                processed: (1, 0, 1),
                last_poll: Some((20, Some(21))),
                last_error: Some((12, "AccessDenied".into())),
                filtered: vec![("drop[1]".into(), 7), ("not kept".into(), 1)],
            }]
        );
    }

    #[test]
    fn a_new_store_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        CheckpointStore::open(&state).unwrap().poll_started("s", 1).unwrap();
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&state), 0o700);
        assert_eq!(mode(&state.join(STORE_FILE)), 0o600);
    }

    #[test]
    fn sweeps_are_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(dir.path()).unwrap();
        assert_eq!(store.last_sweep("s").unwrap(), None);
        store.poll_started("s", 10).unwrap();
        assert_eq!(store.last_sweep("s").unwrap(), None);
        store.sweep_done("s", 10).unwrap();
        store.poll_started("s", 20).unwrap();
        assert_eq!(store.last_sweep("s").unwrap(), Some(10));
    }

    #[test]
    fn the_store_is_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let store = CheckpointStore::open(dir.path()).unwrap();
        let mode: String =
            store.with(|db| db.query_row("PRAGMA journal_mode", [], |row| row.get(0))).unwrap();
        assert_eq!(mode, "wal");
    }
}
