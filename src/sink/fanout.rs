//! Fan-out: every sink gets every batch, through its own queue, on its own thread.
//!
//! ```text
//!            ┌─ lane (bounded) ─▶ worker ─▶ sink A ─┐
//! sources ───┤                                       ├─▶ receipt settled when
//!            └─ lane (bounded) ─▶ worker ─▶ sink B ─┘    the last sink accepted
//! ```
//!
//! A source puts each batch into every sink's lane itself ([`Lanes::send`]), shared (not copied)
//! as a [`Shipment`]: with no thread in between, a batch costs one hand-over per sink, and on a
//! busy machine every hand-over is a wake-up that interrupts a core (a dispatcher thread between
//! sources and lanes made it two). Each worker owns its sink's retry state, so a sink in an
//! outage retries on its own while the others keep writing, until its lane is full: then the
//! sources wait and stop reading. Memory is bounded by the lanes' capacity whatever a sink does.
//! A shipment's receipt is settled as delivered by the last sink to accept it; a shipment dropped
//! by a failed sink drops its receipt unsettled, so its unit of work is not checkpointed.
//!
//! A sink that fails for good ends its worker: its lane closes, so every source's next send
//! fails, and the sources' stop token is cancelled, so that a source waiting between two polls
//! stops too and the run ends with the sink's error.
//!
//! A worker may hold several shipments to write them as one request (the `http` sink batches by
//! count and age); the others write each shipment as it comes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::{Sink, SinkError};
use crate::ack::Receipt;
use crate::normalize::{EventBatch, Output, render_batch};
use crate::source::Batch;
use crate::telemetry::{SinkMetrics, Stats, Telemetry};

/// One batch on its way to every sink: the native lines, and the same events in each other
/// profile a sink asked for (rendered once, whatever the number of sinks that want it).
pub struct Shipment {
    events: EventBatch,
    renderings: Vec<(Output, EventBatch)>,
    pending_sinks: AtomicUsize,
    receipt: Mutex<Option<Receipt>>,
    stats: Arc<Stats>,
}

impl Shipment {
    fn new(batch: Batch, outputs: &[Output], sinks: usize, stats: Arc<Stats>) -> Arc<Shipment> {
        let renderings =
            outputs.iter().map(|output| (*output, render_batch(&batch.events, *output))).collect();
        Arc::new(Shipment {
            events: batch.events,
            renderings,
            pending_sinks: AtomicUsize::new(sinks),
            receipt: Mutex::new(batch.receipt),
            stats,
        })
    }

    /// The events of the batch, as the sources produced them (the native profile).
    pub fn events(&self) -> &EventBatch {
        &self.events
    }

    /// The events of the batch written in `output`'s profile.
    pub fn events_for(&self, output: Output) -> &EventBatch {
        if output.is_native() {
            return &self.events;
        }
        self.renderings
            .iter()
            .find(|(rendered, _)| *rendered == output)
            .map_or(&self.events, |(_, events)| events)
    }

    /// One more sink accepted every event; the last one settles the receipt.
    fn accepted(&self) {
        if self.pending_sinks.fetch_sub(1, Ordering::AcqRel) == 1 {
            Stats::add(&self.stats.events_delivered, self.events.len() as u64);
            let receipt = self.receipt.lock().map(|mut receipt| receipt.take()).unwrap_or(None);
            if let Some(receipt) = receipt {
                receipt.delivered();
            }
        }
    }
}

/// When a worker writes what it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Batching {
    /// Write once this many events are held.
    pub max_events: usize,
    /// Write once the oldest held event waited this long.
    pub max_age: Duration,
}

impl Batching {
    /// Write every shipment as it comes.
    pub const IMMEDIATE: Batching = Batching { max_events: 1, max_age: Duration::ZERO };
}

/// The sources' side of the fan-out: a batch sent here goes into every sink's lane.
#[derive(Clone)]
pub struct Lanes {
    lanes: Vec<Lane>,
    /// The profiles other than native that some sink writes, each rendered once per batch.
    outputs: Vec<Output>,
    stats: Arc<Stats>,
}

/// One sink's queue, and how many events wait in it.
#[derive(Clone)]
struct Lane {
    sender: SyncSender<Arc<Shipment>>,
    queued: Arc<AtomicUsize>,
    metrics: SinkMetrics,
}

/// A sink has ended (it failed for good): the batch was not taken.
#[derive(Debug)]
pub struct LanesClosed;

impl Lanes {
    /// Puts `batch` into every sink's lane, waiting while a lane is full.
    pub fn send(&self, batch: Batch) -> Result<(), LanesClosed> {
        let shipment = Shipment::new(batch, &self.outputs, self.lanes.len(), Arc::clone(&self.stats));
        let events = shipment.events.len();
        for lane in &self.lanes {
            let queued = lane.queued.fetch_add(events, Ordering::Relaxed) + events;
            lane.metrics.queued(queued);
            let taken = match lane.sender.try_send(Arc::clone(&shipment)) {
                Ok(()) => true,
                Err(TrySendError::Full(shipment)) => lane.sender.send(shipment).is_ok(),
                Err(TrySendError::Disconnected(_)) => false,
            };
            if !taken {
                return Err(LanesClosed);
            }
        }
        Ok(())
    }
}

/// The sinks' threads, running until every [`Lanes`] handle is gone.
pub struct Workers {
    workers: Vec<JoinHandle<Result<(), SinkError>>>,
}

impl Workers {
    /// Waits until every sink has written everything sent to it; the first sink error, if any.
    pub fn join(self) -> Result<(), SinkError> {
        let mut outcome = Ok(());
        for worker in self.workers {
            let result = worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            if let Err(error) = result
                && outcome.is_ok()
            {
                outcome = Err(error);
            }
        }
        outcome
    }
}

/// Starts one thread per sink, each behind a lane of `lane_capacity` batches, writing its
/// events in its `Output` profile. A sink that fails for good cancels `stop_sources`.
pub fn start(
    sinks: Vec<(Sink, Output)>,
    lane_capacity: usize,
    stats: &Arc<Stats>,
    telemetry: &Telemetry,
    stop_sources: CancellationToken,
) -> (Lanes, Workers) {
    let mut lanes = Vec::with_capacity(sinks.len());
    let mut workers = Vec::with_capacity(sinks.len());
    let mut outputs: Vec<Output> = Vec::new();
    for (n, (sink, output)) in sinks.into_iter().enumerate() {
        if !output.is_native() && !outputs.contains(&output) {
            outputs.push(output);
        }
        let (sender, queue) = sync_channel::<Arc<Shipment>>(lane_capacity.max(1));
        let lane = Lane { sender, queued: Arc::default(), metrics: telemetry.sink(&sink.describe()) };
        let stop_sources = stop_sources.clone();
        let (queued, metrics) = (Arc::clone(&lane.queued), lane.metrics.clone());
        let worker = std::thread::Builder::new()
            .name(format!("sink-{n}"))
            .spawn(move || {
                let result = work(sink, output, queue, &queued, &metrics);
                if result.is_err() {
                    stop_sources.cancel();
                }
                result
            })
            .expect("a sink thread can start");
        lanes.push(lane);
        workers.push(worker);
    }
    (Lanes { lanes, outputs, stats: Arc::clone(stats) }, Workers { workers })
}

/// One sink's loop: take shipments, write them as its batching says, settle them.
fn work(
    mut sink: Sink,
    output: Output,
    queue: Receiver<Arc<Shipment>>,
    queued: &AtomicUsize,
    metrics: &SinkMetrics,
) -> Result<(), SinkError> {
    let batching = sink.batching();
    let mut held: Vec<Arc<Shipment>> = Vec::new();
    let mut held_events = 0;
    let mut oldest: Option<Instant> = None;
    loop {
        let next = match oldest {
            None => queue.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(since) => {
                queue.recv_timeout((since + batching.max_age).saturating_duration_since(Instant::now()))
            }
        };
        let closed = match next {
            Ok(shipment) => {
                held_events += shipment.events.len();
                oldest.get_or_insert_with(Instant::now);
                held.push(shipment);
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => true,
        };
        let due = held_events >= batching.max_events
            || oldest.is_some_and(|since| since.elapsed() >= batching.max_age);
        if !held.is_empty() && (closed || due) {
            match sink.write(&held, output) {
                Ok(()) => {}
                Err(error) if error.is_closed_pipe() => return Ok(()),
                Err(error) => {
                    metrics.result(crate::source::now(), Some(&error.to_string()));
                    return Err(error);
                }
            }
            metrics.sent(held_events as u64);
            metrics.result(crate::source::now(), None);
            let left = queued.fetch_sub(held_events, Ordering::Relaxed).saturating_sub(held_events);
            metrics.queued(left);
            for shipment in held.drain(..) {
                shipment.accepted();
            }
            held_events = 0;
            oldest = None;
        }
        if closed {
            return Ok(());
        }
    }
}
