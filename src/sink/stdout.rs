//! The `stdout` sink: NDJSON on standard output.

use std::io::{self, BufWriter, Stdout, Write};

use super::encode::write_ndjson;
use crate::normalize::Event;

/// Writes NDJSON to standard output, flushing after every batch.
pub struct StdoutSink {
    out: BufWriter<Stdout>,
}

impl StdoutSink {
    /// A sink on this process's standard output.
    pub fn new() -> Self {
        StdoutSink { out: BufWriter::with_capacity(1 << 20, io::stdout()) }
    }

    pub(super) fn write_batch(&mut self, events: &[&Event]) -> io::Result<()> {
        write_ndjson(&mut self.out, events)?;
        self.out.flush()
    }
}

impl Default for StdoutSink {
    fn default() -> Self {
        Self::new()
    }
}
