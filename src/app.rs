//! The running agent: builds the pipeline from a validated configuration and runs it to the end.
//!
//! ```text
//! sources ──batches──▶ one bounded lane and thread per sink
//! ```
//!
//! Each source is a task; each sink's lane holds at most `max_queue_count` events (see
//! [`crate::sink::fanout`]), so a slow sink slows the sources down instead of growing memory.
//! SIGINT/SIGTERM cancel the sources, which stop at the next batch; what is already queued is
//! still delivered before the run ends. A second signal exits at once. A sink that fails for good
//! stops the sources the same way, and the run ends with its error.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::checkpoint::CheckpointStore;
use crate::config::{CloudTrailApiSource, Config, DirSource, S3Source, SourceConfig, SourceKind, SqsSource};
use crate::normalize::filter::Filter;
use crate::sink::{Sink, SinkContext, fanout};
use crate::source::object::BATCH_SIZE;
use crate::source::{self, SourceContext};
use crate::telemetry::{Progress, Stats, Telemetry, server};

/// Events the pipeline queues between sources and sinks when no source sets `max_queue_count`.
const DEFAULT_MAX_QUEUE_EVENTS: usize = 50_000;

/// How a run goes.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Show a progress bar (only ever on a terminal).
    pub progress: bool,
    /// One pass per source until caught up, then stop (polling sources only).
    pub once: bool,
    /// Make the first poll of every S3 source a sweep of its whole look-back window.
    pub sweep: bool,
    /// Where the checkpoint store lives.
    pub state_dir: PathBuf,
    /// Serve `/metrics`, `/health` and `/ready` here (overrides `[telemetry] listen`).
    pub listen: Option<String>,
}

/// The end of a run.
#[derive(Debug)]
pub struct RunReport {
    /// Final counters.
    pub stats: Arc<Stats>,
    /// Wall time.
    pub elapsed: Duration,
    /// True when a signal ended the run early.
    pub interrupted: bool,
}

/// Runs every source to its end and delivers all their events.
pub async fn run(config: Config, options: RunOptions) -> anyhow::Result<RunReport> {
    let queue_batches = queue_batches(&config);
    let runnable = config.sources.into_iter().map(runnable).collect::<anyhow::Result<Vec<_>>>()?;
    let needs_store = runnable.iter().any(|(source, _)| !matches!(source, Runnable::Dir(..)));
    let store = match needs_store {
        true => Some(Arc::new(CheckpointStore::open(&options.state_dir)?)),
        false => None,
    };
    let stats = Arc::new(Stats::default());
    let listen = options.listen.clone().or(config.telemetry.listen.clone());
    let telemetry = Telemetry::new(listen.is_some(), config.telemetry.unready_after_seconds)?;
    let endpoint_stop = CancellationToken::new();
    if let Some(address) = &listen {
        server::serve(address, Arc::clone(&telemetry), endpoint_stop.clone()).await?;
    }
    let _stop_endpoint = endpoint_stop.drop_guard();
    let sink_context = SinkContext {
        state_dir: options.state_dir.clone(),
        stats: Arc::clone(&stats),
        telemetry: Arc::clone(&telemetry),
    };
    let mut sinks = Vec::with_capacity(config.sinks.len());
    for sink_config in &config.sinks {
        sinks.push((Sink::open(sink_config, &sink_context)?, sink_config.output));
    }
    let started = Instant::now();
    let shutdown = CancellationToken::new();
    let signals = tokio::spawn(watch_signals(shutdown.clone()));
    // systemd (Type=notify): configuration loaded, state store open, sinks ready. Without
    // NOTIFY_SOCKET this does nothing.
    sd_notify::notify(&[sd_notify::NotifyState::Ready]).ok();
    // Signals stop the sources, and so does a sink that fails for good (without it counting as
    // an interruption).
    let stop_sources = shutdown.child_token();
    let progress = Progress::start(Arc::clone(&stats), options.progress);

    let (out, workers) = fanout::start(sinks, queue_batches, &stats, &telemetry, stop_sources.clone());
    let mut sources = JoinSet::new();
    for (runnable, filter) in runnable {
        let judged_from = source::now() + runnable.startup_delay_seconds();
        let metrics =
            telemetry.source(runnable.name(), runnable.poll_interval_seconds(), judged_from, filter.clone());
        let context = SourceContext {
            out: out.clone(),
            shutdown: stop_sources.clone(),
            stats: Arc::clone(&stats),
            metrics,
            filter,
        };
        let source = runnable;
        match source {
            Runnable::Dir(name, dir) => sources.spawn(async move {
                let label = name.clone();
                source::dir::run(name, dir, context).await.with_context(|| format!("source {label:?}"))
            }),
            Runnable::S3(name, s3) => {
                let store = Arc::clone(store.as_ref().expect("opened when an S3 source runs"));
                let mode = source::RunMode { once: options.once, sweep_now: options.sweep };
                sources.spawn(async move {
                    let label = name.clone();
                    source::s3::run(name, *s3, context, store, mode)
                        .await
                        .with_context(|| format!("source {label:?}"))
                })
            }
            Runnable::Sqs(name, sqs) => {
                let store = Arc::clone(store.as_ref().expect("opened when an SQS source runs"));
                let mode = source::RunMode { once: options.once, sweep_now: false };
                sources.spawn(async move {
                    let label = name.clone();
                    source::sqs::run(name, *sqs, context, store, mode)
                        .await
                        .with_context(|| format!("source {label:?}"))
                })
            }
            Runnable::CloudTrailApi(name, api) => {
                let store = Arc::clone(store.as_ref().expect("opened when an API source runs"));
                let mode = source::RunMode { once: options.once, sweep_now: false };
                sources.spawn(async move {
                    let label = name.clone();
                    source::cloudtrail_api::run(name, *api, context, store, mode)
                        .await
                        .with_context(|| format!("source {label:?}"))
                })
            }
        };
    }
    drop(out);

    let mut first_error = None;
    while let Some(joined) = sources.join_next().await {
        let result = joined.unwrap_or_else(|error| std::panic::resume_unwind(error.into_panic()));
        if let Err(error) = result {
            tracing::error!("{error:#}");
            first_error.get_or_insert(error);
        }
    }
    // Every source is done and has dropped its lanes: the sinks finish what is queued.
    let delivered = source::blocking(move || workers.join()).await;
    progress.finish();
    signals.abort();
    delivered?;
    if let Some(error) = first_error {
        return Err(error);
    }
    Ok(RunReport { stats, elapsed: started.elapsed(), interrupted: shutdown.is_cancelled() })
}

/// A source this build can run.
enum Runnable {
    Dir(String, DirSource),
    S3(String, Box<S3Source>),
    CloudTrailApi(String, Box<CloudTrailApiSource>),
    Sqs(String, Box<SqsSource>),
}

impl Runnable {
    fn name(&self) -> &str {
        match self {
            Runnable::Dir(name, _)
            | Runnable::S3(name, _)
            | Runnable::CloudTrailApi(name, _)
            | Runnable::Sqs(name, _) => name,
        }
    }

    /// Seconds before the first poll.
    fn startup_delay_seconds(&self) -> i64 {
        match self {
            Runnable::Dir(..) => 0,
            Runnable::S3(_, s3) => i64::from(s3.startup_delay_in_seconds),
            Runnable::CloudTrailApi(_, api) => i64::from(api.startup_delay_in_seconds),
            Runnable::Sqs(..) => 0,
        }
    }

    /// Seconds between polls (0 for a source that reads once), for readiness.
    fn poll_interval_seconds(&self) -> i64 {
        match self {
            Runnable::Dir(..) => 0,
            Runnable::S3(_, s3) => i64::from(s3.poll_interval_seconds),
            Runnable::CloudTrailApi(_, api) => i64::from(api.api_polling_interval_ms.div_ceil(1000)),
            // A receive returns within its long poll, or at once when messages wait.
            Runnable::Sqs(_, sqs) => i64::from(sqs.wait_seconds.max(10)),
        }
    }
}

fn runnable(source: SourceConfig) -> anyhow::Result<(Runnable, Option<Arc<Filter>>)> {
    let runnable = match source.kind {
        SourceKind::Dir(dir) => Runnable::Dir(source.name, dir),
        SourceKind::S3(s3) => Runnable::S3(source.name, s3),
        SourceKind::CloudTrailApi(api) => Runnable::CloudTrailApi(source.name, api),
        SourceKind::Sqs(sqs) => Runnable::Sqs(source.name, sqs),
    };
    Ok((runnable, source.filter))
}

/// Batches each sink's lane can hold: the smallest `max_queue_count` of the sources, in batches.
fn queue_batches(config: &Config) -> usize {
    let events = config
        .sources
        .iter()
        .filter_map(|source| match &source.kind {
            SourceKind::S3(s3) => Some(s3.max_queue_count as usize),
            _ => None,
        })
        .min()
        .unwrap_or(DEFAULT_MAX_QUEUE_EVENTS);
    (events / BATCH_SIZE).max(1)
}

async fn watch_signals(shutdown: CancellationToken) {
    wait_for_signal().await;
    sd_notify::notify(&[sd_notify::NotifyState::Stopping]).ok();
    tracing::warn!("stopping: finishing queued events (signal again to exit at once)");
    shutdown.cancel();
    wait_for_signal().await;
    std::process::exit(130);
}

async fn wait_for_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler can be installed");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
