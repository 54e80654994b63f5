//! Collection through a proxy that injects faults (error statuses, closed connections, bodies cut
//! half way, slow answers) between Trailhound and the S3 server: every object is delivered whole
//! in the end, none in part, and a cut body is never taken for a complete object.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use common::fault_proxy::{FAULTS, Fault, FaultProxy};
use common::s3::{self, cloudtrail_key};
use common::{gzip, records_doc};

const OBJECTS: usize = 120;
const RECORDS: usize = 5;

fn delivered(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("out.ndjson"))
        .unwrap_or_default()
        .lines()
        .map(common::event_id)
        .collect()
}

/// Runs `run --once` up to `tries` times, `pause` apart, until `done(exit code)`; a poll that
/// meets a fault ends with exit 1 and the next goes on, never a panic. The exit codes, in order.
async fn polls_until(dir: &Path, tries: usize, pause: Duration, done: impl Fn(i32) -> bool) -> Vec<i32> {
    let mut codes = Vec::new();
    for _ in 0..tries {
        let run = common::trailhound_in(dir, &["run", "--config", "trailhound.toml", "--once"]).await;
        assert!(matches!(run.code, 0 | 1) && !run.stderr.contains("panicked"), "{}", run.stderr);
        codes.push(run.code);
        if done(run.code) {
            break;
        }
        tokio::time::sleep(pause).await;
    }
    codes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_percent_faults_lose_nothing_and_never_deliver_part_of_an_object() {
    let server = s3::start().await;
    let mut expected = BTreeSet::new();
    for object in 0..OBJECTS {
        let ids: Vec<String> = (0..RECORDS).map(|record| format!("o{object:02}-r{record}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        // Big enough records that a cut body ends inside the gzip stream.
        let key = cloudtrail_key(
            "",
            "111122223333",
            "us-east-1",
            1 + object as i64,
            &format!("OBJECT{object:010}"),
        );
        server.seed(&key, &gzip(&records_doc(&refs)));
        expected.extend(ids);
    }
    let proxy = FaultProxy::start(&server.endpoint, 10, 20261208);
    let dir = tempfile::tempdir().unwrap();
    let config = server.config("").replace(&server.endpoint, &proxy.url);
    std::fs::write(dir.path().join("trailhound.toml"), config).unwrap();

    // A poll that meets a fault it could not retry away ends with exit 1; the next one goes on.
    let codes = polls_until(dir.path(), 15, Duration::ZERO, |code| {
        code == 0 && delivered(dir.path()).iter().collect::<BTreeSet<_>>().len() == expected.len()
    })
    .await;
    let ids = delivered(dir.path());
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(
        unique,
        expected,
        "every event arrives in the end (runs: {codes:?}, faults: {:?})",
        proxy.counts()
    );

    // Never part of an object: each object's records arrive together, as often as each other.
    let mut per_object: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for id in &ids {
        let (object, record) = id.split_once('-').unwrap();
        *per_object.entry(object).or_default().entry(record).or_default() += 1;
    }
    for (object, records) in &per_object {
        let counts: BTreeSet<usize> = records.values().copied().collect();
        assert_eq!(counts.len(), 1, "{object} was delivered in part: {records:?}");
    }
    let duplicated = ids.len() - unique.len();
    assert!(duplicated <= OBJECTS * RECORDS, "duplicates stay within what was in flight: {duplicated}");

    let counts = proxy.counts();
    eprintln!("runs {codes:?}, {} events delivered for {} (faults: {counts:?})", ids.len(), expected.len());
    let faults: u64 = counts.iter().filter(|(fault, _)| **fault != Fault::Pass).map(|(_, n)| n).sum();
    assert!(faults >= 8, "the proxy injected faults: {counts:?}");
    for kind in FAULTS {
        assert!(counts.contains_key(&kind), "every kind of fault happened: {counts:?}");
    }
}

/// A server that takes a request and then says nothing: the request is given up after 30 s and
/// tried again, and the run ends with every event. Before `aws::timeouts` it waited forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_response_is_given_up_and_retried() {
    let server = s3::start().await;
    let mut expected = BTreeSet::new();
    for object in 0..3 {
        let id = format!("stalled-{object}");
        let key = cloudtrail_key("", "111122223333", "us-east-1", 1 + object, &format!("STALL{object:011}"));
        server.seed(&key, &gzip(&records_doc(&[id.as_str()])));
        expected.insert(id);
    }
    let proxy = FaultProxy::start(&server.endpoint, 0, 1);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("trailhound.toml"),
        server.config("").replace(&server.endpoint, &proxy.url),
    )
    .unwrap();
    // The poll's first request gets no answer for two minutes (the SDK waits 30 s for a head).
    proxy.stall_next(1, std::time::Duration::from_secs(120));
    let run = tokio::time::timeout(
        std::time::Duration::from_secs(110),
        common::trailhound_in(dir.path(), &["run", "--config", "trailhound.toml", "--once"]),
    )
    .await
    .expect("the run gives a stalled request up instead of waiting for it");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(delivered(dir.path()).into_iter().collect::<BTreeSet<_>>(), expected);
    assert_eq!(proxy.counts().get(&Fault::Stall), Some(&1));
}

/// The CloudTrail API source through 20 % faults in front of the LookupEvents emulator: polls
/// that meet a fault end with exit 1, the next ones go on, every event is delivered, none twice
/// (a window is recorded only when all its pages were read).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cloudtrail_api_source_through_faults() {
    let emulator = common::lookup_events::Emulator::start().await;
    let at = common::lookup_events::now();
    let mut expected = BTreeSet::new();
    for n in 0..120 {
        let id = format!("api-{n:03}");
        emulator.add(&id, at - 3600 - n * 60, 0);
        expected.insert(id);
    }
    let proxy = FaultProxy::start(&emulator.endpoint, 20, 99);
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[[source]]\ntype = \"cloudtrail_api\"\nname = \"api\"\nregion = \"us-east-1\"\nendpoint = \"{}\"\n\
         access_key_id = \"AKIAEXAMPLE\"\nsecret_access_key = \"emulator-secret-value\"\nstartup_delay_in_seconds = 0\n\
         max_result_count = 10\n\n[[sink]]\ntype = \"file\"\npath = \"out.ndjson\"\n",
        proxy.url
    );
    std::fs::write(dir.path().join("trailhound.toml"), config).unwrap();
    let codes = polls_until(dir.path(), 20, Duration::ZERO, |code| code == 0).await;
    let ids = delivered(dir.path());
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(unique, expected, "runs {codes:?}, faults {:?}", proxy.counts());
    assert_eq!(ids.len(), unique.len(), "no event twice");
    assert!(proxy.counts().keys().any(|fault| *fault != Fault::Pass), "{:?}", proxy.counts());
}

/// The `http` sink through 20 % faults in front of its receiver: every event is accepted in the
/// end. An answer lost after the receiver took a request (a closed connection, a cut body) makes
/// the sink send it again, so the receiver may hold duplicates, never gaps.
#[test]
fn the_http_sink_through_faults() {
    use common::http_receiver::HttpReceiver;
    let receiver = HttpReceiver::start(|_, _| (200, String::new()));
    let proxy = FaultProxy::start(&receiver.url, 20, 7);
    let dir = tempfile::tempdir().unwrap();
    let sink = format!("type = \"http\"\nurl = \"{}/ingest\"\nbatch_max_events = 5\n", proxy.url);
    let config = common::write_dir_config(dir.path(), &common::repo_root().join("examples/AWSLogs"), &sink);
    let run = common::trailhound(&["run", "--once", "--config", config.to_str().unwrap()], Some(dir.path()));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let replayed = common::trailhound(&["replay", "examples/AWSLogs"], None);
    let expected: BTreeSet<String> = replayed.stdout.lines().map(common::event_id).collect();
    assert_eq!(receiver.accepted_event_ids(), expected, "faults: {:?}", proxy.counts());
    assert!(proxy.counts().keys().any(|fault| *fault != Fault::Pass), "{:?}", proxy.counts());
}

/// The sqs source through 10 % faults in front of moto (SQS and S3 alike): every record arrives.
/// A lost ReceiveMessage answer, a failed download or a lost DeleteMessage answer leaves the
/// message to come back after its visibility timeout (30 s here), so a record may come late or
/// twice, never not at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqs_source_through_faults() {
    let moto = common::moto::Moto::start(true).await;
    let mut expected = BTreeSet::new();
    for object in 0..30 {
        let id = format!("sqs-{object:02}");
        let key = cloudtrail_key("", "111122223333", "us-east-1", 1 + object, &format!("SQS{object:013}"));
        moto.put(&key, gzip(&records_doc(&[id.as_str()]))).await;
        expected.insert(id);
    }
    let proxy = FaultProxy::start(&moto.endpoint, 10, 3);
    let dir = tempfile::tempdir().unwrap();
    let config = moto
        .config("visibility_timeout_seconds = 30\n", "out.ndjson")
        .replace(&format!("endpoint = \"{}\"", moto.endpoint), &format!("endpoint = \"{}\"", proxy.url));
    std::fs::write(dir.path().join("trailhound.toml"), config).unwrap();
    // A message left in flight comes back once its visibility timeout (30 s) ends.
    let codes = polls_until(dir.path(), 15, Duration::from_secs(8), |_| {
        delivered(dir.path()).into_iter().collect::<BTreeSet<_>>() == expected
    })
    .await;
    let ids = delivered(dir.path());
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(unique, expected, "runs {codes:?}, faults {:?}", proxy.counts());
    assert!(ids.len() - unique.len() <= expected.len(), "duplicates stay bounded");
    assert!(proxy.counts().keys().any(|fault| *fault != Fault::Pass), "{:?}", proxy.counts());
}
