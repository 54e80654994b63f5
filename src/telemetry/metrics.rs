//! The Prometheus metrics, and the small handles every source and sink reports into.
//!
//! The `metrics` crate's facade is the one way anything records a metric; the Prometheus
//! exporter (installed by [`install`] only when the telemetry endpoint is on) renders them.
//! Without it every handle is a no-op, so a run without the endpoint pays nothing. Names and
//! labels live here only: sources and sinks call methods on [`SourceMetrics`] and
//! [`SinkMetrics`], never the macros, so a new source reports the same series as the old ones.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use metrics::{
    Counter, Gauge, Histogram, counter, describe_counter, describe_gauge, describe_histogram, gauge,
    histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::health::Health;
use crate::decode::LogType;
use crate::normalize::filter::Filter;

/// Buckets of the delivery delay, in seconds: a minute to a week.
const DELAY_BUCKETS: &[f64] = &[
    30.0, 60.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 21_600.0, 43_200.0, 86_400.0, 172_800.0,
    604_800.0,
];

/// Buckets of one AWS request's latency, in seconds.
const LATENCY_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// Installs the Prometheus recorder (once per process) and describes every metric; returns the
/// handle that renders them.
pub fn install() -> Result<PrometheusHandle, String> {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full("trailhound_delivery_delay_seconds".into()), DELAY_BUCKETS)
        .and_then(|builder| {
            builder.set_buckets_for_metric(
                Matcher::Full("trailhound_aws_request_duration_seconds".into()),
                LATENCY_BUCKETS,
            )
        })
        .map_err(|error| error.to_string())?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|error| error.to_string())?;
    describe();
    gauge!("trailhound_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    Ok(handle)
}

fn describe() {
    describe_gauge!("trailhound_build_info", "Always 1; the version label says which build runs.");
    describe_counter!("trailhound_events_total", "Events a source produced, by log type.");
    describe_counter!("trailhound_bad_items_total", "Records or lines reported as bad and skipped.");
    describe_counter!(
        "trailhound_objects_total",
        "Objects (files) a source finished, by outcome: delivered, skipped, quarantined, failed."
    );
    describe_counter!(
        "trailhound_input_bytes_total",
        metrics::Unit::Bytes,
        "Bytes a source read, as stored (compressed)."
    );
    describe_counter!("trailhound_sink_events_total", "Events a sink sent, retried or rejected for good.");
    describe_gauge!("trailhound_sink_queue_events", "Events waiting in a sink's queue.");
    describe_gauge!("trailhound_sink_up", "1 while a sink delivers, 0 while its receiver fails.");
    describe_gauge!(
        "trailhound_source_lag_seconds",
        metrics::Unit::Seconds,
        "Age of the oldest object (S3) or window start (API) known and not yet delivered; 0 when caught up."
    );
    describe_gauge!(
        "trailhound_source_last_poll_timestamp_seconds",
        metrics::Unit::Seconds,
        "When the source's last poll finished (Unix time)."
    );
    describe_histogram!(
        "trailhound_delivery_delay_seconds",
        metrics::Unit::Seconds,
        "From an object's key time (or an API event's eventTime) to its delivery to every sink."
    );
    describe_counter!(
        "trailhound_aws_requests_total",
        "AWS requests, by operation and outcome (ok or error)."
    );
    describe_histogram!(
        "trailhound_aws_request_duration_seconds",
        metrics::Unit::Seconds,
        "Latency of one AWS request, by operation."
    );
    describe_counter!("trailhound_checkpoint_writes_total", "Transactions written to the checkpoint store.");
    describe_counter!(
        "trailhound_messages_total",
        "SQS messages handled, by outcome: deleted, released, left, unrelated, test, invalid, dead_lettered, quarantined."
    );
    describe_counter!(
        "trailhound_object_errors_total",
        "Objects that could not be read, by cause: not_found, denied, other."
    );
}

/// Counts one write transaction of the checkpoint store.
pub fn checkpoint_written() {
    counter!("trailhound_checkpoint_writes_total").increment(1);
}

/// How a finished object ended, for `trailhound_objects_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectEnd {
    /// Every event delivered.
    Delivered,
    /// Nothing to read, on purpose (digest, empty).
    Skipped,
    /// Corrupt or unreadable: its readable events delivered, the object quarantined.
    Quarantined,
    /// Not delivered (download failed, sink failed): collected again later.
    Failed,
}

impl ObjectEnd {
    fn label(self) -> &'static str {
        match self {
            ObjectEnd::Delivered => "delivered",
            ObjectEnd::Skipped => "skipped",
            ObjectEnd::Quarantined => "quarantined",
            ObjectEnd::Failed => "failed",
        }
    }
}

/// What one source reports. Cheap to clone; every clone reports into the same series.
#[derive(Clone)]
pub struct SourceMetrics {
    name: Arc<str>,
    cloudtrail_events: Counter,
    flow_events: Counter,
    bad_items: Counter,
    input_bytes: Counter,
    last_poll: Gauge,
    lag: Gauge,
    delivery_delay: Histogram,
    /// Key times (Unix seconds) of the objects or windows known and not yet delivered, counted.
    pending: Arc<Mutex<BTreeMap<i64, usize>>>,
    health: Health,
    /// The source's drop and keep rules, whose counts are shown at each scrape.
    filter: Option<Arc<Filter>>,
}

impl SourceMetrics {
    /// The handle of source `name`, whose readiness `health` tracks.
    pub(super) fn new(name: &str, health: Health, filter: Option<Arc<Filter>>) -> Self {
        let source = name.to_string();
        SourceMetrics {
            cloudtrail_events: counter!("trailhound_events_total", "source" => source.clone(), "log_type" => "CloudTrail"),
            flow_events: counter!("trailhound_events_total", "source" => source.clone(), "log_type" => "VPCFlowLogs"),
            bad_items: counter!("trailhound_bad_items_total", "source" => source.clone()),
            input_bytes: counter!("trailhound_input_bytes_total", "source" => source.clone()),
            last_poll: gauge!("trailhound_source_last_poll_timestamp_seconds", "source" => source.clone()),
            lag: gauge!("trailhound_source_lag_seconds", "source" => source.clone()),
            delivery_delay: histogram!("trailhound_delivery_delay_seconds", "source" => source),
            pending: Arc::default(),
            name: name.into(),
            health,
            filter,
        }
    }

    /// The source's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Events produced, with the bad records or lines skipped on the way.
    pub fn events(&self, log_type: LogType, events: u64, bad_items: u64) {
        match log_type {
            LogType::CloudTrail => self.cloudtrail_events.increment(events),
            LogType::VpcFlowLogs => self.flow_events.increment(events),
        }
        self.bad_items.increment(bad_items);
    }

    /// Stored bytes read.
    pub fn input_bytes(&self, bytes: u64) {
        self.input_bytes.increment(bytes);
    }

    /// One object finished.
    pub fn object(&self, end: ObjectEnd) {
        counter!("trailhound_objects_total", "source" => self.name.to_string(), "outcome" => end.label())
            .increment(1);
    }

    /// An SQS message handled: `deleted`, `released`, `left`, `unrelated`, `test`, `invalid`,
    /// `dead_lettered` or `quarantined`.
    pub fn message(&self, outcome: &'static str) {
        counter!("trailhound_messages_total", "source" => self.name.to_string(), "outcome" => outcome)
            .increment(1);
    }

    /// An object could not be read: `not_found`, `denied` or `other`.
    pub fn object_error(&self, cause: &'static str) {
        counter!("trailhound_object_errors_total", "source" => self.name.to_string(), "cause" => cause)
            .increment(1);
    }

    /// One AWS request answered (or failed) after `seconds`.
    pub fn aws_request(&self, operation: &'static str, ok: bool, seconds: f64) {
        let source = self.name.to_string();
        let outcome = if ok { "ok" } else { "error" };
        counter!("trailhound_aws_requests_total", "source" => source.clone(), "operation" => operation, "outcome" => outcome)
            .increment(1);
        histogram!("trailhound_aws_request_duration_seconds", "source" => source, "operation" => operation)
            .record(seconds);
    }

    /// A poll started at `now` (Unix seconds).
    pub fn poll_started(&self, now: i64) {
        self.health.poll_started(&self.name, now);
    }

    /// A poll finished at `now`, with the problem that kept it from completing, if any.
    pub fn poll_finished(&self, now: i64, problem: Option<&str>) {
        self.last_poll.set(now as f64);
        self.health.poll_finished(&self.name, now, problem);
    }

    /// Something stamped `key_time` is known and waits for delivery.
    pub fn pending(&self, key_time: i64) {
        *self.lock().entry(key_time).or_default() += 1;
    }

    /// Something stamped `key_time` no longer waits: delivered at `now` (its delay is observed)
    /// or handled otherwise (`now` is `None`).
    pub fn settled(&self, key_time: i64, now: Option<i64>) {
        let mut pending = self.lock();
        if let Some(count) = pending.get_mut(&key_time) {
            *count -= 1;
            if *count == 0 {
                pending.remove(&key_time);
            }
        }
        if let Some(now) = now {
            self.delivery_delay.record((now - key_time).max(0) as f64);
        }
    }

    /// An event stamped `event_time` was delivered at `now` (sources without objects).
    pub fn delivered_event(&self, event_time: i64, now: i64) {
        self.delivery_delay.record((now - event_time).max(0) as f64);
    }

    /// Forgets what was pending: a new poll lists everything again.
    pub fn forget_pending(&self) {
        self.lock().clear();
    }

    /// Sets the lag gauge for `now`, and the filters' counts; called before every scrape.
    pub fn refresh(&self, now: i64) {
        let oldest = self.lock().keys().next().copied();
        self.lag.set(oldest.map_or(0.0, |oldest| (now - oldest).max(0) as f64));
        if let Some(filter) = &self.filter {
            for (rule, count) in filter.counts() {
                counter!("trailhound_filtered_events_total", "source" => self.name.to_string(), "rule" => rule)
                    .absolute(count);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<i64, usize>> {
        self.pending.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}

/// What one sink reports. Cheap to clone.
#[derive(Clone)]
pub struct SinkMetrics {
    name: Arc<str>,
    health: Health,
    sent: Counter,
    retried: Counter,
    rejected: Counter,
    queue: Gauge,
    up: Gauge,
}

impl SinkMetrics {
    /// The handle of sink `name`, whose readiness `health` tracks; the sink starts up.
    pub(super) fn new(name: &str, health: Health) -> Self {
        let sink = name.to_string();
        health.sink(name);
        let metrics = SinkMetrics {
            name: name.into(),
            health,
            sent: counter!("trailhound_sink_events_total", "sink" => sink.clone(), "outcome" => "sent"),
            retried: counter!("trailhound_sink_events_total", "sink" => sink.clone(), "outcome" => "retried"),
            rejected: counter!("trailhound_sink_events_total", "sink" => sink.clone(), "outcome" => "rejected"),
            queue: gauge!("trailhound_sink_queue_events", "sink" => sink.clone()),
            up: gauge!("trailhound_sink_up", "sink" => sink),
        };
        metrics.up.set(1.0);
        metrics
    }

    /// Events the receiver accepted.
    pub fn sent(&self, events: u64) {
        self.sent.increment(events);
    }

    /// Events sent again after a failure.
    pub fn retried(&self, events: u64) {
        self.retried.increment(events);
    }

    /// Events refused for good (kept in the dead-letter file).
    pub fn rejected(&self, events: u64) {
        self.rejected.increment(events);
    }

    /// Events now waiting in the queue.
    pub fn queued(&self, events: usize) {
        self.queue.set(events as f64);
    }

    /// The receiver took events (`None`) or failed with `error`, at `now` (Unix seconds).
    pub fn result(&self, now: i64, error: Option<&str>) {
        self.up.set(if error.is_none() { 1.0 } else { 0.0 });
        self.health.sink_result(&self.name, now, error);
    }
}
