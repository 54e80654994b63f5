//! One log object (a file, an S3 object) → batches of events. Shared by every source.
//!
//! The object is streamed: bytes → gzip (if the magic bytes say so) → record or line reader →
//! normalizer → batches of [`BATCH_SIZE`] events handed to `emit`. A bad record or line is
//! reported (with the object's key and the record or line number) and skipped; an error that
//! makes the rest unreadable (truncated gzip, broken JSON structure) ends the object, after the
//! events read before it were emitted. Nothing here panics on any input.

use std::io::{self, BufRead, Read};
use std::sync::Arc;

use crate::decode::cloudtrail::{DocumentKind, RecordReader};
use crate::decode::json_scan::Scalar;
use crate::decode::parquet::ParquetText;
use crate::decode::vpc_flow::FlowReader;
use crate::decode::{self, LogType};
use crate::normalize::cloudtrail::normalize_fields;
use crate::normalize::filter::{Decision, Filter, flow_name};
use crate::normalize::vpc_flow::FlowNormalizer;
use crate::normalize::{EventBatch, ObjectContext};
use crate::telemetry::{ObjectEnd, SourceMetrics, Stats};

/// Events per batch handed to the pipeline (at most). Every batch costs a hand-over to each
/// sink's thread, a wake-up that interrupts whatever that core was doing: small flow-log events
/// want large batches.
pub const BATCH_SIZE: usize = 2048;

/// NDJSON bytes per batch: a batch is handed on once it holds this much, even with fewer than
/// [`BATCH_SIZE`] events, so large records do not make large batches. Measured on two cores,
/// 1 MiB batches of CloudTrail events took 3.5× fewer context switches and 9 % less time than
/// 256 KiB ones; cachegrind counts more cache misses for them, but the wake-ups cost more.
pub const BATCH_BYTES: usize = 1 << 20;

/// Room reserved for an object's first batch, so that it does not grow by doubling (and copying);
/// memory is only touched as it is written, so small objects do not pay for it.
pub const FIRST_BATCH_BYTES: usize = BATCH_BYTES + BATCH_BYTES / 8;

/// How many problems of one object are printed; the rest are only counted.
const PROBLEMS_SHOWN_PER_OBJECT: u64 = 10;

/// The pipeline no longer accepts events (shutdown, or every sink has gone).
#[derive(Debug)]
pub struct Stopped;

/// Why an object produced no events on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// A zero-byte object (such as CloudTrail's preflight marker).
    ZeroBytes,
    /// Only white space after decompression.
    Empty,
    /// A CloudTrail digest file.
    Digest,
}

/// How reading an object ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Read to the end (some records or lines may have been skipped: see `bad_items`).
    Complete,
    /// Nothing to read, on purpose.
    Skipped(SkipReason),
    /// The rest of the object could not be read; the message says why.
    Failed(String),
    /// The pipeline stopped before the object was finished.
    Stopped,
}

/// What reading one object produced.
#[derive(Debug)]
pub struct ObjectReport {
    /// How it ended.
    pub outcome: Outcome,
    /// The log type it was read as (`None` when nothing was read).
    pub log_type: Option<LogType>,
    /// Events emitted.
    pub events: u64,
    /// Records or lines reported and skipped.
    pub bad_items: u64,
    /// Records or lines the source's filters left out.
    pub filtered: u64,
}

impl ObjectReport {
    /// Reports the object into its source's metrics: its events by log type, its bad items, and
    /// how it ended (a stopped object is counted by whoever collects it again).
    pub fn count(&self, metrics: &SourceMetrics) {
        if let Some(log_type) = self.log_type {
            metrics.events(log_type, self.events, self.bad_items);
        }
        let end = match self.outcome {
            Outcome::Complete => ObjectEnd::Delivered,
            Outcome::Skipped(_) => ObjectEnd::Skipped,
            Outcome::Failed(_) => ObjectEnd::Quarantined,
            Outcome::Stopped => return,
        };
        metrics.object(end);
    }
}

/// Reads one object and emits its events in batches.
///
/// `log_type` is the type decided by configuration or key layout; `None` lets the content decide.
pub fn ingest<R: Read + Send + 'static>(
    raw: R,
    context: &ObjectContext,
    log_type: Option<LogType>,
    filter: Option<&Filter>,
    stats: &Arc<Stats>,
    emit: &mut dyn FnMut(EventBatch) -> Result<(), Stopped>,
) -> ObjectReport {
    let batch = EventBatch::with_capacity(BATCH_SIZE, FIRST_BATCH_BYTES);
    let scratch = vec![None; filter.map_or(0, |filter| filter.fields().len())];
    let mut run =
        Ingest { context, stats, emit, batch, events: 0, bad_items: 0, filter, filtered: 0, scratch };
    let counted = CountingRead { inner: raw, stats: Arc::clone(stats) };
    let opened = match decode::open(counted) {
        Ok(opened) => opened,
        Err(error) => return run.report(Outcome::Failed(format!("read failed: {error}")), log_type),
    };
    if opened.zero_bytes {
        return run.report(Outcome::Skipped(SkipReason::ZeroBytes), log_type);
    }
    let mut reader = CountingBufRead { inner: opened.reader, stats: Arc::clone(stats), pending: 0 };
    let log_type = match log_type {
        Some(log_type) => log_type,
        None => match reader.fill_buf() {
            Ok(head) => decode::sniff_log_type(head),
            Err(error) => return run.report(Outcome::Failed(format!("read failed: {error}")), None),
        },
    };
    let parquet = match reader.fill_buf() {
        Ok(head) => decode::parquet::is_parquet(head),
        Err(error) => return run.report(Outcome::Failed(format!("read failed: {error}")), Some(log_type)),
    };
    let outcome = if parquet {
        // Parquet is only ever flow logs, whatever the key or the configuration says.
        let mut file = Vec::new();
        match reader.read_to_end(&mut file).map(|_| ParquetText::new(file)) {
            Ok(Ok(text)) => run.vpc_flow(text),
            Ok(Err(error)) | Err(error) => Outcome::Failed(format!("read failed: {error}")),
        }
    } else {
        match log_type {
            LogType::CloudTrail => run.cloudtrail(reader),
            LogType::VpcFlowLogs => run.vpc_flow(reader),
        }
    };
    let log_type = if parquet { LogType::VpcFlowLogs } else { log_type };
    let outcome = match outcome {
        Outcome::Complete | Outcome::Failed(_) => match run.flush() {
            Ok(()) => outcome,
            Err(Stopped) => Outcome::Stopped,
        },
        other => other,
    };
    run.report(outcome, Some(log_type))
}

struct Ingest<'a> {
    context: &'a ObjectContext,
    stats: &'a Arc<Stats>,
    emit: &'a mut dyn FnMut(EventBatch) -> Result<(), Stopped>,
    batch: EventBatch,
    events: u64,
    bad_items: u64,
    filter: Option<&'a Filter>,
    filtered: u64,
    /// Room for the values the filter reads from a record.
    scratch: Vec<Option<Scalar>>,
}

impl Ingest<'_> {
    fn cloudtrail(&mut self, reader: impl BufRead) -> Outcome {
        let mut records = RecordReader::new(reader);
        loop {
            match records.next_record() {
                Ok(None) => break,
                Ok(Some(record)) => {
                    if let Some(filter) = self.filter {
                        // The record's syntax was checked: the walk cannot fail on it.
                        let decision = match filter.decide_fields(record.fields, record.text) {
                            Some(decision) => Ok(decision),
                            None => filter.decide_record(record.text.as_bytes(), &mut self.scratch),
                        };
                        if !matches!(decision, Ok(Decision::Pass)) {
                            self.filtered += 1;
                            continue;
                        }
                    }
                    normalize_fields(self.context, record.index, record.text, record.fields, &mut self.batch)
                }
                Err(error) if error.is_fatal() => return Outcome::Failed(error.to_string()),
                Err(error) => {
                    self.bad_item(&error);
                    continue;
                }
            }
            if self.batch_full() && self.flush().is_err() {
                return Outcome::Stopped;
            }
        }
        match records.kind() {
            DocumentKind::Log => Outcome::Complete,
            DocumentKind::Empty => Outcome::Skipped(SkipReason::Empty),
            DocumentKind::Digest => Outcome::Skipped(SkipReason::Digest),
            DocumentKind::NoRecords => Outcome::Failed("no Records array: not a CloudTrail log file".into()),
        }
    }

    fn vpc_flow(&mut self, reader: impl BufRead) -> Outcome {
        let mut lines = FlowReader::new(reader);
        let mut normalizer: Option<FlowNormalizer> = None;
        // Where each of the filter's fields is in this file's lines.
        let mut columns: Option<Vec<Option<usize>>> = None;
        loop {
            let line = match lines.next_line() {
                Ok(None) => break,
                Ok(Some(line)) => line,
                Err(error) if error.is_fatal() => return Outcome::Failed(error.to_string()),
                Err(error) => {
                    self.bad_item(&error);
                    continue;
                }
            };
            if let Some(filter) = self.filter {
                let columns = columns.get_or_insert_with(|| {
                    let header = line.fields();
                    filter
                        .fields()
                        .iter()
                        .map(|field| header.iter().position(|h| *h == flow_name(field)))
                        .collect()
                });
                if filter.decide_line(|slot| columns[slot].map(|index| line.value(index))) != Decision::Pass {
                    self.filtered += 1;
                    continue;
                }
            }
            let normalizer = normalizer.get_or_insert_with(|| FlowNormalizer::new(line.fields()));
            if let Err(error) = normalizer.normalize(self.context, &line, &mut self.batch) {
                self.bad_item(&error);
            }
            if self.batch_full() && self.flush().is_err() {
                return Outcome::Stopped;
            }
        }
        if self.events == 0 && self.bad_items == 0 && normalizer.is_none() && !lines.has_header() {
            return Outcome::Skipped(SkipReason::Empty);
        }
        Outcome::Complete
    }

    fn batch_full(&self) -> bool {
        self.batch.len() >= BATCH_SIZE || self.batch.ndjson().len() >= BATCH_BYTES
    }

    fn flush(&mut self) -> Result<(), Stopped> {
        if self.batch.is_empty() {
            return Ok(());
        }
        // The next batch will most likely be like this one: allocate for it at once.
        let next =
            EventBatch::with_capacity(BATCH_SIZE, self.batch.ndjson().len() + self.batch.ndjson().len() / 8);
        let batch = std::mem::replace(&mut self.batch, next);
        let count = batch.len() as u64;
        (self.emit)(batch)?;
        self.events += count;
        Stats::add(&self.stats.events, count);
        Ok(())
    }

    fn bad_item(&mut self, error: &dyn std::fmt::Display) {
        self.bad_items += 1;
        Stats::add(&self.stats.bad_items, 1);
        if self.bad_items <= PROBLEMS_SHOWN_PER_OBJECT {
            tracing::warn!("{}: {error}", self.context.key());
        } else if self.bad_items == PROBLEMS_SHOWN_PER_OBJECT + 1 {
            tracing::warn!(
                "{}: more bad records or lines; only counting them from now on",
                self.context.key()
            );
        }
    }

    fn report(&mut self, outcome: Outcome, log_type: Option<LogType>) -> ObjectReport {
        let counter = match &outcome {
            Outcome::Complete => Some(&self.stats.objects_done),
            Outcome::Skipped(_) => Some(&self.stats.objects_skipped),
            Outcome::Failed(reason) => {
                tracing::warn!("{}: {reason}", self.context.key());
                Some(&self.stats.objects_failed)
            }
            Outcome::Stopped => None,
        };
        if let Some(counter) = counter {
            Stats::add(counter, 1);
        }
        Stats::add(&self.stats.events_filtered, self.filtered);
        ObjectReport {
            outcome,
            log_type,
            events: self.events,
            bad_items: self.bad_items,
            filtered: self.filtered,
        }
    }
}

/// Counts the stored (compressed) bytes read.
struct CountingRead<R> {
    inner: R,
    stats: Arc<Stats>,
}

impl<R: Read> Read for CountingRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let count = self.inner.read(buf)?;
        Stats::add(&self.stats.bytes_read, count as u64);
        Ok(count)
    }
}

/// Counts the decompressed bytes consumed; adds to the shared counter every MiB, not per call,
/// because the record splitter consumes in many small steps.
struct CountingBufRead<R> {
    inner: R,
    stats: Arc<Stats>,
    pending: u64,
}

impl<R> CountingBufRead<R> {
    fn count(&mut self, amount: u64) {
        self.pending += amount;
        if self.pending >= 1 << 20 {
            Stats::add(&self.stats.bytes_decoded, std::mem::take(&mut self.pending));
        }
    }
}

impl<R> Drop for CountingBufRead<R> {
    fn drop(&mut self) {
        Stats::add(&self.stats.bytes_decoded, self.pending);
    }
}

impl<R: BufRead> Read for CountingBufRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let count = self.inner.read(buf)?;
        self.count(count as u64);
        Ok(count)
    }
}

impl<R: BufRead> BufRead for CountingBufRead<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.count(amount as u64);
        self.inner.consume(amount);
    }
}
