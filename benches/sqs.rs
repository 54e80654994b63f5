//! SQS notification mode against list mode, on the same objects of a local moto server
//! (`scripts/bench-sqs.sh`): objects/s and events/s for 1, 2 and 4 agents sharing one queue,
//! and for one `s3` source listing the bucket. Every agent is the release binary, `run --once`,
//! writing to its own file under a temporary directory. The server and the objects are the test
//! suite's (`tests/common`).
//!
//! moto is one Python process: with several agents it is the bottleneck, so the figures say how
//! the agents share a queue, not how fast SQS itself is.

#[path = "../tests/common/mod.rs"]
mod test_common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use test_common::moto::{BUCKET, Moto};

fn main() {
    let objects: usize = std::env::var("BENCH_OBJECTS").ok().and_then(|n| n.parse().ok()).unwrap_or(400);
    let records: usize = std::env::var("BENCH_RECORDS").ok().and_then(|n| n.parse().ok()).unwrap_or(200);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let bodies: Vec<(String, Vec<u8>)> = (0..objects).map(|n| object(n, records)).collect();
    let work = tempfile::tempdir().unwrap();
    println!("| mode | agents | objects | events | seconds | objects/s | events/s |");
    println!("|---|---|---|---|---|---|---|");
    runtime.block_on(async {
        let moto = Moto::start(true).await;
        let endpoint = moto.endpoint.clone();
        let credentials = "force_path_style = true\naccess_key_id = \"testing\"\nsecret_access_key = \"testing\"";
        // Without the s3:TestEvent S3 sends first (SQS allows one purge a minute: each round's
        // agents leave the queue empty anyway).
        moto.sqs.purge_queue().queue_url(&moto.queue_url).send().await.unwrap();
        for agents in [1, 2, 4] {
            for (key, body) in &bodies {
                moto.put(key, body.clone()).await;
            }
            while (moto.counts().await.0 as usize) < objects {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let dir = work.path().join(format!("sqs-{agents}"));
            let config = format!(
                "[[source]]\ntype = \"sqs\"\nqueue_url = \"{}\"\nregion = \"us-east-1\"\nendpoint = \"{endpoint}\"\n\
                 {credentials}\nwait_seconds = 1\n",
                moto.queue_url
            );
            let (seconds, events) = run_agents(&dir, &config, agents);
            report("sqs", agents, objects, events, seconds);
        }
        let dir = work.path().join("list");
        let config = format!(
            "[[source]]\ntype = \"s3\"\nbucket = \"{BUCKET}\"\nregion = \"us-east-1\"\nendpoint = \"{endpoint}\"\n\
             {credentials}\nstartup_delay_in_seconds = 0\n"
        );
        let (seconds, events) = run_agents(&dir, &config, 1);
        report("s3 list", 1, objects, events, seconds);
    });
}

fn report(mode: &str, agents: usize, objects: usize, events: u64, seconds: f64) {
    println!(
        "| {mode} | {agents} | {objects} | {events} | {seconds:.2} | {:.0} | {:.0} |",
        objects as f64 / seconds,
        events as f64 / seconds
    );
}

/// A CloudTrail file stamped now, with `records` records (ids `N-R`).
fn object(n: usize, records: usize) -> (String, Vec<u8>) {
    let (day, stamp) = test_common::key_stamp(time::OffsetDateTime::now_utc());
    let account = "111122223333";
    let key = format!(
        "AWSLogs/{account}/CloudTrail/us-east-1/{day}/{account}_CloudTrail_us-east-1_{stamp}_{n:016}.json.gz"
    );
    let ids: Vec<String> = (0..records).map(|r| format!("{n}-{r}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    (key, test_common::gzip(&test_common::records_doc(&ids)))
}

/// Runs `agents` agents with `config` (each with its own directory), until all exit; the wall
/// time and the events they delivered.
fn run_agents(dir: &Path, config: &str, agents: usize) -> (f64, u64) {
    let started = Instant::now();
    let children: Vec<_> = (0..agents)
        .map(|agent| {
            let agent_dir = dir.join(format!("agent-{agent}"));
            std::fs::create_dir_all(&agent_dir).unwrap();
            std::fs::write(
                agent_dir.join("trailhound.toml"),
                format!("{config}\n[[sink]]\ntype = \"file\"\npath = \"out.ndjson\"\n"),
            )
            .unwrap();
            Command::new(env!("CARGO_BIN_EXE_trailhound"))
                .args(["run", "--config", "trailhound.toml", "--once"])
                .current_dir(&agent_dir)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut events = 0;
    for child in children {
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        events += stderr
            .split(", ")
            .find_map(|part| part.strip_suffix(" events").and_then(|n| n.parse::<u64>().ok()))
            .unwrap_or_else(|| panic!("no event count in {stderr}"));
    }
    (started.elapsed().as_secs_f64(), events)
}
