//! End-to-end acknowledgements: a unit of work is done only when every sink accepted every event.
//!
//! A source opens an [`Acknowledgement`] per unit (an S3 object) and attaches a [`Receipt`] to every
//! batch it sends. The delivery side calls [`Receipt::delivered`] once all sinks wrote the batch. A
//! receipt dropped without that call (a failing sink, a shutdown that drops queued batches) marks
//! the whole unit failed. When the source has sent its last batch it awaits the outcome, which
//! arrives when the last receipt is gone — only then may it move a checkpoint.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::oneshot;

/// How a unit of work ended downstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Every event reached every sink.
    Delivered,
    /// Some batch was dropped before all sinks accepted it.
    Failed,
}

struct Shared {
    failed: AtomicBool,
    outcome: std::sync::Mutex<Option<oneshot::Sender<Delivery>>>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        let outcome =
            if self.failed.load(Ordering::Acquire) { Delivery::Failed } else { Delivery::Delivered };
        if let Some(sender) = self.outcome.lock().map(|mut s| s.take()).unwrap_or(None) {
            // The source may have stopped waiting (shutdown); nobody is left to tell.
            sender.send(outcome).ok();
        }
    }
}

/// The source's handle on one unit of work.
pub struct Acknowledgement {
    shared: Arc<Shared>,
    outcome: oneshot::Receiver<Delivery>,
}

impl Acknowledgement {
    /// Opens the acknowledgement of a new unit of work.
    pub fn new() -> Self {
        let (sender, outcome) = oneshot::channel();
        let shared =
            Arc::new(Shared { failed: AtomicBool::new(false), outcome: std::sync::Mutex::new(Some(sender)) });
        Acknowledgement { shared, outcome }
    }

    /// A receipt to attach to one batch of this unit.
    pub fn receipt(&self) -> Receipt {
        Receipt { shared: Some(Arc::clone(&self.shared)) }
    }

    /// A maker of receipts that can move to another thread; dropping it settles nothing.
    pub fn receipts(&self) -> Receipts {
        Receipts { shared: Arc::clone(&self.shared) }
    }

    /// Waits until every receipt is settled; a unit that sent no batch is delivered at once.
    pub async fn outcome(self) -> Delivery {
        let Acknowledgement { shared, outcome } = self;
        drop(shared);
        outcome.await.unwrap_or(Delivery::Failed)
    }
}

impl Default for Acknowledgement {
    fn default() -> Self {
        Self::new()
    }
}

/// Makes receipts for one unit of work.
#[derive(Clone)]
pub struct Receipts {
    shared: Arc<Shared>,
}

impl Receipts {
    /// A receipt for the next batch.
    pub fn next(&self) -> Receipt {
        Receipt { shared: Some(Arc::clone(&self.shared)) }
    }
}

/// Travels with one batch; settles it as delivered, or as failed when dropped unsettled.
pub struct Receipt {
    shared: Option<Arc<Shared>>,
}

impl Receipt {
    /// Every sink accepted the batch.
    pub fn delivered(mut self) {
        self.shared = None;
    }
}

impl Drop for Receipt {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            shared.failed.store(true, Ordering::Release);
        }
    }
}

impl std::fmt::Debug for Receipt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Receipt")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn delivered_when_every_receipt_is_delivered() {
        let ack = Acknowledgement::new();
        let (a, b) = (ack.receipt(), ack.receipt());
        let waiter = tokio::spawn(ack.outcome());
        a.delivered();
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "one receipt is still out");
        b.delivered();
        assert_eq!(waiter.await.unwrap(), Delivery::Delivered);
    }

    #[tokio::test]
    async fn failed_when_any_receipt_is_dropped() {
        let ack = Acknowledgement::new();
        let (a, b) = (ack.receipt(), ack.receipt());
        a.delivered();
        drop(b);
        assert_eq!(ack.outcome().await, Delivery::Failed);
    }

    #[tokio::test]
    async fn a_dropped_receipt_maker_settles_nothing() {
        let ack = Acknowledgement::new();
        let maker = ack.receipts();
        let receipt = maker.next();
        drop(maker);
        receipt.delivered();
        assert_eq!(ack.outcome().await, Delivery::Delivered);
    }

    #[tokio::test]
    async fn a_unit_without_batches_is_delivered() {
        assert_eq!(Acknowledgement::new().outcome().await, Delivery::Delivered);
    }
}
