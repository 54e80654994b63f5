//! Sinks: where events go.
//!
//! Every sink receives the same batches (fan-out, [`fanout`]), each on its own thread with its
//! own queue and retry state. A sink reports a batch as written only once its bytes were handed
//! to the operating system (`flush`) or the receiver answered that it took them, which is what a
//! later checkpoint may rely on.

pub mod fanout;
mod file;
mod http;
mod rejected;
mod stdout;
mod syslog;
mod tls;

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::{SinkConfig, SinkKind};
use crate::normalize::{Event, EventBatch, Output};
use crate::telemetry::{Stats, Telemetry};

pub use fanout::{Batching, Shipment};
pub use file::FileSink;
pub use http::HttpSink;
pub use stdout::StdoutSink;
pub use syslog::SyslogSink;
pub use tls::TlsError;

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
    /// The TLS settings cannot be used.
    #[error("{sink}: {source}")]
    Tls {
        /// Which sink.
        sink: String,
        /// What is wrong with them.
        source: TlsError,
    },
    /// The receiver refuses this sink altogether (wrong URL or credentials).
    #[error("{sink}: {reason}")]
    Refused {
        /// Which sink.
        sink: String,
        /// The receiver's answer.
        reason: String,
    },
}

impl SinkError {
    /// True when the reader went away (a closed pipe, as with `| head`): not a failure.
    pub fn is_closed_pipe(&self) -> bool {
        matches!(self, SinkError::Io { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// What sinks need from the run.
#[derive(Clone)]
pub struct SinkContext {
    /// Where the dead-letter files of rejected events go.
    pub state_dir: PathBuf,
    /// The run's counters.
    pub stats: Arc<Stats>,
    /// Where each sink reports its metrics and readiness.
    pub telemetry: Arc<Telemetry>,
}

/// One configured sink.
pub enum Sink {
    /// Standard output.
    Stdout(StdoutSink),
    /// An appended, optionally rotated, file.
    File(FileSink),
    /// A syslog receiver.
    Syslog(Box<SyslogSink>),
    /// An HTTP receiver.
    Http(Box<HttpSink>),
}

impl Sink {
    /// Opens the sink a configuration describes.
    pub fn open(config: &SinkConfig, context: &SinkContext) -> Result<Sink, SinkError> {
        match &config.kind {
            SinkKind::Stdout => Ok(Sink::Stdout(StdoutSink::new())),
            SinkKind::File(file) => FileSink::open(file).map(Sink::File),
            SinkKind::Syslog(syslog) => SyslogSink::new(syslog, &context.telemetry)
                .map(|sink| Sink::Syslog(Box::new(sink)))
                .map_err(|source| SinkError::Tls { sink: format!("syslog {}", syslog.address), source }),
            SinkKind::Http(http) => HttpSink::new(http, context)
                .map(|sink| Sink::Http(Box::new(sink)))
                .map_err(|source| SinkError::Tls { sink: format!("http {}", http.url), source }),
        }
    }

    /// A short name for messages.
    pub fn describe(&self) -> String {
        match self {
            Sink::Stdout(_) => "stdout".to_string(),
            Sink::File(file) => format!("file {}", file.path().display()),
            Sink::Syslog(syslog) => syslog.describe(),
            Sink::Http(http) => http.describe(),
        }
    }

    /// How many events the sink gathers before writing.
    pub fn batching(&self) -> Batching {
        match self {
            Sink::Http(http) => http.batching(),
            _ => Batching::IMMEDIATE,
        }
    }

    /// Writes the events of `shipments` in `output`'s profile, retrying as the sink's kind
    /// allows, and returns once the destination has them all.
    pub fn write(&mut self, shipments: &[Arc<Shipment>], output: Output) -> Result<(), SinkError> {
        let batches = || shipments.iter().map(|shipment| shipment.events_for(output));
        let events = || batches().flat_map(EventBatch::iter).collect::<Vec<Event<'_>>>();
        let io_result = match self {
            Sink::Stdout(sink) => sink.write_batches(batches()),
            Sink::File(sink) => sink.write_batches(batches()),
            Sink::Syslog(sink) => sink.write_batch(&events()),
            Sink::Http(sink) => return sink.write_batch(&events()),
        };
        io_result.map_err(|source| SinkError::Io { sink: self.describe(), source })
    }
}
