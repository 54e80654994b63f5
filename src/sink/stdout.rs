//! The `stdout` sink: NDJSON on standard output.

use std::io::{self, Write};

use crate::normalize::EventBatch;

/// Writes NDJSON to standard output. A batch is already NDJSON text: it is written as it is,
/// in one call, without a copy into a buffer of our own.
pub struct StdoutSink {
    out: io::Stdout,
}

impl StdoutSink {
    /// A sink on this process's standard output.
    pub fn new() -> Self {
        StdoutSink { out: io::stdout() }
    }

    pub(super) fn write_batches<'b>(
        &mut self,
        batches: impl Iterator<Item = &'b EventBatch>,
    ) -> io::Result<()> {
        let mut out = self.out.lock();
        for batch in batches {
            out.write_all(batch.ndjson())?;
        }
        out.flush()
    }
}

impl Default for StdoutSink {
    fn default() -> Self {
        Self::new()
    }
}
