//! SQS notification mode against list mode, on the same objects of a local moto server
//! (`scripts/bench-sqs.sh`): objects/s and events/s for 1, 2 and 4 agents sharing one queue,
//! and for one `s3` source listing the bucket. Every agent is the release binary, `run --once`,
//! writing to its own file under a temporary directory.
//!
//! moto is one Python process: with several agents it is the bottleneck, so the figures say how
//! the agents share a queue, not how fast SQS itself is.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use flate2::Compression;
use flate2::write::GzEncoder;

const BUCKET: &str = "bench-logs";
const QUEUE: &str = "bench-events";

fn main() {
    let objects: usize = std::env::var("BENCH_OBJECTS").ok().and_then(|n| n.parse().ok()).unwrap_or(400);
    let records: usize = std::env::var("BENCH_RECORDS").ok().and_then(|n| n.parse().ok()).unwrap_or(200);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let moto_program = std::env::var("TRAILHOUND_MOTO_SERVER").unwrap_or_else(|_| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("target/moto-venv/bin/moto_server")
            .to_string_lossy()
            .into_owned()
    });
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut moto = Command::new(&moto_program)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto's server is installed (scripts/bench-sqs.sh installs it)");
    let endpoint = format!("http://127.0.0.1:{port}");
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let bodies: Vec<(String, Vec<u8>)> = (0..objects).map(|n| object(n, records)).collect();
    let work = tempfile::tempdir().unwrap();
    println!("{objects} objects of {records} CloudTrail records each, moto at {endpoint}\n");
    println!("| mode | agents | objects | events | seconds | objects/s | events/s |");
    println!("|---|---|---|---|---|---|---|");
    runtime.block_on(async {
        let (s3, sqs, queue_url) = setup(&endpoint).await;
        for agents in [1, 2, 4] {
            for (key, body) in &bodies {
                s3.put_object().bucket(BUCKET).key(key).body(body.clone().into()).send().await.unwrap();
            }
            wait_for_messages(&sqs, &queue_url, objects).await;
            let dir = work.path().join(format!("sqs-{agents}"));
            let config = format!(
                "[[source]]\ntype = \"sqs\"\nqueue_url = \"{queue_url}\"\nregion = \"us-east-1\"\nendpoint = \"{endpoint}\"\n\
                 force_path_style = true\naccess_key_id = \"testing\"\nsecret_access_key = \"testing\"\nwait_seconds = 1\n"
            );
            let (seconds, events) = run_agents(&dir, &config, agents);
            report("sqs", agents, objects, events, seconds);
        }
        let dir = work.path().join("list");
        let config = format!(
            "[[source]]\ntype = \"s3\"\nbucket = \"{BUCKET}\"\nregion = \"us-east-1\"\nendpoint = \"{endpoint}\"\n\
             force_path_style = true\naccess_key_id = \"testing\"\nsecret_access_key = \"testing\"\nstartup_delay_in_seconds = 0\n"
        );
        let (seconds, events) = run_agents(&dir, &config, 1);
        report("s3 list", 1, objects, events, seconds);
    });
    moto.kill().ok();
    moto.wait().ok();
}

fn report(mode: &str, agents: usize, objects: usize, events: u64, seconds: f64) {
    println!(
        "| {mode} | {agents} | {objects} | {events} | {seconds:.2} | {:.0} | {:.0} |",
        objects as f64 / seconds,
        events as f64 / seconds
    );
}

/// A CloudTrail file stamped now, with `records` records.
fn object(n: usize, records: usize) -> (String, Vec<u8>) {
    let now = time::OffsetDateTime::now_utc();
    let (date, stamp) = (
        format!("{:04}/{:02}/{:02}", now.year(), now.month() as u8, now.day()),
        format!(
            "{:04}{:02}{:02}T{:02}{:02}Z",
            now.year(),
            now.month() as u8,
            now.day(),
            now.hour(),
            now.minute()
        ),
    );
    let account = "111122223333";
    let key = format!(
        "AWSLogs/{account}/CloudTrail/us-east-1/{date}/{account}_CloudTrail_us-east-1_{stamp}_{n:016}.json.gz"
    );
    let records: Vec<serde_json::Value> = (0..records)
        .map(|r| {
            serde_json::json!({"eventVersion": "1.10", "eventID": format!("{n}-{r}"), "eventTime": "2026-11-01T00:00:00Z",
                "eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances", "awsRegion": "us-east-1",
                "sourceIPAddress": "192.0.2.1", "userIdentity": {"type": "IAMUser", "userName": "alice"},
                "readOnly": true, "eventType": "AwsApiCall", "recipientAccountId": account})
        })
        .collect();
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(&serde_json::to_vec(&serde_json::json!({ "Records": records })).unwrap()).unwrap();
    (key, encoder.finish().unwrap())
}

async fn setup(endpoint: &str) -> (aws_sdk_s3::Client, aws_sdk_sqs::Client, String) {
    let shared = aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "bench",
        )))
        .build();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&shared).force_path_style(true).build(),
    );
    let sqs = aws_sdk_sqs::Client::new(&shared);
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    let queue_url = sqs.create_queue().queue_name(QUEUE).send().await.unwrap().queue_url.unwrap();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
    let queue = QueueConfiguration::builder().queue_arn(arn).events(Event::S3ObjectCreated).build().unwrap();
    s3.put_bucket_notification_configuration()
        .bucket(BUCKET)
        .notification_configuration(NotificationConfiguration::builder().queue_configurations(queue).build())
        .send()
        .await
        .unwrap();
    // The test event S3 sends first.
    sqs.purge_queue().queue_url(&queue_url).send().await.ok();
    (s3, sqs, queue_url)
}

async fn wait_for_messages(sqs: &aws_sdk_sqs::Client, queue_url: &str, count: usize) {
    loop {
        let answer = sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .unwrap();
        let waiting: usize = answer.attributes().unwrap()
            [&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages]
            .parse()
            .unwrap();
        if waiting >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
