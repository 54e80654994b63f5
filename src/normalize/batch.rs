//! Events rendered one after another into a single buffer.
//!
//! A batch of events is one NDJSON text (every contract line followed by `\n`) plus, per event,
//! where its line ends, its id, time and log type. Normalizers append to it directly, so an event
//! costs no allocation of its own, and sinks that ship NDJSON (stdout, files) write the whole
//! text in one call instead of copying event after event into a buffer.

use crate::decode::LogType;

/// One event of a batch, as sinks see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event<'a> {
    /// Stable id: CloudTrail `eventID`; for flow logs a hash of bucket/key/line.
    pub id: &'a str,
    /// What kind of log the event came from.
    pub log_type: LogType,
    /// The event time (`time` of the JSON line) as Unix seconds.
    pub timestamp: i64,
    /// The complete contract JSON line (UTF-8), without a line ending.
    pub json: &'a [u8],
}

/// Where one event is in the batch's buffers.
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// Offset just after the event's `\n` in `ndjson`.
    line_end: usize,
    /// Offset just after the event's id in `ids`.
    id_end: usize,
    log_type: LogType,
    timestamp: i64,
}

/// Events in the order they were read, rendered as NDJSON.
#[derive(Clone, Debug, Default)]
pub struct EventBatch {
    ndjson: Vec<u8>,
    /// Every event's id, one after another (UTF-8 text).
    ids: Vec<u8>,
    entries: Vec<Entry>,
}

impl EventBatch {
    /// An empty batch with room for `events` events of `bytes` bytes of NDJSON in all.
    pub fn with_capacity(events: usize, bytes: usize) -> Self {
        EventBatch {
            ndjson: Vec::with_capacity(bytes),
            ids: Vec::with_capacity(events * 36),
            entries: Vec::with_capacity(events),
        }
    }

    /// How many events the batch holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the batch holds no event.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every event's contract line followed by `\n`.
    pub fn ndjson(&self) -> &[u8] {
        &self.ndjson
    }

    /// Event number `index` (0-based).
    ///
    /// # Panics
    /// When `index` is not below [`len`](Self::len).
    pub fn get(&self, index: usize) -> Event<'_> {
        let entry = &self.entries[index];
        let (line_start, id_start) = match index.checked_sub(1) {
            Some(previous) => (self.entries[previous].line_end, self.entries[previous].id_end),
            None => (0, 0),
        };
        Event {
            id: std::str::from_utf8(&self.ids[id_start..entry.id_end]).expect("ids are stored as text"),
            log_type: entry.log_type,
            timestamp: entry.timestamp,
            json: &self.ndjson[line_start..entry.line_end - 1],
        }
    }

    /// The events in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Event<'_>> + '_ {
        (0..self.len()).map(|index| self.get(index))
    }

    /// Appends a copy of `event`.
    pub fn push(&mut self, event: Event<'_>) {
        self.ndjson.extend_from_slice(event.json);
        self.finish_line(event.id.as_bytes(), event.log_type, event.timestamp);
    }

    /// The text to append the next event's line to (without its `\n`); then
    /// [`finish_line`](Self::finish_line) or [`discard_line`](Self::discard_line).
    pub(crate) fn line(&mut self) -> &mut Vec<u8> {
        &mut self.ndjson
    }

    /// Ends the line appended since the previous event as the event `id` (UTF-8 text).
    pub(crate) fn finish_line(&mut self, id: &[u8], log_type: LogType, timestamp: i64) {
        debug_assert!(std::str::from_utf8(id).is_ok());
        self.ndjson.push(b'\n');
        self.ids.extend_from_slice(id);
        self.entries.push(Entry { line_end: self.ndjson.len(), id_end: self.ids.len(), log_type, timestamp });
    }

    /// Drops what was appended since the previous event (a line that could not be completed).
    pub(crate) fn discard_line(&mut self) {
        let end = self.entries.last().map_or(0, |entry| entry.line_end);
        self.ndjson.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_come_back_as_they_were_written() {
        let mut batch = EventBatch::default();
        batch.line().extend_from_slice(br#"{"a":1}"#);
        batch.finish_line(b"first", LogType::CloudTrail, 10);
        batch.line().extend_from_slice(b"{half");
        batch.discard_line();
        batch.push(Event { id: "", log_type: LogType::VpcFlowLogs, timestamp: -1, json: b"{}" });
        batch.line().extend_from_slice(br#"{"c":"\n"}"#);
        batch.finish_line(b"third", LogType::VpcFlowLogs, 30);

        assert_eq!(batch.len(), 3);
        assert_eq!(batch.ndjson(), b"{\"a\":1}\n{}\n{\"c\":\"\\n\"}\n");
        let events: Vec<Event<'_>> = batch.iter().collect();
        assert_eq!(
            events[0],
            Event { id: "first", log_type: LogType::CloudTrail, timestamp: 10, json: br#"{"a":1}"# }
        );
        assert_eq!(events[1], Event { id: "", log_type: LogType::VpcFlowLogs, timestamp: -1, json: b"{}" });
        assert_eq!(events[2].id, "third");
        assert_eq!(events[2].json, br#"{"c":"\n"}"#);
    }
}
