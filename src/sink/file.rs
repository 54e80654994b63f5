//! The `file` sink: NDJSON appended to a file, with optional size-based rotation.
//!
//! Rotation renames `path` to `path.1` (and `path.1` to `path.2`, …, keeping `rotate_keep`
//! files) once `path` has reached `rotate_max_bytes`, between batches, so a batch is never split
//! across two files.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::SinkError;
use crate::config::FileSinkConfig;
use crate::normalize::EventBatch;

/// Appends NDJSON to a file.
pub struct FileSink {
    config: FileSinkConfig,
    out: File,
    size: u64,
}

impl FileSink {
    /// Opens (creating if needed) the file for appending.
    pub fn open(config: &FileSinkConfig) -> Result<FileSink, SinkError> {
        let (out, size) = open_append(&config.path)
            .map_err(|source| SinkError::Io { sink: format!("file {}", config.path.display()), source })?;
        Ok(FileSink { config: config.clone(), out, size })
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.config.path
    }

    /// Appends the batches, each written as it is (it is already NDJSON text).
    pub(super) fn write_batches<'b>(
        &mut self,
        batches: impl Iterator<Item = &'b EventBatch>,
    ) -> io::Result<()> {
        if self.config.rotate_max_bytes > 0 && self.size >= self.config.rotate_max_bytes {
            self.rotate()?;
        }
        for batch in batches {
            self.out.write_all(batch.ndjson())?;
            self.size += batch.ndjson().len() as u64;
        }
        self.out.flush()
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.out.flush()?;
        let numbered = |n: u32| PathBuf::from(format!("{}.{n}", self.config.path.display()));
        let oldest = numbered(self.config.rotate_keep);
        match std::fs::remove_file(&oldest) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
            _ => {}
        }
        for n in (1..self.config.rotate_keep).rev() {
            match std::fs::rename(numbered(n), numbered(n + 1)) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
                _ => {}
            }
        }
        std::fs::rename(&self.config.path, numbered(1))?;
        let (out, size) = open_append(&self.config.path)?;
        self.out = out;
        self.size = size;
        Ok(())
    }
}

fn open_append(path: &Path) -> io::Result<(File, u64)> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    let size = file.metadata()?.len();
    Ok((file, size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::LogType;
    use crate::normalize::Event;

    /// Events `numbers`, each `{"n":NNNN}` (11 bytes with its line ending).
    fn batch(numbers: std::ops::Range<u32>) -> EventBatch {
        let mut batch = EventBatch::default();
        for n in numbers {
            let json = format!("{{\"n\":{n:04}}}");
            batch.push(Event { id: "", log_type: LogType::CloudTrail, timestamp: 0, json: json.as_bytes() });
        }
        batch
    }

    #[test]
    fn appends_and_rotates_between_batches() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out/events.ndjson");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "{\"old\":1}\n").unwrap();
        let config = FileSinkConfig { path: path.clone(), rotate_max_bytes: 1024, rotate_keep: 2 };
        let mut sink = FileSink::open(&config).unwrap();
        sink.write_batches([&batch(1..2)].into_iter()).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"old\":1}\n{\"n\":0001}\n");

        // 100 events of 11 bytes fill the file past 1024 bytes; the next batches rotate.
        let many = batch(0..100);
        sink.write_batches([&many].into_iter()).unwrap();
        sink.write_batches([&batch(2..3)].into_iter()).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"n\":0002}\n");
        assert!(
            std::fs::read_to_string(format!("{}.1", path.display())).unwrap().ends_with("{\"n\":0099}\n")
        );
        sink.write_batches([&many].into_iter()).unwrap();
        sink.write_batches([&batch(3..4)].into_iter()).unwrap();
        sink.write_batches([&many].into_iter()).unwrap();
        sink.write_batches([&batch(4..5)].into_iter()).unwrap();
        assert!(std::fs::metadata(format!("{}.2", path.display())).is_ok());
        assert!(std::fs::metadata(format!("{}.3", path.display())).is_err());
    }
}
