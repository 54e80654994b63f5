//! Where the time goes: the replay path split into cumulative stages, on one thread.
//!
//! `cargo bench --bench stages` (after `cargo bench --bench throughput` made the corpora) reads
//! every file of `target/bench-corpus/{cloudtrail,flow}-x1` through growing prefixes of the
//! pipeline and prints the time per item of each stage.

mod common;

use std::fs;
use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use common::files;
use trailhound::decode::cloudtrail::RecordReader;
use trailhound::decode::vpc_flow::FlowReader;
use trailhound::decode::{self};
use trailhound::normalize::ObjectContext;
use trailhound::normalize::cloudtrail::normalize_fields;
use trailhound::normalize::vpc_flow::FlowNormalizer;

fn open(path: &Path) -> Box<dyn BufRead + Send> {
    decode::open(fs::File::open(path).unwrap()).unwrap().reader
}

fn stage(name: &str, files: &[PathBuf], run: impl Fn(&Path) -> u64) {
    let started = Instant::now();
    let items: u64 = files.iter().map(|f| run(f)).sum();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{name:<40} {:>8.3} µs/item  {:>9.0} items/s",
        seconds * 1e6 / items as f64,
        items as f64 / seconds
    );
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-corpus");
    let cloudtrail = files(&root.join("cloudtrail-x1"));
    let flow = files(&root.join("flow-x1"));
    assert!(!cloudtrail.is_empty() && !flow.is_empty(), "run `cargo bench --bench throughput` first");
    let context = ObjectContext::new("bench", Some("bucket"), "AWSLogs/key.json.gz", 0);
    let records_of = |path: &Path| -> u64 {
        let mut reader = RecordReader::new(open(path));
        let mut count = 0;
        while reader.next_record().unwrap().is_some() {
            count += 1;
        }
        count
    };
    let total: u64 = cloudtrail.iter().map(|f| records_of(f)).sum();
    stage("cloudtrail: gunzip", &cloudtrail, |path| {
        io::copy(&mut open(path), &mut io::sink()).unwrap();
        total / cloudtrail.len() as u64
    });
    stage("cloudtrail: + scan records", &cloudtrail, records_of);
    stage("cloudtrail: + normalize", &cloudtrail, |path| {
        let mut reader = RecordReader::new(open(path));
        let mut count = 0;
        while let Some(record) = reader.next_record().unwrap() {
            std::hint::black_box(normalize_fields(&context, record.index, record.text, record.fields));
            count += 1;
        }
        count
    });
    stage("cloudtrail: + write NDJSON", &cloudtrail, |path| {
        let mut reader = RecordReader::new(open(path));
        let mut out = io::BufWriter::new(io::sink());
        let mut count = 0;
        while let Some(record) = reader.next_record().unwrap() {
            let event = normalize_fields(&context, record.index, record.text, record.fields);
            out.write_all(&event.json).unwrap();
            out.write_all(b"\n").unwrap();
            count += 1;
        }
        count
    });

    let lines_of = |path: &Path, normalize: bool| -> u64 {
        let mut reader = FlowReader::new(open(path));
        let mut normalizer: Option<FlowNormalizer> = None;
        let mut count = 0;
        while let Some(line) = reader.next_line().unwrap() {
            if normalize {
                let n = normalizer.get_or_insert_with(|| FlowNormalizer::new(line.fields()));
                std::hint::black_box(n.normalize(&context, &line).unwrap());
            }
            count += 1;
        }
        count
    };
    let total: u64 = flow.iter().map(|f| lines_of(f, false)).sum();
    stage("flow: gunzip", &flow, |path| {
        let mut text = Vec::new();
        open(path).read_to_end(&mut text).unwrap();
        total / flow.len() as u64
    });
    stage("flow: + split lines", &flow, |path| lines_of(path, false));
    stage("flow: + normalize", &flow, |path| lines_of(path, true));
}
