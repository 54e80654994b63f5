//! The sqs source against moto's server (real S3 and SQS wire protocols, real S3 → SQS event
//! notifications): every message shape, poison messages, missing objects, visibility extension
//! under a slow sink, kill -9, three agents on one queue, SIGTERM.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use common::http_receiver::HttpReceiver;
use common::moto::{BUCKET, Moto};
use common::{Run, gzip, records_doc};

async fn trailhound(dir: &Path, args: &[&str]) -> Run {
    common::trailhound_in(dir, args).await
}

/// Every event id in `dir/FILE`, with how often it came.
fn delivered(dir: &Path, file: &str) -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
    let mut counts = BTreeMap::new();
    for line in text.lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        *counts.entry(event["event_id"].as_str().unwrap().to_string()).or_insert(0) += 1;
    }
    counts
}

fn key(account: &str, name: &str) -> String {
    format!(
        "AWSLogs/{account}/CloudTrail/us-east-1/2026/11/01/{account}_CloudTrail_us-east-1_20261101T0000Z_{name}.json.gz"
    )
}

fn s3_event(key: &str) -> String {
    serde_json::json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventName": "ObjectCreated:Put", "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": BUCKET},
        "object": {"key": key, "size": 100, "eTag": "abc"}}}]})
    .to_string()
}

fn form_encode(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b' ' => "+".to_string(),
            b if b.is_ascii_alphanumeric() || b"-_.".contains(&b) => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

async fn run_once(dir: &Path, config: &str) -> Run {
    std::fs::write(dir.join("trailhound.toml"), config).unwrap();
    let run = trailhound(dir, &["run", "--config", "trailhound.toml", "--once"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_notification_shape_is_read_with_no_setting() {
    let moto = Moto::start(false).await;
    let dir = tempfile::tempdir().unwrap();
    let plain = key("111122223333", "plain a+b c");
    moto.put(&plain, gzip(&records_doc(&["plain"]))).await;
    let keys: Vec<String> =
        ["sns", "raw", "bridge", "trail-1", "trail-2"].iter().map(|n| key("111122223333", n)).collect();
    for (key, id) in keys.iter().zip(["sns", "raw", "bridge", "trail-1", "trail-2"]) {
        moto.put(key, gzip(&records_doc(&[id]))).await;
    }
    let flow = "AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/11/01/111122223333_vpcflowlogs_us-east-1_fl-1_20261101T0000Z_x.log.gz";
    let line = "2 111122223333 eni-1 10.0.0.1 10.0.0.2 1234 443 6 10 800 1700000000 1700000060 ACCEPT OK";
    moto.put(flow, gzip(format!("{line}\n").as_bytes())).await;

    // The S3 event, its key form-encoded (`+` is a space), naming two objects.
    let mut two = serde_json::from_str::<serde_json::Value>(&s3_event(&form_encode(&plain))).unwrap();
    let second = serde_json::from_str::<serde_json::Value>(&s3_event(flow)).unwrap()["Records"][0].clone();
    two["Records"].as_array_mut().unwrap().push(second);
    moto.send(&two.to_string()).await;
    let envelope = |message: &str| {
        serde_json::json!({"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:us-east-1:111122223333:t",
            "Subject": "Amazon S3 Notification", "Message": message, "Timestamp": "2026-11-01T00:00:00.000Z",
            "SignatureVersion": "1", "Signature": "x", "SigningCertURL": "https://x", "UnsubscribeURL": "https://x"})
        .to_string()
    };
    moto.send(&envelope(&s3_event(&keys[0]))).await;
    moto.send(&s3_event(&keys[1])).await; // SNS raw delivery: the inner message as it is
    let bridge = serde_json::json!({"version": "0", "id": "e", "detail-type": "Object Created", "source": "aws.s3",
        "account": "111122223333", "region": "us-east-1", "detail": {"version": "0", "bucket": {"name": BUCKET},
        "object": {"key": keys[2], "size": 100, "etag": "abc", "sequencer": "0055"}}});
    moto.send(&bridge.to_string()).await;
    let trail = serde_json::json!({"s3Bucket": BUCKET, "s3ObjectKey": [keys[3], keys[4]]}).to_string();
    moto.send(&envelope(&trail)).await;
    moto.send(&envelope("CloudTrail validation message.")).await;
    moto.send(r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-01T00:00:00.000Z","Bucket":"trail-logs"}"#).await;
    // Not wanted: a digest file, and an object of another bucket.
    let digest = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/01/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20261101T000000Z.json.gz";
    moto.send(&s3_event(digest)).await;
    moto.send(&s3_event(&keys[0]).replace(BUCKET, "other-bucket")).await;

    let run = run_once(dir.path(), &moto.config(&format!("buckets = [\"{BUCKET}\"]"), "out.ndjson")).await;
    let counts = delivered(dir.path(), "out.ndjson");
    let ids: BTreeSet<&str> = counts.keys().map(String::as_str).collect();
    for id in ["plain", "sns", "raw", "bridge", "trail-1", "trail-2"] {
        assert!(ids.contains(id), "{id} in {ids:?}: {}", run.stderr);
    }
    assert_eq!(counts.len(), 7, "six CloudTrail records and one flow line: {counts:?}");
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    assert_eq!(moto.counts().await, (0, 0), "every message deleted");
    assert_eq!(
        run.stderr.matches("s3:TestEvent, deleted").count()
            + run.stderr.matches("CloudTrail validation message, deleted").count(),
        1,
        "logged once: {}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_and_missing_objects_are_given_up_after_max_receive_count() {
    let moto = Moto::start(false).await;
    let dir = tempfile::tempdir().unwrap();
    moto.send("this is not a notification").await;
    moto.send(&s3_event(&key("111122223333", "missing"))).await;
    let run = run_once(dir.path(), &moto.config("max_receive_count = 2", "out.ndjson")).await;
    assert!(run.stderr.contains("cannot be understood"), "{}", run.stderr);
    assert!(run.stderr.contains("this is not a notification"), "the excerpt is shown: {}", run.stderr);
    assert!(run.stderr.contains("NoSuchKey"), "{}", run.stderr);
    assert!(
        run.stderr.matches("the queue has no dead-letter queue: deleted and quarantined").count() == 2,
        "{}",
        run.stderr
    );
    assert_eq!(moto.counts().await, (0, 0));
    let state = trailhound(dir.path(), &["state", "--config", "trailhound.toml"]).await;
    assert!(state.stdout.contains("0 delivered, 0 skipped, 2 quarantined"), "{}", state.stdout);

    // With a dead-letter queue, the queue's redrive policy takes them.
    let dead = moto.sqs.create_queue().queue_name("trail-dead").send().await.unwrap().queue_url.unwrap();
    let arn = moto.queue_arn(&dead).await;
    let policy = serde_json::json!({"deadLetterTargetArn": arn, "maxReceiveCount": "2"}).to_string();
    moto.sqs
        .set_queue_attributes()
        .queue_url(&moto.queue_url)
        .attributes(aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy, policy)
        .send()
        .await
        .unwrap();
    moto.send("still not a notification").await;
    run_once(dir.path(), &moto.config("max_receive_count = 5", "out.ndjson")).await;
    assert_eq!(moto.counts().await, (0, 0));
    let moved = moto.sqs.receive_message().queue_url(&dead).send().await.unwrap();
    let bodies: Vec<&str> = moved.messages().iter().filter_map(|m| m.body()).collect();
    assert_eq!(bodies, vec!["still not a notification"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_slower_than_the_visibility_timeout_causes_no_duplicate() {
    let moto = Moto::start(false).await;
    let dir = tempfile::tempdir().unwrap();
    let object = key("111122223333", "slow");
    moto.put(&object, gzip(&records_doc(&["slow"]))).await;
    moto.send(&s3_event(&object)).await;
    // The receiver takes 40 s to answer the first request; the message is hidden for 30 s.
    let receiver = HttpReceiver::start(|n, _| {
        if n == 0 {
            std::thread::sleep(Duration::from_secs(40));
        }
        (200, String::new())
    });
    let slow = moto.config("visibility_timeout_seconds = 30", "unused.ndjson").replace(
        "[[sink]]\ntype = \"file\"\npath = \"unused.ndjson\"\n",
        &format!("[[sink]]\ntype = \"http\"\nurl = \"{}/ingest\"\nrequest_timeout_seconds = 120\nbatch_timeout_ms = 10\n", receiver.url),
    );
    std::fs::write(dir.path().join("slow.toml"), slow).unwrap();
    let first = common::spawn(
        &["--state-dir", "state-1", "run", "--config", "slow.toml", "--once"],
        Some(dir.path()),
    );
    // Past the visibility timeout, a second agent finds nothing to take.
    tokio::time::sleep(Duration::from_secs(34)).await;
    let second_dir = dir.path().join("second");
    std::fs::create_dir_all(&second_dir).unwrap();
    let second = run_once(&second_dir, &moto.config("", "out.ndjson")).await;
    assert!(delivered(&second_dir, "out.ndjson").is_empty(), "{}", second.stderr);
    let output = tokio::task::spawn_blocking(move || first.wait_with_output().unwrap()).await.unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(receiver.accepted().len(), 1);
    assert_eq!(moto.counts().await, (0, 0), "deleted after delivery");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_object_then_another_agent_finishes_the_work() {
    let moto = Moto::start(false).await;
    let dir = tempfile::tempdir().unwrap();
    let object = key("111122223333", "crash");
    moto.put(&object, gzip(&records_doc(&["crash-1", "crash-2"]))).await;
    moto.send(&s3_event(&object)).await;
    // The first agent's receiver never accepts: the object is read, never delivered.
    let refusing = HttpReceiver::start(|_, _| (503, "down".into()));
    let config = moto.config("visibility_timeout_seconds = 30", "unused.ndjson").replace(
        "[[sink]]\ntype = \"file\"\npath = \"unused.ndjson\"\n",
        &format!("[[sink]]\ntype = \"http\"\nurl = \"{}/ingest\"\nbatch_timeout_ms = 10\n", refusing.url),
    );
    std::fs::write(dir.path().join("first.toml"), config).unwrap();
    let mut first =
        common::spawn(&["--state-dir", "state-1", "run", "--config", "first.toml"], Some(dir.path()));
    let deadline = Instant::now() + Duration::from_secs(20);
    while refusing.requests().is_empty() {
        assert!(Instant::now() < deadline, "the first agent never tried to deliver");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    // The message reappears once its visibility runs out; a second agent delivers it.
    let deadline = Instant::now() + Duration::from_secs(60);
    while moto.counts().await.0 == 0 {
        assert!(Instant::now() < deadline, "the message never reappeared");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let second_dir = dir.path().join("second");
    std::fs::create_dir_all(&second_dir).unwrap();
    run_once(&second_dir, &moto.config("", "out.ndjson")).await;
    let counts = delivered(&second_dir, "out.ndjson");
    assert_eq!(counts.keys().map(String::as_str).collect::<Vec<_>>(), vec!["crash-1", "crash-2"]);
    assert_eq!(moto.counts().await, (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_agents_on_one_queue_deliver_every_record_exactly_once() {
    let moto = Moto::start(true).await;
    let dir = tempfile::tempdir().unwrap();
    let mut expected = BTreeSet::new();
    for n in 0..30 {
        let ids = [format!("agent-{n}-a"), format!("agent-{n}-b")];
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        moto.put(&key("111122223333", &format!("{n:04}")), gzip(&records_doc(&refs))).await;
        expected.extend(ids);
    }
    let mut agents = Vec::new();
    for agent in 0..3 {
        let agent_dir = dir.path().join(format!("agent-{agent}"));
        std::fs::create_dir_all(&agent_dir).unwrap();
        std::fs::write(
            agent_dir.join("trailhound.toml"),
            moto.config("parallel_objects = 2\nmax_messages = 2", "out.ndjson"),
        )
        .unwrap();
        agents.push((
            agent_dir.clone(),
            common::spawn(&["run", "--config", "trailhound.toml", "--once"], Some(&agent_dir)),
        ));
    }
    let mut total: BTreeMap<String, usize> = BTreeMap::new();
    let mut busy = 0;
    for (agent_dir, child) in agents {
        let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
        let counts = delivered(&agent_dir, "out.ndjson");
        busy += usize::from(!counts.is_empty());
        for (id, n) in counts {
            *total.entry(id).or_insert(0) += n;
        }
    }
    assert_eq!(total.keys().cloned().collect::<BTreeSet<_>>(), expected);
    assert!(total.values().all(|n| *n == 1), "exactly once: {total:?}");
    assert!(busy >= 2, "the work was shared");
    assert_eq!(moto.counts().await, (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_releases_what_it_holds() {
    let moto = Moto::start(false).await;
    let dir = tempfile::tempdir().unwrap();
    let mut expected = BTreeSet::new();
    for n in 0..6 {
        let object = key("111122223333", &format!("term-{n}"));
        moto.put(&object, gzip(&records_doc(&[&format!("term-{n}")]))).await;
        moto.send(&s3_event(&object)).await;
        expected.insert(format!("term-{n}"));
    }
    // A receiver that takes a second per request: SIGTERM lands while objects are in flight.
    let receiver = HttpReceiver::start(|_, _| {
        std::thread::sleep(Duration::from_secs(1));
        (200, String::new())
    });
    let config = moto.config("parallel_objects = 2\nmax_messages = 2", "unused.ndjson").replace(
        "[[sink]]\ntype = \"file\"\npath = \"unused.ndjson\"\n",
        &format!("[[sink]]\ntype = \"http\"\nurl = \"{}/ingest\"\nbatch_timeout_ms = 10\n", receiver.url),
    );
    std::fs::write(dir.path().join("agent.toml"), config).unwrap();
    let agent = common::spawn(&["--state-dir", "state-1", "run", "--config", "agent.toml"], Some(dir.path()));
    let deadline = Instant::now() + Duration::from_secs(20);
    while receiver.requests().is_empty() {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    std::process::Command::new("kill").args(["-TERM", &agent.id().to_string()]).status().unwrap();
    let output = tokio::task::spawn_blocking(move || agent.wait_with_output().unwrap()).await.unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let first: BTreeSet<String> = receiver.accepted_event_ids();
    assert!(first.len() < expected.len(), "stopped before the end: {first:?}");
    let (visible, in_flight) = moto.counts().await;
    assert_eq!(in_flight, 0, "nothing is left hidden: released or deleted");
    assert_eq!(visible as usize, expected.len() - first.len(), "every delivered message was deleted");
    // A second run takes the rest: nothing lost, nothing twice.
    let rest_dir = dir.path().join("rest");
    std::fs::create_dir_all(&rest_dir).unwrap();
    run_once(&rest_dir, &moto.config("", "out.ndjson")).await;
    let rest: BTreeSet<String> = delivered(&rest_dir, "out.ndjson").into_keys().collect();
    assert!(first.is_disjoint(&rest));
    assert_eq!(first.union(&rest).cloned().collect::<BTreeSet<_>>(), expected);
}
