//! Event encodings shared by the sinks.

use std::io::{self, Write};

use crate::normalize::Event;

/// Writes events as NDJSON: each event's contract JSON line followed by `\n`.
pub(super) fn write_ndjson(out: &mut impl Write, events: &[&Event]) -> io::Result<u64> {
    let mut written = 0;
    for event in events {
        out.write_all(&event.json)?;
        out.write_all(b"\n")?;
        written += event.json.len() as u64 + 1;
    }
    Ok(written)
}
