//! Sinks: where events go.
//!
//! Every sink receives the same batches (fan-out) and writes each event's contract JSON line.
//! A sink reports a batch as written only once its bytes were handed to the operating system
//! (`flush`), which is what a later checkpoint may rely on.

mod encode;
mod file;
mod stdout;
mod syslog;

use std::io;

use crate::config::SinkConfig;
use crate::normalize::Event;

pub use file::FileSink;
pub use stdout::StdoutSink;
pub use syslog::SyslogSink;

/// A sink that could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Writing failed.
    #[error("{sink}: {source}")]
    Io {
        /// Which sink.
        sink: String,
        /// The underlying error.
        source: io::Error,
    },
}

impl SinkError {
    /// True when the reader went away (a closed pipe, as with `| head`): not a failure.
    pub fn is_closed_pipe(&self) -> bool {
        matches!(self, SinkError::Io { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// One configured sink.
pub enum Sink {
    /// Standard output.
    Stdout(StdoutSink),
    /// An appended, optionally rotated, file.
    File(FileSink),
    /// A syslog receiver.
    Syslog(SyslogSink),
}

impl Sink {
    /// Opens the sink a configuration describes.
    pub fn open(config: &SinkConfig) -> Result<Sink, SinkError> {
        match config {
            SinkConfig::Stdout => Ok(Sink::Stdout(StdoutSink::new())),
            SinkConfig::File(file) => FileSink::open(file).map(Sink::File),
            SinkConfig::Syslog(syslog) => Ok(Sink::Syslog(SyslogSink::new(syslog))),
        }
    }

    /// A short name for messages.
    pub fn describe(&self) -> String {
        match self {
            Sink::Stdout(_) => "stdout".to_string(),
            Sink::File(file) => format!("file {}", file.path().display()),
            Sink::Syslog(syslog) => syslog.describe(),
        }
    }

    /// Writes a batch and hands it to the operating system.
    pub fn write_batch(&mut self, events: &[Event]) -> Result<(), SinkError> {
        let result = match self {
            Sink::Stdout(sink) => sink.write_batch(events),
            Sink::File(sink) => sink.write_batch(events),
            Sink::Syslog(sink) => sink.write_batch(events),
        };
        result.map_err(|source| SinkError::Io { sink: self.describe(), source })
    }
}
