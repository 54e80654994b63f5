//! Replay throughput next to the practical limit, and memory on a 1 GB CloudTrail file.
//!
//! `cargo bench --bench throughput` (or `scripts/bench.sh`) generates corpora with the repo's own
//! generator under `target/bench-corpus/` (once), then measures:
//!
//! 1. a reference program that only gunzips and parses the same files (CloudTrail: split
//!    `Records` into raw records with serde_json; flow logs: split lines into fields and parse
//!    two numbers), on every core and on one core. It is this bench binary started again with
//!    `--reference`, in a process of its own like trailhound, so that both pay for starting a
//!    process and touching their memory for the first time; the same parse run in the bench's
//!    own (warm) process is shown on a row of its own;
//! 2. the real `trailhound replay` binary writing NDJSON to /dev/null, on every core and on one
//!    core (`taskset -c 0`);
//! 3. the peak RSS of `trailhound replay` on a ~100 MB and a ~1 GB (uncompressed) CloudTrail file.
//!
//! Sizes: `BENCH_SCALE` multiplies the corpus (default 1: 100 000 CloudTrail records, 800 000
//! flow-log lines); `BENCH_BIG_RECORDS` sets the big file's record count (default 900 000, about 1 GB).
//!
//! Shared machines run at uneven speed, so each throughput figure is the best of
//! `BENCH_REPEAT` runs (default 5), the reference and Trailhound taking turns so that both meet
//! the same slow and fast moments. The last column is the steal time during the run kept (the
//! vCPU time the hypervisor gave to other machines): a figure with much of it is the machine's.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

use common::files;
use flate2::read::MultiGzDecoder;
use serde::Deserialize;
use serde_json::value::RawValue;
use trailhound::corpus::{self, CorpusSpec};

#[derive(Deserialize)]
struct Records<'a> {
    #[serde(borrow, rename = "Records")]
    _records: Vec<&'a RawValue>,
}

struct Measure {
    items: u64,
    seconds: f64,
    peak_rss_kib: u64,
    /// Processor time the hypervisor gave to other machines during the run (all vCPUs).
    stolen_ms: Option<u64>,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, workload, threads, dir] = &args[..]
        && flag == "--reference"
    {
        let parse = reference_parse(workload).expect("a known workload");
        let items = parse_files(&files(Path::new(dir)), threads.parse().expect("a thread count"), parse);
        println!("{items}");
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-corpus");
    let scale: usize = std::env::var("BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let big_records: usize =
        std::env::var("BENCH_BIG_RECORDS").ok().and_then(|s| s.parse().ok()).unwrap_or(900_000);
    let cloudtrail_dir = root.join(format!("cloudtrail-x{scale}"));
    let flow_dir = root.join(format!("flow-x{scale}"));
    ensure_corpus(&cloudtrail_dir, CorpusSpec { cloudtrail_files: 25 * scale, flow_files: 0, ..spec() });
    ensure_corpus(&flow_dir, CorpusSpec { cloudtrail_files: 0, flow_files: 10 * scale, ..spec() });
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let repeats: usize = std::env::var("BENCH_REPEAT").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    // BENCH_ONLY=replay,parquet,filters,profiles,memory runs only those sections (default: all).
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let wants = |section: &str| only.is_empty() || only.split(',').any(|name| name.trim() == section);
    if wants("replay") {
        println!(
            "| workload | program | cores | items/s | MB/s compressed | MB/s uncompressed | vs reference | stolen ms |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        for (name, dir, workload) in
            [("CloudTrail", &cloudtrail_dir, "cloudtrail"), ("VPC flow", &flow_dir, "flow")]
        {
            let files = files(dir);
            let compressed: u64 = files.iter().map(|f| fs::metadata(f).unwrap().len()).sum();
            let uncompressed: u64 = files.iter().map(|f| gunzipped_size(f)).sum();
            let parse = reference_parse(workload).unwrap();
            for threads in [cores, 1] {
                let (mut reference_run, mut in_process_run, mut trailhound_run) = (None, None, None);
                let mut scraped_run = None;
                for _ in 0..repeats.max(1) {
                    keep_fastest(&mut reference_run, run_reference(workload, dir, threads));
                    keep_fastest(&mut in_process_run, run_in_process(&files, threads, parse));
                    keep_fastest(&mut trailhound_run, run_trailhound(dir, threads == 1));
                    keep_fastest(&mut scraped_run, run_trailhound_scraped(dir, threads == 1));
                }
                let (reference_run, in_process_run, trailhound_run, scraped_run) = (
                    reference_run.unwrap(),
                    in_process_run.unwrap(),
                    trailhound_run.unwrap(),
                    scraped_run.unwrap(),
                );
                assert_eq!(reference_run.items, trailhound_run.items, "both must see every record");
                assert_eq!(in_process_run.items, trailhound_run.items, "both must see every record");
                assert_eq!(scraped_run.items, trailhound_run.items, "both must see every record");
                for (program, run) in [
                    ("reference program (gunzip + parse)", &reference_run),
                    ("the same parse in the bench's process", &in_process_run),
                    ("trailhound replay", &trailhound_run),
                    ("trailhound replay, /metrics on and scraped every 100 ms", &scraped_run),
                ] {
                    println!(
                        "| {name} | {program} | {threads} | {:.0} | {:.0} | {:.0} | {:.2}× | {} |",
                        run.items as f64 / run.seconds,
                        compressed as f64 / 1e6 / run.seconds,
                        uncompressed as f64 / 1e6 / run.seconds,
                        reference_run.seconds / run.seconds,
                        run.stolen_ms.map_or("n/a".to_string(), |ms| ms.to_string()),
                    );
                }
            }
        }
    }

    // The same flows delivered as Parquet (one file per text file, 5,000 rows per row group):
    // replay reads them back as the text AWS would have written.
    if wants("parquet") {
        let parquet_dir = root.join(format!("flow-parquet-x{scale}"));
        ensure_parquet_corpus(&flow_dir, &parquet_dir);
        println!();
        println!("| workload | program | cores | items/s | vs the same flows as text |");
        println!("|---|---|---|---|---|");
        for threads in [cores, 1] {
            let (mut text_run, mut parquet_run) = (None, None);
            for _ in 0..repeats.max(1) {
                keep_fastest(&mut text_run, run_trailhound(&flow_dir, threads == 1));
                keep_fastest(&mut parquet_run, run_trailhound(&parquet_dir, threads == 1));
            }
            let (text_run, parquet_run) = (text_run.unwrap(), parquet_run.unwrap());
            assert_eq!(text_run.items, parquet_run.items, "both must see every record");
            for (program, run) in
                [("trailhound replay, text", &text_run), ("trailhound replay, Parquet", &parquet_run)]
            {
                println!(
                    "| VPC flow | {program} | {threads} | {:.0} | {:.2}× |",
                    run.items as f64 / run.seconds,
                    text_run.seconds / run.seconds
                );
            }
        }
    }

    // The same CloudTrail replay through `run` with a dir source, without and with five drop
    // rules that every record is checked against (and that drop none of them).
    if wants("filters") {
        println!();
        println!("| workload | program | cores | items/s | vs no rules |");
        println!("|---|---|---|---|---|");
        let work = tempfile::tempdir().unwrap();
        let rules = "[[source.drop]]\nmatch = { eventSource = \"kms.example.com\", eventName = [\"Decrypt\", \"GenerateDataKey*\"] }\n\
        [[source.drop]]\nmatch = { \"userIdentity.invokedBy\" = \"*.example.com\", readOnly = true }\n\
        [[source.drop]]\nmatch = { eventName = \"Nothing*\" }\n\
        [[source.drop]]\nmatch = { sourceIPAddress = \"203.0.113.0/24\" }\n\
        [[source.drop]]\nmatch = { \"userIdentity.type\" = \"NoSuchType\", awsRegion = [\"xx-1\", \"xx-2\"] }\n";
        for threads in [cores, 1] {
            let (mut plain_run, mut rules_run) = (None, None);
            for _ in 0..repeats.max(1) {
                keep_fastest(&mut plain_run, run_with_config(work.path(), &cloudtrail_dir, "", threads == 1));
                keep_fastest(
                    &mut rules_run,
                    run_with_config(work.path(), &cloudtrail_dir, rules, threads == 1),
                );
            }
            let (plain_run, rules_run) = (plain_run.unwrap(), rules_run.unwrap());
            assert_eq!(plain_run.items, rules_run.items, "the rules drop nothing");
            for (program, run) in
                [("trailhound run, no rules", &plain_run), ("trailhound run, five drop rules", &rules_run)]
            {
                println!(
                    "| CloudTrail | {program} | {threads} | {:.0} | {:.2}× |",
                    run.items as f64 / run.seconds,
                    plain_run.seconds / run.seconds
                );
            }
        }
    }

    // The same replays written in each output profile.
    if wants("profiles") {
        println!();
        println!("| workload | program | cores | items/s | vs native |");
        println!("|---|---|---|---|---|");
        for (name, dir) in [("CloudTrail", &cloudtrail_dir), ("VPC flow", &flow_dir)] {
            for threads in [cores, 1] {
                let mut runs: [Option<Measure>; 3] = [None, None, None];
                for _ in 0..repeats.max(1) {
                    for (run, profile) in runs.iter_mut().zip(["native", "ecs", "ocsf"]) {
                        keep_fastest(run, run_profile(dir, profile, threads == 1));
                    }
                }
                let [native, ecs, ocsf] = runs.map(Option::unwrap);
                for (profile, run) in [("native", &native), ("ecs", &ecs), ("ocsf", &ocsf)] {
                    assert_eq!(run.items, native.items, "every profile writes every event");
                    println!(
                        "| {name} | trailhound replay --profile {profile} | {threads} | {:.0} | {:.2}× |",
                        run.items as f64 / run.seconds,
                        native.seconds / run.seconds
                    );
                }
            }
        }
    }

    if !wants("memory") {
        return;
    }
    let medium = root.join(format!("single-{}/big.json.gz", big_records / 10));
    let big = root.join(format!("single-{big_records}/big.json.gz"));
    ensure_big_file(&medium, big_records / 10);
    ensure_big_file(&big, big_records);
    println!();
    println!("| single CloudTrail file | records | uncompressed | peak RSS of trailhound replay |");
    println!("|---|---|---|---|");
    for (path, records) in [(&medium, big_records / 10), (&big, big_records)] {
        let run = run_trailhound(path, false);
        assert_eq!(run.items, records as u64);
        println!(
            "| {} | {records} | {:.0} MB | {:.1} MiB |",
            path.parent().unwrap().file_name().unwrap().to_string_lossy(),
            gunzipped_size(path) as f64 / 1e6,
            run.peak_rss_kib as f64 / 1024.0
        );
    }
}

fn keep_fastest(best: &mut Option<Measure>, run: Measure) {
    if best.as_ref().is_none_or(|best| run.seconds < best.seconds) {
        *best = Some(run);
    }
}

fn spec() -> CorpusSpec {
    CorpusSpec {
        accounts: vec!["111122223333".into(), "444455556666".into()],
        regions: vec!["us-east-1".into(), "eu-west-1".into()],
        start: 1_793_491_200,
        cloudtrail_files: 0,
        records_per_file: 1000,
        flow_files: 0,
        lines_per_flow_file: 20_000,
        extras: false,
        gzip_level: 6,
        seed: 42,
    }
}

fn ensure_corpus(dir: &Path, spec: CorpusSpec) {
    if fs::metadata(dir.join("AWSLogs")).is_ok() {
        return;
    }
    eprintln!("generating {}", dir.display());
    corpus::write_tree(dir, &spec).unwrap();
}

/// Converts every flow-log file of `text_dir` into a `.log.parquet` file of `parquet_dir`.
fn ensure_parquet_corpus(text_dir: &Path, parquet_dir: &Path) {
    if fs::metadata(parquet_dir).is_ok() {
        return;
    }
    eprintln!("generating {}", parquet_dir.display());
    for file in files(text_dir) {
        let mut text = String::new();
        MultiGzDecoder::new(fs::File::open(&file).unwrap()).read_to_string(&mut text).unwrap();
        let relative =
            file.strip_prefix(text_dir).unwrap().to_string_lossy().replace(".log.gz", ".log.parquet");
        let target = parquet_dir.join(relative);
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::write(target, corpus::parquet::from_text(&text, 5_000).unwrap()).unwrap();
    }
}

fn ensure_big_file(path: &Path, records: usize) {
    if fs::metadata(path).is_ok() {
        return;
    }
    eprintln!("generating {} ({records} records)", path.display());
    corpus::write_big_cloudtrail_file(path, records, 42).unwrap();
}

fn gunzipped_size(path: &Path) -> u64 {
    std::io::copy(&mut MultiGzDecoder::new(fs::File::open(path).unwrap()), &mut std::io::sink()).unwrap()
}

/// The reference's parse of one file, by workload name; it returns the file's item count.
fn reference_parse(workload: &str) -> Option<fn(&Path) -> u64> {
    match workload {
        "cloudtrail" => Some(reference_cloudtrail),
        "flow" => Some(reference_flow),
        _ => None,
    }
}

/// Runs the reference program (this binary with `--reference`) on every file below `dir`.
fn run_reference(workload: &str, dir: &Path, threads: usize) -> Measure {
    let mut command = pinned(std::env::current_exe().expect("the bench binary's path"), threads == 1);
    command.arg("--reference").arg(workload).arg(threads.to_string()).arg(dir).stdout(Stdio::piped());
    let (output, mut measure) = measure_program(command);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    measure.items = String::from_utf8_lossy(&output.stdout).trim().parse().expect("an item count");
    measure
}

/// The reference's parse in this process's threads.
fn run_in_process(files: &[PathBuf], threads: usize, parse: fn(&Path) -> u64) -> Measure {
    let stolen_before = stolen_ms();
    let started = Instant::now();
    let items = parse_files(files, threads, parse);
    let seconds = started.elapsed().as_secs_f64();
    Measure { items, seconds, peak_rss_kib: 0, stolen_ms: stolen_since(stolen_before) }
}

/// Parses `files` on `threads` threads, each taking the next file; the total item count.
fn parse_files(files: &[PathBuf], threads: usize, parse: fn(&Path) -> u64) -> u64 {
    let queue = Mutex::new(files.iter());
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut count = 0;
                    loop {
                        // Take the lock in its own statement: a `while let` would hold it while parsing.
                        let next = queue.lock().unwrap().next();
                        let Some(file) = next else { break };
                        count += parse(file);
                    }
                    count
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    })
}

/// The machine's steal time so far, in ms summed over its vCPUs (`/proc/stat`, Linux only): time
/// the hypervisor ran other machines while this one had work. On a shared 2-vCPU machine it is
/// what makes most runs slow, so the table shows it for the runs it keeps.
fn stolen_ms() -> Option<u64> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let ticks: u64 = stat.lines().next()?.split_whitespace().nth(8)?.parse().ok()?;
    Some(ticks * 10) // USER_HZ is 100 on Linux.
}

fn stolen_since(before: Option<u64>) -> Option<u64> {
    Some(stolen_ms()?.saturating_sub(before?))
}

fn reference_cloudtrail(path: &Path) -> u64 {
    let mut text = Vec::new();
    MultiGzDecoder::new(fs::File::open(path).unwrap()).read_to_end(&mut text).unwrap();
    let parsed: Records<'_> = serde_json::from_slice(&text).unwrap();
    parsed._records.len() as u64
}

fn reference_flow(path: &Path) -> u64 {
    let reader = BufReader::with_capacity(256 * 1024, MultiGzDecoder::new(fs::File::open(path).unwrap()));
    let mut count = 0;
    for line in reader.lines().skip(1) {
        let line = line.unwrap();
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        let ports = fields[5].parse::<u32>().unwrap_or(0) + fields[6].parse::<u32>().unwrap_or(0);
        std::hint::black_box(ports);
        count += 1;
    }
    count
}

/// Runs the release binary on `path`, output to /dev/null; counts events from the summary line.
fn run_trailhound(path: &Path, one_core: bool) -> Measure {
    let mut command = pinned(PathBuf::from(env!("CARGO_BIN_EXE_trailhound")), one_core);
    command.arg("replay").arg(path).stdout(Stdio::null());
    measure_trailhound(command)
}

/// `trailhound replay --profile PROFILE` of `path`, output to /dev/null.
fn run_profile(path: &Path, profile: &str, one_core: bool) -> Measure {
    let mut command = pinned(PathBuf::from(env!("CARGO_BIN_EXE_trailhound")), one_core);
    command.args(["replay", "--profile", profile]).arg(path).stdout(Stdio::null());
    measure_trailhound(command)
}

/// `trailhound run --once` of a dir source over `corpus` with `rules` (TOML drop tables), output
/// to /dev/null.
fn run_with_config(work: &Path, corpus: &Path, rules: &str, one_core: bool) -> Measure {
    let config = work.join(format!("run-{}.toml", rules.len()));
    fs::write(
        &config,
        format!("[[source]]\ntype = \"dir\"\nname = \"bench\"\npath = \"{}\"\n{rules}\n[[sink]]\ntype = \"stdout\"\n", corpus.display()),
    )
    .unwrap();
    let mut command = pinned(PathBuf::from(env!("CARGO_BIN_EXE_trailhound")), one_core);
    command.args(["run", "--once", "--config"]).arg(&config).stdout(Stdio::null());
    measure_trailhound(command)
}

/// The same with the metrics endpoint on, scraped every 100 ms by another thread while it runs
/// (Prometheus scrapes every 15 s by default).
fn run_trailhound_scraped(path: &Path, one_core: bool) -> Measure {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let address = format!("127.0.0.1:{port}");
    let mut command = pinned(PathBuf::from(env!("CARGO_BIN_EXE_trailhound")), one_core);
    command.args(["replay", "--listen", &address]).arg(path).stdout(Stdio::null());
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let scraper = {
        let done = std::sync::Arc::clone(&done);
        std::thread::spawn(move || {
            let mut scrapes = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(mut stream) = std::net::TcpStream::connect(&address) {
                    use std::io::{Read, Write};
                    let request =
                        format!("GET /metrics HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
                    let mut response = Vec::new();
                    if stream.write_all(request.as_bytes()).is_ok()
                        && stream.read_to_end(&mut response).is_ok()
                    {
                        scrapes += 1;
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            scrapes
        })
    };
    let measure = measure_trailhound(command);
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    scraper.join().unwrap();
    measure
}

fn measure_trailhound(command: Command) -> Measure {
    let (output, mut measure) = measure_program(command);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    measure.items = stderr
        .split(", ")
        .find_map(|part| part.split_once(" events").and_then(|(n, _)| n.parse::<u64>().ok()))
        .unwrap_or_else(|| panic!("no event count in {stderr}"));
    measure
}

/// `program`, on the first core only (`taskset -c 0`) when `one_core`.
fn pinned(program: PathBuf, one_core: bool) -> Command {
    if one_core {
        let mut command = Command::new("taskset");
        command.args(["-c", "0"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// Runs `command` to its end: its output (stderr piped; stdout as the caller set it), and its
/// wall time, peak RSS and the machine's steal time meanwhile (`items` is left for the caller).
fn measure_program(mut command: Command) -> (std::process::Output, Measure) {
    command.stderr(Stdio::piped());
    let stolen_before = stolen_ms();
    let started = Instant::now();
    let child = command.spawn().expect("the program runs");
    let pid = child.id();
    // A waiter thread notes the exact end (sampling alone would add up to one interval to the
    // time) while this one samples VmHWM, the process's own high-water mark, which loses
    // nothing but the last few milliseconds.
    let (done, finished) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let output = child.wait_with_output().unwrap();
        let seconds = started.elapsed().as_secs_f64();
        done.send(()).ok();
        (output, seconds)
    });
    let mut peak_rss_kib = 0;
    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
        finished.recv_timeout(std::time::Duration::from_millis(5))
    {
        peak_rss_kib = peak_rss_kib.max(high_water_mark_kib(pid));
    }
    let (output, seconds) = waiter.join().unwrap();
    (output, Measure { items: 0, seconds, peak_rss_kib, stolen_ms: stolen_since(stolen_before) })
}

/// The VmHWM (peak resident set) of a running process, in KiB; 0 once it has exited.
fn high_water_mark_kib(pid: u32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
