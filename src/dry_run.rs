//! `run --dry-run`: what the next poll of every source would collect, found by listings (and,
//! for the API source, by reading its next window) with the checkpoint store opened read-only.
//! Nothing is downloaded, nothing is written to a sink, no checkpoint changes.

use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;

use crate::checkpoint::CheckpointStore;
use crate::config::{Config, S3Source, SourceKind};
use crate::source::cloudtrail_api::{self, WindowPreview};
use crate::source::s3::preview::{self, Checkpoints, Preview};
use crate::source::sqs::QueuePreview;
use crate::telemetry::human_bytes;

/// What one source's next poll would collect.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum SourcePlan {
    /// Files of a `dir` source.
    Dir { name: String, files: usize, bytes: u64 },
    /// Objects of an `s3` source.
    S3 {
        name: String,
        bucket: String,
        #[serde(flatten)]
        preview: Preview,
    },
    /// Windows of a `cloudtrail_api` source.
    CloudtrailApi { name: String, windows: Vec<WindowPreview> },
    /// The queue of an `sqs` source.
    Sqs {
        name: String,
        #[serde(flatten)]
        queue: QueuePreview,
    },
    /// A source whose plan could not be made.
    Failed { name: String, error: String },
}

/// Runs the dry run and prints it; exit 1 when a source's plan could not be made.
pub fn run(config: &Config, state_dir: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let store = CheckpointStore::open_read_only(state_dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut plans = Vec::new();
    for source in &config.sources {
        let name = source.name.clone();
        let plan = match &source.kind {
            SourceKind::Dir(dir) => match crate::source::dir::discover(dir) {
                Ok(files) => {
                    let bytes = files
                        .iter()
                        .filter_map(|file| std::fs::metadata(&file.path).ok())
                        .map(|m| m.len())
                        .sum();
                    SourcePlan::Dir { name, files: files.len(), bytes }
                }
                Err(error) => SourcePlan::Failed { name, error: error.to_string() },
            },
            SourceKind::S3(s3) => {
                let checkpoints = store.as_ref().map(|store| Checkpoints { store, source: &source.name });
                match runtime.block_on(preview::preview(s3, checkpoints)) {
                    Ok(preview) => SourcePlan::S3 { name, bucket: s3.bucket.clone(), preview },
                    Err(error) => SourcePlan::Failed { name, error: error.to_string() },
                }
            }
            SourceKind::Sqs(sqs) => match runtime.block_on(crate::source::sqs::preview(sqs)) {
                Ok(queue) => SourcePlan::Sqs { name, queue },
                Err(error) => SourcePlan::Failed { name, error: error.to_string() },
            },
            SourceKind::CloudTrailApi(api) => {
                match runtime.block_on(cloudtrail_api::preview(&source.name, api, store.as_ref())) {
                    Ok(windows) => SourcePlan::CloudtrailApi { name, windows },
                    Err(error) => SourcePlan::Failed { name, error: error.to_string() },
                }
            }
        };
        plans.push(plan);
    }
    let failed = plans.iter().any(|plan| matches!(plan, SourcePlan::Failed { .. }));
    if json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "sources": plans }))?);
    } else {
        for (plan, source) in plans.iter().zip(&config.sources) {
            print_plan(plan, &source.kind);
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn print_plan(plan: &SourcePlan, kind: &SourceKind) {
    match (plan, kind) {
        (SourcePlan::Dir { name, files, bytes }, _) => {
            println!("source {name:?} (dir): would read {files} file(s), {}", human_bytes(*bytes));
        }
        (SourcePlan::S3 { name, bucket, preview }, SourceKind::S3(s3)) => {
            let what = if preview.sweep {
                "a sweep of the whole look-back window"
            } else {
                "a poll from the watermarks"
            };
            println!("source {name:?} (s3, bucket {bucket}): the next poll is {what}");
            print_reached(s3, preview, true);
            println!(
                "  would collect {} object(s), {}; {} already collected",
                preview.objects(),
                human_bytes(preview.bytes()),
                preview.already_collected
            );
            if let Some(message) = &preview.nothing_found {
                println!("  warning: {message}");
            }
        }
        (SourcePlan::CloudtrailApi { name, windows }, _) => {
            for window in windows {
                println!(
                    "source {name:?} (cloudtrail_api, {}): window {} … {}: would collect {} event(s){}; {} already emitted",
                    window.region,
                    window.start,
                    window.end,
                    window.new_events,
                    match (&window.first_event_time, &window.last_event_time) {
                        (Some(first), Some(last)) => format!(" from {first} to {last}"),
                        _ => String::new(),
                    },
                    window.already_emitted
                );
            }
        }
        (SourcePlan::Sqs { name, queue }, _) => println!(
            "source {name:?} (sqs, {}): {} message(s) waiting, {} in flight at some agent; dead-letter queue: {} (messages are not received by a dry run: that would hide them from the other agents)",
            queue.queue_url,
            queue.waiting,
            queue.in_flight,
            if queue.dead_letter_queue { "yes" } else { "no" }
        ),
        (SourcePlan::Failed { name, error }, _) => {
            println!("source {name:?}: cannot plan the next poll: {error}")
        }
        (SourcePlan::S3 { .. }, _) => {}
    }
}

/// Prints each place of an S3 preview: objects, size, first and last key; with `keys`, every
/// key left out and why.
pub fn print_reached(s3: &S3Source, preview: &Preview, keys: bool) {
    for reached in &preview.reached {
        let place = match reached.loose {
            true => {
                format!("files in {:?} and its folders down to depth {}", reached.prefix, s3.depth_to_recurse)
            }
            false => reached.prefix.clone(),
        };
        let range = match (&reached.first_key, &reached.last_key) {
            (Some(first), Some(last)) => format!(", {first} … {last}"),
            _ => String::new(),
        };
        println!("  {place}: {} object(s), {}{range}", reached.objects, human_bytes(reached.bytes));
        if keys {
            for skipped in &reached.skipped {
                println!("    skipped ({}): {}", skipped.reason, skipped.key);
            }
        }
    }
}
