//! Where the time goes: the replay path split into cumulative stages, on one thread.
//!
//! `cargo bench --bench stages` (after `cargo bench --bench throughput` made the corpora) reads
//! every file of `target/bench-corpus/{cloudtrail,flow}-x1` through growing prefixes of the
//! pipeline and prints the time per item of each stage. The `in memory` stages start from the
//! decompressed files already in memory, which leaves gzip out and makes the figures steadier;
//! the reference's parse is measured the same way, next to them.
//!
//! Every figure is the best of `BENCH_REPEAT` runs (default 5). `BENCH_ONLY=TEXT` runs only the
//! stages whose name contains `TEXT` (to profile one of them).

mod common;

/// The allocator of the `trailhound` binary: with the system's, every new batch buffer was fresh
/// memory, and its page faults made the normalize stages look twice as costly as in a replay.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::fs;
use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use common::files;
use serde::Deserialize;
use serde_json::value::RawValue;
use trailhound::decode::cloudtrail::RecordReader;
use trailhound::decode::vpc_flow::FlowReader;
use trailhound::decode::{self};
use trailhound::normalize::cloudtrail::normalize_fields;
use trailhound::normalize::vpc_flow::FlowNormalizer;
use trailhound::normalize::{EventBatch, ObjectContext};
use trailhound::source::object::{BATCH_BYTES, BATCH_SIZE, FIRST_BATCH_BYTES};

#[derive(Deserialize)]
struct Records<'a> {
    #[serde(borrow, rename = "Records")]
    _records: Vec<&'a RawValue>,
}

fn open(path: &Path) -> Box<dyn BufRead + Send> {
    decode::open(fs::File::open(path).unwrap()).unwrap().reader
}

fn decompressed(path: &Path) -> Vec<u8> {
    let mut text = Vec::new();
    open(path).read_to_end(&mut text).unwrap();
    text
}

/// How far along the pipeline a stage goes after splitting records or lines.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Scan,
    Normalize,
    Write,
}

/// Hands a full batch on as the pipeline does (at `BATCH_SIZE` events or `BATCH_BYTES`): written
/// out (`Step::Write`) or dropped, and the next one allocated at the size of the last.
fn batch_done(batch: &mut EventBatch, out: &mut impl Write, step: Step, last: bool) {
    let full = batch.len() >= BATCH_SIZE || batch.ndjson().len() >= BATCH_BYTES;
    if full || (last && !batch.is_empty()) {
        let next = batch.ndjson().len() + batch.ndjson().len() / 8;
        let done = std::mem::replace(batch, EventBatch::with_capacity(BATCH_SIZE, next));
        if step == Step::Write {
            out.write_all(done.ndjson()).unwrap();
        }
        std::hint::black_box(done);
    }
}

fn cloudtrail_items(input: impl BufRead, context: &ObjectContext, step: Step) -> u64 {
    let mut reader = RecordReader::new(input);
    let mut batch = EventBatch::with_capacity(BATCH_SIZE, FIRST_BATCH_BYTES);
    let mut out = io::sink();
    let mut count = 0;
    while let Some(record) = reader.next_record().unwrap() {
        if step != Step::Scan {
            normalize_fields(context, record.index, record.text, record.fields, &mut batch);
            batch_done(&mut batch, &mut out, step, false);
        }
        count += 1;
    }
    batch_done(&mut batch, &mut out, step, true);
    count
}

fn flow_items(input: impl BufRead, context: &ObjectContext, step: Step) -> u64 {
    let mut reader = FlowReader::new(input);
    let mut normalizer: Option<FlowNormalizer> = None;
    let mut batch = EventBatch::with_capacity(BATCH_SIZE, FIRST_BATCH_BYTES);
    let mut out = io::sink();
    let mut count = 0;
    while let Some(line) = reader.next_line().unwrap() {
        if step != Step::Scan {
            let normalizer = normalizer.get_or_insert_with(|| FlowNormalizer::new(line.fields()));
            normalizer.normalize(context, &line, &mut batch).unwrap();
            batch_done(&mut batch, &mut out, step, false);
        }
        count += 1;
    }
    batch_done(&mut batch, &mut out, step, true);
    count
}

/// One stage: runs over its inputs and returns the number of items.
type Run<'a> = Box<dyn Fn() -> u64 + 'a>;

/// Stages measured together: each round runs every stage once, in turn, so that all of them
/// meet the machine's slow and fast moments; each figure is the best of the rounds.
struct Stages<'a> {
    stages: Vec<(&'static str, Run<'a>)>,
}

impl<'a> Stages<'a> {
    fn new() -> Self {
        Stages { stages: Vec::new() }
    }

    /// Adds a stage that runs `run` over every input and returns the number of items.
    fn add<T>(&mut self, name: &'static str, inputs: &'a [T], run: impl Fn(&T) -> u64 + 'a) {
        if std::env::var("BENCH_ONLY").is_ok_and(|only| !name.contains(&only)) {
            return;
        }
        self.stages.push((name, Box::new(move || inputs.iter().map(&run).sum())));
    }

    fn run(self, rounds: usize) {
        let mut best = vec![(f64::MAX, 0); self.stages.len()];
        for _ in 0..rounds {
            for ((_, stage), best) in self.stages.iter().zip(&mut best) {
                let started = Instant::now();
                let items = stage();
                *best = (best.0.min(started.elapsed().as_secs_f64()), items);
            }
        }
        for ((name, _), (seconds, items)) in self.stages.iter().zip(best) {
            println!(
                "{name:<44} {:>8.3} µs/item  {:>9.0} items/s",
                seconds * 1e6 / items as f64,
                items as f64 / seconds
            );
        }
    }
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-corpus");
    let repeat: usize = std::env::var("BENCH_REPEAT").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let cloudtrail = files(&root.join("cloudtrail-x1"));
    let flow = files(&root.join("flow-x1"));
    assert!(!cloudtrail.is_empty() && !flow.is_empty(), "run `cargo bench --bench throughput` first");
    let context = ObjectContext::new("bench", Some("bucket"), "AWSLogs/key.json.gz", 0);

    let texts: Vec<Vec<u8>> = cloudtrail.iter().map(|f| decompressed(f)).collect();
    let flow_texts: Vec<Vec<u8>> = flow.iter().map(|f| decompressed(f)).collect();
    let mut stages = Stages::new();
    let records_per_file =
        cloudtrail.iter().map(|f| cloudtrail_items(open(f), &context, Step::Scan)).sum::<u64>()
            / cloudtrail.len() as u64;
    stages.add("cloudtrail: gunzip", &cloudtrail, |path| {
        io::copy(&mut open(path), &mut io::sink()).unwrap();
        records_per_file
    });
    stages.add("cloudtrail: + scan records", &cloudtrail, |path| {
        cloudtrail_items(open(path), &context, Step::Scan)
    });
    stages.add("cloudtrail: + normalize", &cloudtrail, |path| {
        cloudtrail_items(open(path), &context, Step::Normalize)
    });
    stages.add("cloudtrail: + write NDJSON", &cloudtrail, |path| {
        cloudtrail_items(open(path), &context, Step::Write)
    });

    stages.add("cloudtrail in memory: reference parse", &texts, |text| {
        let parsed: Records<'_> = serde_json::from_slice(text).unwrap();
        parsed._records.len() as u64
    });
    stages.add("cloudtrail in memory: scan records", &texts, |text| {
        cloudtrail_items(&text[..], &context, Step::Scan)
    });
    stages.add("cloudtrail in memory: + normalize", &texts, |text| {
        cloudtrail_items(&text[..], &context, Step::Normalize)
    });
    stages.add("cloudtrail in memory: + write NDJSON", &texts, |text| {
        cloudtrail_items(&text[..], &context, Step::Write)
    });

    let lines_per_file =
        flow.iter().map(|f| flow_items(open(f), &context, Step::Scan)).sum::<u64>() / flow.len() as u64;
    stages.add("flow: gunzip", &flow, |path| {
        io::copy(&mut open(path), &mut io::sink()).unwrap();
        lines_per_file
    });
    stages.add("flow: + split lines", &flow, |path| flow_items(open(path), &context, Step::Scan));
    stages.add("flow: + normalize", &flow, |path| flow_items(open(path), &context, Step::Normalize));
    stages.add("flow: + write NDJSON", &flow, |path| flow_items(open(path), &context, Step::Write));

    stages
        .add("flow in memory: split lines", &flow_texts, |text| flow_items(&text[..], &context, Step::Scan));
    stages.add("flow in memory: + normalize", &flow_texts, |text| {
        flow_items(&text[..], &context, Step::Normalize)
    });
    stages.add("flow in memory: + write NDJSON", &flow_texts, |text| {
        flow_items(&text[..], &context, Step::Write)
    });
    stages.run(repeat);
}
