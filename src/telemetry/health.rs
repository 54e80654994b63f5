//! Readiness: is every source polling and every sink delivering, judged by sustained failure.
//!
//! One failed request must not make an agent unready while data flows, or the check flaps and
//! an orchestrator restarts a healthy process. So a source is *failing* only when its polls have
//! failed for longer than two poll intervals, or when no poll has run for three intervals; a
//! sink only when its receiver has failed for longer than `unready_after_seconds`. A failure
//! shorter than that is *degraded*: reported, still ready.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// How a component is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Working.
    Ok,
    /// Failing, but not for long enough to be unready.
    Degraded,
    /// Failing for longer than its threshold: the agent is not ready.
    Failing,
}

/// One component in the `/ready` answer.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// How it is doing.
    pub status: Status,
    /// The last error, while it lasts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Since when it fails (RFC 3339), while it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}

/// The `/ready` answer.
#[derive(Clone, Debug, Serialize)]
pub struct Readiness {
    /// The worst status of all.
    pub status: Status,
    /// Per source.
    pub sources: BTreeMap<String, Report>,
    /// Per sink.
    pub sinks: BTreeMap<String, Report>,
}

#[derive(Debug, Default)]
struct SourceState {
    /// Seconds between polls.
    interval: i64,
    /// When the last poll started and whether one is running.
    last_started: Option<i64>,
    running: bool,
    /// When the last poll finished.
    last_finished: Option<i64>,
    /// The current run of failed polls: since when, and the last error.
    failing: Option<(i64, String)>,
    /// When the source began (for a first poll that never comes).
    began: i64,
}

#[derive(Debug, Default)]
struct SinkState {
    failing: Option<(i64, String)>,
}

#[derive(Debug, Default)]
struct State {
    sources: BTreeMap<String, SourceState>,
    sinks: BTreeMap<String, SinkState>,
}

/// The readiness of every source and sink of the run. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Health {
    state: Arc<Mutex<State>>,
    unready_after: i64,
}

impl Health {
    /// A run whose sinks are unready after failing for `unready_after` seconds.
    pub fn new(unready_after: u32) -> Self {
        Health { state: Arc::default(), unready_after: i64::from(unready_after) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    /// A polling source polls every `interval` seconds; it is judged from `now` on.
    pub fn source(&self, name: &str, interval: i64, now: i64) {
        let state = SourceState { interval: interval.max(1), began: now, ..SourceState::default() };
        self.lock().sources.insert(name.to_string(), state);
    }

    /// A source started a poll.
    pub fn poll_started(&self, name: &str, now: i64) {
        if let Some(source) = self.lock().sources.get_mut(name) {
            source.last_started = Some(now);
            source.running = true;
        }
    }

    /// A source finished a poll, with the problem that kept it from completing, if any.
    pub fn poll_finished(&self, name: &str, now: i64, problem: Option<&str>) {
        if let Some(source) = self.lock().sources.get_mut(name) {
            source.running = false;
            source.last_finished = Some(now);
            source.failing = match (problem, source.failing.take()) {
                (None, _) => None,
                (Some(problem), Some((since, _))) => Some((since, problem.to_string())),
                (Some(problem), None) => Some((now, problem.to_string())),
            };
        }
    }

    /// A sink is known.
    pub fn sink(&self, name: &str) {
        self.lock().sinks.entry(name.to_string()).or_default();
    }

    /// A sink's receiver failed (`error`) or took events again (`None`).
    pub fn sink_result(&self, name: &str, now: i64, error: Option<&str>) {
        let mut state = self.lock();
        let sink = state.sinks.entry(name.to_string()).or_default();
        sink.failing = match (error, sink.failing.take()) {
            (None, _) => None,
            (Some(error), Some((since, _))) => Some((since, error.to_string())),
            (Some(error), None) => Some((now, error.to_string())),
        };
    }

    /// Every component's status at `now`.
    pub fn readiness(&self, now: i64) -> Readiness {
        let state = self.lock();
        let mut sources = BTreeMap::new();
        for (name, source) in &state.sources {
            sources.insert(name.clone(), judge_source(source, now));
        }
        let mut sinks = BTreeMap::new();
        for (name, sink) in &state.sinks {
            let report = match &sink.failing {
                None => ok(),
                Some((since, error)) => {
                    let status =
                        if now - since > self.unready_after { Status::Failing } else { Status::Degraded };
                    failing(status, error, *since)
                }
            };
            sinks.insert(name.clone(), report);
        }
        let status = sources.values().chain(sinks.values()).map(|r| r.status).max().unwrap_or(Status::Ok);
        Readiness { status, sources, sinks }
    }
}

fn judge_source(source: &SourceState, now: i64) -> Report {
    if let Some((since, error)) = &source.failing {
        let status = if now - since > 2 * source.interval { Status::Failing } else { Status::Degraded };
        return failing(status, error, *since);
    }
    let last = source.last_finished.or(source.last_started).unwrap_or(source.began);
    if !source.running && now - last > 3 * source.interval {
        let error = format!("no poll for {} s (polls every {} s)", now - last, source.interval);
        return failing(Status::Failing, &error, last);
    }
    ok()
}

fn ok() -> Report {
    Report { status: Status::Ok, last_error: None, since: None }
}

fn failing(status: Status, error: &str, since: i64) -> Report {
    Report { status, last_error: Some(error.to_string()), since: Some(crate::normalize::format_unix(since)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_is_failing_only_after_two_intervals_of_failed_polls() {
        let health = Health::new(300);
        health.source("s3", 60, 1000);
        assert_eq!(health.readiness(1000).status, Status::Ok);
        health.poll_started("s3", 1000);
        health.poll_finished("s3", 1001, Some("NoSuchBucket"));
        let report = &health.readiness(1002).sources["s3"];
        assert_eq!((report.status, report.last_error.as_deref()), (Status::Degraded, Some("NoSuchBucket")));
        health.poll_finished("s3", 1061, Some("AccessDenied"));
        assert_eq!(health.readiness(1121).status, Status::Degraded, "120 s of failures: not yet");
        let report = &health.readiness(1122).sources["s3"];
        assert_eq!((report.status, report.last_error.as_deref()), (Status::Failing, Some("AccessDenied")));
        health.poll_finished("s3", 1130, None);
        assert_eq!(health.readiness(1130).status, Status::Ok);
    }

    #[test]
    fn a_source_that_stops_polling_is_failing_but_a_long_poll_is_not() {
        let health = Health::new(300);
        health.source("api", 5, 0);
        assert_eq!(health.readiness(15).status, Status::Ok);
        assert_eq!(health.readiness(16).status, Status::Failing, "no first poll after three intervals");
        health.poll_started("api", 16);
        assert_eq!(health.readiness(1000).status, Status::Ok, "a poll in progress is not overdue");
        health.poll_finished("api", 1000, None);
        assert_eq!(health.readiness(1016).status, Status::Failing);
    }

    #[test]
    fn a_sink_is_failing_after_its_outage_outlasts_the_threshold() {
        let health = Health::new(300);
        health.sink("http");
        health.sink_result("http", 100, Some("connection refused"));
        assert_eq!(health.readiness(400).status, Status::Degraded);
        health.sink_result("http", 390, Some("HTTP 503"));
        let readiness = health.readiness(401);
        assert_eq!(readiness.status, Status::Failing);
        assert_eq!(readiness.sinks["http"].last_error.as_deref(), Some("HTTP 503"));
        health.sink_result("http", 402, None);
        assert_eq!(health.readiness(402).status, Status::Ok);
    }
}
