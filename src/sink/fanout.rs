//! Fan-out: every sink gets every batch, through its own queue, on its own thread.
//!
//! ```text
//!                         ┌─ lane (bounded) ─▶ worker ─▶ sink A ─┐
//! sources ─▶ channel ─▶ dispatcher                                ├─▶ receipt settled when
//!                         └─ lane (bounded) ─▶ worker ─▶ sink B ─┘    the last sink accepted
//! ```
//!
//! A batch is shared (not copied) between the lanes as a [`Shipment`]. Each worker owns its
//! sink's retry state, so a sink in an outage retries on its own while the others keep writing,
//! until its lane is full: then the dispatcher waits, the sources' channel fills, and the sources
//! stop reading. Memory is bounded by the lanes' capacity whatever a sink does. A shipment's
//! receipt is settled as delivered by the last sink to accept it; a shipment dropped by a failed
//! sink drops its receipt unsettled, so its unit of work is not checkpointed.
//!
//! A worker may hold several shipments to write them as one request (the `http` sink batches by
//! count and age); the others write each shipment as it comes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::{Sink, SinkError};
use crate::ack::Receipt;
use crate::normalize::EventBatch;
use crate::source::Batch;
use crate::telemetry::Stats;

/// One batch on its way to every sink.
pub struct Shipment {
    events: EventBatch,
    pending_sinks: AtomicUsize,
    receipt: Mutex<Option<Receipt>>,
    stats: Arc<Stats>,
}

impl Shipment {
    fn new(batch: Batch, sinks: usize, stats: Arc<Stats>) -> Arc<Shipment> {
        Arc::new(Shipment {
            events: batch.events,
            pending_sinks: AtomicUsize::new(sinks),
            receipt: Mutex::new(batch.receipt),
            stats,
        })
    }

    /// The events of the batch.
    pub fn events(&self) -> &EventBatch {
        &self.events
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

/// Delivers every batch from `batches` to every sink until the sources are done, or until a sink
/// fails for good. `lane_capacity` is the number of batches each sink's queue holds.
pub fn deliver(
    sinks: Vec<Sink>,
    mut batches: mpsc::Receiver<Batch>,
    lane_capacity: usize,
    stats: &Arc<Stats>,
) -> Result<(), SinkError> {
    let sink_count = sinks.len();
    let mut lanes = Vec::with_capacity(sink_count);
    let mut workers = Vec::with_capacity(sink_count);
    for (n, sink) in sinks.into_iter().enumerate() {
        let (lane, queue) = sync_channel::<Arc<Shipment>>(lane_capacity.max(1));
        let worker = std::thread::Builder::new()
            .name(format!("sink-{n}"))
            .spawn(move || work(sink, queue))
            .expect("a sink thread can start");
        lanes.push(lane);
        workers.push(worker);
    }
    'batches: while let Some(batch) = batches.blocking_recv() {
        let shipment = Shipment::new(batch, sink_count, Arc::clone(stats));
        for lane in &lanes {
            if !send(lane, Arc::clone(&shipment)) {
                break 'batches;
            }
        }
    }
    // Close the sources' channel first: a source blocked on a full channel sees it closed and stops.
    drop(batches);
    drop(lanes);
    let mut outcome = Ok(());
    for worker in workers {
        let result = worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        if let Err(error) = result
            && outcome.is_ok()
        {
            outcome = Err(error);
        }
    }
    outcome
}

/// Puts a shipment in a lane, waiting while it is full; false when the sink's worker has ended.
fn send(lane: &SyncSender<Arc<Shipment>>, shipment: Arc<Shipment>) -> bool {
    match lane.try_send(shipment) {
        Ok(()) => true,
        Err(TrySendError::Full(shipment)) => lane.send(shipment).is_ok(),
        Err(TrySendError::Disconnected(_)) => false,
    }
}

/// One sink's loop: take shipments, write them as its batching says, settle them.
fn work(mut sink: Sink, queue: Receiver<Arc<Shipment>>) -> Result<(), SinkError> {
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
            match sink.write(&held) {
                Ok(()) => {}
                Err(error) if error.is_closed_pipe() => return Ok(()),
                Err(error) => return Err(error),
            }
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
