//! What the agent tells its operator: logs, counters, the progress bar and the summary line;
//! and, for an agent that runs as a service, Prometheus metrics, health and readiness
//! (`metrics.rs`, `health.rs`, `server.rs`).
//!
//! Logs go to stderr (text or JSON lines). Long work shows a progress bar when stderr is a
//! terminal, and never on a pipe; log lines are printed above the bar instead of through it.

pub mod health;
pub mod metrics;
pub mod server;

pub use metrics::{ObjectEnd, SinkMetrics, SourceMetrics};
pub use server::Telemetry;

use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Counters shared by every source and sink of a run.
#[derive(Debug, Default)]
pub struct Stats {
    /// Objects (files) found and queued for reading.
    pub objects_found: AtomicU64,
    /// Objects read to the end.
    pub objects_done: AtomicU64,
    /// Objects skipped on purpose (digests, empty files, folder markers).
    pub objects_skipped: AtomicU64,
    /// Objects that could not be read completely (corrupt, truncated, unreadable).
    pub objects_failed: AtomicU64,
    /// Records or lines that were reported and skipped.
    pub bad_items: AtomicU64,
    /// Events produced.
    pub events: AtomicU64,
    /// Events accepted by the sinks.
    pub events_delivered: AtomicU64,
    /// Events a sink's receiver refused for good, kept in a dead-letter file.
    pub events_rejected: AtomicU64,
    /// Records or lines the sources' filters left out.
    pub events_filtered: AtomicU64,
    /// Bytes read as stored (compressed).
    pub bytes_read: AtomicU64,
    /// Bytes after decompression.
    pub bytes_decoded: AtomicU64,
}

impl Stats {
    /// Adds `amount` to a counter.
    pub fn add(counter: &AtomicU64, amount: u64) {
        counter.fetch_add(amount, Ordering::Relaxed);
    }

    fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// True when any input was bad (an object failed, a record or line was skipped, or a receiver
    /// refused events).
    pub fn saw_bad_input(&self) -> bool {
        Self::get(&self.objects_failed) > 0
            || Self::get(&self.bad_items) > 0
            || Self::get(&self.events_rejected) > 0
    }

    /// The one-line summary printed at the end of `replay` and `run --once`.
    pub fn summary(&self, elapsed: Duration) -> String {
        let seconds = elapsed.as_secs_f64().max(1e-9);
        let events = Self::get(&self.events_delivered);
        let rejected = match Self::get(&self.events_rejected) {
            0 => String::new(),
            n => format!(" ({n} rejected by a sink, kept in STATE_DIR/rejected)"),
        };
        let rejected = match Self::get(&self.events_filtered) {
            0 => rejected,
            n => format!("{rejected} ({n} left out by filters)"),
        };
        format!(
            "{} objects ({} skipped, {} failed), {} events{}, {} bad records/lines, {} read ({} decompressed) in {:.2} s: {:.0} events/s, {:.1} MB/s",
            Self::get(&self.objects_done)
                + Self::get(&self.objects_failed)
                + Self::get(&self.objects_skipped),
            Self::get(&self.objects_skipped),
            Self::get(&self.objects_failed),
            events,
            rejected,
            Self::get(&self.bad_items),
            human_bytes(Self::get(&self.bytes_read)),
            human_bytes(Self::get(&self.bytes_decoded)),
            seconds,
            events as f64 / seconds,
            Self::get(&self.bytes_decoded) as f64 / 1e6 / seconds,
        )
    }
}

/// A byte count for people (`1.5 MiB`).
pub fn human_bytes(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

/// The progress bar currently on screen, so that log lines can be printed above it.
static ACTIVE_BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// A progress bar over `stats`, or nothing when stderr is not a terminal.
pub struct Progress {
    bar: Option<ProgressBar>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// Starts a bar (objects, events, bytes, rate) if stderr is a terminal and `enabled`.
    pub fn start(stats: Arc<Stats>, enabled: bool) -> Progress {
        if !enabled || !io::stderr().is_terminal() {
            return Progress { bar: None, ticker: None };
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(10));
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} objects  {msg}")
                .expect("the template is valid"),
        );
        *ACTIVE_BAR.lock().expect("progress lock") = Some(bar.clone());
        let shown = bar.clone();
        let started = Instant::now();
        let ticker = tokio::spawn(async move {
            loop {
                let done = Stats::get(&stats.objects_done)
                    + Stats::get(&stats.objects_failed)
                    + Stats::get(&stats.objects_skipped);
                shown.set_length(Stats::get(&stats.objects_found).max(done));
                shown.set_position(done);
                let events = Stats::get(&stats.events_delivered);
                let rate = events as f64 / started.elapsed().as_secs_f64().max(1e-3);
                shown.set_message(format!(
                    "{events} events  {} read  {rate:.0} events/s",
                    human_bytes(Stats::get(&stats.bytes_read))
                ));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Progress { bar: Some(bar), ticker: Some(ticker) }
    }

    /// Removes the bar from the screen.
    pub fn finish(self) {
        if let Some(ticker) = self.ticker {
            ticker.abort();
        }
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
            *ACTIVE_BAR.lock().expect("progress lock") = None;
        }
    }
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Sets up logging to stderr. `verbosity`: -1 quiet (errors only), 0 warnings, 1 info, 2 debug,
/// 3 trace. Debug and trace apply to Trailhound's own modules only: the AWS SDK's debug output
/// prints credential ids, so it appears only when `RUST_LOG` asks for it explicitly.
pub fn init_logging(verbosity: i8, format: LogFormat) {
    let default = match verbosity {
        i8::MIN..=-1 => "error",
        0 => "warn,trailhound::s3_requests=info,trailhound::notes=info",
        1 => "info",
        2 => "info,trailhound=debug",
        _ => "info,trailhound=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(io::stderr().is_terminal())
        .with_writer(StderrAboveBar);
    let result = match format {
        LogFormat::Text => builder.with_target(false).without_time().try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    // A second init (in tests) keeps the first subscriber, which is what we want.
    drop(result);
}

/// Writes log lines to stderr, above the progress bar when one is shown.
struct StderrAboveBar;

struct LineWriter(Vec<u8>);

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        let text = std::mem::take(&mut self.0);
        let bar = ACTIVE_BAR.lock().map(|bar| bar.clone()).unwrap_or(None);
        let print = || {
            let mut stderr = io::stderr().lock();
            // Nothing sensible can be done when stderr itself is gone.
            drop(stderr.write_all(&text));
        };
        match bar {
            Some(bar) => bar.suspend(print),
            None => print(),
        }
    }
}

impl<'a> MakeWriter<'a> for StderrAboveBar {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(Vec::with_capacity(256))
    }
}
